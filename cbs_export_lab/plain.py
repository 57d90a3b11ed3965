"""Checks for plain pandas tables, which carry no cell statistics (DESIGN section 3).

A researcher's `groupby`, `value_counts`, `crosstab`, `pivot_table`, `describe` or `agg` result is just numbers
with labels. With a source frame we recover how the table was made and recompute the cell statistics; a source
that does not reproduce the numbers is not trusted. Without one we read what the labels and values allow:
whole numbers as counts, min/max labels as extremes, everything else as numbers with unknown counts (review).
Identifiers and unit records are looked for always.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np
import pandas as pd

from .errors import UserError
from .results import CheckResult, Counts, Finding, format_cells, format_label
from .rules import Rules

# What a cell holds, as far as the labels and values tell.
EMPTY, COUNT, SHARE, EXTREME, MAGNITUDE, UNKNOWN, TEXT, NOT_APPLICABLE = range(8)

_COUNT_NAMES = {"count", "counts", "size", "nunique", "n", "freq", "frequency", "aantal"}
_SHARE_NAMES = {"proportion", "percentage", "percent", "pct", "%", "share", "aandeel", "fraction", "normalized"}
_EXTREME_NAMES = {"min", "max", "minimum", "maximum", "0%", "100%", "idxmin", "idxmax"}
_MAGNITUDE_NAMES = {
    "mean", "sum", "median", "std", "var", "sem", "prod", "first", "last", "mad", "skew", "kurt",
    "average", "gemiddelde", "totaal_bedrag", "quantile", "mode",
}
_PERCENTILE = re.compile(r"\d+(\.\d+)?%")
MARGIN_NAMES = {"all", "total", "totaal", "totals", "totalen"}

# A table with at least this share of the source's rows is read as unit records.
MICRODATA_ROW_SHARE = 0.8
# An id column is one whose values are (almost) all different.
ID_DISTINCT_SHARE = 0.9


def _label_kind(label: Any) -> int | None:
    """What a row or column label says its cells hold (a statistic name), or None when it says nothing."""
    parts = label if isinstance(label, tuple) else (label,)
    kinds = set()
    for part in parts:
        if not isinstance(part, str):
            continue
        name = part.strip().lower()
        if name in _EXTREME_NAMES:
            kinds.add(EXTREME)
        elif name in _SHARE_NAMES:
            kinds.add(SHARE)
        elif name in _COUNT_NAMES:
            kinds.add(COUNT)
        elif name in _MAGNITUDE_NAMES or _PERCENTILE.fullmatch(name):
            kinds.add(MAGNITUDE)
    for kind in (EXTREME, MAGNITUDE, SHARE, COUNT):
        if kind in kinds:
            return kind
    return None


def _combine(row_kind: int | None, col_kind: int | None) -> int | None:
    kinds = {k for k in (row_kind, col_kind) if k is not None}
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

    @property
    def rows(self) -> list[Any]:
        return list(self.frame.index)

    @property
    def cols(self) -> list[Any]:
        return list(self.frame.columns)

    def cell(self, i: int, j: int) -> tuple[Any, Any]:
        return (self.frame.index[i], None if self.is_series else self.frame.columns[j])

    def cells(self, mask: np.ndarray) -> list[tuple[Any, Any]]:
        return [self.cell(i, j) for i, j in zip(*np.nonzero(mask))]

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
            if pd.api.types.is_numeric_dtype(column.dtype):
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
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(dtype) and dtype != object:
        return True
    if dtype == object:
        present = column.dropna()
        return len(present) > 0 and all(isinstance(v, str) for v in present)
    return False


def classify(table: PlainTable) -> tuple[np.ndarray, np.ndarray]:
    """Per cell: what it holds (EMPTY, COUNT, ...) and its value as a float."""
    values, text = table.numbers()
    n_rows, n_cols = values.shape
    row_kinds = [_label_kind(r) for r in table.frame.index]
    col_kinds = [None if table.is_series and table.frame.columns[0] == 0 else _label_kind(c) for c in table.frame.columns]
    by_label = np.full((n_rows, n_cols), -1)
    for i, rk in enumerate(row_kinds):
        for j, ck in enumerate(col_kinds):
            kind = _combine(rk, ck)
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
    kinds = _shares(table, kinds, values)
    return kinds, values


def _shares(table: PlainTable, kinds: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Unlabelled fractions that add up to 1 (or 100) over the table, its rows or its columns are shares."""
    open_cells = (kinds == UNKNOWN) | (kinds == COUNT)
    if not (kinds == UNKNOWN).any() or not (open_cells | (kinds == EMPTY)).all():
        return kinds
    inner_rows = np.array([not is_margin_label(r) for r in table.frame.index], dtype=bool)
    inner_cols = np.array([not is_margin_label(c) for c in table.frame.columns], dtype=bool)
    inner = np.nan_to_num(values[np.ix_(inner_rows, inner_cols)])
    if inner.size == 0 or (inner < 0).any():
        return kinds
    for scale in (1.0, 100.0):
        if inner.max() > scale * (1 + 1e-9):
            continue
        tolerance = 0.002 * scale + 1e-9 * scale * inner.size
        for sums in (np.array([inner.sum()]), inner.sum(axis=1), inner.sum(axis=0)):
            present = sums[sums > 0]
            if present.size and np.all(np.abs(present - scale) <= max(tolerance, 0.0005 * scale * len(inner))):
                return np.where(kinds == UNKNOWN, SHARE, np.where(kinds == COUNT, SHARE, kinds))
    return kinds


