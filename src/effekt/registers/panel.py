"""Weekly state panels: person x period states, index dates, before/after windows, indicators.

A register such as DREAM gives one state code per person and week (the
benefit or activation the person was on), and eIndkomst gives hours per
month. :class:`StatePanel` holds such a register as a dense person x period
matrix of state codes (``-1`` where the person has no record), with an
optional matrix of hours. Periods are integers: week numbers (``freq="W"``)
or month numbers (``freq="M"``); dates are converted with :func:`week_of` /
:func:`month_of`.

A :class:`Window` gives every person a half-open interval of periods
``[start, stop)``:

* :func:`follow_up` -- after the index date, ``[index + offset,
  min(index + offset + length, cutoff + 1))``: the index period is the first
  week of follow-up, and a common data cut-off with staggered entry gives
  each person their own follow-up length;
* :func:`look_back` -- before the index date: a fixed look-back
  ``[index - length, index)``, from a calendar date ``[since, index)``, a
  calendar window ``[since, until + 1)`` shared by everyone, or the
  *corresponding period* ``[index - L_i, index)`` with ``L_i`` the length of
  person ``i``'s follow-up window (``matching=``).

:func:`window_indicators` turns a panel and a window into one row per person:
person-time ``T_i = stop_i - start_i`` (periods the window covers), periods in
each set of states ``W_i``, ``ever_i = W_i > 0``, ``share_i = W_i / T_i``,
total hours and mean hours per period ``H_i / T_i`` (periods with no hours
record count as 0 hours). :func:`summarise_windows` aggregates by group:
persons, person-time, ever (count and %), the mean of the persons' shares and
the pooled share ``sum W_i / sum T_i`` (weeks in state per person-week, the
figure that compares windows of unequal length fairly).

All arithmetic is on numpy arrays: a window count is the difference of two
cumulative sums along the period axis, ``C[i, stop_i] - C[i, start_i]``, so
no Python loop runs over persons.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from effekt.data import as_frame, label
from effekt.errors import DataError, DesignError, EffektWarning

__all__ = [
    "StatePanel",
    "Window",
    "follow_up",
    "look_back",
    "month_of",
    "follow_up_bounds",
    "summarise_windows",
    "week_of",
    "window_indicators",
    "window_rows",
]

_MONDAY = np.datetime64("1970-01-05", "D")  # week 0 starts on this Monday


def week_of(dates: Any) -> Any:
    """Week number of a date: whole weeks since Monday 5 January 1970.

    ``week = floor((date - 1970-01-05) / 7 days)``, so every week runs Monday
    to Sunday and consecutive weeks differ by 1 across years (ISO weeks
    restart at 1 each year and cannot be subtracted).

    >>> int(week_of("2018-03-26")) - int(week_of("2018-03-19"))
    1
    """
    d = np.asarray(pd.to_datetime(dates), dtype="datetime64[D]")
    out = np.floor_divide((d - _MONDAY).astype(np.int64), 7)
    return out if out.ndim else int(out)


def month_of(dates: Any) -> Any:
    """Month number of a date: ``12 * (year - 1970) + month - 1``.

    >>> int(month_of("2018-03-31")) - int(month_of("2017-08-01"))
    7
    """
    d = np.asarray(pd.to_datetime(dates), dtype="datetime64[M]")
    out = d.astype(np.int64)
    return out if out.ndim else int(out)


def _periods(values: Any, name: str, freq: str) -> np.ndarray:
    """Integer periods from integers or dates; DataError naming ``name`` otherwise."""
    series = pd.Series(values) if not isinstance(values, pd.Series) else values
    if series.isna().any():
        raise DataError(f"{name} has {int(series.isna().sum())} missing values; every row needs a period.")
    if pd.api.types.is_datetime64_any_dtype(series):
        return np.asarray(week_of(series) if freq == "W" else month_of(series), dtype=np.int64)
    if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
        raise DataError(f"{name} must hold integer period numbers or dates; got {series.dtype}.")
    arr = series.to_numpy()
    if not np.all(np.mod(arr, 1) == 0):
        raise DataError(f"{name} must hold whole period numbers; got e.g. {arr[np.mod(arr, 1) != 0][0]!r}.")
    return arr.astype(np.int64)


def _factorize_sorted(series: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Codes and sorted labels; sorts the few labels, not the rows (pandas' sort=True sorts every row)."""
    codes, labels = pd.factorize(series, sort=False)
    try:
        order = np.argsort(np.asarray(labels), kind="stable")
    except TypeError:  # labels of mixed types: keep the order of appearance
        return codes, pd.Index(labels)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[codes], pd.Index(labels).take(order)


