"""The hash-chained allocation log: tamper detection, crash safety, CLI."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import effekt.design.log as logmod
from effekt.design.cli import register
from effekt.design.log import AllocationLog, verify_log
from effekt.design.lottery import BatchLottery, record_units
from effekt.errors import DataError, DesignError


def _make_log(path: Path, batches: int = 4) -> bytes:
    lot = BatchLottery(path, seed=7, capacity={"treatment": 50})
    for b in range(batches):
        lot.draw(pd.DataFrame({"id": [f"b{b}-{i}" for i in range(5 + b)]}), batch=f"b{b}", date="2017-01-16")
    return path.read_bytes()


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    path = tmp_path_factory.mktemp("log") / "alloc.jsonl"
    data = _make_log(path)
    return data, Path(str(path) + ".head").read_bytes()


def _write(tmp_path: Path, data: bytes, head: bytes) -> Path:
    path = tmp_path / "alloc.jsonl"
    path.write_bytes(data)
    Path(str(path) + ".head").write_bytes(head)
    return path


def test_intact_log_verifies(tmp_path, pristine):
    path = _write(tmp_path, *pristine)
    check = verify_log(path)
    assert check.ok and check.n_records == 5 and check.bad_line is None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_single_byte_edit_is_detected_at_its_line(tmp_path, pristine, data):
    content, head = pristine
    pos = data.draw(st.integers(0, len(content) - 1))
    new = data.draw(st.integers(0, 255).filter(lambda b: b != content[pos]))
    edited = content[:pos] + bytes([new]) + content[pos + 1 :]
    path = _write(tmp_path, edited, head)
    check = verify_log(path)
    assert not check.ok
    assert check.bad_line == content[:pos].count(b"\n") + 1


@pytest.mark.parametrize("line", [1, 2, 3, 4, 5])
def test_deleted_line_is_detected(tmp_path, pristine, line):
    content, head = pristine
    lines = content.splitlines(keepends=True)
    path = _write(tmp_path, b"".join(lines[: line - 1] + lines[line:]), head)
    check = verify_log(path)
    assert not check.ok and check.bad_line == line


@pytest.mark.parametrize(("i", "j"), [(1, 2), (2, 4), (0, 4), (3, 4)])
def test_reordered_lines_are_detected(tmp_path, pristine, i, j):
    content, head = pristine
    lines = content.splitlines(keepends=True)
    lines[i], lines[j] = lines[j], lines[i]
    check = verify_log(_write(tmp_path, b"".join(lines), head))
    assert not check.ok and check.bad_line == i + 1


def test_incomplete_last_line_is_detected(tmp_path, pristine):
    content, head = pristine
    check = verify_log(_write(tmp_path, content[:-10], head))
    assert not check.ok and check.bad_line == 5 and "incomplete" in check.message


def test_whitespace_edit_is_detected(tmp_path, pristine):
    content, head = pristine
    edited = content.replace(b'"type":"draw"', b'"type": "draw"', 1)
    check = verify_log(_write(tmp_path, edited, head))
    assert not check.ok and check.bad_line == 2 and "canonical" in check.message


def test_damaged_log_refuses_to_draw(tmp_path, pristine):
    content, head = pristine
    edited = content.replace(b'"arm":[0', b'"arm":[1', 1)
    assert edited != content
    path = _write(tmp_path, edited, head)
    with pytest.raises(DesignError, match="is damaged .*nothing is drawn from a damaged log"):
        BatchLottery(path, seed=7, capacity={"treatment": 50})


def test_crash_mid_write_leaves_a_log_that_verifies_and_is_repaired(tmp_path, monkeypatch):
    """A kill while the new line is being written leaves an incomplete last line after the head's records."""
    path = tmp_path / "alloc.jsonl"
    before = _make_log(path, batches=2)
    real = logmod._append_line

    def killed(target, line, size):
        with open(target, "ab") as fh:  # half the line reaches the disk, then the process dies
            fh.write(line[: len(line) // 2])
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(logmod, "_append_line", killed)
    lot = BatchLottery(path, seed=7, capacity={"treatment": 50})
    with pytest.raises(KeyboardInterrupt):
        lot.draw(pd.DataFrame({"id": ["x", "y"]}), batch="b9")
    assert path.read_bytes().startswith(before) and len(path.read_bytes()) > len(before)
    check = verify_log(path)
    assert check.ok and check.n_records == 3 and "incomplete line" in check.message
    assert len(AllocationLog(path).records()) == 3
    monkeypatch.setattr(logmod, "_append_line", real)
    first = lot.draw(pd.DataFrame({"id": ["x", "y"]}), batch="b9")  # drawn now: the torn line held nothing
    assert not first.replayed
    check = verify_log(path)
    assert check.ok and check.n_records == 4 and "interrupted" not in check.message
    assert path.read_bytes().startswith(before)
    # a second lottery object in this process, and a new one, both see the same draw
    assert BatchLottery(path, seed=7, capacity={"treatment": 50}).draw(["x", "y"], batch="b9").replayed
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_incomplete_line_is_accepted_only_after_the_heads_records(tmp_path, pristine):
    content, head = pristine
    path = _write(tmp_path, content + b'{"batch":"b9","coun', head)
    check = verify_log(path)
    assert check.ok and check.n_records == 5 and "incomplete line" in check.message
    lines = content.splitlines(keepends=True)
    path = _write(tmp_path, b"".join(lines[:4]) + lines[4][:-1], head)  # the head's last record torn
    check = verify_log(path)
    assert not check.ok and check.bad_line == 5 and "incomplete" in check.message
    Path(str(path) + ".head").unlink()
    check = verify_log(path)
    assert not check.ok


def test_crash_between_log_and_head_is_valid_and_repaired(tmp_path, monkeypatch):
    path = tmp_path / "alloc.jsonl"
    _make_log(path, batches=2)
    real = logmod._atomic_write

    def head_killed(target, data):
        if str(target).endswith(".head"):
            raise KeyboardInterrupt("killed")
        real(target, data)

    monkeypatch.setattr(logmod, "_atomic_write", head_killed)
    lot = BatchLottery(path, seed=7, capacity={"treatment": 50})
    with pytest.raises(KeyboardInterrupt):
        lot.draw(pd.DataFrame({"id": ["x", "y"]}), batch="b9")
    check = verify_log(path)
    assert check.ok and "interrupted" in check.message
    monkeypatch.setattr(logmod, "_atomic_write", real)
    again = lot.draw(pd.DataFrame({"id": ["x", "y"]}), batch="b9")
    assert again.replayed
    lot.draw(pd.DataFrame({"id": ["z"]}), batch="b10")
    check = verify_log(path)
    assert check.ok and "interrupted" not in check.message and check.n_records == 5


def test_two_appends_killed_between_log_and_head_keep_the_log_valid(tmp_path, monkeypatch):
    # found by tests/reliability: the second kill left the log two records ahead of its head
    path = tmp_path / "alloc.jsonl"
    _make_log(path, batches=1)
    real_write, real_append = logmod._atomic_write, logmod._append_line
    appended = []

    def append(target, line, size):
        real_append(target, line, size)
        appended.append(True)

    def head_killed(target, data):
        if str(target).endswith(".head") and appended:  # killed between the log's line and the head
            raise KeyboardInterrupt("killed")
        real_write(target, data)

    monkeypatch.setattr(logmod, "_append_line", append)
    monkeypatch.setattr(logmod, "_atomic_write", head_killed)
    log = AllocationLog(path)
    for text in ("first", "second"):
        with pytest.raises(KeyboardInterrupt):
            log.append({"type": "note", "text": text})
        appended.clear()
        check = verify_log(path)
        assert check.ok and "interrupted" in check.message, check.message
    assert check.n_records == 4


def test_memory_log_chains():
    log = AllocationLog(None)
    a = log.append({"type": "note"})
    b = log.append({"type": "note"})
    assert b["prev"] == a["hash"] and b["seq"] == 1


def test_missing_log_file():
    with pytest.raises(DataError, match="does not exist"):
        verify_log("/nonexistent/alloc.jsonl")


# --------------------------------------------------------------------------- CLI


def _cli(*argv: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="effekt")
    register(parser.add_subparsers())
    args = parser.parse_args(list(argv))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = args.func(args)
    return code, out.getvalue()


def test_cli_randomise_prints_csv_and_replays(tmp_path):
    units = tmp_path / "units.csv"
    units.write_text("id,age\n007,40\n012,51\n013,33\n020,45\n031,38\n")
    log = tmp_path / "alloc.jsonl"
    argv = ["randomise", "--units", str(units), "--batch", "2017-01-16", "--log", str(log), "--seed", "42",
            "--odd", "alternate", "--capacity", "treatment=100"]
    code, out = _cli(*argv)
    assert code == 0
    frame = pd.read_csv(io.StringIO(out), dtype=str)
    assert list(frame.columns) == ["id", "arm"]
    assert sorted(frame["id"]) == ["007", "012", "013", "020", "031"]  # leading zeros kept
    assert sorted(frame["arm"].value_counts().tolist()) == [2, 3]
    assert _cli(*argv) == (0, out)
    code, message = _cli("verify-log", str(log))
    assert code == 0 and message.startswith("intact: 2 records")


def test_cli_parquet_units(tmp_path):
    units = tmp_path / "units.parquet"
    pd.DataFrame({"person": ["a", "b", "c", "d"]}).to_parquet(units)
    code, out = _cli("randomise", "--units", str(units), "--batch", "b", "--log", str(tmp_path / "l.jsonl"),
                     "--seed", "1", "--id", "person", "--ratio", "3:1")
    assert code == 0 and pd.read_csv(io.StringIO(out))["arm"].value_counts().to_dict() == {"treatment": 3, "control": 1}


def test_cli_verify_log_reports_first_bad_line(tmp_path, pristine):
    content, head = pristine
    path = _write(tmp_path, content.replace(b'"b2"', b'"B2"', 1), head)
    code, out = _cli("verify-log", str(path))
    assert code == 1 and "line 4:" in out


@pytest.mark.parametrize(
    ("extra", "error", "match"),
    [
        (["--seed", "x"], DesignError, "--seed must be a non-negative whole number"),
        (["--seed", "1", "--capacity", "treatment"], DesignError, "must look like treatment=100"),
        (["--seed", "1", "--ratio", "1:x"], DesignError, "ratio='1:x'"),
    ],
)
def test_cli_bad_options(tmp_path, extra, error, match):
    units = tmp_path / "u.csv"
    units.write_text("id\n1\n2\n")
    with pytest.raises(error, match=match):
        _cli("randomise", "--units", str(units), "--batch", "b", "--log", str(tmp_path / "l.jsonl"), *extra)


def test_cli_missing_units_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        _cli("randomise", "--units", str(tmp_path / "none.csv"), "--batch", "b", "--log", str(tmp_path / "l"), "--seed", "1")


# --------------------------------------------------------------------------- the installed command


def _effekt(*args):
    import shutil
    import subprocess
    import sys

    exe = shutil.which("effekt") or str(Path(sys.executable).with_name("effekt"))
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=120)


def test_effekt_command_randomise_and_verify(tmp_path):
    units = tmp_path / "referrals.csv"
    units.write_text("id,age\n" + "".join(f"{i:04d},{30 + i}\n" for i in range(13)))
    log = tmp_path / "alloc.jsonl"
    out = _effekt("randomise", "--units", str(units), "--batch", "2017-01-16", "--log", str(log), "--seed", "2017",
                  "--odd", "alternate", "--capacity", "treatment=100")
    assert out.returncode == 0, out.stderr
    frame = pd.read_csv(io.StringIO(out.stdout), dtype=str)
    assert list(frame.columns) == ["id", "arm"] and len(frame) == 13
    assert sorted(frame["arm"].value_counts().tolist()) == [6, 7]
    ok = _effekt("verify-log", str(log))
    assert ok.returncode == 0 and "intact" in ok.stdout
    log.write_bytes(log.read_bytes().replace(b'"control"', b'"kontrol"', 1))
    bad = _effekt("verify-log", str(log))
    assert bad.returncode == 1 and "line 1:" in bad.stdout


def test_effekt_command_errors_exit_2(tmp_path):
    units = tmp_path / "u.csv"
    units.write_text("id\n1\n1\n")
    out = _effekt("randomise", "--units", str(units), "--batch", "b", "--log", str(tmp_path / "l.jsonl"), "--seed", "1")
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "more than once" in out.stderr
    assert not (tmp_path / "l.jsonl.head").exists() or verify_log(tmp_path / "l.jsonl").ok


def test_deleted_head_file_is_detected(tmp_path, pristine):
    content, _ = pristine
    path = tmp_path / "alloc.jsonl"
    path.write_bytes(content)
    check = verify_log(path)
    assert not check.ok and "head file" in check.message and "missing" in check.message
    # only the first append, interrupted before its head was written, has no head
    path.write_bytes(content.splitlines(keepends=True)[0])
    check = verify_log(path)
    assert check.ok and "first append was interrupted" in check.message


def test_damaged_head_file(tmp_path, pristine):
    content, _ = pristine
    path = _write(tmp_path, content, b"not json\n")
    check = verify_log(path)
    assert not check.ok and "head file" in check.message


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_deletion_or_reordering_is_detected(tmp_path, pristine, data):
    content, head = pristine
    lines = content.splitlines(keepends=True)
    order = data.draw(st.permutations(range(len(lines))))
    keep = data.draw(st.integers(1, len(lines)))
    changed = [lines[i] for i in order[:keep]]
    if changed == lines:
        return  # nothing was changed
    check = verify_log(_write(tmp_path, b"".join(changed), head))
    assert not check.ok
    first = next((i for i, (a, b) in enumerate(zip(changed, lines)) if a != b), len(changed))
    assert check.bad_line == first + 1


# --------------------------------------------------------------------------- canonical unit ids


@pytest.mark.parametrize(
    ("value", "key"),
    [(1, "1"), (np.int64(1), "1"), (1.0, "1"), (np.float64(7.0), "7"), ("1", "1"), ("01", "01"), (" 1", " 1"),
     ("1.0", "1.0"), (-3, "-3"), (2**70, str(2**70))],
)
def test_unit_key_canonical_form(value, key):
    assert logmod.unit_key(value) == key


@pytest.mark.parametrize("value", [True, 1.5, float("nan"), float("inf"), 2.0**60, None, (1, 2)])
def test_unit_key_refuses_ambiguous_ids(value):
    with pytest.raises(DataError, match="identifier"):
        logmod.unit_key(value)


def test_api_int_and_cli_text_are_the_same_person(tmp_path):
    log = tmp_path / "alloc.jsonl"
    lot = BatchLottery(log, seed=3)
    lot.draw([1, 2, 3, 4], batch="api")
    units = tmp_path / "units.csv"
    units.write_text("id\n1\n2\n5\n6\n01\n")
    code, out = _cli("randomise", "--units", str(units), "--batch", "cli", "--log", str(log), "--seed", "3")
    assert code == 0
    assert sorted(pd.read_csv(io.StringIO(out), dtype=str)["id"]) == ["01", "5", "6"]  # "01" is someone else
    again = BatchLottery(log, seed=3)
    excluded = again.exclusions()
    assert sorted(map(str, excluded["id"])) == ["1", "2"]
    assert set(excluded["reason"]) == {"already randomised in batch api"}
    # and back: the CLI's "5" is the API's 5, 5.0 and numpy 5
    d = again.draw(pd.DataFrame({"id": [5.0, np.int64(6), 7]}), batch="api-2")
    assert d.allocation["id"].tolist() == [7] and sorted(d.excluded["id"].tolist()) == [5, 6]
    keys = [logmod.unit_key(u) for rec in AllocationLog(log).records() if rec["type"] == "draw" for u in record_units(rec)[0]]
    assert len(keys) == len(set(keys))


def test_replay_compares_canonical_ids(tmp_path):
    lot = BatchLottery(tmp_path / "a.jsonl", seed=3)
    first = lot.draw([1, 2, 3], batch="b")
    again = lot.draw(["1", "2", "3"], batch="b")  # the same people, read as text
    assert again.replayed and again.allocation.equals(first.allocation)
    with pytest.raises(DesignError, match="differ"):
        lot.draw(["01", "2", "3"], batch="b")


def test_ids_equal_after_canonical_form_are_duplicates():
    with pytest.raises(DataError, match="more than once"):
        BatchLottery(None, seed=1).draw(pd.DataFrame({"id": [1, "1", 2]}, dtype=object), batch="b")
    with pytest.raises(DataError, match="id column 'id'.*True/False"):
        BatchLottery(None, seed=1).draw(pd.DataFrame({"id": [True, False]}), batch="b")


def test_withdraw_by_either_form(tmp_path):
    lot = BatchLottery(tmp_path / "a.jsonl", seed=3)
    lot.draw([1, 2, 3, 4], batch="b")
    lot.withdraw(["2"], reason="moved")
    with pytest.raises(DataError, match="already withdrawn"):
        lot.withdraw([2], reason="moved")
    assert lot.allocations().set_index("id").loc[2, "withdrawn"]


# --------------------------------------------------------------------------- locking and temporary files


def _append_notes(path: str, n: int, tag: str) -> None:  # run in a child process
    log = AllocationLog(path)
    for i in range(n):
        log.append({"type": "note", "text": f"{tag}-{i}"})


def test_two_processes_appending_directly_keep_the_log_intact(tmp_path):
    import multiprocessing as mp

    path = str(tmp_path / "alloc.jsonl")
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_append_notes, args=(path, 25, tag)) for tag in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    check = verify_log(path)
    assert check.ok and check.n_records == 50
    texts = sorted(r["text"] for r in AllocationLog(path).records())
    assert texts == sorted(f"{t}-{i}" for t in "ab" for i in range(25))


