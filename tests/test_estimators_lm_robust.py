"""lm_robust: agreement with statsmodels and Stata, absorbed fixed effects,
CR2 against a dense Bell-McCaffrey implementation, coverage, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import effekt as ef
from effekt.errors import DataError, DesignError, EstimationError
from effekt.estimators.lm_robust import lm_robust

# R's datasets::mtcars (Henderson & Velleman 1981), the columns estimatr's
# Stata comparison uses; values as shipped in plotnine's data/mtcars.csv.
MTCARS = pd.DataFrame(
    dict(
        mpg=[21, 21, 22.8, 21.4, 18.7, 18.1, 14.3, 24.4, 22.8, 19.2, 17.8, 16.4, 17.3, 15.2, 10.4, 10.4,
             14.7, 32.4, 30.4, 33.9, 21.5, 15.5, 15.2, 13.3, 19.2, 27.3, 26, 30.4, 15.8, 19.7, 15, 21.4],
        hp=[110, 110, 93, 110, 175, 105, 245, 62, 95, 123, 123, 180, 180, 180, 205, 215, 230, 66, 52,
            65, 97, 150, 150, 245, 175, 66, 91, 113, 264, 175, 335, 109],
        cyl=[6, 6, 4, 6, 8, 6, 8, 4, 4, 6, 6, 8, 8, 8, 8, 8, 8, 4, 4, 4, 4, 8, 8, 8, 8, 4, 4, 4, 8, 6, 8, 4],
        drat=[3.9, 3.9, 3.85, 3.08, 3.15, 2.76, 3.21, 3.69, 3.92, 3.92, 3.92, 3.07, 3.07, 3.07, 2.93, 3,
              3.23, 4.08, 4.93, 4.22, 3.7, 2.76, 3.15, 3.73, 3.08, 4.08, 4.43, 3.77, 4.22, 3.62, 3.54, 4.11],
        carb=[4, 4, 1, 1, 2, 1, 4, 2, 2, 4, 4, 3, 3, 3, 4, 4, 4, 1, 2, 1, 1, 2, 2, 4, 2, 1, 2, 2, 4, 6, 8, 2],
    )
)
MTCARS["w"] = MTCARS["drat"] / 5


def _trial(seed: int, n: int = 200, n_blocks: int = 8, n_clusters: int | None = 30) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "block": rng.integers(0, n_blocks, n),
            "f2": rng.integers(0, 4, n),
            "cl": rng.integers(0, n_clusters or n, n),
            "z": rng.integers(0, 2, n),
            "x": rng.normal(size=n),
            "w": rng.uniform(0.5, 2.0, n),
        }
    )
    df["y"] = 1.0 + 0.7 * df.z + df.x + 0.3 * df.block + rng.normal(size=n) * (1 + df.z)
    return df


# -- Stata, via estimatr's tests/testthat/stata-ests.txt and stata-fe-ests.txt ----------------
# (reg mpg hp [aweight=w], vce(...) and areg ... absorb(carb); V[1,1] is hp, V[2,2] the constant)
@pytest.mark.parametrize(
    ("se_type", "clusters", "weights", "v_hp", "v_cons"),
    [
        ("classical", None, None, 0.0001024, 2.669698),
        ("HC1", None, None, 0.00018388, 4.3123302),
        ("HC2", None, None, 0.00021652, 4.8093019),
        ("HC3", None, None, 0.00027562, 5.8084222),
        ("stata", "cyl", None, 0.00034882, 14.922475),
        ("classical", None, "w", 0.00009984, 2.4918295),
        ("HC1", None, "w", 0.00017632, 4.0902569),
        ("stata", "cyl", "w", 0.00031337, 13.155473),
    ],
)
def test_matches_stata_regress(se_type, clusters, weights, v_hp, v_cons):
    # Stata prints 5 significant digits; weighted HC2/HC3 are left out because
    # Stata builds the aweight hat matrix differently (estimatr's test does the same)
    fit = lm_robust(MTCARS, "mpg ~ hp", se_type=se_type, clusters=clusters, weights=weights)
    assert fit.vcov[1, 1] == pytest.approx(v_hp, rel=5e-5)
    assert fit.vcov[0, 0] == pytest.approx(v_cons, rel=5e-6)


@pytest.mark.parametrize(
    ("se_type", "clusters", "weights", "v_hp"),
    [
        ("classical", None, None, 0.00024844),
        ("HC1", None, None, 0.00018026),
        ("stata", "cyl", None, 0.00021845),
        ("classical", None, "w", 0.00023978),
        ("HC1", None, "w", 0.00019399),
        ("stata", "cyl", "w", 0.00018777),
    ],
)
def test_absorbed_matches_stata_areg(se_type, clusters, weights, v_hp):
    fit = lm_robust(MTCARS, "mpg ~ hp | carb", se_type=se_type, clusters=clusters, weights=weights)
    assert fit.vcov[0, 0] == pytest.approx(v_hp, rel=5e-5)


# -- statsmodels -------------------------------------------------------------------------
@pytest.mark.parametrize("se_type", ["HC0", "HC1", "HC2", "HC3", "classical"])
@pytest.mark.parametrize("weighted", [False, True])
def test_hc_matches_statsmodels(se_type, weighted):
    df = _trial(1)
    X = sm.add_constant(df[["z", "x"]].to_numpy(float))
    model = sm.WLS(df.y, X, weights=df.w) if weighted else sm.OLS(df.y, X)
    ref = model.fit(cov_type="nonrobust" if se_type == "classical" else se_type)
    fit = lm_robust(df, outcome="y", treatment="z", covariates=["x"], se_type=se_type,
                    weights="w" if weighted else None)
    np.testing.assert_allclose(fit.coef, ref.params, rtol=1e-10)
    np.testing.assert_allclose(fit.vcov, ref.cov_params(), rtol=1e-8)


@pytest.mark.parametrize("weighted", [False, True])
def test_cr1_matches_statsmodels(weighted):
    df = _trial(2)
    X = sm.add_constant(df[["z", "x"]].to_numpy(float))
    model = sm.WLS(df.y, X, weights=df.w) if weighted else sm.OLS(df.y, X)
    ref = model.fit(cov_type="cluster", cov_kwds={"groups": df.cl.to_numpy()})
    fit = lm_robust(df, "y ~ z + x", clusters="cl", se_type="CR1", weights="w" if weighted else None)
    np.testing.assert_allclose(fit.vcov, ref.cov_params(), rtol=1e-8)
    assert fit.df[1] == df.cl.nunique() - 1


# -- absorbed fixed effects against the dummy-variable fit --------------------------------
@pytest.mark.parametrize("se_type", ["classical", "HC0", "HC1", "HC2", "HC3", "CR0", "CR1", "CR2"])
@pytest.mark.parametrize("fe", [["block"], ["block", "f2"]])
@pytest.mark.parametrize("weighted", [False, True])
def test_absorbed_equals_dummies(se_type, fe, weighted):
    df = _trial(3)
    clusters = "cl" if se_type.startswith("CR") else None
    w = "w" if weighted else None
    absorbed = lm_robust(df, "y ~ z + x | " + " + ".join(fe), se_type=se_type, clusters=clusters, weights=w)
    dummies = lm_robust(df, "y ~ z + x + " + " + ".join(f"C({f})" for f in fe), se_type=se_type,
                        clusters=clusters, weights=w)
    np.testing.assert_allclose(absorbed.coef, dummies.coef[1:3], rtol=1e-9)
    np.testing.assert_allclose(absorbed.vcov, dummies.vcov[1:3, 1:3], rtol=1e-8)
    np.testing.assert_allclose(absorbed.df, dummies.df[1:3], rtol=1e-8)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), nested=st.booleans(), weighted=st.booleans(), two=st.booleans())
def test_absorbed_htz_equals_htz_of_the_dummy_fit(seed, nested, weighted, two):
    # the HTZ joint test with fixed effects swept out equals the HTZ test with them as dummy columns
    df = _trial(seed, n=120, n_clusters=15)
    if nested:
        df["block"] = df.cl * 2 + df.index % 2  # levels inside the clusters
    fe = ["block", "f2"] if two else ["block"]
    w = "w" if weighted else None
    absorbed = lm_robust(df, "y ~ z + x | " + " + ".join(fe), clusters="cl", weights=w)
    dummies = lm_robust(df, "y ~ z + x + " + " + ".join(f"C({f})" for f in fe), clusters="cl", weights=w)
    a = absorbed.wald_test(["z", "x"])
    d = dummies.wald_test(["z", "x"])
    assert a["df2"] == pytest.approx(d["df2"], rel=1e-7)
    assert a["statistic"] == pytest.approx(d["statistic"], rel=1e-7)
    assert a["p_value"] == pytest.approx(d["p_value"], rel=1e-6, abs=1e-12)


def test_blocks_are_absorbed_and_reported():
    df = _trial(4)
    res = ef.estimate("lm_robust", data=df, outcome="y", treatment="z", blocks="block")
    ref = lm_robust(df, "y ~ z + C(block)")
    assert res.design == "blocked" and res.se_type == "HC2"
    assert res.extra["n_absorbed"] == df.block.nunique()
    assert res.estimate == pytest.approx(ref.coef[1], rel=1e-10)
    assert res.std_error == pytest.approx(ref.std_error[1], rel=1e-9)


# -- CR2 against an independent dense Bell & McCaffrey (2002) implementation ----------------
def _dense_cr2(Z, y, clusters, w=None):
    """CR2 and Satterthwaite df with n x n matrices, as clubSandwich defines them for (weighted) least
    squares: working model Phi = I in the original units (Pustejovsky & Tipton 2018, eq. 6 and
    Theorem 2). With H = Z M Z'W, A_g = ((I - H)_g (I - H)_g')^{-1/2}, scores Z_g' W_g A_g e_g."""
    w = np.ones(len(y)) if w is None else np.asarray(w, dtype=float)
    Minv = np.linalg.pinv(Z.T @ (Z * w[:, None]))
    e = y - Z @ (Minv @ Z.T @ (w * y))
    IH = np.eye(len(y)) - Z @ Minv @ Z.T * w[None, :]
    groups = [np.flatnonzero(clusters == g) for g in np.unique(clusters)]
    A = []
    for idx in groups:
        lam, vec = np.linalg.eigh(IH[idx] @ IH[idx].T)
        inv_root = np.where(lam > 1e-12, 1 / np.sqrt(np.clip(lam, 1e-12, None)), 0.0)
        A.append((vec * inv_root) @ vec.T)
    sc = [(Z[i] * w[i, None]).T @ a @ e[i] for i, a in zip(groups, A)]
    V = Minv @ sum(np.outer(s, s) for s in sc) @ Minv
    df = []
    for j in range(Z.shape[1]):
        P = np.column_stack([IH[i].T @ (a @ (w[i] * (Z[i] @ Minv[:, j]))) for i, a in zip(groups, A)])
        Om = P.T @ P
        df.append(np.trace(Om) ** 2 / (Om**2).sum())
    return V, np.array(df)


