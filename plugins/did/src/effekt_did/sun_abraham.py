"""Sun & Abraham (2021): the interaction-weighted event study."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from effekt.errors import DataError, DesignError, EstimationError
from effekt.protocol import EstimatorTags, Synthetic
from effekt.result import EffectResult
from effekt.vocabulary import Choice, validated
from effekt_did._absorb import codes_of
from effekt_did._panel import FEW_TREATED_CLUSTERS, Panel, cell_weights, check_aggregation, check_panel
from effekt_did.event_study import EventStudyTable, plot_event_study, reference_row
from effekt_did.pretrends import summary_power
from effekt_did.twfe import fit_twfe_arrays

__all__ = ["SunAbraham", "simulate_dynamic", "event_times_of", "subset_panel"]


def simulate_dynamic(rng: np.random.Generator, *, n_units: int = 120, n_times: int = 8,
                     cohorts: Sequence[int] = (3, 5, 7), effect: float = 1.0, growth: float = 0.5,
                     cohort_shift: float = 0.5, growth_spread: float = 0.0,
                     never_share: float = 0.25) -> pd.DataFrame:
    """A balanced staggered panel whose effects grow with time since the start and differ by cohort.

    Unit ``u`` (never treated with probability ``never_share``, otherwise in
    one of ``cohorts`` with equal probability), periods ``1..n_times``,
    effect ``effect + growth * e + cohort_shift * (k - mean k)`` at event
    time ``e >= 0`` for the k-th cohort (earlier cohorts gain less), unit
    and period effects, standard normal noise. The true event-time path is
    in column ``te`` (per row); the TWFE event study is biased on such a
    design because its controls include already-treated units whose
    effects grow.
    """
    unit = np.repeat(np.arange(n_units), n_times)
    time = np.tile(np.arange(1, n_times + 1), n_units)
    cohorts = list(cohorts)
    never = rng.random(n_units) < never_share
    k_u = rng.integers(0, len(cohorts), n_units)
    g_u = np.where(never, 0, np.array(cohorts)[k_u])
    c_u = np.where(never, 0.0, k_u - (len(cohorts) - 1) / 2)
    g = g_u[unit]
    e = time - g
    c = c_u[unit]
    te = np.where((g > 0) & (e >= 0), effect + (growth - growth_spread * c) * e + cohort_shift * c, 0.0)
    y = (rng.normal(size=n_units)[unit] + np.sin(time) + 0.1 * time + te + rng.normal(size=unit.size))
    return pd.DataFrame({"unit": unit, "period": time, "first_treated": g, "y": y, "te": te})


def event_times_of(panel: Panel, first_treated: Any, period: Any) -> tuple[np.ndarray, np.ndarray]:
    """Event time of every row (NaN for never-treated units) and the treated-unit mask.

    A first treated period after the last period of the data means "not
    treated within the data" (fixest's convention) and counts as never
    treated; one inside the range must be a period of the data.
    """
    assert panel.cohort is not None
    periods = panel.time_labels.astype(float)
    tval = periods[panel.time]
    g = panel.cohort
    treated = (g != 0) & (g <= periods.max())
    off_grid = treated & ~np.isin(g, periods)
    if off_grid.any():
        raise DataError(
            f"first_treated column {first_treated!r} must hold the first treated period (a value of "
            f"{period!r}) or 0 for never treated; {int(off_grid.sum())} row(s) hold "
            f"{np.unique(g[off_grid])[:5].tolist()}, which are not periods of the data."
        )
    if not treated.any():
        raise DataError(f"no unit is treated within the data: first_treated column {first_treated!r} is 0 (or "
                        f"after the last period of period column {period!r}) in every row.")
    steps = np.diff(periods)
    if steps.size == 0 or np.allclose(steps, steps[0]):
        step = float(steps[0]) if steps.size else 1.0
        ev = np.where(treated, np.round((tval - g) / step), np.nan)
    else:
        ev = np.where(treated, panel.time - np.searchsorted(periods, g), np.nan).astype(float)
    return ev, treated


def subset_panel(panel: Panel, keep: np.ndarray) -> Panel:
    """The panel restricted to the rows ``keep``, units, periods and clusters coded afresh."""
    unit, ulab = codes_of(panel.unit_labels[panel.unit[keep]])
    time, tlab = codes_of(panel.time_labels[panel.time[keep]])
    out = dataclasses.replace(
        panel, n=int(keep.sum()), y=panel.y[keep], unit=unit, unit_labels=ulab, time=time, time_labels=tlab,
        cohort=None if panel.cohort is None else panel.cohort[keep],
        weights=None if panel.weights is None else panel.weights[keep],
        X=None if panel.X is None else panel.X[keep],
    )
    if panel.clusters is not None and panel.cluster_labels is not None:
        cl, clab = codes_of(panel.cluster_labels[panel.clusters[keep]])
        out.clusters, out.cluster_labels = cl, clab
    return out


def staggered_synthetic(rng: np.random.Generator, *, n: int = 120, effect: float = 1.0) -> Synthetic:
    """A staggered panel (cohorts starting in periods 3 and 5 of 6, some units never treated) with
    effect ``effect`` in every treated cell: the conformance data of the heterogeneity-robust event
    studies, whose headline's truth is ``effect``."""
    data = simulate_dynamic(rng, n_units=max(int(n), 40), n_times=6, cohorts=(3, 5), effect=effect,
                            growth=0.0, cohort_shift=0.0)
    spec = {"outcome": "y", "unit": "unit", "period": "period", "first_treated": "first_treated"}
    return Synthetic(data=data.drop(columns="te"), spec=spec, truth=effect, outcome="y",
                     treatment="first_treated")


