"""A picture of a mediation fit: ACME, ADE and total effect with their intervals."""

from __future__ import annotations

from typing import Any

from effekt.errors import DesignError
from effekt.result import EffectTable

__all__ = ["plot_effects"]

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


def plot_effects(table: EffectTable, *, arms: str = "average", ax: Any = None) -> Any:
    """Point estimates and intervals of a ``mediation`` fit, as R's ``plot.mediate``.

    Parameters
    ----------
    table : EffectTable
        The result of ``ef.estimate("mediation", ...)`` (or ``mediation_survival``).
    arms : {"average", "both"}, default "average"
        The averaged effects, or the control and treated versions (which differ
        only with a treatment x mediator interaction).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Figure

    Examples
    --------
    >>> import numpy as np, effekt as ef
    >>> from effekt.mediation import Mediation
    >>> sim = Mediation.simulate(np.random.default_rng(1), n=200, effect=0.5)
    >>> tab = ef.estimate("mediation", data=sim.data, outcome="y", treatment="z", mediator="m",
    ...                   sims=100, seed=1)
    >>> fig = plot_effects(tab)
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ['Total effect', 'ADE', 'ACME']
    """
    import matplotlib.pyplot as plt

    if arms not in _ROWS:
        raise DesignError(f"arms={arms!r} is not an option; use 'average' or 'both'.")
    if not isinstance(table, EffectTable) or "acme" not in table.terms:
        raise DesignError("plot_effects takes the EffectTable of a mediation fit (with an 'acme' row).")
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 0.5 + 0.45 * len(_ROWS[arms])))
    else:
        fig = ax.figure
    rows = _ROWS[arms][::-1]  # first row on top
    for y, (term, _) in enumerate(rows):
        r = table[term]
        ax.plot([r.conf_int[0], r.conf_int[1]], [y, y], color="k", lw=1.2)
        ax.plot([r.estimate], [y], "o", color="k")
    ax.axvline(0.0, color="0.5", lw=0.8, ls=":")
    ax.set_yticks(range(len(rows)), [label for _, label in rows])
    level = f"{100 * table[rows[0][0]].conf_level:g}%"
    ax.set_xlabel(f"effect on {table['acme'].outcome or 'the outcome'} ({level} intervals)")
    fig.tight_layout()
    return fig