@pytest.mark.parametrize("weighted", [False, True])
def test_cr2_matches_dense_bell_mccaffrey(weighted):
    df = _trial(5, n=120, n_clusters=12)
    Z = np.column_stack([np.ones(len(df)), df.z, df.x])
    V, dof = _dense_cr2(Z, df.y.to_numpy(), df.cl.to_numpy(), df.w.to_numpy() if weighted else None)
    fit = lm_robust(df, "y ~ z + x", clusters="cl", weights="w" if weighted else None)
    assert fit.se_type == "CR2"
    np.testing.assert_allclose(fit.vcov, V, rtol=1e-9)
    np.testing.assert_allclose(fit.df, dof, rtol=1e-9)


@pytest.mark.parametrize("fe", [["block"], ["block", "f2"]])
def test_cr2_absorbed_matches_dense_bell_mccaffrey(fe):
    # clusters cut across the blocks, so the fixed effects' hat block matters
    df = _trial(6, n=150, n_clusters=15)
    dummies = pd.get_dummies(df[fe].astype(str), drop_first=False).to_numpy(float)
    Z = np.column_stack([df.z, df.x, dummies])
    V, dof = _dense_cr2(Z, df.y.to_numpy(), df.cl.to_numpy(), df.w.to_numpy())
    fit = lm_robust(df, "y ~ z + x | " + " + ".join(fe), clusters="cl", weights="w")
    np.testing.assert_allclose(fit.vcov, V[:2, :2], rtol=1e-8)
    np.testing.assert_allclose(fit.df, dof[:2], rtol=1e-8)


