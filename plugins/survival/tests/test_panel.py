"""Register panel -> survival data: against a plain per-person loop, chunking, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from effekt.errors import DataError, DesignError, EffektWarning
from effekt_survival.panel import first_entry, gap_times

EVENTS = {1: ["job", "flex"], 2: ["pension"]}


def _panel(seed=0, n=60, weeks=30):
    rng = np.random.default_rng(seed)
    states = np.array(["rf", "cash", "job", "flex", "pension"])
    st_ = states[rng.choice(5, size=(n, weeks), p=[0.6, 0.2, 0.1, 0.05, 0.05])]
    wk = np.tile(np.arange(100, 100 + weeks), n)
    pid = np.repeat(np.arange(n) * 7 + 3, weeks)
    panel = pd.DataFrame({"id": pid, "week": wk, "state": st_.ravel()})
    # some persons leave the register early
    drop = rng.random(len(panel)) < 0
    panel = panel[~drop]
    persons = pd.DataFrame({
        "id": np.arange(n) * 7 + 3,
        "origin": rng.integers(100, 110, n),
        "censor": np.where(rng.random(n) < 0.2, rng.integers(112, 125, n), np.nan),
        "z": rng.integers(0, 2, n),
    })
    return panel, persons


def _reference(panel, persons, events, extract):
    """Plain Python loop over persons: the definition in first_entry's docstring."""
    cause_of = {s: k for k, v in events.items() for s in v}
    out = []
    for _, p in persons.iterrows():
        g = panel[panel.id == p.id].sort_values("week")
        stop = extract
        if not np.isnan(p.censor):
            stop = min(stop, p.censor)
        stop = min(stop, g.week.max())
        t, e = stop - p.origin, 0
        for w, s in zip(g.week, g.state):
            if p.origin < w <= stop and s in cause_of:
                t, e = w - p.origin, cause_of[s]
                break
        out.append((t, e))
    return np.array(out)


def _fe(panel, persons, **kw):
    kw.setdefault("after_censoring", "ignore")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EffektWarning)
        return first_entry(panel, persons, person="id", week="week", state="state", origin="origin",
                           events=EVENTS, censor="censor", **kw)


@pytest.mark.parametrize("extract", [120, 125])
def test_first_entry_matches_plain_loop(extract):
    panel, persons = _panel()
    out = _fe(panel, persons, extract=extract)
    ref = _reference(panel, persons, EVENTS, extract)
    np.testing.assert_array_equal(out["time"].to_numpy(), ref[:, 0])
    np.testing.assert_array_equal(out["event"].to_numpy(), ref[:, 1])
    assert list(out.columns[:4]) == ["id", "origin", "censor", "z"]


@settings(max_examples=10, deadline=None)
@given(chunk=st.integers(1, 400), seed=st.integers(0, 50))
def test_chunking_changes_nothing(chunk, seed):
    panel, persons = _panel(seed=seed, n=20, weeks=15)
    a = _fe(panel, persons, extract=112)
    b = _fe(panel, persons, extract=112, chunk_rows=chunk)
    pd.testing.assert_frame_equal(a, b)
    parts = [panel.iloc[i: i + chunk] for i in range(0, len(panel), chunk)]
    c = _fe(iter(parts), persons, extract=112)
    pd.testing.assert_frame_equal(a, c)


@pytest.mark.filterwarnings("ignore:.*already in an event state")
def test_censored_at_last_observed_week_warns():
    panel, persons = _panel(n=5)
    panel = panel[~((panel.id == 3) & (panel.week > 105))]
    panel.loc[panel.id == 3, "state"] = "rf"
    with pytest.warns(EffektWarning, match="leave the panel before the extract"):
        out = first_entry(panel, persons.assign(censor=np.nan), person="id", week="week", state="state",
                          origin="origin", events=EVENTS, extract=125)
    assert out.loc[0, "time"] == 105 - persons.loc[0, "origin"] and out.loc[0, "event"] == 0


def test_delayed_entry_column():
    panel, persons = _panel(n=10)
    persons = persons.assign(censor=np.nan, enter=persons.origin)
    out = _fe(panel, persons, extract=129, entry="enter")
    assert (out["entry"] == 0).all()


def test_single_cause_list():
    panel, persons = _panel(n=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EffektWarning)
        out = first_entry(panel, persons, person="id", week="week", state="state", origin="origin",
                          events=["pension"], extract=125, after_censoring="ignore", censor="censor")
    assert set(out.event) <= {0, 1}


