"""aalen_johansen, Gray's test, cause_specific_cox, fine_gray: oracles, properties, bad input."""

from __future__ import annotations

import math
import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lifelines import AalenJohansenFitter, CoxPHFitter, CoxTimeVaryingFitter, KaplanMeierFitter
from scipy import stats

from effekt.errors import DataError, DesignError
from effekt_survival import _coxkernel as K
from effekt_survival.aalen_johansen import (
    AalenJohansen,
    cumulative_incidence,
    gray_test,
    plot_cumulative_incidence,
    simulate_competing,
)
from effekt_survival.cause_specific_cox import CauseSpecificCox
from effekt_survival.fine_gray import FineGray, censoring_weights, simulate_fine_gray


@pytest.fixture
def df():
    return simulate_competing(np.random.default_rng(5), n=400, log_hr=math.log(1.74))


def test_cif_and_ci_match_lifelines(df):
    for arm in (0, 1):
        m = df.z == arm
        for k in (1, 2):
            cf = cumulative_incidence(df.time[m].to_numpy(), df.event[m].to_numpy(), k)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                aj = AalenJohansenFitter(calculate_variance=True).fit(df.time[m], df.event[m], event_of_interest=k)
            np.testing.assert_allclose(cf["cif"], aj.cumulative_density_.loc[cf["time"]].to_numpy().ravel(),
                                       rtol=1e-12)
            ci = np.sort(aj.confidence_interval_cumulative_density_.loc[cf["time"]].to_numpy(), axis=1)
            ok = (cf["cif"] > 0) & np.isfinite(ci).all(axis=1)
            np.testing.assert_allclose(cf["lower"][ok], ci[ok, 0], rtol=1e-9)
            np.testing.assert_allclose(cf["upper"][ok], ci[ok, 1], rtol=1e-9)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(5, 80))
def test_one_cause_cif_equals_one_minus_km(seed, n):
    # with one cause, the Aalen-Johansen CIF is 1 - KM at every event time (issue 6 property)
    rng = np.random.default_rng(seed)
    t = np.ceil(rng.exponential(5, n))
    e = (rng.random(n) < 0.7).astype(int)
    if not e.any():
        e[0] = 1
    cf = cumulative_incidence(t, e, 1)
    kmf = KaplanMeierFitter().fit(t, e)
    np.testing.assert_allclose(cf["cif"], 1 - kmf.survival_function_.loc[cf["time"]].to_numpy().ravel(),
                               atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(5, 120), k=st.integers(2, 4))
def test_cumulative_incidences_never_sum_above_one(seed, n, k):
    rng = np.random.default_rng(seed)
    t = np.ceil(rng.exponential(4, n))
    e = rng.integers(0, k + 1, n)
    grid = np.unique(t)
    total = np.zeros(grid.size)
    for c in range(1, k + 1):
        if (e == c).any():
            cf = cumulative_incidence(t, e, c)
            idx = np.searchsorted(cf["time"], grid, side="right") - 1
            total += np.where(idx >= 0, cf["cif"][np.maximum(idx, 0)], 0.0)
    assert total.max() <= 1 + 1e-12
    # and the causes add up to the all-cause incidence 1 - KM
    kmf = KaplanMeierFitter().fit(t, e > 0)
    np.testing.assert_allclose(total, 1 - kmf.survival_function_at_times(grid).to_numpy(), atol=1e-12)


