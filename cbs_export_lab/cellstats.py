"""The statistics behind every cell of a table, computed in one grouped pass over factorized keys.

A checker needs, per cell: how many distinct units and source records it rests on, the weighted total, and
the largest absolute contributions (summed per unit first). `grouped_stats` computes all of them with
`np.bincount` / `np.maximum.at` over integer group codes, so a 10M-row table costs a few passes over arrays
instead of one pandas crosstab per statistic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .keys import unit_ranges

FREQUENCY = frozenset({"count", "size"})
EXTREMES = frozenset({"min", "max"})
KEEP_LARGEST = 2


@dataclass(eq=False)
class CellStats:
    """The statistics behind every cell of a table, aligned with its labels (all arrays are rows x columns).

    `units` are unweighted distinct units (or source records when no unit is known); `top1`/`top2` the largest
    and second-largest absolute contribution, summed per unit first; `abs_total` the sum of the absolute
    contributions. `top_more` holds ranks 3, 4, ... when a stricter dominance rule needs them.
    """

    index: pd.Index
    columns: pd.Index
    units: np.ndarray
    rows: np.ndarray
    weighted: np.ndarray | None
    top1: np.ndarray
    top2: np.ndarray
    abs_total: np.ndarray
    statistic: str
    magnitude: bool
    is_margin: np.ndarray
    unit_name: str | None
    weighted_table: bool
    source: str | None
    top_more: np.ndarray | None = None
    quantile: float | None = None
    normalized: str | None = None
    observations: int | None = None
    shown: np.ndarray | None = field(default=None, repr=False)  # the table's numbers when attached
    nonzero: np.ndarray | None = None  # units with a non-zero contribution (magnitude tables)
    sketch: Any = field(default=None, repr=False)  # differencing.CellSketch: the units behind each cell

    @property
    def shape(self) -> tuple[int, int]:
        return self.units.shape

    @property
    def frequency(self) -> bool:
        """Cells hold frequencies (counts, or percentages/proportions of counts)."""
        return self.statistic in FREQUENCY

    @property
    def reveals_extremes(self) -> bool:
        return self.statistic in EXTREMES or (self.statistic == "quantile" and self.quantile in (0.0, 1.0))

    def largest(self, n: int) -> np.ndarray | None:
        """Sum of the n largest contributions per cell, or None when fewer ranks were kept."""
        ranks = [self.top1, self.top2] + ([] if self.top_more is None else list(self.top_more))
        if n > len(ranks):
            return None
        return np.sum(ranks[:n], axis=0)

    def to_frames(self) -> dict[str, pd.DataFrame]:
        """Units, records and the dominance shares per cell, labelled like the table (background information)."""

        def frame(values: np.ndarray) -> pd.DataFrame:
            return pd.DataFrame(values, index=self.index, columns=self.columns)

        with np.errstate(divide="ignore", invalid="ignore"):
            share1 = np.where(self.abs_total > 0, self.top1 / self.abs_total, np.nan)
            share2 = np.where(self.abs_total > 0, (self.top1 + self.top2) / self.abs_total, np.nan)
        frames = {
            "units": frame(self.units),
            "rows": frame(self.rows),
            "largest_share": frame(share1),
            "two_largest_share": frame(share2),
        }
        if self.weighted is not None:
            frames["weighted"] = frame(self.weighted)
        return frames

    def align(self, index: pd.Index, columns: pd.Index) -> CellStats:
        """The same statistics on other labels of the same grouping; labels absent here have no source rows."""
        return self.take(label_positions(self.index, index), label_positions(self.columns, columns), index, columns)

    def take(self, rows_at: np.ndarray, cols_at: np.ndarray, index: pd.Index, columns: pd.Index) -> CellStats:
        """The cells at these row and column positions (-1: no source rows), labelled `index` x `columns`."""

        def cells(values: np.ndarray | None, fill: Any = 0) -> np.ndarray | None:
            return None if values is None else take_grid(values, rows_at, cols_at, fill)

        more = None if self.top_more is None else np.stack([cells(m) for m in self.top_more])
        return CellStats(
            index=index,
            columns=columns,
            units=cells(self.units),
            rows=cells(self.rows),
            weighted=cells(self.weighted),
            top1=cells(self.top1),
            top2=cells(self.top2),
            abs_total=cells(self.abs_total),
            statistic=self.statistic,
            magnitude=self.magnitude,
            is_margin=cells(self.is_margin, False),
            unit_name=self.unit_name,
            weighted_table=self.weighted_table,
            source=self.source,
            top_more=more,
            quantile=self.quantile,
            normalized=self.normalized,
            observations=self.observations,
            nonzero=cells(self.nonzero),
            sketch=None if self.sketch is None else self.sketch.take(rows_at, cols_at),
        )


def label_positions(have: pd.Index, want: Sequence[Any]) -> np.ndarray:
    """Where each label of `want` sits in `have` (-1: absent); missing values match each other.

    Labels are looked up as they are first; only the ones not found are normalised (NaN != NaN), which keeps
    tables of many MultiIndex labels cheap.
    """
    if isinstance(want, pd.Index) and have.equals(want):
        return np.arange(len(want))
    exact = {label: i for i, label in enumerate(have)}
    want = list(want)
    found = np.fromiter((exact.get(label, -1) for label in want), dtype=np.int64, count=len(want))
    missing = np.flatnonzero(found < 0)
    if missing.size:
        normal = {_plain(label): i for i, label in enumerate(have)}
        found[missing] = [normal.get(_plain(want[i]), -1) for i in missing]
    return found


def _plain(label: Any) -> Any:
    """A hashable label where every missing value compares equal (NaN != NaN otherwise)."""
    if isinstance(label, tuple):
        return tuple(_plain(x) for x in label)
    return "\0missing" if label is None or (isinstance(label, float) and np.isnan(label)) or label is pd.NA else label


def alone_in_line(filled: np.ndarray) -> np.ndarray:
    """Filled cells that are the only filled cell of their row or column (group disclosure), in lines of 2+ cells."""
    flags = np.zeros(filled.shape, dtype=bool)
    if filled.shape[1] >= 2:
        flags |= (filled.sum(axis=1) == 1)[:, None] & filled
    if filled.shape[0] >= 2:
        flags |= (filled.sum(axis=0) == 1)[None, :] & filled
    return flags


def take_grid(values: np.ndarray, rows_at: np.ndarray, cols_at: np.ndarray, fill: Any) -> np.ndarray:
    """The cells at these row and column positions; `fill` where a position is -1."""
    out = (
        values[np.ix_(np.maximum(rows_at, 0), np.maximum(cols_at, 0))]
        if values.size
        else np.zeros((len(rows_at), len(cols_at)), dtype=values.dtype)
    )
    out = out.copy()
    out[rows_at < 0, :] = fill
    out[:, cols_at < 0] = fill
    return out


# --- one grouped pass -------------------------------------------------------------------------------------


@dataclass
class Groups:
    """Source rows mapped to table cells: `cell` = row group * n_cols + column group, for the rows that count."""

    cell: np.ndarray
    n_rows: int
    n_cols: int
    counted: np.ndarray | None = field(default=None, repr=False)  # rows per cell, when the grouping counted them

    @property
    def sizes(self) -> np.ndarray:
        """Rows per cell (flat), counted once for the statistics and the table's own layout."""
        if self.counted is None:
            self.counted = np.bincount(self.cell, minlength=self.n_rows * self.n_cols)
        return self.counted


