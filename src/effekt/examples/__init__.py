"""A bundled synthetic trial to try effekt on, and the study `effekt example` runs.

The trial is modelled on a Danish resource-course RCT (VIVE 2019): 218
people randomised 1:1 in 12 fortnightly batch lotteries and one top-up
lottery (15 August 2017), with the batch sizes and arm counts of that
report's appendix table 1.1 and the programme's capacity of 100 places.
Every value in it is simulated: no person's data are included.

The lotteries are drawn by :class:`effekt.design.BatchLottery` (master seed
2019, capacity 100 in the programme arm). Eleven people of the programme arm
move away before the last two lotteries, which frees the places the
twelfth batch and the top-up fill; they stay in the analysis (intention to
treat). The bundled allocation log ``allocation.jsonl`` is that lottery's
log.

Columns
-------
id, batch, lottery_date
    person identifier, lottery batch (1-13; 13 is the top-up) and its date.
z
    arm delivered (1 = new programme, 0 = usual practice), as analysed.
z_drawn
    arm drawn in the lottery; batches 3-5 were delivered the other way round
    by mistake, as in the report.
female, age
    baseline covariates.
took_up
    1 when the person took part in the programme (one-sided non-compliance).
activity_hours
    mean weekly activity hours in the first six months (continuous outcome).
complaint
    1 when the person filed a complaint (binary outcome): 3 of 109 in the
    programme and 14 of 109 in usual practice, the counts of the report's
    table 8.8.
weeks, exit
    weeks from the lottery to clarification or to the data extract of
    9 May 2019; exit 0 = censored, 1 = ordinary job, 2 = flexjob,
    3 = disability pension (competing exits).
"""

from __future__ import annotations

import os
import shutil
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["load_trial", "make_trial", "draw_lottery", "write_study", "run_example", "BATCHES", "EXITS"]

#: (lottery date, treated, control) per batch, after the swap was corrected
BATCHES = (
    ("2017-01-16", 7, 6), ("2017-01-30", 14, 14), ("2017-02-13", 14, 15), ("2017-02-27", 13, 14),
    ("2017-03-13", 8, 8), ("2017-03-27", 8, 8), ("2017-04-06", 7, 7), ("2017-04-24", 5, 5),
    ("2017-05-08", 9, 9), ("2017-05-22", 10, 9), ("2017-06-02", 2, 2), ("2017-06-19", 8, 8),
    ("2017-08-15", 4, 4),
)
#: the competing exits coded in ``exit`` (0 = censored)
EXITS = {1: "ordinary job", 2: "flexjob", 3: "disability pension"}
_SWAPPED = (3, 4, 5)
_TOP_UP = 13
_EXTRACT = pd.Timestamp("2019-05-09")
_FILE = "trial_004.csv"
_LOG = "allocation.jsonl"
_STUDY = "study.toml"
#: master seed of the batch lotteries and the programme's places
LOTTERY_SEED = 2019
CAPACITY = 100
#: people of the programme arm who move away before batch 12 and before the top-up
_MOVED = {12: 7, 13: 4}
_MOVED_REASON = "moved to another municipality"


def _ids() -> list[list[str]]:
    out, start = [], 1
    for _, n_t, n_c in BATCHES:
        out.append([f"P{i:03d}" for i in range(start, start + n_t + n_c)])
        start += n_t + n_c
    return out


def draw_lottery(log: str | os.PathLike[str] | None = None) -> Any:
    """Draw the trial's 13 lotteries into a :class:`~effekt.design.BatchLottery` (log file or in memory).

    The draw depends only on the master seed, the batches and the withdrawals,
    so an in-memory lottery allocates exactly as the bundled log records.

    >>> lot = draw_lottery()
    >>> int(lot.allocations().arm.eq("treatment").sum())
    111
    """
    from effekt.design import BatchLottery

    lot = BatchLottery(log, seed=LOTTERY_SEED, ratio="1:1", odd="random", capacity={"treatment": CAPACITY})
    for b, ((date, _, _), ids) in enumerate(zip(BATCHES, _ids()), start=1):
        if b in _MOVED:
            alloc = lot.allocations()
            keep = (alloc["arm"] == "treatment") & ~alloc["withdrawn"] & ~alloc["batch"].isin([str(s) for s in _SWAPPED])
            lot.withdraw(alloc.loc[keep, "id"].tolist()[: _MOVED[b]], reason=_MOVED_REASON)
        lot.draw(pd.DataFrame({"id": ids}), batch=str(b), date=date, top_up=b == _TOP_UP)
    return lot


