"""The table estimators speak the package's vocabulary: option names, values checked
before any work, treatment labels, the statistic in the summary, Monte Carlo p-values
and what mcnemar's counts mean."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import effekt as ef
from effekt.errors import DataError, DesignError

BINARY = ["risk_difference", "risk_ratio", "odds_ratio", "chi2", "fisher", "g_test"]
ALL = [*BINARY, "mcnemar"]

# the Copenhagen resource-course trial (VIVE 2019), Table 8.8 (complaints):
# 3 of 109 treated and 14 of 109 controls complained; the report gives chi2 = 7.7, p < 0.01
COMPLAINTS = [[95, 106], [14, 3]]  # rows: outcome 0/1; columns: arm 0/1
# the CTI / Job Focus evaluation (Rambøll 2019): 35 pairs gain the outcome, 21 lose it
CTI = [[48, 35], [21, 0]]


def _data(name: str) -> tuple[pd.DataFrame, dict]:
    if name == "mcnemar":
        return ef.from_counts(CTI, paired=True), {"outcome": "y", "treatment": "z", "pairs": "pair"}
    return ef.from_counts(COMPLAINTS), {"outcome": "y", "treatment": "z"}


# -- renamed options are gone -------------------------------------------------------
@pytest.mark.parametrize("name", ALL)
def test_event_is_now_positive(name):
    df, spec = _data(name)
    with pytest.raises(DesignError, match=rf"{name} takes no option 'event'.*Its options are: .*positive"):
        ef.estimate(name, data=df, event=1, **spec)
    assert ef.estimate(name, data=df, positive=1, **spec).estimate == ef.estimate(name, data=df, **spec).estimate


@pytest.mark.parametrize(("name", "value"), [("risk_difference", "wald"), ("odds_ratio", "exact"), ("mcnemar", "wald")])
def test_ci_is_now_ci_method(name, value):
    df, spec = _data(name)
    with pytest.raises(DesignError, match=rf"{name} takes no option 'ci'.*ci_method"):
        ef.estimate(name, data=df, ci=value, **spec)
    res = ef.estimate(name, data=df, ci_method=value, **spec)
    assert res.ci_method == value


@pytest.mark.parametrize(
    ("name", "good", "extra"),
    [("chi2", ("none", "yates"), {}), ("g_test", ("none", "williams"), {}),
     ("mcnemar", ("none", "edwards"), {"method": "asymptotic"})],
)
def test_correction_is_a_string(name, good, extra):
    df, spec = _data(name)
    for value in (True, False, 1):
        with pytest.raises(DesignError, match=rf"correction={value!r} is not valid; correction must be one of"):
            ef.estimate(name, data=df, correction=value, **spec, **extra)
    plain, corrected = (ef.estimate(name, data=df, correction=c, **spec, **extra) for c in good)
    assert plain.extra["correction"] == good[0] and corrected.extra["correction"] == good[1]
    assert corrected.p_value > plain.p_value  # every correction here is conservative


def test_mcnemar_edwards_is_for_the_asymptotic_test():
    df, spec = _data("mcnemar")
    with pytest.raises(DesignError, match="correction='edwards' is a continuity correction of the asymptotic"):
        ef.estimate("mcnemar", data=df, correction="edwards", **spec)


def test_yates_matches_the_reference():
    # notes-004 sec. 4.10 (resource-course trial, complaints): Yates chi2 = 6.380, p = 0.0115
    df, spec = _data("chi2")
    res = ef.estimate("chi2", data=df, correction="yates", **spec)
    assert round(res.extra["statistic"], 3) == 6.380 and round(res.p_value, 4) == 0.0115
    assert "X-squared = 6.38 on 1 df" in res.summary()


@pytest.mark.parametrize("value", ["larger", "two.sided", "smaller"])
def test_alternative_values(value):
    df, spec = _data("fisher")
    with pytest.raises(DesignError, match=rf"alternative='{value}' is not valid.*'two-sided', 'greater', 'less'"):
        ef.estimate("fisher", data=df, alternative=value, **spec)


@pytest.mark.parametrize("name", ALL)
def test_options_checked_before_any_work(name):
    # the data are not even a frame: the bad option is reported first
    with pytest.raises(DesignError, match="alpha='0.05' is not valid"):
        ef.estimate(name, data=None, outcome="y", treatment="z", alpha="0.05",
                    **({"pairs": "pair"} if name == "mcnemar" else {}))
    with pytest.raises(DesignError, match="missing='skip' is not valid"):
        ef.estimate(name, data=None, outcome="y", treatment="z", missing="skip",
                    **({"pairs": "pair"} if name == "mcnemar" else {}))


# -- treatment labels -------------------------------------------------------------------
@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("kind", ["category", "object", "bool"])
def test_categorical_or_object_zero_one_treatment(name, kind):
    df, spec = _data(name)
    base = ef.estimate(name, data=df, **spec)
    z = df["z"].astype(kind) if kind != "object" else pd.Series(df["z"].tolist(), dtype=object)
    res = ef.estimate(name, data=df.assign(z=z), **spec)
    assert res.estimate == pytest.approx(base.estimate, rel=1e-12)
    assert res.p_value == pytest.approx(base.p_value, rel=1e-12)


@pytest.mark.parametrize("name", ALL)
def test_text_treatment_advice_names_both_orders(name):
    df, spec = _data(name)
    text = df.assign(z=np.where(df["z"] == 1, "JKI", "CAB"))
    with pytest.raises(DataError) as err:
        ef.estimate(name, data=text, **spec)
    msg = str(err.value)
    assert "treatment column 'z' holds the labels" in msg
    # never one alphabetical suggestion: both orders, and the user chooses
    assert "arms=('CAB', 'JKI') if 'JKI' is the programme" in msg or "arms=('JKI', 'CAB') if 'CAB' is" in msg
    assert "arms=('JKI', 'CAB')" in msg and "arms=('CAB', 'JKI')" in msg
    labelled = ef.estimate(name, data=text, arms=("CAB", "JKI"), **spec)
    assert labelled.estimate == pytest.approx(ef.estimate(name, data=df, **spec).estimate, rel=1e-12)


def test_more_arms_advice_mentions_the_r_by_c_table():
    df = ef.from_counts([[5, 6, 7], [3, 2, 9]]).assign(z=lambda d: d["z"].map({0: "a", 1: "b", 2: "c"}))
    with pytest.raises(DataError, match="list every arm in arms= for a table of all of them"):
        ef.estimate("chi2", data=df, outcome="y", treatment="z")
    res = ef.estimate("chi2", data=df, outcome="y", treatment="z", arms=("a", "b", "c"))
    assert res.extra["df"] == 2


# -- the statistic in the summary ----------------------------------------------------------
def test_chi2_summary_shows_statistic_and_df():
    df, spec = _data("chi2")
    res = ef.estimate("chi2", data=df, **spec)
    # the resource-course trial's report: chi2 = 7.7 (notes-004: 7.720 uncorrected)
    assert "X-squared = 7.72 on 1 df" in res.summary()
    assert "df: normal" not in res.summary()
    assert res.extra["statistic_name"] == "X-squared" and res.extra["df"] == 1
    assert round(float(res.tidy()["statistic"].iloc[0]), 3) == 7.720


def test_g_test_summary_shows_statistic_and_df():
    df, spec = _data("g_test")
    res = ef.estimate("g_test", data=df, **spec)
    assert "G = 8.325 on 1 df" in res.summary()
    assert round(float(res.tidy()["statistic"].iloc[0]), 3) == 8.325


def test_cmh_summary_names_the_test():
    # Agresti (2013) p. 226-227: CMH = 6.38 over eight centres
    centres = [(11, 25, 10, 27), (16, 4, 22, 10), (14, 5, 7, 12), (2, 14, 1, 16),
               (6, 11, 0, 12), (1, 10, 0, 10), (1, 4, 1, 8), (4, 2, 6, 1)]
    trial = pd.concat([ef.from_counts(np.array([[d, b], [c, a]])).assign(centre=k)
                       for k, (a, b, c, d) in enumerate(centres)], ignore_index=True)
    res = ef.estimate("chi2", data=trial, outcome="y", treatment="z", blocks="centre")
    assert "Mantel-Haenszel X-squared = 6.384 on 1 df" in res.summary()


def test_fisher_statistic_is_the_conditional_odds_ratio():
    df, spec = _data("fisher")
    res = ef.estimate("fisher", data=df, **spec)
    ref = stats.contingency.odds_ratio(np.array([[3, 106], [14, 95]]), kind="conditional").statistic
    assert res.extra["statistic"] == pytest.approx(ref, rel=1e-12)
    assert res.extra["statistic_name"] == "conditional MLE odds ratio"
    assert "sims" not in res.extra  # exact: no draws
    rxc = ef.estimate("fisher", data=ef.from_counts([[5, 6, 7], [3, 2, 9]]), outcome="y", treatment="z",
                      arms=(0, 1, 2))
    assert rxc.extra["statistic"] is None and "statistic_name" not in rxc.extra


# -- Monte Carlo p-values ----------------------------------------------------------------
def test_monte_carlo_p_is_never_zero_and_printed_at_its_floor():
    df = ef.from_counts([[60, 0], [0, 60]])  # every random table is less extreme
    res = ef.estimate("fisher", data=df, outcome="y", treatment="z", method="monte-carlo", sims=99, seed=1)
    assert res.p_value == pytest.approx(1 / 100) and res.extra["sims"] == 99 and res.extra["extreme"] == 0
    assert "p-value    <= 0.01" in res.summary()
    with pytest.raises(DesignError, match="sims=2.5 is not valid"):
        ef.estimate("fisher", data=df, outcome="y", treatment="z", method="monte-carlo", sims=2.5)


def test_monte_carlo_agrees_with_the_exact_test():
    # R fisher.test's Job satisfaction example (4 x 4): exact p = 0.7827
    job = np.array([[1, 2, 1, 0], [3, 3, 6, 1], [10, 10, 14, 9], [6, 7, 12, 11]])
    df = ef.from_counts(job.T)
    spec = {"outcome": "y", "treatment": "z", "arms": (0, 1, 2, 3)}
    mc = ef.estimate("fisher", data=df, method="monte-carlo", sims=4000, seed=7, **spec)
    assert abs(mc.p_value - 0.7827) < 4 * np.sqrt(0.7827 * 0.2173 / 4000)
    again = ef.estimate("fisher", data=df, method="monte-carlo", sims=4000, seed=7, **spec)
    assert again.p_value == mc.p_value  # the seed fixes the draws
    exact = ef.estimate("fisher", data=df, **spec)
    assert round(exact.p_value, 4) == 0.7827


@pytest.mark.parametrize("alternative", ["greater", "less"])
def test_monte_carlo_one_sided(alternative):
    df, spec = _data("fisher")
    exact = ef.estimate("fisher", data=df, alternative=alternative, **spec)
    mc = ef.estimate("fisher", data=df, alternative=alternative, method="monte-carlo", sims=4000, seed=3,
                     **spec)
    p = exact.p_value
    assert abs(mc.p_value - p) < 4 * np.sqrt(p * (1 - p) / 4000) + 1 / 4001


# -- what mcnemar counts -------------------------------------------------------------------
def test_mcnemar_counts_rows_and_pairs():
    df, spec = _data("mcnemar")
    res = ef.estimate("mcnemar", data=df, **spec)
    assert (res.n, res.n_treated, res.n_control, res.n_units) == (208, 104, 104, 104)
    assert res.n_treated + res.n_control == res.n == len(df)
    assert res.estimate == pytest.approx(14 / 104, rel=1e-12)  # per pair
    assert "104 units" in res.summary()
