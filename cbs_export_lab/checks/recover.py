"""Recovering a plain table from its source frame: the grouping, each block's value column and statistic.

The table's labels say which source columns group it and which statistic a row or column holds; every
candidate (value column, statistic) is recomputed on the table engine's group codes (`keys`) and kept only when
it gives every cell of its block, up to the table's rounding. A source that reproduces nothing is not trusted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..keys import MAX_SPAN, factor, mixed_radix
from ..rules import Rules
from ..settings import active_rules
from .plain import COUNTING, MARGIN_NAMES, PlainTable, is_column, statistic_name

ALL = object()  # a margin ("All") in a cell's key values


@dataclass(frozen=True)
class Role:
    """What one row or column label says: values of the grouping keys, the value column, the statistic, and the
    label parts that name neither (a named aggregation 'n_personen', a relabelled describe() row)."""

    keys: tuple[Any, ...] = ()
    value: Any = None
    statistic: str | None = None
    tag: tuple[Any, ...] = ()


def _part_statistic(part: Any) -> str | None:
    """A statistic named by a label part: 'mean', '25%', or a quantile level 0.25 as pandas labels quantile([...])
    (0 and 1 are the minimum and maximum)."""
    stat = statistic_name(part)
    if stat is None and isinstance(part, str):
        stat = _MORE_NAMES.get(part.strip().lower())
    if stat is None and isinstance(part, (float, np.floating)) and 0 <= part <= 1:
        stat = "min" if part == 0 else "max" if part == 1 else f"q{float(part):g}"
    return stat


_MORE_NAMES = {
    "mediaan": "median",
    "gem": "mean",
    "gem.": "mean",
    "sd": "std",
    "stdev": "std",
    "st.dev.": "std",
    "standaardafwijking": "std",
    "variantie": "var",
    "totaal": "sum",
    "som": "sum",
    "mediaan.": "median",
    "p50": "q0.5",
    "q1": "q0.25",
    "q3": "q0.75",
    "1st qu.": "q0.25",
    "3rd qu.": "q0.75",
}


def _unnamed_key(level: pd.Index, source: pd.DataFrame, used: set[Any]) -> tuple[Any, dict[Any, Any]] | None:
    """The source column an unnamed level's labels are values of (a csv or xlsx table loses its column axis' name;
    value_counts(bins=) leaves its intervals unnamed), and how each label maps onto that column's values."""
    labels = list(pd.unique(np.asarray(level, dtype=object)))
    whole = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in labels)
    if isinstance(level, pd.RangeIndex) or not (whole or all(isinstance(v, (str, pd.Interval)) for v in labels)):
        return None  # years as headers of a spreadsheet are numbers; rows numbered 0, 1, 2 are not a key
    if not labels or all(_part_statistic(v) is not None or is_column(source, v) for v in labels):
        return None
    if all(isinstance(v, pd.Interval) for v in labels):
        low, high = min(v.left for v in labels), max(v.right for v in labels)
        for name in source.columns:
            column = source[name]
            if (
                name not in used
                and pd.api.types.is_numeric_dtype(column.dtype)
                and not pd.api.types.is_bool_dtype(column.dtype)
                and column.notna().any()
                and low <= column.min()
                and column.max() <= high
            ):
                return name, {v: v for v in labels}
        return None
    wanted = {str(v) for v in labels}
    for name in source.columns:
        column = source[name]
        if name in used or pd.api.types.is_float_dtype(column.dtype):
            continue
        values = column.cat.categories if isinstance(column.dtype, pd.CategoricalDtype) else column.dropna().unique()
        if len(values) > 10 * len(labels) + 100:
            continue
        by_text = {str(v): v for v in values}
        if wanted <= by_text.keys():
            return name, {v: by_text[str(v)] for v in labels}
    return None


