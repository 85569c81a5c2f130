"""Survival data from a weekly register state panel.

A DREAM-like register records each person's state (benefit type, job,
flexjob, pension, ...) every week. :func:`first_entry` turns such a panel
into one row per person with the time from the origin (e.g. the
randomisation week) to the first week in one of the event states, the cause
of exit among competing sets of states, and censoring at the data-extract
week, at a per-person censoring week (movers, another register's end) or at
the last week the person is observed, whichever comes first; delayed entry is
carried as an entry time. :func:`gap_times` gives one row per episode of
recurrent entries, timed from the previous exit (gap times).

Both are vectorised numpy over the rows of the panel and work through the
panel in chunks of whole persons (``chunk_rows``), so working memory is
bounded by the chunk, not the panel; the panel may also be an iterable of
data frames (e.g. parquet row groups), persons split across chunks are
joined.

Conventions: weeks are whole numbers on one scale (convert dates with
:func:`effekt.registers.week_of`, whole weeks since Monday 5 January 1970);
``origin``, ``censor``, ``entry`` and ``extract`` are on the same scale.
Follow-up is the window of :func:`effekt.registers.follow_up` with
``offset=1``, ``cutoff=extract`` and ``end=censor``, computed by
:func:`effekt.registers.follow_up_bounds`: weeks ``origin < w <= min(extract,
censor)``. The event is the first week of that window in an event state,
and the time is ``w - origin``; the state in the origin week itself is
baseline. A fractional week is a :class:`DataError` (as in
:class:`effekt.registers.StatePanel`): with whole weeks the window is the
same whichever way its bounds are written.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from effekt.errors import DataError, DesignError, warn
from effekt.registers.panel import follow_up_bounds

__all__ = ["first_entry", "gap_times"]

_DEFAULT_CHUNK = 2_000_000


@dataclass
class _Spec:
    person: Any
    week: Any
    state: Any
    causes: list[tuple[int, np.ndarray]]
    origin: np.ndarray  # per person (persons-frame order)
    start: np.ndarray  # first week of follow-up, origin + 1 (effekt.registers.follow_up_bounds)
    stop: np.ndarray  # last week of follow-up, min(extract, censor) per person (inf: none)
    censor_given: np.ndarray  # bool: a per-person censoring week binds
    person_index: pd.Index
    after_censoring: str
    labels: dict[int, Any] = field(default_factory=dict)  # cause code -> label, when events= keys are labels


def _v(x: Any) -> Any:
    """A numpy scalar as the plain Python value, for messages."""
    return x.item() if isinstance(x, np.generic) else x


def _cause_labels(events: Any) -> dict[int, Any]:
    """Code -> label when ``events=`` is keyed by labels ("job", "pension"), else {}."""
    if isinstance(events, Mapping) and any(isinstance(k, str) for k in events):
        return {i: k for i, k in enumerate(events, start=1)}
    return {}


def _labelled(codes: np.ndarray, labels: dict[int, Any]) -> Any:
    """Event codes shown as the user's labels (0 stays 0, censored)."""
    if not labels:
        return codes
    out = np.asarray(codes, dtype=object).copy()
    for k, lab in labels.items():
        out[np.asarray(codes) == k] = lab
    return out


