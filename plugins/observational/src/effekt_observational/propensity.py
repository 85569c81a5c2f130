"""Propensity scores and their overlap diagnostics.

``propensity_score`` fits ``e(x) = P(treated | x)`` with any scikit-learn
classifier (unpenalised logistic regression by default, gradient boosting
by name, cross-fitted with ``folds``) and returns a
:class:`PropensityScores` result: the scores, their range by arm, the
effective sample sizes under ATE, ATT and overlap weights, the trimming
thresholds, and the overlap histogram as ``plot()``.

Trimming rules: a fixed ``[a, 1 - a]`` (``trim=0.1`` is the common choice,
Crump et al. 2009, section 5), or Crump et al.'s optimal rule (Theorem 1),
the threshold that minimises the variance of the ATE on the kept
population. Effective sample size: Kish's ``(sum w)^2 / sum w^2`` in each
arm.

References
----------
Rosenbaum, P. R. & Rubin, D. B. (1983). Biometrika 70(1), 41-55. doi:10.1093/biomet/70.1.41
Crump, R. K., Hotz, V. J., Imbens, G. W. & Mitnik, O. A. (2009). Dealing with limited overlap in
estimation of average treatment effects. Biometrika 96(1), 187-199. doi:10.1093/biomet/asn055
Kish, L. (1965). Survey Sampling. Wiley, section 11.7.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from effekt.plotting import arm_colour, figure_and_axes, label_for
from effekt.result import FrozenDict, to_jsonable
from effekt.vocabulary import validate_options
from effekt_observational._common import check_trim, effective_sizes, prepare, trim_mask
from effekt_observational._propensity import fit_propensity

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["PropensityScores", "propensity_score", "balancing_weights"]

_OWNER = SimpleNamespace(name="propensity_score")


def balancing_weights(e: np.ndarray, z: np.ndarray, estimand: str) -> np.ndarray:
    """Inverse-probability weights for ``estimand`` (Li, Morgan & Zaslavsky 2018, Table 1).

    ate: ``z / e + (1 - z) / (1 - e)``; att: ``z + (1 - z) e / (1 - e)``;
    atc: ``z (1 - e) / e + (1 - z)``; ato: ``z (1 - e) + (1 - z) e``.
    """
    z = z.astype(float)
    if estimand == "ate":
        return z / e + (1 - z) / (1 - e)
    if estimand == "att":
        return z + (1 - z) * e / (1 - e)
    if estimand == "atc":
        return z * (1 - e) / e + (1 - z)
    return z * (1 - e) + (1 - z) * e


@dataclass(frozen=True)
class PropensityScores:
    """Estimated propensity scores with overlap diagnostics.

    ``scores`` holds one score per row analysed (in the order of the data,
    after ``missing='drop'``); ``treated`` the 0/1 arm; ``table`` one row per
    arm (n, min, quartiles, max, effective sample sizes under each weighting).
    ``trimming`` gives each rule's threshold and how many units it keeps.
    """

    scores: np.ndarray
    treated: np.ndarray
    table: pd.DataFrame
    trimming: Mapping[str, Any]
    classifier: str
    folds: int | None
    covariates: tuple[str, ...]
    arms: tuple[Any, Any] = (0, 1)
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        scores = np.array(self.scores, dtype=float)
        scores.setflags(write=False)
        z = np.array(self.treated, dtype=np.int8)
        z.setflags(write=False)
        set_(self, "scores", scores)
        set_(self, "treated", z)
        set_(self, "table", self.table.copy())
        set_(self, "trimming", FrozenDict(self.trimming))
        set_(self, "extra", FrozenDict(self.extra))

    def keep(self, trim: Any = "crump") -> np.ndarray:
        """Rows kept by a trimming rule: ``'crump'`` or ``a`` for ``[a, 1 - a]``."""
        mask, _ = trim_mask(self.scores, check_trim(trim))
        return mask

    def weights(self, estimand: str = "ate") -> np.ndarray:
        """The balancing weights of each row for ``estimand`` ('ate', 'att', 'atc', 'ato')."""
        validate_options(_OWNER, {"estimand": estimand}, fn=None)
        return balancing_weights(self.scores, self.treated, estimand)

    def tidy(self) -> pd.DataFrame:
        """One row per arm (a copy)."""
        return self.table.copy()

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable({  # type: ignore[no-any-return]
            "table": self.table.to_dict(orient="records"), "trimming": self.trimming,
            "classifier": self.classifier, "folds": self.folds, "covariates": list(self.covariates),
            "arms": [str(a) for a in self.arms], "extra": self.extra,
        })

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def summary(self) -> str:
        t = self.trimming
        lines = [
            f"Propensity scores ({self.classifier}{'' if self.folds is None else f', {self.folds}-fold cross-fitted'}) "
            f"on {', '.join(self.covariates)}",
            self.table.to_string(index=False),
            f"Crump et al. (2009) optimal trimming: keep {t['crump']['threshold']:.4f} <= e <= "
            f"{1 - t['crump']['threshold']:.4f} ({t['crump']['kept']} of {len(self.scores)} units)",
            f"Fixed [0.1, 0.9]: {t['fixed_0.1']['kept']} of {len(self.scores)} units",
        ]
        return "\n".join(lines)

    def plot(self, *, ax: Any = None, labels: Mapping[Any, str] | None = None, bins: int = 30) -> Figure:
        """The overlap histogram: the scores of each arm on one axis (treated above, controls below)."""
        fig, axes = figure_and_axes(ax)
        edges = np.linspace(0.0, 1.0, bins + 1)
        z = self.treated.astype(bool)
        h1, _ = np.histogram(self.scores[z], bins=edges)
        h0, _ = np.histogram(self.scores[~z], bins=edges)
        width = np.diff(edges)
        axes.bar(edges[:-1], h1, width=width, align="edge", color=arm_colour(1), alpha=0.8,
                 label=label_for(self.arms[1], labels))
        axes.bar(edges[:-1], -h0, width=width, align="edge", color=arm_colour(0), alpha=0.8,
                 label=label_for(self.arms[0], labels))
        a = self.trimming["crump"]["threshold"]
        if a > 0:
            for x in (a, 1 - a):
                axes.axvline(x, color="grey", linestyle="--", linewidth=0.8)
        axes.axhline(0.0, color="black", linewidth=0.6)
        axes.set_xlim(0, 1)
        axes.set_xlabel("propensity score")
        axes.set_ylabel("units (controls below the line)")
        axes.set_title("Overlap of the propensity scores")
        axes.legend(frameon=False)
        return fig


def propensity_score(
    data: Any,
    *,
    treatment: str,
    covariates: Sequence[str] | str,
    arms: tuple[Any, Any] | None = None,
    classifier: Any = "logistic",
    folds: int | None = None,
    seed: Any = None,
    missing: str = "error",
) -> PropensityScores:
    """Estimate propensity scores and describe their overlap.

    Parameters
    ----------
    data : DataFrame
    treatment : str
        0/1 arm, or two labels declared with ``arms``.
    covariates : list of str
        Columns of the propensity model (text columns become indicators).
    arms : tuple, default=None
        ``(control, treated)`` labels of a text treatment.
    classifier : str or scikit-learn classifier, default='logistic'
        'logistic' (unpenalised), 'gradient_boosting', or any classifier
        with ``predict_proba``.
    folds : int, default=None
        Cross-fit the scores over this many folds.
    seed : int, default=None
        Seed of the folds and of a randomised classifier.
    missing : {"error", "drop"}, default="error"

    Returns
    -------
    PropensityScores

    Raises
    ------
    DataError
        Bad columns, a constant covariate, an empty arm.

    Examples
    --------
    >>> from effekt_observational.weighting import IPW
    >>> syn = IPW.simulate(np.random.default_rng(3), n=500)
    >>> ps = propensity_score(syn.data, treatment="z", covariates=["x1", "x2"])
    >>> ps.table["arm"].tolist(), bool(ps.scores.min() > 0)
    (['control', 'treated'], True)
    """
    validate_options(_OWNER, {"classifier": classifier, "folds": folds, "seed": seed,
                                          "missing": missing}, fn=None)
    cols, _ = prepare(data, outcome=None, treatment=treatment, arms=arms, covariates=covariates,
                      missing=missing, owner="propensity_score")
    assert cols.X is not None and cols.z is not None
    fit = fit_propensity(cols.X, cols.z, cols.covariate_names, classifier=classifier, folds=folds, seed=seed)
    e, z = fit.scores, cols.z
    rows = []
    for arm, name in ((0, "control"), (1, "treated")):
        s = e[z == arm]
        row: dict[str, Any] = {"arm": name, "label": str(cols.arms[arm]), "n": int(s.size), "min": float(s.min()),
                               "q25": float(np.quantile(s, 0.25)), "median": float(np.median(s)),
                               "q75": float(np.quantile(s, 0.75)), "max": float(s.max())}
        for est in ("ate", "att", "ato"):
            row[f"ess_{est}"] = effective_sizes(z, balancing_weights(np.clip(e, 1e-12, 1 - 1e-12), z, est))[name]
        rows.append(row)
    crump_keep, crump_a = trim_mask(np.clip(e, 1e-12, 1 - 1e-12), "crump")
    fixed_keep, _ = trim_mask(e, 0.1)
    trimming = {"crump": {"threshold": crump_a, "kept": int(crump_keep.sum())},
                "fixed_0.1": {"threshold": 0.1, "kept": int(fixed_keep.sum())}}
    return PropensityScores(e, z, pd.DataFrame(rows), trimming, fit.classifier, folds,
                            tuple(cols.covariate_names), (cols.arms[0], cols.arms[1]),
                            extra={"dropped": cols.dropped})
