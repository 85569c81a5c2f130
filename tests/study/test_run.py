"""Running a study: results.json, the report, deviations, re-runs and interrupted runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import effekt as ef
from effekt.examples import load_trial
from effekt.study import Study

from .conftest import write

EFFEKT = shutil.which("effekt") or str(Path(sys.executable).with_name("effekt"))


@pytest.fixture(scope="module")
def example_run(tmp_path_factory: pytest.TempPathFactory):
    """The bundled example run once into a report (module scope: the slowest step of these tests)."""
    from effekt.examples import write_study

    folder = tmp_path_factory.mktemp("run")
    study = Study.from_toml(write_study(folder))
    return study, study.run(folder / "out")


def test_example_writes_results_report_and_figures(example_run) -> None:
    study, run = example_run
    out = run.out
    assert sorted(p.name for p in out.iterdir()) == ["figures", "report.html", "results.json"]
    figures = {p.name for p in (out / "figures").iterdir()}
    for name in ("consort", "balance", "forest", "power", "clarification-kaplan_meier", "disability_pension-aalen_johansen"):
        assert {f"{name}.png", f"{name}.svg"} <= figures, name
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert [a["estimator"] for a in results["analyses"]] == [a.estimator for a in study.analyses]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert study.title in html and "16:fb6147c0" in html


def test_example_reproduces_the_report_numbers(example_run) -> None:
    _, run = example_run
    by = {(a["outcome"], a["estimator"]): a for a in run.results["analyses"]}
    # seed 004 notes, 4.10/table 8.8: complaints 3/109 vs 14/109, Pearson chi2 without correction = 7.720, p = 0.0055
    chi2 = by[("complaint", "chi2")]["result"]
    assert round(chi2["extra"]["statistic"], 3) == 7.720 and round(chi2["p_value"], 4) == 0.0055
    # seed 004 notes, 2.4: p1 = 0.10, n = 100 per arm, two-sided 5 %, 80 % -> detectable p2 = 0.2496
    assert run.results["power"]["solved"] == "p2" and round(run.results["power"]["value"], 4) == 0.2496
    assert run.results["information_fraction"] == pytest.approx(218 / 200)
    consort = run.results["consort"]
    assert consort["randomised"] == 218
    assert run.results["allocation_log"]["swapped_batches"] == ["3", "4", "5"]


def test_adjusted_p_values_within_each_family(example_run) -> None:
    study, run = example_run
    analyses = run.results["analyses"]
    for family in {a["family"] for a in analyses}:
        members = [a for a in analyses if a["family"] == family]
        raw = [m["result"].get("p_value", m["result"].get("headline", {}).get("p_value")) for m in members]
        expected = ef.adjust_pvalues(raw, study.method)["p.adjusted"].to_numpy()
        np.testing.assert_allclose([m["p_adjusted"] for m in members], expected, rtol=1e-12)
    secondary = [a for a in analyses if a["family"] == "secondary"]
    assert len(secondary) == 3 and any(a["p_adjusted"] > a["result"]["p_value"] for a in secondary)


def test_rerun_is_byte_identical_and_has_no_paths_or_times(example_run, tmp_path: Path) -> None:
    study, run = example_run
    again = study.run(tmp_path / "again")
    first = (run.out / "results.json").read_bytes()
    assert (tmp_path / "again" / "results.json").read_bytes() == first
    assert (run.out / "report.html").read_bytes() == (tmp_path / "again" / "report.html").read_bytes()
    text = first.decode("utf-8")
    assert str(study.folder) not in text and "/tmp" not in text and "T00:" not in text
    assert text == again.to_json()


def test_the_log_head_the_swap_are_deviations(example_run) -> None:
    _, run = example_run
    assert any("batches 3, 4, 5 (72 people)" in d for d in run.deviations)
    assert run.results["deviations"] == list(run.deviations)


def edited(example: Path, old: str, new: str, name: str) -> Study:
    text = example.read_text(encoding="utf-8")
    assert old in text, old
    return Study.from_toml(write(example.parent, text.replace(old, new, 1), name))


def test_a_different_log_head_is_a_deviation(example: Path) -> None:
    other = "16:" + "0" * 64
    study = edited(example, "16:fb6147c0a4973f1837e1a90651a6ab16b70a8207ff0651cb464d0dc4e32a001a", other, "pin.toml")
    run = study.run(None)
    [dev] = [d for d in run.deviations if "allocation log's head" in d]
    assert other in dev and "16:fb6147c0" in dev and "truncated, rolled back or rewritten" in dev


def test_an_outcome_the_data_lack_and_rows_dropped_are_deviations(example: Path) -> None:
    study = edited(example, 'name = "complaint"\nlabel = "Filed a complaint"\nrole = "secondary"\ntype = "binary"\nestimator = "chi2"',
                   'name = "complaints"\nlabel = "Filed a complaint"\nrole = "secondary"\ntype = "binary"\nestimator = "chi2"',
                   "lack.toml")
    data = study.load_data()
    data.loc[:4, "activity_hours"] = np.nan
    text = study.path.read_text().replace('covariates = ["female", "age"]\noptions = { blocks = "batch" }',
                                          'covariates = ["female", "age"]\noptions = { blocks = "batch", missing = "drop" }')
    study = Study.from_toml(write(study.folder, text, "lack.toml"))
    run = study.run(None, data=data)
    devs = "\n".join(run.deviations)
    assert "Filed a complaint (chi2): not analysed; the data have no column 'complaints'" in devs
    assert "Weekly activity hours (lm_robust): 5 row(s) with a missing value dropped" in devs
    # lin has no missing="drop" in the plan: it refuses the missing values, and that is a deviation too
    assert "Weekly activity hours (lin): not estimated:" in devs and "missing" in devs
    lm = next(a for a in run.results["analyses"] if a["estimator"] == "lm_robust")
    assert lm["rows_dropped"] == 5 and lm["result"]["n"] == 213


def test_changes_against_the_registered_plan_are_deviations(example: Path) -> None:
    text = example.read_text(encoding="utf-8")
    write(example.parent, text, "registered/plan.toml")
    (example.parent / "registered" / "allocation.jsonl").write_text("")  # the plan's folder need not hold the data
    changed = text.replace('estimator = "fisher"', 'estimator = "g_test"', 1)
    changed = changed.replace('options = { correction = "none" }', 'options = { correction = "yates" }', 1)
    changed = changed.replace('language = "en"', 'language = "en"\nregistered_plan = "registered/plan.toml"', 1)
    study = Study.from_toml(write(example.parent, changed, "changed.toml"))
    devs = study.run(None).deviations
    assert "complaint: estimator fisher of the registered plan was replaced by g_test." in devs
    assert "complaint (chi2): option correction changed from 'none' to 'yates' against the registered plan." in devs


def test_alternative_the_estimator_cannot_test_is_a_deviation(small: Path) -> None:
    text = small.read_text().replace('estimator = "difference_in_means"', 'estimator = "difference_in_means"\nalternative = "greater"')
    run = Study.from_toml(write(small.parent, text)).run(None)
    assert any("tests two-sided only" in d and "alternative='greater'" in d for d in run.deviations)
    fisher = text.replace('estimator = "chi2"\noptions = { correction = "none" }', 'estimator = "fisher"\nalternative = "less"')
    run = Study.from_toml(write(small.parent, fisher)).run(None)
    res = next(a for a in run.results["analyses"] if a["estimator"] == "fisher")["result"]
    direct = ef.estimate("fisher", data=load_trial(), outcome="complaint", treatment="z", alternative="less")
    assert res["p_value"] == pytest.approx(direct.p_value)


def test_an_interrupted_run_leaves_no_half_written_file(small: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from effekt.report import Report

    study = Study.from_toml(small)
    out = small.parent / "out"
    study.run(out)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    calls = {"n": 0}
    original = Report.add_deviations

    def crash(self, items):  # the failure strikes after results.json was written to its temporary name
        calls["n"] += 1
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(Report, "add_deviations", crash)
    changed = Study.from_toml(write(small.parent, small.read_text().replace('title = "A small trial"', 'title = "Changed"')))
    with pytest.raises(KeyboardInterrupt):
        changed.run(out)
    assert calls["n"] == 1
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before  # the previous results stand whole, and no temporary file is left
    monkeypatch.setattr(Report, "add_deviations", original)
    changed.run(out)
    assert json.loads((out / "results.json").read_text())["study"]["title"] == "Changed"


def test_study_without_log_balance_or_power(small: Path) -> None:
    run = Study.from_toml(small).run(None)
    assert run.results["allocation_log"] is None and run.results["power"] is None and run.deviations == ()
    assert list(run.tidy()["estimator"]) == ["difference_in_means", "chi2"]
    assert "no deviations from the plan" in run.summary()


def test_effekt_run_command(small: Path) -> None:
    out = subprocess.run([EFFEKT, "run", str(small), "--out", str(small.parent / "cli")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "difference_in_means" in out.stdout and (small.parent / "cli" / "report.html").exists()
    bad = small.parent / "bad.toml"
    bad.write_text(small.read_text().replace("title =", "titel ="))
    out = subprocess.run([EFFEKT, "run", str(bad)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stderr.startswith("effekt: error: bad.toml:2: study.titel: unknown key.")
    assert "Traceback" not in out.stderr


def test_effekt_example_command(tmp_path: Path) -> None:
    out = subprocess.run([EFFEKT, "example", "--out", "ex"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "218 people" in out.stdout and "logrank" in out.stdout and "report: ex/report/report.html" in out.stdout
    assert {"study.toml", "trial.duckdb", "allocation.jsonl", "allocation.jsonl.head", "report"} <= set(os.listdir(tmp_path / "ex"))


def test_a_damaged_or_missing_log_is_a_deviation_and_a_wrong_arm_an_error(example: Path, tmp_path: Path) -> None:
    import shutil as sh

    folder = tmp_path / "copy"
    sh.copytree(example.parent, folder, ignore=sh.ignore_patterns("out", "registered", "*.toml"))
    sh.copy(example, folder / "study.toml")
    log = folder / "allocation.jsonl"
    log.write_bytes(log.read_bytes().replace(b'"batch":"7"', b'"batch":"8"', 1))
    run = Study.from_toml(folder / "study.toml").run(None)
    assert any("allocation.jsonl does not verify" in d for d in run.deviations)
    log.unlink()
    run = Study.from_toml(folder / "study.toml").run(None)
    assert any("allocation.jsonl is missing" in d for d in run.deviations)
    sh.copy(example.parent / "allocation.jsonl", log)
    text = (folder / "study.toml").read_text().replace('arm = "treatment"', 'arm = "programme"')
    study = Study.from_toml(write(folder, text, "arm.toml"))
    line = next(i for i, s in enumerate(text.splitlines(), 1) if s.startswith("arm = "))
    with pytest.raises(Exception, match=rf"arm.toml:{line}: design.log.arm: 'programme' is not an arm of the log"):
        study.run(None)


def test_figures_name_arms_and_causes_by_the_study(example: Path) -> None:
    from effekt.study.runner import _named

    study = Study.from_toml(example)
    a = next(x for x in study.analyses if x.estimator == "aalen_johansen")
    res = ef.estimate("aalen_johansen", data=load_trial(), time="weeks", event="exit", treatment="z", cause=3, horizon=104)
    fig = _named(res, study, a).plot()
    shown = {t.get_text() for ax in fig.axes for t in ax.texts} | {
        t.get_text() for ax in fig.axes for leg in [ax.get_legend(), *fig.legends] if leg is not None for t in leg.get_texts()}
    assert {"resource course", "usual practice", "disability pension"} <= shown, shown
    assert _named(res, study, a).estimate == res.estimate
