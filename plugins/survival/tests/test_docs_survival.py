"""The code in docs/survival.md runs as written, and the estimator table matches the registry."""

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import effekt as ef

PAGE = Path(__file__).resolve().parents[3] / "docs" / "survival.md"


def test_python_blocks_run():
    text = PAGE.read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 6
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(PAGE), "exec"), namespace)
    assert namespace["chk"].consistent is False
    assert round(namespace["info"].fraction, 2) == 0.39


def test_table_lists_every_registered_estimator():
    text = PAGE.read_text()
    table = ef.available()
    ours = table[(table.group == "effekt.estimators") & (table.distribution == "effekt-survival")]
    for name, estimand in zip(ours.name, ours.estimand):
        assert f"| `{name}` |" in text, name
        assert f"`{estimand}`" in text, (name, estimand)
