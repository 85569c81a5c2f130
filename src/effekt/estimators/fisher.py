"""Fisher's exact test of association between arm and outcome (2 x 2 and r x c)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from scipy import stats

from effekt.data import check_option, check_positive_int, check_seed
from effekt.errors import DesignError
from effekt.estimators._fisher_network import fisher_rxc_pvalue, table_log_probability
from effekt.estimators._tables import (
    check_table_for_test,
    conditional_odds_ratio_result,
    measure_result,
    read_table,
    simulate_binary,
    with_test,
)
from effekt.protocol import EstimatorTags, Synthetic
from effekt.result import EffectResult, check_alpha

__all__ = ["FisherExact", "fisher_pvalue"]


def fisher_pvalue(
    counts: np.ndarray,
    *,
    alternative: str = "two-sided",
    method: str = "exact",
    n_resamples: int = 9999,
    rng: np.random.Generator | None = None,
) -> float:
    """p-value of Fisher's test on a table of counts.

    2 x 2: :func:`scipy.stats.fisher_exact` (hypergeometric; two-sided by
    minimum likelihood). Larger tables: the exact network algorithm of
    :mod:`effekt.estimators._fisher_network`, or with
    ``method="monte-carlo"`` scipy's Monte Carlo estimate from
    ``n_resamples`` random tables with the observed margins.
    """
    x = np.asarray(counts, dtype=np.int64)
    if x.shape == (2, 2) and method == "exact":
        return float(stats.fisher_exact(x, alternative=alternative).pvalue)  # type: ignore[arg-type]
    if method == "monte-carlo":
        mc = stats.MonteCarloMethod(n_resamples=n_resamples, rng=rng)
        return float(stats.fisher_exact(x, method=mc).pvalue)
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
    (``method="monte-carlo"``, with ``seed``) for tables too large for it.

    Parameters
    ----------
    data : DataFrame
    outcome, treatment : str
    arms : sequence of labels, optional
        Two (control, treated), or more for an r x c table.
    event : label, optional
    alternative : {"two-sided", "less", "greater"}, default "two-sided"
        One-sided alternatives for 2 x 2 tables only.
    measure : {"risk_difference", "risk_ratio", "odds_ratio", "cramers_v"}, optional
    blocks : str, optional
        Not supported (raises DesignError naming the stratified alternatives).
    method : {"exact", "monte-carlo"}, default "exact"
    sims : int, default 9999
        Random tables for ``method="monte-carlo"``.
    seed : int or numpy Generator, optional
        For ``method="monte-carlo"``.
    alpha : float, default 0.05
    missing : {"error", "drop"}, default "error"

    Returns
    -------
    EffectResult
        ``p_value``: Fisher's; ``extra["statistic"]`` is the probability of
        the observed table under independence, ``extra["df"]`` is None.

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
    >>> round(res.p_value, 4), round(res.estimate, 3)
    (0.0096, -0.101)
    """

    name: ClassVar[str] = "fisher"
    estimand: ClassVar[str] = "risk_difference"
    kind: ClassVar[str] = "test"
    tags: ClassVar[EstimatorTags] = EstimatorTags(
        outcome="binary", shift_equivariant=False, scale_equivariant=False, sign_flip=True
    )

    def fit(
        self,
        data: Any,
        *,
        outcome: str,
        treatment: str,
        arms: Sequence[Any] | None = None,
        event: Any = None,
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
        tab = read_table(
            data, outcome=outcome, treatment=treatment, arms=arms, event=event,
            missing=missing, multi_arm=True, estimator=self.name,
        )
        check_option(alternative, "alternative", ("two-sided", "less", "greater"))
        check_option(method, "method", ("exact", "monte-carlo"))
        alpha = check_alpha(alpha)
        check_table_for_test(tab, self.name)
        if alternative != "two-sided" and tab.counts.shape != (2, 2):
            raise DesignError(
                f"fisher: alternative={alternative!r} needs a 2 x 2 table; this table is "
                f"{tab.counts.shape[0]} x {tab.counts.shape[1]} (arms x outcome categories), "
                "whose test has no direction. Use alternative='two-sided'."
            )
        rng, n_resamples = None, sims
        if method == "monte-carlo":
            n_resamples = check_positive_int(sims, "sims")
            rng = check_seed(seed)
        if measure == "odds_ratio" and tab.is_2x2 and tab.event is not None:
            effect = conditional_odds_ratio_result(tab, alpha=alpha, estimator=self.name)
        else:
            effect = measure_result(tab, measure=measure, alpha=alpha, estimator=self.name)
        counts = tab.counts
        if tab.is_2x2 and tab.event == 1:
            counts = counts[:, ::-1]  # columns (event, no event), so the odds ratio is treated / control
        p = fisher_pvalue(counts, alternative=alternative, method=method, n_resamples=n_resamples, rng=rng)
        return with_test(
            effect,
            p_value=p,
            statistic=float(np.exp(table_log_probability(counts))),
            df=None,
            test="fisher exact" + ("" if method == "exact" else " (monte carlo)"),
            alternative=alternative,
            method=method,
            n_resamples=n_resamples if method == "monte-carlo" else None,
        )

    @classmethod
    def simulate(cls, rng: np.random.Generator, *, n: int, effect: float) -> Synthetic:
        """A two-arm trial with a binary outcome; truth = the risk difference."""
        return simulate_binary(rng, n=n, effect=effect, truth="risk_difference")
