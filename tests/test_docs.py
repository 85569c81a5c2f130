"""The user guide and the API reference stay whole and true.

Every page is in the navigation, every public module is in the API reference,
every install instruction is the README's one line, every python example runs
as written (the docs cannot drift), and the site builds with ``--strict``.
"""

import doctest
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
# the README's quick start, which every page's install instruction repeats
INSTALL = "python3 -m venv .venv && .venv/bin/pip install -r requirements/all.txt"
PAGES = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md"))
PACKAGES = {
    "effekt": ROOT / "src" / "effekt",
    "effekt_survival": ROOT / "plugins" / "survival" / "src" / "effekt_survival",
    "effekt_did": ROOT / "plugins" / "did" / "src" / "effekt_did",
    "effekt_power": ROOT / "plugins" / "power" / "src" / "effekt_power",
    "effekt_observational": ROOT / "plugins" / "observational" / "src" / "effekt_observational",
}


def _blocks(page: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", (DOCS / page).read_text(), flags=re.S)


def _nav_pages(entries) -> list[str]:
    found: list[str] = []
    for entry in entries:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        if isinstance(value, list):
            found += _nav_pages(value)
        else:
            found.append(value)
    return found


def _mkdocs_config() -> dict:
    # mkdocs.yml uses no custom tags, so the plain safe loader reads it
    return yaml.safe_load((ROOT / "mkdocs.yml").read_text())


def test_every_page_is_in_the_navigation():
    nav = _nav_pages(_mkdocs_config()["nav"])
    missing = [page for page in PAGES if page not in nav]
    assert not missing, f"add these pages to the nav in mkdocs.yml: {missing}"
    absent = [page for page in nav if page not in PAGES]
    assert not absent, f"mkdocs.yml lists pages that docs/ does not have: {absent}"


def test_every_public_module_is_in_the_api_reference():
    documented = set()
    for page in (DOCS / "api").glob("*.md"):
        documented |= set(re.findall(r"^::: ([\w.]+)", page.read_text(), flags=re.M))
    public = set()
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = path.relative_to(folder).with_suffix("").parts
            if any(part.startswith("_") and part != "__init__" for part in parts):
                continue
            parts = parts[:-1] if parts[-1] == "__init__" else parts
            public.add(".".join((package, *parts)))
    missing = sorted(public - documented)
    assert not missing, f"add these modules to a page in docs/api/: {missing}"


def _install_commands(text: str) -> list[str]:
    # a line of a shell block, or an inline `code span`, that runs pip install
    commands = []
    for line in text.splitlines():
        if not re.search(r"\bpip3? install\b", line):
            continue
        spans = [span for span in re.findall(r"`([^`]+)`", line) if re.search(r"\bpip3? install\b", span)]
        commands += spans or [line.strip()]
    return commands


@pytest.mark.parametrize("page", [*PAGES, "../README.md"])
def test_install_instructions_are_the_quick_start_line(page):
    text = (DOCS / page).read_text()
    if page == "../README.md":
        # the test command installs the test tools; CI runs it from between its markers
        text = re.sub(r"<!-- test-command -->.*?<!-- /test-command -->", "", text, flags=re.S)
        assert INSTALL in text, "the README's quick start is the install line every page repeats"
    for command in _install_commands(text):
        assert command.startswith(INSTALL), (
            f"{page}: install with the README's line {INSTALL!r} (or link to getting-started.md), "
            f"not {command!r}"
        )


RUNNABLE = [page for page in PAGES if _blocks(page, "python")]


def _run_block(block: str, page: str, namespace: dict) -> None:
    if block.lstrip().startswith(">>>"):
        # an interactive session: the printed output is part of the example
        test = doctest.DocTestParser().get_doctest(block, namespace, page, page, 0)
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        runner.run(test, clear_globs=False)
        assert runner.tries and not runner.failures, f"{page}: an interactive example prints something else"
        return
    exec(compile(block, page, "exec"), namespace)
    if "@parametrize_with_checks" in block:
        # a pytest test module fragment: run the checks it declares
        for param in namespace["test_conformance"].pytestmark[0].args[1]:
            estimator, check = param.values
            check(estimator)


def test_every_page_with_examples_is_run():
    assert {"getting-started.md", "power.md", "did.md", "survival.md"} <= set(RUNNABLE)
    # a case study reproduces published figures: each is run, and checks its numbers with assert
    studies = [page for page in PAGES if page.startswith("case-studies/")]
    assert len(studies) >= 4 and set(studies) <= set(RUNNABLE)
    for page in studies:
        assert any("assert " in block for block in _blocks(page, "python")), page


@pytest.mark.parametrize("page", RUNNABLE)
def test_python_blocks_run(page):
    # every ```python block of the page runs as written, in order, in one namespace
    import matplotlib.pyplot as plt

    from effekt.errors import EffektWarning

    namespace: dict = {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EffektWarning)  # some examples show a warning on purpose
            for block in _blocks(page, "python"):
                _run_block(block, page, namespace)
    finally:
        plt.close("all")


def test_plugin_guide_matches_the_example_plugin():
    toml = _blocks("plugins.md", "toml")[0]
    shipped = (ROOT / "tests" / "example_plugin" / "pyproject.toml").read_text()
    for line in toml.strip().splitlines():
        if line.strip() and not line.startswith("["):
            assert line in shipped, f"the guide's line {line!r} is not in the example plugin's pyproject.toml"


def test_site_builds_strict(tmp_path):
    # every page in mkdocs.yml renders without a warning (broken links, missing
    # pages, docstrings the API reference cannot parse); needs the test extra
    out = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert out.returncode == 0, out.stderr
    assert "WARNING" not in out.stderr, out.stderr
    assert (tmp_path / "site" / "api" / "core" / "index.html").is_file()
