"""Input checks shared by the panel estimators (unit, time, post, treatment)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from effekt.data import as_frame, check_columns, check_option, varying_groups
from effekt.errors import DataError, DesignError, EffektWarning
from effekt_did._absorb import codes_of

__all__ = ["Panel", "check_panel", "warn", "FEW_TREATED_CLUSTERS", "check_aggregation"]

#: below this many treated clusters the few-cluster warning is given
#: (MacKinnon & Webb 2017 find CR1 t-tests over-reject badly below about 20)
FEW_TREATED_CLUSTERS = 20


def warn(message: str) -> None:
    warnings.warn(message, EffektWarning, stacklevel=4)


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
    is_panel: bool = True  # one row per (unit, time)

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


def check_panel(
    data: Any,
    *,
    outcome: Any,
    unit: Any,
    time: Any,
    treatment: Any = None,
    post: Any = None,
    staggered: bool = False,
    weights: Any = None,
    clusters: Any = None,
    covariates: Sequence[Any] | str | None = None,
    missing: str = "error",
    estimator: str,
) -> Panel:
    """Check the columns of a DiD panel and return them as arrays.

    ``treatment`` is a 0/1 column (ever treated, or treated in this period
    when ``post`` is not given); with ``staggered=True`` it is the first
    treated period, 0 for never treated (R did's convention).
    """
    frame = as_frame(data)
    if unit is None or time is None:
        raise DesignError(
            f"{estimator} needs unit= (the panel unit or group) and time= (the period column); "
            f"got unit={unit!r}, time={time!r}."
        )
    numeric: dict[str, Any] = {"time": time}
    if post is not None:
        numeric["post"] = post
    if staggered and treatment is not None:
        numeric["cohort"] = treatment
    cols = check_columns(
        frame,
        outcome=outcome,
        treatment=None if staggered else treatment,
        blocks=unit,
        clusters=clusters,
        weights=weights,
        covariates=covariates,
        numeric=numeric,
        missing=missing,
        require_both_arms=treatment is not None and not staggered,
    )
    assert cols.y is not None and cols.blocks is not None and cols.block_labels is not None
    t_codes, t_labels = codes_of(cols.extra["time"])
    panel = Panel(
        n=cols.n,
        y=cols.y,
        unit=cols.blocks.astype(np.intp),
        unit_labels=cols.block_labels,
        time=t_codes,
        time_labels=t_labels,
        weights=cols.weights,
        X=cols.X,
        covariates=list(cols.covariates),
        names={"outcome": outcome, "unit": unit, "time": time, "treatment": treatment, "post": post},
        dropped=cols.dropped,
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
    if staggered:
        if treatment is not None:
            g = cols.extra["cohort"]
            panel.cohort = g
            _check_constant_within_unit(g, panel.unit, panel.n_units, treatment, "first treated period")
    elif treatment is not None:
        assert cols.z is not None
        z = cols.z.astype(np.int8)
        if post is not None:
            _check_constant_within_unit(z, panel.unit, panel.n_units, treatment, "treatment group")
            panel.group = z
            assert panel.post is not None
            panel.d = (z * panel.post).astype(np.int8)
        else:
            panel.d = z
    return panel


def _check_constant_within_unit(v: np.ndarray, unit: np.ndarray, n_units: int, column: Any, what: str) -> None:
    bad = varying_groups(v, unit, n_units)
    if bad.size:
        raise DataError(
            f"treatment column {column!r} is the {what} and must be constant within each unit, "
            f"but {bad.size} unit(s) have more than one value (unit codes {bad[:5].tolist()}). "
            "Give each unit one value; for a treatment that switches on, pass post= or use the "
            "first-treated period."
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
            f"{panel.names['unit']!r} and {panel.names['time']!r} cell), so the pooled effect "
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
