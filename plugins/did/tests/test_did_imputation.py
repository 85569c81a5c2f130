"""imputation: R didimputation's README example, pyfixest's did2s and a dense implementation of
Borusyak, Jaravel & Spiess's Theorem 3 as oracles, the leads of Test 1, and bad input."""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

import effekt as ef
from effekt.errors import DataError, DesignError
from effekt_did.sun_abraham import simulate_dynamic

matplotlib.use("Agg")

DATA = Path(__file__).parent / "data"
HET = {"outcome": "dep_var", "unit": "unit", "period": "year", "first_treated": "g"}
SPEC = {"outcome": "y", "unit": "unit", "period": "period", "first_treated": "first_treated"}


@pytest.fixture(scope="module")
def het() -> pd.DataFrame:
    return pd.read_csv(DATA / "df_het.csv.gz")  # didimputation's df_het (make_did_fixtures.R)


@pytest.fixture(scope="module")
def het_es(het):
    return ef.estimate("imputation", data=het, leads=5, **HET)


def test_didimputation_readme_static(het):
    # did_imputation(data = df_het, yname = "dep_var", gname = "g", tname = "year", idname = "unit"),
    # printed in didimputation's README.md (github.com/kylebutts/didimputation, commit 906648e):
    # treat 2.262952 (0.03139684)
    tab = ef.estimate("imputation", data=het, leads=0, **HET)
    assert tab.estimate == pytest.approx(2.262952, abs=1e-6)
    assert tab.std_error == pytest.approx(0.03139684, abs=1e-8)
    assert tab.terms[0] == "e=0" and "pretrend_test" not in tab.extra


# the README's event study: did_imputation(..., horizon = TRUE, pretrends = -5:-1)
README_POST = {0: (1.51314201, 0.07547736), 1: (1.66384318, 0.07675141), 2: (1.86436720, 0.07450151),
               3: (1.91872093, 0.07471704), 4: (1.87322387, 0.07418170), 5: (1.87844597, 0.07567190),
               6: (2.14373139, 0.07632691), 7: (2.23777696, 0.07610842), 8: (2.33650066, 0.07446268),
               9: (2.34352836, 0.07471679), 10: (2.53443351, 0.08109550), 11: (2.47944533, 0.11953547),
               12: (2.63493727, 0.11531779), 13: (2.94449757, 0.11047299), 14: (2.78171206, 0.11466367),
               15: (2.71470743, 0.12030494), 16: (2.88065382, 0.11563154), 17: (2.99383855, 0.11438496),
               18: (2.64616896, 0.11545789), 19: (2.87530636, 0.11405840), 20: (2.90465651, 0.11320219)}
README_PRE = {-5: -0.06412085, -4: -0.01201577, -3: -0.01387197, -2: 0.05103140, -1: 0.02022464}


def test_didimputation_readme_event_study(het_es):
    for e, (b, se) in README_POST.items():
        assert het_es[f"e={e}"].estimate == pytest.approx(b, abs=1e-7)
        assert het_es[f"e={e}"].std_error == pytest.approx(se, abs=1e-7)
    for e, b in README_PRE.items():
        assert het_es[f"e={e}"].estimate == pytest.approx(b, abs=1e-7)
    assert het_es.estimate == pytest.approx(2.262952, abs=1e-6)


def test_leads_standard_errors(het, het_es):
    # The README's lead SEs (0.07634962 for all five) are fixest's iid SEs: the README predates
    # didimputation's clustering of Test 1 (R/did_imputation.R at 906648e passes cluster = idname).
    # effekt clusters as the current code does; the oracle is pyfixest's CR1 on the same regression.
    pf = pytest.importorskip("pyfixest")
    d = het.assign(ev=np.where(het.g > 0, het.year - het.g, -1000))
    d = d[(d.g == 0) | (d.year < d.g)]
    for e in range(-5, 0):
        d[f"lead{-e}"] = (d.ev == e).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.feols("dep_var ~ lead1 + lead2 + lead3 + lead4 + lead5 | unit + year", data=d,
                       vcov={"CRV1": "unit"})
    for e in range(-5, 0):
        assert het_es[f"e={e}"].std_error == pytest.approx(float(fit.se()[f"lead{-e}"]), rel=1e-6)
        assert het_es[f"e={e}"].std_error == pytest.approx(0.07634962, rel=0.02)
    assert het_es.extra["pretrend_test"]["df1"] == 5


