"""A conformance suite for power calculators (registered in ``effekt.power``).

:func:`check_calculator` runs every check on a calculator class and returns
one :class:`CalculatorCheck` per check. A calculator declares what the suite
needs as class attributes:

``name``
    its registered name;
``solvable``
    the quantities it can solve for (the sample size first);
``example``
    a valid full parameter set holding every solvable quantity;
``size`` and ``effect``
    the names of its sample size and its effect;
``effect_null`` (optional)
    the effect's null value, or the name of the parameter holding it
    (``"p1"`` for a second proportion); default 0;
``parameters()`` (optional)
    the parameters it takes (the command line's help lists them).

A calculator without ``example`` (a simulation) is checked for what needs no
solving only; the other checks are reported as skipped.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from effekt.errors import DesignError

__all__ = ["CalculatorCheck", "check_calculator", "CHECKS"]

_TOL = 1e-4


@dataclass(frozen=True)
class CalculatorCheck:
    """The outcome of one check: ``status`` is "passed", "failed" or "skipped" (as :class:`effekt.testing.CheckResult`)."""

    calculator: str
    check: str
    status: str
    message: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "passed"


class _Skip(Exception):
    pass


def _solve(cls: Any, **params: Any) -> Any:
    return cls().solve(**params)


def _example(cls: Any) -> dict[str, Any]:
    example = dict(getattr(cls, "example", {}) or {})
    if not example:
        raise _Skip(f"{cls.name} declares no example parameter set")
    return example


def _without(example: dict[str, Any], key: str) -> dict[str, Any]:
    """``example`` with ``key`` left out (None: solve for it, even where it has a default)."""
    return dict(example, **{key: None})


def _power_at(cls: Any, params: dict[str, Any]) -> float:
    return float(np.asarray(_solve(cls, **_without(params, "power")).value))


def check_round_trip(cls: Any) -> None:
    """Solving for each quantity and plugging it back gives the example's power."""
    example = _example(cls)
    target = _power_at(cls, example)
    full = dict(example, power=target)
    for key in cls.solvable:
        if key == "power":
            continue
        res = _solve(cls, **_without(full, key))
        value = float(np.asarray(res.value))
        if res.solved != key:
            raise AssertionError(f"left out {key!r} but the result says solved={res.solved!r}")
        back = _power_at(cls, dict(full, **{key: value}))
        if not math.isclose(back, target, rel_tol=_TOL, abs_tol=_TOL):
            raise AssertionError(f"solving for {key} gave {value:g}; its power is {back:g}, not {target:g}")
        # an effect may have two solutions (hr and 1/hr two-sided); the power check covers it
        if key != cls.effect and not math.isclose(value, float(example[key]), rel_tol=1e-3, abs_tol=1e-6):
            raise AssertionError(f"solving for {key} gave {value:g}, not the example's {example[key]:g}")


def check_monotone_size(cls: Any) -> None:
    """Power does not fall as the sample size grows."""
    example = _example(cls)
    size = cls.size
    base = float(example[size])
    powers = [_power_at(cls, dict(example, **{size: base * s})) for s in (0.5, 0.75, 1.0, 1.5, 2.0, 4.0)]
    if any(b < a - 1e-9 for a, b in zip(powers, powers[1:])):
        raise AssertionError(f"power against {size} is not non-decreasing: {powers}")


def check_monotone_effect(cls: Any) -> None:
    """Power does not fall as the effect moves away from its null."""
    example = _example(cls)
    effect = cls.effect
    null_spec = getattr(cls, "effect_null", 0.0)
    null = float(example[null_spec]) if isinstance(null_spec, str) else float(null_spec)
    base = float(example[effect])
    powers = [
        _power_at(cls, dict(example, **{effect: null + (base - null) * s})) for s in (0.25, 0.5, 0.75, 1.0, 1.25)
    ]
    if any(b < a - 1e-9 for a, b in zip(powers, powers[1:])):
        raise AssertionError(f"power against |{effect} - null| is not non-decreasing: {powers}")


