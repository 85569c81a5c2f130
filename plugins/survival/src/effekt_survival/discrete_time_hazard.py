"""Discrete-time hazard models (complementary log-log or logit) on person-period data."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import special, stats

from effekt.errors import DataError, EstimationError
from effekt.protocol import EstimatorTags, Synthetic
from effekt.result import EffectResult, check_alpha
from effekt.vocabulary import validated
from effekt_survival._data import check_survival, design_of, rate_wording

__all__ = ["DiscreteTimeHazard", "person_period", "simulate_weekly"]


#: the largest person-period expansion and number of periods fitted (memory)
MAX_PERSON_PERIODS = 20_000_000
MAX_PERIODS = 100_000


def person_period(time: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expand whole-period survival data to one row per person and period at risk.

    Person ``i`` with ``time = T_i`` contributes periods ``1..T_i``; the
    outcome is 1 in period ``T_i`` if the person had the event then.
    Returns ``(row_of_person, period, y)``; vectorised with ``np.repeat``.
    """
    T = time.astype(np.int64)
    rows = np.repeat(np.arange(T.size), T)
    ends = np.cumsum(T)
    period = np.arange(ends[-1] if T.size else 0) - np.repeat(ends - T, T) + 1
    y = np.zeros(rows.size)
    last = ends - 1
    y[last[T > 0]] = (event[T > 0] > 0).astype(float)
    return rows, period, y


def simulate_weekly(rng: np.random.Generator, *, n: int, log_hr: float, weeks: int = 30,
                    n_blocks: int = 3) -> pd.DataFrame:
    """Grouped-time proportional hazards: weekly hazard ``1 - exp(-h_t exp(b z + block))``."""
    z = rng.permutation(np.arange(n) % 2)
    block = np.arange(n) % n_blocks
    cont = 0.04 * (1 + 0.5 * np.sin(np.arange(1, weeks + 1) / 4))  # baseline hazard per week
    lp = log_hr * z + np.linspace(-0.3, 0.3, n_blocks)[block]
    p = 1 - np.exp(-np.outer(np.exp(lp), cont))  # (n, weeks)
    hit = rng.random((n, weeks)) < p
    first = np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, weeks)
    event = hit.any(axis=1).astype(int)
    cens = rng.integers(5, weeks + 1, n)
    time = np.minimum(first, cens)
    event = np.where(first <= cens, event, 0)
    return pd.DataFrame({"week": time, "event": event, "z": z, "block": block})


def _mean(eta: np.ndarray, link: str) -> tuple[np.ndarray, np.ndarray]:
    """Mean and its derivative with respect to eta."""
    if link == "logit":
        mu = special.expit(eta)
        return np.clip(mu, 1e-12, 1 - 1e-12), mu * (1 - mu)
    e = np.exp(np.clip(eta, -30, 3.5))
    return np.clip(-np.expm1(-e), 1e-12, 1 - 1e-12), e * np.exp(-e)


def _deviance(y: np.ndarray, mu: np.ndarray) -> float:
    return -2.0 * float(np.sum(y * np.log(mu) + (1 - y) * np.log1p(-mu)))


def _irls(X: np.ndarray, y: np.ndarray, link: str, max_iter: int = 100, tol: float = 1e-11) -> tuple[np.ndarray, np.ndarray]:
    """Binomial GLM by Fisher scoring with step halving; returns (beta, expected information)."""
    rate = min(max(float(y.mean()), 1e-4), 0.5)
    eta = np.full(y.size, math.log(-math.log(1 - rate)) if link == "cloglog" else math.log(rate / (1 - rate)))
    beta: np.ndarray | None = None
    mu, dmu = _mean(eta, link)
    dev = _deviance(y, mu)
    for _ in range(max_iter):
        w = dmu**2 / (mu * (1 - mu))
        zwork = eta + (y - mu) / dmu
        info = (X * w[:, None]).T @ X
        try:
            cand = np.linalg.solve(info, (X * w[:, None]).T @ zwork)
        except np.linalg.LinAlgError:
            raise EstimationError(
                "discrete_time_hazard: the design is singular; a covariate is constant or collinear with "
                "the period or block effects."
            ) from None
        step = 1.0
        for _ in range(40):
            new = cand if beta is None else beta + step * (cand - beta)
            eta_new = X @ new
            mu_new, dmu_new = _mean(eta_new, link)
            dev_new = _deviance(y, mu_new)
            if dev_new <= dev + 1e-12 * abs(dev) or beta is None:
                break
            step /= 2.0
        converged = abs(dev - dev_new) < tol * (abs(dev_new) + 0.1)
        beta, eta, mu, dmu, dev = new, eta_new, mu_new, dmu_new, dev_new
        if converged:
            break
    else:
        raise EstimationError("discrete_time_hazard: Fisher scoring did not converge in 100 iterations.")
    w = dmu**2 / (mu * (1 - mu))
    return beta, (X * w[:, None]).T @ X