def test_point_estimates_match_pyfixest_did2s(het):
    # Gardner's two-stage estimator has the imputation estimator's point estimates (BJS 2024, sec. 4)
    pf = pytest.importorskip("pyfixest")
    d = het.assign(treat=((het.g > 0) & (het.year >= het.g)).astype(int))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.did2s(d, yname="dep_var", first_stage="~ 0 | unit + year", second_stage="~ treat",
                       treatment="treat", cluster="unit")
    tab = ef.estimate("imputation", data=het, leads=0, **HET)
    # pyfixest demeans iteratively to a tolerance of about 1e-8
    assert tab.estimate == pytest.approx(float(fit.coef()["treat"]), abs=1e-7)


def _dense_bjs(d: pd.DataFrame, x: str | None, horizons: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """BJS Theorem 3 with explicit dummy matrices: estimates and SEs of [horizons..., static]."""
    g, t, u = d.first_treated.to_numpy(), d.period.to_numpy(), d.unit.to_numpy()
    on = (g > 0) & (t >= g)
    U = pd.get_dummies(u).to_numpy(float)
    T = pd.get_dummies(t).to_numpy(float)[:, 1:]
    Z = np.column_stack([U, T] + ([d[x].to_numpy(float)] if x else []))
    Z0, Z1 = Z[~on], Z[on]
    y = d.y.to_numpy(float)
    beta = np.linalg.lstsq(Z0, y[~on], rcond=None)[0]
    tau = y[on] - Z1 @ beta
    e = (t - g)[on]
    W = np.column_stack([(e == h) / (e == h).sum() for h in horizons] + [np.full(on.sum(), 1 / on.sum())])
    est = W.T @ tau
    resid0 = y[~on] - Z0 @ beta
    se = []
    for j in range(W.shape[1]):
        v0 = -Z0 @ np.linalg.solve(Z0.T @ Z0, Z1.T @ W[:, j])
        cells = pd.Series(tau).groupby([g[on], e]).transform("mean").to_numpy()
        cells = np.where(W[:, j] > 0, cells, 0.0)
        r1 = tau - cells
        score = pd.Series(np.concatenate([W[:, j] * r1, v0 * resid0])).groupby(
            np.concatenate([u[on], u[~on]])).sum().to_numpy()
        se.append(np.sqrt(score @ score))
    return est, np.array(se)


@pytest.mark.parametrize("with_x", [False, True])
def test_matches_dense_theorem_3(with_x):
    d = simulate_dynamic(np.random.default_rng(3), n_units=60, n_times=6, cohorts=(3, 5)).drop(columns="te")
    d = d.drop(index=d.sample(frac=0.08, random_state=2).index)  # unbalanced
    untreated = (d.first_treated == 0) | (d.period < d.first_treated)
    d = d[d.unit.isin(d.unit[untreated])]  # every unit keeps an untreated row (else it is dropped)
    d["x"] = np.random.default_rng(4).normal(size=len(d)) + 0.1 * d.period
    d["y"] = d.y + 0.7 * d.x
    tab = ef.estimate("imputation", data=d, leads=0, covariates=["x"] if with_x else None, **SPEC)
    hs = [int(r.extra["event_time"]) for r in tab.rows if r.term != "post"]
    est, se = _dense_bjs(d, "x" if with_x else None, hs)
    got = np.array([tab[f"e={h}"].estimate for h in hs] + [tab.estimate])
    got_se = np.array([tab[f"e={h}"].std_error for h in hs] + [tab.std_error])
    np.testing.assert_allclose(got, est, atol=1e-9)
    np.testing.assert_allclose(got_se, se, rtol=1e-8)


def test_horizon_weights_and_joint_covariance(het):
    tab = ef.estimate("imputation", data=het, horizon=[0, 2], leads=2, **HET)
    assert [r.term for r in tab.rows] == ["e=-2", "e=-1", "e=0", "e=2", "post"]
    assert tab["e=2"].estimate == pytest.approx(README_POST[2][0], abs=1e-7)
    # the headline averages the requested horizons' observations
    n0, n2 = tab["e=0"].extra["n_treated_obs"], tab["e=2"].extra["n_treated_obs"]
    assert tab.estimate == pytest.approx((n0 * tab["e=0"].estimate + n2 * tab["e=2"].estimate) / (n0 + n2), abs=1e-9)
    V = np.array(tab.extra["event_coefficients"]["vcov"])
    assert V.shape == (4, 4) and np.linalg.eigvalsh(V).min() > 0
    np.testing.assert_allclose(np.sqrt(np.diag(V)), [tab[t].std_error for t in tab.terms[:4]], rtol=1e-10)
    # equal weights change nothing
    w = ef.estimate("imputation", data=het.assign(w=3.0), weights="w", horizon=[0, 2], leads=2, **HET)
    assert w.estimate == pytest.approx(tab.estimate, abs=1e-10)
    assert w.std_error == pytest.approx(tab.std_error, rel=1e-8)
    fig = tab.plot()
    assert fig.axes
    assert tab.pretrend_power().slope_for(0.5, "joint") == pytest.approx(tab.extra["pretrend_power"]["slope_50"])


# -- bad input ---------------------------------------------------------------------------
def _panel(g=(3,), never=True, n=40, t=6):
    return simulate_dynamic(np.random.default_rng(0), n_units=n, n_times=t, cohorts=g,
                            never_share=0.3 if never else 0.0).drop(columns="te")


def test_no_never_treated_and_one_cohort():
    with pytest.raises(DesignError, match="no treated observation can be imputed"):
        ef.estimate("imputation", data=_panel(never=False), **SPEC)
    # two cohorts without never-treated: the later one's start periods cannot be imputed, the rest can
    tab = ef.estimate("imputation", data=_panel(g=(3, 5), never=False), **SPEC)
    assert any("cannot be imputed" in w for w in tab.warnings)


def test_cohort_treated_in_first_period():
    d = _panel(g=(1, 4))
    tab = ef.estimate("imputation", data=d, **SPEC)
    assert any("no untreated row" in w for w in tab.warnings)
    assert tab.n == int((d.first_treated != 1).sum())
    with pytest.raises(DesignError, match="imputed"):
        ef.estimate("imputation", data=d.assign(first_treated=np.where(d.first_treated > 0, 1, 0)), **SPEC)


def test_missing_periods_text_and_bad_options():
    d = _panel(g=(3, 5))
    nan = d.astype({"period": float})
    nan.loc[3, "period"] = np.nan
    with pytest.raises(DataError, match="period"):
        ef.estimate("imputation", data=nan, **SPEC)
    assert ef.estimate("imputation", data=nan, missing="drop", **SPEC).n == len(d) - 1
    with pytest.raises(DataError, match="first_treated"):
        ef.estimate("imputation", data=d.assign(first_treated="x" + d.first_treated.astype(str)), **SPEC)
    with pytest.raises(DesignError, match="horizon"):
        ef.estimate("imputation", data=d, horizon=[0, 9], **SPEC)
    with pytest.raises(DesignError, match="horizon"):
        ef.estimate("imputation", data=d, horizon=[-1], **SPEC)
    with pytest.raises(DesignError, match="leads"):
        ef.estimate("imputation", data=d, leads=4, **SPEC)
    with pytest.raises(DesignError, match="horizon"):
        ef.estimate("imputation", data=d, horizon=1.5, **SPEC)
    one = ef.estimate("imputation", data=d, horizon=2, **SPEC)  # one horizon as a number
    assert [t for t in one.terms if not t.startswith("e=-")] == ["e=2", "post"]
