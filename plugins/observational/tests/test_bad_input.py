"""Bad input to the observational estimators: a clear EffektError naming the problem."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import effekt as ef
from effekt.errors import DataError, DesignError
from effekt_observational import propensity_score
from effekt_observational._common import simulate_confounded

ALL = ["matching", "ipw", "entropy_balancing", "aipw"]


@pytest.fixture(scope="module")
def syn():
    return simulate_confounded(np.random.default_rng(21), n=300)


def _fit(name, data, spec, **kw):
    extra = {"seed": 1} if name == "aipw" else {}
    return ef.estimate(name, data=data, **{**spec, **extra, **kw})


@pytest.mark.parametrize("name", ["ipw", "aipw", "entropy_balancing"])
def test_no_overlap_names_it(syn, name):
    d = syn.data.copy()
    d["x1"] = np.where(d.z == 1, 5.0, -5.0) + 0.1 * d.x1   # x1 separates the arms
    with pytest.raises(DataError, match="overlap"):
        _fit(name, d, syn.spec)


def test_no_overlap_in_propensity_matching(syn):
    d = syn.data.copy()
    d["x1"] = np.where(d.z == 1, 5.0, -5.0) + 0.1 * d.x1
    with pytest.raises(DataError, match="no overlap.*'x1'"):
        _fit("matching", d, syn.spec, distance="propensity")


@pytest.mark.parametrize("name", ALL)
def test_all_treated(syn, name):
    with pytest.raises(DataError, match="control arm is empty"):
        _fit(name, syn.data.assign(z=1), syn.spec)


@pytest.mark.parametrize("name", ALL)
def test_constant_covariate(syn, name):
    with pytest.raises(DataError, match="covariate 'x3' is constant"):
        _fit(name, syn.data.assign(x3=2.0), syn.spec, covariates=["x1", "x3"])


@pytest.mark.parametrize("name", ALL)
def test_missing_covariate_values(syn, name):
    d = syn.data.copy()
    d.loc[d.index[[3, 8]], "x2"] = np.nan
    with pytest.raises(DataError, match="'x2' has 2 missing values"):
        _fit(name, d, syn.spec)
    res = _fit(name, d, syn.spec, missing="drop")
    assert res.n <= len(d) - 2 and any("dropped" in w for w in res.warnings)


@pytest.mark.parametrize("name", ALL)
def test_text_treatment_needs_arms(syn, name):
    d = syn.data.assign(z=np.where(syn.data.z == 1, "course", "usual"))
    with pytest.raises(DataError, match="arms="):
        _fit(name, d, syn.spec)
    a = _fit(name, d, syn.spec, arms=("usual", "course"))
    b = _fit(name, syn.data, syn.spec)
    assert a.estimate == pytest.approx(b.estimate, rel=1e-10)


@pytest.mark.parametrize("name", ALL)
def test_no_covariates(syn, name):
    spec = {k: v for k, v in syn.spec.items() if k != "covariates"}
    with pytest.raises(DesignError, match="covariates"):
        _fit(name, syn.data, spec, covariates=[])


@pytest.mark.parametrize("estimand", ["ato", "atc"])
def test_estimand_narrowed(syn, estimand):
    with pytest.raises(DesignError, match="estimand"):
        _fit("entropy_balancing", syn.data, syn.spec, estimand=estimand)


def test_matching_ato_refused(syn):
    with pytest.raises(DesignError, match="estimand"):
        _fit("matching", syn.data, syn.spec, estimand="ato")


def test_caliper_leaving_no_match(syn):
    d = syn.data.copy()
    d["x1"] = np.where(d.z == 1, 3.0, -3.0) + 0.01 * d.x1
    with pytest.raises(DataError, match="caliper"):
        _fit("matching", d, syn.spec, caliper=0.1)


def test_exact_column_missing_and_absent(syn):
    d = syn.data.assign(site=np.where(np.arange(len(syn.data)) % 2 == 0, "a", "b"))
    res = _fit("matching", d, syn.spec, exact="site")
    assert res.extra["exact"] == ["site"]
    with pytest.raises(DataError, match="exact='nope'"):
        _fit("matching", d, syn.spec, exact=["nope"])
    d.loc[d.index[0], "site"] = None
    with pytest.raises(DataError, match="exact column 'site' has 1 missing"):
        _fit("matching", d, syn.spec, exact=["site"])


@pytest.mark.parametrize("trim", [0.5, -0.1, "optimal", True])
def test_bad_trim(syn, trim):
    with pytest.raises(DesignError, match="trim"):
        _fit("ipw", syn.data, syn.spec, trim=trim)


def test_bad_classifier_and_regressor(syn):
    with pytest.raises(DesignError, match="classifier"):
        _fit("ipw", syn.data, syn.spec, classifier="forest")
    with pytest.raises(DesignError, match="classifier"):
        _fit("ipw", syn.data, syn.spec, classifier=object())
    with pytest.raises(DesignError, match="regressor"):
        _fit("aipw", syn.data, syn.spec, regressor="tree")


def test_too_many_folds():
    d = simulate_confounded(np.random.default_rng(1), n=60).data
    d.loc[:, "z"] = 0
    d.loc[d.index[:3], "z"] = 1
    with pytest.raises(DataError, match="folds=5"):
        ef.estimate("aipw", data=d, outcome="y", treatment="z", covariates=["x1"], seed=1)


def test_matching_option_types(syn):
    with pytest.raises(DesignError, match="matches"):
        _fit("matching", syn.data, syn.spec, matches=0)
    with pytest.raises(DesignError, match="distance"):
        _fit("matching", syn.data, syn.spec, distance="euclid")
    with pytest.raises(DesignError, match="caliper"):
        _fit("matching", syn.data, syn.spec, caliper=-1.0)


def test_propensity_score_bad_input(syn):
    with pytest.raises(DataError, match="constant"):
        propensity_score(syn.data.assign(c=1.0), treatment="z", covariates=["c", "x1"])
    with pytest.raises(DesignError, match="folds"):
        propensity_score(syn.data, treatment="z", covariates=["x1"], folds=1)
    with pytest.raises(DataError, match="treated arm is empty"):
        propensity_score(syn.data.assign(z=0), treatment="z", covariates=["x1"])
    d = pd.DataFrame({"z": ["a", "b"] * 20, "x": np.arange(40.0)})
    with pytest.raises(DataError, match="arms="):
        propensity_score(d, treatment="z", covariates=["x"])
