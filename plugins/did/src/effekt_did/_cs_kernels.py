"""Arithmetic of the Callaway-Sant'Anna estimator on arrays.

Everything here works on a balanced panel in wide form: ``Y`` is
``(n_units, n_periods)``, ``G`` each unit's first treated period index
(``-1`` = never treated within the sample), ``w`` unit weights with mean 1.
Influence functions are on the full-sample scale: ``se = sqrt(sum psi^2) / n``
(Callaway & Sant'Anna 2021, Theorem 2; R did's ``getSE``).

The 2x2 building blocks follow Sant'Anna & Zhao (2020): outcome regression
(their eq. 2.2), standardised IPW (eq. 2.4 with normalised weights) and the
doubly robust estimator (eq. 3.1), each with its influence function.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from effekt.errors import DesignError, EstimationError

__all__ = ["GTCell", "att_gt", "aggregate", "multiplier_bootstrap", "logit_fit"]


@dataclass(frozen=True)
class GTCell:
    g: int  # cohort index (period index of first treatment)
    t: int  # period index
    base: int  # base period index
    att: float
    n_treated: int
    n_control: int


def logit_fit(X: np.ndarray, d: np.ndarray, w: np.ndarray, *, maxiter: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Weighted logistic regression by Newton-Raphson; returns (coef, fitted)."""
    beta = np.zeros(X.shape[1])
    for _ in range(maxiter):
        eta = np.clip(X @ beta, -35, 35)
        p = 1.0 / (1.0 + np.exp(-eta))
        grad = X.T @ (w * (d - p))
        H = (X * (w * p * (1 - p))[:, None]).T @ X
        try:
            step = np.linalg.solve(H, grad)
        except np.linalg.LinAlgError:
            raise EstimationError("the propensity-score model is singular: a covariate is constant or "
                                  "collinear within a comparison; drop it.") from None
        beta += step
        if np.max(np.abs(step)) < 1e-10:
            break
    eta = np.clip(X @ beta, -35, 35)
    return beta, 1.0 / (1.0 + np.exp(-eta))


def _did_2x2(dy: np.ndarray, D: np.ndarray, w: np.ndarray, X: np.ndarray | None, method: str
             ) -> tuple[float, np.ndarray]:
    """ATT and influence function (subset scale, mean over the subset) of one 2x2 comparison."""
    n1 = dy.size
    wt = w * D
    if X is None:
        wc = w * (1 - D)
        mt = wt.sum() / n1
        mc = wc.sum() / n1
        eta_t = (wt * dy).sum() / n1 / mt
        eta_c = (wc * dy).sum() / n1 / mc
        inf = wt * (dy - eta_t) / mt - wc * (dy - eta_c) / mc
        return float(eta_t - eta_c), inf
    wo = w * (1 - D)
    need_or = method in ("reg", "dr")
    need_ps = method in ("ipw", "dr")
    if need_or:
        XtWX = (X * wo[:, None]).T @ X
        try:
            XpX_inv = np.linalg.inv(XtWX / n1)
            beta = np.linalg.solve(XtWX, X.T @ (wo * dy))
        except np.linalg.LinAlgError:
            raise EstimationError("the outcome regression among the comparison units is singular: a "
                                  "covariate is constant or collinear there; drop it.") from None
        out = X @ beta
        lin_ols = (wo * (dy - out))[:, None] * X @ XpX_inv  # (n1, k)
    if need_ps:
        _, ps = logit_fit(X, D, w)
        ps = np.minimum(ps, 1 - 1e-6)
        score_ps = (w * (D - ps))[:, None] * X
        Hps = np.linalg.inv((X * (w * ps * (1 - ps))[:, None]).T @ X / n1)
        lin_ps = score_ps @ Hps
    if method == "reg":
        mt = wt.mean()
        eta_t = (wt * dy).mean() / mt
        eta_c = (wt * out).mean() / mt
        inf_t = (wt * dy - wt * eta_t) / mt
        inf_c1 = wt * out - wt * eta_c
        M1 = (wt[:, None] * X).mean(axis=0)
        inf = inf_t - (inf_c1 + lin_ols @ M1) / mt
        return float(eta_t - eta_c), inf
    wc = w * ps * (1 - D) / (1 - ps)
    mt, mc = wt.mean(), wc.mean()
    if method == "ipw":
        eta_t = (wt * dy).mean() / mt
        eta_c = (wc * dy).mean() / mc
        inf_t = (wt * dy - wt * eta_t) / mt
        inf_c = (wc * dy - wc * eta_c) / mc
        M2 = (wc * (dy - eta_c))[:, None] * X
        inf = inf_t - (inf_c + lin_ps @ (M2.mean(axis=0) / mc))
        return float(eta_t - eta_c), inf
    r = dy - out
    eta_t = (wt * r).mean() / mt
    eta_c = (wc * r).mean() / mc
    inf_t = (wt * r - wt * eta_t - lin_ols @ (wt[:, None] * X).mean(axis=0)) / mt
    M2 = ((wc * (r - eta_c))[:, None] * X).mean(axis=0)
    M3 = (wc[:, None] * X).mean(axis=0)
    inf_c = (wc * r - wc * eta_c + lin_ps @ M2 - lin_ols @ M3) / mc
    return float(eta_t - eta_c), inf_t - inf_c


