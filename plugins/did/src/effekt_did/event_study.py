"""Event study: leads and lags of treatment start in a two-way fixed-effects panel."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from effekt.data import check_option
from effekt.errors import DataError, DesignError, EstimationError
from effekt.protocol import EstimatorTags, Synthetic
from effekt.result import EffectResult, EffectTable, check_alpha
from effekt_did._absorb import FE_DF
from effekt_did._panel import FEW_TREATED_CLUSTERS, cell_weights, check_aggregation, check_panel
from effekt_did.twfe import fit_twfe_arrays

__all__ = ["EventStudy", "EventStudyTable"]


class EventStudyTable(EffectTable):
    """An :class:`EffectTable` of event-time effects that can draw itself."""

    def plot(self, ax: Any = None, *, title: str | None = None) -> Any:
        """Coefficients with confidence intervals by event time; the reference
        period is drawn as an open marker at 0 and labelled, and a dashed line
        separates leads from lags. Returns the matplotlib Figure."""
        import matplotlib.pyplot as plt

        if ax is None:
            fig, ax = plt.subplots(figsize=(7, 4))
        else:
            fig = ax.figure
        e = np.array([r.extra["event_time"] for r in self.rows], dtype=float)
        est = np.array([r.estimate for r in self.rows])
        lo = np.array([r.conf_int[0] for r in self.rows])
        hi = np.array([r.conf_int[1] for r in self.rows])
        ref = np.array([bool(r.extra.get("reference")) for r in self.rows])
        ok = ~ref
        ax.axhline(0.0, color="0.6", lw=0.8)
        ax.axvline(float(self.extra["reference"]) + 0.5, color="0.4", ls="--", lw=0.8)
        ax.errorbar(e[ok], est[ok], yerr=[est[ok] - lo[ok], hi[ok] - est[ok]], fmt="o", color="C0", capsize=3,
                    label=f"{100 * self.rows[0].conf_level:g}% CI")
        ax.plot(e[ref], est[ref], marker="o", mfc="white", color="C3", ls="none",
                label=f"reference period (e = {self.extra['reference']})")
        ax.set_xlabel("periods relative to treatment start")
        ax.set_ylabel("effect")
        p = self.extra.get("pretrend_test", {}).get("p_value")
        ax.set_title(title or ("event study" + (f" (pre-trend p = {p:.3f})" if p is not None else "")))
        ax.legend(frameon=False)
        return fig


class EventStudy:
    """Event study: effects by period relative to each unit's treatment start.

    Estimand: under parallel trends and no anticipation, the lag
    coefficients are the average effects e periods after the start, and the
    lead coefficients are zero (pre-trends), both relative to the reference
    period. With staggered starts and effects that change over time the TWFE
    coefficients mix cohorts (Sun & Abraham 2021); ``callaway_santanna`` with
    ``aggregate="dynamic"`` is the robust alternative.

    Formula: ``y_it = a_i + l_t + sum_{e != ref} b_e 1{t - g_i = e} + e_it``
    over treated units (``g_i`` = first treated period), never-treated units
    having all indicators 0. Event times before ``-leads`` and after
    ``lags`` are binned into the end points. The joint pre-trend test is the
    Wald test of all leads = 0 with the cluster-robust covariance,
    ``F = b' V^{-1} b / q`` on ``(q, G - 1)`` degrees of freedom.

    Defaults and why: ``reference=-1`` (the period before the start, the usual
    normalisation); CR2 clustered by unit, as in ``twfe``.

    Parameters
    ----------
    data : DataFrame
    outcome, unit, time : str
    treatment : str
        First treated period (a value of ``time``), 0 = never treated.
    leads, lags : int, optional
        Window; default: every event time in the data.
    reference : int, default -1
    covariates, weights, clusters, se_type, fe_df, aggregation, alpha, missing
        As in ``twfe``.

    Returns
    -------
    EventStudyTable
        One row per event time (the reference row has estimate 0 and
        ``extra["reference"]`` True); ``extra["pretrend_test"]`` holds the
        statistic, degrees of freedom and p-value; ``.plot()`` draws it.

    Raises
    ------
    DataError
        Bad columns; a treatment varying within a unit.
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
    >>> tab.extra["reference"], "pretrend_test" in tab.extra
    (-1, True)
    """

    name: ClassVar[str] = "event_study"
    estimand: ClassVar[str] = "att by event time"
    kind: ClassVar[str] = "did"
    tags: ClassVar[EstimatorTags] = EstimatorTags(outcome="panel", supports_clusters=True,
                                                  supports_covariates=True, supports_weights=True,
                                                  sign_flip=False, binary_treatment=False)

    @classmethod
    def simulate(cls, rng: np.random.Generator, *, n: int = 60, effect: float = 1.0) -> Synthetic:
        from effekt_did.callaway_santanna import simulate_staggered

        data = simulate_staggered(rng, n_units=max(int(n), 30), n_times=6, cohorts=(4,), effect=effect)
        spec = {"outcome": "y", "unit": "unit", "time": "time", "treatment": "first_treat"}
        return Synthetic(data=data, spec=spec, truth=effect, outcome="y", treatment="first_treat")

    def fit(
        self,
        data: Any,
        *,
        outcome: str,
        unit: str,
        time: str,
        treatment: str,
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
        check_alpha(alpha)
        se_type = "CR2" if se_type is None else se_type
        check_option(se_type, "se_type", ("CR2", "CR1", "CR0"))
        check_option(fe_df, "fe_df", FE_DF)
        panel = check_panel(data, outcome=outcome, unit=unit, time=time, treatment=treatment, staggered=True,
                            weights=weights, clusters=clusters, covariates=covariates, missing=missing,
                            estimator=self.name)
        aggregation = check_aggregation(aggregation, panel, self.name)
        assert panel.cohort is not None
        tval = panel.time_labels.astype(float)[panel.time]
        treated = panel.cohort != 0
        if not treated.any():
            raise DataError(f"no unit is ever treated: treatment column {treatment!r} is 0 in every row.")
        periods = panel.time_labels.astype(float)
        off_grid = treated & ~np.isin(panel.cohort, periods) & (panel.cohort <= periods.max())
        if off_grid.any():
            raise DataError(
                f"treatment column {treatment!r} must hold the first treated period (a value of "
                f"{time!r}) or 0 for never treated; {int(off_grid.sum())} row(s) hold "
                f"{np.unique(panel.cohort[off_grid])[:5].tolist()}, which are not periods of the data."
            )
        if np.all(panel.cohort[treated] <= tval.min()):
            raise DataError(
                f"treatment column {treatment!r} must hold each unit's first treated period, 0 for never "
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
        lo = -int(leads) if leads is not None else int(e_min)
        hi = int(lags) if lags is not None else int(e_max)
        if leads is not None and leads < 1 or lags is not None and lags < 0:
            raise DesignError(f"leads must be >= 1 and lags >= 0; got leads={leads!r}, lags={lags!r}.")
        if not lo <= reference <= hi:
            raise DesignError(f"reference={reference} lies outside the event window [{lo}, {hi}].")
        evb = np.clip(ev, lo, hi)
        times = [e for e in range(lo, hi + 1) if e != reference and np.any(evb == e)]
        X = np.column_stack([(evb == e).astype(float) for e in times])
        names = [f"e={e}" for e in times]
        if panel.X is not None:
            X = np.column_stack([X, panel.X])
            names += panel.covariates
        if np.linalg.matrix_rank(X[:, : len(times)]) < len(times):
            raise EstimationError("event-time indicators are collinear; narrow leads=/lags=.")
        w = cell_weights(panel) if aggregation == "cluster" else panel.weights
        cl, G = panel.cluster_codes()
        assert cl is not None
        if not (~treated).any():
            # without never-treated units, relative time is collinear with unit and period effects
            raise EstimationError("no never-treated units: event-time effects are not identified next to unit "
                                  "and period effects. Add never-treated units or use callaway_santanna with "
                                  "control_group='notyettreated'.")
        tf = fit_twfe_arrays(panel, X, names, se_type=se_type, clusters=cl, n_clusters=G, weights=w, fe_df=fe_df)
        b = tf.absorbed.coef
        se = np.sqrt(np.diag(tf.vcov))
        df_each = tf.df
        n_tc = int(np.unique(cl[treated]).size)
        warns = []
        if n_tc < FEW_TREATED_CLUSTERS:
            warns.append(f"only {n_tc} treated clusters: cluster-robust tests can over-reject.")
        if np.unique(panel.cohort[treated]).size > 1:
            warns.append("starts are staggered: TWFE event-time coefficients can mix effects across cohorts "
                         "(Sun & Abraham 2021); compare with callaway_santanna(aggregate='dynamic').")
        common: dict[str, Any] = dict(estimator=self.name, estimand=self.estimand, n=panel.n, se_type=se_type,
                      design="panel" if panel.is_panel else "repeated cross-sections", outcome=outcome)
        rows = []
        for e in range(lo, hi + 1):
            if e == reference:
                nan = float("nan")
                rows.append(EffectResult(estimate=0.0, std_error=nan, conf_int=(0.0, 0.0), conf_level=1 - alpha,
                                         p_value=nan, df=None, term=f"e={e}", ci_method="none",
                                         extra={"event_time": e, "reference": True}, **common))
                continue
            if e not in times:
                continue
            j = times.index(e)
            binned = (e == lo and leads is not None) or (e == hi and lags is not None)
            rows.append(EffectResult.from_t(b[j], se[j], df_each[j], alpha=alpha, term=f"e={e}",
                                            extra={"event_time": e, "reference": False, "binned": bool(binned)},
                                            **common))
        pre = [j for j, e in enumerate(times) if e < reference]
        extra: dict[str, Any] = {"reference": reference, "n_clusters": G, "n_treated_clusters": n_tc,
                                 "window": (lo, hi)}
        if 0 in times:
            extra["headline"] = "e=0"  # the effect at the start, the row summaries lead with
        if pre:
            bp = b[pre]
            Vp = tf.vcov[np.ix_(pre, pre)]
            q = len(pre)
            stat = float(bp @ np.linalg.solve(Vp, bp)) / q
            extra["pretrend_test"] = {"statistic": stat, "df1": q, "df2": G - 1,
                                      "p_value": float(stats.f.sf(stat, q, G - 1)), "leads": [times[j] for j in pre]}
        if panel.X is not None:
            extra["coefficients"] = pd.DataFrame({"term": names, "estimate": b, "std.error": se}).to_dict("records")
        return EventStudyTable(estimator=self.name, rows=tuple(rows), extra=extra, warnings=tuple(warns),
                               headline_term=extra.get("headline", rows[0].term))
