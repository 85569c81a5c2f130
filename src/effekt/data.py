"""Input checks shared by every estimator.

Estimators call :func:`check_columns` first. It turns a data frame (pandas,
polars, or a mapping of columns) into numpy arrays and raises a
:class:`~effekt.errors.DataError` naming the column and the rows for every
bad input in the design document: a missing column, text where numbers
belong, missing or infinite values, a treatment that is not 0/1 (or not one
of the declared arms), an empty arm, non-positive weights. Nothing is
silently dropped, imputed or coerced: ``missing="drop"`` drops rows with
missing values on request and reports how many.

Helpers for options (:func:`check_option`, :func:`check_probability`,
:func:`check_seed`) raise :class:`~effekt.errors.DesignError` with the
choices listed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from effekt.errors import DataError, DesignError

__all__ = [
    "Columns",
    "as_frame",
    "check_columns",
    "check_groups_have_both_arms",
    "check_option",
    "check_probability",
    "check_seed",
    "check_positive_int",
    "Covariates",
    "expand_covariates",
    "is_categorical",
    "describe_rows",
    "label",
    "varying_groups",
]

_MAX_ROWS_SHOWN = 5


def label(value: Any) -> str:
    """repr of a label as the user wrote it (numpy scalars shown as Python ones)."""
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value)


def describe_rows(index: Iterable[Any]) -> str:
    """'rows 3, 17 and 40' or 'rows 3, 17, 40, 41, 52 and 12 more'."""
    rows = list(index)
    shown = ", ".join(str(r) for r in rows[:_MAX_ROWS_SHOWN])
    if len(rows) == 1:
        return f"row {shown}"
    if len(rows) > _MAX_ROWS_SHOWN:
        return f"rows {shown} and {len(rows) - _MAX_ROWS_SHOWN} more"
    head, _, last = shown.rpartition(", ")
    return f"rows {head} and {last}"


def as_frame(data: Any) -> pd.DataFrame:
    """A pandas DataFrame from a pandas or polars frame or a mapping of columns.

    A frame with two columns of the same name is refused (DataError naming
    it): which of them an analysis would use is not defined.
    """
    if isinstance(data, pd.DataFrame):
        check_unique_names(data)
        return data
    if data is None:
        raise DataError("no data: pass data= a pandas or polars DataFrame.")
    to_pandas = getattr(data, "to_pandas", None)
    if callable(to_pandas) and type(data).__module__.startswith("polars"):
        return to_pandas()  # type: ignore[no-any-return]
    if isinstance(data, Mapping):
        try:
            return pd.DataFrame(dict(data))
        except ValueError as exc:
            raise DataError(f"the columns given as a mapping do not form a table: {exc}.") from None
    raise DataError(
        f"data must be a pandas or polars DataFrame (or a mapping of columns); got "
        f"{type(data).__name__}."
    )


def check_unique_names(frame: pd.DataFrame) -> None:
    """DataError naming the columns that appear more than once in ``frame``."""
    if frame.columns.has_duplicates:
        dup = list(dict.fromkeys(frame.columns[frame.columns.duplicated()]))
        name = dup[0]
        more = f" (also {', '.join(repr(c) for c in dup[1:])})" if len(dup) > 1 else ""
        raise DataError(
            f"column {name!r}: the data have {(frame.columns == name).sum()} columns with this name{more}; "
            "which one an analysis uses is not defined. Rename or drop the duplicates first."
        )


#: numbers beyond this magnitude (or non-zero below its inverse) are refused:
#: their squares and sums overflow or underflow double precision.
MAX_MAGNITUDE = 1e100


def check_magnitude(values: np.ndarray, name: Any, role: str) -> np.ndarray:
    """DataError when finite values are too large or too small to analyse in double precision."""
    with np.errstate(all="ignore"):
        a = np.abs(values[np.isfinite(values)])
    if a.size and (a.max() > MAX_MAGNITUDE or ((a > 0) & (a < 1 / MAX_MAGNITUDE)).any()):
        big = a.max() > MAX_MAGNITUDE
        shown = a.max() if big else a[a > 0].min()
        raise DataError(
            f"{role} column {name!r} holds values as {'large' if big else 'small'} as {shown:.3g}: beyond "
            f"{MAX_MAGNITUDE:.0e} (or below {1 / MAX_MAGNITUDE:.0e}) sums of squares overflow or underflow "
            "double precision. Rescale the column (e.g. to thousands or millions) first."
        )
    return values


def group_codes(series: pd.Series, name: Any, role: str) -> tuple[np.ndarray, Any]:
    """Integer codes 0..k-1 of a grouping column and its labels in sorted order.

    DataError when the labels cannot be ordered (e.g. numbers mixed with
    tuples) or cannot be told apart (unhashable values).
    """
    try:
        return pd.factorize(series, sort=True)  # type: ignore[no-any-return]
    except TypeError:
        kinds = sorted({type(v).__name__ for v in series.tolist()})
        raise DataError(
            f"{role} column {name!r} mixes values of types {', '.join(kinds)} that cannot be ordered or "
            "compared; give it one type (e.g. text labels, with .astype(str))."
        ) from None


@dataclass
class Columns:
    """The checked columns of one analysis, as numpy arrays.

    ``z`` is 0/1 (``int8``); ``blocks`` and ``clusters`` are integer codes
    ``0..k-1`` with their labels in ``block_labels`` / ``cluster_labels``;
    ``X`` has one column per covariate. Absent roles are ``None``.
    """

    n: int
    names: dict[str, Any]
    y: np.ndarray | None = None
    z: np.ndarray | None = None
    arms: tuple[Any, Any] = (0, 1)
    blocks: np.ndarray | None = None
    block_labels: np.ndarray | None = None
    clusters: np.ndarray | None = None
    cluster_labels: np.ndarray | None = None
    weights: np.ndarray | None = None
    X: np.ndarray | None = None
    covariates: list[str] = field(default_factory=list)
    covariate_names: list[str] = field(default_factory=list)
    reference_levels: dict[Any, Any] = field(default_factory=dict)
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    dropped: int = 0
    index: pd.Index | None = None

    @property
    def n_treated(self) -> int:
        return int(self.z.sum()) if self.z is not None else 0

    @property
    def n_control(self) -> int:
        return int(self.n - self.z.sum()) if self.z is not None else 0

    def warnings(self) -> list[str]:
        if self.dropped:
            rows = "1 row with a missing value was" if self.dropped == 1 else f"{self.dropped} rows with missing values were"
            return [f"{rows} dropped (missing='drop')."]
        return []


def _require_column(frame: pd.DataFrame, name: Any, role: str) -> pd.Series:
    if not isinstance(name, (str, int)) or isinstance(name, bool):
        raise DataError(f"{role}= must name a column; got {name!r}.")
    if frame.columns.duplicated().any() and (frame.columns == name).sum() > 1:
        raise DataError(
            f"{role}={name!r}: the data have {(frame.columns == name).sum()} columns with this name. "
            "Rename or drop the duplicates first."
        )
    if name not in frame.columns:
        cols = ", ".join(repr(c) for c in list(frame.columns)[:20])
        more = " ..." if frame.shape[1] > 20 else ""
        raise DataError(
            f"{role}={name!r}: no such column. The data have {cols}{more}. "
            "Check the spelling or add the column."
        )
    return frame[name]


def _numeric(series: pd.Series, name: Any, role: str) -> np.ndarray:
    """Float array of a numeric column; DataError for text, dates, objects."""
    if pd.api.types.is_bool_dtype(series):
        return series.to_numpy(dtype=float)
    if not pd.api.types.is_numeric_dtype(series):
        converted = pd.to_numeric(series, errors="coerce")
        bad = (series.notna() & converted.isna()).to_numpy()
        is_text = series.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
        if not bad.any() and is_text.any():
            bad = is_text  # numbers written as text, e.g. "1.5"
        if not bad.any():
            # numbers kept as Python objects: not converted silently, but said plainly
            raise DataError(
                f"{role} column {name!r} holds numbers stored as {series.dtype} values, not as a numeric "
                "column; nothing is converted silently. Convert it first, e.g. with .astype(float)."
            )
        first = series[bad].iloc[0]
        kind = "dates" if pd.api.types.is_datetime64_any_dtype(series) else "text"
        raise DataError(
            f"{role} column {name!r} holds {kind} where numbers belong: {int(bad.sum())} value"
            f"{'s' if bad.sum() != 1 else ''} such as {first!r} ({describe_rows(series.index[bad])}). "
            "Convert it to numbers first, e.g. with pandas.to_numeric, or pick the right column."
        )
    if isinstance(series.dtype, pd.api.extensions.ExtensionDtype):
        return check_magnitude(series.to_numpy(dtype=float, na_value=np.nan), name, role)
    return check_magnitude(series.to_numpy(dtype=float), name, role)


def _labels_in_order(series: pd.Series) -> list[Any]:
    """The distinct values of ``series`` in the order they first appear (never sorted)."""
    return list(dict.fromkeys(v for v in series.tolist() if not (isinstance(v, float) and np.isnan(v))))


def _as_binary_numbers(series: pd.Series) -> pd.Series | None:
    """A categorical or object column holding only the numbers 0 and 1 (or bools), as numbers; else None."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        cats = series.cat.categories
        if not (pd.api.types.is_numeric_dtype(cats) or pd.api.types.is_bool_dtype(cats)):
            return None
        values = series.astype(cats.dtype)
    elif series.dtype == object:
        if not all(isinstance(v, (bool, int, float, np.integer, np.floating, np.bool_)) for v in series.tolist()):
            return None
        values = series.astype(float)
    else:
        return None
    numeric = values.astype(float)
    if not numeric.isin((0.0, 1.0)).all():
        return None
    return numeric


