"""Bad-input fuzzing of every registered estimator.

Each estimator is found through :func:`effekt.available` (so a new one is
fuzzed without new code) and starts from its own synthetic data: its
``simulate`` classmethod, or :func:`effekt.testing.default_simulate` with its
tags, as the conformance suite does. Mutations are then applied to every
column the fit uses, to the frame as a whole and to the options. Every case
must give a result whose estimate, standard error and interval are finite
(or non-finite with an :class:`~effekt.errors.EffektWarning` saying why), or
raise an :class:`~effekt.errors.EffektError`; any other exception, a silent
non-finite result, or a warning other than an ``EffektWarning`` is a failure.

``python tests/reliability/fuzzing.py [NAME ...]`` runs the fuzzer and lists
the failures (``EFFEKT_RELIABILITY=full`` for the long run).
"""

from __future__ import annotations

import inspect
import math
import os
import re
import signal
import sys
import traceback
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

import effekt as ef
from effekt.errors import DesignError, EffektError, EffektWarning
from effekt.protocol import get_tags
from effekt.testing import Synthetic, default_simulate

FULL = os.environ.get("EFFEKT_RELIABILITY", "").lower() == "full"
#: cases per CI run (all estimators together), and per full run
CI_BUDGET = 10_500
FULL_BUDGET = 100_000
#: a case that takes longer than this is a failure (a hang or a huge allocation)
CASE_SECONDS = 5.0

Mutation = Callable[[pd.DataFrame, str, np.random.Generator], pd.DataFrame]


def estimators() -> list[str]:
    table = ef.available()
    return sorted(table[(table.group == "effekt.estimators") & (table.status == "ok")].name)


# -- column mutations -----------------------------------------------------
def _set_one(value: Any) -> Mutation:
    def mutate(df: pd.DataFrame, col: str, rng: np.random.Generator) -> pd.DataFrame:
        out = df.copy()
        i = int(rng.integers(len(out)))
        out[col] = out[col].astype(object)
        out.iloc[i, out.columns.get_loc(col)] = value
        return out
    return mutate


def _set_one_float(value: float) -> Mutation:
    def mutate(df: pd.DataFrame, col: str, rng: np.random.Generator) -> pd.DataFrame:
        out = df.copy()
        i = int(rng.integers(len(out)))
        out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
        out.iloc[i, out.columns.get_loc(col)] = value
        return out
    return mutate


def _whole(fn: Callable[[pd.Series], Any]) -> Mutation:
    def mutate(df: pd.DataFrame, col: str, rng: np.random.Generator) -> pd.DataFrame:
        out = df.copy()
        out[col] = fn(out[col])
        return out
    return mutate


def _numeric(fn: Callable[[np.ndarray], Any]) -> Mutation:
    def mutate(df: pd.DataFrame, col: str, rng: np.random.Generator) -> pd.DataFrame:
        out = df.copy()
        values = pd.to_numeric(out[col], errors="coerce").to_numpy(dtype=float)
        out[col] = fn(values)
        return out
    return mutate


def _nullable_na(df: pd.DataFrame, col: str, rng: np.random.Generator) -> pd.DataFrame:
    out = df.copy()
    s = out[col]
    dtype = "Int64" if pd.api.types.is_integer_dtype(s) else "Float64" if pd.api.types.is_float_dtype(s) else "string"
    s = s.astype(dtype)
    s.iloc[int(rng.integers(len(s)))] = pd.NA
    out[col] = s
    return out


def _nullable(df: pd.DataFrame, col: str, rng: np.random.Generator) -> pd.DataFrame:
    out = df.copy()
    s = out[col]
    out[col] = s.astype("Int64" if pd.api.types.is_integer_dtype(s) else
                        "Float64" if pd.api.types.is_float_dtype(s) else "string")
    return out


def _categorical_na(df: pd.DataFrame, col: str, rng: np.random.Generator) -> pd.DataFrame:
    out = df.copy()
    s = out[col].astype("category")
    s.iloc[int(rng.integers(len(s)))] = np.nan
    out[col] = s
    return out


