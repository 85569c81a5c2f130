"""The estimators' name for :mod:`effekt.absorb` (the one absorption in effekt)."""

from effekt.absorb import DEMEAN_TOL, Absorber, check_not_absorbed, demean

__all__ = ["Absorber", "check_not_absorbed", "demean", "DEMEAN_TOL"]
