"""ri's sampled permutations: every block keeps its treated count, the draws
are uniform within blocks and independent across them, the same seed gives
the same draws, batches bound memory; many small blocks (matched pairs),
blocks of unequal size, several treated per block, clusters within blocks."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import effekt as ef
import effekt.estimators.ri as ri_module
from effekt.estimators.ri import Permutations


def _design(shapes, seed, shuffle=True):
    """Rows of blocks with ``(size, treated)`` shapes, in a shuffled row order."""
    rng = np.random.default_rng(seed)
    blocks = np.concatenate([np.full(s, b) for b, (s, _) in enumerate(shapes)])
    z = np.concatenate([rng.permutation(np.arange(s) < t) for s, t in shapes]).astype(np.int8)
    order = rng.permutation(blocks.size) if shuffle else np.arange(blocks.size)
    return z[order], blocks[order]


def _per_block(P, blocks):
    return np.stack([P[:, blocks == b].sum(axis=1) for b in range(int(blocks.max()) + 1)], axis=1)


# every drawing path: a pair, one treated, one control, ranked by comparisons (size <= 12), by partition
shape = st.integers(1, 20).flatmap(lambda s: st.tuples(st.just(s), st.integers(0, s)))


@settings(max_examples=25, deadline=None)
@given(shapes=st.lists(shape, min_size=1, max_size=8), seed=st.integers(0, 2**16), k=st.integers(1, 40))
def test_draws_keep_every_blocks_treated_count(shapes, seed, k):
    z, blocks = _design(shapes, seed)
    perms = Permutations(z, blocks, None)
    draws = list(perms.sample(k, np.random.default_rng(seed)))
    P = np.concatenate(draws)
    assert P.shape == (k, z.size) and set(np.unique(P)) <= {0, 1}
    assert (_per_block(P, blocks) == np.array([t for _, t in shapes])[None, :]).all()
    assert perms.preserves_counts(P)


@settings(max_examples=15, deadline=None)
@given(sizes=st.lists(st.integers(1, 5), min_size=2, max_size=10), seed=st.integers(0, 2**16))
def test_clusters_within_blocks_move_whole(sizes, seed):
    # clusters of 1-5 rows, two blocks of unequal numbers of clusters, about half treated in each
    rng = np.random.default_rng(seed)
    cl = np.repeat(np.arange(len(sizes)), sizes)
    block_of_cluster = np.arange(len(sizes)) % 2
    zc = np.zeros(len(sizes), dtype=np.int8)
    for b in (0, 1):
        members = np.flatnonzero(block_of_cluster == b)
        zc[rng.choice(members, size=max(1, members.size // 2), replace=False)] = 1
    row = rng.permutation(cl.size)
    cl, z, blocks = cl[row], zc[cl[row]], block_of_cluster[cl[row]]
    P = next(Permutations(z, blocks, cl).sample(30, np.random.default_rng(seed)))
    for c in np.unique(cl):
        assert (np.ptp(P[:, cl == c], axis=1) == 0).all()
    treated_clusters = np.stack([
        np.array([P[:, (cl == c)][:, 0] for c in np.unique(cl[blocks == b])]).sum(axis=0) for b in (0, 1)
    ], axis=1)
    assert (treated_clusters == np.array([zc[block_of_cluster == b].sum() for b in (0, 1)])[None, :]).all()


@pytest.mark.parametrize("shapes", [
    [(2, 1), (3, 1)],  # a pair and one treated of three: 6 joint assignments
    [(3, 2), (4, 2)],  # one control of three; two of four ranked by comparisons: 18
    [(17, 2)],  # a block above the comparison size, by partition: 136
])
def test_draws_are_uniform_within_and_independent_across_blocks(shapes):
    z, blocks = _design(shapes, seed=3)
    perms = Permutations(z, blocks, None)
    k = 20_000
    P = np.concatenate(list(perms.sample(k, np.random.default_rng(11))))
    support = perms.enumerate()
    assert support.shape[0] == perms.count
    # index every draw in the enumerated support, then a chi-square test of equal frequencies
    code = {row.tobytes(): i for i, row in enumerate(support.astype(np.int8))}
    counts = np.bincount([code[row.tobytes()] for row in P.astype(np.int8)], minlength=perms.count)
    assert counts.sum() == k
    assert stats.chisquare(counts).pvalue > 1e-3, counts


def test_one_seed_one_result_and_p_at_least_one_over_b_plus_one():
    rng = np.random.default_rng(5)
    n_pairs = 3_000
    pair = np.repeat(np.arange(n_pairs), 2)
    first = rng.integers(0, 2, n_pairs)
    z = np.column_stack([first, 1 - first]).ravel()
    df = pd.DataFrame({"y": 5.0 * z + rng.normal(size=pair.size), "z": z, "pair": pair})
    spec = {"data": df, "outcome": "y", "treatment": "z", "blocks": "pair", "sims": 199, "seed": 7}
    a, b = ef.estimate("ri", **spec), ef.estimate("ri", **spec)
    assert a.p_value == b.p_value and a.conf_int == b.conf_int and a.std_error == b.std_error
    assert not a.extra["exact"] and a.p_value == pytest.approx(1 / 200)  # never below 1/(B+1)
    other = ef.estimate("ri", **{**spec, "seed": 8})
    assert other.std_error != a.std_error


def test_sampled_matched_pairs_agree_with_their_enumeration():
    rng = np.random.default_rng(2)
    n_pairs = 12  # 4,096 assignments
    pair = np.repeat(np.arange(n_pairs), 2)
    first = rng.integers(0, 2, n_pairs)
    z = np.column_stack([first, 1 - first]).ravel()
    df = pd.DataFrame({"y": 0.6 * z + rng.normal(size=pair.size), "z": z, "pair": pair}).sample(frac=1, random_state=1)
    exact = ef.estimate("ri", data=df, outcome="y", treatment="z", blocks="pair")
    sampled = ef.estimate("ri", data=df, outcome="y", treatment="z", blocks="pair", max_exact=0, sims=4000, seed=3)
    assert exact.extra["exact"] and exact.extra["sims"] == 4096
    p = exact.p_value
    assert abs(sampled.p_value - p) < 4 * np.sqrt(p * (1 - p) / 4000) + 1e-3
    assert sampled.conf_int[0] == pytest.approx(exact.conf_int[0], abs=0.15)


def test_batches_bound_memory(monkeypatch):
    monkeypatch.setattr(ri_module, "_CHUNK_FLOATS", 1_000)
    z, blocks = _design([(2, 1)] * 50 + [(5, 2)] * 10, seed=1)
    perms = Permutations(z, blocks, None)
    chunks = list(perms.sample(95, np.random.default_rng(0)))
    assert [c.shape[0] for c in chunks] == [6] * 15 + [5]  # 1,000 // 150 rows per chunk
    df = pd.DataFrame({"y": np.arange(z.size, dtype=float), "z": z, "b": blocks})
    res = ef.estimate("ri", data=df, outcome="y", treatment="z", blocks="b", sims=95, max_exact=0, seed=1)
    assert res.extra["sims"] == 95 and np.isfinite(res.conf_int).all()


def test_blocks_with_nobody_or_everybody_treated_stay_fixed():
    z, blocks = _design([(3, 0), (2, 1), (4, 4), (6, 3)], seed=4)
    P = next(Permutations(z, blocks, None).sample(50, np.random.default_rng(1)))
    assert (P[:, blocks == 0] == 0).all() and (P[:, blocks == 2] == 1).all()
    assert (P[:, blocks == 3].sum(axis=1) == 3).all()
    # each unit of the block of six is treated half of the time, near enough for 50 draws
    assert set(np.unique(P[:, blocks == 3].mean(axis=0) > 0)) == {True}


def test_enumeration_is_unchanged_for_small_designs():
    z, blocks = _design([(2, 1), (3, 1), (4, 2)], seed=6)
    perms = Permutations(z, blocks, None)
    U = perms.enumerate()
    assert U.shape == (2 * 3 * 6, z.size) and perms.preserves_counts(U)
    assert len({row.tobytes() for row in U}) == U.shape[0]
    expected = {frozenset(c) for c in combinations(np.flatnonzero(blocks == 2).tolist(), 2)}
    assert {frozenset(np.flatnonzero(row * (blocks == 2)).tolist()) for row in U} == expected


class _CoarseKeys:
    """A generator whose uniform keys take four values: ties everywhere."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def random(self, size=None, out=None):
        keys = np.floor(self.rng.random(size if out is None else out.shape) * 4) / 4
        if out is None:
            return keys
        out[...] = keys
        return out

    def integers(self, *args, **kwargs):
        return self.rng.integers(*args, **kwargs)


