"""The builders: `crosstab` and `pivot_table` as in pandas, returning tables that carry their cell statistics.

The table a researcher sees is pandas' own: the cell values are computed in one grouped pass over factorized
keys (see `cellstats`), and pandas lays them out from a frame with one row per observed cell, so labels, order,
margins and fill values follow pandas exactly. The statistics travel in `table.attrs` and are trusted only while
the table's labels and values are those they were computed for. Keys are factorized in `keys`; `unit=`,
`weights=` and the linking key follow the one policy in `units`; the cell rules are in `checks.cells`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import is_hashable, is_integer_dtype, is_list_like, is_numeric_dtype

from . import differencing, engines
from .cellstats import (
    FREQUENCY,
    KEEP_LARGEST,
    CellStats,
    Grid,
    Groups,
    bordered,
    grid_labels,
    grouped_stats,
    label_positions,
    summed,
    take_grid,
)
from .errors import UserError
from .keys import Cells, Key, combine, factor, grid_cells, labels, mixed_radix, unit_codes
from .results import format_label
from .settings import active_rules
from .units import aligned, column_or_array, common_index, linking_key_column
from .units import weights as checked_weights

STATS_ATTR = "cbs_export_lab.cell_stats"
PARTS_ATTR = "cbs_export_lab.cell_stats_parts"  # a table of several statistics: one CellStats per block
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


def _display(
    stat: str, q: float | None, group: np.ndarray, n: int, x: np.ndarray | None, w: np.ndarray | None
) -> np.ndarray:
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


def _values_with_margins(
    stat: str,
    q: float | None,
    cell: np.ndarray,
    R: int,
    C: int,
    x: np.ndarray | None,
    w: np.ndarray | None,
    sizes: np.ndarray | None = None,
) -> np.ndarray:
    """The table's values per cell and per margin; additive statistics get their margins from the cells.
    `sizes`: rows per cell of `cell`, when already counted."""
    if stat in FREQUENCY or stat in ("sum", "mean"):
        counts = np.bincount(cell, minlength=R * C) if sizes is None else sizes
        if stat in FREQUENCY:
            top = np.bincount(cell, w, minlength=R * C) if w is not None else counts
        else:
            top = np.bincount(cell, x if w is None else w * x, minlength=R * C)
        parts = [top.reshape(R, C)]
        if stat == "mean":
            bottom = np.bincount(cell, w, minlength=R * C) if w is not None else counts
            parts.append(bottom.reshape(R, C))
        sums = [summed(p) for p in parts]
        if stat != "mean":
            return sums[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            return sums[0] / sums[1]
    zero = np.zeros(len(cell), dtype=np.int64)
    return bordered(
        _display(stat, q, cell, R * C, x, w).reshape(R, C),
        _display(stat, q, cell // C, R, x, w),
        _display(stat, q, cell % C, C, x, w),
        _display(stat, q, zero, 1, x, w)[0],
    )


def _margin_label(names: Sequence[Any], margins_name: Any) -> Any:
    return margins_name if len(names) <= 1 else (margins_name,) + ("",) * (len(names) - 1)


def _grouping(spec: _Spec, dropna: bool) -> tuple[list[Key], list[Key], np.ndarray, Cells]:
    """The row and column keys (for their labels), which rows have all keys, and the cells of the valid rows."""
    row_keys = [factor(k, dropna) for k in spec.rows]
    col_keys = [factor(k, dropna) for k in spec.cols]
    valid = np.ones(len(spec.rows[0]), dtype=bool)
    for k in row_keys + col_keys:
        if k.codes.size and k.codes.min() < 0:  # a minimum is cheaper than a comparison per row
            valid &= k.codes >= 0
    cells = grid_cells(row_keys, col_keys, valid)
    R = len(cells.row_codes[0]) if cells.row_codes else 1
    C = len(cells.col_codes[0]) if cells.col_codes else 1
    if R * C > MAX_CELLS:
        raise UserError(
            f"This table would have {R * C:,} cells; that is far too many to check or export. "
            "Group the keys into fewer categories first."
        )
    return _without_codes(row_keys), _without_codes(col_keys), valid, cells


def _without_codes(keys: list[Key]) -> list[Key]:
    """The keys for their labels only: a code per source row is not needed once the cells are known."""
    return [replace(k, codes=np.empty(0, k.codes.dtype)) for k in keys]  # not a view: that would keep them


def _numbers(
    spec: _Spec, raw: np.ndarray | None, stat: str | None, aggfunc: Any, n: int
) -> tuple[np.ndarray | None, np.ndarray]:
    """The values as floats (None when there are none or they are not numbers) and which rows have one."""
    x = None
    keep = np.ones(n, dtype=bool)
    if raw is None:
        return x, keep
    if stat not in FREQUENCY and not is_numeric_dtype(raw.dtype):
        what = "the values given hold" if spec.value_name == _CROSSTAB_VALUES else f"column {spec.value_name!r} holds"
        raise UserError(
            f"values= must be numbers for aggfunc {stat or aggfunc!r}, but {what} "
            f"{raw.dtype} data. Pass a numeric column, or count rows without values=."
        )
    if is_numeric_dtype(raw.dtype):
        x = raw.astype(float, copy=False)
        if stat != "size":
            keep = ~np.isnan(x)
    else:
        keep = ~pd.isna(raw)
    return x, keep


def _build(
    spec: _Spec,
    stat: str | None,
    q: float | None,
    *,
    aggfunc: Any,
    margins: bool,
    margins_name: Any,
    dropna: bool,
    fill_value: Any,
    observed: bool,
    sort: bool,
    pandas_table: Callable[[], pd.DataFrame],
    ranks: int,
) -> tuple[pd.DataFrame, CellStats]:
    """Compute the cells in one pass, let pandas lay them out, and put the statistics on the table's labels."""
    row_keys, col_keys, valid, cells = _grouping(spec, dropna)
    cell, row_codes, col_codes = cells.cell, cells.row_codes, cells.col_codes
    R = len(row_codes[0]) if row_codes else 1
    C = len(col_codes[0]) if col_codes else 1
    subset = (lambda a: a) if valid.all() else (lambda a: a[valid])
    x, keep = _numbers(spec, None if spec.values is None else subset(np.asarray(spec.values)), stat, aggfunc, len(cell))
    magnitude = spec.values is not None and stat not in FREQUENCY
    w = None if spec.weights is None else subset(spec.weights)
    if w is not None and stat not in _WEIGHTABLE:
        raise UserError(
            f"weights= works with the count, size, sum and mean statistics, not {stat or aggfunc!r}. "
            "Use a weighted count, sum or mean, or leave weights out."
        )
    only = (lambda a: a) if keep.all() else (lambda a: a[keep])
    unit = None
    n_units = 0
    if spec.unit is not None:
        codes, n_units = unit_codes(subset(spec.unit), spec.unit_name)
        unit = only(codes)
    groups = Groups(cell=only(cell), n_rows=R, n_cols=C, counted=cells.sizes if keep.all() else None)
    grid = grouped_stats(
        groups,
        values=None if x is None else only(x),
        unit=unit,
        n_units=n_units,
        weights=None if w is None else only(w),
        magnitude=magnitude,
        ranks=ranks,
    )
    sketch = _sketch(spec, groups, subset, only)

    row_index = grid_labels(labels(row_keys, row_codes), _margin_label(spec.row_names, margins_name))
    col_labels = labels(col_keys, col_codes) if col_keys else [spec.value_name]
    col_index = grid_labels(col_labels, _margin_label(spec.col_names, margins_name))

    if stat is None or not sort or (isinstance(aggfunc, str) and aggfunc == "size"):
        # pandas' own layout: unknown functions, first-seen order, and "size" (which pandas lays out as a Series)
        table = pandas_table()
    else:
        table = _layout(
            spec,
            stat,
            q,
            cell,
            groups,
            x,
            w,
            keep,
            row_keys,
            col_keys,
            row_codes,
            col_codes,
            row_index,
            col_index,
            margins=margins,
            margins_name=margins_name,
            dropna=dropna,
            fill_value=fill_value,
            observed=observed,
            sort=sort,
        )

    stats = _grid_to_stats(
        grid,
        row_index,
        col_index,
        stat or getattr(aggfunc, "__name__", "custom"),
        q,
        magnitude or stat is None,
        spec,
        table,
        margins_name,
        sketch,
    )
    return table, stats


