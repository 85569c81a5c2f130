"""Callaway & Sant'Anna (2021): group-time ATTs for staggered adoption."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from effekt.data import as_frame, check_positive_int, check_seed
from effekt.errors import DataError, DesignError, EstimationError
from effekt.protocol import EstimatorTags, Synthetic
from effekt.result import EffectResult, EffectTable
from effekt.vocabulary import Choice, Number, validated
from effekt_did._cs_kernels import aggregate, att_gt, att_gt_rc, multiplier_bootstrap
from effekt_did._panel import check_panel

__all__ = ["CallawaySantAnna", "simulate_staggered", "plot_dynamic"]

_AGG = ("simple", "group", "dynamic", "calendar", "none")


def _wide(panel: Any) -> tuple[np.ndarray, np.ndarray]:
    """(n_units, n_periods) outcome matrix and the row order; DataError unless balanced."""
    n_u, n_t = panel.n_units, panel.n_times
    if panel.n != n_u * n_t or not panel.is_panel:
        counts = np.bincount(panel.unit, minlength=n_u)
        short = np.flatnonzero(counts != n_t)
        raise DataError(
            f"callaway_santanna needs a balanced panel: {short.size} of {n_u} units are not observed "
            f"exactly once in each of the {n_t} periods of {panel.names['period']!r} (e.g. {panel.names['unit']!r} = "
            f"{panel.unit_labels[short[:3]].tolist()}). Pass allow_unbalanced_panel=True to keep every "
            "unit (R did's option of that name), panel=False for repeated cross-sections, or analyse a "
            "balanced subset."
        )
    Y = np.empty((n_u, n_t))
    Y[panel.unit, panel.time] = panel.y
    return Y, panel.unit * n_t + panel.time


class CallawaySantAnna:
    """Group-time average treatment effects ATT(g, t) and their aggregations.

    Estimand: ``ATT(g, t) = E[Y_t(g) - Y_t(0) | G = g]``, the effect in
    period t on the cohort first treated in period g, identified by parallel
    trends with never-treated or not-yet-treated comparison units; and its
    aggregations: ``simple`` (cohort-size weighted average of post-treatment
    cells), ``group`` (by cohort), ``dynamic`` (by event time e = t - g) and
    ``calendar`` (by period).

    Formula: ``ATT(g,t) = E[Y_t - Y_b | G=g] - E[Y_t - Y_b | C]`` with base
    ``b = g - 1 - anticipation`` (and ``b = t - 1`` for pre-periods when
    ``base_period="varying"``), or its covariate-adjusted form: outcome
    regression (``reg``), standardised inverse probability weighting (``ipw``)
    or doubly robust (``dr``; Sant'Anna & Zhao 2020). Standard errors from the
    influence functions, ``se = sqrt(sum psi_i^2) / n``
    (``se_type="influence_function"``), or with ``clusters``
    ``se = sqrt(sum_g (sum_{i in g} psi_i)^2) / n`` (``se_type="clustered"``,
    the variance the clustered multiplier bootstrap estimates); aggregations
    include the influence of the estimated cohort shares.

    Defaults and why: R did's: never-treated comparisons, varying base
    period, ``est_method="dr"`` (without covariates all three coincide),
    analytic SEs (``sims=0``); ``sims=999`` gives multiplier-
    bootstrap SEs and uniform confidence bands over the reported rows.

    Parameters
    ----------
    data : DataFrame
        A panel, one row per unit and period (balanced, or unbalanced with
        ``allow_unbalanced_panel=True``), or repeated cross-sections
        (``panel=False``).
    outcome : str
        The outcome column.
    unit : str, default=None
        The panel unit; required with ``panel=True``. With ``panel=False`` it
        may be left out (each row is its own observation); given, it must not
        repeat within a period.
    period : str
        The calendar period column.
    first_treated : str
        Each unit's first treated period (a value of ``period``); 0 = never
        treated (R did's convention). Cohorts treated in the first period
        are dropped with a warning (no pre-period); a first treated period
        after the last period counts as never treated.
    covariates : list of str, default=None
        Taken in each comparison's base period.
    control_group : {"nevertreated", "notyettreated"}, default="nevertreated"
    est_method : {"dr", "ipw", "reg"}, default="dr"
    base_period : {"varying", "universal"}, default="varying"
    anticipation : int, default=0
    aggregation : {"simple", "group", "dynamic", "calendar", "none"}, default="simple"
        ``"simple"`` returns one ``EffectResult``; the others an
        ``EffectTable`` whose first row, ``"overall"``, is the overall ATT
        and the headline (for ``"dynamic"`` the average over event times
        ``e >= 0``, as R did's ``aggte``; for ``"none"`` the simple
        aggregation, followed by the ATT(g, t) rows).
    weights : str, default=None
        Unit weights (constant within unit), normalised to mean 1.
    clusters : str, default=None
        Clusters of units (constant within unit): the analytic SE sums the
        influence functions within clusters, the bootstrap shares its draws
        within clusters.
    se_type : {"influence_function", "clustered"}, default=None
        The analytic SE: ``"influence_function"`` (units independent, R
        did's analytic SE) or ``"clustered"`` (influence functions summed
        within ``clusters``). None: ``"clustered"`` with clusters, else
        ``"influence_function"``. With ``sims`` the multiplier bootstrap
        gives the SEs instead (the rows' ``se_type`` says so), and se_type
        must be left out.
    sims : int, default=0
        Multiplier-bootstrap draws (at least 99); 0 for analytic SEs.
    alpha : float, default=0.05
    seed : int or Generator, default=None
        Seed of the bootstrap draws.
    missing : {"error", "drop"}, default="error"
    panel : bool, default=True
        False: repeated cross-sections. Each 2x2 comparison uses the rows of
        its two periods (DRDID's ``*_did_rc`` estimators, R did's
        ``panel = FALSE``) and every row is an independent observation.
    allow_unbalanced_panel : bool, default=False
        True: a panel whose units are missing in some periods is analysed
        whole, none dropped, as R did's ``allow_unbalanced_panel = TRUE``:
        the repeated cross-section estimator with influence functions summed
        within units (standard errors clustered by unit). A balanced panel
        takes the panel estimator, as R did. With covariates these two paths
        use DRDID's cross-section estimators (``drdid_rc``, ``std_ipw_did_rc``,
        ``reg_did_rc``), each row with its own covariates.
    min_e : float, default=None
        The earliest event time kept by ``aggregation="dynamic"`` (R did's
        ``aggte(min_e=)``).
    max_e : float, default=None
        The latest event time kept by ``aggregation="dynamic"``; it also bounds
        the post-treatment cells of ``"simple"``, ``"group"`` and ``"none"``'s
        overall row, as R did.
    balance_e : int, default=None
        ``aggregation="dynamic"`` with only the cohorts observed at least
        ``balance_e`` periods after treatment, and event times in
        ``[balance_e - (last - first period), balance_e]`` (R did's
        ``aggte(balance_e=)``).

    Returns
    -------
    EffectResult or EffectTable
        ``extra["att_gt"]`` lists every ATT(g, t) with its SE; tables carry
        ``extra["vcov"]``, the covariance of their rows after "overall"
        (``extra["vcov_terms"]``), which ``honest_did`` reads; with the
        bootstrap, ``extra["uniform_crit"]``, ``extra["sims"]`` and each
        row's ``extra["uniform_conf_int"]``. Estimands: ``"att"`` (the
        overall row), ``"att_by_cohort"``, ``"att_by_event_time"``,
        ``"att_by_period"`` or ``"att_gt"``. ``n``, ``n_treated`` and
        ``n_control`` count rows (unit-periods) analysed, ``n_units`` the
        units. ``.plot(ax=None, labels=None)`` draws the event-time
        effects of ``aggregation="dynamic"`` (a forest of the rows
        otherwise).

    Raises
    ------
    DataError
        Unbalanced panel without ``allow_unbalanced_panel=True``, a unit
        repeating within a period with ``panel=False``, a first treated
        period that is not a period of the data, a treatment or weight
        varying within a unit.
    DesignError
        No never-treated units with ``control_group="nevertreated"``,
        unknown options.

    Notes
    -----
    Point estimates and analytic SEs follow R did 2.x (``att_gt``,
    ``compute.att_gt``, ``aggte``). The bootstrap uses Rademacher weights
    and the rescaled interquartile range, as R did (``BMisc``'s multiplier
    bootstrap); with ``clusters`` it multiplies each cluster's *sum* of
    influence functions, the cluster-robust form, where R did multiplies
    cluster *means* (the two agree for clusters of equal size). Tests compare
    ATT(g, t) with diff-diff and csdid.

    References
    ----------
    Callaway & Sant'Anna (2021). J. Econometrics 225(2), 200-230. doi:10.1016/j.jeconom.2020.12.001
    Sant'Anna & Zhao (2020). J. Econometrics 219(1), 101-122. doi:10.1016/j.jeconom.2020.06.003

    Examples
    --------
    >>> import effekt as ef
    >>> syn = CallawaySantAnna.simulate(np.random.default_rng(0), n=200, effect=1.0)
    >>> res = ef.estimate("callaway_santanna", data=syn.data, **syn.spec)
    >>> res.estimand, bool(abs(res.estimate - 1.0) < 4 * res.std_error)
    ('att', True)
    >>> tab = ef.estimate("callaway_santanna", data=syn.data, aggregation="dynamic", **syn.spec)
    >>> tab.headline_term, tab.terms[1]
    ('overall', 'e=-3')
    """

    name: ClassVar[str] = "callaway_santanna"
    estimand: ClassVar[str] = "att"
    kind: ClassVar[str] = "did"
    tags: ClassVar[EstimatorTags] = EstimatorTags(outcome="panel", supports_covariates=True,
                                                  supports_weights=True, supports_clusters=True,
                                                  binary_treatment=False, sign_flip=False)
    options: ClassVar[dict[str, Any]] = {
        "aggregation": Choice(_AGG),
        "se_type": Choice(("influence_function", "clustered"), none_ok=True),
        # bounded so that a count such as 1e20 is refused by name, not an allocation or an overflow
        "sims": Number(low=0, high=10**6, integer=True),
        "anticipation": Number(low=0, high=10**6, integer=True),
    }

    @classmethod
    def simulate(cls, rng: np.random.Generator, *, n: int = 200, effect: float = 1.0) -> Synthetic:
        data = simulate_staggered(rng, n_units=max(int(n), 40), n_times=6, cohorts=(3, 5), effect=effect)
        spec = {"outcome": "y", "unit": "unit", "period": "period", "first_treated": "first_treated"}
        return Synthetic(data=data, spec=spec, truth=effect, outcome="y", treatment="first_treated")

    @validated
    def fit(
        self,
        data: Any,
        *,
        outcome: str,
        unit: str | None = None,
        period: str,
        first_treated: str,
        covariates: Sequence[str] | None = None,
        control_group: str = "nevertreated",
        est_method: str = "dr",
        base_period: str = "varying",
        anticipation: int = 0,
        aggregation: str = "simple",
        weights: str | None = None,
        clusters: str | None = None,
        se_type: str | None = None,
        sims: int = 0,
        alpha: float = 0.05,
        seed: Any = None,
        missing: str = "error",
        panel: bool = True,
        allow_unbalanced_panel: bool = False,
        min_e: float | None = None,
        max_e: float | None = None,
        balance_e: int | None = None,
    ) -> EffectResult | EffectTable:
        window = _check_window(aggregation, min_e, max_e, balance_e, self.name)
        if sims:
            check_positive_int(sims, "sims", minimum=99)
            if se_type is not None:
                raise DesignError(
                    f"{self.name}: se_type={se_type!r} names an analytic SE, but sims={sims} asks for the "
                    "multiplier bootstrap's; leave se_type out with sims, or set sims=0."
                )
        if se_type == "clustered" and clusters is None:
            raise DesignError(f"{self.name}: se_type='clustered' needs clusters= (the column of clusters of units).")
        if se_type is None and not sims:
            se_type = "clustered" if clusters is not None else "influence_function"
        if unit is None and panel:
            raise DesignError(f"{self.name} needs unit= (the panel unit) with panel=True; for repeated "
                              "cross-sections pass panel=False.")
        frame = as_frame(data)
        unit_col: Any = unit
        if unit is None:
            unit_col = "__row__"
            while unit_col in frame.columns:
                unit_col += "_"
            frame = frame.assign(**{unit_col: np.arange(len(frame))})
        pnl = check_panel(frame, outcome=outcome, unit=unit_col, period=period, first_treated=first_treated,
                          weights=weights, clusters=clusters, covariates=covariates, missing=missing,
                          estimator=self.name)
        _check_covariates(pnl, self.name)
        if int(anticipation) >= pnl.n_times:
            raise DesignError(
                f"{self.name}: anticipation={anticipation} is not less than the number of periods in the data "
                f"({pnl.n_times}), so no cohort has a base period; lower anticipation."
            )
        if np.ptp(pnl.y) == 0:
            raise DataError(
                f"{self.name}: outcome column {outcome!r} is {pnl.y[0]:g} in every row, so there is no effect "
                "to estimate and its standard error is undefined; check the outcome column."
            )
        balanced = pnl.is_panel and pnl.n == pnl.n_units * pnl.n_times
        if not panel or (allow_unbalanced_panel and not balanced):
            return self._fit_rc(pnl, panel=panel, unit_given=unit is not None, covariates=covariates,
                                control_group=control_group, est_method=est_method, base_period=base_period,
                                anticipation=int(anticipation), aggregation=aggregation, se_type=se_type,
                                sims=int(sims), alpha=alpha, seed=seed, window=window, weights=weights,
                                clusters=clusters)
        Y, cell = _wide(pnl)
        n, T = Y.shape
        times = pnl.time_labels.astype(float)
        g_unit = np.zeros(n)
        assert pnl.cohort is not None
        g_unit[pnl.unit] = pnl.cohort
        warns: list[str] = []
        G = np.full(n, -1, dtype=np.intp)
        treated = g_unit != 0
        late = treated & (g_unit > times.max())
        on_grid = np.isin(g_unit, times)
        bad = treated & ~late & ~on_grid
        if bad.any():
            raise DataError(
                f"first_treated column {first_treated!r} must hold the first treated period (a value of "
                f"{period!r}) or 0 for never treated; {int(bad.sum())} unit(s) have "
                f"{np.unique(g_unit[bad])[:5].tolist()}, which are not periods of the data."
            )
        G[treated & on_grid] = np.searchsorted(times, g_unit[treated & on_grid])
        first = G == 0
        if first.any() and not (G > 0).any():
            raise DataError(
                f"first_treated column {first_treated!r} must hold each unit's first treated period, 0 for never "
                f"treated; every treated unit has the first period of the data ({times[0]:g}), so no cohort has "
                "a pre-treatment period. A 0/1 treatment indicator is not a first treated period: compute it, "
                "e.g. the first period in which a unit is treated."
            )
        if first.any():
            warns.append(f"{int(first.sum())} unit(s) treated in the first period were dropped: they have no "
                         "pre-treatment period (R did does the same).")
        keep_units = ~first
        if late.any():
            warns.append(f"{int(late.sum())} unit(s) first treated after the last period are counted as never "
                         "treated.")
        w = np.ones(n)
        if pnl.weights is not None:
            w = np.zeros(n)
            w[pnl.unit] = pnl.weights
            if np.any(w[pnl.unit] != pnl.weights):
                raise DataError(f"weights column {weights!r} must be constant within each unit (unit weights, as "
                                "in R did); some units have several values.")
        Xb = None
        if pnl.X is not None:
            k = pnl.X.shape[1]
            Xw = np.empty((n, T, k))
            Xw[pnl.unit, pnl.time] = pnl.X - pnl.X.mean(axis=0)  # centred: same fit, no loss at x + 1e9
            Xb = np.concatenate([np.ones((n, T, 1)), Xw], axis=2).transpose(1, 0, 2)  # (T, n, k+1)
        cl = None
        if pnl.clusters is not None:
            cl_u = np.zeros(n, dtype=np.intp)
            cl_u[pnl.unit] = pnl.clusters
            cl = cl_u
        if not keep_units.all():
            Y, G, w = Y[keep_units], G[keep_units], w[keep_units]
            Xb = None if Xb is None else Xb[:, keep_units]
            cl = None if cl is None else np.unique(cl[keep_units], return_inverse=True)[1]
        n = Y.shape[0]
        w = w / w.mean()
        if control_group == "nevertreated" and not (G < 0).any():
            raise DesignError(
                f"control_group='nevertreated' needs units that are never treated (first_treated column "
                f"{first_treated!r} = 0), and there are none. Use control_group='notyettreated'."
            )
        if not (G >= 0).any():
            raise DataError(f"no unit is ever treated: first_treated column {first_treated!r} is 0 for every unit "
                            f"(or names no period of {pnl.names['period']!r}).")
        try:
            cells, inf = att_gt(Y, G, w, Xb, control_group=control_group, base_period=base_period,
                                anticipation=int(anticipation), method=est_method)
        except EstimationError as exc:  # a singular comparison regression: name the covariates
            raise EstimationError(f"{exc} (covariates: {', '.join(map(repr, covariates or [])) or 'none'})") from None
        n_treated = int((G >= 0).sum())
        common: dict[str, Any] = dict(estimator=self.name, n=n * T, n_treated=n_treated * T,
                                      n_control=(n - n_treated) * T, n_units=n,
                                      n_clusters=None if cl is None else int(cl.max()) + 1,
                                      design="staggered", outcome=outcome)
        extra_tab: dict[str, Any] = {"control_group": control_group, "est_method": est_method,
                                     "base_period": base_period, "anticipation": int(anticipation),
                                     "aggregation": aggregation, "panel": True}
        if pnl.reference_levels:
            extra_tab["reference_levels"] = pnl.reference_levels
        return _assemble(self.name, cells, inf, G, w, cl, times, common=common, extra_tab=extra_tab,
                         warns=warns, aggregation=aggregation, se_type=se_type, sims=int(sims), alpha=alpha,
                         seed=seed, window=window)

    def _fit_rc(self, pnl: Any, *, panel: bool, unit_given: bool, covariates: Any, control_group: str,
                est_method: str, base_period: str, anticipation: int, aggregation: str, se_type: str | None,
                sims: int, alpha: float, seed: Any, window: dict[str, Any], weights: Any, clusters: Any
                ) -> EffectResult | EffectTable:
        """Repeated cross-sections (``panel=False``) and unbalanced panels (R did's
        ``allow_unbalanced_panel = TRUE``): every row kept, influence functions summed
        within units (unbalanced panel) or per row (cross-sections)."""
        names = pnl.names
        if not panel:
            if unit_given and not pnl.is_panel:
                cell = pnl.unit * pnl.n_times + pnl.time
                counts = np.bincount(cell)
                dup = np.flatnonzero(counts > 1)
                shown = [f"{names['unit']}={pnl.unit_labels[c // pnl.n_times]!r}, "
                         f"{names['period']}={pnl.time_labels[c % pnl.n_times]!r}" for c in dup[:3]]
                raise DataError(
                    f"{self.name}: panel=False treats every row as a different observation (repeated "
                    f"cross-sections), but unit column {names['unit']!r} repeats within a period in {dup.size} "
                    f"(unit, period) cell(s) ({'; '.join(shown)}). Leave unit= out for repeated "
                    "cross-sections, or, for a panel whose units come and go, pass panel=True with "
                    "allow_unbalanced_panel=True."
                )
            ids = np.arange(pnl.n)
        else:
            if not pnl.is_panel:
                cell = pnl.unit * pnl.n_times + pnl.time
                dup = np.flatnonzero(np.bincount(cell) > 1)
                raise DataError(
                    f"{self.name}: a panel has one row per unit and period, but {dup.size} (unit, period) "
                    f"cell(s) of {names['unit']!r} and {names['period']!r} have several rows (e.g. "
                    f"{names['unit']}={pnl.unit_labels[dup[0] // pnl.n_times]!r}). Aggregate them, or pass "
                    "panel=False for repeated cross-sections."
                )
            ids = pnl.unit
        times = pnl.time_labels.astype(float)
        assert pnl.cohort is not None
        g_row = pnl.cohort.astype(float)
        treated = g_row != 0
        late = treated & (g_row > times.max())
        on_grid = np.isin(g_row, times)
        bad = treated & ~late & ~on_grid
        ft = names["first_treated"]
        if bad.any():
            raise DataError(
                f"first_treated column {ft!r} must hold the first treated period (a value of "
                f"{names['period']!r}) or 0 for never treated; {int(bad.sum())} row(s) have "
                f"{np.unique(g_row[bad])[:5].tolist()}, which are not periods of the data."
            )
        G = np.full(pnl.n, -1, dtype=np.intp)
        G[treated & on_grid] = np.searchsorted(times, g_row[treated & on_grid])
        warns: list[str] = []
        what = "unit(s)" if panel else "row(s)"
        first = G == 0
        if first.any() and not (G > 0).any():
            raise DataError(
                f"first_treated column {ft!r} must hold each unit's first treated period, 0 for never treated; "
                f"every treated row has the first period of the data ({times[0]:g}), so no cohort has a "
                "pre-treatment period."
            )
        if first.any():
            n_first = np.unique(ids[first]).size
            warns.append(f"{n_first} {what} treated in the first period were dropped: they have no "
                         "pre-treatment period (R did does the same).")
        if late.any():
            warns.append(f"{np.unique(ids[late]).size} {what} first treated after the last period are counted "
                         "as never treated.")
        keep = ~first
        y, tcode, G = pnl.y[keep], pnl.time[keep], G[keep]
        ids = np.unique(ids[keep], return_inverse=True)[1]
        n_ids = int(ids.max()) + 1
        w_row = np.ones(y.size) if pnl.weights is None else pnl.weights[keep].astype(float)
        X = None
        if pnl.X is not None:
            X = np.column_stack([np.ones(y.size), pnl.X[keep] - pnl.X[keep].mean(axis=0)])  # centred
        if panel and pnl.weights is not None and np.any(varying := _varies(w_row, ids, n_ids)):
            raise DataError(f"weights column {weights!r} must be constant within each unit (unit weights, as in "
                            f"R did); {int(varying.sum())} units have several values.")
        # per-id cohort and weight (constant within unit: checked above and by check_panel)
        G_id = np.full(n_ids, -1, dtype=np.intp)
        G_id[ids] = G
        w_id = np.zeros(n_ids)
        w_id[ids] = w_row
        w_id = w_id / w_id.mean()
        cl = None
        if pnl.clusters is not None:
            cl_row = pnl.clusters[keep]
            if panel and np.any(varying := _varies(cl_row.astype(float), ids, n_ids)):
                raise DataError(f"clusters column {clusters!r} must be constant within each unit; "
                                f"{int(varying.sum())} units are in several clusters.")
            cl_id = np.zeros(n_ids, dtype=np.intp)
            cl_id[ids] = cl_row
            cl = np.unique(cl_id, return_inverse=True)[1]
        if control_group == "nevertreated" and not (G < 0).any():
            raise DesignError(
                "control_group='nevertreated' needs units that are never treated (first_treated = 0), and "
                "there are none. Use control_group='notyettreated'."
            )
        if not (G >= 0).any():
            raise DataError(f"no unit is ever treated: first_treated column {ft!r} is 0 for every row.")
        try:
            cells, inf, cell_warns = att_gt_rc(y, tcode, G, w_row, ids, n_ids, X, n_periods=len(times),
                                               control_group=control_group, base_period=base_period,
                                               anticipation=anticipation, method=est_method)
        except EstimationError as exc:  # a singular comparison regression: name the covariates
            raise EstimationError(f"{exc} (covariates: {', '.join(map(repr, covariates or [])) or 'none'})") from None
        for msg in cell_warns[:5]:
            warns.append(msg)
        n_treated = int((G >= 0).sum())
        common: dict[str, Any] = dict(estimator=self.name, n=int(y.size), n_treated=n_treated,
                                      n_control=int(y.size) - n_treated, n_units=n_ids if panel else None,
                                      n_clusters=None if cl is None else int(cl.max()) + 1,
                                      design="staggered" if panel else "repeated_cross_section",
                                      outcome=names["outcome"])
        extra_tab: dict[str, Any] = {"control_group": control_group, "est_method": est_method,
                                     "base_period": base_period, "anticipation": anticipation,
                                     "aggregation": aggregation, "panel": panel,
                                     "allow_unbalanced_panel": panel}
        if pnl.reference_levels:
            extra_tab["reference_levels"] = pnl.reference_levels
        return _assemble(self.name, cells, inf, G_id, w_id, cl, times, common=common, extra_tab=extra_tab,
                         warns=warns, aggregation=aggregation, se_type=se_type, sims=sims, alpha=alpha,
                         seed=seed, window=window)


def _varies(v: np.ndarray, ids: np.ndarray, n_ids: int) -> np.ndarray:
    lo = np.full(n_ids, np.inf)
    hi = np.full(n_ids, -np.inf)
    np.minimum.at(lo, ids, v)
    np.maximum.at(hi, ids, v)
    return hi > lo  # type: ignore[no-any-return]


def _check_covariates(pnl: Any, estimator: str) -> None:
    """A covariate constant in every row, or collinear with the others, by name (every comparison is singular)."""
    if pnl.X is None or not pnl.X.size:
        return
    names = list(pnl.covariates)
    X = np.asarray(pnl.X, dtype=float)
    for j in range(X.shape[1]):
        if np.ptp(X[:, j]) == 0:
            raise DataError(f"{estimator}: covariate {names[j]!r} is {X[0, j]:g} in every row, so no comparison "
                            "can adjust for it (its regressions are singular); drop it from covariates.")
    scale = np.max(np.abs(X), axis=0)
    Z = X / scale
    Z = Z - Z.mean(axis=0)
    for j in range(1, Z.shape[1]):
        if np.linalg.matrix_rank(Z[:, : j + 1]) <= j:
            raise DataError(f"{estimator}: covariate {names[j]!r} is collinear with "
                            f"{', '.join(map(repr, names[:j]))}, so every comparison's regression is singular; "
                            "drop it from covariates.")


def _check_window(aggregation: str, min_e: float | None, max_e: float | None, balance_e: int | None,
                  name: str) -> dict[str, Any]:
    """``min_e``/``max_e``/``balance_e`` as R did's ``aggte``; refused where they do nothing."""
    if min_e is not None and max_e is not None and min_e > max_e:
        raise DesignError(f"{name}: min_e={min_e:g} is larger than max_e={max_e:g}; the event-time window "
                          "[min_e, max_e] is empty. Swap them or widen the window.")
    if aggregation != "dynamic" and (min_e is not None or balance_e is not None):
        raise DesignError(f"{name}: min_e and balance_e select event times of aggregation='dynamic'; "
                          f"aggregation={aggregation!r} has none. Pass aggregation='dynamic' or leave them out.")
    if aggregation == "calendar" and max_e is not None:
        raise DesignError(f"{name}: max_e bounds event times (aggregation 'dynamic', 'simple', 'group', "
                          "'none'); aggregation='calendar' has none. Leave max_e out.")
    if aggregation in ("simple", "group", "none") and max_e is not None and max_e < 0:
        raise DesignError(f"{name}: max_e={max_e:g} is below 0, so no post-treatment event time enters "
                          f"aggregation={aggregation!r} and its effect is undefined; pass max_e >= 0.")
    window: dict[str, Any] = {}
    if min_e is not None:
        window["min_e"] = float(min_e)
    if max_e is not None:
        window["max_e"] = float(max_e)
    if balance_e is not None:
        window["balance_e"] = int(balance_e)
    return window


def _assemble(name: str, cells: Any, inf: np.ndarray, G: np.ndarray, w: np.ndarray, cl: np.ndarray | None,
              times: np.ndarray, *, common: dict[str, Any], extra_tab: dict[str, Any], warns: list[str],
              aggregation: str, se_type: str | None, sims: int, alpha: float, seed: Any,
              window: dict[str, Any]) -> EffectResult | EffectTable:
    """Aggregate the ATT(g, t) and their influence functions into the result."""
    n = inf.shape[0]
    extra_tab = dict(extra_tab)
    if window:
        extra_tab["window"] = dict(window)
    att = np.array([c.att for c in cells])
    se_gt = _analytic_se(inf, cl if se_type == "clustered" else None, n)
    rng = check_seed(seed) if sims else None
    att_gt_rows = [{"group": float(times[c.g]), "period": float(times[c.t]), "base": float(times[c.base]),
                    "att": float(a), "std.error": float(s), "n_treated": c.n_treated, "n_control": c.n_control}
                   for c, a, s in zip(cells, att, se_gt)]
    row_se_type = se_type if not sims else "multiplier_bootstrap"
    if aggregation == "none":
        labels = [f"ATT(g={times[c.g]:g},t={times[c.t]:g})" for c in cells]
        est, psi = att, inf
        _, overall = _aggregate("simple", cells, inf, G, w, times, window)
        keys: list[Any] = [{"group": float(times[c.g]), "period": float(times[c.t])} for c in cells]
    else:
        comp, overall = _aggregate(aggregation, cells, inf, G, w, times, window)
        labels = [lab for lab, *_ in comp]
        est = np.array([c[1] for c in comp])
        psi = np.column_stack([c[2] for c in comp]) if comp else np.empty((n, 0))
        key = {"group": "group", "dynamic": "event_time", "calendar": "period"}.get(aggregation)
        keys = [{key: c[3]} if key else {} for c in comp]
    if aggregation != "simple" and psi.shape[1]:
        # the covariance of the rows (analytic, from the influence functions): what a
        # sensitivity analysis (honest_did) or a joint test needs
        P = psi
        if se_type == "clustered" and cl is not None:
            k = int(cl.max()) + 1
            P = np.column_stack([np.bincount(cl, weights=psi[:, j], minlength=k) for j in range(psi.shape[1])])
        V = P.T @ P / n**2
        extra_tab["vcov"] = tuple(tuple(float(v) for v in row) for row in V)
        extra_tab["vcov_terms"] = tuple(labels)
    allpsi = np.column_stack([overall[1], psi])
    allest = np.concatenate([[overall[0]], est])
    alllab = ["overall"] + labels
    allkeys = [{}] + keys
    se = _analytic_se(allpsi, cl if se_type == "clustered" else None, n)
    crit = None
    if sims:
        assert rng is not None
        se_b, crit = multiplier_bootstrap(allpsi, cl, rng, int(sims), alpha)
        se = se_b
        extra_tab.update(uniform_crit=crit, sims=int(sims))
    extra_tab["att_gt"] = att_gt_rows
    estimand = _ESTIMANDS[aggregation]
    rows = []
    for j, (lab, e, s_, k_) in enumerate(zip(alllab, allest, se, allkeys)):
        ex: dict[str, Any] = dict(k_)
        if crit is not None:
            ex["uniform_conf_int"] = (float(e - crit * s_), float(e + crit * s_))
        if j == 0:
            ex.update(extra_tab)
        rows.append(_row(e, s_, alpha, lab, row_se_type, ex, warns, "att" if j == 0 else estimand, common))
    if aggregation == "simple":
        return rows[0]
    return EffectTable(estimator=name, rows=tuple(rows), extra=extra_tab, warnings=tuple(warns),
                       headline_term="overall",
                       plotter=plot_dynamic if aggregation == "dynamic" else None)


_ESTIMANDS = {"simple": "att", "group": "att_by_cohort", "dynamic": "att_by_event_time",
              "calendar": "att_by_period", "none": "att_gt"}


def _analytic_se(psi: np.ndarray, clusters: np.ndarray | None, n: int) -> np.ndarray:
    """``sqrt(sum psi^2) / n``, or with clusters ``sqrt(sum_g (sum_{i in g} psi_i)^2) / n``."""
    if clusters is not None:
        k = int(clusters.max()) + 1
        psi = np.column_stack([np.bincount(clusters, weights=psi[:, j], minlength=k) for j in range(psi.shape[1])])
    return np.sqrt((psi**2).sum(axis=0)) / n  # type: ignore[no-any-return]


def plot_dynamic(table: EffectTable, *, ax: Any = None, labels: Mapping[Any, str] | None = None,
                 title: str | None = None) -> Any:
    """The event-time ATTs of ``aggregation="dynamic"`` with their intervals.

    Pre-treatment event times in the control colour, post-treatment ones in
    the programme's; the overall ATT (the headline) as a line over the
    post-treatment event times; with the bootstrap, the uniform band as a
    shaded range. ``labels`` renames the axis titles (keys ``"event_time"``,
    ``"effect"``). Returns a matplotlib Figure built without pyplot.
    """
    from effekt.plotting import (
        ARM_COLOURS,
        COLOURS,
        INTERVAL_ALPHA,
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
    reference_line(axes, 0.0)
    for part, colour, name in ((e < 0, ARM_COLOURS[0], "before the start"), (e >= 0, ARM_COLOURS[1], "after")):
        if part.any():
            axes.errorbar(e[part], est[part], yerr=[est[part] - lo[part], hi[part] - est[part]], fmt="o",
                          color=colour, capsize=3, label=name)
    band = [r.extra.get("uniform_conf_int") for r in rows]
    if all(b is not None for b in band) and band:
        axes.fill_between(e, [b[0] for b in band], [b[1] for b in band], color=COLOURS[0],  # type: ignore[index]
                          alpha=INTERVAL_ALPHA, step="mid", label="uniform band")
    overall = table.headline
    post = e[e >= 0]
    if post.size:
        axes.plot([post.min(), post.max()], [overall.estimate] * 2, color=COLOURS[2], lw=LINE_WIDTH,
                  label=f"overall ATT {overall.estimate:.3g}")
    axes.set_xlabel(label_for("event_time", labels, "periods since the first treated period (e = t - g)"))
    axes.set_ylabel(label_for("effect", labels, "ATT"))
    axes.set_title(title or "Callaway-Sant'Anna: ATT by event time")
    legend_outside(axes)  # beside the plot, never over a coefficient
    return fig


def _aggregate(kind: str, cells: Any, inf: np.ndarray, G: np.ndarray, w: np.ndarray, times: np.ndarray,
               window: dict[str, Any]) -> tuple[list[tuple[str, float, np.ndarray, int]], tuple[float, np.ndarray]]:
    if kind == "simple":
        window = {"max_e": window.get("max_e", np.inf)}
    return aggregate(kind, cells, inf, G, w, times, **window)


def _row(est: float, se: float, alpha: float, term: str, se_type: str | None, extra: dict[str, Any],
         warns: list[str], estimand: str, common: dict[str, Any]) -> EffectResult:
    if se > 0 and np.isfinite(se):
        return EffectResult.from_z(est, se, alpha=alpha, term=term, estimand=estimand, se_type=se_type, extra=extra,
                                   warnings=warns, **common)
    # a reference cell (universal base) is 0 by construction
    nan = float("nan")
    return EffectResult(estimate=float(est), std_error=nan, conf_int=(nan, nan), conf_level=1 - alpha,
                        p_value=nan, df=None, term=term, estimand=estimand, se_type=se_type, ci_method="none",
                        extra={**extra, "reference": True}, warnings=tuple(warns), **common)


def simulate_staggered(
    rng: np.random.Generator,
    *,
    n_units: int,
    n_times: int,
    cohorts: Sequence[int],
    effect: float,
    dynamic: float = 0.0,
    x_effect: float = 0.0,
) -> pd.DataFrame:
    """A balanced staggered panel: cohorts first treated in ``cohorts`` (period
    values 1..n_times), a never-treated share, unit and period effects, an
    effect ``effect + dynamic * (t - g)`` after adoption, and a covariate
    ``x`` that shifts trends by ``x_effect * x * t``."""
    unit = np.repeat(np.arange(n_units), n_times)
    time = np.tile(np.arange(1, n_times + 1), n_units)
    choices = np.array([0, *cohorts])
    g_u = choices[rng.integers(0, choices.size, n_units)]
    x_u = rng.normal(size=n_units) + 0.5 * (g_u > 0)
    g = g_u[unit]
    x = x_u[unit]
    te = np.where((g > 0) & (time >= g), effect + dynamic * (time - g), 0.0)
    y = rng.normal(size=n_units)[unit] + 0.2 * time + x_effect * x * time + te + rng.normal(size=unit.size)
    return pd.DataFrame({"unit": unit, "period": time, "first_treated": g, "x": x, "y": y})
