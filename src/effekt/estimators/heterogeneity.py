"""Pre-specified effect heterogeneity: treatment x moderator interactions.

Estimand: the average effect within each level of a categorical moderator
(or, for a numeric moderator, the effect at its mean and the change in
effect per unit of it), each moderator in its own pre-specified model.

Formula: for a categorical moderator with levels ``1..L`` the model is

    y = a + sum_{l>1} g_l 1[m = l] + sum_l tau_l z 1[m = l] + covariates + block effects

so each subgroup effect ``tau_l`` is one coefficient (with its own CR2
degrees of freedom), and the interaction test is the robust Wald test of
``tau_1 = ... = tau_L`` (``L - 1`` contrasts): with CR2 the HTZ test
(Tipton & Pustejovsky 2015, as clubSandwich's ``Wald_test``; blocks absorbed
or not), otherwise F referred to ``F(L - 1, df)``, ``df`` the residual
degrees of freedom. For
a numeric moderator, ``y = a + tau z + g m~ + d z m~ + ...`` with ``m~``
the centred moderator: ``tau`` is the effect at the mean, ``d`` the
interaction, tested by its robust t.

Defaults and why: the standard errors of ``lm_robust`` (HC2, CR2 when
clustered); blocks absorbed; the overall effect (``lm_robust`` with the same
covariates and blocks) heads the table. Moderators must be named in
advance: the table records them as pre-specified, and a forest plot shows
every subgroup with the overall effect, whatever the p-values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from effekt.data import group_codes
from effekt.errors import DataError, DesignError
from effekt.estimators._model import LinearModel, ModelFrame, contrast_wald, model_frame
from effekt.estimators.lm_robust import fit_linear
from effekt.protocol import EstimatorTags, Synthetic
from effekt.result import EffectResult, EffectTable
from effekt.vocabulary import validated

__all__ = ["Heterogeneity", "forest_plot", "contrast_test"]


def contrast_test(model: LinearModel, R: np.ndarray, *, test: str | None = None) -> dict[str, float]:
    """Robust Wald test of ``R b = 0`` for a fitted :class:`LinearModel`.

    With CR2 (absorbed fixed effects or not) the default is the HTZ test
    (Tipton & Pustejovsky 2015, as clubSandwich's ``Wald_test``); otherwise,
    or with ``test="F"``, ``F = (Rb)' (R V R')^{-1} (Rb) / q`` on ``(q, df)``
    with ``df`` the residual degrees of freedom, or ``G - 1`` when clustered.
    """
    return contrast_wald(model, R, test=test)


class Heterogeneity:
    """Subgroup effects and interaction tests for pre-specified moderators.

    Estimand: the average treatment effect overall (the headline row) and
    within each level of each categorical moderator; for a numeric
    moderator, the effect at its mean and the interaction slope.

    Formula: one regression per moderator, treatment interacted with the
    moderator's level indicators (or centred value); see the module notes.

    Defaults and why: HC2 (CR2 with clusters) as ``lm_robust``; a moderator
    with text, boolean or categorical values, or at most ``max_levels``
    distinct numbers, is categorical; otherwise numeric.

    Parameters
    ----------
    data : DataFrame
    outcome : str
        Outcome column.
    treatment : str
        0/1 treatment (bool, or a categorical/object column holding 0/1),
        or labels declared with ``arms``.
    arms : (control, treated), default=None
        The treatment's two labels, the control first.
    moderators : list of str
        The pre-specified moderators.
    covariates : list of str, default=None
        Adjustment covariates (not interacted); text or categorical ones are
        expanded to indicators, the first level (sorted) the reference.
    blocks : str, default=None
        Randomisation blocks, absorbed.
    clusters : str, default=None
        Clusters (CR2 by default).
    weights : str, default=None
        Positive weights.
    se_type : str, default=None
        As in ``lm_robust``: HC2, or CR2 with clusters.
    alpha : float, default=0.05
        Intervals are at ``1 - alpha``.
    max_levels : int, default=10
        A numeric moderator with at most this many values is categorical.
    missing : {"error", "drop"}, default="error"
        ``"drop"`` drops rows with a missing value and says how many.

    Returns
    -------
    EffectTable
        Rows: ``overall``, then ``moderator=level`` (categorical) or
        ``moderator@mean`` and ``moderator:slope`` (numeric). ``extra``:
        ``interaction_tests`` (moderator -> statistic, df1, df2, p_value),
        ``pre_specified`` (the moderators), ``headline`` ("overall").
        ``table.plot()`` draws the forest plot (:func:`forest_plot` is the
        same picture). Subgroup rows have ``estimand="subgroup_effect"``,
        slopes ``"effect_difference"``.

    Raises
    ------
    DataError
        Missing moderator columns or values; a subgroup without both arms.
    DesignError
        No moderators; a moderator that is the treatment or a covariate.

    Notes
    -----
    Interaction tests across several moderators are several tests: adjust
    them for multiplicity (Holm) when more than one is confirmatory. Subgroup
    effects use the same se_type and design as the overall effect.

    References
    ----------
    Gerber & Green (2012), Field Experiments, ch. 9 (pre-specified interactions).
    Wang, Lagakos, Ware, Hunter & Drazen (2007), Statistics in medicine: reporting
    of subgroup analyses in clinical trials, NEJM 357, 2189-2194, doi:10.1056/NEJMsr077003.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> import effekt as ef
    >>> rng = np.random.default_rng(4)
    >>> df = pd.DataFrame({"z": np.tile([0, 1], 100), "sex": np.repeat(["f", "m"], 100)})
    >>> df["y"] = df.z * np.where(df.sex == "f", 1.0, 0.5) + rng.normal(size=200)
    >>> tab = ef.estimate("heterogeneity", data=df, outcome="y", treatment="z", moderators=["sex"])
    >>> tab.terms
    ['overall', 'sex=f', 'sex=m']
    >>> round(tab.extra["interaction_tests"]["sex"]["p_value"], 3)
    0.004
    """

    name: ClassVar[str] = "heterogeneity"
    estimand: ClassVar[str] = "ate"
    kind: ClassVar[str] = "itt"
    tags: ClassVar[EstimatorTags] = EstimatorTags(
        supports_blocks=True, supports_clusters=True, supports_covariates=True, supports_weights=True
    )

    @classmethod
    def simulate(cls, rng: np.random.Generator, *, n: int, effect: float) -> Synthetic:
        """A blocked trial whose effect differs between two subgroups, averaging ``effect``."""
        n = max(40, n - n % 20)
        batch = np.repeat(np.arange(n // 10), 10)
        z = np.concatenate([rng.permutation(np.arange(10) % 2) for _ in range(n // 10)])
        group = np.tile(np.repeat(["a", "b"], 5), n // 10)
        x = rng.normal(size=n)
        tau = np.where(group == "a", effect - 0.5, effect + 0.5)
        y = 1.0 + tau * z + 0.5 * x + rng.normal(size=n)
        data = pd.DataFrame({"y": y, "z": z, "g": group, "x": x, "batch": batch})
        spec = {"outcome": "y", "treatment": "z", "moderators": ["g"], "blocks": "batch"}
        return Synthetic(data=data, spec=spec, truth=effect)

    @validated
    def fit(
        self,
        data: Any,
        *,
        outcome: Any,
        treatment: Any,
        arms: tuple[Any, Any] | None = None,
        moderators: Sequence[Any] | str | None = None,
        covariates: Sequence[Any] | str | None = None,
        blocks: Any = None,
        clusters: Any = None,
        weights: Any = None,
        se_type: str | None = None,
        alpha: float = 0.05,
        max_levels: int = 10,
        missing: str = "error",
    ) -> EffectTable:
        mods = [moderators] if isinstance(moderators, (str, int)) else list(moderators or [])
        if not mods:
            raise DesignError("heterogeneity needs moderators=: the pre-specified subgroup variables.")
        covs = [covariates] if isinstance(covariates, str) else list(covariates or [])
        clash = [m for m in mods if m == treatment or m in covs or m == outcome]
        if clash:
            raise DesignError(f"moderator {clash[0]!r} is also the outcome, treatment or a covariate; name it once.")
        mf = model_frame(
            data, outcome=outcome, treatment=treatment, covariates=covs or None, blocks=blocks,
            clusters=clusters, weights=weights, other_columns=mods, missing=missing, estimator=self.name,
            arms=arms,
        )
        assert mf.z is not None and mf.frame is not None
        term = str(mf.treatment)
        overall = fit_linear(mf, se_type=se_type, alpha=alpha, estimator=self.name, df_terms=[term])
        counts: dict[str, Any] = {"n_treated": int(mf.z.sum()), "n_control": int(mf.n - mf.z.sum()),
                                  "n_clusters": overall.n_clusters}
        rows = [replace(overall.result(term, **counts), term="overall")]
        tests: dict[str, dict[str, float]] = {}
        kinds: dict[str, str] = {}
        for m in mods:
            col = mf.frame[m]
            categorical = not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col) or (
                col.nunique() <= max_levels
            )
            kinds[str(m)] = "categorical" if categorical else "numeric"
            if categorical:
                new_rows, test = self._categorical(mf, m, col, se_type, alpha)
            else:
                new_rows, test = self._numeric(mf, m, col, se_type, alpha)
            rows += new_rows
            tests[str(m)] = test
        extra = {
            "interaction_tests": tests,
            "pre_specified": [str(m) for m in mods],
            "moderator_kinds": kinds,
            "headline": "overall",
        }
        if mf.reference_levels:
            extra["reference_levels"] = dict(mf.reference_levels)
        return EffectTable(estimator=self.name, rows=tuple(rows), extra=extra, warnings=overall.warnings,
                           headline_term="overall", plotter=forest_plot)

    def _categorical(
        self, mf: ModelFrame, m: Any, col: pd.Series, se_type: str | None, alpha: float
    ) -> tuple[list[EffectResult], dict[str, float]]:
        assert mf.z is not None
        codes, levels = group_codes(col, m, "moderator")
        L = len(levels)
        if L < 2:
            raise DataError(f"moderator {m!r} takes a single value ({levels[0]!r}); it defines no subgroups.")
        z = mf.z.astype(float)
        n_t = np.bincount(codes, weights=z, minlength=L)
        n_all = np.bincount(codes, minlength=L)
        bad = np.flatnonzero((n_t == 0) | (n_t == n_all))
        if bad.size:
            raise DataError(
                f"subgroup {m}={levels[bad[0]]!r} has {int(n_t[bad[0]])} treated and "
                f"{int(n_all[bad[0]] - n_t[bad[0]])} control units (moderator column {m!r}); every subgroup needs "
                "both arms. "
                "Merge it with a neighbouring level or drop the moderator."
            )
        base = [j for j, t in enumerate(mf.terms) if t != mf.treatment]
        mains = np.column_stack([(codes == lv).astype(float) for lv in range(1, L)])
        keep = _not_absorbed(mf, mains)  # a moderator constant within blocks has its main effect absorbed
        parts = [mf.X[:, base], mains[:, keep]]
        terms = [mf.terms[j] for j in base] + [f"{m}[{levels[lv]}]" for lv in range(1, L) if keep[lv - 1]]
        effect_terms = [f"{m}={levels[lv]}" for lv in range(L)]
        parts += [(z * (codes == lv))[:, None] for lv in range(L)]
        terms += effect_terms
        sub = replace(mf, X=np.hstack(parts), terms=terms)
        model = fit_linear(sub, se_type=se_type, alpha=alpha, estimator=self.name, df_terms=effect_terms)
        rows = [
            model.result(t, estimand="subgroup_effect", n_treated=int(n_t[lv]), n_control=int(n_all[lv] - n_t[lv]),
                         extra={"moderator": str(m)})
            for lv, t in enumerate(effect_terms)
        ]
        rows = [replace(r, n=int(n_all[lv])) for lv, r in enumerate(rows)]
        idx = [model.index(t) for t in effect_terms]
        R = np.zeros((L - 1, len(terms)))
        for r in range(L - 1):
            R[r, idx[r + 1]], R[r, idx[0]] = 1.0, -1.0
        return rows, contrast_test(model, R)

    def _numeric(
        self, mf: ModelFrame, m: Any, col: pd.Series, se_type: str | None, alpha: float
    ) -> tuple[list[EffectResult], dict[str, float]]:
        assert mf.z is not None
        v = col.to_numpy(dtype=float)
        if not np.isfinite(v).all():
            raise DataError(f"moderator column {m!r} has infinite values; replace them.")
        w = np.ones(mf.n) if mf.weights is None else mf.weights
        vc = v - (w @ v) / w.sum()
        at_mean, slope = f"{m}@mean", f"{m}:slope"
        main = vc[:, None][:, _not_absorbed(mf, vc[:, None])]
        X = np.column_stack([mf.X, main, mf.z * vc])
        terms = [at_mean if t == mf.treatment else t for t in mf.terms] + [str(m)] * main.shape[1] + [slope]
        sub = replace(mf, X=X, terms=terms, treatment=at_mean)
        model = fit_linear(sub, se_type=se_type, alpha=alpha, estimator=self.name, df_terms=[at_mean, slope])
        rows = [model.result(t, estimand=e, extra={"moderator": str(m)})
                for t, e in ((at_mean, "subgroup_effect"), (slope, "effect_difference"))]
        R = np.zeros((1, len(terms)))
        R[0, model.index(slope)] = 1.0
        return rows, contrast_test(model, R)


def _not_absorbed(mf: ModelFrame, A: np.ndarray) -> np.ndarray:
    """Which columns of ``A`` survive the model's fixed effects (all, without them)."""
    if not mf.fixed_effects:
        return np.ones(A.shape[1], dtype=bool)
    from effekt.absorb import Absorber

    within = Absorber(mf.fixed_effects, mf.weights).demean(A)
    before = np.sqrt((A**2).sum(axis=0))
    return np.asarray(np.sqrt((within**2).sum(axis=0)) > 1e-9 * before)


