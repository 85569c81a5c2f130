"""Power for a cluster-level difference-in-differences with serially correlated outcomes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from effekt import DesignError
from effekt_power._core import MISSING, Calculator, nct_power, normal_power, t_crit, z_crit

__all__ = ["DiD", "did_variance"]


def did_variance(
    icc: Any, rho: Any, cluster_size: Any, pre: Any, post: Any, sd: Any = 1.0
) -> np.ndarray:
    """Variance of one cluster's before/after difference of its period means.

    Model: ``Y_ijt = a_j + g_t + tau D_jt + c_jt + e_ijt`` with cluster-period
    effects ``c_jt`` (share ``icc`` of the outcome variance ``sd^2``),
    correlated ``rho`` between any two periods of the same cluster, and
    individual noise independent across periods. The cluster-period mean has
    variance ``V = sd^2 (icc + (1 - icc)/m)`` and the means of two periods
    correlate ``r = icc rho / (icc + (1 - icc)/m)``; so (McKenzie 2012, eq. 2)::

        Var(post mean - pre mean) = V ((1 + (T1 - 1) r)/T1 + (1 + (T0 - 1) r)/T0 - 2 r)

    >>> round(float(did_variance(0.05, 0.7, 100, 1, 1)), 6)
    0.049
    """
    icc_a, rho_a, m, t0, t1, s = np.broadcast_arrays(
        *(np.asarray(x, dtype=float) for x in (icc, rho, cluster_size, pre, post, sd))
    )
    v = s**2 * (icc_a + (1.0 - icc_a) / m)
    r = icc_a * rho_a / (icc_a + (1.0 - icc_a) / m)
    return np.asarray(v * ((1.0 + (t1 - 1.0) * r) / t1 + (1.0 + (t0 - 1.0) * r) / t0 - 2.0 * r))


class DiD(Calculator):
    """Cluster-level difference-in-differences: power, treated or control clusters, MDE, alpha.

    ``n_treated`` clusters (job centres) take up the programme after ``pre``
    periods; ``n_control`` clusters never do; each cluster contributes
    ``cluster_size`` individuals per period for ``pre`` periods before and
    ``post`` periods after. The estimate is the difference between the arms'
    mean before/after changes of the cluster means (equivalently the DiD
    regression on cluster-period means with cluster and period effects, when
    every cluster is observed in every period).

    Formula (``Var_D`` from :func:`did_variance`)::

        se = sqrt(Var_D (1/n_treated + 1/n_control))
        t:   power from the noncentral t with df = n_treated + n_control - 2, ncp = delta/se
        z:   power = Phi(delta/se - z) + Phi(-delta/se - z)

    Few treated units against many controls: the standard error is dominated
    by ``1/n_treated``; adding controls helps little once ``n_control`` is a
    few times ``n_treated`` (``extra["se_limit"]`` is the standard error with
    unlimited controls).

    Defaults and why: ``method="t"`` with clusters-minus-two df, since the
    cluster is the unit of inference and clusters are few; ``sd=1`` (``delta``
    in SD units) unless ``p0`` (a baseline share) gives ``sd = sqrt(p0 (1 - p0))``;
    ``rho=0``; ``pre=post=1``.

    Parameters
    ----------
    delta : float or array, optional
        Effect on the outcome (its units; a difference in shares with ``p0``).
    n_treated, n_control : float or array, optional
        Treated and control clusters; leave one of them out to solve for it.
    cluster_size : float or array
        Individuals per cluster and period.
    icc : float or array
        Share of the outcome variance between cluster-periods, in [0, 1].
    rho : float or array, default 0
        Correlation of a cluster's period effects across periods, in [-1, 1).
    pre, post : float or array, default 1
        Periods before and after.
    sd, p0 : float or array, optional
        Outcome SD, or baseline share for a binary outcome (give at most one).
    power, alpha, alternative
    method : {"t", "z"}, default "t"

    Returns
    -------
    PowerResult
        ``extra`` holds ``var_cluster`` (Var_D), ``se`` and ``se_limit``.

    Raises
    ------
    DesignError
        Both sd and p0, shares outside their ranges, fewer than 3 clusters for
        the t test, a number of controls no power can reach, nothing or more
        than one quantity left out.

    Notes
    -----
    Equicorrelation across periods is an assumption; with long panels whose
    correlation decays, Burlig, Preonas & Woerman (2020) show that power
    calculations ignoring the decay misstate power. ``rho`` is the correlation of
    the cluster-period effects, not of the cluster means; with large clusters
    the two coincide.

    References
    ----------
    McKenzie (2012), Beyond baseline and follow-up: the case for more T in
    experiments, J. Dev. Econ. 99(2):210-221, doi:10.1016/j.jdeveco.2012.01.002.
    Frison & Pocock (1992), Stat. Med. 11(13):1685-1704. Burlig, Preonas &
    Woerman (2020), J. Dev. Econ. 144:102458, doi:10.1016/j.jdeveco.2020.102458.

    Examples
    --------
    >>> import effekt as ef
    >>> res = ef.power("did", n_treated=15, n_control=75, cluster_size=60, icc=0.02,
    ...                rho=0.8, pre=12, post=12, p0=0.17, power=0.8)
    >>> round(res.value, 4)
    0.0175
    """

    name = "did"
    methods = ("t", "z")
    method_default = "t"
    solvable = ("n_treated", "n_control", "power", "delta", "alpha")
    numeric = {
        "delta": (MISSING, None, None, True, True),
        "n_treated": (MISSING, 0.0, None, True, True),
        "n_control": (MISSING, 0.0, None, True, True),
        "cluster_size": (MISSING, 1.0, None, False, True),
        "icc": (MISSING, 0.0, 1.0, False, False),
        "rho": (0.0, -1.0, 1.0, False, True),
        "pre": (1.0, 1.0, None, False, True),
        "post": (1.0, 1.0, None, False, True),
        "sd": (None, 0.0, None, True, True),
        "p0": (None, 0.0, 1.0, True, True),
        "power": (MISSING, 0.0, 1.0, True, True),
        "alpha": (0.05, 0.0, 1.0, True, True),
    }
    options = {"alternative": "two-sided"}
    size = "n_treated"
    effect = "delta"

    def _method_label(self, opts: Mapping[str, Any]) -> str:
        return "cluster-level DiD, " + ("noncentral t" if opts["method"] == "t" else "normal (z)")

    def _check(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> None:
        if "sd" in v and "p0" in v:
            raise DesignError("give the outcome's sd= or a baseline share p0=, not both.")
        if "delta" in v and np.any(v["delta"] == 0):
            raise DesignError("delta = 0 means no effect; give a non-zero delta or leave it out.")
        if opts["method"] == "t" and "n_treated" in v and "n_control" in v:
            if np.any(v["n_treated"] + v["n_control"] < 3.0):
                raise DesignError(
                    "the cluster-level t test needs at least 3 clusters in all (df = clusters - 2); "
                    f"got {np.min(v['n_treated'] + v['n_control']):g}. Add clusters or use method='z'."
                )

    @staticmethod
    def _sd(v: Mapping[str, np.ndarray]) -> np.ndarray | float:
        if "p0" in v:
            return np.sqrt(v["p0"] * (1.0 - v["p0"]))
        return v["sd"] if "sd" in v else 1.0

    def _var(self, v: Mapping[str, np.ndarray]) -> np.ndarray:
        return did_variance(v["icc"], v["rho"], v["cluster_size"], v["pre"], v["post"], self._sd(v))

    def _effect_sign(self, v: Mapping[str, np.ndarray]) -> np.ndarray | None:
        return np.sign(v["delta"]) if "delta" in v else None

    def _power(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> np.ndarray:
        se = np.sqrt(self._var(v) * (1.0 / v["n_treated"] + 1.0 / v["n_control"]))
        ncp = v["delta"] / se
        if opts["method"] == "z":
            return normal_power(ncp, z_crit(v["alpha"], opts["alternative"]), opts["alternative"])
        df = v["n_treated"] + v["n_control"] - 2.0
        return nct_power(ncp, df, t_crit(v["alpha"], df, opts["alternative"]), opts["alternative"])

    def _bracket(
        self, unknown: str, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]
    ) -> tuple[np.ndarray, np.ndarray]:
        ones = np.ones(np.broadcast(*v.values()).shape)
        if unknown == "delta":
            scale = 50.0 * np.sqrt(self._var(v)) * ones
            if opts["alternative"] == "smaller":
                return -scale, -1e-12 * ones
            return 1e-12 * ones, scale
        if unknown == "alpha":
            return 1e-12 * ones, (1.0 - 1e-12) * ones
        other = v["n_control"] if unknown == "n_treated" else v["n_treated"]
        low = np.maximum(3.0 - other, 0.5) if opts["method"] == "t" else 1e-3
        return low * ones, 1e7 * ones

    def _unreachable_hint(self, unknown: str) -> str:
        if unknown == "n_control":
            return (
                "Even unlimited control clusters cannot give that power with so few treated "
                "clusters: the standard error cannot fall below sqrt(Var_D / n_treated). "
                "Add treated clusters, periods, or accept a larger effect."
            )
        return super()._unreachable_hint(unknown)

    def _extra(self, unknown: str, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> dict[str, Any]:
        b = self._broadcast(v)
        var = self._var(b)
        se = np.sqrt(var * (1.0 / b["n_treated"] + 1.0 / b["n_control"]))
        limit = np.sqrt(var / b["n_treated"])

        def py(x: np.ndarray) -> Any:
            return np.asarray(x) if np.ndim(x) else float(x)

        return {"var_cluster": py(var), "se": py(se), "se_limit": py(limit)}

    def _curve_range(
        self, x_key: str, centre: float, point: Mapping[str, float], opts: Mapping[str, Any]
    ) -> tuple[float, float]:
        lo, hi = super()._curve_range(x_key, centre, point, opts)
        if x_key in ("n_treated", "n_control") and opts["method"] == "t":
            other = point["n_control"] if x_key == "n_treated" else point["n_treated"]
            lo = max(lo, 3.0 - float(other), 1.0)
            hi = max(hi, lo + 1.0)
        return lo, hi
