"""Start-up time of the ``effekt`` command and of ``import effekt``, against ``python -c pass``.

Each command is run ``--runs`` times (default 15) as a fresh process, the
commands interleaved round by round so that a burst of load on a shared
machine falls on all of them; the median wall time is reported in seconds
and as a ratio to a bare interpreter (``python -c pass``). The target is
under 0.5 s for ``effekt --help``, ``effekt power ...`` and ``effekt power NAME
--help``. Every command must exit with status 0.

Run: flock /tmp/effekt-bench.lock .venv/bin/python benchmarks/bench_startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import scipy

TARGET_S = 0.5


def _commands() -> list[tuple[str, list[str], bool]]:
    """(label, argv, held to the target)."""
    python = sys.executable
    script = Path(python).with_name("effekt")
    cli = [str(script)] if script.exists() else [python, "-m", "effekt.cli"]
    return [
        ("python -c pass", [python, "-c", "pass"], False),
        ('python -c "import effekt"', [python, "-c", "import effekt"], False),
        ("effekt --help", [*cli, "--help"], True),
        (
            "effekt power two_proportions --p1 0.1 --n 100 --power 0.8",
            [*cli, "power", "two_proportions", "--p1", "0.1", "--n", "100", "--power", "0.8"],
            True,
        ),
        ("effekt power two_proportions --help", [*cli, "power", "two_proportions", "--help"], True),
    ]


def _run(argv: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited with {done.returncode}: {done.stderr.strip()}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    commands = _commands()
    for _, argv, _ in commands:  # warm the file cache and the bytecode
        _run(argv)
    times: dict[str, list[float]] = {label: [] for label, _, _ in commands}
    for _ in range(args.runs):
        for label, argv, _ in commands:
            times[label].append(_run(argv))
    import pandas

    print(
        f"Python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"pandas {pandas.__version__}; {platform.system()} {platform.machine()}; median of {args.runs} runs"
    )
    base = statistics.median(times["python -c pass"])
    missed = []
    for label, _, held in commands:
        med = statistics.median(times[label])
        spread = f"{min(times[label]):.3f}-{max(times[label]):.3f}"
        verdict = ("ok" if med < TARGET_S else "ABOVE TARGET") if held else ""
        print(f"{label:<60} {med:6.3f} s  (range {spread})  x{med / base:5.1f} python -c pass  {verdict}")
        if held and med >= TARGET_S:
            missed.append(label)
    if missed:
        print(f"above the {TARGET_S} s target: {', '.join(missed)}")


if __name__ == "__main__":
    main()
