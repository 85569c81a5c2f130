"""Crash tests of the allocation log: SIGKILL, a full disk, processes appending at once.

A forked child draws a fixed sequence of batches (through ``BatchLottery``)
or appends notes (through ``AllocationLog``), reporting each completed call
on a pipe; the parent kills it with SIGKILL at a random moment, or limits its
file size (``RLIMIT_FSIZE``: the child's writes fail with EFBIG as on a full
disk), or runs several at once. After every fault:

* the log verifies;
* no unit holds two allocations (by :func:`~effekt.design.log.unit_key`,
  and the batches give the same people as integers and as text);
* every call the child reported as done is in the log (nothing lost);
* redrawing any logged batch returns the logged arms, and the arms are
  those of an uninterrupted in-memory run with the same seed;
* temporary files left beside the log are removed on the next open.

A further test kills appends of large lines while they are being written
(the child writes 64 KiB at a time), so that kills leave an incomplete last
line, which must verify and be removed by the next append.

The budget is bounded for CI (``EFFEKT_RELIABILITY`` unset: 200 kills and
20 of a keyed log, 20 of large lines,
40 full-disk faults, 6 concurrent rounds: about 45 s).
``EFFEKT_RELIABILITY=full`` runs 2,000 kills (and 200 keyed, 200 of large lines), 400 faults and 60 rounds and
prints the counts for the table in tests/reliability/README.md.
"""

from __future__ import annotations

import contextlib
import os
import random
import resource
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from effekt.design.log import AllocationLog, _temp_pattern, unit_key, verify_log
from effekt.design.lottery import BatchLottery, record_excluded, record_units
from effekt.errors import EffektError

pytestmark = pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "win32", reason="needs fork and SIGKILL")

FULL = os.environ.get("EFFEKT_RELIABILITY", "").lower() == "full"
KILLS = 2000 if FULL else 200
FAULTS = 400 if FULL else 40
ROUNDS = 60 if FULL else 6

SEED = 2017
N_BATCHES = 10
SETTINGS = {"seed": SEED, "odd": "alternate", "capacity": {"treatment": 24}}


def batch_units(b: int) -> list[object]:
    """Eight people per batch, three of them also in the batch before; even batches as ints, odd as text."""
    ids = range(b * 5, b * 5 + 8)
    return list(ids) if b % 2 == 0 else [str(i) for i in ids]


def batch_name(b: int) -> str:
    return f"lottery-{b:02d}"


def _reference() -> dict[str, list[tuple[str, str]]]:
    lot = BatchLottery(None, **SETTINGS)
    out = {}
    for b in range(N_BATCHES):
        d = lot.draw(batch_units(b), batch=batch_name(b), date="2017-01-16")
        out[d.batch] = [(unit_key(u), a) for u, a in zip(d.allocation["id"], d.allocation["arm"])]
    return out


REFERENCE = _reference()


@dataclass
class Tally:
    kills: int = 0
    kills_mid_run: int = 0
    faults: int = 0
    completed_runs: int = 0
    checks: int = 0
    temp_files_cleaned: int = 0
    appends: int = 0
    lost: int = 0
    duplicated: int = 0
    reported: set[str] = field(default_factory=set)


# --------------------------------------------------------------------------- children (run after fork)


def _child(target, write_fd: int) -> None:
    """Run ``target(report)`` in the forked child and leave without pytest's exit handlers."""
    code = 0
    try:
        target(lambda text: os.write(write_fd, (text + "\n").encode()))
    except EffektError as exc:
        os.write(write_fd, f"!fault {type(exc).__name__}: {exc}\n".encode())
        code = 3
    except OSError as exc:
        os.write(write_fd, f"!oserror {exc.errno} {exc}\n".encode())
        code = 4
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which fails the test
        os.write(write_fd, f"!crash {type(exc).__name__}: {exc}\n".encode())
        code = 5
    finally:
        os._exit(code)


def _draw_batches(path: Path, *, prefix: str = "", order: list[int] | None = None, key: bytes | None = None):
    def run(report):
        lot = BatchLottery(path, **SETTINGS, key=key)
        for b in order if order is not None else range(N_BATCHES):
            d = lot.draw(batch_units(b), batch=prefix + batch_name(b), date="2017-01-16")
            report(f"draw {d.batch}")

    return run


def _append_notes(path: Path, tag: str, n: int, *, resume: bool = False):
    """Append notes tag-0 .. tag-(n-1); ``resume``: continue after the notes already in the log."""

    def run(report):
        log = AllocationLog(path)
        start = len(log.records()) if resume else 0
        for i in range(start, n):
            log.append({"type": "note", "text": f"{tag}-{i}"})
            report(f"note {tag}-{i}")

    return run


