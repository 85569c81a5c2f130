"""The docstring examples of the panel and multilevel modules run."""

import doctest
import importlib
import warnings

import matplotlib
import pytest

matplotlib.use("Agg")

MODULES = ["effekt_observational._drdid_kernels", "effekt_observational.drdid", "effekt_observational.multilevel",
           "effekt_observational.synthetic_control", "effekt_observational.synthetic_did"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
