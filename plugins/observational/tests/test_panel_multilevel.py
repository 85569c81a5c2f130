"""Multilevel models against lme4 (fixtures written by data/make_multilevel_fixtures.R)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import effekt as ef
from effekt.errors import DataError, DesignError
from effekt.testing import parametrize_with_checks
from effekt_observational.multilevel import Multilevel

DATA = Path(__file__).parent / "data"
# lme4 1.1.31 on R 4.2.2: lmer() fits, summary()$coefficients and as.data.frame(VarCorr())
REF = pd.read_csv(DATA / "lme4_reference.csv")


def _ref(model: str, kind: str) -> pd.DataFrame:
    return REF[(REF.model == model) & (REF.kind == kind)].set_index("term")


@pytest.fixture(scope="module")
def sleep() -> pd.DataFrame:
    return pd.read_csv(DATA / "sleepstudy.csv")


@pytest.fixture(scope="module")
def jobs() -> pd.DataFrame:
    return pd.read_csv(DATA / "jobcentres3.csv")


def _compare_fixed(res, model: str, rel: float = 2e-4) -> None:
    fixed = _ref(model, "fixed")
    tidy = res.tidy().set_index("term")
    for term, row in fixed.iterrows():
        assert tidy.loc[term, "estimate"] == pytest.approx(row.estimate, rel=1e-5, abs=1e-8), term
        assert tidy.loc[term, "std.error"] == pytest.approx(row.std_error, rel=rel), term


def test_sleepstudy_random_slopes_match_lme4(sleep):
    # lmer(Reaction ~ Days + (Days | Subject), sleepstudy)
    res = ef.estimate("multilevel", data=sleep, outcome="Reaction", groups="Subject", covariates=["Days"],
                      term="Days", random_slopes=["Days"])
    _compare_fixed(res, "sleep_slopes_reml")
    var = _ref("sleep_slopes_reml", "variance").estimate
    cov = np.array(res.extra["random_effects_cov"]["matrix"])
    assert cov[0, 0] == pytest.approx(var["Subject:(Intercept):NA"], rel=1e-3)
    assert cov[1, 1] == pytest.approx(var["Subject:Days:NA"], rel=1e-3)
    assert cov[0, 1] == pytest.approx(var["Subject:(Intercept):Days"], rel=2e-3)
    assert res.extra["variance_components"]["residual"] == pytest.approx(var["Residual:NA:NA"], rel=1e-3)


@pytest.mark.parametrize(("reml", "model"), [(True, "sleep_intercept_reml"), (False, "sleep_intercept_ml")])
def test_sleepstudy_random_intercept_reml_and_ml(sleep, reml, model):
    res = ef.estimate("multilevel", data=sleep, outcome="Reaction", groups="Subject", covariates=["Days"],
                      term="Days", reml=reml)
    _compare_fixed(res, model)
    var = _ref(model, "variance").estimate
    vc = res.extra["variance_components"]
    assert vc["Subject"] == pytest.approx(var["Subject:(Intercept):NA"], rel=1e-3)
    assert vc["residual"] == pytest.approx(var["Residual:NA:NA"], rel=1e-3)
    icc = var["Subject:(Intercept):NA"] / (var["Subject:(Intercept):NA"] + var["Residual:NA:NA"])
    assert res.extra["icc"]["Subject"] == pytest.approx(icc, rel=1e-3)
    assert res.se_type == ("model-based (REML)" if reml else "model-based (ML)")


def test_three_levels_match_lme4(jobs):
    # lmer(weeks ~ programme + caseload + fidelity + age + (1 | jobcentre / caseworker), jobs)
    res = ef.estimate("multilevel", data=jobs, outcome="weeks", treatment="programme",
                      groups=["jobcentre", "caseworker"], covariates=["caseload", "fidelity", "age"])
    _compare_fixed(res, "jobs3_reml", rel=5e-4)
    var = _ref("jobs3_reml", "variance").estimate
    vc = res.extra["variance_components"]
    assert vc["jobcentre"] == pytest.approx(var["jobcentre:(Intercept):NA"], rel=1e-3)
    assert vc["caseworker"] == pytest.approx(var["caseworker:jobcentre:(Intercept):NA"], rel=1e-3)
    assert vc["residual"] == pytest.approx(var["Residual:NA:NA"], rel=1e-3)
    total = sum(var[k] for k in ("jobcentre:(Intercept):NA", "caseworker:jobcentre:(Intercept):NA",
                                 "Residual:NA:NA"))
    assert res.extra["icc"]["jobcentre"] == pytest.approx(var["jobcentre:(Intercept):NA"] / total, rel=1e-3)
    assert res.extra["icc"]["caseworker"] == pytest.approx(
        (var["jobcentre:(Intercept):NA"] + var["caseworker:jobcentre:(Intercept):NA"]) / total, rel=1e-3)
    assert res.headline.term == "programme" and res.extra["n_groups"] == {"jobcentre": 12, "caseworker": 60}


def test_two_levels_match_lme4(jobs):
    res = ef.estimate("multilevel", data=jobs, outcome="weeks", treatment="programme", groups="caseworker",
                      covariates=["caseload", "age"])
    _compare_fixed(res, "jobs2_reml", rel=5e-4)


def test_nested_labels_need_not_be_unique(jobs):
    """Caseworkers numbered 1..5 within each job centre give the same fit as unique labels."""
    relabelled = jobs.assign(caseworker=jobs.groupby("jobcentre").caseworker.transform(
        lambda s: pd.factorize(s)[0]))
    kw = dict(outcome="weeks", treatment="programme", groups=["jobcentre", "caseworker"], covariates=["age"])
    a = ef.estimate("multilevel", data=jobs, **kw)
    b = ef.estimate("multilevel", data=relabelled, **kw)
    assert a.estimate == pytest.approx(b.estimate, rel=1e-8)


@parametrize_with_checks([Multilevel], max_examples=3, coverage_sims=60)
def test_multilevel_conformance(estimator, check):
    check(estimator)


# -- bad input ----------------------------------------------------------------------
def test_one_group_is_refused(jobs):
    with pytest.raises(DataError, match="one group only"):
        ef.estimate("multilevel", data=jobs.assign(all="x"), outcome="weeks", treatment="programme",
                    groups=["all", "caseworker"])


def test_groups_in_the_wrong_order_are_refused(jobs):
    with pytest.raises(DataError, match="outermost first"):
        ef.estimate("multilevel", data=jobs, outcome="weeks", treatment="programme",
                    groups=["caseworker", "jobcentre"])


def test_missing_group_column_and_values(jobs):
    with pytest.raises(DataError, match="'office'"):
        ef.estimate("multilevel", data=jobs, outcome="weeks", treatment="programme", groups="office")
    bad = jobs.assign(caseworker=jobs.caseworker.where(jobs.index != 3))
    with pytest.raises(DataError, match="missing value"):
        ef.estimate("multilevel", data=bad, outcome="weeks", treatment="programme", groups="caseworker")
    res = ef.estimate("multilevel", data=bad, outcome="weeks", treatment="programme", groups="caseworker",
                      missing="drop")
    assert res.n == len(jobs) - 1 and any("dropped" in w for w in res.warnings)


def test_needs_treatment_or_term_and_slopes_must_be_covariates(jobs):
    with pytest.raises(DesignError, match="treatment= .* or term="):
        ef.estimate("multilevel", data=jobs, outcome="weeks", groups="caseworker", covariates=["age"])
    with pytest.raises(DesignError, match="random_slopes"):
        ef.estimate("multilevel", data=jobs, outcome="weeks", treatment="programme", groups="jobcentre",
                    random_slopes=["age"])


def test_collinear_fixed_effects_are_refused(jobs):
    with pytest.raises(DataError, match="collinear"):
        ef.estimate("multilevel", data=jobs.assign(c2=jobs.caseload * 2), outcome="weeks", treatment="programme",
                    groups="caseworker", covariates=["caseload", "c2"])
