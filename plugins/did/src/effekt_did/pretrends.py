"""Power of pre-trend tests against a linear violation of parallel trends (Roth 2022).

A passed pre-trend test is worth what the test could have detected. For an
event study's coefficients ``b`` with covariance ``V``, and a hypothesised
violation ``delta_e = slope * (e - reference)`` (a linear trend in event
time, 0 in the reference period), this module computes

* the power of the joint Wald test of all leads = 0 (the ``pretrend_test``
  every effekt event study reports): ``F = b' V^{-1} b / q`` is noncentral
  F(q, df2) with noncentrality ``lambda = delta' V^{-1} delta`` (chi-squared
  with ``df2=None``), so the power and the slope that gives a target power
  are closed-form up to one root of a monotone function;
* the power of "some lead is individually significant" (R pretrends'
  ``rejectionProbability_NIS``): one minus the normal probability of the
  rectangle ``|b_e| <= z * se_e`` for every lead, under the mean ``delta``;
* the slope for which each test has a target power (R pretrends'
  ``slope_for_power``, which uses the second test).

The rectangle probability is scipy's ``multivariate_normal.cdf`` (Genz's
quasi-Monte Carlo integration) with a fixed generator, ``abseps=1e-5``:
the same inputs give the same figures, accurate to about 1e-5 in
probability (exact normal arithmetic for one lead); a tighter tolerance
costs ten times as long in eight dimensions and moved the He & Wang figures
by 2e-5. The slope solved from it inherits that error divided by the slope
of the power curve, about 1e-4 relative on the He & Wang example. R
pretrends uses mvtnorm's ``pmvnorm`` (absolute accuracy 1e-3 by default),
so agreement with its printed figures is to 3-4 digits.

References
----------
Roth, J. (2022). Pretest with caution: event-study estimates after testing for parallel
trends. American Economic Review: Insights 4(3), 305-322. doi:10.1257/aeri.20210236
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from effekt.errors import DataError, DesignError
from effekt.result import FrozenDict, to_jsonable

__all__ = ["PretrendPower", "pretrend_power", "slope_for_power", "power_against_slope", "event_coefficients"]

_TESTS = ("joint", "individual")


def event_coefficients(result: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float | None]:
    """The event-time coefficients, covariance, event times, reference and df2 a result carries.

    effekt's event studies (``event_study``, ``sun_abraham``, ``imputation``)
    store them in ``extra["event_coefficients"]``.
    """
    extra = getattr(result, "extra", None)
    info = extra.get("event_coefficients") if extra is not None else None
    if info is None:
        raise DesignError(
            "pretrend_power needs an event-study result carrying extra['event_coefficients'] (effekt's "
            "event_study, sun_abraham or imputation), or beta=, sigma= and event_times= passed directly."
        )
    return (np.asarray(info["beta"], float), np.asarray(info["vcov"], float),
            np.asarray(info["event_times"], float), float(info["reference"]), info.get("df2"))


def _check(sigma: Any, event_times: Any, beta: Any, reference: float) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    V = np.atleast_2d(np.asarray(sigma, dtype=float))
    t = np.atleast_1d(np.asarray(event_times, dtype=float))
    if V.shape[0] != V.shape[1] or not np.allclose(V, V.T, rtol=1e-8, atol=1e-12 * max(np.abs(V).max(), 1e-300)):
        raise DataError(f"sigma must be a symmetric covariance matrix; got shape {V.shape}.")
    if t.size != V.shape[0]:
        raise DataError(f"event_times has {t.size} entries but sigma is {V.shape[0]} x {V.shape[0]}; give one event "
                        "time per coefficient.")
    if not (np.all(np.isfinite(V)) and np.all(np.isfinite(t))):
        raise DataError("sigma and event_times must be finite numbers.")
    b = None
    if beta is not None:
        b = np.atleast_1d(np.asarray(beta, dtype=float))
        if b.size != t.size or not np.all(np.isfinite(b)):
            raise DataError(f"beta must hold {t.size} finite coefficients, one per event time; got {b.size}.")
    pre = t < reference
    if not pre.any():
        raise DesignError(f"no coefficient lies before the reference period {reference:g} (event times "
                          f"{t.tolist()}): there is no pre-trend test whose power could be computed.")
    Vp = V[np.ix_(pre, pre)]
    if np.any(np.diag(Vp) <= 0) or np.linalg.eigvalsh(Vp).min() <= 1e-14 * np.diag(Vp).max():
        raise DataError("the covariance of the pre-treatment coefficients is not positive definite.")
    return V, t, b


def _rectangle(mean: np.ndarray, cov: np.ndarray, half: np.ndarray) -> float:
    """P(|X_j| <= half_j for all j), X ~ N(mean, cov)."""
    if mean.size == 1:
        s = float(np.sqrt(cov[0, 0]))
        return float(stats.norm.cdf((half[0] - mean[0]) / s) - stats.norm.cdf((-half[0] - mean[0]) / s))
    p = stats.multivariate_normal.cdf(half, mean=mean, cov=cov, lower_limit=-half, abseps=1e-5, releps=1e-5,
                                      rng=np.random.default_rng(20220901))
    return float(min(max(p, 0.0), 1.0))


class _Pre:
    """The pre-treatment block and both tests' power as functions of the slope."""

    def __init__(self, V: np.ndarray, t: np.ndarray, reference: float, alpha: float, df2: float | None) -> None:
        pre = t < reference
        self.t = t[pre]
        self.V = V[np.ix_(pre, pre)]
        self.d = self.t - reference  # the trend per unit slope
        self.q = int(pre.sum())
        self.df2 = df2
        self.alpha = alpha
        self.z = float(stats.norm.ppf(1 - alpha / 2))
        self.half = self.z * np.sqrt(np.diag(self.V))
        self.info = float(self.d @ np.linalg.solve(self.V, self.d))  # lambda per slope^2
        if df2 is None:
            self.crit = float(stats.chi2.ppf(1 - alpha, self.q))
        else:
            self.crit = float(stats.f.ppf(1 - alpha, self.q, df2))

    def joint_power_lambda(self, lam: float) -> float:
        if self.df2 is None:
            return float(stats.ncx2.sf(self.crit, self.q, lam)) if lam > 0 else self.alpha
        return float(stats.ncf.sf(self.crit, self.q, self.df2, lam)) if lam > 0 else self.alpha

    def power(self, test: str, slope: float) -> float:
        if test == "joint":
            return self.joint_power_lambda(slope**2 * self.info)
        return 1.0 - _rectangle(slope * self.d, self.V, self.half)

    def slope(self, test: str, target: float) -> float:
        size = self.power(test, 0.0)
        if not size < target < 1:
            raise DesignError(f"power= must lie between the test's size ({size:.3g}, set by alpha) and 1; got "
                              f"{target}.")
        if test == "joint":
            hi = 1.0
            while self.joint_power_lambda(hi) < target:
                hi *= 2
            lam = optimize.brentq(lambda x: self.joint_power_lambda(x) - target, 0.0, hi, xtol=1e-12, rtol=1e-12)
            return float(np.sqrt(lam / self.info))
        # R pretrends searches [0, 8 max se]; widen if the target lies beyond
        hi = 8.0 * float(np.sqrt(np.diag(self.V)).max()) / max(float(np.abs(self.d).min()), 1.0)
        while self.power(test, hi) < target:
            hi *= 2
        return float(optimize.brentq(lambda s: self.power(test, s) - target, 0.0, hi, xtol=1e-10, rtol=1e-7))


