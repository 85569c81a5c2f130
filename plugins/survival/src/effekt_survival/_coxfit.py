"""Cox fits shared by ``cox``, ``cause_specific_cox`` and ``fine_gray``.

Takes checked arrays, fits the model through :mod:`effekt_survival._coxkernel`
and assembles everything a hazard-ratio result reports: Wald, likelihood-ratio
and score tests of the treatment term, Wald and profile-likelihood intervals,
model-based or cluster-robust standard errors and the proportional-hazards
test from scaled Schoenfeld residuals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize, stats

from effekt.errors import EstimationError
from effekt_survival import _coxkernel as K

__all__ = ["CoxFit", "fit_cox", "ph_test", "km_transform"]


@dataclass
class CoxFit:
    terms: list[str]
    beta: np.ndarray
    vcov: np.ndarray
    vcov_model: np.ndarray
    loglik: float
    loglik_reduced: float
    score_stat: float
    iterations: int
    n_events: int
    profile_ci: tuple[float, float] | None
    ph: list[dict[str, Any]] = field(default_factory=list)

    @property
    def se(self) -> np.ndarray:
        return np.sqrt(np.diag(self.vcov))


def km_transform(time: np.ndarray, event: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """1 - KM(t) of the pooled data, evaluated at each row's time (R's cox.zph default)."""
    times, inv = np.unique(time, return_inverse=True)
    d = np.bincount(inv, weights=weights * event, minlength=times.size)
    n_at = np.bincount(inv, weights=weights, minlength=times.size)
    at_risk = n_at[::-1].cumsum()[::-1]
    surv = np.cumprod(1.0 - d / at_risk)
    return np.asarray(1.0 - surv[inv])


def _km_ranked(rank: np.ndarray, event: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """:func:`km_transform` from each row's rank among the distinct times (any row order)."""
    k = int(rank.max()) + 1
    d = np.bincount(rank, weights=weights * event, minlength=k)
    n_at = np.bincount(rank, weights=weights, minlength=k)
    at_risk = n_at[::-1].cumsum()[::-1]
    with np.errstate(divide="ignore", invalid="ignore"):  # a time ranked only as an entry: at_risk may be 0
        surv = np.cumprod(np.where(at_risk > 0, 1.0 - d / at_risk, 1.0))
    return np.asarray(1.0 - surv[rank])


def ph_test(
    P: K.CoxProblem,
    beta: np.ndarray,
    vcov: np.ndarray,
    stop: np.ndarray,
    event: np.ndarray,
    weights: np.ndarray,
    terms: list[str],
    transform: str = "km",
) -> list[dict[str, Any]]:
    """Grambsch & Therneau (1994, Biometrika 81:515) test per term.

    Scaled Schoenfeld residuals ``s*_i = d V s_i`` (plus beta); the statistic
    for term k is ``(sum_i (g_i - gbar) s*_ik)^2 / (d V_kk sum_i (g_i - gbar)^2)``,
    chi-squared with 1 df, ``g`` the transformed event time. This is the
    approximation lifelines implements (and R used before survival 3.0).
    """
    rows_sorted = P.ev_rows
    rows = P.order[rows_sorted]
    d = rows.size
    if transform == "km":
        if P.time_rank is not None:  # the distinct times are ranked already: no second sort
            g = _km_ranked(P.time_rank, P.event, weights[P.order])[rows_sorted]
        else:  # pragma: no cover - a problem built without prepare()
            g = km_transform(stop, event.astype(float), weights)[rows]
    elif transform == "rank":
        g = stats.rankdata(stop[rows])
    elif transform == "identity":
        g = stop[rows]
    elif transform == "log":
        g = np.log(stop[rows])
    else:  # pragma: no cover - validated by the caller
        raise ValueError(transform)
    gc = g - g.mean()
    # sum_i gc_i s*_i with s*_i = d V s_i: one weighted sum of the residuals, then V
    num = d * (K.schoenfeld_sum(P, beta, gc) @ vcov)
    denom = d * np.diag(vcov) * float(gc @ gc)
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = num**2 / denom
    out = []
    for k, term in enumerate(terms):
        s = float(stat[k])
        p = float(stats.chi2.sf(s, 1)) if math.isfinite(s) else float("nan")
        out.append({"term": term, "statistic": s, "p_value": p, "transform": transform})
    return out


