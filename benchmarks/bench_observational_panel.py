"""effekt-observational's panel and multilevel estimators against hand-written statsmodels pipelines.

1. multilevel, three levels (citizens in caseworkers in job centres): effekt's ``multilevel``
   against statsmodels' ``MixedLM`` fitted directly on the same arrays (effekt wraps it, so the
   ratio is effekt's overhead: input checks, nested codes, lme4's fixed-effect SEs, the result).
2. drdid, method='trad' on a two-period panel: effekt against a statsmodels Logit + OLS pipeline
   written by hand (point estimate only: the pipeline computes no influence function).
3. synthetic_did on California Proposition 99 with 200 placebo draws: time only (no Python peer).

The runner checks the estimates agree before it times them.

Run: ``python -m benchmarks --only observational_panel``.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.cases import Case, Peer

DATA = Path(__file__).resolve().parents[1] / "plugins" / "observational" / "tests" / "data"


def multilevel_setup(n: int) -> dict[str, Any]:
    """Citizens in caseworkers (10 per job centre, 25 citizens each); small sizes: 5 x 10 per centre."""
    n_jc, cw_per_jc, per_cw = (10, 5, max(2, n // 50)) if n < 2_500 else (n // 250, 10, 25)
    rng = np.random.default_rng(1)
    n = n_jc * cw_per_jc * per_cw
    jc = np.repeat(np.arange(n_jc), cw_per_jc * per_cw)
    cw = np.repeat(np.arange(n_jc * cw_per_jc), per_cw)
    z = rng.integers(0, 2, n)
    x = rng.normal(size=n)
    y = (1 + 0.5 * z + 0.3 * x + rng.normal(0, 1, n_jc)[jc] + rng.normal(0, 0.7, n_jc * cw_per_jc)[cw]
         + rng.normal(size=n))
    return {"data": pd.DataFrame({"y": y, "z": z, "x": x, "jc": jc, "cw": cw}), "n_jc": n_jc}


def _multilevel(d: dict[str, Any]) -> Any:
    import effekt as ef

    return ef.estimate("multilevel", data=d["data"], outcome="y", treatment="z", groups=["jc", "cw"],
                       covariates=["x"])


def _mixedlm(d: dict[str, Any]) -> Any:
    import statsmodels.api as sm
    from statsmodels.regression.mixed_linear_model import VCSpec

    data, n_jc = d["data"], d["n_jc"]
    n = len(data)
    jc, cw = data.jc.to_numpy(), data.cw.to_numpy()
    X = np.column_stack([np.ones(n), data.z.to_numpy(), data.x.to_numpy()])
    names, mats = [], []
    for t in range(n_jc):
        sub = cw[jc == t]
        labs = np.unique(sub)
        names.append([str(v) for v in labs])
        mats.append((sub[:, None] == labs[None, :]).astype(float))
    vc = VCSpec(["cw"], [names], [mats])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sm.MixedLM(data.y.to_numpy(), X, groups=jc, exog_re=np.ones((n, 1)), exog_vc=vc).fit(reml=True)


def _same_coefficient(_: Any, res: Any, fit: Any) -> None:
    ref = fit.fe_params[1]
    assert abs(res.estimate - ref) < 1e-4 * max(1.0, abs(ref)), f"treatment coefficient {res.estimate} vs {ref}"


def drdid_setup(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(n, 3))
    d = (rng.random(n) < 1 / (1 + np.exp(-(X @ [0.5, -0.3, 0.2])))).astype(int)
    y0 = X @ [1, 1, 1] + rng.normal(size=n)
    y1 = y0 + 1 + X @ [0.5, 0, 0] + 1.0 * d + rng.normal(size=n)
    return pd.DataFrame({"unit": np.repeat(np.arange(n), 2), "post": np.tile([0, 1], n), "d": np.repeat(d, 2),
                         **{f"x{k}": np.repeat(X[:, k], 2) for k in range(3)},
                         "y": np.column_stack([y0, y1]).ravel()})


def _drdid(data: pd.DataFrame) -> Any:
    import effekt as ef

    return ef.estimate("drdid", data=data, outcome="y", treatment="d", post="post", unit="unit",
                       covariates=["x0", "x1", "x2"], method="trad")


def _drdid_by_hand(data: pd.DataFrame) -> float:
    import statsmodels.api as sm

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


def _same_att(_: Any, res: Any, est: float) -> None:
    assert abs(res.estimate - est) < 1e-6, f"ATT {res.estimate!r} vs the hand pipeline's {est!r}"


def prop99(_: int) -> pd.DataFrame:
    d = pd.read_csv(DATA / "california_prop99.csv", sep=";")
    return d.assign(ca=(d.State == "California").astype(int), post=(d.Year >= 1989).astype(int))


def _sdid(sims: int) -> Any:
    def run(d: pd.DataFrame) -> Any:
        import effekt as ef

        res = ef.estimate("synthetic_did", data=d, outcome="PacksPerCapita", unit="State", period="Year",
                          treatment="ca", post="post", sims=sims, seed=1)
        # R synthdid's estimate for Proposition 99 (Arkhangelsky et al. 2021, Table 1: -15.6)
        assert abs(res.estimate + 15.6038) < 1e-3, f"estimate {res.estimate} vs synthdid's -15.6038"
        return res

    return run


CASES = [
    Case(
        name="observational_panel.multilevel",
        title="multilevel, 3 levels (citizens in caseworkers in job centres), REML",
        setup=multilevel_setup, effekt=_multilevel,
        peers=(Peer("statsmodels MixedLM (same arrays, REML)", _mixedlm, _same_coefficient, package="statsmodels"),),
        sizes=(2_500, 10_000), quick_size=500, unit="citizens",
    ),
    Case(
        name="observational_panel.drdid", title="drdid 'trad', 2-period panel, 3 covariates (with IF SE)",
        setup=drdid_setup, effekt=_drdid,
        peers=(Peer("statsmodels Logit + OLS by hand (estimate only)", _drdid_by_hand, _same_att,
                    package="statsmodels"),),
        sizes=(10_000, 100_000), quick_size=2_000, unit="units",
    ),
    Case(
        name="observational_panel.synthetic_did",
        title="synthetic_did, Proposition 99 (39 states x 31 years), placebo SE (time only)",
        setup=lambda sims: (prop99(sims), sims), effekt=lambda d: _sdid(d[1])(d[0]),
        sizes=(50, 200), quick_size=5, unit="placebo draws", repeat=1,
        notes="no Python peer",
    ),
]
