"""wild_cluster_bootstrap against wildboottest (within Monte Carlo error) and a permutation oracle."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
from effekt_did._absorb import codes_of, demean
from effekt_did.twfe import simulate_panel

import effekt as ef

SPEC = {"outcome": "y", "unit": "unit", "time": "time", "treatment": "treated", "post": "post"}
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


@pytest.mark.parametrize("restricted", [True, False])
@pytest.mark.parametrize("kind", ["rademacher", "webb", "mammen"])
def test_twfe_p_value_matches_wildboottest(panel, restricted, kind):
    wbt = pytest.importorskip("wildboottest.wildboottest")
    sm = pytest.importorskip("statsmodels.api")
    # wildboottest on the same regression with the unit and period effects swept out (FWL)
    u, _ = codes_of(panel.unit.to_numpy())
    t, _ = codes_of(panel.time.to_numpy())
    D = (panel.treated * panel.post).to_numpy(float)
    Z, _ = demean(np.column_stack([panel.y, D, panel.x]), [(u, u.max() + 1), (t, t.max() + 1)])
    X = pd.DataFrame({"D": Z[:, 1], "x": Z[:, 2]})
    ref = wbt.wildboottest(sm.OLS(Z[:, 0], X), B=B, cluster=panel.unit.to_numpy(), param="D",
                           weights_type=kind, impose_null=restricted, seed=11, show=False)
    res = wcb(panel, covariates=["x"], draws=B, seed=3, restricted=restricted, bootstrap_weights=kind)
    p_ref = float(ref["p-value"].iloc[0])
    assert res.extra["t"] == pytest.approx(float(ref["statistic"].iloc[0]), rel=1e-9)
    assert abs(res.p_value - p_ref) < _mc_tol(p_ref)


def test_did_2x2_p_value_matches_wildboottest(panel):
    wbt = pytest.importorskip("wildboottest.wildboottest")
    sm = pytest.importorskip("statsmodels.api")
    two = panel[panel.time.isin([2, 5])]
    X = pd.DataFrame({"D": two.treated * two.post, "c": 1.0, "t": two.treated, "p": two.post}).astype(float)
    ref = wbt.wildboottest(sm.OLS(two.y.to_numpy(), X), B=B, cluster=two.unit.to_numpy(), param="D", seed=2,
                           show=False)
    res = wcb(two, model="did_2x2", draws=B, seed=4)
    p_ref = float(ref["p-value"].iloc[0])
    assert res.extra["t"] == pytest.approx(float(ref["statistic"].iloc[0]), rel=1e-9)
    assert abs(res.p_value - p_ref) < _mc_tol(p_ref)
    # the point estimate is did_2x2's
    assert res.estimate == pytest.approx(
        ef.estimate("did_2x2", data=two, outcome="y", treatment="treated", post="post", unit="unit").estimate,
        rel=1e-10)


def test_ci_by_test_inversion_is_consistent_with_p(panel):
    res = wcb(panel, draws=1999, seed=1)
    lo, hi = res.conf_int
    assert lo < res.estimate < hi
    assert (lo > 0 or hi < 0) == (res.p_value < 0.05)
    assert res.ci_method == "test-inversion"


def test_seed_reproducible(panel):
    assert wcb(panel, draws=999, seed=8).p_value == wcb(panel, draws=999, seed=8).p_value


def test_warns_with_few_treated_clusters(panel):
    with pytest.warns(ef.EffektWarning, match="treated clusters"):
        ef.estimate("wild_cluster_bootstrap", data=panel, draws=199, seed=1, **SPEC)


def test_randomization_matches_enumeration():
    # 8 clusters, 4 treated: 70 assignments; the exact permutation p-value of the TWFE coefficient
    df = simulate_panel(np.random.default_rng(9), n_units=8, n_times=4, effect=1.5)
    obs = ef.estimate("twfe", data=df, **SPEC).estimate
    stats_ = []
    for treated in itertools.combinations(range(8), 4):
        d = df.assign(treated=df.unit.isin(treated).astype(int))
        stats_.append(ef.estimate("twfe", data=d, **SPEC).estimate)
    exact = np.mean(np.abs(np.array(stats_)) >= abs(obs) - 1e-12)
    res = wcb(df, inference="randomization", draws=2000, seed=1)
    assert res.estimate == pytest.approx(obs, rel=1e-10)
    assert abs(res.p_value - exact) < 4.5 * np.sqrt(exact * (1 - exact) / 2000) + 1e-3
    assert res.ci_method == "randomization"


# -- bad input ---------------------------------------------------------------------------------
def test_bad_weights_kind(panel):
    with pytest.raises(ef.DesignError, match="bootstrap_weights"):
        wcb(panel, bootstrap_weights="normal")


def test_too_few_draws(panel):
    with pytest.raises(ef.DesignError, match="draws"):
        wcb(panel, draws=10)


def test_2x2_needs_post(panel):
    with pytest.raises(ef.DesignError, match="needs post"):
        wcb(panel.assign(D=panel.treated * panel.post), treatment="D", post=None, model="did_2x2")


def test_bad_seed(panel):
    with pytest.raises(ef.DesignError, match="seed"):
        wcb(panel, seed=-1)
