"""Fisher's exact test of association between arm and outcome (2 x 2 and r x c)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from scipy import special, stats

from effekt.data import check_seed
from effekt.errors import DesignError
from effekt.estimators._fisher_network import fisher_rxc_pvalue, table_log_probability
from effekt.estimators._tables import (
    ALTERNATIVE,
    MEASURES,
    MISSING,
    POSITIVE,
    SIMS,
    ArmLabels,
    check_table_for_test,
    conditional_odds_ratio_result,
    measure_result,
    read_table,
    simulate_binary,
    with_test,
)
from effekt.protocol import EstimatorTags, Synthetic
from effekt.result import EffectResult, check_alpha, monte_carlo_p_value
from effekt.vocabulary import Choice, Constraint, validated

__all__ = ["FisherExact", "fisher_pvalue", "monte_carlo_fisher"]


def monte_carlo_fisher(
    counts: np.ndarray,
    *,
    sims: int,
    rng: np.random.Generator,
    alternative: str = "two-sided",
) -> tuple[float, int]:
    """Monte Carlo p-value of Fisher's test and the number of extreme tables.

    ``sims`` random tables with the observed margins are drawn
    (:func:`scipy.stats.random_table`, Patefield's algorithm). A table is
    as extreme as the observed one when its probability under independence
    is no larger (relative tolerance 1e-7, as the exact test); for a one-
    sided alternative on a 2 x 2 table, when its treated-event count
    ``a`` is at least (``"greater"``) or at most (``"less"``) the observed.
    The p-value is ``(1 + extreme) / (1 + sims)``
    (:func:`effekt.result.monte_carlo_p_value`), never 0.
    """
    x = np.asarray(counts, dtype=np.int64)
    tables = stats.random_table(x.sum(axis=1), x.sum(axis=0), seed=rng).rvs(size=sims)
    if alternative == "greater":
        extreme = int(np.sum(tables[:, 0, 0] >= x[0, 0]))
    elif alternative == "less":
        extreme = int(np.sum(tables[:, 0, 0] <= x[0, 0]))
    else:
        const = float(
            special.gammaln(x.sum(axis=1) + 1).sum() + special.gammaln(x.sum(axis=0) + 1).sum()
            - special.gammaln(x.sum() + 1)
        )
        logp = const - special.gammaln(tables + 1.0).sum(axis=(1, 2))
        observed = table_log_probability(x)
        extreme = int(np.sum(logp <= observed + math.log1p(1e-7)))
    return monte_carlo_p_value(extreme, sims), extreme


def fisher_pvalue(
    counts: np.ndarray,
    *,
    alternative: str = "two-sided",
    method: str = "exact",
    sims: int = 9999,
    rng: np.random.Generator | None = None,
) -> float:
    """p-value of Fisher's test on a table of counts.

    2 x 2: :func:`scipy.stats.fisher_exact` (hypergeometric; two-sided by
    minimum likelihood). Larger tables: the exact network algorithm of
    :mod:`effekt.estimators._fisher_network`, or with
    ``method="monte-carlo"`` the Monte Carlo estimate of
    :func:`monte_carlo_fisher` from ``sims`` random tables with the
    observed margins, which is at least ``1 / (sims + 1)``.
    """
    x = np.asarray(counts, dtype=np.int64)
    if method == "monte-carlo":
        return monte_carlo_fisher(x, sims=sims, rng=rng if rng is not None else np.random.default_rng(),
                                  alternative=alternative)[0]
    if x.shape == (2, 2):
        return float(stats.fisher_exact(x, alternative=alternative).pvalue)  # type: ignore[arg-type]
    return fisher_rxc_pvalue(x)


class FisherExact:
    """Fisher's exact test of independence of arm and outcome.

    Estimand: the effect measure the test is about: for a 2 x 2 table the
    risk difference by default (Newcombe interval); with
    ``measure="odds_ratio"`` the conditional maximum-likelihood odds ratio
    with its exact (Cornfield) interval, the pairing of R's
    ``fisher.test``; for larger tables Cramér's V (no interval).

    Formula: under independence with all margins fixed, a table has
    probability ``prod R_i! prod C_j! / (n! prod x_ij!)``; the two-sided
    p-value is the total probability of the tables no more probable than
    the observed one (relative tolerance 1e-7, as in R). For 2 x 2 tables
    ``alternative="less"`` / ``"greater"`` give the one-sided hypergeometric
    tail for the odds ratio (treated over control) below / above 1.

    Default and why: ``method="exact"``. For r x c tables scipy 1.17's
    ``fisher_exact`` returns a Monte Carlo estimate, which changes with the
    random state and is not the exact value published tables and R's
    ``fisher.test`` report; effekt computes the exact value by a network
    algorithm (Mehta & Patel 1983) and keeps Monte Carlo
    (``method="monte-carlo"``, with ``sims`` and ``seed``) for tables too
    large for it. A Monte Carlo p-value is ``(1 + extreme) / (1 + sims)``,
    never 0; the summary prints it at its floor as "<= 1e-04" for
    ``sims=9999``.

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
    alternative : {"two-sided", "greater", "less"}, default="two-sided"
        One-sided alternatives for 2 x 2 tables only: the odds ratio
        (treated over control) above / below 1.
    measure : {"risk_difference", "risk_ratio", "odds_ratio", "cramers_v"}, default=None
        The estimate reported (None: risk difference for 2 x 2 tables,
        Cramér's V otherwise).
    blocks : str, default=None
        Not supported (raises DesignError naming the stratified alternatives).
    method : {"exact", "monte-carlo"}, default="exact"
    sims : int, default=9999
        Random tables for ``method="monte-carlo"``; reported in
        ``extra["sims"]`` (Monte Carlo only).
    seed : int or numpy Generator, default=None
        For ``method="monte-carlo"``.
    alpha : float, default=0.05
    missing : {"error", "drop"}, default="error"
        ``"drop"`` drops rows with a missing value and reports how many.

    Returns
    -------
    EffectResult
        ``p_value``: Fisher's. For a 2 x 2 table ``extra["statistic"]`` is
        the conditional maximum-likelihood odds ratio (treated over control,
        R ``fisher.test``'s estimate; ``extra["statistic_name"]`` says so);
        for larger tables it is None (the test has no one-number statistic).
        ``extra["df"]`` is None. With ``method="monte-carlo"``:
        ``extra["sims"]`` and ``extra["extreme"]`` (random tables at least
        as extreme as the observed one).

    Raises
    ------
    DataError
        Bad columns or values; an arm with no units.
    DesignError
        A one-sided alternative on an r x c table.
    EstimationError
        The outcome takes one value only; an r x c table too large for the
        exact algorithm (use ``method="monte-carlo"``).

    References
    ----------
    Fisher, R. A. (1935). The logic of inductive inference. J. R. Stat. Soc.
    98, 39-82. doi:10.2307/2342435
    Mehta, C. R. & Patel, N. R. (1983). JASA 78, 427-434.
    doi:10.1080/01621459.1983.10477989

    Examples
    --------
    The Copenhagen resource-course trial (VIVE 2019), Table 8.8 (complaints): 3 of 109 treated, 14 of 109 controls.

    >>> import effekt as ef
    >>> df = ef.from_counts([[95, 106], [14, 3]])
    >>> res = ef.estimate("fisher", data=df, outcome="y", treatment="z")
    >>> round(res.p_value, 4), round(res.estimate, 3), round(res.extra["statistic"], 3)
    (0.0096, -0.101, 0.193)
    """

    name: ClassVar[str] = "fisher"
    estimand: ClassVar[str] = "risk_difference"
    kind: ClassVar[str] = "test"
    tags: ClassVar[EstimatorTags] = EstimatorTags(
        outcome="binary", shift_equivariant=False, scale_equivariant=False, sign_flip=True
    )
    options: ClassVar[dict[str, Constraint]] = {
        "arms": ArmLabels(),
        "alternative": ALTERNATIVE,
        "measure": MEASURES,
        "method": Choice(("exact", "monte-carlo")),
        "sims": SIMS,
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
        alternative: str = "two-sided",
        measure: str | None = None,
        blocks: str | None = None,
        method: str = "exact",
        sims: int = 9999,
        seed: Any = None,
        alpha: float = 0.05,
        missing: str = "error",
    ) -> EffectResult:
        if blocks is not None:
            raise DesignError(
                f"fisher: blocks={blocks!r} is not supported: the exact test has no stratified version here. For a block-randomised trial "
                "use chi2 with blocks= (the Cochran-Mantel-Haenszel test) or risk_difference with "
                "blocks= (Mantel-Haenszel)."
            )
        alpha = check_alpha(alpha)
        rng = check_seed(seed) if method == "monte-carlo" else None
        tab = read_table(
            data, outcome=outcome, treatment=treatment, arms=arms, positive=positive,
            missing=missing, multi_arm=True, estimator=self.name,
        )
        check_table_for_test(tab, self.name)
        if alternative != "two-sided" and tab.counts.shape != (2, 2):
            raise DesignError(
                f"fisher: alternative={alternative!r} needs a 2 x 2 table; this table is "
                f"{tab.counts.shape[0]} x {tab.counts.shape[1]} (arms x outcome categories), "
                "whose test has no direction. Use alternative='two-sided'."
            )
        if measure == "odds_ratio" and tab.is_2x2 and tab.event is not None:
            effect = conditional_odds_ratio_result(tab, alpha=alpha, estimator=self.name)
        else:
            effect = measure_result(tab, measure=measure, alpha=alpha, estimator=self.name)
        counts = tab.counts
        if tab.is_2x2 and tab.event == 1:
            counts = counts[:, ::-1]  # columns (event, no event), so the odds ratio is treated / control
        mc: dict[str, Any] = {}
        if method == "monte-carlo":
            assert rng is not None
            p, extreme = monte_carlo_fisher(counts, sims=sims, rng=rng, alternative=alternative)
            mc = {"sims": sims, "extreme": extreme}
        else:
            p = fisher_pvalue(counts, alternative=alternative)
        statistic = None
        if tab.is_2x2 and tab.event is not None:
            statistic = float(stats.contingency.odds_ratio(np.asarray(counts), kind="conditional").statistic)
        return with_test(
            effect,
            p_value=p,
            statistic=statistic,
            statistic_name="conditional MLE odds ratio",
            df=None,
            test="fisher exact" + ("" if method == "exact" else " (monte carlo)"),
            alternative=alternative,
            method=method,
            **mc,
        )

    @classmethod
    def simulate(cls, rng: np.random.Generator, *, n: int, effect: float) -> Synthetic:
        """A two-arm trial with a binary outcome; truth = the risk difference."""
        return simulate_binary(rng, n=n, effect=effect, truth="risk_difference")