@dataclass
class Grid:
    """Statistics on the grid of observed row groups x column groups, plus one margin row and column."""

    units: np.ndarray
    rows: np.ndarray
    weighted: np.ndarray | None
    largest: np.ndarray  # (ranks, R + 1, C + 1)
    abs_total: np.ndarray
    observations: int
    nonzero: np.ndarray | None = None  # units with a non-zero contribution, per cell and margin


def bordered(inner: np.ndarray, by_row: np.ndarray, by_col: np.ndarray, total: Any) -> np.ndarray:
    """An R x C grid with its row margins as an extra column and its column margins as an extra row."""
    R, C = inner.shape
    out = np.zeros((R + 1, C + 1), dtype=np.result_type(inner, by_row, by_col, np.asarray(total)))
    out[:R, :C] = inner
    out[:R, C] = by_row
    out[R, :C] = by_col
    out[R, C] = total
    return out


def summed(inner: np.ndarray) -> np.ndarray:
    """An R x C grid bordered by its row, column and grand sums."""
    return bordered(inner, inner.sum(1), inner.sum(0), inner.sum())


SAMPLE_EVERY = 16


def largest_per_group(group: np.ndarray, values: np.ndarray, n_groups: int, ranks: int) -> np.ndarray:
    """The `ranks` largest values per group, ties kept (shape ranks x n_groups, 0 where a group has fewer).

    With many values per group, the `ranks`-th largest of every 16th value is a floor under each group's
    largest: only the values at or above it are searched, usually a tiny part."""
    if values.size > 4 * SAMPLE_EVERY * max(n_groups, 1024):
        floor = largest_per_group(group[::SAMPLE_EVERY], values[::SAMPLE_EVERY], n_groups, ranks)[ranks - 1]
        candidates = np.flatnonzero(values >= floor[group])
        if candidates.size < values.size // 2:
            return largest_per_group(group[candidates], values[candidates], n_groups, ranks)
    out = np.zeros((ranks, n_groups))
    filled = np.zeros(n_groups, dtype=np.int64)
    remaining = np.array(values, dtype=float)
    for _ in range(ranks):
        top = np.full(n_groups, -np.inf)
        np.maximum.at(top, group, remaining)
        live = np.isfinite(top)
        if not live.any():
            break
        hit = live[group] & (remaining == top[group])
        ties = np.bincount(group[hit], minlength=n_groups)
        for rank in range(ranks):
            put = live & (filled <= rank) & (rank < filled + ties)
            out[rank, put] = top[put]
        filled += ties
        remaining[hit] = -np.inf
    return np.maximum(out, 0.0)