def _causes(events: Any) -> list[tuple[int, np.ndarray]]:
    if isinstance(events, Mapping):
        items = list(events.items())
    elif isinstance(events, (str, bytes)) or not isinstance(events, Iterable):
        items = [(1, [events])]
    else:
        items = [(1, list(events))]
    out = []
    seen: dict[Any, int] = {}
    labelled = any(isinstance(k, str) for k, _ in items)
    if labelled and not all(isinstance(k, str) and k.strip() for k, _ in items):
        raise DesignError(
            "events= keys must be all labels (e.g. {'job': [...], 'pension': [...]}) or all causes 1, 2, ...; "
            f"got {[k for k, _ in items]!r}."
        )
    if labelled:
        items = [(i, st) for i, (_, st) in enumerate(items, start=1)]
    for cause, states in items:
        if isinstance(cause, bool) or not isinstance(cause, (int, np.integer)) or cause < 1:
            raise DesignError(
                f"events= maps causes 1, 2, ... (or labels) to sets of states; got the key {cause!r}. Use e.g. "
                "events={'job': ['job', 'flexjob'], 'pension': ['pension']}."
            )
        states = [states] if isinstance(states, (str, bytes)) or not isinstance(states, Iterable) else list(states)
        if not states:
            raise DesignError(f"events=: cause {cause} has no states.")
        for s in states:
            if s in seen:
                raise DesignError(
                    f"events=: state {s!r} belongs to causes {seen[s]} and {cause}; each state may "
                    "belong to one cause only."
                )
            seen[s] = int(cause)
        out.append((int(cause), np.asarray(states)))
    if not out:
        raise DesignError("events= names no states; pass the states that count as the event.")
    return out


def _person_weeks(persons: pd.DataFrame, col: Any, role: str, person: Any) -> np.ndarray:
    if col not in persons.columns:
        raise DataError(f"{role}={col!r}: no such column in persons. It has {list(persons.columns)[:20]}.")
    s = persons[col]
    if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        raise DataError(
            f"{role} column {col!r} holds {s.dtype} values; it must hold integer week numbers on the "
            "panel's week scale. Convert dates with effekt.registers.week_of(dates)."
        )
    arr = s.to_numpy(dtype=float)
    bad = ~np.isfinite(arr)
    frac = ~bad & (arr != np.round(arr))
    if frac.any():
        raise DataError(
            f"{role} column {col!r} has {int(frac.sum())} fractional week(s) (persons "
            f"{', '.join(map(str, persons[person].to_numpy()[frac][:5]))}); weeks are whole numbers."
        )
    if bad.any() and role != "censor":
        raise DataError(
            f"{role} column {col!r} has {int(bad.sum())} missing value(s) (persons "
            f"{', '.join(map(str, persons[person].to_numpy()[bad][:5]))}). Every person needs one."
        )
    return arr


def _chunks(panel: Any, cols: list[Any], chunk_rows: int) -> Iterator[pd.DataFrame]:
    if isinstance(panel, pd.DataFrame):
        for col in cols:
            if col not in panel.columns:
                raise DataError(f"panel has no column {col!r}; it has {list(panel.columns)[:20]}.")
        for lo in range(0, len(panel), chunk_rows):
            yield panel.iloc[lo: lo + chunk_rows]
    else:
        for part in panel:
            if not isinstance(part, pd.DataFrame):
                raise DataError(f"panel chunks must be pandas DataFrames; got {type(part).__name__}.")
            yield part


def _check_order(p: np.ndarray, w: np.ndarray, row0: int, person: Any, week: Any) -> None:
    same = p[1:] == p[:-1]
    dw = np.diff(w)
    dup = same & (dw == 0)
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        n = int(dup.sum())
        raise DataError(
            f"panel: person {_v(p[i])!r} has week {w[i]:g} twice (rows {row0 + i} and {row0 + i + 1}); "
            f"{n} duplicated person-week{'s' if n != 1 else ''} in this chunk. Each person has one "
            "state a week: deduplicate the panel first."
        )
    back = same & (dw < 0)
    if back.any():
        i = int(np.flatnonzero(back)[0])
        raise DataError(
            f"panel: weeks are out of order for person {_v(p[i])!r} (week {w[i]:g} in row {row0 + i} before "
            f"week {w[i + 1]:g} in row {row0 + i + 1}). Sort the panel by {person!r} and {week!r} first, "
            f"e.g. panel.sort_values([{person!r}, {week!r}])."
        )


