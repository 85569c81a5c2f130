"""Weekly state panels, windows and indicators, against a slow per-person oracle."""

import numpy as np
import pandas as pd
import pytest

from effekt.errors import DataError, DesignError, EffektWarning
from effekt.registers import (
    StatePanel,
    follow_up,
    look_back,
    month_of,
    summarise_windows,
    week_of,
    window_indicators,
)

STATES = ["kh", "ba", "oh", "ud", "fj"]  # cash benefit, business activation, ordinary hours, education, flexjob


def make_register(n=300, weeks=60, seed=1):
    rng = np.random.default_rng(seed)
    person = np.repeat(np.arange(n) + 1000, weeks)
    week = np.tile(np.arange(weeks) + 100, n)
    state = np.array(STATES, dtype=object)[rng.integers(0, len(STATES), n * weeks)]
    hours = np.where(rng.random(n * weeks) < 0.2, rng.integers(1, 40, n * weeks), 0).astype(float)
    keep = rng.random(n * weeks) > 0.05  # some weeks without a record
    df = pd.DataFrame({"pnr": person, "week": week, "ydelse": state, "timer": hours})[keep]
    index = pd.Series(rng.integers(130, 145, n), index=np.arange(n) + 1000, name="visit")
    return df, index


def oracle(df, index, start_fn, stop_fn, states):
    """Plain per-person loop: the definition written out."""
    rows = {}
    for pid, idx in index.items():
        s, e = start_fn(idx), stop_fn(idx)
        own = df[(df.pnr == pid) & (df.week >= s) & (df.week < e)]
        w = int(own.ydelse.isin(states).sum())
        rows[pid] = {"person_time": e - s, "state_periods": w, "hours_total": float(own.timer.sum())}
    return pd.DataFrame.from_dict(rows, orient="index")


@pytest.fixture(scope="module")
def register():
    df, index = make_register()
    return df, index, StatePanel.from_long(df, person="pnr", period="week", state="ydelse", hours="timer")


def test_follow_up_matches_the_per_person_loop(register):
    df, index, panel = register
    w = follow_up(panel, index, cutoff=155)
    got = window_indicators(panel, w, ["ba", "oh"])
    ref = oracle(df, index, lambda i: i, lambda i: 156, ["ba", "oh"])
    assert got["person_time"].tolist() == ref["person_time"].tolist()
    assert got["state_periods"].tolist() == ref["state_periods"].tolist()
    np.testing.assert_allclose(got["hours_total"], ref["hours_total"])
    np.testing.assert_allclose(got["state_share"], ref["state_periods"] / ref["person_time"])
    np.testing.assert_allclose(got["mean_hours"], ref["hours_total"] / ref["person_time"])
    assert (got["state_ever"] == (ref["state_periods"] > 0)).all()


def test_corresponding_period_has_the_follow_up_length(register):
    df, index, panel = register
    after = follow_up(panel, index, cutoff=155)
    before = look_back(panel, matching=after)
    assert (before.length == after.length).all()
    assert (before.stop == index.to_numpy()).all()
    got = window_indicators(panel, before, ["ba"])
    ref = oracle(df, index, lambda i: i - (156 - i), lambda i: i, ["ba"])
    assert got["state_periods"].tolist() == ref["state_periods"].tolist()


def test_fixed_and_calendar_look_backs(register):
    df, index, panel = register
    fixed = look_back(panel, index, length=15)
    assert (fixed.length == 15).all() and (fixed.start == index.to_numpy() - 15).all()
    since = look_back(panel, index, since=105)
    assert (since.start == 105).all() and (since.stop == index.to_numpy()).all()
    cal = look_back(panel, index, since=100, until=111)
    assert (cal.start == 100).all() and (cal.stop == 112).all()
    got = window_indicators(panel, cal, {"ba": ["ba"]})
    ref = oracle(df, index, lambda i: 100, lambda i: 112, ["ba"])
    assert got["ba_periods"].tolist() == ref["state_periods"].tolist()


def test_staggered_entry_gives_unequal_person_time(register):
    _, index, panel = register
    w = follow_up(panel, index, cutoff=155)
    assert (w.length == 156 - index.to_numpy()).all()
    capped = follow_up(panel, index, cutoff=155, length=10)
    assert (capped.length == np.minimum(10, 156 - index.to_numpy())).all()


def test_summary_by_group_pools_person_time(register):
    _, index, panel = register
    w = follow_up(panel, index, cutoff=155)
    ind = window_indicators(panel, w, {"ba": ["ba"]})
    group = pd.Series(np.where(index.to_numpy() < 135, "early", "late"), index=index.index, name="cohort")
    s = summarise_windows(ind, by=group).set_index("cohort")
    for g in ("early", "late"):
        part = ind[group == g]
        assert s.loc[g, "persons"] == len(part)
        assert s.loc[g, "person_time"] == part["person_time"].sum()
        assert s.loc[g, "pooled_share"] == pytest.approx(part["ba_periods"].sum() / part["person_time"].sum())
        assert s.loc[g, "mean_share"] == pytest.approx(part["ba_share"].mean())
        assert s.loc[g, "ever_pct"] == pytest.approx(100 * part["ba_ever"].mean())


