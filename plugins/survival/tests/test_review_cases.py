"""Bad-input cases found in review."""

import pytest


def test_an_arm_without_events_is_a_monotone_likelihood_error():
    import numpy as np
    import pandas as pd

    import effekt as ef

    df = pd.DataFrame({"z": np.tile([0, 1], 50), "time": np.arange(100) % 19 + 1.0, "event": np.tile([1, 0], 50)})
    with pytest.raises(ef.EstimationError, match="treated arm has no events"):
        ef.estimate("discrete_time_hazard", data=df, time="time", event="event", treatment="z")


def test_first_entry_warns_when_no_one_reaches_a_cause():
    # a misspelt event state ("jobb") would otherwise censor everyone without a word
    import pandas as pd

    import effekt as ef
    from effekt_survival import first_entry

    panel = pd.DataFrame({"id": [1] * 5 + [2] * 5, "week": list(range(5)) * 2,
                          "state": ["c", "c", "job", "c", "c", "c", "c", "c", "c", "pension"]})
    persons = pd.DataFrame({"id": [1, 2], "z": [0, 1], "origin": [0, 0]})
    with pytest.warns(ef.EffektWarning, match=r"no person enters cause 1's state\(s\) \['jobb'\]"):
        first_entry(panel, persons, person="id", week="week", state="state", origin="origin",
                    events={1: ["jobb"], 2: ["pension"]}, extract=4)


def test_kaplan_meier_says_when_the_horizon_is_past_follow_up():
    import numpy as np
    import pandas as pd

    import effekt as ef

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"z": rng.integers(0, 2, 100), "time": rng.integers(1, 20, 100).astype(float),
                       "event": rng.integers(0, 2, 100)})
    res = ef.estimate("kaplan_meier", data=df, time="time", event="event", treatment="z", horizon=50)
    assert any("beyond the last follow-up time" in w for w in res.warnings)
    inside = ef.estimate("kaplan_meier", data=df, time="time", event="event", treatment="z", horizon=5)
    assert not any("beyond" in w for w in inside.warnings)
