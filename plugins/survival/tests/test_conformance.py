"""Every estimator effekt-survival registers passes effekt's conformance suite."""

import effekt as ef
from effekt.testing import parametrize_with_checks

_table = ef.available()
_OURS = [
    ef.get_estimator(name)
    for name in _table[(_table.group == "effekt.estimators") & (_table.distribution == "effekt-survival")].name
]


def test_all_eight_registered():
    names = {cls.name for cls in _OURS}
    assert names == {"cox", "kaplan_meier", "logrank", "rmst", "aalen_johansen", "cause_specific_cox",
                     "fine_gray", "discrete_time_hazard"}


@parametrize_with_checks(_OURS, max_examples=5, coverage_sims=100)
def test_registered_estimators_conform(estimator, check):
    check(estimator)
