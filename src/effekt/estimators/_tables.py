"""Shared machinery of the contingency-table estimators.

Reading individual-level data into a table of counts, the Wilson and
Newcombe intervals, the effect measures of a 2 x 2 table and the
:class:`~effekt.result.EffectResult` they become. Each public estimator
(``risk_difference``, ``risk_ratio``, ``odds_ratio``, ``chi2``, ``fisher``,
``g_test``) is a thin module on top of this one.

Orientation
-----------
Inside this module a table of counts is ``counts[g, k]``: one row per arm
(for two arms: row 0 treated, row 1 control) and one column per outcome
category (for a binary outcome: column 0 the event, column 1 no event).
This is the orientation of statsmodels' ``Table2x2``, so that
``a / (a + b)`` is the risk in the treated arm and ``c / (c + d)`` in the
control arm for ``[[a, b], [c, d]]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from effekt.data import (
    as_frame,
    check_columns,
    check_groups_have_both_arms,
    check_option,
    describe_rows,
    group_codes,
)
from effekt.errors import DataError, DesignError, EstimationError
from effekt.protocol import Synthetic
from effekt.result import EffectResult, check_alpha
from effekt.vocabulary import Choice, Constraint, Label, Number

# the options every table estimator narrows from the vocabulary
ALTERNATIVE = Choice(("two-sided", "greater", "less"))
MISSING = Choice(("error", "drop"))
POSITIVE = Label()
MEASURES = Choice(("risk_difference", "risk_ratio", "odds_ratio", "cramers_v"), none_ok=True)
SIMS = Number(low=1, integer=True)

__all__ = [
    "Table",
    "read_table",
    "wilson_interval",
    "newcombe_interval",
    "risk_difference_result",
    "measure_result",
    "simulate_binary",
    "MEASURES_2X2",
    "with_test",
    "expected_counts_warning",
    "prepare_treatment",
    "ArmLabels",
]

MEASURES_2X2 = ("risk_difference", "risk_ratio", "odds_ratio")


@dataclass
class Table:
    """A table of counts read from individual-level data.

    ``counts[g, k]`` counts the units of arm ``g`` with outcome category
    ``k``. ``arms`` and ``categories`` are the labels of rows and columns;
    for two arms row 0 is the treated arm. ``event`` is the column index of
    the event (the ``positive=`` level) when the outcome is binary and the
    event is known, else None.
    """

    counts: np.ndarray
    arms: tuple[Any, ...]
    categories: tuple[Any, ...]
    event: int | None
    n: int
    dropped: int = 0
    names: dict[str, Any] = field(default_factory=dict)
    strata: np.ndarray | None = None
    block_labels: tuple[Any, ...] = ()

    @property
    def is_2x2(self) -> bool:
        return self.counts.shape == (2, 2)

    def binary(self) -> tuple[int, int, int, int]:
        """``(a, b, c, d)``: treated events, treated non-events, control
        events, control non-events."""
        if not self.is_2x2 or self.event is None:
            raise DesignError("internal: binary() needs a 2 x 2 table with a known event.")
        other = 1 - self.event
        a, b = int(self.counts[0, self.event]), int(self.counts[0, other])
        c, d = int(self.counts[1, self.event]), int(self.counts[1, other])
        return a, b, c, d

    def warnings(self) -> list[str]:
        if self.dropped:
            return [f"{self.dropped} rows with missing values were dropped (missing='drop')."]
        return []

    def extra(self) -> dict[str, Any]:
        """The table itself, JSON-safe, for ``EffectResult.extra``."""
        return {
            "table": self.counts.astype(int).tolist(),
            "table_rows": [_label(a) for a in self.arms],
            "table_columns": [_label(c) for c in self.categories],
        }


def _label(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _outcome_values(frame: pd.DataFrame, outcome: Any, missing: str) -> tuple[pd.DataFrame, np.ndarray, int]:
    """The outcome column as an array; rows with a missing outcome raise or
    (``missing="drop"``) are dropped and counted."""
    if not isinstance(outcome, (str, int)) or isinstance(outcome, bool):
        raise DataError(f"outcome= must name a column; got {outcome!r}.")
    if outcome not in frame.columns:
        cols = ", ".join(repr(c) for c in list(frame.columns)[:20])
        raise DataError(
            f"outcome={outcome!r}: no such column. The data have {cols}. "
            "Check the spelling or add the column."
        )
    series = frame[outcome]
    na = series.isna().to_numpy()
    if na.any():
        if missing == "error":
            raise DataError(
                f"outcome column {outcome!r} has {int(na.sum())} missing value"
                f"{'s' if na.sum() != 1 else ''} ({describe_rows(frame.index[na])}). Nothing is "
                "dropped silently: remove or impute them, or pass missing='drop' to drop those "
                "rows and report how many."
            )
        frame = frame.loc[~na]
        series = series.loc[~na]
        if frame.shape[0] == 0:
            raise DataError(f"every row has a missing value in outcome column {outcome!r}; nothing is left.")
    values = series.to_numpy()
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        as_float = values.astype(float)
        bad = ~np.isfinite(as_float)
        if bad.any():
            raise DataError(
                f"outcome column {outcome!r} has {int(bad.sum())} infinite value"
                f"{'s' if bad.sum() != 1 else ''} ({describe_rows(frame.index[bad])}). Replace "
                "them with finite numbers or drop those rows."
            )
    return frame, values, int(na.sum())


def drop_missing_treatment(
    frame: pd.DataFrame, values: np.ndarray, treatment: Any, missing: str, *others: Any
) -> tuple[pd.DataFrame, np.ndarray, int]:
    """With ``missing="drop"``, drop rows whose treatment (or another named
    column, e.g. blocks) is missing, by position so that duplicated index
    labels are safe, and count them."""
    columns = [c for c in (treatment, *others) if isinstance(c, (str, int)) and c in frame.columns]
    if missing != "drop" or not columns:
        return frame, values, 0
    keep = frame[columns].notna().all(axis=1).to_numpy()
    if keep.all():
        return frame, values, 0
    if not keep.any():
        raise DataError(f"every row has a missing value in column {columns[0]!r}; nothing is left.")
    return frame.loc[keep], values[keep], int((~keep).sum())


class ArmLabels(Constraint):
    """Two or more distinct arm labels: ``(control, treated)``, or every arm
    of an r x c table (``chi2``, ``fisher``, ``g_test``)."""

    none_ok = True

    def _check(self, value: Any, option: str, owner: str) -> Any:
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            self._fail(value, option, owner)
        if len(value) < 2 or any(isinstance(v, (list, tuple, dict, set)) or v is None for v in value):
            self._fail(value, option, owner)
        try:
            distinct = len(set(value)) == len(value)
        except TypeError:
            self._fail(value, option, owner)
        if not distinct:
            self._fail(value, option, owner, "Name each arm once.")
        return tuple(value)

    def describe(self) -> str:
        return "(control, treated) labels, or a tuple of every arm's label"


def _is_zero_one(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return True
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value) in (0.0, 1.0)
    return False


def prepare_treatment(
    frame: pd.DataFrame, treatment: Any, arms: Sequence[Any] | None, estimator: str, *, multi_arm: bool = False
) -> pd.DataFrame:
    """A categorical or object treatment column holding 0/1 becomes numeric
    0/1; one holding labels, without ``arms=``, raises a DataError that names
    the labels and asks the user to say which arm is the programme (never
    ordering them alphabetically: the order sets the sign of the effect)."""
    if arms is not None or not isinstance(treatment, (str, int)) or treatment not in frame.columns:
        return frame
    series = frame[treatment]
    if pd.api.types.is_bool_dtype(series) or (
        pd.api.types.is_numeric_dtype(series) and not isinstance(series.dtype, pd.CategoricalDtype)
    ):
        return frame
    present = series.dropna()
    values = list(pd.unique(present.to_numpy(dtype=object)))
    if values and all(_is_zero_one(v) for v in values):
        as_float = pd.Series(
            np.where(series.isna().to_numpy(), np.nan, [float(v) if _is_zero_one(v) else np.nan for v in series]),
            index=series.index,
        )
        frame = frame.copy()
        frame[treatment] = as_float
        return frame
    labels = [_label(v) for v in values]
    shown = " and ".join(repr(v) for v in labels[:2]) if len(labels) == 2 else ", ".join(repr(v) for v in labels[:6])
    if len(labels) == 2:
        a, b = labels
        advice = (
            f"Say which arm is the control and which the programme with arms=(control, treated): "
            f"arms=({a!r}, {b!r}) if {b!r} is the programme, or arms=({b!r}, {a!r}) if {a!r} is. "
            "effekt does not guess, because the order sets the sign of the effect."
        )
    else:
        advice = (
            "Declare the arms with arms=(control, treated) to compare two of them"
            + (", or list every arm in arms= for a table of all of them." if multi_arm else ".")
        )
    raise DataError(
        f"{estimator}: treatment column {treatment!r} holds the labels {shown}, not 0 (control) and "
        f"1 (treated). {advice}"
    )


def _multi_arm(frame: pd.DataFrame, treatment: Any, arms: Sequence[Any]) -> np.ndarray:
    """Arm codes 0..k-1 for a treatment with k > 2 declared arms."""
    if treatment not in frame.columns:
        cols = ", ".join(repr(c) for c in list(frame.columns)[:20])
        raise DataError(
            f"treatment={treatment!r}: no such column. The data have {cols}. "
            "Check the spelling or add the column."
        )
    series = frame[treatment]
    na = series.isna().to_numpy()
    if na.any():
        raise DataError(
            f"treatment column {treatment!r} has {int(na.sum())} missing value"
            f"{'s' if na.sum() != 1 else ''} ({describe_rows(frame.index[na])}). Remove them, "
            "or pass missing='drop'."
        )
    if len(set(arms)) != len(arms):
        raise DesignError(f"arms= lists an arm twice: {list(arms)!r}. Name each arm once.")
    codes = np.full(frame.shape[0], -1, dtype=np.int64)
    values = series.to_numpy()
    for j, arm in enumerate(arms):
        codes[values == arm] = j
    other = codes < 0
    if other.any():
        found = sorted({str(v) for v in series[other].unique()})
        raise DataError(
            f"treatment column {treatment!r} holds {', '.join(found[:5])} in "
            f"{describe_rows(frame.index[other])}, which is none of the declared arms "
            f"{list(arms)!r}. Drop those rows first or declare every arm."
        )
    sizes = np.bincount(codes, minlength=len(arms))
    empty = [arms[int(j)] for j in np.flatnonzero(sizes == 0)]
    if empty:
        raise DataError(
            f"arm {empty[0]!r} of treatment column {treatment!r} has no units. Every declared "
            "arm needs units; drop it from arms= or check the rows selected."
        )
    return codes


def read_table(
    data: Any,
    *,
    outcome: Any,
    treatment: Any,
    arms: Sequence[Any] | None = None,
    positive: Any = None,
    missing: str = "error",
    binary: bool = False,
    multi_arm: bool = False,
    blocks: Any = None,
    estimator: str = "estimator",
) -> Table:
    """Cross-tabulate individual-level data into a :class:`Table`.

    ``binary=True`` requires a two-category outcome with a known event:
    0/1 (or bool, event 1), or any two labels with ``positive=`` naming the
    one that counts as the event.
    ``multi_arm=True`` allows ``arms=`` to declare more than two arms.
    ``blocks`` also tabulates each block (``Table.strata``); every block
    needs both arms.
    """
    check_option(missing, "missing", ("error", "drop"))
    frame = as_frame(data)
    if frame.shape[0] == 0:
        raise DataError("the data have no rows.")
    frame, y, dropped_y = _outcome_values(frame, outcome, missing)
    frame, y, dropped_z = drop_missing_treatment(frame, y, treatment, missing, blocks)
    frame = prepare_treatment(frame, treatment, arms, estimator, multi_arm=multi_arm)
    dropped = dropped_y + dropped_z
    block_codes: np.ndarray | None = None
    block_labels: tuple[Any, ...] = ()
    if arms is not None and not isinstance(arms, (str, bytes)) and len(arms) > 2:
        if not multi_arm:
            raise DesignError(
                f"{estimator} compares two arms; arms= names {len(arms)}: {list(arms)!r}. "
                "Compare one pair at a time, or use chi2, fisher or g_test for an r x c table."
            )
        if blocks is not None:
            raise DesignError(
                f"{estimator}: blocks= (a stratified test) needs two arms; arms= names "
                f"{len(arms)}. Compare two arms at a time within blocks."
            )
        g = _multi_arm(frame, treatment, arms)
        arm_labels: tuple[Any, ...] = tuple(arms)
    else:
        cols = check_columns(frame, treatment=treatment, arms=arms, blocks=blocks, missing="error")
        assert cols.z is not None
        g = (1 - cols.z).astype(np.int64)  # row 0 = treated, row 1 = control
        arm_labels = (cols.arms[1], cols.arms[0])
        if cols.blocks is not None and cols.block_labels is not None:
            check_groups_have_both_arms(cols.blocks, cols.block_labels, cols.z, role="block", column=blocks)
            block_codes = cols.blocks
            block_labels = tuple(cols.block_labels.tolist())
    codes, categories = group_codes(pd.Series(y), outcome, "outcome")
    categories_t = tuple(categories.tolist())
    k = len(categories_t)
    event_index: int | None = None
    if positive is not None:
        matches = [i for i, c in enumerate(categories_t) if c == positive]
        if not matches:
            shown = ", ".join(repr(_label(c)) for c in categories_t[:6])
            raise DataError(
                f"positive={positive!r} does not occur in outcome column {outcome!r}, which holds "
                f"{shown}. Name one of those values as the event (if no unit had the event, "
                "recode the outcome to 0/1)."
            )
        event_index = matches[0]
    if event_index is None and k == 2 and {_label(c) for c in categories_t} <= {0, 1}:  # True == 1, False == 0
        event_index = 1  # sorted: (0, 1) or (False, True)
    if binary:
        if k > 2:
            shown = ", ".join(repr(c) for c in categories_t[:6])
            raise DataError(
                f"{estimator} needs a binary outcome; column {outcome!r} holds {k} values "
                f"({shown}{' ...' if k > 6 else ''}). Recode it to 0/1, or use chi2, fisher or "
                "g_test for a table with more outcome categories."
            )
        if event_index is None:
            as_set = {_label(c) for c in categories_t}
            if not as_set <= {0, 1}:  # True == 1, False == 0
                shown = " and ".join(repr(_label(c)) for c in categories_t)
                raise DataError(
                    f"{estimator}: outcome column {outcome!r} holds {shown}, not 0/1. Say which "
                    f"value counts as the event with positive= (one of {shown}), or recode to 0/1."
                )
            ones = [i for i, c in enumerate(categories_t) if _label(c) in (1, True)]
            if ones:
                event_index = ones[0]
        if k == 1:
            # the outcome takes one value: add the absent category as an empty column
            only = _label(categories_t[0])
            if event_index is None:  # every unit is a non-event (0)
                categories_t = (categories_t[0], 1 if not isinstance(only, bool) else True)
                event_index = 1
            elif isinstance(only, (bool, int)):
                categories_t = (categories_t[0], 0 if not isinstance(only, bool) else False)
            else:
                categories_t = (categories_t[0], f"not {only}")
            k = 2
    n_groups = len(arm_labels)
    counts = np.zeros((n_groups, k), dtype=np.int64)
    np.add.at(counts, (g, codes), 1)
    strata = None
    if block_codes is not None:
        strata = np.zeros((len(block_labels), n_groups, k), dtype=np.int64)
        np.add.at(strata, (block_codes, g, codes), 1)
    if k == 2 and event_index == 1:  # event first: [[a, b], [c, d]] as in Table2x2
        counts = counts[:, ::-1].copy()
        strata = None if strata is None else strata[:, :, ::-1].copy()
        categories_t = categories_t[::-1]
        event_index = 0
    if binary and event_index is None:
        raise DataError(f"{estimator}: could not tell the event in outcome column {outcome!r}; pass positive=.")
    return Table(
        counts=counts,
        arms=arm_labels,
        categories=categories_t,
        event=event_index,
        n=int(counts.sum()),
        dropped=dropped,
        strata=strata,
        block_labels=block_labels,
        names={"outcome": outcome, "treatment": treatment, "blocks": blocks},
    )


# -- intervals -----------------------------------------------------------------


def _z(alpha: float) -> float:
    return float(stats.norm.isf(alpha / 2.0))


def wilson_interval(x: float, n: float, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson (1927) score interval for a binomial proportion ``x / n``.

    ``(p + z^2/(2n) -/+ z sqrt(p(1-p)/n + z^2/(4n^2))) / (1 + z^2/n)``,
    Newcombe (1998a), method 3, without continuity correction.

    >>> tuple(round(v, 4) for v in wilson_interval(3, 109))
    (0.0094, 0.0778)
    """
    z = _z(alpha)
    p = x / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2.0 * n)) / denom
    half = z * math.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_interval(x1: float, n1: float, x0: float, n0: float, alpha: float = 0.05) -> tuple[float, float]:
    """Newcombe (1998b) hybrid score interval for ``x1/n1 - x0/n0``.

    With Wilson limits ``(l1, u1)`` and ``(l0, u0)`` of each proportion:
    ``low = d - sqrt((p1 - l1)^2 + (u0 - p0)^2)``,
    ``high = d + sqrt((u1 - p1)^2 + (p0 - l0)^2)`` (method 10).

    >>> tuple(round(v, 3) for v in newcombe_interval(3, 109, 14, 109))
    (-0.179, -0.03)
    """
    p1, p0 = x1 / n1, x0 / n0
    l1, u1 = wilson_interval(x1, n1, alpha)
    l0, u0 = wilson_interval(x0, n0, alpha)
    d = p1 - p0
    return (
        d - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2),
        d + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2),
    )


