"""Absorbing fixed effects: the within transformation and its hat matrix.

A regression of ``y`` on ``X`` and the dummies ``D`` of one or more factors
gives, by the Frisch-Waugh-Lovell theorem, the same coefficients on ``X`` as
the regression of ``M_D y`` on ``M_D X``, where ``M_D = I - H_D`` sweeps out
the (weighted) factor means. :class:`Absorber` computes ``M_D A`` without
forming a dummy column:

* one factor: subtract the weighted group means (exact, one pass);
* several factors: alternating projections (the method of pyfixest and of
  estimatr's ``demeanMat2``), iterated until the largest change is below
  ``tol`` times the column's scale.

HC2, HC3 and CR2 need the leverage of the *whole* model, ``H = H_D +
H_{M_D X}``, not only that of the demeaned regressors: forgetting ``H_D``
understates every correction (estimatr builds the dummies for this; we do
not). With ``D1`` the factor with most levels and ``R = M_{D1} D_rest`` the
other factors' dummies swept of it,

    H_D = H_{D1} + R (R'R)^+ R',    (H_{D1})_{ij} = sqrt(w_i w_j) / W_g  [i, j in group g]

so :meth:`Absorber.hat` returns the one factor's scale ``sqrt(w_i / W_g)``
and an ``n x r`` basis ``B`` with ``B B' = R (R'R)^+ R'`` (``r`` = rank of
the other factors after the first), built from ``R'R``, a
``levels x levels`` matrix of weighted cross-tabulations.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from effekt.errors import EstimationError
from effekt.sandwich import AbsorbedHat

__all__ = ["Absorber", "check_not_absorbed", "demean", "DEMEAN_TOL"]

#: the other factors' levels above which their hat basis is not formed
MAX_OTHER_LEVELS = 5_000


#: convergence of the alternating projections, shared by every absorption in effekt (lm_robust,
#: heterogeneity, the DiD estimators): a round of sweeps that removes no group mean larger than
#: this times the column's largest absolute value (taken before absorbing) ends the iteration.
#: The remaining error is about this times rho / (1 - rho) for a convergence rate rho per round,
#: so coefficients agree with the dummy-variable regression to about 1e-9 on ordinary panels;
#: pyfixest stops at 1e-8 and fixest at 1e-6. 1e-13 would cost one or two more rounds (15-35%
#: more time on an unbalanced or weighted 2M-row panel, as measured) for digits no test needs.
DEMEAN_TOL = 1e-10


def demean(
    Z: np.ndarray,
    fes: Sequence[tuple[np.ndarray, int]],
    weights: np.ndarray | None = None,
    *,
    tol: float = DEMEAN_TOL,
    maxiter: int = 10_000,
    copy: bool = True,
    names: Sequence[str] | None = None,
) -> tuple[np.ndarray, int]:
    """Sweep the fixed effects ``fes`` (codes ``0..levels-1``, levels) out of each column of ``Z``.

    One factor: the (weighted) group means are subtracted, exactly. Several:
    alternating projections (Gaure 2013; the method of pyfixest's ``demean``
    and estimatr's ``demeanMat2``), each sweep one ``numpy.bincount`` per
    factor and column, until a round removes no group mean above ``tol``
    times the column's scale (:data:`DEMEAN_TOL`). A balanced two-way panel
    without weights (every cell once) takes the closed form
    ``z - mean_1 - mean_2 + mean``, the projections' fixed point. Returns the
    demeaned columns (a Fortran-ordered float array; ``copy=False`` works in
    place on such an array) and the number of rounds (0 for the closed form).

    >>> Z, sweeps = demean(np.array([1.0, 3.0, 10.0, 14.0]), [(np.array([0, 0, 1, 1]), 2)])
    >>> Z[:, 0].tolist(), sweeps
    ([-1.0, 1.0, -2.0, 2.0], 1)
    """
    if copy or Z.dtype != np.float64 or not Z.flags.f_contiguous:
        Z = np.array(Z, dtype=float, order="F", copy=True)
    if Z.ndim == 1:
        Z = Z[:, None]
    n = Z.shape[0]
    wsums = [
        np.bincount(c, weights=weights, minlength=k) if weights is not None else np.bincount(c, minlength=k).astype(float)
        for c, k in fes
    ]
    if len(fes) == 1:
        c, k = fes[0]
        for j in range(Z.shape[1]):
            Z[:, j] -= _group_means(Z[:, j], c, k, weights, wsums[0])[c]
        return Z, 1
    if len(fes) == 2 and weights is None:
        (c1, k1), (c2, k2) = fes
        if k1 * k2 == n and np.all(wsums[0] == k2) and np.all(wsums[1] == k1):
            # balanced: every (unit, time) cell once, so check it is a full grid
            cell = c1 * k2 + c2
            if np.bincount(cell, minlength=k1 * k2).min() == 1:
                for j in range(Z.shape[1]):
                    z = Z[:, j]
                    m1 = np.bincount(c1, weights=z, minlength=k1) / k2
                    m2 = np.bincount(c2, weights=z, minlength=k2) / k1
                    Z[:, j] = z - m1[c1] - m2[c2] + z.mean()
                return Z, 0
    sweeps = 0
    for j in range(Z.shape[1]):
        z = Z[:, j]
        scale = max(float(np.abs(z).max()), 1e-300)
        it = 0
        for it in range(1, maxiter + 1):  # noqa: B007
            moved = 0.0
            for (c, k), ws in zip(fes, wsums):
                m = _group_means(z, c, k, weights, ws)
                moved = max(moved, float(np.abs(m).max()))
                z -= m[c]
            if moved <= tol * scale:
                break
        else:
            which = f" {', '.join(names)}" if names else ""
            raise EstimationError(
                f"absorbing the fixed effects{which} did not converge in {maxiter} sweeps: the factors "
                "are nearly collinear or poorly connected (e.g. units observed in one period only). "
                "Drop such units, absorb fewer factors or add the smaller one as covariates."
            )
        sweeps = max(sweeps, it)
    return Z, sweeps


def _group_means(z: np.ndarray, codes: np.ndarray, k: int, w: np.ndarray | None, wsum: np.ndarray) -> np.ndarray:
    sums = np.bincount(codes, weights=z if w is None else z * w, minlength=k)
    return sums / wsum  # type: ignore[no-any-return]


class Absorber:
    """Within transformation for one or more factors, with weights.

    Parameters
    ----------
    factors : sequence of (n,) integer code arrays (0..L-1, every level used)
    weights : (n,) positive array, optional
    names : the factors' column names, for messages
    tol, maxiter : convergence of the alternating projections (two or more factors)

    Examples
    --------
    >>> a = Absorber([np.array([0, 0, 1, 1])])
    >>> a.demean(np.array([1.0, 3.0, 10.0, 14.0])).tolist(), a.rank
    ([-1.0, 1.0, -2.0, 2.0], 2)
    """

    def __init__(
        self,
        factors: Sequence[np.ndarray],
        weights: np.ndarray | None = None,
        names: Sequence[str] | None = None,
        *,
        tol: float = DEMEAN_TOL,
        maxiter: int = 10_000,
    ) -> None:
        if not factors:
            raise ValueError("Absorber needs at least one factor")
        n = len(factors[0])
        self.n = n
        self.weights = None if weights is None else np.asarray(weights, dtype=float)
        w = np.ones(n) if self.weights is None else self.weights
        levels = [int(f.max()) + 1 for f in factors]
        # the factor with most levels is projected exactly; the rest enter R
        order = sorted(range(len(factors)), key=lambda j: -levels[j])
        self.codes = [np.asarray(factors[j], dtype=np.int64) for j in order]
        self.levels = [levels[j] for j in order]
        self.names = [str(names[j]) if names is not None else f"factor {j}" for j in order]
        self.group_weight = [np.bincount(c, weights=w, minlength=L) for c, L in zip(self.codes, self.levels)]
        self.tol = tol
        self.maxiter = maxiter
        self._w = w
        self._rest: tuple[np.ndarray, np.ndarray, int] | None = None

    # -- the within transformation -----------------------------------------
    def _sweep(self, A: np.ndarray, j: int) -> np.ndarray:
        codes, W = self.codes[j], self.group_weight[j]
        wA = A * self._w[:, None]
        sums = np.empty((self.levels[j], A.shape[1]))
        for col in range(A.shape[1]):
            sums[:, col] = np.bincount(codes, weights=wA[:, col], minlength=self.levels[j])
        return A - (sums / W[:, None])[codes]

    def demean(self, A: np.ndarray) -> np.ndarray:
        """``M_D A``: ``A`` minus its projection on the factors' dummies."""
        A = np.asarray(A, dtype=float)
        vector = A.ndim == 1
        out = A[:, None] if vector else A
        if len(self.codes) == 1:
            out = self._sweep(out, 0)
        else:
            out, _ = demean(out, list(zip(self.codes, self.levels)), self.weights, tol=self.tol,
                            maxiter=self.maxiter, names=self.names)
        return out[:, 0] if vector else out

    # -- rank and hat matrix -------------------------------------------------
    def _other_factors(self) -> tuple[np.ndarray, np.ndarray, int]:
        """Eigen-basis ``(V Lambda^{-1/2}, C V Lambda^{-1/2} / W1, rank)`` of ``R'R``."""
        if self._rest is not None:
            return self._rest
        n, w = self.n, self._w
        offsets = np.cumsum([0] + self.levels[1:])
        L_rest = int(offsets[-1])
        if L_rest > MAX_OTHER_LEVELS:
            raise EstimationError(
                f"the fixed effects {', '.join(self.names[1:])} have {L_rest} levels together "
                f"besides {self.names[0]!r}; the exact leverage (HC2, HC3, CR2) or rank is "
                f"formed only up to {MAX_OTHER_LEVELS}. Use se_type='HC1' or 'CR1', or absorb "
                "the largest factor and enter the others as covariates."
            )
        rows = np.tile(np.arange(n), len(self.codes) - 1)
        cols = np.concatenate([c + off for c, off in zip(self.codes[1:], offsets[:-1])])
        Dr = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(n, L_rest))
        DtWD = (Dr.T @ sp.diags(w) @ Dr).toarray()
        C = (sp.csr_matrix((w, (self.codes[0], np.arange(n))), shape=(self.levels[0], n)) @ Dr).tocsr()
        W1 = self.group_weight[0]
        RtR = DtWD - (C.T @ sp.diags(1.0 / W1) @ C).toarray()
        lam, V = np.linalg.eigh((RtR + RtR.T) / 2.0)
        keep = lam > 1e-9 * max(lam.max(initial=0.0), 1.0)
        basis = V[:, keep] / np.sqrt(lam[keep])  # R'R^+ = basis basis'
        C_basis = np.asarray(C @ basis) / W1[:, None]
        self._rest = (basis, C_basis, int(keep.sum()))
        return self._rest

    @property
    def rank(self) -> int:
        """Number of parameters the factors absorb (the rank of ``D``)."""
        if len(self.codes) == 1:
            return self.levels[0]
        if sum(self.levels[1:]) > MAX_OTHER_LEVELS and len(self.codes) == 2:
            # two factors: rank = L1 + L2 - connected components of the bipartite graph
            from scipy.sparse.csgraph import connected_components

            L1, L2 = self.levels
            graph = sp.csr_matrix(
                (np.ones(self.n), (self.codes[0], L1 + self.codes[1])), shape=(L1 + L2, L1 + L2)
            )
            n_comp = connected_components(graph, directed=False)[0]
            return L1 + L2 - int(n_comp)
        return self.levels[0] + self._other_factors()[2]

    def hat(self) -> AbsorbedHat:
        """The fixed effects' part of the hat matrix (weighted scale)."""
        scale = np.sqrt(self._w / self.group_weight[0][self.codes[0]])
        basis = None
        if len(self.codes) > 1:
            V, C_basis, r = self._other_factors()
            if r:
                offsets = np.cumsum([0] + self.levels[1:])
                rows = np.zeros((self.n, r))
                for c, off in zip(self.codes[1:], offsets[:-1]):
                    rows += V[c + off]
                rows -= C_basis[self.codes[0]]
                basis = rows * np.sqrt(self._w)[:, None]
        return AbsorbedHat(group=self.codes[0], scale=scale, basis=basis, n_groups=self.levels[0])


def check_not_absorbed(
    before: np.ndarray, after: np.ndarray, names: Sequence[str], fe_names: Sequence[str], *, tol: float = 1e-9
) -> None:
    """EstimationError for a regressor the fixed effects sweep out entirely.

    A column constant within the levels of the absorbed factors is, after the
    within transformation, rounding noise whose coefficient would be
    meaningless; its norm falls below ``tol`` times its norm before.
    """
    with np.errstate(under="ignore"):  # squares of rounding noise may underflow to 0: harmless here
        norm_before = np.sqrt(np.einsum("ij,ij->j", before, before))
        norm_after = np.sqrt(np.einsum("ij,ij->j", after, after))
    gone = np.flatnonzero((norm_after == 0) | (norm_after <= tol * norm_before))
    if gone.size:
        raise EstimationError(
            f"regressor {names[gone[0]]!r} is constant within the levels of the fixed effects "
            f"{', '.join(repr(f) for f in fe_names)}, which absorb it: its coefficient is not identified. "
            "Drop it, or do not absorb the factor it varies with."
        )
