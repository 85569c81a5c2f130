"""difference_in_means against its peers, same data, one run.

* simple design, 1,000,000 units: scipy's Welch t-test and statsmodels OLS
  with HC2 (the same estimate, SE and p-value);
* blocked design, 100,000 units in 100 blocks: statsmodels OLS with Lin's
  centred block-by-treatment interactions and HC2 (the same estimate and SE);
* clustered design (CR2, Bell-McCaffrey df), 200,000 units in 500 clusters:
  time only, no peer has CR2 with these degrees of freedom.

Run: .venv/bin/python benchmarks/bench_core.py
"""

from __future__ import annotations

import platform
import time

import numpy as np
import pandas as pd
import scipy
import statsmodels
import statsmodels.api as sm
from scipy import stats

import effekt as ef


def timed(fn, repeat=3):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    rng = np.random.default_rng(2024)
    rows = []

    n = 1_000_000
    df = pd.DataFrame({"z": rng.integers(0, 2, n)})
    df["y"] = 1.0 + 0.2 * df.z + rng.normal(size=n) * (1 + df.z)
    t_ef, res = timed(lambda: ef.estimate("difference_in_means", data=df, outcome="y", treatment="z"))
    t_sp, ref = timed(lambda: stats.ttest_ind(df.y[df.z == 1], df.y[df.z == 0], equal_var=False))
    X = sm.add_constant(df.z.to_numpy(dtype=float))
    t_sm, ols = timed(lambda: sm.OLS(df.y.to_numpy(), X).fit(cov_type="HC2"), repeat=1)
    assert abs(res.p_value - ref.pvalue) < 1e-10 and abs(res.std_error - ols.bse[1]) < 1e-10
    rows += [("simple, 1e6 units", "scipy ttest_ind (Welch)", t_ef, t_sp),
             ("simple, 1e6 units", "statsmodels OLS HC2", t_ef, t_sm)]

    n, B = 100_000, 100
    b = rng.integers(0, B, n)
    z = np.zeros(n, dtype=int)
    z[rng.permutation(n)[: n // 2]] = 1
    df = pd.DataFrame({"y": rng.normal(size=n) + 0.3 * z + 0.01 * b, "z": z, "b": b})
    t_ef, res = timed(lambda: ef.estimate("difference_in_means", data=df, outcome="y", treatment="z", blocks="b"))
    dummies = pd.get_dummies(df.b, drop_first=True).to_numpy(dtype=float)
    centred = dummies - dummies.mean(axis=0)
    X = np.column_stack([np.ones(n), z, centred, centred * z[:, None]])
    t_sm, ols = timed(lambda: sm.OLS(df.y.to_numpy(), X).fit(cov_type="HC2"), repeat=1)
    assert abs(res.estimate - ols.params[1]) < 1e-9 and abs(res.std_error - ols.bse[1]) < 1e-9
    rows.append(("blocked, 1e5 units, 100 blocks", "statsmodels OLS + Lin interactions, HC2", t_ef, t_sm))

    n, G = 200_000, 500
    cl = rng.integers(0, G, n)
    zc = rng.permutation(np.repeat([0, 1], G // 2))
    df = pd.DataFrame({"y": rng.normal(size=n) + rng.normal(size=G)[cl] + 0.2 * zc[cl], "z": zc[cl], "c": cl})
    t_ef, res = timed(lambda: ef.estimate("difference_in_means", data=df, outcome="y", treatment="z", clusters="c"))
    rows.append(("clustered CR2, 2e5 units, 500 clusters", "(no peer: time only)", t_ef, float("nan")))

    print(f"# {platform.machine()}, {platform.python_version()}, numpy {np.__version__}, "
          f"scipy {scipy.__version__}, statsmodels {statsmodels.__version__}, effekt {ef.__version__}\n")
    print("| design | peer | effekt (s) | peer (s) | peer / effekt |")
    print("|---|---|---|---|---|")
    for design, peer, a, p in rows:
        ratio = "" if np.isnan(p) else f"{p / a:.1f}x"
        peer_t = "" if np.isnan(p) else f"{p:.3f}"
        print(f"| {design} | {peer} | {a:.3f} | {peer_t} | {ratio} |")


if __name__ == "__main__":
    main()
