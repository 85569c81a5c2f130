"""What the ``effekt`` command and ``import effekt`` load at start-up (a property, not a timing),
and what ``effekt power NAME --help`` / ``effekt estimate NAME --help`` show.

benchmarks/bench_startup.py times the same commands."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import effekt as ef
from effekt.cli import main

HEAVY = ("pandas", "scipy.stats")


def _loaded_after(code: str) -> list[str]:
    probe = textwrap.dedent(code) + textwrap.dedent(
        f"""
        import sys
        print("loaded:" + ",".join(m for m in {HEAVY!r} if m in sys.modules))
        """
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("loaded:"), done.stdout
    return [m for m in last.removeprefix("loaded:").split(",") if m]


@pytest.mark.parametrize(
    "code",
    [
        "import effekt",
        "import effekt as ef; ef.DesignError, ef.PowerResult, ef.get_estimator, ef.design",
        "from effekt.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass",
        "from effekt.cli import main; main(['power', 'two_proportions', '--p1', '0.1', '--n', '100', '--power', '0.8'])",
        "from effekt.cli import main\ntry:\n    main(['power', 'two_proportions', '--help'])\nexcept SystemExit:\n    pass",
    ],
    ids=["import", "names", "help", "power", "power-help"],
)
def test_start_up_loads_neither_pandas_nor_scipy_stats(code):
    assert _loaded_after(code) == []


def test_every_public_name_resolves_and_dir_lists_it():
    for name in ef.__all__:
        assert getattr(ef, name) is not None, name
    assert set(ef.__all__) <= set(dir(ef))
    assert "attribute_loader" not in dir(ef) and "TYPE_CHECKING" not in dir(ef)
    assert ef.sandwich.__name__ == "effekt.sandwich"  # submodules stay reachable as attributes
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        ef.no_such_name  # noqa: B018


def test_design_names_resolve():
    for name in ef.design.__all__:
        assert getattr(ef.design, name) is not None, name


def test_power_help_lists_the_calculators_parameters(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["power", "two_proportions", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "usage: effekt power two_proportions" in out
    assert "Leave out exactly one of n, power, p2, alpha" in out
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith("  --")}
    assert {"--p1", "--p2", "--n", "--n2", "--ratio", "--power", "--alpha", "--method", "--alternative", "--correction"} <= set(rows)
    assert "required" in rows["--p1"] and "Proportion in arm 1" in rows["--p1"]
    assert "0.05" in rows["--alpha"] and "Significance level" in rows["--alpha"]
    assert "pooled" in rows["--method"]


def test_power_help_of_an_unknown_calculator_is_one_line(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["power", "two_proportion", "--help"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("effekt: error: no power calculator named 'two_proportion'")
    assert "two_proportions" in err


def test_power_help_without_a_name_is_the_subcommand_help(capsys):
    with pytest.raises(SystemExit):
        main(["power", "--help"])
    assert "usage: effekt power" in capsys.readouterr().out


def test_estimate_help_lists_the_fit_options(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["estimate", "difference_in_means", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "usage: effekt estimate difference_in_means" in out
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ") and line.split()}
    assert "required" in rows["outcome"]
    assert "'hybrid_m'" in rows["small_blocks"]
    assert "--option KEY=VALUE" in out  # the command's own flags follow


def test_odd_policies_of_the_command_match_the_lottery():
    from effekt.design.cli import ODD_POLICIES as cli_policies
    from effekt.design.lottery import ODD_POLICIES

    assert cli_policies == ODD_POLICIES


_BLOCK_HYPOTHESIS = """
import importlib.abc, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "hypothesis" or name.startswith("hypothesis."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Block())
"""


def test_effekt_testing_without_hypothesis_names_the_extra():
    code = _BLOCK_HYPOTHESIS + textwrap.dedent(
        """
        import effekt as ef
        try:
            import effekt.testing
        except ef.PluginError as exc:
            assert isinstance(exc, ImportError)
            print(exc)
        else:
            raise SystemExit("effekt.testing imported without hypothesis")
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "needs hypothesis" in done.stdout and "pip install effekt[testing]" in done.stdout


def test_parquet_without_an_engine_names_the_extra(tmp_path):
    path = tmp_path / "trial.parquet"
    path.write_bytes(b"PAR1")
    code = textwrap.dedent(
        f"""
        import importlib.util
        real = importlib.util.find_spec
        importlib.util.find_spec = lambda name, *a: None if name in ("pyarrow", "fastparquet") else real(name, *a)
        from effekt.cli import main
        raise SystemExit(main(["estimate", "difference_in_means", "--data", {str(path)!r},
                               "--outcome", "y", "--treatment", "z"]))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 2
    assert "pip install effekt[parquet]" in done.stderr
