"""Product-limit arithmetic on arrays: risk sets, Kaplan-Meier, Greenwood.

Shared by ``kaplan_meier``, ``logrank``, ``rmst`` and ``aalen_johansen``.
Everything is computed at the distinct observed times with ``np.unique``
and ``np.bincount``; at-risk counts with delayed entry by ``searchsorted``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["RiskTable", "risk_table", "kaplan_meier", "KMCurve", "step_at", "median_ci", "at_risk"]


@dataclass
class RiskTable:
    """Distinct times with the number at risk, events (by cause) and censored."""

    times: np.ndarray
    n_risk: np.ndarray
    d: np.ndarray  # (m, k): events of cause 1..k at each time
    censored: np.ndarray

    @property
    def d_any(self) -> np.ndarray:
        return self.d.sum(axis=1)


def risk_table(time: np.ndarray, event: np.ndarray, n_causes: int, entry: np.ndarray | None = None) -> RiskTable:
    """Risk table at the distinct times; ``event`` 0 = censored, 1..k = cause."""
    times, inv = np.unique(time, return_inverse=True)
    m = times.size
    d = np.zeros((m, max(n_causes, 1)))
    for k in range(1, n_causes + 1):
        d[:, k - 1] = np.bincount(inv, weights=(event == k), minlength=m)
    cens = np.bincount(inv, weights=(event == 0), minlength=m)
    n_exit_ge = np.bincount(inv, minlength=m)[::-1].cumsum()[::-1].astype(float)
    if entry is not None:
        # not yet entered at t: entry >= t
        n_late = entry.size - np.searchsorted(np.sort(entry), times, side="left")
        n_risk = n_exit_ge - n_late
    else:
        n_risk = n_exit_ge
    return RiskTable(times=times, n_risk=n_risk, d=d, censored=cens)


def at_risk(time: np.ndarray, at: np.ndarray, entry: np.ndarray | None = None) -> np.ndarray:
    """Number at risk at each of ``at`` (time >= t, and entry < t)."""
    s = np.sort(time)
    n = time.size - np.searchsorted(s, at, side="left")
    if entry is not None:
        n = n - (entry.size - np.searchsorted(np.sort(entry), at, side="left"))
    return np.asarray(n)


@dataclass
class KMCurve:
    times: np.ndarray  # distinct event times
    surv: np.ndarray
    var: np.ndarray  # Greenwood variance of S
    n_risk: np.ndarray
    d: np.ndarray
    low: np.ndarray
    high: np.ndarray


def kaplan_meier(time: np.ndarray, event: np.ndarray, *, alpha: float = 0.05,
                 entry: np.ndarray | None = None, conf_type: str = "log-log") -> KMCurve:
    """KM estimate at the event times, Greenwood variance and a pointwise CI.

    ``S(t) = prod_{t_j <= t} (1 - d_j / n_j)``,
    ``Var S = S^2 sum d_j / (n_j (n_j - d_j))`` (Greenwood 1926). With
    ``se = sqrt(sum d/(n(n-d)))`` (the SE of log S) the interval is
    ``S^{exp(+/- q se / log S)}`` for ``conf_type="log-log"`` (Kalbfleisch &
    Prentice 2002, eq. 1.10; lifelines' default), ``S exp(+/- q se)`` capped
    at 1 for ``"log"`` (R ``survfit``'s default) and ``S (1 +/- q se)``
    within [0, 1] for ``"plain"``.
    """
    rt = risk_table(time, (event > 0).astype(int), 1, entry)
    keep = rt.d[:, 0] > 0
    t, n, d = rt.times[keep], rt.n_risk[keep], rt.d[keep, 0]
    surv = np.cumprod(1.0 - d / n)
    with np.errstate(divide="ignore", invalid="ignore"):
        gw = np.cumsum(d / (n * (n - d)))
        var = surv**2 * gw
        q = stats.norm.ppf(1 - alpha / 2)
        if conf_type == "log-log":
            se_ll = np.sqrt(gw) / np.log(surv)
            low = surv ** np.exp(-q * se_ll)
            high = surv ** np.exp(q * se_ll)
        elif conf_type == "log":
            low = surv * np.exp(-q * np.sqrt(gw))
            high = np.minimum(surv * np.exp(q * np.sqrt(gw)), 1.0)
        else:  # plain
            low = np.maximum(surv * (1 - q * np.sqrt(gw)), 0.0)
            high = np.minimum(surv * (1 + q * np.sqrt(gw)), 1.0)
    # Where S reaches 0 (n_j = d_j) the Greenwood sum is d/0: the variance and
    # the band are undefined. R survfit reports them as NA there, and so do we
    # (NaN), rather than a zero-width band at 0.
    zero = surv == 0
    low = np.where(np.isfinite(low), low, 1.0)
    high = np.where(np.isfinite(high), high, 1.0)
    low = np.where(zero, np.nan, low)
    high = np.where(zero, np.nan, high)
    var = np.where(zero, np.nan, np.nan_to_num(var, nan=0.0))
    return KMCurve(times=t, surv=surv, var=var, n_risk=n, d=d, low=low, high=high)


def step_at(times: np.ndarray, values: np.ndarray, at: np.ndarray, before: float = 1.0) -> np.ndarray:
    """Right-continuous step function through (times, values), ``before`` left of the first time."""
    idx = np.searchsorted(times, at, side="right") - 1
    vals = np.concatenate([[before], values])
    return np.asarray(vals[idx + 1])


def median_ci(curve: KMCurve) -> tuple[float, float, float]:
    """Median survival and its CI (Brookmeyer & Crowley 1982): the first times
    at which the curve, its upper and its lower band fall to 0.5 or below."""

    def first_below(vals: np.ndarray) -> float:
        # inf: not reached; NaN: the band is undefined (the curve hit 0) before it reached 0.5
        undefined = np.isnan(vals)
        hit = np.flatnonzero(~undefined & (vals <= 0.5))
        first_nan = np.flatnonzero(undefined)
        if first_nan.size and (not hit.size or first_nan[0] < hit[0]):
            return float("nan")
        return float(curve.times[hit[0]]) if hit.size else float("inf")

    return first_below(curve.surv), first_below(curve.low), first_below(curve.high)
