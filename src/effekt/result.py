"""The result types every estimator and power calculator returns.

:class:`EffectResult` holds one effect: the estimate, its standard error,
confidence interval, p-value and the design facts behind them.
:class:`EffectTable` holds several effects of one fit (event-study leads and
lags, ATT(g, t), per-unit effects). :class:`PowerResult` holds the one
quantity a power calculator solved for.

All three are frozen: a new confidence level gives a new object
(:meth:`EffectResult.with_conf_level`), nothing is edited in place, and
nothing prints.

Conventions
-----------
* ``conf_int`` is ``(low, high)`` at ``conf_level`` (default 0.95).
* ``df`` is the reference t distribution's degrees of freedom; ``None``
  means the standard normal.
* ``ci_method`` says how ``conf_int`` was formed: ``"wald"`` is
  ``estimate +/- q * std_error``; ``"wald-log"`` is
  ``exp(log(estimate) +/- q * std_error)`` with ``std_error`` on the log
  scale (hazard, risk and odds ratios); anything else (``"newcombe"``,
  ``"profile"``, ``"exact"``, ``"bootstrap"``, ``"test-inversion"``) is a
  method that cannot be rescaled to another level from the fields alone.
* ``to_dict()`` is JSON-safe: Python scalars only, NaN and infinities as
  ``None``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from effekt._lazy import lazy_module
from effekt.errors import EstimationError

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure
    from scipy import stats
else:  # imported on first use: a power result needs neither
    pd, stats = lazy_module("pandas"), lazy_module("scipy.stats")

__all__ = [
    "EffectResult",
    "EffectTable",
    "FrozenDict",
    "PowerResult",
    "Result",
    "freeze",
    "monte_carlo_p_value",
    "to_jsonable",
]


@runtime_checkable
class Result(Protocol):
    """What every result type keeps, so reports and simulations consume any of them.

    ``tidy()`` gives a DataFrame (one row per term or record), ``summary()``
    text a person reads, ``to_dict()`` a JSON-safe dict and ``to_json()`` its
    text. Results that have a picture add ``plot(*, ax=None, labels=None)``
    returning a :class:`matplotlib.figure.Figure` built without pyplot.
    Results are immutable: nothing edits them in place.
    """

    def tidy(self) -> pd.DataFrame: ...

    def summary(self) -> str: ...

    def to_dict(self) -> dict[str, Any]: ...

    def to_json(self, **kwargs: Any) -> str: ...


class FrozenDict(Mapping[str, Any]):
    """A read-only mapping (the ``extra`` of every result).

    Built by :func:`freeze`: nested dicts become FrozenDicts, lists become
    tuples and numpy arrays are marked read-only, so a result cannot be
    changed after it is made. It pickles (for parallel simulation) and
    compares equal to a dict with the same items.

    >>> d = FrozenDict({"a": 1})
    >>> d["a"], d == {"a": 1}
    (1, True)
    >>> d["a"] = 2
    Traceback (most recent call last):
    ...
    TypeError: 'FrozenDict' object does not support item assignment
    """

    __slots__ = ("_data",)
    _data: dict[str, Any]

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        object.__setattr__(self, "_data", {k: freeze(v) for k, v in dict(data or {}).items()})

    def __getitem__(self, key: str) -> Any:
        value = self._data[key]
        if type(value).__module__.startswith("pandas") and hasattr(value, "copy"):
            return value.copy()  # a frame cannot be made read-only: hand out a copy
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("FrozenDict is read-only")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return set(self) == set(other) and all(_same(self[k], other[k]) for k in self)
        return NotImplemented

    def __hash__(self) -> int:  # pragma: no cover - rarely hashed
        return hash(tuple(sorted(self._data)))

    def __repr__(self) -> str:
        return repr(self._data)

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenDict, (self._data,))

    def copy(self) -> dict[str, Any]:
        """A plain (mutable) dict with the same items, to build a new result from."""
        return dict(self._data)


def _same(a: Any, b: Any) -> bool:
    """Equality that also holds for arrays and frames (element-wise, NaN equal to NaN)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        try:
            return bool(np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True))
        except TypeError:
            return bool(np.array_equal(np.asarray(a), np.asarray(b)))
    if hasattr(a, "equals") and type(a).__module__.startswith("pandas"):
        return bool(a.equals(b))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


