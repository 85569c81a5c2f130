"""Schoenfeld, Freedman, log-rank expected events, correlation and McNemar."""

import numpy as np
import pytest
from scipy import integrate, stats

import effekt as ef
from effekt_power import event_probability

Z = stats.norm.isf(0.025) + stats.norm.isf(0.2)


# -- seed 004, section 4.12 (Schoenfeld, 1:1, two-sided alpha 0.05, 80% power) ---------------
@pytest.mark.parametrize(
    ("hr", "events_needed", "observed", "power_observed"),
    [(1.74, 102, 40, 0.42), (1.23, 733, 57, 0.12), (1.28, 515, 120, 0.27)],
)
def test_seed004_schoenfeld_table(hr, events_needed, observed, power_observed):
    assert ef.power("schoenfeld", hr=hr, power=0.8).value == pytest.approx(events_needed, abs=0.5)
    assert ef.power("schoenfeld", hr=hr, events=observed).value == pytest.approx(power_observed, abs=0.005)


def test_seed004_minimal_detectable_hr():
    # "With 40 events, the minimal detectable HR is about 2.43"
    assert ef.power("schoenfeld", events=40, power=0.8).value == pytest.approx(2.43, abs=0.005)


def test_schoenfeld_closed_form_unequal_allocation():
    # Schoenfeld (1983): D = (z_a + z_b)^2 / (p1 p2 log(hr)^2), one-sided alpha/2 (no far region)
    d = Z**2 / (1 / 3 * 2 / 3 * np.log(0.7) ** 2)
    res = ef.power("schoenfeld", hr=0.7, power=0.8, ratio=2, alternative="less", alpha=0.025)
    assert res.value == pytest.approx(d, rel=1e-12)
    # two-sided: the far rejection region changes D only in the sixth digit
    assert ef.power("schoenfeld", hr=0.7, power=0.8, ratio=2).value == pytest.approx(d, rel=1e-5)


@pytest.mark.parametrize(("hr", "r"), [(1.74, 1.0), (0.6, 2.0), (1.5, 0.5)])
def test_freedman_closed_form(hr, r):
    # Freedman (1982): D = (z_a + z_b)^2 (1 + r hr)^2 / (r (1 - hr)^2)
    d = Z**2 * (1 + r * hr) ** 2 / (r * (1 - hr) ** 2)
    alt = "greater" if hr > 1 else "less"
    res = ef.power("freedman", hr=hr, power=0.8, ratio=r, alternative=alt, alpha=0.025)
    assert res.value == pytest.approx(d, rel=1e-9)


@pytest.mark.parametrize(
    ("lam", "accrual", "follow_up", "dropout", "competing"),
    [(0.1, 0.0, 2.0, 0.0, 0.0), (0.3, 1.5, 1.0, 0.05, 0.2), (0.02, 3.0, 0.5, 0.1, 0.0)],
)
def test_event_probability_matches_numerical_integration(lam, accrual, follow_up, dropout, competing):
    theta = lam + dropout + competing

    def p_given_time(u):
        return lam / theta * (1 - np.exp(-theta * u))

    if accrual > 0:
        ref = integrate.quad(p_given_time, follow_up, accrual + follow_up)[0] / accrual
    else:
        ref = p_given_time(follow_up)
    got = event_probability(lam, accrual=accrual, follow_up=follow_up, dropout=dropout, competing=competing)
    assert float(got) == pytest.approx(ref, rel=1e-10)


def test_event_probability_matches_simulation():
    rng = np.random.default_rng(7)
    m = 200_000
    entry = rng.uniform(0, 2.0, m)
    t_event = rng.exponential(1 / 0.25, m)
    t_comp = rng.exponential(1 / 0.1, m)
    t_drop = rng.exponential(1 / 0.05, m)
    cutoff = 2.0 + 1.0 - entry
    observed = (t_event < np.minimum(np.minimum(t_comp, t_drop), cutoff)).mean()
    p = float(event_probability(0.25, accrual=2.0, follow_up=1.0, dropout=0.05, competing=0.1))
    assert observed == pytest.approx(p, abs=4 * np.sqrt(p * (1 - p) / m))


def test_logrank_subjects_deliver_schoenfeld_events():
    res = ef.power("logrank", hr=1.74, power=0.8, median=3.0, follow_up=2.0, accrual=1.0, dropout=0.05)
    events = ef.power("schoenfeld", hr=1.74, power=0.8).value
    assert res.extra["events"] == pytest.approx(events, rel=1e-8)
    lam = np.log(2) / 3.0
    p1 = event_probability(lam, accrual=1.0, follow_up=2.0, dropout=0.05)
    p2 = event_probability(lam * 1.74, accrual=1.0, follow_up=2.0, dropout=0.05)
    assert res.value * (p1 + p2) == pytest.approx(events, rel=1e-8)


