"""Input checks, simulated confounded data and the stacked sandwich shared by the estimators."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from effekt.data import Columns, as_frame, check_columns
from effekt.errors import DataError, DesignError
from effekt.protocol import Synthetic

__all__ = ["prepare", "simulate_confounded", "stacked_sandwich", "kish", "check_trim", "trim_mask",
           "effective_sizes", "expit"]


def expit(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = 0.5 * (1.0 + np.tanh(0.5 * x))
    return out


def prepare(
    data: Any, *, outcome: Any, treatment: Any, arms: Any, covariates: Any, missing: str,
    clusters: Any = None, extra_columns: Sequence[Any] = (), owner: str,
) -> tuple[Columns, pd.DataFrame]:
    """Checked columns (``X`` required) and the rows kept, for the estimators of this plugin."""
    if covariates is None or (not isinstance(covariates, str) and len(covariates) == 0):
        raise DesignError(
            f"{owner} needs covariates=: the columns the comparison is adjusted for (e.g. age, earlier "
            "earnings, weeks on benefit). Without them there is nothing to match or weight on."
        )
    frame = as_frame(data)
    dropped_exact = 0
    for c in extra_columns:
        if c not in frame.columns:
            raise DataError(f"exact={c!r}: no such column. The data have "
                            f"{', '.join(map(repr, list(frame.columns)[:20]))}.")
        miss = frame[c].isna().to_numpy()
        if miss.any():
            if missing != "drop":
                raise DataError(
                    f"exact column {c!r} has {int(miss.sum())} missing value{'s' if miss.sum() != 1 else ''}; "
                    "nothing is dropped silently: give missingness its own level (e.g. .fillna('missing')), "
                    "or pass missing='drop'.")
            dropped_exact += int(miss.sum())
            frame = frame.loc[~miss]
    cols = check_columns(frame, outcome=outcome, treatment=treatment, arms=arms, covariates=covariates,
                         clusters=clusters, missing=missing)
    cols.dropped += dropped_exact
    assert cols.X is not None
    return cols, frame.loc[cols.index]


def simulate_confounded(rng: np.random.Generator, *, n: int = 200, effect: float = 1.0,
                        spec: dict[str, Any] | None = None) -> Synthetic:
    """A confounded comparison with a constant effect (so ATE = ATT = ATC = ATO = effect).

    ``x1``, ``x2`` normal; ``P(z = 1) = expit(-0.3 + 0.6 x1 - 0.4 x2)``;
    ``y = 1 + x1 + 0.5 x2 + effect z + N(0, 1)``: the naive difference in means
    is biased upwards by the treated's higher ``x1``.
    """
    n = max(int(n), 60)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    e = expit(-0.3 + 0.6 * x1 - 0.4 * x2)
    z = (rng.random(n) < e).astype(int)
    if z.sum() < 10 or z.sum() > n - 10:  # keep both arms populated for tiny n
        z[:10], z[-10:] = 1, 0
    y = 1.0 + x1 + 0.5 * x2 + effect * z + rng.normal(size=n)
    data = pd.DataFrame({"y": y, "z": z, "x1": x1, "x2": x2})
    base = {"outcome": "y", "treatment": "z", "covariates": ["x1", "x2"]}
    return Synthetic(data=data, spec={**base, **(spec or {})}, truth=float(effect))


def kish(w: np.ndarray) -> float:
    """Kish's effective sample size ``(sum w)^2 / sum w^2``."""
    return float(np.sum(w) ** 2 / np.sum(w**2)) if w.size else 0.0


def effective_sizes(z: np.ndarray, w: np.ndarray) -> dict[str, float]:
    zb = z.astype(bool)
    return {"treated": kish(w[zb]), "control": kish(w[~zb])}


def _jacobian(fun: Callable[[np.ndarray], np.ndarray], theta: np.ndarray) -> np.ndarray:
    """Central differences of ``fun`` (the summed estimating equations) at ``theta``."""
    k = theta.size
    J = np.empty((k, k))
    for j in range(k):
        h = 1e-6 * max(1.0, abs(theta[j]))
        up, down = theta.copy(), theta.copy()
        up[j] += h
        down[j] -= h
        J[:, j] = (fun(up) - fun(down)) / (2 * h)
    return J


def stacked_sandwich(
    psi: Callable[[np.ndarray], np.ndarray], theta: np.ndarray, clusters: np.ndarray | None = None,
    jacobian: np.ndarray | None = None,
) -> np.ndarray:
    """``A^-1 B A^-T`` for the stacked estimating equations ``psi(theta)`` (n x k).

    ``A`` is the Jacobian of ``sum_i psi_i`` (numerical unless given), ``B``
    the sum of outer products, of cluster sums with ``clusters`` (times
    ``G / (G - 1)``, R sandwich's ``vcovCL`` default) (Stefanski & Boos 2002).
    """
    P = psi(theta)
    A = jacobian if jacobian is not None else _jacobian(lambda t: psi(t).sum(axis=0), theta)
    if clusters is None:
        B = P.T @ P
    else:
        G = int(clusters.max()) + 1
        S = np.zeros((G, P.shape[1]))
        np.add.at(S, clusters, P)
        B = S.T @ S * (G / (G - 1))
    Ainv = np.linalg.pinv(A)
    V: np.ndarray = Ainv @ B @ Ainv.T
    return V


def check_trim(trim: Any) -> Any:
    if trim is None or trim == "crump":
        return trim
    if isinstance(trim, bool) or not isinstance(trim, (int, float)) or not 0 < float(trim) < 0.5:
        raise DesignError(f"trim={trim!r} is not valid; use 'crump' (Crump et al. 2009) or a number a in "
                          "(0, 0.5) to keep units with a <= e <= 1 - a.")
    return float(trim)


def crump_threshold(e: np.ndarray) -> float:
    """Crump, Hotz, Imbens & Mitnik (2009), Theorem 1: the optimal alpha.

    With ``g = 1 / (e (1 - e))``: ``alpha = 0`` when ``max g <= 2 E[g]``, else
    ``alpha`` solves ``1 / (alpha (1 - alpha)) = 2 E[g | g <= 1 / (alpha (1 - alpha))]``.
    """
    g = np.sort(1.0 / (e * (1.0 - e)))
    if g[-1] <= 2.0 * g.mean():
        return 0.0
    running = np.cumsum(g) / np.arange(1, g.size + 1)
    ok = np.flatnonzero(g <= 2.0 * running)
    gamma = 2.0 * running[ok[-1]]
    return float(0.5 - np.sqrt(max(0.25 - 1.0 / gamma, 0.0)))


def trim_mask(e: np.ndarray, trim: Any) -> tuple[np.ndarray, float]:
    """Rows kept (``a <= e <= 1 - a``) and the threshold ``a``."""
    a = crump_threshold(e) if trim == "crump" else float(trim)
    return (e >= a) & (e <= 1.0 - a), a
