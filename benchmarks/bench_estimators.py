"""Benchmarks of effekt's design-based estimators against their peers.

1. lm_robust, HC2, 1,000 absorbed block effects, 1,000,000 rows, against
   pyfixest's feols (HC1, same fixed effects) on the same data, and against
   statsmodels OLS with 1,000 block dummy columns. statsmodels' dummy matrix
   at 1,000,000 rows is 8 GB (and its HC2 needs two more of that size), so by
   default it runs on a 100,000-row draw of the same design, effekt beside it
   on those rows; its cost is linear in the rows, so the 1,000,000-row figure
   is that time x10 (``--full-statsmodels`` runs it for real, 30+ GB).
2. lm_robust, CR2 with Bell-McCaffrey df, 500 clusters, 200,000 rows: time
   and peak memory (an n x n matrix would be 320 GB).
3. ri, 10,000 permutations of a blocked difference in means on 100,000
   units, against scipy.stats.permutation_test (unblocked, vectorised,
   10,000 resamples in batches of 200: all at once needs 8 GB per copy and
   was killed for memory on 24 GB) on the same data.

Run: flock /tmp/effekt-bench.lock .venv/bin/python benchmarks/bench_estimators.py
"""

from __future__ import annotations

import argparse
import platform
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

import effekt as ef
from effekt.estimators.lm_robust import lm_robust


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


def bench_fixed_effects(full_statsmodels: bool) -> None:
    import pyfixest as pf
    import statsmodels.api as sm

    print("== 1. lm_robust HC2, 1,000 absorbed block effects")
    df = blocked_trial(1_000_000, 1_000, seed=1)
    pf.feols("y ~ z + x | block", data=df.iloc[:20_000], vcov="hetero")  # numba compilation, not timed
    t_fx, res = timed(lambda: ef.estimate("lm_robust", data=df, outcome="y", treatment="z", covariates=["x"],
                                          blocks="block", se_type="HC2"), repeat=3)
    t_fx1, res1 = timed(lambda: ef.estimate("lm_robust", data=df, outcome="y", treatment="z", covariates=["x"],
                                            blocks="block", se_type="HC1"), repeat=3)
    t_pf, fit_pf = timed(lambda: pf.feols("y ~ z + x | block", data=df, vcov="hetero"), repeat=3)
    coef_pf = float(fit_pf.coef()["z"])
    se_pf = float(fit_pf.se()["z"])
    assert abs(res.estimate - coef_pf) < 1e-8 * max(1.0, abs(coef_pf)), (res.estimate, coef_pf)
    print(f"  rows 1,000,000; z = {res.estimate:.10f} (pyfixest {coef_pf:.10f})")
    print(f"  effekt HC2 {t_fx:.3f} s   effekt HC1 {t_fx1:.3f} s   pyfixest HC1 {t_pf:.3f} s")
    print(f"  SE: effekt HC2 {res.std_error:.6g}, HC1 {res1.std_error:.6g}; pyfixest HC1 {se_pf:.6g} "
          f"(HC1 ratio {res1.std_error / se_pf:.10f})")
    print(f"  effekt HC2 / pyfixest HC1 time ratio: {t_fx / t_pf:.2f} (target <= 1.5)")

    n_sm = 1_000_000 if full_statsmodels else 100_000
    small = df if full_statsmodels else blocked_trial(n_sm, 1_000, seed=2)
    dummies = pd.get_dummies(small["block"], prefix="b", drop_first=True, dtype=float)
    X = sm.add_constant(pd.concat([small[["z", "x"]].astype(float), dummies], axis=1))

    def statsmodels_fit() -> Any:
        return sm.OLS(small["y"], X).fit(cov_type="HC2")

    t_sm, fit_sm = timed(statsmodels_fit)
    t_fx_small, res_small = timed(lambda: ef.estimate("lm_robust", data=small, outcome="y", treatment="z",
                                                      covariates=["x"], blocks="block", se_type="HC2"), repeat=3)
    assert abs(res_small.estimate - fit_sm.params["z"]) < 1e-8
    assert abs(res_small.std_error / fit_sm.bse["z"] - 1) < 1e-8
    print(f"  statsmodels OLS + {dummies.shape[1]} dummies, HC2, {n_sm:,} rows: {t_sm:.2f} s; effekt on the "
          f"same rows {t_fx_small:.4f} s; ratio {t_sm / t_fx_small:.0f}x; SEs agree to 1e-8")
    if not full_statsmodels:
        print(f"  statsmodels at 1,000,000 rows (x10, linear in rows): ~{10 * t_sm:.0f} s; "
              f"effekt {t_fx:.3f} s; ratio ~{10 * t_sm / t_fx:.0f}x (target >= 20x)")


