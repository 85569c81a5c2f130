"""effekt-observational: comparisons without a randomised control group.

Propensity scores, matching, weighting, doubly robust difference-in-differences,
synthetic control and multilevel outcome models, registered with effekt
through the entry-point group ``effekt.estimators``.

Estimators (``effekt.estimate(name, ...)``): ``matching``, ``ipw``,
``entropy_balancing``, ``aipw``. Functions: :func:`propensity_score`
(scores and overlap diagnostics) and :func:`balance_of` (the balance before
and after of a matching or weighting result).
"""

from effekt_observational.balance import BalanceComparison, balance_of, weighted_balance
from effekt_observational.propensity import PropensityScores, balancing_weights, propensity_score

__version__ = "0.1.0"
__all__ = ["__version__", "BalanceComparison", "PropensityScores", "balance_of", "balancing_weights",
           "propensity_score", "weighted_balance"]
