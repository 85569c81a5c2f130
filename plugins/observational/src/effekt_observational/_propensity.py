"""Propensity-score models shared by the observational estimators.

Any scikit-learn classifier with ``predict_proba``; unpenalised logistic
regression by default (``LogisticRegression(penalty=None)``, fitted on
standardised covariates, which leaves the fitted scores unchanged and keeps
Newton's method well conditioned), gradient boosting by name. With ``folds``
the scores are cross-fitted: each unit's score comes from a model fitted on
the other folds. Folds are drawn from ``seed`` over the units sorted by
their covariates and arm, so shuffling the rows changes nothing.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from effekt.data import check_seed
from effekt.errors import DataError, DesignError

__all__ = ["PropensityFit", "fit_propensity", "design_matrix", "check_overlap", "cross_folds",
           "resolve_classifier", "logit", "OVERLAP_EPS"]

#: scores closer than this to 0 or 1 are treated as no overlap
OVERLAP_EPS = 1e-6


@dataclass(frozen=True)
class PropensityFit:
    """Scores and, for the in-sample logistic model, what M-estimation needs.

    ``design`` is ``[1, standardised covariates]`` and ``coef`` its
    coefficients (both ``None`` for other classifiers or cross-fitting).
    """

    scores: np.ndarray
    classifier: str
    folds: int | None
    design: np.ndarray | None = None
    coef: np.ndarray | None = None


def logit(p: np.ndarray) -> np.ndarray:
    return np.log(p) - np.log1p(-p)


def design_matrix(X: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """``[1, (X - mean) / sd]``; a DataError names a constant covariate."""
    sd = X.std(axis=0)
    const = np.flatnonzero(~(sd > 1e-12 * np.maximum(1.0, np.abs(X).max(axis=0))))
    if const.size:
        bad = ", ".join(repr(names[int(j)]) for j in const)
        raise DataError(
            f"covariate {bad} is constant in the rows analysed; it carries no information about who is "
            "treated and makes the propensity model singular. Drop it from covariates=."
        )
    return np.column_stack([np.ones(len(X)), (X - X.mean(axis=0)) / sd])


def resolve_classifier(classifier: Any, seed: Any) -> tuple[Any, str]:
    """A fresh scikit-learn classifier and its name for the result."""
    from sklearn.base import clone

    rs = int(check_seed(seed).integers(2**31 - 1)) if seed is not None else 0
    if classifier is None or classifier == "logistic":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(penalty=None, solver="newton-cholesky", max_iter=200, tol=1e-10), "logistic"
    if classifier == "gradient_boosting":
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, max_depth=2, min_samples_leaf=50, random_state=rs), "gradient_boosting"
    if isinstance(classifier, str):
        raise DesignError(
            f"classifier={classifier!r} is not an option; use 'logistic', 'gradient_boosting', or pass a "
            "scikit-learn classifier object."
        )
    if not (hasattr(classifier, "fit") and hasattr(classifier, "predict_proba")):
        raise DesignError(
            f"classifier={classifier!r} has no fit() and predict_proba(); pass a scikit-learn classifier "
            "(e.g. sklearn.ensemble.RandomForestClassifier()) or 'logistic'."
        )
    est = clone(classifier)
    if "random_state" in est.get_params():
        est.set_params(random_state=rs)
    return est, type(classifier).__name__


def cross_folds(X: np.ndarray, z: np.ndarray, folds: int, seed: Any) -> np.ndarray:
    """Fold labels ``0..folds-1`` drawn from ``seed`` over the units sorted by their covariates.

    Invariant to the order of the rows and to which arm is called treated
    (the folds do not look at the arm); DataError when a fold's complement
    lacks units of an arm.
    """
    n = len(z)
    n1 = int(z.sum())
    if folds > min(n1, n - n1):
        raise DataError(
            f"folds={folds} needs at least {folds} units in each arm; the data have {n1} treated "
            f"and {n - n1} control units. Use fewer folds."
        )
    order = np.lexsort(X.T[::-1]) if X.shape[1] else np.arange(n)
    rng = check_seed(seed if seed is not None else 0)
    labels = np.empty(n, dtype=np.int64)
    labels[order[rng.permutation(n)]] = np.arange(n) % folds
    for k in range(folds):
        train = labels != k
        if min(int(z[train].sum()), int((1 - z[train]).sum())) < 2:
            raise DataError(
                f"cross-fitting with folds={folds}: the units outside fold {k} include fewer than 2 of one arm, "
                "so no model can be fitted there. Use fewer folds."
            )
    return labels


def _predict(est: Any, X: np.ndarray) -> np.ndarray:
    proba = est.predict_proba(X)
    classes = list(est.classes_)
    return np.asarray(proba[:, classes.index(1)], dtype=float)


def _fit(est: Any, X: np.ndarray, z: np.ndarray) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # separation shows up in the scores, checked by check_overlap
        with np.errstate(all="ignore"):
            est.fit(X, z)
    return est


def fit_propensity(
    X: np.ndarray,
    z: np.ndarray,
    names: Sequence[str],
    *,
    classifier: Any = None,
    folds: int | None = None,
    seed: Any = None,
    labels: np.ndarray | None = None,
) -> PropensityFit:
    """Estimated ``P(treated | X)`` for every row (cross-fitted with ``folds``, or the given fold ``labels``)."""
    D = design_matrix(X, names)
    est, kind = resolve_classifier(classifier, seed)
    zi = z.astype(np.int64)
    features = D[:, 1:]
    if folds is None:
        _fit(est, features, zi)
        e = _predict(est, features)
        coef = None
        if kind == "logistic":
            coef = np.concatenate([np.atleast_1d(est.intercept_), est.coef_.ravel()])
        return PropensityFit(e, kind, None, D if coef is not None else None, coef)
    if labels is None:
        labels = cross_folds(X, zi, folds, seed)
    e = np.empty(len(z))
    for k in range(folds):
        test = labels == k
        fitted = _fit(resolve_classifier(classifier, seed)[0], features[~test], zi[~test])
        e[test] = _predict(fitted, features[test])
    return PropensityFit(e, kind, folds)


def check_overlap(e: np.ndarray, z: np.ndarray, covariates: Sequence[str], estimand: str = "ate") -> None:
    """DataError when a score is (numerically) 0 or 1 where the estimand needs it inside (0, 1)."""
    low = e < OVERLAP_EPS
    high = e > 1 - OVERLAP_EPS
    if estimand == "att":
        low = np.zeros_like(low)  # the ATT needs comparable controls for the treated: e < 1
    elif estimand == "atc":
        high = np.zeros_like(high)  # the ATC needs e > 0
    bad = low | high
    if bad.any():
        n_low, n_high = int(low.sum()), int(high.sum())
        cov = ", ".join(repr(c) for c in covariates)
        raise DataError(
            f"no overlap: the propensity score given {cov} is 0 for {n_low} and 1 for {n_high} of "
            f"{len(e)} rows (within {OVERLAP_EPS:g}); the covariates separate the arms, so those units have "
            "no comparable units in the other arm. Drop or coarsen the separating covariate, restrict the "
            "sample to the region of common support (trim='crump'), or target another estimand."
        )
