"""Enrolment projections of the CTI evaluation (seed 000/003 §4.2, Figure 3-1)."""

import pandas as pd
import pytest

from effekt.errors import DataError
from effekt.registers import project_enrolment


def figure_3_1():
    # seed 000/003 §4.2: actual jobmatches and cumulative milestones at Q1 2019, final targets
    return pd.DataFrame({
        "kommune": ["Brøndby", "Halsnæs", "Jammerbugt", "Mariagerfjord", "Tønder"],
        "actual": [21, 21, 31, 52, 35],
        "milestone": [80, 77, 55, 75, 90],
        "target": [120, 100, 75, 125, 110],
    })


def test_projections_per_municipality_and_total():
    res = project_enrolment(figure_3_1(), site="kommune", enrolled="actual", milestone="milestone",
                            target="target", capacity=50)  # five CTI workers x 10 citizens (§4.2 footnote)
    t = res.tidy().set_index("site")
    # seed 000/003 §4.2 / issue reference: (32, 61, 71), (27, 44, 71), (42, 51, 81), (87, 102, 102), (43, 55, 85)
    got = [tuple(int(v) for v in t.loc[k, ["ratio", "target_based", "capacity_based"]]) for k in figure_3_1().kommune]
    assert got == [(32, 61, 71), (27, 44, 71), (42, 51, 81), (87, 102, 102), (43, 55, 85)]
    # totals 230 (sum then round: 230.49) / 313 / 410; the rounded sites sum to 231
    assert [int(t.loc["total", c]) for c in ("ratio", "target_based", "capacity_based")] == [230, 313, 410]
    assert t.loc["total", "ratio_exact"] == pytest.approx(230.49, abs=0.005)
    assert res.extra["sum_of_rounded"]["ratio"] == 231
    assert t.loc["total", "realised_pct"] == pytest.approx(100 * 160 / 377)  # 42.4 % (§4.1)
    assert "rounded sites sum to 231" in res.summary()


def test_capacity_column_and_bad_input():
    df = figure_3_1().assign(cap=[50, 40, 30, 20, 10])
    t = project_enrolment(df, site="kommune", enrolled="actual", milestone="milestone", target="target",
                          capacity="cap").tidy()
    assert t["capacity_based"].tolist()[:5] == [71, 61, 61, 72, 45]
    assert "capacity_based" not in project_enrolment(df, site="kommune", enrolled="actual", milestone="milestone",
                                                     target="target").tidy()
    with pytest.raises(DataError, match="milestone column 'milestone' is 0 for \\['Brøndby'\\]"):
        project_enrolment(df.assign(milestone=[0, 1, 1, 1, 1]), site="kommune", enrolled="actual",
                          milestone="milestone", target="target")
    with pytest.raises(DataError, match="column 'nope'"):
        project_enrolment(df, site="kommune", enrolled="nope", milestone="milestone", target="target")
