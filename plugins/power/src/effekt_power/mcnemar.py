"""Power and sample size for McNemar's test of paired proportions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import special

from effekt import DesignError
from effekt_power._core import MISSING, Calculator, z_crit

__all__ = ["McNemar"]


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
    statistic, as in the seed notes' chi-squared of 3.50.

    Parameters
    ----------
    p10 : float or array, optional
        Leave out to solve for the detectable discordant probability (above ``p01``).
    p01 : float or array
    n : float or array, optional
        Number of pairs.
    power, alpha, alternative
        As for the other calculators; ``"larger"`` tests ``p10 > p01``.

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
    solvable = ("n", "power", "p10", "alpha")
    numeric = {
        "p10": (MISSING, 0.0, 1.0, True, True),
        "p01": (MISSING, 0.0, 1.0, True, True),
        "n": (MISSING, 0.0, None, True, True),
        "power": (MISSING, 0.0, 1.0, True, True),
        "alpha": (0.05, 0.0, 1.0, True, True),
    }
    options = {"alternative": "two-sided"}
    effect = "p10"

    def _method_label(self, opts: Mapping[str, Any]) -> str:
        return "McNemar normal approximation (Connor)"

    def _check(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> None:
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
        delta = v["p10"] - v["p01"]
        psi = v["p10"] + v["p01"]
        crit = z_crit(v["alpha"], opts["alternative"])
        sd_alt = np.sqrt(psi - delta**2)
        root_n = np.sqrt(v["n"])
        upper = special.ndtr((root_n * delta - crit * np.sqrt(psi)) / sd_alt)
        lower = special.ndtr((-root_n * delta - crit * np.sqrt(psi)) / sd_alt)
        if opts["alternative"] == "larger":
            return upper
        if opts["alternative"] == "smaller":
            return lower
        return upper + lower

    def _bracket(
        self, unknown: str, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]
    ) -> tuple[np.ndarray, np.ndarray]:
        ones = np.ones(np.broadcast(*v.values()).shape)
        if unknown == "p10":
            if opts["alternative"] == "smaller":
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
