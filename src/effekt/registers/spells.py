"""One category per person from overlapping administrative spells, with an audit.

Visitation registers hold several records per person (a citizen visited to
group 2, then group 1, then deferred). Evaluations attach one category to
each person by rules; Flere skal med (Rambøll 2019, Bilag 1) used:

0. drop records whose end date is before their start date;
1. per period (A: Aug 2017 - Jan 2018, B: Feb - Mar 2018) keep only the
   categories of that period (A: groups 1, 2, 3 and 6 "deferred"; B: 1, 2, 3);
2. prefer the record whose start is closest to the period's reference date
   (A: 31 Jan 2018, from before; B: 1 Feb 2018, from after);
3. then the longest spell (time from start to end; an open end is longest);
4. then the category priority (1 > 2 > 3 > 6);
5. across periods, the first period's choice stands unless its category is
   *deferred* (group 6) and a later period has a choice: then the later one.

:func:`deduplicate` applies such rules, each a named option, to all persons
at once (sorting, not a loop over persons), and reports per person the rule
that decided: "only record", "closest to reference", "longest spell",
"category priority", "tie: first in data order", "deferred: later period",
"no valid record". Records are assigned to a period by their start date (the
report does not say; this is the reading its §2.9 reconstruction uses).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from effekt.data import as_frame
from effekt.errors import DataError, DesignError
from effekt.registers._results import TableResult

__all__ = ["SpellPeriod", "deduplicate"]

_DIRECTIONS = ("nearest", "before", "after")


@dataclass(frozen=True)
class SpellPeriod:
    """A period of the deduplication rules.

    Parameters
    ----------
    name : str
        Shown in the audit ("A", "B").
    start, end : date
        Records whose start date lies in ``[start, end]`` belong to the period.
    reference : date
        Records starting closest to it are preferred.
    categories : list
        Categories considered in this period, in priority order (first = most
        preferred when everything else ties).
    direction : {"nearest", "before", "after"}, default "nearest"
        ``"before"`` considers only records starting on or before the
        reference, ``"after"`` only those on or after it; ``"nearest"`` both.
    """

    name: str
    start: Any
    end: Any
    reference: Any
    categories: Sequence[Any]
    direction: str = "nearest"

    def __post_init__(self) -> None:
        if self.direction not in _DIRECTIONS:
            raise DesignError(f"SpellPeriod {self.name!r}: direction must be one of {_DIRECTIONS}; got {self.direction!r}.")
        if not list(self.categories):
            raise DesignError(f"SpellPeriod {self.name!r}: categories is empty; list the categories in priority order.")
        try:
            s, e = pd.Timestamp(self.start), pd.Timestamp(self.end)
            pd.Timestamp(self.reference)
        except (TypeError, ValueError):
            raise DesignError(f"SpellPeriod {self.name!r}: start, end and reference must be dates.") from None
        if e < s:
            raise DesignError(f"SpellPeriod {self.name!r}: end {self.end!r} is before start {self.start!r}.")


def _dates(series: pd.Series, role: str, name: str) -> pd.Series:
    try:
        return pd.to_datetime(series)
    except (TypeError, ValueError):
        raise DataError(f"{role} column {name!r} must hold dates.") from None


def deduplicate(
    spells: Any,
    *,
    person: str,
    start: str,
    end: str,
    category: str,
    periods: Sequence[SpellPeriod],
    deferred: Sequence[Any] = (),
    open_end: Any = "2262-01-01",
) -> TableResult:
    """One category per person from overlapping spells, by ordered rules, with an audit.

    See the module notes for the rules. Within a period the sort key of a
    record is ``(distance of its start to the reference in days, -(end -
    start), position of its category in the period's list, row order)`` and
    the smallest wins; the audit names the first key on which the winner beat
    the runner-up.

    Parameters
    ----------
    spells : DataFrame
        One row per record.
    person, start, end, category : str
        Columns; ``end`` may be missing (an open spell, which ends at ``open_end``).
    periods : list of SpellPeriod
        In order: the first period's choice stands unless deferred.
    deferred : list, default ()
        Categories (e.g. group 6, "udskudt visitation") that give way to a
        choice in a later period.
    open_end : date, default "2262-01-01"
        End date given to open spells (the latest date pandas holds: an open
        spell is longer than any closed one).

    Returns
    -------
    TableResult
        ``kind="deduplication"``; one row per person: ``person``, ``category``,
        ``period``, ``start``, ``end``, ``rule``, ``n_records``, ``n_invalid``
        (end before start, or no start), ``n_candidates`` (records the chosen
        period considered); ``extra["rules"]`` counts persons per rule.

    Raises
    ------
    DataError
        Missing columns, dates that are not dates.
    DesignError
        No periods, or periods that are not SpellPeriod.

    Examples
    --------
    Two records in period A; the later start is closer to 31 January 2018.

    >>> import pandas as pd
    >>> A = SpellPeriod("A", "2017-08-01", "2018-01-31", "2018-01-31", [1, 2, 3, 6], "before")
    >>> recs = pd.DataFrame({"pnr": [1, 1], "group": [2, 1], "start": ["2017-09-01", "2017-12-01"],
    ...                      "end": [None, None]})
    >>> res = deduplicate(recs, person="pnr", start="start", end="end", category="group", periods=[A])
    >>> print(res.tidy()[["pnr", "category", "period", "rule"]].to_string(index=False))
     pnr  category period                 rule
       1         1      A closest to reference
    """
    frame = as_frame(spells)
    if not periods or not all(isinstance(p, SpellPeriod) for p in periods):
        raise DesignError("periods must be a non-empty list of SpellPeriod(name, start, end, reference, categories).")
    for role, name in (("person", person), ("start", start), ("end", end), ("category", category)):
        if name not in frame.columns:
            raise DataError(f"{role} column {name!r}: no such column. The data have "
                            f"{', '.join(map(repr, list(frame.columns)[:20]))}.")
    if frame[person].isna().any():
        raise DataError(f"person column {person!r} has {int(frame[person].isna().sum())} missing values.")
    s = _dates(frame[start], "start", start)
    e_raw = _dates(frame[end], "end", end)
    far = pd.Timestamp(open_end)
    e = e_raw.fillna(far)
    invalid = (s.isna() | (e < s)).to_numpy()  # step 0: end before start
    work = pd.DataFrame({"person": frame[person].to_numpy(), "category": frame[category].to_numpy(),
                         "start": s.to_numpy(), "end": e_raw.to_numpy(), "row": np.arange(len(frame)),
                         "length": (e - s).dt.days.to_numpy()})
    persons = pd.Index(pd.unique(work["person"]))
    n_records = work.groupby("person", sort=False).size().reindex(persons)
    n_invalid = pd.Series(invalid, index=work.index).groupby(work["person"], sort=False).sum().reindex(persons)
    valid = work[~invalid]
    candidates = []
    for order, p in enumerate(periods):
        ref = pd.Timestamp(p.reference)
        in_period = (valid["start"] >= pd.Timestamp(p.start)) & (valid["start"] <= pd.Timestamp(p.end))
        if p.direction == "before":
            in_period &= valid["start"] <= ref
        elif p.direction == "after":
            in_period &= valid["start"] >= ref
        prio = pd.Index(list(p.categories)).get_indexer(valid["category"])
        keep = in_period.to_numpy() & (prio >= 0)
        part = valid[keep].assign(period=p.name, order=order, prio=prio[keep],
                                  dist=(valid.loc[keep, "start"] - ref).abs().dt.days.to_numpy())
        candidates.append(part)
    cand = pd.concat(candidates, ignore_index=True)
    cand["neg_length"] = -cand["length"]
    keys = ["dist", "neg_length", "prio"]
    cand = cand.sort_values(["person", "order", *keys, "row"], kind="stable")
    rank = cand.groupby(["person", "order"], sort=False).cumcount()
    size = cand.groupby(["person", "order"], sort=False)["row"].transform("size")
    best = cand[rank == 0].set_index(["person", "order"])
    second = cand[rank == 1].set_index(["person", "order"]).reindex(best.index)
    rule = pd.Series("tie: first in data order", index=best.index, dtype=object)
    decided = pd.Series(False, index=best.index)
    for key, name in zip(keys, ("closest to reference", "longest spell", "category priority")):
        differs = (best[key] != second[key]) & second[key].notna() & ~decided
        rule[differs] = name
        decided |= differs
    rule[second["row"].isna().to_numpy()] = "only record"
    best = best.assign(rule=rule.to_numpy(), n_candidates=size[rank == 0].to_numpy()).reset_index()
    # step 5: across periods, the first non-deferred choice, else the first choice
    deferred_set = set(deferred)
    best["is_deferred"] = best["category"].isin(deferred_set)
    best = best.sort_values(["person", "is_deferred", "order"], kind="stable")
    first_period = best.groupby("person", sort=False)["order"].transform("min")
    chosen = best.drop_duplicates("person", keep="first").copy()
    over = chosen["order"].to_numpy() != first_period[chosen.index].to_numpy()
    chosen.loc[over, "rule"] = "deferred: later period"
    chosen = chosen.set_index("person").reindex(persons)
    out = pd.DataFrame({
        person: persons,
        "category": chosen["category"].to_numpy(),
        "period": chosen["period"].to_numpy(),
        "start": chosen["start"].to_numpy(),
        "end": chosen["end"].to_numpy(),
        "rule": chosen["rule"].fillna("no valid record").to_numpy(),
        "n_records": n_records.to_numpy(),
        "n_invalid": n_invalid.to_numpy().astype(np.int64),
        "n_candidates": chosen["n_candidates"].fillna(0).to_numpy().astype(np.int64),
    })
    counts = out["rule"].value_counts()
    return TableResult("deduplication", f"One {category} per {person} from {len(frame)} records", out,
                       {"rules": {str(k): int(v) for k, v in counts.items()},
                        "periods": [p.name for p in periods], "deferred": list(deferred),
                        "notes": (f"{int(invalid.sum())} invalid records dropped (end before start or no start)",)})
