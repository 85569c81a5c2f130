"""Every estimator registered by the core (and the example third-party plugin)
passes the conformance suite; the suite catches a broken estimator and says why.

Plugins run the suite on their own estimators in their own tests folders."""

import numpy as np
import pytest

import effekt as ef
from effekt.data import check_columns
from effekt.protocol import EstimatorTags
from effekt.result import EffectResult
from effekt.testing import CHECKS, ConformanceError, check_estimator, parametrize_with_checks

_OURS = ("effekt", "effekt-example-plugin")
_table = ef.available()
_CORE = [
    ef.get_estimator(name)
    for name in _table[(_table.group == "effekt.estimators") & _table.distribution.isin(_OURS)].name
]


@parametrize_with_checks(_CORE)
def test_registered_estimators_conform(estimator, check):
    check(estimator)


class _ShiftsWithTheControlMean:
    """Broken on purpose: reports the treated mean, not the difference."""

    name, estimand, kind = "broken_mean", "ate", "itt"
    tags = EstimatorTags()

    def fit(self, data, *, outcome, treatment, alpha=0.05):
        c = check_columns(data, outcome=outcome, treatment=treatment)
        y1 = c.y[c.z == 1]
        return EffectResult.from_t(y1.mean(), y1.std(ddof=1) / np.sqrt(y1.size), y1.size - 1, alpha=alpha,
                                   estimator=self.name, estimand=self.estimand, term="z", n=c.n)


def test_a_broken_estimator_fails_with_the_property_and_the_falsifying_example():
    with pytest.raises(ConformanceError) as info:
        check_estimator(_ShiftsWithTheControlMean, checks=["check_outcome_shift", "check_result"])
    message = str(info.value)
    assert "broken_mean: check_outcome_shift failed" in message
    # hypothesis reports the falsifying example (seed and shift) so it can be replayed
    assert "y + " in message and "seed=" in message and "c=" in message
    assert "check_result failed" not in message


def test_expected_failures_need_a_reason_and_must_still_fail():
    results = check_estimator(_ShiftsWithTheControlMean, checks=["check_outcome_shift", "check_result"],
                              expected_failures={"check_outcome_shift": "reports a level, not a difference",
                                                 "check_result": "not really broken"},
                              raise_on_failure=False)
    status = {r.check: r.status for r in results}
    assert status == {"check_outcome_shift": "expected failure", "check_result": "failed"}


def test_checks_follow_declared_tags_only():
    results = check_estimator(_ShiftsWithTheControlMean, checks=list(CHECKS), raise_on_failure=False,
                              max_examples=2, coverage_sims=20)
    skipped = {r.check for r in results if r.status == "skipped"}
    assert {"check_bad_weights", "check_bad_nan_blocks", "check_bad_one_arm_block"} <= skipped
