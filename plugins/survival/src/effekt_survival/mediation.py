"""Causal mediation of a time-to-event outcome: ACME and ADE on the RMST or survival scale."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from effekt.data import check_columns, check_seed
from effekt.errors import DataError, DesignError, EstimationError
from effekt.errors import warn as warn_user
from effekt.mediation import SEQUENTIAL_IGNORABILITY
from effekt.mediation.models import (
    FAMILIES,
    TERMS,
    draw_coefficients,
    fit_working_model,
    mean_function,
    mediation_summaries,
    simulation_pvalue,
)
from effekt.protocol import EstimatorTags, Synthetic
from effekt.result import EffectResult, EffectTable, check_alpha
from effekt.vocabulary import Number, validated
from effekt_survival import _coxkernel as K
from effekt_survival._data import check_survival, require_events

__all__ = ["MediationSurvival", "SURVIVAL_MEDIATION_ASSUMPTIONS"]

GH_NODES_POINT = 40  # quadrature error below 1e-14 for the point estimate
GH_NODES_DRAWS = 12  # below 1e-9 per draw, far under the Monte Carlo error
_CHUNK_ELEMENTS = 2_000_000

SURVIVAL_MEDIATION_ASSUMPTIONS = (
    SEQUENTIAL_IGNORABILITY
    + " For a time-to-event outcome also: the mediator is measured before the outcome window opens "
    "(nobody has the event before the mediator is taken), the hazard is proportional in treatment, "
    "mediator and covariates within each block (a Cox model), and censoring is independent of the "
    "event given them."
)


def breslow(time: np.ndarray, event: np.ndarray, strata: np.ndarray, w: np.ndarray,
            eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Breslow cumulative baseline hazard for every column of linear predictors.

    ``eta`` is (n, S), one column per coefficient draw. Returns the union grid
    of event times (J,) and H0 (strata, J, S), a right-continuous step
    function per stratum: H0_s(t) = sum over event times u <= t of
    d(u) / sum_{i in stratum s at risk at u} w_i exp(eta_i) (Breslow 1972).
    """
    grid = np.unique(time[event == 1])
    n_strata = int(strata.max()) + 1
    H = np.zeros((n_strata, grid.size, eta.shape[1]))
    risk = w[:, None] * np.exp(eta)
    for s in range(n_strata):
        rows = np.flatnonzero(strata == s)
        order = rows[np.argsort(time[rows], kind="stable")]
        t_s = time[order]
        at_risk = np.cumsum(risk[order][::-1], axis=0)[::-1]  # sum over rows k.. of the stratum
        ev = event[order] == 1
        if not ev.any():
            continue
        et = np.unique(t_s[ev])
        d = np.bincount(np.searchsorted(et, t_s[ev]), weights=w[order][ev], minlength=et.size)
        Hs = np.cumsum(d[:, None] / at_risk[np.searchsorted(t_s, et, side="left")], axis=0)
        idx = np.searchsorted(et, grid, side="right") - 1
        H[s] = np.where(idx[:, None] >= 0, Hs[np.maximum(idx, 0)], 0.0)
    return grid, H


def _outcome(grid: np.ndarray, H: np.ndarray, strata: np.ndarray, lin: np.ndarray, tau: float,
             scale: str) -> np.ndarray:
    """RMST(tau) or S(tau) of exp(-H0(t) exp(lin)) for linear predictors lin (n, S).

    RMST(tau) = int_0^tau S(u) du is exact for the step function S: the sum of
    S(t_j) (t_{j+1} - t_j) over the event times t_j <= tau, with t_0 = 0 and
    the last piece ending at tau.
    """
    # a survival probability below 1e-308 is 0 to double precision: the underflow of exp(-H e^lin)
    # (a large cumulative hazard) is exact to the precision of the result, so it is not reported
    with np.errstate(under="ignore"):
        ee = np.exp(lin)
        keep = np.flatnonzero(grid <= tau)
        if keep.size == 0:
            return np.full_like(lin, tau if scale == "rmst" else 1.0)
        if scale == "survival":
            return np.exp(-H[strata, keep[-1], :] * ee)  # type: ignore[no-any-return]
        knots = np.concatenate([[0.0], grid[keep], [tau]])
        width = np.diff(knots)  # width[0]: before the first event (S = 1); width[j + 1]: after t_j
        out = np.full_like(lin, width[0])
        for s in np.unique(strata):
            rows = np.flatnonzero(strata == s)
            Hs = H[s][keep]  # (J, S)
            out[rows] += np.einsum("njs,j->ns", np.exp(-ee[rows][:, None, :] * Hs[None, :, :]), width[1:])
    return out


