"""Horvitz-Thompson estimator of the average treatment effect.

Estimand: the sample average treatment effect, weighting each observed
outcome by the inverse of its probability of being observed in its arm.

Formula (Aronow & Middleton 2013, eq. 3), with ``pi_i`` unit i's
probability of treatment, ``N`` units and ``Y1_i = y_i / pi_i`` (treated),
``Y0_i = y_i / (1 - pi_i)`` (control):

    tau = (sum_treated Y1_i - sum_control Y0_i) / N

In cluster designs ``y`` is replaced by cluster totals and ``pi`` by the
cluster's probability (still divided by the number of units ``N``).

Variance: Aronow & Middleton's conservative estimator, bounding the
unidentified covariance of the two potential outcomes by Young's
inequality (estimatr's ``se_type="youngs"``):

    N^2 V = sum_T Y1^2 + sum_C Y0^2
            + sum_{i != j in T} Y1_i Y1_j (p11 - pi^2) / p11
            + sum_{i != j in C} Y0_i Y0_j (p00 - (1 - pi)^2) / p00
            - 2 sum_{i in T, j in C} Y1_i Y0_j (p10 - pi (1 - pi)) / p10

with the joint probabilities of complete randomisation of ``m`` of ``n``
units (or clusters) in a block, ``p11 = m(m-1)/(n(n-1))``,
``p00 = (n-m)(n-m-1)/(n(n-1))``, ``p10 = m(n-m)/(n(n-1))``; under simple
(Bernoulli) randomisation the joint terms vanish. Blocks combine as
``tau = sum_b (N_b/N) tau_b``, ``V = sum_b (N_b/N)^2 V_b``. The reference
distribution is the normal.

Defaults and why: probabilities from the ``assignment`` (the design's own)
or a ``probabilities`` column; otherwise the realised share treated per
block. The design is complete within blocks when blocks are given or the
assignment's permutations keep the number treated per block fixed, simple
otherwise, as in estimatr.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from effekt.data import as_frame, check_columns, check_groups_have_both_arms, label
from effekt.errors import DataError, DesignError, EstimationError
from effekt.estimators._model import _from_assignment
from effekt.protocol import EstimatorTags
from effekt.result import EffectResult
from effekt.vocabulary import Choice, Constraint, validated

__all__ = ["HorvitzThompson", "ht_block"]


def ht_block(
    y: np.ndarray, z: np.ndarray, pi: np.ndarray, n_units: int, *, simple: bool, se_type: str = "youngs"
) -> tuple[float, float]:
    """HT estimate and variance of one block: Young's-inequality bound, or under a constant effect.

    ``se_type="constant"`` imputes the missing potential outcomes with the
    block's estimate (``y0 = y - z tau``, ``y1 = y0 + tau``) and returns
    the design variance of the estimator, ``a' Cov(z) a / N^2`` with
    ``a = y1 / pi + y0 / (1 - pi)``; under complete randomisation of
    ``m`` of ``n`` this is ``S0^2 (1/m + 1/(n - m))``, the Neyman variance
    with a common ``S^2``.

    ``y``, ``z``, ``pi`` are per randomisation unit (cluster totals in
    cluster designs); ``n_units`` is the number of rows the block holds.
    Under complete randomisation ``pi`` must be the block's share treated.

    >>> est, var = ht_block(np.array([2.0, 4, 3, 7]), np.array([0, 1, 0, 1]), np.full(4, 0.5), 4, simple=True)
    >>> est, round(var, 4)    # ((4 + 7) / 0.5 - (2 + 3) / 0.5) / 4 and (8^2 + 14^2 + 4^2 + 6^2) / 16
    (3.0, 19.5)
    """
    t, c = z == 1, z == 0
    shift = 0.0
    if not simple and y.size and y.size == n_units:
        # Under complete randomisation of single units the estimate and both variances are
        # invariant to adding a constant to y: centre it first, so that sums of
        # squares do not lose the digits of a large level (an outcome near 1e9).
        shift = float(y.mean())
        y = y - shift
    Y1 = y[t] / pi[t]
    Y0 = y[c] / (1.0 - pi[c])
    est = (Y1.sum() - Y0.sum()) / n_units
    if shift:
        est += shift * ((1.0 / pi[t]).sum() - (1.0 / (1.0 - pi[c])).sum()) / n_units
    if se_type == "constant":
        return float(est), _constant_variance(y, z, pi, n_units, float(est), simple=simple)
    var = (Y1**2).sum() + (Y0**2).sum()
    if not simple:
        n = y.size
        m = int(t.sum())
        p = m / n
        p11 = m * (m - 1) / (n * (n - 1))
        p00 = (n - m) * (n - m - 1) / (n * (n - 1))
        p10 = m * (n - m) / (n * (n - 1))
        if p11 > 0:
            var += (Y1.sum() ** 2 - (Y1**2).sum()) * (p11 - p * p) / p11
        if p00 > 0:
            var += (Y0.sum() ** 2 - (Y0**2).sum()) * (p00 - (1 - p) ** 2) / p00
        var -= 2.0 * Y1.sum() * Y0.sum() * (p10 - p * (1 - p)) / p10
    return float(est), float(var) / n_units**2


def _constant_variance(y: np.ndarray, z: np.ndarray, pi: np.ndarray, n_units: int, tau: float, *, simple: bool,
                       rows: np.ndarray | None = None) -> float:
    r = np.ones_like(y) if rows is None else rows
    y0 = y - z * tau * r
    y1 = y0 + tau * r
    a = y1 / pi + y0 / (1.0 - pi)
    if simple:
        quad = float(np.sum(pi * (1.0 - pi) * a**2))
    else:
        n, m = y.size, int(z.sum())
        p = m / n
        p11 = m * (m - 1) / (n * (n - 1))
        quad = float(p * (1 - p) * np.sum(a**2) + (p11 - p * p) * (a.sum() ** 2 - np.sum(a**2)))
    return quad / n_units**2


class HorvitzThompson:
    """Horvitz-Thompson (inverse-probability) estimator of the ATE.

    Estimand: the sample average treatment effect.

    Formula: ``(sum_T y/pi - sum_C y/(1 - pi)) / N`` (see the module notes
    for clusters, blocks and the variance).

    Defaults and why: the design's probabilities when an ``assignment``
    is given (HT is unbiased only with the true ones); complete
    randomisation within blocks when blocks are known, simple otherwise;
    Young's-inequality variance, conservative for any effect heterogeneity.

    Parameters
    ----------
    data : DataFrame
    outcome : str
        Outcome column.
    treatment : str, default=None
        0/1 column (bool, or a categorical/object column holding 0/1), or
        labels declared with ``arms``; or take it from ``assignment``.
    arms : (control, treated), default=None
        The treatment's two labels, the control first.
    assignment : Assignment, default=None
        From :mod:`effekt.design`: treatment, blocks, clusters and
        ``prob_treated`` (rows of ``data`` are its units, in order).
    probabilities : str, default=None
        Column of each unit's probability of treatment.
    blocks : str, default=None
        Randomisation blocks.
    clusters : str, default=None
        Clusters of assignment.
    simple : bool, default=None
        Force simple (True) or complete (False) randomisation.
    se_type : {"youngs", "constant"}, default=None
        None gives ``"youngs"``: Aronow & Middleton's bound, conservative
        for any effect heterogeneity, in every design. ``"constant"``
        assumes a constant effect (estimatr's name): the design variance
        with the missing potential outcomes imputed; smaller, and correct
        only when effects do not vary. Both apply to simple, complete,
        blocked and clustered designs.
    alpha : float, default=0.05
        Intervals are at ``1 - alpha``.
    missing : {"error", "drop"}, default="error"
        ``"drop"`` drops rows with a missing value and says how many.

    Returns
    -------
    EffectResult
        ``se_type`` "youngs" or "constant", ``df=None`` (normal); ``n``
        counts rows and ``n_clusters`` clusters; ``extra``:
        ``randomisation`` ("simple" or "complete") and ``n_blocks``.

    Raises
    ------
    DataError
        Missing columns or values; probabilities outside (0, 1) or varying
        within a cluster; a cluster in both arms; a block with one arm.
    DesignError
        Probabilities that vary within a block of a complete design (its
        joint probabilities are then unknown); assignment and columns both.
    EstimationError
        A block with a single randomisation unit.

    Notes
    -----
    estimatr's ``horvitz_thompson`` gives the same estimate and standard
    error for simple, complete, blocked and clustered designs; its
    ``condition_pr_mat`` for arbitrary designs has no counterpart here. A
    design whose number treated per block varies between draws (e.g. odd
    blocks whose extra unit is assigned at random) is neither: with an
    ``assignment`` it is analysed as simple (independent assignment), whose
    joint probabilities only approximate its own.

    References
    ----------
    Horvitz & Thompson (1952), JASA 47(260), 663-685.
    Aronow & Middleton (2013), A class of unbiased estimators of the average
    treatment effect in randomized experiments, J. Causal Inference 1(1),
    135-154, doi:10.1515/jci-2012-0009 (eq. 3; Young's inequality bound, section 3.3).

    Examples
    --------
    >>> import pandas as pd
    >>> import effekt as ef
    >>> df = pd.DataFrame({"y": [2.0, 4, 3, 7, 8, 6], "z": [0, 0, 0, 1, 1, 1], "p": 0.5})
    >>> res = ef.estimate("horvitz_thompson", data=df, outcome="y", treatment="z", probabilities="p")
    >>> res.estimate, res.se_type
    (4.0, 'youngs')
    """

    name: ClassVar[str] = "horvitz_thompson"
    estimand: ClassVar[str] = "ate"
    kind: ClassVar[str] = "itt"
    tags: ClassVar[EstimatorTags] = EstimatorTags(supports_blocks=True, supports_clusters=True)
    options: ClassVar[dict[str, Constraint]] = {"se_type": Choice(("youngs", "constant"), none_ok=True)}

    @validated
    def fit(
        self,
        data: Any,
        *,
        outcome: Any,
        treatment: Any = None,
        arms: tuple[Any, Any] | None = None,
        assignment: Any = None,
        probabilities: Any = None,
        blocks: Any = None,
        clusters: Any = None,
        simple: bool | None = None,
        se_type: str | None = None,
        alpha: float = 0.05,
        missing: str = "error",
    ) -> EffectResult:
        se_type = se_type or "youngs"
        frame = as_frame(data)
        pi_from_design = None
        if assignment is not None:
            frame, treatment, blocks, clusters = _from_assignment(frame, assignment, treatment, blocks, clusters)
            pi_from_design = np.asarray(assignment.prob_treated, dtype=float)
            if probabilities is None:
                frame = frame.assign(__prob__=pi_from_design)
                probabilities = "__prob__"
            if simple is None:
                simple = _simple_from_assignment(assignment)
        if treatment is None:
            raise DesignError("horvitz_thompson needs treatment= (a column) or assignment=.")
        numeric = {"probabilities": probabilities} if probabilities is not None else None
        c = check_columns(frame, outcome=outcome, treatment=treatment, blocks=blocks, clusters=clusters,
                          numeric=numeric, missing=missing, arms=arms)
        assert c.y is not None and c.z is not None
        if c.blocks is not None:
            check_groups_have_both_arms(c.blocks, c.block_labels, c.z, role="block", column=blocks)  # type: ignore[arg-type]
        if simple is None:
            simple = c.blocks is None
        n = c.n
        unit = np.arange(n) if c.clusters is None else c.clusters
        n_units = int(unit.max()) + 1
        y_u = np.bincount(unit, weights=c.y, minlength=n_units)
        rows_u = np.bincount(unit, minlength=n_units)
        z_u = _constant_within(unit, c.z.astype(float), n_units, "treatment", treatment, c.cluster_labels)
        b_rows = np.zeros(n, dtype=np.int64) if c.blocks is None else c.blocks
        b_u = _constant_within(unit, b_rows.astype(float), n_units, "blocks", blocks, c.cluster_labels).astype(np.int64)
        if probabilities is not None:
            pi_rows = c.extra["probabilities"]
            bad = (pi_rows <= 0) | (pi_rows >= 1)
            if bad.any():
                raise DataError(
                    f"probabilities column {probabilities!r} must lie strictly between 0 and 1; it holds "
                    f"{pi_rows[bad][0]:g} in {int(bad.sum())} row(s). A unit that could not be in one arm "
                    "has no Horvitz-Thompson weight there: drop it and say why."
                )
            pi_u = _constant_within(unit, pi_rows, n_units, "probabilities", probabilities, c.cluster_labels)
        else:
            share = np.bincount(b_u, weights=z_u) / np.bincount(b_u)
            pi_u = share[b_u]
        n_blocks = int(b_u.max()) + 1
        est = var = 0.0
        for b in range(n_blocks):
            sel = b_u == b
            if sel.sum() < 2:
                raise EstimationError(
                    f"block {label(c.block_labels[b]) if c.block_labels is not None else b} has a single "
                    "randomisation unit; its variance cannot be estimated. Merge it with another block."
                )
            if not simple and np.ptp(pi_u[sel]) > 1e-12:
                raise DesignError(
                    "probabilities vary within a block of a completely randomised design, whose joint "
                    "probabilities are then unknown; pass simple=True if units were randomised independently, "
                    "or give blocks= within which the probability is constant."
                )
            if not simple and abs(pi_u[sel][0] - z_u[sel].mean()) > 1e-9:
                raise DesignError(
                    f"under complete randomisation the probability of treatment ({pi_u[sel][0]:g}) must equal "
                    f"the share treated in the block ({z_u[sel].mean():g}); check the probabilities, or pass "
                    "simple=True for independent assignment."
                )
            nb = int(rows_u[sel].sum())
            if se_type == "constant":
                e_b, _ = ht_block(y_u[sel], z_u[sel], pi_u[sel], nb, simple=simple)
                v_b = _constant_variance(y_u[sel], z_u[sel], pi_u[sel], nb, e_b, simple=simple,
                                         rows=rows_u[sel].astype(float))
            else:
                e_b, v_b = ht_block(y_u[sel], z_u[sel], pi_u[sel], nb, simple=simple)
            est += nb / n * e_b
            var += (nb / n) ** 2 * v_b
        if var <= 0:
            raise EstimationError("the Horvitz-Thompson variance estimate is not positive; check the outcome "
                                  f"column {outcome!r}.")
        design = "clustered" if c.clusters is not None else "simple"
        if c.blocks is not None:
            design = "block_clustered" if c.clusters is not None else "blocked"
        return EffectResult.from_z(
            est, float(np.sqrt(var)), alpha=alpha, estimator=self.name, estimand=self.estimand,
            term=str(treatment), outcome=str(outcome), n=n, n_treated=c.n_treated, n_control=c.n_control,
            se_type=se_type, design=design, warnings=c.warnings(),
            n_clusters=None if c.cluster_labels is None else len(c.cluster_labels),
            extra={"randomisation": "simple" if simple else "complete", "n_blocks": n_blocks},
        )


def _constant_within(unit: np.ndarray, values: np.ndarray, k: int, role: str, column: Any, labels: Any) -> np.ndarray:
    out = np.zeros(k)
    out[unit] = values
    bad = np.flatnonzero(np.abs(out[unit] - values) > 1e-12)
    if bad.size:
        cl = unit[bad[0]]
        name = label(labels[cl]) if labels is not None else cl
        raise DataError(
            f"{role} column {column!r} varies within cluster {name}; in a cluster design every unit of a "
            "cluster shares its arm, block and probability. Check the columns."
        )
    return out


def _simple_from_assignment(assignment: Any) -> bool:
    """Simple unless the design's permutations keep the number treated per block."""
    if getattr(assignment, "design", None) == "simple":
        return True
    from effekt.estimators.ri import _draw_from

    draws = _draw_from(assignment, 20, 0)
    blocks = getattr(assignment, "blocks", None)
    b = np.zeros(draws.shape[0], dtype=np.int64) if blocks is None else pd.factorize(np.asarray(blocks))[0]
    counts = np.stack([draws[b == g].sum(axis=0) for g in np.unique(b)])
    return not bool(np.all(counts == counts[:, :1]))
