"""One regression test per distinct cause the fuzzer found (tests/reliability/fuzzing.py)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import effekt as ef
from effekt.errors import DataError


@pytest.fixture
def trial() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 40
    return pd.DataFrame({"y": rng.normal(size=n), "z": np.tile([0, 1], n // 2), "d": np.tile([0, 1], n // 2),
                         "b": np.repeat(np.arange(4), 10), "w": rng.uniform(0.5, 2, n)})


@pytest.mark.parametrize("name", ["fisher", "chi2", "cace"])
def test_duplicated_column_names_are_a_data_error_naming_the_column(trial, name):
    # was ValueError "Data must be 1-dimensional" (fisher, chi2) and AttributeError (cace)
    data = pd.concat([trial, trial[["z"]]], axis=1)
    spec = {"outcome": "y", "treatment": "z"} | ({"received": "d"} if name == "cace" else {})
    if name != "cace":
        data = data.assign(y=(data["y"] > 0).astype(int))
    with pytest.raises(DataError, match="column 'z': the data have 2 columns with this name"):
        ef.get_estimator(name)().fit(data, **spec)


def test_weights_at_1e_minus_300_are_a_data_error_not_a_linalg_error(trial):
    # was numpy LinAlgError "Singular matrix" in cace
    with pytest.raises(DataError, match="weights column 'w' holds values as small as"):
        ef.get_estimator("cace")().fit(trial.assign(w=trial.w * 1e-300), outcome="y", treatment="z",
                                       received="d", weights="w")


def test_an_outcome_at_1e300_is_a_data_error_not_an_overflow_warning(trial):
    # was RuntimeWarning: overflow encountered in square (horvitz_thompson, difference_in_means)
    with pytest.raises(DataError, match="outcome column 'y' holds values as large as 1e\\+300"):
        ef.get_estimator("horvitz_thompson")().fit(trial.assign(y=1e300 + 0 * trial.y), outcome="y", treatment="z")


def test_blocks_mixing_unorderable_types_are_a_data_error(trial):
    # was TypeError "'<' not supported between instances of 'tuple' and 'int'"
    b = trial.b.astype(object)
    b.iloc[0] = (1, 2)
    with pytest.raises(DataError, match="blocks column 'b' mixes values of types int, tuple"):
        ef.get_estimator("difference_in_means")().fit(trial.assign(b=b), outcome="y", treatment="z", blocks="b")


def test_discrete_time_hazard_refuses_a_huge_person_period_expansion():
    # was MemoryError: time + 1e9 tried to allocate hundreds of GiB
    from effekt_survival.discrete_time_hazard import simulate_weekly

    syn = ef.get_estimator("discrete_time_hazard").simulate(np.random.default_rng(1), n=40, effect=1.0)
    data = syn.data.assign(**{syn.spec["time"]: syn.data[syn.spec["time"]] + 1e9})
    with pytest.raises(DataError, match="person-periods"):
        ef.get_estimator("discrete_time_hazard")().fit(data, **syn.spec)
    assert callable(simulate_weekly)


def _survival(name: str, seed: int = 1) -> tuple[pd.DataFrame, dict]:
    syn = ef.get_estimator(name).simulate(np.random.default_rng(seed), n=40, effect=1.0)
    return syn.data, dict(syn.spec)


def _mixed(series: pd.Series) -> pd.Series:
    s = series.astype(object)
    for i, v in zip((0, 1, 2), ["7", 3.5, (1, 2)], strict=True):
        s.iloc[i] = v
    return s


@pytest.mark.parametrize("name", ["fisher", "g_test", "chi2", "risk_difference"])
def test_a_mixed_object_outcome_in_a_table_estimator_is_a_data_error(trial, name):
    # was TypeError "'<' not supported between instances of 'tuple' and 'int'" (pd.factorize)
    data = trial.assign(y=_mixed((trial.y > 0).astype(int)))
    with pytest.raises(DataError, match="outcome column 'y' mixes values of types"):
        ef.get_estimator(name)().fit(data, outcome="y", treatment="z")


@pytest.mark.parametrize("name", ["kaplan_meier", "cox", "logrank", "fine_gray"])
def test_a_mixed_object_event_column_is_a_data_error(name):
    # was ValueError "operands could not be broadcast together" (_data.py, comparing with a tuple)
    data, spec = _survival(name)
    data = data.assign(**{spec["event"]: _mixed(data[spec["event"]])})
    with pytest.raises(DataError, match=f"event column {spec['event']!r} mixes values of types"):
        ef.get_estimator(name)().fit(data, **spec)


def test_an_event_column_of_zero_and_labels_is_still_accepted():
    data, spec = _survival("kaplan_meier")
    ev = data[spec["event"]].map({0: 0, 1: "job"}).astype(object)
    res = ef.get_estimator("kaplan_meier")().fit(data.assign(**{spec["event"]: ev}), **spec)
    assert np.isfinite(res.estimate)


@pytest.mark.parametrize("name", ["fisher", "g_test"])
def test_a_stray_value_in_a_binary_outcome_is_refused_not_an_rxc_table(trial, name):
    # was a silent 2 x 3 table whose Cramér's V had NaN standard error and interval
    y = (trial.y > 0).astype(int)
    y.iloc[5] = 2
    with pytest.raises(DataError, match="holds 0 and 1 and also 2, so it is not binary"):
        ef.get_estimator(name)().fit(trial.assign(y=y), outcome="y", treatment="z")
    # asked for explicitly, the r x c test is given
    res = ef.get_estimator(name)().fit(trial.assign(y=y), outcome="y", treatment="z", measure="cramers_v")
    assert res.estimand == "cramers_v"


def test_event_study_reference_row_has_standard_error_zero_and_windows_are_checked():
    # was NaN SE on the reference row (every result) and > 5 s at leads=1e20
    est = ef.get_estimator("event_study")
    syn = est.simulate(np.random.default_rng(2), n=40, effect=1.0)
    tab = est().fit(syn.data, **syn.spec)
    ref = tab["e=-1"]
    assert ref.std_error == 0.0 and ref.conf_int == (0.0, 0.0) and ref.extra["reference"]
    for option in ("leads", "lags"):
        with pytest.raises(ef.DesignError, match=f"{option}=100000000000000000000 lies outside the data's event"):
            est().fit(syn.data, **syn.spec, **{option: 10**20})


def test_change_index_nan_standard_errors_come_with_a_warning():
    # was a silent NaN SE when N_after = 0, and a silent NaN row when N_before = 0
    from effekt.errors import EffektWarning
    from effekt_did.change_index import change_index

    with pytest.warns(EffektWarning, match="N_after = 0: the delta-method standard error is undefined"):
        res = change_index(0, 12)
    assert np.isnan(res.std_error) and res.estimate == -100.0
    with pytest.warns(EffektWarning, match="N_before = 0"):
        change_index(5, 0)
    df = pd.DataFrame({"n": [3, 0, 4, 2], "post": [0, 1, 0, 1], "unit": ["a", "a", "b", "b"]})
    with pytest.warns(EffektWarning, match="1 row\\(s\\) with N_after = 0"):
        ef.get_estimator("change_index")().fit(df, outcome="n", post="post", unit="unit")


def test_kaplan_meier_nan_standard_error_at_a_late_horizon_comes_with_a_warning():
    # was a silent NaN SE when a curve reaches 0 by the horizon
    from effekt.errors import EffektWarning

    df = pd.DataFrame({"t": [1.0, 2, 3, 1, 2, 3], "e": [1, 1, 1, 1, 0, 1], "z": [0, 0, 0, 1, 1, 1]})
    with pytest.warns(EffektWarning, match="Greenwood variance is undefined"):
        res = ef.get_estimator("kaplan_meier")().fit(df, time="t", event="e", treatment="z", horizon=1e20)
    assert np.isnan(res.std_error)


@pytest.mark.parametrize("name", ["fine_gray", "cause_specific_cox", "discrete_time_hazard"])
def test_a_constant_survival_covariate_is_a_data_error_naming_it(name):
    # was OverflowError (fine_gray) and "invalid value encountered in sqrt" (cause_specific_cox, discrete_time_hazard)
    data, spec = _survival(name)
    with pytest.raises(DataError, match="covariate '_c' is 1 in every row"):
        ef.get_estimator(name)().fit(data.assign(_c=1.0), **{**spec, "covariates": [*(spec.get("covariates") or []), "_c"]})


def test_discrete_time_hazard_is_unchanged_by_shifting_a_covariate():
    # was "invalid value encountered in sqrt": x + 1e9 was collinear with the period effects
    data, spec = _survival("discrete_time_hazard")
    rng = np.random.default_rng(0)
    data = data.assign(_x=rng.normal(size=len(data)))
    spec = {**spec, "covariates": ["_x"]}
    est = ef.get_estimator("discrete_time_hazard")
    a = est().fit(data, **spec)
    b = est().fit(data.assign(_x=data._x + 1e9), **spec)
    assert b.estimate == pytest.approx(a.estimate, rel=1e-5)


def test_fine_gray_is_unchanged_by_shifting_a_covariate():
    # was "invalid value encountered in sqrt": x - 1e9 made the information matrix numerically singular
    data, spec = _survival("fine_gray")
    rng = np.random.default_rng(0)
    data = data.assign(_x=rng.normal(size=len(data)))
    spec = {**spec, "covariates": ["_x"]}
    est = ef.get_estimator("fine_gray")
    a = est().fit(data, **spec)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        b = est().fit(data.assign(_x=data._x - 1e9), **spec)
    assert b.estimate == pytest.approx(a.estimate, rel=1e-6)
    assert b.std_error == pytest.approx(a.std_error, rel=1e-5)


def test_fine_gray_nearly_collinear_covariates_are_an_estimation_error_naming_them():
    # was OverflowError "math range error": a standard error near 1e300 in exp(b + q s)
    from effekt.errors import EstimationError

    data, spec = _survival("fine_gray")
    x = np.random.default_rng(0).normal(size=len(data))
    near = data.assign(_x=x, _y=x + 1e-14 * np.random.default_rng(1).normal(size=len(data)))
    with pytest.raises(EstimationError, match="'_x', '_y'"):
        ef.get_estimator("fine_gray")().fit(near, **{**spec, "covariates": ["_x", "_y"]})


@pytest.mark.parametrize("name", ["mediation", "product_of_coefficients"])
def test_mediation_with_duplicated_column_names_is_a_data_error(name):
    # was AttributeError "'DataFrame' object has no attribute 'dtype'"
    syn = ef.get_estimator(name).simulate(np.random.default_rng(1), n=60, effect=1.0)
    t = syn.spec["treatment"]
    data = pd.concat([syn.data, syn.data[[t]]], axis=1)
    with pytest.raises(DataError, match=f"column {t!r}: the data have 2 columns with this name"):
        ef.get_estimator(name)().fit(data, **syn.spec)


def test_unorderable_group_labels_are_a_data_error(trial):
    # was TypeError "'<' not supported between instances of 'tuple' and 'float'" (pd.factorize)
    # in fixed effects (lin, lm_robust), pairs (mcnemar) and moderators (heterogeneity)
    b = _mixed(trial.b)
    with pytest.raises(DataError, match="fixed_effects column 'b' mixes values of types"):
        ef.get_estimator("lm_robust")().fit(trial.assign(b=b), outcome="y", treatment="z", fixed_effects="b")
    syn = ef.get_estimator("mcnemar").simulate(np.random.default_rng(1), n=40, effect=1.0)
    col = syn.spec["pairs"]
    with pytest.raises(DataError, match=f"pairs column {col!r} mixes values of types"):
        ef.get_estimator("mcnemar")().fit(syn.data.assign(**{col: _mixed(syn.data[col])}), **syn.spec)
    with pytest.raises(DataError, match="moderator column 'b' mixes values of types"):
        ef.get_estimator("heterogeneity")().fit(trial.assign(b=b), outcome="y", treatment="z", moderators=["b"])


def test_aalen_johansen_large_rho_gives_no_underflow_warning():
    # was "underflow encountered in power" in Gray's weights (1 - F)^rho
    import warnings

    data, spec = _survival("aalen_johansen")
    with warnings.catch_warnings(), np.errstate(all="warn"):
        warnings.simplefilter("error", RuntimeWarning)
        try:
            ef.get_estimator("aalen_johansen")().fit(data, **{**spec, "rho": 1e20})
        except ef.EffektError:
            pass


def test_mediation_survival_horizon_before_the_first_event_is_a_design_error():
    # was IndexError "index -1 is out of bounds" (no finite draw)
    data, spec = _survival("mediation_survival")
    with pytest.raises(ef.DesignError, match="before the first event"):
        ef.get_estimator("mediation_survival")().fit(data, **{**spec, "horizon": 1e-300})


def test_no_underflow_warning_from_a_regressor_with_zero_norm(trial):
    # was "underflow encountered in multiply" (_absorb.check_not_absorbed) for an all-zero covariate
    import warnings

    with warnings.catch_warnings(), np.errstate(all="warn"):
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(ef.EffektError):
            ef.get_estimator("lm_robust")().fit(trial.assign(x=0.0), outcome="y", treatment="z", covariates=["x"],
                                                fixed_effects="b")


@pytest.mark.parametrize("name", ["ri", "mediation", "product_of_coefficients", "mediation_survival",
                                  "wild_cluster_bootstrap"])
def test_sims_beyond_a_million_is_a_design_error(name):
    # was ValueError "Maximum allowed dimension exceeded" or a hang at sims=1e20 (longer fuzz run)
    est = ef.get_estimator(name)
    syn = est.simulate(np.random.default_rng(1), n=40, effect=1.0) if hasattr(est, "simulate") else \
        ef.testing.default_simulate(np.random.default_rng(1), est.tags, n=40, effect=1.0)
    with pytest.raises(ef.DesignError, match="sims=100000000000000000000 is not valid"):
        est().fit(syn.data, **{**syn.spec, "sims": 10**20})


def test_ri_unbounded_interval_and_undefined_se_come_with_a_warning(trial):
    # was a silent (-inf, inf) interval and NaN SE at sims=1 (longer fuzz run)
    import warnings

    from effekt.errors import EffektWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = ef.get_estimator("ri")().fit(trial, outcome="y", treatment="z", sims=1, seed=1, max_exact=0)
    messages = [str(w.message) for w in caught if issubclass(w.category, EffektWarning)]
    assert any("the confidence interval is unbounded" in m for m in messages)
    assert any("the standard error is undefined (NaN) with 1 permutation" in m for m in messages)
    assert not np.isfinite(res.conf_int[0]) or not np.isfinite(res.conf_int[1])


def test_cox_profile_interval_at_a_tiny_alpha_gives_no_invalid_value_warning():
    # was "invalid value encountered in multiply": chi2.ppf(1 - 1e-300) is inf (longer fuzz run)
    import warnings

    data, spec = _survival("cox")
    with warnings.catch_warnings(), np.errstate(all="warn"):
        warnings.simplefilter("error", RuntimeWarning)
        try:
            res = ef.get_estimator("cox")().fit(data, **{**spec, "alpha": 1e-300})
        except ef.EffektError:
            return
    assert np.isfinite(res.estimate)


def test_aalen_johansen_interval_near_zero_gives_no_underflow_warning():
    # was "underflow encountered in exp" in the log-log interval (fuzz round 1, shuffled event column)
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    import fuzzing

    outcome = fuzzing.Outcome()
    for case in fuzzing.cases("aalen_johansen", 1):
        if case.label == "event:shuffled":
            fuzzing.run_case(case, outcome)
    assert outcome.cases == 1 and not outcome.leaked_warnings and not outcome.other_exceptions


def test_mediation_with_one_cluster_names_the_column():
    # before: ZeroDivisionError in the mediation GLM with one cluster
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"y": rng.normal(size=40), "z": np.tile([0, 1], 20), "m": rng.normal(size=40), "c": 0})
    with pytest.raises(ef.DataError, match="clusters column 'c' holds a single cluster"):
        ef.estimate("mediation", data=df, outcome="y", treatment="z", mediator="m", clusters="c", sims=50, seed=1)


def test_callaway_santanna_constant_outcome_is_refused():
    # before: a NaN SE on a constant outcome, without an error
    units, periods = 20, 5
    unit = np.repeat(np.arange(units), periods)
    period = np.tile(np.arange(1, periods + 1), units)
    first = np.where(np.arange(units) < 10, 3, 0)[unit]
    df = pd.DataFrame({"unit": unit, "period": period, "first_treated": first, "y": 1.0})
    with pytest.raises(ef.DataError, match="outcome column 'y' is 1 in every row"):
        ef.estimate("callaway_santanna", data=df, outcome="y", unit="unit", period="period", first_treated="first_treated")


# -- the observational plugin and the DiD plugin's sun_abraham and imputation ------------------------
# Each case below is one the fuzzer failed on when these estimators joined the registry; it is rerun
# through the fuzzer's own case generator and checker (round 0 of its synthetic data).
_NEW_ESTIMATOR_CASES = [
    ("entropy_balancing", "x1:minus_1e9"),  # was LinAlgError and overflow in exp
    ("entropy_balancing", "x2:minus_1e9"),  # was a zero SE naming only the outcome
    ("entropy_balancing", "covariate:collinear"),  # was invalid value in sqrt
    ("entropy_balancing", "frame:two_rows"),  # the no-overlap message did not name the covariates
    ("synthetic_control", "y:minus_1e9"),  # took more than 5 s
    ("synthetic_control", "base"),  # a NaN SE counted as silent (no SE by design, placebo p-value)
    ("synthetic_control", "period:zero"),  # duplicated rows: the message did not name the period column
    ("synthetic_control", "period:negate"),
    ("synthetic_control", "region:empty_string"),
    ("synthetic_did", "period:one_two"),
    ("synthetic_did", "unit:text_value"),
    ("multilevel", "frame:duplicated_index"),  # was IndexError inside statsmodels
    ("multilevel", "y:zero"),  # was divide by zero in the fixed-effect SE
    ("multilevel", "x:zero"),  # the collinear message did not name the covariate
    ("multilevel", "covariate:constant"),
    ("multilevel", "frame:three_rows"),
    ("matching", "frame:three_rows"),  # was "Degrees of freedom <= 0" in the balance table
    ("drdid", "x:zero"),  # singular propensity model: did not name the covariate
    ("drdid", "post:zero"),  # empty DiD cell: did not name the post column
    ("aipw", "frame:two_rows"),  # too few units for the folds: did not name the treatment column
    ("sun_abraham", "period:negate"),  # no unit treated: did not name the period column
    ("sun_abraham", "first_treated:constant"),
    ("imputation", "period:negate"),
    ("imputation", "first_treated:constant"),
    ("imputation", "_x:zero"),  # effects not identified: did not name the covariate
]


@pytest.mark.parametrize(("name", "label"), _NEW_ESTIMATOR_CASES)
def test_new_estimator_fuzz_case_is_clean(name, label):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    import fuzzing

    case = next(c for c in fuzzing.cases(name, 0) if c.label == label)
    outcome = fuzzing.Outcome()
    fuzzing.run_case(case, outcome)
    assert not outcome.other_exceptions, outcome.other_exceptions
    assert not outcome.silent_non_finite, outcome.silent_non_finite
    assert not outcome.leaked_warnings, outcome.leaked_warnings
    assert not outcome.unnamed, outcome.unnamed


def test_entropy_balancing_is_invariant_to_shifting_a_covariate_by_1e9():
    from effekt_observational.entropy import EntropyBalancing

    syn = EntropyBalancing.simulate(np.random.default_rng(5), n=200, effect=1.0)
    base = ef.estimate("entropy_balancing", data=syn.data, **syn.spec)
    shifted = ef.estimate("entropy_balancing", data=syn.data.assign(x1=syn.data.x1 - 1e9), **syn.spec)
    assert shifted.estimate == pytest.approx(base.estimate, rel=1e-6)
    assert shifted.std_error == pytest.approx(base.std_error, rel=1e-4)


def test_synthetic_control_is_invariant_to_shifting_the_outcome_by_1e9():
    from effekt_observational.synthetic_control import SyntheticControl

    syn = SyntheticControl.simulate(np.random.default_rng(3), n=40, effect=1.0)
    base = ef.estimate("synthetic_control", data=syn.data, **syn.spec)
    shifted = ef.estimate("synthetic_control", data=syn.data.assign(y=syn.data.y - 1e9), **syn.spec)
    assert shifted.estimate == pytest.approx(base.estimate, abs=1e-5)
    assert shifted.p_value == base.p_value
    assert base.ci_method == "none" and np.isnan(base.std_error) and np.isfinite(base.p_value)


def test_multilevel_duplicated_index_gives_the_same_fit():
    from effekt_observational.multilevel import Multilevel

    syn = Multilevel.simulate(np.random.default_rng(2), n=96, effect=1.0)
    base = ef.estimate("multilevel", data=syn.data, **syn.spec)
    dup = ef.estimate("multilevel", data=syn.data.set_axis(np.arange(len(syn.data)) // 2), **syn.spec)
    assert dup.estimate == pytest.approx(base.estimate, rel=1e-8)
    assert dup.n == base.n


def test_multilevel_constant_outcome_names_the_outcome():
    from effekt_observational.multilevel import Multilevel

    syn = Multilevel.simulate(np.random.default_rng(2), n=96, effect=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(ef.EffektError, match="outcome column 'y'"):
            ef.estimate("multilevel", data=syn.data.assign(y=0.0), **syn.spec)


def _staggered(seed: int = 1) -> tuple[pd.DataFrame, dict]:
    syn = ef.get_estimator("callaway_santanna").simulate(np.random.default_rng(seed), n=40)
    x = np.random.default_rng(seed).normal(size=len(syn.data))
    return syn.data.assign(x=x), dict(syn.spec)


@pytest.mark.parametrize("option", ["anticipation", "sims"])
def test_callaway_santanna_refuses_a_count_of_1e20_by_name(option):
    # before: OverflowError (anticipation) and ValueError "Maximum allowed dimension exceeded" (sims)
    data, spec = _staggered()
    with pytest.raises(ef.DesignError, match=rf"{option}=100000000000000000000 is not valid"):
        ef.estimate("callaway_santanna", data=data, **spec, **{option: 10**20})
    with pytest.raises(ef.DesignError, match="anticipation=6 is not less than the number of periods"):
        ef.estimate("callaway_santanna", data=data, **spec, anticipation=6)


@pytest.mark.parametrize("panel", [True, False])
def test_callaway_santanna_names_a_constant_or_collinear_covariate(panel):
    # before: LinAlgError "Singular matrix" (or a message naming no covariate on repeated cross-sections)
    data, spec = _staggered()
    with pytest.raises(DataError, match="covariate 'c' is 1 in every row"):
        ef.estimate("callaway_santanna", data=data.assign(c=1.0), **spec, covariates=["x", "c"], panel=panel)
    with pytest.raises(DataError, match="covariate 'c' is collinear with 'x'"):
        ef.estimate("callaway_santanna", data=data.assign(c=2 * data.x + 1), **spec, covariates=["x", "c"],
                    panel=panel)


def test_callaway_santanna_covariate_shifted_by_1e9_is_not_singular():
    # before: LinAlgError "Singular matrix" in a comparison's outcome regression (seed 1006); now centred
    data, spec = _staggered(1006)
    base = ef.estimate("callaway_santanna", data=data, **spec, covariates=["x"])
    shifted = ef.estimate("callaway_santanna", data=data.assign(x=data.x - 1e9), **spec, covariates=["x"])
    assert shifted.estimate == pytest.approx(base.estimate, rel=1e-6)
    assert shifted.std_error == pytest.approx(base.std_error, rel=1e-6)


@pytest.mark.parametrize("aggregation", ["simple", "group", "none"])
def test_callaway_santanna_max_e_below_zero_is_refused(aggregation):
    # before: estimate 0 with a NaN standard error and no warning (max_e=-0.5)
    data, spec = _staggered(1001)
    with pytest.raises(ef.DesignError, match="max_e=-0.5 is below 0"):
        ef.estimate("callaway_santanna", data=data, **spec, max_e=-0.5, aggregation=aggregation)


def _cox_data() -> tuple[pd.DataFrame, dict]:
    syn = ef.get_estimator("cox").simulate(np.random.default_rng(1), n=40, effect=1.0)
    return syn.data.assign(x=np.random.default_rng(2).normal(size=40)), dict(syn.spec)


def test_cox_numerical_failures_name_the_terms_and_columns():
    # before: "Newton-Raphson did not converge" (weights), "a risk set is empty" (a covariate equal to
    # 2 * time + 1, and the profile interval at alpha=1e-300) without naming a column or option
    data, spec = _cox_data()
    spread = data.assign(w=np.where(np.arange(40) == 0, 1e12, 1.0))
    with pytest.raises(ef.EstimationError, match="weights column 'w'"):
        ef.estimate("cox", data=spread, **spec, covariates=["x"], weights="w")
    with pytest.raises(ef.EstimationError, match=r"model terms: 'z', 'x'; event column 'event'"):
        ef.estimate("cox", data=data.assign(x=2 * data.time + 1), **spec, covariates=["x"])
    with pytest.raises(ef.EstimationError, match="profile-likelihood interval at alpha=1e-300"):
        ef.estimate("cox", data=data, **spec, covariates=["x"], alpha=1e-300)


def test_cox_covariate_shifted_by_1e9_is_centred_not_singular():
    # before: "the information matrix is singular" for x - 1e9
    data, spec = _cox_data()
    base = ef.estimate("cox", data=data, **spec, covariates=["x"])
    with np.errstate(all="raise"):
        shifted = ef.estimate("cox", data=data.assign(x=data.x - 1e9), **spec, covariates=["x"])
    assert shifted.estimate == pytest.approx(base.estimate, rel=1e-6)


def test_lin_names_the_covariate_not_its_centred_term():
    # before: "regressor 'x_c' is constant within the levels of the fixed effects"
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"y": rng.normal(size=40), "z": np.tile([0, 1], 20), "b": np.repeat(np.arange(4), 10)})
    with pytest.raises(ef.EstimationError, match="regressor 'x' \\(centred\\) is constant within"):
        ef.estimate("lin", data=df.assign(x=df.b * 1.0), outcome="y", treatment="z", blocks="b", covariates=["x"])


@pytest.mark.parametrize("name", ["rmst", "kaplan_meier"])
def test_a_zero_standard_error_names_the_time_column_and_horizon(name):
    # before: "the standard error is 0.0 ... check the outcome column 'event'"
    df = pd.DataFrame({"time": np.tile([5.0, 6.0, 7.0, 8.0], 10), "event": np.tile([0, 0, 1, 1], 10),
                       "z": np.repeat([0, 1], 20)})
    with pytest.raises(DataError, match="standard error at horizon=2 is 0.*time column 'time'"):
        ef.estimate(name, data=df, time="time", event="event", treatment="z", horizon=2.0)


def test_rmst_horizon_message_names_censored():
    # before: the horizon message after censored= recoded the events named only the time column
    df = pd.DataFrame({"time": np.tile([1.0, 2.0, 3.0, 4.0], 10), "event": np.tile(["c", "e", "e", "c"], 10),
                       "z": np.repeat([0, 1], 20)})
    with pytest.raises(ef.DesignError, match="censored='c'"):
        ef.estimate("rmst", data=df, time="time", event="event", treatment="z", horizon=9.0, censored="c")


def test_survival_messages_name_censored_where_it_recoded_the_events():
    # before: with censored=1 every 0/1 event became an event or censoring, and the messages named
    # only the time or event column (kaplan_meier's zero SE, rmst's arm without events)
    df = pd.DataFrame({"time": np.tile([5.0, 6.0, 7.0, 8.0], 10), "event": np.tile([0, 0, 1, 1], 10),
                       "z": np.repeat([0, 1], 20)})
    with pytest.raises(DataError, match="censored=1"):
        ef.estimate("kaplan_meier", data=df, time="time", event="event", treatment="z", horizon=2.0, censored=1)
    one_arm = df.assign(event=np.where(df.z == 1, 1, df.event))
    with pytest.raises(DataError, match="treated arm has no events \\(event column 'event' with censored=1\\)"):
        ef.estimate("rmst", data=one_arm, time="time", event="event", treatment="z", horizon=6.0, censored=1)


def test_entropy_balancing_underflow_of_far_rows_is_not_reported():
    # before: RuntimeWarning "underflow encountered in exp" (a control row far from the target gets weight 0)
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    import fuzzing

    outcome = fuzzing.Outcome()
    for case in fuzzing.cases("entropy_balancing", 3):  # round 3: the three rows that underflowed
        if case.label == "frame:three_rows":
            fuzzing.run_case(case, outcome)
    assert outcome.cases == 1 and not outcome.leaked_warnings and not outcome.other_exceptions


def _multilevel() -> tuple[pd.DataFrame, dict]:
    syn = ef.get_estimator("multilevel").simulate(np.random.default_rng(1), n=48, effect=1.0)
    return syn.data, dict(syn.spec)


def test_multilevel_constant_outcome_and_collinear_covariate_are_named():
    # before: RuntimeWarning "divide by zero" (outcome all 0) and a collinearity message naming no column
    data, spec = _multilevel()
    with pytest.raises(DataError, match="outcome column 'y' is 0 in every row"):
        ef.estimate("multilevel", data=data.assign(y=0.0), **spec)
    with pytest.raises(DataError, match=r"term 'c' is constant or a combination.*covariates=\['x', 'c'\]"):
        ef.estimate("multilevel", data=data.assign(c=1.0), **{**spec, "covariates": [*spec.get("covariates", []), "c"]})


def test_multilevel_with_a_repeated_index_fits_every_row_once():
    # before: IndexError inside statsmodels (rows selected by a repeated index label were repeated)
    data, spec = _multilevel()
    base = ef.estimate("multilevel", data=data, **spec)
    same = ef.estimate("multilevel", data=data.set_axis(np.zeros(len(data), dtype=int)), **spec)
    assert same.n == base.n and same.estimate == pytest.approx(base.estimate)


def test_matching_on_three_rows_reports_no_numpy_warning():
    # before: RuntimeWarning "Degrees of freedom <= 0 for slice" from the balance table's SD of a one-row arm
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    import fuzzing

    outcome = fuzzing.Outcome()
    for case in fuzzing.cases("matching", 0):
        if case.label == "frame:three_rows":
            fuzzing.run_case(case, outcome)
    assert outcome.cases == 1 and not outcome.leaked_warnings and not outcome.other_exceptions


def test_synthetic_control_has_no_interval_by_design_and_names_the_period_column():
    # before: every result counted as a silent NaN (no SE or interval: placebo p-values, ci_method "none"),
    # and a repeated or negated period column gave messages naming only the unit or post column
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    import fuzzing

    outcome = fuzzing.Outcome()
    for case in fuzzing.cases("synthetic_control", 0):
        if case.label in ("base", "period:zero", "period:negate"):
            fuzzing.run_case(case, outcome)
    assert outcome.cases == 3 and not outcome.silent_non_finite and not outcome.unnamed
