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
estimatr, so every formula below applies to the transformed arrays, except
the weighted CR2: it follows clubSandwich's default for weighted least
squares (working model ``Var(e) = sigma^2 I`` in the original units,
Pustejovsky & Tipton 2018, eq. 6), see :func:`_cr2_weighted`.

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
    "cr2_blocks",
    "cr2_two_way",
    "cr2_within",
    "cluster_vcov",
    "blas_single_thread",
    "score_vcov",
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
#: an absorbed group present in more clusters than this enters the HTZ traces as a dense column
_HTZ_WIDE = 32


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
    ``effekt.absorb.Absorber.hat`` builds it.
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


def blas_single_thread() -> Any:
    """A context in which BLAS runs on one thread (threadpoolctl, if installed; else a no-op).

    On a shared machine a threaded BLAS call on a tall matrix (``X'X`` of
    millions of rows) can be 10-50x slower than the same call on one thread,
    which already runs at memory speed.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


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
        df_coefs=df_coefs, sqrt_weights=None if weights is None else sw,
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
    sqrt_weights: np.ndarray | None = None,
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
    sqrt_weights : (n,) square roots of the weights, optional
        Only CR2 uses them: with weights it takes clubSandwich's default
        adjustment for weighted least squares (working model ``Var(e) = sigma^2 I``
        in the original units; see :func:`_cr2_weighted`), which is not the
        unweighted CR2 of the ``sqrt(w)``-scaled arrays.

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
        if se_type == "CR2" and sqrt_weights is not None and np.ptp(sqrt_weights) > 0:
            # (equal weights: both working models give the unweighted CR2, computed below)
            sw = np.asarray(sqrt_weights, dtype=float)
            meat, df = _cr2_weighted(Xw, e, sw, codes, G, M, df_coefs, absorbed)
        elif se_type == "CR2":
            meat, df = _cr2(Xw, e, codes, G, M, df_coefs, absorbed)
        else:
            vcov = cluster_vcov(Xw, e, M, codes, G, k_total=k_total, small_sample=se_type == "CR1")
            return vcov, np.full(k, float(G - 1)), n_clusters
        vcov = M @ meat @ M
    return vcov, df, n_clusters


def cluster_vcov(
    X: np.ndarray,
    u: np.ndarray,
    M: np.ndarray,
    codes: np.ndarray,
    n_clusters: int,
    *,
    k_total: int,
    small_sample: bool = True,
) -> np.ndarray:
    """CR1 (or, with ``small_sample=False``, CR0): ``M (sum_g s_g s_g') M`` with ``s_g = sum_{i in g} x_i u_i``.

    ``codes`` are cluster codes ``0..n_clusters-1``; ``X`` and ``u`` are on
    whatever scale makes ``x_i u_i`` the score (``sqrt(w)``-scaled regressors
    and residuals, or unweighted regressors and ``w * e``). CR1 multiplies by
    ``G / (G - 1) (n - 1) / (n - k_total)`` (Stata, R sandwich::vcovCL).
    The cluster sums are one ``bincount`` per column: no ``n x k`` array of
    scores is formed. The DiD plugin's ``cr1_vcov`` and :func:`robust_vcov`
    use it.

    >>> X = np.ones((4, 1)); u = np.array([1.0, -1.0, 2.0, 2.0])
    >>> float(cluster_vcov(X, u, np.eye(1), np.array([0, 0, 1, 1]), 2, k_total=1, small_sample=False)[0, 0])
    16.0
    """
    meat = _cluster_meat(X, u, codes, n_clusters, k_total=k_total, small_sample=small_sample)
    return M @ meat @ M  # type: ignore[no-any-return]


def _cluster_meat(
    X: np.ndarray, u: np.ndarray | None, codes: np.ndarray, n_clusters: int, *, k_total: int, small_sample: bool
) -> np.ndarray:
    """``sum_g s_g s_g'`` with ``s_g = sum_{i in g} x_i u_i`` (``u`` None: the rows of ``X`` are the scores).

    The one cluster-sum code of :func:`cluster_vcov` and :func:`score_vcov`:
    one ``bincount`` per column, so no further ``n x k`` array is formed.
    ``small_sample`` multiplies by ``G / (G - 1) (n - 1) / (n - k_total)``
    (CR1; Stata, R sandwich::vcovCL).
    """
    n, k = X.shape
    G = int(n_clusters)
    if small_sample and G < 2:
        raise EstimationError("only one cluster: cluster-robust standard errors need at least two clusters.")
    if small_sample and n <= k_total:
        raise EstimationError(
            f"{n} observations cannot estimate {k_total} parameters and their variance; "
            "the CR1 factor (n - 1) / (n - k) is undefined."
        )
    sums = np.empty((G, k))
    for j in range(k):
        sums[:, j] = np.bincount(codes, weights=X[:, j] if u is None else X[:, j] * u, minlength=G)
    meat = sums.T @ sums
    if small_sample:
        meat *= G / (G - 1) * (n - 1) / (n - k_total)
    return meat  # type: ignore[no-any-return]


def score_vcov(
    scores: np.ndarray,
    bread: np.ndarray,
    *,
    se_type: str,
    clusters: np.ndarray | None = None,
    leverage: np.ndarray | None = None,
    k_total: int | None = None,
) -> np.ndarray:
    """The sandwich ``bread (meat) bread`` from per-observation scores: the entry point for GLMs.

    ``scores`` (n, k) are the estimating-function contributions ``psi_i``
    (for least squares ``w_i x_i e_i``, for a GLM ``w_i x_i (y_i - mu_i)
    mu_i' / V(mu_i)``), ``bread`` the inverse information ``(sum_i dpsi_i)^{-1}``.

    * ``HC0``: meat ``sum psi_i psi_i'``; ``HC1`` times ``n / (n - k)``;
    * ``HC2`` / ``HC3``: ``psi_i / (1 - h_i)^{1/2}`` or ``/ (1 - h_i)``, with the
      working model's leverages ``leverage`` (required);
    * ``CR0``: meat from the cluster sums of the scores; ``CR1`` times
      ``G / (G - 1) (n - 1) / (n - k)`` (Stata, R sandwich::vcovCL).

    ``k_total`` counts the parameters in ``n - k`` (default the columns of
    ``scores``). CR2 needs the design, not only scores: see :func:`robust_vcov`.

    >>> psi = np.array([[1.0], [-1.0], [2.0], [-2.0]])
    >>> float(score_vcov(psi, np.eye(1), se_type="HC0")[0, 0])
    10.0
    >>> float(score_vcov(psi, np.eye(1), se_type="CR0", clusters=np.array([0, 0, 1, 1]))[0, 0])
    0.0
    """
    scores = np.asarray(scores, dtype=float)
    n, k = scores.shape
    k_total = k if k_total is None else k_total
    check_option(se_type, "se_type", ("HC0", "HC1", "HC2", "HC3", "CR0", "CR1"))
    if se_type in ("CR0", "CR1"):
        if clusters is None:
            raise DesignError(f"se_type={se_type!r} needs clusters=.")
        clusters = np.asarray(clusters)
        if clusters.shape != (n,):
            raise DesignError(
                f"clusters= has shape {clusters.shape} but the scores have {n} rows: one cluster label per row."
            )
        codes = np.unique(clusters, return_inverse=True)[1].ravel()
        G = int(codes.max()) + 1 if n else 0
        if G < 2:
            raise EstimationError(
                "only one cluster: cluster-robust standard errors need at least two clusters."
            )
        meat = _cluster_meat(scores, None, codes, G, k_total=k_total, small_sample=se_type == "CR1")
        return bread @ meat @ bread  # type: ignore[no-any-return]
    if se_type in ("HC2", "HC3"):
        if leverage is None:
            raise DesignError(f"se_type={se_type!r} needs the leverages of the working model.")
        power = 1.0 if se_type == "HC2" else 2.0
        scores = scores / ((1.0 - np.asarray(leverage, dtype=float)) ** (power / 2.0))[:, None]
    meat = scores.T @ scores
    if se_type == "HC1":
        meat *= n / (n - k_total)
    return bread @ meat @ bread  # type: ignore[no-any-return]


def wald_test(
    coef: np.ndarray,
    vcov: np.ndarray,
    R: np.ndarray,
    *,
    df: float | None,
    test: str | None = None,
    cr2_design: tuple[Any, ...] | None = None,
) -> dict[str, float]:
    """Robust Wald test of ``R b = 0``.

    ``Q = (R b)' (R V R')^{-1} (R b)`` with ``q`` rows of ``R``.

    * ``test="F"``: ``F = Q / q`` referred to ``F(q, df)``, or to ``chi2(q) / q``
      when ``df`` is ``None``. Use the residual degrees of freedom for the HC
      types and ``G - 1`` for the CR types (estimatr's ``fstatistic``
      convention; clubSandwich's ``"Naive-F"``).
    * ``test="HTZ"``: the Hotelling-T^2 approximation of Tipton & Pustejovsky
      (2015) for CR2, as clubSandwich's ``Wald_test(test = "HTZ")``:
      ``F = delta Q / q`` referred to ``F(q, nu - q + 1)``, ``delta = (nu - q + 1) / nu``,
      with ``nu`` from the first two moments of the CR2 estimator under the
      working model. Needs ``cr2_design = (Xw, M, clusters)``,
      ``(Xw, M, clusters, weights)`` or ``(Xw, M, clusters, weights, absorbed)``:
      the (square-root weighted) regressors, ``(Xw'Xw)^{-1}``, the cluster
      labels, for a weighted regression its weights (``None`` without;
      clubSandwich's default working model ``Phi = I``, as the weighted CR2 of
      :func:`robust_ols`) and, when fixed effects were swept out of ``Xw``,
      their :class:`AbsorbedHat` (the test then equals clubSandwich's on the
      regression with the factors as dummy columns, which the CR2 adjustment
      and the working model's covariance include). It is the default when
      ``cr2_design`` is given; with ``q = 1`` it is the Bell-McCaffrey t test.

    Returns ``{"statistic", "df1", "df2", "p_value"}`` (``df2`` NaN for chi2),
    and for HTZ also ``"delta"`` and ``"Q"``.

    >>> V = np.diag([1.0, 4.0])
    >>> round(wald_test(np.array([2.0, 2.0]), V, np.eye(2), df=None)["statistic"], 3)
    2.5
    """
    from scipy import stats

    R = np.atleast_2d(np.asarray(R, dtype=float))
    coef = np.asarray(coef, dtype=float)
    if R.ndim != 2 or R.shape[1] != coef.shape[0]:
        raise DesignError(
            f"R has {R.shape[-1]} columns but there are {coef.shape[0]} coefficients: one column per coefficient."
        )
    Rb = R @ coef
    RVR = R @ vcov @ R.T
    try:
        Q = float(Rb @ np.linalg.solve(RVR, Rb))
    except np.linalg.LinAlgError:
        raise EstimationError(
            "the tested combinations of coefficients have a singular covariance; drop redundant rows of R."
        ) from None
    q = R.shape[0]
    if test is None:
        test = "HTZ" if cr2_design is not None else "F"
    check_option(test, "test", ("F", "HTZ"))
    if test == "HTZ":
        if cr2_design is None:
            raise DesignError("test='HTZ' needs cr2_design=(Xw, M, clusters) of the CR2 regression.")
        if not 3 <= len(cr2_design) <= 5:
            raise DesignError(
                f"cr2_design has {len(cr2_design)} parts; it is (Xw, M, clusters), (Xw, M, clusters, weights) "
                "or (Xw, M, clusters, weights, absorbed)."
            )
        nu = _htz_nu(R, *cr2_design)
        delta = max((nu - q + 1.0) / nu, 0.0)
        df2 = nu - q + 1.0
        stat = delta * Q / q
        p = float(stats.f.sf(stat, q, df2)) if df2 > 0 else float("nan")
        return {"statistic": stat, "df1": float(q), "df2": float(df2), "p_value": p, "delta": delta, "Q": Q}
    stat = Q / q
    if df is None:
        return {"statistic": stat, "df1": float(q), "df2": float("nan"), "p_value": float(stats.chi2.sf(q * stat, q))}
    return {"statistic": stat, "df1": float(q), "df2": float(df), "p_value": float(stats.f.sf(stat, q, df))}


def _htz_nu(
    R: np.ndarray,
    Xw: np.ndarray,
    M: np.ndarray,
    clusters: np.ndarray,
    weights: np.ndarray | None = None,
    absorbed: AbsorbedHat | None = None,
) -> float:
    """Degrees of freedom ``nu`` of the HTZ test (Tipton & Pustejovsky 2015, sec. 3; working model ``Phi = I``).

    With ``A_g`` the CR2 adjustment, ``G_g = R M X_g' W_g A_g`` and the hat
    columns ``E`` (``sqrt(w)`` scale: ``Xw L`` with ``L L' = M``, and the
    absorbed fixed effects' ``scale`` and ``basis`` columns of
    :class:`AbsorbedHat`, so ``H = E E'`` is the hat matrix of the whole
    model), the covariances of the CR2 estimator's entries under the working
    model are sums over clusters of
    ``P^{st}_{gh} = [g = h] G_g[s] . G_g[t] + v^s_g K v^t_h'``:

    * without weights ``v^s_g = E_g' G_g[s]'`` and ``K = -I`` (``Var(e) = I - H``);
    * with weights ``v^s_g = [P_g' G_g[s]', Q_g' G_g[s]']``, ``P_g = E_g / sqrt(w_g)``,
      ``Q_g = E_g sqrt(w_g)``, ``K = [[T, -I], [-I, 0]]``, ``T = E' W E``
      (``Var(e) = (I - H)(I - H)'`` in the original units).

    ``A_g = (I + B_g K_g B_g')^{-1/2}`` with ``B_g`` the cluster's local columns
    (``E_g``, or ``[P_g, Q_g]``): a thin QR of ``B_g`` and a small
    eigenproblem, batched over clusters of equal size. After whitening by
    ``Omega^{-1/2}``, ``Omega = sum_g P_gg``,
    ``nu = q (q + 1) / sum_{s,t} (<P^{st}, P^{ts}> + <P^{ss}, P^{tt}>)``, the
    inner products taken without forming the ``G x G`` arrays unless ``G`` is
    the smaller side: an absorbed factor's columns are sparse (each cluster
    touches only its own groups).
    """
    Xw = np.asarray(Xw, dtype=float)
    M = np.asarray(M, dtype=float)
    n, p = Xw.shape
    R = np.atleast_2d(np.asarray(R, dtype=float))
    q = R.shape[0]
    clusters = np.asarray(clusters)
    if clusters.shape != (n,):
        raise DesignError(f"cr2_design: clusters has shape {clusters.shape} but Xw has {n} rows.")
    if M.shape != (p, p) or R.shape[1] != p:
        raise DesignError(f"cr2_design: M must be {p} x {p} and R have {p} columns, one per column of Xw.")
    if absorbed is not None and np.shape(absorbed.group) != (n,):
        raise DesignError(f"cr2_design: the absorbed effects cover {np.shape(absorbed.group)[0]} rows, not {n}.")
    codes = np.unique(clusters, return_inverse=True)[1].ravel()
    G = int(codes.max()) + 1
    if G < 2:
        raise EstimationError("the HTZ test needs at least two clusters.")
    try:
        L = np.linalg.cholesky(M)
    except np.linalg.LinAlgError:
        raise EstimationError("cr2_design: M = (Xw'Xw)^{-1} is not positive definite.") from None
    MR = M @ R.T  # (p, q)
    sw = None if weights is None else np.sqrt(np.asarray(weights, dtype=float))
    if sw is not None and sw.shape != (n,):
        raise DesignError(f"cr2_design: weights has shape {sw.shape} but Xw has {n} rows.")
    order = np.lexsort((absorbed.group, codes)) if absorbed is not None else np.argsort(codes, kind="stable")
    sizes = np.bincount(codes, minlength=G)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    Xs = Xw[order]
    dense = Xs @ L  # hat columns common to every cluster: X L, then the other factors' basis
    if absorbed is not None and absorbed.basis is not None:
        dense = np.hstack([dense, np.asarray(absorbed.basis, dtype=float)[order]])
    nd = dense.shape[1]
    # one local column per absorbed group present in a cluster (its global group in gol)
    n_local, n_groups = 0, 0
    local = np.zeros(n, dtype=np.int64)
    gol = np.zeros((G, 0), dtype=np.int64)
    grp = np.zeros(n, dtype=np.int64)
    scale_s = np.zeros(n)
    if absorbed is not None:
        grp = np.asarray(absorbed.group)[order]
        local, gol = _group_runs(grp, codes[order], starts, G)
        n_local = gol.shape[1]
        n_groups = int(absorbed.n_groups)
        scale_s = np.asarray(absorbed.scale, dtype=float)[order]
    r = nd + n_local
    sws = None if sw is None else sw[order]
    T_dd: np.ndarray | None = None
    T_gd = np.zeros((n_groups, nd))
    t_gg = np.zeros(n_groups)
    if sws is not None:
        T_dd, T_gd, t_gg = _weighted_cross(dense, sws**2, grp, scale_s, n_groups)
    c_loc = r if sws is None else 2 * r
    Vloc = np.empty((G, c_loc, q))  # local v^s_g (columns s)
    Sloc = np.empty((G, q, q))  # v^s_g K v^t_g'
    GG = np.empty((G, q, q))  # G_g G_g'
    XMR = Xs @ MR
    for size in np.unique(sizes):
        s = int(size)
        cl_ids = np.flatnonzero(sizes == size)
        chunk = max(1, _CHUNK_FLOATS // max(1, s * max(2 * c_loc, s) * 4))
        for lo in range(0, cl_ids.size, chunk):
            ids = cl_ids[lo : lo + chunk]
            m = ids.size
            rows = starts[ids][:, None] + np.arange(s)[None, :]
            Eg = dense[rows]  # (m, s, nd)
            if n_local:
                Fg = np.zeros((m, s, n_local))
                Fg[np.arange(m)[:, None], np.arange(s)[None, :], local[rows]] = scale_s[rows]
                Eg = np.concatenate([Eg, Fg], axis=2)
            x = XMR[rows]  # (m, s, q): Xw_g M R'
            if sws is None:
                B = Eg
                Kg = np.broadcast_to(-np.eye(r), (m, r, r))
            else:
                swg = sws[rows]
                B = np.concatenate([Eg / swg[:, :, None], Eg * swg[:, :, None]], axis=2)
                x = x * swg[:, :, None]  # W_g X_g M R' in the original units
                assert T_dd is not None
                Kg = _batch_K(T_dd, T_gd, t_gg, gol[ids], nd, r)
            U, a = _weighted_root(B, Kg)
            AVt = x + U @ (a[:, :, None] * (np.swapaxes(U, 1, 2) @ x))  # G_g' = A_g W_g X_g M R'
            v = np.swapaxes(B, 1, 2) @ AVt  # (m, c_loc, q)
            Vloc[ids] = v
            Sloc[ids] = np.swapaxes(v, 1, 2) @ Kg @ v
            GG[ids] = np.swapaxes(AVt, 1, 2) @ AVt
    Omega = GG.sum(axis=0) + Sloc.sum(axis=0)
    lam, vec = np.linalg.eigh((Omega + Omega.T) / 2.0)
    if lam.min() <= 1e-12 * max(lam.max(), 0.0) or lam.max() <= 0:
        raise EstimationError(
            "the HTZ test is undefined: the CR2 estimator of R V R' is singular under the working model "
            "(a tested combination the clusters cannot inform, or redundant rows of R)."
        )
    Oh = (vec / np.sqrt(lam)) @ vec.T  # Omega^{-1/2}
    D = Oh @ GG @ Oh  # d_st[g] = G~_g[s] . G~_g[t]
    Sg = Oh @ Sloc @ Oh  # v~^s_g K v~^t_g'
    Vt = Vloc @ Oh  # whitened local v (columns s)
    total = float(np.einsum("gst,gst->", D, D) + np.einsum("gss,gtt->", D, D))
    total += 2.0 * float(np.einsum("gst,gst->", D, Sg)) + 2.0 * float(np.einsum("gss,gtt->", D, Sg))
    total += _htz_pair_traces(Vt, gol, nd, n_groups, T_dd, T_gd, t_gg)
    return q * (q + 1) / total


def _htz_pair_traces(
    Vt: np.ndarray,
    gol: np.ndarray,
    nd: int,
    n_groups: int,
    T_dd: np.ndarray | None,
    T_gd: np.ndarray,
    t_gg: np.ndarray,
) -> float:
    """``sum_{s,t} (<S^{st}, S^{ts}> + <S^{ss}, S^{tt}>)`` for ``S^{st} = V^s K V^t'`` (``G x G``), for :func:`_htz_nu`.

    ``Vt`` (G, c, q) holds each cluster's local coordinates of the whitened
    ``v^s_g``: the ``nd`` dense columns, then one per absorbed group present
    (``gol``: its global group, -1 for none), twice over with weights (the
    ``P`` and ``Q`` halves); ``T_dd`` is None without weights (``K = -I``).
    ``<S^{st}, S^{ts}> = tr(F_1 F_2)`` with ``F = Y K X'`` for pairs of the
    ``V^s``. The global columns split into a dense set ``d`` (``X L``, the
    basis, and groups present in many clusters) and a sparse set ``f`` (the
    other groups), so ``F = N + L R'`` with ``N = Y_f K_ff X_f'`` sparse
    (clusters sharing a group), ``L = [Y_d, Y_f K_fd]`` and
    ``R = [X_d K_dd + X_f K_fd, X_d]``: every trace then needs only ``N``
    and ``G x 2 c_d`` matrices, never a dense ``G x G`` one.
    """
    import scipy.sparse as sp

    G, c_loc, q = Vt.shape
    weighted = T_dd is not None
    half = nd + n_groups
    R_glob = 2 * half if weighted else half
    cols = np.concatenate([np.broadcast_to(np.arange(nd), (G, nd)), np.where(gol >= 0, nd + gol, -1)], axis=1)
    if weighted:
        cols = np.concatenate([cols, np.where(cols >= 0, cols + half, -1)], axis=1)
    keep = cols >= 0
    g_idx = np.repeat(np.arange(G)[:, None], c_loc, axis=1)[keep]
    V = [sp.csr_matrix((Vt[:, :, s][keep], (g_idx, cols[keep])), shape=(G, R_glob)) for s in range(q)]
    if weighted and T_dd is not None:
        T_glob = sp.bmat([[sp.csr_matrix(T_dd), sp.csr_matrix(T_gd.T)],
                          [sp.csr_matrix(T_gd), sp.diags(t_gg)]], format="csr")
        eye = sp.identity(half, format="csr")
        K = sp.bmat([[T_glob, -eye], [-eye, None]], format="csr")
    else:
        K = -sp.identity(half, format="csr")
    # a group present in many clusters would make N dense: its columns join the dense set
    present = gol[gol >= 0]
    spread = np.bincount(present, minlength=n_groups) if n_groups else np.zeros(0, dtype=np.int64)
    wide = np.flatnonzero(spread > _HTZ_WIDE)
    narrow = np.flatnonzero(spread <= _HTZ_WIDE)
    d_idx = np.concatenate([np.arange(nd), nd + wide])
    f_idx = nd + narrow
    if weighted:
        d_idx = np.concatenate([d_idx, d_idx + half])
        f_idx = np.concatenate([f_idx, f_idx + half])
    K_dd = K[d_idx][:, d_idx].toarray()
    K_fd = K[f_idx][:, d_idx].toarray()
    K_ff = K[f_idx][:, f_idx].tocsr()
    Vd = [v[:, d_idx].toarray() for v in V]
    Vf = [v[:, f_idx].tocsr() for v in V]
    VfK = [v @ K_fd for v in Vf]  # (G, c_d)
    VfKff = [v @ K_ff for v in Vf]
    Lm = [np.hstack([Vd[s], VfK[s]]) for s in range(q)]
    Rm = [np.hstack([Vd[s] @ K_dd + VfK[s], Vd[s]]) for s in range(q)]
    has_f = f_idx.size > 0

    def trace_ff(y1: int, x1: int, y2: int, x2: int) -> float:
        # tr(F(Y1, X1) F(Y2, X2)), F(Y, X) = Y K X' = N + L_Y R_X'
        L1, R1, L2, R2 = Lm[y1], Rm[x1], Lm[y2], Rm[x2]
        out = float(np.sum((R1.T @ L2) * (L1.T @ R2)))
        if has_f:
            N1 = VfKff[y1] @ Vf[x1].T
            N2 = VfKff[y2] @ Vf[x2].T
            out += float(N1.multiply(N2.T).sum())
            out += float(np.sum((N1 @ L2) * R2)) + float(np.sum((N2 @ L1) * R1))
        return out

    total = 0.0
    for s in range(q):
        for t in range(q):
            total += trace_ff(s, t, s, t) + trace_ff(t, t, s, s)
    return total


def _group_runs(group: np.ndarray, codes: np.ndarray, starts: np.ndarray, G: int) -> tuple[np.ndarray, np.ndarray]:
    """Local hat columns of an absorbed factor, for rows sorted by (cluster, group).

    Returns each row's local column (the place of its group among the groups
    of its cluster) and, per cluster, the global group of each local column
    (``-1`` where the cluster has fewer groups).
    """
    new = np.ones(group.size, dtype=bool)
    new[1:] = (group[1:] != group[:-1]) | (codes[1:] != codes[:-1])
    run = np.cumsum(new) - 1  # index of the (cluster, group) run
    local = run - run[starts][codes]
    gol = np.full((G, int(local.max()) + 1), -1, dtype=np.int64)
    gol[codes, local] = group
    return local, gol


def _weighted_cross(
    dense: np.ndarray, ws: np.ndarray, group: np.ndarray, scale: np.ndarray, n_groups: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``T = E'WE`` of the hat columns ``E = [dense, group columns]``: dense block, group x dense, group diagonal."""
    T_dd = (dense * ws[:, None]).T @ dense
    T_gd = np.zeros((n_groups, dense.shape[1]))
    if n_groups == 0:
        return T_dd, T_gd, np.zeros(0)
    for c in range(dense.shape[1]):
        T_gd[:, c] = np.bincount(group, weights=ws * scale * dense[:, c], minlength=n_groups)
    t_gg = np.bincount(group, weights=ws * scale**2, minlength=n_groups).astype(float)
    return T_dd, T_gd, t_gg


def _batch_K(
    T_dd: np.ndarray, T_gd: np.ndarray, t_gg: np.ndarray, g_loc: np.ndarray, nd: int, r: int
) -> np.ndarray:
    """``K_g = [[T_g, -I], [-I, 0]]`` for a batch of clusters, ``T_g`` being ``T`` on their local columns.

    ``g_loc`` (m, n_local) holds the global group of each local column (``-1``: none).
    """
    m, n_local = g_loc.shape
    Tg = np.zeros((m, r, r))
    Tg[:, :nd, :nd] = T_dd
    if n_local:
        used = g_loc >= 0
        gi = np.where(used, g_loc, 0)
        Tgd = T_gd[gi] * used[:, :, None]  # (m, n_local, nd)
        Tg[:, nd:, :nd] = Tgd
        Tg[:, :nd, nd:] = np.swapaxes(Tgd, 1, 2)
        idx = np.arange(n_local)
        Tg[:, nd + idx, nd + idx] = t_gg[gi] * used
    Kg = np.zeros((m, 2 * r, 2 * r))
    Kg[:, :r, :r] = Tg
    eye = np.arange(r)
    Kg[:, eye, r + eye] = -1.0
    Kg[:, r + eye, eye] = -1.0
    return Kg


def _weighted_root(B: np.ndarray, Kg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(U, a)`` with ``(I + B K B')^{+1/2} = I + U diag(a) U'``: one thin QR and a ``2r x 2r`` eigenproblem."""
    Uq, Rq = np.linalg.qr(B)
    mu, V = np.linalg.eigh(Rq @ Kg @ np.swapaxes(Rq, 1, 2))
    return Uq @ V, _root_weights(1.0 + mu) - 1.0


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
        local, group_of_local = _group_runs(absorbed.group[order], codes[order], starts, G)
        n_local = group_of_local.shape[1]
        Fb = np.zeros((n, n_local))
        Fb[np.arange(n), local] = absorbed.scale[order]
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
            trace, frob2 = _q_moments(d, dense, Vf)
        else:
            trace, frob2 = _q_moments(d, parts_v[0])
        df[j] = trace**2 / frob2 if frob2 > 0 else np.nan
    return meat, df


def _cr2_weighted(
    Xw: np.ndarray,
    e: np.ndarray,
    sw: np.ndarray,
    codes: np.ndarray,
    G: int,
    M: np.ndarray,
    df_coefs: Sequence[int] | None,
    absorbed: AbsorbedHat | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """CR2 meat and Satterthwaite df of a weighted regression, with clubSandwich's default adjustment.

    For weighted least squares clubSandwich (``vcovCR.lm``, ``inverse_var = FALSE``;
    Pustejovsky & Tipton 2018, eq. 6 with the working model ``Phi = I``, not
    ``W^{-1}``) takes, in the original units, ``A_g = G_g^{-1/2}`` with

        G_g = (I - H)_g (I - H)_g' = I - H_gg - H_gg' + X_g M (X' W^2 X) M X_g',

    ``H = X M X' W``, ``M = (X'WX)^{-1}``, and the estimating function
    ``X_g' W_g A_g e_g``. Writing ``P_g = X_g L`` and ``Q_g = W_g X_g L``
    (``L L' = M``; with ``absorbed`` the fixed effects' hat columns join
    ``X L``), ``G_g = I + [P Q] K [P Q]'`` with ``K = [[T, -I], [-I, 0]]`` and
    ``T = L' X' W^2 X L``: a rank-``2r`` update of the identity, so each
    cluster needs one thin QR and a ``2r x 2r`` eigenproblem. ``Xw`` and
    ``e`` arrive on the ``sqrt(w)`` scale, as everywhere in this module.
    The df are those of Theorem 2 under the same working model: for
    coefficient j, ``P = diag(d) + V K V'`` with rows ``v_g = [P_g' g_g, Q_g' g_g]``
    and ``g_g = A_g W_g X_g M e_j``.
    """
    import scipy.sparse as sp

    n, k = Xw.shape
    w = sw**2
    r_raw = e / sw
    L = np.linalg.cholesky(M)
    if absorbed is not None:
        order = np.lexsort((absorbed.group, codes))
    else:
        order = np.argsort(codes, kind="stable")
    sizes = np.bincount(codes, minlength=G)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    Xs, rs, ws, sws = Xw[order], r_raw[order], w[order], sw[order]
    # hat columns on the sqrt(w) scale: dense part [X L, basis], then one local column per absorbed group
    dense = Xs @ L
    n_local = 0
    gol = np.zeros((G, 0), dtype=np.int64)
    n_groups = 0
    if absorbed is not None:
        if absorbed.basis is not None:
            dense = np.hstack([dense, absorbed.basis[order]])
        grp = absorbed.group[order]
        local, gol = _group_runs(grp, codes[order], starts, G)
        n_local = gol.shape[1]
        Fb = np.zeros((n, n_local))
        Fb[np.arange(n), local] = absorbed.scale[order]
        n_groups = int(absorbed.n_groups)
        E = np.hstack([dense, Fb])
        T_dd, T_gd, t_gg = _weighted_cross(dense, ws, grp, absorbed.scale[order], n_groups)
    else:
        E = dense
        T_dd, T_gd, t_gg = _weighted_cross(dense, ws, np.zeros(n, dtype=np.int64), np.zeros(n), 0)
    nd = dense.shape[1]
    r = E.shape[1]
    R_glob = nd + n_groups
    todo = list(range(k)) if df_coefs is None else [int(j) for j in df_coefs]
    scores = np.empty((G, k))
    dvals = {j: np.empty(G) for j in todo}
    v_loc = {j: np.empty((G, 2 * r)) for j in todo}
    sgg = {j: np.empty(G) for j in todo}
    dpos = np.concatenate([np.arange(nd), r + np.arange(nd)])  # dense columns of v = [P'g, Q'g]
    v_dense = {j: np.empty((G, 2 * nd)) for j in todo}
    a_dense = {j: np.empty((G, 2 * nd)) for j in todo}
    b_dense = {j: np.empty((G, 2 * nd)) for j in todo}
    XM = Xs @ M[:, todo] if todo else None  # Xw M e_j on the sqrt(w) scale
    for size in np.unique(sizes[sizes > 0]):
        s = int(size)
        cl_ids = np.flatnonzero(sizes == size)
        chunk = max(1, _CHUNK_FLOATS // max(1, s * max(4 * r, s) * 4))
        for lo in range(0, cl_ids.size, chunk):
            ids = cl_ids[lo : lo + chunk]
            rows = starts[ids][:, None] + np.arange(s)[None, :]
            Eg = E[rows]  # (m, s, r)
            swg = sws[rows]
            P = Eg / swg[:, :, None]
            Q = Eg * swg[:, :, None]
            Kg = _batch_K(T_dd, T_gd, t_gg, gol[ids], nd, r)
            U, a = _weighted_root(np.concatenate([P, Q], axis=2), Kg)

            def apply(x: np.ndarray, U: np.ndarray = U, a: np.ndarray = a) -> np.ndarray:
                # A_g x for x (m, s, c)
                return x + U @ (a[:, :, None] * (np.swapaxes(U, 1, 2) @ x))

            Ar = apply(rs[rows][:, :, None])[:, :, 0]
            scores[ids] = np.einsum("msk,ms->mk", Xs[rows], swg * Ar)
            if todo and XM is not None:
                gvec = apply(XM[rows] * swg[:, :, None])  # (m, s, |todo|): A_g W_g X_g M e_j
                v1 = np.swapaxes(P, 1, 2) @ gvec  # (m, r, |todo|)
                v2 = np.swapaxes(Q, 1, 2) @ gvec
                for c, j in enumerate(todo):
                    vj = np.concatenate([v1[:, :, c], v2[:, :, c]], axis=1)  # (m, 2r)
                    dvals[j][ids] = np.einsum("ms,ms->m", gvec[:, :, c], gvec[:, :, c])
                    v_loc[j][ids] = vj
                    Kv = np.einsum("mab,mb->ma", Kg, vj)
                    sgg[j][ids] = np.einsum("ma,ma->m", vj, Kv)
                    # the dense coordinates, K v on them, and the part of K v from the local groups
                    vl = vj.copy()
                    vl[:, dpos] = 0.0
                    v_dense[j][ids] = vj[:, dpos]
                    a_dense[j][ids] = Kv[:, dpos]
                    b_dense[j][ids] = np.einsum("mab,mb->ma", Kg[:, dpos], vl)
    meat = scores.T @ scores
    df = np.full(k, np.nan)
    if not todo:
        return meat, df
    nested = not n_local or bool(np.all(np.bincount(gol[gol >= 0], minlength=n_groups) <= 1))
    if nested:
        # every absorbed group inside one cluster: off the diagonal, S_gh = v_g K v_h' involves the
        # groups of only one of the two clusters, so S = L + diag(c) with L = Vd A' + B Vd' of rank
        # 4 nd (Vd the dense coordinates, A = (K v)_dense, B its part from the local groups)
        for j in todo:
            d, Vd, A, B = dvals[j], v_dense[j], a_dense[j], b_dense[j]
            Lgg = np.einsum("ga,ga->g", Vd, A) + np.einsum("ga,ga->g", B, Vd)
            c = sgg[j] - Lgg
            Y = np.hstack([Vd, B])
            Zm = np.hstack([A, Vd])
            L2 = float(np.einsum("ab,ba->", Y.T @ Y, Zm.T @ Zm))
            S2 = L2 + 2.0 * float(Lgg @ c) + float(c @ c)
            trace = float(d.sum() + sgg[j].sum())
            frob2 = float((d**2).sum() + 2.0 * (d * sgg[j]).sum() + S2)
            df[j] = trace**2 / frob2 if frob2 > 0 else np.nan
        return meat, df
    # the global K = [[T, -I], [-I, 0]] and the columns of each cluster's local v
    if n_local:
        T_glob = sp.bmat([[sp.csr_matrix(T_dd), sp.csr_matrix(T_gd.T)],
                          [sp.csr_matrix(T_gd), sp.diags(t_gg)]], format="csr")
        cols = np.concatenate([np.broadcast_to(np.arange(nd), (G, nd)), np.where(gol >= 0, nd + gol, -1)], axis=1)
    else:
        T_glob = sp.csr_matrix(T_dd)
        cols = np.broadcast_to(np.arange(nd), (G, nd))
    eye_g = sp.identity(R_glob, format="csr")
    K_glob = sp.bmat([[T_glob, -eye_g], [-eye_g, None]], format="csr")
    cols2 = np.concatenate([cols, np.where(cols >= 0, cols + R_glob, -1)], axis=1)
    keep = cols2 >= 0
    g_idx = np.repeat(np.arange(G)[:, None], cols2.shape[1], axis=1)
    for j in todo:
        d = dvals[j]
        Vc = sp.csr_matrix((v_loc[j][keep], (g_idx[keep], cols2[keep])), shape=(G, 2 * R_glob))
        if G <= min(2 * R_glob, 2000):  # the G x G form is the smaller one
            S = Vc @ (K_glob @ Vc.T)
            S2 = float(S.multiply(S).sum())
        else:
            KC = K_glob @ (Vc.T @ Vc)
            S2 = float(KC.multiply(KC.T).sum())
        trace = float(d.sum() + sgg[j].sum())
        frob2 = float((d**2).sum() + 2.0 * (d * sgg[j]).sum() + S2)
        df[j] = trace**2 / frob2 if frob2 > 0 else np.nan
    return meat, df


def _sparse_rows(vals: np.ndarray, rows: np.ndarray, cols: np.ndarray, G: int, L: int) -> Any:
    import scipy.sparse as sp

    return sp.csr_matrix((vals, (rows, cols)), shape=(G, L))


def _q_moments(d: np.ndarray, V: np.ndarray, S: Any = None) -> tuple[float, float]:
    """``tr Q`` and ``||Q||_F^2`` for ``Q = diag(d) - U U'`` with ``U = [V, S]`` (``S`` sparse, optional).

    ``||U'U||_F^2 = ||V'V||^2 + 2 ||V'S||^2 + ||S'S||^2``: the dense columns
    never meet the sparse ones in a ``G x G`` product, which the dense
    columns would fill (20,000 clusters: a 3 GB matrix).
    """
    row2 = np.einsum("gk,gk->g", V, V)
    VtV = V.T @ V
    gram2 = float((VtV**2).sum())
    if S is not None:
        row2 = row2 + np.asarray(S.multiply(S).sum(axis=1)).ravel()
        VtS = np.asarray((S.T @ V).T)  # (k, L)
        StS = S.T @ S if S.shape[1] <= S.shape[0] else S @ S.T  # sparse: groups (clusters) that share a cluster (group)
        gram2 += 2.0 * float((VtS**2).sum()) + float(StS.multiply(StS).sum())
    trace = float(d.sum() - row2.sum())
    frob2 = float((d**2).sum() - 2.0 * (d * row2).sum() + gram2)
    return trace, frob2


# -- CR2 over cluster blocks: batched, de-duplicated, bounded memory ---------------------------------

#: floats of cluster blocks gathered at once by :func:`cr2_blocks`
_BLOCK_FLOATS = 2_000_000
#: two eigenvalues of a common hat block closer than this are one eigenvalue
_EIG_TIE = 1e-12
#: largest trace of a cluster's hat block for which the binomial series replaces eigh
_SERIES_RHO = 0.25
#: clusters sharing a block of common columns below which the batched generic path is cheaper
_MIN_PATTERN = 16
#: a batch whose distinct blocks exceed this share of its clusters is computed block by block, and
#: after _DEDUP_STOP such batches in a row the search for identical blocks stops (an unbalanced
#: panel's missing periods, a continuous covariate: the search would cost more than it finds)
_DEDUP_KEEP = 0.9
_DEDUP_STOP = 2
#: a focus block whose part outside one eigenspace is below this (relative) lies in it
_IN_SPACE = 1e-10


def _root_weights(lam: np.ndarray) -> np.ndarray:
    """``lam^{-1/2}`` for ``lam > _TOL``, else 0 (the pseudo-inverse root)."""
    pos = lam > _TOL
    return np.where(pos, 1.0 / np.sqrt(np.where(pos, lam, 1.0)), 0.0)


def cr2_blocks(
    Z: np.ndarray,
    e: np.ndarray,
    M: np.ndarray,
    codes: np.ndarray,
    n_clusters: int,
    *,
    sqrt_weights: np.ndarray | None = None,
    n_focus: int | None = None,
    order_key: np.ndarray | None = None,
    df_coefs: Sequence[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """CR2 meat and Bell-McCaffrey degrees of freedom, cluster block by cluster block.

    The same arithmetic as :func:`robust_vcov` with ``se_type="CR2"`` (Bell &
    McCaffrey 2002; Pustejovsky & Tipton 2018, Theorem 2 with ``Phi = I``),
    organised for designs with many small clusters, such as a panel with
    fixed effects nested in the clusters already swept out of ``Z``:

    * clusters are processed in batches of equal size, a bounded number of
      floats at a time, so the memory beyond ``Z`` stays small;
    * identical cluster blocks (every never-treated unit of a panel has the
      same block of period dummies) are decomposed once;
    * with ``n_focus = k``, the columns after the first ``k`` (``R``, e.g.
      period dummies) are split off by Frisch-Waugh-Lovell:
      ``H_gg = C_g + F_g F_g'`` with ``C_g = R_g (R'R)^{-1} R_g'`` shared by
      every cluster with the same block of ``R`` and ``F_g`` the first ``k``
      columns with ``R`` partialled out, times a root of their covariance.
      When ``F_g`` lies in one eigenspace of ``C_g`` (in a balanced panel
      ``C_g`` is a multiple of the centring matrix and ``F_g`` is centred),
      ``(I - H_gg)^{-1/2}`` is ``C_g``'s root corrected on the ``k``
      directions of ``F_g``: one ``k x k`` eigenproblem per cluster instead of
      an ``n_g x n_g`` one. Other clusters take a batched ``eigh`` of
      ``H_gg``.

    Parameters
    ----------
    Z : (n, p) regressors, *not* multiplied by the square-root weights
    e : (n,) residuals on the weighted scale (``sqrt(w) * (y - Z b)``)
    M : (p, p) ``(Z' W Z)^{-1}``
    codes : (n,) cluster codes ``0..n_clusters-1``
    sqrt_weights : (n,) square roots of the weights, optional: the CR2 of the
        ``sqrt(w)``-scaled regression, which is clubSandwich's only when the
        weights are equal (see :func:`cr2_within` for clubSandwich's weighted CR2)
    n_focus : coefficients whose degrees of freedom are wanted and that are
        split from the common columns (default: all ``p``, nothing split)
    order_key : (n,) ordering of rows within a cluster (e.g. the period), so
        that equal blocks are recognised as equal
    df_coefs : indices (below ``n_focus``) whose df are computed (default all)

    Returns
    -------
    (meat, df) : ``(p, p)`` meat ``sum_g Z_g' W_g^{1/2} A_g e_g (...)'`` and the
        ``n_focus`` degrees of freedom (NaN for those not in ``df_coefs``)

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.column_stack([np.ones(40), rng.normal(size=40)])
    >>> g = np.repeat(np.arange(8), 5)
    >>> y = X @ [1.0, 0.5] + rng.normal(size=40)
    >>> M = np.linalg.inv(X.T @ X)
    >>> e = y - X @ (M @ X.T @ y)
    >>> meat, df = cr2_blocks(X, e, M, g, 8)
    >>> V, df_ref, _ = robust_vcov(X, e, M, se_type="CR2", clusters=g)
    >>> bool(np.allclose(M @ meat @ M, V, rtol=1e-10) and np.allclose(df, df_ref, rtol=1e-10))
    True
    """
    Z = np.asarray(Z, dtype=float)
    n, p = Z.shape
    k = p if n_focus is None else int(n_focus)
    ZT = Z.T  # (p, n): a cluster batch is gathered as (p, m, s), contiguous for a Fortran-ordered Z
    e = np.asarray(e, dtype=float)

    def gather(rows: np.ndarray, r0: int | None) -> np.ndarray:
        if r0 is not None:
            return ZT[:, r0 : r0 + rows.size].reshape(p, *rows.shape)  # rows already in cluster order: a view
        return ZT[:, rows]

    def resid(rows: np.ndarray, Zc: np.ndarray) -> np.ndarray:
        return e[rows]

    return _cr2_engine(gather, resid, M, k, p, codes, n_clusters, sqrt_weights, order_key, df_coefs)


def cr2_within(
    X: np.ndarray,
    y: np.ndarray,
    clusters: np.ndarray,
    n_clusters: int,
    *,
    periods: tuple[np.ndarray, int] | None = None,
    weights: np.ndarray | None = None,
    names: Sequence[str] | None = None,
    df_coefs: Sequence[int] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least squares with cluster fixed effects, CR2 by cluster, without forming the design.

    The model is ``y = X b + a_cluster [+ l_period] + e`` (weighted), each
    cluster being one level of an absorbed fixed effect (e.g. the unit of a
    panel clustered by unit). Following Pustejovsky & Tipton (2018, sec. 3.2)
    the cluster effects, nested in the clusters, are swept out of every
    cluster's block and left out of the adjustment, while the period effects
    (not nested) stay in the hat matrix as dummies (the first level dropped).
    The dummies are built one batch of clusters at a time and never for the
    whole data, so memory beyond ``X`` stays a few tens of megabytes; the CR2
    arithmetic is :func:`cr2_blocks` with the dummies as its common columns.
    With unequal weights the adjustment is clubSandwich's weighted one (as
    :func:`robust_ols`), under which the cluster effects stay in the hat
    matrix: see :func:`_cr2_within_weighted`.

    Parameters
    ----------
    X : (n, k) regressors (no intercept: the cluster effects hold it)
    y : (n,) outcome
    clusters : (n,) codes ``0..n_clusters-1``
    periods : (codes, levels) of the period factor, optional
    weights : (n,) positive weights, optional
    names : the columns of ``X``, for messages
    df_coefs : which of the ``k`` coefficients get degrees of freedom (default all)

    Returns
    -------
    (coef, vcov, df) for the ``k`` coefficients of ``X``.

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> unit = np.repeat(np.arange(30), 4); period = np.tile(np.arange(4), 30)
    >>> x = rng.normal(size=120); y = 0.5 * x + rng.normal(size=30)[unit] + rng.normal(size=120)
    >>> D = np.column_stack([x, np.eye(30)[unit], np.eye(4)[period][:, 1:]])
    >>> ref = robust_ols(D, y, se_type="CR2", clusters=unit, df_coefs=[0])
    >>> coef, vcov, df = cr2_within(x[:, None], y, unit, 30, periods=(period, 4))
    >>> bool(np.allclose([coef[0], vcov[0, 0], df[0]], [ref.coef[0], ref.vcov[0, 0], ref.df[0]], rtol=1e-9))
    True
    """
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    y = np.asarray(y, dtype=float)
    n, k = X.shape
    codes = np.asarray(clusters).astype(np.int64, copy=False)
    w = None if weights is None else np.asarray(weights, dtype=float)
    sw = None if w is None else np.sqrt(w)
    t_codes, n_t = (None, 1) if periods is None else (np.asarray(periods[0]).astype(np.int64), int(periods[1]))
    p = k + n_t - 1
    levels = np.arange(1, n_t)[:, None, None]
    order_key = t_codes

    def within(A: np.ndarray, wc: np.ndarray | None) -> np.ndarray:
        # A (c, m, s), in place: minus the (weighted) mean of each cluster's block
        if wc is None:
            A -= A.mean(axis=2, keepdims=True)
        else:
            A -= np.einsum("cms,ms->cm", A, wc[0])[:, :, None] / wc.sum(axis=2, keepdims=True)
        return A

    def gather(rows: np.ndarray, r0: int | None) -> np.ndarray:
        m, s = rows.shape
        Zc = np.empty((p, m, s))
        Zc[:k] = (X[r0 : r0 + m * s].reshape(m, s, k) if r0 is not None else X[rows]).transpose(2, 0, 1)
        if t_codes is not None:
            np.equal(t_codes[rows][None], levels, out=Zc[k:])
        return within(Zc, None if w is None else w[rows][None])

    def y_within(rows: np.ndarray) -> np.ndarray:
        return within(y[rows][None].astype(float), None if w is None else w[rows][None])[0]

    if w is not None and np.ptp(w) > 0:
        with blas_single_thread():
            return _cr2_within_weighted(gather, y_within, w, codes, n_clusters, order_key, k, p, names, df_coefs)
    # the cross-products of [X~, R] without the dummies: X~ batch by batch; R'WX~ = J'WX~ by period
    # sums (R is J swept of cluster means, W-orthogonal to them); R'WR = diag(W_t) - N' diag(1/W_g) N
    # with N the clusters' weight per period
    gram = np.zeros((p, p))
    Zty = np.zeros(p)
    with blas_single_thread():
        _within_gram(gram, Zty, X, y, codes, n_clusters, order_key, k, n_t, t_codes, w, within, y_within)
    M = _inverse_gram_small(gram, list(names or [f"x{j}" for j in range(k)]) + [f"period {j}" for j in range(1, n_t)])
    coef = M @ Zty

    def resid(rows: np.ndarray, Zc: np.ndarray) -> np.ndarray:
        e = y_within(rows) - np.tensordot(coef, Zc, axes=(0, 0))
        return e if sw is None else e * sw[rows]

    # the common-column shortcut needs every cluster's period block to be the balanced one
    balanced = t_codes is not None and bool(np.all(np.bincount(codes, minlength=n_clusters) == n_t))
    meat, df = _cr2_engine(gather, resid, M, k, p, codes, n_clusters, sw, order_key, df_coefs, try_common=balanced)
    vcov = (M @ meat @ M)[:k, :k]
    return coef[:k], vcov, df


def cr2_two_way(
    Xt: np.ndarray,
    e: np.ndarray,
    unit: np.ndarray,
    n_units: int,
    period: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    names: Sequence[str] | None = None,
    df_coefs: Sequence[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """CR2 by unit of a balanced two-way fixed-effects regression, in closed form.

    The model is ``y_it = x_it' b + a_i + l_t + e_it`` on a balanced panel
    (every unit observed once in each of ``T`` periods), without weights,
    clustered by unit. ``Xt`` are the two-way demeaned regressors and ``e``
    the residuals (what the absorption gives, in any row order), ``unit``
    and ``period`` their codes. As in
    :func:`cr2_within`, the unit effects (nested in the clusters) are left out
    of the adjustment and the period effects stay in the hat matrix
    (Pustejovsky & Tipton 2018, sec. 3.2), but in a balanced panel their part
    of every cluster's hat block is the same, ``C = P / G`` with ``P`` the
    centring matrix, and the part of ``X`` is ``F_g F_g'`` with ``F_g =
    Xt_g L`` (``L L' = (Xt'Xt)^{-1}``), centred. On the span of ``F_g``,
    ``I - H_gg`` has the eigenvalues ``c - sigma^2`` (``c = 1 - 1/G``,
    ``sigma^2`` those of ``F_g'F_g``) and elsewhere on the centred vectors
    ``c``, so

        X_g' A_g e_g = a b_g + K_g N_g b_g,   N_g = L V diag(((c - sigma^2)^{-1/2} - a) / sigma^2) V' L',

    with ``a = c^{-1/2}``, ``K_g = Xt_g'Xt_g``, ``b_g = Xt_g'e_g`` and ``V``
    the eigenvectors of ``L'K_g L``: one ``k x k`` eigenproblem per cluster
    and no ``T x T`` one. The Bell-McCaffrey degrees of freedom follow the
    same algebra: ``p_g = A_g Xt_g M e_j = Xt_g (a I + N_g K_g) M e_j`` and
    the hat matrix between clusters ``g`` and ``h`` is ``P / G + Xt_g M Xt_h'``,
    so the moments of Theorem 2 need only the ``G x (T + k)`` array
    ``[p_g / sqrt(G), L' Xt_g' p_g]``. The results equal :func:`cr2_within`'s
    (tested to 1e-10); the cost is a few passes over ``Xt``, as for CR1.

    Returns the ``k x k`` covariance and the ``k`` degrees of freedom (NaN for
    coefficients not in ``df_coefs``).

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> unit = np.repeat(np.arange(40), 5); period = np.tile(np.arange(5), 40)
    >>> x = rng.normal(size=200); y = 0.5 * x + rng.normal(size=40)[unit] + rng.normal(size=200)
    >>> _, V_ref, df_ref = cr2_within(x[:, None], y, unit, 40, periods=(period, 5))
    >>> xt = x - x.reshape(40, 5).mean(1)[unit] - x.reshape(40, 5).mean(0)[period] + x.mean()
    >>> yt = y - y.reshape(40, 5).mean(1)[unit] - y.reshape(40, 5).mean(0)[period] + y.mean()
    >>> b = (xt @ yt) / (xt @ xt)
    >>> V, df = cr2_two_way(xt[:, None], yt - b * xt, unit, 40, period)
    >>> bool(np.allclose([V[0, 0], df[0]], [V_ref[0, 0], df_ref[0]], rtol=1e-10))
    True
    """
    Xt = np.asarray(Xt, dtype=float)
    if Xt.ndim == 1:
        Xt = Xt[:, None]
    n, k = Xt.shape
    G = int(n_units)
    codes = np.asarray(unit).astype(np.int64, copy=False)
    T = n // G
    if G < 2 or T * G != n or not np.all(np.bincount(codes, minlength=G) == T):
        raise DesignError("cr2_two_way needs a balanced panel: every unit in every period once.")
    t_codes = np.asarray(period).astype(np.int64, copy=False)
    step = np.diff(codes)
    # rows in (unit, period) order: the hat matrix between two clusters pairs their rows by period
    order = None if np.all((step > 0) | ((step == 0) & (np.diff(t_codes) > 0))) else np.lexsort((t_codes, codes))
    if not np.array_equal((t_codes if order is None else t_codes[order]).reshape(G, T), np.broadcast_to(np.arange(T), (G, T))):
        raise DesignError("cr2_two_way needs a balanced panel: every unit in every period once.")
    Xg = (Xt if order is None else Xt[order]).reshape(G, T, k)
    eg = (np.asarray(e, dtype=float) if order is None else np.asarray(e, dtype=float)[order]).reshape(G, T)
    if weights is not None:
        wr = np.asarray(weights, dtype=float)
        wr = (wr if order is None else wr[order]).reshape(G, T)
        if np.any(wr != wr[:, :1]):
            raise DesignError("cr2_two_way takes weights that are constant within each unit; use cr2_within.")
        with blas_single_thread():
            return _cr2_two_way_unit_weights(Xg, eg, wr[:, 0], names, df_coefs)
    with blas_single_thread():
        gram = Xt.T @ Xt
        M = _inverse_gram_small(gram, list(names or [f"x{j}" for j in range(k)]))
        L = np.linalg.cholesky(M)
        K = np.einsum("gtk,gtl->gkl", Xg, Xg)  # Xt_g' Xt_g
        b = np.einsum("gtk,gt->gk", Xg, eg)  # Xt_g' e_g
        c = 1.0 - 1.0 / G
        a = 1.0 / np.sqrt(c)
        sig2, V = _small_eigh(np.einsum("ka,gkl,lb->gab", L, K, L))
        sig2 = np.clip(sig2, 0.0, None)
        lam = c - sig2
        small = sig2 < 1e-8 * c
        with np.errstate(divide="ignore", invalid="ignore"):
            f = np.where(small, 0.0, (_root_weights(lam) - a) / np.where(small, 1.0, sig2))
        # ((c - x)^{-1/2} - c^{-1/2}) / x near x = 0: a^3 / 2 + 3 a^5 x / 8
        f = np.where(small, a**3 / 2.0 + 3.0 * a**5 * sig2 / 8.0, f)
        LV = L[None] @ V  # (G, k, k)
        N = (LV * f[:, None, :]) @ np.swapaxes(LV, 1, 2)
        KN = K @ N
        scores = a * b + (KN @ b[:, :, None])[:, :, 0]
        meat = scores.T @ scores
        vcov = M @ meat @ M
        df = np.full(k, np.nan)
        todo = range(k) if df_coefs is None else [int(j) for j in df_coefs]
        Cm = a * M[None] + (N @ K) @ M[None]  # column j: (a I + N_g K_g) M e_j
        for j in todo:
            cj = Cm[:, :, j]  # (G, k): p_g = Xt_g cj
            Kc = (K @ cj[:, :, None])[:, :, 0]
            d = np.einsum("gk,gk->g", cj, Kc)
            P = np.einsum("gtk,gk->gt", Xg, cj)
            Phi = np.hstack([P / np.sqrt(G), Kc @ L])
            phi2 = np.einsum("ga,ga->g", Phi, Phi)
            gram_phi = Phi.T @ Phi
            trace = float(d.sum() - phi2.sum())
            frob2 = float((d**2).sum() - 2.0 * (d * phi2).sum() + (gram_phi**2).sum())
            df[j] = trace**2 / frob2 if frob2 > 0 else np.nan
    return vcov, df


def _cr2_two_way_unit_weights(
    Xg: np.ndarray,
    eg: np.ndarray,
    w: np.ndarray,
    names: Sequence[str] | None,
    df_coefs: Sequence[int] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`cr2_two_way` with a weight ``w_g`` per unit, clubSandwich's weighted CR2 in closed form.

    ``Xg`` (G, T, k) are the weighted two-way demeaned regressors and ``eg``
    (G, T) the residuals, in (unit, period) order. With the weight constant
    within units the within transformation is the plain centring ``P`` and
    the period dummies' part of the design is the same ``P D`` for every
    unit, so in the W-orthogonal basis ``[Xt, P D]`` the adjustment matrix of
    :func:`_cr2_within_weighted` becomes

        G_g = c_g P + Y_g C_g Y_g',   Y_g = [Xt_g, Xi'],   C_g = [[-(2 w_g M - M T M), M], [M, 0]],

    with ``M = (Xt'WXt)^{-1}``, ``T = Xt'W^2Xt``, ``Xi = sum_h w_h^2 Xt_h' / W``
    (``W = sum_h w_h``) and ``c_g = 1 - 2 w_g / W + sum_h w_h^2 / W^2``: on the
    centred vectors outside the span of ``Y_g`` the root is ``c_g^{-1/2}``, on
    it a ``2k x 2k`` eigenproblem. The Theorem 2 moments take the same
    ``phi_g`` as the general weighted path, whose period block is the
    cluster's ``g`` vector itself (``D'P g = g`` without its first period).
    """
    G, T, k = Xg.shape
    Wt = float(w.sum())
    S2 = float(w @ w)
    K = np.einsum("gtk,gtl->gkl", Xg, Xg)  # Xt_g' Xt_g
    b = np.einsum("gtk,gt->gk", Xg, eg)
    gram = np.einsum("g,gkl->kl", w, K)
    M = _inverse_gram_small(gram, list(names or [f"x{j}" for j in range(k)]))
    TXX = np.einsum("g,gkl->kl", w**2, K)
    Xi = np.einsum("g,gtk->kt", w**2, Xg) / Wt  # (k, T)
    E = Xg.transpose(0, 2, 1) @ Xi.T[None]  # Xt_g' Xi' (G, k, k)
    XiXi = Xi @ Xi.T
    c = 1.0 - 2.0 * w / Wt + S2 / Wt**2
    a0 = _root_weights(c)
    # Gram of Y_g and its root basis (directions of zero norm dropped: Xi = 0 with equal weights)
    Gam = np.empty((G, 2 * k, 2 * k))
    Gam[:, :k, :k], Gam[:, :k, k:] = K, E
    Gam[:, k:, :k], Gam[:, k:, k:] = np.swapaxes(E, 1, 2), XiXi
    gam, U = np.linalg.eigh(Gam)
    keep = gam > 1e-12 * np.maximum(gam.max(axis=1, keepdims=True), 1e-300)
    rg = np.where(keep, np.sqrt(np.where(keep, gam, 1.0)), 0.0)
    ig = np.where(keep, 1.0 / np.where(keep, rg, 1.0), 0.0)
    MTM = M @ TXX @ M
    C = np.zeros((G, 2 * k, 2 * k))
    C[:, :k, :k] = -(2.0 * w[:, None, None] * M[None] - MTM[None])
    C[:, :k, k:] = M
    C[:, k:, :k] = M
    Sm = (rg[:, :, None] * (np.swapaxes(U, 1, 2) @ C @ U)) * rg[:, None, :]
    idx = np.arange(2 * k)
    Sm[:, idx, idx] += c[:, None]
    mu, V = np.linalg.eigh(Sm)
    UV = (U * ig[:, None, :]) @ V
    N = (UV * (_root_weights(mu) - a0[:, None])[:, None, :]) @ np.swapaxes(UV, 1, 2)  # A = a0 P + Y N Y'
    Yr = np.concatenate([b, eg @ Xi.T], axis=1)  # Y_g' e_g
    KE = np.concatenate([K, E], axis=2)  # Xt_g' Y_g
    scores = w[:, None] * (a0[:, None] * b + (KE @ (N @ Yr[:, :, None]))[:, :, 0])
    vcov = M @ (scores.T @ scores) @ M
    df = np.full(k, np.nan)
    todo = range(k) if df_coefs is None else [int(j) for j in df_coefs]
    if not todo:
        return vcov, df
    p = k + T - 1
    MR = (np.eye(T - 1) + 1.0) / Wt  # (W D'PD)^{-1}
    Tm = np.zeros((p, p))
    Tm[:k, :k] = TXX
    Tm[:k, k:] = Wt * Xi[:, 1:]
    Tm[k:, :k] = Tm[:k, k:].T
    Tm[k:, k:] = S2 * (np.eye(T - 1) - 1.0 / T)
    Kbig = np.block([[Tm, -np.eye(p)], [-np.eye(p), np.zeros((p, p))]])
    for j in todo:
        m = M[:, j]
        Ym = np.concatenate([K @ m, E.transpose(0, 2, 1) @ m], axis=1)  # Y_g' Xt_g m
        cc = w[:, None] * ((N @ Ym[:, :, None])[:, :, 0])
        cc[:, :k] += (w * a0)[:, None] * m[None]
        c1, c2 = cc[:, :k], cc[:, k:]
        g = np.einsum("gtk,gk->gt", Xg, c1) + c2 @ Xi  # (G, T): A_g W_g Xt_g M e_j
        d = np.einsum("gt,gt->g", g, g)
        h = np.einsum("gtk,gt->gk", Xg, g)
        Phi = np.hstack([h @ M, g[:, 1:] @ MR, w[:, None] * h, w[:, None] * g[:, 1:]])
        sgg = np.einsum("ga,ga->g", Phi @ Kbig, Phi)
        df[j] = _weighted_df([d.sum(), (d**2).sum(), sgg.sum(), (d * sgg).sum()], Phi.T @ Phi, Kbig)
    return vcov, df


def _weighted_df(sums: Sequence[float], PhiPhi: np.ndarray, K: np.ndarray) -> float:
    """Satterthwaite df ``(tr P)^2 / ||P||_F^2`` for ``P = diag(d) + Phi K Phi'``.

    ``sums`` are ``sum d``, ``sum d^2``, ``sum s`` and ``sum d s`` with
    ``s_g = phi_g K phi_g'``; ``PhiPhi = Phi'Phi``.
    """
    d_sum, d2_sum, s_sum, ds_sum = (float(v) for v in sums)
    KC = K @ PhiPhi
    trace = d_sum + s_sum
    frob2 = d2_sum + 2.0 * ds_sum + float(np.einsum("ab,ba->", KC, KC))
    return trace**2 / frob2 if frob2 > 0 else float("nan")


def _cr2_within_weighted(
    gather: Any,
    y_within: Any,
    w: np.ndarray,
    codes: np.ndarray,
    n_clusters: int,
    order_key: np.ndarray | None,
    k: int,
    p: int,
    names: Sequence[str] | None,
    df_coefs: Sequence[int] | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`cr2_within` with unequal weights, with clubSandwich's weighted adjustment (see :func:`_cr2_weighted`).

    Each cluster is one unit, whose effect is absorbed by weighted demeaning
    (``Z~``, rows ``w``-centred within the unit). Under the working model
    ``Var(e) = sigma^2 I`` the unit effects stay in the hat matrix ``H = H_U + Z~ M Z~' W``
    (``H_U``: ``1 w_g' / W_g`` on each unit's block, ``M = (Z~'WZ~)^{-1}``); being
    nested, they only touch the diagonal blocks, so with ``T = Z~'W^2Z~``

        G_g = (I - H)_g (I - H)_g' = (I - H_gg)(I - H_gg)' + Z~_g M (T - Z~_g'W_g^2Z~_g) M Z~_g',

    one ``n_g x n_g`` eigenproblem per cluster, batched, with no design formed
    for the whole data. For the degrees of freedom (Theorem 2, same working
    model) the columns ``u_g = (I - H)' g_g`` of coefficient j's quadratic
    form, ``g_g = A_g W_g Z~_g M e_j``, are ``beta_g - W Z~ alpha_g`` with
    ``alpha_g = M Z~_g' g_g`` and ``beta_g = g_g - w_g (1'g_g) / W_g`` (on cluster
    g's rows), so ``u_g'u_h = [g = h] beta_g'beta_g + phi_g K phi_h'`` with
    ``phi_g = [alpha_g, Z~_g'W_g beta_g]`` and ``K = [[T, -I], [-I, 0]]``: the
    moments need the ``2p x 2p`` matrix ``Phi'Phi`` only. Where the weight is
    constant within the cluster, ``G_g = P - D_g`` with ``P`` the centring and
    ``D_g = Z~_g (2 w_g M - M T M) Z~_g'`` of the order of ``p / G``, and a
    binomial series replaces the eigenproblem.
    """
    gram = np.zeros((p, p))
    T = np.zeros((p, p))
    Zty = np.zeros(p)
    for _, _, rows, r0 in _chunks(codes, n_clusters, order_key, p):
        Zc = gather(rows, r0)
        wc = w[rows]
        Zw = Zc * wc[None]
        gram += np.tensordot(Zw, Zc, axes=([1, 2], [1, 2]))
        T += np.tensordot(Zw * wc[None], Zc, axes=([1, 2], [1, 2]))
        Zty += np.tensordot(Zw, y_within(rows), axes=([1, 2], [0, 1]))
    M = _inverse_gram_small(gram, list(names or [f"x{j}" for j in range(k)]) + [f"period {j}" for j in range(1, p - k + 1)])
    coef = M @ Zty
    todo = list(range(k)) if df_coefs is None else [int(j) for j in df_coefs]
    meat = np.zeros((p, p))
    K = np.block([[T, -np.eye(p)], [-np.eye(p), np.zeros((p, p))]])
    # streamed per coefficient: Phi'Phi and the sums of d, d^2, s_gg = phi_g K phi_g' and d s_gg
    PhiPhi = np.zeros((len(todo), 2 * p, 2 * p))
    sums = np.zeros((len(todo), 4))
    for s, _, rows, r0 in _chunks(codes, n_clusters, order_key, p):
        Z = np.ascontiguousarray(gather(rows, r0).transpose(1, 2, 0))  # (m, s, p)
        wc = w[rows]
        Wg = wc.sum(axis=1)
        r = y_within(rows) - Z @ coef
        ZM = Z @ M
        ZMt = np.swapaxes(ZM, 1, 2)
        # with Hx = Z~_g M Z~_g' W_g: (I - H_gg)(I - H_gg)' - Hx Hx' + Z~_g M T M Z~_g' is G_g
        # (Hx Hx' = Z~_g M Z~_g'W_g^2 Z~_g M Z~_g'), the (I - P)(I - P)' part with P = 1 w'/W_g
        # in closed form, its cross terms with Hx as rank-one updates (Z~_g is w-centred)
        Hx = ZM @ np.swapaxes(Z * wc[:, :, None], 1, 2)
        u = wc / Wg[:, None]
        c = np.einsum("ms,ms->m", u, u)
        Gm = (ZM @ T) @ ZMt - Hx - np.swapaxes(Hx, 1, 2)
        idx = np.arange(s)
        Gm[:, idx, idx] += 1.0
        Gm -= u[:, :, None] + u[:, None, :] - c[:, None, None]  # I - 1u' - u1' + (u'u) 11'
        q = (Hx @ u[:, :, None])[:, :, 0]  # Hx u: (I - P) Hx' = Hx' - 1 (Hx u)'
        Gm += q[:, :, None] + q[:, None, :]
        # A_g x for the residuals and W_g Z~_g M e_j together
        x = np.concatenate([r[:, :, None], ZM[:, :, todo] * wc[:, :, None]], axis=2)
        Ax = np.empty_like(x)
        # a weight constant in the cluster makes G_g = P - D_g (P the centring, D_g small, x centred):
        # the binomial series of (I - D_g)^{-1/2} replaces the eigenproblem
        Dl = np.eye(s)[None] - 1.0 / s - Gm
        rho = np.sqrt(np.einsum("mab,mab->m", Dl, Dl))  # bounds the spectral norm
        series = np.all(wc == wc[:, :1], axis=1) & (rho <= _SERIES_RHO)
        if series.any():
            n_terms = _series_terms(float(rho[series].max()))
            term = x[series]
            out = term.copy()
            Ds = Dl[series]
            for n_ in range(1, n_terms + 1):
                term = Ds @ term
                term *= (2.0 * n_ - 1.0) / (2.0 * n_)
                out += term
            Ax[series] = out
        if not series.all():
            lam, V = np.linalg.eigh(Gm[~series])
            xe = x[~series]
            Ax[~series] = V @ (_root_weights(lam)[:, :, None] * (np.swapaxes(V, 1, 2) @ xe))
        sc = np.einsum("msp,ms->mp", Z, wc * Ax[:, :, 0])
        meat += sc.T @ sc
        if todo:
            g = Ax[:, :, 1:]  # (m, s, j): A_g W_g Z~_g M e_j
            beta = g - wc[:, :, None] * (g.sum(axis=1) / Wg[:, None])[:, None, :]
            Phi = np.concatenate([ZMt @ g, np.swapaxes(Z * wc[:, :, None], 1, 2) @ beta], axis=1)  # (m, 2p, j)
            d = np.einsum("msj,msj->mj", beta, beta)
            al, ga = Phi[:, :p], Phi[:, p:]
            sgg = np.einsum("maj,maj->mj", np.tensordot(T, al, axes=(1, 1)).transpose(1, 0, 2), al)
            sgg -= 2.0 * np.einsum("maj,maj->mj", al, ga)  # phi K phi' with K = [[T, -I], [-I, 0]]
            for c in range(len(todo)):
                Pc = np.ascontiguousarray(Phi[:, :, c])
                PhiPhi[c] += Pc.T @ Pc
            sums += np.stack([d.sum(0), (d**2).sum(0), sgg.sum(0), (d * sgg).sum(0)], axis=1)
    df = np.full(k, np.nan)
    for c, j in enumerate(todo):
        df[j] = _weighted_df(sums[c], PhiPhi[c], K)
    vcov = (M @ meat @ M)[:k, :k]
    return coef[:k], vcov, df


def _within_gram(
    gram: np.ndarray,
    Zty: np.ndarray,
    X: np.ndarray,
    y: np.ndarray,
    codes: np.ndarray,
    n_clusters: int,
    order_key: np.ndarray | None,
    k: int,
    n_t: int,
    t_codes: np.ndarray | None,
    w: np.ndarray | None,
    within: Any,
    y_within: Any,
) -> None:
    """Fill ``gram = Z'WZ`` and ``Zty = Z'Wy`` of :func:`cr2_within`'s design in place."""
    for _, _, rows, r0 in _chunks(codes, n_clusters, order_key, k):
        m, s = rows.shape
        Xc = np.array((X[r0 : r0 + m * s].reshape(m, s, k) if r0 is not None else X[rows]).transpose(2, 0, 1))
        wc = None if w is None else w[rows][None]
        Xc = within(Xc, wc)
        yc = y_within(rows)
        Xw = Xc if wc is None else Xc * wc
        gram[:k, :k] += np.tensordot(Xw, Xc, axes=([1, 2], [1, 2]))
        Zty[:k] += np.tensordot(Xw, yc, axes=([1, 2], [0, 1]))
        if t_codes is not None:
            tc = t_codes[rows].ravel()
            for j in range(k):
                gram[k:, j] += np.bincount(tc, weights=Xw[j].ravel(), minlength=n_t)[1:]
            Zty[k:] += np.bincount(tc, weights=(yc if wc is None else yc * wc[0]).ravel(), minlength=n_t)[1:]
    if t_codes is not None:
        N = np.bincount(codes * n_t + t_codes, weights=w, minlength=n_clusters * n_t).reshape(n_clusters, n_t)
        Wg = N.sum(axis=1)
        Wg = np.where(Wg > 0, Wg, 1.0)
        RtR = np.diag(N.sum(axis=0)) - N.T @ (N / Wg[:, None])
        gram[k:, k:] = RtR[1:, 1:]
        gram[:k, k:] = gram[k:, :k].T


def _inverse_gram_small(gram: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """``gram^{-1}`` through a scaled Cholesky factor; EstimationError naming a collinear column."""
    norms = np.sqrt(np.diag(gram))
    scale = np.where(norms > 0, norms, 1.0)
    try:
        chol = np.linalg.cholesky(gram / np.outer(scale, scale))
        ok = bool(np.all(norms > 0) and np.diag(chol).min() > 1e-7)
    except np.linalg.LinAlgError:
        chol, ok = None, False
    if not ok or chol is None:
        # the first column whose leading block is (numerically) singular
        bad = len(names) - 1
        for j in range(1, len(names) + 1):
            try:
                lead = np.linalg.cholesky(gram[:j, :j] / np.outer(scale[:j], scale[:j]))
            except np.linalg.LinAlgError:
                bad = j - 1
                break
            if norms[j - 1] == 0 or np.diag(lead).min() <= 1e-7:
                bad = j - 1
                break
        raise EstimationError(
            f"the regressors are collinear once the fixed effects are absorbed (column {names[bad]!r} adds "
            "nothing to those before it); drop one."
        )
    inv_chol = np.linalg.inv(chol)
    return (inv_chol.T @ inv_chol) / np.outer(scale, scale)  # type: ignore[no-any-return]


def _chunks(codes: np.ndarray, n_clusters: int, order_key: np.ndarray | None, width: int) -> Any:
    """Batches ``(size, ids, rows, r0)`` of clusters of equal size, a bounded number of floats each.

    ``rows`` (m, s) are row numbers in cluster order; ``r0`` is the first row
    when the batch is one contiguous run of rows (else None).
    """
    step = np.diff(codes)
    if np.all(step >= 0) and (order_key is None or np.all((step > 0) | (np.diff(order_key) >= 0))):
        order = np.arange(codes.size)  # already sorted by cluster (and key within it)
    elif order_key is not None:
        order = np.lexsort((order_key, codes))
    else:
        order = np.argsort(codes, kind="stable")
    sizes = np.bincount(codes, minlength=n_clusters)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    for size in np.unique(sizes[sizes > 0]):
        s = int(size)
        cl_ids = np.flatnonzero(sizes == size)
        chunk = max(1, _BLOCK_FLOATS // (s * max(width, s)))
        for lo in range(0, cl_ids.size, chunk):
            ids = cl_ids[lo : lo + chunk]
            m = ids.size
            rows = order[starts[ids][:, None] + np.arange(s)[None, :]]
            r0 = int(rows[0, 0])
            contiguous = rows[-1, -1] - r0 == m * s - 1 and np.array_equal(rows.ravel(), np.arange(r0, r0 + m * s))
            yield s, ids, rows, (r0 if contiguous else None)


def _cr2_engine(
    gather: Any,
    resid: Any,
    M: np.ndarray,
    k: int,
    p: int,
    codes: np.ndarray,
    n_clusters: int,
    sqrt_weights: np.ndarray | None,
    order_key: np.ndarray | None,
    df_coefs: Sequence[int] | None,
    *,
    try_common: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """The loop of :func:`cr2_blocks` over cluster batches; ``gather(rows, r0)`` returns the
    unweighted blocks (p, m, s) and ``resid(rows, blocks)`` the weighted residuals (m, s).
    ``try_common=False`` skips the common-column shortcut where it cannot apply."""
    # the products here are small and many: a threaded BLAS only adds start-up and contention
    with blas_single_thread():
        return _cr2_loop(gather, resid, M, k, p, codes, n_clusters, sqrt_weights, order_key, df_coefs, try_common)


def _cr2_loop(
    gather: Any,
    resid: Any,
    M: np.ndarray,
    k: int,
    p: int,
    codes: np.ndarray,
    n_clusters: int,
    sqrt_weights: np.ndarray | None,
    order_key: np.ndarray | None,
    df_coefs: Sequence[int] | None,
    try_common: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    codes = np.asarray(codes).astype(np.int64, copy=False)
    sw = None if sqrt_weights is None else np.asarray(sqrt_weights, dtype=float)
    L = np.linalg.cholesky(M)
    Mk = M[:, :k]
    common = None
    if k < p and try_common:
        # FWL: F_g = (Z_g[:, :k] - R_g Pi) (weighted) L_k, with Pi = -M_Rk M_kk^{-1}, L_k L_k' = M_kk
        Mkk = M[:k, :k]
        common = (
            np.linalg.cholesky(Mkk),
            -np.linalg.solve(Mkk, M[k:, :k].T).T,
            M[k:, k:] - M[k:, :k] @ np.linalg.solve(Mkk, M[:k, k:]),  # (R' W R)^{-1}
        )
    meat = np.zeros((p, p))
    todo = list(range(k)) if df_coefs is None else [int(j) for j in df_coefs]
    # streamed sums for the df: sum c d, sum c d^2, sum c d (w'Mw) and S = sum c w w'
    t1, t2, t3 = np.zeros(k), np.zeros(k), np.zeros(k)
    S = np.zeros((k, p, p))
    rng = np.random.default_rng(0)
    vecs: dict[int, np.ndarray] = {}
    few_copies = 0  # batches in a row with almost no identical blocks
    for s, ids, rows, r0 in _chunks(codes, n_clusters, order_key, p):
        m = ids.size
        if s not in vecs:
            vecs[s] = rng.standard_normal((p, s))
        vec = vecs[s]
        Zc = gather(rows, r0)
        swc = None if sw is None else sw[rows]
        Zw = Zc if swc is None else Zc * swc[None]
        ec = resid(rows, Zc)
        if few_copies >= _DEDUP_STOP:
            reps, inv = np.arange(m), np.arange(m)
        else:
            reps, inv = _dedup(Zw, vec)
            few = reps.size > _DEDUP_KEEP * m  # too few copies to pay for their bookkeeping
            few_copies = few_copies + 1 if few else 0
            if few:
                reps, inv = np.arange(m), np.arange(m)
        q = reps.size
        cnt = np.bincount(inv, minlength=q).astype(float)
        Zr = Zw if q == m else Zw[:, reps]
        ZM = np.tensordot(Mk.T, Zr, axes=(1, 0))  # (k, q, s): Z_g M e_j
        AZM = np.empty_like(ZM)
        Ae = np.empty_like(ec)
        generic = np.ones(q, dtype=bool)
        if common is not None:
            Zu = Zc if q == m else Zc[:, reps]
            sr = None if swc is None else (swc if q == m else swc[reps])
            generic = _cr2_common(Zu, Zr, sr, k, common, vec[k:], ZM, AZM, ec, Ae, inv)
        gi = np.flatnonzero(generic)
        if gi.size:
            B = np.tensordot(Zr if gi.size == q else Zr[:, gi], L, axes=(0, 0))  # (q, s, r): H_gg = B B'
            # trace H_gg bounds its largest eigenvalue: small blocks take the binomial series
            rho = np.einsum("qsr,qsr->q", B, B)
            series = rho <= _SERIES_RHO
            pos = np.full(q, -1)
            pos[gi] = np.arange(gi.size)
            mi = np.flatnonzero(generic[inv])
            pm = pos[inv[mi]]
            if series.any():
                n_terms = _series_terms(float(rho[series].max()))
                si = gi[series]
                if q == m and si.size == q:  # every block its own and small: one series, no gathering
                    both = _apply_series(B, np.concatenate([ec[None], ZM], axis=0), n_terms)
                    Ae[:] = both[0]
                    AZM[:] = both[1:]
                elif q == m:  # every block its own: e and Z M e_j share one series
                    both = _apply_series(B[series], np.concatenate([ec[si][None], ZM[:, si]], axis=0), n_terms)
                    Ae[si] = both[0]
                    AZM[:, si] = both[1:]
                else:
                    AZM[:, si] = _apply_series(B[series], ZM[:, si], n_terms)
                    ms = series[pm]
                    Ae[mi[ms]] = _apply_series(B[pm[ms]], ec[mi[ms]][None], n_terms)[0]
            if not series.all():
                ei = gi[~series]
                Vq, aq, plus_identity = _eig_root(B[~series])
                epos = np.full(q, -1)
                epos[ei] = np.arange(ei.size)
                AZM[:, ei] = _apply_eig(Vq, aq, plus_identity, ZM[:, ei])
                me = mi[~series[pm]]
                Ae[me] = _apply_eig(Vq[epos[inv[me]]], aq[epos[inv[me]]], plus_identity, ec[me][None])[0]
        sc = (Zw.transpose(1, 0, 2) @ Ae[:, :, None])[:, :, 0]  # Z_g' W^{1/2} A_g e_g
        meat += sc.T @ sc
        if todo:
            W = Zr.transpose(1, 0, 2) @ AZM.transpose(1, 2, 0)  # (q, p, k): Z_g' A_g Z_g M e_j
            d = np.einsum("kqs,kqs->qk", AZM, AZM)
            MW = np.tensordot(W, M, axes=(1, 1))  # (q, k, p)
            wMw = np.einsum("qpk,qkp->qk", W, MW)
            t1 += cnt @ d
            t2 += cnt @ d**2
            t3 += cnt @ (d * wMw)
            for j in todo:
                Wj = W[:, :, j]
                S[j] += (Wj * cnt[:, None]).T @ Wj
    df = np.full(k, np.nan)
    for j in todo:
        MS = M @ S[j]
        trace = t1[j] - np.trace(MS)
        frob2 = t2[j] - 2.0 * t3[j] + float(np.einsum("ij,ji->", MS, MS))
        df[j] = trace**2 / frob2 if frob2 > 0 else np.nan
    return meat, df


def _series_terms(rho: float) -> int:
    """Terms of the binomial series of ``(1 - h)^{-1/2}`` for a tail below 1e-15 at ``h <= rho``.

    The coefficients ``c_n = binom(2n, n) / 4^n`` are at most 1, so the tail
    after ``N`` terms is below ``rho^(N+1) / (1 - rho)``.
    """
    if rho <= 0.0:
        return 0
    return max(1, int(np.ceil(np.log(1e-15 * (1.0 - rho)) / np.log(rho))))


def _apply_series(B: np.ndarray, v: np.ndarray, n_terms: int) -> np.ndarray:
    """``(I - B B')^{-1/2} v = sum_n c_n (B B')^n v`` for vectors ``v`` (c, q, s), blocks ``B`` (q, s, r)."""
    term = np.ascontiguousarray(np.transpose(v, (1, 2, 0)))  # (q, s, c)
    out = term.copy()
    Bt = np.swapaxes(B, 1, 2)
    for n in range(1, n_terms + 1):
        term = B @ (Bt @ term)
        term *= (2.0 * n - 1.0) / (2.0 * n)
        out += term
    return np.transpose(out, (2, 0, 1))


def _eig_root(B: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """``(I - B B')^{+1/2}`` of a stack of blocks ``B`` (q, s, r) as (vectors, weights, plus_identity).

    With ``s <= r`` the full eigendecomposition of ``B B'``: ``A = V diag(a) V'``.
    Otherwise the thin SVD ``B = U S V'``: ``A = I + U diag(a) U'``.
    """
    q, s, r = B.shape
    if s <= r:
        h, V = np.linalg.eigh(B @ np.swapaxes(B, 1, 2))
        return V, _root_weights(1.0 - h), False
    U, sv, _ = np.linalg.svd(B, full_matrices=False)
    return U, _root_weights(1.0 - sv**2) - 1.0, True


def _apply_eig(V: np.ndarray, a: np.ndarray, plus_identity: bool, v: np.ndarray) -> np.ndarray:
    """``A_g v`` for vectors ``v`` (c, q, s) and the operators of :func:`_eig_root`."""
    vt = np.transpose(v, (1, 2, 0))  # (q, s, c)
    out = V @ (a[:, :, None] * (np.swapaxes(V, 1, 2) @ vt))
    if plus_identity:
        out = out + vt
    return np.transpose(out, (2, 0, 1))


def _dedup(Zw: np.ndarray, vec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Representatives and an inverse map of identical cluster blocks ``Zw[:, i, :]`` (c, m, s).

    A random projection proposes groups and an exact comparison confirms
    them; blocks that collide without being equal become their own group.
    Returns ``(reps, inverse)`` with ``Zw[:, reps[inverse[i]]] == Zw[:, i]``.
    """
    proj = np.einsum("cms,cs->m", Zw, vec)
    _, first, inv = np.unique(proj, return_index=True, return_inverse=True)
    inv = inv.ravel()
    if first.size == proj.size:
        return np.arange(proj.size), np.arange(proj.size)
    same = np.all(Zw == Zw[:, first[inv]], axis=(0, 2))
    if same.all():
        return first, inv
    reps = list(first)
    for i in np.flatnonzero(~same):
        inv[i] = len(reps)
        reps.append(i)
    if len(reps) == proj.size:  # every block distinct after all: callers rely on reps = 0..m-1 then
        return np.arange(proj.size), np.arange(proj.size)
    return np.asarray(reps), inv


def _cr2_common(
    Zu: np.ndarray,
    Zw: np.ndarray,
    swc: np.ndarray | None,
    k: int,
    common: tuple[np.ndarray, np.ndarray, np.ndarray],
    vec: np.ndarray,
    ZM: np.ndarray,
    AZM: np.ndarray,
    ec: np.ndarray,
    Ae: np.ndarray,
    inv: np.ndarray,
) -> np.ndarray:
    """``A_g`` through the common columns, for the blocks where the shortcut applies.

    ``Zu`` and ``Zw`` are the representative blocks, unweighted and weighted
    (p, q, s). Fills ``AZM`` (reps) and ``Ae`` (every cluster of the batch
    whose representative takes the shortcut) and returns the mask of
    representatives left for the generic path: weights that vary within the
    cluster, or a focus part spread over several eigenspaces of ``C_g``.
    """
    Lk, Pi, RtR_inv = common
    p, q, s = Zu.shape
    generic = np.ones(q, dtype=bool)
    if swc is not None:
        # C_g = w_g R_g (R'WR)^{-1} R_g' only when the weight is constant in the cluster
        cand = np.flatnonzero(np.all(swc == swc[:, :1], axis=1))
        wg = swc[cand, 0] ** 2
    else:
        cand = np.arange(q)
        wg = np.ones(q)
    if cand.size == 0:
        return generic
    R = Zu[k:, cand]  # (p-k, c, s) unweighted common columns
    preps, pinv = _dedup(R, vec)
    X = Zw[:k, cand] - np.tensordot(Pi.T, R, axes=(1, 0)) * (1.0 if swc is None else swc[cand][None])
    F = np.tensordot(Lk.T, X, axes=(1, 0))  # (k, c, s): F_g F_g' = X.._g M_kk X.._g'
    sizes = np.bincount(pinv, minlength=preps.size)
    for r_i in np.flatnonzero(sizes >= _MIN_PATTERN):
        rep = preps[r_i]
        mem = np.flatnonzero(pinv == r_i)
        Rp = R[:, rep].T  # (s, p-k)
        c, Q = np.linalg.eigh(Rp @ RtR_inv @ Rp.T)
        brk = np.flatnonzero(np.diff(c) > _EIG_TIE * max(1.0, float(np.abs(c).max())))
        edges = np.concatenate(([0], brk + 1, [s]))
        Fm = F[:, mem]
        QF = np.tensordot(Fm, Q, axes=(2, 0))  # (k, mm, s): coordinates in Q's basis
        row2 = np.einsum("kms,kms->ms", QF, QF)
        tot = row2.sum(axis=1)
        part = np.add.reduceat(row2, edges[:-1], axis=1)
        best = part.argmax(axis=1)
        outside = np.where(np.arange(part.shape[1])[None, :] == best[:, None], 0.0, part).sum(axis=1)
        ok = (outside <= _IN_SPACE**2 * tot) | (tot == 0.0)
        if not ok.any():
            continue
        mem, best = mem[ok], best[ok]
        gsel = cand[mem]
        w = wg[mem]
        a_common = _root_weights(1.0 - w[:, None] * c[None, :])  # (mo, s)
        lamE = 1.0 - w * c[edges[best]]
        aE = _root_weights(lamE)
        Fs = Fm[:, ok] / np.sqrt(np.where(lamE > _TOL, lamE, 1.0))[None, :, None]  # (k, mo, s)
        # on F's directions the eigenvalues are lamE (1 - sigma^2): A = Q a Q' + Fs g(Fs'Fs) Fs'
        sig2, V = _small_eigh(np.einsum("ams,bms->mab", Fs, Fs))
        sig2 = np.clip(sig2, 0.0, None)
        lam = lamE[:, None] * (1.0 - sig2)
        small = sig2 < 1e-8
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.where(small, 0.0, (_root_weights(lam) - aE[:, None]) / np.where(small, 1.0, sig2))
        # series of (lamE (1 - x))^{-1/2} - lamE^{-1/2} over x near 0: lamE^{-1/2} (1/2 + 3x/8)
        g = np.where(small & (lamE[:, None] > _TOL), aE[:, None] * (0.5 + 0.375 * sig2), g)
        G = (V * g[:, None, :]) @ np.swapaxes(V, 1, 2)  # (mo, k, k)
        op = (Q, a_common, Fs, G)
        AZM[:, gsel] = _apply_common(op, ZM[:, gsel])
        loc = np.full(q, -1)
        loc[gsel] = np.arange(gsel.size)
        mi = np.flatnonzero(loc[inv] >= 0)
        pm = loc[inv[mi]]
        Ae[mi] = _apply_common((Q, a_common[pm], Fs[:, pm], G[pm]), ec[mi][None])[0]
        generic[gsel] = False
    return generic


def _small_eigh(G: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``eigh`` of a stack of symmetric ``k x k`` matrices, in closed form for ``k <= 2``.

    For ``k = 2`` the rotation angle ``theta = atan2(2b, a - c) / 2`` gives
    the eigenvectors ``(cos, sin)`` and ``(-sin, cos)`` of ``[[a, b], [b, c]]``
    (Jacobi's formula), stable also for equal eigenvalues; LAPACK's per-matrix
    overhead would otherwise dominate for 100,000 tiny matrices.
    """
    m, k, _ = G.shape
    if k == 1:
        return G[:, :, 0].copy(), np.ones((m, 1, 1))
    if k != 2:
        return np.linalg.eigh(G)  # type: ignore[return-value]
    a, b, c = G[:, 0, 0], G[:, 0, 1], G[:, 1, 1]
    theta = 0.5 * np.arctan2(2.0 * b, a - c)
    cs, sn = np.cos(theta), np.sin(theta)
    l1 = a * cs * cs + 2.0 * b * cs * sn + c * sn * sn
    l2 = a * sn * sn - 2.0 * b * cs * sn + c * cs * cs
    V = np.empty((m, 2, 2))
    V[:, 0, 0], V[:, 1, 0], V[:, 0, 1], V[:, 1, 1] = cs, sn, -sn, cs
    return np.stack([l1, l2], axis=1), V


def _apply_common(op: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], v: np.ndarray) -> np.ndarray:
    """``A_g v = Q (a * Q'v) + Fs G Fs' v`` for vectors ``v`` (c, m, s)."""
    Q, a, Fs, G = op
    out = np.tensordot(a[None] * np.tensordot(v, Q, axes=(2, 0)), Q, axes=(2, 1))
    Fm = np.transpose(Fs, (1, 2, 0))  # (m, s, k)
    FtV = np.swapaxes(Fm, 1, 2) @ np.transpose(v, (1, 2, 0))  # (m, k, c)
    out += np.transpose(Fm @ (G @ FtV), (2, 0, 1))
    return out
