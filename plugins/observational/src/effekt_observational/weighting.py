"""Inverse probability weighting: ATE, ATT, ATC and overlap weights."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from effekt.protocol import EstimatorTags, Synthetic
from effekt.result import EffectResult
from effekt.vocabulary import validated
from effekt_observational._common import (
    check_trim,
    effective_sizes,
    expit,
    prepare,
    simulate_confounded,
    stacked_sandwich,
    trim_mask,
)
from effekt_observational._propensity import check_overlap, fit_propensity
from effekt_observational.balance import compare_balance
from effekt_observational.propensity import balancing_weights
from effekt_observational.vocabulary import estimand_choice

__all__ = ["IPW", "ipw_kernel"]

_LABELS = {"ate": "ATE", "att": "ATT", "atc": "ATC", "ato": "ATO"}


def _weight_derivatives(e: np.ndarray, estimand: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Treated and control weights w1(e), w0(e) and their derivatives in e."""
    one = np.ones_like(e)
    if estimand == "ate":
        return 1 / e, 1 / (1 - e), -1 / e**2, 1 / (1 - e) ** 2
    if estimand == "att":
        return one, e / (1 - e), 0 * e, 1 / (1 - e) ** 2
    if estimand == "atc":
        return (1 - e) / e, one, -1 / e**2, 0 * e
    return 1 - e, e, -one, one


def ipw_kernel(
    y: np.ndarray, z: np.ndarray, e: np.ndarray, estimand: str, *, design: np.ndarray | None = None,
    coef: np.ndarray | None = None, clusters: np.ndarray | None = None,
) -> tuple[float, float, np.ndarray]:
    """Hajek-normalised weighted difference in means and its stacked M-estimation SE.

    ``mu_1 = sum z w1 y / sum z w1``, ``mu_0 = sum (1-z) w0 y / sum (1-z) w0``.
    With the logistic ``design`` and ``coef``, the logistic score equations
    ``(z - e) x`` are stacked with the two means' (Lunceford & Davidian 2004,
    section 3.3), so the SE accounts for the estimated propensity score;
    without them the scores are treated as known.
    """
    w1, w0, _, _ = _weight_derivatives(e, estimand)
    zf = z.astype(float)
    mu1 = float(np.sum(zf * w1 * y) / np.sum(zf * w1))
    mu0 = float(np.sum((1 - zf) * w0 * y) / np.sum((1 - zf) * w0))
    tau = mu1 - mu0
    p = 0 if design is None else design.shape[1]

    def psi(theta: np.ndarray) -> np.ndarray:
        if p:
            assert design is not None
            ee = expit(design @ theta[:p])
            score = (zf - ee)[:, None] * design
        else:
            ee = e
        a1, a0, _, _ = _weight_derivatives(ee, estimand)
        m = np.column_stack([zf * a1 * (y - theta[p]), (1 - zf) * a0 * (y - theta[p + 1])])
        return np.column_stack([score, m]) if p else m

    # the analytic Jacobian of sum psi (Lunceford & Davidian 2004, eq. 14 and 15)
    theta = np.concatenate([coef if p else np.empty(0), [mu1, mu0]])
    k = p + 2
    A = np.zeros((k, k))
    _, _, d1, d0 = _weight_derivatives(e, estimand)
    if p:
        assert design is not None
        v = e * (1 - e)
        A[:p, :p] = -(design * v[:, None]).T @ design
        A[p, :p] = (zf * d1 * v * (y - mu1)) @ design
        A[p + 1, :p] = ((1 - zf) * d0 * v * (y - mu0)) @ design
    A[p, p] = -np.sum(zf * w1)
    A[p + 1, p + 1] = -np.sum((1 - zf) * w0)
    V = stacked_sandwich(psi, theta, clusters, jacobian=A)
    g = np.zeros(k)
    g[p], g[p + 1] = 1.0, -1.0
    return tau, float(np.sqrt(g @ V @ g)), balancing_weights(e, z, estimand)


