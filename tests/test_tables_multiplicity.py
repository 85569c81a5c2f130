"""Multiplicity adjustment against statsmodels' multipletests, and seed 004's family."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.multitest import multipletests

import effekt as ef
from effekt.errors import DataError, DesignError
from effekt.estimators.multiplicity import adjusted_pvalues
from effekt.result import EffectResult

SM_NAMES = {"bonferroni": "bonferroni", "holm": "holm", "hochberg": "simes-hochberg", "bh": "fdr_bh", "by": "fdr_by"}


@pytest.mark.parametrize("method", list(SM_NAMES))
@settings(max_examples=40, deadline=None, database=None)
@given(p=st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=1, max_size=30))
def test_matches_statsmodels(method, p):
    arr = np.array(p)
    ref = multipletests(arr, alpha=0.05, method=SM_NAMES[method])
    tab = ef.adjust_pvalues(list(arr), method)
    assert np.allclose(tab["p.adjusted"].to_numpy(), ref[1], rtol=0, atol=1e-12)
    assert (tab["reject"].to_numpy() == ref[0]).all() or np.any(np.isclose(ref[1], 0.05, atol=1e-12))
    assert np.array_equal(tab["p.value"].to_numpy(), arr)


@pytest.mark.parametrize("method", list(SM_NAMES))
def test_ties_and_fixed_family(method):
    arr = np.array([0.01, 0.01, 0.04, 0.2, 0.0, 1.0, 0.03, 0.03])
    ref = multipletests(arr, method=SM_NAMES[method])[1]
    assert np.allclose(adjusted_pvalues(arr, method), ref, rtol=0, atol=1e-12)


def test_seed_004_holm_keeps_complaints():
    # notes-004 sec. 3 item 5 and sec. 4: six outcomes (primary + five secondary).
    # Cox p-values as reported (sec. 4.5, 4.7, 4.8); the chi2 tests recomputed from Tables 8.4, 8.7, 8.8.
    def chi2(t):
        return ef.estimate("chi2", data=ef.from_counts(t), outcome="y", treatment="z", arms=("C", "I"))

    support = chi2(pd.DataFrame({"I": [7, 18, 84], "C": [5, 10, 94]}, index=["lm", "pension", "course"]))
    sanctions = chi2(pd.DataFrame({"I": [91, 11, 7], "C": [89, 12, 8]}, index=["0", "1", ">1"]))
    complaints = chi2(pd.DataFrame({"I": [106, 3], "C": [95, 14]}, index=[0, 1]))
    family = {
        "clarification": 0.0988,  # Cox HR 1.74, p = 0.0988 (sec. 4.5)
        "support": support,
        "completion": 0.45,  # Cox HR 1.23, p = 0.45 (sec. 4.7)
        "placement": 0.18,  # Cox HR 1.28, p = 0.18 (sec. 4.8)
        "sanctions": sanctions,
        "complaints": complaints,
    }
    tab = ef.adjust_pvalues(family, "holm")
    assert round(complaints.p_value, 4) == 0.0055
    assert complaints.p_value < 0.05 / 6  # 0.0055 < 0.0083 (sec. 4, item 25)
    assert tab.set_index("label").loc["complaints", "reject"]
    assert tab["reject"].sum() == 1
    assert tab.set_index("label").loc["complaints", "p.adjusted"] == pytest.approx(6 * complaints.p_value, rel=1e-12)
    assert tab["estimate"].isna().sum() == 3  # bare p-values carry no estimate


def test_adjust_results_returns_new_objects():
    rs = [EffectResult.from_z(e, 1.0, estimator="x", estimand="ate", term="z", n=10, outcome=f"y{i}")
          for i, e in enumerate((3.0, 1.0, 2.2))]
    before = [r.to_dict() for r in rs]
    out = ef.adjust_results(rs, "holm")
    assert [r.to_dict() for r in rs] == before  # inputs untouched
    assert all(a is not b for a, b in zip(out, rs))
    ref = multipletests([r.p_value for r in rs], method="holm")[1]
    assert [o.extra["p_adjusted"] for o in out] == pytest.approx(list(ref), abs=1e-12)
    assert [o.p_value for o in out] == [r.p_value for r in rs]
    assert ef.adjust_pvalues(rs)["label"].tolist() == ["y0", "y1", "y2"]


def test_aliases():
    p = [0.01, 0.02, 0.03]
    assert ef.adjust_pvalues(p, "fdr_bh")["p.adjusted"].tolist() == ef.adjust_pvalues(p, "bh")["p.adjusted"].tolist()


def test_bad_method():
    with pytest.raises(DesignError, match="method='sidak' is not an option"):
        ef.adjust_pvalues([0.1, 0.2], "sidak")


def test_bad_pvalue_nan():
    with pytest.raises(DataError, match=r"member '1' of the family has p-value nan"):
        ef.adjust_pvalues([0.1, float("nan")])


def test_bad_pvalue_out_of_range():
    with pytest.raises(DataError, match="must lie in \\[0, 1\\]"):
        ef.adjust_pvalues({"a": 1.2})


def test_bad_member_type():
    with pytest.raises(DataError, match="neither an EffectResult nor a p-value"):
        ef.adjust_pvalues(["abc"])


def test_empty_family():
    with pytest.raises(DataError, match="the family is empty"):
        ef.adjust_pvalues([])


def test_result_without_test_rejected():
    res = ef.estimate("chi2", data=ef.from_counts([[5, 6], [3, 9], [4, 4]]), outcome="y", treatment="z")
    cv = EffectResult(**{**{f: getattr(res, f) for f in res.__dataclass_fields__}, "p_value": float("nan")})
    with pytest.raises(DataError, match="leave it out of the family"):
        ef.adjust_results([cv, res])


def test_bad_alpha():
    with pytest.raises(DesignError, match="alpha must lie strictly between 0 and 1"):
        ef.adjust_pvalues([0.1], alpha=1.5)


def test_effect_table_family():
    from effekt.result import EffectTable

    rows = tuple(EffectResult.from_z(e, 1.0, estimator="es", estimand="att", term=f"t{i}", n=50)
                 for i, e in enumerate((0.5, 2.5, 3.1)))
    table = EffectTable(estimator="es", rows=rows, headline_term=rows[0].term)
    tidy = ef.adjust_pvalues(table, "hochberg")
    assert tidy["label"].tolist() == ["t0", "t1", "t2"]
    ref = multipletests([r.p_value for r in rows], method="simes-hochberg")[1]
    assert np.allclose(tidy["p.adjusted"], ref, rtol=0, atol=1e-12)
    out = ef.adjust_results(table, "hochberg")
    assert isinstance(out, EffectTable) and out is not table
    assert [r.extra["p_adjusted"] for r in out] == pytest.approx(list(ref), abs=1e-12)
    assert all("p_adjusted" not in r.extra for r in table)
    assert out.headline_term == table.headline_term and "p_adjusted" in out.headline.extra


def test_effect_table_member_counts_as_its_headline():
    from effekt.result import EffectTable

    rows = tuple(EffectResult.from_z(e, 1.0, estimator="es", estimand="att", term=f"t{i}", n=50)
                 for i, e in enumerate((0.5, 2.5)))
    table = EffectTable(estimator="es", rows=rows, headline_term="t1")
    tidy = ef.adjust_pvalues({"event study": table, "other": 0.2}, "bonferroni")
    assert tidy["p.value"].iloc[0] == pytest.approx(rows[1].p_value, rel=1e-12)
    assert tidy["estimate"].iloc[0] == 2.5
