"""Check a matplotlib figure as drawn: every bin, bar, box, point, line, wedge and cell read from its artists.

Facts the artists do not hold (a histogram's data range, the statistics behind a box plot, the values behind a
pie) come from what `cbs_export_lab.hooks` recorded when they were drawn. Each kind of artist has one handler in
`ARTISTS` or `CONTAINERS`, so a new kind of artist is a new handler; whatever no handler knows, and whatever is
still unknown, is `review`, never `pass`. Imported only when a figure is checked, so it imports what it needs.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PathCollection, PolyCollection, QuadMesh
from matplotlib.container import BarContainer, ErrorbarContainer, StemContainer
from matplotlib.figure import Figure, FigureBase
from matplotlib.image import AxesImage
from matplotlib.lines import Line2D
from matplotlib.patches import Polygon, Rectangle, Shadow, Wedge
from matplotlib.text import Text

from ..errors import UserError
from ..hooks import (
    BOX_ATTR,
    HIST2D_ATTR,
    HIST_ATTR,
    PIE_ATTR,
    BoxRecord,
    Hist2DRecord,
    HistRecord,
    PieRecord,
    install_hooks,
)
from ..results import CheckResult, Counts, Finding
from ..rules import Rules

_LISTED = 5
Label = Callable[[int], str]
SAFE_HIST = "use cbs_export_lab.figures.safe_hist(ax, x), or merge the outer bins"


# --- recognising a figure -----------------------------------------------------------------------------------

def as_figure(obj: Any) -> Figure | None:
    """The root Figure of a Figure, SubFigure, Axes, or array/list of Axes (from plt.subplots); else None."""
    if isinstance(obj, FigureBase):
        return _root(obj)
    if isinstance(obj, Axes):
        return _root(obj.get_figure())
    if (type(obj).__module__ or "").startswith("seaborn") and isinstance(getattr(obj, "figure", None), FigureBase):
        return _root(obj.figure)
    if type(obj).__name__ == "ndarray" or isinstance(obj, (list, tuple)):
        items = list(obj.flat) if hasattr(obj, "flat") else list(obj)
        if items and all(isinstance(ax, Axes) for ax in items):
            roots = {id(root): root for root in (_root(ax.get_figure()) for ax in items)}
            if len(roots) == 1:
                return next(iter(roots.values()))
    return None


def _root(fig: Any) -> Figure:
    try:
        return fig.get_figure(root=True)
    except TypeError:
        return getattr(fig, "figure", fig)


# --- checking -----------------------------------------------------------------------------------------------

def check_figure(obj: Any, *, unit: Any = None, rules: Rules) -> CheckResult:
    """Every disclosure risk the figure shows, read from its artists (DESIGN section 3).

    The artists hold rows, not units: a `unit=` cannot be honoured, so it makes the figure `review`, never a
    silent pass on rows that may be person-years."""
    install_hooks()
    fig = as_figure(obj)
    if fig is None:
        raise UserError(
            f"A {type(obj).__name__} is not a matplotlib figure. Pass the Figure or Axes you drew, "
            "e.g. fig from fig, ax = plt.subplots()."
        )
    reader = _FigureReader(rules)
    reader.read(fig)
    if unit is not None:
        reader.units_not_counted(unit)
    source = "the drawn figure" + (" and the data given to its plotting calls" if reader.recorded else "")
    return CheckResult(
        kind="figure", findings=reader.findings, counts=Counts(figures=1, observations=reader.observations),
        source=source, rules_origin=rules.origin, details={"subplots": reader.subplots},
    )


class _FigureReader:
    """Walks a figure's subplots and artists, collecting findings and the observations the figure states.

    The handlers below call its judging methods (`values`, `small`, `unknown`, ...), so every kind of artist
    is judged by the same rules and words."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.findings: list[Finding] = []
        self.drawn: list[int] = []
        self.stated: list[tuple[int, str]] = []
        self.recorded = False
        self.subplots = 0
        self.data_artists = 0

    @property
    def observations(self) -> int | None:
        if self.stated:
            return max(n for n, _ in self.stated)
        return max(self.drawn) if self.drawn else None

    def add(self, rule: str, severity: str, message: str, where: str, fix: str) -> None:
        self.findings.append(Finding(rule=rule, severity=severity, message=message, where=where, fix=fix))

    # walking the figure

    def read(self, fig: Figure) -> None:
        axes = [ax for ax in fig.axes if not hasattr(ax, "_colorbar")]
        self.subplots = len(axes)
        for i, ax in enumerate(axes, 1):
            place = _place(ax, i, len(axes))
            self._read_axes(ax, place)
            self._read_texts(_axes_texts(ax, place))
            for j, inset in enumerate(getattr(ax, "child_axes", []), 1):
                if isinstance(inset, Axes):
                    self._read_axes(inset, f"inset {j} of {place}")
                    self._read_texts(_axes_texts(inset, f"inset {j} of {place}"))
        self._read_figure_level(fig)
        self._judge_observations()

    def _read_axes(self, ax: Axes, place: str) -> None:
        handled: set[int] = set()
        for container in ax.containers:
            handled |= _read_container(self, ax, container, place)
        recorded = _Recorded()
        for artist in ax.get_children():
            if id(artist) in handled or _structural(ax, artist) or not artist.get_visible():
                continue
            if not recorded.collect(artist):
                _read_artist(self, ax, artist, place)
        recorded.read(self, place)

    def _read_figure_level(self, fig: Any) -> None:
        texts: list[tuple[str, str]] = []
        stack = [fig]
        while stack:
            current = stack.pop()
            stack.extend(getattr(current, "subfigs", []))
            texts += [(t.get_text(), "a text of the figure") for t in current.texts if t.get_visible()]
            for legend in current.legends:
                texts += _legend_texts(legend, "the figure legend")
            for artist in [*current.patches, *current.lines, *current.images, *current.artists]:
                if artist.get_visible():
                    self.unknown(artist, "the figure itself")
        self._read_texts(texts)

    def _read_texts(self, texts: list[tuple[str, str]]) -> None:
        for text, where in texts:
            for n in _stated_observations(text):
                self.stated.append((n, where))

    def _judge_observations(self) -> None:
        if not self.data_artists:
            self.add(
                "unsupported", self.rules.unsupported, "The figure shows no data that can be checked.",
                "the whole figure", "Check that this is the figure you meant to export.",
            )
        if not self.stated:
            self.add(
                "observations_not_shown", self.rules.observations_not_shown,
                "The figure does not state its number of observations; CBS needs it on every graph.",
                "the whole figure",
                "Add it to the title, an axis label, the legend or a text, e.g. ax.set_title('Inkomen (N = 4,950)').",
            )
        for n, where in self.stated:
            if n == 0:
                self.add("zero", self.rules.zero, "The figure states 0 observations.", where,
                         "Leave out a graph without observations, or explain why it is shown.")
            elif n < self.rules.threshold:
                self.add(
                    "threshold", "fail",
                    f"The figure states {n} observations; a graph needs at least {self.rules.threshold}.",
                    where, f"Draw the graph for a larger group (at least {self.rules.threshold} observations).",
                )

    # judging what is drawn

    def units_not_counted(self, unit: Any) -> None:
        name = f"distinct {unit}" if isinstance(unit, str) else "distinct units"
        self.add(
            "unknown_counts", self.rules.unknown_counts,
            f"unit= was given, but a figure is checked on what it draws: every bin, bar, box or cell counts the "
            f"values given to the plotting call, not {name}. With several rows per unit (a panel), a bin of "
            f"{self.rules.threshold} rows can hold fewer than {self.rules.threshold} units.",
            "the whole figure",
            "Draw the figure from one row per unit, or check the table behind it with unit= and say in the "
            "explanation how many units each bin or bar holds.",
        )

    def unknown(self, artist: Any, place: str) -> None:
        self.data_artists += 1
        self.add(
            "unsupported", self.rules.unsupported,
            f"{place[0].upper()}{place[1:]} contains a {type(artist).__name__} that cannot be checked.",
            f"the {type(artist).__name__} in {place}",
            "Leave it out, or explain in the explanation what it shows and why it has no disclosure risk.",
        )

    def reference(self, what: str) -> None:
        self.unknown_counts(
            f"{what[0].upper()}{what[1:]} marks a value whose counts are unknown (a mean, a percentile?).",
            what, "Say in the explanation what the line or band shows and how many observations are behind it.",
        )

    def unknown_counts(self, message: str, where: str, fix: str) -> None:
        self.data_artists += 1
        self.add("unknown_counts", self.rules.unknown_counts, message, where, fix)

    def scatter(self, points: int, where: str) -> None:
        self.data_artists += 1
        self.drawn.append(points)
        self.add(
            "microdata", "fail",
            f"{where[0].upper()}{where[1:]} shows {points:,} separate points; each raw point is one unit's values.",
            where,
            "Show aggregates instead: a 2D histogram or hexbin with at least "
            f"{self.rules.threshold} observations per cell, or binned means as a line.",
        )

    def values(self, values: np.ndarray, label: Label, what: str, place: str, unit: str,
               zeros: bool = True) -> None:
        """Drawn values read like table cells: counts (whole numbers) are judged, other numbers are unknown.

        `label(i)` names value i for messages; it is asked only for the values a finding lists."""
        self.data_artists += 1
        shown = np.flatnonzero(np.isfinite(values))
        if not shown.size:
            return
        where = f"the {what} in {place}"
        if not _is_count(values[shown]):
            self.add(
                "unknown_counts", self.rules.unknown_counts,
                f"The {shown.size} values of {where} are not counts, so the number of units behind each is unknown.",
                where,
                "State the number of observations behind each value (at least "
                f"{self.rules.threshold}), or explain in the explanation why they are safe.",
            )
            return
        self.drawn.append(int(values[shown].sum()))
        self.small(values, shown, label, what, place, unit, zeros)

    def small(self, counts: np.ndarray, shown: np.ndarray, label: Label, what: str, place: str, unit: str,
              zeros: bool, fix: str | None = None) -> None:
        t = self.rules.threshold
        drawn = counts[shown]
        small = shown[(drawn > 0) & (drawn < t)]
        if small.size:
            names = [f"{unit} {label(i)}" for i in small[: _LISTED + 1]]
            first = f"{names[0]} of the {what} in {place} has {_observations(counts[small[0]])}"
            more = small.size - 1
            message = first + (f", and {more} more {unit}{'s have' if more > 1 else ' has'} fewer than {t} "
                               f"({_listing(names[1:], more, counts[small[1:]])})" if more else "")
            self.add(
                "threshold", "fail", f"{message[0].upper()}{message[1:]}; each {unit} needs at least {t}.",
                f"{_listing(names, small.size)} of the {what} in {place}",
                fix or f"Merge each small {unit} with a neighbouring one (or into an 'other' group) or leave it out, "
                       f"so every {unit} has at least {t} observations.",
            )
        empty = shown[drawn == 0]
        if zeros and empty.size:
            names = _listing([f"{unit} {label(i)}" for i in empty[:_LISTED]], empty.size)
            self.add(
                "zero", self.rules.zero,
                f"{names[0].upper()}{names[1:]} of the {what} in {place} "
                f"{'is' if empty.size == 1 else 'are'} empty (0).",
                f"{names} of the {what} in {place}",
                "Check that an empty category does not reveal something about a group; merge or leave it out.",
            )


