"""Event labels, text arms and covariates, cause=None, horizon, plots as result methods, R's NA bands."""

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest

import effekt as ef
from effekt.errors import DataError, DesignError, EffektWarning
from effekt_survival.aalen_johansen import simulate_competing
from effekt_survival.cox import simulate_weibull

LABELS = {0: "censored", 1: "job", 2: "flexjob", 3: "disability pension"}


@pytest.fixture(scope="module")
def competing():
    rng = np.random.default_rng(11)
    df = simulate_competing(rng, n=400, log_hr=np.log(1.5))
    # split cause 2 into two labelled exits so there are three causes
    third = (df.event == 2) & (rng.random(len(df)) < 0.4)
    df.loc[third, "event"] = 3
    return df.assign(exit=df.event.map(LABELS), arm=np.where(df.z == 1, "programme", "usual"))


def test_cox_text_covariate_and_text_arms_match_the_coded_data():
    df = simulate_weibull(np.random.default_rng(3), n=500, log_hr=0.4)
    rng = np.random.default_rng(4)
    sector = rng.choice(["industry", "retail", "care"], size=len(df))
    coded = df.assign(retail=(sector == "retail").astype(float), industry=(sector == "industry").astype(float))
    text = df.assign(sector=sector, arm=np.where(df.z == 1, "programme", "control"))
    a = ef.estimate("cox", data=coded, time="time", event="event", treatment="z", blocks="block",
                    covariates=["x", "industry", "retail"])
    b = ef.estimate("cox", data=text, time="time", event="event", treatment="arm", blocks="block",
                    covariates=["x", "sector"], arms=("control", "programme"))
    assert b.estimate == pytest.approx(a.estimate, abs=1e-10)
    assert b.std_error == pytest.approx(a.std_error, abs=1e-10)
    assert b.extra["reference_levels"] == {"sector": "care"}  # first level in sorted order
    assert [r["term"] for r in b.extra["coefficients"]] == ["arm", "x", "sector[industry]", "sector[retail]"]
    for ra, rb in zip(a.extra["coefficients"][1:], b.extra["coefficients"][1:]):
        assert rb["coef"] == pytest.approx(ra["coef"], abs=1e-10)
    assert b.n == len(df) and b.n_treated + b.n_control == b.n


def test_cox_coefficient_forest_is_a_result_method():
    df = simulate_weibull(np.random.default_rng(3), n=300, log_hr=0.4)
    res = ef.estimate("cox", data=df, time="time", event="event", treatment="z", covariates=["x"])
    fig = res.plot(labels={"z": "programme"})
    assert type(fig).__name__ == "Figure"
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert ticks == ["programme", "x"]  # the treatment first, drawn on top


def test_aalen_johansen_text_labels_in_tables_and_legend(competing):
    res = ef.estimate("aalen_johansen", data=competing, time="time", event="exit", treatment="arm",
                      arms=("usual", "programme"), censored="censored", cause="job", horizon=1.0)
    coded = ef.estimate("aalen_johansen", data=competing, time="time", event="event", treatment="z",
                        cause=1, horizon=1.0)
    assert res.estimate == pytest.approx(coded.estimate, abs=1e-12)
    assert res.extra["cause"] == "job"
    assert res.extra["causes"] == ["disability pension", "flexjob", "job"]  # sorted labels
    assert {r["cause"] for r in res.extra["gray"]} == {"job", "flexjob", "disability pension"}
    assert res.extra["gray"][0]["cause"] == "job"
    assert set(res.extra["curves"]["treated"]) == {"job", "flexjob", "disability pension"}
    fig = res.plot()
    legend = {t.get_text() for t in fig.axes[0].get_legend().get_texts()}
    # one legend entry per cause (colour) and per arm (line style)
    assert legend == {"job", "flexjob", "disability pension", "usual", "programme"}
    fig = res.plot(labels={"job": "ordinary job", "programme": "resource course"})
    legend = {t.get_text() for t in fig.axes[0].get_legend().get_texts()}
    assert {"ordinary job", "resource course"} <= legend
    json.dumps(res.to_dict(), allow_nan=False)


def test_competing_risks_need_a_cause_when_there_are_several(competing):
    for name in ("aalen_johansen", "fine_gray", "cause_specific_cox"):
        spec = {"horizon": 1.0} if name == "aalen_johansen" else {}
        with pytest.raises(DesignError, match=r"holds 3 causes of exit \('disability pension', 'flexjob', 'job'\)"):
            ef.estimate(name, data=competing, time="time", event="exit", censored="censored", treatment="z", **spec)


