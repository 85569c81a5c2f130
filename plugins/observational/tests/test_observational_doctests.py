"""The docstring examples of every effekt_observational module run."""

import doctest
import importlib
import pkgutil
import warnings

import matplotlib
import pytest

import effekt_observational

matplotlib.use("Agg")

MODULES = sorted(m.name for m in pkgutil.iter_modules(effekt_observational.__path__, "effekt_observational."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
