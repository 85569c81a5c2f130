"""The observational estimators' options and codes are registered in effekt's vocabulary."""

from __future__ import annotations

import pytest

import effekt as ef
from effekt import vocabulary
from effekt_observational.vocabulary import TERMS


def test_plugin_terms_are_registered():
    terms = vocabulary.terms()
    for name in ("estimand", "classifier", "regressor", "folds", "matches", "replace", "distance", "caliper",
                 "exact", "bias_adjust", "trim", "tied_matches"):
        assert terms[name].source == "effekt-observational", name
    assert {"ate", "att", "atc", "ato"} <= set(vocabulary.codes("estimand"))
    assert {"matched", "weighted", "observational"} <= set(vocabulary.codes("design"))
    assert not [p for p in vocabulary.problems() if "effekt-observational" in p]


def test_no_term_shadows_the_core():
    core = {t.name for t in vocabulary._CORE_TERMS}
    assert not [t.name for t in TERMS if hasattr(t, "name") and t.name in core]


def test_every_estimator_is_listed():
    names = set(ef.available()["name"])
    assert {"matching", "ipw", "entropy_balancing", "aipw"} <= names


@pytest.mark.parametrize(("option", "value"), [("estimand", "ATT"), ("estimand", "att")])
def test_estimand_alias(option, value):
    import numpy as np

    from effekt_observational._common import simulate_confounded

    syn = simulate_confounded(np.random.default_rng(0), n=200)
    res = ef.estimate("ipw", data=syn.data, **syn.spec, **{option: value})
    assert res.estimand == "att"
