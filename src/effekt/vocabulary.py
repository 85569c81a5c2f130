"""Every option name effekt uses: meaning, type, allowed values, default and why.

This module is the one source of truth for option names. A user who has
learned one estimator should be able to guess the next: the same concept has
one name everywhere, and one name means one thing.

How it is used
--------------
* Each :class:`Term` names an option, says what it means, carries a
  :class:`Constraint` that checks a value (type and allowed values), states
  the default and why, and lists the families that take it.
* An estimator's ``fit`` (or a power calculator's ``solve``) is wrapped with
  :func:`validated`. Before any work it checks every option passed: unknown
  names, missing required ones, and each value against the constraint, giving
  an :class:`~effekt.errors.DesignError` that names the option. An estimator
  narrows a term's constraint for itself (its own ``se_type`` choices, say)
  with a class attribute ``options = {"se_type": Choice(...)}``.
* :func:`effekt.testing.check_estimator` fails an estimator whose options are
  not in the vocabulary, or whose docstring does not document them.
* A plugin adds names, with their documentation, through the entry-point
  group ``effekt.vocabulary``; the entry point names a sequence of
  :class:`Term` (and, optionally, of :class:`Code` for new estimands and
  designs)::

      [project.entry-points."effekt.vocabulary"]
      did = "effekt_did.vocabulary:TERMS"

* ``docs/vocabulary.md`` is generated from this module by
  :func:`markdown` (``python -m effekt.vocabulary > docs/vocabulary.md``);
  a test keeps the two equal.

Decisions on names that used to clash
-------------------------------------
The reasons are kept in each term's ``why``; in short:

* ``time`` is a survival duration (lifelines, R survival); the calendar
  period of a panel is ``period``.
* ``event`` is the survival event column; the level of a binary outcome that
  counts as the event in the table estimators is ``positive`` (as
  scikit-learn's ``pos_label``).
* ``treatment`` always means the assigned arm. The period a unit is first
  treated, in staggered DiD, is ``first_treated`` (R did's ``gname``).
* ``aggregation`` (not ``aggregate``); ``ci_method`` names a confidence
  interval method everywhere (the result field of the same name reports it);
  ``correction`` is always a string; ``estimator`` names a wrapped estimator
  (not ``model``); ``horizon`` is the time point(s) of a survival summary
  (not ``horizons`` or ``tau``); ``alternative`` is ``"two-sided"``,
  ``"greater"`` or ``"less"`` everywhere (scipy, R); ``inference`` spells
  ``"randomisation"`` as the rest of the package does; ``cause`` defaults to
  ``None`` everywhere (the only cause when there is one, otherwise it must be
  named); the number of draws is ``sims``, as an option and in ``extra``.
* Power: ``n`` is individuals per arm, ``n_total`` individuals in all arms,
  ``n_clusters`` clusters per arm, ``cluster_size`` individuals per cluster,
  ``icc`` the intra-cluster correlation (``icc2``/``icc3`` at levels 2 and 3),
  ``autocorrelation`` a serial correlation over periods, ``ratio`` the
  allocation ``n_treated / n_control``, ``d`` a standardised effect and
  ``effect`` one in the outcome's units. PowerUp!'s notation (``J``, ``K``,
  ``P``, ``rho2``, ``rho3``, ``MDES``) is accepted only as the documented
  aliases in :data:`POWER_ALIASES`.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import math
import numbers
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from effekt.errors import DesignError

__all__ = [
    "Anything",
    "Choice",
    "Code",
    "ColumnName",
    "ColumnNames",
    "Constraint",
    "Flag",
    "Label",
    "Labels",
    "Number",
    "Numbers",
    "POWER_ALIASES",
    "RETIRED",
    "POWER_ALIAS_NOTES",
    "Seed",
    "Term",
    "Text",
    "codes",
    "display",
    "problems",
    "refresh",
    "markdown",
    "term",
    "terms",
    "validate_options",
    "validated",
]

VOCABULARY_GROUP = "effekt.vocabulary"


# -- constraints --------------------------------------------------------------
class Constraint:
    """Checks one option's value; ``describe()`` says in words what it accepts.

    ``check(value, option, owner)`` returns the value (normalised where a
    documented alias maps to a canonical value) or raises
    :class:`~effekt.errors.DesignError` naming ``owner`` and ``option``.
    """

    none_ok: bool = False

    def check(self, value: Any, option: str, owner: str) -> Any:
        if value is None:
            if self.none_ok:
                return None
            self._fail(value, option, owner)
        return self._check(value, option, owner)

    def _check(self, value: Any, option: str, owner: str) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def _fail(self, value: Any, option: str, owner: str, hint: str = "") -> None:
        accepts = self.describe() + (" or None" if self.none_ok else "")
        raise DesignError(
            f"{owner}: {option}={value!r} is not valid; {option} must be {accepts}."
            + (f" {hint}" if hint else "")
        )


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


@dataclass(frozen=True)
class Number(Constraint):
    """A real number (or a whole number with ``integer=True``) in a range.

    Text such as ``"0.05"`` is refused, never converted: a value read from a
    file must be converted where it is read.
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    integer: bool = False
    none_ok: bool = False

    def _check(self, value: Any, option: str, owner: str) -> Any:
        ok_type = _is_int(value) if self.integer else _is_real(value)
        if not ok_type:
            hint = ""
            if isinstance(value, str):
                hint = "Text is not converted; pass a number."
            elif self.integer and _is_real(value):
                hint = "Pass a whole number."
            self._fail(value, option, owner, hint)
        v = float(value)
        if math.isnan(v) or (not math.isfinite(v) and self.low is None and self.high is None):
            self._fail(value, option, owner)
        if self.low is not None and (v < self.low or (self.low_open and v == self.low)):
            self._fail(value, option, owner)
        if self.high is not None and (v > self.high or (self.high_open and v == self.high)):
            self._fail(value, option, owner)
        if not self.integer and not math.isfinite(v):
            self._fail(value, option, owner)
        return int(value) if self.integer else value

    def describe(self) -> str:
        kind = "a whole number" if self.integer else "a number"
        if self.low is not None and self.high is not None:
            lo = "(" if self.low_open else "["
            hi = ")" if self.high_open else "]"
            return f"{kind} in {lo}{self.low:g}, {self.high:g}{hi}"
        if self.low is not None:
            return f"{kind} {'>' if self.low_open else '>='} {self.low:g}"
        if self.high is not None:
            return f"{kind} {'<' if self.high_open else '<='} {self.high:g}"
        return kind