def _process(chunk: pd.DataFrame, spec: _Spec, row0: int, recurrent: bool, seen: np.ndarray) -> Any:
    p = chunk[spec.person].to_numpy()
    w_s = chunk[spec.week]
    if not pd.api.types.is_numeric_dtype(w_s) or pd.api.types.is_bool_dtype(w_s):
        raise DataError(
            f"panel week column {spec.week!r} holds {w_s.dtype} values; it must hold integer week "
            "numbers. Convert dates with effekt.registers.week_of(dates)."
        )
    w = w_s.to_numpy(dtype=float)
    if np.isnan(w).any():
        i = int(np.flatnonzero(np.isnan(w))[0])
        raise DataError(f"panel week column {spec.week!r} is missing in row {row0 + i}.")
    frac = np.isfinite(w) & (w != np.round(w))
    if frac.any():
        i = int(np.flatnonzero(frac)[0])
        raise DataError(f"panel week column {spec.week!r} holds the fractional week {w[i]:g} in row {row0 + i}; "
                        "weeks are whole numbers (effekt.registers.week_of converts dates).")
    _check_order(p, w, row0, spec.person, spec.week)
    n = p.size
    starts = np.flatnonzero(np.r_[True, p[1:] != p[:-1]])
    counts = np.diff(np.r_[starts, n])
    pid = spec.person_index.get_indexer(p[starts])
    if (pid < 0).any():
        miss = p[starts][pid < 0]
        raise DataError(
            f"panel: {miss.size} person(s) in the panel are not in persons (e.g. {_v(miss[0])!r}, row "
            f"{row0 + int(starts[pid < 0][0])}). Add them to persons or drop their rows."
        )
    if seen[pid].any() or np.unique(pid).size != pid.size:
        uniq, cnt = np.unique(pid, return_counts=True)
        bad = pid[seen[pid]][0] if seen[pid].any() else uniq[cnt > 1][0]
        raise DataError(
            f"panel: the rows of person {_v(spec.person_index[bad])!r} are not contiguous. Sort the panel by "
            f"{spec.person!r} and {spec.week!r} first."
        )
    seen[pid] = True
    prow = np.repeat(pid, counts)
    origin = spec.origin[prow]
    stop = spec.stop[prow]
    start = spec.start[prow]
    cause = np.zeros(n, dtype=np.int64)
    states = chunk[spec.state]
    for k, sset in spec.causes:
        cause[states.isin(sset).to_numpy()] = k
    after = w >= start
    # events after a per-person censoring week
    late = after & (cause > 0) & (w > stop) & spec.censor_given[prow]
    if late.any() and spec.after_censoring == "error":
        i = int(np.flatnonzero(late)[0])
        k = int(late.sum())
        raise DataError(
            f"panel: person {_v(p[i])!r} is in event state {_v(states.iloc[i])!r} in week {w[i]:g} (row {row0 + i}), "
            f"after the person's censoring week {stop[i]:g}; {k} such person-week{'s' if k != 1 else ''} in "
            "this chunk. Check the censoring dates, or pass after_censoring='ignore' to disregard "
            "events after censoring."
        )
    window = after & (w < stop + 1)  # [start, stop + 1): follow_up_bounds' half-open window
    last_week = w[starts + counts - 1]
    prevalent = np.zeros(pid.size, dtype=bool)
    at_origin = (w == origin) & (cause > 0)
    if at_origin.any():
        prevalent[np.searchsorted(starts, np.flatnonzero(at_origin), side="right") - 1] = True
    if not recurrent:
        hit = np.flatnonzero(window & (cause > 0))
        first = hit[np.r_[True, prow[hit][1:] != prow[hit][:-1]]] if hit.size else hit
        ev_week = np.full(pid.size, np.nan)
        ev_cause = np.zeros(pid.size, dtype=np.int64)
        run = np.searchsorted(starts, first, side="right") - 1
        ev_week[run] = w[first]
        ev_cause[run] = cause[first]
        return pid, ev_week, ev_cause, last_week, prevalent
    # recurrent: episodes are runs of consecutive event-state rows inside the window
    tgt = window & (cause > 0)
    prev_tgt = np.r_[False, tgt[:-1]] & np.r_[False, p[1:] == p[:-1]]
    entry_rows = np.flatnonzero(tgt & ~prev_tgt)
    next_tgt = np.r_[tgt[1:], False] & np.r_[p[1:] == p[:-1], False]
    exit_rows = np.flatnonzero(tgt & ~next_tgt)  # last week of each episode
    run_of_row = np.repeat(np.arange(pid.size), counts)
    return pid, w, cause, entry_rows, exit_rows, run_of_row, last_week, prevalent


