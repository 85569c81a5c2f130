"""Input checks shared by the panel estimators (unit, period, post, treatment, first_treated)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from effekt.data import as_frame, check_columns, check_option, describe_rows, label, varying_groups
from effekt.errors import DataError, DesignError
from effekt.errors import warn as _warn
from effekt_did._absorb import codes_of

__all__ = ["Panel", "check_panel", "warn", "FEW_TREATED_CLUSTERS", "check_aggregation",
           "check_unit_column"]

#: below this many treated clusters the few-cluster warning is given
#: (MacKinnon & Webb 2017 find CR1 t-tests over-reject badly below about 20)
FEW_TREATED_CLUSTERS = 20


def warn(message: str) -> None:
    """An EffektWarning pointing at the user's line."""
    _warn(message)


@dataclass
class Panel:
    """Checked panel columns as arrays."""

    n: int
    y: np.ndarray
    unit: np.ndarray  # codes 0..n_units-1
    unit_labels: np.ndarray
    time: np.ndarray  # codes 0..n_times-1 (sorted by time value)
    time_labels: np.ndarray
    d: np.ndarray | None = None  # 0/1 treatment indicator (treatment x post)
    group: np.ndarray | None = None  # 0/1 ever-treated
    post: np.ndarray | None = None
    cohort: np.ndarray | None = None  # first treated period (time value), 0 = never
    weights: np.ndarray | None = None
    clusters: np.ndarray | None = None
    cluster_labels: np.ndarray | None = None
    X: np.ndarray | None = None
    covariates: list[str] = field(default_factory=list)
    names: dict[str, Any] = field(default_factory=dict)
    dropped: int = 0
    is_panel: bool = True  # one row per (unit, period)
    reference_levels: dict[Any, Any] = field(default_factory=dict)

    def cluster_codes(self) -> tuple[np.ndarray, int]:
        """Cluster codes and count: ``clusters`` when given, else the units."""
        if self.clusters is not None and self.cluster_labels is not None:
            return self.clusters, len(self.cluster_labels)
        return self.unit, self.n_units

    @property
    def n_units(self) -> int:
        return len(self.unit_labels)

    @property
    def n_times(self) -> int:
        return len(self.time_labels)


def check_unit_column(frame: Any, unit: Any, missing: str, role: str = "unit") -> None:
    """Existence and missing values of the unit column, in the user's words.

    ``effekt.data.check_columns`` knows the unit only as blocks or clusters;
    checking it here first makes its errors name ``unit=``.
    """
    if not isinstance(unit, (str, int)) or isinstance(unit, bool):
        raise DataError(f"{role}= must name a column; got {unit!r}.")
    if unit not in frame.columns:
        cols = ", ".join(repr(c) for c in list(frame.columns)[:20])
        raise DataError(f"{role}={unit!r}: no such column. The data have {cols}"
                        f"{' ...' if frame.shape[1] > 20 else ''}. Check the spelling or add the column.")
    mask = frame[unit].isna().to_numpy()
    if missing == "error" and mask.any():
        raise DataError(
            f"{role} column {unit!r} has {int(mask.sum())} missing value{'s' if mask.sum() != 1 else ''} "
            f"({describe_rows(frame.index[mask])}). Nothing is dropped silently: remove or impute them, or "
            "pass missing='drop' to drop those rows and report how many."
        )