@dataclass(frozen=True)
class Numbers(Constraint):
    """One number, or a non-empty sequence of numbers, each meeting ``each``."""

    each: Number = field(default_factory=Number)
    none_ok: bool = False

    def _check(self, value: Any, option: str, owner: str) -> Any:
        if _is_real(value):
            return self.each.check(value, option, owner)
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
            self._fail(value, option, owner)
        items = list(value.ravel()) if hasattr(value, "ravel") else list(value)
        if not items:
            self._fail(value, option, owner, "The sequence is empty.")
        for item in items:
            if not _is_real(item):
                self._fail(value, option, owner)
            self.each.check(item, option, owner)
        return value

    def describe(self) -> str:
        return f"{self.each.describe()}, or a sequence of such numbers"


@dataclass(frozen=True)
class Choice(Constraint):
    """One of a fixed set of values; ``aliases`` map documented synonyms."""

    values: tuple[Any, ...] = ()
    aliases: Mapping[Any, Any] = field(default_factory=dict)
    none_ok: bool = False

    def _check(self, value: Any, option: str, owner: str) -> Any:
        try:
            value = self.aliases.get(value, value)
        except TypeError:  # unhashable
            self._fail(value, option, owner)
        if isinstance(value, bool) and not any(isinstance(v, bool) for v in self.values):
            self._fail(value, option, owner)
        try:
            found = value in self.values
        except TypeError:
            found = False
        if not found:
            close = difflib.get_close_matches(str(value), [str(v) for v in self.values], n=1, cutoff=0.6)
            self._fail(value, option, owner, f"Did you mean {close[0]!r}?" if close else "")
        return value

    def describe(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)


@dataclass(frozen=True)
class Flag(Constraint):
    """True or False (numpy booleans accepted; 0/1 and text refused)."""

    none_ok: bool = False

    def _check(self, value: Any, option: str, owner: str) -> Any:
        if isinstance(value, bool):
            return value
        if type(value).__name__ == "bool_":  # numpy.bool_ without importing numpy
            return bool(value)
        self._fail(value, option, owner)

    def describe(self) -> str:
        return "True or False"


@dataclass(frozen=True)
class Seed(Constraint):
    """A seed: a non-negative whole number or a ``numpy.random.Generator``."""

    none_ok: bool = True

    def _check(self, value: Any, option: str, owner: str) -> Any:
        if _is_int(value):
            if int(value) < 0:
                self._fail(value, option, owner)
            return value
        if type(value).__name__ in ("Generator", "SeedSequence"):
            return value
        self._fail(value, option, owner, "Text is not converted; pass e.g. seed=42." if isinstance(value, str) else "")

    def describe(self) -> str:
        return "a whole number >= 0 or a numpy.random.Generator"


def _is_label(value: Any) -> bool:
    if isinstance(value, (list, dict, set, tuple)) or value is None:
        return False
    try:
        hash(value)
    except TypeError:
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    return True


@dataclass(frozen=True)
class ColumnName(Constraint):
    """The name of one column of the data."""

    none_ok: bool = True

    def _check(self, value: Any, option: str, owner: str) -> Any:
        if isinstance(value, bool) or not _is_label(value):
            self._fail(value, option, owner, "Name one column." if isinstance(value, (list, tuple)) else "")
        return value

    def describe(self) -> str:
        return "a column name"


@dataclass(frozen=True)
class ColumnNames(Constraint):
    """A column name or a list of column names."""

    none_ok: bool = True

    def _check(self, value: Any, option: str, owner: str) -> Any:
        if isinstance(value, str):
            return value
        if isinstance(value, (list, tuple)) and all(not isinstance(v, bool) and _is_label(v) for v in value):
            if len(set(value)) != len(value):
                self._fail(value, option, owner, "A column is named twice.")
            return value
        self._fail(value, option, owner)

    def describe(self) -> str:
        return "a column name or a list of column names"


@dataclass(frozen=True)
class Labels(Constraint):
    """``size`` distinct values, e.g. the arms ``(control, treated)``."""

    size: int = 2
    none_ok: bool = True

    def _check(self, value: Any, option: str, owner: str) -> Any:
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            self._fail(value, option, owner)
        if len(value) != self.size or not all(_is_label(v) for v in value):
            self._fail(value, option, owner)
        if len(set(value)) != len(value):
            self._fail(value, option, owner, "The values must differ.")
        return tuple(value)

    def describe(self) -> str:
        return f"{self.size} distinct values, as a tuple"


@dataclass(frozen=True)
class Text(Constraint):
    """Free text (a formula, a term name, a label)."""

    none_ok: bool = True

    def _check(self, value: Any, option: str, owner: str) -> Any:
        if not isinstance(value, str) or not value.strip():
            self._fail(value, option, owner)
        return value

    def describe(self) -> str:
        return "a non-empty string"


@dataclass(frozen=True)
class Label(Constraint):
    """One value of a column (a cause of exit, a level), a number or text."""

    none_ok: bool = True

    def _check(self, value: Any, option: str, owner: str) -> Any:
        if isinstance(value, bool) or not _is_label(value):
            self._fail(value, option, owner)
        return value

    def describe(self) -> str:
        return "one value of the column (a number or a label)"


@dataclass(frozen=True)
class Anything(Constraint):
    """A value checked by the estimator itself (an Assignment, an array, ...)."""

    what: str = "any value"
    none_ok: bool = True

    def _check(self, value: Any, option: str, owner: str) -> Any:
        return value

    def describe(self) -> str:
        return self.what


