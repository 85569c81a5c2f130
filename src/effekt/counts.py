"""Turn a published table of counts into individual-level data.

Every table estimator (``risk_difference``, ``chi2``, ``fisher``,
``mcnemar``, ...) takes one row per unit, so that the same analysis runs on
a trial's own data and on a table copied from a report. :func:`from_counts`
makes those rows from the table.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from effekt.data import check_option
from effekt.errors import DataError

__all__ = ["from_counts"]

_MARGIN_LABELS = {"total", "totals", "all", "sum", "i alt", "ialt", "margin", "margins", "in total"}


def _is_margin_label(label: Any) -> bool:
    return isinstance(label, str) and label.strip().lower() in _MARGIN_LABELS


def _as_count_frame(table: Any) -> pd.DataFrame:
    if isinstance(table, pd.DataFrame):
        frame = table.copy()
    else:
        to_pandas = getattr(table, "to_pandas", None)
        if callable(to_pandas) and type(table).__module__.startswith("polars"):
            frame = to_pandas()
        else:
            try:
                arr = np.asarray(table, dtype=object)
            except Exception:  # ragged nested lists
                raise DataError("the table of counts is not rectangular; give every row the same length.") from None
            if arr.ndim != 2:
                raise DataError(
                    f"the table of counts must be two-dimensional (outcome categories x arms); "
                    f"got {arr.ndim} dimension(s) of shape {arr.shape}."
                )
            frame = pd.DataFrame(arr)
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise DataError(f"the table of counts is empty (shape {frame.shape}).")
    return frame


def _strip_margins(frame: pd.DataFrame, margins: Any) -> pd.DataFrame:
    if margins is False:
        return frame
    drop_row = margins is True or _is_margin_label(frame.index[-1])
    drop_col = margins is True or _is_margin_label(frame.columns[-1])
    if margins is True and (frame.shape[0] < 2 or frame.shape[1] < 2):
        raise DataError("margins=True: the table needs a total row and a total column besides the counts.")
    body = frame.iloc[: frame.shape[0] - int(drop_row), : frame.shape[1] - int(drop_col)]
    values = _counts(body)
    if drop_row:
        total = _counts(frame.iloc[[-1], : body.shape[1]]).ravel()
        if not np.array_equal(total, values.sum(axis=0)):
            raise DataError(
                f"the total row {frame.index[-1]!r} ({total.tolist()}) is not the sum of the rows "
                f"above it ({values.sum(axis=0).tolist()}). Correct the table, or pass margins=False "
                "if that row holds counts."
            )
    if drop_col:
        total = _counts(frame.iloc[: body.shape[0], [-1]]).ravel()
        if not np.array_equal(total, values.sum(axis=1)):
            raise DataError(
                f"the total column {frame.columns[-1]!r} ({total.tolist()}) is not the sum of the "
                f"columns before it ({values.sum(axis=1).tolist()}). Correct the table, or pass "
                "margins=False if that column holds counts."
            )
    return body


def _counts(frame: pd.DataFrame) -> np.ndarray:
    """The cells as int64; DataError for text, missing, negative or fractional counts."""
    numeric = frame.apply(pd.to_numeric, errors="coerce")
    bad_text = numeric.isna().to_numpy() & frame.notna().to_numpy()
    if bad_text.any():
        i, j = np.argwhere(bad_text)[0]
        raise DataError(
            f"the count in row {frame.index[i]!r}, column {frame.columns[j]!r} is "
            f"{frame.iat[i, j]!r}, not a number. Give counts of units as whole numbers."
        )
    values = numeric.to_numpy(dtype=float)
    checks = (
        (np.isnan(values), "missing", "fill in the count (0 if no unit falls in the cell)"),
        (np.isinf(values), "infinite", "give a finite count"),
        (values < 0, "negative", "counts of units cannot be negative"),
        (np.isfinite(values) & (values != np.round(values)), "not a whole number",
         "counts of units are whole numbers; a table of percentages must be turned back into counts"),
    )
    for mask, what, todo in checks:
        if mask.any():
            i, j = np.argwhere(mask)[0]
            more = f" ({int(mask.sum()) - 1} more cells too)" if mask.sum() > 1 else ""
            raise DataError(
                f"the count in row {frame.index[i]!r}, column {frame.columns[j]!r} is "
                f"{float(values[i, j]):g}: {what}{more}. {todo[0].upper()}{todo[1:]}."
            )
    return values.astype(np.int64)


def from_counts(
    table: Any,
    *,
    outcome: str = "y",
    treatment: str = "z",
    paired: bool = False,
    pairs: str = "pair",
    margins: bool | str = "auto",
) -> pd.DataFrame:
    """Individual-level data from a table of counts.

    Table format (unpaired): **rows are outcome categories, columns are
    arms**, as trial reports print them (the resource-course trial's Table 8.8 has the
    outcome "complaint no / yes" down the side and the arms across). Each
    cell ``[k, g]`` becomes that many rows with ``outcome = k``'s label and
    ``treatment = g``'s label.

    * A pandas DataFrame keeps its labels: the index labels become outcome
      values, the column labels arm values (pass ``arms=(control,
      treated)`` and ``positive=`` to the estimator when they are not 0/1).
    * A nested list or numpy array is labelled by position: rows are outcome
      0, 1, ...; columns are arm 0, 1, ... So for a 2 x 2 table,
      ``[[control no-event, treated no-event], [control events, treated
      events]]``.

    Paired (``paired=True``): a square table of one unit's outcome on two
    occasions, **rows the outcome at treatment 0 (e.g. before), columns the
    outcome at treatment 1 (after)**: for 0/1 outcomes
    ``[[n00, n01], [n10, n11]]``. Each unit becomes two rows (one per
    occasion) sharing a ``pairs`` identifier, ready for ``mcnemar``.

    Parameters
    ----------
    table : DataFrame, array-like
        Non-negative whole-number counts.
    outcome, treatment : str, default "y", "z"
        Names of the columns made.
    paired : bool, default False
    pairs : str, default "pair"
        Name of the pair identifier column (paired tables).
    margins : {"auto", True, False}, default "auto"
        Published totals: ``"auto"`` drops a last row and/or column whose
        label is "Total", "All", "Sum" or "I alt" (any case); ``True`` drops
        the last row and column whatever their labels. Dropped totals must
        equal the sums of the counts.

    Returns
    -------
    DataFrame
        One row per unit: ``[outcome, treatment]`` (unpaired, ordered by arm
        then outcome category) or ``[pairs, treatment, outcome]`` (paired).

    Raises
    ------
    DataError
        A table that is not two-dimensional, empty, holds text, missing,
        negative or fractional counts, totals that do not add up, or (paired)
        a table whose row and column categories differ.

    Examples
    --------
    The Copenhagen resource-course trial (VIVE 2019), Table 8.8 (complaints), as printed with its totals:

    >>> import pandas as pd
    >>> t = pd.DataFrame({"I": [106, 3, 109], "C": [95, 14, 109], "Total": [201, 17, 218]},
    ...                  index=["No", "Yes", "Total"])
    >>> df = from_counts(t)
    >>> df.shape, sorted(df["z"].unique()), int((df["y"] == "Yes").sum())
    ((218, 2), ['C', 'I'], 17)
    """
    check_option(margins, "margins", ("auto", True, False))
    check_option(paired, "paired", (True, False))
    for role, name in (("outcome", outcome), ("treatment", treatment), ("pairs", pairs)):
        if not isinstance(name, str) or not name:
            raise DataError(f"{role}= must be a column name (a non-empty string); got {name!r}.")
    if len({outcome, treatment} | ({pairs} if paired else set())) < (3 if paired else 2):
        raise DataError(f"the column names must differ; got outcome={outcome!r}, treatment={treatment!r}"
                        + (f", pairs={pairs!r}." if paired else "."))
    frame = _strip_margins(_as_count_frame(table), margins)
    counts = _counts(frame)
    rows = np.asarray(frame.index, dtype=object)
    cols = np.asarray(frame.columns, dtype=object)
    if not isinstance(table, pd.DataFrame):
        rows = np.arange(counts.shape[0])
        cols = np.arange(counts.shape[1])
    if not paired:
        flat = counts.T.ravel()  # arm-major order
        arm_idx = np.repeat(np.repeat(np.arange(counts.shape[1]), counts.shape[0]), flat)
        out_idx = np.repeat(np.tile(np.arange(counts.shape[0]), counts.shape[1]), flat)
        return pd.DataFrame({outcome: rows[out_idx], treatment: cols[arm_idx]}).infer_objects()
    if counts.shape[0] != counts.shape[1] or (
        isinstance(table, pd.DataFrame) and list(frame.index) != list(frame.columns)
    ):
        raise DataError(
            f"a paired table must be square with the same outcome categories down the side "
            f"(treatment 0) and across (treatment 1); got rows {list(frame.index)} and columns "
            f"{list(frame.columns)}."
        )
    flat = counts.ravel()
    k = counts.shape[0]
    before = np.repeat(np.repeat(np.arange(k), k), flat)
    after = np.repeat(np.tile(np.arange(k), k), flat)
    n = int(flat.sum())
    ids = np.arange(n)
    return pd.DataFrame(
        {
            pairs: np.concatenate([ids, ids]),
            treatment: np.concatenate([np.zeros(n, np.int64), np.ones(n, np.int64)]),
            outcome: rows[np.concatenate([before, after])],
        }
    ).infer_objects()