def _setup(persons: Any, person: Any, origin: Any, censor: Any, entry: Any, extract: Any, events: Any,
           week: Any, state: Any, after_censoring: str) -> tuple[pd.DataFrame, _Spec, np.ndarray | None]:
    if not isinstance(persons, pd.DataFrame):
        raise DataError(f"persons must be a pandas DataFrame with one row per person; got {type(persons).__name__}.")
    if after_censoring not in ("error", "ignore"):
        raise DesignError(f"after_censoring={after_censoring!r} is not an option; use 'error' or 'ignore'.")
    if person not in persons.columns:
        raise DataError(f"persons has no column {person!r} (person=); it has {list(persons.columns)[:20]}.")
    ids = persons[person]
    if ids.duplicated().any():
        dup = ids[ids.duplicated()].iloc[0]
        raise DataError(f"persons: person {_v(dup)!r} appears more than once; persons needs one row per person.")
    o = _person_weeks(persons, origin, "origin", person)
    if extract is not None and (isinstance(extract, bool) or not np.isfinite(float(extract))
                                or float(extract) != round(float(extract))):
        raise DesignError(f"extract={extract!r} must be a whole week number on the panel's week scale.")
    censor_given = np.zeros(o.size, dtype=bool)
    own = None
    if censor is not None:
        c = _person_weeks(persons, censor, "censor", person)
        has = np.isfinite(c)
        censor_given = has & (c < (np.inf if extract is None else float(extract)))
        own = np.where(has, c, np.nan)
    # the window of effekt.registers.follow_up: weeks origin + 1 .. min(extract, censor)
    start, stop_excl = follow_up_bounds(o, cutoff=extract, offset=1, end=own)
    stop = stop_excl - 1
    neg = stop < o
    if neg.any():
        i = np.flatnonzero(neg)
        raise DataError(
            f"persons: {i.size} person(s) are censored before their origin (e.g. person "
            f"{_v(ids.iloc[i[0]])!r}: origin {o[i[0]]:g}, censored {stop[i[0]]:g}), which would give a negative "
            "time. Check the origin and censoring weeks."
        )
    ent = None
    if entry is not None:
        ent = _person_weeks(persons, entry, "entry", person)
        bad = ent < o
        if bad.any():
            i = np.flatnonzero(bad)[0]
            raise DataError(
                f"persons: person {_v(ids.iloc[i])!r} enters observation in week {ent[i]:g}, before the origin "
                f"{o[i]:g}. Delayed entry is measured from the origin and cannot be negative."
            )
    spec = _Spec(person=person, week=week, state=state, causes=_causes(events), labels=_cause_labels(events), origin=o,
                 start=start, stop=stop,
                 censor_given=censor_given, person_index=pd.Index(ids.to_numpy()), after_censoring=after_censoring)
    return persons, spec, ent


