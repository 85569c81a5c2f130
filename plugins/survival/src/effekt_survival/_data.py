"""Input checks shared by the survival estimators.

Builds on :func:`effekt.data.check_columns` and adds what survival data need:
non-negative times, an event column of codes or labels (``0``/``False`` or the
``censored=`` label is censored, every other value a cause of exit, coded
internally ``1..k`` in sorted order and shown by its label), entry times
before exit times, strata that default to the blocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from effekt.data import Columns, as_frame, check_columns, check_groups_have_both_arms, describe_rows, label
from effekt.errors import DataError, DesignError, warn

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
    event_name: Any = None
    cause_labels: tuple[Any, ...] = ()  # label of cause code k is cause_labels[k - 1]
    notes: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return self.cols.n

    @property
    def n_treated(self) -> int:
        return int(self.z.sum())

    @property
    def n_control(self) -> int:
        return int(self.n - self.z.sum())

    @property
    def arm_labels(self) -> dict[int, Any]:
        """The user's label of each arm: ``{0: control, 1: treated}``."""
        control, treated = self.cols.arms
        return {0: control, 1: treated}

    def warnings(self) -> list[str]:
        return list(self.cols.warnings()) + list(self.notes)

    def label_of(self, code: int) -> Any:
        """The event column's label of cause code ``code`` (1..k)."""
        return self.cause_labels[int(code) - 1]

    def code_of(self, cause: Any, *, estimator: str, competing: bool = False) -> int | None:
        """The internal code (1..k) of the user's ``cause=``.

        ``None`` gives ``None`` (every exit counts) unless ``competing``: then the
        only cause when there is one, else a :class:`DesignError` naming the causes.
        """
        present = ", ".join(repr(c) for c in self.cause_labels) or "none"
        if cause is None:
            if not competing:
                return None
            if len(self.cause_labels) == 1:
                return 1
            if not self.cause_labels:
                raise DataError(f"{estimator}: event column {self.event_name!r} has no events; nothing can be estimated.")
            raise DesignError(
                f"{estimator}: event column {self.event_name!r} holds {len(self.cause_labels)} causes of exit "
                f"({present}); name the one analysed with cause=, e.g. cause={self.cause_labels[0]!r}."
            )
        for k, lab in enumerate(self.cause_labels, start=1):
            try:
                if bool(lab == cause) and isinstance(lab, str) == isinstance(cause, str):
                    return k
            except (TypeError, ValueError):
                continue
        raise DataError(
            f"{estimator}: cause={cause!r} is not a cause of exit in event column {self.event_name!r}; "
            f"its causes are {present} (censored= names the code that is not a cause)."
        )

    def indicator(self, code: int | None) -> np.ndarray:
        """0/1 event of cause ``code`` (``None``: any exit)."""
        return ((self.event > 0) if code is None else (self.event == code)).astype(np.int8)

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


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") and np.ndim(value) == 0 else value


def _check_one_kind(values: pd.Series, event: Any) -> None:
    """DataError when an event column mixes labels with numbers other than 0 (censored), or holds
    values that are neither (e.g. tuples)."""
    found = [_plain(x) for x in pd.unique(values.to_numpy(dtype=object))] if values.size else []
    kinds = {"text" if isinstance(x, str) else "number" if isinstance(x, (bool, int, float)) else type(x).__name__
             for x in found}
    numbers_besides_zero = any(isinstance(x, (bool, int, float)) and x != 0 for x in found)
    if not kinds <= {"text", "number"} or ("text" in kinds and numbers_besides_zero):
        types = sorted({type(x).__name__ for x in found})
        raise DataError(
            f"event column {event!r} mixes values of types {', '.join(types)}; it must hold codes "
            "(0 = censored, 1, 2, ... = causes) or text labels of one kind. Recode it first."
        )


def _event_codes(series: pd.Series, event: Any, censored: Any) -> tuple[np.ndarray, tuple[Any, ...]]:
    """Codes 0 (censored), 1..k (causes in sorted order), NaN where missing; and the cause labels."""
    na = series.isna().to_numpy()
    values = series[~na]
    is_cat = isinstance(series.dtype, pd.CategoricalDtype)
    numeric = (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)) and not is_cat
    if not numeric:
        _check_one_kind(values, event)
    if censored is None:
        if numeric:
            v = values.to_numpy().astype(float)
            bad = (v < 0) | (v != np.round(v))
            if bad.any():
                raise DataError(
                    f"event column {event!r} must hold 0 (censored) or a cause 1, 2, ...; it holds "
                    f"{v[bad][0]:g} in {describe_rows(list(values.index[bad][:6]))}. Recode it, or name the "
                    "value that means censored with censored=."
                )
            censored = False if pd.api.types.is_bool_dtype(series) else 0
        else:
            found = [_plain(x) for x in pd.unique(values)]
            if any(isinstance(x, (bool, np.bool_)) or x == 0 for x in found if not isinstance(x, str)):
                censored = 0
            else:
                shown = ", ".join(repr(x) for x in sorted(found, key=str)[:6])
                raise DataError(
                    f"event column {event!r} holds labels ({shown}) and no 0; name the label that means "
                    "censored with censored=, e.g. censored='censored'."
                )
    found = [_plain(x) for x in pd.unique(values)]
    is_cens = np.asarray(values == censored, dtype=bool) if found else np.zeros(0, dtype=bool)
    if not is_cens.any() and censored not in (0, False):
        shown = ", ".join(repr(x) for x in sorted(found, key=str)[:6])
        raise DataError(
            f"censored={censored!r} is not a value of event column {event!r}; it holds {shown}."
        )
    others = values[~is_cens]
    if is_cat:
        causes = [_plain(c) for c in series.cat.categories if c != censored and (others == c).any()]
    else:
        causes = [_plain(x) for x in pd.unique(others)]
        try:
            causes = sorted(causes)
        except TypeError:
            causes = sorted(causes, key=str)
    codes = np.full(series.size, np.nan)
    vals = np.zeros(values.size)
    obj = others.to_numpy(dtype=object)
    sub = np.zeros(obj.size)
    for k, c in enumerate(causes, start=1):
        sub[obj == c] = k
    vals[~is_cens] = sub
    codes[~na] = vals
    return codes, tuple(causes)


