"""Power for a hazard ratio: events needed (Schoenfeld, Freedman) and subjects needed
from expected events under accrual, follow-up, dropout and competing exits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from effekt import DesignError
from effekt_power._core import MISSING, Calculator, normal_power, z_crit

__all__ = ["Schoenfeld", "Freedman", "LogRank", "event_probability"]

_HR_MAX = 1e3


def _hr_bracket(v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    ones = np.ones(np.broadcast(*v.values()).shape)
    if opts["alternative"] == "less":
        return ones / _HR_MAX, ones * (1.0 - 1e-9)
    return ones * (1.0 + 1e-9), ones * _HR_MAX


def _allocation(ratio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shares of subjects in arm 1 and arm 2 for ratio = n2 / n1."""
    return 1.0 / (1.0 + ratio), ratio / (1.0 + ratio)


def _shift(hr: np.ndarray, events: np.ndarray, ratio: np.ndarray, method: str) -> np.ndarray:
    """Mean of the log-rank z statistic under the alternative (positive when hr > 1)."""
    if method == "freedman":
        # Freedman (1982): per event, E[O2 - E2] = R hr/(1 + R hr) - R/(1 + R), null variance
        # R/(1 + R)^2, with R = n2/n1 the ratio at risk; so z ~ N(sqrt(D R)(hr - 1)/(1 + R hr), 1)
        return np.sqrt(events * ratio) * (hr - 1.0) / (1.0 + ratio * hr)
    pi1, pi2 = _allocation(ratio)
    # Schoenfeld (1983), eq. 1: z ~ N(log(hr) sqrt(D pi1 pi2), 1)
    return np.log(hr) * np.sqrt(events * pi1 * pi2)


class _EventsBase(Calculator):
    solvable = ("events", "power", "hr", "alpha")
    numeric = {
        "hr": (MISSING, 0.0, None, True, True),
        "events": (MISSING, 0.0, None, True, True),
        "power": (MISSING, 0.0, 1.0, True, True),
        "alpha": (0.05, 0.0, 1.0, True, True),
        "ratio": (1.0, 0.0, None, True, True),
    }
    settings = {"alternative": "two-sided"}
    size = "events"
    effect = "hr"
    formula = "schoenfeld"

    def _method_label(self, opts: Mapping[str, Any]) -> str:
        return "Schoenfeld (1983)" if self.formula == "schoenfeld" else "Freedman (1982)"

    def _check(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> None:
        if "hr" in v and np.any(v["hr"] == 1.0):
            raise DesignError(
                f"{self.name}: hr = 1 means no effect; no number of events gives power above alpha. "
                "Give a hazard ratio other than 1, or leave hr out to solve for the detectable one."
            )

    def _effect_sign(self, v: Mapping[str, np.ndarray]) -> np.ndarray | None:
        return np.sign(np.log(v["hr"])) if "hr" in v else None

    def _power(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> np.ndarray:
        shift = _shift(v["hr"], v["events"], v["ratio"], self.formula)
        return normal_power(shift, z_crit(v["alpha"], opts["alternative"]), opts["alternative"])

    def _bracket(
        self, unknown: str, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]
    ) -> tuple[np.ndarray, np.ndarray]:
        ones = np.ones(np.broadcast(*v.values()).shape)
        if unknown == "hr":
            return _hr_bracket(v, opts)
        if unknown == "alpha":
            return 1e-12 * ones, (1.0 - 1e-12) * ones
        return 1e-6 * ones, 1e9 * ones

    def _effect_range(self, centre: float, point: Mapping[str, float]) -> tuple[float, float]:
        if centre > 1:
            return 1.0 + 1e-6, 1.0 + 2.5 * (centre - 1.0)
        return centre / 2.5, 1.0 - 1e-6


class Schoenfeld(_EventsBase):
    """Events needed to detect a hazard ratio with the log-rank test or Cox model (Schoenfeld).

    Formula (arm shares ``pi1 = 1/(1 + ratio)``, ``pi2 = ratio/(1 + ratio)``)::

        events = (z_{1-alpha/2} + z_{1-beta})^2 / (pi1 pi2 log(hr)^2)
        power  = Phi(|log hr| sqrt(events pi1 pi2) - z) (+ the far rejection region)

    ``hr`` is the hazard in arm 2 over the hazard in arm 1; ``ratio = n2/n1``.
    Leaving ``hr`` out gives the minimal detectable hazard ratio above 1 (below
    1 for ``alternative="less"``; on the log scale the two are mirror images).

    Defaults and why: ``alpha=0.05`` two-sided and ``ratio=1`` as in the
    seed trials; the formula assumes proportional hazards.

    Parameters
    ----------
    hr, events, power : float or array
        Leave out exactly one of them (or pass ``alpha=None``).
    alpha : float or array, default 0.05
    ratio : float or array, default 1
    alternative : {"two-sided", "greater", "less"}, default "two-sided"

    Returns
    -------
    PowerResult

    Raises
    ------
    DesignError
        hr = 1 or not positive, events not positive, power not above alpha,
        nothing or more than one quantity left out.

    References
    ----------
    Schoenfeld (1983), Sample-size formula for the proportional-hazards
    regression model, Biometrics 39(2):499-503, doi:10.2307/2531021.

    Examples
    --------
    >>> import effekt as ef
    >>> round(ef.power("schoenfeld", hr=1.74, power=0.80).value, 1)
    102.3
    >>> round(ef.power("schoenfeld", events=40, power=0.80).value, 2)
    2.43
    """

    name = "schoenfeld"
    example = {"hr": 0.7, "events": 200.0, "power": 0.8, "alpha": 0.05}
    effect_null = 1.0
    formula = "schoenfeld"

    def _closed_form(
        self, unknown: str, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]
    ) -> np.ndarray | None:
        # one-sided tests have an exact closed form; two-sided ones keep the far region
        if opts["alternative"] == "two-sided" or unknown not in ("events", "hr"):
            return None
        pi1, pi2 = _allocation(v["ratio"])
        zsum = z_crit(v["alpha"], opts["alternative"]) + z_crit(1.0 - v["power"], "greater")
        if unknown == "events":
            return zsum**2 / (pi1 * pi2 * np.log(v["hr"]) ** 2)
        sign = 1.0 if opts["alternative"] == "greater" else -1.0
        return np.exp(sign * zsum / np.sqrt(v["events"] * pi1 * pi2))


