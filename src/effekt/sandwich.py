"""Least squares with heteroskedasticity- and cluster-robust variances.

The sandwich estimators of the design-based school, computed on arrays:

* ``HC0``-``HC3`` and ``classical`` for individually randomised designs
  (MacKinnon & White 1985; HC2 is the Neyman variance of a difference in
  means, Samii & Aronow 2012);
* ``CR0``, ``CR1`` (Stata's small-sample factor) and ``CR2`` (Bell &
  McCaffrey 2002) for clustered designs, with the Bell-McCaffrey
  Satterthwaite degrees of freedom for CR2 (Pustejovsky & Tipton 2018,
  eq. 11, with the working model ``Var(e) = sigma^2 I``).

Weights enter by transforming ``X`` and ``y`` by ``sqrt(w)``, as in
estimatr, so every formula below applies to the transformed arrays.

Why not statsmodels: it has no CR2 and no Bell-McCaffrey degrees of
freedom (statsmodels issues 8390 and 8769). The CR2 adjustment here never
forms an ``n x n`` matrix, nor even a cluster's ``n_g x n_g`` block: with
``X_g L`` (``L L' = (X'X)^{-1}``) factored as ``U S V'``, the hat block is
``H_gg = U S^2 U'`` and ``(I - H_gg)^{-1/2} = I + U diag((1 - s^2)^{-1/2} - 1) U'``,
so each cluster costs a thin SVD of an ``n_g x p`` matrix, batched over
clusters of equal size.

References
----------
Bell, R. M. & McCaffrey, D. F. (2002). Bias reduction in standard errors for
linear regression with multi-stage samples. Survey Methodology 28(2), 169-181.
MacKinnon, J. G. & White, H. (1985). Journal of Econometrics 29(3), 305-325.
Pustejovsky, J. E. & Tipton, E. (2018). Small-sample methods for
cluster-robust variance estimation and hypothesis testing in fixed effects
models. JBES 36(4), 672-683. doi:10.1080/07350015.2016.1247004
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from effekt.data import check_option
from effekt.errors import DesignError, EstimationError

__all__ = ["HC_TYPES", "CR_TYPES", "SE_TYPES", "RobustFit", "robust_ols", "default_se_type"]

HC_TYPES = ("classical", "HC0", "HC1", "HC2", "HC3")
CR_TYPES = ("CR0", "CR1", "CR2")
SE_TYPES = HC_TYPES + CR_TYPES
_ALIASES = {"stata": "CR1", "HC1": "HC1"}

#: below this, an eigenvalue of (I - H_gg) counts as zero (pseudo-inverse)
_TOL = 1e-10
#: upper bound on floats held at once by the batched cluster computations
_CHUNK_FLOATS = 20_000_000


@dataclass(frozen=True)
class RobustFit:
    """Coefficients, their robust covariance and degrees of freedom.

    ``df`` holds one value per coefficient: ``n - k`` for the HC family,
    ``G - 1`` for CR0/CR1, and the Bell-McCaffrey value for CR2.
    """

    coef: np.ndarray
    vcov: np.ndarray
    df: np.ndarray
    se_type: str
    n: int
    k: int
    n_clusters: int | None
    residuals: np.ndarray

    @property
    def std_error(self) -> np.ndarray:
        return np.sqrt(np.diag(self.vcov))


def default_se_type(se_type: str | None, clustered: bool) -> str:
    """Resolve ``se_type``: ``None`` gives HC2, or CR2 when clustered.

    Raises DesignError for a cluster type without clusters (and the
    reverse), listing the choices.
    """
    if se_type is None:
        return "CR2" if clustered else "HC2"
    se_type = _ALIASES.get(se_type, se_type)
    check_option(se_type, "se_type", SE_TYPES)
    if clustered and se_type not in CR_TYPES:
        raise DesignError(
            f"se_type={se_type!r} ignores the clusters=. With clusters use one of "
            f"{', '.join(repr(t) for t in CR_TYPES)}; or drop clusters= if units were randomised "
            "individually."
        )
    if not clustered and se_type in CR_TYPES:
        raise DesignError(
            f"se_type={se_type!r} needs clusters=. Without clusters use one of "
            f"{', '.join(repr(t) for t in HC_TYPES)}."
        )
    return se_type


def _inverse_gram(X: np.ndarray, names: Sequence[str] | None) -> np.ndarray:
    gram = X.T @ X
    try:
        chol = np.linalg.cholesky(gram)
    except np.linalg.LinAlgError:
        chol = None
    if chol is not None:
        # condition check: a near-singular design gives meaningless SEs
        diag = np.diag(chol)
        if diag.min() > 1e-10 * max(diag.max(), 1.0):
            inv_chol = np.linalg.inv(chol)
            return inv_chol.T @ inv_chol
    rank = np.linalg.matrix_rank(X)
    where = ""
    if names is not None:
        # name the first column that adds nothing to those before it
        for j in range(1, X.shape[1] + 1):
            if np.linalg.matrix_rank(X[:, :j]) < j:
                where = f" Column {names[j - 1]!r} is a linear combination of the columns before it."
                break
    raise EstimationError(
        f"the design matrix has rank {rank} but {X.shape[1]} columns: some regressors are "
        f"collinear or constant.{where} Drop or combine them."
    )


def robust_ols(
    X: np.ndarray,
    y: np.ndarray,
    *,
    se_type: str = "HC2",
    clusters: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    df_coefs: Sequence[int] | None = None,
    names: Sequence[str] | None = None,
    extra_k: int = 0,
) -> RobustFit:
    """Weighted least squares with a robust covariance.

    Parameters
    ----------
    X : (n, k) array
        Regressors, intercept included by the caller.
    y : (n,) array
    se_type : str, default "HC2"
        One of ``classical, HC0, HC1, HC2, HC3, CR0, CR1, CR2``.
    clusters : (n,) integer codes, optional
        Required for the CR types.
    weights : (n,) positive array, optional
    df_coefs : indices of coefficients whose CR2 degrees of freedom are
        wanted (default: all). Others get ``nan``.
    names : column names, used in error messages.
    extra_k : int, default 0
        Parameters absorbed before the call (e.g. fixed effects swept out of
        ``X`` and ``y``); counted in ``n - k`` for classical/HC1/CR1.

    Returns
    -------
    RobustFit

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> X = np.column_stack([np.ones(20), np.repeat([0.0, 1.0], 10)])
    >>> y = X @ [1.0, 2.0] + rng.normal(size=20)
    >>> fit = robust_ols(X, y, se_type="HC2")
    >>> bool(np.isclose(fit.coef[1], y[10:].mean() - y[:10].mean()))
    True
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    n, k = X.shape
    se_type = default_se_type(se_type, clusters is not None)
    if weights is not None:
        sw = np.sqrt(np.asarray(weights, dtype=float))
        Xw, yw = X * sw[:, None], y * sw
    else:
        Xw, yw = X, y
    k_total = k + extra_k
    if n <= k_total:
        raise EstimationError(
            f"{n} observations cannot estimate {k_total} parameters and their variance; "
            "more data or fewer regressors are needed."
        )
    M = _inverse_gram(Xw, names)
    coef = M @ (Xw.T @ yw)
    e = yw - Xw @ coef
    df = np.full(k, float(n - k_total))
    n_clusters = None
    if se_type == "classical":
        vcov = M * (e @ e) / (n - k_total)
    elif se_type in ("HC0", "HC1", "HC2", "HC3"):
        h = np.einsum("ij,jk,ik->i", Xw, M, Xw)
        if se_type == "HC0":
            u2 = e**2
        elif se_type == "HC1":
            u2 = e**2 * n / (n - k_total)
        else:
            one_minus_h = 1.0 - h
            if np.any(one_minus_h < _TOL):
                bad = np.flatnonzero(one_minus_h < _TOL)[:5].tolist()
                raise EstimationError(
                    f"{se_type} is undefined: observation(s) at positions {bad} have leverage 1 "
                    "(each alone determines a coefficient, e.g. a block or arm with a single "
                    "unit). Use HC1, or merge the singleton groups."
                )
            u2 = e**2 / (one_minus_h if se_type == "HC2" else one_minus_h**2)
        vcov = M @ ((Xw * u2[:, None]).T @ Xw) @ M
    else:
        if clusters is None:  # guarded by default_se_type
            raise DesignError(f"se_type={se_type!r} needs clusters=.")
        codes = np.unique(np.asarray(clusters), return_inverse=True)[1].ravel()
        G = int(codes.max()) + 1
        n_clusters = G
        if G < 2:
            raise EstimationError(
                "only one cluster: cluster-robust standard errors need at least two clusters."
            )
        if se_type == "CR2":
            meat, df = _cr2(Xw, e, codes, G, M, df_coefs)
        else:
            scores = np.zeros((G, k))
            np.add.at(scores, codes, Xw * e[:, None])
            meat = scores.T @ scores
            if se_type == "CR1":
                meat *= G / (G - 1) * (n - 1) / (n - k_total)
            df = np.full(k, float(G - 1))
        vcov = M @ meat @ M
    return RobustFit(
        coef=coef,
        vcov=vcov,
        df=df,
        se_type=se_type,
        n=n,
        k=k_total,
        n_clusters=n_clusters,
        residuals=e if weights is None else e / sw,
    )