@pytest.mark.parametrize(("s", "t"), [(4, 2), (5, 3), (9, 4), (30, 11)])
def test_tied_keys_still_treat_exactly_the_blocks_count(s, t):
    V = np.zeros((40, 6 * s), dtype=np.int8)
    ri_module._within_blocks(_CoarseKeys(1), V, s, t)  # type: ignore[arg-type]
    assert (V.reshape(40, 6, s).sum(axis=-1) == t).all()


def test_the_count_is_compared_without_its_product_for_many_blocks():
    z, blocks = _design([(2, 1)] * 40_000 + [(3, 1)], seed=2, shuffle=False)
    perms = Permutations(z, blocks, None)
    assert not perms.count_at_most(10**7) and perms._count is None  # 2^40,000 * 3, never multiplied out
    small = Permutations(*_design([(2, 1)] * 13, seed=2), None)  # 8,192 assignments
    assert small.count_at_most(8192) and not small.count_at_most(8191) and small.count == 8192


@pytest.mark.parametrize("estimator", ["difference_in_means", "horvitz_thompson"])
def test_linear_statistics_on_unordered_draws_equal_the_row_order_product(monkeypatch, estimator):
    # shuffled rows, unequal blocks: the drawing's column order is not the rows'
    z, blocks = _design([(2, 1)] * 30 + [(5, 2), (7, 3), (13, 6)], seed=9)
    rng = np.random.default_rng(4)
    df = pd.DataFrame({"y": rng.normal(size=z.size) + 0.4 * z, "z": z, "b": blocks})
    df["pi"] = pd.Series(z).groupby(blocks).transform("mean").to_numpy()
    spec = {"data": df, "outcome": "y", "treatment": "z", "blocks": "b", "sims": 300, "max_exact": 0, "seed": 5}
    if estimator == "horvitz_thompson":
        spec.update(estimator=estimator, probabilities="pi")
    fast = ef.estimate("ri", **spec)
    monkeypatch.setattr(ri_module._Statistic, "linear", lambda self, y: None)
    monkeypatch.setattr(ri_module._DifferenceInMeans, "linear", lambda self, y: None)
    monkeypatch.setattr(ri_module._HorvitzThompson, "linear", lambda self, y: None)
    rows = ef.estimate("ri", **spec)
    assert fast.p_value == pytest.approx(rows.p_value, abs=1e-12)
    assert fast.std_error == pytest.approx(rows.std_error, rel=1e-10)
    np.testing.assert_allclose(fast.conf_int, rows.conf_int, rtol=1e-8)


