"""Kaplan-Meier curves by arm; the difference in survival at a horizon."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from effekt.errors import DataError, DesignError, warn
from effekt.protocol import EstimatorTags, Synthetic
from effekt.result import EffectResult, check_alpha
from effekt.vocabulary import validated
from effekt_survival import _km
from effekt_survival._data import SurvivalColumns, check_survival, require_events

__all__ = ["KaplanMeier", "plot_kaplan_meier", "simulate_exponential"]


def simulate_exponential(rng: np.random.Generator, *, n: int, log_hr: float, censor_at: float = 2.0,
                         censor_low: float = 0.5) -> pd.DataFrame:
    """Two-arm trial, exponential times with rate 1 (control) and exp(log_hr); drop-out uniform
    on (``censor_low``, 4), administrative censoring at ``censor_at``."""
    z = rng.permutation(np.arange(n) % 2)
    t = rng.exponential(1.0 / np.exp(log_hr * z))
    c = np.minimum(rng.uniform(censor_low, 4.0, n), censor_at)
    return pd.DataFrame({"time": np.minimum(t, c), "event": (t <= c).astype(int), "z": z})


def _parse_times(values: Any, name: str) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(values, dtype=float))
    if arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise DesignError(f"{name} must be non-negative finite times; got {values!r}.")
    return arr


class KaplanMeier:
    """Kaplan-Meier survival curves by arm, and their difference at a horizon.

    Estimand: ``S_1(h) - S_0(h)``, the difference between the arms in the
    probability of no event by time ``h`` (treated minus control).

    Formula: ``S_a(t) = prod_{t_j <= t} (1 - d_aj / n_aj)`` in each arm;
    Greenwood variance ``Var S_a(h) = S_a(h)^2 sum_{t_j <= h} d_aj / (n_aj (n_aj - d_aj))``;
    the difference has SE ``sqrt(Var S_1 + Var S_0)`` and a Wald interval.
    Curve intervals use the log-log transform by default (R
    ``conf.type="log-log"``, lifelines' default; it stays inside [0, 1]); the
    median's interval is Brookmeyer & Crowley's, read off those bands.

    Where a curve reaches 0 (everyone left at risk has the event) the
    Greenwood variance is undefined (0/0); as R ``survfit``, the band there
    is NaN (``None`` in JSON), not a zero-width band, and a median limit read
    off that band is NaN too.

    Defaults and why: no default horizon - the horizon is part of the
    question (e.g. 52 weeks); with a list of horizons the first gives the
    estimate and survival by arm is reported at each in
    ``extra["survival_at"]``; the at-risk table is given at ``risk_times``,
    by default round times from 0 to the end of follow-up (the plot's
    x-axis ticks, :func:`effekt.plotting.nice_ticks`); ``cause=None``
    counts every exit.

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
        The time(s) at which survival is compared; the first gives the
        estimate. Required.
    arms : tuple, default=None
        ``(control, treated)`` labels of a text or categorical treatment.
    censored : value, default=None
        The event column's value meaning censored (None: 0 or False).
    risk_times : list of float, default=None
        Times for the at-risk table and the plot's x-axis ticks (None:
        round times from 0 to the end of follow-up).
    entry : str, default=None
        Delayed-entry column (at risk on ``(entry, time]``).
    cause : value, default=None
        The cause of exit counted (others censored); None counts every exit.
    conf_type : {"log-log", "log", "plain"}, default="log-log"
        Transform of the pointwise curve intervals (and so of the median's
        interval); ``"log"`` reproduces R ``survfit``'s default.
    alpha : float, default=0.05
        1 - confidence level.
    missing : {"error", "drop"}, default="error"
        Refuse or drop rows with missing values.

    Returns
    -------
    EffectResult
        ``estimate`` = ``S_1(h) - S_0(h)``; ``extra`` holds ``curves`` (per arm:
        times, survival, lower, upper, at risk, events, censored: the
        distinct censoring times), ``follow_up_end``, ``median`` (per arm:
        median, lower, upper; ``None`` when not reached), ``survival_at`` and
        ``at_risk``. ``res.plot()`` draws the curves and the at-risk table.

    Raises
    ------
    DataError
        Bad columns or times; an arm with no events.
    DesignError
        A missing or negative horizon.

    References
    ----------
    Kaplan & Meier (1958), JASA 53:457, doi:10.1080/01621459.1958.10501452;
    Greenwood (1926); Brookmeyer & Crowley (1982), Biometrics 38:29,
    doi:10.2307/2530286.

    Examples
    --------
    >>> import numpy as np, effekt as ef
    >>> df = simulate_exponential(np.random.default_rng(4), n=400, log_hr=np.log(0.5))
    >>> res = ef.estimate("kaplan_meier", data=df, time="time", event="event", treatment="z",
    ...                   horizon=1.0)
    >>> round(res.estimate, 3), res.extra["survival_at"][0]["time"]
    (0.27, 1.0)
    """

    name: ClassVar[str] = "kaplan_meier"
    estimand: ClassVar[str] = "survival_difference"
    kind: ClassVar[str] = "survival"
    tags: ClassVar[EstimatorTags] = EstimatorTags(
        outcome="survival", shift_equivariant=False, scale_equivariant=False, sign_flip=True,
    )

    @classmethod
    def simulate(cls, rng: np.random.Generator, *, n: int, effect: float) -> Synthetic:
        """Exponential trial; ``effect`` is the log hazard ratio, truth ``exp(-e^effect) - exp(-1)`` at h = 1."""
        df = simulate_exponential(rng, n=n, log_hr=effect)
        truth = math.exp(-math.exp(effect)) - math.exp(-1.0)
        return Synthetic(data=df, spec={"time": "time", "event": "event", "treatment": "z", "horizon": 1.0},
                         truth=truth, outcome="time", treatment="z")

    @validated
    def fit(
        self,
        data: Any,
        *,
        time: str,
        event: str,
        treatment: str,
        horizon: Any = None,
        arms: tuple[Any, Any] | None = None,
        censored: Any = None,
        risk_times: Sequence[float] | None = None,
        entry: str | None = None,
        cause: Any = None,
        conf_type: str = "log-log",
        alpha: float = 0.05,
        missing: str = "error",
    ) -> EffectResult:
        alpha = check_alpha(alpha)
        if horizon is None:
            raise DesignError(
                "kaplan_meier: pass horizon=, the time at which to compare survival (e.g. horizon=52 "
                "for one year in weeks)."
            )
        hs = _parse_times(horizon, "horizon")
        h = float(hs[0])
        sc = check_survival(data, time=time, event=event, treatment=treatment, arms=arms, censored=censored,
                            entry=entry, missing=missing, estimator=self.name)
        end = float(sc.time.max())
        if risk_times is not None:
            rts = _parse_times(risk_times, "risk_times")
        else:
            from effekt.plotting import nice_ticks

            rts = np.asarray(nice_ticks(end), dtype=float)
        code = sc.code_of(cause, estimator=self.name)
        ev = sc.indicator(code)
        require_events(sc, estimator=self.name, code=code)
        curves, medians, surv_at, risk = {}, {}, [], []
        est, var = {}, {}
        for arm in (0, 1):
            m = sc.z == arm
            ent = sc.entry[m] if sc.entry is not None else None
            c = _km.kaplan_meier(sc.time[m], ev[m], alpha=alpha, entry=ent, conf_type=conf_type)
            label = "treated" if arm else "control"
            s_h = _km.step_at(c.times, c.surv, np.array([h]))[0]
            v_h = _km.step_at(c.times, c.var, np.array([h]), before=0.0)[0]
            est[arm], var[arm] = s_h, v_h
            curves[label] = {"time": c.times, "survival": c.surv, "lower": c.low, "upper": c.high,
                             "at_risk": c.n_risk, "events": c.d, "censored": np.unique(sc.time[m][ev[m] == 0])}
            med = _km.median_ci(c)
            medians[label] = {k: (None if not math.isfinite(v) else v)
                              for k, v in zip(("median", "lower", "upper"), med)}
            sv = _km.step_at(c.times, c.surv, hs)
            lo = _km.step_at(c.times, c.low, hs)
            hi = _km.step_at(c.times, c.high, hs)
            for t_, s_, l_, u_ in zip(hs, sv, lo, hi):
                surv_at.append({"arm": label, "time": float(t_), "survival": float(s_), "lower": float(l_),
                                "upper": float(u_)})
            nr = _km.at_risk(sc.time[m], rts, ent)
            risk.append({"arm": label, **{f"{t_:g}": int(v) for t_, v in zip(rts, nr)}})
        se = math.sqrt(var[1] + var[0])
        notes = sc.warnings()
        for arm in (0, 1):
            last = float(sc.time[sc.z == arm].max())
            if h > last and est[arm] > 0:
                notes.append(
                    f"horizon={h:g} lies beyond the last follow-up time of the "
                    f"{_arm_name(sc, arm)} arm ({last:g}): its curve is carried forward "
                    "unchanged there, which assumes no events after follow-up ends."
                )
            if not math.isfinite(var[arm]):
                notes.append(
                    f"the {_arm_name(sc, arm)} arm's curve reaches 0 by horizon={h:g}; its Greenwood variance "
                    "is undefined there (as in R survfit), so the standard error is NaN."
                )
        extra = {
            "horizon": h, "survival_treated": est[1], "survival_control": est[0],
            "curves": curves, "median": medians, "survival_at": surv_at, "at_risk": risk,
            "risk_times": rts, "follow_up_end": end, "conf_type": conf_type, "cause": None if code is None else sc.label_of(code),
            "arms": {"control": sc.arm_labels[0], "treated": sc.arm_labels[1]},
        }
        common = dict(estimator=self.name, estimand=self.estimand, term=str(treatment), n=sc.n,
                      n_treated=sc.n_treated, n_control=sc.n_control, se_type="greenwood", design="simple",
                      warnings=tuple(notes), extra=extra, outcome=str(event), plotter=plot_kaplan_meier)
        if not math.isfinite(se):  # a curve at 0: undefined variance, reported as NA (R survfit)
            for note in notes:
                if "variance is undefined" in note:
                    warn(note)
            nan = float("nan")
            return EffectResult(estimate=float(est[1] - est[0]), std_error=nan, conf_int=(nan, nan),
                                conf_level=1 - alpha, p_value=nan, df=None, **common)  # type: ignore[arg-type]
        if se == 0.0:  # no event before the horizon moves either curve
            raise DataError(
                f"kaplan_meier: the standard error at horizon={h:g} is 0: neither arm's curve has a "
                f"variance there (time column {time!r}, event column {event!r}"
                + (f" with censored={censored!r}" if censored is not None else "") + "); choose a horizon after "
                "some events in both arms."
            )
        return EffectResult.from_z(est[1] - est[0], se, alpha=alpha, **common)  # type: ignore[arg-type]


def _arm_name(sc: SurvivalColumns, arm: int) -> str:
    role = "treated" if arm else "control"
    if sc.cols.arms in ((0, 1), (False, True)):
        return role
    return f"{role} ({sc.arm_labels[arm]!r})"


def _arm_display(result: Any, role: str, labels: Any) -> str:
    """The name of arm ``role`` in a legend: ``labels`` keyed by arm value or role, else the data's label."""
    from effekt.plotting import label_for

    value = dict(result.extra.get("arms", {})).get(role, 1 if role == "treated" else 0)
    if labels is not None and role in labels:
        return str(labels[role])
    if value in (0, 1, False, True) and not (labels and value in labels):
        return role
    return label_for(value, labels)


