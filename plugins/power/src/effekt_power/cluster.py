"""Cluster-randomised trials through the design effect, with equal or varying cluster sizes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from effekt import DesignError
from effekt_power._core import MISSING, Calculator, as_array, nct_power, normal_power, t_crit, z_crit

__all__ = ["ClusterRandomised", "design_effect"]


def design_effect(icc: Any, cluster_size: Any, cv: Any = 0.0) -> np.ndarray | float:
    """Variance inflation of a mean from clusters of (mean) size m with intraclass correlation icc.

    Formula: ``deff = 1 + ((cv^2 + 1) m - 1) icc``, where ``cv`` is the
    coefficient of variation of the cluster sizes; ``cv = 0`` (equal sizes)
    gives Kish's ``1 + (m - 1) icc``. The effective sample size is ``n / deff``.

    References: Kish (1965), Survey Sampling, section 5.4; Eldridge, Ashby &
    Kerry (2006), Int. J. Epidemiol. 35(5):1292-1300, doi:10.1093/ije/dyl129, eq. 4.

    >>> round(design_effect(0.01, 12856 / 88), 2), round(design_effect(0.05, 12856 / 88), 2)
    (2.45, 8.25)
    """
    rho = as_array("icc", icc, low=0.0, high=1.0, low_open=False, high_open=False)
    m = as_array("cluster_size", cluster_size, low=1.0, low_open=False)
    c = as_array("cv", cv, low=0.0, low_open=False)
    out = 1.0 + ((c**2 + 1.0) * m - 1.0) * rho
    return float(out) if out.ndim == 0 else out


class ClusterRandomised(Calculator):
    """Two-arm cluster-randomised trial: power, clusters per arm, minimal detectable d, alpha.

    Whole clusters (job centres, municipalities, case workers' caseloads) are
    randomised; outcomes are measured on the ``cluster_size`` members of each.
    The individual-level analysis is inflated by the design effect.

    Formula (``k1 = n_clusters``, ``k2 = ratio k1`` clusters, mean size ``m``)::

        deff = 1 + ((cv^2 + 1) m - 1) icc
        se   = sqrt(deff (1 - r2) (1/(k1 m) + 1/(k2 m)))
        t:   power from the noncentral t with df = k1 + k2 - 2 and ncp = d / se
        z:   power = Phi(d/se - z) + Phi(-d/se - z)

    Defaults and why: ``method="t"`` with clusters-minus-two degrees of
    freedom, because with few clusters the normal approximation overstates
    power (Donner & Klar 2000, ch. 5); ``cv=0`` (equal sizes); ``r2=0``.

    Parameters
    ----------
    d : float or array, optional
        Standardised effect (difference in means over the total SD).
    n_clusters : float or array, optional
        Clusters in arm 1.
    cluster_size : float or array
        Mean number of members per cluster.
    icc : float or array
        Intraclass correlation, in [0, 1].
    cv : float or array, default 0
        Coefficient of variation of the cluster sizes.
    ratio : float or array, default 1
        Clusters in arm 2 over clusters in arm 1.
    r2 : float or array, default 0
        Share of the outcome variance explained by covariates.
    power, alpha, alternative
    method : {"t", "z"}, default "t"

    Returns
    -------
    PowerResult
        ``extra`` holds ``design_effect``, ``n_clusters2`` and ``n_effective``
        (individuals per arm 1 divided by the design effect).

    Raises
    ------
    DesignError
        icc outside [0, 1], cluster_size below 1, fewer than 3 clusters in all
        for the t test, nothing or more than one quantity left out.

    References
    ----------
    Donner & Klar (2000), Design and Analysis of Cluster Randomization Trials,
    Arnold, ch. 5; Eldridge, Ashby & Kerry (2006), eq. 4.

    Examples
    --------
    >>> import effekt as ef
    >>> res = ef.power("cluster", d=0.3, cluster_size=20, icc=0.05, power=0.8)
    >>> round(res.value, 2), round(res.extra["design_effect"], 2)
    (18.02, 1.95)
    """

    name = "cluster"
    example = {"d": 0.4, "n_clusters": 20.0, "cluster_size": 15.0, "icc": 0.05, "power": 0.8, "alpha": 0.05}
    methods = ("t", "z")
    method_default = "t"
    solvable = ("n_clusters", "power", "d", "alpha")
    numeric = {
        "d": (MISSING, None, None, True, True),
        "n_clusters": (MISSING, 0.0, None, True, True),
        "cluster_size": (MISSING, 1.0, None, False, True),
        "icc": (MISSING, 0.0, 1.0, False, False),
        "cv": (0.0, 0.0, None, False, True),
        "ratio": (1.0, 0.0, None, True, True),
        "r2": (0.0, 0.0, 1.0, False, True),
        "power": (MISSING, 0.0, 1.0, True, True),
        "alpha": (0.05, 0.0, 1.0, True, True),
    }
    settings = {"alternative": "two-sided"}
    size = "n_clusters"
    effect = "d"

    def _method_label(self, opts: Mapping[str, Any]) -> str:
        return "design effect, noncentral t" if opts["method"] == "t" else "design effect, normal (z)"

    def _check(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> None:
        if "d" in v and np.any(v["d"] == 0):
            raise DesignError("d = 0 means no effect; give a non-zero d or leave it out to solve for it.")
        if opts["method"] == "t" and "n_clusters" in v:
            total = v["n_clusters"] * (1.0 + v["ratio"])
            if np.any(total <= 3.0 - 1e-12):
                raise DesignError(
                    "the cluster-level t test needs at least 3 clusters in all (df = clusters - 2); "
                    f"got {np.min(total):g}. Add clusters or use method='z'."
                )

    @staticmethod
    def _deff(v: Mapping[str, np.ndarray]) -> np.ndarray:
        return 1.0 + ((v["cv"] ** 2 + 1.0) * v["cluster_size"] - 1.0) * v["icc"]

    def _effect_sign(self, v: Mapping[str, np.ndarray]) -> np.ndarray | None:
        return np.sign(v["d"]) if "d" in v else None

    def _power(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> np.ndarray:
        k1 = v["n_clusters"]
        k2 = v["ratio"] * k1
        m = v["cluster_size"]
        se = np.sqrt(self._deff(v) * (1.0 - v["r2"]) * (1.0 / (k1 * m) + 1.0 / (k2 * m)))
        ncp = v["d"] / se
        if opts["method"] == "z":
            return normal_power(ncp, z_crit(v["alpha"], opts["alternative"]), opts["alternative"])
        df = k1 + k2 - 2.0
        return nct_power(ncp, df, t_crit(v["alpha"], df, opts["alternative"]), opts["alternative"])

    def _bracket(
        self, unknown: str, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]
    ) -> tuple[np.ndarray, np.ndarray]:
        ones = np.ones(np.broadcast(*v.values()).shape)
        if unknown == "d":
            if opts["alternative"] == "less":
                return -50.0 * ones, -1e-10 * ones
            return 1e-10 * ones, 50.0 * ones
        if unknown == "alpha":
            return 1e-12 * ones, (1.0 - 1e-12) * ones
        low = 3.0 / (1.0 + v["ratio"]) if opts["method"] == "t" else 1e-6 * ones
        return low * ones, 1e8 * ones

    def _extra(self, unknown: str, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> dict[str, Any]:
        b = self._broadcast(v)
        deff = self._deff(b)
        k2 = b["ratio"] * b["n_clusters"]
        eff = b["n_clusters"] * b["cluster_size"] / deff

        def py(x: np.ndarray) -> Any:
            return np.asarray(x) if np.ndim(x) else float(x)

        return {"design_effect": py(deff), "n_clusters2": py(k2), "n_effective": py(eff)}

    def _curve_range(
        self, x_key: str, centre: float, point: Mapping[str, float], opts: Mapping[str, Any]
    ) -> tuple[float, float]:
        lo, hi = super()._curve_range(x_key, centre, point, opts)
        if x_key == "n_clusters" and opts["method"] == "t":
            lo = max(lo, 3.0 / (1.0 + float(point["ratio"])) + 0.5)
            hi = max(hi, lo + 1.0)
        return lo, hi
