"""effekt-observational: comparisons without a randomised control group.

Propensity scores, matching, weighting, doubly robust difference-in-differences,
synthetic control and multilevel outcome models, registered with effekt
through the entry-point group ``effekt.estimators``.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
