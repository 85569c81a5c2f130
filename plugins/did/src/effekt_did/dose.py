"""Dose DiD: the effect per unit of a continuous treatment intensity."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from effekt.data import as_frame, is_categorical, label
from effekt.errors import DataError, EstimationError
from effekt.protocol import EstimatorTags, Synthetic
from effekt.result import EffectResult
from effekt.sandwich import robust_ols
from effekt.vocabulary import Choice, validated
from effekt_did._panel import check_panel

__all__ = ["DoseDiD"]


def _unit_changes(y: np.ndarray, unit: np.ndarray, post: np.ndarray, k: int,
                  w: np.ndarray | None, labels: np.ndarray, column: Any, post_column: Any) -> np.ndarray:
    """Each unit's (weighted) mean after minus mean before."""
    ww = np.ones_like(y) if w is None else w
    s1 = np.bincount(unit, weights=ww * y * post, minlength=k)
    n1 = np.bincount(unit, weights=ww * post, minlength=k)
    s0 = np.bincount(unit, weights=ww * y * (1 - post), minlength=k)
    n0 = np.bincount(unit, weights=ww * (1 - post), minlength=k)
    bad = np.flatnonzero((n1 == 0) | (n0 == 0))
    if bad.size:
        shown = ", ".join(label(u) for u in labels[bad[:5]])
        raise DataError(f"{bad.size} unit(s) of unit column {column!r} have no rows before or no rows after "
                        f"({shown}{', ...' if bad.size > 5 else ''}) in post column {post_column!r}; each unit's "
                        "change needs both windows.")
    return s1 / n1 - s0 / n0  # type: ignore[no-any-return]


