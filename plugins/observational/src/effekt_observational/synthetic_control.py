"""Synthetic control for a few treated aggregate units (Abadie, Diamond & Hainmueller 2010)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import optimize

from effekt.errors import DesignError
from effekt.plotting import COLOURS, figure_and_axes
from effekt.protocol import EstimatorTags, Synthetic
from effekt.result import EffectResult, EffectTable, monte_carlo_p_value
from effekt.vocabulary import Choice, validated
from effekt_observational._synth_panel import check_synth_panel
from effekt_observational.vocabulary_panel import PREDICTOR_WEIGHTS

__all__ = ["SyntheticControl", "simplex_weights"]


def simplex_weights(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``argmin ||A w - b||^2`` over ``w >= 0, sum(w) = 1`` (columns of ``A`` are donors).

    Solved as non-negative least squares with the constraint appended as a heavily
    weighted row (Lawson & Hanson 1974), then polished by SLSQP and renormalised.

    >>> w = simplex_weights(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([0.25, 0.75]))
    >>> np.round(w, 6).tolist()
    [0.25, 0.75]
    """
    scale = max(float(np.abs(A).max()), 1.0)
    big = 1e3 * scale
    w, _ = optimize.nnls(np.vstack([A, big * np.ones((1, A.shape[1]))]), np.append(b, big), maxiter=50 * A.shape[1])
    w = np.maximum(w, 0.0)
    w = w / w.sum() if w.sum() > 0 else np.full(A.shape[1], 1.0 / A.shape[1])
    return w


def _standardise(P: np.ndarray, n_lags: int) -> np.ndarray:
    """Outcome lags on one common scale (the sd of all of them), each covariate on its own sd."""
    sd = P.std(axis=0)
    if n_lags:
        sd[:n_lags] = P[:, :n_lags].std()
    sd[sd == 0] = 1.0
    return P / sd


def _fit_one(Y: np.ndarray, P: np.ndarray, target: int, donors: np.ndarray, pre: np.ndarray,
             method: str) -> tuple[np.ndarray, np.ndarray]:
    """Donor weights and predictor weights V for one treated (or placebo) unit.

    ``P`` (units x predictors) is standardised over the target and its donors.
    """
    # the weights sum to 1, so centring each predictor and period leaves every fit unchanged and keeps
    # the problem well scaled for outcomes far from 0 (e.g. + 1e9); centre before scaling so that the
    # scale is not computed from shifted values, and put the pre-period outcomes on one scale so that
    # the optimiser's tolerances mean the same whatever the outcome's units
    Pc = P[np.append(donors, target)]
    Ps = _standardise(Pc - Pc.mean(axis=0), int(pre.sum()))
    Zc = Y[np.append(donors, target)][:, pre]
    Zc = Zc - Zc.mean(axis=0)
    z_sd = float(Zc.std())
    Zc = Zc / (z_sd if z_sd > 0 else 1.0)
    X0, x1 = Ps[:-1].T, Ps[-1]
    Z0, z1 = Zc[:-1].T, Zc[-1]
    K = X0.shape[0]

    def weights(v: np.ndarray) -> np.ndarray:
        r = np.sqrt(v)
        return simplex_weights(r[:, None] * X0, r * x1)

    if method == "equal" or K == 1:
        v = np.full(K, 1.0 / K)
        return weights(v), v
    if method == "regression":
        # regress the pre-period outcomes on the predictors across units (with a constant):
        # v_k proportional to the sum over periods of the squared coefficients
        D = np.column_stack([np.ones(X0.shape[1] + 1), np.vstack([X0.T, x1])])
        Z = np.vstack([Z0.T, z1])
        beta = np.linalg.lstsq(D, Z, rcond=None)[0][1:]
        v = (beta**2).sum(axis=1)
        v = v / v.sum() if v.sum() > 0 else np.full(K, 1.0 / K)
        return weights(v), v

    # nested: V minimises the pre-period MSPE of the outcome (ADH 2010, sec. 2.3), v = softmax(theta)
    def loss(theta: np.ndarray) -> float:
        with np.errstate(under="ignore"):  # a weight far below the others is 0: harmless
            e = np.exp(theta - theta.max())
            v = e / e.sum()
        w = weights(v)
        return float(np.mean((z1 - Z0 @ w) ** 2))

    starts = [np.zeros(K)]
    _, v_reg = _fit_one(Y, P, target, donors, pre, "regression")
    starts.append(np.log(np.maximum(v_reg, 1e-8)))
    best = min((optimize.minimize(loss, s, method="Nelder-Mead",
                                  options={"maxiter": 200 * K, "xatol": 1e-4, "fatol": 1e-10}) for s in starts),
               key=lambda r: r.fun)
    with np.errstate(under="ignore"):
        e = np.exp(best.x - best.x.max())
        v = e / e.sum()
    return weights(v), v


