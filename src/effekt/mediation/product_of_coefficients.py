"""Product of coefficients (Baron & Kenny) with Sobel and bootstrap intervals."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from effekt.data import check_positive_int, check_seed
from effekt.errors import warn as warn_user
from effekt.mediation._design import prepare
from effekt.mediation._glm import SE_TYPES, fit_model, ols_batch
from effekt.mediation._inference import _pval, resample_batches
from effekt.mediation.mediation import Mediation, design_warnings, resolve_se_type
from effekt.protocol import EstimatorTags, Synthetic
from effekt.result import EffectResult, EffectTable, check_alpha
from effekt.vocabulary import Choice, Constraint, Number, validated

__all__ = ["ProductOfCoefficients", "PRODUCT_ASSUMPTIONS"]

PRODUCT_ASSUMPTIONS = (
    "Product of coefficients (Baron & Kenny 1986; Sobel 1982), for comparison with the causal "
    "mediation estimates. It is the ACME only if (1) mediator and outcome are linear in the "
    "treatment and the mediator, (2) the treatment does not modify the mediator's effect (no "
    "treatment x mediator interaction), and (3) sequential ignorability holds: no unmeasured "
    "mediator-outcome confounder, none affected by the treatment. The Sobel interval also "
    "assumes a*b is normal, which fails near a*b = 0 (use the bootstrap interval)."
)


class ProductOfCoefficients:
    """Indirect effect as the product a * b of two linear regressions.

    Estimand: the indirect effect a * b, where a is the treatment's
    coefficient in the linear regression of the mediator on treatment and
    covariates, and b the mediator's coefficient in the linear regression of
    the outcome on treatment, mediator and covariates. It equals the ACME of
    :class:`~effekt.mediation.Mediation` with linear models and no
    interaction, and only then (see ``PRODUCT_ASSUMPTIONS``).

    Formula:

        M = a_0 + a T + X'a_x + e_M;  Y = c_0 + c' T + b M + X'c_x + e_Y
        indirect = a b;  direct = c';  total = c' + a b (= the coefficient of T in
        the regression of Y on T and X, exactly, by the omitted-variable identity)
        Sobel SE = sqrt(a^2 se(b)^2 + b^2 se(a)^2)      (Sobel 1982, first order)

    Defaults and why: ``se_type`` ``"HC2"`` (``"CR1"`` with clusters), as
    :class:`~effekt.mediation.Mediation`; ``sims=1000`` bootstrap resamples
    for the percentile interval (Preacher & Hayes 2008), which does not rely
    on a * b being normal; the bootstrap resamples clusters when
    ``clusters`` is given.

    Parameters
    ----------
    data : DataFrame
        One row per unit.
    outcome : str
        The outcome column.
    treatment : str
        The arm: 0/1, bool, or two labels declared with ``arms=``.
    mediator : str
        The mediator column.
    covariates : list of str, default=None
        Pre-treatment covariates, in both regressions.
    blocks : str, default=None
        Randomisation blocks, as indicators in both regressions.
    clusters : str, default=None
        Units of assignment; cluster-robust SEs and a cluster bootstrap.
    weights : str, default=None
        Positive unit weights.
    sims : int, default=1000
        Bootstrap resamples (10 to 10^6); ``extra["sims"]`` reports it.
    se_type : {"classical", "HC0", "HC1", "HC2", "HC3", "CR0", "CR1"}, default=None
        None: HC2, or CR1 with clusters.
    alpha : float, default=0.05
        Intervals at level 1 - alpha.
    seed : int or numpy Generator, default=None
        Seed of the bootstrap.
    arms : (control, treated), default=None
        The labels of the treatment column's two arms; None for 0/1 or bool.
    missing : {"error", "drop"}, default="error"
        What to do with missing values in the columns used.

    Returns
    -------
    EffectTable
        Rows ``indirect`` (a b with the Sobel interval; headline),
        ``indirect_bootstrap`` (a b with the percentile bootstrap interval),
        ``a_path``, ``b_path``, ``direct`` (c') and ``total``;
        ``extra["assumptions"]`` states what the product needs to be causal.

    Raises
    ------
    DataError, DesignError, EstimationError
        As :class:`~effekt.mediation.Mediation`.

    References
    ----------
    Baron, R. M. & Kenny, D. A. (1986). Journal of Personality and Social
    Psychology 51(6), 1173-1182, doi:10.1037/0022-3514.51.6.1173.
    Sobel, M. E. (1982). Asymptotic confidence intervals for indirect
    effects in structural equation models. Sociological Methodology 13,
    290-312, doi:10.2307/270723.
    Preacher, K. J. & Hayes, A. F. (2008). Behavior Research Methods 40(3),
    879-891, doi:10.3758/BRM.40.3.879.

    Examples
    --------
    >>> import effekt as ef
    >>> sim = Mediation.simulate(np.random.default_rng(1), n=400, effect=0.5)
    >>> tab = ef.estimate("product_of_coefficients", data=sim.data, outcome="y",
    ...                   treatment="z", mediator="m", covariates=["x"], sims=200, seed=3)
    >>> round(tab["indirect"].estimate, 4), tab["indirect"].se_type
    (0.4946, 'sobel (HC2)')
    """

    name = "product_of_coefficients"
    estimand = "indirect_effect"
    kind = "mediation"
    options: ClassVar[dict[str, Constraint]] = {
        "sims": Number(low=10, high=10**6, integer=True),
        "se_type": Choice(SE_TYPES, none_ok=True),
    }
    tags = EstimatorTags(
        outcome="continuous",
        supports_blocks=True,
        supports_clusters=True,
        supports_covariates=True,
        supports_weights=True,
        shift_equivariant=False,
        scale_equivariant=True,
        sign_flip=True,
        uses_seed=True,
        coverage_check=True,
    )

    @classmethod
    def simulate(cls, rng: np.random.Generator, *, n: int, effect: float) -> Synthetic:
        """The linear structural model of :meth:`Mediation.simulate` (a b = ``effect``)."""
        return Mediation.simulate(rng, n=n, effect=effect)

    @validated
    def fit(
        self,
        data: Any,
        *,
        outcome: str,
        treatment: str,
        mediator: str,
        covariates: Any = None,
        blocks: Any = None,
        clusters: Any = None,
        weights: Any = None,
        sims: int = 1000,
        se_type: str | None = None,
        alpha: float = 0.05,
        seed: Any = None,
        arms: Any = None,
        missing: str = "error",
    ) -> EffectTable:
        prob = prepare(
            data, outcome=outcome, treatment=treatment, mediator=mediator, covariates=covariates,
            blocks=blocks, clusters=clusters, weights=weights, mediator_model="linear",
            outcome_model="linear", interaction=False, arms=arms, missing=missing, estimator=self.name,
        )
        alpha = check_alpha(alpha)
        sims = check_positive_int(sims, "sims", minimum=10)
        rng = check_seed(seed)
        clustered = prob.cols.clusters is not None
        se_type = resolve_se_type(se_type, "quasi-bayesian", clustered, has_method=False)
        m_se = {"CR0": "HC0", "CR1": "HC1"}.get(se_type, se_type) if prob.mediator_level == "cluster" else se_type
        fm = fit_model("linear", prob.m, prob.W, prob.w_m, names=prob.m_names, what="mediator",
                       se_type=m_se, clusters=None if prob.mediator_level == "cluster" else prob.cols.clusters)
        fy = fit_model("linear", prob.y, prob.X, prob.w, names=prob.y_names, what="outcome",
                       se_type=se_type, clusters=prob.cols.clusters)
        keep = [j for j in range(prob.X.shape[1]) if j != prob.y_m]
        ft = fit_model("linear", prob.y, prob.X[:, keep], prob.w, names=tuple(prob.y_names[j] for j in keep),
                       what="total-effect", se_type=se_type, clusters=prob.cols.clusters)
        a, b = float(fm.coef[prob.m_z]), float(fy.coef[prob.y_m])
        se_a, se_b = float(np.sqrt(fm.vcov[prob.m_z, prob.m_z])), float(np.sqrt(fy.vcov[prob.y_m, prob.y_m]))
        sobel = float(np.sqrt(a * a * se_b * se_b + b * b * se_a * se_a))  # Sobel (1982)

        boot = np.empty(sims)
        for rows, Wm, Wy, n_m in resample_batches(prob, sims, rng):
            am, _ = ols_batch(prob.m, prob.W, Wm, n=n_m, what="mediator")
            by, _ = ols_batch(prob.y, prob.X, Wy, n=prob.cols.n, what="outcome")
            boot[rows] = am[:, prob.m_z] * by[:, prob.y_m]

        warn = list(prob.cols.warnings()) + design_warnings(prob)
        for w in warn:
            warn_user(w)
        common: dict[str, Any] = {
            "estimator": self.name, "n": prob.cols.n, "n_treated": prob.cols.n_treated,
            "n_control": prob.cols.n_control, "design": prob.design, "warnings": tuple(warn),
            "outcome": str(outcome),
        }
        lo, hi = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
        rows_out = [
            EffectResult.from_z(a * b, sobel, alpha=alpha, estimand="indirect_effect", term="indirect",
                                se_type=f"sobel ({se_type})", **common),
            EffectResult(estimand="indirect_effect", term="indirect_bootstrap", estimate=a * b,
                         std_error=float(np.std(boot, ddof=1)), conf_int=(float(lo), float(hi)),
                         conf_level=1 - alpha, p_value=_pval(boot, a * b), df=None,
                         se_type="cluster-bootstrap" if clustered else "bootstrap",
                         ci_method="bootstrap-percentile", extra={"sims": sims}, **common),
            EffectResult.from_z(a, se_a, alpha=alpha, estimand="a_path", term="a_path", se_type=m_se, **common),
            EffectResult.from_z(b, se_b, alpha=alpha, estimand="b_path", term="b_path", se_type=se_type, **common),
            EffectResult.from_z(float(fy.coef[prob.y_z]), float(np.sqrt(fy.vcov[prob.y_z, prob.y_z])),
                                alpha=alpha, estimand="direct_effect", term="direct", se_type=se_type, **common),
            EffectResult.from_z(float(ft.coef[prob.y_z]), float(np.sqrt(ft.vcov[prob.y_z, prob.y_z])),
                                alpha=alpha, estimand="total_effect", term="total", se_type=se_type, **common),
        ]
        extra = {
            "reference_levels": dict(prob.cols.reference_levels),
            "assumptions": PRODUCT_ASSUMPTIONS,
            "mediator": str(mediator),
            "mediator_level": prob.mediator_level,
            "se_type": se_type,
            "sims": sims,
        }
        return EffectTable(estimator=self.name, rows=tuple(rows_out), extra=extra, warnings=tuple(warn),
                           headline_term="indirect")
