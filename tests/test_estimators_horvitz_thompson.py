"""horvitz_thompson: exact unbiasedness by enumeration, the Aronow-Middleton
variance against a dense implementation with enumerated joint probabilities,
cluster and blocked designs, an Assignment, and ri with its statistic."""

from __future__ import annotations

from itertools import combinations, product

import numpy as np
import pandas as pd
import pytest

import effekt as ef
from effekt import design
from effekt.errors import DataError, DesignError


def _all_assignments(blocks, clusters, treated_per_block):
    """Every complete (block, cluster) randomisation, by a plain loop."""
    unit = np.unique(clusters, return_inverse=True)[1]
    ub = {u: blocks[unit == u][0] for u in np.unique(unit)}
    per_block = []
    for b in np.unique(blocks):
        units = [u for u in ub if ub[u] == b]
        per_block.append(list(combinations(units, treated_per_block[b])))
    out = []
    for choice in product(*per_block):
        treated = {u for part in choice for u in part}
        out.append(np.array([1 if unit[i] in treated else 0 for i in range(len(blocks))]))
    return np.array(out)


def _dense_youngs(y, z, Z_all, clusters):
    """Aronow & Middleton (2013) Young's-inequality variance with the 2N x 2N joint
    probabilities estimated by enumerating the design (N = number of rows)."""
    unit = np.unique(clusters, return_inverse=True)[1]
    G = unit.max() + 1
    R_all = np.zeros((Z_all.shape[0], 2 * G))
    for k, zz in enumerate(Z_all):
        zu = np.zeros(G)
        zu[unit] = zz
        R_all[k] = np.concatenate([1 - zu, zu])
    pi_kl = R_all.T @ R_all / Z_all.shape[0]
    pi_k = np.diag(pi_kl)
    Yu = np.bincount(unit, weights=y, minlength=G)
    zu = np.zeros(G)
    zu[unit] = z
    Y = np.concatenate([-Yu, Yu])
    R = np.concatenate([1 - zu, zu])
    total = 0.0
    for k in np.flatnonzero(R):
        for j in np.flatnonzero(R):
            if pi_kl[k, j] > 0:
                total += Y[k] * Y[j] * (pi_kl[k, j] - pi_k[k] * pi_k[j]) / (pi_kl[k, j] * pi_k[k] * pi_k[j])
        total += Y[k] ** 2 / pi_k[k]  # Young's inequality bound for the unobserved cross term
    est = (Y * R / pi_k).sum() / len(y)
    return est, np.sqrt(total) / len(y)


@pytest.mark.parametrize("design", ["complete", "blocked", "clustered", "block_clustered"])
def test_matches_dense_aronow_middleton(design):
    rng = np.random.default_rng(1)
    n = 12
    blocks = np.repeat([0, 1], 6) if "block" in design else np.zeros(n, dtype=int)
    clusters = np.arange(n) // 2 if "cluster" in design else np.arange(n)
    if design == "complete":
        treated = {0: 5}
    elif design == "blocked":
        treated = {0: 2, 1: 3}
    elif design == "clustered":
        treated = {0: 2}
    else:
        treated = {0: 1, 1: 2}
    Z_all = _all_assignments(blocks, clusters, treated)
    z = Z_all[7]
    y = rng.normal(size=n) + 2 * z
    df = pd.DataFrame({"y": y, "z": z, "b": blocks, "cl": clusters})
    res = ef.estimate("horvitz_thompson", data=df, outcome="y", treatment="z",
                      blocks="b" if "block" in design else None, clusters="cl" if "cluster" in design else None,
                      simple=False)
    est, se = _dense_youngs(y, z, Z_all, clusters)
    assert res.estimate == pytest.approx(est, rel=1e-12)
    assert res.std_error == pytest.approx(se, rel=1e-12)
    assert res.extra["randomisation"] == "complete"


def test_default_randomisation_follows_estimatr():
    # simple without blocks, complete within blocks (estimatr's horvitz_thompson)
    df = pd.DataFrame({"y": [1.0, 2, 3, 4, 5, 6], "z": [0, 1, 0, 1, 0, 1], "b": [0, 0, 0, 1, 1, 1]})
    assert ef.estimate("horvitz_thompson", data=df, outcome="y", treatment="z").extra["randomisation"] == "simple"
    blocked = ef.estimate("horvitz_thompson", data=df.assign(b=[0, 0, 1, 1, 2, 2]), outcome="y",
                          treatment="z", blocks="b")
    assert blocked.extra["randomisation"] == "complete"