def test_logrank_stratified_equal_strata_is_unstratified():
    a = ef.power("logrank", hr=1.5, power=0.8, hazard=0.2, follow_up=1.0).value
    b = ef.power(
        "logrank", hr=1.5, power=0.8, strata_weights=[0.3, 0.7], strata_hazards=[0.2, 0.2], follow_up=1.0
    ).value
    assert a == pytest.approx(b, rel=1e-10)
    c = ef.power(
        "logrank", hr=1.5, power=0.8, strata_weights=[0.5, 0.5], strata_hazards=[0.1, 0.3], follow_up=1.0
    )
    p1 = 0.5 * event_probability(0.1, follow_up=1.0) + 0.5 * event_probability(0.3, follow_up=1.0)
    assert c.extra["p_event1"] == pytest.approx(float(p1), rel=1e-12)


def test_logrank_competing_exits_need_more_subjects():
    base = {"hr": 1.5, "power": 0.8, "hazard": 0.2, "follow_up": 2.0}
    assert ef.power("logrank", **base, competing=0.3).value > ef.power("logrank", **base).value


# -- correlation, seed 002 (notes-002-flere-skal-med.md, section 4.14) -------------------------
@pytest.mark.parametrize(("n", "r"), [(88, 0.295), (81, 0.307), (80, 0.309), (50, 0.387), (49, 0.391), (6, 0.924)])
def test_seed002_minimal_detectable_r(n, r):
    assert ef.power("correlation", n=n, power=0.8).value == pytest.approx(r, abs=5e-4)


def test_correlation_formula_one_sided():
    # Fisher z: one-sided power = Phi(atanh(r) sqrt(n - 3) - z_{1-alpha})
    ref = stats.norm.cdf(np.arctanh(0.3) * np.sqrt(47) - stats.norm.isf(0.05))
    assert ef.power("correlation", r=0.3, n=50, alternative="greater").value == pytest.approx(ref, abs=1e-12)


# -- McNemar ------------------------------------------------------------------------------------
def test_mcnemar_connor_closed_form():
    # Connor (1987): n = (z_a sqrt(psi) + z_b sqrt(psi - delta^2))^2 / delta^2 (one-sided alpha/2)
    p10, p01 = 0.25, 0.10
    psi, delta = p10 + p01, p10 - p01
    za, zb = stats.norm.isf(0.025), stats.norm.isf(0.2)
    n = (za * np.sqrt(psi) + zb * np.sqrt(psi - delta**2)) ** 2 / delta**2
    res = ef.power("mcnemar", p10=p10, p01=p01, power=0.8, alternative="greater", alpha=0.025)
    assert res.value == pytest.approx(n, rel=1e-9)


def test_mcnemar_power_matches_simulation():
    rng = np.random.default_rng(11)
    n, p10, p01, sims = 150, 0.2, 0.1, 4000
    cells = rng.multinomial(n, [p10, p01, 1 - p10 - p01], size=sims)
    b, c = cells[:, 0], cells[:, 1]
    stat = (b - c) ** 2 / np.maximum(b + c, 1)
    rate = (stat > stats.chi2.isf(0.05, 1)).mean()
    analytic = ef.power("mcnemar", p10=p10, p01=p01, n=n).value
    assert abs(rate - analytic) < 0.03


def test_logrank_warns_when_few_subjects_reach_the_event():
    # seed 004 (section 6, item 8): warn when follow-up is short relative to the programme
    res = ef.power("logrank", hr=1.74, power=0.8, hazard=0.1, follow_up=2.0)
    assert res.extra["p_event1"] == pytest.approx(1 - np.exp(-0.2))
    assert any("18.1% of arm-1 subjects" in w for w in res.warnings)
    assert ef.power("logrank", hr=1.74, power=0.8, hazard=0.5, follow_up=2.0).warnings == ()


def test_exact_mcnemar_power_matches_enumeration_with_scipy_binomtest():
    # oracle: every (b, c) table of 25 pairs, multinomial probability, scipy's exact binomial test
    n, p10, p01 = 25, 0.3, 0.08
    total = 0.0
    for b in range(n + 1):
        for c in range(n + 1 - b):
            if b + c == 0:
                continue
            prob = stats.multinomial.pmf([b, c, n - b - c], n, [p10, p01, 1 - p10 - p01])
            if stats.binomtest(b, b + c, 0.5).pvalue <= 0.05:
                total += prob
    got = ef.power("mcnemar", p10=p10, p01=p01, n=n, method="exact").value
    assert got == pytest.approx(total, abs=1e-12)


def test_exact_mcnemar_rejection_matches_seed000_pvalues():
    # seeds 000/003, section 4.12a: exact McNemar p = 0.081 for b = 35, c = 21 (56 discordant pairs)
    from effekt_power.mcnemar import _exact_rejection

    assert not _exact_rejection(56, 0.05, "two-sided")[35]
    assert _exact_rejection(56, 0.09, "two-sided")[35]
    # and p = 1.2e-4 for b = 14, c = 0
    assert _exact_rejection(14, 1.3e-4, "two-sided")[14]
    assert not _exact_rejection(14, 1.1e-4, "two-sided")[14]


def test_exact_mcnemar_n_is_smallest_reaching_power():
    res = ef.power("mcnemar", p10=0.3, p01=0.1, power=0.8, method="exact")
    n = res.value
    assert ef.power("mcnemar", p10=0.3, p01=0.1, n=n, method="exact").value >= 0.8
    assert ef.power("mcnemar", p10=0.3, p01=0.1, n=n - 1, method="exact").value < 0.8