def _gray_slow(time, event, z, cause, rho=0.0):
    """Gray's score and variance by a plain loop over the distinct times (two groups), written
    from Gray (1988) with the variance as in R cmprsk's crstm; group 0 is scored."""
    order = np.argsort(time, kind="stable")
    time, event, g = time[order], event[order], z[order].astype(int)
    rs = np.array([np.sum(g == 0), np.sum(g == 1)], dtype=float)
    f1m, skmm = np.zeros(2), np.ones(2)
    f1, skm = np.zeros(2), np.ones(2)
    fm = 0.0
    c = np.zeros(2)
    v3, v2 = np.zeros(2), np.zeros(2)
    s = v = 0.0
    for t in np.unique(time):
        at = time == t
        d1 = np.array([np.sum(at & (event == cause) & (g == i)) for i in (0, 1)], float)
        d2 = np.array([np.sum(at & (event > 0) & (event != cause) & (g == i)) for i in (0, 1)], float)
        nd1, nd2 = d1.sum(), d2.sum()
        if nd1 + nd2 > 0:
            tr = tq = 0.0
            for i in (0, 1):
                if rs[i] > 0:
                    skm[i] = skmm[i] * (rs[i] - d1[i] - d2[i]) / rs[i]
                    f1[i] = f1m[i] + skmm[i] * d1[i] / rs[i]
                    tr += rs[i] / skmm[i]
                    tq += rs[i] * (1 - f1m[i]) / skmm[i]
            f = fm + nd1 / tr
            fb = (1 - fm) ** rho
            t1 = np.array([rs[i] / skmm[i] if rs[i] > 0 else 0.0 for i in (0, 1)])
            a = np.array([fb * t1[0] * (1 - t1[0] / tr), -fb * t1[0] * t1[1] / tr])
            c += a * nd1 / (tr * (1 - fm))
            if rs[0] > 0:
                s += fb * (d1[0] - nd1 * rs[0] * (1 - f1m[0]) / (skmm[0] * tq))
            if nd1 > 0:
                for k in (0, 1):
                    if rs[k] <= 0:
                        continue
                    t4 = 1 - (1 - f) / skm[k] if skm[k] > 0 else 1.0
                    t5 = 1 - (nd1 - 1) / (tr * skmm[k] - 1) if nd1 > 1 else 1.0
                    t3 = t5 * skmm[k] * nd1 / (tr * rs[k])
                    v3[k] += t4 * t4 * t3
                    u = a[k] - t4 * c[k]
                    v2[k] += u * t4 * t3
                    v += u * u * t3
            if nd2 > 0:
                for k in (0, 1):
                    if skm[k] <= 0 or d2[k] <= 0:
                        continue
                    t4 = (1 - f) / skm[k]
                    t5 = 1 - (d2[k] - 1) / (rs[k] - 1) if d2[k] > 1 else 1.0
                    t3 = t5 * skmm[k] ** 2 * d2[k] / rs[k] ** 2
                    v3[k] += t4 * t4 * t3
                    v2[k] -= t4 * t4 * c[k] * t3
                    v += t4 * t4 * c[k] ** 2 * t3
        else:
            f = fm
        rs -= np.array([np.sum(at & (g == 0)), np.sum(at & (g == 1))], float)
        fm, f1m, skmm = f, f1.copy(), skm.copy()
    v += np.sum(c**2 * v3 + 2 * c * v2)
    return s, v


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("cause", [1, 2])
def test_gray_vectorised_equals_plain_loop(df, ties, cause):
    d = df.assign(time=np.ceil(df.time * 10)) if ties else df
    s, v = _gray_slow(d.time.to_numpy(), d.event.to_numpy(), d.z.to_numpy(), cause)
    chi2, p = gray_test(d.time.to_numpy(), d.event.to_numpy(), d.z.to_numpy(), cause)
    assert chi2 == pytest.approx(s**2 / v, rel=1e-10)


def test_gray_stratified_sums_strata(df):
    s_tot = v_tot = 0.0
    for b in range(3):
        m = df.block == b
        s, v = _gray_slow(df.time[m].to_numpy(), df.event[m].to_numpy(), df.z[m].to_numpy(), 1)
        s_tot, v_tot = s_tot + s, v_tot + v
    chi2, _ = gray_test(df.time.to_numpy(), df.event.to_numpy(), df.z.to_numpy(), 1, strata=df.block.to_numpy())
    assert chi2 == pytest.approx(s_tot**2 / v_tot, rel=1e-10)


def test_gray_size_under_the_null():
    # no effect on either cause: Gray's p-values reject at about 5% (300 trials of 200)
    rng = np.random.default_rng(42)
    rejections = 0
    for _ in range(300):
        d = simulate_competing(rng, n=200, log_hr=0.0)
        _, p = gray_test(d.time.to_numpy(), d.event.to_numpy(), d.z.to_numpy(), 1)
        rejections += p < 0.05
    lo, hi = stats.binom.ppf([0.0005, 0.9995], 300, 0.05)
    assert lo <= rejections <= hi, rejections


def test_aalen_johansen_result_and_plot(df):
    res = AalenJohansen().fit(df, time="time", event="event", treatment="z", horizon=1.0, cause=1)
    assert res.estimate == pytest.approx(res.extra["cif_treated"] - res.extra["cif_control"])
    assert res.extra["gray"][0]["cause"] == 1
    by_arm = pd.DataFrame(res.extra["cif_at_horizon"]).groupby("arm").cif.sum()
    assert (by_arm <= 1).all()
    fig = plot_cumulative_incidence(res)
    curves = [line for line in fig.axes[0].lines if not line.get_label().startswith("_")]
    assert len(curves) == 4  # two causes by two arms; the horizon line is unlabelled


