"""Text and categorical covariates are expanded as R codes a factor (treatment contrasts)."""

import numpy as np
import pandas as pd
import pytest

from effekt.data import check_columns, expand_covariates
from effekt.errors import DataError


def test_text_levels_sorted_first_is_reference():
    df = pd.DataFrame({"sector": ["retail", "care", "care", "build", "retail"]})
    cov = expand_covariates(df, ["sector"])
    # R: model.matrix(~ sector) with sector a factor of sorted levels: build is the reference
    assert cov.reference_levels == {"sector": "build"}
    assert cov.names == ["sector[care]", "sector[retail]"]
    np.testing.assert_array_equal(cov.matrix, [[0, 1], [1, 0], [1, 0], [0, 0], [0, 1]])


def test_categorical_keeps_its_category_order():
    s = pd.Categorical(["b", "a", "c", "a"], categories=["c", "b", "a"])
    cov = expand_covariates(pd.DataFrame({"s": s}), "s")
    assert cov.reference_levels == {"s": "c"} and cov.names == ["s[b]", "s[a]"]


def test_numeric_and_bool_pass_through():
    df = pd.DataFrame({"age": [30.0, 41.0], "flag": [True, False]})
    cov = expand_covariates(df, ["age", "flag"])
    assert cov.names == ["age", "flag"] and cov.reference_levels == {}
    np.testing.assert_array_equal(cov.matrix, [[30.0, 1.0], [41.0, 0.0]])


def test_check_columns_expands_and_reports():
    df = pd.DataFrame({"y": np.arange(6.0), "z": [0, 1] * 3, "s": list("abcabc")})
    cols = check_columns(df, outcome="y", treatment="z", covariates=["s"])
    assert cols.covariate_names == ["s[b]", "s[c]"] and cols.reference_levels == {"s": "a"}
    assert cols.X.shape == (6, 2)


@pytest.mark.parametrize(
    ("values", "match"),
    [(["a", "a", "a"], "holds only 'a'"), (["a", None, "b"], "missing value"), ([f"id{i}" for i in range(60)], "60 distinct")],
)
def test_bad_text_covariates(values, match):
    with pytest.raises(DataError, match=match):
        expand_covariates(pd.DataFrame({"s": values}), ["s"])