# -- terms --------------------------------------------------------------------
@dataclass(frozen=True)
class Term:
    """One option name of the vocabulary.

    Attributes
    ----------
    name : str
        The option's name, as passed by keyword.
    meaning : str
        What it means, in one or two sentences.
    constraint : Constraint
        Type and allowed values (an estimator may narrow them).
    default : str
        The default, in words (``"0.05"``, ``"None: inferred from ..."``).
    why : str
        Why that default, or why this name (a decision on a former clash).
    families : tuple of str
        Which estimators or calculators take it.
    source : str
        The distribution that defines it (``"effekt"`` for the core).
    """

    name: str
    meaning: str
    constraint: Constraint
    default: str = "required"
    why: str = ""
    families: tuple[str, ...] = ()
    source: str = "effekt"


@dataclass(frozen=True)
class Code:
    """A value of a fixed vocabulary of result fields (``estimand`` or ``design``).

    ``label`` is for display (tables, plots, reports); the code is what
    results store and programs compare.
    """

    field: str  # "estimand" or "design"
    code: str
    label: str
    source: str = "effekt"


_COL = ColumnName()
_COLS = ColumnNames()
_POS_INT = Number(low=1, integer=True)
_PROB = Number(low=0, high=1, low_open=True, high_open=True)
_SE_TYPES = ("classical", "HC0", "HC1", "HC2", "HC3", "CR0", "CR1", "CR2", "stata")

