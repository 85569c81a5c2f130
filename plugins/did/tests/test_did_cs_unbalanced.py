"""Callaway-Sant'Anna on unbalanced panels and repeated cross-sections, and the event-time window.

Reference data: R did's ``mpdta`` (tests/data/mpdta.csv, written by tests/data/make_mpdta.R
from github.com/bcallaway11/did data/mpdta.rda). Reference values:

* R did's README (github.com/bcallaway11/did, README.md, ``att_gt(yname = "lemp", tname =
  "year", idname = "countyreal", gname = "first.treat", data = mpdta)``) prints ATT(g, t) to
  4 decimals. Without covariates the repeated cross-section estimator (DRDID's ``*_did_rc``)
  is the difference of four cell means, which on a balanced panel equals the panel
  estimator's mean of differences, so ``panel=False`` must print the same ATT(g, t).
* tests/data/mpdta_rc_means.csv: the four-cell-mean differences computed by hand in R
  (make_mpdta.R), on the full data and with 10 % of the rows dropped (an unbalanced panel).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import effekt as ef
from effekt_did._cs_kernels import att_gt, att_gt_rc
from effekt_did.callaway_santanna import simulate_staggered

DATA = Path(__file__).parent / "data"
SPEC = {"outcome": "lemp", "period": "year", "first_treated": "first.treat"}

# R did README, "Group-Time Average Treatment Effects" table (ATT(g,t) column), mpdta
R_README_ATT_GT = {
    (2004, 2004): -0.0105, (2004, 2005): -0.0704, (2004, 2006): -0.1373, (2004, 2007): -0.1008,
    (2006, 2004): 0.0065, (2006, 2005): -0.0028, (2006, 2006): -0.0046, (2006, 2007): -0.0412,
    (2007, 2004): 0.0305, (2007, 2005): -0.0027, (2007, 2006): -0.0311, (2007, 2007): -0.0261,
}


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    return pd.read_csv(DATA / "mpdta.csv")


@pytest.fixture(scope="module")
def hand() -> pd.DataFrame:
    return pd.read_csv(DATA / "mpdta_rc_means.csv")


def _dropped(d: pd.DataFrame) -> pd.DataFrame:
    # the rows make_mpdta.R drops
    return d[(d.countyreal * 7 + d.year) % 10 != 0].reset_index(drop=True)


def _gt(tab: ef.EffectTable) -> dict[tuple[float, float], float]:
    return {(r["group"], r["period"]): r["att"] for r in tab.extra["att_gt"]}


def test_repeated_cross_sections_reproduce_r_did_readme(mpdta, hand):
    tab = ef.estimate("callaway_santanna", data=mpdta, panel=False, aggregation="none", **SPEC)
    got = _gt(tab)
    for key, ref in R_README_ATT_GT.items():
        assert round(got[key], 4) == pytest.approx(ref, abs=1e-12)
    full = hand[hand.data == "full"]
    for g, t, att in zip(full.group, full.period, full.att):
        assert got[(g, t)] == pytest.approx(att, abs=1e-12)
    assert tab.n == 2500 and tab.headline.design == "repeated_cross_section"
    assert tab.headline.extra["panel"] is False


def test_unbalanced_panel_keeps_every_unit_and_matches_hand_means(mpdta, hand):
    d = _dropped(mpdta)
    assert len(d) < len(mpdta)
    with pytest.raises(ef.DataError, match="allow_unbalanced_panel=True"):
        ef.estimate("callaway_santanna", data=d, unit="countyreal", **SPEC)
    tab = ef.estimate("callaway_santanna", data=d, unit="countyreal", allow_unbalanced_panel=True,
                      aggregation="none", **SPEC)
    got = _gt(tab)
    ref = hand[hand.data == "dropped"]
    for g, t, att in zip(ref.group, ref.period, ref.att):
        assert got[(g, t)] == pytest.approx(att, abs=1e-12)
    assert tab.n_units == 500  # no unit dropped
    assert tab.n == len(d)
    assert np.all(np.isfinite([r.std_error for r in tab.rows]))


def test_unbalanced_option_on_balanced_panel_is_the_panel_estimator(mpdta):
    # R did (>= 2.1): allow_unbalanced_panel = TRUE on a balanced panel proceeds as a panel
    a = ef.estimate("callaway_santanna", data=mpdta, unit="countyreal", aggregation="dynamic", **SPEC)
    b = ef.estimate("callaway_santanna", data=mpdta, unit="countyreal", allow_unbalanced_panel=True,
                    aggregation="dynamic", **SPEC)
    assert [r.estimate for r in a.rows] == [r.estimate for r in b.rows]
    assert [r.std_error for r in a.rows] == [r.std_error for r in b.rows]
    # R did README, dynamic aggregation of the same data: overall -0.0772, e = 0: -0.0199
    assert round(a.estimate, 4) == -0.0772
    assert round(a["e=0"].estimate, 4) == -0.0199


@pytest.mark.parametrize("control_group", ["nevertreated", "notyettreated"])
@pytest.mark.parametrize("base_period", ["varying", "universal"])
def test_rc_kernel_clustered_by_unit_equals_panel_kernel_on_balanced_panel(control_group, base_period):
    # on a balanced panel the cross-section influence functions summed within units are the
    # panel influence functions: the unit clustering of R did's unbalanced path
    df = simulate_staggered(np.random.default_rng(3), n_units=120, n_times=5, cohorts=(3, 4), effect=1.0)
    n, T = 120, 5
    Y = df.y.to_numpy().reshape(n, T)
    g = df.first_treated.to_numpy().reshape(n, T)[:, 0]
    G = np.where(g > 0, g - 1, -1).astype(np.intp)
    w = np.ones(n)
    cells_p, inf_p = att_gt(Y, G, w, None, control_group=control_group, base_period=base_period,
                            anticipation=0, method="dr")
    cells_r, inf_r, warns = att_gt_rc(df.y.to_numpy(), df.period.to_numpy() - 1, np.repeat(G, T), np.ones(n * T),
                                      df.unit.to_numpy(), n, None, n_periods=T, control_group=control_group,
                                      base_period=base_period, anticipation=0)
    assert not warns
    assert [(c.g, c.t, c.base) for c in cells_p] == [(c.g, c.t, c.base) for c in cells_r]
    np.testing.assert_allclose([c.att for c in cells_r], [c.att for c in cells_p], atol=1e-12)
    np.testing.assert_allclose(inf_r, inf_p, atol=1e-10)


def test_rc_outcome_regression_equals_panel_with_time_invariant_covariate():
    # with a time-invariant covariate on a balanced panel, DRDID's reg_did_rc and reg_did_panel agree
    df = simulate_staggered(np.random.default_rng(4), n_units=300, n_times=4, cohorts=(3,), effect=1.0,
                            x_effect=0.3)
    spec = {"outcome": "y", "period": "period", "first_treated": "first_treated", "covariates": ["x"],
            "est_method": "reg", "aggregation": "none"}
    pan = ef.estimate("callaway_santanna", data=df, unit="unit", **spec)
    rc = ef.estimate("callaway_santanna", data=df, panel=False, **spec)
    np.testing.assert_allclose([r.estimate for r in rc.rows], [r.estimate for r in pan.rows], atol=1e-10)


def test_rc_recovers_the_effect_and_covers():
    rng = np.random.default_rng(5)
    df = simulate_staggered(rng, n_units=2000, n_times=5, cohorts=(3, 4), effect=0.5, dynamic=0.25)
    rc = df.sample(frac=0.5, random_state=1).drop(columns="unit")  # fresh rows: cross-sections
    tab = ef.estimate("callaway_santanna", data=rc, panel=False, aggregation="dynamic", outcome="y",
                      period="period", first_treated="first_treated")
    for r in tab.rows[1:]:
        e = r.extra["event_time"]
        truth = 0.5 + 0.25 * e if e >= 0 else 0.0
        assert abs(r.estimate - truth) < 4 * r.std_error
    assert tab.n_units is None and tab.n == len(rc)


def test_bootstrap_weights_and_clusters_on_unbalanced_panel(mpdta):
    d = _dropped(mpdta).assign(w=lambda x: 1.0 + (x.countyreal % 3), state=lambda x: x.countyreal // 1000)
    tab = ef.estimate("callaway_santanna", data=d, unit="countyreal", allow_unbalanced_panel=True,
                      aggregation="dynamic", weights="w", clusters="state", sims=199, seed=1, **SPEC)
    assert tab.headline.se_type == "multiplier_bootstrap"
    assert tab.n_clusters == d.state.nunique()
    assert "uniform_conf_int" in tab["e=0"].extra


def test_window_min_e_max_e(mpdta):
    full = ef.estimate("callaway_santanna", data=mpdta, unit="countyreal", aggregation="dynamic", **SPEC)
    win = ef.estimate("callaway_santanna", data=mpdta, unit="countyreal", aggregation="dynamic",
                      min_e=-2, max_e=2, **SPEC)
    assert win.terms == ["overall", "e=-2", "e=-1", "e=0", "e=1", "e=2"]
    for t in win.terms[1:]:
        assert win[t].estimate == pytest.approx(full[t].estimate, abs=1e-14)
    assert win.estimate == pytest.approx(np.mean([full[f"e={e}"].estimate for e in (0, 1, 2)]), abs=1e-14)
    assert np.asarray(win.extra["vcov"]).shape == (5, 5)
    np.testing.assert_allclose(np.sqrt(np.diag(win.extra["vcov"])), [win[t].std_error for t in win.terms[1:]])


def test_balance_e(mpdta):
    # R did's aggte(balance_e = 1): cohorts observed >= 1 period after treatment (2004, 2006),
    # event times in [1 - (2007 - 2003), 1]; with one cohort left at e = 1, e = 1 is 2004's ATT(2004, 2005)
    tab = ef.estimate("callaway_santanna", data=mpdta, unit="countyreal", aggregation="dynamic", balance_e=1,
                      **SPEC)
    assert tab.terms == ["overall", "e=-2", "e=-1", "e=0", "e=1"]
    att = _gt(tab)
    assert tab["e=-2"].estimate == pytest.approx(att[(2006.0, 2004.0)], abs=1e-14)
    assert tab.estimate == pytest.approx(np.mean([tab["e=0"].estimate, tab["e=1"].estimate]))


def test_max_e_bounds_simple_aggregation(mpdta):
    a = ef.estimate("callaway_santanna", data=mpdta, unit="countyreal", max_e=0, **SPEC)
    g = ef.estimate("callaway_santanna", data=mpdta, unit="countyreal", aggregation="group", max_e=0, **SPEC)
    # only the on-impact cells: ATT(g, g)
    assert g["g=2004.0"].estimate == pytest.approx(-0.0105032462209644, abs=1e-12)
    assert a.estimate < 0


def test_plot_of_unbalanced_dynamic(mpdta):
    tab = ef.estimate("callaway_santanna", data=_dropped(mpdta), unit="countyreal", allow_unbalanced_panel=True,
                      aggregation="dynamic", **SPEC)
    fig = tab.plot()
    assert fig.axes[0].get_xlabel().startswith("periods since")


# -- bad input ---------------------------------------------------------------------------------
def test_panel_false_with_unit_repeating_within_a_period(mpdta):
    d = pd.concat([mpdta, mpdta.iloc[:3]])
    with pytest.raises(ef.DataError, match="repeats within a period"):
        ef.estimate("callaway_santanna", data=d, unit="countyreal", panel=False, **SPEC)


def test_duplicate_rows_in_unbalanced_panel(mpdta):
    d = pd.concat([_dropped(mpdta), mpdta.iloc[1:2]])  # (8001, 2004) is kept by _dropped
    with pytest.raises(ef.DataError, match="several rows"):
        ef.estimate("callaway_santanna", data=d, unit="countyreal", allow_unbalanced_panel=True, **SPEC)


def test_min_e_above_max_e(mpdta):
    with pytest.raises(ef.DesignError, match="min_e=2 is larger than max_e=-1"):
        ef.estimate("callaway_santanna", data=mpdta, unit="countyreal", aggregation="dynamic", min_e=2, max_e=-1,
                    **SPEC)


def test_window_options_outside_dynamic(mpdta):
    with pytest.raises(ef.DesignError, match="aggregation='dynamic'"):
        ef.estimate("callaway_santanna", data=mpdta, unit="countyreal", min_e=-1, **SPEC)
    with pytest.raises(ef.DesignError, match="calendar"):
        ef.estimate("callaway_santanna", data=mpdta, unit="countyreal", aggregation="calendar", max_e=1, **SPEC)


def test_empty_window(mpdta):
    with pytest.raises(ef.DesignError, match="no event time"):
        ef.estimate("callaway_santanna", data=mpdta, unit="countyreal", aggregation="dynamic", min_e=10, **SPEC)
    with pytest.raises(ef.DesignError, match="no event time\\s+e >= 0"):
        ef.estimate("callaway_santanna", data=mpdta, unit="countyreal", aggregation="dynamic", max_e=-1, **SPEC)


def test_unit_required_for_panel(mpdta):
    with pytest.raises(ef.DesignError, match="needs unit="):
        ef.estimate("callaway_santanna", data=mpdta, **SPEC)



def test_unbalanced_event_time_path_covered_at_nominal_rate():
    # effects that grow with time since treatment, 10 % of rows missing at random: the dynamic
    # aggregation's 95% intervals cover the true path 1 + 0.5 e (0 before) about 95% of the time
    reps, hits, total = 40, 0, 0
    for r in range(reps):
        rng = np.random.default_rng(100 + r)
        df = simulate_staggered(rng, n_units=300, n_times=6, cohorts=(3, 4, 5), effect=1.0, dynamic=0.5)
        df = df[rng.random(len(df)) >= 0.1]
        tab = ef.estimate("callaway_santanna", data=df, outcome="y", unit="unit", period="period",
                          first_treated="first_treated", allow_unbalanced_panel=True, aggregation="dynamic")
        for row in tab.rows[1:]:
            e = row.extra["event_time"]
            truth = 1.0 + 0.5 * e if e >= 0 else 0.0
            hits += row.conf_int[0] <= truth <= row.conf_int[1]
            total += 1
    assert 0.90 <= hits / total <= 0.99


@pytest.mark.parametrize("est_method", ["reg", "ipw", "dr"])
@pytest.mark.parametrize("kind", ["rc", "unbalanced"])
def test_covariates_match_drdid(mpdta, kind, est_method):
    # tests/data/mpdta_drdid_reg_rc.csv: DRDID's reg_did_rc, std_ipw_did_rc and drdid_rc (their own source,
    # make_drdid_rc.R) assembled as R did's compute.att_gt, covariate lpop
    ref = pd.read_csv(DATA / "mpdta_drdid_reg_rc.csv")
    ref = ref[(ref.data == kind) & (ref.est_method == est_method)]
    assert len(ref) == 12
    if kind == "rc":
        tab = ef.estimate("callaway_santanna", data=mpdta, panel=False, covariates=["lpop"], est_method=est_method,
                          aggregation="none", **SPEC)
    else:
        tab = ef.estimate("callaway_santanna", data=_dropped(mpdta), unit="countyreal", allow_unbalanced_panel=True,
                          covariates=["lpop"], est_method=est_method, aggregation="none", **SPEC)
    got = {(r["group"], r["period"]): (r["att"], r["std.error"]) for r in tab.extra["att_gt"]}
    for g, t, att, se in zip(ref.group, ref.period, ref.att, ref.se):
        assert got[(g, t)][0] == pytest.approx(att, abs=1e-9)
        assert got[(g, t)][1] == pytest.approx(se, rel=1e-6)


@given(seed=st.integers(0, 10_000), frac=st.floats(0.5, 0.95))
@settings(max_examples=15, deadline=None)
def test_rc_att_is_the_four_cell_mean_difference(seed, frac):
    # property: without covariates every cross-section ATT(g, t) is (weighted) cell means differenced
    rng = np.random.default_rng(seed)
    df = simulate_staggered(rng, n_units=80, n_times=4, cohorts=(3,), effect=1.0)
    df = df[rng.random(len(df)) < frac].assign(w=lambda x: rng.uniform(0.5, 2.0, len(x)))
    tab = ef.estimate("callaway_santanna", data=df.drop(columns="unit"), panel=False, weights="w",
                      aggregation="none", outcome="y", period="period", first_treated="first_treated")

    def mean(g, t):
        s = df[(df.first_treated == g) & (df.period == t)]
        return np.average(s.y, weights=s.w)

    for r in tab.extra["att_gt"]:
        g, t, b = r["group"], r["period"], r["base"]
        assert r["att"] == pytest.approx((mean(g, t) - mean(g, b)) - (mean(0, t) - mean(0, b)), abs=1e-10)
