"""Reading a table without cell statistics: what its labels and values say each cell holds (DESIGN section 3).

A researcher's `groupby`, `value_counts`, `crosstab`, `pivot_table`, `describe` or `agg` result is just numbers
with labels. Without a source we read what the labels and values allow: whole numbers as counts, min/max labels
as extremes, everything else as numbers with unknown counts (review). Unit records are looked for always.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..cellstats import alone_in_line
from ..results import Finding, format_cells, format_label
from ..rules import Rules

# What a cell holds, as far as the labels and values tell.
EMPTY, COUNT, SHARE, EXTREME, MAGNITUDE, UNKNOWN, TEXT, NOT_APPLICABLE, UNLABELLED = range(9)


_PERCENTILE = re.compile(r"\d+(\.\d+)?%")


MARGIN_NAMES = {"all", "total", "totaal", "totals", "totalen"}


_NONE = object()  # "not found", where None is a valid name
_OBJECT = np.dtype(object)


# Statistic names as labels show them -> the pandas statistic ("q0.25" for a 25% quantile, "share" for shares).
_STATISTICS = {
    "count": "count",
    "counts": "size",
    "size": "size",
    "n": "size",
    "aantal": "size",
    "freq": "size",
    "frequency": "size",
    "nunique": "nunique",
    "sum": "sum",
    "mean": "mean",
    "average": "mean",
    "gemiddelde": "mean",
    "median": "median",
    "std": "std",
    "var": "var",
    "sem": "sem",
    "min": "min",
    "max": "max",
    "minimum": "min",
    "maximum": "max",
    "first": "first",
    "last": "last",
    "prod": "prod",
    "skew": "skew",
    "kurt": "kurt",
    "quantile": "q0.5",
    "proportion": "share",
    "percentage": "share",
    "percent": "share",
    "pct": "share",
    "share": "share",
    "aandeel": "share",
    "fraction": "share",
    "normalized": "share",
}


COUNTING = ("size", "count", "nunique")


def statistic_name(label: Any) -> str | None:
    """The pandas statistic a label names ('mean', 'q0.25' for '25%', 'share' for 'proportion'), or None."""
    if not isinstance(label, str):
        return None
    name = label.strip().lower()
    if _PERCENTILE.fullmatch(name):
        q = float(name[:-1]) / 100
        return "min" if q == 0 else "max" if q == 1 else f"q{q:g}"
    return _STATISTICS.get(name)


def is_column(source: pd.DataFrame, name: Any) -> bool:
    try:
        return name is not None and name in source.columns
    except TypeError:
        return False


def _axis_kinds(index: pd.Index) -> list[int | None]:
    """What each row or column label says its cells hold, from statistic names in unnamed levels (a named
    level holds group labels, where 'min' is just a category)."""
    unnamed = [i for i, name in enumerate(index.names) if name is None]
    if not unnamed:
        return [None] * len(index)
    said: dict[tuple[Any, ...], int | None] = {}
    kinds = []
    for label in index:
        parts = label if isinstance(label, tuple) else (label,)
        words = tuple(parts[i] for i in unnamed)
        if words not in said:
            said[words] = _strongest([_kind_of(statistic_name(w)) for w in words])
        kinds.append(said[words])
    return kinds


def _kind_of(statistic: str | None) -> int | None:
    if statistic is None:
        return None
    if statistic in COUNTING:
        return COUNT
    return {"share": SHARE, "min": EXTREME, "max": EXTREME}.get(statistic, MAGNITUDE)


def _strongest(kinds: list[int | None]) -> int | None:
    """Extremes outrank magnitudes, which outrank shares, which outrank counts."""
    for kind in (EXTREME, MAGNITUDE, SHARE, COUNT):
        if kind in kinds:
            return kind
    return None


def is_margin_label(label: Any) -> bool:
    parts = label if isinstance(label, tuple) else (label,)
    return any(isinstance(p, str) and p.strip().lower() in MARGIN_NAMES for p in parts)


@dataclass
class PlainTable:
    """A plain table as a grid of cells: the frame, and whether it was a Series (cells have no column)."""

    frame: pd.DataFrame
    is_series: bool

    def __post_init__(self) -> None:
        self.rows = list(self.frame.index)
        self.cols = list(self.frame.columns)

    def inner(self) -> tuple[np.ndarray, np.ndarray]:
        """Which rows and which columns are not margins ('All', 'Totaal', ...)."""
        return (
            np.array([not is_margin_label(r) for r in self.rows], dtype=bool),
            np.array([not is_margin_label(c) for c in self.cols], dtype=bool),
        )

    def cell(self, i: int, j: int) -> tuple[Any, Any]:
        return (self.rows[i], None if self.is_series else self.cols[j])

    def cells(self, mask: np.ndarray) -> list[tuple[Any, Any]]:
        return [self.cell(i, j) for i, j in zip(*np.nonzero(mask), strict=False)]

    def numbers(self) -> tuple[np.ndarray, np.ndarray]:
        """The cells as floats (NaN where not a number) and a mask of non-empty cells that are not numbers."""
        n_rows, n_cols = self.frame.shape
        values = np.full((n_rows, n_cols), np.nan)
        text = np.zeros((n_rows, n_cols), dtype=bool)
        for j in range(n_cols):
            column = self.frame.iloc[:, j]
            if pd.api.types.is_bool_dtype(column.dtype):
                text[:, j] = column.notna().to_numpy()
                continue
            if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_complex_dtype(column.dtype):
                with np.errstate(all="ignore"):
                    values[:, j] = pd.to_numeric(column, errors="coerce").astype("float64").to_numpy(na_value=np.nan)
                continue
            as_number = pd.to_numeric(column.astype(object).map(_number_or_none), errors="coerce")
            values[:, j] = as_number.astype("float64").to_numpy(na_value=np.nan)
            text[:, j] = column.notna().to_numpy() & np.isnan(values[:, j])
        return values, text


def _number_or_none(value: Any) -> Any:
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        return value
    return None


def as_plain_table(obj: Any) -> PlainTable:
    """DataFrame, Series or Styler as a grid; label columns of a default-indexed frame become its index."""
    if type(obj).__module__.startswith("pandas.io.formats.style"):
        obj = obj.data
    if isinstance(obj, pd.Series):
        return PlainTable(obj.to_frame(name=obj.name if obj.name is not None else 0), is_series=True)
    if not isinstance(obj, pd.DataFrame):
        raise TypeError(f"not a pandas table: {type(obj).__name__}")
    return PlainTable(_labels_to_index(obj), is_series=False)


def _labels_to_index(frame: pd.DataFrame) -> pd.DataFrame:
    """`groupby(...).size().reset_index()` keeps its labels in columns; put them back where labels belong."""
    if not isinstance(frame.index, pd.RangeIndex) or frame.index.name is not None or frame.columns.nlevels != 1:
        return frame
    if not frame.columns.is_unique:
        return frame
    label_cols = [c for c in frame.columns if _is_label_column(frame[c])]
    if not label_cols or len(label_cols) == frame.shape[1]:
        return frame
    keyed = frame.set_index(label_cols)
    return keyed if keyed.index.is_unique else frame


def _is_label_column(column: pd.Series) -> bool:
    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(dtype) and dtype != _OBJECT:
        return True
    if dtype == _OBJECT:
        present = column.dropna()
        return len(present) > 0 and all(isinstance(v, str) for v in present)
    return False


def classify(table: PlainTable, rules: Rules) -> tuple[np.ndarray, np.ndarray]:
    """Per cell: what it holds (EMPTY, COUNT, ...) and its value as a float."""
    values, text = table.numbers()
    n_rows, n_cols = values.shape
    row_kinds = _axis_kinds(table.frame.index)
    col_kinds = [None] if table.is_series and table.frame.columns[0] == 0 else _axis_kinds(table.frame.columns)
    by_label = np.full((n_rows, n_cols), -1)
    for i, rk in enumerate(row_kinds):
        for j, ck in enumerate(col_kinds):
            kind = _strongest([rk, ck])
            if kind is not None:
                by_label[i, j] = kind
    with np.errstate(all="ignore"):
        whole = np.isfinite(values) & (values >= 0) & (np.floor(values) == values)
    fractional = (np.isfinite(values) & ~whole).any(axis=0)
    kinds = np.where(whole & ~fractional[None, :], COUNT, UNKNOWN)
    kinds = np.where(np.isnan(values), EMPTY, kinds)
    kinds = np.where(text, TEXT, kinds)
    labelled = by_label >= 0
    counted = labelled & (by_label == COUNT) & ~whole & ~np.isnan(values)
    kinds = np.where(labelled & (kinds != EMPTY) & (kinds != TEXT), by_label, kinds)
    kinds = np.where(counted, UNKNOWN, kinds)
    kinds = np.where(labelled & (by_label != COUNT) & (kinds == EMPTY), NOT_APPLICABLE, kinds)
    kinds = _shares(table, kinds, values, rules)
    if has_default_index(table.frame) and n_rows > 1:
        kinds = np.where(kinds == COUNT, UNLABELLED, kinds)
    return kinds, values


def has_default_index(frame: pd.DataFrame | pd.Series) -> bool:
    """Rows numbered 0, 1, 2, ... without a name: no groups, so whole numbers there are not counts of groups."""
    index = frame.index
    return isinstance(index, pd.RangeIndex) and index.name is None and index.start == 0 and index.step == 1


def _shares(table: PlainTable, kinds: np.ndarray, values: np.ndarray, rules: Rules) -> np.ndarray:
    """Unlabelled fractions that add up to 1 (or 100) over the table, its rows or its columns are shares."""
    open_cells = (kinds == UNKNOWN) | (kinds == COUNT)
    if not (kinds == UNKNOWN).any() or not (open_cells | (kinds == EMPTY)).all():
        return kinds
    inner_rows, inner_cols = table.inner()
    inner = np.nan_to_num(values[np.ix_(inner_rows, inner_cols)])
    if inner.size == 0 or (inner < 0).any():
        return kinds
    for scale in (1.0, 100.0):
        if inner.max() > scale * (1 + 1e-9):
            continue
        tolerance = rules.share_tolerance * scale + 1e-9 * scale * inner.size
        for sums in (np.array([inner.sum()]), inner.sum(axis=1), inner.sum(axis=0)):
            present = sums[sums > 0]
            allowed = max(tolerance, rules.share_line_tolerance * scale * len(inner))
            if present.size and np.all(np.abs(present - scale) <= allowed):
                return np.where(kinds == UNKNOWN, SHARE, np.where(kinds == COUNT, SHARE, kinds))
    return kinds


def rule_findings(table: PlainTable, kinds: np.ndarray, values: np.ndarray, rules: Rules) -> list[Finding]:
    """threshold / zero / min_max / unknown_counts, from what the cells are read to hold."""
    with np.errstate(all="ignore"):
        small = (kinds == COUNT) & (values > 0) & (values < rules.threshold)
        zero = ((kinds == COUNT) | (kinds == SHARE)) & (values == 0) | (kinds == EMPTY)
    percentages = _rounded_percentages(table, kinds, values, rules)
    with np.errstate(all="ignore"):
        unproven = (kinds == COUNT) & (values >= rules.threshold)
    unknown = (np.isin(kinds, (UNKNOWN, MAGNITUDE, SHARE, TEXT, UNLABELLED)) | percentages | unproven) & ~zero
    n = rules.threshold
    found = [
        _cells_finding(
            table,
            small,
            "threshold",
            "fail",
            f"{{n}} cell(s) count fewer than {n} (whole numbers in a table without known statistics are "
            "read as counts of units); a small count can identify a person or business.",
            f"Combine categories until every count is at least {n}, or suppress these cells before export.",
        ),
        _cells_finding(
            table,
            zero | _full_lines(table, kinds, values),
            "zero",
            rules.zero,
            "{n} cell(s) are zero or empty, or hold every unit of their row or column; that can reveal "
            "that nobody, or everybody, in a group has a property (group disclosure).",
            "Check that the zeros disclose nothing (structural zeros are fine) and say so in the "
            "explanation, or combine categories.",
        ),
        _cells_finding(
            table,
            kinds == EXTREME,
            "min_max",
            rules.min_max,
            "{n} cell(s) show a minimum, maximum or 0%/100% percentile, which is the value of a single unit.",
            "Drop the min/max (0%/100%) rows or columns, e.g. describe().drop(['min', 'max']), or show "
            "percentiles such as 10%/90%.",
        ),
        _cells_finding(
            table,
            unknown,
            "unknown_counts",
            rules.unknown_counts,
            "The number of units behind {n} cell(s) cannot be established: "
            + _unknown_what(kinds[unknown], percentages.any()),
            "Check it with the source frame, e.g. cel.check(table, data=df), or build the table with "
            "cel.crosstab / cel.pivot_table, which keep the cell statistics.",
        ),
    ]
    return [f for f in found if f is not None]


def _rounded_percentages(table: PlainTable, kinds: np.ndarray, values: np.ndarray, rules: Rules) -> np.ndarray:
    """Whole numbers whose rows (or columns) each add up to 100 may be rounded percentages, which hide how small
    a group is (1 of 3 is 33): they are judged as counts and also reported as not established."""
    inner_rows, inner_cols = table.inner()
    counts = np.where(kinds == COUNT, values, np.nan)[np.ix_(inner_rows, inner_cols)]
    if table.is_series or min(counts.shape) < 2 or np.isnan(counts).any():
        return np.zeros(kinds.shape, dtype=bool)
    for axis in (1, 0):
        if np.all(np.abs(counts.sum(axis=axis) - 100) <= rules.percent_line_tolerance * counts.shape[axis]):
            return kinds == COUNT
    return np.zeros(kinds.shape, dtype=bool)


def _full_lines(table: PlainTable, kinds: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Count cells that are the only non-zero cell of their row or column (outside the margins)."""
    full = np.zeros(kinds.shape, dtype=bool)
    inner_rows, inner_cols = table.inner()
    if table.is_series or inner_rows.sum() < 2 and inner_cols.sum() < 2:
        return full
    counts = np.where(kinds == COUNT, np.nan_to_num(values), np.nan)[np.ix_(inner_rows, inner_cols)]
    if np.isnan(counts).any():
        return full
    full[np.ix_(inner_rows, inner_cols)] = alone_in_line(counts > 0)
    return full


