"""Before/after change index of counts: 100 x (N_after / N_before - 1)."""

from __future__ import annotations

import math
import warnings
from dataclasses import replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from effekt.data import as_frame, check_columns, check_option
from effekt.errors import DataError, EffektWarning, warn
from effekt.protocol import EstimatorTags, Synthetic
from effekt.result import EffectResult, EffectTable, check_alpha
from effekt.vocabulary import Choice, validated
from effekt_did._panel import check_unit_column

__all__ = ["ChangeIndex", "change_index"]

_METHODS = ("exact", "katz")


ZERO_AFTER = "N_after = 0"


def _not_computable(n_after: float, n_before: float, alpha: float, extra: dict[str, Any],
                    warns: list[str], term: str) -> EffectResult:
    reason = (f"not computable: N_before = 0 (N_after = {n_after:g}); a change relative to a zero "
              "baseline is undefined")
    extra.update(computable=False, reason=reason)
    nan = float("nan")
    return EffectResult(estimator="change_index", estimand="percent_change", term=term, estimate=nan,
                        std_error=nan, conf_int=(nan, nan), conf_level=1 - alpha, p_value=nan, df=None,
                        n=int(n_after + n_before), se_type=None, design="before_after", ci_method="none",
                        warnings=(*warns, reason), extra=extra)


def _ratio_ci(a: float, b: float, alpha: float, method: str) -> tuple[float, float, float]:
    """CI for the count ratio a/b and the two-sided p-value of ratio = 1."""
    if method == "exact":
        # conditional on a + b, a ~ Bin(a + b, R / (1 + R)); Clopper-Pearson for
        # the proportion, mapped back by R = p / (1 - p) (Ulm 1990; Breslow & Day 1987, sec. 2.2)
        n = a + b
        lo_p = 0.0 if a == 0 else float(stats.beta.ppf(alpha / 2, a, b + 1))
        hi_p = 1.0 if b == 0 else float(stats.beta.ppf(1 - alpha / 2, a + 1, b))
        lo = lo_p / (1 - lo_p)
        hi = math.inf if hi_p >= 1.0 else hi_p / (1 - hi_p)
        p = float(stats.binomtest(int(a), int(n), 0.5).pvalue)
        return lo, hi, p
    # Katz et al. (1978): log ratio +/- z sqrt(1/a + 1/b)
    if a == 0:
        return float("nan"), float("nan"), float("nan")
    se = math.sqrt(1 / a + 1 / b)
    z = float(stats.norm.ppf(1 - alpha / 2))
    r = a / b
    return r * math.exp(-z * se), r * math.exp(z * se), 2 * float(stats.norm.sf(abs(math.log(r)) / se))