def _profile_loglik(P: K.CoxProblem, X_other: np.ndarray, z: np.ndarray, b: float, start: np.ndarray) -> float:
    Q = K.CoxProblem(**{**P.__dict__, "X": X_other, "offset": P.offset + b * z})
    beta, ll, _, _ = K.newton(Q, start)
    return ll


def _profile_end(
    P: K.CoxProblem, beta: np.ndarray, ll: float, vcov: np.ndarray, crit: float, sign: float,
    *, max_iter: int = 30,
) -> float | None:
    """One end of the profile-likelihood interval of the first coefficient, or None.

    Solves ``l(b, g) = l_max - crit / 2`` together with ``dl/dg (b, g) = 0`` for
    the treatment coefficient ``b`` and the nuisance coefficients ``g`` by
    Newton's method on the joint system (Venzon & Moolgavkar 1988, Applied
    Statistics 37:87, doi:10.2307/2347496): one likelihood evaluation per
    step, started from the quadratic (Wald) approximation of the profile path.
    The solution is the end point, with the nuisance coefficients maximised,
    to rounding. None when the iteration leaves the side of the estimate it
    started on, fails numerically or does not settle in ``max_iter`` steps;
    the caller then brackets the root instead.
    """
    target = ll - crit / 2.0
    theta = beta + sign * math.sqrt(crit / vcov[0, 0]) * vcov[:, 0]  # the Wald end, nuisance on its path
    last = math.inf
    for _ in range(max_iter):
        try:
            l_t, U, info = K.loglik_grad_hess(P, theta)
            F = np.concatenate([[l_t - target], U[1:]])
            J = np.vstack([U[None, :], -info[1:, :]])
            step = np.linalg.solve(J, -F)
        except (EstimationError, np.linalg.LinAlgError):
            return None
        if not np.all(np.isfinite(step)):
            return None
        size = float(np.max(np.abs(step)))
        if size > 4.0 * last and last < 1e-3:  # diverging after having come close: not Newton's regime
            return None
        theta = theta + step
        if sign * (theta[0] - beta[0]) <= 0 or abs(theta[0]) > 30:
            return None
        last = size
        if size < 1e-10 * max(1.0, float(np.max(np.abs(theta)))):
            return float(theta[0])
    return None


def _profile_end_bracketed(f: Any, b_hat: float, step: float) -> float:
    """One end of the profile interval by doubling a bracket and bisecting ``f`` (infinite if unbounded)."""
    hi = b_hat + step
    tries = 0
    while f(hi) < 0 and tries < 20:
        hi = b_hat + (hi - b_hat) * 2.0
        tries += 1
    if tries == 20:
        return math.copysign(math.inf, step)
    return float(optimize.brentq(f, b_hat, hi, xtol=1e-10))


def fit_cox(
    stop: np.ndarray,
    event: np.ndarray,
    z: np.ndarray,
    X: np.ndarray | None,
    *,
    terms: list[str],
    strata: np.ndarray | None,
    entry: np.ndarray | None,
    weights: np.ndarray | None,
    clusters: np.ndarray | None,
    ties: str,
    alpha: float,
    profile: bool,
    ph_transform: str | None,
    estimator: str,
    columns: str = "",
) -> CoxFit:
    """Fit ``h(t | z, x) = h0_s(t) exp(beta_z z + x' beta_x)`` and test ``beta_z = 0``.

    A numerical failure of the kernel is re-raised naming the model terms and
    ``columns`` (the caller's event, weights and censoring options, as text).
    """
    try:
        with np.errstate(under="ignore"):  # exp of a very negative linear predictor is 0, exactly enough
            return _fit_cox(stop, event, z, X, terms=terms, strata=strata, entry=entry, weights=weights,
                            clusters=clusters, ties=ties, alpha=alpha, profile=profile, ph_transform=ph_transform,
                            estimator=estimator)
    except EstimationError as exc:
        msg = str(exc)
        if not msg.startswith("cox: "):
            raise
        named = ", ".join(repr(c) for c in dict.fromkeys(str(t).split("[", 1)[0] for t in terms))
        raise EstimationError(f"{estimator}: {msg.removeprefix('cox: ')} (model terms: {named}"
                              f"{'; ' + columns if columns else ''})") from None