def _spawn(target) -> tuple[int, int]:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(r)
        _child(target, w)
    os.close(w)
    return pid, r


def _collect(pid: int, r: int) -> tuple[int, list[str]]:
    _, status = os.waitpid(pid, 0)
    chunks = []
    while True:
        part = os.read(r, 65536)
        if not part:
            break
        chunks.append(part)
    os.close(r)
    return status, b"".join(chunks).decode().splitlines()


def _run_killed(target, delay: float) -> tuple[bool, list[str]]:
    """Start the child, SIGKILL it after ``delay`` s; True when it was killed before finishing."""
    pid, r = _spawn(target)
    time.sleep(delay)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    status, lines = _collect(pid, r)
    killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    return killed, lines


# --------------------------------------------------------------------------- checks


def _crashes(lines: list[str]) -> list[str]:
    return [x for x in lines if x.startswith("!crash") or x.startswith("!oserror")]


def _check_log(path: Path, tally: Tally, *, prefixes: tuple[str, ...] = ("",), replay_all: bool = True,
               key: bytes | None = None) -> None:
    temps = [p for p in path.parent.iterdir() if _temp_pattern(path).fullmatch(p.name)] if path.parent.exists() else []
    tally.temp_files_cleaned += len(temps)
    if not path.exists():  # stopped before its first record was written
        AllocationLog(path)
        assert not tally.reported
        tally.checks += 1
        return
    check = verify_log(path, key=key)
    assert check.ok, check.message
    records = AllocationLog(path, key=key).records()  # also removes the temporary files
    assert not [p for p in path.parent.iterdir() if _temp_pattern(path).fullmatch(p.name)]
    tally.checks += 1
    draws = {r["batch"]: r for r in records if r.get("type") == "draw"}
    holders: dict[str, str] = {}
    for rec in draws.values():
        for uid in record_units(rec)[0]:
            who = unit_key(uid)
            if who in holders:
                tally.duplicated += 1
            holders[who] = rec["batch"]
    texts = [r["text"] for r in records if r.get("type") == "note"]
    notes = set(texts)
    tally.duplicated += len(texts) - len(notes)
    for item in tally.reported:
        kind, _, name = item.partition(" ")
        if (kind == "draw" and name not in draws) or (kind == "note" and name not in notes):
            tally.lost += 1
    for name, rec in draws.items():
        prefix = next(p for p in sorted(prefixes, key=len, reverse=True) if name.startswith(p))
        if prefix == "":
            assert [(unit_key(u), a) for u, a in zip(*record_units(rec))] == REFERENCE[name], f"{name} differs from the reference"
    if replay_all and draws:
        lot = BatchLottery(path, **SETTINGS, key=key)
        for name, rec in draws.items():
            b = int(name.rsplit("-", 1)[1])
            again = lot.draw(batch_units(b), batch=name)
            assert again.replayed and again.allocation.values.tolist() == [list(u) for u in zip(*record_units(rec))]
    assert tally.duplicated == 0 and tally.lost == 0


def _reported(lines: list[str]) -> set[str]:
    return {x for x in lines if x.startswith(("draw ", "note "))}


# --------------------------------------------------------------------------- tests


def _kill_loop(tmp_path: Path, tally: Tally, kills: int, make_target, max_delay: float, *, replay_all: bool,
               key: bytes | None = None) -> None:
    rng = random.Random(20170116)
    run = 0
    path = tmp_path / f"run{run}" / "alloc.jsonl"
    while tally.kills < kills:
        killed, lines = _run_killed(make_target(path), rng.uniform(0.0, max_delay))
        assert not _crashes(lines), lines
        tally.reported |= _reported(lines)
        if killed:
            tally.kills += 1
            tally.kills_mid_run += bool(lines) or path.exists()
        _check_log(path, tally, replay_all=replay_all and (tally.checks % 4 == 0 or not killed), key=key)
        if not replay_all and path.exists():  # notes: exactly n-0 .. n-(k-1), none lost, none twice
            texts = [r["text"] for r in AllocationLog(path).records()]
            assert texts == [f"n-{i}" for i in range(len(texts))]
        if not killed:  # the run finished: start a new log
            tally.completed_runs += 1
            run += 1
            path = tmp_path / f"run{run}" / "alloc.jsonl"
            tally.reported = set()