def test_cr2_with_singleton_clusters_equals_hc2():
    df = _trial(7)
    df["unit"] = np.arange(len(df))
    for formula in ("y ~ z + x", "y ~ z + x | block"):
        cr2 = lm_robust(df, formula, clusters="unit", se_type="CR2")
        hc2 = lm_robust(df, formula, se_type="HC2")
        np.testing.assert_allclose(cr2.vcov, hc2.vcov, rtol=1e-9)


# -- coverage at the nominal rate (fixed seed, binomial tolerance) -------------------------
def test_hc2_coverage_n50():
    rng = np.random.default_rng(20261125)
    reps, tau, hits = 400, 1.0, 0
    z = np.repeat([0, 1], 25)
    for _ in range(reps):
        x = rng.normal(size=50)
        zz = rng.permutation(z)
        y = 0.5 * x + tau * zz + rng.normal(size=50) * np.where(zz == 1, 2.0, 1.0)
        res = ef.estimate("lm_robust", data=pd.DataFrame({"y": y, "z": zz, "x": x}),
                          outcome="y", treatment="z", covariates=["x"])
        hits += res.conf_int[0] <= tau <= res.conf_int[1]
    sd = np.sqrt(0.95 * 0.05 / reps)
    assert abs(hits / reps - 0.95) < 3 * sd


