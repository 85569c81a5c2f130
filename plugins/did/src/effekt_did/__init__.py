"""effekt-did: difference-in-differences estimators for effekt.

Registered estimators (entry-point group ``effekt.estimators``): ``did_2x2``,
``twfe``, ``event_study``, ``callaway_santanna``, ``wild_cluster_bootstrap``,
``per_unit_effects``, ``change_index``, ``dose_did``, ``sun_abraham`` and
``imputation``; :mod:`effekt_did.pretrends` computes the power of pre-trend
tests. Two helpers work
from published figures rather than data: :func:`did_2x2_from_means` and
:func:`change_index`.
"""

from effekt_did.change_index import change_index
from effekt_did.did_2x2 import did_2x2_from_means

__version__ = "0.1.0"
__all__ = ["change_index", "did_2x2_from_means", "__version__"]
