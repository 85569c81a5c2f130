"""Mantel-Haenszel estimates and the Cochran-Mantel-Haenszel test over blocks.

A block-randomised trial (seed 004's fortnightly lotteries) is a stack of
2 x 2 tables, one per block. The arrays below hold, per block ``k``:
``a`` treated events, ``n1`` treated units, ``c`` control events, ``n0``
control units, ``N = n1 + n0``. Every block has both arms (checked on
input), so ``n1, n0 >= 1``.

Why not statsmodels: its ``StratifiedTable`` has the pooled odds ratio
with the Robins-Breslow-Greenland variance and the CMH test (both used as
oracles in the tests), but no Mantel-Haenszel risk difference and no
interval for the pooled risk ratio.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from effekt.errors import EstimationError

__all__ = ["mh_risk_difference", "mh_risk_ratio", "mh_odds_ratio", "cmh_test", "split_strata"]


def split_strata(strata: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(a, n1, c, n0)`` as float arrays from ``strata[k, arm, (event, no event)]``."""
    s = np.asarray(strata, dtype=float)
    a, c = s[:, 0, 0], s[:, 1, 0]
    return a, s[:, 0].sum(axis=1), c, s[:, 1].sum(axis=1)


def mh_risk_difference(a: np.ndarray, n1: np.ndarray, c: np.ndarray, n0: np.ndarray) -> tuple[float, float]:
    """Mantel-Haenszel risk difference and Sato's (1989) variance.

    ``d = sum w_k (a_k/n1_k - c_k/n0_k) / sum w_k``, ``w_k = n1_k n0_k / N_k``;
    ``Var = (d sum P_k + sum Q_k) / (sum w_k)^2`` with
    ``P_k = (n1_k^2 c_k - n0_k^2 a_k + n1_k n0_k (n0_k - n1_k) / 2) / N_k^2``,
    ``Q_k = (a_k (n0_k - c_k) + c_k (n1_k - a_k)) / (2 N_k)``: consistent
    both for many small blocks and for few large ones.
    """
    big_n = n1 + n0
    w = n1 * n0 / big_n
    d = float(np.sum(w * (a / n1 - c / n0)) / np.sum(w))
    p = (n1**2 * c - n0**2 * a + n1 * n0 * (n0 - n1) / 2.0) / big_n**2
    q = (a * (n0 - c) + c * (n1 - a)) / (2.0 * big_n)
    var = float((d * np.sum(p) + np.sum(q)) / np.sum(w) ** 2)
    return d, max(var, 0.0)


def mh_risk_ratio(a: np.ndarray, n1: np.ndarray, c: np.ndarray, n0: np.ndarray) -> tuple[float, float]:
    """Mantel-Haenszel risk ratio and Greenland & Robins' (1985) variance of its log.

    ``RR = sum(a_k n0_k / N_k) / sum(c_k n1_k / N_k)``;
    ``Var(log RR) = sum (n1_k n0_k (a_k + c_k) - a_k c_k N_k) / N_k^2
    / (sum(a_k n0_k / N_k) sum(c_k n1_k / N_k))``.
    """
    big_n = n1 + n0
    r = float(np.sum(a * n0 / big_n))
    s = float(np.sum(c * n1 / big_n))
    if r == 0.0 or s == 0.0:
        arm = "treated" if r == 0.0 else "control"
        raise EstimationError(
            f"risk_ratio: the {arm} arm has no event in any block, so the Mantel-Haenszel risk "
            "ratio is 0 or infinite. Report the risk difference instead."
        )
    var = float(np.sum((n1 * n0 * (a + c) - a * c * big_n) / big_n**2) / (r * s))
    return r / s, var


def mh_odds_ratio(a: np.ndarray, n1: np.ndarray, c: np.ndarray, n0: np.ndarray) -> tuple[float, float]:
    """Mantel-Haenszel odds ratio and the Robins-Breslow-Greenland (1986)
    variance of its log.

    With ``b = n1 - a``, ``d = n0 - c``, ``R_k = a_k d_k / N_k``,
    ``S_k = b_k c_k / N_k``, ``P_k = (a_k + d_k) / N_k``,
    ``Q_k = (b_k + c_k) / N_k``: ``OR = sum R / sum S`` and
    ``Var(log OR) = sum PR / (2 (sum R)^2) + sum (PS + QR) / (2 sum R sum S)
    + sum QS / (2 (sum S)^2)``.
    """
    b, d = n1 - a, n0 - c
    big_n = n1 + n0
    r, s = a * d / big_n, b * c / big_n
    sr, ss = float(r.sum()), float(s.sum())
    if sr == 0.0 or ss == 0.0:
        raise EstimationError(
            "odds_ratio: the Mantel-Haenszel odds ratio is 0 or infinite here (no block has both "
            "a treated event and a control non-event, or the reverse). Report the risk difference instead."
        )
    p, q = (a + d) / big_n, (b + c) / big_n
    var = float(
        np.sum(p * r) / (2 * sr**2) + np.sum(p * s + q * r) / (2 * sr * ss) + np.sum(q * s) / (2 * ss**2)
    )
    return sr / ss, var


def cmh_test(
    a: np.ndarray, n1: np.ndarray, c: np.ndarray, n0: np.ndarray, *, correction: bool = False
) -> tuple[float, float]:
    """Cochran-Mantel-Haenszel chi-squared (1 df) of no association within blocks.

    ``X2 = (|sum (a_k - E_k)| - k)^2 / sum V_k``, ``E_k = n1_k m1_k / N_k``,
    ``V_k = n1_k n0_k m1_k m0_k / (N_k^2 (N_k - 1))`` with ``m1_k = a_k + c_k``
    the events and ``m0_k`` the non-events of block ``k``; ``k = 0.5`` with
    ``correction=True``. Blocks of one unit carry no information and add 0.
    """
    big_n = n1 + n0
    m1 = a + c
    m0 = big_n - m1
    informative = big_n > 1
    expected = n1 * m1 / big_n
    var = np.where(informative, n1 * n0 * m1 * m0 / (big_n**2 * np.maximum(big_n - 1, 1)), 0.0)
    total_var = float(var.sum())
    if total_var == 0.0:
        raise EstimationError(
            "chi2: no block has both events and non-events, so the Cochran-Mantel-Haenszel test has "
            "nothing to compare. Check the outcome coding."
        )
    diff = abs(float(np.sum(a - expected)))
    statistic = max(diff - (0.5 if correction else 0.0), 0.0) ** 2 / total_var
    return statistic, float(stats.chi2.sf(statistic, 1))


def _z(alpha: float) -> float:
    return float(stats.norm.isf(alpha / 2.0))


def wald_interval(est: float, se: float, alpha: float, *, log: bool = False) -> tuple[float, float]:
    """``est +/- z se`` (or ``exp(log est +/- z se)`` with ``log=True``)."""
    z = _z(alpha)
    if log:
        return math.exp(math.log(est) - z * se), math.exp(math.log(est) + z * se)
    return est - z * se, est + z * se
