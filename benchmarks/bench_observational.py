"""effekt-observational against bare scikit-learn: propensity matching and cross-fitted AIPW.

1. Nearest-neighbour matching of 100,000 treated to 1,000,000 controls on the
   same logit propensity scores: effekt's matching step (``match_units``,
   with replacement, without R's tied matches: on a million controls thousands fall
   within R Matching's tie tolerance of each treated unit) against a bare scikit-learn ``NearestNeighbors``
   query (``n_neighbors=1``), time and peak memory (tracemalloc), the matches
   checked equal; and the whole estimator (``ef.estimate("matching",
   distance="propensity", tied_matches=False)``: logistic fit, matching, Abadie-Imbens SE and the
   balance tables) timed once.
2. AIPW with 5-fold cross-fitting on 1,000,000 rows, logistic propensity and
   linear outcome models: ``ef.estimate("aipw")`` against the same pipeline
   written by hand with scikit-learn (KFold, LogisticRegression,
   LinearRegression), estimates checked equal to 1e-8 on the same folds.
   (EconML is not installed here, so its LinearDRLearner is not timed.)

Run: flock /tmp/effekt-bench.lock .venv/bin/python benchmarks/bench_observational.py
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
import warnings
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import numpy as np
import pandas as pd

import effekt as ef

warnings.simplefilter("ignore")


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """Best time of ``repeat`` runs and the peak traced memory (MB) of the first."""
    tracemalloc.start()
    t0 = time.perf_counter()
    out = fn()
    best = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    for _ in range(repeat - 1):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, peak, out


def data(n_treated: int, n_control: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = n_treated + n_control
    z = np.zeros(n, dtype=np.int64)
    z[:n_treated] = 1
    X = rng.normal(size=(n, 4)) + 0.3 * z[:, None]
    y = X @ np.array([1.0, 0.5, -0.5, 0.2]) + z + rng.normal(size=n)
    return pd.DataFrame({"y": y, "z": z, **{f"x{k}": X[:, k] for k in range(4)}})


def bench_matching(repeat: int, rows: list[list[str]]) -> None:
    from sklearn.neighbors import NearestNeighbors

    from effekt_observational._propensity import fit_propensity, logit
    from effekt_observational.matching import match_units

    df = data(100_000, 1_000_000)
    cov = ["x0", "x1", "x2", "x3"]
    X, z = df[cov].to_numpy(), df.z.to_numpy()
    s = logit(fit_propensity(X, z, cov).scores)[:, None]
    t_idx, c_idx = np.flatnonzero(z == 1), np.flatnonzero(z == 0)

    t_ef, m_ef, (i, j, _) = timed(lambda: match_units(s, z, "att", 1, ties=False), repeat)

    def bare() -> Any:
        nn = NearestNeighbors(n_neighbors=1).fit(s[c_idx])
        return nn.kneighbors(s[t_idx], return_distance=False)

    t_sk, m_sk, nb = timed(bare, repeat)
    order = np.argsort(i)
    ours, theirs = j[order], c_idx[nb[:, 0]]
    agree = float(np.mean(ours == theirs))
    # where the two differ, the two controls are equally near
    assert np.allclose(np.abs(s[ours, 0] - s[t_idx, 0]), np.abs(s[theirs, 0] - s[t_idx, 0]), atol=1e-12)
    rows.append(["matching step, 1e5 treated x 1e6 controls, 1:1", "sklearn NearestNeighbors",
                 f"{t_ef:.2f}", f"{t_sk:.2f}", f"{t_sk / t_ef:.2f}x", f"{m_ef:.0f} / {m_sk:.0f}"])
    t0 = time.perf_counter()
    res = ef.estimate("matching", data=df, outcome="y", treatment="z", covariates=cov, distance="propensity",
                      tied_matches=False)
    t_full = time.perf_counter() - t0
    rows.append(["whole estimator (logistic fit, matching, AI SE, balance)", "(time only)",
                 f"{t_full:.2f}", "", "", ""])
    print(f"matching: same nearest control for {agree:.4%} of treated; ATT {res.estimate:.4f} (truth 1)")


def bench_aipw(repeat: int, rows: list[list[str]]) -> None:
    from sklearn.linear_model import LinearRegression, LogisticRegression

    from effekt_observational._propensity import cross_folds

    n = 1_000_000
    df = data(n // 3, n - n // 3, seed=2)
    cov = ["x0", "x1", "x2", "x3"]
    X, z, y = df[cov].to_numpy(), df.z.to_numpy(), df.y.to_numpy()
    t_ef, m_ef, res = timed(lambda: ef.estimate("aipw", data=df, outcome="y", treatment="z", covariates=cov,
                                                seed=7), repeat)
    folds = cross_folds(X, z, 5, 7)

    def by_hand() -> float:
        Xs = (X - X.mean(axis=0)) / X.std(axis=0)
        e, m1, m0 = np.empty(n), np.empty(n), np.empty(n)
        for k in range(5):
            te, tr = folds == k, folds != k
            lr = LogisticRegression(penalty=None, solver="newton-cholesky", max_iter=200, tol=1e-10)
            e[te] = lr.fit(Xs[tr], z[tr]).predict_proba(Xs[te])[:, 1]
            m1[te] = LinearRegression().fit(Xs[tr & (z == 1)], y[tr & (z == 1)]).predict(Xs[te])
            m0[te] = LinearRegression().fit(Xs[tr & (z == 0)], y[tr & (z == 0)]).predict(Xs[te])
        return float(np.mean(m1 - m0 + z * (y - m1) / e - (1 - z) * (y - m0) / (1 - e)))

    t_sk, m_sk, tau = timed(by_hand, repeat)
    assert abs(res.estimate - tau) < 1e-8, (res.estimate, tau)
    rows.append(["aipw, 5-fold cross-fitting, 1e6 rows", "hand-written scikit-learn pipeline",
                 f"{t_ef:.2f}", f"{t_sk:.2f}", f"{t_sk / t_ef:.2f}x", f"{m_ef:.0f} / {m_sk:.0f}"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--only", choices=("matching", "aipw"), default=None)
    args = ap.parse_args()
    rows: list[list[str]] = []
    if args.only in (None, "matching"):
        bench_matching(args.repeat, rows)
    if args.only in (None, "aipw"):
        bench_aipw(args.repeat, rows)
    print(f"scikit-learn {version('scikit-learn')}, scipy {version('scipy')}, numpy {version('numpy')}")
    print("| comparison | peer | effekt (s) | peer (s) | peer / effekt | peak MB effekt / peer |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
