"""Array kernels of the assignment designs: draw, count and enumerate.

A design is reduced to a :class:`_Plan` (per-block probabilities, fixed
counts or random remainders, the units or clusters of each block); the
functions here draw it from a stream (:mod:`effekt.design._stream`), split
expected counts into floors and remainders (systematic sampling, Madow
1949), and enumerate every possible assignment for exact randomisation
inference. See :mod:`effekt.design.assignment` for the rules.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from effekt.design._stream import random_order, raw, uniforms

_SNAP = 1e-9
_MAX_DIGITS = 10_000


@dataclass(frozen=True, eq=False)
class _Plan:
    """What a design draws, on arrays: enough to redraw and enumerate it.

    ``level`` elements are units, or clusters in cluster designs. ``P`` holds
    each group's (block's) probability of each arm; ``fixed`` the counts of
    level elements per arm when the design fixes them.
    """

    kind: str  # "simple" or "complete"
    P: np.ndarray  # (G, J)
    level_group: np.ndarray  # (n_level,) group code of each level element
    n_level: np.ndarray  # (G,) level elements per group
    fixed: np.ndarray | None  # (G, J) counts, or None for random remainders
    unit_level: np.ndarray | None  # (n,) level element of each unit, or None

    @property
    def n_groups(self) -> int:
        return int(self.P.shape[0])

    @property
    def n_arms(self) -> int:
        return int(self.P.shape[1])

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        """One assignment: arm codes 0..J-1 per unit."""
        if self.kind == "simple":
            u = uniforms(rng, self.level_group.size)
            cum = np.cumsum(self.P, axis=1)[:, :-1]
            codes = (u[:, None] >= cum[self.level_group]).sum(axis=1)
        else:
            u_rem = uniforms(rng, self.n_groups)
            counts = self.fixed if self.fixed is not None else _systematic(self.n_level, self.P, u_rem)
            keys = raw(rng, self.level_group.size)
            codes = _allocate(self.level_group if self.n_groups > 1 else None, self.n_level, counts, keys)
        codes = codes.astype(np.int64, copy=False)
        return codes[self.unit_level] if self.unit_level is not None else codes

    # ---------------------------------------------------------------- enumeration

    def outcomes(self) -> list[list[tuple[np.ndarray, float]]]:
        """Per group: the count vectors it can get, with their probabilities."""
        cache: dict[tuple[Any, ...], list[tuple[np.ndarray, float]]] = {}
        out = []
        for g in range(self.n_groups):
            key = (int(self.n_level[g]), *self.P[g].tolist(), *(() if self.fixed is None else self.fixed[g].tolist()))
            if key not in cache:
                cache[key] = self._group_outcomes(g)
            out.append(cache[key])
        return out

    def _group_outcomes(self, g: int) -> list[tuple[np.ndarray, float]]:
        if self.fixed is not None:
            return [(self.fixed[g], 1.0)]
        _, fracs, r = _split(self.n_level[g : g + 1], self.P[g : g + 1])
        F = np.cumsum(fracs[0])
        F[-1] = r[0]
        cuts = np.unique(np.concatenate(([0.0, 1.0], np.mod(F, 1.0))))
        found: dict[tuple[int, ...], float] = {}
        for lo, hi in itertools.pairwise(cuts):
            if hi <= lo:
                continue
            counts = _systematic(self.n_level[g : g + 1], self.P[g : g + 1], np.array([(lo + hi) / 2]))[0]
            key = tuple(int(c) for c in counts)
            found[key] = found.get(key, 0.0) + float(hi - lo)
        return [(np.array(k), p) for k, p in found.items()]

    def log10_possible(self) -> float:
        """log10 of the number of assignments with positive probability."""
        if self.kind == "simple":
            k = (self.P > 0).sum(axis=1)[self.level_group]
            return float(np.log10(k).sum())
        total = 0.0
        for group in self.outcomes():
            logs = np.array([_log_multinomial(c) for c, _ in group])
            top = logs.max()
            total += (top + math.log(np.exp(logs - top).sum())) / math.log(10)
        return total

    def n_possible(self) -> int | float:
        if self.log10_possible() > _MAX_DIGITS:
            return math.inf
        if self.kind == "simple":
            k = (self.P > 0).sum(axis=1)[self.level_group]
            return math.prod(int(v) for v in k)
        return math.prod(sum(_multinomial(c) for c, _ in group) for group in self.outcomes())

    def equiprobable(self) -> bool:
        """Whether every possible assignment has the same probability."""
        if self.kind == "simple":
            for row in self.P:
                pos = row[row > 0]
                if not np.allclose(pos, pos[0], rtol=1e-12, atol=0):
                    return False
            return True
        for group in self.outcomes():
            probs = [p / _multinomial(c) for c, p in group]
            if not np.allclose(probs, probs[0], rtol=1e-9, atol=0):
                return False
        return True

    def enumerate(self) -> np.ndarray:
        """Every possible assignment as a column: (n, n_possible) arm codes."""
        parts: list[tuple[np.ndarray, np.ndarray]] = []
        if self.kind == "simple":
            for i, g in enumerate(self.level_group):
                parts.append((np.array([i]), np.flatnonzero(self.P[g] > 0)[None, :]))
        else:
            for g, group in enumerate(self.outcomes()):
                members = np.flatnonzero(self.level_group == g)
                parts.append((members, np.concatenate([_arrangements(c) for c, _ in group], axis=1)))
        columns = _product(parts, self.level_group.size)
        return columns[self.unit_level] if self.unit_level is not None else columns


def _product(parts: list[tuple[np.ndarray, np.ndarray]], n: int) -> np.ndarray:
    """Cartesian product of per-group arrangement matrices into (n, total)."""
    out = np.zeros((n, 1), dtype=np.int64)
    for members, arr in parts:
        a, b = out.shape[1], arr.shape[1]
        out = np.repeat(out, b, axis=1)
        out[members, :] = np.tile(arr, (1, a))
    return out


def _arrangements(counts: np.ndarray) -> np.ndarray:
    """Every distinct ordering of a multiset of arms: (sum(counts), N) codes."""
    m = int(np.sum(counts))
    cols: list[np.ndarray] = []

    def rec(free: tuple[int, ...], j: int, current: np.ndarray) -> None:
        if j == len(counts) - 1:
            done = current.copy()
            done[list(free)] = j
            cols.append(done)
            return
        for chosen in itertools.combinations(free, int(counts[j])):
            nxt = current.copy()
            nxt[list(chosen)] = j
            rest = tuple(i for i in free if i not in set(chosen))
            rec(rest, j + 1, nxt)

    rec(tuple(range(m)), 0, np.zeros(m, dtype=np.int64))
    return np.column_stack(cols) if cols else np.zeros((m, 1), dtype=np.int64)


def _log_multinomial(counts: np.ndarray) -> float:
    return math.lgamma(float(np.sum(counts)) + 1) - sum(math.lgamma(float(c) + 1) for c in counts)


def _multinomial(counts: np.ndarray) -> int:
    remaining, total = int(np.sum(counts)), 1
    for c in counts:
        total *= math.comb(remaining, int(c))
        remaining -= int(c)
    return total


def _split(n_level: np.ndarray, P: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Floors, fractional parts and number of leftover units of ``n * P``.

    Products within 1e-9 of a whole number are taken as that number, so that
    ``10 * 0.7`` is 7 and not 7.000000000000001.
    """
    expected = n_level[:, None].astype(np.float64) * P
    nearest = np.round(expected)
    expected = np.where(np.abs(expected - nearest) <= _SNAP * np.maximum(1.0, expected), nearest, expected)
    floors = np.floor(expected).astype(np.int64)
    fracs = expected - floors
    r = n_level.astype(np.int64) - floors.sum(axis=1)
    return floors, fracs, r


def _systematic(n_level: np.ndarray, P: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Counts per arm: floors plus one extra in arms picked by systematic sampling."""
    floors, fracs, r = _split(n_level, P)
    F = np.cumsum(fracs, axis=1)
    F[:, -1] = r  # the running sum ends on a whole number: make it exact
    hits = np.ceil(F - u[:, None]).astype(np.int64)
    extra = np.diff(hits, axis=1, prepend=0)
    return floors + extra


def _allocate(group: np.ndarray | None, n_level: np.ndarray, counts: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Arm codes: in each group the units in key order take arms by ``counts``."""
    n = keys.size
    order = random_order(keys, group, n_level.size)
    # In sorted order the groups come one after another, n_level[g] units each.
    sizes = n_level if group is not None else np.array([n])
    starts = np.cumsum(sizes) - sizes
    rank = np.arange(n) - np.repeat(starts, sizes)
    cum = np.cumsum(counts, axis=1)[:, :-1]
    sorted_codes = np.zeros(n, dtype=np.int8)
    for j in range(cum.shape[1]):
        sorted_codes += rank >= np.repeat(cum[:, j], sizes)
    out = np.empty(n, dtype=np.int8)
    out[order] = sorted_codes
    return out.astype(np.int64)


