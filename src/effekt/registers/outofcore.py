"""Window indicators and run lengths of a register larger than memory, computed in DuckDB.

:func:`window_indicators_sql` gives the same per-person figures as
:func:`effekt.registers.window_indicators` and
:func:`effekt.registers.run_length`, but reads the register from Parquet
files (or a DuckDB table) and pushes the window arithmetic into DuckDB, an
in-process SQL engine that streams the files and spills to disk under its
``memory_limit``, so the register never sits in Python's memory. Only the
index dates (one row per person) and the result go through pandas.

SQL, for the window ``[start_i, stop_i)`` of each person:

* periods in the state set: ``SUM(state IN S AND start <= period < stop)``
  grouped by person; hours likewise;
* runs (gaps and islands): among a person's rows in ``S`` inside the
  window, ``period - ROW_NUMBER() OVER (PARTITION BY person ORDER BY
  period)`` is constant along a run of consecutive periods; the longest run
  is the largest group, and the run criterion is met at ``first period of
  the run + min_run - 1`` for the earliest run that long.

Periods with no row are "no record", as in the dense panel, so a missing
week breaks a run. The window's start is cut at the register's first
period, as in memory (person-time then shrinks).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from effekt.errors import DataError, DesignError, EffektWarning

__all__ = ["window_indicators_sql"]

_WINDOWS = ("after", "before")


def _ident(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _connect(connection: Any, memory_limit: str | None, threads: int | None) -> Any:
    try:
        import duckdb
    except ImportError:  # pragma: no cover - duckdb is a core dependency
        raise DesignError("the out-of-core path needs duckdb: pip install duckdb") from None
    con = connection if connection is not None else duckdb.connect()
    if memory_limit is not None:
        con.execute(f"SET memory_limit = '{memory_limit}'").fetchall()
    if threads is not None:
        con.execute(f"SET threads = {int(threads)}").fetchall()
    return con


def window_indicators_sql(
    register: Any,
    index: pd.Series,
    *,
    person: str,
    period: str,
    state: str,
    states: Sequence[Any],
    name: str = "state",
    window: str = "after",
    cutoff: int | None = None,
    length: int | None = None,
    hours: str | None = None,
    min_run: int | None = None,
    connection: Any = None,
    memory_limit: str | None = "1GB",
    threads: int | None = None,
) -> pd.DataFrame:
    """Per-person window indicators (and run lengths) computed by DuckDB from Parquet.

    Parameters
    ----------
    register : str, path or list of paths
        Parquet file(s) (globs allowed), one row per person and period with
        integer periods; or the name of a table in ``connection``.
    index : Series
        Index period per person, indexed by person label.
    person, period, state : str
        Columns of the register.
    states : list
        The state set counted.
    name : str, default "state"
        Prefix of the output columns (``<name>_periods`` etc., as in memory).
    window : {"after", "before"}, default "after"
        ``"after"``: ``[index, min(index + length, cutoff + 1))``;
        ``"before"``: the corresponding period of the same length before the index.
    cutoff : int, optional
        Last period with data (default: the register's last period).
    length : int, optional
        Longest follow-up.
    hours : str, optional
        Hours column: adds ``hours_total``, ``hours_ever``, ``mean_hours``.
    min_run : int, optional
        Adds ``longest_run``, ``attained`` and ``attained_period``.
    connection : duckdb connection, optional
        A connection to use (e.g. one holding ``register`` as a table).
    memory_limit : str, default "1GB"
        DuckDB's memory limit; it spills to disk beyond it.
    threads : int, optional
        DuckDB's threads (default: DuckDB's choice).

    Returns
    -------
    DataFrame indexed by person, with the columns of
    :func:`effekt.registers.window_indicators` (and of
    :func:`effekt.registers.run_length` with ``min_run``), in the order of ``index``.

    Raises
    ------
    DataError
        Missing files or columns, persons without register rows, repeated
        person-periods, index dates after the cut-off.
    DesignError
        Bad ``window``, ``length`` or ``min_run``.

    Examples
    --------
    >>> import pandas as pd, tempfile, os
    >>> reg = pd.DataFrame({"pnr": [1] * 6, "week": range(6), "s": list("aabbab")})
    >>> path = os.path.join(tempfile.mkdtemp(), "register.parquet")
    >>> reg.to_parquet(path)
    >>> out = window_indicators_sql(path, pd.Series({1: 2}), person="pnr", period="week", state="s",
    ...                             states=["b"], min_run=2)
    >>> out[["person_time", "state_periods", "longest_run"]].to_dict("records")
    [{'person_time': 4, 'state_periods': 3, 'longest_run': 2}]
    """
    if window not in _WINDOWS:
        raise DesignError(f"window must be one of {_WINDOWS}; got {window!r}.")
    for opt, v in (("length", length), ("min_run", min_run)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1):
            raise DesignError(f"{opt} must be a positive whole number of periods; got {v!r}.")
    if not isinstance(index, pd.Series):
        raise DataError(f"index must be a pandas Series of index periods indexed by person; got {type(index).__name__}.")
    if not pd.api.types.is_integer_dtype(index.dtype):
        raise DataError("index must hold integer period numbers, as the register's period column does; convert "
                        "dates with effekt.registers.week_of (or month_of) first.")
    if cutoff is not None and (isinstance(cutoff, bool) or not isinstance(cutoff, (int, np.integer))):
        raise DesignError(f"cutoff must be an integer period number; got {cutoff!r}.")
    wanted = list(states)
    if not wanted:
        raise DesignError("states is empty; name at least one state.")
    con = _connect(connection, memory_limit, threads)
    if isinstance(register, (str, os.PathLike)) and connection is not None and not str(register).endswith(".parquet"):
        source = _ident(str(register))
    else:
        paths = [str(p) for p in register] if isinstance(register, (list, tuple)) else [str(register)]
        for p in paths:
            if "*" not in p and not os.path.exists(p):
                raise DataError(f"register file {p!r} does not exist.")
        source = "read_parquet([" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "])"
    probe = con.execute(f"SELECT * FROM {source} LIMIT 0")
    have = [c[0] for c in probe.description]
    probe.fetchall()
    for role, c in (("person", person), ("period", period), ("state", state), ("hours", hours)):
        if c is not None and c not in have:
            raise DataError(f"{role} column {c!r}: no such column in the register. It has {have!r}.")
    p_, t_, s_ = _ident(person), _ident(period), _ident(state)
    first, last, rows, distinct = con.execute(
        f"SELECT MIN({t_}), MAX({t_}), COUNT(*), COUNT(DISTINCT ({p_}, {t_})) FROM {source}").fetchall()[0]
    if rows != distinct:
        raise DataError(f"{rows - distinct} rows repeat a person and period already given; a state panel has one "
                        "state per person and period. Deduplicate first.")
    cut = int(last) if cutoff is None else int(cutoff)
    if cut > last:
        raise DesignError(f"cutoff={cutoff!r} is after the register's last period {last}.")
    idx = pd.DataFrame({"person": index.index.to_numpy(), "idx": index.to_numpy().astype(np.int64),
                        "pos": np.arange(len(index))})
    start = idx["idx"].to_numpy()
    if (start > cut).any():
        raise DataError(f"{int((start > cut).sum())} person(s) start follow-up after the cut-off (period {cut}).")
    stop = np.full(len(idx), cut + 1) if length is None else np.minimum(start + length, cut + 1)
    if window == "before":
        start, stop = start - (stop - start), start
    if (start < first).any():
        warnings.warn(f"the {window!r} window of {int((start < first).sum())} person(s) starts before the "
                      f"register's first period {first}; it is cut at that period and its person-time is shorter.",
                      EffektWarning, stacklevel=2)
    idx["start"] = np.maximum(start, first)
    idx["stop"] = stop
    con.register("effekt_index", idx)
    con.register("effekt_states", pd.DataFrame({"s": wanted}))
    try:
        hours_sql = (f", SUM(CASE WHEN inwin THEN COALESCE({_ident(hours)}, 0) ELSE 0 END) AS hours_total"
                     f", BOOL_OR(inwin AND {_ident(hours)} > 0) AS hours_ever") if hours else ""
        missing = con.execute(f"SELECT COUNT(*) FROM effekt_index i ANTI JOIN (SELECT DISTINCT {p_} AS person "
                              f"FROM {source}) r USING (person)").fetchall()[0][0]
        if missing:
            raise DataError(f"index names {missing} person(s) with no rows in the register.")
        base = f"""
            WITH r AS (
                SELECT i.pos, r.{t_} AS t, (r.{s_} IN (SELECT s FROM effekt_states)) AS ins,
                       (r.{t_} >= i.start AND r.{t_} < i.stop) AS inwin{', r.' + _ident(hours) if hours else ''}
                FROM {source} r JOIN effekt_index i ON r.{p_} = i.person
            )
            SELECT pos, SUM(CASE WHEN ins AND inwin THEN 1 ELSE 0 END) AS periods{hours_sql}
            FROM r GROUP BY pos
        """
        counts = con.execute(base).df().set_index("pos").reindex(idx["pos"])
        person_time = np.maximum(idx["stop"].to_numpy() - idx["start"].to_numpy(), 0)
        k = counts["periods"].fillna(0).to_numpy().astype(np.int64)
        with np.errstate(invalid="ignore", divide="ignore"):
            out: dict[str, Any] = {"window": window, "start": idx["start"].to_numpy(), "stop": idx["stop"].to_numpy(),
                                   "person_time": person_time, f"{name}_periods": k, f"{name}_ever": k > 0,
                                   f"{name}_share": np.where(person_time > 0, k / np.maximum(person_time, 1), np.nan)}
            if hours:
                total = counts["hours_total"].fillna(0).to_numpy(float)
                out["hours_total"] = total
                out["hours_ever"] = counts["hours_ever"].fillna(False).to_numpy(bool)
                out["mean_hours"] = np.where(person_time > 0, total / np.maximum(person_time, 1), np.nan)
        if min_run is not None:
            runs = con.execute(f"""
                WITH w AS (
                    SELECT i.pos, r.{t_} AS t FROM {source} r JOIN effekt_index i ON r.{p_} = i.person
                    WHERE r.{s_} IN (SELECT s FROM effekt_states) AND r.{t_} >= i.start AND r.{t_} < i.stop
                ), isl AS (
                    SELECT pos, t, t - ROW_NUMBER() OVER (PARTITION BY pos ORDER BY t) AS grp FROM w
                ), runs AS (
                    SELECT pos, COUNT(*) AS len, MIN(t) AS first_t FROM isl GROUP BY pos, grp
                )
                SELECT pos, MAX(len) AS longest_run,
                       MIN(CASE WHEN len >= {int(min_run)} THEN first_t + {int(min_run) - 1} END) AS attained_period
                FROM runs GROUP BY pos
            """).df().set_index("pos").reindex(idx["pos"])
            out["longest_run"] = runs["longest_run"].fillna(0).to_numpy().astype(np.int64)
            out["attained"] = runs["attained_period"].notna().to_numpy()
            out["attained_period"] = pd.array(runs["attained_period"].to_numpy(), dtype="Int64")
    finally:
        con.unregister("effekt_index")
        con.unregister("effekt_states")
    return pd.DataFrame(out, index=pd.Index(index.index, name=person))
