"""Reference values from the seed notes (seed 004, VIVE 2019 resource-course RCT).

Source: /work/shared/seeds/notes-004-resource-course-rct.md, sections 4.5-4.8
(Tables 8.3, 8.5, 8.6 with the report's Cox results and the note-writer's
consistency checks) and 4.12 (derived Schoenfeld power checks).
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from effekt.errors import DesignError
from effekt_survival.checks import (
    check_reported_hr,
    information_fraction,
    schoenfeld_events,
    se_log_hr_from_events,
)


def test_primary_hr_ci_midpoint_flagged():
    # seed 004 notes 4.5: HR 1.74, CI 0.87-3.12, p = 0.0988; "geometric midpoint is 1.65,
    # not 1.74"; "SE implied by the reported p: 0.336, giving a Wald CI of 0.90-3.36";
    # "The CI width (SE ~ 0.326) agrees with the p-value, but the centre does not."
    chk = check_reported_hr(1.74, 0.87, 3.12, 0.0988)
    assert not chk.consistent
    assert round(chk.midpoint, 2) == 1.65
    assert len(chk.flags) == 1 and "midpoint" in chk.flags[0] and "1.65" in chk.flags[0]
    assert round(chk.se_from_p, 3) == 0.336
    assert round(chk.se_from_ci, 3) == 0.326
    assert (round(chk.ci_from_p[0], 2), round(chk.ci_from_p[1], 2)) == (0.90, 3.36)


def test_completion_hr_flagged():
    # seed 004 notes 4.7: HR 1.23, CI 0.87-2.11, p = 0.45; "SE implied by p is 0.274, giving a
    # CI of 0.72-2.10"; "a CI of 0.87-2.11 would imply p ~ 0.36".
    chk = check_reported_hr(1.23, 0.87, 2.11, 0.45)
    assert not chk.consistent
    assert round(chk.se_from_p, 3) == 0.274
    assert (round(chk.ci_from_p[0], 2), round(chk.ci_from_p[1], 2)) == (0.72, 2.10)
    assert round(chk.p_from_ci, 2) == 0.36
    assert any("width" in f for f in chk.flags)


def test_placement_hr_flagged():
    # seed 004 notes 4.8: HR 1.28, CI 0.84-1.74, p = 0.18; "geometric midpoint of 1.21, not 1.28".
    chk = check_reported_hr(1.28, 0.84, 1.74, 0.18)
    assert not chk.consistent
    assert round(chk.midpoint, 2) == 1.21
    assert any("1.21" in f for f in chk.flags)


def test_consistent_report_not_flagged():
    # a Wald result printed to two decimals: log HR 0.5, SE 0.2 -> HR 1.65, CI 1.11-2.44, p 0.0124
    chk = check_reported_hr(1.65, 1.11, 2.44, 0.0124)
    assert chk.consistent, chk.flags


@pytest.mark.parametrize(
    ("d1", "d0", "se"),
    [(25, 15, 0.327), (31, 26, 0.266), (65, 55, 0.183)],  # seed 004 notes 4.5, 4.7, 4.8
)
def test_se_from_event_counts(d1, d0, se):
    assert round(se_log_hr_from_events(d1, d0), 3) == se


def test_se_from_events_wald_p_primary():
    # seed 004 notes 4.5: SE 0.327 "gives Wald p ~ 0.090 and CI 0.92-3.30 for HR 1.74"
    from scipy import stats

    se = se_log_hr_from_events(25, 15)
    assert round(2 * stats.norm.sf(math.log(1.74) / se), 3) == 0.090
    assert round(math.exp(math.log(1.74) - 1.96 * se), 2) == 0.92
    assert round(math.exp(math.log(1.74) + 1.96 * se), 2) == 3.30


def test_information_fraction_primary():
    # seed 004 notes 4.12: clarification, HR 1.74: ~102 events needed, 40 observed, power 0.42;
    # "With 40 events, the minimal detectable HR is about 2.43"; issue 6: fraction ~0.39.
    info = information_fraction(40, 1.74)
    assert round(info.events_needed) == 102
    assert round(info.fraction, 2) == 0.39
    assert round(info.power_at_events, 2) == 0.42
    assert round(info.detectable_hr, 2) == 2.43
    assert info.warning is not None and "0.39" in info.warning


@pytest.mark.parametrize(
    ("hr", "events", "needed", "power"),
    [(1.23, 57, 733, 0.12), (1.28, 120, 515, 0.27)],  # seed 004 notes 4.12, rows 2-3
)
def test_information_fraction_secondary(hr, events, needed, power):
    info = information_fraction(events, hr)
    assert round(info.events_needed) == needed
    assert round(info.power_at_events, 2) == power


def test_schoenfeld_events_hr_below_one_symmetric():
    assert schoenfeld_events(1 / 1.74) == pytest.approx(schoenfeld_events(1.74), rel=1e-12)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((0.0, 0.5, 2.0, 0.1), "hr must be a positive"),
        ((1.2, 2.0, 0.5, 0.1), "conf_low must be below conf_high"),
        ((1.2, 0.8, 2.0, 1.5), "p_value must lie"),
        ((1.2, -0.8, 2.0, 0.5), "conf_low must be a positive"),
    ],
)
def test_check_reported_hr_bad_input(args, match):
    with pytest.raises(DesignError, match=match):
        check_reported_hr(*args)


def test_information_fraction_bad_hr():
    with pytest.raises(DesignError, match="hr=1 is no effect"):
        information_fraction(40, 1.0)


def test_seed004_style_cox_on_bundled_trial_matches_lifelines_and_phreg():
    # seed 004 notes 3/4.5: "Cox model, time to clarification (adjusted for sex, age and lottery
    # date)"; the bundled synthetic trial stands in for the unavailable person-level data.
    import statsmodels.api as sm
    from lifelines import CoxPHFitter

    import effekt as ef
    from effekt.examples import load_trial

    df = load_trial()
    df["lottery_day"] = (pd.to_datetime(df.lottery_date) - pd.Timestamp("2017-01-16")).dt.days
    res = ef.estimate("cox", data=df, time="weeks", event="exit", treatment="z",
                      covariates=["female", "age", "lottery_day"])
    d = df.assign(any_exit=(df.exit > 0).astype(int))[["weeks", "any_exit", "z", "female", "age", "lottery_day"]]
    c = CoxPHFitter().fit(d, "weeks", "any_exit")
    m = sm.PHReg(d.weeks, d[["z", "female", "age", "lottery_day"]], status=d.any_exit, ties="efron").fit()
    assert math.log(res.estimate) == pytest.approx(m.params[0], abs=1e-7)  # PHReg stops at ~1e-8
    assert math.log(res.estimate) == pytest.approx(c.params_["z"], abs=1e-5)
    assert res.std_error == pytest.approx(m.bse[0], rel=1e-8)
    pct = (res.estimate - 1) * 100
    assert res.extra["interpretation"] == f"{abs(pct):.0f} % {'higher' if pct >= 0 else 'lower'} rate"
    info = information_fraction(res, 1.74)
    assert info.events == res.extra["events_treated"] + res.extra["events_control"] == int((df.exit > 0).sum())
