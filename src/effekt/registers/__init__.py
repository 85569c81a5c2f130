"""Register data preparation: weekly state panels, windows, run-length outcomes, spells, rates, checks.

Evaluations without a control group (Flere skal med, CTI job focus) are
built from weekly benefit-status registers, municipal reports and surveys.
This package turns such registers into the figures those reports print, with
the definitions named and the arithmetic checked:

* :mod:`effekt.registers.panel` -- person x week state panels, index dates,
  follow-up and look-back windows (fixed, calendar, corresponding period),
  per-person indicators with person-time, group summaries;
* :mod:`effekt.registers.runs` -- run-length outcomes ("3 consecutive
  months in any of ...") and attainment per municipality against a target;
* :mod:`effekt.registers.monitor` -- shares over time by group, point-in-time
  and ever since index, with a plot;
* :mod:`effekt.registers.spells` -- deduplication of overlapping spells by
  configurable rules with a per-person audit;
* :mod:`effekt.registers.rates` -- Wilson / Clopper-Pearson intervals, funnel
  plots and empirical-Bayes shrinkage of small-area rates;
* :mod:`effekt.registers.surveys` -- WHO-5 and GSE scoring, norms, two-wave
  comparisons (unpaired and paired bounds), attrition tables;
* :mod:`effekt.registers.projections` -- enrolment projections (ratio,
  target-based, capacity-based) per site and in total;
* :mod:`effekt.registers.outofcore` -- the window indicators and run lengths
  of a register larger than memory, computed by DuckDB from Parquet;
* :mod:`effekt.registers.checks` -- report arithmetic: percentages
  recomputed from counts, sums within rounding, round half up;
* :mod:`effekt.registers.drift` -- baseline characteristics by entry cohort.
"""

from effekt.registers.checks import (
    check_percentages,
    check_pooled,
    check_sums,
    counts_from_percent,
    round_half_up,
)
from effekt.registers.drift import cohort_drift
from effekt.registers.monitor import monitor_shares
from effekt.registers.panel import (
    StatePanel,
    Window,
    follow_up,
    follow_up_bounds,
    look_back,
    month_of,
    summarise_windows,
    week_of,
    window_indicators,
)
from effekt.registers.projections import project_enrolment
from effekt.registers.rates import change_index, proportion_ci, small_area_rates
from effekt.registers.runs import attainment, run_length
from effekt.registers.spells import SpellPeriod, deduplicate
from effekt.registers.surveys import (
    attrition,
    compare_to_norm,
    compare_waves,
    mcnemar_bounds,
    score_gse,
    score_who5,
)

__all__ = [
    "SpellPeriod",
    "StatePanel",
    "Window",
    "attainment",
    "attrition",
    "change_index",
    "check_percentages",
    "check_pooled",
    "check_sums",
    "cohort_drift",
    "compare_to_norm",
    "compare_waves",
    "counts_from_percent",
    "deduplicate",
    "follow_up",
    "follow_up_bounds",
    "look_back",
    "mcnemar_bounds",
    "month_of",
    "monitor_shares",
    "project_enrolment",
    "proportion_ci",
    "round_half_up",
    "run_length",
    "score_gse",
    "score_who5",
    "small_area_rates",
    "summarise_windows",
    "week_of",
    "window_indicators",
]