class IPW:
    """Inverse probability weighting for the ATE, ATT, ATC or the overlap population.

    Estimand: the average effect over everyone (``ate``), the treated
    (``att``), the controls (``atc``) or the overlap population
    (``ato``, weights ``e (1 - e)``: the population with the most precise
    comparison, Li, Morgan & Zaslavsky 2018), assuming no unmeasured
    confounding given the covariates.

    Formula: ``tau = sum z w1 y / sum z w1 - sum (1-z) w0 y / sum (1-z) w0``
    (Hajek, normalised weights) with ``w1, w0`` the estimand's balancing
    weights of the estimated propensity score ``e(x)``: ate ``1/e, 1/(1-e)``;
    att ``1, e/(1-e)``; atc ``(1-e)/e, 1``; ato ``1-e, e``.

    Variance: the sandwich of the stacked estimating equations (logistic
    score and the two weighted means), so the SE accounts for the estimated
    propensity score (Lunceford & Davidian 2004; WeightIt's M-estimation);
    with ``clusters`` the cluster sums enter ``B`` with ``G/(G-1)``. With
    another classifier or cross-fitted scores the scores are treated as known
    (documented in ``se_type``).

    Defaults and why: ``estimand='ate'`` and the logistic model, WeightIt's
    defaults; no trimming (it changes the estimand; ask for it with ``trim``).

    Parameters
    ----------
    data : DataFrame
    outcome : str
    treatment : str
        0/1 arm, or two labels declared with ``arms``.
    arms : tuple, default=None
        ``(control, treated)`` labels of a text treatment column.
    covariates : list of str
        Columns of the propensity model.
    estimand : {"ate", "att", "atc", "ato"}, default="ate"
    classifier : str or scikit-learn classifier, default="logistic"
    folds : int, default=None
        Cross-fit the propensity scores over this many folds.
    trim : "crump" or float, default=None
        Drop units with extreme scores first (Crump et al. 2009 or ``[a, 1-a]``).
    clusters : str, default=None
        Cluster-robust sandwich over these clusters.
    seed : int, default=None
        Seed of the folds and of a randomised classifier.
    alpha : float, default=0.05
    missing : {"error", "drop"}, default="error"

    Returns
    -------
    EffectResult
        ``extra``: ``effective_sample_size`` (Kish, by arm), ``balance``
        (before and after weighting; :func:`effekt_observational.balance_of`
        rebuilds the tables and the love plot), ``propensity`` (range by
        arm), ``trimmed``, ``weights`` (largest weight by arm).

    Raises
    ------
    DataError
        Bad columns; scores of 0 or 1 (no overlap) where the estimand needs
        them inside (0, 1); a constant covariate.

    References
    ----------
    Lunceford, J. K. & Davidian, M. (2004). Statistics in Medicine 23, 2937-2960. doi:10.1002/sim.1903
    Li, F., Morgan, K. L. & Zaslavsky, A. M. (2018). JASA 113(521), 390-400. doi:10.1080/01621459.2016.1260466

    Examples
    --------
    >>> import effekt as ef
    >>> syn = IPW.simulate(np.random.default_rng(7), n=2000, effect=1.0)
    >>> res = ef.estimate("ipw", data=syn.data, **syn.spec)
    >>> res.estimand, res.conf_int[0] < 1.0 < res.conf_int[1]
    ('ate', True)
    """

    name: ClassVar[str] = "ipw"
    estimand: ClassVar[str] = "ate"
    kind: ClassVar[str] = "observational"
    tags: ClassVar[EstimatorTags] = EstimatorTags(supports_covariates=True, supports_clusters=True)
    options: ClassVar[dict[str, Any]] = {"estimand": estimand_choice("ate", "att", "atc", "ato")}

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
        folds: int | None = None,
        trim: Any = None,
        clusters: str | None = None,
        seed: Any = None,
        alpha: float = 0.05,
        missing: str = "error",
    ) -> EffectResult:
        trim = check_trim(trim)
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
            import pandas as pd

            from effekt.data import check_columns  # both arms must survive trimming

            check_columns(pd.DataFrame({"z": z}), treatment="z")
        ps = fit_propensity(X, z, names, classifier=classifier, folds=folds, seed=seed)
        check_overlap(ps.scores, z, cols.covariates, estimand)
        tau, se, w = ipw_kernel(y, z, ps.scores, estimand, design=ps.design, coef=ps.coef, clusters=cl)
        known = ps.design is None
        se_type = ("M-estimation sandwich" + (", clustered" if cl is not None else "")
                   + (" (propensity scores treated as known)" if known else ""))
        bal = compare_balance(X, names, z, w, arms=(cols.arms[0], cols.arms[1]))
        zb = z.astype(bool)
        extra = {
            "effective_sample_size": effective_sizes(z, w),
            "balance": bal.to_dict(),
            "propensity": {"classifier": ps.classifier, "folds": folds,
                           "treated_range": [float(ps.scores[zb].min()), float(ps.scores[zb].max())],
                           "control_range": [float(ps.scores[~zb].min()), float(ps.scores[~zb].max())]},
            "weights": {"max_treated": float(w[zb].max()), "max_control": float(w[~zb].max())},
            "trimmed": trimmed, "normalised": True,
        }
        warnings = cols.warnings()
        return EffectResult.from_z(
            tau, se, alpha=alpha, estimator=self.name, estimand=estimand, term=str(treatment),
            n=int(z.size), n_treated=int(z.sum()), n_control=int(z.size - z.sum()), se_type=se_type,
            design="weighted", outcome=str(outcome), warnings=tuple(warnings), extra=extra,
            n_clusters=None if cl is None else int(cl.max()) + 1,
            plotter=_love_plot,
        )


def _love_plot(res: EffectResult, *, ax: Any = None, labels: Any = None, **_: Any) -> Any:
    from effekt_observational.balance import balance_of

    return balance_of(res).plot(ax=ax, labels=labels)
