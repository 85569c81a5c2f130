"""Block-randomised (stratified) tables: Mantel-Haenszel estimates and the CMH test.

References: Agresti (2013), Categorical Data Analysis, 3rd ed., p. 226-231 (eight centres,
drug vs control): MH risk difference 0.130 with Sato SE 0.050, CMH statistic 6.38; the
95% interval (0.0313, 0.2284) and the SAS PROC FREQ common relative risk example
(2.1636, 1.2336 to 3.7948) as printed in the R package cardx's test snapshots.
Oracle: statsmodels StratifiedTable (pooled OR, RGB SE, CMH test, pooled RR).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.contingency_tables import StratifiedTable

import effekt as ef
from effekt.errors import DataError, DesignError, EstimationError

# (treated events, treated non-events, control events, control non-events) per block
AGRESTI = [(11, 25, 10, 27), (16, 4, 22, 10), (14, 5, 7, 12), (2, 14, 1, 16),
           (6, 11, 0, 12), (1, 10, 0, 10), (1, 4, 1, 8), (4, 2, 6, 1)]
SAS = [(16, 11, 5, 20), (12, 16, 7, 19)]


def blocked(tables) -> pd.DataFrame:
    parts = []
    for k, (a, b, c, d) in enumerate(tables):
        counts = np.array([[d, b], [c, a]])  # rows: outcome 0/1; columns: arm 0/1
        parts.append(ef.from_counts(counts).assign(block=f"b{k}"))
    return pd.concat(parts, ignore_index=True)


def fit(name, data, **kw):
    return ef.estimate(name, data=data, outcome="y", treatment="z", blocks="block", **kw)


def test_agresti_mh_risk_difference():
    res = fit("risk_difference", blocked(AGRESTI))
    assert round(res.estimate, 3) == 0.130 and round(res.std_error, 3) == 0.050
    assert tuple(round(v, 4) for v in res.conf_int) == (0.0313, 0.2284)
    assert res.design == "blocked" and res.se_type == "Sato (Mantel-Haenszel)"


def test_agresti_cmh_matches_statsmodels():
    data = blocked(AGRESTI)
    st_ = StratifiedTable([np.array([[a, b], [c, d]]) for a, b, c, d in AGRESTI])
    for correction in ("none", "yates"):
        res = fit("chi2", data, correction=correction)
        ref = st_.test_null_odds(correction=correction == "yates")
        assert res.extra["statistic"] == pytest.approx(ref.statistic, rel=1e-12)
        assert res.p_value == pytest.approx(ref.pvalue, rel=1e-10)
    assert round(fit("chi2", data).extra["statistic"], 2) == 6.38  # Agresti (2013) p. 227


@pytest.mark.parametrize("tables", [AGRESTI, SAS, [(3, 30, 9, 25), (0, 12, 4, 10), (5, 5, 5, 5)]])
def test_mh_ratios_match_statsmodels(tables):
    data = blocked(tables)
    st_ = StratifiedTable([np.array([[a, b], [c, d]]) for a, b, c, d in tables])
    orr = fit("odds_ratio", data)
    assert orr.estimate == pytest.approx(st_.oddsratio_pooled, rel=1e-12)
    assert orr.std_error == pytest.approx(st_.logodds_pooled_se, rel=1e-12)
    assert orr.conf_int == pytest.approx(st_.oddsratio_pooled_confint(), rel=1e-10)
    assert fit("risk_ratio", data).estimate == pytest.approx(st_.riskratio_pooled, rel=1e-12)


def test_sas_common_relative_risk():
    res = fit("risk_ratio", blocked(SAS))
    assert round(res.estimate, 4) == 2.1636
    assert tuple(round(v, 4) for v in res.conf_int) == (1.2336, 3.7948)


def test_one_block_equals_unstratified_point_estimates():
    data = blocked([(3, 106, 14, 95)])
    plain = ef.estimate("risk_difference", data=data, outcome="y", treatment="z")
    mh = fit("risk_difference", data)
    assert mh.estimate == pytest.approx(plain.estimate, rel=1e-12)
    for name in ("risk_ratio", "odds_ratio"):
        a = ef.estimate(name, data=data, outcome="y", treatment="z")
        b = fit(name, data)
        assert b.estimate == pytest.approx(a.estimate, rel=1e-12)
    # one block: the CMH statistic is Pearson's times (N - 1) / N
    chi = ef.estimate("chi2", data=data, outcome="y", treatment="z").extra["statistic"]
    assert fit("chi2", data).extra["statistic"] == pytest.approx(chi * 217 / 218, rel=1e-12)


@settings(max_examples=25, deadline=None, database=None)
@given(cells=st.lists(st.tuples(*[st.integers(1, 15)] * 4), min_size=2, max_size=6), seed=st.integers(0, 2**31 - 1))
def test_sato_variance_and_properties(cells, seed):
    data = blocked(cells)
    res = fit("risk_difference", data)
    # Sato (1989), written out per block, against the vectorised form
    a, b, c, d = (np.array(v, dtype=float) for v in zip(*cells))
    n1, n0 = a + b, c + d
    n = n1 + n0
    w = n1 * n0 / n
    est = np.sum(w * (a / n1 - c / n0)) / w.sum()
    p = (n1**2 * c - n0**2 * a + n1 * n0 * (n0 - n1) / 2) / n**2
    q = (a * (n0 - c) + c * (n1 - a)) / (2 * n)
    assert res.estimate == pytest.approx(est, rel=1e-12, abs=1e-15)
    assert res.std_error**2 == pytest.approx((est * p.sum() + q.sum()) / w.sum() ** 2, rel=1e-10, abs=1e-15)
    # swapping arms negates; row order and block labels change nothing
    flipped = fit("risk_difference", data.assign(z=1 - data["z"]))
    assert flipped.estimate == pytest.approx(-res.estimate, abs=1e-12)
    assert flipped.std_error == pytest.approx(res.std_error, rel=1e-10)
    shuffled = data.iloc[np.random.default_rng(seed).permutation(len(data))].assign(block=lambda f: "x" + f["block"])
    assert fit("risk_difference", shuffled).estimate == pytest.approx(res.estimate, rel=1e-12, abs=1e-15)


def test_block_with_one_arm():
    data = blocked(AGRESTI)
    data.loc[data["block"] == "b3", "z"] = 1
    with pytest.raises(DataError, match="block 'b3' of column 'block' has 33 treated and 0 control units"):
        fit("risk_difference", data)


def test_missing_block():
    data = blocked(AGRESTI).astype({"block": object})
    data.loc[[2, 9], "block"] = None
    with pytest.raises(DataError, match="blocks column 'block' has 2 missing values"):
        fit("chi2", data)
    res = fit("chi2", data, missing="drop")
    assert res.n == len(data) - 2 and any("2 rows" in w for w in res.warnings)


def test_newcombe_not_with_blocks():
    with pytest.raises(DesignError, match="ci_method='newcombe' is for a single 2 x 2 table"):
        fit("risk_difference", blocked(AGRESTI), ci_method="newcombe")


def test_exact_or_not_with_blocks():
    with pytest.raises(DesignError, match="ci_method='exact' is for a single 2 x 2 table"):
        fit("odds_ratio", blocked(AGRESTI), ci_method="exact")


def test_cmh_needs_binary_outcome():
    data = blocked(AGRESTI)
    data.loc[:5, "y"] = 2
    with pytest.raises(DesignError, match="Cochran-Mantel-Haenszel, which needs a binary outcome"):
        fit("chi2", data)


def test_blocks_with_many_arms():
    data = ef.from_counts([[5, 6, 7], [3, 2, 9]]).assign(block=lambda f: f.index % 2)
    with pytest.raises(DesignError, match="stratified test\\) needs two arms"):
        fit("chi2", data, arms=[0, 1, 2])


def test_mh_ratio_without_events():
    data = blocked([(0, 10, 3, 7), (0, 8, 2, 8)])
    with pytest.raises(EstimationError, match="treated arm has no event in any block"):
        fit("risk_ratio", data)
    with pytest.raises(EstimationError, match="Mantel-Haenszel odds ratio is 0 or infinite"):
        fit("odds_ratio", data)


def test_cramers_v_not_with_blocks():
    with pytest.raises(DesignError, match="measure='cramers_v' has no stratified version"):
        fit("chi2", blocked(AGRESTI), measure="cramers_v")
