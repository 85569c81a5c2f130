"""Multilevel (mixed) outcome models: citizens in caseworkers in job centres."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from effekt.data import as_frame, check_columns, describe_rows, label
from effekt.errors import DataError, DesignError, EstimationError
from effekt.protocol import EstimatorTags, Synthetic
from effekt.result import EffectResult, EffectTable
from effekt.vocabulary import validated

__all__ = ["Multilevel"]


def _group_codes(frame: pd.DataFrame, groups: list[Any]) -> list[np.ndarray]:
    """Integer codes of each level, each coded within the ones above (lme4's ``(1 | jc/cw)``: a
    caseworker label is read within its job centre, so labels may repeat across job centres)."""
    codes = []
    for i, g in enumerate(groups):
        key = frame[groups[: i + 1]].astype(str).agg("\x1f".join, axis=1) if i else frame[g].astype(str)
        codes.append(pd.factorize(key, sort=True)[0])
    return codes


def _fixed_effect_se(X: np.ndarray, Z: np.ndarray, codes: list[np.ndarray], cov_re: np.ndarray,
                     vcs: np.ndarray, resid: float) -> np.ndarray:
    """``sqrt(diag((X' V^-1 X)^-1))`` at the estimated variance components, as lme4's vcov().

    ``V_g = s2 I + Z~ Psi Z~'`` per outermost group, ``Z~`` the random-slope columns and the
    indicators of the nested levels; by Woodbury,
    ``X'V^-1 X = (X'X - X'Z~ (s2 Psi^-1 + Z~'Z~)^-1 Z~'X) / s2``. (statsmodels' bse_fe inverts
    the full Hessian, variance parameters included, and differs from lme4 in the third digit.)
    """
    top = codes[0]
    k = X.shape[1]
    info = np.zeros((k, k))
    keep_vc = [i for i, v in enumerate(vcs) if v > 1e-12 * resid]
    re_ok = np.linalg.eigvalsh(cov_re).min() > 1e-12 * resid
    for t in np.unique(top):
        rows = top == t
        Xg = X[rows]
        blocks, psis = [], []
        if re_ok:
            blocks.append(Z[rows])
            psis.append(cov_re)
        for i in keep_vc:
            c = codes[i + 1][rows]
            labs = np.unique(c)
            blocks.append((c[:, None] == labs[None, :]).astype(float))
            psis.append(np.eye(labs.size) * vcs[i])
        if not blocks:
            info += Xg.T @ Xg / resid
            continue
        Zt = np.column_stack(blocks)
        m = Zt.shape[1]
        psi_inv = np.zeros((m, m))
        at = 0
        for p_ in psis:
            d = p_.shape[0]
            psi_inv[at:at + d, at:at + d] = np.linalg.inv(p_)
            at += d
        inner = np.linalg.inv(resid * psi_inv + Zt.T @ Zt)
        XZ = Xg.T @ Zt
        info += (Xg.T @ Xg - XZ @ inner @ XZ.T) / resid
    return np.sqrt(np.diag(np.linalg.inv(info)))


def _collinear_message(X: np.ndarray, names: list[str], outcome: str, covariates: list[str]) -> str:
    """Which fixed effect adds nothing to the ones before it, named with the covariate columns."""
    bad = names[-1]
    for j in range(1, X.shape[1] + 1):
        if np.linalg.matrix_rank(X[:, :j]) < j:
            bad = names[j - 1]
            break
    what = f"covariates={covariates!r}" if covariates else "no covariates"
    return (f"the fixed effects are collinear in the {X.shape[0]} rows of outcome {outcome!r}: term {bad!r} is constant "
            f"or a combination of the terms before it ({what}; e.g. a group-level predictor duplicated); drop it.")


class Multilevel:
    """A linear model with random intercepts (and slopes) for nested groups.

    Estimand: a fixed-effect coefficient (by default the treatment's) in
    ``y_ijk = x'b + u_k + v_jk (+ s_k x) + e_ijk`` for citizens ``i`` in
    caseworkers ``j`` in job centres ``k``; ``u``, ``v``, ``e`` independent
    normal with variances ``s2_k``, ``s2_j``, ``s2_e``.

    ICCs (lme4 / Snijders & Bosker 2012, sec. 4.9): the share of the total
    variance ``s2_k + s2_j + s2_e`` between job centres,
    ``ICC_k = s2_k / total``, and the correlation of two citizens of the
    same caseworker, ``ICC_j = (s2_k + s2_j) / total``. With random slopes
    the ICCs are at ``x = 0``.

    Defaults and why: REML (lme4's default: unbiased variance components).
    Standard errors are model-based (the inverse information of the fit);
    intervals and p-values use the normal, as statsmodels (lme4 prints no
    p-values; Satterthwaite or Kenward-Roger df are not computed).

    Parameters
    ----------
    data : DataFrame
    outcome : str
    treatment : str, default=None
        A 0/1 (or two-label) column whose coefficient is the headline; it may
        vary at any level.
    arms : tuple, default=None
        ``(control, treated)`` labels of a text treatment column.
    groups : list of str
        One to three grouping columns, outermost first, e.g.
        ``["jobcentre", "caseworker"]``.
    covariates : list of str, default=None
        Citizen- and group-level predictors (caseload, fidelity score); text
        columns are expanded to indicators.
    random_slopes : list of str, default=None
        Covariates whose slopes vary between the outermost groups
        (correlated with the intercept).
    term : str, default=None
        The coefficient reported as the headline when there is no treatment
        (a covariate's name).
    reml : bool, default=True
    alpha : float, default=0.05
    missing : {"error", "drop"}, default="error"

    Returns
    -------
    EffectTable
        One row per fixed effect (estimand ``coefficient``), the headline the
        treatment (or ``term``). ``extra``: ``variance_components`` (by level,
        and ``residual``), ``icc`` (by level), ``random_effects_cov`` with
        slopes, ``n_groups``, ``reml``, ``log_likelihood``, ``converged``.

    Raises
    ------
    DataError
        Bad columns; a level with one group only; groups that are not nested.
    DesignError
        No treatment and no term; a random slope that is not a covariate.
    EstimationError
        A fit that fails to converge to finite variance components; a zero
        residual variance (a constant outcome, as many parameters as rows).

    References
    ----------
    Bates, Maechler, Bolker & Walker (2015). Fitting linear mixed-effects models using lme4.
    J. Stat. Software 67(1). doi:10.18637/jss.v067.i01. Computed with statsmodels' MixedLM
    (Lindstrom & Bates 1988), nested levels as variance components.

    Examples
    --------
    >>> import effekt as ef
    >>> syn = Multilevel.simulate(np.random.default_rng(1), n=240)
    >>> res = ef.estimate("multilevel", data=syn.data, **syn.spec)
    >>> res.headline.term, sorted(res.extra["icc"])
    ('z', ['caseworker'])
    """

    name: ClassVar[str] = "multilevel"
    estimand: ClassVar[str] = "coefficient"
    kind: ClassVar[str] = "regression"
    tags: ClassVar[EstimatorTags] = EstimatorTags(supports_covariates=True)

    @classmethod
    def simulate(cls, rng: np.random.Generator, *, n: int = 240, effect: float = 1.0) -> Synthetic:
        """Citizens in 24 caseworkers with a random intercept; treatment randomised per citizen."""
        n = max(int(n), 48)
        k = 24
        cw = np.arange(n) % k
        z = (rng.random(n) < 0.5).astype(int)
        z[:2] = [0, 1]
        x = rng.normal(size=n)
        y = 1.0 + effect * z + 0.5 * x + rng.normal(0, 0.8, k)[cw] + rng.normal(size=n)
        data = pd.DataFrame({"y": y, "z": z, "x": x, "caseworker": [f"cw{c:02d}" for c in cw]})
        return Synthetic(data=data, spec={"outcome": "y", "treatment": "z", "groups": ["caseworker"],
                                          "covariates": ["x"]}, truth=effect)

    @validated
    def fit(
        self,
        data: Any,
        *,
        outcome: str,
        treatment: str | None = None,
        arms: tuple[Any, Any] | None = None,
        groups: Sequence[str] | str,
        covariates: Sequence[str] | str | None = None,
        random_slopes: Sequence[str] | str | None = None,
        term: str | None = None,
        reml: bool = True,
        alpha: float = 0.05,
        missing: str = "error",
    ) -> EffectTable:
        import statsmodels.api as sm
        from statsmodels.tools.sm_exceptions import ConvergenceWarning

        frame = as_frame(data)
        if not frame.index.is_unique:  # rows are told apart by position below
            frame = frame.reset_index(drop=True)
        levels = [groups] if isinstance(groups, str) else list(groups)
        if not 1 <= len(levels) <= 3:
            raise DesignError(f"groups= takes one to three columns, outermost first; got {levels!r}.")
        covs = [covariates] if isinstance(covariates, str) else list(covariates or [])
        slopes = [random_slopes] if isinstance(random_slopes, str) else list(random_slopes or [])
        not_cov = [s for s in slopes if s not in covs]
        if not_cov:
            raise DesignError(f"random_slopes {not_cov!r} must also be covariates (fixed slopes); add them to "
                              "covariates=.")
        if treatment is None and term is None:
            raise DesignError("multilevel needs treatment= (the headline coefficient) or term= naming a covariate.")
        for g in levels:
            if g not in frame.columns:
                raise DataError(f"groups column {g!r} is missing; the data have {list(frame.columns)[:20]}.")
        dropped_groups = 0
        na = frame[levels].isna().any(axis=1).to_numpy()
        if na.any():
            if missing == "error":
                raise DataError(f"groups columns {levels!r} have {int(na.sum())} missing value(s) "
                                f"({describe_rows(frame.index[na])}); remove them or pass missing='drop'.")
            frame, dropped_groups = frame.loc[~na], int(na.sum())
        cols = check_columns(frame, outcome=outcome, treatment=treatment, arms=arms, covariates=covs,
                             missing=missing)
        assert cols.y is not None
        if np.ptp(cols.y) == 0:  # no residual variance: the mixed model's likelihood is undefined
            raise DataError(f"multilevel: outcome column {outcome!r} is {cols.y[0]:g} in every row, so there is no "
                            "variance to split between the levels; check the outcome column.")
        if cols.index is not None:
            frame = frame.loc[cols.index]
        codes = _group_codes(frame, levels)
        for i, (g, c) in enumerate(zip(levels, codes)):
            k = int(c.max()) + 1
            if k < 2:
                raise DataError(f"groups column {g!r} has one group only ({label(frame[g].iloc[0])}); a random "
                                "effect needs at least two (better ten or more). Drop that level from groups=.")
            if i and k == int(codes[i - 1].max()) + 1:
                raise DataError(
                    f"groups column {g!r} splits no group of {levels[i - 1]!r} (each {levels[i - 1]!r} holds one "
                    f"{g!r}), so the two levels cannot be told apart. groups= lists the levels outermost first, "
                    f"each nested in the one before (e.g. ['jobcentre', 'caseworker']); check the order."
                )
        names = ["(Intercept)"] + ([str(treatment)] if treatment is not None else []) + list(cols.covariate_names)
        parts = [np.ones(cols.n)] + ([cols.z.astype(float)] if cols.z is not None else [])
        X = np.column_stack(parts + ([cols.X] if cols.X is not None else []))
        head = str(treatment) if treatment is not None else str(term)
        if head not in names:
            raise DesignError(f"term={term!r} is not a fixed effect; the model's terms are {names}.")
        if np.linalg.matrix_rank(X) < X.shape[1]:
            raise DataError(_collinear_message(X, names, str(outcome), covs))
        Z = np.ones((cols.n, 1))
        slope_names: list[str] = []
        if slopes:
            idx = [names.index(s) for s in slopes if s in names]
            Z = np.column_stack([Z, X[:, idx]])
            slope_names = [names[i] for i in idx]
        exog_vc = None
        if len(levels) > 1:
            # each lower level is a variance component within the outermost group
            from statsmodels.regression.mixed_linear_model import VCSpec

            top = codes[0]
            vc_names, vc_cols, vc_mats = [], [], []
            for g, c in zip(levels[1:], codes[1:]):
                cols_g, mats_g = [], []
                for t in range(int(top.max()) + 1):
                    rows = top == t
                    sub = c[rows]
                    labs = np.unique(sub)
                    cols_g.append([f"{g}[{v}]" for v in labs])
                    mats_g.append((sub[:, None] == labs[None, :]).astype(float))
                vc_names.append(str(g))
                vc_cols.append(cols_g)
                vc_mats.append(mats_g)
            exog_vc = VCSpec(vc_names, vc_cols, vc_mats)
        notes = cols.warnings()
        if dropped_groups:
            notes.append(f"{dropped_groups} row(s) with a missing group were dropped (missing='drop').")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = sm.MixedLM(cols.y, X, groups=codes[0], exog_re=Z, exog_vc=exog_vc)
            fit = None
            for method in (["bfgs", "lbfgs", "cg"], ["powell", "nm"]):
                try:
                    fit = model.fit(reml=reml, method=method)
                    break
                except (np.linalg.LinAlgError, ValueError) as exc:
                    problem = exc
            if fit is None:
                raise EstimationError(f"the multilevel model could not be fitted ({problem}); check for groups "
                                      "with one row and for collinear predictors.") from None
        for w in caught:
            if issubclass(w.category, ConvergenceWarning) or "boundary" in str(w.message):
                notes.append(f"statsmodels: {str(w.message).splitlines()[0]}")
        fe = np.asarray(fit.fe_params)
        cov_re = np.asarray(fit.cov_re)
        vcs = np.atleast_1d(np.asarray(fit.vcomp, dtype=float)) if exog_vc is not None else np.zeros(0)
        resid = float(fit.scale)
        if not (np.isfinite(resid) and resid > 0):
            raise EstimationError(
                f"the residual variance of outcome column {outcome!r} is {resid:g}: the fixed and random effects fit "
                f"the {cols.n} rows exactly (a constant outcome, or as many parameters as rows), so no standard "
                "error can be formed. Check the outcome and use more rows than parameters.")
        bse = _fixed_effect_se(X, Z, codes, cov_re, vcs, resid)
        if not (np.all(np.isfinite(fe)) and np.all(np.isfinite(bse))):
            raise EstimationError(f"the multilevel fit of outcome column {outcome!r} on {cols.n} rows gave non-finite "
                                  "coefficients or standard errors; the model may be over-specified (too many "
                                  "random effects for the groups).")
        vcomp: dict[str, float] = {str(levels[0]): float(cov_re[0, 0])}
        for g, v in zip(levels[1:], vcs):
            vcomp[str(g)] = float(v)
        vcomp["residual"] = resid
        total = sum(vcomp.values())
        icc: dict[str, float] = {}
        running = 0.0
        for g in levels:
            running += vcomp[str(g)]
            icc[str(g)] = running / total
        n_groups = {str(g): int(c.max()) + 1 for g, c in zip(levels, codes)}
        extra: dict[str, Any] = {
            "variance_components": vcomp, "icc": icc, "n_groups": n_groups, "reml": bool(reml),
            "log_likelihood": float(fit.llf), "converged": bool(fit.converged), "levels": [str(g) for g in levels],
        }
        if slope_names:
            re_names = ["(Intercept)", *slope_names]
            extra["random_effects_cov"] = {"terms": re_names, "matrix": cov_re.tolist()}
            notes.append("with random slopes the ICCs are at covariates = 0.")
        if cols.reference_levels:
            extra["reference_levels"] = {str(k): v for k, v in cols.reference_levels.items()}
        if any(v <= 1e-8 * total for v in vcomp.values()):
            notes.append("a variance component is estimated at 0 (a boundary fit, lme4's 'singular'); the "
                         "level adds nothing beyond the others.")
        design = "multilevel"
        rows = [
            EffectResult.from_z(
                float(b), float(s), alpha=alpha, estimator=self.name, estimand=self.estimand, term=t, n=cols.n,
                n_treated=cols.n_treated if treatment is not None else None,
                n_control=cols.n_control if treatment is not None else None,
                n_clusters=n_groups[str(levels[-1])], se_type="model-based (REML)" if reml else "model-based (ML)",
                design=design, warnings=notes, outcome=outcome,
                extra={"variance_components": vcomp, "icc": icc} if t == head else {},
            )
            for t, b, s in zip(names, fe, bse)
        ]
        return EffectTable(self.name, tuple(rows), extra=extra, warnings=tuple(notes), headline_term=head)