def _iterate(panel: Any, spec: _Spec, chunk_rows: int, recurrent: bool) -> Iterator[Any]:
    """Yield processed results of chunks of whole persons."""
    seen = np.zeros(len(spec.person_index), dtype=bool)
    carry: pd.DataFrame | None = None
    row0 = 0
    cols = [spec.person, spec.week, spec.state]
    for part in _chunks(panel, cols, chunk_rows):
        part = part[cols]
        if carry is not None:
            part = pd.concat([carry, part], ignore_index=True)
        if len(part) == 0:
            continue
        pcol = part[spec.person].to_numpy()
        # rows of the chunk's last person may continue in the next chunk
        other = np.flatnonzero(pcol != pcol[-1])
        tail_start = int(other[-1]) + 1 if other.size else 0
        done, carry = part.iloc[:tail_start], part.iloc[tail_start:]
        if len(done):
            yield _process(done, spec, row0, recurrent, seen)
            row0 += len(done)
    if carry is not None and len(carry):
        yield _process(carry, spec, row0, recurrent, seen)


def _warn(short: int, prevalent: int) -> None:
    msgs = []
    if short:
        msgs.append(
            f"{short} person(s) leave the panel before the extract or censoring week and are censored at "
            "their last observed week; pass censor= to say when each was last followed."
        )
    if prevalent:
        msgs.append(
            f"{prevalent} person(s) are already in an event state in their origin week; their event is "
            "the first week after the origin in an event state."
        )
    for m in msgs:
        warn(m)


def first_entry(
    panel: pd.DataFrame | Iterable[pd.DataFrame],
    persons: pd.DataFrame,
    *,
    person: str,
    week: str,
    state: str,
    origin: str,
    events: Mapping[int, Sequence[Any]] | Sequence[Any],
    extract: float | None = None,
    censor: str | None = None,
    entry: str | None = None,
    after_censoring: str = "error",
    chunk_rows: int = _DEFAULT_CHUNK,
) -> pd.DataFrame:
    """Time to first entry into a set of states, with competing causes.

    For person ``i`` with origin ``o_i`` and end of follow-up
    ``c_i = min(extract, censor_i, last observed week_i)``:
    ``T_i = min{w : o_i < w <= c_i, state_iw in events}`` and
    ``time = T_i - o_i``, ``event = k`` for the cause whose states hold
    ``state_iT``; without such a week ``time = c_i - o_i``, ``event = 0``.

    Parameters
    ----------
    panel : DataFrame or iterable of DataFrames
        Long panel, one row per person-week, rows of a person together and
        in increasing week order.
    persons : DataFrame
        One row per person: id, origin week and optional censoring / entry
        weeks; other columns (treatment, blocks) are carried to the output.
    person, week, state : str
        Column names in the panel (``person`` also in ``persons``).
    origin : str
        Column of ``persons``: the time origin (e.g. randomisation week).
    events : list of states, or mapping cause -> list of states
        A list counts as cause 1; ``{1: ["job", "flexjob"], 2: ["pension"]}``
        gives competing causes. Keys may be labels,
        ``{"job": ["job", "flexjob"], "pension": ["pension"]}``: the event
        column then holds the labels (0 = censored), which the survival
        estimators show in their tables and plots.
    extract : number, optional
        The data-extract week: administrative censoring for everyone.
    censor : str, optional
        Column of ``persons``: a person's own censoring week (moved away,
        another register's end); missing means none.
    entry : str, optional
        Column of ``persons``: the week observation starts (delayed entry);
        returned as ``entry = entry_week - origin``.
    after_censoring : {"error", "ignore"}, default "error"
        An event state after a person's own censoring week is a
        :class:`DataError` unless ``"ignore"``.
    chunk_rows : int, default 2,000,000
        Rows processed at a time.

    Returns
    -------
    DataFrame
        ``persons`` with columns ``time``, ``event`` (and ``entry``).

    Raises
    ------
    DataError
        Duplicated or out-of-order weeks, a person's rows not contiguous,
        persons missing from either frame, censoring before the origin,
        events after censoring.

    Examples
    --------
    >>> panel = pd.DataFrame({"id": [1, 1, 1, 2, 2, 2], "week": [10, 11, 12, 10, 11, 12],
    ...                       "state": ["rf", "job", "job", "rf", "rf", "pension"]})
    >>> persons = pd.DataFrame({"id": [1, 2], "rand_week": [10, 10], "z": [1, 0]})
    >>> first_entry(panel, persons, person="id", week="week", state="state", origin="rand_week",
    ...             events={1: ["job"], 2: ["pension"]}, extract=12)
       id  rand_week  z  time  event
    0   1         10  1   1.0      1
    1   2         10  0   2.0      2
    """
    persons, spec, ent = _setup(persons, person, origin, censor, entry, extract, events, week, state,
                                after_censoring)
    m = len(persons)
    ev_week = np.full(m, np.nan)
    ev_cause = np.zeros(m, dtype=np.int64)
    last = np.full(m, np.nan)
    prevalent = np.zeros(m, dtype=bool)
    for pid, wk, cs, lw, prev in _iterate(panel, spec, chunk_rows, recurrent=False):
        ev_week[pid], ev_cause[pid], last[pid], prevalent[pid] = wk, cs, lw, prev
    _check_all_seen(last, persons, person)
    _check_followed_after_origin(last, spec.origin, persons, person)
    end = np.minimum(spec.stop, last)
    short = int(np.sum((last < spec.stop) & np.isnan(ev_week)))
    has = ~np.isnan(ev_week)
    out = persons.copy()
    out["time"] = np.where(has, ev_week, end) - spec.origin
    out["event"] = _labelled(np.where(has, ev_cause, 0), spec.labels)
    if ent is not None:
        out["entry"] = ent - spec.origin
        bad = out["entry"].to_numpy() >= out["time"].to_numpy()
        if bad.any():
            i = np.flatnonzero(bad)[0]
            raise DataError(
                f"person {_v(persons[person].iloc[i])!r} enters observation (week {ent[i]:g}) at or after the "
                "end of follow-up; they are never at risk. Drop them or correct the entry week."
            )
    if (out["time"].to_numpy() < 0).any():  # pragma: no cover - excluded by the checks above
        raise DataError("negative follow-up time; check the origin weeks.")
    _warn(short, int(prevalent.sum()))
    _warn_unused_causes(spec, ev_cause)
    return out


