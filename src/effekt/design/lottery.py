"""Sequential batch lotteries with capacity caps, top-ups and an allocation log.

Units arrive in batches (fortnightly referral lists, say) and each batch is
randomised within itself at a fixed ratio: a block randomisation whose
blocks are the batches (the Copenhagen resource-course trial, VIVE 2019: 218 people in 13 lotteries,
1:1, capacity 100 in the intervention arm).

The draw of one batch
---------------------
1. **Eligibility.** Each exclusion rule ``{reason: predicate}`` marks units
   to leave out, in the order given; a unit excluded by a rule is recorded
   with that rule's reason. Units already randomised in an earlier batch are
   excluded with the reason ``"already randomised in batch ..."``. A unit is
   known by :func:`~effekt.design.log.unit_key` of its identifier (text
   verbatim, whole numbers as their digits), so ``1`` given through Python
   and ``"1"`` read from a file by ``effekt randomise`` are the same person,
   and ``"01"`` another.
2. **Order.** The eligible units are sorted by that key (text), so the draw
   does not depend on the row order of the list.
3. **Seed.** The batch's generator is PCG64 seeded with
   ``derive_seed(seed, batch)`` (SHA-256 of the master seed and the batch
   identifier), recorded in the log.
4. **Capacity.** With ``capacity={arm: places}``, at most ``n'`` units are
   admitted, the largest number for which ``ceil(n' * share)`` fits the
   places left in every capped arm; when fewer than all eligible units fit,
   the admitted ones are chosen at random and the rest are recorded as
   excluded with the reason ``"capacity reached"`` (``on_full="stop"``, as in
   the resource-course trial), or the draw is refused (``on_full="error"``). Withdrawn units
   free their places, and a later (top-up) batch fills them.
5. **Counts.** Arm ``j`` gets ``floor(n' * share_j)`` units; the ``r`` left
   over go one each to ``r`` arms: by systematic sampling with inclusion
   probabilities ``frac(n' * share_j)`` (``odd="random"``, exact marginal
   probabilities), or to the arms furthest below their target share of all
   units drawn so far, ties broken at random (``odd="alternate"``; at 1:1
   the odd unit alternates between the arms, and the running totals never
   differ by more than one).
6. **Allocation.** The admitted units are put in random order and the
   first ``c_1`` get arm 1, and so on.

Stream contract (per batch generator): ``n_eligible`` raw words (admission
keys), one uniform (systematic remainder), one raw word per arm (tie-break
keys), ``n'`` raw words (allocation keys). Always in that order, all drawn.

Drawing a batch that is already in the log returns the recorded allocation;
it is never drawn again.

The draw record
---------------
A batch is one record of the allocation log, holding its units as
columns: ``"units": {"id": [...], "arm": [codes], "arms": [names]}`` (the
admitted ids in draw order, i.e. by :func:`~effekt.design.log.unit_key`,
and each one's arm as an index into ``arms``), and ``"excluded": {"id":
[...], "reason": [codes], "reasons": [texts]}`` in the order of the steps
above; ``"format": 2`` marks the layout. Logs written before it hold
``"units": [[id, arm], ...]`` and ``"excluded": [[id, reason], ...]``; they
are read as they are and extended with records of the new layout
(:func:`record_units` and :func:`record_excluded` read either).

A lottery keeps what the log says between draws (the draws, an index of
the units already randomised, the places taken and the withdrawals), so a
draw costs time in proportion to its batch: the log is read whole and
verified when the lottery is created, and afterwards only what other
processes appended is read (:mod:`effekt.design.log`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date as _date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from effekt.data import as_frame, check_option, describe_rows
from effekt.design._kernels import _allocate, _split
from effekt.design._stream import derive_seed, raw, uniforms
from effekt.design.assignment import Assignment, from_plan
from effekt.design.log import AllocationLog, LogCheck, head_pin, unit_key, verify_log
from effekt.errors import DataError, DesignError

__all__ = ["BatchLottery", "Draw", "parse_ratio", "record_units", "record_excluded", "ODD_POLICIES"]

ODD_POLICIES = ("random", "alternate")
_ON_FULL = ("stop", "error")
CAPACITY_REASON = "capacity reached"


def parse_ratio(ratio: Any, n_arms: int) -> tuple[int, ...]:
    """``"2:1"`` or ``(2, 1)`` as a tuple of positive whole numbers, one per arm.

    >>> parse_ratio("2:1", 2)
    (2, 1)
    """
    if isinstance(ratio, str):
        parts = ratio.replace(" ", "").split(":")
    else:
        try:
            parts = list(ratio)
        except TypeError:
            raise DesignError(f"ratio must look like '1:1' or (2, 1); got {ratio!r}.") from None
    try:
        values = tuple(int(p) for p in parts)
        ok = all(float(p) == int(p) for p in parts)
    except (TypeError, ValueError):
        ok, values = False, ()
    if not ok or len(values) != n_arms or any(v <= 0 for v in values):
        raise DesignError(
            f"ratio={ratio!r} must give one positive whole number per arm ({n_arms} arms), e.g. "
            f"'{':'.join(['1'] * n_arms)}' or '2:1'."
        )
    return values


@dataclass(frozen=True)
class Draw:
    """The allocation of one batch.

    ``allocation`` has columns ``id`` and ``arm``; ``excluded`` has ``id``
    and ``reason``. ``replayed`` is True when the batch was already in the
    log and the recorded allocation was returned.
    """

    batch: str
    date: str
    top_up: bool
    allocation: pd.DataFrame
    excluded: pd.DataFrame
    counts: dict[str, int]
    batch_seed: str
    record_hash: str
    replayed: bool = False


def record_units(rec: Mapping[str, Any]) -> tuple[list[Any], list[str]]:
    """The allocated units of a draw record: their ids and arms, in draw order (by :func:`unit_key`).

    Reads both layouts of the log: ``"units": {"id": [...], "arm": [codes],
    "arms": [names]}`` (written since the log appends in O(batch)) and the
    earlier ``"units": [[id, arm], ...]``.
    """
    units = rec["units"]
    if isinstance(units, Mapping):
        names = list(units["arms"])
        return list(units["id"]), [names[c] for c in units["arm"]]
    return [u for u, _ in units], [a for _, a in units]


def record_excluded(rec: Mapping[str, Any]) -> tuple[list[Any], list[str]]:
    """The excluded units of a draw record: ids and reasons, in the order recorded (both layouts)."""
    excluded = rec["excluded"]
    if isinstance(excluded, Mapping):
        names = list(excluded["reasons"])
        return list(excluded["id"]), [names[c] for c in excluded["reason"]]
    return [u for u, _ in excluded], [r for _, r in excluded]


def _coded(labels: Sequence[str], order: Sequence[str] | None = None) -> tuple[list[int], list[str]]:
    """``labels`` as codes into a list of names (``order``, or the labels in order of first appearance)."""
    names = list(order) if order is not None else list(dict.fromkeys(labels))
    index = {name: j for j, name in enumerate(names)}
    return [index[x] for x in labels], names


def _keys(ids: list[Any]) -> list[str]:
    """:func:`unit_key` of every id, with fast paths for all-text and all-whole-number lists."""
    types = set(map(type, ids))
    if types <= {str}:
        return ids
    if types <= {int}:
        return list(map(str, ids))
    if types <= {str, int}:
        return [v if type(v) is str else str(v) for v in ids]
    return [unit_key(v) for v in ids]


def _ikey(text: str) -> int | str:
    """The index form of a unit key: a whole number's digits as that int, other text as itself."""
    digits = text[1:] if text[:1] == "-" else text
    if digits.isdigit() and digits.isascii() and (digits[0] != "0" or text == "0"):
        return int(text)
    return text


