"""Grouping keys as integer codes: the one way to factorize keys, combine them into group ids and code unit ids.

Every grouped computation (the builders, recovery of a plain table from its source) starts here: each key
becomes a code per row (-1: missing, dropped) and several keys combine into one integer per row, so grouping
is `np.bincount` over integers rather than hashing of labels.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .errors import UserError

CODE = np.int32  # codes of keys and cells; wider only where a key has more values
MAX_SPAN = 1 << 24  # up to this many combinations, group ids are positions in a dense table


@dataclass
class Key:
    """One grouping key, factorized: a code per row (-1: dropped), how many codes, and their labels."""

    codes: np.ndarray
    size: int
    labels: Callable[[np.ndarray], Any]
    uniques: pd.Index  # the label of each code (categories for a categorical key)

    def lookup(self) -> pd.Index:
        """The labels as objects, to find the code of a label written in a table."""
        return pd.Index(self.uniques, dtype=object)


def factor(values: Any, dropna: bool = True, sort: bool = True) -> Key:
    """A key's codes: categories in their order, other values sorted (or first seen); missing values get -1, or a
    code of their own when `dropna` is False."""
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = series.cat.codes.to_numpy()  # int8 or int16: combined in a wider type (`mixed_radix`)
        dtype = series.dtype
        uniques = dtype.categories
        n = len(uniques)

        def labels(c: np.ndarray) -> Any:
            return pd.Categorical.from_codes(np.where(c >= n, -1, c), dtype=dtype)
    else:
        codes, uniques = pd.factorize(series, sort=sort)
        codes = codes.astype(CODE if len(uniques) < np.iinfo(CODE).max else np.int64)
        n = len(uniques)

        def labels(c: np.ndarray) -> Any:
            return uniques.take(np.where(c >= n, -1, c), allow_fill=True)

    if not dropna and (codes < 0).any():
        codes = np.where(codes < 0, n, codes.astype(CODE))
        return Key(codes, n + 1, labels, uniques)
    return Key(codes, n, labels, uniques)


def mixed_radix(codes: Sequence[np.ndarray], sizes: Sequence[int], dtype: Any = None) -> np.ndarray:
    """One integer per row for several codes: the first key varies slowest. 32-bit when every combination fits,
    which halves the memory of the keys of a register-sized table."""
    if dtype is None:
        dtype = CODE if np.prod(sizes, dtype=float) < np.iinfo(CODE).max else np.int64
    flat = codes[0].astype(dtype, copy=len(codes) > 1)  # a copy of its own when it is added to below
    for c, size in zip(codes[1:], sizes[1:], strict=False):
        flat *= dtype(size)
        flat += c
    return flat


def combine(keys: Sequence[Key], valid: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """One group id per valid row for several keys (groups that occur, in key order), and each key's code per group."""
    sizes = [k.size for k in keys]
    everything = bool(valid.all())
    flat = mixed_radix([k.codes if everything else k.codes[valid] for k in keys], sizes)
    span = int(np.prod(sizes, dtype=float))
    if span <= MAX_SPAN:
        present = np.flatnonzero(np.bincount(flat, minlength=span))
        group = flat
        if present.size < span:
            remap = np.full(span, -1, dtype=flat.dtype)
            remap[present] = np.arange(present.size)
            group = remap[flat]
    else:
        group, present = pd.factorize(flat, sort=True)
        present = np.asarray(present)
    per_key = np.unravel_index(present, sizes)
    return group, [np.asarray(c, dtype=np.int64) for c in per_key]


@dataclass
class Cells:
    """Source rows on a table's grid: each valid row's cell (row group * C + column group, the groups that occur,
    in key order), rows per cell when counted, and each key's code per row group and per column group."""

    cell: np.ndarray
    sizes: np.ndarray | None
    row_codes: list[np.ndarray]
    col_codes: list[np.ndarray]


