"""Design effect, cluster-randomised trials and the PowerUp! catalogue.

The PowerUp! oracle below restates Dong & Maynard (2013), eq. 2 (MDES = M * SSE,
M = t_{1-alpha/2, df} + t_{power, df}) and each design's SSE and df from their
Appendix (models 1.0, 2.1-2.3, 3.1, 3.2, 4.1, 4.2), written independently of the
package with scipy.stats.t. Parameter sets are those of PowerUpR's cross-check
vignette (vignettes/cross_checks.Rmd, PowerUpR 1.1.0) and its help examples.
"""

import numpy as np
import pytest
from scipy import stats

import effekt as ef
from effekt_power import design_effect


# -- seed 002 (notes-002-flere-skal-med.md, section 4.14 "Design effect") ----------------------
@pytest.mark.parametrize(
    ("icc", "deff", "n_eff"), [(0.005, 1.73, 7451), (0.01, 2.45, 5245), (0.02, 3.90, 3295), (0.05, 8.25, 1557)]
)
def test_seed002_design_effect(icc, deff, n_eff):
    m = 12856 / 88  # mean group-1 size 146.1
    assert design_effect(icc, m) == pytest.approx(deff, abs=0.005)
    assert 12856 / design_effect(icc, m) == pytest.approx(n_eff, abs=1.0)


def test_design_effect_varying_sizes():
    # Eldridge, Ashby & Kerry (2006) eq. 4: 1 + ((cv^2 + 1) m - 1) icc
    assert design_effect(0.05, 20, cv=0.6) == pytest.approx(1 + ((0.36 + 1) * 20 - 1) * 0.05)
    sizes = np.array([5, 10, 20, 45])
    cv = sizes.std() / sizes.mean()  # population SD, as in the formula
    # the exact variance inflation of an equally weighted individual-level mean
    exact = np.sum(sizes * (1 + (sizes - 1) * 0.05)) / sizes.sum()
    approx = design_effect(0.05, sizes.mean(), cv=cv)
    assert approx == pytest.approx(np.sum(sizes**2) / sizes.sum() * 0.05 + 0.95, rel=1e-12)
    assert approx == pytest.approx(exact, rel=1e-12)


def test_cluster_icc_zero_equals_two_means():
    a = ef.power("cluster", d=0.3, n_clusters=10, cluster_size=20, icc=0.0, method="z").value
    b = ef.power("two_means", d=0.3, n=200, method="z").value
    assert a == pytest.approx(b, abs=1e-12)


def test_cluster_z_power_formula():
    d, k, m, icc = 0.25, 12, 30, 0.04
    deff = 1 + (m - 1) * icc
    se = np.sqrt(deff * 2 / (k * m))
    ref = stats.norm.cdf(d / se - 1.959963984540054) + stats.norm.cdf(-d / se - 1.959963984540054)
    assert ef.power("cluster", d=d, n_clusters=k, cluster_size=m, icc=icc, method="z").value == pytest.approx(ref)


def test_cluster_t_uses_cluster_df():
    d, k, m, icc = 0.4, 8, 25, 0.1
    se = np.sqrt((1 + (m - 1) * icc) * 2 / (k * m))
    t1 = stats.t.isf(0.025, 2 * k - 2)
    ref = stats.nct.sf(t1, 2 * k - 2, d / se) + stats.nct.cdf(-t1, 2 * k - 2, d / se)
    assert ef.power("cluster", d=d, n_clusters=k, cluster_size=m, icc=icc).value == pytest.approx(ref, abs=1e-9)


# -- PowerUp! oracle ----------------------------------------------------------------------------
def _mdes(sse, df, alpha=0.05, power=0.8):
    return (stats.t.ppf(1 - alpha / 2, df) + stats.t.ppf(power, df)) * sse