_CORE_TERMS: tuple[Term, ...] = (
    # data roles ---------------------------------------------------------------
    Term("outcome", "The outcome column.", _COL, why="estimatr's name.", families=("all but survival",)),
    Term(
        "treatment",
        "The assigned arm: 0/1, bool, or two labels declared with arms=. Always the arm, never a period.",
        _COL,
        why="One meaning everywhere; the period a unit is first treated is first_treated.",
        families=("all",),
    ),
    Term(
        "arms",
        "The two arms as (control, treated) labels of the treatment column, e.g. ('CAB', 'JKI').",
        Labels(2),
        "None: the treatment column holds 0/1 or bool",
        "Labels are never ordered alphabetically by effekt: which arm is the programme is the user's call, "
        "since it sets the sign of every effect.",
        ("every estimator that takes treatment",),
    ),
    Term("received", "The treatment actually received (take-up), 0/1.", _COL, families=("cace", "iv_robust")),
    Term(
        "blocks",
        "The randomisation blocks (strata, batches): effects are estimated within them.",
        _COL,
        "None: no blocks",
        "What blocks imply (blocked, paired, small blocks) is inferred and reported in the result's design.",
        ("design-based", "survival", "tables"),
    ),
    Term(
        "clusters",
        "The unit of assignment when whole groups are randomised, and of the cluster-robust variance.",
        _COL,
        "None: individual assignment",
        "With clusters the default variance is CR2 with Bell-McCaffrey degrees of freedom (estimatr).",
        ("design-based", "regressions", "DiD", "survival"),
    ),
    Term(
        "weights",
        "Positive weights per row (sampling or inverse-probability weights).",
        _COL,
        "None: equal weights",
        families=("all that apply",),
    ),
    Term(
        "covariates",
        "Adjustment columns. Text or categorical columns are expanded to indicators, the first level "
        "(sorted) as reference, as R treats a factor; the reference is reported in the result.",
        _COLS,
        "None: no adjustment",
        families=("regressions", "survival", "DiD", "mediation"),
    ),
    Term(
        "fixed_effects",
        "Columns whose levels are absorbed (never expanded to dummies).",
        _COLS,
        "None",
        families=("lm_robust", "cace", "iv_robust"),
    ),
    Term("moderators", "Columns whose subgroups the effect is estimated in.", _COLS, "None",
         families=("heterogeneity",)),
    Term("mediator", "The mediator column.", _COL, families=("mediation",)),
    Term("pairs", "The column that identifies matched pairs.", _COL, families=("mcnemar",)),
    Term(
        "strata",
        "Strata with separate baselines (hazards, tables).",
        _COL,
        "None: the blocks, when blocks= is given",
        "A stratified analysis follows the randomisation by default (R survival's strata()).",
        ("survival", "tables"),
    ),
    Term(
        "time",
        "A survival duration: the time from entry to exit or censoring (in the data's units, e.g. weeks).",
        _COL,
        why="lifelines' and R survival's name. The calendar period of a panel is period.",
        families=("survival",),
    ),
    Term(
        "event",
        "The survival event column: 0 (or the censored= label) is censored, other values are causes of exit.",
        _COL,
        why="R survival's name. The counted level of a binary outcome is positive.",
        families=("survival",),
    ),
    Term(
        "censored",
        "The value of the event column that means censored.",
        Label(),
        "None: 0 (or False)",
        "Lets the event column hold labels ('censored', 'job', 'flexjob'), which then label tables and plots.",
        ("survival",),
    ),
    Term(
        "cause",
        "The cause of exit analysed, a value (number or label) of the event column.",
        Label(),
        "None: the only cause when there is one; with several causes it must be named "
        "(competing-risks estimators) or every exit counts (kaplan_meier, logrank, cox)",
        "One default everywhere; a silent cause=1 would analyse the wrong exit when causes are labels.",
        ("survival",),
    ),
    Term("entry", "Delayed entry: the time a row enters the risk set (left truncation).", _COL, "None",
         families=("survival",)),
    Term(
        "horizon",
        "The time point(s) at which a survival summary is read (survival probability, cumulative "
        "incidence, restricted mean).",
        Numbers(Number(low=0, low_open=True), none_ok=True),
        "None: required where a curve is read at a time point (kaplan_meier, rmst, aalen_johansen); "
        "left out, they ask for it rather than pick one",
        "One name for what used to be horizon, horizons and tau. No silent default: the time point is part "
        "of the estimand, so the analysis plan names it.",
        ("survival",),
    ),
    Term("unit", "The panel unit (person, job centre).", _COL, families=("DiD",)),
    Term(
        "period",
        "The calendar period of a panel row (year, year-week).",
        _COL,
        why="time is a survival duration; a panel's calendar column is period (DESIGN.md's first draft).",
        families=("DiD",),
    ),
    Term("post", "The after-period indicator (0/1).", _COL, families=("DiD",)),
    Term(
        "first_treated",
        "The period a unit is first treated; 0 (or missing with missing='never') means never treated.",
        _COL,
        why="R did's convention (gname). Named for what it holds, so treatment always means the arm.",
        families=("callaway_santanna", "event_study", "staggered DiD"),
    ),
    Term("dose", "The treatment intensity column.", _COL, families=("dose_did",)),
    Term("formula", "An R-style formula, 'y ~ z + x'.", Text(), "None", families=("lm_robust",)),
    Term("term", "The coefficient reported as the effect.", Text(), "None: the treatment",
         families=("lm_robust",)),
    Term(
        "assignment",
        "An effekt.design Assignment: supplies treatment, blocks, clusters and probabilities.",
        Anything("an effekt.design Assignment"),
        "None",
        families=("design-based", "ri"),
    ),
    Term("probabilities", "Each unit's probability of treatment (a column).", _COL, "None: from the design",
         families=("horvitz_thompson",)),
    # inference ------------------------------------------------------------------
    Term(
        "alpha",
        "Significance level; intervals are at 1 - alpha.",
        _PROB,
        "0.05",
        "The convention of every field the package serves.",
        ("all",),
    ),
    Term(
        "se_type",
        "The variance estimator: classical, HC0-HC3 (individual), CR0-CR2 (clustered).",
        Choice(_SE_TYPES, none_ok=True),
        "None: HC2 without clusters, CR2 (Bell-McCaffrey df) with clusters",
        "Design-based defaults as estimatr's: HC2 is the Neyman variance, CR2 its clustered analogue.",
        ("every estimator with a sandwich variance",),
    ),
    Term(
        "seed",
        "Seed of every random step (int >= 0 or numpy Generator).",
        Seed(),
        "None: fresh entropy (the result records it)",
        "The same seed gives the same draws on every platform and release.",
        ("randomisation inference", "bootstrap", "simulation"),
    ),
    Term(
        "sims",
        "The number of draws (permutations, bootstrap replicates, simulations); extra['sims'] reports it.",
        _POS_INT,
        "the estimator's documented default",
        "One name for every count of draws (R DeclareDesign's and mediation's name).",
        ("ri", "bootstrap", "fisher", "mediation", "simulation"),
    ),
    Term(
        "missing",
        "What to do with missing values in the columns used: 'error' raises naming the column and rows; "
        "'drop' drops those rows and reports how many.",
        Choice(("error", "drop")),
        "'error'",
        "Nothing is dropped silently.",
        ("all",),
    ),
    Term(
        "alternative",
        "The alternative hypothesis.",
        Choice(("two-sided", "greater", "less")),
        "'two-sided'",
        "scipy's and R's values, in tests and in power alike.",
        ("tests", "power"),
    ),
    Term(
        "ci_method",
        "The confidence-interval method (e.g. 'newcombe', 'wilson', 'woolf', 'exact', 'inversion').",
        Text(),
        "the estimator's documented default",
        "The result field ci_method reports the same name; ci as an option is gone.",
        ("tables", "ri"),
    ),
    Term(
        "correction",
        "A small-sample correction, by name ('none', 'yates', 'williams', 'edwards').",
        Text(),
        "'none'",
        "Always a string: a bool cannot say which correction.",
        ("chi2", "g_test", "mcnemar", "power"),
    ),
    Term("measure", "The effect measure a test reports ('risk_difference', 'risk_ratio', 'odds_ratio').",
         Choice(("risk_difference", "risk_ratio", "odds_ratio"), none_ok=True), "'risk_difference'",
         families=("tables",)),
    Term(
        "positive",
        "The value of a binary outcome that counts as the event (as scikit-learn's pos_label).",
        Label(),
        "None: 1 (or True) for a 0/1 outcome",
        "event is the survival event column; this is the counted level of a binary outcome.",
        ("tables",),
    ),
    Term("zero_cell", "What to do with an empty cell: 'error' or 'haldane' (add 0.5 to every cell).",
         Choice(("error", "haldane")), "'error'", families=("risk_ratio", "odds_ratio")),
    Term(
        "method",
        "How the estimate or p-value is computed, among the estimator's documented methods.",
        Text(),
        "the estimator's documented default",
        families=("tables", "mediation", "power"),
    ),
    Term(
        "estimator",
        "The registered name of a wrapped estimator (ri, wild_cluster_bootstrap, simulate_power).",
        Text(),
        "the wrapper's documented default",
        "One name for the wrapped estimator (formerly model= in wild_cluster_bootstrap).",
        ("ri", "wild_cluster_bootstrap", "simulation"),
    ),
    Term(
        "aggregation",
        "How cell-level effects are aggregated, among the estimator's documented choices.",
        Text(),
        "the estimator's documented default",
        "One noun for the choice (formerly also aggregate).",
        ("DiD",),
    ),
    Term(
        "inference",
        "The kind of inference: 'bootstrap' or 'randomisation'.",
        Choice(("bootstrap", "randomisation"), aliases={"randomization": "randomisation"}),
        "'bootstrap'",
        "The package spells randomisation with an s; the American spelling is a documented alias.",
        ("wild_cluster_bootstrap",),
    ),
    Term("max_exact", "Enumerate every assignment when there are at most this many.", _POS_INT, "10000",
         families=("ri",)),
    Term("small_blocks", "Variance for blocks with one unit per arm: 'hybrid_m' or 'hybrid_p' "
         "(Pashley & Miratrix 2021).", Choice(("hybrid_m", "hybrid_p")), "'hybrid_m'",
         families=("difference_in_means",)),
    Term("simple", "Treat the design as simple (Bernoulli) randomisation.", Flag(none_ok=True),
         "None: inferred from the assignment", families=("horvitz_thompson",)),
    Term("max_levels", "Most subgroups a moderator may have.", _POS_INT, "10", families=("heterogeneity",)),
    # mediation -----------------------------------------------------------------
    Term("mediator_model", "The mediator's model: 'linear' or 'logit'/'probit'.", Text(), "'linear'",
         families=("mediation",)),
    Term("outcome_model", "The outcome's model: 'linear' or 'logit'/'probit'.", Text(), "'linear'",
         families=("mediation",)),
    Term("interaction", "Let the mediator's effect differ by arm.", Flag(), "False", families=("mediation",)),
    Term("boot_ci", "Bootstrap interval: 'percentile' or 'bca'.", Choice(("percentile", "bca")), "'percentile'",
         families=("mediation",)),
)

