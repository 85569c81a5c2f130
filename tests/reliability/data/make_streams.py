"""Write tests/reliability/data/streams.json: random streams that must never change.

tests/data/design_golden.json already pins the assignment of each design
function for one or two settings and the seed-004 lottery; this file pins
what it does not: the raw words, uniforms, random order and derived batch
seeds of effekt.design._stream, every design function under more settings
(arms, counts, per-block probabilities), each design's re-randomisations
(``Assignment.permutations``, which randomisation inference reads) and
batch lotteries with ratios, three arms, eligibility rules, withdrawals,
top-ups, capacity stops and identifiers given as integers and as text.

Written once (effekt 0.1.0, numpy 2.x, Linux x86-64) with
``python tests/reliability/data/make_streams.py``; thereafter
tests/reliability/test_golden_streams.py recomputes every case with
``compute`` and compares. Regenerating the file means the streams changed:
never do that to make a test pass.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SIZES = [13, 28, 29, 27, 16, 16, 14, 10, 18, 19, 4, 16, 8]
BLOCKS = np.repeat(np.arange(len(SIZES)), SIZES).tolist()

STREAM_SEEDS = [0, 1, 42, 2017, 2**32 + 7, 2**64 + 12345]

DESIGNS: list[tuple[str, str, list[Any], dict[str, Any]]] = [
    ("simple-prob", "simple", [30], {"prob": 0.3, "seed": 11}),
    ("simple-arms", "simple", [24], {"num_arms": 3, "conditions": ["a", "b", "c"], "seed": 12}),
    ("complete-4-arms", "complete", [22], {"num_arms": 4, "seed": 13}),
    ("complete-prob-each", "complete", [19], {"prob_each": [0.5, 0.3, 0.2], "seed": 14}),
    ("block-block-prob", "block", [], {"blocks": BLOCKS[:57], "block_prob": [0.5, 0.25, 0.75], "seed": 15}),
    ("block-block-m-each", "block", [], {"blocks": [1] * 6 + [2] * 9, "block_m_each": [[2, 4], [5, 4]], "seed": 16}),
    ("block-seed004-3arms", "block", [], {"blocks": BLOCKS, "num_arms": 3, "seed": 17}),
    ("cluster-prob", "cluster", [], {"clusters": np.repeat(np.arange(11), [1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 6]).tolist(),
                                     "prob": 0.5, "seed": 18}),
    ("block-cluster-3arms", "block_cluster", [],
     {"blocks": np.repeat([1, 2, 3], 12).tolist(), "clusters": np.repeat(np.arange(12), 3).tolist(),
      "prob_each": [0.25, 0.25, 0.5], "seed": 19}),
    ("complete-small-exact", "complete", [6], {"m": 3, "seed": 20}),
]

PERMUTATION_SEED = 99
PERMUTATIONS = 5


def _people(start: int, n: int, text: bool) -> list[dict[str, Any]]:
    return [{"id": f"{i:04d}" if text else i, "age": 20 + (i * 7) % 40} for i in range(start, start + n)]


LOTTERIES: list[dict[str, Any]] = [
    {
        "name": "ratio-2-1-random",
        "settings": {"seed": 5, "ratio": "2:1", "odd": "random"},
        "ops": [{"op": "draw", "batch": f"b{b}", "units": _people(b * 20, 7 + b, True)} for b in range(6)],
    },
    {
        "name": "three-arms-alternate",
        "settings": {"seed": 6, "ratio": "1:1:2", "arms": ["a", "b", "c"], "odd": "alternate"},
        "ops": [{"op": "draw", "batch": f"b{b}", "units": _people(b * 20, 5 + 3 * b, False)} for b in range(6)],
    },
    {
        "name": "capacity-rules-withdraw-top-up",
        "settings": {"seed": 7, "odd": "alternate", "capacity": {"treatment": 12}, "rule": "under 25"},
        "ops": [
            {"op": "draw", "batch": "1", "units": _people(0, 14, False)},
            {"op": "draw", "batch": "2", "units": _people(10, 14, False)},  # 4 already randomised
            {"op": "withdraw", "ids": [1, 2, 3], "reason": "moved away"},
            {"op": "draw", "batch": "3", "units": _people(30, 12, False), "top_up": True},
        ],
    },
    {
        "name": "ids-as-int-and-text",
        "settings": {"seed": 8},
        "ops": [
            {"op": "draw", "batch": "api", "units": [{"id": i} for i in (3, 10, 2, 1, 20, 100)]},
            {"op": "draw", "batch": "file", "units": [{"id": s} for s in ("1", "01", "2", "11", "010", "3", "30")]},
        ],
    },
]


def _digest(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a, dtype=np.int64).tobytes()).hexdigest()


def compute_stream(seed: int) -> dict[str, Any]:
    from effekt.data import check_seed
    from effekt.design._stream import derive_seed, random_order, raw, uniforms

    words = raw(check_seed(seed), 6)
    u = uniforms(check_seed(seed), 4)
    keys = raw(check_seed(seed), 12)
    groups = np.array([2, 0, 1, 1, 0, 2, 2, 0, 1, 0, 1, 2])
    return {
        "seed": seed,
        "raw": [str(int(w)) for w in words],
        "uniforms": [float(x).hex() for x in u],
        "random_order": random_order(keys).tolist(),
        "random_order_grouped": random_order(keys, groups, 3).tolist(),
        "derive_seed": [str(derive_seed(seed % 2**63, b)) for b in ("2017-01-16", "lottery-01", 7)],
    }


def compute_design(fn: str, args: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    from effekt import design

    asg = getattr(design, fn)(*args, **kwargs)
    perms = asg.permutations(PERMUTATIONS, seed=PERMUTATION_SEED, exact=False)
    out = {
        "treatment": [str(v) for v in asg.treatment.tolist()],
        "fingerprint": asg.fingerprint,
        "permutations": perms.T.tolist(),
    }
    if asg.n_possible <= 1000 and asg.equiprobable:
        out["enumeration"] = _digest(asg.permutations(10_000))
    return out


def compute_lottery(case: dict[str, Any]) -> dict[str, Any]:
    from effekt.design.lottery import BatchLottery

    settings = dict(case["settings"])
    rule = settings.pop("rule", None)
    if rule is not None:
        settings["exclude"] = {rule: lambda u: u["age"] < 25}
    lot = BatchLottery(None, **settings)
    seeds = []
    for op in case["ops"]:
        if op["op"] == "draw":
            d = lot.draw(pd.DataFrame(op["units"]), batch=op["batch"], date="2017-01-16", top_up=op.get("top_up", False))
            seeds.append(d.batch_seed)
        else:
            lot.withdraw(op["ids"], reason=op["reason"])
    alloc = lot.allocations()
    excl = lot.exclusions()
    return {
        "ids": [str(v) for v in alloc["id"]],
        "arms": alloc["arm"].tolist(),
        "withdrawn": alloc["withdrawn"].tolist(),
        "excluded": [[str(i), r] for i, r in zip(excl["id"], excl["reason"])],
        "batch_seeds": seeds,
        "table": lot.allocation_table().drop(columns=["date"]).to_dict(orient="list"),
    }


def build() -> dict[str, Any]:
    return {
        "meta": {"numpy": np.__version__, "note": "written by make_streams.py; never regenerate to pass a test"},
        "streams": [compute_stream(s) for s in STREAM_SEEDS],
        "designs": [{"name": n, "design": fn, "args": a, "kwargs": k, **compute_design(fn, a, k)} for n, fn, a, k in DESIGNS],
        "golden_permutations": _golden_permutations(),
        "lotteries": [{**case, "result": compute_lottery(case)} for case in LOTTERIES],
    }


def _golden_permutations() -> list[dict[str, Any]]:
    """Re-randomisations of each case of tests/data/design_golden.json (which pins their assignments only)."""
    golden = json.loads((Path(__file__).parents[2] / "data" / "design_golden.json").read_text())
    out = []
    for case in golden["cases"]:
        from effekt import design

        asg = getattr(design, case["design"])(*case["args"], **case["kwargs"])
        perms = asg.permutations(PERMUTATIONS, seed=PERMUTATION_SEED, exact=False)
        out.append({"name": case["name"], "permutations": _digest(perms)})
    return out


def main() -> None:
    path = Path(__file__).with_name("streams.json")
    data = build()
    path.write_text(json.dumps(data, separators=(",", ":"), sort_keys=False).replace('},{', '},\n{') + "\n")


if __name__ == "__main__":
    main()
