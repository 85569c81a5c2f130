"""callaway_santanna against csdid (a port of R did/DRDID) and diff-diff on shared synthetic data."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import effekt as ef
from effekt_did.callaway_santanna import simulate_staggered

SPEC = {"outcome": "y", "unit": "unit", "period": "period", "first_treated": "first_treated"}


@pytest.fixture(scope="module")
def staggered() -> pd.DataFrame:
    return simulate_staggered(np.random.default_rng(0), n_units=600, n_times=6, cohorts=(3, 4, 5),
                              effect=1.0, dynamic=0.3, x_effect=0.1)


def cs(df, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ef.estimate("callaway_santanna", data=df, **{**SPEC, **kw})


def _ours(tab):
    return {(r["group"], r["period"]): (r["att"], r["std.error"]) for r in tab.extra["att_gt"]}


@pytest.mark.parametrize("control_group", ["nevertreated", "notyettreated"])
@pytest.mark.parametrize("method", ["dr", "ipw", "reg"])
def test_att_gt_matches_csdid_with_covariates(staggered, method, control_group):
    att_mod = pytest.importorskip("csdid.att_gt")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = att_mod.ATTgt(yname="y", gname="first_treated", idname="unit", tname="period", xformla="y~x",
                          data=staggered, control_group=control_group, est_method=method)
        m.fit(est_method=method, bstrap=False)
    ref_att = np.asarray(m.results["att"], float)
    ref_se = np.asarray(m.results["se"], float)
    ref_keys = list(zip(np.asarray(m.results["group"], float), np.asarray(m.results["year"], float)))
    res = cs(staggered, covariates=["x"], est_method=method, control_group=control_group, aggregation="none")
    ours = _ours(res)
    got = np.array([ours[k][0] for k in ref_keys])
    got_se = np.array([ours[k][1] for k in ref_keys])
    np.testing.assert_allclose(got, ref_att, rtol=0, atol=1e-8)
    np.testing.assert_allclose(got_se, ref_se, rtol=1e-7)


@pytest.mark.parametrize("control_group", ["never_treated", "not_yet_treated"])
def test_att_gt_and_aggregations_match_diff_diff(staggered, control_group):
    dd = pytest.importorskip("diff_diff")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = dd.CallawaySantAnna(estimation_method="reg", control_group=control_group).fit(
            staggered, outcome="y", unit="unit", time="period", first_treat="first_treated", aggregate="all")
    cg = control_group.replace("_", "")
    ours = _ours(cs(staggered, control_group=cg, aggregation="none"))
    for (g, t), v in fit.group_time_effects.items():
        assert ours[(float(g), float(t))][0] == pytest.approx(v["effect"], abs=1e-8)
        assert ours[(float(g), float(t))][1] == pytest.approx(v["se"], rel=1e-7)
    simple = cs(staggered, control_group=cg)
    assert simple.estimate == pytest.approx(fit.overall_att, abs=1e-8)
    assert simple.std_error == pytest.approx(fit.overall_se, rel=1e-7)
    dyn = cs(staggered, control_group=cg, aggregation="dynamic")
    for e, v in fit.event_study_effects.items():
        assert dyn[f"e={int(e)}"].estimate == pytest.approx(v["effect"], abs=1e-8)
        assert dyn[f"e={int(e)}"].std_error == pytest.approx(v["se"], rel=1e-7)
    grp = cs(staggered, control_group=cg, aggregation="group")
    for g, v in fit.group_effects.items():
        assert grp[f"g={float(g)}"].estimate == pytest.approx(v["effect"], abs=1e-8)
        assert grp[f"g={float(g)}"].std_error == pytest.approx(v["se"], rel=1e-7)


def test_unit_weights_match_csdid(staggered):
    att_mod = pytest.importorskip("csdid.att_gt")
    w = np.random.default_rng(1).uniform(0.5, 2.0, staggered.unit.max() + 1)
    df = staggered.assign(w=w[staggered.unit])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = att_mod.ATTgt(yname="y", gname="first_treated", idname="unit", tname="period", xformla="y~x", data=df,
                          control_group="nevertreated", est_method="dr", weights_name="w")
        m.fit(est_method="dr", bstrap=False)
    ours = _ours(cs(df, covariates=["x"], weights="w", aggregation="none"))
    keys = zip(np.asarray(m.results["group"], float), np.asarray(m.results["year"], float))
    for k, a, s in zip(keys, m.results["att"], m.results["se"]):
        assert ours[k][0] == pytest.approx(a, abs=1e-8)
        assert ours[k][1] == pytest.approx(s, rel=1e-7)


@pytest.mark.parametrize(("kw", "dd_kw"), [
    ({"base_period": "universal"}, {"base_period": "universal"}),
    ({"anticipation": 1}, {"anticipation": 1}),
    ({"anticipation": 1, "control_group": "notyettreated"}, {"anticipation": 1, "control_group": "not_yet_treated"}),
])
def test_base_period_and_anticipation_match_diff_diff(staggered, kw, dd_kw):
    dd = pytest.importorskip("diff_diff")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = dd.CallawaySantAnna(estimation_method="reg", **dd_kw).fit(
            staggered, outcome="y", unit="unit", time="period", first_treat="first_treated")
    ours = _ours(cs(staggered, aggregation="none", **kw))
    assert len(ours) == len(fit.group_time_effects)
    for (g, t), v in fit.group_time_effects.items():
        assert ours[(float(g), float(t))][0] == pytest.approx(v["effect"], abs=1e-8)


def test_weights_vary_within_unit(staggered):
    df = staggered.assign(w=1.0)
    df.loc[df.index[0], "w"] = 2.0
    with pytest.raises(ef.DataError, match="constant within each unit"):
        cs(df, weights="w")


@pytest.mark.parametrize("agg", ["simple", "group", "dynamic", "calendar"])
def test_aggregations_match_csdid_with_two_year_periods(agg):
    # periods 2002, 2004, ...: event times in years, as R did's aggte
    att_mod = pytest.importorskip("csdid.att_gt")
    df = simulate_staggered(np.random.default_rng(0), n_units=600, n_times=6, cohorts=(3, 5), effect=1.0,
                            dynamic=0.3)
    df = df.assign(period=df.period * 2 + 2000, first_treated=np.where(df.first_treated > 0, df.first_treated * 2 + 2000, 0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = att_mod.ATTgt(yname="y", gname="first_treated", idname="unit", tname="period", data=df,
                          control_group="nevertreated", est_method="reg")
        m.fit(est_method="reg", bstrap=False)
        m.aggte(typec=agg, bstrap=False)
    ref = m.atte
    res = cs(df, aggregation=agg)
    overall = res if agg == "simple" else res[0]
    assert overall.estimate == pytest.approx(ref["overall_att"], abs=1e-8)
    assert overall.std_error == pytest.approx(ref["overall_se"], rel=1e-7)
    if agg != "simple":
        prefix = {"group": "g", "dynamic": "e", "calendar": "t"}[agg]
        for e, a, se in zip(ref["egt"], ref["att_egt"], ref["se_egt"]):
            row = res[f"{prefix}={float(e):g}"] if agg == "dynamic" else res[f"{prefix}={float(e)}"]
            assert row.estimate == pytest.approx(a, abs=1e-8)
            assert row.std_error == pytest.approx(se, rel=1e-7)


def test_without_covariates_methods_coincide(staggered):
    a = cs(staggered, est_method="dr").estimate
    assert cs(staggered, est_method="ipw").estimate == pytest.approx(a, rel=1e-12)
    assert cs(staggered, est_method="reg").estimate == pytest.approx(a, rel=1e-12)


def test_att_gt_is_difference_of_mean_changes(staggered):
    # oracle by hand: ATT(3, 4) = mean change 2->4 of cohort 3 minus that of the never treated
    wide = staggered.pivot(index="unit", columns="period", values="y")
    g = staggered.groupby("unit").first_treated.first()
    d = wide[4] - wide[2]
    ref = d[g == 3].mean() - d[g == 0].mean()
    ours = _ours(cs(staggered, aggregation="none"))
    assert ours[(3.0, 4.0)][0] == pytest.approx(ref, rel=1e-12)


def test_calendar_and_group_overall(staggered):
    cal = cs(staggered, aggregation="calendar")
    assert cal.terms[0] == "overall"
    assert cal[0].estimate == pytest.approx(np.mean([r.estimate for r in cal.rows[1:]]), rel=1e-12)


def test_multiplier_bootstrap_uniform_band(staggered):
    tab = cs(staggered, aggregation="dynamic", sims=999, seed=5)
    crit = tab.extra["uniform_crit"]
    assert 1.96 < crit < 4.0  # a uniform band is wider than the pointwise one
    analytic = cs(staggered, aggregation="dynamic")
    for b, a in zip(tab.rows, analytic.rows):
        assert b.std_error == pytest.approx(a.std_error, rel=0.15)  # IQR-based SE vs analytic
        lo, hi = b.extra["uniform_conf_int"]
        assert lo < b.conf_int[0] and hi > b.conf_int[1]
    again = cs(staggered, aggregation="dynamic", sims=999, seed=5)
    assert again.extra["uniform_crit"] == crit


def test_coverage_simple_att():
    rng = np.random.default_rng(77)
    cover = 0
    for _ in range(100):
        df = simulate_staggered(rng, n_units=200, n_times=5, cohorts=(3, 4), effect=1.0)
        r = cs(df)
        cover += r.conf_int[0] <= 1.0 <= r.conf_int[1]
    assert cover >= 89  # P(X <= 88 | n=100, p=.95) < 1e-3


def test_row_order_and_shift(staggered):
    a = cs(staggered)
    b = cs(staggered.sample(frac=1.0, random_state=1).assign(y=lambda d: d.y + 3.0))
    assert b.estimate == pytest.approx(a.estimate, rel=1e-10)
    assert b.std_error == pytest.approx(a.std_error, rel=1e-10)


def test_first_period_cohort_dropped_with_warning(staggered):
    df = staggered.copy()
    df.loc[df.unit == 0, "first_treated"] = 1
    res = cs(df)
    assert any("first period" in w for w in res.warnings)


# -- bad input ---------------------------------------------------------------------------------
def test_unbalanced_panel(staggered):
    with pytest.raises(ef.DataError, match="balanced panel"):
        cs(staggered.iloc[1:])


def test_first_treated_not_a_period(staggered):
    df = staggered.astype({"first_treated": float})
    df.loc[df.unit == 0, "first_treated"] = 2.5
    with pytest.raises(ef.DataError, match="not periods of the data"):
        cs(df)


def test_no_never_treated(staggered):
    df = staggered[staggered.first_treated > 0]
    with pytest.raises(ef.DesignError, match="notyettreated"):
        cs(df)


def test_cohort_varies_within_unit(staggered):
    df = staggered.copy()
    df.loc[df.index[0], "first_treated"] = 5 if df.loc[df.index[0], "first_treated"] != 5 else 3
    with pytest.raises(ef.DataError, match="constant within each unit"):
        cs(df)


def test_indicator_instead_of_first_period(staggered):
    df = staggered.assign(first_treated=(staggered.first_treated > 0).astype(int))
    with pytest.raises(ef.DataError, match="0/1 treatment indicator"):
        cs(df)


def test_bad_option(staggered):
    with pytest.raises(ef.DesignError, match="est_method"):
        cs(staggered, est_method="ols")
