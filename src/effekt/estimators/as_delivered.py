"""As-randomised and as-delivered analyses of one trial, side by side.

When part of a trial was delivered in other arms than drawn (the Copenhagen
resource-course trial, VIVE 2019: three whole batches swapped, 72 of 218 people), two analyses answer two questions:

* **as randomised** (intention to treat on the drawn allocation): the effect
  of being drawn for the intervention, protected by the randomisation;
* **as delivered**: the comparison of the arms people actually got. When
  whole batches were swapped it is still a random split within each batch,
  so it remains a randomised comparison unless the swap was related to
  outcomes; that trial's evaluators reported only this one.

:func:`compare_as_randomised_as_delivered` runs one registered estimator
(through :func:`effekt.estimate`) on both data sets of an
:class:`~effekt.design.allocation_audit.Audit` and returns the two results with a tidy
table that stacks them, so the sensitivity of the conclusion to the
allocation error is read in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from effekt.design.allocation_audit import Audit
from effekt.errors import DesignError
from effekt.registry import estimate
from effekt.result import EffectResult, EffectTable

__all__ = ["AnalysisPair", "compare_as_randomised_as_delivered"]


@dataclass(frozen=True)
class AnalysisPair:
    """Both analyses: ``table`` (tidy rows with an ``analysis`` column) and the two results."""

    table: pd.DataFrame
    as_randomised: EffectResult | EffectTable
    as_delivered: EffectResult | EffectTable

    @property
    def difference(self) -> float:
        """As-delivered minus as-randomised estimate (single-term results)."""
        if not isinstance(self.as_randomised, EffectResult) or not isinstance(self.as_delivered, EffectResult):
            raise DesignError("difference is defined for single-term results; compare the rows of table instead.")
        return self.as_delivered.estimate - self.as_randomised.estimate


def compare_as_randomised_as_delivered(
    estimator: str,
    audit: Audit,
    data: Any,
    *,
    treated: Any,
    treatment: str = "z",
    on: str | None = None,
    **spec: Any,
) -> AnalysisPair:
    """Run one estimator on the as-randomised and the as-delivered data.

    Estimand: whatever ``estimator`` estimates, once with treatment = the
    drawn arm and once with treatment = the delivered arm (module notes).

    Parameters
    ----------
    estimator : str
        A registered estimator name (see :func:`effekt.available`).
    audit : Audit
        From :func:`effekt.design.audit`.
    data : DataFrame
        Outcome data for the audited units.
    treated : arm label
        The arm coded 1 (e.g. ``"treatment"``); the other arm is coded 0.
    treatment : str, default "z"
        Name of the 0/1 column the two data sets get and the estimator reads.
    on : str, optional
        Identifier column of ``data``; None matches row by row.
    **spec
        Passed to the estimator (``outcome=``, ``blocks=``, ``se_type=``, ...).

    Returns
    -------
    AnalysisPair
        ``table`` has the estimator's tidy columns plus ``analysis``
        (``"as randomised"``, ``"as delivered"``) and ``n_dropped`` (units
        with no delivered arm, left out of the as-delivered analysis).

    Raises
    ------
    DesignError
        ``treatment`` names a column the data already have (it would be
        overwritten), or ``treatment=``/``assignment=`` passed in ``spec``.
    DataError, EstimationError
        From the audit's data sets or the estimator.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from effekt import design
    >>> rng = np.random.default_rng(1)
    >>> units = pd.DataFrame({"id": range(40), "batch": np.repeat(["a", "b"], 20),
    ...                       "randomised": np.tile(["treatment", "control"], 20)})
    >>> units["delivered"] = np.where(units.batch == "b",
    ...     np.where(units.randomised == "treatment", "control", "treatment"), units.randomised)
    >>> y = pd.DataFrame({"id": range(40), "y": rng.normal(size=40), "batch": units.batch})
    >>> pair = compare_as_randomised_as_delivered("difference_in_means", design.audit(units), y,
    ...     treated="treatment", on="id", outcome="y", blocks="batch")
    >>> pair.table["analysis"].tolist()
    ['as randomised', 'as delivered']
    """
    if "assignment" in spec or "treatment" in spec:
        raise DesignError("the treatment comes from the audit; do not pass assignment= or treatment= in the options.")
    frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
    if treatment in frame.columns:
        raise DesignError(
            f"treatment={treatment!r} is already a column of the data; the two analyses write the randomised and "
            "delivered arms into it. Choose another name with treatment=."
        )
    randomised, delivered = audit.datasets(frame, on=on, column=treatment, treated=treated)
    res_r = estimate(estimator, data=randomised, treatment=treatment, **spec)
    res_d = estimate(estimator, data=delivered, treatment=treatment, **spec)
    tidy_r = res_r.tidy().assign(analysis="as randomised", n_dropped=0)
    tidy_d = res_d.tidy().assign(analysis="as delivered", n_dropped=int(delivered.attrs.get("dropped", 0)))
    table = pd.concat([tidy_r, tidy_d], ignore_index=True)
    table = table[["analysis", *[c for c in table.columns if c != "analysis"]]]
    return AnalysisPair(table=table, as_randomised=res_r, as_delivered=res_d)