def _refused(cls: Any, params: dict[str, Any], name: str) -> None:
    try:
        _solve(cls, **params)
    except DesignError as exc:
        if name not in str(exc):
            raise AssertionError(f"DesignError does not name {name!r}: {exc}") from None
        return
    raise AssertionError(f"{params!r} was accepted; expected a DesignError naming {name!r}")


def check_bad_inputs(cls: Any) -> None:
    """Out-of-range alpha/power, text for numbers, an unknown name, two quantities left out."""
    example = _example(cls)
    no_power = _without(example, "power")
    _refused(cls, dict(no_power, alpha=1.5), "alpha")
    _refused(cls, dict(no_power, alpha="0.05"), "alpha")
    _refused(cls, dict(_without(example, cls.size), power=1.5), "power")
    _refused(cls, dict(_without(example, cls.size), power="0.8"), "power")
    _refused(cls, dict(no_power, **{cls.size: "100"}), cls.size)
    _refused(cls, dict(no_power, not_a_parameter=1), "not_a_parameter")
    others = [k for k in cls.solvable if k != "power"]
    if others:
        _refused(cls, _without(no_power, others[0]), "left out")
        _refused(cls, example, "nothing to solve")


def check_vocabulary_names(cls: Any) -> None:
    """Every parameter is a vocabulary term (PowerUp!'s names are aliases only)."""
    from effekt import vocabulary

    if not hasattr(cls, "parameters"):
        raise _Skip(f"{cls.name} does not list its parameters")
    known = vocabulary.terms()
    names = [row["name"] for row in cls.parameters()]
    missing = [n for n in names if n not in known]
    if missing:
        raise AssertionError(f"parameters not in effekt's vocabulary: {missing}")


def check_result(cls: Any) -> None:
    """The result is a PowerResult with ``counts`` set and the Result protocol."""
    from effekt.result import PowerResult

    example = _example(cls)
    for key in cls.solvable:
        res = _solve(cls, **_without(example, key))
        if not isinstance(res, PowerResult):
            raise AssertionError(f"solve returned {type(res).__name__}, not a PowerResult")
        if not res.counts:
            raise AssertionError(f"solving for {key}: counts is empty; say what the number counts")
        tidy = res.tidy()
        if len(tidy) < 1:
            raise AssertionError("tidy() is empty")
        if not isinstance(res.summary(), str) or not res.summary():
            raise AssertionError("summary() is not a non-empty string")
        d = res.to_dict()
        if d.get("counts") != res.counts:
            raise AssertionError("to_dict() does not carry counts")
        import json

        json.loads(res.to_json())


CHECKS: dict[str, Callable[[Any], None]] = {
    "round_trip": check_round_trip,
    "monotone_size": check_monotone_size,
    "monotone_effect": check_monotone_effect,
    "bad_inputs": check_bad_inputs,
    "vocabulary_names": check_vocabulary_names,
    "result": check_result,
}


def check_calculator(cls: Any, *, raise_on_failure: bool = True, checks: Any = None) -> list[CalculatorCheck]:
    """Run the conformance checks on a power calculator class.

    Returns one :class:`CalculatorCheck` per check; with
    ``raise_on_failure=True`` the first failure raises AssertionError
    (skips do not).

    >>> from effekt import get_power_calculator
    >>> print(*{c.status for c in check_calculator(get_power_calculator("two_means"))})
    passed
    """
    out: list[CalculatorCheck] = []
    name = str(getattr(cls, "name", cls))
    for key in checks or CHECKS:
        fn = CHECKS[key]
        try:
            fn(cls)
        except _Skip as exc:
            out.append(CalculatorCheck(name, key, "skipped", str(exc)))
        except (AssertionError, DesignError, Exception) as exc:
            record = CalculatorCheck(name, key, "failed", f"{type(exc).__name__}: {exc}")
            if raise_on_failure:
                raise AssertionError(f"{name}: {key}: {record.message}") from exc
            out.append(record)
        else:
            out.append(CalculatorCheck(name, key, "passed"))
    return out
