"""Write tests/data/design_golden.json: assignments that must never change.

Run once when the golden file is created (effekt 0.1.0, numpy 2.4.6,
Linux x86-64); thereafter the test compares every platform and release
with it. Regenerating it means the random streams changed: never do that
to make a test pass.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from effekt import design
from effekt.design.lottery import BatchLottery

SIZES = [13, 28, 29, 27, 16, 16, 14, 10, 18, 19, 4, 16, 8]  # seed 004, appendix table 1.1
BLOCKS = np.repeat(np.arange(len(SIZES)), SIZES).tolist()

CASES = [
    ("simple-default", "simple", [20], {"seed": 1}),
    ("simple-3-arms", "simple", [15], {"prob_each": [0.2, 0.3, 0.5], "seed": 2}),
    ("complete-m", "complete", [25], {"m": 10, "seed": 3}),
    ("complete-prob-odd", "complete", [21], {"prob": 0.5, "seed": 4}),
    ("complete-m-each", "complete", [12], {"m_each": [2, 4, 6], "conditions": ["a", "b", "c"], "seed": 5}),
    ("block-seed004", "block", [], {"blocks": BLOCKS, "prob": 0.5, "seed": 2017}),
    ("block-prob-each", "block", [], {"blocks": BLOCKS[:60], "prob_each": [0.25, 0.25, 0.5], "seed": 6}),
    ("block-m", "block", [], {"blocks": [1] * 5 + [2] * 7, "block_m": [2, 3], "seed": 7}),
    ("cluster", "cluster", [], {"clusters": np.repeat(np.arange(9), 3).tolist(), "m": 4, "seed": 8}),
    (
        "block-cluster",
        "block_cluster",
        [],
        {"blocks": np.repeat([1, 2], 12).tolist(), "clusters": np.repeat(np.arange(8), 3).tolist(), "seed": 9},
    ),
    ("large-seed", "complete", [10], {"seed": 2**64 + 12345}),
]


def main() -> None:
    out = []
    for name, fn, args, kwargs in CASES:
        asg = getattr(design, fn)(*args, **kwargs)
        out.append(
            {
                "name": name,
                "design": fn,
                "args": args,
                "kwargs": kwargs,
                "treatment": [str(v) for v in asg.treatment.tolist()],
                "fingerprint": asg.fingerprint,
            }
        )
    lottery = []
    for odd in ("random", "alternate"):
        lot = BatchLottery(None, seed=2017, odd=odd, capacity={"treatment": 100})
        start = 0
        for b, size in enumerate(SIZES):
            ids = [f"p{i:03d}" for i in range(start, start + size)]
            start += size
            lot.draw(pd.DataFrame({"id": ids}), batch=f"lottery-{b + 1:02d}", date="2017-01-16")
        alloc = lot.allocations()
        lottery.append({"odd": odd, "ids": alloc["id"].tolist(), "arms": alloc["arm"].tolist()})
    meta = {"numpy": np.__version__, "note": "written by make_design_golden.py; never regenerate to pass a test"}
    path = Path(__file__).with_name("design_golden.json")
    body = ",\n".join(json.dumps(c, separators=(",", ":")) for c in out)
    lots = ",\n".join(json.dumps(c, separators=(",", ":")) for c in lottery)
    path.write_text(f'{{"meta": {json.dumps(meta)},\n"cases": [\n{body}\n],\n"lottery": [\n{lots}\n]}}\n')


if __name__ == "__main__":
    main()
