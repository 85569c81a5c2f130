"""Multiplicity adjustment over a family of results: Bonferroni, Holm,
Hochberg, Benjamini-Hochberg (and Benjamini-Yekutieli)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from effekt.data import check_option
from effekt.errors import DataError
from effekt.result import EffectResult, EffectTable, check_alpha

__all__ = ["adjust_pvalues", "adjust_results", "adjusted_pvalues", "METHODS"]

METHODS: dict[str, str] = {
    "bonferroni": "Bonferroni: min(1, m p)",
    "holm": "Holm (1979) step-down",
    "hochberg": "Hochberg (1988) step-up",
    "bh": "Benjamini-Hochberg (1995) step-up, false discovery rate",
    "by": "Benjamini-Yekutieli (2001) step-up, FDR under any dependence",
}
_ALIASES = {"fdr_bh": "bh", "benjamini-hochberg": "bh", "fdr_by": "by", "benjamini-yekutieli": "by"}


def adjusted_pvalues(p: np.ndarray, method: str) -> np.ndarray:
    """Adjusted p-values of a vector of raw p-values (any order).

    With ``p_(1) <= ... <= p_(m)`` the sorted p-values:

    * Bonferroni: ``min(1, m p_i)``;
    * Holm: ``p~_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))``;
    * Hochberg: ``p~_(i) = min_{j >= i} min(1, (m - j + 1) p_(j))``;
    * BH: ``p~_(i) = min_{j >= i} min(1, m p_(j) / j)``;
    * BY: BH times ``sum_{k=1}^m 1/k``.

    Each is the smallest family-wise (FDR for BH/BY) level at which the
    hypothesis would be rejected, so ``p~_i <= alpha`` is the decision.

    >>> adjusted_pvalues(np.array([0.01, 0.04, 0.03]), "holm").round(3).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p, dtype=float)
    m = p.size
    if m == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    ps = p[order]
    rank = np.arange(1, m + 1)
    if method == "bonferroni":
        adj_sorted = np.minimum(1.0, m * ps)
    elif method == "holm":
        adj_sorted = np.minimum(1.0, np.maximum.accumulate((m - rank + 1) * ps))
    elif method == "hochberg":
        adj_sorted = np.minimum(1.0, np.minimum.accumulate(((m - rank + 1) * ps)[::-1])[::-1])
    elif method in ("bh", "by"):
        scale = float(np.sum(1.0 / rank)) if method == "by" else 1.0
        adj_sorted = np.minimum(1.0, np.minimum.accumulate((scale * m * ps / rank)[::-1])[::-1])
    else:  # pragma: no cover - guarded by the callers
        raise ValueError(method)
    out = np.empty(m)
    out[order] = adj_sorted
    return out


def _family(family: Any) -> tuple[list[str], np.ndarray, list[EffectResult | None]]:
    """Labels, raw p-values and results (None for bare p-values)."""
    if isinstance(family, EffectTable):
        items: list[tuple[str, Any]] = [(r.term, r) for r in family]
    elif isinstance(family, EffectResult):
        items = [(family.outcome or family.term, family)]
    elif isinstance(family, Mapping):
        items = [(str(k), v) for k, v in family.items()]
    elif isinstance(family, pd.Series):
        items = [(str(k), v) for k, v in family.items()]
    elif isinstance(family, (Sequence, np.ndarray)) and not isinstance(family, (str, bytes)):
        items = []
        for i, v in enumerate(family):
            if isinstance(v, EffectTable):
                v = v.headline
            if isinstance(v, EffectResult):
                label = v.outcome if v.outcome not in (None, "None") else v.term
                items.append((f"{label}" if label else str(i), v))
            else:
                items.append((str(i), v))
    else:
        raise DataError(
            f"the family must be EffectResults, an EffectTable, p-values, or a mapping of label -> "
            f"result or p-value; got {type(family).__name__}."
        )
    if not items:
        raise DataError("the family is empty: pass at least one result or p-value.")
    labels, pvals, results = [], [], []
    for label, v in items:
        if isinstance(v, EffectTable):  # a member that is a table counts as its headline row
            v = v.headline
        if isinstance(v, EffectResult):
            p, res = v.p_value, v
        else:
            try:
                p, res = float(v), None
            except (TypeError, ValueError):
                raise DataError(
                    f"member {label!r} of the family is {type(v).__name__} {v!r}, neither an "
                    "EffectResult nor a p-value."
                ) from None
        if not np.isfinite(p) or not 0.0 <= p <= 1.0:
            raise DataError(
                f"member {label!r} of the family has p-value {p!r}; p-values must lie in [0, 1]. "
                "A result without a test (p-value NaN) cannot be adjusted: leave it out of the family."
            )
        labels.append(label)
        pvals.append(p)
        results.append(res)
    if len(set(labels)) != len(labels):
        seen: dict[str, int] = {}
        deduped = []
        for label in labels:
            seen[label] = seen.get(label, 0) + 1
            deduped.append(label if seen[label] == 1 and labels.count(label) == 1 else f"{label}[{seen[label]}]")
        labels = deduped
    return labels, np.asarray(pvals, dtype=float), results


def _method(method: str) -> str:
    method = _ALIASES.get(method, method)
    check_option(method, "method", tuple(METHODS))
    return method


