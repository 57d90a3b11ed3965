"""The matplotlib recording hooks: what `Axes.hist`, `hist2d`, `bxp`, `boxplot` and `pie` were given.

Some facts a figure check needs are not in the drawn artists (whether a histogram's range is the data's own
range, the statistics behind a box plot, the values behind a pie), so those methods are wrapped transparently
and note them on the artists they draw. The wrapping happens when `matplotlib.axes` is first imported. This
module is imported with the package, so it imports only the standard library at module level; numpy and
matplotlib are used inside the wrappers, which only run once matplotlib is loaded.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import numpy as np

WRAPPED_ATTR = "_cbs_export_lab_wrapped"
HIST_ATTR = "_cbs_hist"
HIST2D_ATTR = "_cbs_hist2d"
BOX_ATTR = "_cbs_box"
PIE_ATTR = "_cbs_pie"
ECDF_ATTR = "_cbs_ecdf"
VIOLIN_ATTR = "_cbs_violin"
HEXBIN_ATTR = "_cbs_hexbin"
SEABORN_ATTR = "_cbs_seaborn"
LINEAGE_ATTR = "cbs_export_lab.frame"  # in a pandas frame's attrs: the frame lineage whose row labels name units


class HistRecord(NamedTuple):
    """One data set given to `Axes.hist`: its unweighted bin counts and its own minimum and maximum."""

    edges: Any
    counts: Any
    data_min: float
    data_max: float
    size: int = -1
    group: str = ""
    rows: Any = None  # the drawn values' row labels, when they came from a pandas Series
    frame: str | None = None  # that Series' lineage token (its frame's row labels name units)
    drawn: Any = None  # the drawn values, aligned with `rows`
    source: Any = None  # the frame given as data= when the values were named by a column


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


class DataRecord(NamedTuple):
    """The data behind an ECDF, a violin plot or a hexbin: units per group and what the drawing shows of it.

    `extremes` says the drawing reaches the data's minimum and maximum (an ECDF always does, a violin body spans
    them, a hexbin grid laid out without extent= starts at them); `counts` whether the drawn values are counts."""

    kind: str
    sizes: list[int]
    extremes: bool
    counts: bool = True


class SeabornRecord(NamedTuple):
    """What one seaborn plotting call drew on one subplot: per hue group its units, and for histograms the bins.

    `kind` is "hist", "density", "ecdf", "estimate", "count", "box", "violin" or "scatter"; `groups` maps a group's
    name ("" without hue) to its number of units; `hists` the histogram of each group; `extremes` the groups
    whose drawing reaches the data's minimum or maximum."""

    kind: str
    groups: dict[str, int]
    hists: list[HistRecord]
    extremes: list[str]


_HOOKED_MODULES = ("matplotlib.axes", "seaborn.distributions", "seaborn.categorical", "seaborn.regression")


def install_hooks() -> None:
    """Wrap the plotting methods of the modules already loaded, and of the others as soon as they are imported."""
    waiting = False
    for name in _HOOKED_MODULES:
        module = sys.modules.get(name)
        if module is not None and _loaded(module):
            _wrap_module(name, module)
        else:
            waiting = True
    if waiting and not any(isinstance(finder, _AxesImportHook) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AxesImportHook())


def _loaded(module: Any) -> bool:
    return (
        hasattr(module, "Axes")
        or hasattr(module, "_DistributionPlotter")
        or hasattr(module, "_CategoricalPlotter")
        or hasattr(module, "_RegressionPlotter")
    )


def _wrap_module(name: str, module: Any) -> None:
    if name == "matplotlib.axes":
        _wrap_axes(module.Axes)
    else:
        _wrap_seaborn(name, module)