def _summary(name: str, tally: Tally) -> None:
    print(
        f"\n{name}: {tally.kills} kills ({tally.kills_mid_run} with a log), {tally.faults} faults, "
        f"{tally.completed_runs} completed runs, {tally.checks} checks, {tally.temp_files_cleaned} temp files "
        f"cleaned, {tally.lost} lost, {tally.duplicated} duplicated allocations"
    )


def test_sigkill_during_batch_lottery_draws(tmp_path):
    tally = Tally()
    _kill_loop(tmp_path, tally, int(KILLS * 0.75), _draw_batches, 0.08, replay_all=True)
    _summary("BatchLottery SIGKILL", tally)
    assert tally.kills >= int(KILLS * 0.75) and tally.lost == 0 and tally.duplicated == 0


def test_sigkill_during_keyed_draws(tmp_path):
    """The same for a keyed log: the MACs of every record and of the repaired heads verify after each kill."""
    key = b"k" * 32
    tally = Tally()
    kills = KILLS // 10
    _kill_loop(tmp_path, tally, kills, lambda p: _draw_batches(p, key=key), 0.08, replay_all=True, key=key)
    _summary("keyed BatchLottery SIGKILL", tally)
    assert tally.kills >= kills


def test_sigkill_during_direct_appends(tmp_path):
    tally = Tally()
    _kill_loop(tmp_path, tally, KILLS - int(KILLS * 0.75), lambda p: _append_notes(p, "n", 20, resume=True), 0.08,
               replay_all=False)
    _summary("AllocationLog SIGKILL", tally)
    assert tally.kills >= KILLS - int(KILLS * 0.75)


def _append_large_notes(path: Path, n: int, size: int):
    """Append notes big-0 .. big-(n-1) after those in the log, each ``size`` bytes of text.

    The child's writes go out 64 KiB at a time, a millisecond apart (a slow
    disk: ``write`` may write less than it was given), so a line takes a
    while to write and a kill often lands inside it.
    """

    def run(report):
        real_write = os.write

        def slow_write(fd, data):
            time.sleep(0.001)
            return real_write(fd, bytes(data[:65536]))

        os.write = slow_write
        log = AllocationLog(path)
        for i in range(len(log.records()), n):
            log.append({"type": "note", "text": f"big-{i}", "pad": "x" * size})
            report(f"note big-{i}")

    return run


def _run_killed_after_report(target, delay: float) -> tuple[bool, list[str]]:
    """Start the child, wait for its first report (an append done, the next one starting), SIGKILL it ``delay`` s later."""
    pid, r = _spawn(target)
    first = b""
    while not first.endswith(b"\n"):
        part = os.read(r, 1)
        if not part:
            break
        first += part
    time.sleep(delay)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    status, lines = _collect(pid, r)
    killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    return killed, first.decode().splitlines() + lines


