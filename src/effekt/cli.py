"""The ``effekt`` command.

    effekt --version
    effekt plugins [--json]
    effekt estimate NAME --data FILE --outcome Y [--treatment Z] [--blocks B]
                   [--clusters C] [--covariates a,b] [--weights W] [--se-type T]
                   [--alpha A] [--option KEY=VALUE ...] [--json]
    effekt power NAME --PARAM VALUE ... [--json]
    effekt power NAME --help          (the calculator's parameters)
    effekt estimate NAME --help       (the estimator's options)
    effekt example [--out DIR]
    effekt run STUDY.toml [--out DIR]
    effekt randomise --units FILE --batch ID --log LOG --seed N [--key KEYFILE] ...
    effekt verify-log LOG [--key KEYFILE] [--pin RECORDS:HASH]
    effekt log-head LOG [--key KEYFILE]
    effekt log-key FILE
    effekt diagnose DESIGN.toml [--sims N] [--seed S] [--backend B] [--scheduler ADDRESS] [--json] [--out DIR]

An error in the input, and an operating-system error (a full disk, a
directory given where a file belongs, no permission), prints one line on
standard error and exits with status 2; no traceback.

The command starts without pandas or scipy.stats: each subcommand imports
what it needs, so ``effekt --help`` and ``effekt power ...`` answer at once.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from effekt import registry
from effekt.errors import DataError, DesignError, EffektError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["main", "read_table", "parse_value", "parquet_engine"]

#: core modules that add subcommands through a ``register(subparsers)`` function
_COMMAND_MODULES = ("effekt.design.cli", "effekt.simulate.cli")


def parquet_engine(what: str) -> None:
    """DataError naming ``pip install effekt[parquet]`` when no Parquet engine is installed."""
    if not any(importlib.util.find_spec(m) is not None for m in ("pyarrow", "fastparquet")):
        raise DataError(
            f"{what} is a Parquet file, and reading Parquet needs pyarrow, which is not "
            "installed. Install it with `pip install effekt[parquet]`, or give a .csv file."
        )


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet file into a DataFrame; DataError when it cannot."""
    import pandas as pd

    p = Path(path)
    if not p.exists():
        raise DataError(f"data file {str(p)!r} does not exist.")
    suffix = p.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(p)
        if suffix in (".parquet", ".pq"):
            parquet_engine(f"data file {str(p)!r}")
            return pd.read_parquet(p)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {str(p)!r}: {exc}") from None
    raise DataError(f"data file {str(p)!r}: use a .csv or .parquet file (got {suffix or 'no suffix'!r}).")


def parse_value(text: str) -> Any:
    """A command-line value as int, float, bool, None, a list (commas) or str."""
    if "," in text:
        return [parse_value(part) for part in text.split(",") if part != ""]
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, allow_nan=False))


def _cmd_plugins(args: argparse.Namespace) -> int:
    table = registry.available()
    if args.json:
        _print_json(table.to_dict(orient="records"))
    else:
        print(table.to_string(index=False) if len(table) else "no estimators are installed")
    return 0


