"""Share-over-time monitoring by group: point-in-time and ever-since-index shares.

Monitoring reports print, month by month, "the share of group 1 in ordinary
hours". That sentence has two readings, and Flere skal med does not say
which it used (seed notes, §4.2). :func:`monitor_shares` computes both,
labelled in a ``measure`` column:

* ``"point-in-time"``: among persons indexed by period ``t`` (``index_i <= t``),
  the share whose state *in* ``t`` is in the set:
  ``P_g(t) = #{i in g: index_i <= t, s_it in S} / #{i in g: index_i <= t}``;
* ``"ever since index"``: the share who have been in the set in some period
  of ``[index_i, t]``: ``E_g(t) = #{i in g: index_i <= t, exists u in
  [index_i, t]: s_iu in S} / #{i in g: index_i <= t}``.

``E`` never falls; ``P`` can. With staggered entry the denominator grows
over time (``at_risk``), which the table reports.

The arithmetic is two boolean matrices (persons x periods), a running
maximum along periods for ``E``, and group sums by ``np.add.reduceat`` over
persons sorted by group.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from effekt.errors import DataError, DesignError
from effekt.registers._results import TableResult
from effekt.registers.panel import StatePanel, Window, window_rows

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["monitor_shares"]


def _plot(result: TableResult, *, ax: Any = None, labels: Mapping[Any, str] | None = None, **_: Any) -> Figure:
    from effekt.plotting import COLOURS, LINE_WIDTH, figure_and_axes, label_for

    t = result.table
    fig, ax = figure_and_axes(ax)
    for j, (group, part) in enumerate(t.groupby("group", sort=False)):
        colour = COLOURS[j % len(COLOURS)]
        for measure, style in (("point-in-time", "-"), ("ever since index", "--")):
            rows = part[part["measure"] == measure]
            ax.plot(rows["period"], rows["share"], color=colour, linestyle=style, linewidth=LINE_WIDTH,
                    label=f"{label_for(group, labels)}, {measure}")
    ax.set_xlabel("period")
    ax.set_ylabel(f"share in {result.extra['states_label']}")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7, frameon=False)
    ax.set_title("Share over time: point-in-time (solid) and ever since index (dashed)")
    return fig


def monitor_shares(panel: StatePanel, window: Window, states: Any, *, by: Any = None,
                   every: int = 1) -> TableResult:
    """Shares in a set of states over calendar time, by group, in both readings.

    Parameters
    ----------
    panel : StatePanel
    window : Window
        A :func:`effekt.registers.follow_up` window: its index periods define
        who is counted from when, its stops the cut-off (each period up to
        the latest stop is reported; a person counts while the period is in
        their window).
    states : list
        The set of states (e.g. ordinary hours).
    by : Series, optional
        Group per person (visitation group, municipality), indexed by person.
    every : int, default 1
        Report every ``every``-th period (4 or 13 for a monthly or quarterly
        view of a weekly panel).

    Returns
    -------
    TableResult
        ``kind="monitoring"``; one row per group, measure and period:
        ``group``, ``measure`` ("point-in-time" or "ever since index"),
        ``period``, ``at_risk``, ``count``, ``share``; ``plot()`` draws both
        measures per group.

    Examples
    --------
    >>> import pandas as pd
    >>> from effekt.registers import StatePanel, follow_up
    >>> df = pd.DataFrame({"pnr": [1] * 4 + [2] * 4, "week": list(range(4)) * 2,
    ...                    "s": ["kh", "oh", "kh", "kh", "kh", "kh", "kh", "oh"]})
    >>> p = StatePanel.from_long(df, person="pnr", period="week", state="s")
    >>> res = monitor_shares(p, follow_up(p, pd.Series({1: 0, 2: 1})), ["oh"])
    >>> wide = res.tidy().pivot(index="period", columns="measure", values="share").reset_index()
    >>> print(wide.to_string(index=False))
     period  ever since index  point-in-time
          0               0.0            0.0
          1               0.5            0.5
          2               0.5            0.0
          3               1.0            0.5
    """
    if not isinstance(window, Window):
        raise DesignError(f"window must be a Window (from follow_up); got {type(window).__name__}.")
    if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
        raise DesignError(f"every must be a positive whole number of periods; got {every!r}.")
    states_list = [states] if isinstance(states, (str, int)) else list(states)
    x = panel.in_states(states_list, window_rows(panel, window))
    n_t = x.shape[1]
    s_col = np.clip(window.start - panel.first, 0, n_t)
    e_col = np.clip(window.stop - panel.first, 0, n_t)
    t = np.arange(n_t)
    live = (t[None, :] >= s_col[:, None]) & (t[None, :] < e_col[:, None])
    point = x & live
    ever = np.maximum.accumulate(point, axis=1) & live
    if by is None:
        group = np.zeros(len(window.persons), dtype=np.int64)
        labels = np.array(["all"], dtype=object)
    else:
        g = pd.Series(by).reindex(window.persons)
        if g.isna().any():
            raise DataError(f"by has no group for {int(g.isna().sum())} person(s) of the window, e.g. "
                            f"{list(window.persons[g.isna().to_numpy()][:5])!r}.")
        group, labels = pd.factorize(g, sort=True)
        labels = np.asarray(labels, dtype=object)
    order = np.argsort(group, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(group[order]) != 0])
    cols = np.arange(int(s_col.min(initial=0)), int(e_col.max(initial=0)), every)
    sums = {name: np.add.reduceat(m[order][:, cols].astype(np.int64), starts, axis=0)
            for name, m in (("at_risk", live), ("point-in-time", point), ("ever since index", ever))}
    present = labels[group[order][starts]]
    frames = []
    for measure in ("point-in-time", "ever since index"):
        k, r = sums[measure], sums["at_risk"]
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(r > 0, k / np.maximum(r, 1), np.nan)
        frames.append(pd.DataFrame({
            "group": np.repeat(present, len(cols)), "measure": measure,
            "period": np.tile(cols + panel.first, len(present)), "at_risk": r.ravel(), "count": k.ravel(),
            "share": share.ravel()}))
    table = pd.concat(frames, ignore_index=True)
    label = ", ".join(map(str, states_list))
    return TableResult("monitoring", f"Share in {{{label}}} over time, point-in-time and ever since index", table,
                       {"states": states_list, "states_label": "{" + label + "}", "every": every,
                        "notes": ("point-in-time: in the state in that period; ever since index: in it in some "
                                  "period from the index to that period",)},
                       plotter=_plot)