def _mixed(df: pd.DataFrame, col: str, rng: np.random.Generator) -> pd.DataFrame:
    out = df.copy()
    s = out[col].astype(object)
    idx = rng.choice(len(s), size=min(3, len(s)), replace=False)
    for i, v in zip(idx, ["7", 3.5, (1, 2)], strict=False):
        s.iloc[int(i)] = v
    out[col] = s
    return out


def _recode(mapping: dict[Any, Any]) -> Mutation:
    def mutate(df: pd.DataFrame, col: str, rng: np.random.Generator) -> pd.DataFrame:
        out = df.copy()
        out[col] = out[col].map(lambda v: mapping.get(v, v))
        return out
    return mutate


def _odd_code(df: pd.DataFrame, col: str, rng: np.random.Generator) -> pd.DataFrame:
    out = df.copy()
    s = pd.to_numeric(out[col], errors="coerce")
    i = int(rng.integers(len(s)))
    s = s.astype(float)
    s.iloc[i] = float(np.nanmax(s.to_numpy()) + 1) if np.isfinite(s).any() else 2.0
    out[col] = s
    return out


def _duplicate(df: pd.DataFrame, col: str, rng: np.random.Generator) -> pd.DataFrame:
    out = pd.concat([df, df[[col]]], axis=1)
    return out


def _drop(df: pd.DataFrame, col: str, rng: np.random.Generator) -> pd.DataFrame:
    return df.drop(columns=[col])


def _shuffle(df: pd.DataFrame, col: str, rng: np.random.Generator) -> pd.DataFrame:
    out = df.copy()
    out[col] = rng.permutation(out[col].to_numpy())
    return out


COLUMN_MUTATIONS: dict[str, Mutation] = {
    "nan": _set_one_float(np.nan),
    "none": _set_one(None),
    "pd_na_object": _set_one(pd.NA),
    "+inf": _set_one_float(np.inf),
    "-inf": _set_one_float(-np.inf),
    "text_value": _set_one("n/a"),
    "empty_string": _set_one(""),
    "numbers_as_text": _whole(lambda s: s.astype(str)),
    "mixed_objects": _mixed,
    "categorical": _whole(lambda s: s.astype("category")),
    "categorical_na": _categorical_na,
    "nullable": _nullable,
    "nullable_na": _nullable_na,
    "bool": _whole(lambda s: s.astype(bool) if s.nunique() <= 2 else s > s.median()),
    "one_two": _recode({0: 1, 1: 2}),
    "minus_one_one": _recode({0: -1, 1: 1}),
    "odd_code": _odd_code,
    "constant": _whole(lambda s: s.iloc[[0] * len(s)].to_numpy()),
    "all_nan": _numeric(lambda v: np.full_like(v, np.nan)),
    "times_1e300": _numeric(lambda v: v * 1e300),
    "times_1e-300": _numeric(lambda v: v * 1e-300),
    "at_1e300": _numeric(lambda v: np.full_like(v, 1e300) + 0 * v),
    "plus_1e9": _numeric(lambda v: v + 1e9),
    "minus_1e9": _numeric(lambda v: v - 1e9),
    "negative": _numeric(lambda v: -np.abs(v) - 1.0),
    "zero": _numeric(np.zeros_like),
    "negate": _numeric(lambda v: -v),
    "float_of_int": _numeric(lambda v: v + 0.5),
    "duplicated_name": _duplicate,
    "missing_column": _drop,
    "shuffled": _shuffle,
}


# -- frame mutations ------------------------------------------------------
def _rows(k: int) -> Callable[[Synthetic, np.random.Generator], pd.DataFrame]:
    return lambda syn, rng: syn.data.iloc[:k].copy()


