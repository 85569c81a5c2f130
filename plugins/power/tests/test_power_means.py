"""two_means and paired_t against statsmodels; covariate adjustment; grids."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.power import NormalIndPower, TTestIndPower, TTestPower

import effekt as ef

CASES = [(0.5, 30, 1.0), (0.2, 200, 2.0), (0.8, 12, 0.5), (1.3, 7, 3.0)]
ALTS = ["two-sided", "greater", "less"]


@pytest.mark.parametrize(("d", "n", "ratio"), CASES)
@pytest.mark.parametrize("alternative", ALTS)
def test_t_power_matches_statsmodels(d, n, ratio, alternative):
    dd = -d if alternative == "less" else d
    sm_alt = {"greater": "larger", "less": "smaller"}.get(alternative, alternative)  # statsmodels' names
    ref = TTestIndPower().power(dd, n, 0.05, ratio=ratio, alternative=sm_alt)
    ours = ef.power("two_means", d=dd, n=n, ratio=ratio, alternative=alternative).value
    assert ours == pytest.approx(ref, abs=1e-6)


@pytest.mark.parametrize(("d", "n", "ratio"), CASES)
def test_z_power_matches_statsmodels(d, n, ratio):
    ref = NormalIndPower().power(d, n, 0.05, ratio=ratio)
    assert ef.power("two_means", d=d, n=n, ratio=ratio, method="z").value == pytest.approx(ref, abs=1e-6)


@pytest.mark.parametrize(("d", "ratio"), [(0.5, 1.0), (0.3, 2.0), (1.0, 0.5)])
def test_t_n_matches_statsmodels(d, ratio):
    ref = TTestIndPower().solve_power(d, nobs1=None, alpha=0.05, power=0.8, ratio=ratio)
    assert ef.power("two_means", d=d, power=0.8, ratio=ratio).value == pytest.approx(ref, rel=1e-6)


@pytest.mark.parametrize(("n", "d"), [(10, 0.6), (40, 0.6), (150, 0.25)])
def test_t_mde_and_alpha_match_statsmodels(n, d):
    ref = TTestIndPower().solve_power(None, nobs1=n, alpha=0.05, power=0.9)
    assert ef.power("two_means", n=n, power=0.9).value == pytest.approx(ref, rel=1e-6)
    ref_a = TTestIndPower().solve_power(d, nobs1=n, alpha=None, power=0.5)
    ours_a = ef.power("two_means", d=d, n=n, power=0.5, alpha=None)
    assert ours_a.solved == "alpha"
    assert ours_a.value == pytest.approx(ref_a, rel=1e-5)


@pytest.mark.parametrize(("d", "n"), [(0.5, 20), (0.3, 90), (1.1, 6)])
def test_paired_matches_statsmodels(d, n):
    assert ef.power("paired_t", d=d, n=n).value == pytest.approx(TTestPower().power(d, n, 0.05), abs=1e-6)
    ref_n = TTestPower().solve_power(d, nobs=None, alpha=0.05, power=0.8)
    assert ef.power("paired_t", d=d, power=0.8).value == pytest.approx(ref_n, rel=1e-6)


def test_r2_scales_sample_size_for_z():
    # with the z test, covariates explaining r2 of the variance cut n by the factor 1 - r2
    n0 = ef.power("two_means", d=0.3, power=0.8, method="z").value
    n5 = ef.power("two_means", d=0.3, power=0.8, method="z", r2=0.5).value
    assert n5 == pytest.approx(0.5 * n0, rel=1e-9)


def test_r2_with_t_equals_larger_effect_with_fewer_df():
    # d with r2 is the same test as d / sqrt(1 - r2) without it, minus one df per covariate
    ours = ef.power("two_means", d=0.3, n=50, r2=0.36, n_covariates=2).value
    ref = TTestIndPower().power(0.3 / 0.8, 50, 0.05, df=96)
    assert ours == pytest.approx(ref, abs=1e-6)


@settings(deadline=None)
@given(
    d=st.floats(0.05, 2.0),
    n=st.floats(5.0, 5000.0),
    ratio=st.floats(0.25, 4.0),
    method=st.sampled_from(["t", "z"]),
)
def test_round_trip_property(d, n, ratio, method):
    pw = ef.power("two_means", d=d, n=n, ratio=ratio, method=method).value
    if not 0.06 < pw < 0.999:
        return
    back = ef.power("two_means", d=d, power=pw, ratio=ratio, method=method).value
    assert back == pytest.approx(n, rel=1e-6)
    mde = ef.power("two_means", n=n, power=pw, ratio=ratio, method=method).value
    assert mde == pytest.approx(d, rel=1e-6)


@settings(deadline=None)
@given(d=st.floats(0.05, 1.5), n=st.floats(5.0, 500.0))
def test_sign_flip_property(d, n):
    # a negative effect under "less" has the power of the positive one under "greater"
    a = ef.power("two_means", d=d, n=n, alternative="greater").value
    b = ef.power("two_means", d=-d, n=n, alternative="less").value
    assert a == pytest.approx(b, abs=1e-12)
    # two-sided power is symmetric in the sign of d
    assert ef.power("two_means", d=d, n=n).value == pytest.approx(ef.power("two_means", d=-d, n=n).value, abs=1e-12)


def test_power_increases_with_n_on_grid():
    pw = np.asarray(ef.power("two_means", d=0.4, n=np.arange(5, 200, 5)).value)
    assert np.all(np.diff(pw) > 0)


@pytest.mark.parametrize("alternative", ALTS)
def test_grid_quadrature_equals_scipy_noncentral_t(alternative):
    # a grid with a few (df, c) pairs goes through Gauss quadrature over the chi distribution;
    # it must equal scipy's noncentral t (the element-by-element path) to 1e-10
    from effekt_power._core import _nct_power_scipy, nct_power, t_crit

    df = np.array([3.0, 12.0, 29.0, 30.0, 58.0, 400.0, 5000.0])[:, None]
    ncp = np.linspace(-9, 12, 700)[None, :]
    crit = t_crit(np.array(0.05), df, alternative)
    grid = nct_power(ncp, df, crit, alternative)
    b = np.broadcast_arrays(ncp, df, crit)
    ref = _nct_power_scipy(b[0], b[1], b[2], alternative)
    assert np.max(np.abs(grid - ref)) < 1e-10