def _index_keys(ids: list[Any]) -> list[int | str]:
    """The identity of each id in the lottery's index: one to one with :func:`unit_key`, and cheaper to hash.

    A whole number is kept as an int and text that is a whole number's
    digits (as :func:`unit_key` writes them) becomes that int, so ``1`` and
    ``"1"`` are one key and ``"01"`` another, as for :func:`unit_key`.
    """
    types = set(map(type, ids))
    if types <= {int}:
        return ids
    if types <= {str, int}:
        return [v if type(v) is int else _ikey(v) for v in ids]
    return [_ikey(unit_key(v)) for v in ids]


@dataclass
class _State:
    """What the log says so far, kept up to date draw by draw (:meth:`BatchLottery._refresh`)."""

    arms: tuple[str, ...]
    config: dict[str, Any] | None = None
    draws: list[dict[str, Any]] = field(default_factory=list)
    by_batch: dict[str, int] = field(default_factory=dict)
    _seen: dict[int | str, int] = field(default_factory=dict)  # index key -> index of the draw that allocated it
    _unindexed: list[tuple[int, list[Any]]] = field(default_factory=list)  # draws not yet in _seen
    withdrawn: dict[int | str, str] = field(default_factory=dict)  # index key -> reason
    drawn: dict[str, int] = field(default_factory=dict)  # units drawn per arm, all batches
    freed: dict[str, int] = field(default_factory=dict)  # withdrawn units per arm
    _arm_of: dict[int, dict[int | str, str]] = field(default_factory=dict)  # per draw, built when a withdrawal needs it

    def __post_init__(self) -> None:
        self.drawn = dict.fromkeys(self.arms, 0)
        self.freed = dict.fromkeys(self.arms, 0)

    @property
    def seen(self) -> dict[int | str, int]:
        """Index key (:func:`_index_keys`) -> index of the draw that allocated it (draws are indexed when this is first asked for)."""
        for index, ids in self._unindexed:
            self._seen.update(dict.fromkeys(_index_keys(ids), index))
        self._unindexed.clear()
        return self._seen

    def apply(self, rec: dict[str, Any]) -> None:
        kind = rec.get("type")
        if kind == "open":
            self.config = rec["config"]
        elif kind == "draw":
            index = len(self.draws)
            self.draws.append(rec)
            self.by_batch.setdefault(rec["batch"], index)
            units = rec["units"]
            self._unindexed.append((index, list(units["id"]) if isinstance(units, Mapping) else [u for u, _ in units]))
            for arm, c in rec["counts"].items():
                if arm in self.drawn:
                    self.drawn[arm] += int(c)
        elif kind == "withdraw":
            for uid in rec["ids"]:
                k = _index_keys([uid])[0]
                arm = self.arm_of(k)
                if k not in self.withdrawn and arm in self.freed:
                    self.freed[arm] += 1
                self.withdrawn[k] = rec["reason"]

    def arm_of(self, key: int | str) -> str | None:
        index = self.seen.get(key)
        if index is None:
            return None
        if index not in self._arm_of:
            ids, arms = record_units(self.draws[index])
            self._arm_of[index] = dict(zip(_index_keys(ids), arms))
        return self._arm_of[index].get(key)

    def active(self) -> dict[str, int]:
        return {arm: self.drawn[arm] - self.freed[arm] for arm in self.arms}


