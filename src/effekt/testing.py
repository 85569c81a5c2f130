"""The conformance suite every estimator, core or plugin, passes.

A plugin author runs it in one line::

    from effekt.testing import check_estimator
    check_estimator(MyEstimator)            # raises ConformanceError on failure

(a power calculator: ``check_calculator(MyCalculator)``: solving for each
quantity and plugging it back returns the inputs, power is monotone in the
sample size and the effect, bad inputs are refused), or, one pytest test per
check::

    from effekt.testing import parametrize_with_checks

    @parametrize_with_checks([MyEstimator])
    def test_conformance(estimator, check):
        check(estimator)

Which checks run depends only on the estimator's declared
:class:`~effekt.protocol.EstimatorTags`; exemptions need a reason
(``expected_failures={"check_name": "why"}``). The properties are tested
with hypothesis on synthetic data drawn by the estimator's ``simulate``
classmethod (or, without one, a two-arm trial with outcome ``y`` and
treatment ``z``): a failure names the estimator, the property, the numbers
and hypothesis's falsifying example (seed and parameters), so it can be
replayed.

The checks
----------
check_protocol            name, estimand, kind and fit are present
check_result              the result's type and fields are sound; to_dict() is JSON
check_determinism         the same input (and seed) gives the same result
check_row_order           shuffling the rows changes nothing
check_outcome_shift       y + c leaves the effect alone; y + c*z moves it by c
check_outcome_scale       a*y scales the estimate by a and the SE by |a|
check_sign_flip           swapping the arms negates the estimate
check_coverage            the CI covers a known effect at the nominal rate
check_vocabulary          every option is in effekt.vocabulary, keyword-only, and documented
check_bad_options         a wrongly typed or unknown option raises DesignError naming it
check_text_treatment      text arms declared with arms= give the 0/1 result
check_text_covariate      a text covariate gives the estimate of its 0/1 indicators
check_bad_*               every bad input of DESIGN.md section 4 raises DataError

A check that does not apply to an estimator (by its tags, or because its
simulated data lack the column) is reported as skipped, never as passed:
``parametrize_with_checks`` turns it into a pytest skip with the reason.
"""

from __future__ import annotations

import difflib
import inspect
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

try:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
except ModuleNotFoundError as exc:  # an extra: plugin authors install it, users need not
    if exc.name != "hypothesis":
        raise
    from effekt.errors import PluginError  # an ImportError too

    raise PluginError(
        "effekt.testing (check_estimator) needs hypothesis, which is not installed. "
        "Install it with `pip install effekt[testing]`."
    ) from None
from scipy import stats

from effekt import vocabulary
from effekt._calculator_checks import CHECKS as CALCULATOR_CHECKS
from effekt._calculator_checks import CalculatorCheck, check_calculator
from effekt.data import check_seed, label
from effekt.errors import DataError, DesignError, EffektError
from effekt.protocol import EstimatorTags, Synthetic, get_tags
from effekt.result import EffectResult, EffectTable

__all__ = [
    "CALCULATOR_CHECKS",
    "CHECKS",
    "CalculatorCheck",
    "CheckResult",
    "ConformanceError",
    "check_calculator",
    "check_estimator",
    "parametrize_with_checks",
    "default_simulate",
]


