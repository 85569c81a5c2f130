"""Golden streams: every design function's and the lottery's output for fixed seeds.

The pinned values are in data/streams.json (written once by
data/make_streams.py; see its docstring for what tests/data/design_golden.json
already pins and what this adds). A failure here means a seed no longer gives
the assignment it gave when a trial was randomised: fix the code, never the file.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).parent
GOLDEN = json.loads((HERE / "data" / "streams.json").read_text())
_spec = importlib.util.spec_from_file_location("make_streams", HERE / "data" / "make_streams.py")
assert _spec is not None and _spec.loader is not None
make = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make)


@pytest.mark.parametrize("case", GOLDEN["streams"], ids=lambda c: f"seed-{c['seed']}")
def test_raw_words_uniforms_order_and_batch_seeds(case):
    assert make.compute_stream(case["seed"]) == case


@pytest.mark.parametrize("seed", [0, 1, 42, 2017])
def test_raw_words_are_numpys_pcg64_stream(seed):
    # NEP 19: PCG64 seeded through SeedSequence is a fixed stream; effekt reads it unchanged
    stored = next(c for c in GOLDEN["streams"] if c["seed"] == seed)["raw"]
    assert stored == [str(int(w)) for w in np.random.PCG64(seed).random_raw(6)]


@pytest.mark.parametrize("case", GOLDEN["designs"], ids=lambda c: c["name"])
def test_design_functions_and_their_permutations(case):
    got = make.compute_design(case["design"], case["args"], case["kwargs"])
    assert got == {k: case[k] for k in got}


def test_every_design_function_is_pinned():
    from effekt.design import assignment

    pinned = {c["design"] for c in GOLDEN["designs"]}
    old = {c["design"] for c in json.loads((HERE.parent / "data" / "design_golden.json").read_text())["cases"]}
    public = {name for name in assignment.__all__ if callable(getattr(assignment, name)) and name[0].islower()}
    assert public - {"from_plan"} <= pinned & old


@pytest.mark.parametrize("case", GOLDEN["golden_permutations"], ids=lambda c: c["name"])
def test_permutations_of_the_older_golden_cases(case):
    got = {c["name"]: c for c in make._golden_permutations()}[case["name"]]
    assert got == case


@pytest.mark.parametrize("case", GOLDEN["lotteries"], ids=lambda c: c["name"])
def test_batch_lotteries(case):
    assert make.compute_lottery(case) == case["result"]


def test_a_changed_stream_is_caught():
    case = dict(GOLDEN["designs"][0])
    changed = make.compute_design(case["design"], case["args"], {**case["kwargs"], "seed": case["kwargs"]["seed"] + 1})
    assert changed["treatment"] != case["treatment"]
