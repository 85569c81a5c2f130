"""simulate_power of the DiD plugin's event study uses its headline (renamed options period=, first_treated=)."""

import numpy as np
import pandas as pd

from effekt_power import simulate_power


def _panel(rng: np.random.Generator) -> pd.DataFrame:
    units, periods = 200, 6
    unit = np.repeat(np.arange(units), periods)
    period = np.tile(np.arange(1, periods + 1), units)
    first = np.where(np.arange(units) < units // 2, 4, 0)[unit]
    treated = (first > 0) & (period >= first)
    y = rng.normal(size=units)[unit] + 0.1 * period + 1.0 * treated + rng.normal(size=unit.size)
    return pd.DataFrame({"y": y, "unit": unit, "period": period, "first_treated": first})


def test_event_study_power_with_true_effect_one():
    res = simulate_power("event_study", _panel, sims=50, seed=1, outcome="y", unit="unit",
                         period="period", first_treated="first_treated")
    assert res.value > 0.9
