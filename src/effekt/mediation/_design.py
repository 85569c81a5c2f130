"""Input checks and design matrices shared by the mediation estimators.

The mediator model regresses the mediator on an intercept, the treatment,
the covariates and block indicators; the outcome model regresses the outcome
on an intercept, the treatment, the mediator, optionally their product, the
covariates and block indicators. Blocks enter as indicators (one per block
but the first) rather than being absorbed, because the logit and probit
working models have no within transformation and every unit's potential
outcomes need its own block effect.

When ``clusters`` is given and the mediator is constant within every cluster
(a municipality's fidelity score, a job centre's caseload), the mediator is a
cluster-level variable: its model is fitted on one row per cluster (the
cluster's treatment, the cluster means of the covariates, its block), as R's
``mediate()`` does with a group-level mediator model, and each unit's
potential mediator is its cluster's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from effekt.data import (
    Columns,
    as_frame,
    check_columns,
    check_groups_have_both_arms,
    check_option,
    describe_rows,
    label,
)
from effekt.errors import DataError, DesignError
from effekt.mediation._glm import FAMILIES


@dataclass
class Problem:
    """The checked data of one mediation analysis, as arrays."""

    cols: Columns
    y: np.ndarray
    m: np.ndarray  # mediator, one value per mediator-model row
    z: np.ndarray  # treatment per unit
    w: np.ndarray  # unit weights (ones when none are given)
    W: np.ndarray  # mediator-model design (rows: units, or clusters for a cluster-level mediator)
    X: np.ndarray  # outcome-model design, one row per unit
    w_m: np.ndarray  # mediator-model weights
    m_names: tuple[str, ...]
    y_names: tuple[str, ...]
    m_z: int
    y_z: int
    y_m: int
    y_zm: int | None
    mediator_level: str  # "unit" or "cluster"
    unit_to_m_row: np.ndarray | None  # cluster index of each unit when the mediator is cluster-level
    design: str
    m_family: str
    y_family: str
    names: dict[str, Any] = field(default_factory=dict)

    @property
    def W_units(self) -> np.ndarray:
        """The mediator design expanded to one row per unit."""
        return self.W if self.unit_to_m_row is None else self.W[self.unit_to_m_row]

    def zeroed(self) -> tuple[np.ndarray, np.ndarray]:
        """(W0, X0): the unit-level designs with treatment/mediator/product columns zeroed."""
        W0 = self.W_units.copy()
        W0[:, self.m_z] = 0.0
        X0 = self.X.copy()
        X0[:, [self.y_z, self.y_m] + ([self.y_zm] if self.y_zm is not None else [])] = 0.0
        return W0, X0


def _binary_column(values: np.ndarray, column: Any, role: str, family: str, index: Any) -> None:
    bad = ~np.isin(values, (0.0, 1.0))
    if bad.any():
        found = ", ".join(f"{v:g}" for v in np.unique(values[bad])[:5])
        raise DataError(
            f"{role} column {column!r} must hold 0 and 1 for a {family} {role} model; it holds "
            f"{found} in {describe_rows(np.asarray(index)[bad])}. Recode it, or use "
            f"{role}_model='linear'."
        )
    if np.all(values == values[0]):
        raise DataError(
            f"{role} column {column!r} is {values[0]:g} in every row, so a {family} model cannot "
            "be fitted. Check the column or the rows selected."
        )


def prepare(
    data: Any,
    *,
    outcome: Any,
    treatment: Any,
    mediator: Any,
    covariates: Any,
    blocks: Any,
    clusters: Any,
    weights: Any,
    mediator_model: str,
    outcome_model: str,
    interaction: bool,
    arms: Any,
    missing: str,
    estimator: str,
) -> Problem:
    """Check the input and build both design matrices."""
    check_option(mediator_model, "mediator_model", FAMILIES)
    check_option(outcome_model, "outcome_model", FAMILIES)
    if not isinstance(interaction, (bool, np.bool_)):
        raise DesignError(f"interaction must be True or False; got {interaction!r}.")
    if mediator is None:
        raise DesignError(f"{estimator} needs mediator=, the column of the mediator.")
    if mediator in (outcome, treatment):
        raise DesignError(
            f"mediator={mediator!r} is also the {'outcome' if mediator == outcome else 'treatment'}; "
            "the mediator must be a separate column measured after treatment and before the outcome."
        )
    data = as_frame(data)
    cols = check_columns(
        data,
        outcome=outcome,
        treatment=treatment,
        blocks=blocks,
        clusters=clusters,
        weights=weights,
        covariates=covariates,
        numeric={"mediator": mediator},
        arms=arms,
        missing=missing,
    )
    assert cols.y is not None and cols.z is not None
    y = cols.y
    m_unit = cols.extra["mediator"]
    z = cols.z.astype(float)
    n = cols.n
    w = cols.weights if cols.weights is not None else np.ones(n)
    index = cols.index if cols.index is not None else np.arange(n)
    if mediator_model != "linear":
        _binary_column(m_unit, mediator, "mediator", mediator_model, index)
    if outcome_model != "linear":
        _binary_column(y, outcome, "outcome", outcome_model, index)
    if np.all(m_unit == m_unit[0]):
        raise DataError(
            f"mediator column {mediator!r} is {m_unit[0]:g} in every row; a constant cannot "
            "mediate anything. Check the column or the rows selected."
        )
    if cols.blocks is not None:
        assert cols.block_labels is not None
        check_groups_have_both_arms(cols.blocks, cols.block_labels, cols.z, role="block", column=blocks)
        k_blocks = len(cols.block_labels)
        B = np.zeros((n, max(k_blocks - 1, 0)))
        if k_blocks > 1:
            rows = np.flatnonzero(cols.blocks > 0)
            B[rows, cols.blocks[rows] - 1] = 1.0
        b_names = tuple(f"block[{lab}]" for lab in cols.block_labels[1:])
    else:
        B = np.zeros((n, 0))
        b_names = ()
    Xc = cols.X if cols.X is not None else np.zeros((n, 0))
    c_names = tuple(cols.covariate_names) if cols.covariate_names else tuple(str(c) for c in cols.covariates)

    # is the mediator a cluster-level variable?
    mediator_level = "unit"
    unit_to_m_row = None
    if cols.clusters is not None:
        g = cols.clusters
        _, first = np.unique(g, return_index=True)  # first row of each cluster (codes 0..G-1)
        G = first.size
        if G < 2:
            raise DataError(
                f"clusters column {clusters!r} holds a single cluster ({label(cols.cluster_labels[0]) if cols.cluster_labels is not None else 0}); a "
                "cluster-robust variance needs at least 2 clusters (and few clusters give unreliable "
                "standard errors). Leave clusters= out if units were randomised individually."
            )
        # a cluster-level mediator: constant within every cluster, and some cluster has two or
        # more units (with singleton clusters every column is "constant within clusters")
        constant = bool(np.all(m_unit == m_unit[first[g]])) and bool(np.any(np.bincount(g) > 1))
        if constant:
            mediator_level = "cluster"
            unit_to_m_row = g
            if not np.all(z == z[first[g]]):
                bad = np.flatnonzero(z != z[first[g]])
                labels = cols.cluster_labels if cols.cluster_labels is not None else np.arange(G)
                raise DesignError(
                    f"mediator {mediator!r} is constant within each cluster of {clusters!r}, so it "
                    "is a cluster-level mediator, but the treatment varies within cluster "
                    f"{labels[g[bad[0]]]!r} ({describe_rows(np.asarray(index)[bad])}). "
                    "A cluster-level mediator needs a cluster-level treatment; with individual "
                    "treatment, measure the mediator per unit."
                )
            if G < 4:
                raise DesignError(
                    f"a cluster-level mediator needs at least 4 clusters to fit its model; "
                    f"{clusters!r} has {G}."
                )
    if mediator_level == "cluster":
        assert unit_to_m_row is not None
        G = int(unit_to_m_row.max()) + 1
        size = np.bincount(unit_to_m_row, minlength=G).astype(float)
        zc = np.bincount(unit_to_m_row, weights=z, minlength=G) / size
        mc = np.bincount(unit_to_m_row, weights=m_unit, minlength=G) / size
        Xcl = np.column_stack(
            [np.bincount(unit_to_m_row, weights=Xc[:, j], minlength=G) / size for j in range(Xc.shape[1])]
        ) if Xc.shape[1] else np.zeros((G, 0))
        if B.shape[1]:
            Bcl = np.column_stack(
                [np.bincount(unit_to_m_row, weights=B[:, j], minlength=G) / size for j in range(B.shape[1])]
            )
            if not np.all((Bcl == 0) | (Bcl == 1)):
                raise DesignError(
                    f"clusters of {clusters!r} cut across blocks of {blocks!r}; with a cluster-level "
                    "mediator every cluster must lie within one block."
                )
        else:
            Bcl = np.zeros((G, 0))
        W = np.column_stack([np.ones(G), zc, Xcl, Bcl])
        m = mc
        w_m = np.ones(G)
    else:
        W = np.column_stack([np.ones(n), z, Xc, B])
        m = m_unit
        w_m = w
    m_names = ("(Intercept)", str(treatment), *c_names, *b_names)
    zm = [z * m_unit] if interaction else []
    X = np.column_stack([np.ones(n), z, m_unit, *zm, Xc, B])
    y_names = (
        "(Intercept)",
        str(treatment),
        str(mediator),
        *((f"{treatment}:{mediator}",) if interaction else ()),
        *c_names,
        *b_names,
    )
    # the vocabulary's design codes
    if cols.blocks is not None and cols.clusters is not None:
        design = "block_clustered"
    elif cols.blocks is not None:
        design = "blocked"
    elif cols.clusters is not None:
        design = "clustered"
    else:
        design = "simple"
    return Problem(
        cols=cols,
        y=y,
        m=m,
        z=z,
        w=w,
        W=W,
        X=X,
        w_m=w_m,
        m_names=m_names,
        y_names=y_names,
        m_z=1,
        y_z=1,
        y_m=2,
        y_zm=3 if interaction else None,
        mediator_level=mediator_level,
        unit_to_m_row=unit_to_m_row,
        design=design,
        m_family=mediator_model,
        y_family=outcome_model,
        names={"outcome": outcome, "treatment": treatment, "mediator": mediator},
    )
