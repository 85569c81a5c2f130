"""CR2 of the DiD designs through effekt.sandwich.cr2_blocks, against the per-block loop it replaced.

The reference below is the earlier implementation (one SVD per distinct cluster block), kept verbatim
as an oracle: the batched path must agree to 1e-10 on balanced and unbalanced panels, with and without
a covariate and weights (constant within units, and varying within them).
"""

from __future__ import annotations

import numpy as np
import pytest

import effekt as ef
from effekt.errors import EstimationError
from effekt_did._absorb import cr2_patterns, demean


def cr2_patterns_reference(
    Z: np.ndarray,
    y: np.ndarray,
    clusters: np.ndarray,
    n_clusters: int,
    weights: np.ndarray | None,
    k: int,
    order_key: np.ndarray | None = None,
    names: list[str] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The per-block loop (reference)."""
    n, p = Z.shape
    if weights is not None:
        sw = np.sqrt(weights)
        Z = Z * sw[:, None]
        y = y * sw
    gram = np.einsum("ij,ik->jk", Z, Z)
    try:
        M = np.linalg.inv(gram)
        L = np.linalg.cholesky(M)
    except np.linalg.LinAlgError:
        raise EstimationError(
            f"the regressors {names or ''} are collinear once the fixed effects are absorbed; drop one."
        ) from None
    coef = M @ np.einsum("ij,i->j", Z, y)
    e = y - np.einsum("ij,j->i", Z, coef)
    order = np.lexsort((order_key, clusters)) if order_key is not None else np.argsort(clusters, kind="stable")
    sizes = np.bincount(clusters, minlength=n_clusters)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    scores = np.zeros((n_clusters, p))
    # per distinct block: multiplicity, X'AX and X'A^2X
    mult: list[int] = []
    xax: list[np.ndarray] = []
    xa2x: list[np.ndarray] = []
    for size in np.unique(sizes[sizes > 0]):
        ids = np.flatnonzero(sizes == size)
        rows = order[starts[ids][:, None] + np.arange(size)[None, :]]  # original row numbers, by cluster
        blocks = Z[rows]  # (m, s, p)
        eg = e[rows]  # (m, s)
        flat = blocks.reshape(ids.size, -1)
        # group identical blocks: a random projection proposes, an exact comparison confirms
        proj = np.einsum("ij,j->i", flat, np.random.default_rng(0).standard_normal(flat.shape[1]))
        _, first, inv = np.unique(proj, return_index=True, return_inverse=True)
        groups: list[tuple[int, np.ndarray]] = []
        for q, f in enumerate(first):
            members = np.flatnonzero(inv == q)
            same = np.all(flat[members] == flat[f], axis=1)
            groups.append((int(f), members[same]))
            groups.extend((int(i), np.array([i])) for i in members[~same])  # a collision: one by one
        for f, members in groups:
            Xg = blocks[f]  # (s, p)
            B = Xg @ L
            U, sv, _ = np.linalg.svd(B, full_matrices=False)
            lam = 1.0 - sv**2
            pos = lam > 1e-10
            root = np.where(pos, 1.0 / np.sqrt(np.where(pos, lam, 1.0)), 0.0) - 1.0
            invl = np.where(pos, 1.0 / np.where(pos, lam, 1.0), 0.0) - 1.0
            XtU = Xg.T @ U  # (p, r)
            E = eg[members]  # (mq, s)
            scores[ids[members]] = E @ Xg + ((E @ U) * root) @ XtU.T
            XtX = Xg.T @ Xg
            mult.append(members.size)
            xax.append(XtX + (XtU * root) @ XtU.T)
            xa2x.append(XtX + (XtU * invl) @ XtU.T)
    meat = scores.T @ scores
    vcov = (M @ meat @ M)[:k, :k]
    cnt = np.array(mult, dtype=float)
    XAX, XA2X = np.array(xax), np.array(xa2x)
    df = np.full(k, np.nan)
    for j in range(k):
        mj = M[:, j]
        d = np.einsum("k,qkl,l->q", mj, XA2X, mj)
        W = XAX @ mj  # (Q, p)
        diag_wMw = np.einsum("qk,kl,ql->q", W, M, W)
        S = (W * cnt[:, None]).T @ W
        MS = M @ S
        trace = cnt @ d - np.trace(MS)
        frob2 = cnt @ d**2 - 2.0 * (cnt @ (d * diag_wMw)) + np.einsum("ij,ji->", MS, MS)
        df[j] = trace**2 / frob2 if frob2 > 0 else np.nan
    return coef, vcov, df


def _panel(n_units, n_times, *, unbalanced, covariate, weights, seed=0):
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n_units), n_times)
    time = np.tile(np.arange(n_times), n_units)
    keep = np.ones(unit.size, dtype=bool)
    if unbalanced:
        keep = rng.random(unit.size) > 0.25
        keep[time == 0] = True  # every unit keeps at least two periods
        keep[time == 1] = True
    unit, time = unit[keep], time[keep]
    cohort = rng.choice([0, 2, 3], n_units)[unit]
    d = ((cohort > 0) & (time >= cohort)).astype(float)
    cols = [d]
    if covariate:
        cols.append(rng.normal(size=unit.size) + 0.3 * unit % 5)
    X = np.column_stack(cols)
    y = 0.5 * d + rng.normal(size=n_units)[unit] + 0.1 * time + rng.normal(size=unit.size)
    if weights == "unit":
        w = rng.uniform(0.5, 2.0, n_units)[unit]
    elif weights == "row":
        w = rng.uniform(0.5, 2.0, unit.size)
    else:
        w = None
    return unit, time, X, y, w


def _design(unit, time, X, y, w):
    n_times = int(time.max()) + 1
    dummies = np.zeros((unit.size, n_times - 1))
    rows = np.flatnonzero(time > 0)
    dummies[rows, time[rows] - 1] = 1.0
    Z = np.column_stack([y, X, dummies])
    Z, _ = demean(Z, [(unit, int(unit.max()) + 1)], w)
    return Z[:, 1:], Z[:, 0]


@pytest.mark.parametrize("unbalanced", [False, True])
@pytest.mark.parametrize("covariate", [False, True])
@pytest.mark.parametrize("weights", [None, "unit", "row"])
def test_batched_cr2_equals_per_block_loop(unbalanced, covariate, weights):
    unit, time, X, y, w = _panel(40, 6, unbalanced=unbalanced, covariate=covariate, weights=weights)
    Zt, yt = _design(unit, time, X, y, w)
    k = X.shape[1]
    G = int(unit.max()) + 1
    coef, vcov, df = cr2_patterns(Zt, yt, unit, G, w, k, order_key=time)
    coef_r, vcov_r, df_r = cr2_patterns_reference(Zt, yt, unit, G, w, k, order_key=time)
    np.testing.assert_allclose(coef, coef_r, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(vcov, vcov_r, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(df, df_r, rtol=1e-10)


def test_batched_cr2_clusters_of_several_units():
    # clusters that hold several units: blocks larger than the period count, and unit effects nested
    unit, time, X, y, _ = _panel(60, 5, unbalanced=True, covariate=True, weights=None, seed=3)
    cl = unit // 4
    Zt, yt = _design(unit, time, X, y, None)
    G = int(cl.max()) + 1
    _, vcov, df = cr2_patterns(Zt, yt, cl, G, None, 2, order_key=time)
    _, vcov_r, df_r = cr2_patterns_reference(Zt, yt, cl, G, None, 2, order_key=time)
    np.testing.assert_allclose(vcov, vcov_r, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(df, df_r, rtol=1e-10)


def test_batched_cr2_collinear_regressors_raise():
    unit, time, X, y, _ = _panel(20, 4, unbalanced=False, covariate=False, weights=None)
    Zt, yt = _design(unit, time, np.column_stack([X, 2 * X]), y, None)
    with pytest.raises(EstimationError, match="collinear"):
        cr2_patterns(Zt, yt, unit, 20, None, 2, order_key=time)


def test_twfe_cr2_with_covariate_matches_full_dummy_regression():
    # the estimator end to end: covariate, balanced panel, CR2 = the explicit-dummy regression's CR2
    import pandas as pd

    from effekt.sandwich import robust_ols

    unit, time, X, y, _ = _panel(30, 5, unbalanced=False, covariate=True, weights=None, seed=5)
    df = pd.DataFrame({"u": unit, "t": time, "d": X[:, 0], "x": X[:, 1], "y": y})
    res = ef.estimate("twfe", data=df, outcome="y", unit="u", period="t", treatment="d", covariates=["x"])
    D = np.column_stack([X, pd.get_dummies(unit, dtype=float).to_numpy(),
                         pd.get_dummies(time, dtype=float).to_numpy()[:, 1:]])
    ref = robust_ols(D, y, se_type="CR2", clusters=unit, df_coefs=[0])
    assert res.std_error == pytest.approx(ref.std_error[0], rel=1e-9)
    assert res.df == pytest.approx(ref.df[0], rel=1e-9)


@pytest.mark.parametrize("unbalanced", [False, True])
@pytest.mark.parametrize("covariate", [False, True])
@pytest.mark.parametrize("weights", [None, "unit", "row"])
def test_cr2_within_equals_per_block_loop_on_the_dummy_design(unbalanced, covariate, weights):
    # the path twfe and event_study take: no dummy column formed, the blocks built batch by batch
    # (with unequal weights: clubSandwich's weighted CR2, the core's dense weighted path on the dummies)
    import pandas as pd

    from effekt.sandwich import cr2_within, robust_ols

    unit, time, X, y, w = _panel(40, 6, unbalanced=unbalanced, covariate=covariate, weights=weights, seed=2)
    G = int(unit.max()) + 1
    k = X.shape[1]
    coef, vcov, df = cr2_within(X, y, unit, G, periods=(time, int(time.max()) + 1), weights=w)
    if w is None:
        Zt, yt = _design(unit, time, X, y, w)
        coef_r, vcov_r, df_r = cr2_patterns_reference(Zt, yt, unit, G, w, k, order_key=time)
    else:
        D = np.column_stack([X, pd.get_dummies(unit, dtype=float).to_numpy(),
                             pd.get_dummies(time, dtype=float).to_numpy()[:, 1:]])
        ref = robust_ols(D, y, se_type="CR2", clusters=unit, weights=w, df_coefs=list(range(k)))
        coef_r, vcov_r, df_r = ref.coef, ref.vcov[:k, :k], ref.df[:k]
    np.testing.assert_allclose(coef, coef_r[: X.shape[1]], rtol=1e-10)
    np.testing.assert_allclose(vcov, vcov_r, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(df, df_r, rtol=1e-10)


def test_cr2_within_rows_in_any_order():
    from effekt.sandwich import cr2_within

    unit, time, X, y, _ = _panel(30, 5, unbalanced=True, covariate=True, weights=None, seed=4)
    perm = np.random.default_rng(0).permutation(unit.size)
    a = cr2_within(X, y, unit, 30, periods=(time, 5))
    b = cr2_within(X[perm], y[perm], unit[perm], 30, periods=(time[perm], 5))
    for u, v in zip(a, b):
        np.testing.assert_allclose(u, v, rtol=1e-10, atol=1e-14)


def test_cr2_within_collinear_regressor_names_it():
    from effekt.sandwich import cr2_within

    unit, time, X, y, _ = _panel(20, 4, unbalanced=False, covariate=False, weights=None)
    with pytest.raises(EstimationError, match="'copy'"):
        cr2_within(np.column_stack([X, X]), y, unit, 20, periods=(time, 4), names=["d", "copy"])


def test_block_dedup_survives_projection_collisions():
    # a zero projection makes every block collide: the exact comparison must still separate them
    from effekt.sandwich import _dedup

    Z = np.random.default_rng(0).random((2, 5, 3))
    Z2 = np.concatenate([Z, Z[:, :2]], axis=1)
    reps, inv = _dedup(Z2, np.zeros((2, 3)))
    assert np.array_equal(Z2[:, reps[inv]], Z2)
    reps, inv = _dedup(Z, np.zeros((2, 3)))
    assert reps.tolist() == list(range(5)) and inv.tolist() == list(range(5))


@pytest.mark.parametrize("weights", ["unit", "row"])
@pytest.mark.parametrize("unbalanced", [False, True])
def test_weighted_twfe_cr2_is_the_weighted_dummy_regression(weights, unbalanced):
    # weighted CR2 as clubSandwich's default for lm(y ~ d + x + factor(u) + factor(t), weights = w): the
    # core's weighted CR2, checked against clubSandwich 0.5.8 in tests/test_sandwich_clubsandwich.py
    import pandas as pd

    from effekt.sandwich import robust_ols

    unit, time, X, y, w = _panel(25, 5, unbalanced=unbalanced, covariate=True, weights=weights, seed=7)
    df = pd.DataFrame({"u": unit, "t": time, "d": X[:, 0], "x": X[:, 1], "y": y, "w": w})
    res = ef.estimate("twfe", data=df, outcome="y", unit="u", period="t", treatment="d", covariates=["x"],
                      weights="w")
    D = np.column_stack([X, pd.get_dummies(unit, dtype=float).to_numpy(),
                         pd.get_dummies(time, dtype=float).to_numpy()[:, 1:]])
    ref = robust_ols(D, y, se_type="CR2", clusters=unit, weights=w, df_coefs=[0])
    assert res.std_error == pytest.approx(ref.std_error[0], rel=1e-8)
    assert res.df == pytest.approx(ref.df[0], rel=1e-8)


@pytest.mark.parametrize("weights", ["w", "wu"])
def test_weighted_twfe_cr2_matches_clubsandwich(weights):
    # plugins/did/tests/data/clubsandwich_twfe_weighted.json, written by make_clubsandwich_twfe_weighted.R:
    # clubSandwich 0.5.8, lm(y ~ d + x + factor(u) + factor(t), weights =) with vcovCR(cluster = u, "CR2")
    import json
    from pathlib import Path

    import pandas as pd

    data = Path(__file__).parent / "data"
    ref = json.loads((data / "clubsandwich_twfe_weighted.json").read_text())[weights]
    df = pd.read_csv(data / "clubsandwich_twfe_weighted.csv")
    res = ef.estimate("twfe", data=df, outcome="y", unit="u", period="t", treatment="d", covariates=["x"],
                      weights=weights)
    assert res.estimate == pytest.approx(ref["coef"][0], rel=1e-9)
    assert res.std_error == pytest.approx(ref["se"][0], rel=1e-8)
    assert res.df == pytest.approx(ref["df"][0], rel=1e-8)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_cr2_two_way_equals_the_dummy_regression(k):
    # the closed form of a balanced panel against the explicit-dummy CR2, rows shuffled
    import pandas as pd

    from effekt.sandwich import cr2_two_way, robust_ols

    rng = np.random.default_rng(20 + k)
    G, T = 30, 6
    unit, time = np.repeat(np.arange(G), T), np.tile(np.arange(T), G)
    X = rng.normal(size=(G * T, k))
    X[:, 0] = ((rng.random(G) < 0.4)[unit] & (time >= 3)).astype(float)
    y = X @ np.linspace(0.2, 0.6, k) + rng.normal(size=G)[unit] + rng.normal(size=T)[time] + rng.normal(size=G * T)
    perm = rng.permutation(G * T)
    unit, time, X, y = unit[perm], time[perm], X[perm], y[perm]
    Z, _ = demean(np.column_stack([y, X]), [(unit, G), (time, T)])
    b = np.linalg.lstsq(Z[:, 1:], Z[:, 0], rcond=None)[0]
    V, df = cr2_two_way(Z[:, 1:], Z[:, 0] - Z[:, 1:] @ b, unit, G, time)
    D = np.column_stack([X, pd.get_dummies(unit, dtype=float).to_numpy(), pd.get_dummies(time, dtype=float).to_numpy()[:, 1:]])
    ref = robust_ols(D, y, se_type="CR2", clusters=unit, df_coefs=list(range(k)))
    np.testing.assert_allclose(V, ref.vcov[:k, :k], rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(df, ref.df[:k], rtol=1e-10)


def test_cr2_two_way_refuses_an_unbalanced_panel():
    from effekt.errors import DesignError
    from effekt.sandwich import cr2_two_way

    unit, time = np.repeat(np.arange(4), 3), np.tile(np.arange(3), 4)
    with pytest.raises(DesignError, match="balanced"):
        cr2_two_way(np.ones((11, 1)), np.zeros(11), unit[:11], 4, time[:11])
    time2 = time.copy()
    time2[1] = 0  # unit 0 twice in period 0, never in period 1
    with pytest.raises(DesignError, match="balanced"):
        cr2_two_way(np.ones((12, 1)), np.zeros(12), unit, 4, time2)


@pytest.mark.parametrize("covariate", [False, True])
def test_twfe_cr2_equal_weights_and_unbalanced_paths_agree_with_the_engine(covariate):
    # twfe's three unweighted CR2 routes (closed form, cr2_within without the two-way absorption, the
    # engine on explicit dummies) give the dummy regression's CR2; equal weights change nothing
    import pandas as pd

    from effekt.sandwich import robust_ols

    for unbalanced in (False, True):
        unit, time, X, y, _ = _panel(30, 5, unbalanced=unbalanced, covariate=covariate, weights=None, seed=9)
        df = pd.DataFrame({"u": unit, "t": time, "d": X[:, 0], "y": y, "w": 2.5})
        covs = None
        if covariate:
            df["x"] = X[:, 1]
            covs = ["x"]
        D = np.column_stack([X, pd.get_dummies(unit, dtype=float).to_numpy(),
                             pd.get_dummies(time, dtype=float).to_numpy()[:, 1:]])
        ref = robust_ols(D, y, se_type="CR2", clusters=unit, df_coefs=[0])
        for w in (None, "w"):
            res = ef.estimate("twfe", data=df, outcome="y", unit="u", period="t", treatment="d", covariates=covs,
                              weights=w)
            assert res.estimate == pytest.approx(ref.coef[0], rel=1e-10)
            assert res.std_error == pytest.approx(ref.std_error[0], rel=1e-9)
            assert res.df == pytest.approx(ref.df[0], rel=1e-9)


@pytest.mark.parametrize("weights", ["unit", "row"])
def test_cr2_within_weighted_many_columns_equals_the_dense_weighted_cr2(weights):
    # an event study's shape: several indicator columns, clusters longer than the number of columns
    import pandas as pd

    from effekt.sandwich import cr2_within, robust_ols

    rng = np.random.default_rng(31)
    G, T = 24, 8
    unit, time = np.repeat(np.arange(G), T), np.tile(np.arange(T), G)
    keep = (rng.random(G * T) > 0.2) | (time < 2)
    unit, time = unit[keep], time[keep]
    first = rng.choice([0, 3, 5], G)[unit]
    X = np.column_stack([((first > 0) & (time - first == e)).astype(float) for e in (-3, -2, 0, 1, 2)]
                        + [rng.normal(size=unit.size)])
    y = X @ np.linspace(-0.2, 0.5, 6) + rng.normal(size=G)[unit] + rng.normal(size=unit.size)
    w = rng.uniform(0.5, 2.0, G)[unit] if weights == "unit" else rng.uniform(0.5, 2.0, unit.size)
    coef, vcov, df = cr2_within(X, y, unit, G, periods=(time, T), weights=w, df_coefs=[0, 2, 5])
    D = np.column_stack([X, pd.get_dummies(unit, dtype=float).to_numpy(), pd.get_dummies(time, dtype=float).to_numpy()[:, 1:]])
    ref = robust_ols(D, y, se_type="CR2", clusters=unit, weights=w, df_coefs=[0, 2, 5])
    np.testing.assert_allclose(coef, ref.coef[:6], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(vcov, ref.vcov[:6, :6], rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(df[[0, 2, 5]], ref.df[[0, 2, 5]], rtol=1e-9)
    assert np.isnan(df[[1, 3, 4]]).all()


@pytest.mark.parametrize("k", [1, 2, 3])
def test_cr2_two_way_with_unit_weights_is_clubsandwichs_weighted_cr2(k):
    # weights constant within units: the closed form against the core's dense weighted CR2 on the dummies
    # (itself checked against clubSandwich 0.5.8), rows shuffled; and twfe end to end
    import pandas as pd

    from effekt.sandwich import cr2_two_way, robust_ols

    rng = np.random.default_rng(40 + k)
    G, T = 25, 6
    unit, time = np.repeat(np.arange(G), T), np.tile(np.arange(T), G)
    X = rng.normal(size=(G * T, k))
    X[:, 0] = ((rng.random(G) < 0.4)[unit] & (time >= 3)).astype(float)
    y = X @ np.linspace(0.2, 0.6, k) + rng.normal(size=G)[unit] + rng.normal(size=T)[time] + rng.normal(size=G * T)
    w = rng.uniform(0.3, 3.0, G)[unit]
    perm = rng.permutation(G * T)
    unit, time, X, y, w = unit[perm], time[perm], X[perm], y[perm], w[perm]
    Z, _ = demean(np.column_stack([y, X]), [(unit, G), (time, T)], w)
    Xt, yt = Z[:, 1:], Z[:, 0]
    b = np.linalg.solve((Xt * w[:, None]).T @ Xt, (Xt * w[:, None]).T @ yt)
    V, df = cr2_two_way(Xt, yt - Xt @ b, unit, G, time, weights=w)
    D = np.column_stack([X, pd.get_dummies(unit, dtype=float).to_numpy(), pd.get_dummies(time, dtype=float).to_numpy()[:, 1:]])
    ref = robust_ols(D, y, se_type="CR2", clusters=unit, weights=w, df_coefs=list(range(k)))
    np.testing.assert_allclose(V, ref.vcov[:k, :k], rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(df, ref.df[:k], rtol=1e-9)
    frame = pd.DataFrame({"u": unit, "t": time, "y": y, "w": w} | {f"x{j}": X[:, j] for j in range(k)})
    res = ef.estimate("twfe", data=frame, outcome="y", unit="u", period="t", treatment="x0",
                      covariates=[f"x{j}" for j in range(1, k)] or None, weights="w")
    assert res.std_error == pytest.approx(ref.std_error[0], rel=1e-8)
    assert res.df == pytest.approx(ref.df[0], rel=1e-8)


def test_cr2_two_way_refuses_weights_that_vary_within_a_unit():
    from effekt.errors import DesignError
    from effekt.sandwich import cr2_two_way

    unit, time = np.repeat(np.arange(4), 3), np.tile(np.arange(3), 4)
    with pytest.raises(DesignError, match="constant within each unit"):
        cr2_two_way(np.ones((12, 1)), np.zeros(12), unit, 4, time, weights=np.arange(1.0, 13.0))


def test_cr2_within_unit_weights_series_equals_the_dense_weighted_cr2():
    # enough clusters for the hat blocks to be small: weights constant within units take the binomial
    # series (row weights, mixed in, the eigenproblem); both against the dense weighted CR2
    import pandas as pd

    from effekt.sandwich import cr2_within, robust_ols

    unit, time, X, y, _ = _panel(300, 5, unbalanced=True, covariate=True, weights=None, seed=12)
    rng = np.random.default_rng(1)
    w = rng.uniform(0.5, 2.0, 300)[unit]
    vary = unit < 30
    w[vary] = rng.uniform(0.5, 2.0, int(vary.sum()))
    coef, vcov, df = cr2_within(X, y, unit, 300, periods=(time, 5), weights=w)
    D = np.column_stack([X, pd.get_dummies(unit, dtype=float).to_numpy(), pd.get_dummies(time, dtype=float).to_numpy()[:, 1:]])
    ref = robust_ols(D, y, se_type="CR2", clusters=unit, weights=w, df_coefs=[0, 1])
    np.testing.assert_allclose(coef, ref.coef[:2], rtol=1e-10)
    np.testing.assert_allclose(vcov, ref.vcov[:2, :2], rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(df, ref.df[:2], rtol=1e-9)
