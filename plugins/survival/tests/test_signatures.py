"""Class docstrings keep one section order (options themselves are checked by effekt's
conformance check ``check_vocabulary``: in the vocabulary, keyword-only, documented)."""

import inspect

import pytest

import effekt as ef

_table = ef.available()
_OURS = [
    ef.get_estimator(name)
    for name in _table[(_table.group == "effekt.estimators") & (_table.distribution == "effekt-survival")].name
]


@pytest.mark.parametrize("cls", _OURS, ids=lambda c: c.name)
def test_docstring_order(cls):
    doc = inspect.getdoc(cls)
    sections = ["Estimand", "Formula", "Defaults and why", "Parameters", "Returns", "Raises", "References",
                "Examples"]
    positions = [doc.find(s) for s in sections]
    assert all(p >= 0 for p in positions), dict(zip(sections, positions))
    assert positions == sorted(positions), dict(zip(sections, positions))
