"""Data sources: CSV (incl. a Danish export), Parquet, DuckDB, SQLite and PostgreSQL give the same results."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from effekt.errors import DataError
from effekt.examples import load_trial
from effekt.study import Study, StudyError, normalise

from .conftest import write


def with_data(study_file: Path, data_section: str, name: str = "study.toml") -> Path:
    """The same study with another [data] table."""
    text = study_file.read_text(encoding="utf-8")
    start = text.index("[data]")
    end = text.index("\n[", start + 1)
    return write(study_file.parent, text[:start] + data_section.strip() + "\n" + text[end:], name)


def danish_export(path: Path, frame: pd.DataFrame) -> None:
    # the layout of a Danish spreadsheet export: ';' between fields, a decimal comma, '.' between thousands
    frame = frame.assign(income=np.where(frame["z"] == 1, 12345.5, 1234.25))
    frame.to_csv(path, sep=";", decimal=",", index=False, encoding="latin-1")
    text = path.read_text(encoding="latin-1").replace("12345,5", "12.345,5")
    path.write_text(text.replace("batch", "hold_ø", 0), encoding="latin-1")


def test_danish_export_reads_with_sep_decimal_thousands_and_encoding(small: Path) -> None:
    danish_export(small.parent / "dk.csv", load_trial())
    study = Study.from_toml(with_data(small, '[data]\npath = "dk.csv"\nsep = ";"\ndecimal = ","\nthousands = "."\nencoding = "latin-1"'))
    frame = study.load_data()
    assert frame["activity_hours"].dtype == np.float64 and frame["income"].max() == 12345.5
    reference = Study.from_toml(small).run(None)
    assert study.run(None).results["analyses"] == reference.results["analyses"]


def test_a_danish_export_read_with_commas_says_use_sep(small: Path) -> None:
    danish_export(small.parent / "dk.csv", load_trial())
    study = Study.from_toml(with_data(small, '[data]\npath = "dk.csv"\nencoding = "latin-1"'))
    with pytest.raises(DataError, match=r"read as one column named 'id;batch;.*use sep=';' \(and decimal=','"):
        study.load_data()


def test_wrong_encoding_is_named(small: Path) -> None:
    (small.parent / "l1.csv").write_bytes("id,z,by\n1,0,Køge\n".encode("latin-1"))
    study = Study.from_toml(with_data(small, '[data]\npath = "l1.csv"'))
    with pytest.raises(DataError, match="set \\[data\\] encoding"):
        study.load_data()


def test_missing_data_file(small: Path) -> None:
    study = Study.from_toml(with_data(small, '[data]\npath = "none.csv"'))
    with pytest.raises(DataError, match="'none.csv' does not exist in the study folder"):
        study.run(None)


def test_a_column_the_data_lack_names_key_and_line(small: Path) -> None:
    original = small.read_text()
    text = original.replace('blocks = "batch"\n', 'blocks = "batch"\nbalance = ["age", "sex"]\n', 1)
    study = Study.from_toml(write(small.parent, text))
    line = next(i for i, s in enumerate(text.splitlines(), 1) if s.startswith("balance"))
    with pytest.raises(StudyError, match=rf"study.toml:{line}: design.balance: the data have no column 'sex'"):
        study.run(None)
    text = original.replace('options = { blocks = "batch" }', 'options = { blocks = "batchh" }')
    study = Study.from_toml(write(small.parent, text))
    with pytest.raises(StudyError, match=r"outcomes\[1\].options.blocks: the data have no column 'batchh'. Did you mean 'batch'"):
        study.run(None)


def _database_files(folder: Path, frame: pd.DataFrame) -> None:
    frame.to_parquet(folder / "trial.parquet")
    con = duckdb.connect(str(folder / "copy.duckdb"))
    con.register("frame", frame)
    con.execute("CREATE TABLE trial AS SELECT * FROM frame")
    con.close()
    with sqlite3.connect(folder / "trial.sqlite") as lite:
        frame.to_sql("trial", lite, index=False)


SOURCES = {
    "csv": '[data]\npath = "trial.csv"',
    "parquet": '[data]\npath = "trial.parquet"',
    "duckdb": '[data]\npath = "copy.duckdb"\ntable = "trial"',
    "duckdb-query": '[data]\nformat = "duckdb"\npath = "copy.duckdb"\nquery = "SELECT * FROM trial ORDER BY id DESC"',
    "sqlite": '[data]\nurl = "sqlite:///trial.sqlite"\ntable = "trial"',
}


def test_every_source_gives_identical_results(example: Path) -> None:
    folder = example.parent
    frame = load_trial()
    frame.to_csv(folder / "trial.csv", index=False)
    _database_files(folder, frame)
    outputs = {name: Study.from_toml(with_data(example, section, f"study-{name}.toml")).run(None).to_json()
               for name, section in SOURCES.items()}
    reference = Study.from_toml(example).run(None).to_json()  # the example's own DuckDB file
    assert all(text == reference for text in outputs.values()), [k for k, v in outputs.items() if v != reference]


def test_postgresql_gives_identical_results(example: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlalchemy as sa

    table = f"trial_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(postgres_url)
    try:
        load_trial().to_sql(table, engine, index=False)
        monkeypatch.setenv("EFFEKT_TEST_DB", postgres_url)
        by_env = Study.from_toml(with_data(example, f'[data]\nurl_env = "EFFEKT_TEST_DB"\ntable = "{table}"', "study-pg.toml"))
        by_query = Study.from_toml(with_data(
            example, f'[data]\nurl = "{postgres_url}"\nquery = "SELECT * FROM {table} WHERE batch > 0"', "study-pg2.toml"))
        reference = Study.from_toml(example).run(None).to_json()
        assert by_env.run(None).to_json() == reference
        assert by_query.run(None).to_json() == reference
        # the report names the source without the URL's password
        assert "***" not in by_env.data.describe() and "EFFEKT_TEST_DB" in by_env.data.describe()
    finally:
        with engine.begin() as con:
            con.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
        engine.dispose()


def test_database_errors_are_data_errors(small: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _database_files(small.parent, load_trial())
    study = Study.from_toml(with_data(small, '[data]\nurl = "sqlite:///trial.sqlite"\ntable = "no_such_table"'))
    with pytest.raises(DataError, match="reading the database failed"):
        study.load_data()
    study = Study.from_toml(with_data(small, '[data]\npath = "copy.duckdb"\ntable = "nope"'))
    with pytest.raises(DataError, match="the \\[data\\] table failed in 'copy.duckdb'"):
        study.load_data()
    monkeypatch.delenv("EFFEKT_NOT_SET", raising=False)
    study = Study.from_toml(with_data(small, '[data]\nurl_env = "EFFEKT_NOT_SET"\ntable = "trial"'))
    with pytest.raises(DataError, match="EFFEKT_NOT_SET.*not set"):
        study.load_data()


def test_normalise_makes_dtypes_and_order_the_same() -> None:
    a = pd.DataFrame({"id": ["b", "a"], "n": pd.array([2, 1], dtype="Int32"), "x": pd.array([0.5, 1.5], dtype="Float64"),
                      "t": pd.array(["u", None], dtype="string")})
    out = normalise(a, id="id")
    assert list(out["id"]) == ["a", "b"] and out["n"].dtype == np.int64 and out["x"].dtype == np.float64
    assert list(out["t"]) == [None, "u"] and out["t"].dtype == object


def test_check_data_without_running(small: Path) -> None:
    study = Study.from_toml(small)
    assert study.check_data() == []
    assert study.check_data(load_trial().drop(columns="complaint")) == ["complaint (chi2): the data have no column 'complaint'"]
    with pytest.raises(StudyError, match=r"study.toml:\d+: design.blocks: the data have no column 'batch'"):
        study.check_data(load_trial().drop(columns="batch"))
