"""Cumulative incidence of competing exits by arm (Aalen-Johansen) and Gray's test."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from effekt.errors import DataError, DesignError
from effekt.protocol import EstimatorTags, Synthetic
from effekt.result import EffectResult, check_alpha
from effekt.vocabulary import validated
from effekt_survival import _km
from effekt_survival._data import check_survival, design_of

__all__ = ["AalenJohansen", "cumulative_incidence", "gray_test", "plot_cumulative_incidence"]


def cumulative_incidence(time: np.ndarray, event: np.ndarray, cause: int, *, alpha: float = 0.05) -> dict[str, np.ndarray]:
    """Aalen-Johansen cumulative incidence of ``cause`` with delta-method variance.

    ``F_k(t) = sum_{t_j <= t} S(t_{j-1}) d_kj / n_j``, ``S`` the all-cause KM.
    Variance (Collett 2015, Modelling Survival Data, 3rd ed., p. 411; the formula
    lifelines' ``AalenJohansenFitter`` uses):
    ``sum_j [(F(t) - F(t_j))^2 d_j / (n_j (n_j - d_j)) + S(t_{j-1})^2 d_kj (n_j - d_kj) / n_j^3
    - 2 (F(t) - F(t_j)) S(t_{j-1}) d_kj / n_j^2]``, summed by prefix sums.
    Interval on the log(-log) scale.
    """
    k_max = int(event.max()) if event.size else 0
    rt = _km.risk_table(time, event, max(k_max, cause))
    keep = rt.d_any > 0
    t, n = rt.times[keep], rt.n_risk[keep]
    d = rt.d_any[keep]
    dk = rt.d[keep, cause - 1]
    surv = np.cumprod(1.0 - d / n)
    lag = np.concatenate([[1.0], surv[:-1]])
    F = np.cumsum(lag * dk / n)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(n > d, d / (n * (n - d)), 0.0)
    b = lag**2 * dk * (n - dk) / n**3
    c = lag * dk / n**2
    # sum_j a_j (F - F_j)^2 = F^2 A - 2 F AF + AF2, all prefix sums
    A, AF, AF2 = np.cumsum(a), np.cumsum(a * F), np.cumsum(a * F**2)
    C, CF = np.cumsum(c), np.cumsum(c * F)
    var = F**2 * A - 2 * F * AF + AF2 + np.cumsum(b) - 2 * (F * C - CF)
    var = np.maximum(var, 0.0)
    q = stats.norm.ppf(1 - alpha / 2)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):  # bounds at 0 or 1
        se_t = np.sqrt(var) / (F * np.abs(np.log(F)))
        b1 = np.exp(-np.exp(np.log(-np.log(F)) + q * se_t))
        b2 = np.exp(-np.exp(np.log(-np.log(F)) - q * se_t))
    low = np.where(F > 0, np.fmin(b1, b2), 0.0)
    high = np.where(F > 0, np.fmax(b1, b2), 0.0)
    low = np.where(np.isfinite(low), low, F)
    high = np.where(np.isfinite(high), high, F)
    return {"time": t, "cif": F, "var": var, "lower": low, "upper": high, "at_risk": n}


def _gray_stratum(time: np.ndarray, event: np.ndarray, z: np.ndarray, cause: int, rho: float) -> tuple[float, float]:
    """Gray's score for the control arm and its variance, one stratum.

    Vectorised over the distinct times; follows Gray (1988), sections 2-3, with
    the variance as computed by R's cmprsk (``crstm``), for two groups.
    """
    times, inv = np.unique(time, return_inverse=True)
    m = times.size
    g = (z == 1).astype(int)  # group 0 = control (scored), 1 = treated
    d1 = np.zeros((2, m))
    d2 = np.zeros((2, m))
    cnt = np.zeros((2, m))
    for grp in (0, 1):
        sel = g == grp
        d1[grp] = np.bincount(inv[sel], weights=(event[sel] == cause), minlength=m)
        d2[grp] = np.bincount(inv[sel], weights=((event[sel] > 0) & (event[sel] != cause)), minlength=m)
        cnt[grp] = np.bincount(inv[sel], minlength=m)
    rs = cnt[:, ::-1].cumsum(axis=1)[:, ::-1]
    td = d1 + d2
    pos = rs > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(pos, (rs - td) / rs, 1.0)
    skm = np.cumprod(factor, axis=1)
    skmm = np.concatenate([np.ones((2, 1)), skm[:, :-1]], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.cumsum(np.where(pos, skmm * d1 / rs, 0.0), axis=1)
        f1m = np.concatenate([np.zeros((2, 1)), f1[:, :-1]], axis=1)
        t1 = np.where(pos, rs / skmm, 0.0)
        tr = t1.sum(axis=0)
        tq = np.where(pos, rs * (1 - f1m) / skmm, 0.0).sum(axis=0)
        nd1 = d1.sum(axis=0)
        nd2 = d2.sum(axis=0)
        ev = (nd1 > 0) | (nd2 > 0)
        inc = np.where(ev & (tr > 0), nd1 / tr, 0.0)
        f = np.cumsum(inc)
        fm = f - inc
        with np.errstate(under="ignore"):  # a weight below 1e-308 is 0 to double precision
            fb = (1 - fm) ** rho
        a = np.zeros((2, m))  # a(0, k)
        a[0] = fb * t1[0] * (1 - t1[0] / tr)
        a[1] = -fb * t1[0] * t1[1] / tr
        a = np.where(ev & (tr > 0), a, 0.0)
        cinc = np.where(ev & (tr > 0), a * nd1 / (tr * (1 - fm)), 0.0)
        c = np.cumsum(cinc, axis=1)  # running c(0, k), inclusive of the current time
        score = np.sum(np.where(ev & pos[0], fb * (d1[0] - nd1 * rs[0] * (1 - f1m[0]) / (skmm[0] * tq)), 0.0))
        # failures from the cause of interest
        m1 = (nd1 > 0) & pos
        t4 = np.where(skm > 0, 1 - (1 - f) / skm, 1.0)
        t5 = np.where(nd1 > 1, 1 - (nd1 - 1) / (tr * skmm - 1), 1.0)
        t3 = t5 * skmm * nd1 / (tr * rs)
        u = a - t4 * c
        v3 = np.sum(np.where(m1, t4**2 * t3, 0.0), axis=1)
        v2 = np.sum(np.where(m1, u * t4 * t3, 0.0), axis=1)
        v = np.sum(np.where(m1, u**2 * t3, 0.0))
        # failures from the competing causes
        m2 = (nd2 > 0) & (skm > 0) & (d2 > 0)
        t4b = (1 - f) / skm
        t5b = np.where(d2 > 1, 1 - (d2 - 1) / (rs - 1), 1.0)
        t3b = t5b * skmm**2 * d2 / rs**2
        v3 = v3 + np.sum(np.where(m2, t4b**2 * t3b, 0.0), axis=1)
        v2 = v2 - np.sum(np.where(m2, t4b**2 * c * t3b, 0.0), axis=1)
        v = v + np.sum(np.where(m2, t4b**2 * c**2 * t3b, 0.0))
    c_total = c[:, -1]
    v = v + np.sum(c_total**2 * v3 + 2 * c_total * v2)
    return float(score), float(v)


def gray_test(time: np.ndarray, event: np.ndarray, z: np.ndarray, cause: int, *,
              strata: np.ndarray | None = None, rho: float = 0.0) -> tuple[float, float]:
    """Gray's (1988) test that the cumulative incidence of ``cause`` is equal in the arms.

    Score and variance summed over strata; ``chi2 = s^2 / V`` on 1 df.
    Returns ``(chi2, p_value)``. Reference: Gray (1988), Ann Stat 16:1141,
    doi:10.1214/aos/1176350951.
    """
    s_tot, v_tot = 0.0, 0.0
    groups = [np.arange(time.size)] if strata is None else [np.flatnonzero(strata == s) for s in np.unique(strata)]
    for idx in groups:
        s, v = _gray_stratum(time[idx], event[idx], z[idx], cause, rho)
        s_tot += s
        v_tot += v
    chi2 = s_tot**2 / v_tot if v_tot > 0 else float("nan")
    return chi2, float(stats.chi2.sf(chi2, 1))


def simulate_competing(rng: np.random.Generator, *, n: int, log_hr: float) -> pd.DataFrame:
    """Two-arm trial with two competing exits: cause-1 hazard 1 (control) and exp(log_hr)
    (treated), cause-2 hazard 0.5 in both; censoring uniform on (0.5, 4), at most 3."""
    z = rng.permutation(np.arange(n) % 2)
    h1 = np.exp(log_hr * z)
    h2 = 0.5
    t = rng.exponential(1.0 / (h1 + h2))
    cause = np.where(rng.random(n) < h1 / (h1 + h2), 1, 2)
    c = np.minimum(rng.uniform(0.5, 4.0, n), 3.0)
    return pd.DataFrame({"time": np.minimum(t, c), "event": np.where(t <= c, cause, 0), "z": z,
                         "block": np.arange(n) % 3})


class AalenJohansen:
    """Cumulative incidence of competing exits by arm, the difference at a horizon, Gray's test.

    Estimand: ``F_1k(h) - F_0k(h)``, the difference between the arms in the
    probability of having left by cause ``k`` (e.g. a job) by time ``h``,
    with the other causes (pension, moving away) competing - not censoring.

    Formula: ``F_ak(t) = sum_{t_j <= t} S_a(t_{j-1}) d_akj / n_aj`` (Aalen &
    Johansen 1978), ``S_a`` the all-cause Kaplan-Meier curve of arm ``a``;
    delta-method variance (Collett 2015, p. 411); the difference has SE
    ``sqrt(Var F_1k + Var F_0k)``. Gray's test compares the whole curves,
    stratified by block when blocks are given.

    Defaults and why: ``cause=None`` is the only cause when the event
    column holds one, and must be named when it holds several; no default
    horizon (part of the question; with a list the first gives the
    estimate and ``cif_at_horizon`` lists every one). ``1 - KM`` treats competing exits as censoring and
    overstates every cause's incidence; the curves here add up to the
    all-cause incidence and never above 1.

    Parameters
    ----------
    data : DataFrame
    time : str
        Follow-up time column.
    event : str
        Event column: 0 (or the ``censored=`` label) = censored, other values
        (codes or labels such as "job", "disability pension") = causes.
    treatment : str
        Assigned arm: 0/1, or two labels declared with ``arms=``.
    horizon : float or list of float
        The time(s) at which cumulative incidence is compared; required.
    arms : tuple, default=None
        ``(control, treated)`` labels of a text or categorical treatment.
    censored : value, default=None
        The event column's value meaning censored (None: 0 or False).
    cause : value, default=None
        The cause analysed (a value of the event column); None is the only
        cause when there is one.
    strata : str, default=None
        Stratify Gray's test; defaults to ``blocks``.
    blocks : str, default=None
        The randomisation blocks.
    rho : float, default=0
        Gray's weight ``(1 - F(t-))^rho``.
    alpha : float, default=0.05
        1 - confidence level.
    missing : {"error", "drop"}, default="error"
        Refuse or drop rows with missing values.

    Returns
    -------
    EffectResult
        ``estimate`` the CIF difference at ``horizon``; ``extra``:
        ``cif_treated``, ``cif_control``, ``gray`` (per cause: statistic and
        p-value), ``curves`` (per arm and cause), ``cif_at_horizon`` (all
        causes by arm), keyed and labelled by the event column's labels,
        ``risk_times`` (round times from 0 to ``follow_up_end``) and
        ``at_risk`` (per arm, the number still at risk of every cause at
        each). ``res.plot()`` draws every cause's curve by arm with its band
        and the at-risk table.

    Raises
    ------
    DataError
        Bad columns; a ``cause=`` not in the data.
    DesignError
        Several causes and no ``cause=``; a missing horizon.

    References
    ----------
    Aalen & Johansen (1978), Scand J Stat 5:141; Gray (1988), Ann Stat
    16:1141, doi:10.1214/aos/1176350951; Putter, Fiocco & Geskus (2007), Stat
    Med 26:2389, doi:10.1002/sim.2712.

    Examples
    --------
    >>> import numpy as np, effekt as ef
    >>> from effekt_survival.aalen_johansen import simulate_competing
    >>> df = simulate_competing(np.random.default_rng(5), n=400, log_hr=np.log(1.74))
    >>> res = ef.estimate("aalen_johansen", data=df, time="time", event="event", treatment="z",
    ...                   horizon=1.0, cause=1)
    >>> round(res.estimate, 3), round(res.extra["gray"][0]["p_value"], 4)
    (0.133, 0.0028)
    """

    name: ClassVar[str] = "aalen_johansen"
    estimand: ClassVar[str] = "cumulative_incidence_difference"
    kind: ClassVar[str] = "survival"
    tags: ClassVar[EstimatorTags] = EstimatorTags(
        outcome="survival", supports_blocks=True, shift_equivariant=False, scale_equivariant=False,
        sign_flip=True,
    )

    @classmethod
    def simulate(cls, rng: np.random.Generator, *, n: int, effect: float) -> Synthetic:
        """Constant competing hazards; ``effect`` is the cause-1 log HR; truth = CIF_1 difference at h = 1."""
        df = simulate_competing(rng, n=n, log_hr=effect)

        def cif(h1: float, h2: float = 0.5, t: float = 1.0) -> float:
            return h1 / (h1 + h2) * (1 - math.exp(-(h1 + h2) * t))

        truth = cif(math.exp(effect)) - cif(1.0)
        return Synthetic(data=df, spec={"time": "time", "event": "event", "treatment": "z", "horizon": 1.0, "cause": 1},
                         truth=truth, outcome="time", treatment="z")

    @validated
    def fit(self, data: Any, *, time: str, event: str, treatment: str, horizon: Any = None,
            arms: tuple[Any, Any] | None = None, censored: Any = None, cause: Any = None,
            strata: str | None = None, blocks: str | None = None, rho: float = 0.0,
            alpha: float = 0.05, missing: str = "error") -> EffectResult:
        alpha = check_alpha(alpha)
        if horizon is None:
            raise DesignError("aalen_johansen: pass horizon=, the time at which to compare cumulative incidence.")
        hs = [float(v) for v in np.atleast_1d(np.asarray(horizon, dtype=float))]
        h = hs[0]
        sc = check_survival(data, time=time, event=event, treatment=treatment, arms=arms, censored=censored,
                            strata=strata, blocks=blocks, missing=missing, estimator=self.name,
                            strata_need_both_arms=True)
        code = sc.code_of(cause, estimator=self.name, competing=True)
        assert code is not None
        codes = list(range(1, len(sc.cause_labels) + 1))
        if not (sc.event == code).any():
            raise DataError(
                f"aalen_johansen: event column {event!r} has no events of cause {sc.label_of(code)!r}."
            )
        curves: dict[str, dict[Any, Any]] = {"treated": {}, "control": {}}
        at_h, est, var = [], {}, {}
        for arm in (0, 1):
            label = "treated" if arm else "control"
            msk = sc.z == arm
            for k in codes:
                cf = cumulative_incidence(sc.time[msk], sc.event[msk], k, alpha=alpha)
                curves[label][str(sc.label_of(k))] = {key: cf[key] for key in ("time", "cif", "lower", "upper", "at_risk")}
                for hh in hs:
                    f_h = float(_km.step_at(cf["time"], cf["cif"], np.array([hh]), before=0.0)[0])
                    v_h = float(_km.step_at(cf["time"], cf["var"], np.array([hh]), before=0.0)[0])
                    at_h.append({"arm": label, "cause": sc.label_of(k), "horizon": hh, "cif": f_h,
                                 "std_error": math.sqrt(v_h)})
                    if k == code and hh == h:
                        est[arm], var[arm] = f_h, v_h
        from effekt.plotting import nice_ticks

        end = float(sc.time.max())
        rts = nice_ticks(end)
        risk = [{"arm": "treated" if arm else "control",
                 **{f"{t_:g}": int(v) for t_, v in zip(rts, _km.at_risk(sc.time[sc.z == arm], np.asarray(rts)))}}
                for arm in (0, 1)]
        gray = []
        for k in codes:
            chi2, p = gray_test(sc.time, sc.event, sc.z, k, strata=sc.strata, rho=rho)
            gray.append({"cause": sc.label_of(k), "statistic": chi2, "p_value": p})
        se = math.sqrt(var[1] + var[0])
        if se <= 0:
            raise DataError(
                f"aalen_johansen: no events of cause {sc.label_of(code)!r} in event column {sc.event_name!r} by the "
                f"horizon {h:g} of time column {sc.cols.names.get('time')!r} in either arm; "
                "choose a later horizon."
            )
        first = sc.label_of(code)
        extra = {"cause": first, "horizon": h, "cif_treated": est[1], "cif_control": est[0],
                 "gray": sorted(gray, key=lambda r: r["cause"] != first), "curves": curves,
                 "cif_at_horizon": at_h, "risk_times": rts, "at_risk": risk, "follow_up_end": end, "rho": rho, "causes": list(sc.cause_labels),
                 "arms": {"control": sc.arm_labels[0], "treated": sc.arm_labels[1]}}
        return EffectResult.from_z(
            est[1] - est[0], se, alpha=alpha, estimator=self.name, estimand=self.estimand, term=str(treatment),
            n=sc.n, n_treated=sc.n_treated, n_control=sc.n_control, se_type="delta-method",
            design=design_of(sc), warnings=tuple(sc.warnings()), extra=extra, outcome=str(event),
            plotter=plot_cumulative_incidence,
        )


def plot_cumulative_incidence(result: EffectResult, *, ax: Any = None, labels: Any = None,
                              xlabel: str | None = None, bands: bool | str = "cause", language: str = "en") -> Any:
    """Every cause's cumulative incidence by arm (the picture of an ``aalen_johansen`` result).

    Colour marks the cause and the line style the arm; the legend (one
    block per dimension) sits beside the plot, clear of the curves. The
    analysed cause's curves carry their pointwise confidence bands
    (``bands="all"``: every cause's; ``bands=False``: none), the y-axis runs
    to just above the highest curve or band, the dotted line
    is the horizon and the table under the plot gives the number at risk in
    each arm at the x-axis ticks, up to the end of follow-up. Causes are
    named by the event column's labels; ``labels`` maps causes or arm
    values (or "control"/"treated") to other names. With ``ax=`` the curves
    are drawn into that Axes without the table. ``language="da"`` writes
    the axis titles in Danish. Returns a matplotlib Figure; nothing is
    shown.
    """
    from matplotlib.lines import Line2D

    from effekt.plotting import (
        COLOURS,
        INTERVAL_ALPHA,
        LINE_WIDTH,
        figure_and_axes,
        label_for,
        legend_outside,
        plot_word,
    )
    from effekt_survival.kaplan_meier import _arm_display

    xlabel = plot_word("time", language) if xlabel is None else xlabel

    if "curves" not in result.extra or "cif_at_horizon" not in result.extra:
        raise DesignError(f"plot_cumulative_incidence needs an aalen_johansen result; got {result.estimator!r}.")
    own = ax is None
    fig, ax = figure_and_axes(ax, size=(7.6, 5.0))
    rts = [float(t) for t in result.extra.get("risk_times", ())]
    tab = None
    if own and rts:
        gs = fig.add_gridspec(2, 1, height_ratios=[4, 1])
        ax.set_subplotspec(gs[0])
        tab = fig.add_subplot(gs[1], sharex=ax)
    styles: dict[str, Any] = {"control": "-", "treated": "--"}
    arm_names = {arm: _arm_display(result, arm, labels) for arm in ("control", "treated")}
    causes = list(result.extra.get("causes", result.extra["curves"]["control"]))
    top, right = 0.0, 0.0
    for arm in ("control", "treated"):
        by_cause = result.extra["curves"][arm]
        for i, k in enumerate(causes):
            c = by_cause[str(k)]
            colour = COLOURS[i % len(COLOURS)]
            t = np.concatenate([[0.0], np.asarray(c["time"], dtype=float)])
            f = np.concatenate([[0.0], np.asarray(c["cif"], dtype=float)])
            ax.step(t, f, where="post", linestyle=styles[arm], color=colour, linewidth=LINE_WIDTH,
                    label=f"{label_for(k, labels)}, {arm_names[arm]}")
            top = max(top, float(np.nanmax(f)))
            right = max(right, float(t[-1]))
            if bands == "all" or (bands and str(k) == str(result.extra.get("cause"))):
                lo = np.concatenate([[0.0], np.asarray(c["lower"], dtype=float)])
                hi = np.concatenate([[0.0], np.asarray(c["upper"], dtype=float)])
                ax.fill_between(t, lo, hi, step="post", color=colour, alpha=INTERVAL_ALPHA / 1.5, linewidth=0)
                top = max(top, float(np.nanmax(hi)))
    right = max(right, float(result.extra.get("follow_up_end", right)), float(result.extra["horizon"]), *(rts or [0.0])) or 1.0
    ax.set_xlim(-0.03 * right, right * 1.03)
    if rts:
        ax.set_xticks(rts)
    ax.set_ylim(0, min(1.0, max(0.05, 1.08 * top)))
    ax.set_ylabel(plot_word("cumulative incidence", language))
    ax.axvline(result.extra["horizon"], color="grey", linestyle=":", linewidth=1)
    handles = [Line2D([], [], color=COLOURS[i % len(COLOURS)], linewidth=LINE_WIDTH, label=label_for(k, labels))
               for i, k in enumerate(causes)]
    handles += [Line2D([], [], color="black", linestyle=styles[arm], linewidth=LINE_WIDTH, label=arm_names[arm])
                for arm in ("control", "treated")]
    legend_outside(ax, handles=handles)
    if tab is not None:
        tab.set_ylim(-0.5, 1.5)
        tab.set_yticks([0, 1], [arm_names["treated"], arm_names["control"]])
        for row in result.extra["at_risk"]:
            y = 1 if row["arm"] == "control" else 0
            for t_ in rts:
                tab.text(t_, y, str(row[f"{t_:g}"]), ha="center", va="center", fontsize=8)
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