def test_only_cause_is_the_default_in_competing_risks():
    df = simulate_competing(np.random.default_rng(2), n=300, log_hr=0.3)
    one = df.assign(event=(df.event == 1).astype(int))
    a = ef.estimate("fine_gray", data=one, time="time", event="event", treatment="z")
    b = ef.estimate("fine_gray", data=one, time="time", event="event", treatment="z", cause=1)
    assert a.estimate == b.estimate and a.extra["cause"] == 1


def test_cause_label_counts_one_exit_and_none_counts_every_exit(competing):
    job = ef.estimate("cox", data=competing, time="time", event="exit", censored="censored", treatment="z",
                      cause="job")
    coded = ef.estimate("cox", data=competing, time="time", event="event", treatment="z", cause=1)
    assert job.estimate == pytest.approx(coded.estimate, rel=1e-12) and job.extra["cause"] == "job"
    every = ef.estimate("logrank", data=competing, time="time", event="exit", censored="censored", treatment="z")
    anyexit = ef.estimate("logrank", data=competing.assign(e=(competing.event > 0).astype(int)), time="time",
                          event="e", treatment="z")
    assert every.estimate == pytest.approx(anyexit.estimate, rel=1e-12)
    by = {r["cause"]: r for r in ef.estimate("cause_specific_cox", data=competing, time="time", event="exit",
                                               censored="censored", treatment="z", cause="flexjob").extra["by_cause"]}
    assert set(by) == {"job", "flexjob", "disability pension"}


def test_text_events_without_censored_label_are_refused(competing):
    with pytest.raises(DataError, match=r"holds labels .* and no 0; name the label that means censored with censored="):
        ef.estimate("cox", data=competing, time="time", event="exit", treatment="z")
    with pytest.raises(DataError, match=r"censored='cens' is not a value of event column 'exit'"):
        ef.estimate("cox", data=competing, time="time", event="exit", treatment="z", censored="cens")
    with pytest.raises(DataError, match=r"cause='jobs' is not a cause of exit in event column 'exit'; its causes are"):
        ef.estimate("cox", data=competing, time="time", event="exit", treatment="z", censored="censored",
                    cause="jobs")


def test_every_estimator_takes_arms(competing):
    specs = {
        "kaplan_meier": {"horizon": 1.0}, "logrank": {}, "cox": {}, "rmst": {"horizon": 1.0},
        "aalen_johansen": {"horizon": 1.0, "cause": 1}, "fine_gray": {"cause": 1},
        "cause_specific_cox": {"cause": 1},
    }
    for name, extra in specs.items():
        a = ef.estimate(name, data=competing, time="time", event="event", treatment="z", **extra)
        b = ef.estimate(name, data=competing, time="time", event="event", treatment="arm",
                        arms=("usual", "programme"), **extra)
        assert b.estimate == pytest.approx(a.estimate, rel=1e-12), name
        assert (b.n, b.n_treated, b.n_control) == (a.n, a.n_treated, a.n_control), name


def test_horizon_list_and_old_names_are_gone(competing):
    km = ef.estimate("kaplan_meier", data=competing, time="time", event="event", treatment="z",
                     horizon=[1.0, 0.5, 2.0])
    assert km.extra["horizon"] == 1.0
    assert sorted({r["time"] for r in km.extra["survival_at"]}) == [0.5, 1.0, 2.0]
    rm = ef.estimate("rmst", data=competing, time="time", event="event", treatment="z", horizon=[1.0, 2.0])
    assert [r["horizon"] for r in rm.extra["rmst_at"]] == [1.0, 2.0]
    assert rm.estimate == rm.extra["rmst_at"][0]["difference"]
    for name, old in (("kaplan_meier", "horizons"), ("rmst", "tau")):
        with pytest.raises(DesignError, match=f"takes no option '{old}'"):
            ef.estimate(name, data=competing, time="time", event="event", treatment="z", horizon=1.0,
                        **{old: 1.0})
    with pytest.raises(DesignError, match="horizon"):
        ef.estimate("rmst", data=competing, time="time", event="event", treatment="z", horizon="52")


def test_kaplan_meier_plot_labels_arms(competing):
    km = ef.estimate("kaplan_meier", data=competing, time="time", event="event", treatment="arm",
                     arms=("usual", "programme"), horizon=1.0)
    fig = km.plot()
    assert {t.get_text() for t in fig.axes[0].get_legend().get_texts()} == {"usual", "programme"}
    fig = km.plot(labels={"programme": "resource course"})
    assert {t.get_text() for t in fig.axes[0].get_legend().get_texts()} == {"usual", "resource course"}


