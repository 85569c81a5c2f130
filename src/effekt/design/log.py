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

Appending costs time in proportion to the record, not to the log. A
record's line is appended to the file (``O_APPEND``) and synced to disk,
then the head file is replaced atomically (written to a temporary file in
the same directory, ``fsync``-ed and renamed over the head: ``os.replace``
is atomic on POSIX and Windows). The earlier lines are neither re-read nor
rewritten: an :class:`AllocationLog` keeps what it last verified (the
number of records, their end in the file, the last two hashes and a digest
of the last line) and, before each append, compares the file's identity
and size, the head file and the last line's bytes with it, and reads and
chain-checks only the lines added since (by another process). The whole
chain is verified when the log is first read by an object, by
:func:`verify_log` (``effekt verify-log``, ``BatchLottery.verify``) and
whenever the file changed otherwise than by appends (shrunk, replaced,
its last line edited).

Crash safety: a process killed at any point of an append leaves one of
three logs, each of which verifies: the old log; the old log followed by
an *incomplete* line (killed while writing the line), which carries
nothing and which the next append removes first; or the old log plus the
complete new record, one record ahead of its head file (killed between the
line and the head), which the next append brings up to date first (before
writing its own record, so that repeated kills never leave the log two
records ahead of its head). :func:`verify_log` accepts exactly these: an
incomplete line only right after the records the head file covers, and one
complete record beyond them. An error while writing the line (a full disk,
the file-size limit) cuts the file back to its old size, so the log is
unchanged. The first record of a new log is written whole to a temporary
file and renamed into place.

Every append takes an exclusive lock on ``LOG.lock`` (POSIX ``flock``, held
by :class:`AllocationLog` itself, so two processes appending directly, or
drawing through :class:`~effekt.design.lottery.BatchLottery`, cannot
interleave). Temporary files left by a killed process (``.LOG.XXXXXXXX.tmp``
and ``.LOG.head.XXXXXXXX.tmp``, the names :func:`tempfile.mkstemp` gives
them here) are removed under that lock when the log is next opened.

What each check guarantees
--------------------------
* **The unkeyed chain** detects accidental damage and edits in the middle:
  any edited byte, a deleted, inserted or reordered line, a truncated tail,
  and a deleted head file (once the log has two records). Anyone who can
  write the folder can still recompute every hash, or add a last record and
  pass it off as "the last append was interrupted". (Bytes without a line
  end after the head's records pass as an interrupted append too; they
  hold no record, nothing reads them, and the next append removes them.)
* **A keyed log** (``key=``: an HMAC-SHA256 key the team keeps *outside* the
  log folder) adds a MAC to every record and to the head file
  (:func:`record_mac`). Verified with the key, a forged record (also a
  forged last one), a replaced or rewritten head and a deleted head file
  are detected, by anyone who does not hold the key. A keyed log still
  verifies without the key (the chain only), and refuses appends without it.
* **A pinned head** (:func:`head_pin`, e.g. ``"12:3f5a..."``: the number of
  records and the last hash, printed by ``effekt log-head``) copied into a
  report, the study file or the trial registration detects truncation and
  rollback after the pin: ``verify_log(path, pin=...)`` fails unless record
  number 12 is still the record whose hash was pinned. Without a pin, a
  copy of an older log with its older (keyed) head still verifies.

Unit identifiers
----------------
:func:`unit_key` is the one form under which a unit is known in the log
(the "already randomised" check, replay and withdrawals compare it): text is
kept verbatim, a whole number is its decimal digits. So ``1``,
``numpy.int64(1)``, ``1.0`` and ``"1"`` are the same person, while ``"01"``,
``" 1"`` and ``"1.0"`` (text) are three other people. Booleans, fractional
or non-finite numbers, and floats beyond 2**53 are refused.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import hmac
import json
import math
import numbers
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from effekt.errors import DataError, DesignError
from effekt.result import to_jsonable

