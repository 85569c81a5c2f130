"""simulate_power checks its own options and the simulated estimator's before drawing anything,
and reads an EffectTable's headline row, not its first row."""

import numpy as np
import pandas as pd
import pytest

import effekt as ef
from effekt import EffectResult, EffectTable
from effekt_power import simulate_power


class _Counter:
    """generate() that counts its calls: a check done before any simulation leaves it at 0."""

    def __init__(self):
        self.calls = 0

    def __call__(self, rng):
        self.calls += 1
        z = np.repeat([0, 1], 10)
        return pd.DataFrame({"y": rng.normal(0.5 * z), "z": z})


@pytest.mark.parametrize(
    ("option", "value"),
    [("sims", 2.5), ("seed", "abc"), ("alpha", "0.05"), ("alpha", 1.5), ("sims", 0), ("n_jobs", 0)],
)
def test_bad_simulation_option_is_refused_before_any_draw(option, value):
    draw = _Counter()
    kw = {"sims": 5, "seed": 1, option: value}
    with pytest.raises(ef.DesignError, match=rf"simulate_power: {option}=.* is not valid; {option} must be"):
        simulate_power("difference_in_means", draw, outcome="y", treatment="z", **kw)
    assert draw.calls == 0


def test_unknown_estimator_option_is_refused_before_any_draw():
    draw = _Counter()
    with pytest.raises(ef.DesignError, match=r"difference_in_means takes no option 'cluster'.*Did you mean 'clusters'"):
        simulate_power("difference_in_means", draw, sims=5, seed=1, outcome="y", treatment="z", cluster="g")
    assert draw.calls == 0


def test_bad_value_of_an_estimator_option_is_refused_before_any_draw():
    draw = _Counter()
    with pytest.raises(ef.DesignError, match=r"difference_in_means: missing='skip' is not valid; missing must be"):
        simulate_power("difference_in_means", draw, sims=5, seed=1, outcome="y", treatment="z", missing="skip")
    assert draw.calls == 0


def test_unknown_option_is_refused_when_generate_supplies_the_columns():
    # a Synthetic's spec names the columns, so only the names (and values) given are checked up front
    draw = _Counter()
    with pytest.raises(ef.DesignError, match=r"takes no option 'cluster'"):
        simulate_power("difference_in_means", draw, sims=5, seed=1, cluster="g")
    assert draw.calls == 0


class _TwoRowTable:
    """A table estimator whose first row never rejects and whose headline row always does."""

    name, estimand, kind = "two_row_table", "ate", "itt"

    def fit(self, data, *, outcome, treatment):
        n = len(data)
        first = EffectResult.from_t(0.0, 1.0, 10.0, estimator=self.name, estimand="ate", term="subgroup", n=n)
        head = EffectResult.from_t(10.0, 1.0, 10.0, estimator=self.name, estimand="ate", term="overall", n=n)
        return EffectTable(estimator=self.name, rows=(first, head), headline_term="overall")


def test_an_effect_table_is_read_at_its_headline_row():
    res = simulate_power(_TwoRowTable, _Counter(), sims=20, seed=3, outcome="y", treatment="z")
    # rows[0] (p = 1) would give power 0; the headline row (t = 10 on 10 df, p < 1e-5) gives 1
    assert res.value == 1.0
    assert res.extra["mean_estimate"] == 10.0


def test_heterogeneity_is_simulated_at_its_overall_row():
    def draw(rng):
        z = np.tile([0, 1], 40)
        g = np.repeat(["a", "b"], 40)
        return pd.DataFrame({"y": rng.normal(0.8 * z), "z": z, "g": g})

    res = simulate_power("heterogeneity", draw, sims=30, seed=4, outcome="y", treatment="z", moderators=["g"])
    one = ef.get_estimator("heterogeneity")().fit(
        draw(np.random.default_rng(0)), outcome="y", treatment="z", moderators=["g"]
    )
    assert one.headline.term == "overall"
    # the mean simulated estimate is the overall effect (0.8), not a subgroup's or a difference
    assert res.extra["mean_estimate"] == pytest.approx(0.8, abs=4 * res.extra["sd_estimate"] / np.sqrt(30))