# -- effect measures of a 2 x 2 table -------------------------------------------


def _rd_parts(a: int, b: int, c: int, d: int) -> tuple[float, float, int, int]:
    n1, n0 = a + b, c + d
    p1, p0 = a / n1, c / n0
    return p1, p0, n1, n0


def _zero_cells(estimator: str, measure: str, a: int, b: int, c: int, d: int, zero_cell: str) -> tuple[float, ...]:
    cells = (a, b, c, d)
    if min(cells) > 0:
        return tuple(float(v) for v in cells)
    if zero_cell == "haldane":
        return tuple(v + 0.5 for v in cells)
    names = ("treated events", "treated non-events", "control events", "control non-events")
    zeros = [names[i] for i, v in enumerate(cells) if v == 0]
    raise EstimationError(
        f"{estimator}: the {measure.replace('_', ' ')} needs every cell of the 2 x 2 table to be "
        f"positive for its log-scale interval; the table has 0 {' and 0 '.join(zeros)} "
        f"(table {[[a, b], [c, d]]}). Pass zero_cell='haldane' to add 0.5 to every cell, or use "
        "the risk difference, or fisher with measure='odds_ratio' for an exact interval."
    )


def risk_difference_result(
    tab: Table,
    *,
    ci_method: str,
    alpha: float,
    estimator: str,
    test: str | None = None,
) -> EffectResult:
    """The risk difference ``p1 - p0`` of a 2 x 2 table with its interval.

    ``ci_method="wald"``: ``d +/- z sqrt(p1 q1 / n1 + p0 q0 / n0)``, p-value
    from the same Wald statistic. ``ci_method="newcombe"``: Newcombe's hybrid score
    interval, p-value from the pooled score test (equal to Pearson's chi2
    without continuity correction). ``test`` overrides the p-value source
    (the calling test estimator sets the p-value itself afterwards).
    """
    a, b, c, d = tab.binary()
    p1, p0, n1, n0 = _rd_parts(a, b, c, d)
    est = p1 - p0
    se = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    z = _z(alpha)
    if ci_method == "wald":
        conf = (est - z * se, est + z * se)
        p = 2.0 * float(stats.norm.sf(abs(est) / se)) if se > 0 else (1.0 if est == 0 else 0.0)
    else:
        conf = newcombe_interval(a, n1, c, n0, alpha)
        pbar = (a + c) / (n1 + n0)
        se0 = math.sqrt(pbar * (1 - pbar) * (1 / n1 + 1 / n0))
        p = 2.0 * float(stats.norm.sf(abs(est) / se0)) if se0 > 0 else 1.0
        ci_method = "newcombe"
    warnings = tab.warnings()
    if se == 0:
        warnings.append(
            "both arms have risk 0 or 1, so the Wald standard error is 0; the Newcombe interval "
            "is the one to report."
        )
    return EffectResult(
        estimator=estimator,
        estimand="risk_difference",
        term=str(tab.names.get("treatment")),
        estimate=est,
        std_error=se,
        conf_int=conf,
        conf_level=1 - alpha,
        p_value=p,
        df=None,
        n=tab.n,
        n_treated=n1,
        n_control=n0,
        se_type="binomial (unpooled)",
        design="simple",
        warnings=tuple(warnings),
        extra={
            "risk_treated": p1,
            "risk_control": p0,
            "measure": "risk_difference",
            "test": test or ("wald z" if ci_method == "wald" else "score z (pooled)"),
            **tab.extra(),
        },
        outcome=str(tab.names.get("outcome")),
        ci_method=ci_method,
    )


