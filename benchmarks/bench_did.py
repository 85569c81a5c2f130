"""effekt-did against pyfixest, linearmodels, diff-diff, csdid and wildboottest.

Each case shares one data set between effekt and its peers; the runner
checks that the estimates agree before it times them:

1. twfe, unit and period effects, CR1 clustered by unit (100,000 units x 20
   periods at full size): pyfixest feols (estimate 1e-8, SE 1e-6 relative)
   and linearmodels PanelOLS (with ``fe_df="all"``: SE 1e-6).
2. callaway_santanna, units x 8 periods, 4 cohorts, analytic SEs: diff-diff
   CallawaySantAnna and csdid ATTgt (every ATT(g, t) to 1e-8).
3. wild_cluster_bootstrap, 9,999 Rademacher draws, 50 clusters (WCR, CR1
   t-statistic): wildboottest, for the did_2x2 model (t-statistic 1e-8) and
   the twfe model with the dummies written out (p-values within Monte Carlo
   error).
4. callaway_santanna on the panel of 2. with 10 % of its rows dropped
   (allow_unbalanced_panel=True, no unit dropped): diff-diff (ATT 1e-8, SE 1e-6
   after diff-diff's factor sqrt(n / (n - 1))).
5. sun_abraham, 5,000 units x 10 periods, 4 cohorts, CR1 by unit: pyfixest's
   saturated event study with its period aggregation (1e-6); imputation on the
   same data: pyfixest did2s (the same point estimate to 1e-4, a different
   variance).

The first call of every tool (the check) is the warm-up, so pyfixest's numba
compilation and diff-diff's backend start are not timed; the slow peers
(linearmodels, csdid, wildboottest) are timed once.

Run: ``python -m benchmarks --only did``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.cases import Case, Peer


def twfe_data(n_units: int, n_times: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n_units, dtype=np.int64), n_times)
    time_ = np.tile(np.arange(n_times, dtype=np.int64), n_units)
    treated = (rng.random(n_units) < 0.4)[unit]
    post = time_ >= n_times // 2
    d = (treated & post).astype(np.float64)
    y = rng.normal(size=n_units)[unit] + 0.05 * time_ + 0.3 * d + rng.normal(size=unit.size)
    return pd.DataFrame({"unit": unit, "time": time_, "D": d, "y": y})


def cs_data(n_units: int, n_times: int, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n_units, dtype=np.int64), n_times)
    time_ = np.tile(np.arange(1, n_times + 1, dtype=np.int64), n_units)
    g = np.array([0, 3, 4, 5, 6])[rng.integers(0, 5, n_units)][unit]
    te = np.where((g > 0) & (time_ >= g), 1.0 + 0.1 * (time_ - g), 0.0)
    y = rng.normal(size=n_units)[unit] + 0.1 * time_ + te + rng.normal(size=unit.size)
    return pd.DataFrame({"unit": unit, "time": time_, "first_treat": g, "y": y})


def stagg_data(n_units: int, n_times: int, seed: int = 4) -> pd.DataFrame:
    from effekt_did.sun_abraham import simulate_dynamic

    d = simulate_dynamic(np.random.default_rng(seed), n_units=n_units, n_times=n_times, cohorts=(3, 5, 7, 9),
                         growth_spread=0.3)
    return d.drop(columns="te")


def _quiet(fn: Any) -> Any:
    def run(*args: Any) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*args)

    return run


def _ef(name: str, **spec: Any) -> Any:
    def run(df: pd.DataFrame) -> Any:
        import effekt as ef

        return ef.estimate(name, data=df, **spec)

    return _quiet(run)


# -- 1. twfe ---------------------------------------------------------------------------------------

TWFE = dict(outcome="y", unit="unit", period="time", treatment="D", se_type="CR1")


def _twfe_setup(rows: int) -> pd.DataFrame:
    return twfe_data(rows // 20, 20)


@_quiet
def _feols_twfe(df: pd.DataFrame) -> Any:
    import pyfixest as pf

    return pf.feols("y ~ D | unit + time", data=df, vcov={"CRV1": "unit"})


def _check_feols_twfe(_: Any, r: Any, m: Any) -> None:
    assert abs(r.estimate - m.coef()["D"]) < 1e-8, f"estimate {r.estimate!r} vs pyfixest {m.coef()['D']!r}"
    assert abs(r.std_error / m.se()["D"] - 1) < 1e-6, f"CR1 SE {r.std_error!r} vs pyfixest {m.se()['D']!r}"


@_quiet
def _panelols(df: pd.DataFrame) -> Any:
    from linearmodels import PanelOLS

    p = df.set_index(["unit", "time"])
    return PanelOLS(p.y, p[["D"]], entity_effects=True, time_effects=True).fit(
        cov_type="clustered", cluster_entity=True, debiased=True, group_debias=True)


def _check_panelols(df: pd.DataFrame, r: Any, m: Any) -> None:
    assert abs(r.estimate - m.params["D"]) < 1e-8, f"estimate {r.estimate!r} vs linearmodels {m.params['D']!r}"
    r_all = _ef("twfe", fe_df="all", **TWFE)(df)
    assert abs(r_all.std_error / m.std_errors["D"] - 1) < 1e-6, \
        f"SE with fe_df='all' {r_all.std_error!r} vs linearmodels {m.std_errors['D']!r}"


# -- 2. callaway_santanna ------------------------------------------------------------------------

CS = dict(outcome="y", unit="unit", period="time", first_treated="first_treat", aggregation="none")


def _cs_setup(rows: int) -> pd.DataFrame:
    return cs_data(rows // 8, 8)


@_quiet
def _diffdiff(df: pd.DataFrame) -> Any:
    from diff_diff import CallawaySantAnna

    return CallawaySantAnna(estimation_method="reg").fit(df, outcome="y", unit="unit", time="time",
                                                         first_treat="first_treat")


def _check_diffdiff(_: Any, r: Any, m: Any) -> None:
    ours = {(a["group"], a["period"]): a["att"] for a in r.extra["att_gt"]}
    diff = max(abs(ours[(float(g), float(t))] - v["effect"]) for (g, t), v in m.group_time_effects.items())
    assert diff < 1e-8, f"ATT(g, t) differ from diff-diff's by up to {diff:.2e}"


@_quiet
def _csdid(df: pd.DataFrame) -> Any:
    from csdid.att_gt import ATTgt

    m = ATTgt(yname="y", gname="first_treat", idname="unit", tname="time", data=df,
              control_group="nevertreated", est_method="reg")
    m.fit(est_method="reg", bstrap=False)
    return m


def _check_csdid(_: Any, r: Any, m: Any) -> None:
    ours = {(a["group"], a["period"]): a["att"] for a in r.extra["att_gt"]}
    ref = np.asarray(m.results["att"], float)
    keys = zip(np.asarray(m.results["group"], float), np.asarray(m.results["year"], float))
    diff = max(abs(ours[k] - a) for k, a in zip(keys, ref))
    assert diff < 1e-8, f"ATT(g, t) differ from csdid's by up to {diff:.2e}"


# -- 3. wild_cluster_bootstrap -------------------------------------------------------------------

WILD = dict(outcome="y", unit="unit", period="time", treatment="treated", post="post", estimator="did_2x2",
            sims=9999, seed=1)


def wild_data(n: int, G: int = 50) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    cl = rng.integers(0, G, n)
    t = rng.integers(0, 10, n)
    treated = (cl < 20).astype(int)
    post = (t >= 5).astype(int)
    y = rng.normal(size=G)[cl] + 0.1 * t + 0.05 * treated * post + rng.normal(size=n)
    return pd.DataFrame({"unit": cl, "time": t, "treated": treated, "post": post, "y": y})


@_quiet
def _wildboottest_2x2(df: pd.DataFrame) -> Any:
    import statsmodels.api as sm
    from wildboottest.wildboottest import wildboottest

    tr, po = df.treated.to_numpy(), df.post.to_numpy()
    X = pd.DataFrame({"D": tr * po, "c": 1.0, "t": tr, "p": po}).astype(float)
    return wildboottest(sm.OLS(df.y.to_numpy(), X), B=9999, cluster=df.unit.to_numpy(), param="D", seed=1,
                        show=False)


@_quiet
def _wildboottest_twfe(df: pd.DataFrame) -> Any:
    import statsmodels.api as sm
    from wildboottest.wildboottest import wildboottest

    cl, t = df.unit.to_numpy(), df.time.to_numpy()
    Xd = pd.concat([pd.DataFrame({"D": (df.treated * df.post).astype(float).to_numpy()}),
                    pd.get_dummies(cl, prefix="u", dtype=float),
                    pd.get_dummies(t, prefix="t", dtype=float).iloc[:, 1:]], axis=1)
    return wildboottest(sm.OLS(df.y.to_numpy(), Xd), B=9999, cluster=cl, param="D", seed=1, show=False)


def _p_within_mc(r: Any, m: Any) -> None:
    p_w = float(m["p-value"].iloc[0])
    bound = 4.5 * np.sqrt(2 * max(p_w * (1 - p_w), 1e-4) / 9999)
    assert abs(r.p_value - p_w) < bound, f"p-value {r.p_value:.4f} vs wildboottest {p_w:.4f} (allowed {bound:.4f})"


def _check_wild_2x2(_: Any, r: Any, m: Any) -> None:
    t_w = float(m["statistic"].iloc[0])
    assert abs(r.extra["t"] / t_w - 1) < 1e-8, f"t-statistic {r.extra['t']!r} vs wildboottest {t_w!r}"
    _p_within_mc(r, m)


def _check_wild_twfe(_: Any, r: Any, m: Any) -> None:
    _p_within_mc(r, m)


# -- 4. callaway_santanna, unbalanced ------------------------------------------------------------


def _cs_unbalanced_setup(rows: int) -> pd.DataFrame:
    """The panel of cs_data with 10 % of its rows dropped at random (every unit keeps some rows)."""
    full = cs_data(rows // 8, 8)
    keep = np.random.default_rng(7).random(len(full)) >= 0.10
    return full[keep].reset_index(drop=True)


@_quiet
def _diffdiff_unbalanced(df: pd.DataFrame) -> Any:
    from diff_diff import CallawaySantAnna

    return CallawaySantAnna(estimation_method="reg", allow_unbalanced_panel=True).fit(
        df, outcome="y", unit="unit", time="time", first_treat="first_treat")


def _check_diffdiff_unbalanced(df: pd.DataFrame, r: Any, m: Any) -> None:
    n_units = df["unit"].nunique()
    assert r.n_units == n_units, f"effekt kept {r.n_units} of {n_units} units"
    ours = {(a["group"], a["period"]): (a["att"], a["std.error"]) for a in r.extra["att_gt"]}
    diff = max(abs(ours[(float(g), float(t))][0] - v["effect"]) for (g, t), v in m.group_time_effects.items())
    assert diff < 1e-8, f"ATT(g, t) differ from diff-diff's by up to {diff:.2e}"
    factor = np.sqrt(n_units / (n_units - 1))
    dse = max(abs(ours[(float(g), float(t))][1] * factor / v["se"] - 1) for (g, t), v in m.group_time_effects.items())
    assert dse < 1e-6, f"SEs differ from diff-diff's (after sqrt(n / (n - 1))) by up to {dse:.2e} relative"


# -- 5. sun_abraham and imputation ---------------------------------------------------------------

STAGG = dict(outcome="y", unit="unit", period="period", first_treated="first_treated")


def _stagg_setup(rows: int) -> pd.DataFrame:
    return stagg_data(rows // 10, 10)


@_quiet
def _saturated(df: pd.DataFrame) -> Any:
    import pyfixest as pf

    fit = pf.event_study(data=df, yname="y", idname="unit", tname="period", gname="first_treated",
                         estimator="saturated")
    return fit.aggregate()


def _check_saturated(_: Any, r: Any, agg: Any) -> None:
    diff = max(abs(r[f"e={int(e)}"].estimate - float(row["Estimate"])) for e, row in agg.iterrows())
    dse = max(abs(r[f"e={int(e)}"].std_error / float(row["Std. Error"]) - 1) for e, row in agg.iterrows())
    assert diff < 1e-6 and dse < 1e-6, f"event-time estimates differ by {diff:.2e}, SEs by {dse:.2e} relative"


@_quiet
def _did2s(df: pd.DataFrame) -> Any:
    import pyfixest as pf

    df2 = df.assign(treat=((df.first_treated > 0) & (df.period >= df.first_treated)).astype(int))
    return pf.did2s(df2, yname="y", first_stage="~ 0 | unit + period", second_stage="~ treat", treatment="treat",
                    cluster="unit")


def _check_did2s(_: Any, r: Any, m: Any) -> None:
    # pyfixest demeans the unbalanced untreated rows iteratively (tolerance 1e-8 on the sweeps, about 1e-5
    # on this estimate); effekt solves the normal equations directly
    ref = float(m.coef()["treat"])
    assert abs(r.estimate - ref) < 1e-4, f"static ATT {r.estimate!r} vs did2s {ref!r}"


CASES = [
    Case(
        name="did.twfe", title="twfe, unit + period FE, CR1 by unit, 20 periods", setup=_twfe_setup,
        effekt=_ef("twfe", **TWFE),
        peers=(Peer('pyfixest feols("y ~ D | unit + time", CRV1)', _feols_twfe, _check_feols_twfe, target=1.0,
                    package="pyfixest"),
               Peer("linearmodels PanelOLS, clustered", _panelols, _check_panelols, target=0.2,
                    package="linearmodels", repeat=1)),
        sizes=(200_000, 2_000_000), quick_size=4_000,
    ),
    Case(
        name="did.callaway_santanna", title="callaway_santanna ATT(g,t), analytic SEs, 8 periods, 4 cohorts",
        setup=_cs_setup, effekt=_ef("callaway_santanna", **CS),
        peers=(Peer('diff-diff CallawaySantAnna(estimation_method="reg")', _diffdiff, _check_diffdiff, target=1.0,
                    package="diff-diff"),
               Peer("csdid ATTgt(bstrap=False)", _csdid, _check_csdid, target=0.5, package="csdid", repeat=1)),
        sizes=(80_000, 800_000), quick_size=2_400,
    ),
    Case(
        name="did.wild_2x2", title="wild_cluster_bootstrap WCR, did_2x2 model, 9,999 draws, 50 clusters",
        setup=wild_data, effekt=_ef("wild_cluster_bootstrap", **WILD),
        peers=(Peer("wildboottest (same regression)", _wildboottest_2x2, _check_wild_2x2, target=1.0,
                    package="wildboottest", repeat=1),),
        sizes=(10_000, 100_000), quick_size=5_000,
    ),
    Case(
        name="did.wild_twfe", title="wild_cluster_bootstrap WCR, twfe model (unit + period effects), same data",
        setup=wild_data, effekt=_ef("wild_cluster_bootstrap", **dict(WILD, estimator="twfe", aggregation="citizen")),
        peers=(Peer("wildboottest, dummies written out", _wildboottest_twfe, _check_wild_twfe, target=1.0,
                    package="wildboottest", repeat=1),),
        sizes=(10_000, 100_000), quick_size=5_000,
    ),
    Case(
        name="did.cs_unbalanced",
        title="callaway_santanna ATT(g,t), unbalanced: 10 % of the rows of an 8-period panel dropped",
        setup=_cs_unbalanced_setup, effekt=_ef("callaway_santanna", allow_unbalanced_panel=True, **CS),
        peers=(Peer("diff-diff CallawaySantAnna(allow_unbalanced_panel=True)", _diffdiff_unbalanced,
                    _check_diffdiff_unbalanced, target=1.0, package="diff-diff"),),
        sizes=(800_000,), quick_size=2_400, notes="size: rows of the panel before 10 % are dropped",
    ),
    Case(
        name="did.sun_abraham", title="sun_abraham, cells aggregated, CR1 by unit, 10 periods, 4 cohorts",
        setup=_stagg_setup, effekt=_ef("sun_abraham", **STAGG),
        peers=(Peer("pyfixest event_study(estimator='saturated').aggregate()", _saturated, _check_saturated,
                    target=1.0, package="pyfixest"),),
        sizes=(50_000,), quick_size=3_000,
    ),
    Case(
        name="did.imputation", title="imputation, static ATT and every horizon with BJS SEs, same data",
        setup=_stagg_setup, effekt=_ef("imputation", leads=0, **STAGG),
        peers=(Peer("pyfixest did2s (static ATT, GMM SE)", _did2s, _check_did2s, package="pyfixest", repeat=1),),
        sizes=(50_000,), quick_size=3_000,
    ),
]
