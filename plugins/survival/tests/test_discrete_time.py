"""discrete_time_hazard: against statsmodels GLM on the expanded person-period data."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from effekt.errors import DataError, DesignError
from effekt_survival.discrete_time_hazard import DiscreteTimeHazard, person_period, simulate_weekly


@pytest.fixture
def df():
    d = simulate_weekly(np.random.default_rng(3), n=600, log_hr=math.log(1.74))
    d["x"] = np.random.default_rng(0).normal(size=len(d))
    return d


def _statsmodels(d, link, covariates=()):
    rows, per, y = person_period(d.week.to_numpy(), d.event.to_numpy())
    X = pd.get_dummies(pd.Series(per), prefix="p", dtype=float)
    X["z"] = d.z.to_numpy()[rows]
    for c in covariates:
        X[c] = d[c].to_numpy()[rows]
    B = pd.get_dummies(pd.Series(d.block.to_numpy()[rows]), prefix="b", drop_first=True, dtype=float)
    X = pd.concat([X, B], axis=1)
    lk = sm.families.links.CLogLog() if link == "cloglog" else sm.families.links.Logit()
    return sm.GLM(y, X, family=sm.families.Binomial(link=lk)).fit(tol=1e-13)


@pytest.mark.parametrize("link", ["cloglog", "logit"])
def test_matches_statsmodels_glm(df, link):
    res = DiscreteTimeHazard().fit(df, time="week", event="event", treatment="z", blocks="block",
                                   covariates=["x"], link=link)
    m = _statsmodels(df, link, ["x"])
    assert math.log(res.estimate) == pytest.approx(m.params["z"], abs=1e-7)
    assert res.std_error == pytest.approx(m.bse["z"], rel=1e-6)
    assert res.extra["coefficients"][1]["coef"] == pytest.approx(m.params["x"], abs=1e-7)


def test_person_period_expansion():
    rows, per, y = person_period(np.array([3, 1, 2]), np.array([1, 0, 1]))
    assert rows.tolist() == [0, 0, 0, 1, 2, 2]
    assert per.tolist() == [1, 2, 3, 1, 1, 2]
    assert y.tolist() == [0, 0, 1, 0, 0, 1]


def test_cloglog_close_to_cox_hr(df):
    from effekt_survival.cox import Cox

    dt = DiscreteTimeHazard().fit(df, time="week", event="event", treatment="z", blocks="block")
    cx = Cox().fit(df, time="week", event="event", treatment="z", blocks="block")
    assert abs(math.log(dt.estimate) - math.log(cx.estimate)) < 0.5 * dt.std_error


def test_coverage_grouped_time_ph():
    rng = np.random.default_rng(21)
    hits = 0
    for _ in range(100):
        d = simulate_weekly(rng, n=300, log_hr=math.log(1.74))
        r = DiscreteTimeHazard().fit(d, time="week", event="event", treatment="z", blocks="block")
        hits += r.conf_int[0] <= 1.74 <= r.conf_int[1]
    lo, hi = stats.binom.ppf([0.0005, 0.9995], 100, 0.95)
    assert lo <= hits <= hi, hits


def test_fractional_weeks(df):
    d = df.assign(week=df.week.astype(float))
    d.loc[4, "week"] = 2.5
    with pytest.raises(DataError, match="must hold whole periods >= 1.*row 4 has 2.5"):
        DiscreteTimeHazard().fit(d, time="week", event="event", treatment="z")


def test_zero_weeks(df):
    d = df.copy()
    d.loc[0, "week"] = 0
    with pytest.raises(DataError, match="whole periods >= 1"):
        DiscreteTimeHazard().fit(d, time="week", event="event", treatment="z")


def test_bad_link(df):
    with pytest.raises(DesignError, match="link='probit' is not valid"):
        DiscreteTimeHazard().fit(df, time="week", event="event", treatment="z", link="probit")
