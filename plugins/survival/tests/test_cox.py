"""cox: oracle comparisons with lifelines and statsmodels, properties, bad input."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from lifelines import CoxPHFitter
from lifelines.statistics import proportional_hazard_test
from scipy import stats

import effekt as ef
from effekt.errors import DataError, DesignError, EstimationError
from effekt_survival import _coxkernel as K
from effekt_survival.cox import Cox, simulate_weibull


def _data(seed=3, n=300, ties=True, strata=5):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    z = rng.integers(0, 2, n)
    s = np.arange(n) % strata
    t = rng.exponential(10 * np.exp(-(0.4 * z + x @ [0.3, -0.2])))
    t = np.ceil(t) if ties else t
    e = (rng.random(n) < 0.75).astype(int)
    return pd.DataFrame({"t": t, "e": e, "z": z, "s": s, "x1": x[:, 0], "x2": x[:, 1],
                         "cl": rng.integers(0, 30, n)})


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_matches_statsmodels_phreg(ties):
    df = _data()
    res = Cox().fit(df, time="t", event="e", treatment="z", strata="s", covariates=["x1", "x2"], ties=ties)
    m = sm.PHReg(df.t, df[["z", "x1", "x2"]], status=df.e, strata=df.s, ties=ties).fit()
    assert math.log(res.estimate) == pytest.approx(m.params[0], abs=1e-8)
    assert res.std_error == pytest.approx(m.bse[0], rel=1e-7)
    assert res.extra["loglik"] == pytest.approx(m.llf, rel=1e-10)


def test_matches_lifelines_efron_strata():
    df = _data()
    res = Cox().fit(df, time="t", event="e", treatment="z", strata="s", covariates=["x1", "x2"])
    c = CoxPHFitter().fit(df[["t", "e", "z", "s", "x1", "x2"]], "t", "e", strata=["s"])
    assert math.log(res.estimate) == pytest.approx(c.params_["z"], abs=1e-6)
    assert res.std_error == pytest.approx(c.standard_errors_["z"], rel=1e-6)
    assert res.conf_int[0] == pytest.approx(c.summary.loc["z", "exp(coef) lower 95%"], rel=1e-5)


def test_lr_test_matches_lifelines_single_term():
    df = _data()
    res = Cox().fit(df, time="t", event="e", treatment="z")
    c = CoxPHFitter().fit(df[["t", "e", "z"]], "t", "e")
    lr = c.log_likelihood_ratio_test()
    assert res.extra["lr_statistic"] == pytest.approx(lr.test_statistic, rel=1e-6)
    assert res.extra["lr_p_value"] == pytest.approx(lr.p_value, rel=1e-5)


def test_score_test_breslow_equals_stratified_logrank():
    # without tied times the Cox score test is the (stratified) log-rank test
    from statsmodels.duration.survfunc import survdiff

    df = _data(ties=False)
    res = Cox().fit(df, time="t", event="e", treatment="z", strata="s", ties="breslow")
    chi2, p = survdiff(df.t.to_numpy(), df.e.to_numpy(), df.z.to_numpy(), strata=df.s.to_numpy())
    assert res.extra["score_statistic"] == pytest.approx(chi2, rel=1e-9)
    assert res.extra["score_p_value"] == pytest.approx(p, rel=1e-8)


def test_profile_ci_endpoints_solve_lr_equation():
    # at each profile end point, 2 (l_max - l_profile) = chi2_{1,0.95}; l_profile from statsmodels
    df = _data()
    res = Cox().fit(df, time="t", event="e", treatment="z", strata="s", covariates=["x1", "x2"])
    crit = stats.chi2.ppf(0.95, 1)
    for end in res.extra["conf_int_profile"]:
        b = math.log(end)
        m = sm.PHReg(df.t, df[["x1", "x2"]], status=df.e, strata=df.s, ties="efron",
                     offset=b * df.z.to_numpy()).fit()
        assert 2 * (res.extra["loglik"] - m.llf) == pytest.approx(crit, abs=1e-6)
    lo, hi = res.extra["conf_int_profile"]
    assert lo < res.estimate < hi


def test_cluster_robust_matches_statsmodels_breslow():
    df = _data()
    res = Cox().fit(df, time="t", event="e", treatment="z", strata="s", covariates=["x1"],
                    clusters="cl", ties="breslow")
    m = sm.PHReg(df.t, df[["z", "x1"]], status=df.e, strata=df.s, ties="breslow").fit(groups=df.cl)
    assert res.std_error == pytest.approx(m.bse[0], rel=1e-7)
    assert res.se_type == "lin-wei-CR0" and res.design == "clustered"


def test_cluster_robust_efron_equals_breslow_without_ties():
    df = _data(ties=False)
    a = Cox().fit(df, time="t", event="e", treatment="z", clusters="cl", ties="efron")
    m = sm.PHReg(df.t, df[["z"]], status=df.e, ties="breslow").fit(groups=df.cl)
    assert a.std_error == pytest.approx(m.bse[0], rel=1e-7)


def test_score_residuals_sum_to_score_efron_ties():
    df = _data()
    X = df[["z", "x1"]].to_numpy(float)
    P = K.prepare(df.t.to_numpy(float), df.e.to_numpy(), X, strata=df.s.to_numpy(), ties="efron")
    beta = np.array([0.2, -0.1])
    _, grad, _ = K.loglik_grad_hess(P, beta)
    np.testing.assert_allclose(K.score_residuals(P, beta).sum(axis=0), grad, atol=1e-10)


def test_gradient_and_information_match_finite_differences_with_entry_and_weights():
    df = _data()
    rng = np.random.default_rng(9)
    entry = np.floor(df.t.to_numpy() * rng.uniform(0, 0.7, len(df)))
    w = rng.uniform(0.5, 2, len(df))
    X = df[["z", "x1", "x2"]].to_numpy(float)
    P = K.prepare(df.t.to_numpy(float), df.e.to_numpy(), X, strata=df.s.to_numpy(), start=entry,
                  weights=w, ties="efron")
    beta = np.array([0.3, -0.2, 0.1])
    ll, grad, info = K.loglik_grad_hess(P, beta)
    h = 1e-6
    num_grad = np.array([(K.loglik(P, beta + h * e) - K.loglik(P, beta - h * e)) / (2 * h) for e in np.eye(3)])
    np.testing.assert_allclose(grad, num_grad, rtol=1e-6, atol=1e-6)
    num_info = -np.array([
        (K.loglik_grad_hess(P, beta + h * e)[1] - K.loglik_grad_hess(P, beta - h * e)[1]) / (2 * h)
        for e in np.eye(3)
    ])
    np.testing.assert_allclose(info, num_info, rtol=1e-5, atol=1e-6)


def test_delayed_entry_matches_lifelines_time_varying():
    from lifelines import CoxTimeVaryingFitter

    df = _data()
    rng = np.random.default_rng(2)
    df["en"] = np.floor(df.t * rng.uniform(0, 0.8, len(df)))
    df = df[df.en < df.t].reset_index(drop=True)
    res = Cox().fit(df, time="t", event="e", treatment="z", strata="s", covariates=["x1"], entry="en")
    d2 = df[["z", "x1", "en", "t", "e", "s"]].assign(id=np.arange(len(df)))
    c = CoxTimeVaryingFitter().fit(d2, id_col="id", event_col="e", start_col="en", stop_col="t", strata=["s"])
    assert math.log(res.estimate) == pytest.approx(c.params_["z"], abs=1e-6)
    assert res.std_error == pytest.approx(c.standard_errors_["z"], rel=1e-6)


@pytest.mark.parametrize("transform", ["km", "rank", "identity"])
def test_ph_test_matches_lifelines(transform):
    df = _data(ties=False)
    res = Cox().fit(df, time="t", event="e", treatment="z", covariates=["x1"], ph_transform=transform)
    d2 = df[["t", "e", "z", "x1"]]
    c = CoxPHFitter().fit(d2, "t", "e")
    ref = proportional_hazard_test(c, d2, time_transform=transform).summary
    for row in res.extra["ph_test"]:
        assert row["statistic"] == pytest.approx(ref.loc[row["term"], "test_statistic"], rel=1e-4)


def test_rate_wording_and_registry():
    df = simulate_weibull(np.random.default_rng(1), n=300, log_hr=math.log(1.74))
    res = ef.estimate("cox", data=df, time="time", event="event", treatment="z", blocks="block")
    pct = (res.estimate - 1) * 100
    assert res.extra["interpretation"] == f"{abs(pct):.0f} % {'higher' if pct >= 0 else 'lower'} rate"
    assert res.design == "stratified" and res.extra["n_strata"] == 4
    lower = ef.estimate("cox", data=df.assign(z=1 - df.z), time="time", event="event", treatment="z",
                        blocks="block")
    assert lower.extra["interpretation"].endswith("lower rate")


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_row_order_and_arm_swap(seed):
    df = simulate_weibull(np.random.default_rng(seed), n=120, log_hr=0.4)
    kw = dict(time="time", event="event", treatment="z", blocks="block", profile_ci=False)
    a = Cox().fit(df, **kw)
    b = Cox().fit(df.sample(frac=1, random_state=seed), **kw)
    assert b.estimate == pytest.approx(a.estimate, rel=1e-9)
    assert b.std_error == pytest.approx(a.std_error, rel=1e-9)
    c = Cox().fit(df.assign(z=1 - df.z), **kw)
    assert c.estimate == pytest.approx(1 / a.estimate, rel=1e-8)
    assert c.std_error == pytest.approx(a.std_error, rel=1e-8)


def test_stratified_cox_covers_weibull_hr_at_nominal_rate():
    # Weibull times with a known HR inside 4 blocks with different baselines; 200 trials of 200.
    # Coverage of the 95% Wald CI must lie in the central 99.9% binomial range of Bin(200, 0.95).
    rng = np.random.default_rng(20261125)
    true_hr = 1.74
    reps = 200
    hits = 0
    for _ in range(reps):
        df = simulate_weibull(rng, n=200, log_hr=math.log(true_hr))
        r = Cox().fit(df, time="time", event="event", treatment="z", strata="block", profile_ci=False,
                      ph_transform=None)
        hits += r.conf_int[0] <= true_hr <= r.conf_int[1]
    lo, hi = stats.binom.ppf([0.0005, 0.9995], reps, 0.95)
    assert lo <= hits <= hi, hits


# -- bad input --------------------------------------------------------------------------

def test_negative_time():
    df = _data()
    df.loc[4, "t"] = -1.0
    with pytest.raises(DataError, match=r"time column 't' has 1 negative value \(row 4"):
        Cox().fit(df, time="t", event="e", treatment="z")


def test_bad_event_code():
    df = _data()
    df["e"] = df.e.astype(float)
    df.loc[7, "e"] = 1.5
    with pytest.raises(DataError, match=r"event column 'e' must hold 0 \(censored\) or a cause"):
        Cox().fit(df, time="t", event="e", treatment="z")


def test_several_causes_without_cause_count_every_exit():
    df = _data()
    df.loc[:20, "e"] = 2 * df.loc[:20, "e"]
    a = Cox().fit(df, time="t", event="e", treatment="z")
    b = Cox().fit(df.assign(e=(df.e > 0).astype(int)), time="t", event="e", treatment="z")
    assert a.estimate == pytest.approx(b.estimate, rel=1e-12)
    assert a.extra["cause"] is None


def test_stratum_with_one_arm():
    df = _data()
    df.loc[df.s == 2, "z"] = 1
    with pytest.raises(DataError, match="stratum 2 of column 's' has .* treated and 0 control"):
        Cox().fit(df, time="t", event="e", treatment="z", strata="s")


def test_strata_and_blocks_disagree():
    with pytest.raises(DesignError, match="strata='s' and blocks='cl' name different columns"):
        Cox().fit(_data(), time="t", event="e", treatment="z", strata="s", blocks="cl")


def test_no_events():
    with pytest.raises(DataError, match="no events among 300 rows"):
        Cox().fit(_data().assign(e=0), time="t", event="e", treatment="z")


def test_missing_time_column():
    with pytest.raises(DataError, match="time='weeks': no such column"):
        Cox().fit(_data(), time="weeks", event="e", treatment="z")


def test_nan_time():
    df = _data()
    df.loc[3, "t"] = np.nan
    with pytest.raises(DataError, match="time column 't' has 1 missing value"):
        Cox().fit(df, time="t", event="e", treatment="z")


def test_bad_ties_option():
    with pytest.raises(DesignError, match="ties='exact' is not valid"):
        Cox().fit(_data(), time="t", event="e", treatment="z", ties="exact")


def test_perfect_separation():
    df = _data()
    df["e"] = df.z  # only treated units have events
    with pytest.raises(EstimationError, match="diverge"):
        Cox().fit(df, time="t", event="e", treatment="z")


def test_entry_not_before_exit():
    df = _data().assign(en=0.0)
    df.loc[5, "en"] = df.loc[5, "t"]
    with pytest.raises(DataError, match=r"entry column 'en' is not before time column 't' in row 5"):
        Cox().fit(df, time="t", event="e", treatment="z", entry="en")


def test_cause_any_is_the_composite_endpoint():
    df = _data()
    df.loc[:40, "e"] = df.loc[:40, "e"] * 2  # some exits of cause 2
    a = Cox().fit(df, time="t", event="e", treatment="z", strata="s")
    b = Cox().fit(df.assign(e=(df.e > 0).astype(int)), time="t", event="e", treatment="z", strata="s")
    assert a.estimate == pytest.approx(b.estimate, rel=1e-12)
    assert a.extra["cause"] is None
    assert a.extra["events_treated"] + a.extra["events_control"] == int((df.e > 0).sum())


def test_bad_cause_value():
    with pytest.raises(DataError, match="cause='job' is not a cause of exit in event column 'e'; its causes are 1"):
        Cox().fit(_data(), time="t", event="e", treatment="z", cause="job")


def _refit_with_weight(P, i_sorted, eps, beta0):
    w = P.w.copy()
    w[i_sorted] += eps
    Q = K.CoxProblem(**{**P.__dict__, "w": w})
    if Q.ties == "efron":  # the slot weight is the mean weight of the tied events
        g = Q.ev_group
        counts = np.bincount(g)
        mean_w = np.bincount(g, weights=w[Q.ev_rows]) / counts
        Q.ev_omega = mean_w[g]
    else:
        Q.ev_omega = w[Q.ev_rows]
    return K.newton(Q, beta0, tol=1e-20)[0]


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_score_residuals_are_the_influence_of_case_weights(ties):
    # d beta / d w_i = I^{-1} r_i: the robust variance's residuals checked against refits (tied data)
    df = _data(n=120)
    X = df[["z", "x1"]].to_numpy(float)
    P = K.prepare(df.t.to_numpy(float), df.e.to_numpy(), X, strata=df.s.to_numpy(), ties=ties)
    beta, _, info, _ = K.newton(P, tol=1e-20)
    R = K.score_residuals(P, beta)
    Vi = np.linalg.inv(info)
    eps = 1e-6
    for i in [0, 5, 17, 42, 99]:
        pos = int(np.flatnonzero(P.order == i)[0])
        num = (_refit_with_weight(P, pos, eps, beta) - _refit_with_weight(P, pos, -eps, beta)) / (2 * eps)
        np.testing.assert_allclose(num, Vi @ R[i], rtol=1e-4, atol=1e-8)


def test_rossi_matches_published_r_coxph():
    # Fox & Weisberg (2011), "Cox Proportional-Hazards Regression for Survival Data in R", appendix
    # to An R Companion to Applied Regression, 2nd ed.: coxph(Surv(week, arrest) ~ fin + age + race +
    # wexp + mar + paro + prio, data = Rossi), Efron ties. Data: lifelines' copy of carData::Rossi.
    from lifelines.datasets import load_rossi

    ref = {  # term: (coef, se(coef), Pr(>|z|))
        "fin": (-0.37942, 0.19138, 0.04742), "age": (-0.05744, 0.02200, 0.00903),
        "race": (0.31390, 0.30799, 0.30812), "wexp": (-0.14980, 0.21222, 0.48029),
        "mar": (-0.43370, 0.38187, 0.25606), "paro": (-0.08487, 0.19576, 0.66461),
        "prio": (0.09150, 0.02865, 0.00140),
    }
    res = Cox().fit(load_rossi(), time="week", event="arrest", treatment="fin",
                    covariates=["age", "race", "wexp", "mar", "paro", "prio"])
    for row in res.extra["coefficients"]:
        coef, se, p = ref[row["term"]]
        assert (round(row["coef"], 5), round(row["std_error"], 5), round(row["p_value"], 5)) == (coef, se, p)
    assert round(res.estimate, 5) == 0.68426  # exp(coef) of fin
