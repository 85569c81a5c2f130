"""The arithmetic of the doubly robust DiD estimators, on numpy arrays.

Every estimator is written as ``att = g(mu)``, ``mu = mean(m(theta))``: a few
sample means of per-row summands ``m`` that depend on nuisance parameters
``theta`` (a propensity score, outcome regressions). Its influence function is
the delta method on the stacked estimating equations (Newey & McFadden 1994,
sec. 6):

    psi_i = grad g(mu) . [ m_i(theta) - mu + (d mu / d theta) phi_i ],

``phi_i = H^-1 s_i`` the influence function of each nuisance estimate (score
``s_i``, mean Jacobian ``H``). The derivatives ``d mu / d theta`` and
``grad g`` are taken by complex-step differentiation (Squire & Trapp 1998),
exact to rounding, so no formula is coded twice. For the improved estimators
('imp') the estimation effect vanishes (Sant'Anna & Zhao 2020, Theorems 3.1
and 3.2, thanks to the inverse-probability-tilting propensity and the
weighted least squares outcome model) and, as in DRDID, only the leading term
is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from effekt.errors import DataError, EstimationError

__all__ = ["METHODS", "TwoByTwo", "att_panel", "att_rc", "standard_error"]

METHODS = ("imp", "trad", "reg", "ipw", "std_ipw")
_H = 1e-30  # complex step
_CAP = 1.0 - 1e-6  # DRDID caps the propensity score here to avoid dividing by zero


@dataclass(frozen=True)
class TwoByTwo:
    """One 2x2 ATT and its influence function (``att - ATT ~ mean(influence)``)."""

    att: float
    influence: np.ndarray
    n_trimmed: int
    propensity: np.ndarray | None


# -- nuisance models ------------------------------------------------------------
def _solve(H: np.ndarray, what: str) -> np.ndarray:
    if not np.all(np.isfinite(H)) or np.linalg.cond(H) > 1e12:
        raise DataError(
            f"the {what} design matrix is singular: a covariate is constant or collinear with others in "
            "the rows that model uses. Drop or combine covariates."
        )
    return np.linalg.inv(H)


def _newton(grad_hess: Callable[[np.ndarray], tuple[float, np.ndarray, np.ndarray]], k: int,
            what: str, init: np.ndarray | None = None) -> np.ndarray:
    """Minimise a convex loss by damped Newton steps."""
    theta = np.zeros(k) if init is None else init.copy()
    loss, g, H = grad_hess(theta)
    for _ in range(200):
        step = np.linalg.lstsq(H, g, rcond=None)[0]
        t = 1.0
        while True:
            cand = theta - t * step
            c_loss, c_g, c_H = grad_hess(cand)
            if np.isfinite(c_loss) and c_loss <= loss + 1e-12 * abs(loss):
                break
            t /= 2
            if t < 1e-10:
                break
        theta, old, loss, g, H = cand, loss, c_loss, c_g, c_H
        if abs(old - loss) <= 1e-14 * max(1.0, abs(loss)) and np.max(np.abs(g)) < 1e-8:
            break
    return theta


def _logit(X: np.ndarray, d: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted logit MLE; returns the coefficients and their influence functions."""
    n, k = X.shape

    def gh(b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        v = X @ b
        p = 1.0 / (1.0 + np.exp(-v))
        loss = float(np.mean(w * (np.logaddexp(0.0, v) - d * v)))
        return loss, X.T @ (w * (p - d)) / n, (X * (w * p * (1 - p))[:, None]).T @ X / n

    b = _newton(gh, k, "propensity")
    _check_separation(X @ b, d)
    p = 1.0 / (1.0 + np.exp(-(X @ b)))
    H = (X * (w * p * (1 - p))[:, None]).T @ X / n
    return b, (X * (w * (d - p))[:, None]) @ _solve(H, "propensity score")


def _ipt(X: np.ndarray, d: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse probability tilting (Graham, Pinto & Egel 2012): the logit whose odds balance
    the treated's covariate means exactly, ``sum_{D=0} w x exp(x'g) = sum_{D=1} w x``.

    Loss ``mean(w [(1 - D) exp(x'g) - D x'g])`` (convex), started at the logit MLE.
    """
    n, k = X.shape
    init, _ = _logit(X, d, w)

    def gh(g: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        v = X @ g
        with np.errstate(over="ignore"):
            e = np.exp(np.minimum(v, 700.0))
        loss = float(np.mean(w * ((1 - d) * e - d * v)))
        return loss, X.T @ (w * ((1 - d) * e - d)) / n, (X * (w * (1 - d) * e)[:, None]).T @ X / n

    g = _newton(gh, k, "propensity", init)
    _check_separation(X @ g, d)
    e = np.exp(X @ g)
    H = (X * (w * (1 - d) * e)[:, None]).T @ X / n
    return g, (X * (w * (d - (1 - d) * e))[:, None]) @ _solve(H, "propensity score")


def _check_separation(v: np.ndarray, d: np.ndarray) -> None:
    treated_max = np.max(v[d == 1]) if np.any(d == 1) else -np.inf
    control_min = np.min(v[d == 0]) if np.any(d == 0) else np.inf
    # complete separation, or treated rows with a propensity of 1 to machine precision
    if treated_max > 30 or treated_max < control_min - 1e-8 or np.min(v[d == 1]) > np.max(v[d == 0]) + 1e-8:
        raise DataError(
            "the covariates predict the treatment perfectly (the propensity score is 0 or 1 for some rows, "
            "so the treated and the comparison group do not overlap): no weighting can compare them. "
            "Drop the covariate that separates the groups, or restrict the sample to common support."
        )


def _ols(X: np.ndarray, y: np.ndarray, w: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least squares in the rows with ``w > 0``; coefficients and influence functions."""
    n = X.shape[0]
    H = (X * w[:, None]).T @ X / n
    Hinv = _solve(H, what)
    b = Hinv @ (X.T @ (w * y) / n)
    return b, (X * (w * (y - X @ b))[:, None]) @ Hinv


# -- the generic delta method -------------------------------------------------------
def _delta(m: Callable[[list[np.ndarray]], np.ndarray], g: Callable[[np.ndarray], complex],
           thetas: list[np.ndarray], phis: list[np.ndarray], effect: bool, X: np.ndarray) -> tuple[float, np.ndarray]:
    """``att = g(mean m(X theta))`` and its influence function (module docstring).

    Every nuisance model enters through its linear index ``v_j = X theta_j`` and each row's
    summands depend on that row's indices only, so ``d mu / d theta_j = mean_i (dm_i / dv_ij) x_i'``
    and one complex step per model on the whole index vector gives every derivative.
    """
    V = [X @ t for t in thetas]
    M = np.real(m(V))
    n, J = M.shape
    mu = M.mean(axis=0)
    psi_mu = M - mu
    if effect:
        for j, phi in enumerate(phis):
            shifted = [v.astype(complex) for v in V]
            shifted[j] = shifted[j] + 1j * _H
            dm = np.imag(m(shifted)) / _H  # n x J
            grad = dm.T @ X / n  # J x k
            psi_mu = psi_mu + phi @ grad.T
    grad_g = np.empty(J)
    for k in range(J):
        e = mu.astype(complex)
        e[k] += 1j * _H
        grad_g[k] = np.imag(g(e)) / _H
    att = float(np.real(g(mu.astype(complex))))
    return att, psi_mu @ grad_g


def _expit(v: np.ndarray, cap: np.ndarray) -> np.ndarray:
    p = 1.0 / (1.0 + np.exp(-v))
    return np.where(cap, _CAP, p)


def _propensity(method: str, X: np.ndarray, d: np.ndarray, w: np.ndarray,
                trim_level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    gamma, phi = (_ipt if method == "imp" else _logit)(X, d, w)
    p = 1.0 / (1.0 + np.exp(-(X @ gamma)))
    cap = p > _CAP
    p = np.where(cap, _CAP, p)
    keep = np.where(d == 1, 1.0, (p < trim_level).astype(float))
    if not np.any(keep[d == 0] > 0):
        raise DataError(
            f"every comparison unit has a propensity score at or above trim_level={trim_level}, so all are "
            "trimmed and none is left to compare with; the groups do not overlap. Raise trim_level or "
            "restrict the sample to common support."
        )
    return gamma, phi, p, cap, keep


def att_panel(dy: np.ndarray, d: np.ndarray, X: np.ndarray, w: np.ndarray, *, method: str,
              trim_level: float = 0.995) -> TwoByTwo:
    """The ATT from a two-period panel: ``dy = y_post - y_pre`` per unit (Sant'Anna & Zhao 2020, sec. 3.1).

    ``X`` holds an intercept and the pre-period covariates; ``w`` positive weights (rescaled to mean 1).
    """
    w = w / w.mean()
    if method == "reg":
        beta, phi_b = _ols(X, dy, w * (1 - d), "outcome regression")

        def m1(th: list[np.ndarray]) -> np.ndarray:
            return np.column_stack([w * d * dy, w * d * th[0], w * d])

        att, psi = _delta(m1, lambda u: (u[0] - u[1]) / u[2], [beta], [phi_b], True, X)
        return TwoByTwo(att, psi, 0, None)
    gamma, phi_g, p, cap, keep = _propensity(method, X, d, w, trim_level)
    trimmed = int(np.sum(keep == 0))

    def odds(v: np.ndarray) -> np.ndarray:
        q = _expit(v, cap)
        return q / (1 - q)

    if method in ("ipw", "std_ipw"):
        def m2(th: list[np.ndarray]) -> np.ndarray:
            o = odds(th[0])
            if method == "ipw":
                return np.column_stack([w * keep * (d - (1 - d) * o) * dy, w * d])
            return np.column_stack([w * keep * d * dy, w * keep * d, w * keep * (1 - d) * o * dy,
                                    w * keep * (1 - d) * o])

        g = (lambda u: u[0] / u[1]) if method == "ipw" else (lambda u: u[0] / u[1] - u[2] / u[3])
        att, psi = _delta(m2, g, [gamma], [phi_g], True, X)
        return TwoByTwo(att, psi, trimmed, p)
    if method == "trad":
        beta, phi_b = _ols(X, dy, w * (1 - d), "outcome regression")

        def m3(th: list[np.ndarray]) -> np.ndarray:
            o, r = odds(th[0]), dy - th[1]
            return np.column_stack([w * keep * d * r, w * keep * d, w * keep * (1 - d) * o * r,
                                    w * keep * (1 - d) * o])

        att, psi = _delta(m3, lambda u: u[0] / u[1] - u[2] / u[3], [gamma, beta], [phi_g, phi_b], True, X)
        return TwoByTwo(att, psi, trimmed, p)
    # 'imp': inverse probability tilting and least squares weighted by the odds
    beta, phi_b = _ols(X, dy, w * (1 - d) * p / (1 - p), "outcome regression")

    def m4(th: list[np.ndarray]) -> np.ndarray:
        o, r = odds(th[0]), dy - th[1]
        return np.column_stack([w * keep * (d - (1 - d) * o) * r, w * d])

    att, psi = _delta(m4, lambda u: u[0] / u[1], [gamma, beta], [phi_g, phi_b], False, X)
    return TwoByTwo(att, psi, trimmed, p)


def att_rc(y: np.ndarray, post: np.ndarray, d: np.ndarray, X: np.ndarray, w: np.ndarray, *, method: str,
           trim_level: float = 0.995) -> TwoByTwo:
    """The ATT from repeated cross-sections (Sant'Anna & Zhao 2020, sec. 3.2): ``post`` 0/1 per row."""
    w = w / w.mean()
    T = post.astype(float)
    cells = {(a, b): w * (d == a) * (T == b) for a in (0, 1) for b in (0, 1)}
    if method == "reg":
        b0, f0 = _ols(X, y, cells[0, 0], "outcome regression (comparison group, before)")
        b1, f1 = _ols(X, y, cells[0, 1], "outcome regression (comparison group, after)")

        def m1(th: list[np.ndarray]) -> np.ndarray:
            return np.column_stack([w * d * T * y, w * d * T, w * d * (1 - T) * y, w * d * (1 - T),
                                    w * d * (th[1] - th[0]), w * d])

        att, psi = _delta(m1, lambda u: u[0] / u[1] - u[2] / u[3] - u[4] / u[5], [b0, b1], [f0, f1], True, X)
        return TwoByTwo(att, psi, 0, None)
    gamma, phi_g, p, cap, keep = _propensity(method, X, d, w, trim_level)
    trimmed = int(np.sum(keep == 0))

    def odds(v: np.ndarray) -> np.ndarray:
        q = _expit(v, cap)
        return q / (1 - q)

    if method == "ipw":
        def m2(th: list[np.ndarray]) -> np.ndarray:
            c = w * keep * (1 - d) * odds(th[0])
            return np.column_stack([(w * d - c) * T * y, (w * d - c) * (1 - T) * y, w * d, w * T])

        att, psi = _delta(m2, lambda u: u[0] / (u[2] * u[3]) - u[1] / (u[2] * (1 - u[3])), [gamma], [phi_g], True, X)
        return TwoByTwo(att, psi, trimmed, p)
    if method == "std_ipw":
        def m3(th: list[np.ndarray]) -> np.ndarray:
            c, t_ = w * keep * (1 - d) * odds(th[0]), w * keep * d
            return np.column_stack([t_ * T * y, t_ * T, t_ * (1 - T) * y, t_ * (1 - T),
                                    c * T * y, c * T, c * (1 - T) * y, c * (1 - T)])

        att, psi = _delta(m3, lambda u: u[0] / u[1] - u[2] / u[3] - (u[4] / u[5] - u[6] / u[7]),
                          [gamma], [phi_g], True, X)
        return TwoByTwo(att, psi, trimmed, p)
    # the locally efficient DR estimators, 'trad' (logit, OLS) and 'imp' (IPT, WLS by the odds)
    if method == "trad":
        wc0, wc1 = cells[0, 0], cells[0, 1]
    else:
        o_hat = p / (1 - p)
        wc0, wc1 = cells[0, 0] * o_hat, cells[0, 1] * o_hat
    bc0, fc0 = _ols(X, y, wc0, "outcome regression (comparison group, before)")
    bc1, fc1 = _ols(X, y, wc1, "outcome regression (comparison group, after)")
    bt0, ft0 = _ols(X, y, cells[1, 0], "outcome regression (treated group, before)")
    bt1, ft1 = _ols(X, y, cells[1, 1], "outcome regression (treated group, after)")

    def m4(th: list[np.ndarray]) -> np.ndarray:
        o = odds(th[0])
        mc0, mc1, mt0, mt1 = th[1:]
        r = y - (T * mc1 + (1 - T) * mc0)
        td, c = w * keep * d, w * keep * (1 - d) * o
        cols = [td * (1 - T) * r, td * (1 - T), td * T * r, td * T,
                c * (1 - T) * r, c * (1 - T), c * T * r, c * T,
                td * (mt1 - mc1), td, td * T * (mt1 - mc1), td * T,
                td * (mt0 - mc0), td, td * (1 - T) * (mt0 - mc0), td * (1 - T)]
        return np.column_stack(cols)

    def g(u: np.ndarray) -> complex:
        r = [u[2 * i] / u[2 * i + 1] for i in range(8)]
        return (r[1] - r[0]) - (r[3] - r[2]) + (r[4] - r[5]) - (r[6] - r[7])  # type: ignore[no-any-return]

    att, psi = _delta(m4, g, [gamma, bc0, bc1, bt0, bt1], [phi_g, fc0, fc1, ft0, ft1], method == "trad", X)
    return TwoByTwo(att, psi, trimmed, p)


def standard_error(psi: np.ndarray, convention: str, clusters: np.ndarray | None = None) -> float:
    """The SE from an influence function.

    ``convention="n"``: ``sqrt(sum (psi - mean psi)^2) / n`` (DRDID >= 1.2.3);
    ``"n-1"``: ``sd(psi) / sqrt(n)`` (DRDID < 1.2.3), larger by ``sqrt(n / (n - 1))``.
    With clusters the cluster sums of ``psi`` replace the rows, times ``G / (G - 1)`` for
    ``"n-1"`` (the CR1 factor) and 1 for ``"n"``.
    """
    n = psi.size
    c = psi - psi.mean()
    if clusters is None:
        ss, factor = float(c @ c), (n / (n - 1) if convention == "n-1" else 1.0)
    else:
        sums = np.bincount(clusters, weights=c)
        G = sums.size
        if G < 2:
            raise EstimationError("a cluster-robust standard error needs at least 2 clusters; the data have 1.")
        ss, factor = float(sums @ sums), (G / (G - 1) if convention == "n-1" else 1.0)
    return float(np.sqrt(factor * ss) / n)
