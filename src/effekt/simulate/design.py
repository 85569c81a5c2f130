"""A declared research design: population, potential outcomes, assignment, estimands, estimators.

After DeclareDesign (Blair, Cooper, Coppock & Humphreys 2019): a design is
a model of the world (the population and its potential outcomes), an
inquiry (the estimands, computed from the potential outcomes), a data
strategy (the random assignment, through :mod:`effekt.design`) and an
answer strategy (registered estimators, each linked to the estimand it
targets). :func:`effekt.simulate.diagnosis` draws the design many times.

One draw is a DataFrame with these columns:

* cross-section (``kind="continuous"``, ``"binary"`` or ``"count"``): ``unit``, ``y0``,
  ``y1`` (potential outcomes), ``z`` (0/1 arm), ``y`` (observed outcome),
  ``block`` and ``cluster`` when the population has them, and one column per
  covariate;
* with one-sided non-compliance (``outcomes.compliance < 1``), also
  ``complier`` (1 for a unit that takes the programme when offered) and
  ``received`` (``z * complier``); ``y`` is then ``y1`` where received;
* time to event (``kind="survival"``): as the cross-section, with ``y0``
  and ``y1`` the potential weeks to the exit, and the observed ``time``
  (weeks, censored at the follow-up ``periods`` and by random censoring) and
  ``event`` (1 exit, 0 censored; with competing exits the cause, 1, 2, ...,
  and the potential causes ``cause0``, ``cause1``); ``y`` equals ``time``;
  with an administrative cut-off also ``follow_up`` (``cutoff - arrival``);
* with staggered entry (``population.entry``) ``arrival`` (week), and with
  arrival in batches ``batch`` and ``arrival``; a batch lottery whose places
  are taken leaves later units out of the draw;
* with attrition, ``observed`` (0 where ``y`` is missing);
* weekly panel (``kind="panel"``, staggered adoption): one row per unit
  and week with ``unit``, ``period`` (1..periods), ``first_treated`` (the
  cohort's first treated week, 0 for never treated), ``treated`` (1 for
  a unit of a cohort), ``d`` (1 from the unit's first treated week on) and
  ``post`` (the same, for ``twfe``'s ``treatment="treated", post="post"``),
  ``y0``, ``y1`` and ``y``.

Write estimator options with these names, e.g. ``outcome="y",
treatment="z", blocks="block"``.

References: Blair, G., Cooper, J., Coppock, A. & Humphreys, M. (2019).
Declaring and diagnosing research designs. American Political Science
Review 113(3), 838-859. doi:10.1017/S0003055419000194.

>>> from effekt.simulate import Design, Population, Outcomes, Assign, Estimand, Estimator
>>> d = Design(
...     population=Population(n=40, blocks=4),
...     outcomes=Outcomes(effect=0.5),
...     assignment=Assign(kind="block"),
...     estimands=(Estimand("ate"),),
...     estimators=(Estimator("dim", "difference_in_means", "ate",
...                           {"outcome": "y", "treatment": "z", "blocks": "block"}),),
... )
>>> import numpy as np
>>> frame = d.draw(np.random.default_rng(1))
>>> frame.shape, int(frame["z"].sum())
((40, 6), 20)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from effekt.errors import DesignError

__all__ = ["Assign", "Design", "Estimand", "Estimator", "Outcomes", "Population", "GRID_KEYS"]

OUTCOME_KINDS = ("continuous", "binary", "count", "survival", "panel")
ASSIGNMENT_KINDS = ("complete", "block", "cluster", "block_cluster", "batch")
ESTIMAND_KINDS = ("ate", "att", "itt", "cace", "rmst_difference", "hazard_ratio", "cause_specific_hazard_ratio",
                  "cumulative_incidence_difference", "att_event_time")


def _number(value: Any, name: str, *, low: float | None = None, high: float | None = None, whole: bool = False) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise DesignError(f"{name} must be a number; got {value!r}.")
    if whole and float(value) != int(value):
        raise DesignError(f"{name} must be a whole number; got {value!r}.")
    if not math.isfinite(float(value)):
        raise DesignError(f"{name} must be finite; got {value!r}.")
    if low is not None and value < low:
        raise DesignError(f"{name} must be at least {low}; got {value!r}.")
    if high is not None and value > high:
        raise DesignError(f"{name} must be at most {high}; got {value!r}.")
    return int(value) if whole else float(value)


def _choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise DesignError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}.")
    return str(value)


@dataclass(frozen=True)
class Population:
    """The units: how many, their blocks and clusters, and their covariates.

    Parameters
    ----------
    n : int, default=200
        Number of units (in a panel: units, each observed every week).
    blocks : int, optional
        Number of blocks of (nearly) equal size; units are dealt to blocks in turn.
    clusters : int, optional
        Number of clusters of (nearly) equal size, nested in blocks when both are given.
    icc : float, default=0.0
        Intra-cluster correlation of the untreated outcome (continuous: share of
        its variance between clusters; binary: on the latent normal scale).
    block_sd : float, default=0.0
        Standard deviation of the block effects on the outcome.
    covariates : mapping of str to float, default={}
        Standard-normal covariates by name, each with its coefficient in the outcome.
    batches : int, optional
        Units arrive in this many batches of (nearly) equal size (column ``batch``,
        1, 2, ...), batch ``b`` in week ``(b - 1) * batch_weeks`` (column ``arrival``);
        ``assignment.kind="batch"`` draws each batch with :class:`effekt.design.BatchLottery`.
    batch_weeks : int, default=2
        Weeks between batches (fortnightly referral lists by default).
    entry : int, default=0
        Staggered entry without batches: with ``entry > 0`` each unit arrives in a
        week drawn uniformly from ``0 .. entry - 1`` (column ``arrival``).
    """

    n: int = 200
    blocks: int | None = None
    clusters: int | None = None
    icc: float = 0.0
    block_sd: float = 0.0
    covariates: Mapping[str, float] = field(default_factory=dict)
    batches: int | None = None
    batch_weeks: int = 2
    entry: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "n", _number(self.n, "population.n", low=2, whole=True))
        if self.batches is not None:
            object.__setattr__(self, "batches", _number(self.batches, "population.batches", low=1, high=self.n, whole=True))
        object.__setattr__(self, "batch_weeks", _number(self.batch_weeks, "population.batch_weeks", low=0, whole=True))
        object.__setattr__(self, "entry", _number(self.entry, "population.entry", low=0, whole=True))
        if self.batches is not None and self.entry:
            raise DesignError("population.entry (staggered entry week by week) and population.batches (arrival in "
                              "batches) are two ways of arriving: give one.")
        for name in ("blocks", "clusters"):
            value = getattr(self, name)
            if value is not None:
                value = _number(value, f"population.{name}", low=1, high=self.n, whole=True)
                object.__setattr__(self, name, value)
        object.__setattr__(self, "icc", _number(self.icc, "population.icc", low=0.0, high=0.99))
        object.__setattr__(self, "block_sd", _number(self.block_sd, "population.block_sd", low=0.0))
        if not isinstance(self.covariates, Mapping):
            raise DesignError(f"population.covariates must map names to coefficients; got {self.covariates!r}.")
        covs = {}
        for key, coef in self.covariates.items():
            if not isinstance(key, str) or not key.isidentifier() or key in _RESERVED:
                raise DesignError(f"population.covariates: {key!r} is not a usable column name (reserved: {sorted(_RESERVED)}).")
            covs[key] = _number(coef, f"population.covariates.{key}")
        object.__setattr__(self, "covariates", _FrozenMap(covs))
        if self.icc > 0 and self.clusters is None:
            raise DesignError("population.icc > 0 needs population.clusters (the number of clusters).")

    def last_arrival(self) -> int:
        """The week the last unit can arrive (0 without staggered entry)."""
        if self.batches is not None:
            return (int(self.batches) - 1) * int(self.batch_weeks)
        return max(0, int(self.entry) - 1)


class _FrozenMap(dict):  # type: ignore[type-arg]
    """A hashable, read-only dict (a frozen dataclass field)."""

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(sorted(self.items())))

    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("a design is frozen: use dataclasses.replace or Design.replace")

    __setitem__ = __delitem__ = update = pop = popitem = clear = setdefault = _refuse  # type: ignore[assignment]

    def __reduce__(self) -> Any:
        return (_FrozenMap, (dict(self),))


_RESERVED = {"unit", "y", "y0", "y1", "z", "time", "event", "complier", "received", "block", "cluster", "period",
             "first_treated", "treated", "d", "post", "arrival", "batch", "follow_up", "cause0", "cause1", "observed"}


@dataclass(frozen=True)
class Outcomes:
    """The potential outcomes ``y0`` (untreated) and ``y1`` (treated).

    * ``continuous``: ``y0 = baseline + block + cluster + sum(coef * x) + e``,
      ``var(cluster + e) = sd**2`` (the cluster part ``icc * sd**2``);
      ``y1 = y0 + effect + effect_sd * u`` with ``u`` standard normal.
    * ``binary``: ``y0 = 1[v < p0]`` with ``p0 = Phi(Phi^-1(baseline) + latent)``
      (``baseline`` is the control risk, here a probability) and
      ``y1 = 1[v < p0 + effect]`` with the same uniform ``v``: ``effect`` is the
      risk difference, the effect is monotone.
    * ``count``: ``y0 ~ Poisson(baseline * exp(latent))`` (``baseline`` is the
      mean count of the untreated, default 2.0; the latent part from blocks,
      clusters and covariates as above, on the log scale, the cluster part
      normal with variance ``icc * sd**2``) and ``y1`` the Poisson count with
      the mean multiplied by ``exp(effect)`` (``effect`` is the log rate
      ratio), drawn through the Poisson inverse CDF with the same uniform as
      ``y0`` (common random numbers: ``y1 >= y0`` when ``effect >= 0``). The
      ``ate`` estimand is ``mean(y1 - y0)``, the difference in mean counts
      (what ``difference_in_means`` and ``lm_robust`` estimate).
    * ``survival``: weekly time to an exit. The untreated weekly hazard is
      ``baseline * exp(latent)`` (``baseline`` default 0.05; the latent part from
      blocks, clusters and covariates as above), treatment multiplies it by
      ``exp(effect)`` (``effect`` is the log hazard ratio), ``y0`` and ``y1`` share
      one uniform draw and are rounded up to whole weeks; follow-up ends after
      ``periods`` weeks and ``censoring`` is a weekly hazard of dropping out.
      Competing exits: ``exits`` lists the untreated weekly hazards of causes
      2, 3, ... (cause 1 has ``baseline``) and ``exit_effects`` their log hazard
      ratios; each cause has its own latent exponential time (shared by the two
      arms), the first exit is observed, and ``event`` holds its cause (1, 2, ...,
      0 censored; potential causes ``cause0`` and ``cause1``). With
      ``cutoff`` (an administrative cut-off, in calendar weeks) each unit is
      followed for ``cutoff - arrival`` weeks instead (column ``follow_up``;
      staggered entry from ``population.entry`` or ``population.batches``).
    * ``panel``: a weekly panel with staggered adoption. Units fall into the
      cohorts of ``cohorts`` (first treated week) in the shares ``cohort_shares``
      (the rest never treated); ``y0 = unit effect + 0.1 * week + ar1 noise``
      (``rho`` serial correlation, ``sd`` innovations); in week ``t >= g`` a unit
      of cohort ``g`` gains ``effect_g + growth * (t - g)``: effects that grow over
      time, the case where two-way fixed effects are biased (Goodman-Bacon 2021).
      ``effect_g`` is the cohort's entry of ``cohort_effects`` (default: ``effect``
      for every cohort), effects that vary by cohort; the ``att`` and
      ``att_event_time`` estimands reflect them. The never treated's ``y1``
      (used by the ``ate`` estimand) follows the first cohort's effect path.

    Parameters
    ----------
    kind : {"continuous", "binary", "count", "survival", "panel"}, default="continuous"
    effect : float, default=0.0
        The average effect (risk difference for a binary outcome, log rate ratio
        for a count, log hazard ratio for time to event).
    baseline : float, default=0.0
        Mean untreated outcome; the control risk for a binary outcome (default 0.3
        then), the mean count of the untreated for a count (default 2.0), the
        weekly hazard for time to event (default 0.05).
    sd : float, default=1.0
        Standard deviation of the untreated outcome's noise.
    effect_sd : float, default=0.0
        Spread of unit-level effects (continuous).
    periods : int, default=10
        Weeks in a panel.
    cohorts : list of int, default=[4, 7]
        First treated weeks of the panel's cohorts.
    cohort_shares : list of float, default=[0.3, 0.3]
        Share of units in each cohort; the rest are never treated.
    cohort_effects : list of float, optional
        The effect at adoption of each cohort of ``cohorts``, one per cohort
        (panel; default: ``effect`` for every cohort).
    growth : float, default=0.0
        Weekly growth of the effect after adoption (panel).
    rho : float, default=0.0
        AR(1) serial correlation of the panel's noise.
    censoring : float, default=0.0
        Weekly hazard of random censoring (survival).
    compliance : float, default=1.0
        Share of compliers (one-sided non-compliance: no one assigned to control
        takes the programme; continuous, binary and count outcomes).
    exits : list of float, default=[]
        Untreated weekly hazards of the competing exits 2, 3, ... (survival).
    exit_effects : list of float, default=[0.0, ...]
        Their log hazard ratios (treated vs control), one per exit.
    cutoff : int, optional
        Administrative cut-off week (survival): follow-up is ``cutoff - arrival``.
    attrition : float, default=0.0
        Share of observed outcomes missing (continuous, binary and count; at random, column
        ``observed``): ``y`` is then missing, and estimators that take ``missing=``
        run with ``missing="drop"`` unless their options say otherwise.
    attrition_treated : float, optional
        Attrition in the treated arm when it differs (default ``attrition``).
    """

    kind: str = "continuous"
    effect: float = 0.0
    baseline: float | None = None
    sd: float = 1.0
    effect_sd: float = 0.0
    periods: int = 10
    cohorts: tuple[int, ...] = (4, 7)
    cohort_shares: tuple[float, ...] = (0.3, 0.3)
    cohort_effects: tuple[float, ...] | None = None
    growth: float = 0.0
    rho: float = 0.0
    censoring: float = 0.0
    compliance: float = 1.0
    exits: tuple[float, ...] = ()
    exit_effects: tuple[float, ...] | None = None
    cutoff: int | None = None
    attrition: float = 0.0
    attrition_treated: float | None = None

    def __post_init__(self) -> None:
        exits = tuple(_number(h, "outcomes.exits", low=0.0) for h in self.exits)
        if any(h <= 0 for h in exits):
            raise DesignError(f"outcomes.exits are weekly hazards of the competing exits, each > 0; got {list(exits)}.")
        effects = tuple(_number(e, "outcomes.exit_effects") for e in (self.exit_effects if self.exit_effects is not None else (0.0,) * len(exits)))
        if len(effects) != len(exits):
            raise DesignError(f"outcomes.exit_effects needs one log hazard ratio per competing exit ({len(exits)}); got {list(effects)}.")
        object.__setattr__(self, "exits", exits)
        object.__setattr__(self, "exit_effects", effects)
        if self.cutoff is not None:
            object.__setattr__(self, "cutoff", _number(self.cutoff, "outcomes.cutoff", low=1, whole=True))
        object.__setattr__(self, "attrition", _number(self.attrition, "outcomes.attrition", low=0.0, high=0.95))
        if self.attrition_treated is not None:
            object.__setattr__(self, "attrition_treated", _number(self.attrition_treated, "outcomes.attrition_treated", low=0.0, high=0.95))
        if self.kind not in ("continuous", "binary", "count") and (self.attrition or self.attrition_treated):
            raise DesignError(f"outcomes.attrition applies to continuous, binary and count outcomes; a {self.kind} "
                              "outcome loses units through censoring (outcomes.censoring, outcomes.cutoff).")
        if self.kind != "survival" and (exits or self.cutoff is not None):
            raise DesignError("outcomes.exits and outcomes.cutoff apply to a survival outcome (outcomes.kind='survival').")
        object.__setattr__(self, "compliance", _number(self.compliance, "outcomes.compliance", low=0.0, high=1.0))
        if self.compliance <= 0:
            raise DesignError("outcomes.compliance is the share of compliers, in (0, 1]; got 0.")
        object.__setattr__(self, "kind", _choice(self.kind, "outcomes.kind", OUTCOME_KINDS))
        object.__setattr__(self, "censoring", _number(self.censoring, "outcomes.censoring", low=0.0))
        object.__setattr__(self, "effect", _number(self.effect, "outcomes.effect"))
        baseline = (self.baseline if self.baseline is not None
                    else {"binary": 0.3, "survival": 0.05, "count": 2.0}.get(self.kind, 0.0))
        if self.kind == "count" and not _number(baseline, "outcomes.baseline") > 0:
            raise DesignError(f"outcomes.baseline is the mean count of the untreated, > 0; got {baseline!r}.")
        if self.kind == "survival" and not baseline > 0:
            raise DesignError(f"outcomes.baseline is the weekly hazard of a survival outcome, > 0; got {baseline!r}.")
        if self.kind == "binary":
            baseline = _number(baseline, "outcomes.baseline", low=0.0, high=1.0)
            if not 0.0 < baseline < 1.0:
                raise DesignError(f"outcomes.baseline is the control risk of a binary outcome, in (0, 1); got {baseline!r}.")
            if not 0.0 <= baseline + self.effect <= 1.0:
                raise DesignError(
                    f"outcomes.effect={self.effect!r} is a risk difference: baseline + effect must lie in [0, 1]."
                )
        object.__setattr__(self, "baseline", _number(baseline, "outcomes.baseline"))
        object.__setattr__(self, "sd", _number(self.sd, "outcomes.sd", low=0.0))
        object.__setattr__(self, "effect_sd", _number(self.effect_sd, "outcomes.effect_sd", low=0.0))
        object.__setattr__(self, "periods", _number(self.periods, "outcomes.periods", low=2, whole=True))
        object.__setattr__(self, "growth", _number(self.growth, "outcomes.growth"))
        object.__setattr__(self, "rho", _number(self.rho, "outcomes.rho", low=-0.99, high=0.99))
        cohorts = tuple(_number(c, "outcomes.cohorts", low=2, high=self.periods, whole=True) for c in self.cohorts)
        shares = tuple(_number(s, "outcomes.cohort_shares", low=0.0, high=1.0) for s in self.cohort_shares)
        if len(cohorts) != len(shares) or not cohorts:
            raise DesignError("outcomes.cohorts and outcomes.cohort_shares need one share per cohort.")
        if len(set(cohorts)) != len(cohorts):
            raise DesignError(f"outcomes.cohorts repeats a week: {list(cohorts)}.")
        if sum(shares) > 1.0 + 1e-12:
            raise DesignError(f"outcomes.cohort_shares add up to more than 1: {list(shares)}.")
        object.__setattr__(self, "cohorts", cohorts)
        object.__setattr__(self, "cohort_shares", shares)
        if self.cohort_effects is not None:
            if self.kind != "panel":
                raise DesignError("outcomes.cohort_effects applies to a panel (outcomes.kind='panel').")
            if isinstance(self.cohort_effects, (str, bytes)) or not hasattr(self.cohort_effects, "__iter__"):
                raise DesignError(f"outcomes.cohort_effects must be a list of numbers; got {self.cohort_effects!r}.")
            cohort_effects = tuple(_number(e, "outcomes.cohort_effects") for e in self.cohort_effects)
            if len(cohort_effects) != len(cohorts):
                raise DesignError(f"outcomes.cohort_effects needs one effect per cohort of outcomes.cohorts "
                                  f"({list(cohorts)}); got {list(cohort_effects)}.")
            object.__setattr__(self, "cohort_effects", cohort_effects)

    def effects_by_cohort(self) -> dict[int, float]:
        """The effect at adoption of each cohort (first treated week -> effect)."""
        effects = self.cohort_effects if self.cohort_effects is not None else (self.effect,) * len(self.cohorts)
        return dict(zip(self.cohorts, effects, strict=True))


@dataclass(frozen=True)
class Assign:
    """The random assignment, drawn with :mod:`effekt.design`.

    Parameters
    ----------
    kind : {"complete", "block", "cluster", "block_cluster", "batch"}, default="complete"
        ``design.complete``, ``design.block`` (within the population's blocks),
        ``design.cluster`` (whole clusters), ``design.block_cluster`` or
        ``design.BatchLottery`` (within the population's batches).
        A panel's cohorts are drawn by complete assignment of cohort labels
        with the cohort shares, whatever ``kind``.
    prob : float, default=0.5
        Probability of the treated arm (``"batch"``: the ratio nearest to it with
        a denominator up to 20).
    capacity : int, optional
        ``kind="batch"``: places in the treated arm. Batches are drawn in turn with
        :class:`effekt.design.BatchLottery` (an in-memory log, ``on_full="stop"``):
        once the places are taken the lottery admits no one else, and units not
        admitted are not in the trial (not in the draw). The batches are drawn in
        the order they arrive.
    top_up : bool, default=False
        ``kind="batch"`` with a ``capacity``: places freed by units who decline the
        offer (the non-compliers of ``outcomes.compliance < 1``, drawn as they are
        offered a place) are filled by later batches. Each batch's decliners are
        withdrawn from the lottery (:meth:`effekt.design.BatchLottery.withdraw`, reason
        ``"declined"``; they stay in the draw as assigned, ``z = 1``, ``received = 0``)
        and the following batches are drawn as top-up lotteries, so the programme's
        places taken up reach the capacity and never exceed it. Without top-ups a
        declined place stays taken.
    """

    kind: str = "complete"
    prob: float = 0.5
    capacity: int | None = None
    top_up: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", _choice(self.kind, "assignment.kind", ASSIGNMENT_KINDS))
        prob = _number(self.prob, "assignment.prob", low=0.0, high=1.0)
        if not 0.0 < prob < 1.0:
            raise DesignError(f"assignment.prob must lie strictly between 0 and 1; got {prob!r}.")
        object.__setattr__(self, "prob", prob)
        if self.capacity is not None:
            if self.kind != "batch":
                raise DesignError("assignment.capacity caps a batch lottery: it needs assignment.kind='batch'.")
            object.__setattr__(self, "capacity", _number(self.capacity, "assignment.capacity", low=1, whole=True))
        if not isinstance(self.top_up, (bool, np.bool_)):
            raise DesignError(f"assignment.top_up must be true or false; got {self.top_up!r}.")
        object.__setattr__(self, "top_up", bool(self.top_up))
        if self.top_up and (self.kind != "batch" or self.capacity is None):
            raise DesignError("assignment.top_up fills freed places of a batch lottery with a capacity: it needs "
                              "assignment.kind='batch' and assignment.capacity.")

    def ratio(self) -> tuple[int, int]:
        """The batch lottery's ratio (treated, control)."""
        from fractions import Fraction

        f = Fraction(self.prob).limit_denominator(20)
        return f.numerator, f.denominator - f.numerator


@dataclass(frozen=True)
class Estimand:
    """A quantity the design asks about, computed from the potential outcomes of each draw.

    ``ate`` is the mean of ``y1 - y0`` over the units (over every unit-week
    from the first cohort's adoption on, in a panel, treated or not);
    ``att`` the mean over the treated units (the treated unit-weeks of a
    panel: the target of Callaway & Sant'Anna's simple aggregation).
    ``itt`` is the effect of the offer, ``mean(complier * (y1 - y0))``, and
    ``cace`` the mean of ``y1 - y0`` over the compliers (one-sided
    non-compliance; both equal ``ate`` with full compliance).
    All are sample estimands: they vary from draw to draw with the units.
    For a survival outcome, ``rmst_difference`` is
    ``mean(min(y1, h)) - mean(min(y0, h))`` with ``h`` the follow-up weeks
    (``horizon``, default ``outcomes.periods``), the restricted mean weeks to the exit, and
    ``hazard_ratio`` the declared ``exp(outcomes.effect)``: a conditional hazard
    ratio, which a Cox model without the covariates that move the hazard
    estimates towards 1 (the hazard ratio is not collapsible).
    With competing exits, ``cause_specific_hazard_ratio`` is the declared
    ``exp`` of the log hazard ratio of ``cause`` (``cause_specific_cox``'s target;
    cause 1: ``outcomes.effect``, cause k > 1: ``outcomes.exit_effects[k - 2]``), and
    ``cumulative_incidence_difference`` the sample difference in the share who
    left by ``cause`` within ``horizon`` weeks,
    ``mean(y1 <= h and cause1 == k) - mean(y0 <= h and cause0 == k)``
    (``aalen_johansen``'s target).
    In a panel, ``att_event_time`` is the ATT ``event_time`` weeks after
    adoption (the mean of ``y1 - y0`` over the unit-weeks with
    ``period - first_treated == event_time``); without ``event_time`` it is the
    equally weighted average of those ATTs over the event times ``0 .. horizon``
    (default: every post-adoption event time in the panel), the target of
    ``event_study``'s headline row ``"post"``.

    Parameters
    ----------
    name : str
        Label, which estimators name in ``estimand``.
    kind : {"ate", "att", "itt", "cace", "rmst_difference", "hazard_ratio", "cause_specific_hazard_ratio", \
"cumulative_incidence_difference", "att_event_time"}, default=the name when it is one of these, else "ate"
    horizon : float, optional
        Weeks up to which ``rmst_difference`` restricts the mean and at which
        ``cumulative_incidence_difference`` compares (default: the follow-up,
        ``outcomes.periods``); the last event time of ``att_event_time``'s average.
    cause : int, optional
        The exit (1, 2, ...) of ``cause_specific_hazard_ratio`` and
        ``cumulative_incidence_difference`` (default 1).
    event_time : int, optional
        Weeks since adoption of ``att_event_time`` (default: the post-period average).
    """

    name: str
    kind: str | None = None
    horizon: float | None = None
    cause: int | None = None
    event_time: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise DesignError(f"estimand name must be a non-empty string; got {self.name!r}.")
        kind = self.kind if self.kind is not None else (self.name if self.name in ESTIMAND_KINDS else "ate")
        object.__setattr__(self, "kind", _choice(kind, f"estimand {self.name!r} kind", ESTIMAND_KINDS))
        if self.horizon is not None:
            object.__setattr__(self, "horizon", _number(self.horizon, f"estimand {self.name!r} horizon", low=0.0))
        if self.cause is not None:
            object.__setattr__(self, "cause", _number(self.cause, f"estimand {self.name!r} cause", low=1, whole=True))
        if self.event_time is not None:
            object.__setattr__(self, "event_time", _number(self.event_time, f"estimand {self.name!r} event_time", whole=True))

    def value(self, frame: pd.DataFrame, outcomes: Outcomes) -> float:
        survival = ("rmst_difference", "hazard_ratio", "cause_specific_hazard_ratio", "cumulative_incidence_difference")
        if self.kind in survival and outcomes.kind != "survival":
            raise DesignError(f"estimand {self.name!r}: {self.kind} needs outcomes.kind='survival'.")
        if self.kind == "att_event_time" and outcomes.kind != "panel":
            raise DesignError(f"estimand {self.name!r}: att_event_time needs outcomes.kind='panel'.")
        cause = int(self.cause or 1)
        if self.kind in survival[2:] and cause > 1 + len(outcomes.exits):
            raise DesignError(f"estimand {self.name!r}: cause {cause} is not declared; the causes are "
                              f"1..{1 + len(outcomes.exits)} (outcomes.exits adds causes 2, 3, ...).")
        if self.kind == "hazard_ratio":
            return math.exp(outcomes.effect)
        if self.kind == "cause_specific_hazard_ratio":
            return math.exp(outcomes.effect if cause == 1 else (outcomes.exit_effects or ())[cause - 2])
        if self.kind == "cumulative_incidence_difference":
            h = float(self.horizon if self.horizon is not None else outcomes.periods)
            c0 = frame["cause0"].to_numpy() if "cause0" in frame else np.ones(len(frame))
            c1 = frame["cause1"].to_numpy() if "cause1" in frame else np.ones(len(frame))
            f1 = (frame["y1"].to_numpy(float) <= h) & (c1 == cause)
            f0 = (frame["y0"].to_numpy(float) <= h) & (c0 == cause)
            return float(f1.mean() - f0.mean())
        if self.kind == "att_event_time":
            tau = frame["y1"].to_numpy(float) - frame["y0"].to_numpy(float)
            g = frame["first_treated"].to_numpy()
            e = frame["period"].to_numpy() - g
            d = frame["d"].to_numpy(bool)
            if self.event_time is not None:
                keep = d & (e == self.event_time)
                return float(tau[keep].mean()) if keep.any() else float("nan")
            times = np.unique(e[d])
            if self.horizon is not None:
                times = times[times <= self.horizon]
            att = [tau[d & (e == k)].mean() for k in times]
            return float(np.mean(att)) if att else float("nan")
        if self.kind == "rmst_difference":
            h = float(self.horizon if self.horizon is not None else outcomes.periods)
            return float(np.minimum(frame["y1"].to_numpy(float), h).mean() - np.minimum(frame["y0"].to_numpy(float), h).mean())
        tau = frame["y1"].to_numpy(float) - frame["y0"].to_numpy(float)
        if outcomes.kind == "panel":
            keep = frame["d"].to_numpy(bool) if self.kind == "att" else frame["period"].to_numpy() >= min(outcomes.cohorts)
            return float(tau[keep].mean()) if keep.any() else float("nan")
        if self.kind in ("itt", "cace"):
            complier = frame["complier"].to_numpy() == 1 if "complier" in frame else np.ones(len(frame), bool)
            if self.kind == "itt":
                return float(np.where(complier, tau, 0.0).mean())
            return float(tau[complier].mean()) if complier.any() else float("nan")
        if self.kind == "att":
            treated = frame["z"].to_numpy() == 1
            return float(tau[treated].mean()) if treated.any() else float("nan")
        return float(tau.mean())


@dataclass(frozen=True)
class Estimator:
    """A registered estimator, by name, with its options and the estimand it targets.

    Parameters
    ----------
    label : str
        Name in the diagnosis (two estimators may use one registered estimator
        with different options).
    estimator : str
        A registered estimator (``effekt.available("estimators")``).
    estimand : str
        The name of the :class:`Estimand` it targets.
    options : mapping, default={}
        Options for its ``fit`` (column names as in the module notes).
    term : str, optional
        The row of a table result compared with the estimand (default: its
        headline row), e.g. ``"e=2"`` of ``event_study``.
    """

    label: str
    estimator: str
    estimand: str
    options: Mapping[str, Any] = field(default_factory=dict)
    term: str | None = None

    def __post_init__(self) -> None:
        for name in ("label", "estimator", "estimand"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise DesignError(f"estimator {name} must be a non-empty string; got {value!r}.")
        if not isinstance(self.options, Mapping):
            raise DesignError(f"estimator {self.label!r}: options must be a mapping; got {self.options!r}.")
        object.__setattr__(
            self, "options", _FrozenMap({k: tuple(v) if isinstance(v, list) else v for k, v in self.options.items()})
        )

    def fit_options(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) and k in ("covariates",) else v for k, v in self.options.items()}


#: short names :meth:`Design.replace` and :func:`effekt.simulate.grid` accept
GRID_KEYS = {
    "n": ("population", "n"),
    "blocks": ("population", "blocks"),
    "clusters": ("population", "clusters"),
    "icc": ("population", "icc"),
    "effect": ("outcomes", "effect"),
    "sd": ("outcomes", "sd"),
    "baseline": ("outcomes", "baseline"),
    "growth": ("outcomes", "growth"),
    "periods": ("outcomes", "periods"),
    "censoring": ("outcomes", "censoring"),
    "prob": ("assignment", "prob"),
    "capacity": ("assignment", "capacity"),
    "attrition": ("outcomes", "attrition"),
    "cutoff": ("outcomes", "cutoff"),
    "batches": ("population", "batches"),
}


@dataclass(frozen=True)
class Design:
    """A declared design; :meth:`draw` gives one simulated data set.

    Parameters
    ----------
    population : Population
    outcomes : Outcomes
    assignment : Assign
    estimands : tuple of Estimand
    estimators : tuple of Estimator
        Each names an estimand of ``estimands``.
    name : str, default=""

    Raises
    ------
    DesignError
        An estimator naming an unknown estimand, two estimands or estimators
        with one name, a block or cluster assignment without blocks or
        clusters in the population.
    """

    population: Population = field(default_factory=Population)
    outcomes: Outcomes = field(default_factory=Outcomes)
    assignment: Assign = field(default_factory=Assign)
    estimands: tuple[Estimand, ...] = ()
    estimators: tuple[Estimator, ...] = ()
    name: str = ""

    def __post_init__(self) -> None:
        for attr, cls in (("population", Population), ("outcomes", Outcomes), ("assignment", Assign)):
            if not isinstance(getattr(self, attr), cls):
                raise DesignError(f"design {attr} must be a {cls.__name__}; got {type(getattr(self, attr)).__name__}.")
        object.__setattr__(self, "estimands", tuple(self.estimands))
        object.__setattr__(self, "estimators", tuple(self.estimators))
        if not self.estimands or not self.estimators:
            raise DesignError("a design needs at least one estimand and one estimator.")
        names = [e.name for e in self.estimands]
        labels = [e.label for e in self.estimators]
        for what, seen in (("estimand", names), ("estimator", labels)):
            dup = sorted({x for x in seen if seen.count(x) > 1})
            if dup:
                raise DesignError(f"two {what}s are called {dup[0]!r}: give each its own name.")
        for est in self.estimators:
            if est.estimand not in names:
                raise DesignError(f"estimator {est.label!r} targets estimand {est.estimand!r}, which is not declared; the estimands are {names}.")
        kind = self.assignment.kind
        if kind in ("block", "block_cluster") and self.population.blocks is None and self.outcomes.kind != "panel":
            raise DesignError(f"assignment.kind={kind!r} needs population.blocks.")
        if kind in ("cluster", "block_cluster") and self.population.clusters is None and self.outcomes.kind != "panel":
            raise DesignError(f"assignment.kind={kind!r} needs population.clusters.")
        if kind == "batch" and (self.population.batches is None or self.outcomes.kind == "panel"):
            raise DesignError("assignment.kind='batch' needs population.batches (and a cross-section or survival outcome).")
        out = self.outcomes
        if self.assignment.top_up and (out.compliance >= 1.0 or out.kind not in ("continuous", "binary", "count")):
            raise DesignError("assignment.top_up fills the places of units who decline the offer: it needs "
                              "outcomes.compliance < 1 (the share who take the place) and a continuous, binary or "
                              "count outcome.")
        if out.exits and any(e != out.effect for e in (out.exit_effects or ())):
            for e in self.estimands:
                if e.kind == "hazard_ratio":
                    raise DesignError(
                        f"estimand {e.name!r}: with competing exits whose effects differ the all-cause hazard "
                        "ratio (what cox and logrank estimate, counting every exit) is not constant over time; "
                        "declare kind='cause_specific_hazard_ratio' with its cause instead.")
        cutoff = self.outcomes.cutoff
        if cutoff is not None and cutoff <= self.population.last_arrival():
            raise DesignError(f"outcomes.cutoff={cutoff} must come after the last arrival, week "
                              f"{self.population.last_arrival()}: every unit needs some follow-up.")
        if self.population.batches is not None and self.population.clusters is not None:
            raise DesignError("population.batches with population.clusters is not supported: batches hold units.")
        if self.population.blocks and self.population.clusters and self.population.clusters < self.population.blocks:
            raise DesignError("population.clusters must be at least population.blocks (clusters nest in blocks).")

    # ------------------------------------------------------------------ changes
    def replace(self, **changes: Any) -> Design:
        """A copy with some parameters changed, by short name (``n``, ``effect``, ``icc``, ``prob``, ...)
        or as ``"part.field"`` (``"outcomes.sd"``).

        >>> Design.example().replace(n=100, effect=0.2).population.n
        100
        """
        parts: dict[str, dict[str, Any]] = {}
        for key, value in changes.items():
            if key in GRID_KEYS:
                part, name = GRID_KEYS[key]
            elif "." in key and key.split(".", 1)[0] in ("population", "outcomes", "assignment"):
                part, name = key.split(".", 1)
                if name not in {f.name for f in fields(getattr(self, part))}:
                    raise DesignError(f"design has no parameter {key!r}.")
            elif key in ("name",):
                parts.setdefault("", {})[key] = value
                continue
            else:
                raise DesignError(f"design has no parameter {key!r}; use one of {sorted(GRID_KEYS)} or 'part.field'.")
            parts.setdefault(part, {})[name] = value
        new = {part: replace(getattr(self, part), **vals) for part, vals in parts.items() if part}
        return replace(self, **new, **parts.get("", {}))

    # ------------------------------------------------------------------ drawing
    def draw(self, rng: np.random.Generator) -> pd.DataFrame:
        """One simulated data set: potential outcomes, the assignment and the observed outcome."""
        if self.outcomes.kind == "panel":
            return self._draw_panel(rng)
        pop, out = self.population, self.outcomes
        n = pop.n
        frame: dict[str, Any] = {"unit": np.arange(1, n + 1)}
        latent = np.zeros(n)
        blocks = clusters = batch = None
        if pop.batches:
            batch = np.arange(n) * int(pop.batches) // n + 1  # in order of arrival
            frame["batch"] = batch
            frame["arrival"] = (batch - 1) * int(pop.batch_weeks)
        if pop.blocks:
            blocks = np.arange(n) % pop.blocks + 1
            frame["block"] = blocks
            latent += (rng.normal(0.0, pop.block_sd, pop.blocks) if pop.block_sd else np.zeros(pop.blocks))[blocks - 1]
        if pop.clusters:
            if blocks is not None and pop.blocks:  # clusters nested in blocks: deal each block's units to its clusters
                n_blocks = int(pop.blocks)
                per_block = np.arange(pop.clusters) % n_blocks + 1  # cluster c belongs to block per_block[c]
                clusters = np.empty(n, dtype=np.int64)
                for b in range(1, n_blocks + 1):
                    members = np.flatnonzero(blocks == b)
                    own = np.flatnonzero(per_block == b) + 1
                    clusters[members] = own[np.arange(members.size) % own.size]
            else:
                clusters = np.arange(n) % pop.clusters + 1
            frame["cluster"] = clusters
        noise_sd = out.sd if out.kind in ("continuous", "survival", "count") else 1.0
        if clusters is not None and pop.icc > 0:
            latent += rng.normal(0.0, math.sqrt(pop.icc) * noise_sd, pop.clusters)[clusters - 1]
        for name, coef in pop.covariates.items():
            x = rng.standard_normal(n)
            frame[name] = x
            latent += coef * x
        own_sd = math.sqrt(1.0 - pop.icc) * noise_sd
        if out.kind == "continuous":
            y0 = float(out.baseline or 0.0) + latent + rng.normal(0.0, own_sd, n)
            y1 = y0 + out.effect + (out.effect_sd * rng.standard_normal(n) if out.effect_sd else 0.0)
        elif out.kind == "survival":
            base = np.array([float(out.baseline or 0.05), *out.exits])[:, None] * np.exp(latent)[None, :]
            log_hr = np.array([out.effect, *(out.exit_effects or ())])[:, None]
            e = rng.standard_exponential((base.shape[0], n))  # one draw per cause for both potential times
            t0, t1 = e / base, e / (base * np.exp(log_hr))
            y0, y1 = np.ceil(t0.min(axis=0)), np.ceil(t1.min(axis=0))
            if out.exits:
                frame.update(cause0=t0.argmin(axis=0) + 1, cause1=t1.argmin(axis=0) + 1)
        elif out.kind == "count":
            from scipy.stats import poisson

            mu0 = float(out.baseline or 2.0) * np.exp(latent)
            # one uniform through both inverse CDFs: y1 >= y0 when effect >= 0
            v = np.clip(rng.uniform(size=n), 1e-300, 1.0 - 1e-16)
            y0 = poisson.ppf(v, mu0).astype(float)
            y1 = poisson.ppf(v, mu0 * math.exp(out.effect)).astype(float)
        else:
            from scipy.special import ndtr, ndtri

            p0 = ndtr(ndtri(float(out.baseline or 0.0)) + latent)
            v = rng.uniform(size=n)
            y0 = (v < p0).astype(float)
            y1 = (v < np.clip(p0 + out.effect, 0.0, 1.0)).astype(float)
        top_up = self.assignment.top_up
        # with top-ups, whether a unit takes its place is known as it is offered one
        complier = (rng.uniform(size=n) < out.compliance).astype(np.int64) if top_up else None
        z = self._assign(rng, n, blocks, clusters, batch, complier)
        if out.compliance < 1.0 and out.kind != "survival":
            if complier is None:
                complier = (rng.uniform(size=n) < out.compliance).astype(np.int64)
            frame.update(complier=complier, received=z * complier)
            y = np.where(z * complier == 1, y1, y0)
        else:
            y = np.where(z == 1, y1, y0)
        frame.update(y0=y0, y1=y1, z=z, y=y)
        if pop.entry:
            frame["arrival"] = rng.integers(0, int(pop.entry), n)
        if out.kind == "survival":
            if out.cutoff is not None:
                follow: Any = float(out.cutoff) - np.asarray(frame.get("arrival", np.zeros(n)), dtype=float)
                frame["follow_up"] = follow
            else:
                follow = float(out.periods)
            cens = np.ceil(rng.standard_exponential(n) / out.censoring) if out.censoring > 0 else np.full(n, np.inf)
            end = np.minimum(cens, follow)
            frame["time"] = np.minimum(y, end)
            exited = y <= end
            if out.exits:
                cause = np.where(z == 1, frame["cause1"], frame["cause0"])
                frame["event"] = np.where(exited, cause, 0).astype(np.int64)
            else:
                frame["event"] = exited.astype(np.int64)
            frame["y"] = frame["time"]
        if out.attrition or out.attrition_treated:
            p_miss = np.where(z == 1, out.attrition if out.attrition_treated is None else out.attrition_treated,
                              out.attrition)
            observed = (rng.uniform(size=n) >= p_miss).astype(np.int64)
            frame["observed"] = observed
            frame["y"] = np.where(observed == 1, frame["y"], np.nan)
        result = pd.DataFrame(frame)
        if batch is not None and (z < 0).any():  # not admitted by a full batch lottery: not in the trial
            result = result[z >= 0].reset_index(drop=True)
        return result

    def _assign(self, rng: np.random.Generator, n: int, blocks: Any, clusters: Any, batch: Any = None,
                complier: Any = None) -> np.ndarray:
        """0/1 arms (``-1``: not admitted by a batch lottery whose places are taken)."""
        from effekt import design as ed

        kind, prob = self.assignment.kind, self.assignment.prob
        if kind == "batch":
            treated, control = self.assignment.ratio()
            cap = self.assignment.capacity
            lottery = ed.BatchLottery(None, seed=int(rng.integers(2**62)), ratio=(treated, control),
                                      arms=("treatment", "control"),
                                      capacity={"treatment": int(cap)} if cap is not None else None)
            z = np.full(n, -1, dtype=np.int64)
            for b in range(1, int(self.population.batches or 1) + 1):
                ids = np.flatnonzero(batch == b)
                if ids.size == 0:
                    continue
                drawn = lottery.draw(pd.DataFrame({"id": ids}), batch=f"batch {b}", date="2000-01-01",
                                     top_up=self.assignment.top_up and b > 1)
                alloc = drawn.allocation
                got = alloc["id"].to_numpy(dtype=np.int64)
                offered = alloc["arm"].to_numpy() == "treatment"
                z[got] = offered.astype(np.int64)
                if complier is not None:  # top-ups: decliners free their places for the next batches
                    declined = got[offered & (complier[got] == 0)]
                    if declined.size:
                        lottery.withdraw([int(i) for i in declined], reason="declined")
            return z
        if kind == "complete":
            asg = ed.complete(n, prob=prob, seed=rng)
        elif kind == "block":
            asg = ed.block(blocks, prob=prob, seed=rng)
        elif kind == "cluster":
            asg = ed.cluster(clusters, prob=prob, seed=rng)
        else:
            asg = ed.block_cluster(blocks, clusters, prob=prob, seed=rng)
        return np.asarray(asg.treatment, dtype=np.int64)

    def _draw_panel(self, rng: np.random.Generator) -> pd.DataFrame:
        from effekt import design as ed

        pop, out = self.population, self.outcomes
        n, T = pop.n, out.periods
        never = max(0.0, 1.0 - sum(out.cohort_shares))
        labels = [0, *out.cohorts]
        shares = [never, *out.cohort_shares]
        keep = [i for i, s in enumerate(shares) if s > 0]
        labels, shares = [labels[i] for i in keep], [shares[i] for i in keep]
        total = sum(shares)
        shares = [s / total for s in shares]
        if len(labels) == 1:
            g = np.full(n, labels[0], dtype=np.int64)
        else:
            asg = ed.complete(n, prob_each=shares, conditions=[f"g{lab}" for lab in labels], seed=rng)
            g = np.array([int(str(t)[1:]) for t in asg.treatment], dtype=np.int64)
        alpha = rng.normal(0.0, 1.0, n)
        innov = rng.normal(0.0, out.sd, (n, T))
        e = np.empty((n, T))
        e[:, 0] = innov[:, 0] / math.sqrt(max(1e-12, 1.0 - out.rho**2))
        for t in range(1, T):
            e[:, t] = out.rho * e[:, t - 1] + innov[:, t]
        period = np.arange(1, T + 1)
        y0 = float(out.baseline or 0.0) + alpha[:, None] + 0.1 * period[None, :] + e
        treated = (g[:, None] > 0) & (period[None, :] >= g[:, None])
        by_cohort = out.effects_by_cohort()
        first = min(out.cohorts)
        g_eff = np.where(g > 0, g, first)  # the never treated follow the first cohort's effect path
        start = np.array([by_cohort[int(c)] for c in g_eff])
        tau = np.where(period[None, :] >= g_eff[:, None],
                       start[:, None] + out.growth * (period[None, :] - g_eff[:, None]), 0.0)
        y1 = y0 + tau
        d = treated.astype(np.int64)
        return pd.DataFrame({
            "unit": np.repeat(np.arange(1, n + 1), T),
            "period": np.tile(period, n),
            "first_treated": np.repeat(g, T),
            "treated": np.repeat((g > 0).astype(np.int64), T),
            "d": d.ravel(),
            "post": d.ravel(),
            "y0": y0.ravel(),
            "y1": y1.ravel(),
            "y": np.where(treated, y1, y0).ravel(),
        })

    def estimand_values(self, frame: pd.DataFrame) -> dict[str, float]:
        """Each estimand's value in one draw."""
        return {e.name: e.value(frame, self.outcomes) for e in self.estimands}

    # ------------------------------------------------------------------ files
    def to_dict(self) -> dict[str, Any]:
        """The design as plain data (what :meth:`to_toml` writes)."""
        from effekt.simulate._toml import design_to_dict

        return design_to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Design:
        """A design from plain data; DesignError naming any unknown key."""
        from effekt.simulate._toml import design_from_dict

        return design_from_dict(data)

    def to_toml(self, path: str | Path | None = None) -> str:
        """The design as TOML text, also written to ``path`` when given."""
        from effekt.simulate._toml import dumps

        text = dumps(self.to_dict())
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    @classmethod
    def from_toml(cls, source: str | Path) -> Design:
        """Read a design from a TOML file (a path) or TOML text. Nothing in the file is executed.

        Raises DesignError for a missing file, text that is not TOML, an unknown
        key (named) or a bad value.

        >>> d = Design.example()
        >>> Design.from_toml(d.to_toml()) == d
        True
        """
        import tomllib

        text = source
        # a path: a Path, or one line of text without "=" (TOML text holds at least one key = value)
        if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source and "=" not in source):
            path = Path(source)
            if not path.exists():
                raise DesignError(f"design file {str(path)!r} does not exist.")
            text = path.read_text(encoding="utf-8")
        try:
            data = tomllib.loads(str(text))
        except tomllib.TOMLDecodeError as exc:
            raise DesignError(f"the design is not valid TOML: {exc}") from None
        return cls.from_dict(data)

    @classmethod
    def example(cls, kind: str = "blocked") -> Design:
        """A bundled methods comparison, to run with :func:`~effekt.simulate.diagnose`
        (or ``effekt diagnose`` on its :meth:`to_toml`):

        * ``"blocked"``: a blocked two-arm trial (100 units in 5 blocks, effect 0.3):
          the blocked difference in means, Lin's interacted regression and ``lm_robust``
          with block fixed effects and the covariate, all for the ATE;
        * ``"batch_lottery"``: the same comparison in a trial like the Copenhagen
          resource-course RCT (VIVE 2019): fortnightly batches drawn 1:1 by
          :class:`effekt.design.BatchLottery` until 40 programme places are taken, the
          batches as blocks;
        * ``"staggered"``: staggered adoption with growing effects: TWFE (biased),
          Callaway-Sant'Anna (the ATT) and the event study (the ATT by event time,
          averaged over the post-adoption weeks);
        * ``"survival"``: weeks to clarification with a competing exit (with the same
          hazard ratio, so the all-cause hazard ratio is constant), staggered entry over
          20 weeks and an administrative cut-off in week 60: log-rank and Cox for the
          hazard ratio, the RMST difference at 26 weeks.
        """
        ate = {"outcome": "y", "treatment": "z"}
        if kind in ("blocked", "batch_lottery"):
            blocks = "block" if kind == "blocked" else "batch"
            estimators = (
                Estimator("difference_in_means", "difference_in_means", "ate", {**ate, "blocks": blocks}),
                Estimator("lin", "lin", "ate", {**ate, "covariates": ["x"]}),
                Estimator("lm_robust", "lm_robust", "ate", {**ate, "covariates": ["x"], "fixed_effects": [blocks]}),
            )
            if kind == "blocked":
                return cls(
                    population=Population(n=100, blocks=5, block_sd=1.0, covariates={"x": 0.5}),
                    outcomes=Outcomes(effect=0.3),
                    assignment=Assign(kind="block"),
                    estimands=(Estimand("ate"),),
                    estimators=estimators,
                    name="blocked trial",
                )
            return cls(
                population=Population(n=120, batches=6, batch_weeks=2, covariates={"x": 0.5}),
                outcomes=Outcomes(effect=0.3),
                assignment=Assign(kind="batch", prob=0.5, capacity=40),
                estimands=(Estimand("ate"),),
                estimators=estimators,
                name="batch lottery",
            )
        if kind == "staggered":
            panel = {"outcome": "y", "unit": "unit", "period": "period"}
            return cls(
                population=Population(n=60),
                outcomes=Outcomes(kind="panel", effect=1.0, growth=0.5, periods=8, cohorts=(3, 6),
                                  cohort_shares=(0.4, 0.4), sd=0.5),
                assignment=Assign(),
                estimands=(Estimand("att"), Estimand("att_event_time")),
                estimators=(
                    Estimator("twfe", "twfe", "att", {**panel, "treatment": "treated", "post": "post"}),
                    Estimator("callaway_santanna", "callaway_santanna", "att",
                              {**panel, "first_treated": "first_treated", "est_method": "reg"}),
                    Estimator("event_study", "event_study", "att_event_time", {**panel, "first_treated": "first_treated"}),
                ),
                name="staggered adoption",
            )
        if kind == "survival":
            surv = {"time": "time", "event": "event", "treatment": "z"}
            return cls(
                population=Population(n=300, entry=20),
                outcomes=Outcomes(kind="survival", baseline=0.05, effect=0.4, exits=(0.03,), exit_effects=(0.4,),
                                  cutoff=60),
                assignment=Assign(),
                estimands=(Estimand("hazard_ratio"), Estimand("rmst_difference", horizon=26)),
                estimators=(
                    Estimator("logrank", "logrank", "hazard_ratio", surv),
                    Estimator("cox", "cox", "hazard_ratio", surv),
                    Estimator("rmst", "rmst", "rmst_difference", {**surv, "horizon": 26}),
                ),
                name="time to clarification",
            )
        raise DesignError(f"no example design {kind!r}; the examples are {', '.join(map(repr, EXAMPLES))}.")


#: the bundled examples of :meth:`Design.example`
EXAMPLES = ("blocked", "batch_lottery", "staggered", "survival")
