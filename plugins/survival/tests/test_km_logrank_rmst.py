"""kaplan_meier, logrank, rmst: against lifelines / statsmodels / plain loops; properties; bad input."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lifelines import KaplanMeierFitter
from lifelines.statistics import logrank_test
from lifelines.utils import median_survival_times, restricted_mean_survival_time
from scipy import stats
from statsmodels.duration.survfunc import survdiff

import effekt as ef
from effekt.errors import DataError, DesignError
from effekt_survival.cox import simulate_weibull
from effekt_survival.kaplan_meier import KaplanMeier, plot_kaplan_meier, simulate_exponential
from effekt_survival.logrank import Logrank
from effekt_survival.rmst import RMST


@pytest.fixture
def df():
    d = simulate_weibull(np.random.default_rng(3), n=300, log_hr=0.3)
    d["time"] = np.ceil(d.time * 20)  # weekly-style ties
    return d


def test_km_curve_ci_median_match_lifelines(df):
    res = KaplanMeier().fit(df, time="time", event="event", treatment="z", horizon=20)
    for arm, lab in ((1, "treated"), (0, "control")):
        kmf = KaplanMeierFitter().fit(df.time[df.z == arm], df.event[df.z == arm])
        c = res.extra["curves"][lab]
        np.testing.assert_allclose(c["survival"], kmf.survival_function_.loc[c["time"]].to_numpy().ravel(),
                                   rtol=1e-12)
        ci = kmf.confidence_interval_.loc[c["time"]].to_numpy()
        np.testing.assert_allclose(c["lower"], ci[:, 0], rtol=1e-10)
        np.testing.assert_allclose(c["upper"], ci[:, 1], rtol=1e-10)
        med = res.extra["median"][lab]
        assert med["median"] == kmf.median_survival_time_
        mci = median_survival_times(kmf.confidence_interval_).to_numpy().ravel()
        assert (med["lower"], med["upper"]) == (mci[0], mci[1])


def test_km_difference_and_greenwood_match_statsmodels(df):
    from statsmodels.duration.survfunc import SurvfuncRight

    res = KaplanMeier().fit(df, time="time", event="event", treatment="z", horizon=20)
    parts = {}
    for arm in (0, 1):
        sf = SurvfuncRight(df.time[df.z == arm].to_numpy(), df.event[df.z == arm].to_numpy())
        i = np.searchsorted(sf.surv_times, 20, side="right") - 1
        parts[arm] = (sf.surv_prob[i], sf.surv_prob_se[i])
    assert res.estimate == pytest.approx(parts[1][0] - parts[0][0], rel=1e-12)
    assert res.std_error == pytest.approx(math.hypot(parts[1][1], parts[0][1]), rel=1e-10)


def test_km_at_risk_table(df):
    res = KaplanMeier().fit(df, time="time", event="event", treatment="z", horizon=20, risk_times=[0, 10, 20])
    for row in res.extra["at_risk"]:
        arm = 1 if row["arm"] == "treated" else 0
        t = df.time[df.z == arm]
        assert [row["0"], row["10"], row["20"]] == [int((t >= 0).sum()), int((t >= 10).sum()), int((t >= 20).sum())]


def test_km_plot_has_at_risk_table(df):
    res = KaplanMeier().fit(df, time="time", event="event", treatment="z", horizon=20)
    fig = plot_kaplan_meier(res)
    assert len(fig.axes) == 2
    texts = [t.get_text() for t in fig.axes[1].texts]
    assert str(res.extra["at_risk"][0]["0"]) in texts
    assert fig.axes[1].get_title(loc="left") == "number at risk"


def test_km_sign_flip(df):
    a = KaplanMeier().fit(df, time="time", event="event", treatment="z", horizon=20)
    b = KaplanMeier().fit(df.assign(z=1 - df.z), time="time", event="event", treatment="z", horizon=20)
    assert b.estimate == pytest.approx(-a.estimate, abs=1e-14)


def test_km_coverage_of_exponential_truth():
    # exponential, rates 1 and 0.5: S1(1) - S0(1) = exp(-0.5) - exp(-1); 300 trials of 200
    rng = np.random.default_rng(11)
    truth = math.exp(-0.5) - math.exp(-1.0)
    hits = 0
    for _ in range(300):
        d = simulate_exponential(rng, n=200, log_hr=math.log(0.5))
        r = KaplanMeier().fit(d, time="time", event="event", treatment="z", horizon=1.0)
        hits += r.conf_int[0] <= truth <= r.conf_int[1]
    lo, hi = stats.binom.ppf([0.0005, 0.9995], 300, 0.95)
    assert lo <= hits <= hi, hits


def test_logrank_matches_lifelines_and_statsmodels(df):
    res = Logrank().fit(df, time="time", event="event", treatment="z")
    lt = logrank_test(df.time[df.z == 1], df.time[df.z == 0], df.event[df.z == 1], df.event[df.z == 0])
    assert res.extra["statistic"] == pytest.approx(lt.test_statistic, rel=1e-10)
    assert res.p_value == pytest.approx(lt.p_value, rel=1e-9)
    chi2, p = survdiff(df.time.to_numpy(), df.event.to_numpy(), df.z.to_numpy())
    assert res.extra["statistic"] == pytest.approx(chi2, rel=1e-10)


def test_stratified_logrank_matches_statsmodels(df):
    res = Logrank().fit(df, time="time", event="event", treatment="z", blocks="block")
    chi2, p = survdiff(df.time.to_numpy(), df.event.to_numpy(), df.z.to_numpy(), strata=df.block.to_numpy())
    assert res.extra["statistic"] == pytest.approx(chi2, rel=1e-10)
    assert res.p_value == pytest.approx(p, rel=1e-9)
    assert res.design == "stratified"


def test_logrank_peto_hr_wald_equals_test(df):
    res = Logrank().fit(df, time="time", event="event", treatment="z", blocks="block")
    z = math.log(res.estimate) / res.std_error
    assert z**2 == pytest.approx(res.extra["statistic"], rel=1e-12)
    assert res.ci_method == "wald-log"


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 1000))
def test_logrank_row_order_and_swap(seed):
    d = simulate_weibull(np.random.default_rng(seed), n=80, log_hr=0.3)
    a = Logrank().fit(d, time="time", event="event", treatment="z", blocks="block")
    b = Logrank().fit(d.sample(frac=1, random_state=seed), time="time", event="event", treatment="z",
                      blocks="block")
    c = Logrank().fit(d.assign(z=1 - d.z), time="time", event="event", treatment="z", blocks="block")
    assert b.extra["statistic"] == pytest.approx(a.extra["statistic"], rel=1e-10)
    assert c.estimate == pytest.approx(1 / a.estimate, rel=1e-10)


def _rmst_slow(time, event, tau):
    """Plain loop: area under the KM step function and Klein-Moeschberger variance."""
    t_ev = sorted(set(time[event > 0]))
    s, pts = 1.0, [(0.0, 1.0)]
    rows = []
    for t in t_ev:
        if t > tau:
            break
        n = np.sum(time >= t)
        d = np.sum((time == t) & (event > 0))
        s *= 1 - d / n
        pts.append((t, s))
        rows.append((t, n, d))
    def area_from(a):
        total = 0.0
        for i, (t, sv) in enumerate(pts):
            nxt = pts[i + 1][0] if i + 1 < len(pts) else tau
            lo, hi = max(t, a), min(nxt, tau)
            if hi > lo:
                total += sv * (hi - lo)
        return total
    mu = area_from(0.0)
    var = sum(area_from(t) ** 2 * d / (n * (n - d)) for t, n, d in rows if n > d)
    return mu, var


def test_rmst_matches_lifelines_mean_and_slow_variance(df):
    res = RMST().fit(df, time="time", event="event", treatment="z", horizon=25)
    for arm, lab in ((1, "treated"), (0, "control")):
        t, e = df.time[df.z == arm].to_numpy(), df.event[df.z == arm].to_numpy()
        kmf = KaplanMeierFitter().fit(t, e)
        assert res.extra[f"rmst_{lab}"] == pytest.approx(restricted_mean_survival_time(kmf, 25), rel=1e-12)
        mu, var = _rmst_slow(t, e, 25)
        assert res.extra[f"rmst_{lab}"] == pytest.approx(mu, rel=1e-12)
        assert res.extra[f"se_{lab}"] == pytest.approx(math.sqrt(var), rel=1e-10)


def test_rmst_coverage_exponential():
    rng = np.random.default_rng(5)
    r = 0.5
    truth = (1 - math.exp(-r * 1.5)) / r - (1 - math.exp(-1.5))
    hits = 0
    for _ in range(300):
        d = simulate_exponential(rng, n=200, log_hr=math.log(r))
        res = RMST().fit(d, time="time", event="event", treatment="z", horizon=1.5)
        hits += res.conf_int[0] <= truth <= res.conf_int[1]
    lo, hi = stats.binom.ppf([0.0005, 0.9995], 300, 0.95)
    assert lo <= hits <= hi, hits


def test_registered():
    names = set(ef.available()["name"])
    assert {"kaplan_meier", "logrank", "rmst", "cox"} <= names


# -- bad input ---------------------------------------------------------------------------

@pytest.mark.parametrize("conf_type", ["log-log", "log", "plain"])
def test_km_bands_inside_unit_interval(df, conf_type):
    res = KaplanMeier().fit(df, time="time", event="event", treatment="z", horizon=20, conf_type=conf_type)
    for c in res.extra["curves"].values():
        low, s, high = (np.asarray(c[k]) for k in ("lower", "survival", "upper"))
        assert np.all((0 <= low) & (low <= s + 1e-15) & (s <= high + 1e-15) & (high <= 1))


def test_km_bad_conf_type(df):
    with pytest.raises(DesignError, match="conf_type='arcsine' is not valid"):
        KaplanMeier().fit(df, time="time", event="event", treatment="z", horizon=20, conf_type="arcsine")


def test_km_needs_horizon(df):
    with pytest.raises(DesignError, match="pass horizon="):
        KaplanMeier().fit(df, time="time", event="event", treatment="z")


def test_km_negative_horizon(df):
    with pytest.raises(DesignError, match="horizon=-1 is not valid"):
        KaplanMeier().fit(df, time="time", event="event", treatment="z", horizon=-1)


def test_rmst_tau_beyond_follow_up(df):
    with pytest.raises(DesignError, match="horizon=1000 lies beyond the last follow-up time of the"):
        RMST().fit(df, time="time", event="event", treatment="z", horizon=1000)


def test_rmst_needs_tau(df):
    with pytest.raises(DesignError, match="pass horizon="):
        RMST().fit(df, time="time", event="event", treatment="z")


def test_logrank_block_with_one_arm(df):
    d = df.copy()
    d.loc[d.block == 1, "z"] = 0
    with pytest.raises(DataError, match="stratum 1 of column 'block' has 0 treated"):
        Logrank().fit(d, time="time", event="event", treatment="z", blocks="block")


def test_treatment_not_binary(df):
    with pytest.raises(DataError, match="treatment column 'z' must hold 0 .* also holds 2"):
        Logrank().fit(df.assign(z=df.z * 2), time="time", event="event", treatment="z")


def test_km_negative_time(df):
    d = df.copy()
    d.loc[0, "time"] = -3
    with pytest.raises(DataError, match="negative value"):
        KaplanMeier().fit(d, time="time", event="event", treatment="z", horizon=5)


def test_text_time(df):
    with pytest.raises(DataError, match="time column 'time' holds text where numbers belong"):
        RMST().fit(df.assign(time=df.time.astype(str)), time="time", event="event", treatment="z", horizon=5)


def test_km_delayed_entry_matches_lifelines(df):
    d = df.assign(en=np.floor(df.time * np.random.default_rng(1).uniform(0, 0.6, len(df))))
    res = KaplanMeier().fit(d, time="time", event="event", treatment="z", horizon=20, entry="en")
    for arm, lab in ((1, "treated"), (0, "control")):
        m = d.z == arm
        kmf = KaplanMeierFitter().fit(d.time[m], d.event[m], entry=d.en[m])
        c = res.extra["curves"][lab]
        np.testing.assert_allclose(c["survival"], kmf.survival_function_.loc[c["time"]].to_numpy().ravel(),
                                   rtol=1e-12)
        # at risk at t: entered before t and not yet out (lifelines' event_table counts entries at t too)
        t, en = d.time[m].to_numpy(), d.en[m].to_numpy()
        expected = [int(np.sum((en < s) & (t >= s))) for s in c["time"]]
        np.testing.assert_array_equal(c["at_risk"], expected)


def test_lung_matches_published_r_output():
    # R survival's lung data (lifelines' copy): survfit(Surv(time, status) ~ sex) medians 270 (male,
    # 0.95LCL 212, UCL 310) and 426 (female, 348, 550) with R's default conf.type="log"; survdiff(Surv(time, status) ~ sex): Chisq = 10.3 on 1 df, p = 0.00131;
    # coxph(Surv(time, status) ~ sex): coef -0.531, se 0.167, p = 0.00149, LR test 10.63, score
    # (logrank) test 10.33 (Therneau & Grambsch 2000; R documentation of survival::lung).
    from lifelines.datasets import load_lung

    d = load_lung()
    d["female"] = (d.sex == 2).astype(int)
    km = ef.estimate("kaplan_meier", data=d, time="time", event="status", treatment="female", horizon=365)
    assert (km.extra["median"]["control"]["median"], km.extra["median"]["treated"]["median"]) == (270.0, 426.0)
    km_log = ef.estimate("kaplan_meier", data=d, time="time", event="status", treatment="female", horizon=365,
                         conf_type="log")
    assert km_log.extra["median"] == {"control": {"median": 270.0, "lower": 212.0, "upper": 310.0},
                                      "treated": {"median": 426.0, "lower": 348.0, "upper": 550.0}}
    lr = ef.estimate("logrank", data=d, time="time", event="status", treatment="female")
    assert round(lr.extra["statistic"], 1) == 10.3 and round(lr.p_value, 5) == 0.00131
    cx = ef.estimate("cox", data=d, time="time", event="status", treatment="female")
    assert (round(cx.extra["log_hr"], 3), round(cx.std_error, 3), round(cx.p_value, 5)) == (-0.531, 0.167, 0.00149)
    assert (round(cx.extra["lr_statistic"], 2), round(cx.extra["score_statistic"], 2)) == (10.63, 10.33)
