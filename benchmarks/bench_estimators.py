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
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

import effekt as ef
from benchmarks.cases import Case, Peer


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

CASES = [*LM_ROBUST_CASES]


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
    if args.only in ("fe", "cr2"):
        raise SystemExit("python -m benchmarks --only estimators runs the lm_robust cases")
    if args.only in (None, "ri"):
        bench_ri()


if __name__ == "__main__":
    main()