def _scalar_period(value: Any, name: str, freq: str) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise DesignError(f"{name} must be a period number or a date; got {value!r}.")
    if isinstance(value, (int, np.integer)):
        return int(value)
    try:
        return int(week_of(value) if freq == "W" else month_of(value))
    except (TypeError, ValueError):
        raise DesignError(f"{name} must be a period number or a date; got {value!r}.") from None


@dataclass(frozen=True)
class StatePanel:
    """A register as a dense person x period matrix of state codes.

    Build it with :meth:`from_long`. ``codes[i, t]`` is the position of
    person ``i``'s state in period ``first + t`` within ``states`` (``-1``: no
    record); ``hours`` (optional) holds the hours of each cell, NaN where
    there is none.

    Attributes
    ----------
    persons : Index
        Person labels, in the order of the rows.
    first : int
        The first period of the matrix; the last is ``first + codes.shape[1] - 1``.
    codes : ndarray of int16, persons x periods
    states : tuple
        State labels, sorted.
    hours : ndarray of float, persons x periods, or None
    freq : {"W", "M"}
        Weeks or months.
    """

    persons: pd.Index
    first: int
    codes: np.ndarray = field(repr=False)
    states: tuple[Any, ...]
    hours: np.ndarray | None = field(default=None, repr=False)
    freq: str = "W"

    @classmethod
    def from_long(
        cls,
        data: Any,
        *,
        person: str,
        period: str,
        state: str | None = None,
        hours: str | None = None,
        freq: str = "W",
        states: Sequence[Any] | None = None,
    ) -> StatePanel:
        """A panel from one row per person and period.

        Parameters
        ----------
        data : DataFrame (pandas or polars), or the path of a Parquet file
            One row per person and period; periods without a row are "no
            record". A Parquet file is read for the named columns only (for a
            register larger than memory see :mod:`effekt.registers.outofcore`).
        person : str
            Person column.
        period : str
            Period column: integer week (or month) numbers, or dates (converted
            with :func:`week_of` or :func:`month_of`).
        state : str, optional
            State code column (any labels: numbers or text). Omit it for a
            panel of hours only (e.g. monthly hours from eIndkomst): every
            row is then the state ``"record"``.
        hours : str, optional
            Hours in the period (e.g. ordinary hours).
        freq : {"W", "M"}, default "W"
            Weeks or months; used to convert dates.
        states : list, optional
            Every state code the register can hold (default: those in the
            data, sorted). Declaring them lets a window name a state no one
            happens to hold in this extract, and refuses codes outside the list.

        Raises
        ------
        DataError
            A missing column, missing values in ``person``, ``period`` or
            ``state``, non-integer periods, two rows for one person and period,
            negative hours.

        Examples
        --------
        >>> import pandas as pd
        >>> df = pd.DataFrame({"pnr": [1, 1, 2], "week": [10, 11, 11], "ydelse": ["ba", "kh", "kh"]})
        >>> p = StatePanel.from_long(df, person="pnr", period="week", state="ydelse")
        >>> p.codes.tolist(), p.states
        ([[0, 1], [-1, 1]], ('ba', 'kh'))
        """
        if freq not in ("W", "M"):
            raise DesignError(f"freq must be 'W' (weeks) or 'M' (months); got {freq!r}.")
        if state is None and hours is None:
            raise DesignError("give state= (a state column), hours= (an hours column) or both.")
        if isinstance(data, (str, os.PathLike)):
            wanted = [c for c in (person, period, state, hours) if c is not None]
            try:
                frame = pd.read_parquet(data, columns=wanted)
            except (FileNotFoundError, OSError) as exc:
                raise DataError(f"cannot read the Parquet file {str(data)!r}: {exc}") from None
            except (KeyError, ValueError) as exc:
                raise DataError(f"the Parquet file {str(data)!r} lacks a column of {wanted!r}: {exc}") from None
        else:
            frame = as_frame(data)
            if state is None:
                frame = frame.assign(__state__="record")
        if state is None:
            if "__state__" not in frame.columns:
                frame = frame.assign(__state__="record")
            state = "__state__"
        for role, name in (("person", person), ("period", period), ("state", state), ("hours", hours)):
            if name is not None and name not in frame.columns:
                raise DataError(f"{role} column {name!r}: no such column. The data have "
                                f"{', '.join(map(repr, list(frame.columns)[:20]))}.")
        for role, name in (("person", person), ("state", state)):
            miss = int(frame[name].isna().sum())
            if miss:
                raise DataError(f"{role} column {name!r} has {miss} missing values; drop those rows or give "
                                "missing states their own code.")
        weeks = _periods(frame[period], f"period column {period!r}", freq)
        pcode, persons = _factorize_sorted(frame[person])
        state_col = frame[state]
        if states is None:
            scode, state_labels = _factorize_sorted(state_col)
        else:
            state_labels = pd.Index(list(states))
            if state_labels.has_duplicates:
                raise DesignError(f"states= repeats codes: {list(state_labels[state_labels.duplicated()])!r}.")
            if isinstance(state_col.dtype, pd.CategoricalDtype):
                # map the few categories, then take: no per-row label lookup
                lookup = state_labels.get_indexer(state_col.cat.categories)
                cat_codes = state_col.cat.codes.to_numpy()
                scode = np.where(cat_codes >= 0, lookup[cat_codes], -1)
            else:
                scode = state_labels.get_indexer(state_col)
            if (scode < 0).any():
                odd = pd.unique(state_col[scode < 0])[:5]
                raise DataError(f"state column {state!r} holds codes not in states=: {list(odd)!r} "
                                f"({int((scode < 0).sum())} rows); add them to states= or recode them.")
        if len(state_labels) > np.iinfo(np.int16).max:
            raise DataError(f"state column {state!r} has {len(state_labels)} distinct codes; at most 32767 are supported.")
        first = int(weeks.min()) if len(weeks) else 0
        n_t = int(weeks.max()) - first + 1 if len(weeks) else 0
        n = len(persons)
        flat_index = pcode.astype(np.int64) * n_t + (weeks - first)
        codes = np.full(n * n_t, -1, dtype=np.int16)
        codes[flat_index] = scode
        filled = int(np.count_nonzero(codes >= 0))
        if filled < len(frame):
            dup = frame.duplicated([person, period], keep=False).to_numpy()
            example = frame.loc[dup, [person, period]].iloc[0]
            raise DataError(
                f"{len(frame) - filled} rows repeat a person and period already given, e.g. {person}="
                f"{label(example[person])}, {period}={label(example[period])}; a state panel has one state per person "
                "and period. Deduplicate first (effekt.registers.deduplicate for spells)."
            )
        hours_matrix: np.ndarray | None = None
        if hours is not None:
            if not pd.api.types.is_numeric_dtype(frame[hours]) or pd.api.types.is_bool_dtype(frame[hours]):
                raise DataError(f"hours column {hours!r} must hold numbers; got {frame[hours].dtype}.")
            h = frame[hours].to_numpy(dtype=float, na_value=np.nan)
            if (h < 0).any():
                raise DataError(f"hours column {hours!r} has {int((h < 0).sum())} negative values.")
            flat_hours = np.full(n * n_t, np.nan)
            flat_hours[flat_index] = h
            hours_matrix = flat_hours.reshape(n, n_t)
        return cls(pd.Index(persons, name=person), first, codes.reshape(n, n_t), tuple(state_labels.tolist()),
                   hours_matrix, freq)

    @property
    def last(self) -> int:
        """The last period of the matrix."""
        return self.first + self.codes.shape[1] - 1

    def state_codes(self, states: Sequence[Any], name: str = "states") -> np.ndarray:
        """Positions of ``states`` in :attr:`states`; DesignError naming unknown ones."""
        states = [states] if isinstance(states, (str, int)) else list(states)
        if not states:
            raise DesignError(f"{name} is empty; name at least one state.")
        lookup = {s: i for i, s in enumerate(self.states)}
        unknown = [s for s in states if s not in lookup]
        if unknown:
            raise DesignError(f"{name} names states the panel does not have: {unknown!r}; it has "
                              f"{list(self.states)[:30]!r}.")
        return np.array([lookup[s] for s in states], dtype=np.int16)

    def in_states(self, states: Sequence[Any], rows: np.ndarray | None = None) -> np.ndarray:
        """Boolean persons x periods matrix: the cell's state is one of ``states``."""
        wanted = np.zeros(len(self.states) + 1, dtype=bool)  # last slot: -1 (no record)
        wanted[self.state_codes(states)] = True
        codes = self.codes if rows is None else self.codes[rows]
        return wanted[codes]

    def rows_of(self, persons: Any, name: str = "index") -> np.ndarray:
        """Row positions of ``persons``; DataError naming persons the panel lacks."""
        pos = self.persons.get_indexer(pd.Index(persons))
        if (pos < 0).any():
            missing = pd.Index(persons)[pos < 0]
            raise DataError(f"{name} names {len(missing)} person(s) with no rows in the panel, e.g. "
                            f"{list(missing[:5])!r}; give them register rows or drop them.")
        return pos.astype(np.int64)


