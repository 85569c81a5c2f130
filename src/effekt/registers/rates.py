"""Small-area rates: exact and score intervals, a funnel plot, empirical-Bayes shrinkage.

For area ``j`` with ``k_j`` of ``n_j`` persons:

* **Wilson** (score) interval: ``(p + z^2/2n -/+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)``
  (Wilson 1927; Brown, Cai & DasGupta 2001 recommend it for small n);
* **Clopper-Pearson** (exact) interval: ``Beta(alpha/2; k, n-k+1)`` to
  ``Beta(1-alpha/2; k+1, n-k)`` quantiles (Clopper & Pearson 1934);
* **funnel plot**: each area's rate against its size, with control limits
  ``p0 +/- z sqrt(p0 (1 - p0) / n)`` around the pooled rate ``p0 = sum k / sum n``
  at 95 % and 99.8 % (Spiegelhalter 2005);
* **empirical-Bayes shrinkage** (method of moments, Marshall 1991 adapted to
  proportions): the between-area variance ``tau^2 = max(0, s^2 - p0 (1 - p0) m / N)``,
  with ``s^2 = sum n_j (p_j - p0)^2 / N``, ``N = sum n_j`` and ``m`` the number of
  areas; each rate moves toward ``p0`` by ``w_j = tau^2 / (tau^2 + p0 (1 - p0) / n_j)``:
  ``p_j^EB = p0 + w_j (p_j - p0)``. Small areas move most, so a ranking of the
  shrunk rates is not led by the smallest municipalities' chance extremes.

References
----------
Wilson, E. B. (1927). JASA 22, 209-212. doi:10.1080/01621459.1927.10502953
Clopper, C. J. & Pearson, E. S. (1934). Biometrika 26, 404-413. doi:10.1093/biomet/26.4.404
Brown, L. D., Cai, T. T. & DasGupta, A. (2001). Statistical Science 16, 101-133. doi:10.1214/ss/1009213286
Spiegelhalter, D. J. (2005). Funnel plots for comparing institutional performance.
Statistics in Medicine 24, 1185-1202. doi:10.1002/sim.1970
Marshall, R. J. (1991). Mapping disease and mortality rates using empirical Bayes
estimators. Applied Statistics 40, 283-294. doi:10.2307/2347593
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from effekt._lazy import lazy_module
from effekt.data import as_frame
from effekt.errors import DataError, DesignError
from effekt.registers._results import TableResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from scipy import stats
else:  # scipy.stats is imported on first use
    stats = lazy_module("scipy.stats")

__all__ = ["change_index", "proportion_ci", "small_area_rates"]

_METHODS = ("wilson", "clopper-pearson")


def _check_alpha(alpha: Any) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise DesignError(f"alpha must be a number between 0 and 1 (0.05 for 95 % intervals); got {alpha!r}.")
    return float(alpha)


def proportion_ci(count: Any, total: Any, *, ci_method: str = "wilson", alpha: float = 0.05) -> tuple[Any, Any]:
    """Confidence interval of a proportion ``count / total``, vectorised.

    ``ci_method="wilson"`` (score interval, the default: close to nominal
    coverage for small n, Brown et al. 2001) or ``"clopper-pearson"`` (exact,
    conservative). See the module notes for the formulas.

    Parameters
    ----------
    count, total : int or array of int
    ci_method : {"wilson", "clopper-pearson"}, default "wilson"
    alpha : float, default 0.05

    Returns
    -------
    (low, high) : floats or arrays

    Raises
    ------
    DataError
        Negative counts, a count above its total, a total of 0.

    Examples
    --------
    Solrød, Flere skal med (Rambøll 2019, §3.1): 4 of 10 met the target.

    >>> [round(float(x), 3) for x in proportion_ci(4, 10)]
    [0.168, 0.687]
    >>> [round(float(x), 3) for x in proportion_ci(4, 10, ci_method="clopper-pearson")]
    [0.122, 0.738]
    """
    if ci_method not in _METHODS:
        raise DesignError(f"ci_method must be one of {_METHODS}; got {ci_method!r}.")
    alpha = _check_alpha(alpha)
    k, n = np.asarray(count, dtype=float), np.asarray(total, dtype=float)
    if np.any(np.isnan(k)) or np.any(np.isnan(n)):
        raise DataError("counts and totals must not be missing.")
    if np.any(k < 0) or np.any(n <= 0) or np.any(k > n) or np.any(np.mod(k, 1) != 0) or np.any(np.mod(n, 1) != 0):
        raise DataError("each count must be a whole number between 0 and its total, and each total positive.")
    if ci_method == "wilson":  # Wilson (1927)
        z = stats.norm.ppf(1 - alpha / 2)
        p = k / n
        centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
        low, high = centre - half, centre + half
        low, high = np.where(k == 0, 0.0, low), np.where(k == n, 1.0, high)
    else:  # Clopper & Pearson (1934)
        with np.errstate(invalid="ignore"):
            low = np.where(k == 0, 0.0, stats.beta.ppf(alpha / 2, k, n - k + 1))
            high = np.where(k == n, 1.0, stats.beta.ppf(1 - alpha / 2, k + 1, n - k))
    if np.ndim(low) == 0:
        return float(low), float(high)
    return low, high


def _eb(k: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Method-of-moments empirical-Bayes rates (module notes); returns (rates, p0, tau2)."""
    N = n.sum()
    p0 = k.sum() / N
    p = k / n
    s2 = np.sum(n * (p - p0) ** 2) / N
    tau2 = max(0.0, s2 - p0 * (1 - p0) * len(n) / N)
    within = p0 * (1 - p0) / n
    w = np.where(tau2 + within > 0, tau2 / np.where(tau2 + within > 0, tau2 + within, 1.0), 0.0)
    return p0 + w * (p - p0), float(p0), float(tau2)


