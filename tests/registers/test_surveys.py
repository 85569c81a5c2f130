"""Scale scoring, norms, two-wave comparisons and attrition on the seeds' numbers."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from effekt.errors import DataError, DesignError
from effekt.registers import (
    attrition,
    compare_to_norm,
    compare_waves,
    mcnemar_bounds,
    score_gse,
    score_who5,
)

WHO = [f"who{i}" for i in range(1, 6)]
GSE = [f"gse{i}" for i in range(1, 11)]


def test_who5_scoring_and_missing_items():
    df = pd.DataFrame({c: [5, 0, 3, 4] for c in WHO})
    df.loc[3, "who2"] = np.nan
    assert score_who5(df, items=WHO).tolist()[:3] == [100.0, 0.0, 60.0]
    assert np.isnan(score_who5(df, items=WHO).iloc[3])
    assert score_who5(df, items=WHO, max_missing=1).iloc[3] == 80.0  # mean of four 4s, times 5, times 4


def test_gse_scoring_and_missing_items():
    df = pd.DataFrame({c: [4, 1, 2, 3, 2] for c in GSE})
    df.loc[3, GSE[:3]] = np.nan  # three missing: allowed
    df.loc[4, GSE[:4]] = np.nan  # four missing: no score
    s = score_gse(df, items=GSE)
    assert s.tolist()[:4] == [40.0, 10.0, 20.0, 30.0] and np.isnan(s.iloc[4])


def test_bad_items():
    df = pd.DataFrame({c: [6] for c in WHO})
    with pytest.raises(DataError, match="WHO-5 item 'who1' has values outside the whole numbers 0-5"):
        score_who5(df, items=WHO)
    with pytest.raises(DesignError, match="WHO-5 has five items"):
        score_who5(df, items=WHO[:4])
    with pytest.raises(DesignError, match="max_missing must be"):
        score_gse(pd.DataFrame({c: [2] for c in GSE}), items=GSE, max_missing=10)


def test_norm_gaps_of_the_cti_evaluation():
    # seed 000/003 §4.7: WHO-5 baseline 56.4 (n = 198) vs Danish norm 68.1, gap 11.7
    rng = np.random.default_rng(0)
    who = rng.normal(0, 20, 198)
    who = who - who.mean() + 56.4
    res = compare_to_norm(who, norm=68.1)
    assert res.extra["gap"] == pytest.approx(11.7)
    ref = stats.ttest_1samp(who, 68.1)
    assert res.tidy()["p_value"].iloc[0] == pytest.approx(ref.pvalue, rel=1e-10)
    # seed 000/003 §4.8: GSE 26.8 vs 32.9 (Scholz et al. 2002), gap 6.1
    gse = rng.normal(0, 5, 198)
    gse = gse - gse.mean() + 26.8
    assert compare_to_norm(gse, norm=32.9, norm_sd=5.0).extra["gap"] == pytest.approx(6.1)


def test_two_wave_fisher_tests_of_flere_skal_med():
    # seed 002 §4.7: 6/80 vs 32/50 p = 5.7e-12; 50/80 vs 23/50 p = 0.072; 57/79 vs 32/50 p = 0.34
    t = pd.DataFrame({"item": ["contact", "network", "knowledge"], "k1": [6, 50, 57], "n1": [80, 80, 79],
                      "k2": [32, 23, 32], "n2": [50, 50, 50]})
    res = compare_waves(t).tidy().set_index("item")
    assert res.loc["contact", "fisher_p"] == pytest.approx(5.7e-12, rel=0.01)
    assert res.loc["network", "fisher_p"] == pytest.approx(0.072, abs=0.0005)
    assert res.loc["knowledge", "fisher_p"] == pytest.approx(0.34, abs=0.005)
    assert res.loc["network", "diff_pp"] == pytest.approx(-16.5)  # §4.7: 62.5 -> 46.0
    for _, row in res.iterrows():
        ref = stats.fisher_exact([[row.k1, row.n1 - row.k1], [row.k2, row.n2 - row.k2]])
        assert row.fisher_p == pytest.approx(ref.pvalue, rel=1e-9)


def test_mcnemar_bounds_from_marginals():
    # seed 000/003 §4.12a: activation 49 -> 92 of 104: p from 2.3e-13 (b=43, c=0) to 1.0e-7 (b=55, c=12);
    # ordinary hours 21 -> 35: p from 1.2e-4 (b=14, c=0) to 0.081 (b=35, c=21)
    ba = mcnemar_bounds(49, 92, 104).tidy()
    assert ba[["b", "c"]].values.tolist() == [[43, 0], [55, 12]]
    assert ba["p_value"].tolist() == pytest.approx([2.3e-13, 1.0e-7], rel=0.05)
    oh = mcnemar_bounds(21, 35, 104).tidy()
    assert oh["p_value"].tolist() == pytest.approx([1.2e-4, 0.081], rel=0.02)


def test_attrition_table_of_the_cti_evaluation():
    # seed 000/003 §4.6 (Table 3-1): 208 citizens, 103/32/37/17/19 with 1..5 measurements,
    # responses per wave 198/105/73/36/19 (198 = 208 - 10 missing baselines)
    k = np.repeat([1, 2, 3, 4, 5], [103, 32, 37, 17, 19])
    answered = np.arange(5)[None, :] < k[:, None]
    answered[103:113, 0] = False
    res = attrition(pd.DataFrame(answered))
    t = res.tidy()
    assert t["responses"].tolist() == [198, 105, 73, 36, 19]
    assert t["at_least"].tolist() == [208, 105, 73, 36, 19]
    assert t["completed_exactly"].tolist() == [103, 32, 37, 17, 19]
    assert t["consistent"].all() and res.extra["missed_baseline"] == 10 and res.extra["non_monotone"] == 0
    answered[0, :] = [True, False, True, False, False]  # skipped wave 2, came back at wave 3
    bad = attrition(answered)
    assert bad.extra["non_monotone"] == 1 and not bad.tidy()["consistent"].all()
    with pytest.raises(DataError, match="persons x waves table of True/False"):
        attrition(np.zeros((3, 2)))