def test_greenwood_band_is_na_where_the_curve_reaches_zero():
    # The control arm's last time (5) has both people still at risk failing, so S drops to 0.
    # R survival: summary(survfit(Surv(time, event) ~ 1, data = control)) prints std.err NaN and
    # lower/upper 95% CI NA at time 5 (the Greenwood term d / (n (n - d)) is d / 0), and
    # print(survfit(...)) gives the median 4 with 0.95UCL NA, since the upper band never falls to 0.5
    # before it becomes undefined.
    df = pd.DataFrame({"time": [1, 2, 3, 4, 5, 5, 1, 2, 3, 4, 6, 7],
                       "event": [1, 0, 1, 1, 1, 1, 1, 0, 1, 0, 1, 0],
                       "z": [0] * 6 + [1] * 6})
    res = ef.estimate("kaplan_meier", data=df, time="time", event="event", treatment="z", horizon=3,
                      conf_type="log")
    c = res.extra["curves"]["control"]
    assert list(c["survival"]) == pytest.approx([5 / 6, 5 / 8, 5 / 12, 0.0])
    assert math.isnan(c["lower"][-1]) and math.isnan(c["upper"][-1])
    assert all(math.isfinite(v) for v in c["lower"][:-1])
    assert res.extra["median"]["control"]["median"] == 4.0
    assert res.extra["median"]["control"]["upper"] is None
    out = res.to_dict()
    assert out["extra"]["curves"]["control"]["lower"][-1] is None
    json.dumps(out, allow_nan=False)
    late = ef.estimate("kaplan_meier", data=df, time="time", event="event", treatment="z", horizon=5.5)
    assert math.isnan(late.std_error) and math.isnan(late.conf_int[0])
    assert any("reaches 0" in w for w in late.warnings)


def test_cox_one_arm_strata_kept_with_covariates_refused_without():
    df = simulate_weibull(np.random.default_rng(8), n=400, log_hr=0.3)
    df.loc[df.block == 3, "z"] = 1  # block 3 holds only the treated arm
    with pytest.raises(DataError, match="stratum 3 of column 'block' has"):
        ef.estimate("cox", data=df, time="time", event="event", treatment="z", blocks="block")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = ef.estimate("cox", data=df, time="time", event="event", treatment="z", blocks="block",
                          covariates=["x"])
    assert any(issubclass(w.category, EffektWarning) and "carry no information on the treatment" in str(w.message)
               for w in caught)
    assert any("carry no information on the treatment" in w for w in res.warnings)
    assert res.n == len(df)  # the stratum is kept
    assert res.extra["n_strata"] == 4


def test_panel_events_keyed_by_labels_feed_the_estimators():
    from effekt_survival import first_entry

    rng = np.random.default_rng(5)
    n, weeks = 120, np.arange(0, 60)
    persons = pd.DataFrame({"id": np.arange(n), "z": rng.permutation(np.arange(n) % 2), "origin": 0})
    exit_week = np.ceil(rng.exponential(30, n))
    state = rng.choice(["job", "pension"], size=n)
    panel = pd.DataFrame({"id": np.repeat(persons["id"], weeks.size), "week": np.tile(weeks, n)})
    after = panel["week"].to_numpy() >= np.repeat(exit_week, weeks.size)
    panel["state"] = np.where(after, np.repeat(state, weeks.size), "course")
    lab = first_entry(panel, persons, person="id", week="week", state="state", origin="origin",
                      events={"job": ["job"], "pension": ["pension"]}, extract=55)
    num = first_entry(panel, persons, person="id", week="week", state="state", origin="origin",
                      events={1: ["job"], 2: ["pension"]}, extract=55)
    assert set(lab["event"]) <= {0, "job", "pension"}
    a = ef.estimate("aalen_johansen", data=lab, time="time", event="event", treatment="z", cause="pension",
                    horizon=30)
    b = ef.estimate("aalen_johansen", data=num, time="time", event="event", treatment="z", cause=2, horizon=30)
    assert a.estimate == pytest.approx(b.estimate, abs=1e-12)


@pytest.mark.parametrize("name", ["fine_gray", "cause_specific_cox"])
def test_competing_regressions_expand_text_covariates(competing, name):
    sector = np.random.default_rng(9).choice(["industry", "retail", "care"], size=len(competing))
    coded = competing.assign(industry=(sector == "industry").astype(float), retail=(sector == "retail").astype(float))
    a = ef.estimate(name, data=coded, time="time", event="event", treatment="z", cause=1,
                    covariates=["industry", "retail"])
    b = ef.estimate(name, data=competing.assign(sector=sector), time="time", event="exit", censored="censored",
                    treatment="arm", arms=("usual", "programme"), cause="job", covariates=["sector"])
    assert b.estimate == pytest.approx(a.estimate, abs=1e-10)
    assert [r["term"] for r in b.extra["coefficients"]][1:] == ["sector[industry]", "sector[retail]"]
