"""Benchmarks of effekt's design-based estimators against their peers.

1. lm_robust, HC2 (and HC1), 1,000 absorbed block effects, up to 1,000,000
   rows, against pyfixest's feols (HC1, same fixed effects) on the same data,
   and against statsmodels OLS with the block dummy columns written out, at
   10,000 rows only (it takes minutes from 100,000 rows; its dummy matrix at
   1,000,000 rows is 8 GB and its HC2 needs two more of that size).
2. lm_robust, CR2 with Bell-McCaffrey df, 500 clusters, 200,000 rows: time
   only (an n x n matrix would be 320 GB).
3. ri (``CASES``: ``python -m benchmarks --only estimators``, or
   ``python -m benchmarks.bench_estimators --only ri`` without the runner),
   10,000 permutations each: a blocked difference in means on 100,000 units
   in 100 blocks against scipy.stats.permutation_test (unblocked, vectorised,
   10,000 resamples in batches of 200: all at once needs 8 GB per copy and
   was killed for memory on 24 GB) on the same data; 50,000 matched pairs
   and 100,000 units in blocks of 2-12 with several treated against a plain
   numpy floor (``ri_numpy_floor``: keys sorted within blocks, the statistic
   as one matrix-vector product; effekt's goal: within 2x of it) and, for
   the pairs, scipy's paired permutation_test (the same test).

Run: flock /tmp/effekt-bench.lock .venv/bin/python benchmarks/bench_estimators.py
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

import effekt as ef

if __package__ in (None, ""):  # run as a script: the benchmarks package is the parent directory's
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.cases import Case, Peer  # noqa: E402


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def blocked_trial(n: int, n_blocks: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    per = n // n_blocks
    block = np.repeat(np.arange(n_blocks), per)
    z = (rng.random((n_blocks, per)).argsort(axis=1) < per // 2).astype(np.int8).ravel()
    x = rng.normal(size=block.size)
    effect = rng.normal(size=n_blocks)[block] * 0.5
    y = 0.3 * z + 0.5 * x + effect + rng.normal(size=block.size) * (1 + 0.5 * z)
    return pd.DataFrame({"y": y, "z": z, "x": x, "block": block})


# -- lm_robust (runner cases) ------------------------------------------------------------------------


def _lm_robust(se_type: str | None, **kw: Any) -> Callable[[pd.DataFrame], Any]:
    def run(df: pd.DataFrame) -> Any:
        opts = dict(kw, **({"se_type": se_type} if se_type else {}))
        return ef.estimate("lm_robust", data=df, outcome="y", treatment="z", covariates=["x"], **opts)

    return run


def _feols_hc1(df: pd.DataFrame) -> Any:
    import pyfixest as pf

    return pf.feols("y ~ z + x | block", data=df, vcov="hetero")


def _same_estimate_pyfixest(_: Any, res: Any, fit: Any) -> None:
    coef = float(fit.coef()["z"])
    assert abs(res.estimate - coef) < 1e-8 * max(1.0, abs(coef)), f"estimate {res.estimate!r} vs pyfixest {coef!r}"


def _same_hc1_pyfixest(d: Any, res: Any, fit: Any) -> None:
    _same_estimate_pyfixest(d, res, fit)
    se = float(fit.se()["z"])
    assert abs(res.std_error / se - 1) < 1e-6, f"HC1 SE {res.std_error!r} vs pyfixest {se!r}"


def _statsmodels_dummies_hc2(df: pd.DataFrame) -> Any:
    import statsmodels.api as sm

    dummies = pd.get_dummies(df["block"], prefix="b", drop_first=True, dtype=float)
    X = sm.add_constant(pd.concat([df[["z", "x"]].astype(float), dummies], axis=1))
    return sm.OLS(df["y"], X).fit(cov_type="HC2")


def _same_hc2_statsmodels(_: Any, res: Any, fit: Any) -> None:
    assert abs(res.estimate - fit.params["z"]) < 1e-8, f"estimate {res.estimate!r} vs {fit.params['z']!r}"
    assert abs(res.std_error / fit.bse["z"] - 1) < 1e-8, f"HC2 SE {res.std_error!r} vs statsmodels {fit.bse['z']!r}"


def _thousand_blocks(n: int) -> pd.DataFrame:
    """1,000 blocks from 100,000 rows up; n / 100 blocks below (the quick check)."""
    return blocked_trial(n, min(1_000, n // 100), seed=1)


def _cr2_trial(n: int, n_clusters: int = 500) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    cl = np.repeat(np.arange(n_clusters), n // n_clusters)
    zc = rng.permutation(np.arange(n_clusters) % 2)
    df = pd.DataFrame({"cl": cl, "z": zc[cl], "x": rng.normal(size=cl.size)})
    df["y"] = 0.2 * df.z + 0.5 * df.x + rng.normal(size=n_clusters)[cl] + rng.normal(size=cl.size)
    return df


LM_ROBUST_CASES = [
    Case(
        name="estimators.lm_robust_hc2", title="lm_robust HC2, 1,000 absorbed block effects, one covariate",
        setup=_thousand_blocks, effekt=_lm_robust("HC2", blocks="block"),
        peers=(Peer("pyfixest feols HC1 (same fixed effects)", _feols_hc1, _same_estimate_pyfixest, target=1.5,
                    package="pyfixest"),
               Peer("statsmodels OLS + block dummies, HC2", _statsmodels_dummies_hc2, _same_hc2_statsmodels,
                    target=0.05, package="statsmodels", repeat=0, max_size=10_000)),
        sizes=(10_000, 100_000, 1_000_000), quick_size=5_000,
        notes="statsmodels takes minutes from 100,000 rows (a pseudo-inverse of the dummy design; 8 GB of "
        "dummies at 1,000,000 rows): run at 10,000 rows only",
    ),
    Case(
        name="estimators.lm_robust_hc1", title="lm_robust HC1, 1,000 absorbed block effects, one covariate",
        setup=_thousand_blocks, effekt=_lm_robust("HC1", blocks="block"),
        peers=(Peer("pyfixest feols HC1", _feols_hc1, _same_hc1_pyfixest, package="pyfixest"),),
        sizes=(100_000, 1_000_000), quick_size=5_000,
    ),
    Case(
        name="estimators.lm_robust_cr2", title="lm_robust CR2 (Bell-McCaffrey df), 500 clusters (time only)",
        setup=_cr2_trial, effekt=_lm_robust(None, clusters="cl"),
        sizes=(20_000, 200_000), quick_size=5_000,
        notes="no peer has CR2 with these degrees of freedom; an n x n matrix would be 320 GB at 200,000 rows",
    ),
]

# -- ri ---------------------------------------------------------------------------------------
# Cases for the runner (``python -m benchmarks --only estimators.ri``), in their own functions.

RI_SIMS = 10_000


def ri_blocked_trial(n: int) -> dict[str, Any]:
    """``n`` units in 100 blocks, half of each block treated (the first comparison)."""
    df = blocked_trial(n, 100, seed=4)
    return {"df": df, "blocks": "block", "y": df["y"].to_numpy(), "z": df["z"].to_numpy()}


def ri_pairs(n: int) -> dict[str, Any]:
    """``n`` units in ``n / 2`` matched pairs, one treated in each, in a random row
    order; the effect gives a p-value near 0.1 at every size."""
    rng = np.random.default_rng(19)
    n_pairs = n // 2
    pair = np.repeat(np.arange(n_pairs), 2)
    first = rng.integers(0, 2, n_pairs)
    z = np.column_stack([first, 1 - first]).ravel()
    y = 1.6 * np.sqrt(2 / n_pairs) * z + 0.5 * rng.normal(size=n_pairs)[pair] + rng.normal(size=pair.size)
    row = rng.permutation(pair.size)
    df = pd.DataFrame({"y": y[row], "z": z[row], "pair": pair[row]})
    return {"df": df, "blocks": "pair", "y": y[row], "z": z[row]}


def ri_unequal_blocks(n: int) -> dict[str, Any]:
    """``n`` units in blocks of 2 to 12 units (``n / 7`` blocks), a random share of
    each block treated (at least one unit in each arm), in a random row order; the
    effect gives a p-value between about 0.01 and 0.3."""
    rng = np.random.default_rng(23)
    sizes = rng.integers(2, 13, size=n // 7 + 1)
    sizes = sizes[: int(np.searchsorted(np.cumsum(sizes), n)) + 1]
    sizes[-1] -= int(sizes.sum()) - n
    sizes = sizes[sizes >= 2]
    block = np.repeat(np.arange(sizes.size), sizes)
    treated = np.array([rng.integers(1, s) for s in sizes])
    z = np.concatenate([rng.permutation(np.arange(s) < t) for s, t in zip(sizes, treated)]).astype(np.int64)
    y = 3.2 / np.sqrt(n) * z + 0.5 * rng.normal(size=sizes.size)[block] + rng.normal(size=block.size)
    row = rng.permutation(block.size)
    df = pd.DataFrame({"y": y[row], "z": z[row], "block": block[row]})
    return {"df": df, "blocks": "block", "y": y[row], "z": z[row]}


def ri_clusters(n: int) -> dict[str, Any]:
    """``n`` rows in clusters of 5 rows, blocks of 10 clusters with 5 treated
    (``n / 50`` blocks), in a random row order."""
    rng = np.random.default_rng(29)
    n_cl = n // 5
    n_blocks = n_cl // 10
    cl = np.repeat(np.arange(n_cl), 5)
    block_of = np.repeat(np.arange(n_blocks), 10)
    zc = np.concatenate([rng.permutation(np.arange(10) < 5) for _ in range(n_blocks)]).astype(np.int64)
    y = 5.0 / np.sqrt(n) * zc[cl] + 0.5 * rng.normal(size=n_cl)[cl] + rng.normal(size=cl.size)
    row = rng.permutation(cl.size)
    df = pd.DataFrame({"y": y[row], "z": zc[cl][row], "block": block_of[cl][row], "cl": cl[row]})
    return {"df": df, "blocks": "block", "clusters": "cl", "y": y[row], "z": zc[cl][row]}


def _ri_effekt(ci: bool) -> Callable[[dict[str, Any]], Any]:
    def run(d: dict[str, Any]) -> Any:
        return ef.estimate("ri", data=d["df"], outcome="y", treatment="z", blocks=d["blocks"],
                           clusters=d.get("clusters"), sims=RI_SIMS, seed=1, ci_method=None if ci else "none")

    return run


def ri_numpy_floor(d: dict[str, Any]) -> dict[str, float]:
    """The plain-numpy floor of a blocked randomisation test: the same number of
    within-block permutations drawn, and the same statistic, as directly as numpy allows.

    For batches of ``c = 20,000,000 // n`` draws (effekt's batch size, ``n``
    rows): uniform keys ``K = rng.random((c, N))`` for the ``N`` randomised
    units (rows, or clusters); ``order = argsort(block + K, axis=1)`` (block
    codes 0..L-1, so each row sorts the units by block, then at random within
    it); the unit at sorted position ``j`` is treated iff its rank in its block,
    ``j - start[block]``, is below the block's treated count: ``P`` is that 0/1
    pattern put back in unit order (``put_along_axis``). Without clusters the
    block-weighted difference in means of every draw is one matrix-vector
    product, ``T = P @ a - const`` with ``a_i = w_b (1/m_b + 1/(n_b - m_b)) y_i``
    and ``const = sum_b w_b Y_b / (n_b - m_b)`` (``w_b = n_b / n``, ``m_b``
    treated of ``n_b`` rows in block ``b``, ``Y_b`` its outcome total). With
    clusters (the treated rows per block vary) ``P`` is expanded to rows
    (``take``) and each block's treated rows and outcome total are sparse
    products, ``T = sum_b w_b (T1_b / W1_b - (Y_b - T1_b) / (n_b - W1_b))``. The
    p-value is ``(1 + #{|T| >= |t|}) / (1 + B)``. No input checks, no result
    object, no interval.
    """
    import scipy.sparse as sp

    y, z = d["y"], d["z"].astype(np.float64)
    df = d["df"]
    block = pd.factorize(df[d["blocks"]])[0]
    n = y.size
    if d.get("clusters"):
        unit = pd.factorize(df[d["clusters"]])[0]
    else:
        unit = np.arange(n)
    n_units = int(unit.max()) + 1
    unit_block = np.zeros(n_units, dtype=np.int64)
    unit_block[unit] = block
    unit_z = np.zeros(n_units)
    unit_z[unit] = z
    sizes = np.bincount(block).astype(float)
    w = sizes / n
    Yb = np.bincount(block, weights=y)
    if d.get("clusters"):
        S = sp.csr_matrix((np.ones(n), (block, np.arange(n))), shape=(sizes.size, n))

        def statistic(P: np.ndarray) -> np.ndarray:
            W1 = (S @ P.T).T
            T1 = (S @ (P * y).T).T
            return np.asarray((T1 / W1 - (Yb - T1) / (sizes - W1)) @ w)
    else:
        m = np.bincount(block, weights=z)
        a = (w * (1 / m + 1 / (sizes - m)))[block] * y
        const = float((w / (sizes - m)) @ Yb)

        def statistic(P: np.ndarray) -> np.ndarray:
            return np.asarray(P @ a - const)

    t_obs = float(statistic(z[None, :])[0])
    unit_sizes = np.bincount(unit_block)
    starts = np.concatenate(([0], np.cumsum(unit_sizes)[:-1])).astype(np.int64)
    m_units = np.bincount(unit_block, weights=unit_z)
    sorted_block = np.sort(unit_block)
    pattern = ((np.arange(n_units) - starts[sorted_block]) < m_units[sorted_block]).astype(np.float64)
    rng = np.random.default_rng(1)
    chunk = max(1, 20_000_000 // n)
    T = np.empty(RI_SIMS)
    for lo in range(0, RI_SIMS, chunk):
        c = min(chunk, RI_SIMS - lo)
        keys = rng.random((c, n_units))
        order = np.argsort(unit_block + keys, axis=1)
        P = np.empty((c, n_units))
        np.put_along_axis(P, order, np.broadcast_to(pattern, (c, n_units)), axis=1)
        T[lo : lo + c] = statistic(P if n_units == n and not d.get("clusters") else np.take(P, unit, axis=1))
    extreme = int(np.count_nonzero(np.abs(T) >= abs(t_obs) - 1e-9 * max(1.0, abs(t_obs))))
    return {"p_value": (1 + extreme) / (1 + RI_SIMS), "statistic": t_obs}


def _ri_scipy_unblocked(d: dict[str, Any]) -> Any:
    from scipy import stats

    y, z = d["y"], d["z"]
    return stats.permutation_test(
        (y[z == 1], y[z == 0]), lambda a, b, axis: a.mean(axis=axis) - b.mean(axis=axis),
        vectorized=True, n_resamples=RI_SIMS, batch=200, permutation_type="independent", random_state=1,
    )


def _ri_scipy_paired(d: dict[str, Any]) -> Any:
    """Matched pairs: scipy's ``permutation_type="samples"`` swaps the arms within
    a pair, which is the pairs' randomisation; the statistic is the mean of the
    within-pair differences, which is effekt's blocked difference in means."""
    from scipy import stats

    df = d["df"].sort_values(["pair", "z"])
    treated = df["y"].to_numpy()[1::2]
    control = df["y"].to_numpy()[0::2]
    return stats.permutation_test(
        (treated, control), lambda a, b, axis: (a - b).mean(axis=axis), vectorized=True,
        n_resamples=RI_SIMS, batch=max(1, 20_000_000 // treated.size), permutation_type="samples",
        random_state=1,
    )


def _same_monte_carlo_p(d: dict[str, Any], res: Any, ref: Any) -> None:
    """Two Monte Carlo p-values of the same test, each from 10,000 draws: within
    five standard errors of their difference (two-sided p: |T| >= |t| against
    scipy's 2 min(one-sided), equal in distribution for a symmetric null)."""
    p_ref = float(ref["p_value"] if isinstance(ref, dict) else ref.pvalue)
    assert res.extra["sims"] == RI_SIMS and not res.extra["exact"], "effekt did not sample 10,000 permutations"
    se = np.sqrt(2 * max(p_ref, 1e-3) * (1 - p_ref) / RI_SIMS)
    assert abs(res.p_value - p_ref) <= 5 * se, f"p-value {res.p_value:.4f} vs {p_ref:.4f} (5 SE = {5 * se:.4f})"
    if isinstance(ref, dict):
        assert abs(res.extra["statistic"] - ref["statistic"]) <= 1e-9 * max(1.0, abs(ref["statistic"])), \
            f"statistic {res.extra['statistic']!r} vs the floor's {ref['statistic']!r}"


def _ri_cases() -> list[Case]:
    floor_note = ("numpy floor: keys sorted within blocks by argsort(block + keys) and the difference in means "
                  "as P @ a, in effekt's batch size (see ri_numpy_floor); effekt without the interval")
    return [
        Case(
            name="estimators.ri_blocked",
            title="ri, 10,000 permutations, blocked difference in means (100 blocks), with test-inversion CI",
            setup=ri_blocked_trial, effekt=_ri_effekt(ci=True),
            peers=(Peer("scipy permutation_test, unblocked, batches of 200", _ri_scipy_unblocked),),
            sizes=(100_000,), quick_size=2_000, unit="units", repeat=1,
            notes="scipy permutes without blocks (another test): time only",
        ),
        Case(
            name="estimators.ri_pairs",
            title="ri, 10,000 permutations, matched pairs",
            setup=ri_pairs, effekt=_ri_effekt(ci=False),
            peers=(
                Peer("numpy floor (sort within blocks, P @ a)", ri_numpy_floor, check=_same_monte_carlo_p,
                     target=2.0),
                Peer("scipy permutation_test, paired (samples)", _ri_scipy_paired, check=_same_monte_carlo_p),
            ),
            sizes=(100_000,), quick_size=2_000, unit="units", repeat=1, notes=floor_note,
        ),
        Case(
            name="estimators.ri_unequal_blocks",
            title="ri, 10,000 permutations, blocks of 2-12 units, several treated",
            setup=ri_unequal_blocks, effekt=_ri_effekt(ci=False),
            peers=(Peer("numpy floor (sort within blocks, P @ a)", ri_numpy_floor, check=_same_monte_carlo_p,
                        target=2.0),),
            sizes=(100_000,), quick_size=2_000, unit="units", repeat=1, notes=floor_note,
        ),
        Case(
            name="estimators.ri_clusters",
            title="ri, 10,000 permutations, clusters of 5 rows, 10 clusters per block, 5 treated",
            setup=ri_clusters, effekt=_ri_effekt(ci=False),
            peers=(Peer("numpy floor (sort within blocks, P @ a)", ri_numpy_floor, check=_same_monte_carlo_p,
                        target=2.0),),
            sizes=(100_000,), quick_size=2_000, unit="rows", repeat=1,
            notes=floor_note + "; clusters drawn whole, the statistic by sparse per-block sums",
        ),
    ]


RI_CASES: list[Case] = _ri_cases()


def bench_ri() -> None:
    """The ri cases without the runner: check, then one timing of each tool."""
    for case in RI_CASES:
        size = case.sizes[-1]
        d = case.setup(size)
        print(f"== {case.name}: {case.title}, {size:,} {case.unit}")
        t_fx, res = timed(lambda c=case, d=d: c.effekt(d))
        print(f"  effekt: p = {res.p_value:.4f}, {t_fx:.2f} s")
        for peer in case.peers:
            t_p, ref = timed(lambda p=peer, d=d: p.run(d))
            if peer.check is not None:
                peer.check(d, res, ref)
            target = f" (target <= {peer.target})" if peer.target else ""
            print(f"  {peer.name}: {t_p:.2f} s; effekt / peer {t_fx / t_p:.2f}{target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full-statsmodels", action="store_true", help="statsmodels on all 1,000,000 rows")
    parser.add_argument("--only", choices=["fe", "cr2", "ri"], default=None)
    args = parser.parse_args()
    import pyfixest
    import scipy
    import statsmodels

    print(f"python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}, "
          f"scipy {scipy.__version__}, statsmodels {statsmodels.__version__}, pyfixest {pyfixest.__version__}, "
          f"effekt {ef.__version__}")
    if args.only in ("fe", "cr2"):
        raise SystemExit("python -m benchmarks --only estimators runs the lm_robust cases")
    if args.only in (None, "ri"):
        bench_ri()


#: the runner's cases of this module
CASES: list[Case] = [*LM_ROBUST_CASES, *RI_CASES]


if __name__ == "__main__":
    main()