def change_index(
    n_after: float,
    n_before: float,
    *,
    window_after: float | None = None,
    window_before: float | None = None,
    method: str = "exact",
    alpha: float = 0.05,
    term: str = "index",
) -> EffectResult:
    """The change index ``100 * (N_after / N_before - 1)`` with a confidence interval.

    Estimand: the percentage change in the expected count from the before
    to the after window (index 200 means three times as many; index 0 no
    change).

    Formula: ``R = N_after / N_before``, ``index = 100 (R - 1)``. Exact CI:
    conditional on ``N_after + N_before`` the after count is binomial with
    ``pi = R / (1 + R)``; the Clopper-Pearson limits of ``pi`` give those of
    ``R``. Katz CI: ``log R +/- z sqrt(1/N_after + 1/N_before)``. The
    standard error reported is the delta-method ``100 R sqrt(1/N_a + 1/N_b)``.

    Defaults and why: ``method="exact"`` because the counts behind such
    indices are often small (a municipality's handful of citizens).

    Parameters
    ----------
    n_after, n_before : non-negative counts
    window_after, window_before : float, optional
        Window lengths (e.g. months). Unequal windows give a warning and a
        rate-based index ``100 (R * window_before / window_after - 1)`` in
        ``extra["rate_index"]``; the index itself stays count-based.
    method : {"exact", "katz"}, default "exact"
    alpha : float, default 0.05

    Returns
    -------
    EffectResult
        ``estimate`` is the index. When ``N_before = 0`` the index is not
        computable: ``extra["computable"]`` is False, ``extra["reason"]``
        says why, and estimate, SE and CI are NaN (no exception, no inf).

    Raises
    ------
    DataError
        A negative or non-integer count, a non-positive window.

    References
    ----------
    Katz, Baptista, Azen & Pike (1978). Biometrics 34(3), 469-474. doi:10.2307/2530610
    Ulm (1990). Am. J. Epidemiol. 131(2), 373-375. doi:10.1093/oxfordjournals.aje.a115507

    Examples
    --------
    >>> round(change_index(30, 10).estimate, 6)   # Flere skal med: index 200 = three times as many
    200.0
    >>> change_index(4, 0).extra["computable"]
    False
    """
    check_alpha(alpha)
    check_option(method, "method", _METHODS)
    for label, v in (("n_after", n_after), ("n_before", n_before)):
        if not (isinstance(v, (int, float, np.integer, np.floating)) and math.isfinite(v) and v >= 0
                and float(v) == int(v)):
            raise DataError(f"{label} must be a non-negative whole count; got {v!r}.")
    a, b = float(n_after), float(n_before)
    warns: list[str] = []
    extra: dict[str, Any] = {"n_after": a, "n_before": b, "method": method, "computable": True}
    if (window_after is None) != (window_before is None):
        raise DataError("give both window_after= and window_before=, or neither.")
    if window_after is not None and window_before is not None:
        if not (window_after > 0 and window_before > 0):
            raise DataError(f"windows must be positive lengths; got {window_after!r} and {window_before!r}.")
        extra.update(window_after=window_after, window_before=window_before)
        if window_after != window_before:
            msg = (f"windows of unequal length ({window_after:g} after vs {window_before:g} before): the "
                   "index compares counts, not rates; extra['rate_index'] compares rates per unit of time.")
            warn(msg)
            warns.append(msg)
    if b == 0:
        res = _not_computable(a, b, alpha, extra, warns, term)
        warn(res.extra["reason"])
        return res
    r = a / b
    lo, hi, p = _ratio_ci(a, b, alpha, method)
    se = 100 * r * math.sqrt(1 / a + 1 / b) if a > 0 else float("nan")
    if a == 0:
        msg = (f"{ZERO_AFTER}: the delta-method standard error is undefined (NaN)"
               + ("; the exact interval is reported." if method == "exact" else
                  " and so is the Katz interval; method='exact' gives one."))
        warn(msg)
        warns.append(msg)
    extra["ratio"] = r
    if window_after is not None and window_before is not None:
        extra["rate_index"] = 100 * (r * window_before / window_after - 1)
    return EffectResult(estimator="change_index", estimand="percent_change", term=term,
                        estimate=100 * (r - 1), std_error=se, conf_int=(100 * (lo - 1), 100 * (hi - 1)),
                        conf_level=1 - alpha, p_value=p, df=None, n=int(a + b), se_type=method,
                        design="before_after", ci_method=method, warnings=tuple(warns), extra=extra)


