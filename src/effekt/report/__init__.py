"""Reports of a study: one HTML file with its figures, and tables of several models.

* :class:`Report`: sections in order (CONSORT flow, balance, planned
  estimates with adjusted p-values, figures, power, allocation log,
  deviations), written as a self-contained ``report.html`` and
  ``figures/<name>.png``/``.svg``.
* :class:`PlannedEstimate`: one row of the estimates table.
* :func:`table`: several models side by side (R's modelsummary, fixest's
  etable), usable on its own.
* :func:`format_number`: how every number in a report is printed
  (decimal comma in Danish, rounding half up).
"""

from __future__ import annotations

from effekt.report._format import (
    LANGUAGES,
    format_ci,
    format_count,
    format_number,
    format_p,
    format_value,
    label,
)
from effekt.report._report import PlannedEstimate, Report
from effekt.report._table import ResultsTable, table

__all__ = [
    "LANGUAGES",
    "PlannedEstimate",
    "Report",
    "ResultsTable",
    "format_ci",
    "format_count",
    "format_number",
    "format_p",
    "format_value",
    "label",
    "table",
]