__all__ = ["AllocationLog", "LogCheck", "verify_log", "head_pin", "read_key", "new_key", "record_mac", "unit_key", "GENESIS"]

GENESIS = "0" * 64


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def _members(parts: dict[str, str]) -> str:
    """A dict's canonical JSON from its members' texts (``'"key":value'``), in key order."""
    return "{" + ",".join(parts[k] for k in sorted(parts)) + "}"


def _hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical(body).encode("ascii")).hexdigest()


def record_mac(key: bytes, body: dict[str, Any]) -> str:
    """HMAC-SHA256 of a record's (or head's) canonical JSON without ``mac`` and ``hash``."""
    plain = {k: v for k, v in body.items() if k not in ("mac", "hash")}
    return hmac.new(key, _canonical(plain).encode("ascii"), hashlib.sha256).hexdigest()


def _head_mac(key: bytes, head: dict[str, Any]) -> str:
    plain = {"records": head.get("records"), "hash": head.get("hash")}
    return hmac.new(key, b"head:" + _canonical(plain).encode("ascii"), hashlib.sha256).hexdigest()


def unit_key(value: Any) -> str:
    """The canonical form of a unit identifier in the log (module notes).

    >>> unit_key(1), unit_key(1.0), unit_key("1"), unit_key("01")
    ('1', '1', '1', '01')
    """
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars
        with contextlib.suppress(TypeError, ValueError):
            value = value.item()
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        raise DataError(f"unit identifier {value!r} is a True/False value; identifiers are text or whole numbers.")
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        f = float(value)
        if not math.isfinite(f) or f != int(f) or abs(f) > 2**53:
            raise DataError(
                f"unit identifier {value!r} is not a whole number (or too large to be exact as a float); "
                "give identifiers as text or whole numbers."
            )
        return str(int(f))
    raise DataError(f"unit identifier {value!r} ({type(value).__name__}) must be text or a whole number.")


def read_key(key: bytes | str | os.PathLike[str], log_path: str | os.PathLike[str] | None = None) -> bytes:
    """A log key: ``bytes`` as given, or the contents of a key file (surrounding whitespace removed).

    The key file must hold at least 16 bytes and lie outside the log's folder
    (a key kept beside the log protects nothing).
    """
    if isinstance(key, bytes):
        data = key
        where = "key"
    else:
        kp = Path(key)
        where = f"key file {str(kp)!r}"
        if not kp.is_file():
            raise DataError(f"{where} does not exist or is not a file; create one with `effekt log-key FILE`.")
        if log_path is not None:
            folder = Path(log_path).resolve().parent
            if kp.resolve().parent == folder or folder in kp.resolve().parents:
                raise DataError(
                    f"{where} is inside the log's folder {str(folder)!r}; keep the key elsewhere, or it "
                    "protects nothing against someone who can write the folder."
                )
        data = kp.read_bytes().strip()
    if len(data) < 16:
        raise DataError(f"{where} holds {len(data)} bytes; a log key needs at least 16 (`effekt log-key FILE` writes one).")
    return data


def new_key(path: str | os.PathLike[str]) -> Path:
    """Write a new random key (32 bytes, hex) to ``path``, readable by its owner only; refuses to overwrite."""
    import secrets

    p = Path(path)
    if p.exists():
        raise DataError(f"key file {str(p)!r} already exists; a log key is never overwritten.")
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32) + "\n")
    return p


def head_pin(path: str | os.PathLike[str], *, key: bytes | str | os.PathLike[str] | None = None) -> str:
    """The head of an intact log as ``"RECORDS:HASH"``, for a report or the study file to pin.

    Raises DesignError when the log does not verify.
    """
    check = verify_log(path, key=key)
    if not check.ok:
        raise DesignError(f"allocation log {str(path)!r} is damaged ({check.message}); a damaged log has no head to pin.")
    return f"{check.n_records}:{check.head_hash}"


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