def att_gt(
    Y: np.ndarray,
    G: np.ndarray,
    w: np.ndarray,
    Xb: np.ndarray | None,
    *,
    control_group: str,
    base_period: str,
    anticipation: int,
    method: str,
) -> tuple[list[GTCell], np.ndarray]:
    """All ATT(g, t) and their influence functions ``(n, n_cells)``.

    Base period: ``varying`` compares t with t-1 before treatment and with
    g-1-anticipation after; ``universal`` always with g-1-anticipation
    (that cell itself is reported as 0 with a zero influence function).
    Comparison units: never treated (``G == -1``), or not yet treated by
    ``max(t, base) + anticipation`` and not in cohort g.
    ``Xb(s)`` gives the covariates at period index s (covariates are taken
    in the base period, as R did does).
    """
    n, T = Y.shape
    Y = np.asfortranarray(Y)  # periods as contiguous columns
    cohorts = np.unique(G[G >= 0])
    cells: list[GTCell] = []
    infs: list[np.ndarray] = []
    never = G < 0
    for g in cohorts:
        is_g = G == g
        ref = g - 1 - anticipation
        for t in range(T):
            if base_period == "varying":
                if t < g - anticipation:
                    if t == 0:
                        continue
                    base = t - 1
                else:
                    base = ref
            else:
                base = ref
                if t == base:
                    cells.append(GTCell(int(g), t, base, 0.0, int(is_g.sum()), 0))
                    infs.append(np.zeros(n))
                    continue
            if base < 0:
                continue
            if control_group == "nevertreated":
                ctrl = never
            else:
                ctrl = never | ((G > max(t, base) + anticipation) & ~is_g)
            n_c = int(ctrl.sum())
            if n_c == 0:
                continue
            if Xb is None:
                # difference of weighted mean changes, on full-length arrays (no subsetting)
                dy = Y[:, t] - Y[:, base]
                wt, wc = w * is_g, w * ctrl
                st, sc = wt.sum(), wc.sum()
                mt, mc = (wt * dy).sum() / st, (wc * dy).sum() / sc
                att = float(mt - mc)
                inf = n * (wt * (dy - mt) / st - wc * (dy - mc) / sc)
            else:
                idx = np.flatnonzero(is_g | ctrl)
                dy = Y[idx, t] - Y[idx, base]
                att, inf_sub = _did_2x2(dy, is_g[idx].astype(float), w[idx], Xb[base][idx], method)
                inf = np.zeros(n)
                inf[idx] = inf_sub * (n / idx.size)
            cells.append(GTCell(int(g), t, base, att, int(is_g.sum()), n_c))
            infs.append(inf)
    if not cells:
        raise EstimationError("no group-time effect could be formed: no cohort has a comparison group "
                              "and a base period in the data.")
    return cells, np.column_stack(infs)


def _wif(keep_groups: np.ndarray, pg: np.ndarray, w: np.ndarray, G: np.ndarray, att: np.ndarray) -> np.ndarray:
    """Influence of estimating the cohort-share weights (R did's ``wif``)."""
    ind = (G[:, None] == keep_groups[None, :]) * w[:, None] - pg[None, :]  # (n, k)
    s = pg.sum()
    if1 = ind / s
    if2 = ind.sum(axis=1)[:, None] * (pg / s**2)[None, :]
    return (if1 - if2) @ att  # type: ignore[no-any-return]


