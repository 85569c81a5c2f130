"""The vocabulary: one name per concept, values checked before any work, plugins add names."""

import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import effekt as ef
from effekt import vocabulary
from effekt.data import check_columns
from effekt.errors import DesignError
from effekt.result import EffectResult
from effekt.testing import check_estimator
from effekt.vocabulary import Choice, Number, Term, validated

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_docs_page_is_generated_from_the_module():
    # regenerate with: python -m effekt.vocabulary > docs/vocabulary.md
    assert (DOCS / "vocabulary.md").read_text() == vocabulary.markdown()


@pytest.mark.parametrize(
    ("option", "value"),
    [("alpha", "0.05"), ("alpha", 0.0), ("alpha", True), ("sims", 2.5), ("sims", 0), ("seed", "abc"),
     ("seed", -1), ("horizon", "52"), ("horizon", [52, "x"]), ("missing", "ignore"), ("arms", ("a", "a")),
     ("covariates", [["x"]]), ("se_type", "HC9"), ("alternative", "larger")],
)
def test_constraints_refuse_bad_values_naming_the_option(option, value):
    c = vocabulary.term(option).constraint
    with pytest.raises(DesignError, match=rf"demo: {option}="):
        c.check(value, option, "demo")


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [("alpha", 0.1, 0.1), ("sims", np.int64(99), 99), ("seed", np.random.default_rng(1), None),
     ("horizon", [26, 52.5], [26, 52.5]), ("arms", ["CAB", "JKI"], ("CAB", "JKI")),
     ("inference", "randomization", "randomisation"), ("covariates", "age", "age")],
)
def test_constraints_accept_and_normalise(option, value, expected):
    out = vocabulary.term(option).constraint.check(value, option, "demo")
    if expected is not None:
        assert out == expected


def test_unknown_term_suggests_nearest():
    with pytest.raises(DesignError, match="Did you mean 'horizon'"):
        vocabulary.term("horizons")


def test_every_core_term_is_documented():
    for t in vocabulary.terms().values():
        assert t.meaning.strip() and t.default.strip(), t.name
        assert t.constraint.describe()


def test_power_aliases_point_at_terms():
    known = vocabulary.terms()
    assert all(canonical in known for canonical in vocabulary.POWER_ALIASES.values())


def test_clashes_are_resolved():
    known = vocabulary.terms()
    # each concept one name: the old spellings are not terms
    for old in ("aggregate", "horizons", "tau", "model", "ci", "n_permutations", "n_resamples"):
        assert old not in known, old
    assert "period" in known and "first_treated" in known and "positive" in known
    assert "survival" in known["time"].meaning and "period" in known["time"].why


class _Rogue:
    """A plugin estimator with an option the vocabulary does not know.

    Parameters
    ----------
    outcome : str
        The outcome column.
    treatment : str
        The arm.
    arms : tuple, default=None
        Arm labels.
    trimming : float, default=0.1
        Share trimmed (not a vocabulary term).
    alpha : float, default=0.05
        Significance level.
    """

    name = "rogue"
    estimand = "ate"
    kind = "itt"

    @validated
    def fit(self, data, *, outcome, treatment, arms=None, trimming=0.1, alpha=0.05):
        cols = check_columns(data, outcome=outcome, treatment=treatment, arms=arms)
        y1, y0 = cols.y[cols.z == 1], cols.y[cols.z == 0]
        se = float(np.sqrt(y1.var(ddof=1) / y1.size + y0.var(ddof=1) / y0.size))
        return EffectResult.from_t(y1.mean() - y0.mean(), se, None, alpha=alpha, estimator=self.name,
                                   estimand="ate", term="z", n=cols.n, n_treated=cols.n_treated,
                                   n_control=cols.n_control, design="simple", se_type="HC2")


def test_conformance_rejects_an_option_outside_the_vocabulary():
    results = check_estimator(_Rogue, checks=["check_vocabulary", "check_result"], raise_on_failure=False)
    status = {r.check: r for r in results}
    assert status["check_result"].passed
    assert status["check_vocabulary"].failed
    assert "'trimming' is not in effekt's vocabulary" in status["check_vocabulary"].message


