"""Per-call cost of effekt's table estimators against scipy on the same data.

effekt takes individual-level data and checks it (columns, missing values,
arms, outcome coding) before it tabulates; scipy takes a ready table. Both
sides are timed from the same individual-level DataFrame, so scipy's time
includes a pandas crosstab. Estimates are checked to agree before timing.

Run: .venv/bin/python benchmarks/bench_tables.py
"""

from __future__ import annotations

import platform
import time

import numpy as np
import pandas as pd
import scipy
from scipy import stats

import effekt as ef


def best_of(fn, repeat: int = 7, number: int = 20) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return min(times)


def bench_n(n: int, rng: np.random.Generator) -> list[tuple[str, int, float, float, float, float]]:
    rows = []
    z = rng.integers(0, 2, n)
    y = (rng.random(n) < np.where(z == 1, 0.03, 0.13)).astype(int)
    df = pd.DataFrame({"y": y, "z": z})

    def table() -> np.ndarray:
        return pd.crosstab(df["z"], df["y"]).to_numpy()[::-1, ::-1]

    ready = table()
    cases = {
        "chi2": (
            lambda: ef.estimate("chi2", data=df, outcome="y", treatment="z"),
            lambda: stats.chi2_contingency(table(), correction=False),
            lambda: stats.chi2_contingency(ready, correction=False),
            lambda r, s: abs(r.p_value - s.pvalue) <= 1e-12 * max(s.pvalue, 1e-300),
        ),
        "fisher": (
            lambda: ef.estimate("fisher", data=df, outcome="y", treatment="z"),
            lambda: stats.fisher_exact(table()),
            lambda: stats.fisher_exact(ready),
            lambda r, s: abs(r.p_value - s.pvalue) <= 1e-10 * max(s.pvalue, 1e-300),
        ),
    }
    for name, (ours, theirs, theirs_ready, agree) in cases.items():
        assert agree(ours(), theirs()), f"{name}: effekt and scipy disagree at n={n}"
        number = 20 if n < 1_000_000 else 3
        t_ours = best_of(ours, number=number)
        t_theirs = best_of(theirs, number=number)
        t_ready = best_of(theirs_ready, number=number)
        rows.append((name, n, t_ours * 1e3, t_theirs * 1e3, t_ours / t_theirs, t_ready * 1e3))

    return rows


def main() -> None:
    rng = np.random.default_rng(2026)
    rows: list[tuple[str, int, float, float, float, float]] = []
    for n in (218, 10_000, 1_000_000):
        rows += bench_n(n, rng)

    # r x c Fisher: effekt's exact network algorithm vs scipy's default (Monte Carlo, 9999 tables)
    t84 = np.array([[7, 18, 84], [5, 10, 94]])  # seed 004 Table 8.4
    d84 = ef.from_counts(t84.T)
    exact = ef.estimate("fisher", data=d84, outcome="y", treatment="z")
    t_ours = best_of(lambda: ef.estimate("fisher", data=d84, outcome="y", treatment="z"), number=5)
    t_mc = best_of(lambda: stats.fisher_exact(t84), number=5)
    mc_p = stats.fisher_exact(t84, method=stats.MonteCarloMethod(rng=np.random.default_rng(1))).pvalue
    assert abs(mc_p - exact.p_value) < 0.02
    rows.append(("fisher 3x2 exact vs MC", 218, t_ours * 1e3, t_mc * 1e3, t_ours / t_mc, float("nan")))

    print(f"python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}, "
          f"scipy {scipy.__version__}, effekt {ef.__version__}")
    print("effekt: individual data in, checked, tabulated, tested, EffectResult out.")
    print("scipy: pandas crosstab of the same data + the test; 'scipy table' = the test alone on a ready table.")
    print(f"{'case':<24}{'n':>10}{'effekt ms':>12}{'scipy ms':>12}{'ratio':>8}{'scipy table ms':>16}")
    for name, n, a, b, r, c in rows:
        print(f"{name:<24}{n:>10}{a:>12.3f}{b:>12.3f}{r:>8.2f}{c:>16.3f}")


if __name__ == "__main__":
    main()