class DiscreteTimeHazard:
    """Discrete-time hazard model on person-period data; the treatment's hazard (or odds) ratio.

    Estimand: with ``link="cloglog"`` the hazard ratio of the grouped-time
    proportional-hazards model - the same HR as a Cox model when the
    underlying time is continuous but recorded in weeks; with
    ``link="logit"`` the odds ratio of the weekly hazard.

    Formula: each person contributes one row per week at risk,
    ``y_it = 1`` in the week of the event;
    ``g(P(y_it = 1)) = alpha_t + beta z_i + gamma_b(i) + x_i' delta`` with
    ``g`` the complementary log-log ``log(-log(1 - p))`` or logit link, one
    ``alpha_t`` per week (unrestricted baseline) and blocks as fixed effects;
    maximum likelihood by Fisher scoring, SEs from the expected information.

    Defaults and why: ``link="cloglog"`` because it estimates the HR that
    ``cox`` estimates and the trial reports; one parameter per week, the
    discrete analogue of Cox's unrestricted baseline. Weeks with no events
    (or in which everyone at risk has the event) and blocks with no events
    are dropped: their parameters are infinite and their rows carry no
    information on ``beta`` (the limit of the likelihood).

    Parameters
    ----------
    data : DataFrame
        One row per person, as for the other survival estimators.
    time : str
        Whole periods (weeks) from the origin to the event or censoring, >= 1.
    event : str
        Event column: 0 (or the ``censored=`` label) = censored, other values
        (codes or labels) = causes of exit.
    treatment : str
        Assigned arm: 0/1, or two labels declared with ``arms=``.
    arms : tuple, default=None
        ``(control, treated)`` labels of a text or categorical treatment.
    censored : value, default=None
        The event column's value meaning censored (None: 0 or False).
    blocks : str, default=None
        Fixed effects.
    strata : str, default=None
        The same as ``blocks`` (pass one of them).
    covariates : list of str, default=None
        Adjustment covariates; text or categorical ones become indicators
        (first level the reference, ``extra["reference_levels"]``).
    link : {"cloglog", "logit"}, default="cloglog"
        The hazard ratio (cloglog) or the odds ratio of the weekly hazard.
    cause : value, default=None
        The cause of exit counted (others censored); None counts every exit.
    alpha : float, default=0.05
        1 - confidence level.
    missing : {"error", "drop"}, default="error"
        Refuse or drop rows with missing values.

    Returns
    -------
    EffectResult
        ``estimate`` the HR (cloglog) or OR (logit), ``ci_method="wald-log"``;
        ``extra``: ``person_periods``, ``dropped_periods``, ``coefficients``.

    Raises
    ------
    DataError
        Times that are not whole periods >= 1.

    References
    ----------
    Prentice & Gloeckler (1978), Biometrics 34:57, doi:10.2307/2529588;
    Allison (1982), Sociol Methodol 13:61, doi:10.2307/270718; Singer &
    Willett (2003), Applied Longitudinal Data Analysis, ch. 11-12.

    Examples
    --------
    >>> import numpy as np, effekt as ef
    >>> df = simulate_weekly(np.random.default_rng(3), n=600, log_hr=np.log(1.74))
    >>> res = ef.estimate("discrete_time_hazard", data=df, time="week", event="event", treatment="z",
    ...                   blocks="block")
    >>> round(res.estimate, 2), res.extra["link"]
    (1.56, 'cloglog')
    """

    name: ClassVar[str] = "discrete_time_hazard"
    estimand: ClassVar[str] = "hazard_ratio"
    kind: ClassVar[str] = "survival"
    tags: ClassVar[EstimatorTags] = EstimatorTags(
        outcome="survival", supports_blocks=True, supports_covariates=True, shift_equivariant=False,
        scale_equivariant=False, sign_flip=False,
    )

    @classmethod
    def simulate(cls, rng: np.random.Generator, *, n: int, effect: float) -> Synthetic:
        """Grouped-time PH data in 3 blocks; ``effect`` is the true log HR, truth = exp(effect)."""
        df = simulate_weekly(rng, n=n, log_hr=effect)
        return Synthetic(data=df, spec={"time": "week", "event": "event", "treatment": "z", "blocks": "block"},
                         truth=math.exp(effect), outcome="week", treatment="z")

    @validated
    def fit(self, data: Any, *, time: str, event: str, treatment: str, arms: tuple[Any, Any] | None = None,
            censored: Any = None, blocks: str | None = None, strata: str | None = None,
            covariates: Sequence[str] | str | None = None, link: str = "cloglog", cause: Any = None,
            alpha: float = 0.05, missing: str = "error") -> EffectResult:
        alpha = check_alpha(alpha)
        sc = check_survival(data, time=time, event=event, treatment=treatment, arms=arms, censored=censored,
                            strata=strata, blocks=blocks, covariates=covariates, missing=missing,
                            estimator=self.name, strata_need_both_arms=True,
                            one_arm_strata="warn" if covariates else "error")
        code = sc.code_of(cause, estimator=self.name)
        ev = sc.indicator(code)
        extra: dict[str, Any] = {"cause": None if code is None else sc.label_of(code),
                                 "reference_levels": dict(sc.cols.reference_levels)}
        z = np.asarray(sc.cols.z)
        for arm, role in ((1, "treated"), (0, "control")):
            name = role if sc.cols.arms in ((0, 1), (False, True)) else f"{role} ({sc.arm_labels[arm]!r})"
            if not np.any(ev[z == arm] > 0):
                raise EstimationError(
                    f"discrete_time_hazard: the {name} arm has no events in event column {sc.event_name!r}, so the "
                    "hazard ratio is 0 or "
                    "infinite (monotone likelihood) and has no finite estimate. Report the event counts, "
                    "or use an exact or penalised method."
                )
        t = sc.time
        bad = (t != np.round(t)) | (t < 1)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            row = sc.cols.index[i] if sc.cols.index is not None else i
            raise DataError(
                f"discrete_time_hazard: time column {time!r} must hold whole periods >= 1 (the week of the event "
                f"or of censoring, counting the first week after the origin as 1); row {row} has "
                f"{t[i]:g} ({int(bad.sum())} such rows). Round up with numpy.ceil, or drop people with no week at risk."
            )
        total = float(t.sum())
        if total > MAX_PERSON_PERIODS or t.max() > MAX_PERIODS:
            raise DataError(
                f"discrete_time_hazard: time column {time!r} would expand to {total:.3g} person-periods with up "
                f"to {t.max():.3g} periods (limits {MAX_PERSON_PERIODS:.0e} and {MAX_PERIODS:.0e}): the "
                "person-period data would not fit in memory. Is time counted in whole periods from the origin "
                "(not a calendar date or an id)? Group the periods (e.g. weeks into months) first."
            )
        rows, period, y = person_period(t, ev)
        # weeks and blocks without events carry no information on beta
        n_per = int(period.max())
        ev_by_period = np.bincount(period, weights=y, minlength=n_per + 1)
        n_by_period = np.bincount(period, minlength=n_per + 1)
        uninformative = (ev_by_period == 0) | (ev_by_period == n_by_period)
        keep = ~uninformative[period]
        dropped_periods = [int(p) for p in np.flatnonzero(uninformative[1:]) + 1 if n_by_period[p] > 0]
        cols = [sc.z.astype(float)[rows]]
        names = [str(treatment)]
        if sc.strata is not None:
            b = sc.strata[rows]
            ev_by_block = np.bincount(b, weights=y, minlength=int(sc.strata.max()) + 1)
            keep &= ev_by_block[b] > 0
        if sc.cols.X is not None:
            # centred (the period effects absorb the mean; the coefficients are unchanged): an uncentred
            # covariate such as x + 1e9 is numerically collinear with the period indicators
            cols += [sc.cols.X[rows, j] - sc.cols.X[:, j].mean() for j in range(sc.cols.X.shape[1])]
            names += [str(c) for c in sc.cols.covariate_names]
        Xz = np.column_stack(cols)[keep]
        y_k = y[keep]
        per_k = period[keep]
        used_p, per_code = np.unique(per_k, return_inverse=True)
        D = np.zeros((y_k.size, used_p.size))
        D[np.arange(y_k.size), per_code] = 1.0
        blocks_X = np.zeros((y_k.size, 0))
        if sc.strata is not None:
            used_b, b_code = np.unique(sc.strata[rows][keep], return_inverse=True)
            if used_b.size > 1:
                blocks_X = np.zeros((y_k.size, used_b.size - 1))
                m = b_code > 0
                blocks_X[np.flatnonzero(m), b_code[m] - 1] = 1.0
        X = np.column_stack([Xz, D, blocks_X])
        try:
            beta, info = _irls(X, y_k, link)
        except EstimationError as exc:
            raise EstimationError(f"{exc} (model terms: {', '.join(repr(c) for c in dict.fromkeys(str(t).split('[', 1)[0] for t in names))})") from None
        if np.max(np.abs(beta[: len(names)])) > 30:
            raise EstimationError(
                "discrete_time_hazard: a coefficient exceeds 30 on the link scale, so the fit diverges "
                "(separation): some arm or covariate value has all or none of the events in the weeks where it is "
                f"at risk. Check the events by arm and week (model terms: {', '.join(repr(c) for c in dict.fromkeys(str(t).split('[', 1)[0] for t in names))})."
            )
        try:
            V = np.linalg.inv(info)
        except np.linalg.LinAlgError:
            raise EstimationError("discrete_time_hazard: the information matrix is singular.") from None
        if not (np.all(np.isfinite(np.diag(V))) and np.all(np.diag(V) > 0)):
            raise EstimationError(
                "discrete_time_hazard: the information matrix is numerically singular (a covariate is nearly "
                "collinear with the treatment or the period effects); drop or rescale that covariate (model "
                f"terms: {', '.join(repr(c) for c in dict.fromkeys(str(t).split('[', 1)[0] for t in names))})."
            )
        se = np.sqrt(np.diag(V))
        q = float(stats.norm.ppf(1 - alpha / 2))
        coefs = [{"term": nm, "coef": float(beta[k]), "std_error": float(se[k]), "ratio": math.exp(beta[k]),
                  "p_value": float(2 * stats.norm.sf(abs(beta[k] / se[k])))} for k, nm in enumerate(names)]
        b0, s0 = float(beta[0]), float(se[0])
        what = "rate" if link == "cloglog" else "odds of the weekly hazard"
        extra.update({"link": link, "log_ratio": b0, "person_periods": int(y.size),
                      "person_periods_used": int(y_k.size), "dropped_periods": dropped_periods,
                      "coefficients": coefs, "interpretation": rate_wording(math.exp(b0), what),
                      "events": int(y.sum())})
        return EffectResult(
            estimator=self.name, estimand="hazard_ratio" if link == "cloglog" else "hazard_odds_ratio",
            term=str(treatment), estimate=math.exp(b0), std_error=s0,
            conf_int=(math.exp(b0 - q * s0), math.exp(b0 + q * s0)), conf_level=1 - alpha,
            p_value=float(2 * stats.norm.sf(abs(b0 / s0))), df=None, n=sc.n, n_treated=sc.n_treated,
            n_control=sc.n_control, se_type="model", design=design_of(sc),
            warnings=tuple(sc.warnings()), extra=extra, outcome=str(event), ci_method="wald-log",
        )
