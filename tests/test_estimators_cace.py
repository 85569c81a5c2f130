"""cace / iv_robust: Stata ivregress references, the Wald ratio, absorbed
fixed effects, complier share and means, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import effekt as ef
from effekt.errors import DataError, DesignError, EstimationError
from effekt.estimators.cace import tsls

# R's datasets::mtcars (Henderson & Velleman 1981) as in plotnine's data/mtcars.csv
MT = pd.DataFrame(
    dict(
        mpg=[21, 21, 22.8, 21.4, 18.7, 18.1, 14.3, 24.4, 22.8, 19.2, 17.8, 16.4, 17.3, 15.2, 10.4, 10.4,
             14.7, 32.4, 30.4, 33.9, 21.5, 15.5, 15.2, 13.3, 19.2, 27.3, 26, 30.4, 15.8, 19.7, 15, 21.4],
        hp=[110, 110, 93, 110, 175, 105, 245, 62, 95, 123, 123, 180, 180, 180, 205, 215, 230, 66, 52,
            65, 97, 150, 150, 245, 175, 66, 91, 113, 264, 175, 335, 109],
        am=[1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1],
        wt=[2.62, 2.875, 2.32, 3.215, 3.44, 3.46, 3.57, 3.19, 3.15, 3.44, 3.44, 4.07, 3.73, 3.78, 5.25,
            5.424, 5.345, 2.2, 1.615, 1.835, 2.465, 3.52, 3.435, 3.84, 3.845, 1.935, 2.14, 1.513, 3.17,
            2.77, 3.57, 2.78],
        gear=[4, 4, 4, 3, 3, 3, 3, 4, 4, 4, 4, 3, 3, 3, 3, 3, 3, 4, 4, 4, 3, 3, 3, 3, 3, 4, 5, 5, 5, 5, 5, 4],
        cyl=[6, 6, 4, 6, 8, 6, 8, 4, 4, 6, 6, 8, 8, 8, 8, 8, 8, 4, 4, 4, 4, 8, 8, 8, 8, 4, 4, 4, 8, 6, 8, 4],
        drat=[3.9, 3.9, 3.85, 3.08, 3.15, 2.76, 3.21, 3.69, 3.92, 3.92, 3.92, 3.07, 3.07, 3.07, 2.93, 3,
              3.23, 4.08, 4.93, 4.22, 3.7, 2.76, 3.15, 3.73, 3.08, 4.08, 4.43, 3.77, 4.22, 3.62, 3.54, 4.11],
    )
)
ONE = np.ones(32)
CYL = pd.factorize(MT.cyl)[0]
W = (MT.drat / 5).to_numpy()


# estimatr tests/testthat/stata-iv-ests.txt: ivregress 2sls mpg (hp am = wt gear), small [vce]
# columns V[1,1] (hp), V[2,2] (am), V[3,3] (constant)
@pytest.mark.parametrize(
    ("se_type", "clusters", "weights", "expected"),
    [
        ("classical", None, None, (0.0001602, 2.2793852, 5.2396632)),
        ("HC1", None, None, (0.00015781, 2.2003453, 4.7873499)),
        ("CR1", CYL, None, (0.00004096, 0.7950331, 0.31612954)),
        ("classical", None, W, (0.00015649, 2.3424049, 5.2400158)),
        ("HC1", None, W, (0.00014704, 2.0834808, 4.5677404)),
        ("CR1", CYL, W, (0.00006651, 0.64892154, 0.54670656)),
    ],
)
def test_tsls_matches_stata_ivregress(se_type, clusters, weights, expected):
    X = np.column_stack([MT.hp, MT.am, ONE])
    Z = np.column_stack([MT.wt, MT.gear, ONE])
    fit = tsls(MT.mpg.to_numpy(float), X, Z, endogenous=[0, 1], excluded=[0, 1], se_type=se_type,
               clusters=clusters, weights=weights)
    # Stata writes these with 8 decimals (so small values have 4-5 significant digits)
    np.testing.assert_allclose(np.diag(fit.vcov), expected, rtol=5e-5, atol=5e-9)


# estimatr tests/testthat/stata-iv-diagnostics.txt, "weak1" rows: first-stage F of (hp = wt)
# and of (hp am = wt gear), with small / rob / cluster(cyl), unweighted and [aweight = w]
@pytest.mark.parametrize(
    ("endog", "instr", "se_type", "clusters", "weights", "expected"),
    [
        (["hp"], ["wt"], "classical", None, None, [22.998737]),
        (["hp"], ["wt"], "classical", None, W, [24.131227]),
        (["hp"], ["wt"], "HC1", None, None, [60.763169]),
        (["hp"], ["wt"], "HC1", None, W, [56.623663]),
        (["hp"], ["wt"], "CR1", CYL, None, [111.06094]),
        (["hp"], ["wt"], "CR1", CYL, W, [193.07404]),
        (["hp", "am"], ["wt", "gear"], "classical", None, None, [16.699987, 35.541819]),
        (["hp", "am"], ["wt", "gear"], "HC1", None, W, [27.980359, 73.995899]),
        (["hp", "am"], ["wt", "gear"], "CR1", CYL, None, [960.39475, 1878.568]),
    ],
)
def test_first_stage_f_matches_stata(endog, instr, se_type, clusters, weights, expected):
    X = np.column_stack([MT[endog].to_numpy(float), ONE])
    Z = np.column_stack([MT[instr].to_numpy(float), ONE])
    idx = list(range(len(endog)))
    fit = tsls(MT.mpg.to_numpy(float), X, Z, endogenous=idx, excluded=idx, se_type=se_type,
               clusters=clusters, weights=weights)
    np.testing.assert_allclose(fit.first_stage_f, expected, rtol=2e-6)


def _trial(seed: int, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    block = rng.integers(0, 6, n)
    z = rng.integers(0, 2, n)
    always = rng.random(n) < 0.1
    complier = ~always & (rng.random(n) < 0.6)
    d = np.where(always, 1, z * complier)
    x = rng.normal(size=n) + complier
    y = 0.5 * x + 0.3 * block + 2.0 * d + rng.normal(size=n)
    return pd.DataFrame({"y": y, "z": z, "d": d, "x": x, "block": block,
                         "cl": rng.integers(0, 40, n), "w": rng.uniform(0.5, 2, n), "complier": complier})


def test_cace_is_the_wald_ratio():
    # Gerber & Green (2012), eq. 5.25: CACE = ITT_Y / ITT_D
    df = _trial(1)
    res = ef.estimate("cace", data=df, outcome="y", treatment="z", received="d")
    m = df.groupby("z")[["y", "d"]].mean()
    itt_y, itt_d = m.y[1] - m.y[0], m.d[1] - m.d[0]
    assert res.estimate == pytest.approx(itt_y / itt_d, rel=1e-10)
    assert res.extra["complier_share"] == pytest.approx(itt_d, rel=1e-10)
    assert res.extra["itt"] == pytest.approx(itt_y, rel=1e-10)
    assert res.estimand == "cace" and res.se_type == "HC2" and res.design == "simple"


def test_iv_robust_alias_is_the_same_estimator():
    df = _trial(2)
    a = ef.estimate("cace", data=df, outcome="y", treatment="z", received="d", covariates=["x"])
    b = ef.estimate("iv_robust", data=df, outcome="y", treatment="z", received="d", covariates=["x"])
    assert (a.estimate, a.std_error) == (b.estimate, b.std_error)
    assert b.estimator == "iv_robust"


@pytest.mark.parametrize("se_type", ["HC1", "HC2", "CR2"])
def test_absorbed_blocks_equal_block_dummies(se_type):
    df = _trial(3)
    clusters = "cl" if se_type == "CR2" else None
    res = ef.estimate("cace", data=df, outcome="y", treatment="z", received="d", covariates=["x"],
                      blocks="block", weights="w", se_type=se_type, clusters=clusters)
    dummies = pd.get_dummies(df.block, prefix="b", drop_first=True).astype(float)
    X = np.column_stack([np.ones(len(df)), df.d, df.x, dummies])
    Z = np.column_stack([np.ones(len(df)), df.z, df.x, dummies])
    cl = df.cl.to_numpy() if clusters else None
    ref = tsls(df.y.to_numpy(), X, Z, endogenous=[1], excluded=[1], se_type=se_type, clusters=cl,
               weights=df.w.to_numpy())
    assert res.estimate == pytest.approx(ref.coef[1], rel=1e-9)
    assert res.std_error == pytest.approx(np.sqrt(ref.vcov[1, 1]), rel=1e-8)
    assert res.df == pytest.approx(ref.df[1], rel=1e-8)
    assert res.extra["first_stage_f"] == pytest.approx(ref.first_stage_f[0], rel=1e-8)


def test_complier_means_recover_the_complier_mean():
    # the Wald form of Abadie (2003): (E[x D | Z=1] - E[x D | Z=0]) / ITT_D
    df = _trial(4, n=4000)
    res = ef.estimate("cace", data=df, outcome="y", treatment="z", received="d", covariates=["x"])
    g = df.assign(xd=df.x * df.d).groupby("z")[["xd", "d"]].mean()
    wald = (g.xd[1] - g.xd[0]) / (g.d[1] - g.d[0])
    assert res.extra["complier_means"]["x"] == pytest.approx(wald, rel=1e-10)
    # and it is near the simulated compliers' mean (true mean 1)
    assert abs(res.extra["complier_means"]["x"] - df.x[df.complier].mean()) < 0.15


def test_weak_instrument_warns():
    rng = np.random.default_rng(5)
    n = 200
    z = rng.integers(0, 2, n)
    d = (rng.random(n) < 0.3 + 0.03 * z).astype(int)
    df = pd.DataFrame({"y": d + rng.normal(size=n), "z": z, "d": d})
    res = ef.estimate("cace", data=df, outcome="y", treatment="z", received="d")
    assert any("weak instrument" in w for w in res.warnings)


def test_coverage_cace():
    rng = np.random.default_rng(11)
    reps, hits = 300, 0
    for _ in range(reps):
        syn = ef.get_estimator("cace").simulate(rng, n=200, effect=1.0)
        res = ef.estimate("cace", data=syn.data, **syn.spec)
        hits += res.conf_int[0] <= syn.truth <= res.conf_int[1]
    assert abs(hits / reps - 0.95) < 3 * np.sqrt(0.95 * 0.05 / reps)


def test_needs_received():
    with pytest.raises(DesignError, match="needs received="):
        ef.estimate("cace", data=_trial(0), outcome="y", treatment="z")


def test_received_missing_column():
    with pytest.raises(DataError, match="'took_up'.*not in the data"):
        ef.estimate("cace", data=_trial(0), outcome="y", treatment="z", received="took_up")


def test_received_missing_values():
    df = _trial(0).astype({"d": float})
    df.loc[5, "d"] = np.nan
    with pytest.raises(DataError, match="column 'd' has 1 missing value"):
        ef.estimate("cace", data=df, outcome="y", treatment="z", received="d")


def test_no_first_stage():
    # take-up identical in both arms: assignment does not move it
    n = 40
    df = pd.DataFrame({"z": np.tile([0, 1], n // 2), "d": np.repeat([1, 0, 0, 1], n // 4)})
    df["y"] = np.random.default_rng(0).normal(size=n)
    with pytest.raises(EstimationError, match="does not change take-up"):
        ef.estimate("cace", data=df, outcome="y", treatment="z", received="d")


def test_constant_take_up():
    with pytest.raises(DataError, match="received column 'd' is 1 in every row"):
        ef.estimate("cace", data=_trial(0).assign(d=1), outcome="y", treatment="z", received="d")


def test_take_up_not_binary():
    df = _trial(0)
    df.loc[[3, 8], "d"] = 2
    with pytest.raises(DataError, match="received column 'd' must hold 0 .* 2 in rows 3 and 8"):
        ef.estimate("cace", data=df, outcome="y", treatment="z", received="d")


def _dense_iv(y, X, Z, clusters=None, se_type="HC2"):
    """2SLS with HC2 or CR2 from n x n matrices: the hat matrix of the first-stage
    fitted regressors, structural residuals (estimatr's iv_robust convention)."""
    Xhat = Z @ np.linalg.lstsq(Z, X, rcond=None)[0]
    M = np.linalg.inv(Xhat.T @ Xhat)
    b = M @ Xhat.T @ y
    e = y - X @ b
    H = Xhat @ M @ Xhat.T
    if se_type == "HC2":
        meat = (Xhat * (e**2 / (1 - np.diag(H)))[:, None]).T @ Xhat
    else:
        meat = np.zeros_like(M)
        for g in np.unique(clusters):
            i = np.flatnonzero(clusters == g)
            lam, vec = np.linalg.eigh(np.eye(i.size) - H[np.ix_(i, i)])
            A = (vec / np.sqrt(lam)) @ vec.T
            s = Xhat[i].T @ A @ e[i]
            meat += np.outer(s, s)
    return b, M @ meat @ M


@pytest.mark.parametrize("se_type", ["HC2", "CR2"])
def test_cace_matches_dense_two_stage_sandwich(se_type):
    df = _trial(6, n=200)
    B = pd.get_dummies(df.block, drop_first=True).astype(float).to_numpy()
    one = np.ones(len(df))
    X = np.column_stack([one, df.d, df.x, B])
    Z = np.column_stack([one, df.z, df.x, B])
    cl = df.cl.to_numpy() if se_type == "CR2" else None
    b, V = _dense_iv(df.y.to_numpy(), X, Z, cl, se_type)
    res = ef.estimate("cace", data=df, outcome="y", treatment="z", received="d", covariates=["x"],
                      blocks="block", clusters="cl" if cl is not None else None)
    assert res.se_type == se_type
    assert res.estimate == pytest.approx(b[1], rel=1e-10)
    assert res.std_error == pytest.approx(np.sqrt(V[1, 1]), rel=1e-9)


def test_missing_take_up_is_named_by_its_argument_and_text_arms_label_both_columns():
    rng = np.random.default_rng(3)
    z = rng.permutation(np.arange(100) % 2)
    d = z * (rng.random(100) < 0.7)
    df = pd.DataFrame({"y": 1.5 * d + rng.normal(size=100), "z": z, "d": d.astype(float), "cl": np.arange(100) // 2})
    base = ef.estimate("cace", data=df, outcome="y", treatment="z", received="d")
    labels = {0: "usual", 1: "programme"}
    text = df.assign(z=df.z.map(labels), d=df.d.astype(int).map(labels))
    labelled = ef.estimate("cace", data=text, outcome="y", treatment="z", received="d", arms=("usual", "programme"))
    assert labelled.estimate == base.estimate and labelled.std_error == base.std_error
    cat = df.assign(d=pd.Categorical(df.d.astype(int)))
    assert ef.estimate("cace", data=cat, outcome="y", treatment="z", received="d").estimate == base.estimate
    df.loc[4, "d"] = np.nan
    with pytest.raises(DataError, match="received column 'd' has 1 missing value"):
        ef.estimate("cace", data=df, outcome="y", treatment="z", received="d")
    df["z"] = (df.cl % 2).astype(int)
    df["d"] = df.z * (rng.random(100) < 0.7)
    clustered = ef.estimate("cace", data=df, outcome="y", treatment="z", received="d", clusters="cl")
    assert clustered.n == 100 and clustered.n_clusters == 50 and clustered.n_treated + clustered.n_control == 100