def _id_key(value: Any) -> Any:
    """An identifier as the log records it: text as given, a whole number (also 1.0, numpy) as an int.

    Its identity is :func:`unit_key` (DataError for booleans, fractions, NaN).
    """
    key = unit_key(value)
    return value if isinstance(value, str) else int(key)


def _text_order(values: np.ndarray) -> np.ndarray | None:
    """``argsort`` of distinct whole numbers by their decimal text (``"10" < "9"``), without forming the text.

    A number's text sorts as: a minus sign first (all negatives before the
    rest), then its digits padded on the right with zeros to 17 places, then
    shorter before longer (a prefix first). These three are packed into one
    int64 per value, and the values are distinct, so one sort gives the
    order. None when a value has more than 17 digits (the caller sorts the
    text).
    """
    if values.size == 0:
        return np.empty(0, dtype=np.intp)
    if values.dtype.kind == "u" and int(values.max()) >= 10**17:
        return None
    v = values.astype(np.int64, copy=False)
    if int(v.max()) >= 10**17 or int(v.min()) <= -(10**17):
        return None
    mag = np.abs(v)
    powers = 10 ** np.arange(18, dtype=np.int64)
    digits = np.maximum(np.searchsorted(powers, mag, side="right"), 1)  # 1 for 0..9, 2 for 10..99, ...
    word = (mag * powers[17 - digits]) * 18 + digits  # < 1.8e18
    word += (v >= 0).astype(np.int64) << 62
    return np.argsort(word)


class _Ids:
    """A batch's identifiers: as the log records them, and their :func:`unit_key` forms when asked."""

    def __init__(self, values: np.ndarray, keys: list[str] | None = None):
        self.values = values  # int64, or object holding text and Python ints
        self._keys = keys
        self._index: list[int | str] | None = None

    @property
    def whole(self) -> bool:
        return self.values.dtype.kind in "iu"

    @property
    def keys(self) -> list[str]:
        if self._keys is None:
            self._keys = list(map(str, self.values.tolist())) if self.whole else _keys(self.values.tolist())
        return self._keys

    @property
    def index(self) -> list[int | str]:
        """:func:`_index_keys` of the ids."""
        if self._index is None:
            self._index = self.values.tolist() if self.whole else _index_keys(self.values.tolist())
        return self._index

    def take(self, positions: np.ndarray) -> list[Any]:
        return self.values[positions].tolist()

    def order(self, positions: np.ndarray) -> np.ndarray:
        """``positions`` sorted by the units' keys (text order)."""
        if positions.size == 0:
            return positions
        if self.whole:
            by_text = _text_order(self.values[positions])
            if by_text is not None:
                return positions[by_text]
        keys = self.keys
        return positions[np.argsort(np.array([keys[i] for i in positions.tolist()]), kind="stable")]

    def duplicated(self) -> np.ndarray:
        if self.whole:
            return pd.Index(self.values).duplicated(keep=False)
        return pd.Index(self.keys, dtype=object).duplicated(keep=False)


