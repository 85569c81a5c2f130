"""Inference for the mediation estimators: quasi-Bayesian draws, bootstrap, jackknife, BCa.

Everything here works on many parameter draws or resamples at once: the
quasi-Bayesian draws are one matrix of coefficients, the bootstrap resamples
are rows of frequency weights fitted together, the jackknife leaves groups
of units out together.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from scipy import stats

from effekt.mediation._design import Problem
from effekt.mediation._effects import effects
from effekt.mediation._glm import Fit, newton_batch, ols_batch
from effekt.result import monte_carlo_p_value

_BOOT_BATCH_ELEMENTS = 2_000_000


def _pval(draws: np.ndarray, estimate: float) -> float:
    """Two-sided p-value from simulation draws, as R mediation's pval():
    2 min(#{draw > 0}, #{draw < 0}) / #draws, and 1 when the estimate is 0.

    Never 0: when no draw crosses zero it is the Monte Carlo floor
    1 / (#draws + 1) (:func:`effekt.result.monte_carlo_p_value` of 0 extreme
    draws), which the summary prints as "<= 1/(sims+1)"."""
    draws = draws[np.isfinite(draws)]
    if estimate == 0 or draws.size == 0:
        return 1.0
    p = min(1.0, 2.0 * min(np.sum(draws > 0), np.sum(draws < 0)) / draws.size)
    return float(max(p, monte_carlo_p_value(0, draws.size)))


def _mvn_draws(rng: np.random.Generator, mean: np.ndarray, cov: np.ndarray, sims: int) -> np.ndarray:
    """sims draws of N(mean, cov): mean + Z L' with L the Cholesky factor (unique, so a seed
    gives the same draws on every platform); an eigen square root when cov is singular."""
    cov = (cov + cov.T) / 2.0
    try:
        root = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        vals, vecs = np.linalg.eigh(cov)
        root = vecs * np.sqrt(np.clip(vals, 0.0, None))
    return mean[None, :] + rng.standard_normal((sims, mean.size)) @ root.T  # type: ignore[no-any-return]


def _resample_counts(
    rng: np.random.Generator, n_units: int, strata: np.ndarray | None, size: int
) -> np.ndarray:
    """(size, n_units) bootstrap frequencies, resampling within strata when given."""
    if strata is None:
        return rng.multinomial(n_units, np.full(n_units, 1.0 / n_units), size=size).astype(float)
    counts = np.zeros((size, n_units))
    for s in np.unique(strata):
        idx = np.flatnonzero(strata == s)
        counts[:, idx] = rng.multinomial(idx.size, np.full(idx.size, 1.0 / idx.size), size=size)
    return counts


def _effects_for(prob: Problem, alpha: np.ndarray, sigma: np.ndarray, beta: np.ndarray,
                 wn: np.ndarray) -> np.ndarray:
    W0, X0 = prob.zeroed()
    return effects(
        m_family=prob.m_family, y_family=prob.y_family, alpha=alpha, sigma=sigma, beta=beta,
        W0=W0, X0=X0, m_z=prob.m_z, y_z=prob.y_z, y_m=prob.y_m, y_zm=prob.y_zm, wn=wn,
    )


def _point_effects(prob: Problem, fm: Fit, fy: Fit) -> np.ndarray:
    return _effects_for(prob, fm.coef[None, :], np.array([fm.sigma]), fy.coef[None, :],
                        prob.w / prob.w.sum())


def _quasi_bayes(prob: Problem, fm: Fit, fy: Fit, sims: int, rng: np.random.Generator) -> np.ndarray:
    """Effects for ``sims`` draws of both models' coefficients (algorithm 1)."""
    alpha = _mvn_draws(rng, fm.coef, fm.vcov, sims)
    beta = _mvn_draws(rng, fy.coef, fy.vcov, sims)
    return _effects_for(prob, alpha, np.full(sims, fm.sigma), beta, prob.w / prob.w.sum())