def _subset_p_value(treated: np.ndarray, placebo: np.ndarray) -> float:
    """Permutation p-value of the treated units' mean RMSPE ratio: the share of all ``k``-subsets of the
    ``k + J`` units (treated and placebo) whose mean ratio is at least the treated one (the observed
    subset counts). Exact up to 200,000 subsets; beyond, 200,000 random subsets (seed 0)."""
    from itertools import combinations
    from math import comb

    allr = np.concatenate([treated, placebo])
    k, N = treated.size, allr.size
    observed = float(treated.mean())
    tol = 1e-12 * abs(observed)
    if comb(N, k) <= 200_000:
        idx = np.array(list(combinations(range(N), k)))
        means = allr[idx].mean(axis=1)
        return float(np.mean(means >= observed - tol))
    rng = np.random.default_rng(0)
    draws = np.argsort(rng.random((200_000, N)), axis=1)[:, :k]
    return monte_carlo_p_value(int(np.sum(allr[draws].mean(axis=1) >= observed - tol)), 200_000)


def _rmspe(gap: np.ndarray) -> float:
    return float(np.sqrt(np.mean(gap**2)))


def _plot(res: Any, *, ax: Any = None, labels: Mapping[Any, str] | None = None, kind: str = "gaps",
          **_: Any) -> Any:
    """``kind="gaps"``: treated minus synthetic with the placebo gaps in grey; ``"trajectory"``: the
    treated units and their synthetic controls; ``"ratios"``: post/pre RMSPE ratios, treated marked."""
    if kind not in ("gaps", "trajectory", "ratios"):
        raise DesignError(f"kind={kind!r}: use 'gaps', 'trajectory' or 'ratios'.")
    extra = res.extra
    fig, ax = figure_and_axes(ax)
    periods = np.asarray(extra["periods"], dtype=float)
    start = periods[np.asarray(extra["post"], dtype=bool)][0]
    names = dict(labels or {})
    if kind == "ratios":
        ratios = np.asarray(extra["placebo_ratios"], dtype=float)
        ax.hist(ratios, bins=max(5, min(30, ratios.size)), color="#BBBBBB", label="placebo units")
        for i, (unit, r) in enumerate(extra["ratio_by_unit"].items()):
            ax.axvline(r, color=COLOURS[i % len(COLOURS)], lw=2, label=names.get(unit, str(unit)))
        ax.set_xlabel("post / pre RMSPE")
        ax.set_ylabel("units")
        ax.legend(frameon=False)
        return fig
    if kind == "gaps":
        for g in extra["placebo_gaps"]:
            ax.plot(periods, g, color="#BBBBBB", lw=0.8)
    for i, unit in enumerate(extra["treated_units"]):
        colour = COLOURS[i % len(COLOURS)]
        shown = names.get(unit, str(unit))
        treated = np.asarray(extra["treated_path"][unit])
        synth = np.asarray(extra["synthetic_path"][unit])
        if kind == "gaps":
            ax.plot(periods, treated - synth, color=colour, lw=2, label=shown)
        else:
            ax.plot(periods, treated, color=colour, lw=2, label=shown)
            ax.plot(periods, synth, color=colour, lw=2, ls="--", label=f"synthetic {shown}")
    if kind == "gaps":
        ax.axhline(0, color="black", lw=0.8)
    ax.axvline(start, color="black", ls=":", lw=1)
    ax.set_xlabel("period")
    ax.set_ylabel("gap (treated - synthetic)" if kind == "gaps" else str(res.outcome))
    ax.legend(frameon=False)
    return fig