# ---------------------------------------------------------------- findings without a source


def rule_findings(table: PlainTable, kinds: np.ndarray, values: np.ndarray, rules: Rules) -> list[Finding]:
    """threshold / zero / min_max / unknown_counts, from what the cells are read to hold."""
    findings: list[Finding] = []
    with np.errstate(all="ignore"):
        small = (kinds == COUNT) & (values > 0) & (values < rules.threshold)
        zero = ((kinds == COUNT) | (kinds == SHARE)) & (values == 0) | (kinds == EMPTY)
    if small.any():
        cells = table.cells(small)
        findings.append(Finding(
            rule="threshold", severity="fail",
            message=f"{len(cells)} cell(s) count fewer than {rules.threshold} (whole numbers in a table without "
                    "known statistics are read as counts of units); a small count can identify a person or business.",
            where=format_cells(cells), fix=f"Combine categories until every count is at least {rules.threshold}, "
                                           "or suppress these cells before export.",
            cells=cells,
        ))
    if zero.any():
        cells = table.cells(zero)
        findings.append(Finding(
            rule="zero", severity=rules.zero,
            message=f"{len(cells)} cell(s) are zero or empty; an empty cell can reveal that nobody in a group has "
                    "a property (group disclosure).",
            where=format_cells(cells), fix="Check that the zeros disclose nothing (structural zeros are fine) and "
                                           "say so in the explanation, or combine categories.",
            cells=cells,
        ))
    extreme = kinds == EXTREME
    if extreme.any():
        cells = table.cells(extreme)
        findings.append(Finding(
            rule="min_max", severity=rules.min_max,
            message=f"{len(cells)} cell(s) show a minimum, maximum or 0%/100% percentile, which is the value of a "
                    "single unit.",
            where=format_cells(cells), fix="Drop the min/max (0%/100%) rows or columns, e.g. "
                                           "describe().drop(['min', 'max']), or show percentiles such as 10%/90%.",
            cells=cells,
        ))
    unknown = np.isin(kinds, (UNKNOWN, MAGNITUDE, SHARE, TEXT))
    if unknown.any():
        cells = table.cells(unknown)
        what = _unknown_what(kinds[unknown])
        findings.append(Finding(
            rule="unknown_counts", severity=rules.unknown_counts,
            message=f"The number of units behind {len(cells)} cell(s) cannot be established: {what}.",
            where=format_cells(cells),
            fix="Check it with the source frame, e.g. cel.check(table, data=df), or build the table with "
                "cel.crosstab / cel.pivot_table, which keep the cell statistics.",
            cells=cells,
        ))
    return findings


