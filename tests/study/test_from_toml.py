"""Reading a study file: every error names the file, the line and the key, before any work."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from effekt.errors import DesignError
from effekt.study import Study, StudyError
from effekt.study._lines import find_line

from .conftest import MINIMAL, write


def replace(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """1-based line of the nth line containing needle (of the dedented text as written)."""
    import textwrap

    hits = [i for i, line in enumerate(textwrap.dedent(text).lstrip("\n").splitlines(), start=1) if needle in line]
    return hits[nth - 1]


def test_minimal_study_reads(small: Path) -> None:
    study = Study.from_toml(small)
    assert study.title == "A small trial" and study.treatment == "z"
    assert [a.key for a in study.analyses] == ["activity_hours/difference_in_means", "complaint/chi2"]
    assert study.analyses[1].family == "secondary"  # the role is the default family
    assert study.data.format == "csv" and study.data.path == small.parent / "trial.csv"


# (edit of MINIMAL, the line to point at (needle, nth), the key named, a phrase of the message)
CASES = [
    pytest.param(("[study]\n", "[study]\ncolour = 'red'\n"), ("colour", 1), "study.colour", "unknown key", id="unknown-key"),
    pytest.param(("title =", "titel ="), ("titel", 1), "study.titel", "Did you mean 'title'", id="did-you-mean"),
    pytest.param(('estimator = "chi2"', 'estimator = "chi2"\nrole_ = "x"'), ("role_", 1), "outcomes[2].role_",
                 "Did you mean 'role'", id="unknown-key-second-outcome"),
    pytest.param(('treatment = "z"', "treatment = 1"), ("treatment = 1", 1), "design.treatment", "must be text; got a whole number",
                 id="wrong-type"),
    pytest.param(('role = "secondary"', 'role = "tertiary"'), ("tertiary", 1), "outcomes[2].role", "is not one of",
                 id="bad-choice"),
    pytest.param(('estimator = "chi2"', 'estimator = "chi3"'), ("chi3", 1), "outcomes[2].estimator",
                 "no estimator named 'chi3'", id="unknown-estimator"),
    pytest.param(('correction = "none"', 'correction = "none", colour = "red"'), ("colour", 1), "outcomes[2].options.colour",
                 "chi2 takes no option 'colour'", id="unknown-option"),
    pytest.param(('correction = "none"', 'correction = "sometimes"'), ("sometimes", 1), "outcomes[2].options.correction",
                 "correction", id="bad-option-value"),
    pytest.param(('options = { blocks = "batch" }', 'options = { blocks = "batch", treatment = "w" }'), ("treatment = \"w\"", 1),
                 "outcomes[1].options.treatment", "set by the plan", id="option-the-plan-sets"),
    pytest.param(('path = "trial.csv"', 'path = "../trial.csv"'), ("../trial.csv", 1), "data.path", "outside the study folder",
                 id="path-escape"),
    pytest.param(('path = "trial.csv"', 'path = "/etc/passwd"'), ("/etc/passwd", 1), "data.path", "outside the study folder",
                 id="absolute-path-outside"),
    pytest.param(('path = "trial.csv"', 'path = "trial.csv"\nsep = ";"\ntable = "t"'), ("table", 1), "data.table",
                 "database option", id="table-for-a-csv"),
    pytest.param(('path = "trial.csv"', 'url = "sqlite:///t.sqlite"\nquery = "DELETE FROM t"'), ("DELETE", 1), "data.query",
                 "must be a SELECT", id="query-not-select"),
    pytest.param(('type = "binary"', 'type = "time_to_event"'), ("[[outcomes]]", 2), "outcomes[2]", "needs time =",
                 id="time-to-event-without-time"),
    pytest.param(('[design]\n', '[design]\nbalance = "age"\n'), ("balance", 1), "design.balance", "must be a list of text",
                 id="balance-not-a-list"),
    pytest.param(('blocks = "batch"\n', 'blocks = "batch"\n[design.log]\npath = "a.jsonl"\npin = "12:abc"\n'), ("pin", 1),
                 "design.log.pin", "must look like", id="bad-pin"),
    pytest.param(('name = "complaint"\nrole = "secondary"\ntype = "binary"\nestimator = "chi2"\noptions = { correction = "none" }',
                  'name = "activity_hours"\nrole = "secondary"\ntype = "continuous"\nestimator = "difference_in_means"'),
                 ('estimator = "difference_in_means"', 2),
                 "outcomes[2].estimator", "twice", id="duplicate-analysis"),
    pytest.param(('type = "binary"', 'type = "binary"\nhorizon = 52'), ("horizon", 1), "outcomes[2].horizon", "takes no horizon",
                 id="horizon-the-estimator-ignores"),
]


@pytest.mark.parametrize(("edit", "where", "key", "phrase"), CASES)
def test_errors_name_the_key_and_the_line(tmp_path: Path, edit, where, key, phrase) -> None:
    text = replace(MINIMAL, *edit)
    path = write(tmp_path, text)
    with pytest.raises(StudyError) as info:
        Study.from_toml(path)
    err = info.value
    expected_line = line_of(text, *where)
    assert isinstance(err, DesignError)
    assert err.key == key and err.line == expected_line, str(err)
    assert str(err).startswith(f"study.toml:{expected_line}: {key}: "), str(err)
    assert phrase in str(err)


def test_missing_required_key_names_the_table(tmp_path: Path) -> None:
    text = replace(MINIMAL, 'title = "A small trial"\n', "")
    with pytest.raises(StudyError, match=r"study.toml:1: study: needs the key 'title'"):
        Study.from_toml(write(tmp_path, text))


def test_not_toml_and_not_there(tmp_path: Path) -> None:
    with pytest.raises(StudyError, match="not valid TOML"):
        Study.from_toml(write(tmp_path, "[study\ntitle = 1"))
    with pytest.raises(StudyError, match="does not exist"):
        Study.from_toml(tmp_path / "none.toml")


def test_nothing_is_executed_from_the_file(tmp_path: Path) -> None:
    # a value that looks like code is text; an unknown table is refused, not imported or evaluated
    text = replace(MINIMAL, 'title = "A small trial"', 'title = "__import__(\'os\').system(\'touch pwned\')"')
    study = Study.from_toml(write(tmp_path, text))
    assert study.title.startswith("__import__") and not (tmp_path / "pwned").exists()


def test_symlink_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.csv").write_text("id,z\n1,0\n")
    folder = tmp_path / "study"
    folder.mkdir()
    (folder / "data.csv").symlink_to(outside / "secret.csv")
    text = replace(MINIMAL, 'path = "trial.csv"', 'path = "data.csv"')
    with pytest.raises(StudyError, match="outside the study folder"):
        Study.from_toml(write(folder, text))


def test_sqlite_url_resolves_inside_the_folder(tmp_path: Path) -> None:
    text = replace(MINIMAL, 'path = "trial.csv"', 'url = "sqlite:///sub/trial.sqlite"\ntable = "trial"')
    study = Study.from_toml(write(tmp_path, text))
    assert study.data.format == "sql" and study.data.url == f"sqlite:///{tmp_path / 'sub' / 'trial.sqlite'}"
    text = replace(MINIMAL, 'path = "trial.csv"', 'url = "sqlite:///../trial.sqlite"\ntable = "trial"')
    with pytest.raises(StudyError, match="data.url: '../trial.sqlite' is outside"):
        Study.from_toml(write(tmp_path, text))


def test_power_calculator_and_inputs_are_checked(tmp_path: Path) -> None:
    good = MINIMAL + '\n[power]\ncalculator = "two_proportions"\ninputs = { p1 = 0.1, n = 100, power = 0.8 }\nplanned_n = 200\n'
    study = Study.from_toml(write(tmp_path, good))
    assert study.power is not None and study.power.planned_n == 200
    bad = replace(good, '"two_proportions"', '"two_proportion"')
    with pytest.raises(StudyError, match=r"study.toml:\d+: power.calculator: no power calculator named 'two_proportion' is installed. "
                                         r"Did you mean 'two_proportions'"):
        Study.from_toml(write(tmp_path, bad))
    bad = replace(good, "power = 0.8 }", "power = 1.8 }")
    with pytest.raises(StudyError, match="power.inputs.power: .*power"):
        Study.from_toml(write(tmp_path, bad))


def test_find_line_tables_arrays_and_inline_tables() -> None:
    text = "a = 1\n[x]\nb = 2\n[[o]]\nk = 1\n[[o]]\nk = 2\n[o.opt]\nq = 3\n[x.y]\n'c' = 4\nd = { e = 5 }\n"
    assert find_line(text, (), "a") == 1
    assert find_line(text, ("x",), "b") == 3
    assert find_line(text, ("o", 0), "k") == 5 and find_line(text, ("o", 1), "k") == 7
    assert find_line(text, ("o", 1, "opt"), "q") == 9
    assert find_line(text, ("x", "y"), "c") == 11
    assert find_line(text, ("x", "y", "d"), "e") == 12
    assert find_line(text, ("o", 1)) == 6 and find_line(text, ("z",), "none") is None


def test_every_case_has_its_own_line() -> None:
    # the error cases point at different places of the file: the line finder does not return one line for all
    lines = {line_of(replace(MINIMAL, *c.values[0]), *c.values[1]) for c in CASES}
    assert len(lines) > 5 and all(re.match(r"^[\w\[\].]+$", c.values[2]) for c in CASES)