def _options(pairs: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise DesignError(f"--option needs KEY=VALUE; got {pair!r}.")
        out[key.replace("-", "_")] = parse_value(value)
    return out


def _cmd_estimate(args: argparse.Namespace) -> int:
    data = read_table(args.data)
    spec: dict[str, Any] = {}
    for key in ("outcome", "treatment", "blocks", "clusters", "weights"):
        value = getattr(args, key)
        if value is not None:
            spec[key] = value
    if args.covariates:
        spec["covariates"] = [c for c in args.covariates.split(",") if c]
    if args.se_type is not None:
        spec["se_type"] = args.se_type
    if args.alpha is not None:
        spec["alpha"] = args.alpha
    spec.update(_options(args.option or []))
    result = registry.estimate(args.name, data=data, **spec)
    if args.json:
        _print_json(result.to_dict())
    else:
        print(result.summary())
        print()
        print(result.tidy().to_string(index=False))
    return 0


def _power_params(extra: Sequence[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    key: str | None = None
    for token in extra:
        if token.startswith("--"):
            if key is not None:
                params[key] = True
            name, sep, value = token[2:].partition("=")
            if not name:
                raise DesignError(f"cannot read {token!r}; write --name value.")
            if sep:
                params[name.replace("-", "_")] = parse_value(value)
                key = None
            else:
                key = name.replace("-", "_")
        elif key is not None:
            params[key] = parse_value(token)
            key = None
        else:
            raise DesignError(f"unexpected value {token!r}; give each parameter as --name value.")
    if key is not None:
        raise DesignError(f"--{key} needs a value.")
    return params


def _cmd_power(args: argparse.Namespace, extra: Sequence[str]) -> int:
    params = _power_params(extra)
    as_json = bool(params.pop("json", False)) or args.json
    result = registry.power(args.name, **params)
    if as_json:
        _print_json(result.to_dict())
    else:
        print(result.summary())
    return 0


def _cmd_example(args: argparse.Namespace) -> int:
    from effekt.examples import run_example

    print(run_example(args.out))
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from effekt.study import Study

    study = Study.from_toml(args.study)
    out = Path(args.out) if args.out is not None else study.folder / "report"
    run = study.run(out)
    print(run.summary())
    print()
    print(f"results: {run.results_path}")
    print(f"report:  {run.report_path}")
    return 0


class _Version(argparse.Action):
    """``--version``, reading the installed version only when asked (importlib.metadata is slow to load)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest=dest, default=argparse.SUPPRESS, nargs=0,
                         help="show the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        from effekt import __version__

        print(f"effekt {__version__}")
        parser.exit()


class _NamedHelp(argparse.Action):
    """``-h``/``--help`` of ``power`` and ``estimate``: with a NAME, also the
    parameters that calculator or estimator takes, read from its class."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        self.describe = kwargs.pop("describe")
        super().__init__(option_strings, dest=dest, default=argparse.SUPPRESS, nargs=0,
                         help="show this help (with NAME: its parameters) and exit")

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        name = getattr(namespace, "name", None)
        if name is None:
            parser.print_help()
            parser.exit()
        try:
            text = self.describe(parser, name)
        except EffektError as exc:
            parser.exit(2, "effekt: error: " + " ".join(str(exc).split()) + "\n")
        print(text)
        parser.exit()


def _summary_line(cls: Any) -> str:
    import inspect

    doc = inspect.getdoc(cls) or ""
    return doc.split("\n\n")[0].replace("\n", " ").strip()


def _describe_power(parser: argparse.ArgumentParser, name: str) -> str:
    from effekt._help import calculator_parameters, format_table

    cls = registry.get_power_calculator(name)
    lines = [f"usage: effekt power {name} --PARAM VALUE ... [--json]", "", _summary_line(cls), ""]
    solvable = getattr(cls, "solvable", None)
    if solvable:
        lines += [
            "Leave out exactly one of " + ", ".join(solvable) + " (or give it as `none`) to solve for it;",
            "a comma list (--n 100,200,400) is a grid.",
            "",
        ]
    lines += ["parameters (name, default, meaning):", format_table(calculator_parameters(cls)), ""]
    lines.append(f"Python: help(effekt.get_power_calculator({name!r}))")
    return "\n".join(lines)


def _describe_estimator(parser: argparse.ArgumentParser, name: str) -> str:
    from effekt._help import estimator_parameters, format_table

    cls = registry.get_estimator(name)
    lines = [
        f"usage: effekt estimate {name} --data FILE [--outcome Y] [--treatment Z] ... "
        "[--option KEY=VALUE ...] [--json]",
        "",
        _summary_line(cls),
        "",
        "options of this estimator (name, default, meaning); give each as --NAME VALUE",
        "where the command has that flag (below), otherwise as --option NAME=VALUE:",
        format_table(estimator_parameters(cls), full=False, prefix=""),
        "",
        parser.format_help().split("\n\n", 1)[1].rstrip(),
        "",
        f"Python: help(effekt.get_estimator({name!r}))",
    ]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="effekt", description="Evaluate labour-market and social programmes.")
    parser.add_argument("--version", action=_Version)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("plugins", help="list installed estimators and power calculators")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_plugins)

    p = sub.add_parser("estimate", help="fit a registered estimator to a CSV or Parquet file", add_help=False)
    p.add_argument("-h", "--help", action=_NamedHelp, describe=_describe_estimator)
    p.add_argument("name", help="estimator name, see `effekt plugins`; `effekt estimate NAME --help` lists its options")
    p.add_argument("--data", required=True, help="CSV or Parquet file, one row per unit")
    p.add_argument("--outcome", help="outcome column (survival estimators take --option time=... event=... instead)")
    p.add_argument("--treatment")
    p.add_argument("--blocks")
    p.add_argument("--clusters")
    p.add_argument("--weights")
    p.add_argument("--covariates", help="comma-separated column names")
    p.add_argument("--se-type", dest="se_type")
    p.add_argument("--alpha", type=float)
    p.add_argument("--option", action="append", metavar="KEY=VALUE", help="any other option of the estimator")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_cmd_estimate)

    p = sub.add_parser(
        "power",
        help="solve a registered power calculation",
        description="Give every quantity but one as --name value (comma lists are grids).",
        add_help=False,
    )
    p.add_argument("-h", "--help", action=_NamedHelp, describe=_describe_power)
    p.add_argument("name", help="calculator name, see `effekt plugins`; `effekt power NAME --help` lists its parameters")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_power, takes_extra=True)

    p = sub.add_parser(
        "example",
        help="write the bundled synthetic study, run it into a report and print a summary",
        description="Write the bundled synthetic study (study.toml, its data in a DuckDB file and its allocation "
        "log) into DIR and run it: the report goes to DIR/report/.",
    )
    p.add_argument("--out", metavar="DIR", help="folder for the study (default: ./effekt-example)")
    p.set_defaults(func=_cmd_example)

    p = sub.add_parser(
        "run",
        help="run a study file (the pre-analysis plan) into results.json and report.html",
        description="Read and check STUDY.toml, run every planned analysis and write results.json, "
        "report.html and figures/ into DIR.",
    )
    p.add_argument("study", metavar="STUDY.toml", help="the study file")
    p.add_argument("--out", metavar="DIR", help="output folder (default: report/ beside the study file)")
    p.set_defaults(func=_cmd_run)

    for module_name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            # the module (or its package) is not part of this installation
            if not exc.name or not (module_name + ".").startswith(exc.name + "."):
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``effekt`` console script."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if getattr(args, "command", None) is None:
        parser.print_help()
        return 2
    try:
        if getattr(args, "takes_extra", False):
            return int(args.func(args, extra))
        if extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        return int(args.func(args))
    except EffektError as exc:
        print("effekt: error: " + " ".join(str(exc).split()), file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `effekt randomise ... | head`
        return 0
    except OSError as exc:  # a full disk, a directory where a file belongs, no permission
        print("effekt: error: " + _os_error(exc), file=sys.stderr)
        return 2


def _os_error(exc: OSError) -> str:
    """One line for an operating-system error, naming the file."""
    import errno

    where = f" {exc.filename!r}" if exc.filename else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        what = "the disk is full"
    elif exc.errno == errno.EFBIG:
        what = "the file-size limit was reached"
    elif isinstance(exc, IsADirectoryError):
        what = "is a directory, where a file was expected"
    elif isinstance(exc, PermissionError):
        what = "permission denied"
    else:
        what = exc.strerror or str(exc)
    return " ".join(f"cannot use{where}: {what}.".split())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