def _cells_finding(
    table: PlainTable, mask: np.ndarray, rule: str, severity: str, message: str, fix: str
) -> Finding | None:
    if not mask.any():
        return None
    cells = table.cells(mask)
    return Finding(
        rule=rule,
        severity=severity,
        message=message.format(n=len(cells)),
        where=format_cells(cells),
        fix=fix,
        cells=cells,
    )


def _unknown_what(kinds: np.ndarray, percentages: bool = False) -> str:
    parts = ["whole numbers whose rows or columns add up to 100 may be rounded percentages"] if percentages else []
    if (kinds == COUNT).any() and not percentages:
        parts.append(
            "whole numbers without their source may be counts of rows rather than units, or rounded "
            "means or sums of a few units (a mean of three persons rounded looks like a count)"
        )
    if (kinds == SHARE).any():
        parts.append("percentages or proportions are not counts")
    if (kinds == MAGNITUDE).any():
        parts.append("statistics such as means or sums do not show how many units they cover")
    if (kinds == UNKNOWN).any():
        parts.append("numbers that are not whole counts")
    if (kinds == TEXT).any():
        parts.append("text values")
    if (kinds == UNLABELLED).any():
        parts.append("whole numbers in rows without labels (0, 1, 2, ...) are not counts of groups")
    return "; ".join(parts) + "."


