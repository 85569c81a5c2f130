"""Event study: leads and lags of treatment start in a two-way fixed-effects panel."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from effekt.errors import DataError, DesignError, EstimationError
from effekt.protocol import EstimatorTags, Synthetic
from effekt.result import EffectResult, EffectTable
from effekt.sandwich import blas_single_thread
from effekt.vocabulary import Choice, validated
from effekt_did._panel import FEW_TREATED_CLUSTERS, cell_weights, check_aggregation, check_panel
from effekt_did.twfe import fit_twfe_arrays

__all__ = ["EventStudy", "EventStudyTable", "plot_event_study"]


def plot_event_study(table: EffectTable, *, ax: Any = None, labels: Mapping[Any, str] | None = None,
                     title: str | None = None) -> Any:
    """Coefficients with confidence intervals by event time.

    The reference period is an open marker at 0, a dashed line separates
    leads from lags, and the overall post-period effect (the headline) is a
    line over the post-treatment event times. ``labels`` renames the axis
    titles (keys ``"event_time"``, ``"effect"``). Returns a matplotlib Figure
    built without pyplot.
    """
    from effekt.plotting import (
        COLOURS,
        LINE_WIDTH,
        figure_and_axes,
        label_for,
        legend_outside,
        reference_line,
    )

    fig, axes = figure_and_axes(ax)
    rows = [r for r in table.rows if "event_time" in r.extra]
    e = np.array([r.extra["event_time"] for r in rows], dtype=float)
    est = np.array([r.estimate for r in rows])
    lo = np.array([r.conf_int[0] for r in rows])
    hi = np.array([r.conf_int[1] for r in rows])
    ref = np.array([bool(r.extra.get("reference")) for r in rows])
    ok = ~ref
    reference_line(axes, 0.0)
    reference = table.extra.get("reference", -1)
    axes.axvline(float(reference) + 0.5, color="0.4", ls=":", lw=0.8)
    level = f"{100 * rows[0].conf_level:g}%" if rows else ""
    axes.errorbar(e[ok], est[ok], yerr=[est[ok] - lo[ok], hi[ok] - est[ok]], fmt="o", color=COLOURS[0],
                  capsize=3, label=f"{level} CI")
    axes.plot(e[ref], est[ref], marker="o", mfc="white", color=COLOURS[1], ls="none",
              label=f"reference period (e = {reference})")
    if "post" in table.terms:
        post = table.term("post")
        span = [x for x in e if x > reference]
        if span:
            axes.plot([min(span), max(span)], [post.estimate] * 2, color=COLOURS[2], lw=LINE_WIDTH,
                      label=f"post-period average {post.estimate:.3g}")
    axes.set_xlabel(label_for("event_time", labels, "periods relative to treatment start"))
    axes.set_ylabel(label_for("effect", labels, "effect"))
    p = table.extra.get("pretrend_test", {}).get("p_value")
    axes.set_title(title or ("event study" + (f" (pre-trend p = {p:.3f})" if p is not None else "")))
    legend_outside(axes)  # beside the plot, never over a coefficient
    return fig


def reference_row(e: int, alpha: float, common: dict[str, Any]) -> EffectResult:
    """The row of the reference event time ``e`` of an event study: normalised to 0 by
    construction, so no sampling variation (SE 0, interval (0, 0), no p-value)."""
    return EffectResult(estimate=0.0, std_error=0.0, conf_int=(0.0, 0.0), conf_level=1 - alpha,
                        p_value=float("nan"), df=None, term=f"e={e}", ci_method="none",
                        extra={"event_time": e, "reference": True}, **common)


@dataclass(frozen=True, repr=False)
class EventStudyTable(EffectTable):
    """An :class:`EffectTable` of event-time effects; ``plot(ax=None, labels=None)`` draws them.

    ``pretrend_power(slope=None, power=(0.5, 0.8))`` gives the power of the
    pre-trend tests against linear trends (Roth 2022), see
    :func:`effekt_did.pretrends.pretrend_power`.
    """

    def pretrend_power(self, *, slope: float | None = None, power: Sequence[float] = (0.5, 0.8),
                       alpha: float = 0.05) -> Any:
        from effekt_did.pretrends import pretrend_power

        return pretrend_power(self, slope=slope, power=power, alpha=alpha)

    def summary(self) -> str:
        text = super().summary()
        pp = self.extra.get("pretrend_power")
        if pp:
            text += (f"\npre-trend test power (Roth 2022): 50% against a linear trend of slope {pp['slope_50']:.3g}"
                     f" per period, 80% against {pp['slope_80']:.3g}")
        return text


class EventStudy:
    """Event study: effects by period relative to each unit's treatment start.

    Estimand: under parallel trends and no anticipation, the lag
    coefficients are the average effects e periods after the start, and the
    lead coefficients are zero (pre-trends), both relative to the reference
    period. With staggered starts and effects that change over time the TWFE
    coefficients mix cohorts (Sun & Abraham 2021); ``callaway_santanna`` with
    ``aggregation="dynamic"`` is the robust alternative. The headline row
    ``"post"`` is the average of the post-treatment coefficients (event
    times ``e >= 0``, equally weighted), the overall effect a power
    simulation or a report takes from the table.

    Formula: ``y_it = a_i + l_t + sum_{e != ref} b_e 1{t - g_i = e} + e_it``
    over treated units (``g_i`` = first treated period), never-treated units
    having all indicators 0. Event times before ``-leads`` and after
    ``lags`` are binned into the end points. The joint pre-trend test is the
    Wald test of all leads = 0 with the cluster-robust covariance,
    ``F = b' V^{-1} b / q`` on ``(q, G - 1)`` degrees of freedom. The
    ``"post"`` row is ``a'b`` with ``a = 1/k`` on the k post-treatment
    coefficients, ``se = sqrt(a' V a)`` from the same covariance, on the
    smallest of those coefficients' degrees of freedom.

    Defaults and why: ``reference=-1`` (the period before the start, the usual
    normalisation); CR2 clustered by unit, as in ``twfe``.

    Parameters
    ----------
    data : DataFrame
    outcome : str
        The outcome column.
    unit : str
        The panel unit.
    period : str
        The calendar period column.
    first_treated : str
        Each unit's first treated period (a value of ``period``), 0 = never
        treated.
    leads : int, default=None
        Leads kept (earlier event times binned into ``-leads``); default:
        every lead in the data. At most the data's earliest event time
        (negated); a larger value is a DesignError.
    lags : int, default=None
        Lags kept (later event times binned into ``lags``); default: every
        lag in the data. At most the data's latest event time.
    reference : int, default=-1
        The event time normalised to 0.
    covariates : list of str, default=None
        As in ``twfe``.
    weights : str, default=None
    clusters : str, default=None
        Default ``unit``.
    se_type : {"CR2", "CR1", "CR0"}, default=None
        None means "CR2".
    fe_df : {"nonnested", "all", "none"}, default="nonnested"
        As in ``twfe``.
    aggregation : {"citizen", "cluster"}, default=None
        As in ``twfe`` (required for repeated cross-sections).
    alpha : float, default=0.05
    missing : {"error", "drop"}, default="error"

    Returns
    -------
    EventStudyTable
        One row per event time (``estimand="att_by_event_time"``; the
        reference row has estimate 0, standard error 0, interval (0, 0), no
        p-value (NaN) and ``extra["reference"]`` True) and the
        headline row ``"post"`` (``estimand="att"``), the average
        post-treatment effect; ``extra["pretrend_test"]`` holds the
        statistic, degrees of freedom and p-value; ``.plot(ax=None,
        labels=None)`` draws the coefficients. ``n``, ``n_treated`` and
        ``n_control`` count rows (of ever- and never-treated units);
        ``n_units`` and ``n_clusters`` count units and clusters.

    Raises
    ------
    DataError
        Bad columns; a first treated period varying within a unit.
    EstimationError
        Event-time indicators collinear with the fixed effects (e.g. no
        never-treated units and a single start date).

    References
    ----------
    Sun & Abraham (2021). J. Econometrics 225(2), 175-199. doi:10.1016/j.jeconom.2020.09.006
    Freyaldenhoven, Hansen, Perez & Shapiro (2021). Visualization, identification and
    estimation in the linear panel event-study design. NBER WP 29170.

    Examples
    --------
    >>> import effekt as ef
    >>> syn = EventStudy.simulate(np.random.default_rng(4), n=60, effect=1.0)
    >>> tab = ef.estimate("event_study", data=syn.data, **syn.spec)
    >>> tab.extra["reference"], "pretrend_test" in tab.extra, tab.headline_term
    (-1, True, 'post')
    """

    name: ClassVar[str] = "event_study"
    estimand: ClassVar[str] = "att_by_event_time"
    kind: ClassVar[str] = "did"
    tags: ClassVar[EstimatorTags] = EstimatorTags(outcome="panel", supports_clusters=True,
                                                  supports_covariates=True, supports_weights=True,
                                                  sign_flip=False, binary_treatment=False)
    options: ClassVar[dict[str, Any]] = {
        "se_type": Choice(("CR2", "CR1", "CR0"), none_ok=True),
        "aggregation": Choice(("citizen", "cluster"), none_ok=True),
    }

    @classmethod
    def simulate(cls, rng: np.random.Generator, *, n: int = 60, effect: float = 1.0) -> Synthetic:
        from effekt_did.callaway_santanna import simulate_staggered

        data = simulate_staggered(rng, n_units=max(int(n), 30), n_times=6, cohorts=(4,), effect=effect)
        spec = {"outcome": "y", "unit": "unit", "period": "period", "first_treated": "first_treated"}
        return Synthetic(data=data, spec=spec, truth=effect, outcome="y", treatment="first_treated")

    @validated
    def fit(
        self,
        data: Any,
        *,
        outcome: str,
        unit: str,
        period: str,
        first_treated: str,
        leads: int | None = None,
        lags: int | None = None,
        reference: int = -1,
        covariates: Sequence[str] | None = None,
        weights: str | None = None,
        clusters: str | None = None,
        se_type: str | None = None,
        fe_df: str = "nonnested",
        aggregation: str | None = None,
        alpha: float = 0.05,
        missing: str = "error",
    ) -> EventStudyTable:
        se_type = "CR2" if se_type is None else se_type
        panel = check_panel(data, outcome=outcome, unit=unit, period=period, first_treated=first_treated,
                            weights=weights, clusters=clusters, covariates=covariates, missing=missing,
                            estimator=self.name)
        aggregation = check_aggregation(aggregation, panel, self.name)
        assert panel.cohort is not None
        tval = panel.time_labels.astype(float)[panel.time]
        treated = panel.cohort != 0
        if not treated.any():
            raise DataError(f"no unit is ever treated: first_treated column {first_treated!r} is 0 in every row.")
        periods = panel.time_labels.astype(float)
        off_grid = treated & ~np.isin(panel.cohort, periods) & (panel.cohort <= periods.max())
        if off_grid.any():
            raise DataError(
                f"first_treated column {first_treated!r} must hold the first treated period (a value of "
                f"{period!r}) or 0 for never treated; {int(off_grid.sum())} row(s) hold "
                f"{np.unique(panel.cohort[off_grid])[:5].tolist()}, which are not periods of the data."
            )
        if np.all(panel.cohort[treated] <= tval.min()):
            raise DataError(
                f"first_treated column {first_treated!r} must hold each unit's first treated period, 0 for never "
                f"treated; every treated unit starts in or before the first period ({tval.min():g}), so no lead "
                "can be estimated. A 0/1 treatment indicator is not a first treated period."
            )
        # event time counted in periods of the data: on an evenly spaced grid (years, every other
        # year) the difference divided by the step; on an uneven one (year-week codes such as
        # 202452 -> 202501) the difference of the periods' positions
        steps = np.diff(periods)
        if steps.size == 0 or np.allclose(steps, steps[0]):
            step = float(steps[0]) if steps.size else 1.0
            ev = np.where(treated, np.round((tval - panel.cohort) / step), np.nan)
        else:
            ev = np.where(treated, panel.time - np.searchsorted(periods, panel.cohort), np.nan).astype(float)
        e_min, e_max = np.nanmin(ev), np.nanmax(ev)
        for option, value, span in (("leads", leads, -e_min), ("lags", lags, e_max)):
            if value is not None and not 0 <= value <= max(span, 0):
                raise DesignError(
                    f"{option}={value!r} lies outside the data's event times: they run from {int(e_min)} to "
                    f"{int(e_max)}, so {option}= must be between 0 and {int(max(span, 0))} (None keeps every "
                    f"{option[:-1]})."
                )
        lo = -int(leads) if leads is not None else int(e_min)
        hi = int(lags) if lags is not None else int(e_max)
        if not lo <= reference <= hi:
            raise DesignError(f"reference={reference} lies outside the event window [{lo}, {hi}] (period column "
                              f"{period!r} minus first_treated column {first_treated!r}).")
        evb = np.clip(ev, lo, hi)
        times = [e for e in range(lo, hi + 1) if e != reference and np.any(evb == e)]
        X = np.empty((evb.size, len(times)))  # filled column by column: no list of 2e6-row temporaries
        for j, e in enumerate(times):
            np.equal(evb, e, out=X[:, j])
        names = [f"e={e}" for e in times]
        if panel.X is not None:
            X = np.column_stack([X, panel.X])
            names += panel.covariates
        Xe = X[:, : len(times)]
        with blas_single_thread():
            XtX = Xe.T @ Xe
        if np.linalg.matrix_rank(XtX, hermitian=True) < len(times):  # rank of X'X, not an SVD of X
            raise EstimationError("event-time indicators are collinear; narrow leads=/lags=.")
        w = cell_weights(panel) if aggregation == "cluster" else panel.weights
        cl, G = panel.cluster_codes()
        assert cl is not None
        if not (~treated).any():
            # without never-treated units, relative time is collinear with unit and period effects
            raise EstimationError(f"no never-treated units (first_treated column {first_treated!r} is never 0): "
                                  "event-time effects are not identified next to unit "
                                  "and period effects. Add never-treated units or use callaway_santanna with "
                                  "control_group='notyettreated'.")
        tf = fit_twfe_arrays(panel, X, names, se_type=se_type, clusters=cl, n_clusters=G, weights=w, fe_df=fe_df)
        b = tf.coef
        se = np.sqrt(np.diag(tf.vcov))
        df_each = tf.df
        n_tc = int(np.unique(cl[treated]).size)
        warns = []
        if n_tc < FEW_TREATED_CLUSTERS:
            warns.append(f"only {n_tc} treated clusters: cluster-robust tests can over-reject.")
        if np.unique(panel.cohort[treated]).size > 1:
            warns.append("starts are staggered: TWFE event-time coefficients can mix effects across cohorts "
                         "(Sun & Abraham 2021); compare with callaway_santanna(aggregation='dynamic').")
        rows_treated = int(treated.sum())
        common: dict[str, Any] = dict(estimator=self.name, estimand=self.estimand, n=panel.n, se_type=se_type,
                                      n_treated=rows_treated, n_control=panel.n - rows_treated,
                                      n_units=panel.n_units, n_clusters=G,
                                      design="panel" if panel.is_panel else "repeated_cross_section",
                                      outcome=outcome)
        rows = []
        for e in range(lo, hi + 1):
            if e == reference:
                rows.append(reference_row(e, alpha, common))
                continue
            if e not in times:
                continue
            j = times.index(e)
            binned = (e == lo and leads is not None) or (e == hi and lags is not None)
            rows.append(EffectResult.from_t(b[j], se[j], df_each[j], alpha=alpha, term=f"e={e}",
                                            extra={"event_time": e, "reference": False, "binned": bool(binned)},
                                            **common))
        pre = [j for j, e in enumerate(times) if e < reference]
        after = [j for j, e in enumerate(times) if e >= 0 and e > reference]
        if not after:
            raise EstimationError("no post-treatment event time (e >= 0) is in the window; widen lags=.")
        a = np.zeros(len(names))
        a[after] = 1.0 / len(after)
        post_se = float(np.sqrt(a @ tf.vcov @ a))
        rows.append(EffectResult.from_t(
            float(a @ b), post_se, float(np.min(df_each[after])), alpha=alpha, term="post",
            extra={"event_times": [times[j] for j in after],
                   "method": "equally weighted average of the post-treatment event-time coefficients"},
            **{**common, "estimand": "att"},
        ))
        extra: dict[str, Any] = {"reference": reference, "n_treated_clusters": n_tc, "window": (lo, hi)}
        # covariance of the event-time coefficients (reference row excluded), read by honest_did
        extra["vcov"] = tuple(tuple(float(v) for v in r) for r in tf.vcov[: len(times), : len(times)])
        extra["vcov_terms"] = tuple(f"e={e}" for e in times)
        if panel.reference_levels:
            extra["reference_levels"] = panel.reference_levels
        if pre:
            bp = b[pre]
            Vp = tf.vcov[np.ix_(pre, pre)]
            q = len(pre)
            stat = float(bp @ np.linalg.solve(Vp, bp)) / q
            extra["pretrend_test"] = {"statistic": stat, "df1": q, "df2": G - 1,
                                      "p_value": float(stats.f.sf(stat, q, G - 1)), "leads": [times[j] for j in pre]}
        if panel.X is not None:
            extra["coefficients"] = pd.DataFrame({"term": names, "estimate": b, "std.error": se}).to_dict("records")
        from effekt_did.pretrends import summary_power

        k = len(times)
        extra["event_coefficients"] = {"event_times": times, "beta": b[:k].tolist(), "vcov": tf.vcov[:k, :k].tolist(),
                                       "reference": reference, "df2": G - 1}
        extra["pretrend_power"] = summary_power(tf.vcov[:k, :k], times, reference, G - 1, alpha)
        return EventStudyTable(estimator=self.name, rows=tuple(rows), extra=extra, warnings=tuple(warns),
                               headline_term="post", plotter=plot_event_study)