class Freedman(_EventsBase):
    """Events needed to detect a hazard ratio with the log-rank test (Freedman).

    Formula (``R = ratio = n2/n1``, ``hr`` = hazard in arm 2 / arm 1)::

        events = (z_{1-alpha/2} + z_{1-beta})^2 (1 + R hr)^2 / (R (1 - hr)^2)

    Freedman's approximation keeps the ratio at risk constant at ``R``; it
    asks for a few more events than Schoenfeld's for hazard ratios far from 1.

    Parameters
    ----------
    hr, events, power, alpha, ratio, alternative
        As for ``schoenfeld``.

    Returns
    -------
    PowerResult

    Raises
    ------
    DesignError
        As for ``schoenfeld``.

    References
    ----------
    Freedman (1982), Tables of the number of patients required in clinical
    trials using the logrank test, Stat. Med. 1(2):121-129,
    doi:10.1002/sim.4780010204.

    Examples
    --------
    >>> import effekt as ef
    >>> round(ef.power("freedman", hr=1.74, power=0.80).value, 1)
    107.6
    """

    name = "freedman"
    example = {"hr": 0.7, "events": 200.0, "power": 0.8, "alpha": 0.05}
    effect_null = 1.0
    formula = "freedman"


def event_probability(
    hazard: Any,
    *,
    accrual: Any = 0.0,
    follow_up: Any,
    dropout: Any = 0.0,
    competing: Any = 0.0,
) -> np.ndarray:
    """Probability that a subject is observed to have the event of interest.

    Exponential times: event hazard ``hazard``, competing exits ``competing``
    and loss to follow-up ``dropout`` (cause-specific hazards, independent).
    Subjects enter uniformly over ``[0, accrual]`` and are censored at the data
    cut-off ``accrual + follow_up``, so a subject's follow-up is uniform on
    ``[follow_up, accrual + follow_up]``::

        theta = hazard + competing + dropout
        P = hazard/theta * (1 - (exp(-theta f) - exp(-theta (a + f))) / (theta a))   (a > 0)
        P = hazard/theta * (1 - exp(-theta f))                                        (a = 0)

    References: Collett (2015), Modelling Survival Data in Medical Research,
    3rd ed., section 10.2; Lachin & Foulkes (1986), Biometrics 42(3):507-519.

    >>> round(float(event_probability(0.1, follow_up=2.0)), 4)
    0.1813
    """
    lam, a, f, d, c = np.broadcast_arrays(
        *(np.asarray(x, dtype=float) for x in (hazard, accrual, follow_up, dropout, competing))
    )
    theta = lam + d + c
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = np.where(
            a > 0,
            (np.exp(-theta * f) - np.exp(-theta * (a + f))) / np.where(a > 0, theta * a, 1.0),
            np.exp(-theta * f),
        )
    return np.asarray(lam / theta * (1.0 - spread))


