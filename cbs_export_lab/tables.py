"""`crosstab` and `pivot_table` as in pandas, returning tables that carry their cell statistics, and their check.

The table a researcher sees is pandas' own: the cell values are computed in one grouped pass over factorized
keys (see `cellstats`), and pandas lays them out from a frame with one row per observed cell, so labels, order,
margins and fill values follow pandas exactly. The statistics travel in `table.attrs` and are trusted only while
the table's labels and values are those they were computed for.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
from pandas.api.types import is_hashable, is_integer_dtype, is_list_like, is_numeric_dtype

from .cellstats import (
    FREQUENCY, KEEP_LARGEST, CellStats, alone_in_line, Grid, Groups, bordered, grid_labels, grouped_stats, label_positions, summed,
    take_grid,
)
from . import differencing
from .errors import UserError
from .results import CheckResult, Counts, Finding, format_cells, format_label
from .rules import Rules
from .settings import active_rules

STATS_ATTR = "cbs_export_lab.cell_stats"
MAX_CELLS = 20_000_000
_NAMED = ("count", "size", "sum", "mean", "median", "std", "var", "min", "max")
_WEIGHTABLE = ("count", "size", "sum", "mean")
_CROSSTAB_VALUES = "__v"  # crosstab's values have no name of their own


class Quantile:
    """`aggfunc=quantile(q)`: a quantile that pandas can apply too and that the checks recognise."""

    def __init__(self, q: float) -> None:
        if not 0 <= q <= 1:
            raise UserError(f"quantile({q!r}): q must be between 0 and 1, e.g. quantile(0.5) for the median.")
        self.q = float(q)
        self.__name__ = f"quantile_{self.q:g}"

    def __call__(self, values: pd.Series) -> float:
        return values.quantile(self.q)

    def __repr__(self) -> str:
        return f"quantile({self.q:g})"


def quantile(q: float) -> Quantile:
    """`aggfunc=quantile(0.9)` for a table of 90th percentiles (quantile(0) and quantile(1) are min and max)."""
    return Quantile(q)


# --- arguments --------------------------------------------------------------------------------------------

def _statistic(aggfunc: Any) -> tuple[str | None, float | None]:
    """Our name for an aggfunc pandas understands, or (None, None) when we cannot tell what it computes."""
    if aggfunc is None or aggfunc is len:
        return ("count" if aggfunc is None else "size"), None
    if isinstance(aggfunc, Quantile):
        return "quantile", aggfunc.q
    if isinstance(aggfunc, str):
        if aggfunc in _NAMED:
            return aggfunc, None
        if aggfunc == "quantile":
            return "quantile", 0.5
    return None, None


def _column_or_array(data: pd.DataFrame | None, arg: Any, what: str, n: int, index: pd.Index | None) -> tuple[np.ndarray, str]:
    """`unit=` / `weights=`: a column name of `data`, or an array-like aligned with the rows."""
    if isinstance(arg, str):
        if data is None:
            raise UserError(f"{what}={arg!r} is a column name, but there is no data frame to take it from. "
                            f"Pass the column itself, e.g. {what}=df[{arg!r}].")
        if arg not in data.columns:
            raise UserError(f"{what}={arg!r}: the data has no column {arg!r}. Columns: {', '.join(map(str, data.columns))}.")
        return np.asarray(data[arg]), arg
    if isinstance(arg, pd.Series) and index is not None and not arg.index.equals(index):
        missing = int((~index.isin(arg.index)).sum())
        if missing:
            raise UserError(f"{what}= has no value for {missing:,} of the {len(index):,} rows of the table's data. "
                            "Pass a column of the same data (one value per row).")
        arg = _aligned(arg, index)
    values = np.asarray(arg)
    if values.ndim != 1 or len(values) != n:
        raise UserError(f"{what}= has {len(values) if values.ndim == 1 else values.shape} values but the data has "
                        f"{n} rows. Pass a column of the same data (one value per row).")
    name = getattr(arg, "name", None)
    return values, (f"{name}" if name is not None else f"the {what}= values")


def _common_index(series: list[pd.Series]) -> pd.Index | None:
    """The rows all key Series share, as pandas' crosstab aligns them."""
    if not series:
        return None
    common = series[0].index
    for s in series[1:]:
        if not s.index.equals(common):
            common = common.intersection(s.index, sort=False)
    return common


def _aligned(values: Any, index: pd.Index) -> Any:
    if not isinstance(values, pd.Series) or values.index.equals(index):
        return values
    if not values.index.is_unique:
        raise UserError(f"{values.name or 'A column'} cannot be lined up with the other columns: its index has "
                        "duplicate labels. Pass columns of one data frame, or reset the index first.")
    return values.reindex(index)


def _weights(values: np.ndarray) -> np.ndarray:
    if not is_numeric_dtype(values.dtype):
        raise UserError("weights= must be numbers (one weight per row).")
    w = values.astype(float, copy=False)
    if np.isnan(w).any() or (w < 0).any():
        raise UserError("weights= contains missing or negative weights. Give every row a weight of 0 or more.")
    return w


@dataclass
class _Key:
    """One grouping key, factorized: a code per row (-1: dropped) and how to turn codes back into labels."""

    codes: np.ndarray
    size: int
    labels: Callable[[np.ndarray], Any]


