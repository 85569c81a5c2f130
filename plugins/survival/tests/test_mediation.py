"""mediation_survival: ACME and ADE of a time to event on the RMST and survival scales."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from lifelines import CoxPHFitter
from scipy import integrate, special, stats

import effekt as ef
from effekt.errors import DataError, DesignError
from effekt_survival.mediation import MediationSurvival, breslow

pytestmark = pytest.mark.filterwarnings("ignore::effekt.errors.EffektWarning")


def _trial(seed: int, n: int = 240, m_family: str = "logit", interaction: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    z = np.zeros(n)
    z[rng.permutation(n)[: n // 2]] = 1.0
    x = rng.standard_normal(n)
    if m_family == "linear":
        m = 0.6 * z + 0.3 * x + rng.standard_normal(n)
    else:
        m = (rng.random(n) < special.expit(-0.3 + 0.9 * z + 0.3 * x)).astype(float)
    rate = 0.25 * np.exp(0.3 * z + 0.6 * m + interaction * z * m + 0.3 * x)
    t = rng.exponential(1.0 / rate)
    c = rng.uniform(2.0, 8.0, n)
    return pd.DataFrame({"time": np.minimum(t, c), "event": (t <= c).astype(int), "z": z.astype(int),
                         "m": m, "x": x})


SPEC = {"time": "time", "event": "event", "treatment": "z", "mediator": "m", "covariates": ["x"]}


def _lifelines_step(df: pd.DataFrame, cols: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cox coefficients (Efron) and the uncentred Breslow baseline at the event times, by lifelines."""
    cph = CoxPHFitter().fit(df[["time", "event", *cols]], "time", "event", fit_options={"precision": 1e-12})
    beta = cph.params_[cols].to_numpy()
    base = cph.baseline_cumulative_hazard_
    times = base.index.to_numpy()
    H = base.to_numpy().ravel() * np.exp(-df[cols].mean().to_numpy() @ beta)
    keep = np.isin(times, df.time[df.event == 1])
    return beta, times[keep], H[keep]


def _rmst(times: np.ndarray, H: np.ndarray, lin: np.ndarray, tau: float) -> np.ndarray:
    """int_0^tau exp(-H(u) e^lin) du for a step H, one unit per element of lin (plain loop)."""
    out = np.empty(lin.size)
    knots = np.concatenate([[0.0], times[times <= tau], [tau]])
    Hk = np.concatenate([[0.0], H[times <= tau]])
    for i, eta in enumerate(lin):
        out[i] = sum((knots[j + 1] - knots[j]) * np.exp(-Hk[j] * np.exp(eta)) for j in range(len(knots) - 1))
    return out


@pytest.mark.parametrize("scale", ["rmst", "survival"])
def test_binary_mediator_matches_lifelines_and_statsmodels(scale: str) -> None:
    # Oracle: lifelines' Cox fit and baseline hazard, statsmodels' logit, the RMST integral by a plain loop.
    df = _trial(1, interaction=0.3)
    df["zm"] = df.z * df.m
    beta, times, H = _lifelines_step(df, ["z", "m", "zm", "x"])
    W = sm.add_constant(df[["z", "x"]]).to_numpy()
    mfit = sm.Logit(df.m.to_numpy(), W).fit(disp=0, tol=1e-12)
    tau = 4.0

    def y(t: int, m: float) -> np.ndarray:
        lin = beta[0] * t + beta[1] * m + beta[2] * t * m + beta[3] * df.x.to_numpy()
        if scale == "rmst":
            return _rmst(times, H, lin, tau)
        h_tau = H[times <= tau][-1]
        return np.exp(-h_tau * np.exp(lin))

    def ey(t: int, tp: int) -> float:
        Wt = W.copy()
        Wt[:, 1] = tp
        p = mfit.predict(Wt)
        return float(np.mean(p * y(t, 1.0) + (1 - p) * y(t, 0.0)))

    tab = ef.estimate("mediation_survival", data=df.drop(columns="zm"), **SPEC, mediator_model="logit",
                      interaction=True, horizon=tau, scale=scale, sims=20, seed=1)
    assert tab["acme_treated"].estimate == pytest.approx(ey(1, 1) - ey(1, 0), rel=1e-6)
    assert tab["acme_control"].estimate == pytest.approx(ey(0, 1) - ey(0, 0), rel=1e-6)
    assert tab["ade_control"].estimate == pytest.approx(ey(1, 0) - ey(0, 0), rel=1e-6)
    assert tab["total"].estimate == pytest.approx(ey(1, 1) - ey(0, 0), rel=1e-6)


