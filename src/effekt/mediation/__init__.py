"""Causal mediation analysis: ACME and ADE, sensitivity, product of coefficients.

* :class:`Mediation` (registered as ``"mediation"``): average causal
  mediation and direct effects for linear, logit and probit mediator and
  outcome models (Imai, Keele & Tingley 2010), with quasi-Bayesian or
  (cluster) bootstrap intervals.
* :func:`sensitivity`: the ACME as a function of the correlation rho
  between the mediator and outcome errors (Imai, Keele & Yamamoto 2010),
  with the R-tilde^2 form, the rho at which the ACME vanishes, and a plot.
* :class:`ProductOfCoefficients` (registered as ``"product_of_coefficients"``):
  Baron-Kenny's a * b with Sobel and bootstrap intervals, for comparison,
  labelled with the assumptions under which it is the ACME.
* :func:`plot_mediation` (the mediation table's ``plot()``; also under its
  older name :func:`plot_effects`): ACME, ADE and total effect with their
  intervals.
* :data:`ESTIMANDS`: the vocabulary estimand of each row (``acme``, ``ade``,
  ``total_effect``, ``proportion_mediated``; the arm is in the term name).
"""

from effekt.mediation.mediation import ESTIMANDS, SEQUENTIAL_IGNORABILITY, TERMS, Mediation
from effekt.mediation.plot import plot_effects, plot_mediation
from effekt.mediation.product_of_coefficients import PRODUCT_ASSUMPTIONS, ProductOfCoefficients
from effekt.mediation.sensitivity_analysis import MediationSensitivity, sensitivity

__all__ = [
    "ESTIMANDS",
    "Mediation",
    "MediationSensitivity",
    "PRODUCT_ASSUMPTIONS",
    "ProductOfCoefficients",
    "SEQUENTIAL_IGNORABILITY",
    "TERMS",
    "plot_effects",
    "plot_mediation",
    "sensitivity",
]
