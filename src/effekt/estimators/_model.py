"""Model frames shared by the regression estimators (lm_robust, lin, cace).

:func:`model_frame` turns a data frame and either column arguments
(``outcome``, ``treatment``, ``covariates``) or a formula (formulaic syntax,
``"y ~ z + x1 + C(site) | block"``, fixed effects after ``|``) into checked
numpy arrays: the outcome, a named regressor matrix, the design columns
(clusters, weights, fixed-effect codes) and the rows used. Every check goes
through :mod:`effekt.data`; formulaic builds the matrix only from columns
already checked.

:class:`LinearModel` is the fitted model every regression estimator
returns underneath its :class:`~effekt.result.EffectResult`: all terms,
their robust covariance, a tidy table and robust Wald tests of several
coefficients.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from effekt.data import (
    as_frame,
    check_columns,
    check_groups_have_both_arms,
    check_option,
    describe_rows,
    group_codes,
)
from effekt.errors import DataError, DesignError
from effekt.result import EffectResult, EffectTable, FrozenDict, freeze, to_jsonable
from effekt.sandwich import wald_test

__all__ = ["ModelFrame", "LinearModel", "model_frame", "split_formula", "infer_design"]


@dataclass
class ModelFrame:
    """Checked arrays of one regression."""

    y: np.ndarray
    X: np.ndarray
    terms: list[str]
    n: int
    z: np.ndarray | None = None
    treatment: str | None = None
    outcome: str | None = None
    clusters: np.ndarray | None = None
    weights: np.ndarray | None = None
    fixed_effects: list[np.ndarray] = field(default_factory=list)
    fe_names: list[str] = field(default_factory=list)
    blocks: np.ndarray | None = None
    frame: pd.DataFrame | None = None
    dropped: int = 0
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    reference_levels: dict[str, Any] = field(default_factory=dict)


def split_formula(formula: str) -> tuple[str, list[str]]:
    """``"y ~ z + x | a + b"`` -> ``("y ~ z + x", ["a", "b"])``.

    >>> split_formula("y ~ z + x | block")
    ('y ~ z + x', ['block'])
    """
    if not isinstance(formula, str) or "~" not in formula:
        raise DesignError(
            f"formula must be a string like 'y ~ z + x' (fixed effects after '|'); got {formula!r}."
        )
    main, _, fe = formula.partition("|")
    fes = [f.strip() for f in fe.split("+") if f.strip()] if fe else []
    return main.strip(), fes


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (str, int)):
        return [value]
    return list(value)


def model_frame(
    data: Any,
    *,
    outcome: Any = None,
    treatment: Any = None,
    covariates: Sequence[Any] | str | None = None,
    formula: str | None = None,
    fixed_effects: Sequence[Any] | str | None = None,
    blocks: Any = None,
    clusters: Any = None,
    weights: Any = None,
    extra_numeric: dict[str, Any] | None = None,
    other_columns: Sequence[Any] = (),
    assignment: Any = None,
    missing: str = "error",
    intercept: bool = True,
    estimator: str = "lm_robust",
    arms: Sequence[Any] | None = None,
) -> ModelFrame:
    """Check the inputs of a regression and build its arrays.

    Either ``outcome`` (+ ``treatment``, ``covariates``) or ``formula``.
    ``blocks`` is absorbed as a fixed effect. Rows with a missing value in
    any used column raise a DataError, or are dropped with ``missing="drop"``.
    An ``assignment`` (from :mod:`effekt.design`) supplies the treatment,
    blocks and clusters; the data's rows are its units, in order.
    ``arms=(control, treated)`` declares text or categorical arms; the
    treatment enters the model (and a formula) as 0/1.
    """
    frame = as_frame(data)
    if assignment is not None:
        if formula is not None:
            raise DesignError(
                "assignment= goes with outcome=/covariates=, not formula=: the treatment column it adds "
                "is not in the formula. Add the assignment's treatment to the data and name it instead."
            )
        frame, treatment, blocks, clusters = _from_assignment(frame, assignment, treatment, blocks, clusters)
    check_option(missing, "missing", ("error", "drop"))
    fe_cols = _as_list(fixed_effects)
    covariates = _as_list(covariates)
    rhs_vars: list[Any] = []
    main = None
    if formula is not None:
        main, fe_from_formula = split_formula(formula)
        fe_cols += fe_from_formula
        try:
            from formulaic import Formula
        except ImportError:  # formulaic is the extra effekt[formula]
            raise DesignError(
                "formula= needs the formulaic package, which is not installed. Install it with "
                "`pip install effekt[formula]`, or name the columns with outcome= and covariates=."
            ) from None
        try:
            parsed = Formula(main)
        except Exception as exc:  # formulaic's parse error, shown without its traceback
            raise DesignError(f"the formula {formula!r} cannot be parsed: {exc}") from None
        lhs_vars = sorted(parsed.lhs.required_variables)
        if len(lhs_vars) != 1:
            raise DesignError(f"formula {formula!r} must have one outcome on the left of '~'.")
        if outcome is not None and outcome != lhs_vars[0]:
            raise DesignError(
                f"outcome={outcome!r} disagrees with the formula's outcome {lhs_vars[0]!r}; pass one."
            )
        outcome = lhs_vars[0]
        # names formulaic resolves itself (np, C, ...) are not columns
        rhs_vars = sorted(v for v in parsed.rhs.required_variables if v in frame.columns)
        if covariates:
            raise DesignError("pass covariates in the formula or as covariates=, not both.")
    elif outcome is None:
        raise DesignError(f"{estimator} needs outcome= (and treatment=, covariates=) or formula=.")
    if blocks is not None:
        fe_cols = [blocks] + [c for c in fe_cols if c != blocks]
    # every column used, checked for presence and missing values first
    used = [outcome, treatment, clusters, weights, *covariates, *fe_cols, *rhs_vars]
    used += list((extra_numeric or {}).values()) + list(other_columns)
    used = [u for u in dict.fromkeys(u for u in used if u is not None)]
    # the option each column came from, so a missing one is reported as `option=name`
    option_of = {**{c: "moderators" for c in other_columns},
                 **{c: "fixed_effects" for c in fe_cols}, **{c: "covariates" for c in covariates},
                 **{c: role for role, c in (extra_numeric or {}).items()}}
    option_of.update({c: role for role, c in (("blocks", blocks), ("weights", weights), ("clusters", clusters),
                                               ("treatment", treatment), ("outcome", outcome)) if c is not None})
    for name in used:
        if name not in frame.columns:
            have = ", ".join(repr(c) for c in list(frame.columns)[:20])
            given = f"{option_of[name]}={name!r}" if name in option_of else f"column {name!r}"
            raise DataError(
                f"{given} (used by {estimator}) is not in the data, which have {have}. "
                "Check the spelling or add the column."
            )
    na = frame[used].isna().to_numpy()
    dropped = 0
    if na.any():
        bad_rows = na.any(axis=1)
        if missing == "error":
            col = used[int(np.flatnonzero(na.any(axis=0))[0])]
            rows = frame.index[frame[col].isna().to_numpy()]
            role = {outcome: "outcome", treatment: "treatment", clusters: "clusters", weights: "weights",
                    blocks: "blocks", **{c: "covariate" for c in covariates},
                    **{c: "moderator" for c in other_columns},
                    **{v: k for k, v in (extra_numeric or {}).items()}}.get(col)
            role = role or ("fixed_effects" if col in fe_cols else None)
            raise DataError(
                f"{role + ' ' if role else ''}column {col!r} has {len(rows)} missing value{'s' if len(rows) != 1 else ''} "
                f"({describe_rows(rows)}). Nothing is dropped silently: remove or impute them, "
                "or pass missing='drop' to drop those rows and report how many."
            )
        dropped = int(bad_rows.sum())
        frame = frame.loc[np.asarray(~bad_rows)]  # type: ignore[index]
        if frame.shape[0] == 0:
            raise DataError("every row has a missing value in a used column; nothing is left.")
    cols = check_columns(
        frame,
        outcome=outcome,
        treatment=treatment,
        clusters=clusters,
        weights=weights,
        covariates=covariates if formula is None else None,
        numeric=extra_numeric,
        arms=arms,
    )
    if treatment is not None and cols.z is not None:
        frame = frame.copy()
        frame[treatment] = cols.z.astype(np.int64)  # the arms as 0/1, formulas included
    n = cols.n
    assert cols.y is not None
    fes = []
    for c in fe_cols:
        codes, labels = group_codes(frame[c], c, "blocks" if c == blocks else "fixed_effects")
        fes.append(codes.astype(np.int64))
        if c == blocks and cols.z is not None:
            check_groups_have_both_arms(codes, np.asarray(labels), cols.z, role="block", column=blocks)
    has_fe = bool(fes)
    if formula is not None:
        assert main is not None
        X, terms = _formula_matrix(frame, main, intercept=intercept and not has_fe, formula=formula)
        if treatment is not None and treatment not in terms:
            raise DesignError(
                f"treatment={treatment!r} is not a term of the formula {formula!r} (terms: "
                f"{', '.join(terms)}). Add it to the right-hand side."
            )
    else:
        parts, terms = [], []
        if intercept and not has_fe:
            parts.append(np.ones(n))
            terms.append("(Intercept)")
        if cols.z is not None:
            parts.append(cols.z.astype(float))
            terms.append(str(treatment))
        if cols.X is not None:
            parts += list(cols.X.T)
            terms += cols.covariate_names or [str(c) for c in covariates]
        if not parts:
            raise DesignError(f"{estimator}: no regressors; pass treatment= or covariates=.")
        X = np.column_stack(parts)
    return ModelFrame(
        y=cols.y,
        X=X,
        terms=terms,
        n=n,
        z=cols.z,
        treatment=None if treatment is None else str(treatment),
        outcome=str(outcome),
        clusters=cols.clusters,
        weights=cols.weights,
        fixed_effects=fes,
        fe_names=[str(c) for c in fe_cols],
        blocks=fes[0] if blocks is not None else None,
        frame=frame,
        dropped=dropped,
        extra=cols.extra,
        reference_levels={str(k): v for k, v in cols.reference_levels.items()},
    )


def _formula_matrix(frame: pd.DataFrame, rhs_formula: str, *, intercept: bool, formula: str) -> tuple[np.ndarray, list[str]]:
    from formulaic import Formula

    rhs = rhs_formula.split("~", 1)[1]
    try:
        mm = Formula(rhs).get_model_matrix(frame, na_action="raise")
    except Exception as exc:  # formulaic's own parse or evaluation error
        raise DesignError(f"the formula {formula!r} cannot be evaluated on the data: {exc}") from None
    names = [str(c) for c in mm.columns]
    X = np.asarray(mm, dtype=float)
    if "Intercept" in names:
        j = names.index("Intercept")
        if intercept:
            names[j] = "(Intercept)"
        else:
            X = np.delete(X, j, axis=1)
            del names[j]
    if X.shape[1] == 0:
        raise DesignError(f"the formula {formula!r} has no regressors.")
    if not np.isfinite(X).all():
        j = int(np.flatnonzero(~np.isfinite(X).all(axis=0))[0])
        raise DataError(f"term {names[j]!r} of the formula {formula!r} has infinite values; replace them.")
    return X, names


def infer_design(mf: ModelFrame) -> str:
    """``"simple"``, ``"blocked"``, ``"clustered"`` or ``"block_clustered"``."""
    if mf.clusters is not None:
        return "block_clustered" if mf.blocks is not None else "clustered"
    return "blocked" if mf.blocks is not None else "simple"


@dataclass(frozen=True)
class LinearModel:
    """A fitted linear model with a robust covariance, all terms kept.

    ``tidy()`` gives one row per term; ``result(term)`` one
    :class:`~effekt.result.EffectResult`; ``wald_test(terms)`` the robust
    F test that several coefficients are zero.
    """

    estimator: str
    terms: tuple[str, ...]
    coef: np.ndarray
    vcov: np.ndarray
    df: np.ndarray
    se_type: str
    design: str
    n: int
    n_clusters: int | None
    df_residual: float
    alpha: float = 0.05
    outcome: str | None = None
    fixed_effects: tuple[str, ...] = ()
    n_absorbed: int = 0
    warnings: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: ``(Xw, M, clusters, weights, absorbed)`` of a CR2 fit: what the HTZ test needs
    cr2_design: tuple[Any, ...] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("coef", "vcov", "df"):
            object.__setattr__(self, name, freeze(np.asarray(getattr(self, name), dtype=float)))
        object.__setattr__(self, "extra", FrozenDict(self.extra))

    @property
    def std_error(self) -> np.ndarray:
        return np.sqrt(np.diag(self.vcov))

    def index(self, term: str) -> int:
        if term not in self.terms:
            raise DesignError(f"{self.estimator}: no term {term!r}; the terms are {', '.join(self.terms)}.")
        return self.terms.index(term)

    def result(self, term: str, *, estimand: str = "ate", **fields: Any) -> EffectResult:
        j = self.index(term)
        df = self.df[j]
        df_val = None if not math.isfinite(df) else float(df)
        base: dict[str, Any] = dict(
            estimator=self.estimator,
            estimand=estimand,
            term=term,
            n=self.n,
            se_type=self.se_type,
            design=self.design,
            warnings=self.warnings,
            outcome=self.outcome,
        )
        base.update(fields)
        return EffectResult.from_t(self.coef[j], self.std_error[j], df_val, alpha=self.alpha, **base)

    def table(self, headline_term: str, **fields: Any) -> EffectTable:
        """Every coefficient as a row; ``headline_term`` is the effect the fit reports."""
        rows = tuple(self.result(t, **fields) for t in self.terms)
        return EffectTable(estimator=self.estimator, rows=rows, extra=dict(self.extra), warnings=self.warnings,
                           headline_term=headline_term)

    def tidy(self) -> pd.DataFrame:
        """One row per coefficient (broom/estimatr columns)."""
        return pd.DataFrame([self.result(t)._tidy_row() for t in self.terms])

    def summary(self) -> str:
        """The coefficient table with the model's design and variance."""
        head = f"{self.estimator}: {len(self.terms)} terms, n = {self.n}"
        if self.n_clusters is not None:
            head += f", {self.n_clusters} clusters"
        head += f"  [design: {self.design}, se_type: {self.se_type}]"
        table = self.tidy()[["term", "estimate", "std.error", "conf.low", "conf.high", "p.value", "df"]]
        lines = [head, table.to_string(index=False)]
        if self.fixed_effects:
            lines.append(f"absorbed: {', '.join(map(str, self.fixed_effects))} ({self.n_absorbed} levels)")
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The fit, JSON-safe: coefficients, covariance, df and the design facts."""
        return to_jsonable(  # type: ignore[no-any-return]
            {
                "estimator": self.estimator, "terms": self.terms, "coef": self.coef, "vcov": self.vcov,
                "df": self.df, "se_type": self.se_type, "design": self.design, "n": self.n,
                "n_clusters": self.n_clusters, "df_residual": self.df_residual, "alpha": self.alpha,
                "outcome": self.outcome, "fixed_effects": self.fixed_effects, "n_absorbed": self.n_absorbed,
                "warnings": self.warnings, "extra": self.extra,
            }
        )

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def wald_test(self, terms: Sequence[str], *, test: str | None = None) -> dict[str, float]:
        """Robust Wald test that the coefficients of ``terms`` are all zero.

        ``test="HTZ"`` (the default for CR2, absorbed fixed effects or not):
        the Hotelling-T^2 approximation of Tipton & Pustejovsky (2015), as
        clubSandwich's ``Wald_test(test = "HTZ")`` (with absorbed effects, as
        on the regression with the factors as dummy columns). ``test="F"``
        (the default otherwise): ``F = b' V^{-1} b / q`` referred to F(q, df2), ``df2`` the
        residual degrees of freedom (``G - 1`` when clustered), as estimatr's
        ``fstatistic``. See :func:`effekt.sandwich.wald_test`.
        """
        R = np.zeros((len(terms), len(self.terms)))
        for row, t in enumerate(terms):
            R[row, self.index(t)] = 1.0
        return contrast_wald(self, R, test=test)

    @property
    def wald_df(self) -> float:
        """Denominator df of robust F tests: ``G - 1`` clustered, else the residual df."""
        return float(self.n_clusters - 1) if self.n_clusters is not None else float(self.df_residual)


def contrast_wald(model: LinearModel, R: np.ndarray, *, test: str | None = None) -> dict[str, float]:
    """Robust Wald test of ``R b = 0`` for ``model``: HTZ by default for CR2 (see ``LinearModel.wald_test``)."""
    if test == "HTZ" and model.cr2_design is None:
        raise DesignError(
            f"test='HTZ' needs a CR2 fit (se_type='CR2' with clusters=); this {model.estimator} fit has "
            f"se_type={model.se_type!r}. Use test='F', or refit with se_type='CR2'."
        )
    return wald_test(model.coef, model.vcov, R, df=model.wald_df, test=test, cr2_design=model.cr2_design)


def _from_assignment(
    frame: pd.DataFrame, assignment: Any, treatment: Any, blocks: Any, clusters: Any
) -> tuple[pd.DataFrame, str, Any, Any]:
    """The data with the assignment's treatment (0/1 codes), blocks and clusters as columns."""
    if treatment is not None or blocks is not None or clusters is not None:
        raise DesignError(
            "pass either assignment= or treatment=/blocks=/clusters=, not both: the assignment already "
            "says how units were randomised."
        )
    codes = getattr(assignment, "arm_codes", None)  # 0/1 whatever the arms' labels
    z = np.asarray(assignment.treatment if codes is None else codes)
    conditions = getattr(assignment, "conditions", None)
    if conditions is not None and len(conditions) != 2:
        raise DesignError(
            f"the assignment has {len(conditions)} arms {list(conditions)}; these estimators compare two. "
            "Analyse one pair of arms at a time."
        )
    if z.shape[0] != frame.shape[0]:
        raise DataError(
            f"the assignment has {z.shape[0]} units but the data have {frame.shape[0]} rows; rows of the "
            "data must be the assignment's units, in order."
        )
    frame = frame.assign(__treatment__=z)
    b = c = None
    if getattr(assignment, "blocks", None) is not None:
        frame = frame.assign(__blocks__=np.asarray(assignment.blocks))
        b = "__blocks__"
    if getattr(assignment, "clusters", None) is not None:
        frame = frame.assign(__clusters__=np.asarray(assignment.clusters))
        c = "__clusters__"
    return frame, "__treatment__", b, c