# --- the artists of one subplot, one handler per kind -------------------------------------------------------

ArtistHandler = Callable[[_FigureReader, Axes, Any, str], None]
ContainerHandler = Callable[[_FigureReader, Axes, Any, str], set[int]]


def _read_artist(reader: _FigureReader, ax: Axes, artist: Any, place: str) -> None:
    """The first handler in `ARTISTS` whose type matches reads the artist; an artist no handler knows is review."""
    for types, handler in ARTISTS:
        if isinstance(artist, types):
            return handler(reader, ax, artist, place)
    reader.unknown(artist, place)


def _read_container(reader: _FigureReader, ax: Axes, container: Any, place: str) -> set[int]:
    """The artists a container's handler read (so they are not read again one by one); none if no handler."""
    for types, handler in CONTAINERS:
        if isinstance(container, types):
            return handler(reader, ax, container, place)
    return set()


def _ignore(reader: _FigureReader, ax: Axes, artist: Any, place: str) -> None:
    """Texts are read for stated observations elsewhere; shadows repeat the wedges they belong to."""


def _line(reader: _FigureReader, ax: Axes, line: Any, place: str) -> None:
    x = np.asarray(line.get_xdata(orig=False), dtype=float)
    y = np.asarray(line.get_ydata(orig=False), dtype=float)
    if not y.size:
        return
    if _off_data(ax, line):
        if not (np.all(y == 0) or np.all(x == 0)):
            reader.reference(f"the reference line in {place}")
        return
    if line.get_linestyle() in ("None", "", " ", "none") and line.get_marker() not in (None, "None", "", " "):
        return reader.scatter(len(y), f"the points drawn with plot() in {place}")
    what = _named("line", 1, 1, line)
    xs = x[np.isfinite(x)]
    distinct = np.unique(xs).size
    if distinct < xs.size:
        return reader.unknown_counts(
            f"The {what} in {place} has {xs.size:,} points at only {distinct:,} distinct x values, so it is not "
            "one summary value per x: it may join unit records (raw data drawn as a line, or a cumulative "
            "distribution of single values).",
            f"the {what} in {place}",
            f"Draw one aggregated value per x (counts, or means of at least {reader.rules.threshold} "
            "observations), or explain in the explanation what the line shows and how many observations are "
            "behind each point.",
        )
    reader.values(y, _x_labels(ax, x), what, place, "point")


