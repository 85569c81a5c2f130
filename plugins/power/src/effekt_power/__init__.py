"""effekt-power: sample size, power and minimal detectable effects for effekt's designs.

Every calculator is registered in the entry-point group ``effekt.power`` and
called through ``effekt.power(name, **params)``: leave out exactly one of the
sample size, ``power``, the effect or ``alpha`` (``alpha=None``), and the
calculator solves for it. Inputs may be arrays (numpy broadcasting), giving
arrays out. See docs/power.md.
"""

from effekt_power.cluster import design_effect
from effekt_power.did import did_variance
from effekt_power.mcnemar import exact_mcnemar_power
from effekt_power.proportions import fisher_power
from effekt_power.simulate import simulate_power
from effekt_power.survival import event_probability

__version__ = "0.1.0"

__all__ = [
    "design_effect",
    "did_variance",
    "event_probability",
    "exact_mcnemar_power",
    "fisher_power",
    "simulate_power",
]
