"""ANCOVA: the treatment coefficient of an OLS fit with covariates, HC2 errors.

An example of a third-party estimator: it uses only effekt's public API
(``effekt.data``, ``effekt.sandwich``, ``effekt.result``, ``effekt.protocol``,
``effekt.vocabulary``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from effekt.data import check_columns
from effekt.protocol import EstimatorTags
from effekt.result import EffectResult
from effekt.sandwich import robust_ols
from effekt.vocabulary import validated


class Ancova:
    """Covariate-adjusted difference in means, y ~ 1 + z + x, with HC2 errors.

    Parameters
    ----------
    outcome : str
        The outcome column.
    treatment : str
        The 0/1 treatment column, or two labels declared with ``arms``.
    arms : (control, treated), default=None
        The treatment's labels, the control first.
    covariates : list of str, default=None
        Numeric covariates, centred at their means.
    alpha : float, default=0.05
        Intervals are at ``1 - alpha``.

    Example
    -------
    >>> import effekt as ef, pandas as pd
    >>> df = pd.DataFrame({"y": [1.0, 2, 4, 3, 6, 7], "z": [0, 0, 0, 1, 1, 1], "x": [0.0, 1, 2, 0, 1, 3]})
    >>> round(ef.estimate("example_ancova", data=df, outcome="y", treatment="z", covariates=["x"]).estimate, 4)
    2.5667
    """

    name: ClassVar[str] = "example_ancova"
    estimand: ClassVar[str] = "ate"
    kind: ClassVar[str] = "itt"
    tags: ClassVar[EstimatorTags] = EstimatorTags(supports_covariates=True)

    @validated
    def fit(
        self,
        data: Any,
        *,
        outcome: str,
        treatment: str,
        arms: tuple[Any, Any] | None = None,
        covariates: list[str] | None = None,
        alpha: float = 0.05,
    ) -> EffectResult:
        cols = check_columns(data, outcome=outcome, treatment=treatment, covariates=covariates, arms=arms)
        assert cols.y is not None and cols.z is not None  # both roles were requested
        parts = [np.ones(cols.n), cols.z]
        if cols.X is not None:
            parts.append(cols.X - cols.X.mean(axis=0))
        X = np.column_stack(parts)
        names = ["(Intercept)", treatment, *(cols.covariate_names or covariates or [])]
        fit = robust_ols(X, cols.y, se_type="HC2", names=names, outcome=outcome)
        return EffectResult.from_t(
            fit.coef[1], fit.std_error[1], fit.df[1], alpha=alpha,
            estimator=self.name, estimand=self.estimand, term=treatment, outcome=outcome,
            n=cols.n, n_treated=cols.n_treated, n_control=cols.n_control,
            se_type="HC2", design="simple",
        )