def _scatter(reader: _FigureReader, ax: Axes, artist: Any, place: str) -> None:
    if len(artist.get_offsets()):
        reader.scatter(len(artist.get_offsets()), f"the scatter plot in {place}")


def _cells(reader: _FigureReader, ax: Axes, artist: Any, place: str) -> None:
    """Each cell of a heatmap, image or 2D histogram read as a table cell; hidden (masked) cells left out."""
    values = np.ma.masked_invalid(np.ma.asarray(artist.get_array(), dtype=float))
    if values.ndim != 2:
        return reader.unknown(artist, place)
    record = getattr(artist, HIST2D_ATTR, None)
    shown = ~np.ma.getmaskarray(values)
    if record is not None:
        reader.recorded = True
        what = "2D histogram"
        counts = np.asarray(record.counts, dtype=float).T
        _hist2d_edges(reader, record, what, place)
    else:
        what = "image" if type(artist).__name__ == "AxesImage" else "heatmap"
        counts = np.ma.getdata(values)
    rows, cols = np.nonzero(shown)
    reader.values(counts[rows, cols], _cell_labels(ax, artist, rows, cols), what, place, "cell")


def _hist2d_edges(reader: _FigureReader, record: Hist2DRecord, what: str, place: str) -> None:
    hits = []
    for axis, edges, (low, high) in (("x", record.xedges, record.x_range), ("y", record.yedges, record.y_range)):
        span = high - low
        hits += [f"{side} of {axis}" for side, hit in (
            ("minimum", _at(edges[0], low, span)), ("maximum", _at(edges[-1], high, span))) if hit]
    if hits:
        reader.add(
            "min_max", reader.rules.min_max,
            f"The {what} in {place} has outer edges at the data's {', '.join(hits)}, so the figure shows them.",
            f"the outer cells of the {what} in {place}",
            "Give a range inside the data, e.g. ax.hist2d(x, y, range=[(x_lo, x_hi), (y_lo, y_hi)]) with inner "
            "percentiles, and cmin=10 to hide small cells.",
        )