def _one_arm(syn: Synthetic, rng: np.random.Generator) -> pd.DataFrame:
    t = syn.spec.get("treatment")
    if t is None:
        return syn.data.iloc[: len(syn.data) // 2].copy()
    first = syn.data[t].iloc[0]
    return syn.data[syn.data[t] == first].copy()


def _group_one_arm(role: str) -> Callable[[Synthetic, np.random.Generator], pd.DataFrame]:
    def mutate(syn: Synthetic, rng: np.random.Generator) -> pd.DataFrame:
        g, t = syn.spec.get(role), syn.spec.get("treatment")
        if g is None or t is None:
            return syn.data.sample(frac=1.0, random_state=int(rng.integers(2**31)))
        out = syn.data.copy()
        first = out[g].iloc[0]
        keep = (out[g] != first) | (out[t] == out[t][out[g] == first].iloc[0])
        return out[keep].copy()
    return mutate


def _polars(syn: Synthetic, rng: np.random.Generator) -> Any:
    import polars as pl

    return pl.from_pandas(syn.data)


def _reversed(syn: Synthetic, rng: np.random.Generator) -> pd.DataFrame:
    return syn.data.iloc[::-1]


def _string_index(syn: Synthetic, rng: np.random.Generator) -> pd.DataFrame:
    out = syn.data.copy()
    out.index = [f"r{i}" for i in range(len(out))]
    return out


def _duplicated_index(syn: Synthetic, rng: np.random.Generator) -> pd.DataFrame:
    out = syn.data.copy()
    out.index = np.zeros(len(out), dtype=int)
    return out


def _all_nan_row(syn: Synthetic, rng: np.random.Generator) -> pd.DataFrame:
    out = syn.data.copy().astype(object)
    out.iloc[int(rng.integers(len(out)))] = np.nan
    return out


FRAME_MUTATIONS: dict[str, Callable[[Synthetic, np.random.Generator], Any]] = {
    "empty": _rows(0), "one_row": _rows(1), "two_rows": _rows(2), "three_rows": _rows(3),
    "one_arm": _one_arm, "block_one_arm": _group_one_arm("blocks"),
    "cluster_one_arm": _group_one_arm("clusters"), "pair_one_arm": _group_one_arm("pairs"),
    "polars": _polars, "reversed": _reversed, "string_index": _string_index,
    "duplicated_index": _duplicated_index, "all_nan_row": _all_nan_row,
    "dict_of_lists": lambda syn, rng: {c: syn.data[c].tolist() for c in syn.data.columns},
    "numpy_array": lambda syn, rng: syn.data.to_numpy(),
    "none": lambda syn, rng: None,
}

# -- option mutations -----------------------------------------------------
BAD_VALUES: tuple[Any, ...] = (
    "??", -1, 0, 1, 2.5, -0.5, float("nan"), float("inf"), True, 10**20, (), [], {"a": 1}, b"x", 1e-300,
)
WEIGHT_VALUES: dict[str, Callable[[int, np.random.Generator], np.ndarray]] = {
    "w_negative": lambda n, rng: np.where(np.arange(n) == 0, -1.0, 1.0),
    "w_zero_all": lambda n, rng: np.zeros(n),
    "w_zero_one": lambda n, rng: np.where(np.arange(n) == 0, 0.0, 1.0),
    "w_nan": lambda n, rng: np.where(np.arange(n) == 0, np.nan, 1.0),
    "w_inf": lambda n, rng: np.where(np.arange(n) == 0, np.inf, 1.0),
    "w_1e300": lambda n, rng: rng.uniform(0.5, 2, n) * 1e300,
    "w_1e-300": lambda n, rng: rng.uniform(0.5, 2, n) * 1e-300,
    "w_huge_spread": lambda n, rng: np.where(np.arange(n) == 0, 1e12, 1.0),
    "w_text": lambda n, rng: np.array(["1"] * n, dtype=object),
}


#: messages that do not name what the case broke, known and accepted for now: (estimators, a
#: fragment of the message, why); each entry is a gap to close, not a design. Empty: a fit that
#: fails numerically names its model terms and the event, weights and censoring options.
KNOWN_UNNAMED: tuple[tuple[tuple[str, ...], str, str], ...] = ()


def _known(estimator: str, message: str) -> bool:
    return any(estimator in names and fragment in message for names, fragment, _ in KNOWN_UNNAMED)


@dataclass(frozen=True)
class Broke:
    """What a case broke, which an EffektError's message must name.

    ``columns``: column names, quoted as the estimators print them (``repr``:
    ``'y'``); ``options``: option names (``alpha``, as a word); ``rows``: row
    counts (``0`` also as "no rows" or "empty") or row labels. The message
    must name at least one of them.
    """

    columns: tuple[Any, ...] = ()
    options: tuple[str, ...] = ()
    rows: tuple[Any, ...] = ()

    def named_in(self, message: str) -> bool:
        for col in self.columns:
            if repr(col) in message or (isinstance(col, str) and f'"{col}"' in message):
                return True
        for option in self.options:
            if re.search(rf"(?<![\w.]){re.escape(option)}(?!\w)", message):
                return True
        for row in self.rows:
            if row == 0 and re.search(r"\bno rows\b|\bempty\b|\b0 rows\b|\bno data\b", message):
                return True
            if isinstance(row, int | np.integer) and re.search(
                    rf"(?<![\w.]){int(row)}(?![\w.])", message):
                return True
            if not isinstance(row, int | np.integer) and repr(row) in message:
                return True
        return False

    def __str__(self) -> str:
        parts = [*(repr(c) for c in self.columns), *self.options, *(f"rows {r!r}" for r in self.rows)]
        return " or ".join(parts)


@dataclass
class Case:
    estimator: str
    label: str
    data: Any
    spec: dict[str, Any]
    #: what the case broke; None where the input is not bad in a nameable way
    broke: Broke | None = None


@dataclass
class Outcome:
    cases: int = 0
    results: int = 0
    effekt_errors: int = 0
    other_exceptions: list[tuple[str, str]] = field(default_factory=list)
    silent_non_finite: list[tuple[str, str]] = field(default_factory=list)
    leaked_warnings: list[tuple[str, str]] = field(default_factory=list)
    #: EffektError messages checked for naming what the case broke, and those that do not
    messages_checked: int = 0
    unnamed: list[tuple[str, str]] = field(default_factory=list)
    known_unnamed: list[tuple[str, str]] = field(default_factory=list)
    by_estimator: Counter[str] = field(default_factory=Counter)

    def add(self, other: Outcome) -> None:
        self.cases += other.cases
        self.results += other.results
        self.effekt_errors += other.effekt_errors
        self.other_exceptions += other.other_exceptions
        self.silent_non_finite += other.silent_non_finite
        self.leaked_warnings += other.leaked_warnings
        self.messages_checked += other.messages_checked
        self.unnamed += other.unnamed
        self.known_unnamed += other.known_unnamed
        self.by_estimator.update(other.by_estimator)

    def counts(self) -> str:
        return (f"{self.cases} cases ({self.results} results, {self.effekt_errors} EffektErrors): "
                f"{len(self.other_exceptions)} other exceptions, {len(self.silent_non_finite)} silent "
                f"non-finite results, {len(self.leaked_warnings)} leaked warnings; "
                f"{self.messages_checked} messages checked, {len(self.unnamed)} not naming what was broken "
                f"(and {len(self.known_unnamed)} known gaps, KNOWN_UNNAMED)")


def _simulate(cls: Any, seed: int, n: int) -> Synthetic:
    rng = np.random.default_rng(seed)
    sim = getattr(cls, "simulate", None)
    if callable(sim):
        return sim(rng, n=n, effect=1.0)  # type: ignore[no-any-return]
    return default_simulate(rng, get_tags(cls), n=n, effect=1.0)


def _base(cls: Any, seed: int) -> tuple[Synthetic, dict[str, Any]]:
    """The estimator's synthetic data and a spec it accepts (few draws for speed)."""
    syn = _simulate(cls, seed, 40)
    params = inspect.signature(inspect.unwrap(cls.fit)).parameters
    spec = dict(syn.spec)
    if get_tags(cls).uses_seed and "seed" in params:
        spec.setdefault("seed", 7)
    if "sims" in params:
        for sims in (19, 99, 199, 999):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    cls().fit(syn.data, **{**spec, "sims": sims})
            except DesignError as exc:
                if "sims" in str(exc):
                    continue
            except Exception:
                pass
            spec["sims"] = sims
            break
    return syn, spec


def _used_columns(syn: Synthetic, spec: dict[str, Any]) -> list[str]:
    cols: list[str] = []
    for value in spec.values():
        values = value if isinstance(value, list | tuple) else [value]
        for v in values:
            if isinstance(v, str) and v in syn.data.columns and v not in cols:
                cols.append(v)
    return cols


def cases(name: str, r: int) -> Iterator[Case]:
    """Every case for one estimator in round ``r`` (fresh data and positions each round)."""
    cls = ef.get_estimator(name)
    tags = get_tags(cls)
    params = inspect.signature(inspect.unwrap(cls.fit)).parameters
    options = [p for p, v in params.items() if v.kind is inspect.Parameter.KEYWORD_ONLY]
    if True:
        syn, spec = _base(cls, 1000 + r)
        rng = np.random.default_rng(r)
        used = _used_columns(syn, spec)
        data = syn.data
        # the covariate and weight columns the tags allow, if the spec leaves them out
        if tags.supports_weights and "weights" in options and "weights" not in spec:
            w = rng.uniform(0.5, 2.0, len(data))
            unit = spec.get("unit")
            if isinstance(unit, str) and unit in data.columns:  # panel weights are unit weights
                w = data[unit].map(dict(zip(data[unit], w, strict=False))).to_numpy(dtype=float)
            data = data.assign(_w=w)
            spec = {**spec, "weights": "_w"}
            used.append("_w")
        if tags.supports_covariates and "covariates" in options and "covariates" not in spec:
            data = data.assign(_x=rng.normal(size=len(data)))
            spec = {**spec, "covariates": ["_x"]}
            used.append("_x")
        syn = Synthetic(data=data, spec=syn.spec, truth=syn.truth)
        yield Case(name, "base", data, spec)
        for col in used:
            for label, mutate in COLUMN_MUTATIONS.items():
                yield Case(name, f"{col}:{label}", _lazy(mutate, data, col, rng), spec, Broke(columns=(col,)))
        for label, frame in FRAME_MUTATIONS.items():
            yield Case(name, f"frame:{label}", _lazy_frame(frame, syn, rng), spec,
                       _frame_broke(label, syn, used, [k for k, v in spec.items() if isinstance(v, str) and v in used]))
        if "weights" in spec:
            for label, w in WEIGHT_VALUES.items():
                # the bad weight (if one) is in the first row: its label or position may be named instead
                yield Case(name, label, data.assign(**{spec["weights"]: w(len(data), rng)}), spec,
                           Broke(columns=(spec["weights"],), rows=(data.index[0], 0)))
        if "covariates" in options:
            covs = [*(spec.get("covariates") or []), "_c"]
            broke = Broke(columns=("_c",), options=("covariates",))
            yield Case(name, "covariate:constant", data.assign(_c=1.0), {**spec, "covariates": covs}, broke)
            first = _numeric_column(data, used)
            if first is not None:
                yield Case(name, "covariate:collinear", data.assign(_c=2.0 * data[first] + 1.0),
                           {**spec, "covariates": covs}, Broke(columns=("_c", first), options=("covariates",)))
            yield Case(name, "covariate:times_1e300", data.assign(_c=rng.normal(size=len(data)) * 1e300),
                       {**spec, "covariates": covs}, broke)
            yield Case(name, "covariate:text", data.assign(_c=np.where(rng.random(len(data)) < 0.5, "a", "b")),
                       {**spec, "covariates": covs}, broke)
        for option in options:
            for value in BAD_VALUES:
                yield Case(name, f"option:{option}={value!r}", data, {**spec, option: value},
                           Broke(options=(option,)))
            yield Case(name, f"option:{option}='no_such_column'", data, {**spec, option: "no_such_column"},
                       Broke(columns=("no_such_column",), options=(option,)))
        for option, value in (("seed", -1), ("seed", 2**70), ("seed", 1.5), ("sims", 0), ("sims", 1), ("sims", 2),
                              ("sims", 2.5), ("sims", -5), ("alpha", 0.0), ("alpha", 1.0), ("alpha", 0.999),
                              ("alpha", 1e-12), ("unknown_option", 1)):
            if option in options or option == "unknown_option":
                yield Case(name, f"option:{option}={value!r}", data, {**spec, option: value},
                           Broke(options=(option,)))
        same, broke_same = _same_columns(spec)
        yield Case(name, "spec:two_columns_equal", data, same, broke_same)


def _frame_broke(label: str, syn: Synthetic, used: list[str], roles: list[str]) -> Broke | None:
    """What a frame mutation broke: the row count, the arm column, the group column, or data= itself."""
    t = syn.spec.get("treatment")
    arm = (t,) if isinstance(t, str) else ()
    if label in ("empty", "one_row", "two_rows", "three_rows"):
        k = {"empty": 0, "one_row": 1, "two_rows": 2, "three_rows": 3}[label]
        # a frame cut to k rows may also be refused for what it then lacks: an arm, a group, a value
        return Broke(columns=tuple(used), options=tuple(roles), rows=(k,))
    if label == "one_arm":
        return Broke(columns=arm or tuple(used))
    if label in ("block_one_arm", "cluster_one_arm", "pair_one_arm"):
        group = syn.spec.get(label.split("_")[0] + "s")  # blocks, clusters, pairs
        return Broke(columns=(*((group,) if isinstance(group, str) else ()), *arm)) if group else None
    if label == "all_nan_row":
        return Broke(columns=tuple(used), rows=(1,))
    if label in ("dict_of_lists", "numpy_array", "none"):
        return Broke(options=("data",), columns=tuple(used))
    return None  # polars, reversed, string_index, duplicated_index: nothing is bad


def _numeric_column(data: pd.DataFrame, used: list[str]) -> str | None:
    for c in used:
        if pd.api.types.is_float_dtype(data[c]):
            return c
    return None


def _same_columns(spec: dict[str, Any]) -> tuple[dict[str, Any], Broke | None]:
    """Two roles given the same column, and what the message must name: that column or either option."""
    keys = [k for k, v in spec.items() if isinstance(v, str) and k not in ("se_type", "aggregation")]
    if len(keys) >= 2:
        return {**spec, keys[1]: spec[keys[0]]}, Broke(columns=(spec[keys[0]],), options=(keys[0], keys[1]))
    return spec, None


class _Lazy:
    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn = fn


def _lazy(mutate: Mutation, data: pd.DataFrame, col: str, rng: np.random.Generator) -> _Lazy:
    seed = int(rng.integers(2**31))
    return _Lazy(lambda: mutate(data, col, np.random.default_rng(seed)))


def _lazy_frame(frame: Callable[[Synthetic, np.random.Generator], Any], syn: Synthetic,
                rng: np.random.Generator) -> _Lazy:
    seed = int(rng.integers(2**31))
    return _Lazy(lambda: frame(syn, np.random.default_rng(seed)))


def _numbers(res: Any) -> list[tuple[str, float]]:
    rows = list(res.rows) if hasattr(res, "rows") else [res]
    out: list[tuple[str, float]] = []
    for row in rows:
        term = getattr(row, "term", "?")
        # a row whose inference is a test without a standard error (ci_method="none", a finite
        # placebo or permutation p-value) documents its NaN SE and interval: only its estimate is checked
        no_se = getattr(row, "ci_method", None) == "none" and math.isfinite(getattr(row, "p_value", math.nan))
        for fieldname in ("estimate",) if no_se else ("estimate", "std_error"):
            v = getattr(row, fieldname, None)
            if isinstance(v, int | float | np.floating):
                out.append((f"{term}.{fieldname}", float(v)))
        ci = getattr(row, "conf_int", None)
        if isinstance(ci, tuple | list) and len(ci) == 2 and not no_se:
            out += [(f"{term}.conf_int", float(ci[0])), (f"{term}.conf_int", float(ci[1]))]
    return out


class _TooSlow(BaseException):
    pass


def _too_slow(signum: int, frame: Any) -> None:
    raise _TooSlow


def run_case(case: Case, outcome: Outcome) -> None:
    outcome.cases += 1
    outcome.by_estimator[case.estimator] += 1
    where = f"{case.estimator} [{case.label}]"
    try:
        data = case.data.fn() if isinstance(case.data, _Lazy) else case.data
    except Exception as exc:  # a mutation that does not apply to this column's values
        outcome.effekt_errors += 1  # counted as a case the estimator never saw
        outcome.by_estimator[f"{case.estimator}:skipped"] += 1
        del exc
        return
    cls = ef.get_estimator(case.estimator)
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="warn"):
        warnings.simplefilter("always")
        previous = signal.signal(signal.SIGALRM, _too_slow)
        signal.setitimer(signal.ITIMER_REAL, CASE_SECONDS)
        try:
            res = cls().fit(data, **case.spec)
        except _TooSlow:
            outcome.other_exceptions.append((where, f"took more than {CASE_SECONDS} s"))
            res = None
        except EffektError as exc:
            outcome.effekt_errors += 1
            if case.broke is not None:
                outcome.messages_checked += 1
                if not case.broke.named_in(str(exc)):
                    tb = traceback.extract_tb(exc.__traceback__)[-1]
                    found = (where, f"{type(exc).__name__}: {str(exc)[:300]} (should name "
                                    f"{case.broke}; {os.path.basename(tb.filename)}:{tb.lineno})")
                    (outcome.known_unnamed if _known(case.estimator, str(exc)) else outcome.unnamed).append(found)
            res = None
        except Exception as exc:  # noqa: BLE001 - this is what the fuzzer looks for
            tb = traceback.extract_tb(exc.__traceback__)[-1]
            outcome.other_exceptions.append(
                (where, f"{type(exc).__name__}: {str(exc)[:160]} ({os.path.basename(tb.filename)}:{tb.lineno})"))
            res = None
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    effekt_warned = False
    for w in caught:
        if issubclass(w.category, EffektWarning):
            effekt_warned = True
        else:
            outcome.leaked_warnings.append(
                (where, f"{w.category.__name__}: {str(w.message)[:160]} ({os.path.basename(w.filename)}:{w.lineno})"))
    if res is None:
        return
    outcome.results += 1
    bad = [f"{k}={v}" for k, v in _numbers(res) if not math.isfinite(v)]
    if bad and not effekt_warned:
        outcome.silent_non_finite.append((where, ", ".join(bad[:4])))


