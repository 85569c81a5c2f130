"""The hash-chained allocation log: tamper detection, crash safety, CLI."""

from __future__ import annotations

import argparse
import contextlib
import io
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import effekt.design.log as logmod
from effekt.design.cli import register
from effekt.design.log import AllocationLog, verify_log
from effekt.design.lottery import BatchLottery
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
    path = _write(tmp_path, content.replace(b'"treatment"]', b'"control"]', 1), head)
    with pytest.raises(DesignError, match="is damaged .*nothing is drawn from a damaged log"):
        BatchLottery(path, seed=7, capacity={"treatment": 50})


def test_crash_before_the_log_is_replaced_leaves_the_old_log(tmp_path, monkeypatch):
    path = tmp_path / "alloc.jsonl"
    before = _make_log(path, batches=2)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(logmod.os, "replace", killed)
    lot = BatchLottery(path, seed=7, capacity={"treatment": 50})
    with pytest.raises(KeyboardInterrupt):
        lot.draw(pd.DataFrame({"id": ["x", "y"]}), batch="b9")
    assert path.read_bytes() == before
    assert verify_log(path).ok
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


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


def test_log_without_head_file_verifies_with_a_warning(tmp_path, pristine):
    content, _ = pristine
    path = tmp_path / "alloc.jsonl"
    path.write_bytes(content)
    check = verify_log(path)
    assert check.ok and "no head file" in check.message


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
