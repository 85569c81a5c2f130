"""wild_cluster_bootstrap against wildboottest (within Monte Carlo error) and a permutation oracle."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest

import effekt as ef
from effekt.data import check_seed
from effekt_did.twfe import simulate_panel
from effekt_did.wild_bootstrap import wild_weights

SPEC = {"outcome": "y", "unit": "unit", "period": "period", "treatment": "treated", "post": "post"}
B = 9999


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    df = simulate_panel(rng, n_units=24, n_times=6, effect=0.45)
    df["x"] = rng.normal(size=len(df))
    return df


def wcb(df, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ef.estimate("wild_cluster_bootstrap", data=df, **{**SPEC, **kw})


def _mc_tol(p: float) -> float:
    # two independent bootstrap p-values with B draws each: 4.5 SDs of their difference
    return 4.5 * np.sqrt(2 * max(p * (1 - p), 0.01 * 0.99) / B)


def _dummy_design(df: pd.DataFrame, covariates: list[str]) -> pd.DataFrame:
    """The TWFE regression with every unit and period dummy written out."""
    X = pd.DataFrame({"D": (df.treated * df.post).astype(float)})
    for c in covariates:
        X[c] = df[c].to_numpy()
    X = pd.concat([X, pd.get_dummies(df.unit, prefix="u", dtype=float),
                   pd.get_dummies(df.period, prefix="t", dtype=float).iloc[:, 1:]], axis=1)
    return X.reset_index(drop=True)


@pytest.mark.parametrize("restricted", [True, False])
@pytest.mark.parametrize("kind", ["rademacher", "webb", "mammen"])
def test_twfe_p_value_matches_wildboottest(panel, restricted, kind):
    wbt = pytest.importorskip("wildboottest.wildboottest")
    sm = pytest.importorskip("statsmodels.api")
    # wildboottest on the regression with every unit and period dummy
    X = _dummy_design(panel, ["x"])
    ref = wbt.wildboottest(sm.OLS(panel.y.to_numpy(), X), B=B, cluster=panel.unit.to_numpy(), param="D",
                           weights_type=kind, impose_null=restricted, seed=11, show=False)
    res = wcb(panel, covariates=["x"], sims=B, seed=3, restricted=restricted, bootstrap_weights=kind)
    p_ref = float(ref["p-value"].iloc[0])
    # t differs only by the small-sample factor: wildboottest counts every dummy in (N-1)/(N-K)
    n, k = X.shape
    assert res.extra["t"] * np.sqrt((n - k) / (n - 2)) == pytest.approx(float(ref["statistic"].iloc[0]), rel=1e-9)
    assert abs(res.p_value - p_ref) < _mc_tol(p_ref)


@pytest.mark.parametrize(("restricted", "weights"), [(True, None), (False, None), (True, "w")])
def test_draws_equal_the_full_dummy_bootstrap(restricted, weights):
    # oracle: refit the regression with every dummy on each bootstrap sample, same draws; the period
    # effects are not nested in the unit clusters, so this checks their projection out of each draw
    df = simulate_panel(np.random.default_rng(6), n_units=10, n_times=5, effect=0.4)
    df = df.assign(x=np.random.default_rng(7).normal(size=len(df)), w=np.random.default_rng(8).uniform(1, 3, len(df)))
    draws, seed = 400, 5
    res = wcb(df, covariates=["x"], sims=draws, seed=seed, restricted=restricted, weights=weights)
    V = wild_weights("rademacher", (10, draws), check_seed(seed))
    X = _dummy_design(df, ["x"]).to_numpy()
    y = df.y.to_numpy()
    sw = np.sqrt(df.w.to_numpy()) if weights else np.ones(len(df))
    X, y = X * sw[:, None], y * sw
    g = df.unit.to_numpy()
    M = np.linalg.inv(X.T @ X)

    def t_stat(yy, null):
        b = M @ X.T @ yy
        e = yy - X @ b
        sc = np.array([X[g == h].T @ e[g == h] for h in range(10)])
        return (b[0] - null) / np.sqrt((M @ sc.T @ sc @ M)[0, 0]), b

    t_obs, b_hat = t_stat(y, 0.0)
    if restricted:
        Xr = X[:, 1:]
        fit = Xr @ np.linalg.lstsq(Xr, y, rcond=None)[0]
    else:
        fit = X @ b_hat
    u = y - fit
    t_b = np.array([t_stat(fit + u * V[g, j], 0.0 if restricted else b_hat[0])[0] for j in range(draws)])
    # ties (a draw of all +1 reproduces the data) count as at least as extreme; the observed
    # statistic counts among the draws, so p = (1 + extreme) / (1 + draws) is never 0
    extreme = int(np.sum(np.abs(t_b) >= abs(t_obs) * (1 - 1e-9)))
    assert res.p_value == pytest.approx((1 + extreme) / (1 + draws), abs=1e-12)


def test_did_2x2_p_value_matches_wildboottest(panel):
    wbt = pytest.importorskip("wildboottest.wildboottest")
    sm = pytest.importorskip("statsmodels.api")
    two = panel[panel.period.isin([2, 5])]
    X = pd.DataFrame({"D": two.treated * two.post, "c": 1.0, "t": two.treated, "p": two.post}).astype(float)
    ref = wbt.wildboottest(sm.OLS(two.y.to_numpy(), X), B=B, cluster=two.unit.to_numpy(), param="D", seed=2,
                           show=False)
    res = wcb(two, estimator="did_2x2", sims=B, seed=4)
    p_ref = float(ref["p-value"].iloc[0])
    assert res.extra["t"] == pytest.approx(float(ref["statistic"].iloc[0]), rel=1e-9)
    assert abs(res.p_value - p_ref) < _mc_tol(p_ref)
    # the point estimate is did_2x2's
    assert res.estimate == pytest.approx(
        ef.estimate("did_2x2", data=two, outcome="y", treatment="treated", post="post", unit="unit").estimate,
        rel=1e-10)


def test_ci_by_test_inversion_is_consistent_with_p(panel):
    res = wcb(panel, sims=1999, seed=1)
    lo, hi = res.conf_int
    assert lo < res.estimate < hi
    assert (lo > 0 or hi < 0) == (res.p_value < 0.05)
    assert res.ci_method == "test-inversion"


def test_seed_reproducible(panel):
    assert wcb(panel, sims=999, seed=8).p_value == wcb(panel, sims=999, seed=8).p_value


def test_warns_with_few_treated_clusters(panel):
    with pytest.warns(ef.EffektWarning, match="treated clusters"):
        ef.estimate("wild_cluster_bootstrap", data=panel, sims=199, seed=1, **SPEC)


def test_randomisation_matches_enumeration():
    # 8 clusters, 4 treated: 70 assignments; the exact permutation p-value of the TWFE coefficient
    df = simulate_panel(np.random.default_rng(9), n_units=8, n_times=4, effect=1.5)
    obs = ef.estimate("twfe", data=df, **SPEC).estimate
    stats_ = []
    for treated in itertools.combinations(range(8), 4):
        d = df.assign(treated=df.unit.isin(treated).astype(int))
        stats_.append(ef.estimate("twfe", data=d, **SPEC).estimate)
    exact = np.mean(np.abs(np.array(stats_)) >= abs(obs) - 1e-12)
    res = wcb(df, inference="randomisation", sims=2000, seed=1)
    assert res.estimate == pytest.approx(obs, rel=1e-10)
    assert abs(res.p_value - exact) < 4.5 * np.sqrt(exact * (1 - exact) / 2000) + 1e-3
    assert res.ci_method == "randomisation"


# -- bad input ---------------------------------------------------------------------------------
def test_bad_weights_kind(panel):
    with pytest.raises(ef.DesignError, match="bootstrap_weights"):
        wcb(panel, bootstrap_weights="normal")


def test_too_few_draws(panel):
    with pytest.raises(ef.DesignError, match="sims must be >= 99"):
        wcb(panel, sims=10)


def test_2x2_needs_post(panel):
    with pytest.raises(ef.DesignError, match="needs post"):
        wcb(panel.assign(D=panel.treated * panel.post), treatment="D", post=None, estimator="did_2x2")


def test_bad_seed(panel):
    with pytest.raises(ef.DesignError, match="seed"):
        wcb(panel, seed=-1)
