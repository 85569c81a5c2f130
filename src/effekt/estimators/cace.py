"""Complier average causal effect by two-stage least squares.

Estimand: the average effect of receiving the programme among compliers,
the units who take it up when assigned and not otherwise (Angrist, Imbens &
Rubin 1996), identified when assignment is random, affects the outcome only
through take-up (exclusion) and moves no one away from take-up
(monotonicity).

Formula: with ``X = [1, received, covariates]`` and instruments
``Z = [1, treatment, covariates]`` (fixed effects swept out of all of them),

    X^ = Z (Z'WZ)^{-1} Z'WX,   b = (X^'WX^)^{-1} X^'Wy,   e = y - X b,
    V = M (sum of scores of X^ and e) M,   M = (X^'WX^)^{-1}

so ``V`` is the sandwich of :mod:`effekt.sandwich` with the first-stage
fitted regressors as design (their hat matrix gives the HC2/CR2 leverage)
and the structural residuals, as in estimatr's ``iv_robust``. With weights,
CR2 is clubSandwich's default for a weighted ``AER::ivreg`` (the projected
regressors as the design, working model ``Var(e) = sigma^2 I`` in the
original units; see :func:`effekt.sandwich.robust_vcov`). Without
covariates the coefficient is the Wald ratio ``ITT_Y / ITT_D``.

Defaults and why: HC2, or CR2 with Bell-McCaffrey df when clustered, as
``lm_robust``; blocks are absorbed as fixed effects. The result also
reports the first-stage F of the instrument (same ``se_type``; below 10
warns of a weak instrument, Staiger & Stock 1997), the complier share
(``ITT_D``) and the complier means of the covariates
(``E[x D | Z=1] - E[x D | Z=0]) / ITT_D``, Abadie 2003, computed as the
2SLS coefficient of ``x * received`` on ``received``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from effekt.absorb import Absorber, check_not_absorbed
from effekt.data import _as_binary_numbers, as_frame, describe_rows, label
from effekt.errors import DataError, DesignError, EstimationError
from effekt.estimators._model import LinearModel, infer_design, model_frame
from effekt.protocol import EstimatorTags, Synthetic
from effekt.result import EffectResult
from effekt.sandwich import AbsorbedHat, _inverse_gram, default_se_type, robust_ols, robust_vcov
from effekt.vocabulary import validated

__all__ = ["Cace", "IvRobust", "tsls", "TSLSFit"]


@dataclass(frozen=True)
class TSLSFit:
    """Coefficients and robust covariance of a 2SLS fit, and its first stages."""

    coef: np.ndarray
    vcov: np.ndarray
    df: np.ndarray
    n_clusters: int | None
    first_stage_f: np.ndarray  # one per endogenous regressor
    first_stage_df: tuple[float, float]
    first_stage_coef: np.ndarray  # (n_instruments, n_endogenous) excluded-instrument coefficients
    #: ``(Xhat, M)``: the projected regressors (``sqrt(w)`` scale) and ``(Xhat'Xhat)^{-1}``; with the
    #: clusters, weights and absorbed effects, the ``cr2_design`` of :func:`effekt.sandwich.wald_test`
    design: tuple[np.ndarray, np.ndarray] | None = None


def tsls(
    y: np.ndarray,
    X: np.ndarray,
    Z: np.ndarray,
    *,
    endogenous: Sequence[int],
    excluded: Sequence[int],
    se_type: str,
    clusters: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    absorbed: AbsorbedHat | None = None,
    extra_k: int = 0,
    names: Sequence[str] | None = None,
    df_coefs: Sequence[int] | None = None,
) -> TSLSFit:
    """Two-stage least squares on arrays (fixed effects already swept out).

    Parameters
    ----------
    y : (n,) outcome
    X : (n, k) regressors, endogenous ones included
    Z : (n, l) instruments, ``l >= k``, exogenous regressors included
    endogenous : columns of ``X`` that are endogenous
    excluded : columns of ``Z`` that are excluded instruments
    se_type, clusters, weights, absorbed, extra_k, df_coefs : as in :func:`effekt.sandwich.robust_ols`

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> z = np.repeat([0.0, 1.0], 50); d = z * (rng.random(100) < 0.7)
    >>> y = 2.0 * d + rng.normal(size=100)
    >>> one = np.ones(100)
    >>> fit = tsls(y, np.column_stack([one, d]), np.column_stack([one, z]),
    ...            endogenous=[1], excluded=[1], se_type="HC2")
    >>> itt_y = y[z == 1].mean() - y[z == 0].mean(); itt_d = d[z == 1].mean() - d[z == 0].mean()
    >>> bool(np.isclose(fit.coef[1], itt_y / itt_d))
    True
    """
    n, k = X.shape
    if Z.shape[1] < k:
        raise DesignError(
            f"{Z.shape[1]} instruments cannot identify {k} coefficients: each endogenous "
            "regressor needs an excluded instrument."
        )
    sw = np.ones(n) if weights is None else np.sqrt(weights)
    Xw, Zw, yw = X * sw[:, None], Z * sw[:, None], y * sw
    Mz = _inverse_gram(Zw, None)
    Pi = Mz @ (Zw.T @ Xw)
    Xhat = Zw @ Pi
    M = _inverse_gram(Xhat, names)
    coef = M @ (Xhat.T @ yw)
    e = yw - Xw @ coef
    k_total = k + extra_k
    if n <= k_total:
        raise EstimationError(f"{n} observations cannot estimate {k_total} parameters and their variance.")
    # weighted CR2: clubSandwich's default for a weighted ivreg (the projected regressors as the design,
    # the weights as W, working model Var(e) = sigma^2 I), not the unweighted CR2 of the scaled arrays
    vcov, df, n_clusters = robust_vcov(
        Xhat, e, M, se_type=se_type, clusters=clusters, k_total=k_total, absorbed=absorbed, df_coefs=df_coefs,
        sqrt_weights=None if weights is None else sw,
    )
    # first stages: robust Wald F of the excluded instruments, same se_type
    excluded = list(excluded)
    f_stats, fs_coef = [], []
    df2 = 0.0
    for j in endogenous:
        fs = robust_ols(
            Z, X[:, j], se_type=se_type, clusters=clusters, weights=weights, extra_k=extra_k,
            absorbed=absorbed, df_coefs=excluded, allow_exact_fit=True,
        )
        b = fs.coef[excluded]
        V = fs.vcov[np.ix_(excluded, excluded)]
        f_stats.append(float(b @ np.linalg.solve(V, b)) / len(excluded))
        fs_coef.append(b)
        df2 = float(fs.n_clusters - 1) if fs.n_clusters is not None else float(n - fs.k)
    return TSLSFit(
        coef=coef,
        vcov=vcov,
        df=df,
        n_clusters=n_clusters,
        first_stage_f=np.array(f_stats),
        first_stage_df=(float(len(excluded)), df2),
        first_stage_coef=np.array(fs_coef).T,
        design=(Xhat, M),
    )


class Cace:
    """Complier average causal effect (2SLS; alias ``iv_robust``).

    Estimand: the effect of receiving the programme among compliers.

    Formula: 2SLS of ``outcome`` on ``received`` instrumented by the
    assignment ``treatment``, covariates as their own instruments, fixed
    effects absorbed; the robust covariance uses the first-stage fitted
    regressors and the structural residuals (see the module notes).

    Defaults and why: ``se_type`` HC2, or CR2 (Bell-McCaffrey df) with
    ``clusters=``, as ``lm_robust``; blocks are absorbed as fixed effects.

    Parameters
    ----------
    data : DataFrame
    outcome : str
        Outcome column.
    treatment : str, default=None
        The random assignment, the instrument: 0/1 (bool, or a
        categorical/object column holding 0/1), or labels declared with ``arms``.
    arms : (control, treated), default=None
        The arms' labels, the control first. They label the assignment and,
        when it holds them, ``received`` (the arm actually received); a
        column already coded 0/1 is read as it is.
    received : str
        The treatment actually received (0/1, or the arms' labels), the
        endogenous regressor.
    covariates : list of str, default=None
        Exogenous covariates (also their own instruments); their complier
        means are reported. Text or categorical columns are expanded to
        indicators, the first level (sorted) the reference.
    blocks : str, default=None
        Randomisation blocks, absorbed as fixed effects.
    fixed_effects : list of str, default=None
        Further factors to absorb.
    clusters : str, default=None
        Clusters (CR2 by default); ``n_clusters`` reports their number.
    weights : str, default=None
        Positive weights.
    se_type : str, default=None
        As in ``lm_robust``: HC2, or CR2 with clusters.
    alpha : float, default=0.05
        Intervals are at ``1 - alpha``.
    assignment : Assignment, default=None
        Supplies treatment, blocks and clusters (see ``lm_robust``).
    missing : {"error", "drop"}, default="error"
        ``"drop"`` drops rows with a missing value and says how many.

    Returns
    -------
    EffectResult
        ``estimate`` is the CACE. ``extra``: ``first_stage_f`` (with
        ``first_stage_df``), ``complier_share`` and its standard error,
        ``itt`` (the reduced form), ``complier_means`` (covariate -> mean
        among compliers), ``terms`` (every coefficient).

    Raises
    ------
    DataError
        Missing columns or values, a non-0/1 assignment or take-up, take-up
        that never varies, non-positive weights.
    DesignError
        ``received`` missing, an inconsistent ``se_type``.
    EstimationError
        An instrument that does not move take-up at all (first stage zero),
        collinear regressors.

    Notes
    -----
    A first-stage F below 10 gives a warning: 2SLS is then biased towards
    OLS and its Wald interval undercovers; an Anderson-Rubin interval is the
    remedy. ``complier_means`` use the same fixed effects and se_type.

    References
    ----------
    Angrist, Imbens & Rubin (1996), JASA 91(434), 444-455, doi:10.1080/01621459.1996.10476902.
    Abadie (2003), J. Econometrics 113(2), 231-263, section 4 (complier characteristics).
    Gerber & Green (2012), Field Experiments, ch. 5, eq. 5.25.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> import effekt as ef
    >>> rng = np.random.default_rng(1)
    >>> z = rng.permutation(np.repeat([0, 1], 100))
    >>> d = z * (rng.random(200) < 0.6)
    >>> df = pd.DataFrame({"z": z, "d": d, "y": 1.5 * d + rng.normal(size=200)})
    >>> res = ef.estimate("cace", data=df, outcome="y", treatment="z", received="d")
    >>> res.estimand, res.se_type, round(res.extra["complier_share"], 2)
    ('cace', 'HC2', 0.66)
    """

    name: ClassVar[str] = "cace"
    estimand: ClassVar[str] = "cace"
    kind: ClassVar[str] = "itt"
    tags: ClassVar[EstimatorTags] = EstimatorTags(
        supports_blocks=True,
        supports_clusters=True,
        supports_covariates=True,
        supports_weights=True,
        sign_flip=False,  # swapping the arms reverses the first stage too: the CACE is unchanged
    )

    @classmethod
    def simulate(cls, rng: np.random.Generator, *, n: int, effect: float) -> Synthetic:
        """A trial with one-sided non-compliance (60% compliers) and a constant effect."""
        z = rng.permutation(np.arange(n) % 2)
        complier = rng.random(n) < 0.6
        d = (z * complier).astype(int)
        x = rng.normal(size=n)
        y = 0.5 * x + effect * d + rng.normal(size=n)
        data = pd.DataFrame({"y": y, "z": z, "d": d, "x": x})
        # the equivariance checks move the outcome with take-up: y + c * d shifts the CACE by c
        return Synthetic(
            data=data, spec={"outcome": "y", "treatment": "z", "received": "d"}, truth=effect, treatment="d"
        )

    @validated
    def fit(
        self,
        data: Any,
        *,
        outcome: Any,
        treatment: Any = None,
        arms: tuple[Any, Any] | None = None,
        received: Any = None,
        covariates: Sequence[Any] | str | None = None,
        blocks: Any = None,
        fixed_effects: Sequence[Any] | str | None = None,
        clusters: Any = None,
        weights: Any = None,
        se_type: str | None = None,
        alpha: float = 0.05,
        assignment: Any = None,
        missing: str = "error",
    ) -> EffectResult:
        if received is None:
            raise DesignError(
                f"{self.name} needs received=: the column of treatment actually received "
                "(take-up). Without non-compliance use lm_robust or difference_in_means."
            )
        frame = as_frame(data)
        frame = _received_as_numbers(frame, received, arms)
        if arms is not None and treatment in frame.columns and _coded_01(frame[treatment], arms):
            arms = None  # the assignment is already 0/1; the labels are received's
        mf = model_frame(
            frame,
            outcome=outcome,
            treatment=treatment,
            covariates=covariates,
            fixed_effects=fixed_effects,
            blocks=blocks,
            clusters=clusters,
            weights=weights,
            extra_numeric={"received": received},
            assignment=assignment,
            missing=missing,
            arms=arms,
        )
        if mf.z is None:
            raise DesignError(f"{self.name} needs treatment= (the random assignment) or assignment=.")
        treatment = mf.treatment
        d = mf.extra["received"]
        se = default_se_type(se_type, mf.clusters is not None)
        names = [n if n != mf.treatment else str(received) for n in mf.terms]
        j_z = mf.terms.index(str(mf.treatment))
        X = mf.X.copy()
        X[:, j_z] = d  # regressors: received in place of assignment
        Z = mf.X
        y = mf.y
        absorbed, n_absorbed, absorber = None, 0, None
        if mf.fixed_effects:
            absorber = Absorber(mf.fixed_effects, mf.weights, mf.fe_names)
            A = absorber.demean(np.column_stack([X, Z[:, j_z], y]))
            check_not_absorbed(
                np.column_stack([X, Z[:, j_z]]), A[:, :-1], [*names, str(treatment)], mf.fe_names
            )
            X, Z = A[:, : X.shape[1]], A[:, : X.shape[1]].copy()
            Z[:, j_z] = A[:, -2]
            y = A[:, -1]
            n_absorbed = absorber.rank
            if se in ("HC2", "HC3", "CR2"):
                absorbed = absorber.hat()
        bad = ~np.isin(d, (0.0, 1.0))
        if bad.any():
            rows = mf.frame.index[bad] if mf.frame is not None else np.flatnonzero(bad)
            raise DataError(
                f"received column {received!r} must hold 0 (not taken up) and 1 (taken up); it also "
                f"holds {', '.join(f'{v:g}' for v in np.unique(d[bad])[:5])} in {describe_rows(rows)}. "
                "Recode take-up as 0/1 (a dose needs another estimand)."
            )
        if np.ptp(d) == 0:
            raise DataError(
                f"received column {received!r} is {d[0]:g} in every row: take-up does not vary, so "
                "no complier effect can be identified. Check the take-up coding."
            )
        common: dict[str, Any] = dict(
            se_type=se, clusters=mf.clusters, weights=mf.weights, absorbed=absorbed, extra_k=n_absorbed
        )
        # first stage (complier share) and reduced form (ITT), same design and se_type
        # full compliance makes the first stage an exact fit, which is allowed here
        first = robust_ols(Z, X[:, j_z], df_coefs=[j_z], allow_exact_fit=True, names=mf.terms, **common)
        if abs(first.coef[j_z]) < 1e-10 * max(np.ptp(d), 1e-300):
            raise EstimationError(
                f"assignment {treatment!r} does not change take-up {received!r} (first stage "
                f"{first.coef[j_z]:.3g}): the CACE is not identified."
            )
        reduced = robust_ols(Z, y, df_coefs=[j_z], names=mf.terms, outcome=mf.outcome, **common)
        fit = tsls(y, X, Z, endogenous=[j_z], excluded=[j_z], names=names, df_coefs=[j_z], **common)
        design = infer_design(mf)
        model = LinearModel(
            estimator=self.name, terms=tuple(names), coef=fit.coef, vcov=fit.vcov, df=fit.df,
            se_type=se, design=design, n=mf.n, n_clusters=fit.n_clusters,
            df_residual=float(mf.n - len(names) - n_absorbed), alpha=alpha, outcome=mf.outcome,
            fixed_effects=tuple(mf.fe_names), n_absorbed=n_absorbed,
        )
        share_se = float(np.sqrt(first.vcov[j_z, j_z]))
        complier_means = self._complier_means(mf, d, j_z, absorber, common)
        warnings = list(model.warnings)
        if mf.dropped:
            warnings.append(f"{mf.dropped} rows with missing values were dropped (missing='drop').")
        f = float(fit.first_stage_f[0])
        if f < 10:
            warnings.append(
                f"weak instrument: the first-stage F is {f:.3g} (< 10); the 2SLS estimate is biased "
                "towards OLS and its interval may undercover."
            )
        extra = {
            "first_stage_f": f,
            "first_stage_df": list(fit.first_stage_df),
            "complier_share": float(first.coef[j_z]),
            "complier_share_se": share_se,
            "itt": float(reduced.coef[j_z]),
            "itt_se": float(np.sqrt(reduced.vcov[j_z, j_z])),
            "complier_means": complier_means,
            "terms": model.tidy().drop(columns=["estimator", "estimand", "se_type", "design", "n", "outcome"])
            .to_dict(orient="records"),
            "n_absorbed": n_absorbed,
            "n_clusters": fit.n_clusters,
            "received": str(received),
        }
        if mf.reference_levels:
            extra["reference_levels"] = dict(mf.reference_levels)
        return model.result(
            str(received), estimand=self.estimand, extra=extra, warnings=tuple(warnings),
            n_treated=int(mf.z.sum()), n_control=int(mf.n - mf.z.sum()), n_clusters=fit.n_clusters,
        )

    @staticmethod
    def _complier_means(
        mf: Any, d: np.ndarray, j_z: int, absorber: Absorber | None, common: dict[str, Any]
    ) -> dict[str, float]:
        """``E[x | complier]``: 2SLS of ``x * d`` on ``d`` instrumented by ``z``."""
        cov_cols = [j for j, t in enumerate(mf.terms) if t not in ("(Intercept)", mf.treatment)]
        if not cov_cols:
            return {}
        n = mf.n
        base_X = np.column_stack([np.ones(n), d]) if absorber is None else d[:, None]
        base_Z = np.column_stack([np.ones(n), mf.z]) if absorber is None else mf.z[:, None].astype(float)
        out = {}
        for j in cov_cols:
            yj = mf.X[:, j] * d
            Xj, Zj = base_X, base_Z
            if absorber is not None:
                A = absorber.demean(np.column_stack([base_X, base_Z, yj]))
                Xj, Zj, yj = A[:, :1], A[:, 1:2], A[:, 2]
            col = Xj.shape[1] - 1
            fit = tsls(yj, Xj, Zj, endogenous=[col], excluded=[col], df_coefs=[col], **common)
            out[mf.terms[j]] = float(fit.coef[col])
        return out


def _coded_01(series: pd.Series, arms: Sequence[Any]) -> bool:
    """Whether a column is coded 0/1 (numbers or bools) and holds neither of the arms' labels."""
    values = series.dropna()
    if values.isin(list(arms)).any():
        return False
    if pd.api.types.is_bool_dtype(values):
        return True
    return bool(pd.api.types.is_numeric_dtype(values) and values.isin((0, 1)).all())


def _received_as_numbers(frame: pd.DataFrame, received: Any, arms: Sequence[Any] | None) -> pd.DataFrame:
    """Take-up as 0/1: the arms' labels (the arm received) or a categorical/object 0/1 column."""
    if received not in frame.columns:
        return frame  # model_frame names the missing column
    s = frame[received]
    present = s.notna()
    if arms is not None and s[present].isin(list(arms)).any():
        control, treated = arms
        other = present & ~s.isin([control, treated])
        if other.any():
            found = list(dict.fromkeys(s[other].tolist()))
            raise DataError(
                f"received column {received!r} holds {', '.join(label(v) for v in found[:5])} in "
                f"{describe_rows(s.index[other.to_numpy()])}, which is neither of the declared arms "
                f"{control!r} (control) and {treated!r} (treated)."
            )
        coded = pd.Series(np.where(s == treated, 1.0, 0.0), index=s.index).where(present)
        return frame.assign(**{str(received): coded}) if isinstance(received, str) else frame
    if isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object:
        numbers = _as_binary_numbers(s[present])
        if numbers is not None:
            out = frame.copy()
            out[received] = numbers.reindex(s.index)
            return out
    return frame


class IvRobust(Cace):
    """Alias of :class:`Cace` under estimatr's name ``iv_robust``."""

    name: ClassVar[str] = "iv_robust"


IvRobust.__doc__ = "Alias of :class:`Cace` under estimatr's name ``iv_robust``.\n" + (Cace.__doc__ or "")

