"""The option names only the observational estimators use, and their estimand and design codes.

Registered with effekt's vocabulary through the entry point
``[project.entry-points."effekt.vocabulary"] observational = "effekt_observational.vocabulary:TERMS"``.
Shared names (``outcome``, ``treatment``, ``covariates``, ``clusters``, ``weights``,
``alpha``, ``seed``, ``missing``, ...) are the core's.
"""

from __future__ import annotations

from effekt.vocabulary import Code, Term

__all__ = ["TERMS"]

_SRC = "effekt-observational"

TERMS: tuple[Term | Code, ...] = ()
