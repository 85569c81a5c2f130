"""Causal mediation analysis: ACME and ADE, sensitivity, product of coefficients.

* :class:`Mediation` (registered as ``"mediation"``): average causal
  mediation and direct effects for linear, logit and probit mediator and
  outcome models (Imai, Keele & Tingley 2010), with quasi-Bayesian or
  (cluster) bootstrap intervals.
"""

from effekt.mediation.mediation import SEQUENTIAL_IGNORABILITY, TERMS, Mediation

__all__ = ["Mediation", "SEQUENTIAL_IGNORABILITY", "TERMS"]
