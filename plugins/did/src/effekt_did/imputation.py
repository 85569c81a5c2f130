"""Borusyak, Jaravel & Spiess (2024): the imputation estimator of staggered DiD."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from effekt.errors import DesignError, EstimationError
from effekt.protocol import EstimatorTags, Synthetic
from effekt.result import EffectResult
from effekt.vocabulary import Choice, Number, Numbers, validated
from effekt_did._panel import FEW_TREATED_CLUSTERS, cell_weights, check_aggregation, check_panel
from effekt_did.event_study import EventStudyTable, plot_event_study
from effekt_did.pretrends import summary_power
from effekt_did.sun_abraham import event_times_of, staggered_synthetic, subset_panel
from effekt_did.twfe import fit_twfe_arrays

__all__ = ["Imputation"]


class _UntreatedDesign:
    """Weighted least squares on unit dummies, period dummies (first dropped) and covariates, over
    the untreated rows, solved by eliminating the unit block (its normal equations are diagonal):
    a system the size of periods + covariates, whatever the number of units."""

    def __init__(self, unit: np.ndarray, time: np.ndarray, X: np.ndarray | None, w: np.ndarray,
                 n_units: int, n_times: int) -> None:
        self.nu, self.nt = n_units, n_times
        self.k = 0 if X is None else X.shape[1]
        self.Du = np.bincount(unit, weights=w, minlength=n_units)
        cnt = np.bincount(unit * n_times + time, weights=w, minlength=n_units * n_times).reshape(n_units, n_times)
        Ct = cnt[:, 1:]
        Dt = np.bincount(time, weights=w, minlength=n_times)[1:]
        if X is not None:
            Cx = np.column_stack([np.bincount(unit, weights=w * X[:, j], minlength=n_units) for j in range(self.k)])
            Ptx = np.column_stack([np.bincount(time, weights=w * X[:, j], minlength=n_times)[1:]
                                   for j in range(self.k)])
            XX = np.einsum("ij,ik->jk", X * w[:, None], X)
            self.C = np.column_stack([Ct, Cx])
            Ds = np.block([[np.diag(Dt), Ptx], [Ptx.T, XX]])
        else:
            self.C = Ct
            Ds = np.diag(Dt)
        schur = Ds - self.C.T @ (self.C / self.Du[:, None])
        try:
            self.schur_inv = np.linalg.inv(schur)
            ok = np.all(np.isfinite(self.schur_inv)) and np.linalg.cond(schur) < 1e12
        except np.linalg.LinAlgError:
            ok = False
        if not ok:
            raise EstimationError(
                "the unit and period effects (and covariates) are not identified from the untreated rows: "
                "some periods or covariates are collinear with the units' effects among untreated observations."
            )

    def rhs(self, unit: np.ndarray, time: np.ndarray, X: np.ndarray | None, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Z'v for rows (unit, time, X) and columns of ``v`` (n x m)."""
        m = v.shape[1]
        ru = np.column_stack([np.bincount(unit, weights=v[:, j], minlength=self.nu) for j in range(m)])
        rt = np.column_stack([np.bincount(time, weights=v[:, j], minlength=self.nt)[1:] for j in range(m)])
        rs = rt if X is None else np.vstack([rt, X.T @ v])
        return ru, rs

    def solve(self, ru: np.ndarray, rs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(Z0'WZ0)^{-1} r, split into the unit block and the (periods, covariates) block."""
        xs = self.schur_inv @ (rs - self.C.T @ (ru / self.Du[:, None]))
        xu = (ru - self.C @ xs) / self.Du[:, None]
        return xu, xs

    def predict(self, xu: np.ndarray, xs: np.ndarray, unit: np.ndarray, time: np.ndarray,
                X: np.ndarray | None) -> np.ndarray:
        """Z x for rows (unit, time, X): one column per column of ``x``."""
        xt = np.vstack([np.zeros((1, xs.shape[1])), xs[: self.nt - 1]])
        out = xu[unit] + xt[time]
        if X is not None:
            out = out + X @ xs[self.nt - 1:]
        return out  # type: ignore[no-any-return]


class Imputation:
    """The imputation estimator of Borusyak, Jaravel & Spiess (2024).

    Estimand: the average effect ``e`` periods after the start (each
    ``horizon``) and over all treated observations (the headline
    ``"post"``), under parallel trends and no anticipation, robust to
    effects that differ across cohorts and over time.

    Formula: unit and period effects (and covariates) are fitted by least
    squares on the untreated observations only (never treated, and not yet
    treated: ``t < g_i``), ``y_it = a_i + l_t + x_it'b + e_it``; for every
    treated observation ``Y_it(0)`` is imputed from them and
    ``tau_it = y_it - a_i - l_t - x_it'b``. An estimand with weights
    ``w_it`` over the treated observations (equal within a horizon, or over
    all of them) is ``sum w_it tau_it``. Its conservative variance is
    BJS's Theorem 3: with ``v_it = w_it`` on treated and
    ``v = -Z0 (Z0'Z0)^{-1} Z1'w`` on untreated observations (the
    estimator is ``sum v_it y_it``), ``V = sum_c (sum_{it in c} v_it r_it)^2``
    over clusters ``c``, where ``r`` is the first-stage residual on untreated
    observations and ``tau_it - tau_bar`` on treated ones, ``tau_bar`` the
    ``v^2``-weighted mean of ``tau`` in the observation's cohort x event-time
    cell (R didimputation's default averaging). Intervals are normal, as
    didimputation's. The leads are BJS's Test 1: on the untreated
    observations only, ``y_it = a_i + l_t + sum_{k=1}^{leads} g_k 1{t - g_i = -k} + e_it``
    (CR1 clustered, as fixest), compared with the untreated observations
    further from the start; their joint Wald test is ``pretrend_test``.

    Defaults and why: ``horizon=None`` reports every event time from 0 on
    in the data; ``leads=None`` every lead but the earliest (with a dummy
    for every lead the dummies add up to the treated units' fixed effects,
    so the earliest is the comparison); clusters = units, as BJS and didimputation.

    Parameters
    ----------
    data : DataFrame
    outcome : str
    unit : str
    period : str
    first_treated : str
        Each unit's first treated period; 0 = never treated (a period after
        the last one counts as never treated).
    horizon : int or list of int, default=None
        The event times (0 = the first treated period) whose average effects
        are reported; None: every one in the data.
    leads : int, default=None
        Pre-trend coefficients (event times -1 .. -leads) of Test 1; 0 for
        none.
    covariates : list of str, default=None
        Time-varying covariates in the untreated-outcome model.
    weights : str, default=None
        Observation weights: in the first stage and in every average.
    clusters : str, default=None
        Default ``unit``.
    aggregation : {"citizen", "cluster"}, default=None
        As in ``event_study`` (required for repeated cross-sections).
    alpha : float, default=0.05
    missing : {"error", "drop"}, default="error"

    Returns
    -------
    EventStudyTable
        Rows ``"e=-k"`` (Test 1's leads, ``extra["pretrend"]`` True),
        ``"e=h"`` for every horizon, and the headline ``"post"`` (all treated
        observations, ``estimand="att"``). ``extra``: ``"pretrend_test"``,
        ``"event_coefficients"`` (event times, coefficients and their joint
        covariance from the cluster scores), ``"pretrend_power"``,
        ``"n_imputed"`` (treated observations); ``.plot()`` and
        ``.pretrend_power()`` as ``event_study``'s.

    Raises
    ------
    DataError
        Bad columns; no treated unit.
    DesignError
        No treated observation can be imputed (every period after a start
        lacks untreated observations: e.g. no never-treated unit and a
        single cohort); a horizon or lead not in the data.
    EstimationError
        Period effects or covariates not identified from the untreated rows.

    References
    ----------
    Borusyak, K., Jaravel, X. & Spiess, J. (2024). Revisiting event-study designs: robust and
    efficient estimation. Review of Economic Studies 91(6), 3253-3285. doi:10.1093/restud/rdae007
    Butts, K. didimputation (R package), github.com/kylebutts/didimputation.

    Examples
    --------
    >>> import effekt as ef
    >>> syn = Imputation.simulate(np.random.default_rng(1), n=120, effect=1.0)
    >>> tab = ef.estimate("imputation", data=syn.data, **syn.spec)
    >>> tab.headline_term, tab["post"].estimand
    ('post', 'att')
    """

    name: ClassVar[str] = "imputation"
    estimand: ClassVar[str] = "att_by_event_time"
    kind: ClassVar[str] = "did"
    tags: ClassVar[EstimatorTags] = EstimatorTags(outcome="panel", supports_clusters=True,
                                                  supports_covariates=True, supports_weights=True,
                                                  sign_flip=False, binary_treatment=False)
    options: ClassVar[dict[str, Any]] = {
        "aggregation": Choice(("citizen", "cluster"), none_ok=True),
        "horizon": Numbers(Number(low=0, integer=True), none_ok=True),
        "leads": Number(low=0, integer=True, none_ok=True),
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
        horizon: Sequence[int] | None = None,
        leads: int | None = None,
        covariates: Sequence[str] | None = None,
        weights: str | None = None,
        clusters: str | None = None,
        aggregation: str | None = None,
        alpha: float = 0.05,
        missing: str = "error",
    ) -> EventStudyTable:
        panel = check_panel(data, outcome=outcome, unit=unit, period=period, first_treated=first_treated,
                            weights=weights, clusters=clusters, covariates=covariates, missing=missing,
                            estimator=self.name)
        aggregation = check_aggregation(aggregation, panel, self.name)
        ev, treated = event_times_of(panel, first_treated, period)
        assert panel.cohort is not None
        warns: list[str] = []
        on = treated & (ev >= 0)  # treated observations
        off = ~on
        # a treated observation is imputed from its unit's and its period's untreated rows
        unit_has = np.bincount(panel.unit[off], minlength=panel.n_units) > 0
        time_has = np.bincount(panel.time[off], minlength=panel.n_times) > 0
        lost = on & ~(unit_has[panel.unit] & time_has[panel.time])
        if lost.all() or not (on & ~lost).any():
            raise DesignError(
                "no treated observation can be imputed: every treated row lacks untreated rows of its unit "
                "or of its period (with no never-treated unit and a single cohort, no unit is untreated once "
                f"the cohort starts; first_treated column {first_treated!r}, period column {period!r}). Add "
                "never-treated units or not-yet-treated cohorts."
            )
        if lost.any():
            nu = int(np.unique(panel.unit[lost & ~unit_has[panel.unit]]).size)
            nt = int((~time_has[np.unique(panel.time[lost])]).sum())
            warns.append(
                f"{int(lost.sum())} treated observation(s) cannot be imputed and were dropped: "
                f"{nu} unit(s) have no untreated row (treated from their first period on), {nt} period(s) "
                "have no untreated unit."
            )
        keep = ~lost
        sub = subset_panel(panel, keep)
        ev_s, on_s = ev[keep], on[keep]
        g_s = np.where(treated[keep], sub.cohort, 0.0) if sub.cohort is not None else np.zeros(sub.n)
        off_s = ~on_s
        w_obs = cell_weights(sub) if aggregation == "cluster" else sub.weights
        omega = np.ones(sub.n) if w_obs is None else w_obs
        X = sub.X
        i0, i1 = np.flatnonzero(off_s), np.flatnonzero(on_s)
        u0, t0, u1, t1 = sub.unit[i0], sub.time[i0], sub.unit[i1], sub.time[i1]
        X0 = None if X is None else X[i0]
        X1 = None if X is None else X[i1]
        try:
            design = _UntreatedDesign(u0, t0, X0, omega[i0], sub.n_units, sub.n_times)
        except EstimationError as exc:
            raise EstimationError(f"{exc} (unit column {unit!r}, period column {period!r}, covariates "
                                  f"{[covariates] if isinstance(covariates, str) else list(covariates or [])!r})") from None
        # first stage and imputation
        ru, rs = design.rhs(u0, t0, X0, (omega[i0] * sub.y[i0])[:, None])
        xu, xs = design.solve(ru, rs)
        resid0 = sub.y[i0] - design.predict(xu, xs, u0, t0, X0)[:, 0]
        tau = sub.y[i1] - design.predict(xu, xs, u1, t1, X1)[:, 0]
        e1 = ev_s[i1].astype(int)
        present = sorted({int(e) for e in e1})
        if horizon is None:
            hs = present
        else:
            hs = sorted({int(h) for h in np.atleast_1d(np.asarray(horizon))})
            missing_h = [h for h in hs if h not in present]
            if missing_h:
                raise DesignError(f"horizon={horizon!r}: event time(s) {missing_h} have no treated observation; "
                                  f"the data have {present[0]} to {present[-1]}.")
        # estimand weights over the treated observations: one column per horizon, then the overall effect
        W1 = np.zeros((i1.size, len(hs) + 1))
        for j, h in enumerate(hs):
            W1[:, j] = np.where(e1 == h, omega[i1], 0.0)
        W1[:, -1] = omega[i1] if horizon is None else np.where(np.isin(e1, hs), omega[i1], 0.0)
        W1 /= W1.sum(axis=0, keepdims=True)
        est = W1.T @ tau
        # v on untreated rows: -W0 Z0 (Z0' W0 Z0)^{-1} Z1' w
        bu, bs = design.rhs(u1, t1, X1, W1)
        au, as_ = design.solve(bu, bs)
        V0 = -omega[i0][:, None] * design.predict(au, as_, u0, t0, X0)
        # tau_bar: v^2-weighted mean of tau within cohort x event-time cells (v = w on treated rows)
        cell, _ = pd.factorize(pd.MultiIndex.from_arrays([g_s[i1], e1]))
        n_cell = int(cell.max()) + 1
        R1 = np.empty_like(W1)
        for j in range(W1.shape[1]):
            v2 = W1[:, j] ** 2
            den = np.bincount(cell, weights=v2, minlength=n_cell)
            num = np.bincount(cell, weights=v2 * tau, minlength=n_cell)
            bar = np.divide(num, den, out=np.zeros(n_cell), where=den > 0)
            R1[:, j] = tau - bar[cell]
        cl, G = sub.cluster_codes()
        m = W1.shape[1]
        S_post = np.zeros((G, m))
        for j in range(m):
            S_post[:, j] = (np.bincount(cl[i1], weights=W1[:, j] * R1[:, j], minlength=G)
                            + np.bincount(cl[i0], weights=V0[:, j] * resid0, minlength=G))
        V_post = S_post.T @ S_post
        se_post = np.sqrt(np.diag(V_post))
        # Test 1: leads among the untreated rows
        pre_e = ev_s[i0]
        pre_present = sorted({int(e) for e in pre_e[np.isfinite(pre_e)]})
        # with a dummy for every lead, each treated unit's untreated rows all carry one and the dummies
        # add up to the treated units' fixed effects: the earliest lead is the comparison
        n_avail = max(-pre_present[0] - 1, 0) if pre_present else 0
        if leads is None:
            n_leads = n_avail
        else:
            n_leads = int(leads)
            if n_leads > n_avail:
                raise DesignError(f"leads={leads!r}: the untreated rows of treated units reach back {n_avail + 1} "
                                  f"period(s) before the start and the earliest must stay a comparison, so leads= "
                                  f"must be between 0 and {n_avail}.")
        b_pre = np.zeros(0)
        V_pre = np.zeros((0, 0))
        S_pre = np.zeros((G, 0))
        df_pre = float(G - 1)
        pre_times: list[int] = []
        p0 = subset_panel(sub, off_s)
        cl0, G0 = p0.cluster_codes()
        w0 = None if w_obs is None else w_obs[i0]
        # by default the most leads the untreated rows identify: without never-treated units a linear
        # trend in event time is spanned by the unit and period effects, so a second lead drops out
        tries = [n_leads] if leads is not None else list(range(n_leads, -1, -1))
        for n_try in tries:
            times_try = [e for e in range(-n_try, 0) if e in pre_present]
            if not times_try:
                break
            Xl = np.column_stack([(pre_e == e).astype(float) for e in times_try])
            names = [f"e={e}" for e in times_try]
            if p0.X is not None:
                Xl = np.column_stack([Xl, p0.X])
                names += p0.covariates
            try:
                tf = fit_twfe_arrays(p0, Xl, names, se_type="CR1", clusters=cl0, n_clusters=G0, weights=w0,
                                     fe_df="nonnested")
                ab = tf.absorbed
                assert ab is not None  # CR1 always absorbs the fixed effects
                if np.linalg.cond(ab.M) > 1e10:
                    raise EstimationError("collinear")
            except EstimationError:
                if leads is not None:
                    raise EstimationError(
                        f"leads={leads}: the lead indicators are collinear with the unit and period effects among "
                        "the untreated rows (without never-treated units a linear trend in event time is); pass "
                        "fewer leads=."
                    ) from None
                continue
            pre_times = times_try
            L = len(pre_times)
            b_pre = ab.coef[:L]
            V_pre = tf.vcov[:L, :L]
            n0 = Xl.shape[0]
            factor = G0 / (G0 - 1) * (n0 - 1) / (n0 - tf.k_df)
            u = ab.resid if w0 is None else ab.resid * w0
            sc = np.column_stack([np.bincount(cl[i0], weights=ab.Xt[:, j] * u, minlength=G)
                                  for j in range(Xl.shape[1])])
            S_pre = np.sqrt(factor) * (sc @ ab.M)[:, :L]
            break
        # the joint covariance: pre block from Test 1 (CR1), post block BJS, cross block from the cluster scores
        times = pre_times + hs
        k = len(times)
        V_all = np.zeros((k, k))
        L = len(pre_times)
        V_all[:L, :L] = V_pre
        V_all[L:, L:] = V_post[: len(hs), : len(hs)]
        cross = S_pre.T @ S_post[:, : len(hs)]
        V_all[:L, L:] = cross
        V_all[L:, :L] = cross.T
        beta_all = np.concatenate([b_pre, est[: len(hs)]])
        n_tc = int(np.unique(cl[i1]).size)
        if n_tc < FEW_TREATED_CLUSTERS:
            warns.append(f"only {n_tc} treated clusters: the variance can be unreliable.")
        common: dict[str, Any] = dict(estimator=self.name, estimand=self.estimand, n=sub.n, se_type="BJS",
                                      n_treated=int(i1.size), n_control=int(i0.size), n_units=sub.n_units,
                                      n_clusters=G, design="panel" if sub.is_panel else "repeated_cross_section",
                                      outcome=outcome)
        rows = []
        for j, e in enumerate(pre_times):
            se_j = float(np.sqrt(V_pre[j, j]))
            rows.append(EffectResult.from_t(b_pre[j], se_j, df_pre, alpha=alpha, term=f"e={e}",
                                            extra={"event_time": e, "reference": False, "pretrend": True},
                                            **{**common, "se_type": "CR1"}))
        for j, h in enumerate(hs):
            rows.append(EffectResult.from_z(est[j], se_post[j], alpha=alpha, term=f"e={h}",
                                            extra={"event_time": h, "reference": False,
                                                   "n_treated_obs": int((e1 == h).sum())},
                                            **common))
        rows.append(EffectResult.from_z(
            est[-1], se_post[-1], alpha=alpha, term="post",
            extra={"event_times": hs, "method": "all treated observations weighted equally (BJS's static effect)"},
            **{**common, "estimand": "att"},
        ))
        extra: dict[str, Any] = {"reference": -1, "n_imputed": int(i1.size), "n_treated_clusters": n_tc,
                                 "tau_bar": "cohort x event-time cells (didimputation)"}
        if panel.reference_levels:
            extra["reference_levels"] = panel.reference_levels
        if L:
            try:
                stat = float(b_pre @ np.linalg.solve(V_pre, b_pre)) / L
                extra["pretrend_test"] = {"statistic": stat, "df1": L, "df2": G - 1,
                                          "p_value": float(stats.f.sf(stat, L, G - 1)), "leads": pre_times,
                                          "method": "BJS Test 1 (leads on untreated observations, CR1)"}
            except np.linalg.LinAlgError:
                warns.append("the covariance of the leads is singular: no joint pre-trend test.")
        # leads are measured against untreated rows further from the start, not against e = -1: the
        # hypothesised trend for their power is slope * e (0 at the start)
        extra["event_coefficients"] = {"event_times": times, "beta": beta_all.tolist(), "vcov": V_all.tolist(),
                                       "reference": 0, "df2": G - 1}
        extra["pretrend_power"] = summary_power(V_all, times, 0, G - 1, alpha) if L else None
        return EventStudyTable(estimator=self.name, rows=tuple(rows), extra=extra, warnings=tuple(warns),
                               headline_term="post", plotter=plot_event_study)

