"""Fine-Gray regression: the subdistribution hazard ratio of one cause."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from effekt.errors import DataError, EstimationError
from effekt.protocol import EstimatorTags, Synthetic
from effekt.result import EffectResult, check_alpha
from effekt.vocabulary import validated
from effekt_survival import _coxkernel as K
from effekt_survival._data import check_survival, design_of, rate_wording
from effekt_survival.cox import plot_coefficients

__all__ = ["FineGray", "simulate_fine_gray", "censoring_weights"]


def censoring_weights(time: np.ndarray, event: np.ndarray, strata: np.ndarray | None) -> tuple[np.ndarray, Any]:
    """Left limits ``G(t-)`` of the Kaplan-Meier curve of the censoring times, per stratum.

    Censoring at a time with events is taken to follow the events. Returns
    ``(G(T_i-) for every row, function(times, stratum) -> G(t-))``.
    """
    s = np.zeros(time.size, dtype=np.int64) if strata is None else strata
    curves = {}
    g_row = np.ones(time.size)
    for k in np.unique(s):
        idx = np.flatnonzero(s == k)
        t = time[idx]
        cens = (event[idx] == 0).astype(float)
        times, inv = np.unique(t, return_inverse=True)
        c = np.bincount(inv, weights=cens, minlength=times.size)
        n = np.bincount(inv, minlength=times.size)[::-1].cumsum()[::-1]
        g_right = np.cumprod(1.0 - c / n)
        g_left = np.concatenate([[1.0], g_right[:-1]])
        curves[int(k)] = (times, g_right)
        g_row[idx] = g_left[inv]

    def left_limit(at: np.ndarray, stratum: np.ndarray) -> np.ndarray:
        out = np.ones(at.size)
        for k, (times, g_right) in curves.items():
            m = stratum == k
            pos = np.searchsorted(times, at[m], side="left") - 1  # last time strictly before
            out[m] = np.where(pos >= 0, g_right[np.maximum(pos, 0)], 1.0)
        return out

    return g_row, left_limit


def simulate_fine_gray(rng: np.random.Generator, *, n: int, log_shr: float, p: float = 0.6) -> pd.DataFrame:
    """Fine & Gray's (1999, section 5) design: ``F_1(t | z) = 1 - (1 - p (1 - e^{-t}))^{exp(b z)}``.

    Cause 1 occurs with probability ``1 - (1 - p)^{exp(b z)}`` and then has the
    time drawn from ``F_1``; otherwise cause 2 with an exponential(1) time.
    Uniform censoring on (0, 3).
    """
    z = rng.permutation(np.arange(n) % 2)
    e = np.exp(log_shr * z)
    p1 = 1 - (1 - p) ** e
    is1 = rng.random(n) < p1
    u = rng.random(n) * p1
    t1 = -np.log(1 - (1 - (1 - u) ** (1 / e)) / p)
    t2 = rng.exponential(1.0, n)
    t = np.where(is1, t1, t2)
    c = rng.uniform(0, 3, n)
    return pd.DataFrame({"time": np.minimum(t, c), "event": np.where(t <= c, np.where(is1, 1, 2), 0), "z": z,
                         "block": np.arange(n) % 3})


class FineGray:
    """Fine-Gray proportional subdistribution-hazards model; the treatment's subdistribution HR.

    Estimand: the ratio (treated vs control) of the subdistribution hazard of
    cause ``k`` - the hazard of leaving by cause ``k`` among those who have
    not left by cause ``k``, keeping people who left by another cause in the
    risk set. An SHR above 1 means a higher cumulative incidence of ``k``.

    Formula: maximises the weighted partial likelihood of Fine & Gray (1999,
    eq. 6): at each event time of cause ``k`` the risk set holds everyone
    still followed plus those who left by another cause at ``T_j < t``,
    weighted ``G(t-) / G(T_j-)``, ``G`` the Kaplan-Meier curve of the censoring
    times (within stratum). Standard errors: the Lin-Wei robust sandwich by
    person (as R's ``coxph`` on ``finegray()`` data with ``cluster(id)``).

    Defaults and why: ``strata`` defaults to ``blocks`` and the censoring
    curve ``G`` is estimated within stratum, because administrative
    censoring at the extract date depends on the randomisation batch.
    ``cause=None`` is the only cause when there is one and must be named
    when there are several. Breslow ties by default, as R's ``cmprsk::crr``
    (the reference implementation by the model's authors), whose estimates
    it then reproduces. A stratum holding one arm is kept with a warning when
    there are covariates (it informs them) and refused otherwise.

    Parameters
    ----------
    data : DataFrame
    time : str
        Follow-up time column.
    event : str
        Event column: 0 (or the ``censored=`` label) = censored, other values
        (codes or labels) = causes of exit.
    treatment : str
        Assigned arm: 0/1, or two labels declared with ``arms=``.
    arms : tuple, default=None
        ``(control, treated)`` labels of a text or categorical treatment.
    censored : value, default=None
        The event column's value meaning censored (None: 0 or False).
    cause : value, default=None
        The cause analysed; None is the only cause when there is one.
    strata : str, default=None
        Stratification column; defaults to ``blocks``.
    blocks : str, default=None
        The randomisation blocks.
    covariates : list of str, default=None
        Adjustment covariates; text or categorical ones become indicators
        (first level the reference, ``extra["reference_levels"]``).
    ties : {"breslow", "efron"}, default="breslow"
        Breslow's approximation reproduces ``cmprsk::crr``.
    alpha : float, default=0.05
        1 - confidence level.
    missing : {"error", "drop"}, default="error"
        Refuse or drop rows with missing values.

    Returns
    -------
    EffectResult
        ``estimate`` the SHR (``ci_method="wald-log"``, ``std_error`` on the
        log scale), ``se_type="lin-wei-robust"``; ``extra``: ``coefficients``,
        ``events_treated``, ``events_control``, ``competing_events``,
        ``interpretation``.

    Raises
    ------
    DataError
        Bad columns; a ``cause=`` not in the data.
    DesignError
        Several causes and no ``cause=``.
    EstimationError
        A diverging fit.

    Notes
    -----
    The time-dependent weights factor as ``G(t-) x 1 / G(T_j-)``, so the
    risk-set sums are prefix sums over persons sorted by exit time and no
    data set of one row per person and event time is built (R's
    ``finegray()`` builds one). R's ``crr`` adds a term for the estimation of
    ``G`` to the variance; the robust sandwich here omits it, which Fine &
    Gray (1999, section 4) and Geskus (2011) show matters little.

    References
    ----------
    Fine & Gray (1999), JASA 94:496, doi:10.1080/01621459.1999.10474144;
    Geskus (2011), Biometrics 67:39, doi:10.1111/j.1541-0420.2010.01420.x;
    Zhou et al. (2011), Biometrics 67:661 (stratified), doi:10.1111/j.1541-0420.2010.01493.x.

    Examples
    --------
    >>> import numpy as np, effekt as ef
    >>> df = simulate_fine_gray(np.random.default_rng(2), n=500, log_shr=np.log(1.5))
    >>> res = ef.estimate("fine_gray", data=df, time="time", event="event", treatment="z", cause=1)
    >>> round(res.estimate, 2), res.se_type
    (1.28, 'lin-wei-robust')
    """

    name: ClassVar[str] = "fine_gray"
    estimand: ClassVar[str] = "subdistribution_hazard_ratio"
    kind: ClassVar[str] = "survival"
    tags: ClassVar[EstimatorTags] = EstimatorTags(
        outcome="survival", supports_blocks=True, supports_covariates=True, shift_equivariant=False,
        scale_equivariant=False, sign_flip=False,
    )

    @classmethod
    def simulate(cls, rng: np.random.Generator, *, n: int, effect: float) -> Synthetic:
        """Fine & Gray's design; ``effect`` is the true log SHR of cause 1, truth = exp(effect)."""
        df = simulate_fine_gray(rng, n=n, log_shr=effect)
        return Synthetic(data=df, spec={"time": "time", "event": "event", "treatment": "z", "cause": 1},
                         truth=math.exp(effect), outcome="time", treatment="z")

    @validated
    def fit(self, data: Any, *, time: str, event: str, treatment: str, arms: tuple[Any, Any] | None = None,
            censored: Any = None, cause: Any = None, strata: str | None = None, blocks: str | None = None,
            covariates: Sequence[str] | str | None = None, ties: str = "breslow", alpha: float = 0.05,
            missing: str = "error") -> EffectResult:
        alpha = check_alpha(alpha)
        sc = check_survival(data, time=time, event=event, treatment=treatment, arms=arms, censored=censored,
                            strata=strata, blocks=blocks, covariates=covariates, missing=missing,
                            estimator=self.name, strata_need_both_arms=True,
                            one_arm_strata="warn" if covariates else "error")
        code = sc.code_of(cause, estimator=self.name, competing=True)
        assert code is not None
        ev = sc.event == code
        if not ev.any():
            raise DataError(f"fine_gray: event column {event!r} has no events of cause {cause!r}.")
        competing = (sc.event > 0) & ~ev
        g_row, g_left = censoring_weights(sc.time, sc.event, sc.strata)
        X = np.column_stack([sc.z.astype(float)] + ([sc.cols.X] if sc.cols.X is not None else []))
        # centred (as in cox): the subdistribution likelihood does not change, and a covariate shifted by
        # 1e9 keeps its precision
        X = X - X.mean(axis=0)
        P = K.prepare(sc.time, ev, X, strata=sc.strata, ties=ties)
        s_sorted = (np.zeros(sc.n, dtype=np.int64) if sc.strata is None else sc.strata)[P.order]
        g_strat = s_sorted[P.ev_rows[P.group_first_ev]]
        with np.errstate(divide="ignore"):
            u = np.where(competing, 1.0 / g_row, 0.0)[P.order]
        P.ext_u = u
        P.ext_h = g_left(P.gtime, g_strat)
        model_terms = ", ".join(repr(c) for c in dict.fromkeys(
            str(t).split("[", 1)[0] for t in [str(treatment)] + [str(c) for c in sc.cols.covariate_names]))
        try:
            beta, ll, info, _ = K.newton(P)
        except EstimationError as exc:
            raise EstimationError(f"fine_gray: {str(exc).removeprefix('cox: ')} (model terms: {model_terms})") from None
        # collinearity on the scale-free information (a covariate in kroner is not collinear)
        dinfo = np.sqrt(np.clip(np.diag(info), 1e-300, None))
        if np.linalg.cond(info / np.outer(dinfo, dinfo)) > 1e12:
            raise EstimationError(
                "fine_gray: the information matrix is numerically singular: covariates are (nearly) collinear "
                f"with each other or the treatment. Drop one (model terms: {model_terms})."
            )
        Vm = np.linalg.inv(info)
        R = K.score_residuals(P, beta)
        V = Vm @ (R.T @ R) @ Vm
        se = np.sqrt(np.diag(V))
        q = float(stats.norm.ppf(1 - alpha / 2))
        terms = [str(treatment)] + [str(c) for c in sc.cols.covariate_names]
        coefs = [{"term": t, "coef": float(b), "std_error": float(s), "hazard_ratio": math.exp(b),
                  "conf_low": math.exp(b - q * s), "conf_high": math.exp(b + q * s),
                  "p_value": float(2 * stats.norm.sf(abs(b / s)))} for t, b, s in zip(terms, beta, se)]
        b0, s0 = float(beta[0]), float(se[0])
        extra = {"cause": sc.label_of(code), "log_shr": b0, "reference_levels": dict(sc.cols.reference_levels),
                 "arms": {"control": sc.arm_labels[0], "treated": sc.arm_labels[1]}, "coefficients": coefs, "loglik": ll,
                 "se_model": float(np.sqrt(Vm[0, 0])),
                 "events_treated": int(ev[sc.z == 1].sum()), "events_control": int(ev[sc.z == 0].sum()),
                 "competing_events": int(competing.sum()), "interpretation": rate_wording(math.exp(b0), "subdistribution hazard"),
                 "ties": ties}
        return EffectResult(
            estimator=self.name, estimand=self.estimand, term=str(treatment), estimate=math.exp(b0), std_error=s0,
            conf_int=(math.exp(b0 - q * s0), math.exp(b0 + q * s0)), conf_level=1 - alpha,
            p_value=float(2 * stats.norm.sf(abs(b0 / s0))), df=None, n=sc.n, n_treated=sc.n_treated,
            n_control=sc.n_control, se_type="lin-wei-robust", design=design_of(sc),
            warnings=tuple(sc.warnings()), extra=extra, outcome=str(event), ci_method="wald-log",
            plotter=plot_coefficients,
        )
