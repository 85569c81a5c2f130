"""Power, sample size and minimal detectable effect for two means and for paired means."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import special

from effekt import DesignError
from effekt_power._core import MISSING, Calculator, nct_power, normal_power, t_crit, z_crit

__all__ = ["TwoMeans", "PairedT"]


class TwoMeans(Calculator):
    """Two independent means: power, n per arm, minimal detectable d, or alpha.

    The effect is the standardised difference ``d = (mu2 - mu1) / sigma``
    (Cohen's d), sigma the common within-arm standard deviation of the
    outcome before covariate adjustment.

    Formula::

        se = sqrt((1/n1 + 1/n2) (1 - r2))
        t test:  power = P(T' > t_crit) + P(T' < -t_crit),  T' ~ noncentral t(df, d / se),
                 df = n1 + n2 - 2 - n_covariates
        z test:  power = Phi(d/se - z) + Phi(-d/se - z)

    ``r2`` is the share of the outcome variance explained by baseline
    covariates or blocks (ANCOVA; Borm, Fransen & Lemmens 2007): it shrinks the
    residual variance to ``(1 - r2) sigma^2``; each covariate costs one degree
    of freedom.

    Defaults and why: ``method="t"`` because the analysis is a t test (or a
    regression with t inference) and the normal approximation overstates power
    in small samples; ``alpha=0.05`` two-sided; ``ratio=1``; ``r2=0``.

    Parameters
    ----------
    d : float or array, optional
        Standardised effect; leave out to solve for it (the MDE in SD units).
    n, n1, n2, ratio : float or array
        Arm sizes as for ``two_proportions``: ``n`` (= ``n1``) for arm 1,
        ``n2`` or ``ratio = n2 / n1`` (default 1) for arm 2.
    power : float or array, optional
    alpha : float or array, default 0.05 (``alpha=None`` solves for it)
    r2 : float or array, default 0
        Variance explained by covariates, in [0, 1).
    n_covariates : int, default 0
        Number of covariates behind ``r2`` (t test degrees of freedom).
    alternative : {"two-sided", "greater", "less"}, default "two-sided"
    method : {"t", "z"}, default "t"

    Returns
    -------
    PowerResult
        ``extra`` holds ``n1``, ``n2``, ``n_total`` and ``df`` (t test).

    Raises
    ------
    DesignError
        r2 outside [0, 1), too few units for the t test's degrees of freedom,
        power not above alpha, nothing or more than one quantity left out.

    Notes
    -----
    With ``r2=0`` and ``n_covariates=0`` this is statsmodels'
    ``TTestIndPower`` (``method="t"``) and ``NormalIndPower`` (``"z"``) to
    1e-6; both count both rejection regions of a two-sided test. A solved
    ``d`` is positive unless ``alternative="less"``.

    References
    ----------
    Cohen (1988), Statistical Power Analysis, 2nd ed., ch. 2. Borm, Fransen &
    Lemmens (2007), J. Clin. Epidemiol. 60(12):1234-1238,
    doi:10.1016/j.jclinepi.2007.02.006.

    Examples
    --------
    >>> import effekt as ef
    >>> round(ef.power("two_means", d=0.5, power=0.8).value, 2)
    63.77
    >>> round(ef.power("two_means", n=64, power=0.8, r2=0.5, n_covariates=1).value, 3)
    0.353
    """

    name = "two_means"
    example = {"d": 0.5, "n": 64.0, "power": 0.8, "alpha": 0.05}
    methods = ("t", "z")
    method_default = "t"
    solvable = ("n", "power", "d", "alpha")
    two_arm = True
    numeric = {
        "d": (MISSING, None, None, True, True),
        "power": (MISSING, 0.0, 1.0, True, True),
        "alpha": (0.05, 0.0, 1.0, True, True),
        "r2": (0.0, 0.0, 1.0, False, True),
        "n_covariates": (0.0, 0.0, None, False, True),
    }
    settings = {"alternative": "two-sided"}
    effect = "d"

    def _method_label(self, opts: Mapping[str, Any]) -> str:
        return "noncentral t" if opts["method"] == "t" else "normal (z)"

    def _min_size(self) -> float:
        return 1.0

    def _check(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> None:
        if "d" in v and np.any(v["d"] == 0):
            raise DesignError(
                "d = 0 means no effect; no sample size gives power above alpha. Give a non-zero "
                "effect, or leave d out to solve for the detectable one."
            )
        if opts["method"] == "t" and "n1" in v:
            n1, n2 = self._sizes(self._broadcast(v))
            df = n1 + n2 - 2 - v["n_covariates"]
            if np.any(df <= 0):
                raise DesignError(
                    "the t test needs n1 + n2 - 2 - n_covariates > 0 degrees of freedom; got "
                    f"n1 + n2 = {np.min(n1 + n2):g} with n_covariates = {np.max(v['n_covariates']):g}. "
                    "Add units or use method='z'."
                )

    def _df(self, v: Mapping[str, np.ndarray]) -> np.ndarray:
        n1, n2 = self._sizes(v)
        return n1 + n2 - 2.0 - v["n_covariates"]

    def _effect_sign(self, v: Mapping[str, np.ndarray]) -> np.ndarray | None:
        return np.sign(v["d"]) if "d" in v else None

    def _power(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> np.ndarray:
        n1, n2 = self._sizes(v)
        se = np.sqrt((1.0 / n1 + 1.0 / n2) * (1.0 - v["r2"]))
        ncp = v["d"] / se
        if opts["method"] == "z":
            return normal_power(ncp, z_crit(v["alpha"], opts["alternative"]), opts["alternative"])
        df = self._df(v)
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
        # smallest n1 with a positive df: n1 (1 + ratio) > 2 + covariates
        if opts["method"] == "t":
            # at least one degree of freedom (the noncentral t is unreliable below)
            if "n2" in v:
                low = np.maximum(1.0, 3.0 + v["n_covariates"] - v["n2"])
            else:
                low = (3.0 + v["n_covariates"]) / (1.0 + v["ratio"])
        else:
            low = 1e-6
        return low * ones, 1e9 * ones

    def _initial_bracket(
        self, unknown: str, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]
    ) -> tuple[np.ndarray, np.ndarray] | None:
        # the one-tailed normal approximation plus Guenther's (1981) t correction,
        # n1 = k (z_a + z_b)^2 / d^2 + z_a^2 / 4, good to about one unit
        if unknown not in ("n", "d") or "n2" in v:
            return None
        za = z_crit(v["alpha"], opts["alternative"])
        zsum = za - special.ndtri(1.0 - v["power"])
        k = (1.0 + 1.0 / v["ratio"]) * (1.0 - v["r2"])
        if unknown == "n":
            n_z = k * (zsum / v["d"]) ** 2
            if opts["method"] == "z":
                return 0.98 * n_z, 1.02 * n_z + 1e-6
            n_t = n_z + za**2 / 4.0 + v["n_covariates"] / 2.0
            return n_t - 1.5 - 0.01 * n_t, n_t + 1.5 + 0.01 * n_t
        d_z = zsum * np.sqrt(k / v["n1"])
        if opts["alternative"] == "less":
            return -1.5 * d_z, -0.9 * d_z
        return 0.9 * d_z, 1.5 * d_z

    def _extra(self, unknown: str, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> dict[str, Any]:
        if opts["method"] != "t":
            return {}
        df = self._df(self._broadcast(v))
        return {"df": df if df.ndim else float(df)}

    def _curve_range(
        self, x_key: str, centre: float, point: Mapping[str, float], opts: Mapping[str, Any]
    ) -> tuple[float, float]:
        lo, hi = super()._curve_range(x_key, centre, point, opts)
        if x_key == "n1" and opts["method"] == "t":
            lo = max(lo, 3.0 + float(point["n_covariates"]))
            hi = max(hi, lo + 1.0)
        return lo, hi


class PairedT(Calculator):
    """Paired t test (or one-sample t test): power, pairs, minimal detectable d, alpha.

    The effect ``d`` is the mean within-pair difference divided by the
    standard deviation of the differences (Cohen's d_z). For outcomes with
    SD sigma in both periods and correlation rho, ``d = delta / (sigma
    sqrt(2 (1 - rho)))``.

    Formula::

        power = P(T' > t_crit) + P(T' < -t_crit),  T' ~ noncentral t(n - 1, d sqrt(n))

    Defaults and why: ``alpha=0.05`` two-sided, ``method="t"`` (the test that
    will be run); ``method="z"`` gives the large-sample normal version.

    Parameters
    ----------
    d : float or array, optional
    n : float or array, optional
        Number of pairs.
    power, alpha, alternative, method
        As in ``two_means``.

    Returns
    -------
    PowerResult

    Raises
    ------
    DesignError
        n < 2, d = 0, power not above alpha, nothing or more than one quantity
        left out.

    Notes
    -----
    Agrees with statsmodels' ``TTestPower`` to 1e-6.

    References
    ----------
    Cohen (1988), Statistical Power Analysis, 2nd ed., section 2.3.5.

    Examples
    --------
    >>> import effekt as ef
    >>> round(ef.power("paired_t", d=0.5, power=0.8).value, 2)
    33.37
    """

    name = "paired_t"
    example = {"d": 0.4, "n": 40.0, "power": 0.8, "alpha": 0.05}
    counts = {"n": "pairs"}
    methods = ("t", "z")
    method_default = "t"
    solvable = ("n", "power", "d", "alpha")
    numeric = {
        "n": (MISSING, 1.0, None, True, True),
        "d": (MISSING, None, None, True, True),
        "power": (MISSING, 0.0, 1.0, True, True),
        "alpha": (0.05, 0.0, 1.0, True, True),
    }
    settings = {"alternative": "two-sided"}
    effect = "d"

    def _method_label(self, opts: Mapping[str, Any]) -> str:
        return "paired noncentral t" if opts["method"] == "t" else "paired normal (z)"

    def _check(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> None:
        if "d" in v and np.any(v["d"] == 0):
            raise DesignError(
                "d = 0 means no effect; no number of pairs gives power above alpha. Give a "
                "non-zero effect, or leave d out to solve for it."
            )

    def _effect_sign(self, v: Mapping[str, np.ndarray]) -> np.ndarray | None:
        return np.sign(v["d"]) if "d" in v else None

    def _power(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> np.ndarray:
        ncp = v["d"] * np.sqrt(v["n"])
        if opts["method"] == "z":
            return normal_power(ncp, z_crit(v["alpha"], opts["alternative"]), opts["alternative"])
        df = v["n"] - 1.0
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
        return (2.0 if opts["method"] == "t" else 1e-6) * ones, 1e9 * ones

    def _curve_range(
        self, x_key: str, centre: float, point: Mapping[str, float], opts: Mapping[str, Any]
    ) -> tuple[float, float]:
        lo, hi = super()._curve_range(x_key, centre, point, opts)
        return (max(lo, 2.0), max(hi, 3.0)) if x_key == "n" else (lo, hi)