def ratio_result(
    tab: Table,
    *,
    measure: str,
    alpha: float,
    estimator: str,
    zero_cell: str = "error",
) -> EffectResult:
    """Risk ratio (Katz) or odds ratio (Woolf) with a log-Wald interval.

    Katz et al. (1978): ``SE(log RR) = sqrt(1/a - 1/n1 + 1/c - 1/n0)``.
    Woolf (1955): ``SE(log OR) = sqrt(1/a + 1/b + 1/c + 1/d)``.
    The p-value is the Wald test of ``log(measure) = 0``.
    """
    a_i, b_i, c_i, d_i = tab.binary()
    a, b, c, d = _zero_cells(estimator, measure, a_i, b_i, c_i, d_i, zero_cell)
    if measure == "risk_ratio":
        est = (a / (a + b)) / (c / (c + d))
        se = math.sqrt(1 / a - 1 / (a + b) + 1 / c - 1 / (c + d))
        se_type = "log-Wald (Katz)"
    else:
        est = (a * d) / (b * c)
        se = math.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
        se_type = "log-Wald (Woolf)"
    z = _z(alpha)
    log_est = math.log(est)
    warnings = tab.warnings()
    if zero_cell == "haldane" and min(a_i, b_i, c_i, d_i) == 0:
        warnings.append("a cell was 0, so 0.5 was added to every cell (Haldane-Anscombe).")
    return EffectResult(
        estimator=estimator,
        estimand=measure,
        term=str(tab.names.get("treatment")),
        estimate=est,
        std_error=se,
        conf_int=(math.exp(log_est - z * se), math.exp(log_est + z * se)),
        conf_level=1 - alpha,
        p_value=2.0 * float(stats.norm.sf(abs(log_est) / se)),
        df=None,
        n=tab.n,
        n_treated=a_i + b_i,
        n_control=c_i + d_i,
        se_type=se_type,
        design="simple",
        warnings=tuple(warnings),
        extra={
            "risk_treated": a_i / (a_i + b_i),
            "risk_control": c_i / (c_i + d_i),
            "measure": measure,
            "test": "wald z (log scale)",
            "zero_cell": zero_cell,
            **tab.extra(),
        },
        outcome=str(tab.names.get("outcome")),
        ci_method="wald-log",
    )


