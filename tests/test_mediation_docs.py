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
    "effekt.mediation.models",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EffektWarning)
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0


def test_user_guide_examples_run() -> None:
    # every python block of docs/mediation.md runs as written, in order
    import re
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    page = Path(__file__).resolve().parents[1] / "docs" / "mediation.md"
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)
    assert len(blocks) >= 4
    namespace: dict[str, object] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EffektWarning)
        for block in blocks:
            exec(compile(block, str(page), "exec"), namespace)