def count_cells(kinds: np.ndarray) -> int:
    """Cells with frequencies: counts, shares of counts, and empty cells in columns of counts."""
    frequency = np.isin(kinds, (COUNT, SHARE))
    filled = kinds != EMPTY
    count_columns = (frequency | ~filled).all(axis=0) & frequency.any(axis=0)
    return int(frequency.sum() + ((kinds == EMPTY) & count_columns[None, :]).sum())


def _is_id_like(values: pd.Index | pd.Series, name: Any, rules: Rules) -> bool:
    """Labels or a column with one unit per entry: a linking key with (almost) all values different, or values
    that are mostly written like ids."""
    n = len(values)
    if n == 0:
        return False
    uniques = pd.unique(np.asarray(values, dtype=object))
    if rules.is_linking_key(name):
        return len(uniques) >= rules.id_distinct_share * n and (n >= 2 or rules.looks_like_id(uniques[0]))
    sample = uniques[: rules.id_sample]
    return sum(rules.looks_like_id(v) for v in sample) >= rules.id_written_share * len(sample)


def _rows_of_source(obj: pd.DataFrame | pd.Series, data: pd.DataFrame, sample: int) -> bool:
    """Whether the table is an extract: its index labels are source rows and its values are those rows' values."""
    frame = obj.to_frame() if isinstance(obj, pd.Series) else obj
    if len(frame) == 0 or frame.columns.nlevels != 1 or not data.index.is_unique:
        return False
    values = as_plain_table(obj).frame.columns  # label columns (reset_index()) are no values of rows
    shared = [c for c in frame.columns if is_column(data, c) and c in values]
    if not shared or any(is_column(data, n) for n in frame.index.names):
        return False
    rows = frame.index[:sample]
    try:
        if not rows.isin(data.index).all():
            return False
        mine = frame.loc[rows, shared].astype(object).to_numpy()
        theirs = data.loc[rows, shared].astype(object).to_numpy()
    except (TypeError, ValueError, KeyError):
        return False
    return bool(np.all(pd.isna(mine) & pd.isna(theirs) | (mine == theirs)))


