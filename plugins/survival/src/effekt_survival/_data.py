"""Input checks shared by the survival estimators.

Builds on :func:`effekt.data.check_columns` and adds what survival data need:
non-negative times, integer event codes ``0 = censored, 1..k = cause``,
entry times before exit times, strata that default to the blocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from effekt.data import Columns, check_columns, check_groups_have_both_arms, describe_rows
from effekt.errors import DataError, DesignError

__all__ = ["SurvivalColumns", "check_survival", "design_of", "rate_wording"]


@dataclass
class SurvivalColumns:
    """Checked survival columns as numpy arrays (rows in input order)."""

    cols: Columns
    time: np.ndarray
    event: np.ndarray  # int: 0 censored, 1..k cause
    entry: np.ndarray | None
    strata: np.ndarray | None  # integer codes
    strata_labels: np.ndarray | None
    strata_name: Any

    @property
    def n(self) -> int:
        return self.cols.n

    @property
    def z(self) -> np.ndarray:
        assert self.cols.z is not None
        return self.cols.z

    @property
    def causes(self) -> np.ndarray:
        return np.unique(self.event[self.event > 0])


def _rows(index: pd.Index | None, mask: np.ndarray) -> str:
    idx = np.flatnonzero(mask) if index is None else index[mask]
    return describe_rows(list(idx[:6]))


def check_survival(
    data: Any,
    *,
    time: Any,
    event: Any,
    treatment: Any = None,
    strata: Any = None,
    blocks: Any = None,
    clusters: Any = None,
    covariates: Sequence[Any] | str | None = None,
    entry: Any = None,
    weights: Any = None,
    missing: str = "error",
    estimator: str = "survival",
    strata_need_both_arms: bool = False,
) -> SurvivalColumns:
    """Check the columns of a survival analysis.

    ``strata`` defaults to ``blocks``; passing both with different columns is
    a :class:`DesignError`.
    """
    if time is None or event is None:
        raise DesignError(
            f"{estimator}: pass time= (the follow-up time column) and event= (0 = censored, "
            "1..k = cause of exit)."
        )
    if strata is not None and blocks is not None and strata != blocks:
        raise DesignError(
            f"{estimator}: strata={strata!r} and blocks={blocks!r} name different columns. strata "
            "defaults to blocks; pass only one of them."
        )
    strata_name = strata if strata is not None else blocks
    numeric = {"time": time, "event": event}
    if entry is not None:
        numeric["entry"] = entry
    cols = check_columns(
        data,
        treatment=treatment,
        blocks=strata_name,
        clusters=clusters,
        covariates=covariates,
        weights=weights,
        numeric=numeric,
        missing=missing,
    )
    t = cols.extra["time"]
    e = cols.extra["event"]
    index = cols.index
    neg = t < 0
    if neg.any():
        raise DataError(
            f"time column {time!r} has {int(neg.sum())} negative value{'s' if neg.sum() != 1 else ''} "
            f"({_rows(index, neg)}, e.g. {t[neg][0]:g}). Follow-up time runs from the origin "
            "(e.g. the randomisation date) and cannot be negative; check the dates that made it."
        )
    bad = (e < 0) | (e != np.round(e))
    if bad.any():
        raise DataError(
            f"event column {event!r} must hold 0 (censored) or a cause 1, 2, ...; it holds "
            f"{e[bad][0]:g} in {_rows(index, bad)}. Recode it."
        )
    ent = None
    if entry is not None:
        ent = cols.extra["entry"]
        late = ent >= t
        if late.any():
            raise DataError(
                f"entry column {entry!r} is not before time column {time!r} in {_rows(index, late)} "
                f"(e.g. entry {ent[late][0]:g}, exit {t[late][0]:g}). A person enters the risk set "
                "before leaving it; drop rows with no time at risk."
            )
        negent = ent < 0
        if negent.any():
            raise DataError(
                f"entry column {entry!r} has negative values in {_rows(index, negent)}; entry "
                "times are measured from the same origin as time and cannot be negative."
            )
    if cols.z is not None and strata_need_both_arms and cols.blocks is not None:
        assert cols.block_labels is not None
        labels = np.array(cols.block_labels.tolist(), dtype=object)  # plain labels in messages
        check_groups_have_both_arms(cols.blocks, labels, cols.z, role="stratum", column=strata_name)
    return SurvivalColumns(
        cols=cols,
        time=t,
        event=e.astype(np.int64),
        entry=ent,
        strata=cols.blocks,
        strata_labels=cols.block_labels,
        strata_name=strata_name,
    )


def design_of(sc: SurvivalColumns) -> str:
    """'clustered' when clusters were given, 'stratified' with strata, else 'simple'."""
    if sc.cols.clusters is not None:
        return "clustered"
    if sc.strata is not None:
        return "stratified"
    return "simple"


def rate_wording(hr: float, what: str = "rate") -> str:
    """'74 % higher rate' from HR 1.74: (HR - 1) x 100 %."""
    pct = (hr - 1.0) * 100.0
    direction = "higher" if pct >= 0 else "lower"
    return f"{abs(pct):.0f} % {direction} {what}"


def require_events(sc: SurvivalColumns, *, estimator: str, cause: int | str | None = None) -> None:
    """DataError unless the data hold an event of interest (``cause`` None or "any": any cause)."""
    anyc = cause is None or cause == "any"
    ev = sc.event > 0 if anyc else sc.event == cause
    if not ev.any():
        what = "events" if anyc else f"events of cause {cause}"
        raise DataError(
            f"{estimator}: the event column has no {what} among {sc.n} rows; nothing can be "
            "estimated. Check the event coding (0 = censored, 1..k = cause)."
        )
