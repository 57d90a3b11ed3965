"""Checks for plain pandas tables, which carry no cell statistics (DESIGN section 3).

A researcher's `groupby`, `value_counts`, `crosstab`, `pivot_table`, `describe` or `agg` result is just numbers
with labels. With a source frame we recover how the table was made and recompute the cell statistics; a source
that does not reproduce the numbers is not trusted. Without one we read what the labels and values allow:
whole numbers as counts, min/max labels as extremes, everything else as numbers with unknown counts (review).
Identifiers and unit records are looked for always.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from .errors import UserError
from .results import CheckResult, Counts, Finding, format_cells, format_label, unsupported_result
from .rules import Rules
from .cellstats import CellStats, alone_in_line, label_positions
from .differencing import track
from .tables import cell_stats, check_with_stats, empty_table_finding, identifier_findings, linking_key_column

# What a cell holds, as far as the labels and values tell.
EMPTY, COUNT, SHARE, EXTREME, MAGNITUDE, UNKNOWN, TEXT, NOT_APPLICABLE, UNLABELLED = range(9)

_PERCENTILE = re.compile(r"\d+(\.\d+)?%")
MARGIN_NAMES = {"all", "total", "totaal", "totals", "totalen"}

# A table with at least this share of the source's rows is read as unit records.
MICRODATA_ROW_SHARE = 0.8
# A frame of this many rows without row labels (a default 0, 1, 2, ... index) is read as unit records.
UNLABELLED_RECORDS = 100
# An id column is one whose values are (almost) all different.
ID_DISTINCT_SHARE = 0.9
_NONE = object()  # "not found", where None is a valid name


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
    if statistic in _COUNTING:
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
        return (np.array([not is_margin_label(r) for r in self.rows], dtype=bool),
                np.array([not is_margin_label(c) for c in self.cols], dtype=bool))

    def cell(self, i: int, j: int) -> tuple[Any, Any]:
        return (self.rows[i], None if self.is_series else self.cols[j])

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
    kinds = _shares(table, kinds, values)
    if has_default_index(table.frame) and n_rows > 1:
        kinds = np.where(kinds == COUNT, UNLABELLED, kinds)
    return kinds, values


def has_default_index(frame: pd.DataFrame | pd.Series) -> bool:
    """Rows numbered 0, 1, 2, ... without a name: no groups, so whole numbers there are not counts of groups."""
    index = frame.index
    return isinstance(index, pd.RangeIndex) and index.name is None and index.start == 0 and index.step == 1


def _shares(table: PlainTable, kinds: np.ndarray, values: np.ndarray) -> np.ndarray:
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
        tolerance = 0.002 * scale + 1e-9 * scale * inner.size
        for sums in (np.array([inner.sum()]), inner.sum(axis=1), inner.sum(axis=0)):
            present = sums[sums > 0]
            if present.size and np.all(np.abs(present - scale) <= max(tolerance, 0.0005 * scale * len(inner))):
                return np.where(kinds == UNKNOWN, SHARE, np.where(kinds == COUNT, SHARE, kinds))
    return kinds


# ---------------------------------------------------------------- findings without a source


def rule_findings(table: PlainTable, kinds: np.ndarray, values: np.ndarray, rules: Rules) -> list[Finding]:
    """threshold / zero / min_max / unknown_counts, from what the cells are read to hold."""
    with np.errstate(all="ignore"):
        small = (kinds == COUNT) & (values > 0) & (values < rules.threshold)
        zero = ((kinds == COUNT) | (kinds == SHARE)) & (values == 0) | (kinds == EMPTY)
    percentages = _rounded_percentages(table, kinds, values)
    unknown = (np.isin(kinds, (UNKNOWN, MAGNITUDE, SHARE, TEXT, UNLABELLED)) | percentages) & ~zero
    n = rules.threshold
    found = [
        _cells_finding(table, small, "threshold", "fail",
                       f"{{n}} cell(s) count fewer than {n} (whole numbers in a table without known statistics are "
                       "read as counts of units); a small count can identify a person or business.",
                       f"Combine categories until every count is at least {n}, or suppress these cells before export."),
        _cells_finding(table, zero | _full_lines(table, kinds, values), "zero", rules.zero,
                       "{n} cell(s) are zero or empty, or hold every unit of their row or column; that can reveal "
                       "that nobody, or everybody, in a group has a property (group disclosure).",
                       "Check that the zeros disclose nothing (structural zeros are fine) and say so in the "
                       "explanation, or combine categories."),
        _cells_finding(table, kinds == EXTREME, "min_max", rules.min_max,
                       "{n} cell(s) show a minimum, maximum or 0%/100% percentile, which is the value of a single unit.",
                       "Drop the min/max (0%/100%) rows or columns, e.g. describe().drop(['min', 'max']), or show "
                       "percentiles such as 10%/90%."),
        _cells_finding(table, unknown, "unknown_counts", rules.unknown_counts,
                       "The number of units behind {n} cell(s) cannot be established: "
                       + _unknown_what(kinds[unknown], percentages.any()),
                       "Check it with the source frame, e.g. cel.check(table, data=df), or build the table with "
                       "cel.crosstab / cel.pivot_table, which keep the cell statistics."),
    ]
    return [f for f in found if f is not None]


def _rounded_percentages(table: PlainTable, kinds: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Whole numbers whose rows (or columns) each add up to 100 may be rounded percentages, which hide how small
    a group is (1 of 3 is 33): they are judged as counts and also reported as not established."""
    inner_rows, inner_cols = table.inner()
    counts = np.where(kinds == COUNT, values, np.nan)[np.ix_(inner_rows, inner_cols)]
    if table.is_series or min(counts.shape) < 2 or np.isnan(counts).any():
        return np.zeros(kinds.shape, dtype=bool)
    for axis in (1, 0):
        if np.all(np.abs(counts.sum(axis=axis) - 100) <= 0.5 * counts.shape[axis]):
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


