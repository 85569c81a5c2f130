"""The docstring examples of every effekt-survival module run as written."""

import doctest
import importlib
import pkgutil

import pytest

import effekt_survival

MODULES = sorted(m.name for m in pkgutil.iter_modules(effekt_survival.__path__, "effekt_survival."))


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {name}"