def _axis_roles(index: pd.Index, source: pd.DataFrame, *, rows: bool) -> tuple[list[Any], list[Role]] | None:
    """Keys (levels named after source columns, or unnamed levels of their values) and a role per label; None
    when a label cannot be placed, e.g. a level named after something the source does not have."""
    names = list(index.names)
    key_levels = [i for i, n in enumerate(names) if is_column(source, n)]
    key_names = {i: names[i] for i in key_levels}
    convert: dict[int, dict[Any, Any]] = {}
    for i, n in enumerate(names):
        if n is None and i not in key_levels:
            found = _unnamed_key(index.get_level_values(i), source, set(key_names.values()))
            if found is not None:
                key_names[i], convert[i] = found
    key_levels = sorted(key_names)
    other_levels = [i for i in range(len(names)) if i not in key_levels]
    if any(names[i] is not None for i in other_levels):
        return None
    described: dict[tuple[Any, ...], tuple[Any, str | None, tuple[Any, ...]]] = {}
    roles = []
    for label in index:
        parts = label if isinstance(label, tuple) else (label,)
        other = tuple(parts[i] for i in other_levels)
        if other not in described:
            described[other] = _describe_parts(other, source)
        found = described[other]
        if not all(isinstance(t, str) for t in found[2]):
            return None  # rows numbered 0, 1, 2 (an extract) or labels that are no strings: nothing to place
        keys = tuple(convert[i].get(parts[i], parts[i]) if i in convert else parts[i] for i in key_levels)
        roles.append(Role(keys, *found))
    return [key_names[i] for i in key_levels], roles


def _describe_parts(parts: tuple[Any, ...], source: pd.DataFrame) -> tuple[Any, str | None, tuple[Any, ...]]:
    """The value column and statistic that label parts outside the key levels name, and the parts naming neither."""
    value = statistic = None
    tag = []
    for part in parts:
        stat = _part_statistic(part)
        if value is None and is_column(source, part):
            value = part
        elif stat is not None and statistic is None:
            statistic = stat
        else:
            tag.append(part)
    return value, statistic, tuple(tag)


@dataclass
class Layout:
    """How a plain table maps onto a source frame: grouping keys and, per cell, key values, value and statistic."""

    row_keys: list[Any]
    col_keys: list[Any]
    cell_keys: list[tuple[Any, ...]]  # one per cell, row-major; ALL for a margin
    values: list[Any]
    statistics: list[str | None]
    margins_name: str | None
    tags: list[tuple[Any, ...]]  # label parts naming no key, value or statistic: cells of one block share them
    n_rows: int

    @property
    def keys(self) -> list[Any]:
        return self.row_keys + self.col_keys


def read_layout(table: PlainTable, source: pd.DataFrame) -> Layout | None:
    """Recover the grouping keys and each cell's value column and statistic from the labels."""
    row_part = _axis_roles(table.frame.index, source, rows=True)
    if table.is_series:
        col_part = ([], [Role((), *_describe_parts((table.frame.columns[0],), source))])
    else:
        col_part = _axis_roles(table.frame.columns, source, rows=False)
    if row_part is None or col_part is None:
        return None
    (row_keys, rows), (col_keys, cols) = row_part, col_part
    if len(set(row_keys + col_keys)) != len(row_keys + col_keys):
        return None
    margins_name = _margins_name(table.frame.index, table.frame.columns, row_keys + col_keys, source)
    cell_keys, values, statistics, tags = [], [], [], []
    for r in rows:
        for c in cols:
            tags.append(r.tag + c.tag)
            cell_keys.append(_marked(r.keys, margins_name) + _marked(c.keys, margins_name))
            if r.value is not None and c.value is not None and r.value != c.value:
                return None
            values.append(r.value if r.value is not None else c.value)
            if r.statistic is not None and c.statistic is not None and r.statistic != c.statistic:
                return None
            statistics.append(r.statistic or c.statistic)
    return Layout(row_keys, col_keys, cell_keys, values, statistics, margins_name, tags, len(rows))


