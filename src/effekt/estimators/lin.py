"""Lin (2013) covariate adjustment: treatment interacted with centred covariates.

Estimand: the average treatment effect in the sample.

Formula: least squares of ``y`` on ``[1, z, x - xbar, z (x - xbar)]``; the
coefficient of ``z`` is the ATE estimate. Centring at the (weighted) sample
mean makes it the difference of the two arms' regression predictions at
``xbar``. With ``blocks=``, the block indicators are covariates too:
block effects are absorbed and ``z`` is interacted with the centred block
indicators, so each block gets its own effect and the estimate weights
them by block size (with no other covariate it equals the blocked
difference in means, and its HC2 variance the blocked Neyman variance).

Defaults and why: HC2 (Lin 2013, section 5: the sandwich is consistent or
conservative for the randomisation variance, HC2 the least biased in small
samples), or CR2 with Bell-McCaffrey df when clustered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, ClassVar

import numpy as np

from effekt.errors import DesignError, EffektError
from effekt.estimators._model import ModelFrame, model_frame
from effekt.estimators.lm_robust import fit_linear, report
from effekt.protocol import EstimatorTags
from effekt.result import EffectResult
from effekt.vocabulary import validated

__all__ = ["Lin", "lin_design"]


def lin_design(
    z: np.ndarray, X: np.ndarray | None, names: Sequence[str], *, blocks: np.ndarray | None = None,
    weights: np.ndarray | None = None, intercept: bool = True,
) -> tuple[np.ndarray, list[str], dict[str, float]]:
    """Regressors of the Lin estimator, their names and the centring means.

    ``blocks`` (integer codes) add ``z`` times the centred indicators of
    every block but the first; the blocks' own effects are left to be
    absorbed by the caller.

    >>> X, terms, means = lin_design(np.array([0, 1, 0, 1]), np.array([[1.0], [2.0], [3.0], [6.0]]), ["age"])
    >>> terms, means
    (['(Intercept)', 'z', 'age_c', 'z:age_c'], {'age': 3.0})
    """
    n = z.shape[0]
    w = np.ones(n) if weights is None else weights
    zf = z.astype(float)
    parts, terms = [], []
    if intercept:
        parts.append(np.ones(n))
        terms.append("(Intercept)")
    parts.append(zf)
    terms.append("z")
    means: dict[str, float] = {}
    if X is not None and X.shape[1]:
        xbar = (w @ X) / w.sum()
        Xc = X - xbar
        means = {str(nm): float(m) for nm, m in zip(names, xbar)}
        parts += list(Xc.T)
        terms += [f"{nm}_c" for nm in names]
        parts += list((Xc * zf[:, None]).T)
        terms += [f"z:{nm}_c" for nm in names]
    if blocks is not None:
        L = int(blocks.max()) + 1
        share = np.bincount(blocks, weights=w, minlength=L) / w.sum()
        for b in range(1, L):
            parts.append(zf * ((blocks == b) - share[b]))
            terms.append(f"z:block{b}_c")
    return np.column_stack(parts), terms, means


class Lin:
    """Lin (2013) interacted covariate adjustment.

    Estimand: the sample average treatment effect.

    Formula: OLS of ``y`` on ``z``, the centred covariates and their
    interactions with ``z``; the ``z`` coefficient is reported. Blocks enter
    as absorbed effects plus ``z`` x centred block indicators.

    Defaults and why: ``se_type`` HC2 (CR2 with clusters); covariates are
    centred at their (weighted) sample means, so no covariate value needs
    to be chosen.

    Parameters
    ----------
    data : DataFrame
    outcome : str
        Outcome column.
    treatment : str, default=None
        0/1 treatment (bool, or a categorical/object column holding 0/1),
        or two labels declared with ``arms``.
    arms : (control, treated), default=None
        The treatment's two labels, the control first.
    covariates : list of str, default=None
        Pre-treatment covariates. Text or categorical columns are expanded
        to indicators, the first level (sorted) the reference, reported in
        ``extra["reference_levels"]``.
    blocks : str, default=None
        Randomisation blocks (absorbed, and interacted with treatment).
    clusters : str, default=None
        Clusters for the cluster-robust variance.
    weights : str, default=None
        Positive weights.
    assignment : Assignment, default=None
        Supplies treatment, blocks and clusters (see ``lm_robust``).
    se_type : str, default=None
        As in ``lm_robust``: HC2, or CR2 with clusters.
    alpha : float, default=0.05
        Intervals are at ``1 - alpha``.
    missing : {"error", "drop"}, default="error"
        ``"drop"`` drops rows with a missing value and says how many.

    Returns
    -------
    EffectResult
        ``extra["terms"]`` every coefficient, ``extra["covariate_means"]``
        the centring values.

    Raises
    ------
    DataError
        Missing columns or values, text covariates, a non-0/1 treatment.
    DesignError
        No covariates and no blocks (use difference_in_means), an
        inconsistent ``se_type``.
    EstimationError
        Collinear covariates (e.g. a covariate constant within an arm).

    Notes
    -----
    estimatr's ``lm_lin`` takes no blocks; with ``blocks=`` this estimator
    is ``lm_lin`` with the block indicators among the covariates.

    References
    ----------
    Lin, W. (2013). Agnostic notes on regression adjustments to experimental
    data: reexamining Freedman's critique. Annals of Applied Statistics 7(1),
    295-318, doi:10.1214/12-AOAS583, eq. (2) and section 5.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> import effekt as ef
    >>> rng = np.random.default_rng(2)
    >>> df = pd.DataFrame({"z": np.tile([0, 1], 50), "age": rng.normal(40, 10, 100)})
    >>> df["y"] = 2 * df.z + 0.1 * df.age + rng.normal(size=100)
    >>> res = ef.estimate("lin", data=df, outcome="y", treatment="z", covariates=["age"])
    >>> res.se_type, res.term
    ('HC2', 'z')
    """

    name: ClassVar[str] = "lin"
    estimand: ClassVar[str] = "ate"
    kind: ClassVar[str] = "itt"
    tags: ClassVar[EstimatorTags] = EstimatorTags(
        supports_blocks=True, supports_clusters=True, supports_covariates=True, supports_weights=True
    )

    @validated
    def fit(
        self,
        data: Any,
        *,
        outcome: Any,
        treatment: Any = None,
        arms: tuple[Any, Any] | None = None,
        covariates: Sequence[Any] | str | None = None,
        blocks: Any = None,
        clusters: Any = None,
        weights: Any = None,
        se_type: str | None = None,
        alpha: float = 0.05,
        assignment: Any = None,
        missing: str = "error",
    ) -> EffectResult:
        if not covariates and blocks is None and getattr(assignment, "blocks", None) is None:
            raise DesignError(
                "lin adjusts for covariates: pass covariates= (or blocks=). Without them it is the "
                "difference in means; use difference_in_means."
            )
        mf = model_frame(
            data, outcome=outcome, treatment=treatment, covariates=covariates, blocks=blocks,
            clusters=clusters, weights=weights, assignment=assignment, missing=missing, estimator=self.name,
            arms=arms,
        )
        if mf.z is None:
            raise DesignError("lin needs treatment= (a column) or assignment=.")
        assert mf.z is not None
        covs = [c for c in mf.terms if c not in ("(Intercept)", mf.treatment)]
        Xcov = mf.X[:, [mf.terms.index(c) for c in covs]] if covs else None
        X, terms, means = lin_design(
            mf.z, Xcov, covs, blocks=mf.blocks, weights=mf.weights, intercept=mf.blocks is None
        )
        term = str(mf.treatment)
        terms = [term if t == "z" else t.replace("z:", f"{term}:", 1) for t in terms]
        lin_mf: ModelFrame = replace(mf, X=X, terms=terms)
        try:
            model = fit_linear(lin_mf, se_type=se_type, alpha=alpha, estimator=self.name, df_terms=[term])
        except EffektError as exc:  # name a centred covariate 'x_c' as the column 'x' it comes from
            msg = str(exc)
            for c in covs:
                msg = msg.replace(f"{str(c) + '_c'!r}", f"{str(c)!r} (centred)")
            if msg == str(exc):
                raise
            raise type(exc)(msg) from None
        return report(model, lin_mf, term, covariate_means=means)
