"""The parameter table `effekt power NAME --help` shows is what solve() accepts."""

from __future__ import annotations

from importlib import metadata

import numpy as np
import pandas as pd
import pytest

import effekt as ef
from effekt_power import simulate_power
from effekt_power._core import Calculator

CALCULATORS = sorted(
    (ep.name, ep.load()) for ep in metadata.entry_points(group="effekt.power") if ep.dist.metadata["Name"] == "effekt-power"
)
DECLARED = [(name, cls) for name, cls in CALCULATORS if issubclass(cls, Calculator)]


@pytest.mark.parametrize(("name", "cls"), DECLARED, ids=[n for n, _ in DECLARED])
def test_parameters_are_the_names_solve_accepts_and_each_has_a_meaning(name, cls):
    from effekt._help import calculator_parameters

    rows = calculator_parameters(cls)
    assert sorted(r[0] for r in rows) == sorted(set(cls()._known_names()))
    assert all(default for _, default, _ in rows), rows
    assert [r[0] for r in rows if not r[2]] == [], f"{name}: parameters without a meaning"


def test_declared_defaults_are_those_solve_uses():
    rows = {r["name"]: r["default"] for r in ef.get_power_calculator("two_means").parameters()}
    assert rows["alpha"].startswith("0.05")
    assert rows["alternative"] == "two-sided"


def _draw(rng):
    z = np.repeat([0, 1], 20)
    return pd.DataFrame({"y": rng.normal(0.8 * z), "z": z})


def test_simulate_power_in_parallel_equals_the_serial_run():
    # joblib is a dependency of effekt-power (n_jobs fans out through it)
    kwargs = dict(sims=40, seed=7, outcome="y", treatment="z")
    serial = simulate_power("difference_in_means", _draw, n_jobs=1, **kwargs)
    parallel = simulate_power("difference_in_means", _draw, n_jobs=2, **kwargs)
    assert parallel.value == serial.value
