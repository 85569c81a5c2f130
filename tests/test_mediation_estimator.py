"""The `mediation` estimator: oracles, reference values, properties, coverage, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, special, stats
from statsmodels.stats.mediation import Mediation as SMMediation

import effekt as ef
from effekt.errors import DataError, DesignError, EffektWarning, EstimationError
from effekt.mediation import Mediation

pytestmark = pytest.mark.filterwarnings("ignore::effekt.errors.EffektWarning")


def _data(seed: int, n: int = 600, *, m_family: str = "linear", y_family: str = "linear",
          interaction: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    z = np.zeros(n)
    z[rng.permutation(n)[: n // 2]] = 1.0
    lin_m = -0.2 + 0.8 * z + 0.5 * x
    if m_family == "linear":
        m = lin_m + rng.standard_normal(n)
    else:
        m = (rng.random(n) < special.expit(lin_m)).astype(float)
    lin_y = 0.1 + 0.4 * z + 0.6 * m + interaction * z * m + 0.3 * x
    if y_family == "linear":
        y = lin_y + rng.standard_normal(n)
    else:
        y = (rng.random(n) < special.expit(lin_y)).astype(float)
    return pd.DataFrame({"y": y, "z": z.astype(int), "m": m, "x": x})


def _fit(df: pd.DataFrame, **kw: object) -> ef.EffectTable:
    spec = {"outcome": "y", "treatment": "z", "mediator": "m", "covariates": ["x"], "sims": 200, "seed": 1}
    spec.update(kw)
    return ef.estimate("mediation", data=df, **spec)  # type: ignore[return-value]


# --- exact identities -------------------------------------------------------------------------

def test_linear_without_interaction_acme_is_a_times_b() -> None:
    # Imai, Keele & Tingley (2010), p. 313: with linear models and no interaction the
    # ACME is the product of coefficients a * b and the ADE is the treatment coefficient.
    df = _data(1)
    a = sm.OLS(df.m, sm.add_constant(df[["z", "x"]])).fit().params["z"]
    out = sm.OLS(df.y, sm.add_constant(df[["z", "m", "x"]])).fit().params
    tab = _fit(df)
    for term in ("acme", "acme_control", "acme_treated"):
        assert tab[term].estimate == pytest.approx(a * out["m"], rel=1e-12)
    for term in ("ade", "ade_control", "ade_treated"):
        assert tab[term].estimate == pytest.approx(out["z"], rel=1e-12)
    assert tab["total"].estimate == pytest.approx(a * out["m"] + out["z"], rel=1e-12)
    assert tab["prop_mediated"].estimate == pytest.approx(a * out["m"] / (a * out["m"] + out["z"]), rel=1e-12)


def test_seed001_caseload_mediator_reproduces_report() -> None:
    # notes-001-caseload-did.md, section 3 M5 and table 4.1: "a caseload reduction of 1 raises
    # the share ... by 0.28 pp"; "a caseload fall of 8 citizens leads to 2.2 pp" (8 x 0.28 = 2.24).
    # Data built so that the treatment lowers caseload by exactly 8 and each case costs exactly
    # 0.28 pp: the residuals are orthogonal to the regressors by construction.
    e_m = np.array([1.0, -1.0, 2.0, -2.0])
    caseload = np.concatenate([40.0 + e_m, 32.0 + e_m])  # control 40, treated 32: a = -8
    z = np.repeat([0, 1], 4)
    base = 20.0 + 0.5 * z - 0.28 * caseload
    # outcome residual orthogonal to 1, z and caseload (and so within each arm to caseload)
    e_y = np.concatenate([[1.0, 1.0, -1.0, -1.0], [1.0, 1.0, -1.0, -1.0]]) * 0.3
    e_y = e_y - np.array([0.0] * 8)
    X = np.column_stack([np.ones(8), z, caseload])
    e_y = e_y - X @ np.linalg.lstsq(X, e_y, rcond=None)[0]
    df = pd.DataFrame({"share_pp": base + e_y, "jobcentre_treated": z, "caseload": caseload})
    tab = ef.estimate("mediation", data=df, outcome="share_pp", treatment="jobcentre_treated",
                      mediator="caseload", sims=50, seed=0, se_type="classical")
    assert tab["acme"].estimate == pytest.approx(2.24, abs=1e-10)
    assert tab["ade"].estimate == pytest.approx(0.5, abs=1e-10)


def test_interaction_linear_closed_form() -> None:
    # With a T x M product: delta(t) = a (b_m + t b_zm); zeta(t) = b_z + b_zm E[M(t)]
    df = _data(2, interaction=0.5)
    Wm = sm.add_constant(df[["z", "x"]])
    fm = sm.OLS(df.m, Wm).fit().params
    Xy = sm.add_constant(pd.DataFrame({"z": df.z, "m": df.m, "zm": df.z * df.m, "x": df.x}))
    fy = sm.OLS(df.y, Xy).fit().params
    tab = _fit(df, interaction=True)
    assert tab["acme_control"].estimate == pytest.approx(fm["z"] * fy["m"], rel=1e-12)
    assert tab["acme_treated"].estimate == pytest.approx(fm["z"] * (fy["m"] + fy["zm"]), rel=1e-12)
    em0 = fm["const"] + fm["x"] * df.x.mean()
    assert tab["ade_control"].estimate == pytest.approx(fy["z"] + fy["zm"] * em0, rel=1e-12)
    assert tab["ade_treated"].estimate == pytest.approx(fy["z"] + fy["zm"] * (em0 + fm["z"]), rel=1e-12)


@pytest.mark.parametrize("m_family", ["logit", "probit"])
@pytest.mark.parametrize("y_family", ["linear", "logit", "probit"])
def test_binary_mediator_matches_statsmodels_plugin(m_family: str, y_family: str) -> None:
    # Oracle: statsmodels' fits and predictions, mediator integrated by hand over m in {0, 1}.
    df = _data(3, m_family=m_family, y_family=y_family, interaction=0.4)
    link = {"logit": sm.families.links.Logit(), "probit": sm.families.links.Probit()}
    Wm = sm.add_constant(df[["z", "x"]]).to_numpy()
    mfit = sm.GLM(df.m.to_numpy(), Wm, family=sm.families.Binomial(link[m_family])).fit(tol=1e-14)
    Xy = np.column_stack([np.ones(len(df)), df.z, df.m, df.z * df.m, df.x])
    fam = sm.families.Gaussian() if y_family == "linear" else sm.families.Binomial(link[y_family])
    yfit = sm.GLM(df.y.to_numpy(), Xy, family=fam).fit(tol=1e-14)

    def p_m(t: int) -> np.ndarray:
        W = Wm.copy()
        W[:, 1] = t
        return mfit.predict(W)

    def ey(t: int, m: float) -> np.ndarray:
        X = Xy.copy()
        X[:, 1], X[:, 2], X[:, 3] = t, m, t * m
        return yfit.predict(X)

    def y_tm(t: int, tp: int) -> float:
        return float(np.mean(p_m(tp) * ey(t, 1) + (1 - p_m(tp)) * ey(t, 0)))

    tab = _fit(df, mediator_model=m_family, outcome_model=y_family, interaction=True)
    assert tab["acme_treated"].estimate == pytest.approx(y_tm(1, 1) - y_tm(1, 0), rel=1e-7)
    assert tab["acme_control"].estimate == pytest.approx(y_tm(0, 1) - y_tm(0, 0), rel=1e-7)
    assert tab["ade_treated"].estimate == pytest.approx(y_tm(1, 1) - y_tm(0, 1), rel=1e-7)
    assert tab["ade_control"].estimate == pytest.approx(y_tm(1, 0) - y_tm(0, 0), rel=1e-7)


@pytest.mark.parametrize("y_family", ["logit", "probit"])
def test_continuous_mediator_binary_outcome_matches_quadrature(y_family: str) -> None:
    # Oracle: statsmodels' fits; E[g(c + d M)], M ~ N(mu, sigma^2), by adaptive quadrature.
    df = _data(4, n=60, y_family=y_family, interaction=0.3)
    Wm = sm.add_constant(df[["z", "x"]]).to_numpy()
    mfit = sm.OLS(df.m.to_numpy(), Wm).fit()
    sigma = np.sqrt(mfit.scale)
    Xy = np.column_stack([np.ones(len(df)), df.z, df.m, df.z * df.m, df.x])
    link = sm.families.links.Logit() if y_family == "logit" else sm.families.links.Probit()
    b = sm.GLM(df.y.to_numpy(), Xy, family=sm.families.Binomial(link)).fit(tol=1e-14).params
    g = special.expit if y_family == "logit" else special.ndtr

    def y_tm(t: int, tp: int) -> float:
        mu = mfit.params[0] + mfit.params[1] * tp + mfit.params[2] * df.x.to_numpy()
        c = b[0] + b[1] * t + b[4] * df.x.to_numpy()
        d = b[2] + b[3] * t
        vals = [
            integrate.quad(lambda u, ci=ci, mi=mi: g(ci + d * (mi + sigma * u)) * stats.norm.pdf(u),
                           -12, 12, epsabs=1e-14, epsrel=1e-12, limit=200)[0]
            for ci, mi in zip(c, mu)
        ]
        return float(np.mean(vals))

    tab = _fit(df, outcome_model=y_family, interaction=True, se_type="classical")
    assert tab["acme_treated"].estimate == pytest.approx(y_tm(1, 1) - y_tm(1, 0), rel=1e-8)
    assert tab["acme_control"].estimate == pytest.approx(y_tm(0, 1) - y_tm(0, 0), rel=1e-8)
    assert tab["ade_control"].estimate == pytest.approx(y_tm(1, 0) - y_tm(0, 0), rel=1e-8)


# --- statsmodels' Mediation: agreement within its Monte Carlo error ----------------------------

@pytest.mark.parametrize("m_family", ["linear", "logit", "probit"])
@pytest.mark.parametrize("y_family", ["linear", "logit", "probit"])
def test_agrees_with_statsmodels_mediation(m_family: str, y_family: str) -> None:
    df = _data(5, n=1500, m_family=m_family, y_family=y_family)
    link = {"logit": sm.families.links.Logit(), "probit": sm.families.links.Probit()}
    Wm = sm.add_constant(df[["z", "x"]]).to_numpy()
    Xy = np.column_stack([np.ones(len(df)), df.z, df.m, df.x])
    m_mod = (sm.OLS(df.m.to_numpy(), Wm) if m_family == "linear"
             else sm.GLM(df.m.to_numpy(), Wm, family=sm.families.Binomial(link[m_family])))
    y_mod = (sm.OLS(df.y.to_numpy(), Xy) if y_family == "linear"
             else sm.GLM(df.y.to_numpy(), Xy, family=sm.families.Binomial(link[y_family])))
    n_rep = 400
    ref = SMMediation(y_mod, m_mod, (1, 1), 2).fit(n_rep=n_rep, rng=11)
    tab = _fit(df, mediator_model=m_family, outcome_model=y_family, se_type="classical", sims=50)
    sm_acme = np.asarray(ref.ACME_ctrl)
    # statsmodels' estimate is a mean of n_rep draws: compare within 4 Monte Carlo errors
    mc = 4 * sm_acme.std(ddof=1) / np.sqrt(n_rep)
    assert abs(tab["acme_control"].estimate - sm_acme.mean()) < mc
    sm_ade = np.asarray(ref.ADE_ctrl)
    assert abs(tab["ade_control"].estimate - sm_ade.mean()) < 4 * sm_ade.std(ddof=1) / np.sqrt(n_rep)


def test_quasi_bayes_spread_is_the_delta_method_se() -> None:
    # Linear models: ACME = a b, Var ~ b^2 Var(a) + a^2 Var(b) (Sobel 1982). statsmodels' and R's
    # draws are wider by the noise of their simulated mediators, which effekt integrates out.
    df = _data(5, n=1500)
    fa = sm.OLS(df.m, sm.add_constant(df[["z", "x"]])).fit()
    fb = sm.OLS(df.y, sm.add_constant(df[["z", "m", "x"]])).fit()
    a, b = fa.params["z"], fb.params["m"]
    se = np.sqrt(b**2 * fa.bse["z"] ** 2 + a**2 * fb.bse["m"] ** 2)
    tab = _fit(df, se_type="classical", sims=4000)
    assert tab["acme"].std_error == pytest.approx(se, rel=0.05)
    assert tab["ade"].std_error == pytest.approx(fb.bse["z"], rel=0.05)


# --- properties -------------------------------------------------------------------------------

@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(0.1, 50.0))
def test_scale_equivariance_and_row_order(seed: int, scale: float) -> None:
    df = _data(seed, n=120)
    base = _fit(df, sims=50)
    scaled = _fit(df.assign(y=df.y * scale), sims=50)
    for term in ("acme", "ade", "total"):
        assert scaled[term].estimate == pytest.approx(scale * base[term].estimate, rel=1e-9, abs=1e-12)
        assert scaled[term].std_error == pytest.approx(scale * base[term].std_error, rel=1e-6)
    assert scaled["prop_mediated"].estimate == pytest.approx(base["prop_mediated"].estimate, rel=1e-9)
    shuffled = _fit(df.sample(frac=1.0, random_state=seed % 1000), sims=50)
    for term in ("acme", "ade"):
        assert shuffled[term].estimate == pytest.approx(base[term].estimate, rel=1e-10, abs=1e-13)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), m_family=st.sampled_from(["linear", "logit", "probit"]))
def test_swapping_arms_negates_effects(seed: int, m_family: str) -> None:
    df = _data(seed, n=200, m_family=m_family, interaction=0.3)
    base = _fit(df, mediator_model=m_family, interaction=True, sims=20)
    flipped = _fit(df.assign(z=1 - df.z), mediator_model=m_family, interaction=True, sims=20)
    assert flipped["acme"].estimate == pytest.approx(-base["acme"].estimate, rel=1e-7, abs=1e-10)
    assert flipped["acme_control"].estimate == pytest.approx(-base["acme_treated"].estimate, rel=1e-7, abs=1e-10)
    assert flipped["total"].estimate == pytest.approx(-base["total"].estimate, rel=1e-7, abs=1e-10)


def test_same_seed_same_result_and_seed_matters() -> None:
    df = _data(6, n=150)
    a, b, c = _fit(df, seed=4), _fit(df, seed=4), _fit(df, seed=5)
    assert a["acme"].conf_int == b["acme"].conf_int
    assert a["acme"].conf_int != c["acme"].conf_int


def test_blocks_and_weights_match_weighted_least_squares() -> None:
    df = _data(7, n=300)
    rng = np.random.default_rng(7)
    df["batch"] = np.repeat(np.arange(6), 50)
    df["w"] = rng.uniform(0.5, 2.0, len(df))
    dummies = pd.get_dummies(df.batch, prefix="b", drop_first=True).astype(float)
    Wm = sm.add_constant(pd.concat([df[["z", "x"]], dummies], axis=1))
    a = sm.WLS(df.m, Wm, weights=df.w).fit().params["z"]
    Xy = sm.add_constant(pd.concat([df[["z", "m", "x"]], dummies], axis=1))
    fy = sm.WLS(df.y, Xy, weights=df.w).fit().params
    tab = _fit(df, blocks="batch", weights="w")
    assert tab["acme"].estimate == pytest.approx(a * fy["m"], rel=1e-11)
    assert tab["ade"].estimate == pytest.approx(fy["z"], rel=1e-11)
    assert tab["acme"].design == "blocked"


def test_hc2_covariance_matches_statsmodels() -> None:
    # the quasi-Bayesian draws use HC2 by default; its spread is a * se_HC2(b) etc. to first order
    from effekt.mediation._glm import fit_model

    df = _data(8, n=200)
    X = sm.add_constant(df[["z", "m", "x"]]).to_numpy()
    for se in ("HC0", "HC1", "HC2", "HC3"):
        ref = sm.OLS(df.y.to_numpy(), X).fit(cov_type=se).cov_params()
        mine = fit_model("linear", df.y.to_numpy(), X, np.ones(len(df)), names=("a",) * 4,
                         what="outcome", se_type=se).vcov
        np.testing.assert_allclose(mine, ref, rtol=1e-10)
    g = np.arange(len(df)) // 10
    ref = sm.OLS(df.y.to_numpy(), X).fit(cov_type="cluster", cov_kwds={"groups": g}).cov_params()
    mine = fit_model("linear", df.y.to_numpy(), X, np.ones(len(df)), names=("a",) * 4, what="o",
                     se_type="CR1", clusters=g).vcov
    np.testing.assert_allclose(mine, ref, rtol=1e-10)
    yb = (df.y > df.y.median()).astype(float).to_numpy()
    ref = sm.Logit(yb, X).fit(disp=0, cov_type="HC0").cov_params()
    mine = fit_model("logit", yb, X, np.ones(len(df)), names=("a",) * 4, what="o", se_type="HC0").vcov
    np.testing.assert_allclose(mine, ref, rtol=1e-7)


# --- coverage on structural models with known ACME and ADE ------------------------------------

def _coverage(method: str, a_z: float, reps: int, m_family: str,
              y_family: str = "linear") -> tuple[int, int]:
    hits_acme = hits_ade = 0
    for r in range(reps):
        rng = np.random.default_rng(10_000 + r)
        n = 200 if y_family == "linear" else 400
        z = np.zeros(n)
        z[rng.permutation(n)[: n // 2]] = 1.0
        x = rng.standard_normal(n)
        if m_family == "linear":
            m = 0.2 + a_z * z + 0.5 * x + rng.standard_normal(n)
            p1 = p0 = None
        else:
            m = (rng.random(n) < special.expit(-0.3 + a_z * z + 0.5 * x)).astype(float)
            p1, p0 = special.expit(-0.3 + a_z + 0.5 * x), special.expit(-0.3 + 0.5 * x)
        if y_family == "linear":
            y = 0.1 + 0.4 * z + 0.6 * m + 0.3 * x + rng.standard_normal(n)
            # the ACME (population for a linear mediator, conditional on the sample's x for a
            # binary one) and the ADE of the structural model
            true_acme = a_z * 0.6 if p1 is None else 0.6 * float(np.mean(p1 - p0))
            true_ade = 0.4
        else:
            # probit outcome with T x M interaction, binary mediator: effects conditional on x
            eta = -0.2 + 0.4 * z + 0.6 * m + 0.3 * z * m + 0.3 * x
            y = (rng.random(n) < special.ndtr(eta)).astype(float)
            assert p1 is not None and p0 is not None

            def ey(t: int, p: np.ndarray, x: np.ndarray = x) -> np.ndarray:
                base = -0.2 + 0.4 * t + 0.3 * x
                return p * special.ndtr(base + 0.6 + 0.3 * t) + (1 - p) * special.ndtr(base)

            true_acme = float(np.mean((ey(1, p1) - ey(1, p0) + ey(0, p1) - ey(0, p0)) / 2))
            true_ade = float(np.mean((ey(1, p1) - ey(0, p1) + ey(1, p0) - ey(0, p0)) / 2))
        df = pd.DataFrame({"y": y, "z": z.astype(int), "m": m, "x": x})
        kw = {"se_type": "classical"} if method == "quasi-bayesian" else {}
        tab = _fit(df, method=method, mediator_model=m_family, outcome_model=y_family,
                   interaction=y_family != "linear", sims=300 if method != "bootstrap" else 200,
                   seed=r, **kw)
        lo, hi = tab["acme"].conf_int
        hits_acme += lo <= true_acme <= hi
        lo, hi = tab["ade"].conf_int
        hits_ade += lo <= true_ade <= hi
    return hits_acme, hits_ade


def _binomial_ok(hits: int, reps: int, level: float = 0.95) -> bool:
    # two-sided 99.9% acceptance region of Binomial(reps, level)
    lo, hi = stats.binom.ppf([0.0005, 0.9995], reps, level)
    return bool(lo <= hits <= hi)


@pytest.mark.parametrize(
    ("method", "m_family", "y_family", "reps"),
    [
        ("quasi-bayesian", "linear", "linear", 300),
        ("quasi-bayesian", "logit", "linear", 200),
        ("quasi-bayesian", "logit", "probit", 150),
        ("bootstrap", "linear", "linear", 150),
        ("bootstrap", "logit", "probit", 30),  # supplementary: the batched fits are checked exactly below
    ],
)
def test_intervals_cover_known_acme_and_ade(method: str, m_family: str, y_family: str, reps: int) -> None:
    hits_acme, hits_ade = _coverage(method, 0.8, reps, m_family, y_family)
    assert _binomial_ok(hits_acme, reps), (method, m_family, hits_acme, reps)
    assert _binomial_ok(hits_ade, reps), (method, m_family, hits_ade, reps)


def test_no_mediation_acme_interval_contains_zero_at_nominal_rate() -> None:
    reps = 300
    hits, _ = _coverage("quasi-bayesian", 0.0, reps, "linear")
    # the percentile interval of a product with a zero factor is conservative, never liberal
    lo = stats.binom.ppf(0.0005, reps, 0.95)
    assert hits >= lo, hits


# --- clustered designs ------------------------------------------------------------------------

def _municipalities(seed: int, G: int = 30, size: int = 20) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    zc = np.zeros(G)
    zc[rng.permutation(G)[: G // 2]] = 1.0
    fidelity = 2.0 + 0.8 * zc + rng.normal(0, 0.7, G)
    u = rng.normal(0, 0.3, G)
    g = np.repeat(np.arange(G), size)
    x = rng.standard_normal(G * size)
    hours = 5 + 1.0 * zc[g] + 1.5 * fidelity[g] + 0.5 * x + u[g] + rng.standard_normal(G * size)
    return pd.DataFrame({"hours": hours, "z": zc[g].astype(int), "fidelity": fidelity[g],
                         "kommune": [f"k{i:02d}" for i in g], "x": x})


def test_cluster_level_mediator_uses_cluster_bootstrap_and_warns() -> None:
    df = _municipalities(1)
    with pytest.warns(EffektWarning, match="ecological inference"):
        tab = ef.estimate("mediation", data=df, outcome="hours", treatment="z", mediator="fidelity",
                          clusters="kommune", covariates=["x"], sims=200, seed=2)
    assert tab.extra["mediator_level"] == "cluster"
    assert tab["acme"].ci_method == "bootstrap-percentile"
    assert tab["acme"].se_type == "cluster-bootstrap"
    # point estimate: cluster-level regression of fidelity on treatment (one row per cluster)
    # times the unit-level outcome coefficient of fidelity
    per = df.groupby("kommune").agg(fidelity=("fidelity", "first"), z=("z", "first"), x=("x", "mean"))
    a = sm.OLS(per.fidelity, sm.add_constant(per[["z", "x"]])).fit().params["z"]
    b = sm.OLS(df.hours, sm.add_constant(df[["z", "fidelity", "x"]])).fit().params["fidelity"]
    assert tab["acme"].estimate == pytest.approx(a * b, rel=1e-10)
    assert any("ecological" in w for w in tab.warnings)


def test_cluster_bootstrap_resamples_whole_clusters() -> None:
    # the spread of a cluster bootstrap exceeds that of a unit bootstrap when outcomes cluster
    df = _municipalities(2)
    df["m_unit"] = df.fidelity + np.random.default_rng(0).normal(0, 0.5, len(df))
    unit = ef.estimate("mediation", data=df, outcome="hours", treatment="z", mediator="m_unit",
                       method="bootstrap", sims=200, seed=1)
    clus = ef.estimate("mediation", data=df, outcome="hours", treatment="z", mediator="m_unit",
                       clusters="kommune", method="bootstrap", sims=200, seed=1)
    assert clus["total"].std_error > 1.5 * unit["total"].std_error


# --- bad input --------------------------------------------------------------------------------

def test_missing_mediator_column() -> None:
    with pytest.raises(DataError, match="mediator='nope': no such column"):
        _fit(_data(1, n=50), mediator="nope")


def test_mediator_with_missing_values() -> None:
    df = _data(1, n=50)
    df.loc[3, "m"] = np.nan
    with pytest.raises(DataError, match="mediator column 'm' has 1 missing value"):
        _fit(df)


def test_mediator_not_binary_for_logit() -> None:
    with pytest.raises(DataError, match="mediator column 'm' must hold 0 and 1 for a logit"):
        _fit(_data(1, n=50), mediator_model="logit")


def test_outcome_not_binary_for_probit() -> None:
    with pytest.raises(DataError, match="outcome column 'y' must hold 0 and 1 for a probit"):
        _fit(_data(1, n=50), outcome_model="probit")


def test_constant_mediator() -> None:
    with pytest.raises(DataError, match="constant cannot mediate"):
        _fit(_data(1, n=50).assign(m=1.0))


def test_text_mediator() -> None:
    with pytest.raises(DataError, match="where numbers belong"):
        _fit(_data(1, n=50).assign(m="high"))


def test_treatment_not_binary() -> None:
    with pytest.raises(DataError, match="must hold 0 \\(control\\) and 1"):
        _fit(_data(1, n=50).assign(z=2))


def test_mediator_is_outcome() -> None:
    with pytest.raises(DesignError, match="is also the outcome"):
        _fit(_data(1, n=50), mediator="y")


def test_unknown_model_family() -> None:
    with pytest.raises(DesignError, match="mediator_model='poisson' is not valid; mediator_model must be one of 'linear', 'logit', 'probit'"):
        _fit(_data(1, n=50), mediator_model="poisson")


def test_unknown_method() -> None:
    with pytest.raises(DesignError, match="method='mcmc' is not valid; method must be one of 'quasi-bayesian', 'bootstrap'"):
        _fit(_data(1, n=50), method="mcmc")


def test_too_few_sims() -> None:
    with pytest.raises(DesignError, match="sims=3 is not valid; sims must be a whole number in \\[10, 1e\\+06\\]"):
        _fit(_data(1, n=50), sims=3)


def test_se_type_with_bootstrap() -> None:
    with pytest.raises(DesignError, match="applies to method='quasi-bayesian' only"):
        _fit(_data(1, n=50), method="bootstrap", se_type="HC2")


def test_cluster_se_type_without_clusters() -> None:
    with pytest.raises(DesignError, match="needs clusters="):
        _fit(_data(1, n=50), se_type="CR1")


def test_hc_se_type_with_clusters() -> None:
    df = _data(1, n=60).assign(g=np.arange(60) // 6)
    with pytest.raises(DesignError, match="ignores the clusters"):
        _fit(df, clusters="g", se_type="HC2")


def test_cluster_mediator_with_unit_treatment() -> None:
    df = _data(1, n=60).assign(g=np.arange(60) // 6)
    df["m"] = df.groupby("g").m.transform("mean")
    with pytest.raises(DesignError, match="needs a cluster-level treatment"):
        _fit(df, clusters="g")


def test_block_with_one_arm() -> None:
    df = _data(1, n=60).assign(b=np.arange(60) // 20)
    df.loc[df.b == 0, "z"] = 1
    with pytest.raises(DataError, match="block .*0.* of column 'b' has 20 treated and 0 control"):
        _fit(df, blocks="b")


def test_nonpositive_weights() -> None:
    df = _data(1, n=50).assign(w=1.0)
    df.loc[5, "w"] = 0.0
    with pytest.raises(DataError, match="zero or negative"):
        _fit(df, weights="w")


def test_separation_in_mediator_model() -> None:
    df = _data(1, n=80)
    df["m"] = df.z.astype(float)  # the treatment predicts the mediator perfectly
    with pytest.raises(EstimationError, match="separation|singular"):
        _fit(df, mediator_model="logit")


def test_collinear_covariate() -> None:
    df = _data(1, n=50).assign(x2=lambda d: 2 * d.x)
    with pytest.raises(EstimationError, match="rank"):
        _fit(df, covariates=["x", "x2"])


def test_simulate_returns_known_truth() -> None:
    syn = Mediation.simulate(np.random.default_rng(0), n=4000, effect=0.5)
    assert syn.truth == 0.5
    tab = ef.estimate("mediation", data=syn.data, **{**syn.spec, "seed": 0})
    assert abs(tab["acme"].estimate - 0.5) < 4 * tab["acme"].std_error
    assert abs(tab["ade"].estimate - syn.extra["ade"]) < 4 * tab["ade"].std_error


def test_cluster_level_mediator_bootstrap_covers_known_acme() -> None:
    # municipalities: fidelity_g = 2 + 0.8 z_g + e_g, hours = ... + 1.5 fidelity_g + u_g + e:
    # ACME = 0.8 * 1.5 = 1.2; the cluster bootstrap interval covers it at the nominal rate
    reps, hits = 120, 0
    for r in range(reps):
        df = _municipalities(500 + r, G=40, size=8)
        tab = ef.estimate("mediation", data=df, outcome="hours", treatment="z", mediator="fidelity",
                          clusters="kommune", sims=200, seed=r)
        lo, hi = tab["acme"].conf_int
        hits += lo <= 1.2 <= hi
    # the percentile cluster bootstrap is slightly liberal with 40 clusters: allow the
    # 99.9% binomial band around 0.95 widened by 3 points
    assert hits >= stats.binom.ppf(0.0005, reps, 0.92), hits


def test_missing_mediator_dropped_on_request_and_reported() -> None:
    # seeds 000/003: survey mediators are missing for non-responders
    df = _data(9, n=120)
    df.loc[[3, 10, 50], "m"] = np.nan
    with pytest.warns(EffektWarning, match="3 rows with missing values were dropped"):
        tab = _fit(df, missing="drop")
    assert tab["acme"].n == 117


def test_warnings_point_at_the_callers_line() -> None:
    df = _municipalities(3)
    with pytest.warns(EffektWarning) as record:
        ef.estimate("mediation", data=df, outcome="hours", treatment="z", mediator="fidelity",
                    clusters="kommune", sims=20, seed=1)
    assert all(r.filename == __file__ for r in record)


@pytest.mark.parametrize("family", ["logit", "probit"])
def test_batched_newton_matches_statsmodels_on_resamples(family: str) -> None:
    # every bootstrap resample is a frequency-weighted fit; compare each with statsmodels' GLM
    from effekt.mediation._glm import newton_batch, ols_batch

    df = _data(10, n=250, m_family=family)
    X = sm.add_constant(df[["z", "x"]]).to_numpy()
    rng = np.random.default_rng(0)
    counts = rng.multinomial(250, np.full(250, 1 / 250), size=6).astype(float)
    link = sm.families.links.Logit() if family == "logit" else sm.families.links.Probit()
    start = sm.GLM(df.m.to_numpy(), X, family=sm.families.Binomial(link)).fit(tol=1e-14).params
    mine = newton_batch(family, df.m.to_numpy(), X, counts, start, what="mediator", resamples=True)
    for b in range(6):
        ref = sm.GLM(df.m.to_numpy(), X, family=sm.families.Binomial(link), freq_weights=counts[b]).fit(tol=1e-14)
        np.testing.assert_allclose(mine[b], ref.params, rtol=1e-8, atol=1e-10)
    coef, sigma = ols_batch(df.y.to_numpy(), X, counts, n=250, what="outcome")
    for b in range(6):
        ref = sm.WLS(df.y.to_numpy(), X, weights=counts[b]).fit()
        np.testing.assert_allclose(coef[b], ref.params, rtol=1e-10)
        resid = df.y.to_numpy() - X @ ref.params
        assert sigma[b] == pytest.approx(np.sqrt(np.sum(counts[b] * resid**2) / (250 - 3)), rel=1e-10)


def test_proportion_mediated_flagged_when_total_effect_is_uncertain() -> None:
    rng = np.random.default_rng(11)
    n = 80
    df = pd.DataFrame({"z": np.repeat([0, 1], n // 2), "m": rng.standard_normal(n)})
    df["y"] = 0.5 * df.m + rng.standard_normal(n)  # the treatment moves neither m nor y
    with pytest.warns(EffektWarning, match="proportion mediated divides by numbers near 0"):
        tab = ef.estimate("mediation", data=df, outcome="y", treatment="z", mediator="m", sims=200, seed=1)
    lo, hi = tab["total"].conf_int
    assert lo <= 0 <= hi


def test_bca_interval_matches_a_plain_implementation() -> None:
    # Efron (1987): z0 from the share of draws below the estimate, a from the jackknife
    from effekt.mediation._inference import bca_interval

    rng = np.random.default_rng(3)
    draws = rng.gamma(4.0, 1.0, 2000)
    jack = rng.normal(4.0, 0.1, 50) ** 2
    est = 3.8
    z0 = stats.norm.ppf(np.mean(draws < est))
    d = jack.mean() - jack
    a = np.sum(d**3) / (6 * np.sum(d**2) ** 1.5)
    q = [stats.norm.cdf(z0 + (z0 + zq) / (1 - a * (z0 + zq))) for zq in stats.norm.ppf([0.025, 0.975])]
    assert bca_interval(draws, est, jack, 0.05) == pytest.approx(tuple(np.quantile(draws, q)), rel=1e-12)


def test_bca_bootstrap_covers_and_needs_the_bootstrap() -> None:
    hits, reps = 0, 60
    for r in range(reps):
        df = _data(4000 + r, n=150)
        tab = _fit(df, method="bootstrap", boot_ci="bca", sims=300, seed=r)
        lo, hi = tab["acme"].conf_int
        hits += lo <= 0.8 * 0.6 <= hi
        assert tab["acme"].ci_method == "bootstrap-bca"
    assert hits >= stats.binom.ppf(0.0005, reps, 0.95), hits
    with pytest.raises(DesignError, match="boot_ci='bca' needs method='bootstrap'"):
        _fit(_data(1, n=50), boot_ci="bca")


def test_singleton_clusters_do_not_make_a_cluster_level_mediator() -> None:
    df = _data(12, n=100).assign(g=np.arange(100))
    tab = _fit(df, clusters="g", sims=20)
    assert tab.extra["mediator_level"] == "unit"


# --- one vocabulary, one result family -------------------------------------------------------------
def test_rows_carry_vocabulary_estimands_with_the_arm_in_the_term() -> None:
    from effekt.vocabulary import codes

    tab = _fit(_data(3, n=200), sims=50)
    expected = {"acme": "acme", "acme_control": "acme", "acme_treated": "acme", "ade": "ade",
                "ade_control": "ade", "ade_treated": "ade", "total": "total_effect",
                "prop_mediated": "proportion_mediated", "prop_mediated_control": "proportion_mediated",
                "prop_mediated_treated": "proportion_mediated"}
    assert {r.term: r.estimand for r in tab} == expected
    assert set(expected.values()) <= set(codes("estimand"))
    assert tab.headline_term == "acme" and tab.estimand == "acme"
    assert tab.extra["sims"] == 50 and tab["acme"].extra["sims"] == 50


def test_blocks_and_clusters_give_the_vocabulary_design() -> None:
    df = _data(4, n=240)
    df["site"] = np.repeat(np.arange(24), 10)
    df["block"] = df["site"] // 6
    # assignment by site, within blocks of 6 sites
    rng = np.random.default_rng(4)
    treated_sites = np.concatenate([rng.permutation(np.arange(b * 6, b * 6 + 6))[:3] for b in range(4)])
    df["z"] = df["site"].isin(treated_sites).astype(int)
    tab = _fit(df, blocks="block", clusters="site", sims=50)
    assert tab.design == "block_clustered"
    assert _fit(df, clusters="site", sims=50).design == "clustered"


def test_options_are_checked_before_any_work() -> None:
    df = _data(1, n=50)
    for option, value in (("sims", 2.5), ("alpha", "0.05"), ("seed", "abc"), ("boot_ci", "student"),
                          ("interaction", "yes")):
        with pytest.raises(DesignError, match=option):
            _fit(df, **{option: value})
    with pytest.raises(DesignError, match="takes no option 'n_sims'"):
        _fit(df, n_sims=100)


def test_text_arms_and_categorical_treatment_give_the_numeric_estimate() -> None:
    df = _data(5, n=200)
    base = _fit(df, sims=50)
    text = df.assign(z=np.where(df.z == 1, "course", "usual"))
    labelled = _fit(text, arms=("usual", "course"), sims=50)
    assert labelled.estimate == pytest.approx(base.estimate, rel=1e-12)
    assert labelled.n_treated == base.n_treated
    flipped = _fit(text, arms=("course", "usual"), sims=50)
    assert flipped.estimate == pytest.approx(-base.estimate, rel=1e-9)
    cat = _fit(df.assign(z=pd.Categorical(df.z)), sims=50)
    assert cat.estimate == pytest.approx(base.estimate, rel=1e-12)


def test_the_table_draws_its_picture_without_pyplot() -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from effekt.mediation import plot_effects
    from effekt.plotting import figure_and_axes

    tab = _fit(_data(6, n=200), interaction=True, sims=50)
    fig = tab.plot()
    assert isinstance(fig, Figure) and fig.canvas.manager is None
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["Total effect", "ADE", "ACME"]
    given, ax = figure_and_axes()
    assert tab.plot(ax=ax, arms="both") is given and len(ax.get_yticklabels()) == 5
    named = tab.plot(labels={"acme": "via job search"})
    assert named.axes[0].get_yticklabels()[-1].get_text() == "via job search"
    # the old function is the same picture
    old = plot_effects(tab)
    assert [t.get_text() for t in old.axes[0].get_yticklabels()] == ["Total effect", "ADE", "ACME"]
