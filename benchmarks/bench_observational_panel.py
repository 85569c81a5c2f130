"""effekt-observational's panel and multilevel estimators against hand-written statsmodels pipelines.

1. multilevel, three levels (citizens in caseworkers in job centres): effekt's ``multilevel``
   against statsmodels' ``MixedLM`` fitted directly on the same arrays (effekt wraps it, so the
   ratio is effekt's overhead: input checks, nested codes, lme4's fixed-effect SEs, the result).
2. drdid, method='trad' on a two-period panel: effekt against a statsmodels Logit + OLS pipeline
   written by hand (point estimate only: the pipeline computes no influence function).
3. synthetic_did on California Proposition 99 with 200 placebo draws: time only (no Python peer).

The script asserts the estimates agree before it reports.

Run: flock /tmp/effekt-bench.lock .venv/bin/python benchmarks/bench_observational_panel.py
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import effekt as ef

warnings.simplefilter("ignore")
DATA = Path(__file__).resolve().parents[1] / "plugins" / "observational" / "tests" / "data"


def best_of(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def bench_multilevel(n_jc: int, cw_per_jc: int, per_cw: int, repeat: int, rows: list[list[str]]) -> None:
    import statsmodels.api as sm
    from statsmodels.regression.mixed_linear_model import VCSpec

    rng = np.random.default_rng(1)
    n = n_jc * cw_per_jc * per_cw
    jc = np.repeat(np.arange(n_jc), cw_per_jc * per_cw)
    cw = np.repeat(np.arange(n_jc * cw_per_jc), per_cw)
    z = rng.integers(0, 2, n)
    x = rng.normal(size=n)
    y = 1 + 0.5 * z + 0.3 * x + rng.normal(0, 1, n_jc)[jc] + rng.normal(0, 0.7, n_jc * cw_per_jc)[cw] + rng.normal(size=n)
    data = pd.DataFrame({"y": y, "z": z, "x": x, "jc": jc, "cw": cw})

    def effekt() -> Any:
        return ef.estimate("multilevel", data=data, outcome="y", treatment="z", groups=["jc", "cw"], covariates=["x"])

    def peer() -> Any:
        X = np.column_stack([np.ones(n), z, x])
        names, mats = [], []
        for t in range(n_jc):
            sub = cw[jc == t]
            labs = np.unique(sub)
            names.append([str(v) for v in labs])
            mats.append((sub[:, None] == labs[None, :]).astype(float))
        vc = VCSpec(["cw"], [names], [mats])
        return sm.MixedLM(y, X, groups=jc, exog_re=np.ones((n, 1)), exog_vc=vc).fit(reml=True)

    effekt()  # warm-up: imports
    t_e, res = best_of(effekt, repeat)
    t_p, fit = best_of(peer, repeat)
    assert abs(res.estimate - fit.fe_params[1]) < 1e-4 * max(1.0, abs(fit.fe_params[1])), (res.estimate, fit.fe_params)
    rows.append([f"multilevel, 3 levels, {n:,} citizens, {n_jc * cw_per_jc} caseworkers in {n_jc} job centres",
                 "statsmodels MixedLM (same arrays, REML)", f"{t_e:.3f}", f"{t_p:.3f}", f"{t_p / t_e:.2f}x"])


def bench_drdid(n: int, repeat: int, rows: list[list[str]]) -> None:
    import statsmodels.api as sm

    rng = np.random.default_rng(2)
    X = rng.normal(size=(n, 3))
    d = (rng.random(n) < 1 / (1 + np.exp(-(X @ [0.5, -0.3, 0.2])))).astype(int)
    y0 = X @ [1, 1, 1] + rng.normal(size=n)
    y1 = y0 + 1 + X @ [0.5, 0, 0] + 1.0 * d + rng.normal(size=n)
    data = pd.DataFrame({"unit": np.repeat(np.arange(n), 2), "post": np.tile([0, 1], n), "d": np.repeat(d, 2),
                         **{f"x{k}": np.repeat(X[:, k], 2) for k in range(3)},
                         "y": np.column_stack([y0, y1]).ravel()})

    def effekt() -> Any:
        return ef.estimate("drdid", data=data, outcome="y", treatment="d", post="post", unit="unit",
                           covariates=["x0", "x1", "x2"], method="trad")

    def peer() -> float:
        wide = data.pivot(index="unit", columns="post", values="y")
        first = data[data.post == 0].set_index("unit").sort_index()
        dy = (wide[1] - wide[0]).to_numpy()
        Xc = sm.add_constant(first[["x0", "x1", "x2"]].to_numpy())
        dd = first.d.to_numpy()
        p = sm.Logit(dd, Xc).fit(disp=0).predict(Xc)
        beta = sm.OLS(dy[dd == 0], Xc[dd == 0]).fit().params
        r = dy - Xc @ beta
        keep = np.where(dd == 1, 1.0, (p < 0.995).astype(float))
        w1 = keep * dd
        w0 = keep * (1 - dd) * p / (1 - p)
        return float(np.sum(w1 * r) / np.sum(w1) - np.sum(w0 * r) / np.sum(w0))

    effekt()
    t_e, res = best_of(effekt, repeat)
    t_p, est = best_of(peer, repeat)
    assert abs(res.estimate - est) < 1e-6, (res.estimate, est)
    rows.append([f"drdid 'trad', panel, {n:,} units x 2 periods, 3 covariates (with influence-function SE)",
                 "statsmodels Logit + OLS by hand (estimate only)", f"{t_e:.3f}", f"{t_p:.3f}", f"{t_p / t_e:.2f}x"])


def bench_sdid(rows: list[list[str]]) -> None:
    d = pd.read_csv(DATA / "california_prop99.csv", sep=";")
    d = d.assign(ca=(d.State == "California").astype(int), post=(d.Year >= 1989).astype(int))
    t0 = time.perf_counter()
    res = ef.estimate("synthetic_did", data=d, outcome="PacksPerCapita", unit="State", period="Year",
                      treatment="ca", post="post", sims=200, seed=1)
    t = time.perf_counter() - t0
    assert abs(res.estimate + 15.6038) < 1e-3
    rows.append(["synthetic_did, Proposition 99 (39 states x 31 years), placebo SE with 200 draws",
                 "(no Python peer: time only)", f"{t:.3f}", "", ""])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--small", action="store_true", help="a quick run on small data")
    a = ap.parse_args()
    rows: list[list[str]] = []
    if a.small:
        bench_multilevel(10, 5, 10, 1, rows)
        bench_drdid(2_000, 1, rows)
    else:
        bench_multilevel(40, 10, 25, a.repeat, rows)
        bench_drdid(100_000, a.repeat, rows)
        bench_sdid(rows)
    print("| benchmark | peer | effekt (s) | peer (s) | peer / effekt |")
    print("|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
