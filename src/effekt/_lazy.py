"""Deferred imports, so that ``import effekt`` and the ``effekt`` command start quickly.

pandas and scipy.stats take most of a second to import; the command line's
help, its power calculations and a plain ``import effekt`` need neither.

:func:`lazy_module` gives a stand-in that imports the real module the first
time one of its attributes is read::

    pd = lazy_module("pandas")      # nothing imported yet
    pd.DataFrame(...)               # pandas imported here

:func:`attribute_loader` builds a package's module-level ``__getattr__``
(PEP 562) from a table of public names and the modules that define them.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_module", "attribute_loader"]


class _LazyModule(types.ModuleType):
    """Stands in for a module until one of its attributes is read."""

    def __getattr__(self, attr: str) -> Any:
        module = sys.modules.get(self.__name__) or importlib.import_module(self.__name__)
        return getattr(module, attr)

    def __repr__(self) -> str:
        return f"<lazy module {self.__name__!r}>"


def lazy_module(name: str) -> Any:
    """A stand-in for the module ``name`` that imports it when first used."""
    return _LazyModule(name)


def attribute_loader(
    package: str, names: Mapping[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package`` (PEP 562).

    ``names`` maps each public name to the module defining it (a name that
    maps to ``""`` is itself a submodule of ``package``). A name found
    neither in ``names`` nor as a submodule raises AttributeError, as any
    missing module attribute does. The value is cached in ``namespace``
    (the package's ``globals()``), so each name is looked up once.
    """

    def __getattr__(name: str) -> Any:
        if name in names:
            where = names[name]
            if where:
                value = getattr(importlib.import_module(where), name)
            else:
                value = importlib.import_module(f"{package}.{name}")
        elif not name.startswith("__") and importlib.util.find_spec(f"{package}.{name}") is not None:
            # any other submodule, as the attribute it becomes once imported
            value = importlib.import_module(f"{package}.{name}")
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        # the public names, the submodules imported so far and the dunders;
        # not the helpers the package imports for itself
        loaded = {
            k for k, v in namespace.items()
            if isinstance(v, types.ModuleType) and v.__name__ == f"{package}.{k}" and not k.startswith("_")
        }
        return sorted(set(names) | loaded | {k for k in namespace if k.startswith("__")})

    return __getattr__, __dir__