@dataclass(frozen=True)
class Window:
    """Each person's window of periods ``[start, stop)``.

    ``persons`` are the persons with an index date (in the order given),
    ``rows`` their rows in the panel, ``index`` their index periods,
    ``start``/``stop`` the window's bounds and ``label`` its name ("after",
    "before", ...). ``length = stop - start`` is the person-time.
    """

    label: str
    persons: pd.Index
    rows: np.ndarray = field(repr=False)
    index: np.ndarray = field(repr=False)
    start: np.ndarray = field(repr=False)
    stop: np.ndarray = field(repr=False)
    rule: str = ""

    def __post_init__(self) -> None:
        for name in ("rows", "index", "start", "stop"):
            arr = np.array(getattr(self, name), dtype=np.int64)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    @property
    def length(self) -> np.ndarray:
        """Periods in each person's window (``stop - start``, never negative)."""
        return np.maximum(self.stop - self.start, 0)

    def to_months(self, *, overlap: str = "first_day") -> Window:
        """The same window on month numbers, for a monthly panel (hours from eIndkomst).

        A weekly window ``[start, stop)`` covers the months from that of
        week ``start`` to that of week ``stop - 1``; a week belongs to the
        month of its Monday (``overlap="first_day"``, so week 13 of 2018,
        26 March - 1 April, is March) or to every month it touches
        (``"any_day"``). Index weeks map to the month of their Monday.

        >>> w = Window("after", pd.Index([1]), [0], [int(week_of("2018-01-01"))], [int(week_of("2018-01-01"))],
        ...            [int(week_of("2018-03-26")) + 1])
        >>> m = w.to_months()
        >>> int(m.stop[0] - m.start[0]), int(m.start[0]) == month_of("2018-01-01")
        (3, True)
        """
        if overlap not in ("first_day", "any_day"):
            raise DesignError(f"overlap must be 'first_day' or 'any_day'; got {overlap!r}.")

        def month(weeks: np.ndarray, day: int = 0) -> np.ndarray:
            dates = _MONDAY + (weeks * 7 + day).astype("timedelta64[D]")
            return np.asarray(dates.astype("datetime64[M]").astype(np.int64))

        start = month(self.start)
        last = month(self.stop - 1, 6 if overlap == "any_day" else 0)
        stop = np.where(self.stop > self.start, last + 1, start)
        return Window(self.label, self.persons, self.rows, month(self.index), start, stop,
                      f"{self.rule} in months ({overlap})")

    def tidy(self) -> pd.DataFrame:
        """One row per person: index, start, stop (exclusive) and length."""
        return pd.DataFrame({"index": self.index, "start": self.start, "stop": self.stop, "length": self.length},
                            index=self.persons)


