"""A balanced unit-by-period outcome matrix for synthetic control and synthetic DiD, checked."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from effekt.data import as_frame, check_columns, label, varying_groups
from effekt.errors import DataError

__all__ = ["SynthPanel", "check_synth_panel"]


@dataclass
class SynthPanel:
    """``Y[i, t]`` with units in rows (comparison units first is not assumed) and periods in columns."""

    Y: np.ndarray
    treated: np.ndarray  # bool per unit
    post: np.ndarray  # bool per period
    unit_labels: np.ndarray
    period_labels: np.ndarray
    n: int
    X: np.ndarray | None = None  # unit x covariate: pre-period means
    covariate_names: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def check_synth_panel(data: Any, *, outcome: Any, unit: Any, period: Any, treatment: Any, post: Any,
                      arms: Any = None, covariates: Any = None, missing: str = "error",
                      estimator: str, min_donors: int = 2) -> SynthPanel:
    """Check the columns and pivot them to a balanced matrix.

    ``treatment`` is the arm (0/1: the unit is treated), constant within a unit;
    ``post`` 0/1 marks the periods after the start, the same for every unit.
    """
    frame = as_frame(data)
    for role, col in (("unit", unit), ("period", period)):
        if col not in frame.columns:
            raise DataError(f"{role} column {col!r} is missing; the data have {list(frame.columns)[:20]}.")
    cols = check_columns(frame, outcome=outcome, treatment=treatment, arms=arms, blocks=unit,
                         covariates=covariates, numeric={"post": post, "period": period}, missing=missing,
                         roles={"blocks": "unit"})
    assert cols.y is not None and cols.z is not None and cols.blocks is not None and cols.block_labels is not None
    u, k = cols.blocks, len(cols.block_labels)
    per = cols.extra["period"]
    p = cols.extra["post"]
    if not np.all(np.isin(p, (0.0, 1.0))):
        raise DataError(f"post column {post!r} must hold 0 (before) and 1 (after); recode it.")
    mixed = varying_groups(cols.z.astype(float), u, k)
    if mixed.size:
        raise DataError(f"treatment column {treatment!r} must be constant within each unit of {unit!r} (the treated "
                        f"units); unit {label(cols.block_labels[mixed[0]])} changes. Use post= for the timing.")
    periods, t_idx = np.unique(per, return_inverse=True)
    T = periods.size
    cell = u * T + t_idx
    counts = np.bincount(cell, minlength=k * T).reshape(k, T)
    if counts.max() > 1:
        i, t = np.argwhere(counts > 1)[0]
        raise DataError(f"unit {label(cols.block_labels[i])} has {counts[i, t]} rows in period {label(periods[t])}; "
                        f"each unit needs one row per period (unit column {unit!r}, period column {period!r}).")
    if counts.min() == 0:
        i, t = np.argwhere(counts == 0)[0]
        who = "treated" if cols.z[u == i][0] == 1 else "comparison"
        missing_n = int((counts[i] == 0).sum())
        raise DataError(
            f"the {who} unit {label(cols.block_labels[i])} has no row for period {label(periods[t])} "
            f"({missing_n} period(s) missing; unit column {unit!r}, period column {period!r}); {estimator} needs a balanced panel. Impute the outcome, or drop the "
            "period (or the unit) for every unit."
        )
    post_t = np.zeros(T)
    np.add.at(post_t, t_idx, p)
    post_t = post_t / k
    if not np.all(np.isin(post_t, (0.0, 1.0))):
        bad = periods[~np.isin(post_t, (0.0, 1.0))][0]
        raise DataError(f"post column {post!r} differs between units in period {label(bad)}; the start must be the "
                        "same for every treated unit (common adoption).")
    Y = np.empty((k, T))
    Y[u, t_idx] = cols.y
    treated = np.zeros(k, dtype=bool)
    treated[u] = cols.z.astype(bool)
    post_b = post_t.astype(bool)
    if not post_b.any():
        raise DataError(f"post column {post!r} is 0 in every period: there is no period after the start.")
    if post_b.all():
        raise DataError(f"post column {post!r} is 1 in every period: the treated units have no pre-period, so "
                        "no synthetic comparison can be fitted. Include periods before the start.")
    first_post = int(np.argmax(post_b))
    if post_b[first_post:].min() == 0:
        raise DataError(f"post column {post!r} switches back to 0 after the start; post periods must come last "
                        f"(in the order of period column {period!r}).")
    n_donors = int((~treated).sum())
    if n_donors < min_donors:
        raise DataError(f"the donor pool has {n_donors} comparison unit(s); {estimator} needs at least {min_donors} "
                        "untreated units to weigh.")
    X = None
    if cols.X is not None:
        pre_rows = p == 0
        sums = np.zeros((k, cols.X.shape[1]))
        np.add.at(sums, u[pre_rows], cols.X[pre_rows])
        X = sums / np.bincount(u[pre_rows], minlength=k)[:, None]
    return SynthPanel(Y=Y, treated=treated, post=post_b, unit_labels=cols.block_labels, period_labels=periods,
                      n=cols.n, X=X, covariate_names=list(cols.covariate_names), notes=cols.warnings())
