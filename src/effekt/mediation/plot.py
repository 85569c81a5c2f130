"""A picture of a mediation fit: ACME, ADE and total effect with their intervals.

The picture is the result's own: ``tab.plot()`` on the table of
``mediation`` (and ``mediation_survival``) draws it. :func:`plot_effects`
is the same function under its older name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from effekt.errors import DesignError
from effekt.plotting import ARM_COLOURS, COLOURS, LINE_WIDTH, figure_and_axes, label_for, reference_line
from effekt.result import EffectTable

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_effects", "plot_mediation"]

_ROWS = {
    "average": [("acme", "ACME"), ("ade", "ADE"), ("total", "Total effect")],
    "both": [
        ("acme_control", "ACME (control)"),
        ("acme_treated", "ACME (treated)"),
        ("ade_control", "ADE (control)"),
        ("ade_treated", "ADE (treated)"),
        ("total", "Total effect"),
    ],
}


def plot_mediation(
    table: EffectTable,
    *,
    ax: Any = None,
    labels: Mapping[Any, str] | None = None,
    arms: str = "average",
    title: str | None = None,
) -> Figure:
    """Point estimates and intervals of a ``mediation`` fit, as R's ``plot.mediate``.

    Parameters
    ----------
    table : EffectTable
        The result of ``ef.estimate("mediation", ...)`` (or ``mediation_survival``).
    ax : matplotlib Axes, optional
        Draw into this Axes; its Figure is returned.
    labels : mapping term -> str, optional
        Names shown for the rows, e.g. ``{"acme": "via job search"}``; the
        defaults are "ACME", "ADE", "Total effect" (and "(control)",
        "(treated)" for each arm).
    arms : {"average", "both"}, default "average"
        The averaged effects, or the control and treated versions (which differ
        only with a treatment x mediator interaction).
    title : str, optional

    Returns
    -------
    matplotlib Figure
        Made without pyplot (:func:`effekt.plotting.figure_and_axes`).

    Examples
    --------
    >>> import numpy as np, effekt as ef
    >>> from effekt.mediation import Mediation
    >>> sim = Mediation.simulate(np.random.default_rng(1), n=200, effect=0.5)
    >>> tab = ef.estimate("mediation", data=sim.data, outcome="y", treatment="z", mediator="m",
    ...                   sims=100, seed=1)
    >>> fig = tab.plot()
    >>> print(*[t.get_text() for t in fig.axes[0].get_yticklabels()], sep=", ")
    Total effect, ADE, ACME
    """
    if arms not in _ROWS:
        raise DesignError(f"arms={arms!r} is not an option of the mediation plot; use 'average' or 'both'.")
    if not isinstance(table, EffectTable) or "acme" not in table.terms:
        raise DesignError("the mediation plot takes the EffectTable of a mediation fit (with an 'acme' row).")
    rows = _ROWS[arms][::-1]  # first row on top
    fig, axes = figure_and_axes(ax, size=(6.4, 1.2 + 0.45 * len(rows)))
    for y, (term, _) in enumerate(rows):
        r = table[term]
        colour = ARM_COLOURS[1] if term == table.headline_term else COLOURS[0]
        axes.plot([r.conf_int[0], r.conf_int[1]], [y, y], color=colour, linewidth=LINE_WIDTH)
        axes.plot([r.estimate], [y], "o", color=colour)
    reference_line(axes, 0.0, vertical=True)
    axes.set_yticks(range(len(rows)), [label_for(term, labels, default) for term, default in rows])
    axes.grid(False, axis="y")
    level = f"{100 * table[rows[0][0]].conf_level:g}%"
    axes.set_xlabel(f"effect on {table['acme'].outcome or 'the outcome'} ({level} intervals)")
    axes.set_title(title or f"{table.estimator}: mediated and direct effects")
    return fig


def plot_effects(
    table: EffectTable, *, arms: str = "average", ax: Any = None, labels: Mapping[Any, str] | None = None
) -> Figure:
    """The mediation table's picture; the same as ``table.plot()`` (:func:`plot_mediation`).

    >>> import numpy as np, effekt as ef
    >>> from effekt.mediation import Mediation
    >>> sim = Mediation.simulate(np.random.default_rng(1), n=200, effect=0.5)
    >>> tab = ef.estimate("mediation", data=sim.data, outcome="y", treatment="z", mediator="m",
    ...                   sims=100, seed=1)
    >>> fig = plot_effects(tab)
    >>> print(*[t.get_text() for t in fig.axes[0].get_yticklabels()], sep=", ")
    Total effect, ADE, ACME
    """
    return plot_mediation(table, ax=ax, labels=labels, arms=arms)
