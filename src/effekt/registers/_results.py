"""The small frozen result every register function returns (a table with a title)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from effekt.result import FrozenDict, to_jsonable

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class TableResult:
    """A titled table with figures about it; keeps the :class:`effekt.result.Result` protocol.

    ``tidy()`` returns a copy of the table (so the result cannot be edited
    through it), ``summary()`` the text a person reads, ``to_dict()`` /
    ``to_json()`` a JSON-safe record and ``plot()`` the picture where the
    result has one.
    """

    kind: str
    title: str
    table: pd.DataFrame = field(repr=False)
    extra: Mapping[str, Any] = field(default_factory=FrozenDict)
    plotter: Callable[..., Figure] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "table", self.table.copy())
        object.__setattr__(self, "extra", FrozenDict(self.extra))

    def tidy(self) -> pd.DataFrame:
        """The table (a copy), one row per person, group or cell."""
        return self.table.copy()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: kind, title, the table as records and ``extra``."""
        return {"kind": self.kind, "title": self.title, "table": to_jsonable(self.table.reset_index(drop=True)),
                "extra": to_jsonable(dict(self.extra))}

    def to_json(self, **kwargs: Any) -> str:
        """``to_dict()`` as JSON text (keyword arguments go to :func:`json.dumps`)."""
        return json.dumps(self.to_dict(), **kwargs)

    def summary(self) -> str:
        """The title, the table and any notes in ``extra['notes']``."""
        with pd.option_context("display.width", 120, "display.max_columns", 30):
            lines = [self.title, self.table.to_string(index=False)]
        lines += [str(note) for note in self.extra.get("notes", ())]
        return "\n".join(lines)

    def plot(self, *, ax: Any = None, labels: Mapping[Any, str] | None = None, **kwargs: Any) -> Figure:
        """The result's picture (a matplotlib Figure built without pyplot)."""
        if self.plotter is None:
            raise TypeError(f"a {self.kind} result has no picture.")
        return self.plotter(self, ax=ax, labels=labels, **kwargs)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.kind}: {self.title} ({len(self.table)} rows)>"
