"""Odds ratio between two arms: sample odds ratio with Woolf's interval, or
the conditional MLE with its exact interval."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from effekt.errors import DesignError
from effekt.estimators._tables import (
    MISSING,
    POSITIVE,
    ArmLabels,
    conditional_odds_ratio_result,
    ratio_result,
    read_table,
    simulate_binary,
    stratified_result,
)
from effekt.protocol import EstimatorTags, Synthetic
from effekt.result import EffectResult, check_alpha
from effekt.vocabulary import Choice, Constraint, validated

__all__ = ["OddsRatio"]


class OddsRatio:
    """Odds ratio of a binary outcome, treated over control.

    Estimand: ``[p1 / (1 - p1)] / [p0 / (1 - p0)]`` with ``p1``, ``p0`` the
    risks of the event in the treated and control arm.

    Formula and intervals:

    * ``ci_method="woolf"`` (default): the sample odds ratio ``ad / (bc)`` with the
      log-Wald interval ``exp(log OR +/- z SE)``,
      ``SE = sqrt(1/a + 1/b + 1/c + 1/d)`` (Woolf 1955); p-value: Wald test
      of ``log OR = 0``.
    * ``ci_method="exact"``: the conditional maximum-likelihood odds ratio (the MLE
      given all margins, from the non-central hypergeometric distribution)
      with Cornfield's (1956) exact interval, as R's ``fisher.test``; the
      p-value is Fisher's exact test. Computed by
      :func:`scipy.stats.contingency.odds_ratio`.

    With ``blocks=``: the Mantel-Haenszel odds ratio ``sum(a_k d_k / N_k) /
    sum(b_k c_k / N_k)`` with the Robins-Breslow-Greenland (1986) variance of
    its log (as statsmodels' ``StratifiedTable``); ``design="blocked"``.

    Default and why: Woolf's interval is the standard large-sample one and
    agrees with statsmodels' ``Table2x2``; use ``ci_method="exact"`` for small
    arms or rare events, where it stays valid and handles zero cells.

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
    ci_method : {"woolf", "exact"}, default="woolf"
        Woolf's log-Wald interval, or the conditional MLE with Cornfield's
        exact interval (single 2 x 2 table only).
    zero_cell : {"error", "haldane"}, default="error"
        For ``ci_method="woolf"``: raise on a zero cell, or add 0.5 to every cell.
    alpha : float, default=0.05
    missing : {"error", "drop"}, default="error"
        ``"drop"`` drops rows with a missing value and reports how many.

    Returns
    -------
    EffectResult
        ``estimand="odds_ratio"``; ``ci_method="wald-log"`` (``std_error``
        on the log scale) or ``"exact"`` (``std_error`` is NaN: the exact
        interval has none).

    Raises
    ------
    DataError
        Bad columns or values, an outcome that is not binary.
    EstimationError
        A zero cell with ``ci_method="woolf"`` and ``zero_cell="error"``.

    References
    ----------
    Woolf, B. (1955). On estimating the relation between blood group and
    disease. Annals of Human Genetics 19, 251-253.
    doi:10.1111/j.1469-1809.1955.tb01348.x
    Robins, J., Breslow, N. & Greenland, S. (1986). Estimators of the
    Mantel-Haenszel variance consistent in both sparse data and large-strata
    limiting models. Biometrics 42, 311-323. doi:10.2307/2531052
    Cornfield, J. (1956). A statistical problem arising from retrospective
    studies. Proc. Third Berkeley Symposium 4, 135-148.

    Examples
    --------
    The Copenhagen resource-course trial (VIVE 2019), Table 8.8 (complaints): 3 of 109 treated, 14 of 109 controls.

    >>> import effekt as ef
    >>> df = ef.from_counts([[95, 106], [14, 3]])
    >>> res = ef.estimate("odds_ratio", data=df, outcome="y", treatment="z")
    >>> round(res.estimate, 3), tuple(round(v, 3) for v in res.conf_int)
    (0.192, (0.054, 0.689))
    """

    name: ClassVar[str] = "odds_ratio"
    estimand: ClassVar[str] = "odds_ratio"
    kind: ClassVar[str] = "itt"
    tags: ClassVar[EstimatorTags] = EstimatorTags(
        outcome="binary", supports_blocks=True, shift_equivariant=False, scale_equivariant=False,
        sign_flip=False,
    )
    options: ClassVar[dict[str, Constraint]] = {
        "arms": ArmLabels(),
        "ci_method": Choice(("woolf", "exact")),
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
        ci_method: str = "woolf",
        zero_cell: str = "error",
        alpha: float = 0.05,
        missing: str = "error",
    ) -> EffectResult:
        alpha = check_alpha(alpha)
        if blocks is not None and ci_method == "exact":
            raise DesignError(
                "odds_ratio: ci_method='exact' is for a single 2 x 2 table; with blocks= the interval "
                "is the Mantel-Haenszel one (Robins-Breslow-Greenland variance). Pass "
                "ci_method='woolf' or leave ci_method unset."
            )
        tab = read_table(
            data, outcome=outcome, treatment=treatment, arms=arms, positive=positive,
            missing=missing, binary=True, blocks=blocks, estimator=self.name,
        )
        if blocks is not None:
            return stratified_result(tab, measure="odds_ratio", alpha=alpha, estimator=self.name)
        if ci_method == "exact":
            return conditional_odds_ratio_result(tab, alpha=alpha, estimator=self.name)
        return ratio_result(tab, measure="odds_ratio", alpha=alpha, estimator=self.name, zero_cell=zero_cell)

    @classmethod
    def simulate(cls, rng: np.random.Generator, *, n: int, effect: float) -> Synthetic:
        """A two-arm trial with a binary outcome; truth = the odds ratio."""
        return simulate_binary(rng, n=n, effect=effect, truth="odds_ratio", blocks=True)