def microdata_findings(obj: pd.DataFrame | pd.Series, rules: Rules, data: pd.DataFrame | None) -> list[Finding]:
    """Unit records: an id column or index, about as many rows as the source frame, rows of the source; without a
    source, rows without group labels (at least review). A source that does not reproduce the table as statistics
    is looked at again in `unreproduced_records`."""
    reasons = []
    levels = [(obj.index.get_level_values(i), obj.index.names[i]) for i in range(obj.index.nlevels)]
    if isinstance(obj, pd.DataFrame):
        levels += [(obj.iloc[:, j], obj.columns[j]) for j in range(obj.shape[1])]
        levels += [(obj.columns.get_level_values(i), obj.columns.names[i]) for i in range(obj.columns.nlevels)]
    id_like = next((name for values, name in levels if _is_id_like(values, name, rules)), _NONE)
    if id_like is not _NONE:
        label = format_label(id_like) if id_like is not None else "an unnamed index or column"
        reasons.append(f"{label} holds one id per row or column")
    if data is None and has_default_index(obj) and len(obj) >= rules.unlabelled_records:
        reasons.append(f"it has {len(obj):,} rows without row labels")
    if data is not None and len(data) >= 2 and len(obj) >= rules.microdata_row_share * len(data):
        reasons.append(f"it has {len(obj):,} rows for {len(data):,} rows in the source frame")
    elif data is not None and _rows_of_source(obj, data, rules.source_rows_sample):
        reasons.append("its rows are rows of the source frame")
    if reasons:
        return [records_finding("; ".join(reasons))]
    return [] if data is not None else records_without_source(obj, rules)