class ConformanceError(AssertionError):
    """An estimator broke a property of the contract."""


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check on one estimator."""

    estimator: str
    check: str
    status: str  # "passed", "failed", "skipped", "expected failure"
    message: str = ""

    @property
    def passed(self) -> bool:
        """True only for a check that ran and held."""
        return self.status == "passed"

    @property
    def failed(self) -> bool:
        return self.status == "failed"


@dataclass
class _Context:
    cls: Any  # the estimator class under test
    tags: EstimatorTags
    max_examples: int
    coverage_sims: int
    fit_kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(getattr(self.cls, "name", self.cls.__name__))

    def simulate(self, seed: int, *, n: int = 200, effect: float = 1.0) -> Synthetic:
        rng = check_seed(seed)
        sim = getattr(self.cls, "simulate", None)
        if callable(sim):
            return sim(rng, n=n, effect=effect)  # type: ignore[no-any-return]
        return default_simulate(rng, self.tags, n=n, effect=effect)

    def fit(self, syn: Synthetic, data: pd.DataFrame | None = None, **override: Any) -> EffectResult | EffectTable:
        spec = {**syn.spec, **self.fit_kwargs, **override}
        if self.tags.uses_seed and "seed" not in spec:
            spec["seed"] = 12345
        return self.cls().fit(syn.data if data is None else data, **spec)  # type: ignore[no-any-return]


def default_simulate(
    rng: np.random.Generator, tags: EstimatorTags, *, n: int = 200, effect: float = 1.0
) -> Synthetic:
    """A completely randomised two-arm trial with a known effect.

    Outcome ``y`` (normal, or Bernoulli for ``tags.outcome == "binary"``),
    treatment ``z`` (half treated), and, as the tags allow, blocks
    ``batch`` (treatment balanced within each), a covariate ``x`` and
    weights ``w``. The truth is ``effect`` (a risk difference for binary
    outcomes, capped to keep probabilities inside (0.05, 0.95)).
    """
    n = max(n, 40)
    batch = np.repeat(np.arange(n // 10), 10)[:n]
    n = batch.size
    # five of each batch of ten treated
    ranks = np.argsort(rng.random((n // 10, 10)), axis=1).ravel()
    z = (ranks < 5).astype(int)
    x = rng.normal(size=n)
    data = {"z": z, "x": x}
    if tags.outcome == "binary":
        p0 = 0.3
        truth = float(np.clip(effect * 0.2, -0.25, 0.5))
        data["y"] = (rng.random(n) < p0 + truth * z).astype(int)
    else:
        truth = effect
        data["y"] = 1.0 + truth * z + 0.5 * x + rng.normal(size=n)
    spec: dict[str, Any] = {"outcome": "y", "treatment": "z"}
    if tags.supports_blocks:
        data["batch"] = batch
        spec["blocks"] = "batch"
    if tags.supports_covariates:
        spec["covariates"] = ["x"]
    if tags.supports_clusters and not tags.supports_blocks:
        # pairs of units form clusters; each batch of ten is five clusters
        data["cluster"] = np.arange(n) // 2
        order = np.argsort(rng.random(n // 2))
        data["z"] = np.repeat((order < n // 4).astype(int), 2)[:n]
        z = data["z"]
        if tags.outcome == "binary":
            data["y"] = (rng.random(n) < 0.3 + truth * z).astype(int)
        else:
            data["y"] = 1.0 + truth * z + 0.5 * x + rng.normal(size=n)
        spec["clusters"] = "cluster"
    return Synthetic(data=pd.DataFrame(data), spec=spec, truth=truth)


# -- helpers ----------------------------------------------------------------
def _rows(res: EffectResult | EffectTable) -> list[EffectResult]:
    return list(res.rows) if isinstance(res, EffectTable) else [res]


def _headline(res: EffectResult | EffectTable) -> EffectResult:
    return res.headline if isinstance(res, EffectTable) else res


def _close(a: float, b: float, scale: float = 1.0, rel: float = 1e-7) -> bool:
    if not (math.isfinite(a) and math.isfinite(b)):
        return (math.isnan(a) and math.isnan(b)) or a == b
    return abs(a - b) <= rel * max(abs(a), abs(b), scale) + 1e-12


def _hypothesis_settings(ctx: _Context) -> settings:
    return settings(
        settings.default,
        max_examples=ctx.max_examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )


_SEEDS = st.integers(min_value=0, max_value=2**31 - 1)


# -- the checks -------------------------------------------------------------
def check_protocol(ctx: _Context) -> None:
    for attr in ("name", "estimand", "kind"):
        value = getattr(ctx.cls, attr, None)
        assert isinstance(value, str) and value, f"class attribute {attr!r} must be a non-empty string; got {value!r}"
    assert callable(getattr(ctx.cls, "fit", None)), "fit() is missing"


def check_result(ctx: _Context) -> None:
    syn = ctx.simulate(1)
    res = ctx.fit(syn)
    assert isinstance(res, (EffectResult, EffectTable)), f"fit() returned {type(res).__name__}, not EffectResult/EffectTable"
    for row in _rows(res):
        where = f"term {row.term!r}"
        assert isinstance(row.estimator, str) and row.estimator, f"{where}: estimator name missing"
        assert math.isfinite(row.estimate), f"{where}: estimate is {row.estimate}"
        if not math.isnan(row.std_error) and not (row.extra.get("reference") is True and row.std_error == 0):
            # (a reference row, normalised to 0 by construction, has standard error 0)
            assert row.std_error > 0, f"{where}: std_error is {row.std_error}"
        low, high = row.conf_int
        if math.isfinite(low) and math.isfinite(high):
            assert low <= row.estimate <= high, f"{where}: estimate {row.estimate} outside its CI [{low}, {high}]"
        assert abs(row.conf_level - 0.95) < 1e-12, f"{where}: default conf_level is {row.conf_level}, not 0.95"
        if not math.isnan(row.p_value):
            assert 0.0 <= row.p_value <= 1.0, f"{where}: p_value {row.p_value} outside [0, 1]"
        assert row.n > 0, f"{where}: n is {row.n}"
        estimands = vocabulary.codes("estimand")
        assert row.estimand in estimands, (
            f"{where}: estimand {row.estimand!r} is not in the vocabulary's estimands {sorted(estimands)}; "
            "use one, or register a new one through the effekt.vocabulary entry point"
        )
        designs = vocabulary.codes("design")
        assert row.design is None or row.design in designs, (
            f"{where}: design {row.design!r} is not in the vocabulary's designs {sorted(designs)}"
        )
        assert isinstance(row.extra, Mapping) and not isinstance(row.extra, dict), f"{where}: extra is editable"
    head = _headline(res)
    if head.n_treated is not None and head.n_control is not None:
        assert head.n_treated + head.n_control == head.n, (
            f"n counts rows analysed ({head.n}); n_treated ({head.n_treated}) and n_control "
            f"({head.n_control}) must count rows too (units go in n_units, clusters in n_clusters)"
        )
    text = json.dumps(res.to_dict(), allow_nan=False)
    assert json.loads(text), "to_dict() is empty"
    tidy = res.tidy()
    assert isinstance(tidy, pd.DataFrame) and len(tidy) == len(_rows(res)), "tidy() must give one row per term"
    for col in ("term", "estimate", "std.error", "p.value", "conf.low", "conf.high"):
        assert col in tidy.columns, f"tidy() lacks column {col!r}"
    assert isinstance(res.summary(), str) and isinstance(repr(res), str)
    # alpha is honoured
    res90 = _headline(ctx.fit(syn, alpha=0.10))
    assert abs(res90.conf_level - 0.90) < 1e-12, f"alpha=0.10 gave conf_level {res90.conf_level}"
    h = _headline(res)
    if all(math.isfinite(v) for v in (*h.conf_int, *res90.conf_int)):
        assert res90.conf_int[1] - res90.conf_int[0] <= h.conf_int[1] - h.conf_int[0] + 1e-12, (
            "the 90% interval is wider than the 95% interval"
        )


def check_determinism(ctx: _Context) -> None:
    @_hypothesis_settings(ctx)
    @given(seed=_SEEDS)
    def prop(seed: int) -> None:
        syn = ctx.simulate(seed)
        first, second = ctx.fit(syn), ctx.fit(syn)
        assert json.dumps(first.to_dict(), sort_keys=True) == json.dumps(second.to_dict(), sort_keys=True), (
            "two fits of the same data gave different results"
        )

    prop()


def check_row_order(ctx: _Context) -> None:
    @_hypothesis_settings(ctx)
    @given(seed=_SEEDS, perm_seed=_SEEDS)
    def prop(seed: int, perm_seed: int) -> None:
        syn = ctx.simulate(seed)
        base = ctx.fit(syn)
        order = np.random.default_rng(perm_seed).permutation(len(syn.data))
        shuffled = ctx.fit(syn, data=syn.data.iloc[order])
        for a, b in zip(_rows(base), _rows(shuffled)):
            assert _close(a.estimate, b.estimate), f"term {a.term!r}: estimate {a.estimate} became {b.estimate}"
            if not ctx.tags.uses_seed:
                assert _close(a.std_error, b.std_error), f"term {a.term!r}: SE {a.std_error} became {b.std_error}"

    prop()


def check_outcome_shift(ctx: _Context) -> None:
    @_hypothesis_settings(ctx)
    @given(seed=_SEEDS, c=st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False))
    def prop(seed: int, c: float) -> None:
        syn = ctx.simulate(seed)
        y, z = syn.outcome, syn.treatment
        assert y is not None and z is not None
        base = _headline(ctx.fit(syn))
        moved = _headline(ctx.fit(syn, data=syn.data.assign(**{y: syn.data[y] + c})))
        scale = abs(base.estimate) + abs(c) + base.std_error
        assert _close(base.estimate, moved.estimate, scale), f"y + {c}: estimate {base.estimate} became {moved.estimate}"
        if not ctx.tags.uses_seed:
            assert _close(base.std_error, moved.std_error, scale), f"y + {c}: SE {base.std_error} became {moved.std_error}"
        treated = _headline(ctx.fit(syn, data=syn.data.assign(**{y: syn.data[y] + c * syn.data[z]})))
        assert _close(base.estimate + c, treated.estimate, scale), (
            f"y + {c}*z: estimate should move from {base.estimate} to {base.estimate + c}; got {treated.estimate}"
        )

    prop()


def check_outcome_scale(ctx: _Context) -> None:
    @_hypothesis_settings(ctx)
    @given(seed=_SEEDS, a=st.floats(0.01, 100.0).flatmap(lambda v: st.sampled_from([v, -v])))
    def prop(seed: int, a: float) -> None:
        syn = ctx.simulate(seed)
        y = syn.outcome
        assert y is not None
        base = _headline(ctx.fit(syn))
        scaled = _headline(ctx.fit(syn, data=syn.data.assign(**{y: syn.data[y] * a})))
        scale = abs(a) * (abs(base.estimate) + base.std_error)
        assert _close(a * base.estimate, scaled.estimate, scale), f"{a}*y: estimate should be {a * base.estimate}; got {scaled.estimate}"
        if not ctx.tags.uses_seed:
            assert _close(abs(a) * base.std_error, scaled.std_error, scale), (
                f"{a}*y: SE should be {abs(a) * base.std_error}; got {scaled.std_error}"
            )

    prop()


def check_sign_flip(ctx: _Context) -> None:
    @_hypothesis_settings(ctx)
    @given(seed=_SEEDS)
    def prop(seed: int) -> None:
        syn = ctx.simulate(seed)
        z = syn.treatment
        assert z is not None
        base = _headline(ctx.fit(syn))
        flipped = _headline(ctx.fit(syn, data=syn.data.assign(**{z: 1 - syn.data[z]})))
        scale = abs(base.estimate) + base.std_error
        assert _close(-base.estimate, flipped.estimate, scale), f"swapping arms: {base.estimate} became {flipped.estimate}"

    prop()


def check_coverage(ctx: _Context) -> None:
    """Coverage of a known effect at the nominal 95% rate.

    Fails when the number of covering intervals falls below the 0.1%
    quantile of Binomial(sims, 0.95): a false alarm once in a thousand runs
    for an exact interval, never for a conservative one.
    """
    sims = ctx.coverage_sims
    covered = 0
    truth = float("nan")
    for i in range(sims):
        syn = ctx.simulate(10_000 + i, effect=1.0)
        truth = syn.truth
        low, high = _headline(ctx.fit(syn)).conf_int
        covered += int(low <= syn.truth <= high)
    floor = int(stats.binom.ppf(0.001, sims, 0.95))
    assert covered >= floor, (
        f"95% intervals covered the true value {truth} in {covered} of {sims} simulations "
        f"(seeds 10000-{10_000 + sims - 1}); at least {floor} expected"
    )


def check_vocabulary(ctx: _Context) -> None:
    """Every option of ``fit`` is in the vocabulary, keyword-only, documented, and its default valid."""
    fit = ctx.cls.fit
    raw = inspect.unwrap(fit)
    params = inspect.signature(raw).parameters
    known = vocabulary.terms()
    doc = inspect.getdoc(ctx.cls) or ""
    fit_doc = inspect.getdoc(raw) or ""
    documented = doc + "\n" + fit_doc
    for name, p in params.items():
        if name in ("self", "data") or p.kind in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL):
            continue
        assert p.kind is inspect.Parameter.KEYWORD_ONLY, f"option {name!r} must be keyword-only"
        assert name in known, (
            f"option {name!r} is not in effekt's vocabulary; use the vocabulary's name for the concept "
            f"({', '.join(difflib.get_close_matches(name, list(known), n=3)) or 'see docs/vocabulary.md'}), "
            "or register a new term through the effekt.vocabulary entry point"
        )
        assert re.search(rf"^\s*{re.escape(name)}\b.*:", documented, flags=re.M), (
            f"option {name!r} is not documented under Parameters (as '{name} : type, default=...')"
        )
        if p.default is not inspect.Parameter.empty and p.default is not None:
            c = vocabulary.constraint_for(ctx.cls, name)
            if c is not None:
                try:
                    c.check(p.default, name, ctx.name)
                except DesignError as exc:
                    raise AssertionError(f"the default of {name!r} breaks its own constraint: {exc}") from None
    for option, tag in (("blocks", "supports_blocks"), ("clusters", "supports_clusters"), ("weights", "supports_weights")):
        assert (option in params) == getattr(ctx.tags, tag), (
            f"fit {'takes' if option in params else 'does not take'} {option}= but the tags say "
            f"{tag}={getattr(ctx.tags, tag)}; the tags drive which checks run, so they must agree"
        )
    own = getattr(ctx.cls, "options", {}) or {}
    extra = [k for k in own if k not in params]
    assert not extra, f"options= narrows {extra}, which fit() does not take"
    assert getattr(fit, "__effekt_validated__", False), (
        "fit is not wrapped with effekt.vocabulary.validated, so its options are not checked before any work"
    )


def check_bad_options(ctx: _Context) -> None:
    """A wrongly typed or unknown option gives a DesignError naming it, before any work."""
    syn = ctx.simulate(3)
    cases: list[tuple[str, Any]] = [("alpha", "0.05"), ("alpha", 1.5), ("no_such_option", 1)]
    if ctx.tags.uses_seed:
        cases.append(("seed", "abc"))
    params = inspect.signature(inspect.unwrap(ctx.cls.fit)).parameters
    if "sims" in params:
        cases.append(("sims", 2.5))
    if "horizon" in params:
        cases.append(("horizon", "52"))
    for option, value in cases:
        try:
            ctx.fit(syn, **{option: value})
        except DesignError as exc:
            assert option in str(exc), f"{option}={value!r}: the DesignError does not name {option!r}: {exc}"
            continue
        except Exception as exc:
            raise AssertionError(
                f"{option}={value!r}: expected a DesignError naming {option!r}; got {type(exc).__name__}: {exc}"
            ) from exc
        raise AssertionError(f"{option}={value!r} was accepted")


def check_text_treatment(ctx: _Context) -> None:
    """Arms given as text labels with arms=(control, treated) give the same estimate as 0/1."""
    syn = ctx.simulate(4)
    z = syn.treatment
    if z is None or "treatment" not in syn.spec:
        raise _Skip("the simulated data have no treatment column")
    base = _headline(ctx.fit(syn))
    text = syn.data.assign(**{z: np.where(syn.data[z] == 1, "programme", "control")})
    labelled = _headline(ctx.fit(syn, data=text, arms=("control", "programme")))
    scale = abs(base.estimate) + abs(base.std_error)
    assert _close(base.estimate, labelled.estimate, scale), (
        f"arms=('control', 'programme'): estimate {labelled.estimate}, with 0/1 {base.estimate}"
    )
    cat = syn.data.assign(**{z: pd.Categorical(syn.data[z])})
    as_cat = _headline(ctx.fit(syn, data=cat))
    assert _close(base.estimate, as_cat.estimate, scale), (
        f"a categorical 0/1 treatment gave {as_cat.estimate}, a numeric one {base.estimate}"
    )


def check_text_covariate(ctx: _Context) -> None:
    """A text covariate gives the estimate of its hand-made 0/1 indicators (R's treatment contrasts)."""
    syn = ctx.simulate(5)
    rng = np.random.default_rng(5)
    levels = np.array(["build", "care", "retail"])
    sector = levels[rng.integers(0, 3, len(syn.data))]
    data = syn.data.assign(__sector__=sector, __care__=(sector == "care").astype(float),
                           __retail__=(sector == "retail").astype(float))
    own = syn.spec.get("covariates") or []
    own = [own] if isinstance(own, str) else list(own)
    text = _headline(ctx.fit(syn, data=data, covariates=[*own, "__sector__"]))
    dummies = _headline(ctx.fit(syn, data=data, covariates=[*own, "__care__", "__retail__"]))
    scale = abs(dummies.estimate) + abs(dummies.std_error)
    assert _close(text.estimate, dummies.estimate, scale), (
        f"a text covariate gave {text.estimate}; its 0/1 indicators (reference 'build') gave {dummies.estimate}"
    )
    if not ctx.tags.uses_seed:
        assert _close(text.std_error, dummies.std_error, scale), (
            f"a text covariate gave SE {text.std_error}; its indicators {dummies.std_error}"
        )


def _expect_data_error(ctx: _Context, data: pd.DataFrame, spec: Mapping[str, Any], must_mention: str) -> None:
    try:
        ctx.fit(Synthetic(data=data, spec=dict(spec), truth=0.0))
    except DataError as exc:
        assert must_mention in str(exc), f"the DataError does not name {must_mention!r}: {exc}"
        return
    except EffektError as exc:
        raise AssertionError(f"expected a DataError naming {must_mention!r}; got {type(exc).__name__}: {exc}") from exc
    except Exception as exc:
        raise AssertionError(f"expected a DataError naming {must_mention!r}; got {type(exc).__name__}: {exc}") from exc
    raise AssertionError(f"no error was raised (expected a DataError naming {must_mention!r})")


def _bad_input(role: str, make: Callable[[Synthetic], tuple[pd.DataFrame, dict[str, Any], str] | None]) -> Callable[[_Context], None]:
    def check(ctx: _Context) -> None:
        syn = ctx.simulate(2)
        made = make(syn)
        if made is None:
            raise _Skip(f"the simulated data have no {role} column")
        data, spec, mention = made
        _expect_data_error(ctx, data, spec, mention)

    return check


class _Skip(Exception):
    pass


def _col(syn: Synthetic, role: str) -> str | None:
    if role == "outcome":
        return syn.outcome
    if role == "treatment":
        return syn.treatment
    value = syn.spec.get(role)
    return value if isinstance(value, str) else None


def _bad_missing_column(syn: Synthetic) -> tuple[pd.DataFrame, dict[str, Any], str] | None:
    y = syn.outcome
    if y is None:
        return None
    key = next((k for k, v in syn.spec.items() if v == y), None)
    if key is None:
        return None
    return syn.data, {**syn.spec, key: "no_such_column"}, "no_such_column"


def _with_nan(role: str, value: Any = np.nan) -> Callable[[Synthetic], tuple[pd.DataFrame, dict[str, Any], str] | None]:
    def make(syn: Synthetic) -> tuple[pd.DataFrame, dict[str, Any], str] | None:
        col = _col(syn, role)
        if col is None:
            return None
        data = syn.data.copy()
        if not pd.api.types.is_float_dtype(data[col]):
            # a float column can hold NaN and inf; others keep their values as objects
            data[col] = data[col].astype(float) if pd.api.types.is_numeric_dtype(data[col]) else data[col].astype(object)
        data.loc[data.index[[1, 4, 7]], col] = value
        return data, syn.spec, col

    return make


def _text_outcome(syn: Synthetic) -> tuple[pd.DataFrame, dict[str, Any], str] | None:
    col = syn.outcome
    if col is None:
        return None
    data = syn.data.copy()
    data[col] = data[col].map(lambda v: f"{v} units")
    return data, syn.spec, col


def _nonbinary_treatment(syn: Synthetic) -> tuple[pd.DataFrame, dict[str, Any], str] | None:
    col = syn.treatment
    if col is None:
        return None
    data = syn.data.copy()
    data.loc[data.index[[0, 3]], col] = 2
    return data, syn.spec, col


def _empty_arm(syn: Synthetic) -> tuple[pd.DataFrame, dict[str, Any], str] | None:
    col = syn.treatment
    if col is None:
        return None
    data = syn.data.copy()
    data[col] = 0
    return data, syn.spec, col


def _one_arm_block(syn: Synthetic) -> tuple[pd.DataFrame, dict[str, Any], str] | None:
    col, z = _col(syn, "blocks"), syn.treatment
    if col is None or z is None:
        return None
    data = syn.data.copy()
    first = data[col].iloc[0]
    data.loc[data[col] == first, z] = 1
    return data, syn.spec, label(first)


def _nan_clusters(syn: Synthetic) -> tuple[pd.DataFrame, dict[str, Any], str] | None:
    """NaN in the clusters column; data without one get pairs of rows as clusters."""
    col = _col(syn, "clusters")
    data = syn.data.copy()
    spec = dict(syn.spec)
    if col is None:
        col = "__cluster__"
        data[col] = np.arange(len(data)) // 2
        spec["clusters"] = col
    data[col] = data[col].astype(float)
    data.loc[data.index[[1, 4, 7]], col] = np.nan
    return data, spec, col


def _bad_weights(syn: Synthetic) -> tuple[pd.DataFrame, dict[str, Any], str] | None:
    data = syn.data.assign(__w__=1.0)
    data.loc[data.index[[2, 5]], "__w__"] = [-1.0, 0.0]
    return data, {**syn.spec, "weights": "__w__"}, "__w__"


CHECKS: dict[str, Callable[[_Context], None]] = {
    "check_protocol": check_protocol,
    "check_result": check_result,
    "check_determinism": check_determinism,
    "check_row_order": check_row_order,
    "check_outcome_shift": check_outcome_shift,
    "check_outcome_scale": check_outcome_scale,
    "check_sign_flip": check_sign_flip,
    "check_coverage": check_coverage,
    "check_bad_missing_column": _bad_input("outcome", _bad_missing_column),
    "check_bad_text_outcome": _bad_input("outcome", _text_outcome),
    "check_bad_nan_outcome": _bad_input("outcome", _with_nan("outcome")),
    "check_bad_inf_outcome": _bad_input("outcome", _with_nan("outcome", np.inf)),
    "check_bad_nan_treatment": _bad_input("treatment", _with_nan("treatment")),
    "check_bad_nonbinary_treatment": _bad_input("treatment", _nonbinary_treatment),
    "check_bad_empty_arm": _bad_input("treatment", _empty_arm),
    "check_bad_nan_blocks": _bad_input("blocks", _with_nan("blocks")),
    "check_bad_one_arm_block": _bad_input("blocks", _one_arm_block),
    "check_bad_weights": _bad_input("weights", _bad_weights),
    "check_bad_nan_clusters": _bad_input("clusters", _nan_clusters),
    "check_vocabulary": check_vocabulary,
    "check_bad_options": check_bad_options,
    "check_text_treatment": check_text_treatment,
    "check_text_covariate": check_text_covariate,
}


def _applies(check: str, tags: EstimatorTags) -> str | None:
    """None when the check applies, else why it is skipped."""
    rules = {
        "check_outcome_shift": (tags.shift_equivariant, "shift_equivariant=False"),
        "check_outcome_scale": (tags.scale_equivariant, "scale_equivariant=False"),
        "check_sign_flip": (tags.sign_flip and tags.binary_treatment, "sign_flip=False"),
        "check_coverage": (tags.coverage_check, "coverage_check=False"),
        "check_bad_text_outcome": (tags.outcome in ("continuous", "binary", "panel"), f"outcome={tags.outcome!r}"),
        "check_bad_nonbinary_treatment": (tags.binary_treatment, "binary_treatment=False"),
        "check_bad_empty_arm": (tags.binary_treatment, "binary_treatment=False"),
        "check_bad_nan_blocks": (tags.supports_blocks, "supports_blocks=False"),
        "check_bad_one_arm_block": (tags.supports_blocks and tags.binary_treatment, "supports_blocks=False"),
        "check_bad_weights": (tags.supports_weights, "supports_weights=False"),
        "check_bad_nan_clusters": (tags.supports_clusters, "supports_clusters=False"),
        "check_text_treatment": (tags.binary_treatment, "binary_treatment=False"),
        "check_text_covariate": (tags.supports_covariates, "supports_covariates=False"),
    }
    ok, why = rules.get(check, (True, ""))
    return None if ok else why


def _run_one(ctx: _Context, check: str, expected_failures: Mapping[str, str]) -> CheckResult:
    skip = _applies(check, ctx.tags)
    if skip is not None:
        return CheckResult(ctx.name, check, "skipped", skip)
    try:
        CHECKS[check](ctx)
    except _Skip as exc:
        return CheckResult(ctx.name, check, "skipped", str(exc))
    except AssertionError as exc:
        notes = "\n".join(getattr(exc, "__notes__", []))
        message = f"{exc}\n{notes}".strip()
        if check in expected_failures:
            return CheckResult(ctx.name, check, "expected failure", expected_failures[check])
        return CheckResult(ctx.name, check, "failed", message)
    except Exception as exc:  # an unexpected crash is a failure of the check
        notes = "\n".join(getattr(exc, "__notes__", []))
        message = f"raised {type(exc).__name__}: {exc}\n{notes}".strip()
        if check in expected_failures:
            return CheckResult(ctx.name, check, "expected failure", expected_failures[check])
        return CheckResult(ctx.name, check, "failed", message)
    if check in expected_failures:
        return CheckResult(
            ctx.name, check, "failed",
            f"listed in expected_failures ({expected_failures[check]!r}) but passed; remove the exemption",
        )
    return CheckResult(ctx.name, check, "passed")


def check_estimator(
    estimator: type,
    *,
    checks: Iterable[str] | None = None,
    expected_failures: Mapping[str, str] | None = None,
    max_examples: int = 10,
    coverage_sims: int = 200,
    fit_kwargs: Mapping[str, Any] | None = None,
    raise_on_failure: bool = True,
) -> list[CheckResult]:
    """Run the conformance suite on an estimator class.

    Parameters
    ----------
    estimator : class
        The estimator class (not an instance).
    checks : names, optional
        A subset of :data:`CHECKS`; all by default.
    expected_failures : mapping check name -> reason, optional
        Known gaps; each must still fail (a passing exemption is an error).
    max_examples : int, default 10
        Hypothesis examples per property.
    coverage_sims : int, default 200
        Simulated data sets for the coverage check.
    fit_kwargs : mapping, optional
        Extra options passed to every ``fit`` (e.g. fewer bootstrap draws).
    raise_on_failure : bool, default True
        Raise :class:`ConformanceError` listing every failed check.

    Returns
    -------
    list of CheckResult, one per check.

    Examples
    --------
    >>> from effekt.estimators.difference_in_means import DifferenceInMeans
    >>> results = check_estimator(DifferenceInMeans, checks=["check_result", "check_bad_nan_outcome"])
    >>> [r.status for r in results]
    ['passed', 'passed']
    """
    expected = dict(expected_failures or {})
    unknown = set(expected) - set(CHECKS)
    if unknown:
        raise ValueError(f"expected_failures names unknown checks {sorted(unknown)}; the checks are {list(CHECKS)}")
    names = list(CHECKS) if checks is None else list(checks)
    bad = [c for c in names if c not in CHECKS]
    if bad:
        raise ValueError(f"unknown checks {bad}; the checks are {list(CHECKS)}")
    ctx = _Context(
        cls=estimator, tags=get_tags(estimator), max_examples=max_examples,
        coverage_sims=coverage_sims, fit_kwargs=dict(fit_kwargs or {}),
    )
    results = [_run_one(ctx, c, expected) for c in names]
    failed = [r for r in results if r.status == "failed"]
    if failed and raise_on_failure:
        raise ConformanceError(
            "\n\n".join(f"{r.estimator}: {r.check} failed:\n{r.message}" for r in failed)
        )
    return results


def parametrize_with_checks(
    estimators: Iterable[type],
    *,
    expected_failures: Mapping[str, Mapping[str, str]] | None = None,
    **options: Any,
) -> Any:
    """A pytest decorator giving each (estimator, check) pair its own test.

    The decorated test receives ``estimator`` (the class) and ``check`` (a
    callable taking the class) and calls ``check(estimator)``.
    ``expected_failures`` maps an estimator's name to its exemptions.
    """
    import pytest

    params = []
    for est in estimators:
        name = str(getattr(est, "name", est.__name__))
        exempt = dict((expected_failures or {}).get(name, {}))
        for check in CHECKS:

            def run(cls: type, _check: str = check, _exempt: dict[str, str] = exempt) -> None:
                (result,) = check_estimator(cls, checks=[_check], expected_failures=_exempt, **options)
                if result.status == "skipped":
                    pytest.skip(f"{result.check} does not apply: {result.message}")
                if result.status == "expected failure":
                    pytest.xfail(result.message)

            params.append(pytest.param(est, run, id=f"{name}-{check}"))
    return pytest.mark.parametrize(("estimator", "check"), params)
