"""Power for a cluster-level difference-in-differences with serially correlated outcomes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from effekt import DesignError
from effekt_power._core import MISSING, Calculator, nct_power, normal_power, t_crit, z_crit

__all__ = ["DiD", "did_variance"]


def did_variance(
    icc: Any, autocorrelation: Any, cluster_size: Any, periods_before: Any, periods_after: Any, sd: Any = 1.0
) -> np.ndarray:
    """Variance of one cluster's before/after difference of its period means.

    Model: ``Y_ijt = a_j + g_t + tau D_jt + c_jt + e_ijt`` with cluster-period
    effects ``c_jt`` (share ``icc`` of the outcome variance ``sd^2``),
    correlated ``autocorrelation`` between any two periods of the same cluster, and
    individual noise independent across periods. The cluster-period mean has
    variance ``V = sd^2 (icc + (1 - icc)/m)`` and the means of two periods
    correlate ``r = icc autocorrelation / (icc + (1 - icc)/m)``; so (McKenzie 2012, eq. 2)::

        Var(post mean - pre mean) = V ((1 + (T1 - 1) r)/T1 + (1 + (T0 - 1) r)/T0 - 2 r)

    >>> round(float(did_variance(0.05, 0.7, 100, 1, 1)), 6)
    0.049
    """
    icc_a, rho_a, m, t0, t1, s = np.broadcast_arrays(
        *(np.asarray(x, dtype=float) for x in (icc, autocorrelation, cluster_size, periods_before, periods_after, sd))
    )
    v = s**2 * (icc_a + (1.0 - icc_a) / m)
    r = icc_a * rho_a / (icc_a + (1.0 - icc_a) / m)
    return np.asarray(v * ((1.0 + (t1 - 1.0) * r) / t1 + (1.0 + (t0 - 1.0) * r) / t0 - 2.0 * r))


class DiD(Calculator):
    """Cluster-level difference-in-differences: power, clusters per arm, MDE, alpha.

    ``n_clusters`` control clusters never take up the programme and
    ``ratio * n_clusters`` treated clusters (job centres) do, after
    ``periods_before`` periods; each cluster contributes ``cluster_size``
    individuals per period for ``periods_before`` periods before and
    ``periods_after`` periods after. The estimate is the difference between the arms'
    mean before/after changes of the cluster means (equivalently the DiD
    regression on cluster-period means with cluster and period effects, when
    every cluster is observed in every period).

    Formula (``Var_D`` from :func:`did_variance`)::

        n_control = n_clusters, n_treated = ratio * n_clusters (or n2, fixed)
        se = sqrt(Var_D (1/n_treated + 1/n_control))
        t:   power from the noncentral t with df = n_treated + n_control - 2, ncp = effect/se
        z:   power = Phi(effect/se - z) + Phi(-effect/se - z)

    Few treated units against many controls (``ratio`` well below 1): the
    standard error is dominated by ``1/n_treated``; adding controls helps
    little once they are a few times the treated (``extra["se_limit"]`` is the
    standard error with unlimited controls).

    Defaults and why: ``method="t"`` with clusters-minus-two df, since the
    cluster is the unit of inference and clusters are few; ``sd=1`` (``effect``
    in SD units) unless ``p0`` (a baseline share) gives ``sd = sqrt(p0 (1 - p0))``;
    ``autocorrelation=0``; ``periods_before=periods_after=1``; ``ratio=1``.

    Parameters
    ----------
    effect : float or array, optional
        Effect on the outcome, in its units (a difference in shares with ``p0``).
    n_clusters : float or array, optional
        Control clusters (clusters per arm when ``ratio=1``); leave out to solve for it.
    ratio : float or array, default 1
        Treated clusters per control cluster (n_treated / n_control).
    n2 : float or array, optional
        Treated clusters, fixed (instead of ``ratio``): leaving out
        ``n_clusters`` then asks how many control clusters reach the power,
        as with a programme run in a few job centres.
    cluster_size : float or array
        Individuals per cluster and period.
    icc : float or array
        Share of the outcome variance between cluster-periods, in [0, 1].
    autocorrelation : float or array, default 0
        Correlation of a cluster's period effects across periods, in (-1, 1).
    periods_before, periods_after : float or array, default 1
        Periods observed before and after the programme starts.
    sd, p0 : float or array, optional
        Outcome SD, or baseline share for a binary outcome (give at most one).
    power, alpha, alternative
    method : {"t", "z"}, default "t"

    Returns
    -------
    PowerResult
        ``counts`` is "clusters per arm" (the control arm's when ratio != 1);
        ``extra`` holds ``var_cluster`` (Var_D), ``se``, ``se_limit``,
        ``n_treated`` and ``n_control`` (clusters).

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
    calculations ignoring the decay misstate power. ``autocorrelation`` is the correlation of
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
    >>> res = ef.power("did", n_clusters=75, ratio=0.2, cluster_size=60, icc=0.02,
    ...                autocorrelation=0.8, periods_before=12, periods_after=12, p0=0.17, power=0.8)
    >>> round(res.value, 4)
    0.0175
    """

    name = "did"
    methods = ("t", "z")
    method_default = "t"
    solvable = ("n_clusters", "power", "effect", "alpha")
    numeric = {
        "effect": (MISSING, None, None, True, True),
        "n_clusters": (MISSING, 0.0, None, True, True),
        "ratio": (None, 0.0, None, True, True),
        "n2": (None, 0.0, None, True, True),
        "cluster_size": (MISSING, 1.0, None, False, True),
        "icc": (MISSING, 0.0, 1.0, False, False),
        "autocorrelation": (0.0, -1.0, 1.0, True, True),
        "periods_before": (1.0, 1.0, None, False, True),
        "periods_after": (1.0, 1.0, None, False, True),
        "sd": (None, 0.0, None, True, True),
        "p0": (None, 0.0, 1.0, True, True),
        "power": (MISSING, 0.0, 1.0, True, True),
        "alpha": (0.05, 0.0, 1.0, True, True),
    }
    settings = {"alternative": "two-sided"}
    size = "n_clusters"
    effect = "effect"
    example = {"effect": 0.05, "n_clusters": 40.0, "cluster_size": 60.0, "icc": 0.02, "autocorrelation": 0.5,
               "periods_before": 4.0, "periods_after": 4.0, "p0": 0.2, "power": 0.8, "alpha": 0.05}
    counts = {"n_clusters": "clusters per arm (the control arm's when ratio != 1 or n2 is fixed)"}

    @staticmethod
    def _arms(v: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Treated and control clusters."""
        if "n2" in v:
            return v["n2"], v["n_clusters"]
        return v.get("ratio", 1.0) * v["n_clusters"], v["n_clusters"]

    @staticmethod
    def _treated_share(v: Mapping[str, Any]) -> Any:
        """Treated clusters per control cluster, for the t test's lower bound on n_clusters."""
        return v.get("ratio", 1.0) if v.get("ratio") is not None else 1.0

    def _method_label(self, opts: Mapping[str, Any]) -> str:
        return "cluster-level DiD, " + ("noncentral t" if opts["method"] == "t" else "normal (z)")

    def _check(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> None:
        if "sd" in v and "p0" in v:
            raise DesignError("give the outcome's sd= or a baseline share p0=, not both.")
        if "n2" in v and "ratio" in v:
            raise DesignError(
                "give n2= (treated clusters, fixed) or ratio= (treated per control cluster), not both."
            )
        if "effect" in v and np.any(v["effect"] == 0):
            raise DesignError("effect = 0 means no effect; give a non-zero effect or leave it out.")
        if opts["method"] == "t" and "n_clusters" in v:
            treated, control = self._arms(v)
            total = treated + control
            if np.any(total < 3.0):
                raise DesignError(
                    "the cluster-level t test needs at least 3 clusters in all (df = clusters - 2); "
                    f"got {np.min(total):g}. Add clusters or use method='z'."
                )

    @staticmethod
    def _sd(v: Mapping[str, np.ndarray]) -> np.ndarray | float:
        if "p0" in v:
            return np.sqrt(v["p0"] * (1.0 - v["p0"]))
        return v["sd"] if "sd" in v else 1.0

    def _var(self, v: Mapping[str, np.ndarray]) -> np.ndarray:
        return did_variance(
            v["icc"], v["autocorrelation"], v["cluster_size"], v["periods_before"], v["periods_after"], self._sd(v)
        )

    def _effect_sign(self, v: Mapping[str, np.ndarray]) -> np.ndarray | None:
        return np.sign(v["effect"]) if "effect" in v else None

    def _power(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> np.ndarray:
        n_treated, n_control = self._arms(v)
        se = np.sqrt(self._var(v) * (1.0 / n_treated + 1.0 / n_control))
        ncp = v["effect"] / se
        if opts["method"] == "z":
            return normal_power(ncp, z_crit(v["alpha"], opts["alternative"]), opts["alternative"])
        df = n_treated + n_control - 2.0
        return nct_power(ncp, df, t_crit(v["alpha"], df, opts["alternative"]), opts["alternative"])

    def _bracket(
        self, unknown: str, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]
    ) -> tuple[np.ndarray, np.ndarray]:
        ones = np.ones(np.broadcast(*v.values()).shape)
        if unknown == "effect":
            scale = 50.0 * np.sqrt(self._var(v)) * ones
            if opts["alternative"] == "less":
                return -scale, -1e-12 * ones
            return 1e-12 * ones, scale
        if unknown == "alpha":
            return 1e-12 * ones, (1.0 - 1e-12) * ones
        if "n2" in v:
            low = np.maximum(3.0 - v["n2"], 1e-3) if opts["method"] == "t" else 1e-3
        else:
            low = np.maximum(3.0 / (1.0 + v.get("ratio", 1.0)), 1e-3) if opts["method"] == "t" else 1e-3
        return low * ones, 1e7 * ones

    def _unreachable_hint(self, unknown: str) -> str:
        if unknown == "n_clusters":
            return (
                "With the treated clusters fixed (n2), even unlimited control clusters may not give "
                "that power: the standard error cannot fall below sqrt(Var_D / n2) "
                "(extra['se_limit']). Add treated clusters or periods, or accept a larger effect."
            )
        return super()._unreachable_hint(unknown)

    def _extra(self, unknown: str, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> dict[str, Any]:
        b = self._broadcast(v)
        var = self._var(b)
        n_treated, n_control = self._arms(b)
        se = np.sqrt(var * (1.0 / n_treated + 1.0 / n_control))
        limit = np.sqrt(var / n_treated)

        def py(x: np.ndarray) -> Any:
            return np.asarray(x) if np.ndim(x) else float(x)

        return {"var_cluster": py(var), "se": py(se), "se_limit": py(limit), "n_treated": py(n_treated),
                "n_control": py(n_control)}

    def _curve_range(
        self, x_key: str, centre: float, point: Mapping[str, float], opts: Mapping[str, Any]
    ) -> tuple[float, float]:
        lo, hi = super()._curve_range(x_key, centre, point, opts)
        if x_key == "n_clusters" and opts["method"] == "t":
            if "n2" in point:
                lo = max(lo, 3.0 - float(point["n2"]), 1.0)
            else:
                lo = max(lo, 3.0 / (1.0 + float(point.get("ratio", 1.0))), 1.0)
            hi = max(hi, lo + 1.0)
        return lo, hi
