"""Report arithmetic: percentages recomputed from counts, sums and pooled columns within rounding.

Published evaluation tables print counts and percentages side by side; a
tool can recompute every percentage and say which printed figure is wrong.

* :func:`round_half_up` -- the rounding Danish reports use: halves go away
  from zero (22.5 -> 23, 42.5 -> 43). Python's ``round`` and numpy's
  ``np.round`` round halves to even (22.5 -> 22), so they disagree with the
  report on exactly the halves.
* :func:`check_percentages` -- ``100 * count / base`` rounded to the printed
  digits, with the base the column total (default), the row total, the table
  total or given denominators. Each cell is ``"ok"``, ``"last digit"`` (off
  by one unit in the last printed digit: a double rounding such as
  97.248 -> 97.25 -> 97.3, or a typo) or ``"error"``.
* :func:`check_sums` -- a column of k rounded percentages may sum to
  ``total +/- k * u / 2`` (u the rounding unit), so 101 % from 12 rounded
  shares is no error; beyond that it is.
* :func:`check_pooled` -- a printed "whole group" column must be a weighted
  mean of the printed group columns: with each printed value ``v`` standing
  for ``[v - u/2, v + u/2]``, the pooled value is feasible when its own
  rounding interval meets ``[sum w (v - u/2), sum w (v + u/2)] / sum w``.
* :func:`counts_from_percent` -- the whole counts ``k`` that print as a
  percentage of ``n`` (a GRIM-like check, Brown & Heathers 2017).

References
----------
Brown, N. J. L. & Heathers, J. A. J. (2017). The GRIM test. Social
Psychological and Personality Science 8, 363-369. doi:10.1177/1948550616673876
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from effekt.errors import DataError, DesignError
from effekt.registers._results import TableResult

__all__ = ["check_percentages", "check_pooled", "check_sums", "counts_from_percent", "round_half_up"]


def _digits(digits: Any) -> int:
    if isinstance(digits, bool) or not isinstance(digits, (int, np.integer)) or not 0 <= digits <= 10:
        raise DesignError(f"digits must be a whole number from 0 to 10 (the printed decimals); got {digits!r}.")
    return int(digits)


def round_half_up(x: Any, digits: int = 0) -> Any:
    """Round halves away from zero, as Danish reports do (22.5 -> 23).

    ``sign(x) * floor(|x| * 10^d + 1/2) / 10^d``, after removing binary
    floating-point noise (``|x| * 10^d`` is first rounded to 9 decimals, so
    2.675 rounds to 2.68 as written, not 2.67 as its binary value would).

    >>> round_half_up(22.5), round(22.5)
    (23.0, 22)
    >>> round_half_up([42.5, 97.248, -0.5], 0).tolist()
    [43.0, 97.0, -1.0]
    >>> float(round_half_up(2.675, 2))
    2.68
    """
    d = _digits(digits)
    arr = np.asarray(x, dtype=float)
    f = 10.0**d
    out = np.sign(arr) * np.floor(np.round(np.abs(arr) * f, 9) + 0.5) / f
    return float(out) if out.ndim == 0 else out


def _rounder(rounding: str) -> Any:
    if rounding == "half_up":
        return round_half_up
    if rounding == "half_even":
        return lambda x, d: np.round(np.asarray(x, dtype=float), d)
    raise DesignError(f"rounding must be 'half_up' (Danish reports) or 'half_even' (Python, numpy); got {rounding!r}.")


def _frame(table: Any, name: str) -> pd.DataFrame:
    frame = table if isinstance(table, pd.DataFrame) else pd.DataFrame(np.asarray(table))
    try:
        return frame.apply(pd.to_numeric)
    except (TypeError, ValueError):
        raise DataError(f"{name} must hold numbers (use NaN for suppressed '-' cells).") from None


def check_percentages(
    counts: Any,
    printed: Any,
    *,
    digits: int = 1,
    base: Any = "column",
    rounding: str = "half_up",
) -> TableResult:
    """Recompute each printed percentage from its count and flag the ones that differ.

    Parameters
    ----------
    counts : DataFrame or 2-d array
        The table's counts (rows: categories, columns: groups and a total
        column if the report prints one).
    printed : DataFrame or 2-d array
        The printed percentages, same shape; NaN cells are not checked.
    digits : int, default 1
        Decimals printed.
    base : {"column", "row", "table"} or array, default "column"
        Denominator of each percentage: its column's sum of counts, its row's,
        the whole table's, or a same-shaped array (or per-column vector).
    rounding : {"half_up", "half_even"}, default "half_up"

    Returns
    -------
    TableResult
        ``kind="percentage_check"``; one row per cell: ``row``, ``column``,
        ``count``, ``base``, ``exact``, ``expected``, ``printed``,
        ``difference`` (printed - exact), ``status`` ("ok", "last digit",
        "error"); ``extra["flagged"]`` lists the cells that are not ok.

    Raises
    ------
    DataError
        Shapes that differ, non-numbers, a zero denominator.

    Examples
    --------
    The Copenhagen resource-course trial, Table 8.6 (VIVE 2019): "No, C" is 54/109.

    >>> import pandas as pd
    >>> n = pd.DataFrame({"I": [65, 44], "C": [55, 54], "Total": [120, 98]}, index=["Yes", "No"])
    >>> pct = pd.DataFrame({"I": [59.6, 40.4], "C": [50.5, 50.5], "Total": [55.0, 45.0]}, index=["Yes", "No"])
    >>> res = check_percentages(n, pct)
    >>> print(res.tidy().query("status != 'ok'")[["row", "column", "printed", "expected", "status"]].to_string(index=False))
    row column  printed  expected status
     No      C     50.5      49.5  error
    """
    d = _digits(digits)
    rnd = _rounder(rounding)
    c, p = _frame(counts, "counts"), _frame(printed, "printed")
    if c.shape != p.shape:
        raise DataError(f"counts has shape {c.shape} but printed has {p.shape}; give one percentage per count.")
    if isinstance(printed, pd.DataFrame) and not isinstance(counts, pd.DataFrame):
        c.index, c.columns = p.index, p.columns
    p.index, p.columns = c.index, c.columns
    values = c.to_numpy(dtype=float)
    if isinstance(base, str):
        if base == "column":
            denom = np.broadcast_to(np.nansum(values, axis=0, keepdims=True), values.shape)
        elif base == "row":
            denom = np.broadcast_to(np.nansum(values, axis=1, keepdims=True), values.shape)
        elif base == "table":
            denom = np.full(values.shape, np.nansum(values))
        else:
            raise DesignError(f"base must be 'column', 'row', 'table' or an array of denominators; got {base!r}.")
    else:
        denom = np.broadcast_to(np.asarray(base, dtype=float), values.shape)
    if np.any(denom == 0):
        raise DataError("a percentage has a denominator of 0; give base= the printed totals.")
    exact = 100 * values / denom
    expected = rnd(exact, d)
    shown = p.to_numpy(dtype=float)
    unit = 10.0**-d
    diff = shown - exact
    tol = 1e-9
    status = np.where(np.abs(shown - expected) <= tol, "ok",
                      np.where(np.abs(diff) <= unit + tol, "last digit", "error"))
    checked = ~np.isnan(shown)
    rows, cols = np.nonzero(checked)
    table = pd.DataFrame({
        "row": c.index.to_numpy()[rows], "column": c.columns.to_numpy()[cols], "count": values[rows, cols],
        "base": denom[rows, cols], "exact": exact[rows, cols], "expected": expected[rows, cols],
        "printed": shown[rows, cols], "difference": diff[rows, cols], "status": status[rows, cols],
    })
    bad = table[table["status"] != "ok"]
    flagged = [f"{r}/{col}: printed {pv:g}, counts give {e:.{d}f} ({ex:.3f})"
               for r, col, pv, e, ex in zip(bad["row"], bad["column"], bad["printed"], bad["expected"], bad["exact"])]
    return TableResult("percentage_check", f"Percentages recomputed from counts ({rounding}, {d} decimals)", table,
                       {"flagged": flagged, "rounding": rounding, "digits": d,
                        "notes": tuple(flagged) or ("every percentage agrees with its count",)})


def check_sums(values: Any, *, total: float = 100.0, digits: int = 0, axis: int = 0) -> TableResult:
    """Do rounded shares sum to the total within what rounding allows?

    A sum of ``k`` values each rounded to unit ``u`` is within ``k u / 2`` of
    the sum of the exact values; a sum further from ``total`` than that is an
    error.

    Parameters
    ----------
    values : DataFrame or 2-d array
        Printed shares; NaN (suppressed) cells are left out.
    total : float, default 100
    digits : int, default 0
    axis : {0, 1}, default 0
        0: each column sums to the total; 1: each row.

    Returns
    -------
    TableResult
        ``kind="sum_check"``; per column (or row): ``name``, ``sum``,
        ``cells``, ``allowed`` (k u / 2), ``ok``.

    Examples
    --------
    Flere skal med, Table 2 (seed 002 §4.4): the group-2 column sums to 101.

    >>> g2 = [2, 6, 6, 0, 39, 1, None, 3, 7, 25, 8, 4]
    >>> check_sums({"G2": g2}).tidy().to_dict("records")
    [{'name': 'G2', 'sum': 101.0, 'cells': 11, 'allowed': 5.5, 'ok': True}]
    """
    d = _digits(digits)
    if axis not in (0, 1):
        raise DesignError(f"axis must be 0 (columns) or 1 (rows); got {axis!r}.")
    frame = _frame(pd.DataFrame(values) if isinstance(values, dict) else values, "values")
    frame = frame if axis == 0 else frame.T
    sums = frame.sum(axis=0, skipna=True)
    cells = frame.notna().sum(axis=0)
    allowed = cells * 10.0**-d / 2
    ok = (sums - total).abs() <= allowed + 1e-9
    table = pd.DataFrame({"name": frame.columns.to_numpy(), "sum": sums.to_numpy(dtype=float),
                          "cells": cells.to_numpy(dtype=np.int64), "allowed": allowed.to_numpy(dtype=float),
                          "ok": ok.to_numpy(dtype=bool)})
    return TableResult("sum_check", f"Sums of rounded shares against {total:g}", table,
                       {"total": total, "digits": d})


def check_pooled(parts: Any, weights: Any, pooled: Any, *, digits: int = 0) -> TableResult:
    """Is a printed pooled column a weighted mean of the printed group columns?

    Each printed group value ``v`` stands for ``[v - u/2, v + u/2]`` (NaN, a
    suppressed cell, for ``[0, u/2]``); the weighted mean of the groups then
    lies in ``[low, high]``, and the printed pooled value ``P`` is feasible
    when ``[P - u/2, P + u/2]`` meets it.

    Parameters
    ----------
    parts : DataFrame
        One column per group, one row per category.
    weights : list
        Group sizes, in the order of the columns.
    pooled : list or Series
        The printed pooled value per row.
    digits : int, default 0

    Returns
    -------
    TableResult
        ``kind="pooled_check"``; per row: ``row``, ``weighted_mean``, ``low``,
        ``high``, ``printed``, ``ok``.

    Examples
    --------
    Flere skal med, Table 2, manufacturing (seed 002 §4.4): 4, 6, 4 % of
    1,357, 457 and 47 citizens, printed 5 % for the whole group.

    >>> import pandas as pd
    >>> res = check_pooled(pd.DataFrame({"G1": [4], "G2": [6], "G3": [4]}), [1357, 457, 47], [5])
    >>> print(res.tidy().round(2).to_string(index=False))
     row  weighted_mean  low  high  printed   ok
       0           4.49 3.99  4.99      5.0 True
    """
    d = _digits(digits)
    frame = _frame(parts, "parts")
    w = np.asarray(weights, dtype=float)
    if w.shape != (frame.shape[1],) or np.any(w <= 0):
        raise DataError(f"weights must give one positive size per column of parts ({frame.shape[1]}); got {list(w)}.")
    v = frame.to_numpy(dtype=float)
    half = 10.0**-d / 2
    lo = np.where(np.isnan(v), 0.0, v - half)
    hi = np.where(np.isnan(v), half, v + half)
    mean = np.nansum(np.nan_to_num(v) * w, axis=1) / w.sum()
    low, high = (lo * w).sum(axis=1) / w.sum(), (hi * w).sum(axis=1) / w.sum()
    p = np.asarray(pooled, dtype=float)
    if p.shape != (len(frame),):
        raise DataError(f"pooled must give one printed value per row of parts ({len(frame)}); got {p.shape[0]}.")
    ok = (p + half >= low - 1e-9) & (p - half <= high + 1e-9)
    table = pd.DataFrame({"row": frame.index.to_numpy(), "weighted_mean": mean, "low": low, "high": high,
                          "printed": p, "ok": ok})
    return TableResult("pooled_check", "Pooled column against the weighted mean of the groups", table,
                       {"weights": w.tolist(), "digits": d})


def counts_from_percent(percent: float, n: int, *, digits: int = 0, rounding: str = "half_up") -> list[int]:
    """Every whole count ``k`` in ``0..n`` whose ``100 k / n`` prints as ``percent``.

    Parameters
    ----------
    percent : float
        The printed percentage.
    n : int
        The base.
    digits : int, default 0
    rounding : {"half_up", "half_even"}, default "half_up"

    Returns
    -------
    list of int (empty when no count fits: the percentage cannot come from ``n``)

    Examples
    --------
    CTI job focus, Figure 3-10 (seed 000/003 §4.5): 23 % of 40 is 9, but only with halves rounded up.

    >>> counts_from_percent(23, 40), counts_from_percent(23, 40, rounding="half_even")
    ([9], [])
    """
    d = _digits(digits)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise DesignError(f"n must be a positive whole number; got {n!r}.")
    k = np.arange(n + 1)
    shown = _rounder(rounding)(100 * k / n, d)
    return [int(x) for x in k[np.abs(shown - percent) < 1e-9]]