class ChangeIndex:
    """Change index of counts by unit: ``100 (N_after / N_before - 1)``.

    Estimand, formula and intervals as in :func:`change_index`, applied to
    the sums of ``outcome`` (counts) before (``post == 0``) and after
    (``post == 1``), for each ``unit`` when given.

    Parameters
    ----------
    data : DataFrame
    outcome : str
        Non-negative whole counts (e.g. 1 per citizen with ordinary hours).
    post : str
        0/1 window indicator.
    unit : str, default=None
        One index per unit (an ``EffectTable``); otherwise one index.
    window_after : float, default=None
        Length of the after window (e.g. months).
    window_before : float, default=None
        Length of the before window.
    method : {"exact", "katz"}, default="exact"
    alpha : float, default=0.05
    missing : {"error", "drop"}, default="error"

    Returns
    -------
    EffectResult or EffectTable
        With ``unit``: one row per unit, termed by its label, and a first
        row ``"overall"``, the index of all units' counts summed, which is
        the table's headline. ``n`` counts the rows of the data behind each
        index.

    Raises
    ------
    DataError
        Negative or fractional counts, a post column that is not 0/1.

    Examples
    --------
    >>> import effekt as ef
    >>> df = pd.DataFrame({"n": [10, 30], "post": [0, 1]})
    >>> ef.estimate("change_index", data=df, outcome="n", post="post").estimate
    200.0
    """

    name: ClassVar[str] = "change_index"
    estimand: ClassVar[str] = "percent_change"
    kind: ClassVar[str] = "descriptive"
    tags: ClassVar[EstimatorTags] = EstimatorTags(outcome="counts", shift_equivariant=False,
                                                  scale_equivariant=False, sign_flip=False)
    options: ClassVar[dict[str, Any]] = {"method": Choice(_METHODS)}

    @classmethod
    def simulate(cls, rng: np.random.Generator, *, n: int = 200, effect: float = 50.0) -> Synthetic:
        lam = max(float(n), 20.0)
        counts = rng.poisson([lam, lam * (1 + effect / 100)], size=(1, 2))[0]
        data = pd.DataFrame({"n": counts, "post": [0, 1]})
        return Synthetic(data=data, spec={"outcome": "n", "post": "post"}, truth=effect, outcome=None,
                         treatment=None)

    @validated
    def fit(self, data: Any, *, outcome: str, post: str, unit: str | None = None,
            window_after: float | None = None, window_before: float | None = None, method: str = "exact",
            alpha: float = 0.05, missing: str = "error") -> EffectResult | EffectTable:
        frame = as_frame(data)
        if unit is not None:
            check_unit_column(frame, unit, missing)
        cols = check_columns(frame, outcome=outcome, blocks=unit, numeric={"post": post}, missing=missing)
        assert cols.y is not None
        y, p = cols.y, cols.extra["post"]
        if np.any(y < 0) or np.any(y != np.round(y)):
            raise DataError(f"outcome column {outcome!r} must hold non-negative whole counts; it holds "
                            f"{y[(y < 0) | (y != np.round(y))][:5].tolist()}.")
        if not np.all(np.isin(p, (0.0, 1.0))):
            raise DataError(f"post column {post!r} must hold 0 (before) and 1 (after).")
        kw = dict(window_after=window_after, window_before=window_before, method=method, alpha=alpha)
        if cols.blocks is None:
            return replace(change_index(float(y[p == 1].sum()), float(y[p == 0].sum()), **kw),  # type: ignore[arg-type]
                           n=cols.n)
        assert cols.block_labels is not None
        k = len(cols.block_labels)
        after = np.bincount(cols.blocks, weights=y * p, minlength=k)
        before = np.bincount(cols.blocks, weights=y * (1 - p), minlength=k)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EffektWarning)
            per_block = np.bincount(cols.blocks, minlength=k)
            rows = [replace(change_index(float(a), float(b), term=str(lab), **kw), n=int(m))  # type: ignore[arg-type]
                    for a, b, lab, m in zip(after, before, cols.block_labels, per_block)]
            overall = replace(change_index(float(after.sum()), float(before.sum()), term="overall", **kw),  # type: ignore[arg-type]
                              n=cols.n)
        warns = sorted({w for r in rows for w in r.warnings if w.startswith("windows")})
        n_nc = sum(1 for r in rows if not r.extra["computable"])
        n_zero = sum(1 for r in (overall, *rows) if r.extra["computable"] and r.extra["n_after"] == 0)
        if n_nc or not overall.extra["computable"]:
            warns.append(f"{n_nc} of {k} units not computable (N_before = 0, a change relative to a zero baseline "
                         "is undefined): their rows are NaN.")
        if n_zero:
            warns.append(f"{n_zero} row(s) with {ZERO_AFTER}: their delta-method standard errors are undefined "
                         "(NaN).")
        for w in warns:
            warn(w)
        extra = {"not_computable": n_nc}
        return EffectTable(estimator=self.name, rows=(overall, *rows), extra=extra, warnings=tuple(warns),
                           headline_term="overall")
