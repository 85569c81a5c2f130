"""Benchmarks of effekt-survival against its peers, same data, one run.

1. cox with strata= (1,000 blocks) and 6 covariates on 200,000 rows, against
   lifelines' CoxPHFitter(strata=...) and statsmodels' PHReg(strata=...);
   estimates must agree, and the ratio effekt / lifelines is printed
   (target: at most 1.15, and faster than statsmodels).
2. A weekly register panel of 10,000,000 person-weeks (200,000 people x 50
   weeks) to first-entry survival data with competing causes, against a
   straightforward pandas groupby-apply; results must agree, and the speed-up
   is printed (target: at least 10x). Peak extra memory of effekt's pass is
   measured with tracemalloc (bounded by chunk_rows, not by the panel).

Run: flock /tmp/effekt-bench.lock .venv/bin/python benchmarks/bench_survival.py [--quick]
"""

from __future__ import annotations

import argparse
import platform
import time
import tracemalloc
import warnings

import numpy as np
import pandas as pd


def bench_cox(n: int, n_blocks: int, reps: int) -> None:
    import lifelines
    import statsmodels
    import statsmodels.api as sm
    from lifelines import CoxPHFitter

    from effekt_survival.cox import Cox

    rng = np.random.default_rng(2026)
    X = rng.normal(size=(n, 6))
    z = rng.integers(0, 2, n)
    block = rng.integers(0, n_blocks, n)
    lp = 0.4 * z + X @ np.array([0.3, -0.2, 0.1, 0.0, 0.15, -0.1])
    t = np.ceil(52 * rng.weibull(1.3, n) * np.exp(-lp / 1.3) * np.exp(rng.normal(0, 0.3, n_blocks))[block])
    e = (t <= 104).astype(int)
    t = np.minimum(t, 104)
    covs = [f"x{i}" for i in range(6)]
    df = pd.DataFrame(X, columns=covs).assign(time=t, event=e, z=z, block=block)

    def run_effekt():
        return Cox().fit(df, time="time", event="event", treatment="z", strata="block", covariates=covs,
                         profile_ci=False, ph_transform=None)

    def run_lifelines():
        return CoxPHFitter().fit(df[["time", "event", "z", "block"] + covs], "time", "event", strata=["block"])

    def run_statsmodels():
        return sm.PHReg(df.time, df[["z"] + covs], status=df.event, strata=df.block, ties="efron").fit()

    def best(fn):
        times, out = [], None
        for _ in range(reps):
            t0 = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t0)
        return min(times), out

    t_e, r_e = best(run_effekt)
    t_l, r_l = best(run_lifelines)
    t_s, r_s = best(run_statsmodels)
    b_e = np.log(r_e.estimate)
    assert abs(b_e - r_l.params_["z"]) < 1e-5, (b_e, r_l.params_["z"])
    assert abs(b_e - r_s.params[0]) < 1e-6, (b_e, r_s.params[0])
    print(f"cox, {n:,} rows, {n_blocks:,} strata, 6 covariates, Efron ties (best of {reps})")
    print(f"  effekt      {t_e:8.3f} s   log HR {b_e:.8f}")
    print(f"  lifelines   {t_l:8.3f} s   log HR {r_l.params_['z']:.8f}  ({lifelines.__version__})")
    print(f"  statsmodels {t_s:8.3f} s   log HR {r_s.params[0]:.8f}  ({statsmodels.__version__})")
    print(f"  ratio effekt/lifelines {t_e / t_l:.3f} (target <= 1.15); effekt/statsmodels {t_e / t_s:.3f} (< 1)")


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


def groupby_apply(panel: pd.DataFrame, persons: pd.DataFrame, events: dict, extract: float) -> pd.DataFrame:
    """The straightforward pandas way: one Python function call per person."""
    cause_of = {s: k for k, states in events.items() for s in states}
    info = persons.set_index("person")

    def one(g: pd.DataFrame) -> pd.Series:
        p = info.loc[g.name]
        stop = min(extract, p.censor) if not np.isnan(p.censor) else extract
        stop = min(stop, g.week.max())
        sub = g[(g.week > p.origin) & (g.week <= stop) & g.state.isin(list(cause_of))]
        if len(sub):
            return pd.Series({"time": sub.week.iloc[0] - p.origin, "event": cause_of[sub.state.iloc[0]]})
        return pd.Series({"time": stop - p.origin, "event": 0})

    return panel.groupby("person").apply(one, include_groups=False)


def bench_panel(n_people: int, n_weeks: int) -> None:
    from effekt_survival.panel import first_entry

    panel, persons = make_panel(n_people, n_weeks)
    events = {1: [3, 4], 2: [5]}
    extract = 95 + n_weeks - 3
    tracemalloc.start()
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = first_entry(panel, persons, person="person", week="week", state="state", origin="origin",
                          events=events, extract=extract, censor="censor", chunk_rows=1_000_000,
                          after_censoring="ignore")
    t_e = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    t0 = time.perf_counter()
    ref = groupby_apply(panel, persons, events, extract)
    t_p = time.perf_counter() - t0
    np.testing.assert_array_equal(out["time"].to_numpy(), ref["time"].to_numpy())
    np.testing.assert_array_equal(out["event"].to_numpy(), ref["event"].to_numpy())
    print(f"register panel -> first-entry survival data, {len(panel):,} person-weeks "
          f"({n_people:,} people x {n_weeks} weeks), competing causes, per-person censoring")
    print(f"  effekt first_entry      {t_e:8.2f} s   peak traced memory {peak / 2**20:7.1f} MiB "
          f"(panel itself {panel.memory_usage(deep=True).sum() / 2**20:.0f} MiB, chunk_rows=1,000,000)")
    print(f"  pandas groupby-apply    {t_p:8.2f} s")
    print(f"  speed-up {t_p / t_e:.1f}x (target >= 10x); results identical")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    args = ap.parse_args()
    print(f"python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}, "
          f"{platform.machine()}")
    if args.quick:
        bench_cox(20_000, 100, 1)
        bench_panel(5_000, 50)
    else:
        bench_cox(200_000, 1_000, 3)
        bench_panel(200_000, 50)


if __name__ == "__main__":
    main()
