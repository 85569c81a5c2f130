"""Run-length outcomes: "at least m consecutive periods in any of a set of states".

For person ``i`` with window ``[start_i, stop_i)`` and the 0/1 series
``x_it = [state_it in S]``, the run length ending at ``t`` is
``r_it = (r_i,t-1 + 1) x_it`` inside the window and 0 outside it (runs are
cut at the window's start). The outcome is ``attained_i = max_t r_it >= m``;
``attained_period`` is the first ``t`` with ``r_it = m`` (the period the
criterion was met) and ``attained_state`` the state then held.

The recursion runs over periods (104 steps for two years of weeks), each
step a numpy operation on all persons at once.

Flere skal med's result target (Rambøll 2019, §3.1): 40 % of group 1 in each
municipality "in a company-based course etc. for three consecutive months"
during the project period, the set being business-oriented activation,
ordinary hours, ordinary education and flexjob. On a weekly panel three
months are 13 weeks (``min_run=13``); on a monthly panel ``min_run=3``.
:func:`attainment` compares each area's share with the target.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from effekt.errors import DataError, DesignError
from effekt.registers._results import TableResult
from effekt.registers.panel import StatePanel, Window, window_rows
from effekt.registers.rates import proportion_ci

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["attainment", "run_length"]


def run_length(panel: StatePanel, window: Window, states: Any, *, min_run: int) -> pd.DataFrame:
    """Longest run of consecutive periods in ``states`` within each person's window.

    Parameters
    ----------
    panel : StatePanel
    window : Window
        E.g. :func:`effekt.registers.follow_up` up to the status date.
    states : list
        Any of these states continues a run (a run may mix them).
    min_run : int
        Periods a run needs to meet the criterion (13 weeks = 3 months).

    Returns
    -------
    DataFrame indexed by person: ``start``, ``stop`` (the window),
    ``person_time``, ``longest_run``,
    ``attained`` (bool), ``attained_period`` (first period at which a run
    reached ``min_run``; NA if never) and ``attained_state``.

    Raises
    ------
    DesignError
        ``min_run`` not a positive whole number, states the panel lacks.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"pnr": [1] * 8, "week": range(8), "s": list("xaabbaxb")})
    >>> p = StatePanel.from_long(df, person="pnr", period="week", state="s")
    >>> from effekt.registers import follow_up
    >>> r = run_length(p, follow_up(p, pd.Series({1: 0})), ["a", "b"], min_run=3)
    >>> print(r.reset_index()[["pnr", "longest_run", "attained", "attained_period", "attained_state"]].to_string(index=False))
     pnr  longest_run  attained  attained_period attained_state
       1            5      True                3              b
    """
    if not isinstance(window, Window):
        raise DesignError(f"window must be a Window (from follow_up or look_back); got {type(window).__name__}.")
    if isinstance(min_run, bool) or not isinstance(min_run, (int, np.integer)) or min_run < 1:
        raise DesignError(f"min_run must be a positive whole number of periods (13 weeks = 3 months); got {min_run!r}.")
    rows = window_rows(panel, window)
    x = panel.in_states(states, rows)
    n_t = x.shape[1]
    s_col = np.clip(window.start - panel.first, 0, n_t)
    e_col = np.maximum(np.clip(window.stop - panel.first, 0, n_t), s_col)
    run = np.zeros(len(s_col), dtype=np.int32)
    best = np.zeros_like(run)
    first = np.full(len(s_col), -1, dtype=np.int64)
    for t in range(int(s_col.min(initial=0)), int(e_col.max(initial=0))):
        live = x[:, t] & (t >= s_col) & (t < e_col)
        run = np.where(live, run + 1, 0)
        np.maximum(best, run, out=best)
        hit = (run == min_run) & (first < 0)
        first[hit] = t
    attained = first >= 0
    states_arr = np.asarray(panel.states, dtype=object)
    att_state = np.full(len(rows), None, dtype=object)
    att_state[attained] = states_arr[panel.codes[rows[attained], first[attained]]]
    period = pd.array(np.where(attained, first + panel.first, 0), dtype="Int64")
    period[~attained] = pd.NA
    return pd.DataFrame({"start": s_col + panel.first, "stop": e_col + panel.first, "person_time": e_col - s_col,
                         "longest_run": best.astype(np.int64), "attained": attained,
                         "attained_period": period, "attained_state": att_state}, index=window.persons)


def _attainment_plot(result: TableResult, *, ax: Any = None, labels: Mapping[Any, str] | None = None,
                     **_: Any) -> Figure:
    from effekt.plotting import COLOURS, figure_and_axes, label_for

    t = result.table.sort_values("share")
    fig, ax = figure_and_axes(ax, size=(6.4, max(2.5, 0.25 * len(t) + 1.2)))
    y = np.arange(len(t))
    colours = np.where(t["met"], COLOURS[2], COLOURS[1])
    ax.errorbar(t["share"], y, xerr=[t["share"] - t["ci_low"], t["ci_high"] - t["share"]], fmt="none",
                ecolor="grey", linewidth=0.8)
    ax.scatter(t["share"], y, color=colours, zorder=3, s=16)
    ax.axvline(result.extra["target"], color="black", linestyle="--", linewidth=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels([label_for(g, labels) for g in t["group"]], fontsize=7)
    ax.set_xlabel("share attaining the criterion")
    ax.set_title(f"Attainment against the target {100 * result.extra['target']:g} %")
    return fig


def attainment(runs: pd.DataFrame, *, by: Any = None, target: float, ci_method: str = "wilson",
               alpha: float = 0.05) -> TableResult:
    """Share attaining a run-length criterion per group, against a target share.

    Per group ``g``: ``attained_g / n_g`` with its interval (Wilson by
    default), ``met = share >= target``, and ``short_by =
    max(0, ceil(target n_g) - attained_g)`` persons. ``extra["composition"]``
    counts the attaining persons by the state held when they met it (e.g.
    Solrød: 3 flexjob + 1 work placement) and ``extra["status_period"]`` the
    last period of follow-up (the status date the shares refer to).

    Parameters
    ----------
    runs : DataFrame
        Output of :func:`run_length`.
    by : str or Series, optional
        Group (municipality): a column of ``runs`` or a Series indexed by person.
    target : float
        Target share, e.g. 0.40.
    ci_method : {"wilson", "clopper-pearson"}, default "wilson"
    alpha : float, default 0.05

    Returns
    -------
    TableResult
        ``kind="attainment"``; table columns ``group``, ``n``, ``attained``,
        ``share``, ``ci_low``, ``ci_high``, ``target``, ``met``, ``short_by``;
        ``plot()`` draws the shares against the target.

    Examples
    --------
    >>> import pandas as pd
    >>> runs = pd.DataFrame({"attained": [True] * 4 + [False] * 6,
    ...                      "attained_state": ["fleksjob"] * 3 + ["praktik"] + [None] * 6})
    >>> res = attainment(runs, target=0.40)
    >>> print(res.tidy()[["n", "attained", "share", "met", "short_by"]].to_string(index=False))
     n  attained  share  met  short_by
    10         4    0.4 True         0
    >>> res.extra["composition"]["all"]
    {'fleksjob': 3, 'praktik': 1}
    """
    if "attained" not in runs.columns:
        raise DataError("runs must come from run_length (a column 'attained').")
    if isinstance(target, bool) or not isinstance(target, (int, float)) or not 0 < target <= 1:
        raise DesignError(f"target must be a share between 0 and 1 (0.40 for 40 %); got {target!r}.")
    if by is None:
        group = pd.Series("all", index=runs.index)
    elif isinstance(by, str):
        if by not in runs.columns:
            raise DataError(f"by column {by!r}: no such column in runs; pass a Series indexed by person.")
        group = runs[by]
    else:
        group = pd.Series(by).reindex(runs.index)
    if group.isna().any():
        raise DataError(f"by has no group for {int(group.isna().sum())} person(s) of runs.")
    agg = runs["attained"].astype(np.int64).groupby(group.to_numpy(), sort=True).agg(["sum", "size"])
    k, n = agg["sum"].to_numpy(), agg["size"].to_numpy()
    low, high = proportion_ci(k, n, ci_method=ci_method, alpha=alpha)
    share = k / n
    # a share that equals the target in exact arithmetic (4/10 vs 0.40) is met
    met = share >= target - 1e-12
    need = np.array([math.ceil(round(target * m, 9)) for m in n], dtype=np.int64)
    table = pd.DataFrame({"group": agg.index.to_numpy(), "n": n, "attained": k, "share": share, "ci_low": low,
                          "ci_high": high, "target": target, "met": met, "short_by": np.maximum(need - k, 0)})
    composition: dict[str, dict[str, int]] = {}
    if "attained_state" in runs.columns:
        hit = runs["attained"].to_numpy(bool)
        comp = pd.crosstab(group.to_numpy()[hit], runs["attained_state"].to_numpy()[hit].astype(str))
        composition = {str(g): {str(s): int(v) for s, v in row.items() if v} for g, row in comp.iterrows()}
    overall = int(k.sum()), int(n.sum())
    status = int(runs["stop"].max()) - 1 if "stop" in runs.columns and len(runs) else None
    return TableResult("attainment", f"Attainment against the target {100 * target:g} %", table,
                       {"target": target, "ci_method": ci_method, "composition": composition,
                        "status_period": status,
                        "overall": {"attained": overall[0], "n": overall[1], "share": overall[0] / overall[1]},
                        "notes": (f"{int(met.sum())} of {len(met)} groups meet the target; overall "
                                  f"{overall[0]}/{overall[1]} = {100 * overall[0] / overall[1]:.1f} %",)},
                       plotter=_attainment_plot)
