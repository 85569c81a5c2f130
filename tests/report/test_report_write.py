"""The report writes one self-contained HTML file and its figures, the same every run."""

import re

import pytest

from effekt.design.consort import ConsortFlow
from effekt.errors import DataError
from effekt.report import PlannedEstimate, Report
from effekt.result import EffectResult


def _result(est=1.25, se=0.5, estimator="difference_in_means", **kw):
    return EffectResult.from_t(est, se, df=98, estimator=estimator, estimand="ate", term="z", n=100,
                               se_type="HC2", **kw)


def _flow():
    # The Copenhagen resource-course trial (VIVE 2019, section 2.1): 223 - 4 != 218
    return ConsortFlow(randomised=223, excluded_after={"not in the target group": 4},
                       allocated={"intervention": 109, "control": 109},
                       lost={"intervention": {"moved away": 2}, "control": {"moved away": 7}})


def _report(language="en"):
    rep = Report("A trial", language=language, metadata={"registration": "none"})
    rep.add_consort(_flow())
    rep.add_estimates([
        PlannedEstimate("y", "primary", "difference_in_means", _result(), p_adjusted=0.031, family="main"),
        PlannedEstimate("y2", "secondary", "lm_lin", _result(1.0, 0.4, "lm_lin"), label="Second outcome"),
    ])
    rep.add_log_head("abc123", pinned="abc124")
    return rep


def test_write_makes_html_and_figures(tmp_path):
    path = _report().write(tmp_path)
    assert path == tmp_path / "report.html"
    names = sorted(p.name for p in (tmp_path / "figures").iterdir())
    assert names == ["consort.png", "consort.svg", "forest.png", "forest.svg"]
    text = path.read_text()
    assert text.count("<img ") == 2
    assert not re.search(r"""(src|href)\s*=\s*["']?https?://""", text)
    assert "Second outcome" in text and "0.031" in text
    # deviations are always shown, "none" when none were listed
    assert "Deviations from the plan" in text and "<p>none</p>" in text
    assert "differs from the one the plan names" in text
    # no temporary file is left behind
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".")]


def test_rerun_is_byte_identical(tmp_path):
    _report().write(tmp_path / "a")
    _report().write(tmp_path / "b")
    for p in (tmp_path / "a").rglob("*"):
        if p.is_file():
            assert p.read_bytes() == (tmp_path / "b" / p.relative_to(tmp_path / "a")).read_bytes(), p.name


def test_danish_report_uses_danish_words_and_decimal_comma(tmp_path):
    text = _report("da").write(tmp_path).read_text()
    assert '<html lang="da">' in text
    assert "Afvigelser fra planen" in text and "ingen" in text
    assert "Effekt" in text and "Forskel" in text
    assert "1,250" in text and "0,031" in text
    assert "randomiseret - ekskluderet efter = tildelt" in text  # the reconciliation, in Danish
    assert "men 218 er tildelt (forskel 1)" in text


def test_deviations_listed(tmp_path):
    rep = Report("A trial")
    rep.add_deviations(["outcome 'y3' is not in the data", "estimator changed"])
    text = rep.write(tmp_path).read_text()
    assert "<li>outcome &#x27;y3&#x27; is not in the data</li>" in text
    assert text.count('id="deviations"') == 1


@pytest.mark.parametrize("name", ["", "../x", "a b", "/abs"])
def test_bad_figure_name(name):
    rep = Report("A trial")
    with pytest.raises(DataError, match="file name"):
        rep.add_figure(name, _flow(), "caption")


def test_duplicate_figure_name():
    rep = Report("A trial")
    rep.add_figure("flow", _flow(), "caption")
    with pytest.raises(DataError, match="already in the report"):
        rep.add_figure("flow", _flow(), "again")


def test_figure_object_without_plot():
    with pytest.raises(DataError, match="matplotlib Figure or a result"):
        Report("A trial").add_figure("x", 3, "caption")


def test_result_without_picture_is_refused():
    with pytest.raises(Exception, match="no picture"):
        Report("A trial").add_figure("x", _result(), "caption")


def test_bad_language_and_title():
    with pytest.raises(DataError, match="'en', 'da'"):
        Report("A trial", language="de")
    with pytest.raises(DataError, match="title"):
        Report("")


