"""effekt.simulate on Dask: 2 workers against 1, and against the serial backend.

The blocked example design (difference in means and Lin, 100 units) is
diagnosed with 2,000 simulations on a local Dask cluster of 2 and of 1
worker processes (one thread each), each after a warm-up that starts the
workers and imports effekt on them (not timed: the tools report their own
time of the diagnose call), and with the serial backend. The checks: the
1-worker and 2-worker runs give the identical simulations table and
diagnosands, and the serial backend the same simulations. Bootstrap SEs are
off (``bootstrap_sims=0``): they run in the client after the simulations and
are not what the workers share.

``simulate.control`` measures what the machine has to give: pure-Python CPU
work on 2 processes against 1 (joblib), which is 0.5 (half the time) on an
idle 2-core machine. Read the Dask ratio beside it.

Run: ``python -m benchmarks --only simulate`` (sizes are simulations).
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks.cases import Case, Measured, Peer


def _design(sims: int) -> Any:
    from effekt.simulate import Design

    return {"design": Design.example(), "sims": sims}


def _dask(workers: int) -> Any:
    def run(d: dict[str, Any]) -> Measured:
        import logging

        from distributed import Client, LocalCluster

        logging.getLogger("distributed").setLevel(logging.WARNING)

        from effekt.simulate import diagnose

        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            diagnose(d["design"], sims=2 * workers, seed=1, bootstrap_sims=0, backend="dask", client=client)
            t0 = time.perf_counter()
            diag = diagnose(d["design"], sims=d["sims"], seed=2026, bootstrap_sims=0, backend="dask", client=client)
            return Measured(time.perf_counter() - t0, diag)

    return run


def _serial(d: dict[str, Any]) -> Any:
    from effekt.simulate import diagnose

    return diagnose(d["design"], sims=d["sims"], seed=2026, bootstrap_sims=0)


def _same(d: Any, two: Any, other: Any) -> None:
    import pandas as pd

    pd.testing.assert_frame_equal(two.simulations, other.simulations)
    pd.testing.assert_frame_equal(two.diagnosands, other.diagnosands)


def _same_simulations(d: Any, two: Any, serial: Any) -> None:
    import pandas as pd

    pd.testing.assert_frame_equal(two.simulations, serial.simulations)


def _burn(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def _processes(jobs: int) -> Any:
    def run(steps: int) -> int:
        from joblib import Parallel, delayed

        return sum(Parallel(n_jobs=jobs)(delayed(_burn)(steps) for _ in range(2)))

    return run


def _equal(_: Any, a: int, b: int) -> None:
    assert a == b, f"{a} != {b}"


CASES = [
    Case(
        name="simulate.dask", title="diagnose(Design.example()) on Dask, 2 workers", setup=_design,
        effekt=_dask(2),
        peers=(Peer("Dask, 1 worker", _dask(1), _same, package="distributed"),
               Peer("serial backend", _serial, _same_simulations)),
        sizes=(2000,), quick_size=40, unit="simulations", repeat=1,
        notes="effekt/peer is the time with 2 workers over the time with 1 (0.5 = perfect scaling)",
    ),
    Case(
        name="simulate.control", title="control: pure-Python work on 2 processes (joblib)", setup=lambda n: n,
        effekt=_processes(2), peers=(Peer("the same work on 1 process", _processes(1), _equal, package="joblib"),),
        sizes=(6_000_000,), quick_size=10_000, unit="steps", repeat=2,
        notes="what a second core gives right now: 0.5 on an idle 2-core machine",
    ),
]
