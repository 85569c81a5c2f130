"""The ``randomise``, ``verify-log``, ``log-head`` and ``log-key`` subcommands of the ``effekt`` command.

``effekt randomise --units FILE --batch ID --log LOG --seed N [--id COLUMN]
[--ratio 1:1] [--odd alternate] [--capacity treatment=100] [--key KEYFILE]``
draws one batch of a :class:`~effekt.design.lottery.BatchLottery` (arms
``treatment`` and ``control``) and prints its allocation as CSV with columns
``id,arm``. Drawing a batch already in the log prints the recorded allocation.
Identifiers are read as text: ``007`` stays ``007``, and ``1`` is the person
the Python API knows as ``1``. A blank line in the units file is an error
naming the line (blank lines at the end of the file are ignored).

``effekt verify-log LOG [--key KEYFILE] [--pin RECORDS:HASH]`` checks the
log's hash chain (and with ``--key`` the MACs of a keyed log, with ``--pin``
that a pinned head is still in the log): exit 0 when intact, 1 with the
first bad line number when not.

``effekt log-head LOG [--key KEYFILE]`` prints the head ``RECORDS:HASH`` of
an intact log, to pin in a report or the study file. ``effekt log-key FILE``
writes a new random key (keep it outside the log's folder).
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
            frame = pd.read_csv(p, dtype={id_column: str}, keep_default_na=False, na_values=[""], skip_blank_lines=False)
            _refuse_blank_lines(frame, path)
        else:
            raise DataError(f"--units {path!r}: unknown file type {suffix!r}; give a .csv or .parquet file.")
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"--units {path!r} could not be read: {exc}.") from None
    if id_column in frame.columns:
        frame[id_column] = frame[id_column].map(lambda v: v if pd.isna(v) else str(v))
    return frame


def _refuse_blank_lines(frame: pd.DataFrame, path: str) -> None:
    """DataError naming the first blank line (pandas would skip it silently); trailing blank lines are dropped."""
    if frame.empty:
        return
    empty = frame.isna() | frame.apply(lambda col: col.map(lambda v: isinstance(v, str) and not v.strip()))
    blank = empty.all(axis=1).to_numpy()  # nothing but separators and spaces on the line
    n = len(blank)
    while n and blank[n - 1]:
        n -= 1
    frame.drop(frame.index[n:], inplace=True)
    inside = blank[:n].nonzero()[0]
    if inside.size:
        lines = [str(int(i) + 2) for i in inside[:5]]  # line 1 is the header
        more = f" and {inside.size - 5} more" if inside.size > 5 else ""
        raise DataError(
            f"--units {path!r}: {'line' if inside.size == 1 else 'lines'} {', '.join(lines)}{more} "
            f"{'is' if inside.size == 1 else 'are'} blank; every line after the header is one "
            "person. Remove the blank line, or give the person's identifier."
        )


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
        key=args.key,
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

    check = verify_log(args.log, key=args.key, pin=args.pin)
    print(check.message if check.ok else f"{args.log}: {check.message}")
    return 0 if check.ok else 1


def head(args: argparse.Namespace) -> int:
    """Print the head (RECORDS:HASH) of an intact log."""
    from effekt.design.log import head_pin

    print(head_pin(args.log, key=args.key))
    return 0


def make_key(args: argparse.Namespace) -> int:
    """Write a new random log key."""
    from effekt.design.log import new_key

    path = new_key(args.file)
    print(f"wrote a new log key to {str(path)!r}; keep it outside the log's folder and pass it as --key", file=sys.stderr)
    return 0


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
    p.add_argument("--key", default=None, metavar="KEYFILE", help="key file of a keyed log (kept outside the log's folder)")
    p.set_defaults(func=randomise)

    v = subparsers.add_parser("verify-log", help="check an allocation log's hash chain (exit 1 with the first bad line)")
    v.add_argument("log", help="allocation log (JSON Lines)")
    v.add_argument("--key", default=None, metavar="KEYFILE", help="check the MACs of a keyed log with this key file")
    v.add_argument("--pin", default=None, metavar="RECORDS:HASH", help="a head printed earlier by `effekt log-head`")
    v.set_defaults(func=verify)

    h = subparsers.add_parser("log-head", help="print the head (RECORDS:HASH) of an intact allocation log, to pin")
    h.add_argument("log", help="allocation log (JSON Lines)")
    h.add_argument("--key", default=None, metavar="KEYFILE", help="key file of a keyed log")
    h.set_defaults(func=head)

    k = subparsers.add_parser("log-key", help="write a new random key for a keyed allocation log")
    k.add_argument("file", help="where to write the key (outside the log's folder; never overwritten)")
    k.set_defaults(func=make_key)
