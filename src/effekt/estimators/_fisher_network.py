"""Exact p-value of Fisher's test on an r x c table by a network algorithm.

Why not scipy: :func:`scipy.stats.fisher_exact` (1.17) is exact only for
2 x 2 tables; for larger tables it draws a Monte Carlo sample by default,
so its p-value changes with the random state and is not the exact one that
R's ``fisher.test`` and published tables report.

The method is the network algorithm of Mehta & Patel (1983), simplified:

* The table is built one column at a time. Given the row totals still to be
  filled, column ``j`` is multivariate hypergeometric, so the probability of
  a table under independence (margins fixed) is the product over columns of
  ``prod_i C(r_i, x_ij) / C(n_rem, c_j)``, and the probabilities of all
  completions of a partial table add to one.
* A node is the sorted vector of remaining row totals at a stage: completions
  depend on the remaining totals only through their multiset, so partial
  tables that reach the same node share every future.
* For every node the largest and smallest probability of a completion (the
  longest and shortest path through the rest of the network) are found by a
  backward pass.
* A forward pass carries, for every node, the distinct probabilities of the
  partial tables reaching it with their multiplicities. A partial table
  whose every completion is at most as probable as the observed table adds
  its own probability (its completions sum to one); one whose every
  completion is more probable is dropped; the rest are expanded.

The p-value is the total probability of the tables whose probability is at
most the observed one times ``1 + 1e-7``, the tolerance R's ``fisher.test``
uses.

References
----------
Mehta, C. R. & Patel, N. R. (1983). A network algorithm for performing
Fisher's exact test in r x c contingency tables. JASA 78(382), 427-434.
doi:10.1080/01621459.1983.10477989
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import gammaln

from effekt.errors import EstimationError

__all__ = ["fisher_rxc_pvalue", "table_log_probability"]

_REL_TOL = 1e-7  # as R's fisher.test: tables within this relative tolerance count as "as extreme"
_MERGE_DIGITS = 12  # log-probabilities equal to this many decimals are merged


def table_log_probability(counts: np.ndarray) -> float:
    """log P(table | margins) under independence (multiple hypergeometric).

    ``sum log r_i! + sum log c_j! - log n! - sum log x_ij!``.
    """
    x = np.asarray(counts, dtype=float)
    return float(
        gammaln(x.sum(axis=1) + 1).sum()
        + gammaln(x.sum(axis=0) + 1).sum()
        - gammaln(x.sum() + 1)
        - gammaln(x + 1).sum()
    )


def _compositions(total: int, upper: np.ndarray) -> np.ndarray:
    """All integer vectors ``x`` with ``0 <= x <= upper`` and ``sum x = total``."""
    m = upper.size
    tail = np.concatenate([np.cumsum(upper[::-1])[::-1][1:], [0]])  # capacity after position i
    parts = np.zeros((1, 0), dtype=np.int64)
    sums = np.zeros(1, dtype=np.int64)
    for i in range(m):
        need = total - sums
        lo = np.maximum(0, need - tail[i])
        hi = np.minimum(upper[i], need)
        width = hi - lo + 1
        idx = np.repeat(np.arange(sums.size), width)
        offset = np.arange(int(width.sum())) - np.repeat(np.cumsum(width) - width, width)
        values = lo[idx] + offset
        parts = np.column_stack([parts[idx], values])
        sums = sums[idx] + values
    return parts


def _count_compositions(total: int, upper: np.ndarray) -> float:
    """How many vectors ``_compositions(total, upper)`` would return (as a float)."""
    ways = np.zeros(total + 1)
    ways[0] = 1.0
    for u in upper:
        csum = np.concatenate([[0.0], np.cumsum(ways)])
        lo = np.maximum(np.arange(total + 1) - int(u), 0)
        ways = csum[np.arange(total + 1) + 1] - csum[lo]
    return float(ways[total])


def _too_large(x: np.ndarray, what: str, limit: int) -> EstimationError:
    return EstimationError(
        f"fisher: the exact r x c test of this {x.shape[0]} x {x.shape[1]} table with "
        f"n = {int(x.sum())} needs more than {limit} {what}. Use method='monte-carlo' with a "
        "seed, or the chi2 / g_test asymptotic tests."
    )


def _lbinom(n: np.ndarray, k: np.ndarray) -> np.ndarray:
    return gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)  # type: ignore[no-any-return]


def fisher_rxc_pvalue(
    counts: np.ndarray,
    *,
    max_nodes: int = 200_000,
    max_edges: int = 5_000_000,
    max_paths: int = 5_000_000,
) -> float:
    """Exact two-sided p-value of Fisher's test for an r x c table.

    Raises EstimationError (before allocating) when the network would grow
    past ``max_nodes`` nodes or ``max_edges`` edges, or the forward pass past
    ``max_paths`` stored partial-table probabilities.

    >>> round(fisher_rxc_pvalue(np.array([[7, 5], [18, 10], [84, 94]])), 4)
    0.1975
    """
    x = np.asarray(counts, dtype=np.int64)
    x = x[x.sum(axis=1) > 0][:, x.sum(axis=0) > 0]
    if x.ndim != 2 or min(x.shape) < 2:
        return 1.0
    if x.shape[0] > x.shape[1]:
        x = x.T  # nodes are vectors of remaining row totals: keep them short
    rows = np.sort(x.sum(axis=1))
    cols = np.sort(x.sum(axis=0))[::-1]  # large columns first keeps the network narrow
    threshold = table_log_probability(x) + math.log1p(_REL_TOL)
    n_stages = cols.size

    # -- build the network stage by stage ------------------------------------------
    stage_nodes: list[dict[tuple[int, ...], int]] = [{tuple(int(v) for v in rows): 0}]
    edges: list[list[tuple[np.ndarray, np.ndarray]]] = []  # per stage, per node: (child ids, log h)
    total_nodes = 1
    total_edges = 0
    for j in range(n_stages - 1):
        nxt: dict[tuple[int, ...], int] = {}
        stage_edges: list[tuple[np.ndarray, np.ndarray]] = []
        for node in stage_nodes[j]:
            r = np.array(node, dtype=np.int64)
            total_edges += int(_count_compositions(int(cols[j]), r))
            if total_edges > max_edges:
                raise _too_large(x, "network edges", max_edges)
            comp = _compositions(int(cols[j]), r)
            rest = np.sort(r[None, :] - comp, axis=1)
            logh = _lbinom(r[None, :], comp).sum(axis=1) - float(_lbinom(np.array(r.sum()), np.array(cols[j])))
            uniq, inverse = np.unique(rest, axis=0, return_inverse=True)
            child_ids = np.empty(uniq.shape[0], dtype=np.int64)
            for u, row in enumerate(uniq):
                key = tuple(int(v) for v in row)
                if key not in nxt:
                    nxt[key] = len(nxt)
                child_ids[u] = nxt[key]
            stage_edges.append((child_ids[inverse.ravel()], logh))
        total_nodes += len(nxt)
        if total_nodes > max_nodes:
            raise _too_large(x, "network nodes", max_nodes)
        stage_nodes.append(nxt)
        edges.append(stage_edges)

    # -- backward pass: most and least probable completion of every node ----------
    # at the last stage the final column is forced: one completion, probability 1
    best = [np.zeros(len(stage_nodes[-1]))]
    worst = [np.zeros(len(stage_nodes[-1]))]
    for j in range(n_stages - 2, -1, -1):
        b_next, w_next = best[0], worst[0]
        b = np.empty(len(stage_nodes[j]))
        w = np.empty(len(stage_nodes[j]))
        for i, (child, logh) in enumerate(edges[j]):
            b[i] = np.max(logh + b_next[child])
            w[i] = np.min(logh + w_next[child])
        best.insert(0, b)
        worst.insert(0, w)

    # -- forward pass: carry the distinct past probabilities -------------------------
    pvalue = 0.0
    past_lp: list[np.ndarray] = [np.zeros(1)]  # per node of the current stage
    past_m: list[np.ndarray] = [np.ones(1)]
    if best[0][0] <= threshold:
        return 1.0
    stored = 1
    for j in range(n_stages - 1):
        n_next = len(stage_nodes[j + 1])
        bucket_lp: list[list[np.ndarray]] = [[] for _ in range(n_next)]
        bucket_m: list[list[np.ndarray]] = [[] for _ in range(n_next)]
        for i, (child, logh) in enumerate(edges[j]):
            lp, mult = past_lp[i], past_m[i]
            if lp.size == 0:
                continue
            new_lp = lp[:, None] + logh[None, :]  # pasts x edges
            hi = new_lp + best[j + 1][child][None, :]
            lo = new_lp + worst[j + 1][child][None, :]
            all_in = hi <= threshold
            if all_in.any():
                pvalue += float((np.exp(new_lp) * mult[:, None])[all_in].sum())
            open_ = ~all_in & (lo <= threshold)
            if not open_.any():
                continue
            pi, ei = np.nonzero(open_)
            target = child[ei]
            order = np.argsort(target, kind="stable")
            target, pi, ei = target[order], pi[order], ei[order]
            cuts = np.flatnonzero(np.diff(target)) + 1
            for seg in np.split(np.arange(target.size), cuts):
                t = int(target[seg[0]])
                bucket_lp[t].append(new_lp[pi[seg], ei[seg]])
                bucket_m[t].append(mult[pi[seg]])
        past_lp, past_m = [], []
        stored = 0
        for t in range(n_next):
            if not bucket_lp[t]:
                past_lp.append(np.empty(0))
                past_m.append(np.empty(0))
                continue
            lp_all = np.concatenate(bucket_lp[t])
            m_all = np.concatenate(bucket_m[t])
            keys, inv = np.unique(np.round(lp_all, _MERGE_DIGITS), return_inverse=True)
            merged_m = np.bincount(inv.ravel(), weights=m_all, minlength=keys.size)
            first = np.full(keys.size, -1, dtype=np.int64)
            first[inv.ravel()[::-1]] = np.arange(lp_all.size)[::-1]
            past_lp.append(lp_all[first])
            past_m.append(merged_m)
            stored += keys.size
        if stored > max_paths:
            raise _too_large(x, "stored partial tables", max_paths)
    # every node of the last stage has max == min, so it was settled above
    return float(min(1.0, pvalue))