def test_append_lock_is_reentrant_within_a_process(tmp_path):
    log = AllocationLog(tmp_path / "a.jsonl")
    with log.locked(), AllocationLog(tmp_path / "a.jsonl").locked():
        log.append({"type": "note"})  # would wait for itself if each open took its own flock
    assert verify_log(log.path).ok


def test_temporary_files_of_a_killed_append_are_removed_on_open(tmp_path):
    path = tmp_path / "alloc.jsonl"
    AllocationLog(path).append({"type": "note"})
    ours = [tmp_path / ".alloc.jsonl.ab3_x9zq.tmp", tmp_path / ".alloc.jsonl.head.0k2m_a1b.tmp"]
    others = [tmp_path / ".other.jsonl.ab3_x9zq.tmp", tmp_path / "alloc.jsonl.tmp", tmp_path / ".alloc.jsonl.notes.tmp"]
    for f in ours + others:
        f.write_text("partial")
    AllocationLog(path)
    assert not any(f.exists() for f in ours)
    assert all(f.exists() for f in others)
    assert verify_log(path).ok


def test_a_directory_as_the_log_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="is a directory"):
        AllocationLog(tmp_path)
    with pytest.raises(DataError, match="is a directory"):
        verify_log(tmp_path)


def test_full_disk_leaves_the_log_unchanged(tmp_path, monkeypatch):
    import errno

    path = tmp_path / "alloc.jsonl"
    lot = BatchLottery(path, seed=1)
    lot.draw([1, 2], batch="a")
    before = path.read_bytes()
    real = logmod._atomic_write

    def full(p, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    def full_append(p, line, size):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(logmod, "_atomic_write", full)
    monkeypatch.setattr(logmod, "_append_line", full_append)
    with pytest.raises(DataError, match="the disk is full. Nothing was appended"):
        lot.draw([3, 4], batch="b")
    assert path.read_bytes() == before and verify_log(path).ok
    monkeypatch.undo()

    def head_full(p, data):
        if p.name.endswith(".head"):
            raise OSError(errno.ENOSPC, "No space left on device")
        real(p, data)

    monkeypatch.setattr(logmod, "_atomic_write", head_full)
    with pytest.raises(DataError, match="the record was appended"):
        lot.draw([3, 4], batch="b")
    monkeypatch.setattr(logmod, "_atomic_write", real)
    assert verify_log(path).ok
    again = lot.draw([3, 4], batch="b")
    assert again.replayed


# --------------------------------------------------------------------------- keyed and pinned heads


@pytest.fixture
def key_file(tmp_path):
    folder = tmp_path / "keys"
    folder.mkdir()
    return logmod.new_key(folder / "trial.key")


def _keyed_log(tmp_path, key_file, batches=3):
    path = tmp_path / "log" / "alloc.jsonl"
    lot = BatchLottery(path, seed=7, key=key_file)
    for b in range(batches):
        lot.draw([f"b{b}-{i}" for i in range(4)], batch=f"b{b}")
    return path, lot


def _forge_last(path: Path) -> None:
    """Append a record with a correct chain hash, as anyone with the file can."""
    records = [json.loads(line) for line in path.read_bytes().splitlines()]
    body = {"type": "withdraw", "ids": ["b0-0"], "reason": "forged", "seq": len(records), "prev": records[-1]["hash"],
            "time": "2026-01-01T00:00:00+00:00"}
    rec = {**body, "hash": logmod._hash(body)}
    path.write_bytes(path.read_bytes() + logmod._canonical(rec).encode() + b"\n")


def test_unkeyed_chain_accepts_a_forged_last_record(tmp_path):
    path = tmp_path / "alloc.jsonl"
    _make_log(path, batches=2)
    _forge_last(path)
    assert verify_log(path).ok  # documented limit of the unkeyed chain


def test_keyed_log_detects_a_forged_last_record(tmp_path, key_file):
    path, _ = _keyed_log(tmp_path, key_file)
    assert verify_log(path, key=key_file).ok
    _forge_last(path)
    check = verify_log(path, key=key_file)
    assert not check.ok and check.bad_line == 5 and "MAC" in check.message
    with pytest.raises(DesignError, match="damaged"):
        BatchLottery(path, seed=7, key=key_file)


def test_keyed_log_detects_a_replaced_or_deleted_head(tmp_path, key_file):
    path, _ = _keyed_log(tmp_path, key_file)
    head = Path(str(path) + ".head")
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-1]))  # drop the last draw and write a matching, unkeyed head
    last = json.loads(lines[-2])
    head.write_text(logmod._canonical({"records": len(lines) - 1, "hash": last["hash"]}) + "\n")
    assert verify_log(path).ok  # the chain alone cannot tell
    check = verify_log(path, key=key_file)
    assert not check.ok and "replaced or forged" in check.message
    head.unlink()
    assert not verify_log(path, key=key_file).ok