def _polygons(reader: _FigureReader, ax: Axes, artist: Any, place: str) -> None:
    """A PolyCollection with a value per polygon is a hexbin; otherwise it is a filled area."""
    if artist.get_array() is not None and len(artist.get_offsets()) > 1:
        return _hexbin(reader, ax, artist, place)
    _filled_area(reader, ax, artist, place)


def _hexbin(reader: _FigureReader, ax: Axes, artist: Any, place: str) -> None:
    values = np.asarray(artist.get_array(), dtype=float).ravel()
    reader.values(values, _numbered, "hexbin plot", place, "hexagon")
    reader.add(
        "min_max", "review",
        f"The hexagon grid of the hexbin plot in {place} may be laid out from the data's minimum and maximum.",
        f"the outer hexagons of the hexbin plot in {place}",
        "Give extent= inside the data (inner percentiles) and mincnt=10, or use ax.hist2d with a range.",
    )


def _filled_area(reader: _FigureReader, ax: Axes, artist: Any, place: str) -> None:
    reader.unknown_counts(
        f"A filled area in {place} (a band, density or violin) shows values whose counts are unknown.",
        f"the filled area in {place}",
        "Explain what the area shows and how many observations are behind it, or leave it out.",
    )


def _unrecorded_wedge(reader: _FigureReader, ax: Axes, artist: Any, place: str) -> None:
    reader.unknown_counts(
        f"The pie chart in {place} was not drawn with Axes.pie, so the counts behind its wedges are unknown.",
        f"the pie chart in {place}", "Draw it with ax.pie(counts) from a table of counts.",
    )


