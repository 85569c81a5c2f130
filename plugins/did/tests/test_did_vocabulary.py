"""The DiD estimators speak the shared vocabulary: names, headlines, counts, plots, messages."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import effekt as ef  # noqa: E402
from effekt import vocabulary  # noqa: E402
from effekt_did.callaway_santanna import simulate_staggered  # noqa: E402
from effekt_did.change_index import change_index  # noqa: E402
from effekt_did.per_unit import PerUnitEffects  # noqa: E402
from effekt_did.twfe import simulate_panel  # noqa: E402

ES = {"outcome": "y", "unit": "unit", "period": "period", "first_treated": "first_treated"}
TW = {"outcome": "y", "unit": "unit", "period": "period", "treatment": "treated", "post": "post"}


@pytest.fixture(scope="module")
def staggered():
    return simulate_staggered(np.random.default_rng(0), n_units=300, n_times=6, cohorts=(3, 5), effect=1.0)


@pytest.fixture(scope="module")
def panel():
    return simulate_panel(np.random.default_rng(1), n_units=30, n_times=4, effect=1.0)


# -- vocabulary -----------------------------------------------------------------------
def test_plugin_terms_are_registered():
    terms = vocabulary.terms()
    for name in ("leads", "lags", "reference", "fe_df", "control_group", "est_method", "base_period",
                 "anticipation", "window_before", "window_after", "restricted", "bootstrap_weights"):
        assert terms[name].source == "effekt-did", name
    assert "staggered" in vocabulary.codes("design")
    assert {"att_by_cohort", "att_by_period"} <= set(vocabulary.codes("estimand"))
    assert not [p for p in vocabulary.problems() if "effekt-did" in p]


@pytest.mark.parametrize(
    ("name", "spec", "old"),
    [
        ("twfe", TW, {"time": "period"}),
        ("event_study", ES, {"treatment": "first_treated"}),
        ("callaway_santanna", ES, {"aggregate": "dynamic"}),
        ("wild_cluster_bootstrap", TW, {"model": "twfe"}),
    ],
)
def test_old_names_are_gone(panel, staggered, name, spec, old):
    data = staggered if "first_treated" in spec else panel
    with pytest.raises(ef.DesignError, match=f"takes no option '{next(iter(old))}'"):
        ef.estimate(name, data=data, **spec, **old)


def test_randomization_is_an_alias_and_p_is_never_zero(panel):
    # a huge effect: no permutation is as extreme, so p sits at its floor 1 / (sims + 1)
    df = panel.assign(y=panel.y + 50 * panel.treated * panel.post)
    kw = dict(data=df, **TW, sims=199, seed=1)
    ri = ef.estimate("wild_cluster_bootstrap", inference="randomization", **kw)
    ri2 = ef.estimate("wild_cluster_bootstrap", inference="randomisation", **kw)
    assert ri.ci_method == "randomisation" and ri.p_value == ri2.p_value
    assert ri.p_value == pytest.approx(1 / 200) and ri.extra["sims"] == 199
    wcb = ef.estimate("wild_cluster_bootstrap", **kw)
    assert wcb.p_value >= 1 / 200 and wcb.extra["sims"] == 199
    assert "<= 0.005" in ri.summary()  # printed at its floor 1 / (sims + 1), never as 0


# -- counts --------------------------------------------------------------------------------
def test_twfe_counts_rows_units_and_clusters(panel):
    res = ef.estimate("twfe", data=panel, **TW)
    n_treated_units = panel.loc[panel.treated == 1, "unit"].nunique()
    assert res.n == len(panel) and res.n_treated + res.n_control == res.n
    assert res.n_treated == int((panel.treated == 1).sum())
    assert res.n_units == 30 and res.n_clusters == 30
    assert res.extra["n_treated_units"] == n_treated_units


def test_did_2x2_counts(panel):
    res = ef.estimate("did_2x2", data=panel, outcome="y", treatment="treated", post="post", unit="unit")
    assert res.n_treated == int(panel.treated.sum()) and res.n_treated + res.n_control == res.n
    assert res.n_units == 30 and res.n_clusters == 30


# -- headlines -----------------------------------------------------------------------------
def test_event_study_post_row_is_the_average_of_the_lags(staggered):
    pf = pytest.importorskip("pyfixest")
    one = simulate_staggered(np.random.default_rng(2), n_units=120, n_times=6, cohorts=(4,), effect=1.0)
    tab = ef.estimate("event_study", data=one, se_type="CR1", **ES)
    assert tab.headline_term == "post" and tab.headline.estimand == "att"
    lags = [t for t in tab.terms if t.startswith("e=") and int(t[2:]) >= 0]
    assert tab.estimate == pytest.approx(np.mean([tab[t].estimate for t in lags]), rel=1e-12)
    # reference: pyfixest's CRV1 covariance of the same event-time regression
    df = one.assign(rel=np.where(one.first_treated > 0, one.period - one.first_treated, -99))
    names = []
    for e in sorted(set(df.rel) - {-1, -99}):
        col = f"e_{'m' if e < 0 else ''}{abs(int(e))}"
        df[col] = (df.rel == e).astype(float)
        names.append((int(e), col))
    m = pf.feols(f"y ~ {' + '.join(c for _, c in names)} | unit + period", data=df, vcov={"CRV1": "unit"})
    post = [c for e, c in names if e >= 0]
    a = np.zeros(len(names))
    a[[i for i, (e, _) in enumerate(names) if e >= 0]] = 1 / len(post)
    allnames = list(m.coef().index)
    idx = [allnames.index(c) for _, c in names]
    V = m._vcov[np.ix_(idx, idx)]
    assert tab.std_error == pytest.approx(float(np.sqrt(a @ V @ a)), rel=1e-8)


def test_event_study_headline_has_power():
    # a true effect of 1 on a staggered panel of 200 units: the headline covers 1 and rejects 0
    covers = rejects = 0
    sims = 50
    for seed in range(sims):
        df = simulate_staggered(np.random.default_rng(seed), n_units=200, n_times=6, cohorts=(3, 4, 5), effect=1.0)
        tab = ef.estimate("event_study", data=df, **ES)
        lo, hi = tab.conf_int
        covers += lo <= 1.0 <= hi
        rejects += tab.p_value < 0.05
    assert rejects / sims > 0.9
    assert covers / sims >= 0.86  # 95% nominal; 50 draws: 3 SDs below is about 0.86


def test_callaway_santanna_headline_is_the_overall_att(staggered):
    simple = ef.estimate("callaway_santanna", data=staggered, **ES)
    for agg in ("group", "dynamic", "calendar", "none"):
        tab = ef.estimate("callaway_santanna", data=staggered, aggregation=agg, **ES)
        assert tab.headline_term == "overall" and tab.headline.estimand == "att"
        if agg == "none":
            assert tab.estimate == pytest.approx(simple.estimate, rel=1e-10)
    none = ef.estimate("callaway_santanna", data=staggered, aggregation="none", **ES)
    assert {r.estimand for r in none.rows[1:]} == {"att_gt"}
    assert simple.n == len(staggered) and simple.n_units == 300
    assert simple.n_treated + simple.n_control == simple.n


def test_change_index_table_has_an_overall_headline():
    df = pd.DataFrame({"unit": ["A", "A", "B", "B"], "post": [0, 1, 0, 1], "n": [10, 30, 5, 5]})
    tab = ef.estimate("change_index", data=df, outcome="n", post="post", unit="unit")
    assert tab.headline_term == "overall" and tab.terms == ["overall", "A", "B"]
    assert tab.estimate == pytest.approx(change_index(35, 15).estimate)
    assert tab.n == 4 and tab["A"].n == 2


def test_per_unit_headline_is_pooled():
    syn = PerUnitEffects.simulate(np.random.default_rng(0), n=400, effect=1.0)
    tab = ef.estimate("per_unit_effects", data=syn.data, **syn.spec)
    assert tab.headline_term == "pooled" and tab.n == len(syn.data)
    assert tab.n_treated + tab.n_control == tab.n


# -- se_type ---------------------------------------------------------------------------------
def test_callaway_santanna_se_types(staggered):
    base = ef.estimate("callaway_santanna", data=staggered, **ES)
    assert base.se_type == "influence_function"
    # clusters that are the units: the clustered sum of influence functions is the unit-level one
    same = ef.estimate("callaway_santanna", data=staggered, clusters="unit", **ES)
    assert same.se_type == "clustered" and same.std_error == pytest.approx(base.std_error, rel=1e-12)
    coarse = staggered.assign(region=staggered.unit % 15)
    cl = ef.estimate("callaway_santanna", data=coarse, clusters="region", **ES)
    assert cl.estimate == pytest.approx(base.estimate) and cl.std_error != pytest.approx(base.std_error)
    iff = ef.estimate("callaway_santanna", data=coarse, clusters="region", se_type="influence_function", **ES)
    assert iff.std_error == pytest.approx(base.std_error, rel=1e-12)
    with pytest.raises(ef.DesignError, match="clusters="):
        ef.estimate("callaway_santanna", data=staggered, se_type="clustered", **ES)
    with pytest.raises(ef.DesignError, match="se_type"):
        ef.estimate("callaway_santanna", data=staggered, se_type="influence_function", sims=199, **ES)
    with pytest.raises(ef.DesignError, match="se_type"):
        ef.estimate("callaway_santanna", data=staggered, se_type="HC2", **ES)


def test_per_unit_se_type():
    syn = PerUnitEffects.simulate(np.random.default_rng(0), n=400, effect=1.0)
    hc2 = ef.estimate("per_unit_effects", data=syn.data, **syn.spec)
    hc0 = ef.estimate("per_unit_effects", data=syn.data, se_type="HC0", **syn.spec)
    assert hc2.se_type == "HC2" and hc0.se_type == "HC0"
    assert hc0.rows[0].estimate == pytest.approx(hc2.rows[0].estimate)
    assert hc0.rows[0].std_error < hc2.rows[0].std_error
    with pytest.raises(ef.DesignError, match="needs clusters"):
        ef.estimate("per_unit_effects", data=syn.data, se_type="CR2", **syn.spec)


# -- plots ---------------------------------------------------------------------------------------
def test_plots_are_result_methods(staggered):
    from effekt.plotting import figure_and_axes

    es = ef.estimate("event_study", data=staggered, **ES)
    fig = es.plot(labels={"effect": "hours per week"})
    assert isinstance(fig, Figure) and fig.axes[0].get_ylabel() == "hours per week"
    own, ax = figure_and_axes()
    assert es.plot(ax=ax) is own
    dyn = ef.estimate("callaway_santanna", data=staggered, aggregation="dynamic", **ES)
    fig = dyn.plot()
    assert isinstance(fig, Figure) and "event time" in fig.axes[0].get_title()
    syn = PerUnitEffects.simulate(np.random.default_rng(0), n=400, effect=1.0)
    pu = ef.estimate("per_unit_effects", data=syn.data, **syn.spec)
    fig = pu.plot(labels={0: "Job centre North"})
    assert "Job centre North" in [t.get_text() for t in fig.axes[0].get_yticklabels()]


# -- messages ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["twfe", "did_2x2", "wild_cluster_bootstrap", "per_unit_effects"])
def test_missing_unit_is_named_as_unit(panel, name):
    df = panel.astype({"unit": float})
    df.loc[df.index[[2, 5]], "unit"] = np.nan
    spec = dict(TW)
    if name in ("did_2x2", "per_unit_effects"):
        spec.pop("period")
    with pytest.raises(ef.DataError, match="unit column 'unit' has 2 missing values") as err:
        ef.estimate(name, data=df, **spec)
    assert "blocks" not in str(err.value) and "clusters column" not in str(err.value)


def test_units_appear_by_their_labels(panel):
    names = {u: f"centre-{u:02d}" for u in panel.unit.unique()}
    df = panel.assign(unit=panel.unit.map(names))
    df.loc[(df.unit == "centre-03") & (df.period == 4), "treated"] = 1 - df.loc[
        (df.unit == "centre-03") & (df.period == 4), "treated"]
    with pytest.raises(ef.DataError, match="centre-03"):
        ef.estimate("twfe", data=df, **TW)
