"""The DuckDB path on a Parquet file gives the same figures as the in-memory panel."""

import numpy as np
import pandas as pd
import pytest

from effekt.errors import DataError, DesignError
from effekt.registers import StatePanel, follow_up, look_back, run_length, window_indicators

pytest.importorskip("duckdb")
pytest.importorskip("pyarrow")
from effekt.registers.outofcore import window_indicators_sql  # noqa: E402

TARGET = ["ba", "oh", "fj"]


@pytest.fixture(scope="module")
def register(tmp_path_factory):
    rng = np.random.default_rng(11)
    n, weeks = 400, 60
    change = rng.random((n, weeks)) < 0.2
    change[:, 0] = True
    draws = rng.integers(0, 4, (n, weeks))
    last = np.maximum.accumulate(np.where(change, np.arange(weeks), 0), axis=1)
    codes = np.array(["kh", "ba", "oh", "fj"])[np.take_along_axis(draws, last, axis=1)]
    df = pd.DataFrame({"pnr": np.repeat(np.arange(n), weeks), "week": np.tile(np.arange(weeks), n),
                       "s": codes.ravel(), "h": rng.integers(0, 30, n * weeks).astype(float)})
    df = df[rng.random(len(df)) > 0.03]  # weeks without a record break runs
    path = tmp_path_factory.mktemp("reg") / "register.parquet"
    df.to_parquet(path)
    index = pd.Series(rng.integers(25, 45, n), index=np.arange(n))
    return df, str(path), index


def test_after_window_and_runs_agree_with_memory(register):
    df, path, index = register
    panel = StatePanel.from_long(df, person="pnr", period="week", state="s", hours="h")
    after = follow_up(panel, index, cutoff=55)
    mem = window_indicators(panel, after, {"target": TARGET})
    runs = run_length(panel, after, TARGET, min_run=6)
    sql = window_indicators_sql(path, index, person="pnr", period="week", state="s", states=TARGET,
                                name="target", cutoff=55, hours="h", min_run=6, threads=1)
    for c in ("person_time", "target_periods", "target_ever", "hours_ever"):
        assert (sql[c].to_numpy() == mem[c].to_numpy()).all(), c
    np.testing.assert_allclose(sql["target_share"], mem["target_share"])
    np.testing.assert_allclose(sql["hours_total"], mem["hours_total"])
    assert (sql["longest_run"].to_numpy() == runs["longest_run"].to_numpy()).all()
    assert sql["attained_period"].equals(runs["attained_period"])


def test_before_window_agrees_with_memory(register):
    df, path, index = register
    panel = StatePanel.from_long(df, person="pnr", period="week", state="s")
    before = look_back(panel, matching=follow_up(panel, index, length=20))
    mem = window_indicators(panel, before, ["ba"])
    sql = window_indicators_sql(path, index, person="pnr", period="week", state="s", states=["ba"],
                                window="before", length=20)
    assert (sql["state_periods"].to_numpy() == mem["state_periods"].to_numpy()).all()
    assert (sql["person_time"].to_numpy() == mem["person_time"].to_numpy()).all()


def test_bad_input(register, tmp_path):
    df, path, index = register
    with pytest.raises(DataError, match="state column 'zz'"):
        window_indicators_sql(path, index, person="pnr", period="week", state="zz", states=["ba"])
    with pytest.raises(DataError, match="does not exist"):
        window_indicators_sql(str(tmp_path / "none.parquet"), index, person="pnr", period="week", state="s",
                              states=["ba"])
    with pytest.raises(DesignError, match="window must be one of"):
        window_indicators_sql(path, index, person="pnr", period="week", state="s", states=["ba"], window="during")
    with pytest.raises(DataError, match="index must hold integer period numbers"):
        window_indicators_sql(path, index.astype(float), person="pnr", period="week", state="s", states=["ba"])
    with pytest.raises(DesignError, match="cutoff must be an integer"):
        window_indicators_sql(path, index, person="pnr", period="week", state="s", states=["ba"], cutoff="2018-03-26")
    dup = tmp_path / "dup.parquet"
    pd.concat([df.head(3), df.head(1)]).to_parquet(dup)
    with pytest.raises(DataError, match="1 rows repeat a person and period"):
        window_indicators_sql(str(dup), index.head(1), person="pnr", period="week", state="s", states=["ba"])
    with pytest.raises(DataError, match="no rows in the register"):
        window_indicators_sql(path, pd.Series({99999: 30}), person="pnr", period="week", state="s", states=["ba"])


def test_a_table_in_a_duckdb_connection(register):
    import duckdb

    df, path, index = register
    con = duckdb.connect()
    con.execute(f"CREATE TABLE dream AS SELECT * FROM read_parquet('{path}')").fetchall()
    a = window_indicators_sql("dream", index, person="pnr", period="week", state="s", states=["ba"],
                              connection=con)
    b = window_indicators_sql(path, index, person="pnr", period="week", state="s", states=["ba"])
    pd.testing.assert_frame_equal(a, b)
