"""Doubly robust difference-in-differences (Sant'Anna & Zhao 2020)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from effekt.data import as_frame, check_columns, describe_rows, label, varying_groups
from effekt.errors import DataError, DesignError
from effekt.protocol import EstimatorTags, Synthetic
from effekt.result import EffectResult
from effekt.vocabulary import Choice, validated
from effekt_observational._drdid_kernels import METHODS, TwoByTwo, att_panel, att_rc, standard_error
from effekt_observational.vocabulary_panel import SE_CONVENTIONS

__all__ = ["DRDiD", "TwoByTwo", "att_2x2"]

_LABELS = {
    "imp": "improved locally efficient DR (inverse probability tilting, weighted least squares)",
    "trad": "locally efficient DR (logit, least squares)",
    "reg": "outcome regression",
    "ipw": "inverse probability weighting (Abadie 2005, unnormalised)",
    "std_ipw": "inverse probability weighting (normalised, Hajek)",
}


def att_2x2(
    y: Any,
    d: Any,
    *,
    y0: Any = None,
    post: Any = None,
    x: Any = None,
    weights: Any = None,
    method: str = "imp",
    trim_level: float = 0.995,
) -> TwoByTwo:
    """The ATT of one 2x2 comparison and its influence function, on arrays.

    The building block for a staggered DiD: R did's ``att_gt`` calls DRDID's
    2x2 estimators once per (cohort, period) cell on the cohort and its
    comparison units; this function is that call. Panel data: ``y`` the
    outcome after, ``y0`` before, one entry per unit. Repeated
    cross-sections: ``y`` and ``post`` (0/1) per row. ``x`` holds the
    covariates without an intercept (None: none); ``d`` is 0/1.

    Returns :class:`TwoByTwo` with ``att``, ``influence`` (one value per
    unit or row, scaled as DRDID's ``att.inf.func``: ``att - ATT`` is about
    ``mean(influence)``), ``n_trimmed`` and ``propensity``. The SE is
    ``sqrt(sum(influence**2)) / n``; aggregations of several cells combine
    their influence functions unit by unit.

    Raises
    ------
    DataError
        Arrays of different lengths, non-finite values, a d that is not 0/1
        or has one arm only, collinear covariates, or covariates that predict
        the treatment perfectly.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> d = np.repeat([0, 1], 50); y0 = rng.normal(size=100)
    >>> res = att_2x2(y0 + 1.0 + 2.0 * d, d, y0=y0, method="reg")
    >>> round(res.att, 6), res.influence.shape
    (2.0, (100,))
    """
    if method not in METHODS:
        raise DesignError(f"method={method!r} is not one of {', '.join(repr(m) for m in METHODS)}.")
    if (y0 is None) == (post is None):
        raise DesignError("pass y0= (panel data: the outcome before) or post= (repeated cross-sections), not "
                          "both or neither.")
    arrays = {"y": y, "d": d, "y0": y0, "post": post, "weights": weights}
    arr = {k: np.asarray(v, dtype=float) for k, v in arrays.items() if v is not None}
    n = arr["y"].shape[0]
    X = np.ones((n, 1)) if x is None else np.column_stack([np.ones(n), np.asarray(x, dtype=float).reshape(n, -1)])
    for k, v in {**arr, "x": X}.items():
        if v.shape[0] != n:
            raise DataError(f"{k} has {v.shape[0]} entries and y has {n}; they must have one per unit or row.")
        if not np.all(np.isfinite(v)):
            raise DataError(f"{k} has non-finite values; remove or impute them first.")
    dd = arr["d"]
    if not np.all(np.isin(dd, (0.0, 1.0))) or dd.min() == dd.max():
        raise DataError("d must be 0/1 with both groups present.")
    w = arr.get("weights", np.ones(n))
    if np.any(w <= 0):
        raise DataError("weights must be positive.")
    if y0 is not None:
        return att_panel(arr["y"] - arr["y0"], dd, X, w, method=method, trim_level=trim_level)
    p = arr["post"]
    if not np.all(np.isin(p, (0.0, 1.0))):
        raise DataError("post must be 0/1.")
    return att_rc(arr["y"], p, dd, X, w, method=method, trim_level=trim_level)


@contextmanager
def _naming(covariates: Any) -> Iterator[None]:
    """A singular nuisance model's DataError names the covariate columns it was given."""
    try:
        yield
    except DataError as exc:
        if "design matrix is singular" not in str(exc):
            raise
        raise DataError(f"{exc} The covariates are {list(covariates or [])!r}.") from None