@dataclass
class _Scan:
    """Records of a run of lines, the byte offset after each, and what ends the run."""

    records: list[dict[str, Any]]
    ends: list[int]
    partial: bool = False  # the run ends in an incomplete line (no line end)
    problem: LogCheck | None = None


def _scan(data: bytes | memoryview, *, seq: int = 0, prev: str = GENESIS, base: int = 0) -> _Scan:
    """Check the lines of ``data`` (starting at a line start) as records ``seq, seq + 1, ...`` chained to ``prev``.

    ``base`` is the file offset of ``data``. An incomplete last line (no
    line end) is not a problem here: the caller judges it against the head.
    """
    records: list[dict[str, Any]] = []
    ends: list[int] = []
    raw = bytes(data)
    pos, size = 0, len(raw)
    while pos < size:
        nl = raw.find(b"\n", pos)
        if nl < 0:
            return _Scan(records, ends, partial=True)
        i = seq + len(records)
        lineno = i + 1

        def bad(why: str, lineno: int = lineno) -> _Scan:
            return _Scan(records, ends, problem=LogCheck(False, len(records), lineno, f"line {lineno}: {why}"))

        try:
            text = raw[pos:nl].decode("ascii")
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
        ends.append(base + nl + 1)
        pos = nl + 1
    return _Scan(records, ends)


def _mac_problem(secret: bytes, records: list[dict[str, Any]], seq: int = 0) -> LogCheck | None:
    for j, rec in enumerate(records):
        if not hmac.compare_digest(str(rec.get("mac", "")), record_mac(secret, rec)):
            i = seq + j
            why = "has no MAC (the log was not written with a key)" if "mac" not in rec else "its MAC does not match the key"
            return LogCheck(False, seq + len(records), i + 1, f"line {i + 1}: {why}; it was not written by effekt with this key")
    return None


def _judge_head(
    p: Path,
    n: int,
    hash_at: Callable[[int], str | None],
    head: dict[str, Any] | None,
    *,
    secret: bytes | None,
    partial: bool,
    keyed: bool,
) -> LogCheck:
    """The verdict on ``n`` chain-checked records (and maybe an incomplete line after them) against the head file.

    ``hash_at(i)`` is the hash of record ``i`` (0-based), or None when the
    caller does not hold it (then only a verdict that needs no hash is given).
    """
    last = (hash_at(n - 1) if n else GENESIS) or GENESIS
    if head is None:
        if secret is not None and n > 1:
            return LogCheck(False, n, n, f"the head file {str(p)}.head is missing (a keyed log always has one; it was deleted)")
        if n > 1 or partial:
            return LogCheck(False, n, max(n, 1), f"the head file {str(p)}.head is missing (effekt writes it with every append; it was deleted)")
        return LogCheck(True, n, None, f"intact: {n} records (the first append was interrupted before its head file was written)", last)
    k = head["records"]
    if k < 0:
        return LogCheck(False, n, max(n, 1), f"the head file {str(p)}.head is damaged")
    if secret is not None and not hmac.compare_digest(str(head.get("mac", "")), _head_mac(secret, head)):
        return LogCheck(False, n, max(n, 1), f"the head file {str(p)}.head does not carry this key's MAC (it was replaced or forged)")
    if partial and n <= k:
        if n < k:
            return LogCheck(False, n, n + 1, f"line {n + 1}: the last line is incomplete (no line end) and the head file records {k} records")
    elif partial:
        return LogCheck(False, n, n + 1, f"line {n + 1}: the last line is incomplete (no line end) after a record the head file does not cover")
    if n < k:
        return LogCheck(False, n, n + 1, f"line {n + 1}: missing; the head file records {k} records but the log has {n} (lines were deleted)")
    if k > 0 and hash_at(k - 1) != head["hash"]:
        return LogCheck(False, n, k, f"line {k}: does not match the hash in the head file (the log was rewritten)")
    if n > k + 1:
        return LogCheck(False, n, k + 2, f"line {k + 2}: the head file records {k} records; lines after {k + 1} were added outside effekt")
    note = " (the last append was interrupted before its head file was updated; the next append repairs it)" if n == k + 1 else ""
    if partial:
        note = " (the last append was interrupted while writing its line; the next append removes the incomplete line)"
    if secret is None and keyed:
        note += "; the log is keyed: pass its key to check the MACs"
    return LogCheck(True, n, None, f"intact: {n} records, last hash {last[:16]}...{note}", last)