def grid_cells(row_keys: Sequence[Key], col_keys: Sequence[Key], valid: np.ndarray) -> Cells:
    """The cells of a table. When every combination of all keys fits a dense table, one count over it gives the
    rows and columns that occur and the rows per cell together (register-sized tables pass over the rows twice,
    not five times); otherwise rows and columns are combined apart."""
    sizes_r, sizes_c = [k.size for k in row_keys], [k.size for k in col_keys]
    span_r, span_c = int(np.prod(sizes_r, dtype=float)), int(np.prod(sizes_c, dtype=float))
    if span_r * span_c > MAX_SPAN:
        rg, row_codes = combine(row_keys, valid)
        cg, col_codes = combine(col_keys, valid) if col_keys else (np.zeros(int(valid.sum()), rg.dtype), [])
        C = len(col_codes[0]) if col_codes else 1
        dtype = np.result_type(rg, cg)  # a key of very many combinations comes as 64-bit codes
        cell = np.multiply(rg, dtype.type(C), dtype=dtype)
        cell += cg
        return Cells(cell, None, row_codes, col_codes)
    everything = bool(valid.all())
    keys = list(row_keys) + list(col_keys)
    flat = mixed_radix([k.codes if everything else k.codes[valid] for k in keys], sizes_r + sizes_c, np.int64)
    counts = np.bincount(flat, minlength=span_r * span_c).reshape(span_r, span_c)
    rows, cols = np.flatnonzero(counts.any(axis=1)), np.flatnonzero(counts.any(axis=0))
    if rows.size == span_r and cols.size == span_c:  # every row and column occurs: the cells are the combinations
        cell = flat.astype(CODE)
    else:
        remap = np.full((span_r, span_c), -1, dtype=CODE)
        remap[np.ix_(rows, cols)] = np.arange(rows.size * cols.size, dtype=CODE).reshape(rows.size, cols.size)
        cell = remap.ravel()[flat]
    del flat
    row_codes = [np.asarray(c, dtype=np.int64) for c in np.unravel_index(rows, sizes_r)] if row_keys else []
    col_codes = [np.asarray(c, dtype=np.int64) for c in np.unravel_index(cols, sizes_c)] if col_keys else []
    return Cells(cell, counts[np.ix_(rows, cols)].ravel(), row_codes, col_codes)


def labels(keys: Sequence[Key], codes: Sequence[np.ndarray]) -> list[Any]:
    """The label of each group: a value for one key, a tuple of values for several."""
    arrays = [list(k.labels(c)) for k, c in zip(keys, codes, strict=False)]
    return arrays[0] if len(arrays) == 1 else list(zip(*arrays, strict=False))


def unit_codes(values: np.ndarray, name: str | None) -> tuple[np.ndarray, int]:
    """A code per row for the unit ids and the number of codes; whole-number ids in a compact range are their own
    codes (no hashing). A missing id is refused: it is no unit."""
    if values.dtype.kind in "iu" and values.size:
        low, high = int(values.min()), int(values.max())
        if low >= 0 and high < 4 * values.size + 1024:
            return values.astype(np.int64, copy=False), high + 1
    codes, uniques = pd.factorize(values)
    refuse_missing_units(codes, name)
    return codes.astype(np.int64), max(1, len(uniques))


ROWS_PER_PASS = 4_000_000
SAMPLED_CODES = 100_000


def unit_ranges(codes: np.ndarray, n_codes: int) -> Iterator[np.ndarray | slice]:
    """The rows in passes of about ROWS_PER_PASS, each pass a range of unit codes, so every unit's rows fall in
    one pass: per-unit work (sorting (unit, cell) pairs) then needs memory for one pass, not for the whole panel,
    and results of passes add up. One pass (all rows) when they are few."""
    passes = -(-codes.size // ROWS_PER_PASS)
    if passes <= 1:
        yield slice(None)
        return
    sample = np.sort(codes[:: max(1, codes.size // SAMPLED_CODES)])  # bounds at its quantiles: ids may be skewed
    inner = sample[(np.arange(1, passes) * sample.size) // passes]
    bounds = np.unique(np.concatenate([[0], inner, [n_codes]]).astype(np.int64))
    for low, high in zip(bounds[:-1], bounds[1:], strict=True):
        inside = codes >= low
        inside &= codes < high
        rows = np.flatnonzero(inside)
        del inside
        if rows.size:
            yield rows


def refuse_missing_units(codes: np.ndarray, name: str | None) -> None:
    """Rows without a unit id (code -1) cannot be counted as units: tables and models refuse them alike."""
    if (codes < 0).any():
        raise UserError(f"unit= ({name}) has missing values. Every row needs a unit id.")