def test_unbiased_and_conservative_by_enumeration():
    # cluster design with unequal cluster sizes: HT is unbiased, Young's variance conservative
    rng = np.random.default_rng(2)
    clusters = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 3, 4, 4, 5, 5, 5])
    n = clusters.size
    y0 = rng.normal(size=n) + clusters
    y1 = y0 + 1 + rng.normal(size=n)
    Z_all = _all_assignments(np.zeros(n, dtype=int), clusters, {0: 3})
    ests, vars_ = [], []
    for zz in Z_all:
        df = pd.DataFrame({"y": np.where(zz == 1, y1, y0), "z": zz, "cl": clusters})
        res = ef.estimate("horvitz_thompson", data=df, outcome="y", treatment="z", clusters="cl", simple=False)
        ests.append(res.estimate)
        vars_.append(res.std_error**2)
    assert np.mean(ests) == pytest.approx(np.mean(y1 - y0), rel=1e-12)
    assert np.mean(vars_) >= np.var(ests) - 1e-12


def test_complete_design_equals_difference_in_means():
    rng = np.random.default_rng(3)
    z = rng.permutation(np.arange(40) % 2)
    df = pd.DataFrame({"y": rng.normal(size=40) + z, "z": z, "b": np.repeat([0, 1], 20)})
    ht = ef.estimate("horvitz_thompson", data=df, outcome="y", treatment="z", blocks="b")
    dim = ef.estimate("difference_in_means", data=df, outcome="y", treatment="z", blocks="b")
    assert ht.estimate == pytest.approx(dim.estimate, rel=1e-12)


def test_simple_design_variance():
    # Bernoulli(0.3): N^2 V = sum_T (y/p)^2 + sum_C (y/(1-p))^2 (estimatr, se_type="youngs")
    rng = np.random.default_rng(4)
    z = (rng.random(30) < 0.3).astype(int)
    y = rng.normal(size=30) + z
    res = ef.estimate("horvitz_thompson", data=pd.DataFrame({"y": y, "z": z, "p": 0.3}), outcome="y",
                      treatment="z", probabilities="p")
    t = z == 1
    assert res.estimate == pytest.approx((y[t].sum() / 0.3 - y[~t].sum() / 0.7) / 30, rel=1e-12)
    assert res.std_error == pytest.approx(np.sqrt(((y[t] / 0.3) ** 2).sum() + ((y[~t] / 0.7) ** 2).sum()) / 30)
    assert res.df is None


class _StandInAssignment:
    """The effekt.design Assignment interface (complete randomisation in blocks)."""

    def __init__(self, blocks, prob, seed):
        self.blocks = np.asarray(blocks)
        self.clusters = None
        self.prob = prob
        self.prob_treated = np.full(len(blocks), prob)
        self.probabilities = pd.DataFrame({0: 1 - self.prob_treated, 1: self.prob_treated})
        self.treatment = self.permutations(1, seed)[:, 0]

    def permutations(self, k, seed=None):
        rng = np.random.default_rng(seed)
        out = np.zeros((len(self.blocks), k), dtype=int)
        for b in np.unique(self.blocks):
            idx = np.flatnonzero(self.blocks == b)
            out[idx] = rng.random((len(idx), k)).argsort(axis=0) < round(self.prob * len(idx))
        return out


def test_assignment_supplies_probabilities_and_design():
    asg = _StandInAssignment(np.repeat([0, 1, 2], 10), prob=0.3, seed=1)
    y = np.random.default_rng(0).normal(size=30) + asg.treatment
    res = ef.estimate("horvitz_thompson", data=pd.DataFrame({"y": y}), outcome="y", assignment=asg)
    ref = ef.estimate("horvitz_thompson", data=pd.DataFrame({"y": y, "z": asg.treatment, "b": asg.blocks}),
                      outcome="y", treatment="z", blocks="b")
    assert res.extra["randomisation"] == "complete"
    assert (res.estimate, res.std_error) == pytest.approx((ref.estimate, ref.std_error), rel=1e-12)


def test_ri_with_the_horvitz_thompson_statistic():
    rng = np.random.default_rng(5)
    z = rng.permutation(np.arange(12) % 2)
    df = pd.DataFrame({"y": rng.normal(size=12) + z, "z": z, "p": 0.5})
    res = ef.estimate("ri", data=df, outcome="y", treatment="z", estimator="horvitz_thompson",
                      probabilities="p")
    dim = ef.estimate("ri", data=df, outcome="y", treatment="z")
    # with p = 1/2 and half treated the HT statistic is the difference in means
    assert res.p_value == pytest.approx(dim.p_value, abs=1e-12)
    assert res.conf_int == pytest.approx(dim.conf_int, rel=1e-8)


def test_probability_out_of_range():
    df = pd.DataFrame({"y": [1.0, 2, 3, 4], "z": [0, 1, 0, 1], "p": [0.5, 1.0, 0.5, 0.5]})
    with pytest.raises(DataError, match="strictly between 0 and 1"):
        ef.estimate("horvitz_thompson", data=df, outcome="y", treatment="z", probabilities="p")


def test_probability_varies_within_cluster():
    df = pd.DataFrame({"y": [1.0, 2, 3, 4], "z": [0, 0, 1, 1], "p": [0.5, 0.4, 0.5, 0.5], "cl": [1, 1, 2, 2]})
    with pytest.raises(DataError, match="varies within cluster 1"):
        ef.estimate("horvitz_thompson", data=df, outcome="y", treatment="z", probabilities="p", clusters="cl",
                    simple=True)


