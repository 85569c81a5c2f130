"""Balance table: seed 004 Tables 8.1/8.2, seed 002 SMDs, scipy oracles, omnibus RI test."""

from __future__ import annotations

import itertools

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from scipy import stats

from effekt import design
from effekt.design.balance import balance_table, smd_binary, smd_numeric
from effekt.errors import DataError, DesignError


@pytest.fixture
def seed004():
    """Individual rows rebuilt from notes-004 Tables 8.1 (sex) and 8.2 (age bands)."""
    z = [1] * 109 + [0] * 109
    sex = ["women"] * 66 + ["men"] * 43 + ["women"] * 67 + ["men"] * 42
    bands = ["30-39", "40-49", "50-59", ">60"]
    age = np.repeat(bands, [10, 45, 50, 4]).tolist() + np.repeat(bands, [21, 39, 44, 5]).tolist()
    return pd.DataFrame({"z": z, "sex": sex, "age": age})


def test_seed004_table_8_1_sex(seed004):
    # notes-004 section 4.3 (Table 8.1): Pearson chi2(1) = 0.019, p = 0.890.
    bt = balance_table(seed004, treatment="z", covariates=["sex"], seed=1)
    row = bt.table.iloc[0]
    assert round(row["statistic"], 3) == 0.019
    assert round(row["p_value"], 3) == 0.890
    assert row["df"] == 1
    women = bt.table.set_index("level").loc["women"]
    assert (women["n_treated"], women["n_control"]) == (66, 67)
    assert women["pct_treated"] == pytest.approx(100 * 66 / 109)


def test_seed004_table_8_2_age(seed004):
    # notes-004 section 4.4 (Table 8.2): Pearson chi2(3) = 4.826, p = 0.185.
    bt = balance_table(seed004, treatment="z", covariates=["age"], seed=1)
    row = bt.table.iloc[0]
    assert round(row["statistic"], 3) == 4.826
    assert round(row["p_value"], 3) == 0.185
    assert row["df"] == 3
    # the 30-39 band (9.2 % vs 19.3 %) is the one the report notes
    flagged = bt.flagged.set_index("level")
    assert "30-39" in flagged.index and flagged.loc["30-39", "smd"] < -0.1


def test_chi2_matches_scipy(seed004):
    bt = balance_table(seed004, treatment="z", covariates=["age"], seed=1)
    table = pd.crosstab(seed004["age"], seed004["z"]).to_numpy()
    ref = stats.chi2_contingency(table, correction=False)
    assert bt.table.iloc[0]["statistic"] == pytest.approx(ref.statistic, rel=1e-12)
    assert bt.table.iloc[0]["p_value"] == pytest.approx(ref.pvalue, rel=1e-12)


@pytest.mark.parametrize(
    ("p_later", "p_earlier", "expected"),
    [
        (0.10, 0.06, 0.148),  # seed 002 Table 1 (notes-002 section 4.3): aged under 30
        (0.71, 0.63, 0.171),  # seed 002 Table 1: Danish origin
        (0.27, 0.35, -0.174),  # seed 002 Table 1: immigrants
        (0.30, 0.36, -0.128),  # seed 002 Table 1: over 50
    ],
)
def test_seed002_cohort_drift_smds(p_later, p_earlier, expected):
    assert round(smd_binary(p_later, p_earlier), 3) == expected


def test_numeric_rows_match_scipy_welch_and_hand_smd():
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"z": np.repeat([1, 0], [40, 55]), "age": np.r_[rng.normal(49, 9, 40), rng.normal(47, 11, 55)]})
    bt = balance_table(df, treatment="z", covariates=["age"], seed=1)
    row = bt.table.iloc[0]
    x1, x0 = df.age[df.z == 1], df.age[df.z == 0]
    ref = stats.ttest_ind(x1, x0, equal_var=False)
    assert row["statistic"] == pytest.approx(ref.statistic, rel=1e-12)
    assert row["p_value"] == pytest.approx(ref.pvalue, rel=1e-12)
    assert row["df"] == pytest.approx(ref.df, rel=1e-12)
    assert row["smd"] == pytest.approx((x1.mean() - x0.mean()) / np.sqrt((x1.var() + x0.var()) / 2), rel=1e-12)
    assert row["smd"] == pytest.approx(smd_numeric(x1.mean(), x1.std(), x0.mean(), x0.std()), rel=1e-12)


