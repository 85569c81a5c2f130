"""The code in the user guide runs as written (the docs cannot drift)."""

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
RUNNABLE = ["getting-started.md", "contract.md", "plugins.md"]


def _blocks(page: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", (DOCS / page).read_text(), flags=re.S)


@pytest.mark.parametrize("page", RUNNABLE)
def test_python_blocks_run(page):
    namespace: dict = {}
    blocks = _blocks(page, "python")
    assert blocks, f"{page} has no python examples"
    for block in blocks:
        if "@parametrize_with_checks" in block:
            # a pytest test module fragment: define it and run the checks it declares
            exec(compile(block, page, "exec"), namespace)
            for param in namespace["test_conformance"].pytestmark[0].args[1]:
                estimator, check = param.values
                check(estimator)
            continue
        exec(compile(block, page, "exec"), namespace)


def test_plugin_guide_matches_the_example_plugin():
    toml = _blocks("plugins.md", "toml")[0]
    shipped = (DOCS.parent / "tests" / "example_plugin" / "pyproject.toml").read_text()
    for line in toml.strip().splitlines():
        if line.strip() and not line.startswith("["):
            assert line in shipped, f"the guide's line {line!r} is not in the example plugin's pyproject.toml"


def test_site_builds_strict(tmp_path):
    # every page in mkdocs.yml renders without a warning (broken links, missing pages)
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
        cwd=DOCS.parent, capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr
