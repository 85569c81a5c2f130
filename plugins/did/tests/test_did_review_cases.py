"""Bad-input cases found in review."""

import pytest


def test_treatment_that_changes_within_a_unit_is_a_data_error():
    import numpy as np

    import effekt as ef
    from effekt_did.twfe import simulate_panel

    p = simulate_panel(np.random.default_rng(1), n_units=30, n_times=6, effect=1.5)
    i = p.index[p.unit == 0][0]
    p.loc[i, "treated"] = 1 - p.loc[i, "treated"]
    with pytest.raises(ef.DataError, match="must be constant within each unit of 'unit'"):
        ef.estimate("did_2x2", data=p, outcome="y", unit="unit", treatment="treated", post="post")


def test_constant_outcome_is_an_error_not_a_significant_effect():
    import numpy as np

    import effekt as ef
    from effekt_did.twfe import simulate_panel

    p = simulate_panel(np.random.default_rng(1), n_units=30, n_times=6, effect=1.5)
    with pytest.raises(ef.EstimationError, match="fit the outcome exactly"):
        ef.estimate("did_2x2", data=p.assign(y=1.0), outcome="y", unit="unit", treatment="treated", post="post")


def test_event_study_refuses_a_first_treated_period_not_in_the_data():
    import numpy as np

    import effekt as ef
    from effekt_did.callaway_santanna import simulate_staggered

    st = simulate_staggered(np.random.default_rng(3), n_units=200, n_times=6, cohorts=(3, 4, 5), effect=1.0)
    bad = st.assign(first_treat=st.first_treat.where(st.index > 5, -1))
    with pytest.raises(ef.DataError, match=r"hold \[-1.0\], which are not periods of the data"):
        ef.estimate("event_study", data=bad, outcome="y", unit="unit", time="time", treatment="first_treat")