def _brute_force_p(X: np.ndarray, z: np.ndarray) -> float:
    """Exact randomisation p of the Mahalanobis statistic, by plain loops."""
    n, n1 = len(z), int(z.sum())
    Xc = X - X.mean(axis=0)
    S_inv = np.linalg.pinv(np.cov(Xc, rowvar=False))

    def T(zz):
        d = Xc[zz == 1].mean(axis=0) - Xc[zz == 0].mean(axis=0)
        return float(d @ S_inv @ d)

    obs = T(z)
    values = []
    for treated in itertools.combinations(range(n), n1):
        zz = np.zeros(n, dtype=int)
        zz[list(treated)] = 1
        values.append(T(zz))
    values = np.array(values)
    return float(np.mean(values >= obs - 1e-12))


def test_omnibus_exact_p_matches_brute_force():
    rng = np.random.default_rng(11)
    df = pd.DataFrame({"z": [1, 1, 1, 1, 0, 0, 0, 0, 0, 0], "x": rng.normal(size=10), "w": rng.normal(size=10)})
    bt = balance_table(df, treatment="z", covariates=["x", "w"], sims=1000, seed=1)
    assert bt.omnibus["exact"] and bt.omnibus["sims"] == 210
    assert bt.omnibus["p_value"] == pytest.approx(_brute_force_p(df[["x", "w"]].to_numpy(), df["z"].to_numpy()), abs=1e-12)


def test_omnibus_uses_the_assignment_design():
    blocks = np.repeat([1, 2, 3], 6)
    asg = design.block(blocks=blocks, seed=2)
    rng = np.random.default_rng(2)
    df = pd.DataFrame({"x": rng.normal(size=18), "g": rng.choice(["a", "b", "c"], 18)})
    bt = balance_table(df, assignment=asg, covariates=["x", "g"], sims=500, seed=3)
    assert not bt.omnibus["exact"] and bt.omnibus["sims"] == 500
    assert 0 < bt.omnibus["p_value"] <= 1
    assert bt.n_treated == 9


def test_omnibus_rejects_a_badly_imbalanced_split():
    df = pd.DataFrame({"z": np.repeat([1, 0], 30), "x": np.r_[np.arange(30) + 20.0, np.arange(30)]})
    bt = balance_table(df, treatment="z", covariates=["x"], sims=999, seed=1)
    assert bt.omnibus["p_value"] == pytest.approx(1 / 1000)


def test_omnibus_calibration_under_randomisation():
    # 150 seeded trials, covariates independent of treatment: the number of
    # p <= 0.1 is Binomial(150, 0.1); accept within its 0.999 interval.
    rng = np.random.default_rng(5)
    X = pd.DataFrame({"x": rng.normal(size=40), "w": rng.exponential(size=40)})
    ps = []
    for s in range(150):
        asg = design.complete(40, seed=s)
        ps.append(balance_table(X, assignment=asg, covariates=["x", "w"], sims=99, seed=s).omnibus["p_value"])
    rejections = int(np.sum(np.array(ps) <= 0.1))
    lo, hi = stats.binom.ppf([0.0005, 0.9995], 150, 0.1)
    assert lo <= rejections <= hi


def test_love_plot_returns_a_figure(seed004):
    fig = balance_table(seed004, treatment="z", covariates=["sex", "age"], seed=1).love_plot()
    assert isinstance(fig, Figure)
    assert len(fig.axes[0].get_yticklabels()) == 6


