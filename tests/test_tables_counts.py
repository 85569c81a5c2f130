"""from_counts: published tables of counts to individual-level data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import effekt as ef
from effekt.errors import DataError, DesignError


def test_array_orientation_rows_outcome_columns_arm():
    df = ef.from_counts([[95, 106], [14, 3]])
    assert list(df.columns) == ["y", "z"]
    counts = pd.crosstab(df["y"], df["z"])
    assert counts.to_numpy().tolist() == [[95, 106], [14, 3]]
    assert df["y"].dtype.kind == "i" and df["z"].dtype.kind == "i"


def test_published_table_with_margins():
    t = pd.DataFrame({"I": [106, 3, 109], "C": [95, 14, 109], "Total": [201, 17, 218]},
                     index=["No", "Yes", "Total"])
    df = ef.from_counts(t)
    assert len(df) == 218
    assert pd.crosstab(df["y"], df["z"]).loc[["No", "Yes"], ["I", "C"]].to_numpy().tolist() == [[106, 95], [3, 14]]


def test_danish_margin_label_and_explicit_margins():
    t = pd.DataFrame({"I": [66, 43, 109], "C": [67, 42, 109], "I alt": [133, 85, 218]},
                     index=["kvinde", "mand", "I alt"])
    assert len(ef.from_counts(t)) == 218
    arr = [[66, 67, 133], [43, 42, 85], [109, 109, 218]]
    assert len(ef.from_counts(arr, margins=True)) == 218
    assert len(ef.from_counts(arr, margins=False)) == 2 * 218 + 218 + 218  # all cells counted


def test_custom_names_and_paired_layout():
    df = ef.from_counts([[48, 35], [21, 0]], paired=True, outcome="hours", treatment="after", pairs="id")
    assert list(df.columns) == ["id", "after", "hours"]
    assert len(df) == 2 * 104
    wide = df.pivot(index="id", columns="after", values="hours")
    assert pd.crosstab(wide[0], wide[1]).to_numpy().tolist() == [[48, 35], [21, 0]]


def test_paired_labelled_frame():
    t = pd.DataFrame({"no": [10, 2], "yes": [7, 5]}, index=["no", "yes"])
    df = ef.from_counts(t, paired=True)
    res = ef.estimate("mcnemar", data=df, outcome="y", treatment="z", pairs="pair", positive="yes")
    assert res.extra["discordant"] == [7, 2]


@settings(max_examples=25, deadline=None, database=None)
@given(cells=st.lists(st.integers(0, 20), min_size=4, max_size=4))
def test_round_trip(cells):
    t = np.array(cells).reshape(2, 2)
    df = ef.from_counts(t)
    assert len(df) == t.sum()
    back = np.zeros((2, 2), dtype=int)
    np.add.at(back, (df["y"].to_numpy(), df["z"].to_numpy()), 1)
    assert (back == t).all()


def test_polars_frame():
    pl = pytest.importorskip("polars")
    df = ef.from_counts(pl.DataFrame({"C": [95, 14], "I": [106, 3]}))
    assert len(df) == 218


# -- bad tables: one test per case ----------------------------------------------------
def test_negative_count():
    with pytest.raises(DataError, match=r"row 1, column 0 is -3: negative"):
        ef.from_counts([[5, 6], [-3, 2]])


def test_fractional_count():
    with pytest.raises(DataError, match="not a whole number.*percentages"):
        ef.from_counts([[5.5, 6], [3, 2]])


def test_missing_count():
    with pytest.raises(DataError, match="missing.*0 if no unit"):
        ef.from_counts(pd.DataFrame({"a": [1, None], "b": [2, 3]}))


def test_text_count():
    with pytest.raises(DataError, match="is 'n/a', not a number"):
        ef.from_counts(pd.DataFrame({"a": [1, "n/a"], "b": [2, 3]}))


def test_infinite_count():
    with pytest.raises(DataError, match="infinite"):
        ef.from_counts([[1, np.inf], [2, 3]])


def test_one_dimensional():
    with pytest.raises(DataError, match="two-dimensional"):
        ef.from_counts([1, 2, 3])


def test_ragged():
    with pytest.raises(DataError, match="two-dimensional|rectangular"):
        ef.from_counts([[1, 2], [3]])


def test_empty():
    with pytest.raises(DataError, match="empty"):
        ef.from_counts(pd.DataFrame())


def test_total_row_does_not_add_up():
    t = pd.DataFrame({"I": [106, 3, 110], "C": [95, 14, 109]}, index=["No", "Yes", "Total"])
    with pytest.raises(DataError, match=r"total row 'Total' \(\[110, 109\]\) is not the sum"):
        ef.from_counts(t)


def test_total_column_does_not_add_up():
    t = pd.DataFrame({"I": [106, 3], "C": [95, 14], "Total": [200, 17]}, index=["No", "Yes"])
    with pytest.raises(DataError, match="total column 'Total'"):
        ef.from_counts(t)


def test_paired_not_square():
    with pytest.raises(DataError, match="paired table must be square"):
        ef.from_counts([[1, 2, 3], [4, 5, 6]], paired=True)


def test_same_column_names():
    with pytest.raises(DataError, match="column names must differ"):
        ef.from_counts([[1, 2], [3, 4]], outcome="z", treatment="z")


def test_bad_margins_option():
    with pytest.raises(DesignError, match="margins='yes' is not an option"):
        ef.from_counts([[1, 2], [3, 4]], margins="yes")
