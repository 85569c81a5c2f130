"""The contract every estimator and power calculator keeps.

An estimator is any class with ``name``, ``estimand``, ``kind`` and a
``fit`` method that takes a data frame and keyword-only options and returns
an :class:`~effekt.result.EffectResult` (or an
:class:`~effekt.result.EffectTable` for several terms). No base class is
required: the protocol is structural, as in scikit-learn, and
``isinstance(obj, Estimator)`` checks it at run time.

Two optional class attributes tell :func:`effekt.testing.check_estimator`
what to check:

* ``tags``: an :class:`EstimatorTags` saying which options the estimator
  supports and which properties hold (shift and scale equivariance, sign
  flip when the arms are swapped, ...). Checks run on declared capabilities
  only, never on class names.
* ``simulate(rng, *, n, effect)``: a classmethod returning a
  :class:`Synthetic` data set with a known true value of the estimand, for
  estimators whose data are not a plain two-arm trial (survival times,
  panels, tables of counts). Without it the suite draws a two-arm trial with
  a continuous outcome ``y``, treatment ``z`` and, where supported, blocks,
  clusters, a covariate and weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

if TYPE_CHECKING:  # annotations only, so that the protocol loads without pandas
    import pandas as pd

    from effekt.result import EffectResult, EffectTable, PowerResult

__all__ = ["Estimator", "PowerCalculator", "EstimatorTags", "Synthetic", "get_tags"]


@runtime_checkable
class Estimator(Protocol):
    """What ``effekt.estimate`` needs of an estimator class."""

    name: ClassVar[str]
    estimand: ClassVar[str]
    kind: ClassVar[str]

    def fit(self, data: Any, **spec: Any) -> EffectResult | EffectTable: ...


@runtime_checkable
class PowerCalculator(Protocol):
    """What ``effekt.power`` needs of a power calculator class.

    ``solve`` is given every quantity but one (passed as ``None`` or left
    out) and returns a :class:`~effekt.result.PowerResult` for the missing
    one.
    """

    name: ClassVar[str]

    def solve(self, **params: Any) -> PowerResult: ...


@dataclass(frozen=True)
class EstimatorTags:
    """Declared capabilities and properties, read by the conformance suite.

    Attributes
    ----------
    outcome : {"continuous", "binary", "survival", "panel", "counts"}
        The kind of outcome the estimator takes.
    supports_blocks, supports_clusters, supports_covariates, supports_weights : bool
        Which design and adjustment options ``fit`` accepts.
    shift_equivariant : bool
        Adding ``c`` to the outcome adds ``c`` to the estimate and leaves the
        standard error alone (differences of means, regressions).
    scale_equivariant : bool
        Multiplying the outcome by ``a`` multiplies the estimate by ``a`` and
        the standard error by ``|a|``.
    sign_flip : bool
        Swapping the arms negates the estimate.
    binary_treatment : bool
        ``treatment`` is a 0/1 (or two-label) arm column; ``False`` for,
        e.g., the first-treated period of staggered designs.
    uses_seed : bool
        ``fit`` takes ``seed=`` (bootstraps, permutations, simulation).
    coverage_check : bool
        Run the nominal-coverage check (skip only for estimators whose
        interval is not meant to cover a population value).
    """

    outcome: str = "continuous"
    supports_blocks: bool = False
    supports_clusters: bool = False
    supports_covariates: bool = False
    supports_weights: bool = False
    shift_equivariant: bool = True
    scale_equivariant: bool = True
    sign_flip: bool = True
    binary_treatment: bool = True
    uses_seed: bool = False
    coverage_check: bool = True


@dataclass
class Synthetic:
    """A simulated data set with the true value of the estimand.

    ``spec`` holds the keyword arguments ``fit`` needs (column names and
    options); ``truth`` is the value the estimate should recover;
    ``outcome`` names the outcome column the equivariance checks transform
    (``None`` when no such column exists).
    """

    data: pd.DataFrame
    spec: dict[str, Any]
    truth: float
    outcome: str | None = "y"
    treatment: str | None = "z"
    extra: dict[str, Any] = field(default_factory=dict)


def get_tags(estimator: Any) -> EstimatorTags:
    """The estimator's declared tags, or the defaults."""
    tags = getattr(estimator, "tags", None)
    return tags if isinstance(tags, EstimatorTags) else EstimatorTags()
