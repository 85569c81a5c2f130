"""Reference values from the seed notes (shared/seeds/notes-001-caseload-did.md and
notes-002-flere-skal-med.md), each cited to its table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import effekt as ef
from effekt_did import change_index, did_2x2_from_means

# notes-001 §4.2 Table 1: caseload before (Jan-Feb 2018) and in P1..P5, 15 job centres in report order
TABLE1 = np.array([
    [29.4, 25.9, 25.4, 27.4, 33.2, 29.8], [52.5, 31.6, 31.7, 31.8, 31.7, 30.4],
    [46.9, 35.5, 32.9, 32.6, 33.1, 36.5], [34.1, 27.8, 24.6, 23.2, 21.8, 23.4],
    [39.6, 33.1, 32.3, 31.8, 31.8, 32.0], [19.8, 24.1, 29.2, 32.0, 32.2, 34.1],
    [45.9, 35.6, 31.0, 33.2, 34.4, 29.6], [33.8, 32.0, 32.1, 32.3, 31.4, 30.4],
    [33.9, 25.5, 25.8, 28.9, 32.2, 35.0], [42.3, 35.2, 33.9, 34.1, 34.2, 34.6],
    [18.4, 17.1, 17.7, 17.5, 18.0, 19.2], [57.2, 30.5, 31.0, 31.6, 32.8, 33.5],
    [41.3, 32.0, 31.1, 30.7, 32.5, 31.3], [32.1, 31.9, 30.1, 29.5, 28.8, 27.4],
    [56.3, 40.0, 33.2, 34.1, 35.1, 31.9],
])
# notes-001 §4.5 Table 4: year-before share (%), and the reported "Effekt" (whole period and last 3 months)
PRE = [19.7, 24.4, 17.3, 16.4, 14.6, 25.9, 26.9, 14.2, 22.4, 11.6, 26.5, 11.7, 22.3, 13.4, 12.9]
EFF = [11.1, -2.1, 6.9, 6.5, 5.7, -9.7, -0.1, 1.5, -2.2, -0.1, -5.5, 5.5, -1.6, 1.1, -0.1]
EFF3 = [11.9, 0.4, 10.0, 10.7, 6.9, -9.5, -1.1, 3.2, -3.0, 3.6, -13.4, 8.8, 0.9, 3.4, 0.0]
COMPARISON = (14.9, 16.8)  # Table 4, "Landets øvrige": 14.9 -> 16.8, change +1.9


def test_2x2_from_means_share_in_internship():
    # notes-001 §3 M1 and Table 4 "I alt": 17.2 -> 20.8 vs 14.9 -> 16.8 gives +1.7 pp, 9.9 % of 17.2
    res = did_2x2_from_means(17.2, 20.8, 14.9, 16.8)
    assert res.estimate == pytest.approx(1.7, abs=1e-12)
    assert res.extra["relative"]["percent"] == pytest.approx(100 * 1.7 / 17.2, rel=1e-12)
    assert round(res.extra["relative"]["percent"], 1) == 9.9
    assert res.extra["cells"]["treated_change"] == pytest.approx(3.6)
    assert res.extra["cells"]["control_change"] == pytest.approx(1.9)


def test_2x2_from_means_weeks_between_measures():
    # notes-001 §4.3 Table 2 "I alt" 43 -> 41 vs "Landets øvrige" 38 -> 40: -4 weeks, 4/43 = 9.3 %
    res = did_2x2_from_means(43, 41, 38, 40)
    assert res.estimate == -4.0
    assert round(abs(res.extra["relative"]["percent"]), 1) == 9.3


def test_2x2_destination_share_internship():
    # notes-001 §4.4 Table 3, "Virksomhedspraktik": (20 - 16) - (16 - 14) = +2 pp
    assert did_2x2_from_means(16, 20, 14, 16).estimate == 2.0


def _dose_panel(effects: list[float]) -> pd.DataFrame:
    """Rebuild a two-period panel from the notes' tables.

    Each treated job centre j starts at its Table 4 year-before share and
    ends at pre_j + Effekt_j + 1.9, so its change minus the pooled comparison
    change (14.9 -> 16.8, +1.9) is exactly the reported Effekt_j. The dose is
    the caseload reduction from Table 1: before minus the unweighted mean of
    P1..P5 (notes-001 §4.2, "MY COMPUTATION" table). The comparison group is
    one pooled unit with dose 0.
    """
    dose = TABLE1[:, 0] - TABLE1[:, 1:].mean(axis=1)
    rows = []
    for j, (pre, eff, d) in enumerate(zip(PRE, effects, dose)):
        rows += [{"unit": f"jc{j:02d}", "post": 0, "y": pre, "dose": d, "treated": 1},
                 {"unit": f"jc{j:02d}", "post": 1, "y": pre + eff + 1.9, "dose": d, "treated": 1}]
    rows += [{"unit": "rest", "post": 0, "y": COMPARISON[0], "dose": 0.0, "treated": 0},
             {"unit": "rest", "post": 1, "y": COMPARISON[1], "dose": 0.0, "treated": 0}]
    return pd.DataFrame(rows)


@pytest.mark.parametrize(("effects", "slope", "r"), [(EFF, 0.189, 0.333), (EFF3, 0.298, 0.388)])
def test_dose_ecological_slope(effects, slope, r):
    # notes-001 Appendix A: "ecological OLS slope (pp per 1-case reduction): whole 0.189 (r 0.333);
    # last3 0.298 (r 0.388)"
    df = _dose_panel(effects)
    res = ef.estimate("dose_did", data=df, outcome="y", unit="unit", post="post", dose="dose", treatment="treated")
    assert round(res.estimate, 3) == slope
    assert round(res.extra["correlation"], 3) == r
    assert res.extra["comparison_change"] == pytest.approx(1.9)
    # the slope is the plain least-squares slope of the effects on the dose
    dose = TABLE1[:, 0] - TABLE1[:, 1:].mean(axis=1)
    assert res.estimate == pytest.approx(np.polyfit(dose, effects, 1)[0], rel=1e-10)


def test_dose_mean_reduction_8_6():
    # notes-001 §4.1: mean caseload 38.9 before and 30.3 during, a reduction of 8.6
    dose = TABLE1[:, 0] - TABLE1[:, 1:].mean(axis=1)
    assert round(dose.mean(), 1) == 8.6


def test_change_index_200_is_ratio_3():
    # notes-002 §4.5 Figure 6: Nordfyns +200 = "three times as many"; index(30, 10) = 200
    res = change_index(30, 10)
    assert res.estimate == pytest.approx(200.0)
    assert res.extra["ratio"] == pytest.approx(3.0)


def test_change_index_zero_baseline_not_computable():
    # notes-002 §4.5: "(*) indicates that the index is not calculated because the historical number is zero"
    res = change_index(7, 0)
    assert res.extra["computable"] is False
    assert "not computable" in res.extra["reason"]
    assert np.isnan(res.estimate) and not np.isinf(res.estimate)
    assert any("not computable" in w for w in res.warnings)
