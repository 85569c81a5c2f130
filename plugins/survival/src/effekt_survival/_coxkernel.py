"""Vectorised partial likelihood of the stratified Cox model.

Everything here works on numpy arrays; the estimator modules check the input
and call these functions. The kernel handles strata, case weights, delayed
entry (counting-process rows ``(start, stop]``) and Efron or Breslow ties,
with no Python loop over rows, strata or event times.

Risk-set sums
-------------
Event times and entry times are ranked together and combined with the
stratum into one integer key ``stratum * (K + 1) + rank``. The risk set of an
event group ``g`` (stratum ``s``, time ``t``) is every row of ``s`` with
``start < t <= stop``, so each risk-set sum is a difference of two prefix
sums over rows sorted by stop key minus the same over rows sorted by start
key. Without delayed entry the by-start term is zero and every sum is a run
of whole segments between the rows where some group's risk set or tied
events begin or end, so one ``reduceat`` pass and a prefix sum over the
segments give them all. The Hessian needs ``sum_g a_g S2_g``; exchanging
the sums gives ``X' diag(v_j A_j) X`` with ``A_j`` the sum of ``a_g`` over
the groups whose risk set holds row ``j`` - again a difference of prefix
sums - so no ``p x p`` matrix is ever formed per row or per time.

Efron's approximation (Efron 1977, JASA 72:557, eq. 3.1) with case weights
follows R's survival package: the ``l``-th of ``d`` tied events at a time
has denominator ``S0 - (l/d) D0`` and weight the mean weight of the tied
events.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from effekt.errors import EstimationError

__all__ = ["CoxProblem", "prepare", "loglik_grad_hess", "newton", "score_residuals", "schoenfeld", "schoenfeld_sum"]


@dataclass
class CoxProblem:
    """Sorted arrays and index maps of one Cox fit (see :func:`prepare`)."""

    X: np.ndarray  # (n, p) rows sorted by stop key
    w: np.ndarray  # case weights, same order
    event: np.ndarray  # bool
    order: np.ndarray  # sorted position -> original row
    # prefix-sum positions of every event group g
    stop_lo: np.ndarray
    stop_hi: np.ndarray
    start_lo: np.ndarray
    start_hi: np.ndarray
    start_order: np.ndarray  # sorted-by-start position -> sorted-by-stop position
    # event rows (positions in sorted order), their group and Efron slot
    ev_rows: np.ndarray
    ev_group: np.ndarray
    ev_frac: np.ndarray  # l / d for Efron, 0 for Breslow
    ev_omega: np.ndarray  # weight of the slot's log-denominator
    group_first_ev: np.ndarray  # start of each group's event rows in ev_rows
    # for each row: groups whose risk set holds it are (g_lo, g_hi]
    row_g_lo: np.ndarray
    row_g_hi: np.ndarray
    row_group: np.ndarray  # group of an event row, -1 otherwise
    n_groups: int
    ties: str
    offset: np.ndarray  # fixed part of the linear predictor
    gtime: np.ndarray  # time of each event group
    g_stratum_lo: np.ndarray  # sorted position where each group's stratum starts
    row_g_end: np.ndarray  # first group beyond each row's stratum
    # Fine-Gray extension: row j stays in the risk set of every later group g of its
    # stratum with weight ext_h[g] * ext_u[j] (ext_u = 0 for ordinary rows)
    ext_u: np.ndarray | None = None
    ext_h: np.ndarray | None = None
    # without delayed entry every start key precedes its stratum's event groups, so the
    # by-start prefix sums are zero and skipped
    delayed: bool = True
    g_ev_lo: np.ndarray | None = None  # sorted positions [lo, hi) of each group's (contiguous) event rows
    g_ev_hi: np.ndarray | None = None
    # segments of the sorted rows cut at every stop_lo, stop_hi and g_ev_hi: a risk-set or tied-event
    # sum is a sum of whole segments; seg_start[k] is where segment k starts, seg_of_* index it
    seg_start: np.ndarray | None = None
    seg_of_lo: np.ndarray | None = None
    seg_of_hi: np.ndarray | None = None
    seg_of_ev: np.ndarray | None = None
    time_rank: np.ndarray | None = None  # rank of each sorted row's stop time among the distinct times

    @property
    def n_events(self) -> int:
        return int(self.ev_rows.size)


def prepare(
    stop: np.ndarray,
    event: np.ndarray,
    X: np.ndarray,
    *,
    strata: np.ndarray | None = None,
    start: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    ties: str = "efron",
    offset: np.ndarray | None = None,
) -> CoxProblem:
    """Sort and index the data once; every likelihood evaluation reuses it."""
    n = stop.shape[0]
    X = np.asarray(X, dtype=float).reshape(n, -1)
    strata_ = np.zeros(n, dtype=np.int64) if strata is None else np.asarray(strata, dtype=np.int64)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    ev = np.asarray(event).astype(bool)
    off = np.zeros(n) if offset is None else np.asarray(offset, dtype=float)
    if start is None:
        times = np.unique(stop)
        stop_r = np.searchsorted(times, stop)
        start_r = np.full(n, -1, dtype=np.int64)
    else:
        times = np.unique(np.concatenate([stop, start]))
        stop_r = np.searchsorted(times, stop)
        start_r = np.searchsorted(times, start)
    span = times.size + 1
    key_stop = strata_ * span + stop_r
    key_start = strata_ * span + start_r
    stratum_end = (strata_ + 1) * span - 1  # larger than any key of the stratum

    # rows sorted by stop key, the events of a key first (so that they are contiguous); one
    # stable argsort of a combined key orders as lexsort((~ev, key_stop)) does, in less time
    order = np.argsort(key_stop * 2 + (~ev), kind="stable")
    ks = key_stop[order]
    evs = ev[order]
    kst = key_start[order]
    send = stratum_end[order]
    if start is None:
        start_order = np.zeros(0, dtype=np.int64)
        kst_sorted = kst  # already sorted: stratum * span - 1 and rows are sorted by stratum
    else:
        start_order = np.argsort(kst, kind="stable")
        kst_sorted = kst[start_order]

    # event groups: distinct stop keys holding an event
    ev_pos = np.flatnonzero(evs)
    if ev_pos.size == 0:
        raise EstimationError("cox: there are no events, so no hazard ratio can be estimated.")
    ev_keys = ks[ev_pos]
    gkeys, first, counts = np.unique(ev_keys, return_index=True, return_counts=True)
    ev_group = np.repeat(np.arange(gkeys.size), counts)
    slot = np.arange(ev_pos.size) - np.repeat(first, counts)
    gsend = send[ev_pos[first]]
    # risk set of g: stop key in [gkey, stratum end) minus start key in [gkey, stratum end)
    stop_lo = np.asarray(np.searchsorted(ks, gkeys, side="left"))
    stop_hi = np.searchsorted(ks, gsend, side="left")
    start_lo = np.asarray(np.searchsorted(kst_sorted, gkeys, side="left"))
    start_hi = np.searchsorted(kst_sorted, gsend, side="left")
    ws = w[order]
    if ties == "efron":
        frac = slot / np.repeat(counts, counts)
        gw = np.add.reduceat(ws[ev_pos], first) / counts
        omega = np.repeat(gw, counts)
    elif ties == "breslow":
        frac = np.zeros(ev_pos.size)
        omega = ws[ev_pos]
    else:  # pragma: no cover - checked by the caller
        raise ValueError(ties)
    # groups holding row j: start key < gkey <= stop key (same stratum by construction)
    row_g_hi = np.searchsorted(gkeys, ks, side="right")
    row_g_lo = np.searchsorted(gkeys, kst, side="right")
    row_group = np.full(n, -1, dtype=np.int64)
    row_group[ev_pos] = ev_group
    g_stratum_lo = np.asarray(np.searchsorted(ks, (gkeys // span) * span, side="left"))
    row_g_end = np.asarray(np.searchsorted(gkeys, send, side="left"))
    return CoxProblem(
        X=X[order],
        w=ws,
        event=evs,
        order=order,
        stop_lo=stop_lo,
        stop_hi=stop_hi,
        start_lo=start_lo,
        start_hi=start_hi,
        start_order=start_order,
        ev_rows=ev_pos,
        ev_group=ev_group,
        ev_frac=frac,
        ev_omega=omega,
        group_first_ev=first,
        row_g_lo=row_g_lo,
        row_g_hi=row_g_hi,
        row_group=row_group,
        n_groups=gkeys.size,
        ties=ties,
        offset=off[order],
        gtime=times[gkeys % span],
        g_stratum_lo=g_stratum_lo,
        row_g_end=row_g_end,
        delayed=start is not None,
        g_ev_lo=ev_pos[first],
        g_ev_hi=ev_pos[first] + counts,
        **_segments(stop_lo, stop_hi, ev_pos[first] + counts, n),
        time_rank=stop_r[order],
    )


def _segments(stop_lo: np.ndarray, stop_hi: np.ndarray, ev_hi: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """Cut the sorted rows at every risk-set and tied-event boundary (see :func:`_risk_and_event_sums`)."""
    cuts = np.unique(np.concatenate([[0], stop_lo, stop_hi, ev_hi]))
    return {
        "seg_start": cuts[cuts < n],
        "seg_of_lo": np.searchsorted(cuts, stop_lo),
        "seg_of_hi": np.searchsorted(cuts, stop_hi),
        "seg_of_ev": np.searchsorted(cuts, stop_lo),  # a group's tied events open its stop_lo segment
    }


def _prefix(values: np.ndarray) -> np.ndarray:
    """Prefix sums with a leading zero row."""
    out = np.zeros((values.shape[0] + 1,) + values.shape[1:])
    np.cumsum(values, axis=0, out=out[1:])
    return out


def _risk_and_event_sums(P: CoxProblem, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sums of ``values`` (rows in sorted order) over the risk set and over the tied events of every group.

    Without delayed entry (and without the Fine-Gray extension) the risk set
    of a group is the run of sorted rows ``[stop_lo, stop_hi)`` and its tied
    events the run ``[stop_lo, g_ev_hi)`` (events sort first within a stop
    key): both are whole segments between consecutive cuts, so one pass of
    ``reduceat`` and a prefix sum over segments give every sum.
    """
    if P.delayed or P.ext_u is not None or P.seg_start is None:
        return _risk_sums(P, values), _event_sums(P, values)
    assert P.seg_of_lo is not None and P.seg_of_hi is not None and P.seg_of_ev is not None
    seg = np.add.reduceat(values, P.seg_start, axis=0)
    pre = _prefix(seg)
    return np.asarray(pre[P.seg_of_hi] - pre[P.seg_of_lo]), np.asarray(seg[P.seg_of_ev])


