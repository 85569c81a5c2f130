"""CR0/CR1 from one cluster-sum code: ``cluster_vcov`` (design and residuals) and ``score_vcov`` (scores).

Reference value: R sandwich::vcovCL(lm(y ~ d + x, weights = w), cluster = ~g, type = "HC1") in
tests/data/clubsandwich_ivreg.json, written by tests/data/make_clubsandwich_ivreg.R.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from effekt.errors import DesignError, EstimationError
from effekt.sandwich import cluster_vcov, robust_ols, score_vcov

DATA = Path(__file__).parent / "data"
REF = json.loads((DATA / "clubsandwich_ivreg.json").read_text())["cr1_weighted_lm"]
DF = pd.read_csv(DATA / "clubsandwich_ivreg.csv")


def _weighted_fit():
    X = np.column_stack([np.ones(len(DF)), DF.d, DF.x])
    w = DF.w.to_numpy()
    sw = np.sqrt(w)
    Xw = X * sw[:, None]
    M = np.linalg.inv(Xw.T @ Xw)
    e = DF.y.to_numpy() * sw - Xw @ (M @ (Xw.T @ (DF.y.to_numpy() * sw)))
    codes = np.unique(DF.g.to_numpy(), return_inverse=True)[1]
    return X, w, Xw, M, e, codes


def test_cr1_matches_sandwich_vcovcl():
    fit = robust_ols(np.column_stack([np.ones(len(DF)), DF.d, DF.x]), DF.y.to_numpy(), se_type="CR1",
                     clusters=DF.g.to_numpy(), weights=DF.w.to_numpy())
    np.testing.assert_allclose(fit.coef, REF["coef"], rtol=1e-10)
    np.testing.assert_allclose(fit.vcov, np.array(REF["vcov"]), rtol=1e-10)


@pytest.mark.parametrize("se_type", ["CR0", "CR1"])
def test_score_and_design_entry_points_agree_to_the_last_bit(se_type):
    X, w, Xw, M, e, codes = _weighted_fit()
    G = int(codes.max()) + 1
    by_design = cluster_vcov(Xw, e, M, codes, G, k_total=3, small_sample=se_type == "CR1")
    by_scores = score_vcov(Xw * e[:, None], M, se_type=se_type, clusters=DF.g.to_numpy())
    assert np.array_equal(by_design, by_scores)
    # the scores of the original units, w x e: the same cluster sums
    raw = score_vcov(X * (w * (e / np.sqrt(w)))[:, None], M, se_type=se_type, clusters=DF.g.to_numpy())
    np.testing.assert_allclose(raw, by_design, rtol=1e-12)


def test_cluster_sums_equal_a_plain_loop():
    X, _, Xw, M, e, codes = _weighted_fit()
    G = int(codes.max()) + 1
    meat = np.zeros((3, 3))
    for g in range(G):
        s = Xw[codes == g].T @ e[codes == g]
        meat += np.outer(s, s)
    np.testing.assert_allclose(cluster_vcov(Xw, e, M, codes, G, k_total=3, small_sample=False), M @ meat @ M,
                               rtol=1e-12)


def test_cluster_sums_refuse_bad_input():
    psi = np.ones((4, 1))
    with pytest.raises(EstimationError, match="one cluster"):
        score_vcov(psi, np.eye(1), se_type="CR1", clusters=np.zeros(4))
    with pytest.raises(EstimationError, match="one cluster"):
        cluster_vcov(psi, np.ones(4), np.eye(1), np.zeros(4, dtype=int), 1, k_total=1)
    with pytest.raises(EstimationError, match="parameters"):
        cluster_vcov(psi, np.ones(4), np.eye(1), np.array([0, 0, 1, 1]), 2, k_total=4)
    with pytest.raises(DesignError, match="one cluster label per row"):
        score_vcov(psi, np.eye(1), se_type="CR0", clusters=np.array([0, 1]))
    with pytest.raises(DesignError, match="needs clusters"):
        score_vcov(psi, np.eye(1), se_type="CR1")
