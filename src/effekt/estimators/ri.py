"""Randomisation inference: the sharp null tested with the design's own permutations.

Estimand: the effect the chosen estimator estimates; the test is of
Fisher's sharp null that treatment changed no unit's outcome (or, for the
interval, changed every unit's outcome by the same ``tau``).

Formula: with ``T(z, y)`` the estimator's statistic, ``z`` the realised
assignment and ``z_1..z_K`` assignments the design could have produced,

    p = #{k : |T(z_k, y)| >= |T(z, y)|} / K                     (all K enumerated)
    p = (1 + #{k : |T(z_k, y)| >= |T(z, y)|}) / (1 + K)         (K sampled)

and the interval is ``{tau : p(tau) > alpha}`` where ``p(tau)`` tests
``y_i(1) = y_i(0) + tau`` by the same count with ``|T - tau|``, ``T``
computed on the outcomes ``y - tau z + tau z_k`` the null implies under
``z_k`` (Rosenbaum 2002, ch. 2; Imbens & Rubin 2015, ch. 5).

Defaults and why: ``estimator="difference_in_means"``; exact enumeration
whenever the design has at most ``max_exact`` (10,000) assignments,
otherwise ``sims`` (1,000) sampled ones; two-sided.

Speed: for the built-in statistics (difference in means, blocked or
clustered; the ``lm_robust`` coefficient of treatment with covariates and
blocks; ``lin``; ``horvitz_thompson``) every statistic is computed for a
whole batch of permutations at once by matrix products, and the test
inversion reuses them: each is linear in the outcome, so
``T(z_k, y - tau z + tau z_k) = A_k - tau B_k + tau C_k`` with
``A = T(z_k, y)``, ``B = T(z_k, z)``, ``C = T(z_k, z_k)`` computed once.
Any other registered estimator is refitted once per permutation (a Python
loop) and gets no interval.

Drawing: a sampled permutation of a complete (block, cluster) randomisation
is drawn for every block of one shape (units, treated) at once, in batches
of at most ``_CHUNK_FLOATS`` entries: one fair bit per matched pair, a
uniform index where one unit is treated (or one is not), ranks of uniform
keys by comparisons in blocks of up to 12 units and ``np.partition`` in
larger ones (see :func:`_draw_shape`). The difference in means and
Horvitz-Thompson take the draws in the drawing's own column order (their
vectors, or per-block sums, mapped to it), so a batch is never gathered
into row order; the other statistics get the rows.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterator, Sequence
from itertools import combinations
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp
from tqdm import tqdm

from effekt.data import (
    as_frame,
    check_columns,
    check_groups_have_both_arms,
    check_seed,
    label,
    varying_groups,
)
from effekt.errors import DataError, DesignError, EstimationError, warn
from effekt.estimators._model import _from_assignment
from effekt.protocol import EstimatorTags
from effekt.result import EffectResult, EffectTable, monte_carlo_p_value
from effekt.vocabulary import Choice, Constraint, Number, validate_options, validated

__all__ = ["RandomizationInference", "Permutations", "BUILT_IN"]

#: floats of permuted assignments held in memory at once
_CHUNK_FLOATS = 20_000_000


# -- permutations of the design --------------------------------------------------------------
class Permutations:
    """Assignments a complete (block, cluster) randomisation could have produced.

    Units are the clusters (or the rows without clusters); within each block
    the number of treated units is the realised one. ``count`` is the size
    of the design's support; :meth:`enumerate` lists it, :meth:`sample`
    draws from it uniformly (rows = permutations, columns = data rows).
    An ``assignment`` from :mod:`effekt.design` supplies its own draws
    through ``assignment.permutations(k, seed)``.

    >>> p = Permutations(np.array([1, 0, 1, 0, 0, 1]), np.array([0, 0, 0, 1, 1, 1]), None)
    >>> p.count, p.enumerate().shape      # C(3, 2) * C(3, 1)
    (9, (9, 6))
    """

    def __init__(
        self, z: np.ndarray, blocks: np.ndarray | None, clusters: np.ndarray | None, assignment: Any = None
    ) -> None:
        n = z.shape[0]
        self.n = n
        self.assignment = assignment
        if clusters is None:
            unit = np.arange(n)
        else:
            unit = np.unique(clusters, return_inverse=True)[1].ravel()
        n_units = int(unit.max()) + 1
        z_unit = np.zeros(n_units, dtype=np.int8)
        z_unit[unit] = z
        if blocks is None:
            b_unit = np.zeros(n_units, dtype=np.int64)
        else:
            b_unit = np.zeros(n_units, dtype=np.int64)
            b_unit[unit] = blocks
        self.unit = unit
        self.n_units = n_units
        self.order = np.argsort(b_unit, kind="stable")  # units grouped by block
        sizes = np.bincount(b_unit)
        self.sizes = sizes
        self.treated = np.bincount(b_unit, weights=z_unit).astype(np.int64)
        self.starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        self.b_unit = b_unit
        self.sorted_units = bool(np.all(self.order == np.arange(n_units)))
        self.identity_units = clusters is None
        self._count: int | None = None
        self._layouts: tuple[list[tuple[int, int, int, int]], np.ndarray | None, int] | None = None

    @property
    def count(self) -> int:
        """The number of assignments of the design (an exact integer, computed on first use)."""
        if self._count is None:
            self._count = math.prod(math.comb(int(s), int(t)) for s, t in zip(self.sizes, self.treated))
        return self._count

    def count_at_most(self, k: int) -> bool:
        """``count <= k``, without the product of every block's count when it is plainly larger
        (with 50,000 pairs ``count`` has 50,000 bits)."""
        ways = [math.lgamma(s + 1) - math.lgamma(t + 1) - math.lgamma(s - t + 1)
                for s, t in zip(self.sizes.tolist(), self.treated.tolist())]
        if math.fsum(ways) > math.log(max(k, 1)) + 1.0:
            return False
        return self.count <= k

    def _to_rows(self, U: np.ndarray) -> np.ndarray:
        """(k, units in block order) -> (k, n rows)."""
        if self.sorted_units:
            by_unit = U
        else:
            by_unit = np.empty_like(U)
            by_unit[:, self.order] = U
        return by_unit if self.identity_units else by_unit[:, self.unit]

    def enumerate(self) -> np.ndarray:
        """Every assignment of the design, as a (count, n) 0/1 array."""
        per_block = []
        for s, t in zip(self.sizes, self.treated):
            combos = list(combinations(range(int(s)), int(t)))
            block = np.zeros((len(combos), int(s)), dtype=np.int8)
            if t:
                block[np.repeat(np.arange(len(combos)), int(t)), np.asarray(combos).ravel()] = 1
            per_block.append(block)
        grids = np.meshgrid(*[np.arange(b.shape[0]) for b in per_block], indexing="ij")
        U = np.hstack([b[g.ravel()] for b, g in zip(per_block, grids)])
        return self._to_rows(U)

    def layouts(self) -> tuple[list[tuple[int, int, int, int]], np.ndarray | None, int]:
        """The blocks grouped by shape, for drawing without a loop over blocks.

        Returns ``(shapes, gather, width)``: each shape ``(size, treated,
        blocks, offset)`` owns the columns ``offset : offset + blocks * size``
        of a (draws, ``width``) matrix, block after block, a block's units
        side by side; blocks with nobody treated are left out (a last column
        of zeros stands for their units). ``gather`` maps that matrix to the
        data's rows (``None``: it is already in row order).
        """
        if self._layouts is None:
            shapes, columns, offset = [], [], 0
            code = self.sizes * (int(self.sizes.max(initial=0)) + 1) + self.treated
            for c in np.unique(code[self.treated > 0]):
                which = np.flatnonzero(code == c)
                size, t = int(self.sizes[which[0]]), int(self.treated[which[0]])
                columns.append(self.order[self.starts[which][:, None] + np.arange(size)[None, :]].ravel())
                shapes.append((size, t, int(which.size), offset))
                offset += int(which.size) * size
            width = offset + int(offset < self.n_units)
            position = np.full(self.n_units, width - 1, dtype=np.int64)  # untreated blocks: the zero column
            if columns:
                position[np.concatenate(columns)] = np.arange(offset)
            rows = position if self.identity_units else position[self.unit]
            in_order = width == self.n and np.array_equal(rows, np.arange(self.n))
            self._layouts = (shapes, None if in_order else rows, width)
        return self._layouts

    def sample(
        self, k: int, rng: np.random.Generator, dtype: Any = np.int8, row_order: bool = True, reuse: bool = False
    ) -> Iterator[np.ndarray]:
        """``k`` draws in chunks of (c, n) 0/1 arrays of ``dtype``.

        Complete randomisation: in every block the treated units are a uniform
        subset of the realised size, drawn for all blocks of one shape (size,
        number treated) and a whole chunk of draws at once (see
        :func:`_within_blocks`), then put in row order by one gather; the
        chunks hold at most ``_CHUNK_FLOATS`` entries, so memory is bounded
        whatever ``k``. The same ``rng`` state gives the same draws.

        ``row_order=False`` (complete randomisation only) yields the chunks in
        the drawing's own column order, (c, ``width``) of :meth:`layouts`, the
        same draws without the gather into rows: a statistic linear in the
        assignment is then applied with its vector mapped by :meth:`to_layout`.
        ``reuse=True`` with it writes every chunk into the same array (each
        chunk is valid until the next is drawn): no fresh memory per chunk.
        """
        chunk = max(1, min(k, _CHUNK_FLOATS // max(self.n, 1)))
        done = 0
        while done < k:
            c = min(chunk, k - done)
            if self.assignment is not None:
                draws = _draw_from(self.assignment, c, int(rng.integers(2**63 - 1)))
                if draws.shape != (self.n, c):
                    raise DesignError(
                        f"assignment.permutations({c}) returned shape {draws.shape}; expected ({self.n}, {c})."
                    )
                yield draws.T.astype(dtype)
            else:
                shapes, gather, width = self.layouts()
                if not (reuse and not row_order):
                    V = np.zeros((c, width), dtype=dtype)
                else:  # every column of a shape is rewritten by each draw; the zero column stays 0
                    if done == 0:
                        buffer = np.zeros((chunk, width), dtype=dtype)
                    V = buffer[:c]
                for size, t, nb, offset in shapes:
                    _within_blocks(rng, V[:, offset : offset + nb * size], size, t)
                yield V if gather is None or not row_order else np.take(V, gather, axis=1)
            done += c

    def to_layout(self, a: np.ndarray) -> np.ndarray:
        """A vector over the data's rows as one over the drawing's columns (rows of one unit
        summed), so that ``sample(row_order=False)`` chunk ``@ to_layout(a)`` equals
        the row-order chunk ``@ a``."""
        _, gather, width = self.layouts()
        if gather is None:
            return np.asarray(a, dtype=np.float64)
        return np.bincount(gather, weights=a, minlength=width)

    def preserves_counts(self, P: np.ndarray) -> bool:
        """Whether every row of ``P`` treats the realised number of units per block."""
        U = np.zeros((P.shape[0], self.b_unit.size), dtype=np.int64)
        U[:, self.unit] = P
        in_block = sp.csr_matrix(
            (np.ones(self.b_unit.size), (np.arange(self.b_unit.size), self.b_unit)), shape=(self.b_unit.size, self.sizes.size)
        )
        per_block = np.asarray((in_block.T @ U.T).T)
        return bool(np.all(per_block == self.treated[None, :]))


#: blocks up to this size are ranked by comparisons of their keys, larger ones by np.partition
_RANK_BY_COMPARISON = 12

#: entries of the assignment matrix drawn per slice
_SUB_ENTRIES = 1 << 18


def _within_blocks(rng: np.random.Generator, V: np.ndarray, s: int, t: int) -> None:
    """Fill ``V`` (draws x blocks * ``s``, zeros; a block's ``s`` units side by
    side) with uniform draws of ``t`` treated units in every block: see
    :func:`_draw_shape`, called on slices of about ``_SUB_ENTRIES`` entries so
    that the keys and ranks of a slice stay small (cache-sized, no fresh
    pages for every batch)."""
    step = max(1, _SUB_ENTRIES // max(V.shape[1], 1))
    buffers: dict[str, np.ndarray] = {}
    for lo in range(0, V.shape[0], step):
        _draw_shape(rng, V[lo : lo + step], s, t, buffers)


def _draw_shape(
    rng: np.random.Generator, V: np.ndarray, s: int, t: int, buffers: dict[str, np.ndarray] | None = None
) -> None:
    """Fill ``V`` (draws x blocks * ``s``, zeros; a block's ``s`` units side by
    side) with uniform draws of ``t`` treated units in every block.

    Each block's treated set is uniform over its C(s, t) subsets and every draw
    treats exactly ``t`` units per block: the units whose uniform keys rank
    below ``t`` in their block (ties broken by position); when one unit is
    treated, or one is not, that unit is drawn as a uniform index; a pair
    takes one fair bit. Every block of the shape is drawn at once.
    """
    c, nb = V.shape[0], V.shape[1] // s
    if t == s:
        V[...] = 1
        return
    if s == 2:  # matched pairs: one fair bit per pair
        first = rng.integers(0, 2, size=(c, nb), dtype=np.int8)
        V[:, 0::2] = first
        V[:, 1::2] = 1 - first
        return
    if t == 1 or t == s - 1:
        pick = rng.integers(0, s, size=(c, nb), dtype=np.int16 if s < 2**15 else np.int64)
        for i in range(s):
            V[:, i::s] = (pick == i) if t == 1 else (pick != i)
        return
    if s <= _RANK_BY_COMPARISON:
        # rank of each unit's key in its block, by the s(s-1)/2 comparisons of unit pairs
        buffers = {} if buffers is None else buffers
        if "ranked" not in buffers or buffers["ranked"].shape[0] < c:
            buffers.update(ranked=np.empty((c, s, nb)), rank=np.empty((c, s, nb), dtype=np.int8))
        keys, rank = buffers["ranked"][:c], buffers["rank"][:c]
        rng.random(out=keys)
        rank[...] = 0
        for i in range(s):
            for j in range(i + 1, s):
                later = keys[:, j] < keys[:, i]  # unit j ranks before unit i
                rank[:, i] += later
                rank[:, j] += ~later
        for i in range(s):
            V[:, i::s] = rank[:, i] < t
        return
    # larger blocks: the units whose keys are at most the t-th smallest of their block (np.partition,
    # O(s)); a block where two keys tie at that threshold (probability ~ s^2 / 2^53) is ranked by a sort
    # (the slices' keys, their partitioned copy and the picks reuse ``buffers``: no fresh memory per slice)
    buffers = {} if buffers is None else buffers
    if "keys" not in buffers or buffers["keys"].shape[0] < c:
        buffers.update(keys=np.empty((c, nb, s)), work=np.empty((c, nb, s)), picked=np.empty((c, nb, s), dtype=bool))
    keys, work, picked = buffers["keys"][:c], buffers["work"][:c], buffers["picked"][:c]
    rng.random(out=keys)
    np.copyto(work, keys)
    work.partition(t - 1, axis=-1)
    np.less_equal(keys, work[:, :, t - 1 : t], out=picked)
    # a tie only ever adds units (keys equal to the threshold), so one count of the slice finds it
    if np.count_nonzero(picked) != t * c * nb:
        tied = np.count_nonzero(picked, axis=-1) != t
        order = np.argsort(keys[tied], axis=-1, kind="stable")[:, :t]
        fixed = np.zeros((order.shape[0], s), dtype=bool)
        np.put_along_axis(fixed, order, True, axis=-1)
        picked[tied] = fixed
    V[...] = picked.reshape(c, nb * s)


# -- vectorised statistics --------------------------------------------------------------------
class _Statistic:
    """``T(P, y)`` for a (c, n) batch of assignments; linear in ``y``."""

    def __call__(self, P: np.ndarray, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def on_self(self, P: np.ndarray) -> np.ndarray:
        """``T(P_k, P_k)``: each assignment's statistic with itself as outcome."""
        return np.ones(P.shape[0])

    def pair(self, P: np.ndarray, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(T(P, y), T(P, z))``."""
        return self(P, y), self(P, z)

    def linear(self, y: np.ndarray) -> tuple[np.ndarray, float] | None:
        """``(v, c)`` with ``T(P, y) = P @ v - c`` for every assignment ``P`` the
        permutations can produce, or ``None`` when the statistic is not of that form."""
        return None

    def self_linear(self) -> tuple[np.ndarray, float] | None:
        """``on_self`` in the form of :meth:`linear` (``None``: not of that form)."""
        return None

    def on_layout(self, perms: Permutations) -> _Statistic | None:
        """The statistic for draws in the column order of ``perms.sample(row_order=False)``,
        or ``None`` when it needs them in row order."""
        return None


class _DifferenceInMeans(_Statistic):
    """Block-weighted (weighted) difference in means, as ``difference_in_means``."""

    def __init__(
        self, blocks: np.ndarray | None, weights: np.ndarray | None, n: int, treated: np.ndarray | None = None
    ) -> None:
        """``treated``: units treated per block when every permutation keeps it fixed
        (unweighted): the statistic is then linear in the assignment, one product."""
        b = np.zeros(n, dtype=np.int64) if blocks is None else blocks
        self.fixed = None
        if treated is not None and weights is None:
            sizes = np.bincount(b).astype(float)
            share = sizes / n
            m = treated.astype(float)
            self.fixed = (share * (1 / m + 1 / (sizes - m)), share / (sizes - m))
        L = int(b.max()) + 1
        self.w = np.ones(n) if weights is None else weights
        self.B = sp.csr_matrix((self.w, (np.arange(n), b)), shape=(n, L))  # weights in block columns
        self.Wb = np.asarray(self.B.sum(axis=0)).ravel()
        self.share = self.Wb / self.Wb.sum()
        self.blocks = b

    def __call__(self, P: np.ndarray, y: np.ndarray) -> np.ndarray:
        if self.fixed is not None:
            # sum_b share_b (T1_b / m_b - (Y_b - T1_b) / (n_b - m_b)) = P @ a + const
            coef, const = self.fixed
            a = coef[self.blocks] * y
            Yb = np.bincount(self.blocks, weights=y, minlength=coef.size)
            return np.asarray(np.asarray(P, dtype=np.float64) @ a - const @ Yb)
        return self._general(P, y)

    def linear(self, y: np.ndarray) -> tuple[np.ndarray, float] | None:
        if self.fixed is None:
            return None
        coef, const = self.fixed
        return coef[self.blocks] * y, float(const @ np.bincount(self.blocks, weights=y, minlength=coef.size))

    def self_linear(self) -> tuple[np.ndarray, float] | None:
        return (np.zeros(self.blocks.size), -1.0) if self.fixed is not None else None  # T(P_k, P_k) = 1

    def pair(self, P: np.ndarray, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.fixed is None:
            return self._general(P, y), self._general(P, z)
        # both outcomes in one pass over the batch (one matrix product)
        coef, const = self.fixed
        a = np.column_stack([coef[self.blocks] * y, coef[self.blocks] * z])
        Yb = np.stack([np.bincount(self.blocks, weights=v, minlength=coef.size) for v in (y, z)], axis=1)
        out = np.asarray(P, dtype=np.float64) @ a - const @ Yb
        return np.ascontiguousarray(out[:, 0]), np.ascontiguousarray(out[:, 1])

    def on_layout(self, perms: Permutations) -> _Statistic | None:
        shapes, gather, width = perms.layouts()
        if perms.assignment is not None or gather is not None and gather.size != self.blocks.size:
            return None
        return _DifferenceInMeansOnLayout(self, shapes, gather, width)

    def _general(self, P: np.ndarray, y: np.ndarray) -> np.ndarray:
        Pf = np.asarray(P, dtype=np.float64)
        W1 = (self.B.T @ Pf.T).T  # (c, L)
        T1 = (self.B.T @ (Pf * y).T).T
        Yb = np.bincount(self.blocks, weights=self.w * y, minlength=self.Wb.size)
        W0 = self.Wb - W1
        if np.any(W1 <= 0) or np.any(W0 <= 0):
            raise EstimationError("a permutation leaves a block with one arm empty; the design cannot be permuted.")
        est = T1 / W1 - (Yb - T1) / W0
        return np.asarray(est @ self.share)


class _DifferenceInMeansOnLayout(_Statistic):
    """The block-weighted difference in means of draws in the drawing's column order
    (units of a block side by side, blocks grouped by shape): each block's treated
    weight and weighted outcome are sums over its own columns, so no gather into
    rows and no sparse product; for clusters a column is a whole cluster."""

    def __init__(self, dim: _DifferenceInMeans, shapes: list[tuple[int, int, int, int]],
                 gather: np.ndarray | None, width: int) -> None:
        self.dim = dim
        self.col = np.arange(dim.blocks.size) if gather is None else gather
        self.width = width
        block_of = np.zeros(width, dtype=np.int64)
        block_of[self.col] = dim.blocks
        self.parts = [(offset, nb, size, block_of[offset : offset + nb * size : size]) for size, _, nb, offset in shapes]
        self.w_col = np.bincount(self.col, weights=dim.w, minlength=width)

    def _per_block(self, V: np.ndarray, col_weight: np.ndarray) -> np.ndarray:
        out = np.zeros((V.shape[0], self.dim.Wb.size))
        for offset, nb, size, blocks in self.parts:
            cols = slice(offset, offset + nb * size)
            out[:, blocks] = np.einsum(
                "cbs,bs->cb", V[:, cols].reshape(V.shape[0], nb, size), col_weight[cols].reshape(nb, size)
            )
        return out

    def __call__(self, P: np.ndarray, y: np.ndarray) -> np.ndarray:
        dim = self.dim
        W1 = self._per_block(P, self.w_col)
        T1 = self._per_block(P, np.bincount(self.col, weights=dim.w * y, minlength=self.width))
        Yb = np.bincount(dim.blocks, weights=dim.w * y, minlength=dim.Wb.size)
        W0 = dim.Wb - W1
        if np.any(W1 <= 0) or np.any(W0 <= 0):
            raise EstimationError("a permutation leaves a block with one arm empty; the design cannot be permuted.")
        est = T1 / W1 - (Yb - T1) / W0
        return np.asarray(est @ dim.share)


class _Coefficient(_Statistic):
    """Least-squares coefficient of treatment given covariates and absorbed blocks (FWL)."""

    def __init__(self, W: np.ndarray | None, blocks: np.ndarray | None, weights: np.ndarray | None, n: int) -> None:
        from effekt.absorb import Absorber

        self.sw = np.ones(n) if weights is None else np.sqrt(weights)
        self.absorber = Absorber([blocks], weights) if blocks is not None else None
        if W is None:
            W = np.zeros((n, 0))
        if self.absorber is None:
            W = np.column_stack([np.ones(n), W])
        else:
            W = self.absorber.demean(W) if W.shape[1] else W
        Ww = W * self.sw[:, None]
        self.Ww = Ww
        self.Q = np.linalg.pinv(Ww.T @ Ww) @ Ww.T if Ww.shape[1] else np.zeros((0, n))

    def _residualise(self, P: np.ndarray) -> np.ndarray:
        Pf = np.asarray(P, dtype=np.float64)
        if self.absorber is not None:
            Pf = self.absorber.demean(Pf.T).T
        Pw = Pf * self.sw
        if self.Ww.shape[1]:
            Pw = Pw - (Pw @ self.Q.T) @ self.Ww.T
        return Pw

    def __call__(self, P: np.ndarray, y: np.ndarray) -> np.ndarray:
        R = self._residualise(P)
        return np.asarray((R @ (y * self.sw)) / np.einsum("cn,cn->c", R, R))


class _Lin(_Statistic):
    """Lin (2013): difference of the arms' regression predictions at the covariate means."""

    def __init__(self, X: np.ndarray, weights: np.ndarray | None, n: int) -> None:
        self.w = np.ones(n) if weights is None else weights
        self.U = np.column_stack([np.ones(n), X])  # (n, q)
        xbar = (self.w @ X) / self.w.sum()
        self.u_bar = np.concatenate(([1.0], xbar))
        q = self.U.shape[1]
        self.outer = (self.U[:, :, None] * self.U[:, None, :]).reshape(n, q * q) * self.w[:, None]

    def __call__(self, P: np.ndarray, y: np.ndarray) -> np.ndarray:
        q = self.U.shape[1]
        Pf = np.asarray(P, dtype=np.float64)
        G1 = (Pf @ self.outer).reshape(-1, q, q)
        Gt = self.outer.sum(axis=0).reshape(q, q)
        uy = self.U * (self.w * y)[:, None]
        h1 = Pf @ uy
        ht = uy.sum(axis=0)
        b1 = np.linalg.solve(G1, h1[:, :, None])[:, :, 0]
        b0 = np.linalg.solve(Gt[None] - G1, (ht[None] - h1)[:, :, None])[:, :, 0]
        return np.asarray((b1 - b0) @ self.u_bar)


class _HorvitzThompson(_Statistic):
    """``(sum z y / pi - sum (1 - z) y / (1 - pi)) / N`` with known probabilities."""

    def __init__(self, pi: np.ndarray) -> None:
        self.pi = pi

    def __call__(self, P: np.ndarray, y: np.ndarray) -> np.ndarray:
        Pf = np.asarray(P, dtype=np.float64)
        n = y.size
        a = y / self.pi + y / (1 - self.pi)
        return np.asarray((Pf @ a - np.sum(y / (1 - self.pi))) / n)

    def on_self(self, P: np.ndarray) -> np.ndarray:
        return np.asarray((np.asarray(P, dtype=np.float64) @ (1 / self.pi)) / P.shape[1])

    def linear(self, y: np.ndarray) -> tuple[np.ndarray, float] | None:
        n = y.size
        return (y / self.pi + y / (1 - self.pi)) / n, float(np.sum(y / (1 - self.pi)) / n)

    def self_linear(self) -> tuple[np.ndarray, float] | None:
        return 1 / (self.pi * self.pi.size), 0.0


BUILT_IN = ("difference_in_means", "lm_robust", "lin", "horvitz_thompson")


class RandomizationInference:
    """Randomisation inference for any registered estimator.

    Estimand: that of ``estimator``; the p-value tests the sharp null of
    no effect for any unit, the interval inverts the test of a constant
    effect ``tau``.

    Formula: see the module notes; the statistic is the estimator's
    estimate, two-sided.

    Defaults and why: ``estimator="difference_in_means"``; exact when the
    design has at most ``max_exact`` assignments (the p-value is then free
    of simulation error), else ``sims=1000`` draws (Monte Carlo error of a
    p-value near 0.05 about 0.007); the permutations respect blocks and
    clusters: the numbers treated per block are held at the realised ones
    (complete randomisation), or come from ``assignment.permutations``.

    Parameters
    ----------
    data : DataFrame
    outcome : str
        Outcome column.
    treatment : str, default=None
        0/1 treatment (bool, or a categorical/object column holding 0/1), or
        labels declared with ``arms``; or take it from ``assignment``.
    arms : (control, treated), default=None
        The treatment's two labels, the control first.
    estimator : str, default="difference_in_means"
        Any registered estimator; the built-in ones are vectorised. Options
        of that estimator are passed through ``**spec`` and checked against
        it before any work.
    blocks : str, default=None
        Passed to the estimator and respected by the permutations.
    clusters : str, default=None
        Passed to the estimator; whole clusters are permuted.
    covariates : list of str, default=None
        Passed to the estimator (text or categorical ones are expanded to
        indicators there).
    weights : str, default=None
        Passed to the estimator.
    assignment : Assignment, default=None
        From :mod:`effekt.design`: treatment, blocks, clusters and the
        permutations come from it (rows of ``data`` are its units in order).
    sims : int, default=1000
        Sampled permutations when the design has more than ``max_exact``
        (at most 10^6).
    max_exact : int, default=10000
        Enumerate every assignment when there are at most this many (0:
        always sample; at most 10^7).
    seed : int or Generator, default=None
        Seed of the sampled permutations.
    alpha : float, default=0.05
        The interval is ``{tau : p(tau) > alpha}``.
    ci_method : {"inversion", "none"}, default=None
        ``"inversion"`` inverts the test for an interval, ``"none"`` skips
        it (faster); None gives it for the built-in statistics and no
        interval for the others (which would be refitted for every
        permutation and candidate effect).
    missing : {"error", "drop"}, default="error"
        ``"drop"`` drops rows with a missing value in a used column (before
        permuting) and says how many.
    **spec : further options of ``estimator``

    Returns
    -------
    EffectResult
        ``estimate`` the estimator's headline estimate, ``p_value`` the
        randomisation p-value (never 0 when sampled: at least
        ``1 / (sims + 1)``), ``conf_int`` by test inversion
        (``ci_method="inversion"``; ``"none"`` without one), ``std_error`` the standard deviation of
        the statistic over the permutations. ``extra``: ``sims`` (the number
        of assignments used), ``exact``, ``statistic`` (its observed value),
        ``statistic_estimator`` (whose estimate it is), ``estimator_result``
        (that estimator's own result).

    Raises
    ------
    DataError
        Bad columns (via the estimator's checks), units of one cluster in
        different arms.
    DesignError
        An unknown estimator, an option the estimator does not take,
        ``ci_method="inversion"`` for a statistic that is not built in, bad
        ``sims`` or ``seed``.

    Notes
    -----
    With sampled permutations the observed assignment counts as one of
    them, so the p-value is never 0 and the test is exact in level
    (Phipson & Smyth 2010).

    References
    ----------
    Fisher (1935), The Design of Experiments, section 21.
    Rosenbaum (2002), Observational Studies, 2nd ed., ch. 2 (test inversion).
    Imbens & Rubin (2015), Causal Inference, ch. 5.
    Phipson & Smyth (2010), Stat. Appl. Genet. Mol. Biol. 9(1), doi:10.2202/1544-6115.1585.

    Examples
    --------
    >>> import pandas as pd
    >>> import effekt as ef
    >>> df = pd.DataFrame({"y": [3.0, 5, 4, 8, 9, 7, 1, 2], "z": [0, 1, 0, 1, 1, 1, 0, 0]})
    >>> res = ef.estimate("ri", data=df, outcome="y", treatment="z")
    >>> res.extra["exact"], res.extra["sims"], round(res.p_value, 4)
    (True, 70, 0.0286)
    """

    name: ClassVar[str] = "ri"
    estimand: ClassVar[str] = "ate"
    kind: ClassVar[str] = "itt"
    tags: ClassVar[EstimatorTags] = EstimatorTags(
        supports_blocks=True, supports_clusters=True, supports_weights=True, uses_seed=True,
    )
    options: ClassVar[dict[str, Constraint]] = {
        "ci_method": Choice(("inversion", "none"), none_ok=True),
        "max_exact": Number(low=0, high=10**7, integer=True),  # 0: always sample
        "sims": Number(low=1, high=10**6, integer=True),
    }

    @validated
    def fit(
        self,
        data: Any,
        *,
        outcome: Any,
        treatment: Any = None,
        arms: tuple[Any, Any] | None = None,
        estimator: str = "difference_in_means",
        blocks: Any = None,
        clusters: Any = None,
        covariates: Sequence[Any] | str | None = None,
        weights: Any = None,
        assignment: Any = None,
        sims: int = 1000,
        max_exact: int = 10_000,
        seed: Any = None,
        alpha: float = 0.05,
        ci_method: str | None = None,
        missing: str = "error",
        **spec: Any,
    ) -> EffectResult:
        rng = check_seed(seed)
        from effekt.registry import get_estimator

        est_cls = get_estimator(estimator)
        if getattr(est_cls, "estimand", None) == "cace":
            raise DesignError(
                f"ri with estimator={estimator!r}: under the sharp null of no effect the complier "
                "effect is tested by the intention-to-treat statistic, and refitting the Wald ratio on "
                "permuted assignments with take-up held fixed gives an invalid test. Use "
                "estimator='difference_in_means' (or 'lm_robust') on the outcome."
            )
        frame = as_frame(data)
        if assignment is not None:
            frame, treatment, blocks, clusters = _from_assignment(frame, assignment, treatment, blocks, clusters)
        if treatment is None:
            raise DesignError("ri needs treatment= (a column) or assignment=.")
        # the options forwarded to the estimator are checked against it, before any work
        fit_spec = dict(spec)
        for key, value in (("blocks", blocks), ("clusters", clusters), ("covariates", covariates),
                           ("weights", weights), ("missing", missing)):
            if value is not None and (key != "missing" or value != "error"):
                fit_spec[key] = value
        try:
            fit_spec = {
                k: v for k, v in validate_options(
                    est_cls, {"outcome": outcome, "treatment": treatment, **fit_spec}
                ).items() if k not in ("outcome", "treatment")
            }
        except DesignError as exc:
            raise DesignError(f"ri(estimator={estimator!r}): {exc}") from None
        used = [c for c in (outcome, treatment, blocks, clusters, weights,
                            *([covariates] if isinstance(covariates, str) else list(covariates or [])))
                if c is not None]
        if missing == "drop":
            keep = ~frame[[c for c in used if c in frame.columns]].isna().any(axis=1).to_numpy()
            if assignment is not None and not keep.all():
                raise DesignError(
                    "missing='drop' with assignment= would drop units of the design, whose permutations "
                    "are of all its units; impute or remove the missing values first."
                )
            frame = frame.loc[keep]
        fit_spec.pop("missing", None)
        cols = check_columns(
            frame, outcome=outcome, treatment=treatment, blocks=blocks, clusters=clusters, weights=weights,
            covariates=covariates, arms=arms,
        )
        if arms is not None:
            # the estimator and the permutations see the arms as 0/1
            frame = frame.copy()
            frame[treatment] = cols.z.astype(np.int64)  # type: ignore[union-attr]
        assert cols.z is not None and cols.y is not None
        if cols.blocks is not None:
            check_groups_have_both_arms(cols.blocks, cols.block_labels, cols.z, role="block", column=blocks)  # type: ignore[arg-type]
        if cols.clusters is not None:
            _check_clusters_constant(cols.clusters, cols.cluster_labels, cols.z, clusters)
        # the estimator's own fit on the realised assignment
        observed = est_cls().fit(frame, outcome=outcome, treatment=treatment, **fit_spec)
        perms = Permutations(cols.z, cols.blocks, cols.clusters, assignment)
        enumerated: np.ndarray | None = None
        if assignment is not None and hasattr(assignment, "equiprobable") and hasattr(assignment, "n_possible"):
            # the design says itself whether its support can be listed
            n_possible = assignment.n_possible
            if assignment.equiprobable and n_possible <= max_exact:
                enumerated = np.asarray(assignment.permutations(int(n_possible), seed=0, exact=True)).T
        elif perms.count_at_most(max_exact):
            # complete (block, cluster) randomisation: list its support, after checking an
            # assignment's draws keep the number treated per block
            if assignment is None or perms.preserves_counts(next(perms.sample(min(50, sims), rng))):
                enumerated = perms.enumerate()
        exact = enumerated is not None
        stat = self._statistic(estimator, cols, fit_spec, frame, assignment is None)
        z, y = cols.z, cols.y
        want_ci = stat is not None if ci_method is None else ci_method == "inversion"
        if want_ci and stat is None:
            raise DesignError(
                f"ci_method='inversion' needs a built-in statistic ({', '.join(BUILT_IN)}); {estimator!r} "
                "would be refitted for every permutation and every candidate effect. Leave ci_method=None."
            )
        A_parts, B_parts, C_parts = [], [], []
        # a statistic linear in the assignment, on drawn permutations: the draws stay in the drawing's
        # column order and the statistic's vectors are mapped to it (no gather of each batch into rows);
        # A, B and C come from one matrix product per batch
        forms: list[tuple[np.ndarray, float] | None] = []
        if stat is not None and enumerated is None and assignment is None:
            forms = [stat.linear(y), *((stat.linear(z.astype(np.float64)), stat.self_linear()) if want_ci else ())]
        linear = bool(forms) and all(f is not None for f in forms)
        # otherwise a statistic may still take the draws in their own order (sums over each block's columns)
        on_layout = None if linear or stat is None or enumerated is not None else stat.on_layout(perms)
        stat_rows = stat
        if on_layout is not None:
            stat = on_layout
        if linear:
            M = np.column_stack([perms.to_layout(f[0]) for f in forms if f is not None])
            shift = np.array([f[1] for f in forms if f is not None])
        # the built-in statistics take the draws as floats (BLAS products), made once per batch
        draw_dtype = np.float64 if stat is not None else np.int8
        chunks: Any = (
            [enumerated] if enumerated is not None else perms.sample(sims, rng, draw_dtype, row_order=not (linear or on_layout is not None), reuse=True)
        )
        if enumerated is None:
            # a progress bar from a terminal for long runs; silent in CI and in pipes
            quiet = bool(os.environ.get("CI")) or not sys.stderr.isatty() or sims * cols.n < 50_000_000
            batch = max(1, min(sims, _CHUNK_FLOATS // max(cols.n, 1)))
            chunks = tqdm(chunks, total=math.ceil(sims / batch), desc="permutations", disable=quiet, leave=False)
        for P in chunks:
            if linear:
                out = P @ M - shift
                A_parts.append(out[:, 0])
                if want_ci:
                    B_parts.append(out[:, 1])
                    C_parts.append(out[:, 2])
            elif stat is not None:
                P = np.asarray(P, dtype=np.float64)  # a copy only for the enumerated support
                if want_ci:
                    a_part, b_part = stat.pair(P, y, z.astype(np.float64))
                    A_parts.append(a_part)
                    B_parts.append(b_part)
                    C_parts.append(stat.on_self(P))
                else:
                    A_parts.append(stat(P, y))
            else:
                A_parts.append(self._refit(est_cls, frame, outcome, treatment, fit_spec, P))
        A = np.concatenate(A_parts)
        stat = stat_rows  # the observed statistic from the row-order form
        t_obs = float(stat(z[None, :], y)[0]) if stat is not None else float(observed.estimate)  # type: ignore[union-attr]
        p = _p_value(A, t_obs, 0.0, exact)
        conf_int = (float("nan"), float("nan"))
        if want_ci:
            B, C = np.concatenate(B_parts), np.concatenate(C_parts)
            conf_int = _invert(A, B, C, t_obs, alpha, exact)
        obs = observed.headline if isinstance(observed, EffectTable) else observed
        notes = list(obs.warnings)
        if not want_ci and stat is None:
            notes.append(
                f"no confidence interval: {estimator!r} with these options is refitted for every "
                "permutation, so only the p-value of the sharp null is computed."
            )
        if A.size < 2:
            note = (f"the standard error is undefined (NaN) with {int(A.size)} permutation; pass sims >= 2 "
                    "(1000 or more for a stable p-value).")
            warn(note)
            notes.append(note)
        if want_ci and not all(math.isfinite(v) for v in conf_int):
            note = (f"the confidence interval is unbounded: with {int(A.size)} "
                    f"{'assignments' if exact else 'permutations'} no effect can be rejected at alpha={alpha:g} "
                    f"in at least one direction (the smallest attainable p-value is about {1 / (A.size + 1):.2g}). "
                    "Increase sims or alpha.")
            warn(note)
            notes.append(note)
        return EffectResult(
            warnings=tuple(notes),
            estimator=self.name,
            estimand=obs.estimand,
            term=obs.term,
            estimate=obs.estimate,
            std_error=float(np.std(A, ddof=1)) if A.size > 1 else float("nan"),
            conf_int=conf_int,
            conf_level=1 - alpha,
            p_value=p,
            df=None,
            n=obs.n,
            n_treated=obs.n_treated,
            n_control=obs.n_control,
            se_type="randomisation",
            design=obs.design,
            outcome=obs.outcome,
            ci_method="inversion" if want_ci else "none",
            n_clusters=obs.n_clusters,
            n_units=obs.n_units,
            extra={
                "sims": int(A.size),
                "exact": bool(exact),
                "statistic": t_obs,
                "statistic_estimator": estimator,
                "estimator_result": obs.to_dict(),
                **({"reference_levels": obs.extra["reference_levels"]} if "reference_levels" in obs.extra else {}),
            },
        )

    @staticmethod
    def _statistic(
        estimator: str, cols: Any, spec: dict[str, Any], frame: pd.DataFrame, fixed_counts: bool
    ) -> _Statistic | None:
        n = cols.n
        extra_keys = set(spec) - {"blocks", "clusters", "covariates", "weights"}
        if estimator == "difference_in_means" and cols.X is None and not extra_keys:
            treated = None
            if cols.clusters is None and fixed_counts:
                b = np.zeros(n, dtype=np.int64) if cols.blocks is None else cols.blocks
                treated = np.bincount(b, weights=cols.z)
            return _DifferenceInMeans(cols.blocks, cols.weights, n, treated)
        if estimator == "lm_robust" and not (extra_keys - {"se_type"}):
            return _Coefficient(cols.X, cols.blocks, cols.weights, n)
        if estimator == "lin" and (cols.X is not None or cols.blocks is not None) and not (extra_keys - {"se_type"}):
            # blocks enter lin as centred indicators interacted with treatment: covariates of the arms' fits
            X = np.zeros((n, 0)) if cols.X is None else cols.X
            if cols.blocks is not None:
                L = int(cols.blocks.max()) + 1
                X = np.column_stack([X, (cols.blocks[:, None] == np.arange(1, L)[None, :]).astype(float)])
            return _Lin(X, cols.weights, n)
        if estimator == "horvitz_thompson" and set(spec) <= {"probabilities", "blocks", "clusters"}:
            prob = spec.get("probabilities")
            if isinstance(prob, str) and prob in frame.columns:
                return _HorvitzThompson(frame[prob].to_numpy(float))
        return None

    @staticmethod
    def _refit(est_cls: type, frame: pd.DataFrame, outcome: Any, treatment: Any, spec: dict[str, Any], P: np.ndarray) -> np.ndarray:
        out = np.empty(P.shape[0])
        for k in range(P.shape[0]):  # a statistic without a vectorised form: one fit per permutation
            res = est_cls().fit(frame.assign(**{treatment: P[k]}), outcome=outcome, treatment=treatment, **spec)
            out[k] = (res.headline if isinstance(res, EffectTable) else res).estimate
        return out


def _p_value(T: np.ndarray, t_obs: float, tau: float, exact: bool) -> float:
    tol = 1e-9 * max(1.0, abs(t_obs), float(np.abs(T).max(initial=0.0)))
    extreme = int(np.count_nonzero(np.abs(T - tau) >= abs(t_obs - tau) - tol))
    return extreme / T.size if exact else monte_carlo_p_value(extreme, int(T.size))


def _invert(A: np.ndarray, B: np.ndarray, C: np.ndarray, t_obs: float, alpha: float, exact: bool) -> tuple[float, float]:
    """Endpoints of ``{tau : p(tau) > alpha}`` by bisection from the estimate outward."""

    def p(tau: float) -> float:
        T = A - tau * B + tau * C
        return _p_value(T, t_obs, tau, exact)

    spread = float(np.std(A)) if A.size > 1 else 1.0
    spread = spread if spread > 0 else max(abs(t_obs), 1.0)
    ends = []
    for sign in (-1.0, 1.0):
        inside, step = t_obs, spread
        outside = t_obs + sign * step
        for _ in range(60):
            if p(outside) <= alpha:
                break
            inside, step = outside, step * 2
            outside = t_obs + sign * step
        else:
            ends.append(sign * math.inf)
            continue
        for _ in range(80):
            mid = 0.5 * (inside + outside)
            if p(mid) > alpha:
                inside = mid
            else:
                outside = mid
            if abs(outside - inside) <= 1e-10 * max(1.0, abs(t_obs), spread):
                break
        ends.append(inside)
    return ends[0], ends[1]


def _check_clusters_constant(clusters: np.ndarray, labels: Any, z: np.ndarray, column: Any) -> None:
    mixed = varying_groups(z, clusters, int(clusters.max()) + 1)
    if mixed.size:
        raise DataError(
            f"cluster {label(labels[mixed[0]])} of column {column!r} has units in both arms "
            f"({mixed.size} cluster(s) do); permuting a cluster-randomised design needs every unit of a "
            "cluster in one arm. Check the cluster column, or drop clusters= if units were randomised "
            "individually."
        )


def _draw_from(assignment: Any, k: int, seed: int) -> np.ndarray:
    """``k`` sampled re-randomisations of an assignment, as an (n, k) array."""
    try:
        return np.asarray(assignment.permutations(k, seed=seed, exact=False))
    except TypeError:  # an assignment whose permutations() takes no exact=
        return np.asarray(assignment.permutations(k, seed=seed))
