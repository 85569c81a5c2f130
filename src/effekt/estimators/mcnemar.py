"""McNemar's test for paired binary outcomes, with the paired risk difference."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from effekt.data import as_frame, check_columns, describe_rows, group_codes
from effekt.errors import DataError, DesignError
from effekt.estimators._tables import (
    MISSING,
    POSITIVE,
    _label,
    _outcome_values,
    drop_missing_treatment,
    prepare_treatment,
    wilson_interval,
)
from effekt.protocol import EstimatorTags, Synthetic
from effekt.result import EffectResult, check_alpha
from effekt.vocabulary import Choice, Constraint, validated

__all__ = ["McNemar", "mcnemar_test", "paired_newcombe_interval"]


def mcnemar_test(b: int, c: int, *, method: str = "exact", correction: str = "none") -> tuple[float, float]:
    """Statistic and two-sided p-value of McNemar's test on discordant counts.

    ``method="exact"``: the statistic is ``min(b, c)`` and
    ``p = min(1, 2 P(Binom(b + c, 1/2) <= min(b, c)))``.
    ``method="asymptotic"``: ``X2 = (|b - c| - k)^2 / (b + c)`` with
    ``k = 1`` with ``correction="edwards"`` (Edwards' continuity
    correction) or 0 with ``"none"``, on chi-squared(1).
    With no discordant pair the p-value is 1 (and the statistic 0).

    >>> s, p = mcnemar_test(35, 21, method="asymptotic")
    >>> round(s, 2), round(p, 4)
    (3.5, 0.0614)
    """
    n_disc = b + c
    if method == "exact":
        if n_disc == 0:
            return 0.0, 1.0
        return float(min(b, c)), float(min(1.0, 2.0 * stats.binom.cdf(min(b, c), n_disc, 0.5)))
    if n_disc == 0:
        return 0.0, 1.0
    k = 1.0 if correction == "edwards" else 0.0
    statistic = max(abs(b - c) - k, 0.0) ** 2 / n_disc
    return float(statistic), float(stats.chi2.sf(statistic, 1))


def paired_newcombe_interval(n11: int, b: int, c: int, n00: int, alpha: float = 0.05) -> tuple[float, float]:
    """Newcombe's (1998b) square-and-add interval for a paired difference.

    With ``p1 = (n11 + b) / n``, ``p0 = (n11 + c) / n`` and their Wilson
    limits ``(l1, u1)``, ``(l0, u0)``:
    ``low = d - sqrt((p1 - l1)^2 + (u0 - p0)^2 - 2 phi (p1 - l1)(u0 - p0))``,
    ``high = d + sqrt((p0 - l0)^2 + (u1 - p1)^2 - 2 phi (p0 - l0)(u1 - p1))``,
    where ``phi`` is the correlation of the two margins with Newcombe's
    continuity correction: ``A = n11 n00 - b c``; ``phi = (A - n/2) / sqrt(R)``
    if ``A > n/2``, 0 if ``0 <= A <= n/2``, ``A / sqrt(R)`` if ``A < 0``,
    ``R`` the product of the four margins (``phi = 0`` if one is 0).
    Method 10 of Newcombe (1998b).

    >>> tuple(round(v, 4) for v in paired_newcombe_interval(59, 6, 16, 80))
    (-0.1186, -0.0046)
    """
    n = n11 + b + c + n00
    p1, p0 = (n11 + b) / n, (n11 + c) / n
    l1, u1 = wilson_interval(n11 + b, n, alpha)
    l0, u0 = wilson_interval(n11 + c, n, alpha)
    margins = (n11 + b) * (c + n00) * (n11 + c) * (b + n00)
    a = n11 * n00 - b * c
    if margins == 0 or 0 <= a <= n / 2:
        phi = 0.0
    elif a > n / 2:
        phi = (a - n / 2) / math.sqrt(margins)
    else:
        phi = a / math.sqrt(margins)
    d = p1 - p0
    low = d - math.sqrt(max((p1 - l1) ** 2 + (u0 - p0) ** 2 - 2 * phi * (p1 - l1) * (u0 - p0), 0.0))
    high = d + math.sqrt(max((p0 - l0) ** 2 + (u1 - p1) ** 2 - 2 * phi * (p0 - l0) * (u1 - p1), 0.0))
    return low, high


def _binary(values: np.ndarray, outcome: Any, positive: Any, index: pd.Index) -> np.ndarray:
    uniq = pd.unique(pd.Series(values))
    if positive is not None:
        if not any(u == positive for u in uniq):
            shown = ", ".join(repr(_label(u)) for u in uniq[:6])
            raise DataError(
                f"positive={positive!r} does not occur in outcome column {outcome!r}, which holds "
                f"{shown}. Name one of those values as the event."
            )
        if len(uniq) > 2:
            shown = ", ".join(repr(_label(u)) for u in uniq[:6])
            raise DataError(
                f"mcnemar needs a binary outcome; column {outcome!r} holds {len(uniq)} values "
                f"({shown}). Recode it to two categories."
            )
        return (values == positive).astype(np.int64)
    labels = {_label(u) for u in uniq}
    if not labels <= {0, 1}:  # True == 1, False == 0
        shown = ", ".join(repr(_label(u)) for u in uniq[:6])
        raise DataError(
            f"mcnemar: outcome column {outcome!r} holds {shown}, not 0/1. Say which value counts "
            "as the event with positive=, or recode to 0/1."
        )
    return values.astype(np.int64)


class McNemar:
    """McNemar's test of a paired binary outcome, and the paired risk difference.

    Estimand: ``P(Y = 1 | treatment = 1) - P(Y = 1 | treatment = 0)`` in
    paired data: the same unit measured twice (before / after), or matched
    pairs, one row per unit and occasion.

    Formula: with ``b`` pairs that have the event only when
    ``treatment = 1`` and ``c`` pairs only when ``treatment = 0``, among
    ``n`` pairs (``n_units`` of the result; ``n`` there counts rows, two per
    pair), the estimate is ``(b - c) / n``. Its interval is
    Newcombe's (1998b) square-and-add interval from the Wilson limits of the
    two margins and their correlation (``ci_method="newcombe"``, default;
    see :func:`paired_newcombe_interval`), or the Wald interval
    ``+/- z sqrt(b + c - (b - c)^2 / n) / n`` (``ci_method="wald"``; Agresti 2013,
    ch. 11). ``std_error`` is the Wald standard error. The test uses the
    discordant pairs only:

    * ``method="exact"`` (default): ``2 P(Binom(b + c, 1/2) <= min(b, c))``,
      capped at 1;
    * ``method="asymptotic"``: ``(|b - c| - k)^2 / (b + c)`` on
      chi-squared(1), ``k = 1`` with ``correction="edwards"`` (Edwards
      1948), ``k = 0`` with ``correction="none"``.

    Default and why: the exact binomial test keeps its size for any number
    of discordant pairs, which in programme data is often small; the
    Newcombe interval keeps near-nominal coverage where the Wald interval
    undercovers (few discordant pairs, margins near 0 or 1);
    ``correction="none"`` for the asymptotic test, as in statsmodels'
    ``mcnemar(exact=False, correction=False)`` (R's ``mcnemar.test``
    corrects by default: pass ``correction="edwards"`` to match it).

    Parameters
    ----------
    data : DataFrame
        Long format: one row per unit and occasion.
    outcome : str
        Binary outcome: 0/1 or bool, or two labels with ``positive=``.
    treatment : str
        Occasion or condition, 0/1 (e.g. 0 = before, 1 = after; numeric,
        bool, or a categorical/object column holding 0/1), or two labels
        declared with ``arms=``.
    pairs : str
        The pair (unit) identifier; each pair needs exactly one row with
        each treatment value.
    arms : (control, treated), default=None
        The labels of the first (control, e.g. before) and second (treated,
        e.g. after) occasion.
    positive : label, default=None
        The outcome value that counts as the event (None: 1 / True).
    method : {"exact", "asymptotic"}, default="exact"
    ci_method : {"newcombe", "wald"}, default="newcombe"
    correction : {"none", "edwards"}, default="none"
        Continuity correction of the asymptotic test (``method="asymptotic"``
        only).
    alpha : float, default=0.05
    missing : {"error", "drop"}, default="error"
        ``"drop"`` drops rows with a missing value, and then pairs left with
        one row, and reports how many rows.

    Returns
    -------
    EffectResult
        ``estimand="paired_risk_difference"``, ``ci_method`` ``"newcombe"``
        or ``"wald"``,
        ``p_value`` the test's; ``extra``: ``statistic`` (exact: the smaller
        discordant count ``min(b, c)``; asymptotic: McNemar's chi-squared),
        ``statistic_name``, ``df`` (None for exact, 1 otherwise), the paired
        table ``[[n11, b], [c, n00]]`` (rows: event at treatment 1 yes/no;
        columns: at treatment 0 yes/no).

    Raises
    ------
    DataError
        Bad columns or values; a pair without exactly one row per occasion.
    DesignError
        An option of the wrong type or value, ``correction="edwards"`` with
        ``method="exact"`` (before any work).

    Notes
    -----
    Counts: a pair is a unit, a row is a unit on one occasion. ``n`` counts
    the rows analysed (two per pair, as every result's ``n``),
    ``n_treated`` the rows at treatment 1 and ``n_control`` those at
    treatment 0 (one per pair each, so ``n_treated + n_control == n``), and
    ``n_units`` the pairs. The estimate and its interval are per pair.

    References
    ----------
    McNemar, Q. (1947). Note on the sampling error of the difference
    between correlated proportions or percentages. Psychometrika 12,
    153-157. doi:10.1007/BF02295996
    Agresti, A. (2013). Categorical Data Analysis, 3rd ed., Wiley, ch. 11.
    Newcombe, R. G. (1998b). Improved confidence intervals for the difference
    between binomial proportions based on paired data. Statistics in
    Medicine 17, 2635-2650, method 10.

    Examples
    --------
    The CTI / Job Focus evaluation (Rambøll for Socialstyrelsen, 2019): 35 pairs gain the outcome, 21 lose it.

    >>> import effekt as ef
    >>> df = ef.from_counts([[48, 35], [21, 0]], paired=True)  # rows: before 0/1; columns: after 0/1
    >>> res = ef.estimate("mcnemar", data=df, outcome="y", treatment="z", pairs="pair")
    >>> round(res.p_value, 3), round(res.estimate, 4), res.n, res.n_units
    (0.081, 0.1346, 208, 104)
    """

    name: ClassVar[str] = "mcnemar"
    estimand: ClassVar[str] = "paired_risk_difference"
    kind: ClassVar[str] = "test"
    tags: ClassVar[EstimatorTags] = EstimatorTags(
        outcome="binary", shift_equivariant=False, scale_equivariant=False, sign_flip=True
    )
    options: ClassVar[dict[str, Constraint]] = {
        "method": Choice(("exact", "asymptotic")),
        "ci_method": Choice(("newcombe", "wald")),
        "correction": Choice(("none", "edwards")),
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
        pairs: str,
        arms: Sequence[Any] | None = None,
        positive: Any = None,
        method: str = "exact",
        ci_method: str = "newcombe",
        correction: str = "none",
        alpha: float = 0.05,
        missing: str = "error",
    ) -> EffectResult:
        alpha = check_alpha(alpha)
        if correction != "none" and method == "exact":
            raise DesignError(
                f"mcnemar: correction={correction!r} is a continuity correction of the asymptotic "
                "test; the exact binomial test needs none. Pass method='asymptotic' with it, or "
                "leave correction='none'."
            )
        frame = as_frame(data)
        if frame.shape[0] == 0:
            raise DataError("the data have no rows.")
        frame, values, dropped = _outcome_values(frame, outcome, missing)
        frame, values, dropped_z = drop_missing_treatment(frame, values, treatment, missing)
        dropped += dropped_z
        frame = prepare_treatment(frame, treatment, arms, self.name)
        cols = check_columns(frame, treatment=treatment, arms=arms, missing="error")
        assert cols.z is not None
        z = cols.z.astype(np.int64)
        if pairs not in frame.columns:
            shown = ", ".join(repr(c) for c in list(frame.columns)[:20])
            raise DataError(f"pairs={pairs!r}: no such column. The data have {shown}. Name the pair identifier.")
        pair_na = frame[pairs].isna().to_numpy()
        if pair_na.any():
            if missing == "error":
                raise DataError(
                    f"pairs column {pairs!r} has {int(pair_na.sum())} missing value"
                    f"{'s' if pair_na.sum() != 1 else ''} ({describe_rows(frame.index[pair_na])}). "
                    "Remove them, or pass missing='drop'."
                )
            frame, values, z = frame.loc[~pair_na], values[~pair_na], z[~pair_na]
            dropped += int(pair_na.sum())
        y = _binary(values, outcome, positive, frame.index)
        codes, labels = group_codes(frame[pairs], pairs, "pairs")
        k = len(labels)
        n_first = np.bincount(codes, weights=1 - z, minlength=k)
        n_second = np.bincount(codes, weights=z, minlength=k)
        single = (n_first + n_second) == 1
        if missing == "drop" and single.any():
            keep = ~single[codes]
            dropped += int((~keep).sum())
            codes, labels = pd.factorize(frame[pairs].to_numpy()[keep], sort=True)
            y, z = y[keep], z[keep]
            k = len(labels)
            n_first = np.bincount(codes, weights=1 - z, minlength=k)
            n_second = np.bincount(codes, weights=z, minlength=k)
        bad = (n_first != 1) | (n_second != 1)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"pair {_label(labels[first])!r} of pairs column {pairs!r} has "
                f"{int(n_second[first])} row(s) with {treatment}={cols.arms[1]!r} and "
                f"{int(n_first[first])} with {treatment}={cols.arms[0]!r} (treatment column {treatment!r})"
                + (f" ({int(bad.sum()) - 1} more pairs have the same problem)" if bad.sum() > 1 else "")
                + "; every pair needs exactly one row on each occasion. Remove duplicate rows, and "
                "drop incomplete pairs (missing='drop' drops pairs left incomplete by missing values)."
            )
        y1 = np.zeros(k, dtype=np.int64)
        y0 = np.zeros(k, dtype=np.int64)
        y1[codes[z == 1]] = y[z == 1]
        y0[codes[z == 0]] = y[z == 0]
        return self._result(y1, y0, method=method, ci_method=ci_method, correction=correction, alpha=alpha,
                            outcome=outcome, treatment=treatment, dropped=dropped)

    def _result(self, y1: np.ndarray, y0: np.ndarray, *, method: str, ci_method: str, correction: str, alpha: float,
                outcome: str, treatment: str, dropped: int) -> EffectResult:
        n = int(y1.size)
        n11 = int(np.sum((y1 == 1) & (y0 == 1)))
        b = int(np.sum((y1 == 1) & (y0 == 0)))
        c = int(np.sum((y1 == 0) & (y0 == 1)))
        n00 = n - n11 - b - c
        est = (b - c) / n
        se = math.sqrt(max(b + c - (b - c) ** 2 / n, 0.0)) / n
        q = float(stats.norm.isf(alpha / 2))
        statistic, p = mcnemar_test(b, c, method=method, correction=correction)
        warnings = [f"{dropped} rows were dropped (missing='drop')."] if dropped else []
        if b + c == 0:
            warnings.append("no pair is discordant, so the test has nothing to go on: p = 1.")
        test = "mcnemar exact (binomial)" if method == "exact" else (
            "mcnemar chi2" + (" (continuity corrected)" if correction == "edwards" else "")
        )
        return EffectResult(
            estimator=self.name,
            estimand=self.estimand,
            term=str(treatment),
            estimate=est,
            std_error=se,
            conf_int=(
                (est - q * se, est + q * se) if ci_method == "wald" else paired_newcombe_interval(n11, b, c, n00, alpha)
            ),
            conf_level=1 - alpha,
            p_value=p,
            df=None,
            n=2 * n,
            n_treated=n,
            n_control=n,
            n_units=n,
            se_type="paired binomial",
            design="paired",
            warnings=tuple(warnings),
            extra={
                "statistic": statistic,
                "statistic_name": "min(b, c)" if method == "exact" else "McNemar's chi-squared",
                "df": None if method == "exact" else 1,
                "test": test,
                "discordant": [b, c],
                "table": [[n11, b], [c, n00]],
                "risk_treated": (n11 + b) / n,
                "risk_control": (n11 + c) / n,
                "method": method,
                "correction": correction,
            },
            outcome=str(outcome),
            ci_method=ci_method,
        )

    @classmethod
    def simulate(cls, rng: np.random.Generator, *, n: int, effect: float) -> Synthetic:
        """Paired binary outcomes on two occasions; truth = the marginal risk
        difference ``P(Y1 = 1) - P(Y0 = 1)``.

        ``P(Y0 = 1) = 0.35``; ``Y1`` depends on ``Y0`` (positively
        correlated pairs) with marginal risk ``0.35 + effect`` kept within
        [0.10, 0.65].
        """
        pairs = max(int(n) // 2, 4)
        p0 = 0.35
        p1 = float(np.clip(p0 + float(effect), 0.10, 0.65))
        q1 = p1 + 0.3 * (1.0 - p1)  # P(Y1 = 1 | Y0 = 1)
        q0 = max((p1 - p0 * q1) / (1.0 - p0), 0.0)  # P(Y1 = 1 | Y0 = 0)
        truth = p0 * q1 + (1.0 - p0) * q0 - p0
        y0 = (rng.random(pairs) < p0).astype(np.int64)
        y1 = (rng.random(pairs) < np.where(y0 == 1, q1, q0)).astype(np.int64)
        ids = np.arange(pairs)
        data = pd.DataFrame(
            {
                "pair": np.concatenate([ids, ids]),
                "z": np.concatenate([np.zeros(pairs, np.int64), np.ones(pairs, np.int64)]),
                "y": np.concatenate([y0, y1]).astype(float),
            }
        )
        order = rng.permutation(data.shape[0])
        return Synthetic(
            data=data.iloc[order].reset_index(drop=True),
            spec={"outcome": "y", "treatment": "z", "pairs": "pair"},
            truth=truth,
            outcome="y",
            treatment="z",
        )
