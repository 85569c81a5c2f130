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

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from effekt.data import check_option
from effekt.errors import DesignError, EstimationError

__all__ = [
    "HC_TYPES",
    "CR_TYPES",
    "SE_TYPES",
    "AbsorbedHat",
    "RobustFit",
    "robust_ols",
    "robust_vcov",
    "wald_test",
    "default_se_type",
]

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


@dataclass(frozen=True)
class AbsorbedHat:
    """The hat-matrix part ``H_D`` of fixed effects absorbed from a regression.

    For the weighted dummies ``sqrt(W) D`` of the absorbed factors,

        H_D[i, j] = scale_i * scale_j * [group_i == group_j] + basis_i . basis_j

    where ``group`` is one factor's codes, ``scale_i = sqrt(w_i / W_group)``
    (``W_group`` the group's total weight) and ``basis`` (``n x r``, or
    ``None``) spans the other factors after that one is swept out. The
    whole model's hat matrix is ``H_D + H_X`` with ``X`` demeaned
    (Frisch-Waugh-Lovell), which HC2, HC3 and CR2 need.
    ``effekt.estimators._absorb.Absorber.hat`` builds it.
    """

    group: np.ndarray
    scale: np.ndarray
    basis: np.ndarray | None
    n_groups: int

    def leverage(self) -> np.ndarray:
        """Diagonal of ``H_D``."""
        h = self.scale**2
        if self.basis is not None:
            h = h + np.einsum("ij,ij->i", self.basis, self.basis)
        return h


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
    # columns scaled to unit length, so the check does not depend on units
    norms = np.sqrt(np.diag(gram))
    scale = np.where(norms > 0, norms, 1.0)
    try:
        chol = np.linalg.cholesky(gram / np.outer(scale, scale))
    except np.linalg.LinAlgError:
        chol = None
    if chol is not None and np.all(norms > 0):
        # a pivot below 1e-7 (R's lm tolerance) means a column is, to rounding,
        # a combination of the others: the SEs would be meaningless
        if np.diag(chol).min() > 1e-7:
            inv_chol = np.linalg.inv(chol)
            return (inv_chol.T @ inv_chol) / np.outer(scale, scale)
    Xs = X / scale
    tol = 1e-7 * np.sqrt(X.shape[0])
    rank = min(np.linalg.matrix_rank(Xs, tol=tol), X.shape[1] - 1)
    where = ""
    if names is not None:
        # name the first column that adds nothing to those before it
        for j in range(1, X.shape[1] + 1):
            if norms[j - 1] == 0:
                where = f" Column {names[j - 1]!r} is all zeros (after absorbing any fixed effects)."
                break
            if np.linalg.matrix_rank(Xs[:, :j], tol=tol) < j:
                where = f" Column {names[j - 1]!r} is a linear combination of the columns before it."
                break
    raise EstimationError(
        f"the design matrix has rank {rank} but {X.shape[1]} columns: some regressors are "
        f"collinear or constant.{where} Drop or combine them."
    )


def _widest_term(names: Sequence[str] | None) -> str:
    """A sentence naming the column that expands to the most model columns (levels of a category)."""
    if not names:
        return ""
    sources = Counter(str(n).split("[", 1)[0] for n in names if "[" in str(n))
    if not sources:
        return ""
    column, k = sources.most_common(1)[0]
    return f" Column {column!r} alone expands to {k} indicator columns (text or categories with many levels?)."


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
    allow_exact_fit: bool = False,
    absorbed: AbsorbedHat | None = None,
    outcome: Any = None,
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
    allow_exact_fit : bool, default False
        By default an exact fit (no residual variation, e.g. a constant
        outcome) raises EstimationError, since its standard errors would be
        rounding noise; a first stage under full compliance passes True.
    extra_k : int, default 0
        Parameters absorbed before the call (e.g. fixed effects swept out of
        ``X`` and ``y``); counted in ``n - k`` for classical/HC1/CR1.
    absorbed : AbsorbedHat, optional
        The hat-matrix part of fixed effects swept out of ``X`` and ``y``
        before the call, so that HC2, HC3 and CR2 use the leverage of the
        whole model (see :class:`AbsorbedHat`).
    outcome : column name, optional
        The outcome's column, named in error messages.

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
            f"more data or fewer regressors are needed.{_widest_term(names)}"
        )
    M = _inverse_gram(Xw, names)
    coef = M @ (Xw.T @ yw)
    e = yw - Xw @ coef
    scale = float(np.sqrt(yw @ yw))
    if not allow_exact_fit and (scale == 0.0 or float(np.sqrt(e @ e)) <= 1e-12 * scale):
        raise EstimationError(
            "the regressors fit the outcome exactly (is the outcome constant, or a copy of a "
            "regressor?), so there is no residual variation to estimate standard errors from. "
            + (f"Check the outcome column {outcome!r}." if outcome is not None else "Check the outcome column.")
        )
    vcov, df, n_clusters = robust_vcov(
        Xw, e, M, se_type=se_type, clusters=clusters, k_total=k_total, absorbed=absorbed,
        df_coefs=df_coefs,
    )
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


