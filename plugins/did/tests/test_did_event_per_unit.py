"""event_study against pyfixest; per_unit_effects against hand means, statsmodels' multipletests and
combine_effects; plots."""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import effekt as ef  # noqa: E402
from effekt_did.callaway_santanna import simulate_staggered  # noqa: E402
from effekt_did.per_unit import PerUnitEffects  # noqa: E402

ES = {"outcome": "y", "unit": "unit", "period": "period", "first_treated": "first_treated"}


@pytest.fixture(scope="module")
def one_start() -> pd.DataFrame:
    rng = np.random.default_rng(12)
    df = simulate_staggered(rng, n_units=80, n_times=7, cohorts=(4,), effect=1.0, dynamic=0.5)
    return df


def es(df, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ef.estimate("event_study", data=df, **{**ES, **kw})


@pytest.mark.parametrize("covariates", [None, ["z"]])
def test_event_study_matches_pyfixest(one_start, covariates):
    pf = pytest.importorskip("pyfixest")
    # never-treated units carry the reference event time, so all their indicators are 0
    df = one_start.assign(rel=np.where(one_start.first_treated > 0, one_start.period - one_start.first_treated, -1),
                          z=np.random.default_rng(3).normal(size=len(one_start)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rhs = "i(rel, ref=-1)" + (" + z" if covariates else "")
        m = pf.feols(f"y ~ {rhs} | unit + period", data=df, vcov={"CRV1": "unit"})
    tab = es(df, se_type="CR1", covariates=covariates)
    coefs, ses = m.coef(), m.se()
    coefs, ses = coefs[[n for n in coefs.index if n != "z"]], ses[[n for n in ses.index if n != "z"]]
    for name in coefs.index:
        e = int(float(name.split("::")[1].rstrip("]")))
        assert tab[f"e={e}"].estimate == pytest.approx(coefs[name], rel=1e-9)
        assert tab[f"e={e}"].std_error == pytest.approx(ses[name], rel=1e-9)
    # joint pre-trend Wald F with pyfixest's covariance
    pre = [n for n in coefs.index if float(n.split("::")[1].rstrip("]")) < -1]
    b = coefs[pre].to_numpy()
    allnames = list(m.coef().index)
    V = m._vcov[np.ix_([allnames.index(n) for n in pre], [allnames.index(n) for n in pre])]
    F = b @ np.linalg.solve(V, b) / len(pre)
    assert tab.extra["pretrend_test"]["statistic"] == pytest.approx(F, rel=1e-8)
    assert tab.extra["pretrend_test"]["df1"] == len(pre)


def test_event_study_reference_row_and_plot(one_start):
    tab = es(one_start)
    ref = tab["e=-1"]
    assert ref.estimate == 0.0 and ref.extra["reference"]
    fig = tab.plot()
    ax = fig.axes[0]
    assert any("reference period" in t.get_text() for t in ax.get_legend().get_texts())
    assert tab["e=0"].se_type == "CR2"


def test_event_study_binning(one_start):
    tab = es(one_start, leads=2, lags=1)
    assert tab.terms == ["e=-2", "e=-1", "e=0", "e=1", "post"]
    assert tab["e=1"].extra["binned"] and tab["e=-2"].extra["binned"]


def test_event_study_single_period_equals_2x2(one_start):
    # with leads=1, lags=0 on periods 3 and 4 only, the one coefficient is the 2x2 DiD of means
    two = one_start[one_start.period.isin([3, 4])]
    tab = es(two)
    g = two.assign(tr=(two.first_treated > 0).astype(int), post=(two.period == 4).astype(int))
    ref = ef.estimate("did_2x2", data=g, outcome="y", treatment="tr", post="post", unit="unit")
    assert tab["e=0"].estimate == pytest.approx(ref.estimate, rel=1e-10)


def test_event_study_bad_reference(one_start):
    with pytest.raises(ef.DesignError, match="reference"):
        es(one_start, leads=2, lags=1, reference=-5)


def test_event_study_indicator_instead_of_first_period(one_start):
    with pytest.raises(ef.DataError, match="first treated period"):
        es(one_start.assign(first_treated=(one_start.first_treated > 0).astype(int)))


def test_event_study_needs_never_treated(one_start):
    with pytest.raises(ef.EstimationError, match="never-treated"):
        es(one_start[one_start.first_treated > 0])


# -- per-unit effects --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def centres() -> pd.DataFrame:
    df = PerUnitEffects.simulate(np.random.default_rng(21), n=1200, effect=0.8).data
    # heterogeneous effects across treated units, so that tau^2 > 0
    extra = np.random.default_rng(22).normal(scale=0.8, size=df.unit.max() + 1)
    return df.assign(y=df.y + extra[df.unit] * df.treated * df.post)


def pu(df, **kw):
    return ef.estimate("per_unit_effects", data=df, outcome="y", unit="unit", treatment="treated", post="post",
                       **kw)


def test_per_unit_effects_are_own_change_minus_pooled_comparison(centres):
    tab = pu(centres)
    m = centres.groupby(["treated", "unit", "post"]).y.mean()
    comp = centres[centres.treated == 0].groupby("post").y.mean()
    for r in tab.rows[:-1]:
        u = int(r.term)
        ref = (m[(1, u, 1)] - m[(1, u, 0)]) - (comp[1] - comp[0])
        assert r.estimate == pytest.approx(ref, rel=1e-10)
        # HC2 of cell means = sum of s^2/n over the four cells
        cells = [centres[(centres.unit == u) & (centres.post == p)].y for p in (0, 1)]
        cells += [centres[(centres.treated == 0) & (centres.post == p)].y for p in (0, 1)]
        var = sum(c.var(ddof=1) / len(c) for c in cells)
        assert r.std_error == pytest.approx(np.sqrt(var), rel=1e-10)


def test_per_unit_multiplicity_matches_statsmodels(centres):
    mt = pytest.importorskip("statsmodels.stats.multitest")
    tab = pu(centres)
    p = np.array([r.p_value for r in tab.rows[:-1]])
    np.testing.assert_allclose([r.extra["p_holm"] for r in tab.rows[:-1]], mt.multipletests(p, method="holm")[1],
                               rtol=1e-12)
    np.testing.assert_allclose([r.extra["p_bh"] for r in tab.rows[:-1]], mt.multipletests(p, method="fdr_bh")[1],
                               rtol=1e-12)


def test_per_unit_heterogeneity_matches_statsmodels(centres):
    ma = pytest.importorskip("statsmodels.stats.meta_analysis")
    tab = pu(centres)
    eff = np.array([r.estimate for r in tab.rows[:-1]])
    # each unit's own variance: its two cells
    own = np.array([sum(centres[(centres.unit == int(r.term)) & (centres.post == p)].y.var(ddof=1)
                        / ((centres.unit == int(r.term)) & (centres.post == p)).sum() for p in (0, 1))
                    for r in tab.rows[:-1]])
    ref = ma.combine_effects(eff, own, method_re="dl")
    het = tab.extra["heterogeneity"]
    assert het["tau2"] == pytest.approx(ref.tau2, rel=1e-9, abs=1e-12)
    assert het["tau2"] > 0
    # statsmodels reports (Q - df) / Q untruncated; Higgins & Thompson (2002) truncate at 0
    assert het["I2"] == pytest.approx(max(0.0, ref.i2), rel=1e-9, abs=1e-12)
    assert het["Q"] == pytest.approx(ref.q, rel=1e-9)
    assert tab["pooled"].estimate == pytest.approx(ref.mean_effect_re, rel=1e-9)
    shrunk = np.array([r.extra["shrunken"] for r in tab.rows[:-1]])
    assert np.all(np.abs(shrunk - ref.mean_effect_re) <= np.abs(eff - ref.mean_effect_re) + 1e-12)


def test_forest_plot_marks_highlighted(centres):
    tab = pu(centres)
    fig = tab.plot(highlight=[tab.rows[0].term])
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels[0].endswith(" *") and "pooled" in labels


def test_per_unit_needs_two_treated(centres):
    df = centres[(centres.treated == 0) | (centres.unit == 0)]
    with pytest.raises(ef.EstimationError, match="at least 2"):
        pu(df)


def test_per_unit_missing_window(centres):
    df = centres[~((centres.unit == 1) & (centres.post == 1))]
    with pytest.raises(ef.DataError, match="no rows after"):
        pu(df)
