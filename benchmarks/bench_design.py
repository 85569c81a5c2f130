"""Block assignment of 10,000,000 units in 100,000 blocks: effekt vs stochatreat.

Both randomise the same blocks 1:1. The script checks that both designs are
met (every block within one unit of an even split, half of all units
treated up to the odd blocks), prints the best of three wall-clock times and their ratio,
then the peak memory of each (tracemalloc, in a second run so that tracing
does not slow the timed one).

    pip install -r requirements/bench.txt
    flock /tmp/effekt-bench.lock .venv/bin/python benchmarks/bench_design.py [--n N] [--blocks G]
"""

from __future__ import annotations

import argparse
import platform
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import stochatreat

from effekt import design


def run_effekt(blocks: np.ndarray) -> np.ndarray:
    return design.block(blocks=blocks, prob=0.5, seed=2017).treatment


def run_stochatreat(frame: pd.DataFrame) -> np.ndarray:
    out = stochatreat.stochatreat(frame, "block", 2, probs=[0.5, 0.5], idx_col="id", random_state=2017)
    return out.sort_values("id")["treat"].to_numpy()


def check(name: str, z: np.ndarray, blocks: np.ndarray) -> None:
    n_b = np.bincount(blocks)
    treated = np.bincount(blocks, weights=z)
    worst = float(np.max(np.abs(treated - n_b / 2)))
    odd = int(np.sum(n_b % 2))
    imbalance = abs(float(z.sum()) - len(z) / 2)
    if worst > 0.5 or imbalance > odd / 2:
        raise SystemExit(f"{name}: design not met (worst block |treated - n_b/2| = {worst}, total off by {imbalance})")
    print(f"  {name:12s} ok: every block within 1/2 of n_b/2; treated {int(z.sum()):,} of {len(z):,} ({odd:,} odd blocks)")


def timed(fn: Callable[[], Any], repeat: int = 3) -> tuple[Any, float]:
    """The result and the best wall-clock time of ``repeat`` calls."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return out, best


def peak_mb(fn: Callable[[], Any]) -> float:
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--blocks", type=int, default=100_000)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    blocks = rng.integers(0, args.blocks, args.n)
    frame = pd.DataFrame({"id": np.arange(args.n), "block": blocks})
    print(
        f"block assignment, {args.n:,} units in {len(np.unique(blocks)):,} blocks, 1:1 | Python "
        f"{platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}, "
        f"stochatreat {getattr(stochatreat, '__version__', '0.2.5')}"
    )
    z_e, t_e = timed(lambda: run_effekt(blocks))
    z_s, t_s = timed(lambda: run_stochatreat(frame))
    check("effekt", z_e, blocks)
    check("stochatreat", z_s, blocks)
    print(f"  time: effekt {t_e:.2f} s, stochatreat {t_s:.2f} s, ratio {t_s / t_e:.1f}x")
    m_e = peak_mb(lambda: run_effekt(blocks))
    m_s = peak_mb(lambda: run_stochatreat(frame))
    print(f"  peak memory (tracemalloc): effekt {m_e:,.0f} MB, stochatreat {m_s:,.0f} MB (input: {blocks.nbytes / 2**20:,.0f} MB of block codes)")


if __name__ == "__main__":
    main()