def test_before_and_after_windows_stack_in_one_summary(register):
    _, index, panel = register
    after = follow_up(panel, index, cutoff=155)
    before = look_back(panel, matching=after)
    s = summarise_windows([window_indicators(panel, before, ["ba"]), window_indicators(panel, after, ["ba"])])
    assert s["window"].tolist() == ["before", "after"]
    assert s["person_time"].iloc[0] == s["person_time"].iloc[1]


def test_cti_structure_on_synthetic_data():
    # seed 000/003 §4.5 (Figure 3-9): mean share of weeks in business-oriented activation
    # 19 % before vs 46 % after, ever 47 % vs 88 %; reproduced in structure on synthetic data
    rng = np.random.default_rng(3)
    n, weeks = 104, 104
    index = pd.Series(rng.integers(52, 70, n), index=np.arange(n))
    t = np.arange(weeks)
    after = t[None, :] >= index.to_numpy()[:, None]
    p = np.where(after, 0.46, 0.19)
    ba = rng.random((n, weeks)) < p
    df = pd.DataFrame({"pnr": np.repeat(np.arange(n), weeks), "week": np.tile(t, n),
                       "s": np.where(ba.ravel(), "ba", "kh")})
    panel = StatePanel.from_long(df, person="pnr", period="week", state="s")
    post = follow_up(panel, index)
    pre = look_back(panel, matching=post)
    s = summarise_windows([window_indicators(panel, pre, ["ba"]), window_indicators(panel, post, ["ba"])])
    assert s.loc[0, "mean_share"] == pytest.approx(0.19, abs=0.03)
    assert s.loc[1, "mean_share"] == pytest.approx(0.46, abs=0.03)


def test_dates_are_converted_to_weeks_and_months():
    # week 13 of 2018 (the Flere skal med data cut-off, seed 002 §2.5) starts Monday 26 March 2018
    assert week_of("2018-03-26") - week_of("2018-01-01") == 12
    assert week_of("2018-04-01") == week_of("2018-03-26")  # Sunday, same week
    assert month_of("2017-08-01") + 7 == month_of("2018-03-31")  # Aug 2017 - Mar 2018: 8 months (§2.5)
    df = pd.DataFrame({"pnr": [1, 1], "uge": pd.to_datetime(["2018-03-19", "2018-03-26"]), "s": ["a", "b"]})
    panel = StatePanel.from_long(df, person="pnr", period="uge", state="s")
    w = follow_up(panel, pd.Series({1: pd.Timestamp("2018-03-21")}), cutoff="2018-03-28")
    assert window_indicators(panel, w, ["b"])["state_periods"].tolist() == [1]


def test_polars_input():
    pl = pytest.importorskip("polars")
    df, index = make_register(n=20, weeks=30)
    panel = StatePanel.from_long(pl.from_pandas(df), person="pnr", period="week", state="ydelse")
    ref = StatePanel.from_long(df, person="pnr", period="week", state="ydelse")
    assert (panel.codes == ref.codes).all()


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"person": "nope"}, "person column 'nope'"),
        ({"state": "nope"}, "state column 'nope'"),
        ({"period": "ydelse"}, "period column 'ydelse' must hold integer"),
    ],
)
def test_bad_columns(change, match):
    df, _ = make_register(n=5, weeks=5)
    kwargs = {"person": "pnr", "period": "week", "state": "ydelse", **change}
    with pytest.raises(DataError, match=match):
        StatePanel.from_long(df, **kwargs)


def test_duplicate_person_weeks_are_refused():
    df = pd.DataFrame({"pnr": [1, 1], "week": [5, 5], "s": ["a", "b"]})
    with pytest.raises(DataError, match="repeat a person and period.*pnr=1"):
        StatePanel.from_long(df, person="pnr", period="week", state="s")


def test_missing_states_and_negative_hours_are_refused():
    df = pd.DataFrame({"pnr": [1, 1], "week": [5, 6], "s": ["a", None], "h": [1.0, 2.0]})
    with pytest.raises(DataError, match="state column 's' has 1 missing"):
        StatePanel.from_long(df, person="pnr", period="week", state="s")
    df["s"] = "a"
    df.loc[0, "h"] = -1
    with pytest.raises(DataError, match="hours column 'h' has 1 negative"):
        StatePanel.from_long(df, person="pnr", period="week", state="s", hours="h")


