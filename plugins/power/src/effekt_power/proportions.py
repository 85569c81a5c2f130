"""Power, sample size and minimal detectable proportion for two independent proportions."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import special

from effekt import DesignError
from effekt.vocabulary import Choice
from effekt_power._core import MISSING, Calculator, normal_power, z_crit

__all__ = ["TwoProportions", "fisher_power"]

_EPS = 1e-9


class TwoProportions(Calculator):
    """Two independent proportions: power, n per arm, minimal detectable p2, or alpha.

    Compares arm 1 (proportion ``p1``, the control or reference arm, ``n1``
    units) with arm 2 (proportion ``p2``, ``n2 = ratio * n1`` units). The
    effect is the difference ``p2 - p1``; leaving out ``p2`` gives the
    minimal detectable proportion in arm 2 (above ``p1``, or below it for
    ``alternative="less"``).

    Formula (``d = p2 - p1``, ``q = 1 - p``, ``z`` the normal critical value)::

        pooled (Fleiss):  s0 = sqrt(pbar qbar (1/n1 + 1/n2)),  pbar = (n1 p1 + n2 p2)/(n1 + n2)
                          s1 = sqrt(p1 q1 / n1 + p2 q2 / n2)
                          power = Phi((d - c - z s0)/s1) + Phi((-d - c - z s0)/s1)
        unpooled:         the same with s0 = s1
        correction="yates": c = (1/n1 + 1/n2)/2 (Yates' continuity correction; Fleiss,
                          Levin & Paik 2003, eq. 4.19), otherwise c = 0
        arcsine:          h = 2 asin(sqrt p2) - 2 asin(sqrt p1) (Cohen's h),
                          power = Phi(h/se - z) + Phi(-h/se - z), se = sqrt(1/n1 + 1/n2)
        fisher:           exact: the sum, over every pair of outcomes (x1, x2), of
                          Bin(x1; n1, p1) Bin(x2; n2, p2) where Fisher's exact test rejects.

    For a one-sided test only the term in the direction of the alternative
    is kept and ``z`` is the one-sided critical value.

    Defaults and why: ``method="pooled"`` because the pooled-variance z test
    is the textbook chi-squared test of a 2x2 table (Fleiss), ``alpha=0.05``
    two-sided, ``ratio=1``, ``correction="none"`` (the analysis test of the
    package's ``chi2`` estimator is uncorrected by default).

    Parameters
    ----------
    p1 : float or array
        Proportion in arm 1 (control), in (0, 1).
    p2 : float or array, optional
        Proportion in arm 2; leave out to solve for it.
    n, n1 : float or array, optional
        Size of arm 1; leave out to solve for it.
    n2 : float or array, optional
        Size of arm 2; given without ``n``, ``n1`` is solved with ``n2`` fixed.
    ratio : float or array, default 1
        ``n2 / n1`` when ``n2`` is not given.
    power : float or array, optional
        Power; leave out to solve for it.
    alpha : float or array, default 0.05
        Significance level; pass ``alpha=None`` to solve for it.
    alternative : {"two-sided", "greater", "less"}, default "two-sided"
        ``"greater"`` tests ``p2 > p1``.
    method : {"pooled", "unpooled", "arcsine", "fisher"}, default "pooled"
    correction : {"none", "yates"}, default "none"
        ``"yates"`` subtracts Yates' continuity correction ``(1/n1 + 1/n2)/2``
        from the difference (pooled and unpooled methods). With the pooled
        method this is the power of Yates' corrected chi-squared test of the
        2 x 2 table, whose square root is the corrected pooled z; Fleiss,
        Levin & Paik's sample size "with continuity correction" (eq. 4.19)
        is the n at which it reaches the power asked for (exactly for a
        one-sided test; the two-sided power adds the far rejection region).

    Returns
    -------
    PowerResult
        ``value`` is the solved quantity (an array for a grid); ``extra``
        holds ``n1``, ``n2``, ``n_total`` and, for ``p2``, the detectable
        difference ``mde = p2 - p1`` and Cohen's ``h``.

    Raises
    ------
    DesignError
        A proportion outside (0, 1), power not above alpha, nothing or more
        than one quantity left out, ``correction="yates"`` with the arcsine or
        Fisher method, a non-integer n with the Fisher method.

    Notes
    -----
    Two-sided power counts both rejection regions, as statsmodels and G*Power
    do; the textbook sample-size formula (Fleiss 1981, eq. 3.14) drops the far
    region, which changes n in the sixth digit at conventional power. Sample
    sizes are returned unrounded; round up to plan. The Fisher power is exact
    (the limit of the simulated power as simulations grow), so it needs
    integer sample sizes; its power is a saw-tooth in n, and the n returned is
    the smallest with at least the power asked for.

    References
    ----------
    Fleiss, Levin & Paik (2003), Statistical Methods for Rates and Proportions,
    3rd ed., Wiley, ch. 4 (eqs. 4.14, 4.19). Cohen (1988), Statistical Power
    Analysis, ch. 6 (h). Fisher (1935).

    Examples
    --------
    >>> import effekt as ef
    >>> res = ef.power("two_proportions", p1=0.10, n=100, power=0.80)
    >>> res.solved, round(res.value, 4)
    ('p2', 0.2496)
    >>> round(ef.power("two_proportions", p1=0.10, p2=0.20, n=100).value, 3)
    0.508
    """

    name = "two_proportions"
    example = {"p1": 0.10, "p2": 0.20, "n": 200.0, "power": 0.6, "alpha": 0.05}
    effect_null = "p1"
    methods = ("pooled", "unpooled", "arcsine", "fisher")
    method_default = "pooled"
    solvable = ("n", "power", "p2", "alpha")
    two_arm = True
    numeric = {
        "p1": (MISSING, 0.0, 1.0, True, True),
        "p2": (MISSING, 0.0, 1.0, True, True),
        "power": (MISSING, 0.0, 1.0, True, True),
        "alpha": (0.05, 0.0, 1.0, True, True),
    }
    settings = {"alternative": "two-sided", "correction": "none"}
    options = {"correction": Choice(("none", "yates"))}
    effect = "p2"

    def _method_label(self, opts: Mapping[str, Any]) -> str:
        label = {
            "pooled": "pooled z (Fleiss)",
            "unpooled": "unpooled z",
            "arcsine": "arcsine (Cohen's h)",
            "fisher": "Fisher exact",
        }[opts["method"]]
        return label + (" with Yates' continuity correction" if opts["correction"] == "yates" else "")

    def _check(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> None:
        if opts["correction"] == "yates" and opts["method"] in ("arcsine", "fisher"):
            raise DesignError(
                f"correction='yates' applies to the 'pooled' and 'unpooled' methods, not to "
                f"method={opts['method']!r}. Use correction='none' or choose method='pooled'."
            )
        if "p2" in v:
            same = np.broadcast_to(v["p1"] == v["p2"], np.broadcast(v["p1"], v["p2"]).shape)
            if same.any():
                raise DesignError(
                    "p1 and p2 are equal, so there is no effect to detect and no sample size "
                    f"gives power above alpha (p1 = p2 = {np.asarray(v['p1']).ravel()[0]:g} at the "
                    "first such grid point). Give different proportions, or leave p2 out to "
                    "solve for the detectable one."
                )
        if opts["method"] == "fisher":
            for key in ("n1", "n2"):
                if key in v and np.any(v[key] != np.round(v[key])):
                    raise DesignError(
                        f"method='fisher' is exact and needs whole numbers of units; got {key}="
                        f"{np.asarray(v[key]).ravel()[0]:g}. Round the sample size."
                    )
            if "alpha" not in v:
                raise DesignError(
                    "method='fisher' cannot solve for alpha: the exact test's size jumps between "
                    "discrete levels. Give alpha and solve for another quantity."
                )

    def _effect_sign(self, v: Mapping[str, np.ndarray]) -> np.ndarray | None:
        return np.sign(v["p2"] - v["p1"]) if "p2" in v else None

    def _power(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> np.ndarray:
        n1, n2 = self._sizes(v)
        method = opts["method"]
        if method == "fisher":
            # whole units only (checked for the inputs); a power curve's grid is rounded
            return fisher_power(np.round(n1), np.round(n2), v["p1"], v["p2"], v["alpha"], opts["alternative"])
        return _normal_power(
            v["p1"], v["p2"], n1, n2, v["alpha"], opts["alternative"], method, opts["correction"] == "yates"
        )

    def _bracket(
        self, unknown: str, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]
    ) -> tuple[np.ndarray, np.ndarray]:
        if unknown == "p2":
            p1 = v["p1"]
            if opts["alternative"] == "less":
                return np.full_like(p1, _EPS), p1 - _EPS
            return p1 + _EPS, np.full_like(p1, 1.0 - _EPS)
        if unknown == "alpha":
            return np.full_like(v["p1"], 1e-12), np.full_like(v["p1"], 1.0 - 1e-12)
        return np.full_like(v["p1"], 1.0), np.full_like(v["p1"], 1e9)

    def _solve_unknown(
        self, unknown: str, v: dict[str, np.ndarray], opts: Mapping[str, Any]
    ) -> np.ndarray:
        if opts["method"] == "fisher" and unknown in ("n", "n1"):
            return _fisher_n(self, v, opts)
        return super()._solve_unknown(unknown, v, opts)

    def _extra(self, unknown: str, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> dict[str, Any]:
        b = self._broadcast(v)
        p1, p2 = b["p1"], b["p2"]
        return {
            "mde": (p2 - p1) if np.ndim(p2) else float(p2 - p1),
            "cohens_h": _h(p1, p2) if np.ndim(p2) else float(_h(p1, p2)),
        }

    def _effect_range(self, centre: float, point: Mapping[str, float]) -> tuple[float, float]:
        p1 = float(point["p1"])
        if centre > p1:
            return p1 + 1e-6, min(1.0 - 1e-6, p1 + 2.5 * (centre - p1))
        return max(1e-6, p1 - 2.5 * (p1 - centre)), p1 - 1e-6


def _h(p1: np.ndarray, p2: np.ndarray) -> np.ndarray:
    """Cohen's h = 2 asin(sqrt p2) - 2 asin(sqrt p1)."""
    return 2.0 * np.arcsin(np.sqrt(p2)) - 2.0 * np.arcsin(np.sqrt(p1))


def _normal_power(
    p1: np.ndarray,
    p2: np.ndarray,
    n1: np.ndarray,
    n2: np.ndarray,
    alpha: np.ndarray,
    alternative: str,
    method: str,
    continuity: bool,
) -> np.ndarray:
    crit = z_crit(alpha, alternative)
    if method == "arcsine":
        # Cohen (1988), eq. 6.2.1: h / sqrt(1/n1 + 1/n2) is N(., 1)
        return normal_power(_h(p1, p2) / np.sqrt(1.0 / n1 + 1.0 / n2), crit, alternative)
    d = p2 - p1
    s1 = np.sqrt(p1 * (1.0 - p1) / n1 + p2 * (1.0 - p2) / n2)
    if method == "pooled":
        pbar = (n1 * p1 + n2 * p2) / (n1 + n2)
        s0 = np.sqrt(pbar * (1.0 - pbar) * (1.0 / n1 + 1.0 / n2))
    else:
        s0 = s1
    c = 0.5 * (1.0 / n1 + 1.0 / n2) if continuity else 0.0
    # Fleiss, Levin & Paik (2003), eqs. 4.14 and 4.19, both rejection regions
    upper = special.ndtr((d - c - crit * s0) / s1)
    lower = special.ndtr((-d - c - crit * s0) / s1)
    if alternative == "greater":
        return upper
    if alternative == "less":
        return lower
    return upper + lower


@lru_cache(maxsize=256)
def _fisher_region(n1: int, n2: int, alpha: float, alternative: str) -> np.ndarray:
    """Boolean (n1+1, n2+1) array: Fisher's exact test rejects at level alpha.

    The two-sided p-value sums the hypergeometric probabilities of the tables
    with the observed margins that are no more likely than the one observed
    (relative tolerance 1e-7, as scipy.stats.fisher_exact).
    """
    from scipy import stats  # only the exact method needs it; the normal ones start faster without

    region = np.zeros((n1 + 1, n2 + 1), dtype=bool)
    total = n1 + n2
    for t in range(total + 1):
        lo, hi = max(0, t - n1), min(t, n2)
        x2 = np.arange(lo, hi + 1)
        pmf = stats.hypergeom.pmf(x2, total, t, n2)
        if alternative == "greater":  # arm 2 has more successes
            p = np.cumsum(pmf[::-1])[::-1]
        elif alternative == "less":
            p = np.cumsum(pmf)
        else:
            order = np.argsort(pmf, kind="stable")
            sorted_pmf = pmf[order]
            cum = np.cumsum(sorted_pmf)
            # p(x) = sum of pmf[y] for pmf[y] <= pmf[x] (1 + 1e-7)
            idx = np.searchsorted(sorted_pmf, pmf * (1.0 + 1e-7), side="right") - 1
            p = cum[idx]
        reject = p <= alpha
        region[t - x2, x2] = reject
    return region


def fisher_power(
    n1: Any, n2: Any, p1: Any, p2: Any, alpha: Any, alternative: str = "two-sided"
) -> np.ndarray:
    """Exact power of Fisher's exact test for two independent binomial samples.

    power = sum_{x1, x2} Bin(x1; n1, p1) Bin(x2; n2, p2) 1[p_Fisher(x1, x2) <= alpha]

    Vectorised over ``p1`` and ``p2``; the rejection region is computed once
    per (n1, n2, alpha).
    """
    from scipy import stats

    n1a, n2a, p1a, p2a, aa = np.broadcast_arrays(
        np.asarray(n1, float), np.asarray(n2, float), np.asarray(p1, float), np.asarray(p2, float),
        np.asarray(alpha, float),
    )
    if np.any(n1a != np.round(n1a)) or np.any(n2a != np.round(n2a)) or np.any(n1a < 1) or np.any(n2a < 1):
        raise DesignError(
            "fisher_power: the exact test needs whole sample sizes of at least 1; got "
            f"n1={n1!r}, n2={n2!r}. Round the sample sizes."
        )
    out = np.empty(n1a.shape, dtype=float)
    keys = np.stack([n1a.ravel(), n2a.ravel(), aa.ravel()], axis=1)
    uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
    flat_p1, flat_p2 = p1a.ravel(), p2a.ravel()
    flat_out = out.ravel()
    for j, (a, b, level) in enumerate(uniq):
        m, k = int(a), int(b)
        region = _fisher_region(m, k, float(level), alternative).astype(float)
        sel = np.flatnonzero(inverse.ravel() == j)
        b1 = stats.binom.pmf(np.arange(m + 1)[:, None], m, flat_p1[sel][None, :])
        b2 = stats.binom.pmf(np.arange(k + 1)[:, None], k, flat_p2[sel][None, :])
        flat_out[sel] = np.einsum("is,ij,js->s", b1, region, b2)
    return flat_out.reshape(n1a.shape)


def _fisher_n(calc: TwoProportions, v: dict[str, np.ndarray], opts: Mapping[str, Any]) -> np.ndarray:
    """Smallest whole n1 whose exact Fisher power reaches the target."""
    b = calc._broadcast(v)
    shape = np.broadcast(*b.values()).shape
    flat = {k: np.broadcast_to(a, shape).ravel() for k, a in b.items()}
    out = np.empty(int(np.prod(shape)) if shape else 1)
    for i in range(out.size):
        point = {k: a[i] for k, a in flat.items()}
        normal = dict(point)
        guess_opts = {"method": "pooled", "alternative": opts["alternative"], "correction": "none"}
        start = calc._solve_unknown("n", {k: np.asarray(x) for k, x in normal.items()}, guess_opts)
        n = max(2, int(np.floor(float(start) * 0.8)))
        for _ in range(20000):
            point["n1"] = float(n)
            if "n2" not in point or "ratio" in point:
                n2 = point["ratio"] * n
                if n2 != round(n2):
                    n += 1
                    continue
            pw = calc._power({k: np.asarray(x) for k, x in point.items()}, opts)
            if pw >= point["power"]:
                break
            n += 1
        else:
            raise DesignError("method='fisher': no n up to the search limit reaches the power asked for.")
        out[i] = n
    return out.reshape(shape)