def test_unequal_probabilities_in_a_complete_block():
    df = pd.DataFrame({"y": [1.0, 2, 3, 4], "z": [0, 1, 0, 1], "p": [0.4, 0.6, 0.4, 0.6]})
    with pytest.raises(DesignError, match="vary within a block"):
        ef.estimate("horvitz_thompson", data=df, outcome="y", treatment="z", probabilities="p", simple=False)


def test_cluster_in_both_arms():
    df = pd.DataFrame({"y": [1.0, 2, 3, 4], "z": [0, 1, 0, 1], "cl": [1, 1, 2, 2]})
    with pytest.raises(DataError, match="treatment column 'z' varies within cluster 1"):
        ef.estimate("horvitz_thompson", data=df, outcome="y", treatment="z", clusters="cl")


def test_with_effekt_design_assignments():
    rng = np.random.default_rng(0)
    blocks = np.repeat(["a", "b", "c"], 6)
    asg = design.block(blocks=blocks, prob=0.5, seed=3)
    y = rng.normal(size=18) + asg.treatment
    res = ef.estimate("horvitz_thompson", data=pd.DataFrame({"y": y}), outcome="y", assignment=asg)
    ref = ef.estimate("horvitz_thompson", data=pd.DataFrame({"y": y, "z": asg.treatment, "b": blocks}),
                      outcome="y", treatment="z", blocks="b")
    assert res.extra["randomisation"] == "complete"
    assert (res.estimate, res.std_error) == pytest.approx((ref.estimate, ref.std_error), rel=1e-12)
    bern = design.simple(30, prob=0.3, seed=2)
    ys = rng.normal(size=30) + bern.treatment
    res = ef.estimate("horvitz_thompson", data=pd.DataFrame({"y": ys}), outcome="y", assignment=bern)
    t = bern.treatment == 1
    assert res.extra["randomisation"] == "simple"
    assert res.estimate == pytest.approx((ys[t].sum() / 0.3 - ys[~t].sum() / 0.7) / 30, rel=1e-12)


# -- se_type ------------------------------------------------------------------------------------
def _complete(seed=5, n=40, m=16):
    rng = np.random.default_rng(seed)
    z = np.zeros(n, dtype=int)
    z[rng.choice(n, m, replace=False)] = 1
    return pd.DataFrame({"y": 2.0 + z + rng.normal(size=n), "z": z})


def test_constant_effect_variance_is_neyman_with_a_common_variance():
    # Under a constant effect S1^2 = S0^2 and S_tau^2 = 0, so the variance of the difference in means
    # (HT with pi = m/n) is S0^2 (1/m + 1/(n - m)) (Imbens & Rubin 2015, Causal Inference, thm 6.2);
    # "constant" plugs in the imputed control outcomes y - z * tau.
    df = _complete()
    res = ef.estimate("horvitz_thompson", data=df, outcome="y", treatment="z", simple=False, se_type="constant")
    m, n = int(df.z.sum()), len(df)
    y0 = df.y - df.z * res.estimate
    assert res.se_type == "constant"
    assert res.std_error == pytest.approx(np.sqrt(y0.var(ddof=1) * (1 / m + 1 / (n - m))), rel=1e-12)
    youngs = ef.estimate("horvitz_thompson", data=df, outcome="y", treatment="z", simple=False)
    assert youngs.se_type == "youngs" and youngs.estimate == res.estimate


def test_constant_effect_variance_under_simple_randomisation():
    # independent assignment: Var = sum_i pi_i (1 - pi_i) a_i^2 / N^2 with a = y1/pi + y0/(1 - pi)
    df = _complete().assign(p=0.4)
    res = ef.estimate("horvitz_thompson", data=df, outcome="y", treatment="z", probabilities="p",
                      simple=True, se_type="constant")
    y0 = df.y - df.z * res.estimate
    a = (y0 + res.estimate) / 0.4 + y0 / 0.6
    assert res.std_error == pytest.approx(np.sqrt(np.sum(0.24 * a**2)) / len(df), rel=1e-12)


def test_se_type_choices_and_counts():
    df = _complete().assign(cl=np.arange(40) // 2)
    df["z"] = (df.cl % 2).astype(int)
    with pytest.raises(DesignError, match="se_type='HC2' is not valid"):
        ef.estimate("horvitz_thompson", data=df, outcome="y", treatment="z", se_type="HC2")
    res = ef.estimate("horvitz_thompson", data=df, outcome="y", treatment="z", clusters="cl", se_type="constant")
    assert res.n == 40 and res.n_clusters == 20 and res.n_treated + res.n_control == 40
    text = df.assign(z=np.where(df.z == 1, "JKI", "CAB"))
    labelled = ef.estimate("horvitz_thompson", data=text, outcome="y", treatment="z", clusters="cl",
                           arms=("CAB", "JKI"), se_type="constant")
    assert labelled.estimate == pytest.approx(res.estimate) and labelled.std_error == pytest.approx(res.std_error)