def records_finding(reasons: str) -> Finding:
    return Finding(
        rule="microdata",
        severity="fail",
        message=f"This looks like unit records, not a table: {reasons}. Records of persons or businesses are never "
        "exported.",
        where="the whole table",
        fix="Export a table of counts or statistics per group instead of the records.",
    )


def unreproduced_records(obj: pd.DataFrame | pd.Series, data: pd.DataFrame, rules: Rules) -> list[Finding]:
    """A table its source does not reproduce as statistics: records when its rows are rows of the source by
    their values, else judged as a table without a source."""
    frame = as_plain_table(obj).frame
    how = _groups_first_or_last(frame, data)  # only here: a recovered statistic is judged on its cell statistics
    if how is not None:
        return [
            records_finding(f"each cell is the {how} value of its group in the source frame, the value of one unit")
        ]
    if values_are_source_rows(frame, data):
        return [records_finding("its rows (labels and values) are rows of the source frame")]
    return records_without_source(obj, rules)


def records_without_source(obj: pd.DataFrame | pd.Series, rules: Rules, source: str = "df") -> list[Finding]:
    """A table without (a reproducing) source whose rows carry no group labels: records until shown otherwise."""
    found = _records_without_source(obj, rules)
    if found is None:
        return []
    severity, why = found
    if severity == "fail":
        return [records_finding(why)]
    return [
        Finding(
            rule="microdata",
            severity="review",
            message=f"This may be unit records rather than a table: {why}. Without the frame it was made from it cannot "
            "be established that each row covers several units.",
            where="the whole table",
            fix=f"Check it with the frame it was made from, e.g. cel.check(table, data={source}); export a table of "
            "counts or statistics per group instead of rows of persons or businesses.",
        )
    ]


_RECORD_STATISTICS = ("first", "last")


