"""effekt-power: sample size, power and minimal detectable effects for effekt's designs.

Every calculator is registered in the entry-point group ``effekt.power`` and
called through ``effekt.power(name, **params)``: leave out exactly one of the
sample size, ``power``, the effect or ``alpha`` (``alpha=None``), and the
calculator solves for it. Inputs may be arrays (numpy broadcasting), giving
arrays out. See docs/power.md.

The functions below are imported when first used (PEP 562), so that loading
one calculator does not load the others (``simulate_power`` needs pandas).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_WHERE = {
    "design_effect": "effekt_power.cluster",
    "did_variance": "effekt_power.did",
    "event_probability": "effekt_power.survival",
    "exact_mcnemar_power": "effekt_power.mcnemar",
    "fisher_power": "effekt_power.proportions",
    "simulate_power": "effekt_power.simulate",
}

__all__ = [
    "design_effect",
    "did_variance",
    "event_probability",
    "exact_mcnemar_power",
    "fisher_power",
    "simulate_power",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*__all__, "__version__", *(k for k in globals() if k.startswith("__"))})


if TYPE_CHECKING:
    from effekt_power.cluster import design_effect
    from effekt_power.did import did_variance
    from effekt_power.mcnemar import exact_mcnemar_power
    from effekt_power.proportions import fisher_power
    from effekt_power.simulate import simulate_power
    from effekt_power.survival import event_probability