def _cells_finding(table: PlainTable, mask: np.ndarray, rule: str, severity: str, message: str,
                   fix: str) -> Finding | None:
    if not mask.any():
        return None
    cells = table.cells(mask)
    return Finding(rule=rule, severity=severity, message=message.format(n=len(cells)), where=format_cells(cells),
                   fix=fix, cells=cells)


def _unknown_what(kinds: np.ndarray, percentages: bool = False) -> str:
    parts = ["whole numbers whose rows or columns add up to 100 may be rounded percentages"] if percentages else []
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


# ---------------------------------------------------------------- identifiers and unit records


def _is_id_like(values: pd.Index | pd.Series, name: Any, rules: Rules) -> bool:
    """Labels or a column with one unit per entry: a linking key with (almost) all values different, or values
    that are mostly written like ids."""
    n = len(values)
    if n == 0:
        return False
    uniques = pd.unique(np.asarray(values, dtype=object))
    if rules.is_linking_key(name):
        return len(uniques) >= ID_DISTINCT_SHARE * n and (n >= 2 or rules.looks_like_id(uniques[0]))
    sample = uniques[:200]
    return sum(rules.looks_like_id(v) for v in sample) >= 0.5 * len(sample)


def _rows_of_source(obj: pd.DataFrame | pd.Series, data: pd.DataFrame, sample: int = 50) -> bool:
    """Whether the table is an extract: its index labels are source rows and its values are those rows' values."""
    frame = obj.to_frame() if isinstance(obj, pd.Series) else obj
    if len(frame) == 0 or frame.columns.nlevels != 1 or not data.index.is_unique:
        return False
    shared = [c for c in frame.columns if _is_column(data, c)]
    if not shared or any(_is_column(data, n) for n in frame.index.names):
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
    """Unit records: an id column or index, or about as many rows as the source frame."""
    reasons = []
    levels = [(obj.index.get_level_values(i), obj.index.names[i]) for i in range(obj.index.nlevels)]
    if isinstance(obj, pd.DataFrame):
        levels += [(obj.iloc[:, j], obj.columns[j]) for j in range(obj.shape[1])]
        levels += [(obj.columns.get_level_values(i), obj.columns.names[i]) for i in range(obj.columns.nlevels)]
    id_like = next((name for values, name in levels if _is_id_like(values, name, rules)), _NONE)
    if id_like is not _NONE:
        label = format_label(id_like) if id_like is not None else "an unnamed index or column"
        reasons.append(f"{label} holds one id per row or column")
    if data is None and has_default_index(obj) and len(obj) >= UNLABELLED_RECORDS:
        reasons.append(f"it has {len(obj):,} rows without row labels")
    if data is not None and len(data) >= 2 and len(obj) >= MICRODATA_ROW_SHARE * len(data):
        reasons.append(f"it has {len(obj):,} rows for {len(data):,} rows in the source frame")
    elif data is not None and _rows_of_source(obj, data):
        reasons.append("its rows are rows of the source frame")
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
    source = source_frame(data)
    _check_column_argument("unit", unit, source)
    _check_column_argument("weights", weights, source)
    raw = obj.data if type(obj).__module__.startswith("pandas.io.formats.style") else obj
    try:
        table = as_plain_table(raw)
    except TypeError as exc:
        return unsupported_result(rules, str(exc), where="the whole object", fix="Pass a pandas DataFrame or Series.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        always = identifier_findings(raw, rules) + microdata_findings(raw, rules, source)
        if table.frame.size == 0:
            return CheckResult(kind="table", findings=always + [empty_table_finding(rules)], counts=Counts(tables=1),
                               rules_origin=rules.origin)
        if source is not None:
            checked = _check_with_source(table, source, unit, weights, rules)
            if isinstance(checked, CheckResult):
                checked.findings = always + checked.findings
                return checked
            always.append(_not_reproduced(checked, rules))
        kinds, values = classify(table)
    counts = Counts(tables=1, cells=int(kinds.size), count_cells=count_cells(kinds))
    return CheckResult(kind="table", findings=always + rule_findings(table, kinds, values, rules), counts=counts,
                       rules_origin=rules.origin)


def _check_with_source(table: PlainTable, source: pd.DataFrame, unit: Any, weights: Any,
                       rules: Rules) -> CheckResult | str:
    """The checks on statistics recomputed from the source, or why the source cannot be trusted for this table."""
    auto_unit = linking_key_column(source, rules) if unit is None else None
    counted_on = unit if unit is not None else auto_unit
    id_columns = [c for c in source.columns if rules.is_linking_key(c)] + ([unit] if isinstance(unit, str) else [])
    try:
        recovery = recover(table, source, id_columns, weights)
        if isinstance(recovery, str):
            return recovery
        engine = _Engine(recovery.source, recovery.layout, counted_on, weights)
        results = [_block_check(table, recovery.layout, match, engine, rules) for match in recovery.matches]
    except Exception as exc:  # fail closed: a source we could not use is not trusted
        return f"recomputing the table from it failed ({type(exc).__name__}: {exc})"
    if any(r is None for r in results):
        return "its cells do not fall into blocks of one statistic each"
    findings = [f for r in results for f in r.findings if f.rule != "identifier"]
    unit_ids = source[counted_on] if isinstance(counted_on, str) else counted_on
    findings += _few_contributors(table, recovery, None if unit_ids is None else np.asarray(unit_ids), rules)
    findings = merge_findings(findings)
    frequency_cells = sum(r.counts.cells for r in results if r.counts.count_cells)
    observations = [r.counts.observations for r in results if r.counts.observations is not None]
    unit_name = next((r.unit for r in results if r.unit), None)
    where = f"the data= frame ({len(source):,} rows): {recovery.describe()}"
    if auto_unit is not None and unit_name:
        where += f"; units counted on {auto_unit}, a linking key in the source (no unit= given)"
    return CheckResult(
        kind="table", findings=findings,
        counts=Counts(tables=1, cells=int(table.frame.size), count_cells=frequency_cells,
                      observations=max(observations) if observations else None),
        source=where, rules_origin=rules.origin, unit=unit_name, weighted=any(r.weighted for r in results),
        details={"cell_stats": [r.details.get("cell_stats") for r in results]},
    )


def _few_contributors(table: PlainTable, recovery: Recovery, unit_ids: np.ndarray | None,
                      rules: Rules) -> list[Finding]:
    """Sums that rest on fewer than N non-zero contributions: a sum of a 0/1 column is a count, however many
    units its cell has."""
    sums = [m for m in recovery.matches if m.statistic in ("sum", "wsum")]
    if not sums:
        return []
    recovery.grouper.unit = unit_ids
    margins = recovery.layout.margins_name is not None
    cells = []
    for match in sums:
        keys = [recovery.layout.cell_keys[p] for p in match.positions]
        contributors = reproduce(recovery.grouper, keys, match.value, "contributors", margins)
        few = (contributors > 0) & (contributors < rules.threshold)
        n_cols = table.frame.shape[1]
        cells += [table.cell(*divmod(int(p), n_cols)) for p in match.positions[few]]
    if not cells:
        return []
    return [Finding(
        rule="threshold", severity="fail",
        message=f"{len(cells)} sum(s) rest on fewer than {rules.threshold} units with a non-zero value; such a sum "
                "reveals what those few units have (a sum of a 0/1 column is a count).",
        where=format_cells(cells), fix=f"Combine categories until at least {rules.threshold} units contribute to "
                                       "every sum, or suppress these cells.", cells=cells)]


def merge_findings(findings: list[Finding]) -> list[Finding]:
    """One finding per rule and severity: blocks of one table (e.g. the min and max rows) report together."""
    merged: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        merged.setdefault((f.rule, f.severity), []).append(f)
    out = []
    for (rule, severity), group in merged.items():
        if len(group) == 1:
            out.append(group[0])
            continue
        cells = [c for f in group for c in f.cells]
        messages = list(dict.fromkeys(f.message for f in group))
        out.append(Finding(rule=rule, severity=severity, message=" ".join(messages),
                           where=format_cells(cells) if cells else group[0].where,
                           fix=" ".join(dict.fromkeys(f.fix for f in group)), cells=cells))
    return out


def _not_reproduced(why: str, rules: Rules) -> Finding:
    return Finding(
        rule="unknown_counts", severity=rules.unknown_counts,
        message=f"The source frame given with data= does not reproduce this table: {why}. Its counts are not "
                "used; the table is checked as a table without a source.",
        where="the whole table",
        fix="Pass the frame the table was made from, after any filtering (e.g. data=df[df.jaar == 2022]), or build "
            "the table with cel.crosstab / cel.pivot_table.",
    )


def source_frame(data: Any) -> pd.DataFrame | None:
    if data is None:
        return None
    if isinstance(data, (pd.DataFrame, pd.Series)):
        track(data)  # row labels name units within this frame and the frames derived from it
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame()
    raise UserError(
        f"data= must be the pandas DataFrame the table was made from, not a {type(data).__name__}. "
        "Pass the source frame, e.g. cel.check(table, data=df)."
    )


def _check_column_argument(arg: str, value: Any, source: pd.DataFrame | None) -> None:
    """unit= / weights= must name a source column or give one value per source row."""
    if value is None:
        return
    if isinstance(value, str):
        if source is None:
            raise UserError(f"{arg}={value!r} names a column, but no source frame was given. "
                            f"Pass it too: cel.check(table, data=df, {arg}={value!r}).")
        if value not in source.columns:
            available = ", ".join(str(c) for c in source.columns)
            raise UserError(f"{arg}={value!r} is not a column of the source frame. Available columns: {available}.")
        values = source[value]
        where = f"column {value!r}"
    else:
        if source is None:
            raise UserError(f"{arg}= was given without the source frame it belongs to. "
                            f"Pass it too: cel.check(table, data=df, {arg}=...).")
        if np.ndim(value) != 1 or len(value) != len(source):
            length = len(value) if np.ndim(value) == 1 else "no"
            raise UserError(f"{arg}= has {length} values but the source frame has {len(source)} rows. "
                            f"Pass a column name of the source frame or one value per row.")
        values = pd.Series(np.asarray(value))
        where = f"{arg}="
    if values.isna().any():
        raise UserError(f"{where} has missing values in {int(values.isna().sum())} row(s). Every row needs "
                        f"a {'unit id' if arg == 'unit' else 'weight'}; fill or drop those rows first.")
    if arg == "weights" and (not pd.api.types.is_numeric_dtype(values.dtype) or (values < 0).any()):
        raise UserError(f"{where} must hold numbers of 0 or more (one weight per row).")



# ---------------------------------------------------------------- recovering the table from a source frame

# Statistic names as labels show them -> the pandas statistic ("q0.25" for a 25% quantile, "share" for shares).
_STATISTICS = {
    "count": "count", "counts": "size", "size": "size", "n": "size", "aantal": "size", "freq": "size",
    "frequency": "size", "nunique": "nunique", "sum": "sum", "mean": "mean", "average": "mean",
    "gemiddelde": "mean", "median": "median", "std": "std", "var": "var", "sem": "sem", "min": "min", "max": "max",
    "minimum": "min", "maximum": "max", "first": "first", "last": "last", "prod": "prod", "skew": "skew",
    "kurt": "kurt", "quantile": "q0.5", "proportion": "share", "percentage": "share", "percent": "share",
    "pct": "share", "share": "share", "aandeel": "share", "fraction": "share", "normalized": "share",
}
_COUNTING = ("size", "count", "nunique")
_ALL = object()  # a margin ("All") in a cell's key values


def statistic_name(label: Any) -> str | None:
    """The pandas statistic a label names ('mean', 'q0.25' for '25%', 'share' for 'proportion'), or None."""
    if not isinstance(label, str):
        return None
    name = label.strip().lower()
    if _PERCENTILE.fullmatch(name):
        q = float(name[:-1]) / 100
        return "min" if q == 0 else "max" if q == 1 else f"q{q:g}"
    return _STATISTICS.get(name)


@dataclass(frozen=True)
class Role:
    """What one row or column label says: values of the grouping keys, the value column, the statistic."""

    keys: tuple[Any, ...] = ()
    value: Any = None
    statistic: str | None = None


def _is_column(source: pd.DataFrame, name: Any) -> bool:
    try:
        return name is not None and name in source.columns
    except TypeError:
        return False


def _axis_roles(index: pd.Index, source: pd.DataFrame, *, rows: bool) -> tuple[list[Any], list[Role]] | None:
    """Keys (levels named after source columns) and a role per label; None when a label cannot be placed, e.g.
    a level named after something the source does not have."""
    names = list(index.names)
    key_levels = [i for i, n in enumerate(names) if _is_column(source, n)]
    other_levels = [i for i in range(len(names)) if i not in key_levels]
    if any(names[i] is not None for i in other_levels):
        return None
    described: dict[tuple[Any, ...], tuple[Any, str | None] | None] = {}
    roles = []
    for label in index:
        parts = label if isinstance(label, tuple) else (label,)
        other = tuple(parts[i] for i in other_levels)
        if other not in described:
            described[other] = _describe_parts(other, source, rows)
        found = described[other]
        if found is None:
            return None
        keys = parts if not other_levels else tuple(parts[i] for i in key_levels)
        roles.append(Role(keys, *found))
    return [names[i] for i in key_levels], roles


def _describe_parts(parts: tuple[Any, ...], source: pd.DataFrame, rows: bool) -> tuple[Any, str | None] | None:
    """The value column and statistic that label parts outside the key levels name; None if a row part is neither."""
    value = statistic = None
    for part in parts:
        stat = statistic_name(part)
        if value is None and _is_column(source, part):
            value = part
        elif stat is not None and statistic is None:
            statistic = stat
        elif rows:
            return None
    return value, statistic


@dataclass
class Layout:
    """How a plain table maps onto a source frame: grouping keys and, per cell, key values, value and statistic."""

    row_keys: list[Any]
    col_keys: list[Any]
    cell_keys: list[tuple[Any, ...]]  # one per cell, row-major; _ALL for a margin
    values: list[Any]
    statistics: list[str | None]
    margins_name: str | None
    n_rows: int

    @property
    def keys(self) -> list[Any]:
        return self.row_keys + self.col_keys


def read_layout(table: PlainTable, source: pd.DataFrame) -> Layout | None:
    """Recover the grouping keys and each cell's value column and statistic from the labels."""
    row_part = _axis_roles(table.frame.index, source, rows=True)
    if table.is_series:
        col_part = ([], [Role((), *_describe_parts((table.frame.columns[0],), source, rows=False))])
    else:
        col_part = _axis_roles(table.frame.columns, source, rows=False)
    if row_part is None or col_part is None:
        return None
    (row_keys, rows), (col_keys, cols) = row_part, col_part
    if len(set(row_keys + col_keys)) != len(row_keys + col_keys):
        return None
    margins_name = _margins_name(table.frame.index, table.frame.columns, row_keys + col_keys, source)
    cell_keys, values, statistics = [], [], []
    for r in rows:
        for c in cols:
            cell_keys.append(_marked(r.keys, margins_name) + _marked(c.keys, margins_name))
            if r.value is not None and c.value is not None and r.value != c.value:
                return None
            values.append(r.value if r.value is not None else c.value)
            if r.statistic is not None and c.statistic is not None and r.statistic != c.statistic:
                return None
            statistics.append(r.statistic or c.statistic)
    return Layout(row_keys, col_keys, cell_keys, values, statistics, margins_name, len(rows))


def _marked(keys: tuple[Any, ...], margins_name: str | None) -> tuple[Any, ...]:
    """Key values with margins as _ALL; pandas labels a margin of several keys ('All', '', '')."""
    if margins_name is None or margins_name not in keys:
        return keys
    first = keys.index(margins_name)
    if all(k == "" for k in keys[first + 1:]):
        return keys[:first] + (_ALL,) * (len(keys) - first)
    return tuple(_ALL if k == margins_name else k for k in keys)


def _margins_name(index: pd.Index, columns: pd.Index, keys: list[Any], source: pd.DataFrame) -> str | None:
    """The label pandas gave margins ('All'), if a key value is one and the source has no such value."""
    seen = set()
    for axis in (index, columns):
        levels = axis.levels if isinstance(axis, pd.MultiIndex) else [axis.unique()]
        for level, name in zip(levels, axis.names):
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


_FAST = ("size", "count", "sum", "mean", "wsize", "wsum", "wmean", "contributors")
_WEIGHT = "__cbs_weight"  # the weights= values, as a column of the source
_MAX_SPAN = 1 << 24


class Grouper:
    """Source rows as integer group ids for any subset of a table's keys, built from each key's codes once.

    Counts, sums and means then cost one `np.bincount` each instead of a pandas groupby.
    """

    def __init__(self, source: pd.DataFrame, keys: list[Any]) -> None:
        self.source, self.keys = source, keys
        self._codes = [self._factorize(source[k]) for k in keys]
        self.valid = np.ones(len(source), dtype=bool)
        for codes, _ in self._codes:
            self.valid &= codes >= 0
        self._ids: dict[tuple[int, ...], tuple[np.ndarray, int] | None] = {}
        self._numbers: dict[Any, np.ndarray] = {}
        self._cell_ids: dict[tuple[Any, ...], np.ndarray] = {}
        self.unit: np.ndarray | None = None  # a unit id per source row, for counting contributors

    @staticmethod
    def _factorize(column: pd.Series) -> tuple[np.ndarray, pd.Index]:
        if isinstance(column.dtype, pd.CategoricalDtype):
            return column.cat.codes.to_numpy().astype(np.int64), pd.Index(column.cat.categories, dtype=object)
        codes, uniques = pd.factorize(column)
        return codes.astype(np.int64), pd.Index(uniques, dtype=object)

    def ids(self, kept: tuple[int, ...]) -> tuple[np.ndarray, int] | None:
        """A group id per valid row and the number of possible groups; None when there are too many."""
        if kept not in self._ids:
            span = 1
            flat = np.zeros(int(self.valid.sum()), dtype=np.int64)
            for i in kept:
                codes, uniques = self._codes[i]
                span *= max(1, len(uniques))
                if span > _MAX_SPAN:
                    self._ids[kept] = None
                    return None
                flat = flat * max(1, len(uniques)) + codes[self.valid]
            self._ids[kept] = (flat, span)
        return self._ids[kept]

    def cell_ids(self, kept: tuple[int, ...], cells: list[tuple[Any, ...]]) -> np.ndarray:
        """The group id of each cell's key values (-1 when a value does not occur in the source)."""
        key = (kept, tuple(cells))
        if key not in self._cell_ids:
            self._cell_ids[key] = self._lookup(kept, cells)
        return self._cell_ids[key]

    def _lookup(self, kept: tuple[int, ...], cells: list[tuple[Any, ...]]) -> np.ndarray:
        out = np.zeros(len(cells), dtype=np.int64)
        missing = np.zeros(len(cells), dtype=bool)
        for i in kept:
            _, uniques = self._codes[i]
            at = uniques.get_indexer(pd.Index([c[i] for c in cells], dtype=object))
            missing |= at < 0
            out = out * max(1, len(uniques)) + np.maximum(at, 0)
        return np.where(missing, -1, out)

    def _contributors(self, ids: np.ndarray, span: int, value: Any) -> np.ndarray:
        """Units (rows when no unit is known) with a non-zero value, per group."""
        x = self.numbers(value)
        nonzero = ~np.isnan(x) & (x != 0)
        if self.unit is None:
            return np.bincount(ids[nonzero], minlength=span).astype(float)
        codes, uniques = pd.factorize(self.unit[self.valid][nonzero])
        pairs = np.unique(ids[nonzero] * max(1, len(uniques)) + codes)
        return np.bincount(pairs // max(1, len(uniques)), minlength=span).astype(float)

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
        for i, (codes, uniques) in enumerate(self._codes):
            at = uniques.get_indexer(pd.Index(list({c[i] for c in cells}), dtype=object))
            wanted = np.zeros(len(uniques) + 1, dtype=bool)  # the extra last entry is code -1 (missing): never
            wanted[at[at >= 0]] = True
            mask &= wanted[codes]
        return self.source[mask]

    def per_group(self, kept: tuple[int, ...], value: Any, statistic: str) -> np.ndarray | None:
        """The statistic per group id, or None when the keys have too many combinations."""
        found = self.ids(kept)
        if found is None or (statistic not in _FAST and value is None):
            return None
        ids, span = found
        if statistic not in _FAST:
            return self._other_statistic(ids, span, value, statistic)
        if statistic == "contributors":
            return self._contributors(ids, span, value)
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


def reproduce(grouper: Grouper, cell_keys: list[tuple[Any, ...]], value: Any, statistic: str,
              margins: bool = True) -> np.ndarray:
    """The statistic for each cell, recomputed from the source; margins (_ALL keys) over the other keys."""
    out = np.full(len(cell_keys), np.nan)
    patterns: dict[tuple[int, ...], list[int]] = {}
    if not margins:
        patterns[tuple(range(len(grouper.keys)))] = list(range(len(cell_keys)))
    for p, cell in enumerate(cell_keys if margins else ()):
        patterns.setdefault(tuple(i for i, k in enumerate(cell) if k is not _ALL), []).append(p)
    source, keys = grouper.source[grouper.valid], grouper.keys
    for kept, positions in patterns.items():
        cells = [cell_keys[p] for p in positions]
        per_group = grouper.per_group(kept, value, statistic)
        if per_group is not None:
            at = grouper.cell_ids(kept, cells)
            got = np.where(at >= 0, per_group[np.maximum(at, 0)], np.nan)
        else:
            got = _by_pandas(source, [keys[i] for i in kept], [tuple(c[i] for i in kept) for c in cells], value, statistic)
        if statistic in _COUNTING or value is None:
            got = np.nan_to_num(got, nan=0.0)
        out[positions] = got
    return out


def _by_pandas(source: pd.DataFrame, keys: list[Any], labels: list[tuple[Any, ...]], value: Any,
               statistic: str) -> np.ndarray:
    grouped = _grouped(source, keys, value, statistic)
    if not isinstance(grouped, pd.Series):
        return np.full(len(labels), grouped, dtype=float)
    index = pd.MultiIndex.from_tuples(labels) if len(keys) > 1 else pd.Index([lab[0] for lab in labels], dtype=object)
    return pd.to_numeric(grouped.reindex(index), errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _tolerance(values: np.ndarray) -> float:
    """Half a unit of the precision the table's numbers were rounded to (0 when they were not rounded)."""
    finite = np.abs(values[np.isfinite(values)])
    if finite.size == 0:
        return 0.0
    coarsest = -3 if np.count_nonzero(finite) >= 3 else 0  # rounded to tens, hundreds, thousands
    with np.errstate(all="ignore"):
        for decimals in range(coarsest, 7):
            scaled = finite * 10.0**decimals
            if np.all(np.abs(scaled - np.round(scaled)) <= 1e-6 * np.maximum(1.0, scaled)):
                return 0.5 * 10.0**-decimals
    return 0.0


def values_match(table: np.ndarray, recomputed: np.ndarray, counting: bool) -> bool:
    """Whether the recomputed statistics give the table's numbers, up to the table's rounding."""
    if table.shape != recomputed.shape:
        return False
    tolerance = _tolerance(table)
    with np.errstate(all="ignore"):
        close = np.abs(table - recomputed) <= np.maximum(tolerance, 1e-9 * np.abs(recomputed)) + 1e-12
    both_empty = np.isnan(table) & np.isnan(recomputed)
    empty_zero = np.isnan(table) & (recomputed == 0) if counting else np.zeros_like(close)
    return bool(np.all(close | both_empty | empty_zero))


@dataclass(frozen=True)
class Match:
    """A block of cells the source reproduces: which value column, which statistic, and for shares the base."""

    positions: np.ndarray
    value: Any
    statistic: str
    share_of: str | None = None  # "all", "rows" or "columns" for percentages/proportions
    scale: float = 1.0


_WHOLE_STATS = ("size", "nunique", "count", "sum", "mean", "median", "min", "max")
_FRACTION_STATS = ("share", "mean", "sum", "median", "std", "var", "min", "max", "sem")
_SAMPLE_CELLS = 8


def _options(source: pd.DataFrame, keys: list[Any], value: Any, statistic: str | None, whole: bool,
             id_columns: list[Any]) -> list[tuple[Any, str]]:
    """(value column, statistic) pairs worth trying, most likely first; weighted ones first when weights= is given."""
    numeric = [c for c in source.columns if c not in keys and c not in id_columns and c != _WEIGHT
               and pd.api.types.is_numeric_dtype(source[c].dtype) and not pd.api.types.is_bool_dtype(source[c].dtype)]
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
            columns = [c for c in ([value] if value is not None else id_columns)
                       if c not in keys and _is_column(source, c) and not source[c].hasnans]
        else:
            columns = [value] if value is not None else numeric
        out += [(c, stat) for c in columns]
    return list(dict.fromkeys(out))


def _sample(cell_keys: list[tuple[Any, ...]], table_values: np.ndarray, positions: np.ndarray,
            margins: bool) -> np.ndarray:
    usable = positions[np.isfinite(table_values[positions])]
    if margins:
        usable = [p for p in usable if not any(k is _ALL for k in cell_keys[p])]
    if len(usable) <= _SAMPLE_CELLS:
        return np.array(usable, dtype=int)
    step = len(usable) / _SAMPLE_CELLS
    return np.array([usable[int(i * step)] for i in range(_SAMPLE_CELLS)], dtype=int)


def find_block(grouper: Grouper, layout: Layout, table_values: np.ndarray, positions: np.ndarray,
               value: Any, statistic: str | None, id_columns: list[Any]) -> Match | None:
    """The first (value, statistic) that reproduces every cell of a block exactly, or None."""
    block = table_values[positions]
    finite = block[np.isfinite(block)]
    whole = bool(finite.size) and bool(np.all(finite == np.floor(finite))) and bool(np.all(finite >= 0))
    cell_keys = [layout.cell_keys[p] for p in positions]
    if statistic in (None, "share") and value is None:
        share = _find_share(grouper, layout, block, cell_keys, positions)
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
        counting = stat in _COUNTING or stat == "wsize" or candidate is None
        rejectable = len(sample) > 0 and tried > 0 and (stat not in _FAST or len(options) > _SAMPLE_CELLS)
        try:
            if rejectable and small is None:  # cheap rejection on the rows of a few cells
                small = Grouper(grouper.rows_of(sample_keys), layout.keys)
            if rejectable and not values_match(
                    table_values[sample], reproduce(small, sample_keys, candidate, stat, margins), counting):
                continue
            if values_match(block, reproduce(grouper, cell_keys, candidate, stat, margins), counting):
                return Match(positions, candidate, stat)
        except Exception:  # a statistic pandas cannot compute for this column is simply not the match
            continue
    return None


def _sums_to(totals: np.ndarray, scale: float) -> bool:
    """Whether shares add up to the whole (rounded percentages may be off by a little)."""
    present = totals[totals > 0]
    return bool(present.size) and bool(np.all(np.abs(present - scale) <= 0.01 * scale))


def _find_share(grouper: Grouper, layout: Layout, block: np.ndarray, cell_keys: list[tuple[Any, ...]],
                positions: np.ndarray) -> tuple[str, float] | None:
    """Proportions or percentages of the counts, of the whole table, of each row or of each column."""
    finite = block[np.isfinite(block)]
    if finite.size == 0 or finite.min() < 0 or finite.max() > 100 * (1 + 1e-9):
        return None
    n_row = len(layout.row_keys)
    margins = layout.margins_name is not None
    inner = np.array([not any(k is _ALL for k in c) for c in cell_keys], dtype=bool) if margins \
        else np.ones(len(cell_keys), dtype=bool)
    values = np.nan_to_num(block[inner])
    totals = {"all": np.array([values.sum()])}
    if layout.row_keys and layout.col_keys:
        n_cols = len(layout.cell_keys) // layout.n_rows
        rows, cols = np.divmod(positions[inner], n_cols)
        totals["rows"] = np.bincount(rows, values)
        totals["columns"] = np.bincount(cols, values)
    counts = None
    bases = {
        "all": lambda: [tuple(_ALL for _ in c) for c in cell_keys],
        "rows": lambda: [c[:n_row] + tuple(_ALL for _ in c[n_row:]) for c in cell_keys],
        "columns": lambda: [tuple(_ALL for _ in c[:n_row]) + c[n_row:] for c in cell_keys],
    }
    for share_of, base_keys in bases.items():
        if share_of not in totals or not any(_sums_to(totals[share_of], scale) for scale in (1.0, 100.0)):
            continue
        counts = reproduce(grouper, cell_keys, None, "size", margins) if counts is None else counts
        base = reproduce(grouper, base_keys(), None, "size")
        with np.errstate(all="ignore"):
            fraction = np.where(base > 0, counts / base, np.nan)
        for scale in (1.0, 100.0):
            if values_match(block, fraction * scale, counting=False):
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
        labels = {c[i] for c in layout.cell_keys if c[i] is not _ALL}
        if labels and all(isinstance(v, pd.Interval) for v in labels) and \
                pd.api.types.is_numeric_dtype(source[key].dtype):
            try:
                bins = pd.IntervalIndex(sorted(labels, key=lambda v: (v.left, v.right)))
                if bins.is_non_overlapping_monotonic:
                    binned[key] = pd.cut(source[key], bins)
            except (TypeError, ValueError):
                continue
    return source.assign(**binned) if binned else source


def recover(table: PlainTable, source: pd.DataFrame, id_columns: list[Any], weights: Any = None) -> Recovery | str:
    """The recovery, or why the source does not reproduce the table (weighted statistics too, with weights=)."""
    if weights is not None:
        source = source.assign(**{_WEIGHT: source[weights].to_numpy() if isinstance(weights, str) else np.asarray(weights)})
    layout = read_layout(table, source)
    if layout is None:
        return "its row labels are not values of source columns, statistic names or column names"
    values = table.numbers()[0].ravel()
    blocks: dict[tuple[Any, str | None], list[int]] = {}
    for p, block in enumerate(zip(layout.values, layout.statistics)):
        blocks.setdefault(block, []).append(p)
    source = _binned(source, layout)
    matches = []
    grouper = Grouper(source, layout.keys)
    for (value, statistic), positions in blocks.items():
        match = find_block(grouper, layout, values, np.array(positions), value, statistic, id_columns)
        if match is None:
            what = f"the {statistic or 'statistic'} of {value}" if value is not None else \
                f"the {statistic}" if statistic else "any statistic tried"
            return f"recomputing {what} from it does not give the table's numbers"
        matches.append(match)
    return Recovery(layout, matches, grouper)


# ---------------------------------------------------------------- checking with recomputed cell statistics

_CONSTANT_KEY = "__cbs_whole_table"
_ONE = "__cbs_record"  # counted with aggfunc="count" to count records


def _axis_label(keys: tuple[Any, ...], margins_name: str | None) -> Any:
    """The label pandas' pivot_table gives these key values (margins as 'All' or ('All', '', ...))."""
    if not keys:
        return None
    if all(k is _ALL for k in keys):
        return margins_name if len(keys) == 1 else (margins_name,) + ("",) * (len(keys) - 1)
    return keys[0] if len(keys) == 1 else tuple(keys)


def _positions_of(labels: list[Any], axis: pd.Index) -> np.ndarray:
    """Where each label sits on the engine's axis (-1: no source rows); a Series' cells sit in its one column."""
    if len(axis) == 1 and all(label is None for label in labels):
        return np.zeros(len(labels), dtype=np.int64)
    return label_positions(axis, labels)


class _Engine:
    """Cell statistics from the table engine, one computation per value column, reused across statistics."""

    def __init__(self, source: pd.DataFrame, layout: Layout, unit: Any, weights: Any) -> None:
        self.layout = layout
        self.rows = layout.row_keys or [_CONSTANT_KEY]
        self.source = source.assign(**{_CONSTANT_KEY: 0, _ONE: 1})
        self.unit, self.weights = unit, weights
        self.cache: dict[tuple[Any, ...], CellStats] = {}

    def stats(self, match: Match) -> CellStats:
        frequency = match.value is None or match.statistic in _COUNTING
        values = None if match.value is None or match.statistic == "nunique" else match.value
        unit = match.value if match.statistic == "nunique" else self.unit
        aggfunc = "count" if values is None or match.statistic == "count" else "sum"
        values = _ONE if values is None else values
        key = (values, aggfunc, id(unit) if not isinstance(unit, (str, type(None))) else unit)
        if key not in self.cache:
            self.cache[key] = cell_stats(
                self.source, index=self.rows, columns=self.layout.col_keys, values=values, aggfunc=aggfunc,
                unit=unit, weights=self.weights, margins=self.layout.margins_name is not None,
                margins_name=self.layout.margins_name or "All",
            )
        stats = self.cache[key]
        if frequency:
            return replace(stats, statistic="count", magnitude=False, normalized=match.share_of)
        quantile = float(match.statistic[1:]) if match.statistic[0] == "q" else None
        return replace(stats, statistic="quantile" if quantile is not None else match.statistic.lstrip("w"), magnitude=True,
                       quantile=quantile)


def _block_check(table: PlainTable, layout: Layout, match: Match, engine: _Engine, rules: Rules) -> CheckResult | None:
    """check_with_stats on the rectangle of cells one match covers, labelled like the user's table."""
    n_cols = table.frame.shape[1]
    rows = np.unique(match.positions // n_cols)
    cols = np.unique(match.positions % n_cols)
    if rows.size * cols.size != match.positions.size:
        return None
    stats = engine.stats(match)
    n_row_keys = len(layout.row_keys)
    row_labels = [_axis_label(layout.cell_keys[i * n_cols][:n_row_keys], layout.margins_name) for i in rows]
    col_labels = [_axis_label(layout.cell_keys[j][n_row_keys:], layout.margins_name) for j in cols]
    if not layout.row_keys:
        row_labels = [0] * len(rows)
    rows_at, cols_at = _positions_of(row_labels, stats.index), _positions_of(col_labels, stats.columns)
    sub = table.frame.iloc[rows, cols]
    if table.is_series:
        sub = sub.set_axis(pd.Index([None]), axis=1)
    return check_with_stats(sub, stats.take(rows_at, cols_at, sub.index, sub.columns), rules)