def test_keyed_log_rules(tmp_path, key_file):
    path, _ = _keyed_log(tmp_path, key_file)
    check = verify_log(path)
    assert check.ok and "keyed" in check.message
    with pytest.raises(DesignError, match="is keyed; pass its key"):
        BatchLottery(path, seed=7).draw(["x"], batch="new")
    plain = tmp_path / "plain" / "plain.jsonl"
    plain.parent.mkdir()
    _make_log(plain, batches=1)
    with pytest.raises(DesignError, match="started without a key"):
        AllocationLog(plain, key=key_file).append({"type": "note"})
    other = tmp_path / "keys" / "other.key"
    other.write_text("x" * 32)
    assert not verify_log(path, key=other).ok


def test_key_file_rules(tmp_path, key_file):
    with pytest.raises(DataError, match="already exists"):
        logmod.new_key(key_file)
    beside = tmp_path / "log" / "trial.key"
    beside.parent.mkdir(exist_ok=True)
    beside.write_text("k" * 40)
    with pytest.raises(DataError, match="inside the log's folder"):
        AllocationLog(tmp_path / "log" / "alloc.jsonl", key=beside)
    short = tmp_path / "keys" / "short.key"
    short.write_text("abc")
    with pytest.raises(DataError, match="at least 16"):
        AllocationLog(tmp_path / "log" / "alloc.jsonl", key=short)
    with pytest.raises(DataError, match="does not exist"):
        AllocationLog(tmp_path / "log" / "alloc.jsonl", key=tmp_path / "nokey")


