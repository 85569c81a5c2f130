"""Random assignment designs: counts, probabilities, stable streams, enumeration, bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from effekt import design
from effekt.errors import DataError, DesignError

GOLDEN = Path(__file__).parent / "data" / "design_golden.json"

# Seed 004 (notes-004 section 4.2, appendix table 1.1): the 13 lottery sizes.
SEED004_SIZES = [13, 28, 29, 27, 16, 16, 14, 10, 18, 19, 4, 16, 8]


def _seed004_blocks() -> np.ndarray:
    return np.repeat(np.arange(len(SEED004_SIZES)), SEED004_SIZES)


# --------------------------------------------------------------------------- reference


@pytest.mark.parametrize("seed", range(20))
def test_seed004_blocks_differ_by_at_most_one(seed):
    # notes-004 section 4.2: at 1:1 every block has |I - C| <= 1.
    asg = design.block(blocks=_seed004_blocks(), prob=0.5, seed=seed)
    counts = asg.counts()
    assert (np.abs(counts[1] - counts[0]) <= 1).all()
    assert counts.to_numpy().sum() == 218
    # 4 odd blocks: totals differ by at most 4
    assert abs(int(asg.treatment.sum()) - (218 - int(asg.treatment.sum()))) <= 4


# --------------------------------------------------------------------------- oracle


def _plain_block(blocks: np.ndarray, p: float, seed: int) -> np.ndarray:
    """The documented stream contract, written out in plain Python."""
    bg = np.random.PCG64(seed)
    labels = sorted(set(blocks.tolist()))
    u = [int(w >> 11) * 2.0**-53 for w in bg.random_raw(len(labels))]
    keys = bg.random_raw(len(blocks))
    z = np.zeros(len(blocks), dtype=int)
    for g, lab in enumerate(labels):
        members = [i for i in range(len(blocks)) if blocks[i] == lab]
        n_b = len(members)
        m = math.floor(n_b * p)
        frac = n_b * p - m
        if frac > 0 and u[g] >= 1 - frac:  # control's fraction 1 - frac comes first
            m += 1
        ranked = sorted(members, key=lambda i: (int(keys[i]), i))
        for i in ranked[n_b - m :]:
            z[i] = 1
    return z


@pytest.mark.parametrize("seed", [0, 1, 42, 2017])
@pytest.mark.parametrize("p", [0.5, 0.3])
def test_block_matches_plain_python_version_of_the_stream_contract(seed, p):
    blocks = np.repeat(np.array([3, 1, 2, 7]), [5, 4, 7, 6])
    asg = design.block(blocks=blocks, prob=p, seed=seed)
    np.testing.assert_array_equal(asg.treatment, _plain_block(blocks, p, seed))


def test_golden_file_pins_the_streams():
    golden = json.loads(GOLDEN.read_text())
    assert len(golden["cases"]) >= 8
    for case in golden["cases"]:
        fn = getattr(design, case["design"])
        asg = fn(*case.get("args", []), **case["kwargs"])
        got = [str(v) for v in asg.treatment.tolist()]
        assert got == case["treatment"], case["name"]
        assert asg.fingerprint == case["fingerprint"], case["name"]


# --------------------------------------------------------------------------- counts and probabilities


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 30), min_size=1, max_size=12),
    p=st.floats(0.05, 0.95),
    seed=st.integers(0, 2**32),
)
def test_block_counts_are_floor_or_ceil(sizes, p, seed):
    blocks = np.repeat(np.arange(len(sizes)), sizes)
    asg = design.block(blocks=blocks, prob=p, seed=seed)
    treated = asg.counts()[1].to_numpy()
    n_b = np.array(sizes)
    assert np.all((treated == np.floor(n_b * p + 1e-9)) | (treated == np.ceil(n_b * p - 1e-9)))
    np.testing.assert_allclose(asg.prob_treated, p, rtol=0, atol=0)


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(2, 12), min_size=1, max_size=8), seed=st.integers(0, 2**32), data=st.data())
def test_block_m_counts_are_exact(sizes, seed, data):
    block_m = [data.draw(st.integers(0, s)) for s in sizes]
    blocks = np.repeat(np.arange(len(sizes)), sizes)
    asg = design.block(blocks=blocks, block_m=block_m, seed=seed)
    assert asg.counts()[1].tolist() == block_m
    np.testing.assert_allclose(asg.prob_treated, np.repeat(np.array(block_m) / np.array(sizes), sizes))


@settings(max_examples=40, deadline=None)
@given(
    cluster_sizes=st.lists(st.integers(1, 6), min_size=2, max_size=15),
    seed=st.integers(0, 2**32),
    shuffle=st.randoms(use_true_random=False),
)
def test_clusters_are_never_split(cluster_sizes, seed, shuffle):
    clusters = np.repeat(np.arange(len(cluster_sizes)), cluster_sizes)
    order = list(range(clusters.size))
    shuffle.shuffle(order)
    clusters = clusters[order]
    asg = design.cluster(clusters=clusters, prob=0.5, seed=seed)
    per_cluster = pd.Series(asg.treatment).groupby(clusters).nunique()
    assert (per_cluster == 1).all()
    treated_clusters = pd.Series(asg.treatment).groupby(clusters).first().sum()
    C = len(cluster_sizes)
    assert treated_clusters in (C // 2, (C + 1) // 2)


def test_block_cluster_is_nested_and_balanced():
    blocks = np.repeat([1, 2], [12, 10])
    clusters = np.repeat(np.arange(8), [3, 3, 3, 3, 2, 3, 2, 3])
    asg = design.block_cluster(blocks=blocks, clusters=clusters, seed=3)
    z = pd.Series(asg.treatment)
    assert (z.groupby(clusters).nunique() == 1).all()
    by_block = z.groupby(clusters).first().groupby(np.array([1, 1, 1, 1, 2, 2, 2, 2])).sum()
    assert by_block.tolist() == [2, 2]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"n": 7, "prob_each": [0.2, 0.3, 0.5]}, [0.2, 0.3, 0.5]),
        ({"n": 5, "prob": 0.3}, [0.7, 0.3]),
        ({"n": 11, "prob_each": [1 / 3, 1 / 3, 1 / 3]}, [1 / 3, 1 / 3, 1 / 3]),
        ({"n": 10, "prob_each": [0.15, 0.15, 0.7]}, [0.15, 0.15, 0.7]),
    ],
)
def test_remainder_scheme_gives_exact_marginal_probabilities(kwargs, expected):
    # Exact: the distribution of counts enumerated over the remainder's uniform.
    asg = design.complete(seed=1, **kwargs)
    (outcomes,) = asg._plan.outcomes()
    mean_counts = sum(p * c for c, p in outcomes)
    np.testing.assert_allclose(mean_counts / kwargs["n"], expected, rtol=1e-12)
    assert sum(p for _, p in outcomes) == pytest.approx(1.0, abs=1e-15)


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda s: design.complete(7, prob_each=[0.2, 0.3, 0.5], seed=s), [0.2, 0.3, 0.5]),
        (lambda s: design.block(blocks=[1, 1, 1, 2, 2], prob=0.4, seed=s), [0.6, 0.4]),
        (lambda s: design.simple(5, prob_each=[0.1, 0.6, 0.3], seed=s), [0.1, 0.6, 0.3]),
        (lambda s: design.cluster(clusters=[1, 1, 2, 3, 3, 3, 4], prob=0.25, seed=s), [0.75, 0.25]),
    ],
)
def test_marginal_probabilities_goodness_of_fit(make, expected):
    # 3,000 seeded draws; per unit a chi-square goodness-of-fit test against
    # the declared probabilities, Bonferroni over units at a false-alarm
    # rate of 0.001 for the whole check.
    draws = np.column_stack([make(s).arm_codes for s in range(3000)])
    n_units, n_draws = draws.shape
    expected = np.asarray(expected)
    for row in draws:
        observed = np.bincount(row, minlength=expected.size)
        p = stats.chisquare(observed, expected * n_draws).pvalue
        assert p > 0.001 / n_units


def test_probabilities_frame_has_arm_columns():
    asg = design.complete(6, m_each=[1, 2, 3], conditions=["a", "b", "c"], seed=2)
    assert list(asg.probabilities.columns) == ["a", "b", "c"]
    np.testing.assert_allclose(asg.probabilities.iloc[0], [1 / 6, 2 / 6, 3 / 6])
    assert sorted(pd.Series(asg.treatment).value_counts().items()) == [("a", 1), ("b", 2), ("c", 3)]
    with pytest.raises(DesignError, match="prob_treated needs a two-arm design"):
        _ = asg.prob_treated


def test_default_multi_arm_labels_follow_randomizr():
    asg = design.complete(9, num_arms=3, seed=1)
    assert asg.conditions == ("T1", "T2", "T3")
    assert sorted(pd.Series(asg.treatment).value_counts().tolist()) == [3, 3, 3]


def test_block_prob_each_by_mapping():
    blocks = ["x"] * 6 + ["y"] * 4
    asg = design.block(blocks=blocks, block_prob_each={"x": [0.5, 0.5, 0.0], "y": [0.25, 0.25, 0.5]}, seed=3)
    counts = asg.counts()
    assert counts.loc["x"].tolist() == [3, 3, 0]
    assert counts.loc["y"].tolist() == [1, 1, 2]


def test_generator_and_integer_seed_agree_and_are_recorded():
    a = design.block(blocks=[1, 1, 2, 2, 2], seed=9)
    b = design.block(blocks=[1, 1, 2, 2, 2], seed=np.random.Generator(np.random.PCG64(9)))
    np.testing.assert_array_equal(a.treatment, b.treatment)
    assert a.seed == 9 and b.seed is None
    c = design.block(blocks=[1, 1, 2, 2, 2])
    assert isinstance(c.seed, int)
    np.testing.assert_array_equal(design.block(blocks=[1, 1, 2, 2, 2], seed=c.seed).treatment, c.treatment)


def test_fingerprint_identifies_design_seed_and_result():
    a = design.complete(20, seed=1)
    assert a.fingerprint == design.complete(20, seed=1).fingerprint
    assert a.fingerprint != design.complete(20, seed=2).fingerprint
    assert a.fingerprint != design.complete(20, m=10, seed=1).fingerprint
    assert len(a.fingerprint) == 64 and int(a.fingerprint, 16) >= 0


# --------------------------------------------------------------------------- permutations


def test_exact_enumeration_of_complete_design():
    asg = design.complete(6, m=3, seed=1)
    assert asg.n_possible == 20 and asg.equiprobable
    perms = asg.permutations(1000, seed=1)
    assert perms.shape == (6, 20)
    assert (perms.sum(axis=0) == 3).all()
    assert len({tuple(c) for c in perms.T}) == 20


def test_exact_enumeration_of_block_design_with_odd_blocks():
    # (C(5,2) + C(5,3)) * C(4,2) = 120 assignments, all equally likely at p = 0.5
    asg = design.block(blocks=[1] * 5 + [2] * 4, seed=1)
    assert asg.n_possible == 120 and asg.equiprobable
    perms = asg.permutations(500)
    assert perms.shape == (9, 120)
    assert len({tuple(c) for c in perms.T}) == 120
    assert set(perms[:5].sum(axis=0).tolist()) == {2, 3}


def test_exact_enumeration_of_simple_and_cluster_designs():
    assert design.simple(3, seed=1).permutations(100).shape == (3, 8)
    perms = design.cluster(clusters=[1, 1, 2, 2, 3, 3], m=1, seed=1).permutations(100)
    assert perms.shape == (6, 3)
    assert (perms[0] == perms[1]).all()


def test_sampled_permutations_keep_the_design():
    asg = design.block(blocks=np.repeat(np.arange(10), 8), prob=0.5, seed=4)
    perms = asg.permutations(200, seed=5)
    assert perms.shape == (80, 200)
    per_block = perms.reshape(10, 8, 200).sum(axis=1)
    assert (per_block == 4).all()
    np.testing.assert_array_equal(perms, asg.permutations(200, seed=5))


def test_unequal_designs_are_sampled_not_enumerated():
    asg = design.complete(6, prob_each=[0.2, 0.3, 0.5], seed=2)
    assert not asg.equiprobable and asg.n_possible == 120
    assert asg.permutations(500, seed=1).shape == (6, 500)
    with pytest.raises(DesignError, match="not equally likely"):
        asg.permutations(500, exact=True)


def test_n_possible_is_infinite_past_the_digit_limit():
    asg = design.complete(100_000, seed=1)
    assert asg.n_possible == math.inf


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: design.complete(10, prob=1.5), "prob must lie between 0 and 1; got 1.5"),
        (lambda: design.complete(10, prob_each=[0.5, 0.4]), r"prob_each must sum to 1"),
        (lambda: design.complete(10, m=11), r"m=11 cannot be met in the 10 units"),
        (lambda: design.complete(10, m_each=[3, 3, 3]), r"m_each=\[3, 3, 3\] cannot be met"),
        (lambda: design.complete(10, m=3, prob=0.5), "give at most one of"),
        (lambda: design.complete(0), "n must be >= 1"),
        (lambda: design.complete(10, num_arms=3, prob=0.5), "names 2 arms per block but there are 3 conditions"),
        (lambda: design.complete(10, conditions=["a", "a"]), "two or more distinct arms"),
        (lambda: design.complete(10, seed=-1), "seed must be non-negative"),
        (lambda: design.complete(10, seed=1.5), "seed must be a non-negative whole number"),
        (lambda: design.block(blocks=[1, 1, 2], block_m={1: 1, 3: 1}), r"no entry for block \[2\]"),
        (lambda: design.block(blocks=[1, 1, 2], block_m=[1]), "needs one entry per block"),
        (lambda: design.block(blocks=[1, 1, 2, 2], block_m=[1, 3]), "cannot be met in block 2"),
        (lambda: design.block(blocks=[1, 1, 2], m_each=[1, 1]), r"cannot be met in block 2 \(1 units\)"),
        (
            lambda: design.block_cluster(blocks=[1, 1, 2, 2], clusters=[1, 2, 2, 3]),
            "cluster 2 spans blocks",
        ),
    ],
)
def test_bad_design_raises_design_error(call, match):
    with pytest.raises(DesignError, match=match):
        call()


def test_missing_block_label_raises_data_error():
    with pytest.raises(DataError, match=r"blocks has 1 missing label \(row 2\)"):
        design.block(blocks=pd.Series([1.0, 2.0, np.nan, 2.0]))


def test_blocks_and_clusters_of_different_length_raise_data_error():
    with pytest.raises(DataError, match="blocks has 2 labels but clusters has 3"):
        design.block_cluster(blocks=[1, 1], clusters=[1, 2, 3])


def test_block_labels_must_be_a_sequence():
    with pytest.raises(DataError, match="one label per unit"):
        design.block(blocks="batch")


@settings(max_examples=80, deadline=None)
@given(
    n=st.integers(1, 300),
    n_groups=st.integers(1, 20),
    key_values=st.integers(1, 2**64 - 1),
    seed=st.integers(0, 2**32),
)
def test_random_order_is_lexsort(n, n_groups, key_values, seed):
    # keys from a small set force ties in the packed words, and in the keys
    from effekt.design._stream import random_order

    rng = np.random.default_rng(seed)
    keys = (rng.integers(0, min(key_values, 2**63 - 1), n, dtype=np.int64).astype(np.uint64)) << np.uint64(rng.integers(0, 2))
    groups = rng.integers(0, n_groups, n)
    np.testing.assert_array_equal(random_order(keys, groups, n_groups), np.lexsort((keys, groups)))
    np.testing.assert_array_equal(random_order(keys), np.lexsort((keys,)))


def test_prob_near_one_stays_exact():
    # randomizr 1.0 treats floor(N * prob) = 2 of 3 when ceiling(N * prob) == N;
    # effekt treats 3 with probability 0.7 and 2 with probability 0.3.
    asg = design.complete(3, prob=0.9, seed=1)
    (outcomes,) = asg._plan.outcomes()
    assert {tuple(c.tolist()): round(p, 12) for c, p in outcomes} == {(0, 3): 0.7, (1, 2): 0.3}
    np.testing.assert_allclose(asg.prob_treated, 0.9)


def test_three_arm_fractions_that_sequential_sampling_gets_wrong():
    # n = 10, prob_each = (0.12, 0.39, 0.49): floors (1, 3, 4), fractions
    # (0.2, 0.9, 0.9), two units left over. Exact: arm 1 gets an extra unit
    # with probability 0.2.
    asg = design.complete(10, prob_each=[0.12, 0.39, 0.49], seed=1)
    (outcomes,) = asg._plan.outcomes()
    p_extra_first = sum(p for c, p in outcomes if c[0] == 2)
    assert p_extra_first == pytest.approx(0.2, abs=1e-12)
    assert all(c.sum() == 10 and c[0] in (1, 2) and c[1] in (3, 4) and c[2] in (4, 5) for c, _ in outcomes)


def test_interface_estimators_rely_on():
    blocks = pd.Series(["b"] * 4 + ["a"] * 3, index=range(10, 17))
    asg = design.block(blocks=blocks, prob=0.5, seed=42)
    assert asg.treatment.dtype.kind == "i" and set(asg.treatment.tolist()) <= {0, 1}
    assert asg.conditions == (0, 1)
    assert isinstance(asg.blocks, np.ndarray) and asg.blocks.tolist() == blocks.tolist()
    assert asg.clusters is None
    assert list(asg.probabilities.columns) == [0, 1] and len(asg.probabilities) == 7
    assert asg.design == "block" and asg.seed == 42
    assert len(asg.fingerprint) == 64
    assert asg.permutations(3, seed=1).dtype.kind == "i"
    np.testing.assert_allclose(asg.prob_treated, 0.5)
    frame = asg.to_frame()
    assert list(frame.columns) == ["treatment", "block", "prob_0", "prob_1"]
