"""effekt.testing's conformance suite on drdid."""

from __future__ import annotations

import matplotlib
import pytest

matplotlib.use("Agg")

from effekt.testing import CHECKS, check_estimator  # noqa: E402
from effekt_observational.drdid import DRDiD  # noqa: E402

# check_outcome_shift does not apply: the treatment column is the group, constant over time within a
# unit, so y + c * group is differenced away in a DiD (hypothesis, drawing c near 0, can even make the
# exemption pass by chance). Its DiD form, y + c * group * post, is tested in test_panel_drdid.py.
_CHECKS = [c for c in CHECKS if c != "check_outcome_shift"]


@pytest.mark.parametrize("check", _CHECKS)
def test_drdid_conformance(check):
    (result,) = check_estimator(DRDiD, checks=[check], max_examples=3, coverage_sims=60, raise_on_failure=False)
    assert result.status in ("passed", "skipped"), result.message