def arms_advice(found: Sequence[Any], *, arms_ok: bool = True) -> str:
    """How to declare text arms, naming both orders: effekt never guesses which arm is the programme.

    >>> arms_advice(["JKI", "CAB"])
    "Declare which label is the programme with arms=(control, treated): arms=('JKI', 'CAB') if 'CAB' is the programme, arms=('CAB', 'JKI') if 'JKI' is. effekt does not guess: the order sets the sign of the effect."
    """
    if not arms_ok:
        return "Recode it to 0 (control) and 1 (the programme)."
    if len(found) == 2:
        a, b = (label(v) for v in found)
        return (
            f"Declare which label is the programme with arms=(control, treated): arms=({a}, {b}) if {b} is "
            f"the programme, arms=({b}, {a}) if {a} is. effekt does not guess: the order sets the sign of the effect."
        )
    return (
        "Analyse two arms at a time: declare them with arms=(control, treated), naming which label is the "
        "programme (effekt does not guess: the order sets the sign of the effect)."
    )


def _treatment(
    series: pd.Series, name: Any, arms: Sequence[Any] | None, *, role: str = "treatment", arms_ok: bool = True
) -> tuple[np.ndarray, tuple[Any, Any]]:
    if arms is not None:
        if len(arms) != 2:
            raise DesignError(
                f"arms= must name two arms, (control, treated); got {arms!r}. For more arms, "
                "analyse one pair at a time."
            )
        control, treated = arms
        is_t = (series == treated).to_numpy(dtype=bool)
        is_c = (series == control).to_numpy(dtype=bool)
        other = ~(is_t | is_c)
        if other.any():
            found = _labels_in_order(series[other])
            raise DataError(
                f"{role} column {name!r} holds {', '.join(label(v) for v in found[:5])} in "
                f"{describe_rows(series.index[other])}, which is neither of the "
                f"declared arms {control!r} (control) and {treated!r} (treated). Drop those "
                "rows first or declare the arms you mean."
            )
        return is_t.astype(np.int8), (control, treated)
    if pd.api.types.is_bool_dtype(series):
        return series.to_numpy().astype(np.int8), (False, True)
    if not pd.api.types.is_numeric_dtype(series):
        as_numbers = _as_binary_numbers(series)
        if as_numbers is not None:
            return as_numbers.to_numpy().astype(np.int8), (0, 1)
        found = _labels_in_order(series)
        raise DataError(
            f"{role} column {name!r} holds {', '.join(label(v) for v in found[:5])}; it must hold 0 "
            f"(control) and 1 (treated). {arms_advice(found, arms_ok=arms_ok)}"
        )
    numeric = series.to_numpy().astype(float)
    bad = ~np.isin(numeric, (0.0, 1.0))
    if bad.any():
        found_n = sorted({v for v in np.unique(numeric[bad]).tolist()})
        how = (
            "Recode it, or declare the two arms to compare with arms=(control, treated)."
            if arms_ok else "Recode it to 0 (control) and 1 (the programme)."
        )
        raise DataError(
            f"{role} column {name!r} must hold 0 (control) and 1 (treated); it also holds "
            f"{', '.join(f'{v:g}' for v in found_n[:5])} in {describe_rows(series.index[bad])}. {how}"
        )
    return numeric.astype(np.int8), (0, 1)