def bench_cr2() -> None:
    print("== 2. lm_robust CR2 (Bell-McCaffrey df), 500 clusters, 200,000 rows")
    rng = np.random.default_rng(3)
    n, G = 200_000, 500
    cl = np.repeat(np.arange(G), n // G)
    zc = rng.permutation(np.arange(G) % 2)
    df = pd.DataFrame({"cl": cl, "z": zc[cl], "x": rng.normal(size=n)})
    df["y"] = 0.2 * df.z + 0.5 * df.x + rng.normal(size=G)[cl] + rng.normal(size=n)
    tracemalloc.start()
    t, res = timed(lambda: ef.estimate("lm_robust", data=df, outcome="y", treatment="z", covariates=["x"],
                                       clusters="cl"))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    t2, _ = timed(lambda: lm_robust(df, outcome="y", treatment="z", covariates=["x"], clusters="cl"))
    print(f"  {res.se_type}: estimate {res.estimate:.6f}, SE {res.std_error:.6f}, df {res.df:.2f}")
    print(f"  time {t:.3f} s (all three coefficients' df: {t2:.3f} s); peak traced memory "
          f"{peak / 2**20:.0f} MiB (an n x n matrix would be {n * n * 8 / 2**30:.0f} GiB)")


def bench_ri() -> None:
    from scipy import stats

    print("== 3. ri: 10,000 permutations, blocked difference in means, 100,000 units")
    df = blocked_trial(100_000, 100, seed=4)
    y, z = df["y"].to_numpy(), df["z"].to_numpy()
    t_fx, res = timed(lambda: ef.estimate("ri", data=df, outcome="y", treatment="z", blocks="block",
                                          sims=10_000, seed=1))
    t_nc, res_nc = timed(lambda: ef.estimate("ri", data=df, outcome="y", treatment="z", blocks="block",
                                             sims=10_000, seed=1, ci_method="none"))

    def scipy_test() -> Any:
        return stats.permutation_test(
            (y[z == 1], y[z == 0]), lambda a, b, axis: a.mean(axis=axis) - b.mean(axis=axis),
            vectorized=True, n_resamples=10_000, batch=200, permutation_type="independent", random_state=1,
        )

    t_sp, ref = timed(scipy_test)
    print(f"  effekt (blocked): p = {res.p_value:.4f}, CI [{res.conf_int[0]:.4f}, {res.conf_int[1]:.4f}] "
          f"by test inversion; {t_fx:.2f} s ({t_nc:.2f} s without the interval)")
    print(f"  scipy permutation_test (unblocked): p = {ref.pvalue:.4f}; {t_sp:.2f} s")
    print(f"  ratio scipy / effekt: {t_sp / t_fx:.1f}x with the interval, {t_sp / t_nc:.1f}x without")
    assert res.extra["sims"] == 10_000 and res_nc.p_value == res.p_value


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
    if args.only in (None, "fe"):
        bench_fixed_effects(args.full_statsmodels)
    if args.only in (None, "cr2"):
        bench_cr2()
    if args.only in (None, "ri"):
        bench_ri()


if __name__ == "__main__":
    main()