def sse_df(design, q):
    p = q.get("p", 0.5)
    pq = p * (1 - p)
    if design == "ira":
        return np.sqrt(1 / (pq * q["n"])), q["n"] - 2
    if design == "bira2":
        return (
            np.sqrt(q["rho2"] * q["omega2"] / q["J"] + (1 - q["rho2"]) / (pq * q["J"] * q["n"])),
            q["J"] - 1,
        )
    if design == "cra2":
        return np.sqrt(q["rho2"] / (pq * q["J"]) + (1 - q["rho2"]) / (pq * q["J"] * q["n"])), q["J"] - 2
    if design == "bcra3":
        return (
            np.sqrt(
                q["rho3"] * q["omega3"] / q["K"]
                + q["rho2"] / (pq * q["J"] * q["K"])
                + (1 - q["rho2"] - q["rho3"]) / (pq * q["J"] * q["K"] * q["n"])
            ),
            q["K"] - 1,
        )
    if design == "cra3":
        return (
            np.sqrt(
                q["rho3"] / (pq * q["K"])
                + q["rho2"] / (pq * q["J"] * q["K"])
                + (1 - q["rho2"] - q["rho3"]) / (pq * q["J"] * q["K"] * q["n"])
            ),
            q["K"] - 2,
        )
    raise AssertionError(design)


# PowerUp!'s notation -> effekt's names (and the factor: effekt value = PowerUp! value * factor)
_NAMES = {
    "ira": {"n": ("n_total", 1.0)},
    "bira2": {"J": ("n_blocks", 1.0), "n": ("block_size", 1.0)},
    "cra2": {"J": ("n_clusters", 0.5), "n": ("cluster_size", 1.0)},
    "bcra3": {"K": ("n_blocks", 1.0), "J": ("clusters_per_site", 1.0), "n": ("cluster_size", 1.0)},
    "cra3": {"K": ("n_sites", 0.5), "J": ("clusters_per_site", 1.0), "n": ("cluster_size", 1.0)},
}
_COMMON = {"rho2": ("icc2", 1.0), "rho3": ("icc3", 1.0), "g": ("n_covariates", 1.0), "p": ("allocation", 1.0)}


def effekt_names(design, q):
    table = {**_COMMON, **_NAMES[design]}
    return {table.get(k, (k, 1.0))[0]: v * table.get(k, (k, 1.0))[1] for k, v in q.items()}


def name_of(design, symbol):
    return {**_COMMON, **_NAMES[design]}.get(symbol, (symbol, 1.0))


CROSS_CHECKS = [
    ("ira", {"n": 250}, "n"),  # mdes.ira1r1(power=.80, n=250)
    ("bira2", {"rho2": 0.17, "omega2": 0.50, "n": 15, "J": 20}, "J"),  # mdes.bira2r1(...)
    ("cra2", {"rho2": 0.17, "n": 15, "J": 20}, "J"),  # mdes.cra2r2(rho2=.17, n=15, J=20)
    ("bcra3", {"rho3": 0.13, "rho2": 0.10, "omega3": 0.4, "n": 10, "J": 6, "K": 24}, "K"),  # mdes.bcra3r2
    ("cra3", {"rho3": 0.06, "rho2": 0.17, "n": 15, "J": 3, "K": 60}, "K"),  # mdes.cra3r3
]


@pytest.mark.parametrize(("design", "q", "top"), CROSS_CHECKS)
def test_powerup_mdes_matches_dong_maynard(design, q, top):
    sse, df = sse_df(design, q)
    res = ef.power(design, power=0.8, **effekt_names(design, q))
    assert res.solved == "d"
    assert res.counts == "standardised effect"
    assert res.value == pytest.approx(_mdes(sse, df), rel=1e-10)
    assert res.extra["df"] == df


@pytest.mark.parametrize(("design", "q", "top"), CROSS_CHECKS)
def test_powerup_mrss_matches_fixed_point(design, q, top):
    # minimum required sample size at the top level: Dong & Maynard's iteration
    # (PowerUpR's mrss.* functions) run to convergence instead of to a 0.1 tolerance
    es = 0.8 * _mdes(*sse_df(design, q))
    x = float(q[top])
    for _ in range(500):
        qq = dict(q, **{top: x})
        sse, df = sse_df(design, qq)
        m = stats.t.ppf(0.975, df) + stats.t.ppf(0.8, df)
        x_new = x * (m * sse / es) ** 2  # SSE^2 is proportional to 1 / top
        if abs(x_new - x) < 1e-11:
            break
        x = 0.5 * (x + x_new)
    params = {k: v for k, v in q.items() if k != top}
    res = ef.power(design, d=es, power=0.8, **effekt_names(design, params))
    name, factor = name_of(design, top)
    assert res.solved == name
    assert res.value == pytest.approx(x * factor, rel=1e-8)
    assert res.counts in ("individuals in total", "blocks in total", "clusters per arm", "sites per arm")


