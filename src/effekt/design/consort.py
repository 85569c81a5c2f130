"""CONSORT participant flow: counts, reconciliation and a diagram.

The flow of a two- (or more-) arm parallel trial, following the CONSORT 2010
flow diagram (Schulz, Altman & Moher 2010, Figure 1): assessed for
eligibility, excluded before randomisation (by reason), randomised, excluded
after randomisation, allocated per arm (received / did not receive the
allocated intervention), lost to follow-up, analysed and excluded from
analysis.

Reconciliation
--------------
Every stage must follow from the one before. :meth:`ConsortFlow.reconcile`
checks, where the counts are given:

1. assessed - excluded before randomisation = randomised;
2. randomised - excluded after randomisation = sum of allocated;
3. per arm: received + did not receive = allocated;
4. per arm: allocated - excluded from analysis = analysed;
5. per arm: lost to follow-up <= allocated.

The Copenhagen resource-course trial (VIVE 2019) shows why: "223 took part in the lottery", 4 were excluded
afterwards, and 218 were analysed, yet 223 - 4 = 219 (the report's
section 2.1). The report's own flow diagram is missing, and nothing flagged the
difference.

References
----------
Schulz, K. F., Altman, D. G. & Moher, D. (2010). CONSORT 2010 Statement:
updated guidelines for reporting parallel group randomised trials. BMJ 340,
c332. doi:10.1136/bmj.c332
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from effekt.errors import DataError, DesignError
from effekt.plotting import ARM_COLOURS, COLOURS, figure_and_axes, label_for
from effekt.result import FrozenDict, to_jsonable

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from effekt.design.allocation_audit import Audit
    from effekt.design.lottery import BatchLottery

__all__ = ["ConsortFlow", "consort_from_lottery", "translate_check"]


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) and not (hasattr(value, "__index__")):
        raise DataError(f"{what} must be a whole number of people; got {value!r}.")
    value = int(value)
    if value < 0:
        raise DataError(f"{what} must not be negative; got {value}.")
    return value


def _reasons(mapping: Mapping[str, Any] | None, what: str) -> dict[str, int]:
    return {str(k): _count(v, f"{what} ({k!r})") for k, v in (mapping or {}).items()}


@dataclass(frozen=True)
class ConsortFlow:
    """Counts of a trial's participant flow (see the module notes).

    Parameters
    ----------
    allocated : mapping arm -> int
        Allocated to each arm (after any post-randomisation exclusions).
    assessed : int, optional
        Assessed for eligibility.
    excluded : mapping reason -> int, optional
        Excluded before randomisation.
    randomised : int, optional
        Randomised, as reported (default: assessed - excluded when assessed
        is given, else the sum of allocated plus post-randomisation
        exclusions).
    excluded_after : mapping reason -> int, optional
        Excluded after randomisation (e.g. found ineligible).
    received : mapping arm -> int, optional
        Received the allocated intervention.
    not_received : mapping arm -> {reason: int}, optional
        Did not receive it, by reason.
    lost : mapping arm -> {reason: int}, optional
        Lost to follow-up or discontinued, by reason (still analysed unless
        also in ``excluded_from_analysis``).
    excluded_from_analysis : mapping arm -> {reason: int}, optional
    analysed : mapping arm -> int, optional
        Analysed (default: allocated minus excluded from analysis).

    Examples
    --------
    The Copenhagen resource-course trial (VIVE 2019):

    >>> flow = ConsortFlow(randomised=223, excluded_after={"not in the target group": 4},
    ...                    allocated={"intervention": 109, "control": 109},
    ...                    lost={"intervention": {"moved away": 2}, "control": {"moved away": 7}})
    >>> flow.ok
    False
    >>> print(flow.problems[0])
    randomised - excluded after randomisation = 223 - 4 = 219, but 218 are allocated (difference 1)
    """

    allocated: Mapping[str, int]
    assessed: int | None = None
    excluded: Mapping[str, int] = field(default_factory=dict)
    randomised: int | None = None
    excluded_after: Mapping[str, int] = field(default_factory=dict)
    received: Mapping[str, int] | None = None
    not_received: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    lost: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    excluded_from_analysis: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    analysed: Mapping[str, int] | None = None

    def __post_init__(self) -> None:
        allocated = {str(a): _count(n, f"allocated to {a!r}") for a, n in dict(self.allocated).items()}
        if len(allocated) < 2:
            raise DesignError(f"allocated must give the count of two or more arms; got {allocated}.")
        set_ = object.__setattr__
        set_(self, "allocated", allocated)
        if self.assessed is not None:
            set_(self, "assessed", _count(self.assessed, "assessed"))
        set_(self, "excluded", _reasons(self.excluded, "excluded"))
        set_(self, "excluded_after", _reasons(self.excluded_after, "excluded after randomisation"))
        for name in ("not_received", "lost", "excluded_from_analysis"):
            value = {str(a): _reasons(r, f"{name} in arm {a!r}") for a, r in dict(getattr(self, name)).items()}
            unknown = sorted(set(value) - set(allocated))
            if unknown:
                raise DataError(f"{name} names arm {unknown[0]!r}, which is not among the allocated arms {list(allocated)}.")
            set_(self, name, value)
        for name in ("received", "analysed"):
            given = getattr(self, name)
            if given is not None:
                counts = {str(a): _count(n, f"{name} in arm {a!r}") for a, n in dict(given).items()}
                unknown = sorted(set(counts) - set(allocated))
                if unknown:
                    raise DataError(f"{name} names arm {unknown[0]!r}, which is not among the allocated arms {list(allocated)}.")
                set_(self, name, counts)
        if self.randomised is not None:
            set_(self, "randomised", _count(self.randomised, "randomised"))
        for name in ("allocated", "excluded", "excluded_after", "not_received", "lost", "excluded_from_analysis",
                     "received", "analysed"):
            value = getattr(self, name)
            if value is not None:
                set_(self, name, FrozenDict(value))

    # ------------------------------------------------------------------ derived counts

    @property
    def arms(self) -> list[str]:
        return list(self.allocated)

    @property
    def n_randomised(self) -> int:
        """Randomised: as reported, else derived (module notes)."""
        if self.randomised is not None:
            return int(self.randomised)
        if self.assessed is not None:
            return int(self.assessed) - sum(self.excluded.values())
        return sum(self.allocated.values()) + sum(self.excluded_after.values())

    def n_analysed(self, arm: str) -> int:
        if self.analysed is not None and arm in self.analysed:
            return int(self.analysed[arm])
        return self.allocated[arm] - sum(self.excluded_from_analysis.get(arm, {}).values())

    # ------------------------------------------------------------------ reconciliation

    def reconcile(self) -> pd.DataFrame:
        """One row per check: check, expected, reported, difference, ok."""
        rows: list[dict[str, Any]] = []

        def add(check: str, expected: int, reported: int, text: str) -> None:
            rows.append({"check": check, "expected": expected, "reported": reported,
                         "difference": expected - reported, "ok": expected == reported, "text": text})

        n_excl = sum(self.excluded.values())
        if self.assessed is not None and self.randomised is not None:
            exp = int(self.assessed) - n_excl
            add("assessed - excluded = randomised", exp, int(self.randomised),
                f"assessed - excluded before randomisation = {self.assessed} - {n_excl} = {exp}, but {self.randomised} are randomised")
        n_after = sum(self.excluded_after.values())
        total = sum(self.allocated.values())
        exp = self.n_randomised - n_after
        add("randomised - excluded after = allocated", exp, total,
            f"randomised - excluded after randomisation = {self.n_randomised} - {n_after} = {exp}, but {total} are allocated")
        for arm in self.arms:
            alloc = self.allocated[arm]
            if self.received is not None and arm in self.received:
                nr = sum(self.not_received.get(arm, {}).values())
                got = self.received[arm] + nr
                add(f"{arm}: received + not received = allocated", alloc, got,
                    f"{arm}: received + did not receive = {self.received[arm]} + {nr} = {got}, but {alloc} are allocated")
            if self.analysed is not None and arm in self.analysed:
                ex = sum(self.excluded_from_analysis.get(arm, {}).values())
                exp = alloc - ex
                add(f"{arm}: allocated - excluded from analysis = analysed", exp, int(self.analysed[arm]),
                    f"{arm}: allocated - excluded from analysis = {alloc} - {ex} = {exp}, but {self.analysed[arm]} are analysed")
            lost = sum(self.lost.get(arm, {}).values())
            if lost > alloc:
                add(f"{arm}: lost <= allocated", alloc, lost, f"{arm}: {lost} lost to follow-up, more than the {alloc} allocated")
        return pd.DataFrame(rows, columns=["check", "expected", "reported", "difference", "ok", "text"])

    @property
    def problems(self) -> list[str]:
        """A sentence per failed check (empty when the flow adds up)."""
        table = self.reconcile()
        return [f"{t} (difference {d})" for t, d in zip(table.loc[~table["ok"], "text"], table.loc[~table["ok"], "difference"])]

    @property
    def ok(self) -> bool:
        """Whether every check holds."""
        return not self.problems

    def to_frame(self) -> pd.DataFrame:
        """The flow as a tidy table: stage, arm, reason, n."""
        rows: list[tuple[str, str, str, int]] = []
        if self.assessed is not None:
            rows.append(("assessed", "", "", int(self.assessed)))
        rows += [("excluded", "", r, n) for r, n in self.excluded.items()]
        rows.append(("randomised", "", "", self.n_randomised))
        rows += [("excluded after randomisation", "", r, n) for r, n in self.excluded_after.items()]
        for arm in self.arms:
            rows.append(("allocated", arm, "", self.allocated[arm]))
            if self.received is not None and arm in self.received:
                rows.append(("received", arm, "", self.received[arm]))
            rows += [("did not receive", arm, r, n) for r, n in self.not_received.get(arm, {}).items()]
            rows += [("lost to follow-up", arm, r, n) for r, n in self.lost.get(arm, {}).items()]
            rows += [("excluded from analysis", arm, r, n) for r, n in self.excluded_from_analysis.get(arm, {}).items()]
            rows.append(("analysed", arm, "", self.n_analysed(arm)))
        return pd.DataFrame(rows, columns=["stage", "arm", "reason", "n"])

    def tidy(self) -> pd.DataFrame:
        """The flow as a tidy table (stage, arm, reason, n); the same as :meth:`to_frame`."""
        return self.to_frame()

    def summary(self) -> str:
        """Text a person reads: the counts by stage and whether they add up."""
        lines = ["CONSORT flow", self.to_frame().to_string(index=False)]
        problems = self.problems
        if problems:
            lines.append("Counts do not add up:")
            lines += [f"  {p}" for p in problems]
        else:
            lines.append("Every stage follows from the one before.")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The counts, the tidy flow, the reconciliation and ``ok``, JSON-safe."""
        return to_jsonable(  # type: ignore[no-any-return]
            {
                "assessed": self.assessed,
                "excluded": self.excluded,
                "randomised": self.n_randomised,
                "excluded_after": self.excluded_after,
                "allocated": self.allocated,
                "received": self.received,
                "not_received": self.not_received,
                "lost": self.lost,
                "excluded_from_analysis": self.excluded_from_analysis,
                "analysed": {arm: self.n_analysed(arm) for arm in self.arms},
                "flow": self.to_frame(),
                "checks": self.reconcile(),
                "ok": self.ok,
                "problems": self.problems,
            }
        )

    def to_json(self, **kwargs: Any) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), **kwargs)

    # ------------------------------------------------------------------ diagram

    def plot(self, *, ax: Any = None, labels: Mapping[Any, str] | None = None, language: str = "en") -> Figure:
        """The CONSORT diagram as a matplotlib Figure (failed checks noted in red).

        Boxes are sized to their text and stacked stage by stage, so a stage
        that is not known (``assessed`` not given, no exclusions after
        randomisation) leaves no gap; every arrow starts and ends on a box's
        edge (or on the line that splits the randomised into the arms).
        ``ax`` draws into an existing matplotlib Axes (its Figure is
        returned); ``labels`` maps arm names to the names shown;
        ``language`` ("en" or "da") chooses the words. Built without pyplot.
        """
        return _draw_flow(self, ax=ax, labels=labels, language=language)

    def save(self, path: str | os.PathLike[str], *, language: str = "en") -> list[Path]:
        """Write the diagram as SVG and PNG: ``path`` with each suffix.

        ``save("flow")`` (or ``"flow.svg"``) writes ``flow.svg`` and
        ``flow.png``. Each file is written to a temporary file and renamed, so
        no half-written diagram is left behind.
        """
        stem = Path(path)
        if stem.suffix.lower() in (".svg", ".png"):
            stem = stem.with_suffix("")
        fig = self.plot(language=language)
        out = []
        for fmt in ("svg", "png"):
            target = stem.with_name(f"{stem.name}.{fmt}")
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fig.savefig(fh, format=fmt, dpi=150, bbox_inches="tight")
                os.replace(tmp, target)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise
            out.append(target)
        return out


