"""Sensitivity of the ACME to a violation of sequential ignorability.

Sequential ignorability fails when an unmeasured variable drives both the
mediator and the outcome. Imai, Keele & Yamamoto (2010) measure the
violation by rho, the correlation between the errors of the mediator and
outcome models (rho = 0 under sequential ignorability), and show the ACME
as a function of rho. The same violation reads as R-tilde^2 products: the
share of the *total* variance of mediator and outcome that the confounder
would explain, R~2_M R~2_Y = rho^2 (1 - R2_M)(1 - R2_Y), or of the variance
left unexplained, R*2_M R*2_Y = rho^2.

Three model pairs have the analysis, as in R's ``medsens()``:

* linear mediator, linear outcome (with or without T x M interaction): the
  two equations are estimated as a seemingly unrelated regression with the
  error correlation fixed at rho, by iterated feasible GLS (IKY 2010, sec.
  4.1); ACME(t) = a_z(rho) (b_m(rho) + t b_zm(rho)); delta-method intervals
  from the SUR covariance.
* linear mediator, probit outcome (no interaction): the reduced-form probit
  and the mediator model identify everything but rho (IKY 2010, appendix);
  intervals from quasi-Bayesian draws of both models' coefficients and of
  the mediator's error variance.
* probit mediator, linear outcome: the outcome equation is corrected by the
  generalised residual of the probit (a Heckman-type control function, with
  the variance of the remaining error), iterated to a fixed point in the
  outcome error's standard deviation; intervals from quasi-Bayesian draws.

At rho = 0 each reproduces the main estimate of ``mediation`` exactly.

Differences from R ``medsens()`` (mediation 4.5.0):

* the interval of the linear case includes the cross-equation covariance of
  a_z and b_m, which R drops;
* linear mediator with probit outcome: R computes the correlation of the
  reduced-form and mediator errors as s g / (1 + sqrt(s^2 g^2)); the
  derivation gives s g / sqrt(1 + s^2 g^2) (only this form returns the
  main estimate at rho = 0), and that is used here;
* probit mediator: the control-function regression is weighted by the
  inverse of the conditional error variance 1 - rho^2 lambda (lambda + mu);
  R weights by the variance itself;
* the rho at which the ACME is zero is the root of ACME(rho), not the grid
  point nearest to it.

References
----------
Imai, K., Keele, L. & Yamamoto, T. (2010). Identification, inference and
sensitivity analysis for causal mediation effects. Statistical Science
25(1), 51-71, doi:10.1214/10-STS321 (sec. 4, eqs. 17-19).
Imai, K., Keele, L. & Tingley, D. (2010). Psychological Methods 15(4),
309-334, doi:10.1037/a0020761 (sec. "Sensitivity analysis").
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from effekt.data import check_positive_int, check_seed
from effekt.errors import DesignError, EstimationError
from effekt.mediation._design import Problem, prepare
from effekt.mediation._glm import fit_model
from effekt.plotting import (
    ARM_COLOURS,
    COLOURS,
    INTERVAL_ALPHA,
    LINE_WIDTH,
    figure_and_axes,
    label_for,
    reference_line,
)
from effekt.result import FrozenDict, check_alpha, freeze, to_jsonable

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["MediationSensitivity", "sensitivity"]


@dataclass(frozen=True, repr=False)
class MediationSensitivity:
    """ACME as a function of the error correlation rho.

    Arrays are aligned with ``rho``. ``rho_at_zero`` holds, for the control
    and treated ACME, the rho at which it crosses zero (``None`` when it does
    not on (-1, 1)); ``r2_star_prod`` and ``r2_tilde_prod`` translate each
    rho into the R*2 and R~2 products.

    A result like every other (:class:`effekt.result.Result`): ``tidy()``
    (one row per rho), ``summary()``, ``to_dict()``, ``to_json()`` and
    ``plot(ax=None, labels=None)``. It is immutable: the arrays are
    read-only and ``extra``, ``rho_at_zero`` and ``estimate`` are read-only
    mappings.
    """

    rho: np.ndarray
    acme_control: np.ndarray
    acme_treated: np.ndarray
    ci_control: np.ndarray  # (len(rho), 2)
    ci_treated: np.ndarray
    rho_at_zero: Mapping[str, float | None]
    r2_star_prod: np.ndarray
    r2_tilde_prod: np.ndarray
    r_squared_mediator: float
    r_squared_outcome: float
    conf_level: float
    models: tuple[str, str]
    interaction: bool
    estimate: Mapping[str, float]
    method: str
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        for name in ("rho", "acme_control", "acme_treated", "ci_control", "ci_treated", "r2_star_prod",
                     "r2_tilde_prod"):
            set_(self, name, freeze(np.array(getattr(self, name), dtype=float)))
        for name in ("rho_at_zero", "estimate", "extra"):
            set_(self, name, FrozenDict(getattr(self, name)))
        set_(self, "models", tuple(self.models))
        set_(self, "r_squared_mediator", float(self.r_squared_mediator))
        set_(self, "r_squared_outcome", float(self.r_squared_outcome))
        set_(self, "conf_level", float(self.conf_level))
        set_(self, "interaction", bool(self.interaction))

    @property
    def acme(self) -> np.ndarray:
        """The average of the control and treated ACME at each rho."""
        return (self.acme_control + self.acme_treated) / 2.0  # type: ignore[no-any-return]

    def r2_tilde_at_zero(self) -> dict[str, float | None]:
        """R~2_M R~2_Y at which each ACME is zero."""
        k = (1.0 - self.r_squared_mediator) * (1.0 - self.r_squared_outcome)
        return {t: (None if r is None else r * r * k) for t, r in self.rho_at_zero.items()}

    def tidy(self) -> pd.DataFrame:
        """One row per value of rho: both ACMEs, their intervals, the R*2 and R~2 products."""
        return pd.DataFrame(
            {
                "rho": self.rho,
                "acme_control": self.acme_control,
                "conf.low_control": self.ci_control[:, 0],
                "conf.high_control": self.ci_control[:, 1],
                "acme_treated": self.acme_treated,
                "conf.low_treated": self.ci_treated[:, 0],
                "conf.high_treated": self.ci_treated[:, 1],
                "r2_star_prod": self.r2_star_prod,
                "r2_tilde_prod": self.r2_tilde_prod,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """Every figure, JSON-safe (see :func:`effekt.result.to_jsonable`)."""
        return to_jsonable(  # type: ignore[no-any-return]
            {
                "table": self.tidy(),
                "rho_at_zero": self.rho_at_zero,
                "r2_tilde_at_zero": self.r2_tilde_at_zero(),
                "r_squared_mediator": self.r_squared_mediator,
                "r_squared_outcome": self.r_squared_outcome,
                "conf_level": self.conf_level,
                "models": self.models,
                "interaction": self.interaction,
                "estimate": self.estimate,
                "method": self.method,
                "extra": self.extra,
            }
        )

    def to_json(self, **kwargs: Any) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), **kwargs)

    def summary(self) -> str:
        lines = [
            f"mediation sensitivity ({self.models[0]} mediator, {self.models[1]} outcome; {self.method})",
            f"  ACME at rho = 0: control {self.estimate['acme_control']:.4g}, "
            f"treated {self.estimate['acme_treated']:.4g}",
        ]
        r2t = self.r2_tilde_at_zero()
        for t, r in self.rho_at_zero.items():
            if r is None:
                lines.append(f"  ACME ({t}) does not cross 0 for rho in (-1, 1)")
            else:
                lines.append(f"  ACME ({t}) = 0 at rho = {r:.4f} (R*2 product {r * r:.4f}, "
                             f"R~2 product {r2t[t]:.4f})")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"MediationSensitivity(rho_at_zero={dict(self.rho_at_zero)}, {len(self.rho)} values of rho)"

    def plot(self, *, ax: Any = None, labels: Mapping[Any, str] | None = None, arm: str = "control",
             kind: str = "rho", sign: str = "positive") -> Figure:
        """ACME against rho with its confidence band (``kind="rho"``), or the
        contours of the ACME over R~2_M x R~2_Y (``kind="r2"``) for a
        confounder that moves mediator and outcome in the same direction
        (``sign="positive"``, rho > 0) or in opposite directions
        (``sign="negative"``), as R's ``plot.medsens(sens.par="R2")``.

        ``ax`` draws into an existing matplotlib Axes; ``labels`` maps the
        arm (``"control"``, ``"treated"``, ``"average"``) to the name shown.
        Returns the matplotlib Figure, made without pyplot
        (:func:`effekt.plotting.figure_and_axes`).
        """
        if arm not in ("control", "treated", "average"):
            raise DesignError(f"arm={arm!r} is not an option; use 'control', 'treated' or 'average'.")
        if kind not in ("rho", "r2"):
            raise DesignError(f"kind={kind!r} is not an option; use 'rho' or 'r2'.")
        if sign not in ("positive", "negative"):
            raise DesignError(f"sign={sign!r} is not an option; use 'positive' or 'negative'.")
        fig, axes = figure_and_axes(ax)
        shown = label_for(arm, labels)
        est = {"control": self.acme_control, "treated": self.acme_treated, "average": self.acme}[arm]
        colour = COLOURS[0] if arm == "control" else ARM_COLOURS[1] if arm == "treated" else COLOURS[2]
        if kind == "rho":
            if arm != "average":
                ci = self.ci_control if arm == "control" else self.ci_treated
                axes.fill_between(self.rho, ci[:, 0], ci[:, 1], color=colour, alpha=INTERVAL_ALPHA,
                                  linewidth=0, label=f"{100 * self.conf_level:g}% CI")
            axes.plot(self.rho, est, color=colour, linewidth=LINE_WIDTH, label=f"ACME ({shown})")
            reference_line(axes, 0.0)
            axes.axvline(0.0, color="0.4", linewidth=0.8, linestyle=":")
            axes.axhline(self.estimate[f"acme_{arm}" if arm != "average" else "acme"], color=colour,
                         linewidth=0.8, linestyle="--")
            axes.set_xlabel("sensitivity parameter rho")
            axes.set_ylabel("average causal mediation effect")
            axes.set_xlim(-1, 1)
            axes.legend(loc="best", frameon=False)
        else:
            k = (1.0 - self.r_squared_mediator) * (1.0 - self.r_squared_outcome)
            grid = np.linspace(0.0, 1.0, 101)
            rm, ry = np.meshgrid(grid * (1 - self.r_squared_mediator),
                                 grid * (1 - self.r_squared_outcome))
            rho_grid = (1.0 if sign == "positive" else -1.0) * np.sqrt(rm * ry / k)
            z = np.interp(rho_grid, self.rho, est)
            cs = axes.contour(rm, ry, z, colors=COLOURS[0], linewidths=0.8)
            axes.clabel(cs, fontsize=8)
            axes.set_xlabel("R~2_M: share of the mediator's variance explained by the confounder")
            axes.set_ylabel("R~2_Y: share of the outcome's variance")
        title = f"ACME ({shown}) under confounding of the mediator"
        if kind == "r2":
            title += f" ({'same' if sign == 'positive' else 'opposite'} signs)"
        axes.set_title(title)
        return fig


def sensitivity(
    data: Any,
    *,
    outcome: str,
    treatment: str,
    mediator: str,
    covariates: Any = None,
    blocks: Any = None,
    clusters: Any = None,
    weights: Any = None,
    mediator_model: str = "linear",
    outcome_model: str = "linear",
    interaction: bool = False,
    rho: Any = None,
    sims: int = 1000,
    se_type: str | None = None,
    alpha: float = 0.05,
    seed: Any = None,
    arms: Any = None,
    missing: str = "error",
) -> MediationSensitivity:
    """ACME as a function of the mediator-outcome error correlation rho.

    Parameters are those of :class:`~effekt.mediation.Mediation`, plus:

    rho : array of values in (-1, 1), optional
        Default -0.99, -0.98, ..., 0.99 for linear-linear (cheap) and
        -0.9, -0.8, ..., 0.9 for the binary cases (R's ``rho.by = 0.1``);
        0 is always included. The root ``rho_at_zero`` is exact either way.
    sims : int, default 1000
        Quasi-Bayesian draws for the binary-model cases (unused for linear-linear).
    se_type : {"classical", "HC0", "CR0"}, optional
        Linear-linear only: the SUR covariance, as R's ``medsens()``
        (classical by default; HC0 with ``robustSE=TRUE``; CR0 with
        ``cluster=``, the default when ``clusters`` is given).

    Returns
    -------
    MediationSensitivity
        ``rho``, ACME (control, treated) and intervals, ``rho_at_zero``,
        R*2 and R~2 products, ``plot()``, ``tidy()``.

    Raises
    ------
    DesignError
        An unsupported model pair (logit models: use probit, as R does), an
        interaction with a binary model, rho outside (-1, 1).

    Examples
    --------
    >>> from effekt.mediation import Mediation, sensitivity
    >>> sim = Mediation.simulate(np.random.default_rng(1), n=400, effect=0.5)
    >>> sens = sensitivity(sim.data, outcome="y", treatment="z", mediator="m",
    ...                    covariates=["x"])
    >>> round(float(sens.acme_control[sens.rho == 0][0]), 3)
    0.495
    >>> round(sens.rho_at_zero["control"], 3)
    0.714
    """
    prob = prepare(
        data, outcome=outcome, treatment=treatment, mediator=mediator, covariates=covariates,
        blocks=blocks, clusters=clusters, weights=weights, mediator_model=mediator_model,
        outcome_model=outcome_model, interaction=interaction, arms=arms, missing=missing,
        estimator="mediation sensitivity",
    )
    alpha = check_alpha(alpha)
    pair = (mediator_model, outcome_model)
    supported = {("linear", "linear"), ("linear", "probit"), ("probit", "linear")}
    if pair not in supported:
        raise DesignError(
            f"the sensitivity analysis has no form for a {mediator_model} mediator with a "
            f"{outcome_model} outcome. It covers linear-linear, linear mediator with probit "
            "outcome, and probit mediator with linear outcome (as R's medsens); refit with "
            "probit in place of logit."
        )
    if prob.mediator_level == "cluster":
        raise DesignError(
            "the sensitivity analysis assumes the mediator and outcome errors are paired unit by "
            "unit; with a cluster-level mediator they are not. Use a unit-level mediator."
        )
    if interaction and pair == ("linear", "probit"):
        raise DesignError(
            "the sensitivity analysis for a probit outcome has no form with a treatment x "
            "mediator interaction; refit with interaction=False."
        )
    grid = _rho_grid(rho, 0.01 if pair == ("linear", "linear") else 0.1)
    if pair == ("linear", "linear"):
        se = se_type or ("CR0" if prob.cols.clusters is not None else "classical")
        if se not in ("classical", "HC0", "CR0"):
            raise DesignError(f"se_type={se!r} is not an option here; use 'classical', 'HC0' or 'CR0'.")
        if se == "CR0" and prob.cols.clusters is None:
            raise DesignError("se_type='CR0' needs clusters=.")
        return _linear_linear(prob, grid, alpha, se)
    sims = check_positive_int(sims, "sims", minimum=10)
    rng = check_seed(seed)
    if pair == ("linear", "probit"):
        return _linear_probit(prob, grid, alpha, sims, rng)
    return _probit_linear(prob, grid, alpha, sims, rng)


def _rho_grid(rho: Any, step: float) -> np.ndarray:
    if rho is None:
        k = round(1 / step)
        grid = np.round(np.arange(-(k - 1), k) * step, 2)
    else:
        grid = np.unique(np.append(np.asarray(rho, dtype=float).ravel(), 0.0))
    if not np.all(np.isfinite(grid)) or np.any(np.abs(grid) >= 1.0):
        raise DesignError(f"rho must lie strictly between -1 and 1; got {np.asarray(rho)!r}.")
    return grid


def _root(f: Any, grid: np.ndarray, values: np.ndarray) -> float | None:
    """The rho nearest 0 at which f changes sign, refined by Brent's method."""
    sign = np.sign(values)
    cross = np.flatnonzero(sign[:-1] * sign[1:] <= 0)
    if cross.size == 0:
        return None
    i = cross[np.argmin(np.abs(grid[cross]))]
    if values[i] == 0:
        return float(grid[i])
    if values[i + 1] == 0:
        return float(grid[i + 1])
    return float(optimize.brentq(f, grid[i], grid[i + 1], xtol=1e-12))


# --- linear mediator, linear outcome: SUR with fixed error correlation ---------------------------

class _SUR:
    """Iterated feasible GLS of the mediator and outcome equations with corr(e_M, e_Y) = rho."""

    def __init__(self, prob: Problem, se_type: str) -> None:
        sw = np.sqrt(prob.w)
        self.W = prob.W * sw[:, None]
        self.X = prob.X * sw[:, None]
        self.m = prob.m * sw
        self.y = prob.y * sw
        self.n = prob.cols.n
        self.kw, self.kx = self.W.shape[1], self.X.shape[1]
        self.WW, self.XX, self.WX = self.W.T @ self.W, self.X.T @ self.X, self.W.T @ self.X
        self.Wm, self.Wy, self.Xm, self.Xy = self.W.T @ self.m, self.W.T @ self.y, self.X.T @ self.m, self.X.T @ self.y
        self.start = np.concatenate([np.linalg.solve(self.WW, self.Wm), np.linalg.solve(self.XX, self.Xy)])
        self.se_type = se_type
        self.clusters = prob.cols.clusters

    def _gls(self, omega: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        oi = np.linalg.inv(omega)
        A = np.block([[oi[0, 0] * self.WW, oi[0, 1] * self.WX],
                      [oi[1, 0] * self.WX.T, oi[1, 1] * self.XX]])
        r = np.concatenate([oi[0, 0] * self.Wm + oi[0, 1] * self.Wy,
                            oi[1, 0] * self.Xm + oi[1, 1] * self.Xy])
        return np.linalg.solve(A, r), A, oi

    def _omega(self, b: np.ndarray, rho: float) -> np.ndarray:
        """R's error covariance from the residuals: variances e'e / (n - 1), covariance rho sd1 sd2."""
        e1 = self.m - self.W @ b[: self.kw]
        e2 = self.y - self.X @ b[self.kw:]
        n = self.n
        c = rho * e1.std(ddof=1) * e2.std(ddof=1)
        return np.array([[e1 @ e1 / (n - 1), c], [c, e2 @ e2 / (n - 1)]])

    def fit(self, rho: float) -> tuple[np.ndarray, np.ndarray]:
        """SUR coefficients and covariance at error correlation ``rho``.

        R iterates b -> GLS(Omega(b)) until the squared change is below sqrt(machine eps).
        The GLS solution depends on Omega only through (omega_22 / omega_11,
        omega_12 / omega_11), so the same fixed point is found here by solving that
        two-dimensional equation to full precision (the plain iteration crawls for
        |rho| near 1).
        """
        def state(om: np.ndarray) -> np.ndarray:
            return np.array([om[1, 1] / om[0, 0], om[0, 1] / om[0, 0]])

        def omega_of(s: np.ndarray) -> np.ndarray:
            return np.array([[1.0, s[1]], [s[1], s[0]]])

        def gap(s: np.ndarray) -> np.ndarray:
            b = self._gls(omega_of(s))[0]
            return state(self._omega(b, rho)) - s

        def solved(s: np.ndarray) -> bool:
            return bool(np.max(np.abs(gap(s))) <= 1e-11 * (1.0 + np.max(np.abs(s))))

        s = state(self._omega(self.start, rho))
        sol = optimize.root(gap, s, method="hybr", tol=1e-14)
        if not solved(sol.x):
            for _ in range(20_000):  # R's plain iteration, then polish
                step = gap(s)
                s = s + step
                if np.max(np.abs(step)) < 1e-6 * (1.0 + np.max(np.abs(s))):
                    break
            sol = optimize.root(gap, s, method="hybr", tol=1e-14)
            if not solved(sol.x):
                raise EstimationError(
                    f"the SUR fit at rho = {rho} did not converge; leave out values of rho this extreme."
                )
        b, A, _ = self._gls(omega_of(sol.x))
        oi = np.linalg.inv(self._omega(b, rho))
        A = np.block([[oi[0, 0] * self.WW, oi[0, 1] * self.WX],
                      [oi[1, 0] * self.WX.T, oi[1, 1] * self.XX]])
        bread = np.linalg.inv(A)
        if self.se_type == "classical":
            return b, bread
        e1 = self.m - self.W @ b[: self.kw]
        e2 = self.y - self.X @ b[self.kw:]
        v = np.column_stack([e1, e2]) @ oi  # Omega^-1 u_i, one row per unit
        score = np.column_stack([self.W * v[:, [0]], self.X * v[:, [1]]])
        if self.se_type == "CR0":
            assert self.clusters is not None
            sg = np.zeros((int(self.clusters.max()) + 1, score.shape[1]))
            np.add.at(sg, self.clusters, score)
            score = sg
        return b, bread @ (score.T @ score) @ bread


def _linear_linear(prob: Problem, grid: np.ndarray, alpha: float, se_type: str) -> MediationSensitivity:
    sur = _SUR(prob, se_type)
    kw = sur.kw
    im, izm = kw + prob.y_m, (kw + prob.y_zm) if prob.y_zm is not None else None
    q = stats.norm.ppf(1 - alpha / 2)

    def acme(b: np.ndarray, t: int) -> float:
        return float(b[prob.m_z] * (b[im] + (t * b[izm] if izm is not None else 0.0)))

    def grad(b: np.ndarray, t: int) -> np.ndarray:
        g = np.zeros(b.size)
        slope = b[im] + (t * b[izm] if izm is not None else 0.0)
        g[prob.m_z] = slope
        g[im] = b[prob.m_z]
        if izm is not None:
            g[izm] = t * b[prob.m_z]
        return g

    est = np.empty((grid.size, 2))
    ci = np.empty((grid.size, 2, 2))
    for i, r in enumerate(grid):
        b, V = sur.fit(float(r))
        for j, t in enumerate((0, 1)):
            g = grad(b, t)
            est[i, j] = acme(b, t)
            se = math.sqrt(max(float(g @ V @ g), 0.0))
            ci[i, j] = (est[i, j] - q * se, est[i, j] + q * se)
    roots = {}
    for j, (t, name) in enumerate(((0, "control"), (1, "treated"))):
        roots[name] = _root(lambda r, t=t: acme(sur.fit(float(r))[0], t), grid, est[:, j])
    fm = fit_model("linear", prob.m, prob.W, prob.w, names=prob.m_names, what="mediator")
    fy = fit_model("linear", prob.y, prob.X, prob.w, names=prob.y_names, what="outcome")
    return _result(prob, grid, est, ci, roots, fm.r_squared, fy.r_squared, alpha,
                   f"SUR, {se_type} covariance, delta-method intervals")


def _result(prob: Problem, grid: np.ndarray, est: np.ndarray, ci: np.ndarray, roots: dict[str, float | None],
            r2m: float, r2y: float, alpha: float, method: str, extra: dict[str, Any] | None = None
            ) -> MediationSensitivity:
    at0 = int(np.flatnonzero(grid == 0.0)[0])
    estimate = {"acme_control": float(est[at0, 0]), "acme_treated": float(est[at0, 1]),
                "acme": float(est[at0].mean())}
    return MediationSensitivity(
        rho=grid, acme_control=est[:, 0], acme_treated=est[:, 1], ci_control=ci[:, 0], ci_treated=ci[:, 1],
        rho_at_zero=roots, r2_star_prod=grid**2, r2_tilde_prod=grid**2 * (1 - r2m) * (1 - r2y),
        r_squared_mediator=r2m, r_squared_outcome=r2y, conf_level=1 - alpha,
        models=(prob.m_family, prob.y_family), interaction=prob.y_zm is not None, estimate=estimate,
        method=method, extra=extra or {},
    )


# --- linear mediator, probit outcome ------------------------------------------------------------

def _linear_probit(prob: Problem, grid: np.ndarray, alpha: float, sims: int,
                   rng: np.random.Generator) -> MediationSensitivity:
    fm = fit_model("linear", prob.m, prob.W, prob.w, names=prob.m_names, what="mediator")
    fy = fit_model("probit", prob.y, prob.X, prob.w, names=prob.y_names, what="outcome")
    n, k = prob.W.shape
    dfree = n - k
    a = rng.multivariate_normal(fm.coef, fm.vcov, size=sims, method="cholesky")
    b = rng.multivariate_normal(fy.coef, fy.vcov, size=sims, method="cholesky")
    s2 = np.sqrt(dfree * fm.sigma**2 / rng.chisquare(dfree, size=sims))  # sigma_2 | data, as R
    keep = [j for j in range(prob.X.shape[1]) if j != prob.y_m]
    wn = prob.w / prob.w.sum()
    Xr = prob.X[:, keep]  # outcome design without the mediator: columns match W
    z_col = keep.index(prob.y_z)
    X0, X1 = Xr.copy(), Xr.copy()
    X0[:, z_col], X1[:, z_col] = 0.0, 1.0

    def curves(a_: np.ndarray, b_: np.ndarray, s_: np.ndarray, rhos: np.ndarray) -> np.ndarray:
        """(len(rhos), S, 2) ACME(control), ACME(treated) for parameter rows a_, b_, s_."""
        g_t = b_[:, prob.y_m]
        r12 = s_ * g_t / np.sqrt(1.0 + s_**2 * g_t**2)  # corr of reduced-form and mediator errors
        # reduced-form probit coefficients of Y on (1, T, X): (c~ + g~ a) / sqrt(1 + g~^2 s^2)
        yt = b_[:, keep] * np.sqrt(1 - r12**2)[:, None] + a_ * (r12 / s_)[:, None]
        l0, l1 = X0 @ yt.T, X1 @ yt.T  # (n, S)
        out = np.empty((rhos.size, a_.shape[0], 2))
        for i, r in enumerate(rhos):
            gam = (-r + r12 * np.sqrt((1 - r**2) / (1 - r12**2))) / s_
            s1 = np.sqrt(gam**2 * s_**2 + 2 * gam * r * s_ + 1.0)
            shift = gam * a_[:, prob.m_z] / s1
            out[i, :, 0] = wn @ (special.ndtr(l0 + shift) - special.ndtr(l0))
            out[i, :, 1] = wn @ (special.ndtr(l1) - special.ndtr(l1 - shift))
        return out

    point = curves(fm.coef[None], fy.coef[None], np.array([fm.sigma]), grid)[:, 0, :]
    draws = curves(a, b, s2, grid)
    ci = np.quantile(draws, [alpha / 2, 1 - alpha / 2], axis=1).transpose(1, 2, 0)  # (rho, arm, 2)
    roots = {
        name: _root(lambda r, j=j: curves(fm.coef[None], fy.coef[None], np.array([fm.sigma]),
                                           np.array([r]))[0, 0, j], grid, point[:, j])
        for j, name in enumerate(("control", "treated"))
    }
    var_star = float(np.var(prob.X @ fy.coef, ddof=1))
    r2y = var_star / (1 + var_star)
    return _result(prob, grid, point, ci, roots, fm.r_squared, r2y, alpha,
                   f"quasi-Bayesian, {sims} draws")


# --- probit mediator, linear outcome ------------------------------------------------------------

def _probit_linear(prob: Problem, grid: np.ndarray, alpha: float, sims: int,
                   rng: np.random.Generator) -> MediationSensitivity:
    fm = fit_model("probit", prob.m, prob.W, prob.w, names=prob.m_names, what="mediator")
    fy = fit_model("linear", prob.y, prob.X, prob.w, names=prob.y_names, what="outcome")
    a = np.vstack([fm.coef, rng.multivariate_normal(fm.coef, fm.vcov, size=sims, method="cholesky")])
    W0, W1 = prob.W.copy(), prob.W.copy()
    W0[:, prob.m_z], W1[:, prob.m_z] = 0.0, 1.0
    wn = prob.w / prob.w.sum()
    dp = wn @ (special.ndtr(W1 @ a.T) - special.ndtr(W0 @ a.T))  # E[M(1) - M(0)] per draw (S+1,)
    mu = prob.W @ a.T  # (n, S+1)
    m = prob.m[:, None]
    # generalised residual of the probit, E[e_M | M, T, X]
    # (on the log scale, so that no tail underflows to 0 / 0)
    log_pdf = stats.norm.logpdf(mu)
    lam = np.where(m == 1, np.exp(log_pdf - special.log_ndtr(mu)), -np.exp(log_pdf - special.log_ndtr(-mu)))
    X, y, w = prob.X, prob.y, prob.w
    k = X.shape[1]
    q_lo, q_hi = alpha / 2, 1 - alpha / 2
    if np.any(lam * (lam + mu) >= 1.0):  # pragma: no cover - 0 < lambda (lambda + mu) < 1 for the probit
        raise EstimationError("the probit mediator model gives a conditional variance outside (0, 1).")

    def outcome_coefs(r: float, cols: slice = slice(None)) -> tuple[np.ndarray, np.ndarray]:
        """Control-function fit of the outcome model for mediator draws ``cols``.

        Y = X b + sigma_3 rho lambda + u, Var(u | M, T, X) = sigma_3^2 v, v = 1 - rho^2 lambda (lambda + mu),
        fitted by weighted least squares with weights w / v. With c_y and c_a the WLS
        coefficients of y and of rho lambda, the residual is r_y - sigma_3 r_a, and the
        fixed point sigma_3^2 (n - k) = sum (w / v)(r_y - sigma_3 r_a)^2 of R's iteration is the
        positive root of a quadratic, solved directly.
        """
        lam_c, mu_c = lam[:, cols], mu[:, cols]
        v = np.maximum(1.0 - r * r * lam_c * (lam_c + mu_c), 1e-12)
        ww = (w[:, None] / v).T  # (S, n) inverse-variance weights
        adj = (r * lam_c).T  # (S, n)
        inv = np.linalg.inv(np.einsum("sn,ni,nj->sij", ww, X, X, optimize=True))
        c_y = np.einsum("sij,sj->si", inv, (ww * y) @ X)
        c_a = np.einsum("sij,sj->si", inv, np.einsum("sn,ni->si", ww * adj, X))
        r_y = y[None, :] - c_y @ X.T
        r_a = adj - c_a @ X.T
        A = np.sum(ww * r_y**2, axis=1)
        B = np.sum(ww * r_y * r_a, axis=1)
        C = np.sum(ww * r_a**2, axis=1)
        dfree = len(y) - k
        sigma = (-B + np.sqrt(B * B + A * (dfree - C))) / (dfree - C)
        coef = c_y - sigma[:, None] * c_a
        return coef, inv * (sigma**2)[:, None, None]

    est = np.empty((grid.size, 2))
    ci = np.empty((grid.size, 2, 2))
    for i, r in enumerate(grid):
        coef, V = outcome_coefs(float(r))
        # one draw of the outcome coefficients per mediator draw, as R
        try:
            root = np.linalg.cholesky(V[1:])
        except np.linalg.LinAlgError:  # pragma: no cover - V is a scaled inverse of X'WX
            vals, vecs = np.linalg.eigh(V[1:])
            root = vecs * np.sqrt(np.clip(vals, 0, None))[:, None, :]
        drawn = coef[1:] + np.einsum("sij,sj->si", root, rng.standard_normal((sims, k)))
        for j, t in enumerate((0, 1)):
            slope = coef[0, prob.y_m] + (t * coef[0, prob.y_zm] if prob.y_zm is not None else 0.0)
            est[i, j] = slope * dp[0]
            slopes = drawn[:, prob.y_m] + (t * drawn[:, prob.y_zm] if prob.y_zm is not None else 0.0)
            ci[i, j] = np.quantile(slopes * dp[1:], [q_lo, q_hi])

    def at(r: float, j: int) -> float:
        coef, _ = outcome_coefs(r, slice(0, 1))
        slope = coef[0, prob.y_m] + (j * coef[0, prob.y_zm] if prob.y_zm is not None else 0.0)
        return float(slope * dp[0])

    roots = {name: _root(lambda r, j=j: at(r, j), grid, est[:, j]) for j, name in enumerate(("control", "treated"))}
    var_star = float(np.var(prob.W @ fm.coef, ddof=1))
    r2m = var_star / (1 + var_star)
    return _result(prob, grid, est, ci, roots, r2m, fy.r_squared, alpha, f"quasi-Bayesian, {sims} draws")
