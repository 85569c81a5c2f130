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

from effekt.errors import DesignError
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
    absorbed = lm_robust(DF, "y ~ x + z | f", clusters="g")
    assert "delta" not in absorbed.wald_test(["x", "z"])  # absorbed effects: the F test
    with pytest.raises(DesignError, match="absorbed"):
        absorbed.wald_test(["x", "z"], test="HTZ")


def test_heterogeneity_joint_test_is_htz_with_cr2():
    from effekt.estimators._model import contrast_wald
    from effekt.estimators.heterogeneity import contrast_test
    from effekt.estimators.lm_robust import lm_robust

    fit = lm_robust(DF, "y ~ x + z", clusters="g")
    R = np.zeros((2, 3))
    R[0, 1] = R[1, 2] = 1.0
    assert contrast_test(fit, R)["df2"] == pytest.approx(REF["unweighted"]["wald"]["HTZ"]["df_denom"], rel=1e-8)
    assert contrast_test(fit, R, test="F") == contrast_wald(fit, R, test="F")