def _marked(keys: tuple[Any, ...], margins_name: str | None) -> tuple[Any, ...]:
    """Key values with margins as ALL; pandas labels a margin of several keys ('All', '', '')."""
    if margins_name is None or margins_name not in keys:
        return keys
    first = keys.index(margins_name)
    if all(k == "" for k in keys[first + 1 :]):
        return keys[:first] + (ALL,) * (len(keys) - first)
    return tuple(ALL if k == margins_name else k for k in keys)


def _margins_name(index: pd.Index, columns: pd.Index, keys: list[Any], source: pd.DataFrame) -> str | None:
    """The label pandas gave margins ('All'), if a key value is one and the source has no such value."""
    seen = set()
    for axis in (index, columns):
        levels = axis.levels if isinstance(axis, pd.MultiIndex) else [axis.unique()]
        for level, name in zip(levels, axis.names, strict=False):
            if name in keys:
                seen |= {v for v in level if isinstance(v, str) and v.strip().lower() in MARGIN_NAMES}
    for name in seen:
        if not any(_has_value(source[key], name) for key in keys):
            return name
    return None


def _has_value(column: pd.Series, value: Any) -> bool:
    if isinstance(column.dtype, pd.CategoricalDtype):
        return value in column.cat.categories
    try:
        return bool((column == value).any())
    except TypeError:
        return False


def _grouped(source: pd.DataFrame, keys: list[Any], value: Any, statistic: str) -> pd.Series | float:
    """One statistic of `value` per group of `keys` (a number when there are no keys)."""
    if statistic == "size" or value is None:
        if not keys:
            return float(len(source))
        return source.groupby(keys, observed=True, sort=False).size()
    column = source[value]
    if not keys:
        return float(column.quantile(float(statistic[1:])) if statistic[0] == "q" else column.agg(statistic))
    groups = column.groupby([source[k] for k in keys], observed=True, sort=False)
    return groups.quantile(float(statistic[1:])) if statistic[0] == "q" else groups.agg(statistic)


_FAST = ("size", "count", "sum", "mean", "wsize", "wsum", "wmean")


_WEIGHT = "__cbs_weight"  # the weights= values, as a column of the source


