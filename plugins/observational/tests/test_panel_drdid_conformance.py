"""effekt.testing's conformance suite on the panel estimators of effekt-observational."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from effekt.testing import parametrize_with_checks  # noqa: E402
from effekt_observational.drdid import DRDiD  # noqa: E402

# the treatment column is the group, constant over time within a unit: y + c * group is differenced
# away in a DiD (the DiD version, y + c * group * post, is tested in test_panel_drdid.py)
_GROUP_SHIFT = "y + c*group is differenced away in a DiD; y + c*group*post is tested in test_panel_drdid"


@parametrize_with_checks([DRDiD], expected_failures={"drdid": {"check_outcome_shift": _GROUP_SHIFT}}, max_examples=3,
                         coverage_sims=60)
def test_drdid_conformance(estimator, check):
    check(estimator)
