"""Check matplotlib figures as drawn, draw the safe versions users want most, and render figures for export.

A figure is read from its artists: histogram bins, bars, box plots, points, lines, wedges and cells. Some
facts are not in the artists (whether a histogram's range is the data's own range, the statistics behind a
box plot, the values behind a pie), so `Axes.hist`, `hist2d`, `bxp` and `pie` are wrapped transparently to
remember them. The wrapping happens when `matplotlib.axes` is first imported, without this module importing
matplotlib itself, so `import cbs_export_lab` stays cheap. Whatever is still unknown is `review`, never `pass`.
"""
from __future__ import annotations

import functools
import os
import sys
from typing import TYPE_CHECKING, Any, Callable, Iterable, NamedTuple

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .results import CheckResult, Finding
    from .rules import Rules

_WRAPPED = "_cbs_export_lab_wrapped"
_HIST = "_cbs_hist"
_HIST2D = "_cbs_hist2d"
_BOX = "_cbs_box"
_PIE = "_cbs_pie"
_LISTED = 5
Label = Callable[[int], str]
SAFE_HIST = "use cbs_export_lab.figures.safe_hist(ax, x), or merge the outer bins"


# --- what the wrapped plotting methods remember -------------------------------------------------------------

class HistRecord(NamedTuple):
    """One data set given to `Axes.hist`: its unweighted bin counts and its own minimum and maximum."""

    edges: Any
    counts: Any
    data_min: float
    data_max: float


class Hist2DRecord(NamedTuple):
    """The data given to `Axes.hist2d`: unweighted cell counts and the data's own extremes on both axes."""

    xedges: Any
    yedges: Any
    counts: Any
    x_range: tuple[float, float]
    y_range: tuple[float, float]


class BoxRecord(NamedTuple):
    """The statistics `Axes.bxp` drew: per box, whether each whisker ends at the data's extreme, and the
    number of observations per box when `Axes.boxplot` computed the statistics (empty otherwise)."""

    low_at_min: list[bool]
    high_at_max: list[bool]
    sizes: list[int]


class PieRecord(NamedTuple):
    """The values given to `Axes.pie`, one per wedge."""

    values: Any


def install_hooks() -> None:
    """Wrap the plotting methods now if matplotlib.axes is loaded, else as soon as it is imported."""
    module = sys.modules.get("matplotlib.axes")
    if module is not None and hasattr(module, "Axes"):
        _wrap_axes(module.Axes)
    elif not any(isinstance(finder, _AxesImportHook) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AxesImportHook())


