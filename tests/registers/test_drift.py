"""Cohort drift on Flere skal med's Table 1 (seed 002 §4.3)."""

import numpy as np
import pandas as pd
import pytest

from effekt.errors import DataError
from effekt.registers import cohort_drift


def table_1():
    # seed 002 §4.3: group 1 visited before (10,619) and after (2,237) 1 Jan 2018; counts
    # reconstructed from the rounded % (6/58/36 vs 10/60/30 by age; 63/35/2 vs 71/27/2 by origin)
    def people(n, age, origin, cohort):
        a = np.repeat(["<30", "30-50", ">50"], [round(n * p / 100) for p in age])
        o = np.repeat(["danish", "immigrant", "descendant"], [round(n * p / 100) for p in origin])
        assert len(a) == len(o) == n
        return pd.DataFrame({"age": a, "origin": o, "cohort": cohort})

    return pd.concat([people(10619, (6, 58, 36), (63, 35, 2), "before 2018"),
                      people(2237, (10, 60, 30), (71, 27, 2), "after 2018")], ignore_index=True)


@pytest.fixture(scope="module")
def drift():
    return cohort_drift(table_1(), cohort="cohort", covariates=["age", "origin"], arms=("before 2018", "after 2018"))


def test_smds_and_flags(drift):
    t = drift.tidy().set_index(["variable", "level"])
    # seed 002 §4.3: SMD (<30) = +0.148, (Danish) = +0.171, (immigrants) = -0.174, (>50) = -0.128
    assert t.loc[("age", "<30"), "smd"] == pytest.approx(0.148, abs=0.001)
    assert t.loc[("origin", "danish"), "smd"] == pytest.approx(0.171, abs=0.001)
    assert t.loc[("origin", "immigrant"), "smd"] == pytest.approx(-0.174, abs=0.001)
    assert t.loc[("age", ">50"), "smd"] == pytest.approx(-0.128, abs=0.001)
    assert t.loc[("age", "<30"), "flagged"] and not t.loc[("age", "30-50"), "flagged"]
    assert set(drift.extra["flagged"]) == {"age: <30", "age: >50", "origin: danish", "origin: immigrant"}


def test_chi_square_tests(drift):
    t = drift.tidy().set_index(["variable", "level"])
    # seed 002 §4.3: age chi2 = 64.8, df 2, p = 8.5e-15; origin chi2 = 53.5, df 2, p = 2.4e-12
    assert t.loc[("age", "<30"), "statistic"] == pytest.approx(64.8, abs=0.05)
    assert t.loc[("age", "<30"), "df"] == 2
    assert t.loc[("age", "<30"), "p_value"] == pytest.approx(8.5e-15, rel=0.02)
    assert t.loc[("origin", "danish"), "statistic"] == pytest.approx(53.5, abs=0.05)
    assert t.loc[("origin", "danish"), "p_value"] == pytest.approx(2.4e-12, rel=0.03)


def test_pooled_columns(drift):
    t = drift.tidy().set_index(["variable", "level"])
    # seed 002 §4.3: pooled <30 6.70 %, Danish 64.39 %, immigrants 33.61 %
    assert t.loc[("age", "<30"), "pct_pooled"] == pytest.approx(6.70, abs=0.005)
    assert t.loc[("origin", "danish"), "pct_pooled"] == pytest.approx(64.39, abs=0.005)
    assert t.loc[("origin", "immigrant"), "pct_pooled"] == pytest.approx(33.61, abs=0.005)
    assert t.loc[("age", "<30"), "n_pooled"] == 637 + 224
    assert drift.extra["n"] == {"earlier": 10619, "later": 2237}


def test_numeric_characteristic_and_plot():
    rng = np.random.default_rng(2)
    df = pd.DataFrame({"cohort": np.repeat([0, 1], 200), "activation_rate": np.r_[rng.normal(31, 10, 200),
                                                                                   rng.normal(35, 10, 200)]})
    res = cohort_drift(df, cohort="cohort", covariates=["activation_rate"])
    row = res.tidy().iloc[0]
    assert row["mean_pooled"] == pytest.approx(df.activation_rate.mean())
    assert row["test"] == "welch_t" and row["smd"] > 0.1
    assert type(res.plot()).__name__ == "Figure"
    same = cohort_drift(df.assign(activation_rate=1.0), cohort="cohort", covariates=["activation_rate"])
    assert same.extra["flagged"] == [] and "none" in same.summary()


def test_text_cohorts_need_their_order():
    with pytest.raises(DataError, match="before 2018"):
        cohort_drift(table_1(), cohort="cohort", covariates=["age"])
