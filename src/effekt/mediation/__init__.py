"""Causal mediation analysis: ACME and ADE, sensitivity, product of coefficients.

* :class:`Mediation` (registered as ``"mediation"``): average causal
  mediation and direct effects for linear, logit and probit mediator and
  outcome models (Imai, Keele & Tingley 2010), with quasi-Bayesian or
  (cluster) bootstrap intervals.
* :func:`sensitivity`: the ACME as a function of the correlation rho
  between the mediator and outcome errors (Imai, Keele & Yamamoto 2010),
  with the R-tilde^2 form, the rho at which the ACME vanishes, and a plot.
"""

from effekt.mediation.mediation import SEQUENTIAL_IGNORABILITY, TERMS, Mediation
from effekt.mediation.sensitivity import MediationSensitivity, sensitivity

__all__ = ["Mediation", "MediationSensitivity", "SEQUENTIAL_IGNORABILITY", "TERMS", "sensitivity"]
