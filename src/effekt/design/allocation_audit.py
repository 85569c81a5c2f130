"""Allocation audit: randomised arm against delivered arm, and batch-level swaps.

The Copenhagen resource-course trial (VIVE 2019): at three of thirteen lotteries the allocation was
swapped by mistake, so the 72 people drawn for the intervention got usual
practice and vice versa. A whole batch delivered with the arms relabelled is
still a random split within its block, so the as-delivered comparison stays
randomised (unless the swap was related to outcomes), and the as-randomised
(ITT) comparison is the sensitivity check beside it, or the other way round.

Per batch, :func:`audit` compares the randomised and delivered arms of its
units:

* ``"as randomised"``: every unit got the arm drawn;
* ``"swapped"``: the delivered arm is a relabelling of the drawn one that is
  the same for every unit of the batch (each drawn arm maps to one
  delivered arm, distinct arms to distinct arms, not the identity), and the
  batch has at least two arms; for two arms, the arms were inverted;
* ``"mixed"``: anything else (individual errors);
* units with no delivered arm (never started) are ``"not delivered"`` and do
  not count towards the verdict.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from effekt.data import as_frame, describe_rows
from effekt.errors import DataError, DesignError
from effekt.result import to_jsonable

__all__ = ["Audit", "audit"]


@dataclass(frozen=True)
class Audit:
    """The result of :func:`audit`.

    A result like every other (:class:`effekt.result.Result`): ``tidy()``
    (one row per batch), ``summary()``, ``to_dict()`` and ``to_json()``; it
    has no picture. It is immutable (a frozen dataclass holding its own
    copies of the tables).

    Attributes
    ----------
    units : DataFrame
        ``id``, ``batch``, ``randomised``, ``delivered``, ``status`` (``"as
        randomised"``, ``"swapped batch"``, ``"wrong arm"``, ``"not
        delivered"``).
    batches : DataFrame
        ``batch``, ``n``, ``n_as_randomised``, ``n_different``,
        ``n_not_delivered``, ``mapping`` (e.g. ``"control->treatment,
        treatment->control"``) and ``verdict``.
    """

    units: pd.DataFrame
    batches: pd.DataFrame

    def __post_init__(self) -> None:
        # private copies, so that editing the caller's frames cannot change the result
        object.__setattr__(self, "units", self.units.copy())
        object.__setattr__(self, "batches", self.batches.copy())

    @property
    def n_not_delivered(self) -> int:
        """Units never delivered an arm."""
        return int((self.units["status"] == "not delivered").sum())

    def tidy(self) -> pd.DataFrame:
        """One row per batch: counts, the arm mapping and the verdict (a copy of ``batches``)."""
        return self.batches.copy()

    def to_dict(self) -> dict[str, Any]:
        """The batches, the units and the totals, JSON-safe (missing arms as None)."""
        return to_jsonable(  # type: ignore[no-any-return]
            {
                "batches": _records(self.batches),
                "units": _records(self.units),
                "swapped_batches": self.swapped_batches,
                "n_swapped": self.n_swapped,
                "n_wrong_arm": self.n_wrong_arm,
                "n_not_delivered": self.n_not_delivered,
            }
        )

    def to_json(self, **kwargs: Any) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), **kwargs)

    @property
    def swapped_batches(self) -> list[Any]:
        """Batches delivered with the arms relabelled as a whole."""
        return self.batches.loc[self.batches["verdict"] == "swapped", "batch"].tolist()

    @property
    def n_swapped(self) -> int:
        """Units in swapped batches."""
        return int((self.units["status"] == "swapped batch").sum())

    @property
    def n_wrong_arm(self) -> int:
        """Units given another arm outside a batch swap."""
        return int((self.units["status"] == "wrong arm").sum())

    def datasets(
        self,
        data: Any = None,
        *,
        on: str | None = None,
        column: str = "arm",
        treated: Any = None,
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The as-randomised (ITT) and as-delivered data sets, as a pair.

        Parameters
        ----------
        data : DataFrame, optional
            Outcome data. Matched to the audited units by the identifier
            column ``on``, or row by row when ``on`` is None (then it must
            have the same number of rows, in the same order). Without data,
            the audit's own unit table is used.
        on : str, optional
            Identifier column of ``data``.
        column : str, default "arm"
            Column set to the randomised arm in the first data set and to the
            delivered arm in the second.
        treated : optional
            When given, ``column`` holds 1 for this arm and 0 otherwise, ready
            for a two-arm estimator.

        Returns
        -------
        (DataFrame, DataFrame)
            As randomised, as delivered. Units never delivered keep their
            randomised arm in the as-delivered set only if ``data`` has them;
            they are dropped from it (and the count is in ``attrs["dropped"]``).

        Raises
        ------
        DataError
            Ids in ``data`` that were not audited, or a row count that does
            not match.
        """
        units = self.units
        if treated is not None:
            arms = pd.unique(pd.concat([units["randomised"], units["delivered"]]).dropna())
            if treated not in set(arms.tolist()):
                raise DataError(
                    f"treated={treated!r} is not one of the audited arms "
                    f"({', '.join(repr(a) for a in sorted(map(str, arms)))}); name the arm that "
                    "should be coded 1."
                )
        if data is None:
            base = units[["id", "batch"]].copy()
            idx = np.arange(len(units))
        else:
            base = as_frame(data).reset_index(drop=True).copy()
            if on is None:
                if len(base) != len(units):
                    raise DataError(
                        f"data have {len(base)} rows but {len(units)} units were audited; pass on= the identifier "
                        "column to match them by id."
                    )
                idx = np.arange(len(units))
            else:
                if on not in base.columns:
                    raise DataError(f"on={on!r}: the data have no such column.")
                pos = pd.Index(units["id"]).get_indexer(base[on])
                if (pos < 0).any():
                    bad = base.index[pos < 0]
                    raise DataError(
                        f"{len(bad)} ids in column {on!r} ({describe_rows(bad)}) were not audited; every analysed unit "
                        "needs a randomised arm."
                    )
                idx = pos

        def arm(values: pd.Series) -> pd.Series:
            return (values == treated).astype(np.int64) if treated is not None else values

        randomised = base.copy()
        randomised[column] = arm(units["randomised"].iloc[idx].reset_index(drop=True)).to_numpy()
        delivered_arm = units["delivered"].iloc[idx].reset_index(drop=True)
        keep = delivered_arm.notna().to_numpy()
        delivered = base.loc[keep].copy()
        delivered[column] = arm(delivered_arm[keep]).to_numpy()
        delivered.attrs["dropped"] = int((~keep).sum())
        return randomised, delivered

    def summary(self) -> str:
        """One line per batch and the totals."""
        lines = [self.batches.to_string(index=False)]
        lines.append(
            f"{len(self.swapped_batches)} swapped batches ({self.n_swapped} units), {self.n_wrong_arm} units given "
            f"another arm outside a swap, {self.n_not_delivered} not delivered."
        )
        return "\n".join(lines)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of ``frame`` as dicts, missing values (NaN, NA, None) as None."""
    return [
        {str(k): (None if _missing(v) else v) for k, v in row.items()}
        for row in frame.astype(object).to_dict(orient="records")
    ]


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _verdict(r: np.ndarray, d: np.ndarray) -> tuple[str, str]:
    pairs = sorted({(str(a), str(b)) for a, b in zip(r, d)})
    mapping = ", ".join(f"{a}->{b}" for a, b in pairs)
    if all(a == b for a, b in pairs):
        return "as randomised", mapping
    sources = [a for a, _ in pairs]
    targets = [b for _, b in pairs]
    is_function = len(set(sources)) == len(pairs)
    injective = len(set(targets)) == len(targets)
    if is_function and injective and len(pairs) >= 2:
        return "swapped", mapping
    return "mixed", mapping


def audit(
    data: Any,
    *,
    id: str = "id",
    batch: str = "batch",
    randomised: str = "randomised",
    delivered: str = "delivered",
) -> Audit:
    """Compare each unit's randomised and delivered arm; find batch-level swaps.

    Parameters
    ----------
    data : DataFrame
        One row per randomised unit. ``BatchLottery.allocations()`` merged
        with the delivered arms is the usual source.
    id, batch, randomised, delivered : str
        Column names. ``delivered`` may be missing (never started).

    Returns
    -------
    Audit

    Raises
    ------
    DataError
        A missing column, a missing or duplicated id, a missing randomised
        arm or batch.
    DesignError
        Delivered arms that were never randomised (a typo in the labels).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"id": range(6), "batch": ["a"] * 4 + ["b"] * 2,
    ...                    "randomised": ["T", "C", "T", "C", "T", "C"],
    ...                    "delivered": ["C", "T", "C", "T", "T", "C"]})
    >>> au = audit(df)
    >>> au.swapped_batches, au.n_swapped
    (['a'], 4)
    """
    frame = as_frame(data).reset_index(drop=True)
    for role, col in (("id", id), ("batch", batch), ("randomised", randomised), ("delivered", delivered)):
        if col not in frame.columns:
            raise DataError(f"{role}={col!r}: no such column; the data have {', '.join(map(repr, frame.columns[:20]))}.")
    for role, col in (("id", id), ("batch", batch), ("randomised", randomised)):
        miss = frame[col].isna().to_numpy()
        if miss.any():
            raise DataError(
                f"{role} column {col!r} has {int(miss.sum())} missing values ({describe_rows(frame.index[miss])}); "
                "every randomised unit needs an id, a batch and its drawn arm."
            )
    dup = frame[id].duplicated(keep=False).to_numpy()
    if dup.any():
        raise DataError(f"id column {id!r} has duplicated ids ({describe_rows(frame.index[dup])}); one row per unit.")
    arms = set(frame[randomised].unique().tolist())
    got = frame[delivered].dropna()
    unknown = sorted({str(v) for v in got.unique().tolist()} - {str(a) for a in arms})
    if unknown:
        raise DesignError(
            f"delivered column {delivered!r} holds {unknown[:5]}, which no unit was randomised to (arms: "
            f"{sorted(map(str, arms))}). Fix the labels so they match the randomised arms."
        )
    units = pd.DataFrame(
        {"id": frame[id], "batch": frame[batch], "randomised": frame[randomised], "delivered": frame[delivered]}
    )
    status = np.where(units["delivered"].isna(), "not delivered", "as randomised").astype(object)
    rows = []
    for b, idx in units.groupby("batch", sort=False).indices.items():
        sub = units.iloc[idx]
        has = sub["delivered"].notna().to_numpy()
        r = sub["randomised"].to_numpy()[has]
        d = sub["delivered"].to_numpy()[has]
        verdict, mapping = _verdict(r, d) if has.any() else ("not delivered", "")
        same = np.array([str(a) == str(c) for a, c in zip(r, d)], dtype=bool)
        pos = np.asarray(idx)[has]
        if verdict == "swapped":
            status[pos] = "swapped batch"
        elif verdict == "mixed":
            status[pos[~same]] = "wrong arm"
        rows.append(
            {
                "batch": b,
                "n": len(idx),
                "n_as_randomised": int(same.sum()),
                "n_different": int((~same).sum()),
                "n_not_delivered": int((~has).sum()),
                "mapping": mapping,
                "verdict": verdict,
            }
        )
    units["status"] = status
    return Audit(units=units, batches=pd.DataFrame(rows))