# PowerUp! (Dong & Maynard 2013) notation, accepted only as these aliases: alias -> canonical name.
# J and K mean different things in different PowerUp! designs (POWER_ALIAS_NOTES); the name here is
# the commonest, and the power calculators map each design's J and K to its own name.
POWER_ALIASES: dict[str, str] = {
    "J": "n_clusters",
    "K": "n_blocks",
    "P": "allocation",
    "rho2": "icc2",
    "rho3": "icc3",
    "MDES": "d",
    "g": "n_covariates",
    "n1": "n",
}

#: What each alias stands for where it depends on the design.
POWER_ALIAS_NOTES: dict[str, str] = {
    "J": "n_clusters in cra2 (J = 2 n_clusters counts all clusters); n_blocks in bira2; "
         "clusters_per_site in bcra3 and cra3",
    "K": "n_blocks in bcra3; n_sites in cra3 (K = 2 n_sites counts all sites)",
    "P": "the share treated (allocation), not statsmodels' ratio",
    "n1": "the control arm's size (arm 1) in the two-arm calculators",
}

#: Names that an earlier release used, and what replaced them (shown when one is passed).
RETIRED: dict[str, str] = {
    "aggregate": "aggregation",
    "model": "estimator",
    "horizons": "horizon",
    "tau": "horizon",
    "ci": "ci_method",
    "n_permutations": "sims",
    "n_resamples": "sims",
    "n_boot": "sims",
    "B": "sims",
    "continuity": "correction (a string: 'none' or 'yates')",
    "time": "period (a panel's calendar column; time is a survival duration)",
    "treatment": "first_treated (the period a unit is first treated; treatment is always the arm)",
    "event": "positive (the counted level of a binary outcome; event is the survival event column)",
    "delta": "effect (in the outcome's units) or d (standardised)",
    "rho": "autocorrelation (a serial correlation) or icc (an intra-cluster correlation)",
    "n_treated": "n2 (a fixed treated arm) with n, or n with ratio",
    "n_control": "n",
    "pre": "periods_before",
    "covariates_n": "n_covariates",
}

