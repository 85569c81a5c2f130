"""CR2, its Satterthwaite degrees of freedom and the HTZ Wald test against R clubSandwich 0.5.8.

Reference values: tests/data/clubsandwich_cr2.json, written by tests/data/make_clubsandwich_cr2.R
(``vcovCR(lm(...), cluster = g, type = "CR2")``, ``coef_test(..., test = "Satterthwaite")`` and
``Wald_test(..., constrain_zero(2:3), test = c("HTZ", "Naive-F"))``) on the data in
tests/data/clubsandwich_cr2.csv (12 clusters of 3 to 6 rows).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from effekt.errors import DesignError, EstimationError
from effekt.sandwich import robust_ols, wald_test

DATA = Path(__file__).parent / "data"
REF = json.loads((DATA / "clubsandwich_cr2.json").read_text())
DF = pd.read_csv(DATA / "clubsandwich_cr2.csv")


def _design(model: str) -> np.ndarray:
    cols = [np.ones(len(DF)), DF.x, DF.z]
    if model == "fixed_effect":
        cols += [(DF.f == "b").astype(float), (DF.f == "c").astype(float)]
    return np.column_stack(cols)


@pytest.mark.parametrize("model", ["unweighted", "fixed_effect"])
def test_cr2_vcov_and_df_match_clubsandwich(model):
    ref = REF[model]
    fit = robust_ols(_design(model), DF.y.to_numpy(), se_type="CR2", clusters=DF.g.to_numpy())
    np.testing.assert_allclose(fit.coef, ref["coef"], rtol=1e-10)
    np.testing.assert_allclose(fit.vcov, np.array(ref["vcov"]), rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(fit.df, ref["df"], rtol=1e-8)


@pytest.mark.parametrize("model", ["unweighted", "fixed_effect"])
def test_htz_wald_test_matches_clubsandwich(model):
    ref = REF[model]["wald"]
    X = _design(model)
    fit = robust_ols(X, DF.y.to_numpy(), se_type="CR2", clusters=DF.g.to_numpy())
    R = np.zeros((2, X.shape[1]))
    R[0, 1] = R[1, 2] = 1.0
    M = np.linalg.inv(X.T @ X)
    htz = wald_test(fit.coef, fit.vcov, R, df=None, cr2_design=(X, M, DF.g.to_numpy()))
    assert htz["statistic"] == pytest.approx(ref["HTZ"]["Fstat"], rel=1e-8)
    assert htz["df2"] == pytest.approx(ref["HTZ"]["df_denom"], rel=1e-8)
    assert htz["p_value"] == pytest.approx(ref["HTZ"]["p_val"], rel=1e-7)
    naive = wald_test(fit.coef, fit.vcov, R, df=fit.n_clusters - 1)  # the old F(q, G - 1), still available
    assert naive["statistic"] == pytest.approx(ref["Naive-F"]["Fstat"], rel=1e-8)
    assert naive["p_value"] == pytest.approx(ref["Naive-F"]["p_val"], rel=1e-7)
    same = wald_test(fit.coef, fit.vcov, R, df=fit.n_clusters - 1, test="F", cr2_design=(X, M, DF.g.to_numpy()))
    assert same == naive


def test_htz_with_one_constraint_is_the_satterthwaite_t_test():
    X = _design("unweighted")
    fit = robust_ols(X, DF.y.to_numpy(), se_type="CR2", clusters=DF.g.to_numpy())
    M = np.linalg.inv(X.T @ X)
    htz = wald_test(fit.coef, fit.vcov, np.array([[0.0, 1.0, 0.0]]), df=None, cr2_design=(X, M, DF.g.to_numpy()))
    assert htz["df2"] == pytest.approx(fit.df[1], rel=1e-9)
    assert htz["statistic"] == pytest.approx(fit.coef[1] ** 2 / fit.vcov[1, 1], rel=1e-9)


def test_htz_needs_the_design_and_a_known_test():
    V = np.eye(2)
    with pytest.raises(DesignError, match="cr2_design"):
        wald_test(np.ones(2), V, np.eye(2), df=5, test="HTZ")
    with pytest.raises(DesignError, match="test"):
        wald_test(np.ones(2), V, np.eye(2), df=5, test="Naive")


WEIGHTED = {"weighted": ("unweighted", "w"), "weighted_fixed_effect": ("fixed_effect", "w"),
            "cluster_weights": ("unweighted", "wg")}


@pytest.mark.parametrize("model", list(WEIGHTED))
def test_weighted_cr2_and_df_match_clubsandwich(model):
    # weights varying within clusters (w) and constant within them (wg): clubSandwich's default for a
    # weighted lm, the working model Var(e) = sigma^2 I (inverse_var = FALSE)
    ref = REF[model]
    design, w = WEIGHTED[model]
    fit = robust_ols(_design(design), DF.y.to_numpy(), se_type="CR2", clusters=DF.g.to_numpy(),
                     weights=DF[w].to_numpy())
    np.testing.assert_allclose(fit.coef, ref["coef"], rtol=1e-10)
    np.testing.assert_allclose(fit.vcov, np.array(ref["vcov"]), rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(fit.df, ref["df"], rtol=1e-8)


@pytest.mark.parametrize("model", list(WEIGHTED))
def test_weighted_htz_matches_clubsandwich(model):
    ref = REF[model]["wald"]["HTZ"]
    design, w = WEIGHTED[model]
    X, wt = _design(design), DF[w].to_numpy()
    fit = robust_ols(X, DF.y.to_numpy(), se_type="CR2", clusters=DF.g.to_numpy(), weights=wt)
    R = np.zeros((2, X.shape[1]))
    R[0, 1] = R[1, 2] = 1.0
    Xw = X * np.sqrt(wt)[:, None]
    M = np.linalg.inv(Xw.T @ Xw)
    htz = wald_test(fit.coef, fit.vcov, R, df=None, cr2_design=(Xw, M, DF.g.to_numpy(), wt))
    assert htz["statistic"] == pytest.approx(ref["Fstat"], rel=1e-8)
    assert htz["df2"] == pytest.approx(ref["df_denom"], rel=1e-8)
    assert htz["p_value"] == pytest.approx(ref["p_val"], rel=1e-7)


def test_weighted_cr2_with_absorbed_fixed_effect_matches_clubsandwich():
    # lm(y ~ x + z + f, weights = w) in clubSandwich; the factor absorbed in effekt
    from effekt.estimators.lm_robust import lm_robust

    ref = REF["weighted_fixed_effect"]
    fit = lm_robust(DF, "y ~ x + z | f", clusters="g", weights="w")
    np.testing.assert_allclose(fit.vcov[-2:, -2:], np.array(ref["vcov"])[1:3, 1:3], rtol=1e-9)
    np.testing.assert_allclose(fit.df[-2:], ref["df"][1:3], rtol=1e-8)


@pytest.mark.parametrize(("model", "weights"), [("unweighted", None), ("weighted", "w"), ("cluster_weights", "wg")])
def test_linear_model_wald_test_is_htz_by_default_with_cr2(model, weights):
    from effekt.estimators.lm_robust import lm_robust

    ref = REF[model]["wald"]
    fit = lm_robust(DF, "y ~ x + z", clusters="g", weights=weights)
    htz = fit.wald_test(["x", "z"])
    assert htz["statistic"] == pytest.approx(ref["HTZ"]["Fstat"], rel=1e-8)
    assert htz["df2"] == pytest.approx(ref["HTZ"]["df_denom"], rel=1e-8)
    assert htz["p_value"] == pytest.approx(ref["HTZ"]["p_val"], rel=1e-7)
    naive = fit.wald_test(["x", "z"], test="F")  # F(q, G - 1), clubSandwich's "Naive-F"
    assert naive["statistic"] == pytest.approx(ref["Naive-F"]["Fstat"], rel=1e-8)
    assert naive["p_value"] == pytest.approx(ref["Naive-F"]["p_val"], rel=1e-7)


def test_linear_model_wald_test_defaults_and_refusals():
    from effekt.estimators.lm_robust import lm_robust

    cr1 = lm_robust(DF, "y ~ x + z", clusters="g", se_type="CR1")
    assert "delta" not in cr1.wald_test(["x", "z"])  # F(q, G - 1) for CR1
    with pytest.raises(DesignError, match="HTZ"):
        cr1.wald_test(["x", "z"], test="HTZ")
    hc2 = lm_robust(DF, "y ~ x + z")
    assert "delta" not in hc2.wald_test(["x", "z"])  # F(q, n - k) without clusters
    with pytest.raises(DesignError, match="CR2"):
        hc2.wald_test(["x", "z"], test="HTZ")


@pytest.mark.parametrize(("model", "weights"), [("fixed_effect", None), ("weighted_fixed_effect", "w")])
def test_linear_model_wald_test_with_absorbed_effects_is_htz_by_default(model, weights):
    # lm(y ~ x + z + f) in clubSandwich, the factor absorbed in effekt
    from effekt.estimators.lm_robust import lm_robust

    ref = REF[model]["wald"]
    fit = lm_robust(DF, "y ~ x + z | f", clusters="g", weights=weights)
    htz = fit.wald_test(["x", "z"])
    assert htz["statistic"] == pytest.approx(ref["HTZ"]["Fstat"], rel=1e-8)
    assert htz["df2"] == pytest.approx(ref["HTZ"]["df_denom"], rel=1e-8)
    assert htz["p_value"] == pytest.approx(ref["HTZ"]["p_val"], rel=1e-7)
    naive = fit.wald_test(["x", "z"], test="F")
    assert naive["statistic"] == pytest.approx(ref["Naive-F"]["Fstat"], rel=1e-8)


def test_heterogeneity_joint_test_is_htz_with_cr2():
    from effekt.estimators._model import contrast_wald
    from effekt.estimators.heterogeneity import contrast_test
    from effekt.estimators.lm_robust import lm_robust

    fit = lm_robust(DF, "y ~ x + z", clusters="g")
    R = np.zeros((2, 3))
    R[0, 1] = R[1, 2] = 1.0
    assert contrast_test(fit, R)["df2"] == pytest.approx(REF["unweighted"]["wald"]["HTZ"]["df_denom"], rel=1e-8)
    assert contrast_test(fit, R, test="F") == contrast_wald(fit, R, test="F")


# -- two-stage least squares: clubSandwich's CR2 for a weighted AER::ivreg ------------------------------
# Reference values: tests/data/clubsandwich_ivreg.json, written by tests/data/make_clubsandwich_ivreg.R
# (``vcovCR(ivreg(y ~ d + x | z + x, weights = w), cluster = g, type = "CR2")`` and
# ``coef_test(..., test = "Satterthwaite")``, clubSandwich 0.5.8, AER 1.2.10) on
# tests/data/clubsandwich_ivreg.csv (14 clusters of 4 to 10 rows, weights varying within clusters).
IV_REF = json.loads((DATA / "clubsandwich_ivreg.json").read_text())
IV = pd.read_csv(DATA / "clubsandwich_ivreg.csv")
IV_MODELS = {"unweighted": (True, None), "weighted": (False, "w"), "weighted_covariate": (True, "w")}


@pytest.mark.parametrize("model", list(IV_MODELS))
def test_tsls_cr2_and_df_match_clubsandwich_ivreg(model):
    from effekt.estimators.cace import tsls

    covariate, w = IV_MODELS[model]
    one = np.ones(len(IV))
    X = np.column_stack([one, IV.d] + ([IV.x] if covariate else []))
    Z = np.column_stack([one, IV.z] + ([IV.x] if covariate else []))
    fit = tsls(IV.y.to_numpy(), X, Z, endogenous=[1], excluded=[1], se_type="CR2", clusters=IV.g.to_numpy(),
               weights=None if w is None else IV[w].to_numpy())
    ref = IV_REF[model]
    np.testing.assert_allclose(fit.coef, ref["coef"], rtol=1e-10)
    np.testing.assert_allclose(fit.vcov, np.array(ref["vcov"]), rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(fit.df, ref["df"], rtol=1e-8)


@pytest.mark.parametrize(("model", "fixed_effects"), [("weighted_covariate", None), ("weighted_fixed_effect", ["f"]),
                                                    ("weighted_nested_effect", ["h"])])
def test_weighted_cace_cr2_matches_clubsandwich_ivreg(model, fixed_effects):
    # the factor f (crossing the clusters) or h (nested in them) absorbed in effekt, dummies in
    # ivreg(y ~ d + x + f | z + x + f)
    import effekt as ef

    ref = IV_REF[model]
    res = ef.estimate("cace", data=IV, outcome="y", treatment="z", received="d", covariates=["x"],
                      clusters="g", weights="w", fixed_effects=fixed_effects)
    assert res.estimate == pytest.approx(ref["coef"][1], rel=1e-10)
    assert res.std_error**2 == pytest.approx(ref["vcov"][1][1], rel=1e-9)
    assert res.df == pytest.approx(ref["df"][1], rel=1e-8)


@pytest.mark.parametrize("model", ["unweighted", "weighted_covariate", "weighted_fixed_effect",
                                   "weighted_nested_effect"])
def test_tsls_htz_matches_clubsandwich_wald_test_on_ivreg(model):
    # Wald_test(ivreg(...), constrain_zero(c("d", "x")), vcov = "CR2", test = "HTZ"): the projected design
    from effekt.absorb import Absorber
    from effekt.estimators.cace import tsls

    w = None if model == "unweighted" else IV.w.to_numpy()
    X = np.column_stack([IV.d, IV.x, IV.y])
    Z = np.column_stack([IV.z, IV.x])
    absorbed, extra_k = None, 0
    if model in ("weighted_fixed_effect", "weighted_nested_effect"):
        factor = "f" if model == "weighted_fixed_effect" else "h"
        absorber = Absorber([np.unique(IV[factor].to_numpy(), return_inverse=True)[1]], w, [factor])
        A = absorber.demean(np.column_stack([X, Z[:, 0]]))
        X, Z = A[:, :3], np.column_stack([A[:, 3], A[:, 1]])
        absorbed, extra_k = absorber.hat(), absorber.rank
    else:
        one = np.ones(len(IV))
        X, Z = np.column_stack([one, X]), np.column_stack([one, Z])
    y, X = X[:, -1], X[:, :-1]
    j = X.shape[1] - 2  # d, then x
    fit = tsls(y, X, Z, endogenous=[j], excluded=[j], se_type="CR2", clusters=IV.g.to_numpy(), weights=w,
               absorbed=absorbed, extra_k=extra_k)
    R = np.eye(X.shape[1])[[j, j + 1]]
    htz = wald_test(fit.coef, fit.vcov, R, df=None, cr2_design=(*fit.design, IV.g.to_numpy(), w, absorbed))
    ref = IV_REF[model]["htz"]
    assert htz["statistic"] == pytest.approx(ref["Fstat"], rel=1e-8)
    assert htz["df2"] == pytest.approx(ref["df_denom"], rel=1e-8)
    assert htz["p_value"] == pytest.approx(ref["p_val"], rel=1e-7)


def test_unweighted_cace_cr2_unchanged_by_the_weighted_path():
    # equal weights take the unweighted CR2 (both working models agree), so weights=1 changes nothing
    import effekt as ef

    spec = dict(data=IV.assign(one=1.0), outcome="y", treatment="z", received="d", covariates=["x"], clusters="g")
    plain = ef.estimate("cace", **spec)
    ones = ef.estimate("cace", **spec, weights="one")
    assert plain.std_error == pytest.approx(ones.std_error, rel=1e-12)
    assert plain.df == pytest.approx(ones.df, rel=1e-12)
    assert plain.std_error**2 == pytest.approx(IV_REF["unweighted"]["vcov"][1][1], rel=1e-9)


# -- HTZ with absorbed fixed effects ------------------------------------------------------------------
# Reference values: tests/data/clubsandwich_htz_absorbed.json, written by
# tests/data/make_clubsandwich_htz_absorbed.R: ``Wald_test(lm(y ~ x1 + x2 + x3 + f, ...), constraints =
# constrain_zero(...) / constrain_equal(...), vcov = "CR2", cluster = g, test = "HTZ")`` (clubSandwich
# 0.5.8) with the factors as dummies: f crossing the 12 clusters, h nested in them, and both.
ABS_REF = json.loads((DATA / "clubsandwich_htz_absorbed.json").read_text())
ABS = pd.read_csv(DATA / "clubsandwich_htz_absorbed.csv")
ABS_FORMULAS = {"crossed": "y ~ x1 + x2 + x3 | f", "nested": "y ~ x1 + x2 + x3 | h",
                "both": "y ~ x1 + x2 + x3 | f + h"}
CONSTRAINTS = {"x1_x2": [[1.0, 0, 0], [0, 1.0, 0]], "x1_x2_x3": np.eye(3), "x1_eq_x2": [[-1.0, 1.0, 0]]}


@pytest.mark.parametrize("wide", [None, 0])
@pytest.mark.parametrize("weights", [None, "w"])
@pytest.mark.parametrize("fe", list(ABS_FORMULAS))
def test_htz_with_absorbed_fixed_effects_matches_clubsandwich(fe, weights, wide, monkeypatch):
    # wide=0: every absorbed group handled as a dense column (the path of groups spanning many clusters)
    import effekt.sandwich
    from effekt.estimators._model import contrast_wald
    from effekt.estimators.lm_robust import lm_robust

    if wide is not None:
        monkeypatch.setattr(effekt.sandwich, "_HTZ_WIDE", wide)

    ref = ABS_REF[f"{fe}_{'unweighted' if weights is None else 'weighted'}"]
    fit = lm_robust(ABS, ABS_FORMULAS[fe], clusters="g", weights=weights)
    assert fit.n_absorbed > 0
    np.testing.assert_allclose(fit.coef, ref["coef"], rtol=1e-8)
    np.testing.assert_allclose(fit.vcov, np.array(ref["vcov"]), rtol=1e-8)
    np.testing.assert_allclose(fit.df, ref["df"], rtol=1e-8)
    for name, R in CONSTRAINTS.items():
        htz = contrast_wald(fit, np.asarray(R, dtype=float))  # HTZ: the default for CR2
        expected = ref["wald"][name]["HTZ"]
        assert htz["statistic"] == pytest.approx(expected["Fstat"], rel=1e-8), name
        assert htz["df2"] == pytest.approx(expected["df_denom"], rel=1e-8), name
        assert htz["p_value"] == pytest.approx(expected["p_val"], rel=1e-7), name
    naive = fit.wald_test(["x1", "x2"], test="F")
    assert naive["statistic"] == pytest.approx(ref["wald"]["x1_x2"]["Naive-F"]["Fstat"], rel=1e-8)


def test_htz_absorbed_tuple_form_and_the_old_forms_agree():
    # the five-part cr2_design; with the factor as dummy columns instead, the three- and four-part forms
    from effekt.absorb import Absorber

    codes = np.unique(ABS.f.to_numpy(), return_inverse=True)[1]
    y, X, g, w = ABS.y.to_numpy(), ABS[["x1", "x2", "x3"]].to_numpy(), ABS.g.to_numpy(), ABS.w.to_numpy()
    dummies = np.column_stack([np.ones(len(ABS))] + [(codes == k).astype(float) for k in range(1, 4)])
    for weights in (None, w):
        absorber = Absorber([codes], weights, ["f"])
        A = absorber.demean(np.column_stack([X, y]))
        fit = robust_ols(A[:, :3], A[:, 3], se_type="CR2", clusters=g, weights=weights, extra_k=absorber.rank,
                         absorbed=absorber.hat())
        sw = np.ones(len(ABS)) if weights is None else np.sqrt(weights)
        Xw = A[:, :3] * sw[:, None]
        nu = wald_test(fit.coef, fit.vcov, np.eye(3)[:2], df=None,
                       cr2_design=(Xw, np.linalg.inv(Xw.T @ Xw), g, weights, absorber.hat()))
        full = np.column_stack([X, dummies]) * sw[:, None]
        Mf = np.linalg.inv(full.T @ full)
        ff = robust_ols(np.column_stack([X, dummies]), y, se_type="CR2", clusters=g, weights=weights)
        design = (full, Mf, g) if weights is None else (full, Mf, g, weights)
        dummy = wald_test(ff.coef, ff.vcov, np.eye(7)[:2], df=None, cr2_design=design)
        assert nu["df2"] == pytest.approx(dummy["df2"], rel=1e-9)
        assert nu["statistic"] == pytest.approx(dummy["statistic"], rel=1e-9)


def test_htz_design_refusals():
    X = ABS[["x1", "x2"]].to_numpy()
    M = np.linalg.inv(X.T @ X)
    g = ABS.g.to_numpy()
    b, V = np.zeros(2), np.eye(2)
    with pytest.raises(DesignError, match="parts"):
        wald_test(b, V, np.eye(2), df=None, cr2_design=(X, M))
    with pytest.raises(DesignError, match="rows"):
        wald_test(b, V, np.eye(2), df=None, cr2_design=(X, M, g[:-1]))
    with pytest.raises(DesignError, match="columns"):
        wald_test(b, V, np.eye(3), df=None, cr2_design=(X, M, g))
    with pytest.raises(EstimationError, match="two clusters"):
        wald_test(b, V, np.eye(2), df=None, cr2_design=(X, M, np.zeros(len(g))))
    with pytest.raises(EstimationError, match="singular"):
        # a regressor that is zero outside one cluster cannot be informed by the others
        Xs = X.copy()
        Xs[g != 1, 1] = 0.0
        Xs[g == 1, 1] = 1.0
        wald_test(b, V, np.eye(2), df=None, cr2_design=(Xs, np.linalg.inv(Xs.T @ Xs), g))


@pytest.mark.parametrize("weights", [None, "w"])
def test_heterogeneity_interaction_test_is_htz_with_absorbed_blocks(weights):
    # lm(yz ~ m + m:z + f) in clubSandwich, Wald_test(constrain_equal(":z", reg_ex = TRUE), test = "HTZ")
    import effekt as ef

    ref = ABS_REF[f"heterogeneity_{'unweighted' if weights is None else 'weighted'}"]
    tab = ef.estimate("heterogeneity", data=ABS, outcome="yz", treatment="z", moderators=["m"], blocks="f",
                      clusters="g", weights=weights)
    np.testing.assert_allclose([tab.term(f"m={lv}").estimate for lv in "pqr"], ref["coef"][-3:], rtol=1e-9)
    test = tab.extra["interaction_tests"]["m"]
    assert test["statistic"] == pytest.approx(ref["htz"]["Fstat"], rel=1e-8)
    assert test["df2"] == pytest.approx(ref["htz"]["df_denom"], rel=1e-8)
    assert test["p_value"] == pytest.approx(ref["htz"]["p_val"], rel=1e-7)
