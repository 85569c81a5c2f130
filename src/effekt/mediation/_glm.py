"""Weighted linear, logit and probit regressions on arrays, one fit or a batch.

The mediation estimators need three things of their working models: the
maximum-likelihood coefficients, a covariance matrix for the quasi-Bayesian
draws, and many refits on bootstrap resamples. statsmodels does the first two
but is not a run-time dependency of effekt, and refitting it once per
bootstrap replicate is the slow part of every mediation bootstrap. The
functions here fit a whole batch of frequency-weight vectors at once: least
squares by batched normal equations, logit and probit by batched Newton
steps from the full-sample solution.

Families
--------
``"linear"``   E[y | x] = x'b, Gaussian errors, sigma^2 = sum w e^2 / (n - k)
``"logit"``    P(y = 1 | x) = 1 / (1 + exp(-x'b))
``"probit"``   P(y = 1 | x) = Phi(x'b)

Covariance types (``se_type``): ``"classical"`` (inverse information; for the
linear model sigma^2 (X'WX)^-1), ``"HC0"``-``"HC3"`` (MacKinnon & White 1985,
with the leverages of the weighted working model), ``"CR0"`` and ``"CR1"``
(Liang & Zeger 1986; CR1 multiplies by G/(G-1) (n-1)/(n-k), as Stata and
R's sandwich::vcovCL).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from effekt.errors import EstimationError
from effekt.sandwich import score_vcov

FAMILIES = ("linear", "logit", "probit")
SE_TYPES = ("classical", "HC0", "HC1", "HC2", "HC3", "CR0", "CR1")

_MAX_ITER = 100
_TOL = 1e-10
_P_CLIP = 1e-15


@dataclass(frozen=True)
class Fit:
    """One fitted working model."""

    family: str
    coef: np.ndarray
    vcov: np.ndarray
    sigma: float  # residual standard deviation (linear); 1.0 otherwise
    r_squared: float  # weighted R^2 (linear); latent-scale R^2 (binary)
    n: int
    names: tuple[str, ...]


def mean_function(family: str, eta: np.ndarray) -> np.ndarray:
    """E[y | x] given the linear predictor ``eta``."""
    if family == "linear":
        return eta
    if family == "logit":
        return special.expit(eta)  # type: ignore[no-any-return]
    return special.ndtr(eta)  # type: ignore[no-any-return]


def _binary_parts(family: str, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and d mean / d eta, clipped away from 0 and 1."""
    if family == "logit":
        p = special.expit(eta)
        dp = p * (1.0 - p)
    else:
        p = special.ndtr(eta)
        dp = np.exp(-0.5 * eta * eta) / np.sqrt(2.0 * np.pi)
    p = np.clip(p, _P_CLIP, 1.0 - _P_CLIP)
    dp = np.maximum(dp, 1e-300)
    return p, dp


def _solve_spd(a: np.ndarray, b: np.ndarray, what: str) -> np.ndarray:
    try:
        return np.linalg.solve(a, b)  # type: ignore[no-any-return]
    except np.linalg.LinAlgError:
        raise EstimationError(
            f"the {what} model's design matrix is singular: a covariate is constant or a "
            "linear combination of others (or of the block indicators). Drop the redundant "
            "column."
        ) from None


def _check_rank(X: np.ndarray, names: tuple[str, ...], what: str) -> None:
    rank = np.linalg.matrix_rank(X)
    if rank < X.shape[1]:
        # each data column once, quoted as elsewhere (a category's levels come from one column)
        columns = ", ".join(repr(c) for c in dict.fromkeys(str(n).split("[", 1)[0] for n in names))
        raise EstimationError(
            f"the {what} model's design matrix has rank {rank} but {X.shape[1]} columns "
            f"(from {columns}): a covariate is constant or a linear combination of "
            "others (or of the block indicators). Drop the redundant column."
        )


