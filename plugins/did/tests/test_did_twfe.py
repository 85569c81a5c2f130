"""twfe against pyfixest, linearmodels and a dense dummy-variable oracle; properties; bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import effekt as ef
from effekt.sandwich import robust_ols
from effekt_did.twfe import simulate_panel

SPEC = {"outcome": "y", "unit": "unit", "period": "period", "treatment": "treated", "post": "post"}


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    df = simulate_panel(rng, n_units=50, n_times=6, effect=1.0)
    df = df.drop(index=[3, 17, 40]).reset_index(drop=True)  # unbalanced
    df["x"] = rng.normal(size=len(df))
    df["w"] = rng.uniform(0.5, 2.0, size=len(df))
    df["D"] = df.treated * df.post
    return df


def fit(df, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ef.estimate("twfe", data=df, **{**SPEC, **kw})


def test_cr1_matches_pyfixest(panel):
    # pyfixest CRV1 with its default ssc: k_adj (N-1)/(N-K) with K = coefficients + fixed effects not
    # nested in the clusters (fixest's convention), and G/(G-1)
    pf = pytest.importorskip("pyfixest")
    m = pf.feols("y ~ D + x | unit + period", data=panel, vcov={"CRV1": "unit"})
    res = fit(panel, covariates=["x"], se_type="CR1")
    assert res.estimate == pytest.approx(m.coef()["D"], rel=1e-10)
    assert res.std_error == pytest.approx(m.se()["D"], rel=1e-10)
    assert res.df == 49  # G - 1, as pyfixest


def test_cr1_weights_match_pyfixest(panel):
    pf = pytest.importorskip("pyfixest")
    m = pf.feols("y ~ D + x | unit + period", data=panel, vcov={"CRV1": "unit"}, weights="w")
    res = fit(panel, covariates=["x"], se_type="CR1", weights="w")
    # weighted demeaning iterates; pyfixest stops its projections at a tolerance of 1e-8
    assert res.estimate == pytest.approx(m.coef()["D"], rel=1e-8)
    assert res.std_error == pytest.approx(m.se()["D"], rel=1e-8)


def test_cr1_matches_linearmodels(panel):
    # linearmodels PanelOLS: with debiased=True, group_debias=True the factor is G/(G-1) (N-1)/(N-K)
    # with K counting every absorbed effect (fe_df="all"); its default (both False) scales the CR0
    # meat by N/(N-K) instead.
    lm = pytest.importorskip("linearmodels")
    p = panel.set_index(["unit", "period"])
    mod = lm.PanelOLS(p.y, p[["D", "x"]], entity_effects=True, time_effects=True)
    deb = mod.fit(cov_type="clustered", cluster_entity=True, debiased=True, group_debias=True)
    res = fit(panel, covariates=["x"], se_type="CR1", fe_df="all")
    assert res.estimate == pytest.approx(deb.params["D"], rel=1e-10)
    assert res.std_error == pytest.approx(deb.std_errors["D"], rel=1e-10)
    default = mod.fit(cov_type="clustered", cluster_entity=True)
    cr0 = fit(panel, covariates=["x"], se_type="CR0")
    n, k = len(panel), 2 + 50 + 6 - 1
    assert default.std_errors["D"] == pytest.approx(cr0.std_error * np.sqrt(n / (n - k)), rel=1e-10)


@pytest.mark.parametrize("weights", [None, "w"])
@pytest.mark.parametrize("cluster_col", [None, "pair"])
def test_cr2_equals_full_dummy_regression(panel, cluster_col, weights):
    # oracle: the CR2 of the regression with every unit and period dummy (effekt.sandwich), both when the
    # unit effects are nested in the clusters and when they are not, with and without weights
    df = panel.assign(pair=panel.unit // 2)
    res = fit(df, covariates=["x"], clusters=cluster_col, weights=weights)
    U = pd.get_dummies(df.unit, dtype=float).to_numpy()
    T = pd.get_dummies(df.period, dtype=float).to_numpy()[:, 1:]
    X = np.column_stack([df.D.to_numpy(float), df.x, U, T])
    cl = df[cluster_col or "unit"].to_numpy()
    w = None if weights is None else df[weights].to_numpy()
    ref = robust_ols(X, df.y.to_numpy(), se_type="CR2", clusters=cl, weights=w, df_coefs=[0])
    assert res.estimate == pytest.approx(ref.coef[0], rel=1e-10)
    assert res.std_error == pytest.approx(ref.std_error[0], rel=1e-9)
    assert res.df == pytest.approx(ref.df[0], rel=1e-9)
    assert res.se_type == "CR2"


def test_repeated_cross_sections_need_explicit_aggregation():
    rng = np.random.default_rng(7)
    n = 2000
    df = pd.DataFrame({"unit": rng.integers(0, 20, n), "period": rng.integers(0, 4, n)})
    df["treated"] = (df.unit < 8).astype(int)
    df["post"] = (df.period >= 2).astype(int)
    df["y"] = rng.normal(size=n) + 0.5 * df.treated * df.post
    with pytest.raises(ef.DesignError, match="aggregation='citizen'"):
        fit(df)
    cit = fit(df, aggregation="citizen")
    clu = fit(df, aggregation="cluster")
    assert cit.design == "repeated_cross_section"
    # cluster-weighted = TWFE on the unit-period cell means, each cell weight 1
    cells = df.groupby(["unit", "period"], as_index=False).agg(y=("y", "mean"), treated=("treated", "first"),
                                                            post=("post", "first"))
    ref = fit(cells)
    assert clu.estimate == pytest.approx(ref.estimate, rel=1e-9)
    assert cit.estimate != pytest.approx(clu.estimate, rel=1e-6)


def test_repeated_cross_sections_cr2_equals_full_dummy_regression():
    # citizens in unequal numbers per centre and period: cluster blocks of many sizes
    rng = np.random.default_rng(17)
    n = 1500
    df = pd.DataFrame({"unit": rng.integers(0, 25, n), "period": rng.integers(0, 3, n)})
    df["treated"] = (df.unit < 9).astype(int)
    df["post"] = (df.period >= 1).astype(int)
    df["y"] = rng.normal(size=25)[df.unit] + rng.normal(size=n) + 0.3 * df.treated * df.post
    res = fit(df, aggregation="citizen")
    U = pd.get_dummies(df.unit, dtype=float).to_numpy()
    T = pd.get_dummies(df.period, dtype=float).to_numpy()[:, 1:]
    X = np.column_stack([(df.treated * df.post).to_numpy(float), U, T])
    ref = robust_ols(X, df.y.to_numpy(), se_type="CR2", clusters=df.unit.to_numpy(), df_coefs=[0])
    assert res.estimate == pytest.approx(ref.coef[0], rel=1e-10)
    assert res.std_error == pytest.approx(ref.std_error[0], rel=1e-9)
    assert res.df == pytest.approx(ref.df[0], rel=1e-9)


def test_balanced_closed_form_equals_iterated():
    df = simulate_panel(np.random.default_rng(11), n_units=30, n_times=5, effect=0.7)
    bal = fit(df)
    assert bal.extra["sweeps"] == 0  # closed form
    w = fit(df.assign(w=1.0), weights="w")  # weights force the iterated projections
    assert w.extra["sweeps"] > 0
    assert bal.estimate == pytest.approx(w.estimate, rel=1e-9)
    assert bal.std_error == pytest.approx(w.std_error, rel=1e-8)


def test_few_treated_clusters_warns():
    df = simulate_panel(np.random.default_rng(1), n_units=30, n_times=4, effect=1.0)
    res = fit(df)
    assert any("treated clusters" in w for w in res.warnings)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31), shift=st.floats(-50, 50), scale=st.floats(0.1, 10))
def test_shift_scale_row_order(seed, shift, scale):
    df = simulate_panel(np.random.default_rng(seed), n_units=16, n_times=4, effect=1.0)
    base = fit(df)
    shifted = fit(df.assign(y=df.y + shift))
    scaled = fit(df.assign(y=df.y * scale))
    shuffled = fit(df.sample(frac=1.0, random_state=seed % 1000))
    assert shifted.estimate == pytest.approx(base.estimate, abs=1e-8 * (1 + abs(shift)))
    assert shifted.std_error == pytest.approx(base.std_error, rel=1e-6)
    assert scaled.estimate == pytest.approx(scale * base.estimate, rel=1e-8, abs=1e-10)
    assert scaled.std_error == pytest.approx(scale * base.std_error, rel=1e-8)
    assert shuffled.estimate == pytest.approx(base.estimate, rel=1e-10, abs=1e-12)
    assert shuffled.std_error == pytest.approx(base.std_error, rel=1e-8)


def test_swapping_groups_flips_sign():
    df = simulate_panel(np.random.default_rng(2), n_units=20, n_times=4, effect=1.0)
    a = fit(df)
    b = fit(df.assign(treated=1 - df.treated))
    assert b.estimate == pytest.approx(-a.estimate, rel=1e-10)


def test_coverage_at_nominal_rate():
    # 200 replications, 95% CR2 intervals; binomial tolerance: P(cover <= 180 | p=.95) < 1e-3
    rng = np.random.default_rng(2024)
    cover = 0
    for _ in range(200):
        df = simulate_panel(rng, n_units=24, n_times=4, effect=0.5)
        r = fit(df)
        cover += r.conf_int[0] <= 0.5 <= r.conf_int[1]
    assert cover >= 181


# -- bad input ---------------------------------------------------------------------------------
def test_missing_column(panel):
    with pytest.raises(ef.DataError, match="no such column"):
        fit(panel.drop(columns="post"))


def test_missing_outcome_value(panel):
    df = panel.copy()
    df.loc[5, "y"] = np.nan
    with pytest.raises(ef.DataError, match="missing value"):
        fit(df)


def test_treatment_not_binary(panel):
    with pytest.raises(ef.DataError, match="must hold 0"):
        fit(panel.assign(treated=panel.treated * 2))


def test_post_not_binary(panel):
    with pytest.raises(ef.DataError, match="post column 'post'"):
        fit(panel.assign(post=panel.post + 1))


def test_group_varying_within_unit(panel):
    df = panel.copy()
    df.loc[df.index[0], "treated"] = 1 - df.loc[df.index[0], "treated"]
    with pytest.raises(ef.DataError, match="constant within each unit"):
        fit(df)


def test_negative_weights(panel):
    with pytest.raises(ef.DataError, match="weights"):
        fit(panel.assign(w=-1.0), weights="w")


def test_unknown_se_type(panel):
    with pytest.raises(ef.DesignError, match="se_type='HC2'"):
        fit(panel, se_type="HC2")


def test_text_outcome(panel):
    with pytest.raises(ef.DataError, match="where numbers belong"):
        fit(panel.assign(y=panel.y.astype(str)))


def test_treatment_absorbed():
    df = simulate_panel(np.random.default_rng(0), n_units=10, n_times=4, effect=1.0)
    with pytest.raises(ef.EstimationError, match="does not vary"):
        fit(df.assign(D=df.treated), treatment="D", post=None)