_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "assessed": "Assessed for eligibility (n={n})",
        "excluded": "Excluded (n={n})",
        "randomised": "Randomised (n={n})",
        "excluded_after": "Excluded after randomisation (n={n})",
        "allocated": "Allocated to {arm} (n={n})",
        "received": "Received allocated intervention (n={n})",
        "not_received": "Did not receive it (n={n})",
        "lost": "Lost to follow-up (n={n})",
        "analysed": "Analysed (n={n})",
        "excluded_analysis": "Excluded from analysis (n={n})",
        "enrolment": "Enrolment",
        "allocation": "Allocation",
        "follow_up": "Follow-up",
        "analysis": "Analysis",
        "problems": "Counts do not add up:",
    },
    "da": {
        "assessed": "Vurderet for egnethed (n={n})",
        "excluded": "Ekskluderet (n={n})",
        "randomised": "Randomiseret (n={n})",
        "excluded_after": "Ekskluderet efter randomisering (n={n})",
        "allocated": "Tildelt {arm} (n={n})",
        "received": "Modtog den tildelte indsats (n={n})",
        "not_received": "Modtog den ikke (n={n})",
        "lost": "Tabt ved opfølgning (n={n})",
        "analysed": "Analyseret (n={n})",
        "excluded_analysis": "Ekskluderet fra analysen (n={n})",
        "enrolment": "Rekruttering",
        "allocation": "Tildeling",
        "follow_up": "Opfølgning",
        "analysis": "Analyse",
        "problems": "Antallene stemmer ikke:",
    },
}