def test_cr2_coverage_10_clusters():
    rng = np.random.default_rng(7)
    reps, tau, hits = 400, 0.5, 0
    cl = np.repeat(np.arange(10), 8)
    for _ in range(reps):
        zc = rng.permutation(np.repeat([0, 1], 5))
        u = rng.normal(size=10) * 0.7
        y = tau * zc[cl] + u[cl] + rng.normal(size=80)
        res = ef.estimate("lm_robust", data=pd.DataFrame({"y": y, "z": zc[cl], "cl": cl}),
                          outcome="y", treatment="z", clusters="cl")
        hits += res.conf_int[0] <= tau <= res.conf_int[1]
    sd = np.sqrt(0.95 * 0.05 / reps)
    assert abs(hits / reps - 0.95) < 3 * sd


# -- properties ------------------------------------------------------------------------
@settings(deadline=None, max_examples=25)
@given(seed=st.integers(0, 10_000), shift=st.floats(-100, 100), scale=st.floats(0.1, 50))
def test_equivariance_and_sign_flip(seed, shift, scale):
    df = _trial(seed, n=80, n_blocks=4, n_clusters=10)
    assume(df.groupby("block").z.nunique().min() == 2)  # a block in one arm is refused, rightly
    spec = dict(outcome="y", treatment="z", covariates=["x"], blocks="block", clusters="cl")
    base = ef.estimate("lm_robust", data=df, **spec)
    shifted = ef.estimate("lm_robust", data=df.assign(y=df.y + shift), **spec)
    scaled = ef.estimate("lm_robust", data=df.assign(y=df.y * scale), **spec)
    flipped = ef.estimate("lm_robust", data=df.assign(z=1 - df.z), **spec)
    shuffled = ef.estimate("lm_robust", data=df.sample(frac=1.0, random_state=seed), **spec)
    assert shifted.estimate == pytest.approx(base.estimate, abs=1e-8 * (1 + abs(shift)))
    assert shifted.std_error == pytest.approx(base.std_error, rel=1e-6)
    assert scaled.estimate == pytest.approx(scale * base.estimate, rel=1e-8, abs=1e-10)
    assert scaled.std_error == pytest.approx(scale * base.std_error, rel=1e-8)
    assert flipped.estimate == pytest.approx(-base.estimate, rel=1e-8, abs=1e-10)
    assert shuffled.estimate == pytest.approx(base.estimate, rel=1e-9, abs=1e-12)
    assert shuffled.df == pytest.approx(base.df, rel=1e-8)


