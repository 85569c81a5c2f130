"""Pearson's chi-squared test of association between arm and outcome."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from scipy import stats

from effekt.errors import DesignError
from effekt.estimators._strata import cmh_test, split_strata
from effekt.estimators._tables import (
    MEASURES,
    MISSING,
    POSITIVE,
    ArmLabels,
    check_table_for_test,
    expected_counts_warning,
    measure_result,
    read_table,
    simulate_binary,
    with_test,
)
from effekt.protocol import EstimatorTags, Synthetic
from effekt.result import EffectResult, check_alpha
from effekt.vocabulary import Choice, Constraint, validated

__all__ = ["ChiSquared", "pearson_chi2"]


def pearson_chi2(counts: np.ndarray, *, correction: str = "none") -> tuple[float, float, int, np.ndarray]:
    """Pearson's statistic, p-value, degrees of freedom and expected counts.

    ``X2 = sum (|O - E| - k)^2 / E`` with ``E = row total x column total / n``
    and ``k = 0.5`` with ``correction="yates"`` on a 2 x 2 table (and no
    ``|O - E|`` below 0.5), else ``k = 0``; ``df = (r - 1)(c - 1)``.
    Computed by :func:`scipy.stats.chi2_contingency`.

    >>> x2, p, df, _ = pearson_chi2(np.array([[3, 106], [14, 95]]))
    >>> round(x2, 2), df
    (7.72, 1)
    """
    res = stats.chi2_contingency(counts, correction=correction == "yates")
    return float(res.statistic), float(res.pvalue), int(res.dof), np.asarray(res.expected_freq)


class ChiSquared:
    """Pearson's chi-squared test of independence of arm and outcome.

    Estimand: the effect measure the test is about. For a 2 x 2 table
    (two arms, binary outcome) the risk difference by default, with its
    Newcombe interval (``measure="risk_ratio"`` or ``"odds_ratio"`` for a
    log-Wald ratio); for larger tables Cramér's V (no interval). The
    p-value is the chi-squared test's, not the measure's.

    Formula: ``X2 = sum_ij (O_ij - E_ij)^2 / E_ij``, ``E_ij = R_i C_j / n``,
    referred to chi-squared with ``(r - 1)(c - 1)`` degrees of freedom.
    With ``correction="yates"`` a 2 x 2 table uses Yates' continuity
    correction, ``sum (|O - E| - 0.5)^2 / E``.

    With ``blocks=`` (a block-randomised trial) the test is the
    Cochran-Mantel-Haenszel chi-squared (1 df) of no association within
    blocks, ``(|sum (a_k - E_k)| - k)^2 / sum V_k`` (``k = 0.5`` with
    ``correction="yates"``), and the estimate the Mantel-Haenszel risk
    difference (Sato variance; or ``measure="risk_ratio"`` /
    ``"odds_ratio"``); 2 x 2 tables per block only.

    Default and why: ``correction="none"``. Yates' correction makes the test
    conservative (its size is often well below alpha; Agresti 2013, ch. 3),
    and the uncorrected statistic is the one published reports usually give
    (the Copenhagen resource-course trial's chi2 = 7.7 is uncorrected). R's ``chisq.test`` and scipy
    default to the correction; pass ``correction="yates"`` to match them.

    Parameters
    ----------
    data : DataFrame
        One row per unit.
    outcome : str
        Outcome column; any number of categories.
    treatment : str
        Arm column: 0/1 (numeric, bool, or a categorical/object column
        holding 0/1), or labels declared with ``arms=`` (two or more arms).
    arms : tuple of labels, default=None
        ``(control, treated)`` for two arms; a longer tuple for an r x c
        table of more arms.
    positive : label, default=None
        For a binary outcome: the value that counts as the event (None: 1 / True).
    blocks : str, default=None
        Block (stratum) column: the Cochran-Mantel-Haenszel test.
    correction : {"none", "yates"}, default="none"
        Yates' continuity correction (2 x 2 tables only; with ``blocks``,
        the CMH continuity correction).
    measure : {"risk_difference", "risk_ratio", "odds_ratio", "cramers_v"}, default=None
        The estimate reported (None: risk difference for 2 x 2 tables,
        Cramér's V otherwise).
    alpha : float, default=0.05
    missing : {"error", "drop"}, default="error"
        ``"drop"`` drops rows with a missing value and reports how many.

    Returns
    -------
    EffectResult
        ``p_value``: the chi-squared test's; ``extra["statistic"]`` (the
        X-squared statistic), ``extra["statistic_name"]`` (``"X-squared"``,
        or ``"Mantel-Haenszel X-squared"`` with blocks), ``extra["df"]``,
        ``extra["expected"]`` and the table. The summary prints
        "X-squared = 7.72 on 1 df".

    Raises
    ------
    DataError
        Bad columns or values; an arm with no units.
    DesignError
        ``correction="yates"`` on a table larger than 2 x 2; a measure that
        needs a 2 x 2 table; an option of the wrong type or value (before
        any work).
    EstimationError
        The outcome takes one value only.

    Notes
    -----
    Warns (in ``warnings``) when an expected count is below 5.

    References
    ----------
    Pearson, K. (1900). Philosophical Magazine 50, 157-175.
    doi:10.1080/14786440009463897
    Yates, F. (1934). Contingency tables involving small numbers and the
    chi2 test. Suppl. J. R. Stat. Soc. 1, 217-235. doi:10.2307/2983604
    Agresti, A. (2013). Categorical Data Analysis, 3rd ed., Wiley, ch. 3 and 6.
    Mantel, N. & Haenszel, W. (1959). Statistical aspects of the analysis of
    data from retrospective studies of disease. JNCI 22, 719-748.

    Examples
    --------
    The Copenhagen resource-course trial (VIVE 2019), Table 8.8 (complaints): 3 of 109 treated, 14 of 109 controls.

    >>> import effekt as ef
    >>> df = ef.from_counts([[95, 106], [14, 3]])
    >>> res = ef.estimate("chi2", data=df, outcome="y", treatment="z")
    >>> round(res.extra["statistic"], 3), round(res.p_value, 4), round(res.estimate, 3)
    (7.72, 0.0055, -0.101)
    >>> print(res.summary().splitlines()[5])
      p-value    0.0055   X-squared = 7.72 on 1 df
    """

    name: ClassVar[str] = "chi2"
    estimand: ClassVar[str] = "risk_difference"
    kind: ClassVar[str] = "test"
    tags: ClassVar[EstimatorTags] = EstimatorTags(
        outcome="binary", supports_blocks=True, shift_equivariant=False, scale_equivariant=False,
        sign_flip=True,
    )
    options: ClassVar[dict[str, Constraint]] = {
        "arms": ArmLabels(),
        "correction": Choice(("none", "yates")),
        "measure": MEASURES,
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
        correction: str = "none",
        measure: str | None = None,
        alpha: float = 0.05,
        missing: str = "error",
    ) -> EffectResult:
        alpha = check_alpha(alpha)
        tab = read_table(
            data, outcome=outcome, treatment=treatment, arms=arms, positive=positive,
            missing=missing, multi_arm=True, blocks=blocks, estimator=self.name,
        )
        check_table_for_test(tab, self.name)
        if tab.strata is not None:
            return self._stratified(tab, correction=correction, measure=measure, alpha=alpha)
        if correction == "yates" and tab.counts.shape != (2, 2):
            raise DesignError(
                f"chi2: correction='yates' applies to 2 x 2 tables only; this table is "
                f"{tab.counts.shape[0]} x {tab.counts.shape[1]} (arms x outcome categories). "
                "Pass correction='none'."
            )
        effect = measure_result(tab, measure=measure, alpha=alpha, estimator=self.name)
        statistic, p, dof, expected = pearson_chi2(tab.counts, correction=correction)
        return with_test(
            effect,
            p_value=p,
            statistic=statistic,
            statistic_name="X-squared",
            df=dof,
            test="pearson chi2" + (" (yates)" if correction == "yates" else ""),
            warnings=expected_counts_warning(expected),
            expected=expected.tolist(),
            correction=correction,
        )

    def _stratified(self, tab: Any, *, correction: str, measure: str | None, alpha: float) -> EffectResult:
        if tab.counts.shape != (2, 2):
            raise DesignError(
                f"chi2: with blocks= the test is Cochran-Mantel-Haenszel, which needs a binary "
                f"outcome; this table is {tab.counts.shape[0]} x {tab.counts.shape[1]} (arms x categories of "
                f"outcome column {tab.names.get('outcome')!r}). Collapse the outcome to two categories, or test "
                "without blocks."
            )
        effect = measure_result(tab, measure=measure, alpha=alpha, estimator=self.name)
        statistic, p = cmh_test(*split_strata(tab.strata), correction=correction == "yates")
        return with_test(
            effect,
            p_value=p,
            statistic=statistic,
            statistic_name="Mantel-Haenszel X-squared",
            df=1,
            test="cochran-mantel-haenszel" + (" (continuity corrected)" if correction == "yates" else ""),
            correction=correction,
        )

    @classmethod
    def simulate(cls, rng: np.random.Generator, *, n: int, effect: float) -> Synthetic:
        """A two-arm trial with a binary outcome; truth = the risk difference."""
        return simulate_binary(rng, n=n, effect=effect, truth="risk_difference", blocks=True)
