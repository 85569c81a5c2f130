"""Declare a design, diagnose it by simulation, and compare designs (after R's DeclareDesign).

>>> from effekt.simulate import Design, diagnose
>>> diag = diagnose(Design.example(), sims=20, seed=3, bootstrap_sims=10)
>>> sorted(diag.tidy()["estimator"].unique())
['difference_in_means', 'lin', 'lm_robust']

The names are imported on first use (PEP 562).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from effekt._lazy import attribute_loader

_NAMES = {
    "Assign": "effekt.simulate.design",
    "Design": "effekt.simulate.design",
    "Estimand": "effekt.simulate.design",
    "Estimator": "effekt.simulate.design",
    "Outcomes": "effekt.simulate.design",
    "Population": "effekt.simulate.design",
    "DIAGNOSANDS": "effekt.simulate.diagnosis",
    "Diagnosis": "effekt.simulate.diagnosis",
    "diagnose": "effekt.simulate.diagnosis",
    "Redesign": "effekt.simulate.grid",
    "redesign": "effekt.simulate.grid",
    "compare": "effekt.simulate.grid",
}

__all__ = [
    "Assign",
    "DIAGNOSANDS",
    "Design",
    "Diagnosis",
    "Estimand",
    "Estimator",
    "Outcomes",
    "Population",
    "Redesign",
    "diagnose",
    "compare",
    "redesign",
]

__getattr__, __dir__ = attribute_loader(__name__, _NAMES, globals())

if TYPE_CHECKING:
    from effekt.simulate.design import Assign, Design, Estimand, Estimator, Outcomes, Population
    from effekt.simulate.diagnosis import DIAGNOSANDS, Diagnosis, diagnose
    from effekt.simulate.grid import Redesign, compare, redesign
