"""Every contingency estimator passes effekt's conformance suite."""

from __future__ import annotations

from effekt.estimators.chi2 import ChiSquared
from effekt.estimators.fisher import FisherExact
from effekt.estimators.g_test import GTest
from effekt.estimators.mcnemar import McNemar
from effekt.estimators.odds_ratio import OddsRatio
from effekt.estimators.risk_difference import RiskDifference
from effekt.estimators.risk_ratio import RiskRatio
from effekt.testing import parametrize_with_checks

CATEGORICAL = (
    "tests of association take categorical outcomes: text labels such as 'Yes'/'No' or "
    "'0 units'/'1 units' are outcome categories, not bad input"
)


@parametrize_with_checks(
    [RiskDifference, RiskRatio, OddsRatio, ChiSquared, FisherExact, GTest, McNemar],
    expected_failures={
        "chi2": {"check_bad_text_outcome": CATEGORICAL},
        "fisher": {"check_bad_text_outcome": CATEGORICAL},
        "g_test": {"check_bad_text_outcome": CATEGORICAL},
    },
)
def test_conformance(estimator, check):
    check(estimator)
