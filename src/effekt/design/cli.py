"""The ``randomise`` and ``verify-log`` subcommands of the ``effekt`` command.

``effekt randomise --units FILE --batch ID --log LOG --seed N [--id COLUMN]
[--ratio 1:1] [--odd alternate] [--capacity treatment=100]`` draws one batch
of a :class:`~effekt.design.lottery.BatchLottery` (arms ``treatment`` and
``control``) and prints its allocation as CSV with columns ``id,arm``.
Drawing a batch already in the log prints the recorded allocation.

``effekt verify-log LOG`` checks the log's hash chain: exit 0 when intact,
1 with the first bad line number when not.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from effekt.errors import DataError, DesignError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["register"]

#: effekt.design.lottery.ODD_POLICIES, written out so that `effekt --help` needs
#: neither pandas nor the lottery (tests/test_cli.py checks that the two agree)
ODD_POLICIES = ("random", "alternate")


def _read_units(path: str, id_column: str) -> pd.DataFrame:
    import pandas as pd

    from effekt.cli import parquet_engine

    p = Path(path)
    if not p.exists():
        raise DataError(f"--units {path!r}: no such file.")
    suffix = p.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            parquet_engine(f"--units {path!r}")
            frame = pd.read_parquet(p)
        elif suffix in (".csv", ".txt", ""):
            frame = pd.read_csv(p, dtype={id_column: str}, keep_default_na=False, na_values=[""])
        else:
            raise DataError(f"--units {path!r}: unknown file type {suffix!r}; give a .csv or .parquet file.")
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"--units {path!r} could not be read: {exc}.") from None
    if id_column in frame.columns:
        frame[id_column] = frame[id_column].map(lambda v: v if pd.isna(v) else str(v))
    return frame


def _capacity(items: list[str] | None) -> dict[str, int]:
    caps: dict[str, int] = {}
    for item in items or []:
        arm, sep, value = item.partition("=")
        if not sep or not value.strip().isdigit():
            raise DesignError(f"--capacity {item!r} must look like treatment=100 (an arm and a whole number).")
        caps[arm.strip()] = int(value)
    return caps


def _seed(text: str) -> int:
    if not text.isdigit():
        raise DesignError(f"--seed must be a non-negative whole number; got {text!r}.")
    return int(text)


def randomise(args: argparse.Namespace) -> int:
    """Draw one batch and print its allocation (id,arm) as CSV."""
    from effekt.design.lottery import BatchLottery

    units = _read_units(args.units, args.id)
    lottery = BatchLottery(
        args.log,
        seed=_seed(args.seed),
        ratio=args.ratio,
        odd=args.odd,
        capacity=_capacity(args.capacity),
    )
    draw = lottery.draw(units, batch=args.batch, id=args.id, date=args.date, top_up=args.top_up)
    draw.allocation.to_csv(sys.stdout, index=False, lineterminator="\n")
    if len(draw.excluded):
        reasons = draw.excluded["reason"].value_counts()
        said = "; ".join(f"{n} {r}" for r, n in reasons.items())
        print(f"# batch {draw.batch}: {len(draw.excluded)} not randomised ({said})", file=sys.stderr)
    return 0


def verify(args: argparse.Namespace) -> int:
    """Check the log: 0 when intact, 1 with the first bad line."""
    from effekt.design.log import verify_log

    check = verify_log(args.log)
    print(check.message if check.ok else f"{args.log}: {check.message}")
    return 0 if check.ok else 1


def register(subparsers: Any) -> None:
    """Add ``randomise`` and ``verify-log`` to the ``effekt`` command's subparsers."""
    p = subparsers.add_parser(
        "randomise",
        help="randomise one batch of a sequential lottery and append it to the allocation log",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    p.add_argument("--units", required=True, help="CSV or Parquet file, one row per person")
    p.add_argument("--batch", required=True, help="batch identifier (e.g. the lottery date)")
    p.add_argument("--log", required=True, help="allocation log (JSON Lines; created when missing)")
    p.add_argument("--seed", required=True, help="master seed of the trial (a non-negative whole number)")
    p.add_argument("--id", default="id", help="identifier column (default: id)")
    p.add_argument("--ratio", default="1:1", help="treatment:control ratio (default: 1:1)")
    p.add_argument("--odd", default="random", choices=ODD_POLICIES, help="who gets the odd unit (default: random)")
    p.add_argument("--capacity", action="append", metavar="ARM=N", help="places in an arm, e.g. treatment=100 (repeatable)")
    p.add_argument("--date", default=None, help="lottery date for the allocation table (default: today)")
    p.add_argument("--top-up", action="store_true", help="mark the batch as a top-up lottery")
    p.set_defaults(func=randomise)

    v = subparsers.add_parser("verify-log", help="check an allocation log's hash chain (exit 1 with the first bad line)")
    v.add_argument("log", help="allocation log (JSON Lines)")
    v.set_defaults(func=verify)