def test_aalen_johansen_coverage():
    rng = np.random.default_rng(8)
    h1, h2 = 1.74, 0.5
    truth = h1 / (h1 + h2) * (1 - math.exp(-(h1 + h2))) - 1 / 1.5 * (1 - math.exp(-1.5))
    hits = 0
    for _ in range(200):
        d = simulate_competing(rng, n=200, log_hr=math.log(h1))
        r = AalenJohansen().fit(d, time="time", event="event", treatment="z", horizon=1.0, cause=1)
        hits += r.conf_int[0] <= truth <= r.conf_int[1]
    lo, hi = stats.binom.ppf([0.0005, 0.9995], 200, 0.95)
    assert lo <= hits <= hi, hits


def test_cause_specific_cox_equals_phreg_with_other_causes_censored(df):
    # statsmodels, not lifelines: with an HR this close to 1 lifelines stops at |delta| ~ 1e-5
    import statsmodels.api as sm

    res = CauseSpecificCox().fit(df, time="time", event="event", treatment="z", cause=2)
    m = sm.PHReg(df.time, df[["z"]], status=(df.event == 2).astype(int), ties="efron").fit()
    assert math.log(res.estimate) == pytest.approx(m.params[0], abs=1e-9)
    assert res.std_error == pytest.approx(m.bse[0], rel=1e-8)
    c = CoxPHFitter().fit(df.assign(e2=(df.event == 2).astype(int))[["time", "e2", "z"]], "time", "e2")
    assert math.log(res.estimate) == pytest.approx(c.params_["z"], abs=1e-4)
    by = {r["cause"]: r for r in res.extra["by_cause"]}
    assert by[2]["hazard_ratio"] == pytest.approx(res.estimate, rel=1e-12)
    assert res.extra["events_treated"] + res.extra["events_control"] == int((df.event == 2).sum())


def _fine_gray_expanded(d, cause=1):
    """R finegray()-style data: a person who left by another cause stays at risk with weight
    G(t-)/G(T-) on (previous, t] for each later event time t of the cause, within stratum."""
    g_row, g_left = censoring_weights(d.time.to_numpy(), d.event.to_numpy(), d.block.to_numpy())
    rows = []
    for i, (t, e, z, b) in enumerate(zip(d.time, d.event, d.z, d.block)):
        rows.append((i, 0.0, t, int(e == cause), z, b, 1.0))
        if e not in (0, cause):
            prev = t
            for tk in np.unique(d.time[(d.event == cause) & (d.block == b) & (d.time > t)]):
                w = g_left(np.array([tk]), np.array([b]))[0] / g_row[i]
                rows.append((i, prev, tk, 0, z, b, w))
                prev = tk
    return pd.DataFrame(rows, columns=["id", "start", "stop", "e", "z", "b", "w"])


def test_fine_gray_equals_weighted_cox_on_expanded_data():
    d = simulate_fine_gray(np.random.default_rng(2), n=300, log_shr=math.log(1.5))
    d["time"] = np.ceil(d.time * 30) / 30
    res = FineGray().fit(d, time="time", event="event", treatment="z", blocks="block", ties="efron", cause=1)
    ex = _fine_gray_expanded(d)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c = CoxTimeVaryingFitter().fit(ex, id_col="id", event_col="e", start_col="start", stop_col="stop",
                                       strata=["b"], weights_col="w")
    assert math.log(res.estimate) == pytest.approx(c.params_["z"], abs=1e-6)
    assert res.extra["se_model"] == pytest.approx(c.standard_errors_["z"], rel=1e-5)