def _index_periods(panel: StatePanel, index: Any) -> tuple[pd.Index, np.ndarray, np.ndarray]:
    if isinstance(index, Mapping) and not isinstance(index, pd.Series):
        index = pd.Series(dict(index))
    if not isinstance(index, pd.Series):
        raise DataError("index must be a pandas Series of index periods (or dates) indexed by person, "
                        f"e.g. persons.set_index('pnr')['visit_week']; got {type(index).__name__}.")
    if index.index.has_duplicates:
        dup = index.index[index.index.duplicated()][:5]
        raise DataError(f"index gives several index dates for the same person, e.g. {list(dup)!r}; one per person.")
    name = f"index {index.name!r}" if index.name is not None else "index"
    periods = _periods(index, name, panel.freq)
    rows = panel.rows_of(index.index, name)
    return pd.Index(index.index, name=panel.persons.name), periods, rows


def _warn_clipped(panel: StatePanel, start: np.ndarray, label: str) -> np.ndarray:
    early = start < panel.first
    if early.any():
        warnings.warn(
            f"the {label!r} window of {int(early.sum())} person(s) starts before the panel's first period "
            f"{panel.first}; it is cut at that period and its person-time is shorter.",
            EffektWarning, stacklevel=3)
    return np.maximum(start, panel.first)