def _sketch(spec: _Spec, groups: Groups, subset: Callable, only: Callable) -> Any:
    """The units behind each cell for the differencing rule (unit ids, else the source frame's row labels)."""
    key = spec.rows[0]
    frame = differencing.lineage(key)
    row_labels = key.index if isinstance(key, pd.Series) and frame is not None and spec.unit is None else None
    if row_labels is not None:
        at = only(subset(np.arange(len(row_labels))))
        row_labels = row_labels if len(at) == len(row_labels) else row_labels.take(at)
    return differencing.grid_sketch(
        groups.cell,
        groups.n_rows,
        groups.n_cols,
        units=None if spec.unit is None else only(subset(spec.unit)),
        unit_name=spec.unit_name,
        row_labels=row_labels,
        frame=frame,
        threshold=active_rules().threshold,
    )


def _layout(
    spec: _Spec,
    stat: str,
    q: float | None,
    cell: np.ndarray,
    groups: Groups,
    x: np.ndarray | None,
    w: np.ndarray | None,
    keep: np.ndarray,
    row_keys: list[Key],
    col_keys: list[Key],
    row_codes: list[np.ndarray],
    col_codes: list[np.ndarray],
    row_index: pd.Index,
    col_index: pd.Index,
    *,
    margins: bool,
    margins_name: Any,
    dropna: bool,
    fill_value: Any,
    observed: bool,
    sort: bool,
) -> pd.DataFrame:
    R, C = groups.n_rows, groups.n_cols
    everything = bool(keep.all())
    sizes_all = groups.sizes if everything else np.bincount(cell, minlength=R * C)
    only = (lambda a: a) if stat == "size" or everything else (lambda a: a[keep])
    kept = only(cell)
    sizes = sizes_all if stat == "size" or everything else groups.sizes  # groups: the rows with a value
    xk = None if x is None else only(x)
    wk = None if w is None else only(w)
    value = _values_with_margins(stat, q, kept, R, C, xk, wk, sizes)
    source_dtype = None if spec.values is None else np.asarray(spec.values).dtype
    return _arrange(
        spec,
        stat,
        value,
        np.flatnonzero(sizes_all),
        sizes.reshape(R, C),
        source_dtype,
        w is not None,
        row_keys,
        col_keys,
        row_codes,
        col_codes,
        row_index,
        col_index,
        margins=margins,
        margins_name=margins_name,
        dropna=dropna,
        fill_value=fill_value,
        observed=observed,
        sort=sort,
    )