def fuzz(names: list[str] | None = None, budget: int | None = None) -> Outcome:
    names = names or estimators()
    budget = budget or (FULL_BUDGET if FULL else CI_BUDGET)
    per = math.ceil(budget / len(names))
    total = Outcome()
    for name in names:
        outcome = Outcome()
        r = 0
        while outcome.cases < per:
            for case in cases(name, r):
                run_case(case, outcome)
                if outcome.cases >= per:
                    break
            r += 1
        total.add(outcome)
    return total


def report(outcome: Outcome, limit: int = 200) -> str:
    lines = [outcome.counts()]
    for title, items in (("other exceptions", outcome.other_exceptions),
                         ("silent non-finite results", outcome.silent_non_finite),
                         ("leaked warnings", outcome.leaked_warnings),
                         ("messages not naming what was broken", outcome.unnamed),
                         ("known gaps (KNOWN_UNNAMED)", outcome.known_unnamed)):
        if items:
            lines.append(f"-- {title} ({len(items)}):")
            distinct = Counter(f"{w.split(' [')[0]}: {m}" for w, m in items)
            examples = {f"{w.split(' [')[0]}: {m}": w for w, m in items}
            for msg, k in distinct.most_common(limit):
                lines.append(f"  {k:4d} x {msg}   e.g. {examples[msg]}")
    return "\n".join(lines)


if __name__ == "__main__":
    import time

    t0 = time.time()
    result = fuzz(sys.argv[1:] or None)
    print(report(result))
    print(f"{time.time() - t0:.1f} s")