def _warn_unused_causes(spec: _Spec, ev_cause: np.ndarray) -> None:
    """A cause nobody reaches is most often a misspelt state: say so."""
    for cause, states in spec.causes:
        if not np.any(ev_cause == cause):
            warn(
                f"no person enters cause {spec.labels.get(cause, cause)!r}'s state(s) {[_v(s) for s in states]} during follow-up; "
                "check the spelling of the event states against the panel's state column."
            )


def _check_followed_after_origin(last: np.ndarray, origin: np.ndarray, persons: pd.DataFrame, person: Any) -> None:
    early = last < origin
    if early.any():
        i = int(np.flatnonzero(early)[0])
        raise DataError(
            f"{int(early.sum())} person(s) have no panel weeks at or after their origin (e.g. person "
            f"{_v(persons[person].to_numpy()[i])!r}: last week {last[i]:g}, origin {origin[i]:g}), which would "
            "give a negative follow-up time. Check the origin weeks, or drop people the register lost before "
            "randomisation."
        )


def _check_all_seen(last: np.ndarray, persons: pd.DataFrame, person: Any) -> None:
    miss = np.isnan(last)
    if miss.any():
        ids = persons[person].to_numpy()[miss]
        raise DataError(
            f"{ids.size} person(s) in persons have no rows in the panel (e.g. {_v(ids[0])!r}); nothing is known "
            "about their follow-up. Drop them from persons or add their register rows."
        )