def check_columns(
    data: Any,
    *,
    outcome: Any = None,
    treatment: Any = None,
    blocks: Any = None,
    clusters: Any = None,
    weights: Any = None,
    covariates: Sequence[Any] | str | None = None,
    arms: Sequence[Any] | None = None,
    numeric: Mapping[str, Any] | None = None,
    missing: str = "error",
    require_both_arms: bool = True,
    roles: Mapping[str, str] | None = None,
    arms_ok: bool = True,
) -> Columns:
    """Check and extract the columns an analysis uses.

    Parameters
    ----------
    data : DataFrame
        pandas or polars frame, or a mapping of columns.
    outcome, treatment, blocks, clusters, weights : column name, optional
        The roles the estimator uses. ``treatment`` must be 0/1 (or bool),
        or two labels declared with ``arms=(control, treated)``.
    covariates : list of column names, optional
        Numeric adjustment columns.
    numeric : mapping role -> column, optional
        Further numeric columns to check (e.g. ``{"time": "weeks"}``); their
        arrays are in ``Columns.extra[role]``.
    missing : {"error", "drop"}, default "error"
        ``"drop"`` drops rows with a missing value in any used column and
        reports the count in ``Columns.dropped``.
    require_both_arms : bool, default True
        Raise when an arm has no units.
    roles : mapping role -> name shown, optional
        The argument names the caller's users pass, for messages: a DiD
        estimator that passes its ``unit=`` column as ``blocks`` gives
        ``roles={"blocks": "unit"}`` so an error reads "unit column 'unit'".
    arms_ok : bool, default True
        Whether the calling estimator takes ``arms=``; advice for a text
        treatment names that option only then.

    Raises
    ------
    DataError
        For every bad input listed above, naming the column and rows.
    """
    frame = as_frame(data)
    check_option(missing, "missing", ("error", "drop"))
    shown = dict(roles or {})

    def show(role: str) -> str:
        return shown.get(role, role)

    if isinstance(covariates, str):
        covariates = [covariates]
    covariates = list(covariates or [])
    used: list[tuple[str, Any]] = [
        (role, name)
        for role, name in (
            ("outcome", outcome),
            ("treatment", treatment),
            ("blocks", blocks),
            ("clusters", clusters),
            ("weights", weights),
        )
        if name is not None
    ]
    used += [("covariate", c) for c in covariates]
    used += list((numeric or {}).items())
    if frame.shape[0] == 0:
        raise DataError("the data have no rows.")
    # a missing column is reported as the option that named it (covariates=, not covariate=)
    series = {(role, name): _require_column(frame, name, show("covariates" if role == "covariate" else role))
              for role, name in used}

    # missing values: error (default) or drop
    na_mask = np.zeros(frame.shape[0], dtype=bool)
    for (role, name), s in series.items():
        mask = s.isna().to_numpy()
        if mask.any():
            if missing == "error":
                raise DataError(
                    f"{show(role)} column {name!r} has {int(mask.sum())} missing value"
                    f"{'s' if mask.sum() != 1 else ''} ({describe_rows(frame.index[mask])}). "
                    "Nothing is dropped silently: remove or impute them, or pass "
                    "missing='drop' to drop those rows and report how many."
                )
            na_mask |= mask
    dropped = int(na_mask.sum())
    if dropped:
        keep = ~na_mask
        frame = frame.loc[keep]
        series = {k: s.loc[keep] for k, s in series.items()}
        if frame.shape[0] == 0:
            raise DataError("every row has a missing value in a used column; nothing is left.")
    index = frame.index
    cols = Columns(n=frame.shape[0], names=dict(used), dropped=dropped, index=index)
    cols.names = {role: name for role, name in used if role != "covariate"}
    cols.covariates = covariates

    def numeric_finite(role: str, name: Any) -> np.ndarray:
        arr = _numeric(series[(role, name)], name, show(role))
        bad = ~np.isfinite(arr)
        if bad.any():
            raise DataError(
                f"{show(role)} column {name!r} has {int(bad.sum())} infinite value"
                f"{'s' if bad.sum() != 1 else ''} ({describe_rows(index[bad])}). Replace "
                "them with finite numbers or drop those rows."
            )
        return arr

    if outcome is not None:
        cols.y = numeric_finite("outcome", outcome)
    if treatment is not None:
        cols.z, cols.arms = _treatment(
            series[("treatment", treatment)], treatment, arms, role=show("treatment"), arms_ok=arms_ok
        )
        if require_both_arms:
            n_t = int(cols.z.sum())
            if n_t == 0 or n_t == cols.n:
                empty = "treated" if n_t == 0 else "control"
                label = cols.arms[1] if n_t == 0 else cols.arms[0]
                raise DataError(
                    f"the {empty} arm is empty: no row of {show('treatment')} column {treatment!r} is "
                    f"{label!r} (all {cols.n} rows are in the other arm). An effect needs units "
                    "in both arms; check the treatment coding or the rows selected."
                )
    if blocks is not None:
        codes, labels = group_codes(series[("blocks", blocks)], blocks, show("blocks"))
        cols.blocks, cols.block_labels = codes.astype(np.int64), np.asarray(labels)
    if clusters is not None:
        codes, labels = group_codes(series[("clusters", clusters)], clusters, show("clusters"))
        cols.clusters, cols.cluster_labels = codes.astype(np.int64), np.asarray(labels)
    if weights is not None:
        w = numeric_finite("weights", weights)
        bad = w <= 0
        if bad.any():
            raise DataError(
                f"{show('weights')} column {weights!r} has {int(bad.sum())} zero or negative value"
                f"{'s' if bad.sum() != 1 else ''} ({describe_rows(index[bad])}); weights must "
                "be positive. Drop units that should not count instead of giving them weight 0."
            )
        cols.weights = w
    if covariates:
        parts, names = [], []
        for c in covariates:
            s_c = series[("covariate", c)]
            if is_categorical(s_c):
                exp = _indicators(s_c, c)
                parts.append(exp.matrix)
                names += exp.names
                cols.reference_levels.update(exp.reference_levels)
            else:
                parts.append(numeric_finite("covariate", c)[:, None])
                names.append(str(c))
        cols.X = np.column_stack(parts) if parts else None
        cols.covariate_names = names
    for role, name in (numeric or {}).items():
        cols.extra[role] = numeric_finite(role, name)
    return cols


