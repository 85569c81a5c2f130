"""The 2x2 difference-in-differences: two groups, two periods."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from effekt.data import as_frame, check_columns, check_option, label, varying_groups
from effekt.errors import DataError, DesignError
from effekt.protocol import EstimatorTags, Synthetic
from effekt.result import EffectResult, check_alpha
from effekt.sandwich import robust_ols
from effekt.vocabulary import validated
from effekt_did._panel import FEW_TREATED_CLUSTERS, check_unit_column

__all__ = ["DiD2x2", "did_2x2_from_means"]


def _cell_table(means: np.ndarray) -> dict[str, float]:
    tpre, tpost, cpre, cpost = (float(v) for v in means)
    return {
        "treated_pre": tpre,
        "treated_post": tpost,
        "control_pre": cpre,
        "control_post": cpost,
        "treated_change": tpost - tpre,
        "control_change": cpost - cpre,
    }


def _relative(effect: float, base: float, grad: np.ndarray | None, vcov: np.ndarray | None,
              q: float) -> dict[str, Any]:
    """effect / treated pre-mean, with a delta-method SE when a covariance is known."""
    if base == 0.0:
        return {"estimate": None, "computable": False,
                "reason": "the treated group's pre-period mean is 0, so no relative effect exists"}
    rel = float(effect / base)
    out: dict[str, Any] = {"estimate": rel, "percent": 100.0 * rel, "base": "treated pre-period mean",
                           "computable": True}
    if grad is not None and vcov is not None:
        se = float(math.sqrt(grad @ vcov @ grad))
        out.update(std_error=se, conf_int=(rel - q * se, rel + q * se))
    return out


def did_2x2_from_means(
    treated_pre: float,
    treated_post: float,
    control_pre: float,
    control_post: float,
    *,
    std_errors: Sequence[float] | None = None,
    n: Sequence[int] | None = None,
    proportions: bool = False,
    alpha: float = 0.05,
    outcome: str | None = None,
) -> EffectResult:
    """The 2x2 DiD from four published group means (or proportions).

    Estimand: the average effect on the treated under parallel trends.

    Formula: ``tau = (Y_T,post - Y_T,pre) - (Y_C,post - Y_C,pre)``; the
    relative effect is ``tau / Y_T,pre`` (the treated group's pre-period
    mean, the base the HIR caseload evaluation (2019) uses). With ``std_errors`` of the
    four (independent) means, ``SE = sqrt(sum se^2)``; with ``n`` and
    ``proportions=True``, ``se^2 = p (1 - p) / n`` for each cell. Without
    either the effect carries no uncertainty and ``std_error`` is NaN,
    ``ci_method="none"``.

    Parameters
    ----------
    treated_pre, treated_post, control_pre, control_post : float
    std_errors : four floats, optional
    n : four ints, optional
        Cell sizes, with ``proportions=True`` for shares in [0, 1]
        (shares given in per cent are divided by 100 for the variance).
    proportions : bool, default False
    alpha : float, default 0.05

    Returns
    -------
    EffectResult
        ``extra["cells"]`` holds the four means and each group's change;
        ``extra["relative"]`` the effect relative to the treated pre-mean.

    Raises
    ------
    DataError
        A non-finite mean, a wrong number of SEs or sizes.

    References
    ----------
    Angrist & Pischke (2009), Mostly Harmless Econometrics, eq. 5.2.3.

    Examples
    --------
    >>> res = did_2x2_from_means(17.2, 20.8, 14.9, 16.8)   # HIR caseload evaluation, Table 4
    >>> round(res.estimate, 1), round(res.extra["relative"]["percent"], 1)
    (1.7, 9.9)
    """
    check_alpha(alpha)
    means = np.array([treated_pre, treated_post, control_pre, control_post], dtype=float)
    if not np.all(np.isfinite(means)):
        raise DataError(f"the four means must be finite numbers; got {means.tolist()}.")
    tau = (means[1] - means[0]) - (means[3] - means[2])
    ses: np.ndarray | None = None
    if std_errors is not None:
        ses = np.asarray(std_errors, dtype=float)
        if ses.shape != (4,) or not np.all(np.isfinite(ses)) or np.any(ses < 0):
            raise DataError(f"std_errors must be four non-negative numbers; got {list(std_errors)}.")
    elif n is not None:
        nn = np.asarray(n, dtype=float)
        if nn.shape != (4,) or np.any(nn < 2):
            raise DataError(f"n must be four cell sizes of at least 2; got {list(n)}.")
        if not proportions:
            raise DesignError("n= alone gives no variance for means; pass proportions=True for shares, "
                              "or std_errors= for means.")
        p = means / 100.0 if means.max() > 1.0 else means
        if np.any((p < 0) | (p > 1)):
            raise DataError(f"proportions must lie in [0, 1] (or [0, 100] in per cent); got {means.tolist()}.")
        scale = 100.0 if means.max() > 1.0 else 1.0
        ses = scale * np.sqrt(p * (1 - p) / nn)
    cells = _cell_table(means)
    common: dict[str, Any] = dict(estimator="did_2x2", estimand="att", term="treated:post", n=int(np.sum(n)) if n is not None else 0,
                  design="summary_2x2", outcome=outcome)
    grad = np.array([-1.0, 1.0, 1.0, -1.0])
    if ses is not None and np.sum(ses**2) > 0:
        vc = np.diag(ses**2)
        q = float(stats.norm.ppf(1 - alpha / 2))
        # d(tau/m0)/d(m0, m1, m2, m3) = (-1/m0 - tau/m0^2, 1/m0, 1/m0, -1/m0)
        g_rel = grad / means[0] - np.array([tau / means[0] ** 2, 0, 0, 0]) if means[0] != 0 else None
        extra = {"cells": cells, "relative": _relative(tau, means[0], g_rel, vc, q)}
        return EffectResult.from_z(tau, float(np.sqrt(np.sum(ses**2))), alpha=alpha, se_type="independent means",
                                   extra=extra, **common)
    extra = {"cells": cells, "relative": _relative(tau, means[0], None, None, 0.0)}
    return EffectResult(estimate=tau, std_error=float("nan"), conf_int=(float("nan"), float("nan")),
                        conf_level=1 - alpha, p_value=float("nan"), df=None, ci_method="none", se_type=None,
                        warnings=("no standard errors or cell sizes given: the effect carries no uncertainty",),
                        extra=extra, **common)


class DiD2x2:
    """The 2x2 DiD from unit-level data: two groups, before and after.

    Estimand: the average effect on the treated under parallel trends.

    Formula: least squares on ``y = b0 + b1 T + b2 P + tau T*P`` (weighted
    when ``weights`` is given), so ``tau`` equals the difference of the two
    groups' changes in (weighted) cell means; the relative effect
    ``tau / (b0 + b1)`` has a delta-method SE from the same covariance.

    Defaults and why: with ``clusters`` (or ``unit``, which then clusters)
    CR2 with Bell-McCaffrey degrees of freedom, robust with few treated
    clusters (Pustejovsky & Tipton 2018); without, HC2, the Neyman variance
    of the four cell means.

    Parameters
    ----------
    data : DataFrame
    outcome : str
        The outcome column.
    treatment : str
        The group (ever treated): 0/1, or two labels declared with ``arms``.
    arms : tuple, default=None
        ``(control, treated)`` labels of a text treatment column.
    post : str
        0/1 after-period.
    unit : str, default=None
        Panel unit; clusters by it unless ``clusters`` is given.
    clusters : str, default=None
    weights : str, default=None
    se_type : str, default=None
        ``CR0/CR1/CR2`` with clusters (default CR2), ``HC0-HC3``/``classical``
        without (default HC2).
    alpha : float, default=0.05
    missing : {"error", "drop"}, default="error"

    Returns
    -------
    EffectResult
        ``extra["cells"]``: the four means and each group's change;
        ``extra["relative"]``: effect / treated pre-mean with its SE.
        ``n``, ``n_treated`` and ``n_control`` count rows; ``n_units`` the
        units (with ``unit``), ``n_clusters`` the clusters.

    Raises
    ------
    DataError
        Bad columns, an empty cell of the 2x2 table.
    DesignError
        A cluster type without clusters, or the reverse.

    References
    ----------
    Pustejovsky & Tipton (2018). JBES 36(4), 672-683. doi:10.1080/07350015.2016.1247004

    Examples
    --------
    >>> import effekt as ef
    >>> syn = DiD2x2.simulate(np.random.default_rng(2), n=40, effect=1.0)
    >>> res = ef.estimate("did_2x2", data=syn.data, **syn.spec)
    >>> res.se_type, sorted(res.extra["cells"])[:2]
    ('CR2', ['control_change', 'control_post'])
    """

    name: ClassVar[str] = "did_2x2"
    estimand: ClassVar[str] = "att"
    kind: ClassVar[str] = "did"
    tags: ClassVar[EstimatorTags] = EstimatorTags(outcome="panel", supports_clusters=True, supports_weights=True)

    @classmethod
    def simulate(cls, rng: np.random.Generator, *, n: int = 60, effect: float = 1.0) -> Synthetic:
        from effekt_did.twfe import simulate_panel

        data = simulate_panel(rng, n_units=max(int(n), 8), n_times=2, effect=effect)
        spec = {"outcome": "y", "treatment": "treated", "post": "post", "unit": "unit"}
        return Synthetic(data=data, spec=spec, truth=effect, outcome="y", treatment="treated")

    from_means = staticmethod(did_2x2_from_means)

    @validated
    def fit(
        self,
        data: Any,
        *,
        outcome: str,
        treatment: str,
        arms: tuple[Any, Any] | None = None,
        post: str,
        unit: str | None = None,
        clusters: str | None = None,
        weights: str | None = None,
        se_type: str | None = None,
        alpha: float = 0.05,
        missing: str = "error",
    ) -> EffectResult:
        frame = as_frame(data)
        if unit is not None:
            check_unit_column(frame, unit, missing)
        cl_col = clusters if clusters is not None else unit
        cols = check_columns(frame, outcome=outcome, treatment=treatment, arms=arms, clusters=cl_col,
                             weights=weights, numeric={"post": post}, missing=missing)
        assert cols.y is not None and cols.z is not None
        p = cols.extra["post"]
        if not np.all(np.isin(p, (0.0, 1.0))):
            raise DataError(f"post column {post!r} must hold 0 (before) and 1 (after); it holds "
                            f"{np.unique(p[~np.isin(p, (0.0, 1.0))])[:5].tolist()}. Recode it.")
        if unit is not None and cols.clusters is not None and clusters is None:
            # with unit=, each unit belongs to one group for the whole panel
            mixed = varying_groups(cols.z, cols.clusters, len(cols.cluster_labels))  # type: ignore[arg-type]
            if mixed.size:
                raise DataError(
                    f"treatment column {treatment!r} must be constant within each unit of {unit!r} "
                    f"(the treated group does not change over time); {mixed.size} unit(s) change, e.g. "
                    f"unit {label(cols.cluster_labels[mixed[0]])}. Check the group coding."  # type: ignore[index]
                )
        t = cols.z.astype(float)
        cell = 2 * cols.z.astype(int) + p.astype(int)
        counts = np.bincount(cell, minlength=4)
        if counts.min() == 0:
            labels = ["control before", "control after", "treated before", "treated after"]
            raise DataError(f"the 2x2 cell '{labels[int(np.argmin(counts))]}' has no rows (cells of "
                            f"{treatment!r} by {post!r}: {dict(zip(labels, counts.tolist()))}); a DiD needs all four.")
        clustered = cols.clusters is not None
        if se_type is None:
            se_type = "CR2" if clustered else "HC2"
        X = np.column_stack([np.ones(cols.n), t, p, t * p])
        names = ["(Intercept)", str(treatment), str(post), f"{treatment}:{post}"]
        if not clustered and se_type.startswith("CR"):
            raise DesignError(f"se_type={se_type!r} needs clusters= (or unit=). Without clusters use one of "
                              "'HC0', 'HC1', 'HC2', 'HC3', 'classical'.")
        check_option(se_type, "se_type", ("CR0", "CR1", "CR2") if clustered else
                     ("classical", "HC0", "HC1", "HC2", "HC3"))
        rf = robust_ols(X, cols.y, se_type=se_type, clusters=cols.clusters, weights=cols.weights, names=names,
                        outcome=outcome)
        b, V = rf.coef, rf.vcov
        df = float(rf.df[3])
        tau = float(b[3])
        means = np.array([b[0] + b[1], b[0] + b[1] + b[2] + b[3], b[0], b[0] + b[2]])
        q = float(stats.t.ppf(1 - alpha / 2, df)) if math.isfinite(df) else float(stats.norm.ppf(1 - alpha / 2))
        base = means[0]
        # tau / (b0 + b1): gradient in b
        g = np.array([-tau / base**2, -tau / base**2, 0.0, 1.0 / base]) if base != 0 else None
        n_units = None
        if unit is not None:  # the clusters, unless clusters= names others
            n_units = len(cols.cluster_labels) if clusters is None else int(frame[unit].dropna().nunique())  # type: ignore[arg-type]
        extra: dict[str, Any] = {"cells": _cell_table(means), "relative": _relative(tau, base, g, V, q),
                                 "coefficients": pd.DataFrame({"term": names, "estimate": b,
                                                               "std.error": rf.std_error}).to_dict("records")}
        warns = cols.warnings()
        design = "clustered" if clustered else "simple"
        if clustered:
            assert cols.clusters is not None
            n_tc = np.unique(cols.clusters[cols.z == 1]).size
            extra.update(n_treated_clusters=int(n_tc))
            if n_tc < FEW_TREATED_CLUSTERS:
                warns.append(f"only {n_tc} treated clusters: consider wild_cluster_bootstrap or "
                             "randomisation inference alongside the CR2 test.")
        return EffectResult.from_t(tau, float(rf.std_error[3]), df, alpha=alpha, estimator=self.name,
                                   estimand=self.estimand, term=f"{treatment}:{post}", n=cols.n,
                                   n_treated=cols.n_treated, n_control=cols.n_control, n_units=n_units,
                                   n_clusters=rf.n_clusters if clustered else None, se_type=rf.se_type,
                                   design=design, warnings=warns, extra=extra, outcome=outcome)
