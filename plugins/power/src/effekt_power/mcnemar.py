"""Power and sample size for McNemar's test of paired proportions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import special

from effekt import DesignError
from effekt_power._core import MISSING, Calculator, z_crit

__all__ = ["McNemar", "exact_mcnemar_power"]


def _exact_rejection(m: int, alpha: float, alternative: str) -> np.ndarray:
    """For m discordant pairs, which counts b of the first kind the exact test rejects.

    Conditional on m, b ~ Bin(m, 1/2) under the null; the two-sided p-value is
    min(1, 2 min(P(B <= b), P(B >= b))), as in R's mcnemar.exact.
    """
    from scipy import stats  # only the exact test needs it; the normal ones start faster without

    b = np.arange(m + 1)
    lower = stats.binom.cdf(b, m, 0.5)
    upper = stats.binom.sf(b - 1, m, 0.5)
    if alternative == "greater":
        p = upper
    elif alternative == "less":
        p = lower
    else:
        p = np.minimum(1.0, 2.0 * np.minimum(lower, upper))
    return np.asarray(p <= alpha * (1.0 + 1e-12))


def exact_mcnemar_power(n: Any, p10: Any, p01: Any, alpha: Any, alternative: str = "two-sided") -> np.ndarray:
    """Exact power of the exact (binomial) McNemar test with n pairs.

    power = sum_m Bin(m; n, psi) sum_b Bin(b; m, p10/psi) 1[exact test rejects (b, m)],
    psi = p10 + p01: the discordant count m is binomial, and given m the count
    b of (1, 0) pairs is binomial with probability p10/psi.
    """
    from scipy import stats

    n_a, p10_a, p01_a, a_a = np.broadcast_arrays(
        *(np.asarray(x, dtype=float) for x in (n, p10, p01, alpha))
    )
    out = np.empty(n_a.shape)
    flat = out.reshape(-1)
    for i, (nn, q10, q01, level) in enumerate(zip(n_a.ravel(), p10_a.ravel(), p01_a.ravel(), a_a.ravel())):
        total = int(nn)
        psi = q10 + q01
        pm = stats.binom.pmf(np.arange(total + 1), total, psi)
        power = 0.0
        for m in range(1, total + 1):
            if pm[m] < 1e-16:
                continue
            reject = _exact_rejection(m, float(level), alternative)
            if reject.any():
                power += pm[m] * float(stats.binom.pmf(np.arange(m + 1), m, q10 / psi)[reject].sum())
        flat[i] = power
    return out


class McNemar(Calculator):
    """McNemar's test for paired binary outcomes: power, pairs, detectable p10, alpha.

    ``p10`` and ``p01`` are the probabilities of the two discordant cells
    (yes before / no after, and no before / yes after, or treated-pair member
    only / control member only). The effect is ``delta = p10 - p01``;
    ``psi = p10 + p01`` is the discordance.

    Formula (Connor 1987, eq. 3, with the far rejection region kept)::

        power = Phi((sqrt(n) delta - z sqrt(psi)) / sqrt(psi - delta^2))
              + Phi((-sqrt(n) delta - z sqrt(psi)) / sqrt(psi - delta^2))

    Defaults and why: ``alpha=0.05`` two-sided; the uncorrected McNemar
    statistic, as in the chi-squared of 3.50 from the CTI / Job Focus evaluation.

    Parameters
    ----------
    p10 : float or array, optional
        Leave out to solve for the detectable discordant probability (above ``p01``).
    p01 : float or array
    n : float or array, optional
        Number of pairs.
    power, alpha, alternative
        As for the other calculators; ``"greater"`` tests ``p10 > p01``.
    method : {"normal", "exact"}, default "normal"
        ``"exact"``: the exact power of the exact binomial McNemar test (whole
        numbers of pairs; the n returned is the smallest reaching the power).

    Returns
    -------
    PowerResult
        ``extra`` holds ``delta`` and ``psi``.

    Raises
    ------
    DesignError
        Probabilities outside (0, 1) or ``p10 + p01 >= 1``, ``p10 == p01``,
        power not above alpha, nothing or more than one quantity left out.

    References
    ----------
    Connor (1987), Sample size for testing differences in proportions for the
    paired-sample design, Biometrics 43(1):207-211, doi:10.2307/2531961.

    Examples
    --------
    >>> import effekt as ef
    >>> round(ef.power("mcnemar", p10=0.20, p01=0.10, power=0.80).value, 1)
    233.1
    """

    name = "mcnemar"
    example = {"p10": 0.25, "p01": 0.10, "n": 100.0, "power": 0.8, "alpha": 0.05}
    effect_null = "p01"
    counts = {"n": "pairs", "p10": "proportion of pairs (treated member alone has the outcome)"}
    methods = ("normal", "exact")
    method_default = "normal"
    solvable = ("n", "power", "p10", "alpha")
    numeric = {
        "p10": (MISSING, 0.0, 1.0, True, True),
        "p01": (MISSING, 0.0, 1.0, True, True),
        "n": (MISSING, 0.0, None, True, True),
        "power": (MISSING, 0.0, 1.0, True, True),
        "alpha": (0.05, 0.0, 1.0, True, True),
    }
    settings = {"alternative": "two-sided"}
    effect = "p10"

    def _method_label(self, opts: Mapping[str, Any]) -> str:
        if opts["method"] == "exact":
            return "exact (binomial) McNemar test, exact power"
        return "McNemar normal approximation (Connor)"

    def _check(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> None:
        if opts["method"] == "exact":
            if "n" in v and np.any(v["n"] != np.round(v["n"])):
                raise DesignError(
                    f"method='exact' needs a whole number of pairs; got n={np.asarray(v['n']).ravel()[0]:g}."
                )
            if "alpha" not in v:
                raise DesignError(
                    "method='exact' cannot solve for alpha: the exact test's size jumps between "
                    "discrete levels. Give alpha and solve for another quantity."
                )
        if "p10" in v:
            if np.any(v["p10"] + v["p01"] >= 1.0):
                raise DesignError(
                    "p10 + p01 is the share of discordant pairs and must be below 1; got "
                    f"p10 + p01 = {np.max(v['p10'] + v['p01']):g}."
                )
            if np.any(v["p10"] == v["p01"]):
                raise DesignError(
                    "p10 equals p01, so the paired proportions do not differ and no number of "
                    "pairs gives power above alpha. Give different discordant probabilities."
                )

    def _effect_sign(self, v: Mapping[str, np.ndarray]) -> np.ndarray | None:
        return np.sign(v["p10"] - v["p01"]) if "p10" in v else None

    def _power(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> np.ndarray:
        if opts["method"] == "exact":
            return exact_mcnemar_power(
                np.round(v["n"]), v["p10"], v["p01"], v["alpha"], opts["alternative"]
            )
        delta = v["p10"] - v["p01"]
        psi = v["p10"] + v["p01"]
        crit = z_crit(v["alpha"], opts["alternative"])
        sd_alt = np.sqrt(psi - delta**2)
        root_n = np.sqrt(v["n"])
        upper = special.ndtr((root_n * delta - crit * np.sqrt(psi)) / sd_alt)
        lower = special.ndtr((-root_n * delta - crit * np.sqrt(psi)) / sd_alt)
        if opts["alternative"] == "greater":
            return upper
        if opts["alternative"] == "less":
            return lower
        return upper + lower

    def _solve_unknown(
        self, unknown: str, v: dict[str, np.ndarray], opts: Mapping[str, Any]
    ) -> np.ndarray:
        if opts["method"] != "exact" or unknown != "n":
            return super()._solve_unknown(unknown, v, opts)
        # the exact power is a saw-tooth in n: the smallest whole n reaching the power
        b = self._broadcast(v)
        shape = np.broadcast(*b.values()).shape
        flat = {k: np.broadcast_to(a, shape).ravel() for k, a in b.items()}
        out = np.empty(int(np.prod(shape)) if shape else 1)
        normal = {"method": "normal", "alternative": opts["alternative"]}
        for i in range(out.size):
            point = {k: np.asarray(a[i]) for k, a in flat.items()}
            start = float(super()._solve_unknown("n", dict(point), normal))
            n = max(1, int(np.floor(0.8 * start)))
            while exact_mcnemar_power(n, point["p10"], point["p01"], point["alpha"], opts["alternative"]) < point["power"]:
                n += 1
                if n > 100 * start + 1000:
                    raise DesignError("method='exact': no n up to the search limit reaches the power asked for.")
            out[i] = n
        return out.reshape(shape)

    def _bracket(
        self, unknown: str, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]
    ) -> tuple[np.ndarray, np.ndarray]:
        ones = np.ones(np.broadcast(*v.values()).shape)
        if unknown == "p10":
            if opts["alternative"] == "less":
                return 1e-12 * ones, v["p01"] - 1e-12
            return v["p01"] + 1e-12, (1.0 - v["p01"]) * (1.0 - 1e-9)
        if unknown == "alpha":
            return 1e-12 * ones, (1.0 - 1e-12) * ones
        return 1e-6 * ones, 1e9 * ones

    def _extra(self, unknown: str, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> dict[str, Any]:
        b = self._broadcast(v)
        delta, psi = b["p10"] - b["p01"], b["p10"] + b["p01"]
        return {
            "delta": delta if delta.ndim else float(delta),
            "psi": psi if psi.ndim else float(psi),
        }

    def _effect_range(self, centre: float, point: Mapping[str, float]) -> tuple[float, float]:
        p01 = float(point["p01"])
        if centre > p01:
            return p01 + 1e-6, min(1.0 - p01 - 1e-6, p01 + 2.5 * (centre - p01))
        return max(1e-6, p01 - 2.5 * (p01 - centre)), p01 - 1e-6
