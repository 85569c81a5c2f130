"""Working models and coefficient draws, public for estimators built on them.

The mediation estimators of plugins (the survival plugin's time-to-event
mediation) fit the same mediator models and draw the same quasi-Bayesian
coefficients as :class:`~effekt.mediation.Mediation`. These names are the
stable part of that machinery:

* :func:`fit_working_model`: weighted linear, logit or probit regression with
  its covariance (classical, HC0-HC3, CR0, CR1);
* :class:`WorkingModel`: the fit (``coef``, ``vcov``, ``sigma``, ``r_squared``);
* :func:`mean_function`: E[y | x] from the linear predictor;
* :func:`draw_coefficients`: quasi-Bayesian draws N(coef, vcov) through the
  Cholesky factor (the same draws for a seed on every platform);
* :func:`mediation_summaries`: the ten reported quantities from
  delta(1), delta(0), zeta(1), zeta(0);
* :func:`simulation_pvalue`: R mediation's two-sided p-value from draws.

>>> import numpy as np
>>> X = np.column_stack([np.ones(6), [0, 0, 0, 1, 1, 1]])
>>> fit = fit_working_model("linear", np.array([1.0, 2, 3, 4, 5, 7]), X, np.ones(6),
...                         names=("(Intercept)", "z"), what="mediator")
>>> fit.coef.round(3).tolist()
[2.0, 3.333]
"""

from __future__ import annotations

from effekt.mediation._effects import summaries as mediation_summaries
from effekt.mediation._glm import FAMILIES, SE_TYPES, mean_function
from effekt.mediation._glm import Fit as WorkingModel
from effekt.mediation._glm import fit_model as fit_working_model
from effekt.mediation._inference import _mvn_draws as draw_coefficients
from effekt.mediation._inference import _pval as simulation_pvalue
from effekt.mediation.mediation import TERMS

__all__ = [
    "FAMILIES",
    "SE_TYPES",
    "TERMS",
    "WorkingModel",
    "draw_coefficients",
    "fit_working_model",
    "mean_function",
    "mediation_summaries",
    "simulation_pvalue",
]
