"""Report arithmetic checks on the seeds' published tables."""

import numpy as np
import pandas as pd
import pytest

from effekt.errors import DataError, DesignError
from effekt.registers.checks import (
    check_percentages,
    check_pooled,
    check_sums,
    counts_from_percent,
    round_half_up,
)


def test_round_half_up_against_bankers_rounding():
    # seed 000/003 §4.5 (Figure 3-10): 22.5 -> 23 and 42.5 -> 43 in the report; round() gives 22 and 42
    assert round_half_up([22.5, 42.5, 35.0]).tolist() == [23, 43, 35]
    assert [round(22.5), round(42.5)] == [22, 42]
    assert round_half_up(-2.5) == -3.0
    assert round_half_up(0.125, 2) == 0.13
    assert round_half_up(1.005, 2) == 1.01  # decimal reading, not the binary 1.00499...


def test_table_8_6_flags_50_5():
    # seed 004 §4.8 (Table 8.6): "No, C" is 54/109 = 49.54 %, printed 50.5
    n = pd.DataFrame({"I": [65, 44], "C": [55, 54], "Total": [120, 98]}, index=["Yes", "No"])
    pct = pd.DataFrame({"I": [59.6, 40.4], "C": [50.5, 50.5], "Total": [55.0, 45.0]}, index=["Yes", "No"])
    res = check_percentages(n, pct)
    bad = res.tidy().query("status != 'ok'")
    assert bad[["row", "column", "expected", "status"]].values.tolist() == [["No", "C", 49.5, "error"]]
    assert res.extra["flagged"] == ["No/C: printed 50.5, counts give 49.5 (49.541)"]


def test_table_8_8_flags_9_9_and_12_9():
    # seed 004 §4.10 (Table 8.8): total "Yes" 17/218 = 7.8 % (printed 9.9); C "Yes" 14/109 = 12.84 %
    # (printed 12.9); I "No" 106/109 = 97.25 %, printed 97.3 (listed there as well)
    n = pd.DataFrame({"I": [106, 3], "C": [95, 14], "Total": [201, 17]}, index=["No", "Yes"])
    pct = pd.DataFrame({"I": [97.3, 2.8], "C": [87.2, 12.9], "Total": [92.2, 9.9]}, index=["No", "Yes"])
    t = check_percentages(n, pct).tidy().set_index(["row", "column"])
    assert t.loc[("Yes", "Total"), "expected"] == 7.8 and t.loc[("Yes", "Total"), "status"] == "error"
    assert t.loc[("Yes", "C"), "expected"] == 12.8 and t.loc[("Yes", "C"), "status"] == "last digit"
    assert t.loc[("No", "I"), "expected"] == 97.2 and t.loc[("No", "I"), "status"] == "last digit"
    assert (t.drop([("Yes", "Total"), ("Yes", "C"), ("No", "I")])["status"] == "ok").all()


def test_bases_and_arrays():
    counts = np.array([[1, 3], [1, 1]])
    row = check_percentages(counts, [[25.0, 75.0], [50.0, 50.0]], digits=0, base="row").tidy()
    assert (row["status"] == "ok").all()
    table = check_percentages(counts, [[16.7, 50.0], [16.7, 16.7]], base="table").tidy()
    assert (table["status"] == "ok").all()
    given = check_percentages(counts, [[10.0, 30.0], [10.0, 10.0]], base=10).tidy()
    assert (given["status"] == "ok").all()


def test_sums_within_rounding():
    # seed 002 §4.4 (Table 2): printed column sums G1 100, G2 101 (rounding the note allows)
    g1 = [1, 4, 5, 1, 36, 1, 0, 2, 18, 24, 5, 3]
    g2 = [2, 6, 6, 0, 39, 1, None, 3, 7, 25, 8, 4]
    t = check_sums(pd.DataFrame({"G1": g1, "G2": g2})).tidy().set_index("name")
    assert t.loc["G1", "sum"] == 100 and t.loc["G2", "sum"] == 101 and t["ok"].all()
    assert not check_sums({"x": [50, 60]}).tidy()["ok"].iloc[0]  # 110 from two cells: beyond +/- 1
    assert check_sums([[50, 50], [30, 70]], axis=1).tidy()["ok"].all()


def test_pooled_column_of_table_2_is_consistent():
    # seed 002 §4.4: "Whole target group" = n-weighted mean of G1-G3 within rounding for all 12 rows
    g1 = [1, 4, 5, 1, 36, 1, 0, 2, 18, 24, 5, 3]
    g2 = [2, 6, 6, 0, 39, 1, None, 3, 7, 25, 8, 4]
    g3 = [2, 4, 6, None, 9, None, None, None, 11, 51, 6, 11]
    whole = [1, 5, 5, 1, 36, 1, 0, 2, 15, 25, 6, 3]
    parts = pd.DataFrame({"G1": g1, "G2": g2, "G3": g3}, dtype=float)
    t = check_pooled(parts, [1357, 457, 47], whole).tidy()
    assert t["ok"].all()
    # seed 002 §4.16: weighted means 36.05 (trade), 15.12 (business services), 24.93 (public)
    assert t["weighted_mean"].iloc[[4, 8, 9]].round(2).tolist() == [36.05, 15.12, 24.93]
    wrong = check_pooled(parts, [1357, 457, 47], [*whole[:4], 40, *whole[5:]]).tidy()
    assert wrong["ok"].tolist() == [i != 4 for i in range(12)]


def test_counts_from_percent():
    # seed 000/003 §4.5: Figure 3-10, 35/23/43 % of N = 40 -> 14/9/17
    assert [counts_from_percent(p, 40) for p in (35, 23, 43)] == [[14], [9], [17]]
    # seed 000/003 §4.1: 34 % and 20 % of 104 -> 35 and 21; 88 % of 104 -> 91 or 92
    assert counts_from_percent(34, 104) == [35] and counts_from_percent(20, 104) == [21]
    assert counts_from_percent(88, 104) == [91, 92]


def test_bad_input():
    with pytest.raises(DataError, match="counts has shape"):
        check_percentages([[1, 2]], [[1.0]])
    with pytest.raises(DesignError, match="rounding must be 'half_up'"):
        check_percentages([[1]], [[100.0]], rounding="up")
    with pytest.raises(DesignError, match="digits must be"):
        round_half_up(1.5, digits=-1)
    with pytest.raises(DesignError, match="base must be"):
        check_percentages([[1]], [[100.0]], base="col")
    with pytest.raises(DataError, match="denominator of 0"):
        check_percentages([[0]], [[0.0]])
    with pytest.raises(DataError, match="weights must give one positive size"):
        check_pooled(pd.DataFrame({"a": [1]}), [1, 2], [1])
