"""effekt `mediation` vs statsmodels `Mediation`: quasi-Bayesian draws on a large sample.

Same data, same models (logit mediator, linear outcome, one covariate), the
same number of simulations, one run. statsmodels is used without formulas
(its fastest path: the formula path rebuilds the design matrices in every
replication). The estimates must agree within statsmodels' Monte Carlo error.

Run: flock /tmp/effekt-bench.lock .venv/bin/python benchmarks/bench_mediation.py [n] [sims]
"""

from __future__ import annotations

import platform
import sys
import time
import warnings

import numpy as np
import pandas as pd
import statsmodels
import statsmodels.api as sm
from scipy import special
from statsmodels.stats.mediation import Mediation as SMMediation

import effekt as ef


def make_data(n: int, seed: int = 2026) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    z = (rng.random(n) < 0.5).astype(int)
    m = (rng.random(n) < special.expit(-0.4 + 0.7 * z + 0.5 * x)).astype(float)
    y = 0.2 + 0.3 * z + 0.8 * m + 0.4 * x + rng.standard_normal(n)
    return pd.DataFrame({"y": y, "z": z, "m": m, "x": x})


def run_effekt(df: pd.DataFrame, sims: int) -> tuple[float, float]:
    t0 = time.perf_counter()
    tab = ef.estimate("mediation", data=df, outcome="y", treatment="z", mediator="m",
                      covariates=["x"], mediator_model="logit", outcome_model="linear",
                      method="quasi-bayesian", se_type="classical", sims=sims, seed=1)
    return time.perf_counter() - t0, tab["acme_control"].estimate


def run_statsmodels(df: pd.DataFrame, sims: int) -> tuple[float, float, float]:
    t0 = time.perf_counter()
    Wm = sm.add_constant(df[["z", "x"]]).to_numpy()
    Xy = sm.add_constant(df[["z", "m", "x"]]).to_numpy()
    m_mod = sm.GLM(df.m.to_numpy(), Wm, family=sm.families.Binomial())
    y_mod = sm.OLS(df.y.to_numpy(), Xy)
    res = SMMediation(y_mod, m_mod, (1, 1), 2).fit(method="parametric", n_rep=sims, rng=1)
    elapsed = time.perf_counter() - t0
    acme = np.asarray(res.ACME_ctrl)
    return elapsed, float(acme.mean()), float(acme.std(ddof=1) / np.sqrt(sims))


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    sims = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    warnings.simplefilter("ignore")
    df = make_data(n)
    run_effekt(df.iloc[:1000], 20)  # warm-up: imports, entry points
    t_ef, est_ef = run_effekt(df, sims)
    t_sm, est_sm, mc_sm = run_statsmodels(df, sims)
    agree = abs(est_ef - est_sm) < 4 * mc_sm
    print(f"machine: {platform.machine()}, {platform.python_version()}, numpy {np.__version__}, "
          f"statsmodels {statsmodels.__version__}, effekt {ef.__version__}")
    print(f"n = {n:,}, sims = {sims:,}; logit mediator, linear outcome")
    print(f"effekt mediation      {t_ef:8.2f} s   ACME(control) = {est_ef:.6f}")
    print(f"statsmodels Mediation {t_sm:8.2f} s   ACME(control) = {est_sm:.6f} (MC error {mc_sm:.1e})")
    print(f"speed-up: {t_sm / t_ef:.1f}x; estimates agree within 4 MC errors: {agree}")
    if not agree:
        raise SystemExit("estimates disagree")


if __name__ == "__main__":
    main()
