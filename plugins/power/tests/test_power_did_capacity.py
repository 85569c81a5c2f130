"""Cluster-level DiD (checked by simulation) and capacity-capped designs."""

import numpy as np
import pytest
from scipy import stats

import effekt as ef
from effekt_power import did_variance


def _simulate_cluster_differences(rng, clusters, m, icc, rho, pre, post, sims):
    """Per-cluster (post mean - pre mean) under the model of did_variance, by brute force."""
    periods = pre + post
    cov = np.full((periods, periods), rho) + (1 - rho) * np.eye(periods)
    c = rng.multivariate_normal(np.zeros(periods), cov * icc, size=(sims, clusters))
    e = rng.normal(0.0, np.sqrt(1 - icc), size=(sims, clusters, periods, m)).mean(axis=3)
    y = c + e
    return y[..., pre:].mean(axis=2) - y[..., :pre].mean(axis=2)


@pytest.mark.parametrize(("icc", "rho", "m", "pre", "post"), [(0.1, 0.6, 8, 3, 2), (0.3, 0.0, 5, 1, 1), (0.05, 0.9, 20, 4, 4)])
def test_did_variance_matches_simulation(icc, rho, m, pre, post):
    rng = np.random.default_rng(123)
    diffs = _simulate_cluster_differences(rng, 40, m, icc, rho, pre, post, 300).ravel()
    var = float(did_variance(icc, rho, m, pre, post))
    # the sample variance of 12,000 normal draws is within 5% of the truth with overwhelming probability
    assert np.var(diffs, ddof=1) == pytest.approx(var, rel=0.05)


def test_did_power_matches_simulation():
    # few treated against many controls: 6 treated, 24 control clusters
    rng = np.random.default_rng(99)
    g1, g0, m, icc, rho, pre, post, delta, sims = 6, 24, 10, 0.1, 0.5, 2, 2, 0.35, 1500
    d = _simulate_cluster_differences(rng, g1 + g0, m, icc, rho, pre, post, sims)
    d[:, :g1] += delta
    t = stats.ttest_ind(d[:, :g1], d[:, g1:], axis=1)
    rate = (t.pvalue <= 0.05).mean()
    analytic = ef.power(
        "did", effect=delta, n2=g1, n_clusters=g0, cluster_size=m, icc=icc, autocorrelation=rho,
        periods_before=pre, periods_after=post,
    ).value
    # the same design through ratio = treated per control cluster
    assert ef.power(
        "did", effect=delta, ratio=g1 / g0, n_clusters=g0, cluster_size=m, icc=icc, autocorrelation=rho,
        periods_before=pre, periods_after=post,
    ).value == pytest.approx(analytic, rel=1e-12)
    assert abs(rate - analytic) < 4 * np.sqrt(analytic * (1 - analytic) / sims)


def test_did_periods_and_serial_correlation():
    base = {"effect": 0.2, "n2": 10, "n_clusters": 30, "cluster_size": 50, "icc": 0.1}
    low = [ef.power("did", **base, autocorrelation=0.1, periods_before=t, periods_after=t).value for t in (1, 4)]
    assert low[1] > low[0]
    # with rho = 1 the cluster effects difference out and only individual noise is left
    assert float(did_variance(0.1, 1.0, 50, 1, 1)) == pytest.approx(2 * 0.9 / 50, rel=1e-12)
    # with rho = 0 and one period each, the cluster-period means are independent
    assert float(did_variance(0.1, 0.0, 50, 1, 1)) == pytest.approx(2 * (0.1 + 0.9 / 50), rel=1e-12)


def test_did_solves_controls_and_reports_limit():
    design = {"cluster_size": 60, "icc": 0.02, "autocorrelation": 0.8, "periods_before": 12,
              "periods_after": 12, "p0": 0.17}
    res = ef.power("did", n2=15, effect=0.02, power=0.8, **design)
    assert res.solved == "n_clusters"  # control clusters, the 15 treated fixed
    assert res.extra["n_treated"] == 15
    back = ef.power("did", n2=15, n_clusters=res.value, effect=0.02, **design).value
    assert back == pytest.approx(0.8, abs=1e-8)
    with pytest.raises(ef.DesignError, match="unlimited control clusters"):
        ef.power("did", n2=15, effect=0.012, power=0.8, **design)
    with pytest.raises(ef.DesignError, match="n2= .* or ratio= .*not both"):
        ef.power("did", n2=15, ratio=0.5, effect=0.02, power=0.8, **design)


def test_did_sd_and_p0_conflict():
    with pytest.raises(ef.DesignError, match="not both"):
        ef.power("did", n_clusters=5, cluster_size=10, icc=0.1, sd=1, p0=0.2, power=0.8)


# -- capacity (seed 004: capacity 100 in the intervention arm; notes section 6, item 9) ----------
def test_capacity_equals_two_proportions_with_fixed_arm():
    res = ef.power("capacity", n2=100, p1=0.10, p2=0.20, power=0.8)
    assert res.solved == "n"
    assert res.counts == "individuals in the control arm"
    ref = ef.power("two_proportions", p1=0.10, p2=0.20, n2=100, power=0.8)
    assert res.value == pytest.approx(ref.value, rel=1e-12)
    assert ef.power("two_proportions", p1=0.1, p2=0.2, n=res.value, n2=100).value == pytest.approx(0.8)


def test_capacity_gain_from_controls():
    res = ef.power("capacity", n2=100, p1=0.10, n=100, power=0.8)
    # 1:1 reproduces the seed's 0.2496 (section 2.4)
    assert res.value == pytest.approx(0.2496, abs=5e-5)
    rows = res.extra["by_ratio"]["rows"]
    mde = [r["p2"] for r in rows]
    assert all(a > b for a, b in zip(mde, mde[1:]))  # more controls, smaller MDE
    gains = [r["gain"] for r in rows]
    assert gains[0] == 0
    # diminishing returns: the step from 1:1 to 2:1 gains more than from 5:1 to 10:1
    assert gains[2] - gains[0] > gains[6] - gains[5]


def test_capacity_infeasible_power_names_the_limit():
    with pytest.raises(ef.DesignError, match="with unlimited controls the power is"):
        ef.power("capacity", n2=100, p1=0.10, p2=0.15, power=0.8)


def test_capacity_continuous_outcome():
    res = ef.power("capacity", n2=50, d=0.5, power=0.8)
    ref = ef.power("two_means", d=0.5, n2=50, power=0.8)
    assert res.value == pytest.approx(ref.value, rel=1e-12)


def test_capacity_needs_one_outcome_description():
    with pytest.raises(ef.DesignError, match="exactly one of them"):
        ef.power("capacity", n2=100, power=0.8, n=100)
