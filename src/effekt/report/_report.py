"""A self-contained HTML report of a study: flow, balance, estimates, figures, power, log, deviations.

:class:`Report` collects sections in the order they are added and writes
``report.html`` (one file: the style sheet and every figure inline, so it
opens anywhere and loads nothing from the network) beside each figure as
PNG and SVG in ``figures/``. Every file is written whole (a temporary name,
then a rename) and the same every run: figures carry no date and fixed SVG
ids, so re-running a study gives byte-identical files.
"""

from __future__ import annotations

import base64
import html
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from effekt.errors import DataError, EffektError
from effekt.report._files import figure_bytes, write_atomic
from effekt.report._format import (
    MISSING,
    check_language,
    format_ci,
    format_count,
    format_number,
    format_p,
    format_value,
    label,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from effekt.design.balance import BalanceTable
    from effekt.design.consort import ConsortFlow
    from effekt.result import PowerResult

__all__ = ["PlannedEstimate", "Report"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
esc = html.escape

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a;line-height:1.45}
h1{font-size:1.7rem;margin-bottom:.3rem}h2{font-size:1.3rem;border-bottom:1px solid #ccc;padding-bottom:.2rem;margin-top:2.2rem}
table{border-collapse:collapse;margin:.8rem 0;font-size:.9rem}
th,td{padding:.25rem .6rem;text-align:right;border-bottom:1px solid #e4e4e4;vertical-align:top;white-space:nowrap}
td.text{white-space:normal}.scroll{overflow-x:auto}
th:first-child,td:first-child{text-align:left}thead th{border-bottom:2px solid #555}
tr.below td{color:#555;border-bottom:1px solid #e4e4e4}tbody.goodness tr:first-child th,tbody.goodness tr:first-child td{border-top:2px solid #555}
td.text,th.text{text-align:left}
dl.meta{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem}dl.meta dt{font-weight:600}dl.meta dd{margin:0}
figure{margin:1.2rem 0}figure img{max-width:100%;height:auto}figcaption{font-size:.9rem;color:#444}
.bad{color:#b03000;font-weight:600}.good{color:#006040}code{font-size:.9em;word-break:break-all}
footer{margin-top:3rem;font-size:.8rem;color:#666}
@media print{body{max-width:none;margin:0}figure,table,h2{break-inside:avoid}h2{break-after:avoid}}
"""


@dataclass(frozen=True)
class PlannedEstimate:
    """One planned estimate: an outcome, its role, the estimator and what it gave.

    ``p_adjusted`` is the multiplicity-adjusted p-value of its ``family``
    (from :func:`effekt.adjust_pvalues`); ``label`` is the outcome's name as
    shown (default: ``outcome``).
    """

    outcome: str
    role: str
    estimator: str
    result: Any
    p_adjusted: float | None = None
    family: str | None = None
    label: str | None = None

    def __post_init__(self) -> None:
        for name in ("outcome", "role", "estimator"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise DataError(f"PlannedEstimate needs {name}= as a non-empty string; got {getattr(self, name)!r}.")
        if self.p_adjusted is not None:
            try:
                p = float(self.p_adjusted)
            except (TypeError, ValueError):
                p = float("nan")
            if not 0.0 <= p <= 1.0:
                raise DataError(
                    f"PlannedEstimate {self.outcome!r} ({self.estimator}): p_adjusted must lie in [0, 1] or be None; "
                    f"got {self.p_adjusted!r}."
                )

    @property
    def shown(self) -> str:
        """The outcome's name as shown: ``label``, else ``outcome``."""
        return self.label or self.outcome


@dataclass
class _Figure:
    name: str
    fig: Figure
    caption: str


@dataclass
class _Section:
    key: str
    render: Callable[[], str]
    figures: list[_Figure] = field(default_factory=list)


def _headline(result: Any) -> Any:
    return getattr(result, "headline", result) if hasattr(result, "rows") else result


def _is_ratio(result: Any) -> bool:
    """Whether an estimate is a ratio (hazard, risk, odds): drawn on a log axis around 1."""
    return getattr(result, "ci_method", "") == "wald-log" or str(getattr(result, "estimand", "")).endswith("ratio")


def _slug(text: str) -> str:
    out = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.").lower()
    return out or "figure"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], *, text_cols: int = 1, classes: str = "effekt-table") -> str:
    def cell(tag: str, value: str, i: int) -> str:
        cls = ' class="text"' if i < text_cols else ""
        return f"<{tag}{cls}>{esc(value)}</{tag}>"

    head = "".join(cell("th", h, i) for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(cell("td", v, i) for i, v in enumerate(r)) + "</tr>" for r in rows)
    return f'<div class="scroll"><table class="{classes}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


class Report:
    """A study report: sections added in order, written as one HTML file and its figures.

    Parameters
    ----------
    title : str
    language : {"en", "da"}, default="en"
        English, or Danish labels with a decimal comma (see
        :func:`effekt.report.format_number` for the rounding).
    metadata : mapping str -> str, optional
        Shown at the top as a list (study name, registration, data date, ...).

    Examples
    --------
    >>> rep = Report("A trial", metadata={"registration": "none"})
    >>> rep.add_text("Design", "Two arms, 100 people.")
    >>> rep.add_deviations([])
    >>> [s for s in rep.sections]
    ['text', 'deviations']
    """

    def __init__(self, title: str, *, language: str = "en", metadata: Mapping[str, str] | None = None) -> None:
        if not isinstance(title, str) or not title.strip():
            raise DataError(f"a report needs a title (a non-empty string); got {title!r}.")
        self.title = title
        self.language = check_language(language)
        self.metadata = {str(k): str(v) for k, v in (metadata or {}).items()}
        self._sections: list[_Section] = []
        self._names: set[str] = set()
        self._deviations_added = False

    # ------------------------------------------------------------------ helpers
    @property
    def sections(self) -> list[str]:
        """The kinds of the sections added so far, in order."""
        return [s.key for s in self._sections]

    @property
    def figures(self) -> list[str]:
        """The names of every figure, in order (files ``figures/<name>.png`` and ``.svg``)."""
        return [f.name for s in self._sections for f in s.figures]

    def _l(self, key: str) -> str:
        return label(key, self.language)

    def _num(self, x: Any, digits: int = 3) -> str:
        return format_number(x, digits, self.language)

    def _unique(self, name: str) -> str:
        base, i = name, 2
        while name in self._names:
            name = f"{base}-{i}"
            i += 1
        return name

    def _make_figure(self, name: str, obj: Any, caption: str, *, strict: bool = True) -> _Figure:
        from matplotlib.figure import Figure as MplFigure

        if not isinstance(name, str) or not _NAME.match(name):
            raise DataError(
                f"figure name {name!r} must be a file name: letters, digits, '_', '-' and '.', starting with a letter or digit."
            )
        if strict and name in self._names:
            raise DataError(f"a figure named {name!r} is already in the report; give each figure its own name.")
        name = self._unique(name)
        if isinstance(obj, MplFigure):
            fig = obj
        elif callable(getattr(obj, "plot", None)):
            fig = obj.plot()
            if not isinstance(fig, MplFigure):
                raise DataError(f"figure {name!r}: {type(obj).__name__}.plot() returned {type(fig).__name__}, not a matplotlib Figure.")
        else:
            raise DataError(
                f"figure {name!r}: add_figure takes a matplotlib Figure or a result with .plot(); got {type(obj).__name__}."
            )
        if self.language == "da":
            from effekt.plotting import decimal_comma

            decimal_comma(fig)
        self._names.add(name)
        return _Figure(name, fig, str(caption))

    def _add(self, key: str, render: Callable[[], str], figures: Sequence[_Figure] = ()) -> None:
        self._sections.append(_Section(key, render, list(figures)))

    # ------------------------------------------------------------------ sections
    def add_text(self, heading: str, text: str) -> None:
        """A section of prose; blank lines separate paragraphs."""
        paras = [p.strip() for p in str(text).split("\n\n") if p.strip()]
        body = "".join(f"<p>{esc(p)}</p>" for p in paras)
        self._add("text", lambda: f"<h2>{esc(str(heading))}</h2>{body}")

    def add_figure(self, name: str, obj: Any, caption: str) -> None:
        """A figure: a matplotlib Figure, or a result whose ``.plot()`` draws one.

        ``name`` is the file name in ``figures/`` (without suffix) and must
        be unique in the report.
        """
        fig = self._make_figure(name, obj, caption)
        self._add("figure", lambda: "", [fig])

    def add_consort(self, flow: ConsortFlow, *, labels: Mapping[Any, str] | None = None) -> None:
        """The CONSORT diagram and the table reconciling its counts.

        ``labels`` maps arm names to the names shown in the diagram.
        """
        fig = self._make_figure(self._unique("consort"), _Drawn(flow, language=self.language, labels=labels),
                                self._l("consort_caption"), strict=False)

        from effekt.design.consort import translate_check

        def render() -> str:
            checks = flow.reconcile()
            rows = [[translate_check(str(c), self.language), format_count(e, self.language), format_count(r, self.language),
                     format_count(d, self.language), self._l("yes") if ok else self._l("no")]
                    for c, e, r, d, ok in zip(checks["check"], checks["expected"], checks["reported"],
                                              checks["difference"], checks["ok"])]
            header = [self._l(k) for k in ("check", "expected", "reported", "difference", "ok")]
            problems = flow.problems
            verdict = (f'<p class="good">{esc(self._l("flow_ok"))}</p>' if not problems else
                       f'<p class="bad">{esc(self._l("flow_bad"))}</p><ul>'
                       + "".join(f"<li>{esc(translate_check(p, self.language))}</li>" for p in problems) + "</ul>")
            return (f"<h2>{esc(self._l('consort'))}</h2>{{figures}}<h3>{esc(self._l('reconciliation'))}</h3>"
                    + _table(header, rows) + verdict)

        self._add("consort", render, [fig])

    def add_balance(self, balance: BalanceTable, *, labels: Mapping[Any, str] | None = None) -> None:
        """The balance table by arm (means and SDs; counts and percents) and the love plot.

        ``labels`` maps arm values (and covariate names) to the names shown.
        """
        from effekt.plotting import label_for

        fig = self._make_figure(self._unique("balance"), _Drawn(balance, labels=labels, language=self.language),
                                self._l("balance_caption"), strict=False)

        def render() -> str:
            t = balance.table
            control, treated = (label_for(a, labels) for a in balance.arms)
            num = t[t["kind"] != "categorical"] if "kind" in t else t.iloc[0:0]
            cat = t[t["kind"] == "categorical"] if "kind" in t else t
            parts = [f"<h2>{esc(self._l('balance'))}</h2>"]
            if len(num):
                header = [self._l("variable"), f"{treated}: {self._l('mean')}", f"{treated}: {self._l('sd')}",
                          f"{control}: {self._l('mean')}", f"{control}: {self._l('sd')}", self._l("smd"), self._l("p_value")]
                rows = [[label_for(r.variable, labels), self._num(r.mean_treated, 2), self._num(r.sd_treated, 2),
                         self._num(r.mean_control, 2), self._num(r.sd_control, 2), self._num(r.smd, 3),
                         format_p(r.p_value, self.language)] for r in num.itertuples()]
                parts.append(_table(header, rows))
            if len(cat):
                header = [self._l("variable"), self._l("level"), f"{treated}: {self._l('count')}",
                          f"{treated}: {self._l('percent')}", f"{control}: {self._l('count')}",
                          f"{control}: {self._l('percent')}", self._l("smd"), self._l("p_value")]
                rows = [[label_for(r.variable, labels), str(r.level), format_count(r.n_treated, self.language),
                         self._num(r.pct_treated, 1), format_count(r.n_control, self.language),
                         self._num(r.pct_control, 1), self._num(r.smd, 3), format_p(r.p_value, self.language)]
                        for r in cat.itertuples()]
                parts.append(_table(header, rows, text_cols=2))
            om = balance.omnibus
            if om:
                parts.append(f"<p>{esc(self._l('omnibus'))}: T = {esc(self._num(om.get('statistic'), 3))}, "
                             f"p = {esc(format_p(om.get('p_value'), self.language))}</p>")
            parts.append("{figures}")
            return "".join(parts)

        self._add("balance", render, [fig])

    def add_estimates(self, rows: Sequence[PlannedEstimate]) -> None:
        """Every planned estimate in one table, the figures of those that draw one, and a forest plot.

        One row per outcome and estimator: the headline estimate, its
        confidence interval, the raw p-value and the multiplicity-adjusted
        one beside it. A result with a picture of its own (Kaplan-Meier,
        cumulative incidence, an event study) adds that figure; every
        estimate also appears in one forest plot per scale (differences;
        ratios).
        """
        rows = list(rows)
        for r in rows:
            if not isinstance(r, PlannedEstimate):
                raise DataError(f"add_estimates takes PlannedEstimate rows; got a {type(r).__name__}.")
        figures: list[_Figure] = []
        for r in rows:
            if getattr(r.result, "plotter", None) is not None:
                try:
                    fig = _Drawn(r.result, language=self.language).plot()
                except EffektError:
                    continue
                name = self._unique(_slug(f"{r.outcome}-{r.estimator}"))
                figures.append(self._make_figure(name, fig, f"{r.shown}: {r.estimator}", strict=False))
        figures += self._forests(rows)

        def render() -> str:
            levels: set[float] = {float(c) for r in rows
                                  if (c := getattr(_headline(r.result), "conf_level", None)) is not None}
            level = f"{format_number(100 * levels.pop(), 0, self.language)}%" if len(levels) == 1 else ""
            header = [self._l("outcome"), self._l("role"), self._l("estimator"), self._l("estimate"),
                      self._l("ci").format(level=level).strip(), self._l("p_raw"), self._l("p_adjusted"),
                      self._l("family"), self._l("n")]
            body = []
            for r in rows:
                h = _headline(r.result)
                low, high = getattr(h, "conf_int", None) or (None, None)
                body.append([r.shown, self._l(r.role) if r.role in ("primary", "secondary") else r.role, r.estimator,
                             self._num(getattr(h, "estimate", None)), format_ci(low, high, 3, self.language),
                             format_p(getattr(h, "p_value", None), self.language),
                             MISSING if r.p_adjusted is None else format_p(r.p_adjusted, self.language),
                             r.family or MISSING, format_count(getattr(h, "n", None), self.language)])
            return f"<h2>{esc(self._l('estimates'))}</h2>" + _table(header, body, text_cols=3) + "{figures}"

        self._add("estimates", render, figures)

    def _forests(self, rows: Sequence[PlannedEstimate]) -> list[_Figure]:
        """One figure of every estimate: a forest panel per outcome and scale (differences; ratios)."""
        import textwrap

        from matplotlib.figure import Figure as MplFigure

        from effekt.plotting import forest_rows

        panels: dict[tuple[str, bool], list[tuple[PlannedEstimate, Any]]] = {}
        for r in rows:
            h = _headline(r.result)
            if all(hasattr(h, a) for a in ("estimate", "conf_int", "conf_level")):
                panels.setdefault((r.outcome, _is_ratio(h)), []).append((r, h))
        if not panels:
            return []
        sizes = [len(m) for m in panels.values()]
        fig = MplFigure(figsize=(7.5, 0.42 * sum(sizes) + 0.95 * len(sizes) + 0.3), layout="constrained")
        grid = fig.add_gridspec(len(sizes), 1, height_ratios=[k + 1.2 for k in sizes])
        levels = {float(h.conf_level) for m in panels.values() for _, h in m}
        level = f"{format_number(100 * levels.pop(), 0, self.language)}%" if len(levels) == 1 else ""
        for i, ((_, ratio), members) in enumerate(panels.items()):
            axes = fig.add_subplot(grid[i])
            axes.spines[["top", "right"]].set_visible(False)
            title = members[0][0].shown
            names = [r.estimator if r.shown == title else f"{r.estimator}: {r.shown}" for r, _ in members]
            names = [textwrap.fill(n, 34) for n in names]
            forest_rows(axes, names, [h.estimate for _, h in members], [h.conf_int[0] for _, h in members],
                        [h.conf_int[1] for _, h in members], highlight=[r.role == "primary" for r, _ in members],
                        null=1.0 if ratio else 0.0, log=ratio, language=self.language,
                        xlabel=f"{self._l('ratio') if ratio else self._l('estimate')} "
                               f"({self._l('ci').format(level=level).strip()})")
            axes.set_title(textwrap.shorten(title, 70), loc="left", fontsize=10)
            axes.xaxis.label.set_fontsize(8)
        name = self._unique("forest")
        return [self._make_figure(name, fig, self._l("forest_caption"), strict=False)]

    def add_power(self, power: PowerResult, information_fraction: float | None = None) -> None:
        """The power calculation (what was solved, from what) and the information fraction."""
        figures = []
        if getattr(power, "curve", None) is not None:
            try:
                figures.append(self._make_figure(self._unique("power"), _Drawn(power, language=self.language).plot(),
                                                 self._l("power"), strict=False))
            except EffektError:
                pass
        if information_fraction is not None:
            value = float(information_fraction)
            if not value >= 0:
                raise DataError(f"information_fraction must be 0 or more; got {information_fraction!r}.")

        def show(v: Any) -> str:
            if isinstance(v, (tuple, list)):
                return ", ".join(show(x) for x in v)
            return format_value(v, self.language)

        def solved() -> str:
            value, counts = power.value, power.counts
            text = f"{power.solved} = {show(value)}"
            whole = any(w in counts for w in ("individuals", "people", "clusters", "events", "units", "blocks",
                                              "sites", "persons"))
            if whole and isinstance(value, float) and not value.is_integer():
                text += f" ({self._l('rounded_up')}: {format_count(math.ceil(value), self.language)})"
            return text + (f"; {counts}" if counts else "")

        def render() -> str:
            rows = [[self._l("calculator"), str(power.calculator)], [self._l("method"), str(power.method)],
                    [self._l("solved"), solved()]]
            rows += [[f"{self._l('given')}: {k}", show(v)] for k, v in power.inputs.items()]
            if information_fraction is not None:
                rows.append([self._l("information_fraction"),
                             f"{format_number(100 * float(information_fraction), 1, self.language)}%"])
            rows += [[self._l("warnings"), w] for w in power.warnings]
            return f"<h2>{esc(self._l('power'))}</h2>" + _table(["", ""], rows, text_cols=2) + "{figures}"

        self._add("power", render, figures)

    def add_log_head(self, head: str, pinned: str | None = None) -> None:
        """The allocation log's head hash, and whether it is the one the plan pinned."""
        def render() -> str:
            rows = [[self._l("head"), str(head)]]
            if pinned is not None:
                rows.append([self._l("pinned"), str(pinned)])
                verdict = ("good", self._l("log_match")) if str(pinned) == str(head) else ("bad", self._l("log_differ"))
            else:
                verdict = ("", self._l("log_unpinned"))
            table_html = _table(["", ""], rows, text_cols=2).replace("<td class=\"text\">" + esc(str(head)),
                                                                        "<td class=\"text\"><code>" + esc(str(head)) + "</code>")
            return (f"<h2>{esc(self._l('log_head'))}</h2>" + table_html
                    + f'<p class="{verdict[0]}">{esc(verdict[1])}</p>')

        self._add("log_head", render)

    def add_deviations(self, items: Sequence[str]) -> None:
        """Every difference between the plan and what ran; shown as "none" when there is none.

        A report always has this section: :meth:`write` adds an empty one
        when it was never added.
        """
        if isinstance(items, str):
            items = [items]
        entries = [str(i) for i in items]

        def render() -> str:
            body = ("<ul>" + "".join(f"<li>{esc(i)}</li>" for i in entries) + "</ul>") if entries else \
                f"<p>{esc(self._l('none'))}</p>"
            return f'<h2 id="deviations">{esc(self._l("deviations"))}</h2>' + body

        self._deviations_added = True
        self._add("deviations", render)

    # ------------------------------------------------------------------ output
    def _figure_html(self, f: _Figure, svg: bytes) -> str:
        uri = "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")
        return (f'<figure id="fig-{esc(f.name)}"><img src="{uri}" alt="{esc(f.caption)}">'
                f"<figcaption>{esc(f.caption)}</figcaption></figure>")

    def to_html(self) -> str:
        """The whole report as one HTML document (what :meth:`write` puts in ``report.html``)."""
        return self._html({f.name: figure_bytes(f.fig, "svg") for s in self._sections for f in s.figures})

    def _html(self, svgs: Mapping[str, bytes]) -> str:
        sections = list(self._sections)
        if not self._deviations_added:
            saved = list(self._sections)
            self.add_deviations([])
            sections = list(self._sections)
            self._sections = saved
            self._deviations_added = False
        parts = []
        for s in sections:
            figs = "".join(self._figure_html(f, svgs[f.name]) for f in s.figures)
            text = s.render()
            parts.append(f'<section class="{s.key}">' + (text.replace("{figures}", figs) if "{figures}" in text else text + figs)
                         + "</section>")
        meta = ""
        if self.metadata:
            meta = '<dl class="meta">' + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in self.metadata.items()) + "</dl>"
        from effekt import __version__ as version

        return (f'<!DOCTYPE html>\n<html lang="{self.language}"><head><meta charset="utf-8">'
                '<meta name="viewport" content="width=device-width, initial-scale=1">'
                f"<title>{esc(self.title)}</title><style>{_CSS}</style></head><body>"
                f"<header><h1>{esc(self.title)}</h1>{meta}</header><main>{''.join(parts)}</main>"
                f"<footer>{esc(self._l('generated'))} {esc(version)}</footer></body></html>\n")

    def write(self, out_dir: str | Path) -> Path:
        """Write ``out_dir/report.html`` and ``out_dir/figures/<name>.png`` and ``.svg``; return the HTML's path.

        Each file goes to a temporary name first and is renamed into place,
        so an interrupted run leaves no half-written file; the bytes are the
        same on every run.
        """
        out = Path(out_dir)
        figdir = out / "figures"
        svgs: dict[str, bytes] = {}
        for s in self._sections:
            for f in s.figures:
                svg = figure_bytes(f.fig, "svg")
                svgs[f.name] = svg
                write_atomic(figdir / f"{f.name}.svg", svg)
                write_atomic(figdir / f"{f.name}.png", figure_bytes(f.fig, "png"))
        return write_atomic(out / "report.html", self._html(svgs).encode("utf-8"))


class _Drawn:
    """An object's picture drawn with options (the report's language, arm labels)."""

    def __init__(self, obj: Any, **options: Any) -> None:
        self.obj = obj
        # English is every picture's default: only another language is passed on
        self.options = {k: v for k, v in options.items() if v is not None and not (k == "language" and v == "en")}

    def plot(self) -> Figure:
        try:
            return self.obj.plot(**self.options)  # type: ignore[no-any-return]
        except TypeError:  # an older plot() without language=
            return self.obj.plot(**{k: v for k, v in self.options.items() if k != "language"})  # type: ignore[no-any-return]