_POWER_TERMS: tuple[Term, ...] = (
    Term("n", "Individuals per arm (the control arm's size when arms differ; see ratio).",
         Number(low=0, low_open=True, none_ok=True), "solved for when left out", families=("power",)),
    Term("n_total", "Individuals in all arms together.", Number(low=0, low_open=True, none_ok=True),
         "solved for when left out", families=("power",)),
    Term("n2", "The second (treated) arm's size when it is fixed: individuals, or clusters in did.", Number(low=0, low_open=True, none_ok=True),
         "None: ratio * n", families=("power",)),
    Term("n_clusters", "Clusters per arm (PowerUp!'s J counts all clusters; see POWER_ALIASES).",
         Number(low=0, low_open=True, none_ok=True), "solved for when left out", families=("power",)),
    Term("n_sites", "Sites (level-3 units) per arm.", Number(low=0, low_open=True, none_ok=True),
         "solved for when left out", families=("power",)),
    Term("cluster_size", "Individuals per cluster.", Number(low=0, low_open=True, none_ok=True),
         "solved for when left out", families=("power",)),
    Term("power", "The probability of rejecting the null hypothesis when the effect is as given.",
         Number(low=0, high=1, low_open=True, high_open=True, none_ok=True), "solved for when left out",
         families=("power",)),
    Term("ratio", "Allocation: n_treated / n_control.", Number(low=0, low_open=True, none_ok=True), "1",
         "statsmodels' convention; PowerUp!'s P (share treated) is accepted as allocation.", ("power",)),
    Term("allocation", "The share of units (or clusters) treated.", _PROB, "0.5", families=("power",)),
    Term("d", "A standardised effect (Cohen's d): the difference in means over the outcome's SD.",
         Number(none_ok=True), "solved for when left out", families=("power",)),
    Term("effect", "An effect in the outcome's units (e.g. percentage points, weeks).",
         Number(none_ok=True), "solved for when left out", families=("power",)),
    Term("sd", "The outcome's standard deviation.", Number(low=0, low_open=True, none_ok=True), "1",
         families=("power",)),
    Term("p1", "The control arm's proportion.", Number(low=0, high=1, low_open=True, high_open=True, none_ok=True),
         families=("power",)),
    Term("p2", "The treated arm's proportion.", Number(low=0, high=1, low_open=True, high_open=True, none_ok=True),
         families=("power",)),
    Term("hr", "The hazard ratio.", Number(low=0, low_open=True, none_ok=True), families=("power",)),
    Term("events", "The number of events needed or expected.", Number(low=0, low_open=True, none_ok=True),
         families=("power",)),
    Term("icc", "The intra-cluster correlation.", Number(low=0, high=1, high_open=True, none_ok=True), "0",
         families=("power",)),
    Term("icc2", "The intra-class correlation at level 2 (PowerUp!'s rho2).",
         Number(low=0, high=1, high_open=True, none_ok=True), families=("power",)),
    Term("icc3", "The intra-class correlation at level 3 (PowerUp!'s rho3).",
         Number(low=0, high=1, high_open=True, none_ok=True), families=("power",)),
    Term("autocorrelation", "The serial correlation of a unit's outcome between periods.",
         Number(low=-1, high=1, low_open=True, high_open=True, none_ok=True), "0",
         "Named for what it is; rho is PowerUp!'s name for an intra-class correlation.", ("power",)),
    Term("r2", "Share of the outcome's variance explained by covariates.",
         Number(low=0, high=1, high_open=True, none_ok=True), "0", families=("power",)),
    Term("r", "The correlation to detect.", Number(low=-1, high=1, low_open=True, high_open=True, none_ok=True),
         families=("power",)),
    Term("n_blocks", "Blocks (sites) within which individuals or clusters are randomised, in total.",
         Number(low=0, low_open=True, none_ok=True), "solved for when left out", families=("power",)),
    Term("block_size", "Individuals per block, both arms together.", Number(low=0, low_open=True, none_ok=True),
         families=("power",)),
    Term("clusters_per_site", "Clusters (level-2 units) in each site or block (PowerUp!'s J at level 3).",
         Number(low=0, low_open=True, none_ok=True), families=("power",)),
    Term("n_covariates", "Number of covariates in the analysis (at the top level in multilevel designs).",
         Number(low=0, none_ok=True), "0", families=("power",)),
    Term("r21", "Share of the level-1 (individual) variance explained by covariates.",
         Number(low=0, high=1, high_open=True, none_ok=True), "0", families=("power",)),
    Term("r22", "Share of the level-2 (cluster) variance explained by covariates.",
         Number(low=0, high=1, high_open=True, none_ok=True), "0", families=("power",)),
    Term("r23", "Share of the level-3 (site) variance explained by covariates.",
         Number(low=0, high=1, high_open=True, none_ok=True), "0", families=("power",)),
    Term("r2t2", "Share of the variance of the effect across level-2 blocks explained by covariates.",
         Number(low=0, high=1, high_open=True, none_ok=True), "0", families=("power",)),
    Term("r2t3", "Share of the variance of the effect across level-3 blocks explained by covariates.",
         Number(low=0, high=1, high_open=True, none_ok=True), "0", families=("power",)),
    Term("omega2", "Variance of the effect across level-2 blocks, over the level-2 outcome variance.",
         Number(low=0, none_ok=True), "0", families=("power",)),
    Term("omega3", "Variance of the effect across level-3 blocks, over the level-3 outcome variance.",
         Number(low=0, none_ok=True), "0", families=("power",)),
    Term("block_effects", "Blocks' effects in a blocked multilevel design: 'random', 'fixed' or 'constant'.",
         Choice(("random", "fixed", "constant")), "'random'", families=("power",)),
    Term("cv", "Coefficient of variation of the cluster sizes.", Number(low=0, none_ok=True), "0",
         families=("power",)),
    Term("p0", "Baseline share of a binary outcome (gives its SD, sqrt(p0 (1 - p0))).",
         Number(low=0, high=1, low_open=True, high_open=True, none_ok=True), "None", families=("power",)),
    Term("p10", "Share of pairs whose treated member alone has the outcome (discordant, 1-0).",
         Number(low=0, high=1, low_open=True, high_open=True, none_ok=True), families=("power",)),
    Term("p01", "Share of pairs whose control member alone has the outcome (discordant, 0-1).",
         Number(low=0, high=1, low_open=True, high_open=True, none_ok=True), families=("power",)),
    Term("periods_before", "Periods observed before the programme starts.", Number(low=1, none_ok=True), "1",
         "Named apart from post, the after-period indicator column of the DiD estimators.", ("power",)),
    Term("periods_after", "Periods observed after the programme starts.", Number(low=1, none_ok=True), "1",
         families=("power",)),
    Term("hazard", "The control arm's hazard (events per unit of time), exponential survival.",
         Number(low=0, low_open=True, none_ok=True), "None: from median", families=("power",)),
    Term("median", "The control arm's median survival time (instead of hazard).",
         Number(low=0, low_open=True, none_ok=True), "None", families=("power",)),
    Term("follow_up", "Follow-up after accrual ends (time units of hazard).", Number(low=0, none_ok=True),
         families=("power",)),
    Term("accrual", "Length of the (uniform) accrual period.", Number(low=0, none_ok=True), "0",
         families=("power",)),
    Term("dropout", "Hazard of loss to follow-up.", Number(low=0, none_ok=True), "0", families=("power",)),
    Term("competing", "Hazard of a competing exit that ends follow-up.", Number(low=0, none_ok=True), "0",
         families=("power",)),
    Term("strata_weights", "Shares of the sample in each stratum.", Numbers(Number(low=0), none_ok=True),
         "None: one stratum", families=("power",)),
    Term("strata_hazards", "The control arm's hazard in each stratum.", Numbers(Number(low=0, low_open=True),
         none_ok=True), "None: one stratum", families=("power",)),
    Term("generate", "A function rng -> DataFrame or effekt.Synthetic drawing one simulated data set.",
         Anything(), "required", families=("simulation",)),
    Term("n_jobs", "Parallel workers (joblib).", Number(low=1, integer=True), "1", families=("simulation",)),
    Term("progress", "Show a progress bar.", Flag(none_ok=True), "None: when run from a terminal outside CI",
         families=("simulation",)),
)

# power inputs may be grids: each quantity is a number or an array of numbers
_POWER_TERMS = tuple(
    Term(t.name, t.meaning, Numbers(replace(t.constraint, none_ok=False), none_ok=True), t.default, t.why, t.families)
    if isinstance(t.constraint, Number) else t
    for t in _POWER_TERMS
)

