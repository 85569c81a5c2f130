"""The PowerUp! catalogue of multilevel designs (Dong & Maynard 2013): IRA, BIRA2, CRA2,
BCRA3 and CRA3, for the minimum detectable effect size (MDES), the minimum required
sample size at the top level, power and alpha.

Every design has a standardised standard error ``SSE`` (the standard error of
the impact estimate in units of the outcome's total SD) and degrees of
freedom ``df``. Dong & Maynard's MDES is ``M * SSE`` with the multiplier
``M = t_{1-alpha/2, df} + t_{power, df}`` (``t_{1-alpha, df}`` one-tailed);
inverting it gives the power ``T_df(d / SSE - t_{1-alpha/2, df})``. With
``method="noncentral_t"`` power is the noncentral-t power of the two-tailed t
test (PowerUpR's ``power.*`` functions), and MDES and sample size are its
exact inverses.

Names are effekt's (:mod:`effekt.vocabulary`); the formulas below are
written in PowerUp!'s notation, whose names are accepted as the documented
aliases of ``POWER_ALIASES`` (``J``, ``K``, ``P``, ``rho2``, ``rho3``,
``MDES``, ``g``). The translation:

=============  ==========================================================
PowerUp!       effekt
=============  ==========================================================
``n``          ``n_total`` (ira), ``block_size`` (bira2), ``cluster_size``
``J``          ``n_blocks`` (bira2), ``2 * n_clusters`` (cra2: n_clusters
               is per arm), ``clusters_per_site`` (bcra3, cra3)
``K``          ``n_blocks`` (bcra3), ``2 * n_sites`` (cra3: per arm)
``P``          ``allocation``, the share treated
``rho2/rho3``  ``icc2``/``icc3``
``g``          ``n_covariates``
``MDES``       ``d``
=============  ==========================================================

With ``allocation`` other than 0.5 "per arm" means half the total
(``2 * n_clusters`` clusters, split ``allocation : 1 - allocation``).
In PowerUp!'s notation: ``n`` level-1 units per level-2 unit (for IRA:
the total sample), ``J`` level-2 units (per level-3 unit in three-level
designs), ``K`` level-3 units, ``p`` the share assigned to treatment,
``rho2``/``rho3`` the unconditional ICCs, ``omega2``/``omega3`` effect
heterogeneity across blocks (its variance over the level's outcome
variance), ``r21``/``r22``/``r23`` the variance at levels 1/2/3 explained by
covariates, ``r2t2``/``r2t3`` the effect variance explained, ``g`` the
covariates at the top level.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from scipy import special

from effekt import DesignError
from effekt_power._core import MISSING, Calculator, nct_power, t_crit

__all__ = ["IRA", "BIRA2", "CRA2", "BCRA3", "CRA3"]

_PROB = (0.5, 0.0, 1.0, True, True)
_SHARE = (0.0, 0.0, 1.0, False, True)
_COMMON = {
    "d": (MISSING, None, None, True, True),
    "power": (MISSING, 0.0, 1.0, True, True),
    "alpha": (0.05, 0.0, 1.0, True, True),
    "allocation": _PROB,
    "n_covariates": (0.0, 0.0, None, False, True),
}
#: effekt's names -> (PowerUp!'s name, factor: PowerUp! value = effekt value * factor)
_BASE_NOTATION: dict[str, tuple[str, float]] = {
    "allocation": ("p", 1.0),
    "n_covariates": ("g", 1.0),
    "icc2": ("rho2", 1.0),
    "icc3": ("rho3", 1.0),
}


class _PowerUp(Calculator):
    methods = ("multiplier", "noncentral_t")
    method_default = "multiplier"
    settings = {"alternative": "two-sided"}
    effect = "d"
    model: ClassVar[str]
    notation: ClassVar[dict[str, tuple[str, float]]] = {}
    # the notation of the module docstring, as `effekt power NAME --help` shows it
    meanings: ClassVar[dict[str, str]] = {
        "d": "Minimum detectable effect size (MDES), in units of the outcome's total SD.",
        "power": "Power.",
        "alpha": "Significance level.",
        "allocation": "Share of units (clusters, sites) assigned to treatment (PowerUp!'s P).",
        "n_covariates": "Number of covariates at the top level (PowerUp!'s g).",
        "n_total": "Individuals in total (PowerUp!'s n).",
        "block_size": "Individuals per block (PowerUp!'s n).",
        "cluster_size": "Individuals per cluster (PowerUp!'s n).",
        "n_blocks": "Blocks (sites) in total (PowerUp!'s J in bira2, K in bcra3).",
        "n_clusters": "Clusters per arm (PowerUp!'s J = 2 n_clusters counts all clusters).",
        "n_sites": "Sites per arm (PowerUp!'s K = 2 n_sites counts all sites).",
        "clusters_per_site": "Clusters in each site or block (PowerUp!'s J).",
        "icc2": "Unconditional ICC at level 2 (PowerUp!'s rho2).",
        "icc3": "Unconditional ICC at level 3 (PowerUp!'s rho3).",
        "omega2": "Effect heterogeneity across level-2 blocks (its variance over the level's outcome variance).",
        "omega3": "Effect heterogeneity across level-3 blocks (its variance over the level's outcome variance).",
        "r21": "Share of level-1 variance explained by covariates.",
        "r22": "Share of level-2 variance explained by covariates.",
        "r23": "Share of level-3 variance explained by covariates.",
        "r2t2": "Share of the level-2 effect variance explained by covariates.",
        "r2t3": "Share of the level-3 effect variance explained by covariates.",
        "block_effects": '"random" or "fixed" block effects.',
        "method": '"multiplier" (Dong & Maynard\'s MDES multiplier) or "noncentral_t" (PowerUpR\'s power.*).',
        "alternative": '"two-sided" or "greater" (one-tailed).',
    }

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.notation = {**_BASE_NOTATION, **cls.notation}

    def _pu(self, v: Mapping[str, Any]) -> dict[str, Any]:
        """``v`` in PowerUp!'s notation, as the formulas are written."""
        out = dict(v)
        for name, (symbol, factor) in self.notation.items():
            if name in out:
                out[symbol] = out.pop(name) * factor
        return out

    @property
    def _size_factor(self) -> float:
        return self.notation.get(self.size, (self.size, 1.0))[1]

    def _sse(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> np.ndarray:
        raise NotImplementedError

    def _df(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> np.ndarray:
        raise NotImplementedError

    def _min_top(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> np.ndarray:
        """Smallest top-level sample size with df >= 1."""
        raise NotImplementedError

    def _method_label(self, opts: Mapping[str, Any]) -> str:
        how = "MDES multiplier" if opts["method"] == "multiplier" else "noncentral t"
        return f"PowerUp! {self.model} ({how})"

    def _check(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> None:
        if opts["alternative"] == "less":
            raise DesignError(
                f"{self.name}: PowerUp! designs test a positive effect; use alternative='greater' "
                "(one-tailed) or 'two-sided' and give d > 0."
            )
        if "d" in v and np.any(v["d"] <= 0):
            raise DesignError(f"{self.name}: d is the effect size and must be positive; got {np.min(v['d']):g}.")
        rho = v.get("icc2", 0.0) + v.get("icc3", 0.0)
        if np.any(np.asarray(rho) >= 1.0):
            raise DesignError(
                f"{self.name}: icc2 + icc3 must be below 1 (the level-1 share of variance is "
                f"1 - icc2 - icc3); got {np.max(rho):g}."
            )
        if self.size in v:
            df = self._df(self._pu(self._broadcast(v)), opts)
            if np.any(df < 1.0):
                raise DesignError(
                    f"{self.name}: the design has {np.min(df):g} degrees of freedom (df = "
                    f"{self._df_text(opts)} in PowerUp!'s notation); enlarge {self.size} or use "
                    "fewer covariates (n_covariates)."
                )

    def _df_text(self, opts: Mapping[str, Any]) -> str:
        return "see the docstring"

    def _crit(self, v: Mapping[str, np.ndarray], df: np.ndarray, opts: Mapping[str, Any]) -> np.ndarray:
        alt = "two-sided" if opts["alternative"] == "two-sided" else "greater"
        return t_crit(v["alpha"], df, alt)

    def _power(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> np.ndarray:
        v = self._pu(v)
        df = self._df(v, opts)
        sse = self._sse(v, opts)
        crit = self._crit(v, df, opts)
        ncp = v["d"] / sse
        if opts["method"] == "multiplier":
            # Dong & Maynard (2013), eq. 2 inverted: M = d/SSE = T1 + T2, power = T_df(T2)
            return special.stdtr(df, ncp - crit)
        alt = "two-sided" if opts["alternative"] == "two-sided" else "greater"
        return nct_power(ncp, df, crit, alt)

    def _closed_form(
        self, unknown: str, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]
    ) -> np.ndarray | None:
        if unknown == "d" and opts["method"] == "multiplier":
            v = self._pu(v)
            df = self._df(v, opts)
            multiplier = self._crit(v, df, opts) + special.stdtrit(df, v["power"])
            return multiplier * self._sse(v, opts)
        return None

    def _bracket(
        self, unknown: str, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]
    ) -> tuple[np.ndarray, np.ndarray]:
        ones = np.ones(np.broadcast(*v.values()).shape)
        if unknown == "d":
            return 1e-10 * ones, 50.0 * ones
        if unknown == "alpha":
            return 1e-12 * ones, (1.0 - 1e-12) * ones
        return self._min_top(self._pu(v), opts) / self._size_factor * ones, 1e8 * ones

    def _extra(self, unknown: str, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> dict[str, Any]:
        b = self._pu(self._broadcast(v))
        df = self._df(b, opts)
        sse = self._sse(b, opts)
        crit = self._crit(b, df, opts)
        multiplier = b["d"] / sse

        def py(x: np.ndarray) -> Any:
            return np.asarray(x) if np.ndim(x) else float(x)

        return {
            "df": py(df),
            "sse": py(sse),
            "multiplier": py(multiplier),
            "t_alpha": py(crit),
            "model": self._method_label(opts).split()[1],
        }

    def _curve_range(
        self, x_key: str, centre: float, point: Mapping[str, float], opts: Mapping[str, Any]
    ) -> tuple[float, float]:
        lo, hi = super()._curve_range(x_key, centre, point, opts)
        if x_key == self.size:
            floor = float(np.max(self._min_top(self._pu({k: np.asarray(x) for k, x in point.items()}), opts)))
            floor /= self._size_factor
            lo = max(lo, floor + 0.5)
            hi = max(hi, lo + 2.0)
        return lo, hi


class IRA(_PowerUp):
    """Individual random assignment (PowerUp! model 1.0, IRA_1r).

    ``SSE = sqrt((1 - r21) / (p (1 - p) n))``, ``df = n - g - 2``, ``n`` the total sample.

    Parameters: ``d`` (MDES), ``n_total`` (individuals in both arms together,
    PowerUp!'s n), ``power``, ``alpha``, ``allocation`` (0.5), ``r21`` (0),
    ``n_covariates`` (0), ``alternative``, ``method`` ("multiplier" or
    "noncentral_t"). Leave out one of d, n_total, power, alpha.

    Returns a PowerResult with ``extra`` df, sse, multiplier.

    Raises DesignError for df < 1, shares outside [0, 1), d <= 0.

    References: Dong & Maynard (2013), PowerUp!, J. Res. Educ. Eff. 6(1):24-67,
    doi:10.1080/19345747.2012.673143, Table 3 and Appendix model 1.0.

    >>> import effekt as ef
    >>> round(ef.power("ira", n_total=250, power=0.8).value, 4)
    0.3558
    """

    name = "ira"
    model = "IRA_1r"
    solvable = ("n_total", "power", "d", "alpha")
    numeric = {**_COMMON, "n_total": (MISSING, 0.0, None, True, True), "r21": _SHARE}
    size = "n_total"
    notation = {"n_total": ("n", 1.0)}
    example = {"d": 0.36, "n_total": 250.0, "power": 0.8, "alpha": 0.05}

    def _sse(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> np.ndarray:
        return np.sqrt((1.0 - v["r21"]) / (v["p"] * (1.0 - v["p"]) * v["n"]))

    def _df(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> np.ndarray:
        return v["n"] - v["g"] - 2.0

    def _df_text(self, opts: Mapping[str, Any]) -> str:
        return "n - g - 2"

    def _min_top(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> np.ndarray:
        return np.asarray(v["g"] + 3.0)


class BIRA2(_PowerUp):
    """Blocked individual random assignment, two levels (PowerUp! models 2.1-2.3).

    Individuals are randomised within ``J`` blocks (sites) of ``n``.

    - ``block_effects="random"`` (BIRA2_1r, model 2.3):
      ``SSE = sqrt(rho2 omega2 (1 - r2t2)/J + (1 - rho2)(1 - r21)/(p (1-p) J n))``, ``df = J - g - 1``;
    - ``"fixed"`` (BIRA2_1f, model 2.2): ``SSE = sqrt((1 - r21)/(p (1-p) J n))``,
      ``df = J (n - 2) - g``;
    - ``"constant"`` (BIRA2_1c, model 2.1): the same SSE, ``df = J n - J - g - 1``.

    Parameters: ``d``, ``n_blocks`` (J), ``block_size`` (n), ``power``, ``alpha``,
    ``icc2`` (rho2), ``omega2`` (random only), ``allocation`` (P), ``r21``, ``r2t2``,
    ``n_covariates`` (g), ``block_effects`` ("random"), ``alternative``, ``method``.
    Leave out one of d, n_blocks, power, alpha.

    Returns a PowerResult; raises DesignError for df < 1 or shares out of range.

    References: Dong & Maynard (2013), Appendix models 2.1-2.3.

    >>> import effekt as ef
    >>> round(ef.power("bira2", icc2=0.35, omega2=0.10, block_size=83, n_blocks=480, power=0.8).value, 4)
    0.033
    """

    name = "bira2"
    solvable = ("n_blocks", "power", "d", "alpha")
    numeric = {
        **_COMMON,
        "n_blocks": (MISSING, 0.0, None, True, True),
        "block_size": (MISSING, 0.0, None, True, True),
        "icc2": (0.0, 0.0, 1.0, False, True),
        "omega2": (0.0, 0.0, None, False, True),
        "r21": _SHARE,
        "r2t2": _SHARE,
    }
    settings = {"alternative": "two-sided", "block_effects": "random"}
    size = "n_blocks"
    model = "BIRA2_1r"
    notation = {"n_blocks": ("J", 1.0), "block_size": ("n", 1.0)}
    example = {"d": 0.1, "n_blocks": 40.0, "block_size": 50.0, "icc2": 0.2, "omega2": 0.1, "power": 0.8,
               "alpha": 0.05}

    def _method_label(self, opts: Mapping[str, Any]) -> str:
        code = {"random": "BIRA2_1r", "fixed": "BIRA2_1f", "constant": "BIRA2_1c"}[opts["block_effects"]]
        how = "MDES multiplier" if opts["method"] == "multiplier" else "noncentral t"
        return f"PowerUp! {code} ({how})"

    def _check(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> None:
        if opts["block_effects"] not in ("random", "fixed", "constant"):
            raise DesignError(
                f"block_effects={opts['block_effects']!r}; use 'random', 'fixed' or 'constant'."
            )
        super()._check(v, opts)

    def _sse(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> np.ndarray:
        pq = v["p"] * (1.0 - v["p"])
        if opts["block_effects"] == "random":
            return np.sqrt(
                v["rho2"] * v["omega2"] * (1.0 - v["r2t2"]) / v["J"]
                + (1.0 - v["rho2"]) * (1.0 - v["r21"]) / (pq * v["J"] * v["n"])
            )
        return np.sqrt((1.0 - v["r21"]) / (pq * v["J"] * v["n"]))

    def _df(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> np.ndarray:
        if opts["block_effects"] == "random":
            return v["J"] - v["g"] - 1.0
        if opts["block_effects"] == "fixed":
            return v["J"] * (v["n"] - 2.0) - v["g"]
        return v["J"] * v["n"] - v["J"] - v["g"] - 1.0

    def _df_text(self, opts: Mapping[str, Any]) -> str:
        return {"random": "J - g - 1", "fixed": "J (n - 2) - g", "constant": "J n - J - g - 1"}[
            opts["block_effects"]
        ]

    def _min_top(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> np.ndarray:
        if opts["block_effects"] == "random":
            return np.asarray(v["g"] + 2.0)
        if opts["block_effects"] == "fixed":
            return np.asarray((v["g"] + 1.0) / np.maximum(v["n"] - 2.0, 1e-9))
        return np.asarray((v["g"] + 2.0) / np.maximum(v["n"] - 1.0, 1e-9))


class CRA2(_PowerUp):
    """Two-level cluster random assignment, treatment at level 2 (PowerUp! model 3.1, CRA2_2r).

    ``SSE = sqrt(rho2 (1 - r22)/(p (1-p) J) + (1 - rho2)(1 - r21)/(p (1-p) J n))``,
    ``df = J - g - 2``; ``J = 2 n_clusters`` clusters in all, ``n = cluster_size`` members each.

    Parameters: ``d``, ``n_clusters`` (clusters per arm; PowerUp!'s J = 2
    n_clusters), ``cluster_size`` (n), ``icc2`` (rho2), ``power``, ``alpha``,
    ``allocation`` (P), ``r21``, ``r22``, ``n_covariates`` (g), ``alternative``,
    ``method``. Leave out one of d, n_clusters, power, alpha.

    Returns a PowerResult; raises DesignError for df < 1 or shares out of range.

    References: Dong & Maynard (2013), Appendix model 3.1; Bloom (2006), eq. 6.

    >>> import effekt as ef
    >>> round(ef.power("cra2", icc2=0.20, cluster_size=4, n_clusters=10, power=0.8, alpha=0.01).value, 4)
    1.058
    """

    name = "cra2"
    model = "CRA2_2r"
    solvable = ("n_clusters", "power", "d", "alpha")
    numeric = {
        **_COMMON,
        "n_clusters": (MISSING, 0.0, None, True, True),
        "cluster_size": (MISSING, 0.0, None, True, True),
        "icc2": (MISSING, 0.0, 1.0, False, True),
        "r21": _SHARE,
        "r22": _SHARE,
    }
    size = "n_clusters"
    notation = {"n_clusters": ("J", 2.0), "cluster_size": ("n", 1.0)}
    example = {"d": 0.4, "n_clusters": 20.0, "cluster_size": 15.0, "icc2": 0.1, "power": 0.8, "alpha": 0.05}

    def _sse(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> np.ndarray:
        pq = v["p"] * (1.0 - v["p"])
        return np.sqrt(
            v["rho2"] * (1.0 - v["r22"]) / (pq * v["J"])
            + (1.0 - v["rho2"]) * (1.0 - v["r21"]) / (pq * v["J"] * v["n"])
        )

    def _df(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> np.ndarray:
        return v["J"] - v["g"] - 2.0

    def _df_text(self, opts: Mapping[str, Any]) -> str:
        return "J - g - 2"

    def _min_top(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> np.ndarray:
        return np.asarray(v["g"] + 3.0)


class BCRA3(_PowerUp):
    """Three-level blocked cluster random assignment, treatment at level 2 (PowerUp! 4.1-4.2).

    Level-2 clusters (``J`` per block) are randomised within ``K`` level-3 blocks.

    - ``block_effects="random"`` (BCRA3_2r, model 4.2): ``SSE = sqrt(rho3 omega3
      (1 - r2t3)/K + rho2 (1 - r22)/(p (1-p) J K) + (1 - rho2 - rho3)(1 - r21)/(p (1-p) J K n))``,
      ``df = K - g - 1``;
    - ``"fixed"`` (BCRA3_2f, model 4.1): ``SSE = sqrt(rho2 (1 - r22)/(p (1-p) J K)
      + (1 - rho2)(1 - r21)/(p (1-p) J K n))``, ``df = K (J - 2) - g``.

    Parameters: ``d``, ``n_blocks`` (K), ``clusters_per_site`` (J),
    ``cluster_size`` (n), ``icc2`` (rho2), ``icc3`` (rho3; random), ``omega3``
    (random), ``power``, ``alpha``, ``allocation`` (P), ``r21``, ``r22``,
    ``r2t3``, ``n_covariates`` (g), ``block_effects``, ``alternative``,
    ``method``. Leave out one of d, n_blocks, power, alpha.

    Returns a PowerResult; raises DesignError for df < 1 or shares out of range.

    References: Dong & Maynard (2013), Appendix models 4.1 and 4.2.

    >>> import effekt as ef
    >>> res = ef.power("bcra3", icc3=0.13, icc2=0.10, omega3=0.4, cluster_size=10, clusters_per_site=6,
    ...                n_blocks=24, power=0.8)
    >>> round(res.value, 4)
    0.2463
    """

    name = "bcra3"
    solvable = ("n_blocks", "power", "d", "alpha")
    numeric = {
        **_COMMON,
        "n_blocks": (MISSING, 0.0, None, True, True),
        "clusters_per_site": (MISSING, 0.0, None, True, True),
        "cluster_size": (MISSING, 0.0, None, True, True),
        "icc2": (MISSING, 0.0, 1.0, False, True),
        "icc3": (0.0, 0.0, 1.0, False, True),
        "omega3": (0.0, 0.0, None, False, True),
        "r21": _SHARE,
        "r22": _SHARE,
        "r2t3": _SHARE,
    }
    settings = {"alternative": "two-sided", "block_effects": "random"}
    size = "n_blocks"
    notation = {"n_blocks": ("K", 1.0), "clusters_per_site": ("J", 1.0), "cluster_size": ("n", 1.0)}
    example = {"d": 0.25, "n_blocks": 24.0, "clusters_per_site": 6.0, "cluster_size": 10.0, "icc2": 0.1,
               "icc3": 0.13, "omega3": 0.4, "power": 0.8, "alpha": 0.05}
    model = "BCRA3_2r"

    def _method_label(self, opts: Mapping[str, Any]) -> str:
        code = "BCRA3_2r" if opts["block_effects"] == "random" else "BCRA3_2f"
        how = "MDES multiplier" if opts["method"] == "multiplier" else "noncentral t"
        return f"PowerUp! {code} ({how})"

    def _check(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> None:
        if opts["block_effects"] not in ("random", "fixed"):
            raise DesignError(f"block_effects={opts['block_effects']!r}; use 'random' or 'fixed'.")
        super()._check(v, opts)

    def _sse(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> np.ndarray:
        pq = v["p"] * (1.0 - v["p"])
        jk = v["J"] * v["K"]
        if opts["block_effects"] == "fixed":
            return np.sqrt(
                v["rho2"] * (1.0 - v["r22"]) / (pq * jk)
                + (1.0 - v["rho2"]) * (1.0 - v["r21"]) / (pq * jk * v["n"])
            )
        return np.sqrt(
            v["rho3"] * v["omega3"] * (1.0 - v["r2t3"]) / v["K"]
            + v["rho2"] * (1.0 - v["r22"]) / (pq * jk)
            + (1.0 - v["rho2"] - v["rho3"]) * (1.0 - v["r21"]) / (pq * jk * v["n"])
        )

    def _df(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> np.ndarray:
        if opts["block_effects"] == "fixed":
            return v["K"] * (v["J"] - 2.0) - v["g"]
        return v["K"] - v["g"] - 1.0

    def _df_text(self, opts: Mapping[str, Any]) -> str:
        return "K (J - 2) - g" if opts["block_effects"] == "fixed" else "K - g - 1"

    def _min_top(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> np.ndarray:
        if opts["block_effects"] == "fixed":
            return np.asarray((v["g"] + 1.0) / np.maximum(v["J"] - 2.0, 1e-9))
        return np.asarray(v["g"] + 2.0)


class CRA3(_PowerUp):
    """Three-level cluster random assignment, treatment at level 3 (PowerUp! model 3.2, CRA3_3r).

    ``SSE = sqrt(rho3 (1 - r23)/(p (1-p) K) + rho2 (1 - r22)/(p (1-p) J K)
    + (1 - rho2 - rho3)(1 - r21)/(p (1-p) J K n))``, ``df = K - g - 2``.

    Parameters: ``d``, ``n_sites`` (sites per arm; PowerUp!'s K = 2 n_sites),
    ``clusters_per_site`` (J), ``cluster_size`` (n), ``icc2`` (rho2), ``icc3``
    (rho3), ``power``, ``alpha``, ``allocation`` (P), ``r21``, ``r22``, ``r23``,
    ``n_covariates`` (g), ``alternative``, ``method``. Leave out one of d,
    n_sites, power, alpha.

    Returns a PowerResult; raises DesignError for df < 1 or shares out of range.

    References: Dong & Maynard (2013), Appendix model 3.2.

    >>> import effekt as ef
    >>> res = ef.power("cra3", icc3=0.06, icc2=0.17, cluster_size=15, clusters_per_site=3, n_sites=30,
    ...                power=0.8)
    >>> round(res.value, 4)
    0.2691
    """

    name = "cra3"
    model = "CRA3_3r"
    solvable = ("n_sites", "power", "d", "alpha")
    numeric = {
        **_COMMON,
        "n_sites": (MISSING, 0.0, None, True, True),
        "clusters_per_site": (MISSING, 0.0, None, True, True),
        "cluster_size": (MISSING, 0.0, None, True, True),
        "icc2": (MISSING, 0.0, 1.0, False, True),
        "icc3": (MISSING, 0.0, 1.0, False, True),
        "r21": _SHARE,
        "r22": _SHARE,
        "r23": _SHARE,
    }
    size = "n_sites"
    notation = {"n_sites": ("K", 2.0), "clusters_per_site": ("J", 1.0), "cluster_size": ("n", 1.0)}
    example = {"d": 0.27, "n_sites": 30.0, "clusters_per_site": 3.0, "cluster_size": 15.0, "icc2": 0.17,
               "icc3": 0.06, "power": 0.8, "alpha": 0.05}

    def _sse(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> np.ndarray:
        pq = v["p"] * (1.0 - v["p"])
        return np.sqrt(
            v["rho3"] * (1.0 - v["r23"]) / (pq * v["K"])
            + v["rho2"] * (1.0 - v["r22"]) / (pq * v["J"] * v["K"])
            + (1.0 - v["rho2"] - v["rho3"]) * (1.0 - v["r21"]) / (pq * v["J"] * v["K"] * v["n"])
        )

    def _df(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> np.ndarray:
        return v["K"] - v["g"] - 2.0

    def _df_text(self, opts: Mapping[str, Any]) -> str:
        return "K - g - 2"

    def _min_top(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> np.ndarray:
        return np.asarray(v["g"] + 3.0)