def gap_times(
    panel: pd.DataFrame | Iterable[pd.DataFrame],
    persons: pd.DataFrame,
    *,
    person: str,
    week: str,
    state: str,
    origin: str,
    events: Mapping[int, Sequence[Any]] | Sequence[Any],
    extract: float | None = None,
    censor: str | None = None,
    after_censoring: str = "error",
    chunk_rows: int = _DEFAULT_CHUNK,
) -> pd.DataFrame:
    """Gap times between recurrent entries into a set of states.

    An episode is a run of consecutive panel rows in event states. Episode
    ``k`` of a person starts at its first week ``e_k``; the gap time is
    ``e_k - x_{k-1}``, with ``x_{k-1}`` the first week after episode
    ``k - 1`` (``x_0`` = origin), and the person is at risk again from
    ``x_{k-1}``. After the last episode the person is censored at the end of
    follow-up (``event = 0``) unless still in an event state then.

    Returns
    -------
    DataFrame
        One row per gap: the ``persons`` columns, ``episode`` (1, 2, ...),
        ``start`` and ``stop`` (weeks since origin), ``time`` (the gap) and
        ``event`` (cause, 0 = censored).

    Examples
    --------
    >>> panel = pd.DataFrame({"id": [1] * 7, "week": range(7),
    ...                       "state": ["a", "job", "a", "a", "job", "a", "a"]})
    >>> persons = pd.DataFrame({"id": [1], "o": [0]})
    >>> gap_times(panel, persons, person="id", week="week", state="state", origin="o",
    ...           events=["job"], extract=6)[["episode", "start", "stop", "time", "event"]]
       episode  start  stop  time  event
    0        1    0.0   1.0   1.0      1
    1        2    2.0   4.0   2.0      1
    2        3    5.0   6.0   1.0      0
    """
    persons, spec, _ = _setup(persons, person, origin, censor, None, extract, events, week, state, after_censoring)
    m = len(persons)
    last = np.full(m, np.nan)
    pieces = []
    for pid, w, cause, entry_rows, exit_rows, run_of_row, lw, _prev in _iterate(
        panel, spec, chunk_rows, recurrent=True
    ):
        last[pid] = lw
        who = run_of_row[entry_rows]  # run (person within the chunk) of each episode
        e_week = w[entry_rows]
        x_week = w[exit_rows] + 1.0  # first week out of the episode
        # previous exit within the same person
        k = np.arange(entry_rows.size)
        first_of_person = np.r_[True, who[1:] != who[:-1]]
        ep_no = k - np.maximum.accumulate(np.where(first_of_person, k, 0)) + 1
        prev_exit = np.where(first_of_person, spec.origin[pid[who]], np.r_[np.nan, x_week[:-1]])
        pieces.append(pd.DataFrame({
            "_row": pid[who], "episode": ep_no, "start": prev_exit, "stop": e_week,
            "event": _labelled(cause[entry_rows], spec.labels),
        }))
        # final censored gap: after the last exit, if that exit is before the end of follow-up
        last_ep = np.r_[who[1:] != who[:-1], True] if who.size else np.zeros(0, dtype=bool)
        end = np.minimum(spec.stop[pid], lw)
        start_final = spec.origin[pid].astype(float)
        n_ep = np.zeros(pid.size, dtype=np.int64)
        if who.size:
            start_final[who[last_ep]] = x_week[last_ep]
            n_ep[who[last_ep]] = ep_no[last_ep]
        keep = start_final < end
        pieces.append(pd.DataFrame({
            "_row": pid[keep], "episode": n_ep[keep] + 1, "start": start_final[keep], "stop": end[keep],
            "event": 0,
        }))
    _check_all_seen(last, persons, person)
    _check_followed_after_origin(last, spec.origin, persons, person)
    ep = pd.concat(pieces, ignore_index=True).sort_values(["_row", "episode"], kind="stable")
    o = spec.origin[ep["_row"].to_numpy()]
    ep["start"] = ep["start"].to_numpy() - o
    ep["stop"] = ep["stop"].to_numpy() - o
    ep["time"] = ep["stop"] - ep["start"]
    base = persons.iloc[ep["_row"].to_numpy()].reset_index(drop=True)
    out = pd.concat([base, ep.drop(columns="_row").reset_index(drop=True)], axis=1)
    return out[list(persons.columns) + ["episode", "start", "stop", "time", "event"]]
