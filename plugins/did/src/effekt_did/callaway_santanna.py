"""Callaway & Sant'Anna (2021): group-time ATTs for staggered adoption."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from effekt.data import check_option, check_positive_int, check_seed
from effekt.errors import DataError, DesignError
from effekt.protocol import EstimatorTags, Synthetic
from effekt.result import EffectResult, EffectTable, check_alpha
from effekt_did._cs_kernels import aggregate, att_gt, multiplier_bootstrap
from effekt_did._panel import check_panel

__all__ = ["CallawaySantAnna", "simulate_staggered"]

_AGG = ("simple", "group", "dynamic", "calendar", "none")


def _wide(panel: Any) -> tuple[np.ndarray, np.ndarray]:
    """(n_units, n_periods) outcome matrix and the row order; DataError unless balanced."""
    n_u, n_t = panel.n_units, panel.n_times
    if panel.n != n_u * n_t or not panel.is_panel:
        counts = np.bincount(panel.unit, minlength=n_u)
        short = np.flatnonzero(counts != n_t)
        raise DataError(
            f"callaway_santanna needs a balanced panel: {short.size} of {n_u} units are not observed "
            f"exactly once in each of the {n_t} periods (e.g. {panel.names['unit']!r} = "
            f"{panel.unit_labels[short[:3]].tolist()}). Drop those units (R did does the same with "
            "panel=TRUE) or analyse a balanced subset."
        )
    Y = np.empty((n_u, n_t))
    Y[panel.unit, panel.time] = panel.y
    return Y, panel.unit * n_t + panel.time


class CallawaySantAnna:
    """Group-time average treatment effects ATT(g, t) and their aggregations.

    Estimand: ``ATT(g, t) = E[Y_t(g) - Y_t(0) | G = g]``, the effect in
    period t on the cohort first treated in period g, identified by parallel
    trends with never-treated or not-yet-treated comparison units; and its
    aggregations: ``simple`` (cohort-size weighted average of post-treatment
    cells), ``group`` (by cohort), ``dynamic`` (by event time e = t - g) and
    ``calendar`` (by period).

    Formula: ``ATT(g,t) = E[Y_t - Y_b | G=g] - E[Y_t - Y_b | C]`` with base
    ``b = g - 1 - anticipation`` (and ``b = t - 1`` for pre-periods when
    ``base_period="varying"``), or its covariate-adjusted form: outcome
    regression (``reg``), standardised inverse probability weighting (``ipw``)
    or doubly robust (``dr``; Sant'Anna & Zhao 2020). Standard errors from the
    influence functions, ``se = sqrt(sum psi_i^2) / n``; aggregations include
    the influence of the estimated cohort shares.

    Defaults and why: R did's: never-treated comparisons, varying base
    period, ``est_method="dr"`` (without covariates all three coincide),
    analytic SEs (``sims=0``); ``sims=999`` gives multiplier-
    bootstrap SEs and uniform confidence bands over the reported rows.

    Parameters
    ----------
    data : DataFrame
        Balanced panel, one row per unit and period.
    outcome, unit, time : str
    treatment : str
        First treated period (a value of ``time``); 0 = never treated (R
        did's convention). Cohorts treated in the first period are dropped
        with a warning (no pre-period); a first treated period after the
        last period counts as never treated.
    covariates : list of str, optional
        Taken in each comparison's base period.
    control_group : {"nevertreated", "notyettreated"}, default "nevertreated"
    est_method : {"dr", "ipw", "reg"}, default "dr"
    base_period : {"varying", "universal"}, default "varying"
    anticipation : int, default 0
    aggregate : {"simple", "group", "dynamic", "calendar", "none"}, default "simple"
        ``"simple"`` returns one ``EffectResult``; the others an
        ``EffectTable`` whose first row is the overall effect (``"none"``:
        the ATT(g, t) rows).
    weights : str, optional
        Unit weights (constant within unit), normalised to mean 1.
    clusters : str, optional
        Only for the bootstrap: draws are shared within clusters.
    sims : int, default 0
    alpha : float, default 0.05
    seed : int or Generator, optional

    Returns
    -------
    EffectResult or EffectTable
        ``extra["att_gt"]`` lists every ATT(g, t) with its SE; with the
        bootstrap, ``extra["uniform_crit"]`` and each row's
        ``extra["uniform_conf_int"]``.

    Raises
    ------
    DataError
        Unbalanced panel, a first treated period that is not a period of
        the data, a treatment or weight varying within a unit.
    DesignError
        No never-treated units with ``control_group="nevertreated"``,
        unknown options.

    Notes
    -----
    Point estimates and analytic SEs follow R did 2.x (``att_gt``,
    ``compute.att_gt``, ``aggte``). The bootstrap uses Rademacher weights
    and the rescaled interquartile range, as R did (``BMisc``'s multiplier
    bootstrap); with ``clusters`` it multiplies each cluster's *sum* of
    influence functions, the cluster-robust form, where R did multiplies
    cluster *means* (the two agree for clusters of equal size). Tests compare
    ATT(g, t) with diff-diff and csdid.

    References
    ----------
    Callaway & Sant'Anna (2021). J. Econometrics 225(2), 200-230. doi:10.1016/j.jeconom.2020.12.001
    Sant'Anna & Zhao (2020). J. Econometrics 219(1), 101-122. doi:10.1016/j.jeconom.2020.06.003

    Examples
    --------
    >>> import effekt as ef
    >>> syn = CallawaySantAnna.simulate(np.random.default_rng(0), n=200, effect=1.0)
    >>> res = ef.estimate("callaway_santanna", data=syn.data, **syn.spec)
    >>> res.estimand, bool(abs(res.estimate - 1.0) < 4 * res.std_error)
    ('att', True)
    """

    name: ClassVar[str] = "callaway_santanna"
    estimand: ClassVar[str] = "att"
    kind: ClassVar[str] = "did"
    tags: ClassVar[EstimatorTags] = EstimatorTags(outcome="panel", supports_covariates=True,
                                                  supports_weights=True, supports_clusters=True,
                                                  binary_treatment=False, sign_flip=False)

    @classmethod
    def simulate(cls, rng: np.random.Generator, *, n: int = 200, effect: float = 1.0) -> Synthetic:
        data = simulate_staggered(rng, n_units=max(int(n), 40), n_times=6, cohorts=(3, 5), effect=effect)
        spec = {"outcome": "y", "unit": "unit", "time": "time", "treatment": "first_treat"}
        return Synthetic(data=data, spec=spec, truth=effect, outcome="y", treatment="first_treat")

    def fit(
        self,
        data: Any,
        *,
        outcome: str,
        unit: str,
        time: str,
        treatment: str,
        covariates: Sequence[str] | None = None,
        control_group: str = "nevertreated",
        est_method: str = "dr",
        base_period: str = "varying",
        anticipation: int = 0,
        aggregate: str = "simple",
        weights: str | None = None,
        clusters: str | None = None,
        sims: int = 0,
        alpha: float = 0.05,
        seed: Any = None,
        missing: str = "error",
    ) -> EffectResult | EffectTable:
        check_alpha(alpha)
        check_option(control_group, "control_group", ("nevertreated", "notyettreated"))
        check_option(est_method, "est_method", ("dr", "ipw", "reg"))
        check_option(base_period, "base_period", ("varying", "universal"))
        check_option(aggregate, "aggregate", _AGG)
        if sims:
            check_positive_int(sims, "sims", minimum=99)
        if isinstance(anticipation, bool) or not isinstance(anticipation, (int, np.integer)) or anticipation < 0:
            raise DesignError(f"anticipation must be a whole number >= 0; got {anticipation!r}.")
        panel = check_panel(data, outcome=outcome, unit=unit, time=time, treatment=treatment, staggered=True,
                            weights=weights, clusters=clusters, covariates=covariates, missing=missing,
                            estimator=self.name)
        Y, cell = _wide(panel)
        n, T = Y.shape
        times = panel.time_labels.astype(float)
        g_unit = np.zeros(n)
        assert panel.cohort is not None
        g_unit[panel.unit] = panel.cohort
        warns: list[str] = []
        G = np.full(n, -1, dtype=np.intp)
        treated = g_unit != 0
        late = treated & (g_unit > times.max())
        on_grid = np.isin(g_unit, times)
        bad = treated & ~late & ~on_grid
        if bad.any():
            raise DataError(
                f"treatment column {treatment!r} must hold the first treated period (a value of "
                f"{time!r}) or 0 for never treated; {int(bad.sum())} unit(s) have "
                f"{np.unique(g_unit[bad])[:5].tolist()}, which are not periods of the data."
            )
        G[treated & on_grid] = np.searchsorted(times, g_unit[treated & on_grid])
        first = G == 0
        if first.any() and not (G > 0).any():
            raise DataError(
                f"treatment column {treatment!r} must hold each unit's first treated period, 0 for never "
                f"treated; every treated unit has the first period of the data ({times[0]:g}), so no cohort has "
                "a pre-treatment period. A 0/1 treatment indicator is not a first treated period: compute it, "
                "e.g. the first period in which a unit is treated."
            )
        if first.any():
            warns.append(f"{int(first.sum())} unit(s) treated in the first period were dropped: they have no "
                         "pre-treatment period (R did does the same).")
        keep_units = ~first
        if late.any():
            warns.append(f"{int(late.sum())} unit(s) first treated after the last period are counted as never "
                         "treated.")
        w = np.ones(n)
        if panel.weights is not None:
            w = np.zeros(n)
            w[panel.unit] = panel.weights
            if np.any(w[panel.unit] != panel.weights):
                raise DataError(f"weights column {weights!r} must be constant within each unit (unit weights, as "
                                "in R did); some units have several values.")
        Xb = None
        if panel.X is not None:
            k = panel.X.shape[1]
            Xw = np.empty((n, T, k))
            Xw[panel.unit, panel.time] = panel.X
            Xb = np.concatenate([np.ones((n, T, 1)), Xw], axis=2).transpose(1, 0, 2)  # (T, n, k+1)
        cl = None
        if panel.clusters is not None:
            cl_u = np.zeros(n, dtype=np.intp)
            cl_u[panel.unit] = panel.clusters
            cl = cl_u
        if not keep_units.all():
            Y, G, w = Y[keep_units], G[keep_units], w[keep_units]
            Xb = None if Xb is None else Xb[:, keep_units]
            cl = None if cl is None else np.unique(cl[keep_units], return_inverse=True)[1]
        n = Y.shape[0]
        w = w / w.mean()
        if control_group == "nevertreated" and not (G < 0).any():
            raise DesignError(
                "control_group='nevertreated' needs units that are never treated (treatment = 0), and "
                "there are none. Use control_group='notyettreated'."
            )
        if not (G >= 0).any():
            raise DataError(f"no unit is ever treated: treatment column {treatment!r} is 0 for every unit.")
        cells, inf = att_gt(Y, G, w, Xb, control_group=control_group, base_period=base_period,
                            anticipation=int(anticipation), method=est_method)
        att = np.array([c.att for c in cells])
        se_gt = np.sqrt((inf**2).sum(axis=0)) / n
        rng = check_seed(seed) if sims else None
        att_gt_rows = [{"group": float(times[c.g]), "time": float(times[c.t]), "base": float(times[c.base]),
                        "att": float(a), "std.error": float(s), "n_treated": c.n_treated, "n_control": c.n_control}
                       for c, a, s in zip(cells, att, se_gt)]
        n_treated = int((G >= 0).sum())
        common: dict[str, Any] = dict(estimator=self.name, n=panel.n, n_treated=n_treated, n_control=n - n_treated,
                      design=f"staggered, {control_group}", outcome=outcome)
        se_type = "influence function" if not sims else "multiplier bootstrap"
        extra_tab: dict[str, Any] = {"control_group": control_group, "est_method": est_method,
                                     "base_period": base_period, "anticipation": int(anticipation)}
        if aggregate == "none":
            labels = [f"ATT(g={times[c.g]:g},t={times[c.t]:g})" for c in cells]
            est, psi, overall = att, inf, None
        else:
            comp, overall = _aggregate(aggregate, cells, inf, G, w, times)
            labels = [lab for lab, *_ in comp]
            est = np.array([c[1] for c in comp])
            psi = np.column_stack([c[2] for c in comp]) if comp else np.empty((n, 0))
        allpsi = psi if overall is None else np.column_stack([overall[1], psi])
        allest = est if overall is None else np.concatenate([[overall[0]], est])
        alllab = labels if overall is None else ["overall"] + labels
        se = np.sqrt((allpsi**2).sum(axis=0)) / n
        crit = None
        if sims:
            assert rng is not None
            se_b, crit = multiplier_bootstrap(allpsi, cl, rng, int(sims), alpha)
            se = se_b
            extra_tab.update(uniform_crit=crit, sims=int(sims))
        extra_tab["att_gt"] = att_gt_rows
        rows = []
        for j, (lab, e, s) in enumerate(zip(alllab, allest, se)):
            ex: dict[str, Any] = {}
            if crit is not None:
                ex["uniform_conf_int"] = (float(e - crit * s), float(e + crit * s))
            if j == 0:
                ex.update(extra_tab)
            rows.append(_row(e, s, alpha, lab, se_type, ex, warns, aggregate, common))
        if aggregate == "simple":
            return rows[0]
        return EffectTable(estimator=self.name, rows=tuple(rows), extra=extra_tab, warnings=tuple(warns),
                           headline_term=rows[0].term)


def _aggregate(kind: str, cells: Any, inf: np.ndarray, G: np.ndarray, w: np.ndarray, times: np.ndarray
               ) -> tuple[list[tuple[str, float, np.ndarray, int]], tuple[float, np.ndarray]]:
    return aggregate(kind, cells, inf, G, w, times)


def _row(est: float, se: float, alpha: float, term: str, se_type: str, extra: dict[str, Any],
         warns: list[str], aggregate: str, common: dict[str, Any]) -> EffectResult:
    if se > 0 and np.isfinite(se):
        return EffectResult.from_z(est, se, alpha=alpha, term=term, estimand="att", se_type=se_type, extra=extra,
                                   warnings=warns, **common)
    # a reference cell (universal base) is 0 by construction
    nan = float("nan")
    return EffectResult(estimate=float(est), std_error=nan, conf_int=(nan, nan), conf_level=1 - alpha,
                        p_value=nan, df=None, term=term, estimand="att", se_type=se_type, ci_method="none",
                        extra={**extra, "reference": True}, warnings=tuple(warns), **common)


def simulate_staggered(
    rng: np.random.Generator,
    *,
    n_units: int,
    n_times: int,
    cohorts: Sequence[int],
    effect: float,
    dynamic: float = 0.0,
    x_effect: float = 0.0,
) -> pd.DataFrame:
    """A balanced staggered panel: cohorts first treated in ``cohorts`` (period
    values 1..n_times), a never-treated share, unit and period effects, an
    effect ``effect + dynamic * (t - g)`` after adoption, and a covariate
    ``x`` that shifts trends by ``x_effect * x * t``."""
    unit = np.repeat(np.arange(n_units), n_times)
    time = np.tile(np.arange(1, n_times + 1), n_units)
    choices = np.array([0, *cohorts])
    g_u = choices[rng.integers(0, choices.size, n_units)]
    x_u = rng.normal(size=n_units) + 0.5 * (g_u > 0)
    g = g_u[unit]
    x = x_u[unit]
    te = np.where((g > 0) & (time >= g), effect + dynamic * (time - g), 0.0)
    y = rng.normal(size=n_units)[unit] + 0.2 * time + x_effect * x * time + te + rng.normal(size=unit.size)
    return pd.DataFrame({"unit": unit, "time": time, "first_treat": g, "x": x, "y": y})
