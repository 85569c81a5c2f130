"""effekt-did against pyfixest, linearmodels, diff-diff, csdid and wildboottest.

Three comparisons, each on one data set shared by effekt and its peers; the
script checks that the estimates agree before it reports times and ratios:

1. twfe, unit and period effects, CR1 clustered by unit, 2,000,000 rows
   (100,000 units x 20 periods): pyfixest feols and linearmodels PanelOLS.
2. callaway_santanna, 100,000 units x 8 periods, 4 cohorts, analytic SEs:
   diff-diff CallawaySantAnna and csdid ATTgt.
3. wild_cluster_bootstrap, 9,999 Rademacher draws, 50 clusters, 100,000 rows
   (WCR, CR1 t-statistic): wildboottest.

Times are the best of ``--repeat`` runs after one warm-up run on small data
(so pyfixest's numba compilation is not counted); the slow peers
(linearmodels, csdid, wildboottest) run once unless ``--repeat-slow`` is set.

Run: flock /tmp/effekt-bench.lock .venv/bin/python benchmarks/bench_did.py
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import numpy as np
import pandas as pd

import effekt as ef

warnings.simplefilter("ignore")


def best_of(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def twfe_data(n_units: int, n_times: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n_units, dtype=np.int64), n_times)
    time_ = np.tile(np.arange(n_times, dtype=np.int64), n_units)
    treated = (rng.random(n_units) < 0.4)[unit]
    post = time_ >= n_times // 2
    d = (treated & post).astype(np.float64)
    y = rng.normal(size=n_units)[unit] + 0.05 * time_ + 0.3 * d + rng.normal(size=unit.size)
    return pd.DataFrame({"unit": unit, "time": time_, "D": d, "y": y})


def bench_twfe(repeat: int, repeat_slow: int, rows: list[list[str]]) -> None:
    import pyfixest as pf
    from linearmodels import PanelOLS

    df = twfe_data(100_000, 20)
    small = twfe_data(200, 5)
    spec = dict(outcome="y", unit="unit", period="time", treatment="D", se_type="CR1")
    ef.estimate("twfe", data=small, **spec)
    pf.feols("y ~ D | unit + time", data=small, vcov={"CRV1": "unit"})

    t_ef, r_ef = best_of(lambda: ef.estimate("twfe", data=df, **spec), repeat)
    t_pf, m_pf = best_of(lambda: pf.feols("y ~ D | unit + time", data=df, vcov={"CRV1": "unit"}), repeat)
    assert abs(r_ef.estimate - m_pf.coef()["D"]) < 1e-8, (r_ef.estimate, m_pf.coef()["D"])
    assert abs(r_ef.std_error / m_pf.se()["D"] - 1) < 1e-6, (r_ef.std_error, m_pf.se()["D"])

    def lm() -> Any:
        p = df.set_index(["unit", "time"])
        return PanelOLS(p.y, p[["D"]], entity_effects=True, time_effects=True).fit(
            cov_type="clustered", cluster_entity=True, debiased=True, group_debias=True)

    t_lm, m_lm = best_of(lm, repeat_slow)
    r_all = ef.estimate("twfe", data=df, fe_df="all", **spec)
    assert abs(r_ef.estimate - m_lm.params["D"]) < 1e-8
    assert abs(r_all.std_error / m_lm.std_errors["D"] - 1) < 1e-6
    rows.append(["twfe CR1, 100k units x 20 periods (2e6 rows)", f"pyfixest {version('pyfixest')}",
                 f"{t_ef:.3f}", f"{t_pf:.3f}", f"{t_pf / t_ef:.1f}x"])
    rows.append(["", f"linearmodels {version('linearmodels')} PanelOLS", f"{t_ef:.3f}", f"{t_lm:.3f}",
                 f"{t_lm / t_ef:.1f}x"])


def cs_data(n_units: int, n_times: int, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n_units, dtype=np.int64), n_times)
    time_ = np.tile(np.arange(1, n_times + 1, dtype=np.int64), n_units)
    g = np.array([0, 3, 4, 5, 6])[rng.integers(0, 5, n_units)][unit]
    te = np.where((g > 0) & (time_ >= g), 1.0 + 0.1 * (time_ - g), 0.0)
    y = rng.normal(size=n_units)[unit] + 0.1 * time_ + te + rng.normal(size=unit.size)
    return pd.DataFrame({"unit": unit, "time": time_, "first_treat": g, "y": y})


def bench_cs(repeat: int, repeat_slow: int, rows: list[list[str]]) -> None:
    from csdid.att_gt import ATTgt
    from diff_diff import CallawaySantAnna

    df = cs_data(100_000, 8)
    spec = dict(outcome="y", unit="unit", period="time", first_treated="first_treat", aggregation="none")
    ef.estimate("callaway_santanna", data=cs_data(300, 8), **spec)
    t_ef, r_ef = best_of(lambda: ef.estimate("callaway_santanna", data=df, **spec), repeat)
    ours = {(r["group"], r["period"]): r["att"] for r in r_ef.extra["att_gt"]}

    def dd() -> Any:
        return CallawaySantAnna(estimation_method="reg").fit(df, outcome="y", unit="unit", time="time",
                                                             first_treat="first_treat")

    dd()  # warm-up (Rust backend initialisation)
    t_dd, m_dd = best_of(dd, repeat)
    diff_dd = max(abs(ours[(float(g), float(t))] - v["effect"]) for (g, t), v in m_dd.group_time_effects.items())
    assert diff_dd < 1e-8, diff_dd

    def cd() -> Any:
        m = ATTgt(yname="y", gname="first_treat", idname="unit", tname="time", data=df,
                  control_group="nevertreated", est_method="reg")
        m.fit(est_method="reg", bstrap=False)
        return m

    t_cd, m_cd = best_of(cd, repeat_slow)
    ref = np.asarray(m_cd.results["att"], float)
    keys = zip(np.asarray(m_cd.results["group"], float), np.asarray(m_cd.results["year"], float))
    diff_cd = max(abs(ours[k] - a) for k, a in zip(keys, ref))
    assert diff_cd < 1e-8, diff_cd
    rows.append(["callaway_santanna ATT(g,t), 100k units x 8 periods, 4 cohorts",
                 f"diff-diff {version('diff-diff')}", f"{t_ef:.3f}", f"{t_dd:.3f}", f"{t_dd / t_ef:.1f}x"])
    rows.append(["", f"csdid {version('csdid')}", f"{t_ef:.3f}", f"{t_cd:.3f}", f"{t_cd / t_ef:.1f}x"])


def bench_wild(repeat: int, repeat_slow: int, rows: list[list[str]]) -> None:
    import statsmodels.api as sm
    from wildboottest.wildboottest import wildboottest

    rng = np.random.default_rng(3)
    n, G = 100_000, 50
    cl = rng.integers(0, G, n)
    t = rng.integers(0, 10, n)
    treated = (cl < 20).astype(int)
    post = (t >= 5).astype(int)
    y = rng.normal(size=G)[cl] + 0.1 * t + 0.05 * treated * post + rng.normal(size=n)
    df = pd.DataFrame({"unit": cl, "time": t, "treated": treated, "post": post, "y": y})
    spec = dict(outcome="y", unit="unit", period="time", treatment="treated", post="post", estimator="did_2x2",
                sims=9999, seed=1)
    t_ef, r_ef = best_of(lambda: ef.estimate("wild_cluster_bootstrap", data=df, **spec), repeat)
    X = pd.DataFrame({"D": treated * post, "c": 1.0, "t": treated, "p": post}).astype(float)
    t_w, m_w = best_of(lambda: wildboottest(sm.OLS(y, X), B=9999, cluster=cl, param="D", seed=1, show=False),
                       repeat_slow)
    p_w = float(m_w["p-value"].iloc[0])
    assert abs(r_ef.extra["t"] / float(m_w["statistic"].iloc[0]) - 1) < 1e-8
    assert abs(r_ef.p_value - p_w) < 4.5 * np.sqrt(2 * max(p_w * (1 - p_w), 1e-4) / 9999), (r_ef.p_value, p_w)
    rows.append([f"wild_cluster_bootstrap WCR, did_2x2 model, 9,999 draws, 50 clusters, 1e5 rows (p "
                 f"{r_ef.p_value:.4f} vs {p_w:.4f})", f"wildboottest {version('wildboottest')}", f"{t_ef:.3f}",
                 f"{t_w:.3f}", f"{t_w / t_ef:.1f}x"])

    # the same data as a TWFE regression: unit and period effects (wildboottest: written out as dummies)
    spec_fe = dict(spec, estimator="twfe", aggregation="citizen")
    t_ef2, r_ef2 = best_of(lambda: ef.estimate("wild_cluster_bootstrap", data=df, **spec_fe), repeat)
    Xd = pd.concat([pd.DataFrame({"D": (treated * post).astype(float)}),
                    pd.get_dummies(cl, prefix="u", dtype=float),
                    pd.get_dummies(t, prefix="t", dtype=float).iloc[:, 1:]], axis=1)
    t_w2, m_w2 = best_of(lambda: wildboottest(sm.OLS(y, Xd), B=9999, cluster=cl, param="D", seed=1, show=False),
                         repeat_slow)
    p_w2 = float(m_w2["p-value"].iloc[0])
    assert abs(r_ef2.p_value - p_w2) < 4.5 * np.sqrt(2 * max(p_w2 * (1 - p_w2), 1e-4) / 9999), (r_ef2.p_value, p_w2)
    rows.append([f"wild_cluster_bootstrap WCR, twfe model (unit + period effects), same data (p "
                 f"{r_ef2.p_value:.4f} vs {p_w2:.4f})", "wildboottest, dummies written out", f"{t_ef2:.3f}",
                 f"{t_w2:.3f}", f"{t_w2 / t_ef2:.1f}x"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--repeat-slow", type=int, default=1)
    ap.add_argument("--only", choices=("twfe", "cs", "wild"), default=None)
    args = ap.parse_args()
    rows: list[list[str]] = []
    for name, fn in (("twfe", bench_twfe), ("cs", bench_cs), ("wild", bench_wild)):
        if args.only in (None, name):
            fn(args.repeat, args.repeat_slow, rows)
    head = ["benchmark", "peer", "effekt (s)", "peer (s)", "peer / effekt"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