def _row_label_index(index: pd.Index) -> bool:
    """Unnamed whole-number labels that are not 0, 1, 2, ... in order: the row numbers of a source frame that a
    sort, `nlargest`, `sample` or a filter kept."""
    if index.nlevels != 1 or index.name is not None or len(index) < 2 or not index.is_unique:
        return False
    if not pd.api.types.is_integer_dtype(index.dtype):
        return False
    return not (isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1)


def _individual_values(frame: pd.DataFrame) -> Any:
    """The first float column whose values look like values of single units (stored to at most two decimals, not
    all equal), as a raw income or amount is, where a mean of a group rarely is; None when there is none."""
    for name in frame.columns:
        column = frame[name]
        if not pd.api.types.is_float_dtype(column.dtype):
            continue
        values = column.dropna().to_numpy(dtype=float)
        if values.size < 2 or np.unique(values).size < 2:
            continue
        with np.errstate(all="ignore"):
            if np.all(np.abs(values * 100 - np.round(values * 100)) < 1e-6 * np.maximum(1, np.abs(values))):
                return name
    return None


def _key_column(frame: pd.DataFrame) -> Any:
    """A column of whole numbers or labels with one distinct value per row in sorted order: a group key that
    `reset_index()` moved into the columns (a year), so the rows are groups."""
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_float_dtype(column.dtype) or column.isna().any() or not column.is_unique:
            continue
        if column.is_monotonic_increasing:
            return name
    return None


def _records_without_source(obj: pd.DataFrame | pd.Series, rules: Rules) -> tuple[str, str] | None:
    """(severity, reason) when a table without a source may be unit records: rows without group labels."""
    frame = as_plain_table(obj).frame
    row_labels = _row_label_index(frame.index)
    if not row_labels and not (has_default_index(frame) and len(frame) >= 2):
        return None
    what = (
        "its rows are labelled with row numbers of a source frame, as a sort, nlargest, sample or filter leaves them"
        if row_labels
        else "its rows have no labels (0, 1, 2, ...), so they are not groups"
    )
    individual = _individual_values(frame)
    if individual is not None and len(frame) >= rules.records_rows and (row_labels or _key_column(frame) is None):
        return "fail", f"{what}, and column {format_label(individual)} holds values as single units have them"
    return "review", what


def _groups_first_or_last(frame: pd.DataFrame, data: pd.DataFrame) -> str | None:
    """'first' or 'last' when every cell of a table grouped by source columns is that group's first or last value
    in the source (groupby().first() / .last()): each cell is one unit's value."""
    keys = list(frame.index.names)
    shared = [c for c in frame.columns if is_column(data, c) and c not in keys]
    if frame.size < 2 or not all(is_column(data, k) for k in keys) or not shared or len(shared) != frame.shape[1]:
        return None
    try:
        grouped = data.groupby(keys, observed=True, dropna=False)[shared]
        for how in _RECORD_STATISTICS:
            expected = getattr(grouped, how)().reindex(frame.index)
            mine, theirs = frame[shared].to_numpy(dtype=object), expected.to_numpy(dtype=object)
            same = pd.isna(mine) & pd.isna(theirs) | (mine == theirs)
            if bool(np.all(same)) and not np.all(pd.isna(mine)):
                return how
    except (TypeError, ValueError, KeyError, IndexError):
        return None
    return None


def values_are_source_rows(obj: pd.DataFrame | pd.Series, data: pd.DataFrame) -> bool:
    """Whether every row of a table that its source does not reproduce as statistics is a row of the source:
    its labels and values, matched on the source's columns (an extract with its row labels changed or moved)."""
    frame = obj.to_frame() if isinstance(obj, pd.Series) else obj
    if len(frame) == 0 or frame.columns.nlevels != 1 or not frame.columns.is_unique:
        return False
    grouped = not has_default_index(frame) and not _row_label_index(frame.index)
    keys = [n for n in frame.index.names if is_column(data, n)] if grouped else []
    if grouped and len(keys) != frame.index.nlevels:
        return False
    values = [c for c in frame.columns if is_column(data, c) and c not in keys]
    if not values or len(values) + len(keys) < 2 and grouped or len(values) < (2 if grouped else 1):
        return False
    table = frame.reset_index()[keys + values] if keys else frame[values]
    try:
        mine = pd.MultiIndex.from_frame(table.astype(object))
        theirs = pd.MultiIndex.from_frame(data[keys + values].astype(object))
        return bool(mine.isin(theirs).all())
    except (TypeError, ValueError, KeyError):
        return False