_BUILTIN_CODES: tuple[Code, ...] = tuple(
    Code("estimand", code, label)
    for code, label in (
        ("ate", "average treatment effect"),
        ("att", "average treatment effect on the treated"),
        ("cace", "complier average causal effect"),
        ("itt", "intention-to-treat effect"),
        ("risk_difference", "risk difference"),
        ("risk_ratio", "risk ratio"),
        ("odds_ratio", "odds ratio"),
        ("paired_risk_difference", "paired risk difference"),
        ("cramers_v", "Cramér's V"),
        ("hazard_ratio", "hazard ratio"),
        ("cause_specific_hazard_ratio", "cause-specific hazard ratio"),
        ("subdistribution_hazard_ratio", "subdistribution hazard ratio"),
        ("survival_difference", "difference in survival probability"),
        ("cumulative_incidence_difference", "difference in cumulative incidence"),
        ("rmst_difference", "difference in restricted mean survival time"),
        ("acme", "average causal mediation effect"),
        ("ade", "average direct effect"),
        ("indirect_effect", "indirect effect"),
        ("direct_effect", "direct effect"),
        ("total_effect", "total effect"),
        ("a_path", "effect of treatment on the mediator"),
        ("b_path", "effect of the mediator on the outcome"),
        ("proportion_mediated", "proportion mediated"),
        ("att_by_event_time", "ATT by event time"),
        ("att_by_unit", "ATT by unit"),
        ("att_gt", "ATT by cohort and period"),
        ("acrt", "average causal response on the treated"),
        ("percent_change", "percent change"),
        ("subgroup_effect", "effect in a subgroup"),
        ("effect_difference", "difference between subgroup effects"),
        ("coefficient", "regression coefficient"),
    )
) + tuple(
    Code("design", code, label)
    for code, label in (
        ("simple", "simple (completely randomised)"),
        ("blocked", "blocked"),
        ("paired", "matched pairs"),
        ("clustered", "clustered"),
        ("block_clustered", "blocked and clustered"),
        ("matched_pair_clustered", "matched cluster pairs"),
        ("batch_lottery", "sequential batch lottery"),
        ("panel", "panel"),
        ("repeated_cross_section", "repeated cross-sections"),
        ("before_after", "before and after"),
        ("pooled", "pooled comparison"),
        ("summary_2x2", "2x2 from group means"),
        ("unit_dose", "unit-level dose"),
        ("stratified", "stratified"),
        ("observational", "observational"),
    )
)


# -- registry of terms ----------------------------------------------------------
@dataclass
class _Book:
    terms: dict[str, Term] | None = None
    codes: dict[tuple[str, str], Code] | None = None
    errors: list[str] = field(default_factory=list)
    core: dict[str, Term] = field(default_factory=dict)


_BOOK = _Book(core={t.name: t for t in _CORE_TERMS + _POWER_TERMS})


def _core_term(name: str) -> Term | None:
    """A core term without reading the plugins' vocabularies (which imports the plugins)."""
    return _BOOK.core.get(name)


def _load() -> _Book:
    if _BOOK.terms is not None:
        return _BOOK
    found: dict[str, Term] = dict(_BOOK.core)
    codes: dict[tuple[str, str], Code] = {(c.field, c.code): c for c in _BUILTIN_CODES}
    errors: list[str] = []
    from importlib import metadata

    for ep in metadata.entry_points(group=VOCABULARY_GROUP):
        dist = getattr(ep, "dist", None)
        source = dist.metadata["Name"] if dist is not None else ep.value
        try:
            items = list(ep.load())
        except Exception as exc:  # a broken plugin must not break the core
            errors.append(f"{source}: {type(exc).__name__}: {exc}")
            continue
        for item in items:
            if isinstance(item, Code):
                codes.setdefault((item.field, item.code), item)
                continue
            if not isinstance(item, Term):
                errors.append(f"{source}: {item!r} is not an effekt.vocabulary.Term")
                continue
            have = found.get(item.name)
            if have is not None and have.meaning != item.meaning:
                errors.append(
                    f"{source} redefines {item.name!r} ({item.meaning!r}); it already means {have.meaning!r} "
                    f"({have.source}). Use the existing term, or another name."
                )
                continue
            found.setdefault(item.name, item)
    _BOOK.terms, _BOOK.codes, _BOOK.errors = found, codes, errors
    return _BOOK


def refresh() -> None:
    """Forget the loaded vocabulary, so newly installed plugins' terms are read."""
    _BOOK.terms = _BOOK.codes = None
    _BOOK.errors = []


def terms() -> dict[str, Term]:
    """Every term, the core's and the installed plugins', by name."""
    book = _load()
    assert book.terms is not None
    return dict(book.terms)


