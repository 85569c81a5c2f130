"""Every regression-type estimate is invariant to shifting the outcome by 1e6 and 1e9
and to scaling it by 1e-6, as far as double precision allows.

The estimators are those registered (``effekt.available()``) whose tags declare
``shift_equivariant`` / ``scale_equivariant`` with a continuous or panel outcome,
each on its own synthetic data. Tolerance, from the data: adding ``c`` rounds
each outcome to the nearest double, an error of at most ``ulp(c) / 2``
(``|c| * 2**-53``); an estimate that is a weighted difference of outcomes with
weights of absolute sum ``W`` (2 for a difference in means, a few for a
regression on centred covariates) moves by at most ``W * |c| * 2**-53``. We allow
``K = 64`` such units, ``64 * |c| * eps`` (1.4e-5 at ``c = 1e9`` and 1.4e-8 at
``c = 1e6``, against standard errors near 0.2), plus ``1e-9`` of the estimate's scale for the
arithmetic. An estimator that sums uncentred outcomes loses ``|c| * sqrt(n) * eps``
in each sum and ``(c / sd)**2 * eps`` in a variance, which fails this bound at 1e9.
Scaling by ``1e-6`` is exact up to rounding: relative ``1e-9``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import effekt as ef
from effekt.protocol import get_tags
from effekt.testing import default_simulate

EPS = float(np.finfo(float).eps)
K = 64


def _regression_type() -> list[str]:
    table = ef.available()
    names = []
    for name in sorted(table[(table.group == "effekt.estimators") & (table.status == "ok")].name):
        tags = get_tags(ef.get_estimator(name))
        if tags.outcome in ("continuous", "panel") and tags.shift_equivariant and tags.scale_equivariant:
            names.append(name)
    return names


def _fit(name: str, data: pd.DataFrame | None = None) -> tuple[pd.DataFrame, dict, object]:
    cls = ef.get_estimator(name)
    rng = np.random.default_rng(20261201)
    sim = getattr(cls, "simulate", None)
    syn = sim(rng, n=200, effect=1.0) if callable(sim) else default_simulate(rng, get_tags(cls), n=200, effect=1.0)
    spec = dict(syn.spec)
    if get_tags(cls).uses_seed:
        spec["seed"] = 11
    return syn.data, spec, syn


def _finite_or_zero(x: float) -> float:
    return float(x) if math.isfinite(x) else 0.0


def _no_se(base, other) -> bool:
    """An estimator that reports no standard error by design (synthetic control's
    inference is its placebo p-value: ``ci_method == "none"``) must report none
    after the shift or scaling either."""
    if math.isfinite(base.std_error):
        return False
    assert base.ci_method == "none", base
    assert not math.isfinite(other.std_error), other
    return True


def _headline(res):
    return res.headline if hasattr(res, "headline") else res


@pytest.mark.parametrize("name", _regression_type())
@pytest.mark.parametrize("c", [1e6, 1e9])
def test_outcome_shift(name: str, c: float) -> None:
    data, spec, _ = _fit(name)
    cls = ef.get_estimator(name)
    y = spec["outcome"]
    base = _headline(cls().fit(data, **spec))
    moved = _headline(cls().fit(data.assign(**{y: data[y] + c}), **spec))
    scale = abs(base.estimate) + _finite_or_zero(base.std_error)
    tol = K * abs(c) * EPS + 1e-9 * scale
    assert math.isclose(moved.estimate, base.estimate, rel_tol=0, abs_tol=tol), (
        f"{name}: y + {c:g} moved the estimate by {moved.estimate - base.estimate:.3g} (tolerance {tol:.3g})")
    if _no_se(base, moved):
        return
    if not get_tags(cls).uses_seed:
        assert math.isclose(moved.std_error, base.std_error, rel_tol=0, abs_tol=tol), (
            f"{name}: y + {c:g} moved the SE by {moved.std_error - base.std_error:.3g} (tolerance {tol:.3g})")


@pytest.mark.parametrize("name", _regression_type())
def test_outcome_scale(name: str) -> None:
    data, spec, _ = _fit(name)
    cls = ef.get_estimator(name)
    y = spec["outcome"]
    base = _headline(cls().fit(data, **spec))
    small = _headline(cls().fit(data.assign(**{y: data[y] * 1e-6}), **spec))
    assert math.isclose(small.estimate, base.estimate * 1e-6, rel_tol=1e-9, abs_tol=1e-15), name
    if _no_se(base, small):
        return
    if not get_tags(cls).uses_seed:
        assert math.isclose(small.std_error, base.std_error * 1e-6, rel_tol=1e-9, abs_tol=1e-15), name