def test_formula_and_columns_agree():
    df = _trial(8)
    a = ef.estimate("lm_robust", data=df, outcome="y", treatment="z", covariates=["x"], fixed_effects="f2")
    b = ef.estimate("lm_robust", data=df, formula="y ~ z + x | f2", treatment="z")
    assert a.estimate == b.estimate and a.std_error == b.std_error


def test_wald_test_matches_statsmodels():
    df = _trial(9)
    fit = lm_robust(df, "y ~ z + x", se_type="HC1")
    ref = sm.OLS(df.y, sm.add_constant(df[["z", "x"]])).fit(cov_type="HC1")
    test = fit.wald_test(["z", "x"])
    ref_test = ref.wald_test("z = 0, x = 0", use_f=True, scalar=True)
    assert test["statistic"] == pytest.approx(float(ref_test.statistic), rel=1e-9)
    assert test["p_value"] == pytest.approx(float(ref_test.pvalue), rel=1e-8)


# -- bad input -------------------------------------------------------------------------
def test_missing_column():
    with pytest.raises(DataError, match="'nope'.*not in the data"):
        ef.estimate("lm_robust", data=_trial(0), outcome="nope", treatment="z")


def test_missing_values_named():
    df = _trial(0)
    df.loc[3, "x"] = np.nan
    with pytest.raises(DataError, match="column 'x' has 1 missing value.*missing='drop'"):
        ef.estimate("lm_robust", data=df, outcome="y", treatment="z", covariates=["x"])
    res = ef.estimate("lm_robust", data=df, outcome="y", treatment="z", covariates=["x"], missing="drop")
    assert res.n == len(df) - 1 and "1 rows" in res.warnings[0]


def test_treatment_not_binary():
    df = _trial(0).assign(z=lambda d: d.z * 2)
    with pytest.raises(DataError, match="must hold 0 .*and 1"):
        ef.estimate("lm_robust", data=df, outcome="y", treatment="z")


def test_text_outcome():
    df = _trial(0).assign(y="a")
    with pytest.raises(DataError, match="where numbers belong"):
        ef.estimate("lm_robust", data=df, outcome="y", treatment="z")


def test_nonpositive_weights():
    df = _trial(0)
    df.loc[0, "w"] = 0.0
    with pytest.raises(DataError, match="weights must be positive"):
        ef.estimate("lm_robust", data=df, outcome="y", treatment="z", weights="w")


def test_cluster_se_type_without_clusters():
    with pytest.raises(DesignError, match="se_type='CR2' needs clusters="):
        ef.estimate("lm_robust", data=_trial(0), outcome="y", treatment="z", se_type="CR2")


def test_hc_se_type_with_clusters():
    with pytest.raises(DesignError, match="ignores the clusters="):
        ef.estimate("lm_robust", data=_trial(0), outcome="y", treatment="z", clusters="cl", se_type="HC2")


def test_unknown_se_type():
    with pytest.raises(DesignError, match="se_type='HC9' is not valid"):
        ef.estimate("lm_robust", data=_trial(0), outcome="y", treatment="z", se_type="HC9")


def test_singleton_fixed_effect_under_hc2():
    df = _trial(0)
    df.loc[0, "block"] = 99
    with pytest.raises(EstimationError, match="leverage 1.*singleton"):
        ef.estimate("lm_robust", data=df, outcome="y", treatment="z", fixed_effects="block")


