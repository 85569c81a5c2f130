"""Difference in means for randomised designs, with the design inferred.

The design follows from what is passed, as in estimatr:

============================  ===================  ==============================
arguments                     ``design``           variance, degrees of freedom
============================  ===================  ==============================
neither blocks nor clusters   ``simple``           Neyman (= HC2); Welch df
clusters                      ``clustered``        CR2; Bell-McCaffrey df
blocks, every arm >= 2        ``blocked``          sum of per-block Neyman; N - 2B
blocks, all of size 2         ``paired``           Gerber & Green eq. 3.16; B - 1
blocks, some with one unit    ``blocked``          Pashley & Miratrix hybrid; see Notes
in an arm                     (``se_type``
                              ``"HC2+hybrid_m"``)
blocks and clusters           ``block_clustered``  per-block CR2; C - 2B
blocks of two clusters        ``matched_pair_      Imai, King & Nall eq. 6; B - 1
                              clustered``
============================  ===================  ==============================
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from effekt.data import (
    Columns,
    as_frame,
    check_columns,
    check_groups_have_both_arms,
    label,
    varying_groups,
)
from effekt.errors import DataError, DesignError
from effekt.estimators._model import _from_assignment
from effekt.protocol import EstimatorTags, Synthetic
from effekt.result import EffectResult
from effekt.sandwich import CR_TYPES, HC_TYPES, default_se_type, robust_ols
from effekt.vocabulary import Choice, Constraint, validated

__all__ = ["DifferenceInMeans"]

_SMALL_BLOCK_METHODS = ("hybrid_m", "hybrid_p")


def _arm_moments(
    y: np.ndarray, z: np.ndarray, groups: np.ndarray, k: int, w: np.ndarray | None
) -> tuple[np.ndarray, ...]:
    """Per group and arm: counts, weight totals, (weighted) means and the HC2
    variance of each mean, as ``(n1, w1, m1, v1, n0, w0, m0, v0)``.

    For arm a of group b with weights w (1 when unweighted), the HC2
    variance of the weighted mean is sum w_i^2 e_i^2 / (1 - h_i) / W^2 with
    h_i = w_i / W; unweighted this is s^2 / n, Neyman's term. A cell with a
    single unit gets variance 0 (its variance is not estimable; callers
    treat such blocks separately).
    """
    cell = groups * 2 + z
    count = np.bincount(cell, minlength=2 * k).astype(float)
    safe = np.maximum(count, 1.0)
    if w is None:
        wsum = count
        mean = np.bincount(cell, weights=y, minlength=2 * k) / safe
        ss = np.bincount(cell, weights=(y - mean[cell]) ** 2, minlength=2 * k)
        var = ss / (np.maximum(count - 1.0, 1.0) * safe) * (count > 1)
    else:
        wsum = np.bincount(cell, weights=w, minlength=2 * k)
        mean = np.bincount(cell, weights=w * y, minlength=2 * k) / np.where(wsum > 0, wsum, 1.0)
        h = w / wsum[cell]
        single = count[cell] <= 1
        term = (w * (y - mean[cell])) ** 2 / np.where(single, 1.0, 1.0 - h)
        term[single] = 0.0
        var = np.bincount(cell, weights=term, minlength=2 * k) / np.where(wsum > 0, wsum, 1.0) ** 2
    out = []
    for arm in (1, 0):
        out += [count[arm::2], wsum[arm::2], mean[arm::2], var[arm::2]]
    return tuple(out)


def _simple(y: np.ndarray, z: np.ndarray, w: np.ndarray | None) -> tuple[float, float, float]:
    """Neyman difference in means with Welch-Satterthwaite df (weighted: HC2, n - 2)."""
    groups = np.zeros(y.size, dtype=np.int64)
    n1, _, m1, v1, n0, _, m0, v0 = (a[0] for a in _arm_moments(y, z, groups, 1, w))
    se = float(np.sqrt(v1 + v0))
    if w is not None:
        return float(m1 - m0), se, float(y.size - 2)
    # Welch (1947): df = (v1 + v0)^2 / (v1^2 / (n1 - 1) + v0^2 / (n0 - 1))
    df = (v1 + v0) ** 2 / (v1**2 / (n1 - 1) + v0**2 / (n0 - 1))
    return float(m1 - m0), se, float(df)


def _block_table(c: Columns, w: np.ndarray | None) -> pd.DataFrame:
    assert c.blocks is not None and c.y is not None and c.z is not None
    k = len(c.block_labels)  # type: ignore[arg-type]
    n1, w1, m1, v1, n0, w0, m0, v0 = _arm_moments(c.y, c.z, c.blocks, k, w)
    return pd.DataFrame(
        {"n1": n1.astype(np.int64), "n0": n0.astype(np.int64), "w": w1 + w0, "tau": m1 - m0, "var": v1 + v0},
        index=pd.Index(c.block_labels, name="block"),
    )


def _pairs_variance(tau: np.ndarray, size: np.ndarray) -> float:
    """Imai, King & Nall (2009) eq. 6; Gerber & Green eq. 3.16 for equal sizes.

    Var = J / ((J - 1) N^2) * sum_j (n_j tau_j - N tau / J)^2
    """
    J = tau.size
    N = size.sum()
    tau_hat = np.sum(size * tau) / N
    return float(J / ((J - 1) * N**2) * np.sum((size * tau - N * tau_hat / J) ** 2))


def _hybrid_m(tb: pd.DataFrame) -> float:
    """Pashley & Miratrix (2021) hybrid_m: small blocks grouped by size,
    each group's variance from the spread of its blocks' effects.

    For a group S of K same-size blocks, Var(tau_S) = sum_k (tau_k - mean)^2 / (K (K - 1)),
    contributing (N_S / N)^2 Var(tau_S) to the overall variance.
    """
    total = 0.0
    size = tb["n1"] + tb["n0"]
    for s, grp in tb.groupby(size):
        K = len(grp)
        if K < 2:
            raise DesignError(
                f"block {label(grp.index[0])} is the only small block of size {int(s)} (one unit in an "
                "arm), so its variance cannot be estimated from blocks like it. Merge it with a "
                "block of the same kind, or pass small_blocks='hybrid_p', which pools small blocks "
                "of different sizes."
            )
        tau = grp["tau"].to_numpy()
        total += (K * s) ** 2 * np.sum((tau - tau.mean()) ** 2) / (K * (K - 1))
    return total


def _hybrid_p(tb: pd.DataFrame) -> float:
    """Pashley & Miratrix (2021) hybrid_p: small blocks of any size pooled.

    Var(tau_S) = sum_k c_k (tau_k - tau_S)^2 with
    c_k = n_k^2 / ((N_S - 2 n_k)(N_S + sum_j n_j^2 / (N_S - 2 n_j))), defined when
    every small block holds less than half the small-block units; returns
    N_S^2 Var(tau_S).
    """
    nk = (tb["n1"] + tb["n0"]).to_numpy()
    NS = nk.sum()
    if nk.max() >= NS / 2:
        raise DesignError(
            f"small_blocks='hybrid_p' needs every small block to hold less than half of the "
            f"{int(NS)} units in small blocks; block {label(tb.index[int(np.argmax(nk))])} holds "
            f"{int(nk.max())}. Use small_blocks='hybrid_m' or merge blocks."
        )
    tau = tb["tau"].to_numpy()
    tau_s = np.sum(nk * tau) / NS
    c = nk**2 / ((NS - 2 * nk) * (NS + np.sum(nk**2 / (NS - 2 * nk))))
    return float(NS**2 * np.sum(c * (tau - tau_s) ** 2))


class DifferenceInMeans:
    """Difference in mean outcomes between the treated and the control arm.

    Estimand: the average treatment effect (ATE) of assignment, in the
    sample, under the randomisation actually used (simple, blocked,
    clustered or both).

    Formula (blocked, Gerber & Green 2012, eq. 3.10)::

        tau = sum_b (n_b / N) * (mean(Y | Z=1, b) - mean(Y | Z=0, b))
        Var = sum_b (n_b / N)^2 * (s2_1b / n_1b + s2_0b / n_0b)

    The simple design is the one-block case with Welch's degrees of freedom.
    With ``weights`` the means and their HC2 variances are weighted, and the
    block shares are the blocks' weight totals.

    Defaults and why: the Neyman variance is conservative for the
    sample ATE and unbiased when effects are constant (Samii & Aronow 2012),
    and equals the HC2 regression variance; CR2 with Bell-McCaffrey degrees
    of freedom keeps the test's size close to nominal with few clusters
    (Pustejovsky & Tipton 2018).

    Parameters
    ----------
    data : DataFrame
    outcome : str
        Outcome column (numeric).
    treatment : str, default=None
        0/1 assignment column (bool, or a categorical/object column holding
        0/1), or two labels given by ``arms``. Not needed when
        ``assignment`` is given.
    blocks : str, default=None
        Randomisation blocks (strata, batches).
    clusters : str, default=None
        Clusters of assignment. Clusters must be nested in blocks, and every
        unit of a cluster must share its arm.
    weights : str, default=None
        Positive weights.
    assignment : effekt.design.Assignment, default=None
        Supplies treatment, blocks and clusters (rows of ``data`` are its units,
        in order). Do not also pass ``treatment``/``blocks``/``clusters``.
    arms : (control, treated), default=None
        The two labels to compare when ``treatment`` is not 0/1, the
        control first.
    se_type : str, default=None
        The variance: None gives the design's own (HC2, i.e. Neyman, for
        simple and blocked designs; CR2 with clusters). A simple design also
        takes ``"classical"``, ``"HC0"``, ``"HC1"`` or ``"HC3"`` (least
        squares of ``y`` on ``[1, z]``, ``N - 2`` df); a clustered one
        ``"CR0"``, ``"CR1"`` (``"stata"``) or ``"CR2"``. Blocked, paired and
        block-clustered designs have one variance each (asked for as
        ``"HC2"``, or ``"CR2"`` with clusters; reported as ``"HC2"``,
        ``"pairs"`` or ``"HC2+hybrid_m"``); any other choice is a DesignError.
    small_blocks : {"hybrid_m", "hybrid_p"}, default="hybrid_m"
        Variance for blocks with a single unit in an arm, when other blocks
        are larger (Pashley & Miratrix 2021).
    alpha : float, default=0.05
        Intervals are at ``1 - alpha``.
    missing : {"error", "drop"}, default="error"
        ``"drop"`` drops rows with a missing value in a used column and
        says how many.

    Returns
    -------
    EffectResult
        ``design`` is one of ``simple, clustered, blocked, paired,
        block_clustered, matched_pair_clustered`` (blocks with a single unit
        in an arm are ``blocked`` with ``se_type="HC2+hybrid_m"`` or
        ``"HC2+hybrid_p"``); ``n`` counts rows, ``n_clusters`` clusters;
        ``extra["blocks"]`` holds per-block estimates (by the user's block
        labels) for blocked designs.

    Raises
    ------
    DataError
        A missing column, non-numeric or missing outcome, treatment not 0/1,
        an empty arm, a block with only one arm, non-positive weights.
    DesignError
        Clusters that span blocks or arms; a block with a single unit overall;
        an option out of range; ``assignment`` given with design columns.

    Notes
    -----
    Degrees of freedom: simple, Welch; blocked, ``N - 2B`` (two means per
    block; this equals Lin's regression with block interactions); matched
    pairs, ``B - 1``. For a mix of small and large blocks effekt uses
    ``N_big - 2 B_big + sum_s (K_s - 1)`` over the small-block size groups,
    the same counting applied to each part. estimatr instead applies the
    matched-pair variance to every block as soon as one block has two units;
    effekt keeps the Neyman variance for the large blocks, as Pashley &
    Miratrix recommend.

    References
    ----------
    Gerber, A. S. & Green, D. P. (2012). Field Experiments. Norton. eq. 3.4,
    3.10 (p. 74), 3.16 (p. 77).
    Imai, K., King, G. & Nall, C. (2009). Statistical Science 24(1), 29-53, eq. 6.
    Pashley, N. E. & Miratrix, L. W. (2021). Insights on variance estimation
    for blocked and matched pairs designs. JEBS 46(3), 271-296.
    doi:10.3102/1076998620946272
    Samii, C. & Aronow, P. M. (2012). Statistics & Probability Letters 82(2), 365-370.

    Examples
    --------
    >>> import effekt as ef
    >>> import pandas as pd
    >>> df = pd.DataFrame({"y": [3.0, 5, 4, 8, 2, 3, 6, 9],
    ...                    "z": [0, 1, 0, 1, 0, 1, 0, 1],
    ...                    "batch": [1, 1, 1, 1, 2, 2, 2, 2]})
    >>> res = ef.estimate("difference_in_means", data=df, outcome="y",
    ...                   treatment="z", blocks="batch")
    >>> res.design, res.se_type, res.estimate
    ('blocked', 'HC2', 2.5)
    """

    options: ClassVar[dict[str, Constraint]] = {
        "se_type": Choice(HC_TYPES + CR_TYPES + ("stata",), none_ok=True),
    }

    name: ClassVar[str] = "difference_in_means"
    estimand: ClassVar[str] = "ate"
    kind: ClassVar[str] = "itt"
    tags: ClassVar[EstimatorTags] = EstimatorTags(
        outcome="continuous",
        supports_blocks=True,
        supports_clusters=True,
        supports_weights=True,
    )

    @validated
    def fit(
        self,
        data: Any,
        *,
        outcome: str,
        treatment: str | None = None,
        blocks: str | None = None,
        clusters: str | None = None,
        weights: str | None = None,
        assignment: Any = None,
        arms: tuple[Any, Any] | None = None,
        se_type: str | None = None,
        small_blocks: str = "hybrid_m",
        alpha: float = 0.05,
        missing: str = "error",
    ) -> EffectResult:
        # 1. check the input (the options were checked by @validated)
        if assignment is not None:
            data, treatment, blocks, clusters = _from_assignment(
                as_frame(data), assignment, treatment, blocks, clusters
            )
        if treatment is None:
            raise DesignError("difference_in_means needs treatment= (a column) or assignment=.")
        c = check_columns(
            data, outcome=outcome, treatment=treatment, blocks=blocks, clusters=clusters,
            weights=weights, arms=arms, missing=missing,
        )
        _check_outcome_varies(c)
        # 2. infer the design
        if c.clusters is not None:
            _check_clusters(c)
        if c.blocks is not None:
            check_groups_have_both_arms(c.blocks, c.block_labels, c.z, role="block", column=blocks)  # type: ignore[arg-type]
        # 3. estimate with that design's variance
        requested = se_type
        if c.blocks is None and c.clusters is None:
            se_type = default_se_type(se_type, False)
            design = "simple"
            for arm, count in (("treated", c.n_treated), ("control", c.n_control)):
                if count < 2:
                    raise DataError(
                        f"the {arm} arm has {count} unit; its variance, and so a standard error, "
                        "cannot be estimated. At least two units per arm are needed."
                    )
            if se_type == "HC2":
                est, se, df = _simple(c.y, c.z, c.weights)  # type: ignore[arg-type]
            else:
                X = np.column_stack([np.ones(c.n), c.z])  # type: ignore[list-item]
                fit = robust_ols(X, c.y, se_type=se_type, weights=c.weights)  # type: ignore[arg-type]
                est, se, df = float(fit.coef[1]), float(fit.std_error[1]), float(c.n - 2)
            extra: dict[str, Any] = {}
        elif c.blocks is None:
            se_type = default_se_type(se_type, True)
            design = "clustered"
            est, se, df = _clustered(c, se_type)
            extra = {}
        elif c.clusters is None:
            design, se_type, est, se, df, extra = _blocked(c, small_blocks)
        else:
            design, se_type, est, se, df, extra = _block_clustered(c)
        if requested is not None and c.blocks is not None:
            own = "CR2" if c.clusters is not None else "HC2"
            if default_se_type(requested, c.clusters is not None) != own:
                raise DesignError(
                    f"se_type={requested!r} does not apply to a {design} design, whose variance is its own "
                    f"({se_type}); leave se_type=None. The other choices apply to designs without blocks: "
                    "'classical', 'HC0'-'HC3' when simple, 'CR0', 'CR1', 'CR2' when clustered."
                )
        extra.update({"arms": list(c.arms)})
        return EffectResult.from_t(
            est, se, df, alpha=alpha,
            estimator=self.name, estimand=self.estimand,
            term="assignment" if assignment is not None else str(c.names["treatment"]),
            outcome=str(outcome), n=c.n, n_treated=c.n_treated, n_control=c.n_control,
            se_type=se_type, design=design, warnings=c.warnings(), extra=extra,
            n_clusters=None if c.cluster_labels is None else len(c.cluster_labels),
        )

    @classmethod
    def simulate(cls, rng: np.random.Generator, *, n: int = 200, effect: float = 1.0) -> Synthetic:
        """A blocked two-arm trial with heterogeneous effects averaging ``effect``
        in the sample (the sample ATE is the truth)."""
        blocks = np.repeat(np.arange(n // 20), 20)[:n]
        n = blocks.size
        y0 = rng.normal(size=n) + 0.5 * blocks
        tau = effect + rng.normal(scale=0.5, size=n)
        tau += effect - tau.mean()
        z = np.zeros(n, dtype=int)
        for b in np.unique(blocks):
            idx = np.flatnonzero(blocks == b)
            z[rng.choice(idx, size=idx.size // 2, replace=False)] = 1
        df = pd.DataFrame({"y": y0 + tau * z, "z": z, "batch": blocks})
        return Synthetic(data=df, spec={"outcome": "y", "treatment": "z", "blocks": "batch"}, truth=effect)


def _check_outcome_varies(c: Columns) -> None:
    assert c.y is not None
    if c.y.size and np.ptp(c.y) == 0.0:
        raise DataError(
            f"outcome column {c.names['outcome']!r} is constant (every row is {c.y[0]:g}); a "
            "difference in means of a constant has no variance to test. Check the outcome column."
        )


def _check_clusters(c: Columns) -> None:
    assert c.clusters is not None and c.z is not None
    k = len(c.cluster_labels)  # type: ignore[arg-type]
    mixed = varying_groups(c.z, c.clusters, k)
    if mixed.size:
        raise DesignError(
            f"cluster {label(c.cluster_labels[mixed[0]])} of column {c.names['clusters']!r} has units in "  # type: ignore[index]
            f"both arms ({mixed.size} cluster(s) do); in a cluster-randomised design every unit of "
            "a cluster shares its arm. Check the cluster column, or analyse without clusters= if "
            "units were randomised individually."
        )
    if c.blocks is not None:
        first = np.full(k, -1, dtype=np.int64)
        first[c.clusters[::-1]] = c.blocks[::-1]
        nb = first[c.clusters] != c.blocks
        if nb.any():
            i = int(np.flatnonzero(nb)[0])
            raise DesignError(
                f"cluster {label(c.cluster_labels[c.clusters[i]])} spans more than one block; clusters "  # type: ignore[index]
                "must be nested in blocks. Check the block and cluster columns."
            )


def _clustered(c: Columns, se_type: str = "CR2") -> tuple[float, float, float]:
    assert c.y is not None and c.z is not None
    X = np.column_stack([np.ones(c.n), c.z])
    fit = robust_ols(X, c.y, se_type=se_type, clusters=c.clusters, weights=c.weights, df_coefs=[1])  # type: ignore[arg-type]
    return float(fit.coef[1]), float(fit.std_error[1]), float(fit.df[1])


def _blocked(c: Columns, small_blocks: str) -> tuple[str, str, float, float, float, dict[str, Any]]:
    tb = _block_table(c, c.weights)
    size = (tb["n1"] + tb["n0"]).to_numpy()
    share = (tb["w"] / tb["w"].sum()).to_numpy()
    tau = tb["tau"].to_numpy()
    est = float(np.sum(share * tau))
    small = ((tb["n1"] == 1) | (tb["n0"] == 1)).to_numpy()
    N = size.sum()
    if np.all(size == 2):
        if c.weights is not None:
            raise DesignError("weights= with matched pairs is not supported; analyse the pairs unweighted.")
        if tb.shape[0] < 2:
            raise DesignError("one matched pair gives no variance estimate; at least two pairs are needed.")
        var = _pairs_variance(tau, size)
        design, se_type, df = "paired", "pairs", float(tb.shape[0] - 1)
    elif small.any():
        if c.weights is not None:
            raise DesignError(
                "weights= with blocks that have a single unit in an arm is not supported; merge "
                "those blocks or analyse unweighted."
            )
        big = ~small
        var_big = float(np.sum((size[big] / N) ** 2 * tb["var"].to_numpy()[big]))
        tb_small = tb[small]
        raw = _hybrid_m(tb_small) if small_blocks == "hybrid_m" else _hybrid_p(tb_small)
        var = var_big + raw / N**2
        groups = (tb_small["n1"] + tb_small["n0"]).value_counts()
        df_small = float((groups - 1).sum()) if small_blocks == "hybrid_m" else float(small.sum() - 1)
        df = float(size[big].sum() - 2 * big.sum()) + df_small
        design, se_type = "blocked", f"HC2+{small_blocks}"
    else:
        var = float(np.sum(share**2 * tb["var"].to_numpy()))
        design, se_type, df = "blocked", "HC2", float(N - 2 * tb.shape[0])
    extra = {
        "n_blocks": int(tb.shape[0]),
        "blocks": tb.reset_index().rename(columns={"tau": "estimate"})[["block", "n1", "n0", "estimate"]],
    }
    return design, se_type, est, float(np.sqrt(var)), df, extra


def _block_clustered(c: Columns) -> tuple[str, str, float, float, float, dict[str, Any]]:
    assert c.blocks is not None and c.clusters is not None and c.y is not None and c.z is not None
    k = len(c.block_labels)  # type: ignore[arg-type]
    # clusters per block and arm
    first_block = np.zeros(len(c.cluster_labels), dtype=np.int64)  # type: ignore[arg-type]
    first_block[c.clusters] = c.blocks
    cl_arm = np.zeros(len(c.cluster_labels), dtype=np.int64)  # type: ignore[arg-type]
    cl_arm[c.clusters] = c.z
    cpb = np.bincount(first_block, minlength=k)
    w = np.ones(c.n) if c.weights is None else c.weights
    wb = np.bincount(c.blocks, weights=w, minlength=k)
    share = wb / wb.sum()
    taus = np.empty(k)
    if np.all(cpb == 2):
        for b in range(k):
            rows = c.blocks == b
            t, _, _ = _simple(c.y[rows], c.z[rows], None if c.weights is None else c.weights[rows])  # type: ignore[index]
            taus[b] = t
        if k < 2:
            raise DesignError("one pair of clusters gives no variance estimate; at least two pairs are needed.")
        size = np.bincount(c.blocks, minlength=k).astype(float)
        var = _pairs_variance(taus, size)
        est = float(np.sum(size / size.sum() * taus))
        return "matched_pair_clustered", "pairs", est, float(np.sqrt(var)), float(k - 1), {"n_blocks": k}
    n_t = np.bincount(first_block, weights=cl_arm, minlength=k)
    if np.any((n_t < 2) | (cpb - n_t < 2)):
        b = int(np.flatnonzero((n_t < 2) | (cpb - n_t < 2))[0])
        raise DesignError(
            f"block {label(c.block_labels[b])} has {int(n_t[b])} treated and {int(cpb[b] - n_t[b])} control "  # type: ignore[index]
            "clusters; a block-clustered variance needs at least two clusters per arm in every block "
            "(or exactly two clusters in every block, for matched cluster pairs). Merge blocks."
        )
    var = 0.0
    for b in range(k):
        rows = c.blocks == b
        X = np.column_stack([np.ones(rows.sum()), c.z[rows]])  # type: ignore[index]
        fit = robust_ols(
            X, c.y[rows], se_type="CR2", clusters=c.clusters[rows],  # type: ignore[index]
            weights=None if c.weights is None else c.weights[rows], df_coefs=[],
        )
        taus[b] = fit.coef[1]
        var += share[b] ** 2 * fit.vcov[1, 1]
    est = float(np.sum(share * taus))
    return "block_clustered", "CR2", est, float(np.sqrt(var)), float(cpb.sum() - 2 * k), {"n_blocks": k}