MAX_LEVELS = 50


@dataclass(frozen=True)
class Covariates:
    """Adjustment columns as a numeric matrix, text and categories expanded.

    ``matrix`` has one column per numeric covariate and one indicator per
    non-reference level of each text or categorical covariate; ``names``
    names its columns (``"sector[retail]"``); ``reference_levels`` gives each
    expanded covariate's reference level; ``expanded`` maps each expanded
    covariate to its indicator columns.
    """

    matrix: np.ndarray
    names: list[str]
    reference_levels: dict[Any, Any]
    expanded: dict[Any, list[str]]


def is_categorical(series: pd.Series) -> bool:
    """True for text, object and categorical columns (bool and numbers are numeric)."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return True
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        return False
    return pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)


def _indicators(series: pd.Series, name: Any) -> Covariates:
    """Indicators for every level but the first, as R codes a factor (treatment contrasts).

    The levels are a categorical's categories in their order, or the sorted
    distinct values of a text column; the first is the reference.
    """
    if series.isna().any():
        mask = series.isna().to_numpy()
        raise DataError(
            f"covariate column {name!r} has {int(mask.sum())} missing value{'s' if mask.sum() != 1 else ''} "
            f"({describe_rows(series.index[mask])}). Remove or impute them, or pass missing='drop'."
        )
    if isinstance(series.dtype, pd.CategoricalDtype):
        levels = [lv for lv in series.cat.categories if (series == lv).any()]
    else:
        try:
            levels = sorted(series.unique().tolist())
        except TypeError:  # mixed types: order by their text
            levels = sorted(series.unique().tolist(), key=str)
    if len(levels) < 2:
        raise DataError(
            f"covariate column {name!r} holds only {levels[0]!r}; a constant covariate adjusts for "
            "nothing. Drop it from covariates=."
        )
    if len(levels) > MAX_LEVELS:
        raise DataError(
            f"covariate column {name!r} holds {len(levels)} distinct text values; expanding it would "
            f"add {len(levels) - 1} indicator columns. Absorb it instead (blocks= or fixed_effects=), "
            "or group its levels first."
        )
    values = series.to_numpy()
    cols = [f"{name}[{lv}]" for lv in levels[1:]]
    matrix = np.column_stack([(values == lv).astype(float) for lv in levels[1:]])
    return Covariates(matrix=matrix, names=cols, reference_levels={name: levels[0]}, expanded={name: cols})


def expand_covariates(frame: Any, covariates: Sequence[Any] | str | None, *, missing: str = "error") -> Covariates:
    """The covariates as a numeric matrix, text and categorical columns as indicators.

    A text or categorical covariate becomes one 0/1 column per level but the
    first (the reference: a categorical's first category, else the first
    value in sorted order), as R's treatment contrasts code a factor; numeric
    and bool columns pass through. Missing values raise a
    :class:`~effekt.errors.DataError` naming the column (``missing="drop"``
    is the caller's: drop the rows before calling).

    >>> df = pd.DataFrame({"age": [30, 40, 50, 60], "sector": ["retail", "care", "care", "build"]})
    >>> cov = expand_covariates(df, ["age", "sector"])
    >>> cov.names, cov.reference_levels
    (['age', 'sector[care]', 'sector[retail]'], {'sector': 'build'})
    >>> cov.matrix[:, 1].tolist()
    [0.0, 1.0, 1.0, 0.0]
    """
    frame = as_frame(frame)
    check_option(missing, "missing", ("error", "drop"))
    if isinstance(covariates, str):
        covariates = [covariates]
    parts: list[np.ndarray] = []
    names: list[str] = []
    refs: dict[Any, Any] = {}
    expanded: dict[Any, list[str]] = {}
    for c in list(covariates or []):
        series = _require_column(frame, c, "covariate")
        if is_categorical(series):
            exp = _indicators(series, c)
            parts.append(exp.matrix)
            names += exp.names
            refs.update(exp.reference_levels)
            expanded.update(exp.expanded)
        else:
            arr = _numeric(series, c, "covariate")
            bad = ~np.isfinite(arr)
            if bad.any():
                raise DataError(
                    f"covariate column {c!r} has {int(bad.sum())} missing or infinite value"
                    f"{'s' if bad.sum() != 1 else ''} ({describe_rows(series.index[bad])}). Remove or "
                    "impute them, or pass missing='drop'."
                )
            parts.append(arr[:, None])
            names.append(str(c))
    matrix = np.column_stack(parts) if parts else np.empty((frame.shape[0], 0))
    return Covariates(matrix=matrix, names=names, reference_levels=refs, expanded=expanded)


def varying_groups(values: np.ndarray, codes: np.ndarray, k: int) -> np.ndarray:
    """Indices of the groups (codes ``0..k-1``) in which ``values`` is not constant.

    >>> varying_groups(np.array([1, 1, 0, 1]), np.array([0, 0, 1, 1]), 2).tolist()
    [1]
    """
    lo = np.full(k, np.inf)
    hi = np.full(k, -np.inf)
    np.minimum.at(lo, codes, values)
    np.maximum.at(hi, codes, values)
    return np.flatnonzero((lo != hi) & np.isfinite(lo))


def check_groups_have_both_arms(
    codes: np.ndarray, labels: np.ndarray, z: np.ndarray, *, role: str, column: Any
) -> None:
    """DataError when a block (or cluster-level check) holds only one arm."""
    k = len(labels)
    n_treated = np.bincount(codes, weights=z, minlength=k)
    n_total = np.bincount(codes, minlength=k)
    n_control = n_total - n_treated
    bad = np.flatnonzero((n_treated == 0) | (n_control == 0))
    if bad.size:
        b = bad[0]
        others = f" ({bad.size - 1} more {role}s have the same problem)" if bad.size > 1 else ""
        raise DataError(
            f"{role} {label(labels[b])} of column {column!r} has {int(n_treated[b])} treated and "
            f"{int(n_control[b])} control units{others}; every {role} needs both arms. Merge "
            f"it with a neighbouring {role}, or drop it and say why."
        )


def check_option(value: Any, name: str, choices: Sequence[Any]) -> Any:
    """DesignError unless ``value`` is one of ``choices``; lists them."""
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise DesignError(f"{name}={value!r} is not an option; use one of {listed}.")
    return value


def check_probability(p: Any, name: str = "prob", *, open_interval: bool = True) -> float:
    """A probability as float; DesignError when out of (0, 1) (or [0, 1])."""
    try:
        value = float(p)
    except (TypeError, ValueError):
        raise DesignError(f"{name} must be a number between 0 and 1; got {p!r}.") from None
    ok = 0.0 < value < 1.0 if open_interval else 0.0 <= value <= 1.0
    if not ok:
        bounds = "strictly between 0 and 1" if open_interval else "between 0 and 1"
        raise DesignError(f"{name} must lie {bounds}; got {p!r}.")
    return value


def check_positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """An integer >= minimum; DesignError otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise DesignError(f"{name} must be a whole number >= {minimum}; got {value!r}.")
    if value < minimum:
        raise DesignError(f"{name} must be >= {minimum}; got {value}.")
    return int(value)


def check_seed(seed: Any) -> np.random.Generator:
    """A numpy Generator from ``seed`` (a non-negative int, a Generator, or None).

    The same integer gives the same stream on every platform: effekt uses
    numpy's PCG64 bit generator, whose output numpy keeps stable across
    releases.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise DesignError(
            f"seed must be a non-negative whole number or a numpy Generator; got {seed!r}."
        )
    if seed < 0:
        raise DesignError(f"seed must be non-negative; got {seed}.")
    return np.random.Generator(np.random.PCG64(int(seed)))
