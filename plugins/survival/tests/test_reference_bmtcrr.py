"""Competing-risks reference values from R's cmprsk on the bmtcrr data.

Data: tests/data/bmtcrr.csv (Scrucca, Santucci & Aversa 2007, Bone Marrow Transplant 40:381,
doi:10.1038/sj.bmt.1705727; from R casebase, written by tests/data/make_bmtcrr.py).
Reference output: cmprsk::cuminc(ftime, Status, D) and
cmprsk::crr(ftime, Status, cov, failcode=1, cencode=0) with the factors coded as integers
(Sex F=1 M=2, D ALL=1 AML=2, Phase CR1..Relapse=1..4, Source BM+PB=1 PB=2), as printed in
the worked example of Scrucca et al. (2007) reproduced in R tutorials.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import effekt as ef
from effekt_survival.aalen_johansen import gray_test

DATA = pd.read_csv(Path(__file__).with_name("data") / "bmtcrr.csv")


@pytest.fixture
def bmt():
    d = DATA.copy()
    d["AML"] = (d.D == "AML").astype(int)
    d["Sex"] = (d.Sex == "M").astype(int) + 1
    d["Phase"] = d.Phase.map({"CR1": 1, "CR2": 2, "CR3": 3, "Relapse": 4})
    d["Source"] = (d.Source == "PB").astype(int) + 1
    return d


@pytest.mark.parametrize(("cause", "stat", "pv"), [(1, 2.8623325, 0.09067592), (2, 0.4481279, 0.50322531)])
def test_gray_test_matches_cuminc(bmt, cause, stat, pv):
    # cuminc Tests: "1 2.8623325 0.09067592 1" and "2 0.4481279 0.50322531 1"
    chi2, p = gray_test(bmt.ftime.to_numpy(), bmt.Status.to_numpy(), bmt.AML.to_numpy(), cause)
    assert round(chi2, 7) == stat
    assert round(p, 8) == pv


def test_aalen_johansen_matches_cuminc_estimates(bmt):
    # cuminc $est at 20, 40, 60 months: ALL 1 .3713851 .3875571 .3875571; AML 1 .2414530 .2663827
    # .2810390; ALL 2 .3698630 .3860350 .3860350; AML 2 .4439103 .4551473 .4551473
    ref = {("control", 1): [0.3713851, 0.3875571, 0.3875571], ("treated", 1): [0.2414530, 0.2663827, 0.2810390],
           ("control", 2): [0.3698630, 0.3860350, 0.3860350], ("treated", 2): [0.4439103, 0.4551473, 0.4551473]}
    for i, h in enumerate([20, 40, 60]):
        res = ef.estimate("aalen_johansen", data=bmt, time="ftime", event="Status", treatment="AML", horizon=h, cause=1)
        got = {(r["arm"], r["cause"]): r["cif"] for r in res.extra["cif_at_horizon"]}
        for key, values in ref.items():
            assert round(got[key], 7) == values[i], (key, h)
    assert res.extra["gray"][0]["statistic"] == pytest.approx(2.8623325, abs=5e-8)


def test_fine_gray_matches_crr(bmt):
    # crr summary: coef Sex 0.0494, D -0.4860, Phase 0.4144, Age -0.0174, Source 0.9526;
    # se 0.2867, 0.3040, 0.1194, 0.0118, 0.5469; Phase exp(coef) 1.514, 95% 1.198-1.91, p 0.00052
    res = ef.estimate("fine_gray", data=bmt, time="ftime", event="Status", treatment="AML", cause=1,
                      covariates=["Sex", "Phase", "Age", "Source"])
    coefs = {c["term"]: c for c in res.extra["coefficients"]}
    ref = {"AML": (-0.4860, 0.3040), "Sex": (0.0494, 0.2867), "Phase": (0.4144, 0.1194), "Age": (-0.0174, 0.0118),
           "Source": (0.9526, 0.5469)}
    for term, (coef, se) in ref.items():
        assert round(coefs[term]["coef"], 4) == coef, term
        # crr adds a term for estimating the censoring curve; the robust sandwich omits it
        assert coefs[term]["std_error"] == pytest.approx(se, abs=2e-4), term
    ph = coefs["Phase"]
    assert (round(ph["hazard_ratio"], 3), round(ph["conf_low"], 3), round(ph["conf_high"], 2)) == (1.514, 1.198, 1.91)
    assert round(ph["p_value"], 5) == 0.00052
    assert round(res.estimate, 3) == 0.615


def test_one_minus_km_overstates_relapse(bmt):
    # treating the competing deaths as censoring inflates the relapse incidence
    km = ef.estimate("kaplan_meier", data=bmt.assign(rel=(bmt.Status == 1).astype(int)), time="ftime",
                     event="rel", treatment="AML", horizon=20, cause=1)
    aj = ef.estimate("aalen_johansen", data=bmt, time="ftime", event="Status", treatment="AML", horizon=20, cause=1)
    assert 1 - km.extra["survival_control"] > aj.extra["cif_control"]
    assert np.isclose(aj.extra["cif_control"], 0.3713851, atol=5e-8)
