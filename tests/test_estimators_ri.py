"""ri: exact p-values against brute-force enumeration and scipy, test inversion,
the design's permutations (blocks, clusters, an Assignment), bad input."""

from __future__ import annotations

from itertools import combinations, product

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import effekt as ef
from effekt import design
from effekt.errors import DataError, DesignError, PluginError
from effekt.estimators.ri import Permutations, _Coefficient, _DifferenceInMeans, _Lin


def _dim(y, z):
    return y[z == 1].mean() - y[z == 0].mean()


def _brute_force_p(y, z, blocks=None, tau=0.0):
    """Enumerate every complete block randomisation with a Python loop; two-sided."""
    blocks = np.zeros(len(y), dtype=int) if blocks is None else blocks
    y0 = y - tau * z
    per_block = []
    for b in np.unique(blocks):
        idx = np.flatnonzero(blocks == b)
        per_block.append([(idx, set(c)) for c in combinations(idx, int(z[idx].sum()))])
    n = len(y)
    share = {b: np.mean(blocks == b) for b in np.unique(blocks)}

    def stat(zz, yy):
        return sum(share[b] * _dim(yy[blocks == b], zz[blocks == b]) for b in np.unique(blocks))

    t_obs = stat(z, y) - tau
    count = total = 0
    for choice in product(*per_block):
        zz = np.zeros(n, dtype=int)
        for _, treated in choice:
            zz[list(treated)] = 1
        t = stat(zz, y0 + tau * zz) - tau
        count += abs(t) >= abs(t_obs) - 1e-12
        total += 1
    return count / total


def test_exact_unblocked_matches_brute_force_and_scipy():
    rng = np.random.default_rng(1)
    y = rng.normal(size=10)
    z = np.array([1, 0, 1, 1, 0, 0, 1, 0, 1, 0])
    y = y + z
    res = ef.estimate("ri", data=pd.DataFrame({"y": y, "z": z}), outcome="y", treatment="z")
    assert res.extra["exact"] and res.extra["sims"] == 252
    assert res.p_value == pytest.approx(_brute_force_p(y, z), abs=1e-12)
    ref = stats.permutation_test((y[z == 1], y[z == 0]), lambda a, b: np.mean(a) - np.mean(b),
                                 permutation_type="independent", n_resamples=np.inf)
    assert res.p_value == pytest.approx(ref.pvalue, abs=1e-12)


def test_exact_blocked_matches_brute_force():
    rng = np.random.default_rng(2)
    blocks = np.repeat([0, 1, 2], [4, 6, 4])
    z = np.array([1, 0, 1, 0, 1, 1, 0, 0, 1, 0, 0, 1, 1, 0])
    y = rng.normal(size=14) + 1.2 * z + blocks
    df = pd.DataFrame({"y": y, "z": z, "b": blocks})
    res = ef.estimate("ri", data=df, outcome="y", treatment="z", blocks="b")
    assert res.extra["sims"] == 6 * 20 * 6 and res.extra["exact"]
    assert res.p_value == pytest.approx(_brute_force_p(y, z, blocks), abs=1e-12)
    assert res.estimate == pytest.approx(
        ef.estimate("difference_in_means", data=df, outcome="y", treatment="z", blocks="b").estimate)


def test_interval_inverts_the_test():
    rng = np.random.default_rng(3)
    z = np.array([1, 0] * 5)
    y = rng.normal(size=10) + 2 * z
    res = ef.estimate("ri", data=pd.DataFrame({"y": y, "z": z}), outcome="y", treatment="z", alpha=0.1)
    lo, hi = res.conf_int
    eps = 1e-6 * (hi - lo)
    assert lo < res.estimate < hi
    # just inside the interval the brute-force test does not reject; just outside it does
    assert _brute_force_p(y, z, tau=lo + eps) > 0.1 and _brute_force_p(y, z, tau=hi - eps) > 0.1
    assert _brute_force_p(y, z, tau=lo - eps) <= 0.1 and _brute_force_p(y, z, tau=hi + eps) <= 0.1


