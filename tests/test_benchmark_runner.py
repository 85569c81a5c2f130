"""The benchmark runner's own logic, on a tiny fake case module (no real benchmark runs)."""

from __future__ import annotations

import csv
import textwrap
from pathlib import Path

import pytest

from benchmarks import _runner as runner
from benchmarks.cases import Case, Measured, Peer

FAKE = textwrap.dedent(
    """
    import numpy as np

    from benchmarks.cases import Case, Measured, Peer


    def _agree(d, a, b):
        assert abs(a - b) < 1e-9, f"{a} != {b}"


    CASES = [
        Case(name="fake.good", title="sum of squares", setup=lambda n: np.arange(float(n)),
             effekt=lambda x: float(x @ x),
             peers=(Peer("numpy", lambda x: float(np.sum(x ** 2)), _agree, target=10.0, package="numpy"),
                    Peer("no check", lambda x: 0.0),
                    Peer("once", lambda x: Measured(7.0, float(x @ x)), _agree, repeat=0)),
             sizes=(10, 100), quick_size=5, repeat=2),
        Case(name="fake.bad", title="a peer that disagrees", setup=lambda n: n, effekt=lambda n: 1.0,
             peers=(Peer("wrong", lambda n: 2.0, _agree),), sizes=(3,), quick_size=3),
        Case(name="other.timed", title="a tool that times itself", setup=lambda n: n,
             effekt=lambda n: Measured(0.25, n), peers=(Peer("half", lambda n: Measured(0.5, n), _agree,
             max_size=5),), sizes=(5, 50), quick_size=5, repeat=1, max_seconds=1.0),
        Case(name="other.fresh", title="in a child process", setup=lambda n: list(range(n)),
             effekt=lambda x: sum(x), sizes=(1000,), quick_size=10, repeat=1, fresh_process=True),
    ]
    """
)

README = """# Benchmarks

Prose before.

<!-- runner:fake -->
old table
<!-- /runner:fake -->

Prose after, kept.
"""


@pytest.fixture
def cases_dir(tmp_path: Path) -> Path:
    d = tmp_path / "cases"
    d.mkdir()
    (d / "bench_fake.py").write_text(FAKE)
    return d


def _run(cases_dir: Path, tmp_path: Path, *argv: str) -> int:
    return runner.main(list(argv), cases_dir=cases_dir, csv_path=tmp_path / "results.csv",
                       readme_path=tmp_path / "README.md", plot_path=tmp_path / "times.png")


def _rows(tmp_path: Path) -> list[dict[str, str]]:
    with (tmp_path / "results.csv").open() as fh:
        return list(csv.DictReader(fh))


def test_discover_and_select(cases_dir: Path) -> None:
    cases = runner.discover(cases_dir)
    assert [c.name for c in cases] == ["fake.good", "fake.bad", "other.timed", "other.fresh"]
    assert [c.name for c in runner.select(cases, ["fake"])] == ["fake.good", "fake.bad"]
    assert [c.name for c in runner.select(cases, ["other.timed", "fake.bad"])] == ["fake.bad", "other.timed"]
    assert len(runner.select(cases, None)) == 4
    with pytest.raises(runner.SelectionError, match="'nope'.*valid: fake, other, fake.bad"):
        runner.select(cases, ["nope"])


