"""Entropy balancing (Hainmueller 2012): control weights that reproduce the treated's covariate means."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from scipy import optimize

from effekt.errors import DataError, EstimationError
from effekt.protocol import EstimatorTags, Synthetic
from effekt.result import EffectResult
from effekt.vocabulary import validated
from effekt_observational._common import effective_sizes, prepare, simulate_confounded, stacked_sandwich
from effekt_observational._propensity import design_matrix
from effekt_observational.balance import compare_balance
from effekt_observational.vocabulary import estimand_choice

__all__ = ["EntropyBalancing", "entropy_weights"]

#: largest |weighted mean - target| accepted, in SDs of the covariate
BALANCE_TOLERANCE = 1e-7


def entropy_weights(C: np.ndarray, target: np.ndarray, base: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Weights ``w`` (summing to 1) minimising ``sum w log(w / q)`` subject to ``C' w = target``.

    The dual (Hainmueller 2012, eq. 5-7): ``w_j = q_j exp(lambda' c_j) / sum_k q_k exp(lambda' c_k)``
    with ``lambda`` minimising the convex ``log sum_j q_j exp(lambda' (c_j - target))``,
    solved by trust-region Newton (scipy.optimize, exact Hessian). Returns ``(w, lambda)``
    (``lambda`` for the columns divided by their SDs). DataError when the target lies
    outside the convex hull of the rows of ``C`` (no weights can meet it).
    """
    sd = C.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    D = (C - target) / sd
    logq = np.zeros(len(C)) if base is None else np.log(base / base.sum())

    def parts(lam: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        a = logq + D @ lam
        amax = a.max()
        with np.errstate(under="ignore"):  # a row far below the largest gets weight 0, exactly enough
            ex = np.exp(a - amax)
        s = ex.sum()
        return float(np.log(s) + amax), ex / s, a

    def fun(lam: np.ndarray) -> float:
        return parts(lam)[0]

    def jac(lam: np.ndarray) -> np.ndarray:
        _, w, _ = parts(lam)
        return np.asarray(D.T @ w)

    def hess(lam: np.ndarray) -> np.ndarray:
        _, w, _ = parts(lam)
        g = D.T @ w
        return np.asarray((D * w[:, None]).T @ D - np.outer(g, g))

    res = optimize.minimize(fun, np.zeros(C.shape[1]), jac=jac, hess=hess, method="trust-exact",
                            options={"gtol": 1e-12, "maxiter": 500})
    lam = res.x
    for _ in range(50):  # Newton steps polish the trust-region solution to machine precision
        g = jac(lam)
        if np.abs(g).max() < 1e-13:
            break
        try:
            lam = lam - np.linalg.solve(hess(lam), g)
        except np.linalg.LinAlgError:
            break
    _, w, _ = parts(lam)
    gap = np.abs(D.T @ w).max()
    if not gap <= BALANCE_TOLERANCE:
        raise DataError(
            f"entropy balancing cannot reproduce the treated's covariate means with control weights (the largest "
            f"gap is {gap:.3g} SDs): the treated means lie outside the range the controls span, so there is no "
            "overlap. Drop or coarsen the covariate that separates the arms, or restrict the treated to the "
            "controls' range."
        )
    return w, lam


class EntropyBalancing:
    """Entropy balancing for the average effect on the treated (Hainmueller 2012).

    Estimand: the average effect on the treated, assuming no unmeasured
    confounding given the covariates.

    Formula: control weights ``w`` closest to uniform in Kullback-Leibler
    divergence such that the weighted control means of the covariates equal
    the treated means exactly; ``tau = mean(Y | treated) - sum_j w_j Y_j``.

    Variance: the sandwich of the stacked estimating equations (the treated
    means, the dual's balance conditions, and the two outcome means), so the
    SE accounts for the estimated weights (as WeightIt's M-estimation for
    ``method="ebal"``); with ``clusters`` the cluster sums enter with
    ``G/(G-1)``.

    Defaults and why: first moments (means) only; balancing variances too is
    done by adding squared covariates to ``covariates``.

    Parameters
    ----------
    data : DataFrame
    outcome : str
    treatment : str
        0/1 arm, or two labels declared with ``arms``.
    arms : tuple, default=None
        ``(control, treated)`` labels of a text treatment column.
    covariates : list of str
        Columns whose treated means the control weights reproduce.
    estimand : {"att"}, default="att"
    clusters : str, default=None
    alpha : float, default=0.05
    missing : {"error", "drop"}, default="error"

    Returns
    -------
    EffectResult
        ``extra``: ``effective_sample_size`` (Kish), ``balance`` (before and
        after), ``max_weight_share`` (the largest control weight, as a share),
        ``lambda`` (the dual coefficients, per SD of each covariate).

    Raises
    ------
    DataError
        Bad columns; a constant covariate; treated means outside the
        controls' convex hull (no overlap).
    EstimationError
        A sandwich variance that is not finite and positive (extreme or
        nearly collinear covariates, an outcome that does not vary).

    References
    ----------
    Hainmueller, J. (2012). Entropy balancing for causal effects. Political Analysis 20(1), 25-46.
    doi:10.1093/pan/mpr025
    Zhao, Q. & Percival, D. (2017). Entropy balancing is doubly robust. Journal of Causal Inference 5(1).
    doi:10.1515/jci-2016-0010

    Examples
    --------
    >>> import effekt as ef
    >>> syn = EntropyBalancing.simulate(np.random.default_rng(5), n=800)
    >>> res = ef.estimate("entropy_balancing", data=syn.data, **syn.spec)
    >>> res.estimand, abs(res.extra["balance"]["after"]["table"][0]["smd"]) < 1e-8
    ('att', True)
    """

    name: ClassVar[str] = "entropy_balancing"
    estimand: ClassVar[str] = "att"
    kind: ClassVar[str] = "observational"
    # ATT: swapping the arms gives minus the ATC, which differs from the ATT in general
    tags: ClassVar[EstimatorTags] = EstimatorTags(supports_covariates=True, supports_clusters=True, sign_flip=False)
    options: ClassVar[dict[str, Any]] = {"estimand": estimand_choice("att")}

    @classmethod
    def simulate(cls, rng: np.random.Generator, *, n: int = 200, effect: float = 1.0) -> Synthetic:
        return simulate_confounded(rng, n=n, effect=effect)

    @validated
    def fit(
        self,
        data: Any,
        *,
        outcome: str,
        treatment: str,
        arms: tuple[Any, Any] | None = None,
        covariates: Sequence[str] | str,
        estimand: str = "att",
        clusters: str | None = None,
        alpha: float = 0.05,
        missing: str = "error",
    ) -> EffectResult:
        cols, _ = prepare(data, outcome=outcome, treatment=treatment, arms=arms, covariates=covariates,
                          clusters=clusters, missing=missing, owner=self.name)
        assert cols.X is not None and cols.z is not None and cols.y is not None
        X, z, y, cl = cols.X, cols.z, cols.y, cols.clusters
        names = cols.covariate_names
        design_matrix(X, names)  # refuses a constant covariate
        # the weights do not depend on the covariates' location: centring keeps the dual and the
        # numerical Jacobian of the sandwich well scaled for covariates far from 0 (e.g. years + 1e9)
        X = X - X.mean(axis=0)
        zb = z.astype(bool)
        target = X[zb].mean(axis=0)
        try:
            wc, lam = entropy_weights(X[~zb], target)
        except DataError as exc:
            raise DataError(f"{exc} (covariates: {list(cols.covariates)!r})") from None
        sd = X[~zb].std(axis=0)
        sd = np.where(sd > 0, sd, 1.0)
        mu1 = float(y[zb].mean())
        mu0 = float(wc @ y[~zb])
        tau = mu1 - mu0
        p = X.shape[1]
        zf = z.astype(float)
        shift = float(((X[~zb] - target) / sd @ lam).max())

        def psi(theta: np.ndarray) -> np.ndarray:
            gam, lm, m1, m0 = theta[:p], theta[p:2 * p], theta[2 * p], theta[2 * p + 1]
            Dx = (X - gam) / sd
            ex = (1 - zf) * np.exp(Dx @ lm - shift)
            return np.column_stack([zf[:, None] * (X - gam), ex[:, None] * Dx, zf * (y - m1), ex * (y - m0)])

        theta = np.concatenate([target, lam, [mu1, mu0]])
        g = np.zeros(theta.size)
        g[2 * p], g[2 * p + 1] = 1.0, -1.0
        with np.errstate(all="ignore"):  # a failed sandwich is refused below, naming the covariates
            try:
                var = float(g @ stacked_sandwich(psi, theta, cl) @ g)
            except np.linalg.LinAlgError:
                var = float("nan")
        if not (np.isfinite(var) and var > 0):
            raise EstimationError(
                f"entropy_balancing: the sandwich variance of the weights is {var:g}, so no standard error can be "
                f"formed; the covariates {list(cols.covariates)!r} are too extreme or nearly collinear in the "
                f"controls, or outcome column {outcome!r} does not vary. Rescale or drop a covariate.")
        se = float(np.sqrt(var))
        w = np.ones(len(z))
        w[~zb] = wc * zb.sum()  # on the treated's scale: the control weights sum to n_treated
        bal = compare_balance(X, names, z, w, arms=(cols.arms[0], cols.arms[1]))
        extra = {"effective_sample_size": effective_sizes(z, w), "balance": bal.to_dict(),
                 "max_weight_share": float(wc.max()), "lambda": dict(zip(names, lam.tolist())), "moments": 1}
        return EffectResult.from_z(
            tau, se, alpha=alpha, estimator=self.name, estimand="att", term=str(treatment), n=int(z.size),
            n_treated=int(z.sum()), n_control=int(z.size - z.sum()),
            se_type="M-estimation sandwich" + (", clustered" if cl is not None else ""), design="weighted",
            outcome=str(outcome), warnings=tuple(cols.warnings()), extra=extra,
            n_clusters=None if cl is None else int(cl.max()) + 1, plotter=_love_plot,
        )


def _love_plot(res: EffectResult, *, ax: Any = None, labels: Any = None, **_: Any) -> Any:
    from effekt_observational.balance import balance_of

    return balance_of(res).plot(ax=ax, labels=labels)