def test_block_with_one_arm():
    df = _trial(0)
    df.loc[0, "block"] = 99
    with pytest.raises(DataError, match="block 99 of column 'block' has 1 treated and 0 control"):
        ef.estimate("lm_robust", data=df.assign(z=lambda d: d.z.where(d.index != 0, 1)), outcome="y",
                    treatment="z", blocks="block")


def test_collinear_regressors():
    df = _trial(0).assign(x2=lambda d: 2 * d.x)
    with pytest.raises(EstimationError, match="'x2' is a linear combination"):
        ef.estimate("lm_robust", data=df, outcome="y", treatment="z", covariates=["x", "x2"])


def test_term_not_in_model():
    with pytest.raises(DesignError, match="term='age' is not in the model"):
        ef.estimate("lm_robust", data=_trial(0), outcome="y", treatment="z", term="age")


def test_formula_that_cannot_be_evaluated():
    with pytest.raises(DesignError, match="cannot be (parsed|evaluated)"):
        ef.estimate("lm_robust", data=_trial(0), formula="y ~ z + log(", treatment="z")


def test_one_cluster():
    df = _trial(0).assign(cl=1)
    with pytest.raises(EstimationError, match="only one cluster"):
        ef.estimate("lm_robust", data=df, outcome="y", treatment="z", clusters="cl")


def test_regressor_absorbed_by_the_fixed_effects():
    df = _trial(0)
    df["block_level"] = np.sin(1.3 * df.block)  # constant within blocks
    with pytest.raises(EstimationError, match="'block_level' is constant within the levels of the fixed effects"):
        ef.estimate("lm_robust", data=df, outcome="y", treatment="z", covariates=["block_level"], blocks="block")


