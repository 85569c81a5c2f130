"""The power contract: one quantity left out, errors that say what to do, JSON, plots, CLI,
registration, and simulate_power cross-checking the analytic formulas."""

import json
import shutil
import subprocess
import sys

import matplotlib
import numpy as np
import pandas as pd
import pytest

import effekt as ef
from effekt import EffectResult
from effekt_power import simulate_power

matplotlib.use("Agg")

NAMES = [
    "two_proportions", "two_means", "paired_t", "mcnemar", "schoenfeld", "freedman", "logrank", "correlation",
    "cluster", "ira", "bira2", "cra2", "bcra3", "cra3", "did", "capacity", "simulation",
]


def test_every_calculator_is_registered_by_the_distribution():
    table = ef.available()
    power = table[table["group"] == "effekt.power"].set_index("name")
    for name in NAMES:
        assert power.loc[name, "distribution"] == "effekt-power"
        assert power.loc[name, "status"] == "ok"
        assert isinstance(ef.get_power_calculator(name)(), ef.PowerCalculator)


# -- bad input --------------------------------------------------------------------------------
def test_proportion_outside_unit_interval():
    with pytest.raises(ef.DesignError, match=r"p1=1.2 is not valid; p1 must be a number in \(0, 1\)"):
        ef.power("two_proportions", p1=1.2, n=100, power=0.8)


def test_proportion_outside_unit_interval_in_a_grid_names_the_position():
    with pytest.raises(ef.DesignError, match=r"p2 .* at grid position \(2,\) \(1 of 3 values\)"):
        ef.power("two_proportions", p1=0.1, p2=[0.2, 0.3, 0.0], n=100)


def test_power_not_above_alpha():
    with pytest.raises(ef.DesignError, match="power must exceed alpha.*power=0.04 and alpha=0.05"):
        ef.power("two_means", d=0.3, power=0.04)


def test_nothing_left_out_names_the_quantities():
    with pytest.raises(ef.DesignError, match=r"nothing to solve for. Leave out exactly one of n .*power, p2, alpha"):
        ef.power("two_proportions", p1=0.1, p2=0.2, n=100, power=0.8)


def test_two_left_out_names_them():
    with pytest.raises(ef.DesignError, match=r"2 quantities were left out \(power, n \(per arm"):
        ef.power("two_proportions", p1=0.1, p2=0.2)


def test_unknown_parameter_lists_the_accepted_ones():
    with pytest.raises(ef.DesignError, match=r"unknown parameter\(s\) 'efect'.*takes .*d"):
        ef.power("two_means", efect=0.3, n=20)


def test_unknown_method_lists_the_choices():
    with pytest.raises(ef.DesignError, match="method='exact' is not valid; method must be one of 'pooled'"):
        ef.power("two_proportions", p1=0.1, p2=0.2, n=50, method="exact")


def test_bad_alternative():
    with pytest.raises(ef.DesignError, match="alternative='bigger' is not valid; alternative must be one of 'two-sided', 'greater', 'less'"):
        ef.power("correlation", r=0.3, n=50, alternative="bigger")


def test_equal_proportions_have_no_effect():
    with pytest.raises(ef.DesignError, match="p1 and p2 are equal"):
        ef.power("two_proportions", p1=0.2, p2=0.2, power=0.8)


def test_yates_correction_with_arcsine():
    with pytest.raises(ef.DesignError, match="correction='yates' applies to the 'pooled' and 'unpooled'"):
        ef.power("two_proportions", p1=0.1, p2=0.2, n=50, method="arcsine", correction="yates")


@pytest.mark.parametrize("bad", [True, "fleiss", "Yates"])
def test_correction_is_a_name(bad):
    # correction is a string everywhere (the vocabulary); a bool cannot say which correction
    with pytest.raises(ef.DesignError, match=r"correction=.* is not valid; correction must be one of 'none', 'yates'"):
        ef.power("two_proportions", p1=0.1, p2=0.2, n=50, correction=bad)


def test_continuity_is_gone():
    with pytest.raises(ef.DesignError, match=r"unknown parameter\(s\) 'continuity'"):
        ef.power("two_proportions", p1=0.1, p2=0.2, n=50, continuity=True)


