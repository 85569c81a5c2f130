"""Enrolment projections per site and in total: ratio, target-based and capacity-based.

With ``a`` enrolled by now, ``m`` the cumulative milestone for now and ``M``
the final target of a site:

* **ratio** extrapolation: the site keeps its realisation rate,
  ``a / m * M``;
* **target-based**: the site meets its own remaining milestones,
  ``a + (M - m)``;
* **capacity-based**: the site fills its remaining capacity ``C`` (e.g.
  five caseworkers with ten citizens each: 50), ``a + C``.

Per site the projections are rounded half up; the total is the sum of the
*unrounded* site projections, rounded (sum-then-round), which is what the
CTI evaluation printed (230 for the ratio model, where the rounded sites sum
to 231); ``extra["sum_of_rounded"]`` gives the other convention.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from effekt.data import as_frame
from effekt.errors import DataError
from effekt.registers._results import TableResult
from effekt.registers.checks import round_half_up

__all__ = ["project_enrolment"]


def project_enrolment(
    data: Any,
    *,
    site: str,
    enrolled: str,
    milestone: str,
    target: str,
    capacity: str | float | None = None,
) -> TableResult:
    """Project final enrolment per site by the ratio, target-based and capacity-based models.

    Parameters
    ----------
    data : DataFrame
        One row per site.
    site : str
        Site column (municipality).
    enrolled : str
        Enrolled by now (cumulative).
    milestone : str
        Cumulative milestone for now (positive).
    target : str
        Final target.
    capacity : str or number, optional
        Remaining capacity per site (a column, or one number for all); omit
        for no capacity-based projection.

    Returns
    -------
    TableResult
        ``kind="enrolment_projection"``; one row per site and a ``"total"``
        row: ``enrolled``, ``milestone``, ``target``, ``realised_pct``
        (``100 a / m``), ``ratio``, ``target_based``, ``capacity_based``
        (rounded half up; the total sum-then-round), and the unrounded
        ``*_exact`` columns.

    Raises
    ------
    DataError
        Missing columns, negative counts, a milestone of 0 (the ratio is undefined).

    Examples
    --------
    CTI job focus, Figure 3-1 (seed 000/003 §4.2), Brøndby: 21 jobmatches against a milestone of 80, final target 120.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"kommune": ["Brøndby"], "a": [21], "m": [80], "M": [120]})
    >>> t = project_enrolment(df, site="kommune", enrolled="a", milestone="m", target="M", capacity=50).tidy()
    >>> t.loc[0, ["ratio", "target_based", "capacity_based"]].astype(int).tolist()
    [32, 61, 71]
    """
    frame = as_frame(data)
    names = [site, enrolled, milestone, target] + ([capacity] if isinstance(capacity, str) else [])
    for c in names:
        if c not in frame.columns:
            raise DataError(f"column {c!r}: no such column. The data have {', '.join(map(repr, frame.columns))}.")
    a, m, big = (pd.to_numeric(frame[c], errors="coerce").to_numpy(float) for c in (enrolled, milestone, target))
    for c, v in ((enrolled, a), (milestone, m), (target, big)):
        if np.isnan(v).any() or (v < 0).any():
            raise DataError(f"column {c!r} must hold counts >= 0 without missing values.")
    if (m == 0).any():
        zero = frame.loc[m == 0, site].tolist()
        raise DataError(f"milestone column {milestone!r} is 0 for {zero!r}: the ratio projection is undefined there.")
    exact: dict[str, np.ndarray] = {"ratio": a / m * big, "target_based": a + (big - m)}
    if capacity is not None:
        cap = (pd.to_numeric(frame[capacity], errors="coerce").to_numpy(float) if isinstance(capacity, str)
               else np.full(len(frame), float(capacity)))
        if np.isnan(cap).any() or (cap < 0).any():
            raise DataError("capacity must be >= 0 for every site.")
        exact["capacity_based"] = a + cap
    table = pd.DataFrame({"site": frame[site].to_numpy(), "enrolled": a, "milestone": m, "target": big,
                          "realised_pct": 100 * a / m})
    total = {"site": "total", "enrolled": a.sum(), "milestone": m.sum(), "target": big.sum(),
             "realised_pct": 100 * a.sum() / m.sum()}
    sum_of_rounded = {}
    for name, v in exact.items():
        table[name] = round_half_up(v)
        table[f"{name}_exact"] = v
        total[name] = round_half_up(v.sum())  # sum, then round
        total[f"{name}_exact"] = v.sum()
        sum_of_rounded[name] = float(round_half_up(v).sum())
    table = pd.concat([table, pd.DataFrame([total])], ignore_index=True)
    notes = [f"{name}: total {total[name]:g} (sum then round); the rounded sites sum to {sum_of_rounded[name]:g}"
             for name in exact if sum_of_rounded[name] != total[name]]
    return TableResult("enrolment_projection", f"Projected enrolment per {site} and in total", table,
                       {"sum_of_rounded": sum_of_rounded, "models": list(exact), "notes": tuple(notes)})