def _head_path(path: Path) -> Path:
    return Path(str(path) + ".head")


def _read_head(path: Path) -> dict[str, Any] | None:
    head = _head_path(path)
    if not head.exists():
        return None
    try:
        obj = json.loads(head.read_text("ascii"))
        if isinstance(obj, dict) and isinstance(obj.get("records"), int) and isinstance(obj.get("hash"), str):
            return obj
    except (UnicodeDecodeError, json.JSONDecodeError):
        pass
    return {"records": -1, "hash": ""}


def _check_path(p: Path, what: str = "allocation log") -> None:
    if p.is_dir():
        raise DataError(f"{what} {str(p)!r} is a directory; give the path of the log file (e.g. {str(p / 'allocation.jsonl')!r}).")


def _parse_pin(pin: str) -> tuple[int, str]:
    count, sep, digest = str(pin).strip().partition(":")
    if not sep or not count.isdigit() or not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise DesignError(f"pin={pin!r} must look like '12:<64 hex digits>', as printed by head_pin / `effekt log-head`.")
    return int(count), digest


def verify_log(
    path: str | os.PathLike[str],
    *,
    key: bytes | str | os.PathLike[str] | None = None,
    pin: str | None = None,
) -> LogCheck:
    """Check an allocation log's hash chain and its head file.

    Parameters
    ----------
    path : path
        The JSON Lines log.
    key : bytes or path, optional
        The log's key (bytes, or a key file): every record's and the head's
        MAC are checked too, so a forged last record, a replaced head and a
        deleted head file are detected (module notes).
    pin : str, optional
        A head pinned earlier (``"RECORDS:HASH"`` from :func:`head_pin`): the
        log must still hold that record, so truncation and rollback are
        detected.

    Returns
    -------
    LogCheck
        ``ok``, the number of records, and the first bad line (1-based)
        with the reason when the log is not intact.

    Raises
    ------
    DataError
        The file does not exist, is a directory, or the key cannot be read.

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
    _check_path(p)
    if not p.exists():
        raise DataError(f"allocation log {str(p)!r} does not exist; check the path.")
    secret = read_key(key, p) if key is not None else None
    pinned = _parse_pin(pin) if pin is not None else None
    # the head before the log: an append between the two reads then leaves the log one record ahead
    # of the head read (which verifies), never behind it
    head = _read_head(p)
    return _verify_data(p, p.read_bytes(), secret, pinned, head=head)[0]


_UNREAD: Any = object()


def _verify_data(
    p: Path, data: bytes, secret: bytes | None, pinned: tuple[int, str] | None = None, *, head: Any = _UNREAD
) -> tuple[LogCheck, _Scan]:
    """:func:`verify_log` on the log's bytes ``data`` (and its head, read now unless given); also returns the scan."""
    scan = _scan(data)
    if scan.problem is not None:
        return scan.problem, scan
    records = scan.records
    n = len(records)
    keyed = any("mac" in r for r in records)
    if secret is not None:
        problem = _mac_problem(secret, records)
        if problem is not None:
            return problem, scan
    if pinned is not None:
        k, digest = pinned
        if n < k or (k > 0 and records[k - 1]["hash"] != digest) or (k == 0 and digest != GENESIS):
            where = min(n, k) + 1 if n < k else k
            return LogCheck(
                False, n, where,
                f"the pinned head {k}:{digest[:16]}... is not in the log (it has {n} records): the log was truncated, "
                "rolled back or rewritten after the pin",
            ), scan

    def hash_at(i: int) -> str | None:
        return str(records[i]["hash"]) if 0 <= i < n else None

    if head is _UNREAD:
        head = _read_head(p)
    check = _judge_head(p, n, hash_at, head, secret=secret, partial=scan.partial, keyed=keyed)
    return check, scan