# the words of the reconciliation sentences, longest first (translate_check)
_CHECK_WORDS_DA = (
    ("excluded before randomisation", "ekskluderet før randomisering"),
    ("excluded after randomisation", "ekskluderet efter randomisering"),
    ("excluded from analysis", "ekskluderet fra analysen"),
    ("lost to follow-up", "tabt ved opfølgning"),
    ("did not receive", "modtog ikke"),
    ("not received", "modtog ikke"),
    ("excluded after", "ekskluderet efter"),
    ("more than the", "flere end de"),
    ("difference", "forskel"),
    ("excluded", "ekskluderet"),
    ("assessed", "vurderet"),
    ("randomised", "randomiseret"),
    ("allocated", "tildelt"),
    ("received", "modtog"),
    ("analysed", "analyseret"),
    ("lost", "tabt"),
    (", but ", ", men "),
    (" are ", " er "),
)


def translate_check(text: str, language: str = "en") -> str:
    """A reconciliation check or problem sentence in ``language`` ("en" leaves it as it is).

    >>> translate_check("randomised - excluded after = allocated", "da")
    'randomiseret - ekskluderet efter = tildelt'
    """
    if language != "da":
        return text
    import re

    pattern = re.compile("|".join(re.escape(en) for en, _ in _CHECK_WORDS_DA))
    words = dict(_CHECK_WORDS_DA)
    return pattern.sub(lambda m: words[m.group(0)], text)


