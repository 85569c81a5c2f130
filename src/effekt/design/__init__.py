"""Experiment designs: random assignment, batch lotteries, allocation logs, audit, CONSORT, balance.

>>> from effekt import design
>>> asg = design.block(blocks=[1, 1, 2, 2], prob=0.5, seed=42)
>>> asg.treatment.tolist() in ([0, 1, 0, 1], [0, 1, 1, 0], [1, 0, 0, 1], [1, 0, 1, 0])
True

The names below are imported when first used (PEP 562), so the ``effekt``
command can add its ``randomise`` subcommand without loading pandas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from effekt._lazy import attribute_loader

_NAMES = {
    "Audit": "effekt.design.allocation_audit",
    "audit": "effekt.design.allocation_audit",
    "EXACT_LIMIT": "effekt.design.assignment",
    "Assignment": "effekt.design.assignment",
    "block": "effekt.design.assignment",
    "block_cluster": "effekt.design.assignment",
    "cluster": "effekt.design.assignment",
    "complete": "effekt.design.assignment",
    "simple": "effekt.design.assignment",
    "BalanceTable": "effekt.design.balance",
    "balance_table": "effekt.design.balance",
    "smd_binary": "effekt.design.balance",
    "smd_numeric": "effekt.design.balance",
    "ConsortFlow": "effekt.design.consort",
    "consort_from_lottery": "effekt.design.consort",
    "AllocationLog": "effekt.design.log",
    "LogCheck": "effekt.design.log",
    "verify_log": "effekt.design.log",
    "BatchLottery": "effekt.design.lottery",
    "Draw": "effekt.design.lottery",
}

__all__ = [
    "AllocationLog",
    "Assignment",
    "Audit",
    "BalanceTable",
    "BatchLottery",
    "ConsortFlow",
    "Draw",
    "EXACT_LIMIT",
    "LogCheck",
    "audit",
    "balance_table",
    "block",
    "block_cluster",
    "cluster",
    "complete",
    "consort_from_lottery",
    "simple",
    "smd_binary",
    "smd_numeric",
    "verify_log",
]

__getattr__, __dir__ = attribute_loader(__name__, _NAMES, globals())

if TYPE_CHECKING:
    from effekt.design.allocation_audit import Audit, audit
    from effekt.design.assignment import (
        EXACT_LIMIT,
        Assignment,
        block,
        block_cluster,
        cluster,
        complete,
        simple,
    )
    from effekt.design.balance import BalanceTable, balance_table, smd_binary, smd_numeric
    from effekt.design.consort import ConsortFlow, consort_from_lottery
    from effekt.design.log import AllocationLog, LogCheck, verify_log
    from effekt.design.lottery import BatchLottery, Draw
