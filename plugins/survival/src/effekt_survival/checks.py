"""Checks a reader runs on a published hazard ratio.

* :func:`check_reported_hr`: is a reported HR, confidence interval and
  p-value one consistent Wald result? A Wald interval for a hazard ratio is
  symmetric on the log scale, so its geometric midpoint ``sqrt(low * high)``
  is the HR, and its width fixes the standard error, hence the p-value.
* :func:`se_log_hr_from_events`: the standard error of log HR implied by
  the event counts of a 1:1 trial, ``sqrt(1/d1 + 1/d0)``.
* :func:`information_fraction`: events observed against the events
  Schoenfeld's formula needs to detect a target HR - how "early" a final
  analysis really is.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from scipy import stats

from effekt.data import check_probability
from effekt.errors import DesignError
from effekt.result import to_jsonable

__all__ = [
    "ReportedHRCheck",
    "check_reported_hr",
    "se_log_hr_from_events",
    "InformationFraction",
    "information_fraction",
    "schoenfeld_events",
]


def _positive(value: float, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise DesignError(f"{name} must be a positive number; got {value!r}.") from None
    if not (math.isfinite(v) and v > 0):
        raise DesignError(f"{name} must be a positive number; got {value!r}.")
    return v


def _half_unit(x: float) -> float:
    """Half a unit in the last printed decimal of ``x`` (0.87 -> 0.005)."""
    text = repr(float(x))
    if "e" in text:
        return 0.0
    decimals = len(text.split(".")[1].rstrip("0")) if "." in text else 0
    return 0.5 * 10.0 ** (-decimals)


@dataclass(frozen=True)
class ReportedHRCheck:
    """What a reported HR, CI and p-value imply about each other.

    ``midpoint`` is the CI's geometric midpoint; ``se_from_ci`` and
    ``se_from_p`` the standard errors of log HR implied by the CI width and
    by the p-value; ``p_from_ci`` the Wald p implied by the HR and the CI
    width; ``ci_from_p`` the Wald CI implied by the HR and the p-value.
    ``flags`` lists each inconsistency in words; ``consistent`` is True when
    there is none.
    """

    hr: float
    conf_int: tuple[float, float]
    p_value: float
    conf_level: float
    midpoint: float
    se_from_ci: float
    se_from_p: float
    p_from_ci: float
    ci_from_p: tuple[float, float]
    flags: tuple[str, ...]

    @property
    def consistent(self) -> bool:
        return not self.flags

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["consistent"] = self.consistent
        return to_jsonable(out)  # type: ignore[no-any-return]

    def summary(self) -> str:
        lo, hi = self.conf_int
        lines = [
            f"reported HR {self.hr:g} ({100 * self.conf_level:g}% CI {lo:g}-{hi:g}), p = {self.p_value:g}",
            f"  CI geometric midpoint {self.midpoint:.3f}; SE(log HR) from CI {self.se_from_ci:.3f}, "
            f"from p {self.se_from_p:.3f}",
            f"  p implied by the CI {self.p_from_ci:.4f}; CI implied by p "
            f"{self.ci_from_p[0]:.2f}-{self.ci_from_p[1]:.2f}",
        ]
        lines += [f"  FLAG: {f}" for f in self.flags] or ["  consistent"]
        return "\n".join(lines)


def check_reported_hr(
    hr: float,
    conf_low: float,
    conf_high: float,
    p_value: float,
    *,
    conf_level: float = 0.95,
    se_tolerance: float = 0.10,
) -> ReportedHRCheck:
    """Check that a reported hazard ratio, CI and p-value fit one Wald analysis.

    Two checks:

    1. **Centre.** ``sqrt(low * high)`` must equal the HR up to the rounding
       of the printed numbers: the midpoint of the interval spanned by the
       rounded bounds (each +/- half a unit in its last decimal) must overlap
       the HR's own rounding interval.
    2. **Width.** ``se_ci = (log high - log low) / (2 z)`` against
       ``se_p = |log HR| / z_{p/2}``: flagged when they differ by more than
       ``se_tolerance`` (default 10 %). Tests and intervals from different
       methods (Wald CI with a likelihood-ratio p, profile intervals) differ
       by a few percent, so a stricter rule would flag honest reports.

    Parameters
    ----------
    hr, conf_low, conf_high, p_value : float
        As printed in the report.
    conf_level : float, default 0.95
    se_tolerance : float, default 0.10
        Largest relative difference of the two implied SEs not flagged.

    Returns
    -------
    ReportedHRCheck

    Raises
    ------
    DesignError
        Non-positive HR or bounds, bounds out of order, p outside (0, 1).

    References
    ----------
    Altman & Bland (2011), How to obtain the P value from a confidence
    interval, BMJ 343:d2304, doi:10.1136/bmj.d2304.

    Examples
    --------
    >>> chk = check_reported_hr(1.74, 0.87, 3.12, 0.0988)
    >>> round(chk.midpoint, 2), chk.consistent
    (1.65, False)
    """
    hr = _positive(hr, "hr")
    lo = _positive(conf_low, "conf_low")
    hi = _positive(conf_high, "conf_high")
    if not lo < hi:
        raise DesignError(f"conf_low must be below conf_high; got {conf_low!r} and {conf_high!r}.")
    p = check_probability(p_value, "p_value")
    conf_level = check_probability(conf_level, "conf_level")
    q = float(stats.norm.ppf(0.5 + conf_level / 2.0))
    mid = math.sqrt(lo * hi)
    se_ci = (math.log(hi) - math.log(lo)) / (2.0 * q)
    z_p = float(stats.norm.isf(p / 2.0))
    log_hr = math.log(hr)
    se_p = abs(log_hr) / z_p if log_hr != 0 else float("nan")
    p_ci = float(2.0 * stats.norm.sf(abs(log_hr) / se_ci))
    ci_p = (math.exp(log_hr - q * se_p), math.exp(log_hr + q * se_p)) if math.isfinite(se_p) else (math.nan, math.nan)
    flags = []
    dl, dh, dhr = _half_unit(conf_low), _half_unit(conf_high), _half_unit(hr)
    mid_lo = math.sqrt(max(lo - dl, 0.0) * (hi - dh))
    mid_hi = math.sqrt((lo + dl) * (hi + dh))
    if mid_hi < hr - dhr or mid_lo > hr + dhr:
        flags.append(
            f"the interval {conf_low:g}-{conf_high:g} is centred (geometric midpoint) on {mid:.2f}, "
            f"not on the reported HR {hr:g}: it is not a Wald interval around this HR"
        )
    if math.isfinite(se_p) and abs(se_ci / se_p - 1.0) > se_tolerance:
        flags.append(
            f"the interval's width implies SE(log HR) = {se_ci:.3f} and p = {p_ci:.3f}, but the "
            f"reported p = {p_value:g} implies SE = {se_p:.3f} and an interval "
            f"{ci_p[0]:.2f}-{ci_p[1]:.2f}"
        )
    return ReportedHRCheck(
        hr=hr, conf_int=(lo, hi), p_value=p, conf_level=conf_level, midpoint=mid, se_from_ci=se_ci,
        se_from_p=se_p, p_from_ci=p_ci, ci_from_p=ci_p, flags=tuple(flags),
    )


def se_log_hr_from_events(events_treated: float, events_control: float) -> float:
    """Approximate SE of log HR from event counts: ``sqrt(1/d1 + 1/d0)``.

    The inverse of the log-rank information ``d/4`` generalised to unequal
    event counts (Parmar, Torri & Stewart 1998, Stat Med 17:2815, eq. 7).

    >>> round(se_log_hr_from_events(25, 15), 3)
    0.327
    """
    d1 = _positive(events_treated, "events_treated")
    d0 = _positive(events_control, "events_control")
    return math.sqrt(1.0 / d1 + 1.0 / d0)


def schoenfeld_events(hr: float, *, alpha: float = 0.05, power: float = 0.80, allocation: float = 0.5) -> float:
    """Events needed to detect ``hr`` with a two-sided level-``alpha`` log-rank test.

    ``D = (z_{1-alpha/2} + z_{power})^2 / (pi (1 - pi) log(HR)^2)``
    (Schoenfeld 1983, Biometrics 39:499, eq. 1), ``pi`` the share allocated
    to treatment.

    >>> round(schoenfeld_events(1.74), 1)
    102.3
    """
    hr = _positive(hr, "hr")
    if hr == 1.0:
        raise DesignError("hr=1 is no effect; no number of events detects it. Pass the HR to detect.")
    alpha = check_probability(alpha, "alpha")
    power = check_probability(power, "power")
    pi = check_probability(allocation, "allocation")
    za = float(stats.norm.isf(alpha / 2.0))
    zb = float(stats.norm.ppf(power))
    return (za + zb) ** 2 / (pi * (1.0 - pi) * math.log(hr) ** 2)


@dataclass(frozen=True)
class InformationFraction:
    """Events observed against events needed for a target hazard ratio."""

    events: float
    events_needed: float
    fraction: float
    hr: float
    alpha: float
    power: float
    allocation: float
    power_at_events: float
    detectable_hr: float
    warning: str | None

    def to_dict(self) -> dict[str, object]:
        return to_jsonable(asdict(self))  # type: ignore[no-any-return]

    def summary(self) -> str:
        lines = [
            f"{self.events:g} events observed of {self.events_needed:.1f} needed to detect HR {self.hr:g} "
            f"(alpha {self.alpha:g} two-sided, power {self.power:g}): information fraction {self.fraction:.2f}",
            f"  power at the observed events {self.power_at_events:.2f}; detectable HR {self.detectable_hr:.2f}",
        ]
        if self.warning:
            lines.append(f"  warning: {self.warning}")
        return "\n".join(lines)


def information_fraction(
    events: Any, hr: float, *, alpha: float = 0.05, power: float = 0.80, allocation: float = 0.5
) -> InformationFraction:
    """How much of the planned statistical information a survival analysis has.

    ``fraction = events / D(hr)``, with ``D`` from :func:`schoenfeld_events`;
    also the power the observed events give for ``hr``,
    ``Phi(sqrt(d pi (1 - pi)) |log HR| - z_{1-alpha/2})``, and the HR they can
    detect with ``power``, ``exp((z_{1-alpha/2} + z_power) / sqrt(d pi (1 - pi)))``
    (for HR > 1; its inverse when ``hr < 1``). A fraction below one gives a
    warning: the analysis is underpowered for the target.

    ``events`` is a count, or a fitted result that reports
    ``events_treated`` and ``events_control`` in ``extra`` (``cox``,
    ``cause_specific_cox``, ``fine_gray``).

    Examples
    --------
    >>> info = information_fraction(40, 1.74)
    >>> round(info.events_needed), round(info.fraction, 2), round(info.power_at_events, 2)
    (102, 0.39, 0.42)
    """
    if isinstance(getattr(events, "extra", None), Mapping) and "events_treated" in events.extra:
        events = events.extra["events_treated"] + events.extra["events_control"]
    d = _positive(events, "events")
    needed = schoenfeld_events(hr, alpha=alpha, power=power, allocation=allocation)
    za = float(stats.norm.isf(alpha / 2.0))
    zb = float(stats.norm.ppf(power))
    root = math.sqrt(d * allocation * (1.0 - allocation))
    pw = float(stats.norm.cdf(root * abs(math.log(hr)) - za))
    det = math.exp((za + zb) / root)
    if hr < 1:
        det = 1.0 / det
    frac = d / needed
    warning = None
    if frac < 1.0:
        warning = (
            f"only {d:g} of the {needed:.0f} events needed to detect HR {hr:g} have been observed "
            f"(information fraction {frac:.2f}); the analysis has power {pw:.2f}, not {power:g}"
        )
    return InformationFraction(
        events=d, events_needed=needed, fraction=frac, hr=hr, alpha=alpha, power=power,
        allocation=allocation, power_at_events=pw, detectable_hr=det, warning=warning,
    )
