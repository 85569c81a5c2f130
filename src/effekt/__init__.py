"""effekt: evaluate labour-market and social programmes.

>>> import effekt as ef
>>> "difference_in_means" in set(ef.available()["name"])
True
"""

from importlib.metadata import PackageNotFoundError, version

from effekt import design
from effekt.counts import from_counts
from effekt.errors import DataError, DesignError, EffektError, EffektWarning, EstimationError, PluginError
from effekt.estimators.as_delivered import compare_as_randomised_as_delivered
from effekt.estimators.multiplicity import adjust_pvalues, adjust_results
from effekt.protocol import Estimator, EstimatorTags, PowerCalculator, Synthetic
from effekt.registry import available, estimate, get_estimator, get_power_calculator, power, refresh
from effekt.result import EffectResult, EffectTable, PowerResult

try:
    __version__ = version("effekt")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"

__all__ = [
    "DataError",
    "DesignError",
    "EffectResult",
    "EffectTable",
    "EffektError",
    "EffektWarning",
    "EstimationError",
    "Estimator",
    "EstimatorTags",
    "PluginError",
    "PowerCalculator",
    "PowerResult",
    "Synthetic",
    "__version__",
    "adjust_pvalues",
    "adjust_results",
    "available",
    "compare_as_randomised_as_delivered",
    "design",
    "estimate",
    "from_counts",
    "get_estimator",
    "get_power_calculator",
    "power",
    "refresh",
]
