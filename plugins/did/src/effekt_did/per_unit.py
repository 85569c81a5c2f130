"""Per-unit DiD effects against a pooled comparison, with shrinkage and heterogeneity."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from effekt.data import label
from effekt.errors import DataError, DesignError, EstimationError
from effekt.protocol import EstimatorTags, Synthetic
from effekt.result import EffectResult, EffectTable
from effekt.sandwich import robust_ols
from effekt.vocabulary import Choice, validated
from effekt_did._panel import check_panel

__all__ = ["PerUnitEffects", "PerUnitTable", "holm", "benjamini_hochberg", "random_effects", "plot_per_unit"]


def holm(p: np.ndarray) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values."""
    m = p.size
    order = np.argsort(p, kind="stable")
    adj = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini & Hochberg (1995) step-up adjusted p-values (q-values)."""
    m = p.size
    order = np.argsort(p, kind="stable")
    raw = p[order] * m / np.arange(1, m + 1)
    adj = np.minimum.accumulate(raw[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out


def random_effects(est: np.ndarray, var: np.ndarray) -> dict[str, float]:
    """DerSimonian-Laird random-effects summary: mu, its SE, tau^2, Q, I^2.

    ``Q = sum w_j (y_j - ybar_w)^2`` with ``w_j = 1/v_j``;
    ``tau^2 = max(0, (Q - (k-1)) / (sum w - sum w^2 / sum w))``;
    ``I^2 = max(0, (Q - (k-1)) / Q)`` (Higgins & Thompson 2002, eq. 9).
    """
    k = est.size
    w = 1.0 / var
    ybar = float(np.sum(w * est) / w.sum())
    Q = float(np.sum(w * (est - ybar) ** 2))
    c = float(w.sum() - np.sum(w**2) / w.sum())
    tau2 = max(0.0, (Q - (k - 1)) / c) if c > 0 else 0.0
    i2 = max(0.0, (Q - (k - 1)) / Q) if Q > 0 else 0.0
    ws = 1.0 / (var + tau2)
    mu = float(np.sum(ws * est) / ws.sum())
    return {"mu": mu, "mu_var": float(1.0 / ws.sum()), "tau2": tau2, "Q": Q, "Q_df": k - 1,
            "Q_p_value": float(stats.chi2.sf(Q, k - 1)) if k > 1 else float("nan"), "I2": i2}


def plot_per_unit(table: EffectTable, *, ax: Any = None, labels: Mapping[Any, str] | None = None,
                  highlight: Sequence[Any] = (), title: str | None = None) -> Any:
    """Forest plot: each unit's effect and CI (filled), its shrunken
    estimate (open), the pooled random-effects mean (diamond). Units in
    ``highlight`` are starred; ``labels`` maps unit labels to the names
    shown. Returns a matplotlib Figure built without pyplot."""
    from effekt.plotting import ARM_COLOURS, COLOURS, figure_and_axes, label_for, reference_line

    rows = [r for r in table.rows if r.term != "pooled"]
    k = len(rows)
    fig, axes = figure_and_axes(ax, size=(6.4, 0.35 * k + 1.5))
    yy = np.arange(k)[::-1] + 1.0
    est = np.array([r.estimate for r in rows])
    lo = np.array([r.conf_int[0] for r in rows])
    hi = np.array([r.conf_int[1] for r in rows])
    shr = np.array([r.extra["shrunken"] for r in rows])
    hl = {str(h) for h in highlight}
    names = [f"{label_for(r.extra.get('unit', r.term), labels, r.term)}{' *' if r.term in hl else ''}" for r in rows]
    axes.errorbar(est, yy, xerr=[est - lo, hi - est], fmt="s", color=COLOURS[0], capsize=2, label="unit effect")
    axes.plot(shr, yy, "o", mfc="white", color=COLOURS[1], label="empirical-Bayes")
    pooled = table.term("pooled")
    xs = [pooled.conf_int[0], pooled.estimate, pooled.conf_int[1], pooled.estimate]
    axes.fill(xs, [0.0, 0.25, 0.0, -0.25], color=ARM_COLOURS[1], label="pooled (random effects)")
    reference_line(axes, 0.0, vertical=True)
    axes.set_yticks(list(yy) + [0.0], names + [label_for("pooled", labels)])
    axes.grid(False, axis="y")
    het = table.extra["heterogeneity"]
    axes.set_title(title or f"per-unit effects (I\u00b2 = {100 * het['I2']:.0f}%, \u03c4\u00b2 = {het['tau2']:.3g})")
    axes.set_xlabel("effect")
    axes.legend(frameon=False, loc="best")
    return fig


@dataclass(frozen=True, repr=False)
class PerUnitTable(EffectTable):
    """Per-unit effects; ``plot(ax=None, labels=None, highlight=())`` draws the forest plot."""


class PerUnitEffects:
    """Each treated unit's DiD effect against the pooled comparison change.

    Estimand: for treated unit j, ``tau_j = (Y_j,post - Y_j,pre) - (Y_C,post -
    Y_C,pre)``, its own change minus the change of all comparison units pooled
    (the HIR caseload evaluation's per-job-centre effects).

    Formula: cell means from a saturated least-squares fit (weighted when
    ``weights`` is given) with a robust covariance of all cell means (HC2
    over rows, or CR2 with ``clusters``, e.g. the citizen, so that a
    citizen's before and after are correlated); ``tau = L m`` with the
    contrast matrix L and ``Var(tau) = L V L'``. p-values are normal; Holm
    and Benjamini-Hochberg adjust them across units. Heterogeneity uses each
    unit's own change and variance (the common comparison change cancels):
    DerSimonian-Laird ``tau^2``, Cochran's Q and ``I^2``; the empirical-Bayes
    estimate is ``mu + B_j (tau_j - mu)``, ``B_j = tau^2 / (tau^2 + v_j)``.

    Defaults and why: HC2, the unbiased variance of a difference in cell
    means under independence; pass ``clusters`` for repeated measures
    (then CR2).

    Parameters
    ----------
    data : DataFrame
    outcome : str
        The outcome column.
    unit : str
        The unit whose effect is estimated (e.g. the job centre).
    treatment : str
        The group, constant within unit: 0/1, or two labels declared with
        ``arms``.
    arms : tuple, default=None
        ``(control, treated)`` labels of a text treatment column.
    post : str
        0/1 after-period.
    clusters : str, default=None
        E.g. the citizen, whose before and after are correlated.
    weights : str, default=None
    se_type : {"HC2", "HC0", "HC1", "HC3", "classical", "CR2", "CR0", "CR1"}, default=None
        The covariance of the cell means: HC types without clusters
        (default HC2), CR types with them (default CR2).
    alpha : float, default=0.05
    missing : {"error", "drop"}, default="error"

    Returns
    -------
    PerUnitTable
        One row per treated unit, termed by its label (``extra``: change,
        comparison change, Holm and BH adjusted p, flags, shrunken estimate;
        ``n`` the unit's and the comparison group's rows, ``n_treated`` the
        unit's) and a last row ``"pooled"``, the headline (random-effects
        mean; ``n`` all rows); ``extra["heterogeneity"]`` holds tau^2, I^2,
        Q; ``.plot(ax=None, labels=None)`` draws the forest plot.

    Raises
    ------
    DataError
        A unit without rows before or after; a treatment varying within unit.
    EstimationError
        Fewer than 2 treated units.

    References
    ----------
    DerSimonian & Laird (1986). Controlled Clinical Trials 7(3), 177-188. doi:10.1016/0197-2456(86)90046-2
    Higgins & Thompson (2002). Statistics in Medicine 21(11), 1539-1558. doi:10.1002/sim.1186
    Holm (1979). Scand. J. Statistics 6(2), 65-70.
    Benjamini & Hochberg (1995). JRSS B 57(1), 289-300. doi:10.1111/j.2517-6161.1995.tb02031.x

    Examples
    --------
    >>> import effekt as ef
    >>> syn = PerUnitEffects.simulate(np.random.default_rng(0), n=400, effect=1.0)
    >>> tab = ef.estimate("per_unit_effects", data=syn.data, **syn.spec)
    >>> tab.rows[-1].term, sorted(tab.extra["heterogeneity"])[:2]
    ('pooled', ['I2', 'Q'])
    """

    name: ClassVar[str] = "per_unit_effects"
    estimand: ClassVar[str] = "att_by_unit"
    kind: ClassVar[str] = "did"
    tags: ClassVar[EstimatorTags] = EstimatorTags(outcome="panel", supports_clusters=True, supports_weights=True,
                                                  sign_flip=False)
    options: ClassVar[dict[str, Any]] = {
        "se_type": Choice(("HC2", "HC0", "HC1", "HC3", "classical", "CR2", "CR0", "CR1"), none_ok=True),
    }

    @classmethod
    def simulate(cls, rng: np.random.Generator, *, n: int = 400, effect: float = 1.0) -> Synthetic:
        n_units, n_t = 12, 5
        per = max(int(n) // (2 * n_units), 5)
        unit = np.repeat(np.arange(n_units), 2 * per)
        post = np.tile(np.repeat([0, 1], per), n_units)
        treated = (unit < n_t).astype(int)
        y = rng.normal(size=n_units)[unit] + 0.5 * post + effect * treated * post + rng.normal(size=unit.size)
        data = pd.DataFrame({"unit": unit, "post": post, "treated": treated, "y": y})
        spec = {"outcome": "y", "unit": "unit", "treatment": "treated", "post": "post"}
        return Synthetic(data=data, spec=spec, truth=effect, outcome="y", treatment="treated")

    @validated
    def fit(self, data: Any, *, outcome: str, unit: str, treatment: str, arms: tuple[Any, Any] | None = None,
            post: str, clusters: str | None = None, weights: str | None = None, se_type: str | None = None,
            alpha: float = 0.05, missing: str = "error") -> PerUnitTable:
        clustered = clusters is not None
        if se_type is None:
            se_type = "CR2" if clustered else "HC2"
        if clustered != se_type.startswith("CR"):
            raise DesignError(
                f"{self.name}: se_type={se_type!r} " + ("needs clusters=." if not clustered else
                "ignores the clusters; with clusters= use 'CR2', 'CR1' or 'CR0'.")
            )
        panel = check_panel(data, outcome=outcome, unit=unit, period=None, treatment=treatment, arms=arms,
                            post=post, clusters=clusters, weights=weights, missing=missing, estimator=self.name)
        assert panel.group is not None and panel.post is not None
        k = panel.n_units
        g_unit = np.zeros(k, dtype=bool)
        g_unit[panel.unit] = panel.group == 1
        t_units = np.flatnonzero(g_unit)
        if t_units.size < 2:
            raise EstimationError(f"{t_units.size} treated unit(s): per-unit effects need at least 2.")
        # cells: treated unit j before/after (2j, 2j+1), pooled comparison before/after (last two)
        m = t_units.size
        pos = np.full(k, -1)
        pos[t_units] = np.arange(m)
        upos = pos[panel.unit]
        cell = np.where(upos >= 0, 2 * upos, 2 * m) + panel.post
        counts = np.bincount(cell, minlength=2 * m + 2)
        if counts.min() == 0:
            c = int(np.argmin(counts))
            who = ("the comparison group" if c >= 2 * m else
                   f"unit {label(panel.unit_labels[t_units[c // 2]])} of unit column {panel.names['unit']!r}")
            raise DataError(f"{who} has no rows {'after' if c % 2 else 'before'} the start (post column "
                            f"{panel.names['post']!r}); every treated unit and the comparison group need rows in "
                            "both windows.")
        X = np.zeros((panel.n, 2 * m + 2))
        X[np.arange(panel.n), cell] = 1.0
        rf = robust_ols(X, panel.y, se_type=se_type, clusters=panel.clusters, weights=panel.weights,
                        df_coefs=[], outcome=outcome)
        mu, V = rf.coef, rf.vcov
        L = np.zeros((m, 2 * m + 2))
        L[np.arange(m), 2 * np.arange(m) + 1] = 1.0
        L[np.arange(m), 2 * np.arange(m)] = -1.0
        L[:, 2 * m + 1] -= 1.0
        L[:, 2 * m] += 1.0
        tau = L @ mu
        Vt = L @ V @ L.T
        se = np.sqrt(np.diag(Vt))
        if np.any(se <= 0):
            raise EstimationError("a unit's effect has zero variance: its outcome is constant in both windows.")
        z = tau / se
        p = 2 * stats.norm.sf(np.abs(z))
        p_holm, p_bh = holm(p), benjamini_hochberg(p)
        # heterogeneity on each unit's own change (the comparison change is common)
        Lj = L.copy()
        Lj[:, 2 * m:] = 0.0
        own_var = np.diag(Lj @ V @ Lj.T)
        re = random_effects(tau, own_var)
        comp_var = float(np.array([-1.0, 1.0]) @ V[2 * m:, 2 * m:] @ np.array([-1.0, 1.0]))
        shrink = re["tau2"] / (re["tau2"] + own_var)
        eb = re["mu"] + shrink * (tau - re["mu"])
        common: dict[str, Any] = dict(estimator=self.name, estimand=self.estimand, se_type=se_type, design="pooled",
                                      outcome=outcome)
        n_comp = int(counts[2 * m] + counts[2 * m + 1])
        comp_change = float(mu[2 * m + 1] - mu[2 * m])
        rows = []
        for j, u in enumerate(t_units):
            ex = {"change": float(mu[2 * j + 1] - mu[2 * j]), "comparison_change": comp_change,
                  "p_holm": float(p_holm[j]), "p_bh": float(p_bh[j]), "significant_holm": bool(p_holm[j] < alpha),
                  "significant_bh": bool(p_bh[j] < alpha), "shrunken": float(eb[j]), "shrinkage": float(shrink[j])}
            n_j = int(counts[2 * j] + counts[2 * j + 1])
            ex["unit"] = panel.unit_labels[u].item() if hasattr(panel.unit_labels[u], "item") else panel.unit_labels[u]
            rows.append(EffectResult.from_z(tau[j], se[j], alpha=alpha, term=str(panel.unit_labels[u]),
                                            n=n_j + n_comp, n_treated=n_j, n_control=n_comp, n_units=1, extra=ex,
                                            **common))
        pooled_se = float(np.sqrt(re["mu_var"] + comp_var))
        rows.append(EffectResult.from_z(re["mu"], pooled_se, alpha=alpha, term="pooled", n=panel.n,
                                        n_treated=panel.n - n_comp, n_control=n_comp, n_units=k,
                                        n_clusters=None if panel.cluster_labels is None else len(panel.cluster_labels),
                                        extra={"method": "DerSimonian-Laird random effects"},
                                        **{**common, "estimand": "att"}))
        het = {k2: re[k2] for k2 in ("tau2", "I2", "Q", "Q_df", "Q_p_value")}
        extra = {"heterogeneity": het, "comparison_change": comp_change, "n_treated_units": m,
                 "holm_rejections": int(np.sum(p_holm < alpha)), "bh_rejections": int(np.sum(p_bh < alpha))}
        return PerUnitTable(estimator=self.name, rows=tuple(rows), extra=extra, headline_term="pooled",
                            plotter=plot_per_unit)

