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

__all__ = ["Case", "Peer"]


@dataclass(frozen=True)
class Peer:
    """One tool effekt is compared with in a case.

    ``run(data)`` returns the peer's result; ``check(data, effekt_out,
    peer_out)`` raises ``AssertionError`` naming what differs (``None``: the
    peer computes something else and is compared on time only, which the
    table says). ``target`` is the largest ``effekt / peer`` time ratio
    the project's goal allows (``None``: no goal).
    """

    name: str
    run: Callable[[Any], Any]
    check: Callable[[Any, Any, Any], None] | None = None
    target: float | None = None


@dataclass(frozen=True)
class Case:
    """effekt against its peers on data built by ``setup(size)``.

    ``name`` is ``"<group>.<case>"``, the group being the module's topic
    (``--only GROUP`` or ``--only GROUP.CASE``); ``title`` labels the row
    in the README. ``sizes`` are the full run's sizes (in ``unit``, e.g.
    rows), ``quick_size`` the one size of ``--quick``. ``fresh_process``
    runs each tool in its own process so that peak memory (RSS) can be
    recorded as well as time.
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
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def group(self) -> str:
        return self.name.split(".", 1)[0]