def _canonical_ids(values: pd.Series) -> _Ids:
    """The ids as the log records them (text, or whole numbers as int) and their :func:`unit_key` forms.

    Whole columns of integers, floats and text take vectorised paths; other
    columns go value by value. DataError for an id that is no identifier.
    """
    arr = values.to_numpy()
    kind = arr.dtype.kind
    if kind == "i" or (kind == "u" and (arr.size == 0 or arr.max() < 2**63)):
        return _Ids(arr.astype(np.int64, copy=False))
    if kind == "f":
        with np.errstate(invalid="ignore"):
            ok = np.isfinite(arr) & (arr == np.floor(arr)) & (np.abs(arr) <= 2.0**53)
        if not ok.all():
            unit_key(float(arr[int(np.argmin(ok))]))  # raises the DataError naming the value
        return _Ids(arr.astype(np.int64))
    items = values.tolist()
    types = set(map(type, items))
    if not types <= {str, int}:
        items = [_id_key(v) for v in items]
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return _Ids(out, _keys(items))


def _frame(columns: dict[str, list[Any]]) -> pd.DataFrame:
    """A DataFrame of list columns (each column's type inferred; object columns when empty)."""
    if any(len(v) for v in columns.values()):
        return pd.DataFrame(columns)
    return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})


class BatchLottery:
    """A sequence of batch lotteries sharing a master seed, a ratio and capacity caps.

    Parameters
    ----------
    log : path or None
        The allocation log (JSON Lines, created when missing). ``None`` keeps
        the log in memory. An existing log must have been started with the
        same seed, arms, ratio, odd policy and capacity.
    seed : int
        Master seed; each batch's seed is derived from it and the batch id.
    ratio : str or sequence of int, default "1:1"
        Allocation ratio in the order of ``arms``.
    arms : sequence of str, default ("treatment", "control")
        Arm names. With two arms, :meth:`assignment` codes the first as 1.
    odd : {"random", "alternate"}, default "random"
        Who gets the units left over when a batch does not split exactly
        (module notes, step 5).
    capacity : mapping arm -> int, optional
        Places per arm (units allocated and not withdrawn).
    on_full : {"stop", "error"}, default "stop"
        What to do when a batch does not fit the places left.
    exclude : mapping reason -> callable, optional
        Eligibility rules: ``predicate(units) -> boolean array``, True for
        units to exclude for that reason, applied before the draw.
    key : bytes or path, optional
        Key of a keyed log (bytes, or a key file kept outside the log's
        folder): every record and the head carry an HMAC-SHA256, so a forged
        record or head is detected (see :mod:`effekt.design.log`).

    Raises
    ------
    DesignError
        A ratio, policy or capacity out of range, or a log started with
        other settings.

    Examples
    --------
    >>> import pandas as pd
    >>> lot = BatchLottery(None, seed=2017, odd="alternate")
    >>> d = lot.draw(pd.DataFrame({"id": range(13)}), batch="2017-01-16")
    >>> sorted(d.counts.values())
    [6, 7]
    >>> int(lot.allocation_table().iloc[-1]["total"])
    13
    """

    def __init__(
        self,
        log: str | os.PathLike[str] | None = None,
        *,
        seed: int,
        ratio: Any = "1:1",
        arms: Sequence[str] = ("treatment", "control"),
        odd: str = "random",
        capacity: Mapping[str, int] | None = None,
        on_full: str = "stop",
        exclude: Mapping[str, Callable[[pd.DataFrame], Any]] | None = None,
        key: bytes | str | os.PathLike[str] | None = None,
    ):
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise DesignError(f"seed must be a non-negative whole number; got {seed!r}.")
        self.arms = tuple(str(a) for a in arms)
        if len(self.arms) < 2 or len(set(self.arms)) != len(self.arms):
            raise DesignError(f"arms must name two or more distinct arms; got {list(arms)!r}.")
        self.seed = int(seed)
        self.ratio = parse_ratio(ratio, len(self.arms))
        self.shares = np.array(self.ratio, dtype=np.float64) / sum(self.ratio)
        self.odd = check_option(odd, "odd", ODD_POLICIES)
        self.on_full = check_option(on_full, "on_full", _ON_FULL)
        caps: dict[str, int] = {}
        for arm, places in (capacity or {}).items():
            if arm not in self.arms:
                raise DesignError(f"capacity names arm {arm!r}, which is not one of the arms {list(self.arms)}.")
            if isinstance(places, bool) or not isinstance(places, (int, np.integer)) or places < 0:
                raise DesignError(f"capacity for arm {arm!r} must be a whole number >= 0; got {places!r}.")
            caps[arm] = int(places)
        self.capacity = caps
        self.exclude = dict(exclude or {})
        for reason, rule in self.exclude.items():
            if not callable(rule):
                raise DesignError(f"exclusion rule {reason!r} must be a function of the units table; got {rule!r}.")
        self._log = AllocationLog(log, key=key)
        self._state = _State(self.arms)
        self._config = {
            "seed": self.seed,
            "arms": list(self.arms),
            "ratio": list(self.ratio),
            "odd": self.odd,
            "capacity": dict(sorted(caps.items())),
            "on_full": self.on_full,
            "rules": list(self.exclude),
        }
        with self._log.locked():
            state = self._refresh()
            if state.config is None:
                rec = self._log.append({"type": "open", "config": self._config})
                state.apply(rec)
            else:
                self._check_config(state.config)

    # ------------------------------------------------------------------ state

    def _check_config(self, recorded: dict[str, Any]) -> None:
        for key in ("seed", "arms", "ratio", "odd", "capacity", "on_full"):
            if recorded.get(key) != self._config[key]:
                raise DesignError(
                    f"the allocation log {str(self._log.path)!r} was started with {key}={recorded.get(key)!r}, "
                    f"but this lottery has {key}={self._config[key]!r}. A trial keeps its settings: pass the "
                    "recorded value, or start a new log for a new trial."
                )

    def _refresh(self) -> _State:
        """The lottery's state with the records other processes appended since it last looked.

        Only new records are read (:meth:`AllocationLog._sync`); the whole log
        is read and verified on the first call and when the file changed
        otherwise than by appends.
        """
        with self._log.locked():
            new, reset = self._log._sync()
            if reset:
                self._state = _State(self.arms)
            for rec in new:
                self._state.apply(rec)
            return self._state

    def places_left(self) -> dict[str, int]:
        """Places left per capped arm (capacity minus units allocated and not withdrawn)."""
        active = self._refresh().active()
        return {arm: cap - active[arm] for arm, cap in self.capacity.items()}

    # ------------------------------------------------------------------ draw

    def draw(
        self,
        units: Any,
        *,
        batch: Any,
        id: str = "id",
        date: Any = None,
        top_up: bool = False,
    ) -> Draw:
        """Randomise one batch (see the module notes for the steps).

        Parameters
        ----------
        units : DataFrame or sequence of ids
            One row per person, with the identifier in column ``id``.
        batch : str
            The batch's identifier (e.g. the lottery date); unique in the log.
        id : str, default "id"
            Identifier column.
        date : str or date, optional
            Lottery date for the allocation table (default: today).
        top_up : bool, default False
            Mark the batch as a top-up lottery filling freed places.

        Returns
        -------
        Draw

        Raises
        ------
        DataError
            A missing id column, missing or duplicated ids, or an exclusion
            rule that does not return one True/False per unit.
        DesignError
            The batch is already in the log with other units; the batch does
            not fit the places left under ``on_full="error"``; a damaged log.
        """
        frame, ids = self._units(units, id)
        batch = str(batch)
        day = str(date) if date is not None else _date.today().isoformat()
        with self._log.locked():
            state = self._refresh()
            if batch in state.by_batch:
                return self._replayed(state.draws[state.by_batch[batch]], ids.index)
            ex_pos: list[np.ndarray] = []
            ex_why: list[str] = []
            keep = np.ones(len(ids.values), dtype=bool)
            for reason, rule in self.exclude.items():
                hit = np.flatnonzero(self._rule_mask(rule, reason, frame) & keep)
                ex_pos.append(hit)
                ex_why += [reason] * len(hit)
                keep[hit] = False
            seen = state.seen
            if seen and not seen.keys().isdisjoint(ids.index):
                ukeys = ids.index
                hit_list = []
                for i in np.flatnonzero(keep).tolist():
                    where = seen.get(ukeys[i])
                    if where is not None:
                        hit_list.append(i)
                        ex_why.append(f"already randomised in batch {state.draws[where]['batch']}")
                hit = np.array(hit_list, dtype=np.intp)
                ex_pos.append(hit)
                keep[hit] = False
            pos = ids.order(np.flatnonzero(keep))  # eligible units by their key (text order): row order does not matter
            batch_seed = derive_seed(self.seed, batch)
            rng = np.random.Generator(np.random.PCG64(batch_seed))
            admit_keys = raw(rng, pos.size)
            n_admit = self._admissible(pos.size, state.active(), batch)
            if n_admit < pos.size:
                chosen = np.sort(np.argsort(admit_keys, kind="stable")[:n_admit])
                out = np.setdiff1d(np.arange(pos.size), chosen)
                ex_pos.append(pos[out])
                ex_why += [CAPACITY_REASON] * len(out)
                pos = pos[chosen]
            counts = self._counts(pos.size, state, rng)
            keys = raw(rng, pos.size)
            codes = _allocate(None, np.array([pos.size]), counts[None, :], keys)
            why_codes, reasons = _coded(ex_why)
            excluded_ids = ids.take(np.concatenate(ex_pos)) if ex_pos else []
            body = {
                "type": "draw",
                "format": 2,
                "batch": batch,
                "date": day,
                "top_up": bool(top_up),
                "batch_seed": format(batch_seed, "032x"),
                "counts": {a: int(c) for a, c in zip(self.arms, counts)},
                "units": {"id": ids.take(pos), "arm": codes.tolist(), "arms": list(self.arms)},
                "excluded": {"id": excluded_ids, "reason": why_codes, "reasons": reasons},
            }
            rec = self._log._append(body)
            state.apply(rec)
        chosen_ids = ids.values[pos] if ids.whole else ids.take(pos)  # object ids: a column typed as the rows were
        allocation = pd.DataFrame({"id": chosen_ids, "arm": np.asarray(self.arms, dtype=object)[codes]})
        return self._as_draw(rec, replayed=False, allocation=allocation)

    def _units(self, units: Any, id: str) -> tuple[pd.DataFrame, _Ids]:
        if isinstance(units, (list, tuple, np.ndarray, pd.Series, pd.Index)):
            frame = pd.DataFrame({id: list(units)})
        else:
            frame = as_frame(units)
        if id not in frame.columns:
            cols = ", ".join(repr(c) for c in list(frame.columns)[:10])
            raise DataError(f"id={id!r}: the units table has no such column (it has {cols}). Pass id= the identifier column.")
        ids = frame[id]
        missing = ids.isna().to_numpy()
        if missing.any():
            raise DataError(
                f"id column {id!r} has {int(missing.sum())} missing identifiers ({describe_rows(frame.index[missing])}); "
                "every person needs an identifier before the draw."
            )
        try:
            canonical = _canonical_ids(ids)
        except DataError as exc:
            raise DataError(f"id column {id!r}: {exc}") from None
        dup = canonical.duplicated()
        if dup.any():
            shown = sorted({canonical.keys[i] for i in np.flatnonzero(dup)})[:5]
            raise DataError(
                f"id column {id!r} lists {', '.join(shown)} more than once ({describe_rows(frame.index[dup])}); "
                "each person may appear once per batch. Remove the duplicates."
            )
        return frame.reset_index(drop=True), canonical

    @staticmethod
    def _rule_mask(rule: Callable[[pd.DataFrame], Any], reason: str, frame: pd.DataFrame) -> np.ndarray:
        try:
            result = rule(frame)
        except Exception as exc:
            raise DataError(f"exclusion rule {reason!r} failed on this batch: {type(exc).__name__}: {exc}.") from None
        mask = np.asarray(result)
        if mask.shape != (len(frame),) or not (mask.dtype == bool or np.isin(mask, (0, 1)).all()):
            raise DataError(
                f"exclusion rule {reason!r} must return one True/False per unit ({len(frame)}); got "
                f"{mask.dtype} of shape {mask.shape}."
            )
        return mask.astype(bool)

    def _admissible(self, n: int, active: dict[str, int], batch: str) -> int:
        if not self.capacity or n == 0:
            return n
        limit = n
        for arm, cap in self.capacity.items():
            share = float(self.shares[self.arms.index(arm)])
            left = max(cap - active[arm], 0)
            # largest m with ceil(m * share) <= left
            m = math.floor((left + 1 - 1e-9) / share) if share > 0 else n
            while m > 0 and math.ceil(m * share - 1e-9) > left:
                m -= 1
            limit = min(limit, m)
        if limit < n and self.on_full == "error":
            places = {arm: max(cap - active[arm], 0) for arm, cap in self.capacity.items()}
            raise DesignError(
                f"batch {batch!r} has {n} eligible units but the places left {places} admit only {limit} at "
                f"ratio {':'.join(map(str, self.ratio))}. Draw a smaller batch, withdraw units to free places, "
                "or use on_full='stop' to admit a random subset."
            )
        return limit

    def _counts(self, n: int, state: _State, rng: np.random.Generator) -> np.ndarray:
        J = len(self.arms)
        floors, fracs, r = _split(np.array([n]), self.shares[None, :])
        u = uniforms(rng, 1)
        tie_keys = raw(rng, J)
        counts = floors[0].copy()
        if r[0] == 0:
            return counts
        if self.odd == "random":
            F = np.cumsum(fracs[0])
            F[-1] = r[0]
            hits = np.ceil(F - u[0]).astype(np.int64)
            return counts + np.diff(hits, prepend=0)
        drawn = np.array([state.drawn[a] for a in self.arms], dtype=np.int64)
        total = drawn.sum() + n
        deficit = self.shares * total - (drawn + counts)
        candidates = [j for j in range(J) if fracs[0, j] > 0]
        candidates.sort(key=lambda j: (-round(float(deficit[j]), 9), int(tie_keys[j])))
        for j in candidates[: int(r[0])]:
            counts[j] += 1
        return counts

    def _replayed(self, rec: dict[str, Any], given_keys: list[int | str]) -> Draw:
        given = set(given_keys)
        recorded = set(_index_keys(record_units(rec)[0])) | set(_index_keys(record_excluded(rec)[0]))
        if given != recorded:
            new, gone = len(given - recorded), len(recorded - given)
            raise DesignError(
                f"batch {rec['batch']!r} was drawn on {rec['time']} with {len(recorded)} units; the units given now "
                f"differ ({new} not in that draw, {gone} missing). A batch is never drawn twice: give new units a "
                "new batch id."
            )
        return self._as_draw(rec, replayed=True)

    def _as_draw(self, rec: dict[str, Any], *, replayed: bool, allocation: pd.DataFrame | None = None) -> Draw:
        if allocation is None:
            ids, arms = record_units(rec)
            allocation = _frame({"id": ids, "arm": arms})
        ex_ids, reasons = record_excluded(rec)
        return Draw(
            batch=rec["batch"],
            date=rec["date"],
            top_up=rec["top_up"],
            allocation=allocation,
            excluded=_frame({"id": ex_ids, "reason": reasons}),
            counts=dict(rec["counts"]),
            batch_seed=rec["batch_seed"],
            record_hash=rec["hash"],
            replayed=replayed,
        )

    # ------------------------------------------------------------------ after the draw

    def withdraw(self, ids: Any, *, reason: str) -> dict[str, int]:
        """Record units leaving their arm (moved away, stopped); frees their places.

        Withdrawn units stay randomised (they are analysed as assigned); only
        the capacity count changes, so a top-up batch can fill the places.
        Returns the places freed per arm.

        Raises
        ------
        DataError
            An id that was never allocated or is already withdrawn.
        """
        ids = [_id_key(v) for v in (ids if isinstance(ids, (list, tuple, np.ndarray, pd.Series)) else [ids])]
        with self._log.locked():
            state = self._refresh()
            keys = _index_keys(ids)
            unknown = [u for u, k in zip(ids, keys) if k not in state.seen]
            if unknown:
                raise DataError(f"cannot withdraw {unknown[:5]}: never allocated in this lottery. Check the ids.")
            again = [(u, k) for u, k in zip(ids, keys) if k in state.withdrawn]
            if again:
                shown = [u for u, _ in again[:5]]
                raise DataError(f"cannot withdraw {shown}: already withdrawn ({state.withdrawn[again[0][1]]!r}).")
            freed = dict.fromkeys(self.arms, 0)
            for k in keys:
                arm = state.arm_of(k)
                if arm in freed:
                    freed[arm] += 1
            rec = self._log.append({"type": "withdraw", "ids": ids, "reason": str(reason)})
            state.apply(rec)
        return freed

    def allocations(self) -> pd.DataFrame:
        """One row per allocated unit.

        Columns: id, batch, date, top_up, arm, withdrawn, withdraw_reason, and
        the draw's UTC time stamp and batch seed (hex) from the log.
        """
        state = self._refresh()
        columns = ["id", "batch", "date", "top_up", "arm", "withdrawn", "withdraw_reason", "time", "batch_seed"]
        parts: dict[str, list[Any]] = {c: [] for c in columns}
        for rec in state.draws:
            ids, arms = record_units(rec)
            n = len(ids)
            parts["id"] += ids
            parts["arm"] += arms
            for c in ("batch", "date", "top_up", "time", "batch_seed"):
                parts[c] += [rec[c]] * n
            if state.withdrawn:
                reasons = [state.withdrawn.get(k) for k in _index_keys(ids)]
                parts["withdrawn"] += [r is not None for r in reasons]
                parts["withdraw_reason"] += reasons
            else:
                parts["withdrawn"] += [False] * n
                parts["withdraw_reason"] += [None] * n
        frame = _frame(parts)
        return frame.astype({"top_up": bool, "withdrawn": bool})

    def exclusions(self) -> pd.DataFrame:
        """One row per excluded unit: id, batch, reason."""
        parts: dict[str, list[Any]] = {"id": [], "batch": [], "reason": []}
        for rec in self._refresh().draws:
            ids, reasons = record_excluded(rec)
            parts["id"] += ids
            parts["batch"] += [rec["batch"]] * len(ids)
            parts["reason"] += reasons
        return _frame(parts)

    def allocation_table(self, *, total: bool = True) -> pd.DataFrame:
        """Allocation per batch: batch, date, top_up, one column per arm, total.

        The layout of the resource-course trial's appendix table 1.1 (lottery date, n per
        arm, total), with a final ``"Total"`` row when ``total=True``.
        """
        draws = self._refresh().draws
        rows = [
            {"batch": rec["batch"], "date": rec["date"], "top_up": rec["top_up"], **{a: rec["counts"][a] for a in self.arms}}
            for rec in draws
        ]
        table = pd.DataFrame(rows, columns=["batch", "date", "top_up", *self.arms])
        table[list(self.arms)] = table[list(self.arms)].astype(np.int64)
        table["total"] = table[list(self.arms)].sum(axis=1).astype(np.int64)
        if total:
            sums = {a: int(table[a].sum()) for a in [*self.arms, "total"]}
            table = pd.concat([table, pd.DataFrame([{"batch": "Total", "date": "", "top_up": False, **sums}])], ignore_index=True)
        return table

    def assignment(self) -> Assignment:
        """The allocation so far as an :class:`Assignment` (blocks = batches).

        Units are in allocation order (batch by batch, by id within a batch).
        Two arms are coded 1 (first arm, e.g. treatment) and 0; more arms keep
        their names. ``probabilities`` are the ratio's shares (exact for
        ``odd="random"`` and, by symmetry, for ``"alternate"`` at 1:1).
        ``permutations`` re-randomises within each batch keeping its realised
        counts.
        """
        draws = self._refresh().draws
        if not draws:
            raise DesignError("no batch has been drawn yet; draw one before asking for the assignment.")
        ids: list[Any] = []
        batches: list[str] = []
        arms: list[str] = []
        for rec in draws:
            unit_ids, unit_arms = record_units(rec)
            ids += unit_ids
            arms += unit_arms
            batches += [rec["batch"]] * len(unit_ids)
        labels = np.array([rec["batch"] for rec in draws], dtype=object)
        block_codes = pd.Index(labels).get_indexer(batches).astype(np.int64)
        J = len(self.arms)
        if J == 2:
            conditions: tuple[Any, ...] = (0, 1)
            order = [1, 0]  # column j of the plan is condition j: 0 = second arm, 1 = first arm
        else:
            conditions = self.arms
            order = list(range(J))
        arm_to_code = {self.arms[order[j]]: j for j in range(J)}
        codes = np.array([arm_to_code[a] for a in arms], dtype=np.int64)
        counts = np.array([[rec["counts"][self.arms[order[j]]] for j in range(J)] for rec in draws], dtype=np.int64)
        P = np.tile(self.shares[order], (len(draws), 1))
        return from_plan(
            codes=codes,
            conditions=conditions,
            design="batch_lottery",
            seed=self.seed,
            blocks=np.asarray(batches, dtype=object),
            block_codes=block_codes,
            block_labels=labels,
            probabilities=P,
            redraw_counts=counts,
            spec={"arms": {str(j): self.arms[order[j]] for j in range(J)}, "ratio": list(self.ratio), "odd": self.odd},
            ids=np.asarray(ids, dtype=object),
        )

    @property
    def log_path(self) -> Path | None:
        """The allocation log's file (None for an in-memory log)."""
        return self._log.path

    def head_pin(self) -> str:
        """The log's head as ``"RECORDS:HASH"`` to pin in a report (see :func:`effekt.design.log.head_pin`)."""
        if self._log.path is None:
            raise DesignError("an in-memory log has no head to pin; give the lottery a log file.")
        return head_pin(self._log.path, key=self._log._key)

    def verify(self, *, pin: str | None = None) -> LogCheck:
        """Check the log's hash chain (with the lottery's key, and against ``pin`` if given).

        Always intact for an in-memory log.
        """
        if self._log.path is None:
            return LogCheck(True, len(self._log.records()), None, "in-memory log")
        return verify_log(self._log.path, key=self._log._key, pin=pin)