class LogRank(Calculator):
    """Subjects needed for a log-rank test or Cox model, from the expected number of events.

    The events needed for ``hr`` (Schoenfeld or Freedman) are reached when
    ``n1 P1 + n2 P2`` subjects have the event, ``P`` the probability that a
    subject's event of interest is observed before the data cut-off (see
    :func:`event_probability`): arm 1 has event hazard ``hazard`` (or
    ``log(2)/median``), arm 2 ``hr * hazard``; both arms share the dropout and
    competing-exit hazards and the accrual and follow-up periods.

    Formula::

        events(n) = n1 P1 + n2 P2,  n2 = ratio n1
        power = Phi(shift(hr, events(n)) - z) (+ the far region), shift as in schoenfeld/freedman

    Stratified designs (a stratified log-rank test, common hazard ratio):
    ``strata_weights`` (shares of subjects) and ``strata_hazards`` (arm-1
    hazards) replace ``hazard``; the expected events are summed over strata.

    Defaults and why: ``method="schoenfeld"``; ``accrual=0`` (everyone starts
    together, as in a batch lottery); no dropout or competing exits unless
    given, because the seed registers observe every exit.

    Parameters
    ----------
    hr : float or array, optional
    n, n1, n2, ratio : float or array
        Subjects per arm as in ``two_proportions``.
    power, alpha, alternative
        As in ``schoenfeld``.
    hazard : float or array, optional
        Event hazard in arm 1 (per unit of time). Give this or ``median``.
    median : float or array, optional
        Median time to the event in arm 1 without other exits.
    follow_up : float or array
        Time from the end of accrual to the data cut-off (administrative censoring).
    accrual : float or array, default 0
    dropout, competing : float or array, default 0
        Hazards of loss to follow-up and of competing exits.
    strata_weights, strata_hazards : sequence of float, optional
    method : {"schoenfeld", "freedman"}, default "schoenfeld"

    Returns
    -------
    PowerResult
        ``extra`` holds ``p_event1``, ``p_event2``, ``events`` (expected) and
        the arm sizes; ``warnings`` says when fewer than 25% of arm-1
        subjects reach the event before the cut-off (the Copenhagen resource-course trial: 18% within the
        two-year window of a programme lasting 1-5 years).

    Raises
    ------
    DesignError
        Neither or both of hazard and median, negative times or hazards,
        strata weights that do not sum to 1, nothing or more than one quantity
        left out, a power that no sample size reaches.

    References
    ----------
    Schoenfeld (1983), Biometrics 39(2):499-503; Collett (2015), section 10.2.

    Examples
    --------
    >>> import effekt as ef
    >>> res = ef.power("logrank", hr=1.74, power=0.8, hazard=0.1, follow_up=2.0)
    >>> round(res.value, 1), round(res.extra["p_event1"], 4)
    (215.4, 0.1813)
    """

    name = "logrank"
    example = {"hr": 0.7, "n": 300.0, "power": 0.8, "alpha": 0.05, "hazard": 0.1, "follow_up": 12.0}
    effect_null = 1.0
    methods = ("schoenfeld", "freedman")
    method_default = "schoenfeld"
    solvable = ("n", "power", "hr", "alpha")
    two_arm = True
    numeric = {
        "hr": (MISSING, 0.0, None, True, True),
        "power": (MISSING, 0.0, 1.0, True, True),
        "alpha": (0.05, 0.0, 1.0, True, True),
        "hazard": (None, 0.0, None, True, True),
        "median": (None, 0.0, None, True, True),
        "follow_up": (MISSING, 0.0, None, False, True),
        "accrual": (0.0, 0.0, None, False, True),
        "dropout": (0.0, 0.0, None, False, True),
        "competing": (0.0, 0.0, None, False, True),
    }
    settings = {"alternative": "two-sided", "strata_weights": None, "strata_hazards": None}
    effect = "hr"

    def _method_label(self, opts: Mapping[str, Any]) -> str:
        base = "Schoenfeld" if opts["method"] == "schoenfeld" else "Freedman"
        return f"{base} events, exponential expected events"

    def _min_size(self) -> float:
        return 1e-6

    def _check(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> None:
        strata = opts["strata_weights"] is not None or opts["strata_hazards"] is not None
        given = [k for k in ("hazard", "median") if k in v]
        if strata:
            if given:
                raise DesignError(
                    "give the arm-1 hazard either as hazard/median or per stratum "
                    "(strata_hazards), not both."
                )
            _strata(opts)
        elif len(given) != 1:
            raise DesignError(
                "logrank needs the event rate in arm 1: give hazard= (events per unit of time) "
                f"or median= (median time to the event), exactly one of them; got {given or 'neither'}."
            )
        if np.any(v["follow_up"] + v["accrual"] <= 0):
            raise DesignError(
                "follow_up + accrual must be positive: with no time under observation no events "
                "occur. Give the time from the end of accrual to the data cut-off as follow_up=."
            )
        if "hr" in v and np.any(v["hr"] == 1.0):
            raise DesignError(
                "hr = 1 means no effect; no sample size gives power above alpha. Give a hazard "
                "ratio other than 1, or leave hr out to solve for it."
            )

    def _event_probs(
        self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]
    ) -> tuple[np.ndarray, np.ndarray]:
        common = {
            "accrual": v["accrual"],
            "follow_up": v["follow_up"],
            "dropout": v["dropout"],
            "competing": v["competing"],
        }
        if opts["strata_weights"] is not None:
            w, h = _strata(opts)
            p1 = sum(wi * event_probability(hi, **common) for wi, hi in zip(w, h))
            p2 = sum(wi * event_probability(hi * v["hr"], **common) for wi, hi in zip(w, h))
            return np.asarray(p1), np.asarray(p2)
        lam = v["hazard"] if "hazard" in v else np.log(2.0) / v["median"]
        return event_probability(lam, **common), event_probability(lam * v["hr"], **common)

    def _effect_sign(self, v: Mapping[str, np.ndarray]) -> np.ndarray | None:
        return np.sign(np.log(v["hr"])) if "hr" in v else None

    def _power(self, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> np.ndarray:
        n1, n2 = self._sizes(v)
        p1, p2 = self._event_probs(v, opts)
        events = n1 * p1 + n2 * p2
        ratio = n2 / n1
        shift = _shift(v["hr"], events, ratio, opts["method"])
        return normal_power(shift, z_crit(v["alpha"], opts["alternative"]), opts["alternative"])

    def _bracket(
        self, unknown: str, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]
    ) -> tuple[np.ndarray, np.ndarray]:
        ones = np.ones(np.broadcast(*v.values()).shape)
        if unknown == "hr":
            return _hr_bracket(v, opts)
        if unknown == "alpha":
            return 1e-12 * ones, (1.0 - 1e-12) * ones
        return 1e-6 * ones, 1e9 * ones

    def _extra(self, unknown: str, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> dict[str, Any]:
        b = self._broadcast(v)
        n1, n2 = self._sizes(b)
        p1, p2 = self._event_probs(b, opts)
        events = n1 * p1 + n2 * p2

        def py(x: np.ndarray) -> Any:
            return np.asarray(x) if np.ndim(x) else float(x)

        return {"p_event1": py(p1), "p_event2": py(p2), "events": py(events)}

    def _warnings(self, unknown: str, v: Mapping[str, np.ndarray], opts: Mapping[str, Any]) -> list[str]:
        p1, _ = self._event_probs(self._broadcast(v), opts)
        low = float(np.min(p1))
        if low < _FEW_EVENTS:
            return [
                f"only {100 * low:.1f}% of arm-1 subjects are expected to have the event before the "
                "data cut-off, so the events, not the subjects, limit the trial; check that the "
                "follow-up is not much shorter than the programme it evaluates."
            ]
        return []

    def _effect_range(self, centre: float, point: Mapping[str, float]) -> tuple[float, float]:
        if centre > 1:
            return 1.0 + 1e-6, 1.0 + 2.5 * (centre - 1.0)
        return centre / 2.5, 1.0 - 1e-6


_FEW_EVENTS = 0.25


def _strata(opts: Mapping[str, Any]) -> tuple[list[float], list[float]]:
    w_raw: Sequence[float] | None = opts["strata_weights"]
    h_raw: Sequence[float] | None = opts["strata_hazards"]
    if w_raw is None or h_raw is None:
        raise DesignError("a stratified design needs both strata_weights= and strata_hazards=.")
    try:
        w = [float(x) for x in w_raw]
        h = [float(x) for x in h_raw]
    except (TypeError, ValueError):
        raise DesignError(
            f"strata_weights and strata_hazards must be sequences of numbers; got {w_raw!r} and {h_raw!r}."
        ) from None
    if len(w) != len(h) or not w:
        raise DesignError(
            f"strata_weights has {len(w)} entries and strata_hazards {len(h)}; give one weight and "
            "one hazard per stratum."
        )
    if any(x <= 0 for x in w) or abs(sum(w) - 1.0) > 1e-8:
        raise DesignError(
            f"strata_weights must be positive shares summing to 1; got {w} (sum {sum(w):g})."
        )
    if any(x <= 0 or not np.isfinite(x) for x in h):
        raise DesignError(f"strata_hazards must be positive; got {h}.")
    return w, h
