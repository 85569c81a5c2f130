"""Contingency estimators against the seed notes and against scipy / statsmodels.

Reference values are quoted from the seed notes with their section; the
oracle comparisons use scipy.stats and statsmodels on the same counts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.contingency_tables import Table2x2, mcnemar
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

import effekt as ef
from effekt.estimators._tables import newcombe_interval, wilson_interval


def two_arm(treated_events: int, treated_n: int, control_events: int, control_n: int) -> pd.DataFrame:
    """Individual-level data of a two-arm trial, via from_counts
    (rows: outcome 0/1; columns: control, treated)."""
    return ef.from_counts(
        [[control_n - control_events, treated_n - treated_events], [control_events, treated_events]]
    )


def fit(name: str, data: pd.DataFrame, **kw):
    return ef.estimate(name, data=data, outcome="y", treatment="z", **kw)


# -- seed 004, Table 8.8: complaints, 3/109 (I) vs 14/109 (C) -------------------------
# notes-004-resource-course-rct.md sec. 4.10
@pytest.fixture(scope="module")
def complaints() -> pd.DataFrame:
    published = pd.DataFrame(
        {"I": [106, 3, 109], "C": [95, 14, 109], "Total": [201, 17, 218]},
        index=["No", "Yes", "Total"],
    )
    return ef.from_counts(published)


def fit_c(name: str, data: pd.DataFrame, **kw):
    return ef.estimate(name, data=data, outcome="y", treatment="z", arms=("C", "I"), positive="Yes", **kw)


def test_complaints_pearson_chi2(complaints):
    res = fit_c("chi2", complaints)
    assert round(res.extra["statistic"], 3) == 7.720  # notes-004 sec. 4.10: chi2 = 7.720
    assert round(res.p_value, 4) == 0.0055  # p = 0.0055
    assert res.extra["df"] == 1
    assert res.estimand == "risk_difference"


def test_complaints_yates(complaints):
    res = fit_c("chi2", complaints, correction="yates")
    assert round(res.extra["statistic"], 3) == 6.380  # notes-004 sec. 4.10: Yates chi2 = 6.380
    assert round(res.p_value, 4) == 0.0115  # Yates p = 0.0115


def test_complaints_fisher(complaints):
    assert round(fit_c("fisher", complaints).p_value, 4) == 0.0096  # notes-004 sec. 4.10


def test_complaints_g(complaints):
    res = fit_c("g_test", complaints)
    assert round(res.extra["statistic"], 3) == 8.325  # notes-004 sec. 4.10: G = 8.325
    assert round(res.p_value, 4) == 0.0039  # p = 0.0039


def test_complaints_risk_difference_newcombe(complaints):
    res = fit_c("risk_difference", complaints)
    assert round(res.estimate, 3) == -0.101  # notes-004 sec. 4.10: RD = -0.101
    assert tuple(round(v, 3) for v in res.conf_int) == (-0.179, -0.030)  # Newcombe CI
    assert res.ci_method == "newcombe"


def test_complaints_risk_difference_wald(complaints):
    res = fit_c("risk_difference", complaints, ci_method="wald")
    assert tuple(round(v, 3) for v in res.conf_int) == (-0.171, -0.031)  # notes-004 sec. 4.10: Wald CI


def test_complaints_risk_ratio(complaints):
    assert round(fit_c("risk_ratio", complaints).estimate, 3) == 0.214  # notes-004 sec. 4.10: RR = 0.214


# -- seed 004, other tables (notes-004 sec. 4.3 - 4.9) ---------------------------------
def test_table_8_4_source_of_support_3x2():
    # notes-004 sec. 4.6: Pearson chi2(2) = 3.181, p = 0.204; G = 3.215, p = 0.200
    t = pd.DataFrame({"I": [7, 18, 84], "C": [5, 10, 94]}, index=["labour market", "pension", "course"])
    df = ef.from_counts(t)
    res = ef.estimate("chi2", data=df, outcome="y", treatment="z", arms=("C", "I"))
    assert round(res.extra["statistic"], 3) == 3.181
    assert res.extra["df"] == 2
    assert round(res.p_value, 3) == 0.204
    assert res.estimand == "cramers_v"
    g = ef.estimate("g_test", data=df, outcome="y", treatment="z", arms=("C", "I"))
    assert round(g.extra["statistic"], 3) == 3.215
    assert round(g.p_value, 3) == 0.200


def test_table_8_3_clarification():
    # notes-004 sec. 4.5: chi2(1) = 3.062, p = 0.080; Yates p = 0.115; Fisher p = 0.115;
    # RD 0.0917, Wald (-0.010, 0.194), Newcombe (-0.012, 0.194); RR 1.667
    df = two_arm(25, 109, 15, 109)
    chi = fit("chi2", df)
    assert round(chi.extra["statistic"], 3) == 3.062 and round(chi.p_value, 3) == 0.080
    assert round(fit("chi2", df, correction="yates").p_value, 3) == 0.115
    assert round(fit("fisher", df).p_value, 3) == 0.115
    rd = fit("risk_difference", df)
    assert round(rd.estimate, 4) == 0.0917
    assert tuple(round(v, 3) for v in rd.conf_int) == (-0.012, 0.194)
    assert tuple(round(v, 3) for v in fit("risk_difference", df, ci_method="wald").conf_int) == (-0.010, 0.194)
    assert round(fit("risk_ratio", df).estimate, 3) == 1.667


def test_table_8_1_sex():
    # notes-004 sec. 4.3: chi2(1) = 0.019, p = 0.890; Fisher p = 1.000
    df = two_arm(43, 109, 42, 109)
    chi = fit("chi2", df)
    assert round(chi.extra["statistic"], 3) == 0.019 and round(chi.p_value, 3) == 0.890
    assert round(fit("fisher", df).p_value, 3) == 1.000


def test_table_8_2_age_4x2():
    # notes-004 sec. 4.4: chi2(3) = 4.826, p = 0.185; G-test p = 0.178
    t = pd.DataFrame({"I": [10, 45, 50, 4], "C": [21, 39, 44, 5]}, index=["30-39", "40-49", "50-59", ">60"])
    df = ef.from_counts(t)
    chi = ef.estimate("chi2", data=df, outcome="y", treatment="z", arms=("C", "I"))
    assert round(chi.extra["statistic"], 3) == 4.826 and chi.extra["df"] == 3
    assert round(chi.p_value, 3) == 0.185
    assert round(ef.estimate("g_test", data=df, outcome="y", treatment="z", arms=("C", "I")).p_value, 3) == 0.178


def test_table_8_6_company_placement():
    # notes-004 sec. 4.8: chi2 = 1.854, p = 0.173; RD 0.092 (Newcombe -0.040, 0.219); RR 1.18
    df = two_arm(65, 109, 55, 109)
    chi = fit("chi2", df)
    assert round(chi.extra["statistic"], 3) == 1.854 and round(chi.p_value, 3) == 0.173
    rd = fit("risk_difference", df)
    assert round(rd.estimate, 3) == 0.092
    assert tuple(round(v, 3) for v in rd.conf_int) == (-0.040, 0.219)
    assert round(fit("risk_ratio", df).estimate, 2) == 1.18


def test_table_8_4_disability_pension_alone():
    # notes-004 sec. 4.6: RD +0.073 (Newcombe -0.017, 0.164), pooled z p = 0.105, RR 1.80
    df = two_arm(18, 109, 10, 109)
    rd = fit("risk_difference", df)
    assert round(rd.estimate, 3) == 0.073
    assert tuple(round(v, 3) for v in rd.conf_int) == (-0.017, 0.164)
    assert round(rd.p_value, 3) == 0.105  # the Newcombe default reports the pooled score test
    assert round(fit("risk_ratio", df).estimate, 2) == 1.80


def test_table_8_7_sanctions_3x2():
    # notes-004 sec. 4.9: chi2(2) = 0.132, p = 0.936
    t = pd.DataFrame({"I": [91, 11, 7], "C": [89, 12, 8]}, index=["0", "1", ">1"])
    res = ef.estimate("chi2", data=ef.from_counts(t), outcome="y", treatment="z", arms=("C", "I"))
    assert round(res.extra["statistic"], 3) == 0.132 and round(res.p_value, 3) == 0.936


# -- seed 002 (notes-002-flere-skal-med.md sec. 4.7): survey items, Fisher p ------------
@pytest.mark.parametrize(
    ("mid", "mid_n", "base", "base_n", "expected", "digits"),
    [
        (32, 50, 6, 80, 5.7e-12, 13),  # Fig. 3: 6/80 -> 32/50, p = 5.7e-12
        (23, 50, 50, 80, 0.072, 3),  # Fig. 22: 50/80 -> 23/50, p = 0.072
        (32, 50, 57, 79, 0.34, 2),  # Fig. 18: 57/79 -> 32/50, p = 0.34
    ],
)
def test_seed_002_fisher(mid, mid_n, base, base_n, expected, digits):
    res = fit("fisher", two_arm(mid, mid_n, base, base_n))
    assert round(res.p_value, digits) == pytest.approx(expected, abs=10.0**-digits / 2)
    ref = stats.fisher_exact([[mid, mid_n - mid], [base, base_n - base]]).pvalue
    assert res.p_value == pytest.approx(ref, rel=1e-12)


# -- seed 000/003 (notes-000-003-cti-job-focus.md sec. 4.12a): McNemar ------------------
def paired(b: int, c: int, n: int) -> pd.DataFrame:
    # rows: outcome before (0, 1); columns: outcome after (0, 1)
    return ef.from_counts([[n - b - c, b], [c, 0]], paired=True)


def test_mcnemar_minimum_discordance():
    res = ef.estimate("mcnemar", data=paired(14, 0, 104), outcome="y", treatment="z", pairs="pair")
    assert res.p_value == pytest.approx(1.2e-4, abs=0.05e-4)  # b = 14, c = 0: exact p = 1.2e-4
    assert res.p_value == pytest.approx(2 * 0.5**14, rel=1e-12)


def test_mcnemar_maximum_discordance():
    data = paired(35, 21, 104)
    exact = ef.estimate("mcnemar", data=data, outcome="y", treatment="z", pairs="pair")
    assert round(exact.p_value, 3) == 0.081  # b = 35, c = 21: exact p = 0.081
    asym = ef.estimate("mcnemar", data=data, outcome="y", treatment="z", pairs="pair", method="asymptotic")
    assert round(asym.extra["statistic"], 2) == 3.50  # chi2 without continuity correction = 3.50
    assert exact.estimate == pytest.approx(14 / 104, rel=1e-12)


@pytest.mark.parametrize(("b", "c"), [(14, 0), (35, 21), (3, 9), (0, 0), (40, 41), (1, 30)])
@pytest.mark.parametrize(("method", "correction"), [("exact", "none"), ("asymptotic", "none"), ("asymptotic", "edwards")])
def test_mcnemar_matches_statsmodels(b, c, method, correction):
    n11, n00 = 7, 50
    table = [[n00, b], [c, n11]]  # before x after
    res = ef.estimate("mcnemar", data=ef.from_counts(table, paired=True), outcome="y", treatment="z",
                      pairs="pair", method=method, correction=correction)
    if b + c == 0:  # statsmodels divides by zero here; no discordant pair means p = 1
        assert res.p_value == 1.0 and res.estimate == 0.0
        return
    ref = mcnemar(np.array(table), exact=method == "exact", correction=correction == "edwards")
    assert res.p_value == pytest.approx(float(ref.pvalue), rel=1e-12)
    if method == "asymptotic":
        assert res.extra["statistic"] == pytest.approx(float(ref.statistic), rel=1e-12)
    if method == "exact":  # the binomial form, via scipy.stats.binomtest
        assert res.p_value == pytest.approx(stats.binomtest(b, b + c, 0.5).pvalue, rel=1e-10)


# -- oracles: scipy and statsmodels on random 2 x 2 tables ---------------------------
TABLES = [(3, 109, 14, 109), (25, 109, 15, 109), (1, 12, 9, 15), (40, 41, 2, 60), (7, 30, 7, 30), (100, 400, 130, 410)]


@pytest.mark.parametrize("counts", TABLES)
def test_newcombe_and_wald_match_statsmodels(counts):
    a, n1, c, n0 = counts
    df = two_arm(a, n1, c, n0)
    for ci, method in (("newcombe", "newcomb"), ("wald", "wald")):
        res = fit("risk_difference", df, ci_method=ci)
        low, high = confint_proportions_2indep(a, n1, c, n0, method=method, compare="diff")
        assert res.conf_int == pytest.approx((low, high), rel=1e-10, abs=1e-14)
    assert wilson_interval(a, n1) == pytest.approx(proportion_confint(a, n1, method="wilson"), rel=1e-12)


@pytest.mark.parametrize("counts", TABLES)
@pytest.mark.parametrize("alpha", [0.05, 0.10])
def test_ratios_match_statsmodels_table2x2(counts, alpha):
    a, n1, c, n0 = counts
    df = two_arm(a, n1, c, n0)
    t = Table2x2(np.array([[a, n1 - a], [c, n0 - c]]))
    rr = fit("risk_ratio", df, alpha=alpha)
    assert rr.estimate == pytest.approx(t.riskratio, rel=1e-12)
    assert rr.conf_int == pytest.approx(t.riskratio_confint(alpha=alpha), rel=1e-10)
    assert rr.p_value == pytest.approx(t.riskratio_pvalue(), rel=1e-10)
    orr = fit("odds_ratio", df, alpha=alpha)
    assert orr.estimate == pytest.approx(t.oddsratio, rel=1e-12)
    assert orr.conf_int == pytest.approx(t.oddsratio_confint(alpha=alpha), rel=1e-10)
    assert orr.std_error == pytest.approx(t.log_oddsratio_se, rel=1e-12)
    assert orr.p_value == pytest.approx(t.oddsratio_pvalue(), rel=1e-10)


@pytest.mark.parametrize("counts", TABLES)
def test_tests_match_scipy(counts):
    a, n1, c, n0 = counts
    df = two_arm(a, n1, c, n0)
    table = np.array([[a, n1 - a], [c, n0 - c]])
    for correction in ("none", "yates"):
        ref = stats.chi2_contingency(table, correction=correction == "yates")
        res = fit("chi2", df, correction=correction)
        assert res.extra["statistic"] == pytest.approx(ref.statistic, rel=1e-12)
        assert res.p_value == pytest.approx(ref.pvalue, rel=1e-12)
    ref_g = stats.chi2_contingency(table, correction=False, lambda_="log-likelihood")
    g = fit("g_test", df)
    assert g.extra["statistic"] == pytest.approx(ref_g.statistic, rel=1e-12)
    assert g.p_value == pytest.approx(ref_g.pvalue, rel=1e-12)
    for alternative in ("two-sided", "less", "greater"):
        ref_f = stats.fisher_exact(table, alternative=alternative)
        assert fit("fisher", df, alternative=alternative).p_value == pytest.approx(ref_f.pvalue, rel=1e-12)


@pytest.mark.parametrize("counts", TABLES)
def test_exact_odds_ratio_matches_scipy(counts):
    a, n1, c, n0 = counts
    table = np.array([[a, n1 - a], [c, n0 - c]])
    ref = stats.contingency.odds_ratio(table, kind="conditional")
    for name, kw in (("odds_ratio", {"ci_method": "exact"}), ("fisher", {"measure": "odds_ratio"})):
        res = fit(name, two_arm(a, n1, c, n0), **kw)
        assert res.estimate == pytest.approx(ref.statistic, rel=1e-10)
        assert res.conf_int == pytest.approx(tuple(ref.confidence_interval(0.95)), rel=1e-10)
        assert res.ci_method == "exact"


def test_pooled_score_p_equals_pearson():
    # Newcombe default: the p-value is the pooled score z test, i.e. uncorrected Pearson chi2
    for a, n1, c, n0 in TABLES:
        df = two_arm(a, n1, c, n0)
        assert fit("risk_difference", df).p_value == pytest.approx(fit("chi2", df).p_value, rel=1e-10)


def test_newcombe_formula_by_hand():
    # Newcombe (1998), method 10, written out from the Wilson limits
    l1, u1 = proportion_confint(3, 109, method="wilson")
    l0, u0 = proportion_confint(14, 109, method="wilson")
    p1, p0 = 3 / 109, 14 / 109
    low = p1 - p0 - np.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2)
    high = p1 - p0 + np.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)
    assert newcombe_interval(3, 109, 14, 109) == pytest.approx((low, high), rel=1e-12)


def test_cramers_v_for_rxc_matches_scipy():
    t = np.array([[7, 18, 84], [5, 10, 94]])
    df = ef.from_counts(t.T)
    res = ef.estimate("chi2", data=df, outcome="y", treatment="z")
    assert res.estimate == pytest.approx(stats.contingency.association(t, method="cramer"), rel=1e-12)
    assert res.ci_method == "none"
    assert np.isnan(res.std_error)


def test_multi_arm_chi2_matches_scipy():
    t = np.array([[10, 20, 30], [15, 12, 25], [9, 4, 11]])  # outcome x arm
    df = ef.from_counts(t)
    res = ef.estimate("chi2", data=df, outcome="y", treatment="z", arms=[0, 1, 2])
    ref = stats.chi2_contingency(t.T, correction=False)
    assert res.extra["statistic"] == pytest.approx(ref.statistic, rel=1e-12)
    assert res.p_value == pytest.approx(ref.pvalue, rel=1e-12)
    assert res.extra["df"] == 4


def test_williams_correction_by_hand():
    t = np.array([[7, 18, 84], [5, 10, 94]], dtype=float)
    n = t.sum()
    q = 1 + (n * (1 / t.sum(1)).sum() - 1) * (n * (1 / t.sum(0)).sum() - 1) / (6 * n * 1 * 2)
    g = stats.chi2_contingency(t, correction=False, lambda_="log-likelihood").statistic
    res = ef.estimate("g_test", data=ef.from_counts(t.T.astype(int)), outcome="y", treatment="z",
                      correction="williams")
    assert res.extra["statistic"] == pytest.approx(g / q, rel=1e-12)


def test_result_records_design_and_table(complaints):
    res = fit_c("chi2", complaints)
    assert res.design == "simple" and res.n == 218 and res.n_treated == 109
    assert res.extra["table"] == [[3, 106], [14, 95]]
    assert res.extra["table_rows"] == ["I", "C"] and res.extra["table_columns"] == ["Yes", "No"]
    assert res.statistic == pytest.approx(res.extra["statistic"])
    res.to_json()


def test_small_expected_counts_warn():
    res = fit("chi2", two_arm(1, 12, 4, 10))
    assert any("expected counts are below 5" in w for w in res.warnings)


def test_paired_newcombe_reference():
    # Fagerland, Lydersen & Laake (2017), Statistical Analysis of Contingency Tables, ch. 8:
    # Cavo et al. (2012) table [[59, 6], [16, 80]]; the R package contingencytables'
    # Newcombe_square_and_add_CI_paired_2x2 gives estimate -0.0621 (95% CI -0.1186 to -0.0046)
    df = ef.from_counts([[80, 6], [16, 59]], paired=True)  # rows: before 0/1; columns: after 0/1
    res = ef.estimate("mcnemar", data=df, outcome="y", treatment="z", pairs="pair")
    assert res.ci_method == "newcombe"
    assert round(res.estimate, 4) == -0.0621
    assert tuple(round(v, 4) for v in res.conf_int) == (-0.1186, -0.0046)


def test_paired_wald_interval_by_hand():
    # Agresti (2013) ch. 11: Var((b - c)/n) = ((b + c) - (b - c)^2 / n) / n^2
    n11, b, c, n00 = 59, 6, 16, 80
    n = n11 + b + c + n00
    se = np.sqrt((b + c) - (b - c) ** 2 / n) / n
    df = ef.from_counts([[n00, b], [c, n11]], paired=True)
    res = ef.estimate("mcnemar", data=df, outcome="y", treatment="z", pairs="pair", ci_method="wald")
    q = stats.norm.ppf(0.975)
    assert res.std_error == pytest.approx(se, rel=1e-12)
    assert res.conf_int == pytest.approx(((b - c) / n - q * se, (b - c) / n + q * se), rel=1e-12)
