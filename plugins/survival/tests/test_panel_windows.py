"""first_entry and gap_times use the follow-up windows of effekt.registers.

The window is that of ``effekt.registers.follow_up(panel, origin, offset=1,
cutoff=extract, end=censor)``: weeks ``origin < w <= min(extract, censor)``.
These tests compute the same survival data from a StatePanel and that window
and compare; and they pin the one behaviour that changed when the windows
were shared: a fractional week is refused (whole weeks are what both modules
count), where it used to be compared with ``>`` and ``<=``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from effekt import registers as rg
from effekt.errors import DataError, DesignError
from effekt_survival.panel import first_entry, gap_times

STATES = ["rf", "job", "pension"]


def _panel(seed: int, n: int = 12, weeks: int = 20) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    states = rng.choice(STATES, size=(n, weeks), p=[0.8, 0.15, 0.05])
    panel = pd.DataFrame({"id": np.repeat(np.arange(n), weeks), "week": np.tile(np.arange(weeks), n),
                          "state": states.ravel()})
    origin = rng.integers(0, 8, n)
    censor = np.where(rng.random(n) < 0.4, origin + rng.integers(0, 10, n), np.nan)
    persons = pd.DataFrame({"id": np.arange(n), "o": origin, "c": censor})
    return panel, persons


def _from_registers(panel: pd.DataFrame, persons: pd.DataFrame, extract: int) -> pd.DataFrame:
    """time and event of first_entry, from a StatePanel and effekt.registers.follow_up."""
    sp = rg.StatePanel.from_long(panel, person="id", period="week", state="state", states=STATES)
    own = persons.set_index("id")["c"]
    window = rg.follow_up(sp, persons.set_index("id")["o"], offset=1, cutoff=extract, end=own.dropna())
    weeks = np.arange(sp.first, sp.last + 1)
    inside = (weeks[None, :] >= window.start[:, None]) & (weeks[None, :] < window.stop[:, None])
    time, event = [], []
    for i, row in enumerate(window.rows):
        hits = []
        for cause, states in ((1, ["job"]), (2, ["pension"])):
            hit = np.flatnonzero(inside[i] & sp.in_states(states)[row])
            if hit.size:
                hits.append((weeks[hit[0]], cause))
        if hits:
            week, cause = min(hits)
            time.append(week - window.index[i])
            event.append(cause)
        else:
            time.append(window.stop[i] - 1 - window.index[i])
            event.append(0)
    return pd.DataFrame({"time": np.asarray(time, dtype=float), "event": event})


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), extract=st.integers(12, 19))
def test_first_entry_is_the_first_event_week_of_the_registers_window(seed: int, extract: int) -> None:
    panel, persons = _panel(seed)
    persons = persons[persons["c"].isna() | (persons["c"] >= persons["o"] + 1)]  # follow_up needs a week
    panel = panel[panel["id"].isin(persons["id"])]
    with _no_check():
        got = first_entry(panel, persons, person="id", week="week", state="state", origin="o",
                          events={1: ["job"], 2: ["pension"]}, extract=extract, censor="c",
                          after_censoring="ignore")
    want = _from_registers(panel, persons, extract)
    np.testing.assert_array_equal(got["time"].to_numpy(), want["time"].to_numpy())
    np.testing.assert_array_equal(got["event"].to_numpy(), want["event"].to_numpy())


class _no_check:
    """Warnings (prevalent events, unused causes) are not what these tests check."""

    def __enter__(self) -> None:
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore")

    def __exit__(self, *exc: object) -> None:
        self._ctx.__exit__(*exc)


def test_the_bounds_are_follow_ups() -> None:
    start, stop = rg.follow_up_bounds([10, 10, 10], cutoff=12, offset=1, end=[np.nan, 11, 15])
    assert start.tolist() == [11, 11, 11] and stop.tolist() == [13, 12, 13]
    start, stop = rg.follow_up_bounds([3], offset=0)
    assert stop.tolist() == [np.inf]


def test_gap_times_episodes_lie_in_the_same_window() -> None:
    panel, persons = _panel(3)
    persons = persons.assign(c=np.nan)
    with _no_check():
        gaps = gap_times(panel, persons, person="id", week="week", state="state", origin="o",
                         events=["job", "pension"], extract=15)
    start, stop = rg.follow_up_bounds(persons["o"], cutoff=15, offset=1)
    length = stop - start  # weeks of follow-up per person, counted from the origin
    last = gaps.groupby("id").tail(1)
    assert (last["stop"].to_numpy() <= length[last["id"].to_numpy()]).all()
    censored = last[last["event"] == 0]  # a last gap without an event ends at the end of the window
    assert len(censored) and (censored["stop"].to_numpy() == length[censored["id"].to_numpy()]).all()


@pytest.mark.parametrize("where", ["panel", "origin", "extract"])
def test_a_fractional_week_is_refused(where: str) -> None:
    panel = pd.DataFrame({"id": [1, 1, 1], "week": [10.0, 11.0, 12.0], "state": ["rf", "job", "job"]})
    persons = pd.DataFrame({"id": [1], "o": [10.0]})
    extract: float = 12
    if where == "panel":
        panel.loc[1, "week"] = 10.5
    elif where == "origin":
        persons.loc[0, "o"] = 9.5
    else:
        extract = 11.5
    error = DesignError if where == "extract" else DataError
    with pytest.raises(error, match="week"):
        first_entry(panel, persons, person="id", week="week", state="state", origin="o", events=["job"],
                    extract=extract)
