"""Baseline balance: a table by arm, standardised differences, tests and a love plot.

Per covariate, by arm:

* numeric: mean and SD (``ddof=1``), the standardised mean difference
  ``SMD = (mean_1 - mean_0) / sqrt((s_1^2 + s_0^2) / 2)`` and Welch's t-test;
* categorical (text, category or bool columns, or named in
  ``categorical=``): count and column % per level, the binary SMD per level
  ``(p_1 - p_0) / sqrt((p_1 (1 - p_1) + p_0 (1 - p_0)) / 2)`` (Austin 2009,
  eq. 2 and 3), and Pearson's chi-square test of the levels-by-arm table
  without continuity correction (as in the Copenhagen resource-course trial, VIVE 2019, Tables 8.1 and 8.2).

``|SMD| > threshold`` (default 0.1, Austin 2009) is flagged.

The omnibus test asks whether the covariates *jointly* differ more than the
design would produce by chance: the statistic is the Mahalanobis distance
between the arms' covariate means, ``T = d' S^+ d``, with ``d`` the
difference in means of the covariate matrix (numeric columns and the
indicators of all but the first level of each categorical one) and ``S``
its covariance over all units; its p-value is the share of re-randomised
assignments with ``T`` at least the observed (Hansen & Bowers 2008, the
randomisation-inference version). Re-randomisations come from the
``assignment``'s design (exact enumeration when it is small), else from a
complete randomisation with the observed number treated.

References
----------
Austin, P. C. (2009). Balance diagnostics for comparing the distribution of
baseline covariates between treatment groups in propensity-score matched
samples. Statistics in Medicine 28, 3083-3107. doi:10.1002/sim.3697
Hansen, B. B. & Bowers, J. (2008). Covariate balance in simple, stratified
and clustered comparative studies. Statistical Science 23(2), 219-236.
doi:10.1214/08-STS254
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from effekt.data import as_frame, check_columns, check_positive_int
from effekt.design.assignment import Assignment
from effekt.errors import DataError, DesignError
from effekt.plotting import ARM_COLOURS, COLOURS, figure_and_axes, label_for, reference_line
from effekt.result import FrozenDict, to_jsonable

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["BalanceTable", "balance_table", "smd_binary", "smd_numeric"]


def smd_numeric(mean_treated: float, sd_treated: float, mean_control: float, sd_control: float) -> float:
    """Standardised mean difference with the average of the two variances.

    ``(m_1 - m_0) / sqrt((s_1^2 + s_0^2) / 2)`` (Austin 2009, eq. 2).

    >>> round(smd_numeric(49.2, 9.0, 47.8, 9.0), 4)
    0.1556
    """
    pooled = np.sqrt((sd_treated**2 + sd_control**2) / 2.0)
    if not pooled > 0:
        return 0.0 if mean_treated == mean_control else float(np.sign(mean_treated - mean_control) * np.inf)
    return float((mean_treated - mean_control) / pooled)


def smd_binary(p_treated: float, p_control: float) -> float:
    """Standardised difference of two proportions (Austin 2009, eq. 3).

    ``(p_1 - p_0) / sqrt((p_1 (1 - p_1) + p_0 (1 - p_0)) / 2)``.

    Flere skal med (Rambøll for STAR, 2019), Table 1 (later vs earlier cohort, aged under 30: 10 % vs 6 %):

    >>> round(smd_binary(0.10, 0.06), 3)
    0.148
    """
    return smd_numeric(p_treated, np.sqrt(p_treated * (1 - p_treated)), p_control, np.sqrt(p_control * (1 - p_control)))


@dataclass(frozen=True)
class BalanceTable:
    """Balance by arm; ``table`` has one row per numeric covariate or level.

    Columns of ``table``: ``variable``, ``level`` (empty for numeric),
    ``kind``, ``mean_treated``, ``sd_treated``, ``mean_control``,
    ``sd_control`` (numeric), ``n_treated``, ``pct_treated``, ``n_control``,
    ``pct_control`` (categorical), ``smd``, ``flagged``, ``test``,
    ``statistic``, ``df``, ``p_value`` (the variable's test, repeated on each
    of its levels).

    A result like every other (:class:`effekt.result.Result`): ``tidy()``
    (a copy of ``table``), ``summary()``, ``to_dict()``, ``to_json()`` and
    ``plot(ax=None, labels=None)``, the love plot. It is immutable:
    ``omnibus`` and ``extra`` are read-only mappings, and ``table`` is the
    result's own copy of the frame it was built from (``tidy()`` hands out
    another copy, so editing that changes nothing here).
    """

    table: pd.DataFrame
    omnibus: Mapping[str, Any]
    threshold: float
    arms: tuple[Any, Any]
    n_treated: int
    n_control: int
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "table", self.table.copy())
        set_(self, "omnibus", FrozenDict(self.omnibus))
        set_(self, "extra", FrozenDict(self.extra))
        set_(self, "arms", tuple(self.arms))
        set_(self, "threshold", float(self.threshold))
        set_(self, "n_treated", int(self.n_treated))
        set_(self, "n_control", int(self.n_control))

    @property
    def flagged(self) -> pd.DataFrame:
        """Rows with ``|SMD|`` above the threshold."""
        return self.table[self.table["flagged"]].copy()

    def tidy(self) -> pd.DataFrame:
        """The balance table: one row per numeric covariate or categorical level (a copy)."""
        return self.table.copy()

    def to_dict(self) -> dict[str, Any]:
        """Every figure, JSON-safe: the table as records, the omnibus test, the arms."""
        return to_jsonable(  # type: ignore[no-any-return]
            {
                "table": _records(self.table),
                "omnibus": self.omnibus,
                "threshold": self.threshold,
                "arms": [str(a) for a in self.arms],
                "n_treated": self.n_treated,
                "n_control": self.n_control,
                "extra": self.extra,
            }
        )

    def to_json(self, **kwargs: Any) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), **kwargs)

    def plot(self, *, ax: Any = None, labels: Mapping[Any, str] | None = None, language: str = "en") -> Figure:
        """The love plot: the SMD of every row, with lines at +/- the threshold.

        ``ax`` draws into an existing matplotlib Axes; ``labels`` maps
        covariate names (or arm labels, for the axis title) to the names
        shown; ``language="da"`` writes the titles in Danish. Returns a
        :class:`matplotlib.figure.Figure` made without pyplot.
        """
        from effekt.plotting import plot_word

        names = [label_for(v, labels) if not lv else f"{label_for(v, labels)}: {lv}"
                 for v, lv in zip(self.table["variable"], self.table["level"])]
        smd = self.table["smd"].to_numpy(dtype=float)
        fig, axes = figure_and_axes(ax, size=(6.4, 0.35 * len(names) + 1.2))
        y = np.arange(len(names))[::-1]
        colours = np.where(np.abs(smd) > self.threshold, ARM_COLOURS[1], COLOURS[0])
        axes.scatter(smd, y, c=list(colours), zorder=3)
        for x in (-self.threshold, self.threshold):
            axes.axvline(x, color="grey", linestyle="--", linewidth=0.8)
        reference_line(axes, 0.0, vertical=True)
        axes.set_yticks(y, names)
        axes.grid(False, axis="y")
        treated, control = label_for(self.arms[1], labels), label_for(self.arms[0], labels)
        axes.set_xlabel(f"{plot_word('smd', language)} ({treated} - {control})")
        threshold = f"{self.threshold:g}".replace(".", "," if language == "da" else ".")
        axes.set_title(plot_word("balance title", language).format(threshold=threshold))
        return fig

    def love_plot(self, *, ax: Any = None, labels: Mapping[Any, str] | None = None) -> Figure:
        """The love plot; the same as :meth:`plot`."""
        return self.plot(ax=ax, labels=labels)

    def summary(self) -> str:
        """Text a person reads: the table and the omnibus test."""
        om = self.omnibus
        how = "exact" if om["exact"] else f"{om['sims']} re-randomisations"
        stat = "NA" if not np.isfinite(om["statistic"]) else f"{om['statistic']:.4f}"
        p = "NA" if not np.isfinite(om["p_value"]) else f"{om['p_value']:.4f}"
        lines = [
            f"Balance by arm ({self.arms[1]!r}: {self.n_treated}, {self.arms[0]!r}: {self.n_control})",
            self.table.to_string(index=False),
            f"Omnibus randomisation test: Mahalanobis T = {stat}, p = {p} ({how})",
        ]
        return "\n".join(lines)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of ``frame`` as dicts, missing values (NaN, NA, NaT) as None."""
    obj = frame.astype(object)
    return [
        {str(k): (None if _missing(v) else v) for k, v in row.items()}
        for row in obj.to_dict(orient="records")
    ]


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _is_categorical(series: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)


