"""Cohort drift: baseline characteristics by entry cohort, with SMDs, tests and pooled columns.

Programmes that enrol over time (Flere skal med visited group 1 from August
2017; the CTI project enrolled municipality by municipality) may take in
different people later. The table compares an earlier and a later cohort per
characteristic, with the same arithmetic as the balance table of a trial
(:func:`effekt.design.balance.balance_table`, whose SMD functions it uses):

* numeric: mean and SD by cohort, ``SMD = (m_later - m_earlier) /
  sqrt((s_later^2 + s_earlier^2) / 2)`` and Welch's t-test;
* categorical: count and % per level, the binary SMD per level and Pearson's
  chi-square test of levels x cohort (no continuity correction);
* ``|SMD| > threshold`` (default 0.1, Austin 2009) flagged;

plus the pooled column (both cohorts together: count and %, or mean and SD)
that such tables print beside the cohorts. No randomisation test is made:
cohorts are not randomised.

References
----------
Austin, P. C. (2009). Statistics in Medicine 28, 3083-3107. doi:10.1002/sim.3697
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from effekt._lazy import lazy_module
from effekt.data import as_frame, check_columns, is_categorical
from effekt.errors import DataError, DesignError
from effekt.registers._results import TableResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from scipy import stats
else:  # scipy.stats is imported on first use
    stats = lazy_module("scipy.stats")

__all__ = ["cohort_drift"]


def _categorical(series: pd.Series) -> bool:
    return bool(is_categorical(series)) or pd.api.types.is_bool_dtype(series)


def _plot(result: TableResult, *, ax: Any = None, labels: Mapping[Any, str] | None = None, **_: Any) -> Figure:
    from effekt.plotting import COLOURS, figure_and_axes, label_for

    t = result.table
    names = [label_for(v, labels) + (f": {lv}" if lv else "") for v, lv in zip(t["variable"], t["level"])]
    fig, ax = figure_and_axes(ax, size=(6.4, 0.3 * len(t) + 1.4))
    y = np.arange(len(t))[::-1]
    thr = result.extra["threshold"]
    ax.scatter(t["smd"], y, color=np.where(t["flagged"], COLOURS[1], COLOURS[0]), zorder=3)
    for x in (-thr, thr):
        ax.axvline(x, color="grey", linestyle="--", linewidth=0.8)
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels(names, fontsize=8)
    earlier, later = result.extra["cohorts"]
    ax.set_xlabel(f"standardised difference ({later} - {earlier})")
    ax.set_title(f"Cohort drift: |SMD| > {thr:g} flagged")
    return fig


def cohort_drift(
    data: Any,
    *,
    cohort: str,
    covariates: Sequence[str],
    arms: Sequence[Any] | None = None,
    categorical: Sequence[str] | None = None,
    threshold: float = 0.1,
) -> TableResult:
    """Baseline characteristics of an earlier and a later entry cohort.

    Parameters
    ----------
    data : DataFrame
        One row per person.
    cohort : str
        Two-level cohort column (0/1, or labels with ``arms=``).
    covariates : list of str
        Characteristics to compare.
    arms : (earlier, later), optional
        The cohort labels, earlier first (needed unless the column is 0/1,
        with 1 the later cohort).
    categorical : list of str, optional
        Numeric columns to treat as categories.
    threshold : float, default 0.1
        ``|SMD|`` above this is flagged.

    Returns
    -------
    TableResult
        ``kind="cohort_drift"``; one row per numeric characteristic or level:
        ``variable``, ``level``, ``kind``, ``n_earlier``, ``pct_earlier``,
        ``n_later``, ``pct_later``, ``n_pooled``, ``pct_pooled`` (levels),
        ``mean_*``/``sd_*`` (numeric), ``smd``, ``flagged``, ``test``,
        ``statistic``, ``df``, ``p_value``; ``plot()`` draws the SMDs.

    Raises
    ------
    DataError
        Missing columns or values, a cohort column that does not hold two
        cohorts (the message names the labels; pass ``arms=``).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"cohort": ["before"] * 100 + ["after"] * 50,
    ...                    "age": ["<30"] * 6 + ["30+"] * 94 + ["<30"] * 5 + ["30+"] * 45})
    >>> res = cohort_drift(df, cohort="cohort", covariates=["age"], arms=("before", "after"))
    >>> print(res.tidy()[["level", "pct_earlier", "pct_later", "pct_pooled", "smd"]].round(3).to_string(index=False))
    level  pct_earlier  pct_later  pct_pooled    smd
      30+         94.0       90.0      92.667 -0.148
      <30          6.0       10.0       7.333  0.148
    """
    from effekt.design.balance import smd_binary, smd_numeric  # imports scipy.stats: on first use

    frame = as_frame(data)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not threshold > 0:
        raise DesignError(f"threshold must be a positive number (|SMD| above it is flagged); got {threshold!r}.")
    covariates = [covariates] if isinstance(covariates, str) else list(covariates)
    if not covariates:
        raise DesignError("covariates= is empty; name the characteristics to compare.")
    for c in covariates:
        if c not in frame.columns:
            raise DataError(f"covariate {c!r}: no such column. The data have "
                            f"{', '.join(map(repr, list(frame.columns)[:20]))}.")
    cat_set = set(categorical or [])
    cat_cols = [c for c in covariates if c in cat_set or _categorical(frame[c])]
    num_cols = [c for c in covariates if c not in cat_cols]
    cols = check_columns(frame, treatment=cohort, covariates=num_cols or None, arms=arms)
    for c in cat_cols:
        if frame[c].isna().any():
            raise DataError(f"covariate column {c!r} has {int(frame[c].isna().sum())} missing values; give "
                            "missingness its own level (e.g. .fillna('missing')).")
    assert cols.z is not None
    z = cols.z.astype(bool)
    n1, n0 = int(z.sum()), int((~z).sum())
    earlier, later = cols.arms[0], cols.arms[1]
    rows: list[dict[str, Any]] = []
    X = cols.X if cols.X is not None else np.zeros((len(z), 0))
    for j, c in enumerate(num_cols):
        x = X[:, j]
        x1, x0 = x[z], x[~z]
        if n1 < 2 or n0 < 2:
            raise DataError(f"covariate {c!r}: each cohort needs at least two persons for an SD; got {n1} and {n0}.")
        m1, m0, s1, s0 = x1.mean(), x0.mean(), x1.std(ddof=1), x0.std(ddof=1)
        v1, v0 = s1**2 / n1, s0**2 / n0
        if v1 + v0 > 0:
            res = stats.ttest_ind(x1, x0, equal_var=False)
            t_stat, p_val = float(res.statistic), float(res.pvalue)
            df = (v1 + v0) ** 2 / (v1**2 / (n1 - 1) + v0**2 / (n0 - 1))  # Welch-Satterthwaite
        else:  # constant in both cohorts: no test
            t_stat = p_val = df = np.nan
        rows.append({"variable": c, "level": "", "kind": "numeric", "mean_later": m1, "sd_later": s1,
                     "mean_earlier": m0, "sd_earlier": s0, "mean_pooled": x.mean(), "sd_pooled": x.std(ddof=1),
                     "smd": smd_numeric(m1, s1, m0, s0), "test": "welch_t", "statistic": t_stat,
                     "df": df, "p_value": p_val})
    for c in cat_cols:
        codes, levels = pd.factorize(frame[c], sort=True)
        table = np.zeros((len(levels), 2), dtype=np.int64)
        np.add.at(table, (codes, z.astype(np.int64)), 1)
        if len(levels) >= 2:
            chi = stats.chi2_contingency(table, correction=False)  # Pearson, no continuity correction
            chi_stat, chi_p, chi_df = float(chi.statistic), float(chi.pvalue), float(chi.dof)
        else:
            chi_stat, chi_p, chi_df = np.nan, np.nan, np.nan
        for lv in range(len(levels)):
            p1, p0 = table[lv, 1] / n1, table[lv, 0] / n0
            rows.append({"variable": c, "level": str(levels[lv]), "kind": "categorical",
                         "n_earlier": int(table[lv, 0]), "pct_earlier": 100 * p0,
                         "n_later": int(table[lv, 1]), "pct_later": 100 * p1,
                         "n_pooled": int(table[lv].sum()), "pct_pooled": 100 * table[lv].sum() / (n1 + n0),
                         "smd": smd_binary(p1, p0), "test": "pearson_chi2", "statistic": chi_stat, "df": chi_df,
                         "p_value": chi_p})
    t = pd.DataFrame(rows)
    t["flagged"] = t["smd"].abs() > threshold
    order = ["variable", "level", "kind", "n_earlier", "pct_earlier", "n_later", "pct_later", "n_pooled",
             "pct_pooled", "mean_earlier", "sd_earlier", "mean_later", "sd_later", "mean_pooled", "sd_pooled",
             "smd", "flagged", "test", "statistic", "df", "p_value"]
    t = t.reindex(columns=order)
    for c in ("n_earlier", "n_later", "n_pooled"):
        t[c] = t[c].astype("Int64")
    hit = t[t["flagged"]]
    flagged = [f"{v}: {lv}" if lv else str(v) for v, lv in zip(hit["variable"], hit["level"])]
    return TableResult(
        "cohort_drift", f"Baseline by cohort: {later!r} ({n1}) vs {earlier!r} ({n0})", t,
        {"cohorts": [earlier, later], "n": {"earlier": n0, "later": n1}, "threshold": threshold,
         "flagged": flagged,
         "notes": (f"|SMD| > {threshold:g}: " + (", ".join(flagged) if len(flagged) else "none"),)},
        plotter=_plot)
