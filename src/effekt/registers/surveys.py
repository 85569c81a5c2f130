"""Scales and surveys: WHO-5 and GSE scoring, norms, two-wave comparisons, attrition.

* **WHO-5** (Topp et al. 2015): five items scored 0-5; raw score 0-25,
  times 4 gives 0-100. A person with more than ``max_missing`` unanswered
  items (default 0: WHO's scoring needs all five) gets no score; with
  ``max_missing > 0`` the answered items' mean stands in for the missing.
* **GSE**, General Self-Efficacy (Schwarzer & Jerusalem 1995): ten items
  scored 1-4, sum 10-40; the authors allow up to three missing items,
  replaced by the mean of the answered ones (default ``max_missing=3``).
* :func:`compare_to_norm`: the sample mean against a population norm,
  ``gap = norm - mean``, one-sample t-test, and ``(mean - norm) / sd_norm``
  when the norm's SD is known.
* :func:`compare_waves`: per item, two independent waves' ``k/n``
  (different respondents): Fisher's exact and Pearson's chi-square p-values,
  from effekt's ``fisher`` and ``chi2`` estimators.
* :func:`mcnemar_bounds`: when only the marginals of a paired before/after
  comparison are published, the exact McNemar p-value lies between its values
  at the least and the most discordant tables the marginals allow.
* :func:`attrition`: responses per wave and persons by number of waves
  completed, with the monotone-attrition check ``responses at wave k =
  persons with >= k measurements`` (less the missing baselines).

References
----------
Topp, C. W., Østergaard, S. D., Søndergaard, S. & Bech, P. (2015). The WHO-5
Well-Being Index: a systematic review. Psychother Psychosom 84, 167-176. doi:10.1159/000376585
Schwarzer, R. & Jerusalem, M. (1995). Generalized Self-Efficacy scale. In
Weinman, Wright & Johnston (eds.), Measures in health psychology, 35-37. NFER-NELSON.
Scholz, U., Gutiérrez Doña, B., Sud, S. & Schwarzer, R. (2002). Is general
self-efficacy a universal construct? Eur J Psychol Assess 18, 242-251. doi:10.1027//1015-5759.18.3.242
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from effekt._lazy import lazy_module
from effekt.data import as_frame
from effekt.errors import DataError, DesignError
from effekt.registers._results import TableResult

if TYPE_CHECKING:
    from scipy import stats
else:
    stats = lazy_module("scipy.stats")

__all__ = ["attrition", "compare_to_norm", "compare_waves", "mcnemar_bounds", "score_gse", "score_who5"]


def _score(data: Any, items: Sequence[str], low: int, high: int, max_missing: int, name: str) -> pd.Series:
    frame = as_frame(data)
    items = list(items)
    for c in items:
        if c not in frame.columns:
            raise DataError(f"{name} item {c!r}: no such column.")
    if isinstance(max_missing, bool) or not isinstance(max_missing, (int, np.integer)) or not 0 <= max_missing < len(items):
        raise DesignError(f"max_missing must be a whole number from 0 to {len(items) - 1}; got {max_missing!r}.")
    x = frame[items].apply(pd.to_numeric, errors="coerce")
    bad = x.notna() & ((x < low) | (x > high) | (x % 1 != 0))
    text = frame[items].notna() & x.isna()
    if bad.any().any() or text.any().any():
        col = items[int(np.argmax((bad | text).any().to_numpy()))]
        raise DataError(f"{name} item {col!r} has values outside the whole numbers {low}-{high}; "
                        "code missing answers as NaN.")
    missing = x.isna().sum(axis=1)
    total = x.mean(axis=1) * len(items)  # the answered items' mean stands in for the missing ones
    return total.where(missing <= max_missing)


def score_who5(data: Any, *, items: Sequence[str], max_missing: int = 0) -> pd.Series:
    """WHO-5 well-being on 0-100: ``4 * (sum of five 0-5 items)``.

    Parameters
    ----------
    data : DataFrame
    items : list of 5 str
    max_missing : int, default 0
        Unanswered items allowed (their mean-substituted value is used); more
        gives NaN.

    Returns
    -------
    Series of scores 0-100 (NaN where too many items are missing).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"q1": [3, 5], "q2": [3, 5], "q3": [2, None], "q4": [4, 5], "q5": [2, 5]})
    >>> score_who5(df, items=["q1", "q2", "q3", "q4", "q5"]).tolist()
    [56.0, nan]
    """
    if len(list(items)) != 5:
        raise DesignError(f"WHO-5 has five items; items= names {len(list(items))}.")
    return 4 * _score(data, items, 0, 5, max_missing, "WHO-5")


def score_gse(data: Any, *, items: Sequence[str], max_missing: int = 3) -> pd.Series:
    """General Self-Efficacy on 10-40: the sum of ten 1-4 items.

    Up to ``max_missing`` (default 3, as the scale's authors allow)
    unanswered items are replaced by the mean of the answered ones.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({f"g{i}": [3, 3 if i > 2 else None] for i in range(1, 11)})
    >>> score_gse(df, items=[f"g{i}" for i in range(1, 11)]).tolist()
    [30.0, 30.0]
    """
    if len(list(items)) != 10:
        raise DesignError(f"GSE has ten items; items= names {len(list(items))}.")
    return _score(data, items, 1, 4, max_missing, "GSE")


def compare_to_norm(scores: Any, *, norm: float, norm_sd: float | None = None, alpha: float = 0.05) -> TableResult:
    """A sample's mean score against a population norm.

    ``gap = norm - mean``; one-sample t-test of ``mean = norm`` (``t =
    (mean - norm) / (s / sqrt(n))`` on ``n - 1`` df) with the mean's
    interval; ``standardised = (mean - norm) / norm_sd`` when the norm's SD
    is given.

    Examples
    --------
    CTI job focus (seed 000/003 §4.7): WHO-5 baseline 56.4 against the Danish norm 68.1.

    >>> import numpy as np
    >>> scores = np.r_[np.full(99, 50.4), np.full(99, 62.4)]      # mean 56.4, n = 198
    >>> res = compare_to_norm(scores, norm=68.1)
    >>> round(res.extra["gap"], 1), res.extra["n"]
    (11.7, 198)
    """
    s = pd.Series(np.asarray(scores, dtype=float)).dropna()
    if len(s) < 2:
        raise DataError(f"compare_to_norm needs at least two scores; got {len(s)}.")
    n, mean, sd = len(s), float(s.mean()), float(s.std(ddof=1))
    se = sd / np.sqrt(n)
    t = (mean - norm) / se if se > 0 else np.nan
    p = float(2 * stats.t.sf(abs(t), n - 1)) if se > 0 else np.nan
    q = stats.t.ppf(1 - alpha / 2, n - 1)
    row = {"n": n, "mean": mean, "sd": sd, "norm": norm, "gap": norm - mean, "ci_low": mean - q * se,
           "ci_high": mean + q * se, "statistic": t, "df": n - 1, "p_value": p,
           "standardised": (mean - norm) / norm_sd if norm_sd else np.nan}
    return TableResult("norm_comparison", f"Mean {mean:.1f} against the norm {norm:g} (gap {norm - mean:.1f})",
                       pd.DataFrame([row]), {"gap": norm - mean, "n": n, "test": "one-sample t"})


def compare_waves(counts: Any, *, item: str = "item", k1: str = "k1", n1: str = "n1", k2: str = "k2",
                  n2: str = "n2") -> TableResult:
    """Two independent waves' proportions per item: difference, Fisher and chi-square p.

    Parameters
    ----------
    counts : DataFrame
        One row per item: ``k1`` of ``n1`` at the first wave, ``k2`` of ``n2``
        at the second (respondents differ between waves).
    item, k1, n1, k2, n2 : str
        Column names.

    Returns
    -------
    TableResult
        ``kind="wave_comparison"``; per item: ``pct1``, ``pct2``, ``diff_pp``,
        ``fisher_p`` (two-sided exact), ``chi2_p`` (Pearson, no correction).

    Examples
    --------
    Flere skal med (seed 002 §4.7), "easy to contact": 6/80 at baseline, 32/50 at mid-term.

    >>> import pandas as pd
    >>> t = pd.DataFrame({"item": ["contact"], "k1": [6], "n1": [80], "k2": [32], "n2": [50]})
    >>> float(compare_waves(t).tidy()["fisher_p"].iloc[0])  # doctest: +ELLIPSIS
    5.70...e-12
    """
    import effekt as ef

    frame = as_frame(counts)
    for c in (item, k1, n1, k2, n2):
        if c not in frame.columns:
            raise DataError(f"column {c!r}: no such column in counts.")
    rows = []
    for _, r in frame.iterrows():  # one small 2 x 2 table per published item
        a, na, b, nb = (int(r[c]) for c in (k1, n1, k2, n2))
        if not (0 <= a <= na and 0 <= b <= nb and na > 0 and nb > 0):
            raise DataError(f"item {r[item]!r}: counts must satisfy 0 <= k <= n and n > 0; got {a}/{na}, {b}/{nb}.")
        data = ef.from_counts(np.array([[na - a, nb - b], [a, b]]))
        fisher = ef.estimate("fisher", data=data, outcome="y", treatment="z")
        chi2 = ef.estimate("chi2", data=data, outcome="y", treatment="z")
        rows.append({"item": r[item], "k1": a, "n1": na, "pct1": 100 * a / na, "k2": b, "n2": nb,
                     "pct2": 100 * b / nb, "diff_pp": 100 * (b / nb - a / na), "fisher_p": fisher.p_value,
                     "chi2_p": chi2.p_value})
    return TableResult("wave_comparison", "Two independent waves per item (Fisher exact, Pearson chi-square)",
                       pd.DataFrame(rows), {"notes": ("the waves are treated as independent samples; when the "
                                                      "same units answer both, use a paired test",)})


def mcnemar_bounds(before: int, after: int, n: int) -> TableResult:
    """Exact McNemar p-values at the least and most discordant tables with these marginals.

    With ``before`` and ``after`` persons in the state out of ``n`` pairs,
    ``b - c = after - before``; the least discordant table has ``min(b, c) = 0``,
    the most has ``b + c`` as large as the margins allow. Both p-values come
    from effekt's ``mcnemar`` (exact binomial).

    Examples
    --------
    CTI job focus (seed 000/003 §4.12a): ordinary hours 21 before, 35 after, of 104.

    >>> t = mcnemar_bounds(21, 35, 104).tidy()
    >>> t[["b", "c"]].values.tolist(), [round(p, 4) for p in t["p_value"]]
    ([[14, 0], [35, 21]], [0.0001, 0.0814])
    """
    import effekt as ef

    for name, v in (("before", before), ("after", after), ("n", n)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise DataError(f"{name} must be a whole number >= 0; got {v!r}.")
    if before > n or after > n or n == 0:
        raise DataError(f"before ({before}) and after ({after}) must not exceed n ({n}) and n > 0.")
    d = after - before
    rows = []
    for label, c in (("least discordant", max(0, -d)), ("most discordant", min(before, n - after))):
        b = c + d
        n11 = before - c
        n00 = n - n11 - b - c
        table = np.array([[n00, b], [c, n11]])  # rows: before 0/1, columns: after 0/1
        res = ef.estimate("mcnemar", data=ef.from_counts(table, paired=True), outcome="y", treatment="z",
                          pairs="pair")
        rows.append({"table": label, "b": int(b), "c": int(c), "n00": int(n00), "n11": int(n11),
                     "p_value": res.p_value})
    return TableResult("mcnemar_bounds", f"McNemar bounds from marginals {before} -> {after} of {n}",
                       pd.DataFrame(rows), {"notes": ("the published marginals do not fix the paired table; "
                                                      "the p-value lies between these",)})


def attrition(responses: Any) -> TableResult:
    """Responses per wave, persons by number of waves, and the monotone-attrition check.

    Parameters
    ----------
    responses : DataFrame or 2-d array of bool
        One row per person, one column per wave: True where the person
        answered.

    Returns
    -------
    TableResult
        ``kind="attrition"``; per wave ``k``: ``responses`` (answers at wave
        k), ``completed_exactly`` (persons with k measurements),
        ``at_least`` (persons with >= k), ``consistent`` (responses ==
        at_least, allowing the missing baselines at wave 1);
        ``extra["non_monotone"]`` counts persons who skipped a wave and came back.

    Examples
    --------
    CTI job focus, Table 3-1 (seed 000/003 §4.6): 208 persons; 103/32/37/17/19 completed 1..5.

    >>> import numpy as np
    >>> k = np.repeat([1, 2, 3, 4, 5], [103, 32, 37, 17, 19])
    >>> answered = np.arange(5)[None, :] < k[:, None]
    >>> answered[103:113, 0] = False                  # 10 missed the baseline, answered later
    >>> print(attrition(answered).tidy()[["wave", "responses", "at_least", "consistent"]].to_string(index=False))
     wave  responses  at_least  consistent
        1        198       208        True
        2        105       105        True
        3         73        73        True
        4         36        36        True
        5         19        19        True
    """
    x = np.asarray(responses.to_numpy() if isinstance(responses, pd.DataFrame) else responses)
    if x.ndim != 2 or x.dtype != bool:
        raise DataError("responses must be a persons x waves table of True/False (answered or not).")
    waves = x.shape[1]
    last = np.where(x.any(axis=1), waves - np.argmax(x[:, ::-1], axis=1), 0)  # last wave answered
    # a person's number of measurements is their last wave answered (a missed baseline is kept, as in the seed)
    exactly = np.bincount(last, minlength=waves + 1)[1:]
    at_least = exactly[::-1].cumsum()[::-1]
    resp = x.sum(axis=0)
    missed_baseline = int((~x[:, 0] & x.any(axis=1)).sum())
    allowed = np.zeros(waves, dtype=int)
    allowed[0] = missed_baseline
    consistent = resp == at_least - allowed
    gaps = x[:, 1:].astype(int) - x[:, :-1].astype(int)
    non_monotone = int(((gaps > 0)[:, 1:] if waves > 2 else np.zeros((len(x), 0), bool)).any(axis=1).sum())
    table = pd.DataFrame({"wave": np.arange(1, waves + 1), "responses": resp, "completed_exactly": exactly,
                          "at_least": at_least, "consistent": consistent})
    return TableResult("attrition", f"Responses per wave and persons by waves completed ({len(x)} persons)",
                       table, {"persons": int(len(x)), "missed_baseline": missed_baseline,
                               "non_monotone": non_monotone})
