"""effekt: evaluate labour-market and social programmes.

>>> import effekt as ef
>>> "difference_in_means" in set(ef.available()["name"])
True

Public names are imported when first used (PEP 562), so ``import effekt``
and the ``effekt`` command start without loading pandas or scipy.stats.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from effekt._lazy import attribute_loader

#: public name -> the module that defines it ("" for a subpackage)
_NAMES = {
    "DataError": "effekt.errors",
    "DesignError": "effekt.errors",
    "EffektError": "effekt.errors",
    "EffektWarning": "effekt.errors",
    "EstimationError": "effekt.errors",
    "PluginError": "effekt.errors",
    "EffectResult": "effekt.result",
    "EffectTable": "effekt.result",
    "PowerResult": "effekt.result",
    "Estimator": "effekt.protocol",
    "EstimatorTags": "effekt.protocol",
    "PowerCalculator": "effekt.protocol",
    "Synthetic": "effekt.protocol",
    "available": "effekt.registry",
    "estimate": "effekt.registry",
    "get_estimator": "effekt.registry",
    "get_power_calculator": "effekt.registry",
    "power": "effekt.registry",
    "refresh": "effekt.registry",
    "from_counts": "effekt.counts",
    "adjust_pvalues": "effekt.estimators.multiplicity",
    "adjust_results": "effekt.estimators.multiplicity",
    "compare_as_randomised_as_delivered": "effekt.estimators.as_delivered",
    "design": "",
}

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

_getattr, _dir = attribute_loader(__name__, _NAMES, globals())


def __dir__() -> list[str]:
    return sorted({*_dir(), "__version__"})


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("effekt")
        except PackageNotFoundError:  # running from a source tree without installation
            value = "0.0.0"
        globals()["__version__"] = value
        return value
    return _getattr(name)


if TYPE_CHECKING:
    from effekt import design
    from effekt.counts import from_counts
    from effekt.errors import DataError, DesignError, EffektError, EffektWarning, EstimationError, PluginError
    from effekt.estimators.as_delivered import compare_as_randomised_as_delivered
    from effekt.estimators.multiplicity import adjust_pvalues, adjust_results
    from effekt.protocol import Estimator, EstimatorTags, PowerCalculator, Synthetic
    from effekt.registry import available, estimate, get_estimator, get_power_calculator, power, refresh
    from effekt.result import EffectResult, EffectTable, PowerResult

    __version__: str
