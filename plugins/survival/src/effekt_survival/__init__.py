"""effekt-survival: time-to-event estimators for effekt.

Estimators (registered in the group ``effekt.estimators``, used through
``effekt.estimate(name, ...)``): ``cox``, ``kaplan_meier``, ``logrank``,
``rmst``, ``aalen_johansen``, ``cause_specific_cox``, ``fine_gray``,
``discrete_time_hazard``, ``mediation_survival``. Their results draw
themselves (``res.plot(ax=None, labels=None)``: Kaplan-Meier curves,
cumulative incidence, a forest of Cox coefficients); the functions
:func:`plot_kaplan_meier` and :func:`plot_cumulative_incidence` draw the same
pictures. Helpers: survival data from weekly register panels
(:func:`first_entry`, :func:`gap_times`) and the checks a reader runs on a
published result (:func:`check_reported_hr`, :func:`information_fraction`).
The option names only these estimators take are in
:mod:`effekt_survival.vocabulary`.
"""

from effekt_survival.aalen_johansen import plot_cumulative_incidence
from effekt_survival.checks import (
    check_reported_hr,
    information_fraction,
    schoenfeld_events,
    se_log_hr_from_events,
)
from effekt_survival.kaplan_meier import plot_kaplan_meier
from effekt_survival.panel import first_entry, gap_times

__version__ = "0.1.0"

__all__ = [
    "check_reported_hr",
    "first_entry",
    "gap_times",
    "information_fraction",
    "plot_cumulative_incidence",
    "plot_kaplan_meier",
    "schoenfeld_events",
    "se_log_hr_from_events",
]
