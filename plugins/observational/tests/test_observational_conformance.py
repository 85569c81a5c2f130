"""effekt.testing's conformance suite on every estimator effekt-observational registers."""

from __future__ import annotations

from importlib.metadata import entry_points

import matplotlib

matplotlib.use("Agg")

from effekt.testing import parametrize_with_checks  # noqa: E402

MINE = {"matching", "ipw", "entropy_balancing", "aipw"}
ESTIMATORS = sorted(
    (ep.load() for ep in entry_points(group="effekt.estimators")
     if ep.value.startswith("effekt_observational.") and ep.name in MINE),
    key=lambda c: c.name,
)


def test_every_estimator_registered():
    assert {c.name for c in ESTIMATORS} == MINE


@parametrize_with_checks(ESTIMATORS, max_examples=5, coverage_sims=100)
def test_conformance(estimator, check):
    check(estimator)
