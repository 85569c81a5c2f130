"""docs/tables.md runs as written, and the table modules' doctest examples pass."""

from __future__ import annotations

import doctest
import importlib
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs" / "tables.md"
MODULES = [
    "effekt.counts",
    "effekt.estimators._tables",
    "effekt.estimators._fisher_network",
    "effekt.estimators.risk_difference",
    "effekt.estimators.risk_ratio",
    "effekt.estimators.odds_ratio",
    "effekt.estimators.chi2",
    "effekt.estimators.fisher",
    "effekt.estimators.g_test",
    "effekt.estimators.mcnemar",
    "effekt.estimators.multiplicity",
]


def test_tables_page_runs():
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(), flags=re.S)
    assert len(blocks) >= 3
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(DOCS), "exec"), namespace)
    assert round(namespace["res"].extra["statistic"], 3) == 7.720
    # the summary shown on the page is the one printed
    shown = re.findall(r"```text\n(.*?)```", DOCS.read_text(), flags=re.S)[0]
    assert namespace["res"].summary().strip() == shown.strip()
    mc = namespace["mc"]
    assert (mc.n, mc.n_treated, mc.n_control, mc.n_units) == (208, 104, 104, 104)


@pytest.mark.parametrize("module", MODULES)
def test_doctests(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{module} has no doctest example"
    assert result.failed == 0


@pytest.mark.parametrize(
    "name", ["risk_difference", "risk_ratio", "odds_ratio", "chi2", "fisher", "g_test", "mcnemar"]
)
def test_docstring_lists_every_option(name):
    import inspect

    import effekt as ef

    cls = ef.get_estimator(name)
    cls = cls if isinstance(cls, type) else type(cls)
    doc = inspect.getdoc(cls) or ""
    params = doc.split("Parameters")[1].split("Returns")[0]
    for option in inspect.signature(cls.fit).parameters:
        if option == "self":
            continue
        assert f"\n{option} :" in "\n" + params or f", {option} :" in params or f"{option}, " in params, (
            f"{name}: option {option!r} is not documented under Parameters"
        )
