"""Bad-input cases found in review."""

import pytest


def test_an_arm_without_events_is_a_monotone_likelihood_error():
    import numpy as np
    import pandas as pd

    import effekt as ef

    df = pd.DataFrame({"z": np.tile([0, 1], 50), "time": np.arange(100) % 19 + 1.0, "event": np.tile([1, 0], 50)})
    with pytest.raises(ef.EstimationError, match="treated arm has no events"):
        ef.estimate("discrete_time_hazard", data=df, time="time", event="event", treatment="z")
