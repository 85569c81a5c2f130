"""Writing files whole and the same every time."""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["figure_bytes", "write_atomic"]

#: fixed so SVG ids (clip paths, glyphs) are the same on every run
HASH_SALT = "effekt"
PNG_DPI = 150


def figure_bytes(fig: Figure, fmt: str) -> bytes:
    """``fig`` as SVG or PNG bytes, with no date or version stamp (byte-identical reruns)."""
    import matplotlib

    buf = io.BytesIO()
    if fmt == "svg":
        metadata: dict[str, str | None] = {"Date": None, "Creator": None}
    else:
        metadata = {"Software": None}
    with matplotlib.rc_context({"svg.hashsalt": HASH_SALT, "svg.fonttype": "path"}):
        fig.savefig(buf, format=fmt, dpi=PNG_DPI, bbox_inches="tight", metadata=metadata)
    return buf.getvalue()


def write_atomic(path: Path, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path