def _funnel(result: TableResult, *, ax: Any = None, labels: Mapping[Any, str] | None = None,
            annotate: int = 5, **_: Any) -> Figure:
    from effekt.plotting import COLOURS, figure_and_axes, label_for

    t = result.table
    fig, ax = figure_and_axes(ax)
    p0 = result.extra["pooled_rate"]
    grid = np.linspace(max(1.0, t["total"].min() * 0.8), t["total"].max() * 1.1, 200)
    for z, style in ((stats.norm.ppf(0.975), "--"), (stats.norm.ppf(0.999), ":")):
        half = z * np.sqrt(p0 * (1 - p0) / grid)
        ax.plot(grid, np.clip(p0 + half, 0, 1), color="grey", linestyle=style, linewidth=0.9)
        ax.plot(grid, np.clip(p0 - half, 0, 1), color="grey", linestyle=style, linewidth=0.9)
    ax.axhline(p0, color="black", linewidth=0.8)
    outside = t["funnel"] != "inside 95%"
    ax.scatter(t["total"], t["rate"], s=18, color=np.where(outside, COLOURS[1], COLOURS[0]), zorder=3)
    flagged = t[outside].assign(dist=(t["rate"] - p0).abs()).nlargest(annotate, "dist")
    for _, row in flagged.iterrows():
        ax.annotate(label_for(row["area"], labels), (row["total"], row["rate"]), fontsize=7,
                    xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel("persons in the area")
    ax.set_ylabel("rate")
    ax.set_title(f"Funnel plot: pooled rate {p0:.3f}; limits 95 % (dashed), 99.8 % (dotted)")
    return fig


def small_area_rates(
    data: Any,
    *,
    area: str,
    outcome: str | None = None,
    count: str | None = None,
    total: str | None = None,
    ci_method: str = "wilson",
    alpha: float = 0.05,
) -> TableResult:
    """Rates per area with intervals, funnel-plot limits and empirical-Bayes ranks.

    Give either individual data (``outcome=`` a 0/1 or boolean column, one row
    per person) or counts (``count=`` and ``total=``, one row per area).

    Parameters
    ----------
    data : DataFrame
    area : str
        Area column (municipality, job centre).
    outcome : str, optional
        0/1 outcome per person.
    count, total : str, optional
        Columns of persons with the outcome and persons in the area.
    ci_method : {"wilson", "clopper-pearson"}, default "wilson"
    alpha : float, default 0.05

    Returns
    -------
    TableResult
        ``kind="small_area_rates"``; table columns ``area``, ``count``,
        ``total``, ``rate``, ``ci_low``, ``ci_high``, ``eb_rate``, ``rank``
        (1 = highest raw rate), ``eb_rank`` and ``funnel`` ("inside 95%",
        "above 95%", "above 99.8%", ...); ``extra`` has ``pooled_rate``,
        ``tau2`` and ``ci_method``; ``plot()`` draws the funnel.

    Raises
    ------
    DataError
        Missing columns, an outcome that is not 0/1, impossible counts.
    DesignError
        Neither or both of ``outcome`` and ``count``/``total``.

    Examples
    --------
    >>> import pandas as pd
    >>> counts = pd.DataFrame({"kommune": ["Solrød", "Køge", "Aarhus"], "k": [4, 19, 300], "n": [10, 46, 700]})
    >>> res = small_area_rates(counts, area="kommune", count="k", total="n")
    >>> print(res.tidy()[["area", "rate", "ci_low", "ci_high", "eb_rate"]].round(3).to_string(index=False))
      area  rate  ci_low  ci_high  eb_rate
    Solrød 0.400   0.168    0.687    0.427
      Køge 0.413   0.283    0.557    0.427
    Aarhus 0.429   0.392    0.466    0.427

    The three rates differ by less than chance would make them differ, so
    the empirical-Bayes rates all equal the pooled rate (``tau^2 = 0``).
    """
    frame = as_frame(data)
    if (outcome is None) == (count is None and total is None) or (outcome is None and (count is None or total is None)):
        raise DesignError("give outcome= (a 0/1 column, one row per person) or both count= and total= "
                          "(one row per area), not both.")
    for role, name in (("area", area), ("outcome", outcome), ("count", count), ("total", total)):
        if name is not None and name not in frame.columns:
            raise DataError(f"{role} column {name!r}: no such column. The data have "
                            f"{', '.join(map(repr, list(frame.columns)[:20]))}.")
    if frame[area].isna().any():
        raise DataError(f"area column {area!r} has {int(frame[area].isna().sum())} missing values.")
    if outcome is not None:
        y = frame[outcome]
        if y.isna().any():
            raise DataError(f"outcome column {outcome!r} has {int(y.isna().sum())} missing values.")
        values = pd.to_numeric(y.astype("int64") if y.dtype == bool else y, errors="coerce")
        if values.isna().any() or not values.isin([0, 1]).all():
            raise DataError(f"outcome column {outcome!r} must be 0/1 or boolean; got values {sorted(map(str, y.unique()))[:5]}.")
        agg = values.groupby(frame[area], sort=True).agg(["sum", "size"])
        areas, k, n = agg.index.to_numpy(), agg["sum"].to_numpy(float), agg["size"].to_numpy(float)
    else:
        assert count is not None and total is not None
        if frame[area].duplicated().any():
            raise DataError(f"area column {area!r} repeats areas; with count=/total= give one row per area.")
        areas = frame[area].to_numpy()
        k = pd.to_numeric(frame[count], errors="coerce").to_numpy(float)
        n = pd.to_numeric(frame[total], errors="coerce").to_numpy(float)
        if np.isnan(k).any() or np.isnan(n).any():
            raise DataError(f"count column {count!r} and total column {total!r} must be numbers without missing values.")
    low, high = proportion_ci(k, n, ci_method=ci_method, alpha=alpha)
    eb, p0, tau2 = _eb(k, n)
    rate = k / n
    se0 = np.sqrt(p0 * (1 - p0) / n)
    z95, z998 = stats.norm.ppf(0.975), stats.norm.ppf(0.999)
    dev = np.where(se0 > 0, (rate - p0) / np.where(se0 > 0, se0, 1.0), 0.0)
    funnel = np.select([dev > z998, dev > z95, dev < -z998, dev < -z95],
                       ["above 99.8%", "above 95%", "below 99.8%", "below 95%"], "inside 95%")
    table = pd.DataFrame({"area": areas, "count": k.astype(np.int64), "total": n.astype(np.int64), "rate": rate,
                          "ci_low": low, "ci_high": high, "eb_rate": eb})
    table["rank"] = table["rate"].rank(ascending=False, method="min").astype(np.int64)
    table["eb_rank"] = table["eb_rate"].rank(ascending=False, method="min").astype(np.int64)
    table["funnel"] = funnel
    return TableResult("small_area_rates", f"Rates by {area} ({ci_method} {100 * (1 - alpha):g} % intervals)",
                       table, {"pooled_rate": p0, "tau2": tau2, "ci_method": ci_method, "alpha": alpha,
                               "notes": (f"pooled rate {p0:.4f}; between-area variance tau^2 = {tau2:.3g} "
                                         "(empirical Bayes, method of moments)",)},
                       plotter=_funnel)


def change_index(
    data: Any,
    *,
    area: str,
    post: str,
    pre: str,
    post_time: str | None = None,
    pre_time: str | None = None,
    alpha: float = 0.05,
) -> TableResult:
    """Change against a historical baseline: ``100 (R - 1)`` per area, with an exact interval.

    ``R = (post / post_time) / (pre / pre_time)``: with person-time (or
    window lengths) given, a ratio of rates, so that a 24-month baseline and
    an 8-month follow-up compare fairly; without, a ratio of counts (and the
    result says so). ``pre = 0`` gives no index ("not computable"), as the
    "(*)" municipalities of Flere skal med's Figure 6.

    The interval is the exact conditional one: given ``post + pre = N``,
    ``post ~ Binomial(N, pi)`` with ``pi = R t1 / (R t1 + t0)``; the
    Clopper-Pearson interval of ``pi`` maps to ``R = pi / (1 - pi) * t0 / t1``
    (Breslow & Day 1987, §2.5).

    Parameters
    ----------
    data : DataFrame
        One row per area.
    area, post, pre : str
        Columns: the area, the count after and the count in the baseline.
    post_time, pre_time : str, optional
        Person-time (or window length) of each count.
    alpha : float, default 0.05

    Returns
    -------
    TableResult
        ``kind="change_index"``; per area ``ratio``, ``index``, ``index_low``,
        ``index_high`` and ``computable``.

    References
    ----------
    Breslow, N. E. & Day, N. E. (1987). Statistical Methods in Cancer
    Research II, IARC Sci. Publ. 82, §2.5.

    Examples
    --------
    Nordfyns, Flere skal med Figure 6 (seed 002 §4.5): three times as many, +200.

    >>> import pandas as pd
    >>> t = change_index(pd.DataFrame({"kommune": ["Nordfyns", "X"], "post": [30, 4], "pre": [10, 0]}),
    ...                  area="kommune", post="post", pre="pre").tidy()
    >>> t[["area", "index", "computable"]].values.tolist()
    [['Nordfyns', 200.0, True], ['X', nan, False]]
    """
    frame = as_frame(data)
    for role, name in (("area", area), ("post", post), ("pre", pre), ("post_time", post_time),
                       ("pre_time", pre_time)):
        if name is not None and name not in frame.columns:
            raise DataError(f"{role} column {name!r}: no such column.")
    if (post_time is None) != (pre_time is None):
        raise DesignError("give both post_time= and pre_time= (rates), or neither (counts).")
    alpha = _check_alpha(alpha)
    k1 = pd.to_numeric(frame[post], errors="coerce").to_numpy(float)
    k0 = pd.to_numeric(frame[pre], errors="coerce").to_numpy(float)
    if np.isnan(k1).any() or np.isnan(k0).any() or (k1 < 0).any() or (k0 < 0).any():
        raise DataError(f"count columns {post!r} and {pre!r} must hold counts >= 0 without missing values.")
    if post_time is None:
        t1 = t0 = np.ones(len(frame))
    else:
        t1 = pd.to_numeric(frame[post_time], errors="coerce").to_numpy(float)
        t0 = pd.to_numeric(frame[pre_time], errors="coerce").to_numpy(float)
        if np.isnan(t1).any() or np.isnan(t0).any() or (t1 <= 0).any() or (t0 <= 0).any():
            raise DataError("person-time must be positive for every area.")
    ok = k0 > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(ok, (k1 / t1) / np.where(ok, k0 / t0, 1.0), np.nan)
        n = k1 + k0
        low_pi = np.where(k1 > 0, stats.beta.ppf(alpha / 2, k1, n - k1 + 1), 0.0)
        high_pi = np.where(k0 > 0, stats.beta.ppf(1 - alpha / 2, k1 + 1, n - k1), 1.0)
        low = np.where(ok, low_pi / (1 - low_pi) * t0 / t1, np.nan)
        high = np.where(ok, high_pi / (1 - high_pi) * t0 / t1, np.nan)
    table = pd.DataFrame({"area": frame[area].to_numpy(), "post": k1, "pre": k0, "ratio": ratio,
                          "index": 100 * (ratio - 1), "index_low": 100 * (low - 1), "index_high": 100 * (high - 1),
                          "computable": ok})
    basis = "rates per person-time" if post_time else "counts (windows of unequal length are not comparable)"
    return TableResult("change_index", f"Change against the baseline, 100 (R - 1), R a ratio of {basis.split(' (')[0]}",
                       table, {"basis": basis, "not_computable": table.loc[~ok, "area"].tolist(),
                               "notes": (f"ratio of {basis}; {int((~ok).sum())} area(s) without baseline events: "
                                         "not computable",)})