def _risk_sums(P: CoxProblem, values: np.ndarray) -> np.ndarray:
    """Sum of ``values`` (rows in sorted order) over the risk set of every event group."""
    by_stop = _prefix(values)
    out = by_stop[P.stop_hi] - by_stop[P.stop_lo]
    if P.delayed:
        by_start = _prefix(values[P.start_order])
        out -= by_start[P.start_hi] - by_start[P.start_lo]
    if P.ext_u is not None and P.ext_h is not None:
        u = P.ext_u if values.ndim == 1 else P.ext_u[:, None]
        ext = _prefix(values * u)
        h = P.ext_h if values.ndim == 1 else P.ext_h[:, None]
        out = out + h * (ext[P.stop_lo] - ext[P.g_stratum_lo])
    return np.asarray(out)


def _event_sums(P: CoxProblem, values: np.ndarray) -> np.ndarray:
    """Sum of ``values`` (rows in sorted order) over the tied event rows of every event group."""
    if P.g_ev_lo is None or P.g_ev_hi is None:  # a problem built by hand: gather the event rows
        return np.asarray(np.add.reduceat(values[P.ev_rows], P.group_first_ev, axis=0))
    # a group's event rows are contiguous (events sort first within a stop key): reduce the
    # slices [lo, hi) in place, without gathering the event rows
    idx = np.column_stack([P.g_ev_lo, P.g_ev_hi]).ravel()
    if idx[-1] == values.shape[0]:
        idx = idx[:-1]
    return np.asarray(np.add.reduceat(values, idx, axis=0)[::2])