def conditional_odds_ratio_result(tab: Table, *, alpha: float, estimator: str) -> EffectResult:
    """Conditional maximum-likelihood odds ratio with its exact interval
    (Cornfield 1956), from :func:`scipy.stats.contingency.odds_ratio`;
    the p-value is Fisher's exact test (two-sided, minimum likelihood)."""
    a, b, c, d = tab.binary()
    table = np.array([[a, b], [c, d]], dtype=np.int64)
    res = stats.contingency.odds_ratio(table, kind="conditional")
    low, high = res.confidence_interval(confidence_level=1 - alpha)
    p = float(stats.fisher_exact(table).pvalue)
    return EffectResult(
        estimator=estimator,
        estimand="odds_ratio",
        term=str(tab.names.get("treatment")),
        estimate=float(res.statistic),
        std_error=float("nan"),
        conf_int=(float(low), float(high)),
        conf_level=1 - alpha,
        p_value=p,
        df=None,
        n=tab.n,
        n_treated=a + b,
        n_control=c + d,
        se_type="exact conditional",
        design="simple",
        warnings=tuple(tab.warnings()),
        extra={
            "risk_treated": a / (a + b),
            "risk_control": c / (c + d),
            "measure": "odds_ratio",
            "test": "fisher exact",
            **tab.extra(),
        },
        outcome=str(tab.names.get("outcome")),
        ci_method="exact",
    )