def forest_plot(
    table: EffectTable, *, ax: Any = None, labels: Any = None, title: str | None = None, **kwargs: Any
) -> Any:
    """A forest plot of a heterogeneity table: one line per subgroup, the
    overall effect as a dashed line, interaction p-values by moderator.

    The table's ``plot()`` draws it; ``labels`` maps a term to the name
    shown. Returns the matplotlib Figure (built without pyplot; nothing is
    shown).

    >>> import numpy as np, pandas as pd, effekt as ef
    >>> df = pd.DataFrame({"z": np.tile([0, 1], 50), "g": np.repeat(["a", "b"], 50),
    ...                    "y": np.random.default_rng(1).normal(size=100)})
    >>> tab = ef.estimate("heterogeneity", data=df, outcome="y", treatment="z", moderators=["g"])
    >>> type(tab.plot()).__name__, type(forest_plot(tab)).__name__
    ('Figure', 'Figure')
    """
    from effekt.plotting import figure_and_axes, forest_rows, label_for

    rows = [r for r in table.rows if not r.term.endswith(":slope")]
    fig, axes = figure_and_axes(ax, size=(7.5, 0.45 * len(rows) + 1.4))
    tests = table.extra.get("interaction_tests", {})
    names = []
    for r in rows:
        text = label_for(r.term, labels)
        mod = r.extra.get("moderator")
        if mod is not None and (r.term.startswith(f"{mod}=") or r.term.startswith(f"{mod}@")):
            first = next(x for x in rows if x.extra.get("moderator") == mod)
            if first is r and mod in tests:
                text += f"   (interaction p = {tests[mod]['p_value']:.3g})"
        names.append(text)
    level = f"{100 * rows[0].conf_level:g}%" if rows else ""
    forest_rows(axes, names, [r.estimate for r in rows], [r.conf_int[0] for r in rows],
                [r.conf_int[1] for r in rows], highlight=[r.term == "overall" for r in rows], null=0.0,
                xlabel=f"effect ({level} CI)")
    overall = next((r for r in rows if r.term == "overall"), None)
    if overall is not None:
        axes.axvline(overall.estimate, color="grey", linestyle="--", linewidth=1)
    axes.set_title(title or f"{table.estimator}: pre-specified subgroups")
    return fig