def test_linear_mediator_matches_quadrature_on_the_survival_scale() -> None:
    df = _trial(2, n=80, m_family="linear")
    beta, times, H = _lifelines_step(df, ["z", "m", "x"])
    mf = sm.OLS(df.m.to_numpy(), sm.add_constant(df[["z", "x"]]).to_numpy()).fit()
    sigma = np.sqrt(mf.scale)
    tau = 3.0
    h_tau = H[times <= tau][-1]

    def ey(t: int, tp: int) -> float:
        mu = mf.params[0] + mf.params[1] * tp + mf.params[2] * df.x.to_numpy()
        c = beta[0] * t + beta[2] * df.x.to_numpy()
        vals = [integrate.quad(lambda u, ci=ci, mi=mi: np.exp(-h_tau * np.exp(ci + beta[1] * (mi + sigma * u)))
                               * stats.norm.pdf(u), -12, 12, epsabs=1e-13, epsrel=1e-12, limit=200)[0]
                for ci, mi in zip(c, mu)]
        return float(np.mean(vals))

    tab = ef.estimate("mediation_survival", data=df, **SPEC, horizon=tau, scale="survival", sims=20, seed=1)
    assert tab["acme_control"].estimate == pytest.approx(ey(0, 1) - ey(0, 0), rel=1e-6)
    assert tab["ade_treated"].estimate == pytest.approx(ey(1, 1) - ey(0, 1), rel=1e-6)


def test_breslow_matches_lifelines_with_strata() -> None:
    df = _trial(3)
    df["block"] = np.arange(len(df)) % 3
    cph = CoxPHFitter().fit(df[["time", "event", "z", "m", "x", "block"]], "time", "event", strata=["block"],
                          fit_options={"precision": 1e-12})
    beta = cph.params_[["z", "m", "x"]].to_numpy()
    X = df[["z", "m", "x"]].to_numpy()
    grid, H = breslow(df.time.to_numpy(), df.event.to_numpy(), df.block.to_numpy(), np.ones(len(df)),
                      (X @ beta)[:, None])
    for b in range(3):
        ref = cph.baseline_cumulative_hazard_[b]
        ref_t = ref.index.to_numpy()
        sel = np.isin(ref_t, df.time[(df.event == 1) & (df.block == b)])  # the stratum's event times
        mine = H[b, np.searchsorted(grid, ref_t, side="right") - 1, 0]
        centre = np.exp(df[["z", "m", "x"]].mean().to_numpy() @ beta)  # lifelines centres overall
        np.testing.assert_allclose(mine[sel] * centre, ref.to_numpy()[sel], rtol=1e-7)


def test_intervals_cover_the_known_acme() -> None:
    reps, hits = 80, 0
    for r in range(reps):
        syn = MediationSurvival.simulate(np.random.default_rng(2000 + r), n=200, effect=1.0)
        tab = ef.estimate("mediation_survival", data=syn.data, **{**syn.spec, "sims": 100}, seed=r)
        lo, hi = tab["acme"].conf_int
        hits += lo <= syn.truth <= hi
    assert hits >= stats.binom.ppf(0.0005, reps, 0.95), hits


def test_swapping_arms_negates_the_acme() -> None:
    df = _trial(4)
    a = ef.estimate("mediation_survival", data=df, **SPEC, mediator_model="logit", horizon=4.0, sims=20, seed=1)
    b = ef.estimate("mediation_survival", data=df.assign(z=1 - df.z), **SPEC, mediator_model="logit",
                    horizon=4.0, sims=20, seed=1)
    assert b["acme"].estimate == pytest.approx(-a["acme"].estimate, rel=1e-7)
    assert b["acme_control"].estimate == pytest.approx(-a["acme_treated"].estimate, rel=1e-7)