@pytest.mark.parametrize(("design", "q", "top"), CROSS_CHECKS)
def test_powerup_noncentral_power_matches_powerupr_definition(design, q, top):
    # PowerUpR's .power.fun: 1 - pt(t1, df, ncp) + pt(-t1, df, ncp)
    sse, df = sse_df(design, q)
    es = 0.3
    t1 = stats.t.isf(0.025, df)
    ref = stats.nct.sf(t1, df, es / sse) + stats.nct.cdf(-t1, df, es / sse)
    e = effekt_names(design, q)
    got = ef.power(design, d=es, method="noncentral_t", **e).value
    assert got == pytest.approx(ref, abs=1e-9)
    # the multiplier method's power is the inverse of its MDES
    mdes = ef.power(design, power=0.8, **e).value
    assert ef.power(design, d=mdes, **e).value == pytest.approx(0.8, abs=1e-10)


@pytest.mark.parametrize(("design", "q", "top"), CROSS_CHECKS)
def test_powerup_notation_is_accepted_as_documented_aliases(design, q, top):
    # J, K, rho2, rho3 (POWER_ALIASES) give the same answer as effekt's names
    aliased = {k: v for k, v in q.items() if k != "n"}
    aliased.update({k: v for k, v in effekt_names(design, {"n": q["n"]}).items()})
    a = ef.power(design, power=0.8, **aliased).value
    b = ef.power(design, power=0.8, **effekt_names(design, q)).value
    assert a == pytest.approx(b, rel=1e-12)


def test_powerup_covariates_and_r2():
    # CRA2 with covariates: SSE with (1 - r22), (1 - r21); df = J - g - 2 (model 3.1)
    q = {"rho2": 0.2, "n": 20, "J": 40, "r21": 0.5, "r22": 0.6, "g": 1}
    sse = np.sqrt(0.2 * 0.4 / (0.25 * 40) + 0.8 * 0.5 / (0.25 * 40 * 20))
    assert ef.power("cra2", power=0.8, **effekt_names("cra2", q)).value == pytest.approx(_mdes(sse, 37), rel=1e-10)
    # CRA3 with covariates at every level (model 3.2): df = K - g - 2
    q3 = {"rho2": 0.1, "rho3": 0.15, "n": 20, "J": 4, "K": 50, "r21": 0.4, "r22": 0.5, "r23": 0.7, "g": 2}
    sse3 = np.sqrt(
        0.15 * 0.3 / (0.25 * 50) + 0.1 * 0.5 / (0.25 * 200) + 0.75 * 0.6 / (0.25 * 200 * 20)
    )
    assert ef.power("cra3", power=0.8, **effekt_names("cra3", q3)).value == pytest.approx(_mdes(sse3, 46), rel=1e-10)


@pytest.mark.parametrize(
    ("block_effects", "df"), [("fixed", 20 * (15 - 2)), ("constant", 20 * 15 - 20 - 1)]
)
def test_bira2_fixed_and_constant(block_effects, df):
    # models 2.2 and 2.1: SSE = sqrt(1 / (P(1-P) J n)) with their own df
    sse = np.sqrt(1 / (0.25 * 20 * 15))
    res = ef.power("bira2", block_size=15, n_blocks=20, power=0.8, block_effects=block_effects)
    assert res.value == pytest.approx(_mdes(sse, df), rel=1e-10)


def test_bcra3_fixed():
    # model 4.1: SSE = sqrt(rho2/(P(1-P) J K) + (1 - rho2)/(P(1-P) J K n)), df = K (J - 2)
    sse = np.sqrt(0.1 / (0.25 * 44 * 5) + 0.9 / (0.25 * 44 * 5 * 20))
    res = ef.power("bcra3", icc2=0.1, cluster_size=20, clusters_per_site=44, n_blocks=5, power=0.8, block_effects="fixed")
    assert res.value == pytest.approx(_mdes(sse, 5 * 42), rel=1e-10)


def test_powerup_too_few_top_units_is_a_design_error():
    with pytest.raises(ef.DesignError, match="degrees of freedom"):
        ef.power("cra2", icc2=0.1, cluster_size=10, n_clusters=1, power=0.8)
