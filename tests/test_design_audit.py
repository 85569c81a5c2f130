"""Allocation audit (batch swaps) and the as-randomised / as-delivered pair."""

from __future__ import annotations

import doctest
import importlib

import numpy as np
import pandas as pd
import pytest

import effekt as ef
from effekt import design
from effekt.design.lottery import BatchLottery
from effekt.errors import DataError, DesignError

# Seed 004 (notes-004 sections 2.2 and 4.2): 13 lotteries; those of 13/2,
# 27/2 and 13/3 (the 3rd, 4th and 5th; 29 + 27 + 16 = 72 people) were
# delivered with the arms swapped.
SIZES = [13, 28, 29, 27, 16, 16, 14, 10, 18, 19, 4, 16, 8]
DATES = ["16-1", "30-1", "13-2", "27-2", "13-3", "27-3", "6-4", "24-4", "8-5", "22-5", "2-6", "19-6", "15-8"]
SWAPPED = ["13-2", "27-2", "13-3"]


@pytest.fixture
def seed004_allocation():
    lot = BatchLottery(None, seed=2017, odd="alternate")
    start = 0
    for size, day in zip(SIZES, DATES):
        lot.draw(pd.DataFrame({"id": [f"p{i:03d}" for i in range(start, start + size)]}), batch=day, top_up=day == "15-8")
        start += size
    alloc = lot.allocations().rename(columns={"arm": "randomised"})
    flip = {"treatment": "control", "control": "treatment"}
    alloc["delivered"] = np.where(alloc["batch"].isin(SWAPPED), alloc["randomised"].map(flip), alloc["randomised"])
    return alloc


def test_seed004_swaps_are_found(seed004_allocation):
    au = design.audit(seed004_allocation)
    assert au.swapped_batches == SWAPPED
    assert au.n_swapped == 72
    assert au.n_wrong_arm == 0
    verdicts = au.batches.set_index("batch")["verdict"]
    assert (verdicts.drop(SWAPPED) == "as randomised").all()
    assert verdicts.loc["13-2"] == "swapped"
    assert au.batches.set_index("batch").loc["13-2", "mapping"] == "control->treatment, treatment->control"


def test_individual_errors_are_not_called_swaps(seed004_allocation):
    alloc = seed004_allocation.copy()
    i = alloc.index[alloc["batch"] == "30-1"][0]
    alloc.loc[i, "delivered"] = "control" if alloc.loc[i, "randomised"] == "treatment" else "treatment"
    au = design.audit(alloc)
    assert au.batches.set_index("batch").loc["30-1", "verdict"] == "mixed"
    assert au.n_wrong_arm == 1 and au.n_swapped == 72


def test_not_delivered_units(seed004_allocation):
    alloc = seed004_allocation.copy()
    alloc.loc[0, "delivered"] = None
    au = design.audit(alloc)
    assert au.units.loc[0, "status"] == "not delivered"
    assert au.batches.iloc[0]["n_not_delivered"] == 1 and au.batches.iloc[0]["verdict"] == "as randomised"
    itt, delivered = au.datasets()
    assert len(itt) == 218 and len(delivered) == 217 and delivered.attrs["dropped"] == 1


def test_datasets_pair(seed004_allocation):
    au = design.audit(seed004_allocation)
    rng = np.random.default_rng(4)
    outcomes = pd.DataFrame({"id": seed004_allocation["id"], "y": rng.normal(size=218)}).sample(frac=1, random_state=1)
    itt, delivered = au.datasets(outcomes, on="id", column="z", treated="treatment")
    assert list(itt["id"]) == list(outcomes["id"])
    truth = seed004_allocation.set_index("id")
    assert (itt["z"].to_numpy() == (truth.loc[itt["id"], "randomised"] == "treatment").to_numpy()).all()
    assert (delivered["z"].to_numpy() == (truth.loc[delivered["id"], "delivered"] == "treatment").to_numpy()).all()
    assert int((itt["z"] != delivered["z"]).sum()) == 72
    assert (delivered.groupby(itt.loc[delivered.index, "id"].map(truth["batch"]))["z"].sum() - itt.groupby(itt["id"].map(truth["batch"]))["z"].sum()).abs().max() <= 1


def test_compare_as_randomised_as_delivered(seed004_allocation):
    au = design.audit(seed004_allocation)
    rng = np.random.default_rng(8)
    data = seed004_allocation[["id", "batch"]].copy()
    data["y"] = rng.normal(size=218) + 0.5 * (seed004_allocation["delivered"] == "treatment")
    pair = ef.compare_as_randomised_as_delivered(
        "difference_in_means", au, data, treated="treatment", on="id", outcome="y", blocks="batch"
    )
    assert pair.table["analysis"].tolist() == ["as randomised", "as delivered"]
    # each analysis equals the estimator run by hand on its own data set
    itt, delivered = au.datasets(data, on="id", column="z", treated="treatment")
    by_hand = ef.estimate("difference_in_means", data=delivered, outcome="y", treatment="z", blocks="batch")
    assert pair.as_delivered.estimate == by_hand.estimate
    assert pair.as_delivered.std_error == by_hand.std_error
    by_hand_itt = ef.estimate("difference_in_means", data=itt, outcome="y", treatment="z", blocks="batch")
    assert pair.as_randomised.estimate == by_hand_itt.estimate
    assert pair.difference == pytest.approx(by_hand.estimate - by_hand_itt.estimate, abs=0)


