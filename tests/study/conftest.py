"""Fixtures of the study tests: the bundled example written to a folder, small study files, a PostgreSQL URL."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from effekt.examples import load_trial, write_study

MINIMAL = """
[study]
title = "A small trial"

[design]
treatment = "z"
id = "id"
blocks = "batch"

[data]
path = "trial.csv"

[[outcomes]]
name = "activity_hours"
role = "primary"
type = "continuous"
estimator = "difference_in_means"
options = { blocks = "batch" }

[[outcomes]]
name = "complaint"
role = "secondary"
type = "binary"
estimator = "chi2"
options = { correction = "none" }
"""


def write(folder: Path, text: str, name: str = "study.toml") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


@pytest.fixture
def small(tmp_path: Path) -> Path:
    """A folder with trial.csv and a two-outcome study.toml; returns the study file."""
    load_trial().to_csv(tmp_path / "trial.csv", index=False)
    return write(tmp_path, MINIMAL)


@pytest.fixture(scope="session")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled example study written to a folder (not run); returns study.toml."""
    return write_study(tmp_path_factory.mktemp("example"))


def required_service(variable: str, what: str) -> str:
    """The value of ``variable``; skip when unset, but fail under CI=true (CI must not skip silently)."""
    value = os.environ.get(variable)
    if value:
        return value
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{variable} is not set under CI=true: .ci/run must provide {what}.")
    pytest.skip(f"{variable} is not set (.ci/run sets it; it provides {what})")


@pytest.fixture
def postgres_url() -> str:
    return required_service("EFFEKT_POSTGRES_URL", "a PostgreSQL server")
