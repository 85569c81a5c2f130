"""Every result type keeps the one Result protocol.

One shared test over a real instance of each result type (the core's, the
design module's, mediation's, and one of each plugin family through the
registry): ``isinstance(x, effekt.result.Result)``; ``tidy()`` a non-empty
DataFrame; ``summary()`` non-empty text; ``to_dict()`` JSON-safe
(``allow_nan=False``) and equal to ``json.loads(x.to_json())``; results
are immutable (attributes cannot be set, ``extra`` is read-only, arrays
are not writeable); and ``plot()``, for the types that have a picture,
returns a :class:`matplotlib.figure.Figure` made without pyplot and draws
into a given Axes.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import effekt as ef
from effekt.plotting import figure_and_axes
from effekt.result import EffectResult, EffectTable, Result


def _quiet(fn: Callable[[], Any]) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn()


# -- factories: one real instance of every result type -------------------------------------------
def effect_result() -> Any:
    return EffectResult.from_t(2.0, 0.5, 98, estimator="difference_in_means", estimand="ate", term="z",
                               n=100, n_treated=50, n_control=50, se_type="HC2", design="simple",
                               extra={"draws": np.arange(3.0), "nested": {"a": [1, 2]}})


def effect_table() -> Any:
    rows = [EffectResult.from_z(float(k), 0.5, estimator="demo", estimand="att_by_event_time", term=f"e{k}",
                                n=40) for k in range(3)]
    return EffectTable("demo", rows, headline_term="e1", extra={"pre_trend": {"statistic": 1.2}})


def linear_model() -> Any:
    from effekt.estimators.lm_robust import lm_robust

    df = pd.DataFrame({"y": [1.0, 2, 4, 3, 6, 8, 5, 7], "z": [0, 0, 0, 0, 1, 1, 1, 1],
                       "x": [0.5, 1, 2, 0, 1, 3, 2, 1]})
    return lm_robust(df, "y ~ z + x")


def power_result() -> Any:
    return ef.power("two_means", d=0.5, power=0.8)


def power_result_clusters() -> Any:
    return ef.power("cra2", d=0.3, icc2=0.1, cluster_size=20, power=0.8)


def _seed004() -> pd.DataFrame:
    # the Copenhagen resource-course trial (VIVE 2019), Tables 8.1 and 8.2
    bands = ["30-39", "40-49", "50-59", ">60"]
    age = np.repeat(bands, [10, 45, 50, 4]).tolist() + np.repeat(bands, [21, 39, 44, 5]).tolist()
    return pd.DataFrame({"z": [1] * 109 + [0] * 109,
                         "sex": ["women"] * 66 + ["men"] * 43 + ["women"] * 67 + ["men"] * 42,
                         "age": age, "years": np.linspace(30, 62, 218)})


def balance() -> Any:
    from effekt.design import balance_table

    return balance_table(_seed004(), treatment="z", covariates=["sex", "age", "years"], sims=200, seed=1)


def consort() -> Any:
    from effekt.design import ConsortFlow

    return ConsortFlow(randomised=223, excluded_after={"not in the target group": 4},
                       allocated={"intervention": 109, "control": 109},
                       lost={"intervention": {"moved away": 2}, "control": {"moved away": 7}})


def allocation_audit() -> Any:
    from effekt.design import audit

    return audit(pd.DataFrame({"id": range(7), "batch": ["a"] * 4 + ["b"] * 3,
                               "randomised": ["T", "C", "T", "C", "T", "C", "T"],
                               "delivered": ["C", "T", "C", "T", "T", None, "C"]}))


def _mediation_data() -> pd.DataFrame:
    from effekt.mediation import Mediation

    return Mediation.simulate(np.random.default_rng(1), n=200, effect=0.5).data


def mediation_sensitivity() -> Any:
    from effekt.mediation import sensitivity

    return sensitivity(_mediation_data(), outcome="y", treatment="z", mediator="m", covariates=["x"],
                       rho=np.linspace(-0.9, 0.9, 7))


def _registered(name: str, **overrides: Any) -> Callable[[], Any]:
    def make() -> Any:
        cls = ef.get_estimator(name)
        syn = cls.simulate(np.random.default_rng(1), n=200, effect=0.5)
        spec = {**syn.spec, **overrides}
        return _quiet(lambda: ef.estimate(name, data=syn.data, **spec))

    make.__name__ = name
    return make


def _todo(reason: str) -> pytest.MarkDecorator:
    """Not yet on this branch; owned and being done elsewhere (merged later)."""
    return pytest.mark.xfail(reason=reason, strict=False)


_DID_FROZEN = _todo("the DiD plugin's tables become frozen (read-only attributes) on its branch")
_DID_PYPLOT = _todo("the DiD plugin's plots move to effekt.plotting (no pyplot) on its branch")
_SURVIVAL_PLOT = _todo("the survival plugin's plots become result methods on its branch")

# (id, factory, has a picture, marks of the protocol test, marks of the plot test)
CASES: list[tuple[str, Callable[[], Any], bool, tuple[Any, ...], tuple[Any, ...]]] = [
    ("EffectResult", effect_result, False, (), ()),
    ("EffectTable", effect_table, True, (), ()),
    ("LinearModel", linear_model, False,
     (_todo("LinearModel (returned by lm_robust()) has no summary/to_dict/to_json yet and its extra is a dict"),),
     ()),
    ("PowerResult", power_result, True, (), ()),
    ("PowerResult-clusters", power_result_clusters, True, (), ()),
    ("BalanceTable", balance, True, (), ()),
    ("ConsortFlow", consort, True, (), ()),
    ("Audit", allocation_audit, False, (), ()),
    ("MediationSensitivity", mediation_sensitivity, True, (), ()),
    ("mediation", _registered("mediation", sims=100, seed=1), True, (), ()),
    ("product_of_coefficients", _registered("product_of_coefficients", sims=100, seed=1), True, (), ()),
    ("kaplan_meier", _registered("kaplan_meier"), True, (), (_SURVIVAL_PLOT,)),
    ("aalen_johansen", _registered("aalen_johansen"), True, (), (_SURVIVAL_PLOT,)),
    ("cox", _registered("cox"), True, (), (_SURVIVAL_PLOT,)),
    ("mediation_survival", _registered("mediation_survival", sims=100, seed=1), True, (), ()),
    ("event_study", _registered("event_study"), True, (_DID_FROZEN,), (_DID_PYPLOT,)),
    ("per_unit_effects", _registered("per_unit_effects"), True, (_DID_FROZEN,), (_DID_PYPLOT,)),
    ("heterogeneity", _registered("heterogeneity"), True, (), ()),
]


def _params(picture_only: bool = False) -> list[Any]:
    return [pytest.param(make, id=name, marks=plot_marks if picture_only else marks)
            for name, make, picture, marks, plot_marks in CASES if picture or not picture_only]


@pytest.fixture(scope="module")
def cache() -> dict[Any, Any]:
    return {}


def _build(make: Callable[[], Any], cache: dict[Any, Any]) -> Any:
    if make not in cache:
        cache[make] = _quiet(make)
    return cache[make]


def _arrays(value: Any) -> list[np.ndarray]:
    """Every numpy array inside ``value`` (mappings and sequences searched)."""
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, Mapping):
        return [a for v in value.values() for a in _arrays(v)]
    if isinstance(value, (list, tuple)):
        return [a for v in value for a in _arrays(v)]
    return []


@pytest.mark.parametrize("make", _params())
def test_result_protocol(make: Callable[[], Any], cache: dict[Any, Any]) -> None:
    x = _build(make, cache)
    assert isinstance(x, Result), f"{type(x).__name__} lacks part of the Result protocol"
    # tidy, summary
    tidy = x.tidy()
    assert isinstance(tidy, pd.DataFrame) and len(tidy) > 0
    text = x.summary()
    assert isinstance(text, str) and text.strip()
    # to_dict is JSON-safe and to_json is its text
    d = x.to_dict()
    assert isinstance(d, dict) and d
    assert json.loads(json.dumps(d, allow_nan=False)) == d
    assert json.loads(x.to_json()) == d
    # immutable: no attribute can be set, extra is read-only, arrays are not writeable
    name = dataclasses.fields(x)[0].name if dataclasses.is_dataclass(x) else "estimate"
    with pytest.raises((AttributeError, TypeError)):
        setattr(x, name, getattr(x, name, None))
    with pytest.raises((AttributeError, TypeError)):
        x.not_a_field = 1
    if hasattr(x, "extra"):
        with pytest.raises(TypeError):
            x.extra["new"] = 1
        for arr in _arrays(dict(x.extra)):
            assert not arr.flags.writeable, "an array in extra is writeable"
    if dataclasses.is_dataclass(x):
        for f in dataclasses.fields(x):
            for arr in _arrays(getattr(x, f.name)):
                assert not arr.flags.writeable, f"array field {f.name!r} is writeable"


@pytest.mark.parametrize("make", _params(picture_only=True))
def test_result_plot(make: Callable[[], Any], cache: dict[Any, Any]) -> None:
    x = _build(make, cache)
    fig = _quiet(lambda: x.plot())
    assert isinstance(fig, Figure)
    assert fig.canvas.manager is None, "the figure was made with pyplot (it has a window manager)"
    given, ax = figure_and_axes()
    drawn = _quiet(lambda: x.plot(ax=ax))
    assert drawn is given, "plot(ax=...) must draw into the given Axes and return its figure"
    assert ax.has_data() or ax.texts or ax.patches or ax.collections, "nothing was drawn into the given Axes"
    assert isinstance(_quiet(lambda: x.plot(labels={})), Figure)


def test_every_listed_picture_type_is_covered() -> None:
    # the types the protocol lists as having a picture are all in CASES
    names = {name for name, _, picture, _, _ in CASES if picture}
    assert {"kaplan_meier", "aalen_johansen", "cox", "event_study", "per_unit_effects", "heterogeneity",
            "mediation", "PowerResult", "BalanceTable", "ConsortFlow"} <= names