def run_starts(ordered: np.ndarray) -> np.ndarray:
    """Where each run of equal values starts in a sorted array."""
    first = np.ones(ordered.size, dtype=bool)
    first[1:] = ordered[1:] != ordered[:-1]
    return np.flatnonzero(first)


def _run_sums(values: np.ndarray | None, starts: np.ndarray) -> np.ndarray | None:
    if values is None:
        return None
    return np.add.reduceat(values, starts) if starts.size else np.zeros(0)


def _unit_pairs(
    cell: np.ndarray, unit: np.ndarray, n_cells: int, values: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The distinct (unit, cell) pairs, ordered by unit and then cell, and the values summed per pair.

    Sorting integer keys is much faster than hashing them, and sorted keys make the pairs consecutive runs.
    """
    keys = unit.astype(np.int64) * n_cells + cell
    order = None if values is None else np.argsort(keys)
    ordered = np.sort(keys) if order is None else keys[order]
    starts = run_starts(ordered)
    pair_unit, pair_cell = np.divmod(ordered[starts], n_cells)
    return pair_unit, pair_cell, _run_sums(None if values is None else values[order], starts)


def _line_pairs(
    pair_unit: np.ndarray, line: np.ndarray, n_lines: int, contrib: np.ndarray | None, ordered: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """The distinct (unit, row) or (unit, column) pairs of the (unit, cell) pairs: each pair's line, and the
    contributions summed per pair. The pairs come ordered by unit, so a stable sort of these keys is cheap;
    rows are already in order within a unit (`ordered`), columns are not."""
    keys = pair_unit * n_lines + line
    if not ordered:
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        contrib = None if contrib is None else contrib[order]
    starts = run_starts(keys)
    return keys[starts] % n_lines, _run_sums(contrib, starts)


def grouped_stats(
    groups: Groups,
    *,
    values: np.ndarray | None,
    unit: np.ndarray | None,
    n_units: int,
    weights: np.ndarray | None,
    magnitude: bool,
    ranks: int = KEEP_LARGEST,
) -> Grid:
    """Units, records, weighted totals and largest contributions per cell and per margin, in one pass."""
    R, C = groups.n_rows, groups.n_cols
    cell = groups.cell
    n_cells = R * C
    shape = (R + 1, C + 1)

    rows_inner = groups.sizes.reshape(R, C)
    rows = summed(rows_inner)

    weighted = None
    if weights is not None:
        w = weights * values if magnitude and values is not None else weights
        inner = np.bincount(cell, w, minlength=n_cells).reshape(R, C)
        weighted = summed(inner)

    x = values if magnitude and values is not None else None
    nonzero = None
    if unit is None:
        units = rows
        observations = int(len(cell))
        if x is not None:
            nonzero = summed(np.bincount(cell, x != 0, minlength=n_cells).reshape(R, C))
        if x is None:
            largest = np.zeros((ranks,) + shape)
            abs_total = np.zeros(shape)
        else:
            ax = np.abs(x)
            inner_top = largest_per_group(cell, ax, n_cells, ranks)
            abs_inner = np.bincount(cell, ax, minlength=n_cells)
            largest, abs_total = _margins_from_cells(inner_top, abs_inner, R, C, ranks)
    else:
        units, largest, abs_total, nonzero, observations = _unit_stats(cell, unit, n_units, x, R, C, ranks)
    return Grid(
        units=units,
        rows=rows,
        weighted=weighted,
        largest=largest,
        abs_total=abs_total,
        observations=observations,
        nonzero=nonzero,
    )


def _unit_stats(
    cell: np.ndarray, unit: np.ndarray, n_units: int, x: np.ndarray | None, R: int, C: int, ranks: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, int]:
    """Distinct units, largest contributions (summed per unit), absolute totals and units with a non-zero
    contribution, per cell and margin. Passes over ranges of units keep memory bounded at register scale; the
    unit sets of two passes are disjoint, so counts and totals add up and the largest are among each pass's."""
    shape = (R + 1, C + 1)
    units = np.zeros(shape, dtype=np.int64)
    abs_total = np.zeros(shape)
    nonzero = None if x is None else np.zeros(shape)
    tops = []
    observations = 0
    for rows in unit_ranges(unit, n_units):
        part = _unit_pass(cell[rows], unit[rows], None if x is None else x[rows], R, C, ranks)
        units += part.units
        observations += part.observations
        if x is not None:
            abs_total += part.abs_total
            nonzero += part.nonzero
            tops.append(part.largest)
    largest = np.zeros((ranks,) + shape)
    if len(tops) == 1:
        largest = tops[0]
    elif tops:
        largest = -np.sort(-np.concatenate(tops), axis=0)[:ranks]
    return units, largest, abs_total, nonzero, observations


def _unit_pass(cell: np.ndarray, unit: np.ndarray, x: np.ndarray | None, R: int, C: int, ranks: int) -> Grid:
    """`_unit_stats` for the rows of one range of units."""
    n_cells = R * C
    shape = (R + 1, C + 1)
    pair_unit, pair_cell, contrib = _unit_pairs(cell, unit, n_cells, x)
    pair_row, pair_col = np.divmod(pair_cell, C)
    by_row, by_row_sums = _line_pairs(pair_unit, pair_row, R, contrib, ordered=True)
    by_col, by_col_sums = _line_pairs(pair_unit, pair_col, C, contrib, ordered=False)
    del pair_row, pair_col
    unit_starts = run_starts(pair_unit)
    observations = int(unit_starts.size)
    units = bordered(
        np.bincount(pair_cell, minlength=n_cells).reshape(R, C),
        np.bincount(by_row, minlength=R),
        np.bincount(by_col, minlength=C),
        observations,
    )
    largest = np.zeros((ranks,) + shape)
    abs_total = np.zeros(shape)
    nonzero = None
    if contrib is not None:
        top, tot = _top_and_total(pair_cell, contrib, n_cells, ranks)
        largest[:, :R, :C] = top.reshape(ranks, R, C)
        abs_total[:R, :C] = tot.reshape(R, C)
        for line, sums, n, put in ((by_row, by_row_sums, R, np.s_[:R, C]), (by_col, by_col_sums, C, np.s_[R, :C])):
            top, tot = _top_and_total(line, sums, n, ranks)
            largest[(slice(None),) + put] = top
            abs_total[put] = tot
        per_unit = _run_sums(contrib, unit_starts)
        top, tot = _top_and_total(np.zeros(per_unit.size, dtype=np.int64), per_unit, 1, ranks)
        largest[:, R, C] = top[:, 0]
        abs_total[R, C] = tot[0]
        nonzero = bordered(
            np.bincount(pair_cell, contrib != 0, minlength=n_cells).reshape(R, C),
            np.bincount(by_row, by_row_sums != 0, minlength=R),
            np.bincount(by_col, by_col_sums != 0, minlength=C),
            np.count_nonzero(per_unit),
        )
    return Grid(units, units, None, largest, abs_total, observations, nonzero)


def _top_and_total(group: np.ndarray, contrib: np.ndarray, n_groups: int, ranks: int) -> tuple[np.ndarray, np.ndarray]:
    a = np.abs(contrib)
    return largest_per_group(group, a, n_groups, ranks), np.bincount(group, a, minlength=n_groups)


def _margins_from_cells(
    inner_top: np.ndarray, abs_inner: np.ndarray, R: int, C: int, ranks: int
) -> tuple[np.ndarray, np.ndarray]:
    """Without units, each record sits in one cell: a margin's largest records are among its cells' largest."""
    largest = np.zeros((ranks, R + 1, C + 1))
    grid = inner_top.reshape(ranks, R, C)
    largest[:, :R, :C] = grid
    abs_total = summed(abs_inner.reshape(R, C))
    row_of = np.repeat(np.arange(R), C)
    col_of = np.tile(np.arange(C), R)
    flat = grid.reshape(ranks, R * C)
    candidates = flat.ravel()
    largest[:, :R, C] = largest_per_group(np.tile(row_of, ranks), candidates, R, ranks)
    largest[:, R, :C] = largest_per_group(np.tile(col_of, ranks), candidates, C, ranks)
    largest[:, R, C] = largest_per_group(np.zeros(candidates.size, dtype=np.int64), candidates, 1, ranks)[:, 0]
    return largest, abs_total


def grid_labels(labels: Sequence[Any], margin: Any) -> pd.Index:
    """Labels of the observed groups followed by the margin label, as tuples when there are several levels."""
    return pd.Index(list(labels) + [margin], tupleize_cols=True)
