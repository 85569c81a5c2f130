"""Likelihood-ratio (G) test of association between arm and outcome."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from scipy import stats

from effekt.errors import DesignError
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

__all__ = ["GTest", "likelihood_ratio_g"]


def likelihood_ratio_g(counts: np.ndarray, *, correction: str = "none") -> tuple[float, float, int, np.ndarray]:
    """G statistic, p-value, degrees of freedom and expected counts.

    ``G = 2 sum O log(O / E)`` (cells with ``O = 0`` add 0), by
    :func:`scipy.stats.chi2_contingency` with ``lambda_="log-likelihood"``.
    ``correction="williams"`` divides G by Williams' (1976)
    ``q = 1 + (n sum 1/R_i - 1)(n sum 1/C_j - 1) / (6 n (r - 1)(c - 1))``.
    """
    res = stats.chi2_contingency(counts, correction=False, lambda_="log-likelihood")
    g = float(res.statistic)
    dof = int(res.dof)
    if correction == "williams":
        x = np.asarray(counts, dtype=float)
        n = x.sum()
        r, c = x.shape
        q = 1.0 + (n * (1.0 / x.sum(axis=1)).sum() - 1.0) * (n * (1.0 / x.sum(axis=0)).sum() - 1.0) / (
            6.0 * n * (r - 1) * (c - 1)
        )
        g = g / q
    return g, float(stats.chi2.sf(g, dof)), dof, np.asarray(res.expected_freq)


class GTest:
    """Likelihood-ratio chi-squared (G) test of independence of arm and outcome.

    Estimand: as for ``chi2``: the risk difference of a 2 x 2 table by
    default (Newcombe interval), Cramér's V for larger tables; ``measure=``
    chooses another.

    Formula: ``G = 2 sum_ij O_ij log(O_ij / E_ij)``, ``E_ij = R_i C_j / n``,
    referred to chi-squared with ``(r - 1)(c - 1)`` degrees of freedom: the
    likelihood-ratio test of the independence model against the saturated
    one.

    Default and why: ``correction="none"``, the plain likelihood-ratio
    statistic of Agresti (2013, ch. 3), equal to scipy's
    ``chi2_contingency(lambda_="log-likelihood")`` (tested); ``"williams"``
    brings its size closer to nominal in small samples.

    Parameters
    ----------
    data : DataFrame
        One row per unit.
    outcome : str
        Outcome column; any number of categories.
    treatment : str
        Arm column: 0/1 (numeric, bool, or a categorical/object column
        holding 0/1), or labels declared with ``arms=``.
    arms : tuple of labels, default=None
        Two (control, treated), or more for an r x c table.
    positive : label, default=None
        For a binary outcome: the value that counts as the event (None: 1 / True).
    correction : {"none", "williams"}, default="none"
        Williams' (1976) correction divides G by ``q``.
    measure : {"risk_difference", "risk_ratio", "odds_ratio", "cramers_v"}, default=None
        The estimate reported (None: risk difference for 2 x 2 tables,
        Cramér's V otherwise).
    blocks : str, default=None
        Not supported (raises DesignError naming the stratified alternatives).
    alpha : float, default=0.05
    missing : {"error", "drop"}, default="error"
        ``"drop"`` drops rows with a missing value and reports how many.

    Returns
    -------
    EffectResult
        ``p_value``: the G test's; ``extra["statistic"]`` (G),
        ``extra["statistic_name"]`` (``"G"``), ``extra["df"]``; the summary
        prints "G = 8.325 on 1 df".

    Raises
    ------
    DataError
        Bad columns or values; an arm with no units.
    EstimationError
        The outcome takes one value only.

    References
    ----------
    Agresti, A. (2013). Categorical Data Analysis, 3rd ed., Wiley, ch. 3.
    Williams, D. A. (1976). Improved likelihood ratio tests for complete
    contingency tables. Biometrika 63, 33-37. doi:10.1093/biomet/63.1.33

    Examples
    --------
    The Copenhagen resource-course trial (VIVE 2019), Table 8.8 (complaints): 3 of 109 treated, 14 of 109 controls.

    >>> import effekt as ef
    >>> df = ef.from_counts([[95, 106], [14, 3]])
    >>> res = ef.estimate("g_test", data=df, outcome="y", treatment="z")
    >>> round(res.extra["statistic"], 3), round(res.p_value, 4)
    (8.325, 0.0039)
    >>> print(res.summary().splitlines()[5])
      p-value    0.0039   G = 8.325 on 1 df
    """

    name: ClassVar[str] = "g_test"
    estimand: ClassVar[str] = "risk_difference"
    kind: ClassVar[str] = "test"
    tags: ClassVar[EstimatorTags] = EstimatorTags(
        outcome="binary", shift_equivariant=False, scale_equivariant=False, sign_flip=True
    )
    options: ClassVar[dict[str, Constraint]] = {
        "arms": ArmLabels(),
        "correction": Choice(("none", "williams")),
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
        correction: str = "none",
        measure: str | None = None,
        blocks: str | None = None,
        alpha: float = 0.05,
        missing: str = "error",
    ) -> EffectResult:
        if blocks is not None:
            raise DesignError(
                f"g_test: blocks={blocks!r} is not supported: the G test has no stratified version here. For a block-randomised trial "
                "use chi2 with blocks= (the Cochran-Mantel-Haenszel test) or risk_difference with "
                "blocks= (Mantel-Haenszel)."
            )
        alpha = check_alpha(alpha)
        tab = read_table(
            data, outcome=outcome, treatment=treatment, arms=arms, positive=positive,
            missing=missing, multi_arm=True, estimator=self.name,
        )
        check_table_for_test(tab, self.name)
        effect = measure_result(tab, measure=measure, alpha=alpha, estimator=self.name)
        g, p, dof, expected = likelihood_ratio_g(tab.counts, correction=correction)
        return with_test(
            effect,
            p_value=p,
            statistic=g,
            statistic_name="G",
            df=dof,
            test="likelihood-ratio G" + (" (williams)" if correction == "williams" else ""),
            warnings=expected_counts_warning(expected),
            expected=expected.tolist(),
            correction=correction,
        )

    @classmethod
    def simulate(cls, rng: np.random.Generator, *, n: int, effect: float) -> Synthetic:
        """A two-arm trial with a binary outcome; truth = the risk difference."""
        return simulate_binary(rng, n=n, effect=effect, truth="risk_difference")
