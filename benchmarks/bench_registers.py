"""Weekly register panel -> per-person window indicators and run-length outcomes.

effekt.registers against a straightforward pandas groupby-apply on the same
long person x week frame (states as a pandas Categorical, hours as floats):
per person, the follow-up window from the index week to the cut-off, the
corresponding period before it, weeks in business-oriented activation,
share of weeks, ever, hours, and the longest run in the result-target set
("13 consecutive weeks"). Both sides start from the long frame, so effekt's
time includes building the dense panel. The results are checked to agree
before timing is reported.

Each timed call runs in a fresh process (``fresh_process=True``), so its
peak resident memory (``ru_maxrss``) is its own; it includes the input
frame. The groupby-apply runs at 5,000 persons at most (about 1.4 ms per
person: the full 200,000 would take about five minutes of the shared
machine). ``registers.out_of_core`` runs the DuckDB path on a Parquet file
of the same register (``memory_limit="700MB"``) against the in-memory path,
the per-person figures checked equal.

Run: ``python -m benchmarks --only registers`` (sizes are persons).
"""

from __future__ import annotations

import os
import tempfile
import time
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.cases import Case, Measured, Peer

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


def digest(out: pd.DataFrame) -> list[float]:
    d: list[float] = [int(out[c].astype("int64").sum()) for c in ("T", "ba_after", "ba_before", "longest_run")]
    d.append(round(float(out["hours_after"].sum()), 3))
    return d


def _same(_: Any, ours: pd.DataFrame, theirs: pd.DataFrame) -> None:
    assert digest(ours) == digest(theirs), f"per-person totals {digest(ours)} vs {digest(theirs)}"


def parquet_register(n: int) -> dict[str, Any]:
    """The register of ``make(n)`` as a Parquet file (written once, then reused) and its index weeks."""
    import hashlib
    import inspect

    version = hashlib.sha1(inspect.getsource(make).encode()).hexdigest()[:10]  # a changed generator: a new file
    path = os.path.join(tempfile.gettempdir(), f"effekt-bench-register-{n}-{version}.parquet")
    if not os.path.exists(path):
        tmp = f"{path}.{os.getpid()}.tmp"
        make(n)[0].to_parquet(tmp, row_group_size=1_000_000)
        os.replace(tmp, path)
    index = pd.Series(np.random.default_rng(1).integers(52, 80, n), index=np.arange(n), name="visit")
    import effekt.registers.outofcore  # noqa: F401  (import time is not the work measured)

    return {"path": path, "index": index, "n": n}


def _in_memory(d: dict[str, Any]) -> Measured:
    frame, index = make(d["n"])
    start = time.perf_counter()
    out = run_effekt(frame, index)
    return Measured(time.perf_counter() - start, out)


def _panel(n: int) -> tuple[pd.DataFrame, pd.Series]:
    import effekt.registers  # noqa: F401  (import time is not the work measured)

    return make(n)


CASES = [
    Case(
        name="registers.windows", title="weekly panel to window indicators and run lengths (104 weeks)",
        setup=_panel, effekt=lambda d: run_effekt(*d),
        peers=(Peer("pandas groupby-apply", lambda d: run_apply(*d), _same, target=0.1, package="pandas",
                    max_size=5_000),),
        sizes=(5_000, 200_000), quick_size=300, unit="persons", repeat=1, fresh_process=True,
        notes="each call in a fresh process; peak RSS includes the input frame",
    ),
    Case(
        name="registers.out_of_core", title="the same, out of core: DuckDB on a Parquet file, memory_limit 700MB",
        setup=parquet_register, effekt=lambda d: run_sql(d["path"], d["index"]),
        peers=(Peer("effekt in memory (from the long frame)", _in_memory, _same, package="effekt"),),
        sizes=(200_000,), quick_size=300, unit="persons", repeat=1, fresh_process=True,
        notes="each call in a fresh process",
    ),
]