def _later_groups(P: CoxProblem, group_values: np.ndarray) -> np.ndarray:
    """For every row, the sum of ``ext_h * group_values`` over later groups of its stratum."""
    assert P.ext_h is not None
    h = P.ext_h if group_values.ndim == 1 else P.ext_h[:, None]
    pre = _prefix(group_values * h)
    return np.asarray(pre[P.row_g_end] - pre[P.row_g_hi])


def _per_row_groups(P: CoxProblem, group_values: np.ndarray) -> np.ndarray:
    """For every row, the sum of ``group_values`` over the groups whose risk set holds it."""
    pre = _prefix(group_values)
    return pre[P.row_g_hi] - pre[P.row_g_lo]


def _own_group(P: CoxProblem, group_values: np.ndarray) -> np.ndarray:
    """For every row, ``group_values`` of its own event group (0 for a row that is not an event)."""
    padded = np.concatenate([group_values, np.zeros((1,) + group_values.shape[1:])])
    return np.asarray(padded[P.row_group])  # row_group is -1 for a non-event: the padding


@dataclass
class _Parts:
    """One evaluation of the partial likelihood.

    Efron's tied slots of a group share its risk-set sums ``S0, S1`` and tied
    event sums ``D0, D1``: slot ``l`` has denominator ``den = S0 - c_l D0`` and
    mean ``m_l = (S1 - c_l D1) / den``, so every sum over slots reduces to
    ``S1`` and ``D1`` times a per-group sum of scalars, ``a_g = sum_l w/den``
    and ``b_g = sum_l w c_l/den`` (``w`` the slot weight); nothing of size
    (events x p) is formed.
    """

    loglik: float
    grad: np.ndarray
    hess: np.ndarray  # information matrix (negative Hessian)
    v: np.ndarray
    den: np.ndarray
    a_g: np.ndarray
    b_g: np.ndarray
    S1: np.ndarray  # per group: risk-set sum of v x
    D1: np.ndarray  # per group: sum of v x over the tied events


