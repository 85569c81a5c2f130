"""The docstring examples of the estimator modules run as written."""

import doctest
import importlib

import matplotlib
import pytest

matplotlib.use("Agg")

MODULES = [
    "effekt.sandwich",
    "effekt.absorb",
    "effekt.estimators._model",
    "effekt.estimators.lm_robust",
    "effekt.estimators.lin",
    "effekt.estimators.cace",
    "effekt.estimators.horvitz_thompson",
    "effekt.estimators.ri",
    "effekt.estimators.heterogeneity",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
