"""Experiment designs: random assignment, batch lotteries, allocation logs, audit, CONSORT, balance.

>>> from effekt import design
>>> asg = design.block(blocks=[1, 1, 2, 2], prob=0.5, seed=42)
>>> asg.treatment.tolist() in ([0, 1, 0, 1], [0, 1, 1, 0], [1, 0, 0, 1], [1, 0, 1, 0])
True
"""

from effekt.design.allocation_audit import Audit, audit
from effekt.design.assignment import EXACT_LIMIT, Assignment, block, block_cluster, cluster, complete, simple
from effekt.design.balance import BalanceTable, balance_table, smd_binary, smd_numeric
from effekt.design.consort import ConsortFlow, consort_from_lottery
from effekt.design.log import AllocationLog, LogCheck, verify_log
from effekt.design.lottery import BatchLottery, Draw

__all__ = [
    "EXACT_LIMIT",
    "AllocationLog",
    "Assignment",
    "Audit",
    "BalanceTable",
    "BatchLottery",
    "ConsortFlow",
    "Draw",
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
