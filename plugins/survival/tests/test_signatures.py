"""Every fit() option is documented in its class docstring (docs cannot drift from signatures)."""

import inspect

import pytest

import effekt as ef

_table = ef.available()
_OURS = [
    ef.get_estimator(name)
    for name in _table[(_table.group == "effekt.estimators") & (_table.distribution == "effekt-survival")].name
]


@pytest.mark.parametrize("cls", _OURS, ids=lambda c: c.name)
def test_every_option_is_documented(cls):
    doc = inspect.getdoc(cls)
    params = doc.split("Parameters\n----------", 1)[1].split("Returns\n-------", 1)[0]
    for name, p in inspect.signature(cls.fit).parameters.items():
        if name in ("self", "data"):
            continue
        assert p.kind is inspect.Parameter.KEYWORD_ONLY, f"{cls.name}: {name} must be keyword-only"
        assert name in params, f"{cls.name}: option {name!r} is not documented under Parameters"


@pytest.mark.parametrize("cls", _OURS, ids=lambda c: c.name)
def test_docstring_order(cls):
    doc = inspect.getdoc(cls)
    sections = ["Estimand", "Formula", "Defaults and why", "Parameters", "Returns", "Raises", "References",
                "Examples"]
    positions = [doc.find(s) for s in sections]
    assert all(p >= 0 for p in positions), dict(zip(sections, positions))
    assert positions == sorted(positions), dict(zip(sections, positions))
