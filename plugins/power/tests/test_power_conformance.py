"""Every registered power calculator passes effekt's calculator conformance suite."""

from __future__ import annotations

from importlib import metadata

import pytest

from effekt import get_power_calculator
from effekt.testing import CALCULATOR_CHECKS as CHECKS
from effekt.testing import check_calculator

NAMES = sorted({ep.name for ep in metadata.entry_points(group="effekt.power")})


@pytest.mark.parametrize("check", sorted(CHECKS))
@pytest.mark.parametrize("name", NAMES)
def test_conformance(name: str, check: str) -> None:
    [record] = check_calculator(get_power_calculator(name), checks=[check], raise_on_failure=False)
    if record.status == "skipped":
        pytest.skip(record.message)
    assert record.status == "passed", record.message


def test_failures_are_reported_without_raising() -> None:
    from effekt_power.means import TwoMeans

    class Broken(TwoMeans):
        example = {"d": 0.5, "n": 64.0, "power": 0.8, "alpha": 0.05}

        def _power(self, v, opts):  # type: ignore[no-untyped-def]
            return 1.0 - super()._power(v, opts)  # power falls with n

    records = check_calculator(Broken, raise_on_failure=False)
    assert {r.check for r in records if r.status == "failed"} >= {"monotone_size"}
    with pytest.raises(AssertionError, match="monotone_size|round_trip"):
        check_calculator(Broken)
