"""Parameter tables for ``effekt power NAME --help`` and ``effekt estimate NAME --help``.

The table is read from what the class itself declares, so it cannot drift
from the code:

* a power calculator may declare ``parameters()``, a classmethod returning
  one mapping per parameter with ``name``, ``default`` (as text) and
  ``meaning`` (used where the docstring does not describe the parameter);
* an estimator's options are the keyword-only parameters of ``fit`` with
  their defaults;
* meanings come from the numpydoc ``Parameters`` section of the class's
  docstring (or ``fit``'s / ``solve``'s).
"""

from __future__ import annotations

import inspect
import re
import textwrap
from typing import Any

__all__ = ["doc_parameters", "calculator_parameters", "estimator_parameters", "format_table"]

_SECTIONS = ("Parameters", "Other Parameters")
_DEFAULT = re.compile(r"(?:^|,\s*)default\s*[:=]?\s*(.+)$")


def doc_parameters(doc: str | None) -> dict[str, tuple[str, str]]:
    """``name -> (type, description)`` from the numpydoc Parameters sections of ``doc``.

    An entry ``n, n1 : float, optional`` gives both names the same text.

    >>> doc_parameters('''Test.
    ...
    ... Parameters
    ... ----------
    ... alpha : float, default 0.05
    ...     Significance level.
    ... n, n1 : int
    ...     Units in arm 1;
    ...     leave out to solve.
    ...
    ... Returns
    ... -------
    ... float
    ... ''')["n1"]
    ('int', 'Units in arm 1; leave out to solve.')
    """
    if not doc:
        return {}
    lines = inspect.cleandoc(doc).splitlines()
    entries: list[tuple[list[str], str, list[str]]] = []
    inside = False
    for i, line in enumerate(lines):
        nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if line and not line[0].isspace() and nxt and set(nxt) == {"-"}:
            inside = line.strip() in _SECTIONS  # a section header
            continue
        if not inside or (line.strip() and set(line.strip()) == {"-"}):
            continue
        if line and not line[0].isspace():
            head, _, kind = line.partition(":")
            names = [n.strip().lstrip("*") for n in head.split(",") if n.strip()]
            entries.append((names, kind.strip(), []))
        elif line.strip() and entries:
            entries[-1][2].append(line.strip())
    return {name: (kind, " ".join(text)) for names, kind, text in entries for name in names}


def _first_sentence(text: str) -> str:
    return text.split(". ")[0].rstrip(".") + "." if text else ""


def _doc_default(kind: str) -> str | None:
    for part in kind.split(","):
        m = _DEFAULT.search(part.strip())
        if m:
            return m.group(1).strip()
    return None


def _docs(*objs: Any) -> dict[str, tuple[str, str]]:
    found: dict[str, tuple[str, str]] = {}
    for obj in objs:
        for name, entry in doc_parameters(inspect.getdoc(obj)).items():
            found.setdefault(name, entry)
    return found


def calculator_parameters(cls: Any) -> list[tuple[str, str, str]]:
    """``(name, default, meaning)`` for every parameter of a power calculator."""
    docs = _docs(cls, getattr(cls, "solve", None))
    declared = getattr(cls, "parameters", None)
    if callable(declared):
        rows = []
        for row in declared():
            name = str(row["name"])
            kind, described = docs.get(name, ("", ""))
            meaning = str(described or row.get("meaning") or kind)
            rows.append((name, str(row.get("default", "")), meaning))
        return rows
    return [
        (name, _doc_default(kind) or ("optional" if "optional" in kind else ""), text)
        for name, (kind, text) in docs.items()
    ]


def estimator_parameters(cls: Any) -> list[tuple[str, str, str]]:
    """``(name, default, meaning)`` for every option of an estimator's ``fit``."""
    docs = _docs(cls, getattr(cls, "fit", None))
    try:
        params = inspect.signature(cls.fit).parameters
    except (TypeError, ValueError):
        return [(n, _doc_default(k) or "", t) for n, (k, t) in docs.items()]
    rows = []
    for name, p in params.items():
        if name in ("self", "data") or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        default = "required" if p.default is p.empty else repr(p.default)
        kind, described = docs.get(name, ("", ""))
        rows.append((name, default, described or kind))
    return rows


def format_table(
    rows: list[tuple[str, str, str]], *, width: int = 100, full: bool = True, prefix: str = "--"
) -> str:
    """The rows as ``--name  default  meaning``, the meaning wrapped under its column."""
    if not rows:
        return "  (this class declares no parameters)"
    name_w = min(max(len(r[0]) for r in rows) + len(prefix), 24)
    default_w = min(max(len(r[1]) for r in rows), 20)
    indent = 2 + name_w + 2 + default_w + 2
    lines = []
    for name, default, meaning in rows:
        text = (meaning if full else _first_sentence(meaning)).replace("``", "")
        head = f"  {prefix + name:<{name_w}}  {default:<{default_w}}  "
        if len(head) > indent:
            lines.append(head.rstrip())
            head = " " * indent
        wrapped = textwrap.wrap(text, max(width - indent, 30)) or [""]
        lines.append((head + wrapped[0]).rstrip())
        lines.extend(" " * indent + w for w in wrapped[1:])
    return "\n".join(lines)
