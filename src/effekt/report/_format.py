"""Numbers and words as a report prints them, in English or Danish.

One helper formats every number in a report (:func:`format_number`), so a
table, a caption and a summary sentence agree.

Rounding
--------
A report rounds the number *as it is written*: the shortest decimal text
that reads back as the same float (Python's ``repr``), rounded half away
from zero with decimal arithmetic. ``0.125`` prints as ``0.13`` and
``2.675`` as ``2.68`` at two digits, as a reader who rounds by hand (and
Danish convention, "afrunding") expects. Python's ``round`` and ``format``
work on the binary value instead: ``f"{0.125:.2f}"`` is ``'0.12'`` (half
to even) and ``f"{2.675:.2f}"`` is ``'2.67'`` (the float is
2.67499999999999982236431605997495353221893310546875). The same rule is
used in both languages, so an English and a Danish report of one study
print the same digits.

Language
--------
``language="en"`` writes a decimal point and a comma between thousands
(``1,234.5``); ``language="da"`` a decimal comma and a full stop between
thousands (``1.234,5``), and Danish labels (:func:`label`).
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from effekt.errors import DataError

__all__ = [
    "LANGUAGES",
    "check_language",
    "format_ci",
    "format_count",
    "format_number",
    "format_p",
    "format_value",
    "label",
]

LANGUAGES = ("en", "da")
MISSING = "–"

_LABELS: dict[str, dict[str, str]] = {
    "en": {
        "abstract": "Summary",
        "metadata": "Study",
        "consort": "Participant flow",
        "consort_caption": "CONSORT flow diagram.",
        "reconciliation": "Reconciliation of the counts",
        "check": "Check",
        "expected": "Expected",
        "reported": "Reported",
        "difference": "Difference",
        "ok": "Adds up",
        "yes": "yes",
        "no": "no",
        "flow_ok": "Every stage follows from the one before.",
        "flow_bad": "The counts do not add up:",
        "balance": "Baseline balance",
        "balance_caption": "Standardised mean differences (love plot).",
        "variable": "Variable",
        "level": "Level",
        "n": "n",
        "count": "Count",
        "percent": "Percent",
        "mean": "Mean",
        "sd": "SD",
        "smd": "SMD",
        "p_value": "p",
        "omnibus": "Omnibus randomisation test",
        "estimates": "Planned estimates",
        "outcome": "Outcome",
        "role": "Role",
        "estimator": "Estimator",
        "term": "Term",
        "estimate": "Effect",
        "ratio": "Ratio",
        "ci": "{level} CI",
        "p_raw": "p",
        "p_adjusted": "p (adjusted)",
        "family": "Family",
        "primary": "primary",
        "secondary": "secondary",
        "forest_caption": "Every planned estimate with its confidence interval, one panel per outcome.",
        "rounded_up": "rounded up",
        "figures": "Figures",
        "power": "Power calculation",
        "calculator": "Calculator",
        "method": "Method",
        "solved": "Solved for",
        "value": "Value",
        "given": "Given",
        "information_fraction": "Information fraction",
        "log_head": "Allocation log",
        "head": "Head hash",
        "pinned": "Head in the plan",
        "log_match": "The allocation log is the one the plan names.",
        "log_differ": "The allocation log differs from the one the plan names.",
        "log_unpinned": "The plan names no allocation-log head.",
        "deviations": "Deviations from the plan",
        "none": "none",
        "se_type": "SE type",
        "df": "df",
        "warnings": "Warnings",
        "generated": "Report written by effekt",
        "treated": "Treated",
        "control": "Control",
        "difference_short": "Difference",
    },
    "da": {
        "abstract": "Sammenfatning",
        "metadata": "Undersøgelsen",
        "consort": "Deltagerflow",
        "consort_caption": "CONSORT-flowdiagram.",
        "reconciliation": "Afstemning af antallene",
        "check": "Kontrol",
        "expected": "Forventet",
        "reported": "Opgjort",
        "difference": "Forskel",
        "ok": "Stemmer",
        "yes": "ja",
        "no": "nej",
        "flow_ok": "Hvert trin følger af det foregående.",
        "flow_bad": "Antallene stemmer ikke:",
        "balance": "Balance ved baseline",
        "balance_caption": "Standardiserede forskelle i gennemsnit (love plot).",
        "variable": "Variabel",
        "level": "Niveau",
        "n": "Antal",
        "count": "Antal",
        "percent": "Procent",
        "mean": "Gennemsnit",
        "sd": "SD",
        "smd": "SMD",
        "p_value": "p",
        "omnibus": "Samlet randomiseringstest",
        "estimates": "Planlagte estimater",
        "outcome": "Udfald",
        "role": "Rolle",
        "estimator": "Estimator",
        "term": "Led",
        "estimate": "Effekt",
        "ratio": "Forhold",
        "ci": "{level} KI",
        "p_raw": "p",
        "p_adjusted": "p (justeret)",
        "family": "Familie",
        "primary": "primært",
        "secondary": "sekundært",
        "forest_caption": "Alle planlagte estimater med konfidensinterval, ét panel pr. udfald.",
        "rounded_up": "rundet op",
        "figures": "Figurer",
        "power": "Styrkeberegning",
        "calculator": "Beregning",
        "method": "Metode",
        "solved": "Løst for",
        "value": "Værdi",
        "given": "Givet",
        "information_fraction": "Informationsandel",
        "log_head": "Lodtrækningslog",
        "head": "Hash for seneste post",
        "pinned": "Hash i planen",
        "log_match": "Lodtrækningsloggen er den, planen nævner.",
        "log_differ": "Lodtrækningsloggen er en anden end den, planen nævner.",
        "log_unpinned": "Planen nævner ingen hash for lodtrækningsloggen.",
        "deviations": "Afvigelser fra planen",
        "none": "ingen",
        "se_type": "SE-type",
        "df": "fg",
        "warnings": "Advarsler",
        "generated": "Rapport skrevet af effekt",
        "treated": "Indsats",
        "control": "Kontrol",
        "difference_short": "Forskel",
    },
}


def check_language(language: str) -> str:
    """``language`` if it is one effekt writes, else a :class:`DataError` listing them."""
    if language not in LANGUAGES:
        raise DataError(f"language={language!r} is not one effekt writes; use one of {', '.join(map(repr, LANGUAGES))}.")
    return language


def label(key: str, language: str = "en") -> str:
    """The word for ``key`` in ``language`` (English when a word is missing)."""
    check_language(language)
    return _LABELS[language].get(key, _LABELS["en"].get(key, key))


def _finite(x: Any) -> float | None:
    if x is None:
        return None
    try:
        value = float(x)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _group(digits_text: str, sep: str) -> str:
    head = len(digits_text) % 3 or 3
    parts = [digits_text[:head]] + [digits_text[i : i + 3] for i in range(head, len(digits_text), 3)]
    return sep.join(parts)


def format_number(x: Any, digits: int = 3, language: str = "en", *, thousands: bool = False) -> str:
    """``x`` with ``digits`` decimals, rounded half up, in ``language``'s notation.

    The shortest text that reads back as ``x`` is rounded half away from
    zero in decimal (module notes): ``0.125`` gives ``0.13`` and ``2.675``
    gives ``2.68`` at two digits, where Python's own formatting gives
    ``0.12`` and ``2.67``. ``thousands=True`` groups the integer part.
    Missing, NaN and infinite values print as an en dash; a rounded zero
    never carries a minus sign.

    >>> format_number(0.125, 2, "da")
    '0,13'
    >>> format_number(2.675, 2)
    '2.68'
    >>> format_number(-1234.5, 1, "da", thousands=True)
    '-1.234,5'
    >>> format_number(float("nan"))
    '–'
    """
    check_language(language)
    if isinstance(digits, bool) or not isinstance(digits, int) or digits < 0:
        raise DataError(f"digits must be a whole number 0 or more; got {digits!r}.")
    value = _finite(x)
    if value is None:
        return MISSING
    rounded = Decimal(repr(value)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    negative = rounded < 0
    text = f"{abs(rounded):f}"
    whole, _, frac = text.partition(".")
    point, sep = (",", ".") if language == "da" else (".", ",")
    if thousands:
        whole = _group(whole, sep)
    out = whole + (point + frac if frac else "")
    return ("-" if negative else "") + out


def format_value(x: Any, language: str = "en", *, significant: int = 4) -> str:
    """A quantity given to a calculation, as short as it is exact: ``0.3``, ``20``, ``0.0125``.

    Whole numbers print without decimals (grouped in thousands), others
    with up to ``significant`` significant digits and no trailing zeros,
    rounded half up like :func:`format_number`; text and flags print as
    they are.

    >>> format_value(0.3), format_value(2.0), format_value(0.012345, "da")
    ('0.3', '2', '0,01235')
    """
    if isinstance(x, bool) or x is None or isinstance(x, str):
        return str(x)
    value = _finite(x)
    if value is None:
        return MISSING if not isinstance(x, (tuple, list)) else ", ".join(format_value(v, language) for v in x)
    if value.is_integer() and abs(value) < 1e15:
        return format_number(value, 0, language, thousands=True)
    digits = max(0, significant - 1 - math.floor(math.log10(abs(value))))
    text = format_number(value, digits, language, thousands=True)
    point = "," if language == "da" else "."
    if point in text:
        text = text.rstrip("0").rstrip(point)
    return text


def format_count(n: Any, language: str = "en") -> str:
    """A whole number with the thousands separator of ``language``: ``1,234`` / ``1.234``."""
    return format_number(n, 0, language, thousands=True)


def format_p(p: Any, language: str = "en", *, digits: int = 3) -> str:
    """A p-value: ``digits`` decimals, or ``< 0.001`` below the smallest shown.

    >>> format_p(0.0004), format_p(0.04567, "da")
    ('< 0.001', '0,046')
    """
    value = _finite(p)
    if value is None:
        return MISSING
    floor = 10.0**-digits
    if value < floor:
        return "< " + format_number(floor, digits, language)
    return format_number(value, digits, language)


def format_ci(low: Any, high: Any, digits: int = 3, language: str = "en") -> str:
    """A confidence interval: ``[0.12, 0.34]``; Danish ``[0,12; 0,34]`` (the comma is taken)."""
    sep = "; " if language == "da" else ", "
    return f"[{format_number(low, digits, language)}{sep}{format_number(high, digits, language)}]"