class DoseDiD:
    """Dose DiD: how the DiD effect grows with a continuous treatment intensity.

    Estimand: the average causal response per unit of dose (ACRT) under
    strong parallel trends, in its linear form: the slope of the treated
    units' effects on their dose (Callaway, Goodman-Bacon & Sant'Anna 2024,
    sec. 3; with one period before and after the slope is the same whether
    the comparison change is subtracted or not).

    Formula: for each unit ``Delta_j = mean(y | after) - mean(y | before)``;
    for the treated ``effect_j = Delta_j - Delta_C``, ``Delta_C`` the pooled
    change of the comparison units (rows weighted, i.e. citizen-weighted).
    Then least squares ``effect_j = a + beta dose_j`` over treated units:
    ``beta`` is the estimate, ``a + beta mean(dose)`` the ATT at the mean
    dose (``extra``). Each treated unit counts once (a unit-level, i.e.
    ecological, slope).

    Defaults and why: HC2 with ``n_treated - 2`` degrees of freedom; the
    treated units are independent clusters and HC2 is unbiased under
    homoskedasticity in small samples (MacKinnon & White 1985).

    Parameters
    ----------
    data : DataFrame
    outcome : str
        The outcome column.
    unit : str
        The unit that receives a dose (e.g. the job centre).
    post : str
        0/1 after-period.
    dose : str
        Intensity per unit (constant within unit), e.g. caseload reduction.
    treatment : str, default=None
        The treated group: 0/1, or two labels declared with ``arms``.
        Default: treated = ``dose != 0``.
    arms : tuple, default=None
        ``(control, treated)`` labels of a text treatment column.
    weights : str, default=None
        Row weights within units.
    se_type : {"HC2", "HC1", "HC0", "HC3", "classical"}, default=None
        None is HC2, the design-based default for the unit-level regression.
    alpha : float, default=0.05
    missing : {"error", "drop"}, default="error"

    Returns
    -------
    EffectResult
        ``term`` is the dose column; ``extra["unit_effects"]`` lists each
        treated unit's dose and effect; ``extra["correlation"]``. ``n``
        counts rows, ``n_treated`` and ``n_control`` the rows of treated
        and comparison units; ``n_units`` the units.

    Raises
    ------
    DataError
        Bad columns, a dose varying within a unit, units missing a window.
    EstimationError
        Fewer than 3 treated units or a dose with no variation.

    References
    ----------
    Callaway, Goodman-Bacon & Sant'Anna (2024). Difference-in-differences
    with a continuous treatment. NBER WP 32117. doi:10.3386/w32117

    Examples
    --------
    >>> import effekt as ef
    >>> syn = DoseDiD.simulate(np.random.default_rng(0), n=60, effect=0.5)
    >>> res = ef.estimate("dose_did", data=syn.data, **syn.spec)
    >>> res.term, res.se_type
    ('dose', 'HC2')
    """

    name: ClassVar[str] = "dose_did"
    estimand: ClassVar[str] = "acrt"
    kind: ClassVar[str] = "did"
    tags: ClassVar[EstimatorTags] = EstimatorTags(outcome="panel", supports_weights=True, sign_flip=False)
    options: ClassVar[dict[str, Any]] = {"se_type": Choice(("HC2", "HC1", "HC0", "HC3", "classical"), none_ok=True)}

    @classmethod
    def simulate(cls, rng: np.random.Generator, *, n: int = 60, effect: float = 0.5) -> Synthetic:
        n_units = max(int(n), 10)
        n_t = n_units // 2
        unit = np.repeat(np.arange(n_units), 2)
        post = np.tile([0, 1], n_units)
        dose = np.where(np.arange(n_units) < n_t, rng.uniform(0, 10, n_units), 0.0)[unit]
        y = rng.normal(size=n_units)[unit] + 0.3 * post + effect * dose * post + rng.normal(size=unit.size)
        data = pd.DataFrame({"unit": unit, "post": post, "dose": dose, "y": y,
                             "treated": (dose > 0).astype(int)})
        spec = {"outcome": "y", "unit": "unit", "post": "post", "dose": "dose", "treatment": "treated"}
        return Synthetic(data=data, spec=spec, truth=effect, outcome="y", treatment="treated")

    @validated
    def fit(self, data: Any, *, outcome: str, unit: str, post: str, dose: str, treatment: str | None = None,
            arms: tuple[Any, Any] | None = None, weights: str | None = None, se_type: str | None = None,
            alpha: float = 0.05, missing: str = "error") -> EffectResult:
        frame = as_frame(data)
        if not isinstance(dose, str | int) or isinstance(dose, bool) or dose not in frame.columns:
            raise DataError(f"dose={dose!r}: no such column. The data have "
                            f"{', '.join(map(repr, list(frame.columns)[:20]))}.")
        if dose in frame.columns and is_categorical(frame[dose]):
            raise DataError(f"dose column {dose!r} holds text or categories; a dose is a number per unit. "
                            "Convert it, e.g. with pandas.to_numeric.")
        panel = check_panel(frame, outcome=outcome, unit=unit, period=None, post=post, treatment=treatment,
                            arms=arms, weights=weights, covariates=[dose], missing=missing, estimator=self.name)
        assert panel.X is not None and panel.post is not None
        d_row = panel.X[:, 0]
        k = panel.n_units
        lo = np.full(k, np.inf)
        hi = np.full(k, -np.inf)
        np.minimum.at(lo, panel.unit, d_row)
        np.maximum.at(hi, panel.unit, d_row)
        if np.any(lo != hi):
            raise DataError(f"dose column {dose!r} must be constant within each unit of unit column {unit!r}; "
                            f"{int(np.sum(lo != hi))} unit(s) have several values.")
        d = lo
        if panel.group is not None:
            g = np.zeros(k)
            g[panel.unit] = panel.group
            treated = g == 1
        else:
            treated = d != 0
        if treated.sum() < 3:
            raise EstimationError(f"{int(treated.sum())} treated unit(s): a dose slope needs at least 3.")
        if np.ptp(d[treated]) == 0:
            raise EstimationError(f"dose column {dose!r} takes one value among the treated units; the "
                                  "effect per unit of dose is not identified.")
        post_f = panel.post.astype(float)
        delta = _unit_changes(panel.y, panel.unit, post_f, k, panel.weights, panel.unit_labels, unit, post)
        control = ~treated
        delta_c = 0.0
        if control.any():
            rows_c = control[panel.unit]
            ww = np.ones(panel.n) if panel.weights is None else panel.weights
            wc = ww * rows_c
            delta_c = float(np.sum(wc * panel.y * post_f) / np.sum(wc * post_f)
                            - np.sum(wc * panel.y * (1 - post_f)) / np.sum(wc * (1 - post_f)))
        eff = delta[treated] - delta_c
        dt = d[treated]
        X = np.column_stack([np.ones(dt.size), dt])
        se_type = "HC2" if se_type is None else se_type
        rf = robust_ols(X, eff, se_type=se_type, names=["(Intercept)", dose], outcome=outcome)
        att_mean = float(rf.coef[0] + rf.coef[1] * dt.mean())
        extra = {
            "intercept": float(rf.coef[0]),
            "att_at_mean_dose": att_mean,
            "mean_dose": float(dt.mean()),
            "comparison_change": delta_c if control.any() else None,
            "correlation": float(np.corrcoef(dt, eff)[0, 1]),
            "unit_effects": pd.DataFrame({"unit": panel.unit_labels[treated], "dose": dt,
                                          "effect": eff}).to_dict("records"),
        }
        warns = [] if control.any() else ["no comparison units: the slope is identified, the effect level is not"]
        return EffectResult.from_t(rf.coef[1], rf.std_error[1], rf.df[1], alpha=alpha, estimator=self.name,
                                   estimand=self.estimand, term=str(dose), n=panel.n,
                                   n_treated=int(treated[panel.unit].sum()),
                                   n_control=int(control[panel.unit].sum()), n_units=k,
                                   se_type=se_type, design="unit_dose", warnings=warns, extra=extra,
                                   outcome=outcome)
