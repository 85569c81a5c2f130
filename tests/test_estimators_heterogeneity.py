"""heterogeneity: subgroup effects equal per-subgroup Neyman estimates, the
interaction test, numeric moderators against statsmodels, the forest plot."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import statsmodels.api as sm  # noqa: E402
from scipy import stats  # noqa: E402

import effekt as ef  # noqa: E402
from effekt.errors import DataError, DesignError  # noqa: E402
from effekt.estimators.heterogeneity import forest_plot  # noqa: E402


def _trial(seed, n=300):
    rng = np.random.default_rng(seed)
    z = rng.permutation(np.arange(n) % 2)
    age = rng.uniform(20, 60, n)
    band = np.select([age < 30, age < 45], ["20-29", "30-44"], "45+")
    sex = rng.choice(["f", "m"], n)
    y = 1 + z * (0.5 + 0.03 * (age - 40)) + 0.02 * age + rng.normal(size=n)
    return pd.DataFrame({"y": y, "z": z, "age": age, "band": band, "sex": sex,
                         "cl": np.arange(n) // 5, "b": np.arange(n) % 3})


def test_subgroup_effects_are_per_subgroup_neyman_estimates():
    df = _trial(1)
    tab = ef.estimate("heterogeneity", data=df, outcome="y", treatment="z", moderators=["band"])
    for band, g in df.groupby("band"):
        row = tab[f"band={band}"]
        y1, y0 = g.y[g.z == 1], g.y[g.z == 0]
        assert row.estimate == pytest.approx(y1.mean() - y0.mean(), rel=1e-10)
        assert row.std_error == pytest.approx(np.sqrt(y1.var() / y1.size + y0.var() / y0.size), rel=1e-9)
        assert row.n == len(g)
    assert tab.terms[0] == "overall"
    assert tab.extra["pre_specified"] == ["band"]


def test_two_level_interaction_test_is_the_difference_of_subgroup_effects():
    df = _trial(2)
    tab = ef.estimate("heterogeneity", data=df, outcome="y", treatment="z", moderators=["sex"])
    f, m = tab["sex=f"], tab["sex=m"]
    stat = (f.estimate - m.estimate) ** 2 / (f.std_error**2 + m.std_error**2)
    test = tab.extra["interaction_tests"]["sex"]
    assert test["statistic"] == pytest.approx(stat, rel=1e-9)
    assert test["p_value"] == pytest.approx(stats.f.sf(stat, 1, len(df) - 4), rel=1e-9)


def test_numeric_moderator_matches_statsmodels():
    df = _trial(3)
    ac = df.age - df.age.mean()
    X = sm.add_constant(np.column_stack([df.z, ac, df.z * ac]))
    ref = sm.OLS(df.y, X).fit(cov_type="HC2")
    tab = ef.estimate("heterogeneity", data=df, outcome="y", treatment="z", moderators=["age"])
    assert tab["age@mean"].estimate == pytest.approx(ref.params.iloc[1], rel=1e-10)
    assert tab["age:slope"].estimate == pytest.approx(ref.params.iloc[3], rel=1e-10)
    assert tab["age:slope"].std_error == pytest.approx(ref.bse.iloc[3], rel=1e-9)
    assert tab.extra["interaction_tests"]["age"]["p_value"] == pytest.approx(
        stats.f.sf((ref.params.iloc[3] / ref.bse.iloc[3]) ** 2, 1, len(df) - 4), rel=1e-8)
    assert tab.extra["moderator_kinds"] == {"age": "numeric"}


def test_several_moderators_with_blocks_and_clusters():
    df = _trial(4)
    tab = ef.estimate("heterogeneity", data=df, outcome="y", treatment="z", moderators=["sex", "band"],
                      blocks="b", clusters="cl")
    assert tab.terms == ["overall", "sex=f", "sex=m", "band=20-29", "band=30-44", "band=45+"]
    assert all(r.se_type == "CR2" for r in tab)
    assert set(tab.extra["interaction_tests"]) == {"sex", "band"}
    assert tab.extra["interaction_tests"]["band"]["df1"] == 2.0


def test_forest_plot_draws_every_subgroup():
    tab = ef.estimate("heterogeneity", data=_trial(5), outcome="y", treatment="z", moderators=["band", "sex"])
    fig = forest_plot(tab)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert len(labels) == 6 and labels[0] == "overall" and "interaction p =" in labels[1]


def test_needs_moderators():
    with pytest.raises(DesignError, match="needs moderators="):
        ef.estimate("heterogeneity", data=_trial(0), outcome="y", treatment="z")


def test_missing_moderator_column():
    with pytest.raises(DataError, match="'region'.*not in the data"):
        ef.estimate("heterogeneity", data=_trial(0), outcome="y", treatment="z", moderators=["region"])


def test_subgroup_without_both_arms():
    df = _trial(0)
    df.loc[df.band == "45+", "z"] = 1
    with pytest.raises(DataError, match="subgroup band='45\\+' has .* treated and 0 control"):
        ef.estimate("heterogeneity", data=df, outcome="y", treatment="z", moderators=["band"])


def test_moderator_named_twice():
    with pytest.raises(DesignError, match="moderator 'z' is also"):
        ef.estimate("heterogeneity", data=_trial(0), outcome="y", treatment="z", moderators=["z"])


def test_moderator_constant_within_blocks():
    # e.g. the organisation form of a job centre, with job centres as blocks: its main
    # effect is absorbed by the block effects, the subgroup effects remain
    df = _trial(6)
    df["form"] = np.where(df.b == 0, "one person", "two people")
    tab = ef.estimate("heterogeneity", data=df, outcome="y", treatment="z", moderators=["form"], blocks="b")
    ref = ef.estimate("heterogeneity", data=df, outcome="y", treatment="z", moderators=["form"])
    assert tab.terms == ["overall", "form=one person", "form=two people"]
    assert np.isfinite(tab.extra["interaction_tests"]["form"]["p_value"])
    assert tab["form=one person"].estimate == pytest.approx(
        ef.estimate("lm_robust", data=df[df.b == 0], outcome="y", treatment="z").estimate, rel=1e-10)
    assert ref["form=one person"].estimate == pytest.approx(tab["form=one person"].estimate, rel=1e-10)


def test_the_table_plots_itself_and_rows_use_vocabulary_estimands():
    from matplotlib.figure import Figure

    from effekt.vocabulary import codes

    rng = np.random.default_rng(4)
    df = pd.DataFrame({"z": np.tile([0, 1], 100), "sex": np.repeat(["f", "m"], 100), "age": rng.normal(40, 9, 200)})
    df["y"] = df.z + rng.normal(size=200)
    tab = ef.estimate("heterogeneity", data=df, outcome="y", treatment="z", moderators=["sex", "age"])
    fig = tab.plot(labels={"sex=f": "women"})
    assert isinstance(fig, Figure)
    assert any(t.get_text().startswith("women") for t in fig.axes[0].get_yticklabels())
    assert {r.estimand for r in tab} <= set(codes("estimand"))
    assert tab.term("sex=f").estimand == "subgroup_effect" and tab.term("age:slope").estimand == "effect_difference"