#: the temporary names _atomic_write gives (tempfile.mkstemp: 8 characters of [a-z0-9_])
def _temp_pattern(path: Path) -> re.Pattern[str]:
    return re.compile(r"\." + re.escape(path.name) + r"(\.head)?\.[a-z0-9_]{8}\.tmp")


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


# One lock per log file and process: flock locks belong to an open file, so a
# second open of LOG.lock in the same process would wait for itself.
_LOCKS: dict[str, tuple[threading.RLock, list[Any]]] = {}
_LOCKS_GUARD = threading.Lock()


def _process_lock(path: Path) -> tuple[threading.RLock, list[Any]]:
    name = os.path.realpath(path)
    with _LOCKS_GUARD:
        if name not in _LOCKS:
            _LOCKS[name] = (threading.RLock(), [None, 0])  # [open lock file, depth]
        return _LOCKS[name]


def _write_failed(path: Path, exc: OSError, *, appended: bool) -> DataError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        why = "the disk is full"
    elif exc.errno == errno.EFBIG:
        why = "the file-size limit was reached"
    else:
        why = exc.strerror or str(exc)
    if appended:
        return DataError(
            f"the record was appended to the allocation log {str(path)!r}, but its head file could not be "
            f"updated: {why}. The log verifies and the next append repairs the head; fix this, then draw the "
            "same batch again to get its recorded allocation."
        )
    return DataError(
        f"could not write the allocation log {str(path)!r}: {why}. Nothing was appended (the log is unchanged "
        "and still verifies); fix this and draw again."
    )


