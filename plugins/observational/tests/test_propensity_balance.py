"""Propensity scores, overlap diagnostics and balance tables."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import json  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import statsmodels.api as sm  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import effekt as ef  # noqa: E402
from effekt.design import balance_table  # noqa: E402
from effekt.design.balance import smd_binary  # noqa: E402
from effekt_observational import balance_of, propensity_score, weighted_balance  # noqa: E402
from effekt_observational._common import crump_threshold, kish, simulate_confounded  # noqa: E402


@pytest.fixture(scope="module")
def syn():
    return simulate_confounded(np.random.default_rng(31), n=800)


def test_logistic_scores_match_statsmodels(syn):
    d = syn.data
    ref = sm.GLM(d.z, sm.add_constant(d[["x1", "x2"]]), family=sm.families.Binomial()).fit().fittedvalues
    ps = propensity_score(d, treatment="z", covariates=["x1", "x2"])
    np.testing.assert_allclose(ps.scores, ref.to_numpy(), rtol=1e-7)
    assert ps.classifier == "logistic" and ps.folds is None


def test_cross_fitted_and_boosted_scores(syn):
    d = syn.data
    a = propensity_score(d, treatment="z", covariates=["x1", "x2"], folds=5, seed=2)
    b = propensity_score(d.iloc[::-1], treatment="z", covariates=["x1", "x2"], folds=5, seed=2)
    np.testing.assert_allclose(np.sort(a.scores), np.sort(b.scores), rtol=1e-12)  # row order changes nothing
    gb = propensity_score(d, treatment="z", covariates=["x1", "x2"], classifier="gradient_boosting", folds=3, seed=1)
    assert gb.classifier == "gradient_boosting" and 0 < gb.scores.min() and gb.scores.max() < 1
    from sklearn.ensemble import RandomForestClassifier

    rf = propensity_score(d, treatment="z", covariates=["x1", "x2"],
                          classifier=RandomForestClassifier(n_estimators=20, min_samples_leaf=20), folds=2, seed=1)
    assert rf.classifier == "RandomForestClassifier"


def test_diagnostics_result(syn):
    ps = propensity_score(syn.data, treatment="z", covariates=["x1", "x2"])
    assert list(ps.table["arm"]) == ["control", "treated"]
    assert ps.table["n"].sum() == 800
    assert isinstance(ps.plot(), Figure)
    assert json.loads(ps.to_json())["classifier"] == "logistic"
    assert "Crump" in ps.summary()
    assert ps.keep("crump").sum() == ps.trimming["crump"]["kept"]
    assert ps.keep(0.1).sum() == ps.trimming["fixed_0.1"]["kept"]
    w = ps.weights("att")
    assert np.all(w[ps.treated == 1] == 1.0)
    with pytest.raises(AttributeError):
        ps.classifier = "x"
    with pytest.raises(ValueError):
        ps.scores[0] = 0.5


def test_crump_rule_keeps_everyone_with_good_overlap():
    assert crump_threshold(np.linspace(0.3, 0.7, 101)) == 0.0


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_crump_threshold_solves_its_equation(seed):
    """Crump et al. (2009), Theorem 1: 1/(a(1-a)) = 2 E[g | g <= 1/(a(1-a))], g = 1/(e(1-e))
    (up to the discreteness of the sample)."""
    rng = np.random.default_rng(seed)
    e = 1 / (1 + np.exp(-rng.normal(scale=2.5, size=2000)))
    a = crump_threshold(e)
    g = 1 / (e * (1 - e))
    if a == 0:
        assert g.max() <= 2 * g.mean()
        return
    bound = 1 / (a * (1 - a))
    assert bound == pytest.approx(2 * g[g <= bound].mean(), rel=1e-9)
    assert 0 < a < 0.5


@settings(max_examples=20, deadline=None)
@given(w=st.lists(st.floats(0.01, 100), min_size=1, max_size=50))
def test_kish_between_one_and_n(w):
    arr = np.array(w)
    assert 1 - 1e-9 <= kish(arr) <= len(arr) + 1e-9
    assert kish(np.ones(len(arr))) == pytest.approx(len(arr))


def test_unweighted_smds_are_the_design_balance_tables(syn):
    """weighted_balance with equal weights reuses effekt.design.balance's SMD (Austin 2009, eq. 2)."""
    d = syn.data
    X = d[["x1", "x2"]].to_numpy()
    mine = weighted_balance(X, ["x1", "x2"], d.z.to_numpy())
    core = balance_table(d, treatment="z", covariates=["x1", "x2"], sims=10, seed=1)
    np.testing.assert_allclose(mine.table["smd"], core.table["smd"], rtol=1e-12)
    # a 0/1 covariate uses the binary SMD (eq. 3)
    b = (d.x1 > 0).astype(float).to_numpy()
    tab = weighted_balance(b[:, None], ["b"], d.z.to_numpy())
    z = d.z.to_numpy() == 1
    assert tab.table["smd"].iloc[0] == pytest.approx(smd_binary(b[z].mean(), b[~z].mean()))
    assert tab.table["kind"].iloc[0] == "binary"


def test_balance_after_weighting_and_love_plot(syn):
    res = ef.estimate("ipw", data=syn.data, **syn.spec)
    bal = balance_of(res)
    assert bal.before.table["flagged"].any() and not bal.after.table["flagged"].any()
    assert set(bal.tidy()["stage"]) == {"before", "after"}
    assert {"smd", "variance_ratio", "flagged"} <= set(bal.after.table.columns)
    assert isinstance(bal.plot(), Figure) and isinstance(res.plot(), Figure)
    assert "after" in bal.summary()
    vr = bal.after.table["variance_ratio"]
    assert ((vr > 0.5) & (vr < 2)).all()


def test_weighted_balance_uses_the_unweighted_yardstick():
    rng = np.random.default_rng(0)
    x = rng.normal(size=200)
    z = (np.arange(200) % 2).astype(int)
    w = rng.uniform(0.5, 2, size=200)
    tab = weighted_balance(x[:, None], ["x"], z, w, reference=x[:, None], reference_z=z)
    m1 = np.sum(w[z == 1] * x[z == 1]) / np.sum(w[z == 1])
    m0 = np.sum(w[z == 0] * x[z == 0]) / np.sum(w[z == 0])
    pooled = np.sqrt((x[z == 1].var(ddof=1) + x[z == 0].var(ddof=1)) / 2)
    assert tab.table["smd"].iloc[0] == pytest.approx((m1 - m0) / pooled)


def test_text_covariate_expanded(syn):
    d = syn.data.assign(sector=np.where(syn.data.x1 > 0.5, "care", np.where(syn.data.x2 > 0, "build", "retail")))
    ps = propensity_score(d, treatment="z", covariates=["x1", "sector"])
    assert ps.covariates == ("x1", "sector[care]", "sector[retail]")
    res = ef.estimate("matching", data=d, outcome="y", treatment="z", covariates=["x1", "sector"])
    names = [r["variable"] for r in res.extra["balance"]["after"]["table"]]
    assert names == ["x1", "sector[care]", "sector[retail]"]


def test_matching_extra_counts(syn):
    res = ef.estimate("matching", data=syn.data, **syn.spec, matches=2)
    m = res.extra["matched"]
    assert m["focal"] == res.n_treated and m["pairs"] >= 2 * m["focal"]
    assert res.extra["effective_sample_size"]["treated"] == pytest.approx(res.n_treated)
    assert res.se_type == "Abadie-Imbens" and res.design == "matched"
    pd.DataFrame(res.extra["balance"]["after"]["table"])