class FrozenList(tuple):  # type: ignore[type-arg]
    """A read-only list: a tuple that compares equal to a list with the same items."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, list):
            return list(self) == other
        return tuple.__eq__(self, other)  # type: ignore[arg-type]

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = tuple.__hash__


def freeze(value: Any) -> Any:
    """``value`` made read-only: mappings to FrozenDict, lists to tuples, arrays not writeable."""
    if isinstance(value, (FrozenDict, FrozenList)):  # already frozen: re-freezing keeps list equality
        return value
    if isinstance(value, Mapping):
        return FrozenDict(value)
    if isinstance(value, list):
        return FrozenList(freeze(v) for v in value)
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(freeze(v) for v in value)
    if isinstance(value, np.ndarray):
        if value.flags.writeable:
            value = value.view()
            value.flags.writeable = False
        return value
    if type(value).__module__.startswith("pandas") and isinstance(value, (pd.DataFrame, pd.Series)):
        value = value.copy()
        for arr in ([value.to_numpy()] if isinstance(value, pd.Series) else []):
            arr.flags.writeable = False
        return value
    return value


def monte_carlo_p_value(extreme: int, sims: int) -> float:
    """``(1 + extreme) / (1 + sims)``: a Monte Carlo p-value that is never 0.

    ``extreme`` draws of ``sims`` were at least as extreme as the observed
    statistic; counting the observed one among the draws keeps the test
    exact and the p-value at least ``1 / (sims + 1)`` (Phipson & Smyth 2010,
    doi:10.2202/1544-6115.1585).

    >>> monte_carlo_p_value(0, 999)
    0.001
    """
    return (1.0 + float(extreme)) / (1.0 + float(sims))


def to_jsonable(obj: Any) -> Any:
    """Convert ``obj`` to something :func:`json.dumps` accepts.

    numpy scalars become Python scalars, arrays and tuples become lists,
    DataFrames become lists of records, NaN and infinities become ``None``.

    >>> to_jsonable({"a": np.float64("nan"), "b": (np.int64(2), 1.5)})
    {'a': None, 'b': [2, 1.5]}
    """
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return value if math.isfinite(value) else None
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return [to_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, pd.DataFrame):
        return [to_jsonable(r) for r in obj.to_dict(orient="records")]
    if isinstance(obj, pd.Series):
        return to_jsonable(obj.to_dict())
    if hasattr(obj, "to_dict"):
        return to_jsonable(obj.to_dict())
    if isinstance(obj, (pd.Timestamp,)):
        return obj.isoformat()
    return str(obj)


def _as_float(value: Any) -> float:
    if value is None:
        return float("nan")
    return float(value)


def _as_int(value: Any) -> int | None:
    if value is None:
        return None
    return int(value)


def _critical_value(conf_level: float, df: float | None) -> float:
    upper = 0.5 + conf_level / 2.0
    if df is None or not math.isfinite(df):
        return float(stats.norm.ppf(upper))
    return float(stats.t.ppf(upper, df))


def _fmt(value: float | None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "NA"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}g}"


def _fmt_p(p: float, sims: int | None = None) -> str:
    """A p-value as printed: four decimals, "< 0.0001" below that.

    A Monte Carlo p-value from ``sims`` draws is at least ``1 / (sims + 1)``
    and is printed as "<= 1/(sims+1)" at that floor, never as 0.
    """
    if p is None or not math.isfinite(p):
        return "NA"
    if sims:
        floor = 1.0 / (sims + 1.0)
        if p <= floor * (1 + 1e-9):
            return f"<= {floor:.2g}"
    if p < 1e-4:
        return "< 0.0001"
    return f"{p:.4f}"


@dataclass(frozen=True, repr=False)
class EffectResult:
    """One estimated effect, with its uncertainty and the design behind it.

    Build one with :meth:`from_t` or :meth:`from_z` when the confidence
    interval and p-value come from a t or normal reference distribution;
    call the constructor directly when they come from elsewhere (exact,
    score or profile methods) and set ``ci_method`` accordingly.

    Examples
    --------
    >>> res = EffectResult.from_t(2.0, 0.5, df=98, estimator="difference_in_means",
    ...                           estimand="ate", term="z", n=100, n_treated=50,
    ...                           n_control=50, se_type="HC2", design="simple")
    >>> round(res.conf_int[0], 4), round(res.p_value, 6)
    (1.0078, 0.000123)
    >>> res.with_conf_level(0.90).conf_level
    0.9
    """

    estimator: str
    estimand: str
    term: str
    estimate: float
    std_error: float
    conf_int: tuple[float, float]
    conf_level: float
    p_value: float
    df: float | None
    n: int
    n_treated: int | None = None
    n_control: int | None = None
    se_type: str | None = None
    design: str | None = None
    warnings: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    outcome: str | None = None
    ci_method: str = "wald"
    n_units: int | None = None
    n_clusters: int | None = None
    plotter: Callable[..., Any] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "estimate", _as_float(self.estimate))
        set_(self, "std_error", _as_float(self.std_error))
        low, high = self.conf_int
        set_(self, "conf_int", (_as_float(low), _as_float(high)))
        set_(self, "conf_level", float(self.conf_level))
        set_(self, "p_value", _as_float(self.p_value))
        set_(self, "df", None if self.df is None else float(self.df))
        set_(self, "n", int(self.n))
        set_(self, "n_treated", _as_int(self.n_treated))
        set_(self, "n_control", _as_int(self.n_control))
        set_(self, "n_units", _as_int(self.n_units))
        set_(self, "n_clusters", _as_int(self.n_clusters))
        set_(self, "warnings", tuple(str(w) for w in self.warnings))
        set_(self, "extra", FrozenDict(self.extra))
        if not 0.0 < self.conf_level < 1.0:
            raise EstimationError(
                f"conf_level must lie strictly between 0 and 1; got {self.conf_level}. "
                "Pass alpha between 0 and 1, e.g. alpha=0.05 for a 95% interval."
            )

    # -- constructors -------------------------------------------------------
    @classmethod
    def from_t(
        cls,
        estimate: float,
        std_error: float,
        df: float | None,
        *,
        alpha: float = 0.05,
        **fields_: Any,
    ) -> EffectResult:
        """Result whose CI and two-sided p-value use a t reference with ``df``
        degrees of freedom (the normal when ``df`` is ``None``).

        CI: ``estimate +/- t_{1-alpha/2, df} * std_error``;
        p: ``2 * P(T_df > |estimate / std_error|)``.
        """
        estimate = float(estimate)
        std_error = float(std_error)
        check_alpha(alpha)
        if not math.isfinite(estimate):
            raise EstimationError(
                f"{fields_.get('estimator', 'estimator')}: the estimate is not finite "
                f"({estimate}). Check the outcome for extreme values."
            )
        if not math.isfinite(std_error) or std_error <= 0.0:
            raise EstimationError(
                f"{fields_.get('estimator', 'estimator')}: the standard error is "
                f"{std_error}, so no test or interval can be formed. This happens when "
                "the outcome does not vary within the arms, or a block or cluster has "
                "too few units to estimate its variance; check the outcome"
                + (f" column {fields_['outcome']!r}" if fields_.get("outcome") is not None else "")
                + " and the design."
            )
        if df is not None and (not math.isfinite(df) or df <= 0):
            if df is not None and math.isinf(df):
                df = None
            else:
                raise EstimationError(
                    f"{fields_.get('estimator', 'estimator')}: degrees of freedom must be "
                    f"positive; got {df}. The design has too few units or clusters."
                )
        conf_level = 1.0 - alpha
        q = _critical_value(conf_level, df)
        statistic = estimate / std_error
        if df is None:
            p = 2.0 * float(stats.norm.sf(abs(statistic)))
        else:
            p = 2.0 * float(stats.t.sf(abs(statistic), df))
        return cls(
            estimate=estimate,
            std_error=std_error,
            conf_int=(estimate - q * std_error, estimate + q * std_error),
            conf_level=conf_level,
            p_value=p,
            df=df,
            **fields_,
        )

    @classmethod
    def from_z(cls, estimate: float, std_error: float, *, alpha: float = 0.05, **fields_: Any) -> EffectResult:
        """Result with a standard normal reference (``df=None``)."""
        return cls.from_t(estimate, std_error, None, alpha=alpha, **fields_)

    # -- derived ------------------------------------------------------------
    @property
    def statistic(self) -> float:
        """The test statistic: ``extra["statistic"]`` when the estimator
        reports one (chi-squared, G, ...), otherwise ``estimate / std_error``
        (on the log scale for ``ci_method="wald-log"``)."""
        if "statistic" in self.extra and self.extra["statistic"] is not None:
            return float(self.extra["statistic"])
        if not (math.isfinite(self.std_error) and self.std_error > 0):
            return float("nan")
        if self.ci_method == "wald-log":
            return math.log(self.estimate) / self.std_error
        return self.estimate / self.std_error

    @property
    def alpha(self) -> float:
        return 1.0 - self.conf_level

    def with_conf_level(self, conf_level: float) -> EffectResult:
        """The same result with its interval at another confidence level.

        Works for Wald-type intervals (``ci_method`` ``"wald"`` or
        ``"wald-log"``); other intervals must be recomputed by the estimator
        with ``alpha=``. Level-dependent figures in ``extra`` (keys starting
        ``"conf_int"`` or ``"uniform_"``, e.g. a profile-likelihood interval)
        are dropped, with a warning saying so.
        """
        check_alpha(1.0 - conf_level)
        q = _critical_value(conf_level, self.df)
        if self.ci_method == "wald":
            ci = (self.estimate - q * self.std_error, self.estimate + q * self.std_error)
        elif self.ci_method == "wald-log":
            log_est = math.log(self.estimate)
            ci = (math.exp(log_est - q * self.std_error), math.exp(log_est + q * self.std_error))
        else:
            raise EstimationError(
                f"{self.estimator}: the interval was formed by the '{self.ci_method}' method, "
                "which cannot be rescaled from the fields alone. Refit with "
                f"alpha={1 - conf_level:g}."
            )
        # figures an estimator computed at the old level (profile or uniform intervals, by
        # convention under keys starting "conf_int" or "uniform_") would be stale: drop them
        stale = [k for k in self.extra if k.startswith(("conf_int", "uniform_"))]
        extra = {k: v for k, v in self.extra.items() if k not in stale}
        notes = self.warnings
        if stale:
            notes = notes + (
                f"{', '.join(stale)} dropped: computed at the {100 * self.conf_level:g}% level; refit with "
                f"alpha={1 - conf_level:g} to recompute them.",
            )
        return replace(self, conf_int=ci, conf_level=conf_level, extra=extra, warnings=notes)

    # -- output -------------------------------------------------------------
    def tidy(self) -> pd.DataFrame:
        """One row per term, with broom/estimatr column names."""
        return pd.DataFrame([self._tidy_row()])

    def _tidy_row(self) -> dict[str, Any]:
        return {
            "term": self.term,
            "estimate": self.estimate,
            "std.error": self.std_error,
            "statistic": self.statistic,
            "p.value": self.p_value,
            "conf.low": self.conf_int[0],
            "conf.high": self.conf_int[1],
            "df": np.nan if self.df is None else self.df,
            "outcome": self.outcome,
            "estimator": self.estimator,
            "estimand": self.estimand,
            "n": self.n,
            "se_type": self.se_type,
            "design": self.design,
        }

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-safe (see :func:`to_jsonable`)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "plotter"}
        out["statistic"] = self.statistic
        return to_jsonable(out)  # type: ignore[no-any-return]

    def plot(self, *, ax: Any = None, labels: Mapping[Any, str] | None = None, **kwargs: Any) -> Figure:
        """The result's picture (a Kaplan-Meier curve, cumulative incidence, ...).

        ``ax`` draws into an existing matplotlib Axes; ``labels`` maps arm or
        cause values to the names shown. Returns a
        :class:`matplotlib.figure.Figure` (made without pyplot's global state).
        Raises :class:`~effekt.errors.EstimationError` when the estimator has no
        picture.
        """
        if self.plotter is None:
            raise EstimationError(
                f"{self.estimator}: this result has no picture; tidy() gives its numbers. "
                "Results with plots: Kaplan-Meier, cumulative incidence, Cox, event studies, "
                "per-unit effects, heterogeneity, mediation, power, balance and CONSORT."
            )
        return self.plotter(self, ax=ax, labels=labels, **kwargs)  # type: ignore[no-any-return]

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def summary(self) -> str:
        """A few lines a person reads."""
        level = f"{100 * self.conf_level:g}%"
        head = f"{self.estimator} ({self.estimand})"
        design = ", ".join(
            p for p in (
                f"design: {self.design}" if self.design else "",
                f"se_type: {self.se_type}" if self.se_type else "",
            ) if p
        )
        counts = f"n = {self.n}"
        if self.n_treated is not None and self.n_control is not None:
            counts += f" ({self.n_treated} treated, {self.n_control} control)"
        if self.n_units is not None:
            counts += f", {self.n_units} units"
        if self.n_clusters is not None:
            counts += f", {self.n_clusters} clusters"
        df = "normal" if self.df is None else _fmt(self.df)
        sims = self.extra.get("sims")
        sims = int(sims) if isinstance(sims, (int, np.integer)) and not isinstance(sims, bool) else None
        test = ""
        stat = self.extra.get("statistic")
        if stat is not None and self.extra.get("statistic_name"):
            test = f"   {self.extra['statistic_name']} = {_fmt(float(stat))}"
            if self.extra.get("df") is not None:
                test += f" on {_fmt(self.extra['df'])} df"
        lines = [
            head + (f"  [{design}]" if design else ""),
            f"outcome: {self.outcome or '-'}   term: {self.term}   {counts}",
            f"  estimate   {_fmt(self.estimate)}",
            f"  std.error  {_fmt(self.std_error)}" + ("  (log scale)" if self.ci_method == "wald-log" else ""),
            f"  {level} CI    [{_fmt(self.conf_int[0])}, {_fmt(self.conf_int[1])}]  ({self.ci_method})",
            f"  p-value    {_fmt_p(self.p_value, sims)}"
            + (test if test else f"   df: {df}")
            + (f"   ({sims} draws)" if sims else ""),
        ]
        facts = []
        if self.extra.get("cause") is not None:
            facts.append(f"cause: {self.extra['cause']!r}")
        if self.extra.get("horizon") is not None:
            h = self.extra["horizon"]
            facts.append(f"horizon: {_fmt(h) if isinstance(h, (int, float)) else h}")
        refs = self.extra.get("reference_levels")
        if refs:
            facts.append("reference levels: " + ", ".join(f"{k} = {v!r}" for k, v in refs.items()))
        if facts:
            lines.append("  " + "; ".join(facts))
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"EffectResult({self.estimator}: estimate={_fmt(self.estimate)}, "
            f"se={_fmt(self.std_error)}, {100 * self.conf_level:g}% CI "
            f"[{_fmt(self.conf_int[0])}, {_fmt(self.conf_int[1])}], p={_fmt_p(self.p_value, None)}, "
            f"n={self.n}, design={self.design!r}, se_type={self.se_type!r})"
        )


def check_alpha(alpha: float) -> float:
    """Validate a significance level and return it as a float."""
    from effekt.errors import DesignError

    try:
        value = float(alpha)
    except (TypeError, ValueError):
        raise DesignError(f"alpha must be a number between 0 and 1; got {alpha!r}.") from None
    if not 0.0 < value < 1.0:
        raise DesignError(
            f"alpha must lie strictly between 0 and 1; got {alpha!r}. "
            "Use alpha=0.05 for a 95% confidence interval."
        )
    return value


@dataclass(frozen=True, repr=False)
class EffectTable(Sequence[EffectResult]):
    """Several effects from one fit, each an :class:`EffectResult` row.

    ``headline_term`` names the row that summarises the fit (the overall ATT
    of an event study, the ACME of a mediation analysis); it is required, and
    ``table.headline`` is that row. The scalar fields (``estimate``,
    ``std_error``, ``conf_int``, ``p_value``, ``df``, ``n``, ...) are the
    headline's, so anything that consumes one effect (power simulation,
    randomisation inference, a report) can take a table. Index by position
    or by term name; ``tidy()`` stacks the rows; ``extra`` holds figures that
    belong to the whole table (a joint pre-trend test, ...).

    >>> a = EffectResult.from_z(1.0, 0.5, estimator="demo", estimand="ate", term="a", n=10)
    >>> b = EffectResult.from_z(2.0, 0.5, estimator="demo", estimand="ate", term="b", n=10)
    >>> tab = EffectTable("demo", (a, b), headline_term="b")
    >>> tab.estimate, tab["a"].estimate
    (2.0, 1.0)
    """

    estimator: str
    rows: tuple[EffectResult, ...]
    extra: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    headline_term: str | None = None
    plotter: Callable[..., Any] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rows", tuple(self.rows))
        object.__setattr__(self, "extra", FrozenDict(self.extra))
        object.__setattr__(self, "warnings", tuple(str(w) for w in self.warnings))
        if not self.rows:
            raise EstimationError(f"{self.estimator}: the fit gave no effects to report.")
        if self.headline_term is None:
            raise EstimationError(
                f"{self.estimator}: an EffectTable needs headline_term= naming the row that summarises "
                f"the fit; the terms are {self.terms}."
            )
        if self.headline_term not in self.terms:
            raise EstimationError(
                f"{self.estimator}: headline_term={self.headline_term!r} is not a term; the terms are {self.terms}."
            )

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[EffectResult]:
        return iter(self.rows)

    def __getitem__(self, key: int | str) -> EffectResult:  # type: ignore[override]
        if isinstance(key, str):
            return self.term(key)
        return self.rows[key]

    @property
    def terms(self) -> list[str]:
        return [r.term for r in self.rows]

    def term(self, name: str) -> EffectResult:
        for row in self.rows:
            if row.term == name:
                return row
        raise KeyError(f"{self.estimator}: no term {name!r}; the terms are {self.terms}.")

    # -- the headline's fields ------------------------------------------------
    @property
    def headline(self) -> EffectResult:
        """The row that summarises the fit."""
        assert self.headline_term is not None
        return self.term(self.headline_term)

    @property
    def estimate(self) -> float:
        return self.headline.estimate

    @property
    def std_error(self) -> float:
        return self.headline.std_error

    @property
    def conf_int(self) -> tuple[float, float]:
        return self.headline.conf_int

    @property
    def conf_level(self) -> float:
        return self.headline.conf_level

    @property
    def p_value(self) -> float:
        return self.headline.p_value

    @property
    def df(self) -> float | None:
        return self.headline.df

    @property
    def n(self) -> int:
        return self.headline.n

    @property
    def n_treated(self) -> int | None:
        return self.headline.n_treated

    @property
    def n_control(self) -> int | None:
        return self.headline.n_control

    @property
    def n_units(self) -> int | None:
        return self.headline.n_units

    @property
    def n_clusters(self) -> int | None:
        return self.headline.n_clusters

    @property
    def estimand(self) -> str:
        return self.headline.estimand

    @property
    def se_type(self) -> str | None:
        return self.headline.se_type

    @property
    def design(self) -> str | None:
        return self.headline.design

    @property
    def outcome(self) -> str | None:
        return self.headline.outcome

    @property
    def ci_method(self) -> str:
        return self.headline.ci_method

    @property
    def statistic(self) -> float:
        return self.headline.statistic

    # -- output -----------------------------------------------------------------
    def tidy(self) -> pd.DataFrame:
        frame = pd.DataFrame([r._tidy_row() for r in self.rows])
        frame["headline"] = [r.term == self.headline_term for r in self.rows]
        return frame

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(  # type: ignore[no-any-return]
            {
                "estimator": self.estimator,
                "headline": self.headline_term,
                "rows": [r.to_dict() for r in self.rows],
                "extra": self.extra,
                "warnings": self.warnings,
            }
        )

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def summary(self) -> str:
        table = self.tidy()[["term", "estimate", "std.error", "conf.low", "conf.high", "p.value"]]
        lines = [
            f"{self.estimator}: {len(self)} terms; headline: {self.headline_term}",
            table.to_string(index=False),
        ]
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def plot(self, *, ax: Any = None, labels: Mapping[Any, str] | None = None, **kwargs: Any) -> Figure:
        """The table's picture (event-time coefficients, a forest plot, ...).

        ``ax`` draws into an existing Axes; ``labels`` maps values to the
        names shown. Returns a :class:`matplotlib.figure.Figure`.
        """
        if self.plotter is None:
            from effekt.plotting import forest

            return forest(self, ax=ax, labels=labels, **kwargs)
        return self.plotter(self, ax=ax, labels=labels, **kwargs)  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return (
            f"EffectTable({self.estimator}: {len(self)} terms {self.terms[:6]}{'...' if len(self) > 6 else ''}, "
            f"headline={self.headline_term!r})"
        )


@dataclass(frozen=True, repr=False)
class PowerResult:
    """The quantity a power calculator solved for, and what it was given.

    ``solved`` names the quantity left out (``"n"``, ``"power"``, ``"p2"``,
    ``"events"``, ...), ``value`` is its value (an array when an input was a
    grid), ``counts`` says in words what the value counts ("individuals per
    arm", "clusters per arm", "events in total", "probability"), ``inputs``
    are the quantities given, ``method`` names the formula. ``plot()`` draws
    the power curve when the calculator supplies one.
    """

    calculator: str
    solved: str
    value: Any
    inputs: Mapping[str, Any]
    method: str
    warnings: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    curve: Callable[..., Any] | None = field(default=None, compare=False)
    counts: str = ""

    def __post_init__(self) -> None:
        value = self.value
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value.item()
        if isinstance(value, (np.floating, np.integer)):
            value = value.item()
        object.__setattr__(self, "value", freeze(value))
        object.__setattr__(self, "inputs", FrozenDict(self.inputs))
        object.__setattr__(self, "extra", FrozenDict(self.extra))
        object.__setattr__(self, "warnings", tuple(str(w) for w in self.warnings))

    def __float__(self) -> float:
        return float(self.value)

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(  # type: ignore[no-any-return]
            {
                "calculator": self.calculator,
                "solved": self.solved,
                "value": self.value,
                "counts": self.counts,
                "inputs": self.inputs,
                "method": self.method,
                "warnings": self.warnings,
                "extra": self.extra,
            }
        )

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def tidy(self) -> pd.DataFrame:
        """One row per grid point: every input, and the solved quantity."""
        grid = {k: np.asarray(v) for k, v in self.inputs.items() if isinstance(v, (int, float, np.ndarray, tuple))}
        grid[self.solved] = np.asarray(self.value, dtype=float)
        try:
            arrays = np.broadcast_arrays(*grid.values())
        except ValueError:  # inputs that do not broadcast (a list option): one row
            return pd.DataFrame([{**{k: v for k, v in self.inputs.items()}, self.solved: self.value}])
        frame = pd.DataFrame({k: a.ravel() for k, a in zip(grid, arrays)})
        frame["solved"] = self.solved
        frame["counts"] = self.counts
        frame["calculator"] = self.calculator
        return frame

    def summary(self) -> str:
        def show(v: Any) -> str:
            if isinstance(v, np.ndarray):
                return np.array2string(v, precision=6, separator=", ", threshold=20)
            return f"{round(v, 6)}" if isinstance(v, float) else str(v)

        given = ", ".join(f"{k}={show(v)}" for k, v in self.inputs.items())
        value = show(self.value)
        what = f" ({self.counts})" if self.counts else ""
        lines = [f"{self.calculator} ({self.method}): {self.solved} = {value}{what}", f"  given {given}"]
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def plot(self, *, ax: Any = None, labels: Mapping[Any, str] | None = None, **kwargs: Any) -> Figure:
        """A matplotlib Figure of the power curve around this solution."""
        if self.curve is None:
            raise EstimationError(f"{self.calculator}: this calculator draws no power curve.")
        return self.curve(self, ax=ax, **kwargs)  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        value = self.value if not isinstance(self.value, float) else f"{self.value:.6g}"
        what = f" ({self.counts})" if self.counts else ""
        return f"PowerResult({self.calculator}: {self.solved}={value}{what}, method={self.method!r})"
