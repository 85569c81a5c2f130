"""The ``effekt diagnose`` subcommand: diagnose a design file.

    effekt diagnose DESIGN.toml [--sims N] [--seed S] [--alpha A]
                   [--backend serial|processes|dask] [--workers W]
                   [--scheduler ADDRESS] [--json] [--out DIR]

Prints the diagnosis (or its JSON with ``--json``); ``--out DIR`` also
writes ``diagnosands.csv``, ``simulations.csv`` and ``diagnosis.json``
there. Nothing heavier than argparse is imported until the subcommand runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["register", "run"]


def run(args: argparse.Namespace) -> int:
    """Run ``effekt diagnose``."""
    from effekt.errors import DesignError
    from effekt.simulate.design import Design
    from effekt.simulate.diagnosis import diagnose

    if args.scheduler and args.backend != "dask":
        raise DesignError("--scheduler needs --backend dask.")
    design = Design.from_toml(Path(args.design))
    diag = diagnose(design, args.sims, seed=args.seed, alpha=args.alpha, backend=args.backend,
                    client=args.scheduler, workers=args.workers, progress=None if not args.json else False)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        diag.diagnosands.to_csv(out / "diagnosands.csv", index=False)
        diag.simulations.to_csv(out / "simulations.csv", index=False)
        (out / "diagnosis.json").write_text(diag.to_json(indent=2), encoding="utf-8")
    print(diag.to_json(indent=2) if args.json else diag.summary())
    return 0


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def register(subparsers: Any) -> None:
    """Add ``diagnose`` to the ``effekt`` command's subparsers."""
    p = subparsers.add_parser("diagnose", help="diagnose a design file (TOML) by simulation: bias, RMSE, coverage, power")
    p.add_argument("design", help="design file (TOML, as written by Design.to_toml)")
    p.add_argument("--sims", type=_whole, default=500, help="simulations (default: 500)")
    p.add_argument("--seed", type=_whole, default=None, help="seed (default: drawn and reported)")
    p.add_argument("--alpha", type=float, default=0.05, help="test level (default: 0.05)")
    p.add_argument("--backend", default="serial", choices=("serial", "processes", "dask"), help="where to run (default: serial)")
    p.add_argument("--workers", type=_whole, default=None, help="processes or local Dask workers (default: CPU count)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS", help="a Dask scheduler, e.g. tcp://host:8786")
    p.add_argument("--json", action="store_true", help="print the diagnosis as JSON")
    p.add_argument("--out", default=None, metavar="DIR", help="also write diagnosands.csv, simulations.csv, diagnosis.json")
    p.set_defaults(func=run)