def plot_kaplan_meier(result: EffectResult, *, ax: Any = None, labels: Any = None, xlabel: str | None = None,
                      ylabel: str | None = None, cumulative: bool = False, language: str = "en") -> Any:
    """Kaplan-Meier curves with their bands, censoring marks and the at-risk table under the plot.

    The picture of a ``kaplan_meier`` result (``res.plot()`` calls it). The
    x-axis runs to the end of follow-up with its ticks at the result's
    ``risk_times``, and the table under it gives the number at risk in each
    arm at every tick. A short vertical mark on a curve is a censored
    person; the dotted line is the horizon. ``labels`` maps arm values (or
    "control"/"treated") to the names shown; by default the arms' labels in
    the data. The legend sits above the plot, clear of the curves.
    ``cumulative=True`` draws ``1 - S`` (share with the event). With
    ``ax=`` the curves are drawn into that Axes without the table.
    ``language="da"`` writes the axis titles in Danish (``xlabel`` and
    ``ylabel`` override them). Returns a matplotlib Figure; nothing is
    shown.
    """
    from effekt.plotting import (
        INTERVAL_ALPHA,
        LINE_WIDTH,
        arm_colour,
        figure_and_axes,
        legend_outside,
        plot_word,
    )

    xlabel = plot_word("time", language) if xlabel is None else xlabel
    if ylabel is None:
        ylabel = plot_word("share with the event" if cumulative else "share without the event", language)

    if "curves" not in result.extra:
        raise DesignError(f"plot_kaplan_meier needs a kaplan_meier result; got one from {result.estimator!r}.")
    own = ax is None
    fig, ax = figure_and_axes(ax, size=(7, 5.4))
    tab = None
    if own:
        gs = fig.add_gridspec(2, 1, height_ratios=[4, 1])
        ax.set_subplotspec(gs[0])
        tab = fig.add_subplot(gs[1], sharex=ax)
    colours = {"control": arm_colour(0), "treated": arm_colour(1)}
    names = {role: _arm_display(result, role, labels) for role in ("control", "treated")}
    rts = np.asarray(result.extra["risk_times"], dtype=float)
    top = 0.0
    for arm in ("control", "treated"):
        c = result.extra["curves"][arm]
        times = np.asarray(c["time"], dtype=float)
        t = np.concatenate([[0.0], times])
        s = np.concatenate([[1.0], np.asarray(c["survival"], dtype=float)])
        lo = np.concatenate([[1.0], np.asarray(c["lower"], dtype=float)])
        hi = np.concatenate([[1.0], np.asarray(c["upper"], dtype=float)])
        cens = np.asarray(c.get("censored", ()), dtype=float)
        s_cens = _km.step_at(times, np.asarray(c["survival"], dtype=float), cens)
        last = float(cens.max()) if cens.size else 0.0
        if last > t[-1]:  # the curve runs on, flat, to the arm's last follow-up
            t, s, lo, hi = (np.append(a, a[-1] if a is not t else last) for a in (t, s, lo, hi))
        if cumulative:
            s, lo, hi, s_cens = 1 - s, 1 - hi, 1 - lo, 1 - s_cens
            top = max(top, float(np.nanmax(hi)))
        ax.step(t, s, where="post", color=colours[arm], linewidth=LINE_WIDTH, label=names[arm])
        ax.fill_between(t, lo, hi, step="post", color=colours[arm], alpha=INTERVAL_ALPHA, linewidth=0)
        if cens.size:
            ax.plot(cens, s_cens, linestyle="none", marker="|", markersize=6, markeredgewidth=1,
                    color=colours[arm])
    end = float(result.extra.get("follow_up_end", max(float(np.max(rts)), result.extra["horizon"])))
    right = max(end, float(np.max(rts)), float(result.extra["horizon"]))
    right = right if right > 0 else 1.0
    ax.set_xlim(-0.03 * right, right * 1.03)
    ax.set_xticks(rts)
    ax.set_ylim(0, min(1.02, 1.1 * top) if cumulative and top > 0 else 1.02)
    ax.set_ylabel(ylabel)
    legend_outside(ax, where="top")
    ax.axvline(result.extra["horizon"], color="grey", linestyle=":", linewidth=1)
    if tab is not None:
        tab.set_ylim(-0.5, 1.5)
        tab.set_yticks([0, 1], [names["treated"], names["control"]])
        for tick, role in zip(tab.get_yticklabels(), ("treated", "control")):
            tick.set_color(colours[role])
        for row in result.extra["at_risk"]:
            y = 1 if row["arm"] == "control" else 0
            for t_ in rts:
                tab.text(t_, y, str(row[f"{t_:g}"]), ha="center", va="center", fontsize=8,
                         color=colours[str(row["arm"])])
        tab.set_title(plot_word("number at risk", language), fontsize=9, loc="left")
        tab.tick_params(axis="y", length=0, pad=12)
        tab.grid(False)
        for side in ("top", "right", "left"):
            tab.spines[side].set_visible(False)
        tab.set_xlabel(xlabel)
        ax.tick_params(labelbottom=False)
    else:
        ax.set_xlabel(xlabel)
    return fig
