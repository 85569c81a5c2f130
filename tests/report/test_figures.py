"""The figures a report publishes, checked by their structure rather than their pixels.

At-risk tables give the estimator's risk-set counts at the axis ticks, arrows
end on box edges, legends have one entry per level of each dimension and sit
clear of the data.
"""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.legend import Legend
from matplotlib.patches import Rectangle
from matplotlib.text import Annotation

import effekt as ef
from effekt.design.consort import ConsortFlow
from effekt.plotting import nice_ticks

from .conftest import trial


def _draw(fig):
    FigureCanvasAgg(fig)
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def _legends(ax):
    return [c for c in ax.get_children() if isinstance(c, Legend)]


def _points_under(ax, bbox) -> int:
    """How many plotted data points of ``ax`` fall inside the display-space box ``bbox``."""
    count = 0
    for line in ax.lines:
        xy = np.column_stack([np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)])
        if xy.size == 0:
            continue
        xy = xy[np.isfinite(xy).all(axis=1)]
        disp = ax.transData.transform(xy)
        inside = ((disp[:, 0] >= bbox.x0) & (disp[:, 0] <= bbox.x1) & (disp[:, 1] >= bbox.y0) & (disp[:, 1] <= bbox.y1))
        count += int(inside.sum())
    return count


def _assert_legends_clear(fig, ax):
    renderer = _draw(fig)
    legends = _legends(ax)
    assert legends
    for legend in legends:
        assert _points_under(ax, legend.get_window_extent(renderer)) == 0


@pytest.fixture(scope="module")
def df():
    return trial()


@pytest.fixture(scope="module")
def km(df):
    return ef.estimate("kaplan_meier", data=df, time="weeks", event="left", treatment="arm",
                       arms=("usual", "course"), horizon=26)


@pytest.fixture(scope="module")
def aj(df):
    return ef.estimate("aalen_johansen", data=df, time="weeks", event="exit", treatment="arm",
                       arms=("usual", "course"), horizon=26, cause="job", censored="censored")


# ---------------------------------------------------------------- Kaplan-Meier

def _table_numbers(tab, y):
    return [int(t.get_text()) for t in sorted(tab.texts, key=lambda t: t.get_position()[0])
            if t.get_position()[1] == y]


def test_km_at_risk_table_counts_the_risk_set_at_every_tick(df, km):
    fig = km.plot()
    ax, tab = fig.axes
    ticks = list(ax.get_xticks())
    assert ticks == list(km.extra["risk_times"])
    end = df["weeks"].max()
    assert ticks[0] == 0 and ticks[-1] <= end < ticks[-1] + (ticks[1] - ticks[0])  # up to the end of follow-up
    for arm, y in (("usual", 1), ("course", 0)):
        t = df.loc[df["arm"] == arm, "weeks"].to_numpy()
        assert _table_numbers(tab, y) == [int((t >= tick).sum()) for tick in ticks]
    assert [t.get_text() for t in tab.get_yticklabels()] == ["course", "usual"]
    assert ax.get_xlim()[1] >= end


def test_km_marks_every_censoring_time(df, km):
    fig = km.plot()
    ax = fig.axes[0]
    marks = [line for line in ax.lines if line.get_marker() == "|"]
    assert len(marks) == 2
    got = sorted(len(m.get_xdata()) for m in marks)
    want = sorted(df.loc[(df["arm"] == a) & (df["left"] == 0), "weeks"].nunique() for a in ("usual", "course"))
    assert got == want
    # the marks sit on their curve: S(t) at each censoring time
    curve = km.extra["curves"]["control"]
    mark = next(m for m in marks if m.get_color() == ax.lines[0].get_color())
    times = np.asarray(curve["time"])
    idx = np.searchsorted(times, np.asarray(mark.get_xdata()), side="right") - 1
    want_s = np.where(idx >= 0, np.asarray(curve["survival"])[np.maximum(idx, 0)], 1.0)
    np.testing.assert_allclose(mark.get_ydata(), want_s)


def test_km_legend_names_the_arms_and_covers_no_data(km):
    fig = km.plot(labels={"course": "Resource course"})
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["usual", "Resource course"]
    _assert_legends_clear(fig, ax)