def follow_up_bounds(
    index: Any,
    *,
    cutoff: float | None = None,
    length: int | None = None,
    offset: int = 0,
    end: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The follow-up windows ``[start, stop)`` of :func:`follow_up`, from arrays alone.

    ``start_i = index_i + offset`` and ``stop_i = min(start_i + length,
    cutoff + 1, end_i + 1)``, each bound left out when not given (``end_i``
    NaN: the person follows the common cut-off). A period ``t`` is in
    person ``i``'s window when ``start_i <= t < stop_i``; an empty window has
    ``stop_i <= start_i``. No panel is needed, so a register read in chunks
    (the survival plugin's ``first_entry`` and ``gap_times``) uses the same
    windows as :func:`follow_up`; the callers check their own inputs.

    Returns
    -------
    start, stop : float arrays (``stop`` is ``inf`` where no bound applies)

    Examples
    --------
    >>> start, stop = follow_up_bounds([10, 10], cutoff=12, offset=1, end=[float("nan"), 11])
    >>> start.tolist(), stop.tolist()
    ([11.0, 11.0], [13.0, 12.0])
    """
    start = np.asarray(index, dtype=float) + offset
    stop = np.full(start.shape, np.inf)
    if cutoff is not None:
        stop = np.minimum(stop, float(cutoff) + 1)
    if length is not None:
        stop = np.minimum(stop, start + length)
    if end is not None:
        own = np.asarray(end, dtype=float)
        stop = np.where(np.isnan(own), stop, np.minimum(stop, own + 1))
    return start, stop


def follow_up(
    panel: StatePanel,
    index: Any,
    *,
    cutoff: Any = None,
    length: int | None = None,
    offset: int = 0,
    end: Any = None,
    label: str = "after",
) -> Window:
    """Follow-up window after each person's index date, up to a common cut-off.

    ``start_i = index_i + offset``, ``stop_i = min(start_i + length,
    cutoff + 1)``: the index period is the first period of follow-up
    (``offset=1`` starts the week after), and the cut-off period is the last
    one observed. With staggered entry (index dates that differ) and one
    data cut-off, follow-up lengths differ; :func:`window_indicators` reports
    each person's person-time.

    Parameters
    ----------
    panel : StatePanel
    index : Series
        Index period (or date) per person, indexed by person label.
    cutoff : int or date, optional
        Last period with data (default: the panel's last period), e.g.
        week 13 of 2018 in Flere skal med.
    length : int, optional
        Longest follow-up in periods (default: up to the cut-off).
    offset : int, default 0
        Periods between the index and the first period of follow-up
        (``offset=1``: the event is the first week after the origin, as in
        the survival plugin's ``first_entry``).
    end : Series, optional
        A person's own last period of follow-up (emigration, death, another
        register's end), indexed by person; follow-up stops at
        ``min(cutoff, end_i)``. Persons not in it follow the common cut-off.
    label : str, default "after"

    Raises
    ------
    DataError
        Index persons without panel rows, index dates after the cut-off.
    DesignError
        A non-positive ``length`` or a cut-off beyond the panel.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"pnr": [1] * 6, "week": range(6), "s": list("aabbab")})
    >>> p = StatePanel.from_long(df, person="pnr", period="week", state="s")
    >>> w = follow_up(p, pd.Series({1: 2}), cutoff=4)
    >>> int(w.start[0]), int(w.stop[0])
    (2, 5)
    """
    persons, idx, rows = _index_periods(panel, index)
    cut = panel.last if cutoff is None else _scalar_period(cutoff, "cutoff", panel.freq)
    if cut > panel.last:
        raise DesignError(f"cutoff={cutoff!r} (period {cut}) is after the panel's last period {panel.last}; "
                          "periods after it have no data. Use the last period with data.")
    if length is not None and (isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1):
        raise DesignError(f"length must be a positive whole number of periods; got {length!r}.")
    if isinstance(offset, bool) or not isinstance(offset, (int, np.integer)) or offset < 0:
        raise DesignError(f"offset must be a whole number of periods >= 0; got {offset!r}.")
    start = idx + offset
    late = start > cut
    if late.any():
        raise DataError(f"{int(late.sum())} person(s) start follow-up after the cut-off (period {cut}), e.g. "
                        f"{list(persons[late][:5])!r}; they have no follow-up. Drop them or move the cut-off.")
    last = None
    if end is not None:
        if not isinstance(end, pd.Series):
            raise DataError(f"end must be a pandas Series of last periods indexed by person; got {type(end).__name__}.")
        own = end.reindex(persons)
        given = own.notna().to_numpy()
        last = np.full(len(persons), np.nan)
        if given.any():
            last[given] = _periods(own[given], "end", panel.freq)
        early = given & (last < start)
        if early.any():
            raise DataError(f"{int(early.sum())} person(s) end follow-up (end=) before it starts, e.g. "
                            f"{list(persons[early][:5])!r}.")
    _, stop_f = follow_up_bounds(idx, cutoff=cut, length=length, offset=offset, end=last)
    stop = stop_f.astype(np.int64)
    start = _warn_clipped(panel, start, label)
    rule = (f"[index + {offset}, " + (f"min(index + {offset + length}, " if length else "")
            + (f"min(end, cutoff {cut}) + 1)" if end is not None else f"cutoff {cut} + 1)") + (")" if length else ""))
    return Window(label, persons, rows, idx, start, stop, rule)


def look_back(
    panel: StatePanel,
    index: Any = None,
    *,
    length: int | None = None,
    since: Any = None,
    until: Any = None,
    matching: Window | None = None,
    label: str = "before",
) -> Window:
    """Window before the index date: fixed look-back, calendar, or corresponding period.

    Exactly one of:

    * ``length=L``: ``[index - L, index)``, e.g. one year before (52 weeks);
    * ``since=d``: ``[d, index)``, from a calendar date to the index;
    * ``since=d, until=e``: ``[d, e + 1)`` for everyone, a historical baseline
      such as June 2015 - June 2017 in Flere skal med;
    * ``matching=w``: the *corresponding period* ``[index - L_i, index)`` with
      ``L_i`` the length of person ``i``'s window ``w`` (e.g. their follow-up),
      so before and after cover the same number of periods per person.

    Parameters
    ----------
    panel : StatePanel
    index : Series, optional
        Index period per person (not needed with ``matching=``, which carries it).
    length, since, until, matching : see above
    label : str, default "before"

    Raises
    ------
    DesignError
        None or several of the choices, ``until`` without ``since``, ``since``
        after ``until``.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"pnr": [1] * 10, "week": range(10), "s": ["a"] * 10})
    >>> p = StatePanel.from_long(df, person="pnr", period="week", state="s")
    >>> after = follow_up(p, pd.Series({1: 7}))          # weeks 7, 8, 9
    >>> before = look_back(p, matching=after)            # weeks 4, 5, 6
    >>> int(before.start[0]), int(before.stop[0])
    (4, 7)
    """
    chosen = [n for n, v in (("length", length), ("since", since), ("matching", matching)) if v is not None]
    if len(chosen) != 1:
        raise DesignError("look_back takes exactly one of length= (fixed look-back), since= (from a calendar "
                          f"date, with until= a calendar window) and matching= (corresponding period); got {chosen or 'none'}.")
    if until is not None and since is None:
        raise DesignError("until= needs since=: a calendar window is since= to until=.")
    if matching is not None:
        if not isinstance(matching, Window):
            raise DesignError(f"matching must be a Window (e.g. the follow_up window); got {type(matching).__name__}.")
        if index is not None:
            raise DesignError("with matching= the index dates come from the matched window; drop index=.")
        idx, persons, rows = matching.index, matching.persons, matching.rows
        start, stop = idx - matching.length, idx.copy()
        rule = f"[index - length of {matching.label!r}, index)"
    else:
        if index is None:
            raise DesignError("look_back needs index= (index period per person) unless matching= is given.")
        persons, idx, rows = _index_periods(panel, index)
        if length is not None:
            if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
                raise DesignError(f"length must be a positive whole number of periods; got {length!r}.")
            start, stop = idx - length, idx.copy()
            rule = f"[index - {length}, index)"
        else:
            first = _scalar_period(since, "since", panel.freq)
            if until is None:
                start, stop = np.full_like(idx, first), idx.copy()
                rule = f"[{first}, index)"
            else:
                last = _scalar_period(until, "until", panel.freq)
                if last < first:
                    raise DesignError(f"since={since!r} is after until={until!r}.")
                start, stop = np.full_like(idx, first), np.full_like(idx, last + 1)
                rule = f"[{first}, {last} + 1)"
    if (stop > panel.last + 1).any():
        raise DataError(f"the {label!r} window of {int((stop > panel.last + 1).sum())} person(s) ends after the "
                        f"panel's last period {panel.last}.")
    start = _warn_clipped(panel, start, label)
    return Window(label, persons, rows, idx, start, stop, rule)


def window_rows(panel: StatePanel, window: Window) -> np.ndarray:
    """The panel rows of the window's persons (a window made on another panel is matched by person)."""
    rows = window.rows
    if len(rows) and rows.max() < len(panel.persons) and panel.persons[rows].equals(window.persons):
        return rows
    return panel.rows_of(window.persons, f"the {window.label!r} window")