def test_conformance_accepts_it_once_a_plugin_registers_the_term(tmp_path, monkeypatch):
    info = tmp_path / "rogue_terms-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: rogue-terms\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(textwrap.dedent("""
        [effekt.vocabulary]
        rogue = rogue_terms:TERMS
        """))
    (tmp_path / "rogue_terms.py").write_text(textwrap.dedent("""
        from effekt.vocabulary import Number, Term
        TERMS = (Term("trimming", "Share of each tail trimmed.", Number(low=0, high=0.5, high_open=True),
                      "0.1", "A robust mean.", ("rogue",), source="rogue-terms"),)
        """))
    monkeypatch.syspath_prepend(str(tmp_path))
    vocabulary.refresh()
    try:
        assert vocabulary.term("trimming").source == "rogue-terms"
        (result,) = check_estimator(_Rogue, checks=["check_vocabulary"], raise_on_failure=False)
        assert result.passed, result.message
        assert "`trimming`" in vocabulary.markdown()
        df = pd.DataFrame({"y": np.arange(8.0), "z": [0, 1] * 4})
        with pytest.raises(DesignError, match="trimming=0.7"):
            _Rogue().fit(df, outcome="y", treatment="z", trimming=0.7)
    finally:
        sys.modules.pop("rogue_terms", None)
        vocabulary.refresh()


def test_a_plugin_cannot_redefine_a_term(tmp_path, monkeypatch):
    info = tmp_path / "bad_terms-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: bad-terms\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[effekt.vocabulary]\nbad = bad_terms:TERMS\n")
    (tmp_path / "bad_terms.py").write_text(
        "from effekt.vocabulary import Flag, Term\nTERMS = (Term('time', 'a calendar year', Flag()),)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    vocabulary.refresh()
    try:
        assert vocabulary.term("time").source == "effekt"
        assert any("bad-terms redefines 'time'" in p for p in vocabulary.problems())
    finally:
        sys.modules.pop("bad_terms", None)
        vocabulary.refresh()


class _Narrow:
    """An estimator that narrows se_type.

    Parameters
    ----------
    outcome : str
        Outcome.
    se_type : str, default=None
        HC2 or HC3 only.
    """

    name = "narrow"
    options = {"se_type": Choice(("HC2", "HC3"), none_ok=True), "alpha": Number(low=0, high=0.2, low_open=True)}

    @validated
    def fit(self, data, *, outcome, se_type=None, alpha=0.05):
        return se_type


def test_an_estimator_narrows_a_constraint():
    assert _Narrow().fit(None, outcome="y", se_type="HC3") == "HC3"
    with pytest.raises(DesignError, match="narrow: se_type='CR2' is not valid; se_type must be one of 'HC2', 'HC3'"):
        _Narrow().fit(None, outcome="y", se_type="CR2")
    with pytest.raises(DesignError, match="narrow: alpha=0.3"):
        _Narrow().fit(None, outcome="y", alpha=0.3)
    with pytest.raises(DesignError, match="narrow takes no option 'se_typ'. Did you mean 'se_type'"):
        _Narrow().fit(None, outcome="y", se_typ="HC2")
    with pytest.raises(DesignError, match="narrow needs outcome="):
        _Narrow().fit(None)


def test_validated_through_the_registry_before_any_work():
    df = pd.DataFrame({"y": [1.0, 2, 3, 4], "z": [0, 1, 0, 1]})
    with pytest.raises(DesignError, match="alpha='0.05'"):
        ef.estimate("difference_in_means", data=df, outcome="y", treatment="z", alpha="0.05")


def test_estimand_and_design_codes_have_labels():
    assert vocabulary.display("estimand", "ate") == "average treatment effect"
    assert vocabulary.display("design", "block_clustered") == "blocked and clustered"
    assert vocabulary.display("design", None) == "-"


def test_term_is_frozen():
    t = Term("x", "y", Number())
    with pytest.raises(AttributeError):
        t.name = "z"  # type: ignore[misc]


@pytest.mark.parametrize(("old", "new"), [("aggregate", "aggregation"), ("n_permutations", "sims"), ("horizons", "horizon")])
def test_a_retired_name_points_at_its_successor(old, new):
    hint = vocabulary.retired_hint(old, [new, "alpha"])
    assert f"{old}= is now {new}" in hint


def test_a_retired_name_passed_to_an_estimator():
    df = pd.DataFrame({"y": [1.0, 2, 3, 4], "z": [0, 1, 0, 1], "u": [1, 1, 2, 2], "t": [1, 2, 1, 2]})
    with pytest.raises(DesignError, match="time= is now period"):
        ef.estimate("twfe", data=df, outcome="y", unit="u", time="t", treatment="z")


def test_frames_in_extra_cannot_be_edited():
    from effekt.result import EffectResult

    frame = pd.DataFrame({"block": [1, 2], "n": [10, 12]})
    res = EffectResult.from_z(1.0, 0.5, estimator="demo", estimand="ate", term="z", n=22, extra={"blocks": frame})
    handed_out = res.extra["blocks"]
    handed_out.iloc[0, 1] = -999
    handed_out["new"] = 1
    assert res.extra["blocks"].equals(frame) and res.to_dict()["extra"]["blocks"][0] == {"block": 1, "n": 10}


def test_summary_names_the_cause_horizon_and_reference_levels():
    from effekt.result import EffectResult

    res = EffectResult.from_z(0.1, 0.05, estimator="aalen_johansen", estimand="cumulative_incidence_difference",
                              term="z", n=100, extra={"cause": "job", "horizon": 26, "reference_levels": {"sector": "build"}})
    assert "cause: 'job'; horizon: 26; reference levels: sector = 'build'" in res.summary()
