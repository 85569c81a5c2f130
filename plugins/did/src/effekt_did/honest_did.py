"""Sensitivity of an event study to violations of parallel trends (Rambachan & Roth 2023).

``honest_did`` takes event-study coefficients ``betahat`` (pre-treatment event
times first, the reference period left out) and their covariance ``sigma``, or
an effekt event-study result that carries them, and returns confidence sets
for ``theta = l_vec' tau_post`` that stay valid when the post-treatment
violation of parallel trends ``delta_post`` is restricted by the pre-trends:

* relative magnitudes, Delta^RM(Mbar): every post-treatment change of delta
  is at most ``Mbar`` times the largest pre-treatment change;
* smoothness, Delta^SD(M): the slope of delta changes by at most ``M``
  between consecutive periods (M = 0: a linear trend extrapolated).

Methods: the conditional and the conditional-least-favourable hybrid tests of
Andrews, Roth & Pakes (2023) for moment inequalities with nuisance parameters
(``"Conditional"``, ``"C-LF"``), inverted over a grid; and for smoothness the
fixed-length confidence interval of Armstrong & Kolesar (2018, 2020)
(``"FLCI"``). The moment-inequality test is solved through its dual: the
linear programme ``max_g g'y  s.t. g >= 0, sd'g = 1, X'g = 0`` has a feasible
set that does not depend on y, so its vertices are enumerated once and every
test on the grid (and every least-favourable draw) is a maximum over them.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from effekt.errors import DataError, DesignError, EstimationError
from effekt.result import to_jsonable

__all__ = ["honest_did", "HonestDiDResult"]

_RESTRICTIONS = ("relative_magnitudes", "smoothness")
_METHODS = {"relative_magnitudes": ("C-LF", "Conditional"), "smoothness": ("FLCI", "C-LF", "Conditional")}


# -- the result ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class HonestDiDResult:
    """Robust confidence sets over a grid of ``Mbar`` (or ``M``) values.

    ``lower[i], upper[i]`` is the confidence set at ``values[i]``;
    ``original`` the usual interval (parallel trends exact); ``breakdown``
    the smallest ``Mbar`` (``M``) at which the robust set includes 0, None
    if it does so already at 0 (or never within the searched range).
    """

    restriction: str
    method: str
    parameter: str  # "Mbar" or "M"
    values: tuple[float, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    estimate: float
    original: tuple[float, float]
    breakdown: float | None
    alpha: float
    l_vec: tuple[float, ...]
    num_pre_periods: int
    num_post_periods: int
    notes: tuple[str, ...] = field(default=())

    def tidy(self) -> pd.DataFrame:
        """One row per value of the restriction, then the original interval."""
        rows = [{"restriction": self.restriction, self.parameter: v, "conf.low": lo, "conf.high": hi,
                 "method": self.method} for v, lo, hi in zip(self.values, self.lower, self.upper)]
        rows.append({"restriction": "parallel_trends", self.parameter: float("nan"), "conf.low": self.original[0],
                     "conf.high": self.original[1], "method": "original"})
        return pd.DataFrame(rows)

    def summary(self) -> str:
        head = (f"honest_did: {self.restriction.replace('_', ' ')} ({self.parameter}), method {self.method}, "
                f"{100 * (1 - self.alpha):g}% confidence sets for l'tau_post = {self.estimate:.6g}")
        lines = [head, f"{self.parameter:>8} {'conf.low':>12} {'conf.high':>12}"]
        for v, lo, hi in zip(self.values, self.lower, self.upper):
            lines.append(f"{v:8.4g} {lo:12.6g} {hi:12.6g}")
        lines.append(f"{'original':>8} {self.original[0]:12.6g} {self.original[1]:12.6g}")
        if self.breakdown is None:
            lines.append(f"breakdown value: none (the set includes 0 at {self.parameter} = 0, or never does)")
        else:
            lines.append(f"breakdown value: {self.parameter} = {self.breakdown:.4g} (the smallest at which the "
                         "robust set includes 0)")
        lines.extend(self.notes)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable({k: getattr(self, k) for k in self.__dataclass_fields__})  # type: ignore[no-any-return]

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def plot(self, *, ax: Any = None, labels: Mapping[Any, str] | None = None) -> Any:
        """The robust confidence sets against ``Mbar`` (``M``), the original interval on the left."""
        from effekt.plotting import ARM_COLOURS, COLOURS, figure_and_axes, label_for, reference_line

        fig, axes = figure_and_axes(ax)
        v = np.asarray(self.values, float)
        step = float(np.min(np.diff(v))) if v.size > 1 else max(float(v[0]), 1.0) * 0.5 or 0.5
        x0 = float(v.min()) - step
        reference_line(axes, 0.0)
        mid = 0.5 * (self.original[0] + self.original[1])
        axes.errorbar([x0], [mid], yerr=[[mid - self.original[0]], [self.original[1] - mid]], fmt="none",
                      color=ARM_COLOURS[0], capsize=4, lw=2, label="original")
        mids = 0.5 * (np.asarray(self.lower) + np.asarray(self.upper))
        axes.errorbar(v, mids, yerr=[mids - np.asarray(self.lower), np.asarray(self.upper) - mids], fmt="none",
                      color=COLOURS[0], capsize=4, lw=2, label=self.method)
        if self.breakdown is not None:
            axes.axvline(self.breakdown, color=COLOURS[1], ls="--", lw=1,
                         label=f"breakdown {self.parameter} = {self.breakdown:.3g}")
        axes.set_xlabel(label_for(self.parameter, labels, self.parameter))
        axes.set_ylabel(label_for("effect", labels, "robust confidence set"))
        axes.set_title(f"Sensitivity to violations of parallel trends ({self.restriction.replace('_', ' ')})")
        axes.legend(frameon=False)
        return fig


# -- inputs ---------------------------------------------------------------------------------------
def _from_result(result: Any) -> tuple[np.ndarray, np.ndarray, int, int]:
    extra = getattr(result, "extra", None)
    if extra is None or "vcov" not in extra:
        raise DesignError(
            "honest_did needs an event-study result that carries its coefficient covariance "
            "(effekt's event_study, or callaway_santanna with aggregation='dynamic'), or betahat=, "
            "sigma=, num_pre_periods= and num_post_periods=."
        )
    if extra.get("aggregation") not in (None, "dynamic"):
        raise DesignError(f"honest_did needs an event study: this callaway_santanna result has "
                          f"aggregation={extra.get('aggregation')!r}; refit with aggregation='dynamic'.")
    if extra.get("base_period") == "varying":
        raise DesignError("honest_did needs callaway_santanna with base_period='universal' (every pre-treatment "
                          "coefficient relative to e = -1, as the event study's); the varying base period compares "
                          "consecutive periods. Refit with base_period='universal'.")
    terms = list(extra["vcov_terms"])
    V = np.asarray(extra["vcov"], float)
    by_term = {r.term: r for r in result.rows}
    e = np.array([by_term[t].extra["event_time"] for t in terms], float)
    b = np.array([by_term[t].estimate for t in terms], float)
    ref = np.array([bool(by_term[t].extra.get("reference")) for t in terms])
    keep = ~ref & (e != -1)
    e, b, V = e[keep], b[keep], V[np.ix_(keep, keep)]
    pre, post = e[e < -1], e[e >= 0]
    if pre.size == 0 or post.size == 0:
        raise DesignError(f"honest_did needs pre-treatment event times before e = -1 and post-treatment ones "
                          f"(e >= 0); the result has {e.tolist()}.")
    if np.any(np.diff(pre) != 1) or pre.max() != -2 or np.any(np.diff(post) != 1) or post.min() != 0:
        raise DesignError(f"honest_did needs consecutive event times around the reference e = -1; the result has "
                          f"{e.tolist()}.")
    return b, V, int(pre.size), int(post.size)


def _check_inputs(betahat: Any, sigma: Any, num_pre: Any, num_post: Any) -> tuple[np.ndarray, np.ndarray, int, int]:
    b = np.asarray(betahat, float).ravel()
    S = np.asarray(sigma, float)
    if b.size == 0 or not np.all(np.isfinite(b)):
        raise DataError("betahat must be a non-empty vector of finite event-study coefficients.")
    for name, v in (("num_pre_periods", num_pre), ("num_post_periods", num_post)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise DesignError(f"{name} must be a whole number >= 1; got {v!r}.")
    if int(num_pre) + int(num_post) != b.size:
        raise DesignError(f"num_pre_periods + num_post_periods = {int(num_pre)} + {int(num_post)} must equal the "
                          f"length of betahat ({b.size}): betahat holds the pre-treatment coefficients, then the "
                          "post-treatment ones, without the reference period.")
    if S.shape != (b.size, b.size):
        raise DataError(f"sigma must be the {b.size} x {b.size} covariance matrix of betahat; got shape {S.shape}.")
    if not np.all(np.isfinite(S)):
        raise DataError("sigma has non-finite entries.")
    if not np.allclose(S, S.T, rtol=1e-8, atol=1e-14 * max(np.abs(S).max(), 1e-300)):
        raise DataError("sigma must be symmetric (a covariance matrix); it is not.")
    eig = np.linalg.eigvalsh(0.5 * (S + S.T))
    if eig.min() < -1e-10 * max(eig.max(), 0.0) or eig.max() <= 0:
        raise DataError(f"sigma must be positive semi-definite; its smallest eigenvalue is {eig.min():.3g}.")
    return b, 0.5 * (S + S.T), int(num_pre), int(num_post)


# -- the moment-inequality test (Andrews, Roth & Pakes 2023) ---------------------------------------
def _vertices(sd: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Vertices of {g >= 0, sd'g = 1, X'g = 0} (rows); X is (J, k).

    With B = [sd'; X'] of full row rank r = k + 1 every vertex is a basic
    feasible solution: r columns of B, solved in one batch.
    """
    J, k = X.shape
    B = np.vstack([sd, X.T])  # (k + 1, J)
    rhs = np.zeros(k + 1)
    rhs[0] = 1.0
    r = np.linalg.matrix_rank(B)
    if r == k + 1 and r <= J:
        subsets = np.array(list(itertools.combinations(range(J), r)), dtype=np.intp)
        mats = B[:, subsets].transpose(1, 0, 2)  # (n_sub, r, r)
        scale = np.abs(B).max() ** r
        det = np.linalg.det(mats)
        good = np.abs(det) > 1e-12 * scale
        subsets, mats = subsets[good], mats[good]
        if subsets.shape[0] == 0:
            return np.zeros((0, J))
        g = np.linalg.solve(mats, np.broadcast_to(rhs, (mats.shape[0], r))[..., None])[..., 0]
        feas = np.all(g >= -1e-12, axis=1)
        V = np.zeros((int(feas.sum()), J))
        np.put_along_axis(V, subsets[feas], np.maximum(g[feas], 0.0), axis=1)
        if V.shape[0] == 0:
            return V
        return np.unique(np.round(V, 12), axis=0)
    out: list[np.ndarray] = []
    for size in range(1, r + 1):
        for S in itertools.combinations(range(J), size):
            BS = B[:, S]
            if np.linalg.matrix_rank(BS) < size:
                continue
            g, res, *_ = np.linalg.lstsq(BS, rhs, rcond=None)
            if np.max(np.abs(BS @ g - rhs)) > 1e-9 or np.any(g < -1e-12):
                continue
            v = np.zeros(J)
            v[list(S)] = np.maximum(g, 0.0)
            if not any(np.allclose(v, u, atol=1e-12) for u in out):
                out.append(v)
    return np.array(out).reshape(-1, J)