def _window_counts(matrix: np.ndarray, start_col: np.ndarray, stop_col: np.ndarray) -> np.ndarray:
    """Sum of ``matrix[i, start_i:stop_i]`` for every row, through cumulative sums."""
    n, t = matrix.shape
    csum = np.zeros((n, t + 1), dtype=np.float64 if matrix.dtype.kind == "f" else np.int32)
    np.cumsum(matrix, axis=1, out=csum[:, 1:])
    r = np.arange(n)
    return csum[r, stop_col] - csum[r, start_col]  # type: ignore[no-any-return]


def _state_sets(states: Any) -> dict[str, list[Any]]:
    if isinstance(states, Mapping):
        sets = {str(k): ([v] if isinstance(v, (str, int)) else list(v)) for k, v in states.items()}
    else:
        sets = {"state": [states] if isinstance(states, (str, int)) else list(states)}
    if not sets:
        raise DesignError("states is empty; name a set of states, e.g. {'ba': ['praktik', 'loentilskud']}.")
    return sets


def window_indicators(panel: StatePanel, window: Window, states: Any = None, *,
                      hours: bool | None = None) -> pd.DataFrame:
    """One row per person: person-time, periods in each set of states, ever, share, hours.

    For person ``i`` and state set ``S``: ``T_i = stop_i - start_i``,
    ``W_i(S) = #{t in [start_i, stop_i): state_it in S}``, ``ever = W > 0``,
    ``share = W / T`` (NaN when ``T = 0``). With hours: ``hours_total``,
    ``hours_ever`` (any period with hours > 0, the "berørte" definition of
    Flere skal med: at least one month with ordinary hours > 0) and
    ``mean_hours = hours_total / T`` (periods without an hours record count 0).

    Parameters
    ----------
    panel : StatePanel
    window : Window
    states : list or dict of name -> list, optional
        States counted; a dict gives several sets (columns ``<name>_periods``,
        ``<name>_ever``, ``<name>_share``); a list is the set ``"state"``.
        Omit for hours only.
    hours : bool, optional
        Add the hours columns (default: when the panel has hours).

    Returns
    -------
    DataFrame indexed by person: ``window``, ``start``, ``stop``,
    ``person_time`` and the columns above.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"pnr": [1] * 6 + [2] * 6, "week": list(range(6)) * 2,
    ...                    "s": list("aabbab") + list("bbbbbb")})
    >>> p = StatePanel.from_long(df, person="pnr", period="week", state="s")
    >>> w = follow_up(p, pd.Series({1: 2, 2: 0}), cutoff=5)
    >>> ind = window_indicators(p, w, ["a"]).reset_index()
    >>> print(ind[["pnr", "person_time", "state_periods", "state_share"]].to_string(index=False))
     pnr  person_time  state_periods  state_share
       1            4              1         0.25
       2            6              0         0.00
    """
    if not isinstance(window, Window):
        raise DesignError(f"window must be a Window (from follow_up or look_back); got {type(window).__name__}.")
    sets = {} if states is None else _state_sets(states)
    outside = (window.start < panel.first) | (window.stop > panel.last + 1)
    if outside.any():
        warnings.warn(f"the {window.label!r} window of {int(outside.sum())} person(s) reaches outside this panel's "
                      f"periods {panel.first}-{panel.last}; it is cut to them and its person-time is shorter.",
                      EffektWarning, stacklevel=2)
    s_col = np.clip(window.start - panel.first, 0, panel.codes.shape[1])
    e_col = np.clip(window.stop - panel.first, 0, panel.codes.shape[1])
    e_col = np.maximum(e_col, s_col)
    person_time = e_col - s_col
    out: dict[str, Any] = {"window": window.label, "start": window.start, "stop": window.stop,
                           "person_time": person_time}
    rows = window_rows(panel, window)
    codes = panel.codes[rows]
    with np.errstate(invalid="ignore", divide="ignore"):
        for name, wanted in sets.items():
            lookup = np.zeros(len(panel.states) + 1, dtype=np.int8)
            lookup[panel.state_codes(wanted, f"states[{name!r}]")] = 1
            count = _window_counts(lookup[codes], s_col, e_col)
            out[f"{name}_periods"] = count.astype(np.int64)
            out[f"{name}_ever"] = count > 0
            out[f"{name}_share"] = np.where(person_time > 0, count / np.maximum(person_time, 1), np.nan)
        use_hours = panel.hours is not None if hours is None else hours
        if use_hours:
            if panel.hours is None:
                raise DesignError("hours=True, but the panel has no hours; build it with hours= the hours column.")
            h = np.nan_to_num(panel.hours[rows], nan=0.0)
            total = _window_counts(h, s_col, e_col)
            out["hours_total"] = total
            out["hours_ever"] = _window_counts((h > 0).astype(np.int8), s_col, e_col) > 0
            out["mean_hours"] = np.where(person_time > 0, total / np.maximum(person_time, 1), np.nan)
    return pd.DataFrame(out, index=window.persons)


