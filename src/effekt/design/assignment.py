"""Random assignment: simple, complete, block, cluster and block-cluster designs.

The five designs of R's randomizr (Coppock 2023), with its argument names,
each returning an :class:`Assignment`: the arm of every unit, each unit's
probability of each arm, the design, the seed and a SHA-256 fingerprint.

Counts per block
----------------
A design fixes either the number of units per arm (``m``, ``m_each``,
``block_m``, ``block_m_each``) or the probability of each arm (``prob``,
``prob_each``, ``block_prob``, ``block_prob_each``). With probabilities, a
block of ``n_b`` units expects ``n_b * p_j`` units in arm ``j``; it gets
``floor(n_b * p_j)`` plus, for the ``r_b = n_b - sum_j floor(n_b * p_j)``
units left over, one extra unit in each of ``r_b`` arms chosen by systematic
sampling with inclusion probabilities ``frac(n_b * p_j)`` (Madow 1949): one
uniform ``U`` per block, arm ``j`` gets an extra unit when an integer lies in
``[F_{j-1} - U, F_j - U)``, ``F_j`` the running sum of the fractional parts.
So every unit's probability of arm ``j`` is exactly ``p_j``, for any number
of arms.

Differences from randomizr 1.0: randomizr picks the leftover arms by
sequential sampling without replacement (R's ``sample(prob=...)``), whose
inclusion probabilities miss the targets when two or more units are left
over and the fractional parts differ (three arms, fractions 0.2/0.9/0.9:
about 0.26 instead of 0.2 for the first); and with ``prob`` it always treats
``floor(N * prob)`` units when ``ceiling(N * prob) == N``, so that, e.g.,
``N = 3, prob = 0.9`` treats 2 of 3 (probability 2/3). effekt keeps ``prob``
exact in both cases.

Within a block the units are put in a uniformly random order and the first
``c_1`` get arm 1, the next ``c_2`` arm 2, and so on.

Stable streams
--------------
The same integer seed gives the same assignment on every platform and numpy
release. A design reads, in this order, from PCG64 (see
:mod:`effekt.design._stream`):

1. complete-type designs: one uniform per block, blocks in sorted label
   order (always drawn, even when the counts are fixed); then one raw 64-bit
   word per unit (per cluster, in sorted cluster order, for cluster designs),
   the unit's sort key;
2. ``simple``: one uniform per unit; the unit gets the first arm ``j`` with
   ``U < p_1 + ... + p_j``.

A golden file (``tests/data/design_golden.json``) pins these streams.

References
----------
Coppock, A. (2023). randomizr: Easy-to-Use Tools for Common Forms of Random
Assignment and Sampling. R package version 1.0.0.
Gerber, A. S. & Green, D. P. (2012). Field Experiments: Design, Analysis, and
Interpretation. Norton, ch. 2 and 3.
Madow, W. G. (1949). On the theory of systematic sampling, II. Annals of
Mathematical Statistics 20(3), 333-354.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from effekt.data import check_positive_int, check_seed, describe_rows
from effekt.design._kernels import _Plan
from effekt.errors import DataError, DesignError
from effekt.result import to_jsonable

__all__ = [
    "Assignment",
    "simple",
    "complete",
    "block",
    "cluster",
    "block_cluster",
    "EXACT_LIMIT",
]

#: ``permutations`` never enumerates more than this many assignments.
EXACT_LIMIT = 1_000_000


# --------------------------------------------------------------------------- Assignment


@dataclass(frozen=True, eq=False, repr=False)
class Assignment:
    """A realised random assignment and the design that produced it.

    Attributes
    ----------
    treatment : numpy.ndarray
        The arm of each unit: 0/1 integers for two arms with the default
        conditions, else the condition labels.
    conditions : tuple
        The arm labels, in the order of the columns of ``probabilities``.
    design : str
        ``"simple"``, ``"complete"``, ``"block"``, ``"cluster"``,
        ``"block_cluster"`` or ``"batch_lottery"``.
    seed : int or None
        The integer seed (drawn from the operating system when none was given,
        so that every assignment can be reproduced); ``None`` when a
        ``numpy.random.Generator`` was passed.
    blocks, clusters : numpy.ndarray or None
        The design's block and cluster labels per unit.
    spec : dict
        The design's parameters, JSON-safe.
    ids : numpy.ndarray or None
        Unit identifiers, when the assignment comes from a batch lottery.

    Notes
    -----
    ``probabilities``, ``fingerprint`` and ``n_possible`` are computed on first
    use.
    """

    treatment: np.ndarray
    conditions: tuple[Any, ...]
    design: str
    seed: int | None
    blocks: np.ndarray | None
    clusters: np.ndarray | None
    spec: dict[str, Any]
    _plan: _Plan = field(repr=False)
    _codes: np.ndarray = field(repr=False)
    _group: np.ndarray = field(repr=False)
    ids: np.ndarray | None = None

    # ------------------------------------------------------------------ views

    @property
    def n(self) -> int:
        """Number of units."""
        return int(self.treatment.size)

    @property
    def arm_codes(self) -> np.ndarray:
        """Arm of each unit as an index 0..J-1 into ``conditions``."""
        return self._codes

    @cached_property
    def probabilities(self) -> pd.DataFrame:
        """Each unit's probability of each arm; columns are the conditions."""
        return pd.DataFrame(self._plan.P[self._group], columns=pd.Index(list(self.conditions)))

    @property
    def prob_treated(self) -> np.ndarray:
        """Each unit's probability of the second arm (treated), for Horvitz-Thompson."""
        if len(self.conditions) != 2:
            raise DesignError(
                f"prob_treated needs a two-arm design; this one has {len(self.conditions)} arms "
                f"{list(self.conditions)}. Use probabilities[arm] for the arm you mean."
            )
        return np.asarray(self._plan.P[self._group, 1], dtype=np.float64)

    def counts(self) -> pd.DataFrame:
        """Units per arm, by block (one row ``"all"`` without blocks)."""
        J = len(self.conditions)
        G = self._plan.n_groups if self.blocks is not None else 1
        group = self._group if self.blocks is not None else np.zeros(self.n, dtype=np.int64)
        flat = np.bincount(group * J + self._codes, minlength=G * J).reshape(G, J)
        index = pd.Index(self.spec.get("block_labels", ["all"]) if self.blocks is not None else ["all"], name="block")
        return pd.DataFrame(flat, index=index, columns=pd.Index(list(self.conditions), name="arm"))

    def to_frame(self) -> pd.DataFrame:
        """One row per unit: treatment, block, cluster and the probabilities."""
        out = pd.DataFrame({"treatment": self.treatment})
        if self.blocks is not None:
            out["block"] = self.blocks
        if self.clusters is not None:
            out["cluster"] = self.clusters
        for j, c in enumerate(self.conditions):
            out[f"prob_{c}"] = self._plan.P[self._group, j]
        return out

    # ------------------------------------------------------------------ identity

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 (hex) of the design, its parameters, the seed and the result.

        The hash covers a canonical JSON header (design, parameters,
        conditions, seed, n) followed by the arm codes and the block and
        cluster codes as little-endian int64 bytes, so two assignments share
        a fingerprint only if they are the same draw of the same design.
        """
        header = json.dumps(
            to_jsonable(
                {
                    "effekt-assignment": 1,
                    "design": self.design,
                    "spec": self.spec,
                    "conditions": list(self.conditions),
                    "seed": self.seed,
                    "n": self.n,
                }
            ),
            sort_keys=True,
            separators=(",", ":"),
        )
        h = hashlib.sha256(header.encode("utf-8"))
        for arr in (self._codes, self._group, self._plan.unit_level):
            h.update(b"\x00")
            if arr is not None:
                h.update(np.ascontiguousarray(arr, dtype="<i8").tobytes())
        return h.hexdigest()

    # ------------------------------------------------------------------ re-randomisation

    @cached_property
    def n_possible(self) -> int | float:
        """Number of assignments the design can produce (``math.inf`` past 10,000 digits)."""
        return self._plan.n_possible()

    @cached_property
    def equiprobable(self) -> bool:
        """Whether all ``n_possible`` assignments are equally likely."""
        return self._plan.equiprobable()

    def permutations(self, k: int, seed: Any = None, *, exact: bool | None = None) -> np.ndarray:
        """Re-randomised arm codes under the same design: an ``(n, k)`` integer array.

        Column ``i`` is a fresh draw of the design (arm codes 0..J-1 into
        ``conditions``; for two default arms, the 0/1 treatment).

        Exact enumeration rule: when every possible assignment is equally
        likely (``equiprobable``) and there are no more of them than ``k``
        (``n_possible <= k``), the columns are *all* ``n_possible``
        assignments, each once, so a randomisation p-value is exact; the
        array then has ``n_possible`` columns. ``exact=False`` always
        samples; ``exact=True`` insists on enumeration (up to
        ``EXACT_LIMIT`` assignments) and raises otherwise.

        Parameters
        ----------
        k : int
            Number of re-randomisations (at least 1).
        seed : int or numpy.random.Generator, optional
            Seed of the re-randomisations (not the design's own seed).
        exact : bool, optional
            See above; ``None`` decides by the rule.

        Raises
        ------
        DesignError
            ``exact=True`` for a design whose assignments are not equally
            likely or number more than ``EXACT_LIMIT``.
        """
        k = check_positive_int(k, "k")
        small = self._plan.log10_possible() <= math.log10(EXACT_LIMIT) + 1e-9
        can_enumerate = small and self.n_possible <= EXACT_LIMIT and self.equiprobable
        if exact is True and not can_enumerate:
            why = (
                "its assignments are not equally likely"
                if not self.equiprobable
                else f"it has {self._plan.log10_possible():.1f} (log10) possible assignments, over the limit of {EXACT_LIMIT:,}"
            )
            raise DesignError(f"exact=True: this {self.design} design cannot be enumerated, because {why}. Sample with exact=None.")
        if exact is True or (exact is None and can_enumerate and self.n_possible <= k):
            return self._plan.enumerate()
        rng = check_seed(seed)
        out = np.empty((self.n, k), dtype=np.int64)
        quiet = bool(os.environ.get("CI")) or not sys.stderr.isatty() or self.n * k < 10_000_000
        for i in tqdm(range(k), desc="re-randomising", disable=quiet, leave=False):
            out[:, i] = self._plan.draw(rng)
        return out

    def __repr__(self) -> str:
        counts = np.bincount(self._codes, minlength=len(self.conditions))
        arms = ", ".join(f"{c!r}: {int(m)}" for c, m in zip(self.conditions, counts))
        return f"Assignment(design={self.design!r}, n={self.n}, arms={{{arms}}}, seed={self.seed})"


# --------------------------------------------------------------------------- input checks


def _integer_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Codes and sorted labels of integer labels in a compact range, in O(n)."""
    lo, hi = int(values.min()), int(values.max())
    if hi - lo > 4 * values.size + 1024:
        return None
    shifted = (values - lo).astype(np.intp, copy=False)
    present = np.bincount(shifted, minlength=hi - lo + 1) > 0
    code_of = np.cumsum(present) - 1
    return code_of[shifted].astype(np.int64), (np.flatnonzero(present) + lo).astype(values.dtype)


def _labels(values: Any, role: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw labels, integer codes 0..k-1 (sorted labels) and the sorted labels."""
    if isinstance(values, (str, bytes)) or values is None:
        raise DataError(f"{role}= must be a sequence with one label per unit; got {values!r}.")
    if isinstance(values, np.ndarray) and values.ndim == 1 and values.dtype.kind in "iu" and values.size:
        fast = _integer_codes(values)
        if fast is not None:
            return values, fast[0], fast[1]
    series = values if isinstance(values, pd.Series) else pd.Series(values if np.ndim(values) else [values])
    series = series.reset_index(drop=True)
    if series.ndim != 1 or len(series) == 0:
        raise DataError(f"{role}= has no units; pass one label per unit.")
    missing = series.isna().to_numpy()
    if missing.any():
        raise DataError(
            f"{role} has {int(missing.sum())} missing label{'s' if missing.sum() > 1 else ''} "
            f"({describe_rows(np.flatnonzero(missing))}); every unit needs a {role[:-1]}. Fill them in "
            "or leave those units out of the assignment."
        )
    codes, uniques = pd.factorize(series, sort=True)
    return series.to_numpy(), codes.astype(np.int64), np.asarray(uniques)


def _conditions(num_arms: Any, conditions: Any, n_from_spec: int | None) -> tuple[Any, ...]:
    if conditions is not None:
        conds = tuple(conditions.tolist() if isinstance(conditions, np.ndarray) else conditions)
        if len(conds) < 2 or len(set(conds)) != len(conds):
            raise DesignError(f"conditions must name two or more distinct arms; got {list(conds)!r}.")
        if num_arms is not None and num_arms != len(conds):
            raise DesignError(f"num_arms={num_arms} but {len(conds)} conditions {list(conds)!r}; give one or make them agree.")
        J = len(conds)
    else:
        J = check_positive_int(num_arms, "num_arms", minimum=2) if num_arms is not None else (n_from_spec or 2)
        conds = (0, 1) if J == 2 else tuple(f"T{j + 1}" for j in range(J))
    if n_from_spec is not None and n_from_spec != J:
        raise DesignError(
            f"the design names {n_from_spec} arms per block but there are {J} conditions {list(conds)!r}; "
            "give one probability or count per condition."
        )
    return conds


def _prob_vector(value: Any, name: str) -> np.ndarray:
    try:
        p = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise DesignError(f"{name} must be numbers between 0 and 1; got {value!r}.") from None
    if p.ndim != 1 or p.size < 2:
        raise DesignError(f"{name} must give one probability per arm (two or more); got {value!r}.")
    if not np.all(np.isfinite(p)) or np.any(p < 0) or np.any(p > 1):
        raise DesignError(f"{name} must hold probabilities between 0 and 1; got {p.tolist()}.")
    if abs(p.sum() - 1.0) > 1e-9:
        raise DesignError(f"{name} must sum to 1; {p.tolist()} sums to {p.sum():.10g}.")
    return p


def _probability(value: Any, name: str) -> float:
    try:
        p = float(value)
    except (TypeError, ValueError):
        raise DesignError(f"{name} must be a number between 0 and 1; got {value!r}.") from None
    if not 0.0 <= p <= 1.0:
        raise DesignError(f"{name} must lie between 0 and 1; got {value!r}.")
    return p


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            return int(value)
        raise DesignError(f"{name} must be a whole number of units; got {value!r}.")
    if value < 0:
        raise DesignError(f"{name} must not be negative; got {value}.")
    return int(value)


def _per_block(value: Any, name: str, labels: np.ndarray) -> list[Any]:
    """One entry per block: from a mapping label -> value or a sequence in sorted-label order."""
    G = labels.size
    if isinstance(value, Mapping):
        keys = list(value.keys())
        unknown = [k for k in keys if k not in set(labels.tolist())]
        missing = [b for b in labels.tolist() if b not in value]
        if unknown or missing:
            what = []
            if missing:
                what.append(f"no entry for block{'s' if len(missing) > 1 else ''} {missing[:5]}")
            if unknown:
                what.append(f"entries for unknown block{'s' if len(unknown) > 1 else ''} {unknown[:5]}")
            raise DesignError(f"{name} has {' and '.join(what)}; give exactly one entry per block.")
        return [value[b] for b in labels.tolist()]
    seq = list(value.tolist() if isinstance(value, np.ndarray) else value) if not isinstance(value, str) else None
    if seq is None or len(seq) != G:
        got = "a string" if seq is None else f"{len(seq)} entries"
        raise DesignError(
            f"{name} needs one entry per block ({G} blocks, in sorted label order, or a mapping "
            f"block -> value); got {got}."
        )
    return seq


def _resolve(
    n_level: np.ndarray,
    labels: np.ndarray | None,
    options: dict[str, Any],
    num_arms: Any,
    conditions: Any,
    unit: str,
) -> tuple[np.ndarray, np.ndarray | None, tuple[Any, ...]]:
    """Per-group probabilities P (G x J), fixed counts or None, and the conditions."""
    given = {k: v for k, v in options.items() if v is not None}
    if len(given) > 1:
        raise DesignError(
            f"give at most one of {', '.join(options)}; got {', '.join(sorted(given))}. Each fixes the "
            "number or the probability of each arm, so they would contradict each other."
        )
    G = n_level.size
    name: str | None = None
    value: Any = None
    if given:
        name, value = next(iter(given.items()))
    block_names = np.array(labels.tolist() if labels is not None else ["all"], dtype=object)

    def where(g: int) -> str:
        return f"block {block_names[g]!r} ({n_level[g]} {unit}s)" if labels is not None else f"the {n_level[g]} {unit}s"

    J_spec: int | None = None
    if name in ("prob_each", "m_each"):
        J_spec = len(value)
    elif name in ("block_prob_each", "block_m_each"):
        rows = _per_block(value, name, block_names)
        J_spec = len(rows[0]) if len(rows) else None
    elif name in ("prob", "m", "block_prob", "block_m"):
        J_spec = 2
    conds = _conditions(num_arms, conditions, J_spec)
    J = len(conds)

    if name is None:
        return np.full((G, J), 1.0 / J), None, conds
    if name == "prob":
        p = _probability(value, "prob")
        return np.tile([1.0 - p, p], (G, 1)), None, conds
    if name == "prob_each":
        return np.tile(_prob_vector(value, "prob_each"), (G, 1)), None, conds
    if name == "block_prob":
        ps = [_probability(v, f"block_prob for block {b!r}") for v, b in zip(_per_block(value, name, block_names), block_names)]
        return np.column_stack([1.0 - np.array(ps), np.array(ps)]), None, conds
    if name == "block_prob_each":
        rows = _per_block(value, name, block_names)
        return np.vstack([_prob_vector(r, f"block_prob_each for block {b!r}") for r, b in zip(rows, block_names)]), None, conds

    # fixed counts
    if name == "m":
        m = _count(value, "m")
        fixed = np.column_stack([n_level - m, np.full(G, m)])
    elif name == "block_m":
        ms = np.array([_count(v, f"block_m for block {b!r}") for v, b in zip(_per_block(value, name, block_names), block_names)])
        fixed = np.column_stack([n_level - ms, ms])
    elif name == "m_each":
        fixed = np.tile([_count(v, "m_each") for v in value], (G, 1))
    else:  # block_m_each
        rows = _per_block(value, name, block_names)
        if len({len(r) for r in rows}) != 1:
            raise DesignError("block_m_each must give the same number of arms for every block.")
        fixed = np.array([[_count(v, f"block_m_each for block {b!r}") for v in r] for r, b in zip(rows, block_names)])
    fixed = fixed.astype(np.int64)
    for g in range(G):
        if fixed[g].min() < 0 or fixed[g].sum() != n_level[g]:
            asked = int(fixed[g, 1]) if name in ("m", "block_m") else fixed[g].tolist()
            raise DesignError(
                f"{name}={asked!r} cannot be met in {where(g)}: the counts per arm must be between 0 and "
                f"the number of {unit}s and add up to it. Adjust {name} or use probabilities (prob=...)."
            )
    P = fixed / n_level[:, None].astype(np.float64)
    return P, fixed, conds


def _seed(seed: Any) -> tuple[np.random.Generator, int | None]:
    if seed is None:
        entropy = np.random.SeedSequence().entropy
        seed = int(entropy) if isinstance(entropy, int) else int(np.asarray(entropy).ravel()[0])
    rng = check_seed(seed)
    return rng, (None if isinstance(seed, np.random.Generator) else int(seed))


def _finish(
    plan: _Plan,
    design: str,
    conds: tuple[Any, ...],
    seed: Any,
    spec: dict[str, Any],
    group: np.ndarray,
    blocks: np.ndarray | None,
    clusters: np.ndarray | None,
) -> Assignment:
    rng, seed_int = _seed(seed)
    codes = plan.draw(rng)
    if conds == tuple(range(len(conds))):
        treatment = codes
    else:
        treatment = np.asarray(conds, dtype=object if any(not isinstance(c, str) for c in conds) else None)[codes]
    spec = {"design": design, **{k: v for k, v in spec.items() if v is not None}}
    return Assignment(
        treatment=treatment,
        conditions=conds,
        design=design,
        seed=seed_int,
        blocks=blocks,
        clusters=clusters,
        spec=to_jsonable(spec),
        _plan=plan,
        _codes=codes,
        _group=group,
    )


# --------------------------------------------------------------------------- designs


def simple(
    n: int,
    *,
    prob: float | None = None,
    prob_each: Sequence[float] | None = None,
    num_arms: int | None = None,
    conditions: Sequence[Any] | None = None,
    seed: Any = None,
) -> Assignment:
    """Simple (Bernoulli) random assignment: each unit independently.

    Unit ``i`` gets arm ``j`` with probability ``p_j``, independently of
    every other unit, so the arm sizes are random (randomizr's
    ``simple_ra``).

    Defaults: two arms ``(0, 1)`` with ``prob=0.5``; with ``num_arms`` or
    ``conditions`` and no probabilities, equal probabilities.

    Parameters
    ----------
    n : int
        Number of units.
    prob : float, optional
        Probability of arm 1 (two arms).
    prob_each : sequence of float, optional
        Probability of each arm; sums to 1.
    num_arms : int, optional
        Number of arms; labels ``"T1"``, ``"T2"``, ... when more than two.
    conditions : sequence, optional
        Arm labels.
    seed : int or numpy.random.Generator, optional
        Seed; drawn from the operating system and recorded when omitted.

    Returns
    -------
    Assignment

    Raises
    ------
    DesignError
        A probability outside [0, 1], probabilities not summing to 1, or
        more than one of ``prob``/``prob_each``.

    Examples
    --------
    >>> from effekt import design
    >>> asg = design.simple(6, prob=0.5, seed=1)
    >>> asg.design, asg.treatment.shape, asg.probabilities.iloc[0].tolist()
    ('simple', (6,), [0.5, 0.5])
    """
    n = check_positive_int(n, "n")
    n_level = np.array([n])
    P, _, conds = _resolve(n_level, None, {"prob": prob, "prob_each": prob_each}, num_arms, conditions, "unit")
    group = np.zeros(n, dtype=np.int64)
    plan = _Plan("simple", P, group, n_level, None, None)
    spec = {"n": n, "prob": prob, "prob_each": prob_each}
    return _finish(plan, "simple", conds, seed, spec, group, None, None)


def complete(
    n: int,
    *,
    m: int | None = None,
    m_each: Sequence[int] | None = None,
    prob: float | None = None,
    prob_each: Sequence[float] | None = None,
    num_arms: int | None = None,
    conditions: Sequence[Any] | None = None,
    seed: Any = None,
) -> Assignment:
    """Complete random assignment: exactly ``m`` of ``n`` units treated.

    Every set of ``m`` units is equally likely to be the treated set
    (randomizr's ``complete_ra``). With ``prob``, ``m = floor(n * prob)``
    plus one more with probability ``frac(n * prob)``, so each unit's
    probability is exactly ``prob``; with ``prob_each`` the leftover units
    go to arms by systematic sampling (module notes).

    Defaults: two arms ``(0, 1)``, ``prob=0.5`` (``n/2`` each, the odd unit
    to either arm with probability 1/2).

    Parameters
    ----------
    n : int
        Number of units.
    m : int, optional
        Number of units in arm 1 (two arms).
    m_each : sequence of int, optional
        Number of units in each arm; sums to ``n``.
    prob, prob_each, num_arms, conditions, seed
        As in :func:`simple`.

    Returns
    -------
    Assignment

    Raises
    ------
    DesignError
        Counts that do not add up to ``n``, probabilities out of range, or
        more than one way of fixing the arms.

    Examples
    --------
    >>> from effekt import design
    >>> asg = design.complete(10, m=3, seed=7)
    >>> int(asg.treatment.sum()), asg.n_possible
    (3, 120)
    """
    n = check_positive_int(n, "n")
    n_level = np.array([n])
    options = {"m": m, "m_each": m_each, "prob": prob, "prob_each": prob_each}
    P, fixed, conds = _resolve(n_level, None, options, num_arms, conditions, "unit")
    group = np.zeros(n, dtype=np.int64)
    plan = _Plan("complete", P, group, n_level, fixed, None)
    return _finish(plan, "complete", conds, seed, {"n": n, **options}, group, None, None)


_BLOCK_OPTIONS = ("prob", "prob_each", "m", "m_each", "block_m", "block_m_each", "block_prob", "block_prob_each")


def block(
    blocks: Any,
    *,
    prob: float | None = None,
    prob_each: Sequence[float] | None = None,
    m: int | None = None,
    m_each: Sequence[int] | None = None,
    block_m: Any = None,
    block_m_each: Any = None,
    block_prob: Any = None,
    block_prob_each: Any = None,
    num_arms: int | None = None,
    conditions: Sequence[Any] | None = None,
    seed: Any = None,
) -> Assignment:
    """Block random assignment: a complete random assignment within each block.

    The blocks are randomised independently (randomizr's ``block_ra``); a
    block of ``n_b`` units at probability ``p`` gets ``floor(n_b p)`` or
    ``ceil(n_b p)`` treated, so ``|I - C| <= 1`` in every block at 1:1.

    Defaults: two arms ``(0, 1)``, ``prob=0.5`` in every block.

    Parameters
    ----------
    blocks : sequence
        Block label of each unit (pandas Series, numpy array or list).
    prob, prob_each : optional
        The same probabilities in every block.
    m, m_each : optional
        The same counts in every block (so every block must have the size
        they add up to).
    block_m, block_m_each, block_prob, block_prob_each : optional
        One entry per block: a mapping ``{block: value}`` or a sequence in
        sorted block-label order.
    num_arms, conditions, seed
        As in :func:`simple`.

    Returns
    -------
    Assignment

    Raises
    ------
    DataError
        A missing block label.
    DesignError
        Counts a block cannot hold (naming the block), probabilities out of
        range, entries for unknown blocks, or more than one option fixing the
        arms.

    Examples
    --------
    >>> from effekt import design
    >>> asg = design.block(blocks=["a"] * 5 + ["b"] * 4, prob=0.5, seed=42)
    >>> asg.counts()[1].tolist() in ([2, 2], [3, 2]), asg.design
    (True, 'block')
    """
    raw_blocks, codes, labels = _labels(blocks, "blocks")
    n_level = np.bincount(codes, minlength=labels.size)
    options = dict(zip(_BLOCK_OPTIONS, (prob, prob_each, m, m_each, block_m, block_m_each, block_prob, block_prob_each)))
    P, fixed, conds = _resolve(n_level, labels, options, num_arms, conditions, "unit")
    plan = _Plan("complete", P, codes, n_level, fixed, None)
    spec = {"n": int(codes.size), "block_labels": labels.tolist(), **options}
    return _finish(plan, "block", conds, seed, spec, codes, raw_blocks, None)


def _nested(block_codes: np.ndarray, cluster_codes: np.ndarray, block_labels: np.ndarray, cluster_labels: np.ndarray) -> np.ndarray:
    """Block code of each cluster; DesignError when a cluster spans blocks."""
    C = cluster_labels.size
    lo = np.full(C, np.iinfo(np.int64).max)
    hi = np.full(C, -1)
    np.minimum.at(lo, cluster_codes, block_codes)
    np.maximum.at(hi, cluster_codes, block_codes)
    bad = np.flatnonzero(lo != hi)
    if bad.size:
        c = bad[0]
        in_blocks = np.unique(block_codes[cluster_codes == c])
        raise DesignError(
            f"cluster {cluster_labels.tolist()[c]!r} spans blocks {block_labels[in_blocks][:5].tolist()} "
            f"({bad.size} cluster{'s' if bad.size > 1 else ''} cross blocks); clusters must be nested in "
            "blocks. Fix the labels or block on a coarser variable."
        )
    return lo


def cluster(
    clusters: Any,
    *,
    m: int | None = None,
    m_each: Sequence[int] | None = None,
    prob: float | None = None,
    prob_each: Sequence[float] | None = None,
    num_arms: int | None = None,
    conditions: Sequence[Any] | None = None,
    seed: Any = None,
) -> Assignment:
    """Cluster random assignment: whole clusters are assigned, never split.

    A complete random assignment of the clusters (randomizr's
    ``cluster_ra``); ``m``/``m_each`` count clusters, not units. Each unit
    has its cluster's probabilities.

    Parameters
    ----------
    clusters : sequence
        Cluster label of each unit.
    m, m_each, prob, prob_each, num_arms, conditions, seed
        As in :func:`complete`, counted in clusters.

    Returns
    -------
    Assignment

    Raises
    ------
    DataError
        A missing cluster label.
    DesignError
        As in :func:`complete`.

    Examples
    --------
    >>> from effekt import design
    >>> asg = design.cluster(clusters=[1, 1, 2, 2, 3, 3, 4, 4], m=2, seed=3)
    >>> asg.treatment.reshape(4, 2)[:, 0].tolist() == asg.treatment.reshape(4, 2)[:, 1].tolist()
    True
    """
    raw_clusters, ccodes, clabels = _labels(clusters, "clusters")
    C = clabels.size
    n_level = np.array([C])
    options = {"m": m, "m_each": m_each, "prob": prob, "prob_each": prob_each}
    P, fixed, conds = _resolve(n_level, None, options, num_arms, conditions, "cluster")
    plan = _Plan("complete", P, np.zeros(C, dtype=np.int64), n_level, fixed, ccodes)
    spec = {"n": int(ccodes.size), "n_clusters": int(C), **options}
    return _finish(plan, "cluster", conds, seed, spec, np.zeros(ccodes.size, dtype=np.int64), None, raw_clusters)


def block_cluster(
    blocks: Any,
    clusters: Any,
    *,
    prob: float | None = None,
    prob_each: Sequence[float] | None = None,
    m: int | None = None,
    m_each: Sequence[int] | None = None,
    block_m: Any = None,
    block_m_each: Any = None,
    block_prob: Any = None,
    block_prob_each: Any = None,
    num_arms: int | None = None,
    conditions: Sequence[Any] | None = None,
    seed: Any = None,
) -> Assignment:
    """Blocked cluster random assignment: clusters assigned within blocks.

    Each block's clusters get a complete random assignment, independently
    across blocks (randomizr's ``block_and_cluster_ra``); counts are in
    clusters. Clusters must be nested in blocks.

    Parameters
    ----------
    blocks, clusters : sequence
        Block and cluster label of each unit.
    prob, prob_each, m, m_each, block_m, block_m_each, block_prob, block_prob_each, num_arms, conditions, seed
        As in :func:`block`, counted in clusters.

    Returns
    -------
    Assignment

    Raises
    ------
    DataError
        A missing label.
    DesignError
        A cluster in more than one block, or as in :func:`block`.

    Examples
    --------
    >>> from effekt import design
    >>> asg = design.block_cluster(blocks=[1, 1, 1, 1, 2, 2, 2, 2],
    ...                            clusters=[1, 1, 2, 2, 3, 3, 4, 4], seed=5)
    >>> asg.counts()[1].tolist()
    [2, 2]
    """
    raw_blocks, bcodes, blabels = _labels(blocks, "blocks")
    raw_clusters, ccodes, clabels = _labels(clusters, "clusters")
    if bcodes.size != ccodes.size:
        raise DataError(f"blocks has {bcodes.size} labels but clusters has {ccodes.size}; give one of each per unit.")
    cluster_block = _nested(bcodes, ccodes, blabels, clabels)
    n_level = np.bincount(cluster_block, minlength=blabels.size)
    options = dict(zip(_BLOCK_OPTIONS, (prob, prob_each, m, m_each, block_m, block_m_each, block_prob, block_prob_each)))
    P, fixed, conds = _resolve(n_level, blabels, options, num_arms, conditions, "cluster")
    plan = _Plan("complete", P, cluster_block, n_level, fixed, ccodes)
    spec = {"n": int(ccodes.size), "n_clusters": int(clabels.size), "block_labels": blabels.tolist(), **options}
    return _finish(plan, "block_cluster", conds, seed, spec, bcodes, raw_blocks, raw_clusters)


def from_plan(
    *,
    codes: np.ndarray,
    conditions: tuple[Any, ...],
    design: str,
    seed: int | None,
    blocks: np.ndarray,
    block_codes: np.ndarray,
    block_labels: np.ndarray,
    probabilities: np.ndarray,
    redraw_counts: np.ndarray,
    spec: dict[str, Any],
    ids: np.ndarray | None = None,
) -> Assignment:
    """An Assignment for a realised blocked allocation drawn elsewhere (batch lotteries).

    Re-randomisations keep each block's realised counts (``redraw_counts``,
    G x J) fixed; ``probabilities`` (G x J) are the design's probabilities.
    """
    n_level = np.bincount(block_codes, minlength=block_labels.size)
    plan = _Plan("complete", probabilities, block_codes, n_level, redraw_counts.astype(np.int64), None)
    treatment = codes if conditions == tuple(range(len(conditions))) else np.asarray(conditions, dtype=object)[codes]
    return Assignment(
        treatment=treatment,
        conditions=conditions,
        design=design,
        seed=seed,
        blocks=blocks,
        clusters=None,
        spec=to_jsonable({"design": design, "block_labels": block_labels.tolist(), **spec}),
        _plan=plan,
        _codes=codes.astype(np.int64),
        _group=block_codes,
        ids=ids,
    )

