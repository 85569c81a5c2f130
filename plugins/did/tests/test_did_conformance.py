"""effekt.testing's conformance suite on every estimator effekt-did registers."""

from __future__ import annotations

from importlib.metadata import entry_points

import matplotlib

matplotlib.use("Agg")

from effekt.testing import parametrize_with_checks  # noqa: E402

ESTIMATORS = sorted(
    (ep.load() for ep in entry_points(group="effekt.estimators") if ep.value.startswith("effekt_did.")),
    key=lambda c: c.name,
)

# In a DiD the treatment's column is the group (or the first treated period), constant over time
# within a unit, so y + c * group adds c to the group before and after and leaves the effect alone:
# the contract's "y + c*z moves the effect by c" does not hold, and the DiD version of it
# (y + c * group * post) is tested in test_did_small / test_did_callaway_santanna.
_GROUP_SHIFT = "y + c*group is differenced away in a DiD; y + c*group*post is tested in the plugin's own tests"
EXEMPT = {
    "did_2x2": {"check_outcome_shift": _GROUP_SHIFT},
    "callaway_santanna": {"check_outcome_shift": _GROUP_SHIFT},
    "event_study": {"check_outcome_shift": _GROUP_SHIFT},
    "per_unit_effects": {"check_outcome_shift": _GROUP_SHIFT},
    "dose_did": {"check_outcome_shift": _GROUP_SHIFT},
    "sun_abraham": {"check_outcome_shift": _GROUP_SHIFT},
    "imputation": {"check_outcome_shift": _GROUP_SHIFT},
}


def test_every_estimator_registered():
    names = {c.name for c in ESTIMATORS}
    assert names == {"did_2x2", "twfe", "event_study", "callaway_santanna", "wild_cluster_bootstrap",
                     "per_unit_effects", "change_index", "dose_did",
                     "sun_abraham", "imputation"}


@parametrize_with_checks([c for c in ESTIMATORS if c.name != "wild_cluster_bootstrap"], expected_failures=EXEMPT,
                         max_examples=5, coverage_sims=100)
def test_conformance(estimator, check):
    check(estimator)


# the bootstrap's own Monte Carlo error is small next to the coverage tolerance with 999 draws
@parametrize_with_checks([c for c in ESTIMATORS if c.name == "wild_cluster_bootstrap"], max_examples=5,
                         coverage_sims=100, fit_kwargs={"sims": 999})
def test_conformance_bootstrap(estimator, check):
    check(estimator)