def resample_batches(prob: Problem, sims: int, rng: np.random.Generator
                     ) -> Iterator[tuple[slice, np.ndarray, np.ndarray, int]]:
    """Bootstrap frequency weights, a batch of resamples at a time.

    Yields (rows of the batch, mediator-model weights (B, rows), outcome-model
    weights (B, n), rows of the mediator model). Whole clusters are resampled
    when ``clusters`` is given (within blocks when the clusters nest in them),
    units within blocks when ``blocks`` is given, units otherwise.
    """
    n = prob.cols.n
    cl = prob.cols.clusters
    blocks = prob.cols.blocks
    if cl is not None:
        G = int(cl.max()) + 1
        strata = None
        if blocks is not None:
            block_of = np.zeros(G, dtype=np.int64)
            block_of[cl] = blocks
            if np.all(block_of[cl] == blocks):  # clusters nested in blocks
                strata = block_of
        n_res = G
    else:
        strata = blocks
        n_res = n
    batch = max(1, _BOOT_BATCH_ELEMENTS // (n * max(prob.X.shape[1], 1)))
    for lo in range(0, sims, batch):
        size = min(batch, sims - lo)
        counts = _resample_counts(rng, n_res, strata, size)
        unit_counts = counts[:, cl] if cl is not None else counts
        Wy = unit_counts * prob.w[None, :]
        if prob.mediator_level == "cluster":
            yield slice(lo, lo + size), counts * prob.w_m[None, :], Wy, prob.W.shape[0]
        else:
            yield slice(lo, lo + size), Wy, Wy, n


def _refit_effects(prob: Problem, fm: Fit, fy: Fit, Wm: np.ndarray, Wy: np.ndarray, n_m: int,
                   n_y: int) -> np.ndarray:
    """Effects with both models refitted under each row of weights (resamples or jackknife)."""
    size = Wy.shape[0]
    if prob.m_family == "linear":
        alpha, sigma = ols_batch(prob.m, prob.W, Wm, n=n_m, what="mediator")
    else:
        alpha = newton_batch(prob.m_family, prob.m, prob.W, Wm, fm.coef, what="mediator",
                             resamples=True)
        sigma = np.ones(size)
    if prob.y_family == "linear":
        beta, _ = ols_batch(prob.y, prob.X, Wy, n=n_y, what="outcome")
    else:
        beta = newton_batch(prob.y_family, prob.y, prob.X, Wy, fy.coef, what="outcome", resamples=True)
    wn = Wy / Wy.sum(axis=1, keepdims=True)
    return _effects_for(prob, alpha, sigma, beta, wn)


def _bootstrap(prob: Problem, fm: Fit, fy: Fit, sims: int, rng: np.random.Generator) -> np.ndarray:
    """Effects refitted on ``sims`` resamples (algorithm 2), many resamples at a time."""
    out = np.empty((sims, 4))
    for rows, Wm, Wy, n_m in resample_batches(prob, sims, rng):
        out[rows] = _refit_effects(prob, fm, fy, Wm, Wy, n_m, prob.cols.n)
    return out


_JACKKNIFE_GROUPS = 200


def _jackknife(prob: Problem, fm: Fit, fy: Fit, rng: np.random.Generator) -> np.ndarray:
    """Delete-a-group jackknife effects for the BCa acceleration: (groups, 4).

    The resampling units (clusters, or units) are split at random into at most
    200 groups of equal size and each group is left out in turn (the grouped
    jackknife; with fewer units than that, one unit per group).
    """
    cl = prob.cols.clusters
    n_res = int(cl.max()) + 1 if cl is not None else prob.cols.n
    G = min(n_res, _JACKKNIFE_GROUPS)
    group = np.empty(n_res, dtype=np.int64)
    group[rng.permutation(n_res)] = np.arange(n_res) % G
    unit_group = group[cl] if cl is not None else group
    batch = max(1, _BOOT_BATCH_ELEMENTS // (prob.cols.n * max(prob.X.shape[1], 1)))
    out = np.empty((G, 4))
    for lo in range(0, G, batch):
        gs = np.arange(lo, min(G, lo + batch))
        keep_units = (unit_group[None, :] != gs[:, None]).astype(float)
        Wy = keep_units * prob.w[None, :]
        # rows left in each fit (the groups differ by at most one unit, which moves only
        # the residual-variance denominator of a linear mediator model)
        n_y = int(keep_units.sum(axis=1).min())
        if prob.mediator_level == "cluster":
            keep_clusters = (group[None, :] != gs[:, None]).astype(float)
            Wm, n_m = keep_clusters * prob.w_m[None, :], int(keep_clusters.sum(axis=1).min())
        else:
            Wm, n_m = Wy, n_y
        out[gs] = _refit_effects(prob, fm, fy, Wm, Wy, n_m, n_y)
    return out


def bca_interval(draws: np.ndarray, estimate: float, jack: np.ndarray, alpha: float) -> tuple[float, float]:
    """Bias-corrected and accelerated percentile interval (Efron 1987, eqs. 2.3-2.8).

    z0 = Phi^-1(#{draw < estimate} / B); a = sum (m - j_i)^3 / (6 (sum (m - j_i)^2)^1.5)
    from the jackknife values j_i with mean m; the interval is the draws'
    quantiles at Phi(z0 + (z0 + z_q) / (1 - a (z0 + z_q))), q = alpha/2, 1 - alpha/2.
    R's mediate(boot.ci.type = "bca") takes z0 from the share below the draws'
    mean and a from the draws themselves; these are the textbook quantities.
    """
    jack = jack[np.isfinite(jack)]
    share = float(np.mean(draws < estimate))
    share = min(max(share, 0.5 / draws.size), 1 - 0.5 / draws.size)
    z0 = float(stats.norm.ppf(share))
    dev = jack.mean() - jack
    denom = 6.0 * float(np.sum(dev**2)) ** 1.5
    a = float(np.sum(dev**3)) / denom if denom > 0 else 0.0
    qs = []
    for q in (alpha / 2, 1 - alpha / 2):
        zq = float(stats.norm.ppf(q))
        qs.append(float(stats.norm.cdf(z0 + (z0 + zq) / (1 - a * (z0 + zq)))))
    lo, hi = np.quantile(draws, qs)
    return float(lo), float(hi)