class Grouper:
    """Source rows as integer group ids for any subset of a table's keys, built once from each key's codes as the
    table engine factorizes and combines them (`keys.factor`, `keys.mixed_radix`).

    Counts, sums and means then cost one `np.bincount` each instead of a pandas groupby.
    """

    def __init__(self, source: pd.DataFrame, keys: list[Any]) -> None:
        self.source, self.keys = source, keys
        self._keys = [factor(source[k], sort=False) for k in keys]
        self._uniques = [k.lookup() for k in self._keys]
        self._sizes = [max(1, k.size) for k in self._keys]
        self.valid = np.ones(len(source), dtype=bool)
        for key in self._keys:
            self.valid &= key.codes >= 0
        self._ids: dict[tuple[int, ...], tuple[np.ndarray, int] | None] = {}
        self._numbers: dict[Any, np.ndarray] = {}
        self._cell_ids: dict[tuple[Any, ...], np.ndarray] = {}

    def ids(self, kept: tuple[int, ...]) -> tuple[np.ndarray, int] | None:
        """A group id per valid row and the number of possible groups; None when there are too many."""
        if kept not in self._ids:
            span = int(np.prod([self._sizes[i] for i in kept], dtype=float))
            if span > MAX_SPAN:
                self._ids[kept] = None
                return None
            if not kept:
                flat = np.zeros(int(self.valid.sum()), dtype=np.int64)
            else:
                flat = mixed_radix([self._keys[i].codes[self.valid] for i in kept], [self._sizes[i] for i in kept])
            self._ids[kept] = (flat, span)
        return self._ids[kept]

    def cell_ids(self, kept: tuple[int, ...], cells: list[tuple[Any, ...]]) -> np.ndarray:
        """The group id of each cell's key values (-1 when a value does not occur in the source)."""
        key = (kept, tuple(cells))
        if key not in self._cell_ids:
            self._cell_ids[key] = self._lookup(kept, cells)
        return self._cell_ids[key]

    def _lookup(self, kept: tuple[int, ...], cells: list[tuple[Any, ...]]) -> np.ndarray:
        missing = np.zeros(len(cells), dtype=bool)
        if not kept:
            return np.zeros(len(cells), dtype=np.int64)
        found = []
        for i in kept:
            at = self._uniques[i].get_indexer(pd.Index([c[i] for c in cells], dtype=object))
            missing |= at < 0
            found.append(np.maximum(at, 0).astype(np.int64))
        return np.where(missing, -1, mixed_radix(found, [self._sizes[i] for i in kept]))

    def numbers(self, value: Any) -> np.ndarray:
        if value not in self._numbers:
            column = self.source[value]
            if not pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_bool_dtype(column.dtype):
                raise TypeError(f"{value!r} is not numeric")
            self._numbers[value] = column.to_numpy(dtype=float, na_value=np.nan)[self.valid]
        return self._numbers[value]

    def rows_of(self, cells: list[tuple[Any, ...]]) -> pd.DataFrame:
        """The source rows of these cells' groups (and a few more): where every key takes one of their values."""
        mask = np.ones(len(self.source), dtype=bool)
        for i, (key, uniques) in enumerate(zip(self._keys, self._uniques, strict=True)):
            at = uniques.get_indexer(pd.Index(list({c[i] for c in cells}), dtype=object))
            wanted = np.zeros(len(uniques) + 1, dtype=bool)  # the extra last entry is code -1 (missing): never
            wanted[at[at >= 0]] = True
            mask &= wanted[key.codes]
        return self.source[mask]

    def per_group(self, kept: tuple[int, ...], value: Any, statistic: str) -> np.ndarray | None:
        """The statistic per group id, or None when the keys have too many combinations."""
        found = self.ids(kept)
        if found is None or (statistic not in _FAST and value is None):
            return None
        ids, span = found
        if statistic not in _FAST:
            return self._other_statistic(ids, span, value, statistic)
        weighted = statistic[0] == "w"
        w = self.numbers(_WEIGHT) if weighted else None
        if statistic in ("size", "wsize") or value is None:
            return np.bincount(ids, w, minlength=span).astype(float)
        x = self.numbers(value)
        present = ~np.isnan(x)
        n = np.bincount(ids[present], None if w is None else w[present], minlength=span).astype(float)
        if statistic == "count":
            return n
        total = np.bincount(ids[present], x[present] if w is None else (w * x)[present], minlength=span)
        rows = np.bincount(ids, minlength=span)
        statistic = statistic.lstrip("w")
        with np.errstate(all="ignore"):
            result = total if statistic == "sum" else total / n
        return np.where(rows > 0, result, np.nan)

    def _other_statistic(self, ids: np.ndarray, span: int, value: Any, statistic: str) -> np.ndarray:
        """Medians, quantiles and the like by pandas, grouped on the one integer group id (not on the key columns)."""
        column = self.source[value]
        groups = (column if self.valid.all() else column[self.valid]).groupby(ids, sort=False)
        got = groups.quantile(float(statistic[1:])) if statistic[0] == "q" else groups.agg(statistic)
        out = np.full(span, np.nan)
        out[got.index.to_numpy()] = pd.to_numeric(got, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        return out


def reproduce(
    grouper: Grouper, cell_keys: list[tuple[Any, ...]], value: Any, statistic: str, margins: bool = True
) -> np.ndarray:
    """The statistic for each cell, recomputed from the source; margins (ALL keys) over the other keys."""
    out = np.full(len(cell_keys), np.nan)
    patterns: dict[tuple[int, ...], list[int]] = {}
    if not margins:
        patterns[tuple(range(len(grouper.keys)))] = list(range(len(cell_keys)))
    for p, cell in enumerate(cell_keys if margins else ()):
        patterns.setdefault(tuple(i for i, k in enumerate(cell) if k is not ALL), []).append(p)
    source, keys = grouper.source[grouper.valid], grouper.keys
    for kept, positions in patterns.items():
        cells = [cell_keys[p] for p in positions]
        per_group = grouper.per_group(kept, value, statistic)
        if per_group is not None:
            at = grouper.cell_ids(kept, cells)
            got = np.where(at >= 0, per_group[np.maximum(at, 0)], np.nan)
        else:
            got = _by_pandas(
                source, [keys[i] for i in kept], [tuple(c[i] for i in kept) for c in cells], value, statistic
            )
        if statistic in COUNTING or value is None:
            got = np.nan_to_num(got, nan=0.0)
        out[positions] = got
    return out


def _by_pandas(
    source: pd.DataFrame, keys: list[Any], labels: list[tuple[Any, ...]], value: Any, statistic: str
) -> np.ndarray:
    grouped = _grouped(source, keys, value, statistic)
    if not isinstance(grouped, pd.Series):
        return np.full(len(labels), grouped, dtype=float)
    index = pd.MultiIndex.from_tuples(labels) if len(keys) > 1 else pd.Index([lab[0] for lab in labels], dtype=object)
    return pd.to_numeric(grouped.reindex(index), errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _tolerance(values: np.ndarray, max_rounding: int) -> float:
    """Half a unit of the precision the table's numbers were rounded to (0 when they were not rounded)."""
    finite = np.abs(values[np.isfinite(values)])
    if finite.size == 0:
        return 0.0
    coarsest = -round(math.log10(max(1, max_rounding))) if np.count_nonzero(finite) >= 3 else 0  # tens, hundreds
    with np.errstate(all="ignore"):
        for decimals in range(coarsest, 7):
            scaled = finite * 10.0**decimals
            if np.all(np.abs(scaled - np.round(scaled)) <= 1e-6 * np.maximum(1.0, scaled)):
                return 0.5 * 10.0**-decimals
    return 0.0


def values_match(
    table: np.ndarray, recomputed: np.ndarray, counting: bool, rules: Rules, relative: float = 1e-9
) -> bool:
    """Whether the recomputed statistics give the table's numbers, up to the table's rounding (and, for float32
    data, its precision)."""
    if table.shape != recomputed.shape:
        return False
    tolerance = _tolerance(table, rules.max_rounding)
    with np.errstate(all="ignore"):
        close = np.abs(table - recomputed) <= np.maximum(tolerance, relative * np.abs(recomputed)) + 1e-12
    both_empty = np.isnan(table) & np.isnan(recomputed)
    empty_zero = np.isnan(table) & (recomputed == 0) if counting else np.zeros_like(close)
    return bool(np.all(close | both_empty | empty_zero))


_FLOAT32 = 2e-6  # relative precision of statistics of float32 data (as pd.read_stata gives)


def scale_of(
    table: np.ndarray, recomputed: np.ndarray, counting: bool, rules: Rules, relative: float = 1e-9
) -> float | None:
    """1 when the recomputed statistics give the table's numbers; a power of ten when the table shows them scaled
    (x 100, in thousands); None otherwise. Any other factor is not trusted: a source must reproduce the table."""
    if values_match(table, recomputed, counting, rules, relative):
        return 1.0
    with np.errstate(all="ignore"):
        ratio = table / recomputed
    usable = np.isfinite(ratio) & (ratio > 0)
    if not usable.any():
        return None
    power = round(math.log10(float(np.median(ratio[usable]))))
    if power == 0 or abs(power) > 6:
        return None
    scale = 10.0**power
    return scale if values_match(table, recomputed * scale, counting, rules, relative) else None


@dataclass(frozen=True)
class Match:
    """A block of cells the source reproduces: which value column, which statistic, and for shares the base."""

    positions: np.ndarray
    value: Any
    statistic: str
    share_of: str | None = None  # "all", "rows" or "columns" for percentages/proportions
    scale: float = 1.0


_QUANTILES = ("q0.25", "q0.75", "q0.1", "q0.9", "q0.05", "q0.95", "q0.01", "q0.99", "q0.2", "q0.8")
ONE_ROW = _ONE_ROW = ("first", "last")  # a value of one row per group: unit records
_WHOLE_STATS = ("size", "nunique", "count", "sum", "mean", "median", "min", "max", *_QUANTILES, *_ONE_ROW)


_FRACTION_STATS = ("share", "mean", "sum", "median", "std", "var", "min", "max", "sem", "size", *_QUANTILES, *_ONE_ROW)


_SAMPLE_CELLS = 8
_MAX_BLOCKS = 200


def _options(
    source: pd.DataFrame, keys: list[Any], value: Any, statistic: str | None, whole: bool, id_columns: list[Any]
) -> list[tuple[Any, str]]:
    """(value column, statistic) pairs worth trying, most likely first; weighted ones first when weights= is given."""
    numeric = [
        c
        for c in source.columns
        if c not in keys
        and c not in id_columns
        and c != _WEIGHT
        and pd.api.types.is_numeric_dtype(source[c].dtype)
        and not pd.api.types.is_bool_dtype(source[c].dtype)
    ]
    stats = [statistic] if statistic else list(_WHOLE_STATS if whole else _FRACTION_STATS)
    if _WEIGHT in source.columns:
        counts = ["wsize"] if value is None and statistic in (None, "size", "count") else []
        stats = counts + [f"w{s}" for s in stats if s in ("sum", "mean")] + stats
    out: list[tuple[Any, str]] = []
    for stat in stats:
        if stat == "wsize":
            out.append((None, stat))
            continue
        if stat == "share":
            continue
        if stat == "size":
            if value is None:
                out.append((None, stat))
            continue
        if stat == "count" and value is None:
            out.append((None, "size"))
            columns = [c for c in numeric if source[c].hasnans]
        elif stat == "nunique":
            columns = [
                c
                for c in ([value] if value is not None else id_columns)
                if c not in keys and is_column(source, c) and not source[c].hasnans
            ]
        else:
            columns = [value] if value is not None else numeric
        out += [(c, stat) for c in columns]
    return list(dict.fromkeys(out))


def _sample(
    cell_keys: list[tuple[Any, ...]], table_values: np.ndarray, positions: np.ndarray, margins: bool
) -> np.ndarray:
    usable = positions[np.isfinite(table_values[positions])]
    if margins:
        usable = [p for p in usable if not any(k is ALL for k in cell_keys[p])]
    if len(usable) <= _SAMPLE_CELLS:
        return np.array(usable, dtype=int)
    step = len(usable) / _SAMPLE_CELLS
    return np.array([usable[int(i * step)] for i in range(_SAMPLE_CELLS)], dtype=int)


def find_block(
    grouper: Grouper,
    layout: Layout,
    table_values: np.ndarray,
    positions: np.ndarray,
    value: Any,
    statistic: str | None,
    id_columns: list[Any],
    rules: Rules,
    relative: float = 1e-9,
) -> Match | None:
    """The first (value, statistic) that reproduces every cell of a block exactly, or None."""
    block = table_values[positions]
    finite = block[np.isfinite(block)]
    whole = bool(finite.size) and bool(np.all(finite == np.floor(finite))) and bool(np.all(finite >= 0))
    cell_keys = [layout.cell_keys[p] for p in positions]
    if statistic in (None, "share") and value is None:
        share = _find_share(grouper, layout, block, cell_keys, positions, rules)
        if share is not None:
            return Match(positions, None, "size", *share)
        if statistic == "share":
            return None
    margins = layout.margins_name is not None
    sample = _sample(layout.cell_keys, table_values, positions, margins)
    sample_keys = [layout.cell_keys[p] for p in sample]
    source = grouper.source
    small = None
    options = _options(source, layout.keys, value, statistic, whole, id_columns)
    for tried, (candidate, stat) in enumerate(options):
        counting = stat in COUNTING or stat == "wsize" or candidate is None
        rejectable = len(sample) > 0 and tried > 0 and (stat not in _FAST or len(options) > _SAMPLE_CELLS)
        loose = _FLOAT32 if candidate is not None and source[candidate].dtype == np.float32 else relative
        try:
            if rejectable and small is None:  # cheap rejection on the rows of a few cells
                small = Grouper(grouper.rows_of(sample_keys), layout.keys)
            if (
                rejectable
                and scale_of(
                    table_values[sample],
                    reproduce(small, sample_keys, candidate, stat, margins),
                    counting,
                    rules,
                    loose,
                )
                is None
            ):
                continue
            scale = scale_of(block, reproduce(grouper, cell_keys, candidate, stat, margins), counting, rules, loose)
            if scale is not None:
                return Match(positions, candidate, stat, scale=scale)
        except Exception:  # a statistic pandas cannot compute for this column is simply not the match
            continue
    return None


def _sums_to(totals: np.ndarray, scale: float, tolerance: float) -> bool:
    """Whether shares add up to the whole (rounded percentages may be off by a little)."""
    present = totals[totals > 0]
    return bool(present.size) and bool(np.all(np.abs(present - scale) <= tolerance * scale))


def _find_share(
    grouper: Grouper,
    layout: Layout,
    block: np.ndarray,
    cell_keys: list[tuple[Any, ...]],
    positions: np.ndarray,
    rules: Rules,
) -> tuple[str, float] | None:
    """Proportions or percentages of the counts, of the whole table, of each row or of each column."""
    finite = block[np.isfinite(block)]
    if finite.size == 0 or finite.min() < 0 or finite.max() > 100 * (1 + 1e-9):
        return None
    n_row = len(layout.row_keys)
    margins = layout.margins_name is not None
    inner = (
        np.array([not any(k is ALL for k in c) for c in cell_keys], dtype=bool)
        if margins
        else np.ones(len(cell_keys), dtype=bool)
    )
    values = np.nan_to_num(block[inner])
    totals = {"all": np.array([values.sum()])}
    if layout.row_keys and layout.col_keys:
        n_cols = len(layout.cell_keys) // layout.n_rows
        rows, cols = np.divmod(positions[inner], n_cols)
        totals["rows"] = np.bincount(rows, values)
        totals["columns"] = np.bincount(cols, values)
    counts = None
    bases = {
        "all": lambda: [tuple(ALL for _ in c) for c in cell_keys],
        "rows": lambda: [c[:n_row] + tuple(ALL for _ in c[n_row:]) for c in cell_keys],
        "columns": lambda: [tuple(ALL for _ in c[:n_row]) + c[n_row:] for c in cell_keys],
    }
    for share_of, base_keys in bases.items():
        if share_of not in totals or not any(
            _sums_to(totals[share_of], scale, rules.share_base_tolerance) for scale in (1.0, 100.0)
        ):
            continue
        counts = reproduce(grouper, cell_keys, None, "size", margins) if counts is None else counts
        base = reproduce(grouper, base_keys(), None, "size")
        with np.errstate(all="ignore"):
            fraction = np.where(base > 0, counts / base, np.nan)
        for scale in (1.0, 100.0):
            if values_match(block, fraction * scale, False, rules):
                return share_of, scale
    return None


@dataclass
class Recovery:
    """How the source reproduces a table: the layout and one match per block of cells."""

    layout: Layout
    matches: list[Match]
    grouper: Grouper  # over the source, numeric keys binned as the table's interval labels

    @property
    def source(self) -> pd.DataFrame:
        return self.grouper.source

    def describe(self) -> str:
        """E.g. 'mean, max of inkomen; number of rows by gemeente, geslacht'."""
        by_stat: dict[str, list[str]] = {}
        for m in self.matches:
            if m.share_of:
                what = f"{'percentages' if m.scale == 100 else 'proportions'} of rows (of the {m.share_of} total)"
                by_stat.setdefault(what, [])
            elif m.value is None:
                by_stat.setdefault("weighted number of rows" if m.statistic == "wsize" else "number of rows", [])
            else:
                by_stat.setdefault(_statistic_words(m.statistic), [])
        values = list(dict.fromkeys(str(m.value) for m in self.matches if m.value is not None))
        stats = [s for s in by_stat if not s.endswith(("number of rows", "total)"))]
        parts = [s for s in by_stat if s.endswith(("number of rows", "total)"))]
        if stats:
            parts.append(f"{', '.join(stats)} of {', '.join(values)}")
        keys = ", ".join(str(k) for k in self.layout.keys) or "no grouping"
        return f"{'; '.join(parts)} by {keys}"


def _statistic_words(statistic: str) -> str:
    if statistic[0] == "q":
        return f"quantile {statistic[1:]}"
    return f"weighted {statistic[1:]}" if statistic[0] == "w" else statistic


def _binned(source: pd.DataFrame, layout: Layout) -> pd.DataFrame:
    """`groupby(pd.cut(df.leeftijd, bins))` labels rows with intervals: bin the numeric source key the same way."""
    binned = {}
    for i, key in enumerate(layout.keys):
        labels = {c[i] for c in layout.cell_keys if c[i] is not ALL}
        if (
            labels
            and all(isinstance(v, pd.Interval) for v in labels)
            and pd.api.types.is_numeric_dtype(source[key].dtype)
        ):
            try:
                bins = pd.IntervalIndex(sorted(labels, key=lambda v: (v.left, v.right)))
                if bins.is_non_overlapping_monotonic:
                    binned[key] = pd.cut(source[key], bins)
            except (TypeError, ValueError):
                continue
    return source.assign(**binned) if binned else source


def recover(
    table: PlainTable, source: pd.DataFrame, id_columns: list[Any], weights: Any = None, rules: Rules | None = None
) -> Recovery | str:
    """The recovery, or why the source does not reproduce the table (weighted statistics too, with weights=)."""
    rules = rules or active_rules()
    if weights is not None:
        w = source[weights].to_numpy() if isinstance(weights, str) else np.asarray(weights)
        source = source.assign(**{_WEIGHT: w})
    layout = read_layout(table, source)
    if layout is None:
        return "its row labels are not values of source columns, statistic names or column names"
    values = table.numbers()[0].ravel()
    blocks: dict[tuple[Any, str | None, tuple[Any, ...]], list[int]] = {}
    for p, block in enumerate(zip(layout.values, layout.statistics, layout.tags, strict=True)):
        blocks.setdefault(block, []).append(p)
    if len(blocks) > _MAX_BLOCKS:
        return f"it has {len(blocks)} blocks of cells with different statistics; at most {_MAX_BLOCKS} are tried"
    source = _binned(source, layout)
    matches = []
    grouper = Grouper(source, layout.keys)
    relative = _FLOAT32 if any(dtype == np.float32 for dtype in table.frame.dtypes) else 1e-9
    for (value, statistic, _), positions in blocks.items():
        match = find_block(grouper, layout, values, np.array(positions), value, statistic, id_columns, rules, relative)
        if match is None:
            what = (
                f"the {statistic or 'statistic'} of {value}"
                if value is not None
                else f"the {statistic}"
                if statistic
                else "any statistic tried"
            )
            return f"recomputing {what} from it does not give the table's numbers"
        matches.append(match)
    return Recovery(layout, matches, grouper)
