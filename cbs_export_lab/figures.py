"""The safe versions of the figures users want most, and figures rendered for export.

`safe_hist` and `safe_boxplot` draw what the figure check passes (ranges and whiskers inside the data, small
bins merged, N on the axes); `save_png` and `save_pdf` write the flat renderings a checker can read. The check
itself is `cbs_export_lab.checks.figure`; the recording hooks it relies on are `cbs_export_lab.hooks`.
"""

from __future__ import annotations

import inspect
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from .atomic import atomic_path
from .checks.figure import as_figure, format_n
from .errors import UserError
from .hooks import install_hooks
from .settings import active_rules

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .rules import Rules


# --- the safe versions --------------------------------------------------------------------------------------


def _rules_in_force(rules: Rules | None) -> Rules:
    return rules if rules is not None else active_rules()


def _numbers(x: Any, name: str) -> np.ndarray:
    try:
        values = np.asarray(x, dtype=float).ravel()
    except (TypeError, ValueError):
        raise UserError(f"{name} must hold numbers; convert the column first (e.g. pd.to_numeric).") from None
    return values


def _require_axes(ax: Any, helper: str) -> None:
    install_hooks()
    if as_figure(ax) is None or not hasattr(ax, "hist"):
        raise UserError(
            f"{helper} draws on one Axes; pass ax from fig, ax = plt.subplots(), not a {type(ax).__name__}."
        )


def safe_hist(
    ax: Axes,
    x: Any,
    *,
    bins: int = 10,
    lower: float = 1,
    upper: float = 99,
    min_count: int | None = None,
    rules: Rules | None = None,
    **kw: Any,
) -> Any:
    """A histogram that passes the check: range inside the `lower`..`upper` percentiles (no edge at the
    data's minimum or maximum), small bins merged until every non-empty bin holds at least the threshold, and
    N written on the axes. Returns what `Axes.hist` returns."""
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
    series = hasattr(x, "iloc") and getattr(x, "ndim", 0) == 1  # drawn as a Series, its rows stay known (differencing)
    result = ax.hist(x.iloc[np.flatnonzero(keep)] if series else values, bins=edges, weights=weights, **kw)
    _annotate(ax, int(counts.sum()))
    return result


def _safe_edges(values: np.ndarray, bins: int, lower: float, upper: float) -> np.ndarray:
    """Equal bins between two percentiles, moved half a bin outward where a percentile is the data's extreme."""
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
        counts[left : left + 2] = [counts[left] + counts[left + 1]]
        del edges[left + 1]
    return np.asarray(edges)


def safe_boxplot(
    ax: Axes, data: Any, *, whis: tuple[float, float] = (5, 95), rules: Rules | None = None, **kw: Any
) -> dict[str, list[Any]]:
    """A box plot that passes the check: whiskers at inner percentiles, no outlier points, N on the axes.

    `data` is one array-like, a list of them, a 2D array (one box per column), a DataFrame or a dict.
    Returns what `Axes.boxplot` returns."""
    _require_axes(ax, "safe_boxplot")
    rules = _rules_in_force(rules)
    if kw.get("showfliers"):
        raise UserError(
            "safe_boxplot never shows outlier points (they are single units' values); leave out showfliers."
        )
    if not (isinstance(whis, (tuple, list)) and len(whis) == 2 and 0 < whis[0] < whis[1] < 100):
        raise UserError(f"whis must be two percentiles strictly between 0 and 100, e.g. (5, 95), not {whis!r}.")
    names, groups = _groups(data)
    for name, group in zip(names, groups, strict=True):
        if group.size < rules.threshold:
            where = f"group {name!r}" if name is not None else "the data"
            raise UserError(
                f"{where} has {group.size} numbers; a box plot needs at least {rules.threshold} observations per box."
            )
    if any(name is not None for name in names) and not ({"labels", "tick_labels"} & set(kw)):
        keyword = "tick_labels" if "tick_labels" in inspect.signature(ax.boxplot).parameters else "labels"  # < 3.9
        kw[keyword] = [f"{name}\n(n = {format_n(g.size)})" for name, g in zip(names, groups, strict=True)]
    result = ax.boxplot(groups, whis=tuple(whis), showfliers=False, **kw)
    _annotate(ax, int(sum(g.size for g in groups)))
    return result


def _groups(data: Any) -> tuple[list[Any], list[np.ndarray]]:
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
    groups = [_numbers(values, f"group {name!r}" if name is not None else "data") for name, values in pairs]
    groups = [group[np.isfinite(group)] for group in groups]
    return [name for name, _ in pairs], groups


def _annotate(ax: Axes, n: int) -> None:
    ax.text(0.98, 0.97, f"N = {format_n(n)}", transform=ax.transAxes, ha="right", va="top")


# --- rendering for export -----------------------------------------------------------------------------------


def save_png(fig: Any, path: str | os.PathLike[str], *, dpi: int = 200) -> Path:
    """A flat (opaque RGB, single image) PNG at `dpi`, so a checker can read every label."""
    figure, target = _export_target(fig, path, ".png")
    if isinstance(dpi, bool) or not isinstance(dpi, int) or not 100 <= dpi <= 1200:
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
    with atomic_path(target) as tmp:
        write(tmp)
