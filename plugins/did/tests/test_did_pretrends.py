"""Pre-trend power (Roth 2022): R pretrends' README example, simulation checks of both tests'
power, the figures every event study carries, and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import effekt as ef
from effekt.errors import DataError, DesignError
from effekt_did.pretrends import power_against_slope, pretrend_power, slope_for_power
from effekt_did.sun_abraham import simulate_dynamic

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def he_wang():
    # pretrends' HeAndWangResults (make_did_fixtures.R): He & Wang (2017), Figure 2C
    d = pd.read_csv(DATA / "he_wang.csv")
    return d.beta.to_numpy(), d.filter(like="sigma").to_numpy(), d.t.to_numpy()


def test_readme_slope_for_50_percent_power(he_wang):
    _, sigma, t = he_wang
    # slope_for_power(sigma, targetPower = 0.5, tVec, referencePeriod = -1) printed 0.05205871 in
    # pretrends' README.md (github.com/jonathandroth/pretrends, commit 122731d). R's pmvnorm has
    # absolute error 1e-3 by default and R uses t = 1.96 rather than 1.959964, so the root agrees to
    # about 2e-4 relative (our power at R's slope is 0.49989, R's 0.4999776).
    s = slope_for_power(sigma, t, power=0.5, reference=-1)
    assert s == pytest.approx(0.05205871, rel=5e-4)


def test_readme_power_bayes_factor_likelihood_ratio(he_wang):
    beta, sigma, t = he_wang
    # pretrends(betahat, sigma, tVec, referencePeriod = -1, deltatrue = slope50 * (tVec + 1))$df_power:
    # Power 0.4999776, Bayes.Factor 0.56901, Likelihood.Ratio 0.1057627 (README.md)
    pp = pretrend_power(beta=beta, sigma=sigma, event_times=t, reference=-1, slope=0.05205871)
    row = pp.tidy().query("test == 'individual' and target.isna()").iloc[0]
    assert row["power"] == pytest.approx(0.4999776, abs=5e-4)
    assert row["bayes_factor"] == pytest.approx(0.56901, abs=5e-4)
    assert row["likelihood_ratio"] == pytest.approx(0.1057627, rel=1e-5)  # exact normal densities


def test_individual_power_by_simulation(he_wang):
    _, sigma, t = he_wang
    pre = t < -1
    V, d = sigma[np.ix_(pre, pre)], t[pre] + 1
    draws = np.random.default_rng(7).multivariate_normal(0.08 * d, V, size=200_000)
    sim = np.mean(np.any(np.abs(draws) > stats.norm.ppf(0.975) * np.sqrt(np.diag(V)), axis=1))
    # Monte Carlo SE sqrt(p(1-p)/2e5) < 0.0012: four of them
    assert power_against_slope(sigma, t, 0.08, reference=-1) == pytest.approx(sim, abs=0.005)


def test_joint_power_by_simulation(he_wang):
    _, sigma, t = he_wang
    pre = t < -1
    V, d = sigma[np.ix_(pre, pre)], t[pre] + 1
    draws = np.random.default_rng(8).multivariate_normal(0.1 * d, V, size=200_000)
    wald = np.einsum("ij,jk,ik->i", draws, np.linalg.inv(V), draws)
    sim = np.mean(wald > stats.chi2.ppf(0.95, 3))
    assert power_against_slope(sigma, t, 0.1, reference=-1, test="joint") == pytest.approx(sim, abs=0.005)
    # with F(3, 40) the test is less powerful than chi-squared
    assert power_against_slope(sigma, t, 0.1, reference=-1, test="joint", df2=40) < sim
    s80 = slope_for_power(sigma, t, power=0.8, reference=-1, test="joint")
    assert power_against_slope(sigma, t, s80, reference=-1, test="joint") == pytest.approx(0.8, abs=1e-9)


def test_every_event_study_reports_power():
    d = simulate_dynamic(np.random.default_rng(2), n_units=80, n_times=6, cohorts=(3, 5)).drop(columns="te")
    spec = {"outcome": "y", "unit": "unit", "period": "period", "first_treated": "first_treated"}
    for name in ("event_study", "sun_abraham", "imputation"):
        tab = ef.estimate(name, data=d, **spec)
        pp = tab.extra["pretrend_power"]
        assert 0 < pp["slope_50"] < pp["slope_80"], name
        assert "pre-trend test power" in tab.summary()
        full = tab.pretrend_power(slope=pp["slope_50"])
        row = full.tidy().query("test == 'joint' and target.isna()").iloc[0]
        assert row["power"] == pytest.approx(0.5, abs=1e-8), name
        # the joint test is the one pretrend_test reports: same leads
        assert full.extra["leads"] == [float(x) for x in tab.extra["pretrend_test"]["leads"]]
    assert "slope" in repr(full)
    assert full.to_dict()["extra"]["n_leads"] >= 1


def test_bad_input(he_wang):
    beta, sigma, t = he_wang
    with pytest.raises(DataError, match="symmetric"):
        pretrend_power(sigma=sigma + np.triu(np.ones_like(sigma), 1) * 0.01, event_times=t, reference=-1)
    with pytest.raises(DataError, match="event_times"):
        pretrend_power(sigma=sigma, event_times=t[:-1], reference=-1)
    with pytest.raises(DesignError, match="no coefficient lies before"):
        pretrend_power(sigma=sigma, event_times=t + 10, reference=-1)
    with pytest.raises(DesignError, match="power="):
        pretrend_power(sigma=sigma, event_times=t, reference=-1, power=[0.01])
    with pytest.raises(DesignError, match="event_coefficients"):
        pretrend_power(object())
    with pytest.raises(DataError, match="beta"):
        pretrend_power(beta=beta[:2], sigma=sigma, event_times=t, reference=-1)
    with pytest.raises(DesignError, match="test="):
        slope_for_power(sigma, t, test="wald")
    with pytest.raises(DataError, match="positive definite"):
        pretrend_power(sigma=np.zeros((2, 2)), event_times=[-3, -2], reference=-1)