def _unknown_what(kinds: np.ndarray) -> str:
    parts = []
    if (kinds == SHARE).any():
        parts.append("percentages or proportions are not counts")
    if (kinds == MAGNITUDE).any():
        parts.append("statistics such as means or sums do not show how many units they cover")
    if (kinds == UNKNOWN).any():
        parts.append("numbers that are not whole counts")
    if (kinds == TEXT).any():
        parts.append("text values")
    return "; ".join(parts)


def count_cells(kinds: np.ndarray) -> int:
    """Cells with frequencies: counts, shares of counts, and empty cells in columns of counts."""
    frequency = np.isin(kinds, (COUNT, SHARE))
    filled = kinds != EMPTY
    count_columns = (frequency | ~filled).all(axis=0) & frequency.any(axis=0)
    return int(frequency.sum() + ((kinds == EMPTY) & count_columns[None, :]).sum())


# ---------------------------------------------------------------- identifiers and unit records


def _names(obj: pd.DataFrame | pd.Series) -> list[tuple[str, Any]]:
    """Every name a table shows: index and column level names, column labels (and their parts), Series name."""
    out: list[tuple[str, Any]] = [("index level", n) for n in obj.index.names]
    if isinstance(obj, pd.Series):
        out.append(("name", obj.name))
    else:
        out += [("column level", n) for n in obj.columns.names]
        for label in obj.columns:
            parts = label if isinstance(label, tuple) else (label,)
            out += [("column", p) for p in parts]
    return out


def _id_values(values: Iterable[Any], rules: Rules) -> list[Any]:
    series = pd.Series(pd.unique(pd.Series(list(values) if not isinstance(values, (pd.Index, pd.Series)) else values,
                                           dtype=object)), dtype=object)
    found = [v for v in series if rules.looks_like_id(v)]
    return found


def _label_values(index: pd.Index) -> list[pd.Index]:
    if isinstance(index, pd.MultiIndex):
        return [index.levels[i][np.unique(index.codes[i][index.codes[i] >= 0])] for i in range(index.nlevels)]
    return [index]


