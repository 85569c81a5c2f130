"""Append-only, hash-chained allocation log in JSON Lines.

Each line is one record, written as canonical JSON (sorted keys, no spaces,
ASCII only) with two chain fields:

* ``prev``: the ``hash`` of the previous record (64 zeros for the first);
* ``hash``: SHA-256 of the record's canonical JSON without ``hash``.

``seq`` numbers the records from 0. A head file beside the log
(``LOG.head``) holds the number of records and the last hash, so that a
deleted *last* line is detected too. :func:`verify_log` re-reads every line
and reports the first one that is not what the chain says it must be: any
edited byte (the line is no longer canonical JSON, or its hash no longer
matches), a deleted, inserted or reordered line (``seq``/``prev`` break), or
a truncated tail (fewer records than the head file records).

Crash safety: a record is appended by writing the whole new file to a
temporary file in the same directory, ``fsync``-ing it and renaming it over
the log (``os.replace`` is atomic on POSIX and Windows), then the head file
the same way. A process killed at any point leaves either the old or the new
log. Killed between the two renames, the log is one record ahead of its head
file; :func:`verify_log` accepts exactly that, and the next append repairs
the head.

Appends take an exclusive lock on ``LOG.lock`` (POSIX ``flock``), so two
processes drawing at once cannot interleave.

The chain detects accidental and naive edits. Someone who rewrites the log
can recompute every hash; keep a copy of the head hash elsewhere (e.g. in
the trial's registration) to anchor it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from effekt.errors import DataError, DesignError
from effekt.result import to_jsonable

__all__ = ["AllocationLog", "LogCheck", "verify_log", "GENESIS"]

GENESIS = "0" * 64


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def _hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical(body).encode("ascii")).hexdigest()


@dataclass(frozen=True)
class LogCheck:
    """The outcome of :func:`verify_log`.

    ``ok`` is True when the log is intact; otherwise ``bad_line`` is the
    1-based number of the first line that fails and ``message`` says why.
    """

    ok: bool
    n_records: int
    bad_line: int | None
    message: str
    head_hash: str | None = None

    def __bool__(self) -> bool:
        return self.ok


def _parse(lines: list[bytes]) -> tuple[list[dict[str, Any]], LogCheck | None]:
    """Records of a log, or the first bad line."""
    records: list[dict[str, Any]] = []
    prev = GENESIS
    for i, line in enumerate(lines):
        lineno = i + 1

        def bad(why: str, lineno: int = lineno) -> tuple[list[dict[str, Any]], LogCheck]:
            return records, LogCheck(False, len(records), lineno, f"line {lineno}: {why}")

        try:
            text = line.decode("ascii")
            rec = json.loads(text)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return bad("not a valid JSON record (edited or damaged)")
        if not isinstance(rec, dict) or "hash" not in rec:
            return bad("not a log record (no hash)")
        if _canonical(rec) != text:
            return bad("not in canonical form (the line was edited)")
        body = {k: v for k, v in rec.items() if k != "hash"}
        if _hash(body) != rec["hash"]:
            return bad("its content does not match its hash (the line was edited)")
        if rec.get("seq") != i:
            return bad(f"record number {rec.get('seq')!r} where {i} belongs (a line was deleted, inserted or moved)")
        if rec.get("prev") != prev:
            return bad("does not chain to the line before it (a line was deleted, inserted or moved)")
        prev = rec["hash"]
        records.append(rec)
    return records, None


def _read_lines(path: Path) -> tuple[list[bytes], LogCheck | None]:
    data = path.read_bytes()
    if not data:
        return [], None
    if not data.endswith(b"\n"):
        n = data.count(b"\n") + 1
        return [], LogCheck(False, 0, n, f"line {n}: the last line is incomplete (no line end)")
    return data[:-1].split(b"\n"), None


def _read_head(path: Path) -> dict[str, Any] | None:
    head = Path(str(path) + ".head")
    if not head.exists():
        return None
    try:
        obj = json.loads(head.read_text("ascii"))
        if isinstance(obj, dict) and isinstance(obj.get("records"), int) and isinstance(obj.get("hash"), str):
            return obj
    except (UnicodeDecodeError, json.JSONDecodeError):
        pass
    return {"records": -1, "hash": ""}


def verify_log(path: str | os.PathLike[str]) -> LogCheck:
    """Check an allocation log's hash chain and its head file.

    Parameters
    ----------
    path : path
        The JSON Lines log.

    Returns
    -------
    LogCheck
        ``ok``, the number of records, and the first bad line (1-based)
        with the reason when the log is not intact.

    Raises
    ------
    DataError
        The file does not exist.

    Examples
    --------
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> log = AllocationLog(os.path.join(d, "alloc.jsonl"))
    >>> _ = log.append({"type": "note", "text": "first"})
    >>> verify_log(log.path).ok
    True
    """
    p = Path(path)
    if not p.exists():
        raise DataError(f"allocation log {str(p)!r} does not exist; check the path.")
    lines, problem = _read_lines(p)
    if problem is not None:
        return problem
    records, problem = _parse(lines)
    if problem is not None:
        return problem
    n = len(records)
    last = records[-1]["hash"] if records else GENESIS
    head = _read_head(p)
    if head is None:
        return LogCheck(True, n, None, f"intact: {n} records (no head file, so a deleted last line could not be detected)", last)
    k = head["records"]
    if k < 0:
        return LogCheck(False, n, max(n, 1), f"the head file {str(p)}.head is damaged")
    if n < k:
        return LogCheck(False, n, n + 1, f"line {n + 1}: missing; the head file records {k} records but the log has {n} (lines were deleted)")
    if k > 0 and records[k - 1]["hash"] != head["hash"]:
        return LogCheck(False, n, k, f"line {k}: does not match the hash in the head file (the log was rewritten)")
    if n > k + 1:
        return LogCheck(False, n, k + 2, f"line {k + 2}: the head file records {k} records; lines after {k + 1} were added outside effekt")
    note = " (the last append was interrupted before its head file was updated; the next append repairs it)" if n == k + 1 else ""
    return LogCheck(True, n, None, f"intact: {n} records, last hash {last[:16]}...{note}", last)


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # directories cannot be fsynced on every platform
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


class AllocationLog:
    """An append-only, hash-chained JSON Lines log (see the module notes).

    ``path=None`` keeps the records in memory (same chain, no file).

    Examples
    --------
    >>> log = AllocationLog(None)
    >>> rec = log.append({"type": "note", "text": "hello"})
    >>> rec["seq"], rec["prev"] == GENESIS, len(rec["hash"])
    (0, True, 64)
    """

    def __init__(self, path: str | os.PathLike[str] | None):
        self.path = Path(path) if path is not None else None
        self._memory: list[dict[str, Any]] = []

    def records(self) -> list[dict[str, Any]]:
        """Every record, after checking the chain; DesignError if it is broken."""
        if self.path is None:
            return list(self._memory)
        if not self.path.exists():
            return []
        check = verify_log(self.path)
        if not check.ok:
            raise DesignError(
                f"allocation log {str(self.path)!r} is damaged ({check.message}); nothing is drawn from a "
                "damaged log. Restore it from a backup, or start a new log and say why."
            )
        lines, _ = _read_lines(self.path)
        return [json.loads(line) for line in lines]

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold an exclusive lock on the log (POSIX ``flock``) while drawing."""
        if self.path is None:
            yield
            return
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            yield
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(str(self.path) + ".lock", "a") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def append(self, content: dict[str, Any]) -> dict[str, Any]:
        """Append one record (``content`` plus seq, time, prev, hash); returns it."""
        records = self.records()
        body = to_jsonable(dict(content))
        body.pop("hash", None)
        body["seq"] = len(records)
        body["prev"] = records[-1]["hash"] if records else GENESIS
        body.setdefault("time", datetime.now(UTC).isoformat(timespec="seconds"))
        record = {**body, "hash": _hash(body)}
        line = _canonical(record).encode("ascii") + b"\n"
        if self.path is None:
            self._memory.append(record)
            return record
        self.path.parent.mkdir(parents=True, exist_ok=True)
        old = self.path.read_bytes() if self.path.exists() else b""
        _atomic_write(self.path, old + line)
        head = _canonical({"records": len(records) + 1, "hash": record["hash"]}).encode("ascii") + b"\n"
        _atomic_write(Path(str(self.path) + ".head"), head)
        return record
