"""Average potential outcomes Y(t, M(t')) for many parameter draws at once.

For a parameter draw (alpha of the mediator model, beta of the outcome model)
and unit i, write the mediator's linear predictor as
``mu_i(t) = a_i + t * alpha_z`` and the outcome's as
``eta_i(t, m) = b_i + t * beta_z + m * (beta_m + t * beta_zm)``. The four
effects are weighted means over units (Imai, Keele & Tingley 2010, eqs. 2-3):

    delta(t) = E[ Y(t, M(1)) - Y(t, M(0)) ]     (ACME under arm t)
    zeta(t)  = E[ Y(1, M(t)) - Y(0, M(t)) ]     (ADE under arm t)

with E[Y(t, M(t')) | x_i] integrated over the mediator's distribution
exactly wherever a closed form exists, instead of by drawing mediators as R's
``mediate()`` and statsmodels' ``Mediation`` do:

* linear outcome: E[Y(t, M(t'))] = b_i + t beta_z + (beta_m + t beta_zm) E[M(t')]
  for any mediator model (the outcome is linear in m);
* binary (logit/probit) mediator: a two-point sum over m in {0, 1};
* linear mediator, probit outcome: E[Phi(c + d M)] = Phi((c + d mu) / sqrt(1 + d^2 sigma^2))
  for M ~ N(mu, sigma^2);
* linear mediator, logit outcome: Gauss-Hermite quadrature with
  ``GH_NODES`` nodes (no closed form exists).

The point estimate is therefore a deterministic function of the fitted
coefficients, and the simulation noise of the quasi-Bayesian draws enters
only the interval, not the estimate.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from effekt.mediation._glm import mean_function

GH_NODES = 40
_GH_X, _GH_W = np.polynomial.hermite.hermgauss(GH_NODES)
_BLOCK_ELEMENTS = 131_072


def effects(
    *,
    m_family: str,
    y_family: str,
    alpha: np.ndarray,
    sigma: np.ndarray,
    beta: np.ndarray,
    W0: np.ndarray,
    X0: np.ndarray,
    m_z: int,
    y_z: int,
    y_m: int,
    y_zm: int | None,
    wn: np.ndarray,
) -> np.ndarray:
    """delta(1), delta(0), zeta(1), zeta(0) for each draw.

    Parameters
    ----------
    alpha : (S, pM) mediator-model coefficients; sigma : (S,) its residual sd.
    beta : (S, pY) outcome-model coefficients.
    W0, X0 : the two design matrices (one row per unit) with the treatment,
        mediator and interaction columns set to zero.
    m_z, y_z, y_m, y_zm : column positions of treatment (mediator model) and
        of treatment, mediator and their product (outcome model).
    wn : (n,) unit weights summing to one, or (S, n), one row per draw.

    Returns
    -------
    (S, 4) array: columns delta(1), delta(0), zeta(1), zeta(0).
    """
    S = alpha.shape[0]
    n = W0.shape[0]
    out = np.empty((S, 4))
    a_z = alpha[:, m_z]
    b_z = beta[:, y_z]
    b_m = beta[:, y_m]
    b_zm = beta[:, y_zm] if y_zm is not None else np.zeros(S)
    d = (b_m, b_m + b_zm)  # slope of the outcome in m, under t = 0 and t = 1

    if y_family == "linear" and m_family == "linear":
        # everything is linear in the unit-level terms: only weighted column means are needed
        wbar = wn @ W0  # (pM,) or (S, pM)
        a_bar = alpha @ wbar if wbar.ndim == 1 else np.einsum("sk,sk->s", wbar, alpha)
        for t in (1, 0):
            out[:, 1 - t] = d[t] * a_z
        out[:, 2] = b_z + b_zm * (a_bar + a_z)
        out[:, 3] = b_z + b_zm * a_bar
        return out

    # Units are processed in blocks small enough for the (units x draws) arrays to stay in
    # cache; the effects are sums over units, accumulated block by block.
    nodes = GH_NODES if (y_family == "logit" and m_family == "linear") else 1
    block = max(16, _BLOCK_ELEMENTS // max(1, S * nodes))
    acc = np.zeros((S, 4))
    a_z_row = a_z[None, :]
    for lo in range(0, n, block):
        blk = slice(lo, min(n, lo + block))
        w_b = wn[blk] if wn.ndim == 1 else wn[:, blk].T  # (nb,) or (nb, S)
        a = W0[blk] @ alpha.T  # (nb, S): mediator linear predictor under t' = 0
        if y_family == "linear":
            em0 = _mean_inplace(m_family, a.copy())
            a += a_z_row
            em1 = _mean_inplace(m_family, a)
            bar0, bar1 = _colsum(w_b, em0), _colsum(w_b, em1)
            acc[:, 0] += d[1] * (bar1 - bar0)
            acc[:, 1] += d[0] * (bar1 - bar0)
            acc[:, 2] += b_zm * bar1
            acc[:, 3] += b_zm * bar0
            continue
        mu = (a, a + a_z_row)
        b = X0[blk] @ beta.T  # (nb, S)
        ey = {}
        if m_family != "linear":
            p = (mean_function(m_family, mu[0]), mean_function(m_family, mu[1]))
            for t in (0, 1):
                base = b + t * b_z
                g0 = mean_function(y_family, base)
                g1 = mean_function(y_family, base + d[t])
                for tp in (0, 1):
                    ey[t, tp] = g0 + p[tp] * (g1 - g0)
        elif y_family == "probit":
            s2 = sigma**2
            for t in (0, 1):
                scale = np.sqrt(1.0 + d[t] ** 2 * s2)
                for tp in (0, 1):
                    ey[t, tp] = special.ndtr((b + t * b_z + d[t] * mu[tp]) / scale)
        else:  # logit outcome, linear mediator: Gauss-Hermite
            shift = np.sqrt(2.0) * sigma[None, :, None] * _GH_X[None, None, :]  # (1, S, K)
            for t in (0, 1):
                for tp in (0, 1):
                    lin = (b + t * b_z + d[t] * mu[tp])[:, :, None] + d[t][None, :, None] * shift
                    ey[t, tp] = special.expit(lin) @ _GH_W / np.sqrt(np.pi)
        acc[:, 0] += _colsum(w_b, ey[1, 1] - ey[1, 0])
        acc[:, 1] += _colsum(w_b, ey[0, 1] - ey[0, 0])
        acc[:, 2] += _colsum(w_b, ey[1, 1] - ey[0, 1])
        acc[:, 3] += _colsum(w_b, ey[1, 0] - ey[0, 0])
    if y_family == "linear":
        acc[:, 2] += b_z
        acc[:, 3] += b_z
    return acc


def _colsum(w_b: np.ndarray, A: np.ndarray) -> np.ndarray:
    """Weighted column sums of A (nb, S): shared weights (nb,) or one column per draw (nb, S)."""
    if w_b.ndim == 1:
        return w_b @ A  # type: ignore[no-any-return]
    return np.einsum("ns,ns->s", w_b, A)  # type: ignore[no-any-return]


def _mean_inplace(family: str, a: np.ndarray) -> np.ndarray:
    """E[M] from the linear predictor, overwriting ``a``.

    The logistic function is evaluated as 1 / (1 + exp(-a)) in place, which is
    exact to rounding and several times faster than a general-purpose call on
    the large (units x draws) arrays of the quasi-Bayesian path.
    """
    if family == "linear":
        return a
    if family == "probit":
        return special.ndtr(a, out=a)  # type: ignore[no-any-return]
    with np.errstate(over="ignore"):
        np.negative(a, out=a)
        np.exp(a, out=a)
    a += 1.0
    return np.reciprocal(a, out=a)


def summaries(eff: np.ndarray) -> dict[str, np.ndarray]:
    """The ten reported quantities from delta(1), delta(0), zeta(1), zeta(0).

    total = (delta(1) + delta(0) + zeta(1) + zeta(0)) / 2 (= delta(1) + zeta(0)
    = delta(0) + zeta(1)); proportion mediated under t = delta(t) / total,
    as R's mediate().
    """
    d1, d0, z1, z0 = eff[:, 0], eff[:, 1], eff[:, 2], eff[:, 3]
    tau = (d1 + d0 + z1 + z0) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        n1 = d1 / tau
        n0 = d0 / tau
    return {
        "acme": (d1 + d0) / 2.0,
        "acme_control": d0,
        "acme_treated": d1,
        "ade": (z1 + z0) / 2.0,
        "ade_control": z0,
        "ade_treated": z1,
        "total": tau,
        "prop_mediated": (n1 + n0) / 2.0,
        "prop_mediated_control": n0,
        "prop_mediated_treated": n1,
    }
