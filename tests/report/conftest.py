"""A complete report of a small synthetic trial, shared by the report tests."""

import numpy as np
import pandas as pd
import pytest

import effekt as ef
from effekt.design.balance import balance_table
from effekt.design.consort import ConsortFlow
from effekt.report import PlannedEstimate, Report


def trial(seed: int = 4, n: int = 240) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    z = rng.permutation(np.arange(n) % 2)
    age = rng.normal(42, 9, n).round()
    t = rng.exponential(np.where(z == 1, 14.0, 20.0))
    c = rng.uniform(10, 40, n)
    cause = rng.choice(["job", "flexjob", "disability pension"], size=n, p=[0.6, 0.25, 0.15])
    return pd.DataFrame({
        "arm": np.where(z == 1, "course", "usual"),
        "z": z,
        "age": age,
        "sex": rng.choice(["woman", "man"], size=n),
        "earnings": rng.normal(100, 20, n) + 5 * z,
        "employed": (rng.random(n) < 0.3 + 0.1 * z).astype(int),
        "weeks": np.minimum(t, c).round(1),
        "exit": np.where(t <= c, cause, "censored"),
        "left": (t <= c).astype(int),
    })


def full_report(language: str = "en") -> Report:
    df = trial()
    rep = Report("Resource course trial", language=language,
                 metadata={"registration": "none (synthetic)", "data": "synthetic, seed 4"})
    rep.add_text("Design", "Two arms drawn by lottery.\n\nOutcomes as planned.")
    rep.add_consort(ConsortFlow(assessed=260, excluded={"declined": 20}, allocated={"course": 120, "usual": 120},
                                lost={"course": {"moved away": 2}, "usual": {"moved away": 3}}))
    rep.add_balance(balance_table(df, covariates=["age", "sex"], treatment="arm", arms=("usual", "course"),
                                  sims=200, seed=1))
    dim = ef.estimate("difference_in_means", data=df, outcome="earnings", treatment="z")
    lin = ef.estimate("lin", data=df, outcome="earnings", treatment="z", covariates=["age"])
    emp = ef.estimate("difference_in_means", data=df, outcome="employed", treatment="z")
    km = ef.estimate("kaplan_meier", data=df, time="weeks", event="left", treatment="arm",
                     arms=("usual", "course"), horizon=26)
    aj = ef.estimate("aalen_johansen", data=df, time="weeks", event="exit", treatment="arm",
                     arms=("usual", "course"), horizon=26, cause="job", censored="censored")
    p_adj = ef.adjust_pvalues([dim.p_value, emp.p_value], method="holm")["p.adjusted"].to_numpy()
    rep.add_estimates([
        PlannedEstimate("earnings", "primary", "difference_in_means", dim, p_adjusted=float(p_adj[0]),
                        family="primary"),
        PlannedEstimate("earnings", "primary", "lin", lin, label="earnings (adjusted for age)"),
        PlannedEstimate("employed", "secondary", "difference_in_means", emp, p_adjusted=float(p_adj[1]),
                        family="primary"),
        PlannedEstimate("weeks", "secondary", "kaplan_meier", km, label="weeks to exit"),
        PlannedEstimate("exit", "secondary", "aalen_johansen", aj, label="exit to a job"),
    ])
    power = ef.power("two_means", d=0.3, power=0.8)
    rep.add_power(power, information_fraction=240 / (2 * float(power)))
    rep.add_log_head("9f2c" * 16, pinned="9f2c" * 16)
    rep.add_deviations(["the outcome 'benefit' is not in the data"])
    return rep


@pytest.fixture(scope="session")
def full():
    return full_report()


@pytest.fixture(scope="session")
def report_dir(tmp_path_factory, full):
    out = tmp_path_factory.mktemp("report")
    full.write(out)
    return out
