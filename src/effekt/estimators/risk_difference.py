"""Risk difference between two arms with a Newcombe or Wald interval."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from effekt.errors import DesignError
from effekt.estimators._tables import (
    MISSING,
    POSITIVE,
    ArmLabels,
    read_table,
    risk_difference_result,
    simulate_binary,
    stratified_result,
)
from effekt.protocol import EstimatorTags, Synthetic
from effekt.result import EffectResult, check_alpha
from effekt.vocabulary import Choice, Constraint, validated

__all__ = ["RiskDifference"]


class RiskDifference:
    """Risk difference of a binary outcome between the treated and control arm.

    Estimand: ``P(Y = 1 | treated) - P(Y = 1 | control)``, the intention-to-
    treat effect on the risk of the event.

    Formula: ``d = a / n1 - c / n0`` with ``a`` events among ``n1`` treated
    and ``c`` among ``n0`` controls.

    * ``ci_method="newcombe"`` (default): Newcombe's hybrid score interval (method
      10 of Newcombe 1998), built from the Wilson interval of each arm's
      risk; the p-value is the pooled score z test,
      ``z = d / sqrt(pbar (1 - pbar) (1/n1 + 1/n0))``, identical to Pearson's
      chi2 test without continuity correction.
    * ``ci_method="wald"``: ``d +/- z sqrt(p1 q1 / n1 + p0 q0 / n0)`` with the
      p-value of the same Wald statistic.

    ``std_error`` is the unpooled Wald standard error.

    With ``blocks=`` (a block-randomised trial, e.g. lottery batches): the
    Mantel-Haenszel risk difference,
    ``sum w_k d_k / sum w_k`` with ``w_k = n1_k n0_k / N_k``, with Sato's
    (1989) variance, which stays consistent with many small blocks; Wald
    interval and p-value; ``design="blocked"``.

    Default and why: the Wald interval undercovers when a risk is near 0 or
    1 or an arm is small (Newcombe 1998, who compared eleven methods); the
    Newcombe interval keeps close to nominal coverage there and is simple
    to reproduce from a published table.

    Parameters
    ----------
    data : DataFrame
        One row per unit.
    outcome : str
        Binary outcome column: 0/1 or bool, or two labels with ``positive=``.
    treatment : str
        Assigned arm: 0/1 (numeric, bool, or a categorical/object column
        holding 0/1), or two labels declared with ``arms=``.
    arms : (control, treated), default=None
        The labels of the control and treated arm, e.g. ``("C", "I")``.
    positive : label, default=None
        The outcome value that counts as the event (None: 1 / True).
    blocks : str, default=None
        Block (stratum) column; every block needs both arms.
    ci_method : {"newcombe", "wald"}, default=None
        None means ``"newcombe"``; with ``blocks`` only ``"wald"`` (the
        Mantel-Haenszel interval).
    alpha : float, default=0.05
    missing : {"error", "drop"}, default="error"
        ``"drop"`` drops rows with a missing outcome, treatment or block and
        reports how many in ``warnings``.

    Returns
    -------
    EffectResult
        ``estimand="risk_difference"``, ``ci_method`` ``"newcombe"`` or
        ``"wald"``; ``extra`` holds both risks and the 2 x 2 table (rows:
        treated, control; columns: event, no event).

    Raises
    ------
    DataError
        A missing column, missing values, a treatment that is not two arms,
        an empty arm, an outcome that is not binary.
    DesignError
        An unknown ``ci_method`` or an ``alpha`` outside (0, 1), raised
        before any work.

    Notes
    -----
    The Newcombe interval agrees with statsmodels'
    ``confint_proportions_2indep(method="newcomb")`` (tested). It is not the
    Miettinen-Nurminen score interval, a different method some packages
    call "score".

    References
    ----------
    Newcombe, R. G. (1998). Interval estimation for the difference between
    independent proportions: comparison of eleven methods. Statistics in
    Medicine 17, 873-890, method 10. doi:10.1002/(SICI)1097-0258(19980430)17:8<873::AID-SIM779>3.0.CO;2-I
    Sato, T. (1989). On the variance estimator for the Mantel-Haenszel risk
    difference. Biometrics 45, 1323-1324.
    Wilson, E. B. (1927). Probable inference, the law of succession, and
    statistical inference. JASA 22, 209-212. doi:10.1080/01621459.1927.10502953

    Examples
    --------
    The Copenhagen resource-course trial (VIVE 2019), Table 8.8 (complaints): 3 of 109 treated, 14 of 109 controls.

    >>> import effekt as ef
    >>> df = ef.from_counts([[95, 106], [14, 3]])   # rows: outcome 0/1; columns: arm 0/1
    >>> res = ef.estimate("risk_difference", data=df, outcome="y", treatment="z")
    >>> round(res.estimate, 3), tuple(round(v, 3) for v in res.conf_int)
    (-0.101, (-0.179, -0.03))
    """

    name: ClassVar[str] = "risk_difference"
    estimand: ClassVar[str] = "risk_difference"
    kind: ClassVar[str] = "itt"
    tags: ClassVar[EstimatorTags] = EstimatorTags(
        outcome="binary", supports_blocks=True, shift_equivariant=False, scale_equivariant=False,
        sign_flip=True,
    )
    options: ClassVar[dict[str, Constraint]] = {
        "arms": ArmLabels(),
        "ci_method": Choice(("newcombe", "wald"), none_ok=True),
        "positive": POSITIVE,
        "missing": MISSING,
    }

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
        ci_method: str | None = None,
        alpha: float = 0.05,
        missing: str = "error",
    ) -> EffectResult:
        alpha = check_alpha(alpha)
        if blocks is not None and ci_method not in (None, "wald"):
            raise DesignError(
                f"risk_difference: ci_method={ci_method!r} is for a single 2 x 2 table; with blocks= the "
                "interval is the Mantel-Haenszel Wald interval with Sato's variance. Pass "
                "ci_method='wald' or leave ci_method unset."
            )
        tab = read_table(
            data, outcome=outcome, treatment=treatment, arms=arms, positive=positive,
            missing=missing, binary=True, blocks=blocks, estimator=self.name,
        )
        if blocks is not None:
            return stratified_result(tab, measure="risk_difference", alpha=alpha, estimator=self.name)
        return risk_difference_result(tab, ci_method=ci_method or "newcombe", alpha=alpha, estimator=self.name)

    @classmethod
    def simulate(cls, rng: np.random.Generator, *, n: int, effect: float) -> Synthetic:
        """A block-randomised trial with a binary outcome; truth = the risk difference."""
        return simulate_binary(rng, n=n, effect=effect, truth="risk_difference", blocks=True)
