"""Appending in O(batch): what a draw reads, what it checks between draws, and the earlier log layout."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import effekt.design.log as logmod
import effekt.design.lottery as lotmod
from effekt.design.log import AllocationLog, unit_key, verify_log
from effekt.design.lottery import BatchLottery, record_excluded, record_units
from effekt.errors import DataError, DesignError

DATA = Path(__file__).parent / "data"


# --------------------------------------------------------------------------- vectorised ids


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-(10**17) + 1, 10**17 - 1), unique=True, max_size=60))
def test_text_order_of_whole_numbers_is_the_order_of_their_text(values):
    arr = np.array(values, dtype=np.int64)
    order = lotmod._text_order(arr)
    assert order is not None
    assert [str(v) for v in arr[order]] == sorted(str(v) for v in values)


def test_text_order_gives_up_beyond_17_digits():
    assert lotmod._text_order(np.array([1, 10**17], dtype=np.int64)) is None
    assert lotmod._text_order(np.array([2**63 + 5], dtype=np.uint64)) is None
    assert lotmod._text_order(np.array([-(2**63)], dtype=np.int64)) is None


ids_strategy = st.one_of(
    st.integers(-(10**20), 10**20),
    st.sampled_from(["0", "-0", "00", "01", "1", "-1", " 1", "1.0", "+1", "\u0663", "", "a", "10", "-10"]),
    st.integers(-999, 999).map(str),
)


@settings(max_examples=80, deadline=None)
@given(st.lists(ids_strategy, max_size=12))
def test_index_keys_are_one_to_one_with_unit_key(values):
    index = lotmod._index_keys(list(values))
    for i in range(len(values)):
        for j in range(len(values)):
            assert (index[i] == index[j]) == (unit_key(values[i]) == unit_key(values[j])), (values[i], values[j])


@pytest.mark.parametrize(
    "make",
    [
        lambda ids: ids,  # int64 column
        lambda ids: ids.astype(np.float64),
        lambda ids: ids.astype(object),  # Python ints in an object column
        lambda ids: pd.Series(ids, dtype="Int64"),
        lambda ids: ids.astype(np.uint32),
    ],
)
def test_every_form_of_whole_number_ids_draws_as_text_ids(make):
    ids = np.random.default_rng(3).permutation(np.arange(0, 2000, 7))
    text = BatchLottery(None, seed=5).draw(pd.DataFrame({"id": [str(v) for v in ids]}), batch="b")
    other = BatchLottery(None, seed=5).draw(pd.DataFrame({"id": make(ids)}), batch="b")
    assert [str(v) for v in other.allocation["id"]] == text.allocation["id"].tolist()
    assert other.allocation["arm"].tolist() == text.allocation["arm"].tolist()
    assert other.allocation["id"].dtype == np.int64


def test_bad_ids_in_a_column_are_named():
    with pytest.raises(DataError, match=r"id column 'id'.*1.5 is not a whole number"):
        BatchLottery(None, seed=1).draw(pd.DataFrame({"id": [1.0, 1.5]}), batch="b")
    with pytest.raises(DataError, match=r"id column 'id'.*True/False"):
        BatchLottery(None, seed=1).draw(pd.DataFrame({"id": np.array([True, False])}), batch="b")
    with pytest.raises(DataError, match="lists 7 more than once"):
        BatchLottery(None, seed=1).draw(pd.DataFrame({"id": [7, 8, 7]}), batch="b")


# --------------------------------------------------------------------------- what a draw reads


def test_draws_read_the_whole_log_only_when_opened(tmp_path, monkeypatch):
    path = tmp_path / "alloc.jsonl"
    lot = BatchLottery(path, seed=1)
    lot.draw(list(range(10)), batch="b0")
    whole, scanned = [], []
    real_verify, real_scan = logmod._verify_data, logmod._scan
    monkeypatch.setattr(logmod, "_verify_data", lambda *a, **k: whole.append(1) or real_verify(*a, **k))
    monkeypatch.setattr(logmod, "_scan", lambda data, **k: scanned.append(len(data)) or real_scan(data, **k))
    for b in range(1, 6):
        lot.draw(list(range(b * 10, b * 10 + 10)), batch=f"b{b}")
    assert whole == [] and sum(scanned) == 0  # only its own appends: nothing to read
    other = BatchLottery(path, seed=1)  # a new object (another process) verifies the whole log once
    assert len(whole) == 1
    other.draw([100, 101], batch="b6")
    lot.draw([102, 103], batch="b7")  # reads only b6's line
    assert len(whole) == 1 and 0 < scanned[-1] < path.stat().st_size / 3
    assert verify_log(path).ok and verify_log(path).n_records == 9


def test_two_lotteries_on_one_log_see_each_others_draws(tmp_path):
    path = tmp_path / "alloc.jsonl"
    a, b = BatchLottery(path, seed=4), BatchLottery(path, seed=4)
    a.draw([1, 2, 3, 4], batch="first")
    d = b.draw(["3", "4", 5, 6], batch="second")
    assert sorted(d.excluded["id"].tolist(), key=str) == ["3", "4"]
    assert set(d.excluded["reason"]) == {"already randomised in batch first"}
    d = a.draw([5, 6, 7], batch="third")
    assert d.excluded["id"].tolist() == [5, 6] and d.excluded["reason"].unique().tolist() == [
        "already randomised in batch second"]
    assert a.draw([1, 2, 3, 4], batch="first").replayed and b.draw([5, 6, 7], batch="third").replayed
    b.withdraw([1], reason="moved")
    assert a.allocations().set_index("id").loc[1, "withdrawn"]
    assert a.allocation_table().equals(b.allocation_table())


def test_an_edit_between_draws_is_caught_by_the_next_draw(tmp_path):
    path = tmp_path / "alloc.jsonl"
    lot = BatchLottery(path, seed=2)
    lot.draw(list(range(20)), batch="b0")
    lot.draw(list(range(20, 40)), batch="b1")
    data = path.read_bytes()
    path.write_bytes(data.replace(b'"batch":"b1"', b'"batch":"c1"'))  # the last line, in place: same size
    assert path.stat().st_size == len(data) and path.read_bytes() != data
    with pytest.raises(DesignError, match="is damaged"):
        lot.draw([99], batch="b2")
    path.write_bytes(data)  # put back: the lottery reads it afresh and goes on
    assert lot.draw([99], batch="b2").allocation["id"].tolist() == [99]
    assert verify_log(path).ok


def test_a_forged_record_appended_between_draws_is_caught(tmp_path):
    keys = tmp_path / "keys"
    keys.mkdir()
    key = logmod.new_key(keys / "k")
    path = tmp_path / "log" / "alloc.jsonl"
    lot = BatchLottery(path, seed=2, key=key)
    lot.draw([1, 2], batch="b0")
    records = AllocationLog(path, key=key).records()
    body = {"type": "withdraw", "ids": [1], "reason": "forged", "seq": len(records), "prev": records[-1]["hash"],
            "time": "2026-01-01T00:00:00+00:00"}
    with open(path, "ab") as fh:
        fh.write(logmod._canonical({**body, "hash": logmod._hash(body)}).encode() + b"\n")
    with pytest.raises(DesignError, match="MAC"):
        lot.draw([3], batch="b1")


def test_a_rolled_back_or_replaced_log_is_read_afresh(tmp_path):
    path = tmp_path / "alloc.jsonl"
    lot = BatchLottery(path, seed=2)
    lot.draw([1, 2], batch="b0")
    old_log, old_head = path.read_bytes(), Path(str(path) + ".head").read_bytes()
    lot.draw([3, 4], batch="b1")
    path.write_bytes(old_log)  # an older copy with its own head: it verifies (only a pin detects this)
    Path(str(path) + ".head").write_bytes(old_head)
    assert [r["batch"] for r in lot.allocation_table(total=False).to_dict("records")] == ["b0"]
    assert not lot.draw([3, 4], batch="b1").replayed
    shutil.copy(path, tmp_path / "copy.jsonl")
    (tmp_path / "copy.jsonl").replace(path)  # a new file in its place (another inode), same content
    assert lot.draw([3, 4], batch="b1").replayed
    path.unlink()
    with pytest.raises(DesignError, match="has disappeared"):
        lot.draw([5], batch="b2")


def test_an_incomplete_line_left_by_another_process_is_removed_by_the_next_append(tmp_path):
    path = tmp_path / "alloc.jsonl"
    lot = BatchLottery(path, seed=2)
    lot.draw([1, 2], batch="b0")
    complete = path.read_bytes()
    with open(path, "ab") as fh:  # another process killed while writing its line
        fh.write(b'{"batch":"b1","counts":{"con')
    assert verify_log(path).ok and lot.draw([1, 2], batch="b0").replayed
    lot.draw([3], batch="b1")
    data = path.read_bytes()
    assert data.startswith(complete) and b'"con{' not in data and data.endswith(b"\n")
    check = verify_log(path)
    assert check.ok and check.n_records == 3 and "interrupted" not in check.message


def test_a_failed_head_write_is_followed_by_a_full_reread(tmp_path, monkeypatch):
    path = tmp_path / "alloc.jsonl"
    lot = BatchLottery(path, seed=2)
    lot.draw([1, 2], batch="b0")
    real = logmod._atomic_write

    def no_head(target, data):
        if str(target).endswith(".head"):
            raise KeyboardInterrupt("killed")
        real(target, data)

    monkeypatch.setattr(logmod, "_atomic_write", no_head)
    with pytest.raises(KeyboardInterrupt):
        lot.draw([3, 4], batch="b1")
    monkeypatch.setattr(logmod, "_atomic_write", real)
    assert lot.draw([3, 4], batch="b1").replayed  # the line was written: the draw stands
    assert lot.draw([4, 5], batch="b2").excluded["id"].tolist() == [4]
    assert verify_log(path).ok and "interrupted" not in verify_log(path).message


# --------------------------------------------------------------------------- the record layout


def test_draw_records_hold_units_as_columns(tmp_path):
    path = tmp_path / "alloc.jsonl"
    lot = BatchLottery(path, seed=9, exclude={"young": lambda u: u["age"] < 30})
    d = lot.draw(pd.DataFrame({"id": ["a", "b", "c", "d"], "age": [20, 40, 50, 60]}), batch="b")
    rec = json.loads(path.read_bytes().splitlines()[-1])
    assert rec["format"] == 2 and rec["units"]["arms"] == ["treatment", "control"]
    assert rec["units"]["id"] == ["b", "c", "d"] and len(rec["units"]["arm"]) == 3
    assert rec["excluded"] == {"id": ["a"], "reason": [0], "reasons": ["young"]}
    ids, arms = record_units(rec)
    assert ids == d.allocation["id"].tolist() and arms == d.allocation["arm"].tolist()
    assert record_excluded(rec) == (["a"], ["young"])


def test_a_log_in_the_earlier_layout_is_read_and_extended(tmp_path):
    """allocation_log_v1.jsonl was written by effekt before the columnar layout (tests/data/make_log_v1.py)."""
    path = tmp_path / "alloc.jsonl"
    shutil.copy(DATA / "allocation_log_v1.jsonl", path)
    shutil.copy(DATA / "allocation_log_v1.jsonl.head", str(path) + ".head")
    expected = json.loads((DATA / "allocation_log_v1.json").read_text())
    assert verify_log(path).ok
    lot = BatchLottery(path, seed=2017, odd="alternate", capacity={"treatment": 6},
                       exclude={"aged under 30": lambda u: u["age"] < 30})
    alloc = lot.allocations().drop(columns=["time"]).astype({"id": str})
    assert alloc.to_dict(orient="list") == expected["allocations"]
    assert lot.exclusions().astype({"id": str}).to_dict(orient="list") == expected["exclusions"]
    assert lot.allocation_table().to_dict(orient="list") == expected["table"]
    assert lot.places_left() == expected["places_left"]
    again = lot.draw({"id": [1, 2, 3, 4, 5], "age": [40, 25, 33, 51, 38]}, batch="b1")
    assert again.replayed and again.allocation["id"].tolist() == [1, 3, 4, 5]
    new = lot.draw({"id": ["3", "06", 16, 17], "age": [40, 40, 40, 40]}, batch="b4")
    assert sorted(map(str, new.excluded["id"])) == ["06", "3"]
    assert new.allocation["id"].tolist() == [16, 17]
    with pytest.raises(DataError, match="already withdrawn"):
        lot.withdraw(["4"], reason="again")
    assert verify_log(path).ok and verify_log(path).n_records == 6


# --------------------------------------------------------------------------- the cache against a fresh read

ops_strategy = st.lists(
    st.one_of(
        st.tuples(st.just("draw"), st.lists(st.integers(0, 40), min_size=1, max_size=12, unique=True), st.booleans()),
        st.tuples(st.just("withdraw"), st.integers(0, 40)),
        st.tuples(st.just("reopen")),
        st.tuples(st.just("other")),  # another lottery object (another process) draws next
    ),
    min_size=1,
    max_size=10,
)


@settings(max_examples=15, deadline=None)
@given(ops=ops_strategy)
def test_a_file_lottery_drawn_through_several_objects_equals_one_in_memory(tmp_path_factory, ops):
    path = tmp_path_factory.mktemp("prop") / "alloc.jsonl"
    settings_ = {"seed": 11, "odd": "alternate", "capacity": {"treatment": 12}}
    memory = BatchLottery(None, **settings_)
    current = BatchLottery(path, **settings_)
    spare = BatchLottery(path, **settings_)
    for b, op in enumerate(ops):
        if op[0] == "draw":
            ids = [str(i) if op[2] and i % 2 else i for i in op[1]]  # some as text: the same people
            a = memory.draw(ids, batch=f"b{b}", date="2017-01-16")
            c = current.draw(ids, batch=f"b{b}", date="2017-01-16")
            assert a.allocation.equals(c.allocation) and a.excluded.equals(c.excluded)
        elif op[0] == "withdraw":
            allocated = set(memory.allocations()["id"].map(unit_key)) - set(
                memory.allocations().query("withdrawn")["id"].map(unit_key))
            if unit_key(op[1]) in allocated:
                assert memory.withdraw([op[1]], reason="moved") == current.withdraw([op[1]], reason="moved")
        elif op[0] == "reopen":
            current = BatchLottery(path, **settings_)
        else:
            current, spare = spare, current
    fresh = BatchLottery(path, **settings_)
    for lot in (current, spare, fresh):
        assert lot.allocations().drop(columns=["time"]).equals(memory.allocations().drop(columns=["time"]))
        assert lot.exclusions().equals(memory.exclusions())
        assert lot.allocation_table().equals(memory.allocation_table())
        assert lot.places_left() == memory.places_left()
    assert verify_log(path).ok
