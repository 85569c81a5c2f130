"""Synthetic difference-in-differences (Arkhangelsky, Athey, Hirshberg, Imbens & Wager 2021)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from effekt.data import check_seed
from effekt.errors import DataError, DesignError
from effekt.plotting import COLOURS, figure_and_axes
from effekt.protocol import EstimatorTags, Synthetic
from effekt.result import EffectResult
from effekt.vocabulary import Choice, validated
from effekt_observational._synth_panel import check_synth_panel

__all__ = ["SyntheticDiD", "sdid_weights"]

SE_METHODS = ("placebo", "jackknife", "bootstrap")


def _fw(A: np.ndarray, b: np.ndarray, eta: float, x: np.ndarray, min_decrease: float, max_iter: int) -> np.ndarray:
    """Frank-Wolfe with exact line search for ``||A x - b||^2 + eta ||x||^2`` on the simplex.

    Each step moves towards the vertex ``e_i`` with the smallest gradient by the exact
    minimiser along the segment; stops when the objective
    ``zeta^2 ||x||^2 + ||Ax - b||^2 / rows`` (``zeta^2 = eta / rows``) falls by no more than
    ``min_decrease^2`` (synthdid's rule). The products are kept up to date through the Gram
    matrix, so a step costs O(columns).
    """
    rows = A.shape[0]
    zeta2 = eta / rows
    G = A.T @ A
    Ab = A.T @ b
    bb = float(b @ b)
    diag = np.diag(G).copy()
    x = x.astype(float).copy()
    Gx = G @ x
    xx, xGx, xAb = float(x @ x), float(x @ Gx), float(x @ Ab)
    prev = np.inf
    for t in range(max_iter):
        hg = Gx - Ab + eta * x
        i = int(np.argmin(hg))
        xi, gxi = float(x[i]), float(Gx[i])
        dd = 1.0 - 2.0 * xi + xx
        if dd <= 0.0:
            break
        slope = float(hg[i]) - float(hg @ x)  # half-gradient . (e_i - x)
        curv = (diag[i] - 2.0 * gxi + xGx) + eta * dd
        step = -slope / curv if curv > 0 else 0.0
        s_ = min(1.0, max(0.0, step))
        r = 1.0 - s_
        x *= r
        x[i] += s_
        Gx *= r
        Gx += s_ * G[:, i]
        xx = r * r * xx + 2.0 * s_ * r * xi + s_ * s_
        xGx = r * r * xGx + 2.0 * s_ * r * gxi + s_ * s_ * diag[i]
        xAb = r * xAb + s_ * float(Ab[i])
        val = zeta2 * xx + (xGx - 2.0 * xAb + bb) / rows
        if t >= 1 and prev - val <= min_decrease**2:
            break
        prev = val
    return x


def _fw_batch(A: np.ndarray, b: np.ndarray, eta: float, x: np.ndarray, min_decrease: float,
              max_iter: int) -> np.ndarray:
    """:func:`_fw` on ``R`` problems of one shape at once (``A``: R x rows x m, ``b``: R x rows,
    ``x``: R x m); each stops by the same rule as :func:`_fw`, the rest run on."""
    R, rows, _ = A.shape
    zeta2 = eta / rows
    G = np.einsum("rki,rkj->rij", A, A)
    Ab = np.einsum("rki,rk->ri", A, b)
    bb = np.einsum("rk,rk->r", b, b)
    diag = np.einsum("rii->ri", G).copy()
    x = x.astype(float).copy()
    Gx = np.einsum("rij,rj->ri", G, x)
    xx, xGx, xAb = (x * x).sum(axis=1), (x * Gx).sum(axis=1), (x * Ab).sum(axis=1)
    prev = np.full(R, np.inf)
    active = np.ones(R, dtype=bool)
    ar = np.arange(R)
    for t in range(max_iter):
        if not active.any():
            break
        hg = Gx - Ab + eta * x
        i = np.argmin(hg, axis=1)
        xi, gxi = x[ar, i], Gx[ar, i]
        dd = 1.0 - 2.0 * xi + xx
        active &= dd > 0.0
        slope = hg[ar, i] - (hg * x).sum(axis=1)
        curv = (diag[ar, i] - 2.0 * gxi + xGx) + eta * dd
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(curv > 0, -slope / curv, 0.0)
        s_ = np.where(active, np.clip(step, 0.0, 1.0), 0.0)
        r = 1.0 - s_
        x *= r[:, None]
        x[ar, i] += s_
        Gx *= r[:, None]
        Gx += s_[:, None] * G[ar, :, i]
        xx = r * r * xx + 2.0 * s_ * r * xi + s_ * s_
        xGx = r * r * xGx + 2.0 * s_ * r * gxi + s_ * s_ * diag[ar, i]
        xAb = r * xAb + s_ * Ab[ar, i]
        val = zeta2 * xx + (xGx - 2.0 * xAb + bb) / rows
        if t >= 1:
            active &= ~(prev - val <= min_decrease**2)
        prev = np.where(active, val, prev)
    return x


def _sparsify(x: np.ndarray) -> np.ndarray:
    x = np.where(x <= x.max() / 4, 0.0, x)
    return x / x.sum()


def _solve(A: np.ndarray, b: np.ndarray, eta: float, x0: np.ndarray, min_decrease: float) -> np.ndarray:
    """synthdid's schedule: 100 Frank-Wolfe steps, sparsify (weights <= max/4 to 0), then to convergence."""
    A = A - A.mean(axis=0)  # the intercept: centre over the rows
    b = b - b.mean()
    x = _fw(A, b, eta, x0, min_decrease, 100)
    return _fw(A, b, eta, _sparsify(x), min_decrease, 10_000)


def sdid_weights(Y: np.ndarray, n0: int, t0: int, zeta_omega: float, zeta_lambda: float, min_decrease: float,
                 omega0: np.ndarray | None = None, lambda0: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Unit weights ``omega`` (comparison rows ``:n0``) and time weights ``lambda`` (columns ``:t0``).

    ``omega = argmin_{omega0, omega in simplex} sum_{t <= T0} (omega0 + omega'Y_co,t - mean Y_tr,t)^2
    + zeta_omega^2 T0 ||omega||^2``; ``lambda`` likewise across the comparison units with
    ``zeta_lambda`` (Arkhangelsky et al. 2021, eq. 2.2-2.3).
    """
    Yc = _collapse(Y, n0, t0)
    lam = _solve(Yc[:n0, :t0], Yc[:n0, t0], n0 * zeta_lambda**2,
                 np.full(t0, 1.0 / t0) if lambda0 is None else lambda0, min_decrease)
    om = _solve(Yc[:n0, :t0].T, Yc[n0, :t0], t0 * zeta_omega**2,
                np.full(n0, 1.0 / n0) if omega0 is None else omega0, min_decrease)
    return om, lam


def sdid_weights_lambda(Y: np.ndarray, n0: int, t0: int, zeta_lambda: float, min_decrease: float,
                        lambda0: np.ndarray | None = None) -> np.ndarray:
    """The time weights alone (as in :func:`sdid_weights`)."""
    Yc = _collapse(Y, n0, t0)
    return _solve(Yc[:n0, :t0], Yc[:n0, t0], n0 * zeta_lambda**2,
                  np.full(t0, 1.0 / t0) if lambda0 is None else lambda0, min_decrease)


def _collapse(Y: np.ndarray, n0: int, t0: int) -> np.ndarray:
    """Comparison rows and the treated mean; pre columns and the post mean."""
    top = np.column_stack([Y[:n0, :t0], Y[:n0, t0:].mean(axis=1)])
    bottom = np.append(Y[n0:, :t0].mean(axis=0), Y[n0:, t0:].mean())
    return np.vstack([top, bottom])


def _tau(Y: np.ndarray, n0: int, t0: int, om: np.ndarray, lam: np.ndarray) -> float:
    n1, t1 = Y.shape[0] - n0, Y.shape[1] - t0
    a = np.append(-om, np.full(n1, 1.0 / n1))
    c = np.append(-lam, np.full(t1, 1.0 / t1))
    return float(a @ Y @ c)


def _noise(Y: np.ndarray, n0: int, t0: int) -> float:
    return float(np.std(np.diff(Y[:n0, :t0], axis=1), ddof=1))


def _plot(res: Any, *, ax: Any = None, labels: Mapping[Any, str] | None = None, **_: Any) -> Any:
    """The treated mean and the omega-weighted comparison mean over time; bars: the time weights."""
    e = res.extra
    fig, ax = figure_and_axes(ax)
    periods = np.asarray(e["periods"], dtype=float)
    ax.plot(periods, e["treated_mean"], color=COLOURS[1], lw=2, label="treated (mean)")
    ax.plot(periods, e["synthetic_mean"], color=COLOURS[0], lw=2, ls="--", label="synthetic comparison")
    start = periods[len(e["time_weights"])]
    ax.axvline(start, color="black", ls=":", lw=1)
    lo = min(min(e["treated_mean"]), min(e["synthetic_mean"]))
    hi = max(max(e["treated_mean"]), max(e["synthetic_mean"]))
    lam = np.asarray(list(e["time_weights"].values()))
    ax.bar(periods[: lam.size], lam * 0.25 * (hi - lo), bottom=lo - 0.3 * (hi - lo), color="#BBBBBB",
           width=0.8 * float(np.min(np.diff(periods))) if periods.size > 1 else 0.8, label="time weights")
    ax.set_xlabel("period")
    ax.set_ylabel(str(res.outcome))
    ax.legend(frameon=False)
    return fig


class SyntheticDiD:
    """Synthetic DiD: a DiD on unit- and time-weighted comparison units.

    Estimand: the average effect on the treated units in the post periods
    (common adoption).

    Formula (Arkhangelsky et al. 2021, Algorithm 1): unit weights ``omega``
    make the comparison units' pre-period path parallel to the treated mean
    (with an intercept and the ridge penalty ``zeta^2 T0 ||omega||^2``);
    time weights ``lambda`` make the pre periods predict the post mean across
    comparison units (penalty ``1e-6 sigma``);
    ``tau = (Ybar_tr,post - sum_t lambda_t Ybar_tr,t) - sum_i omega_i (Ybar_i,post - sum_t lambda_t Y_it)``.
    ``zeta`` defaults to ``(N_tr T_post)^(1/4) sigma``, ``sigma`` the sd of
    the comparison units' first differences before the start (the paper's
    sec. 2.2). The weights are found as R synthdid does (Frank-Wolfe with exact
    line search, 100 steps, weights at or below a quarter of the largest set
    to 0, then to convergence), so its published numbers are reproduced.

    Standard errors (Algorithms 2-4), ``method``:

    * ``'placebo'`` (default; the only one with a single treated unit):
      ``sims`` times, as many comparison units as there are treated are made
      pseudo-treated and the estimator is rerun on the comparison units;
      ``SE = sqrt((r - 1) / r) sd(tau_b)``;
    * ``'jackknife'``: leave one unit out with the weights fixed (renormalised),
      ``SE = sqrt((n - 1)/n sum (tau_(-i) - mean)^2)``; needs two treated units;
    * ``'bootstrap'``: ``sims`` resamples of units (each with both groups),
      weights re-estimated.

    Intervals use the normal, as synthdid.

    Parameters
    ----------
    data : DataFrame
        Long format, one row per unit and period, balanced.
    outcome : str
    unit : str
    period : str
    treatment : str
        0/1 per unit: the treated units.
    arms : tuple, default=None
        ``(control, treated)`` labels of a text treatment column.
    post : str
        0/1 per period: the periods after the (common) start.
    method : {"placebo", "jackknife", "bootstrap"}, default="placebo"
    zeta : float, default=None
        The unit weights' ridge penalty; None: the paper's choice.
    sims : int, default=200
        Placebo or bootstrap replications (synthdid's default).
    seed : int or Generator, default=None
    alpha : float, default=0.05
    missing : {"error", "drop"}, default="error"

    Returns
    -------
    EffectResult
        ``extra``: ``unit_weights`` and ``time_weights`` (non-zero ones),
        ``zeta``, ``noise_level``, ``method``, ``sims``, and the paths for
        ``.plot()``.

    Raises
    ------
    DataError
        Bad columns, an unbalanced panel, no pre-period, fewer than two
        comparison units (placebo: more comparison than treated units).
    DesignError
        ``method='jackknife'`` with one treated unit.

    References
    ----------
    Arkhangelsky, D., Athey, S., Hirshberg, D. A., Imbens, G. W. & Wager, S. (2021).
    Synthetic difference-in-differences. American Economic Review 111(12), 4088-4118.
    doi:10.1257/aer.20190159

    Examples
    --------
    >>> import effekt as ef
    >>> syn = SyntheticDiD.simulate(np.random.default_rng(0), n=30, effect=2.0)
    >>> res = ef.estimate("synthetic_did", data=syn.data, **syn.spec)   # spec: method="jackknife"
    >>> bool(abs(res.estimate - 2.0) < 4 * res.std_error), res.se_type
    (True, 'jackknife')
    """

    name: ClassVar[str] = "synthetic_did"
    estimand: ClassVar[str] = "att"
    kind: ClassVar[str] = "did"
    tags: ClassVar[EstimatorTags] = EstimatorTags(outcome="panel", sign_flip=False, uses_seed=True)
    options: ClassVar[dict[str, Any]] = {"method": Choice(SE_METHODS)}

    @classmethod
    def simulate(cls, rng: np.random.Generator, *, n: int = 30, effect: float = 1.0) -> Synthetic:
        """``n`` units (a fifth treated, at a higher level), 10 periods before and 3 after, a factor
        whose loadings the comparison units span."""
        N = max(int(n) // 5, 20)
        T, T0 = 13, 10
        load = rng.normal(size=N)
        treated = np.zeros(N, dtype=int)
        treated[rng.permutation(N)[: max(N // 5, 2)]] = 1
        unit_fe = rng.normal(size=N) + 0.5 * treated
        time_fe = np.cumsum(rng.normal(0, 0.5, T))
        factor = np.linspace(0, 2, T)
        Y = unit_fe[:, None] + time_fe[None, :] + load[:, None] * factor[None, :] + rng.normal(0, 0.5, (N, T))
        Y[treated == 1, T0:] += effect
        rows = [(f"u{i:02d}", t, treated[i], int(t >= T0), Y[i, t]) for i in range(N) for t in range(T)]
        data = pd.DataFrame(rows, columns=["unit", "period", "treated", "post", "y"])
        spec = {"outcome": "y", "unit": "unit", "period": "period", "treatment": "treated", "post": "post",
                "method": "jackknife"}
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
        method: str = "placebo",
        zeta: float | None = None,
        sims: int = 200,
        seed: Any = None,
        alpha: float = 0.05,
        missing: str = "error",
    ) -> EffectResult:
        sp = check_synth_panel(data, outcome=outcome, unit=unit, period=period, treatment=treatment, post=post,
                               arms=arms, missing=missing, estimator=self.name)
        order = np.argsort(sp.treated, kind="stable")  # comparison units first, as synthdid's panel.matrices
        Y = sp.Y[order]
        labels = [str(v) for v in sp.unit_labels[order]]
        n1 = int(sp.treated.sum())
        n0 = Y.shape[0] - n1
        t0 = int((~sp.post).sum())
        t1 = Y.shape[1] - t0
        if method == "jackknife" and n1 < 2:
            raise DesignError("method='jackknife' needs at least two treated units (leaving the only one out leaves "
                              "no estimate); use method='placebo'.")
        if method == "placebo" and n0 <= n1:
            raise DataError(f"placebo standard errors need more comparison units ({n0}) than treated ({n1}).")
        sigma = _noise(Y, n0, t0) if t0 >= 2 else 0.0
        z_omega = (n1 * t1) ** 0.25 * sigma if zeta is None else float(zeta)
        z_lambda = 1e-6 * sigma
        min_dec = 1e-5 * sigma if sigma > 0 else 1e-12
        om, lam = sdid_weights(Y, n0, t0, z_omega, z_lambda, min_dec)
        tau = _tau(Y, n0, t0, om, lam)
        rng = check_seed(seed)
        if method == "jackknife":
            n = Y.shape[0]
            reps = []
            for i in range(n):
                keep = np.arange(n) != i
                k0 = n0 - (1 if i < n0 else 0)
                w = om[np.arange(n0) != i] if i < n0 else om
                reps.append(_tau(Y[keep], k0, t0, w / w.sum(), lam))
            r = np.asarray(reps)
            se = float(np.sqrt((n - 1) / n * np.sum((r - r.mean()) ** 2)))
            used = n
        else:
            reps = []
            if method == "placebo":
                b0 = n0 - n1
                perms = [rng.permutation(n0) for _ in range(sims)]
                Ybs = [Y[ind] for ind in perms]
                lams = [sdid_weights_lambda(Yb, b0, t0, z_lambda, min_dec, lam) for Yb in Ybs]
                w0 = np.array([om[ind[:b0]] for ind in perms])
                sums = w0.sum(axis=1, keepdims=True)
                w0 = np.where(sums > 0, w0 / np.where(sums > 0, sums, 1.0), 1.0 / b0)
                A = np.array([_collapse(Yb, b0, t0)[:b0, :t0].T for Yb in Ybs])
                bvec = np.array([_collapse(Yb, b0, t0)[b0, :t0] for Yb in Ybs])
                A = A - A.mean(axis=1, keepdims=True)
                bvec = bvec - bvec.mean(axis=1, keepdims=True)
                eta = t0 * z_omega**2
                x = _fw_batch(A, bvec, eta, w0, min_dec, 100)
                x = np.where(x <= x.max(axis=1, keepdims=True) / 4, 0.0, x)
                x = x / x.sum(axis=1, keepdims=True)
                oms = _fw_batch(A, bvec, eta, x, min_dec, 10_000)
                reps = [_tau(Yb, b0, t0, ob, lb) for Yb, ob, lb in zip(Ybs, oms, lams)]
            for _ in range(sims if method == "bootstrap" else 0):
                ind = np.asarray(rng.integers(0, Y.shape[0], size=Y.shape[0]))
                is_t = ind >= n0
                if is_t.all() or not is_t.any():
                    continue
                ind = np.concatenate([np.sort(ind[~is_t]), ind[is_t]])
                Yb, b0 = Y[ind], int((~is_t).sum())
                wb = om[ind[:b0]]
                wb = wb / wb.sum() if wb.sum() > 0 else np.full(b0, 1.0 / b0)
                ob, lb = sdid_weights(Yb, b0, t0, z_omega, z_lambda, min_dec, omega0=wb, lambda0=lam)
                reps.append(_tau(Yb, b0, t0, ob, lb))
            r = np.asarray(reps)
            used = r.size
            se = float(np.sqrt((used - 1) / used) * np.std(r, ddof=1)) if used > 1 else float("nan")
        synth = om @ Y[:n0]
        extra: dict[str, Any] = {
            "unit_weights": {labels[i]: float(w) for i, w in enumerate(om) if w > 1e-12},
            "time_weights": {str(p): float(w) for p, w in zip(sp.period_labels[:t0], lam)},
            "zeta": z_omega, "noise_level": sigma, "method": method, "sims": used,
            "periods": [float(p) for p in sp.period_labels], "treated_mean": Y[n0:].mean(axis=0).tolist(),
            "synthetic_mean": (synth + (Y[n0:, :t0].mean(axis=0) - synth[:t0]) @ lam).tolist(),
            "n_treated_units": n1, "n_pre": t0, "n_post": t1,
        }
        n_rows_t = n1 * Y.shape[1]
        return EffectResult.from_z(
            tau, se, alpha=alpha, estimator=self.name, estimand=self.estimand, term=f"{treatment}:{post}", n=sp.n,
            n_treated=n_rows_t, n_control=sp.n - n_rows_t, n_units=Y.shape[0], se_type=method, design="panel",
            warnings=tuple(sp.notes), extra=extra, outcome=outcome, plotter=_plot,
        )