def make_trial(seed: int = 2017) -> pd.DataFrame:
    """Simulate the trial (deterministic for a given seed; the lottery's arms do not depend on it)."""
    rng = np.random.Generator(np.random.PCG64(seed))
    alloc = draw_lottery().allocations()
    df = pd.DataFrame({"id": alloc["id"].astype(str), "batch": alloc["batch"].astype(int)})
    df["lottery_date"] = [BATCHES[b - 1][0] for b in df["batch"]]
    df["z_drawn"] = (alloc["arm"] == "treatment").astype(int).to_numpy()
    df.insert(3, "z", np.where(df["batch"].isin(_SWAPPED), 1 - df["z_drawn"], df["z_drawn"]))
    n = len(df)
    df["female"] = (rng.random(n) < 0.61).astype(int)
    df["age"] = np.round(rng.normal(48.5, 8.0, n).clip(30, 64)).astype(int)
    df["took_up"] = np.where(df["z"] == 1, (rng.random(n) < 0.85).astype(int), 0)
    base = 4.0 + 0.03 * (df["age"] - 48) + rng.normal(0, 1.6, n)
    df["activity_hours"] = np.round(base + 1.4 * df["took_up"], 1).clip(0, None)
    # complaints: exactly 3 of 109 and 14 of 109 (seed 004 notes, table 8.8)
    complaint = np.zeros(n, dtype=int)
    for arm, k in ((1, 3), (0, 14)):
        rows = np.flatnonzero(df["z"].to_numpy() == arm)
        complaint[rng.choice(rows, size=k, replace=False)] = 1
    df["complaint"] = complaint
    # competing exits: ordinary job, flexjob and disability pension, weekly hazards
    follow = ((_EXTRACT - pd.to_datetime(df["lottery_date"])).dt.days // 7).to_numpy()
    treated = df["z"].to_numpy() == 1
    rates = np.column_stack([
        0.00025 * np.where(treated, 1.2, 1.0),  # ordinary job
        0.0003 * np.where(treated, 1.3, 1.0),   # flexjob
        0.0008 * np.where(treated, 1.4, 1.0),   # disability pension
    ])
    times = rng.exponential(1 / rates)
    t = times.min(axis=1)
    event = times.argmin(axis=1) + 1
    observed = t <= follow
    df["weeks"] = np.where(observed, np.ceil(t), follow).astype(int)
    df["exit"] = np.where(observed, event, 0)
    return df


def load_trial() -> pd.DataFrame:
    """The bundled trial as a DataFrame (218 rows).

    >>> df = load_trial()
    >>> len(df), int(df["z"].sum())
    (218, 109)
    """
    with resources.files(__name__).joinpath(_FILE).open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh)


def write_study(folder: str | os.PathLike[str]) -> Path:
    """Write the example study into ``folder``: ``study.toml``, ``trial.duckdb`` and the allocation log.

    The data go into a DuckDB file (the embedded default: no server needed).
    Returns the path of ``study.toml``.
    """
    import duckdb

    from effekt.errors import DataError

    out = Path(folder)
    if out.exists() and not out.is_dir():
        raise DataError(f"{str(out)!r} is a file; give a folder for the example study.")
    out.mkdir(parents=True, exist_ok=True)
    here = resources.files(__name__)
    for name in (_STUDY, _LOG, _LOG + ".head"):
        with here.joinpath(name).open("rb") as src, open(out / f".{name}.tmp", "wb") as dst:
            shutil.copyfileobj(src, dst)
        os.replace(out / f".{name}.tmp", out / name)
    db = out / "trial.duckdb"
    tmp = out / ".trial.duckdb.tmp"
    tmp.unlink(missing_ok=True)
    trial = load_trial()
    con = duckdb.connect(str(tmp))
    try:
        con.register("trial_frame", trial)
        con.execute("CREATE TABLE trial AS SELECT * FROM trial_frame")
    finally:
        con.close()
    os.replace(tmp, db)
    return out / _STUDY


def run_example(out: str | os.PathLike[str] | None = None) -> str:
    """Write the example study into ``out`` (default: ``effekt-example`` in the current folder) and run it.

    The report goes to ``out/report/`` (``report.html``, ``results.json``,
    ``figures/``). Returns a short summary: one row per planned analysis,
    the deviations, and where the report is.
    """
    from effekt.study import Study

    folder = Path(out) if out is not None else Path.cwd() / "effekt-example"
    study = Study.from_toml(write_study(folder))
    run = study.run(folder / "report")
    table = run.tidy()
    header = (
        "Synthetic resource-course trial: 218 people, 13 batch lotteries (one a top-up), 1:1 within batch\n"
        f"(109 programme, 109 usual practice). {len(table)} planned analyses.\n"
    )
    lines = [header, table.to_string(index=False, float_format=lambda v: f"{v:.4g}"), ""]
    if run.deviations:
        lines.append(f"{len(run.deviations)} deviation(s) from the plan:")
        lines += [f"  - {d}" for d in run.deviations]
    lines += ["", f"study:  {folder / _STUDY}", f"report: {run.report_path}"]
    return "\n".join(lines)