def test_window_errors(register):
    _, index, panel = register
    with pytest.raises(DataError, match="start follow-up after the cut-off"):
        follow_up(panel, index, cutoff=131)
    with pytest.raises(DesignError, match="cutoff=999"):
        follow_up(panel, index, cutoff=999)
    with pytest.raises(DesignError, match="exactly one of length="):
        look_back(panel, index, length=5, since=100)
    with pytest.raises(DesignError, match="states the panel does not have: \\['zz'\\]"):
        window_indicators(panel, follow_up(panel, index), ["zz"])
    with pytest.raises(DataError, match="no rows in the panel, e.g. \\[5\\]"):
        follow_up(panel, pd.Series({5: 120}))
    with pytest.warns(EffektWarning, match="starts before the panel's first period"):
        w = look_back(panel, index, length=40)
    assert (w.start == np.maximum(index.to_numpy() - 40, 100)).all()


def test_monthly_hours_with_weekly_windows(tmp_path):
    # seed 002 §2.7: "berørte" = at least one month with ordinary hours > 0 after visitation, to the end of
    # the data (week 13 of 2018 for DREAM; monthly hours to March 2018)
    weeks = pd.DataFrame({"pnr": np.repeat([1, 2], 40), "uge": np.tile(np.arange(40) + week_of("2017-07-03"), 2),
                          "ydelse": "kh"})
    panel = StatePanel.from_long(weeks, person="pnr", period="uge", state="ydelse")
    visits = pd.Series({1: week_of("2017-08-07"), 2: week_of("2017-10-02")})
    after = follow_up(panel, visits, cutoff=week_of("2018-03-26"))
    months = pd.DataFrame({"pnr": [1, 1, 2, 2], "maaned": pd.to_datetime(["2017-07-01", "2017-09-01", "2017-08-01",
                                                                          "2018-03-01"]),
                           "timer": [20.0, 0.0, 15.0, 12.0]})
    path = tmp_path / "hours.parquet"
    months.to_parquet(path)
    hours = StatePanel.from_long(str(path), person="pnr", period="maaned", hours="timer", freq="M")
    assert hours.states == ("record",)
    monthly = after.to_months()
    assert (monthly.stop == month_of("2018-03-01") + 1).all()  # week 13 (26 Mar - 1 Apr) counts as March
    assert monthly.start.tolist() == [month_of("2017-08-01"), month_of("2017-10-01")]
    ind = window_indicators(hours, monthly)  # a window of the weekly panel, matched to the hours panel by person
    # person 1: July's 20 hours are before visitation, September has 0 -> not "berørt"; person 2: March 2018
    assert ind["hours_ever"].tolist() == [False, True]
    assert ind["hours_total"].tolist() == [0.0, 12.0]
    assert ind["person_time"].tolist() == [8, 6]  # Aug-Mar and Oct-Mar: months per person
    wider = after.to_months(overlap="any_day")
    assert wider.stop.tolist() == [month_of("2018-04-01") + 1] * 2
    with pytest.warns(EffektWarning, match="reaches outside this panel's periods"):
        window_indicators(hours, wider)  # the hours panel ends in March 2018


def test_hours_only_panels_need_a_column():
    with pytest.raises(DesignError, match="give state="):
        StatePanel.from_long(pd.DataFrame({"pnr": [1], "m": [1]}), person="pnr", period="m")
    with pytest.raises(DataError, match="cannot read the Parquet file"):
        StatePanel.from_long("/nonexistent/x.parquet", person="pnr", period="m", hours="h")


def test_row_order_and_label_types_change_nothing(register):
    df, index, panel = register
    shuffled = df.sample(frac=1.0, random_state=3)
    again = StatePanel.from_long(shuffled, person="pnr", period="week", state="ydelse", hours="timer")
    assert (again.codes == panel.codes).all() and again.persons.equals(panel.persons)
    np.testing.assert_array_equal(again.hours, panel.hours)
    text = StatePanel.from_long(df.assign(pnr="p" + df.pnr.astype(str)), person="pnr", period="week",
                                state="ydelse")
    w = follow_up(text, pd.Series(index.to_numpy(), index="p" + index.index.astype(str)), cutoff=155)
    a = window_indicators(text, w, ["ba"])["state_periods"].to_numpy()
    b = window_indicators(panel, follow_up(panel, index, cutoff=155), ["ba"])["state_periods"].to_numpy()
    assert (a == b).all()


def test_own_end_of_follow_up(register):
    _, index, panel = register
    end = pd.Series({1000: 140, 1001: 150})
    w = follow_up(panel, index, cutoff=155, end=end)
    t = w.tidy()
    assert t.loc[1000, "stop"] == min(141, 156) and t.loc[1001, "stop"] == 151
    assert (t.drop([1000, 1001])["stop"] == 156).all()
    with pytest.raises(DataError, match="end follow-up \\(end=\\) before it starts"):
        follow_up(panel, index, end=pd.Series({1000: 100}))
