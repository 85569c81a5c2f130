"""Bad input never crashes an estimator, never gives a silent NaN, never leaks a numpy warning.

The fuzzer (``fuzzing.py``) discovers every registered estimator through
``effekt.available()`` and mutates its own synthetic data and options; see
that module for the mutations. The CI run has a case budget
(``fuzzing.CI_BUDGET``); ``EFFEKT_RELIABILITY=full`` runs ``FULL_BUDGET``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import fuzzing  # noqa: E402


def test_every_estimator_survives_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    outcome = fuzzing.fuzz()
    with capsys.disabled():
        print("\n" + fuzzing.report(outcome, limit=40))
    assert outcome.cases >= 10_000
    assert not outcome.unnamed, fuzzing.report(outcome)
    assert not outcome.other_exceptions, fuzzing.report(outcome)
    assert not outcome.silent_non_finite, fuzzing.report(outcome)
    assert not outcome.leaked_warnings, fuzzing.report(outcome)


def test_a_message_must_name_what_the_case_broke() -> None:
    # the check itself: a quoted column, an option as a word, a row count or label
    column = fuzzing.Broke(columns=("y",))
    assert column.named_in("outcome column 'y' has 1 missing value (row 3).")
    assert not column.named_in("the outcome has 1 missing value.")
    assert not column.named_in("column 'yy' is constant")
    option = fuzzing.Broke(options=("alpha",))
    assert option.named_in("alpha must be a number between 0 and 1; got 2.")
    assert not option.named_in("the level must lie in (0, 1).")
    rows = fuzzing.Broke(rows=(0,))
    assert rows.named_in("the data have no rows.") and rows.named_in("the frame is empty")
    assert fuzzing.Broke(rows=(3,)).named_in("3 rows cannot estimate 4 parameters")
    assert not fuzzing.Broke(rows=(3,)).named_in("30 rows cannot estimate 4 parameters")


def test_every_registered_estimator_is_fuzzed() -> None:
    names = fuzzing.estimators()
    assert "difference_in_means" in names and "cox" in names and "did_2x2" in names
    for name in names:
        assert next(iter(fuzzing.cases(name, 0))).label == "base"
