"""effekt.simulate on Dask: throughput of 2 workers against 1 on 2,000 simulations.

The blocked example design (difference in means and Lin, 100 units) is
diagnosed with 2,000 simulations on a local Dask cluster of 1 and of 2
worker processes (one thread each), after a warm-up that starts the workers
and imports effekt on them. The script first checks that both runs give the
identical simulations table and diagnosands (and the serial backend on the
first 200 simulations), then prints simulations per second and the ratio, next to a control: the
speed-up of 2 processes over 1 on pure-Python CPU work just before and
after, which says how much of a second core the machine had to give.
Bootstrap SEs are off (``bootstrap_sims=0``): they run in the client after
the simulations and are not what the workers share.

Run: .venv/bin/python benchmarks/bench_simulate.py [SIMS]
"""

from __future__ import annotations

import os
import platform
import sys
import time

import dask
import distributed
import numpy as np
import pandas as pd
from distributed import Client, LocalCluster

from effekt.simulate import Design, diagnose


def run(design: Design, sims: int, workers: int) -> tuple[float, object]:
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        diagnose(design, sims=2 * workers, seed=1, bootstrap_sims=0, backend="dask", client=client)  # warm-up
        t0 = time.perf_counter()
        diag = diagnose(design, sims=sims, seed=2026, bootstrap_sims=0, backend="dask", client=client)
        return time.perf_counter() - t0, diag


def _burn(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def free_parallelism() -> float:
    """Speed-up of 2 processes over 1 on pure-Python CPU work: what the machine gives right now."""
    from joblib import Parallel, delayed

    times = []
    for jobs in (1, 2):
        t0 = time.perf_counter()
        Parallel(n_jobs=jobs)(delayed(_burn)(6_000_000) for _ in range(2))
        times.append(time.perf_counter() - t0)
    return times[0] / times[1]


def main() -> None:
    sims = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    before = free_parallelism()
    design = Design.example()
    t1, one = run(design, sims, 1)
    t2, two = run(design, sims, 2)
    pd.testing.assert_frame_equal(one.simulations, two.simulations)  # type: ignore[attr-defined]
    pd.testing.assert_frame_equal(one.diagnosands, two.diagnosands)  # type: ignore[attr-defined]
    serial = diagnose(design, sims=200, seed=2026, bootstrap_sims=0)
    pd.testing.assert_frame_equal(serial.simulations, one.simulations.iloc[: len(serial.simulations)])  # type: ignore[attr-defined]
    print(f"machine: {os.cpu_count()} cores, {platform.system()} {platform.machine()}, Python {platform.python_version()}, "
          f"numpy {np.__version__}, pandas {pd.__version__}, dask {dask.__version__}, distributed {distributed.__version__}; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{sims} simulations of {design.name!r} ({len(design.estimators)} estimators each)")
    print(f"| workers | seconds | simulations / s |\n|---|---|---|\n| 1 | {t1:.2f} | {sims / t1:.0f} |\n"
          f"| 2 | {t2:.2f} | {sims / t2:.0f} |")
    print(f"throughput ratio 2 workers / 1 worker: {t1 / t2:.2f}x")
    print(f"control: 2 processes / 1 on pure CPU work gave {before:.2f}x before and {free_parallelism():.2f}x after "
          "(2.0x on an idle 2-core machine)")


if __name__ == "__main__":
    main()