def test_fisher_needs_whole_numbers():
    with pytest.raises(ef.DesignError, match="whole numbers of units; got n1=50.5"):
        ef.power("two_proportions", p1=0.1, p2=0.3, n=50.5, method="fisher")


def test_hr_of_one():
    with pytest.raises(ef.DesignError, match="hr = 1 means no effect"):
        ef.power("schoenfeld", hr=1.0, power=0.8)


def test_unreachable_power_says_what_to_do():
    with pytest.raises(ef.DesignError, match="no n1 in .* reaches power 0.9.*Ask for less power"):
        ef.power("two_proportions", p1=0.1, p2=0.12, n2=50, power=0.9)


def test_logrank_needs_an_event_rate():
    with pytest.raises(ef.DesignError, match="give hazard= .* or median="):
        ef.power("logrank", hr=1.5, power=0.8, follow_up=2.0)


def test_icc_out_of_range():
    with pytest.raises(ef.DesignError, match=r"icc=1.5 is not valid; icc must be a number in \[0, 1\)"):
        ef.power("cluster", d=0.3, cluster_size=10, icc=1.5, power=0.8)


def test_n_and_n1_together():
    with pytest.raises(ef.DesignError, match="n1 is PowerUp!/short notation for n; give one of them, not both"):
        ef.power("two_means", d=0.3, n=10, n1=10)


def test_strings_where_numbers_belong():
    with pytest.raises(ef.DesignError, match="n='many' is not valid; n must be a number > 0"):
        ef.power("two_means", d=0.3, n="many")


# -- results ------------------------------------------------------------------------------------
def test_to_dict_is_json_with_grids():
    res = ef.power("two_means", n=[20, 40], power=0.8)
    out = json.loads(json.dumps(res.to_dict()))
    assert out["solved"] == "d"
    assert len(out["value"]) == 2
    assert out["inputs"]["method"] == "t"


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("two_proportions", {"p1": 0.1, "n": 100, "power": 0.8}),
        ("two_means", {"d": 0.4, "power": 0.8}),
        ("schoenfeld", {"hr": 1.5, "power": 0.8}),
        ("cra2", {"icc2": 0.1, "cluster_size": 20, "n_clusters": 15, "power": 0.8}),
        ("cra2", {"rho2": 0.1, "cluster_size": 20, "J": 30, "power": 0.8}),  # PowerUp!'s J counts both arms' clusters
        ("did", {"effect": 0.3, "n2": 10, "n_clusters": 20, "cluster_size": 30, "icc": 0.05}),
        ("correlation", {"n": [30, 60, 90], "power": 0.8}),
    ],
)
def test_plot_returns_a_figure(name, params):
    fig = ef.power(name, **params).plot()
    assert isinstance(fig, matplotlib.figure.Figure)
    ax = fig.axes[0]
    assert ax.get_ylabel() == "power"
    assert len(ax.lines) >= 2


def test_plot_against_the_effect():
    fig = ef.power("two_proportions", p1=0.1, n=100, power=0.8).plot()
    assert fig.axes[0].get_xlabel() == "p2"
    fig2 = ef.power("two_proportions", p1=0.1, p2=0.25, n=100).plot(x="p2")
    ys = fig2.axes[0].lines[0].get_ydata()
    assert np.all(np.diff(ys) > 0)


# -- CLI through the console script ---------------------------------------------------------------
def _effekt():
    exe = shutil.which("effekt", path=str(__import__("pathlib").Path(sys.executable).parent))
    assert exe is not None, "the effekt console script is not installed beside this Python"
    return exe


def test_cli_json():
    out = subprocess.run(
        [_effekt(), "power", "two_proportions", "--p1", "0.10", "--n", "100", "--power", "0.8", "--json"],
        capture_output=True, text=True, check=True,
    )
    data = json.loads(out.stdout)
    assert data["solved"] == "p2"
    assert data["value"] == pytest.approx(0.2496, abs=5e-5)  # seed 004, section 2.4


def test_cli_grid_and_method():
    out = subprocess.run(
        [_effekt(), "power", "schoenfeld", "--hr", "1.74,1.23", "--power", "0.8", "--json"],
        capture_output=True, text=True, check=True,
    )
    data = json.loads(out.stdout)
    assert data["value"] == pytest.approx([102.34, 732.6], abs=0.05)  # seed 004, section 4.12


