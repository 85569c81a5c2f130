"""Matching against R Matching's Match() on the Lalonde data it ships.

Fixture: tests/data/matching_lalonde.json, made by tests/data/make_matching_lalonde.R
(R 4.2.2, Matching 4.10.8; the call of each case is in the script).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import effekt as ef

DATA = Path(__file__).parent / "data"
LALONDE = pd.read_csv(DATA / "lalonde.csv")
REF = {r["name"]: r for r in json.loads((DATA / "matching_lalonde.json").read_text())["results"]}
COV = ["age", "educ", "black", "hisp", "married", "nodegr", "re74", "re75"]

CASES = {
    "att": {},                                                      # Match(Y, Tr, X)
    "att_biasadj": {"bias_adjust": True},                           # BiasAdjust = TRUE
    "ate": {"estimand": "ate"},
    "ate_m2_biasadj": {"estimand": "ate", "matches": 2, "bias_adjust": True},
    "atc": {"estimand": "atc"},
    "att_m3": {"matches": 3},
    "att_mahalanobis": {"distance": "mahalanobis"},                 # Weight = 2
    "att_exact": {"exact": ["black", "married"]},                   # exact = TRUE for black, married
    "att_score": {"distance": "propensity"},                        # X = the logistic linear predictor
}


def _fit(**kw):
    return ef.estimate("matching", data=LALONDE, outcome="re78", treatment="treat", covariates=COV, **kw)


@pytest.mark.parametrize("case", list(CASES))
def test_matches_r_matching(case):
    res, ref = _fit(**CASES[case]), REF[case]
    assert res.estimate == pytest.approx(ref["estimate"], rel=1e-9)
    assert res.std_error == pytest.approx(ref["se"], rel=1e-7)               # Match()$se, Abadie-Imbens
    assert res.extra["se_standard"] == pytest.approx(ref["se_standard"], rel=1e-7)
    assert res.extra["estimate_unadjusted"] == pytest.approx(ref["estimate_unadjusted"], rel=1e-9)
    assert res.extra["matched"]["pairs"] == ref["n_pairs"]                   # ties kept as Match() keeps them


def test_caliper_matches_r_and_documents_its_variance():
    """Match(Y, Tr, X, caliper = 1): the same matches, drops and estimate. Match()'s SE also
    counts each dropped treated unit with an effect of 0 over all treated; effekt's SE is the
    matched units' own: se_R^2 = (N_m^2 se^2 + drops * est^2) / N^2."""
    res, ref = _fit(caliper=1.0), REF["att_caliper"]
    assert res.estimate == pytest.approx(ref["estimate"], rel=1e-9)
    assert res.extra["dropped_by_caliper"] == ref["ndrops"] == 34
    assert res.extra["matched"]["pairs"] == ref["n_pairs"]
    n_all, n_m = 185, 185 - 34
    se_r = np.sqrt((n_m**2 * res.std_error**2 + 34 * res.estimate**2) / n_all**2)
    assert se_r == pytest.approx(ref["se"], rel=1e-7)
    assert any("dropped" in w for w in res.warnings)


def test_without_replacement_uses_each_control_once():
    res = _fit(replace=False)
    assert res.extra["matched"]["matches_used"] == res.extra["matched"]["focal"] == 185
    # with every K = 1 the Abadie-Imbens variance reduces to Match()'s se.standard
    assert res.std_error == pytest.approx(res.extra["se_standard"], rel=1e-10)


def test_matching_improves_balance():
    from effekt_observational import balance_of

    bal = balance_of(_fit())
    before = bal.before.table.set_index("variable")["smd"].abs()
    after = bal.after.table.set_index("variable")["smd"].abs()
    for v in ("educ", "hisp", "nodegr"):   # the covariates flagged before matching
        assert before[v] > 0.1 > after[v]
    assert bal.before.table["flagged"].sum() == 4 and bal.after.table["flagged"].sum() == 2


def test_tied_matches_false_keeps_exactly_the_requested_matches():
    res = _fit(matches=2, tied_matches=False)
    assert res.extra["matched"]["pairs"] == 2 * 185 and res.extra["tied_matches"] is False
    # with ties kept R's Match() uses 671 pairs for M = 3: ties are common in these data
    assert _fit(matches=3).extra["matched"]["pairs"] == REF["att_m3"]["n_pairs"] > 3 * 185


def test_tied_matches_false_equals_ties_true_without_ties():
    from effekt_observational._common import simulate_confounded

    syn = simulate_confounded(np.random.default_rng(3), n=400)
    a = ef.estimate("matching", data=syn.data, **syn.spec, distance="mahalanobis")
    b = ef.estimate("matching", data=syn.data, **syn.spec, distance="mahalanobis", tied_matches=False)
    assert a.estimate == pytest.approx(b.estimate, rel=1e-12) and a.std_error == pytest.approx(b.std_error)