_FONT_SIZE = 8.5
_PAD = 0.09  # inches of white space around a box's text
_GAP = 0.42  # inches between stages
_SIDE_GAP = 0.45  # inches from the main line to a side box


def _text_size(text: str) -> tuple[float, float]:
    """Width and height in inches of ``text`` at the diagram's font size (no renderer needed)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    prop = FontProperties(size=_FONT_SIZE)
    measure = TextToPath()
    lines = text.split("\n")
    width = max(measure.get_text_width_height_descent(line or " ", prop, ismath=False)[0] for line in lines)
    height = len(lines) * _FONT_SIZE * 1.2
    return width / 72.0 + 2 * _PAD, height / 72.0 + 2 * _PAD


@dataclass
class _Box:
    key: str
    text: str
    width: float
    height: float
    x: float = 0.0  # centre
    y: float = 0.0  # centre

    @property
    def top(self) -> float:
        return self.y + self.height / 2

    @property
    def bottom(self) -> float:
        return self.y - self.height / 2

    @property
    def left(self) -> float:
        return self.x - self.width / 2

    @property
    def right(self) -> float:
        return self.x + self.width / 2


def _draw_flow(flow: ConsortFlow, *, ax: Any, labels: Mapping[Any, str] | None, language: str) -> Figure:
    if language not in _WORDS:
        raise DataError(f"language={language!r} is not one the diagram is written in; use one of {sorted(_WORDS)}.")
    words = _WORDS[language]

    def box(key: str, text: str) -> _Box:
        w, h = _text_size(text)
        return _Box(key, text, w, h)

    def reasons(title: str, by: Mapping[str, int]) -> str:
        return "\n".join([title.format(n=sum(by.values())), *[f"  - {r} (n={k})" for r, k in by.items()]])

    arms = flow.arms
    assessed = excluded = side_after = None
    if flow.assessed is not None:
        assessed = box("assessed", words["assessed"].format(n=flow.assessed))
        excluded = box("excluded", reasons(words["excluded"], flow.excluded))
    randomised = box("randomised", words["randomised"].format(n=flow.n_randomised))
    if flow.excluded_after:
        side_after = box("excluded_after", reasons(words["excluded_after"], flow.excluded_after))
    allocated, lost, analysed = [], [], []
    for arm in arms:
        lines = [words["allocated"].format(arm=label_for(arm, labels), n=flow.allocated[arm])]
        if flow.received is not None and arm in flow.received:
            lines.append("  " + words["received"].format(n=flow.received[arm]))
        nr = flow.not_received.get(arm, {})
        if nr:
            lines.append(reasons("  " + words["not_received"], nr))
        allocated.append(box(f"allocated:{arm}", "\n".join(lines)))
        lost.append(box(f"lost:{arm}", reasons(words["lost"], flow.lost.get(arm, {}))))
        exa = flow.excluded_from_analysis.get(arm, {})
        text = "\n".join([words["analysed"].format(n=flow.n_analysed(arm)),
                          *([reasons("  " + words["excluded_analysis"], exa)] if exa else [])])
        analysed.append(box(f"analysed:{arm}", text))

    # columns: one per arm, as wide as its widest box; a margin on the left for the stage names
    stage_names = [words[k] for k in ("enrolment", "allocation", "follow_up", "analysis")]
    margin = max(_text_size(n)[0] for n in stage_names) * 9 / _FONT_SIZE + 0.1
    col_w = [max(b.width for b in (allocated[j], lost[j], analysed[j])) + 0.35 for j in range(len(arms))]
    xs, left = [], margin
    for w in col_w:
        xs.append(left + w / 2)
        left += w
    mid = (xs[0] + xs[-1]) / 2
    sides = [b for b in (excluded, side_after) if b is not None]
    width = max(left, *(mid + _SIDE_GAP + b.width + 0.15 for b in sides)) if sides else left
    for b in (assessed, randomised):
        if b is not None:
            width = max(width, mid + b.width / 2 + 0.15)

    # rows from the top (y grows upwards; set after the total height is known)
    rows: list[tuple[str, list[_Box]]] = []
    if assessed is not None and excluded is not None:
        rows += [("assessed", [assessed]), ("excluded", [excluded])]
    rows.append(("randomised", [randomised]))
    if side_after is not None:
        rows.append(("excluded_after", [side_after]))
    rows += [("allocated", allocated), ("lost", lost), ("analysed", analysed)]
    split_gap = 0.3  # the horizontal line that splits the randomised into the arms
    y = 0.2
    centres: dict[str, float] = {}
    for name, boxes in rows:
        h = max(b.height for b in boxes)
        if name == "allocated":
            y += split_gap
        centres[name] = y + h / 2
        y += h + _GAP
    problems = flow.problems
    problem_text = "\n".join([words["problems"], *(translate_check(p, language) for p in problems)]) if problems else ""
    foot = _text_size(problem_text)[1] + 0.1 if problems else 0.0
    if problems:
        width = max(width, _text_size(problem_text)[0] + 0.3)
    height = y - _GAP + 0.2 + foot

    def place(name: str, boxes: Sequence[_Box], x: Sequence[float]) -> None:
        for b, xx in zip(boxes, x):
            b.x, b.y = xx, height - centres[name]

    if assessed is not None and excluded is not None:
        place("assessed", [assessed], [mid])
        place("excluded", [excluded], [mid + _SIDE_GAP + excluded.width / 2])
    place("randomised", [randomised], [mid])
    if side_after is not None:
        place("excluded_after", [side_after], [mid + _SIDE_GAP + side_after.width / 2])
    place("allocated", allocated, xs)
    place("lost", lost, xs)
    place("analysed", analysed, xs)

    from matplotlib.patches import Rectangle

    if ax is None:
        from matplotlib.figure import Figure as MplFigure

        fig = MplFigure(figsize=(width, height))
        ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    else:
        fig, ax = figure_and_axes(ax)
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.axis("off")
    line = {"color": "black", "linewidth": 1.0}

    def draw(b: _Box) -> None:
        ax.add_patch(Rectangle((b.left, b.bottom), b.width, b.height, facecolor="white", edgecolor="black",
                               linewidth=1.0, gid=f"box:{b.key}"))
        ax.text(b.x, b.y, b.text, ha="center", va="center", multialignment="left" if "\n" in b.text else "center",
                fontsize=_FONT_SIZE, gid=f"text:{b.key}")

    def arrow(x0: float, y0: float, x1: float, y1: float, gid: str) -> None:
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0), gid=gid,
                    arrowprops={"arrowstyle": "-|>", "color": "black", "shrinkA": 0, "shrinkB": 0,
                                "linewidth": 1.0, "mutation_scale": 10})

    every = [b for b in (assessed, excluded, randomised, side_after) if b is not None] + allocated + lost + analysed
    for b in every:
        draw(b)
    if assessed is not None and excluded is not None:
        arrow(mid, assessed.bottom, mid, randomised.top, "arrow:assessed-randomised")
        arrow(mid, excluded.y, excluded.left, excluded.y, "arrow:excluded")
    split = (randomised.bottom if side_after is None else side_after.bottom) - _GAP / 2 - split_gap / 2
    split = max(split, max(b.top for b in allocated) + 0.12)
    ax.plot([mid, mid], [randomised.bottom, split], **line, gid="line:randomised")
    if side_after is not None:
        arrow(mid, side_after.y, side_after.left, side_after.y, "arrow:excluded_after")
    ax.plot([xs[0], xs[-1]], [split, split], **line, gid="line:split")
    for j in range(len(arms)):
        arrow(xs[j], split, xs[j], allocated[j].top, f"arrow:allocated:{arms[j]}")
        arrow(xs[j], allocated[j].bottom, xs[j], lost[j].top, f"arrow:lost:{arms[j]}")
        arrow(xs[j], lost[j].bottom, xs[j], analysed[j].top, f"arrow:analysed:{arms[j]}")
    stage_y = {
        "enrolment": assessed.y if assessed is not None else randomised.y,
        "allocation": allocated[0].y,
        "follow_up": lost[0].y,
        "analysis": analysed[0].y,
    }
    for key, yy in stage_y.items():
        ax.text(0.05, yy, words[key], va="center", ha="left", fontsize=9, color=COLOURS[0],
                fontweight="bold", gid=f"stage:{key}")
    if problems:
        ax.text(width / 2, 0.1 + foot / 2, problem_text, ha="center", va="center", fontsize=8,
                color=ARM_COLOURS[1], gid="problems")
    return fig


def consort_from_lottery(
    lottery: BatchLottery,
    *,
    audit: Audit | None = None,
    received: Mapping[str, int] | None = None,
    not_received: Mapping[str, Mapping[str, int]] | None = None,
    excluded_from_analysis: Mapping[str, Mapping[str, int]] | None = None,
    analysed: Mapping[str, int] | None = None,
) -> ConsortFlow:
    """The flow counts recorded by a batch lottery's log.

    Assessed = every unit listed in a batch; excluded = the units excluded
    before the draw, by reason (capacity and eligibility rules); allocated
    per arm; lost to follow-up = withdrawn units by arm and reason. The
    other stages come from the arguments, and ``audit=`` (an
    :class:`~effekt.design.allocation_audit.Audit` of the same units) fills
    *received* (delivered arm = allocated arm) and *did not receive*, by
    the audit's status (``"swapped batch"``, ``"wrong arm"``, ``"not
    delivered"``). ``analysed`` defaults to
    allocated minus excluded from analysis: intention to treat). Units
    found ineligible after the draw: build a :class:`ConsortFlow` directly
    with ``excluded_after``.

    Examples
    --------
    >>> from effekt.design import BatchLottery
    >>> lot = BatchLottery(None, seed=1, exclude={"aged under 30": lambda u: u["age"] < 30})
    >>> import pandas as pd
    >>> _ = lot.draw(pd.DataFrame({"id": range(6), "age": [25, 40, 41, 52, 33, 29]}), batch="b1")
    >>> flow = consort_from_lottery(lot)
    >>> flow.assessed, flow.excluded, flow.ok
    (6, {'aged under 30': 2}, True)
    """
    alloc = lottery.allocations()
    excl = lottery.exclusions()
    if audit is not None:
        if received is not None or not_received is not None:
            raise DesignError("give audit= or received=/not_received=, not both: the audit supplies them.")
        units = audit.units
        unknown = set(alloc["id"]) ^ set(units["id"])
        if unknown:
            raise DataError(
                f"the audit covers other units than the lottery ({len(unknown)} ids differ, e.g. {sorted(map(str, unknown))[:3]}); "
                "audit the lottery's allocations."
            )
        got: dict[str, int] = {}
        missed: dict[str, dict[str, int]] = {}
        for arm, status in zip(units["randomised"], units["status"]):
            if status == "as randomised":
                got[str(arm)] = got.get(str(arm), 0) + 1
            else:
                by = missed.setdefault(str(arm), {})
                by[str(status)] = by.get(str(status), 0) + 1
        received = {arm: got.get(arm, 0) for arm in lottery.arms}
        not_received = missed
    allocated = {arm: int((alloc["arm"] == arm).sum()) for arm in lottery.arms}
    excluded = {str(r): int(n) for r, n in excl["reason"].value_counts(sort=False).items()}
    lost: dict[str, dict[str, int]] = {}
    gone = alloc.loc[alloc["withdrawn"].to_numpy(dtype=bool)]
    for arm, reason in zip(gone["arm"], gone["withdraw_reason"]):
        by_reason = lost.setdefault(str(arm), {})
        by_reason[str(reason)] = by_reason.get(str(reason), 0) + 1
    return ConsortFlow(
        allocated=allocated,
        assessed=len(alloc) + len(excl),
        excluded=excluded,
        randomised=len(alloc),
        received=received,
        not_received=dict(not_received or {}),
        lost=lost,
        excluded_from_analysis=dict(excluded_from_analysis or {}),
        analysed=analysed,
    )
