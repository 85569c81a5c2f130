"""Sensitivity of the ACME to sequential ignorability (rho, R~2)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import statsmodels.api as sm  # noqa: E402
from scipy import special, stats  # noqa: E402

import effekt as ef  # noqa: E402
from effekt.errors import DesignError  # noqa: E402
from effekt.mediation import MediationSensitivity, sensitivity  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::effekt.errors.EffektWarning")


def _correlated(seed: int, n: int, rho: float, m_family: str = "linear", y_family: str = "linear",
                interaction: float = 0.0) -> pd.DataFrame:
    """Structural model whose mediator and outcome errors correlate at rho."""
    rng = np.random.default_rng(seed)
    z = np.zeros(n)
    z[rng.permutation(n)[: n // 2]] = 1.0
    x = rng.standard_normal(n)
    e2 = rng.standard_normal(n)
    e3 = rho * e2 + np.sqrt(1 - rho**2) * rng.standard_normal(n)
    m_lin = -0.2 + 0.8 * z + 0.3 * x + e2
    m = m_lin if m_family == "linear" else (m_lin > 0).astype(float)
    y_lin = 0.2 + 0.3 * z + 0.6 * m + interaction * z * m + 0.4 * x + e3
    y = y_lin if y_family == "linear" else (y_lin > 0).astype(float)
    return pd.DataFrame({"y": y, "z": z.astype(int), "m": m, "x": x})


SPEC = {"outcome": "y", "treatment": "z", "mediator": "m", "covariates": ["x"]}


@pytest.mark.parametrize(
    ("m_family", "y_family", "interaction"),
    [("linear", "linear", False), ("linear", "linear", True), ("linear", "probit", False),
     ("probit", "linear", False), ("probit", "linear", True)],
)
def test_rho_zero_equals_main_estimate(m_family: str, y_family: str, interaction: bool) -> None:
    df = _correlated(1, 400, 0.0, m_family, y_family, 0.3 if interaction else 0.0)
    sens = sensitivity(df, **SPEC, mediator_model=m_family, outcome_model=y_family,
                       interaction=interaction, sims=50, seed=1)
    tab = ef.estimate("mediation", data=df, **SPEC, mediator_model=m_family, outcome_model=y_family,
                      interaction=interaction, sims=20, seed=1)
    at0 = sens.rho == 0
    assert sens.acme_control[at0][0] == pytest.approx(tab["acme_control"].estimate, rel=1e-9)
    assert sens.acme_treated[at0][0] == pytest.approx(tab["acme_treated"].estimate, rel=1e-9)
    assert sens.estimate["acme"] == pytest.approx(tab["acme"].estimate, rel=1e-9)


def test_linear_curve_matches_imai_keele_yamamoto_closed_form() -> None:
    # Imai, Keele & Yamamoto (2010), Stat. Sci. 25(1), eq. (19) [Theorem 2]:
    # ACME(rho) = b2 s1 / s2 * (rho~ - rho sqrt((1 - rho~^2) / (1 - rho^2))),
    # rho~ = corr(e1, e2), e1 the residual of Y on (T, X), e2 that of M on (T, X).
    df = _correlated(2, 500, 0.3)
    W = sm.add_constant(df[["z", "x"]])
    f1, f2 = sm.OLS(df.y, W).fit(), sm.OLS(df.m, W).fit()
    e1, e2 = f1.resid.to_numpy(), f2.resid.to_numpy()
    rt = np.corrcoef(e1, e2)[0, 1]
    closed = f2.params["z"] * e1.std() / e2.std() * (rt - sens_rho() * np.sqrt((1 - rt**2) / (1 - sens_rho() ** 2)))
    sens = sensitivity(df, **SPEC, rho=sens_rho())
    keep = np.isin(sens.rho, sens_rho())
    np.testing.assert_allclose(sens.acme_control[keep], closed, rtol=1e-9)
    # the ACME vanishes at rho = rho~
    assert sens.rho_at_zero["control"] == pytest.approx(rt, abs=1e-9)
    assert sens.r2_tilde_at_zero()["control"] == pytest.approx(
        rt**2 * (1 - f2.rsquared) * (1 - sm.OLS(df.y, sm.add_constant(df[["z", "m", "x"]])).fit().rsquared),
        rel=1e-8,
    )


def sens_rho() -> np.ndarray:
    return np.array([-0.6, -0.2, 0.0, 0.25, 0.5, 0.8])


@pytest.mark.parametrize(
    ("m_family", "y_family", "n"),
    [("linear", "linear", 20_000), ("linear", "probit", 20_000), ("probit", "linear", 20_000)],
)
def test_acme_at_the_true_rho_recovers_the_truth(m_family: str, y_family: str, n: int) -> None:
    # Data with corr(e_M, e_Y) = 0.4: the naive ACME (rho = 0) is biased, ACME(0.4) is not.
    rho = 0.4
    df = _correlated(3, n, rho, m_family, y_family)
    x = df.x.to_numpy()
    if (m_family, y_family) == ("linear", "linear"):
        truth = 0.8 * 0.6
    elif m_family == "linear":
        # Y* = 0.2 + 0.3 t + 0.6 M + 0.4 x + e3, M = -0.2 + 0.8 t' + 0.3 x + e2:
        # P(Y(t, M(t')) = 1) = Phi((0.2 + 0.3 t + 0.6 (-0.2 + 0.8 t' + 0.3 x) + 0.4 x) / s1)
        s1 = np.sqrt(0.6**2 + 2 * 0.6 * rho + 1)

        def p(t: int, tp: int) -> np.ndarray:
            return special.ndtr((0.2 + 0.3 * t + 0.6 * (-0.2 + 0.8 * tp + 0.3 * x) + 0.4 * x) / s1)

        truth = float(np.mean(p(0, 1) - p(0, 0)))
    else:
        truth = 0.6 * float(np.mean(special.ndtr(0.6 + 0.3 * x) - special.ndtr(-0.2 + 0.3 * x)))
    sens = sensitivity(df, **SPEC, mediator_model=m_family, outcome_model=y_family,
                       rho=[rho], sims=20, seed=1)
    at = sens.rho == rho
    naive = sens.acme_control[sens.rho == 0][0]
    assert abs(naive - truth) > 0.05  # the violation matters
    assert sens.acme_control[at][0] == pytest.approx(truth, abs=0.02)


def test_interval_covers_estimate_and_widens_away_from_zero() -> None:
    df = _correlated(4, 300, 0.0)
    sens = sensitivity(df, **SPEC)
    assert np.all(sens.ci_control[:, 0] <= sens.acme_control)
    assert np.all(sens.acme_control <= sens.ci_control[:, 1])
    width = sens.ci_control[:, 1] - sens.ci_control[:, 0]
    assert width[np.argmin(np.abs(sens.rho - 0.9))] > width[sens.rho == 0][0]


def test_rho_at_zero_none_when_no_crossing() -> None:
    df = _correlated(5, 300, 0.0)
    sens = sensitivity(df, **SPEC, rho=[-0.2, -0.1, 0.1])
    assert sens.rho_at_zero["control"] is None


def test_plots_return_figures() -> None:
    df = _correlated(6, 200, 0.0)
    sens = sensitivity(df, **SPEC)
    for kind, sign in (("rho", "positive"), ("r2", "positive"), ("r2", "negative")):
        fig = sens.plot(kind=kind, sign=sign)
        assert isinstance(fig, matplotlib.figure.Figure)
        assert len(fig.axes) >= 1
        plt.close(fig)
    assert isinstance(sens, MediationSensitivity)
    assert set(sens.to_dict()) >= {"table", "rho_at_zero", "r2_tilde_at_zero"}
    assert "rho =" in sens.summary()


def test_logit_models_are_refused() -> None:
    df = _correlated(7, 200, 0.0, y_family="probit")
    with pytest.raises(DesignError, match="refit with probit in place of logit"):
        sensitivity(df, **SPEC, outcome_model="logit")


def test_interaction_with_probit_outcome_is_refused() -> None:
    df = _correlated(7, 200, 0.0, y_family="probit")
    with pytest.raises(DesignError, match="interaction=False"):
        sensitivity(df, **SPEC, outcome_model="probit", interaction=True)


def test_rho_out_of_range() -> None:
    with pytest.raises(DesignError, match="rho must lie strictly between -1 and 1"):
        sensitivity(_correlated(7, 100, 0.0), **SPEC, rho=[0.5, 1.0])


def test_bad_plot_option() -> None:
    sens = sensitivity(_correlated(7, 100, 0.0), **SPEC, rho=[0.1])
    with pytest.raises(DesignError, match="kind='bars' is not an option"):
        sens.plot(kind="bars")


def test_clustered_211_design_and_weights() -> None:
    # cluster-randomised, mediator and outcome per citizen (R mediation issue 72: "2-1-1")
    df = _correlated(8, 400, 0.0)
    df["g"] = np.arange(400) // 10
    df["z"] = (df.g % 2).astype(int)
    df["w"] = np.random.default_rng(8).uniform(0.5, 2, 400)
    sens = sensitivity(df, **SPEC, clusters="g", weights="w")
    tab = ef.estimate("mediation", data=df, **SPEC, clusters="g", weights="w", sims=20, seed=1)
    assert sens.estimate["acme"] == pytest.approx(tab["acme"].estimate, rel=1e-9)
    classical = sensitivity(df, **SPEC, weights="w", rho=[0.0])
    assert "CR0" in sens.method
    assert not np.allclose(sens.ci_control[sens.rho == 0], classical.ci_control)


def test_cluster_level_mediator_is_refused() -> None:
    df = _correlated(9, 200, 0.0)
    df["g"] = np.arange(200) // 10
    df["z"] = (df.g % 2).astype(int)
    df["m"] = df.groupby("g").m.transform("mean")
    with pytest.raises(DesignError, match="cluster-level mediator"):
        sensitivity(df, **SPEC, clusters="g")


def test_interval_at_the_true_rho_covers_at_the_nominal_rate() -> None:
    # corr(e_M, e_Y) = 0.4; the delta-method SUR interval at rho = 0.4 covers a b = 0.48
    reps, hits = 200, 0
    for r in range(reps):
        df = _correlated(3000 + r, 300, 0.4)
        sens = sensitivity(df, **SPEC, rho=[0.4])
        lo, hi = sens.ci_control[sens.rho == 0.4][0]
        hits += lo <= 0.8 * 0.6 <= hi
    lo_ok, hi_ok = stats.binom.ppf([0.0005, 0.9995], reps, 0.95)
    assert lo_ok <= hits <= hi_ok, hits


def test_result_is_immutable_and_round_trips_through_json() -> None:
    import json

    sens = sensitivity(_correlated(6, 200, 0.0), **SPEC, rho=[-0.5, 0.5])
    from effekt.result import Result

    assert isinstance(sens, Result)
    assert json.loads(sens.to_json()) == sens.to_dict()
    json.dumps(sens.to_dict(), allow_nan=False)
    with pytest.raises(AttributeError):
        sens.method = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        sens.extra["new"] = 1  # type: ignore[index]
    with pytest.raises(TypeError):
        sens.rho_at_zero["control"] = 0.0  # type: ignore[index]
    with pytest.raises(ValueError):
        sens.acme_control[0] = 1.0
    assert not sens.rho.flags.writeable and not sens.ci_treated.flags.writeable
    assert list(sens.tidy()["rho"]) == [-0.5, 0.0, 0.5]


def test_plot_draws_into_a_given_axes_with_labels_and_no_pyplot() -> None:
    from effekt.plotting import figure_and_axes

    sens = sensitivity(_correlated(6, 200, 0.0), **SPEC, rho=[-0.5, 0.5])
    fig = sens.plot()
    assert fig.canvas.manager is None  # not a pyplot figure
    given, ax = figure_and_axes()
    assert sens.plot(ax=ax, arm="treated", labels={"treated": "course takers"}) is given
    assert ax.get_title() == "ACME (course takers) under confounding of the mediator"
    assert "ACME (course takers)" in [t.get_text() for t in ax.get_legend().get_texts()]