def balance_table(
    data: Any,
    *,
    covariates: Sequence[str],
    treatment: str | None = None,
    categorical: Sequence[str] | None = None,
    assignment: Assignment | None = None,
    arms: Sequence[Any] | None = None,
    threshold: float = 0.1,
    sims: int = 1000,
    seed: Any = None,
) -> BalanceTable:
    """Baseline balance table with SMDs, tests and an omnibus randomisation test.

    See the module notes for the formulas.

    Parameters
    ----------
    data : DataFrame
        One row per unit (the assignment's units in order, when given).
    covariates : list of str
        Baseline columns.
    treatment : str, optional
        Two-arm treatment column (0/1 or ``arms=``); omit when
        ``assignment`` is given.
    categorical : list of str, optional
        Numeric columns to treat as categorical (text, category and bool
        columns always are).
    assignment : Assignment, optional
        Supplies the treatment and the design for the omnibus test.
    arms : (control, treated), optional
        Arm labels of ``treatment``.
    threshold : float, default 0.1
        ``|SMD|`` above this is flagged.
    sims : int, default 1000
        Re-randomisations for the omnibus test (all of them when the design
        can be enumerated within ``sims``).
    seed : int or Generator, optional
        Seed of the re-randomisations.

    Returns
    -------
    BalanceTable

    Raises
    ------
    DataError
        Missing columns or values, a covariate constant within an arm where a
        test needs variation, an empty arm.
    DesignError
        Neither or both of ``treatment`` and ``assignment``; a multi-arm
        assignment.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"z": [1] * 109 + [0] * 109,
    ...                    "sex": ["F"] * 66 + ["M"] * 43 + ["F"] * 67 + ["M"] * 42})
    >>> bt = balance_table(df, treatment="z", covariates=["sex"], seed=1)
    >>> print(f"{bt.table.loc[0, 'statistic']:.3f} {bt.table.loc[0, 'p_value']:.3f}")
    0.019 0.890
    """
    frame = as_frame(data).reset_index(drop=True)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not threshold > 0:
        raise DesignError(f"threshold must be a positive number (|SMD| above it is flagged); got {threshold!r}.")
    sims = check_positive_int(sims, "sims")
    covariates = [covariates] if isinstance(covariates, str) else list(covariates)
    if not covariates:
        raise DesignError("covariates= is empty; name the baseline columns to compare.")
    cat_set = set(categorical or [])
    unknown = cat_set - set(covariates)
    if unknown:
        raise DesignError(f"categorical= names {sorted(unknown)} which are not in covariates=; add them to covariates.")
    if (treatment is None) == (assignment is None):
        raise DesignError("give exactly one of treatment= (a column) and assignment= (an Assignment).")
    if assignment is not None:
        if len(assignment.conditions) != 2:
            raise DesignError(
                f"the balance table compares two arms; the assignment has {len(assignment.conditions)}. "
                "Subset the data to two arms and pass treatment=."
            )
        if assignment.n != len(frame):
            raise DataError(f"the assignment has {assignment.n} units but the data have {len(frame)} rows; rows must be the assignment's units in order.")
        frame = frame.assign(__z__=assignment.arm_codes)
        treatment, arms = "__z__", (0, 1)
        arm_labels: tuple[Any, Any] = (assignment.conditions[0], assignment.conditions[1])
    for c in covariates:
        if c not in frame.columns:
            raise DataError(f"covariate {c!r}: no such column. The data have {', '.join(map(repr, list(frame.columns)[:20]))}.")
    cat_cols = [c for c in covariates if c in cat_set or _is_categorical(frame[c])]
    num_cols = [c for c in covariates if c not in cat_cols]
    cols = check_columns(frame, treatment=treatment, covariates=num_cols or None, arms=arms)
    for c in cat_cols:
        miss = frame[c].isna().to_numpy()
        if miss.any():
            raise DataError(
                f"covariate column {c!r} has {int(miss.sum())} missing values; give missingness its own level "
                "(e.g. .fillna('missing')) or impute before the balance table."
            )
    if assignment is None:
        arm_labels = (cols.arms[0], cols.arms[1])
    assert cols.z is not None  # treatment= is always given to check_columns here
    z = cols.z.astype(bool)
    n1, n0 = int(z.sum()), int((~z).sum())

    rows: list[dict[str, Any]] = []
    design_cols: list[np.ndarray] = []
    X = cols.X if cols.X is not None else np.zeros((len(z), 0))
    for j, c in enumerate(num_cols):
        x = X[:, j]
        x1, x0 = x[z], x[~z]
        if n1 < 2 or n0 < 2:
            raise DataError(f"covariate {c!r}: each arm needs at least two units for an SD; got {n1} and {n0}.")
        m1, m0, s1, s0 = x1.mean(), x0.mean(), x1.std(ddof=1), x0.std(ddof=1)
        if s1 == 0 and s0 == 0:
            t_stat, p, df = np.nan, np.nan, np.nan
            if m1 != m0:
                raise DataError(f"covariate {c!r} is constant within each arm but differs between them; it separates the arms perfectly.")
        else:
            res = stats.ttest_ind(x1, x0, equal_var=False)
            t_stat, p = float(res.statistic), float(res.pvalue)
            v1, v0 = s1**2 / n1, s0**2 / n0
            df = (v1 + v0) ** 2 / (v1**2 / (n1 - 1) + v0**2 / (n0 - 1))  # Welch-Satterthwaite
        smd = smd_numeric(m1, s1, m0, s0)
        rows.append({"variable": c, "level": "", "kind": "numeric", "mean_treated": m1, "sd_treated": s1,
                     "mean_control": m0, "sd_control": s0, "smd": smd, "test": "welch_t",
                     "statistic": t_stat, "df": df, "p_value": p})
        design_cols.append(x)
    for c in cat_cols:
        codes, levels = pd.factorize(frame[c], sort=True)
        k = len(levels)
        table = np.zeros((k, 2), dtype=np.int64)
        np.add.at(table, (codes, z.astype(np.int64)), 1)
        if k >= 2:
            chi = stats.chi2_contingency(table, correction=False)
            chi_stat, chi_p, chi_df = float(chi.statistic), float(chi.pvalue), float(chi.dof)
        else:
            chi_stat, chi_p, chi_df = np.nan, np.nan, np.nan
        for lv in range(k):
            p1, p0 = table[lv, 1] / n1, table[lv, 0] / n0
            rows.append({"variable": c, "level": str(levels[lv]), "kind": "categorical",
                         "n_treated": int(table[lv, 1]), "pct_treated": 100 * p1,
                         "n_control": int(table[lv, 0]), "pct_control": 100 * p0,
                         "smd": smd_binary(p1, p0), "test": "pearson_chi2",
                         "statistic": chi_stat, "df": chi_df, "p_value": chi_p})
            if lv > 0:
                design_cols.append((codes == lv).astype(np.float64))
    columns = ["variable", "level", "kind", "mean_treated", "sd_treated", "mean_control", "sd_control",
               "n_treated", "pct_treated", "n_control", "pct_control", "smd", "flagged", "test", "statistic",
               "df", "p_value"]
    out = pd.DataFrame(rows).reindex(columns=columns)
    out["flagged"] = out["smd"].abs() > threshold
    for c in ("n_treated", "n_control"):
        out[c] = out[c].astype("Int64")

    omnibus = _omnibus(np.column_stack(design_cols) if design_cols else np.zeros((len(z), 0)), z, assignment, sims, seed)
    return BalanceTable(out, omnibus, threshold, arm_labels, n1, n0)