class SunAbraham:
    """Sun & Abraham's interaction-weighted (IW) event study.

    Estimand: the average effect ``e`` periods after the start among the
    units treated at least ``e`` periods (cohorts weighted by their size in
    that event time), under parallel trends and no anticipation, robust to
    effects that differ across cohorts and over time. The headline row
    ``"post"`` is the average effect over all post-treatment observations
    (cohort x event-time cells weighted by their sizes: fixest's
    ``summary(agg = "ATT")``).

    Formula: one regression with unit and period effects and an indicator
    for every treated cohort ``g`` and event time ``e != reference``,
    ``y_it = a_i + l_t + sum_g sum_{e != ref} d_ge 1{g_i = g, t - g = e} + x_it'b + u_it``.
    Units in the control cohort (never treated, or the last-treated
    cohort, below) have no indicators. The cell coefficients ``d_ge`` are
    the cohort-specific effects (CATT); the event-time effect is
    ``sum_g s_ge d_ge`` with ``s_ge`` cohort g's share of the rows (weights)
    at event time ``e``. The shares are treated as fixed, as fixest's
    ``aggregate``/``sunab`` treat them (Sun & Abraham's variance adds the
    shares' sampling variation, which is small with many units per
    cohort): ``se = sqrt(s' V s)`` with ``V`` the clustered covariance of
    the cells. ``leads``/``lags`` bin after estimation: every cell keeps
    its own indicator (binning cells inside the regression would bring
    back the contamination the estimator removes), and the end points
    average the cells at or beyond them with the same size weights.
    The joint pre-trend test is the Wald test of all reported leads = 0,
    ``F = b' V^{-1} b / q`` on ``(q, G - 1)`` degrees of freedom.

    Defaults and why: ``reference=-1`` (fixest's ``ref.p``); CR1 clustered
    by unit with fixest's small-sample factor (``se_type="CR2"`` for the
    Bell-McCaffrey adjustment); ``control_group=None`` takes the
    never-treated units and, when there are none, the last-treated cohort,
    dropping the periods from its start on (it is treated there).

    Parameters
    ----------
    data : DataFrame
    outcome : str
    unit : str
    period : str
    first_treated : str
        Each unit's first treated period (a value of ``period``); 0 = never
        treated. A period after the last one in the data counts as never
        treated; units treated in or before the first period (no
        pre-treatment row: fixest's "always treated") are dropped with a
        warning.
    leads : int, default=None
        Leads reported (earlier event times averaged into ``-leads``);
        default every lead in the data.
    lags : int, default=None
        Lags reported (later event times averaged into ``lags``); default
        every lag in the data.
    reference : int, default=-1
        The event time normalised to 0 (its cells have no indicator).
    control_group : {"nevertreated", "lastcohort"}, default=None
        None: the never-treated units, or the last-treated cohort when no
        unit is never treated.
    covariates : list of str, default=None
    weights : str, default=None
        Regression weights; the shares use them too (fixest's
        ``use_weights``).
    clusters : str, default=None
        Default ``unit``.
    se_type : {"CR1", "CR2", "CR0"}, default=None
        None means "CR1" (fixest).
    fe_df : {"nonnested", "all", "none"}, default="nonnested"
        How absorbed fixed effects count in CR1's small-sample factor.
    aggregation : {"citizen", "cluster"}, default=None
        As in ``event_study`` (required for repeated cross-sections).
    alpha : float, default=0.05
    missing : {"error", "drop"}, default="error"

    Returns
    -------
    EventStudyTable
        Rows ``"e=<k>"`` (``estimand="att_by_event_time"``; the reference
        row 0 with ``extra["reference"]`` True) and the headline ``"post"``
        (``estimand="att"``). ``extra``: ``"cells"`` (cohort, event time,
        size, estimate, std.error of every cell), ``"pretrend_test"``,
        ``"event_coefficients"`` (event times, coefficients and their
        covariance, for ``pretrend_power`` and sensitivity analyses),
        ``"pretrend_power"`` (slopes of a linear trend the joint pre-trend
        test detects with 50% and 80% probability), ``"control_group"``.
        ``.plot()`` draws the event-time path; ``.pretrend_power(slope=)``
        the power of the pre-trend tests.

    Raises
    ------
    DataError
        Bad columns; a first treated period varying within a unit or off the
        period grid; no treated unit.
    DesignError
        No comparison group (no never-treated unit and a single cohort);
        ``control_group="nevertreated"`` without never-treated units; a
        window or reference outside the data.
    EstimationError
        Cell indicators collinear with the fixed effects.

    References
    ----------
    Sun, L. & Abraham, S. (2021). Estimating dynamic treatment effects in event studies with
    heterogeneous treatment effects. J. Econometrics 225(2), 175-199. doi:10.1016/j.jeconom.2020.09.006
    Berge, L. (2018). fixest: efficient estimation of fixed-effect models (``sunab``,
    ``aggregate.fixest``).

    Examples
    --------
    >>> import effekt as ef
    >>> syn = SunAbraham.simulate(np.random.default_rng(1), n=120, effect=1.0)
    >>> tab = ef.estimate("sun_abraham", data=syn.data, **syn.spec)
    >>> tab.headline_term, tab.extra["control_group"]
    ('post', 'nevertreated')
    """

    name: ClassVar[str] = "sun_abraham"
    estimand: ClassVar[str] = "att_by_event_time"
    kind: ClassVar[str] = "did"
    tags: ClassVar[EstimatorTags] = EstimatorTags(outcome="panel", supports_clusters=True,
                                                  supports_covariates=True, supports_weights=True,
                                                  sign_flip=False, binary_treatment=False)
    options: ClassVar[dict[str, Any]] = {
        "se_type": Choice(("CR1", "CR2", "CR0"), none_ok=True),
        "aggregation": Choice(("citizen", "cluster"), none_ok=True),
        "control_group": Choice(("nevertreated", "lastcohort"), none_ok=True),
    }

    @classmethod
    def simulate(cls, rng: np.random.Generator, *, n: int = 120, effect: float = 1.0) -> Synthetic:
        """A staggered panel with effect ``effect`` in every treated cell (the headline's truth)."""
        return staggered_synthetic(rng, n=n, effect=effect)

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
        control_group: str | None = None,
        covariates: Sequence[str] | None = None,
        weights: str | None = None,
        clusters: str | None = None,
        se_type: str | None = None,
        fe_df: str = "nonnested",
        aggregation: str | None = None,
        alpha: float = 0.05,
        missing: str = "error",
    ) -> EventStudyTable:
        se_type = "CR1" if se_type is None else se_type
        panel = check_panel(data, outcome=outcome, unit=unit, period=period, first_treated=first_treated,
                            weights=weights, clusters=clusters, covariates=covariates, missing=missing,
                            estimator=self.name)
        aggregation = check_aggregation(aggregation, panel, self.name)
        ev, treated = event_times_of(panel, first_treated, period)
        assert panel.cohort is not None
        g = np.where(treated, panel.cohort, 0.0)
        warns: list[str] = []
        # cohorts without a pre-treatment row ("always treated") cannot be compared: dropped
        pre_rows = np.bincount(panel.unit, weights=(treated & (ev < 0)).astype(float), minlength=panel.n_units)
        always = treated & (pre_rows[panel.unit] == 0)
        if not (treated & ~always).any():
            raise DataError(
                f"every treated unit is treated from its first row on (first_treated column {first_treated!r} "
                "at or before the unit's first period), so no treated unit has a pre-treatment period to compare. "
                "A 0/1 treatment indicator is not a first treated period."
            )
        keep = ~always
        if always.any():
            n_always = int(np.unique(panel.unit[always]).size)
            warns.append(f"{n_always} unit(s) treated from their first period on (no pre-treatment row) were "
                         "dropped, as fixest's sunab drops the always treated.")
        never = ~treated & keep
        if control_group is None:
            control_group = "nevertreated" if never.any() else "lastcohort"
        if control_group == "nevertreated" and not never.any():
            raise DesignError(
                "control_group='nevertreated' but no unit is never treated; use control_group='lastcohort' "
                "(the last-treated cohort as comparison, periods from its start on dropped)."
            )
        control = never.copy()
        if control_group == "lastcohort":
            last = float(g[treated & keep].max())
            control |= keep & (g == last)
            tval = panel.time_labels.astype(float)[panel.time]
            keep &= tval < last
            if not (keep & treated & (g != last)).any():
                raise DesignError(
                    "no comparison group: no unit is never treated and, with the last-treated cohort "
                    f"(first treated {last:g}) as comparison, no other cohort is treated before it. Sun-Abraham "
                    f"needs never-treated units or at least two cohorts (first_treated column {first_treated!r})."
                )
        cell_mask = keep & treated & ~control
        if not (cell_mask & (ev >= 0)).any():
            raise DesignError("no treated row lies before the comparison cohort's start: nothing to estimate "
                              f"(first_treated column {first_treated!r}, period column {period!r}).")
        sub = subset_panel(panel, keep)
        ev_s, g_s = ev[keep], g[keep]
        cells_s = cell_mask[keep] & (ev_s != reference)
        e_all = ev_s[cell_mask[keep]]
        e_min, e_max = int(np.nanmin(e_all)), int(np.nanmax(e_all))
        for option, value, span in (("leads", leads, -e_min), ("lags", lags, e_max)):
            if value is not None and not 0 <= value <= max(span, 0):
                raise DesignError(
                    f"{option}={value!r} lies outside the data's event times: they run from {e_min} to {e_max}, "
                    f"so {option}= must be between 0 and {max(span, 0)} (None keeps every {option[:-1]})."
                )
        lo = -int(leads) if leads is not None else e_min
        hi = int(lags) if lags is not None else e_max
        if not lo <= reference <= hi:
            raise DesignError(f"reference={reference} lies outside the event window [{lo}, {hi}].")
        # one indicator per (cohort, event time) cell
        # (cohort, event time) as one integer key, sorted by cohort then event time
        g_code, g_lab = codes_of(g_s[cells_s])
        e_int = ev_s[cells_s].astype(np.int64)
        span = int(e_int.max() - e_int.min()) + 1
        cell_code, keys = codes_of(g_code * span + (e_int - e_int.min()))
        cell_labels = [(float(g_lab[k // span]), int(k % span + e_int.min())) for k in keys]
        n_cells = len(cell_labels)
        rows_c = np.flatnonzero(cells_s)
        X = np.zeros((sub.n, n_cells))
        X[rows_c, cell_code] = 1.0
        names = [f"cohort={c:g}:e={int(e)}" for c, e in cell_labels]
        if sub.X is not None:
            X = np.column_stack([X, sub.X])
            names += sub.covariates
        w = cell_weights(sub) if aggregation == "cluster" else sub.weights
        cl, G = sub.cluster_codes()
        tf = fit_twfe_arrays(sub, X, names, se_type=se_type, clusters=cl, n_clusters=G, weights=w, fe_df=fe_df)
        b = tf.coef[:n_cells]
        V = tf.vcov[:n_cells, :n_cells]
        df_cells = np.asarray(tf.df[:n_cells], dtype=float)
        size = np.bincount(cell_code, weights=None if w is None else w[rows_c], minlength=n_cells)
        cell_e = np.array([int(e) for _, e in cell_labels])
        cell_g = np.array([float(c) for c, _ in cell_labels])
        # aggregation matrix: one row per reported event time, then the overall ATT
        times = [e for e in range(lo, hi + 1) if e != reference]
        binned_e = np.clip(cell_e, lo, hi)
        A_rows, times_kept = [], []
        for e in times:
            m = binned_e == e
            if not m.any():
                continue
            a = np.where(m, size, 0.0)
            A_rows.append(a / a.sum())
            times_kept.append(e)
        post = cell_e >= 0
        a_att = np.where(post, size, 0.0)
        A = np.vstack([*A_rows, a_att / a_att.sum()])
        est = A @ b
        VA = A @ V @ A.T
        se = np.sqrt(np.clip(np.diag(VA), 0.0, None))
        df_agg = [float(np.min(df_cells[A[j] > 0])) for j in range(A.shape[0])]
        n_tc = int(np.unique(cl[cells_s & (ev_s >= 0)]).size)
        if n_tc < FEW_TREATED_CLUSTERS:
            warns.append(f"only {n_tc} treated clusters: cluster-robust tests can over-reject.")
        rows_treated = int((keep & treated & ~control).sum())
        common: dict[str, Any] = dict(estimator=self.name, estimand=self.estimand, n=sub.n, se_type=se_type,
                                      n_treated=rows_treated, n_control=sub.n - rows_treated,
                                      n_units=sub.n_units, n_clusters=G,
                                      design="panel" if sub.is_panel else "repeated_cross_section",
                                      outcome=outcome)
        rows = []
        for e in range(lo, hi + 1):
            if e == reference:
                rows.append(reference_row(e, alpha, common))
                continue
            if e not in times_kept:
                continue
            j = times_kept.index(e)
            binned = bool((e == lo and np.any(cell_e < lo)) or (e == hi and np.any(cell_e > hi)))
            rows.append(EffectResult.from_t(est[j], se[j], df_agg[j], alpha=alpha, term=f"e={e}",
                                            extra={"event_time": e, "reference": False, "binned": binned,
                                                   "cohorts": cell_g[A[j] > 0].tolist()},
                                            **common))
        rows.append(EffectResult.from_t(
            est[-1], se[-1], df_agg[-1], alpha=alpha, term="post",
            extra={"event_times": sorted({int(x) for x in cell_e[post]}),
                   "method": "post-treatment cohort x event-time cells weighted by their sizes "
                             "(fixest summary(agg = 'ATT'))"},
            **{**common, "estimand": "att"},
        ))
        k = len(times_kept)
        bk, Vk = est[:k], VA[:k, :k]
        extra: dict[str, Any] = {"reference": reference, "window": (lo, hi), "n_treated_clusters": n_tc,
                                 "control_group": control_group,
                                 "shares": "cell sizes, treated as fixed (fixest's aggregate)"}
        extra["cells"] = pd.DataFrame({"cohort": cell_g, "event_time": cell_e, "size": size, "estimate": b,
                                       "std.error": np.sqrt(np.diag(V))}).to_dict("records")
        if panel.reference_levels:
            extra["reference_levels"] = panel.reference_levels
        pre = [j for j, e in enumerate(times_kept) if e < reference]
        if pre:
            bp, Vp = bk[pre], Vk[np.ix_(pre, pre)]
            q = len(pre)
            try:
                stat = float(bp @ np.linalg.solve(Vp, bp)) / q
                extra["pretrend_test"] = {"statistic": stat, "df1": q, "df2": G - 1,
                                          "p_value": float(stats.f.sf(stat, q, G - 1)),
                                          "leads": [times_kept[j] for j in pre]}
            except np.linalg.LinAlgError:
                warns.append("the covariance of the leads is singular: no joint pre-trend test.")
        extra["event_coefficients"] = {"event_times": times_kept, "beta": bk.tolist(), "vcov": Vk.tolist(),
                                       "reference": reference, "df2": G - 1}
        extra["pretrend_power"] = summary_power(Vk, times_kept, reference, G - 1, alpha)
        if not np.all(np.isfinite(est)):
            raise EstimationError("the interaction-weighted estimates are not finite; check the outcome.")
        return EventStudyTable(estimator=self.name, rows=tuple(rows), extra=extra, warnings=tuple(warns),
                               headline_term="post", plotter=plot_event_study)
