"""did_2x2 on unit-level data, change_index and dose_did: oracles, properties and bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import effekt as ef
from effekt.sandwich import robust_ols
from effekt_did import change_index, did_2x2_from_means
from effekt_did.twfe import simulate_panel


@pytest.fixture(scope="module")
def two_period() -> pd.DataFrame:
    return simulate_panel(np.random.default_rng(8), n_units=30, n_times=2, effect=1.0)


def d22(df, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ef.estimate("did_2x2", data=df, outcome="y", treatment="treated", post="post", **kw)


def test_2x2_unit_level_is_difference_of_changes(two_period):
    res = d22(two_period, unit="unit")
    m = two_period.groupby(["treated", "post"]).y.mean()
    assert res.estimate == pytest.approx((m[1, 1] - m[1, 0]) - (m[0, 1] - m[0, 0]), rel=1e-12)
    assert res.extra["cells"]["treated_pre"] == pytest.approx(m[1, 0], rel=1e-12)
    assert res.extra["relative"]["estimate"] == pytest.approx(res.estimate / m[1, 0], rel=1e-12)


def test_2x2_cr2_matches_sandwich_and_statsmodels_cr1(two_period):
    sm = pytest.importorskip("statsmodels.api")
    df = two_period
    X = np.column_stack([np.ones(len(df)), df.treated, df.post, df.treated * df.post])
    ref = robust_ols(X, df.y.to_numpy(), se_type="CR2", clusters=df.unit.to_numpy())
    res = d22(df, unit="unit")
    assert res.std_error == pytest.approx(ref.std_error[3], rel=1e-12)
    assert res.df == pytest.approx(ref.df[3], rel=1e-12)
    cr1 = d22(df, unit="unit", se_type="CR1")
    fit = sm.OLS(df.y.to_numpy(), X).fit(cov_type="cluster", cov_kwds={"groups": df.unit.to_numpy()})
    assert cr1.std_error == pytest.approx(fit.bse[3], rel=1e-10)


def test_2x2_relative_delta_method(two_period):
    # delta-method SE of tau / (b0 + b1) against a numerical gradient
    res = d22(two_period)
    X = np.column_stack([np.ones(len(two_period)), two_period.treated, two_period.post,
                         two_period.treated * two_period.post])
    fit = robust_ols(X, two_period.y.to_numpy(), se_type="HC2")

    def f(b):
        return b[3] / (b[0] + b[1])

    h = 1e-6
    grad = np.array([(f(fit.coef + h * e) - f(fit.coef - h * e)) / (2 * h) for e in np.eye(4)])
    assert res.extra["relative"]["std_error"] == pytest.approx(np.sqrt(grad @ fit.vcov @ grad), rel=1e-6)


def test_2x2_from_means_with_proportions():
    # binomial variances of four independent shares
    res = did_2x2_from_means(0.172, 0.208, 0.149, 0.168, n=(500, 520, 9000, 9100), proportions=True)
    p = np.array([0.172, 0.208, 0.149, 0.168])
    n = np.array([500, 520, 9000, 9100])
    assert res.std_error == pytest.approx(np.sqrt(np.sum(p * (1 - p) / n)), rel=1e-12)
    assert res.df is None
    no_se = did_2x2_from_means(1, 2, 3, 4)
    assert np.isnan(no_se.std_error) and no_se.ci_method == "none"


def test_2x2_sign_flip_and_shift(two_period):
    a = d22(two_period, unit="unit")
    b = d22(two_period.assign(treated=1 - two_period.treated), unit="unit")
    c = d22(two_period.assign(y=two_period.y * 2 + 7), unit="unit")
    assert b.estimate == pytest.approx(-a.estimate, rel=1e-12)
    assert c.estimate == pytest.approx(2 * a.estimate, rel=1e-12)
    assert c.std_error == pytest.approx(2 * a.std_error, rel=1e-12)


def test_2x2_empty_cell(two_period):
    df = two_period[~((two_period.treated == 1) & (two_period.post == 1))]
    with pytest.raises(ef.DataError, match="treated after"):
        d22(df)


def test_2x2_cluster_se_without_clusters(two_period):
    with pytest.raises(ef.DesignError, match="needs clusters"):
        d22(two_period, se_type="CR2")


def test_2x2_from_means_bad():
    with pytest.raises(ef.DataError, match="finite"):
        did_2x2_from_means(1, float("nan"), 2, 3)
    with pytest.raises(ef.DataError, match="four"):
        did_2x2_from_means(1, 2, 3, 4, std_errors=[1, 2])


# -- change index ------------------------------------------------------------------------------
@pytest.mark.parametrize(("a", "b"), [(30, 10), (4, 9), (0, 5), (120, 100)])
def test_change_index_exact_ci_matches_scipy_clopper_pearson(a, b):
    # conditional on a + b, a ~ Bin(a + b, R / (1 + R)): scipy's Clopper-Pearson limits mapped to R
    res = change_index(a, b)
    ci = stats.binomtest(a, a + b).proportion_ci(confidence_level=0.95, method="exact")
    lo = ci.low / (1 - ci.low)
    hi = ci.high / (1 - ci.high) if ci.high < 1 else np.inf
    assert res.conf_int[0] == pytest.approx(100 * (lo - 1), rel=1e-9, abs=1e-9)
    if np.isfinite(hi):
        assert res.conf_int[1] == pytest.approx(100 * (hi - 1), rel=1e-9)
    assert res.p_value == pytest.approx(stats.binomtest(a, a + b, 0.5).pvalue, rel=1e-12)


def test_change_index_katz():
    res = change_index(30, 10, method="katz")
    se = np.sqrt(1 / 30 + 1 / 10)
    z = stats.norm.ppf(0.975)
    assert res.conf_int[0] == pytest.approx(100 * (3 * np.exp(-z * se) - 1), rel=1e-12)
    assert res.conf_int[1] == pytest.approx(100 * (3 * np.exp(z * se) - 1), rel=1e-12)


def test_change_index_unequal_windows_warns():
    # notes-002 §5.2: 24-month before window vs <= 8-month after window
    with pytest.warns(ef.EffektWarning, match="unequal length"):
        res = change_index(30, 10, window_after=8, window_before=24)
    assert res.extra["rate_index"] == pytest.approx(100 * (3 * 24 / 8 - 1))
    assert res.estimate == pytest.approx(200.0)


def test_change_index_by_unit_table():
    df = pd.DataFrame({"m": ["a", "a", "b", "b"], "n": [10, 30, 0, 4], "post": [0, 1, 0, 1]})
    tab = ef.estimate("change_index", data=df, outcome="n", post="post", unit="m")
    assert tab["a"].estimate == pytest.approx(200.0)
    assert tab["b"].extra["computable"] is False
    assert tab.extra["not_computable"] == 1


def test_change_index_bad_counts():
    with pytest.raises(ef.DataError, match="whole count"):
        change_index(2.5, 3)
    with pytest.raises(ef.DataError, match="whole count"):
        change_index(-1, 3)
    df = pd.DataFrame({"n": [1.5, 3], "post": [0, 1]})
    with pytest.raises(ef.DataError, match="whole counts"):
        ef.estimate("change_index", data=df, outcome="n", post="post")


# -- dose --------------------------------------------------------------------------------------
def test_dose_slope_hc2_matches_statsmodels():
    sm = pytest.importorskip("statsmodels.api")
    from effekt_did.dose import DoseDiD

    syn = DoseDiD.simulate(np.random.default_rng(4), n=40, effect=0.5)
    res = ef.estimate("dose_did", data=syn.data, **syn.spec)
    d = syn.data
    wide = d.pivot(index="unit", columns="post", values="y")
    change = wide[1] - wide[0]
    dose = d.groupby("unit").dose.first()
    tr = d.groupby("unit").treated.first() == 1
    eff = change[tr] - change[~tr].mean()
    fit = sm.OLS(eff.to_numpy(), sm.add_constant(dose[tr].to_numpy())).fit(cov_type="HC2")
    assert res.estimate == pytest.approx(fit.params[1], rel=1e-10)
    assert res.std_error == pytest.approx(fit.bse[1], rel=1e-10)


def test_dose_varies_within_unit():
    from effekt_did.dose import DoseDiD

    d = DoseDiD.simulate(np.random.default_rng(4), n=20, effect=0.5).data.copy()
    d.loc[0, "dose"] = 99.0
    with pytest.raises(ef.DataError, match="constant within each unit"):
        ef.estimate("dose_did", data=d, outcome="y", unit="unit", post="post", dose="dose")
