"""effekt.sandwich against statsmodels and a dense Bell-McCaffrey implementation."""

import numpy as np
import pytest
import statsmodels.api as sm

from effekt.errors import DesignError, EstimationError
from effekt.sandwich import default_se_type, robust_ols


@pytest.fixture
def regression():
    rng = np.random.default_rng(20240601)
    n = 80
    X = np.column_stack([np.ones(n), rng.integers(0, 2, n), rng.normal(size=n)])
    y = X @ [1.0, 2.0, 0.5] + rng.normal(size=n) * (1 + X[:, 1])
    return X, y, rng.integers(0, 11, n), rng.uniform(0.5, 2.0, n)


@pytest.mark.parametrize("se_type", ["HC0", "HC1", "HC2", "HC3"])
@pytest.mark.parametrize("weighted", [False, True])
def test_hc_matches_statsmodels(regression, se_type, weighted):
    X, y, _, w = regression
    ours = robust_ols(X, y, se_type=se_type, weights=w if weighted else None)
    model = sm.WLS(y, X, weights=w) if weighted else sm.OLS(y, X)
    ref = model.fit(cov_type=se_type)
    np.testing.assert_allclose(ours.coef, ref.params, rtol=1e-10)
    np.testing.assert_allclose(ours.vcov, ref.cov_params(), rtol=1e-8, atol=1e-14)
    assert ours.df[1] == len(y) - 3


def test_classical_matches_statsmodels(regression):
    X, y, _, _ = regression
    ref = sm.OLS(y, X).fit()
    np.testing.assert_allclose(robust_ols(X, y, se_type="classical").vcov, ref.cov_params(), rtol=1e-10)


def test_cr1_matches_statsmodels_stata_factor(regression):
    # statsmodels' cluster covariance uses G/(G-1) * (n-1)/(n-k): Stata's CR1
    X, y, cl, _ = regression
    ours = robust_ols(X, y, se_type="CR1", clusters=cl)
    ref = sm.OLS(y, X).fit(cov_type="cluster", cov_kwds={"groups": cl})
    np.testing.assert_allclose(ours.vcov, ref.cov_params(), rtol=1e-8)
    assert ours.df[1] == len(np.unique(cl)) - 1


def _dense_cr2(Z, y, clusters, w=None):
    """CR2 and Satterthwaite df with n x n matrices, as clubSandwich defines them for (weighted) least
    squares: working model Phi = I in the original units (Pustejovsky & Tipton 2018, eq. 6 and
    Theorem 2). With H = Z M Z'W, A_g = ((I - H)_g (I - H)_g')^{-1/2}, scores Z_g' W_g A_g e_g."""
    w = np.ones(len(y)) if w is None else np.asarray(w, dtype=float)
    Minv = np.linalg.pinv(Z.T @ (Z * w[:, None]))
    e = y - Z @ (Minv @ Z.T @ (w * y))
    IH = np.eye(len(y)) - Z @ Minv @ Z.T * w[None, :]
    groups = [np.flatnonzero(clusters == g) for g in np.unique(clusters)]
    A = []
    for idx in groups:
        lam, vec = np.linalg.eigh(IH[idx] @ IH[idx].T)
        inv_root = np.where(lam > 1e-12, 1 / np.sqrt(np.clip(lam, 1e-12, None)), 0.0)
        A.append((vec * inv_root) @ vec.T)
    sc = [(Z[i] * w[i, None]).T @ a @ e[i] for i, a in zip(groups, A)]
    V = Minv @ sum(np.outer(s, s) for s in sc) @ Minv
    df = []
    for j in range(Z.shape[1]):
        P = np.column_stack([IH[i].T @ (a @ (w[i] * (Z[i] @ Minv[:, j]))) for i, a in zip(groups, A)])
        Om = P.T @ P
        df.append(np.trace(Om) ** 2 / (Om**2).sum())
    return V, np.array(df)


@pytest.mark.parametrize("weighted", [False, True])
def test_cr2_matches_dense_bell_mccaffrey(regression, weighted):
    X, y, cl, w = regression
    ours = robust_ols(X, y, se_type="CR2", clusters=cl, weights=w if weighted else None)
    vcov, df = _dense_cr2(X, y, cl, w if weighted else None)
    np.testing.assert_allclose(ours.vcov, vcov, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(ours.df, df, rtol=1e-9)


def test_cr2_with_singleton_clusters_equals_hc2(regression):
    X, y, _, _ = regression
    cr2 = robust_ols(X, y, se_type="CR2", clusters=np.arange(len(y)))
    hc2 = robust_ols(X, y, se_type="HC2")
    np.testing.assert_allclose(cr2.vcov, hc2.vcov, rtol=1e-10)


def test_cr2_with_cluster_fixed_effect_uses_pseudo_inverse():
    # a cluster dummy makes I - H_gg singular; the pseudo-inverse root is used (estimatr does the same)
    rng = np.random.default_rng(3)
    cl = np.repeat(np.arange(6), 5)
    X = np.column_stack([np.ones(30), rng.normal(size=30), (cl == 0).astype(float)])
    y = rng.normal(size=30)
    vcov, df = _dense_cr2(X, y, cl)
    ours = robust_ols(X, y, se_type="CR2", clusters=cl)
    np.testing.assert_allclose(ours.vcov, vcov, rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(ours.df[1], df[1], rtol=1e-8)


def test_default_se_type():
    assert default_se_type(None, clustered=False) == "HC2"
    assert default_se_type(None, clustered=True) == "CR2"
    assert default_se_type("stata", clustered=True) == "CR1"


@pytest.mark.parametrize(
    ("se_type", "clustered", "match"),
    [("CR2", False, "needs clusters="), ("HC2", True, "ignores the clusters="), ("HC9", False, "not an option")],
)
def test_se_type_errors(se_type, clustered, match):
    with pytest.raises(DesignError, match=match):
        default_se_type(se_type, clustered)


def test_collinear_design_names_the_column():
    X = np.column_stack([np.ones(10), np.arange(10.0), 2 * np.arange(10.0)])
    with pytest.raises(EstimationError, match="'x2' is a linear combination"):
        robust_ols(X, np.arange(10.0), names=["(intercept)", "x", "x2"])


def test_leverage_one_is_an_error_for_hc2():
    X = np.column_stack([np.ones(6), [1.0, 0, 0, 0, 0, 0]])
    with pytest.raises(EstimationError, match="leverage 1"):
        robust_ols(X, np.arange(6.0), se_type="HC2")


def test_exact_fit_is_an_error_not_a_tiny_standard_error():
    # a constant outcome leaves rounding residuals of ~1e-16; they must not become p ~ 1e-10
    X = np.column_stack([np.ones(40), np.repeat([0.0, 1.0], 20)])
    with pytest.raises(EstimationError, match="fit the outcome exactly"):
        robust_ols(X, np.full(40, 7.3), se_type="HC2")