def _factor(values: Any, dropna: bool) -> _Key:
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = series.cat.codes.to_numpy().astype(np.int64)  # int8 codes would overflow when combined
        dtype = series.dtype
        n = len(dtype.categories)

        def labels(c: np.ndarray) -> Any:
            return pd.Categorical.from_codes(np.where(c >= n, -1, c), dtype=dtype)
    else:
        codes, uniques = pd.factorize(series, sort=True)
        codes = codes.astype(np.int64)
        n = len(uniques)

        def labels(c: np.ndarray) -> Any:
            return uniques.take(np.where(c >= n, -1, c), allow_fill=True)
    if not dropna and (codes < 0).any():
        codes = np.where(codes < 0, n, codes)
        return _Key(codes, n + 1, labels)
    return _Key(codes, n, labels)


def _unit_codes(values: np.ndarray, name: str | None) -> tuple[np.ndarray, int]:
    """A code per row for the unit ids; whole-number ids in a compact range are their own codes (no hashing)."""
    if values.dtype.kind in "iu" and values.size:
        low, high = int(values.min()), int(values.max())
        if low >= 0 and high < 4 * values.size + 1024:
            return values.astype(np.int64, copy=False), high + 1
    codes, uniques = pd.factorize(values)
    if (codes < 0).any():
        raise UserError(f"unit= ({name}) has missing values. Every row needs a unit id.")
    return codes.astype(np.int64), max(1, len(uniques))