def _arrange(
    spec: _Spec,
    stat: str,
    value: np.ndarray,
    present: np.ndarray,
    kept_per_cell: np.ndarray,
    source_dtype: Any,
    weighted: bool,
    row_keys: list[Key],
    col_keys: list[Key],
    row_codes: list[np.ndarray],
    col_codes: list[np.ndarray],
    row_index: pd.Index,
    col_index: pd.Index,
    *,
    margins: bool,
    margins_name: Any,
    dropna: bool,
    fill_value: Any,
    observed: bool,
    sort: bool,
) -> pd.DataFrame:
    """pandas lays out the cells' values (one row per observed cell), with our values in the margins."""
    R, C = kept_per_cell.shape
    names = [f"__r{i}" for i in range(len(row_keys))] + [f"__c{i}" for i in range(len(col_keys))]
    small = {}
    p_row, p_col = present // C, present % C
    for i, (k, c) in enumerate(zip(row_keys, row_codes, strict=True)):
        small[names[i]] = k.labels(c[p_row])
    for i, (k, c) in enumerate(zip(col_keys, col_codes, strict=True)):
        small[names[len(row_keys) + i]] = k.labels(c[p_col])
    inner = value[:R, :C].ravel()[present]
    if not weighted and stat in ("sum", "min", "max") and is_integer_dtype(source_dtype) and not np.isnan(inner).any():
        inner = inner.astype(np.int64 if stat == "sum" else source_dtype)  # pandas keeps whole numbers whole
    small["__v"] = inner
    frame = pd.DataFrame(small)
    layout_agg = "sum" if stat in FREQUENCY or stat == "sum" else "min" if stat == "min" else "max"
    table = frame.pivot_table(
        "__v",
        index=names[: len(row_keys)],
        columns=names[len(row_keys) :] or None,
        aggfunc=layout_agg,
        fill_value=fill_value,
        margins=margins,
        margins_name=margins_name,
        dropna=dropna,
        observed=observed,
        sort=sort,
    )
    if margins:
        rows_at = label_positions(row_index, table.index)
        cols_at = label_positions(col_index, table.columns if col_keys else pd.Index([spec.value_name]))
        is_margin = _margin_mask(table.index, table.columns if col_keys else pd.Index([None]), margins_name)
        found = (rows_at >= 0)[:, None] & (cols_at >= 0)[None, :] & is_margin
        if found.any():
            margin_values = value.astype(float)
            if dropna:  # pandas computes margins on complete rows only: a margin without any is missing
                margin_values[:R, C][kept_per_cell.sum(1) == 0] = np.nan
                margin_values[R, :C][kept_per_cell.sum(0) == 0] = np.nan
                if not kept_per_cell.any():
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