def stratified_result(tab: Table, *, measure: str, alpha: float, estimator: str) -> EffectResult:
    """Mantel-Haenszel risk difference (Sato variance), risk ratio
    (Greenland-Robins) or odds ratio (Robins-Breslow-Greenland) over the
    blocks of ``tab``, with a Wald interval (log scale for the ratios) and
    the Wald p-value."""
    from effekt.estimators._strata import (
        mh_odds_ratio,
        mh_risk_difference,
        mh_risk_ratio,
        split_strata,
        wald_interval,
    )

    assert tab.strata is not None
    a, n1, c, n0 = split_strata(tab.strata)
    try:
        if measure == "risk_difference":
            est, var = mh_risk_difference(a, n1, c, n0)
            se_type, log = "Sato (Mantel-Haenszel)", False
        elif measure == "risk_ratio":
            est, var = mh_risk_ratio(a, n1, c, n0)
            se_type, log = "Greenland-Robins (Mantel-Haenszel)", True
        else:
            est, var = mh_odds_ratio(a, n1, c, n0)
            se_type, log = "Robins-Breslow-Greenland (Mantel-Haenszel)", True
    except EstimationError as exc:  # name the outcome column the events were counted in
        raise EstimationError(f"{exc} (outcome column {tab.names.get('outcome')!r})") from None
    se = math.sqrt(var)
    warnings = tab.warnings()
    if se > 0:
        stat = (math.log(est) if log else est) / se
        p = 2.0 * float(stats.norm.sf(abs(stat)))
        conf = wald_interval(est, se, alpha, log=log)
    else:
        p, conf = 1.0, (est, est)
        warnings.append("the variance is 0 (no block has both events and non-events); the interval is a point.")
    weights = n1 * n0 / (n1 + n0)
    return EffectResult(
        estimator=estimator,
        estimand=measure,
        term=str(tab.names.get("treatment")),
        estimate=est,
        std_error=se,
        conf_int=conf,
        conf_level=1 - alpha,
        p_value=p,
        df=None,
        n=tab.n,
        n_treated=int(n1.sum()),
        n_control=int(n0.sum()),
        se_type=se_type,
        design="blocked",
        warnings=tuple(warnings),
        extra={
            "risk_treated": float(a.sum() / n1.sum()),
            "risk_control": float(c.sum() / n0.sum()),
            "measure": measure,
            "pooling": "mantel-haenszel",
            "test": "wald z" + (" (log scale)" if log else ""),
            "n_blocks": len(tab.block_labels),
            "block_weights": (weights / weights.sum()).tolist(),
            **tab.extra(),
        },
        outcome=str(tab.names.get("outcome")),
        ci_method="wald-log" if log else "wald",
    )