def _cr2(
    Xw: np.ndarray,
    e: np.ndarray,
    codes: np.ndarray,
    G: int,
    M: np.ndarray,
    df_coefs: Sequence[int] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """CR2 meat and Bell-McCaffrey degrees of freedom (see module notes).

    Per cluster g, with ``A_g = (I - H_gg)^{-1/2}`` (pseudo-inverse root):

    * meat = sum_g (X_g' A_g e_g)(X_g' A_g e_g)'
    * for coefficient j, p_g = A_g X_g M e_j and the Satterthwaite df is
      ``(tr Q)^2 / ||Q||_F^2`` with ``Q = diag(p_g'p_g) - W' M W``,
      ``W = [X_g' p_g]_g`` (Pustejovsky & Tipton 2018, Theorem 2 with
      ``Phi = I``); ``p_g' p_g = e_j' M X_g' A_g^2 X_g M e_j``.
    """
    n, k = Xw.shape
    chol = np.linalg.cholesky(M)  # M = L L'
    order = np.argsort(codes, kind="stable")
    sizes = np.bincount(codes, minlength=G)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    Xs, es = Xw[order], e[order]
    scores = np.empty((G, k))  # X_g' A_g e_g
    XAX = np.empty((G, k, k))  # X_g' A_g X_g
    XA2X = np.empty((G, k, k))  # X_g' A_g^2 X_g
    for size in np.unique(sizes):
        cl = np.flatnonzero(sizes == size)
        chunk = max(1, _CHUNK_FLOATS // max(1, size * k * 4))
        for lo in range(0, cl.size, chunk):
            ids = cl[lo : lo + chunk]
            rows = starts[ids][:, None] + np.arange(size)[None, :]
            Xg = Xs[rows]  # (m, s, k)
            eg = es[rows]  # (m, s)
            B = Xg @ chol  # (m, s, k); H_gg = B B'
            U, sv, _ = np.linalg.svd(B, full_matrices=False)  # U (m, s, r)
            lam = 1.0 - sv**2
            pos = lam > _TOL
            root = np.where(pos, 1.0 / np.sqrt(np.where(pos, lam, 1.0)), 0.0) - 1.0
            inv = np.where(pos, 1.0 / np.where(pos, lam, 1.0), 0.0) - 1.0
            XtU = np.einsum("msk,msr->mkr", Xg, U)
            Ute = np.einsum("msr,ms->mr", U, eg)
            Xte = np.einsum("msk,ms->mk", Xg, eg)
            XtX = np.einsum("msk,msl->mkl", Xg, Xg)
            scores[ids] = Xte + np.einsum("mkr,mr->mk", XtU, root * Ute)
            XAX[ids] = XtX + np.einsum("mkr,mr,mlr->mkl", XtU, root, XtU)
            XA2X[ids] = XtX + np.einsum("mkr,mr,mlr->mkl", XtU, inv, XtU)
    meat = scores.T @ scores
    df = np.full(k, np.nan)
    for j in range(k) if df_coefs is None else df_coefs:
        mj = M[:, j]
        d = np.einsum("k,gkl,l->g", mj, XA2X, mj)  # p_g' p_g
        W = XAX @ mj  # (G, k): X_g' A_g X_g M e_j
        MW = W @ M  # rows: (M w_g)'
        diag_wMw = np.einsum("gk,gk->g", MW, W)
        S = W.T @ W
        MS = M @ S
        trace = d.sum() - np.trace(MS)
        frob2 = (d**2).sum() - 2.0 * (d * diag_wMw).sum() + np.einsum("ij,ji->", MS, MS)
        df[j] = trace**2 / frob2 if frob2 > 0 else np.nan
    return meat, df