def fit_model(
    family: str,
    y: np.ndarray,
    X: np.ndarray,
    w: np.ndarray,
    *,
    names: tuple[str, ...],
    what: str,
    se_type: str = "classical",
    clusters: np.ndarray | None = None,
) -> Fit:
    """Fit one weighted model and its covariance matrix."""
    _check_rank(X, names, what)
    n, k = X.shape
    if family == "linear":
        XtW = X.T * w
        coef = _solve_spd(XtW @ X, XtW @ y, what)
        resid = y - X @ coef
        sigma2 = float(np.sum(w * resid**2) / (n - k)) if n > k else float("nan")
        ybar = np.sum(w * y) / np.sum(w)
        tss = float(np.sum(w * (y - ybar) ** 2))
        r2 = 1.0 - float(np.sum(w * resid**2)) / tss if tss > 0 else float("nan")
        work_w = w
        score = X * (w * resid)[:, None]
        info = XtW @ X
        classical = sigma2 * np.linalg.inv(info)
        sigma = float(np.sqrt(sigma2))
    else:
        if not np.all((y == 0) | (y == 1)):
            raise EstimationError(f"the {what} model is {family}, so its variable must be 0/1.")
        coef = _newton_one(family, y, X, w, what)
        eta = X @ coef
        p, dp = _binary_parts(family, eta)
        work_w = w * dp**2 / (p * (1.0 - p))
        score = X * (w * (y - p) * dp / (p * (1.0 - p)))[:, None]
        info = (X.T * work_w) @ X
        classical = np.linalg.inv(info)
        sigma = 1.0
        fitted = eta
        var_star = float(np.var(fitted, ddof=1)) if n > 1 else 0.0
        r2 = var_star / (1.0 + var_star)  # latent-scale R^2, as R medsens
    vcov = _vcov(se_type, classical, info, score, X, work_w, clusters, n, k)
    return Fit(family, coef, vcov, sigma, r2, n, names)


def _vcov(
    se_type: str,
    classical: np.ndarray,
    info: np.ndarray,
    score: np.ndarray,
    X: np.ndarray,
    work_w: np.ndarray,
    clusters: np.ndarray | None,
    n: int,
    k: int,
) -> np.ndarray:
    if se_type == "classical":
        return classical
    bread = np.linalg.inv(info)
    leverage = None
    if se_type in ("HC2", "HC3"):
        # leverage of the weighted working model: h_i = w_i x_i' (X'WX)^-1 x_i, kept below 1 so that a
        # point of leverage one gives a large finite weight rather than a division by zero
        leverage = np.minimum(work_w * np.einsum("ij,jk,ik->i", X, bread, X), 1.0 - 1e-12)
    return score_vcov(score, bread, se_type=se_type, clusters=clusters, leverage=leverage, k_total=k)


def _newton_one(family: str, y: np.ndarray, X: np.ndarray, w: np.ndarray, what: str) -> np.ndarray:
    coef = np.zeros(X.shape[1])
    ybar = float(np.clip(np.sum(w * y) / np.sum(w), 1e-6, 1 - 1e-6))
    if family == "logit":
        coef[0] = np.log(ybar / (1 - ybar))
    else:
        coef[0] = float(stats.norm.ppf(ybar))
    out = newton_batch(family, y, X, w[None, :], coef[None, :], what=what)
    return out[0]


