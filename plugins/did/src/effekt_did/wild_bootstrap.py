"""Wild cluster bootstrap and cluster-level randomisation inference for DiD."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np

from effekt.data import check_positive_int, check_seed
from effekt.errors import DesignError, EstimationError
from effekt.protocol import EstimatorTags, Synthetic
from effekt.result import EffectResult, monte_carlo_p_value
from effekt.vocabulary import Choice, Number, validated
from effekt_did._absorb import demean, nested_in
from effekt_did._panel import FEW_TREATED_CLUSTERS, cell_weights, check_aggregation, check_panel, warn

__all__ = ["WildClusterBootstrap", "wild_weights", "wcb_kernel"]

_WEBB = np.array([-math.sqrt(1.5), -1.0, -math.sqrt(0.5), math.sqrt(0.5), 1.0, math.sqrt(1.5)])


def wild_weights(kind: str, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Wild bootstrap weights: Rademacher (+-1), Webb's six-point, Mammen's two-point."""
    if kind == "rademacher":
        return rng.integers(0, 2, size=shape) * 2.0 - 1.0  # type: ignore[no-any-return]
    if kind == "webb":  # Webb (2023), Canadian J. Economics 56(3)
        return _WEBB[rng.integers(0, 6, size=shape)]  # type: ignore[no-any-return]
    # Mammen (1993): -(sqrt5-1)/2 w.p. (sqrt5+1)/(2 sqrt5), else (sqrt5+1)/2
    s5 = math.sqrt(5.0)
    p = (s5 + 1) / (2 * s5)
    return np.where(rng.random(size=shape) < p, -(s5 - 1) / 2, (s5 + 1) / 2)