class _AxesImportHook:
    """Lets the normal finders load a hooked module, then wraps its plotting methods right after the module ran."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in _HOOKED_MODULES:
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
        try:
            _wrap_module(module.__name__, module)
        except Exception:  # noqa: BLE001 - an unknown seaborn version stays unrecorded, which means review
            pass
        if self._hook in sys.meta_path and all(name in sys.modules for name in _HOOKED_MODULES):
            sys.meta_path.remove(self._hook)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


def _wrap_axes(axes_class: type) -> None:
    recorders = {
        "hist": _record_hist,
        "hist2d": _record_hist2d,
        "bxp": _record_bxp,
        "boxplot": _record_boxplot,
        "pie": _record_pie,
        "ecdf": _record_ecdf,
        "violinplot": _record_violinplot,
        "hexbin": _record_hexbin,
    }
    for name, recorder in recorders.items():
        method = axes_class.__dict__.get(name)
        if method is not None and not getattr(method, WRAPPED_ATTR, False):
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

    setattr(wrapper, WRAPPED_ATTR, True)
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
    x = _argument(args, "x")
    series = len(datasets) == 1 and hasattr(x, "index") and getattr(x, "ndim", 0) == 1
    source = args.get("data") if series and isinstance(args.get("x"), str) else None
    for values, weight, artists in zip(datasets, weight_sets, groups, strict=True):
        kept = _kept(values, weight)
        values = values if kept is None else values[kept]
        if not values.size:
            continue
        counts = np.asarray(heights).astype(np.int64) if plain else np.histogram(values, bins=edges)[0]
        rows = None if not series else x.index if kept is None else x.index[kept]
        record = HistRecord(
            edges,
            counts,
            float(values.min()),
            float(values.max()),
            int(values.size),
            "",
            rows,
            _lineage(x),
            values,
            source,
        )
        if not isinstance(artists, list):
            setattr(artists, HIST_ATTR, record)
        for artist in artists:
            setattr(artist, HIST_ATTR, record)


def _kept(values: np.ndarray, weights: np.ndarray | None) -> np.ndarray | None:
    """Which values a weighted plot draws (None: all): a value of weight 0 adds nothing to its bin, so it is no
    unit there; NaN and infinite values are not drawn."""
    import numpy as np

    if weights is None and np.isfinite(values.sum()):
        return None  # all finite: no copy (a 1M-value histogram stays cheap)
    keep = np.isfinite(values)
    if weights is not None:
        if weights.shape != values.shape:
            raise ValueError("weights do not match the data")
        keep &= weights != 0
    return keep


def _lineage(x: Any) -> str | None:
    """The lineage token of a pandas object (its row labels then name units), else None."""
    attrs = getattr(x, "attrs", None)
    token = attrs.get(LINEAGE_ATTR) if isinstance(attrs, dict) else None
    return token if isinstance(token, str) else None


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
        np.asarray(xedges, float),
        np.asarray(yedges, float),
        counts,
        (float(x.min()), float(x.max())),
        (float(y.min()), float(y.max())),
    )
    setattr(mesh, HIST2D_ATTR, record)


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
            setattr(artist, BOX_ATTR, (record, box, part))


def _record_boxplot(args: dict[str, Any], result: dict[str, list[Any]]) -> None:
    """`Axes.boxplot` has the data that `bxp` (already recorded inside it) never sees: the size of each box."""
    record = getattr(result["medians"][0], BOX_ATTR)[0]
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
        setattr(wedge, PIE_ATTR, (record, i))


def _record_ecdf(args: dict[str, Any], result: Any) -> None:
    import numpy as np

    values = _finite(np.asarray(_argument(args, "x"), dtype=float).ravel())
    setattr(result, ECDF_ATTR, DataRecord("ecdf", [int(values.size)], True))


def _record_violinplot(args: dict[str, Any], result: dict[str, Any]) -> None:
    """A violin body is the density between the data's own minimum and maximum, so it always shows them."""
    sizes = [int(_finite(values).size) for values in _datasets(_argument(args, "dataset"))]
    record = DataRecord("violin", sizes, True)
    for artists in result.values():
        for artist in artists if isinstance(artists, list) else [artists]:
            setattr(artist, VIOLIN_ATTR, record)


def _record_hexbin(args: dict[str, Any], result: Any) -> None:
    import numpy as np

    x = np.asarray(_argument(args, "x"), dtype=float).ravel()
    y = np.asarray(_argument(args, "y"), dtype=float).ravel()
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    extent = args.get("extent")
    at_extremes = extent is None
    if extent is not None and x.size:
        x_lo, x_hi, y_lo, y_hi = (float(v) for v in extent)
        at_extremes = x_lo == x.min() or x_hi == x.max() or y_lo == y.min() or y_hi == y.max()
    plain = args.get("C") is None and args.get("bins") in (None, "log")
    setattr(result, HEXBIN_ATTR, DataRecord("hexbin", [int(x.size)], bool(at_extremes), plain))


