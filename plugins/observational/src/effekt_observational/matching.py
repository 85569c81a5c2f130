"""Nearest-neighbour matching with Abadie-Imbens standard errors, as R Matching's ``Match()``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from effekt.errors import DataError
from effekt.protocol import EstimatorTags, Synthetic
from effekt.result import EffectResult
from effekt.vocabulary import validated
from effekt_observational._common import effective_sizes, prepare, simulate_confounded
from effekt_observational._propensity import check_overlap, fit_propensity, logit
from effekt_observational.balance import compare_balance
from effekt_observational.vocabulary import estimand_choice

__all__ = ["Matching", "match_units", "matching_kernel"]

#: R Matching's distance.tolerance: distances within it of the M-th are ties
DISTANCE_TOLERANCE = 1e-5
_CHUNK = 2_000_000  # focal x candidate distances computed at once


def _transform(X: np.ndarray, distance: str) -> np.ndarray:
    """The coordinates in which matching distance is Euclidean (R Matching's RmatchLoop).

    ``scaled``: each covariate centred and divided by its SD (``ddof=1``),
    Weight=1; ``mahalanobis``: those coordinates times the Cholesky factor
    of ``(X_s' X_s / N)^-1``, Weight=2.
    """
    n = X.shape[0]
    sd = X.std(axis=0) * np.sqrt(n / (n - 1))
    Xs = (X - X.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    if distance == "mahalanobis":
        S = Xs.T @ Xs / n
        if np.linalg.eigvalsh(S).min() > 1e-7:
            L = np.linalg.cholesky(np.linalg.inv(S))
            return Xs @ L
    return Xs


def _nearest(F: np.ndarray, C: np.ndarray, m: int, fbox: np.ndarray | None, cbox: np.ndarray | None,
             box: np.ndarray | None, ties: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """For each row of F, the rows of C at most as far as its m-th nearest (ties kept).

    ``box``: a caliper, ``|fbox_i - cbox_j| <= box`` in every column, applied
    before the search. Returns (focal row, candidate row) pairs.
    """
    m = min(m, C.shape[0])
    if box is None and C.shape[0] > 64:
        from scipy.spatial import cKDTree

        tree = cKDTree(C)
        k = min(m + 1, C.shape[0])
        d, idx = tree.query(F, k=k)
        d, idx = d.reshape(len(F), k), idx.reshape(len(F), k)
        if not ties:
            return np.repeat(np.arange(len(F)), m), idx[:, :m].ravel()
        d2m = d[:, m - 1] ** 2
        tied = (k > m) & (d[:, -1] ** 2 <= d2m + DISTANCE_TOLERANCE) if k > m else np.zeros(len(F), bool)
        rows = [np.repeat(np.flatnonzero(~tied), m)]
        cols = [idx[~tied, :m].ravel()]
        if tied.any():
            where = np.flatnonzero(tied)
            balls = tree.query_ball_point(F[where], r=np.sqrt(d2m[where] + DISTANCE_TOLERANCE))
            for i, ball in zip(where, balls):
                b = np.asarray(ball, dtype=np.int64)
                keep = ((C[b] - F[i]) ** 2).sum(axis=1) <= d2m[i] + DISTANCE_TOLERANCE
                rows.append(np.full(int(keep.sum()), i))
                cols.append(b[keep])
        return np.concatenate(rows), np.concatenate(cols)
    rows_out, cols_out = [], []
    step = max(1, _CHUNK // max(C.shape[0], 1))
    for start in range(0, len(F), step):
        f = F[start:start + step]
        d2 = ((f[:, None, :] - C[None, :, :]) ** 2).sum(axis=2)
        if box is not None:
            assert fbox is not None and cbox is not None
            out = (np.abs(fbox[start:start + step, None, :] - cbox[None, :, :]) > box).any(axis=2)
            d2[out] = np.inf
        kth = np.partition(d2, m - 1, axis=1)[:, m - 1] if m <= d2.shape[1] else d2.max(axis=1)
        finite = np.isfinite(d2)
        # fewer than m candidates inside the caliper: all of them
        kth = np.where(np.isfinite(kth), kth, np.where(finite.any(axis=1), np.where(finite, d2, -np.inf).max(axis=1), np.nan))
        ok = finite & (d2 <= kth[:, None] + (DISTANCE_TOLERANCE if ties else 0.0))
        if not ties:  # exactly m: the nearest, the first in the data among exact equals
            order = np.argsort(np.where(ok, d2, np.inf), axis=1, kind="stable")[:, :m]
            ok = np.zeros_like(ok)
            np.put_along_axis(ok, order, True, axis=1)
            ok &= finite
        r, c = np.nonzero(ok)
        rows_out.append(r + start)
        cols_out.append(c)
    return np.concatenate(rows_out), np.concatenate(cols_out)


def _greedy(F: np.ndarray, C: np.ndarray, m: int, fbox: np.ndarray | None, cbox: np.ndarray | None,
            box: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Matching without replacement: focal units in the order of the data take their m nearest free controls."""
    free = np.ones(C.shape[0], dtype=bool)
    rows, cols = [], []
    for i in range(F.shape[0]):
        d2 = ((C - F[i]) ** 2).sum(axis=1)
        d2[~free] = np.inf
        if box is not None:
            assert fbox is not None and cbox is not None
            d2[(np.abs(cbox - fbox[i]) > box).any(axis=1)] = np.inf
        cand = np.flatnonzero(np.isfinite(d2))
        if cand.size == 0:
            continue
        take = cand[np.argsort(d2[cand], kind="stable")[:m]]
        free[take] = False
        rows.append(np.full(take.size, i))
        cols.append(take)
    if not rows:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(rows), np.concatenate(cols)


def match_units(
    D: np.ndarray, z: np.ndarray, estimand: str, m: int, *, replace: bool = True,
    cells: np.ndarray | None = None, box_values: np.ndarray | None = None, box: np.ndarray | None = None,
    ties: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Matched pairs ``(focal, match, weight)``: each focal unit's matches share weight 1.

    Focal units are the treated (att), the controls (atc) or everyone (ate);
    matches come from the other arm, within the same exact-matching cell.
    """
    zb = z.astype(bool)
    cells = np.zeros(len(z), dtype=np.int64) if cells is None else cells
    focal_arms = {"att": (True,), "atc": (False,), "ate": (True, False)}[estimand]
    focal_rows: list[np.ndarray] = []
    match_rows: list[np.ndarray] = []
    for arm in focal_arms:
        for cell in np.unique(cells):
            f_idx = np.flatnonzero((zb == arm) & (cells == cell))
            c_idx = np.flatnonzero((zb != arm) & (cells == cell))
            if f_idx.size == 0 or c_idx.size == 0:
                continue
            fb = None if box_values is None else box_values[f_idx]
            cb = None if box_values is None else box_values[c_idx]
            if replace:
                r, c = _nearest(D[f_idx], D[c_idx], m, fb, cb, box, ties)
            else:
                r, c = _greedy(D[f_idx], D[c_idx], m, fb, cb, box)
            focal_rows.append(f_idx[r])
            match_rows.append(c_idx[c])
    if not focal_rows or sum(a.size for a in focal_rows) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    i, j = np.concatenate(focal_rows), np.concatenate(match_rows)
    counts = np.bincount(i, minlength=len(z))
    return i, j, 1.0 / counts[i]


def matching_kernel(
    y: np.ndarray, z: np.ndarray, Zb: np.ndarray, i: np.ndarray, j: np.ndarray, w: np.ndarray,
    *, estimand: str, bias_adjust: bool,
) -> dict[str, Any]:
    """The matching estimate and its Abadie-Imbens (2006) variance.

    Per pair, ``tau_p = Y_t - Y_c`` (bias adjusted: the match's outcome moved
    by ``(Z_focal - Z_match)' beta``, ``beta`` the least squares fit in the
    match's arm weighted by ``K``, Abadie & Imbens 2011, eq. 7-8);
    ``tau = sum w tau_p / sum w``. Variance as R Matching with
    ``Var.calc = 0`` (homoskedastic): ``sigma^2 = 0.5 sum w (tau_p - tau)^2 / sum w``,
    ``V = [sigma^2 sum (K^2 - K') + sum (Ycaus_i - tau)^2] / N^2`` over the
    ATT's treated (the ATE adds ``2K`` and sums over everyone; Abadie & Imbens
    2006, Theorem 7), with ``K_j = sum`` of the weights with which ``j`` is
    used as a match and ``K'_j`` the sum of their squares.
    """
    n = len(z)
    sign = np.where(z[i] == 1, 1.0, -1.0)  # focal treated: y_i - y_j; focal control: y_j - y_i
    K = np.bincount(j, weights=w, minlength=n)
    KK = np.bincount(j, weights=w**2, minlength=n)
    adj = np.zeros(i.size)
    beta: dict[str, list[float]] = {}
    if bias_adjust:
        for arm, key in ((0, "control"), (1, "treated")):
            used = (z == arm) & (K > 0)
            if not np.any(z[i] != arm):
                continue
            Xa = np.column_stack([np.ones(int(used.sum())), Zb[used]])
            sw = np.sqrt(K[used])
            coef = np.linalg.lstsq(Xa * sw[:, None], y[used] * sw, rcond=None)[0][1:]
            beta[key] = coef.tolist()
            rows = z[j] == arm
            adj[rows] = (Zb[i[rows]] - Zb[j[rows]]) @ coef
    match_y = y[j] + adj
    tau_p = sign * (y[i] - match_y)
    est = float(np.sum(w * tau_p) / np.sum(w))
    raw_p = sign * (y[i] - y[j])
    est_raw = float(np.sum(w * raw_p) / np.sum(w))
    focal = np.unique(i)
    # Ycaus_i: the focal unit's own effect estimate (bias adjusted)
    ycaus = np.bincount(i, weights=w * tau_p, minlength=n)[focal]
    N = float(focal.size)
    sig2 = 0.5 * float(np.sum(w * (tau_p - est) ** 2) / np.sum(w))
    if estimand == "ate":
        var = (sig2 * np.sum(K**2 + 2 * K - KK) + np.sum((ycaus - est) ** 2)) / N**2
    else:
        var = (sig2 * np.sum(K**2 - KK) + np.sum((ycaus - est) ** 2)) / N**2
    se_std = float(np.sqrt(np.sum(w * (raw_p - est_raw) ** 2) / np.sum(w) ** 2))
    return {"estimate": est, "std_error": float(np.sqrt(var)), "estimate_unadjusted": est_raw,
            "se_standard": se_std, "K": K, "focal": focal, "beta": beta}


class Matching:
    """Nearest-neighbour matching on covariates or the propensity score (R Matching's ``Match()``).

    Estimand: the average effect on the treated (``att``), the controls
    (``atc``) or everyone (``ate``), assuming no unmeasured confounding given
    the covariates.

    Formula: each focal unit (a treated unit for the ATT) is matched to the
    ``matches`` nearest units of the other arm, all units tied with the last
    one included (R Matching's ``ties=TRUE``: tied matches share the weight);
    ``tau = mean over focal units of (Y_i - mean Y of its matches)``. With
    ``bias_adjust`` each match's outcome is moved by ``(X_i - X_j)' beta``
    (Abadie & Imbens 2011). The standard error is Abadie & Imbens' (2006)
    large-sample SE of the matching estimator for the population effect,
    homoskedastic, as ``Match()``'s ``se`` with ``Var.calc=0``; ``Match()``'s
    ``se.standard`` (which ignores that matches are reused) is in
    ``extra["se_standard"]``.

    Distances: ``scaled`` (R Matching's default, ``Weight=1``): Euclidean on
    covariates divided by their SDs; ``mahalanobis`` (``Weight=2``);
    ``propensity``: the logit of the propensity score estimated with
    ``classifier`` (its SE treats the score as known, as ``Match()`` does;
    Abadie & Imbens 2016 give the correction). ``caliper`` is in SDs of each
    covariate (``scaled``, ``mahalanobis``: R Matching, population SD) or of
    the logit score (``propensity``: MatchIt's ``std.caliper``); units
    without a match inside it are dropped and counted, and the estimand
    becomes the matched focal units'. ``exact`` columns restrict matches to
    the unit's own cell (municipality, entry cohort).

    Defaults and why: R ``Match()``'s (ATT, M = 1, with replacement, ties
    kept, no bias adjustment), so that a plain call reproduces it.

    Parameters
    ----------
    data : DataFrame
    outcome : str
    treatment : str
        0/1 arm, or two labels declared with ``arms``.
    arms : tuple, default=None
        ``(control, treated)`` labels of a text treatment column.
    covariates : list of str
        The matching covariates (text columns become indicators).
    estimand : {"att", "ate", "atc"}, default="att"
    matches : int, default=1
        Matches per focal unit (k in k:1).
    replace : bool, default=True
        With replacement. Without, focal units take their nearest free
        matches greedily in the order of the data, and the SE is the same
        formula with every ``K = 1`` (``se.standard``). This is not a
        reproduction of R: ``Match(replace=FALSE)`` breaks ties at random,
        so it picks other matches (on Lalonde 1726 against effekt's 1872),
        and reports no Abadie-Imbens SE.
    tied_matches : bool, default=True
        Keep all units tied with the last match (within ``1e-5`` of its
        squared distance, R Matching's ``distance.tolerance``), sharing its
        weight. On large data, or a dense score, many units fall within the
        tolerance; ``tied_matches=False`` keeps exactly ``matches`` (one of exactly
        equal candidates, chosen deterministically; R breaks them at random)
        and is much faster.
    distance : {"scaled", "mahalanobis", "propensity"}, default="scaled"
    caliper : float, default=None
    exact : list of str, default=None
        Columns matched exactly.
    bias_adjust : bool, default=False
    classifier : str or scikit-learn classifier, default="logistic"
        The propensity model when ``distance="propensity"``.
    seed : int, default=None
        Seed of a randomised classifier.
    alpha : float, default=0.05
    missing : {"error", "drop"}, default="error"

    Returns
    -------
    EffectResult
        ``extra``: ``se_standard``, ``estimate_unadjusted``, ``matched``
        (focal units matched, distinct matches used), ``dropped_by_caliper``,
        ``effective_sample_size`` (Kish, of the matching weights by arm),
        ``balance`` (before and after; ``effekt_observational.balance_of``),
        ``bias_adjustment`` coefficients.

    Raises
    ------
    DataError
        Bad columns; a constant covariate; no focal unit with a match inside
        the caliper or its exact cell; scores of 0 or 1 with
        ``distance="propensity"``.

    Notes
    -----
    Ties are distances within ``1e-5`` of the ``matches``-th nearest (R
    Matching's ``distance.tolerance``), on the squared distance.

    References
    ----------
    Abadie, A. & Imbens, G. W. (2006). Econometrica 74(1), 235-267. doi:10.1111/j.1468-0262.2006.00655.x
    Abadie, A. & Imbens, G. W. (2011). JBES 29(1), 1-11. doi:10.1198/jbes.2009.07333
    Sekhon, J. S. (2011). Multivariate and propensity score matching software with automated balance
    optimization: the Matching package for R. JSS 42(7). doi:10.18637/jss.v042.i07

    Examples
    --------
    >>> import effekt as ef
    >>> syn = Matching.simulate(np.random.default_rng(4), n=600)
    >>> res = ef.estimate("matching", data=syn.data, **syn.spec, bias_adjust=True)
    >>> res.estimand, res.conf_int[0] < 1.0 < res.conf_int[1]
    ('att', True)
    """

    name: ClassVar[str] = "matching"
    estimand: ClassVar[str] = "att"
    kind: ClassVar[str] = "observational"
    # ATT by default: swapping the arms gives minus the ATC, which differs from the ATT in general
    tags: ClassVar[EstimatorTags] = EstimatorTags(supports_covariates=True, sign_flip=False)
    options: ClassVar[dict[str, Any]] = {"estimand": estimand_choice("att", "ate", "atc")}

    @classmethod
    def simulate(cls, rng: np.random.Generator, *, n: int = 200, effect: float = 1.0) -> Synthetic:
        return simulate_confounded(rng, n=n, effect=effect)

    @validated
    def fit(
        self,
        data: Any,
        *,
        outcome: str,
        treatment: str,
        arms: tuple[Any, Any] | None = None,
        covariates: Sequence[str] | str,
        estimand: str = "att",
        matches: int = 1,
        replace: bool = True,
        tied_matches: bool = True,
        distance: str = "scaled",
        caliper: float | None = None,
        exact: Sequence[str] | str | None = None,
        bias_adjust: bool = False,
        classifier: Any = "logistic",
        seed: Any = None,
        alpha: float = 0.05,
        missing: str = "error",
    ) -> EffectResult:
        exact_cols = [exact] if isinstance(exact, str) else list(exact or [])
        cols, frame = prepare(data, outcome=outcome, treatment=treatment, arms=arms, covariates=covariates,
                              missing=missing, extra_columns=exact_cols, owner=self.name)
        assert cols.X is not None and cols.z is not None and cols.y is not None
        X, z, y = cols.X, cols.z, cols.y
        names = cols.covariate_names
        from effekt_observational._propensity import design_matrix

        design_matrix(X, names)  # a constant covariate is refused here, for every distance
        if distance == "propensity":
            ps = fit_propensity(X, z, names, classifier=classifier, seed=seed)
            check_overlap(ps.scores, z, cols.covariates, "ate" if estimand == "ate" else estimand)
            D = _transform(logit(ps.scores)[:, None], "scaled")  # R Match() on X = the score
            box_values = D
            box = None if caliper is None else np.array([caliper * D[:, 0].std(ddof=1)])
        else:
            D = _transform(X, distance)
            box_values = X
            box = None if caliper is None else caliper * X.std(axis=0)
        cells = None
        if exact_cols:
            cells = pd.MultiIndex.from_frame(frame[exact_cols].astype(object)).factorize()[0] if len(exact_cols) > 1 \
                else pd.factorize(frame[exact_cols[0]])[0]
        i, j, w = match_units(D, z, estimand, matches, replace=replace, cells=cells,
                              box_values=None if box is None else box_values, box=box, ties=tied_matches)
        focal_all = {"att": z == 1, "atc": z == 0, "ate": np.ones(len(z), bool)}[estimand]
        if i.size == 0:
            raise DataError(
                f"no {'treated' if estimand == 'att' else 'control' if estimand == 'atc' else ''} unit has a "
                "match: the caliper or the exact-matching cells leave every one without a unit of the other "
                f"arm. Widen the caliper (caliper={caliper}) or match exactly on fewer columns (exact={exact_cols})."
            )
        out = matching_kernel(y, z, X, i, j, w, estimand=estimand, bias_adjust=bias_adjust)
        n_focal = int(focal_all.sum())
        dropped = n_focal - int(out["focal"].size)
        warnings = list(cols.warnings())
        if dropped:
            warnings.append(
                f"{dropped} of {n_focal} focal units had no match inside the caliper or their exact cell and were "
                "dropped; the estimate is for the matched units.")
        # matching weights: a focal unit counts once, a match by the sum of its shares (K)
        mw = out["K"].copy()
        mw[out["focal"]] += 1.0
        bal = compare_balance(X, names, z, mw, arms=(cols.arms[0], cols.arms[1]))
        used = mw > 0
        extra = {
            "se_standard": out["se_standard"], "estimate_unadjusted": out["estimate_unadjusted"],
            "matched": {"focal": int(out["focal"].size), "matches_used": int((out["K"] > 0).sum()),
                        "pairs": int(i.size)},
            "dropped_by_caliper": dropped, "distance": distance, "matches": matches, "replace": replace,
            "tied_matches": tied_matches,
            "caliper": caliper, "exact": exact_cols, "bias_adjust": bias_adjust,
            "bias_adjustment": out["beta"],
            "effective_sample_size": effective_sizes(z[used], mw[used]),
            "balance": bal.to_dict(),
        }
        return EffectResult.from_z(
            out["estimate"], out["std_error"], alpha=alpha, estimator=self.name, estimand=estimand,
            term=str(treatment), n=int(used.sum()), n_treated=int(z[used].sum()),
            n_control=int(used.sum() - z[used].sum()), se_type="Abadie-Imbens", design="matched",
            outcome=str(outcome), warnings=tuple(warnings), extra=extra, plotter=_love_plot,
        )


def _love_plot(res: EffectResult, *, ax: Any = None, labels: Any = None, **_: Any) -> Any:
    from effekt_observational.balance import balance_of

    return balance_of(res).plot(ax=ax, labels=labels)