def term(name: str) -> Term:
    """The term called ``name``; :class:`DesignError` with the nearest names otherwise.

    >>> term("alpha").default
    '0.05'
    """
    core = _core_term(name)
    if core is not None:
        return core
    book = _load()
    assert book.terms is not None
    if name not in book.terms:
        close = difflib.get_close_matches(name, list(book.terms), n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise DesignError(f"{name!r} is not in effekt's vocabulary.{hint}")
    return book.terms[name]


def problems() -> list[str]:
    """Plugins whose vocabulary could not be read, or that redefine a term."""
    return list(_load().errors)


def codes(field_: str) -> dict[str, str]:
    """The fixed vocabulary of a result field: code -> display label.

    >>> codes("design")["blocked"]
    'blocked'
    """
    book = _load()
    assert book.codes is not None
    return {c.code: c.label for (f, c_), c in book.codes.items() if f == field_}


def display(field_: str, code: str | None) -> str:
    """The display label of a code (the code itself when unknown)."""
    if code is None:
        return "-"
    return codes(field_).get(code, code)


# -- validation -------------------------------------------------------------------
def _owner_name(owner: Any) -> str:
    return str(getattr(owner, "name", None) or getattr(owner, "__name__", None) or type(owner).__name__)


def signature_options(fn: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    """The keyword options of ``fn`` (``self`` and ``data`` left out)."""
    params = inspect.signature(fn).parameters
    return {
        k: p for k, p in params.items()
        if k not in ("self", "data", "cls")
        and p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    }


@functools.lru_cache(maxsize=512)
def _signature(fn: Callable[..., Any]) -> tuple[Any, dict[str, inspect.Parameter]]:
    """``fn``'s parameters and keyword options, read once per function."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return None, {}
    return params, signature_options(fn)


def constraint_for(owner: Any, option: str) -> Constraint | None:
    """The constraint on ``option`` for ``owner``: its own narrowing, else the vocabulary's."""
    own = getattr(owner, "options", None)
    if isinstance(own, Mapping) and option in own:
        return own[option]  # type: ignore[no-any-return]
    core = _core_term(option)
    if core is not None:
        return core.constraint
    book = _load()
    assert book.terms is not None
    t = book.terms.get(option)
    return t.constraint if t is not None else None


def retired_hint(key: str, valid: Iterable[str]) -> str:
    """" Did you mean ...?" for an unknown option: a retired name's successor, else the nearest names."""
    valid = list(valid)
    if key in RETIRED and RETIRED[key].split(" ", 1)[0] in valid:
        return f" {key}= is now {RETIRED[key]}."
    close = difflib.get_close_matches(key, valid, n=2, cutoff=0.6)
    return f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def validate_options(
    owner: Any, spec: Mapping[str, Any], fn: Callable[..., Any] | None = None, *, values: bool = True
) -> dict[str, Any]:
    """Check the options passed to ``owner`` before any work is done.

    Unknown names (unless ``fn`` takes ``**spec``), missing required options
    and values that break their constraint raise
    :class:`~effekt.errors.DesignError` naming the option. Returns the
    options with documented aliases mapped to canonical values.
    ``values=False`` checks only the names (unknown and missing options).

    >>> from effekt.estimators.difference_in_means import DifferenceInMeans
    >>> validate_options(DifferenceInMeans, {"outcome": "y", "alpha": "0.05"})
    Traceback (most recent call last):
    ...
    effekt.errors.DesignError: difference_in_means: alpha='0.05' is not valid; alpha must be a number in (0, 1). Text is not converted; pass a number.
    """
    name = _owner_name(owner)
    fn = fn if fn is not None else getattr(owner, "fit", None)
    out = dict(spec)
    if fn is not None:
        params, options = _signature(inspect.unwrap(fn))
        if params is not None:
            if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
                unknown = [k for k in spec if k not in options]
                if unknown:
                    key = unknown[0]
                    hint = retired_hint(key, options)
                    raise DesignError(f"{name} takes no option {key!r}.{hint} Its options are: {', '.join(options)}.")
            missing = [
                k for k, p in options.items()
                if p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is inspect.Parameter.empty and k not in spec
            ]
            if missing:
                raise DesignError(
                    f"{name} needs {', '.join(f'{k}=' for k in missing)} (the column"
                    f"{'s' if len(missing) > 1 else ''} or value{'s' if len(missing) > 1 else ''} it analyses)."
                )
    for key, value in spec.items() if values else ():
        c = constraint_for(owner, key)
        if c is not None:
            out[key] = c.check(value, key, name)
    return out


def validated(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate ``fit``/``solve`` so its options are checked before any work.

    The estimator class may narrow the vocabulary's constraints with a class
    attribute ``options = {name: Constraint}``.
    """

    @functools.wraps(fn)
    def wrapper(self: Any, *args: Any, **spec: Any) -> Any:
        spec = validate_options(type(self), spec, fn)
        return fn(self, *args, **spec)

    wrapper.__effekt_validated__ = True  # type: ignore[attr-defined]
    return wrapper


# -- the generated page ---------------------------------------------------------------
def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown() -> str:
    """The vocabulary as a Markdown page (``docs/vocabulary.md``)."""
    book = _load()
    assert book.terms is not None and book.codes is not None
    lines = [
        "# Vocabulary",
        "",
        "<!-- generated by `python -m effekt.vocabulary`; do not edit by hand -->",
        "",
        "Every option name effekt and its installed plugins use, with its meaning, the values it",
        "accepts, its default and why. The same concept has one name everywhere, and one name means",
        "one thing; `effekt.testing.check_estimator` fails an estimator whose options are not here.",
        "A plugin adds names through the `effekt.vocabulary` entry-point group (see the plugin guide).",
        "",
    ]
    groups = [
        # a term shared by estimators and calculators (alpha, alternative, ...) is listed in both
        ("Options of estimators", [t for t in book.terms.values() if set(t.families) - {"power"} or not t.families]),
        ("Options of power calculators", [t for t in book.terms.values() if "power" in t.families]),
    ]
    for title, items in groups:
        lines += [f"## {title}", "", "| name | meaning | accepts | default | why | used by | from |",
                  "|---|---|---|---|---|---|---|"]
        for t in sorted(items, key=lambda t: t.name):
            accepts = t.constraint.describe() + (" or None" if t.constraint.none_ok else "")
            lines.append(
                f"| `{t.name}` | {_cell(t.meaning)} | {_cell(accepts)} | {_cell(t.default)} | {_cell(t.why)} "
                f"| {_cell(', '.join(t.families))} | {t.source} |"
            )
        lines.append("")
    lines += ["## PowerUp! aliases", "", "| alias | canonical name | note |", "|---|---|---|"]
    lines += [f"| `{a}` | `{c}` | {_cell(POWER_ALIAS_NOTES.get(a, ''))} |" for a, c in POWER_ALIASES.items()]
    lines.append("")
    for field_, title in (("estimand", "Estimands"), ("design", "Designs")):
        lines += [f"## {title}", "", f"The values of a result's `{field_}` field, and how they are displayed.", "",
                  "| code | label | from |", "|---|---|---|"]
        for (f, code), c in sorted(book.codes.items()):
            if f == field_:
                lines.append(f"| `{code}` | {_cell(c.label)} | {c.source} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover - exercised through the docs test
    # run as a script this file is a second module, __main__; the plugins' terms are instances of
    # effekt.vocabulary's classes, so the page is written by that module
    from effekt import vocabulary as _vocabulary

    print(_vocabulary.markdown(), end="")
