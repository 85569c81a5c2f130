"""Ordinary least squares with design-based robust standard errors.

Estimand: the coefficient of ``treatment`` (by default) in the linear
projection of the outcome on the regressors; in a randomised trial with
treatment as the only regressor besides block fixed effects, a
precision-weighted average of the block effects.

Formula: ``b = (X'WX)^{-1} X'Wy`` after sweeping the fixed effects out of
``X`` and ``y``; ``V = (X'WX)^{-1} (sum of scores) (X'WX)^{-1}`` with the
scores of ``se_type`` (see :mod:`effekt.sandwich`).

Defaults and why: ``se_type="HC2"`` (unbiased for the Neyman variance of a
difference in means; Samii & Aronow 2012), ``"CR2"`` with Bell-McCaffrey
degrees of freedom when ``clusters=`` is given (Pustejovsky & Tipton 2018:
CR1 with ``G - 1`` df over-rejects with few clusters), as estimatr.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from effekt.absorb import Absorber, check_not_absorbed
from effekt.errors import DesignError
from effekt.estimators._model import LinearModel, ModelFrame, infer_design, model_frame
from effekt.protocol import EstimatorTags
from effekt.result import EffectResult, check_alpha
from effekt.sandwich import AbsorbedHat, default_se_type, robust_ols
from effekt.vocabulary import validated

__all__ = ["LmRobust", "lm_robust", "fit_linear"]


def fit_linear(
    mf: ModelFrame,
    *,
    se_type: str | None,
    alpha: float,
    estimator: str,
    df_terms: Sequence[str] | None = None,
) -> LinearModel:
    """Fit ``mf`` by least squares with fixed effects absorbed.

    ``df_terms`` limits the (costly) CR2 degrees of freedom to those terms.
    """
    se = default_se_type(se_type, mf.clusters is not None)
    X, y = mf.X, mf.y
    absorbed = None
    n_absorbed = 0
    if mf.fixed_effects:
        absorber = Absorber(mf.fixed_effects, mf.weights, mf.fe_names)
        Xy = absorber.demean(np.column_stack([X, y]))
        check_not_absorbed(X, Xy[:, :-1], mf.terms, mf.fe_names)
        X, y = Xy[:, :-1], Xy[:, -1]
        n_absorbed = absorber.rank
        if se in ("HC2", "HC3", "CR2"):
            absorbed = absorber.hat()
    df_coefs = None if df_terms is None else [mf.terms.index(t) for t in df_terms]
    fit = robust_ols(
        X,
        y,
        se_type=se,
        clusters=mf.clusters,
        weights=mf.weights,
        df_coefs=df_coefs,
        names=mf.terms,
        extra_k=n_absorbed,
        absorbed=absorbed,
        outcome=mf.outcome,
    )
    warnings = [f"{mf.dropped} rows with missing values were dropped (missing='drop')."] if mf.dropped else []
    return LinearModel(
        estimator=estimator,
        terms=tuple(mf.terms),
        coef=fit.coef,
        vcov=fit.vcov,
        df=fit.df,
        se_type=se,
        design=infer_design(mf),
        n=mf.n,
        n_clusters=fit.n_clusters,
        df_residual=float(mf.n - fit.k),
        alpha=alpha,
        outcome=mf.outcome,
        fixed_effects=tuple(mf.fe_names),
        n_absorbed=n_absorbed,
        warnings=tuple(warnings),
        extra=_fit_statistics(mf, fit.residuals, fit.k),
        cr2_design=_htz_design(X, mf, absorbed) if se == "CR2" else None,
    )


def _htz_design(X: np.ndarray, mf: ModelFrame, absorbed: AbsorbedHat | None) -> tuple[Any, ...]:
    """``(Xw, M, clusters, weights, absorbed)`` of a CR2 fit, for the HTZ test.

    ``X`` has any fixed effects swept out; ``absorbed`` is their part of the hat matrix.
    """
    Xw = X if mf.weights is None else X * np.sqrt(mf.weights)[:, None]
    return (Xw, np.linalg.inv(Xw.T @ Xw), mf.clusters, mf.weights, absorbed)


def _fit_statistics(mf: ModelFrame, resid: np.ndarray, k_total: int) -> dict[str, float]:
    """R-squared of the whole model (fixed effects included) and its adjusted form, as estimatr.

    ``R2 = 1 - sum w e^2 / sum w (y - ybar_w)^2``, uncentred without an
    intercept or fixed effects; ``adj = 1 - (1 - R2) (n - i) / (n - k)``, ``i``
    one with an intercept (or fixed effects), else zero.
    """
    w = np.ones(mf.n) if mf.weights is None else mf.weights
    centred = bool(mf.fixed_effects) or "(Intercept)" in mf.terms
    ybar = (w @ mf.y) / w.sum() if centred else 0.0
    sst = float(w @ (mf.y - ybar) ** 2)
    ssr = float(w @ resid**2)
    if sst <= 0:
        return {}
    r2 = 1.0 - ssr / sst
    adj = 1.0 - (1.0 - r2) * (mf.n - int(centred)) / (mf.n - k_total)
    return {"r_squared": r2, "adj_r_squared": adj}


def lm_robust(
    data: Any,
    formula: str | None = None,
    *,
    outcome: Any = None,
    treatment: Any = None,
    covariates: Sequence[Any] | str | None = None,
    fixed_effects: Sequence[Any] | str | None = None,
    blocks: Any = None,
    clusters: Any = None,
    weights: Any = None,
    se_type: str | None = None,
    alpha: float = 0.05,
    missing: str = "error",
) -> LinearModel:
    """OLS with robust standard errors for every term (see :class:`LmRobust`).

    Returns a :class:`~effekt.estimators._model.LinearModel` with all
    coefficients; ``.tidy()`` gives the table.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"y": [1.0, 2, 4, 3, 6, 8], "z": [0, 0, 0, 1, 1, 1],
    ...                    "x": [0.5, 1, 2, 0, 1, 3]})
    >>> fit = lm_robust(df, "y ~ z + x")
    >>> fit.terms, fit.se_type
    (('(Intercept)', 'z', 'x'), 'HC2')
    """
    check_alpha(alpha)
    mf = model_frame(
        data,
        outcome=outcome,
        treatment=treatment,
        covariates=covariates,
        formula=formula,
        fixed_effects=fixed_effects,
        blocks=blocks,
        clusters=clusters,
        weights=weights,
        missing=missing,
    )
    return fit_linear(mf, se_type=se_type, alpha=alpha, estimator="lm_robust")


class LmRobust:
    """Least squares with HC0-HC3 or CR0/CR1/CR2 standard errors.

    Estimand: the coefficient of ``treatment`` (or of ``term``) in the
    linear projection of the outcome on the regressors, fixed effects
    absorbed.

    Formula: ``b = (X~'W X~)^{-1} X~'W y~`` with ``X~, y~`` the regressors
    and outcome swept of the fixed effects (Frisch-Waugh-Lovell), and the
    sandwich ``V = M (sum_i or sum_g of scores) M``, ``M = (X~'W X~)^{-1}``.
    HC2, HC3 and CR2 use the leverage of the whole model, fixed effects
    included: ``h_ii = w_i / W_b + x~_i' M x~_i`` for one factor.

    Defaults and why: ``se_type=None`` gives HC2 (design-based Neyman
    variance) or, with ``clusters=``, CR2 with Bell-McCaffrey degrees of
    freedom (correct size with few clusters); ``blocks=`` is absorbed as a
    fixed effect, never expanded to dummy columns.

    Parameters
    ----------
    data : DataFrame
    outcome : str, default=None
        Outcome column (or the formula's left-hand side).
    treatment : str, default=None
        The treatment whose coefficient is returned: 0/1 (bool, or a
        categorical/object column holding 0/1), or two labels declared
        with ``arms``.
    arms : (control, treated), default=None
        The treatment's two labels, the control first; the treatment then
        enters the model as 0/1 (formulas included).
    formula : str, default=None
        formulaic formula instead of ``outcome``/``covariates``, e.g.
        ``"y ~ z + age + C(sex) | block"`` (fixed effects after ``|``).
    covariates : list of str, default=None
        Further regressors. Text or categorical columns are expanded to
        indicators, the first level (sorted) the reference, reported in
        ``extra["reference_levels"]``.
    blocks : str, default=None
        Randomisation blocks, absorbed as fixed effects (``design="blocked"``).
    fixed_effects : list of str, default=None
        Further factors to absorb.
    clusters : str, default=None
        Clusters for the cluster-robust variance (CR2 by default).
    weights : str, default=None
        Positive weights.
    se_type : {"HC0", "HC1", "HC2", "HC3", "classical", "CR0", "CR1", "stata", "CR2"}, default=None
        None gives HC2, or CR2 with clusters.
    alpha : float, default=0.05
        Intervals are at ``1 - alpha``.
    term : str, default=None
        The coefficient to report when it is not ``treatment``
        (``estimand="coefficient"``).
    assignment : Assignment, default=None
        From :mod:`effekt.design`: supplies treatment, blocks and clusters
        (rows of ``data`` are its units, in order).
    missing : {"error", "drop"}, default="error"
        ``"drop"`` drops rows with a missing value and says how many.

    Returns
    -------
    EffectResult
        For ``term``; ``n`` counts rows, ``n_clusters`` clusters (when
        clustered); ``extra["terms"]`` holds every coefficient (tidy
        records), ``extra["n_absorbed"]`` the fixed-effect parameters,
        ``extra["r_squared"]`` and ``extra["adj_r_squared"]`` the fit of the
        whole model (fixed effects included).

    Raises
    ------
    DataError
        Missing columns or values, text where numbers belong, a treatment
        that is not 0/1, non-positive weights.
    DesignError
        An unknown or inconsistent ``se_type``, a formula that cannot be
        evaluated, a ``term`` not in the model.
    EstimationError
        Collinear regressors, leverage-one observations under HC2/HC3
        (singleton fixed-effect levels), fewer than two clusters.

    Notes
    -----
    CR1 (``"stata"``) scales by ``G/(G-1) (n-1)/(n-k)`` with ``k`` counting
    the absorbed fixed effects, as Stata's ``areg`` and estimatr do. With
    weights, CR2 treats them as precision weights (the working model
    ``Var(e) = sigma^2 W^{-1}``, as clubSandwich); estimatr's ``lm_robust``
    instead keeps ``Var(e) = sigma^2 I`` in that case, so weighted CR2
    standard errors can differ from estimatr's.

    References
    ----------
    Bell & McCaffrey (2002), Survey Methodology 28(2), 169-181.
    MacKinnon & White (1985), J. Econometrics 29(3), 305-325.
    Pustejovsky & Tipton (2018), JBES 36(4), 672-683, doi:10.1080/07350015.2016.1247004.
    Samii & Aronow (2012), Stat. Probab. Lett. 82(2), 365-370, doi:10.1016/j.spl.2011.10.024.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> import effekt as ef
    >>> rng = np.random.default_rng(3)
    >>> df = pd.DataFrame({"batch": np.repeat(np.arange(10), 20), "z": np.tile([0, 1], 100)})
    >>> df["y"] = 0.5 * df["z"] + 0.1 * df["batch"] + rng.normal(size=200)
    >>> res = ef.estimate("lm_robust", data=df, outcome="y", treatment="z", blocks="batch")
    >>> res.design, res.se_type, res.extra["n_absorbed"]
    ('blocked', 'HC2', 10)
    """

    name: ClassVar[str] = "lm_robust"
    estimand: ClassVar[str] = "ate"
    kind: ClassVar[str] = "itt"
    tags: ClassVar[EstimatorTags] = EstimatorTags(
        supports_blocks=True, supports_clusters=True, supports_covariates=True, supports_weights=True
    )

    @validated
    def fit(
        self,
        data: Any,
        *,
        outcome: Any = None,
        treatment: Any = None,
        arms: tuple[Any, Any] | None = None,
        formula: str | None = None,
        covariates: Sequence[Any] | str | None = None,
        blocks: Any = None,
        fixed_effects: Sequence[Any] | str | None = None,
        clusters: Any = None,
        weights: Any = None,
        se_type: str | None = None,
        alpha: float = 0.05,
        term: str | None = None,
        assignment: Any = None,
        missing: str = "error",
    ) -> EffectResult:
        check_alpha(alpha)
        mf = model_frame(
            data,
            outcome=outcome,
            treatment=treatment,
            covariates=covariates,
            formula=formula,
            fixed_effects=fixed_effects,
            blocks=blocks,
            clusters=clusters,
            weights=weights,
            assignment=assignment,
            missing=missing,
            arms=arms,
        )
        term = _reported_term(term, mf)
        model = fit_linear(mf, se_type=se_type, alpha=alpha, estimator=self.name, df_terms=[term])
        estimand = self.estimand if term == mf.treatment else "coefficient"
        return report(model, mf, term, estimand=estimand)


def _reported_term(term: str | None, mf: ModelFrame) -> str:
    if term is None:
        if mf.treatment is None:
            raise DesignError(
                "name the coefficient to report: treatment= (the 0/1 treatment column) or term=."
            )
        term = mf.treatment
    if term not in mf.terms:
        raise DesignError(f"term={term!r} is not in the model; the terms are {', '.join(mf.terms)}.")
    return term


def report(model: LinearModel, mf: ModelFrame, term: str, *, estimand: str = "ate", **extra: Any) -> EffectResult:
    """The EffectResult of ``term``, every coefficient in ``extra["terms"]``."""
    tidy = model.tidy()
    info: dict[str, Any] = {
        "terms": tidy.drop(columns=["estimator", "estimand", "se_type", "design", "n", "outcome"]).to_dict(
            orient="records"
        ),
        "n_absorbed": model.n_absorbed,
        "fixed_effects": list(model.fixed_effects),
        "n_clusters": model.n_clusters,
        **model.extra,
    }
    if mf.reference_levels:
        info["reference_levels"] = dict(mf.reference_levels)
    info.update(extra)
    counts: dict[str, Any] = {"n_clusters": model.n_clusters}
    if mf.z is not None:
        counts.update(n_treated=int(mf.z.sum()), n_control=int(mf.n - mf.z.sum()))
    return model.result(term, estimand=estimand, extra=info, **counts)
