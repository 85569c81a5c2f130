"""A bundled synthetic trial to try effekt on, and the analysis `effekt example` runs.

The trial is modelled on a Danish resource-course RCT (VIVE 2019): 218
people randomised 1:1 in 13 fortnightly batch lotteries plus a top-up
lottery, with the batch sizes and arm counts of that report's appendix
table 1.1. Every value in it is simulated: no person's data are included.

Columns
-------
id, batch, lottery_date
    person identifier, lottery batch (1-13) and its date.
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
    1 when the person filed a complaint (binary outcome).
weeks, exit
    weeks from the lottery to clarification or to the data extract of
    9 May 2019; exit 0 = censored, 1 = job or flexjob, 2 = disability pension.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["load_trial", "make_trial", "run_example", "BATCHES"]

#: (lottery date, treated, control) per batch, after the swap was corrected
BATCHES = (
    ("2017-01-16", 7, 6), ("2017-01-30", 14, 14), ("2017-02-13", 14, 15), ("2017-02-27", 13, 14),
    ("2017-03-13", 8, 8), ("2017-03-27", 8, 8), ("2017-04-06", 7, 7), ("2017-04-24", 5, 5),
    ("2017-05-08", 9, 9), ("2017-05-22", 10, 9), ("2017-06-02", 2, 2), ("2017-06-19", 8, 8),
    ("2017-08-15", 4, 4),
)
_SWAPPED = (3, 4, 5)
_EXTRACT = pd.Timestamp("2019-05-09")
_FILE = "trial_004.csv"


def make_trial(seed: int = 2017) -> pd.DataFrame:
    """Simulate the trial (deterministic for a given seed)."""
    rng = np.random.Generator(np.random.PCG64(seed))
    rows = []
    for b, (date, n_t, n_c) in enumerate(BATCHES, start=1):
        arms = np.array([1] * n_t + [0] * n_c)
        rows.append(pd.DataFrame({"batch": b, "lottery_date": date, "z": rng.permutation(arms)}))
    df = pd.concat(rows, ignore_index=True)
    n = len(df)
    df.insert(0, "id", [f"P{i:03d}" for i in range(1, n + 1)])
    df["z_drawn"] = np.where(df["batch"].isin(_SWAPPED), 1 - df["z"], df["z"])
    df["female"] = (rng.random(n) < 0.61).astype(int)
    df["age"] = np.round(rng.normal(48.5, 8.0, n).clip(30, 64)).astype(int)
    df["took_up"] = np.where(df["z"] == 1, (rng.random(n) < 0.85).astype(int), 0)
    base = 4.0 + 0.03 * (df["age"] - 48) + rng.normal(0, 1.6, n)
    df["activity_hours"] = np.round(base + 1.4 * df["took_up"], 1).clip(0, None)
    df["complaint"] = (rng.random(n) < np.where(df["z"] == 1, 0.03, 0.13)).astype(int)
    # competing exits: job/flexjob and disability pension, weekly hazards
    follow = ((_EXTRACT - pd.to_datetime(df["lottery_date"])).dt.days // 7).to_numpy()
    rate_job = 0.0009 * np.where(df["z"] == 1, 1.7, 1.0)
    rate_pension = 0.0011 * np.where(df["z"] == 1, 1.8, 1.0)
    t_job = rng.exponential(1 / rate_job)
    t_pension = rng.exponential(1 / rate_pension)
    t = np.minimum(t_job, t_pension)
    event = np.where(t_job <= t_pension, 1, 2)
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


def run_example() -> str:
    """Analyse the bundled trial with every applicable installed estimator.

    Returns the printed report: one row per outcome and estimator.
    """
    import effekt as ef

    df = load_trial()
    installed = set(ef.available()["name"])
    analyses: list[tuple[str, str, dict[str, Any]]] = [
        ("activity_hours", "difference_in_means", {"outcome": "activity_hours", "treatment": "z", "blocks": "batch"}),
        ("activity_hours", "lm_robust", {"outcome": "activity_hours", "treatment": "z", "covariates": ["female", "age"], "blocks": "batch"}),
        ("activity_hours", "cace", {"outcome": "activity_hours", "treatment": "z", "received": "took_up", "blocks": "batch"}),
        ("complaint", "risk_difference", {"outcome": "complaint", "treatment": "z"}),
        ("complaint", "fisher", {"outcome": "complaint", "treatment": "z"}),
        ("complaint", "chi2", {"outcome": "complaint", "treatment": "z"}),
        ("clarification", "cox", {"time": "weeks", "event": "exit", "treatment": "z", "blocks": "batch"}),
    ]
    rows = []
    for outcome, name, spec in analyses:
        if name not in installed:
            continue
        res = ef.estimate(name, data=df, **spec)
        head = res if isinstance(res, ef.EffectResult) else res.headline
        rows.append(
            {
                "outcome": outcome,
                "estimator": name,
                "estimand": head.estimand,
                "design": head.design,
                "estimate": head.estimate,
                "conf.low": head.conf_int[0],
                "conf.high": head.conf_int[1],
                "p.value": head.p_value,
                "n": head.n,
            }
        )
    table = pd.DataFrame(rows)
    header = (
        "Synthetic resource-course trial: 218 people, 13 batch lotteries, 1:1 within batch\n"
        f"(109 programme, 109 usual practice). {len(table)} analyses with the installed estimators.\n"
    )
    return header + "\n" + table.to_string(index=False, float_format=lambda v: f"{v:.4g}")
