"""Covariate balance before and after matching or weighting.

The rows are effekt's :class:`effekt.design.BalanceTable`, with its SMD
formulas (:func:`effekt.design.balance.smd_numeric`,
:func:`~effekt.design.balance.smd_binary`, Austin 2009, eq. 2 and 3): the
means (or shares) are the weighted ones, and the standardising SD is the
*unweighted* pooled SD of the sample before adjustment, in both tables, so
that a change in the SMD is a change in the difference of means and not in
its yardstick (Austin 2009, section 3; cobalt's default). ``variance_ratio``
is the (weighted) treated variance over the control variance of a numeric
covariate (Rubin 2001: near 1, and within [0.5, 2]). ``|SMD| > threshold``
(default 0.1) is flagged.

References
----------
Austin, P. C. (2009). Statistics in Medicine 28, 3083-3107. doi:10.1002/sim.3697
Rubin, D. B. (2001). Using propensity scores to help design observational studies. Health Services
and Outcomes Research Methodology 2, 169-188. doi:10.1023/A:1020363010465
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from effekt.design import BalanceTable
from effekt.design.balance import smd_numeric
from effekt.plotting import ARM_COLOURS, COLOURS, figure_and_axes, label_for, reference_line
from effekt.result import to_jsonable

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["BalanceComparison", "weighted_balance", "compare_balance", "balance_of"]

_NO_TEST = {"statistic": float("nan"), "p_value": float("nan"), "sims": 0, "exact": False,
            "method": "none (balance after adjustment is described, not tested)"}


def _wmean(x: np.ndarray, w: np.ndarray) -> float:
    return float(np.sum(w * x) / np.sum(w))


def _wvar(x: np.ndarray, w: np.ndarray) -> float:
    """Weighted variance with the reliability-weights correction (equal weights: ddof=1)."""
    s1, s2 = np.sum(w), np.sum(w**2)
    m = np.sum(w * x) / s1
    denom = s1 - s2 / s1
    return float(np.sum(w * (x - m) ** 2) / denom) if denom > 0 else 0.0


def weighted_balance(
    X: np.ndarray,
    names: Sequence[str],
    z: np.ndarray,
    w: np.ndarray | None = None,
    *,
    threshold: float = 0.1,
    arms: tuple[Any, Any] = (0, 1),
    reference: np.ndarray | None = None,
    reference_z: np.ndarray | None = None,
) -> BalanceTable:
    """A :class:`BalanceTable` of ``X`` by arm under weights ``w`` (equal weights when ``None``).

    ``reference``/``reference_z`` give the sample whose unweighted pooled SD
    standardises the differences (default: ``X`` itself). A 0/1 column is
    described as binary (shares, the binary SMD's denominator), others as
    numeric.
    """
    z = z.astype(bool)
    w = np.ones(len(z)) if w is None else np.asarray(w, dtype=float)
    R, rz = (X, z) if reference is None else (reference, np.asarray(reference_z, dtype=bool))
    rows = []
    for j, name in enumerate(names):
        x, r = X[:, j], R[:, j]
        binary = bool(np.all(np.isin(r, (0.0, 1.0))))
        m1, m0 = _wmean(x[z], w[z]), _wmean(x[~z], w[~z])
        v1, v0 = _wvar(x[z], w[z]), _wvar(x[~z], w[~z])
        if binary:
            p1, p0 = r[rz].mean(), r[~rz].mean()
            s1, s0 = np.sqrt(p1 * (1 - p1)), np.sqrt(p0 * (1 - p0))
        else:
            # an arm of one row has no SD (NaN in the table, without numpy's warning)
            s1, s0 = (float(r[m].std(ddof=1)) if m.sum() > 1 else float("nan") for m in (rz, ~rz))
        rows.append({
            "variable": str(name), "level": "", "kind": "binary" if binary else "numeric",
            "mean_treated": m1, "sd_treated": np.sqrt(v1), "mean_control": m0, "sd_control": np.sqrt(v0),
            "smd": smd_numeric(m1, s1, m0, s0),  # Austin (2009), eq. 2 (eq. 3 for shares)
            "variance_ratio": (v1 / v0 if v0 > 0 else float("nan")) if not binary else float("nan"),
        })
    table = pd.DataFrame(rows)
    table["flagged"] = table["smd"].abs() > threshold
    w1, w0 = w[z], w[~z]
    ess = {"treated": float(w1.sum() ** 2 / np.sum(w1**2)), "control": float(w0.sum() ** 2 / np.sum(w0**2))}
    return BalanceTable(table, dict(_NO_TEST), threshold, arms, int(z.sum()), int((~z).sum()),
                        extra={"effective_sample_size": ess})


@dataclass(frozen=True)
class BalanceComparison:
    """Balance before and after adjustment: two :class:`BalanceTable` s and a love plot of both."""

    before: BalanceTable
    after: BalanceTable

    def tidy(self) -> pd.DataFrame:
        """Both tables stacked, with a ``stage`` column ('before', 'after')."""
        return pd.concat([self.before.tidy().assign(stage="before"), self.after.tidy().assign(stage="after")],
                         ignore_index=True)

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable({"before": self.before.to_dict(), "after": self.after.to_dict()})  # type: ignore[no-any-return]

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def summary(self) -> str:
        b, a = self.before.table, self.after.table
        both = pd.DataFrame({"variable": b["variable"], "smd_before": b["smd"], "smd_after": a["smd"],
                             "vr_before": b["variance_ratio"], "vr_after": a["variance_ratio"],
                             "flagged_after": a["flagged"]})
        n_flag = int(a["flagged"].sum())
        return "\n".join([
            f"Balance before and after adjustment (|SMD| > {self.after.threshold:g} flagged: "
            f"{int(b['flagged'].sum())} before, {n_flag} after)",
            both.to_string(index=False),
        ])

    def plot(self, *, ax: Any = None, labels: Mapping[Any, str] | None = None) -> Figure:
        """The love plot: |SMD| of every covariate before (open) and after (filled) adjustment."""
        names = [label_for(v, labels) for v in self.before.table["variable"]]
        fig, axes = figure_and_axes(ax, size=(6.4, 0.35 * len(names) + 1.2))
        y = np.arange(len(names))[::-1]
        before = self.before.table["smd"].abs().to_numpy(dtype=float)
        after = self.after.table["smd"].abs().to_numpy(dtype=float)
        axes.scatter(before, y, facecolors="none", edgecolors=COLOURS[0], label="before", zorder=3)
        axes.scatter(after, y, color=ARM_COLOURS[1], label="after", zorder=3)
        axes.axvline(self.after.threshold, color="grey", linestyle="--", linewidth=0.8)
        reference_line(axes, 0.0, vertical=True)
        axes.set_yticks(y, names)
        axes.grid(False, axis="y")
        axes.set_xlabel("absolute standardised mean difference")
        axes.set_title(f"Balance before and after adjustment (|SMD| > {self.after.threshold:g} flagged)")
        axes.legend(frameon=False, loc="lower right")
        return fig

    love_plot = plot


def compare_balance(
    X: np.ndarray, names: Sequence[str], z: np.ndarray, w: np.ndarray, *, threshold: float = 0.1,
    arms: tuple[Any, Any] = (0, 1),
) -> BalanceComparison:
    """Balance of ``X`` unweighted and under ``w`` (zero weight drops a unit), on the same yardstick."""
    keep = w > 0
    before = weighted_balance(X, names, z, None, threshold=threshold, arms=arms)
    after = weighted_balance(X[keep], names, z[keep], w[keep], threshold=threshold, arms=arms,
                             reference=X, reference_z=z)
    return BalanceComparison(before, after)


def _table(d: Mapping[str, Any]) -> BalanceTable:
    frame = pd.DataFrame(list(d["table"]))
    return BalanceTable(frame, dict(_NO_TEST), d["threshold"], tuple(d["arms"]), d["n_treated"], d["n_control"],
                        extra=dict(d.get("extra", {})))


def balance_of(result: Any) -> BalanceComparison:
    """The balance before and after of a matching or weighting result (from ``extra['balance']``).

    >>> import effekt as ef
    >>> from effekt_observational.weighting import IPW
    >>> syn = IPW.simulate(np.random.default_rng(1), n=400)
    >>> res = ef.estimate("ipw", data=syn.data, **syn.spec)
    >>> bal = balance_of(res)
    >>> bool((bal.after.table["smd"].abs() < bal.before.table["smd"].abs()).all())
    True
    """
    d = result.extra["balance"]
    return BalanceComparison(_table(d["before"]), _table(d["after"]))
