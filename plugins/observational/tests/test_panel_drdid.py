"""Doubly robust DiD against DRDID's published output, an OLS oracle and the DiD plugin's 2x2."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import effekt as ef
from effekt.errors import DataError
from effekt_observational.drdid import DRDiD, att_2x2

DATA = Path(__file__).parent / "data"
COVS = ["age", "educ", "black", "married", "nodegree", "hisp", "re74"]


@pytest.fixture(scope="module")
def nsw() -> pd.DataFrame:
    # DRDID's nsw_long, CPS comparison group, the manual's 5,000-unit subsample (make_drdid_fixtures.R)
    d = pd.read_csv(DATA / "nsw_long_cps5000.csv")
    return d.assign(post=(d.year == 1978).astype(int))


@pytest.fixture(scope="module")
def sim_rc() -> pd.DataFrame:
    return pd.read_csv(DATA / "drdid_sim_rc.csv")


# DRDID's manual (pkgdown site built 2024-06-19 from DRDID < 1.2.3, github.com/pedrohcgs/DRDID
# docs/reference/{drdid,ordid,ipwdid,ipw_did_panel}.html, "Examples"): ATT and Std. Error as printed.
# Those SEs are sd(psi) / sqrt(n), effekt's se_convention="n-1".
PANEL = {
    "imp": (-615.2344, 683.2211),      # drdid(..., panel = TRUE)
    "trad": (-507.6113, 692.9738),     # drdid(..., estMethod = "trad")
    "reg": (-1312.6766, 597.2834),     # ordid(...)
    "ipw": (-724.1929, 692.1639),      # ipw_did_panel(...) (same units as nsw, wide format)
    "std_ipw": (-655.9068, 687.8493),  # ipwdid(...) (normalised, DRDID's default)
}
# same pages, the repeated cross-section examples on sim_rc (drdid_imp_rc, drdid_rc, reg_did_rc,
# ipw_did_rc, std_ipw_did_rc .html)
RC = {
    "imp": (-0.2089, 0.2003),
    "trad": (-0.1678, 0.2009),
    "reg": (-8.791, 7.7785),
    "ipw": (-19.8933, 53.8682),
    "std_ipw": (-15.8033, 9.0879),
}


@pytest.mark.parametrize("method", list(PANEL))
def test_panel_reproduces_drdid_manual(nsw, method):
    att, se = PANEL[method]
    res = ef.estimate("drdid", data=nsw, outcome="re", treatment="experimental", post="post", unit="id",
                      covariates=COVS, method=method, se_convention="n-1")
    assert res.estimate == pytest.approx(att, abs=1e-4)
    assert res.std_error == pytest.approx(se, abs=1.5e-4)
    assert res.n_units == 5000 and res.design == "panel"


@pytest.mark.parametrize("method", list(RC))
def test_rc_reproduces_drdid_manual(sim_rc, method):
    att, se = RC[method]
    res = ef.estimate("drdid", data=sim_rc, outcome="y", treatment="d", post="post",
                      covariates=["x1", "x2", "x3", "x4"], method=method, se_convention="n-1")
    assert res.estimate == pytest.approx(att, abs=1e-4)
    if method == "trad":
        # DRDID's drdid_rc adds the pre-period estimation effect of the comparison group's regression
        # with the opposite sign (asymptotically negligible); effekt's is the exact delta method:
        # 0.2027 against 0.2009, and flipping that sign reproduces DRDID's 0.2009
        assert res.std_error == pytest.approx(se, rel=0.015)
    else:
        assert res.std_error == pytest.approx(se, abs=1.5e-4)
    assert res.design == "repeated_cross_section"


def test_se_conventions_differ_by_sqrt_n_over_n_minus_1(nsw):
    kw = dict(data=nsw, outcome="re", treatment="experimental", post="post", unit="id", covariates=COVS)
    new = ef.estimate("drdid", **kw)
    old = ef.estimate("drdid", se_convention="n-1", **kw)
    n = 5000
    assert new.extra["se_convention"] == "n"
    assert new.std_error == pytest.approx(old.std_error * math.sqrt((n - 1) / n), rel=1e-12)
    assert new.extra["std_error_other_convention"] == pytest.approx(old.std_error, rel=1e-12)
    assert new.estimate == old.estimate


def test_reg_matches_statsmodels_ols(nsw):
    """Outcome regression DiD by hand: OLS of dY on X among the comparison units (statsmodels)."""
    sm = pytest.importorskip("statsmodels.api")
    pre = nsw[nsw.post == 0].set_index("id").sort_index()
    aft = nsw[nsw.post == 1].set_index("id").sort_index()
    dy = aft.re - pre.re
    X = sm.add_constant(pre[COVS])
    c = pre.experimental == 0
    fit = sm.OLS(dy[c], X[c]).fit()
    t = pre.experimental == 1
    hand = float(np.mean(dy[t] - fit.predict(X[t])))
    res = ef.estimate("drdid", data=nsw, outcome="re", treatment="experimental", post="post", unit="id",
                      covariates=COVS, method="reg")
    assert res.estimate == pytest.approx(hand, rel=1e-10)


@pytest.mark.parametrize("method", ["imp", "trad", "reg", "ipw", "std_ipw"])
def test_without_covariates_equals_did_2x2(method):
    pytest.importorskip("effekt_did")
    syn = DRDiD.simulate(np.random.default_rng(5), n=200)
    spec = {k: v for k, v in syn.spec.items() if k != "covariates"}
    dr = ef.estimate("drdid", data=syn.data, method=method, **spec)
    did = ef.estimate("did_2x2", data=syn.data, **spec)
    assert dr.estimate == pytest.approx(did.estimate, rel=1e-10)


def test_shift_by_group_after_moves_effect(nsw):
    syn = DRDiD.simulate(np.random.default_rng(8), n=200)
    base = ef.estimate("drdid", data=syn.data, **syn.spec)
    moved = syn.data.assign(y=syn.data.y + 2.5 * syn.data.treated * syn.data.post)
    res = ef.estimate("drdid", data=moved, **syn.spec)
    assert res.estimate == pytest.approx(base.estimate + 2.5, rel=1e-9)
    assert res.std_error == pytest.approx(base.std_error, rel=1e-7)


def test_clusters_of_one_unit_each_change_nothing_and_clusters_pool():
    syn = DRDiD.simulate(np.random.default_rng(9), n=200)
    base = ef.estimate("drdid", data=syn.data, **syn.spec)
    one = ef.estimate("drdid", data=syn.data, clusters="unit", **syn.spec)
    assert one.std_error == pytest.approx(base.std_error, rel=1e-12)
    data = syn.data.assign(site=syn.data.unit // 10)
    res = ef.estimate("drdid", data=data, clusters="site", **syn.spec)
    # by hand: cluster sums of the influence function (att_2x2 gives the same function)
    pre, aft = data[data.post == 0], data[data.post == 1]
    out = att_2x2(aft.y.to_numpy(), pre.treated.to_numpy(), y0=pre.y.to_numpy(), x=pre[["x"]].to_numpy())
    sums = np.bincount(pre.site.to_numpy(), weights=out.influence - out.influence.mean())
    assert res.std_error == pytest.approx(math.sqrt(sums @ sums) / len(pre), rel=1e-10)
    assert res.n_clusters == 20 and "clustered by site" in res.se_type
    assert out.att == pytest.approx(res.estimate, rel=1e-12)


def test_att_2x2_repeated_cross_sections_matches_estimator(sim_rc):
    x = sim_rc[["x1", "x2", "x3", "x4"]].to_numpy()
    out = att_2x2(sim_rc.y, sim_rc.d, post=sim_rc.post, x=x, method="imp")
    assert out.att == pytest.approx(RC["imp"][0], abs=1e-4)
    assert math.sqrt(np.sum((out.influence - out.influence.mean()) ** 2)) / len(x) == pytest.approx(
        RC["imp"][1] * math.sqrt(999 / 1000), abs=1.5e-4)


def test_trimming_is_reported():
    rng = np.random.default_rng(4)
    syn = DRDiD.simulate(rng, n=300)
    data = syn.data.copy()
    # a comparison unit that looks like the treated: x far out on the treated side
    data.loc[data.unit == 2, "x"] = 12.0
    data.loc[data.unit.isin([0, 1]), "x"] = 11.0
    res = ef.estimate("drdid", data=data, method="std_ipw", trim_level=0.6, **syn.spec)
    assert res.extra["n_trimmed"] >= 1 and any("trimmed" in w for w in res.warnings)


# -- bad input ----------------------------------------------------------------------
def _spec(syn):
    return dict(syn.spec)


def test_perfectly_predicted_propensity_is_refused():
    syn = DRDiD.simulate(np.random.default_rng(1), n=200)
    data = syn.data.assign(sep=syn.data.treated * 2.0 - 1.0 + 0.01 * syn.data.x)
    with pytest.raises(DataError, match="predict the treatment perfectly"):
        ef.estimate("drdid", data=data, **{**_spec(syn), "covariates": ["x", "sep"]})


def test_collinear_covariates_are_refused():
    syn = DRDiD.simulate(np.random.default_rng(1), n=200)
    data = syn.data.assign(x2=2 * syn.data.x)
    with pytest.raises(DataError, match="singular"):
        ef.estimate("drdid", data=data, **{**_spec(syn), "covariates": ["x", "x2"], "method": "reg"})


def test_unit_without_post_row_is_refused():
    syn = DRDiD.simulate(np.random.default_rng(1), n=200)
    data = syn.data[~((syn.data.unit == 7) & (syn.data.post == 1))]
    with pytest.raises(DataError, match="unit 7 with 1 before and 0 after"):
        ef.estimate("drdid", data=data, **syn.spec)


def test_treatment_changing_within_unit_is_refused():
    syn = DRDiD.simulate(np.random.default_rng(1), n=200)
    data = syn.data.copy()
    data.loc[(data.unit == 5) & (data.post == 1), "treated"] = 1 - data.loc[(data.unit == 5) & (data.post == 0),
                                                                             "treated"].to_numpy()
    with pytest.raises(DataError, match="constant within each unit"):
        ef.estimate("drdid", data=data, **syn.spec)


def test_empty_cell_is_refused(sim_rc):
    data = sim_rc[~((sim_rc.d == 1) & (sim_rc.post == 0))].assign(d=lambda f: f.d)
    with pytest.raises(DataError, match="treated before"):
        ef.estimate("drdid", data=data.assign(d=np.where(np.arange(len(data)) == 0, 0, data.d)), outcome="y",
                    treatment="d", post="post")


def test_post_not_binary_is_refused(sim_rc):
    with pytest.raises(DataError, match="post column"):
        ef.estimate("drdid", data=sim_rc.assign(post=sim_rc.post * 2), outcome="y", treatment="d", post="post")


def test_bad_method_names_the_option(sim_rc):
    with pytest.raises(ef.errors.DesignError, match="method"):
        ef.estimate("drdid", data=sim_rc, outcome="y", treatment="d", post="post", method="dr")


def test_every_comparison_unit_trimmed_is_refused():
    syn = DRDiD.simulate(np.random.default_rng(2), n=200)
    with pytest.raises(DataError, match="all are trimmed"):
        ef.estimate("drdid", data=syn.data, method="std_ipw", trim_level=0.01, **syn.spec)