# --- seaborn: what its plotters drew, per subplot and hue group ---------------------------------------------

# plotter method -> kind of record; "consumed" kinds are judged from the record alone, so their artists are not
# read one by one (a bar chart of means with error bars is one estimate, not five lines)
_SEABORN_METHODS = {
    "seaborn.distributions": (
        "_DistributionPlotter",
        {
            "plot_univariate_histogram": "hist",
            "plot_univariate_density": "density",
            "plot_univariate_ecdf": "ecdf",
            "plot_bivariate_density": "density",
        },
    ),
    "seaborn.categorical": (
        "_CategoricalPlotter",
        {
            "plot_bars": "estimate",
            "plot_points": "estimate",
            "plot_boxes": "box",
            "plot_violins": "violin",
            "plot_strips": "scatter",
            "plot_swarms": "scatter",
        },
    ),
    "seaborn.regression": ("_RegressionPlotter", {"plot": "regression"}),
}
CONSUMED = frozenset({"hist", "density", "ecdf", "estimate", "violin", "regression"})


def _wrap_seaborn(name: str, module: Any) -> None:
    class_name, methods = _SEABORN_METHODS[name]
    plotter = getattr(module, class_name)
    for method_name, kind in methods.items():
        method = plotter.__dict__.get(method_name)
        if method is not None and not getattr(method, WRAPPED_ATTR, False):
            setattr(plotter, method_name, _seaborn_recording(method, kind))