def test_default_tau_is_the_shorter_arms_follow_up() -> None:
    df = _trial(5)
    tab = ef.estimate("mediation_survival", data=df, **SPEC, mediator_model="logit", sims=20, seed=1)
    assert tab.extra["horizon"] == pytest.approx(min(df.time[df.z == 0].max(), df.time[df.z == 1].max()))


def test_competing_causes_are_refused() -> None:
    df = _trial(6)
    df.loc[[1, 2], "event"] = 2
    with pytest.raises(DataError, match="holds 2 causes of exit \\(1, 2\\)"):
        ef.estimate("mediation_survival", data=df, **SPEC, mediator_model="logit", sims=20)


def test_tau_beyond_follow_up() -> None:
    with pytest.raises(DesignError, match="no later than the shorter arm's longest"):
        ef.estimate("mediation_survival", data=_trial(7), **SPEC, mediator_model="logit", horizon=100.0, sims=20)


def test_missing_mediator_is_named() -> None:
    df = _trial(8)
    df.loc[4, "m"] = np.nan
    with pytest.raises(DataError, match="mediator column 'm' has 1 missing value"):
        ef.estimate("mediation_survival", data=df, **SPEC, mediator_model="logit", sims=20)


def test_negative_time() -> None:
    df = _trial(9)
    df.loc[0, "time"] = -1.0
    with pytest.raises(DataError, match="negative"):
        ef.estimate("mediation_survival", data=df, **SPEC, mediator_model="logit", sims=20)


def test_non_binary_mediator_for_logit() -> None:
    with pytest.raises(DataError, match="must hold 0 and 1"):
        ef.estimate("mediation_survival", data=_trial(10, m_family="linear"), **SPEC,
                    mediator_model="logit", sims=20)


def test_unknown_scale() -> None:
    with pytest.raises(DesignError, match="scale='hazard' is not valid"):
        ef.estimate("mediation_survival", data=_trial(11), **SPEC, scale="hazard", sims=20)


def test_user_guide_runs_with_the_plugin() -> None:
    # docs/mediation.md, including its time-to-event section, runs as written
    import re
    import warnings
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    page = Path(__file__).resolve().parents[3] / "docs" / "mediation.md"
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)
    assert any("effekt_survival" in b for b in blocks)
    namespace: dict[str, object] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for block in blocks:
            exec(compile(block, str(page), "exec"), namespace)
    assert namespace["tab"].extra["scale"] == "rmst"  # type: ignore[attr-defined]


def test_blocks_stratify_and_clusters_give_robust_draws() -> None:
    df = _trial(12, n=300)
    df["batch"] = np.arange(300) % 4
    df["team"] = np.arange(300) // 10
    blocked = ef.estimate("mediation_survival", data=df, **SPEC, mediator_model="logit", blocks="batch",
                          horizon=4.0, sims=100, seed=1)
    assert blocked["acme"].design == "stratified"
    # stratified Breslow baselines: the oracle with lifelines' stratified fit
    cph = CoxPHFitter().fit(df[["time", "event", "z", "m", "x", "batch"]], "time", "event", strata=["batch"],
                            fit_options={"precision": 1e-12})
    beta = cph.params_[["z", "m", "x"]].to_numpy()
    assert blocked.extra["cox_coef"]["m"] == pytest.approx(beta[1], rel=1e-6)
    clustered = ef.estimate("mediation_survival", data=df, **SPEC, mediator_model="logit", clusters="team",
                            horizon=4.0, sims=100, seed=1)
    plain = ef.estimate("mediation_survival", data=df, **SPEC, mediator_model="logit", horizon=4.0, sims=100, seed=1)
    assert clustered["acme"].design == "clustered"
    assert clustered["acme"].estimate == pytest.approx(plain["acme"].estimate, rel=1e-12)
    assert clustered["acme"].std_error != pytest.approx(plain["acme"].std_error, rel=1e-3)