def _trial(seed, n=120):
    rng = np.random.default_rng(seed)
    b = np.repeat(np.arange(6), n // 6)
    z = np.concatenate([rng.permutation(np.arange(n // 6) % 2) for _ in range(6)])
    x = rng.normal(size=n)
    return pd.DataFrame({"y": 0.5 * z + x + 0.2 * b + rng.normal(size=n), "z": z, "b": b, "x": x,
                         "w": rng.uniform(0.5, 2, n), "cl": np.arange(n) // 4})


@pytest.mark.parametrize(
    ("name", "make", "spec"),
    [
        ("difference_in_means", lambda d: _DifferenceInMeans(d.b.to_numpy(), d.w.to_numpy(), len(d)),
         dict(blocks="b", weights="w")),
        ("lm_robust", lambda d: _Coefficient(d[["x"]].to_numpy(), d.b.to_numpy(), d.w.to_numpy(), len(d)),
         dict(blocks="b", weights="w", covariates=["x"])),
        ("lin", lambda d: _Lin(d[["x"]].to_numpy(), d.w.to_numpy(), len(d)), dict(weights="w", covariates=["x"])),
        ("lin", lambda d: _Lin(np.column_stack([d.x, pd.get_dummies(d.b, drop_first=True).astype(float)]),
                               d.w.to_numpy(), len(d)), dict(weights="w", covariates=["x"], blocks="b")),
    ],
)
def test_vectorised_statistics_equal_the_estimators(name, make, spec):
    df = _trial(4)
    perms = Permutations(df.z.to_numpy(), df.b.to_numpy(), None)
    P = next(perms.sample(6, np.random.default_rng(0)))
    got = make(df)(P, df.y.to_numpy())
    ref = [ef.estimate(name, data=df.assign(z=P[k]), outcome="y", treatment="z", **spec).estimate for k in range(6)]
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)


def test_generic_estimator_loop_agrees_with_vectorised():
    # an option the vectorised path does not know sends difference_in_means through the refit loop
    df = _trial(5, n=60)
    fast = ef.estimate("ri", data=df, outcome="y", treatment="z", blocks="b", sims=60, seed=9)
    slow = ef.estimate("ri", data=df, outcome="y", treatment="z", blocks="b", sims=60, seed=9,
                       small_blocks="hybrid_m")
    assert slow.p_value == pytest.approx(fast.p_value, abs=1e-12)
    assert np.isnan(slow.conf_int[0]) and not np.isnan(fast.conf_int[0])


def test_sampled_permutations_respect_blocks_and_clusters():
    df = _trial(6)
    # clusters of four units nested in blocks, two of five clusters treated per block
    rng = np.random.default_rng(2)
    zc = np.concatenate([rng.permutation([1, 1, 0, 0, 0]) for _ in range(6)])
    df["z"] = zc[df.cl.to_numpy()]
    perms = Permutations(df.z.to_numpy(), df.b.to_numpy(), df.cl.to_numpy())
    P = next(perms.sample(200, np.random.default_rng(1)))
    per_block = np.stack([P[:, df.b.to_numpy() == b].sum(axis=1) for b in range(6)], axis=1)
    assert (per_block == df.groupby("b").z.sum().to_numpy()).all()
    for c in np.unique(df.cl)[:10]:
        assert (np.ptp(P[:, df.cl.to_numpy() == c], axis=1) == 0).all()
    # the sampled design is uniform: each unit treated 2/5 of the time
    assert abs(P.mean() - 0.4) < 0.02


def test_sampled_p_value_near_exact():
    rng = np.random.default_rng(7)
    z = rng.permutation(np.arange(16) % 2)
    df = pd.DataFrame({"y": rng.normal(size=16) + 0.8 * z, "z": z})
    exact = ef.estimate("ri", data=df, outcome="y", treatment="z", max_exact=10**7)
    sampled = ef.estimate("ri", data=df, outcome="y", treatment="z", max_exact=0, sims=4000, seed=1)
    assert exact.extra["exact"] and not sampled.extra["exact"]
    assert abs(sampled.p_value - exact.p_value) < 4 * np.sqrt(exact.p_value * (1 - exact.p_value) / 4000) + 1e-3


class _StandInAssignment:
    """The effekt.design Assignment interface: treatment, blocks, clusters,
    probabilities, prob_treated and permutations(k, seed) -> (n, k)."""

    def __init__(self, blocks, seed):
        rng = np.random.default_rng(seed)
        self.blocks = np.asarray(blocks)
        self.clusters = None
        self.treatment = self._draw(rng, 1)[:, 0]
        self.prob_treated = np.full(len(blocks), 0.5)
        self.probabilities = pd.DataFrame({0: 1 - self.prob_treated, 1: self.prob_treated})

    def _draw(self, rng, k):
        out = np.zeros((len(self.blocks), k), dtype=int)
        for b in np.unique(self.blocks):
            idx = np.flatnonzero(self.blocks == b)
            keys = rng.random((len(idx), k)).argsort(axis=0)
            out[idx] = (keys < len(idx) // 2).astype(int)
        return out

    def permutations(self, k, seed=None, *, exact=None):
        assert exact is not True  # this stand-in only samples
        return self._draw(np.random.default_rng(seed), k)


def test_assignment_supplies_treatment_blocks_and_permutations():
    asg = _StandInAssignment(np.repeat([0, 1, 2], 6), seed=3)
    y = np.random.default_rng(0).normal(size=18) + asg.treatment
    df = pd.DataFrame({"y": y})
    via_asg = ef.estimate("ri", data=df, outcome="y", assignment=asg)
    via_cols = ef.estimate("ri", data=df.assign(z=asg.treatment, b=asg.blocks), outcome="y", treatment="z",
                           blocks="b")
    assert via_asg.extra["exact"] and via_asg.extra["sims"] == 20**3
    assert via_asg.p_value == via_cols.p_value
    assert via_asg.conf_int == pytest.approx(via_cols.conf_int, rel=1e-12)
    sampled = ef.estimate("ri", data=df, outcome="y", assignment=asg, max_exact=0, sims=3000, seed=2)
    assert abs(sampled.p_value - via_cols.p_value) < 0.03


def test_ci_for_a_statistic_that_is_not_built_in():
    with pytest.raises(DesignError, match="ci_method=.inversion. needs a built-in statistic"):
        ef.estimate("ri", data=_trial(0, n=24), outcome="y", treatment="z", ci_method="inversion",
                    small_blocks="hybrid_m", sims=10, seed=1)


def test_cluster_with_both_arms():
    df = _trial(0)
    df.loc[0, "z"] = 1 - df.loc[1, "z"]
    df.loc[0:3, "cl"] = 0
    with pytest.raises(DataError, match="cluster 0 of column 'cl' has units in both arms"):
        ef.estimate("ri", data=df, outcome="y", treatment="z", clusters="cl")


def test_bad_sims():
    with pytest.raises(DesignError, match="sims=0 is not valid"):
        ef.estimate("ri", data=_trial(0), outcome="y", treatment="z", sims=0)


def test_unknown_estimator():
    with pytest.raises(PluginError, match="no estimator named 'dim'"):
        ef.estimate("ri", data=_trial(0), outcome="y", treatment="z", estimator="dim")


def test_assignment_and_columns_together():
    asg = _StandInAssignment(np.repeat([0, 1], 6), seed=1)
    with pytest.raises(DesignError, match="either assignment= or treatment="):
        ef.estimate("ri", data=pd.DataFrame({"y": np.zeros(12), "z": asg.treatment}), outcome="y",
                    treatment="z", assignment=asg)


def test_with_an_effekt_design_block_assignment():
    blocks = np.repeat(["a", "b", "c"], 6)
    asg = design.block(blocks=blocks, prob=0.5, seed=3)
    y = np.random.default_rng(0).normal(size=18) + asg.treatment
    via_asg = ef.estimate("ri", data=pd.DataFrame({"y": y}), outcome="y", assignment=asg)
    via_cols = ef.estimate("ri", data=pd.DataFrame({"y": y, "z": asg.treatment, "b": blocks}), outcome="y",
                           treatment="z", blocks="b")
    assert via_asg.extra["exact"] and via_asg.extra["sims"] == asg.n_possible == 20**3
    assert via_asg.p_value == pytest.approx(via_cols.p_value, abs=1e-12)
    assert via_asg.conf_int == pytest.approx(via_cols.conf_int, rel=1e-12)


def test_with_an_effekt_design_cluster_assignment():
    clusters = np.repeat(np.arange(10), 3)
    asg = design.cluster(clusters=clusters, prob=0.5, seed=5)
    y = np.random.default_rng(1).normal(size=30) + asg.treatment
    res = ef.estimate("ri", data=pd.DataFrame({"y": y}), outcome="y", assignment=asg)
    assert res.extra["exact"] and res.extra["sims"] == 252


def test_lin_with_blocks_is_vectorised():
    df = _trial(8, n=60)
    res = ef.estimate("ri", data=df, outcome="y", treatment="z", estimator="lin", covariates=["x"], blocks="b",
                      sims=200, seed=3)
    assert not np.isnan(res.conf_int[0])  # built-in statistic: it has an interval
    assert res.extra["statistic"] == pytest.approx(res.estimate, rel=1e-10)


def test_ri_refuses_the_complier_effect_statistic():
    import pandas as pd

    import effekt as ef

    rng = np.random.default_rng(0)
    z = np.repeat([0, 1], 20)
    df = pd.DataFrame({"y": rng.normal(size=40), "z": z, "d": z * (rng.random(40) < 0.7)})
    with pytest.raises(ef.DesignError, match="intention-to-treat statistic"):
        ef.estimate("ri", data=df, outcome="y", treatment="z", estimator="cace", received="d", seed=1)


# -- options forwarded, Monte Carlo p-values, headline, missing= ----------------------------------
def test_an_unknown_forwarded_option_is_a_design_error_naming_it():
    with pytest.raises(DesignError, match="takes no option 'foo'"):
        ef.estimate("ri", data=_trial(0), outcome="y", treatment="z", foo=1)
    with pytest.raises(DesignError, match="se_type='HC9' is not valid"):
        ef.estimate("ri", data=_trial(0), outcome="y", treatment="z", estimator="lm_robust", se_type="HC9")


def test_ci_is_gone_for_ci_method():
    with pytest.raises(DesignError, match="'ci'"):
        ef.estimate("ri", data=_trial(0), outcome="y", treatment="z", ci=True)
    res = ef.estimate("ri", data=_trial(0), outcome="y", treatment="z", sims=50, max_exact=0, seed=1)
    assert res.ci_method == "inversion"
    bare = ef.estimate("ri", data=_trial(0), outcome="y", treatment="z", sims=50, max_exact=0, seed=1,
                       ci_method="none")
    assert bare.ci_method == "none" and np.isnan(bare.conf_int[0]) and bare.p_value == res.p_value


def test_a_sampled_p_value_is_never_zero():
    df = _trial(0).assign(y=lambda d: d.z * 100.0 + d.x * 0.01)
    res = ef.estimate("ri", data=df, outcome="y", treatment="z", sims=99, max_exact=0, seed=1)
    assert not res.extra["exact"] and res.extra["sims"] == 99
    assert res.p_value == pytest.approx(1 / 100)
    assert "<= 0.01" in res.summary()


def test_a_table_estimator_is_read_at_its_headline():
    df = _trial(1).assign(g=lambda d: np.where(d.index % 2 == 0, "a", "b"))
    tab = ef.estimate("heterogeneity", data=df, outcome="y", treatment="z", moderators=["g"])
    res = ef.estimate("ri", data=df, outcome="y", treatment="z", estimator="heterogeneity", moderators=["g"],
                      sims=20, max_exact=0, seed=2)
    assert res.estimate == pytest.approx(tab.headline.estimate) and res.term == "overall"
    assert res.ci_method == "none"


def test_missing_drop_and_text_arms():
    df = _trial(0)
    df.loc[[3, 8], "y"] = np.nan
    with pytest.raises(DataError, match="missing"):
        ef.estimate("ri", data=df, outcome="y", treatment="z", sims=20, max_exact=0, seed=1)
    dropped = ef.estimate("ri", data=df, outcome="y", treatment="z", missing="drop", sims=20, max_exact=0, seed=1)
    assert dropped.n == len(df) - 2
    text = df.dropna().assign(z=lambda d: np.where(d.z == 1, "JKI", "CAB"))
    labelled = ef.estimate("ri", data=text, outcome="y", treatment="z", arms=("CAB", "JKI"),
                           sims=20, max_exact=0, seed=1)
    assert labelled.estimate == pytest.approx(dropped.estimate) and labelled.p_value == dropped.p_value