class SyntheticControl:
    """Synthetic control: each treated unit against a convex combination of untreated donors.

    Estimand: the average, over the treated units and the post periods, of
    the gap ``Y_1t - sum_j w_j Y_jt`` (ATT for the treated units observed).

    Formula (Abadie, Diamond & Hainmueller 2010, eq. 1-2): predictors ``X``
    are the pre-period outcomes (on one common scale) and the pre-period
    means of ``covariates`` (each divided by its sd across units); ``w = argmin (X_1 - X_0 w)' V (X_1 - X_0 w)`` over the
    simplex; ``V`` diagonal by ``predictor_weights``: ``'nested'`` (minimise
    the outcome's pre-period MSPE over V, ADH's method; Nelder-Mead from equal
    and regression-based starts), ``'regression'`` (``v_k`` the squared
    coefficients of predictor ``k`` in a regression of the pre-period
    outcomes on the predictors across units) or ``'equal'``.

    Inference: placebo in space (ADH 2010, sec. 2.4). Each donor in turn is
    treated as if treated, with the other donors as its pool; the statistic is
    the ratio of post- to pre-period RMSPE; the p-value
    ``(1 + #{placebo ratios >= treated ratio}) / (1 + J)`` (never below
    ``1 / (J + 1)``: with 19 donors no p-value is under 0.05). With ``k``
    treated units the average's statistic is their mean ratio, referred to
    the means of every ``k``-subset of the treated and placebo units. There is no
    standard error and no interval (``ci_method='none'``).

    Parameters
    ----------
    data : DataFrame
        Long format, one row per unit and period, balanced.
    outcome : str
    unit : str
    period : str
    treatment : str
        0/1 per unit: 1 for the treated units (constant over time).
    arms : tuple, default=None
        ``(control, treated)`` labels of a text treatment column.
    post : str
        0/1 per period: the periods after the start (common to the treated).
    covariates : list of str, default=None
        Further predictors, averaged over each unit's pre-period rows.
    predictor_weights : {"nested", "regression", "equal"}, default="nested"
    alpha : float, default=0.05
        Not used for an interval (there is none); kept for the common signature.
    missing : {"error", "drop"}, default="error"

    Returns
    -------
    EffectTable
        One row per treated unit (term ``"<unit>"``) and the headline
        ``"average"``; ``p_value`` from the placebo ratios. ``extra``:
        ``weights`` (donor weights by treated unit), ``predictor_weights``
        (V), ``pre_rmspe``, ``post_rmspe``, ``ratio_by_unit``,
        ``placebo_ratios``, paths for the plots; ``.plot(kind="gaps" |
        "trajectory" | "ratios")``.

    Raises
    ------
    DataError
        Bad columns, an unbalanced panel (a period missing for a unit), no
        pre-period, a donor pool of fewer than two units.

    References
    ----------
    Abadie, A., Diamond, A. & Hainmueller, J. (2010). Synthetic control methods for
    comparative case studies. JASA 105(490), 493-505. doi:10.1198/jasa.2009.ap08746

    Examples
    --------
    >>> import effekt as ef
    >>> syn = SyntheticControl.simulate(np.random.default_rng(0), n=20, effect=2.0)
    >>> res = ef.estimate("synthetic_control", data=syn.data, **syn.spec)
    >>> abs(res.estimate - 2.0) < 0.5, res.p_value == 1 / (1 + res.extra["sims"])
    (True, True)
    """

    name: ClassVar[str] = "synthetic_control"
    estimand: ClassVar[str] = "att"
    kind: ClassVar[str] = "did"
    tags: ClassVar[EstimatorTags] = EstimatorTags(outcome="panel", supports_covariates=True, sign_flip=False,
                                                  coverage_check=False)
    options: ClassVar[dict[str, Any]] = {"predictor_weights": Choice(PREDICTOR_WEIGHTS)}

    @classmethod
    def simulate(cls, rng: np.random.Generator, *, n: int = 20, effect: float = 1.0) -> Synthetic:
        """One treated region among ``n`` donors on two factors; 12 periods before, 4 after."""
        n_donors = max(int(n) // 10, 8)
        T, T0 = 16, 12
        loadings = rng.random((n_donors + 1, 2))
        loadings[0] = loadings[1:4].mean(axis=0)  # the treated unit lies inside the donors' hull
        factors = np.cumsum(rng.normal(0, 1, (T, 2)), axis=0) + 5
        Y = loadings @ factors.T + rng.normal(0, 0.05, (n_donors + 1, T))
        Y[0, T0:] += effect
        rows = [(f"r{i:02d}", t, int(i == 0), int(t >= T0), Y[i, t]) for i in range(n_donors + 1) for t in range(T)]
        data = pd.DataFrame(rows, columns=["region", "period", "treated", "post", "y"])
        spec = {"outcome": "y", "unit": "region", "period": "period", "treatment": "treated", "post": "post"}
        return Synthetic(data=data, spec=spec, truth=effect, outcome="y", treatment="treated")

    @validated
    def fit(
        self,
        data: Any,
        *,
        outcome: str,
        unit: str,
        period: str,
        treatment: str,
        arms: tuple[Any, Any] | None = None,
        post: str,
        covariates: Sequence[str] | str | None = None,
        predictor_weights: str = "nested",
        alpha: float = 0.05,
        missing: str = "error",
    ) -> EffectTable:
        sp = check_synth_panel(data, outcome=outcome, unit=unit, period=period, treatment=treatment, post=post,
                               arms=arms, covariates=covariates, missing=missing, estimator=self.name)
        Y, pre, aft = sp.Y, ~sp.post, sp.post
        P = Y[:, pre] if sp.X is None else np.column_stack([Y[:, pre], sp.X])
        treated_idx = [int(i) for i in np.flatnonzero(sp.treated)]
        donors = np.flatnonzero(~sp.treated)
        labels = [str(v) for v in sp.unit_labels]
        fits: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for i in treated_idx:
            fits[i] = _fit_one(Y, P, i, donors, pre, predictor_weights)
        placebo_ratios, placebo_gaps = [], []
        for j in (int(v) for v in donors):
            pool = donors[donors != j]
            w, _ = _fit_one(Y, P, j, pool, pre, predictor_weights)
            gap = Y[j] - w @ Y[pool]
            pre_r = _rmspe(gap[pre])
            placebo_ratios.append(_rmspe(gap[aft]) / pre_r if pre_r > 0 else np.inf)
            placebo_gaps.append(gap.tolist())
        ratios = np.asarray(placebo_ratios)
        J = ratios.size
        rows, weights, vs, pre_rmspe, post_rmspe, ratio_by = [], {}, {}, {}, {}, {}
        treated_path, synth_path, gaps = {}, {}, []
        for i in treated_idx:
            w, v = fits[i]
            gap = Y[i] - w @ Y[donors]
            name = labels[i]
            pr, po = _rmspe(gap[pre]), _rmspe(gap[aft])
            ratio = po / pr if pr > 0 else np.inf
            extreme = int(np.sum(ratios >= ratio - 1e-12 * abs(ratio)))
            weights[name] = {labels[d]: float(x) for d, x in zip(donors, w) if x > 1e-10}
            vs[name] = [float(x) for x in v]
            pre_rmspe[name], post_rmspe[name], ratio_by[name] = pr, po, float(ratio)
            treated_path[name], synth_path[name] = Y[i].tolist(), (w @ Y[donors]).tolist()
            gaps.append(gap)
            rows.append(self._row(float(gap[aft].mean()), monte_carlo_p_value(extreme, J), name, sp, alpha, outcome,
                                  {"pre_rmspe": pr, "post_rmspe": po, "rmspe_ratio": float(ratio), "sims": J}))
        # the average over the treated units: its statistic is the mean of their ratios
        mean_ratio = float(np.mean([ratio_by[labels[i]] for i in treated_idx]))
        if len(treated_idx) == 1:
            p_avg = rows[0].p_value
        else:
            p_avg = _subset_p_value(np.array([ratio_by[labels[i]] for i in treated_idx]), ratios)
        avg = float(np.mean([g[aft].mean() for g in gaps]))
        headline = self._row(avg, p_avg, "average", sp, alpha, outcome, {"rmspe_ratio": mean_ratio, "sims": J})
        extra = {
            "weights": weights, "predictor_weights": vs, "predictor_weights_method": predictor_weights,
            "predictors": [f"{outcome}[{p}]" for p in sp.period_labels[pre]] + sp.covariate_names,
            "pre_rmspe": pre_rmspe, "post_rmspe": post_rmspe, "ratio_by_unit": ratio_by,
            "placebo_ratios": ratios.tolist(), "placebo_units": [labels[j] for j in donors], "sims": J,
            "periods": [float(p) for p in sp.period_labels], "post": sp.post.tolist(),
            "treated_units": [labels[i] for i in treated_idx], "treated_path": treated_path,
            "synthetic_path": synth_path, "placebo_gaps": placebo_gaps,
            "p_value_minimum": 1.0 / (J + 1),
        }
        return EffectTable(self.name, (*rows, headline), extra=extra, warnings=tuple(sp.notes),
                           headline_term="average", plotter=_plot)

    def _row(self, est: float, p: float, term: str, sp: Any, alpha: float, outcome: str,
             extra: dict[str, Any]) -> EffectResult:
        return EffectResult(
            estimator=self.name, estimand=self.estimand, term=term, estimate=est, std_error=float("nan"),
            conf_int=(float("nan"), float("nan")), conf_level=1 - alpha, p_value=p, df=None, n=sp.n,
            n_units=len(sp.unit_labels), se_type=None, design="synthetic_control", ci_method="none",
            outcome=outcome, extra=extra,
        )
