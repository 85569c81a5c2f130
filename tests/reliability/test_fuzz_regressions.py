"""One regression test per distinct cause the fuzzer found (tests/reliability/fuzzing.py)."""

from __future__ import annotations

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