def robust_vcov(
    Xw: np.ndarray,
    e: np.ndarray,
    M: np.ndarray,
    *,
    se_type: str,
    clusters: np.ndarray | None = None,
    k_total: int | None = None,
    absorbed: AbsorbedHat | None = None,
    df_coefs: Sequence[int] | None = None,
) -> tuple[np.ndarray, np.ndarray, int | None]:
    """The sandwich ``M (sum of scores) M`` and its degrees of freedom.

    The building block of :func:`robust_ols`, exposed for estimators whose
    residuals do not come from regressing ``y`` on ``Xw`` itself: two-stage
    least squares passes the fitted first-stage regressors as ``Xw``
    (whose hat matrix gives the leverage, as in estimatr's ``iv_robust``)
    and the structural residuals as ``e``.

    Parameters
    ----------
    Xw : (n, k) regressors, already multiplied by ``sqrt(weights)``
    e : (n,) residuals on the same scale
    M : (k, k) ``(Xw' Xw)^{-1}``
    se_type, clusters, absorbed, df_coefs : as in :func:`robust_ols`
    k_total : parameters counted in ``n - k`` (default ``k``)

    Returns
    -------
    (vcov, df, n_clusters)

    Examples
    --------
    >>> X = np.column_stack([np.ones(6), [0.0, 0, 0, 1, 1, 1]])
    >>> M = np.linalg.inv(X.T @ X)
    >>> e = np.array([-1.0, 0, 1, -2, 0, 2])
    >>> vcov, df, _ = robust_vcov(X, e, M, se_type="HC2")
    >>> round(float(vcov[1, 1]), 6), float(df[1])   # (1 + 4) / 3 in Neyman's form
    (1.666667, 4.0)
    """
    n, k = Xw.shape
    k_total = k if k_total is None else k_total
    df = np.full(k, float(n - k_total))
    n_clusters = None
    if se_type == "classical":
        vcov = M * (e @ e) / (n - k_total)
    elif se_type in ("HC0", "HC1", "HC2", "HC3"):
        if se_type == "HC0":
            u2 = e**2
        elif se_type == "HC1":
            u2 = e**2 * n / (n - k_total)
        else:
            h = np.einsum("ij,jk,ik->i", Xw, M, Xw)
            if absorbed is not None:
                h = h + absorbed.leverage()
            one_minus_h = 1.0 - h
            if np.any(one_minus_h < _TOL):
                bad = np.flatnonzero(one_minus_h < _TOL)
                raise EstimationError(
                    f"{se_type} is undefined: {bad.size} observation(s) (positions "
                    f"{bad[:5].tolist()}) have leverage 1: each alone determines a "
                    "parameter, e.g. a block, fixed-effect level or arm with a single unit. "
                    "Drop or merge those singleton groups, or use HC1."
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
            meat, df = _cr2(Xw, e, codes, G, M, df_coefs, absorbed)
        else:
            scores = np.zeros((G, k))
            np.add.at(scores, codes, Xw * e[:, None])
            meat = scores.T @ scores
            if se_type == "CR1":
                meat *= G / (G - 1) * (n - 1) / (n - k_total)
            df = np.full(k, float(G - 1))
        vcov = M @ meat @ M
    return vcov, df, n_clusters


def wald_test(coef: np.ndarray, vcov: np.ndarray, R: np.ndarray, *, df: float | None) -> dict[str, float]:
    """Robust Wald test of ``R b = 0``.

    ``F = (R b)' (R V R')^{-1} (R b) / q`` with ``q`` rows of ``R``, referred
    to ``F(q, df)``, or to ``chi2(q) / q`` when ``df`` is ``None``. Use the
    residual degrees of freedom for the HC types and ``G - 1`` for the CR
    types (estimatr's ``fstatistic`` convention).

    Returns ``{"statistic", "df1", "df2", "p_value"}`` (``df2`` NaN for chi2).

    >>> V = np.diag([1.0, 4.0])
    >>> round(wald_test(np.array([2.0, 2.0]), V, np.eye(2), df=None)["statistic"], 3)
    2.5
    """
    from scipy import stats

    R = np.atleast_2d(np.asarray(R, dtype=float))
    Rb = R @ coef
    RVR = R @ vcov @ R.T
    try:
        stat = float(Rb @ np.linalg.solve(RVR, Rb)) / R.shape[0]
    except np.linalg.LinAlgError:
        raise EstimationError(
            "the tested combinations of coefficients have a singular covariance; drop redundant rows of R."
        ) from None
    q = R.shape[0]
    if df is None:
        return {"statistic": stat, "df1": float(q), "df2": float("nan"), "p_value": float(stats.chi2.sf(q * stat, q))}
    return {"statistic": stat, "df1": float(q), "df2": float(df), "p_value": float(stats.f.sf(stat, q, df))}


def _cr2(
    Xw: np.ndarray,
    e: np.ndarray,
    codes: np.ndarray,
    G: int,
    M: np.ndarray,
    df_coefs: Sequence[int] | None,
    absorbed: AbsorbedHat | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """CR2 meat and Bell-McCaffrey degrees of freedom (see module notes).

    Per cluster g, with ``A_g = (I - H_gg)^{-1/2}`` (pseudo-inverse root):

    * meat = sum_g (X_g' A_g e_g)(X_g' A_g e_g)'
    * for coefficient j, p_g = A_g X_g M e_j and the Satterthwaite df is
      ``(tr Q)^2 / ||Q||_F^2`` with ``Q_gh = [g == h] p_g'p_g - p_g' H_gh p_h``
      (Pustejovsky & Tipton 2018, Theorem 2 with ``Phi = I``). Writing
      ``H = E E'`` with rows ``E = [X L, absorbed scale/basis]``,
      ``Q = diag(d) - V V'`` with ``d_g = p_g'p_g`` and ``v_g = E_g' p_g``,
      so ``tr Q`` and ``||Q||_F`` need only ``V`` (``G x q``, sparse in the
      absorbed groups) and never a ``G x G`` product of ``n``-vectors.

    With ``absorbed``, ``H_gg`` also holds the fixed effects' block: the
    absorbed factor enters as one column per group present in the cluster
    (``scale`` on that group's rows), the other factors as ``basis``.
    """
    n, k = Xw.shape
    chol = np.linalg.cholesky(M)  # M = L L'
    if absorbed is not None:
        order = np.lexsort((absorbed.group, codes))
    else:
        order = np.argsort(codes, kind="stable")
    sizes = np.bincount(codes, minlength=G)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    Xs, es = Xw[order], e[order]
    # extra hat columns E (n x q_e) in cluster-sorted order, and the global
    # column each cluster's local group column stands for
    E: np.ndarray | None = None
    group_of_local: np.ndarray | None = None
    n_basis = 0
    if absorbed is not None:
        grp = absorbed.group[order]
        cl = codes[order]
        new = np.ones(n, dtype=bool)
        new[1:] = (grp[1:] != grp[:-1]) | (cl[1:] != cl[:-1])
        run = np.cumsum(new) - 1  # index of the (cluster, group) run
        first_run = run[starts]  # first run of each cluster
        local = run - first_run[cl]
        n_local = int(local.max()) + 1
        Fb = np.zeros((n, n_local))
        Fb[np.arange(n), local] = absorbed.scale[order]
        group_of_local = np.full((G, n_local), -1, dtype=np.int64)
        group_of_local[cl, local] = grp
        parts = [Fb]
        if absorbed.basis is not None:
            parts.append(absorbed.basis[order])
            n_basis = absorbed.basis.shape[1]
        E = np.hstack(parts)
    q_e = 0 if E is None else E.shape[1]
    scores = np.empty((G, k))  # X_g' A_g e_g
    XAX = np.empty((G, k, k))  # X_g' A_g X_g
    XA2X = np.empty((G, k, k))  # X_g' A_g^2 X_g
    EAX = np.empty((G, q_e, k))  # E_g' A_g X_g
    for size in np.unique(sizes):
        cl_ids = np.flatnonzero(sizes == size)
        width = k + q_e
        chunk = max(1, _CHUNK_FLOATS // max(1, size * max(width, size) * 4))
        for lo in range(0, cl_ids.size, chunk):
            ids = cl_ids[lo : lo + chunk]
            rows = starts[ids][:, None] + np.arange(size)[None, :]
            Xg = Xs[rows]  # (m, s, k)
            eg = es[rows]  # (m, s)
            B = Xg @ chol  # (m, s, k); H_gg = B B'
            if E is not None:
                Eg = E[rows]
                B = np.concatenate([B, Eg], axis=2)
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
            if E is not None:
                EtU = np.einsum("msq,msr->mqr", Eg, U)
                EtX = np.einsum("msq,msk->mqk", Eg, Xg)
                EAX[ids] = EtX + np.einsum("mqr,mr,mkr->mqk", EtU, root, XtU)
    meat = scores.T @ scores
    df = np.full(k, np.nan)
    for j in range(k) if df_coefs is None else df_coefs:
        mj = M[:, j]
        d = np.einsum("k,gkl,l->g", mj, XA2X, mj)  # p_g' p_g
        parts_v = [(XAX @ mj) @ chol]  # (G, k): L' X_g' A_g X_g M e_j
        if E is not None and group_of_local is not None:
            ve = EAX @ mj  # (G, q_e)
            n_local = group_of_local.shape[1]
            vf = ve[:, :n_local]
            used = group_of_local >= 0
            g_idx = np.repeat(np.arange(G)[:, None], n_local, axis=1)[used]
            Vf = _sparse_rows(vf[used], g_idx, group_of_local[used], G, int(group_of_local.max()) + 1)
            dense = np.hstack([parts_v[0], ve[:, n_local : n_local + n_basis]])
            V = _hstack_sparse(dense, Vf)
        else:
            V = parts_v[0]
        trace, frob2 = _q_moments(d, V)
        df[j] = trace**2 / frob2 if frob2 > 0 else np.nan
    return meat, df


def _sparse_rows(vals: np.ndarray, rows: np.ndarray, cols: np.ndarray, G: int, L: int) -> Any:
    import scipy.sparse as sp

    return sp.csr_matrix((vals, (rows, cols)), shape=(G, L))


def _hstack_sparse(dense: np.ndarray, sparse: Any) -> Any:
    import scipy.sparse as sp

    return sp.hstack([sp.csr_matrix(dense), sparse], format="csr")


def _q_moments(d: np.ndarray, V: Any) -> tuple[float, float]:
    """``tr Q`` and ``||Q||_F^2`` for ``Q = diag(d) - V V'`` (V dense or sparse)."""
    import scipy.sparse as sp

    if isinstance(V, sp.csr_matrix):
        row2 = np.asarray(V.multiply(V).sum(axis=1)).ravel()
        G, q = V.shape
        gram = (V @ V.T) if G <= q else (V.T @ V)
        gram2 = float(gram.multiply(gram).sum()) if sp.issparse(gram) else float((gram**2).sum())
    else:
        row2 = np.einsum("gk,gk->g", V, V)
        gram = V.T @ V if V.shape[0] > V.shape[1] else V @ V.T
        gram2 = float((gram**2).sum())
    trace = float(d.sum() - row2.sum())
    frob2 = float((d**2).sum() - 2.0 * (d * row2).sum() + gram2)
    return trace, frob2