def test_pinned_head_detects_truncation_and_rollback(tmp_path):
    path = tmp_path / "alloc.jsonl"
    lot = BatchLottery(path, seed=7)
    lot.draw(["a", "b"], batch="1")
    old_log, old_head = path.read_bytes(), Path(str(path) + ".head").read_bytes()
    lot.draw(["c", "d"], batch="2")
    pin = logmod.head_pin(path)
    assert pin.startswith("3:") and verify_log(path, pin=pin).ok and lot.verify(pin=pin).ok
    lot.draw(["e"], batch="3")
    assert verify_log(path, pin=pin).ok  # appends after the pin are fine
    path.write_bytes(old_log)  # roll back to before the pin, with its own head: the chain is intact
    Path(str(path) + ".head").write_bytes(old_head)
    assert verify_log(path).ok
    check = verify_log(path, pin=pin)
    assert not check.ok and "rolled back" in check.message
    with pytest.raises(DesignError, match="must look like"):
        verify_log(path, pin="3:xyz")


# --------------------------------------------------------------------------- CLI: errors, keys and pins


def test_cli_blank_line_in_units_is_an_error_naming_it(tmp_path):
    units = tmp_path / "u.csv"
    units.write_text("id\n1\n2\n\n3\n")
    with pytest.raises(DataError, match=r"line 4 is blank"):
        _cli("randomise", "--units", str(units), "--batch", "b", "--log", str(tmp_path / "l.jsonl"), "--seed", "1")
    units.write_text("id,age\n1,30\n   \n2,40\n,\n3,50\n")  # spaces only, or separators only
    with pytest.raises(DataError, match=r"lines 3, 5 are blank"):
        _cli("randomise", "--units", str(units), "--batch", "b", "--log", str(tmp_path / "l.jsonl"), "--seed", "1")
    units.write_text("id\n1\n2\n3\n\n\n")  # blank lines at the end are ignored
    code, out = _cli("randomise", "--units", str(units), "--batch", "b", "--log", str(tmp_path / "l.jsonl"), "--seed", "1")
    assert code == 0 and sorted(pd.read_csv(io.StringIO(out))["id"]) == [1, 2, 3]


