"""cox at scale: the profile interval's joint Newton, the kernel's fast risk sums, the PH test's shortcuts.

Each shortcut is checked against the general computation it replaces, and the
profile interval against R's survival package.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from effekt_survival import _coxfit
from effekt_survival import _coxkernel as K
from effekt_survival._coxfit import _km_ranked, km_transform
from effekt_survival.cox import Cox, simulate_weibull

VETERAN = Path(__file__).parent / "data" / "veteran.csv"


def _data(seed=3, n=300, ties=True, strata=5):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    z = rng.integers(0, 2, n)
    s = np.arange(n) % strata
    t = rng.exponential(10 * np.exp(-(0.4 * z + x @ [0.3, -0.2])))
    t = np.ceil(t) if ties else t
    e = (rng.random(n) < 0.75).astype(int)
    return pd.DataFrame({"t": t, "e": e, "z": z, "s": s, "x1": x[:, 0], "x2": x[:, 1],
                         "w": rng.uniform(0.5, 2.0, n)})


# R 4.2.2, survival 3.5.3: plugins/survival/tests/data/make_veteran.R (coxph, Efron ties, eps 1e-14;
# each profile end by uniroot(tol = 1e-13) on 2 (l_max - l_p(b)) = qchisq(0.95, 1), l_p from
# coxph(... + offset(b * z))). Columns: options, log HR, SE, log-likelihood, profile interval of the HR.
R_VETERAN = [
    ({}, 0.017742569518, 0.180661012288, -505.4442332287, (0.713343682862, 1.450842315980)),
    ({"covariates": ["karno", "age"]}, 0.189546441923, 0.185530665023, -483.8779800378,
     (0.839366921866, 1.739869589939)),
    ({"covariates": ["karno"], "strata": "celltype"}, 0.232834676889, 0.201098744895, -317.5805548900,
     (0.850506141560, 1.874148517333)),
]


@pytest.mark.parametrize(("options", "coef", "se", "loglik", "profile"), R_VETERAN)
def test_profile_interval_matches_r_survival(options, coef, se, loglik, profile):
    d = pd.read_csv(VETERAN)
    res = Cox().fit(d, time="time", event="status", treatment="z", **options)
    assert math.log(res.estimate) == pytest.approx(coef, abs=1e-8)
    assert res.std_error == pytest.approx(se, rel=1e-8)
    assert res.extra["loglik"] == pytest.approx(loglik, abs=1e-9)
    np.testing.assert_allclose(res.extra["conf_int_profile"], profile, rtol=1e-10)


def _fit_parts(df, **options):
    X = df[["z", "x1", "x2"]].to_numpy(float)
    X[:, 1:] -= X[:, 1:].mean(axis=0)
    P = K.prepare(df.t.to_numpy(float), df.e.to_numpy(), X, strata=df.s.to_numpy(), **options)
    beta, ll, info, _ = K.newton(P)
    return P, beta, ll, np.linalg.inv(info)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), ties=st.booleans(), alpha=st.sampled_from([0.01, 0.05, 0.2]),
       delayed=st.booleans())
def test_joint_newton_end_equals_bisection(seed, ties, alpha, delayed):
    # the end points by Newton on (l = l_max - crit/2, dl/dg = 0) are the bisection's roots of the
    # profile, with case weights and with or without delayed entry
    from scipy import stats

    df = _data(seed=seed, n=150, ties=ties)
    entry = np.floor(df.t.to_numpy() * np.random.default_rng(seed).uniform(0, 0.6, len(df))) if delayed else None
    P, beta, ll, V = _fit_parts(df, weights=df.w.to_numpy(), start=entry)
    crit = float(stats.chi2.isf(alpha, 1))
    Q = K.CoxProblem(**{**P.__dict__, "X": P.X[:, 1:]})

    def f(b):
        return 2.0 * (ll - K.newton(K.CoxProblem(**{**Q.__dict__, "offset": P.offset + b * P.X[:, 0]}),
                                    beta[1:])[1]) - crit

    for sign in (-1.0, 1.0):
        end = _coxfit._profile_end(P, beta, ll, V, crit, sign)
        assert end is not None
        ref = _coxfit._profile_end_bracketed(f, float(beta[0]), sign * 2.0 * math.sqrt(V[0, 0] * crit))
        assert end == pytest.approx(ref, abs=1e-9)
        assert abs(f(end)) < 1e-8


def test_bisection_fallback_gives_the_same_interval(monkeypatch):
    df = simulate_weibull(np.random.default_rng(5), n=200, log_hr=0.5)
    kw = dict(time="time", event="event", treatment="z", blocks="block", covariates=["x"])
    fast = Cox().fit(df, **kw).extra["conf_int_profile"]
    monkeypatch.setattr(_coxfit, "_profile_end", lambda *a, **k: None)
    slow = Cox().fit(df, **kw).extra["conf_int_profile"]
    np.testing.assert_allclose(fast, slow, rtol=1e-9)


@pytest.mark.parametrize("alpha", [0.05, 0.001])
def test_skewed_profile_agrees_with_bisection(monkeypatch, alpha):
    # three treated units, two of them the first to exit: a profile far from quadratic (HR about 18,
    # interval about (0.8, 425) at alpha=0.001)
    rng = np.random.default_rng(0)
    n = 30
    z = np.r_[np.zeros(n - 3), np.ones(3)].astype(int)
    t = rng.exponential(1.0, n)
    e = np.r_[rng.random(n - 3) < 0.5, [1, 1, 1]].astype(int)
    t[z == 1] = np.sort(t)[[0, 1, 10]] / 2
    df = pd.DataFrame({"t": t, "e": e, "z": z})
    fast = Cox().fit(df, time="t", event="e", treatment="z", alpha=alpha)
    monkeypatch.setattr(_coxfit, "_profile_end", lambda *a, **k: None)
    slow = Cox().fit(df, time="t", event="e", treatment="z", alpha=alpha)
    lo, hi = fast.extra["conf_int_profile"]
    assert lo < fast.estimate < hi and hi / fast.estimate > 5
    np.testing.assert_allclose(fast.extra["conf_int_profile"], slow.extra["conf_int_profile"], rtol=1e-9)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_segment_sums_equal_the_general_prefix_sums(ties):
    # without delayed entry the risk sums come from reduceat over segments; an entry time before
    # every exit changes no risk set and takes the general path (prefix sums by stop minus by start)
    df = _data(n=400)
    X = df[["z", "x1", "x2"]].to_numpy(float)
    args = (df.t.to_numpy(float), df.e.to_numpy(), X)
    common = dict(strata=df.s.to_numpy(), weights=df.w.to_numpy(), ties=ties)
    fast = K.prepare(*args, **common)
    general = K.prepare(*args, start=np.full(len(df), -1.0), **common)
    assert not fast.delayed and general.delayed
    beta = np.array([0.3, -0.2, 0.1])
    for a, b in zip(K.loglik_grad_hess(fast, beta), K.loglik_grad_hess(general, beta)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(K.score_residuals(fast, beta), K.score_residuals(general, beta), atol=1e-12)


def test_event_rows_of_a_group_are_contiguous():
    df = _data(n=500)
    P = K.prepare(df.t.to_numpy(float), df.e.to_numpy(), df[["z"]].to_numpy(float), strata=df.s.to_numpy())
    assert P.g_ev_lo is not None and P.g_ev_hi is not None
    np.testing.assert_array_equal(P.ev_rows, np.concatenate([np.arange(a, b) for a, b in zip(P.g_ev_lo, P.g_ev_hi)]))
    np.testing.assert_array_equal(P.g_ev_lo, P.stop_lo)


def test_schoenfeld_sum_and_ranked_km_equal_their_definitions():
    df = _data(n=300)
    rng = np.random.default_rng(4)
    entry = np.floor(df.t.to_numpy() * rng.uniform(0, 0.7, len(df)))
    X = df[["z", "x1"]].to_numpy(float)
    for start in (None, entry):
        P = K.prepare(df.t.to_numpy(float), df.e.to_numpy(), X, strata=df.s.to_numpy(), start=start,
                      weights=df.w.to_numpy())
        beta = np.array([0.2, -0.1])
        g = rng.normal(size=P.n_events)
        resid, _ = K.schoenfeld(P, beta)
        np.testing.assert_allclose(K.schoenfeld_sum(P, beta, g), g @ resid, rtol=1e-12, atol=1e-12)
        km = km_transform(df.t.to_numpy(float), df.e.to_numpy(float), df.w.to_numpy())
        assert P.time_rank is not None
        np.testing.assert_allclose(_km_ranked(P.time_rank, P.event, P.w), km[P.order], rtol=1e-14, atol=1e-15)