@dataclass(frozen=True, repr=False)
class PretrendPower:
    """Power of the pre-trend tests against linear trends, and the slopes that reach given powers.

    ``rows`` is one record per (test, target): ``test`` ("joint": the
    Wald/F test of all leads = 0; "individual": some lead significant at
    ``alpha``), ``power`` and the ``slope`` that gives it. With ``slope=``
    the power against that slope is a row too (``target`` None), with,
    when the coefficients were given, R pretrends' Bayes factor (probability
    of passing the test under the trend over that under parallel trends) and
    likelihood ratio of the observed leads.
    """

    rows: tuple[Any, ...]
    extra: Any = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rows", tuple(FrozenDict(r) for r in self.rows))
        object.__setattr__(self, "extra", FrozenDict(self.extra))

    def tidy(self) -> pd.DataFrame:
        return pd.DataFrame([dict(r) for r in self.rows])

    def slope_for(self, power: float = 0.5, test: str = "individual") -> float:
        """The slope at which ``test`` has power ``power`` (one of the targets computed)."""
        for r in self.rows:
            if r["test"] == test and r["target"] is not None and abs(r["target"] - power) < 1e-12:
                return float(r["slope"])
        raise KeyError(f"no {test!r} row for power {power}; the targets computed are "
                       f"{sorted({r['target'] for r in self.rows if r['target'] is not None})}.")

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable({"rows": [dict(r) for r in self.rows], "extra": self.extra})  # type: ignore[no-any-return]

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def summary(self) -> str:
        lines = [f"pre-trend power against linear trends (Roth 2022), {self.extra['n_leads']} lead(s), "
                 f"alpha = {self.extra['alpha']:g}"]
        for r in self.rows:
            name = "joint Wald test" if r["test"] == "joint" else "any lead significant"
            if r["target"] is not None:
                lines.append(f"  {name}: {100 * r['target']:.0f}% power at slope {r['slope']:.4g} per period")
            else:
                lines.append(f"  {name}: power {r['power']:.3f} against slope {r['slope']:.4g}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()


def pretrend_power(
    result: Any = None,
    *,
    beta: Any = None,
    sigma: Any = None,
    event_times: Any = None,
    reference: float | None = None,
    slope: float | None = None,
    power: Sequence[float] = (0.5, 0.8),
    alpha: float = 0.05,
    df2: float | None = None,
) -> PretrendPower:
    """Power of the pre-trend tests of an event study against linear violations of parallel trends.

    Pass an effekt event-study result, or ``sigma`` (the coefficients'
    covariance), ``event_times`` and ``reference`` (the normalised period;
    default -1 for effekt's results, as R pretrends' ``referencePeriod``
    otherwise 0) with optional ``beta``. Leads are the coefficients with
    event time below ``reference``; the hypothesised trend is
    ``slope * (e - reference)``. ``df2`` is the denominator degrees of
    freedom of the joint F test (``G - 1`` for effekt's clustered event
    studies; None: chi-squared). Returns a :class:`PretrendPower`.

    Examples
    --------
    >>> import numpy as np
    >>> pp = pretrend_power(sigma=np.diag([0.01, 0.01]), event_times=[-3, -2], reference=-1)
    >>> round(pp.slope_for(0.5, "joint"), 4) > 0
    True
    """
    if result is not None:
        beta_r, V, t, ref, df2_r = event_coefficients(result)
        beta = beta_r if beta is None else beta
        reference = ref if reference is None else reference
        df2 = df2_r if df2 is None else df2
        sigma, event_times = V, t
    if sigma is None or event_times is None:
        raise DesignError("pretrend_power needs an event-study result, or sigma= and event_times=.")
    reference = 0.0 if reference is None else float(reference)
    if not 0 < alpha < 1:
        raise DesignError(f"alpha={alpha!r} must lie in (0, 1).")
    V, t, b = _check(sigma, event_times, beta, reference)
    pre = _Pre(V, t, reference, alpha, df2)
    targets = [float(p) for p in np.atleast_1d(power)]
    rows: list[dict[str, Any]] = []
    for test in _TESTS:
        for p in targets:
            rows.append({"test": test, "target": p, "power": p, "slope": pre.slope(test, p)})
    if slope is not None:
        for test in _TESTS:
            row: dict[str, Any] = {"test": test, "target": None, "slope": float(slope),
                                   "power": pre.power(test, float(slope))}
            if test == "individual":
                pass_alt = 1.0 - row["power"]
                pass_null = 1.0 - pre.power(test, 0.0)
                row["bayes_factor"] = pass_alt / pass_null
                if b is not None:
                    bp = b[t < reference]
                    mvn_alt = stats.multivariate_normal(mean=float(slope) * pre.d, cov=pre.V)
                    mvn_null = stats.multivariate_normal(mean=np.zeros(pre.q), cov=pre.V)
                    row["likelihood_ratio"] = float(np.exp(mvn_alt.logpdf(bp) - mvn_null.logpdf(bp)))
            rows.append(row)
    extra = {"n_leads": pre.q, "leads": pre.t.tolist(), "reference": reference, "alpha": alpha, "df2": df2,
             "method": "joint: noncentral F (chi-squared without df2); individual: normal rectangle probability "
                       "(scipy multivariate_normal.cdf, fixed generator)"}
    return PretrendPower(rows=tuple(rows), extra=extra)


def slope_for_power(sigma: Any, event_times: Sequence[float], *, power: float = 0.5, reference: float = 0.0,
                    alpha: float = 0.05, test: str = "individual", df2: float | None = None) -> float:
    """The linear-trend slope a pre-trend test detects with probability ``power`` (R pretrends' name).

    ``test="individual"`` (R pretrends' test: some lead significant) or
    ``"joint"`` (the Wald test).
    """
    if test not in _TESTS:
        raise DesignError(f"test={test!r}: choose 'individual' or 'joint'.")
    V, t, _ = _check(sigma, event_times, None, float(reference))
    return _Pre(V, t, float(reference), alpha, df2).slope(test, float(power))


def power_against_slope(sigma: Any, event_times: Sequence[float], slope: float, *, reference: float = 0.0,
                        alpha: float = 0.05, test: str = "individual", df2: float | None = None) -> float:
    """The power of a pre-trend test against the trend ``slope * (e - reference)``."""
    if test not in _TESTS:
        raise DesignError(f"test={test!r}: choose 'individual' or 'joint'.")
    V, t, _ = _check(sigma, event_times, None, float(reference))
    return _Pre(V, t, float(reference), alpha, df2).power(test, float(slope))


def summary_power(vcov: np.ndarray, event_times: Sequence[float], reference: float, df2: float | None,
                  alpha: float = 0.05) -> dict[str, Any] | None:
    """The slopes at which the joint pre-trend test has 50% and 80% power, for a result's ``extra``.

    Closed form (noncentral F), so every event study reports it at no cost;
    the rectangle-probability figures of the "any lead significant" test
    come from :func:`pretrend_power`. None without leads.
    """
    t = np.asarray(event_times, dtype=float)
    if not np.any(t < reference):
        return None
    try:
        V, t, _ = _check(vcov, t, None, reference)
    except (DataError, DesignError):
        return None
    pre = _Pre(V, t, reference, alpha, df2)
    return {"slope_50": pre.slope("joint", 0.5), "slope_80": pre.slope("joint", 0.8), "test": "joint",
            "n_leads": pre.q, "reference": reference, "alpha": alpha, "df2": df2,
            "trend": "slope * (event_time - reference)"}