def summarise_windows(indicators: pd.DataFrame | Sequence[pd.DataFrame], *, by: Any = None) -> pd.DataFrame:
    """Per window, group and state set: persons, person-time, ever, mean and pooled shares.

    ``ever_pct = 100 * #{ever} / persons``; ``mean_share`` is the mean of the
    persons' shares (each person counts once, as in "mean share of weeks in
    activation" of the CTI evaluation); ``pooled_share = sum W_i / sum T_i``
    (periods in state per person-period), which compares windows of unequal
    length fairly. With hours: ``mean_hours = sum H_i / sum T_i`` and
    ``hours_ever_pct``.

    Parameters
    ----------
    indicators : DataFrame or list of DataFrames
        Outputs of :func:`window_indicators` (several windows stack).
    by : str or Series, optional
        Group: a column of ``indicators`` or a Series indexed by person.

    Returns
    -------
    DataFrame with one row per window, group and state set.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"pnr": [1] * 6 + [2] * 6, "week": list(range(6)) * 2,
    ...                    "s": list("aabbab") + list("bbbbbb")})
    >>> p = StatePanel.from_long(df, person="pnr", period="week", state="s")
    >>> w = follow_up(p, pd.Series({1: 2, 2: 0}), cutoff=5)
    >>> s = summarise_windows(window_indicators(p, w, ["a"]))
    >>> print(s[["persons", "person_time", "ever_pct", "mean_share", "pooled_share"]].round(3).to_string())
       persons  person_time  ever_pct  mean_share  pooled_share
    0        2           10      50.0       0.125           0.1
    """
    frames = [indicators] if isinstance(indicators, pd.DataFrame) else list(indicators)
    frame = pd.concat(frames)
    if "person_time" not in frame.columns or "window" not in frame.columns:
        raise DataError("indicators must come from window_indicators (columns 'window' and 'person_time').")
    if by is None:
        group = pd.Series("all", index=frame.index)
        by_name = "group"
    elif isinstance(by, str):
        if by not in frame.columns:
            raise DataError(f"by column {by!r}: no such column in the indicators; pass a Series indexed by person.")
        group, by_name = frame[by], by
    else:
        group = pd.Series(by).reindex(frame.index)
        by_name = getattr(by, "name", None) or "group"
        if group.isna().any():
            raise DataError(f"by has no group for {int(group.isna().sum())} person(s) of the indicators.")
    sets = [c[: -len("_periods")] for c in frame.columns if c.endswith("_periods")]
    work = frame.assign(__group__=group.to_numpy())
    grouped = work.groupby(["window", "__group__"], sort=False)
    rows = []
    base = grouped.agg(persons=("person_time", "size"), person_time=("person_time", "sum"))
    for name in sets:
        agg = grouped.agg(ever=(f"{name}_ever", "sum"), periods=(f"{name}_periods", "sum"),
                          mean_share=(f"{name}_share", "mean"))
        part = base.join(agg)
        part.insert(0, "states", name)
        part["ever_pct"] = 100 * part["ever"] / part["persons"]
        part["pooled_share"] = part["periods"] / part["person_time"]
        if "hours_total" in work.columns:
            h = grouped.agg(hours_total=("hours_total", "sum"), hours_ever=("hours_ever", "sum"))
            part["mean_hours"] = h["hours_total"] / part["person_time"]
            part["hours_ever_pct"] = 100 * h["hours_ever"] / part["persons"]
        rows.append(part)
    out = pd.concat(rows).reset_index().rename(columns={"__group__": by_name})
    cols = ["window", by_name, "states", "persons", "person_time", "ever", "ever_pct", "periods", "mean_share",
            "pooled_share"] + [c for c in ("mean_hours", "hours_ever_pct") if c in out.columns]
    out = out[cols]
    if by is None:
        out = out.drop(columns=[by_name])
    return out.reset_index(drop=True)
