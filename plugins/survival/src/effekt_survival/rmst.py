"""Restricted mean survival time: the difference between arms up to a horizon."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from effekt.errors import DataError, DesignError
from effekt.protocol import EstimatorTags, Synthetic
from effekt.result import EffectResult, check_alpha
from effekt.vocabulary import validated
from effekt_survival import _km
from effekt_survival._data import check_survival, require_events
from effekt_survival.kaplan_meier import _arm_name, simulate_exponential

__all__ = ["RMST", "rmst_arm"]


def rmst_arm(time: np.ndarray, event: np.ndarray, tau: float) -> tuple[float, float]:
    """RMST up to ``tau`` of one arm and its variance.

    ``mu = int_0^tau S(t) dt`` (area under the KM step function);
    ``Var mu = sum_{t_j <= tau} A_j^2 d_j / (n_j (n_j - d_j))`` with
    ``A_j = int_{t_j}^tau S(t) dt`` (Klein & Moeschberger 2003, eq. 4.5.1-4.5.2;
    R survRM2 and ``survfit``'s ``rmean`` variance).
    """
    c = _km.kaplan_meier(time, event)
    keep = c.times <= tau
    t, s, n, d = c.times[keep], c.surv[keep], c.n_risk[keep], c.d[keep]
    knots = np.concatenate([[0.0], t, [tau]])
    level = np.concatenate([[1.0], s])
    areas = level * np.diff(knots)
    mu = float(areas.sum())
    # A_j: area from t_j to tau = sum of areas of the pieces after t_j
    after = areas[::-1].cumsum()[::-1][1:]  # piece j+1 onwards, for each event time j
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(n > d, after**2 * d / (n * (n - d)), 0.0)
    return mu, float(terms.sum())


class RMST:
    """Difference in restricted mean survival time up to ``horizon`` (tau).

    Estimand: ``mu_1(tau) - mu_0(tau)``, ``mu_a(tau) = E[min(T, tau) | arm a]``
    - the mean number of time units (e.g. weeks) without the event within
    the first ``tau``. Where a report gives durations only as "> 52 weeks",
    the RMST at 52 weeks is the mean it can support.

    Formula: ``mu_a = int_0^tau S_a(t) dt`` from the Kaplan-Meier curve of
    arm ``a``; ``Var mu_a = sum_{t_j <= tau} A_j^2 d_j / (n_j (n_j - d_j))``,
    ``A_j = int_{t_j}^tau S_a``; the difference has SE
    ``sqrt(Var mu_1 + Var mu_0)`` and a normal Wald interval.

    Defaults and why: ``horizon`` (tau in the literature) has no default -
    it must lie within the follow-up of both arms and is part of the
    question; a horizon beyond the last observed time of an arm is a
    :class:`DesignError` unless that arm's curve has reached zero (its last
    time is an event). With a list of horizons the first is the estimate
    and ``extra["rmst_at"]`` gives the difference at each.

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
    horizon : float or list of float
        The time up to which the mean is restricted (tau); required.
    arms : tuple, default=None
        ``(control, treated)`` labels of a text or categorical treatment.
    censored : value, default=None
        The event column's value meaning censored (None: 0 or False).
    cause : value, default=None
        The cause of exit analysed (others censored); None counts every exit.
    alpha : float, default=0.05
        1 - confidence level.
    missing : {"error", "drop"}, default="error"
        Refuse or drop rows with missing values.

    Returns
    -------
    EffectResult
        ``estimate`` the RMST difference (treated minus control), ``extra``
        ``rmst_treated``, ``rmst_control`` with their SEs, ``horizon``,
        ``rmst_at`` (per horizon).

    Raises
    ------
    DesignError
        Missing ``horizon``, or a horizon beyond an arm's follow-up.

    References
    ----------
    Royston & Parmar (2013), BMC Med Res Methodol 13:152,
    doi:10.1186/1471-2288-13-152; Klein & Moeschberger (2003), Survival
    Analysis, 2nd ed., section 4.5.

    Examples
    --------
    >>> import numpy as np, effekt as ef
    >>> df = simulate_exponential(np.random.default_rng(4), n=400, log_hr=np.log(0.5))
    >>> res = ef.estimate("rmst", data=df, time="time", event="event", treatment="z", horizon=1.5)
    >>> round(res.estimate, 3), round(res.std_error, 3)
    (0.276, 0.053)
    """

    name: ClassVar[str] = "rmst"
    estimand: ClassVar[str] = "rmst_difference"
    kind: ClassVar[str] = "survival"
    tags: ClassVar[EstimatorTags] = EstimatorTags(
        outcome="survival", shift_equivariant=False, scale_equivariant=False, sign_flip=True,
    )

    @classmethod
    def simulate(cls, rng: np.random.Generator, *, n: int, effect: float) -> Synthetic:
        """Exponential trial, rates 1 and exp(effect), follow-up >= 2; truth the difference of ``(1 - e^{-r tau})/r`` at tau = 1.5."""
        tau = 1.5
        df = simulate_exponential(rng, n=n, log_hr=effect, censor_at=3.0, censor_low=2.0)
        r = math.exp(effect)
        truth = (1 - math.exp(-r * tau)) / r - (1 - math.exp(-tau))
        return Synthetic(data=df, spec={"time": "time", "event": "event", "treatment": "z", "horizon": tau},
                         truth=truth, outcome="time", treatment="z")

    @validated
    def fit(self, data: Any, *, time: str, event: str, treatment: str, horizon: Any = None,
            arms: tuple[Any, Any] | None = None, censored: Any = None, cause: Any = None, alpha: float = 0.05,
            missing: str = "error") -> EffectResult:
        alpha = check_alpha(alpha)
        if horizon is None:
            raise DesignError("rmst: pass horizon=, the time up to which the mean is restricted (e.g. horizon=52).")
        taus = [float(v) for v in np.atleast_1d(np.asarray(horizon, dtype=float))]
        sc = check_survival(data, time=time, event=event, treatment=treatment, arms=arms, censored=censored,
                            missing=missing, estimator=self.name)
        code = sc.code_of(cause, estimator=self.name)
        ev = sc.indicator(code)
        extra: dict[str, Any] = {"cause": None if code is None else sc.label_of(code)}
        require_events(sc, estimator=self.name, code=code)
        rows = []
        for tau in taus:
            out = {}
            for arm in (0, 1):
                m = sc.z == arm
                last = float(sc.time[m].max())
                at_last = ev[m][sc.time[m] == last]
                ends_in_event = bool(at_last.size) and bool((at_last > 0).all())
                label = _arm_name(sc, arm)
                if tau > last and not ends_in_event:
                    raise DesignError(
                        f"rmst: horizon={tau:g} lies beyond the last follow-up time of the {label} arm ({last:g} in "
                        f"time column {sc.cols.names.get('time')!r}"
                        + (f", events coded with censored={censored!r}" if censored is not None else "") + "); "
                        "the survival curve is unknown there. Choose a horizon at most the shorter follow-up."
                    )
                if not (ev[m] > 0).any():
                    raise DataError(f"rmst: the {label} arm has no events (event column {event!r}"
                                    + (f" with censored={censored!r}" if censored is not None else "") + ").")
                out[arm] = rmst_arm(sc.time[m], ev[m], tau)
            rows.append({"horizon": tau, "rmst_treated": out[1][0], "rmst_control": out[0][0],
                         "difference": out[1][0] - out[0][0], "std_error": math.sqrt(out[1][1] + out[0][1]),
                         "se_treated": math.sqrt(out[1][1]), "se_control": math.sqrt(out[0][1])})
        head = rows[0]
        if head["std_error"] == 0.0:
            raise DataError(
                f"rmst: the standard error at horizon={head['horizon']:g} is 0: no event before the horizon "
                f"varies either arm's curve (time column {time!r}, event column {event!r}"
                + (f" with censored={censored!r}" if censored is not None else "") + "); choose a later "
                "horizon."
            )
        extra.update({"horizon": head["horizon"], "rmst_treated": head["rmst_treated"],
                      "rmst_control": head["rmst_control"], "se_treated": head["se_treated"],
                      "se_control": head["se_control"], "rmst_at": rows})
        return EffectResult.from_z(
            head["difference"], head["std_error"], alpha=alpha, estimator=self.name, estimand=self.estimand,
            term=str(treatment), n=sc.n, n_treated=sc.n_treated, n_control=sc.n_control, se_type="greenwood-area",
            design="simple", warnings=tuple(sc.warnings()), extra=extra, outcome=str(event),
        )