def _fit_cox(
    stop: np.ndarray,
    event: np.ndarray,
    z: np.ndarray,
    X: np.ndarray | None,
    *,
    terms: list[str],
    strata: np.ndarray | None,
    entry: np.ndarray | None,
    weights: np.ndarray | None,
    clusters: np.ndarray | None,
    ties: str,
    alpha: float,
    profile: bool,
    ph_transform: str | None,
    estimator: str,
) -> CoxFit:
    n = stop.shape[0]
    if X is not None and X.size:
        # centred: the partial likelihood does not change, and a covariate shifted by 1e9 keeps its precision
        X = X - X.mean(axis=0)
    full = np.column_stack([z.astype(float)] + ([X] if X is not None and X.size else []))
    P = K.prepare(stop, event, full, strata=strata, start=entry, weights=weights, ties=ties)
    beta, ll, info, it = K.newton(P)
    try:
        vcov_model = np.linalg.inv(info)
    except np.linalg.LinAlgError:  # pragma: no cover - newton already solved with it
        raise EstimationError(f"{estimator}: the information matrix is singular.") from None
    vcov = vcov_model
    if clusters is not None:
        R = K.score_residuals(P, beta)
        k = int(clusters.max()) + 1
        Rc = np.zeros((k, R.shape[1]))
        np.add.at(Rc, clusters, R)
        vcov = vcov_model @ (Rc.T @ Rc) @ vcov_model
    # reduced model: treatment coefficient fixed at 0
    X_other = P.X[:, 1:]
    z_sorted = P.X[:, 0]
    Q = K.CoxProblem(**{**P.__dict__, "X": X_other})
    beta_r, ll_r, _, _ = K.newton(Q, beta[1:])  # warm: the nuisance MLE is close to the reduced one
    b0 = np.concatenate([[0.0], beta_r])
    _, U, I0 = K.loglik_grad_hess(P, b0)
    try:
        score_stat = float(U @ np.linalg.solve(I0, U))
    except np.linalg.LinAlgError:
        score_stat = float("nan")
    pci = None
    if profile:
        crit = float(stats.chi2.isf(alpha, 1))  # not ppf(1 - alpha): 1 - 1e-300 rounds to 1 (crit = inf)
        if not (math.isfinite(vcov_model[0, 0]) and vcov_model[0, 0] > 0):
            raise EstimationError(
                "cox: the information matrix is numerically singular (the treatment's variance is "
                f"{vcov_model[0, 0]:g}); a covariate is nearly collinear with it or badly scaled. Centre or "
                "rescale the covariates, or drop the collinear one."
            )
        se_z = math.sqrt(vcov_model[0, 0])

        def f(b: float) -> float:
            try:
                return 2.0 * (ll - _profile_loglik(P, X_other, z_sorted, b, beta[1:])) - crit
            except EstimationError as exc:
                raise EstimationError(
                    f"cox: the profile-likelihood interval at alpha={alpha:g} reaches a treatment "
                    f"coefficient of {b:.3g}, where the fit fails ({str(exc).removeprefix('cox: ')}); use a "
                    "larger alpha, or profile_ci=False for the Wald interval."
                ) from None

        ends = []
        for sign in (-1.0, 1.0):
            end = _profile_end(P, beta, ll, vcov_model, crit, sign)
            if end is None:  # the joint Newton did not settle: bracket the root and bisect
                end = _profile_end_bracketed(f, float(beta[0]), sign * 2.0 * se_z * math.sqrt(crit))
            ends.append(end)
        pci = (math.exp(ends[0]), math.exp(ends[1]))
    ph = []
    if ph_transform is not None:
        w = np.ones(n) if weights is None else weights
        ph = ph_test(P, beta, vcov, stop, (event > 0), w, terms, ph_transform)
    return CoxFit(
        terms=terms,
        beta=beta,
        vcov=vcov,
        vcov_model=vcov_model,
        loglik=ll,
        loglik_reduced=ll_r,
        score_stat=score_stat,
        iterations=it,
        n_events=P.n_events,
        profile_ci=pci,
        ph=ph,
    )