def _rectangle(reader: _FigureReader, ax: Axes, artist: Any, place: str) -> None:
    """A rectangle in axes coordinates is a shaded band (axvspan); bars come in their container."""
    if _off_data(ax, artist):
        return reader.reference(f"the shaded band in {place}")
    reader.unknown(artist, place)


def _line_collection(reader: _FigureReader, ax: Axes, artist: Any, place: str) -> None:
    if len(artist.get_segments()):
        reader.unknown(artist, place)


ARTISTS: list[tuple[type | tuple[type, ...], ArtistHandler]] = [
    ((Text, Shadow), _ignore),
    (Line2D, _line),
    (PathCollection, _scatter),
    ((QuadMesh, AxesImage), _cells),
    (PolyCollection, _polygons),
    (Polygon, _filled_area),
    (Wedge, _unrecorded_wedge),
    (Rectangle, _rectangle),
    (LineCollection, _line_collection),
]


def _bar_container(reader: _FigureReader, ax: Axes, container: Any, place: str) -> set[int]:
    """Bars, or a histogram drawn without Axes.hist when they touch; a recorded histogram is read elsewhere."""
    if hasattr(container, HIST_ATTR):
        return set()
    _bars(reader, ax, container, place)
    return {id(patch) for patch in container.patches}


def _bars(reader: _FigureReader, ax: Axes, container: Any, place: str) -> None:
    patches = [p for p in container.patches if p.get_visible()]
    if not patches:
        return
    vertical = getattr(container, "orientation", "vertical") != "horizontal"
    heights = np.array([p.get_height() if vertical else p.get_width() for p in patches], dtype=float)
    starts = np.array([p.get_x() if vertical else p.get_y() for p in patches], dtype=float)
    widths = np.array([p.get_width() if vertical else p.get_height() for p in patches], dtype=float)
    names = _TickNames(ax.xaxis if vertical else ax.yaxis)
    label = container.get_label()
    contiguous = len(patches) > 1 and np.allclose(starts[:-1] + widths[:-1], starts[1:], rtol=0,
                                                  atol=1e-9 * max(1.0, float(np.abs(widths).max())))
    if contiguous:
        what = "histogram" + (f" '{label}'" if label and not label.startswith("_") else "")
        reader.values(heights, _numbered, what, place, "bin", zeros=False)
        reader.add(
            "min_max", "review",
            f"The {what} in {place} was not drawn with Axes.hist, so it is unknown whether its outer edges are "
            "the data's minimum and maximum.",
            f"the outer bins of the {what} in {place}",
            f"Draw it with ax.hist(x, range=(lo, hi)) inside the data, or {SAFE_HIST}.",
        )
    else:
        what = "bar chart" + (f" '{label}'" if label and not label.startswith("_") else "")
        reader.values(heights, lambda i: f"'{names(starts[i] + widths[i] / 2) or i + 1}'", what, place, "bar")


def _errorbars(reader: _FigureReader, ax: Axes, container: Any, place: str) -> set[int]:
    reader.unknown_counts(
        f"The error bars in {place} show estimates and their uncertainty; the counts behind them are unknown.",
        f"the error bars in {place}",
        "State the number of observations behind each point, or explain in the explanation why they are safe.",
    )
    return {id(a) for a in _flatten(container)}


