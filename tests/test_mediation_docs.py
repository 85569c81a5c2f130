"""The mediation modules' docstring examples run and print what they say."""

from __future__ import annotations

import doctest
import importlib
import warnings

import pytest

from effekt.errors import EffektWarning

MODULES = [
    "effekt.mediation.mediation",
    "effekt.mediation.sensitivity_analysis",
    "effekt.mediation.product_of_coefficients",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EffektWarning)
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