def _group_sum(P: CoxProblem, slot_values: np.ndarray) -> np.ndarray:
    """Per group, the sum of a value of its tied slots (a group's slots are contiguous)."""
    return np.asarray(np.add.reduceat(slot_values, P.group_first_ev))


def _parts(P: CoxProblem, beta: np.ndarray, *, need_hess: bool = True) -> _Parts:
    X = P.X
    eta = X @ beta + P.offset
    shift = float(eta.max())
    v = P.w * np.exp(eta - shift)
    vx = X * v[:, None]
    S0, D0 = _risk_and_event_sums(P, v)
    S1, D1 = _risk_and_event_sums(P, vx)
    g = P.ev_group
    c = P.ev_frac
    den = S0[g] - c * D0[g]
    if np.any(den <= 0):
        raise EstimationError(
            "cox: a risk set is empty or numerically zero; the coefficients diverge. This happens "
            "when a covariate or the treatment perfectly predicts who has the event first."
        )
    omega = P.ev_omega
    w_event = P.w * P.event  # the case weight of an event row, 0 otherwise
    od = omega / den
    loglik = float(w_event @ eta - np.sum(omega * (np.log(den) + shift)))
    a_g = _group_sum(P, od)
    b_g = _group_sum(P, od * c)
    grad = w_event @ X - (a_g @ S1 - b_g @ D1)
    if need_hess:
        A = _per_row_groups(P, a_g)
        if P.ext_u is not None:
            A = A + P.ext_u * _later_groups(P, a_g)
        coef = v * (A - _own_group(P, b_g))
        # sum over slots of w m m' with m = (S1 - c D1) / den, expanded in S1 and D1
        od2 = od / den
        a2 = _group_sum(P, od2)
        ab = _group_sum(P, od2 * c)
        b2 = _group_sum(P, od2 * c * c)
        cross = (S1 * ab[:, None]).T @ D1
        mm = (S1 * a2[:, None]).T @ S1 - cross - cross.T + (D1 * b2[:, None]).T @ D1
        hess = (X * coef[:, None]).T @ X - mm
    else:
        hess = np.empty((0, 0))
    return _Parts(loglik, grad, hess, v, den, a_g, b_g, S1, D1)