def check_survival(
    data: Any,
    *,
    time: Any,
    event: Any,
    treatment: Any = None,
    arms: Sequence[Any] | None = None,
    censored: Any = None,
    strata: Any = None,
    blocks: Any = None,
    clusters: Any = None,
    covariates: Sequence[Any] | str | None = None,
    entry: Any = None,
    weights: Any = None,
    missing: str = "error",
    estimator: str = "survival",
    strata_need_both_arms: bool = False,
    one_arm_strata: str = "error",
) -> SurvivalColumns:
    """Check the columns of a survival analysis.

    ``strata`` defaults to ``blocks``; passing both with different columns is
    a :class:`DesignError`. With ``strata_need_both_arms`` a stratum holding
    one arm is a :class:`DataError` (``one_arm_strata="error"``) or is kept
    with an :class:`EffektWarning` (``"warn"``: it still informs covariates).
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
    frame = as_frame(data)
    cause_labels: tuple[Any, ...] = ()
    if event in frame.columns:
        codes, cause_labels = _event_codes(frame[event], event, censored)
        frame = frame.copy(deep=False)
        frame[event] = codes
    numeric = {"time": time, "event": event}
    if entry is not None:
        numeric["entry"] = entry
    cols = check_columns(
        frame,
        treatment=treatment,
        arms=arms,
        blocks=strata_name,
        clusters=clusters,
        covariates=covariates,
        weights=weights,
        numeric=numeric,
        missing=missing,
        roles={"blocks": "strata"} if strata is not None else None,
    )
    if cols.X is not None and cols.X.shape[0] > 0:
        constant = np.flatnonzero(np.all(cols.X == cols.X[:1], axis=0))
        if constant.size:
            names = cols.covariate_names or [str(c) for c in cols.covariates]
            name = names[int(constant[0])]
            raise DataError(
                f"{estimator}: covariate {name!r} is {cols.X[0, constant[0]]:g} in every row, so its "
                "coefficient is not identified (a proportional-hazards model has no intercept to absorb it). "
                "Drop it from covariates=."
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
    notes: list[str] = []
    if cols.z is not None and strata_need_both_arms and cols.blocks is not None:
        assert cols.block_labels is not None
        labels = np.array(cols.block_labels.tolist(), dtype=object)  # plain labels in messages
        if one_arm_strata == "error":
            check_groups_have_both_arms(cols.blocks, labels, cols.z, role="stratum", column=strata_name)
        else:
            k = len(labels)
            n_t = np.bincount(cols.blocks, weights=cols.z, minlength=k)
            n_all = np.bincount(cols.blocks, minlength=k)
            bad = np.flatnonzero((n_t == 0) | (n_t == n_all))
            if bad.size:
                shown = ", ".join(label(labels[b]) for b in bad[:5]) + (" ..." if bad.size > 5 else "")
                msg = (
                    f"{bad.size} strat{'a' if bad.size > 1 else 'um'} of column {strata_name!r} ({shown}) "
                    f"hold{'' if bad.size > 1 else 's'} one arm only; they carry no information on the treatment "
                    "effect and are kept because they inform the covariates' coefficients."
                )
                warn(f"{estimator}: {msg}")
                notes.append(msg)
    return SurvivalColumns(
        cols=cols,
        time=t,
        event=e.astype(np.int64),
        entry=ent,
        strata=cols.blocks,
        strata_labels=cols.block_labels,
        strata_name=strata_name,
        event_name=event,
        cause_labels=cause_labels,
        notes=notes,
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


def require_events(sc: SurvivalColumns, *, estimator: str, code: int | None = None) -> None:
    """DataError unless the data hold an event of interest (``code`` None: any cause)."""
    ev = sc.event > 0 if code is None else sc.event == code
    if not ev.any():
        what = "events" if code is None else f"events of cause {sc.label_of(code)!r}"
        raise DataError(
            f"{estimator}: event column {sc.event_name!r} has no {what} among {sc.n} rows; nothing can be "
            "estimated. Check the event coding (0 or the censored= label = censored, other values = causes)."
        )