def aggregate(
    kind: str,
    cells: list[GTCell],
    inf: np.ndarray,
    G: np.ndarray,
    w: np.ndarray,
    times: np.ndarray,
    *,
    min_e: float = -np.inf,
    max_e: float = np.inf,
    balance_e: int | None = None,
) -> tuple[list[tuple[str, float, np.ndarray, int]], tuple[float, np.ndarray]]:
    """Aggregate ATT(g, t) (Callaway & Sant'Anna 2021, sec. 3.1; R did's ``aggte``).

    Returns the component rows ``(label, estimate, influence, e or g or t)``
    and the overall ``(estimate, influence)``. As R did's ``aggte``:
    ``max_e`` also bounds the post-treatment cells of ``simple`` and
    ``group``; for ``dynamic``, only event times in ``[min_e, max_e]`` are
    kept, and ``balance_e`` keeps only cohorts observed at least
    ``balance_e`` periods after treatment and event times in
    ``[balance_e - (last - first period), balance_e]``.
    """
    g_arr = np.array([c.g for c in cells])
    t_arr = np.array([c.t for c in cells])
    att = np.array([c.att for c in cells])
    cohorts = np.unique(G[G >= 0])
    pg_c = np.array([np.mean(w * (G == g)) for g in cohorts])
    pg = pg_c[np.searchsorted(cohorts, g_arr)]
    e_all = times[t_arr] - times[g_arr]
    post = (t_arr >= g_arr) & (e_all <= max_e)
    rows: list[tuple[str, float, np.ndarray, int]] = []
    if kind == "simple":
        k = np.flatnonzero(post)
        wk = pg[k] / pg[k].sum()
        est = float(att[k] @ wk)
        psi = inf[:, k] @ wk + _wif(g_arr[k], pg[k], w, G, att[k])
        return rows, (est, psi)
    if kind == "group":
        used = []
        for gi, g in enumerate(cohorts):
            k = np.flatnonzero((g_arr == g) & post)
            if k.size == 0:
                continue
            est = float(att[k].mean())
            rows.append((f"g={times[g]}", est, inf[:, k].mean(axis=1), int(times[g])))
            used.append(gi)
        ests = np.array([r[1] for r in rows])
        psis = np.column_stack([r[2] for r in rows])
        pgg = pg_c[used]
        wg = pgg / pgg.sum()
        psi = psis @ wg + _wif(cohorts[used], pgg, w, G, ests)
        return rows, (float(ests @ wg), psi)
    if kind == "dynamic":
        e_arr = e_all  # event time in the units of the time column, as R did
        include = np.ones(e_arr.size, dtype=bool)
        eseq = np.unique(e_arr)
        if balance_e is not None:
            include = times[-1] - times[g_arr] >= balance_e
            eseq = np.unique(e_arr[include])
            eseq = eseq[(eseq <= balance_e) & (eseq >= balance_e - (times[-1] - times[0]))]
        eseq = eseq[(eseq >= min_e) & (eseq <= max_e)]
        if eseq.size == 0:
            raise DesignError(f"no event time lies in the window min_e={min_e:g}, max_e={max_e:g}"
                              + (f", balance_e={balance_e}" if balance_e is not None else "")
                              + f"; the data have event times {np.unique(e_arr).tolist()}.")
        for e in eseq:
            k = np.flatnonzero((e_arr == e) & include)
            wk = pg[k] / pg[k].sum()
            est = float(att[k] @ wk)
            psi = inf[:, k] @ wk + _wif(g_arr[k], pg[k], w, G, att[k])
            rows.append((f"e={e:g}", est, psi, int(e)))
        post_rows = [r for r in rows if r[3] >= 0]
        if not post_rows:
            raise DesignError(f"the event-time window (min_e={min_e:g}, max_e={max_e:g}) holds no event time "
                              "e >= 0, so there is no overall post-treatment effect; widen it.")
        est = float(np.mean([r[1] for r in post_rows]))
        psi = np.column_stack([r[2] for r in post_rows]).mean(axis=1)
        return rows, (est, psi)
    if kind == "calendar":
        first = int(cohorts.min())
        for t in range(first, int(t_arr.max()) + 1):
            k = np.flatnonzero((t_arr == t) & post)
            if k.size == 0:
                continue
            wk = pg[k] / pg[k].sum()
            est = float(att[k] @ wk)
            psi = inf[:, k] @ wk + _wif(g_arr[k], pg[k], w, G, att[k])
            rows.append((f"t={times[t]}", est, psi, int(times[t])))
        est = float(np.mean([r[1] for r in rows]))
        psi = np.column_stack([r[2] for r in rows]).mean(axis=1)
        return rows, (est, psi)
    raise ValueError(kind)