def identifier_findings(obj: pd.DataFrame | pd.Series, rules: Rules) -> list[Finding]:
    """Linking keys shown as names, and id-like values in the labels or cells."""
    findings = []
    keys = sorted({str(name) for _, name in _names(obj) if rules.is_linking_key(name)})
    if keys:
        findings.append(Finding(
            rule="identifier", severity="fail",
            message=f"The table shows the linking key(s) {', '.join(keys)}; linking keys are never exported.",
            where="the table's index or column names", fix=f"Drop {', '.join(keys)} from the table, or group "
                                                          "by something that does not identify units.",
        ))
    places = []
    for where, index in [("index holds", obj.index)] + ([] if isinstance(obj, pd.Series) else [("column labels hold", obj.columns)]):
        ids = [v for level in _label_values(index) for v in _id_values(level, rules)]
        if ids:
            places.append((where, ids))
    cell_columns = [obj] if isinstance(obj, pd.Series) else [obj.iloc[:, j] for j in range(obj.shape[1])]
    cell_ids = [v for col in cell_columns if not pd.api.types.is_numeric_dtype(col.dtype) for v in _id_values(col, rules)]
    if cell_ids:
        places.append(("cells hold", cell_ids))
    for where, ids in places:
        shown = ", ".join(str(v) for v in ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")
        findings.append(Finding(
            rule="identifier", severity="fail",
            message=f"The table's {where} {len(ids)} value(s) written like {rules.id_digits}-digit person or "
                    f"business ids ({shown}); ids are never exported.",
            where=f"the table's {where.rsplit(' ', 1)[0]}", fix="Remove the id values; export counts or statistics per group instead.",
        ))
    return findings


def _is_id_like(values: pd.Index | pd.Series, name: Any, rules: Rules) -> bool:
    """A label set that holds one unit per entry: a linking key or id-like values, (almost) all different."""
    n = len(values)
    if n == 0:
        return False
    uniques = pd.unique(pd.Series(values, dtype=object))
    distinct = len(uniques) >= ID_DISTINCT_SHARE * n
    if rules.is_linking_key(name):
        return distinct
    sample = uniques[:200]
    return sum(rules.looks_like_id(v) for v in sample) >= 0.5 * len(sample)


def microdata_findings(obj: pd.DataFrame | pd.Series, rules: Rules, data: pd.DataFrame | None) -> list[Finding]:
    """Unit records: an id column or index, or about as many rows as the source frame."""
    reasons = []
    levels = [(obj.index.get_level_values(i), obj.index.names[i]) for i in range(obj.index.nlevels)]
    if isinstance(obj, pd.DataFrame):
        levels += [(obj.iloc[:, j], obj.columns[j]) for j in range(obj.shape[1])]
        levels += [(obj.columns.get_level_values(i), obj.columns.names[i]) for i in range(obj.columns.nlevels)]
    for values, name in levels:
        if len(values) >= 2 or any(rules.looks_like_id(v) for v in list(values)[:1]):
            if _is_id_like(values, name, rules):
                label = format_label(name) if name is not None else "an unnamed index or column"
                reasons.append(f"{label} holds one id per row or column")
                break
    if data is not None and len(data) >= 2 and len(obj) >= MICRODATA_ROW_SHARE * len(data):
        reasons.append(f"it has {len(obj):,} rows for {len(data):,} rows in the source frame")
    if not reasons:
        return []
    return [Finding(
        rule="microdata", severity="fail",
        message=f"This looks like unit records, not a table: {'; '.join(reasons)}. Records of persons or "
                "businesses are never exported.",
        where="the whole table", fix="Export a table of counts or statistics per group instead of the records.",
    )]


# ---------------------------------------------------------------- entry point


def check_plain_table(obj: Any, *, data: Any = None, unit: Any = None, weights: Any = None, rules: Rules) -> CheckResult:
    """Check a DataFrame, Series or Styler that carries no cell statistics (DESIGN section 3)."""
    source = _source_frame(data)
    _check_column_argument("unit", unit, source)
    _check_column_argument("weights", weights, source)
    raw = obj.data if type(obj).__module__.startswith("pandas.io.formats.style") else obj
    try:
        table = as_plain_table(raw)
    except TypeError as exc:
        return _unsupported(rules, str(exc))
    always = identifier_findings(raw, rules) + microdata_findings(raw, rules, source)
    kinds, values = classify(table)
    findings = always + rule_findings(table, kinds, values, rules)
    counts = Counts(tables=1, cells=int(kinds.size), count_cells=count_cells(kinds))
    return CheckResult(kind="table", findings=findings, counts=counts, rules_origin=rules.origin)


def _unsupported(rules: Rules, why: str) -> CheckResult:
    return CheckResult(kind="unsupported", findings=[Finding(
        rule="unsupported", severity=rules.unsupported, message=f"This output could not be checked: {why}.",
        where="the whole object", fix="Pass a pandas DataFrame or Series.",
    )], rules_origin=rules.origin)


def _source_frame(data: Any) -> pd.DataFrame | None:
    if data is None:
        return None
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame()
    raise UserError(
        f"data= must be the pandas DataFrame the table was made from, not a {type(data).__name__}. "
        "Pass the source frame, e.g. cel.check(table, data=df)."
    )


def _check_column_argument(arg: str, value: Any, source: pd.DataFrame | None) -> None:
    if value is None:
        return
    if isinstance(value, str):
        if source is None:
            raise UserError(f"{arg}={value!r} names a column, but no source frame was given. "
                            f"Pass it too: cel.check(table, data=df, {arg}={value!r}).")
        if value not in source.columns:
            available = ", ".join(str(c) for c in source.columns)
            raise UserError(f"{arg}={value!r} is not a column of the source frame. Available columns: {available}.")
        return
    if source is None:
        raise UserError(f"{arg}= was given without the source frame it belongs to. "
                        f"Pass it too: cel.check(table, data=df, {arg}=...).")
    if np.ndim(value) != 1 or len(value) != len(source):
        length = len(value) if np.ndim(value) == 1 else "no"
        raise UserError(f"{arg}= has {length} values but the source frame has {len(source)} rows. "
                        f"Pass a column name of the source frame or one value per row.")
