"""The exact r x c Fisher test against full enumeration and R's fisher.test."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import effekt as ef
from effekt.errors import EstimationError
from effekt.estimators._fisher_network import _compositions, fisher_rxc_pvalue, table_log_probability


def brute_force_pvalue(table: np.ndarray) -> float:
    """Enumerate every table with the observed margins (slow, plain Python)."""
    table = np.asarray(table)
    rows, cols = table.sum(axis=1), table.sum(axis=0)
    observed = table_log_probability(table)
    total = 0.0

    def fill(i: int, remaining: np.ndarray, done: list[tuple[int, ...]]) -> None:
        nonlocal total
        if i == len(rows) - 1:
            t = np.array([*done, tuple(remaining)])
            lp = table_log_probability(t)
            if lp <= observed + np.log1p(1e-7):
                total += np.exp(lp)
            return
        for row in itertools.product(*[range(min(rows[i], c) + 1) for c in remaining]):
            if sum(row) == rows[i]:
                fill(i + 1, remaining - np.array(row), [*done, row])

    fill(0, cols.copy(), [])
    return total


def test_job_satisfaction_matches_r():
    # R: example(fisher.test), Job satisfaction (Agresti 2002, p. 57): p-value = 0.7827
    job = np.array([[1, 2, 1, 0], [3, 3, 6, 1], [10, 10, 14, 9], [6, 7, 12, 11]]).T
    assert round(fisher_rxc_pvalue(job), 4) == 0.7827


def test_table_8_4_exact_vs_enumeration():
    # seed 004 Table 8.4 (notes-004 sec. 4.6), arms x outcome
    t = np.array([[7, 18, 84], [5, 10, 94]])
    assert fisher_rxc_pvalue(t) == pytest.approx(brute_force_pvalue(t), rel=1e-10)


@settings(max_examples=30, deadline=None, database=None)
@given(
    shape=st.tuples(st.integers(2, 4), st.integers(2, 4)),
    seed=st.integers(0, 2**31 - 1),
    high=st.integers(1, 6),
)
def test_network_matches_enumeration(shape, seed, high):
    t = np.random.default_rng(seed).integers(0, high + 1, size=shape)
    if t.sum() > 22:
        t = np.minimum(t, 2)
    assert fisher_rxc_pvalue(t) == pytest.approx(brute_force_pvalue(t), rel=1e-9, abs=1e-14)


@settings(max_examples=30, deadline=None, database=None)
@given(cells=st.tuples(*[st.integers(0, 40)] * 4))
def test_network_2x2_matches_scipy(cells):
    t = np.array(cells).reshape(2, 2)
    if (t.sum(axis=0) == 0).any() or (t.sum(axis=1) == 0).any():
        return
    assert fisher_rxc_pvalue(t) == pytest.approx(stats.fisher_exact(t).pvalue, rel=1e-9, abs=1e-15)


def test_invariant_to_transpose_and_permutation():
    t = np.array([[1, 2, 0, 3], [4, 0, 2, 1], [0, 3, 3, 0]])
    p = fisher_rxc_pvalue(t)
    assert fisher_rxc_pvalue(t.T) == pytest.approx(p, rel=1e-12)
    assert fisher_rxc_pvalue(t[::-1, [2, 0, 3, 1]]) == pytest.approx(p, rel=1e-12)


def test_compositions_complete():
    comp = _compositions(4, np.array([2, 3, 1]))
    expected = [c for c in itertools.product(range(3), range(4), range(2)) if sum(c) == 4]
    assert sorted(map(tuple, comp.tolist())) == sorted(expected)


def test_estimator_rxc_exact_and_monte_carlo():
    t = np.array([[10, 21], [45, 39], [50, 44], [4, 5]])  # seed 004 Table 8.2 (age x arm)
    df = ef.from_counts(t)
    exact = ef.estimate("fisher", data=df, outcome="y", treatment="z")
    assert exact.p_value == pytest.approx(fisher_rxc_pvalue(t), rel=1e-12)
    mc = ef.estimate("fisher", data=df, outcome="y", treatment="z", method="monte-carlo", seed=3,
                     sims=4000)
    assert abs(mc.p_value - exact.p_value) < 4 * np.sqrt(exact.p_value * (1 - exact.p_value) / 4000) + 1e-3
    again = ef.estimate("fisher", data=df, outcome="y", treatment="z", method="monte-carlo", seed=3,
                        sims=4000)
    assert again.p_value == mc.p_value


def test_network_limit_raises():
    t = np.full((4, 5), 6)
    with pytest.raises(EstimationError, match="method='monte-carlo'"):
        fisher_rxc_pvalue(t, max_nodes=50)


def test_degenerate_table_is_one():
    assert fisher_rxc_pvalue(np.array([[3, 0], [5, 0]])) == 1.0


def test_composition_count():
    from effekt.estimators._fisher_network import _count_compositions

    for total, upper in ((4, [2, 3, 1]), (7, [3, 3, 3, 3]), (0, [1, 2])):
        assert _count_compositions(total, np.array(upper)) == len(_compositions(total, np.array(upper)))
    assert _count_compositions(5, np.array([1, 1])) == 0


def test_huge_table_raises_before_allocating():
    with pytest.raises(EstimationError, match="network edges"):
        fisher_rxc_pvalue(np.full((6, 6), 30))
