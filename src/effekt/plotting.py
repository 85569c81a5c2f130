"""One visual style for every picture effekt draws.

Plots are methods of their results (``res.plot(ax=None, labels=None)``);
they all start from :func:`figure_and_axes`, which makes a
:class:`matplotlib.figure.Figure` directly, without pyplot's global state
(no figure is left open, nothing is shown, it works without a display), or
draws into the Axes the caller passes. Colours, line widths and the
interval style come from here, so a report's figures look alike.

A plugin draws in the same style by importing these helpers (they are public
API) and passing its drawing function as the result's ``plotter``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "ARM_COLOURS",
    "COLOURS",
    "arm_colour",
    "decimal_comma",
    "figure_and_axes",
    "forest",
    "forest_rows",
    "label_for",
    "legend_outside",
    "nice_ticks",
    "plot_word",
    "reference_line",
]

# Colour-blind-safe (Okabe & Ito 2008); control first, then the programme.
COLOURS: tuple[str, ...] = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
ARM_COLOURS: dict[int, str] = {0: "#555555", 1: "#D55E00"}
INTERVAL_ALPHA = 0.2
LINE_WIDTH = 1.6
FIG_SIZE = (6.4, 4.0)


#: the words figures print, by language (the report's ``language=``)
PLOT_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "time": "time",
        "number at risk": "number at risk",
        "share without the event": "share without the event",
        "share with the event": "share with the event",
        "cumulative incidence": "cumulative incidence",
        "power": "power",
        "smd": "standardised mean difference",
        "balance title": "Balance: |SMD| > {threshold} highlighted",
        "control": "control",
        "treated": "treated",
    },
    "da": {
        "time": "tid",
        "number at risk": "antal i risiko",
        "share without the event": "andel uden hændelsen",
        "share with the event": "andel med hændelsen",
        "cumulative incidence": "kumuleret incidens",
        "power": "styrke",
        "smd": "standardiseret forskel i gennemsnit",
        "balance title": "Balance: |SMD| > {threshold} fremhævet",
        "control": "kontrol",
        "treated": "indsats",
    },
}


def plot_word(key: str, language: str = "en") -> str:
    """The word a figure prints for ``key`` in ``language`` ("en" or "da").

    >>> plot_word("number at risk", "da")
    'antal i risiko'
    """
    if language not in PLOT_WORDS:
        from effekt.errors import DataError

        raise DataError(f"language={language!r} is not one effekt draws in; use one of {sorted(PLOT_WORDS)}.")
    return PLOT_WORDS[language].get(key, PLOT_WORDS["en"].get(key, key))


def decimal_comma(fig: Figure) -> Figure:
    """Write every numeric tick label of ``fig`` with a decimal comma (Danish figures); returns ``fig``.

    Each numeric axis keeps its own formatter (and so its choice of ticks
    and digits); only the decimal point of the printed labels changes.
    Text tick labels are left as they are.
    """
    from matplotlib.ticker import FixedFormatter, Formatter, NullFormatter

    class _Comma(Formatter):  # type: ignore[misc]
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def set_axis(self, axis: Any) -> None:
            super().set_axis(axis)
            self.inner.set_axis(axis)

        def set_locs(self, locs: Any) -> None:
            self.inner.set_locs(locs)

        def format_ticks(self, values: Any) -> list[str]:
            return [str(t).replace(".", ",") for t in self.inner.format_ticks(values)]

        def __call__(self, x: Any, pos: Any = None) -> str:
            return str(self.inner(x, pos)).replace(".", ",")

    for axes in fig.axes:
        for axis in (axes.xaxis, axes.yaxis):
            inner = axis.get_major_formatter()
            # text labels (FixedFormatter: covariates, arms) keep their full stops
            if not isinstance(inner, (NullFormatter, FixedFormatter)) and type(inner).__name__ != "_Comma":
                axis.set_major_formatter(_Comma(inner))
    return fig


def figure_and_axes(ax: Axes | None = None, *, size: tuple[float, float] = FIG_SIZE) -> tuple[Figure, Axes]:
    """A new Figure with one Axes in effekt's style, or ``ax`` and its Figure.

    >>> fig, ax = figure_and_axes()
    >>> type(fig).__name__
    'Figure'
    """
    if ax is not None:
        return ax.figure, ax  # type: ignore[return-value]
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    axes = fig.add_subplot()
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(True, axis="y", linewidth=0.5, alpha=0.4)
    return fig, axes


def arm_colour(arm: int) -> str:
    """The colour of arm 0 (control) or 1 (treated)."""
    return ARM_COLOURS.get(int(arm), COLOURS[int(arm) % len(COLOURS)])


def label_for(value: Any, labels: Mapping[Any, str] | None, default: str | None = None) -> str:
    """The name shown for ``value``: ``labels[value]``, else ``default``, else ``str(value)``."""
    if labels is not None and value in labels:
        return str(labels[value])
    return default if default is not None else str(value)


def nice_ticks(end: float, *, n: int = 5, start: float = 0.0) -> list[float]:
    """Round tick positions from ``start`` to at most ``end``: steps of 1, 2, 2.5 or 5 times a power of 10.

    The positions of the x-axis ticks of a survival plot and of its at-risk
    table, so the counts sit under the ticks up to the end of follow-up.

    >>> nice_ticks(23.0)
    [0.0, 5.0, 10.0, 15.0, 20.0]
    >>> nice_ticks(1.0)
    [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    """
    import math

    span = float(end) - float(start)
    if not math.isfinite(span) or span <= 0:
        return [float(start)]
    n = max(int(n), 1)
    power = 10.0 ** (math.floor(math.log10(span / n)) - 1)
    candidates = sorted(m * power * 10.0**k for k in range(4) for m in (1.0, 2.0, 2.5, 5.0))
    step = next(c for c in candidates if math.floor(span / c + 1e-9) <= n + 1)
    count = int(math.floor(span / step + 1e-9))
    return [round(float(start) + i * step, 12) for i in range(count + 1)]


def legend_outside(ax: Axes, *, handles: Sequence[Any] | None = None, title: str | None = None,
                   where: str = "right", **kwargs: Any) -> Any:
    """A legend beside (``where="right"``) or above (``"top"``) the Axes, so it never covers data.

    With a constrained-layout Figure (:func:`figure_and_axes`) the Axes
    shrinks to make room.
    """
    if where == "top":
        opts: dict[str, Any] = {"loc": "lower left", "bbox_to_anchor": (0.0, 1.01), "ncol": max(1, len(handles or ax.get_legend_handles_labels()[0])),
                                "borderaxespad": 0.0}
    else:
        opts = {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0), "borderaxespad": 0.0}
    opts.update({"frameon": False, "fontsize": 8, "title": title, "title_fontsize": 8, "alignment": "left"})
    opts.update(kwargs)
    if handles is not None:
        return ax.legend(handles=list(handles), **opts)
    return ax.legend(**opts)


def reference_line(ax: Axes, value: float = 0.0, *, vertical: bool = False) -> None:
    """A thin line at the null value."""
    if vertical:
        ax.axvline(value, color="black", linewidth=0.8, linestyle="--")
    else:
        ax.axhline(value, color="black", linewidth=0.8, linestyle="--")


def _log_axis(axes: Axes, values: Sequence[float]) -> None:
    """A log x-axis for ratios with a few plain ticks (0.5, 1, 2) instead of powers of ten."""
    import math

    from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullLocator

    axes.set_xscale("log")
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v)) and float(v) > 0]
    if not finite:
        return
    lo, hi = min(finite), max(finite)
    ticks = [t for t in MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi) if lo <= t <= hi and t > 0]
    if hi / lo > 20:  # a wide range reads better in powers of ten (and halves)
        ticks = [m * 10.0**k for k in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
                 for m in (1, 2, 5) if lo <= m * 10.0**k <= hi]
    if lo <= 1 <= hi and 1 not in ticks:
        ticks.append(1.0)
    axes.xaxis.set_major_locator(FixedLocator(sorted(ticks)))
    axes.xaxis.set_minor_locator(NullLocator())
    axes.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{x:g}"))


def forest_rows(
    axes: Axes,
    names: Sequence[str],
    estimates: Sequence[float],
    lows: Sequence[float],
    highs: Sequence[float],
    *,
    highlight: Sequence[bool] | None = None,
    null: float | None = 0.0,
    log: bool = False,
    xlabel: str = "",
    values: bool = True,
    digits: int = 2,
    language: str = "en",
) -> None:
    """Draw forest-plot rows into ``axes``: the one forest style of the package.

    One row per estimate from the top: its confidence interval as a line
    and the estimate as a dot, highlighted rows (the headline, the overall
    effect) in the programme's colour, a dashed line at the null, and, with
    ``values=True``, the estimate and interval printed beside each row
    outside the plot (``1.23 [0.45, 2.01]``, in ``language``'s notation,
    see :func:`effekt.report.format_number`). ``log=True`` draws ratios on
    a log axis.
    """
    from matplotlib.transforms import blended_transform_factory

    k = len(names)
    ys = list(range(k))[::-1]
    flags = list(highlight) if highlight is not None else [False] * k
    for y, est, low, high, hl in zip(ys, estimates, lows, highs, flags):
        colour = ARM_COLOURS[1] if hl else COLOURS[0]
        axes.plot([low, high], [y, y], color=colour, linewidth=LINE_WIDTH, solid_capstyle="butt")
        axes.plot([est], [y], "o", color=colour, markersize=5, zorder=3)
    axes.set_yticks(ys, list(names))
    axes.set_ylim(-0.6, k - 0.4)
    if log:
        _log_axis(axes, [*lows, *highs, *estimates, *([null] if null else [])])
    else:
        from matplotlib.ticker import MaxNLocator

        axes.xaxis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))
    if null is not None:
        reference_line(axes, null, vertical=True)
    axes.set_xlabel(xlabel)
    axes.grid(False, axis="y")
    axes.spines["left"].set_visible(False)
    axes.tick_params(axis="y", length=0)
    if values:
        from effekt.report._format import format_ci, format_number

        trans = blended_transform_factory(axes.transAxes, axes.transData)
        for y, est, low, high in zip(ys, estimates, lows, highs):
            text = f"{format_number(est, digits, language)} {format_ci(low, high, digits, language)}"
            axes.text(1.02, y, text, transform=trans,
                      ha="left", va="center", fontsize=8, clip_on=False)


def forest(
    table: Any,
    *,
    ax: Axes | None = None,
    labels: Mapping[Any, str] | None = None,
    title: str | None = None,
    terms: Sequence[str] | None = None,
    null: float | None = None,
) -> Figure:
    """Estimates and confidence intervals of a table's rows, one line each.

    The default picture of an :class:`~effekt.result.EffectTable`; the
    headline row is drawn in the programme's colour (:func:`forest_rows`).
    ``table`` may also be a sequence of :class:`~effekt.result.EffectResult`
    (a report's planned estimates), each drawn by its ``term``.
    """
    all_rows = table.rows if hasattr(table, "rows") else list(table)
    rows = [r for r in all_rows if terms is None or r.term in terms]
    fig, axes = figure_and_axes(ax, size=(7.0, max(2.0, 0.35 * len(rows) + 1.2)))
    headline = getattr(table, "headline_term", None)
    if null is None:
        null = 1.0 if rows and rows[0].ci_method == "wald-log" else 0.0
    level = f"{100 * rows[0].conf_level:g}%" if rows else ""
    forest_rows(axes, [label_for(r.term, labels) for r in rows], [r.estimate for r in rows],
                [r.conf_int[0] for r in rows], [r.conf_int[1] for r in rows],
                highlight=[r.term == headline for r in rows], null=null,
                xlabel=f"estimate with {level} confidence interval")
    axes.set_title(str(title or getattr(table, "estimator", "")))
    return fig
