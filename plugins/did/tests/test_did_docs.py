"""The python examples of docs/did.md run as written."""

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

PAGE = Path(__file__).resolve().parents[3] / "docs" / "did.md"


def test_did_guide_examples_run():
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)
    assert len(blocks) >= 4
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(PAGE), "exec"), namespace)
