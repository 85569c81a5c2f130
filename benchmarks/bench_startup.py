"""Start-up time of the ``effekt`` command and of ``import effekt``, against ``python -c pass``.

Each command is a fresh process; the runner interleaves the command and the
bare interpreter round by round (so a burst of load on a shared machine
falls on both) and reports the median of 15 rounds and the ratio to
``python -c pass``. The goal is an absolute one: under 0.5 s for
``effekt --help``, ``effekt power ...`` and ``effekt power NAME --help``
(``Case.max_seconds``). Every command must exit with status 0 (the check).

Run: ``python -m benchmarks --only startup``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.cases import Case, Measured, Peer

TARGET_S = 0.5


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("effekt")
    return [str(script)] if script.exists() else [sys.executable, "-m", "effekt.cli"]


def _command(argv_tail: list[str], cli: bool) -> Any:
    def run(_: Any) -> Measured:
        argv = [*_cli(), *argv_tail] if cli else [sys.executable, *argv_tail]
        start = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} exited with {done.returncode}: {done.stderr.strip()[-300:]}")
        return Measured(elapsed, done.returncode)

    return run


def _exit_zero(_: Any, ours: int, theirs: int) -> None:
    assert ours == 0 and theirs == 0, f"exit status {ours} (effekt), {theirs} (python -c pass)"


BARE = Peer("python -c pass", _command(["-c", "pass"], cli=False), _exit_zero)


def _case(name: str, title: str, tail: list[str], cli: bool, goal: float | None) -> Case:
    return Case(name=f"startup.{name}", title=title, setup=lambda _: None, effekt=_command(tail, cli), peers=(BARE,),
                sizes=(1,), quick_size=1, unit="process", repeat=15, summary="median", max_seconds=goal)


CASES = [
    _case("import", 'python -c "import effekt"', ["-c", "import effekt"], False, None),
    _case("help", "effekt --help", ["--help"], True, TARGET_S),
    _case("power", "effekt power two_proportions --p1 0.1 --n 100 --power 0.8",
          ["power", "two_proportions", "--p1", "0.1", "--n", "100", "--power", "0.8"], True, TARGET_S),
    _case("power_help", "effekt power two_proportions --help", ["power", "two_proportions", "--help"], True,
          TARGET_S),
]
