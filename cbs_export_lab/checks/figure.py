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
from matplotlib.contour import ContourSet
from matplotlib.figure import Figure, FigureBase
from matplotlib.image import AxesImage
from matplotlib.lines import Line2D
from matplotlib.patches import Polygon, Rectangle, Shadow, StepPatch, Wedge
from matplotlib.text import Text

from ..errors import UserError
from ..hooks import (
    BOX_ATTR,
    CONSUMED,
    ECDF_ATTR,
    HEXBIN_ATTR,
    HIST2D_ATTR,
    HIST_ATTR,
    PIE_ATTR,
    SEABORN_ATTR,
    VIOLIN_ATTR,
    BoxRecord,
    Hist2DRecord,
    HistRecord,
    PieRecord,
    SeabornRecord,
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


def check_figure(obj: Any, *, data: Any = None, unit: Any = None, rules: Rules) -> CheckResult:
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
    reader.data, reader.unit = data, unit  # they name the units behind histograms, for differencing
    reader.read(fig)
    if unit is not None:
        reader.units_not_counted(unit)
    source = "the drawn figure" + (" and the data given to its plotting calls" if reader.recorded else "")
    return CheckResult(
        kind="figure",
        findings=reader.findings,
        counts=Counts(figures=1, observations=reader.observations),
        source=source,
        rules_origin=rules.origin,
        details={"subplots": reader.subplots, "sketched": reader.sketched},
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
        self.units: dict[Any, tuple[int, float]] = {}
        self.legend_stated: list[int] = []
        self.title = ""
        self.sketched: list[Any] = []  # histograms whose units are known, for differencing against other outputs
        self.data: Any = None
        self.unit: Any = None
        self._seen: set[tuple[str, str, str, str]] = set()

    def counted(self) -> tuple[int, float] | None:
        """The units behind the figure as far as the drawn data tell: at least `lo`, at most `hi` (inf: unknown).

        Different plotting calls may show the same units or others, so they add up only in the upper bound."""
        if not self.units:
            return None
        parts = list(self.units.values())
        return max(lo for lo, _ in parts), float(sum(hi for _, hi in parts))

    @property
    def observations(self) -> int | None:
        counted = self.counted()
        if self.stated:
            stated = max(n for n, _ in self.stated)
            if counted is None or self._agrees(stated, counted):
                return stated
        if counted is not None:
            lo, hi = counted
            return int(hi) if len(self.units) == 1 and np.isfinite(hi) else lo
        return max(self.drawn) if self.drawn else None

    def _agrees(self, stated: int, counted: tuple[int, float]) -> bool:
        lo, hi = counted
        summed = sum(self.legend_stated)
        return lo <= stated <= hi or (len(self.legend_stated) > 1 and lo <= summed <= hi)

    def units_of(self, key: Any, lo: int, hi: float, disjoint: bool = False) -> None:
        """Units drawn by one plotting call; `disjoint` parts of it (seaborn facets) add up, others may overlap."""
        old = self.units.get(key)
        self.units[key] = (lo, hi) if old is None else (old[0] + lo if disjoint else max(old[0], lo), old[1] + hi)

    def add(self, rule: str, severity: str, message: str, where: str, fix: str) -> None:
        """One finding per problem: the same finding from several artists of one plotting call is given once."""
        key = (rule, severity, message, where)
        if key in self._seen:
            return
        self._seen.add(key)
        self.findings.append(Finding(rule=rule, severity=severity, message=message, where=where, fix=fix))

    # walking the figure

    def read(self, fig: Figure) -> None:
        axes = [ax for ax in fig.axes if not hasattr(ax, "_colorbar")]
        self.subplots = len(axes)
        self.title = next((t.get_text() for t in [getattr(fig, "_suptitle", None)] if t is not None), "") or next(
            (ax.get_title() for ax in axes if ax.get_title()), ""
        )
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
        _unit_series(self, ax, place)

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
            label = where.startswith(("the legend", "the figure legend")) or "tick label" in where
            stated = _stated_observations(text, label)
            for n in stated:
                self.stated.append((n, where))
            if where.startswith(("the legend", "the figure legend")):
                self.legend_stated += stated
            _stated_facts(self, text, where)

    def _judge_observations(self) -> None:
        if not self.data_artists:
            self.add(
                "unsupported",
                self.rules.unsupported,
                "The figure shows no data that can be checked.",
                "the whole figure",
                "Check that this is the figure you meant to export.",
            )
        counted = self.counted()
        if not self.stated:
            n = self.observations
            title = self.title.strip() or "Title"
            example = f"'{title} (N = {format_n(n)})'" if n is not None else f"'{title} (N = ...)' with the units"
            self.add(
                "observations_not_shown",
                self.rules.observations_not_shown,
                "The figure does not state its number of observations; CBS needs it on every graph.",
                "the whole figure",
                f"Add it to the title, an axis label, the legend or a text, e.g. ax.set_title({example}).",
            )
        elif counted is not None and not self._agrees(max(n for n, _ in self.stated), counted):
            stated, where = max(self.stated)
            lo, hi = counted
            drawn = (
                format_n(lo)
                if lo == hi
                else (f"at least {format_n(lo)}" + (f" and at most {format_n(hi)}" if np.isfinite(hi) else ""))
            )
            self.add(
                "observations_not_shown",
                self.rules.observations_not_shown,
                f"The figure states N = {format_n(stated)} ({where}), but the data it draws hold {drawn} "
                "observations, so the N on the figure (and on the output control form) would be wrong.",
                where,
                f"Write the N of the data drawn, N = {format_n(self.observations or lo)}, or explain the "
                "difference in the explanation.",
            )
        for n, where in self.stated:
            if n == 0:
                self.add(
                    "zero",
                    self.rules.zero,
                    "The figure states 0 observations.",
                    where,
                    "Leave out a graph without observations, or explain why it is shown.",
                )
            elif n < self.rules.threshold:
                self.add(
                    "threshold",
                    "fail",
                    f"The figure states {n} observations; a graph needs at least {self.rules.threshold}.",
                    where,
                    f"Draw the graph for a larger group (at least {self.rules.threshold} observations).",
                )

    # judging what is drawn

    def units_not_counted(self, unit: Any) -> None:
        name = f"distinct {unit}" if isinstance(unit, str) else "distinct units"
        self.add(
            "unknown_counts",
            self.rules.unknown_counts,
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
            "unsupported",
            self.rules.unsupported,
            f"{place[0].upper()}{place[1:]} contains a {type(artist).__name__} that cannot be checked.",
            f"the {type(artist).__name__} in {place}",
            "Leave it out, or explain in the explanation what it shows and why it has no disclosure risk.",
        )

    def reference(self, what: str) -> None:
        self.unknown_counts(
            f"{what[0].upper()}{what[1:]} marks a value whose counts are unknown (a mean, a percentile?).",
            what,
            "Say in the explanation what the line or band shows and how many observations are behind it.",
        )

    def unknown_counts(self, message: str, where: str, fix: str) -> None:
        self.data_artists += 1
        self.add("unknown_counts", self.rules.unknown_counts, message, where, fix)

    def scatter(self, points: int, where: str) -> None:
        self.data_artists += 1
        self.drawn.append(points)
        self.add(
            "microdata",
            "fail",
            f"{where[0].upper()}{where[1:]} shows {points:,} separate points; each raw point is one unit's values.",
            where,
            "Show aggregates instead: a 2D histogram or hexbin with at least "
            f"{self.rules.threshold} observations per cell, or binned means as a line.",
        )

    def records(self, points: int, where: str, shape: str) -> None:
        self.data_artists += 1
        self.drawn.append(points)
        self.add(
            "microdata",
            "fail",
            f"{where[0].upper()}{where[1:]}: {shape}; unit records are never released.",
            where,
            f"Show aggregates instead: a histogram or a line of means or percentiles of groups of at least "
            f"{self.rules.threshold} observations, with cbs_export_lab.figures.safe_hist for a distribution.",
        )

    def values(self, values: np.ndarray, label: Label, what: str, place: str, unit: str, zeros: bool = True) -> None:
        """Drawn values read like table cells: counts (whole numbers) are judged, other numbers are unknown.

        `label(i)` names value i for messages; it is asked only for the values a finding lists."""
        self.data_artists += 1
        shown = np.flatnonzero(np.isfinite(values))
        if not shown.size:
            return
        where = f"the {what} in {place}"
        if not _is_count(values[shown]):
            self.add(
                "unknown_counts",
                self.rules.unknown_counts,
                f"The {shown.size} values of {where} are not counts, so the number of units behind each is unknown.",
                where,
                "State the number of observations behind each value (at least "
                f"{self.rules.threshold}), or explain in the explanation why they are safe.",
            )
            return
        self.drawn.append(int(values[shown].sum()))
        self.small(values, shown, label, what, place, unit, zeros)

    def small(
        self,
        counts: np.ndarray,
        shown: np.ndarray,
        label: Label,
        what: str,
        place: str,
        unit: str,
        zeros: bool,
        fix: str | None = None,
    ) -> None:
        t = self.rules.threshold
        drawn = counts[shown]
        small = shown[(drawn > 0) & (drawn < t)]
        if small.size:
            names = [f"{unit} {label(i)}" for i in small[: _LISTED + 1]]
            first = f"{names[0]} of the {what} in {place} has {_observations(counts[small[0]])}"
            more = small.size - 1
            message = first + (
                f", and {more} more {unit}{'s have' if more > 1 else ' has'} fewer than {t} "
                f"({_listing(names[1:], more, counts[small[1:]])})"
                if more
                else ""
            )
            self.add(
                "threshold",
                "fail",
                f"{message[0].upper()}{message[1:]}; each {unit} needs at least {t}.",
                f"{_listing(names, small.size)} of the {what} in {place}",
                fix
                or (
                    f"Draw the graph for a larger group, so every {unit} has at least {t} observations (a "
                    "category of two, such as sex, cannot be merged)."
                    if len(counts) <= 2
                    else f"Merge each small {unit} with a neighbouring one (or into an 'other' group) or leave it "
                    f"out, so every {unit} has at least {t} observations."
                ),
            )
        empty = shown[drawn == 0]
        if zeros and empty.size:
            names = _listing([f"{unit} {label(i)}" for i in empty[:_LISTED]], empty.size)
            self.add(
                "zero",
                self.rules.zero,
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
    """A reference line, an aggregate line (few points, one value per x) or unit records joined by a line."""
    record = getattr(line, ECDF_ATTR, None)
    if record is not None:
        return _ecdf(reader, record, place)
    x = np.asarray(line.get_xdata(orig=False), dtype=float)
    y = np.asarray(line.get_ydata(orig=False), dtype=float)
    if not y.size:
        return
    if _off_data(ax, line) or _straight_reference(x, y):
        if not (np.all(y == 0) or np.all(x == 0) or (x.size == 2 and np.allclose(x, y))):
            reader.reference(f"the reference line in {place}")
        return
    if line.get_linestyle() in ("None", "", " ", "none") and line.get_marker() not in (None, "None", "", " "):
        return reader.scatter(len(y), f"the points drawn with plot() in {place}")
    what = _named("line", 1, 1, line)
    shape = _per_unit_shape(x, y, reader.rules.aggregate_line_points)
    if shape:
        return reader.records(y.size, f"the {what} in {place}", shape)
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


def _straight_reference(x: np.ndarray, y: np.ndarray) -> bool:
    return x.size == 2 and bool(np.all(np.isfinite(x)) and np.all(np.isfinite(y)))


def _per_unit_shape(x: np.ndarray, y: np.ndarray, few: int) -> str:
    """How a line of more than `few` points shows one point per observation, or "" when it does not."""
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    n = x.size
    if n <= few:
        return ""
    dx, dy = np.diff(x), np.diff(y)
    if np.unique(x).size < n and (np.any(dx < 0) or np.unique(x).size <= n / 2):
        return f"its {n:,} points join raw values (x values repeat), one point per observation"
    steps = np.unique(np.round(dy[dy != 0], 12))
    if (
        np.all(dx >= 0)
        and np.all(dy >= 0)
        and y.max() <= 1 + 1e-9
        and steps.size
        and np.allclose(steps, steps[0], rtol=1e-6)
        and (steps[0] * (np.count_nonzero(dy) + 1) > 0.98)
    ):
        return (
            "it is a cumulative distribution without bins: each step is one observation, from the minimum to "
            "the maximum"
        )
    index = np.allclose(dx, 1) and abs(x[0]) <= 1
    if index and (np.all(dy >= 0) or np.all(dy <= 0)):
        return f"it draws {n:,} sorted values, one per observation, from the minimum to the maximum"
    if index:
        return f"it draws {n:,} values against their row number, one point per row"
    return ""


def _unit_series(reader: _FigureReader, ax: Axes, place: str) -> None:
    """Many lines on one x grid not named in a legend are read as every unit's own series."""
    named = {t.get_text() for t in ax.legend_.get_texts()} if ax.legend_ is not None else set()
    grids: dict[bytes, int] = {}
    for line in ax.lines:
        if line.get_label() in named or _off_data(ax, line) or len(line.get_xdata()) < 2:
            continue
        key = np.asarray(line.get_xdata(orig=False), dtype=float).tobytes()
        grids[key] = grids.get(key, 0) + 1
    lines = max(grids.values(), default=0)
    if lines >= reader.rules.unit_series_lines:
        reader.records(
            lines,
            f"the {lines} unnamed lines in {place}",
            "they share one x grid without a legend, so each line reads as one unit's own series",
        )


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
        hits += [
            f"{side} of {axis}"
            for side, hit in (("minimum", _at(edges[0], low, span)), ("maximum", _at(edges[-1], high, span)))
            if hit
        ]
    if hits:
        reader.add(
            "min_max",
            reader.rules.min_max,
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
    record = getattr(artist, HEXBIN_ATTR, None)
    if record is not None and not record.counts:
        reader.unknown_counts(
            f"The hexagons of the hexbin plot in {place} show values of C, not counts.",
            f"the hexbin plot in {place}",
            "Draw counts (no C=), with mincnt=10, or explain.",
        )
    else:
        reader.values(values, _numbered, "hexbin plot", place, "hexagon")
    if record is not None:
        reader.recorded = True
        reader.units_of(id(record), min(int(np.nansum(values)), record.sizes[0]), record.sizes[0])
        if not record.extremes:
            return
    reader.add(
        "min_max",
        "fail" if record is not None else "review",
        f"The hexagon grid of the hexbin plot in {place} may be laid out from the data's minimum and maximum.",
        f"the outer hexagons of the hexbin plot in {place}",
        "Give extent= inside the data (inner percentiles) and mincnt=10, or use ax.hist2d with a range.",
    )


def _stairs(reader: _FigureReader, ax: Axes, artist: Any, place: str) -> None:
    """stairs() of a histogram: its values are bins; its outer edges may be the data's extremes."""
    values = np.asarray(artist.get_data().values, dtype=float)
    what = _named("step histogram", 1, 1, artist)
    reader.values(values, _numbered, what, place, "bin", zeros=False)
    reader.add(
        "min_max",
        "review",
        f"The {what} in {place} was drawn with stairs(), so it is unknown whether its outer edges are the data's "
        "minimum and maximum.",
        f"the outer bins of the {what} in {place}",
        f"Draw it with ax.hist(x, range=(lo, hi)) inside the data, or {SAFE_HIST}.",
    )


def _contours(reader: _FigureReader, ax: Axes, artist: Any, place: str) -> None:
    reader.unknown_counts(
        f"The contours in {place} show a density or surface; the number of units behind each level is unknown.",
        f"the contours in {place}",
        f"Use a 2D histogram with at least {reader.rules.threshold} observations per cell (ax.hist2d with a range "
        "inside the data and cmin), or explain in the explanation how many observations lie inside each contour.",
    )


def _ecdf(reader: _FigureReader, record: Any, place: str) -> None:
    reader.recorded = True
    reader.units_of(id(record), record.sizes[0], record.sizes[0])
    reader.records(
        record.sizes[0],
        f"the cumulative distribution (ECDF) in {place}",
        "each step is one observation, from the minimum to the maximum",
    )
    reader.add(
        "min_max",
        reader.rules.min_max,
        f"The cumulative distribution (ECDF) in {place} starts at the data's minimum and ends at its maximum.",
        f"the cumulative distribution (ECDF) in {place}",
        "Draw the distribution as a histogram with a range inside the data (cbs_export_lab.figures.safe_hist).",
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
        f"the pie chart in {place}",
        "Draw it with ax.pie(counts) from a table of counts.",
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
    (StepPatch, _stairs),
    (ContourSet, _contours),
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
    if hasattr(container, HIST_ATTR) or _consumed(container):
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
    contiguous = len(patches) > 1 and np.allclose(
        starts[:-1] + widths[:-1], starts[1:], rtol=0, atol=1e-9 * max(1.0, float(np.abs(widths).max()))
    )
    if contiguous:
        what = "histogram" + (f" '{label}'" if label and not label.startswith("_") else "")
        reader.values(heights, _numbered, what, place, "bin", zeros=False)
        reader.add(
            "min_max",
            "review",
            f"The {what} in {place} was not drawn with Axes.hist, so it is unknown whether its outer edges are "
            "the data's minimum and maximum.",
            f"the outer bins of the {what} in {place}",
            f"Draw it with ax.hist(x, range=(lo, hi)) inside the data, or {SAFE_HIST}.",
        )
    else:
        what = "bar chart" + (f" '{label}'" if label and not label.startswith("_") else "")
        reader.values(heights, lambda i: f"'{names(starts[i] + widths[i] / 2) or i + 1}'", what, place, "bar")


def _consumed(container: Any) -> bool:
    """Drawn by a seaborn call whose record judges it as a whole."""
    first = next(iter(_flatten(container)), None)
    record = getattr(first, SEABORN_ATTR, None)
    return record is not None and record[0].kind in CONSUMED


def _errorbars(reader: _FigureReader, ax: Axes, container: Any, place: str) -> set[int]:
    if _consumed(container):
        return set()
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
        self.violins: dict[int, Any] = {}
        self.seaborn: dict[int, tuple[SeabornRecord, Any]] = {}

    def collect(self, artist: Any) -> bool:
        """Keep the artist with its call if a call was recorded on it; False if it must be read on its own."""
        hist = getattr(artist, HIST_ATTR, None)
        box = getattr(artist, BOX_ATTR, None)
        pie = getattr(artist, PIE_ATTR, None)
        drawn_by = getattr(artist, SEABORN_ATTR, None)
        violin = getattr(artist, VIOLIN_ATTR, None)
        if drawn_by is not None:
            self.seaborn.setdefault(id(drawn_by[0]), drawn_by)
            if drawn_by[0].kind in CONSUMED and not (
                drawn_by[0].kind == "regression" and isinstance(artist, PathCollection)
            ):
                return True
        if violin is not None:
            self.violins[id(violin)] = violin
        elif hist is not None:
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
        for number, record in enumerate(self.violins.values(), 1):
            _violins(reader, record, _named("violin plot", number, len(self.violins), None), place)
        for record, call in self.seaborn.values():
            _seaborn(reader, record, call, place)


def _violins(reader: _FigureReader, record: Any, what: str, place: str) -> None:
    reader.data_artists += 1
    reader.recorded = True
    sizes = np.asarray(record.sizes)
    reader.units_of(id(record), int(sizes.max(initial=0)), int(sizes.sum()))
    reader.small(
        sizes,
        np.arange(sizes.size),
        _numbered,
        what,
        place,
        "violin",
        zeros=False,
        fix=f"Draw violins only for groups of at least {reader.rules.threshold} observations.",
    )
    reader.add(
        "min_max",
        reader.rules.min_max,
        f"The {what} in {place} spans each group's minimum to maximum (its body and extrema bars end there).",
        f"the ends of the {what} in {place}",
        "Draw a box plot with percentile whiskers instead (cbs_export_lab.figures.safe_boxplot).",
    )


_SEABORN_WHAT = {
    "hist": "histogram",
    "density": "density (kde) plot",
    "ecdf": "cumulative distribution (ECDF)",
    "estimate": "estimates (bars or points with error bars)",
    "violin": "violin plot",
    "regression": "regression line and its band",
    "count": "count plot",
    "box": "box plot",
    "scatter": "strip or swarm plot",
}


def _seaborn(reader: _FigureReader, record: SeabornRecord, call: Any, place: str) -> None:
    """One seaborn call on one subplot, judged once, with its hue groups named."""
    reader.recorded = True
    units = sum(record.groups.values())
    reader.units_of(id(call), units, units, disjoint=True)
    what = f"seaborn {_SEABORN_WHAT[record.kind]}"
    names = list(record.groups)
    if record.kind == "hist":
        for number, hist in enumerate(record.hists, 1):
            name = _named("histogram", number, len(record.hists), None) + (f" of {hist.group}" if hist.group else "")
            _hist(reader, hist, name, place)
        return
    if record.kind not in CONSUMED:
        return
    reader.data_artists += 1
    sizes = np.asarray([record.groups[n] for n in names])
    reader.small(
        sizes,
        np.arange(sizes.size),
        lambda i: f"'{names[i]}'" if names[i] else "1",
        what,
        place,
        "group",
        zeros=False,
        fix=f"Draw the plot for groups of at least {reader.rules.threshold} observations.",
    )
    if record.kind == "ecdf":
        reader.records(units, f"the {what} in {place}", "each step is one observation")
    else:
        groups = _listing([f"'{n}'" for n in names if n], len([n for n in names if n]))
        reader.unknown_counts(
            f"The {what} in {place} shows estimates" + (f" for {groups}" if groups else "") + "; the drawn values "
            "are not counts, so only the group sizes are known.",
            f"the {what} in {place}",
            "State the number of observations behind each group, or explain in the "
            "explanation why the estimates are safe.",
        )
    if record.extremes:
        groups = _listing([f"'{n}'" if n else "the data" for n in record.extremes], len(record.extremes))
        reader.add(
            "min_max",
            reader.rules.min_max,
            f"The {what} in {place} reaches the minimum and maximum of {groups} (drawn with cut=0 or as steps).",
            f"the ends of the {what} in {place}",
            "Leave cut at its default (the curve then extends beyond the data), or draw a histogram with a "
            "range inside the data.",
        )


def _hist(reader: _FigureReader, record: HistRecord, what: str, place: str) -> None:
    reader.data_artists += 1
    reader.recorded = True
    counts = record.counts
    reader.drawn.append(int(counts.sum()))
    if record.size >= 0 and not record.group:
        reader.units_of(id(record), int(counts.sum()), record.size)
    reader.small(
        counts, np.arange(len(counts)), _numbered, what, place, "bin", zeros=False, fix=f"Use wider bins, {SAFE_HIST}."
    )
    if record.rows is not None:
        reader.sketched.append(_hist_units(record, f"the {what} in {place}", reader.data, reader.unit, reader.rules))
    edges = record.edges
    span = record.data_max - record.data_min
    sides = [
        name
        for name, hit in (
            ("minimum", _at(edges[0], record.data_min, span)),
            ("maximum", _at(edges[-1], record.data_max, span)),
        )
        if hit
    ]
    if sides:
        reader.add(
            "min_max",
            reader.rules.min_max,
            f"The {what} in {place} has {'an outer edge' if len(sides) == 1 else 'its outer edges'} at the "
            f"data's {' and '.join(sides)}, so the figure reveals {'it' if len(sides) == 1 else 'them'}.",
            f"the outer bins of the {what} in {place}",
            "Give a range inside the data, e.g. ax.hist(x, range=(lo, hi)) with the 1st and 99th percentiles, "
            f"or {SAFE_HIST}.",
        )


def _hist_units(record: HistRecord, what: str, data: Any, unit: Any, rules: Rules) -> Any:
    """The units in each bin, for differencing: a histogram of all persons next to one of a subgroup is two tables
    of bins. Unit ids where a frame (data=, or the frame the values were named in) gives them for the drawn rows,
    else the drawn Series' row labels when its frame is tracked; None when the units cannot be named."""
    from ..differencing import sketched_row

    edges = np.asarray(record.edges, dtype=float)
    values = np.asarray(record.drawn, dtype=float)
    cell = np.searchsorted(edges, values, side="right") - 1
    cell[values == edges[-1]] = len(edges) - 2  # the last bin holds its right edge
    inside = (cell >= 0) & (cell < len(edges) - 1)
    rows = record.rows[inside]
    ids, name = _unit_ids(rows, [data, record.source], unit, rules)
    last = len(edges) - 2
    labels = [f"bin {i + 1} [{edges[i]:g}, {edges[i + 1]:g}{']' if i == last else ')'}" for i in range(last + 1)]
    return sketched_row(
        cell[inside],
        what,
        labels,
        units=ids,
        unit_name=name,
        row_labels=None if ids is not None else rows,
        frame=None if ids is not None else record.frame,
        threshold=rules.threshold,
    )


def _unit_ids(rows: Any, frames: list[Any], unit: Any, rules: Rules) -> tuple[np.ndarray | None, str | None]:
    """The unit id of each drawn row: `unit` (a column name or a Series by row label), else a linking key."""
    import pandas as pd

    from ..units import linking_key_column

    if isinstance(unit, pd.Series):
        if unit.index.is_unique and rows.isin(unit.index).all():
            return unit.reindex(rows).to_numpy(), str(unit.name or "the given unit ids")
        return None, None
    for frame in frames:
        if not isinstance(frame, pd.DataFrame) or not frame.index.is_unique or not rows.isin(frame.index).all():
            continue
        name = unit if isinstance(unit, str) else linking_key_column(frame, rules) if unit is None else None
        if name is not None and name in frame.columns:
            return frame[name].reindex(rows).to_numpy(), str(name)
    return None, None


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
            "min_max",
            reader.rules.min_max,
            f"The whiskers of {_listing(extremes)} of the {what} in {place} end at the data's minimum or maximum.",
            f"the whiskers of {_listing(extremes)} of the {what} in {place}",
            f"Draw whiskers at percentiles, e.g. ax.boxplot(x, whis=(5, 95), showfliers=False). {fix}",
        )
    if fliers:
        reader.add(
            "min_max",
            reader.rules.min_max,
            f"Outlier points are drawn for {_listing(fliers)} of the {what} in {place}: single units' values, "
            "including the minimum and maximum.",
            f"the outlier points of {_listing(fliers)} of the {what} in {place}",
            f"Leave the outliers out with showfliers=False. {fix}",
        )


def _box_sizes(reader: _FigureReader, record: BoxRecord, boxes: list[int], what: str, place: str) -> None:
    if not record.sizes:
        reader.add(
            "unknown_counts",
            reader.rules.unknown_counts,
            f"The number of observations behind each box of the {what} in {place} is unknown; a box of few "
            "observations shows their values.",
            f"the boxes of the {what} in {place}",
            "Draw it with ax.boxplot or cbs_export_lab.figures.safe_boxplot, which know the size of each box, "
            "or state n per box and explain in the explanation.",
        )
        return
    sizes = np.array([record.sizes[box] for box in boxes])
    reader.drawn.append(int(sizes.sum()))
    reader.units_of(id(record), int(sizes.max(initial=0)), int(sizes.sum()))
    fix = f"Draw boxes only for groups of at least {reader.rules.threshold} observations; merge small groups."
    reader.small(sizes, np.arange(len(boxes)), lambda i: str(boxes[i] + 1), what, place, "box", zeros=False, fix=fix)


def _pie(reader: _FigureReader, record: PieRecord, wedges: list[int], what: str, place: str) -> None:
    reader.recorded = True
    values = np.asarray(record.values, dtype=float)[wedges]
    reader.values(values, lambda i: str(wedges[i] + 1), what, place, "wedge")
    if _is_count(values):
        reader.units_of(id(record), int(values.sum()), int(values.sum()))


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
        artist is ax.patch
        or artist is ax.legend_
        or artist is ax.xaxis
        or artist is ax.yaxis
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


_NUMBER = r"(?P<num>\d{1,3}(?:(?P<sep>[.,\u00a0\u202f ])\d{3}(?:(?P=sep)\d{3})*)|\d+)(?!\d)(?![.,]\d)"
_UNITS = (
    r"personen|persoon|mensen|waarnemingen|observaties|observations|respondenten|respondents|bedrijven|"
    r"companies|firms|huishoudens|households|persons|people|werknemers|employees|leerlingen|studenten|students|"
    r"pati[eë]nten|patients|eenheden|units|cases"
)


def _number(text: str) -> int:
    return int("".join(ch for ch in text if ch.isdigit()))


def _stated_observations(text: str, label: bool = False) -> list[int]:
    """Numbers of observations written in a text: 'N = 5000', 'n=4000', 'N=5.000', 'n = 1,234', '(n: 812)', and
    in words: '6.000 personen', '6,000 observations'. In a legend entry or tick label a small number in words
    names a category ('3 personen': households of three), so only an explicit n counts there."""
    if not text or not any(ch.isdigit() for ch in text):
        return []
    found = {m.start("num"): _number(m.group("num")) for m in _n_pattern().finditer(text)}
    for m in _word_pattern().finditer(text):
        n = _number(m.group("num"))
        if m.start("num") in found or any(abs(m.start("num") - at) < 3 for at in found):
            continue
        if m.group("before") or (label and n < 1000):
            continue
        found[m.start("num")] = n
    return list(found.values())


def _stated_facts(reader: _FigureReader, text: str, where: str) -> None:
    """An extreme stated in words ('max = 95', 'hoogste: 1.200') is min_max; 'waarvan 3' a small count."""
    if not text or not text.strip():
        return
    t = reader.rules.threshold
    extreme = _extreme_pattern().search(text)
    if extreme:
        reader.add(
            "min_max",
            reader.rules.min_max,
            f"{where[0].upper()}{where[1:]} states an extreme value ('{extreme.group(0).strip()}'); minimum "
            "and maximum are not released.",
            where,
            "Remove the extreme from the text; state a percentile (e.g. the 5th and 95th) instead.",
        )
    for m in _part_pattern().finditer(text):
        n = _number(m.group("num"))
        if 0 < n < t:
            reader.add(
                "threshold",
                "fail",
                f"{where[0].upper()}{where[1:]} states a count of {n} ('{m.group(0).strip()}'); a group needs "
                f"at least {t} observations.",
                where,
                f"Leave the small count out of the text, or state it for a group of at least {t}.",
            )


@functools.lru_cache(maxsize=1)
def _n_pattern() -> re.Pattern[str]:
    return re.compile(rf"(?<![A-Za-z])[Nn]\s*[=:]\s*{_NUMBER}")


@functools.lru_cache(maxsize=1)
def _word_pattern() -> re.Pattern[str]:
    before = r"(?P<before>\b(?:van|met|tot|t/m|of|with|to|per)\s+|[-\u2013<>\u2264\u2265]\s*)?"
    return re.compile(rf"{before}(?<![\d.,]){_NUMBER}\s*(?:{_UNITS})\b", re.IGNORECASE)


@functools.lru_cache(maxsize=1)
def _extreme_pattern() -> re.Pattern[str]:
    words = r"max(?:imum|\.)?|min(?:imum|\.)?|hoogste|laagste|highest|lowest|grootste|kleinste|largest|smallest"
    value = r"[-\u2212]?\s*[\u20ac$]?\s*\d"
    stated = rf"\b(?:{words})(?:\s+\w+){{0,3}}?\s*[=:]\s*{value}|\b(?:{words})\s+{value}(?![\d.,]*\s*%)"
    alone = rf"^\s*(?:{words})(?:\s+(?:waarde|value))?\s*[.!:]?\s*$"
    return re.compile(rf"{stated}|{alone}", re.IGNORECASE)


@functools.lru_cache(maxsize=1)
def _part_pattern() -> re.Pattern[str]:
    return re.compile(rf"\b(?:waarvan|daarvan|of whom|of which|inclusief|including)\s+{_NUMBER}", re.IGNORECASE)