# ---------------------------------------------------------------- numbers written in labels and values

_NUMBER = r"(-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)"
_INTERVAL = re.compile(rf"\s*([(\[])\s*{_NUMBER}\s*,\s*{_NUMBER}\s*([)\]])\s*", re.IGNORECASE)
_NOUNS = (
    r"personen|persoon|persons?|people|mensen|huishoudens?|bedrijven|bedrijf|respondenten|respondents?|"
    r"waarnemingen|observations?|obs|units?|leerlingen|werknemers|inwoners"
)
_N_IS = re.compile(r"(?<![a-z])n\s*=\s*(\d+)(?!\d)", re.IGNORECASE)
_NOTED_COUNT = re.compile(rf"[(\[:,;-]\s*(\d+)\s+(?:{_NOUNS})\b", re.IGNORECASE)
_BARE_COUNT = re.compile(rf"\s*(\d+)\s+(?:{_NOUNS})\s*", re.IGNORECASE)
_ID_NAME = re.compile(r"(^|_|\b)(id|nr|nummer|key|bsn|pid)($|_|\b)|(id|nummer|nr)$", re.IGNORECASE)
_CURRENCY = ("EUR", "€", "$", "USD")


def _levels(obj: pd.DataFrame | pd.Series) -> list[tuple[Any, pd.Index]]:
    """(name, distinct labels) of every index and column level."""
    axes = [obj.index] + ([] if isinstance(obj, pd.Series) else [obj.columns])
    out = []
    for axis in axes:
        for i in range(axis.nlevels):
            values = axis.get_level_values(i)
            out.append((axis.names[i], pd.Index(pd.unique(np.asarray(values, dtype=object)))))
    return out


def _intervals(labels: pd.Index) -> list[pd.Interval]:
    out = []
    for label in labels:
        if isinstance(label, pd.Interval):
            out.append(label)
        elif isinstance(label, str) and (m := _INTERVAL.fullmatch(label)):
            closed = {("(", "]"): "right", ("[", ")"): "left", ("[", "]"): "both"}.get((m[1], m[4]), "neither")
            left, right = float(m[2]), float(m[3])
            if left <= right:
                out.append(pd.Interval(left, right, closed=closed))
    return out


def _edges_at_extremes(intervals: list[pd.Interval], name: Any, data: pd.DataFrame | None) -> str | None:
    """Which outer edge of these bins is the data's minimum or maximum (pd.qcut always; pd.cut with a number of
    bins; explicit bins only when an edge is the extreme), said as text; None when none is."""
    first = min(intervals, key=lambda i: i.left)
    last = max(intervals, key=lambda i: i.right)
    lo, hi = float(first.left), float(last.right)
    if data is None:
        adjusted = lo != round(lo) and abs(round(lo + 0.001, 3) - round(lo + 0.001)) < 1e-9
        return f"its lowest edge {lo:g} is a data minimum lowered by 0.001, as pd.qcut writes it" if adjusted else None
    columns = [name] if is_column(data, name) else list(data.columns)
    for column in columns:
        values = data[column]
        if not pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
            continue
        mn, mx = values.min(), values.max()
        if pd.isna(mn):
            continue
        mn, mx = float(mn), float(mx)
        tol = max(0.001 * (mx - mn), 0.001) * (1 + 1e-6) + 1e-9 * max(1.0, abs(mn), abs(mx))
        if column is not name and (mn < lo - tol or mx > hi + tol):
            continue  # another column's values do not fit in these bins, so they were not binned
        at_min = mn - tol <= lo <= mn and (lo < mn or first.closed_left)
        at_max = mx <= hi <= mx + tol and (hi > mx or last.closed_right)
        if at_min or at_max:
            which = " and ".join(w for w, hit in (("minimum", at_min), ("maximum", at_max)) if hit)
            return f"its outer edges ({lo:g}, {hi:g}) are the {which} of {format_label(column)} in the source"
    return None