def test_compare_refuses_to_overwrite_a_column(seed004_allocation):
    au = design.audit(seed004_allocation)
    data = seed004_allocation[["id"]].assign(z=1, y=0.0)
    with pytest.raises(DesignError, match="treatment='z' is already a column"):
        ef.compare_as_randomised_as_delivered("difference_in_means", au, data, treated="treatment", on="id", outcome="y")
    with pytest.raises(DesignError, match="the treatment comes from the audit"):
        ef.compare_as_randomised_as_delivered(
            "difference_in_means", au, data, treated="treatment", on="id", outcome="y", treatment="w", assignment=None
        )


# --------------------------------------------------------------------------- bad input


def test_audit_missing_column(seed004_allocation):
    with pytest.raises(DataError, match="delivered='arm_given': no such column"):
        design.audit(seed004_allocation, delivered="arm_given")


def test_audit_missing_randomised_arm(seed004_allocation):
    seed004_allocation.loc[5, "randomised"] = None
    with pytest.raises(DataError, match=r"randomised column 'randomised' has 1 missing values \(row 5\)"):
        design.audit(seed004_allocation)


def test_audit_duplicate_ids(seed004_allocation):
    seed004_allocation.loc[1, "id"] = seed004_allocation.loc[0, "id"]
    with pytest.raises(DataError, match=r"duplicated ids \(rows 0 and 1\)"):
        design.audit(seed004_allocation)


def test_audit_unknown_delivered_label(seed004_allocation):
    seed004_allocation.loc[0, "delivered"] = "Treatment"
    with pytest.raises(DesignError, match=r"holds \['Treatment'\], which no unit was randomised to"):
        design.audit(seed004_allocation)


def test_datasets_unknown_ids_and_row_mismatch(seed004_allocation):
    au = design.audit(seed004_allocation)
    with pytest.raises(DataError, match="1 ids in column 'id' .* were not audited"):
        au.datasets(pd.DataFrame({"id": ["nobody"]}), on="id")
    with pytest.raises(DataError, match="data have 1 rows but 218 units were audited"):
        au.datasets(pd.DataFrame({"id": ["p000"]}))


# --------------------------------------------------------------------------- docs


@pytest.mark.parametrize(
    "module",
    [
        "effekt.design",
        "effekt.design._stream",
        "effekt.design.assignment",
        "effekt.design.lottery",
        "effekt.design.log",
        "effekt.design.allocation_audit",
        "effekt.design.balance",
        "effekt.design.consort",
        "effekt.estimators.as_delivered",
    ],
)
def test_doctests_run(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_design_guide_runs():
    # docs/design.md: every python block runs as written, in order
    import re
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    page = Path(__file__).resolve().parents[1] / "docs" / "design.md"
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)
    assert len(blocks) >= 8
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(page), "exec"), namespace)
    assert namespace["audit"].n_swapped == namespace["alloc"]["batch"].isin(["lottery-03", "lottery-04", "lottery-05"]).sum()


def test_datasets_refuse_a_treated_label_that_is_not_an_arm():
    import pandas as pd

    from effekt import design
    from effekt.errors import DataError

    audit = design.audit(pd.DataFrame({"id": range(4), "batch": ["a"] * 4,
                                       "randomised": ["T", "C", "T", "C"], "delivered": ["C", "T", "C", "T"]}))
    with pytest.raises(DataError, match="treated='treatment' is not one of the audited arms"):
        audit.datasets(column="z", treated="treatment")


def test_result_protocol_and_immutability():
    import dataclasses
    import json

    from effekt.result import Result

    df = pd.DataFrame({"id": range(6), "batch": ["a"] * 4 + ["b"] * 2,
                       "randomised": ["T", "C", "T", "C", "T", "C"],
                       "delivered": ["C", "T", "C", "T", "T", None]})
    au = design.audit(df)
    assert isinstance(au, Result)
    d = au.to_dict()
    assert json.loads(json.dumps(d, allow_nan=False)) == d == json.loads(au.to_json())
    assert d["units"][5]["delivered"] is None  # not delivered: None, never "nan"
    assert (d["swapped_batches"], d["n_swapped"], d["n_not_delivered"]) == (["a"], 4, 1)
    assert list(au.tidy()["verdict"]) == ["swapped", "as randomised"]
    df.loc[0, "delivered"] = "T"
    assert au.units.loc[0, "delivered"] == "C"  # the result keeps its own copy
    with pytest.raises(dataclasses.FrozenInstanceError):
        au.units = df