def test_fine_gray_kernel_gradient_and_score_residuals():
    d = simulate_fine_gray(np.random.default_rng(4), n=200, log_shr=0.3)
    t, e = d.time.to_numpy(), d.event.to_numpy()
    g_row, g_left = censoring_weights(t, e, None)
    X = np.column_stack([d.z, np.random.default_rng(1).normal(size=len(d))]).astype(float)
    P = K.prepare(t, e == 1, X)
    P.ext_u = np.where(e == 2, 1 / g_row, 0.0)[P.order]
    P.ext_h = g_left(P.gtime, np.zeros(P.gtime.size, dtype=int))
    beta = np.array([0.2, -0.3])
    ll, grad, info = K.loglik_grad_hess(P, beta)
    h = 1e-6
    num = np.array([(K.loglik(P, beta + h * u) - K.loglik(P, beta - h * u)) / (2 * h) for u in np.eye(2)])
    np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-7)
    num_i = -np.array([(K.loglik_grad_hess(P, beta + h * u)[1] - K.loglik_grad_hess(P, beta - h * u)[1]) / (2 * h)
                       for u in np.eye(2)])
    np.testing.assert_allclose(info, num_i, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(K.score_residuals(P, beta).sum(axis=0), grad, atol=1e-10)


def test_fine_gray_without_competing_events_is_cox():
    from effekt_survival.cox import Cox, simulate_weibull

    d = simulate_weibull(np.random.default_rng(3), n=300, log_hr=0.4)
    fg = FineGray().fit(d, time="time", event="event", treatment="z", blocks="block", ties="breslow", cause=1)
    cx = Cox().fit(d, time="time", event="event", treatment="z", blocks="block", ties="breslow")
    assert fg.estimate == pytest.approx(cx.estimate, rel=1e-10)
    assert fg.extra["se_model"] == pytest.approx(cx.std_error, rel=1e-8)


def test_fine_gray_coverage():
    rng = np.random.default_rng(12)
    truth = 1.5
    hits = 0
    for _ in range(150):
        d = simulate_fine_gray(rng, n=300, log_shr=math.log(truth))
        r = FineGray().fit(d, time="time", event="event", treatment="z", cause=1)
        hits += r.conf_int[0] <= truth <= r.conf_int[1]
    lo, hi = stats.binom.ppf([0.0005, 0.9995], 150, 0.95)
    assert lo <= hits <= hi, hits


# -- bad input ---------------------------------------------------------------------------

def test_aalen_johansen_unknown_cause(df):
    with pytest.raises(DataError, match="cause=3 is not a cause of exit in event column 'event'; its causes are 1, 2"):
        AalenJohansen().fit(df, time="time", event="event", treatment="z", horizon=1.0, cause=3)


def test_aalen_johansen_needs_horizon(df):
    with pytest.raises(DesignError, match="pass horizon="):
        AalenJohansen().fit(df, time="time", event="event", treatment="z")


def test_fine_gray_needs_cause_with_several(df):
    with pytest.raises(DesignError, match=r"holds 2 causes of exit \(1, 2\); name the one analysed with cause="):
        FineGray().fit(df, time="time", event="event", treatment="z")


def test_fine_gray_no_events_of_cause(df):
    with pytest.raises(DataError, match="cause=5 is not a cause of exit"):
        FineGray().fit(df, time="time", event="event", treatment="z", cause=5)


def test_cause_specific_negative_time(df):
    d = df.copy()
    d.loc[9, "time"] = -0.5
    with pytest.raises(DataError, match=r"negative value \(row 9"):
        CauseSpecificCox().fit(d, time="time", event="event", treatment="z")


def test_cause_specific_event_code_not_integer(df):
    d = df.assign(event=df.event.astype(float))
    d.loc[2, "event"] = 0.5
    with pytest.raises(DataError, match="must hold 0 \\(censored\\) or a cause"):
        CauseSpecificCox().fit(d, time="time", event="event", treatment="z")


def test_fine_gray_score_residuals_are_the_influence_of_case_weights():
    d = simulate_fine_gray(np.random.default_rng(6), n=150, log_shr=0.4)
    d["time"] = np.ceil(d.time * 10) / 10
    t, e = d.time.to_numpy(), d.event.to_numpy()
    g_row, g_left = censoring_weights(t, e, None)
    P = K.prepare(t, e == 1, d[["z"]].to_numpy(float))
    P.ext_u = np.where(e == 2, 1 / g_row, 0.0)[P.order]
    P.ext_h = g_left(P.gtime, np.zeros(P.gtime.size, dtype=int))
    beta, _, info, _ = K.newton(P, tol=1e-20)
    R = K.score_residuals(P, beta)

    def refit(i, eps):
        w = P.w.copy()
        w[i] += eps
        g = P.ev_group
        omega = (np.bincount(g, weights=w[P.ev_rows]) / np.bincount(g))[g]
        Q = K.CoxProblem(**{**P.__dict__, "w": w, "ev_omega": omega})
        return K.newton(Q, beta, tol=1e-20)[0]

    picks = [int(np.flatnonzero(e == 2)[0]), int(np.flatnonzero(e == 2)[3]), int(np.flatnonzero(e == 1)[0]),
             int(np.flatnonzero(e == 0)[0])]  # persons who left by the competing cause, too
    for i in picks:
        pos = int(np.flatnonzero(P.order == i)[0])
        num = (refit(pos, 1e-6) - refit(pos, -1e-6)) / 2e-6
        np.testing.assert_allclose(num, np.linalg.solve(info, R[i]), rtol=1e-4, atol=1e-8)
