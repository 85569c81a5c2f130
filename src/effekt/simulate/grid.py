"""Diagnose a design over a grid of parameters: power curves and the minimal detectable effect.

``redesign(design, n=[100, 200, 400], effect=[0.1, 0.2, 0.3])`` diagnoses
every combination of the grid (with the same seed: common random numbers
across the grid) and returns a :class:`Redesign`, whose ``tidy()`` stacks
the diagnosands with the grid's columns and whose ``plot()`` draws a
diagnosand (default power) against one grid parameter, one line per
estimator and value of the other parameters.

>>> from effekt.simulate import Design, redesign
>>> grid = redesign(Design.example(), sims=20, seed=1, bootstrap_sims=0, n=[40, 80])
>>> grid.tidy().query("diagnosand == 'power'")["n"].tolist()
[40, 40, 40, 80, 80, 80]
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from effekt.errors import DesignError
from effekt.result import to_jsonable

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from effekt.simulate.design import Design
    from effekt.simulate.diagnosis import Diagnosis

__all__ = ["Redesign", "compare", "redesign"]


@dataclass(frozen=True)
class Redesign:
    """Diagnoses over a grid: ``grid`` (one dict per point) and ``diagnoses`` in the same order."""

    grid: tuple[Mapping[str, Any], ...]
    diagnoses: tuple[Diagnosis, ...] = field(compare=False)

    def tidy(self) -> pd.DataFrame:
        """The diagnosands of every grid point, with the grid's parameters as columns."""
        frames = []
        for point, diag in zip(self.grid, self.diagnoses):
            t = diag.tidy()
            for k, v in point.items():
                t.insert(0, k, v)
            frames.append(t)
        return pd.concat(frames, ignore_index=True)

    def summary(self) -> str:
        power = self.tidy().query("diagnosand == 'power'")
        keys = list(self.grid[0])
        lines = [f"Redesign over {', '.join(keys)} ({len(self.grid)} designs): power"]
        for _, r in power.iterrows():
            where = ", ".join(f"{k}={r[k]}" for k in keys)
            lines.append(f"  {where:<30} {r['estimator']:<24} {r['value']:.3f} (SE {r['std_error']:.3f})")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable({"grid": [dict(g) for g in self.grid],  # type: ignore[no-any-return]
                            "diagnoses": [d.to_dict() for d in self.diagnoses]})

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def minimal_detectable(self, estimator: str, *, over: str = "effect", power: float = 0.8) -> float:
        """The smallest grid value of ``over`` whose diagnosed power reaches ``power`` (NaN if none)."""
        t = self.tidy()
        t = t[(t["diagnosand"] == "power") & (t["estimator"] == estimator)].sort_values(over)
        hit = t[t["value"] >= power]
        return float(hit[over].iloc[0]) if len(hit) else float("nan")

    def plot(self, *, ax: Any = None, labels: Mapping[Any, str] | None = None, x: str | None = None,
             diagnosand: str = "power", **kwargs: Any) -> Figure:
        """``diagnosand`` against grid parameter ``x`` (default the first), with 95% Monte Carlo bars."""
        from effekt.plotting import COLOURS, figure_and_axes, label_for

        keys = list(self.grid[0])
        x = x or keys[0]
        if x not in keys:
            raise DesignError(f"x={x!r} is not a grid parameter; the grid has {keys}.")
        fig, a = figure_and_axes(ax)
        t = self.tidy()
        t = t[t["diagnosand"] == diagnosand]
        others = [k for k in keys if k != x]
        palette = list(COLOURS.values()) if isinstance(COLOURS, Mapping) else list(COLOURS)
        for i, (key, sub) in enumerate(t.groupby(["estimator", *others], sort=False)):
            key = key if isinstance(key, tuple) else (key,)
            name = label_for(key[0], labels) + "".join(f", {k}={v}" for k, v in zip(others, key[1:]))
            sub = sub.sort_values(x)
            a.errorbar(sub[x], sub["value"], yerr=1.96 * sub["std_error"].fillna(0.0), marker="o",
                       capsize=3, label=name, color=palette[i % len(palette)])
        if diagnosand == "power":
            a.axhline(0.8, color="grey", lw=0.8, ls="--")
            a.set_ylim(0, 1.02)
        a.set_xlabel(x)
        a.set_ylabel(diagnosand.replace("_", " "))
        a.legend(frameon=False)
        return fig


def redesign(design: Design, *, sims: int = 500, seed: int | None = None, **grid_and_options: Any) -> Redesign:
    """Diagnose ``design`` at every point of a grid of its parameters.

    Parameters
    ----------
    design : Design
    sims : int, default=500
    seed : int, optional
        One seed for every grid point (drawn once when omitted).
    **grid_and_options
        Grid parameters as lists (``n=[100, 200]``, ``effect=[...]``,
        ``icc=[...]``, ``prob=[...]``, or ``"outcomes.sd"`` style names through
        ``**{"outcomes.sd": [...]}``); the other keywords go to :func:`diagnose`
        (``alpha``, ``backend``, ``client``, ``workers``, ``diagnosands``, ``bootstrap_sims``).

    Returns
    -------
    Redesign
    """
    from effekt.simulate.diagnosis import diagnose

    passthrough = {"alpha", "backend", "client", "workers", "progress", "diagnosands", "bootstrap_sims"}
    options = {k: v for k, v in grid_and_options.items() if k in passthrough}
    grid = {k: v for k, v in grid_and_options.items() if k not in passthrough}
    if not grid:
        raise DesignError("redesign needs at least one grid parameter, e.g. n=[100, 200].")
    for k, v in grid.items():
        if isinstance(v, (str, bytes)) or not isinstance(v, Sequence) or not len(v):
            raise DesignError(f"grid parameter {k!r} must be a non-empty list of values; got {v!r}.")
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1, dtype=np.uint64)[0])
    points = [dict(zip(grid, combo)) for combo in itertools.product(*grid.values())]
    diagnoses = tuple(diagnose(design.replace(**p), sims, seed=seed, **options) for p in points)
    return Redesign(grid=tuple(points), diagnoses=diagnoses)


def compare(**diagnoses: Diagnosis) -> Redesign:
    """Put diagnoses of different designs side by side, by name.

    ``compare(blocked=diagnose(a), simple=diagnose(b)).tidy()`` stacks their
    diagnosands with a ``design`` column; ``.plot(diagnosand="rmse")`` draws
    one against the other. Use the same seed for each for common random numbers.

    >>> from effekt.simulate import Design, diagnose
    >>> d = Design.example()
    >>> both = compare(small=diagnose(d.replace(n=40), sims=10, seed=1, bootstrap_sims=0),
    ...                large=diagnose(d, sims=10, seed=1, bootstrap_sims=0))
    >>> sorted(set(both.tidy()["design"]))
    ['large', 'small']
    """
    from effekt.simulate.diagnosis import Diagnosis

    if not diagnoses:
        raise DesignError("compare needs diagnoses by name, e.g. compare(blocked=diag_a, simple=diag_b).")
    for name, diag in diagnoses.items():
        if not isinstance(diag, Diagnosis):
            raise DesignError(f"compare: {name}= must be a Diagnosis; got {type(diag).__name__}.")
    return Redesign(grid=tuple({"design": name} for name in diagnoses), diagnoses=tuple(diagnoses.values()))
