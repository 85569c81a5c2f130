"""IPW, entropy balancing and AIPW: oracles, known effects and their standard errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import effekt as ef
from effekt_observational._common import simulate_confounded, stacked_sandwich
from effekt_observational.entropy import entropy_weights
from effekt_observational.weighting import ipw_kernel

COV = ["x1", "x2"]


@pytest.fixture(scope="module")
def syn():
    return simulate_confounded(np.random.default_rng(11), n=1500)


@pytest.mark.parametrize("estimand", ["ate", "att", "atc", "ato"])
def test_ipw_point_estimate_matches_statsmodels(syn, estimand):
    """Oracle: statsmodels' logistic GLM for e(x), then a GLM of y on z with the balancing weights
    as freq_weights: its coefficient is the Hajek-normalised weighted difference in means."""
    d = syn.data
    X = sm.add_constant(d[COV])
    e = sm.GLM(d.z, X, family=sm.families.Binomial()).fit().fittedvalues.to_numpy()
    z = d.z.to_numpy()
    w = {"ate": z / e + (1 - z) / (1 - e), "att": z + (1 - z) * e / (1 - e),
         "atc": z * (1 - e) / e + (1 - z), "ato": z * (1 - e) + (1 - z) * e}[estimand]
    wls = sm.GLM(d.y, sm.add_constant(d.z), freq_weights=w).fit()
    res = ef.estimate("ipw", data=d, **syn.spec, estimand=estimand)
    assert res.estimate == pytest.approx(wls.params["z"], rel=1e-6)
    assert res.estimand == estimand and res.design == "weighted"


@pytest.mark.parametrize("estimand", ["ate", "att", "atc", "ato"])
def test_ipw_analytic_jacobian_matches_numerical(syn, estimand):
    """The stacked sandwich with the analytic Jacobian equals the one with central differences."""
    from effekt_observational._propensity import fit_propensity

    d = syn.data
    X, z, y = d[COV].to_numpy(), d.z.to_numpy(), d.y.to_numpy()
    ps = fit_propensity(X, z, COV)
    tau, se, _ = ipw_kernel(y, z, ps.scores, estimand, design=ps.design, coef=ps.coef)
    # the same equations, differentiated numerically
    from effekt_observational._common import expit
    from effekt_observational.weighting import _weight_derivatives

    D, p = ps.design, ps.design.shape[1]

    def psi(t):
        ee = expit(D @ t[:p])
        a1, a0, _, _ = _weight_derivatives(ee, estimand)
        return np.column_stack([(z - ee)[:, None] * D, z * a1 * (y - t[p]), (1 - z) * a0 * (y - t[p + 1])])

    w1, w0, _, _ = _weight_derivatives(ps.scores, estimand)
    mu1, mu0 = np.sum(z * w1 * y) / np.sum(z * w1), np.sum((1 - z) * w0 * y) / np.sum((1 - z) * w0)
    V = stacked_sandwich(psi, np.concatenate([ps.coef, [mu1, mu0]]))
    assert se == pytest.approx(np.sqrt(V[p, p] + V[p + 1, p + 1] - 2 * V[p, p + 1]), rel=1e-5)
    assert tau == pytest.approx(mu1 - mu0)


def test_estimated_propensity_shrinks_the_ate_variance(syn):
    """Lunceford & Davidian (2004), section 3.3: estimating e(x) makes the IPW ATE at least as
    precise as using the true scores, so the stacked SE is below the known-score SE."""
    from effekt_observational._propensity import fit_propensity

    d = syn.data
    X, z, y = d[COV].to_numpy(), d.z.to_numpy(), d.y.to_numpy()
    ps = fit_propensity(X, z, COV)
    _, se_stacked, _ = ipw_kernel(y, z, ps.scores, "ate", design=ps.design, coef=ps.coef)
    _, se_known, _ = ipw_kernel(y, z, ps.scores, "ate")
    assert se_stacked < se_known


@pytest.mark.parametrize("name", ["ipw", "entropy_balancing", "aipw"])
def test_singleton_clusters_give_the_robust_se_times_g_over_g_minus_1(syn, name):
    d = syn.data.assign(cl=np.arange(len(syn.data)))
    kw = {"seed": 3} if name == "aipw" else {}
    a = ef.estimate(name, data=d, **syn.spec, **kw)
    b = ef.estimate(name, data=d, **syn.spec, clusters="cl", **kw)
    g = len(d)
    assert b.estimate == pytest.approx(a.estimate, rel=1e-12)
    assert b.std_error == pytest.approx(a.std_error * np.sqrt(g / (g - 1)), rel=1e-6)
    assert b.n_clusters == g and "clustered" in b.se_type


def test_clustered_se_grows_when_whole_clusters_are_treated():
    """Job centres choose the programme: treatment and a shock shared within 60 clusters of 20."""
    rng = np.random.default_rng(2)
    g = np.repeat(np.arange(60), 20)
    xc = rng.normal(size=60)
    zc = (rng.random(60) < 1 / (1 + np.exp(-xc))).astype(int)
    d = pd.DataFrame({"x1": xc[g] + rng.normal(size=1200), "x2": rng.normal(size=1200), "z": zc[g], "cl": g})
    d["y"] = d.x1 + d.z + np.repeat(rng.normal(scale=2.0, size=60), 20) + rng.normal(size=1200)
    spec = {"outcome": "y", "treatment": "z", "covariates": COV}
    a = ef.estimate("ipw", data=d, **spec)
    b = ef.estimate("ipw", data=d, **spec, clusters="cl")
    assert b.std_error > 2 * a.std_error


def _stratified(d, estimand):
    """The exact stratified effect with one binary covariate: the truth every weighting estimator
    with a saturated propensity model (or exact balance) must reproduce."""
    g = d.groupby(["x", "z"]).y.mean().unstack()
    if estimand == "att":
        weights = d[d.z == 1].x.value_counts(normalize=True).sort_index()
    else:
        weights = d.x.value_counts(normalize=True).sort_index()
    return float(((g[1] - g[0]) * weights).sum())


@pytest.fixture(scope="module")
def binary_design():
    rng = np.random.default_rng(5)
    n = 2000
    x = (rng.random(n) < 0.4).astype(int)
    z = (rng.random(n) < np.where(x == 1, 0.7, 0.3)).astype(int)
    y = 1 + 2 * x + z * (1 + x) + rng.normal(size=n)
    return pd.DataFrame({"y": y, "z": z, "x": x})


@pytest.mark.parametrize(("name", "estimand", "kw"), [
    ("ipw", "ate", {}), ("ipw", "att", {}), ("entropy_balancing", "att", {}),
    ("aipw", "ate", {"folds": None}), ("aipw", "att", {"folds": None}),
    ("matching", "att", {}), ("matching", "ate", {}),
])
def test_saturated_binary_covariate_gives_the_stratified_effect(binary_design, name, estimand, kw):
    res = ef.estimate(name, data=binary_design, outcome="y", treatment="z", covariates=["x"], estimand=estimand, **kw)
    assert res.estimate == pytest.approx(_stratified(binary_design, estimand), rel=1e-8)


# -- known effects at the nominal rate --------------------------------------------------------
SEEDS = range(60)


@pytest.mark.parametrize(("name", "kw"), [("matching", {"bias_adjust": True}), ("matching", {}),
                                          ("ipw", {"estimand": "att"}), ("entropy_balancing", {}),
                                          ("aipw", {"estimand": "att", "seed": 1})])
def test_confounded_design_att_covered_at_nominal_rate_naive_is_not(name, kw):
    """The true ATT (1.0; constant effect) lies in 95% CIs at about the nominal rate over 60 seeds
    (at least the 0.1% quantile of Binomial(60, 0.95)); the naive difference in means, biased
    by the treated's higher x1, almost never covers it."""
    covered = naive = 0
    for seed in SEEDS:
        syn = simulate_confounded(np.random.default_rng(1000 + seed), n=1000)
        lo, hi = ef.estimate(name, data=syn.data, **syn.spec, **kw).conf_int
        covered += lo <= 1.0 <= hi
        dm = ef.estimate("difference_in_means", data=syn.data, outcome="y", treatment="z")
        naive += dm.conf_int[0] <= 1.0 <= dm.conf_int[1]
    assert covered >= stats.binom.ppf(0.001, len(SEEDS), 0.95)
    assert naive <= 0.2 * len(SEEDS)