def test_estimates_need_planned_rows():
    with pytest.raises(DataError, match="PlannedEstimate"):
        Report("A trial").add_estimates([_result()])


# ---------------------------------------------------------------- the full report

def test_full_report_sections_and_automatic_figures(full, report_dir):
    rep = full
    assert rep.sections == ["text", "consort", "balance", "estimates", "power", "log_head", "deviations"]
    assert rep.figures == ["consort", "balance", "weeks-kaplan_meier", "exit-aalen_johansen", "forest", "power"]
    for name in rep.figures:
        png = (report_dir / "figures" / f"{name}.png").read_bytes()
        svg = (report_dir / "figures" / f"{name}.svg").read_text()
        assert png.startswith(b"\x89PNG") and b"Software" not in png
        assert svg.lstrip().startswith("<?xml") and "<dc:date>" not in svg
    text = (report_dir / "report.html").read_text()
    assert text.count('<img src="data:image/svg+xml;base64,') == len(rep.figures)
    assert "p (adjusted)" in text and "Information fraction" in text and "rounded up: 176" in text
    assert "The allocation log is the one the plan names." in text
    assert "<li>the outcome &#x27;benefit&#x27; is not in the data</li>" in text


def test_danish_report_uses_antal_and_procent():
    import effekt as ef
    from effekt.design.balance import balance_table

    from .conftest import trial

    rep = _report("da")
    rep.add_balance(balance_table(trial(), covariates=["age", "sex"], treatment="arm", arms=("usual", "course"),
                                  sims=50, seed=1))
    power = ef.power("two_means", d=0.3, power=0.8)
    rep.add_power(power, information_fraction=240 / (2 * float(power)))
    text = rep.to_html()
    for word in ("Antal", "Procent", "Gennemsnit", "Deltagerflow", "Planlagte estimater", "Styrkeberegning",
                 "Informationsandel", "p (justeret)", "Lodtrækningslog"):
        assert word in text, word
    assert "68,4%" in text


def test_full_report_rerun_is_byte_identical(tmp_path, report_dir):
    from .conftest import full_report

    full_report().write(tmp_path)
    for p in report_dir.rglob("*"):
        if p.is_file():
            assert p.read_bytes() == (tmp_path / p.relative_to(report_dir)).read_bytes(), p.name


def test_interrupted_write_leaves_no_half_written_file(tmp_path, monkeypatch):
    import effekt.report._report as module

    rep = _report()
    rep.write(tmp_path)
    before = (tmp_path / "report.html").read_bytes()
    calls = {"n": 0}
    real = module.figure_bytes

    def failing(fig, fmt):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(fig, fmt)

    monkeypatch.setattr(module, "figure_bytes", failing)
    rep.add_text("Later", "more")
    with pytest.raises(KeyboardInterrupt):
        rep.write(tmp_path)
    assert (tmp_path / "report.html").read_bytes() == before  # the old report, whole
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".")]


def test_add_figure_takes_a_figure_or_a_result(tmp_path):
    from effekt.plotting import figure_and_axes

    fig, ax = figure_and_axes()
    ax.plot([0, 1], [0, 1])
    rep = Report("A trial")
    rep.add_figure("line", fig, "A line.")
    rep.add_figure("flow", _flow(), "The flow.")
    rep.write(tmp_path)
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == ["flow.png", "flow.svg", "line.png", "line.svg"]
    assert "<figcaption>A line.</figcaption>" in (tmp_path / "report.html").read_text()


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"p_adjusted": 1.5}, "p_adjusted must lie in"),
    ({"p_adjusted": "small"}, "p_adjusted must lie in"),
    ({"outcome": ""}, "outcome="),
])
def test_planned_estimate_bad_input(kwargs, match):
    args = {"outcome": "y", "role": "primary", "estimator": "difference_in_means", "result": _result(), **kwargs}
    with pytest.raises(DataError, match=match):
        PlannedEstimate(**args)


def test_estimates_of_a_result_without_an_interval(tmp_path):
    class Bare:
        estimate, p_value, n = 0.5, 0.2, 40

    rep = Report("A trial")
    rep.add_estimates([PlannedEstimate("y", "exploratory", "custom", Bare())])
    text = rep.write(tmp_path).read_text()
    assert "<td>0.500</td>" in text and "exploratory" in text
