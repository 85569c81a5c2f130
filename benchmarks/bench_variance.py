"""CR2 at scale: twfe's CR2 against its own CR1 and pyfixest's CR1; event_study CR1 speed and CR2 memory.

* ``variance.twfe_*``: ``twfe`` with unit clusters x 20 periods, balanced and
  unbalanced (a fifth of the unit-periods dropped at random), without and
  with a covariate, with row weights (drawn per row, so they vary within
  units) and with unit weights (one per unit). effekt CR2 is timed against
  effekt CR1 (goal: at most 3x) and pyfixest ``feols(... | unit + time, vcov={"CRV1": "unit"})`` (goal: no
  slower). Checks: the three estimates agree (1e-8) and effekt's CR1 SE
  equals pyfixest's (1e-6); CR2 has no peer, its values are tested against
  clubSandwich and the dummy regression in the test suite.
* ``variance.event_study_cr1``: ``event_study`` with 40 event-time terms
  against pyfixest ``feols`` with the same binned dummies (goal: no slower);
  the e=0 estimate and SE must agree.
* ``variance.event_study_cr2``: the same event study's CR2 against its CR1,
  each in a fresh process so that the peak resident memory is its own
  (goal: CR2 under 2 GB at 2,000,000 rows).

Run: ``python -m benchmarks --only variance`` (see benchmarks/README.md).
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from importlib.metadata import version
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.cases import Case, Peer

N_TIMES = 20


@lru_cache(maxsize=2)
def twfe_cr2_data(n_units: int, n_times: int, *, unbalanced: bool, seed: int = 4) -> pd.DataFrame:
    """A two-way panel with a treatment from mid-panel on, a covariate, row weights ``w`` and unit weights ``wu``."""
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n_units, dtype=np.int64), n_times)
    time_ = np.tile(np.arange(n_times, dtype=np.int64), n_units)
    treated = (rng.random(n_units) < 0.4)[unit]
    d = (treated & (time_ >= n_times // 2)).astype(np.float64)
    x = rng.normal(size=unit.size)
    y = rng.normal(size=n_units)[unit] + 0.05 * time_ + 0.3 * d + 0.2 * x + rng.normal(size=unit.size)
    w = rng.uniform(0.5, 2.0, unit.size)
    wu = rng.uniform(0.5, 2.0, n_units)[unit]
    df = pd.DataFrame({"unit": unit, "time": time_, "D": d, "x": x, "y": y, "w": w, "wu": wu})
    if unbalanced:  # a fifth of the unit-periods missing at random
        df = df[rng.random(len(df)) > 0.2].reset_index(drop=True)
    return df


def _twfe(df: pd.DataFrame, se_type: str, covariate: bool, weights: str | None) -> Any:
    import effekt as ef

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # few-treated-cluster advice on the tiny quick panels
        return ef.estimate("twfe", data=df, outcome="y", unit="unit", period="time", treatment="D",
                           covariates=["x"] if covariate else None, weights=weights,
                           se_type=se_type)


def _feols(df: pd.DataFrame, covariate: bool, weights: str | None) -> Any:
    import pyfixest as pf

    formula = "y ~ D" + (" + x" if covariate else "") + " | unit + time"
    return pf.feols(formula, data=df, vcov={"CRV1": "unit"}, weights=weights)


_WEIGHTS = {None: "", "w": ", row weights", "wu": ", unit weights"}


def _twfe_case(unbalanced: bool, covariate: bool, weights: str | None) -> Case:
    tag = (f"{'unbalanced' if unbalanced else 'balanced'}{'_cov' if covariate else ''}"
           f"{'_' + ('row' if weights == 'w' else 'unit') + '_weights' if weights else ''}")
    title = (f"twfe CR2, {'unbalanced (80% of cells)' if unbalanced else 'balanced'}, "
             f"{'covariate x' if covariate else 'no covariate'}{_WEIGHTS[weights]}, "
             f"unit clusters x {N_TIMES} periods")

    def setup(n_units: int) -> pd.DataFrame:
        return twfe_cr2_data(n_units, N_TIMES, unbalanced=unbalanced)

    def same_estimate(data: pd.DataFrame, cr2: Any, cr1: Any) -> None:
        assert abs(cr2.estimate - cr1.estimate) < 1e-10, f"CR2 estimate {cr2.estimate} != CR1 {cr1.estimate}"

    def agrees_with_pyfixest(data: pd.DataFrame, cr2: Any, model: Any) -> None:
        assert abs(cr2.estimate - model.coef()["D"]) < 1e-8, f"estimate {cr2.estimate} != pyfixest {model.coef()['D']}"
        cr1 = _twfe(data, "CR1", covariate, weights)
        ratio = cr1.std_error / model.se()["D"]
        assert abs(ratio - 1) < 1e-6, f"CR1 SE {cr1.std_error} != pyfixest {model.se()['D']}"

    return Case(
        name=f"variance.twfe_{tag}",
        title=title,
        setup=setup,
        effekt=lambda df: _twfe(df, "CR2", covariate, weights),
        peers=(
            Peer("effekt CR1", lambda df: _twfe(df, "CR1", covariate, weights), same_estimate, target=3.0),
            Peer(f"pyfixest {version('pyfixest')} CRV1", lambda df: _feols(df, covariate, weights),
                 agrees_with_pyfixest, target=1.0),
        ),
        sizes=(10_000, 30_000, 100_000),
        quick_size=300,
        unit="clusters",
        repeat=2,
        notes="CR2 with Bell-McCaffrey df; CR1 with fixest's small-sample factor",
    )


N_EVENT_TIMES = 40


@lru_cache(maxsize=1)
def event_study_data(n_units: int, dummies: bool = True) -> pd.DataFrame:
    """Staggered adoption over 40 periods, with (``dummies``) the 40 binned event-time dummies pyfixest is given."""
    rng = np.random.default_rng(5)
    T = N_EVENT_TIMES
    unit = np.repeat(np.arange(n_units, dtype=np.int64), T)
    time_ = np.tile(np.arange(T, dtype=np.int64), n_units)
    first = rng.choice([0, 10, 15, 20, 25, 30], n_units)[unit]
    y = rng.normal(size=n_units)[unit] + 0.02 * time_ + 0.5 * ((first > 0) & (time_ >= first)) + rng.normal(size=unit.size)
    df = pd.DataFrame({"unit": unit, "time": time_, "first": first, "y": y})
    if dummies:
        ev = np.where(first > 0, np.clip(time_ - first, -20, 20), -1)  # never treated: in the reference bin
        df = pd.concat([df, pd.DataFrame({_dummy(e): (ev == e).astype(float) for e in range(-20, 21) if e != -1})],
                       axis=1)
    return df


def _dummy(e: int) -> str:
    return f"e{'m' if e < 0 else ''}{abs(e)}"


def _event_study(df: pd.DataFrame, se_type: str) -> Any:
    import effekt as ef

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ef.estimate("event_study", data=df, outcome="y", unit="unit", period="time", first_treated="first",
                           leads=20, lags=20, se_type=se_type, weights="w" if "w" in df.columns else None)


def _with_row_weights(n_units: int) -> pd.DataFrame:
    df = event_study_data(n_units, dummies=False)
    return df.assign(w=np.random.default_rng(6).uniform(0.5, 2.0, len(df)))


def _event_feols(df: pd.DataFrame) -> Any:
    import pyfixest as pf

    names = [_dummy(e) for e in range(-20, 21) if e != -1]
    return pf.feols("y ~ " + " + ".join(names) + " | unit + time", data=df, vcov={"CRV1": "unit"})


def _event_agrees(df: pd.DataFrame, tab: Any, model: Any) -> None:
    est, se = tab["e=0"].estimate, tab["e=0"].std_error
    assert abs(est - model.coef()["e0"]) < 1e-8, f"e=0 estimate {est} != pyfixest {model.coef()['e0']}"
    assert abs(se / model.se()["e0"] - 1) < 1e-6, f"e=0 SE {se} != pyfixest {model.se()['e0']}"


def _same_event_estimates(df: pd.DataFrame, cr2: Any, cr1: Any) -> None:
    assert abs(cr2["post"].estimate - cr1["post"].estimate) < 1e-10, "CR2 and CR1 post estimates differ"


CASES = [_twfe_case(u, c, w) for u in (False, True) for c, w in ((False, None), (True, None), (True, "w"), (True, "wu"))]
CASES += [
    Case(
        name="variance.event_study_cr1",
        title=f"event_study CR1, {N_EVENT_TIMES} periods, 40 event-time terms",
        setup=event_study_data,
        effekt=lambda df: _event_study(df, "CR1"),
        peers=(Peer(f"pyfixest {version('pyfixest')} feols, same dummies", _event_feols, _event_agrees, target=1.0),),
        sizes=(10_000, 50_000),
        quick_size=200,
        unit="units",
        repeat=2,
    ),
    Case(
        name="variance.event_study_cr2",
        title=f"event_study CR2 against CR1, {N_EVENT_TIMES} periods, 40 event-time terms (time and peak RSS)",
        setup=lambda n_units: event_study_data(n_units, dummies=False),
        effekt=lambda df: _event_study(df, "CR2"),
        peers=(Peer("effekt CR1", lambda df: _event_study(df, "CR1"), _same_event_estimates),),
        sizes=(50_000,),
        quick_size=200,
        unit="units",
        repeat=1,
        fresh_process=True,
        notes="goal: CR2 peak memory under 2 GB at 2,000,000 rows (50,000 units)",
    ),
    Case(
        name="variance.event_study_cr2_weighted",
        title=f"event_study CR2 against CR1, row weights, {N_EVENT_TIMES} periods, 40 event-time terms "
              "(time and peak RSS)",
        setup=_with_row_weights,
        effekt=lambda df: _event_study(df, "CR2"),
        peers=(Peer("effekt CR1", lambda df: _event_study(df, "CR1"), _same_event_estimates),),
        sizes=(50_000,),
        quick_size=200,
        unit="units",
        repeat=1,
        fresh_process=True,
        notes="weights that vary within units: one 40 x 40 eigenproblem per cluster",
    ),
]
