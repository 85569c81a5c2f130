"""Augmented inverse probability weighting (doubly robust), cross-fitted."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from effekt.data import check_seed
from effekt.errors import DataError, DesignError
from effekt.protocol import EstimatorTags, Synthetic
from effekt.result import EffectResult
from effekt.vocabulary import validated
from effekt_observational._common import check_trim, effective_sizes, prepare, simulate_confounded, trim_mask
from effekt_observational._propensity import check_overlap, cross_folds, design_matrix, fit_propensity
from effekt_observational.balance import compare_balance
from effekt_observational.propensity import balancing_weights
from effekt_observational.vocabulary import estimand_choice

__all__ = ["AIPW", "aipw_kernel"]


def _regressor(regressor: Any) -> Any:
    from sklearn.base import clone

    if regressor is None or regressor == "linear":
        from sklearn.linear_model import LinearRegression

        return LinearRegression()
    if isinstance(regressor, str):
        raise DesignError(f"regressor={regressor!r} is not an option; use 'linear' or pass a scikit-learn regressor.")
    if not (hasattr(regressor, "fit") and hasattr(regressor, "predict")):
        raise DesignError(f"regressor={regressor!r} has no fit() and predict(); pass a scikit-learn regressor.")
    return clone(regressor)


def _outcome_predictions(F: np.ndarray, y: np.ndarray, z: np.ndarray, labels: np.ndarray | None,
                         regressor: Any) -> tuple[np.ndarray, np.ndarray]:
    """m_1(x), m_0(x): the outcome model of each arm, cross-fitted over ``labels``."""
    m = np.empty((2, len(y)))
    folds = [None] if labels is None else list(range(int(labels.max()) + 1))
    for k in folds:
        test = np.ones(len(y), bool) if k is None else labels == k
        train = np.ones(len(y), bool) if k is None else ~test
        for arm in (0, 1):
            rows = train & (z == arm)
            m[arm, test] = _regressor(regressor).fit(F[rows], y[rows]).predict(F[test])
    return m[1], m[0]


def aipw_kernel(y: np.ndarray, z: np.ndarray, e: np.ndarray, m1: np.ndarray, m0: np.ndarray, estimand: str,
                clusters: np.ndarray | None = None) -> tuple[float, float, np.ndarray]:
    """The AIPW estimate, its influence-function SE and the influence values.

    ATE (Robins, Rotnitzky & Zhao 1994; Chernozhukov et al. 2018, eq. 5.3):
    ``phi = m1 - m0 + z (y - m1) / e - (1 - z)(y - m0) / (1 - e)``, ``tau = mean phi``.
    ATT (normalised, as Sant'Anna & Zhao 2020's DR ATT in a cross-section):
    ``tau = mean_t(y - m0) - sum (1-z) w (y - m0) / sum (1-z) w``, ``w = e / (1 - e)``.
    ``SE^2 = sum (phi - tau)^2 / n^2``; with clusters the cluster sums of
    ``phi - tau``, times ``G / (G - 1)``.
    """
    n = len(y)
    zf = z.astype(float)
    if estimand == "ate":
        phi = m1 - m0 + zf * (y - m1) / e - (1 - zf) * (y - m0) / (1 - e)
        tau = float(phi.mean())
        infl = phi - tau
    else:
        r = y - m0
        w = (1 - zf) * e / (1 - e)
        a = float(np.sum(zf * r) / zf.sum())
        b = float(np.sum(w * r) / w.sum())
        tau = a - b
        infl = zf * (r - a) / zf.mean() - w * (r - b) / w.mean()
    if clusters is None:
        var = float(np.sum(infl**2)) / n**2
    else:
        G = int(clusters.max()) + 1
        s = np.bincount(clusters, weights=infl, minlength=G)
        var = float(np.sum(s**2)) / n**2 * G / (G - 1)
    return tau, float(np.sqrt(var)), infl


class AIPW:
    """Augmented inverse probability weighting: the doubly robust effect, cross-fitted.

    Estimand: the average effect (``ate``) or the average effect on the
    treated (``att``), assuming no unmeasured confounding given the
    covariates. Consistent when either the propensity model or the outcome
    models are right.

    Formula (ATE): ``tau = mean[m1(x) - m0(x) + z (y - m1(x)) / e(x) - (1 - z)(y - m0(x)) / (1 - e(x))]``
    with ``e`` the propensity score and ``m1, m0`` the outcome models of each
    arm; ATT: ``mean_t(y - m0) - sum_c w (y - m0) / sum_c w``, ``w = e / (1 - e)``.
    Every prediction is cross-fitted: made by models fitted on the other
    ``folds`` (Chernozhukov et al. 2018), so flexible learners do not
    overfit their own observations.

    Variance: the influence function's, ``sum (phi - tau)^2 / n^2`` (the
    estimating equation is orthogonal to both models, so their estimation
    adds nothing to first order); with ``clusters`` the cluster sums, times
    ``G/(G-1)``.

    Defaults and why: logistic propensity, linear outcome model in each
    arm, 5 folds (Chernozhukov et al. 2018 use 2 to 5); no trimming.

    Parameters
    ----------
    data : DataFrame
    outcome : str
    treatment : str
        0/1 arm, or two labels declared with ``arms``.
    arms : tuple, default=None
        ``(control, treated)`` labels of a text treatment column.
    covariates : list of str
        Columns of both the propensity and the outcome models.
    estimand : {"ate", "att"}, default="ate"
    classifier : str or scikit-learn classifier, default="logistic"
    regressor : str or scikit-learn regressor, default="linear"
    folds : int, default=5
        Cross-fitting folds; ``None`` fits every model on all rows.
    trim : "crump" or float, default=None
    clusters : str, default=None
    seed : int, default=None
        Seed of the folds (and of randomised learners); ``None`` draws one
        from fresh entropy and records it in ``extra["seed"]``.
    alpha : float, default=0.05
    missing : {"error", "drop"}, default="error"

    Returns
    -------
    EffectResult
        ``extra``: ``effective_sample_size`` and ``balance`` (before and
        after) of the estimand's IPW weights, ``propensity`` range by arm,
        ``folds``, ``seed``, ``trimmed``.

    Raises
    ------
    DataError
        Bad columns; a constant covariate; scores of 0 or 1 (no overlap);
        fewer units in an arm than folds.

    References
    ----------
    Robins, J. M., Rotnitzky, A. & Zhao, L. P. (1994). JASA 89(427), 846-866. doi:10.1080/01621459.1994.10476818
    Chernozhukov, V. et al. (2018). Double/debiased machine learning. The Econometrics Journal 21(1), C1-C68.
    doi:10.1111/ectj.12097

    Examples
    --------
    >>> import effekt as ef
    >>> syn = AIPW.simulate(np.random.default_rng(8), n=1000)
    >>> res = ef.estimate("aipw", data=syn.data, **syn.spec, seed=1)
    >>> res.estimand, res.conf_int[0] < 1.0 < res.conf_int[1]
    ('ate', True)
    """

    name: ClassVar[str] = "aipw"
    estimand: ClassVar[str] = "ate"
    kind: ClassVar[str] = "observational"
    tags: ClassVar[EstimatorTags] = EstimatorTags(supports_covariates=True, supports_clusters=True, uses_seed=True)
    options: ClassVar[dict[str, Any]] = {"estimand": estimand_choice("ate", "att")}

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
        estimand: str = "ate",
        classifier: Any = "logistic",
        regressor: Any = "linear",
        folds: int | None = 5,
        trim: Any = None,
        clusters: str | None = None,
        seed: Any = None,
        alpha: float = 0.05,
        missing: str = "error",
    ) -> EffectResult:
        trim = check_trim(trim)
        if seed is None:
            seed = int(np.random.default_rng().integers(2**31 - 1))
        elif not isinstance(seed, (int, np.integer)):
            seed = int(check_seed(seed).integers(2**31 - 1))
        cols, _ = prepare(data, outcome=outcome, treatment=treatment, arms=arms, covariates=covariates,
                          clusters=clusters, missing=missing, owner=self.name)
        assert cols.X is not None and cols.z is not None and cols.y is not None
        X, z, y, cl = cols.X, cols.z, cols.y, cols.clusters
        names = cols.covariate_names
        trimmed: dict[str, Any] = {"rule": None, "dropped": 0}
        if trim is not None:
            first = fit_propensity(X, z, names, classifier=classifier, folds=folds, seed=seed)
            keep, a = trim_mask(first.scores, trim)
            trimmed = {"rule": trim if trim == "crump" else "fixed", "threshold": a, "dropped": int((~keep).sum())}
            X, z, y = X[keep], z[keep], y[keep]
            cl = None if cl is None else np.unique(cl[keep], return_inverse=True)[1]
        F = design_matrix(X, names)[:, 1:]
        try:
            labels = None if folds is None else cross_folds(X, z.astype(np.int64), folds, seed)
        except DataError as exc:
            raise DataError(f"{exc} (arms of treatment column {treatment!r})") from None
        ps = fit_propensity(X, z, names, classifier=classifier, folds=folds, seed=seed, labels=labels)
        check_overlap(ps.scores, z, cols.covariates, estimand)
        m1, m0 = _outcome_predictions(F, y, z, labels, regressor)
        tau, se, _ = aipw_kernel(y, z, ps.scores, m1, m0, estimand, cl)
        zb = z.astype(bool)
        w = balancing_weights(ps.scores, z, estimand)
        extra = {
            "effective_sample_size": effective_sizes(z, w),
            "balance": compare_balance(X, names, z, w, arms=(cols.arms[0], cols.arms[1])).to_dict(),
            "folds": folds, "seed": seed, "trimmed": trimmed,
            "propensity": {"classifier": ps.classifier,
                           "treated_range": [float(ps.scores[zb].min()), float(ps.scores[zb].max())],
                           "control_range": [float(ps.scores[~zb].min()), float(ps.scores[~zb].max())]},
        }
        return EffectResult.from_z(
            tau, se, alpha=alpha, estimator=self.name, estimand=estimand, term=str(treatment), n=int(z.size),
            n_treated=int(z.sum()), n_control=int(z.size - z.sum()),
            se_type="influence function" + (", clustered" if cl is not None else ""), design="observational",
            outcome=str(outcome), warnings=tuple(cols.warnings()), extra=extra,
            n_clusters=None if cl is None else int(cl.max()) + 1, plotter=_love_plot,
        )


def _love_plot(res: EffectResult, *, ax: Any = None, labels: Any = None, **_: Any) -> Any:
    from effekt_observational.balance import balance_of

    return balance_of(res).plot(ax=ax, labels=labels)
