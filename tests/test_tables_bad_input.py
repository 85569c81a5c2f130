"""Bad input to the contingency estimators: one test per case, each naming the problem."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import effekt as ef
from effekt.errors import DataError, DesignError, EstimationError

BINARY = ["risk_difference", "risk_ratio", "odds_ratio", "chi2", "fisher", "g_test"]


@pytest.fixture
def df() -> pd.DataFrame:
    return ef.from_counts([[40, 30], [10, 20]]).astype(float)


@pytest.fixture
def pairs() -> pd.DataFrame:
    return ef.from_counts([[20, 9], [3, 8]], paired=True)


@pytest.mark.parametrize("name", BINARY)
def test_missing_outcome_column(name, df):
    with pytest.raises(DataError, match="outcome='nope': no such column"):
        ef.estimate(name, data=df, outcome="nope", treatment="z")


@pytest.mark.parametrize("name", BINARY)
def test_missing_treatment_column(name, df):
    with pytest.raises(DataError, match="treatment='nope': no such column"):
        ef.estimate(name, data=df, outcome="y", treatment="nope")


@pytest.mark.parametrize("name", BINARY)
def test_nan_outcome(name, df):
    df.loc[[3, 50], "y"] = np.nan
    with pytest.raises(DataError, match=r"outcome column 'y' has 2 missing values \(rows 3 and 50\)"):
        ef.estimate(name, data=df, outcome="y", treatment="z")


@pytest.mark.parametrize("name", BINARY)
def test_nan_outcome_dropped_on_request(name, df):
    full = ef.estimate(name, data=df.drop(index=[3, 50]), outcome="y", treatment="z")
    df.loc[[3, 50], "y"] = np.nan
    res = ef.estimate(name, data=df, outcome="y", treatment="z", missing="drop")
    assert res.n == 98 and res.estimate == full.estimate
    assert any("2 rows with missing values were dropped" in w for w in res.warnings)


@pytest.mark.parametrize("name", BINARY)
def test_inf_outcome(name, df):
    df.loc[7, "y"] = np.inf
    with pytest.raises(DataError, match="outcome column 'y' has 1 infinite value"):
        ef.estimate(name, data=df, outcome="y", treatment="z")


@pytest.mark.parametrize("name", BINARY)
def test_nan_treatment(name, df):
    df.loc[5, "z"] = np.nan
    with pytest.raises(DataError, match="treatment column 'z' has 1 missing value"):
        ef.estimate(name, data=df, outcome="y", treatment="z")


@pytest.mark.parametrize("name", BINARY)
def test_treatment_not_binary(name, df):
    df.loc[[0, 1], "z"] = 2
    with pytest.raises(DataError, match="treatment column 'z' must hold 0 .* also holds 2"):
        ef.estimate(name, data=df, outcome="y", treatment="z")


@pytest.mark.parametrize("name", BINARY)
def test_empty_arm(name, df):
    df["z"] = 1.0
    with pytest.raises(DataError, match="the control arm is empty"):
        ef.estimate(name, data=df, outcome="y", treatment="z")


@pytest.mark.parametrize("name", ["risk_difference", "risk_ratio", "odds_ratio"])
def test_outcome_not_binary(name, df):
    df.loc[0, "y"] = 2
    with pytest.raises(DataError, match="needs a binary outcome; column 'y' holds 3 values"):
        ef.estimate(name, data=df, outcome="y", treatment="z")


@pytest.mark.parametrize("name", ["risk_difference", "risk_ratio", "odds_ratio"])
def test_text_outcome_needs_event(name, df):
    df["y"] = np.where(df["y"] == 1, "yes", "no")
    with pytest.raises(DataError, match="holds 'no' and 'yes', not 0/1. Say which value counts as the event with positive="):
        ef.estimate(name, data=df, outcome="y", treatment="z")


@pytest.mark.parametrize("name", BINARY)
def test_unknown_positive(name, df):
    with pytest.raises(DataError, match="positive='yes' does not occur in outcome column 'y'"):
        ef.estimate(name, data=df, outcome="y", treatment="z", positive="yes")


@pytest.mark.parametrize("name", ["risk_difference", "risk_ratio", "odds_ratio"])
def test_more_than_two_arms_declared(name, df):
    with pytest.raises(DesignError, match="compares two arms; arms= names 3"):
        ef.estimate(name, data=df, outcome="y", treatment="z", arms=[0, 1, 2])


@pytest.mark.parametrize("name", ["chi2", "fisher", "g_test"])
def test_multi_arm_label_not_declared(name):
    df = ef.from_counts([[5, 6, 7], [3, 2, 9]])
    with pytest.raises(DataError, match="holds 2 .* neither of the declared arms"):
        ef.estimate(name, data=df, outcome="y", treatment="z", arms=[0, 1])
    with pytest.raises(DataError, match="arm 3 of treatment column 'z' has no units"):
        ef.estimate(name, data=df, outcome="y", treatment="z", arms=[0, 1, 2, 3])


@pytest.mark.parametrize("name", ["chi2", "fisher", "g_test"])
def test_constant_outcome(name, df):
    df["y"] = 0.0
    with pytest.raises(EstimationError, match="takes a single value .* no association to test"):
        ef.estimate(name, data=df, outcome="y", treatment="z")


@pytest.mark.parametrize("name", ["risk_ratio", "odds_ratio"])
def test_zero_cell(name):
    df = ef.from_counts([[40, 30], [0, 20]])
    with pytest.raises(EstimationError, match="0 control events.*zero_cell='haldane'"):
        ef.estimate(name, data=df, outcome="y", treatment="z")
    res = ef.estimate(name, data=df, outcome="y", treatment="z", zero_cell="haldane")
    assert any("0.5 was added" in w for w in res.warnings)


@pytest.mark.parametrize("name", BINARY)
def test_bad_alpha(name, df):
    with pytest.raises(DesignError, match=r"alpha=0 is not valid; alpha must be a number in \(0, 1\)"):
        ef.estimate(name, data=df, outcome="y", treatment="z", alpha=0)


def test_bad_ci_option(df):
    with pytest.raises(DesignError, match="ci_method='agresti' is not valid; ci_method must be one of 'newcombe', 'wald'"):
        ef.estimate("risk_difference", data=df, outcome="y", treatment="z", ci_method="agresti")


def test_yates_on_larger_table():
    df = ef.from_counts([[5, 6], [3, 9], [4, 4]])
    with pytest.raises(DesignError, match="correction=.yates. applies to 2 x 2 tables only; this table is 2 x 3"):
        ef.estimate("chi2", data=df, outcome="y", treatment="z", correction="yates")


def test_measure_needs_2x2():
    df = ef.from_counts([[5, 6], [3, 9], [4, 4]])
    with pytest.raises(DesignError, match="measure='risk_difference' needs a 2 x 2 table"):
        ef.estimate("chi2", data=df, outcome="y", treatment="z", measure="risk_difference")


def test_unknown_measure(df):
    with pytest.raises(DesignError, match="measure='hazard_ratio' is not valid"):
        ef.estimate("g_test", data=df, outcome="y", treatment="z", measure="hazard_ratio")


def test_one_sided_fisher_on_rxc():
    df = ef.from_counts([[5, 6], [3, 9], [4, 4]])
    with pytest.raises(DesignError, match="alternative='less' needs a 2 x 2 table"):
        ef.estimate("fisher", data=df, outcome="y", treatment="z", alternative="less")


def test_fisher_bad_seed(df):
    with pytest.raises(DesignError, match="seed=-1 is not valid"):
        ef.estimate("fisher", data=df, outcome="y", treatment="z", method="monte-carlo", seed=-1)


@pytest.mark.parametrize("value", ["yes", True, False])
def test_correction_must_be_a_name(df, value):
    with pytest.raises(DesignError, match=f"correction={value!r} is not valid; correction must be one of 'none', 'yates'"):
        ef.estimate("chi2", data=df, outcome="y", treatment="z", correction=value)


# -- mcnemar ---------------------------------------------------------------------------
def test_mcnemar_missing_pairs_column(pairs):
    with pytest.raises(DataError, match="pairs='id': no such column"):
        ef.estimate("mcnemar", data=pairs, outcome="y", treatment="z", pairs="id")


def test_mcnemar_duplicate_row(pairs):
    data = pd.concat([pairs, pairs.iloc[[0]]], ignore_index=True)
    with pytest.raises(DataError, match=r"pair 0 of pairs column .pair. has 1 row\(s\) with z=1 and 2 with z=0"):
        ef.estimate("mcnemar", data=data, outcome="y", treatment="z", pairs="pair")


def test_mcnemar_incomplete_pair(pairs):
    data = pairs.iloc[1:]
    with pytest.raises(DataError, match="exactly one row on each occasion"):
        ef.estimate("mcnemar", data=data, outcome="y", treatment="z", pairs="pair")


def test_mcnemar_missing_outcome_drops_pair(pairs):
    data = pairs.astype({"y": float})
    data.loc[0, "y"] = np.nan
    with pytest.raises(DataError, match="outcome column 'y' has 1 missing value"):
        ef.estimate("mcnemar", data=data, outcome="y", treatment="z", pairs="pair")
    res = ef.estimate("mcnemar", data=data, outcome="y", treatment="z", pairs="pair", missing="drop")
    # 39 complete pairs are left: 78 rows analysed (n), one row per pair in each arm
    assert (res.n, res.n_units, res.n_treated, res.n_control) == (78, 39, 39, 39)
    assert "2 rows were dropped" in res.warnings[0]


def test_mcnemar_nan_pair_id(pairs):
    data = pairs.astype({"pair": float})
    data.loc[4, "pair"] = np.nan
    with pytest.raises(DataError, match="pairs column 'pair' has 1 missing value"):
        ef.estimate("mcnemar", data=data, outcome="y", treatment="z", pairs="pair")


def test_mcnemar_outcome_not_binary(pairs):
    data = pairs.copy()
    data.loc[0, "y"] = 3
    with pytest.raises(DataError, match="holds 0, 1, 3, not 0/1|holds .*3.*not 0/1"):
        ef.estimate("mcnemar", data=data, outcome="y", treatment="z", pairs="pair")


def test_mcnemar_treatment_not_binary(pairs):
    data = pairs.copy()
    data.loc[0, "z"] = 5
    with pytest.raises(DataError, match="treatment column 'z' must hold 0"):
        ef.estimate("mcnemar", data=data, outcome="y", treatment="z", pairs="pair")


def test_mcnemar_bad_method(pairs):
    with pytest.raises(DesignError, match="method='midp' is not valid"):
        ef.estimate("mcnemar", data=pairs, outcome="y", treatment="z", pairs="pair", method="midp")


@pytest.mark.parametrize("name", ["chi2", "fisher", "g_test"])
def test_two_label_outcome_needs_event_or_measure(name, df):
    df["y"] = np.where(df["y"] == 1, "yes", "no")
    with pytest.raises(DataError, match="holds 'no' and 'yes', not 0/1.*positive= .one of 'no' and 'yes'.*measure='cramers_v'"):
        ef.estimate(name, data=df, outcome="y", treatment="z")
    res = ef.estimate(name, data=df, outcome="y", treatment="z", measure="cramers_v")
    assert res.estimand == "cramers_v" and 0 <= res.p_value <= 1


@pytest.mark.parametrize("name", ["risk_difference", "chi2"])
def test_missing_treatment_dropped_with_duplicated_index(name, df):
    full = ef.estimate(name, data=df.drop(index=[4, 9]), outcome="y", treatment="z")
    dup = df.copy()
    dup.index = [i // 2 for i in range(len(dup))]  # every label twice
    dup.iloc[[4, 9], dup.columns.get_loc("z")] = np.nan
    res = ef.estimate(name, data=dup, outcome="y", treatment="z", missing="drop")
    assert res.n == 98 and res.estimate == full.estimate


@pytest.mark.parametrize("name", ["fisher", "g_test"])
def test_blocks_not_supported(name, df):
    with pytest.raises(DesignError, match="use chi2 with blocks="):
        ef.estimate(name, data=df.assign(b=1), outcome="y", treatment="z", blocks="b")
