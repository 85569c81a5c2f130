"""Share-over-time monitoring against a plain loop."""

import numpy as np
import pandas as pd
import pytest

from effekt.errors import DataError, DesignError
from effekt.registers import StatePanel, follow_up, monitor_shares


@pytest.fixture(scope="module")
def setup():
    rng = np.random.default_rng(4)
    n, weeks = 120, 30
    codes = np.where(rng.random((n, weeks)) < 0.2, "oh", "kh")
    df = pd.DataFrame({"pnr": np.repeat(np.arange(n), weeks), "week": np.tile(np.arange(weeks), n),
                       "s": codes.ravel()})
    panel = StatePanel.from_long(df, person="pnr", period="week", state="s")
    index = pd.Series(rng.integers(0, 15, n), index=np.arange(n))
    group = pd.Series(rng.choice(["g1", "g2", "g3"], n), index=np.arange(n))
    return codes, panel, index, group


def test_matches_a_plain_loop(setup):
    codes, panel, index, group = setup
    res = monitor_shares(panel, follow_up(panel, index, cutoff=25), ["oh"], by=group)
    t = res.tidy().set_index(["group", "measure", "period"])
    for g in ("g1", "g3"):
        for week in (3, 14, 25):
            members = [i for i in index.index if group[i] == g and index[i] <= week]
            point = sum(codes[i, week] == "oh" for i in members)
            ever = sum(any(codes[i, u] == "oh" for u in range(index[i], week + 1)) for i in members)
            assert t.loc[(g, "point-in-time", week), "at_risk"] == len(members)
            assert t.loc[(g, "point-in-time", week), "count"] == point
            assert t.loc[(g, "ever since index", week), "count"] == ever
    assert t.index.get_level_values("period").max() == 25


def test_ever_never_falls_and_plot(setup):
    _, panel, index, group = setup
    res = monitor_shares(panel, follow_up(panel, index), ["oh"], by=group, every=4)
    ever = res.tidy().query("measure == 'ever since index'")
    assert (ever.groupby("group")["count"].diff().dropna() >= 0).all()
    assert sorted(res.tidy()["period"].unique())[:2] == [0, 4]
    assert type(res.plot(labels={"g1": "group 1"})).__name__ == "Figure"


def test_group_shares_of_the_seed():
    # seed 002 §4.2: group 1 with ordinary hours at March 2018: 1,357 / 12,856 = 10.56 % (ever since visitation)
    n, k = 12856, 1357
    df = pd.DataFrame({"pnr": np.arange(n), "week": 0, "s": np.where(np.arange(n) < k, "oh", "kh")})
    panel = StatePanel.from_long(df, person="pnr", period="week", state="s")
    res = monitor_shares(panel, follow_up(panel, pd.Series(0, index=np.arange(n))), ["oh"])
    assert res.tidy()["share"].iloc[-1] == pytest.approx(0.1056, abs=5e-5)


def test_bad_input(setup):
    _, panel, index, group = setup
    w = follow_up(panel, index)
    with pytest.raises(DesignError, match="every must be"):
        monitor_shares(panel, w, ["oh"], every=0)
    with pytest.raises(DataError, match="by has no group for 1 person"):
        monitor_shares(panel, w, ["oh"], by=group.iloc[1:])