def check_panel(
    data: Any,
    *,
    outcome: Any,
    unit: Any,
    period: Any,
    treatment: Any = None,
    post: Any = None,
    first_treated: Any = None,
    arms: Any = None,
    weights: Any = None,
    clusters: Any = None,
    covariates: Sequence[Any] | str | None = None,
    missing: str = "error",
    estimator: str,
) -> Panel:
    """Check the columns of a DiD panel and return them as arrays.

    ``treatment`` is the arm (0/1 or two labels with ``arms``): the
    ever-treated group with ``post``, otherwise treated in this period.
    ``first_treated`` (staggered designs) is the first treated period, 0
    for never treated (R did's convention). ``period=None`` takes ``post``
    as the period (two-period designs).
    """
    frame = as_frame(data)
    period_role = "period" if period is not None else "post"
    period = period if period is not None else post
    if unit is None or period is None:
        raise DesignError(
            f"{estimator} needs unit= (the panel unit or group) and period= (the period column); "
            f"got unit={unit!r}, period={period!r}."
        )
    check_unit_column(frame, unit, missing)
    numeric: dict[str, Any] = {period_role: period}
    if post is not None and period_role != "post":
        numeric["post"] = post
    if first_treated is not None:
        numeric["first_treated"] = first_treated
    cols = check_columns(
        frame,
        outcome=outcome,
        treatment=treatment,
        blocks=unit,
        clusters=clusters,
        weights=weights,
        covariates=covariates,
        arms=arms,
        numeric=numeric,
        missing=missing,
        require_both_arms=treatment is not None,
        roles={"blocks": "unit"},
    )
    assert cols.y is not None and cols.blocks is not None and cols.block_labels is not None
    t_codes, t_labels = codes_of(cols.extra[period_role])
    panel = Panel(
        n=cols.n,
        y=cols.y,
        unit=cols.blocks.astype(np.intp),
        unit_labels=cols.block_labels,
        time=t_codes,
        time_labels=t_labels,
        weights=cols.weights,
        X=cols.X,
        covariates=list(cols.covariate_names or cols.covariates),
        names={"outcome": outcome, "unit": unit, "period": period, "treatment": treatment, "post": post,
               "first_treated": first_treated},
        dropped=cols.dropped,
        reference_levels=dict(cols.reference_levels),
    )
    cell = panel.unit * panel.n_times + panel.time
    panel.is_panel = bool(np.bincount(cell).max() <= 1)
    if clusters is not None:
        assert cols.clusters is not None
        panel.clusters, panel.cluster_labels = cols.clusters.astype(np.intp), cols.cluster_labels
    if post is not None:
        p = cols.extra["post"]
        bad = ~np.isin(p, (0.0, 1.0))
        if bad.any():
            raise DataError(
                f"post column {post!r} must hold 0 (before) and 1 (after); it holds "
                f"{np.unique(p[bad])[:5].tolist()} in {int(bad.sum())} rows. Recode it."
            )
        if p.min() == p.max():
            raise DataError(
                f"post column {post!r} is {int(p[0])} in every row; a DiD needs rows before (0) "
                "and after (1) the start."
            )
        panel.post = p.astype(np.int8)
    if first_treated is not None:
        g = cols.extra["first_treated"]
        panel.cohort = g
        _check_constant_within_unit(g, panel, "first_treated", first_treated, "first treated period")
    if treatment is not None:
        assert cols.z is not None
        z = cols.z.astype(np.int8)
        if post is not None:
            _check_constant_within_unit(z, panel, "treatment", treatment, "treatment group")
            panel.group = z
            assert panel.post is not None
            panel.d = (z * panel.post).astype(np.int8)
        else:
            panel.d = z
    return panel


def _check_constant_within_unit(v: np.ndarray, panel: Panel, role: str, column: Any, what: str) -> None:
    bad = varying_groups(v, panel.unit, panel.n_units)
    if bad.size:
        shown = ", ".join(label(u) for u in panel.unit_labels[bad[:5]])
        raise DataError(
            f"{role} column {column!r} is the {what} and must be constant within each unit of "
            f"{panel.names['unit']!r}, but {bad.size} unit(s) have more than one value ({shown}"
            f"{', ...' if bad.size > 5 else ''}). Give each unit one value"
            + ("; for a treatment that switches on, pass post= or use first_treated=." if role == "treatment"
               else ".")
        )


def check_aggregation(aggregation: str | None, panel: Panel, estimator: str) -> str:
    """Resolve citizen- or cluster-weighted aggregation for repeated cross-sections.

    ``"citizen"``: every row counts with its weight (pooled effects are
    citizen-weighted). ``"cluster"``: every (unit, period) cell carries the
    same total weight, so each unit counts equally whatever its size.
    """
    if aggregation is None:
        if panel.is_panel:
            return "citizen"
        raise DesignError(
            f"{estimator}: the data are repeated cross-sections (several rows per "
            f"{panel.names['unit']!r} and {panel.names['period']!r} cell), so the pooled effect "
            "depends on how rows are weighted. Choose explicitly: aggregation='citizen' (each row "
            "counts, a citizen-weighted effect) or aggregation='cluster' (each unit-period cell "
            "counts equally)."
        )
    check_option(aggregation, "aggregation", ("citizen", "cluster"))
    return aggregation


def cell_weights(panel: Panel) -> np.ndarray:
    """Weights giving each (unit, time) cell total weight 1 (within-cell shares kept)."""
    w = panel.weights if panel.weights is not None else np.ones(panel.n)
    cell = panel.unit * panel.n_times + panel.time
    tot = np.bincount(cell, weights=w)
    assert w is not None
    return w / tot[cell]  # type: ignore[no-any-return]
