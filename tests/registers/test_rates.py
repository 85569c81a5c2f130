"""Small-area intervals against scipy and statsmodels; funnel plot; empirical Bayes."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from effekt.errors import DataError, DesignError
from effekt.registers import proportion_ci, small_area_rates

CASES = [(0, 5), (1, 10), (4, 10), (5, 5), (13, 46), (300, 700)]


def test_solrod_reference_values():
    # seed 002 §4.14 and §6 item 6: Solrød 4/10, Wilson [0.168, 0.687], Clopper-Pearson [0.122, 0.738]
    assert [round(x, 3) for x in proportion_ci(4, 10)] == [0.168, 0.687]
    assert [round(x, 3) for x in proportion_ci(4, 10, ci_method="clopper-pearson")] == [0.122, 0.738]


@pytest.mark.parametrize(("k", "n"), CASES)
@pytest.mark.parametrize("method", ["wilson", "clopper-pearson"])
def test_matches_scipy_and_statsmodels(k, n, method):
    ours = proportion_ci(k, n, ci_method=method)
    sp = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson" if method == "wilson" else "exact")
    sm = proportion_confint(k, n, alpha=0.05, method="wilson" if method == "wilson" else "beta")
    assert ours == pytest.approx((sp.low, sp.high), abs=1e-10)
    assert ours == pytest.approx(sm, abs=1e-10)


def test_vectorised():
    k, n = np.array([c[0] for c in CASES]), np.array([c[1] for c in CASES])
    low, high = proportion_ci(k, n, alpha=0.1)
    sm = proportion_confint(k, n, alpha=0.1, method="wilson")
    np.testing.assert_allclose(low, sm[0], atol=1e-10)
    np.testing.assert_allclose(high, sm[1], atol=1e-10)


def municipalities(seed=5, m=88):
    rng = np.random.default_rng(seed)
    n = rng.integers(10, 400, m)
    p = rng.beta(8, 12, m)  # true rates vary between municipalities
    return pd.DataFrame({"kommune": [f"K{j:02d}" for j in range(m)], "k": rng.binomial(n, p), "n": n})


def test_empirical_bayes_shrinks_small_areas_most():
    df = municipalities()
    res = small_area_rates(df, area="kommune", count="k", total="n")
    t = res.tidy()
    p0 = res.extra["pooled_rate"]
    assert p0 == pytest.approx(df.k.sum() / df.n.sum())
    assert res.extra["tau2"] > 0
    shrink = (t["rate"] - t["eb_rate"]).abs() / (t["rate"] - p0).abs()
    # the fraction of the distance to p0 removed falls with size: 1 - w_j, w_j = tau2 / (tau2 + p0(1-p0)/n_j)
    w = res.extra["tau2"] / (res.extra["tau2"] + p0 * (1 - p0) / t["total"])
    np.testing.assert_allclose(shrink, 1 - w, rtol=1e-9)
    assert np.corrcoef(shrink, t["total"])[0, 1] < 0
    assert sorted(t["eb_rank"]) == sorted(t["eb_rate"].rank(ascending=False, method="min").astype(int))


def test_individual_data_give_the_same_table_as_counts():
    df = municipalities(m=6)
    people = df.loc[df.index.repeat(df.n)].assign(y=0)
    people["y"] = people.groupby("kommune").cumcount() < people["k"]
    a = small_area_rates(people, area="kommune", outcome="y").tidy()
    b = small_area_rates(df, area="kommune", count="k", total="n").tidy()
    pd.testing.assert_frame_equal(a, b, check_dtype=False)


def test_funnel_flags_and_plot():
    df = pd.DataFrame({"kommune": ["A", "B", "C", "D"], "k": [50, 100, 10, 300], "n": [500, 500, 500, 1000]})
    res = small_area_rates(df, area="kommune", count="k", total="n")
    t = res.tidy().set_index("area")
    assert t.loc["C", "funnel"].startswith("below") and t.loc["D", "funnel"].startswith("above")
    fig = res.plot(labels={"D": "Dragør"})
    assert type(fig).__name__ == "Figure"
    assert json.loads(res.to_json())["extra"]["ci_method"] == "wilson"
    assert "Rates by kommune" in res.summary()


def test_bad_input():
    with pytest.raises(DataError, match="whole number between 0 and its total"):
        proportion_ci(11, 10)
    with pytest.raises(DesignError, match="ci_method must be one of"):
        proportion_ci(1, 10, ci_method="wald")
    with pytest.raises(DesignError, match="alpha must be"):
        proportion_ci(1, 10, alpha=5)
    df = pd.DataFrame({"kommune": ["A"], "y": [2]})
    with pytest.raises(DataError, match="outcome column 'y' must be 0/1"):
        small_area_rates(df, area="kommune", outcome="y")
    with pytest.raises(DesignError, match="give outcome="):
        small_area_rates(df, area="kommune", outcome="y", count="y", total="y")
    with pytest.raises(DataError, match="area column 'nope'"):
        small_area_rates(df, area="nope", outcome="y")


def test_change_index_of_nordfyns_and_undefined_baselines():
    from effekt.registers import change_index

    # seed 002 §4.5: Nordfyns +200 = three times as many; index(k, 0) is undefined ("(*)")
    df = pd.DataFrame({"kommune": ["Nordfyns", "Z"], "post": [30, 5], "pre": [10, 0]})
    res = change_index(df, area="kommune", post="post", pre="pre")
    t = res.tidy().set_index("area")
    assert t.loc["Nordfyns", "index"] == pytest.approx(200.0) and t.loc["Nordfyns", "ratio"] == pytest.approx(3.0)
    assert not t.loc["Z", "computable"] and np.isnan(t.loc["Z", "index"])
    assert res.extra["not_computable"] == ["Z"]
    assert "unequal length" in res.extra["basis"]


def test_change_index_interval_inverts_the_exact_conditional_test():
    from statsmodels.stats.rates import test_poisson_2indep

    from effekt.registers import change_index

    # seed 002 §2.5: a 24-month historical baseline against 8 months of follow-up
    df = pd.DataFrame({"kommune": ["A"], "post": [30], "pre": [10], "t1": [8.0], "t0": [24.0]})
    t = change_index(df, area="kommune", post="post", pre="pre", post_time="t1", pre_time="t0").tidy().iloc[0]
    assert t["ratio"] == pytest.approx(9.0)
    low, high = 1 + t["index_low"] / 100, 1 + t["index_high"] / 100
    p_low = test_poisson_2indep(30, 8, 10, 24, value=low, method="exact-cond", compare="ratio", alternative="larger")
    p_high = test_poisson_2indep(30, 8, 10, 24, value=high, method="exact-cond", compare="ratio", alternative="smaller")
    assert p_low.pvalue == pytest.approx(0.025, rel=1e-4)
    assert p_high.pvalue == pytest.approx(0.025, rel=1e-4)