def _stems(reader: _FigureReader, ax: Axes, container: Any, place: str) -> set[int]:
    values = np.asarray(container.markerline.get_ydata(orig=False), dtype=float)
    x = np.asarray(container.markerline.get_xdata(orig=False), dtype=float)
    reader.values(values, _x_labels(ax, x), "stem plot", place, "stem")
    return {id(a) for a in _flatten(container)}


CONTAINERS: list[tuple[type | tuple[type, ...], ContainerHandler]] = [
    (BarContainer, _bar_container),
    (ErrorbarContainer, _errorbars),
    (StemContainer, _stems),
]


# --- the artists whose plotting call was recorded -----------------------------------------------------------

class _Recorded:
    """The artists of one subplot that `hooks` marked, grouped per plotting call: one histogram data set, one
    box plot or one pie is judged once, however many artists it drew."""

    def __init__(self) -> None:
        self.hists: dict[int, tuple[HistRecord, Any]] = {}
        self.boxes: dict[int, tuple[BoxRecord, dict[int, set[str]], Any]] = {}
        self.pies: dict[int, tuple[PieRecord, list[int]]] = {}

    def collect(self, artist: Any) -> bool:
        """Keep the artist with its call if a call was recorded on it; False if it must be read on its own."""
        hist = getattr(artist, HIST_ATTR, None)
        box = getattr(artist, BOX_ATTR, None)
        pie = getattr(artist, PIE_ATTR, None)
        if hist is not None:
            self.hists.setdefault(id(hist), (hist, artist))
        elif box is not None:
            record, number, part = box
            parts = self.boxes.setdefault(id(record), (record, {}, artist))[1]
            parts.setdefault(number, set()).add(part if _has_points(artist) else "")
        elif pie is not None:
            record, number = pie
            self.pies.setdefault(id(record), (record, []))[1].append(number)
        else:
            return False
        return True

    def read(self, reader: _FigureReader, place: str) -> None:
        for number, (record, artist) in enumerate(self.hists.values(), 1):
            _hist(reader, record, _named("histogram", number, len(self.hists), artist), place)
        for number, (record, parts, artist) in enumerate(self.boxes.values(), 1):
            _boxes(reader, record, parts, _named("box plot", number, len(self.boxes), artist), place)
        for number, (record, wedges) in enumerate(self.pies.values(), 1):
            _pie(reader, record, sorted(wedges), _named("pie chart", number, len(self.pies), None), place)


def _hist(reader: _FigureReader, record: HistRecord, what: str, place: str) -> None:
    reader.data_artists += 1
    reader.recorded = True
    counts = record.counts
    reader.drawn.append(int(counts.sum()))
    reader.small(counts, np.arange(len(counts)), _numbered, what, place, "bin", zeros=False,
                 fix=f"Use wider bins, {SAFE_HIST}.")
    edges = record.edges
    span = record.data_max - record.data_min
    sides = [name for name, hit in (
        ("minimum", _at(edges[0], record.data_min, span)), ("maximum", _at(edges[-1], record.data_max, span)),
    ) if hit]
    if sides:
        reader.add(
            "min_max", reader.rules.min_max,
            f"The {what} in {place} has {'an outer edge' if len(sides) == 1 else 'its outer edges'} at the "
            f"data's {' and '.join(sides)}, so the figure reveals {'it' if len(sides) == 1 else 'them'}.",
            f"the outer bins of the {what} in {place}",
            "Give a range inside the data, e.g. ax.hist(x, range=(lo, hi)) with the 1st and 99th percentiles, "
            f"or {SAFE_HIST}.",
        )


