"""Several models side by side: one column per model, one row block per term.

The layout of R's modelsummary and fixest's etable: each term's estimate,
with its standard error (or confidence interval) in the row below, and the
models' sample size, estimator and variance type at the bottom.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from effekt.errors import DataError
from effekt.report._format import (
    MISSING,
    check_language,
    format_ci,
    format_count,
    format_number,
    format_p,
    label,
)

__all__ = ["ResultsTable", "table"]

_BELOW = ("se", "ci", "p", "none")


def _rows_of(result: Any, name: str) -> list[Any]:
    rows = getattr(result, "rows", None)
    if rows is not None:
        return list(rows)
    if all(hasattr(result, a) for a in ("term", "estimate", "std_error", "conf_int")):
        return [result]
    raise DataError(
        f"table() takes EffectResult or EffectTable results; model {name!r} is a {type(result).__name__}. "
        "Pass the result of ef.estimate(...) (a power calculation or a balance table has its own report section)."
    )


@dataclass(frozen=True)
class ResultsTable:
    """A multi-model table; build it with :func:`table`.

    ``frame`` is the table as printed (strings), indexed by ``(term,
    statistic)``: ``statistic`` is ``"estimate"`` or the row below it
    (``"std_error"``, ``"conf_int"`` or ``"p_value"``), and the bottom rows
    have ``term`` in ``n``, ``estimator``, ``se_type``, ``df`` and an empty
    ``statistic``. ``data`` holds the numbers behind it, one row per model
    and term.
    """

    frame: pd.DataFrame
    data: pd.DataFrame
    language: str = "en"
    caption: str | None = None

    def _display(self) -> pd.DataFrame:
        out = self.frame.copy()
        terms = [t if s in ("estimate", "") else "" for t, s in out.index]
        out.index = pd.Index(terms)
        return out

    def tidy(self) -> pd.DataFrame:
        """The numbers: one row per model and term (a copy of ``data``)."""
        return self.data.copy()

    def to_markdown(self) -> str:
        """A pipe table (GitHub-flavoured Markdown)."""
        shown = self._display()
        header = ["", *map(str, shown.columns)]
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join([":---"] + ["---:"] * len(shown.columns)) + "|"]
        for idx, row in shown.iterrows():
            cells = [str(idx), *(str(v) for v in row)]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        return "\n".join(lines)

    def to_html(self, *, classes: str = "effekt-table models") -> str:
        """An HTML ``<table>``; the bottom rows sit in their own ``<tbody>``."""
        shown = self._display()
        statistics = [s for _, s in self.frame.index]
        esc = html.escape
        parts = [f'<table class="{esc(classes)}">']
        if self.caption:
            parts.append(f"<caption>{esc(self.caption)}</caption>")
        parts.append("<thead><tr><th></th>" + "".join(f"<th>{esc(str(c))}</th>" for c in shown.columns) + "</tr></thead>")
        parts.append("<tbody>")
        in_bottom = False
        for (idx, row), stat in zip(shown.iterrows(), statistics):
            if stat == "" and not in_bottom:
                parts.append('</tbody><tbody class="goodness">')
                in_bottom = True
            cls = ' class="below"' if stat not in ("estimate", "") else ""
            cells = "".join(f"<td>{esc(str(v))}</td>" for v in row)
            parts.append(f"<tr{cls}><th>{esc(str(idx))}</th>{cells}</tr>")
        parts.append("</tbody></table>")
        return "".join(parts)

    def _repr_html_(self) -> str:
        return self.to_html()

    def __str__(self) -> str:
        return self._display().to_string()

    def __repr__(self) -> str:
        return f"ResultsTable({len(self.frame.columns)} models, {len(self.data)} estimates)"


def table(
    results: Sequence[Any] | Mapping[str, Any],
    *,
    names: Sequence[str] | None = None,
    digits: int = 3,
    language: str = "en",
    below: str = "se",
    terms: Sequence[str] | None = None,
    labels: Mapping[str, str] | None = None,
    caption: str | None = None,
) -> ResultsTable:
    """Estimates of several models side by side, as in R's modelsummary or fixest's etable.

    Parameters
    ----------
    results : sequence or mapping of EffectResult / EffectTable
        One column per result; a mapping's keys name the columns.
    names : sequence of str, optional
        Column names (default: the mapping's keys, else ``(1)``, ``(2)``, ...).
    digits : int, default=3
        Decimals of estimates, standard errors and intervals.
    language : {"en", "da"}, default="en"
        Decimal point or comma, labels of the bottom rows.
    below : {"se", "ci", "p", "none"}, default="se"
        What sits under each estimate: its standard error in parentheses,
        its confidence interval in brackets, its p-value, or nothing.
    terms : sequence of str, optional
        The terms to show, in this order (default: every term, in the
        order first met).
    labels : mapping term -> str, optional
        Names shown for the terms.
    caption : str, optional

    Returns
    -------
    ResultsTable
        ``.frame`` (the printed table), ``.data`` (the numbers),
        ``.to_html()``, ``.to_markdown()``, ``str()``.

    Raises
    ------
    DataError
        No results, names of the wrong length or repeated, an unknown
        ``below`` or ``language``, or a result that is not an estimate.

    Examples
    --------
    >>> from effekt.result import EffectResult
    >>> a = EffectResult.from_t(1.25, 0.5, df=98, estimator="difference_in_means", estimand="ate",
    ...                         term="z", n=100, se_type="HC2")
    >>> b = EffectResult.from_t(1.0, 0.4, df=95, estimator="lm_lin", estimand="ate", term="z",
    ...                         n=100, se_type="HC2")
    >>> print(table({"unadjusted": a, "adjusted": b}, digits=2))
                        unadjusted adjusted
    z                         1.25     1.00
                            (0.50)   (0.40)
    n                          100      100
    estimator  difference_in_means   lm_lin
    se_type                    HC2      HC2
    df                          98       95
    """
    check_language(language)
    if below not in _BELOW:
        raise DataError(f"below={below!r} is not one of {', '.join(map(repr, _BELOW))}.")
    if isinstance(results, Mapping):
        if names is not None:
            raise DataError("give the column names as the mapping's keys or as names=, not both.")
        names = [str(k) for k in results]
        models = list(results.values())
    else:
        models = list(results)
        names = [f"({i + 1})" for i in range(len(models))] if names is None else [str(n) for n in names]
    if not models:
        raise DataError("table() needs at least one result.")
    if len(names) != len(models):
        raise DataError(f"names has {len(names)} entries for {len(models)} results; give one name per result.")
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise DataError(f"the column name {dup!r} is used twice; give each model its own name.")

    records: list[dict[str, Any]] = []
    order: list[str] = []
    for name, res in zip(names, models):
        for row in _rows_of(res, name):
            term = str(row.term)
            if term not in order:
                order.append(term)
            low, high = row.conf_int
            records.append({"model": name, "term": term, "estimate": row.estimate, "std_error": row.std_error,
                            "conf_low": low, "conf_high": high, "conf_level": row.conf_level,
                            "p_value": row.p_value, "n": row.n, "estimator": row.estimator,
                            "se_type": row.se_type, "df": row.df})
    data = pd.DataFrame.from_records(records)
    if terms is not None:
        unknown = [t for t in terms if t not in order]
        if unknown:
            raise DataError(f"terms names {unknown[0]!r}, which no model estimates; the terms are {order}.")
        order = [str(t) for t in terms]

    stat_name = {"se": "std_error", "ci": "conf_int", "p": "p_value"}.get(below)
    index: list[tuple[str, str]] = []
    body: list[list[str]] = []
    lookup = {(r["model"], r["term"]): r for r in records}
    for term in order:
        shown = labels.get(term, term) if labels else term
        index.append((shown, "estimate"))
        body.append([format_number(lookup[(m, term)]["estimate"], digits, language) if (m, term) in lookup else ""
                     for m in names])
        if stat_name is None:
            continue
        cells = []
        for m in names:
            r = lookup.get((m, term))
            if r is None:
                cells.append("")
            elif below == "se":
                cells.append(f"({format_number(r['std_error'], digits, language)})")
            elif below == "ci":
                cells.append(format_ci(r["conf_low"], r["conf_high"], digits, language))
            else:
                cells.append(format_p(r["p_value"], language))
        index.append((shown, stat_name))
        body.append(cells)

    def per_model(fn: Any) -> list[str]:
        out = []
        for m, res in zip(names, models):
            first = next(r for r in records if r["model"] == m)
            out.append(fn(res, first))
        return out

    def df_text(res: Any, first: dict[str, Any]) -> str:
        df = first["df"]
        return MISSING if df is None else format_number(df, 0 if float(df).is_integer() else 1, language)

    bottom = [
        (label("n", language), per_model(lambda res, first: format_count(getattr(res, "n", first["n"]), language))),
        (label("estimator", language).lower() if language == "en" else label("estimator", language),
         per_model(lambda res, first: str(getattr(res, "estimator", first["estimator"])))),
        ("se_type" if language == "en" else label("se_type", language),
         per_model(lambda res, first: first["se_type"] or MISSING)),
        (label("df", language), per_model(df_text)),
    ]
    for key, cells in bottom:
        index.append((key, ""))
        body.append(cells)
    frame = pd.DataFrame(body, index=pd.MultiIndex.from_tuples(index, names=["term", "statistic"]), columns=names)
    return ResultsTable(frame=frame, data=data, language=language, caption=caption)
