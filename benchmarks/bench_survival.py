"""effekt-survival against lifelines, statsmodels and pandas, as runner cases.

Every case shares one data set between effekt and its peers; the runner
checks agreement before it times anything:

1. ``cox`` with every default (Efron ties, the profile-likelihood interval
   and the Schoenfeld PH test on the KM time scale), treatment and 3
   covariates, weekly (tied) times, against lifelines' ``CoxPHFitter`` with
   its defaults: log HR and SE of every term agree to 1e-6 (target: no
   slower than lifelines).
2. The same with ``strata=`` 1,000 blocks, against
   ``CoxPHFitter(strata=...)`` (target: no slower); lifelines' stratified
   fit stops earlier, so the agreement asked is 1e-5.
3. ``cox`` with ``strata=`` 1,000 blocks and 6 covariates on 200,000 rows,
   without the profile interval and the PH test, against lifelines (target:
   at most 1.15x) and statsmodels' ``PHReg`` (target: faster).
4. The cost of the profile-likelihood interval: default ``cox`` against
   ``cox(profile_ci=False)`` on the data of 1. (target: at most 3x), the
   interval checked against the end-point equation with statsmodels'
   ``PHReg`` profile log-likelihood at each end.
5. A weekly register panel (people x 50 weeks) to first-entry survival
   data with competing causes, against a straightforward pandas
   groupby-apply (identical output; target: at least 10x faster).

Run: ``python -m benchmarks --only survival``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.cases import Case, Peer

COEFS = np.array([0.3, -0.2, 0.1, 0.0, 0.15, -0.1])


def _peer(name: str, run: Any, check: Any = None, target: float | None = None, **more: Any) -> Peer:
    """A Peer, passing ``package=``/``repeat=`` only where this version of the Case API has them."""
    fields = getattr(Peer, "__dataclass_fields__", {})
    return Peer(name, run, check, target, **{k: v for k, v in more.items() if k in fields})


def _blocks(n: int) -> int:
    """1,000 blocks at the timed sizes; fewer (200 rows each) at the quick check's size."""
    return min(1_000, max(2, n // 200))


def cox_data(n: int, n_blocks: int = 1, n_covariates: int = 3, seed: int = 2026) -> dict[str, Any]:
    """Weibull times in whole weeks (censored at 104) with a block frailty; true log HR 0.4."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_covariates))
    z = rng.integers(0, 2, n)
    block = rng.integers(0, n_blocks, n)
    lp = 0.4 * z + X @ COEFS[:n_covariates]
    frailty = np.exp(rng.normal(0, 0.3, n_blocks))[block]
    t = np.ceil(52 * rng.weibull(1.3, n) * np.exp(-lp / 1.3) * frailty)
    e = (t <= 104).astype(int)
    covs = [f"x{i}" for i in range(n_covariates)]
    df = pd.DataFrame(X, columns=covs).assign(time=np.minimum(t, 104), event=e, z=z, block=block)
    return {"df": df, "covariates": covs, "strata": "block" if n_blocks > 1 else None}


def _cox(data: dict[str, Any], **options: Any) -> Any:
    from effekt_survival.cox import Cox

    kw: dict[str, Any] = {"covariates": data["covariates"], **options}
    if data["strata"] is not None:
        kw["strata"] = data["strata"]
    return Cox().fit(data["df"], time="time", event="event", treatment="z", **kw)


def _lifelines(data: dict[str, Any]) -> Any:
    from lifelines import CoxPHFitter

    cols = ["time", "event", "z"] + data["covariates"] + ([data["strata"]] if data["strata"] else [])
    strata = [data["strata"]] if data["strata"] else None
    return CoxPHFitter().fit(data["df"][cols], "time", "event", strata=strata)


def _check_lifelines(data: dict[str, Any], res: Any, fit: Any, tol: float = 1e-6) -> None:
    for row in res.extra["coefficients"]:
        term = row["term"]
        b, s = float(fit.params_[term]), float(fit.standard_errors_[term])
        assert abs(row["coef"] - b) <= tol, f"log HR of {term}: effekt {row['coef']!r}, lifelines {b!r}"
        assert abs(row["std_error"] - s) <= tol * s, f"SE of {term}: effekt {row['std_error']!r}, lifelines {s!r}"


def _check_lifelines_strata(data: dict[str, Any], res: Any, fit: Any) -> None:
    _check_lifelines(data, res, fit, tol=1e-5)


def _statsmodels(data: dict[str, Any]) -> Any:
    import statsmodels.api as sm

    df = data["df"]
    return sm.PHReg(df.time, df[["z"] + data["covariates"]], status=df.event, strata=df[data["strata"]],
                    ties="efron").fit()


def _check_statsmodels(data: dict[str, Any], res: Any, fit: Any) -> None:
    for k, row in enumerate(res.extra["coefficients"]):
        assert abs(row["coef"] - fit.params[k]) <= 1e-8, f"log HR of {row['term']}: {row['coef']!r} vs {fit.params[k]!r}"
        assert abs(row["std_error"] - fit.bse[k]) <= 1e-7 * fit.bse[k], f"SE of {row['term']}"


def _check_profile(data: dict[str, Any], res: Any, bare: Any) -> None:
    """Same fit with and without the interval; each profile end solves 2 (l_max - l_p(b)) = chi2_1(0.95)."""
    import statsmodels.api as sm
    from scipy import stats

    assert res.estimate == bare.estimate and res.std_error == bare.std_error, "the fit differs"
    df, covs = data["df"], data["covariates"]
    crit = float(stats.chi2.isf(0.05, 1))
    for end in res.extra["conf_int_profile"]:
        b = float(np.log(end))
        strata = df[data["strata"]] if data["strata"] else None
        m = sm.PHReg(df.time, df[covs], status=df.event, strata=strata, ties="efron", offset=b * df.z).fit()
        lr = 2.0 * (res.extra["loglik"] - m.llf)
        assert abs(lr - crit) <= 1e-6, f"profile end {end!r}: 2 (l_max - l_p) = {lr!r}, not {crit!r}"


def _panel_setup(n_people: int) -> dict[str, Any]:
    panel, persons = make_panel(n_people, 50)
    return {"panel": panel, "persons": persons, "events": {1: [3, 4], 2: [5]}, "extract": 95 + 50 - 3}


def make_panel(n_people: int, n_weeks: int, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    origin = rng.integers(100, 110, n_people)
    # state codes: 1 resource course, 2 cash benefit, 3 job, 4 flexjob, 5 disability pension
    exit_week = origin + rng.geometric(0.02, n_people)
    exit_state = rng.choice([2, 3, 4, 5], n_people, p=[0.4, 0.25, 0.15, 0.2])
    weeks = np.tile(np.arange(95, 95 + n_weeks), n_people)
    pid = np.repeat(np.arange(n_people), n_weeks)
    state = np.where(weeks >= exit_week[pid], exit_state[pid], 1).astype(np.int8)
    panel = pd.DataFrame({"person": pid, "week": weeks.astype(np.int32), "state": state})
    censor = np.where(rng.random(n_people) < 0.04, origin + rng.integers(5, 30, n_people), np.nan)
    persons = pd.DataFrame({"person": np.arange(n_people), "origin": origin, "censor": censor,
                            "z": rng.integers(0, 2, n_people)})
    return panel, persons


def _first_entry(data: dict[str, Any]) -> pd.DataFrame:
    from effekt_survival.panel import first_entry

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return first_entry(data["panel"], data["persons"], person="person", week="week", state="state",
                           origin="origin", events=data["events"], extract=data["extract"], censor="censor",
                           chunk_rows=1_000_000, after_censoring="ignore")


def groupby_apply(data: dict[str, Any]) -> pd.DataFrame:
    """The straightforward pandas way: one Python function call per person."""
    panel, events, extract = data["panel"], data["events"], data["extract"]
    cause_of = {s: k for k, states in events.items() for s in states}
    info = data["persons"].set_index("person")

    def one(g: pd.DataFrame) -> pd.Series:
        p = info.loc[g.name]
        stop = min(extract, p.censor) if not np.isnan(p.censor) else extract
        stop = min(stop, g.week.max())
        sub = g[(g.week > p.origin) & (g.week <= stop) & g.state.isin(list(cause_of))]
        if len(sub):
            return pd.Series({"time": sub.week.iloc[0] - p.origin, "event": cause_of[sub.state.iloc[0]]})
        return pd.Series({"time": stop - p.origin, "event": 0})

    return panel.groupby("person").apply(one, include_groups=False)


def _check_panel(data: dict[str, Any], out: pd.DataFrame, ref: pd.DataFrame) -> None:
    np.testing.assert_array_equal(out["time"].to_numpy(), ref["time"].to_numpy(), err_msg="time")
    np.testing.assert_array_equal(out["event"].to_numpy(), ref["event"].to_numpy(), err_msg="event")


CASES = [
    Case(
        name="survival.cox_default", title="cox, every default (profile CI, PH test), treatment + 3 covariates",
        setup=lambda n: cox_data(n), effekt=_cox,
        peers=(_peer("lifelines CoxPHFitter()", _lifelines, _check_lifelines, target=1.0, package="lifelines",
                     repeat=1),),
        sizes=(100_000, 1_000_000), quick_size=5_000,
        notes="weekly times (104 distinct), Efron ties; lifelines computes neither interval nor PH test",
    ),
    Case(
        name="survival.cox_default_strata", title="cox, every default, strata= 1,000 blocks, treatment + 3 covariates",
        setup=lambda n: cox_data(n, n_blocks=_blocks(n)), effekt=_cox,
        peers=(_peer("lifelines CoxPHFitter(strata=...)", _lifelines, _check_lifelines_strata, target=1.0,
                     package="lifelines", repeat=0),),
        sizes=(100_000, 1_000_000), quick_size=5_000,
        notes="lifelines stops its stratified Newton early: log HR and SE agree to 1e-5 (statsmodels: 1e-8)",
    ),
    Case(
        name="survival.cox_strata_200k", title="cox, strata= 1,000 blocks, 6 covariates, no profile CI or PH test",
        setup=lambda n: cox_data(n, n_blocks=_blocks(n), n_covariates=6),
        effekt=lambda d: _cox(d, profile_ci=False, ph_transform=None),
        peers=(_peer("lifelines CoxPHFitter(strata=...)", _lifelines, _check_lifelines_strata,
                     target=1.15, package="lifelines", repeat=0),
               _peer('statsmodels PHReg(strata=..., ties="efron")', _statsmodels, _check_statsmodels, target=1.0,
                     package="statsmodels", repeat=0)),
        sizes=(200_000,), quick_size=5_000,
        notes="lifelines agrees to 1e-5 here (its convergence tolerance), statsmodels to 1e-8",
    ),
    Case(
        name="survival.cox_profile_cost", title="cost of the profile-likelihood interval: default cox over a fit without it",
        setup=lambda n: cox_data(n), effekt=_cox,
        peers=(_peer("effekt cox(profile_ci=False)", lambda d: _cox(d, profile_ci=False), _check_profile,
                     target=3.0, package="effekt-survival"),),
        sizes=(1_000_000,), quick_size=5_000,
    ),
    Case(
        name="survival.register_panel", title="weekly register panel (50 weeks) to first-entry survival data",
        setup=_panel_setup, effekt=_first_entry,
        peers=(_peer("pandas groupby-apply", groupby_apply, _check_panel, target=0.1, package="pandas", repeat=0),),
        sizes=(200_000,), quick_size=2_000, unit="people", repeat=3,
        notes="competing causes, per-person censoring; effekt's working memory is set by chunk_rows",
    ),
]