class _ARP:
    """Conditional / hybrid test of ``E[y_T] - X delta <= 0`` for some delta, at many theta."""

    def __init__(self, y0: np.ndarray, a: np.ndarray, X: np.ndarray, Sigma: np.ndarray, alpha: float,
                 hybrid: str, kappa: float, rng: np.random.Generator, sims: int) -> None:
        # y_T(theta) = y0 - a * theta
        self.y0, self.a, self.Sigma, self.alpha = y0, a, Sigma, alpha
        sd = np.sqrt(np.diag(Sigma))
        if np.any(sd <= 0):
            raise EstimationError("honest_did: a moment has zero variance; sigma is degenerate in the directions "
                                  "the restriction uses.")
        self.V = _vertices(sd, X)
        self.hybrid = hybrid
        self.kappa = kappa
        self.lf_cv = np.inf
        if hybrid == "LF" and self.V.shape[0]:
            # a square root that also works for the singular covariances of paired moments (+-)
            lam, U = np.linalg.eigh(0.5 * (Sigma + Sigma.T))
            root = U * np.sqrt(np.clip(lam, 0.0, None))
            z = rng.standard_normal((sims, Sigma.shape[0]))
            eta = (z @ (root.T @ self.V.T)).max(axis=1)
            self.lf_cv = float(np.quantile(eta, 1 - kappa))

    def accept(self, theta: np.ndarray) -> np.ndarray:
        theta = np.atleast_1d(np.asarray(theta, float))
        if self.V.shape[0] == 0:  # the nuisance can make every moment slack: never reject
            return np.ones(theta.size, dtype=bool)
        Y = self.y0[None, :] - theta[:, None] * self.a[None, :]  # (n, J)
        vals = Y @ self.V.T  # (n, nv)
        j = np.argmax(vals, axis=1)
        eta = vals[np.arange(theta.size), j]
        G = self.V[j]  # (n, J) the optimal dual vertex
        SG = G @ self.Sigma  # (n, J) rows Sigma g
        s2 = np.einsum("ij,ij->i", SG, G)
        accept = np.ones(theta.size, dtype=bool)
        zero = s2 <= np.finfo(float).eps
        accept[zero] = eta[zero] <= 0
        ok = ~zero
        if not ok.any():
            return accept
        sB = np.sqrt(s2[ok])
        b = SG[ok] / s2[ok][:, None]  # (m, J)
        c = eta[ok]
        sT = Y[ok] - b * c[:, None]
        # g stays the optimal vertex iff c (1 - v'b) >= v's_T for every vertex v
        vb = b @ self.V.T  # (m, nv)
        vs = sT @ self.V.T
        den = 1.0 - vb
        with np.errstate(divide="ignore", invalid="ignore"):
            bound = vs / den
        tol = 1e-10
        lo = np.where(den > tol, bound, -np.inf).max(axis=1)
        hi = np.where(den < -tol, bound, np.inf).min(axis=1)
        if self.hybrid == "LF":
            size = (self.alpha - self.kappa) / (1 - self.kappa)
            hi = np.minimum(hi, self.lf_cv)
        else:
            size = self.alpha
        zlo, zup, stat = lo / sB, hi / sB, c / sB
        inside = (zlo <= stat) & (stat <= zup)
        cval = np.full(stat.size, np.inf)
        cval[inside] = np.maximum(0.0, _truncnorm_ppf(1 - size, zlo[inside], zup[inside]))
        rej = inside & (stat > cval)
        if self.hybrid == "LF":
            rej |= c > self.lf_cv
        accept[ok] = ~rej
        return accept