def _label_counts(name: Any, labels: pd.Index, rules: Rules) -> list[str]:
    """Labels (and a level's name) that state a count below N: '80+ (n=3)', 'n = 4', 'Vlieland (3 personen)'."""
    texts = [label for label in labels if isinstance(label, str)] + ([name] if isinstance(name, str) else [])
    bare = [t for t in texts if _BARE_COUNT.fullmatch(t)]
    classification = len(bare) >= 2  # '1 persoon', '2 personen', ...: a household size, not a count
    found = []
    for text in texts:
        numbers = [int(n) for n in _N_IS.findall(text) + _NOTED_COUNT.findall(text)]
        if not classification and (m := _BARE_COUNT.fullmatch(text)):
            numbers.append(int(m[1]))
        if any(0 < n < rules.threshold for n in numbers):
            found.append(text)
    return found


def _embedded_ids(values: Any, name: Any, rules: Rules) -> list[Any]:
    """Ids written inside values: a zero-padded id with a prefix or suffix ('P000123456'), an id of id_digits
    digits stuck to letters, or a whole number of (almost) id_digits digits in a column or level named like an id."""
    d = rules.id_digits
    padded = re.compile(rf"(?<!\d)0\d{{{d - 1}}}(?!\d)")
    stuck = re.compile(rf"(?:(?<=[A-Za-z])[1-9]\d{{{d - 1}}}(?![\d.,])|(?<![\d.,])[1-9]\d{{{d - 1}}}(?=[A-Za-z]))")
    id_name = rules.is_linking_key(name) or isinstance(name, str) and bool(_ID_NAME.search(name))
    found = []
    for value in pd.unique(np.asarray(values, dtype=object)):
        if isinstance(value, str):
            text = value.strip()
            if rules.looks_like_id(text) or any(text.upper().startswith(c) for c in _CURRENCY):
                continue
            if padded.search(text) or stuck.search(text):
                found.append(value)
        elif id_name and isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
            number = float(value)
            if np.isfinite(number) and number == round(number) and 10 ** (d - 3) <= abs(number) < 10**d:
                found.append(value)
    return found


def label_findings(obj: pd.DataFrame | pd.Series, rules: Rules, data: pd.DataFrame | None) -> list[Finding]:
    """Numbers written in labels and values (DESIGN section 3): interval labels at the data's minimum or maximum
    (min_max), a count below N written in a label (threshold), an id inside a value (identifier)."""
    if type(obj).__module__.startswith("pandas.io.formats.style"):
        obj = obj.data
    findings = []
    places = _levels(obj) + (
        []
        if isinstance(obj, pd.Series)
        else [
            (obj.columns[j], obj.iloc[:, j])
            for j in range(obj.shape[1])
            if not pd.api.types.is_float_dtype(obj.iloc[:, j].dtype)
            or rules.is_linking_key(obj.columns[j])
            or _ID_NAME.search(str(obj.columns[j]))
        ]
    )
    if isinstance(obj, pd.Series):
        places.append((obj.name, obj))
    for name, labels in places:
        where = f"labels of {format_label(name)}" if name is not None else "unnamed labels"
        intervals = _intervals(pd.Index(labels)) if isinstance(labels, pd.Index) else []
        at_extreme = _edges_at_extremes(intervals, name, data) if intervals else None
        if at_extreme:
            findings.append(
                Finding(
                    rule="min_max",
                    severity=rules.min_max if data is not None else "review",
                    message=f"The interval labels of {where} show the data's extremes: {at_extreme}. A minimum or maximum "
                    "is the value of a single unit.",
                    where=where,
                    fix="Bin with explicit edges inside the data's range (e.g. pd.cut(x, [18, 30, 65, "
                    "np.inf])) and label the outer bins open-ended ('< 18', '65+').",
                )
            )
        counts = _label_counts(name, pd.Index(labels), rules) if isinstance(labels, pd.Index) else []
        if counts:
            findings.append(
                Finding(
                    rule="threshold",
                    severity="fail",
                    message=f"{len(counts)} label(s) state a count below {rules.threshold} ({', '.join(counts[:3])}); a "
                    "count written in a label is a count like any cell.",
                    where=where,
                    fix=f"Remove the counts from the labels, or merge categories until each holds {rules.threshold}.",
                )
            )
        ids = _embedded_ids(labels, name, rules)
        if ids:
            shown = ", ".join(str(v) for v in ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")
            findings.append(
                Finding(
                    rule="identifier",
                    severity="fail",
                    message=f"{len(ids)} value(s) of {where} hold a person or business id ({shown}); ids are never "
                    "exported.",
                    where=where,
                    fix="Remove the ids; export counts or statistics per group.",
                )
            )
    return findings