def test_cr2_forms_no_cluster_sized_square_matrix():
    # five clusters of 10,000 rows: one n_g x n_g block alone would be 800 MB
    import tracemalloc

    rng = np.random.default_rng(12)
    n = 50_000
    df = pd.DataFrame({"cl": np.repeat(np.arange(5), n // 5), "x": rng.normal(size=n),
                       "z": np.tile([0, 1], n // 2)})
    df["y"] = df.z + df.x + rng.normal(size=n)
    tracemalloc.start()
    fit = lm_robust(df, "y ~ z + x", clusters="cl", se_type="CR2")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert np.isfinite(fit.df).all()
    assert peak < 100 * 2**20


def test_assignment_supplies_treatment_and_blocks():
    from effekt import design

    blocks = np.repeat(["a", "b", "c", "d"], 10)
    asg = design.block(blocks=blocks, prob=0.5, seed=8)
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"y": rng.normal(size=40) + asg.treatment, "x": rng.normal(size=40)})
    via = ef.estimate("lm_robust", data=df, outcome="y", covariates=["x"], assignment=asg)
    cols = ef.estimate("lm_robust", data=df.assign(z=asg.treatment, b=blocks), outcome="y", treatment="z",
                       covariates=["x"], blocks="b")
    assert (via.estimate, via.std_error, via.design) == (cols.estimate, cols.std_error, "blocked")
    for name, extra in (("lin", {}), ("cace", {"received": "d"})):
        a = ef.estimate(name, data=df.assign(d=asg.treatment), outcome="y", covariates=["x"], assignment=asg,
                        **extra)
        b = ef.estimate(name, data=df.assign(z=asg.treatment, b=blocks, d=asg.treatment), outcome="y",
                        treatment="z", covariates=["x"], blocks="b", **extra)
        assert a.estimate == pytest.approx(b.estimate, rel=1e-12)
    with pytest.raises(DesignError, match="not formula="):
        ef.estimate("lm_robust", data=df, formula="y ~ x", assignment=asg)


@pytest.mark.parametrize("weighted", [False, True])
def test_r_squared_of_the_whole_model_matches_statsmodels(weighted):
    df = _trial(13)
    B = pd.get_dummies(df.block, drop_first=True).astype(float)
    X = sm.add_constant(pd.concat([df[["z", "x"]].astype(float), B], axis=1))
    ref = (sm.WLS(df.y, X, weights=df.w) if weighted else sm.OLS(df.y, X)).fit()
    res = ef.estimate("lm_robust", data=df, outcome="y", treatment="z", covariates=["x"], blocks="block",
                      weights="w" if weighted else None)
    assert res.extra["r_squared"] == pytest.approx(ref.rsquared, rel=1e-10)
    assert res.extra["adj_r_squared"] == pytest.approx(ref.rsquared_adj, rel=1e-10)


# -- text covariates, arms, counts ----------------------------------------------------------------
def _sectors(seed=0, n=120):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"z": rng.permutation(np.arange(n) % 2), "sector": rng.choice(["retail", "care", "build"], n),
                       "x": rng.normal(size=n), "cl": np.arange(n) // 4})
    df["d"] = df.z * (rng.random(n) < 0.7)
    df["y"] = df.z + (df.sector == "care") * 0.5 + df.x + rng.normal(size=n)
    dummies = df.assign(**{"sector[care]": (df.sector == "care").astype(float),
                           "sector[retail]": (df.sector == "retail").astype(float)})
    return df, dummies


@pytest.mark.parametrize(
    ("estimator", "spec"),
    [("lm_robust", {}), ("lin", {}), ("cace", {"received": "d"}), ("iv_robust", {"received": "d"}),
     ("ri", {"estimator": "lm_robust", "sims": 50, "max_exact": 0, "seed": 1})],
)
def test_a_text_covariate_gives_the_estimate_of_hand_made_dummies(estimator, spec):
    # R's treatment contrasts: the first level (sorted), 'build', is the reference
    df, dummies = _sectors()
    text = ef.estimate(estimator, data=df, outcome="y", treatment="z", covariates=["sector", "x"], **spec)
    hand = ef.estimate(estimator, data=dummies, outcome="y", treatment="z",
                       covariates=["sector[care]", "sector[retail]", "x"], **spec)
    assert text.estimate == pytest.approx(hand.estimate, rel=1e-10)
    assert text.std_error == pytest.approx(hand.std_error, rel=1e-10)
    assert text.extra["reference_levels"] == {"sector": "build"}


def test_heterogeneity_with_a_text_covariate():
    df, dummies = _sectors()
    df["m"] = dummies["m"] = np.tile(["a", "b"], len(df) // 2)
    text = ef.estimate("heterogeneity", data=df, outcome="y", treatment="z", covariates=["sector"], moderators=["m"])
    hand = ef.estimate("heterogeneity", data=dummies, outcome="y", treatment="z",
                       covariates=["sector[care]", "sector[retail]"], moderators=["m"])
    assert [r.estimate for r in text] == pytest.approx([r.estimate for r in hand], rel=1e-10)
    assert text.extra["reference_levels"] == {"sector": "build"}


def test_arms_with_columns_and_formula_and_counts():
    df, _ = _sectors()
    base = ef.estimate("lm_robust", data=df, outcome="y", treatment="z", covariates=["x"], clusters="cl")
    text = df.assign(z=np.where(df.z == 1, "JKI", "CAB"))
    labelled = ef.estimate("lm_robust", data=text, outcome="y", treatment="z", covariates=["x"], clusters="cl",
                           arms=("CAB", "JKI"))
    assert labelled.estimate == pytest.approx(base.estimate)
    via_formula = ef.estimate("lm_robust", data=text, formula="y ~ z + x", treatment="z", arms=("CAB", "JKI"))
    assert via_formula.estimate == pytest.approx(
        ef.estimate("lm_robust", data=df, formula="y ~ z + x", treatment="z").estimate)
    assert base.n == len(df) and base.n_clusters == df.cl.nunique() and base.n_treated + base.n_control == base.n
    coef = ef.estimate("lm_robust", data=df, outcome="y", treatment="z", covariates=["x"], term="x")
    assert coef.estimand == "coefficient"
