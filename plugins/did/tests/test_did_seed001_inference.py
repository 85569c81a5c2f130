"""Seed 001's inference problem on simulated data of its shape: 15 treated job centres against a
pooled comparison, citizens within centres, centre-level shocks to the change. Citizen-level SEs
(HC2, clusters ignored) overstate significance; CR2, the wild cluster bootstrap and randomisation
inference do not (notes-001 §5 item 3 and §6 A.3)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import effekt as ef


def jobcentres(rng: np.random.Generator, *, effect: float = 0.0, n_centres: int = 60, n_treated: int = 15,
               citizens: int = 400) -> pd.DataFrame:
    """Citizens x {before, after} in job centres; share ~15 %; each centre's share moves by its own
    shock between the periods (sd 5 pp, the spread of seed 001's per-centre effects, sd 5.3 pp in
    notes-001 Appendix A), which is what a centre-level DiD must account for."""
    centre = np.repeat(np.arange(n_centres), 2 * citizens)
    post = np.tile(np.repeat([0, 1], citizens), n_centres)
    treated = (centre < n_treated).astype(int)
    level = 0.15 + rng.normal(0, 0.03, n_centres)
    shock = rng.normal(0, 0.05, n_centres)
    p = np.clip(level[centre] + post * (0.019 + shock[centre] + effect * treated), 0.01, 0.99)
    return pd.DataFrame({"centre": centre, "post": post, "treated": treated,
                         "y": (rng.random(centre.size) < p).astype(float)})


def test_citizen_level_ses_understate_uncertainty():
    df = jobcentres(np.random.default_rng(1))
    naive = ef.estimate("did_2x2", data=df, outcome="y", treatment="treated", post="post")
    clustered = ef.estimate("did_2x2", data=df, outcome="y", treatment="treated", post="post", unit="centre")
    assert naive.se_type == "HC2" and clustered.se_type == "CR2"
    assert naive.estimate == pytest.approx(clustered.estimate, rel=1e-12)
    assert clustered.std_error > 1.5 * naive.std_error
    assert clustered.df < 60  # Bell-McCaffrey df reflect 15 treated clusters, not 48,000 rows


def test_false_positive_rates_under_the_null():
    # 60 simulated evaluations with no effect: the citizen-level test rejects far more often than 5 %
    # (P(X >= 12 | n=60, p=.05) < 0.001); CR2 stays near the nominal rate (P(X >= 9 | p=.05) < 0.01).
    rng = np.random.default_rng(2024)
    naive = clustered = 0
    for _ in range(60):
        df = jobcentres(rng)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            naive += ef.estimate("did_2x2", data=df, outcome="y", treatment="treated", post="post").p_value < 0.05
            clustered += ef.estimate("did_2x2", data=df, outcome="y", treatment="treated", post="post",
                                     unit="centre").p_value < 0.05
    assert naive >= 12
    assert clustered <= 8


def test_few_cluster_tools_agree_on_one_evaluation():
    df = jobcentres(np.random.default_rng(7), effect=0.017)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cr2 = ef.estimate("did_2x2", data=df, outcome="y", treatment="treated", post="post", unit="centre")
        wcb = ef.estimate("wild_cluster_bootstrap", data=df, outcome="y", unit="centre", period="post",
                          treatment="treated", post="post", estimator="did_2x2", sims=1999, seed=1)
        ri = ef.estimate("wild_cluster_bootstrap", data=df, outcome="y", unit="centre", period="post",
                         treatment="treated", post="post", estimator="did_2x2", inference="randomisation",
                         sims=999, seed=1)
    assert wcb.estimate == pytest.approx(cr2.estimate, rel=1e-12)
    assert ri.estimate == pytest.approx(cr2.estimate, rel=1e-12)
    # three few-cluster answers, all far less sure than the citizen-level one
    naive = ef.estimate("did_2x2", data=df, outcome="y", treatment="treated", post="post")
    width = naive.conf_int[1] - naive.conf_int[0]
    for res in (cr2, wcb, ri):
        assert res.p_value > naive.p_value
        assert res.conf_int[1] - res.conf_int[0] > 1.5 * width
