"""The code in docs/estimators.md runs as written."""

import re
from pathlib import Path

PAGE = Path(__file__).resolve().parents[1] / "docs" / "estimators.md"


def test_estimators_guide_runs():
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)
    assert len(blocks) >= 8
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(PAGE), "exec"), namespace)
    assert namespace["ri"].p_value < 0.05 and namespace["cace"].extra["first_stage_f"] > 10
