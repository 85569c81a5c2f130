"""The unit of the benchmark runner: a case, effekt and its peers on the same data.

Every ``benchmarks/bench_*.py`` module lists its comparisons in ``CASES``.
A case builds its data once per size (``setup``); the runner then calls
effekt and each peer on that object, taking turns, checks agreement with
each peer's ``check`` before it times anything, and records the best of
``repeat`` turns. ``--quick`` runs setup and checks at ``quick_size`` only.

>>> import numpy as np
>>> c = Case(name="demo.sum", title="sum of squares", setup=lambda n: np.arange(float(n)),
...          effekt=lambda x: float(x @ x), peers=(Peer("numpy", lambda x: float(np.sum(x**2)),
...          check=lambda d, a, b: np.testing.assert_allclose(a, b)),), sizes=(1000,), quick_size=10)
>>> c.group
'demo'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Case", "Measured", "Peer"]


@dataclass(frozen=True)
class Peer:
    """One tool effekt is compared with in a case.

    ``run(data)`` returns the peer's result; ``check(data, effekt_out,
    peer_out)`` raises ``AssertionError`` naming what differs (``None``: the
    peer computes something else and is compared on time only, which the
    table says). ``target`` is the largest ``effekt / peer`` time ratio
    the project's goal allows (``None``: no goal).

    ``package`` names the distribution whose version the results record
    (``""``: none). ``repeat`` caps the timed rounds this peer takes part in
    (a slow peer timed once; ``0``: not called again, its checked call is
    its time, for peers that take minutes), ``max_size`` skips the peer at larger sizes
    (too slow or too big there), and ``scale`` multiplies its time before
    the ratio when it runs a sample of effekt's work (a number or a
    function of the size, e.g. grid points / sampled points).
    """

    name: str
    run: Callable[[Any], Any]
    check: Callable[[Any, Any, Any], None] | None = None
    target: float | None = None
    package: str = ""
    repeat: int | None = None
    max_size: int | None = None
    scale: float | Callable[[int], float] = 1.0

    def scale_at(self, size: int) -> float:
        return float(self.scale(size) if callable(self.scale) else self.scale)


@dataclass(frozen=True)
class Measured:
    """What a tool returns when it times itself (e.g. the work after a
    cluster start-up): the runner takes ``seconds`` instead of its own clock
    and hands ``value`` to the checks."""

    seconds: float
    value: Any = None


@dataclass(frozen=True)
class Case:
    """effekt against its peers on data built by ``setup(size)``.

    ``name`` is ``"<group>.<case>"``, the group being the module's topic
    (``--only GROUP`` or ``--only GROUP.CASE``); ``title`` labels the row
    in the README. ``sizes`` are the full run's sizes (in ``unit``, e.g.
    rows), ``quick_size`` the one size of ``--quick``. ``fresh_process``
    runs each tool in its own process so that peak memory (RSS) can be
    recorded as well as time.

    ``number`` calls make one timed round (its time divided by
    ``number``: for calls of a few milliseconds); ``summary`` is how the
    rounds are summarised, ``"min"`` (best) or ``"median"``;
    ``max_seconds`` is a goal on effekt's own time (e.g. start-up under
    0.5 s), checked beside the peers' ratio targets.
    """

    name: str
    title: str
    setup: Callable[[int], Any]
    effekt: Callable[[Any], Any]
    peers: tuple[Peer, ...] = ()
    sizes: tuple[int, ...] = ()
    quick_size: int = 0
    unit: str = "rows"
    repeat: int = 3
    fresh_process: bool = False
    notes: str = ""
    number: int = 1
    summary: str = "min"
    max_seconds: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def group(self) -> str:
        return self.name.split(".", 1)[0]
