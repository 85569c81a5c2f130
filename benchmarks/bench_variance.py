"""CR2 at scale: effekt's twfe CR2 against its own CR1 and pyfixest's CR1; event_study memory and CR1 speed.

1. ``twfe``, 100,000 unit clusters x 20 periods, balanced and unbalanced, with
   and without a covariate and row weights: effekt CR2, effekt CR1 and
   pyfixest CR1 take turns on the same data; estimates and CR1 SEs must agree.
2. ``event_study``, 2,000,000 rows, 40 event-time terms: time and peak
   resident memory of CR1 and CR2, each in a fresh process.
3. ``event_study`` CR1 against pyfixest ``feols`` with the same binned
   event-time dummies.

Run: .venv/bin/python benchmarks/bench_variance.py [--only twfe_cr2|event_study_cr2|event_study_cr1]
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


def _once(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t0, out


def twfe_cr2_data(n_units: int, n_times: int, *, unbalanced: bool, seed: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n_units, dtype=np.int64), n_times)
    time_ = np.tile(np.arange(n_times, dtype=np.int64), n_units)
    treated = (rng.random(n_units) < 0.4)[unit]
    d = (treated & (time_ >= n_times // 2)).astype(np.float64)
    x = rng.normal(size=unit.size)
    y = rng.normal(size=n_units)[unit] + 0.05 * time_ + 0.3 * d + 0.2 * x + rng.normal(size=unit.size)
    w = rng.uniform(0.5, 2.0, unit.size)
    df = pd.DataFrame({"unit": unit, "time": time_, "D": d, "x": x, "y": y, "w": w})
    if unbalanced:  # a fifth of the unit-periods missing at random
        df = df[rng.random(len(df)) > 0.2].reset_index(drop=True)
    return df


def bench_twfe_cr2(repeat: int, repeat_slow: int, rows: list[list[str]]) -> None:
    """twfe CR2 against effekt's own CR1 and pyfixest's CR1, 100,000 unit clusters x 20 periods.

    The three fits take turns on the same data (best of ``repeat``); the
    agreement check is on the estimate (all three) and the CR1 SE (effekt vs
    pyfixest).
    """
    import pyfixest as pf

    pf.feols("y ~ D + x | unit + time", data=twfe_cr2_data(200, 5, unbalanced=False), vcov={"CRV1": "unit"})
    for unbalanced in (False, True):
        df = twfe_cr2_data(100_000, 20, unbalanced=unbalanced)
        for covariates, weights in (([], None), (["x"], None), (["x"], "w")):
            spec: dict[str, Any] = dict(outcome="y", unit="unit", period="time", treatment="D",
                                        covariates=covariates or None, weights=weights)
            formula = "y ~ D" + "".join(f" + {c}" for c in covariates) + " | unit + time"
            t_cr1 = t_cr2 = t_pf = float("inf")
            for _ in range(repeat):
                t, r1 = _once(ef.estimate, "twfe", data=df, se_type="CR1", **spec)
                t_cr1 = min(t_cr1, t)
                t, r2 = _once(ef.estimate, "twfe", data=df, se_type="CR2", **spec)
                t_cr2 = min(t_cr2, t)
                t, m = _once(pf.feols, formula, data=df, vcov={"CRV1": "unit"}, weights=weights)
                t_pf = min(t_pf, t)
            assert abs(r1.estimate - m.coef()["D"]) < 1e-8 and abs(r2.estimate - r1.estimate) < 1e-12
            assert abs(r1.std_error / m.se()["D"] - 1) < 1e-6, (r1.std_error, m.se()["D"])
            label = (f"twfe CR2, {'unbalanced (80% of cells)' if unbalanced else 'balanced'}, "
                     f"{'covariate x' if covariates else 'no covariate'}{', row weights' if weights else ''} "
                     f"({len(df):,} rows; CR2 SE {r2.std_error:.6g}, CR1 {r1.std_error:.6g})")
            rows.append([label, "effekt CR1 / pyfixest CR1", f"{t_cr2:.3f}", f"{t_cr1:.3f} / {t_pf:.3f}",
                         f"CR2 = {t_cr2 / t_cr1:.1f}x CR1, {t_cr2 / t_pf:.2f}x pyfixest"])
            print("| " + " | ".join(rows[-1]) + " |", flush=True)


def _event_study_child(se_type: str) -> None:
    import resource

    rng = np.random.default_rng(5)
    n_units, n_times = 50_000, 40
    unit = np.repeat(np.arange(n_units, dtype=np.int64), n_times)
    time_ = np.tile(np.arange(n_times, dtype=np.int64), n_units)
    first = rng.choice([0, 10, 15, 20, 25, 30], n_units)[unit]
    y = rng.normal(size=n_units)[unit] + 0.02 * time_ + 0.5 * ((first > 0) & (time_ >= first)) + rng.normal(size=unit.size)
    df = pd.DataFrame({"unit": unit, "time": time_, "first": first, "y": y})
    del unit, time_, first, y
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    tab = ef.estimate("event_study", data=df, outcome="y", unit="unit", period="time", first_treated="first",
                      leads=20, lags=20, se_type=se_type)
    elapsed = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    n_terms = sum(1 for r in tab.rows if r.term.startswith("e=") and not r.extra.get("reference"))
    print(f"{elapsed:.3f} {peak / 2**20:.3f} {base / 2**20:.3f} {n_terms} {tab['post'].std_error:.8g}")


def bench_event_study_cr2(repeat: int, repeat_slow: int, rows: list[list[str]]) -> None:
    """event_study on 2,000,000 rows with 40 event-time terms: time and peak resident memory, CR2 vs CR1.

    Each fit runs in a fresh process so that its peak memory (``ru_maxrss``) is its own.
    """
    import subprocess
    import sys

    out = {}
    for se in ("CR1", "CR2"):
        res = subprocess.run([sys.executable, __file__, "--event-study-child", se], capture_output=True, text=True,
                             check=True)
        out[se] = res.stdout.split()
    for se in ("CR1", "CR2"):
        t, peak, base, n_terms, se_post = out[se]
        rows.append([f"event_study {se}, 50,000 units x 40 periods (2e6 rows), {n_terms} event-time terms "
                     f"(post SE {se_post})", "(time; peak RSS of the process, data alone)", f"{float(t):.3f}",
                     f"{float(peak):.2f} GB; {float(base):.2f} GB", ""])


def bench_event_study_cr1(repeat: int, repeat_slow: int, rows: list[list[str]]) -> None:
    """event_study CR1 against pyfixest CR1 with the same 40 binned event-time dummies, 2,000,000 rows."""
    import pyfixest as pf

    rng = np.random.default_rng(5)
    n_units, n_times = 50_000, 40
    unit = np.repeat(np.arange(n_units, dtype=np.int64), n_times)
    time_ = np.tile(np.arange(n_times, dtype=np.int64), n_units)
    first = rng.choice([0, 10, 15, 20, 25, 30], n_units)[unit]
    y = rng.normal(size=n_units)[unit] + 0.02 * time_ + 0.5 * ((first > 0) & (time_ >= first)) + rng.normal(size=unit.size)
    df = pd.DataFrame({"unit": unit, "time": time_, "first": first, "y": y})
    ev = np.where(first > 0, np.clip(time_ - first, -20, 20), -1)  # never treated: in the reference bin
    names = []
    for e in range(-20, 21):
        if e != -1:
            col = f"e{'m' if e < 0 else ''}{abs(e)}"
            df[col] = (ev == e).astype(float)
            names.append(col)
    formula = "y ~ " + " + ".join(names) + " | unit + time"
    spec = dict(outcome="y", unit="unit", period="time", first_treated="first", leads=20, lags=20, se_type="CR1")
    pf.feols(formula, data=df.iloc[:4000], vcov={"CRV1": "unit"})  # warm-up (numba)
    t_ef = t_pf = float("inf")
    for _ in range(repeat):
        t, tab = _once(ef.estimate, "event_study", data=df, **spec)
        t_ef = min(t_ef, t)
        t, m = _once(pf.feols, formula, data=df, vcov={"CRV1": "unit"})
        t_pf = min(t_pf, t)
    assert abs(tab["e=0"].estimate - m.coef()["e0"]) < 1e-8
    assert abs(tab["e=0"].std_error / m.se()["e0"] - 1) < 1e-6, (tab["e=0"].std_error, m.se()["e0"])
    rows.append(["event_study CR1, 50,000 units x 40 periods (2e6 rows), 40 event-time terms",
                 f"pyfixest {version('pyfixest')} feols with the same dummies", f"{t_ef:.3f}", f"{t_pf:.3f}",
                 f"{t_pf / t_ef:.2f}x"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--only", choices=("twfe_cr2", "event_study_cr2", "event_study_cr1"), default=None)
    ap.add_argument("--event-study-child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.event_study_child:
        _event_study_child(args.event_study_child)
        return
    rows: list[list[str]] = []
    for name, fn in (("twfe_cr2", bench_twfe_cr2), ("event_study_cr2", bench_event_study_cr2),
                     ("event_study_cr1", bench_event_study_cr1)):
        if args.only in (None, name):
            fn(args.repeat, 1, rows)
    head = ["benchmark", "peer", "effekt (s)", "peer (s)", "ratio"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