def test_gap_times_match_plain_loop():
    panel, persons = _panel(n=15)
    persons = persons.assign(censor=np.nan)
    extract = 125
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EffektWarning)
        out = gap_times(panel, persons, person="id", week="week", state="state", origin="origin",
                        events=EVENTS, extract=extract)
    cause_of = {s: k for k, v in EVENTS.items() for s in v}
    rows = []
    for _, p in persons.iterrows():
        g = panel[panel.id == p.id].sort_values("week")
        end = min(extract, g.week.max())
        prev_in, start, ep = False, p.origin, 0
        for w, s in zip(g.week, g.state):
            if not (p.origin < w <= end):
                continue
            now_in = s in cause_of
            if now_in and not prev_in:
                ep += 1
                rows.append((p.id, ep, start - p.origin, w - p.origin, cause_of[s]))
            if prev_in and not now_in:
                start = w
            prev_in = now_in
        if not prev_in and start < end:
            rows.append((p.id, ep + 1, start - p.origin, end - p.origin, 0))
    ref = pd.DataFrame(rows, columns=["id", "episode", "start", "stop", "event"])
    np.testing.assert_array_equal(out[["id", "episode", "start", "stop", "event"]].to_numpy(float),
                                  ref.to_numpy(float))
    np.testing.assert_array_equal(out["time"], out["stop"] - out["start"])
    assert (out["time"] > 0).all()


# -- bad input -------------------------------------------------------------------------

def test_duplicated_week():
    panel, persons = _panel(n=5)
    panel = pd.concat([panel.iloc[:3], panel.iloc[2:3], panel.iloc[3:]], ignore_index=True)
    with pytest.raises(DataError, match="person 3 has week 102 twice"):
        _fe(panel, persons, extract=125)


def test_weeks_out_of_order():
    panel, persons = _panel(n=5)
    panel = panel.iloc[[1, 0] + list(range(2, len(panel)))]
    with pytest.raises(DataError, match="weeks are out of order for person 3.*sort_values"):
        _fe(panel, persons, extract=125)


def test_person_rows_not_contiguous():
    panel, persons = _panel(n=5)
    panel = pd.concat([panel.iloc[:10], panel.iloc[40:], panel.iloc[10:40]], ignore_index=True)
    with pytest.raises(DataError, match="rows of person 3 are not contiguous"):
        _fe(panel, persons, extract=125)


def test_event_after_censoring():
    panel, persons = _panel(n=5)
    persons.loc[0, "censor"] = persons.loc[0, "origin"] + 1
    panel.loc[(panel.id == 3) & (panel.week == 110), "state"] = "job"
    with pytest.raises(DataError, match=r"person 3 is in event state '\w+' in week \d+ .* after the person's censoring week"):
        _fe(panel, persons, extract=125, after_censoring="error")


def test_censor_before_origin_negative_time():
    panel, persons = _panel(n=5)
    persons.loc[1, "censor"] = persons.loc[1, "origin"] - 2
    with pytest.raises(DataError, match="censored before their origin.*negative"):
        _fe(panel, persons, extract=125)


def test_person_missing_from_panel():
    panel, persons = _panel(n=5)
    with pytest.raises(DataError, match="have no rows in the panel"):
        _fe(panel[panel.id != 10], persons, extract=125)


def test_person_missing_from_persons():
    panel, persons = _panel(n=5)
    with pytest.raises(DataError, match="not in persons"):
        _fe(panel, persons.iloc[1:], extract=125)


def test_state_in_two_causes():
    panel, persons = _panel(n=5)
    with pytest.raises(DesignError, match="state 'job' belongs to causes 1 and 2"):
        first_entry(panel, persons, person="id", week="week", state="state", origin="origin",
                    events={1: ["job"], 2: ["job"]})


def test_text_weeks():
    panel, persons = _panel(n=5)
    with pytest.raises(DataError, match="week column 'week' holds object values"):
        _fe(panel.assign(week=panel.week.astype(str)), persons, extract=125)


def test_entry_at_end_of_follow_up():
    panel, persons = _panel(n=5)
    with pytest.raises(DataError, match="at or after the end of follow-up"):
        _fe(panel, persons.assign(enter=200), extract=125, entry="enter")


def test_entry_before_origin():
    panel, persons = _panel(n=5)
    with pytest.raises(DataError, match="before the origin"):
        _fe(panel, persons.assign(enter=persons.origin - 1), extract=125, entry="enter")


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), extract=st.integers(110, 135), text_ids=st.booleans(),
       categorical=st.booleans())
def test_first_entry_matches_plain_loop_property(seed, extract, text_ids, categorical):
    panel, persons = _panel(seed=seed, n=25, weeks=30)
    rng = np.random.default_rng(seed)
    panel = panel[rng.random(len(panel)) > 0.1]  # gaps: some person-weeks missing
    persons = persons[persons.id.isin(panel.id)].reset_index(drop=True)
    ref = _reference(panel, persons, EVENTS, extract)
    if text_ids:
        panel = panel.assign(id="p" + panel.id.astype(str))
        persons = persons.assign(id="p" + persons.id.astype(str))
    if categorical:
        panel = panel.assign(state=panel.state.astype("category"))
    out = _fe(panel, persons, extract=extract)
    np.testing.assert_array_equal(out["time"].to_numpy(), ref[:, 0])
    np.testing.assert_array_equal(out["event"].to_numpy(), ref[:, 1])


def test_no_weeks_after_origin():
    panel, persons = _panel(n=5)
    panel = panel[~((panel.id == 10) & (panel.week >= persons.loc[1, "origin"]))]
    with pytest.raises(DataError, match="person 10: last week .* would give a negative follow-up time"):
        _fe(panel, persons, extract=125)