def cramers_v(counts: np.ndarray) -> float:
    """Cramér's V, ``sqrt(chi2 / (n (min(r, c) - 1)))``, of an r x c table."""
    return float(stats.contingency.association(counts, method="cramer", correction=False))


def measure_result(
    tab: Table,
    *,
    measure: str | None,
    alpha: float,
    estimator: str,
    ci_method: str = "newcombe",
    zero_cell: str = "error",
) -> EffectResult:
    """The effect measure a test of association reports as its estimate.

    2 x 2 tables: ``measure`` is ``"risk_difference"`` (default, Newcombe
    interval), ``"risk_ratio"`` or ``"odds_ratio"`` (log-Wald). Larger
    tables: ``"cramers_v"`` (default), which has no interval here (the
    interval fields are NaN and ``ci_method`` is ``"none"``). A 0/1 outcome
    with one other value in at most 5% of the rows (or 2 rows) is refused
    (DataError) unless ``measure="cramers_v"`` is passed: a stray value,
    not a third outcome category.
    """
    check_alpha(alpha)
    if tab.is_2x2 and tab.event is None and measure is None:
        outcome = tab.names.get("outcome")
        shown = " and ".join(repr(_label(c)) for c in tab.categories)
        raise DataError(
            f"{estimator}: outcome column {outcome!r} holds {shown}, not 0/1, so the risk difference "
            f"(the default estimate) does not know the event. Say which value counts as the event "
            f"with positive= (one of {shown}), or pass measure='cramers_v' for the test with "
            "Cramér's V as the estimate."
        )
    if tab.is_2x2 and tab.event is not None:
        measure = measure or "risk_difference"
        check_option(measure, "measure", (*MEASURES_2X2, "cramers_v"))
    else:
        labels = [_label(c) for c in tab.categories]
        binary_plus = [c for c in labels if not (isinstance(c, (int, float)) and c in (0, 1))]
        stray = [j for j, c in enumerate(labels) if c in binary_plus]
        if (measure is None and len(labels) == 3 and len(binary_plus) == 1
                and tab.counts[:, stray].sum() <= max(2, 0.05 * tab.n)):
            # a 0/1 outcome with a stray value in a few rows (at most 5%): refused rather than
            # silently turned into a 2 x 3 table whose Cramér's V has no interval
            outcome = tab.names.get("outcome")
            raise DataError(
                f"{estimator}: outcome column {outcome!r} holds 0 and 1 and also "
                f"{', '.join(repr(c) for c in binary_plus)}, so it is not binary. Correct or drop the rows "
                "with the other values, or pass measure='cramers_v' to test the full "
                f"{tab.counts.shape[0]} x {tab.counts.shape[1]} table (Cramér's V has no interval)."
            )
        measure = measure or "cramers_v"
        if measure != "cramers_v":
            shape = f"{tab.counts.shape[0]} x {tab.counts.shape[1]}"
            why = (
                "a 2 x 2 table whose event is unknown (pass positive=)"
                if tab.is_2x2
                else f"a {shape} table (arms x outcome categories)"
            )
            raise DesignError(
                f"{estimator}: measure={measure!r} needs a 2 x 2 table with a binary outcome; "
                f"this is {why}. Use measure='cramers_v', or collapse the table to two arms and "
                "a binary outcome."
            )
    if tab.strata is not None:
        if measure == "cramers_v":
            raise DesignError(
                f"{estimator}: measure='cramers_v' has no stratified version; with blocks= use the "
                "risk difference, risk ratio or odds ratio."
            )
        return stratified_result(tab, measure=measure, alpha=alpha, estimator=estimator)
    if measure == "risk_difference":
        return risk_difference_result(tab, ci_method=ci_method, alpha=alpha, estimator=estimator)
    if measure in ("risk_ratio", "odds_ratio"):
        return ratio_result(tab, measure=measure, alpha=alpha, estimator=estimator, zero_cell=zero_cell)
    n1 = int(tab.counts[0].sum()) if tab.counts.shape[0] == 2 else None
    n0 = int(tab.counts[1].sum()) if tab.counts.shape[0] == 2 else None
    return EffectResult(
        estimator=estimator,
        estimand="cramers_v",
        term=str(tab.names.get("treatment")),
        estimate=cramers_v(tab.counts),
        std_error=float("nan"),
        conf_int=(float("nan"), float("nan")),
        conf_level=1 - alpha,
        p_value=float("nan"),
        df=None,
        n=tab.n,
        n_treated=n1,
        n_control=n0,
        se_type=None,
        design="simple",
        warnings=tuple(tab.warnings()),
        extra={"measure": "cramers_v", **tab.extra()},
        outcome=str(tab.names.get("outcome")),
        ci_method="none",
    )


