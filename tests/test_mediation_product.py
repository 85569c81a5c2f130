"""Product of coefficients (Baron-Kenny) with Sobel and bootstrap intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import effekt as ef
from effekt.errors import DataError, DesignError
from effekt.mediation import PRODUCT_ASSUMPTIONS

pytestmark = pytest.mark.filterwarnings("ignore::effekt.errors.EffektWarning")


def _data(seed: int, n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    z = np.zeros(n)
    z[rng.permutation(n)[: n // 2]] = 1
    x = rng.standard_normal(n)
    m = 0.3 + 0.7 * z + 0.4 * x + rng.standard_normal(n)
    y = 0.1 + 0.2 * z + 0.5 * m + 0.3 * x + rng.standard_normal(n)
    return pd.DataFrame({"y": y, "z": z.astype(int), "m": m, "x": x})


SPEC = {"outcome": "y", "treatment": "z", "mediator": "m", "covariates": ["x"], "sims": 300, "seed": 1}


def test_sobel_matches_statsmodels_regressions() -> None:
    df = _data(1)
    fa = sm.OLS(df.m, sm.add_constant(df[["z", "x"]])).fit()
    fb = sm.OLS(df.y, sm.add_constant(df[["z", "m", "x"]])).fit()
    ft = sm.OLS(df.y, sm.add_constant(df[["z", "x"]])).fit()
    a, b = fa.params["z"], fb.params["m"]
    tab = ef.estimate("product_of_coefficients", data=df, **SPEC, se_type="classical")
    assert tab["indirect"].estimate == pytest.approx(a * b, rel=1e-12)
    # Sobel (1982): se = sqrt(a^2 se_b^2 + b^2 se_a^2)
    sobel = np.sqrt(a**2 * fb.bse["m"] ** 2 + b**2 * fa.bse["z"] ** 2)
    assert tab["indirect"].std_error == pytest.approx(sobel, rel=1e-12)
    assert tab["indirect"].p_value == pytest.approx(2 * (1 - __import__("scipy").stats.norm.cdf(a * b / sobel)), rel=1e-9)
    assert tab["a_path"].std_error == pytest.approx(fa.bse["z"], rel=1e-12)
    assert tab["direct"].estimate == pytest.approx(fb.params["z"], rel=1e-12)
    # total = c' + a b exactly (omitted-variable identity)
    assert tab["total"].estimate == pytest.approx(ft.params["z"], rel=1e-12)
    assert tab["total"].estimate == pytest.approx(fb.params["z"] + a * b, rel=1e-12)


def test_product_equals_the_linear_acme() -> None:
    df = _data(2)
    prod = ef.estimate("product_of_coefficients", data=df, **SPEC)
    med = ef.estimate("mediation", data=df, **SPEC)
    assert prod["indirect"].estimate == pytest.approx(med["acme"].estimate, rel=1e-12)
    assert prod["indirect_bootstrap"].estimate == prod["indirect"].estimate


def test_hc2_default_and_bootstrap_interval() -> None:
    df = _data(3)
    fa = sm.OLS(df.m, sm.add_constant(df[["z", "x"]])).fit(cov_type="HC2")
    tab = ef.estimate("product_of_coefficients", data=df, **SPEC)
    assert tab["a_path"].std_error == pytest.approx(fa.bse["z"], rel=1e-10)
    assert tab["indirect"].se_type == "sobel (HC2)"
    boot = tab["indirect_bootstrap"]
    assert boot.ci_method == "bootstrap-percentile"
    assert boot.conf_int[0] < boot.estimate < boot.conf_int[1]
    # the bootstrap SD agrees with the Sobel SE in a large-effect, moderate-n design
    assert boot.std_error == pytest.approx(tab["indirect"].std_error, rel=0.2)


def test_assumptions_are_stated() -> None:
    tab = ef.estimate("product_of_coefficients", data=_data(4), **SPEC)
    assert tab.extra["assumptions"] == PRODUCT_ASSUMPTIONS
    for phrase in ("no treatment x mediator interaction", "sequential ignorability", "linear"):
        assert phrase in PRODUCT_ASSUMPTIONS


def test_cluster_bootstrap_with_clusters() -> None:
    df = _data(5, n=240).assign(g=np.arange(240) // 8)
    tab = ef.estimate("product_of_coefficients", data=df, **SPEC, clusters="g")
    assert tab["indirect_bootstrap"].se_type == "cluster-bootstrap"
    assert tab["a_path"].se_type == "CR1"


def test_bad_input_mediator_missing() -> None:
    with pytest.raises(DataError, match="mediator='q': no such column"):
        ef.estimate("product_of_coefficients", data=_data(6), **{**SPEC, "mediator": "q"})


def test_bad_se_type() -> None:
    with pytest.raises(DesignError, match="se_type='HC9' is not valid; se_type must be one of 'classical', 'HC0'"):
        ef.estimate("product_of_coefficients", data=_data(6), **SPEC, se_type="HC9")


def test_options_validated_and_estimands_from_the_vocabulary() -> None:
    from effekt.vocabulary import codes

    tab = ef.estimate("product_of_coefficients", data=_data(6), **SPEC)
    assert {r.estimand for r in tab} <= set(codes("estimand"))
    assert tab["indirect_bootstrap"].extra["sims"] == tab.extra["sims"]
    for option, value in (("sims", 2.5), ("alpha", 1.5), ("seed", "abc"), ("se_type", "HC9")):
        with pytest.raises(DesignError, match=option):
            ef.estimate("product_of_coefficients", data=_data(6), **{**SPEC, option: value})
    with pytest.raises(DesignError, match="takes no option 'interaction'"):
        ef.estimate("product_of_coefficients", data=_data(6), **SPEC, interaction=True)


def test_messages_never_suggest_an_option_it_refuses() -> None:
    df = _data(6).assign(g=np.repeat(np.arange(30), 10))
    with pytest.raises(DesignError, match="ignores the clusters") as info:
        ef.estimate("product_of_coefficients", data=df, **SPEC, clusters="g", se_type="HC2")
    assert "method=" not in str(info.value)
