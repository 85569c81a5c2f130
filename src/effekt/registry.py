"""Discovery of estimators and power calculators through entry points.

effekt's own estimators and every plugin's register the same way, in the
entry-point groups ``effekt.estimators`` and ``effekt.power`` of their
distribution's ``pyproject.toml``::

    [project.entry-points."effekt.estimators"]
    cox = "effekt_survival.cox:Cox"

A plugin that fails to import, or two distributions that claim one name,
give a :class:`~effekt.errors.PluginError` naming the distribution when that
name is asked for; every other estimator keeps working.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from effekt.errors import PluginError
from effekt.vocabulary import validate_options

if TYPE_CHECKING:  # imported for annotations only: a name lookup needs no pandas
    from importlib import metadata

    import pandas as pd

    from effekt.protocol import Estimator, PowerCalculator
    from effekt.result import EffectResult, EffectTable, PowerResult

__all__ = [
    "ESTIMATOR_GROUP",
    "POWER_GROUP",
    "available",
    "estimate",
    "get_estimator",
    "get_power_calculator",
    "power",
    "refresh",
]

ESTIMATOR_GROUP = "effekt.estimators"
POWER_GROUP = "effekt.power"


@dataclass
class _Entry:
    name: str
    group: str
    target: str
    distribution: str
    version: str
    entry_point: metadata.EntryPoint
    loaded: Any = None
    error: str | None = None
    attempted: bool = False

    def load(self) -> Any:
        if not self.attempted:
            self.attempted = True
            try:
                obj = self.entry_point.load()
            except Exception as exc:  # any failure inside a plugin's import
                self.error = f"{type(exc).__name__}: {exc}"
            else:
                problem = _contract_problem(obj, self.group)
                if problem:
                    self.error = problem
                else:
                    self.loaded = obj
        if self.error is not None:
            raise PluginError(
                f"'{self.name}' from {self.distribution} {self.version} cannot be used: "
                f"{self.error}. Reinstall or upgrade {self.distribution}, or uninstall it; "
                "the other estimators are not affected."
            )
        return self.loaded


@dataclass
class _Registry:
    groups: dict[str, dict[str, list[_Entry]]] = field(default_factory=dict)

    def group(self, group: str) -> dict[str, list[_Entry]]:
        if group not in self.groups:
            self.groups[group] = _discover(group)
        return self.groups[group]


_REGISTRY = _Registry()


def refresh() -> None:
    """Forget what was discovered, so newly installed plugins are found."""
    _REGISTRY.groups.clear()


def _discover(group: str) -> dict[str, list[_Entry]]:
    from importlib import metadata

    found: dict[str, list[_Entry]] = {}
    seen: set[tuple[str, str, str]] = set()
    for ep in metadata.entry_points(group=group):
        dist = getattr(ep, "dist", None)
        dist_name = dist.metadata["Name"] if dist is not None else "unknown distribution"
        version = dist.version if dist is not None else "?"
        key = (ep.name, dist_name.lower().replace("_", "-"), ep.value)
        if key in seen:  # the same distribution seen twice on sys.path
            continue
        seen.add(key)
        found.setdefault(ep.name, []).append(
            _Entry(ep.name, group, ep.value, dist_name, version, ep)
        )
    return found


def _contract_problem(obj: Any, group: str) -> str | None:
    if not isinstance(obj, type):
        return f"the entry point gives {type(obj).__name__} {obj!r}, not a class"
    if group == ESTIMATOR_GROUP:
        missing = [a for a in ("name", "estimand", "kind", "fit") if not hasattr(obj, a)]
        if missing:
            return f"class {obj.__qualname__} lacks {', '.join(missing)} of the Estimator protocol"
    elif group == POWER_GROUP:
        missing = [a for a in ("name", "solve") if not hasattr(obj, a)]
        if missing:
            return f"class {obj.__qualname__} lacks {', '.join(missing)} of the PowerCalculator protocol"
    return None


def _lookup(name: str, group: str, what: str) -> Any:
    entries = _REGISTRY.group(group)
    if not isinstance(name, str) or name not in entries:
        names = sorted(entries)
        close = difflib.get_close_matches(str(name), names, n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise PluginError(
            f"no {what} named {name!r} is installed.{hint} Installed: "
            f"{', '.join(names) if names else 'none'}. `effekt plugins` lists them with "
            "their distributions."
        )
    claims = entries[name]
    if len(claims) > 1:
        who = " and ".join(f"{e.distribution} {e.version}" for e in claims)
        raise PluginError(f"'{name}' is registered by both {who}. Uninstall one of them.")
    return claims[0].load()


def get_estimator(name: str) -> type[Estimator]:
    """The estimator class registered under ``name``.

    >>> get_estimator("difference_in_means").estimand
    'ate'
    """
    return _lookup(name, ESTIMATOR_GROUP, "estimator")  # type: ignore[no-any-return]


def get_power_calculator(name: str) -> type[PowerCalculator]:
    """The power calculator registered under ``name``."""
    return _lookup(name, POWER_GROUP, "power calculator")  # type: ignore[no-any-return]


def estimate(name: str, data: Any = None, **spec: Any) -> EffectResult | EffectTable:
    """Fit the estimator registered as ``name`` to ``data``.

    All options are passed to the estimator's ``fit`` by keyword; see that
    estimator's documentation (``help(effekt.get_estimator(name))``).

    >>> import pandas as pd
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4, 6, 8], "z": [0, 0, 0, 1, 1, 1]})
    >>> estimate("difference_in_means", data=df, outcome="y", treatment="z").estimate
    4.0
    """
    cls = get_estimator(name)
    if not getattr(cls.fit, "__effekt_validated__", False):  # a plugin's fit without @validated
        spec = validate_options(cls, spec)
    return cls().fit(data, **spec)


def power(name: str, **params: Any) -> PowerResult:
    """Solve the power calculation ``name`` for the one quantity left out."""
    cls = get_power_calculator(name)
    if not getattr(cls.solve, "__effekt_validated__", False):
        params = validate_options(cls, params, cls.solve)
    return cls().solve(**params)


def available(kind: str | None = None) -> pd.DataFrame:
    """Every registered estimator and power calculator.

    Columns: ``name, group, kind, estimand, distribution, version, status``.
    ``status`` is ``"ok"``, or says why the entry cannot be used (a failed
    import, a name claimed twice); such an entry does not stop the others.
    """
    import pandas as pd

    rows = []
    for group in (ESTIMATOR_GROUP, POWER_GROUP):
        for name, claims in sorted(_REGISTRY.group(group).items()):
            for entry in claims:
                obj = None
                if len(claims) > 1:
                    status = "duplicate: also registered by " + ", ".join(
                        e.distribution for e in claims if e is not entry
                    )
                else:
                    try:
                        obj = entry.load()
                        status = "ok"
                    except PluginError:
                        status = f"broken: {entry.error}"
                rows.append(
                    {
                        "name": name,
                        "group": group,
                        "kind": getattr(obj, "kind", "power" if group == POWER_GROUP else None),
                        "estimand": getattr(obj, "estimand", None),
                        "distribution": entry.distribution,
                        "version": entry.version,
                        "status": status,
                    }
                )
    frame = pd.DataFrame(
        rows, columns=["name", "group", "kind", "estimand", "distribution", "version", "status"]
    )
    if kind is not None:
        frame = frame[frame["kind"] == kind].reset_index(drop=True)
    return frame