def test_nice_ticks_stop_at_the_end():
    assert nice_ticks(38.6) == [0.0, 10.0, 20.0, 30.0]
    assert nice_ticks(52) == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0]
    assert nice_ticks(0.0) == [0.0]
    assert nice_ticks(23.0) == [0.0, 5.0, 10.0, 15.0, 20.0]
    assert nice_ticks(3.1) == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0]


# ---------------------------------------------------------------- cumulative incidence

def test_cumulative_incidence_bands_causes_and_axis(aj):
    fig = aj.plot()
    ax, tab = fig.axes
    causes = aj.extra["causes"]
    assert len(ax.collections) == 2  # the analysed cause's band in each arm
    assert len(aj.plot(bands="all").axes[0].collections) == 2 * len(causes)
    assert len(aj.plot(bands=False).axes[0].collections) == 0
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [*causes, "usual", "course"]  # one entry per cause (colour) and per arm (line style)
    top = max(max(arm["job"]["upper"]) for arm in aj.extra["curves"].values())
    top = max(top, *(max(c["cif"]) for arm in aj.extra["curves"].values() for c in arm.values()))
    assert top <= ax.get_ylim()[1] <= max(1.1 * top, 0.05)
    for row in aj.extra["at_risk"]:
        y = 1 if row["arm"] == "control" else 0
        assert _table_numbers(tab, y) == [row[f"{t:g}"] for t in aj.extra["risk_times"]]
    _assert_legends_clear(fig, ax)


# ---------------------------------------------------------------- CONSORT

def _boxes(ax):
    return {p.get_gid()[4:]: p for p in ax.patches if isinstance(p, Rectangle) and (p.get_gid() or "").startswith("box:")}


def _on_edge(point, rect, tol=1e-9) -> bool:
    x, y = point
    x0, y0 = rect.get_x(), rect.get_y()
    x1, y1 = x0 + rect.get_width(), y0 + rect.get_height()
    on_h = x0 - tol <= x <= x1 + tol and (abs(y - y0) < tol or abs(y - y1) < tol)
    on_v = y0 - tol <= y <= y1 + tol and (abs(x - x0) < tol or abs(x - x1) < tol)
    return on_h or on_v


FLOWS = {
    "assessed": ConsortFlow(assessed=300, excluded={"declined": 50, "not eligible": 27},
                            allocated={"course": 112, "usual": 111}, received={"course": 100, "usual": 111},
                            not_received={"course": {"swapped batch": 12}}, lost={"usual": {"moved away": 7}},
                            excluded_from_analysis={"usual": {"died": 1}}),
    "randomised only": ConsortFlow(randomised=223, excluded_after={"not in the target group": 4},
                                   allocated={"intervention": 109, "control": 109},
                                   lost={"intervention": {"moved away": 2}, "control": {"moved away": 7}}),
    "three arms": ConsortFlow(randomised=90, allocated={"a": 30, "b": 30, "c": 30}),
}


@pytest.mark.parametrize("which", list(FLOWS))
def test_consort_arrows_meet_their_boxes(which):
    fig = FLOWS[which].plot()
    ax = fig.axes[0]
    boxes = _boxes(ax)
    split = next(line for line in ax.lines if line.get_gid() == "line:split")
    split_y = split.get_ydata()[0]
    arrows = [a for a in ax.texts if isinstance(a, Annotation)]
    assert arrows
    for a in arrows:
        head, tail = a.xy, a.xyann
        assert any(_on_edge(head, b) for b in boxes.values()), a.get_gid()
        on_split = abs(tail[1] - split_y) < 1e-9 and min(split.get_xdata()) <= tail[0] <= max(split.get_xdata())
        on_main_line = a.get_gid() in ("arrow:excluded", "arrow:excluded_after")
        assert any(_on_edge(tail, b) for b in boxes.values()) or on_split or on_main_line, a.get_gid()
    # a side arrow leaves the vertical main line between its two boxes
    for a in arrows:
        if a.get_gid() in ("arrow:excluded", "arrow:excluded_after"):
            side = boxes[a.get_gid()[6:]]
            assert a.xy == (side.get_x(), side.get_y() + side.get_height() / 2)
            assert a.xyann[0] == boxes["randomised"].get_x() + boxes["randomised"].get_width() / 2


