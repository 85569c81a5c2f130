"""The option names only the observational estimators use, and their estimand and design codes.

Registered with effekt's vocabulary through the entry point
``[project.entry-points."effekt.vocabulary"] observational = "effekt_observational.vocabulary:TERMS"``.
Shared names (``outcome``, ``treatment``, ``covariates``, ``clusters``, ``weights``,
``alpha``, ``seed``, ``missing``, ...) are the core's. The terms below serve the
propensity-score, matching and weighting estimators; other modules of this
distribution that need the same concept import these Term objects rather than
define their own (a second definition with another meaning is refused).
"""

from __future__ import annotations

from effekt.vocabulary import Anything, Choice, Code, ColumnNames, Flag, Number, Term

__all__ = ["TERMS", "ESTIMANDS", "DISTANCES", "estimand_choice"]

_SRC = "effekt-observational"

#: the estimands a matching or weighting estimator may target
ESTIMANDS = ("ate", "att", "atc", "ato")
#: how matching measures the distance between two units
DISTANCES = ("scaled", "mahalanobis", "propensity")



def estimand_choice(*codes: str) -> Choice:
    """The estimand constraint narrowed to ``codes``, upper-case spellings (R's) accepted."""
    return Choice(tuple(codes), aliases={c.upper(): c for c in codes})


TERMS: tuple[Term | Code, ...] = (
    Term("estimand", "The population the effect is averaged over: 'ate' (everyone), 'att' (the treated), "
         "'atc' (the controls) or 'ato' (the overlap population, weights e(1-e)).",
         estimand_choice(*ESTIMANDS),
         "the estimator's documented default ('att' for matching and entropy balancing, 'ate' for ipw and aipw)",
         "R Matching's and WeightIt's choice of name; the codes are the result's estimand field.",
         ("matching", "ipw", "aipw", "entropy_balancing"), source=_SRC),
    Term("classifier", "The propensity-score model: 'logistic' (unpenalised logistic regression), "
         "'gradient_boosting', or any scikit-learn classifier with predict_proba.",
         Anything("'logistic', 'gradient_boosting' or a scikit-learn classifier"), "'logistic'",
         "The logistic model is the one the balance and M-estimation literature assumes; a flexible model "
         "is one option away.",
         ("propensity_score", "matching", "ipw", "aipw"), source=_SRC),
    Term("regressor", "The outcome model of a doubly robust estimator, fitted in each arm: 'linear' or any "
         "scikit-learn regressor.",
         Anything("'linear' or a scikit-learn regressor"), "'linear'",
         "Linear regression in each arm is the textbook AIPW outcome model.", ("aipw",), source=_SRC),
    Term("folds", "Folds of cross-fitting: each unit's propensity (and outcome prediction) comes from models "
         "fitted on the other folds.",
         Number(low=2, integer=True, none_ok=True), "None: no cross-fitting (aipw: 5)",
         "Cross-fitting removes the own-observation bias of flexible models (Chernozhukov et al. 2018).",
         ("propensity_score", "ipw", "aipw"), source=_SRC),
    Term("matches", "Units of the other arm matched to each unit (k in k:1 matching; R Matching's M).",
         Number(low=1, integer=True), "1", "R Matching's default.", ("matching",), source=_SRC),
    Term("replace", "Match with replacement (a control may serve several treated units).",
         Flag(), "True", "R Matching's default; the Abadie-Imbens variance is derived for it.",
         ("matching",), source=_SRC),
    Term("tied_matches", "Keep every unit as near as the last match (distances within 1e-5 of it, R Matching's "
         "distance.tolerance), sharing the weight; False keeps exactly the nearest, the first in the data on a tie.",
         Flag(), "True", "R Match()'s default (ties=TRUE). On large data many units fall within the tolerance; "
         "tied_matches=False is then faster (R's ties=FALSE).", ("matching",), source=_SRC),
    Term("distance", "How matching measures closeness: 'scaled' (Euclidean on covariates divided by their "
         "SDs, R Matching's Weight=1), 'mahalanobis' (Weight=2) or 'propensity' (the logit of the estimated "
         "propensity score).",
         Choice(DISTANCES), "'scaled'", "R Match()'s default, so a plain call reproduces it.",
         ("matching",), source=_SRC),
    Term("caliper", "Largest allowed distance of a match, in standard deviations: of each covariate "
         "(distance 'scaled' or 'mahalanobis', as R Matching) or of the logit propensity score ('propensity', "
         "as MatchIt). Units without a match inside it are dropped and counted.",
         Number(low=0, low_open=True, none_ok=True), "None: no caliper", families=("matching",), source=_SRC),
    Term("exact", "Columns matched exactly (municipality, entry cohort): a unit is matched only within its "
         "cell of these columns.",
         ColumnNames(), "None: no exact matching", families=("matching",), source=_SRC),
    Term("bias_adjust", "Abadie-Imbens (2011) bias adjustment: correct each match by a regression of the "
         "outcome on the covariates in the matched controls.",
         Flag(), "False", "R Matching's default (BiasAdjust=FALSE).", ("matching",), source=_SRC),
    Term("trim", "Drop units with extreme propensity scores before estimating: 'crump' (Crump et al. 2009 "
         "optimal rule) or a number a in (0, 0.5) keeping a <= e <= 1 - a.",
         Anything("'crump' or a number in (0, 0.5)"), "None: no trimming",
         "Trimming changes the estimand to the kept population, so it is never a silent default.",
         ("propensity_score", "ipw", "aipw"), source=_SRC),
    Code("estimand", "atc", "average treatment effect on the controls", source=_SRC),
    Code("estimand", "ato", "average treatment effect in the overlap population", source=_SRC),
    Code("design", "matched", "matched comparison", source=_SRC),
    Code("design", "weighted", "weighted comparison", source=_SRC),
)
