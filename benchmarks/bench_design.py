"""Designs: block assignment against stochatreat, and batch lotteries into an allocation log.

Three cases, each effekt against a peer on the same data:

* ``design.block``: ``effekt.design.block(blocks=..., prob=0.5)`` against
  ``stochatreat.stochatreat(..., probs=[0.5, 0.5])`` on units in blocks
  (100 units per block on average), 1:1. The check: both meet the design
  (every block within one half of an even split, the total within the odd
  blocks).
* ``design.lottery_file``: a :class:`~effekt.design.BatchLottery` drawing
  batches of 100,000 units (fresh people, ids 0..n-1 shuffled) one after
  another into a new allocation log file, as a trial's lotteries would over
  its recruitment. The goal is under 60 s for 100 batches (time in
  proportion to the batch, not to the log). The peer is the same lottery
  with an in-memory log: the check is that both give every batch the same
  allocation; the ratio is the cost of the file (fsync, head file) and
  nothing is asked of it.
* ``design.lottery_batch``: one batch of n units drawn by a BatchLottery
  with an in-memory log against ``stochatreat.stochatreat`` with a single
  stratum, 1:1 (target: within 3x). The check: both split the batch within
  one unit of half, every unit once.

Run: ``python -m benchmarks --only design`` (sizes: units, batches, units).
Until the runner is on main, a case runs piece by piece::

    from benchmarks.bench_design import CASES
    c = CASES[1]; d = c.setup(c.quick_size); c.peers[0].check(d, c.effekt(d), c.peers[0].run(d))
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.cases import Case, Peer

BATCH = 100_000


# --------------------------------------------------------------------------- block assignment


def _block_setup(n: int) -> dict[str, Any]:
    import pandas as pd

    rng = np.random.default_rng(1)
    blocks = rng.integers(0, max(n // 100, 1), n)
    return {"blocks": blocks, "frame": pd.DataFrame({"id": np.arange(n), "block": blocks})}


def _block_effekt(d: dict[str, Any]) -> np.ndarray:
    from effekt import design

    return design.block(blocks=d["blocks"], prob=0.5, seed=2017).treatment


def _block_stochatreat(d: dict[str, Any]) -> np.ndarray:
    import stochatreat

    out = stochatreat.stochatreat(d["frame"], "block", 2, probs=[0.5, 0.5], idx_col="id", random_state=2017)
    return out.sort_values("id")["treat"].to_numpy()


def _design_met(name: str, z: np.ndarray, blocks: np.ndarray) -> None:
    n_b = np.bincount(blocks)
    treated = np.bincount(blocks, weights=z)
    worst = float(np.max(np.abs(treated - n_b / 2)))
    odd = int(np.sum(n_b % 2))
    imbalance = abs(float(z.sum()) - len(z) / 2)
    assert worst <= 0.5 and imbalance <= odd / 2, (
        f"{name}: design not met (worst block |treated - n_b/2| = {worst}, total off by {imbalance})")


def _block_check(d: dict[str, Any], ours: np.ndarray, theirs: np.ndarray) -> None:
    _design_met("effekt", np.asarray(ours), d["blocks"])
    _design_met("stochatreat", np.asarray(theirs), d["blocks"])


# --------------------------------------------------------------------------- lottery batches into a file log


def _batches_setup(n_batches: int) -> list[Any]:
    import pandas as pd

    ids = np.random.default_rng(7).permutation(n_batches * BATCH).astype(np.int64)
    return [pd.DataFrame({"id": ids[b * BATCH : (b + 1) * BATCH]}) for b in range(n_batches)]


def _draw_all(batches: list[Any], log: Path | None) -> list[tuple[str, str]]:
    from effekt.design import BatchLottery

    lot = BatchLottery(log, seed=2017, odd="alternate")
    digests = []
    for b, units in enumerate(batches):
        d = lot.draw(units, batch=f"lottery-{b:03d}", date="2017-01-16")
        digests.append((d.batch, _digest(d.allocation)))
    return digests


def _digest(allocation: Any) -> str:
    import hashlib

    ids = allocation["id"].to_numpy(dtype=np.int64)
    arms = (allocation["arm"].to_numpy() == "treatment").astype(np.int8)
    return hashlib.sha256(ids.tobytes() + arms.tobytes()).hexdigest()


def _file_effekt(batches: list[Any]) -> list[tuple[str, str]]:
    folder = Path(tempfile.mkdtemp(prefix="effekt-bench-log-"))
    try:
        return _draw_all(batches, folder / "allocation.jsonl")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _memory_peer(batches: list[Any]) -> list[tuple[str, str]]:
    return _draw_all(batches, None)


def _same_draws(d: Any, ours: list[tuple[str, str]], theirs: list[tuple[str, str]]) -> None:
    assert len(ours) == len(d) == len(theirs), f"{len(ours)} and {len(theirs)} batches drawn of {len(d)}"
    for (batch, a), (_, b) in zip(ours, theirs):
        assert a == b, f"batch {batch}: the file log's allocation differs from the in-memory log's"


# --------------------------------------------------------------------------- one large batch


def _one_batch_setup(n: int) -> dict[str, Any]:
    import pandas as pd

    ids = np.random.default_rng(3).permutation(n).astype(np.int64)
    return {"units": pd.DataFrame({"id": ids}), "frame": pd.DataFrame({"id": ids, "stratum": 0})}


def _one_batch_effekt(d: dict[str, Any]) -> Any:
    from effekt.design import BatchLottery

    return BatchLottery(None, seed=2017).draw(d["units"], batch="2017-01-16", date="2017-01-16").allocation


def _one_batch_stochatreat(d: dict[str, Any]) -> Any:
    import stochatreat

    return stochatreat.stochatreat(d["frame"], "stratum", 2, probs=[0.5, 0.5], idx_col="id", random_state=2017)


def _one_batch_check(d: dict[str, Any], ours: Any, theirs: Any) -> None:
    n = len(d["units"])
    assert sorted(ours["id"].tolist()) == list(range(n)), "effekt: not every unit allocated once"
    assert sorted(theirs["id"].tolist()) == list(range(n)), "stochatreat: not every unit allocated once"
    treated = int((ours["arm"] == "treatment").sum())
    assert abs(treated - n / 2) <= 0.5, f"effekt: {treated} of {n} treated"
    theirs_treated = int((theirs["treat"] == 1).sum())
    assert abs(theirs_treated - n / 2) <= 0.5, f"stochatreat: {theirs_treated} of {n} treated"


CASES = [
    Case(
        name="design.block",
        title="block assignment, 1:1, 100 units per block",
        setup=_block_setup,
        effekt=_block_effekt,
        peers=(Peer("stochatreat", _block_stochatreat, check=_block_check, target=1.0),),
        sizes=(1_000_000, 3_000_000, 10_000_000),
        quick_size=20_000,
        unit="units",
        notes="effekt.design.block(blocks, prob=0.5) vs stochatreat.stochatreat(probs=[0.5, 0.5]); both meet the design.",
    ),
    Case(
        name="design.lottery_file",
        title="BatchLottery: batches of 100,000 into a file log",
        setup=_batches_setup,
        effekt=_file_effekt,
        peers=(Peer("in-memory log", _memory_peer, check=_same_draws),),
        sizes=(10, 30, 100),
        quick_size=2,
        unit="batches",
        repeat=1,
        notes=("Goal: 100 batches of 100,000 in under 60 s (each append costs time in proportion to its batch). "
               "The peer is the same lottery with an in-memory log: same allocations; no ratio is asked of it."),
        extra={"goal_seconds": {100: 60.0}},
    ),
    Case(
        name="design.lottery_batch",
        title="BatchLottery: one batch, in-memory log, 1:1",
        setup=_one_batch_setup,
        effekt=_one_batch_effekt,
        peers=(Peer("stochatreat", _one_batch_stochatreat, check=_one_batch_check, target=3.0),),
        sizes=(100_000, 300_000, 1_000_000),
        quick_size=10_000,
        unit="units",
        notes="One stratum for stochatreat; each splits the batch within one unit of half.",
    ),
]