def test_sigkill_while_writing_large_lines(tmp_path):
    """A kill while a line is being written leaves an incomplete last line.

    The log verifies with it, every reported append is in the log, and the
    next run removes it before appending.
    """
    rng = random.Random(3)
    kills = max(KILLS // 10, 12)
    torn = killed_total = 0
    path = tmp_path / "big" / "alloc.jsonl"
    reported: set[str] = set()
    while killed_total < kills:
        killed, lines = _run_killed_after_report(_append_large_notes(path, 4, 2**20), rng.uniform(0.0, 0.03))
        assert not _crashes(lines), lines
        reported |= _reported(lines)
        killed_total += killed
        if not path.exists():
            continue
        torn += not path.read_bytes().endswith(b"\n")
        check = verify_log(path)
        assert check.ok, check.message
        texts = [r["text"] for r in AllocationLog(path).records()]
        assert texts == [f"big-{i}" for i in range(len(texts))]
        assert {f"note {t}" for t in texts} >= reported
        if not killed:
            assert path.read_bytes().endswith(b"\n") and len(texts) == 4
            path = tmp_path / f"big{killed_total}" / "alloc.jsonl"
            reported = set()
    assert torn > 0  # the kills did land inside lines
    print(f"\nlarge lines: {killed_total} kills, {torn} left an incomplete last line, all verified and repaired")


def _limited(target, limit: int):
    def run(report):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
        target(report)

    return run


def test_full_disk_during_draws_loses_nothing(tmp_path):
    rng = random.Random(7)
    tally = Tally()
    run = 0
    path = tmp_path / "run0" / "alloc.jsonl"
    while tally.faults < FAULTS:
        size = path.stat().st_size if path.exists() else 0
        limit = size + rng.randint(0, 1500)
        pid, r = _spawn(_limited(_draw_batches(path), limit))
        status, lines = _collect(pid, r)
        assert not _crashes(lines), lines
        faults = [x for x in lines if x.startswith("!fault")]
        tally.reported |= _reported(lines)
        if faults:
            assert "file-size limit" in faults[0] and "still verifies" in faults[0], faults
            tally.faults += 1
        _check_log(path, tally, replay_all=tally.faults % 5 == 0)
        if not faults:
            tally.completed_runs += 1
            run += 1
            path = tmp_path / f"run{run}" / "alloc.jsonl"
            tally.reported = set()
    _summary("full disk (RLIMIT_FSIZE)", tally)
    assert tally.lost == 0 and tally.duplicated == 0


def test_processes_drawing_and_appending_at_once(tmp_path):
    rng = random.Random(11)
    tally = Tally()
    for rnd in range(ROUNDS):
        path = tmp_path / f"round{rnd}" / "alloc.jsonl"
        orders = [rng.sample(range(N_BATCHES), N_BATCHES) for _ in range(3)]
        children = [_spawn(_draw_batches(path, prefix=f"p{k}-", order=orders[k])) for k in range(3)]
        children += [_spawn(_append_notes(path, f"w{k}", 8)) for k in range(2)]
        victim = rng.randrange(len(children)) if rnd % 2 else None  # every other round, one is killed
        if victim is not None:
            time.sleep(rng.uniform(0.0, 0.3))
            with contextlib.suppress(ProcessLookupError):
                os.kill(children[victim][0], signal.SIGKILL)
            tally.kills += 1
        for i, (pid, r) in enumerate(children):
            status, lines = _collect(pid, r)
            assert not _crashes(lines), lines
            if i != victim:
                assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, lines
            tally.reported |= _reported(lines)
        _check_log(path, tally, prefixes=("p0-", "p1-", "p2-"), replay_all=False)
        records = AllocationLog(path).records()
        allocated = [unit_key(u) for r in records if r.get("type") == "draw" for u in record_units(r)[0]]
        assert len(allocated) == len(set(allocated))
        if victim is None:  # every person offered was allocated exactly once, or capacity stopped them
            offered = {unit_key(u) for b in range(N_BATCHES) for u in batch_units(b)}
            excluded = {unit_key(u) for r in records if r.get("type") == "draw" for u, why in zip(*record_excluded(r))
                        if why == "capacity reached"}
            assert set(allocated) | excluded == offered
            assert len([r for r in records if r.get("type") == "draw"]) == 3 * N_BATCHES
            assert len([r for r in records if r.get("type") == "note"]) == 16
        tally.appends += len(records)
        tally.reported = set()
    print(f"\nconcurrent processes: {ROUNDS} rounds of 5 processes, {tally.appends} records appended, {tally.kills} "
          f"killed mid-round, {tally.lost} lost, {tally.duplicated} duplicated allocations")


def test_cli_on_a_full_disk_prints_one_line(tmp_path):
    import shutil
    import subprocess

    exe = shutil.which("effekt") or str(Path(sys.executable).with_name("effekt"))
    units = tmp_path / "u.csv"
    units.write_text("id\n" + "".join(f"{i}\n" for i in range(40)))
    log = tmp_path / "alloc.jsonl"
    BatchLottery(log, seed=1)
    size = log.stat().st_size

    def limit():  # pragma: no cover - runs in the child
        resource.setrlimit(resource.RLIMIT_FSIZE, (size + 200, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

    out = subprocess.run([exe, "randomise", "--units", str(units), "--batch", "b", "--log", str(log), "--seed", "1"],
                         capture_output=True, text=True, timeout=120, preexec_fn=limit)
    assert out.returncode == 2, out.stderr
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr and "file-size limit" in out.stderr
    assert verify_log(log).ok and log.stat().st_size == size


def test_the_checks_can_fail(tmp_path):
    """A reported draw missing from the log, and a unit in two draws, are caught (the checks are not vacuous)."""
    path = tmp_path / "alloc.jsonl"
    BatchLottery(path, **SETTINGS).draw(batch_units(0), batch=batch_name(0))
    tally = Tally(reported={"draw lottery-99"})
    with pytest.raises(AssertionError):
        _check_log(path, tally)
    assert tally.lost == 1
    other = tmp_path / "other" / "alloc.jsonl"
    log = AllocationLog(other)
    log.append({"type": "draw", "batch": "x-1", "units": [[1, "control"]], "excluded": []})
    log.append({"type": "draw", "batch": "x-2", "units": [["1", "treatment"]], "excluded": []})
    tally = Tally()
    with pytest.raises(AssertionError):
        _check_log(other, tally, prefixes=("x-",), replay_all=False)
    assert tally.duplicated == 1
