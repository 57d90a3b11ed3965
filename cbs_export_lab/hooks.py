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
    for values, weight, artists in zip(datasets, weight_sets, groups, strict=True):
        values = _drawn(values, weight)
        if not values.size:
            continue
        counts = np.asarray(heights).astype(np.int64) if plain else np.histogram(values, bins=edges)[0]
        record = HistRecord(edges, counts, float(values.min()), float(values.max()))
        if not isinstance(artists, list):
            setattr(artists, HIST_ATTR, record)
        for artist in artists:
            setattr(artist, HIST_ATTR, record)


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