class _WCB:
    """Fast wild cluster bootstrap for coefficient 0 of ``y ~ X`` (Roodman et al. 2019, sec. 3).

    With cluster scores ``S = [X_g' u_g]`` and ``H_g = X_g' X_g``, a draw ``v``
    gives ``b* - b_dgp = m' S v`` (m = row 0 of (X'X)^{-1}) and the CR1 score
    of cluster g is ``a_g v_g - m' H_g M S v``, so every draw costs one
    product with a G x G matrix; no regression is refitted.

    When fixed effects were swept out of ``X`` and ``y`` and some are not
    nested in the clusters (period effects clustered by unit), the bootstrap
    residuals of the full regression also lose their projection on those
    effects: ``u* = M_FE(u v) - X M X'(u v)``. ``resid_fe`` applies ``M_FE``;
    the score of cluster g becomes ``sum_h K_gh v_h - m' H_g M S v`` with
    ``K_gh = m' X_g' [M_FE(u 1_h)]_g``, so the draws equal those of the
    regression with every fixed effect as a dummy (tested), at the cost of
    sweeping G vectors once.
    """

    def __init__(self, X: np.ndarray, y: np.ndarray, cl: np.ndarray, G: int,
                 resid_fe: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        self.X, self.y, self.cl, self.G = X, y, cl, G
        self.resid_fe = resid_fe
        n, k = X.shape
        self.M = np.linalg.inv(X.T @ X)
        self.m = self.M[0]
        self.b = self.M @ (X.T @ y)
        self.c = G / (G - 1) * (n - 1) / (n - k)  # CR1; cancels in the p-value
        # H_g M as (G, k, k) via per-column bincounts
        H = np.empty((G, k, k))
        for i in range(k):
            for j in range(i, k):
                H[:, i, j] = H[:, j, i] = np.bincount(cl, weights=X[:, i] * X[:, j], minlength=G)
        self.mHM = np.einsum("k,gkl,lj->gj", self.m, H, self.M)  # (G, k): m' H_g M
        if k > 1:
            Xr = X[:, 1:]
            self.Mr = np.linalg.inv(Xr.T @ Xr)
            self.x0_perp = X[:, 0] - Xr @ (self.Mr @ (Xr.T @ X[:, 0]))
            self.y_perp = y - Xr @ (self.Mr @ (Xr.T @ y))
        else:
            self.x0_perp, self.y_perp = X[:, 0], y
        a_hat = self._scores(y - X @ self.b) @ self.m  # CR1 scores of coefficient 0
        self.se = float(math.sqrt(self.c * (a_hat @ a_hat)))

    def _scores(self, u: np.ndarray) -> np.ndarray:
        k = self.X.shape[1]
        return np.column_stack([np.bincount(self.cl, weights=self.X[:, j] * u, minlength=self.G) for j in range(k)])

    def _C(self, S: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a = S @ self.m  # (G,)
        B = self.mHM @ S.T  # (G, G): row g is m' H_g M S
        return a, self._K(a, u) - B

    def _K(self, a: np.ndarray, u: np.ndarray) -> np.ndarray:
        """K_gh = m' X_g' [M_FE(u 1_h)]_g; diag(a) when no fixed effect needs it."""
        if self.resid_fe is None:
            return np.diag(a)
        n, G = u.size, self.G
        xm = np.einsum("ij,j->i", self.X, self.m)
        K = np.empty((G, G))
        step = max(1, 20_000_000 // max(n, 1))
        for lo in range(0, G, step):
            hs = np.arange(lo, min(G, lo + step))
            W = np.zeros((n, hs.size), order="F")
            sel = np.flatnonzero(np.isin(self.cl, hs))
            W[sel, self.cl[sel] - lo] = u[sel]
            R = self.resid_fe(W)
            for j, h in enumerate(hs):
                K[:, h] = np.bincount(self.cl, weights=xm * R[:, j], minlength=G)
        return K

    def draws_for(self, V: np.ndarray, restricted: bool) -> tuple[np.ndarray, ...]:
        """Sufficient statistics of the bootstrap t's, linear in the null value.

        Restricted: residuals ``u(beta0) = u1 - beta0 u2`` are linear in beta0,
        so the numerator is ``N1 - beta0 N2`` and the squared CR1 SE is
        ``c (A - 2 beta0 B + beta0^2 C)``; each p-value of the test
        inversion then costs O(draws). Unrestricted: ``t*`` does not depend
        on beta0 (N2 = B = C = 0).
        """
        u1 = self.y_perp if restricted else self.y - self.X @ self.b
        S1 = self._scores(u1)
        a1, C1 = self._C(S1, u1)
        N1, Q1 = a1 @ V, C1 @ V
        A = self.c * np.einsum("gb,gb->b", Q1, Q1)
        if not restricted:
            z = np.zeros_like(N1)
            return N1, z, A, z, z
        a2, C2 = self._C(self._scores(self.x0_perp), self.x0_perp)
        N2, Q2 = a2 @ V, C2 @ V
        return (N1, N2, A, self.c * np.einsum("gb,gb->b", Q1, Q2), self.c * np.einsum("gb,gb->b", Q2, Q2))


def wcb_kernel(X: np.ndarray, y: np.ndarray, cl: np.ndarray, G: int, V: np.ndarray, *, restricted: bool,
               alpha: float, resid_fe: Callable[[np.ndarray], np.ndarray] | None = None) -> dict[str, Any]:
    """p-value of b_0 = 0 and the test-inversion CI of b_0 (column 0 of X)."""
    wcb = _WCB(X, y, cl, G, resid_fe)
    N1, N2, A, B, C = wcb.draws_for(V, restricted)
    b, se = float(wcb.b[0]), wcb.se
    if not np.isfinite(se) or se <= 1e-12 * max(abs(b), float(np.sqrt(np.mean(y**2))), 1e-300):
        raise EstimationError(
            "the cluster-robust standard error of the effect is zero: the outcome has no variation "
            "left after the fixed effects (is it constant?). Check the outcome column."
        )

    def pval(beta0: float) -> float:
        t_obs = (b - beta0) / se
        num = N1 - beta0 * N2
        den2 = A - 2 * beta0 * B + beta0**2 * C
        t_b = np.divide(num, np.sqrt(np.maximum(den2, 0.0)), out=np.zeros_like(num), where=den2 > 0)
        # ties count as at least as extreme (with few clusters a draw of all +1 reproduces the data);
        # the relative margin keeps rounding from deciding them
        return float(np.mean(np.abs(t_b) >= abs(t_obs) * (1 - 1e-9)))

    def extreme(beta0: float) -> int:
        return int(round(pval(beta0) * N1.size))

    # the reported p counts the observed statistic among the draws, so it is never 0; the interval
    # inverts the plain share, as boottest and wildboottest do
    p0 = monte_carlo_p_value(extreme(0.0), N1.size)
    ci = (_invert(pval, b, -se, alpha), _invert(pval, b, se, alpha))
    return {"estimate": b, "se": se, "p_value": p0, "conf_int": ci, "t": b / se}


def _invert(pval: Callable[[float], float], b: float, step: float, alpha: float) -> float:
    """The bound of {beta0: p(beta0) > alpha} on the side of ``step`` (bracket, then Brent)."""
    f = lambda x: pval(x) - alpha  # noqa: E731
    lo, hi = b, b + 2 * step
    for _ in range(60):
        if f(hi) < 0:
            break
        lo, hi = hi, hi + 2 * (hi - b)
    else:
        return math.inf if step > 0 else -math.inf
    # p is a step function: bisect to a width far below the SE
    a_, c_ = (lo, hi)
    for _ in range(60):
        mid = 0.5 * (a_ + c_)
        if f(mid) >= 0:
            a_ = mid
        else:
            c_ = mid
        if abs(c_ - a_) < 1e-7 * abs(step):
            break
    return 0.5 * (a_ + c_)


def _ri(Dt_perm: Callable[[np.ndarray], np.ndarray], yt: np.ndarray, Dt: np.ndarray, perms: np.ndarray,
        alpha: float) -> dict[str, Any]:
    """Randomisation p-value and CI (constant-effect inversion) of the FWL coefficient."""
    b = float(np.einsum("i,i->", Dt, yt) / np.einsum("i,i->", Dt, Dt))
    a_b = np.empty(perms.shape[0])
    c_b = np.empty(perms.shape[0])
    for i, p in enumerate(perms):
        dp = Dt_perm(p)
        den = np.einsum("i,i->", dp, dp)
        a_b[i] = np.einsum("i,i->", dp, yt) / den
        c_b[i] = np.einsum("i,i->", dp, Dt) / den  # beta_perm(tau0) = a_b - tau0 c_b

    def pval(tau0: float) -> float:
        return monte_carlo_p_value(int(np.sum(np.abs(a_b - tau0 * c_b) >= abs(b - tau0) - 1e-12)), a_b.size)

    sd = float(np.std(a_b)) or abs(b) or 1.0
    return {"estimate": b, "p_value": pval(0.0), "se": sd,
            "conf_int": (_invert(pval, b, -sd, alpha), _invert(pval, b, sd, alpha))}


class WildClusterBootstrap:
    """Few-cluster inference for a DiD: wild cluster bootstrap, or cluster-level randomisation inference.

    Estimand: the DiD effect of ``twfe`` (default) or ``did_2x2``; only the
    inference differs.

    Formula: the bootstrap-t of the CR1 t-statistic. ``restricted=True``
    (WCR) draws ``y* = X b_r + u_r v_g`` from the fit with the null imposed;
    ``False`` (WCU) from the unrestricted fit with ``t*`` centred at the
    estimate. p = share of ``|t*| >= |t|``; the CI collects the nulls not
    rejected (test inversion, MacKinnon 2015), found by bisection on the same
    draws. Fixed effects are swept out first (Frisch-Waugh-Lovell), so each
    draw costs one G x G matrix product (Roodman et al. 2019); period
    effects not nested in the clusters are projected out of each draw's
    residuals as in the full dummy regression.
    ``inference="randomisation"`` instead permutes the treated status across
    clusters (``sims`` permutations) and inverts a constant-effect test
    for the CI. Both p-values count the observed statistic among the
    draws, ``p = (1 + #{|t*| >= |t|}) / (1 + sims)``, so a p-value is never
    0 (its floor is ``1 / (sims + 1)``); the bootstrap interval inverts the
    plain share, as boottest does.

    Defaults and why: WCR with Rademacher weights is the most reliable with
    few treated clusters (Cameron, Gelbach & Miller 2008; MacKinnon & Webb
    2017); with fewer than about 12 clusters Rademacher has few distinct
    draws and Webb's six-point weights are better. A warning is given when
    fewer than 20 clusters are treated.

    Parameters
    ----------
    data : DataFrame
    outcome : str
        The outcome column.
    unit : str
        The panel unit (or group).
    period : str, default=None
        The calendar period column; required with ``estimator="twfe"``
        (with ``"did_2x2"`` the post column serves).
    treatment : str
        The arm, 0/1 or two labels declared with ``arms``, as in ``twfe``.
    arms : tuple, default=None
        ``(control, treated)`` labels of a text treatment column.
    post : str, default=None
        As in ``twfe``; ``did_2x2`` needs it.
    estimator : {"twfe", "did_2x2"}, default="twfe"
        The DiD whose effect is tested.
    covariates : list of str, default=None
        twfe only.
    weights : str, default=None
    clusters : str, default=None
        Clusters default to ``unit``.
    aggregation : {"citizen", "cluster"}, default=None
        As in ``twfe`` for repeated cross-sections.
    inference : {"bootstrap", "randomisation"}, default="bootstrap"
        ``"randomization"`` is accepted as an alias of ``"randomisation"``.
    restricted : bool, default=True
    bootstrap_weights : {"rademacher", "webb", "mammen"}, default="rademacher"
    sims : int, default=9999
        Bootstrap draws or permutations (99 to 10^6).
    alpha : float, default=0.05
    seed : int or Generator, default=None
    missing : {"error", "drop"}, default="error"

    Returns
    -------
    EffectResult
        ``p_value`` and ``conf_int`` from the bootstrap (``ci_method
        "test-inversion"``) or the permutations (``"randomisation"``);
        ``std_error`` is the CR1 SE; ``extra`` has the t-statistic,
        ``n_treated_clusters``, ``sims`` and the options. ``n``,
        ``n_treated`` and ``n_control`` count rows (of ever-treated and
        other units), ``n_clusters`` the clusters, ``n_units`` the units.

    Raises
    ------
    DataError, DesignError
        As for the underlying model; fewer than 2 clusters.

    References
    ----------
    Cameron, Gelbach & Miller (2008). REStat 90(3), 414-427. doi:10.1162/rest.90.3.414
    MacKinnon & Webb (2017). J. Applied Econometrics 32(2), 233-254. doi:10.1002/jae.2508
    Roodman, Nielsen, MacKinnon & Webb (2019). Stata Journal 19(1), 4-60. doi:10.1177/1536867X19830877
    Webb (2023). Canadian J. Economics 56(3), 839-858. doi:10.1111/caje.12661

    Examples
    --------
    >>> import effekt as ef
    >>> syn = WildClusterBootstrap.simulate(np.random.default_rng(3), n=30, effect=1.0)
    >>> res = ef.estimate("wild_cluster_bootstrap", data=syn.data, sims=999, seed=1, **syn.spec)
    >>> res.ci_method, res.se_type
    ('test-inversion', 'wild cluster bootstrap (WCR, rademacher)')
    """

    name: ClassVar[str] = "wild_cluster_bootstrap"
    estimand: ClassVar[str] = "att"
    kind: ClassVar[str] = "did"
    tags: ClassVar[EstimatorTags] = EstimatorTags(outcome="panel", supports_clusters=True, supports_weights=True,
                                                  supports_covariates=True, uses_seed=True)
    options: ClassVar[dict[str, Any]] = {
        "estimator": Choice(("twfe", "did_2x2")),
        "sims": Number(low=1, high=10**6, integer=True),
        "aggregation": Choice(("citizen", "cluster"), none_ok=True),
    }

    @classmethod
    def simulate(cls, rng: np.random.Generator, *, n: int = 40, effect: float = 1.0) -> Synthetic:
        from effekt_did.twfe import simulate_panel

        data = simulate_panel(rng, n_units=max(int(n), 10), n_times=4, effect=effect)
        data["D"] = data.treated * data.post
        spec = {"outcome": "y", "unit": "unit", "period": "period", "treatment": "D"}
        return Synthetic(data=data, spec=spec, truth=effect, outcome="y", treatment="D")

    @validated
    def fit(
        self,
        data: Any,
        *,
        outcome: str,
        unit: str,
        period: str | None = None,
        treatment: str,
        arms: tuple[Any, Any] | None = None,
        post: str | None = None,
        estimator: str = "twfe",
        covariates: Sequence[str] | None = None,
        weights: str | None = None,
        clusters: str | None = None,
        aggregation: str | None = None,
        inference: str = "bootstrap",
        restricted: bool = True,
        bootstrap_weights: str = "rademacher",
        sims: int = 9999,
        alpha: float = 0.05,
        seed: Any = None,
        missing: str = "error",
    ) -> EffectResult:
        model = estimator
        draws = check_positive_int(sims, "sims", minimum=99)
        rng = check_seed(seed)
        if model == "twfe" and period is None:
            raise DesignError(f"{self.name}: estimator='twfe' needs period= (the calendar period column).")
        if model == "did_2x2" and post is None:
            raise DesignError(f"{self.name}: estimator='did_2x2' needs post= (the after-period column).")
        if model == "did_2x2" and covariates:
            raise DesignError(f"{self.name}: estimator='did_2x2' takes no covariates; use estimator='twfe'.")
        panel = check_panel(data, outcome=outcome, unit=unit, period=period, treatment=treatment, arms=arms,
                            post=post,
                            weights=weights, clusters=clusters, covariates=covariates, missing=missing,
                            estimator=self.name)
        assert panel.d is not None
        aggregation = check_aggregation(aggregation, panel, self.name) if model == "twfe" else "citizen"
        w = cell_weights(panel) if aggregation == "cluster" else panel.weights
        cl, G = panel.cluster_codes()
        assert cl is not None
        if G < 2:
            raise DesignError(f"{self.name}: one cluster (column {clusters if clusters is not None else unit!r}); "
                              "the wild cluster bootstrap needs at least two.")
        n = panel.n
        resid_fe = None
        if model == "twfe":
            fes = [(panel.unit, panel.n_units), (panel.time, panel.n_times)]
            cols = [panel.d.astype(float)] + ([] if panel.X is None else list(panel.X.T))
            Z, _ = demean(np.column_stack([panel.y, *cols]), fes, w)
            yt, Xt = Z[:, 0], Z[:, 1:]
            if not all(nested_in(c, cl, k) for c, k in fes):
                sw_fe = np.ones(n) if w is None else np.sqrt(w)

                def resid_fe(W: np.ndarray) -> np.ndarray:  # M_FE in the sqrt(w)-scaled metric
                    return sw_fe[:, None] * demean(W / sw_fe[:, None], fes, w, copy=False)[0]
        else:
            assert panel.group is not None and panel.post is not None
            g_, p_ = panel.group.astype(float), panel.post.astype(float)
            Xt = np.column_stack([g_ * p_, np.ones(n), g_, p_])
            yt = panel.y
        if w is not None:
            sw = np.sqrt(w)
            Xt, yt = Xt * sw[:, None], yt * sw
        n_tc = int(np.unique(cl[panel.d == 1]).size)
        warns = [f"{panel.dropped} rows with missing values were dropped (missing='drop')."] if panel.dropped else []
        if n_tc < FEW_TREATED_CLUSTERS:
            msg = (f"only {n_tc} treated clusters (fewer than {FEW_TREATED_CLUSTERS}): even the wild cluster "
                   "bootstrap can mislead with very few treated clusters (MacKinnon & Webb 2017); report "
                   "randomisation inference alongside.")
            warn(msg)
            warns.append(msg)
        term = f"{treatment}:{post}" if post is not None else str(treatment)
        extra: dict[str, Any] = {"n_treated_clusters": n_tc, "sims": draws, "estimator": model,
                                 "aggregation": aggregation, "inference": inference}
        if inference == "bootstrap":
            if bootstrap_weights == "rademacher" and 2**G <= draws:
                warns.append(f"with {G} clusters Rademacher weights have only {2**G} distinct draws; "
                             "consider bootstrap_weights='webb'.")
            V = wild_weights(bootstrap_weights, (G, draws), rng)
            try:
                out = wcb_kernel(Xt, yt, cl, G, V, restricted=restricted, alpha=alpha, resid_fe=resid_fe)
            except EstimationError as exc:  # name the outcome column
                raise EstimationError(f"{exc} (outcome column {outcome!r})") from None
            except np.linalg.LinAlgError:
                raise EstimationError("the regressors are collinear after absorbing the fixed effects; the "
                                      "treatment must vary across units and periods, and no covariate "
                                      f"({', '.join(map(repr, covariates or [])) or 'none given'}) may be "
                                      "constant or a combination of the others.") from None
            se_type = f"wild cluster bootstrap ({'WCR' if restricted else 'WCU'}, {bootstrap_weights})"
            extra.update(t=out["t"], restricted=restricted, bootstrap_weights=bootstrap_weights,
                         cr1_std_error=out["se"])
        else:
            out = self._randomization(panel, model, Xt, yt, cl, G, w, draws, rng, alpha)
            se_type = "cluster randomisation inference"
            extra.update(permutation_sd=out["se"])
        ever = np.zeros(panel.n_units, dtype=bool)
        ever[panel.unit[panel.d == 1]] = True
        rows_treated = int(ever[panel.unit].sum())
        return EffectResult(estimator=self.name, estimand=self.estimand, term=term, estimate=out["estimate"],
                            std_error=out["se"], conf_int=out["conf_int"], conf_level=1 - alpha,
                            p_value=out["p_value"], df=None, n=n, n_treated=rows_treated,
                            n_control=n - rows_treated, n_units=panel.n_units, n_clusters=G,
                            se_type=se_type, design="panel" if panel.is_panel else "repeated_cross_section",
                            ci_method="test-inversion" if inference == "bootstrap" else "randomisation",
                            warnings=tuple(warns), extra=extra, outcome=outcome)

    @staticmethod
    def _randomization(panel: Any, model: str, Xt: np.ndarray, yt: np.ndarray, cl: np.ndarray, G: int,
                       w: np.ndarray | None, draws: int, rng: np.random.Generator, alpha: float) -> dict[str, Any]:
        if panel.group is None or panel.post is None:
            raise DesignError("inference='randomisation' permutes the treated group across clusters and needs "
                              "treatment= as the 0/1 group and post=.")
        g_cl = np.zeros(G)
        g_cl[cl] = panel.group
        # the group must be constant within clusters to permute at the cluster level
        if np.any(g_cl[cl] != panel.group):
            raise DesignError("the treated group varies within a cluster; randomisation inference permutes whole "
                              "clusters, so clusters must be nested in the groups.")
        sw = np.ones(panel.n) if w is None else np.sqrt(w)
        post = panel.post.astype(float)
        fes = [(panel.unit, panel.n_units), (panel.time, panel.n_times)]
        others = Xt[:, 1:]
        Mo = np.linalg.pinv(others.T @ others) if others.shape[1] else None

        def dt_perm(perm: np.ndarray) -> np.ndarray:
            d = g_cl[perm][cl] * post
            if model == "twfe":
                dt = demean(d, fes, w)[0][:, 0] * sw
            else:
                dt = d * sw
            if Mo is not None:  # einsum, not BLAS: many small products in a loop
                dt = dt - np.einsum("ij,j->i", others, Mo @ np.einsum("ij,i->j", others, dt))
            return dt

        perms = np.array([rng.permutation(G) for _ in range(draws)])
        Dt = dt_perm(np.arange(G))
        return _ri(dt_perm, yt, Dt, perms, alpha)