def _boxes(reader: _FigureReader, record: BoxRecord, parts: dict[int, set[str]], what: str, place: str) -> None:
    reader.data_artists += 1
    reader.recorded = True
    extremes, fliers = [], []
    for number, drawn in sorted(parts.items()):
        if "whiskers" in drawn and (record.low_at_min[number] or record.high_at_max[number]):
            extremes.append(f"box {number + 1}")
        if "fliers" in drawn:
            fliers.append(f"box {number + 1}")
    fix = "Use cbs_export_lab.figures.safe_boxplot(ax, data): whiskers at percentiles and no outlier points."
    _box_sizes(reader, record, sorted(parts), what, place)
    if extremes:
        reader.add(
            "min_max", reader.rules.min_max,
            f"The whiskers of {_listing(extremes)} of the {what} in {place} end at the data's minimum or maximum.",
            f"the whiskers of {_listing(extremes)} of the {what} in {place}",
            f"Draw whiskers at percentiles, e.g. ax.boxplot(x, whis=(5, 95), showfliers=False). {fix}",
        )
    if fliers:
        reader.add(
            "min_max", reader.rules.min_max,
            f"Outlier points are drawn for {_listing(fliers)} of the {what} in {place}: single units' values, "
            "including the minimum and maximum.",
            f"the outlier points of {_listing(fliers)} of the {what} in {place}",
            f"Leave the outliers out with showfliers=False. {fix}",
        )


def _box_sizes(reader: _FigureReader, record: BoxRecord, boxes: list[int], what: str, place: str) -> None:
    if not record.sizes:
        reader.add(
            "unknown_counts", reader.rules.unknown_counts,
            f"The number of observations behind each box of the {what} in {place} is unknown; a box of few "
            "observations shows their values.",
            f"the boxes of the {what} in {place}",
            "Draw it with ax.boxplot or cbs_export_lab.figures.safe_boxplot, which know the size of each box, "
            "or state n per box and explain in the explanation.",
        )
        return
    sizes = np.array([record.sizes[box] for box in boxes])
    reader.drawn.append(int(sizes.sum()))
    fix = f"Draw boxes only for groups of at least {reader.rules.threshold} observations; merge small groups."
    reader.small(sizes, np.arange(len(boxes)), lambda i: str(boxes[i] + 1), what, place, "box", zeros=False, fix=fix)


def _pie(reader: _FigureReader, record: PieRecord, wedges: list[int], what: str, place: str) -> None:
    reader.recorded = True
    values = np.asarray(record.values, dtype=float)[wedges]
    reader.values(values, lambda i: str(wedges[i] + 1), what, place, "wedge")


# --- helpers: names, labels and texts -----------------------------------------------------------------------

def _place(ax: Axes, number: int, total: int) -> str:
    title = next((t for t in (ax.get_title(loc) for loc in ("center", "left", "right")) if t), "")
    name = f"subplot {number}" if total > 1 else "the plot"
    return f"{name} (title '{title}')" if title else name


def _is_count(values: np.ndarray) -> bool:
    whole = np.allclose(values, np.round(values), rtol=0, atol=1e-9)
    return bool(values.size) and bool(np.all(values >= 0)) and bool(whole)


def _listing(labels: list[str], total: int | None = None, counts: Iterable[float] | None = None) -> str:
    """The first few names (with their counts), and how many more there are of `total`."""
    if counts is not None:  # `labels` may be the first few of `counts`
        labels = [f"{label}: {_observations(n)}" for label, n in zip(labels, counts, strict=False)]
    total = len(labels) if total is None else total
    shown = ", ".join(labels[:_LISTED])
    return shown + (f" and {total - _LISTED} more" if total > _LISTED else "")


def format_n(n: float) -> str:
    """A count as a figure shows it: a whole number with thousands separators."""
    return f"{int(round(n)):,}"


def _observations(n: float) -> str:
    return f"{format_n(n)} observation" + ("" if round(n) == 1 else "s")


def _at(edge: float, extreme: float, span: float) -> bool:
    return abs(edge - extreme) <= 1e-9 * max(1.0, abs(span))


class _TickNames:
    """The tick label a reader sees at a position (category names of bar charts and heatmaps), if any."""

    def __init__(self, axis: Any) -> None:
        self._locs = np.asarray(axis.get_majorticklocs(), dtype=float)
        self._labels = [str(t) for t in axis.get_major_formatter().format_ticks(list(self._locs))]

    def __call__(self, position: float) -> str | None:
        hits = np.flatnonzero(np.isclose(self._locs, position, rtol=0, atol=1e-6))
        return (self._labels[hits[0]] or None) if hits.size else None


