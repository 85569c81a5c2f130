"""effekt ``mediation`` vs statsmodels ``Mediation``: quasi-Bayesian draws on a large sample.

Same data, same models (logit mediator, linear outcome, one covariate), the
same number of simulations (1,000). statsmodels is used without formulas
(its fastest path: the formula path rebuilds the design matrices in every
replication). The ACME (control) estimates must agree within 4 of
statsmodels' Monte Carlo errors. statsmodels is timed by its one checked
call per size (it takes minutes at 100,000 units).

Run: ``python -m benchmarks --only mediation``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from benchmarks.cases import Case, Peer

SIMS = 1000


def make_data(n: int, seed: int = 2026) -> Any:
    import pandas as pd
    from scipy import special

    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    z = (rng.random(n) < 0.5).astype(int)
    m = (rng.random(n) < special.expit(-0.4 + 0.7 * z + 0.5 * x)).astype(float)
    y = 0.2 + 0.3 * z + 0.8 * m + 0.4 * x + rng.standard_normal(n)
    return pd.DataFrame({"y": y, "z": z, "m": m, "x": x})


def run_effekt(df: Any, sims: int = SIMS) -> float:
    import effekt as ef

    tab = ef.estimate("mediation", data=df, outcome="y", treatment="z", mediator="m",
                      covariates=["x"], mediator_model="logit", outcome_model="linear",
                      method="quasi-bayesian", se_type="classical", sims=sims, seed=1)
    return float(tab["acme_control"].estimate)


def run_statsmodels(df: Any, sims: int = SIMS) -> tuple[float, float]:
    """ACME (control) and its Monte Carlo error."""
    import statsmodels.api as sm
    from statsmodels.stats.mediation import Mediation

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Wm = sm.add_constant(df[["z", "x"]]).to_numpy()
        Xy = sm.add_constant(df[["z", "m", "x"]]).to_numpy()
        m_mod = sm.GLM(df.m.to_numpy(), Wm, family=sm.families.Binomial())
        y_mod = sm.OLS(df.y.to_numpy(), Xy)
        res = Mediation(y_mod, m_mod, (1, 1), 2).fit(method="parametric", n_rep=sims, rng=1)
    acme = np.asarray(res.ACME_ctrl)
    return float(acme.mean()), float(acme.std(ddof=1) / np.sqrt(sims))


def _check(df: Any, ours: float, theirs: tuple[float, float]) -> None:
    est, mc = theirs
    assert abs(ours - est) < 4 * mc, f"ACME(control) {ours:.6f} vs statsmodels {est:.6f} (MC error {mc:.1e})"


CASES = [
    Case(
        name="mediation.quasi_bayesian",
        title="mediation, logit mediator, linear outcome, 1,000 quasi-Bayesian draws",
        setup=make_data, effekt=run_effekt,
        peers=(Peer("statsmodels Mediation (array API)", run_statsmodels, _check, package="statsmodels",
                    repeat=0),),
        sizes=(10_000, 100_000), quick_size=2_000, unit="units",
    ),
]
