"""Two-way fixed-effects difference-in-differences."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from effekt.absorb import Absorber
from effekt.errors import DesignError, EstimationError
from effekt.protocol import EstimatorTags, Synthetic
from effekt.result import EffectResult
from effekt.sandwich import cr2_two_way, cr2_within, robust_ols
from effekt.vocabulary import Choice, validated
from effekt_did._absorb import (
    Absorbed,
    absorb_ols,
    constant_within,
    cr1_vcov,
    cr2_patterns,
    demean,
    nested_in,
)
from effekt_did._panel import FEW_TREATED_CLUSTERS, Panel, cell_weights, check_aggregation, check_panel

__all__ = ["TWFE", "simulate_panel", "TwfeFit", "fit_twfe_arrays"]

_SE_TYPES = ("CR2", "CR1", "CR0")


@dataclass(frozen=True)
class TwfeFit:
    """The arrays behind a TWFE result (used by the wild bootstrap)."""

    coef: np.ndarray
    absorbed: Absorbed | None  # None when CR2 fitted the model itself (no two-way absorption needed)
    vcov: np.ndarray
    df: np.ndarray  # per coefficient
    clusters: np.ndarray
    n_clusters: int
    weights: np.ndarray | None
    k_df: int


def fit_twfe_arrays(
    panel: Panel,
    X: np.ndarray,
    names: list[str],
    *,
    se_type: str,
    clusters: np.ndarray,
    n_clusters: int,
    weights: np.ndarray | None,
    fe_df: str,
) -> TwfeFit:
    """Absorb unit and time effects, regress, and form the clustered covariance."""
    fes = [(panel.unit, panel.n_units), (panel.time, panel.n_times)]
    n, k = X.shape
    # absorbed parameters counted in (N-1)/(N-K); two-way FE have n_units + n_times - 1
    unit_nested = nested_in(panel.unit, clusters, panel.n_units)
    time_nested = nested_in(panel.time, clusters, panel.n_times)
    if fe_df == "none":
        k_df = k
    elif fe_df == "all":
        k_df = k + panel.n_units + panel.n_times - 1
    else:  # fixest: drop FE nested in the clusters, keep one for each
        k_df = k + panel.n_units + panel.n_times - 1
        k_df -= (panel.n_units - 1) if unit_nested else 0
        k_df -= (panel.n_times - 1) if time_nested else 0
    if n <= k_df:
        raise EstimationError(
            f"{n} rows cannot estimate {k_df} parameters; the panel is too small for two-way "
            f"fixed effects (regressors: {', '.join(repr(c) for c in dict.fromkeys(str(m).split('[', 1)[0] for m in names))})."
        )
    equal_weights = weights is None or np.ptp(weights) == 0
    by_unit = unit_nested and not time_nested and n_clusters == panel.n_units
    unit_weights = equal_weights or constant_within(weights, panel.unit, panel.n_units)
    closed_form = unit_weights and by_unit and k <= _MAX_CLOSED_FORM_K and _balanced(panel)
    if se_type == "CR2" and by_unit and not closed_form:
        # cr2_within fits the model itself from the unit-demeaned data: the two-way absorption
        # would only repeat that work; with unequal weights it takes clubSandwich's weighted
        # adjustment, batched by cluster
        try:
            coef, vcov, df = cr2_within(X, panel.y, clusters, n_clusters, periods=(panel.time, panel.n_times),
                                        weights=weights, names=names)
        except EstimationError:
            absorb_ols(panel.y, X, fes, weights, names)  # its message names a regressor the effects absorb
            raise
        return TwfeFit(coef, None, vcov, df, clusters, n_clusters, weights, k_df)
    fit = absorb_ols(panel.y, X, fes, weights, names)
    if se_type == "CR2" and closed_form:
        vcov, df = cr2_two_way(fit.Xt, fit.resid, panel.unit, panel.n_units, panel.time, names=names,
                               weights=None if equal_weights else weights)
    elif se_type == "CR2":
        vcov, df = _cr2_pt(panel, X, names, clusters, weights, unit_nested, time_nested)
    else:
        vcov = cr1_vcov(fit, clusters, n_clusters, weights, k_df, small_sample=se_type == "CR1")
        df = np.full(k, float(n_clusters - 1))
    return TwfeFit(fit.coef, fit, vcov, df, clusters, n_clusters, weights, k_df)


#: regressors up to which a balanced panel's CR2 takes the closed form (k x k eigenproblems per
#: cluster); an event study's dozens of terms go through the batched engine instead
_MAX_CLOSED_FORM_K = 4


def _balanced(panel: Panel) -> bool:
    """Every unit observed once in every period (rows are unique per unit and period)."""
    return panel.n == panel.n_units * panel.n_times


#: explicit fixed-effect dummies allowed in the CR2 hat matrix before CR1 is advised
_MAX_CR2_DUMMIES = 2000


def _cr2_pt(panel: Panel, X: np.ndarray, names: list[str], clusters: np.ndarray, weights: np.ndarray | None,
            unit_nested: bool, time_nested: bool) -> tuple[np.ndarray, np.ndarray]:
    """CR2 with fixed effects as Pustejovsky & Tipton (2018, sec. 3.2) set it up.

    Fixed effects nested in the clusters are absorbed; the others stay in the
    hat matrix as explicit dummies (their Theorem 2: the adjustment then
    equals the one from the full dummy design). Returns the covariance of
    the coefficients on ``X`` and their Bell-McCaffrey degrees of freedom.
    Clusters that are the units never come here: ``fit_twfe_arrays`` gives
    them to ``cr2_two_way`` or ``cr2_within``.
    """
    if weights is not None and np.ptp(weights) > 0:
        return _cr2_weighted_pt(panel, X, names, clusters, weights, unit_nested, time_nested)
    absorb: list[tuple[np.ndarray, int]] = []
    explicit: list[tuple[np.ndarray, int]] = []
    for (codes, k), nested in (((panel.unit, panel.n_units), unit_nested), ((panel.time, panel.n_times), time_nested)):
        (absorb if nested else explicit).append((codes, k))
    firsts = [0 if (i == 0 and not absorb) else 1 for i in range(len(explicit))]
    n_dummies = sum(k - f for (_, k), f in zip(explicit, firsts))
    if n_dummies > _MAX_CR2_DUMMIES:
        raise EstimationError(
            f"CR2 with clusters that do not nest a fixed effect needs its {n_dummies} levels as dummies in "
            f"the hat matrix (more than {_MAX_CR2_DUMMIES}); use se_type='CR1', or cluster at a level that "
            "nests the units."
        )
    # one Fortran array [y, X, dummies], demeaned in place: a 2e6-row panel is copied once
    n, kx = X.shape
    Z = np.zeros((n, 1 + kx + n_dummies), order="F")
    Z[:, 0] = panel.y
    Z[:, 1 : 1 + kx] = X
    col = 1 + kx
    for (codes, k), first in zip(explicit, firsts):
        keep = codes >= first
        Z[np.flatnonzero(keep), col + codes[keep] - first] = 1.0
        col += k - first
    if absorb:
        Z, _ = demean(Z, absorb, weights, copy=False)
    yt, Zt = Z[:, 0], Z[:, 1:]
    k = X.shape[1]
    _, vcov, df = cr2_patterns(Zt, yt, clusters, int(clusters.max()) + 1, weights, k, order_key=panel.time,
                               names=names)
    return vcov, df


def _cr2_weighted_pt(panel: Panel, X: np.ndarray, names: list[str], clusters: np.ndarray, weights: np.ndarray,
                     unit_nested: bool, time_nested: bool) -> tuple[np.ndarray, np.ndarray]:
    """CR2 with unequal weights, as clubSandwich's default for a weighted ``lm`` with the dummies.

    Under that working model (``Var(e) = sigma^2 I`` in the original units)
    the fixed effects nested in the clusters cannot be left out of the
    adjustment as in the unweighted case: they are absorbed from ``X`` and
    ``y`` but kept in the hat matrix (``effekt.sandwich``'s ``AbsorbedHat``),
    the others enter as dummies. The design is formed for the whole data
    (``n x (k + dummies)``): slower and larger than the unweighted engine.
    """
    absorb: list[np.ndarray] = []
    explicit: list[tuple[np.ndarray, int]] = []
    for (codes, k), nested in (((panel.unit, panel.n_units), unit_nested), ((panel.time, panel.n_times), time_nested)):
        if nested:
            absorb.append(np.asarray(codes))
        else:
            explicit.append((codes, k))
    firsts = [0 if (i == 0 and not absorb) else 1 for i in range(len(explicit))]
    n_dummies = sum(k - f for (_, k), f in zip(explicit, firsts))
    if n_dummies > _MAX_CR2_DUMMIES:
        raise EstimationError(
            f"CR2 with clusters that do not nest a fixed effect needs its {n_dummies} levels as dummies in "
            f"the hat matrix (more than {_MAX_CR2_DUMMIES}); use se_type='CR1', or cluster at a level that "
            "nests the units."
        )
    n, k = X.shape
    Z = np.zeros((n, 1 + k + n_dummies))
    Z[:, 0] = panel.y
    Z[:, 1 : 1 + k] = X
    col = 1 + k
    for (codes, levels), first in zip(explicit, firsts):
        keep = codes >= first
        Z[np.flatnonzero(keep), col + codes[keep] - first] = 1.0
        col += levels - first
    hat = None
    if absorb:
        absorber = Absorber(absorb, weights)
        Z = absorber.demean(Z)
        hat = absorber.hat()
    fit = robust_ols(Z[:, 1:], Z[:, 0], se_type="CR2", clusters=clusters, weights=weights,
                     df_coefs=list(range(k)), names=list(names) + [f"fixed effect {j}" for j in range(n_dummies)],
                     absorbed=hat, outcome=panel.names.get("outcome"))
    return fit.vcov[:k, :k], fit.df[:k]


class TWFE:
    """Two-way fixed-effects DiD: the coefficient on the treatment indicator
    with unit and period effects absorbed.

    Estimand: under parallel trends and a homogeneous effect, the average
    effect on the treated (ATT). With staggered adoption and effects that
    vary over time it is a weighted average with possibly negative weights
    (Goodman-Bacon 2021); use ``callaway_santanna`` then.

    Formula: ``y_it = a_i + l_t + tau D_it + x_it'b + e_it`` with
    ``D_it = treatment_i * post_t`` (or the 0/1 ``treatment`` column itself
    when ``post`` is not given), fitted by (weighted) least squares after
    sweeping ``a_i`` and ``l_t`` out by alternating projections. In a
    repeated cross-section ``unit`` is the group (e.g. job centre) whose
    effect is absorbed and the rows are citizens.

    Defaults and why: clusters are the units (serial correlation within a
    unit, Bertrand, Duflo & Mullainathan 2004); ``se_type="CR2"`` with
    Bell-McCaffrey degrees of freedom because DiD designs often have few
    treated clusters; ``se_type="CR1"`` gives the Stata/fixest figure. In
    repeated cross-sections ``aggregation`` must be chosen: ``"citizen"``
    weights each row, ``"cluster"`` gives each unit-period cell equal weight.

    Parameters
    ----------
    data : DataFrame
    outcome : str
        The outcome column.
    unit : str
        The panel unit (or, in repeated cross-sections, the group).
    period : str
        The calendar period column.
    treatment : str
        The arm, 0/1 or two labels declared with ``arms``. With ``post``:
        the ever-treated group; otherwise: treated in this period.
    arms : tuple, default=None
        ``(control, treated)`` labels of a text treatment column.
    post : str, default=None
        0/1 after-period indicator.
    covariates : list of str, default=None
        Text or categorical covariates are expanded to indicators (first
        level as reference, reported in ``extra["reference_levels"]``).
    weights : str, default=None
        Positive weights (e.g. citizens behind a cell mean).
    clusters : str, default=None
        Default ``unit``.
    se_type : {"CR2", "CR1", "CR0"}, default=None
        None means "CR2".
    fe_df : {"nonnested", "all", "none"}, default="nonnested"
        How the absorbed effects count in CR1's ``(N-1)/(N-K)``:
        ``"nonnested"`` counts those not nested in the clusters (R fixest's
        convention, which pyfixest reproduces); ``"all"`` counts every absorbed
        effect (linearmodels ``PanelOLS``); ``"none"`` counts none.
    aggregation : {"citizen", "cluster"}, default=None
        Required for repeated cross-sections (several rows per unit-period).
    alpha : float, default=0.05
    missing : {"error", "drop"}, default="error"

    Returns
    -------
    EffectResult
        ``term`` is ``"treatment:post"`` (or the treatment column);
        ``extra`` holds the coefficients of covariates, ``n_treated_clusters``,
        ``fe_df`` and the ``K`` used. ``n`` counts rows, ``n_treated`` the
        rows of units ever treated and ``n_control`` the others; ``n_units``
        and ``n_clusters`` count units and clusters.

    Raises
    ------
    DataError
        Bad columns (see ``effekt.data.check_columns``), a treatment group
        that varies within a unit.
    DesignError
        Repeated cross-sections without ``aggregation``; unknown options.
    EstimationError
        A treatment that does not vary once the effects are absorbed.

    Notes
    -----
    CR2 follows Pustejovsky & Tipton (2018, sec. 3.2): fixed effects nested
    in the clusters are absorbed, the others (e.g. period effects) stay in
    the hat matrix, which gives the CR2 of the full dummy regression;
    CR1 here equals pyfixest's ``vcov={"CRV1": unit}`` with its default
    ``ssc`` when ``fe_df="nonnested"``, and linearmodels ``PanelOLS``'s
    clustered covariance with ``group_debias=True, debiased=True`` when
    ``fe_df="all"`` (tests compare both).

    References
    ----------
    Bertrand, Duflo & Mullainathan (2004). QJE 119(1), 249-275. doi:10.1162/003355304772839588
    Goodman-Bacon (2021). J. Econometrics 225(2), 254-277. doi:10.1016/j.jeconom.2021.03.014
    Pustejovsky & Tipton (2018). JBES 36(4), 672-683. doi:10.1080/07350015.2016.1247004

    Examples
    --------
    >>> import effekt as ef
    >>> syn = TWFE.simulate(np.random.default_rng(1), n=40, effect=2.0)
    >>> res = ef.estimate("twfe", data=syn.data, **syn.spec)
    >>> res.se_type, res.design
    ('CR2', 'panel')
    >>> bool(abs(res.estimate - 2.0) < 4 * res.std_error)
    True
    """

    name: ClassVar[str] = "twfe"
    estimand: ClassVar[str] = "att"
    kind: ClassVar[str] = "did"
    tags: ClassVar[EstimatorTags] = EstimatorTags(
        outcome="panel", supports_clusters=True, supports_covariates=True, supports_weights=True
    )
    options: ClassVar[dict[str, Any]] = {
        "se_type": Choice(_SE_TYPES, none_ok=True),
        "aggregation": Choice(("citizen", "cluster"), none_ok=True),
    }

    @classmethod
    def simulate(cls, rng: np.random.Generator, *, n: int = 60, effect: float = 1.0) -> Synthetic:
        data = simulate_panel(rng, n_units=max(int(n) // 4, 8), n_times=4, effect=effect)
        data["D"] = data.treated * data.post  # the treatment indicator itself: y + c*D moves tau by c
        spec = {"outcome": "y", "unit": "unit", "period": "period", "treatment": "D"}
        return Synthetic(data=data, spec=spec, truth=effect, outcome="y", treatment="D")

    @validated
    def fit(
        self,
        data: Any,
        *,
        outcome: str,
        unit: str,
        period: str,
        treatment: str,
        arms: tuple[Any, Any] | None = None,
        post: str | None = None,
        covariates: Sequence[str] | None = None,
        weights: str | None = None,
        clusters: str | None = None,
        se_type: str | None = None,
        fe_df: str = "nonnested",
        aggregation: str | None = None,
        alpha: float = 0.05,
        missing: str = "error",
    ) -> EffectResult:
        panel = check_panel(
            data, outcome=outcome, unit=unit, period=period, treatment=treatment, arms=arms, post=post,
            weights=weights, clusters=clusters, covariates=covariates, missing=missing,
            estimator=self.name,
        )
        design = "panel" if panel.is_panel else "repeated_cross_section"
        aggregation = check_aggregation(aggregation, panel, self.name)
        se_type = "CR2" if se_type is None else se_type
        w = cell_weights(panel) if aggregation == "cluster" else panel.weights
        cl, G = panel.cluster_codes()
        assert cl is not None and panel.d is not None
        if G < 2:
            raise DesignError(f"{self.name}: only one cluster (column {clusters if clusters is not None else unit!r}); "
                              "cluster-robust SEs need two or more.")
        term = f"{treatment}:{post}" if post is not None else str(treatment)
        X = panel.d[:, None].astype(float)
        names = [term]
        if panel.X is not None:
            X = np.column_stack([X, panel.X])
            names += panel.covariates
        tf = fit_twfe_arrays(panel, X, names, se_type=se_type, clusters=cl, n_clusters=G, weights=w, fe_df=fe_df)
        on = panel.d == 1
        treated_cl = int(np.count_nonzero(np.bincount(cl[on], minlength=G)))
        warns = [f"{panel.dropped} rows with missing values were dropped (missing='drop')."] if panel.dropped else []
        if treated_cl < FEW_TREATED_CLUSTERS:
            warns.append(
                f"only {treated_cl} treated clusters: cluster-robust tests can over-reject with fewer "
                f"than {FEW_TREATED_CLUSTERS}; check with wild_cluster_bootstrap or randomisation inference."
            )
        se = np.sqrt(np.diag(tf.vcov))
        ever = np.zeros(panel.n_units, dtype=bool)
        ever[panel.unit[on]] = True
        rows_treated = int(ever[panel.unit].sum())
        extra: dict[str, Any] = {
            "n_treated_clusters": int(treated_cl),
            "n_treated_units": int(ever.sum()),
            "n_periods": panel.n_times,
            "fe_df": fe_df,
            "k_df": tf.k_df,
            "aggregation": aggregation,
            "sweeps": 0 if tf.absorbed is None else tf.absorbed.sweeps,
        }
        if panel.reference_levels:
            extra["reference_levels"] = panel.reference_levels
        if len(names) > 1:
            extra["coefficients"] = pd.DataFrame(
                {"term": names, "estimate": tf.coef, "std.error": se}
            ).to_dict(orient="records")
        return EffectResult.from_t(
            tf.coef[0], se[0], float(tf.df[0]), alpha=alpha, estimator=self.name, estimand=self.estimand,
            term=term, n=panel.n, n_treated=rows_treated, n_control=panel.n - rows_treated,
            n_units=panel.n_units, n_clusters=G, se_type=se_type, design=design, warnings=warns, extra=extra, outcome=outcome,
        )


def simulate_panel(
    rng: np.random.Generator,
    *,
    n_units: int,
    n_times: int,
    effect: float,
    share_treated: float = 0.5,
    rho: float = 0.5,
) -> pd.DataFrame:
    """A balanced 2-group panel: units with random effects, common shocks,
    AR-free unit-level noise with intra-unit correlation ``rho``, treatment
    from the second half of the periods on."""
    unit = np.repeat(np.arange(n_units), n_times)
    time = np.tile(np.arange(1, n_times + 1), n_units)
    n_t = max(2, int(round(share_treated * n_units)))
    treated = (unit < n_t).astype(int)
    post = (time > n_times // 2).astype(int)
    a = rng.normal(size=n_units)[unit] * np.sqrt(rho)
    lam = rng.normal(size=n_times)[time - 1]
    e = rng.normal(size=unit.size) * np.sqrt(1 - rho)
    y = 1.0 + a + lam + 0.5 * treated + effect * treated * post + e
    return pd.DataFrame({"unit": unit, "period": time, "treated": treated, "post": post, "y": y})
