"""A study: the pre-analysis plan in one TOML file, run into results and a report.

>>> from effekt.study import Study
>>> Study.__name__
'Study'

See ``docs/study.md`` for the file's keys. :meth:`Study.from_toml` reads and
checks a file (nothing in it is executed; every path stays inside the study's
folder); :meth:`Study.run` runs the plan and writes ``results.json``,
``report.html`` and ``figures/``. The command line: ``effekt run study.toml --out DIR``.
"""

from __future__ import annotations

from effekt.study.runner import StudyRun
from effekt.study.sources import normalise, read_source
from effekt.study.spec import (
    ALTERNATIVES,
    FORMATS,
    ROLES,
    TYPES,
    Analysis,
    DataSource,
    LogSpec,
    PowerSpec,
    Study,
    StudyError,
)

__all__ = [
    "Study", "StudyRun", "StudyError", "Analysis", "DataSource", "LogSpec", "PowerSpec",
    "read_source", "normalise", "ROLES", "TYPES", "FORMATS", "ALTERNATIVES",
]