def _truncnorm_ppf(p: float, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return stats.truncnorm.ppf(p, lo, hi)  # type: ignore[no-any-return]


def _gamma(l_vec: np.ndarray) -> np.ndarray:
    """Rows l', then the unit vectors that complete a basis (in order)."""
    rows = [l_vec]
    for i in range(l_vec.size):
        e = np.zeros(l_vec.size)
        e[i] = 1.0
        if np.linalg.matrix_rank(np.vstack(rows + [e])) > len(rows):
            rows.append(e)
        if len(rows) == l_vec.size:
            break
    return np.vstack(rows)


def _arp_accept_grid(b: np.ndarray, S: np.ndarray, A: np.ndarray, d: np.ndarray, n_pre: int, l_vec: np.ndarray,
                     grid: np.ndarray, rows: np.ndarray, alpha: float, hybrid: str, rng: np.random.Generator,
                     sims: int) -> np.ndarray:
    Ginv = np.linalg.inv(_gamma(l_vec))
    AG = A[:, n_pre:] @ Ginv
    a1, X = AG[:, 0], AG[:, 1:]
    Y = A @ b - d
    SY = A @ S @ A.T
    test = _ARP(Y[rows], a1[rows], X[rows], SY[np.ix_(rows, rows)], alpha, hybrid, alpha / 10, rng, sims)
    return test.accept(grid)


def _post_rows(A: np.ndarray, n_pre: int) -> np.ndarray:
    return np.flatnonzero(np.any(A[:, n_pre:] != 0, axis=1))


def _A_rm(n_pre: int, n_post: int, mbar: float, s: int, max_positive: bool) -> np.ndarray:
    """Delta^RM for a fixed location s of the largest pre-period change (R's .create_A_RM)."""
    T = n_pre + n_post
    At = np.zeros((T, T + 1))
    for r in range(T):
        At[r, r:r + 2] = (-1.0, 1.0)
    v = np.zeros(T + 1)
    v[n_pre + s - 1:n_pre + s + 1] = (-1.0, 1.0)
    if not max_positive:
        v = -v
    UB = np.vstack([np.tile(v, (n_pre, 1)), np.tile(mbar * v, (n_post, 1))])
    A = np.vstack([At - UB, -At - UB])
    A = A[(A**2).sum(axis=1) > 1e-10]
    return np.delete(A, n_pre, axis=1)


def _A_sd(n_pre: int, n_post: int) -> np.ndarray:
    T = n_pre + n_post
    At = np.zeros((T - 1, T + 1))
    for r in range(T - 1):
        At[r, r:r + 3] = (1.0, -2.0, 1.0)
    At = np.delete(At, n_pre, axis=1)
    return np.vstack([At, -At])


def _rm_accept(b: np.ndarray, S: np.ndarray, n_pre: int, n_post: int, l_vec: np.ndarray, mbar: float,
               grid: np.ndarray, alpha: float, hybrid: str, seed: int, sims: int) -> np.ndarray:
    acc = np.zeros(grid.size, dtype=bool)
    for s in range(-(n_pre - 1), 1):
        for pos in (True, False):
            A = _A_rm(n_pre, n_post, mbar, s, pos)
            rows = _post_rows(A, n_pre)
            acc |= _arp_accept_grid(b, S, A, np.zeros(A.shape[0]), n_pre, l_vec, grid, rows, alpha, hybrid,
                                    np.random.default_rng(seed), sims)
    return acc


def _sd_accept(b: np.ndarray, S: np.ndarray, n_pre: int, n_post: int, l_vec: np.ndarray, m: float,
               grid: np.ndarray, alpha: float, hybrid: str, seed: int, sims: int) -> np.ndarray:
    A = _A_sd(n_pre, n_post)
    rows = _post_rows(A, n_pre) if n_post > 1 else np.arange(A.shape[0])
    return _arp_accept_grid(b, S, A, np.full(A.shape[0], float(m)), n_pre, l_vec, grid, rows, alpha, hybrid,
                            np.random.default_rng(seed), sims)


def _sd_idset(m: float, n_pre: int, n_post: int, l_vec: np.ndarray) -> tuple[float, float]:
    """Identified set of l'delta_post under Delta^SD(M) with delta_pre = 0 (R's .compute_IDset_DeltaSD)."""
    A = _A_sd(n_pre, n_post)
    T = n_pre + n_post
    Aeq = np.hstack([np.eye(n_pre), np.zeros((n_pre, n_post))])
    f = np.concatenate([np.zeros(n_pre), l_vec])
    out = []
    for sign in (1.0, -1.0):
        r = optimize.linprog(sign * f, A_ub=A, b_ub=np.full(A.shape[0], m), A_eq=Aeq, b_eq=np.zeros(n_pre),
                             bounds=[(None, None)] * T, method="highs")
        out.append(sign * r.fun if r.status == 0 else 0.0)
    # theta = l'beta_post - l'delta_post
    return -out[1], -out[0]


# -- fixed-length confidence interval (Armstrong & Kolesar), smoothness -----------------------------
def _folded_normal_quantile(p: float, mu: float) -> float:
    """q with P(|N(mu, 1)| <= q) = p."""
    mu = abs(mu)
    f = lambda q: stats.norm.cdf(q - mu) - stats.norm.cdf(-q - mu) - p  # noqa: E731
    return float(optimize.brentq(f, 0.0, mu + 10.0, xtol=1e-14))


def _r_rnorm(n: int, seed: int) -> np.ndarray:
    """R's ``set.seed(seed); rnorm(n)`` (Mersenne-Twister with R's seeding, inversion), so that
    HonestDiD's simulated folded-normal quantile can be reproduced exactly."""
    s = np.uint32(seed % 2**32)
    key = np.empty(625, dtype=np.uint32)
    with np.errstate(over="ignore"):
        for _ in range(50):
            s = np.uint32(np.uint32(69069) * s + np.uint32(1))
        for j in range(625):
            s = np.uint32(np.uint32(69069) * s + np.uint32(1))
            key[j] = s
    bg = np.random.MT19937()
    bg.state = {"bit_generator": "MT19937", "state": {"key": key[1:], "pos": 624}}
    u = bg.random_raw(2 * n).astype(np.float64) * 2.3283064365386963e-10
    u = np.where(u <= 0, 0.5 * 2.328306437080797e-10, u)
    big = 134217728.0
    from scipy.special import ndtri

    return ndtri((np.floor(big * u[0::2]) + u[1::2]) / big)  # type: ignore[no-any-return]


class _SimulatedFoldedQuantile:
    """HonestDiD's ``.qfoldednormal``: the p-quantile of |z + mu| over 1e6 fixed draws z."""

    def __init__(self, seed: int) -> None:
        self.z = _r_rnorm(10**6, seed)

    def __call__(self, p: float, mu: float) -> float:
        return float(np.quantile(np.abs(self.z + mu), p))


class _FLCI:
    """R's ``findOptimalFLCI``: affine estimators l_pre'b_pre + l_vec'b_post with the shortest
    fixed-length interval whose worst-case bias under Delta^SD(M) is accounted for."""

    def __init__(self, S: np.ndarray, n_pre: int, n_post: int, l_vec: np.ndarray, quantile: Any = None) -> None:
        self.quantile = quantile or _folded_normal_quantile
        K = n_pre
        self.K = K
        D = np.eye(K)
        for c in range(K - 1):
            D[c + 1, c] = -1.0  # w -> l_pre: first differences
        self.D = D
        Spre = S[:n_pre, :n_pre]
        Spp = S[:n_pre, n_pre:]
        self.Q = D.T @ Spre @ D
        self.q = 2 * D.T @ Spp @ l_vec
        self.c0 = float(l_vec @ S[n_pre:, n_pre:] @ l_vec)
        t = np.arange(1, n_post + 1)
        self.total = float(t @ l_vec)
        self.const = sum(abs(float(np.arange(1, s + 1) @ l_vec[n_post - s:])) for s in range(1, n_post + 1)) \
            - self.total
        self.L = np.tril(np.ones((K, K)))

    def var(self, w: np.ndarray) -> float:
        return float(w @ self.Q @ w + self.q @ w + self.c0)

    def h_min(self) -> tuple[float, np.ndarray]:
        K = self.K
        KKT = np.zeros((K + 1, K + 1))
        KKT[:K, :K] = 2 * self.Q
        KKT[:K, K] = 1.0
        KKT[K, :K] = 1.0
        rhs = np.concatenate([-self.q, [self.total]])
        sol = np.linalg.lstsq(KKT, rhs, rcond=None)[0]
        w = sol[:K]
        return float(np.sqrt(max(self.var(w), 0.0))), w

    def h_bias0(self) -> float:
        w = np.zeros(self.K)
        w[-1] = self.total
        return float(np.sqrt(max(self.var(w), 0.0)))

    def min_bias(self, h: float, w0: np.ndarray) -> tuple[float, np.ndarray]:
        """min const + sum |cumsum(w)| s.t. var(w) <= h^2, sum(w) = total."""
        K = self.K
        L = self.L
        x0 = np.concatenate([np.abs(L @ w0) + 1e-9, w0])
        cons = [
            {"type": "ineq", "fun": lambda x: np.concatenate([x[:K] - L @ x[K:], x[:K] + L @ x[K:]]),
             "jac": lambda x: np.vstack([np.hstack([np.eye(K), -L]), np.hstack([np.eye(K), L])])},
            {"type": "eq", "fun": lambda x: np.array([x[K:].sum() - self.total]),
             "jac": lambda x: np.concatenate([np.zeros(K), np.ones(K)])[None, :]},
            {"type": "ineq", "fun": lambda x: np.array([h**2 - self.var(x[K:])]),
             "jac": lambda x: np.concatenate([np.zeros(K), -(2 * self.Q @ x[K:] + self.q)])[None, :]},
        ]
        r = optimize.minimize(lambda x: x[:K].sum(), x0, jac=lambda x: np.concatenate([np.ones(K), np.zeros(K)]),
                              constraints=cons, method="SLSQP", options={"ftol": 1e-14, "maxiter": 500})
        w = r.x[K:]
        if self.var(w) > h**2 * (1 + 1e-6) + 1e-300 or abs(w.sum() - self.total) > 1e-8 * (1 + abs(self.total)):
            return np.inf, w0  # the solver did not reach the feasible set: no estimator at this h
        return self.const + float(np.abs(L @ w).sum()), w

    def solve(self, M: float, alpha: float) -> tuple[np.ndarray, float]:
        """Optimal pre-period weights l_pre and the half-length."""
        hmin, wmin = self.h_min()
        h0 = self.h_bias0()
        w_start = wmin
        if M == 0:
            return self.D @ wmin, self.quantile(1 - alpha, 0.0) * hmin
        if h0 <= hmin * (1 + 1e-9):
            # the minimum-bias estimator is the minimum-variance one
            w0 = np.zeros(self.K)
            w0[-1] = self.total
            bias = M * (self.const + float(np.abs(self.L @ w0).sum()))
            return self.D @ w0, float(self.quantile(1 - alpha, bias / h0)) * h0
        cache: dict[float, tuple[float, np.ndarray]] = {}

        def half(h: float) -> float:
            if h not in cache:
                cache[h] = self.min_bias(h, w_start)
            bias = M * cache[h][0]
            if not np.isfinite(bias):
                return np.inf
            return float(self.quantile(1 - alpha, bias / h)) * h

        r = optimize.minimize_scalar(half, bounds=(hmin * (1 + 1e-9), h0), method="bounded",
                                     options={"xatol": 1e-9 * h0})
        hs = float(r.x)
        candidates = [(half(hs), hs), (half(h0), h0)]
        best, hb = min(candidates)
        return self.D @ cache[hb][1], best


# -- the entry point ---------------------------------------------------------------------------------
def honest_did(
    result: Any = None,
    *,
    betahat: Any = None,
    sigma: Any = None,
    num_pre_periods: int | None = None,
    num_post_periods: int | None = None,
    restriction: str = "relative_magnitudes",
    mbar: Sequence[float] | float | None = None,
    m: Sequence[float] | float | None = None,
    method: str | None = None,
    l_vec: Sequence[float] | None = None,
    alpha: float = 0.05,
    grid_points: int = 1000,
    sims: int = 10_000,
    seed: int = 0,
    breakdown: bool = True,
    folded_normal: str = "exact",
) -> HonestDiDResult:
    """Robust confidence sets for an event study when parallel trends may fail (Rambachan & Roth 2023).

    Estimand: ``theta = l_vec' tau_post``, a combination of the post-treatment
    event-time effects (default: the first, e = 0), when the event-study
    coefficients are ``beta = (delta_pre, tau_post + delta_post)`` and the
    violation of parallel trends ``delta`` lies in a set restricted by its
    pre-treatment part: relative magnitudes ``Delta^RM(Mbar)`` or smoothness
    ``Delta^SD(M)``.

    Formula: the confidence set is ``{theta: the moment inequalities of
    delta in Delta are not rejected}``, tested by Andrews, Roth & Pakes
    (2023)'s conditional test (``"Conditional"``) or its hybrid with the
    least-favourable test (``"C-LF"``, first stage at ``alpha / 10``), over a
    grid of ``grid_points`` values of theta, ``[-20, 20]`` standard errors
    of ``l_vec' betahat_post`` (relative magnitudes, as HonestDiD; centred at
    the estimate if nothing there is accepted, and extended at the same
    spacing while the set reaches an end) or the
    identified set at ``beta = 0`` widened by 20 standard errors
    (smoothness). For smoothness, ``"FLCI"`` is the shortest fixed-length
    interval ``a'betahat +- chi`` over affine estimators, with chi the
    ``1 - alpha`` quantile of ``|N(bias / sd, 1)| sd`` at the worst-case
    bias (Armstrong & Kolesar 2018; Rambachan & Roth 2023, sec. 4.1).
    The breakdown value is the smallest ``Mbar`` (``M``) at which the set
    includes 0, found by bisection to 1e-4 relative.

    Defaults and why: HonestDiD's: ``"C-LF"`` for relative magnitudes and
    ``"FLCI"`` for smoothness (its recommendations), ``mbar = (0.5, 1, 1.5,
    2)`` and, for ``m``, ten values from 0 to the upper 95% confidence bound of
    the largest pre-period second difference (HonestDiD's
    ``DeltaSD_upperBound_Mpre``), 1000 grid points.

    Parameters
    ----------
    result : EffectTable, default=None
        An event study from effekt: ``event_study`` or ``callaway_santanna``
        with ``aggregation="dynamic"`` and ``base_period="universal"``; its
        coefficients and covariance (``extra["vcov"]``) are used, e = -1 the
        reference. Leave out to pass ``betahat`` and ``sigma``.
    betahat : array, default=None
        Event-study coefficients, pre-treatment first, the reference period
        left out.
    sigma : array, default=None
        Their covariance matrix (positive semi-definite).
    num_pre_periods : int, default=None
    num_post_periods : int, default=None
    restriction : {"relative_magnitudes", "smoothness"}, default="relative_magnitudes"
    mbar : float or list of float, default=None
        Values of Mbar (relative magnitudes).
    m : float or list of float, default=None
        Values of M (smoothness).
    method : {"C-LF", "Conditional", "FLCI"}, default=None
        None: "C-LF" for relative magnitudes, "FLCI" for smoothness.
    l_vec : list of float, default=None
        Weights on the post-treatment effects; None: the first.
    alpha : float, default=0.05
    grid_points : int, default=1000
    sims : int, default=10000
        Draws for the least-favourable critical value of "C-LF".
    seed : int, default=0
        Seed of those draws.
    breakdown : bool, default=True
        Search the breakdown value (False: skip the search, e.g. in a simulation).
    folded_normal : {"exact", "simulated"}, default="exact"
        The FLCI's folded-normal quantile: exact, or HonestDiD's Monte Carlo
        value (1e6 draws of R's generator with ``seed``), which reproduces
        HonestDiD's printed FLCI digits.

    Returns
    -------
    HonestDiDResult
        ``tidy()``, ``summary()``, ``to_dict()``, ``plot()`` (the sets
        against Mbar or M, the original interval beside them).

    Raises
    ------
    DataError
        ``sigma`` of the wrong shape, not symmetric or not positive
        semi-definite; non-finite ``betahat``.
    DesignError
        ``num_pre_periods`` + ``num_post_periods`` not the length of
        ``betahat``, a result without covariance or not an event study,
        unknown restriction or method, negative Mbar or M.

    Notes
    -----
    Reproduces the HonestDiD README (Medicaid expansion, TWFE event study):
    FLCI to 1e-4 and C-LF within a grid step (see the tests). HonestDiD
    computes the folded-normal quantile and the least-favourable critical
    value by simulation (1e6 and 1000 draws); here the first is exact and the
    second uses ``sims`` draws, so the hybrid's endpoints can move by a grid
    step where the least-favourable value binds.

    References
    ----------
    Rambachan & Roth (2023). Rev. Econ. Studies 90(5), 2555-2591. doi:10.1093/restud/rdad018
    Andrews, Roth & Pakes (2023). Econometrica 91(6), 2349-2383. doi:10.3982/ECTA19402
    Armstrong & Kolesar (2018). Econometrica 86(2), 655-683. doi:10.3982/ECTA14434

    Examples
    --------
    >>> import numpy as np
    >>> from effekt_did.honest_did import honest_did
    >>> b = np.array([0.0, 0.01, 0.2, 0.25])
    >>> res = honest_did(betahat=b, sigma=np.eye(4) * 0.01**2, num_pre_periods=2, num_post_periods=2,
    ...                  mbar=[0.5, 1.0])
    >>> res.parameter, len(res.lower), res.lower[0] > 0
    ('Mbar', 2, True)
    """
    if folded_normal not in ("exact", "simulated"):
        raise DesignError(f"folded_normal must be 'exact' or 'simulated'; got {folded_normal!r}.")
    if restriction not in _RESTRICTIONS:
        raise DesignError(f"restriction must be one of {_RESTRICTIONS}; got {restriction!r}.")
    if result is not None:
        if betahat is not None or sigma is not None:
            raise DesignError("honest_did takes either an event-study result or betahat= and sigma=, not both.")
        b, S, n_pre, n_post = _from_result(result)
        b, S, n_pre, n_post = _check_inputs(b, S, n_pre, n_post)
    else:
        if betahat is None or sigma is None or num_pre_periods is None or num_post_periods is None:
            raise DesignError("honest_did needs an event-study result, or betahat=, sigma=, num_pre_periods= and "
                              "num_post_periods=.")
        b, S, n_pre, n_post = _check_inputs(betahat, sigma, num_pre_periods, num_post_periods)
    method = method or _METHODS[restriction][0]
    if method not in _METHODS[restriction]:
        raise DesignError(f"method={method!r} is not available for restriction={restriction!r}; choose one of "
                          f"{_METHODS[restriction]}.")
    if not (isinstance(alpha, float) and 0 < alpha < 1):
        raise DesignError(f"alpha must be a number in (0, 1); got {alpha!r}.")
    if isinstance(grid_points, bool) or not isinstance(grid_points, (int, np.integer)) or grid_points < 10:
        raise DesignError(f"grid_points must be a whole number >= 10; got {grid_points!r}.")
    lv = np.zeros(n_post)
    if l_vec is None:
        lv[0] = 1.0
    else:
        lv = np.asarray(l_vec, float).ravel()
        if lv.size != n_post or not np.all(np.isfinite(lv)) or not np.any(lv):
            raise DesignError(f"l_vec must hold {n_post} finite weights (one per post-treatment period), not all 0.")
    if restriction == "relative_magnitudes" and n_pre < 1:
        raise DesignError("relative magnitudes need at least one pre-treatment coefficient.")
    sd_theta = float(np.sqrt(lv @ S[n_pre:, n_pre:] @ lv))
    est = float(lv @ b[n_pre:])
    z = stats.norm.ppf(1 - alpha / 2)
    original = (est - z * sd_theta, est + z * sd_theta)
    hybrid = {"C-LF": "LF", "Conditional": "ARP"}.get(method, "FLCI")
    param = "Mbar" if restriction == "relative_magnitudes" else "M"
    given = mbar if restriction == "relative_magnitudes" else m
    other = m if restriction == "relative_magnitudes" else mbar
    if other is not None:
        raise DesignError(f"restriction={restriction!r} takes {param}= values ("
                          f"{'mbar' if param == 'Mbar' else 'm'}=), not "
                          f"{'m' if param == 'Mbar' else 'mbar'}=.")
    if given is None:
        if restriction == "relative_magnitudes":
            values = np.array([0.5, 1.0, 1.5, 2.0])
        else:
            # HonestDiD's default: 10 values from 0 to an upper confidence bound of the largest
            # pre-period second difference (its DeltaSD_upperBound_Mpre); with one pre-period, its SE
            top = float(np.sqrt(S[0, 0]))
            if n_pre > 1:
                A = _A_sd(n_pre, 0)
                diffs = A @ b[:n_pre]
                se = np.sqrt(np.diag(A @ S[:n_pre, :n_pre] @ A.T))
                top = float(np.max(diffs + stats.norm.ppf(1 - alpha) * se))
            values = np.linspace(0.0, top if top > 0 else float(np.sqrt(S[0, 0])), 10)
    else:
        values = np.atleast_1d(np.asarray(given, float)).ravel()
    if values.size == 0 or not np.all(np.isfinite(values)) or np.any(values < 0):
        raise DesignError(f"{param} values must be finite and >= 0; got {values.tolist()}.")
    notes: list[str] = []
    quantile = _SimulatedFoldedQuantile(int(seed)) if folded_normal == "simulated" else None

    def interval(v: float) -> tuple[float, float]:
        if restriction == "smoothness" and hybrid == "FLCI":
            fl = _FLCI(S, n_pre, n_post, lv, quantile)
            l_pre, half = fl.solve(float(v), alpha)
            centre = float(l_pre @ b[:n_pre] + lv @ b[n_pre:])
            return centre - half, centre + half
        grid = _grid(v)
        acc = _accept(v, grid)
        if not acc.any():
            # HonestDiD's grid is centred at 0; an effect far from 0 needs it centred at the estimate
            grid = grid + est
            acc = _accept(v, grid)
        for _ in range(3):
            # a set that reaches the end of the grid: extend the grid at the same spacing
            if not acc.any() or not (acc[0] or acc[-1]):
                break
            step = grid[1] - grid[0]
            n_add = grid.size // 2
            grid = np.concatenate([grid[0] - step * np.arange(n_add, 0, -1), grid,
                                   grid[-1] + step * np.arange(1, n_add + 1)])
            acc = _accept(v, grid)
        if not acc.any():
            return float("nan"), float("nan")
        if acc[0] or acc[-1]:
            msg = f"the confidence set at {param} = {v:g} reaches the end of the grid: it may be longer."
            if msg not in notes:
                notes.append(msg)
        return float(grid[acc].min()), float(grid[acc].max())

    def _grid(v: float) -> np.ndarray:
        if restriction == "relative_magnitudes":
            return np.linspace(-20 * sd_theta, 20 * sd_theta, int(grid_points))
        lo, hi = _sd_idset(float(v), n_pre, n_post, lv)
        return np.linspace(lo - 20 * sd_theta, hi + 20 * sd_theta, int(grid_points))

    def _accept(v: float, theta: np.ndarray) -> np.ndarray:
        if restriction == "relative_magnitudes":
            return _rm_accept(b, S, n_pre, n_post, lv, float(v), theta, alpha, hybrid, seed, int(sims))
        return _sd_accept(b, S, n_pre, n_post, lv, float(v), theta, alpha, hybrid, seed, int(sims))

    lows, highs = [], []
    for v in values:
        lo, hi = interval(float(v))
        lows.append(lo)
        highs.append(hi)

    def covers_zero(v: float) -> bool:
        if restriction == "smoothness" and hybrid == "FLCI":
            lo, hi = interval(v)
            return lo <= 0 <= hi
        return bool(_accept(v, np.array([0.0]))[0])

    scale = float(values.max()) if values.max() > 0 else 1.0
    bd: float | None = None
    if not breakdown:
        notes.append("breakdown value not searched (breakdown=False).")
    elif restriction == "smoothness" and hybrid == "FLCI":
        bd = _breakdown_flci(interval, scale)
    else:
        bd = _breakdown(covers_zero, scale=scale)
    return HonestDiDResult(restriction=restriction, method=method, parameter=param,
                           values=tuple(float(v) for v in values), lower=tuple(lows), upper=tuple(highs),
                           estimate=est, original=(float(original[0]), float(original[1])), breakdown=bd,
                           alpha=alpha, l_vec=tuple(float(x) for x in lv), num_pre_periods=n_pre,
                           num_post_periods=n_post, notes=tuple(notes))


def _breakdown_flci(interval: Any, scale: float) -> float | None:
    """The FLCI's endpoints move continuously with M: the root of the endpoint nearer 0."""
    lo0, hi0 = interval(0.0)
    if lo0 <= 0 <= hi0:
        return None
    side = 0 if lo0 > 0 else 1
    f = lambda v: interval(v)[side]  # noqa: E731
    hi = scale
    for _ in range(30):
        if (f(hi) <= 0) if side == 0 else (f(hi) >= 0):
            break
        hi *= 2
    else:
        return None
    return float(optimize.brentq(f, 0.0, hi, xtol=1e-6 * hi))


def _breakdown(covers_zero: Any, scale: float) -> float | None:
    """Smallest v >= 0 with covers_zero(v), by doubling then bisection (None if at 0 or never)."""
    if covers_zero(0.0):
        return None
    hi = scale
    for _ in range(30):
        if covers_zero(hi):
            break
        hi *= 2
    else:
        return None
    lo = 0.0
    while hi - lo > 1e-4 * hi:
        mid = 0.5 * (lo + hi)
        if covers_zero(mid):
            hi = mid
        else:
            lo = mid
    return hi