def _named(kind: str, number: int, total: int, artist: Any) -> str:
    label = artist.get_label() if artist is not None else ""
    name = f"{kind} {number}" if total > 1 else kind
    return name + (f" '{label}'" if label and not str(label).startswith("_") else "")


def _cell_labels(ax: Axes, artist: Any, rows: np.ndarray, cols: np.ndarray) -> Label:
    """'(row Vlieland, column vrouw)' from the tick labels at the cell centres, else row and column numbers."""
    if not hasattr(artist, "get_coordinates"):
        return lambda k: f"(row {rows[k] + 1}, column {cols[k] + 1})"
    corners = artist.get_coordinates()
    xs = (corners[0, :-1, 0] + corners[0, 1:, 0]) / 2
    ys = (corners[:-1, 0, 1] + corners[1:, 0, 1]) / 2
    row_names, col_names = _TickNames(ax.yaxis), _TickNames(ax.xaxis)

    def label(k: int) -> str:
        r, c = rows[k], cols[k]
        return f"(row {row_names(ys[r]) or r + 1}, column {col_names(xs[c]) or c + 1})"

    return label


def _x_labels(ax: Axes, x: np.ndarray) -> Label:
    names = _TickNames(ax.xaxis)
    return lambda i: names(x[i]) or f"x = {x[i]:g}"


def _numbered(i: int) -> str:
    return str(i + 1)


def _off_data(ax: Axes, artist: Any) -> bool:
    """Drawn at least partly in axes coordinates (axhline, axvspan, ...): a marker of a value, not data.

    Compared by identity: transforms compare equal by value, so a reference line on axes whose limits happen to
    be 0..1 would otherwise pass for data."""
    return artist.get_transform() is not ax.transData


def _has_points(line: Any) -> bool:
    return len(line.get_xdata()) > 0 if hasattr(line, "get_xdata") else True


def _flatten(container: Any) -> list[Any]:
    out = []
    for item in container:
        if isinstance(item, (list, tuple)):
            out += _flatten(item)
        elif item is not None:
            out.append(item)
    return out


def _structural(ax: Axes, artist: Any) -> bool:
    """Spines, axis lines, legend, background and insets: not data (titles are texts, read elsewhere)."""
    return (
        artist is ax.patch or artist is ax.legend_ or artist is ax.xaxis or artist is ax.yaxis
        or any(artist is spine for spine in ax.spines.values())
        or any(artist is inset for inset in getattr(ax, "child_axes", []))
    )


def _axes_texts(ax: Axes, place: str) -> list[tuple[str, str]]:
    texts = [(ax.get_title(loc), f"the title of {place}") for loc in ("center", "left", "right")]
    texts += [(ax.get_xlabel(), f"the x-axis label of {place}"), (ax.get_ylabel(), f"the y-axis label of {place}")]
    texts += [(t.get_text(), f"a text in {place}") for t in ax.texts if t.get_visible()]
    for axis, name in ((ax.xaxis, "x"), (ax.yaxis, "y")):
        locs = list(axis.get_majorticklocs())
        if locs:
            labels = axis.get_major_formatter().format_ticks(locs)
            texts += [(str(t), f"a {name}-axis tick label of {place}") for t in labels]
    if ax.legend_ is not None:
        texts += _legend_texts(ax.legend_, f"the legend of {place}")
    return texts


def _legend_texts(legend: Any, where: str) -> list[tuple[str, str]]:
    return [(t.get_text(), where) for t in [legend.get_title(), *legend.get_texts()]]


def _stated_observations(text: str) -> list[int]:
    """Numbers of observations written in a text: 'N = 5000', 'n=4000', 'N=5.000', 'n = 1,234', '(n: 812)'."""
    if not text or not any(ch.isdigit() for ch in text):
        return []
    return [int("".join(ch for ch in match if ch.isdigit())) for match in _n_pattern().findall(text)]


@functools.lru_cache(maxsize=1)
def _n_pattern() -> re.Pattern[str]:
    number = r"(\d{1,3}(?:[.,\u00a0\u202f ]\d{3})+|\d+)(?!\d)(?![.,]\d)"
    return re.compile(rf"(?<![A-Za-z])[Nn]\s*[=:]\s*{number}")
