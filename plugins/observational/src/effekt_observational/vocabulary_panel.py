"""The option names of the panel and multilevel estimators of effekt-observational.

``drdid`` (doubly robust DiD), ``synthetic_control``, ``synthetic_did`` and
``multilevel``. Registered with effekt's vocabulary through the entry point
``[project.entry-points."effekt.vocabulary"] observational_panel =
"effekt_observational.vocabulary_panel:TERMS"``. Shared names (``outcome``,
``treatment``, ``unit``, ``period``, ``post``, ``covariates``, ``clusters``,
``weights``, ``method``, ``term``, ``sims``, ``seed``, ``alpha``,
``missing``) are the core's; each estimator narrows them with ``options``.
"""

from __future__ import annotations

from effekt.vocabulary import Choice, Code, ColumnNames, Flag, Number, Term

__all__ = ["TERMS", "SE_CONVENTIONS", "PREDICTOR_WEIGHTS"]

_SRC = "effekt-observational"

#: how an influence-function variance divides: by n (DRDID >= 1.2.3) or n - 1 (DRDID < 1.2.3)
SE_CONVENTIONS = ("n", "n-1")
#: how a synthetic control weighs its predictors
PREDICTOR_WEIGHTS = ("nested", "regression", "equal")

TERMS: tuple[Term | Code, ...] = (
    Term("se_convention", "The divisor of an influence-function variance: 'n' (sqrt(sum psi^2) / n, DRDID "
         ">= 1.2.3) or 'n-1' (sd(psi) / sqrt(n), DRDID < 1.2.3), which is larger by sqrt(n / (n - 1)).",
         Choice(SE_CONVENTIONS), "'n'",
         "DRDID's current convention (1.2.3 unified its analytic standard errors on it); 'n-1' reproduces "
         "the output printed in DRDID's manual and earlier releases.",
         ("drdid",), source=_SRC),
    Term("trim_level", "Comparison units whose propensity score is at or above this level get no weight "
         "(DRDID's trim.level); treated units are never trimmed.",
         Number(low=0, high=1, low_open=True), "0.995", "DRDID's default since 1.2.2.",
         ("drdid",), source=_SRC),
    Term("predictor_weights", "How a synthetic control weighs its predictors (the diagonal V): 'nested' "
         "(V minimising the pre-period fit of the outcome, Abadie, Diamond & Hainmueller 2010), "
         "'regression' (V from each predictor's regression weight on the pre-period outcomes, Kaul et "
         "al. 2022) or 'equal' (standardised predictors, equal weight).",
         Choice(PREDICTOR_WEIGHTS), "'nested'", "Synth's method; 'regression' is faster and deterministic.",
         ("synthetic_control",), source=_SRC),
    Term("zeta", "The ridge penalty of synthetic DiD's unit weights, in the outcome's units.",
         Number(low=0, none_ok=True), "None: (N_treated T_post)^(1/4) times the sd of the comparison units' "
         "first differences before the start (Arkhangelsky et al. 2021, sec. 2.2)",
         "The paper's and R synthdid's choice.", ("synthetic_did",), source=_SRC),
    Term("groups", "The grouping columns of a multilevel model, outermost level first (e.g. "
         "['jobcentre', 'caseworker']); each level below is nested in the one above.",
         ColumnNames(), "required", "One list for two or three levels, in the order people say them "
         "(citizens in caseworkers in job centres reads right to left).", ("multilevel",), source=_SRC),
    Term("random_slopes", "Covariates whose slope varies between the outermost groups (lme4's "
         "(1 + x | group)), correlated with the random intercept.",
         ColumnNames(), "None: random intercepts only", families=("multilevel",), source=_SRC),
    Term("reml", "Fit by restricted maximum likelihood (True) or maximum likelihood (False).",
         Flag(), "True", "lme4's default: unbiased variance components; use False to compare fixed "
         "effects by likelihood-ratio tests.", ("multilevel",), source=_SRC),
    Code("design", "synthetic_control", "synthetic control (few treated aggregate units)", source=_SRC),
    Code("design", "multilevel", "multilevel (nested groups)", source=_SRC),
)