class AllocationLog:
    """An append-only, hash-chained JSON Lines log (see the module notes).

    ``path=None`` keeps the records in memory (same chain, no file).
    ``key`` (bytes, or the path of a key file outside the log's folder)
    makes a keyed log: every record and the head carry an HMAC-SHA256.

    Examples
    --------
    >>> log = AllocationLog(None)
    >>> rec = log.append({"type": "note", "text": "hello"})
    >>> rec["seq"], rec["prev"] == GENESIS, len(rec["hash"])
    (0, True, 64)
    """

    def __init__(self, path: str | os.PathLike[str] | None, *, key: bytes | str | os.PathLike[str] | None = None):
        self.path = Path(path) if path is not None else None
        self._memory: list[dict[str, Any]] = []
        self._cursor = 0  # records of the in-memory log already handed out by _sync
        self._tail: _Tail | None = None  # what this object last verified of the file (see _sync)
        self._pending: list[dict[str, Any]] = []  # records read by append's own _sync, for the next _sync
        self._pending_reset = False
        self._key = read_key(key, self.path) if key is not None else None
        if self.path is not None:
            _check_path(self.path)
            if self.path.parent.is_dir():
                self.clean_temporary_files()

    @property
    def keyed(self) -> bool:
        """True when records are written with a key."""
        return self._key is not None

    def clean_temporary_files(self) -> list[Path]:
        """Remove temporary files a killed append left beside the log (under the lock); returns them."""
        if self.path is None or not self.path.parent.is_dir():
            return []
        pattern = _temp_pattern(self.path)
        if not any(pattern.fullmatch(name) for name in os.listdir(self.path.parent)):
            return []
        removed = []
        try:
            with self.locked():  # an append in another process may be writing its temporary file right now
                for entry in os.scandir(self.path.parent):
                    if pattern.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(entry.path)
                            removed.append(Path(entry.path))
        except PermissionError:  # a read-only copy of the log: nothing to clean here
            return removed
        return removed

    def records(self) -> list[dict[str, Any]]:
        """Every record, after checking the chain (and the MACs of a keyed log); DesignError if it is broken."""
        if self.path is None:
            return list(self._memory)
        if not self.path.exists():
            return []
        return self._verified(self.path.read_bytes()).records

    def _verified(self, data: bytes) -> _Scan:
        """The scan of the whole log ``data``; DesignError when it does not verify (with this object's key)."""
        assert self.path is not None
        if self._key is not None:
            first = data[: data.find(b"\n") + 1] if b"\n" in data else data
            if first and b'"mac":' not in first:
                raise DesignError(
                    f"allocation log {str(self.path)!r} was started without a key; use it without key=, "
                    "or start a new keyed log."
                )
        check, scan = _verify_data(self.path, data, self._key)
        if not check.ok:
            raise self._damaged(check)
        return scan

    def _damaged(self, check: LogCheck) -> DesignError:
        return DesignError(
            f"allocation log {str(self.path)!r} is damaged ({check.message}); nothing is drawn from a "
            "damaged log. Restore it from a backup, or start a new log and say why."
        )

    def _sync(self) -> tuple[list[dict[str, Any]], bool]:
        """The records added since this object last looked, checked; call it under :meth:`locked`.

        Returns ``(records, reset)``. With ``reset`` False the records follow
        those handed out before (in this process: none, or appends of other
        processes); with ``reset`` True they are the whole log, from record 0
        (the first call, or the file changed in a way the tail cannot
        explain: it is then verified whole). What is re-read costs time in
        proportion to what was added, not to the log: the file's identity
        and size, the head file and the bytes of the last known record are
        compared with what this object saw last, and only the lines after
        it are read and chain-checked. DesignError when the log is damaged.
        """
        pending, pending_reset = self._pending, self._pending_reset
        self._pending, self._pending_reset = [], False
        if self.path is None:
            new = self._memory[self._cursor :]
            reset = self._cursor == 0
            self._cursor = len(self._memory)
            return pending + new, pending_reset or reset
        more, reset = self._read_tail()
        if reset:
            return more, True
        return pending + more, pending_reset

    def _read_tail(self) -> tuple[list[dict[str, Any]], bool]:
        assert self.path is not None
        p, t = self.path, self._tail
        try:
            st = os.stat(p)
        except FileNotFoundError:
            if t is not None and t.n > 0:
                self._tail = None
                raise DesignError(
                    f"allocation log {str(p)!r} has disappeared (it held {t.n} records when last read); "
                    "restore it from a backup: nothing is drawn without it."
                ) from None
            self._tail = _Tail.empty()
            return [], t is None
        if t is not None and st.st_ino == t.ino and st.st_size >= t.size:
            head = _read_head(p)
            with open(p, "rb") as fh:
                fh.seek(t.line_start)
                chunk = fh.read()
            split = t.size - t.line_start
            if hashlib.sha256(chunk[:split]).digest() == t.line_digest:
                if st.st_size == t.size and head is not None and head.get("records") == t.n and head.get("hash") == t.last:
                    return [], False
                scan = _scan(memoryview(chunk)[split:], seq=t.n, prev=t.last, base=t.size)
                if scan.problem is None and (self._key is None or _mac_problem(self._key, scan.records, t.n) is None):
                    new, n = scan.records, t.n + len(scan.records)

                    def hash_at(i: int) -> str | None:
                        if i >= t.n:
                            return str(new[i - t.n]["hash"])
                        return t.last if i == t.n - 1 else (t.before_last if i == t.n - 2 else None)

                    keyed = t.keyed or (t.n == 0 and bool(new) and "mac" in new[0])
                    check = _judge_head(p, n, hash_at, head, secret=self._key, partial=scan.partial, keyed=keyed)
                    if check.ok:
                        self._tail = t.advanced(new, scan.ends, chunk, st.st_ino) if new else t
                        return new, False
        # the file was replaced, shrunk or rewritten since this object last read it: verify it whole
        data = p.read_bytes()
        scan = self._verified(data)
        self._tail = _Tail.of(scan, data, st.st_ino)
        return scan.records, True

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold an exclusive lock on the log (POSIX ``flock`` on ``LOG.lock``); re-entrant within a process."""
        if self.path is None:
            yield
            return
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            yield
            return
        rlock, state = _process_lock(self.path)
        with rlock:
            if state[1] == 0:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fh = open(str(self.path) + ".lock", "a")  # noqa: SIM115 - held across the yield
                try:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
                except BaseException:
                    fh.close()
                    raise
                state[0] = fh
            state[1] += 1
            try:
                yield
            finally:
                state[1] -= 1
                if state[1] == 0:
                    fh = state[0]
                    state[0] = None
                    try:
                        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
                    finally:
                        fh.close()

    def _head_line(self, n: int, last: str) -> bytes:
        head: dict[str, Any] = {"records": n, "hash": last}
        if self._key is not None:
            head["mac"] = _head_mac(self._key, head)
        return _canonical(head).encode("ascii") + b"\n"

    def append(self, content: dict[str, Any]) -> dict[str, Any]:
        """Append one record (``content`` plus seq, time, prev, [mac,] hash) under the lock; returns it.

        The new line is appended to the file (its earlier lines are neither
        re-read nor rewritten: see :meth:`_sync`), synced to disk, and the
        head file is replaced atomically; an incomplete line left by an
        append killed mid-write is removed first, and a head one record
        behind is brought up to date first.

        Raises
        ------
        DesignError
            The log is damaged, or keyed and no key (or a log without MACs and a key) was given.
        DataError
            The disk is full or the log cannot be written; nothing was appended.
        """
        return self._append(to_jsonable(dict(content)))

    def _append(self, body: dict[str, Any]) -> dict[str, Any]:
        """:meth:`append` of a body that is JSON already (text, whole numbers, lists, dicts)."""
        with self.locked():
            try:
                return self._append_locked(body)
            except BaseException:
                self._tail = None  # an interrupted append: read the file afresh next time
                raise

    def _append_locked(self, body: dict[str, Any]) -> dict[str, Any]:
        new, reset = self._sync()
        if new or reset:  # records the caller has not seen: its next _sync hands them out
            self._pending, self._pending_reset = new, reset
        if self.path is None:
            n = len(self._memory)
            last = self._memory[-1]["hash"] if self._memory else GENESIS
            keyed = bool(self._memory) and "mac" in self._memory[0]
        else:
            assert self._tail is not None
            n, last, keyed = self._tail.n, self._tail.last, self._tail.keyed
        if n and self._key is None and keyed:
            raise DesignError(f"allocation log {str(self.path)!r} is keyed; pass its key to append to it.")
        body = dict(body)
        for name in ("hash", "mac"):
            body.pop(name, None)
        body["seq"] = n
        body["prev"] = last
        body.setdefault("time", datetime.now(UTC).isoformat(timespec="seconds"))
        if self._key is not None:
            body["mac"] = record_mac(self._key, body)
        # canonical JSON of a dict: its members in key order, each value's canonical JSON; so the body's
        # text (hashed) and the record's line (with "hash" in its place) share the values' text
        parts = {k: _canonical(k) + ":" + _canonical(v) for k, v in body.items()}
        digest = hashlib.sha256(_members(parts).encode("ascii")).hexdigest()
        record = {**body, "hash": digest}
        if self.path is None:
            self._memory.append(record)
            self._cursor = len(self._memory)
            return record
        parts["hash"] = '"hash":' + _canonical(digest)
        line = _members(parts).encode("ascii") + b"\n"
        t = self._tail
        assert t is not None
        try:
            if n == 0:  # the first record: the file appears whole or not at all
                _atomic_write(self.path, line)
            else:
                # An append killed mid-write left an incomplete line: remove it. One killed between its line
                # and its head left the log one record ahead of its head: bring the head up to date first,
                # or a second such kill would leave it two behind.
                if os.stat(self.path).st_size > t.size:
                    _truncate(self.path, t.size)
                current = _read_head(self.path)
                if current is None or current["records"] != n or current.get("hash") != last:
                    _atomic_write(_head_path(self.path), self._head_line(n, last))
                _append_line(self.path, line, t.size)
        except OSError as exc:
            raise _write_failed(self.path, exc, appended=False) from exc
        self._tail = t.appended(line, digest, os.stat(self.path).st_ino, keyed=self._key is not None)
        try:
            _atomic_write(_head_path(self.path), self._head_line(n + 1, digest))
        except OSError as exc:
            raise _write_failed(self.path, exc, appended=True) from exc
        return record


@dataclass
class _Tail:
    """What an :class:`AllocationLog` last verified of its file: enough to read only what follows."""

    n: int  # complete records
    size: int  # byte offset after the last record's line
    last: str  # hash of the last record (GENESIS when none)
    before_last: str  # hash of the record before it
    line_start: int  # offset of the last record's line
    line_digest: bytes  # SHA-256 of the last record's line (with its line end)
    keyed: bool  # the first record carries a MAC
    ino: int = -1

    @classmethod
    def empty(cls) -> _Tail:
        return cls(0, 0, GENESIS, GENESIS, 0, hashlib.sha256(b"").digest(), False)

    @classmethod
    def of(cls, scan: _Scan, data: bytes, ino: int) -> _Tail:
        recs, ends = scan.records, scan.ends
        if not recs:
            t = cls.empty()
            t.ino = ino
            return t
        start = ends[-2] if len(ends) > 1 else 0
        return cls(
            len(recs), ends[-1], str(recs[-1]["hash"]), str(recs[-2]["hash"]) if len(recs) > 1 else GENESIS,
            start, hashlib.sha256(data[start : ends[-1]]).digest(), "mac" in recs[0], ino,
        )

    def advanced(self, new: list[dict[str, Any]], ends: list[int], chunk: bytes, ino: int) -> _Tail:
        """After reading the records ``new`` (line ends ``ends``) in ``chunk``, which starts at ``line_start``."""
        start = ends[-2] if len(ends) > 1 else self.size
        before = str(new[-2]["hash"]) if len(new) > 1 else self.last
        line = chunk[start - self.line_start : ends[-1] - self.line_start]
        keyed = self.keyed if self.n else "mac" in new[0]
        return _Tail(self.n + len(new), ends[-1], str(new[-1]["hash"]), before, start,
                     hashlib.sha256(line).digest(), keyed, ino)

    def appended(self, line: bytes, digest: str, ino: int, *, keyed: bool) -> _Tail:
        """After this process appended ``line`` (the record whose hash is ``digest``)."""
        return _Tail(self.n + 1, self.size + len(line), digest, self.last, self.size,
                     hashlib.sha256(line).digest(), self.keyed if self.n else keyed, ino)


def _append_line(path: Path, line: bytes, size: int) -> None:
    """Append ``line`` to the log (whose complete records end at ``size``) and sync it to disk.

    On an error (a full disk, the file-size limit) the file is cut back to
    ``size``, so that nothing of the line remains.
    """
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        view = memoryview(line)
        done = 0
        try:
            while done < len(view):
                done += os.write(fd, view[done:])
            os.fsync(fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)
            raise
    finally:
        os.close(fd)


def _truncate(path: Path, size: int) -> None:
    """Cut the log back to ``size`` bytes (removing an incomplete last line) and sync it."""
    fd = os.open(path, os.O_WRONLY)
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    finally:
        os.close(fd)
