"""Line numbers of keys in a TOML text.

:mod:`tomllib` returns plain dictionaries without positions, so the line a
key stands on is found by scanning the text: table headers (``[a.b]``,
``[[a]]``, counted per array) give the table each line belongs to, and a
key is the first ``key =`` line inside its table. A key written inside an
inline table (``options = { se_type = "HC3" }``) or as a dotted key is found
on the line of its parent key.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["find_line"]

Path = tuple[str | int, ...]

_ARRAY = re.compile(r"^\s*\[\[\s*([^\]]+?)\s*\]\]")
_TABLE = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]")


def _split(dotted: str) -> list[str]:
    return [part.strip().strip('"').strip("'") for part in dotted.split(".")]


def _sections(text: str) -> list[tuple[Path, int, int]]:
    """(table path, first line, last line) of every table, 1-based; () is the top level."""
    lines = text.splitlines()
    counts: dict[tuple[str, ...], int] = {}
    arrays: set[tuple[str, ...]] = set()
    starts: list[tuple[Path, int]] = [((), 1)]
    for i, line in enumerate(lines, start=1):
        m = _ARRAY.match(line)
        if m:
            names = tuple(_split(m.group(1)))
            counts[names] = counts.get(names, -1) + 1
            arrays.add(names)
            starts.append((_indexed(names, arrays, counts), i))
            continue
        m = _TABLE.match(line)
        if m and not line.lstrip().startswith("[["):
            names = tuple(_split(m.group(1)))
            starts.append((_indexed(names, arrays, counts), i))
    out = []
    for k, (path, start) in enumerate(starts):
        end = starts[k + 1][1] - 1 if k + 1 < len(starts) else len(lines)
        out.append((path, start, end))
    return out


def _indexed(names: tuple[str, ...], arrays: set[tuple[str, ...]], counts: dict[tuple[str, ...], int]) -> Path:
    """The path of a header, with the current element's index after each array-of-tables prefix."""
    path: list[str | int] = []
    for j in range(len(names)):
        path.append(names[j])
        prefix = names[: j + 1]
        if prefix in arrays:
            path.append(counts[prefix])
    return tuple(path)


def _key_line(lines: Sequence[str], start: int, end: int, key: str, *, header: bool) -> int | None:
    pattern = re.compile(r"^\s*(?:" + re.escape(key) + r'|"' + re.escape(key) + r'"|\'' + re.escape(key) + r"')\s*[=.]")
    first = start + 1 if header else start
    for i in range(first, end + 1):
        if pattern.match(lines[i - 1]):
            return i
    return None


def find_line(text: str, table: Path, key: str | None = None) -> int | None:
    """The 1-based line of ``key`` in ``table`` (a path such as ``("outcomes", 2, "options")``).

    Without ``key``, the line where the table starts. None when not found.

    >>> text = 'title = "x"\\n[[outcomes]]\\nname = "a"\\n[[outcomes]]\\nname = "b"\\noptions = { se_type = "HC3" }\\n'
    >>> find_line(text, ("outcomes", 1), "name"), find_line(text, ("outcomes", 1, "options"), "se_type")
    (5, 6)
    """
    lines = text.splitlines()
    table = tuple(table)
    for path, start, end in _sections(text):
        if path == table:
            if key is None:
                return start
            found = _key_line(lines, start, end, key, header=path != ())
            if found is not None:
                return found
    # an inline table or a dotted key: the parent key's line
    if table:
        parent, name = table[:-1], table[-1]
        if isinstance(name, str):
            return find_line(text, parent, name)
        return find_line(text, parent) if parent else None
    return None