def _grid_to_stats(
    grid: Grid,
    row_index: pd.Index,
    col_index: pd.Index,
    stat: str,
    q: float | None,
    magnitude: bool,
    spec: _Spec,
    table: pd.DataFrame,
    margins_name: Any,
    sketch: Any = None,
) -> CellStats:
    on_grid = CellStats(
        index=row_index,
        columns=col_index,
        units=grid.units,
        rows=grid.rows,
        weighted=grid.weighted,
        top1=grid.largest[0],
        top2=grid.largest[1],
        abs_total=grid.abs_total,
        statistic=stat,
        magnitude=magnitude,
        is_margin=np.zeros(grid.units.shape, dtype=bool),
        unit_name=spec.unit_name,
        weighted_table=spec.weights is not None,
        source=spec.source,
        top_more=grid.largest[2:] if len(grid.largest) > 2 else None,
        quantile=q,
        observations=grid.observations,
        nonzero=grid.nonzero,
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
    return [
        a.name if isinstance(a, pd.Series) and a.name is not None else f"{prefix}_{i}" for i, a in enumerate(arrays)
    ]


def _as_list(keys: Any) -> list[Any]:
    if isinstance(keys, (pd.Series, np.ndarray, pd.Index, pd.Categorical)):
        return [keys]
    if is_list_like(keys) and len(keys) and all(is_list_like(k) and not isinstance(k, (str, tuple)) for k in keys):
        return list(keys)
    return [keys]


def crosstab(
    index: Any,
    columns: Any,
    values: Any = None,
    rownames: Any = None,
    colnames: Any = None,
    aggfunc: Any = None,
    margins: bool = False,
    margins_name: str = "All",
    dropna: bool = True,
    normalize: Any = False,
    *,
    unit: Any = None,
    weights: Any = None,
) -> pd.DataFrame:
    """`pd.crosstab` with the cell statistics attached; `unit=` counts distinct units, `weights=` weights the cells."""
    if values is None and aggfunc is not None:
        raise UserError("aggfunc= needs values=: pass the numbers to aggregate, e.g. values=df['inkomen'].")
    if values is not None and aggfunc is None:
        raise UserError("values= needs an aggfunc=, e.g. aggfunc='mean' or 'sum'.")
    index, columns, values, unit, weights = map(engines.as_pandas, (index, columns, values, unit, weights))
    rows, cols = _as_list(index), _as_list(columns)
    common = common_index([a for a in rows + cols if isinstance(a, pd.Series)])
    if common is not None:
        rows, cols = ([aligned(a, common) for a in keys] for keys in (rows, cols))
    lengths = {len(a) for a in rows + cols}
    if len(lengths) != 1:
        raise UserError(f"crosstab keys have different lengths {sorted(lengths)}; pass columns of one data frame.")
    n = lengths.pop()
    row_names, col_names = _names(rows, rownames, "row"), _names(cols, colnames, "col")
    unit_values, unit_name = (None, None) if unit is None else column_or_array(None, unit, "unit", n, common)
    w = None if weights is None else checked_weights(column_or_array(None, weights, "weights", n, common)[0])
    if values is not None:
        values = column_or_array(None, values, "values", n, common)[0]
    if w is not None and values is None:
        stat_aggfunc: Any = None
    else:
        stat_aggfunc = aggfunc
    if isinstance(aggfunc, list) and values is not None and w is None and normalize is False:
        pieces = _pieces(_CROSSTAB_VALUES, aggfunc)
        if pieces is not None:
            table = pd.crosstab(rows, cols, values, row_names, col_names, aggfunc, margins, margins_name, dropna)
            return _in_pieces(
                table,
                [(None, a) for _, a in pieces],
                len(col_names),
                lambda _, a: crosstab(
                    rows, cols, values, row_names, col_names, a, margins, margins_name, dropna, unit=unit
                ),
            )
    stat, q = _statistic(stat_aggfunc)
    what = " x ".join(map(format_label, row_names + col_names))
    source = f"cel.crosstab of {what}" + ("" if values is None else f", {stat or aggfunc} of the values")
    spec = _Spec(
        rows=rows,
        cols=cols,
        row_names=row_names,
        col_names=col_names,
        values=values,
        value_name=_CROSSTAB_VALUES,
        unit=unit_values,
        unit_name=unit_name,
        weights=w,
        source=source,
    )

    def pandas_table() -> pd.DataFrame:
        return pd.crosstab(rows, cols, values, row_names, col_names, aggfunc, margins, margins_name, dropna)

    table, stats = _build(
        spec,
        stat,
        q,
        aggfunc=aggfunc,
        margins=margins,
        margins_name=margins_name,
        dropna=dropna,
        fill_value=0 if values is None else None,
        observed=dropna,
        sort=True,
        pandas_table=pandas_table,
        ranks=_ranks(),
    )
    if normalize is not False:
        table = _normalize(table, normalize, margins)
        stats = stats.align(table.index, table.columns)
        stats.normalized = str(normalize)
    return attach_stats(table, stats)


def _ranks() -> int:
    return max(KEEP_LARGEST, active_rules().dominance_n)


PANDAS_OBSERVED = int(pd.__version__.split(".")[0]) >= 3  # pivot_table's default for categorical keys


def _key_list(keys: Any) -> list[Any]:
    if keys is None:
        return []
    return list(keys) if is_list_like(keys) and not isinstance(keys, tuple) else [keys]


def _pieces(values: Any, aggfunc: Any) -> list[tuple[Any, Any]] | None:
    """The (value column, statistic) pairs of a table with several values or a list/dict aggfunc, or None when one
    of them is a function we cannot name."""
    names = list(values) if is_list_like(values) and not isinstance(values, tuple) else [values]
    if values is None or not names:
        return None
    if isinstance(aggfunc, dict):
        pairs = [(v, a) for v, fs in aggfunc.items() for a in (fs if isinstance(fs, list) else [fs])]
    else:
        pairs = [(v, a) for a in (aggfunc if isinstance(aggfunc, list) else [aggfunc]) for v in names]
    if not pairs or any(_statistic(a)[0] is None for _, a in pairs):
        return None
    return pairs


def _agg_label(aggfunc: Any) -> Any:
    return aggfunc if isinstance(aggfunc, str) else getattr(aggfunc, "__name__", aggfunc)


def _in_pieces(
    table: pd.DataFrame, pieces: list[tuple[Any, Any]], n_keys: int, build: Callable[[Any, Any], pd.DataFrame]
) -> pd.DataFrame:
    """pandas' table of several statistics, each block of columns carrying the statistics of the builder's table
    of that one statistic (kept only when that table gives exactly the block's numbers)."""
    tuples = [c if isinstance(c, tuple) else (c,) for c in table.columns]
    n_lead = table.columns.nlevels - n_keys
    parts = []
    for value, aggfunc in pieces:
        lead = sorted(map(repr, (x for x in (value, _agg_label(aggfunc)) if x is not None)))
        at = [i for i, t in enumerate(tuples) if sorted(map(repr, t[:n_lead])) in (lead, lead[:1], lead[1:])]
        ours = build(value, aggfunc)
        stats = carried_stats(ours)
        if not at or stats is None:
            return table
        rest = [tuples[i][n_lead:] for i in at]
        labels = (
            ours.columns if not rest[0] else pd.Index([r[0] if len(r) == 1 else r for r in rest], tupleize_cols=True)
        )
        block = table.iloc[:, at]
        mine = ours.reindex(index=table.index, columns=labels)
        if (
            len(labels) != len(at)
            or _shown(block) is None
            or not np.array_equal(_shown(block), _shown(mine), equal_nan=True)
        ):
            return table
        part = stats.take(
            label_positions(stats.index, table.index),
            label_positions(stats.columns, labels),
            table.index,
            block.columns,
        )
        part.shown = _shown(block)
        parts.append((at, part))
    if len(parts) == 1 and len(parts[0][0]) == table.shape[1]:  # values=["x"]: one statistic after all
        return attach_stats(table, parts[0][1])
    table.attrs[PARTS_ATTR] = parts
    return table


def carried_parts(table: Any) -> list[tuple[list[int], CellStats]] | None:
    """The statistics of each block of columns of a builder's table of several statistics, while the blocks still
    have their labels and numbers; None otherwise."""
    attrs = getattr(table, "attrs", None)
    parts = attrs.get(PARTS_ATTR) if isinstance(attrs, dict) else None
    if not isinstance(parts, list) or not parts or not isinstance(table, pd.DataFrame):
        return None
    for at, stats in parts:
        if max(at) >= table.shape[1]:
            return None
        block = table.iloc[:, at]
        if (
            block.shape != stats.shape
            or not _same_labels(block.index, stats.index)
            or not _same_labels(block.columns, stats.columns)
        ):
            return None
        now = _shown(block)
        if now is None or stats.shown is None or not _same_numbers(now, stats.shown):
            return None
    return parts


def pivot_table(
    data: pd.DataFrame,
    values: Any = None,
    index: Any = None,
    columns: Any = None,
    aggfunc: Any = "mean",
    fill_value: Any = None,
    margins: bool = False,
    dropna: bool = True,
    margins_name: str = "All",
    observed: Any = None,
    sort: bool = True,
    *,
    unit: Any = None,
    weights: Any = None,
) -> pd.DataFrame:
    """`pd.pivot_table` with the cell statistics attached; `unit=`/`weights=` are column names or arrays.

    `observed` defaults to what the installed pandas does (pandas 2.x shows unobserved categories, 3.x does not).
    """
    observed = PANDAS_OBSERVED if observed is None else observed
    kwargs = dict(
        values=values,
        index=index,
        columns=columns,
        aggfunc=aggfunc,
        fill_value=fill_value,
        margins=margins,
        dropna=dropna,
        margins_name=margins_name,
        observed=observed,
        sort=sort,
    )
    if engines.engine(data) is not None:
        return _engine_pivot(engines.Source(data), kwargs, unit, weights)
    if not isinstance(data, pd.DataFrame):
        raise UserError(
            f"pivot_table needs a pandas, polars or pyarrow table, a DuckDB relation or a parquet path as data, "
            f"not a {type(data).__name__}."
        )
    rows, cols = _key_list(index), _key_list(columns)
    keys = rows + cols + ([values] if values is not None and not is_list_like(values) else [])
    keys += list(values) if is_list_like(values) and not isinstance(values, tuple) else []
    by_name = all(is_hashable(k) and not isinstance(k, pd.Grouper) for k in keys)
    for key in keys if by_name else []:
        if key not in data.columns:
            raise UserError(
                f"pivot_table: the data has no column {key!r}. Columns: {', '.join(map(str, data.columns))}."
            )
    simple = (
        by_name
        and rows
        and values is not None
        and not is_list_like(values)
        and not isinstance(aggfunc, (list, dict))
        and len(set(rows + cols)) == len(rows + cols)
    )
    if not simple:
        pieces = (
            _pieces(values, aggfunc)
            if by_name and rows and weights is None and len(set(rows + cols)) == len(rows + cols)
            else None
        )
        if pieces is not None:
            return _in_pieces(
                pd.pivot_table(data, **kwargs),
                pieces,
                len(cols),
                lambda v, a: pivot_table(data, **{**kwargs, "values": v, "aggfunc": a}, unit=unit),
            )
        if unit is not None or weights is not None:
            raise UserError(
                "weights= works with one values= column and one statistic (unit= with named "
                "statistics), at least one index= column and column names as keys. Build one table "
                "per value column."
            )
        return pd.pivot_table(data, **kwargs)  # checked later as a plain pandas table
    n = len(data)
    unit_values, unit_name = (None, None)
    rules = active_rules()
    differencing.track(data)  # row labels name units within this frame and the frames derived from it
    if unit is not None:
        unit_values, unit_name = column_or_array(data, unit, "unit", n, data.index)
    else:
        key = linking_key_column(data, rules)
        if key is not None:
            unit_values, unit_name = np.asarray(data[key]), f"{key} (linking key in the source)"
    w = None if weights is None else checked_weights(column_or_array(data, weights, "weights", n, data.index)[0])
    stat, q = _statistic(aggfunc)
    by = " x ".join(map(str, rows + cols))
    source = f"cel.pivot_table: {stat or getattr(aggfunc, '__name__', 'custom')} of {values} by {by}"
    spec = _Spec(
        rows=[data[k] for k in rows],
        cols=[data[k] for k in cols],
        row_names=rows,
        col_names=cols,
        values=data[values].to_numpy(),
        value_name=values,
        unit=unit_values,
        unit_name=unit_name,
        weights=w,
        source=source,
    )
    table, stats = _build(
        spec,
        stat,
        q,
        aggfunc=aggfunc,
        margins=margins,
        margins_name=margins_name,
        dropna=dropna,
        fill_value=fill_value,
        observed=observed,
        sort=sort,
        pandas_table=lambda: pd.pivot_table(data, **kwargs),
        ranks=max(KEEP_LARGEST, rules.dominance_n),
    )
    return attach_stats(table, stats)


def _engine_pivot(source: engines.Source, kwargs: dict[str, Any], unit: Any, weights: Any) -> pd.DataFrame:
    """pivot_table on polars, Arrow or DuckDB data or a parquet path: out of core where DuckDB can compute the
    cells, else on the needed columns read into pandas (see `engines`)."""
    rows, cols, values = _key_list(kwargs["index"]), _key_list(kwargs["columns"]), kwargs["values"]
    value_list = _key_list(values) if is_list_like(values) and not isinstance(values, tuple) else [values]
    names = rows + cols + [v for v in value_list if v is not None]
    if not all(is_hashable(k) and not isinstance(k, pd.Grouper) for k in names):
        raise UserError(
            "pivot_table on polars, Arrow or DuckDB data takes column names as index=, columns= and values=."
        )
    source.check_columns(names, "pivot_table")
    stat, _ = _statistic(kwargs["aggfunc"])
    by_name = [a for a in (unit, weights) if isinstance(a, str)]
    source.check_columns(by_name, "pivot_table")
    rules = active_rules()
    linking = [c for c in source.columns() if rules.is_linking_key(c)] if unit is None else []
    simple = rows and len(value_list) == 1 and values is not None and not isinstance(kwargs["aggfunc"], (list, dict))
    if (
        simple
        and len(set(rows + cols)) == len(rows + cols)
        and all(a is None or isinstance(a, str) for a in (unit, weights))
        and engines.can_compute(source, stat, kwargs["dropna"], kwargs["sort"])
    ):
        unit_name = unit
        if unit is None and linking:
            unit = linking[0] if len(linking) == 1 else linking_key_column(source.sample(linking, 20_000), rules)
            unit_name = f"{unit} (linking key in the source)"
        return _pivot_out_of_core(source, rows, cols, values, stat, unit, unit_name, weights, kwargs, rules)
    frame = source.to_pandas(names + by_name + linking, "pivot_table")
    table = pivot_table(frame, **kwargs, unit=engines.as_pandas(unit), weights=engines.as_pandas(weights))
    stats = carried_stats(table)
    if stats is not None:
        stats.source = f"{stats.source}; {source.describe()}, {frame.shape[1]} column(s) read into pandas via Arrow"
    return table


@dataclass
class _EngineGrid:
    """The engine's cells placed on the table's grid: the keys, and each grouping set's rows at their positions."""

    row_keys: list[Key]
    col_keys: list[Key]
    row_codes: list[np.ndarray]
    col_codes: list[np.ndarray]
    R: int
    C: int
    parts: list[tuple[pd.DataFrame, Any]]  # (the set's rows, where they go in an (R + 1, C + 1) grid)

    def grid(self, column: str) -> np.ndarray:
        out = np.zeros((self.R + 1, self.C + 1))
        for frame, put in self.parts:
            out[put] = frame[column].fillna(0).to_numpy(dtype=float)
        return out

    def largest(self, ranks: int) -> np.ndarray:
        out = np.zeros((ranks, self.R + 1, self.C + 1))
        for frame, put in self.parts:
            out[(slice(None), *put)] = engines.largest(frame["top"], ranks)
        return out


def _place(got: engines.EngineCells, n_rows: int, n_cols: int) -> _EngineGrid:
    """Factorize the observed cells' key values as the builders do, and find each grouping set's grid positions."""
    everything = list(range(n_rows + n_cols))
    inner = engines.region(got, everything)
    row_keys = [factor(inner[f"k{i}"].reset_index(drop=True)) for i in range(n_rows)]
    col_keys = [factor(inner[f"k{n_rows + i}"].reset_index(drop=True)) for i in range(n_cols)]
    everyone = np.ones(len(inner), dtype=bool)
    rg, row_codes = combine(row_keys, everyone)
    cg, col_codes = combine(col_keys, everyone) if col_keys else (np.zeros(len(inner), np.int64), [])
    R, C = len(row_codes[0]), len(col_codes[0]) if col_codes else 1
    if R * C > MAX_CELLS:
        raise UserError(
            f"This table would have {R * C:,} cells; that is far too many to check or export. "
            "Group the keys into fewer categories first."
        )
    by_row = engines.region(got, everything[:n_rows])
    by_col = engines.region(got, everything[n_rows:])
    parts = [
        (inner, (rg, cg)),
        (by_row, (_group_of(row_keys, row_codes, by_row, 0), np.full(len(by_row), C))),
        (by_col, (np.full(len(by_col), R), _group_of(col_keys, col_codes, by_col, n_rows) if col_keys else 0)),
        (engines.region(got, []), (np.array([R]), np.array([C]))),
    ]
    return _EngineGrid(row_keys, col_keys, row_codes, col_codes, R, C, parts)


def _group_of(keys: list[Key], codes: list[np.ndarray], frame: pd.DataFrame, first: int) -> np.ndarray:
    """The group number of each row of a margin's grouping set among the observed groups."""
    sizes = [k.size for k in keys]
    mine = [k.uniques.get_indexer(frame[f"k{first + i}"]) for i, k in enumerate(keys)]
    return np.searchsorted(mixed_radix(codes, sizes), mixed_radix(mine, sizes))


def _engine_grid(placed: _EngineGrid, magnitude: bool, weighted: bool, ranks: int) -> Grid:
    """The engine's statistics per cell and margin as the grouped pass gives them."""
    R, C = placed.R, placed.C
    units = placed.grid("units").astype(np.int64)
    return Grid(
        units=units,
        rows=placed.grid("n").astype(np.int64),
        weighted=None if not weighted else placed.grid("swx" if magnitude else "sw"),
        largest=placed.largest(ranks) if magnitude else np.zeros((ranks, R + 1, C + 1)),
        abs_total=placed.grid("abs_total") if magnitude else np.zeros((R + 1, C + 1)),
        observations=int(units[R, C]),
        nonzero=placed.grid("nonzero").astype(np.int64) if magnitude else None,
    )


def _engine_values(placed: _EngineGrid, stat: str, weighted: bool) -> np.ndarray:
    """The table's values per cell and margin from the engine's sums, as `_values_with_margins` computes them."""
    R, C = placed.R, placed.C
    if stat == "count":
        top = placed.grid("sw")[:R, :C] if weighted else placed.grid("n")[:R, :C].astype(np.int64)
    else:
        top = placed.grid("swx" if weighted else "sx")[:R, :C]
    value = summed(top)
    if stat == "mean":
        with np.errstate(divide="ignore", invalid="ignore"):
            value = value / summed(placed.grid("sw" if weighted else "n")[:R, :C])
    return value


def _pivot_out_of_core(
    source: engines.Source,
    rows: list[Any],
    cols: list[Any],
    values: Any,
    stat: str,
    unit: Any,
    unit_name: Any,
    weights: Any,
    kwargs: dict[str, Any],
    rules: Any,
) -> pd.DataFrame:
    """The table from the engine's per-cell statistics, laid out by pandas like any builder's table."""
    ranks = max(KEEP_LARGEST, rules.dominance_n)
    got = engines.cells(source, rows, cols, values, stat, unit, weights, ranks)
    placed = _place(got, len(rows), len(cols))
    R, C = placed.R, placed.C
    magnitude, weighted = stat != "count", weights is not None
    grid = _engine_grid(placed, magnitude, weighted, ranks)
    spec = _Spec(
        rows=[],
        cols=cols,
        row_names=rows,
        col_names=cols,
        values=None,
        value_name=values,
        unit=None,
        unit_name=unit_name,
        weights=np.empty(0) if weighted else None,  # only whether the table is weighted is read from here
        source=f"cel.pivot_table: {stat} of {values} by {' x '.join(map(str, rows + cols))}; {got.source}",
    )
    row_index = grid_labels(labels(placed.row_keys, placed.row_codes), _margin_label(rows, kwargs["margins_name"]))
    col_labels = labels(placed.col_keys, placed.col_codes) if cols else [values]
    col_index = grid_labels(col_labels, _margin_label(cols, kwargs["margins_name"]))
    inner_rows = placed.parts[0][1]
    table = _arrange(
        spec,
        stat,
        _engine_values(placed, stat, weighted),
        np.sort(inner_rows[0] * C + inner_rows[1]),
        placed.grid("n")[:R, :C].astype(np.int64),
        np.dtype(np.int64) if got.integer_values else np.dtype(float),
        weighted,
        placed.row_keys,
        placed.col_keys,
        placed.row_codes,
        placed.col_codes,
        row_index,
        col_index,
        **{k: kwargs[k] for k in ("margins", "margins_name", "dropna", "fill_value", "observed", "sort")},
    )
    sketch = None
    if unit is not None:
        pairs = engines.unit_pairs(source, rows, cols, values, stat, unit, _grid_positions(got, placed, len(rows)))
        threshold = active_rules().threshold
        sketch = differencing.pairs_sketch(
            pairs, R, C, n_units=grid.observations, unit_name=unit_name, threshold=threshold
        )
    stats = _grid_to_stats(
        grid, row_index, col_index, stat, None, magnitude, spec, table, kwargs["margins_name"], sketch
    )
    return attach_stats(table, stats)


def _grid_positions(got: engines.EngineCells, placed: _EngineGrid, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """For each grouping-set row of the engine's cells, its `gk` and its position on the bordered grid; a table
    without columns has its cells and row margins in one grouping set, so such rows are listed twice."""
    everything = list(range(got.n_keys))
    sets = [everything, everything[:n_rows], everything[n_rows:], []]
    gk = got.frame["gk"].to_numpy()
    keys, cells = [], []
    for keys_of_set, (_, (r, c)) in zip(sets, placed.parts, strict=True):
        at = engines.set_rows(got, keys_of_set)
        keys.append(gk[at])
        cells.append(np.broadcast_to(np.asarray(r) * (placed.C + 1) + np.asarray(c), at.shape))
    return np.concatenate(keys), np.concatenate(cells).astype(np.int64)


def cell_stats(
    data: pd.DataFrame,
    index: list,
    columns: list,
    values: Any = None,
    aggfunc: Any = "count",
    *,
    unit: Any = None,
    weights: Any = None,
    margins: bool = False,
    dropna: bool = True,
    margins_name: str = "All",
) -> CellStats:
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
        table = pivot_table(
            data,
            values=count_of,
            index=index,
            columns=columns or None,
            aggfunc="size",
            margins=margins,
            dropna=dropna,
            margins_name=margins_name,
            unit=unit,
            weights=weights,
        )
    else:
        table = pivot_table(
            data,
            values=values,
            index=index,
            columns=columns or None,
            aggfunc=aggfunc,
            margins=margins,
            dropna=dropna,
            margins_name=margins_name,
            unit=unit,
            weights=weights,
        )
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
    if (
        table.shape != stats.shape
        or not _same_labels(table.index, stats.index)
        or not _same_labels(table.columns, stats.columns)
    ):
        return None
    now = _shown(table)
    return stats if now is not None and _same_numbers(now, stats.shown) else None


def _same_labels(a: pd.Index, b: pd.Index) -> bool:
    return a.equals(b) and list(a.names) == list(b.names)
