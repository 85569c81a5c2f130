"""Reading a study's data: CSV, Parquet, an embedded DuckDB file, or SQL through SQLAlchemy.

Every source gives the same DataFrame for the same data: whole-number
columns as int64, real numbers as float64, text as Python strings, rows in
the order of the identifier column when the design names one. So the same
study gives the same ``results.json`` from each of them.
"""

from __future__ import annotations

import importlib.util
import os
from typing import TYPE_CHECKING

import numpy as np

from effekt.errors import DataError
from effekt.study.spec import DataSource

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["read_source", "normalise"]


def read_source(source: DataSource) -> pd.DataFrame:
    """The data of ``source`` as a DataFrame (not yet sorted; see :func:`normalise`).

    Raises
    ------
    DataError
        A missing file, a file that cannot be read as the format given (a
        Danish CSV export read with the default separator is named, with the
        option to set), a database that cannot be reached, a query that fails.
    """
    reader = {"csv": _csv, "parquet": _parquet, "duckdb": _duckdb, "sql": _sql}[source.format]
    return reader(source)


def _exists(source: DataSource) -> None:
    assert source.path is not None
    if not source.path.exists():
        raise DataError(f"data file {source.path.name!r} does not exist in the study folder; check [data] path.")
    if source.path.is_dir():
        raise DataError(f"data path {source.path.name!r} is a folder; [data] path names a file.")


def _csv(source: DataSource) -> pd.DataFrame:
    import pandas as pd

    _exists(source)
    assert source.path is not None
    sep = source.sep or ","
    try:
        frame = pd.read_csv(
            source.path, sep=sep, decimal=source.decimal or ".", encoding=source.encoding or "utf-8",
            thousands=source.thousands,
        )
    except UnicodeDecodeError as exc:
        raise DataError(
            f"cannot read {source.path.name!r} as {source.encoding or 'utf-8'} text ({exc.reason} at byte {exc.start}); "
            "set [data] encoding = (e.g. 'latin-1' or 'cp1252' for an older Danish export)."
        ) from None
    except LookupError:
        raise DataError(f"[data] encoding = {source.encoding!r} is not an encoding Python knows; e.g. 'utf-8', 'latin-1'.") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {source.path.name!r} as CSV: {' '.join(str(exc).split())}.") from None
    if frame.shape[1] == 1:
        name = str(frame.columns[0])
        for other, label in ((";", "';'"), ("\t", "'\\t'"), ("|", "'|'")):
            if other != sep and other in name:
                advice = f"use sep={label}"
                if other == ";":
                    advice += " (and decimal=',' for a decimal comma, as in a Danish export)"
                raise DataError(
                    f"{source.path.name!r} read as one column named {name[:60]!r}: the fields are separated by "
                    f"{label}, not {sep!r}; {advice} in [data]."
                )
    return frame


def _parquet(source: DataSource) -> pd.DataFrame:
    import pandas as pd

    from effekt.cli import parquet_engine

    _exists(source)
    assert source.path is not None
    parquet_engine(f"data file {source.path.name!r}")
    try:
        return pd.read_parquet(source.path)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {source.path.name!r} as Parquet: {' '.join(str(exc).split())}.") from None


def _select(source: DataSource) -> str:
    if source.query is not None:
        return source.query
    assert source.table is not None
    return "SELECT * FROM " + ".".join(f'"{part}"' for part in source.table.split("."))


def _duckdb(source: DataSource) -> pd.DataFrame:
    import duckdb

    _exists(source)
    assert source.path is not None
    try:
        con = duckdb.connect(str(source.path), read_only=True)
    except duckdb.Error as exc:
        raise DataError(f"cannot open {source.path.name!r} as a DuckDB database: {' '.join(str(exc).split())}.") from None
    try:
        return con.execute(_select(source)).df()
    except duckdb.Error as exc:
        raise DataError(f"the [data] {'query' if source.query else 'table'} failed in {source.path.name!r}: "
                        f"{' '.join(str(exc).split())}.") from None
    finally:
        con.close()


def _sql(source: DataSource) -> pd.DataFrame:
    import pandas as pd

    if importlib.util.find_spec("sqlalchemy") is None:
        raise DataError("reading a database needs SQLAlchemy, which is not installed: `pip install effekt[sql]`.")
    import sqlalchemy as sa

    url = source.url
    if source.url_env is not None:
        url = os.environ.get(source.url_env)
        if not url:
            raise DataError(f"[data] url_env = {source.url_env!r}: that environment variable is not set; set it to the database URL.")
    assert url is not None
    try:
        engine = sa.create_engine(url)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
        raise DataError(f"[data] url is not a database URL SQLAlchemy can use ({' '.join(str(exc).split())}); "
                        "e.g. 'sqlite:///trial.sqlite' or 'postgresql+psycopg://user@host/db' (`pip install effekt[sql]`).") from None
    try:
        with engine.connect() as con:
            return pd.read_sql_query(sa.text(_select(source)), con)
    except sa.exc.SQLAlchemyError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"reading the database failed: {first}") from None
    finally:
        engine.dispose()


def normalise(frame: pd.DataFrame, *, id: str | None = None) -> pd.DataFrame:
    """The same frame whatever the source: numpy dtypes (int64, float64, bool, object) and rows sorted by ``id``."""
    import pandas as pd

    out = {}
    for name in frame.columns:
        col = frame[name]
        dtype = col.dtype
        if pd.api.types.is_bool_dtype(dtype):
            out[str(name)] = col.astype(bool) if not col.isna().any() else col.astype(object)
        elif pd.api.types.is_integer_dtype(dtype):
            out[str(name)] = col.astype(np.int64) if not col.isna().any() else col.astype(np.float64)
        elif pd.api.types.is_float_dtype(dtype):
            out[str(name)] = col.astype(np.float64)
        elif pd.api.types.is_numeric_dtype(dtype):
            out[str(name)] = col.astype(np.float64)
        elif isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(dtype):
            out[str(name)] = col.dt.strftime("%Y-%m-%d").astype(object)
        else:
            out[str(name)] = col.astype(object).where(col.notna(), None).map(
                lambda v: v if v is None or isinstance(v, str) else str(v))
    result = pd.DataFrame(out)
    if id is not None and id in result.columns:
        result = result.sort_values(id, kind="stable", key=lambda s: s.map(str))
    return result.reset_index(drop=True)

