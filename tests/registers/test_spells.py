"""Spell deduplication: the seven toy cases of seed 002 §2.9 and the audit."""

import pandas as pd
import pytest

from effekt.errors import DataError, DesignError
from effekt.registers.spells import SpellPeriod, deduplicate

# seed 002 §2.9 (Bilag 1 of Flere skal med, formalised): periods, reference dates and priorities
A = SpellPeriod("A", "2017-08-01", "2018-01-31", reference="2018-01-31", categories=[1, 2, 3, 6], direction="before")
B = SpellPeriod("B", "2018-02-01", "2018-03-31", reference="2018-02-01", categories=[1, 2, 3], direction="after")

# (case, records as (group, start, end)), expected group and rule; seed 002 §2.9 toy-case table
CASES = [
    ("latest start in A", [(2, "2017-09-01", None), (1, "2017-12-01", None)], 1, "closest to reference"),
    ("longer spell", [(2, "2017-12-01", "2018-06-01"), (1, "2017-12-01", "2018-03-01")], 2, "longest spell"),
    ("priority", [(3, "2017-10-01", "2018-02-01"), (1, "2017-10-01", "2018-02-01")], 1, "category priority"),
    ("invalid dropped", [(1, "2017-11-01", "2017-10-01"), (3, "2017-11-01", None)], 3, "only record"),
    ("group-6 override", [(6, "2017-11-01", None), (2, "2018-02-15", None)], 2, "deferred: later period"),
    ("group 6 only", [(6, "2017-11-01", None)], 6, "only record"),
    ("closest to 1 Feb in B", [(1, "2018-03-15", None), (3, "2018-02-10", None)], 3, "closest to reference"),
]


@pytest.fixture(scope="module")
def result():
    rows = [{"pnr": case, "group": g, "start": s, "slut": e}
            for case, recs, _, _ in CASES for g, s, e in recs]
    df = pd.DataFrame(rows)
    return deduplicate(df, person="pnr", start="start", end="slut", category="group", periods=[A, B], deferred=[6])


@pytest.mark.parametrize(("case", "records", "group", "rule"), CASES, ids=[c[0] for c in CASES])
def test_toy_cases(result, case, records, group, rule):
    row = result.tidy().set_index("pnr").loc[case]
    assert row["category"] == group
    assert row["rule"] == rule
    assert row["n_records"] == len(records)


def test_audit_counts(result):
    t = result.tidy().set_index("pnr")
    assert t.loc["invalid dropped", "n_invalid"] == 1
    assert t.loc["group-6 override", "period"] == "B"
    assert result.extra["rules"]["closest to reference"] == 2
    assert "1 invalid records dropped" in result.summary()
    assert result.to_dict()["extra"]["deferred"] == [6]


def test_no_valid_record_and_records_outside_the_periods():
    df = pd.DataFrame({"pnr": [1, 2], "group": [1, 1], "start": ["2017-10-01", "2016-01-01"],
                       "slut": ["2017-09-01", None]})
    t = deduplicate(df, person="pnr", start="start", end="slut", category="group", periods=[A, B]).tidy()
    assert t["rule"].tolist() == ["no valid record", "no valid record"]
    assert t["category"].isna().all()


def test_row_order_does_not_matter(result):
    rows = [{"pnr": case, "group": g, "start": s, "slut": e} for case, recs, _, _ in CASES for g, s, e in recs]
    df = pd.DataFrame(rows).iloc[::-1]
    again = deduplicate(df, person="pnr", start="start", end="slut", category="group", periods=[A, B], deferred=[6])
    a = result.tidy().set_index("pnr").sort_index()[["category", "rule"]]
    b = again.tidy().set_index("pnr").sort_index()[["category", "rule"]]
    pd.testing.assert_frame_equal(a, b)


def test_bad_input():
    df = pd.DataFrame({"pnr": [1], "group": [1], "start": ["2017-10-01"], "slut": [None]})
    with pytest.raises(DataError, match="end column 'stop'"):
        deduplicate(df, person="pnr", start="start", end="stop", category="group", periods=[A])
    with pytest.raises(DesignError, match="periods must be a non-empty list"):
        deduplicate(df, person="pnr", start="start", end="slut", category="group", periods=[])
    with pytest.raises(DesignError, match="direction must be one of"):
        SpellPeriod("C", "2018-01-01", "2018-02-01", "2018-01-01", [1], direction="closest")
    with pytest.raises(DataError, match="start column 'start' must hold dates"):
        deduplicate(df.assign(start="soon"), person="pnr", start="start", end="slut", category="group", periods=[A])
