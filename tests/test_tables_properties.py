"""Properties of the contingency estimators on synthetic data with known effects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import effekt as ef
from effekt.estimators.mcnemar import McNemar
from effekt.estimators.risk_difference import RiskDifference

SETTINGS = settings(max_examples=25, deadline=None, database=None)
CELLS = st.tuples(st.integers(1, 60), st.integers(1, 60), st.integers(1, 60), st.integers(1, 60))


def data_from(cells) -> pd.DataFrame:
    a, b, c, d = cells  # treated events, treated non-events, control events, control non-events
    return ef.from_counts([[d, b], [c, a]])


@SETTINGS
@given(cells=CELLS)
def test_swapping_arms(cells):
    df = data_from(cells)
    flipped = df.assign(z=1 - df["z"])
    for name in ("risk_difference", "chi2", "fisher", "g_test"):
        a = ef.estimate(name, data=df, outcome="y", treatment="z")
        b = ef.estimate(name, data=flipped, outcome="y", treatment="z")
        assert b.estimate == pytest.approx(-a.estimate, abs=1e-12)
        assert b.p_value == pytest.approx(a.p_value, rel=1e-9)
        assert (b.conf_int[0], b.conf_int[1]) == pytest.approx((-a.conf_int[1], -a.conf_int[0]), abs=1e-12)
    for name in ("risk_ratio", "odds_ratio"):
        a = ef.estimate(name, data=df, outcome="y", treatment="z")
        b = ef.estimate(name, data=flipped, outcome="y", treatment="z")
        assert b.estimate == pytest.approx(1 / a.estimate, rel=1e-12)
        assert b.conf_int == pytest.approx((1 / a.conf_int[1], 1 / a.conf_int[0]), rel=1e-10)


@SETTINGS
@given(cells=CELLS)
def test_swapping_event_and_non_event(cells):
    # the risk difference of the non-event is minus that of the event; the odds ratio inverts
    df = data_from(cells)
    other = df.assign(y=1 - df["y"])
    rd = ef.estimate("risk_difference", data=df, outcome="y", treatment="z")
    rd2 = ef.estimate("risk_difference", data=other, outcome="y", treatment="z")
    assert rd2.estimate == pytest.approx(-rd.estimate, abs=1e-12)
    assert rd2.conf_int == pytest.approx((-rd.conf_int[1], -rd.conf_int[0]), abs=1e-12)
    orr = ef.estimate("odds_ratio", data=df, outcome="y", treatment="z").estimate
    assert ef.estimate("odds_ratio", data=other, outcome="y", treatment="z").estimate == pytest.approx(1 / orr)


@SETTINGS
@given(cells=CELLS, seed=st.integers(0, 2**31 - 1))
def test_labels_and_row_order(cells, seed):
    df = data_from(cells)
    labelled = pd.DataFrame({"y": np.where(df["y"] == 1, "yes", "no"), "z": np.where(df["z"] == 1, "T", "C")})
    labelled = labelled.iloc[np.random.default_rng(seed).permutation(len(labelled))]
    for name in ("risk_difference", "risk_ratio", "chi2", "fisher"):
        a = ef.estimate(name, data=df, outcome="y", treatment="z")
        b = ef.estimate(name, data=labelled, outcome="y", treatment="z", arms=("C", "T"), positive="yes")
        assert b.estimate == pytest.approx(a.estimate, rel=1e-12, abs=1e-15)
        assert b.p_value == pytest.approx(a.p_value, rel=1e-12)


@SETTINGS
@given(cells=CELLS)
def test_newcombe_contains_estimate_and_narrows_with_alpha(cells):
    df = data_from(cells)
    r95 = ef.estimate("risk_difference", data=df, outcome="y", treatment="z")
    r80 = ef.estimate("risk_difference", data=df, outcome="y", treatment="z", alpha=0.2)
    assert r95.conf_int[0] <= r95.estimate <= r95.conf_int[1]
    assert r95.conf_int[0] <= r80.conf_int[0] <= r80.conf_int[1] <= r95.conf_int[1]
    assert -1 <= r95.conf_int[0] and r95.conf_int[1] <= 1


@SETTINGS
@given(b=st.integers(0, 40), c=st.integers(0, 40), n11=st.integers(0, 20), n00=st.integers(0, 20))
def test_mcnemar_occasions_swapped(b, c, n11, n00):
    if b + c + n11 + n00 == 0:
        return
    df = ef.from_counts([[n00, b], [c, n11]], paired=True)
    a = ef.estimate("mcnemar", data=df, outcome="y", treatment="z", pairs="pair")
    s = ef.estimate("mcnemar", data=df.assign(z=1 - df["z"]), outcome="y", treatment="z", pairs="pair")
    assert s.estimate == pytest.approx(-a.estimate, abs=1e-12)
    assert s.p_value == pytest.approx(a.p_value, rel=1e-12)
    assert a.extra["discordant"] == [b, c]


def coverage(cls, n: int, sims: int, seed: int, *, blocked: bool) -> int:
    covered = 0
    rng = np.random.default_rng(seed)
    for _ in range(sims):
        syn = cls.simulate(rng, n=n, effect=0.15)
        spec = dict(syn.spec)
        if not blocked:
            spec.pop("blocks", None)
        res = cls().fit(syn.data, **spec)
        covered += res.conf_int[0] <= syn.truth <= res.conf_int[1]
    return covered


@pytest.mark.parametrize(
    ("cls", "n", "blocked"),
    [(RiskDifference, 60, False), (RiskDifference, 200, True), (McNemar, 120, False)],
    ids=["newcombe", "mantel-haenszel-sato", "mcnemar-newcombe"],
)
def test_coverage_near_nominal(cls, n, blocked):
    """95% intervals cover the true risk difference at close to the nominal
    rate (fixed seed; 400 simulations; binomial tolerance at the 0.1% level
    below, and not far above: these intervals are not meant to be conservative)."""
    sims = 400
    covered = coverage(cls, n, sims, seed=20261125, blocked=blocked)
    low = stats.binom.ppf(0.001, sims, 0.95)
    high = stats.binom.isf(0.001, sims, 0.95)
    assert low <= covered <= high + 5, f"{cls.name}: covered {covered} of {sims}"
