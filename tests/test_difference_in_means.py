"""difference_in_means: Neyman formulas, regression equivalences, designs, bad input."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import stats

import effekt as ef
from effekt.errors import DataError, DesignError


def dim(df, **spec):
    return ef.estimate("difference_in_means", data=df, **spec)


@pytest.fixture
def trial():
    rng = np.random.default_rng(7)
    n = 150
    z = rng.permutation(np.repeat([0, 1], n // 2))
    blocks = rng.integers(0, 6, n)
    y = 2.0 + 1.5 * z + 0.3 * blocks + rng.normal(scale=1 + z, size=n)
    return pd.DataFrame({"y": y, "z": z, "b": blocks, "w": rng.uniform(0.5, 2, n)})


def test_simple_equals_neyman_formula(trial):
    y1, y0 = trial.y[trial.z == 1], trial.y[trial.z == 0]
    v1, v0 = y1.var(ddof=1) / len(y1), y0.var(ddof=1) / len(y0)
    res = dim(trial, outcome="y", treatment="z")
    assert res.estimate == pytest.approx(y1.mean() - y0.mean(), abs=1e-10)
    assert res.std_error == pytest.approx(np.sqrt(v1 + v0), abs=1e-10)
    # Welch-Satterthwaite degrees of freedom and p-value, as scipy's Welch test
    welch = stats.ttest_ind(y1, y0, equal_var=False)
    assert res.p_value == pytest.approx(welch.pvalue, rel=1e-10)
    assert res.df == pytest.approx((v1 + v0) ** 2 / (v1**2 / (len(y1) - 1) + v0**2 / (len(y0) - 1)), rel=1e-12)
    assert (res.design, res.se_type) == ("simple", "HC2")


def test_simple_se_equals_statsmodels_hc2(trial):
    ref = smf.ols("y ~ z", trial).fit(cov_type="HC2")
    res = dim(trial, outcome="y", treatment="z")
    assert res.std_error == pytest.approx(ref.bse["z"], rel=1e-10)


def test_blocked_equals_neyman_formula(trial):
    res = dim(trial, outcome="y", treatment="z", blocks="b")
    est = var = 0.0
    n = len(trial)
    for _, g in trial.groupby("b"):
        y1, y0 = g.y[g.z == 1], g.y[g.z == 0]
        share = len(g) / n
        est += share * (y1.mean() - y0.mean())
        var += share**2 * (y1.var(ddof=1) / len(y1) + y0.var(ddof=1) / len(y0))
    assert res.estimate == pytest.approx(est, abs=1e-10)
    assert res.std_error == pytest.approx(np.sqrt(var), abs=1e-10)
    assert res.df == n - 2 * trial.b.nunique()
    assert (res.design, res.se_type) == ("blocked", "HC2")


def test_blocked_equals_lin_regression_with_block_interactions(trial):
    # Lin (2013): centred block dummies interacted with treatment; coefficient on z is
    # the block-share weighted estimate, and its HC2 SE equals the blocked Neyman SE.
    dummies = pd.get_dummies(trial.b, prefix="b", drop_first=True).astype(float)
    centred = dummies - dummies.mean()
    X = pd.DataFrame({"const": 1.0, "z": trial.z})
    for col in centred:
        X[col] = centred[col]
        X[col + ":z"] = centred[col] * trial.z
    ref = sm.OLS(trial.y, X).fit(cov_type="HC2")
    res = dim(trial, outcome="y", treatment="z", blocks="b")
    assert res.estimate == pytest.approx(ref.params["z"], abs=1e-10)
    assert res.std_error == pytest.approx(ref.bse["z"], abs=1e-10)


def test_weighted_simple_equals_weighted_hc2_regression(trial):
    ref = sm.WLS(trial.y, sm.add_constant(trial.z.astype(float)), weights=trial.w).fit(cov_type="HC2")
    res = dim(trial, outcome="y", treatment="z", weights="w")
    assert res.estimate == pytest.approx(ref.params["z"], abs=1e-10)
    assert res.std_error == pytest.approx(ref.bse["z"], rel=1e-10)
    assert res.df == len(trial) - 2


def test_matched_pairs_gerber_green_3_16():
    rng = np.random.default_rng(11)
    J = 12
    df = pd.DataFrame({"pair": np.repeat(np.arange(J), 2), "z": np.tile([1, 0], J), "y": rng.normal(size=2 * J)})
    diffs = df[df.z == 1].y.to_numpy() - df[df.z == 0].y.to_numpy()
    res = dim(df, outcome="y", treatment="z", blocks="pair")
    assert res.design == "paired"
    assert res.estimate == pytest.approx(diffs.mean(), abs=1e-12)
    # Gerber & Green (2012) eq. 3.16: SE = sqrt(sum (d_j - mean d)^2 / (J (J - 1)))
    assert res.std_error == pytest.approx(np.sqrt(np.sum((diffs - diffs.mean()) ** 2) / (J * (J - 1))), abs=1e-12)
    assert res.df == J - 1
    # equals the paired t-test
    assert res.p_value == pytest.approx(stats.ttest_rel(df[df.z == 1].y, df[df.z == 0].y).pvalue, rel=1e-10)


def _small_block_data():
    rng = np.random.default_rng(5)
    sizes = [(3, 3), (4, 4), (1, 2), (1, 2), (1, 2), (2, 1), (1, 3), (1, 3)]
    rows = []
    for b, (nt, nc) in enumerate(sizes):
        for arm, m in ((1, nt), (0, nc)):
            rows += [{"b": b, "z": arm, "y": rng.normal() + arm} for _ in range(m)]
    return pd.DataFrame(rows)


def test_small_blocks_pashley_miratrix_hybrid_m():
    df = _small_block_data()
    res = dim(df, outcome="y", treatment="z", blocks="b")
    assert res.design == "blocked" and res.se_type == "HC2+hybrid_m"
    n = len(df)
    table = df.groupby("b").apply(
        lambda g: pd.Series({
            "n": len(g), "nt": (g.z == 1).sum(), "nc": (g.z == 0).sum(),
            "tau": g.y[g.z == 1].mean() - g.y[g.z == 0].mean(),
            "v": (g.y[g.z == 1].var(ddof=1) / (g.z == 1).sum() if (g.z == 1).sum() > 1 else np.nan)
            + (g.y[g.z == 0].var(ddof=1) / (g.z == 0).sum() if (g.z == 0).sum() > 1 else np.nan),
        }),
        include_groups=False,
    )
    big = table[(table.nt > 1) & (table.nc > 1)]
    small = table.drop(big.index)
    var = ((big.n / n) ** 2 * big.v).sum()
    # Pashley & Miratrix (2021), hybrid_m: small blocks grouped by size
    for _, grp in small.groupby("n"):
        K, NS = len(grp), grp.n.sum()
        var += (NS / n) ** 2 * ((grp.tau - grp.tau.mean()) ** 2).sum() / (K * (K - 1))
    assert res.estimate == pytest.approx((table.n / n * table.tau).sum(), abs=1e-12)
    assert res.std_error == pytest.approx(np.sqrt(var), abs=1e-12)


def test_small_blocks_hybrid_p():
    df = _small_block_data()
    res = dim(df, outcome="y", treatment="z", blocks="b", small_blocks="hybrid_p")
    assert res.se_type == "HC2+hybrid_p"
    assert np.isfinite(res.std_error)


def test_lone_small_block_size_asks_to_merge():
    df = _small_block_data()
    df = df[df.b != 7]  # leaves one small block of size 4
    with pytest.raises(DesignError, match="only small block of size 4"):
        dim(df, outcome="y", treatment="z", blocks="b")


def test_clustered_is_cr2_with_bell_mccaffrey_df():
    rng = np.random.default_rng(2)
    cl = np.repeat(np.arange(14), rng.integers(2, 9, 14))
    zc = rng.permutation(np.repeat([0, 1], 7))
    df = pd.DataFrame({"c": cl, "z": zc[cl], "y": rng.normal(size=cl.size) + zc[cl] + rng.normal(size=14)[cl]})
    res = dim(df, outcome="y", treatment="z", clusters="c")
    fit = ef.sandwich.robust_ols(np.column_stack([np.ones(len(df)), df.z]), df.y.to_numpy(), se_type="CR2", clusters=cl)
    assert res.design == "clustered" and res.se_type == "CR2"
    assert res.std_error == pytest.approx(fit.std_error[1], rel=1e-12)
    assert res.df == pytest.approx(fit.df[1], rel=1e-12)
    # a cluster-level difference in means of cluster totals would not match: CR2 is the estimatr default
    assert res.estimate == pytest.approx(df.y[df.z == 1].mean() - df.y[df.z == 0].mean(), abs=1e-12)


def test_block_clustered_and_matched_cluster_pairs():
    rng = np.random.default_rng(4)
    cl = np.arange(24)
    blocks = cl // 4
    zc = np.concatenate([rng.permutation([0, 0, 1, 1]) for _ in range(6)])
    size = rng.integers(3, 7, 24)
    unit_cl = np.repeat(cl, size)
    df = pd.DataFrame({"c": unit_cl, "b": blocks[unit_cl], "z": zc[unit_cl], "y": rng.normal(size=unit_cl.size)})
    res = dim(df, outcome="y", treatment="z", blocks="b", clusters="c")
    assert (res.design, res.df) == ("block_clustered", 24 - 2 * 6)
    pair_blocks = cl // 2
    zp = np.tile([0, 1], 12)
    dp = pd.DataFrame({"c": unit_cl, "b": pair_blocks[unit_cl], "z": zp[unit_cl], "y": rng.normal(size=unit_cl.size)})
    res = dim(dp, outcome="y", treatment="z", blocks="b", clusters="c")
    assert (res.design, res.df) == ("matched_pair_clustered", 11)
    # Imai, King & Nall (2009) eq. 6
    g = dp.groupby("b")
    n_j = g.size().to_numpy()
    tau = g.apply(lambda d: d.y[d.z == 1].mean() - d.y[d.z == 0].mean(), include_groups=False).to_numpy()
    N, J = n_j.sum(), len(n_j)
    est = np.sum(n_j * tau) / N
    var = J / ((J - 1) * N**2) * np.sum((n_j * tau - N * est / J) ** 2)
    assert res.estimate == pytest.approx(est, abs=1e-12)
    assert res.std_error == pytest.approx(np.sqrt(var), abs=1e-12)


def test_arms_labels_and_assignment_object():
    df = pd.DataFrame({"y": [1.0, 2, 3, 5, 6, 9], "arm": ["c", "c", "c", "t", "t", "t"]})
    res = dim(df, outcome="y", treatment="arm", arms=("c", "t"))
    assert res.estimate == pytest.approx(20 / 3 - 2.0)

    class Stand:  # the attributes an Assignment exposes
        treatment = np.array([0, 0, 0, 1, 1, 1])
        blocks = None
        clusters = None

    assert dim(df, outcome="y", assignment=Stand()).estimate == pytest.approx(20 / 3 - 2.0)
    with pytest.raises(DesignError, match="not both"):
        dim(df, outcome="y", treatment="arm", assignment=Stand())
    with pytest.raises(DataError, match="6 rows"):
        Stand.treatment = np.array([0, 1])
        dim(df, outcome="y", assignment=Stand())


def test_missing_drop_reports_count(trial):
    df = trial.copy()
    df.loc[[3, 9], "y"] = np.nan
    res = dim(df, outcome="y", treatment="z", missing="drop")
    assert res.n == len(df) - 2
    assert "2 rows with missing values were dropped" in res.warnings[0]


# -- bad input: DESIGN.md section 4 -----------------------------------------
@pytest.mark.parametrize(
    ("mutate", "spec", "error", "match"),
    [
        (lambda d: d, {"outcome": "income"}, DataError, "outcome='income': no such column"),
        (lambda d: d.assign(y=d.y.astype(str) + "kr"), {}, DataError, "outcome column 'y' holds text where numbers belong: 150 values"),
        (lambda d: d.assign(y=d.y.where(d.index != 4)), {}, DataError, r"'y' has 1 missing value \(row 4\)"),
        (lambda d: d.assign(y=d.y.where(d.index != 4, np.inf)), {}, DataError, "'y' has 1 infinite value"),
        (lambda d: d.assign(z=d.z.where(d.index > 1)), {}, DataError, "treatment column 'z' has 2 missing values"),
        (lambda d: d.assign(z=d.z.where(d.index != 2, 3)), {}, DataError, "must hold 0 .control. and 1 .treated.; it also holds 3 in row 2"),
        (lambda d: d.assign(z=0), {}, DataError, "the treated arm is empty"),
        (lambda d: d.assign(z=np.where(d.b == 0, 1, d.z)), {"blocks": "b"}, DataError, "block 0 of column 'b' has .* treated and 0 control"),
        (lambda d: d.assign(b=d.b.where(d.index != 5)), {"blocks": "b"}, DataError, "blocks column 'b' has 1 missing value"),
        (lambda d: d.assign(w=d.w.where(d.index != 6, -1.0)), {"weights": "w"}, DataError, "weights column 'w' has 1 zero or negative"),
        (lambda d: d, {"alpha": 1.5}, DesignError, "alpha must be a number in \\(0, 1\\)"),
        (lambda d: d, {"small_blocks": "pooled"}, DesignError, "small_blocks='pooled' is not valid"),
    ],
)
def test_bad_input(trial, mutate, spec, error, match):
    with pytest.raises(error, match=match):
        dim(mutate(trial.copy()), **{"outcome": "y", "treatment": "z", **spec})


def test_cluster_with_both_arms_is_a_design_error(trial):
    df = trial.assign(c=np.arange(len(trial)) // 10)
    with pytest.raises(DesignError, match="has units in both arms"):
        dim(df, outcome="y", treatment="z", clusters="c")


def test_cluster_spanning_blocks_is_a_design_error():
    df = pd.DataFrame({"y": np.arange(8.0), "z": [0, 0, 1, 1, 0, 0, 1, 1], "c": [0, 0, 1, 1, 2, 2, 1, 1],
                       "b": [0, 0, 0, 0, 1, 1, 1, 1]})
    with pytest.raises(DesignError, match="spans more than one block"):
        dim(df, outcome="y", treatment="z", clusters="c", blocks="b")


def test_polars_frames_are_accepted(trial):
    import polars as pl

    res = dim(pl.from_pandas(trial), outcome="y", treatment="z", blocks="b")
    assert res.estimate == pytest.approx(dim(trial, outcome="y", treatment="z", blocks="b").estimate, abs=1e-12)


def test_constant_outcome_is_a_data_error(trial):
    with pytest.raises(DataError, match="outcome column 'y' is constant"):
        dim(trial.assign(y=7.3), outcome="y", treatment="z")


def test_an_arm_of_one_unit_is_a_data_error(trial):
    df = trial.assign(z=0)
    df.loc[0, "z"] = 1
    with pytest.raises(DataError, match="the treated arm has 1 unit"):
        dim(df, outcome="y", treatment="z")


def test_duplicated_column_names_are_a_data_error(trial):
    with pytest.raises(DataError, match="2 columns with this name"):
        dim(pd.concat([trial, trial[["z"]]], axis=1), outcome="y", treatment="z")


def test_numbers_stored_as_objects_are_named_as_such(trial):
    with pytest.raises(DataError, match="holds numbers stored as object values"):
        dim(trial.assign(y=trial.y.astype(object)), outcome="y", treatment="z")


# -- se_type, arms, labels in messages ----------------------------------------------------------
def _simple_trial(seed=3, n=60):
    rng = np.random.default_rng(seed)
    z = rng.permutation(np.arange(n) % 2)
    return pd.DataFrame({"y": 1.0 + z + rng.normal(size=n), "z": z, "cl": np.arange(n) // 2,
                         "b": np.arange(n) // 10})


@pytest.mark.parametrize("se_type", ["classical", "HC0", "HC1", "HC3"])
def test_se_type_of_a_simple_design_is_the_regression_sandwich(se_type):
    df = _simple_trial()
    res = dim(df, outcome="y", treatment="z", se_type=se_type)
    ols = ef.estimate("lm_robust", data=df, outcome="y", treatment="z", se_type=se_type)
    assert res.se_type == se_type and res.df == len(df) - 2
    assert res.estimate == pytest.approx(ols.estimate) and res.std_error == pytest.approx(ols.std_error)


def test_default_se_type_is_unchanged():
    df = _simple_trial()
    assert dim(df, outcome="y", treatment="z").se_type == "HC2"
    assert dim(df, outcome="y", treatment="z", se_type="HC2").std_error == dim(df, outcome="y", treatment="z").std_error


@pytest.mark.parametrize("se_type", ["CR0", "CR1", "stata", "CR2"])
def test_se_type_of_a_clustered_design(se_type):
    df = _simple_trial().assign(z=lambda d: d.cl % 2)
    res = dim(df, outcome="y", treatment="z", clusters="cl", se_type=se_type)
    ols = ef.estimate("lm_robust", data=df, outcome="y", treatment="z", clusters="cl", se_type=se_type)
    assert res.std_error == pytest.approx(ols.std_error)
    assert res.n == len(df) and res.n_clusters == df.cl.nunique()
    assert res.n_treated + res.n_control == res.n


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ({"se_type": "CR2"}, "se_type='CR2' needs clusters="),
        ({"se_type": "HC1", "clusters": "cl"}, "ignores the clusters"),
        ({"se_type": "HC1", "blocks": "b"}, "does not apply to a blocked design"),
        ({"se_type": "HC7"}, "se_type='HC7' is not valid"),
    ],
)
def test_impossible_se_type_combinations(spec, match):
    df = _simple_trial().assign(z=lambda d: d.cl % 2)
    with pytest.raises(DesignError, match=match):
        dim(df, outcome="y", treatment="z", **spec)


def test_blocked_design_takes_its_own_se_type_by_name():
    df = _simple_trial()
    df["z"] = np.tile([0, 1], len(df) // 2)
    assert dim(df, outcome="y", treatment="z", blocks="b", se_type="HC2").std_error == pytest.approx(
        dim(df, outcome="y", treatment="z", blocks="b").std_error)


def test_text_categorical_and_object_treatments_give_the_01_estimate():
    df = _simple_trial()
    base = dim(df, outcome="y", treatment="z").estimate
    text = df.assign(z=np.where(df.z == 1, "JKI", "CAB"))
    assert dim(text, outcome="y", treatment="z", arms=("CAB", "JKI")).estimate == pytest.approx(base)
    assert dim(text, outcome="y", treatment="z", arms=("JKI", "CAB")).estimate == pytest.approx(-base)
    cat = df.assign(z=pd.Categorical(np.where(df.z == 1, "JKI", "CAB")))
    assert dim(cat, outcome="y", treatment="z", arms=("CAB", "JKI")).estimate == pytest.approx(base)
    assert dim(df.assign(z=pd.Categorical(df.z)), outcome="y", treatment="z").estimate == pytest.approx(base)
    assert dim(df.assign(z=df.z.astype(object)), outcome="y", treatment="z").estimate == pytest.approx(base)


def test_text_treatment_advice_names_both_orders_never_alphabetical():
    df = _simple_trial()
    # the programme label first in the data, and first in the alphabet: no order is preferred
    text = df.assign(z=np.where(df.z == 1, "A-programme", "B-control"))
    with pytest.raises(DataError) as info:
        dim(text, outcome="y", treatment="z")
    msg = str(info.value)
    first = text.z.iloc[0]
    other = "B-control" if first == "A-programme" else "A-programme"
    assert f"arms=({first!r}, {other!r}) if {other!r} is the programme" in msg
    assert f"arms=({other!r}, {first!r}) if {first!r} is" in msg
    assert "does not guess" in msg


def test_advice_never_names_arms_when_the_estimator_refuses_it():
    from effekt.data import check_columns

    text = _simple_trial().assign(z=lambda d: np.where(d.z == 1, "JKI", "CAB"))
    with pytest.raises(DataError) as info:
        check_columns(text, outcome="y", treatment="z", arms_ok=False)
    assert "arms=" not in str(info.value) and "Recode it to 0 (control) and 1" in str(info.value)


def test_messages_name_the_users_argument_and_labels():
    from effekt.data import check_columns

    df = _simple_trial().assign(unit=lambda d: d.b.astype(float))
    df.loc[3, "unit"] = np.nan
    with pytest.raises(DataError, match="unit column 'unit' has 1 missing value"):
        check_columns(df, outcome="y", treatment="z", blocks="unit", roles={"blocks": "unit"})
    with pytest.raises(DataError, match="blocks column 'unit' has 1 missing value"):
        check_columns(df, outcome="y", treatment="z", blocks="unit")  # unchanged without roles=
    # blocks appear by their labels, not internal codes
    lab = _simple_trial().assign(b=lambda d: np.where(d.b < 3, "north", "south"))
    lab.loc[lab.b == "south", "z"] = 1
    with pytest.raises(DataError, match="block 'south' of column 'b'"):
        dim(lab, outcome="y", treatment="z", blocks="b")


def test_designs_are_vocabulary_codes():
    from effekt.vocabulary import codes

    df = _simple_trial()
    df["z"] = np.tile([0, 1], len(df) // 2)
    pairs = df.assign(pair=np.arange(len(df)) // 2)
    for res in (dim(df, outcome="y", treatment="z"), dim(df, outcome="y", treatment="z", blocks="b"),
                dim(pairs, outcome="y", treatment="z", blocks="pair")):
        assert res.design in codes("design")