def _effects(*, m_family: str, alpha: np.ndarray, sigma: float, beta: np.ndarray, W0: np.ndarray,
             Xc: np.ndarray, Xcox: np.ndarray, time: np.ndarray, event: np.ndarray, strata: np.ndarray,
             w: np.ndarray, tau: float, scale: str, interaction: bool, nodes: int) -> np.ndarray:
    """delta(1), delta(0), zeta(1), zeta(0) for each row of draws (alpha, beta): (S, 4)."""
    gh_x, gh_w = np.polynomial.hermite.hermgauss(nodes)
    S = alpha.shape[0]
    n = W0.shape[0]
    wn = w / w.sum()
    n_steps = max(1, int(np.sum(np.unique(time[event == 1]) <= tau)))
    chunk = max(1, _CHUNK_ELEMENTS // (n * n_steps))  # the (units, event times, draws) blocks
    out = np.empty((S, 4))
    for lo in range(0, S, chunk):
        sl = slice(lo, min(S, lo + chunk))
        a, b = alpha[sl], beta[sl]
        grid, H = breslow(time, event, strata, w, Xcox @ b.T)
        base = Xc @ b[:, 2 + interaction:].T if Xc.shape[1] else np.zeros((n, a.shape[0]))
        b_z, b_m = b[:, 0], b[:, 1]
        b_zm = b[:, 2] if interaction else np.zeros(a.shape[0])
        mu0 = W0 @ a.T
        ey = {}
        for t in (0, 1):
            slope = b_m + t * b_zm
            for tp in (0, 1):
                mu = mu0 + tp * a[:, 1]
                if m_family == "linear":
                    acc = np.zeros_like(mu)
                    for xk, wk in zip(gh_x, gh_w):
                        m = mu + np.sqrt(2.0) * sigma * xk
                        acc += wk / np.sqrt(np.pi) * _outcome(grid, H, strata, base + t * b_z + slope * m, tau, scale)
                else:
                    p = mean_function(m_family, mu)
                    f0 = _outcome(grid, H, strata, base + t * b_z, tau, scale)
                    f1 = _outcome(grid, H, strata, base + t * b_z + slope, tau, scale)
                    acc = f0 + p * (f1 - f0)
                ey[t, tp] = acc
        out[sl, 0] = wn @ (ey[1, 1] - ey[1, 0])
        out[sl, 1] = wn @ (ey[0, 1] - ey[0, 0])
        out[sl, 2] = wn @ (ey[1, 1] - ey[0, 1])
        out[sl, 3] = wn @ (ey[1, 0] - ey[0, 0])
    return out


_ESTIMAND = {"acme": "acme", "ade": "ade", "total": "total_effect", "prop": "proportion_mediated"}


class MediationSurvival:
    """Causal mediation of a time to event (to employment, to leaving benefits).

    Estimand: the ACME and ADE of :class:`effekt.mediation.Mediation` with the
    outcome Y = min(T, tau), the restricted mean time to the event up to
    the horizon ``tau`` (``scale="rmst"``), or Y = 1{T > tau}, being event-free at
    ``tau`` (``scale="survival"``): delta(t) = E[Y(t, M(1)) - Y(t, M(0))],
    zeta(t) = E[Y(1, M(t)) - Y(0, M(t))], their averages (headline
    ``acme``), the total effect and the proportion mediated. Natural effects
    on the hazard-ratio scale are not reported: the Cox model is not
    collapsible, so a hazard ratio averaged over the mediator is not a hazard
    ratio of the model, and "the part of a hazard ratio that runs through M"
    has no definition outside rare-event approximations; the RMST and survival
    scales have one.

    Formula: a mediator model (linear, logit or probit, as ``Mediation``) and
    a Cox model for the event, stratified by block,

        h(t | T, M, X) = h0_block(t) exp(b_z T + b_m M (+ b_zm T M) + X'b_x),

    with the Breslow baseline H0. For each unit,

        E[Y(t, M(t'))] = E_{M ~ mediator model at t'} [ int_0^tau exp(-H0(u) exp(eta(t, M))) du ]

    (or exp(-H0(tau) exp(eta)) for the survival scale), the mediator
    integrated exactly for a 0/1 mediator and by Gauss-Hermite quadrature for
    a linear one (40 nodes for the estimate, 12 for each draw); RMST(tau) is
    the exact integral of the step function. The effects average these over
    the sample.

    Defaults and why: quasi-Bayesian inference (``sims=1000`` draws of both
    models' coefficients, Imai, Keele & Tingley 2010, algorithm 1), the
    baseline hazard re-estimated by Breslow for every draw, all draws
    evaluated together; ``horizon`` (tau) the smaller of the two arms' longest
    follow-up (as survRM2), so that both arms are observed up to ``tau``;
    mediator-model covariance HC2 (CR1 with clusters), Cox covariance
    model-based (robust, Lin & Wei 1989, with clusters).

    Parameters
    ----------
    data : DataFrame
    time : str
        Follow-up time from randomisation.
    event : str
        The event column: one cause of exit and 0 (or the ``censored=``
        label) for censored; other causes of exit must be recoded as censored.
    treatment : str
        Assigned arm: 0/1, or two labels declared with ``arms=``.
    mediator : str
        The numeric mediator, measured before the outcome window.
    horizon : float, default=None
        Horizon (tau) of the RMST or of the survival probability; None: the
        shorter arm's longest follow-up.
    arms : tuple, default=None
        ``(control, treated)`` labels of a text or categorical treatment.
    censored : value, default=None
        The event column's value meaning censored (None: 0 or False).
    scale : {"rmst", "survival"}, default="rmst"
        Restricted mean time or survival probability at the horizon.
    covariates : list of str, default=None
        Adjustment covariates; text or categorical ones become indicators.
    blocks : str, default=None
        Blocks stratify the Cox model and enter the mediator model as indicators.
    clusters : str, default=None
        Cluster column (robust covariances).
    weights : str, default=None
        Positive case weights.
    mediator_model : {"linear", "logit", "probit"}, default="linear"
        The mediator's model.
    interaction : bool, default=False
        Let the mediator's effect differ by arm.
    sims : int, default=1000
        Quasi-Bayesian draws (``extra["sims"]``), 10 to 10^6.
    alpha : float, default=0.05
        1 - confidence level.
    seed : int or numpy Generator, default=None
        Seed of the draws.
    ties : {"efron", "breslow"}, default="efron"
        As in ``cox``.
    missing : {"error", "drop"}, default="error"
        Refuse or drop rows with missing values.

    Returns
    -------
    EffectTable
        The rows of :class:`~effekt.mediation.Mediation` (``acme`` first), in
        time units (``rmst``) or probability (``survival``);
        ``extra["assumptions"]`` lists what the analysis assumes.

    Raises
    ------
    DataError
        Bad columns, negative times, event codes other than 0/1, no events.
    DesignError
        Unknown options, a horizon outside the follow-up.
    EstimationError
        A Cox or mediator model that cannot be fitted.

    Notes
    -----
    The mediator must be measured before anyone's outcome window opens
    (e.g. well-being at the start-up meeting, a job centre's caseload in the
    quarter before randomisation); a mediator measured during follow-up is
    affected by who has already had the event, and the analysis does not
    apply. The quasi-Bayesian draws re-estimate the baseline hazard given each
    drawn coefficient vector but do not draw the baseline's own sampling
    error; the coverage test shows the intervals keep their level for the
    contrasts reported here, which difference that error away.

    References
    ----------
    Imai, K., Keele, L. & Tingley, D. (2010), Psychological Methods 15(4), 309-334.
    Lange, T. & Hansen, J. V. (2011). Direct and indirect effects in a survival
    context. Epidemiology 22(4), 575-581, doi:10.1097/EDE.0b013e31821c680c.
    VanderWeele, T. J. (2011). Causal mediation analysis with survival data.
    Epidemiology 22(4), 582-585, doi:10.1097/EDE.0b013e31821db37e.
    Royston, P. & Parmar, M. K. B. (2013). Restricted mean survival time.
    BMC Medical Research Methodology 13, 152, doi:10.1186/1471-2288-13-152.

    Examples
    --------
    >>> import numpy as np, effekt as ef
    >>> sim = MediationSurvival.simulate(np.random.default_rng(1), n=300, effect=1.0)
    >>> tab = ef.estimate("mediation_survival", data=sim.data, time="time", event="event",
    ...                   treatment="z", mediator="m", mediator_model="logit",
    ...                   covariates=["x"], horizon=4.0, sims=100, seed=2)
    >>> tab.terms[0], tab.extra["scale"], tab.extra["horizon"]
    ('acme', 'rmst', 4.0)
    >>> round(sim.truth, 4), round(tab["acme"].estimate, 4)
    (-0.1626, -0.1949)
    """

    name = "mediation_survival"
    estimand = "acme"
    kind = "mediation"
    options: ClassVar[dict[str, Any]] = {"sims": Number(low=10, high=10**6, integer=True)}
    tags = EstimatorTags(
        outcome="survival",
        supports_blocks=True,
        supports_clusters=True,
        supports_covariates=True,
        supports_weights=True,
        shift_equivariant=False,
        scale_equivariant=False,
        sign_flip=True,
        uses_seed=True,
        coverage_check=True,
    )

    @classmethod
    def simulate(cls, rng: np.random.Generator, *, n: int, effect: float) -> Synthetic:
        """Exponential times to employment with a 0/1 mediator; the true ACME on the RMST scale.

        z: half treated; x ~ N(0, 1); m ~ Bernoulli(expit(-0.3 + effect z + 0.3 x))
        (e.g. a work placement); hazard 0.25 exp(0.3 z + 0.6 m + 0.3 x);
        administrative censoring at 5; tau = 4. The truth, the sample-average
        ACME given the units' x, is exact: RMST of an exponential is
        (1 - exp(-r tau)) / r.
        """
        n = int(n)
        z = np.zeros(n)
        z[rng.permutation(n)[: n // 2]] = 1.0
        x = rng.standard_normal(n)
        p = 1.0 / (1.0 + np.exp(-(-0.3 + effect * z + 0.3 * x)))
        m = (rng.random(n) < p).astype(float)
        rate = 0.25 * np.exp(0.3 * z + 0.6 * m + 0.3 * x)
        t = rng.exponential(1.0 / rate)
        time = np.minimum(t, 5.0)
        event = (t <= 5.0).astype(int)
        data = pd.DataFrame({"time": time, "event": event, "z": z.astype(int), "m": m, "x": x})
        tau = 4.0

        def rmst(t_: int, m_: float) -> np.ndarray:
            r = 0.25 * np.exp(0.3 * t_ + 0.6 * m_ + 0.3 * x)
            return (1.0 - np.exp(-r * tau)) / r  # type: ignore[no-any-return]

        def mean_y(t_: int, tp: int) -> np.ndarray:
            pm = 1.0 / (1.0 + np.exp(-(-0.3 + effect * tp + 0.3 * x)))
            return pm * rmst(t_, 1.0) + (1 - pm) * rmst(t_, 0.0)  # type: ignore[no-any-return]

        truth = float(np.mean(0.5 * ((mean_y(1, 1) - mean_y(1, 0)) + (mean_y(0, 1) - mean_y(0, 0)))))
        spec = {"time": "time", "event": "event", "treatment": "z", "mediator": "m",
                "mediator_model": "logit", "covariates": ["x"], "horizon": tau, "sims": 100}
        return Synthetic(data=data, spec=spec, truth=truth, outcome=None, treatment="z",
                         extra={"tau": tau})

    @validated
    def fit(
        self,
        data: Any,
        *,
        time: str,
        event: str,
        treatment: str,
        mediator: str,
        horizon: Any = None,
        arms: tuple[Any, Any] | None = None,
        censored: Any = None,
        scale: str = "rmst",
        covariates: Any = None,
        blocks: Any = None,
        clusters: Any = None,
        weights: Any = None,
        mediator_model: str = "linear",
        interaction: bool = False,
        sims: int = 1000,
        alpha: float = 0.05,
        seed: Any = None,
        ties: str = "efron",
        missing: str = "error",
    ) -> EffectTable:
        # 1. check the input
        alpha = check_alpha(alpha)
        if mediator_model not in FAMILIES:
            raise DesignError(
                f"{self.name}: mediator_model={mediator_model!r} is not valid; use one of "
                f"{', '.join(repr(f) for f in FAMILIES)}."
            )
        if sims < 10:
            raise DesignError(f"{self.name}: sims={sims} is too few; pass sims >= 10.")
        tau = horizon
        if tau is not None and not np.isscalar(tau):
            taus = list(np.atleast_1d(np.asarray(tau, dtype=float)))
            if len(taus) != 1:
                raise DesignError(f"{self.name}: horizon= takes one time here; got {horizon!r}.")
            tau = float(taus[0])
        rng = check_seed(seed)
        if mediator is None or mediator in (time, event, treatment):
            raise DesignError(
                f"{self.name}: mediator= must name its own column, measured before the outcome window; "
                f"got {mediator!r}."
            )
        covs = [covariates] if isinstance(covariates, str) else list(covariates or [])
        if missing == "error":
            check_columns(data, numeric={"mediator": mediator})  # mediator-labelled messages
        sc = check_survival(
            data, time=time, event=event, treatment=treatment, arms=arms, censored=censored, blocks=blocks,
            clusters=clusters, covariates=[*covs, mediator], weights=weights, missing=missing,
            estimator=self.name, strata_need_both_arms=True,
        )
        require_events(sc, estimator=self.name)
        cols = sc.cols
        assert cols.X is not None
        if np.any(sc.event > 1):
            raise DataError(
                f"{self.name}: event column {event!r} holds {len(sc.cause_labels)} causes of exit "
                f"({', '.join(repr(c) for c in sc.cause_labels)}); mediation of one cause among competing exits is not defined here. Recode the "
                "other causes as censored (0) only if they truly censor, or analyse a combined exit."
            )
        m = cols.X[:, -1]
        Xc = cols.X[:, :-1]
        z = sc.z.astype(float)
        n = cols.n
        w = cols.weights if cols.weights is not None else np.ones(n)
        if mediator_model != "linear" and not np.all(np.isin(m, (0.0, 1.0))):
            raise DataError(
                f"mediator column {mediator!r} must hold 0 and 1 for a {mediator_model} mediator model; "
                "recode it or use mediator_model='linear'."
            )
        if np.all(m == m[0]):
            raise DataError(f"mediator column {mediator!r} is constant; a constant cannot mediate anything.")
        # 2. design
        strata = sc.strata if sc.strata is not None else np.zeros(n, dtype=np.int64)
        k_b = int(strata.max()) + 1
        B = np.zeros((n, k_b - 1))
        if k_b > 1:
            r = np.flatnonzero(strata > 0)
            B[r, strata[r] - 1] = 1.0
        clustered = cols.clusters is not None
        # 3. defaults
        arm_max = [sc.time[z == a].max() for a in (0.0, 1.0)]
        tau_ = float(min(arm_max)) if tau is None else float(tau)
        if not (0.0 < tau_ <= float(min(arm_max))):
            raise DesignError(
                f"{self.name}: horizon={horizon!r} must be positive and no later than the shorter arm's longest "
                f"follow-up ({min(arm_max):g} in time column {time!r}), so that both arms are observed up to the "
                "horizon."
            )
        first_event = float(sc.time[sc.event == 1].min()) if (sc.event == 1).any() else float("inf")
        if tau_ < first_event:
            raise DesignError(
                f"{self.name}: horizon={horizon!r} is before the first event ({first_event:g} in time column "
                f"{time!r}" + (f", events coded with censored={censored!r}" if censored is not None else "")
                + "): everyone is "
                "event-free up to it in both arms, so there is no effect to decompose. Pick a later horizon."
            )
        W = np.column_stack([np.ones(n), z, Xc, B])
        fm = fit_working_model(mediator_model, m, W, w, names=("(Intercept)", str(treatment),
                               *map(str, cols.covariate_names[:-1]), *(f"block[{b}]" for b in range(1, k_b))),
                               what="mediator", se_type="CR1" if clustered else "HC2",
                               clusters=cols.clusters)
        zm = [z * m] if interaction else []
        Xcox = np.column_stack([z, m, *zm, Xc])
        P = K.prepare(sc.time, (sc.event == 1), Xcox, strata=strata, weights=w, ties=ties)
        try:
            beta, _, info, _ = K.newton(P)
            vcov = np.linalg.inv(info)
        except (EstimationError, np.linalg.LinAlgError) as exc:
            covs = [covariates] if isinstance(covariates, str) else list(covariates or [])
            named = ", ".join(repr(c) for c in (treatment, mediator, *covs))
            raise EstimationError(f"{self.name}: the Cox model cannot be fitted: {exc} (model columns: {named}; "
                                  f"event column {event!r})") from None
        if cols.clusters is not None:  # Lin & Wei (1989) robust covariance
            R = K.score_residuals(P, beta)
            Rc = np.zeros((int(cols.clusters.max()) + 1, R.shape[1]))
            np.add.at(Rc, cols.clusters, R)
            vcov = vcov @ (Rc.T @ Rc) @ vcov
        W0 = W.copy()
        W0[:, 1] = 0.0
        common = dict(m_family=mediator_model, sigma=fm.sigma, W0=W0, Xc=Xc, Xcox=Xcox, time=sc.time,
                      event=(sc.event == 1).astype(int), strata=strata, w=w, tau=tau_, scale=scale,
                      interaction=bool(interaction))
        point = mediation_summaries(_effects(alpha=fm.coef[None], beta=beta[None], nodes=GH_NODES_POINT,
                                             **common))
        a_draws = draw_coefficients(rng, fm.coef, fm.vcov, sims)
        b_draws = draw_coefficients(rng, beta, vcov, sims)
        draws = mediation_summaries(_effects(alpha=a_draws, beta=b_draws, nodes=GH_NODES_DRAWS, **common))
        # 4. the result
        warn = list(cols.warnings())
        for msg in warn:
            warn_user(msg)
        design = "clustered" if clustered else ("stratified" if sc.strata is not None else "simple")
        rows = []
        for term in TERMS:
            est = float(point[term][0])
            d = draws[term][np.isfinite(draws[term])]
            if d.size < 2:
                raise EstimationError(
                    f"{self.name}: fewer than 2 of the {sims} simulation draws of {term!r} are finite; the "
                    "interval cannot be formed. Check the horizon and the models' fits."
                )
            lo, hi = np.quantile(d, [alpha / 2, 1 - alpha / 2])
            rows.append(EffectResult(
                estimator=self.name, estimand=_ESTIMAND[term.split("_")[0]], term=term, estimate=est,
                std_error=float(np.std(d, ddof=1)), conf_int=(float(lo), float(hi)), conf_level=1 - alpha,
                p_value=simulation_pvalue(d, est), df=None, n=n, n_treated=sc.n_treated,
                n_control=sc.n_control, se_type="quasi-bayesian", design=design, warnings=tuple(warn),
                outcome=f"{'RMST' if scale == 'rmst' else 'S'}({tau_:g}) of {time}",
                ci_method="quasi-bayesian", extra={"sims": int(d.size)},
            ))
        cox_names = [str(treatment), str(mediator), *([f"{treatment}:{mediator}"] if interaction else []),
                     *map(str, cols.covariate_names[:-1])]
        extra = {
            "headline": "acme",
            "scale": scale,
            "horizon": tau_,
            "reference_levels": dict(cols.reference_levels),
            "mediator_model": mediator_model,
            "interaction": bool(interaction),
            "sims": sims,
            "ties": ties,
            "cox_coef": dict(zip(cox_names, beta.tolist())),
            "mediator_coef": dict(zip(fm.names, fm.coef.tolist())),
            "n_events": int(np.sum(sc.event == 1)),
            "assumptions": SURVIVAL_MEDIATION_ASSUMPTIONS,
        }
        return EffectTable(estimator=self.name, rows=tuple(rows), extra=extra, warnings=tuple(warn),
                           headline_term="acme")