# -- entropy balancing --------------------------------------------------------------------------
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), p=st.integers(1, 4))
def test_entropy_weights_reproduce_the_target_means_exactly(seed, p):
    """Hainmueller (2012), eq. 3: the weighted control means equal the treated means."""
    rng = np.random.default_rng(seed)
    C = rng.normal(size=(300, p)) * rng.uniform(0.5, 50, size=p)
    target = C.mean(axis=0) + 0.3 * C.std(axis=0) * rng.uniform(-1, 1, size=p)
    w, _ = entropy_weights(C, target)
    assert np.all(w > 0) and w.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(C.T @ w, target, rtol=1e-9, atol=1e-9 * np.abs(C).max())


def test_entropy_balancing_is_closest_to_uniform():
    """Among weights meeting the constraints, entropy balancing's have the largest entropy: a
    random perturbation inside the constraint set lowers it (Hainmueller 2012, eq. 2)."""
    rng = np.random.default_rng(1)
    C = rng.normal(size=(200, 2))
    target = np.array([0.2, -0.1])
    w, _ = entropy_weights(C, target)
    A = np.vstack([C.T, np.ones(200)])
    null = np.linalg.svd(A)[2][3:].T  # directions keeping the means and the total
    ent = -np.sum(w * np.log(w))
    for _ in range(5):
        v = null @ rng.normal(size=null.shape[1])
        w2 = w + 1e-4 * v / np.abs(v).max() * w.min()
        assert -np.sum(w2 * np.log(w2)) < ent


