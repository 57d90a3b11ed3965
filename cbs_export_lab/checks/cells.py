"""The cell rules on cell statistics: threshold, zero, dominance, p-percent, min/max and identifiers, cell by cell.

`check_with_stats` judges a table whose statistics are known per cell (`CellStats`, carried by a builder's
table or recomputed from a source); the numbers come from `Rules`, the logic is here and nowhere else.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..cellstats import FREQUENCY, CellStats, alone_in_line
from ..results import CheckResult, Counts, Finding, format_cells, format_label
from ..rules import Rules

_MERGE_FIX = (
    "Merge categories (e.g. combine {example} with a neighbouring category) or suppress these cells; "
    "secondary suppression is needed so they cannot be recovered from the margins."
)
KNOWN_STATISTICS = FREQUENCY | {"sum", "mean", "median", "std", "var", "min", "max", "quantile"}


def cells_finding(
    stats: CellStats, mask: np.ndarray, rule: str, severity: str, message: str, fix: str | None = None
) -> list[Finding]:
    """One finding for all cells in `mask` (none when it is empty); `message` may use {n}, the number of cells."""
    if not mask.any():
        return []
    rows, cols = np.nonzero(mask)
    row_labels, col_labels = stats.index.take(rows).tolist(), stats.columns.take(cols).tolist()
    cells = list(zip(row_labels, col_labels, strict=True))
    example = format_label(cells[0][0])
    return [
        Finding(
            rule=rule,
            severity=severity,
            message=message.format(n=len(cells)),
            where=format_cells(cells),
            fix=fix or _MERGE_FIX.format(example=example),
            cells=cells,
        )
    ]


def _whole_table(rule: str, severity: str, message: str, fix: str) -> Finding:
    return Finding(rule=rule, severity=severity, message=message, where="the whole table", fix=fix)


def check_with_stats(table: Any, stats: CellStats, rules: Rules) -> CheckResult:
    """Threshold, zero, dominance, p-percent and min/max, cell by cell, on statistics that match the table."""
    findings = [
        *_empty_table(stats, rules),
        *_threshold(stats, rules),
        *_zeros(stats, rules),
        *_magnitude(stats, rules),
        *_extremes(stats, rules),
        *_custom_statistic(stats, rules),
        *identifier_findings(table, rules),
        *_single_units(stats),
    ]
    n_cells = int(np.prod(stats.shape))
    counts = Counts(
        tables=1, cells=n_cells, count_cells=n_cells if stats.frequency else 0, observations=stats.observations
    )
    return CheckResult(
        kind="table",
        findings=findings,
        counts=counts,
        source=stats.source,
        rules_origin=rules.origin,
        unit=stats.unit_name,
        weighted=stats.weighted_table,
        details={"cell_stats": stats},
    )


def _empty_table(stats: CellStats, rules: Rules) -> list[Finding]:
    return [] if stats.units.size else [empty_table_finding(rules)]


def empty_table_finding(rules: Rules) -> Finding:
    return _whole_table(
        "unknown_counts",
        rules.unknown_counts,
        "The table has no cells, so there is nothing to check; an empty output is usually a mistake.",
        "Check that the table was built from the right data before exporting it.",
    )


def _threshold(stats: CellStats, rules: Rules) -> list[Finding]:
    small = (stats.units > 0) & (stats.units < rules.threshold)
    counted = f"units ({stats.unit_name})" if stats.unit_name else "records (no unit id known)"
    smallest = int(stats.units[small].min()) if small.any() else 0
    return cells_finding(
        stats,
        small,
        "threshold",
        "fail",
        f"{{n}} cell(s) rest on fewer than {rules.threshold} {counted} (smallest: {smallest}); "
        "such cells can identify people or businesses.",
    )


def _zeros(stats: CellStats, rules: Rules) -> list[Finding]:
    empty = stats.units == 0
    full = _full_lines(stats) if stats.frequency else np.zeros_like(empty)
    parts = []
    if empty.any():
        parts.append(
            f"{int(empty.sum())} empty cell(s) (0 {'units' if stats.unit_name else 'records'}): a zero can "
            "disclose that nobody in a group has an attribute"
        )
    if full.any():
        parts.append(
            f"{int(full.sum())} cell(s) hold every unit of their row or column (group disclosure: everyone "
            "in that group shares the attribute)"
        )
    return cells_finding(
        stats,
        empty | full,
        "zero",
        rules.zero,
        "; ".join(parts) + ".",
        fix="Merge categories so no row or column has all its units in one cell and no cell is structurally empty, "
        "or explain in the explanation why these zeros disclose nothing (e.g. impossible combinations).",
    )


def _magnitude(stats: CellStats, rules: Rules) -> list[Finding]:
    """Dominance and p-percent on absolute contributions, so negative values never hide a dominant one."""
    if not stats.magnitude:
        return []
    total, shown = stats.abs_total, stats.units > 0
    top_n = stats.largest(rules.dominance_n)
    findings = []
    if top_n is None:
        findings.append(
            _whole_table(
                "unknown_counts",
                rules.unknown_counts,
                f"The table's statistics keep fewer than the {rules.dominance_n} largest contributions the dominance "
                "rule needs.",
                "Rebuild the table with cel.crosstab / cel.pivot_table under the current rules.",
            )
        )
    else:
        findings += cells_finding(
            stats,
            shown & (total > 0) & (top_n >= rules.dominance_k * total),
            "dominance",
            "fail",
            f"In {{n}} cell(s) the {rules.dominance_n} largest contributors hold at least {rules.dominance_k:.0%} of "
            "the total (absolute values, summed per unit), so the value reveals what those contributors have.",
        )
    remainder = total - stats.top1 - stats.top2
    findings += cells_finding(
        stats,
        shown & (stats.top1 > 0) & (remainder < rules.p_percent * stats.top1),
        "p_percent",
        "fail",
        f"In {{n}} cell(s) the second-largest contributor could estimate the largest one to within "
        f"{rules.p_percent:.0%} (the rest of the cell is too small).",
    )
    return findings


def _extremes(stats: CellStats, rules: Rules) -> list[Finding]:
    if not stats.reveals_extremes:
        return []
    what = stats.statistic if stats.statistic != "quantile" else f"the {stats.quantile:.0%} quantile"
    return cells_finding(
        stats,
        stats.units > 0,
        "min_max",
        rules.min_max,
        f"The table shows {what} values: a minimum or maximum is the value of a single unit.",
        fix="Show a less extreme statistic instead (e.g. the 5th/95th percentile, or the mean and standard "
        "deviation), or leave these values out.",
    )


RECORD_STATISTICS = frozenset({"first", "last", "nth", "head", "tail", "sample", "nlargest", "nsmallest"})


def _single_units(stats: CellStats) -> list[Finding]:
    """Statistics that are one unit's value, or magnitudes whose every shown cell rests on one unit: the cells are
    that unit's values (unit records, DESIGN section 3)."""
    shown = stats.units > 0
    if not shown.any():
        return []
    if stats.statistic in RECORD_STATISTICS:
        why = f"each cell shows the {stats.statistic} value of its group, which is the value of one unit"
    elif stats.magnitude and (stats.units[shown] == 1).all():
        noun = "unit" if stats.unit_name else "record"
        why = f"every cell rests on a single {noun}, so it shows that {noun}'s own value"
    else:
        return []
    return [
        _whole_table(
            "microdata",
            "fail",
            f"This table is unit records: {why}. Records of persons or businesses are never exported.",
            "Export statistics over groups of at least the minimum number of units instead of single units' values.",
        )
    ]


