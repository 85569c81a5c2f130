"""Sequential batch lotteries: odd policy, capacity, top-ups, exclusions, seeds, replay."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from effekt.design.lottery import BatchLottery, parse_ratio
from effekt.errors import DataError, DesignError

GOLDEN = Path(__file__).parent / "data" / "design_golden.json"
# Seed 004 (notes-004 section 4.2, appendix table 1.1): the 13 lottery sizes.
SEED004_SIZES = [13, 28, 29, 27, 16, 16, 14, 10, 18, 19, 4, 16, 8]


def _run(lot: BatchLottery, sizes, prefix="p"):
    start = 0
    draws = []
    for b, size in enumerate(sizes):
        ids = [f"{prefix}{i:03d}" for i in range(start, start + size)]
        start += size
        draws.append(lot.draw(pd.DataFrame({"id": ids}), batch=f"lottery-{b + 1:02d}", date=f"2017-{b % 12 + 1:02d}-01"))
    return draws


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**40))
def test_seed004_alternate_gives_109_109(seed):
    # notes-004 section 4.2: 13 blocks at 1:1, |I - C| <= 1 per block; with
    # "alternate" the four odd blocks split 2/2 and the totals are 109/109.
    lot = BatchLottery(None, seed=seed, odd="alternate")
    _run(lot, SEED004_SIZES)
    table = lot.allocation_table()
    body = table.iloc[:-1]
    assert (np.abs(body["treatment"] - body["control"]) <= 1).all()
    assert table.iloc[-1][["treatment", "control", "total"]].tolist() == [109, 109, 218]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**40), sizes=st.lists(st.integers(1, 15), min_size=1, max_size=20))
def test_alternate_keeps_running_totals_within_one(seed, sizes):
    lot = BatchLottery(None, seed=seed, odd="alternate")
    _run(lot, sizes)
    body = lot.allocation_table(total=False)
    running = (body["treatment"] - body["control"]).cumsum()
    assert running.abs().max() <= 1


@pytest.mark.parametrize("seed", range(10))
def test_random_policy_blocks_within_one(seed):
    lot = BatchLottery(None, seed=seed, odd="random")
    _run(lot, SEED004_SIZES)
    body = lot.allocation_table(total=False)
    assert (np.abs(body["treatment"] - body["control"]) <= 1).all()
    assert abs(body["treatment"].sum() - body["control"].sum()) <= 4  # 4 odd blocks


def test_golden_lottery_streams():
    golden = json.loads(GOLDEN.read_text())["lottery"]
    for case in golden:
        lot = BatchLottery(None, seed=2017, odd=case["odd"], capacity={"treatment": 100})
        _run(lot, SEED004_SIZES)
        alloc = lot.allocations()
        assert alloc["id"].tolist() == case["ids"]
        assert alloc["arm"].tolist() == case["arms"]


def test_row_order_does_not_change_the_draw():
    ids = [f"x{i}" for i in range(17)]
    a = BatchLottery(None, seed=5).draw(pd.DataFrame({"id": ids}), batch="b")
    b = BatchLottery(None, seed=5).draw(pd.DataFrame({"id": ids[::-1]}), batch="b")
    pd.testing.assert_frame_equal(a.allocation, b.allocation)


def test_batch_seed_depends_on_master_seed_and_batch_only():
    a = BatchLottery(None, seed=11)
    a.draw(pd.DataFrame({"id": range(9)}), batch="first")
    second_a = a.draw(pd.DataFrame({"id": range(100, 110)}), batch="second")
    b = BatchLottery(None, seed=11)
    second_b = b.draw(pd.DataFrame({"id": range(100, 110)}), batch="second")
    pd.testing.assert_frame_equal(second_a.allocation, second_b.allocation)
    assert second_a.batch_seed == second_b.batch_seed
    other = BatchLottery(None, seed=12).draw(pd.DataFrame({"id": range(100, 110)}), batch="second")
    assert other.batch_seed != second_a.batch_seed


def test_ratio_two_to_one():
    lot = BatchLottery(None, seed=3, ratio="2:1")
    d = lot.draw(pd.DataFrame({"id": range(30)}), batch="b")
    assert d.counts == {"treatment": 20, "control": 10}
    asg = lot.assignment()
    np.testing.assert_allclose(asg.prob_treated, 2 / 3)


def test_three_arms():
    lot = BatchLottery(None, seed=3, arms=("a", "b", "c"), ratio="1:1:1", odd="alternate")
    _run(lot, [4, 4, 4])
    assert lot.allocation_table().iloc[-1][["a", "b", "c"]].tolist() == [4, 4, 4]
    assert lot.assignment().conditions == ("a", "b", "c")


def test_replayed_batch_returns_the_recorded_allocation(tmp_path):
    log = tmp_path / "alloc.jsonl"
    units = pd.DataFrame({"id": [f"u{i}" for i in range(11)]})
    first = BatchLottery(log, seed=1).draw(units, batch="b1")
    again = BatchLottery(log, seed=1).draw(units.sample(frac=1, random_state=3), batch="b1")
    assert again.replayed and not first.replayed
    pd.testing.assert_frame_equal(first.allocation, again.allocation)
    assert len(log.read_text().splitlines()) == 2  # open + one draw: nothing redrawn
    with pytest.raises(DesignError, match="was drawn on .* with 11 units; the units given now differ"):
        BatchLottery(log, seed=1).draw(units.iloc[:5], batch="b1")


def test_log_settings_cannot_change(tmp_path):
    log = tmp_path / "alloc.jsonl"
    BatchLottery(log, seed=1, capacity={"treatment": 100})
    with pytest.raises(DesignError, match="was started with seed=1, but this lottery has seed=2"):
        BatchLottery(log, seed=2, capacity={"treatment": 100})
    with pytest.raises(DesignError, match="was started with capacity"):
        BatchLottery(log, seed=1)


def test_capacity_caps_stop_and_top_up_fills_freed_places():
    # notes-004 section 2.2: capacity 100 in the intervention arm; the
    # lottery stopped when it was reached; top-ups filled freed places 1:1.
    lot = BatchLottery(None, seed=4, capacity={"treatment": 100}, odd="alternate")
    _run(lot, [60, 60, 60, 30])
    table = lot.allocation_table()
    assert table.iloc[-1]["treatment"] == 100
    assert lot.places_left() == {"treatment": 0}
    reasons = lot.exclusions()["reason"].value_counts()
    assert reasons["capacity reached"] == 210 - 200
    moved = lot.allocations().query("arm == 'treatment'")["id"].iloc[:4].tolist()
    assert lot.withdraw(moved, reason="moved away") == {"treatment": 4, "control": 0}
    assert lot.places_left() == {"treatment": 4}
    top = lot.draw(pd.DataFrame({"id": [f"t{i}" for i in range(8)]}), batch="top-up", top_up=True)
    assert top.counts == {"treatment": 4, "control": 4}
    assert lot.places_left() == {"treatment": 0}
    assert bool(lot.allocation_table().iloc[-2]["top_up"])
    alloc = lot.allocations()
    assert alloc["withdrawn"].sum() == 4 and set(alloc.loc[alloc["withdrawn"], "withdraw_reason"]) == {"moved away"}


def test_capacity_error_policy():
    lot = BatchLottery(None, seed=4, capacity={"treatment": 3}, on_full="error")
    with pytest.raises(DesignError, match="has 10 eligible units but the places left .* admit only 6"):
        lot.draw(pd.DataFrame({"id": range(10)}), batch="b")


def test_eligibility_rules_exclude_with_reasons():
    # notes-004 section 2.1: age >= 30 checked before randomisation.
    lot = BatchLottery(None, seed=2, exclude={"aged under 30": lambda u: u["age"] < 30})
    units = pd.DataFrame({"id": range(8), "age": [25, 31, 45, 29, 50, 33, 61, 40]})
    d = lot.draw(units, batch="b1")
    assert sorted(d.excluded["id"].tolist()) == [0, 3]
    assert set(d.excluded["reason"]) == {"aged under 30"}
    assert len(d.allocation) == 6
    d2 = lot.draw(pd.DataFrame({"id": [1, 100, 101], "age": [31, 40, 40]}), batch="b2")
    assert d2.excluded.values.tolist() == [[1, "already randomised in batch b1"]]


def test_assignment_of_a_lottery_for_estimators():
    lot = BatchLottery(None, seed=8, odd="alternate")
    _run(lot, [5, 6, 7])
    asg = lot.assignment()
    alloc = lot.allocations()
    np.testing.assert_array_equal(asg.treatment, (alloc["arm"] == "treatment").astype(int))
    assert asg.blocks.tolist() == alloc["batch"].tolist()
    assert asg.ids.tolist() == alloc["id"].tolist()
    perms = asg.permutations(50, seed=1, exact=False)
    np.testing.assert_array_equal(
        pd.DataFrame(perms).groupby(asg.blocks).sum().iloc[:, 0].to_numpy(), asg.counts()[1].to_numpy()
    )


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"ratio": "1:0"}, r"ratio='1:0' must give one positive whole number per arm"),
        ({"ratio": "1:1:1"}, r"one positive whole number per arm \(2 arms\)"),
        ({"odd": "coin"}, r"odd='coin' is not an option; use one of 'random', 'alternate'"),
        ({"capacity": {"treated": 10}}, "capacity names arm 'treated', which is not one of the arms"),
        ({"capacity": {"treatment": -1}}, "capacity for arm 'treatment' must be a whole number >= 0"),
        ({"seed": -3}, "seed must be a non-negative whole number"),
        ({"arms": ("a", "a")}, "two or more distinct arms"),
        ({"exclude": {"x": 3}}, "exclusion rule 'x' must be a function"),
        ({"on_full": "wait"}, "on_full='wait' is not an option"),
    ],
)
def test_bad_lottery_settings(kwargs, match):
    with pytest.raises(DesignError, match=match):
        BatchLottery(None, **{"seed": 1, **kwargs})


def test_duplicate_ids_in_a_batch():
    with pytest.raises(DataError, match=r"lists 3 more than once \(rows 2 and 3\)"):
        BatchLottery(None, seed=1).draw(pd.DataFrame({"id": [1, 2, 3, 3]}), batch="b")


def test_missing_id_column_and_missing_ids():
    lot = BatchLottery(None, seed=1)
    with pytest.raises(DataError, match="id='cpr': the units table has no such column"):
        lot.draw(pd.DataFrame({"id": [1]}), batch="b", id="cpr")
    with pytest.raises(DataError, match=r"has 1 missing identifiers \(row 1\)"):
        lot.draw(pd.DataFrame({"id": ["a", None]}), batch="b")


def test_bad_exclusion_rule_result():
    lot = BatchLottery(None, seed=1, exclude={"short": lambda u: [True]})
    with pytest.raises(DataError, match="exclusion rule 'short' must return one True/False per unit"):
        lot.draw(pd.DataFrame({"id": [1, 2]}), batch="b")
    lot = BatchLottery(None, seed=1, exclude={"age": lambda u: u["age"] < 30})
    with pytest.raises(DataError, match="exclusion rule 'age' failed on this batch: KeyError"):
        lot.draw(pd.DataFrame({"id": [1, 2]}), batch="b")


def test_withdraw_unknown_or_twice():
    lot = BatchLottery(None, seed=1)
    lot.draw(pd.DataFrame({"id": [1, 2]}), batch="b")
    with pytest.raises(DataError, match=r"cannot withdraw \[7\]: never allocated"):
        lot.withdraw([7], reason="moved")
    lot.withdraw([1], reason="moved")
    with pytest.raises(DataError, match="already withdrawn"):
        lot.withdraw(1, reason="moved")


def test_assignment_before_any_draw():
    with pytest.raises(DesignError, match="no batch has been drawn yet"):
        BatchLottery(None, seed=1).assignment()


def test_parse_ratio():
    assert parse_ratio((3, 2), 2) == (3, 2)
    with pytest.raises(DesignError, match="must give one positive whole number"):
        parse_ratio("1.5:1", 2)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    sizes=st.lists(st.integers(1, 25), min_size=1, max_size=10),
    cap=st.integers(0, 60),
    ratio=st.sampled_from(["1:1", "2:1", "1:2", "3:2"]),
    odd=st.sampled_from(["random", "alternate"]),
    data=st.data(),
)
def test_capacity_is_never_exceeded_and_every_unit_is_accounted_for(seed, sizes, cap, ratio, odd, data):
    from effekt.design import consort_from_lottery

    lot = BatchLottery(None, seed=seed, ratio=ratio, odd=odd, capacity={"treatment": cap},
                       exclude={"odd id": lambda u: u["id"] % 7 == 3})
    start, listed = 0, 0
    for b, size in enumerate(sizes):
        lot.draw(pd.DataFrame({"id": range(start, start + size)}), batch=f"b{b}")
        start += size
        listed += size
        active = lot.allocations()
        active = active[~active["withdrawn"]]
        assert (active["arm"] == "treatment").sum() <= cap
        if data.draw(st.booleans()) and len(active):
            lot.withdraw(active["id"].iloc[:1].tolist(), reason="moved away")
    alloc, excl = lot.allocations(), lot.exclusions()
    assert len(alloc) + len(excl) == listed
    assert set(alloc["id"]).isdisjoint(set(excl["id"]))
    assert consort_from_lottery(lot).ok
    # within every batch the split is as close to the ratio as whole units allow
    shares = np.array(parse_ratio(ratio, 2)) / sum(parse_ratio(ratio, 2))
    for _, row in lot.allocation_table(total=False).iterrows():
        assert abs(row["treatment"] - row["total"] * shares[0]) < 1