def _combine(keys: Sequence[_Key], valid: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """One group id per valid row for several keys, and each key's code per group."""
    sizes = [k.size for k in keys]
    everything = bool(valid.all())
    flat = keys[0].codes if everything else keys[0].codes[valid]
    for k in keys[1:]:
        flat = flat * k.size + (k.codes if everything else k.codes[valid])
    span = int(np.prod(sizes, dtype=float))
    if span <= 1 << 24:
        present = np.flatnonzero(np.bincount(flat, minlength=span))
        group = flat
        if present.size < span:
            remap = np.full(span, -1, dtype=np.int64)
            remap[present] = np.arange(present.size)
            group = remap[flat]
    else:
        group, present = pd.factorize(flat, sort=True)
        present = np.asarray(present)
    per_key = np.unravel_index(present, sizes)
    return group.astype(np.int64, copy=False), [np.asarray(c, dtype=np.int64) for c in per_key]


# --- the table and its statistics --------------------------------------------------------------------------

@dataclass
class _Spec:
    """One table request, whichever builder it came from: keys, their names, values, unit ids and weights."""

    rows: list[Any]
    cols: list[Any]
    row_names: list[Any]
    col_names: list[Any]
    values: Any
    value_name: Any
    unit: np.ndarray | None
    unit_name: str | None
    weights: np.ndarray | None
    source: str


def _display(stat: str, q: float | None, group: np.ndarray, n: int, x: np.ndarray | None,
             w: np.ndarray | None) -> np.ndarray:
    """The table's value per group, as pandas computes it (weighted when weights are given)."""
    if stat in FREQUENCY:
        return np.bincount(group, minlength=n) if w is None else np.bincount(group, w, minlength=n)
    if stat == "sum":
        return np.bincount(group, x, minlength=n) if w is None else np.bincount(group, w * x, minlength=n)
    if stat == "mean":
        with np.errstate(divide="ignore", invalid="ignore"):
            if w is None:
                return np.bincount(group, x, minlength=n) / np.bincount(group, minlength=n)
            return np.bincount(group, w * x, minlength=n) / np.bincount(group, w, minlength=n)
    grouped = pd.Series(x).groupby(group)
    out = grouped.quantile(q) if stat == "quantile" else grouped.agg(stat)
    return out.reindex(range(n)).to_numpy()


def _values_with_margins(stat: str, q: float | None, cell: np.ndarray, R: int, C: int,
                         x: np.ndarray | None, w: np.ndarray | None) -> np.ndarray:
    """The table's values per cell and per margin; additive statistics get their margins from the cells."""
    if stat in FREQUENCY or stat in ("sum", "mean"):
        if stat in FREQUENCY:
            top = np.bincount(cell, w, minlength=R * C) if w is not None else np.bincount(cell, minlength=R * C)
        else:
            top = np.bincount(cell, x if w is None else w * x, minlength=R * C)
        parts = [top.reshape(R, C)]
        if stat == "mean":
            bottom = np.bincount(cell, w, minlength=R * C) if w is not None else np.bincount(cell, minlength=R * C)
            parts.append(bottom.reshape(R, C))
        sums = [summed(p) for p in parts]
        if stat != "mean":
            return sums[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            return sums[0] / sums[1]
    zero = np.zeros(len(cell), dtype=np.int64)
    return bordered(_display(stat, q, cell, R * C, x, w).reshape(R, C), _display(stat, q, cell // C, R, x, w),
                    _display(stat, q, cell % C, C, x, w), _display(stat, q, zero, 1, x, w)[0])


def _margin_label(names: Sequence[Any], margins_name: Any) -> Any:
    return margins_name if len(names) <= 1 else (margins_name,) + ("",) * (len(names) - 1)


def _build(spec: _Spec, stat: str | None, q: float | None, *, aggfunc: Any, margins: bool, margins_name: Any,
           dropna: bool, fill_value: Any, observed: bool, sort: bool, pandas_table: Callable[[], pd.DataFrame],
           ranks: int) -> tuple[pd.DataFrame, CellStats]:
    """Compute the cells in one pass, let pandas lay them out, and put the statistics on the table's labels."""
    n = len(spec.rows[0])
    row_keys = [_factor(k, dropna) for k in spec.rows]
    col_keys = [_factor(k, dropna) for k in spec.cols]
    valid = np.ones(n, dtype=bool)
    for k in row_keys + col_keys:
        valid &= k.codes >= 0
    rg, row_codes = _combine(row_keys, valid)
    cg, col_codes = _combine(col_keys, valid) if col_keys else (np.zeros(int(valid.sum()), np.int64), [])
    R = len(row_codes[0]) if row_codes else 1
    C = len(col_codes[0]) if col_codes else 1
    if R * C > MAX_CELLS:
        raise UserError(f"This table would have {R * C:,} cells; that is far too many to check or export. "
                        "Group the keys into fewer categories first.")

    subset = (lambda a: a) if valid.all() else (lambda a: a[valid])
    raw = None if spec.values is None else subset(np.asarray(spec.values))
    x = None
    keep = np.ones(len(rg), dtype=bool)
    if raw is not None:
        if stat not in FREQUENCY and not is_numeric_dtype(raw.dtype):
            what = "the values given hold" if spec.value_name == _CROSSTAB_VALUES else f"column {spec.value_name!r} holds"
            raise UserError(f"values= must be numbers for aggfunc {stat or aggfunc!r}, but {what} "
                            f"{raw.dtype} data. Pass a numeric column, or count rows without values=.")
        if is_numeric_dtype(raw.dtype):
            x = raw.astype(float, copy=False)
            if stat != "size":
                keep = ~np.isnan(x)
        else:
            keep = ~pd.isna(raw)
    magnitude = spec.values is not None and stat not in FREQUENCY
    w = None if spec.weights is None else subset(spec.weights)
    if w is not None and stat not in _WEIGHTABLE:
        raise UserError(f"weights= works with the count, size, sum and mean statistics, not {stat or aggfunc!r}. "
                        "Use a weighted count, sum or mean, or leave weights out.")
    only = (lambda a: a) if keep.all() else (lambda a: a[keep])
    unit = None
    n_units = 0
    if spec.unit is not None:
        unit_codes, n_units = _unit_codes(subset(spec.unit), spec.unit_name)
        unit = only(unit_codes)
    cell = rg * C + cg
    groups = Groups(cell=only(cell), n_rows=R, n_cols=C)
    grid = grouped_stats(groups, values=None if x is None else only(x), unit=unit, n_units=n_units,
                         weights=None if w is None else only(w), magnitude=magnitude, ranks=ranks)
    sketch = _sketch(spec, groups, subset, only)

    row_index = grid_labels(_labels(row_keys, row_codes), _margin_label(spec.row_names, margins_name))
    col_labels = _labels(col_keys, col_codes) if col_keys else [spec.value_name]
    col_index = grid_labels(col_labels, _margin_label(spec.col_names, margins_name))

    if stat is None or not sort or (isinstance(aggfunc, str) and aggfunc == "size"):
        # pandas' own layout: unknown functions, first-seen order, and "size" (which pandas lays out as a Series)
        table = pandas_table()
    else:
        table = _layout(spec, stat, q, cell, R, C, x, w, keep, row_keys, col_keys, row_codes, col_codes,
                        row_index, col_index, margins=margins, margins_name=margins_name, dropna=dropna,
                        fill_value=fill_value, observed=observed, sort=sort)

    stats = _grid_to_stats(grid, row_index, col_index, stat or getattr(aggfunc, "__name__", "custom"), q,
                           magnitude or stat is None, spec, table, margins_name, sketch)
    return table, stats


def _sketch(spec: _Spec, groups: Groups, subset: Callable, only: Callable) -> Any:
    """The units behind each cell for the differencing rule (unit ids, else the source frame's row labels)."""
    key = spec.rows[0]
    frame = differencing.lineage(key)
    labels = key.index if isinstance(key, pd.Series) and frame is not None and spec.unit is None else None
    if labels is not None:
        at = only(subset(np.arange(len(labels))))
        labels = labels if len(at) == len(labels) else labels.take(at)
    return differencing.grid_sketch(
        groups.cell, groups.n_rows, groups.n_cols, units=None if spec.unit is None else only(subset(spec.unit)),
        unit_name=spec.unit_name, row_labels=labels, frame=frame, threshold=active_rules().threshold)


def _labels(keys: Sequence[_Key], codes: Sequence[np.ndarray]) -> list[Any]:
    arrays = [list(k.labels(c)) for k, c in zip(keys, codes)]
    return arrays[0] if len(arrays) == 1 else list(zip(*arrays))


def _layout(spec: _Spec, stat: str, q: float | None, cell: np.ndarray, R: int, C: int,
            x: np.ndarray | None, w: np.ndarray | None, keep: np.ndarray, row_keys: list[_Key], col_keys: list[_Key],
            row_codes: list[np.ndarray], col_codes: list[np.ndarray], row_index: pd.Index, col_index: pd.Index, *,
            margins: bool, margins_name: Any, dropna: bool, fill_value: Any, observed: bool, sort: bool) -> pd.DataFrame:
    present = np.flatnonzero(np.bincount(cell, minlength=R * C))
    only = (lambda a: a) if stat == "size" or keep.all() else (lambda a: a[keep])
    kept = only(cell)
    xk = None if x is None else only(x)
    wk = None if w is None else only(w)
    value = _values_with_margins(stat, q, kept, R, C, xk, wk)
    names = [f"__r{i}" for i in range(len(row_keys))] + [f"__c{i}" for i in range(len(col_keys))]
    small = {}
    p_row, p_col = present // C, present % C
    for i, (k, c) in enumerate(zip(row_keys, row_codes)):
        small[names[i]] = k.labels(c[p_row])
    for i, (k, c) in enumerate(zip(col_keys, col_codes)):
        small[names[len(row_keys) + i]] = k.labels(c[p_col])
    inner = value[:R, :C].ravel()[present]
    source_dtype = None if spec.values is None else np.asarray(spec.values).dtype
    if w is None and stat in ("sum", "min", "max") and is_integer_dtype(source_dtype) and not np.isnan(inner).any():
        inner = inner.astype(np.int64 if stat == "sum" else source_dtype)  # pandas keeps whole numbers whole
    small["__v"] = inner
    frame = pd.DataFrame(small)
    layout_agg = "sum" if stat in FREQUENCY or stat == "sum" else "min" if stat == "min" else "max"
    table = frame.pivot_table(
        "__v", index=names[:len(row_keys)], columns=names[len(row_keys):] or None, aggfunc=layout_agg,
        fill_value=fill_value, margins=margins, margins_name=margins_name, dropna=dropna, observed=observed, sort=sort,
    )
    if margins:
        rows_at = label_positions(row_index, table.index)
        cols_at = label_positions(col_index, table.columns if col_keys else pd.Index([spec.value_name]))
        is_margin = _margin_mask(table.index, table.columns if col_keys else pd.Index([None]), margins_name)
        found = (rows_at >= 0)[:, None] & (cols_at >= 0)[None, :] & is_margin
        if found.any():
            margin_values = value.astype(float)
            if dropna:  # pandas computes margins on complete rows only: a margin without any is missing
                kept_per_cell = np.bincount(kept, minlength=R * C).reshape(R, C)
                margin_values[:R, C][kept_per_cell.sum(1) == 0] = np.nan
                margin_values[R, :C][kept_per_cell.sum(0) == 0] = np.nan
                if not len(kept):
                    margin_values[R, C] = np.nan
            mine = take_grid(margin_values, rows_at, cols_at, np.nan)
            table = table.copy()
            for j in np.flatnonzero(found.any(axis=0)):
                column = table.iloc[:, j]
                cells = column.to_numpy(dtype=float, copy=True)
                cells[found[:, j]] = mine[found[:, j], j]
                if column.dtype.kind in "iu" and not np.isnan(cells).any():
                    cells = cells.astype(column.dtype)
                table.isetitem(int(j), cells)
    if not col_keys:
        table.columns = pd.Index([spec.value_name])
    table = table.rename_axis(index=spec.row_names)
    if col_keys:
        table = table.rename_axis(columns=spec.col_names)
    return table


def _margin_mask(index: pd.Index, columns: pd.Index, margins_name: Any) -> np.ndarray:
    row_margin = np.array([_is_margin(label, margins_name) for label in index], dtype=bool)
    col_margin = np.array([_is_margin(label, margins_name) for label in columns], dtype=bool)
    return row_margin[:, None] | col_margin[None, :]


def _is_margin(label: Any, margins_name: Any) -> bool:
    if isinstance(label, tuple):
        return len(label) > 0 and label[0] == margins_name and all(x == "" for x in label[1:])
    return label == margins_name


def _grid_to_stats(grid: Grid, row_index: pd.Index, col_index: pd.Index, stat: str, q: float | None, magnitude: bool,
                   spec: _Spec, table: pd.DataFrame, margins_name: Any, sketch: Any = None) -> CellStats:
    on_grid = CellStats(
        index=row_index, columns=col_index, units=grid.units, rows=grid.rows, weighted=grid.weighted,
        top1=grid.largest[0], top2=grid.largest[1], abs_total=grid.abs_total, statistic=stat, magnitude=magnitude,
        is_margin=np.zeros(grid.units.shape, dtype=bool), unit_name=spec.unit_name,
        weighted_table=spec.weights is not None, source=spec.source,
        top_more=grid.largest[2:] if len(grid.largest) > 2 else None, quantile=q, observations=grid.observations,
        sketch=sketch,
    )
    stats = on_grid.align(table.index, table.columns)
    margin_columns = table.columns if spec.cols else pd.Index([None] * len(table.columns))
    stats.is_margin = _margin_mask(table.index, margin_columns, margins_name)
    return stats


# --- normalize (crosstab) -----------------------------------------------------------------------------------

def _normalize(table: pd.DataFrame, how: Any, margins: bool) -> pd.DataFrame:
    """Proportions as pandas' crosstab(normalize=...) gives them, margins included."""
    if isinstance(how, bool):
        how = "all"
    elif how in (0, 1) and not isinstance(how, str):
        how = {0: "index", 1: "columns"}[how]
    if how not in ("all", "index", "columns"):
        raise UserError(f"normalize={how!r} is not valid. Use True/'all', 'index' (or 0) or 'columns' (or 1).")

    def core(t: pd.DataFrame) -> pd.DataFrame:
        if how == "all":
            out = t / t.sum(axis=1).sum(axis=0)
        elif how == "columns":
            out = t / t.sum()
        else:
            out = t.div(t.sum(axis=1), axis=0)
        return out.fillna(0)

    if not margins:
        return core(table)
    inner = core(table.iloc[:-1, :-1])
    by_row = table.iloc[:-1, -1]
    by_col = table.iloc[-1, :-1]
    if how == "index":
        out = np.vstack([inner.to_numpy(), (by_col / by_col.sum()).to_numpy()[None, :]])
        return pd.DataFrame(out, index=table.index, columns=table.columns[:-1]).fillna(0)
    if how == "columns":
        out = np.hstack([inner.to_numpy(), (by_row / by_row.sum()).to_numpy()[:, None]])
        return pd.DataFrame(out, index=table.index[:-1], columns=table.columns).fillna(0)
    cells = np.zeros(table.shape)
    cells[:-1, :-1] = inner.to_numpy()
    cells[:-1, -1] = by_row / by_row.sum()
    cells[-1, :-1] = by_col / by_col.sum()
    cells[-1, -1] = 1.0
    return pd.DataFrame(cells, index=table.index, columns=table.columns).fillna(0)


# --- public builders ---------------------------------------------------------------------------------------

def _names(arrays: list[Any], given: Any, prefix: str) -> list[Any]:
    if given is not None:
        given = list(given) if is_list_like(given) else [given]
        if len(given) != len(arrays):
            raise UserError(f"{prefix}names has {len(given)} names for {len(arrays)} keys; give one name per key.")
        return given
    return [a.name if isinstance(a, pd.Series) and a.name is not None else f"{prefix}_{i}" for i, a in enumerate(arrays)]


def _as_list(keys: Any) -> list[Any]:
    if isinstance(keys, (pd.Series, np.ndarray, pd.Index, pd.Categorical)):
        return [keys]
    if is_list_like(keys) and len(keys) and all(is_list_like(k) and not isinstance(k, (str, tuple)) for k in keys):
        return list(keys)
    return [keys]


def crosstab(index: Any, columns: Any, values: Any = None, rownames: Any = None, colnames: Any = None,
             aggfunc: Any = None, margins: bool = False, margins_name: str = "All", dropna: bool = True,
             normalize: Any = False, *, unit: Any = None, weights: Any = None) -> pd.DataFrame:
    """`pd.crosstab` with the cell statistics attached; `unit=` counts distinct units, `weights=` weights the cells."""
    if values is None and aggfunc is not None:
        raise UserError("aggfunc= needs values=: pass the numbers to aggregate, e.g. values=df['inkomen'].")
    if values is not None and aggfunc is None:
        raise UserError("values= needs an aggfunc=, e.g. aggfunc='mean' or 'sum'.")
    rows, cols = _as_list(index), _as_list(columns)
    common = _common_index([a for a in rows + cols if isinstance(a, pd.Series)])
    if common is not None:
        rows, cols = ([_aligned(a, common) for a in keys] for keys in (rows, cols))
    lengths = {len(a) for a in rows + cols}
    if len(lengths) != 1:
        raise UserError(f"crosstab keys have different lengths {sorted(lengths)}; pass columns of one data frame.")
    n = lengths.pop()
    row_names, col_names = _names(rows, rownames, "row"), _names(cols, colnames, "col")
    unit_values, unit_name = (None, None) if unit is None else _column_or_array(None, unit, "unit", n, common)
    w = None if weights is None else _weights(_column_or_array(None, weights, "weights", n, common)[0])
    if values is not None:
        values = _column_or_array(None, values, "values", n, common)[0]
    if w is not None and values is None:
        stat_aggfunc: Any = None
    else:
        stat_aggfunc = aggfunc
    stat, q = _statistic(stat_aggfunc)
    what = " x ".join(map(format_label, row_names + col_names))
    source = f"cel.crosstab of {what}" + ("" if values is None else f", {stat or aggfunc} of the values")
    spec = _Spec(rows=rows, cols=cols,
                 row_names=row_names, col_names=col_names, values=values, value_name=_CROSSTAB_VALUES,
                 unit=unit_values, unit_name=unit_name, weights=w, source=source)

    def pandas_table() -> pd.DataFrame:
        return pd.crosstab(rows, cols, values, row_names, col_names, aggfunc, margins, margins_name, dropna)

    table, stats = _build(spec, stat, q, aggfunc=aggfunc, margins=margins, margins_name=margins_name, dropna=dropna,
                          fill_value=0 if values is None else None, observed=dropna, sort=True,
                          pandas_table=pandas_table, ranks=_ranks())
    if normalize is not False:
        table = _normalize(table, normalize, margins)
        stats = stats.align(table.index, table.columns)
        stats.normalized = str(normalize)
    return attach_stats(table, stats)


def _ranks() -> int:
    return max(KEEP_LARGEST, active_rules().dominance_n)


def pivot_table(data: pd.DataFrame, values: Any = None, index: Any = None, columns: Any = None, aggfunc: Any = "mean",
                fill_value: Any = None, margins: bool = False, dropna: bool = True, margins_name: str = "All",
                observed: bool = True, sort: bool = True, *, unit: Any = None, weights: Any = None) -> pd.DataFrame:
    """`pd.pivot_table` with the cell statistics attached; `unit=`/`weights=` are column names or arrays."""
    if not isinstance(data, pd.DataFrame):
        raise UserError(f"pivot_table needs a pandas DataFrame as data, not a {type(data).__name__}.")
    kwargs = dict(values=values, index=index, columns=columns, aggfunc=aggfunc, fill_value=fill_value,
                  margins=margins, dropna=dropna, margins_name=margins_name, observed=observed, sort=sort)
    rows = [] if index is None else (list(index) if is_list_like(index) and not isinstance(index, tuple) else [index])
    cols = [] if columns is None else (list(columns) if is_list_like(columns) and not isinstance(columns, tuple) else [columns])
    keys = rows + cols + ([values] if values is not None and not is_list_like(values) else [])
    by_name = all(is_hashable(k) and not isinstance(k, pd.Grouper) for k in keys)
    for key in keys if by_name else []:
        if key not in data.columns:
            raise UserError(f"pivot_table: the data has no column {key!r}. Columns: {', '.join(map(str, data.columns))}.")
    simple = (by_name and rows and values is not None and not is_list_like(values)
              and not isinstance(aggfunc, (list, dict)) and len(set(rows + cols)) == len(rows + cols))
    if not simple:
        if unit is not None or weights is not None:
            raise UserError("unit= and weights= work with one values= column, at least one index= column, column "
                            "names as keys and a single aggfunc. Build one table per value column.")
        return pd.pivot_table(data, **kwargs)  # checked later as a plain pandas table
    n = len(data)
    unit_values, unit_name = (None, None)
    rules = active_rules()
    differencing.track(data)  # row labels name units within this frame and the frames derived from it
    if unit is not None:
        unit_values, unit_name = _column_or_array(data, unit, "unit", n, data.index)
    else:
        key = linking_key_column(data, rules)
        if key is not None:
            unit_values, unit_name = np.asarray(data[key]), f"{key} (linking key in the source)"
    w = None if weights is None else _weights(_column_or_array(data, weights, "weights", n, data.index)[0])
    stat, q = _statistic(aggfunc)
    by = " x ".join(map(str, rows + cols))
    source = f"cel.pivot_table: {stat or getattr(aggfunc, '__name__', 'custom')} of {values} by {by}"
    spec = _Spec(rows=[data[k] for k in rows], cols=[data[k] for k in cols], row_names=rows, col_names=cols,
                 values=data[values].to_numpy(), value_name=values, unit=unit_values, unit_name=unit_name, weights=w,
                 source=source)
    table, stats = _build(spec, stat, q, aggfunc=aggfunc, margins=margins, margins_name=margins_name, dropna=dropna,
                          fill_value=fill_value, observed=observed, sort=sort,
                          pandas_table=lambda: pd.pivot_table(data, **kwargs),
                          ranks=max(KEEP_LARGEST, rules.dominance_n))
    return attach_stats(table, stats)


def linking_key_column(data: pd.DataFrame, rules: Rules) -> Any:
    """The source's linking-key column to count units on: the one with the most distinct values (so RINPERSOON,
    not the register type RINPERSOONS), judged on rows spread over the whole frame (a sorted frame's first rows
    could all be one person)."""
    keys = [c for c in data.columns if rules.is_linking_key(c)]
    if len(keys) <= 1:
        return keys[0] if keys else None
    sample = data[keys].iloc[:: max(1, len(data) // 20_000)]
    return max(keys, key=lambda c: sample[c].nunique())


def cell_stats(data: pd.DataFrame, index: list, columns: list, values: Any = None, aggfunc: Any = "count", *,
               unit: Any = None, weights: Any = None, margins: bool = False, dropna: bool = True,
               margins_name: str = "All") -> CellStats:
    """The statistics behind `pd.pivot_table(data, values, index, columns, aggfunc, ...)`, labelled like it.

    With `values=None` the cells are counts of rows. Use `CellStats.align` to put them on another table's labels.
    """
    index = list(index) if is_list_like(index) else [index]
    columns = list(columns or []) if is_list_like(columns) or columns is None else [columns]
    if not index:
        raise UserError("cell statistics need at least one row key (index=).")
    for key in index + columns + ([values] if values is not None else []):
        if key not in data.columns:
            raise UserError(f"cell statistics: the data has no column {key!r}.")
    if values is None:
        count_of = "__rows"
        data = data.assign(**{count_of: 0})
        table = pivot_table(data, values=count_of, index=index, columns=columns or None, aggfunc="size",
                            margins=margins, dropna=dropna, margins_name=margins_name, unit=unit, weights=weights)
    else:
        table = pivot_table(data, values=values, index=index, columns=columns or None, aggfunc=aggfunc,
                            margins=margins, dropna=dropna, margins_name=margins_name, unit=unit, weights=weights)
    stats = carried_stats(table)
    if stats is None:
        raise UserError(f"cell statistics cannot be computed for aggfunc {aggfunc!r} with these arguments.")
    return stats


# --- carrying statistics -----------------------------------------------------------------------------------

def _shown(table: pd.DataFrame) -> np.ndarray | None:
    """The table's numbers as floats, or None when some column does not hold numbers."""
    if not all(is_numeric_dtype(dtype) for dtype in table.dtypes):
        return None
    try:
        return table.to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError):
        return None


def _same_numbers(now: np.ndarray, then: np.ndarray) -> bool:
    """Equal, or `then` rounded as `DataFrame.round(decimals)` would (rounding changes no cell's meaning)."""
    if now.shape != then.shape:
        return False
    if np.array_equal(now, then, equal_nan=True):
        return True
    return any(np.array_equal(now, np.round(then, decimals), equal_nan=True) for decimals in range(-6, 10))


def attach_stats(table: pd.DataFrame, stats: CellStats) -> pd.DataFrame:
    """Put the statistics in `table.attrs`, with the numbers they belong to."""
    stats.shown = _shown(table)
    table.attrs[STATS_ATTR] = stats
    return table


def carried_stats(table: Any) -> CellStats | None:
    """The table's own statistics, or None when it has none or they no longer match its labels and numbers.

    pandas copies `attrs` through filtering, transposing and arithmetic, so a match is required every time; only
    rounding (`table.round(1)`) keeps the statistics valid.
    """
    attrs = getattr(table, "attrs", None)
    stats = attrs.get(STATS_ATTR) if isinstance(attrs, dict) else None
    if not isinstance(stats, CellStats) or not isinstance(table, pd.DataFrame) or stats.shown is None:
        return None
    if table.shape != stats.shape or not _same_labels(table.index, stats.index) or \
            not _same_labels(table.columns, stats.columns):
        return None
    now = _shown(table)
    return stats if now is not None and _same_numbers(now, stats.shown) else None


def _same_labels(a: pd.Index, b: pd.Index) -> bool:
    return a.equals(b) and list(a.names) == list(b.names)


# --- the check ---------------------------------------------------------------------------------------------

_MERGE_FIX = ("Merge categories (e.g. combine {example} with a neighbouring category) or suppress these cells; "
              "secondary suppression is needed so they cannot be recovered from the margins.")
_KNOWN_STATISTICS = FREQUENCY | {"sum", "mean", "median", "std", "var", "min", "max", "quantile"}


def _cells_finding(stats: CellStats, mask: np.ndarray, rule: str, severity: str, message: str,
                   fix: str | None = None) -> list[Finding]:
    """One finding for all cells in `mask` (none when it is empty); `message` may use {n}, the number of cells."""
    if not mask.any():
        return []
    rows, cols = np.nonzero(mask)
    row_labels, col_labels = stats.index.take(rows).tolist(), stats.columns.take(cols).tolist()
    cells = list(zip(row_labels, col_labels))
    example = format_label(cells[0][0])
    return [Finding(rule=rule, severity=severity, message=message.format(n=len(cells)), where=format_cells(cells),
                    fix=fix or _MERGE_FIX.format(example=example), cells=cells)]


def _whole_table(rule: str, severity: str, message: str, fix: str) -> Finding:
    return Finding(rule=rule, severity=severity, message=message, where="the whole table", fix=fix)


def check_with_stats(table: Any, stats: CellStats, rules: Rules) -> CheckResult:
    """Threshold, zero, dominance, p-percent and min/max, cell by cell, on statistics that match the table."""
    findings = [
        *_empty_table(stats, rules), *_threshold(stats, rules), *_zeros(stats, rules), *_magnitude(stats, rules),
        *_extremes(stats, rules), *_custom_statistic(stats, rules), *identifier_findings(table, rules),
    ]
    n_cells = int(np.prod(stats.shape))
    counts = Counts(tables=1, cells=n_cells, count_cells=n_cells if stats.frequency else 0,
                    observations=stats.observations)
    return CheckResult(kind="table", findings=findings, counts=counts, source=stats.source,
                       rules_origin=rules.origin, unit=stats.unit_name, weighted=stats.weighted_table,
                       details={"cell_stats": stats})


def _empty_table(stats: CellStats, rules: Rules) -> list[Finding]:
    return [] if stats.units.size else [empty_table_finding(rules)]


def empty_table_finding(rules: Rules) -> Finding:
    return _whole_table("unknown_counts", rules.unknown_counts,
                        "The table has no cells, so there is nothing to check; an empty output is usually a mistake.",
                        "Check that the table was built from the right data before exporting it.")


def _threshold(stats: CellStats, rules: Rules) -> list[Finding]:
    small = (stats.units > 0) & (stats.units < rules.threshold)
    counted = f"units ({stats.unit_name})" if stats.unit_name else "records (no unit id known)"
    smallest = int(stats.units[small].min()) if small.any() else 0
    return _cells_finding(stats, small, "threshold", "fail",
                          f"{{n}} cell(s) rest on fewer than {rules.threshold} {counted} (smallest: {smallest}); "
                          "such cells can identify people or businesses.")


def _zeros(stats: CellStats, rules: Rules) -> list[Finding]:
    empty = stats.units == 0
    full = _full_lines(stats) if stats.frequency else np.zeros_like(empty)
    parts = []
    if empty.any():
        parts.append(f"{int(empty.sum())} empty cell(s) (0 {'units' if stats.unit_name else 'records'}): a zero can "
                     "disclose that nobody in a group has an attribute")
    if full.any():
        parts.append(f"{int(full.sum())} cell(s) hold every unit of their row or column (group disclosure: everyone "
                     "in that group shares the attribute)")
    return _cells_finding(
        stats, empty | full, "zero", rules.zero, "; ".join(parts) + ".",
        fix="Merge categories so no row or column has all its units in one cell and no cell is structurally empty, "
            "or explain in the explanation why these zeros disclose nothing (e.g. impossible combinations).")


def _magnitude(stats: CellStats, rules: Rules) -> list[Finding]:
    """Dominance and p-percent on absolute contributions, so negative values never hide a dominant one."""
    if not stats.magnitude:
        return []
    total, shown = stats.abs_total, stats.units > 0
    top_n = stats.largest(rules.dominance_n)
    findings = []
    if top_n is None:
        findings.append(_whole_table(
            "unknown_counts", rules.unknown_counts,
            f"The table's statistics keep fewer than the {rules.dominance_n} largest contributions the dominance "
            "rule needs.", "Rebuild the table with cel.crosstab / cel.pivot_table under the current rules."))
    else:
        findings += _cells_finding(
            stats, shown & (total > 0) & (top_n >= rules.dominance_k * total), "dominance", "fail",
            f"In {{n}} cell(s) the {rules.dominance_n} largest contributors hold at least {rules.dominance_k:.0%} of "
            "the total (absolute values, summed per unit), so the value reveals what those contributors have.")
    remainder = total - stats.top1 - stats.top2
    findings += _cells_finding(
        stats, shown & (stats.top1 > 0) & (remainder < rules.p_percent * stats.top1), "p_percent", "fail",
        f"In {{n}} cell(s) the second-largest contributor could estimate the largest one to within "
        f"{rules.p_percent:.0%} (the rest of the cell is too small).")
    return findings


def _extremes(stats: CellStats, rules: Rules) -> list[Finding]:
    if not stats.reveals_extremes:
        return []
    what = stats.statistic if stats.statistic != "quantile" else f"the {stats.quantile:.0%} quantile"
    return _cells_finding(
        stats, stats.units > 0, "min_max", rules.min_max,
        f"The table shows {what} values: a minimum or maximum is the value of a single unit.",
        fix="Show a less extreme statistic instead (e.g. the 5th/95th percentile, or the mean and standard "
            "deviation), or leave these values out.")


def _custom_statistic(stats: CellStats, rules: Rules) -> list[Finding]:
    if stats.statistic in _KNOWN_STATISTICS:
        return []
    return [_whole_table(
        "unknown_counts", rules.unknown_counts,
        f"The table uses the custom aggregation {stats.statistic!r}; its cells were checked as magnitudes, but what "
        "the function reveals (e.g. a single value) cannot be established.",
        "Use a named statistic (count, sum, mean, median, ...) or explain what the function computes.")]


def _full_lines(stats: CellStats) -> np.ndarray:
    """Inner cells that hold all units of their row or column while that line has other (empty) cells."""
    margin_row = stats.is_margin.all(axis=1) if stats.is_margin.size else np.zeros(stats.shape[0], bool)
    margin_col = stats.is_margin.all(axis=0) if stats.is_margin.size else np.zeros(stats.shape[1], bool)
    inner = stats.units[~margin_row][:, ~margin_col]
    out = np.zeros(stats.shape, dtype=bool)
    if inner.shape[0] < 2 and inner.shape[1] < 2:
        return out
    out[np.ix_(~margin_row, ~margin_col)] = alone_in_line(inner > 0)
    return out


def _shown_names(obj: pd.DataFrame | pd.Series) -> list[Any]:
    """Every name a table shows: index and column level names, column labels (and their parts), Series name."""
    if isinstance(obj, pd.Series):
        return [*obj.index.names, obj.name]
    parts = [p for label in obj.columns for p in (label if isinstance(label, tuple) else (label,))]
    return [*obj.index.names, *obj.columns.names, *parts]


def _id_values(values: pd.Index | pd.Series, rules: Rules) -> list[Any]:
    return [v for v in pd.unique(np.asarray(values, dtype=object)) if rules.looks_like_id(v)]


def _label_values(index: pd.Index) -> list[pd.Index]:
    """The distinct labels of each level."""
    if isinstance(index, pd.MultiIndex):
        return [index.levels[i][np.unique(index.codes[i][index.codes[i] >= 0])] for i in range(index.nlevels)]
    return [index]


def identifier_findings(obj: pd.DataFrame | pd.Series, rules: Rules) -> list[Finding]:
    """Linking keys shown as names, and id-like values in the labels or cells."""
    findings = []
    keys = sorted({str(name) for name in _shown_names(obj) if rules.is_linking_key(name)})
    if keys:
        findings.append(Finding(
            rule="identifier", severity="fail",
            message=f"The table shows the linking key(s) {', '.join(keys)}; linking keys are never exported.",
            where="the table's index or column names", fix=f"Drop {', '.join(keys)} from the table, or group "
                                                          "by something that does not identify units.",
        ))
    columns = [obj] if isinstance(obj, pd.Series) else [obj.iloc[:, j] for j in range(obj.shape[1])]
    places = {
        "index": [v for level in _label_values(obj.index) for v in _id_values(level, rules)],
        "column labels": [] if isinstance(obj, pd.Series) else
        [v for level in _label_values(obj.columns) for v in _id_values(level, rules)],
        "cells": [v for col in columns if not pd.api.types.is_numeric_dtype(col.dtype) for v in _id_values(col, rules)],
    }
    for where, ids in places.items():
        if not ids:
            continue
        shown = ", ".join(str(v) for v in ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")
        findings.append(Finding(
            rule="identifier", severity="fail",
            message=f"{len(ids)} value(s) in the table's {where} are written like {rules.id_digits}-digit person "
                    f"or business ids ({shown}); ids are never exported.",
            where=f"the table's {where}", fix="Remove the id values; export counts or statistics per group instead.",
        ))
    return findings


def check_table(obj: Any, *, data: Any = None, unit: Any = None, weights: Any = None, rules: Rules) -> CheckResult:
    """Carried statistics when they still match the table; otherwise the checks for plain pandas tables."""
    from .plain import check_plain_table, source_frame  # plain builds on this module

    source_frame(data)  # a wrong data= is a mistake to report even when the table carries its statistics
    table = getattr(obj, "data", obj) if type(obj).__module__.startswith("pandas.io.formats.style") else obj
    stats = carried_stats(table)
    if stats is not None and unit is None and weights is None:
        return check_with_stats(table, stats, rules)
    return check_plain_table(table, data=data, unit=unit, weights=weights, rules=rules)