class _AxesImportHook:
    """Lets the normal finders load `matplotlib.axes`, then wraps `Axes` right after the module ran."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != "matplotlib.axes":
            return None
        from importlib.machinery import PathFinder

        spec = PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _WrapAfterExec(spec.loader, self)
        return spec


class _WrapAfterExec:
    def __init__(self, loader: Any, hook: _AxesImportHook) -> None:
        self._loader = loader
        self._hook = hook

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._loader.exec_module(module)
        _wrap_axes(module.Axes)
        if self._hook in sys.meta_path:
            sys.meta_path.remove(self._hook)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


def _wrap_axes(axes_class: type) -> None:
    recorders = {
        "hist": _record_hist, "hist2d": _record_hist2d, "bxp": _record_bxp, "boxplot": _record_boxplot,
        "pie": _record_pie,
    }
    for name, recorder in recorders.items():
        method = axes_class.__dict__.get(name)
        if method is not None and not getattr(method, _WRAPPED, False):
            setattr(axes_class, name, _recording(method, recorder))


def _recording(method: Callable[..., Any], recorder: Callable[[dict[str, Any], Any], None]) -> Callable[..., Any]:
    """`method` unchanged for the caller; afterwards `recorder` notes on the drawn artists what it was given."""
    import inspect

    signature = inspect.signature(method)

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = method(*args, **kwargs)
        try:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            recorder(bound.arguments, result)
        except Exception:  # noqa: BLE001 - a plot must never break because of us; unrecorded means review
            pass
        return result

    setattr(wrapper, _WRAPPED, True)
    return wrapper


def _argument(args: dict[str, Any], name: str) -> Any:
    """An argument as matplotlib reads it: a string with `data=` names a column of data."""
    value = args.get(name)
    data = args.get("data")
    if isinstance(value, str) and data is not None:
        return data[value]
    return value


def _datasets(x: Any) -> list[np.ndarray]:
    import numpy as np
    from matplotlib import cbook

    return [np.asarray(values, dtype=float).ravel() for values in cbook._reshape_2D(x, "x")]


def _finite(values: np.ndarray) -> np.ndarray:
    import numpy as np

    return values[np.isfinite(values)]


def _record_hist(args: dict[str, Any], result: Any) -> None:
    import numpy as np

    heights, edges, patches = result
    datasets = _datasets(_argument(args, "x"))
    groups = [patches] if len(datasets) == 1 else list(patches)
    if len(groups) != len(datasets):
        return
    edges = np.asarray(edges, dtype=float)
    weights = _argument(args, "weights")
    weight_sets = [None] * len(datasets) if weights is None else _datasets(weights)
    if len(weight_sets) != len(datasets):
        return
    plain = len(datasets) == 1 and not (weights is not None or args.get("density") or args.get("cumulative"))
    for values, weight, artists in zip(datasets, weight_sets, groups):
        values = _drawn(values, weight)
        if not values.size:
            continue
        counts = np.asarray(heights).astype(np.int64) if plain else np.histogram(values, bins=edges)[0]
        record = HistRecord(edges, counts, float(values.min()), float(values.max()))
        if not isinstance(artists, list):
            setattr(artists, _HIST, record)
        for artist in artists:
            setattr(artist, _HIST, record)


def _drawn(values: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """The finite values a weighted plot draws: a value of weight 0 adds nothing to its bin, so it is no unit there."""
    import numpy as np

    keep = np.isfinite(values)
    if weights is not None:
        if weights.shape != values.shape:
            raise ValueError("weights do not match the data")
        keep &= weights != 0
    return values[keep]


def _record_hist2d(args: dict[str, Any], result: Any) -> None:
    import numpy as np

    _, xedges, yedges, mesh = result
    x = np.asarray(_argument(args, "x"), dtype=float).ravel()
    y = np.asarray(_argument(args, "y"), dtype=float).ravel()
    keep = np.isfinite(x) & np.isfinite(y)
    weights = _argument(args, "weights")
    if weights is not None:
        weights = np.asarray(weights, dtype=float).ravel()
        if weights.shape != x.shape:
            return
        keep &= weights != 0
    x, y = x[keep], y[keep]
    if not x.size:
        return
    counts = np.histogram2d(x, y, bins=[xedges, yedges])[0]
    record = Hist2DRecord(
        np.asarray(xedges, float), np.asarray(yedges, float), counts,
        (float(x.min()), float(x.max())), (float(y.min()), float(y.max())),
    )
    setattr(mesh, _HIST2D, record)


def _record_bxp(args: dict[str, Any], result: dict[str, list[Any]]) -> None:
    import numpy as np

    low_at_min, high_at_max = [], []
    for stats in args["bxpstats"]:
        fliers = np.asarray(stats.get("fliers", []), dtype=float)
        low_at_min.append(not np.any(fliers < stats["whislo"]))
        high_at_max.append(not np.any(fliers > stats["whishi"]))
    record = BoxRecord(low_at_min, high_at_max, [])
    for part, artists in result.items():
        for i, artist in enumerate(artists):
            box = i // 2 if part in ("whiskers", "caps") else i
            setattr(artist, _BOX, (record, box, part))


def _record_boxplot(args: dict[str, Any], result: dict[str, list[Any]]) -> None:
    """`Axes.boxplot` has the data that `bxp` (already recorded inside it) never sees: the size of each box."""
    record = getattr(result["medians"][0], _BOX)[0]
    sizes = [int(_finite(values).size) for values in _datasets(_argument(args, "x"))]
    if len(sizes) == len(record.low_at_min):
        record.sizes.extend(sizes)


def _record_pie(args: dict[str, Any], result: Any) -> None:
    import numpy as np

    wedges = result.wedges if hasattr(result, "wedges") else result[0]
    values = np.asarray(_argument(args, "x"), dtype=float).ravel()
    if len(values) != len(wedges):
        return
    record = PieRecord(values)
    for i, wedge in enumerate(wedges):
        setattr(wedge, _PIE, (record, i))


# --- recognising a figure -----------------------------------------------------------------------------------

def as_figure(obj: Any) -> Figure | None:
    """The root Figure of a Figure, SubFigure, Axes, or array/list of Axes (from plt.subplots); else None."""
    if "matplotlib.figure" not in sys.modules:
        return None
    from matplotlib.axes import Axes
    from matplotlib.figure import FigureBase

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
    from .errors import UserError
    from .results import CheckResult, Counts

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


def _is_count(values: np.ndarray) -> bool:
    import numpy as np

    whole = np.allclose(values, np.round(values), rtol=0, atol=1e-9)
    return bool(values.size) and bool(np.all(values >= 0)) and bool(whole)


def _listing(labels: list[str], total: int | None = None, counts: Iterable[float] | None = None) -> str:
    """The first few names (with their counts), and how many more there are of `total`."""
    parts = labels if counts is None else [f"{label}: {_observations(n)}" for label, n in zip(labels, counts)]
    total = len(parts) if total is None else total
    shown = ", ".join(parts[:_LISTED])
    return shown + (f" and {total - _LISTED} more" if total > _LISTED else "")


def _format_n(n: float) -> str:
    return f"{int(round(n)):,}"


def _observations(n: float) -> str:
    return f"{_format_n(n)} observation" + ("" if round(n) == 1 else "s")


def _at(edge: float, extreme: float, span: float) -> bool:
    return abs(edge - extreme) <= 1e-9 * max(1.0, abs(span))


class _TickNames:
    """The tick label a reader sees at a position (category names of bar charts and heatmaps), if any."""

    def __init__(self, axis: Any) -> None:
        import numpy as np

        self._locs = np.asarray(axis.get_majorticklocs(), dtype=float)
        self._labels = [str(t) for t in axis.get_major_formatter().format_ticks(list(self._locs))]

    def __call__(self, position: float) -> str | None:
        import numpy as np

        hits = np.flatnonzero(np.isclose(self._locs, position, rtol=0, atol=1e-6))
        return (self._labels[hits[0]] or None) if hits.size else None


class _FigureReader:
    """Walks a figure's subplots and artists, collecting findings and the observations the figure states."""

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
        from .results import Finding

        self.findings.append(Finding(rule=rule, severity=severity, message=message, where=where, fix=fix))

    def read(self, fig: Figure) -> None:
        from matplotlib.axes import Axes

        axes = [ax for ax in fig.axes if not hasattr(ax, "_colorbar")]
        self.subplots = len(axes)
        for i, ax in enumerate(axes, 1):
            place = self._place(ax, i, len(axes))
            self._read_axes(ax, place)
            self._read_texts(_axes_texts(ax, place))
            for j, inset in enumerate(getattr(ax, "child_axes", []), 1):
                if isinstance(inset, Axes):
                    self._read_axes(inset, f"inset {j} of {place}")
                    self._read_texts(_axes_texts(inset, f"inset {j} of {place}"))
        self._read_figure_level(fig)
        self._judge_observations()

    @staticmethod
    def _place(ax: Axes, number: int, total: int) -> str:
        title = next((t for t in (ax.get_title(loc) for loc in ("center", "left", "right")) if t), "")
        name = f"subplot {number}" if total > 1 else "the plot"
        return f"{name} (title '{title}')" if title else name

    # figure-level artists and texts

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

    # one subplot

    def _read_axes(self, ax: Axes, place: str) -> None:
        handled: set[int] = set()
        for container in ax.containers:
            handled |= self._container(ax, container, place)
        hists: dict[int, tuple[HistRecord, Any]] = {}
        boxes: dict[int, tuple[BoxRecord, dict[int, set[str]], Any]] = {}
        pies: dict[int, tuple[PieRecord, list[int]]] = {}
        for artist in ax.get_children():
            if id(artist) in handled or _structural(ax, artist) or not artist.get_visible():
                continue
            hist = getattr(artist, _HIST, None)
            box = getattr(artist, _BOX, None)
            pie = getattr(artist, _PIE, None)
            if hist is not None:
                hists.setdefault(id(hist), (hist, artist))
            elif box is not None:
                record, number, part = box
                parts = boxes.setdefault(id(record), (record, {}, artist))[1]
                parts.setdefault(number, set()).add(part if _has_points(artist) else "")
            elif pie is not None:
                record, number = pie
                pies.setdefault(id(record), (record, []))[1].append(number)
            else:
                self._artist(ax, artist, place)
        for number, (record, artist) in enumerate(hists.values(), 1):
            self._hist(record, _named("histogram", number, len(hists), artist), place)
        for number, (record, parts, artist) in enumerate(boxes.values(), 1):
            self._boxes(record, parts, _named("box plot", number, len(boxes), artist), place)
        for number, (record, wedges) in enumerate(pies.values(), 1):
            self._pie(record, sorted(wedges), _named("pie chart", number, len(pies), None), place)

    def _container(self, ax: Axes, container: Any, place: str) -> set[int]:
        from matplotlib.container import BarContainer, ErrorbarContainer, StemContainer

        if isinstance(container, BarContainer) and not hasattr(container, _HIST):
            self._bars(ax, container, place)
            return {id(patch) for patch in container.patches}
        if isinstance(container, ErrorbarContainer):
            self._unknown_counts(
                f"The error bars in {place} show estimates and their uncertainty; the counts behind them are unknown.",
                f"the error bars in {place}",
                "State the number of observations behind each point, or explain in the explanation why they are safe.",
            )
            return {id(a) for a in _flatten(container)}
        if isinstance(container, StemContainer):
            import numpy as np

            values = np.asarray(container.markerline.get_ydata(orig=False), dtype=float)
            x = np.asarray(container.markerline.get_xdata(orig=False), dtype=float)
            self._values(values, _x_labels(ax, x), "stem plot", place, "stem")
            return {id(a) for a in _flatten(container)}
        return set()

    def _artist(self, ax: Axes, artist: Any, place: str) -> None:
        from matplotlib.collections import LineCollection, PathCollection, PolyCollection, QuadMesh
        from matplotlib.image import AxesImage
        from matplotlib.lines import Line2D
        from matplotlib.patches import Polygon, Rectangle, Shadow, Wedge
        from matplotlib.text import Text

        if isinstance(artist, (Text, Shadow)):
            return
        if isinstance(artist, Line2D):
            self._line(ax, artist, place)
        elif isinstance(artist, PathCollection):
            if len(artist.get_offsets()):
                self._scatter(len(artist.get_offsets()), f"the scatter plot in {place}")
        elif isinstance(artist, (QuadMesh, AxesImage)):
            self._cells(ax, artist, place)
        elif isinstance(artist, PolyCollection) and artist.get_array() is not None and len(artist.get_offsets()) > 1:
            self._hexbin(ax, artist, place)
        elif isinstance(artist, (PolyCollection, Polygon)):
            self._unknown_counts(
                f"A filled area in {place} (a band, density or violin) shows values whose counts are unknown.",
                f"the filled area in {place}",
                "Explain what the area shows and how many observations are behind it, or leave it out.",
            )
        elif isinstance(artist, Wedge):
            self._unknown_counts(
                f"The pie chart in {place} was not drawn with Axes.pie, so the counts behind its wedges are unknown.",
                f"the pie chart in {place}", "Draw it with ax.pie(counts) from a table of counts.",
            )
        elif isinstance(artist, Rectangle) and _off_data(ax, artist):
            self._reference(f"the shaded band in {place}")
        elif isinstance(artist, LineCollection) and not len(artist.get_segments()):
            return
        else:
            self.unknown(artist, place)

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

    def _reference(self, what: str) -> None:
        self._unknown_counts(
            f"{what[0].upper()}{what[1:]} marks a value whose counts are unknown (a mean, a percentile?).",
            what, "Say in the explanation what the line or band shows and how many observations are behind it.",
        )

    def _unknown_counts(self, message: str, where: str, fix: str) -> None:
        self.data_artists += 1
        self.add("unknown_counts", self.rules.unknown_counts, message, where, fix)

    def _scatter(self, points: int, where: str) -> None:
        self.data_artists += 1
        self.drawn.append(points)
        self.add(
            "microdata", "fail",
            f"{where[0].upper()}{where[1:]} shows {points:,} separate points; each raw point is one unit's values.",
            where,
            "Show aggregates instead: a 2D histogram or hexbin with at least "
            f"{self.rules.threshold} observations per cell, or binned means as a line.",
        )

    def _line(self, ax: Axes, line: Any, place: str) -> None:
        import numpy as np

        x = np.asarray(line.get_xdata(orig=False), dtype=float)
        y = np.asarray(line.get_ydata(orig=False), dtype=float)
        if not y.size:
            return
        if _off_data(ax, line):
            if not (np.all(y == 0) or np.all(x == 0)):
                self._reference(f"the reference line in {place}")
            return
        if line.get_linestyle() in ("None", "", " ", "none") and line.get_marker() not in (None, "None", "", " "):
            return self._scatter(len(y), f"the points drawn with plot() in {place}")
        what = _named("line", 1, 1, line)
        xs = x[np.isfinite(x)]
        distinct = np.unique(xs).size
        if distinct < xs.size:
            return self._unknown_counts(
                f"The {what} in {place} has {xs.size:,} points at only {distinct:,} distinct x values, so it is not "
                "one summary value per x: it may join unit records (raw data drawn as a line, or a cumulative "
                "distribution of single values).",
                f"the {what} in {place}",
                f"Draw one aggregated value per x (counts, or means of at least {self.rules.threshold} "
                "observations), or explain in the explanation what the line shows and how many observations are "
                "behind each point.",
            )
        self._values(y, _x_labels(ax, x), what, place, "point")

    def _values(self, values: np.ndarray, label: Label, what: str, place: str, unit: str,
                zeros: bool = True) -> None:
        """Drawn values read like table cells: counts (whole numbers) are judged, other numbers are unknown.

        `label(i)` names value i for messages; it is asked only for the values a finding lists."""
        import numpy as np

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
        self._small(values, shown, label, what, place, unit, zeros)

    def _small(self, counts: np.ndarray, shown: np.ndarray, label: Label, what: str, place: str, unit: str,
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

    # the artists whose data was recorded

    def _hist(self, record: HistRecord, what: str, place: str) -> None:
        self.data_artists += 1
        self.recorded = True
        counts = record.counts
        self.drawn.append(int(counts.sum()))
        import numpy as np

        self._small(counts, np.arange(len(counts)), _numbered, what, place, "bin", zeros=False,
                    fix=f"Use wider bins, {SAFE_HIST}.")
        edges = record.edges
        span = record.data_max - record.data_min
        sides = [name for name, hit in (
            ("minimum", _at(edges[0], record.data_min, span)), ("maximum", _at(edges[-1], record.data_max, span)),
        ) if hit]
        if sides:
            self.add(
                "min_max", self.rules.min_max,
                f"The {what} in {place} has {'an outer edge' if len(sides) == 1 else 'its outer edges'} at the "
                f"data's {' and '.join(sides)}, so the figure reveals {'it' if len(sides) == 1 else 'them'}.",
                f"the outer bins of the {what} in {place}",
                "Give a range inside the data, e.g. ax.hist(x, range=(lo, hi)) with the 1st and 99th percentiles, "
                f"or {SAFE_HIST}.",
            )

    def _boxes(self, record: BoxRecord, parts: dict[int, set[str]], what: str, place: str) -> None:
        self.data_artists += 1
        self.recorded = True
        extremes, fliers = [], []
        for number, drawn in sorted(parts.items()):
            if "whiskers" in drawn and (record.low_at_min[number] or record.high_at_max[number]):
                extremes.append(f"box {number + 1}")
            if "fliers" in drawn:
                fliers.append(f"box {number + 1}")
        fix = "Use cbs_export_lab.figures.safe_boxplot(ax, data): whiskers at percentiles and no outlier points."
        self._box_sizes(record, sorted(parts), what, place)
        if extremes:
            self.add(
                "min_max", self.rules.min_max,
                f"The whiskers of {_listing(extremes)} of the {what} in {place} end at the data's minimum or maximum.",
                f"the whiskers of {_listing(extremes)} of the {what} in {place}",
                f"Draw whiskers at percentiles, e.g. ax.boxplot(x, whis=(5, 95), showfliers=False). {fix}",
            )
        if fliers:
            self.add(
                "min_max", self.rules.min_max,
                f"Outlier points are drawn for {_listing(fliers)} of the {what} in {place}: single units' values, "
                "including the minimum and maximum.",
                f"the outlier points of {_listing(fliers)} of the {what} in {place}",
                f"Leave the outliers out with showfliers=False. {fix}",
            )

    def _box_sizes(self, record: BoxRecord, boxes: list[int], what: str, place: str) -> None:
        import numpy as np

        if not record.sizes:
            self.add(
                "unknown_counts", self.rules.unknown_counts,
                f"The number of observations behind each box of the {what} in {place} is unknown; a box of few "
                "observations shows their values.",
                f"the boxes of the {what} in {place}",
                "Draw it with ax.boxplot or cbs_export_lab.figures.safe_boxplot, which know the size of each box, "
                "or state n per box and explain in the explanation.",
            )
            return
        sizes = np.array([record.sizes[box] for box in boxes])
        self.drawn.append(int(sizes.sum()))
        self._small(sizes, np.arange(len(boxes)), lambda i: str(boxes[i] + 1), what, place, "box", zeros=False,
                    fix=f"Draw boxes only for groups of at least {self.rules.threshold} observations; merge small groups.")

    def _pie(self, record: PieRecord, wedges: list[int], what: str, place: str) -> None:
        import numpy as np

        self.recorded = True
        values = np.asarray(record.values, dtype=float)[wedges]
        self._values(values, lambda i: str(wedges[i] + 1), what, place, "wedge")

    def _cells(self, ax: Axes, artist: Any, place: str) -> None:
        """Each cell of a heatmap, image or 2D histogram read as a table cell; hidden (masked) cells left out."""
        import numpy as np

        values = np.ma.masked_invalid(np.ma.asarray(artist.get_array(), dtype=float))
        if values.ndim != 2:
            return self.unknown(artist, place)
        record = getattr(artist, _HIST2D, None)
        shown = ~np.ma.getmaskarray(values)
        if record is not None:
            self.recorded = True
            what = "2D histogram"
            counts = np.asarray(record.counts, dtype=float).T
            self._hist2d_edges(record, what, place)
        else:
            what = "image" if type(artist).__name__ == "AxesImage" else "heatmap"
            counts = np.ma.getdata(values)
        rows, cols = np.nonzero(shown)
        self._values(counts[rows, cols], _cell_labels(ax, artist, rows, cols), what, place, "cell")

    def _hexbin(self, ax: Axes, artist: Any, place: str) -> None:
        import numpy as np

        values = np.asarray(artist.get_array(), dtype=float).ravel()
        self._values(values, _numbered, "hexbin plot", place, "hexagon")
        self.add(
            "min_max", "review",
            f"The hexagon grid of the hexbin plot in {place} may be laid out from the data's minimum and maximum.",
            f"the outer hexagons of the hexbin plot in {place}",
            "Give extent= inside the data (inner percentiles) and mincnt=10, or use ax.hist2d with a range.",
        )

    def _hist2d_edges(self, record: Hist2DRecord, what: str, place: str) -> None:
        hits = []
        for axis, edges, (low, high) in (("x", record.xedges, record.x_range), ("y", record.yedges, record.y_range)):
            span = high - low
            hits += [f"{side} of {axis}" for side, hit in (
                ("minimum", _at(edges[0], low, span)), ("maximum", _at(edges[-1], high, span))) if hit]
        if hits:
            self.add(
                "min_max", self.rules.min_max,
                f"The {what} in {place} has outer edges at the data's {', '.join(hits)}, so the figure shows them.",
                f"the outer cells of the {what} in {place}",
                "Give a range inside the data, e.g. ax.hist2d(x, y, range=[(x_lo, x_hi), (y_lo, y_hi)]) with inner "
                "percentiles, and cmin=10 to hide small cells.",
            )

    def _bars(self, ax: Axes, container: Any, place: str) -> None:
        import numpy as np

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
            self._values(heights, _numbered, what, place, "bin", zeros=False)
            self.add(
                "min_max", "review",
                f"The {what} in {place} was not drawn with Axes.hist, so it is unknown whether its outer edges are "
                "the data's minimum and maximum.",
                f"the outer bins of the {what} in {place}",
                f"Draw it with ax.hist(x, range=(lo, hi)) inside the data, or {SAFE_HIST}.",
            )
        else:
            what = "bar chart" + (f" '{label}'" if label and not label.startswith("_") else "")
            self._values(heights, lambda i: f"'{names(starts[i] + widths[i] / 2) or i + 1}'", what, place, "bar")


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
def _n_pattern() -> Any:
    import re

    number = r"(\d{1,3}(?:[.,\u00a0\u202f ]\d{3})+|\d+)(?!\d)(?![.,]\d)"
    return re.compile(rf"(?<![A-Za-z])[Nn]\s*[=:]\s*{number}")


# --- the safe versions --------------------------------------------------------------------------------------

def _rules_in_force(rules: Rules | None) -> Rules:
    from .settings import active_rules

    return rules if rules is not None else active_rules()


def _numbers(x: Any, name: str) -> np.ndarray:
    import numpy as np

    from .errors import UserError

    try:
        values = np.asarray(x, dtype=float).ravel()
    except (TypeError, ValueError):
        raise UserError(f"{name} must hold numbers; convert the column first (e.g. pd.to_numeric).") from None
    return values


def _require_axes(ax: Any, helper: str) -> None:
    from .errors import UserError

    install_hooks()
    if as_figure(ax) is None or not hasattr(ax, "hist"):
        raise UserError(
            f"{helper} draws on one Axes; pass ax from fig, ax = plt.subplots(), not a {type(ax).__name__}."
        )


def safe_hist(ax: Axes, x: Any, *, bins: int = 10, lower: float = 1, upper: float = 99, min_count: int | None = None,
              rules: Rules | None = None, **kw: Any) -> Any:
    """A histogram that passes the check: range inside the `lower`..`upper` percentiles (no edge at the
    data's minimum or maximum), small bins merged until every non-empty bin holds at least the threshold, and
    N written on the axes. Returns what `Axes.hist` returns."""
    import numpy as np

    from .errors import UserError

    _require_axes(ax, "safe_hist")
    rules = _rules_in_force(rules)
    minimum = rules.threshold if min_count is None else min_count
    if minimum < rules.threshold:
        raise UserError(f"min_count={min_count} is below the rules' threshold of {rules.threshold}; use at least that.")
    if "range" in kw:
        raise UserError("safe_hist chooses the range itself from lower= and upper=; leave out range=.")
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise UserError(f"bins must be a whole number of 1 or more, not {bins!r}.")
    if not 0 <= lower < upper <= 100:
        raise UserError(f"lower={lower} and upper={upper} must be percentiles with 0 <= lower < upper <= 100.")
    values = _numbers(x, "x")
    keep = np.isfinite(values)
    weights = kw.pop("weights", None)
    if weights is not None:
        weights = _numbers(weights, "weights")
        if weights.shape != values.shape:
            raise UserError(f"weights has {weights.size} values but x has {values.size}; give one weight per value.")
        keep &= np.isfinite(weights)
        weights = weights[keep]
    values = values[keep]
    if values.size < minimum:
        raise UserError(f"x has {values.size} numbers; a histogram needs at least {minimum} observations.")
    edges = _safe_edges(values, int(bins), lower, upper)
    edges = _merged_edges(values, edges, minimum)
    counts = np.histogram(values, bins=edges)[0]
    if counts.sum() < minimum:
        raise UserError(
            f"Only {counts.sum()} values lie between the {lower}th and {upper}th percentiles; a histogram needs at "
            f"least {minimum}. Widen lower/upper or draw a table instead."
        )
    result = ax.hist(values, bins=edges, weights=weights, **kw)
    _annotate(ax, int(counts.sum()))
    return result


def _safe_edges(values: np.ndarray, bins: int, lower: float, upper: float) -> np.ndarray:
    """Equal bins between two percentiles, moved half a bin outward where a percentile is the data's extreme."""
    import numpy as np

    from .errors import UserError

    low, high = (float(v) for v in np.percentile(values, [lower, upper]))
    if high <= low:
        raise UserError(
            f"The {lower}th and {upper}th percentiles of x are the same value; a histogram would show it. "
            "Widen lower/upper or use a table of counts instead."
        )
    width = (high - low) / bins
    if low <= values.min():
        low -= width / 2
    if high >= values.max():
        high += width / 2
    return np.linspace(low, high, bins + 1)


def _merged_edges(values: np.ndarray, edges: np.ndarray, minimum: int) -> np.ndarray:
    """Remove inner edges, smallest bin first, until every non-empty bin holds at least `minimum` values."""
    import numpy as np

    edges = list(edges)
    counts = list(np.histogram(values, bins=np.asarray(edges))[0])
    while len(counts) > 1:
        small = [i for i, n in enumerate(counts) if 0 < n < minimum]
        if not small:
            break
        i = min(small, key=lambda j: counts[j])
        neighbours = [j for j in (i - 1, i + 1) if 0 <= j < len(counts)]
        j = min(neighbours, key=lambda k: counts[k])
        left = min(i, j)
        counts[left: left + 2] = [counts[left] + counts[left + 1]]
        del edges[left + 1]
    return np.asarray(edges)


def safe_boxplot(ax: Axes, data: Any, *, whis: tuple[float, float] = (5, 95), rules: Rules | None = None,
                 **kw: Any) -> dict[str, list[Any]]:
    """A box plot that passes the check: whiskers at inner percentiles, no outlier points, N on the axes.

    `data` is one array-like, a list of them, a 2D array (one box per column), a DataFrame or a dict.
    Returns what `Axes.boxplot` returns."""
    from .errors import UserError

    _require_axes(ax, "safe_boxplot")
    rules = _rules_in_force(rules)
    if kw.get("showfliers"):
        raise UserError(
            "safe_boxplot never shows outlier points (they are single units' values); leave out showfliers."
        )
    if not (isinstance(whis, (tuple, list)) and len(whis) == 2 and 0 < whis[0] < whis[1] < 100):
        raise UserError(f"whis must be two percentiles strictly between 0 and 100, e.g. (5, 95), not {whis!r}.")
    names, groups = _groups(data)
    for name, group in zip(names, groups):
        if group.size < rules.threshold:
            where = f"group {name!r}" if name is not None else "the data"
            raise UserError(
                f"{where} has {group.size} numbers; a box plot needs at least {rules.threshold} observations per box."
            )
    if any(name is not None for name in names) and not ({"labels", "tick_labels"} & set(kw)):
        import inspect

        keyword = "tick_labels" if "tick_labels" in inspect.signature(ax.boxplot).parameters else "labels"  # < 3.9
        kw[keyword] = [f"{name}\n(n = {_format_n(g.size)})" for name, g in zip(names, groups)]
    result = ax.boxplot(groups, whis=tuple(whis), showfliers=False, **kw)
    _annotate(ax, int(sum(g.size for g in groups)))
    return result


def _groups(data: Any) -> tuple[list[Any], list[np.ndarray]]:
    import numpy as np

    from .errors import UserError

    if hasattr(data, "columns"):
        pairs = [(name, data[name]) for name in data.columns]
    elif isinstance(data, dict):
        pairs = list(data.items())
    else:
        try:
            array = np.asarray(data, dtype=float)
        except (TypeError, ValueError):
            array = None
        if array is not None and array.ndim <= 1:
            pairs = [(None, array)]
        elif array is not None and array.ndim == 2:
            pairs = [(None, column) for column in array.T]
        else:
            pairs = [(None, group) for group in data]
    if not pairs:
        raise UserError("safe_boxplot got no data; pass numbers, a list of groups, a DataFrame or a dict.")
    groups = [_finite(_numbers(values, f"group {name!r}" if name is not None else "data")) for name, values in pairs]
    return [name for name, _ in pairs], groups


def _annotate(ax: Axes, n: int) -> None:
    ax.text(0.98, 0.97, f"N = {_format_n(n)}", transform=ax.transAxes, ha="right", va="top")


# --- rendering for export -----------------------------------------------------------------------------------

def save_png(fig: Any, path: str | os.PathLike[str], *, dpi: int = 200) -> Path:
    """A flat (opaque RGB, single image) PNG at `dpi`, so a checker can read every label."""
    import io

    from PIL import Image

    figure, target = _export_target(fig, path, ".png")
    if isinstance(dpi, bool) or not isinstance(dpi, int) or not 100 <= dpi <= 1200:
        from .errors import UserError

        raise UserError(f"dpi must be a whole number from 100 to 1200 so a checker can read the figure, not {dpi!r}.")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, facecolor="white", transparent=False)
    buffer.seek(0)
    with Image.open(buffer) as image:
        flat = Image.new("RGB", image.size, "white")
        flat.paste(image, mask=image.getchannel("A") if "A" in image.getbands() else None)
    _write(target, lambda tmp: flat.save(tmp, format="PNG", dpi=(dpi, dpi)))
    return target


def save_pdf(fig: Any, path: str | os.PathLike[str]) -> Path:
    """The figure as a vector PDF on a white background."""
    figure, target = _export_target(fig, path, ".pdf")
    _write(target, lambda tmp: figure.savefig(tmp, format="pdf", facecolor="white", transparent=False))
    return target


def _export_target(fig: Any, path: str | os.PathLike[str], suffix: str) -> tuple[Figure, Path]:
    from pathlib import Path

    from .errors import UserError

    figure = as_figure(fig)
    if figure is None:
        raise UserError(
            f"Only a matplotlib Figure or Axes can be saved as {suffix[1:].upper()}, not a {type(fig).__name__}."
        )
    target = Path(path)
    if target.suffix.lower() != suffix:
        raise UserError(f"{target.name} must end in {suffix}; choose a file name like 'figuur_inkomen{suffix}'.")
    if not target.parent.is_dir():
        raise UserError(f"Folder {target.parent} does not exist; create it or choose another place for {target.name}.")
    return figure, target


def _write(target: Path, write: Callable[[Path], None]) -> None:
    from .atomic import atomic_path

    with atomic_path(target) as tmp:
        write(tmp)


install_hooks()