class DRDiD:
    """Doubly robust DiD for the ATT with two groups and two periods.

    Estimand: the average effect on the treated when trends are parallel
    given pre-treatment covariates ``X``.

    Formula (panel, ``dY = Y_post - Y_pre``; Sant'Anna & Zhao 2020, eq. 3.1):
    ``ATT = E[(w1 - w0) (dY - m0(X))]``, ``w1 = D / E[D]``,
    ``w0 = p(X)(1 - D)/(1 - p(X)) / E[...]``, ``m0`` the comparison group's
    regression of ``dY`` on ``X``. ``method`` chooses the estimator:

    * ``'imp'`` (default): improved, locally efficient DR; ``p`` by inverse
      probability tilting (Graham, Pinto & Egel 2012), ``m0`` by least squares
      weighted by the odds ``p / (1 - p)``: doubly robust and, as in
      Sant'Anna & Zhao's Theorem 3.1, free of estimation effects;
    * ``'trad'``: the same with a logit ``p`` and unweighted least squares;
    * ``'reg'``: outcome regression (Heckman, Ichimura & Todd 1997);
    * ``'ipw'``: Abadie's (2005) IPW, weights divided by ``E[D]``;
    * ``'std_ipw'``: IPW with weights normalised to sum to one in each group.

    Repeated cross-sections (no ``unit``): the locally efficient form of
    sec. 3.2, regressions in each of the four group-by-period cells.

    Defaults and why: ``'imp'``, DRDID's default. Standard errors from the
    influence function ``psi``: ``SE = sqrt(sum (psi - mean psi)^2) / n``,
    DRDID's convention since 1.2.3; ``se_convention='n-1'`` gives
    ``sd(psi) / sqrt(n)``, larger by ``sqrt(n / (n - 1))``, as DRDID printed
    before 1.2.3 (and in its manual). With ``clusters`` the cluster sums of
    ``psi`` replace the rows. Intervals use the normal, as DRDID.

    Parameters
    ----------
    data : DataFrame
        Long format: one row per unit and period (panel) or per person
        (repeated cross-sections).
    outcome : str
    treatment : str
        The group: 0/1 (ever treated), constant within a unit.
    arms : tuple, default=None
        ``(control, treated)`` labels of a text treatment column.
    post : str
        0/1 after-period indicator.
    unit : str, default=None
        Panel unit; each must have one row before and one after. Without it
        the rows are repeated cross-sections.
    covariates : list of str, default=None
        Pre-treatment covariates (in a panel, each unit's pre-period row).
    method : {"imp", "trad", "reg", "ipw", "std_ipw"}, default="imp"
    clusters : str, default=None
        Cluster-robust SE from the cluster sums of the influence function.
    weights : str, default=None
        Sampling weights (constant within a unit), rescaled to mean 1.
    se_convention : {"n", "n-1"}, default="n"
    trim_level : float, default=0.995
        Comparison units with a propensity score at or above it get weight 0.
    alpha : float, default=0.05
    missing : {"error", "drop"}, default="error"

    Returns
    -------
    EffectResult
        ``extra``: ``method``, ``panel``, ``se_convention``,
        ``std_error_other_convention``, ``n_trimmed``, ``propensity_range``.

    Raises
    ------
    DataError
        Bad columns; a unit without exactly one row before and one after; an
        empty group; collinear covariates; covariates that predict the
        treatment perfectly.

    Notes
    -----
    The point estimates agree with DRDID 1.2.3 on its manual's examples to
    every printed digit. For ``method='trad'`` with repeated cross-sections
    the standard error is the exact delta-method one; DRDID's adds the
    pre-period estimation effect of the comparison group's regression with
    the opposite sign (asymptotically negligible; 0.2027 against 0.2009 on
    DRDID's ``sim_rc``). The influence function is in
    ``effekt_observational.drdid.att_2x2`` for aggregation (Callaway &
    Sant'Anna 2021 combine one per cell).

    References
    ----------
    Sant'Anna, P. H. C. & Zhao, J. (2020). Doubly robust difference-in-differences
    estimators. Journal of Econometrics 219(1), 101-122. doi:10.1016/j.jeconom.2020.06.003

    Examples
    --------
    >>> import effekt as ef
    >>> syn = DRDiD.simulate(np.random.default_rng(3), n=400, effect=1.0)
    >>> res = ef.estimate("drdid", data=syn.data, **syn.spec)
    >>> res.design, res.extra["method"], bool(abs(res.estimate - 1.0) < 4 * res.std_error)
    ('panel', 'imp', True)
    """

    name: ClassVar[str] = "drdid"
    estimand: ClassVar[str] = "att"
    kind: ClassVar[str] = "did"
    tags: ClassVar[EstimatorTags] = EstimatorTags(outcome="panel", supports_clusters=True, supports_covariates=True,
                                                  supports_weights=True, sign_flip=False)
    options: ClassVar[dict[str, Any]] = {"method": Choice(METHODS), "se_convention": Choice(SE_CONVENTIONS)}

    @classmethod
    def simulate(cls, rng: np.random.Generator, *, n: int = 300, effect: float = 1.0) -> Synthetic:
        """A two-period panel in which selection and trends depend on ``x`` (parallel given ``x``)."""
        n = max(int(n), 60)
        x = rng.normal(size=n)
        d = (rng.random(n) < 1 / (1 + np.exp(-(0.5 * x - 0.3)))).astype(int)
        d[:2], d[2:4] = 1, 0  # both groups
        a = 0.5 * x + 0.5 * d + rng.normal(size=n)
        y0 = a + rng.normal(size=n)
        y1 = a + 1.0 + 0.8 * x + effect * d + rng.normal(size=n)
        data = pd.DataFrame({"unit": np.repeat(np.arange(n), 2), "post": np.tile([0, 1], n),
                             "treated": np.repeat(d, 2), "x": np.repeat(x, 2),
                             "y": np.column_stack([y0, y1]).ravel()})
        spec = {"outcome": "y", "treatment": "treated", "post": "post", "unit": "unit", "covariates": ["x"]}
        return Synthetic(data=data, spec=spec, truth=effect, outcome="y", treatment="treated")

    @validated
    def fit(
        self,
        data: Any,
        *,
        outcome: str,
        treatment: str,
        arms: tuple[Any, Any] | None = None,
        post: str,
        unit: str | None = None,
        covariates: Sequence[str] | str | None = None,
        method: str = "imp",
        clusters: str | None = None,
        weights: str | None = None,
        se_convention: str = "n",
        trim_level: float = 0.995,
        alpha: float = 0.05,
        missing: str = "error",
    ) -> EffectResult:
        frame = as_frame(data)
        cols = check_columns(frame, outcome=outcome, treatment=treatment, arms=arms, clusters=clusters,
                             weights=weights, covariates=covariates, blocks=unit, numeric={"post": post},
                             missing=missing, roles={"blocks": "unit"})
        assert cols.y is not None and cols.z is not None
        p = cols.extra["post"]
        bad = ~np.isin(p, (0.0, 1.0))
        if bad.any():
            raise DataError(f"post column {post!r} must hold 0 (before) and 1 (after); it holds "
                            f"{np.unique(p[bad])[:5].tolist()} ({describe_rows(np.flatnonzero(bad) if cols.index is None else cols.index[bad])}). Recode it.")
        z = cols.z.astype(float)
        X = np.ones((cols.n, 1)) if cols.X is None else np.column_stack([np.ones(cols.n), cols.X])
        w = np.ones(cols.n) if cols.weights is None else cols.weights
        cl = cols.clusters
        cells = np.bincount(2 * cols.z.astype(int) + p.astype(int), minlength=4)
        if cells.min() == 0:
            names = ["comparison before", "comparison after", "treated before", "treated after"]
            raise DataError(f"the cell '{names[int(np.argmin(cells))]}' has no rows (rows per cell of treatment "
                            f"column {treatment!r} by post column {post!r}: {dict(zip(names, cells.tolist()))}); "
                            "a DiD needs all four.")
        panel = unit is not None
        if panel:
            assert cols.blocks is not None and cols.block_labels is not None
            u, k = cols.blocks, len(cols.block_labels)
            for v, role, col in ((z, "treatment", treatment), (w, "weights", weights),
                                 (None if cl is None else cl.astype(float), "clusters", clusters)):
                if v is None:
                    continue
                mixed = varying_groups(v, u, k)
                if mixed.size:
                    raise DataError(f"{role} column {col!r} must be constant within each unit of {unit!r}; "
                                    f"{mixed.size} unit(s) change, e.g. unit {label(cols.block_labels[mixed[0]])}.")
            counts = np.bincount(2 * u + p.astype(int), minlength=2 * k).reshape(k, 2)
            wrong = np.flatnonzero((counts[:, 0] != 1) | (counts[:, 1] != 1))
            if wrong.size:
                b = wrong[0]
                raise DataError(
                    f"each unit of {unit!r} needs exactly one row before and one after (post column {post!r}); "
                    f"{wrong.size} unit(s) do not, e.g. unit {label(cols.block_labels[b])} with "
                    f"{counts[b, 0]} before and {counts[b, 1]} after. Drop incomplete units (a balanced panel), "
                    "or leave out unit= to treat the rows as repeated cross-sections."
                )
            order = np.lexsort((p, u))
            pre, aft = order[0::2], order[1::2]
            with _naming(cols.covariates):
                res = att_panel(cols.y[aft] - cols.y[pre], z[pre], X[pre], w[pre], method=method,
                                trim_level=trim_level)
            n_obs, n_units = k, k
            cl_used = None if cl is None else cl[pre]
        else:
            with _naming(cols.covariates):
                res = att_rc(cols.y, p, z, X, w, method=method, trim_level=trim_level)
            n_obs, n_units = cols.n, None
            cl_used = cl
        if cl_used is not None:
            cl_used = np.unique(cl_used, return_inverse=True)[1]
        se = standard_error(res.influence, se_convention, cl_used)
        other = standard_error(res.influence, "n-1" if se_convention == "n" else "n", cl_used)
        extra: dict[str, Any] = {
            "method": method, "method_label": _LABELS[method], "panel": panel, "se_convention": se_convention,
            "std_error_other_convention": other, "n_trimmed": res.n_trimmed, "trim_level": trim_level,
            "covariates": list(cols.covariate_names),
        }
        if res.propensity is not None:
            extra["propensity_range"] = [float(res.propensity.min()), float(res.propensity.max())]
        if cols.reference_levels:
            extra["reference_levels"] = {str(k_): v for k_, v in cols.reference_levels.items()}
        se_type = f"influence function (divisor {se_convention})"
        if cl_used is not None:
            se_type += f", clustered by {clusters}"
        warns = cols.warnings()
        if res.n_trimmed:
            warns.append(f"{res.n_trimmed} comparison unit(s) with a propensity score >= {trim_level} were "
                         "trimmed (given weight 0).")
        return EffectResult.from_z(
            res.att, se, alpha=alpha, estimator=self.name, estimand=self.estimand,
            term=f"{treatment}:{post}", n=cols.n, n_treated=cols.n_treated, n_control=cols.n_control,
            n_units=n_units, n_clusters=None if cl_used is None else int(cl_used.max() + 1),
            se_type=se_type, design="panel" if panel else "repeated_cross_section", warnings=warns,
            extra={**extra, "n_analysed": n_obs}, outcome=outcome,
        )
