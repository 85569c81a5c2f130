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
    bad = st.assign(first_treated=st.first_treated.where(st.index > 5, -1))
    with pytest.raises(ef.DataError, match=r"hold \[-1.0\], which are not periods of the data"):
        ef.estimate("event_study", data=bad, outcome="y", unit="unit", period="period", first_treated="first_treated")


@pytest.mark.parametrize("relabel", ["biennial", "year_week"])
def test_event_study_counts_event_time_in_periods(relabel):
    # the same panel with time as every other year, or as uneven year-week codes, gives the
    # same leads and lags as with periods 1..6
    import numpy as np

    import effekt as ef
    from effekt_did.callaway_santanna import simulate_staggered

    st = simulate_staggered(np.random.default_rng(3), n_units=200, n_times=6, cohorts=(3, 4, 5), effect=1.0)
    if relabel == "biennial":
        mapping = {t: 2010 + 2 * t for t in range(1, 7)}
    else:
        mapping = dict(zip(range(1, 7), [202450, 202451, 202452, 202501, 202502, 202503]))
    other = st.assign(period=st.period.map(mapping), first_treated=st.first_treated.map(lambda g: mapping.get(g, 0)))
    spec = dict(outcome="y", unit="unit", period="period", first_treated="first_treated")
    base = ef.estimate("event_study", data=st, **spec)
    moved = ef.estimate("event_study", data=other, **spec)
    assert base.terms == moved.terms
    np.testing.assert_allclose(moved.tidy()["estimate"], base.tidy()["estimate"], rtol=1e-10, atol=1e-12)