def multiplier_bootstrap(
    psi: np.ndarray,
    clusters: np.ndarray | None,
    rng: np.random.Generator,
    draws: int,
    alpha: float,
) -> tuple[np.ndarray, float]:
    """Bootstrap SEs and the uniform-band critical value (Callaway & Sant'Anna 2021, Algorithm 1).

    ``psi`` is ``(n, m)``. Each draw multiplies the influence functions (summed
    within clusters when given) by Rademacher weights; the SE of column j is
    the rescaled interquartile range of its draws, and the critical value is
    the (1 - alpha) quantile of ``max_j |draw_j| / se_j``.
    """
    n = psi.shape[0]
    if clusters is not None:
        k = int(clusters.max()) + 1
        psi = np.column_stack([np.bincount(clusters, weights=psi[:, j], minlength=k) for j in range(psi.shape[1])])
    draws_out = np.empty((draws, psi.shape[1]))
    chunk = max(1, 2_000_000 // max(psi.shape[0], 1))
    for lo in range(0, draws, chunk):
        m = min(chunk, draws - lo)
        v = rng.integers(0, 2, size=(m, psi.shape[0])) * 2.0 - 1.0
        draws_out[lo:lo + m] = v @ psi / n
    q75, q25 = np.quantile(draws_out, [0.75, 0.25], axis=0)
    from scipy import stats

    se = (q75 - q25) / (stats.norm.ppf(0.75) - stats.norm.ppf(0.25))
    ok = se > np.sqrt(np.finfo(float).eps) * 10
    tmax = np.max(np.abs(draws_out[:, ok]) / se[ok], axis=1) if ok.any() else np.zeros(draws)
    crit = float(np.quantile(tmax, 1 - alpha))
    return se, crit


def _reg_did_rc(y: np.ndarray, post: np.ndarray, D: np.ndarray, X: np.ndarray, w: np.ndarray
                ) -> tuple[float, np.ndarray]:
    """Outcome-regression DiD for repeated cross-sections (Sant'Anna & Zhao 2020, eq. 2.2 for
    cross-sections; DRDID's ``reg_did_rc``): ATT and its row-level influence function
    (scale: ``att - ATT ~ mean(inf)`` over the ``y.size`` rows)."""
    n1 = y.size
    w = w / w.mean()
    infs = []
    outs = []
    for p in (0.0, 1.0):
        wo = w * (1 - D) * (post == p)
        XtWX = (X * wo[:, None]).T @ X
        try:
            XpX_inv = np.linalg.inv(XtWX / n1)
        except np.linalg.LinAlgError:
            raise EstimationError("the outcome regression among the comparison rows of one period is "
                                  "singular: a covariate is constant or collinear there; drop it.") from None
        beta = XpX_inv @ (X.T @ (wo * y)) / n1
        out = X @ beta
        outs.append(out)
        infs.append((wo * (y - out))[:, None] * X @ XpX_inv)
    w_pre, w_post, w_d = w * D * (1 - post), w * D * post, w * D
    eta_pre = (w_pre * y).mean() / w_pre.mean()
    eta_post = (w_post * y).mean() / w_post.mean()
    dout = outs[1] - outs[0]
    eta_c = (w_d * dout).mean() / w_d.mean()
    inf_treat = (w_post * (y - eta_post)) / w_post.mean() - (w_pre * (y - eta_pre)) / w_pre.mean()
    M1 = (w_d[:, None] * X).mean(axis=0)
    inf_control = (w_d * (dout - eta_c) + infs[1] @ M1 - infs[0] @ M1) / w_d.mean()
    return float(eta_post - eta_pre - eta_c), inf_treat - inf_control


def _wls(X: np.ndarray, y: np.ndarray, w: np.ndarray, what: str) -> np.ndarray:
    XtWX = (X * w[:, None]).T @ X
    try:
        return np.linalg.solve(XtWX, X.T @ (w * y))  # type: ignore[no-any-return]
    except np.linalg.LinAlgError:
        raise EstimationError(f"the outcome regression among the {what} rows is singular: a covariate is "
                              "constant or collinear there; drop it.") from None


def _drdid_rc(y: np.ndarray, post: np.ndarray, D: np.ndarray, X: np.ndarray, w: np.ndarray,
              trim_level: float = 0.995) -> tuple[float, np.ndarray]:
    """Locally efficient doubly robust DiD for repeated cross-sections (Sant'Anna & Zhao 2020,
    eq. 3.4; DRDID's ``drdid_rc``): ATT and its row-level influence function."""
    n = y.size
    w = w / w.mean()
    _, ps = logit_fit(X, D, w)
    ps = np.minimum(ps, 1 - 1e-6)
    Wps = ps * (1 - ps) * w
    trim = np.where(D == 1, ps < 1.01, ps < trim_level).astype(float)
    fits = {}
    lin = {}
    for dd in (0.0, 1.0):
        for pp in (0.0, 1.0):
            ww = w * (D == dd) * (post == pp)
            beta = _wls(X, y, ww, "treated" if dd else "comparison")
            fits[dd, pp] = X @ beta
            XpX = (X * ww[:, None]).T @ X / n
            lin[dd, pp] = (ww * (y - fits[dd, pp]))[:, None] * X @ np.linalg.inv(XpX)
    out_c = post * fits[0.0, 1.0] + (1 - post) * fits[0.0, 0.0]
    w_tpre = trim * w * D * (1 - post)
    w_tpost = trim * w * D * post
    odds = ps * (1 - D) / (1 - ps)
    w_cpre = trim * w * odds * (1 - post)
    w_cpost = trim * w * odds * post
    w_d = trim * w * D
    w_dt1 = trim * w * D * post
    w_dt0 = trim * w * D * (1 - post)
    m = lambda v: float(v.mean())  # noqa: E731
    eta_tpre = w_tpre * (y - out_c) / m(w_tpre)
    eta_tpost = w_tpost * (y - out_c) / m(w_tpost)
    eta_cpre = w_cpre * (y - out_c) / m(w_cpre)
    eta_cpost = w_cpost * (y - out_c) / m(w_cpost)
    d_post = fits[1.0, 1.0] - fits[0.0, 1.0]
    d_pre = fits[1.0, 0.0] - fits[0.0, 0.0]
    eta_d_post = w_d * d_post / m(w_d)
    eta_dt1_post = w_dt1 * d_post / m(w_dt1)
    eta_d_pre = w_d * d_pre / m(w_d)
    eta_dt0_pre = w_dt0 * d_pre / m(w_dt0)
    a_tpre, a_tpost, a_cpre, a_cpost = m(eta_tpre), m(eta_tpost), m(eta_cpre), m(eta_cpost)
    a_dpost, a_dt1, a_dpre, a_dt0 = m(eta_d_post), m(eta_dt1_post), m(eta_d_pre), m(eta_dt0_pre)
    att = (a_tpost - a_tpre) - (a_cpost - a_cpre) + (a_dpost - a_dt1) - (a_dpre - a_dt0)
    H = np.linalg.inv((X * Wps[:, None]).T @ X) * n
    lin_ps = (w * (D - ps))[:, None] * X @ H
    inf_tpre = eta_tpre - w_tpre * a_tpre / m(w_tpre)
    inf_tpost = eta_tpost - w_tpost * a_tpost / m(w_tpost)
    M1_post = -(w_tpost * post)[:, None] * X
    M1_pre = -(w_tpre * (1 - post))[:, None] * X
    inf_t_or = lin[0.0, 1.0] @ (M1_post.mean(axis=0) / m(w_tpost)) + lin[0.0, 0.0] @ (M1_pre.mean(axis=0)
                                                                                        / m(w_tpre))
    inf_cpre = eta_cpre - w_cpre * a_cpre / m(w_cpre)
    inf_cpost = eta_cpost - w_cpost * a_cpost / m(w_cpost)
    M2_pre = ((w_cpre * (y - out_c - a_cpre))[:, None] * X).mean(axis=0) / m(w_cpre)
    M2_post = ((w_cpost * (y - out_c - a_cpost))[:, None] * X).mean(axis=0) / m(w_cpost)
    inf_c_ps = lin_ps @ (M2_post - M2_pre)
    M3_post = -((w_cpost * post)[:, None] * X).mean(axis=0) / m(w_cpost)
    M3_pre = -((w_cpre * (1 - post))[:, None] * X).mean(axis=0) / m(w_cpre)
    inf_c_or = lin[0.0, 1.0] @ M3_post + lin[0.0, 0.0] @ M3_pre
    inf_eff = ((eta_d_post - w_d * a_dpost / m(w_d)) - (eta_dt1_post - w_dt1 * a_dt1 / m(w_dt1))
               - ((eta_d_pre - w_d * a_dpre / m(w_d)) - (eta_dt0_pre - w_dt0 * a_dt0 / m(w_dt0))))
    mom_post = ((w_d / m(w_d) - w_dt1 / m(w_dt1))[:, None] * X).mean(axis=0)
    mom_pre = ((w_d / m(w_d) - w_dt0 / m(w_dt0))[:, None] * X).mean(axis=0)
    inf_or = (lin[1.0, 1.0] - lin[0.0, 1.0]) @ mom_post - (lin[1.0, 0.0] - lin[0.0, 0.0]) @ mom_pre
    inf_treat = inf_tpost - inf_tpre + inf_t_or
    inf_cont = inf_cpost - inf_cpre + inf_c_ps + inf_c_or
    return float(att), inf_treat - inf_cont + inf_eff + inf_or


def _std_ipw_did_rc(y: np.ndarray, post: np.ndarray, D: np.ndarray, X: np.ndarray, w: np.ndarray,
                    trim_level: float = 0.995) -> tuple[float, np.ndarray]:
    """Standardised IPW DiD for repeated cross-sections (Sant'Anna & Zhao 2020; DRDID's
    ``std_ipw_did_rc``): ATT and its row-level influence function."""
    n = y.size
    w = w / w.mean()
    _, ps = logit_fit(X, D, w)
    ps = np.minimum(ps, 1 - 1e-6)
    trim = np.where(D == 1, ps < 1.01, ps < trim_level).astype(float)
    odds = ps * (1 - D) / (1 - ps)
    ws = [trim * w * D * (1 - post), trim * w * D * post, trim * w * odds * (1 - post), trim * w * odds * post]
    etas = [wi * y / wi.mean() for wi in ws]
    atts = [float(e.mean()) for e in etas]
    att = (atts[1] - atts[0]) - (atts[3] - atts[2])
    infs = [e - wi * a / wi.mean() for e, wi, a in zip(etas, ws, atts)]
    H = np.linalg.inv((X * (ps * (1 - ps) * w)[:, None]).T @ X) * n
    lin_ps = (w * (D - ps))[:, None] * X @ H
    M2_pre = ((ws[2] * (y - atts[2]))[:, None] * X).mean(axis=0) / ws[2].mean()
    M2_post = ((ws[3] * (y - atts[3]))[:, None] * X).mean(axis=0) / ws[3].mean()
    inf_cont = infs[3] - infs[2] + lin_ps @ (M2_post - M2_pre)
    return float(att), (infs[1] - infs[0]) - inf_cont


def att_gt_rc(
    y: np.ndarray,
    period: np.ndarray,
    G: np.ndarray,
    w: np.ndarray,
    ids: np.ndarray,
    n_ids: int,
    X: np.ndarray | None,
    *,
    n_periods: int,
    control_group: str,
    base_period: str,
    anticipation: int,
    method: str = "reg",
) -> tuple[list[GTCell], np.ndarray, list[str]]:
    """ATT(g, t) from rows that are not a balanced panel (repeated cross-sections).

    Each row is one observation: ``y``, its period index ``period``, its
    cohort index ``G`` (-1 never treated), row weight ``w`` and the id
    ``ids`` of the observation it belongs to (the unit in an unbalanced
    panel, the row itself in repeated cross-sections). Each 2x2 comparison
    uses every row of the two periods, as R did's ``panel = FALSE`` path
    (DRDID's ``*_did_rc``): without covariates ``(Ybar[g,t] - Ybar[g,b]) -
    (Ybar[C,t] - Ybar[C,b])`` with weighted cell means. The row influence
    functions are summed within ids and put on the ids' full-sample scale, so
    ``se = sqrt(sum psi^2) / n_ids`` clusters by unit in an unbalanced panel,
    as R did with ``allow_unbalanced_panel = TRUE``.

    Returns the cells, the ``(n_ids, n_cells)`` influence functions and
    warnings for the cells skipped because a cohort or its comparison group
    has no row in one of the two periods.
    """
    order = np.argsort(period, kind="stable")
    bounds = np.searchsorted(period[order], np.arange(n_periods + 1))
    rows_of = [order[bounds[p]:bounds[p + 1]] for p in range(n_periods)]
    cohorts = np.unique(G[G >= 0])
    ncode = int(G.max()) + 2  # code 0 = never treated, c + 1 = cohort c
    code = G + 1
    Sw = np.zeros((n_periods, ncode))
    Swy = np.zeros((n_periods, ncode))
    for p, r in enumerate(rows_of):
        Sw[p] = np.bincount(code[r], weights=w[r], minlength=ncode)
        Swy[p] = np.bincount(code[r], weights=w[r] * y[r], minlength=ncode)
    cells: list[GTCell] = []
    infs: list[np.ndarray] = []
    warns: list[str] = []
    cohort_codes = np.arange(ncode)
    for g in cohorts:
        ref = g - 1 - anticipation
        for t in range(n_periods):
            if base_period == "varying":
                if t < g - anticipation:
                    if t == 0:
                        continue
                    base = t - 1
                else:
                    base = ref
            else:
                base = ref
                if t == base:
                    cells.append(GTCell(int(g), t, base, 0.0, 0, 0))
                    infs.append(np.zeros(n_ids))
                    continue
            if base < 0:
                continue
            if control_group == "nevertreated":
                is_ctrl_code = cohort_codes == 0
            else:
                is_ctrl_code = (cohort_codes == 0) | ((cohort_codes - 1 > max(t, base) + anticipation)
                                                      & (cohort_codes - 1 != g))
            wt_t, wt_b = Sw[t, g + 1], Sw[base, g + 1]
            wc_t, wc_b = Sw[t, is_ctrl_code].sum(), Sw[base, is_ctrl_code].sum()
            if min(wt_t, wt_b, wc_t, wc_b) <= 0:
                if not is_ctrl_code.any() or min(wc_t, wc_b) <= 0:
                    continue  # no comparison group at all: as the balanced path, no cell
                warns.append(f"ATT(g={g}, t={t}) skipped: cohort index {g} has no row in period index "
                             f"{t if wt_t <= 0 else base}.")
                continue
            rows = np.concatenate([rows_of[t], rows_of[base]])
            c = code[rows]
            in_t = np.arange(rows.size) < rows_of[t].size
            treat = c == g + 1
            ctrl = is_ctrl_code[c]
            n_t = int(np.count_nonzero(treat))
            n_c = int(np.count_nonzero(ctrl))
            if X is None:
                m_tt, m_tb = Swy[t, g + 1] / wt_t, Swy[base, g + 1] / wt_b
                m_ct, m_cb = Swy[t, is_ctrl_code].sum() / wc_t, Swy[base, is_ctrl_code].sum() / wc_b
                att = float((m_tt - m_tb) - (m_ct - m_cb))
                m = np.where(treat, np.where(in_t, m_tt, m_tb), np.where(in_t, m_ct, m_cb))
                W = np.where(treat, np.where(in_t, wt_t, wt_b), np.where(in_t, wc_t, wc_b))
                sign = np.where(in_t, 1.0, -1.0) * np.where(treat, 1.0, np.where(ctrl, -1.0, 0.0))
                coef = sign * w[rows] * (y[rows] - m) / W
                inf = n_ids * np.bincount(ids[rows], weights=coef, minlength=n_ids)
            else:
                keep = treat | ctrl
                r = rows[keep]
                rc_fn = {"dr": _drdid_rc, "ipw": _std_ipw_did_rc}.get(method, _reg_did_rc)
                att, inf_rows = rc_fn(y[r], in_t[keep].astype(float), treat[keep].astype(float), X[r], w[r])
                inf = (n_ids / r.size) * np.bincount(ids[r], weights=inf_rows, minlength=n_ids)
            cells.append(GTCell(int(g), t, base, att, n_t, n_c))
            infs.append(inf)
    if not cells:
        raise EstimationError("no group-time effect could be formed: no cohort has a comparison group "
                              "and a base period in the data.")
    return cells, np.column_stack(infs), warns