def _seaborn_recording(method: Callable[..., Any], kind: str) -> Callable[..., Any]:
    """The plotter method unchanged; afterwards each artist it added carries the record of its subplot."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            axes = _plotter_axes(self, args, kwargs)
            before = {id(ax): {id(a) for a in _all_artists(ax)} for ax in axes}
        except Exception:  # noqa: BLE001 - a plot must never break because of us; unrecorded means review
            axes, before = [], {}
        result = method(self, *args, **kwargs)
        try:
            _note_seaborn(self, kind, axes, before, args, kwargs)
        except Exception:  # noqa: BLE001
            pass
        return result

    setattr(wrapper, WRAPPED_ATTR, True)
    return wrapper


def _plotter_axes(plotter: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Any]:
    if type(plotter).__name__ == "_RegressionPlotter":
        return [kwargs.get("ax", args[0] if args else None)]
    facets = getattr(plotter, "facets", None)
    if facets is not None:
        return list(facets.axes.flat)
    return [plotter.ax]


def _all_artists(ax: Any) -> list[Any]:
    artists = list(ax.get_children())
    for container in ax.containers:
        artists += [a for a in _flat(container) if hasattr(a, "get_visible")]
    return artists


def _flat(items: Any) -> list[Any]:
    out = []
    for item in items:
        out += _flat(item) if isinstance(item, (list, tuple)) else [item]
    return out


def _note_seaborn(
    plotter: Any, kind: str, axes: list[Any], before: dict[int, set[int]], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    records = _seaborn_records(plotter, kind, axes, kwargs)
    call = object()
    for ax in axes:
        record = records.get(id(ax), SeabornRecord(kind, {}, [], []))
        for artist in _all_artists(ax):
            if id(artist) not in before.get(id(ax), set()):
                setattr(artist, SEABORN_ATTR, (record, call))


def _seaborn_records(plotter: Any, kind: str, axes: list[Any], kwargs: dict[str, Any]) -> dict[int, SeabornRecord]:
    """Per subplot: the units of each group the call drew, and for a histogram its bins as seaborn computed them."""
    import numpy as np

    if kind == "regression":
        x, y = (np.asarray(v, dtype=float) for v in (plotter.x, plotter.y))
        return {id(axes[0]): SeabornRecord(kind, {"": int((np.isfinite(x) & np.isfinite(y)).sum())}, [], [])}
    categorical = any(cls.__name__ == "_CategoricalPlotter" for cls in type(plotter).__mro__)
    value = _value_variable(plotter, kind, categorical)
    if (
        categorical
        and kind == "estimate"
        and plotter.variables.get(value) in ("count", "percent", "probability", "proportion")
    ):
        kind = "count"
    out: dict[int, SeabornRecord] = {}
    hist = _seaborn_bins(plotter, kwargs) if kind == "hist" else None
    for sub_vars, sub_data in plotter.iter_data("hue", from_comp_data=not categorical):
        ax = plotter._get_axes(sub_vars)
        record = out.setdefault(id(ax), SeabornRecord(kind, {}, [], []))
        for name, values in _seaborn_groups(plotter, sub_vars, sub_data, value, categorical):
            record.groups[name] = record.groups.get(name, 0) + int(len(values))
            if hist is not None and values.size:
                counts, edges = np.histogram(values, **hist(sub_data))
                record.hists.append(
                    HistRecord(edges, counts, float(values.min()), float(values.max()), int(values.size), name)
                )
            if _reaches_extremes(kind, kwargs):
                record.extremes.append(name)
    return out


def _value_variable(plotter: Any, kind: str, categorical: bool) -> str:
    if categorical:
        return {"x": "y", "y": "x"}[plotter.orient]
    if kind == "density" and "y" in plotter.variables and "x" in plotter.variables:
        return "x"
    return plotter.data_variable


def _seaborn_groups(
    plotter: Any, sub_vars: dict[str, Any], sub_data: Any, value: str, categorical: bool
) -> list[tuple[str, Any]]:
    """(name, values) per group drawn: per category of a categorical plot, per hue level, per facet."""
    import numpy as np

    base = _group_name(plotter, sub_vars)
    if value not in sub_data:
        return [(base, np.ones(len(sub_data)))]
    if not categorical or plotter.orient not in sub_data:
        return [(base, _numbers(sub_data[value]))]
    column = plotter.variables.get(plotter.orient)
    label = column if isinstance(column, str) else plotter.orient
    groups = []
    for level, part in sub_data.groupby(plotter.orient, sort=False, observed=True):
        name = f"{label} = {level}" + (f", {base}" if base else "")
        groups.append((name, _numbers(part[value])))
    return groups


def _numbers(column: Any) -> np.ndarray:
    import numpy as np

    try:
        values = np.asarray(column, dtype=float)
    except (TypeError, ValueError):
        return np.asarray(column.dropna())
    return values[np.isfinite(values)]


def _seaborn_bins(plotter: Any, kwargs: dict[str, Any]) -> Callable[[Any], dict[str, Any]]:
    from seaborn._stats.counting import Hist

    estimator = Hist(**kwargs["estimate_kws"])
    orient = plotter.data_variable
    if kwargs.get("common_bins", True) and set(plotter.variables) - {"x", "y"}:
        common = estimator._define_bin_params(plotter.comp_data.dropna(), orient, None)
        return lambda sub_data: common
    return lambda sub_data: estimator._define_bin_params(sub_data, orient, None)


def _reaches_extremes(kind: str, kwargs: dict[str, Any]) -> bool:
    """An ECDF steps at every value; a density or violin cut at 0 ends at the data's minimum and maximum."""
    if kind == "ecdf":
        return True
    if kind == "density":
        return kwargs.get("estimate_kws", {}).get("cut", 3) == 0
    if kind == "violin":
        return (kwargs.get("kde_kws") or {}).get("cut", 2) == 0
    return False


def _group_name(plotter: Any, sub_vars: dict[str, Any]) -> str:
    names = []
    for var, level in sub_vars.items():
        if var in ("col", "row"):
            continue
        column = plotter.variables.get(var)
        names.append(f"{column if isinstance(column, str) else var} = {level}")
    return ", ".join(names)


# --- a cheap first test for a figure ------------------------------------------------------------------------


def might_be_figure(obj: Any) -> bool:
    """False when `checks.figure.as_figure` is sure to find no figure: the object (or the first item of a list or
    array) is of no matplotlib class and no seaborn grid. By type alone, so `check.kind_of` imports nothing."""
    if "matplotlib.figure" not in sys.modules:
        return False
    if type(obj).__name__ == "ndarray" or isinstance(obj, (list, tuple)):
        first = next(iter(obj.flat if hasattr(obj, "flat") else obj), None)
        return first is not None and _of_matplotlib(type(first))
    return _of_matplotlib(type(obj)) or (type(obj).__module__ or "").startswith("seaborn")


def _of_matplotlib(cls: type) -> bool:
    return any((getattr(c, "__module__", None) or "").startswith("matplotlib") for c in cls.__mro__)


install_hooks()
