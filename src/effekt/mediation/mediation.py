"""Causal mediation: average causal mediation and direct effects (ACME, ADE)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from effekt.data import check_option, check_positive_int, check_seed
from effekt.errors import DesignError
from effekt.errors import warn as warn_user
from effekt.mediation._design import Problem, prepare
from effekt.mediation._effects import summaries
from effekt.mediation._glm import FAMILIES, SE_TYPES, Fit, fit_model
from effekt.mediation._inference import (
    _bootstrap,
    _jackknife,
    _point_effects,
    _pval,
    _quasi_bayes,
    bca_interval,
)
from effekt.mediation.plot import plot_mediation
from effekt.protocol import EstimatorTags, Synthetic
from effekt.result import EffectResult, EffectTable, check_alpha
from effekt.vocabulary import Choice, Constraint, Number, validated

__all__ = ["ESTIMANDS", "Mediation", "TERMS", "SEQUENTIAL_IGNORABILITY"]

TERMS = (
    "acme",
    "acme_control",
    "acme_treated",
    "ade",
    "ade_control",
    "ade_treated",
    "total",
    "prop_mediated",
    "prop_mediated_control",
    "prop_mediated_treated",
)
METHODS = ("quasi-bayesian", "bootstrap")
# the vocabulary estimand of each row; the arm is in the term name
ESTIMANDS = {
    "acme": "acme", "acme_control": "acme", "acme_treated": "acme",
    "ade": "ade", "ade_control": "ade", "ade_treated": "ade",
    "total": "total_effect",
    "prop_mediated": "proportion_mediated", "prop_mediated_control": "proportion_mediated",
    "prop_mediated_treated": "proportion_mediated",
}
SEQUENTIAL_IGNORABILITY = (
    "ACME and ADE are causal only under sequential ignorability: the treatment is as good as "
    "randomised given the covariates, and the mediator is as good as randomised given the "
    "treatment and the covariates (no unmeasured mediator-outcome confounder, and no "
    "confounder affected by the treatment). Randomising the treatment secures only the first "
    "half; effekt.mediation.sensitivity shows how far the ACME moves when the second fails."
)


class Mediation:
    """Average causal mediation effect (ACME) and average direct effect (ADE).

    Estimand: for a binary treatment T and a mediator M measured after it,
    the ACME under arm t is delta(t) = E[Y(t, M(1)) - Y(t, M(0))], the part
    of the treatment effect that runs through the mediator, and the ADE is
    zeta(t) = E[Y(1, M(t)) - Y(0, M(t))], the rest. Their averages over
    t in {0, 1} are the headline ``acme`` and ``ade``; the total effect is
    tau = delta(1) + zeta(0) = delta(0) + zeta(1) (reported as the mean of
    the two), and the proportion mediated under t is delta(t) / tau (Imai,
    Keele & Tingley 2010, eqs. 2-4).

    Formula: two working models, fitted by weighted maximum likelihood,

        mediator:  g_M(E[M | T, X]) = a_0 + a_z T + X'a_x (+ block indicators)
        outcome:   g_Y(E[Y | T, M, X]) = b_0 + b_z T + b_m M (+ b_zm T M) + X'b_x (+ blocks)

    with g linear, logit or probit for each. E[Y(t, M(t')) | X] is the
    outcome mean integrated over the mediator model's distribution under t',
    in closed form where one exists (see ``effekt.mediation._effects``), and
    delta, zeta are its weighted averages over the sample. For linear models
    without interaction this gives ACME = a_z * b_m exactly, the product of
    coefficients, and ADE = b_z.

    Defaults and why:

    * ``method="quasi-bayesian"`` (Imai, Keele & Tingley 2010, algorithm 1;
      King, Tomz & Wittenberg 2000): ``sims`` draws of both models'
      coefficients from their asymptotic normal distributions, the effects
      computed for every draw at once, percentile intervals. It is fast and
      R's default. ``method="bootstrap"`` (algorithm 2) refits both models
      on ``sims`` resamples, all resamples at once; it is the default for a
      cluster-level mediator, whose model has as many rows as clusters and
      whose normal approximation is poor.
    * ``se_type`` (quasi-Bayesian only) ``"HC2"`` for units sampled
      independently, as estimatr; ``"CR1"`` when ``clusters`` is given (R
      mediation's ``cluster=`` uses the same G/(G-1) (n-1)/(n-k) factor).
    * With ``clusters`` the bootstrap resamples whole clusters; with
      ``blocks`` it resamples within blocks, so every resample keeps both
      arms' block composition.
    * ``sims=1000``, R's default.

    Parameters
    ----------
    data : DataFrame
        One row per unit.
    outcome : str
        The outcome column.
    treatment : str
        The arm: 0/1, bool, or two labels declared with ``arms=``.
    mediator : str
        The mediator column, measured after treatment and before the outcome.
    covariates : list of str, default=None
        Pre-treatment covariates, in both models.
    blocks : str, default=None
        Randomisation blocks; enter both models as indicators.
    clusters : str, default=None
        Units of assignment (municipalities, job centres). A mediator that
        is constant within every cluster is a cluster-level mediator.
    weights : str, default=None
        Positive unit weights, used in both models and in the averages.
    mediator_model : {"linear", "logit", "probit"}, default="linear"
        The mediator's model.
    outcome_model : {"linear", "logit", "probit"}, default="linear"
        The outcome's model.
    interaction : bool, default=False
        Add the treatment x mediator product to the outcome model, so that
        ACME and ADE differ between the arms.
    method : {"quasi-bayesian", "bootstrap"}, default=None
        None: quasi-Bayesian, or the bootstrap for a cluster-level mediator
        (see the defaults above).
    sims : int, default=1000
        Number of quasi-Bayesian draws or bootstrap resamples (10 to 10^6);
        ``extra["sims"]`` reports it.
    se_type : {"classical", "HC0", "HC1", "HC2", "HC3", "CR0", "CR1"}, default=None
        Covariance of the coefficients for the quasi-Bayesian draws (None:
        HC2, or CR1 with clusters).
    boot_ci : {"percentile", "bca"}, default="percentile"
        Bootstrap interval: percentiles (R's default), or bias-corrected and
        accelerated (Efron 1987), the acceleration from a grouped jackknife
        over the resampling units.
    alpha : float, default=0.05
        Intervals at level 1 - alpha.
    seed : int or numpy Generator, default=None
        Seed of the draws.
    arms : (control, treated), default=None
        The labels of the treatment column's two arms, e.g.
        ``("usual", "course")``; None for a 0/1 or bool treatment.
    missing : {"error", "drop"}, default="error"
        What to do with missing values in the columns used.

    Returns
    -------
    EffectTable
        Rows ``acme`` (headline, first), ``acme_control``, ``acme_treated``,
        ``ade``, ``ade_control``, ``ade_treated``, ``total``,
        ``prop_mediated``, ``prop_mediated_control``,
        ``prop_mediated_treated``, with estimands ``acme``, ``ade``,
        ``total_effect`` and ``proportion_mediated`` (the arm is in the term
        name). ``std_error`` is the standard deviation of the draws,
        ``conf_int`` their percentiles, ``p_value`` as R's ``mediate()``.
        ``extra`` holds both models' coefficients, the settings, ``"sims"``
        and ``"assumptions"``. ``plot()`` draws ACME, ADE and total effect
        with their intervals (:func:`~effekt.mediation.plot.plot_mediation`).

    Raises
    ------
    DataError
        Missing columns, NaN, a non-0/1 treatment, a mediator or outcome
        that is not 0/1 under a logit/probit model, a constant mediator,
        a block with one arm, non-positive weights.
    DesignError
        Unknown options; ``se_type`` that does not fit the design; a
        cluster-level mediator with a treatment that varies within clusters.
    EstimationError
        A singular design or a logit/probit model that does not converge
        (separation).

    Notes
    -----
    * Point estimates are the effects at the fitted coefficients. R's
      ``mediate()`` and statsmodels report the mean of the simulated
      effects (and the median for the proportion mediated) and draw the
      mediator at random, so their estimates carry Monte Carlo noise that
      these do not; the two agree within that noise.
    * The cluster-level mediator's model weighs every cluster equally (one
      row per cluster); unit weights enter the outcome model and averages.
    * Bootstrap intervals are percentile intervals by default (R's
      ``boot.ci.type="perc"``); ``boot_ci="bca"`` gives Efron's BCa with the
      textbook bias correction and jackknife acceleration (R's "bca" option
      estimates both from the draws).

    References
    ----------
    Imai, K., Keele, L. & Tingley, D. (2010). A general approach to causal
    mediation analysis. Psychological Methods 15(4), 309-334,
    doi:10.1037/a0020761 (eqs. 2-4; algorithms 1 and 2, p. 317).
    Efron, B. (1987). Better bootstrap confidence intervals. JASA 82(397),
    171-185, doi:10.1080/01621459.1987.10478410.
    Tingley, D., Yamamoto, T., Hirose, K., Keele, L. & Imai, K. (2014).
    mediation: R package for causal mediation analysis. Journal of
    Statistical Software 59(5), doi:10.18637/jss.v059.i05.

    Examples
    --------
    >>> import effekt as ef
    >>> sim = Mediation.simulate(np.random.default_rng(1), n=400, effect=0.5)
    >>> tab = ef.estimate("mediation", data=sim.data, outcome="y", treatment="z",
    ...                   mediator="m", covariates=["x"], sims=200, seed=3)
    >>> tab.terms[:3]
    ['acme', 'acme_control', 'acme_treated']
    >>> round(tab["acme"].estimate, 3), tab["acme"].ci_method
    (0.495, 'quasi-bayesian')
    """

    name = "mediation"
    estimand = "acme"
    kind = "mediation"
    options: ClassVar[dict[str, Constraint]] = {
        "mediator_model": Choice(FAMILIES),
        "outcome_model": Choice(FAMILIES),
        "method": Choice(METHODS, none_ok=True),
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
        """A linear structural model whose ACME is ``effect`` and ADE 0.3.

        z: half the units treated (complete randomisation); x ~ N(0, 1);
        m = 0.5 + effect z + 0.5 x + e_m; y = 1 + 0.3 z + m + 0.5 x + e_y;
        e_m, e_y independent N(0, 1). ACME = effect * 1.
        """
        n = int(n)
        z = np.zeros(n)
        z[rng.permutation(n)[: n // 2]] = 1.0
        x = rng.standard_normal(n)
        m = 0.5 + effect * z + 0.5 * x + rng.standard_normal(n)
        y = 1.0 + 0.3 * z + m + 0.5 * x + rng.standard_normal(n)
        data = pd.DataFrame({"y": y, "z": z.astype(int), "m": m, "x": x})
        spec = {"outcome": "y", "treatment": "z", "mediator": "m", "covariates": ["x"], "sims": 200}
        return Synthetic(data=data, spec=spec, truth=float(effect), outcome="y", treatment="z",
                         extra={"ade": 0.3})

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
        mediator_model: str = "linear",
        outcome_model: str = "linear",
        interaction: bool = False,
        method: str | None = None,
        sims: int = 1000,
        se_type: str | None = None,
        boot_ci: str = "percentile",
        alpha: float = 0.05,
        seed: Any = None,
        arms: Any = None,
        missing: str = "error",
    ) -> EffectTable:
        # 1. check the input
        prob = prepare(
            data, outcome=outcome, treatment=treatment, mediator=mediator, covariates=covariates,
            blocks=blocks, clusters=clusters, weights=weights, mediator_model=mediator_model,
            outcome_model=outcome_model, interaction=interaction, arms=arms, missing=missing,
            estimator=self.name,
        )
        alpha = check_alpha(alpha)
        sims = check_positive_int(sims, "sims", minimum=10)
        rng = check_seed(seed)
        # 2. the design was inferred by prepare(): blocks, clusters, mediator level
        clustered = prob.cols.clusters is not None
        # 3. defaults
        if method is None:
            method = "bootstrap" if prob.mediator_level == "cluster" else "quasi-bayesian"
        check_option(method, "method", METHODS)
        check_option(boot_ci, "boot_ci", ("percentile", "bca"))
        if boot_ci == "bca" and method != "bootstrap":
            raise DesignError("boot_ci='bca' needs method='bootstrap'; the quasi-Bayesian draws give percentile intervals.")
        se_type = resolve_se_type(se_type, method, clustered)
        fm, fy = fit_models(prob, se_type if method == "quasi-bayesian" else "classical")
        point = summaries(_point_effects(prob, fm, fy))
        if method == "quasi-bayesian":
            draws = summaries(_quasi_bayes(prob, fm, fy, sims, rng))
            ci_method, se_label = "quasi-bayesian", se_type
        else:
            draws = summaries(_bootstrap(prob, fm, fy, sims, rng))
            ci_method = f"bootstrap-{boot_ci}"
            se_label = "cluster-bootstrap" if clustered else "bootstrap"
            if boot_ci == "bca":
                jack = summaries(_jackknife(prob, fm, fy, rng))
        # 4. the result
        warn = list(prob.cols.warnings()) + design_warnings(prob)
        total = draws["total"][np.isfinite(draws["total"])]
        t_lo, t_hi = np.quantile(total, [alpha / 2, 1 - alpha / 2])
        if t_lo <= 0.0 <= t_hi:
            warn.append(
                f"the total effect's {100 * (1 - alpha):g}% interval [{t_lo:.4g}, {t_hi:.4g}] includes 0, so "
                "the proportion mediated divides by numbers near 0: read its estimate and interval as "
                "undefined, and report the ACME and ADE instead."
            )
        for w in warn:
            warn_user(w)
        rows = []
        for term in TERMS:
            est = float(point[term][0])
            d = draws[term]
            d = d[np.isfinite(d)]
            if boot_ci == "bca" and method == "bootstrap" and d.size:
                lo, hi = bca_interval(d, est, jack[term], alpha)
            else:
                lo, hi = (np.quantile(d, [alpha / 2, 1 - alpha / 2]) if d.size else (np.nan, np.nan))
            rows.append(
                EffectResult(
                    estimator=self.name, estimand=ESTIMANDS[term], term=term, estimate=est,
                    std_error=float(np.std(d, ddof=1)) if d.size > 1 else np.nan,
                    conf_int=(float(lo), float(hi)), conf_level=1 - alpha,
                    p_value=_pval(d, est), df=None, n=prob.cols.n,
                    n_treated=prob.cols.n_treated, n_control=prob.cols.n_control,
                    se_type=se_label, design=prob.design, warnings=tuple(warn),
                    outcome=str(outcome), ci_method=ci_method,
                    extra={"sims": int(d.size)},
                )
            )
        extra = {
            "reference_levels": dict(prob.cols.reference_levels),
            "mediator": str(mediator),
            "mediator_model": mediator_model,
            "outcome_model": outcome_model,
            "interaction": bool(interaction),
            "method": method,
            "sims": sims,
            "se_type": se_label,
            "mediator_level": prob.mediator_level,
            "mediator_coef": dict(zip(fm.names, fm.coef.tolist())),
            "outcome_coef": dict(zip(fy.names, fy.coef.tolist())),
            "mediator_sigma": fm.sigma if mediator_model == "linear" else None,
            "assumptions": SEQUENTIAL_IGNORABILITY,
        }
        if clustered:
            extra["n_clusters"] = int(prob.cols.clusters.max()) + 1  # type: ignore[union-attr]
        return EffectTable(estimator=self.name, rows=tuple(rows), extra=extra, warnings=tuple(warn),
                           headline_term="acme", plotter=plot_mediation)


def resolve_se_type(se_type: str | None, method: str, clustered: bool, *, has_method: bool = True) -> str:
    """The covariance type of the quasi-Bayesian draws (ignored by the bootstrap).

    ``has_method=False`` (product of coefficients) keeps the messages from
    suggesting ``method=``, an option that estimator does not take.
    """
    if method == "bootstrap":
        if se_type is not None:
            raise DesignError(
                f"se_type={se_type!r} applies to method='quasi-bayesian' only; the bootstrap "
                "takes its uncertainty from the resamples. Drop se_type or use the quasi-Bayesian method."
            )
        return "bootstrap"
    if se_type is None:
        return "CR1" if clustered else "HC2"
    check_option(se_type, "se_type", SE_TYPES)
    if clustered and not se_type.startswith("CR"):
        raise DesignError(
            f"se_type={se_type!r} ignores the clusters; with clusters= use 'CR0' or 'CR1'"
            + (" (or method='bootstrap' for a cluster bootstrap)." if has_method else ".")
        )
    if not clustered and se_type.startswith("CR"):
        raise DesignError(
            f"se_type={se_type!r} needs clusters=. Without clusters use one of 'classical', "
            "'HC0', 'HC1', 'HC2', 'HC3'."
        )
    return se_type


def fit_models(prob: Problem, se_type: str) -> tuple[Fit, Fit]:
    """The fitted mediator and outcome models."""
    m_se = se_type
    m_clusters = prob.cols.clusters
    if prob.mediator_level == "cluster":
        # clusters are the mediator model's independent rows
        m_se = {"CR0": "HC0", "CR1": "HC1"}.get(se_type, se_type)
        m_clusters = None
    fm = fit_model(
        prob.m_family, prob.m, prob.W, prob.w_m, names=prob.m_names, what="mediator",
        se_type=m_se, clusters=m_clusters,
    )
    fy = fit_model(
        prob.y_family, prob.y, prob.X, prob.w, names=prob.y_names, what="outcome",
        se_type=se_type, clusters=prob.cols.clusters,
    )
    return fm, fy


def design_warnings(prob: Problem) -> list[str]:
    """Warnings that belong to the design rather than to one number."""
    out = []
    if prob.mediator_level == "cluster":
        G = prob.W.shape[0]
        out.append(
            f"the mediator {prob.names['mediator']!r} is measured per cluster ({G} clusters): its "
            "effect on the outcome is estimated from differences between clusters, an ecological "
            "inference. Cluster traits that go with the mediator confound the ACME even when the "
            "treatment is randomised; the ACME says how outcomes vary with a cluster's mediator, "
            "not how an individual's outcome would change."
        )
    if prob.cols.clusters is not None:
        G = int(prob.cols.clusters.max()) + 1
        if G < 20:
            out.append(
                f"only {G} clusters: cluster-robust and cluster-bootstrap intervals are too narrow "
                "with so few clusters; read them as a lower bound on the uncertainty."
            )
    return out