def test_wrong_name_exits_2_listing_the_valid_ones(cases_dir: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(cases_dir, tmp_path, "--only", "fake.nothing") == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "fake.good" in err and "'fake.nothing'" in err


def test_list(cases_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(cases_dir, tmp_path, "--list", "--only", "other") == 0
    out = capsys.readouterr().out
    assert "other.timed" in out and "fake.good" not in out


def test_quick_checks_only_and_writes_nothing(cases_dir: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "README.md").write_text(README)
    assert _run(cases_dir, tmp_path, "--quick", "--only", "fake.good", "other") == 0
    out = capsys.readouterr().out
    assert "ok   fake.good at 5 rows: numpy agrees, no check ran (no check)" in out
    assert not (tmp_path / "results.csv").exists() and not (tmp_path / "times.png").exists()
    assert (tmp_path / "README.md").read_text() == README


def test_a_failing_check_stops_the_case_and_exits_nonzero(cases_dir: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(cases_dir, tmp_path, "--quick", "--only", "fake") == 1
    captured = capsys.readouterr()
    assert "fake.bad at 3 rows: effekt and wrong disagree: 1.0 != 2.0" in captured.err
    assert "ok   fake.good" in captured.out
    # in a timed run the failing case writes no rows, the others do
    assert _run(cases_dir, tmp_path, "--only", "fake") == 1
    assert {r["case"] for r in _rows(tmp_path)} == {"fake.good"}


def test_timed_run_rows_replacement_readme_and_plot(cases_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text(README)
    assert _run(cases_dir, tmp_path, "--only", "fake.good", "other.timed") == 0
    rows = _rows(tmp_path)
    assert [(r["case"], r["size"], r["tool"]) for r in rows] == [
        ("fake.good", "10", "effekt"), ("fake.good", "10", "numpy"), ("fake.good", "10", "no check"),
        ("fake.good", "10", "once"),
        ("fake.good", "100", "effekt"), ("fake.good", "100", "numpy"), ("fake.good", "100", "no check"),
        ("fake.good", "100", "once"),
        ("other.timed", "5", "effekt"), ("other.timed", "5", "half"), ("other.timed", "50", "effekt"),
    ]
    assert set(runner.COLUMNS) <= set(rows[0])
    half = rows[9]
    assert half["seconds"] == "0.5" and half["ratio"] == "0.5" and half["checked"] == "yes"
    assert rows[8]["met"] == "yes" and rows[8]["target_seconds"] == "1"
    assert rows[3]["seconds"] == "7" and rows[3]["rounds"] == "0"  # timed by its checked call only
    numpy_row = rows[1]
    assert numpy_row["target"] == "10" and numpy_row["met"] in ("yes", "no") and numpy_row["tool_version"]
    assert rows[2]["checked"] == "no" and rows[0]["rounds"] == "2" and rows[0]["threads"] == "1"

    text = (tmp_path / "README.md").read_text()
    assert text.startswith("# Benchmarks\n\nProse before.\n\n<!-- runner:fake -->\nMeasured by")
    assert "<!-- /runner:fake -->\n\nProse after, kept.\n\n## other" in text
    assert "old table" not in text
    assert "| sum of squares (`good`) | 10 rows |" in text
    assert "no check (time only, not compared)" in text and "| once * | 7.00 |" in text
    assert "a peer marked * is timed by its one checked call" in text
    assert "## other\n\n<!-- runner:other -->" in text  # a group without markers gets a section at the end
    assert "pinned to 1 thread (threadpoolctl)" in text
    assert (tmp_path / "times.png").stat().st_size > 1000

    # re-running one case replaces its rows and keeps the others
    stamp = {r["case"]: r["timestamp"] for r in rows}
    assert _run(cases_dir, tmp_path, "--only", "other.timed", "--threads", "0") == 0
    again = _rows(tmp_path)
    assert [(r["case"], r["tool"]) for r in again].count(("other.timed", "effekt")) == 2
    assert len(again) == len(rows)
    assert all(r["threads"] == "unpinned" for r in again if r["case"] == "other.timed")
    assert all(r["threads"] == "1" and r["timestamp"] == stamp["fake.good"] for r in again
               if r["case"] == "fake.good")


def test_render_redraws_from_the_csv(cases_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text(README)
    assert _run(cases_dir, tmp_path, "--only", "fake.good") == 0
    (tmp_path / "README.md").write_text(README)
    (tmp_path / "times.png").unlink()
    assert _run(cases_dir, tmp_path, "--render") == 0
    assert "| sum of squares (`good`) | 10 rows |" in (tmp_path / "README.md").read_text()
    assert (tmp_path / "times.png").exists()


def test_fresh_process_records_peak_rss(cases_dir: Path, tmp_path: Path) -> None:
    assert _run(cases_dir, tmp_path, "--only", "other.fresh") == 0
    (row,) = _rows(tmp_path)
    assert float(row["peak_rss_mb"]) > 5 and float(row["seconds"]) >= 0


def test_merge_rows_and_render() -> None:
    old = [{"case": "a.x", "v": "1"}, {"case": "a.y", "v": "2"}, {"case": "gone.z", "v": "3"}]
    new = [{"case": "a.x", "v": "9"}]
    assert runner.merge_rows(old, new, ["a.x"]) == [old[1], old[2], new[0]]
    assert runner.merge_rows(old, new, ["a.x"], known=["a.x", "a.y"]) == [old[1], new[0]]
    case = Case(name="g.c", title="t", setup=lambda n: n, effekt=lambda n: n,
                peers=(Peer("p", lambda n: n, target=2.0, scale=10.0),), sizes=(1,))
    rows = runner.rows_for(case, 1000, {"effekt": (1.0, 3, None), "p": (0.05, 3, None)}, {"p": True},
                           runner.context(1), "2026-01-01 00:00", "1.00")
    assert rows[1]["ratio"] == "2" and rows[1]["met"] == "yes" and rows[1]["scale"] == "10"
    table = runner.render_group(rows)
    assert "| t (`c`) | 1,000 rows | 1.00 | p | 0.500 (x10 of 0.0500) | 2x | <= 2x | yes |" \
        in table
    assert "at 2026-01-01 00:00 UTC" in table and "load average (1 min, at each case) 1.0" in table


def test_call_takes_measured_time() -> None:
    assert runner.call(lambda d: Measured(3.0, "v"), None) == (3.0, "v")