def adjust_pvalues(family: Any, method: str = "holm", *, alpha: float = 0.05) -> pd.DataFrame:
    """Adjusted p-values of a family of tests, alongside the raw ones.

    Parameters
    ----------
    family : sequence of EffectResult or float, EffectTable, or mapping
        The family: results (their ``p_value`` is used; the label is the
        outcome, else the term), bare p-values, or a mapping
        ``label -> result or p-value``. An EffectTable passed as the family
        contributes every row (labelled by term); a table that is one member
        of a list or mapping contributes its headline row.
    method : {"holm", "hochberg", "bonferroni", "bh", "by"}, default "holm"
        Family-wise error control (Holm, Hochberg, Bonferroni) or false
        discovery rate (BH, BY). Aliases: ``"fdr_bh"``, ``"fdr_by"`` (the
        statsmodels names).
    alpha : float, default 0.05
        Level of the ``reject`` column.

    Returns
    -------
    DataFrame
        One row per member in the given order: ``label``, ``estimate``
        (NaN for bare p-values), ``p.value`` (raw), ``p.adjusted``,
        ``reject`` (``p.adjusted <= alpha``), ``method``.

    Raises
    ------
    DataError
        An empty family, a member that is not a result or a p-value, a
        p-value outside [0, 1] or NaN.
    DesignError
        An unknown method or an ``alpha`` outside (0, 1).

    Notes
    -----
    Holm's default: it controls the family-wise error rate under any
    dependence and is uniformly more powerful than Bonferroni. Hochberg is
    more powerful still but needs independence or positive dependence
    (Sarkar 1998). Results agree with statsmodels'
    ``multipletests(method="holm" | "simes-hochberg" | "bonferroni" |
    "fdr_bh" | "fdr_by")``.

    References
    ----------
    Holm, S. (1979). Scand. J. Statist. 6, 65-70.
    Hochberg, Y. (1988). Biometrika 75, 800-802. doi:10.1093/biomet/75.4.800
    Benjamini, Y. & Hochberg, Y. (1995). JRSS B 57, 289-300.
    doi:10.1111/j.2517-6161.1995.tb02031.x
    Benjamini, Y. & Yekutieli, D. (2001). Ann. Statist. 29, 1165-1188.
    doi:10.1214/aos/1013699998

    Examples
    --------
    The Copenhagen resource-course trial's six outcomes (VIVE 2019; the
    primary and five secondary, p-values from the report): only complaints survives Holm.

    >>> import effekt as ef
    >>> p = {"clarification": 0.0988, "support": 0.204, "completion": 0.45,
    ...      "placement": 0.18, "sanctions": 0.936, "complaints": 0.0055}
    >>> tab = ef.adjust_pvalues(p, "holm")
    >>> tab.loc[tab["reject"], "label"].tolist(), round(float(tab["p.adjusted"].iloc[-1]), 4)
    (['complaints'], 0.033)
    """
    method = _method(method)
    alpha = check_alpha(alpha)
    labels, p, results = _family(family)
    adj = adjusted_pvalues(p, method)
    return pd.DataFrame(
        {
            "label": labels,
            "estimate": [r.estimate if r is not None else np.nan for r in results],
            "p.value": p,
            "p.adjusted": adj,
            "reject": adj <= alpha,
            "method": method,
        }
    )


def adjust_results(family: Sequence[EffectResult] | EffectTable, method: str = "holm", *,
                   alpha: float = 0.05) -> tuple[EffectResult, ...] | EffectTable:
    """New results carrying their adjusted p-values; the inputs are untouched.

    Each returned :class:`~effekt.result.EffectResult` is a copy with
    ``extra["p_adjusted"]``, ``extra["p_adjust_method"]``,
    ``extra["family_size"]`` and ``extra["reject_adjusted"]``; ``p_value``
    stays the raw p-value of its own test, so that nothing is mistaken for
    an unadjusted value. A tuple of results comes back for a sequence, a new
    :class:`~effekt.result.EffectTable` for a table.

    >>> import effekt as ef
    >>> from effekt.result import EffectResult
    >>> rs = [EffectResult.from_z(e, 1.0, estimator="x", estimand="ate", term="z", n=10)
    ...       for e in (3.0, 1.0)]
    >>> out = ef.adjust_results(rs, "bonferroni")
    >>> round(out[0].extra["p_adjusted"], 5), round(rs[0].p_value * 2, 5)
    (0.0054, 0.0054)
    """
    method = _method(method)
    alpha = check_alpha(alpha)
    members = list(family)
    labels, p, results = _family(members)
    if any(r is None for r in results):
        raise DataError("adjust_results needs EffectResult members; for bare p-values use adjust_pvalues.")
    adj = adjusted_pvalues(p, method)
    out = []
    for r, a in zip(results, adj):
        assert r is not None
        out.append(replace(r, extra={**r.extra, "p_adjusted": float(a), "p_adjust_method": method,
                                     "family_size": len(results), "reject_adjusted": bool(a <= alpha)}))
    if isinstance(family, EffectTable):
        return replace(family, rows=tuple(out), extra={**family.extra, "p_adjust_method": method})
    return tuple(out)