@pytest.mark.parametrize("which", list(FLOWS))
def test_consort_boxes_hold_their_text_and_do_not_overlap(which):
    fig = FLOWS[which].plot()
    renderer = _draw(fig)
    ax = fig.axes[0]
    boxes = _boxes(ax)
    texts = {t.get_gid()[5:]: t for t in ax.texts if (t.get_gid() or "").startswith("text:")}
    assert set(texts) == set(boxes)
    for key, box in boxes.items():
        inner = texts[key].get_window_extent(renderer)
        outer = box.get_window_extent(renderer)
        assert outer.x0 <= inner.x0 and inner.x1 <= outer.x1 and outer.y0 <= inner.y0 and inner.y1 <= outer.y1, key
    rects = list(boxes.values())
    for i, a in enumerate(rects):
        for b in rects[i + 1:]:
            assert not a.get_window_extent(renderer).overlaps(b.get_window_extent(renderer))


def test_consort_without_assessed_has_no_empty_top():
    fig = FLOWS["randomised only"].plot()
    ax = fig.axes[0]
    top = _boxes(ax)["randomised"]
    height = ax.get_ylim()[1]
    assert height - (top.get_y() + top.get_height()) < 0.5  # inches of white above the first box
    assert "assessed" not in _boxes(ax)


def test_consort_in_danish():
    fig = FLOWS["assessed"].plot(language="da")
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "Vurderet for egnethed (n=300)" in texts and "Randomiseret (n=223)" in texts
    assert "Analyseret" in texts and "Tildeling" in texts
    with pytest.raises(ef.DataError, match="language='de'"):
        FLOWS["assessed"].plot(language="de")


# ---------------------------------------------------------------- power grid

def test_power_grid_has_one_legend_per_dimension():
    res = ef.power("two_means", d=np.array([0.2, 0.3, 0.5])[:, None], power=np.array([0.7, 0.8, 0.9, 0.95])[None, :])
    fig = res.plot()
    ax = fig.axes[0]
    legends = _legends(ax)
    assert [len(lg.get_texts()) for lg in legends] == [3, 4]
    assert [lg.get_title().get_text() for lg in legends] == ["d", "power"]
    curves = [line for line in ax.lines if line.get_marker() != "o" and line.get_color() != "grey"]
    assert len(curves) == 12
    assert len({c.get_color() for c in curves}) == 3 and len({c.get_linestyle() for c in curves}) == 4
    _assert_legends_clear(fig, ax)


# ---------------------------------------------------------------- one forest style

def test_one_forest_style(df):
    cox = ef.estimate("cox", data=df, time="weeks", event="left", treatment="z")
    het = ef.estimate("heterogeneity", data=df, outcome="earnings", treatment="z", moderators=["sex"])
    for fig in (cox.plot(), het.plot()):
        ax = fig.axes[0]
        dots = [line for line in ax.lines if line.get_marker() == "o"]
        assert dots and {d.get_markersize() for d in dots} == {5}
        assert any("[" in t.get_text() for t in ax.texts)  # the numbers beside the rows
        assert not ax.spines["left"].get_visible()


def test_event_study_legend_is_clear_of_the_coefficients():
    from effekt_did.event_study import EventStudy

    syn = EventStudy.simulate(np.random.default_rng(3), n=200, effect=1.0)
    res = ef.estimate("event_study", data=syn.data, **syn.spec)
    fig = res.plot()
    _assert_legends_clear(fig, fig.axes[0])


def test_danish_figures_have_danish_words_and_decimal_commas(km):
    from effekt.plotting import decimal_comma

    fig = km.plot(language="da")
    ax, tab = fig.axes
    assert ax.get_ylabel() == "andel uden hændelsen" and tab.get_xlabel() == "tid"
    assert tab.get_title(loc="left") == "antal i risiko"
    decimal_comma(fig)
    _draw(fig)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert "0,2" in labels and not any("." in t for t in labels)
    assert [t.get_text() for t in tab.get_yticklabels()] == ["course", "usual"]  # text labels untouched
