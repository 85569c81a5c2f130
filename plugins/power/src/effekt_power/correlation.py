"""Power, sample size and minimal detectable correlation (Fisher's z)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from effekt import DesignError
from effekt_power._core import MISSING, Calculator, normal_power, z_crit

__all__ = ["Correlation"]


class Correlation(Calculator):
    """Test of a Pearson correlation against zero: power, n, minimal detectable r, alpha.

    Formula (Fisher's z transformation; ``atanh(r_hat)`` is approximately
    ``N(atanh(r), 1/(n - 3))``)::

        power = Phi(atanh(r) sqrt(n - 3) - z) + Phi(-atanh(r) sqrt(n - 3) - z)
        minimal detectable r ~ tanh((z_{1-alpha/2} + z_{1-beta}) / sqrt(n - 3))

    Defaults and why: ``alpha=0.05`` two-sided. The solved ``r`` is positive
    unless ``alternative="less"``.

    Parameters
    ----------
    r : float or array, optional
        Correlation under the alternative, in (-1, 1).
    n : float or array, optional
        Number of pairs (units), more than 3.
    power, alpha, alternative
        As for the other calculators.

    Returns
    -------
    PowerResult

    Raises
    ------
    DesignError
        r outside (-1, 1) or zero, n <= 3, power not above alpha, nothing or
        more than one quantity left out.

    Notes
    -----
    R's ``pwr.r.test`` adds a bias term ``r / (2 (n - 1))`` and uses a t-based
    critical value, so it differs in the third digit for small n.

    References
    ----------
    Fisher (1921), Metron 1:3-32; Cohen (1988), Statistical Power Analysis,
    ch. 3.

    Examples
    --------
    >>> import effekt as ef
    >>> round(ef.power("correlation", n=88, power=0.80).value, 3)
    0.295
    """

    name = "correlation"
    example = {"r": 0.3, "n": 80.0, "power": 0.8, "alpha": 0.05}
    counts = {"n": "individuals in total"}
    solvable = ("n", "power", "r", "alpha")
    numeric = {
        "r": (MISSING, -1.0, 1.0, True, True),
        "n": (MISSING, 3.0, None, True, True),
        "power": (MISSING, 0.0, 1.0, True, True),
        "alpha": (0.05, 0.0, 1.0, True, True),
    }
    settings = {"alternative": "two-sided"}
    effect = "r"

    def _method_label(self, opts: Mapping[str, Any]) -> str:
        return "Fisher z"

    def _check(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> None:
        if "r" in v and np.any(v["r"] == 0):
            raise DesignError(
                "r = 0 means no association; no sample gives power above alpha. Give r != 0 or "
                "leave r out to solve for the detectable correlation."
            )

    def _effect_sign(self, v: Mapping[str, np.ndarray]) -> np.ndarray | None:
        return np.sign(v["r"]) if "r" in v else None

    def _power(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> np.ndarray:
        shift = np.arctanh(v["r"]) * np.sqrt(v["n"] - 3.0)
        return normal_power(shift, z_crit(v["alpha"], opts["alternative"]), opts["alternative"])

    def _bracket(
        self, unknown: str, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]
    ) -> tuple[np.ndarray, np.ndarray]:
        ones = np.ones(np.broadcast(*v.values()).shape)
        if unknown == "r":
            if opts["alternative"] == "less":
                return -(1.0 - 1e-12) * ones, -1e-12 * ones
            return 1e-12 * ones, (1.0 - 1e-12) * ones
        if unknown == "alpha":
            return 1e-12 * ones, (1.0 - 1e-12) * ones
        return (3.0 + 1e-9) * ones, 1e9 * ones

    def _curve_range(
        self, x_key: str, centre: float, point: Mapping[str, float], opts: Mapping[str, Any]
    ) -> tuple[float, float]:
        if x_key == "n":
            return max(4.0, centre / 4.0), max(centre * 2.0, 5.0)
        if x_key == "r":
            return (1e-3, min(0.999, centre * 2.0)) if centre > 0 else (max(-0.999, centre * 2.0), -1e-3)
        return super()._curve_range(x_key, centre, point, opts)