def test_cli_bad_input_is_a_message_not_a_traceback():
    out = subprocess.run(
        [_effekt(), "power", "two_proportions", "--p1", "1.5", "--n", "100", "--power", "0.8"],
        capture_output=True, text=True,
    )
    assert out.returncode != 0
    assert "p1 must be a number in (0, 1)" in out.stderr
    assert "Traceback" not in out.stderr


# -- simulate_power ------------------------------------------------------------------------------
def _two_arm(n, d):
    def draw(rng):
        z = np.repeat([0, 1], n)
        return pd.DataFrame({"y": rng.normal(d * z), "z": z})

    return draw


def test_simulate_power_agrees_with_t_formula():
    sims, n, d = 400, 40, 0.5
    res = simulate_power("difference_in_means", _two_arm(n, d), sims=sims, seed=2024, outcome="y", treatment="z")
    analytic = ef.power("two_means", d=d, n=n).value
    assert res.solved == "power"
    assert abs(res.value - analytic) < 4 * np.sqrt(analytic * (1 - analytic) / sims)
    assert res.extra["conf_int"][0] < res.value < res.extra["conf_int"][1]
    assert res.extra["mean_estimate"] == pytest.approx(d, abs=4 * res.extra["sd_estimate"] / np.sqrt(sims))


def test_simulate_power_size_under_the_null():
    sims = 400
    res = ef.power(
        "simulation", estimator="difference_in_means", generate=_two_arm(30, 0.0), sims=sims, seed=5,
        outcome="y", treatment="z",
    )
    assert abs(res.value - 0.05) < 4 * np.sqrt(0.05 * 0.95 / sims)


class _WelchT:
    """A minimal estimator (scipy's Welch t test) to show any class plugs in."""

    name, estimand, kind = "welch_t", "ate", "itt"

    def fit(self, data, *, outcome, treatment):
        from scipy import stats

        y, z = data[outcome].to_numpy(), data[treatment].to_numpy()
        a, b = y[z == 1], y[z == 0]
        se = np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
        t = stats.ttest_ind(a, b, equal_var=False)
        return EffectResult.from_t(a.mean() - b.mean(), se, t.df, estimator=self.name, estimand="ate", term="z", n=y.size)


def test_simulate_power_takes_a_class_and_is_reproducible():
    a = simulate_power(_WelchT, _two_arm(25, 0.6), sims=120, seed=9, outcome="y", treatment="z")
    b = simulate_power(_WelchT, _two_arm(25, 0.6), sims=120, seed=9, outcome="y", treatment="z")
    assert a.value == b.value
    assert a.inputs["estimator"] == "welch_t"


def test_simulate_power_bad_generate():
    with pytest.raises(ef.DesignError, match="must return a pandas DataFrame"):
        simulate_power(_WelchT, lambda rng: [1, 2, 3], sims=3, seed=1, outcome="y", treatment="z")


def test_simulate_power_bad_sims():
    with pytest.raises(ef.DesignError, match="sims=0 is not valid; sims must be a whole number >= 1"):
        simulate_power(_WelchT, _two_arm(5, 0.1), sims=0)


def test_simulation_calculator_refuses_power():
    with pytest.raises(ef.DesignError, match="power is what the simulation estimates"):
        ef.power("simulation", estimator="welch", generate=_two_arm(5, 0.1), power=0.8)


def test_simulated_fisher_estimator_agrees_with_exact_fisher_power():
    # the package's `fisher` estimator, simulated, against the exact power of method="fisher"
    sims, n = 400, 40

    def draw(rng):
        z = np.repeat([0, 1], n)
        return pd.DataFrame({"y": rng.binomial(1, np.where(z == 1, 0.5, 0.2)), "z": z})

    res = simulate_power("fisher", draw, sims=sims, seed=17, outcome="y", treatment="z")
    exact = ef.power("two_proportions", p1=0.2, p2=0.5, n=n, method="fisher").value
    assert abs(res.value - exact) < 4 * np.sqrt(exact * (1 - exact) / sims)


