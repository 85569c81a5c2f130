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


def test_allocation_as_ratio_or_share_and_icc_in_two_level_designs():
    import pytest

    import effekt as ef

    # ratio r = n_treated / n_control is the share P = r / (1 + r) (PowerUp!'s P)
    by_ratio = ef.power("cra2", d=0.3, icc=0.1, cluster_size=20, power=0.8, ratio=1.5)
    by_share = ef.power("cra2", d=0.3, icc2=0.1, cluster_size=20, power=0.8, allocation=0.6)
    assert float(by_ratio) == pytest.approx(float(by_share), rel=1e-12)
    share = ef.power("cluster", d=0.3, icc2=0.1, cluster_size=20, power=0.8, allocation=0.6)
    ratio = ef.power("cluster", d=0.3, icc=0.1, cluster_size=20, power=0.8, ratio=1.5)
    assert float(share) == pytest.approx(float(ratio), rel=1e-12)


def test_retired_power_names_point_at_their_successors():
    import pytest

    import effekt as ef

    with pytest.raises(ef.DesignError, match="delta= is now effect"):
        ef.power("did", delta=0.1, n_clusters=10, cluster_size=20, periods_before=4, periods_after=4)