def test_effekt_command_os_errors_are_one_line(tmp_path):
    units = tmp_path / "u.csv"
    units.write_text("id\n1\n2\n")
    for args in (["randomise", "--units", str(units), "--batch", "b", "--log", str(tmp_path), "--seed", "1"],
                 ["verify-log", str(tmp_path)],
                 ["randomise", "--units", str(tmp_path), "--batch", "b", "--log", str(tmp_path / "l"), "--seed", "1"]):
        out = _effekt(*args)
        assert out.returncode == 2, out.stderr
        assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
        assert "directory" in out.stderr or "could not be read" in out.stderr


def test_main_turns_an_os_error_into_one_line(tmp_path, monkeypatch, capsys):
    import errno

    from effekt.cli import main

    def full(self):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "l.jsonl.lock"))

    monkeypatch.setattr(logmod.AllocationLog, "locked", full)
    units = tmp_path / "u.csv"
    units.write_text("id\n1\n2\n")
    code = main(["randomise", "--units", str(units), "--batch", "b", "--log", str(tmp_path / "l.jsonl"), "--seed", "1"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "the disk is full" in err and "l.jsonl.lock" in err


def test_cli_keyed_log_head_and_pin(tmp_path):
    from effekt.cli import main

    key = tmp_path / "keys" / "trial.key"
    key.parent.mkdir()
    log = tmp_path / "log" / "alloc.jsonl"
    units = tmp_path / "u.csv"
    units.write_text("id\n1\n2\n3\n")
    assert main(["log-key", str(key)]) == 0 and len(key.read_text().strip()) == 64
    assert main(["log-key", str(key)]) == 2  # never overwritten
    base = ["randomise", "--units", str(units), "--log", str(log), "--seed", "1", "--key", str(key)]
    code, _ = _cli(*base, "--batch", "a")
    assert code == 0
    code, pin = _cli("log-head", str(log), "--key", str(key))
    pin = pin.strip()
    assert code == 0 and pin.startswith("2:") and len(pin) == 66
    code, out = _cli("verify-log", str(log), "--key", str(key), "--pin", pin)
    assert code == 0 and "intact" in out
    _forge_last(log)
    code, out = _cli("verify-log", str(log), "--key", str(key), "--pin", pin)
    assert code == 1 and "line 3:" in out and "MAC" in out