def newton_batch(
    family: str,
    y: np.ndarray,
    X: np.ndarray,
    W: np.ndarray,
    start: np.ndarray,
    *,
    what: str,
    resamples: bool = False,
) -> np.ndarray:
    """Maximum-likelihood logit/probit fits for each row of weights ``W``.

    Newton-Raphson (Fisher scoring for the probit) with step halving,
    vectorised over the rows of ``W`` (shape ``(B, n)``); ``start`` is
    ``(B, k)`` or ``(k,)``.

    A fit to the data raises :class:`EstimationError` under separation. With
    ``resamples=True`` (bootstrap resamples) separation is tolerated, as R's
    ``glm`` does: the diverging coefficients stop where the log-likelihood
    stops changing, and the fitted probabilities, which are all the effects
    use, have converged to 0 or 1.
    """
    B = W.shape[0]
    k = X.shape[1]
    coef = np.broadcast_to(start, (B, k)).copy()
    outer = (X[:, :, None] * X[:, None, :]).reshape(X.shape[0], k * k)  # x_i x_i', flattened

    def loglik(c: np.ndarray, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
        eta = c @ X.T
        p, _ = _binary_parts(family, eta)
        return np.sum(W[rows] * (y * np.log(p) + (1 - y) * np.log1p(-p)), axis=1)  # type: ignore[no-any-return]

    ll = loglik(coef)
    for _ in range(_MAX_ITER):
        eta = coef @ X.T  # (B, n)
        p, dp = _binary_parts(family, eta)
        v = p * (1.0 - p)
        with np.errstate(under="ignore"):  # terms below 1e-308 are 0 next to the others: exact to precision
            u = W * (y - p) * dp / v  # score weights
            ww = W * dp * dp / v  # Fisher weights
        grad = u @ X  # (B, k)
        hess = (ww @ outer).reshape(B, k, k)  # one matrix product for all fits
        try:
            step = np.linalg.solve(hess, grad[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:
            if not resamples:
                raise EstimationError(
                    f"the {what} model cannot be fitted: its information matrix is singular "
                    "(a covariate or block is perfectly collinear, or the 0/1 variable is "
                    "perfectly predicted). Drop the redundant column or use more data."
                ) from None
            step = (np.linalg.pinv(hess) @ grad[:, :, None])[:, :, 0]
        new = coef + step
        new_ll = loglik(new)
        halve = 0
        worse = new_ll < ll - 1e-12 * np.abs(ll)
        while worse.any() and halve < 30:
            step[worse] *= 0.5
            new[worse] = coef[worse] + step[worse]
            new_ll[worse] = loglik(new[worse], worse)
            worse = new_ll < ll - 1e-12 * np.abs(ll)
            halve += 1
        change = np.max(np.abs(new - coef), axis=1)
        gain = np.abs(new_ll - ll)
        coef, ll = new, new_ll
        done = change < _TOL * (1.0 + np.max(np.abs(coef), axis=1))
        if resamples:  # separated resamples: coefficients drift, the likelihood has converged
            done |= (gain < 1e-12 * (1.0 + np.abs(ll))) & (np.max(np.abs(coef), axis=1) > 10.0)
        if np.all(done):
            break
    else:
        if not resamples:
            raise EstimationError(
                f"the {what} model ({family}) did not converge in {_MAX_ITER} Newton steps: the "
                "0/1 variable is probably perfectly predicted (separation) by the treatment, a "
                "covariate or a block. Drop that covariate or merge small blocks."
            )
    if not resamples and np.any(np.abs(coef) > 30.0):
        raise EstimationError(
            f"the {what} model ({family}) has a coefficient beyond +/-30 on the linear-predictor "
            "scale: the 0/1 variable is (quasi-)perfectly predicted (separation). Drop the "
            "covariate or block that separates it."
        )
    return coef


def ols_batch(
    y: np.ndarray, X: np.ndarray, W: np.ndarray, *, n: int, what: str
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least squares for each row of weights ``W`` (B, n).

    Returns the coefficients (B, k) and residual standard deviations (B,),
    sigma^2 = sum W e^2 / (n - k) with ``n`` the size of each resample.
    """
    XtW = W[:, None, :] * X.T[None, :, :]  # (B, k, n)
    xtx = XtW @ X  # (B, k, k)
    xty = XtW @ y  # (B, k)
    try:
        coef = np.linalg.solve(xtx, xty[:, :, None])[:, :, 0]
    except np.linalg.LinAlgError:
        raise EstimationError(
            f"the {what} model is singular in a bootstrap resample: a covariate or block "
            "takes one value in the resample. Use fewer covariates or blocks, or more data."
        ) from None
    resid = y[None, :] - coef @ X.T
    sigma = np.sqrt(np.sum(W * resid**2, axis=1) / max(n - X.shape[1], 1))
    return coef, sigma