def test_summary_mentions_the_omnibus_test(seed004):
    text = balance_table(seed004, treatment="z", covariates=["sex"], seed=1).summary()
    assert "Omnibus randomisation test" in text and "women" in text


# --------------------------------------------------------------------------- bad input


def test_missing_covariate_column(seed004):
    with pytest.raises(DataError, match="covariate 'income': no such column"):
        balance_table(seed004, treatment="z", covariates=["income"])


def test_missing_categorical_values(seed004):
    seed004.loc[3, "sex"] = None
    with pytest.raises(DataError, match="covariate column 'sex' has 1 missing values"):
        balance_table(seed004, treatment="z", covariates=["sex"])


def test_treatment_or_assignment_exactly_one(seed004):
    with pytest.raises(DesignError, match="exactly one of treatment="):
        balance_table(seed004, covariates=["sex"])


def test_assignment_length_must_match(seed004):
    with pytest.raises(DataError, match="the assignment has 10 units but the data have 218 rows"):
        balance_table(seed004, assignment=design.complete(10, seed=1), covariates=["sex"])


def test_multi_arm_assignment_is_refused():
    with pytest.raises(DesignError, match="compares two arms; the assignment has 3"):
        balance_table(pd.DataFrame({"x": range(9)}), assignment=design.complete(9, num_arms=3, seed=1), covariates=["x"])


def test_bad_threshold_and_empty_covariates(seed004):
    with pytest.raises(DesignError, match="threshold must be a positive number"):
        balance_table(seed004, treatment="z", covariates=["sex"], threshold=-1)
    with pytest.raises(DesignError, match="covariates= is empty"):
        balance_table(seed004, treatment="z", covariates=[])


def test_text_in_numeric_categorical_list(seed004):
    with pytest.raises(DesignError, match="categorical= names"):
        balance_table(seed004, treatment="z", covariates=["sex"], categorical=["age"])


def test_covariate_that_separates_the_arms():
    df = pd.DataFrame({"z": [1, 1, 0, 0], "x": [1.0, 1.0, 0.0, 0.0]})
    with pytest.raises(DataError, match="separates the arms perfectly"):
        balance_table(df, treatment="z", covariates=["x"])


def test_plot_is_the_love_plot_and_draws_into_a_given_axes(seed004):
    from effekt.plotting import figure_and_axes

    bt = balance_table(seed004, treatment="z", covariates=["sex", "age"], seed=1)
    fig = bt.plot()
    assert isinstance(fig, Figure) and fig.canvas.manager is None
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == [
        t.get_text() for t in bt.love_plot().axes[0].get_yticklabels()
    ]
    given, ax = figure_and_axes()
    assert bt.plot(ax=ax, labels={"sex": "Sex", 1: "course", 0: "usual"}) is given
    assert ax.get_yticklabels()[0].get_text().startswith("Sex: ")
    assert "(course - usual)" in ax.get_xlabel()


def test_result_protocol_and_immutability(seed004):
    import dataclasses
    import json

    from effekt.result import Result

    bt = balance_table(seed004, treatment="z", covariates=["sex", "age"], seed=1)
    assert isinstance(bt, Result)
    d = bt.to_dict()
    assert json.loads(json.dumps(d, allow_nan=False)) == d == json.loads(bt.to_json())
    assert d["table"][0]["mean_treated"] is None  # a categorical row has no mean: None, not NaN
    assert d["omnibus"]["p_value"] == pytest.approx(bt.omnibus["p_value"])
    tidy = bt.tidy()
    tidy.loc[0, "smd"] = 99.0
    assert bt.table.loc[0, "smd"] != 99.0  # tidy() hands out a copy
    with pytest.raises(dataclasses.FrozenInstanceError):
        bt.threshold = 0.2
    with pytest.raises(TypeError):
        bt.omnibus["p_value"] = 0.0
    with pytest.raises(TypeError):
        bt.extra["new"] = 1