def test_entropy_balancing_extra_and_balance(syn):
    res = ef.estimate("entropy_balancing", data=syn.data, **syn.spec)
    after = res.extra["balance"]["after"]["table"]
    assert all(abs(r["smd"]) < 1e-8 for r in after)
    ess = res.extra["effective_sample_size"]
    assert ess["treated"] == pytest.approx(res.n_treated) and 0 < ess["control"] < res.n_control


# -- AIPW -----------------------------------------------------------------------------------------
def test_aipw_is_doubly_robust_with_a_wrong_propensity_model():
    """A useless propensity model (a constant score from a dummy classifier) with the right
    outcome model still recovers the effect (Robins, Rotnitzky & Zhao 1994)."""
    from sklearn.dummy import DummyClassifier

    syn = simulate_confounded(np.random.default_rng(9), n=3000)
    res = ef.estimate("aipw", data=syn.data, **syn.spec, classifier=DummyClassifier(strategy="prior"), seed=1)
    naive = ef.estimate("difference_in_means", data=syn.data, outcome="y", treatment="z")
    assert abs(res.estimate - 1.0) < 3 * res.std_error
    assert abs(naive.estimate - 1.0) > 5 * naive.std_error


def test_aipw_folds_are_reproducible_and_recorded(syn):
    a = ef.estimate("aipw", data=syn.data, **syn.spec, seed=4)
    b = ef.estimate("aipw", data=syn.data, **syn.spec, seed=4)
    c = ef.estimate("aipw", data=syn.data, **syn.spec)
    assert a.estimate == b.estimate and a.extra["seed"] == 4 and isinstance(c.extra["seed"], int)
    assert a.extra["folds"] == 5


def test_aipw_with_gradient_boosting_runs(syn):
    res = ef.estimate("aipw", data=syn.data, **syn.spec, classifier="gradient_boosting", seed=2,
                      regressor="linear", folds=3)
    assert abs(res.estimate - 1.0) < 4 * res.std_error


@pytest.mark.parametrize("name", ["ipw", "aipw"])
def test_trimming_drops_extreme_scores_and_says_so(name):
    rng = np.random.default_rng(3)
    n = 2000
    x = rng.normal(size=n) * 2
    z = (rng.random(n) < 1 / (1 + np.exp(-2 * x))).astype(int)
    d = pd.DataFrame({"y": x + z + rng.normal(size=n), "z": z, "x": x})
    kw = {"seed": 1} if name == "aipw" else {}
    res = ef.estimate(name, data=d, outcome="y", treatment="z", covariates=["x"], trim="crump", **kw)
    fixed = ef.estimate(name, data=d, outcome="y", treatment="z", covariates=["x"], trim=0.1, **kw)
    t = res.extra["trimmed"]
    assert t["rule"] == "crump" and 0 < t["threshold"] < 0.5 and t["dropped"] > 0
    assert res.n == n - t["dropped"] and fixed.extra["trimmed"]["threshold"] == 0.1


def test_ipw_att_reproduces_weightit_readme():
    """WeightIt's README (github.com/ngreifer/WeightIt, README.md at commit 9f5b5d3, 2026-08-03):
    weightit(treat ~ age + educ + nodegree + married + race + re74 + re75, data = lalonde,
    method = "glm", estimand = "ATT") on cobalt's lalonde (MatchIt's, written by
    tests/data/make_lalonde_matchit.R); lm_weightit(re78 ~ treat) reports 1214.1 with SE 798.2
    ("HC0 robust (adjusted for estimation of weights)"); summary(W): effective sample size of the
    controls 99.82, largest control weight 3.743."""
    from pathlib import Path

    d = pd.read_csv(Path(__file__).parent / "data" / "lalonde_matchit.csv")
    res = ef.estimate("ipw", data=d, outcome="re78", treatment="treat", estimand="att",
                      covariates=["age", "educ", "nodegree", "married", "race", "re74", "re75"])
    assert round(res.estimate, 1) == 1214.1
    assert round(res.std_error, 1) == 798.2
    assert round(res.extra["effective_sample_size"]["control"], 2) == 99.82
    assert round(res.extra["weights"]["max_control"], 3) == 3.743