def loglik_grad_hess(P: CoxProblem, beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Log partial likelihood, score and information at ``beta``."""
    parts = _parts(P, np.asarray(beta, dtype=float))
    return parts.loglik, parts.grad, parts.hess


def loglik(P: CoxProblem, beta: np.ndarray) -> float:
    return _parts(P, np.asarray(beta, dtype=float), need_hess=False).loglik


def newton(
    P: CoxProblem, beta0: np.ndarray | None = None, *, tol: float = 1e-10, max_iter: int = 50
) -> tuple[np.ndarray, float, np.ndarray, int]:
    """Maximise the partial likelihood by Newton-Raphson with step halving.

    Converges when the Newton decrement ``g' I^{-1} g`` is below ``tol``.
    Returns ``(beta, loglik, information, iterations)``.
    """
    p = P.X.shape[1]
    beta = np.zeros(p) if beta0 is None else np.asarray(beta0, dtype=float).copy()
    if p == 0:
        return beta, loglik(P, beta), np.zeros((0, 0)), 0
    ll, grad, info = loglik_grad_hess(P, beta)
    for it in range(1, max_iter + 1):
        try:
            step = np.linalg.solve(info, grad)
        except np.linalg.LinAlgError:
            raise EstimationError(
                "cox: the information matrix is singular; a covariate is constant within strata "
                "or collinear with the others. Drop it."
            ) from None
        decrement = float(grad @ step)
        if decrement < tol:
            if np.max(np.abs(beta), initial=0.0) > 15:
                raise EstimationError(
                    "cox: a coefficient exceeds 15 on the log-hazard scale, so the estimate is "
                    "effectively infinite (the fit diverges: monotone likelihood). A group has all or "
                    "none of the events; check the events by arm and stratum."
                )
            return beta, ll, info, it - 1
        t = 1.0
        for _ in range(30):
            cand = beta + t * step
            try:
                ll_c, g_c, i_c = loglik_grad_hess(P, cand)
            except EstimationError:
                ll_c = -np.inf
            if np.isfinite(ll_c) and ll_c >= ll - 1e-12 * abs(ll):
                break
            t /= 2.0
        else:
            raise EstimationError("cox: Newton-Raphson could not increase the partial likelihood.")
        beta, ll, grad, info = cand, ll_c, g_c, i_c
        if np.max(np.abs(beta)) > 30:
            raise EstimationError(
                "cox: a coefficient exceeds 30 on the log-hazard scale, so the fit diverges "
                "(monotone likelihood): a group has all or none of the events. Check the events "
                "by arm and stratum."
            )
    raise EstimationError(f"cox: Newton-Raphson did not converge in {max_iter} iterations.")


def score_residuals(P: CoxProblem, beta: np.ndarray) -> np.ndarray:
    """Weighted score residuals, one row per input row (original order).

    Their column sums are the score; the robust (Lin & Wei 1989, JASA 84:1074)
    variance is ``I^{-1} (sum_c r_c r_c') I^{-1}`` over clusters ``c``. Tied
    events under Efron share the slot-averaged mean of x, as in R's survival.
    """
    pr = _parts(P, np.asarray(beta, dtype=float), need_hess=False)
    X, v = P.X, pr.v
    ev = P.ev_rows
    c, den = P.ev_frac, pr.den
    S1, D1 = pr.S1, pr.D1
    A = _per_row_groups(P, pr.a_g)
    # per group: sum over slots of w/den * m and of w c/den * m, with m = (S1 - c D1) / den
    od2 = P.ev_omega / den**2
    a2, ab, b2 = _group_sum(P, od2), _group_sum(P, od2 * c), _group_sum(P, od2 * c * c)
    bvec_all = a2[:, None] * S1 - ab[:, None] * D1
    B = _per_row_groups(P, bvec_all)
    # tied events: their own group's slots count with weight (1 - l/d)
    cvec = ab[:, None] * S1 - b2[:, None] * D1
    own_b = _own_group(P, pr.b_g)
    own_bvec = _own_group(P, cvec)
    if P.ext_u is not None:
        A = A + P.ext_u * _later_groups(P, pr.a_g)
        B = B + P.ext_u[:, None] * _later_groups(P, bvec_all)
    resid = -v[:, None] * (X * (A - own_b)[:, None] - (B - own_bvec))
    resid[ev] += P.w[ev][:, None] * (X[ev] - _mean_of_slots(P, pr)[P.ev_group])
    out = np.empty_like(resid)
    out[P.order] = resid
    return out


def _mean_of_slots(P: CoxProblem, pr: _Parts) -> np.ndarray:
    """Per group: the mean over its tied slots of ``m = (S1 - c D1) / den``."""
    counts = np.bincount(P.ev_group, minlength=P.n_groups)
    inv = _group_sum(P, 1.0 / pr.den)
    cinv = _group_sum(P, P.ev_frac / pr.den)
    return np.asarray((pr.S1 * inv[:, None] - pr.D1 * cinv[:, None]) / counts[:, None])


def schoenfeld_sum(P: CoxProblem, beta: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``sum_i g_i s_i`` over the Schoenfeld residuals ``s_i`` (``g`` in the order of ``ev_rows``).

    The same as ``g @ schoenfeld(P, beta)[0]`` without forming the residuals.
    """
    pr = _parts(P, np.asarray(beta, dtype=float), need_hess=False)
    g_rows = np.zeros(P.X.shape[0])
    g_rows[P.ev_rows] = g
    return np.asarray(g_rows @ P.X - _group_sum(P, g) @ _mean_of_slots(P, pr))


def schoenfeld(P: CoxProblem, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Schoenfeld residuals ``x_i - xbar(t_i)`` of the event rows.

    Returns ``(residuals, original_row_index)``; under Efron ties ``xbar`` is
    the mean over the tied slots.
    """
    pr = _parts(P, np.asarray(beta, dtype=float), need_hess=False)
    mbar = _mean_of_slots(P, pr)
    return P.X[P.ev_rows] - mbar[P.ev_group], P.order[P.ev_rows]