def check_table_for_test(tab: Table, estimator: str) -> None:
    """EstimationError when a test of association cannot be formed: the
    outcome takes a single value, so every expected count of a category is
    zero."""
    empty = np.flatnonzero(tab.counts.sum(axis=0) == 0)
    if empty.size or tab.counts.shape[1] < 2:
        raise EstimationError(
            f"{estimator}: outcome column {tab.names.get('outcome')!r} takes a single value "
            f"({_label(tab.categories[1 - int(empty[0])] if empty.size else tab.categories[0])!r}) "
            f"in all {tab.n} rows, so there is no association to test. Check the outcome coding "
            "or the rows selected."
        )


# -- simulation for the conformance suite -----------------------------------------


def simulate_binary(
    rng: np.random.Generator, *, n: int, effect: float, truth: str = "risk_difference", blocks: bool = False
) -> Synthetic:
    """A two-arm trial with a binary outcome ``y`` and treatment ``z``.

    Control risk 0.35; treated risk ``0.35 + effect`` kept within
    [0.10, 0.65] so that no cell of a moderate trial is empty. ``truth`` is
    the population value of the named measure (common to all blocks). With
    ``blocks=True`` the trial is block-randomised: lottery batches
    ``batch`` of 10 units, 5 treated in each, passed as ``blocks``.
    """
    n = max(int(n), 20)
    p0 = 0.35
    p1 = float(np.clip(p0 + float(effect), 0.10, 0.65))
    if blocks:
        n -= n % 10
        batch = np.repeat(np.arange(n // 10), 10)
        ranks = np.argsort(rng.random((n // 10, 10)), axis=1).ravel()
        z = (ranks < 5).astype(np.int64)
    else:
        z = np.zeros(n, dtype=np.int64)
        z[: n // 2] = 1
        z = rng.permutation(z)
    y = (rng.random(n) < np.where(z == 1, p1, p0)).astype(float)
    values = {
        "risk_difference": p1 - p0,
        "risk_ratio": p1 / p0,
        "odds_ratio": (p1 / (1 - p1)) / (p0 / (1 - p0)),
    }
    data = pd.DataFrame({"y": y, "z": z})
    spec: dict[str, Any] = {"outcome": "y", "treatment": "z"}
    if blocks:
        data["batch"] = batch
        spec["blocks"] = "batch"
    return Synthetic(
        data=data,
        spec=spec,
        truth=values[truth],
        outcome="y",
        treatment="z",
        extra={"p_treated": p1, "p_control": p0},
    )


def expected_counts_warning(expected: np.ndarray) -> list[str]:
    """Cochran's rule: a warning when an expected count is below 5."""
    small = int((expected < 5).sum())
    if small == 0:
        return []
    return [
        f"{small} of {expected.size} expected counts are below 5 (smallest "
        f"{float(expected.min()):.3g}); the chi-squared approximation may be poor. Consider "
        "fisher for an exact test."
    ]


def with_test(
    effect: EffectResult,
    *,
    p_value: float,
    statistic: float | None,
    statistic_name: str | None,
    df: float | None,
    test: str,
    warnings: Sequence[str] = (),
    **extra: Any,
) -> EffectResult:
    """The effect measure's result carrying a test's p-value and statistic.

    ``p_value`` is the test's, ``extra["statistic"]`` and ``extra["df"]``
    its statistic and degrees of freedom, ``extra["statistic_name"]`` what
    the statistic is (``"X-squared"``, ``"G"``), which the summary prints as
    "X-squared = 7.72 on 1 df". ``df`` of the result stays None: the
    measure's interval uses the normal reference.
    """
    from dataclasses import replace

    stat = None if statistic is None else float(statistic)
    named = {"statistic_name": statistic_name} if statistic_name and stat is not None else {}
    return replace(
        effect,
        p_value=float(p_value),
        warnings=(*effect.warnings, *warnings),
        extra={**effect.extra, "statistic": stat, **named, "df": df, "test": test, **extra},
    )
