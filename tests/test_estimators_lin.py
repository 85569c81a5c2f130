"""lin: Lin (2013) regression against statsmodels, blocked difference in means, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import effekt as ef
from effekt.errors import DataError, DesignError, EstimationError


def _trial(seed: int, n: int = 240) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    block = np.repeat(np.arange(6), n // 6)
    z = np.concatenate([rng.permutation(np.arange(n // 6) % 2) for _ in range(6)])
    x1, x2 = rng.normal(size=n), rng.exponential(size=n)
    y = 1 + z * (1 + 0.5 * x1) + x1 - x2 + 0.2 * block + rng.normal(size=n)
    return pd.DataFrame({"y": y, "z": z, "x1": x1, "x2": x2, "block": block,
                         "cl": rng.integers(0, 30, n), "w": rng.uniform(0.5, 2, n)})


@pytest.mark.parametrize("se_type", ["HC0", "HC1", "HC2", "HC3"])
def test_matches_statsmodels_on_centred_interactions(se_type):
    # Lin (2013), eq. (2): y ~ z + (x - xbar) + z (x - xbar)
    df = _trial(1)
    xc = df[["x1", "x2"]] - df[["x1", "x2"]].mean()
    X = sm.add_constant(np.column_stack([df.z, xc, xc.mul(df.z, axis=0)]))
    ref = sm.OLS(df.y, X).fit(cov_type=se_type)
    res = ef.estimate("lin", data=df, outcome="y", treatment="z", covariates=["x1", "x2"], se_type=se_type)
    assert res.estimate == pytest.approx(ref.params.iloc[1], rel=1e-10)
    assert res.std_error == pytest.approx(ref.bse.iloc[1], rel=1e-8)
    assert res.df == len(df) - 6


def test_weighted_centring_matches_statsmodels_wls():
    df = _trial(2)
    xbar = np.average(df.x1, weights=df.w)
    xc = df.x1 - xbar
    X = sm.add_constant(np.column_stack([df.z, xc, xc * df.z]))
    ref = sm.WLS(df.y, X, weights=df.w).fit(cov_type="HC2")
    res = ef.estimate("lin", data=df, outcome="y", treatment="z", covariates=["x1"], weights="w")
    assert res.estimate == pytest.approx(ref.params.iloc[1], rel=1e-10)
    assert res.std_error == pytest.approx(ref.bse.iloc[1], rel=1e-8)
    assert res.extra["covariate_means"]["x1"] == pytest.approx(xbar)


def test_blocks_only_is_blocked_difference_in_means():
    # Gerber & Green (2012), eq. 3.10 (estimate) and its Neyman variance by block
    df = _trial(3)
    g = df.groupby(["block", "z"]).y
    m, v, nn = g.mean().unstack(), g.var().unstack(), g.size().unstack()
    share = nn.sum(axis=1) / len(df)
    est = (share * (m[1] - m[0])).sum()
    se = np.sqrt((share**2 * (v[1] / nn[1] + v[0] / nn[0])).sum())
    res = ef.estimate("lin", data=df, outcome="y", treatment="z", blocks="block")
    assert res.estimate == pytest.approx(est, rel=1e-10)
    assert res.std_error == pytest.approx(se, rel=1e-9)
    assert res.design == "blocked"


def test_blocks_and_covariates_equal_explicit_dummies():
    df = _trial(4)
    B = pd.get_dummies(df.block, drop_first=True).astype(float).to_numpy()
    cov = np.column_stack([df.x1, B])
    cc = cov - cov.mean(axis=0)
    X = sm.add_constant(np.column_stack([df.z, cc, cc * df.z.to_numpy()[:, None]]))
    ref = sm.OLS(df.y, X).fit(cov_type="HC2")
    res = ef.estimate("lin", data=df, outcome="y", treatment="z", covariates=["x1"], blocks="block")
    assert res.estimate == pytest.approx(ref.params.iloc[1], rel=1e-9)
    assert res.std_error == pytest.approx(ref.bse.iloc[1], rel=1e-8)


def test_clustered_defaults_to_cr2():
    res = ef.estimate("lin", data=_trial(5), outcome="y", treatment="z", covariates=["x1"], clusters="cl")
    assert res.se_type == "CR2" and res.design == "clustered"


def test_shift_scale_sign():
    df = _trial(6)
    spec = dict(outcome="y", treatment="z", covariates=["x1", "x2"], blocks="block")
    base = ef.estimate("lin", data=df, **spec)
    assert ef.estimate("lin", data=df.assign(y=df.y + 7), **spec).estimate == pytest.approx(base.estimate)
    sc = ef.estimate("lin", data=df.assign(y=3 * df.y), **spec)
    assert sc.std_error == pytest.approx(3 * base.std_error)
    assert ef.estimate("lin", data=df.assign(z=1 - df.z), **spec).estimate == pytest.approx(-base.estimate)


def test_needs_covariates():
    with pytest.raises(DesignError, match="pass covariates="):
        ef.estimate("lin", data=_trial(0), outcome="y", treatment="z")


def test_text_covariate():
    with pytest.raises(DataError, match="covariate column 'x1' holds"):
        ef.estimate("lin", data=_trial(0).assign(x1="old"), outcome="y", treatment="z", covariates=["x1"])


def test_covariate_constant_in_an_arm():
    df = _trial(0)
    df.loc[df.z == 1, "x1"] = 0.0
    with pytest.raises(EstimationError, match="rank"):
        ef.estimate("lin", data=df, outcome="y", treatment="z", covariates=["x1"])