def _mahalanobis(Xc: np.ndarray, S_pinv: np.ndarray, Z: np.ndarray) -> np.ndarray:
    """T = d' S^+ d for each column of the 0/1 matrix Z (n x k)."""
    n1 = Z.sum(axis=0)
    n0 = Z.shape[0] - n1
    sums = Xc.T @ Z  # p x k; column sums of centred X are 0, so mean_0 = -sums / n0
    d = sums * (1.0 / n1 + 1.0 / n0)
    return np.einsum("ik,ij,jk->k", d, S_pinv, d)


def _omnibus(X: np.ndarray, z: np.ndarray, assignment: Assignment | None, sims: int, seed: Any) -> dict[str, Any]:
    from effekt.design.assignment import complete

    if X.shape[1] == 0:
        return {"statistic": np.nan, "p_value": np.nan, "sims": 0, "exact": False, "method": "none"}
    Xc = X - X.mean(axis=0)
    S = np.atleast_2d(np.cov(Xc, rowvar=False))
    S_pinv = np.linalg.pinv(S, rcond=1e-10)
    observed = float(_mahalanobis(Xc, S_pinv, z.astype(np.float64)[:, None])[0])
    design = assignment if assignment is not None else complete(len(z), m=int(z.sum()), seed=0)
    perms = design.permutations(sims, seed=seed)
    exact = perms.shape[1] != sims or (design.equiprobable and design.n_possible == perms.shape[1])
    Z = (perms == 1).astype(np.float64)
    ok = (Z.sum(axis=0) > 0) & (Z.sum(axis=0) < len(z))
    T = _mahalanobis(Xc, S_pinv, Z[:, ok])
    hits = int(np.sum(T >= observed * (1 - 1e-12) - 1e-12))
    if exact:
        p = hits / T.size
    else:
        p = (hits + 1) / (T.size + 1)
    return {"statistic": observed, "p_value": float(p), "sims": int(T.size), "exact": bool(exact),
            "method": "mahalanobis randomisation test"}