@pytest.mark.parametrize("design", ["clusters", "weights"])
def test_clusters_and_weights_on_unordered_draws_equal_the_row_order_statistic(monkeypatch, design):
    # clusters of 1-4 rows in blocks of 4-14 clusters (several treated), rows shuffled; or row weights
    rng = np.random.default_rng(12)
    shapes = [(4, 2)] * 8 + [(6, 2)] * 3 + [(7, 4)] * 2 + [(14, 5)]
    zc, block_of = _design(shapes, seed=3, shuffle=False)
    reps = rng.integers(1, 5, size=zc.size) if design == "clusters" else np.ones(zc.size, dtype=int)
    cl = np.repeat(np.arange(zc.size), reps)
    df = pd.DataFrame({"cl": cl, "b": block_of[cl], "z": zc[cl], "w": rng.uniform(0.5, 2, cl.size)})
    df["y"] = 0.3 * df.z + rng.normal(size=zc.size)[cl] + rng.normal(size=cl.size)
    df = df.sample(frac=1, random_state=4)
    spec = {"data": df, "outcome": "y", "treatment": "z", "blocks": "b", "sims": 300, "max_exact": 0, "seed": 6,
            **({"clusters": "cl"} if design == "clusters" else {"weights": "w"})}
    fast = ef.estimate("ri", **spec)
    monkeypatch.setattr(ri_module._DifferenceInMeans, "on_layout", lambda self, perms: None)
    rows = ef.estimate("ri", **spec)
    assert fast.p_value == pytest.approx(rows.p_value, abs=1e-12)
    assert fast.std_error == pytest.approx(rows.std_error, rel=1e-10)
    np.testing.assert_allclose(fast.conf_int, rows.conf_int, rtol=1e-8)


def test_slices_of_a_batch_with_a_shorter_last_one_keep_the_counts(monkeypatch):
    monkeypatch.setattr(ri_module, "_SUB_ENTRIES", 280)  # e.g. 17 draws a slice of the 16-unit shape: 17, 17, 11
    z, blocks = _design([(4, 2)] * 4 + [(2, 1)] * 2 + [(20, 9)], seed=5)  # 16, 4 and 20 units per shape
    P = np.concatenate(list(Permutations(z, blocks, None).sample(45, np.random.default_rng(2))))
    assert (_per_block(P, blocks) == np.array([2] * 4 + [1] * 2 + [9])[None, :]).all()
