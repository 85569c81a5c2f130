"""Risk ratio between two arms with a log-Wald (Katz) interval."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from effekt.estimators._tables import (
    MISSING,
    POSITIVE,
    ArmLabels,
    ratio_result,
    read_table,
    simulate_binary,
    stratified_result,
)
from effekt.protocol import EstimatorTags, Synthetic
from effekt.result import EffectResult, check_alpha
from effekt.vocabulary import Constraint, validated

__all__ = ["RiskRatio"]


class RiskRatio:
    """Risk ratio (relative risk) of a binary outcome, treated over control.

    Estimand: ``P(Y = 1 | treated) / P(Y = 1 | control)``.

    Formula: ``RR = (a / n1) / (c / n0)``; the interval is log-Wald,
    ``exp(log RR +/- z SE)`` with Katz et al.'s (1978) delta-method
    ``SE(log RR) = sqrt(1/a - 1/n1 + 1/c - 1/n0)``; the p-value is the Wald
    test of ``log RR = 0``.

    Default and why: the log-Wald (Katz) interval is the one statsmodels'
    ``Table2x2.riskratio_confint`` and most trial reports give; it is
    adequate unless an arm has very few events. It needs an event in each
    arm: with a zero cell ``fit`` raises, unless ``zero_cell="haldane"``
    adds 0.5 to every cell (reported in ``warnings``).

    With ``blocks=``: the Mantel-Haenszel risk ratio
    ``sum(a_k n0_k / N_k) / sum(c_k n1_k / N_k)`` with Greenland & Robins'
    (1985) variance of its log; ``design="blocked"``. Zero cells in a block
    are no problem there.

    Parameters
    ----------
    data : DataFrame
        One row per unit.
    outcome : str
        Binary outcome: 0/1 or bool, or two labels with ``positive=``.
    treatment : str
        Assigned arm: 0/1 (numeric, bool, or a categorical/object column
        holding 0/1), or two labels declared with ``arms=``.
    arms : (control, treated), default=None
        The labels of the control and treated arm, e.g. ``("C", "I")``.
    positive : label, default=None
        The outcome value that counts as the event (None: 1 / True).
    blocks : str, default=None
        Block (stratum) column; every block needs both arms.
    zero_cell : {"error", "haldane"}, default="error"
        Raise on a zero cell, or add 0.5 to every cell (Haldane-Anscombe).
    alpha : float, default=0.05
    missing : {"error", "drop"}, default="error"
        ``"drop"`` drops rows with a missing value and reports how many.

    Returns
    -------
    EffectResult
        ``estimand="risk_ratio"``, ``ci_method="wald-log"``, ``std_error``
        on the log scale; ``extra`` holds both risks and the 2 x 2 table.

    Raises
    ------
    DataError
        Bad columns or values (see :func:`effekt.data.check_columns`), an
        outcome that is not binary.
    EstimationError
        A zero cell with ``zero_cell="error"``.

    Notes
    -----
    ``std_error`` is on the log scale, so ``with_conf_level`` rescales the
    interval correctly. Agrees with statsmodels' ``Table2x2.riskratio_confint``
    (tested).

    References
    ----------
    Greenland, S. & Robins, J. M. (1985). Estimation of a common effect
    parameter from sparse follow-up data. Biometrics 41, 55-68.
    doi:10.2307/2530643
    Katz, D., Baptista, J., Azen, S. P. & Pike, M. C. (1978). Obtaining
    confidence intervals for the risk ratio in cohort studies. Biometrics
    34, 469-474. doi:10.2307/2530610

    Examples
    --------
    The Copenhagen resource-course trial (VIVE 2019), Table 8.8 (complaints): 3 of 109 treated, 14 of 109 controls.

    >>> import effekt as ef
    >>> df = ef.from_counts([[95, 106], [14, 3]])
    >>> res = ef.estimate("risk_ratio", data=df, outcome="y", treatment="z")
    >>> round(res.estimate, 3), tuple(round(v, 3) for v in res.conf_int)
    (0.214, (0.063, 0.725))
    """

    name: ClassVar[str] = "risk_ratio"
    estimand: ClassVar[str] = "risk_ratio"
    kind: ClassVar[str] = "itt"
    tags: ClassVar[EstimatorTags] = EstimatorTags(
        outcome="binary", supports_blocks=True, shift_equivariant=False, scale_equivariant=False,
        sign_flip=False,
    )
    options: ClassVar[dict[str, Constraint]] = {"arms": ArmLabels(), "positive": POSITIVE, "missing": MISSING}

    @validated
    def fit(
        self,
        data: Any,
        *,
        outcome: str,
        treatment: str,
        arms: Sequence[Any] | None = None,
        positive: Any = None,
        blocks: str | None = None,
        zero_cell: str = "error",
        alpha: float = 0.05,
        missing: str = "error",
    ) -> EffectResult:
        alpha = check_alpha(alpha)
        tab = read_table(
            data, outcome=outcome, treatment=treatment, arms=arms, positive=positive,
            missing=missing, binary=True, blocks=blocks, estimator=self.name,
        )
        if blocks is not None:
            return stratified_result(tab, measure="risk_ratio", alpha=alpha, estimator=self.name)
        return ratio_result(tab, measure="risk_ratio", alpha=alpha, estimator=self.name, zero_cell=zero_cell)

    @classmethod
    def simulate(cls, rng: np.random.Generator, *, n: int, effect: float) -> Synthetic:
        """A two-arm trial with a binary outcome; truth = the risk ratio."""
        return simulate_binary(rng, n=n, effect=effect, truth="risk_ratio", blocks=True)
