"""CONSORT flow: seed 004 reconciliation, counts from a lottery, the diagram."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pandas as pd
import pytest
from matplotlib.figure import Figure

from effekt.design import BatchLottery, ConsortFlow, consort_from_lottery
from effekt.errors import DataError, DesignError


@pytest.fixture
def seed004_flow():
    # notes-004 section 2.1: "223 took part in the lottery", 4 excluded
    # afterwards, 109 + 109 = 218 analysed; 2 (I) and 7 (C) moved away and
    # were kept in the analysis (section 2.2).
    return ConsortFlow(
        randomised=223,
        excluded_after={"not in the target group": 4},
        allocated={"intervention": 109, "control": 109},
        lost={"intervention": {"moved away": 2}, "control": {"moved away": 7}},
        analysed={"intervention": 109, "control": 109},
    )


def test_seed004_counts_do_not_add_up(seed004_flow):
    assert not seed004_flow.ok
    table = seed004_flow.reconcile().set_index("check")
    row = table.loc["randomised - excluded after = allocated"]
    assert (row["expected"], row["reported"], row["difference"], row["ok"]) == (219, 218, 1, False)
    assert seed004_flow.problems == [
        "randomised - excluded after randomisation = 223 - 4 = 219, but 218 are allocated (difference 1)"
    ]
    assert table.loc["intervention: allocated - excluded from analysis = analysed", "ok"]


def test_a_consistent_flow_passes():
    flow = ConsortFlow(
        assessed=230, excluded={"under 30": 7}, randomised=223, excluded_after={"not in the target group": 5},
        allocated={"I": 109, "C": 109}, received={"I": 107, "C": 109}, not_received={"I": {"declined": 2}},
        excluded_from_analysis={"C": {"withdrew consent": 1}}, analysed={"I": 109, "C": 108},
    )
    assert flow.ok and flow.problems == []
    assert len(flow.reconcile()) == 6


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"assessed": 230, "excluded": {"x": 5}, "randomised": 218}, "230 - 5 = 225, but 218 are randomised"),
        ({"received": {"I": 100, "C": 109}}, "I: received + did not receive = 100 + 0 = 100, but 109 are allocated"),
        ({"analysed": {"I": 110, "C": 109}}, "I: allocated - excluded from analysis = 109 - 0 = 109, but 110 are analysed"),
        ({"lost": {"I": {"moved": 110}}}, "I: 110 lost to follow-up, more than the 109 allocated"),
    ],
)
def test_each_check_can_fail(kwargs, fragment):
    flow = ConsortFlow(allocated={"I": 109, "C": 109}, **kwargs)
    assert any(fragment in p for p in flow.problems), flow.problems


def test_flow_from_a_lottery():
    lot = BatchLottery(None, seed=3, capacity={"treatment": 3}, exclude={"aged under 30": lambda u: u["age"] < 30})
    lot.draw(pd.DataFrame({"id": range(14), "age": [25, 40] * 7}), batch="b1")
    lot.withdraw(lot.allocations()["id"].iloc[:1].tolist(), reason="moved away")
    flow = consort_from_lottery(lot)
    assert flow.assessed == 14
    assert flow.excluded == {"aged under 30": 7, "capacity reached": 1}
    assert flow.allocated == {"treatment": 3, "control": 3}
    assert sum(sum(v.values()) for v in flow.lost.values()) == 1
    assert flow.ok
    tidy = flow.to_frame()
    assert tidy.loc[tidy["stage"] == "randomised", "n"].item() == 6


def test_diagram_is_written_as_svg_and_png(tmp_path, seed004_flow):
    assert isinstance(seed004_flow.plot(), Figure)
    paths = seed004_flow.save(tmp_path / "consort.svg")
    assert [p.name for p in paths] == ["consort.svg", "consort.png"]
    assert paths[0].read_text().lstrip().startswith("<?xml")
    assert "219" in paths[0].read_text()  # the failed check is printed on the diagram
    assert paths[1].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_three_arm_diagram(tmp_path):
    flow = ConsortFlow(allocated={"a": 10, "b": 10, "c": 10})
    assert flow.ok
    assert len(flow.save(tmp_path / "three")) == 2


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"allocated": {"I": 10}}, DesignError, "two or more arms"),
        ({"allocated": {"I": -1, "C": 3}}, DataError, "allocated to 'I' must not be negative"),
        ({"allocated": {"I": 1.5, "C": 3}}, DataError, "must be a whole number of people; got 1.5"),
        ({"allocated": {"I": 1, "C": 3}, "lost": {"X": {"moved": 1}}}, DataError, "lost names arm 'X'"),
        ({"allocated": {"I": 1, "C": 3}, "analysed": {"X": 1}}, DataError, "analysed names arm 'X'"),
        ({"allocated": {"I": 1, "C": 3}, "excluded": {"x": -2}}, DataError, "must not be negative"),
    ],
)
def test_bad_counts(kwargs, error, match):
    with pytest.raises(error, match=match):
        ConsortFlow(**kwargs)


def test_flow_from_a_lottery_with_an_audit():
    # seed 004: whole batches delivered in the other arm did not receive
    # their allocated intervention.
    import numpy as np

    from effekt import design

    lot = BatchLottery(None, seed=5, odd="alternate")
    for b, size in enumerate([13, 28, 29]):
        lot.draw(pd.DataFrame({"id": [f"{b}-{i}" for i in range(size)]}), batch=f"b{b}")
    alloc = lot.allocations().rename(columns={"arm": "randomised"})
    swap = {"treatment": "control", "control": "treatment"}
    alloc["delivered"] = np.where(alloc["batch"] == "b2", alloc["randomised"].map(swap), alloc["randomised"])
    flow = consort_from_lottery(lot, audit=design.audit(alloc))
    assert flow.ok
    assert sum(flow.received.values()) == 13 + 28
    assert sum(v.get("swapped batch", 0) for v in flow.not_received.values()) == 29
    with pytest.raises(DesignError, match="give audit= or received="):
        consort_from_lottery(lot, audit=design.audit(alloc), received={"treatment": 1})
    with pytest.raises(DataError, match="the audit covers other units than the lottery"):
        consort_from_lottery(lot, audit=design.audit(alloc.iloc[:-1]))


def test_plot_draws_into_a_given_axes_with_arm_labels(seed004_flow):
    from effekt.plotting import figure_and_axes

    fig = seed004_flow.plot()
    assert fig.canvas.manager is None  # not a pyplot figure
    given, ax = figure_and_axes()
    assert seed004_flow.plot(ax=ax, labels={"intervention": "Resource course"}) is given
    texts = [t.get_text() for t in ax.texts]
    assert any(t.startswith("Allocated to Resource course (n=109)") for t in texts)


def test_result_protocol_and_immutability(seed004_flow):
    import dataclasses
    import json

    from effekt.result import Result

    assert isinstance(seed004_flow, Result)
    d = seed004_flow.to_dict()
    assert json.loads(json.dumps(d, allow_nan=False)) == d == json.loads(seed004_flow.to_json())
    assert d["ok"] is False and d["randomised"] == 223
    assert seed004_flow.tidy().equals(seed004_flow.to_frame())
    text = seed004_flow.summary()
    assert "Counts do not add up" in text and "219" in text
    with pytest.raises(dataclasses.FrozenInstanceError):
        seed004_flow.assessed = 1
    with pytest.raises(TypeError):
        seed004_flow.allocated["control"] = 1
    with pytest.raises(TypeError):
        seed004_flow.lost["control"]["moved away"] = 0
