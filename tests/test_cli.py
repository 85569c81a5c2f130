"""The effekt command, run as a user would run it."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from effekt.examples import load_trial

EFFEKT = shutil.which("effekt") or str(Path(sys.executable).with_name("effekt"))


def run(*args, cwd=None):
    return subprocess.run([EFFEKT, *args], capture_output=True, text=True, cwd=cwd, timeout=120)


@pytest.fixture(scope="module")
def trial_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "trial.csv"
    load_trial().to_csv(path, index=False)
    return path


def test_version():
    out = run("--version")
    assert out.returncode == 0 and out.stdout.startswith("effekt ")


def test_plugins_json_lists_every_estimator_with_its_distribution():
    out = run("plugins", "--json")
    assert out.returncode == 0
    rows = json.loads(out.stdout)
    by_name = {r["name"]: r for r in rows}
    assert by_name["difference_in_means"]["distribution"] == "effekt"
    assert by_name["example_ancova"]["distribution"] == "effekt-example-plugin"
    assert all(r["status"] == "ok" for r in rows)


def test_estimate_json(trial_csv):
    out = run("estimate", "difference_in_means", "--data", str(trial_csv), "--outcome", "activity_hours",
              "--treatment", "z", "--blocks", "batch", "--json")
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert res["design"] == "blocked" and res["n"] == 218 and res["se_type"] == "HC2"


def test_estimate_parquet_and_covariates(tmp_path):
    path = tmp_path / "trial.parquet"
    load_trial().to_parquet(path)
    out = run("estimate", "example_ancova", "--data", str(path), "--outcome", "activity_hours",
              "--treatment", "z", "--covariates", "age,female")
    assert out.returncode == 0, out.stderr
    assert "example_ancova" in out.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--outcome", "income", "--treatment", "z"], "outcome='income': no such column"),
        (["--outcome", "activity_hours", "--treatment", "batch"], "treatment column 'batch' must hold 0"),
        (["--outcome", "activity_hours", "--treatment", "z", "--blocks", "z"], "block 0 of column 'z' has 0 treated"),
        (["--outcome", "activity_hours", "--treatment", "z", "--option", "colour=red"], "difference_in_means takes no option 'colour'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(trial_csv, args, message):
    out = run("estimate", "difference_in_means", "--data", str(trial_csv), *args)
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("effekt: error: ") and message in lines[0]
    assert "Traceback" not in out.stderr


def test_missing_file_and_unknown_estimator(tmp_path):
    out = run("estimate", "difference_in_means", "--data", str(tmp_path / "none.csv"), "--outcome", "y")
    assert out.returncode == 2 and "does not exist" in out.stderr
    out = run("estimate", "difference_in_mean", "--data", str(tmp_path / "none.csv"), "--outcome", "y")
    assert out.returncode == 2
    out = run("power", "no_such_calculator", "--n", "10")
    assert out.returncode == 2 and "no power calculator named 'no_such_calculator'" in out.stderr


def test_example_runs(tmp_path):
    # without --out the study goes to ./effekt-example, and a summary is printed
    out = run("example", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "218 people" in out.stdout and "lm_robust" in out.stdout and "chi2" in out.stdout
    assert "report: " in out.stdout and (tmp_path / "effekt-example" / "report" / "report.html").exists()


def test_survival_estimators_run_without_outcome(trial_csv):
    out = run("estimate", "cox", "--data", str(trial_csv), "--treatment", "z", "--blocks", "batch",
              "--option", "time=weeks", "--option", "event=exit", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["estimand"] == "hazard_ratio"