def test_simulated_clustered_difference_in_means_agrees_with_cluster_formula():
    # cluster-randomised data analysed with CR2 standard errors vs the design-effect t formula
    sims, k, m, icc, d = 300, 10, 15, 0.1, 0.6

    def draw(rng):
        cluster = np.repeat(np.arange(2 * k), m)
        z = (cluster < k).astype(int)
        u = rng.normal(0, np.sqrt(icc), 2 * k)[cluster]
        y = d * z + u + rng.normal(0, np.sqrt(1 - icc), cluster.size)
        return pd.DataFrame({"y": y, "z": z, "g": cluster})

    res = simulate_power("difference_in_means", draw, sims=sims, seed=23, outcome="y", treatment="z", clusters="g")
    analytic = ef.power("cluster", d=d, n_clusters=k, cluster_size=m, icc=icc).value
    assert abs(res.value - analytic) < 4 * np.sqrt(analytic * (1 - analytic) / sims)


def test_cli_solves_alpha_when_asked_with_none():
    out = subprocess.run(
        [_effekt(), "power", "two_means", "--d", "0.5", "--n", "64", "--power", "0.8", "--alpha", "none", "--json"],
        capture_output=True, text=True, check=True,
    )
    data = json.loads(out.stdout)
    assert data["solved"] == "alpha"
    from statsmodels.stats.power import TTestIndPower

    ref = TTestIndPower().solve_power(0.5, nobs1=64, alpha=None, power=0.8)
    assert data["value"] == pytest.approx(ref, rel=1e-6)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("two_proportions", {"p1": 0.3, "p2": 0.2, "power": 0.8, "alternative": "greater"}),
        ("two_means", {"d": -0.3, "power": 0.8, "alternative": "greater"}),
        ("schoenfeld", {"hr": 0.7, "power": 0.8, "alternative": "greater"}),
        ("correlation", {"r": 0.3, "power": 0.8, "alternative": "less"}),
    ],
)
def test_effect_against_the_one_sided_alternative(name, params):
    with pytest.raises(ef.DesignError, match="points the other way. Use alternative="):
        ef.power(name, **params)


@pytest.mark.parametrize(
    ("name", "params", "xlabel"),
    [
        ("paired_t", {"d": 0.4, "power": 0.8}, "n"),
        ("mcnemar", {"p01": 0.1, "n": 200, "power": 0.8}, "p10"),
        ("freedman", {"hr": 1.5, "power": 0.8}, "events"),
        ("logrank", {"n": 300, "power": 0.8, "hazard": 0.2, "follow_up": 2}, "hr"),
        ("cluster", {"d": 0.3, "cluster_size": 20, "icc": 0.05, "power": 0.8}, "n_clusters"),
        ("ira", {"n_total": 200, "power": 0.8}, "d"),
        ("bira2", {"d": 0.2, "icc2": 0.2, "omega2": 0.1, "block_size": 20, "power": 0.8}, "n_blocks"),
        ("bcra3", {"d": 0.3, "icc2": 0.1, "icc3": 0.1, "omega3": 0.2, "cluster_size": 10, "clusters_per_site": 4,
                   "power": 0.8}, "n_blocks"),
        ("cra3", {"d": 0.3, "icc2": 0.1, "icc3": 0.1, "cluster_size": 10, "clusters_per_site": 4, "power": 0.8},
         "n_sites"),
        ("did", {"n2": 50, "effect": 0.2, "cluster_size": 30, "icc": 0.05, "power": 0.8}, "n_clusters"),
        ("capacity", {"n2": 100, "p1": 0.1, "p2": 0.2, "power": 0.8}, "n1"),
        ("two_proportions", {"p1": 0.1, "p2": 0.3, "power": 0.8, "method": "fisher"}, "n1"),
    ],
)
def test_every_calculator_draws_its_curve(name, params, xlabel):
    fig = ef.power(name, **params).plot()
    ax = fig.axes[0]
    assert ax.get_xlabel() == xlabel
    ys = ax.lines[0].get_ydata()
    assert np.all((ys >= 0) & (ys <= 1))


def test_plot_refuses_a_large_grid():
    with pytest.raises(ef.DesignError, match="plot at most 12"):
        ef.power("two_means", d=np.linspace(0.1, 1, 20), power=0.8).plot()


def test_fisher_power_needs_whole_numbers():
    from effekt_power import fisher_power

    with pytest.raises(ef.DesignError, match="whole sample sizes"):
        fisher_power(10.5, 10, 0.1, 0.5, 0.05)
