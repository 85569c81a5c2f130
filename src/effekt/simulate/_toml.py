"""A design to and from plain data and TOML. Reading never executes anything from the file."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from effekt.errors import DesignError

_PARTS = ("population", "outcomes", "assignment")
_TOP = ("name", *_PARTS, "estimands", "estimators")


def _classes() -> dict[str, type]:
    from effekt.simulate.design import Assign, Estimand, Estimator, Outcomes, Population

    return {"population": Population, "outcomes": Outcomes, "assignment": Assign,
            "estimands": Estimand, "estimators": Estimator}


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def design_to_dict(design: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": design.name} if design.name else {}
    for part in _PARTS:
        obj = getattr(design, part)
        out[part] = {f.name: _plain(getattr(obj, f.name)) for f in fields(obj) if getattr(obj, f.name) is not None}
    out["estimands"] = [{f.name: getattr(e, f.name) for f in fields(e) if getattr(e, f.name) is not None}
                        for e in design.estimands]
    out["estimators"] = [
        {"label": e.label, "estimator": e.estimator, "estimand": e.estimand, "options": _plain(e.options),
         **({"term": e.term} if e.term is not None else {})}
        for e in design.estimators
    ]
    return out


def _build(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, Mapping):
        raise DesignError(f"{where} must be a table; got {data!r}.")
    known = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    for key in data:
        if key not in known:
            raise DesignError(f"{where} has no key {key!r}; the keys are {known}.")
    values = {k: (tuple(v) if isinstance(v, list) and k in ("cohorts", "cohort_shares", "cohort_effects", "exits", "exit_effects") else v) for k, v in data.items()}
    try:
        return cls(**values)
    except TypeError as exc:
        raise DesignError(f"{where}: {exc}") from None


def design_from_dict(data: Mapping[str, Any]) -> Any:
    from effekt.simulate.design import Design

    if not isinstance(data, Mapping):
        raise DesignError(f"a design must be a table; got {type(data).__name__}.")
    for key in data:
        if key not in _TOP:
            raise DesignError(f"a design has no key {key!r}; the keys are {list(_TOP)}.")
    classes = _classes()
    parts: dict[str, Any] = {part: _build(classes[part], data[part], part) for part in _PARTS if part in data}
    lists: dict[str, Any] = {}
    for part in ("estimands", "estimators"):
        items = data.get(part, [])
        if not isinstance(items, list):
            raise DesignError(f"{part} must be an array of tables ([[{part}]]); got {items!r}.")
        lists[part] = tuple(_build(classes[part], item, f"{part}[{i}]") for i, item in enumerate(items))
    name = data.get("name", "")
    if not isinstance(name, str):
        raise DesignError(f"name must be a string; got {name!r}.")
    return Design(**parts, **lists, name=name)


# ----------------------------------------------------------------------------- writing
def _key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() and key.isascii() else json.dumps(key)


def _value(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v, where) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_key(str(k))} = {_value(v, where)}" for k, v in value.items() if v is not None) + "}"
    raise DesignError(f"{where}: {value!r} ({type(value).__name__}) cannot be written to TOML.")


def dumps(data: Mapping[str, Any]) -> str:
    """TOML text of a design dict: top-level scalars, tables, and arrays of tables."""
    lines: list[str] = []
    for key, value in data.items():
        if not isinstance(value, (Mapping, list)):
            lines.append(f"{_key(key)} = {_value(value, key)}")
    for key, value in data.items():
        if isinstance(value, Mapping):
            lines += ["", f"[{_key(key)}]"]
            lines += [f"{_key(k)} = {_value(v, f'{key}.{k}')}" for k, v in value.items() if v is not None]
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            for item in value:
                lines += ["", f"[[{_key(key)}]]"]
                lines += [f"{_key(k)} = {_value(v, f'{key}.{k}')}" for k, v in item.items() if v is not None]
        elif isinstance(value, list):
            lines.append(f"{_key(key)} = {_value(value, key)}")
    return "\n".join(lines).lstrip("\n") + "\n"
