"""Weekly register panel -> per-person window indicators and run-length outcomes.

effekt.registers against a straightforward pandas groupby-apply on the same
long person x week frame (states as a pandas Categorical, hours as floats):
per person, the follow-up window from the index week to the cut-off, the
corresponding period before it, weeks in business-oriented activation,
share of weeks, ever, hours, and the longest run in the result-target set
("13 consecutive weeks"). Both sides start from the long frame, so effekt's
time includes building the dense panel. The results are checked to agree
before timing is reported.

Each measurement runs in a fresh subprocess, so its peak resident memory
(``ru_maxrss``) is its own; it includes the input frame.

Run: .venv/bin/python benchmarks/bench_registers.py [--persons 200000] [--apply-persons 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd

STATES = ["kh", "ba", "oh", "ud", "fj", "sy"]
TARGET = ["ba", "oh", "ud", "fj"]
WEEKS = 104


def make(n: int, seed: int = 1) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    index = rng.integers(52, 80, n)
    t = np.arange(WEEKS, dtype=np.int16)
    # persistent states: a new state starts with probability 0.15 each week
    change = rng.random((n, WEEKS)) < 0.15
    change[:, 0] = True
    draws = rng.integers(0, len(STATES), (n, WEEKS)).astype(np.int8)
    last = np.maximum.accumulate(np.where(change, np.arange(WEEKS), 0), axis=1)
    codes = np.take_along_axis(draws, last, axis=1)
    hours = np.where(codes == 2, rng.integers(1, 40, (n, WEEKS)), 0).astype(np.float32)
    frame = pd.DataFrame({
        "pnr": np.repeat(np.arange(n, dtype=np.int32), WEEKS),
        "week": np.tile(t, n),
        "ydelse": pd.Categorical.from_codes(codes.ravel(), categories=STATES),
        "timer": hours.ravel(),
    })
    return frame, pd.Series(index, index=np.arange(n), name="visit")


def run_effekt(frame: pd.DataFrame, index: pd.Series) -> pd.DataFrame:
    from effekt import registers as rg

    panel = rg.StatePanel.from_long(frame, person="pnr", period="week", state="ydelse", hours="timer",
                                    states=STATES)
    after = rg.follow_up(panel, index, cutoff=WEEKS - 1)
    before = rg.look_back(panel, matching=after)
    a = rg.window_indicators(panel, after, {"ba": ["ba"]})
    b = rg.window_indicators(panel, before, {"ba": ["ba"]})
    runs = rg.run_length(panel, after, TARGET, min_run=13)
    return pd.DataFrame({
        "T": a["person_time"], "ba_after": a["ba_periods"], "ba_before": b["ba_periods"],
        "hours_after": a["hours_total"], "longest_run": runs["longest_run"],
    })


def run_apply(frame: pd.DataFrame, index: pd.Series) -> pd.DataFrame:
    """What one writes first: per person, slice the windows and loop over the weeks."""
    idx = index.to_dict()

    def per_person(g: pd.DataFrame) -> pd.Series:
        i = idx[g.name]
        stop = WEEKS
        length = stop - i
        post = g[(g["week"] >= i) & (g["week"] < stop)]
        pre = g[(g["week"] >= i - length) & (g["week"] < i)]
        best = run = 0
        for s in post.sort_values("week")["ydelse"]:
            run = run + 1 if s in TARGET else 0
            best = max(best, run)
        return pd.Series({"T": length, "ba_after": int((post["ydelse"] == "ba").sum()),
                          "ba_before": int((pre["ydelse"] == "ba").sum()),
                          "hours_after": float(post["timer"].sum()), "longest_run": best})

    return frame.groupby("pnr", observed=True).apply(per_person, include_groups=False)


def run_sql(path: str, index: pd.Series) -> pd.DataFrame:
    from effekt.registers.outofcore import window_indicators_sql

    common = {"person": "pnr", "period": "week", "state": "ydelse", "cutoff": WEEKS - 1, "memory_limit": "700MB"}
    a = window_indicators_sql(path, index, states=["ba"], name="ba", hours="timer", **common)
    b = window_indicators_sql(path, index, states=["ba"], name="ba", window="before", **common)
    runs = window_indicators_sql(path, index, states=TARGET, name="target", min_run=13, **common)
    return pd.DataFrame({
        "T": a["person_time"], "ba_after": a["ba_periods"], "ba_before": b["ba_periods"],
        "hours_after": a["hours_total"], "longest_run": runs["longest_run"],
    })


def child(which: str, n: int, path: str | None = None) -> None:
    import effekt.registers  # noqa: F401  (import time is not the work measured)

    if which == "write":
        make(n)[0].to_parquet(path, row_group_size=1_000_000)
        return
    if which == "sql":
        index = pd.Series(np.random.default_rng(1).integers(52, 80, n), index=np.arange(n), name="visit")
        start = time.perf_counter()
        out = run_sql(str(path), index)
        elapsed = time.perf_counter() - start
        input_mb = 0.0
    else:
        frame, index = make(n)
        input_mb = frame.memory_usage(deep=True).sum() / 2**20
    if which in ("effekt", "apply"):
        fn = run_effekt if which == "effekt" else run_apply
        start = time.perf_counter()
        out = fn(frame, index)
        elapsed = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    digest = [int(out[c].astype("int64").sum()) for c in ("T", "ba_after", "ba_before", "longest_run")]
    digest.append(round(float(out["hours_after"].sum()), 3))
    print(json.dumps({"seconds": elapsed, "peak_mb": peak_mb, "digest": digest, "input_mb": input_mb}))


def measure(which: str, n: int, path: str | None = None) -> dict:
    cmd = [sys.executable, __file__, "--child", which, "--persons", str(n)] + (["--path", path] if path else [])
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    lines = out.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else {}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--persons", type=int, default=200_000)
    parser.add_argument("--apply-persons", type=int, default=5_000)
    parser.add_argument("--child", choices=["effekt", "apply", "write", "sql"])
    parser.add_argument("--path")
    parser.add_argument("--skip-sql", action="store_true")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.persons, args.path)
        return
    print(f"python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}")
    m = args.apply_persons
    small_e, small_a = measure("effekt", m), measure("apply", m)
    assert small_e["digest"] == small_a["digest"], (small_e["digest"], small_a["digest"])
    print(f"{m:>8} persons x {WEEKS} weeks: effekt {small_e['seconds']:.3f} s ({small_e['peak_mb']:.0f} MB peak), "
          f"groupby-apply {small_a['seconds']:.2f} s ({small_a['peak_mb']:.0f} MB peak), "
          f"ratio {small_a['seconds'] / small_e['seconds']:.0f}x; results agree")
    full = measure("effekt", args.persons)
    per_person = small_a["seconds"] / m
    print(f"{args.persons:>8} persons x {WEEKS} weeks ({args.persons * WEEKS / 1e6:.1f}M rows): effekt "
          f"{full['seconds']:.2f} s, peak RSS {full['peak_mb']:.0f} MB (input frame {full['input_mb']:.0f} MB); "
          f"groupby-apply extrapolated {per_person * args.persons:.0f} s "
          f"(ratio ~{per_person * args.persons / full['seconds']:.0f}x)")
    if args.skip_sql:
        return
    import duckdb

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "register.parquet")
        measure("write", args.persons, path)
        size = os.path.getsize(path) / 2**20
        sql = measure("sql", args.persons, path)
    assert sql["digest"] == full["digest"], (sql["digest"], full["digest"])
    print(f"{args.persons:>8} persons, Parquet file {size:.0f} MB, duckdb {duckdb.__version__} (memory_limit 700MB): "
          f"{sql['seconds']:.2f} s, peak RSS {sql['peak_mb']:.0f} MB; results equal the in-memory path")


if __name__ == "__main__":
    main()