def _custom_statistic(stats: CellStats, rules: Rules) -> list[Finding]:
    if stats.statistic in KNOWN_STATISTICS:
        return []
    return [
        _whole_table(
            "unknown_counts",
            rules.unknown_counts,
            f"The table uses the custom aggregation {stats.statistic!r}; its cells were checked as magnitudes, but what "
            "the function reveals (e.g. a single value) cannot be established.",
            "Use a named statistic (count, sum, mean, median, ...) or explain what the function computes.",
        )
    ]


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
        findings.append(
            Finding(
                rule="identifier",
                severity="fail",
                message=f"The table shows the linking key(s) {', '.join(keys)}; linking keys are never exported.",
                where="the table's index or column names",
                fix=f"Drop {', '.join(keys)} from the table, or group by something that does not identify units.",
            )
        )
    columns = [obj] if isinstance(obj, pd.Series) else [obj.iloc[:, j] for j in range(obj.shape[1])]
    places = {
        "index": [v for level in _label_values(obj.index) for v in _id_values(level, rules)],
        "column labels": []
        if isinstance(obj, pd.Series)
        else [v for level in _label_values(obj.columns) for v in _id_values(level, rules)],
        "cells": [v for col in columns if not pd.api.types.is_numeric_dtype(col.dtype) for v in _id_values(col, rules)],
    }
    for where, ids in places.items():
        if not ids:
            continue
        shown = ", ".join(str(v) for v in ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")
        findings.append(
            Finding(
                rule="identifier",
                severity="fail",
                message=f"{len(ids)} value(s) in the table's {where} are written like {rules.id_digits}-digit person "
                f"or business ids ({shown}); ids are never exported.",
                where=f"the table's {where}",
                fix="Remove the id values; export counts or statistics per group instead.",
            )
        )
    return findings


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
        out.append(
            Finding(
                rule=rule,
                severity=severity,
                message=" ".join(messages),
                where=format_cells(cells) if cells else group[0].where,
                fix=" ".join(dict.fromkeys(f.fix for f in group)),
                cells=cells,
            )
        )
    return out
