"""Checking a table: its carried statistics when they still match, else recomputed from a source, else read plain.

`check_table` is the table branch of `cel.check`. A builder's table carries its `CellStats`; a plain pandas
table is recovered from `data=` (`recover`) and judged on the recomputed statistics with the same cell rules
(`cells`), or, without a source that reproduces it, read from its labels and values (`plain`).
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from ..cellstats import CellStats, label_positions
from ..results import CheckResult, Counts, Finding, format_cells, unsupported_result
from ..rules import Rules
from ..tables import carried_parts, carried_stats, cell_stats
from ..units import check_column_argument, linking_key_column, source_frame
from .cells import cells_finding, check_with_stats, empty_table_finding, identifier_findings, merge_findings
from .hidden import with_hidden_cells
from .plain import (
    COUNTING,
    PlainTable,
    as_plain_table,
    classify,
    count_cells,
    label_findings,
    microdata_findings,
    rule_findings,
    unreproduced_records,
)
from .recover import ALL, ONE_ROW, Layout, Match, recover, scale_of


def check_plain_table(
    obj: Any, *, data: Any = None, unit: Any = None, weights: Any = None, rules: Rules
) -> CheckResult:
    """Check a DataFrame, Series or Styler that carries no cell statistics (DESIGN section 3)."""
    source = source_frame(data)
    check_column_argument("unit", unit, source)
    check_column_argument("weights", weights, source)
    raw = obj.data if type(obj).__module__.startswith("pandas.io.formats.style") else obj
    try:
        table = as_plain_table(raw)
    except TypeError as exc:
        return unsupported_result(rules, str(exc), where="the whole object", fix="Pass a pandas DataFrame or Series.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        always = identifier_findings(raw, rules) + microdata_findings(raw, rules, source)
        always += label_findings(raw, rules, source)
        if table.frame.size == 0:
            return CheckResult(
                kind="table",
                findings=always + [empty_table_finding(rules)],
                counts=Counts(tables=1),
                rules_origin=rules.origin,
            )
        if source is not None:
            if not any(f.rule == "microdata" for f in always) and _rows_of(raw, source):
                always.append(
                    _records_finding(
                        "its rows are rows of the source frame, with their values (head, nth, sample, nlargest)"
                    )
                )
            records = any(f.rule == "microdata" for f in always)
            checked = _correlations(table, source, unit, rules) or check_with_source(
                table, source, unit, weights, rules
            )
            if isinstance(checked, CheckResult):
                known = {f.rule for f in always} & {"microdata"}
                checked.findings = always + [f for f in checked.findings if f.rule not in known]
                return checked
            if not records:  # unit records are established from the source: nothing else to reproduce
                always.append(not_reproduced(checked, rules))
                if not any(f.rule == "microdata" for f in always):
                    always += unreproduced_records(raw, source, rules)
        kinds, values = classify(table, rules)
    counts = Counts(tables=1, cells=int(kinds.size), count_cells=count_cells(kinds))
    return CheckResult(
        kind="table",
        findings=always + rule_findings(table, kinds, values, rules),
        counts=counts,
        rules_origin=rules.origin,
    )


def check_with_source(
    table: PlainTable, source: pd.DataFrame, unit: Any, weights: Any, rules: Rules
) -> CheckResult | str:
    """The checks on statistics recomputed from the source, or why the source cannot be trusted for this table."""
    auto_unit = linking_key_column(source, rules) if unit is None else None
    counted_on = unit if unit is not None else auto_unit
    id_columns = [c for c in source.columns if rules.is_linking_key(c)] + ([unit] if isinstance(unit, str) else [])
    try:
        recovery = recover(table, source, id_columns, weights, rules)
        if isinstance(recovery, str):
            return recovery
        engine = _Engine(recovery.source, recovery.layout, counted_on, weights)
        results = [_block_check(table, recovery.layout, match, engine, rules) for match in recovery.matches]
    except Exception as exc:  # fail closed: a source we could not use is not trusted
        return f"recomputing the table from it failed ({type(exc).__name__}: {exc})"
    if any(r is None for r in results):
        return "its cells do not fall into blocks of one statistic each"
    findings = [f for r in results for f in r.findings if f.rule != "identifier"]
    one_row = [m.statistic for m in recovery.matches if m.statistic in ONE_ROW]
    if one_row:
        findings.append(
            _records_finding(
                f"its cells are the {' and '.join(dict.fromkeys(one_row))} value of each group: each rests on one unit"
            )
        )
    findings = merge_findings(findings)
    frequency_cells = sum(r.counts.cells for r in results if r.counts.count_cells)
    observations = [r.counts.observations for r in results if r.counts.observations is not None]
    unit_name = next((r.unit for r in results if r.unit), None)
    where = f"the data= frame ({len(source):,} rows): {recovery.describe()}"
    if auto_unit is not None and unit_name:
        where += f"; units counted on {auto_unit}, a linking key in the source (no unit= given)"
    return CheckResult(
        kind="table",
        findings=findings,
        counts=Counts(
            tables=1,
            cells=int(table.frame.size),
            count_cells=frequency_cells,
            observations=max(observations) if observations else None,
        ),
        source=where,
        rules_origin=rules.origin,
        unit=unit_name,
        weighted=any(r.weighted for r in results),
        details={"cell_stats": [r.details.get("cell_stats") for r in results]},
    )


def few_contributors(stats: CellStats, rules: Rules) -> list[Finding]:
    """Sums that rest on fewer than N units with a non-zero value: a sum of a 0/1 column is a count, however many
    units its cell has. Builders' tables and recovered ones are judged alike."""
    if stats.statistic != "sum" or not stats.magnitude or stats.nonzero is None:
        return []
    few = (stats.nonzero > 0) & (stats.nonzero < rules.threshold)
    return cells_finding(
        stats,
        few,
        "threshold",
        "fail",
        f"{{n}} sum(s) rest on fewer than {rules.threshold} units with a non-zero value; such a sum reveals what "
        "those few units have (a sum of a 0/1 column is a count).",
        fix=f"Combine categories until at least {rules.threshold} units contribute to every sum, or suppress these "
        "cells.",
    )


def check_stats(table: Any, stats: CellStats, rules: Rules) -> CheckResult:
    """The cell rules on known statistics, one reading for builders' tables and for tables recovered from a source."""
    result = check_with_stats(table, stats, rules)
    extra = few_contributors(stats, rules)
    if extra:
        result.findings = merge_findings(result.findings + extra)
    return result


def not_reproduced(why: str, rules: Rules) -> Finding:
    return Finding(
        rule="unknown_counts",
        severity=rules.unknown_counts,
        message=f"The source frame given with data= does not reproduce this table: {why}. Its counts are not "
        "used; the table is checked as a table without a source.",
        where="the whole table",
        fix="Pass the frame the table was made from, after any filtering (e.g. data=df[df.jaar == 2022]), or build "
        "the table with cel.crosstab / cel.pivot_table.",
    )


_CONSTANT_KEY = "__cbs_whole_table"


_ONE = "__cbs_record"  # counted with aggfunc="count" to count records


def _axis_label(keys: tuple[Any, ...], margins_name: str | None) -> Any:
    """The label pandas' pivot_table gives these key values (margins as 'All' or ('All', '', ...))."""
    if not keys:
        return None
    if all(k is ALL for k in keys):
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
        frequency = match.value is None or match.statistic in COUNTING
        values = None if match.value is None or match.statistic == "nunique" else match.value
        unit = match.value if match.statistic == "nunique" else self.unit
        aggfunc = "count" if values is None or match.statistic == "count" else "sum"
        values = _ONE if values is None else values
        key = (values, aggfunc, id(unit) if not isinstance(unit, (str, type(None))) else unit)
        if key not in self.cache:
            self.cache[key] = cell_stats(
                self.source,
                index=self.rows,
                columns=self.layout.col_keys,
                values=values,
                aggfunc=aggfunc,
                unit=unit,
                weights=self.weights,
                margins=self.layout.margins_name is not None,
                margins_name=self.layout.margins_name or "All",
            )
        stats = self.cache[key]
        if frequency:
            return replace(stats, statistic="count", magnitude=False, normalized=match.share_of)
        quantile = float(match.statistic[1:]) if match.statistic[0] == "q" else None
        statistic = "quantile" if quantile is not None else match.statistic.lstrip("w")
        return replace(stats, statistic=statistic, magnitude=True, quantile=quantile)


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
    return check_stats(sub, stats.take(rows_at, cols_at, sub.index, sub.columns), rules)


def check_table(obj: Any, *, data: Any = None, unit: Any = None, weights: Any = None, rules: Rules) -> CheckResult:
    """The checks on what a table shows, plus the audit of its hidden cells (`recoverable`)."""
    return with_hidden_cells(obj, rules, lambda t: _check_shown(t, data=data, unit=unit, weights=weights, rules=rules))


def _check_shown(obj: Any, *, data: Any, unit: Any, weights: Any, rules: Rules) -> CheckResult:
    """Carried statistics when they still match the table; otherwise the checks for plain pandas tables."""
    source_frame(data)  # a wrong data= is a mistake to report even when the table carries its statistics
    table = getattr(obj, "data", obj) if type(obj).__module__.startswith("pandas.io.formats.style") else obj
    stats = carried_stats(table)
    if stats is not None and unit is None and weights is None:
        result = check_stats(table, stats, rules)
        result.findings += label_findings(table, rules, source_frame(data))
        return result
    parts = carried_parts(table)
    if parts is not None and unit is None and weights is None:
        return _check_parts(table, parts, rules)
    return check_plain_table(table, data=data, unit=unit, weights=weights, rules=rules)


def _check_parts(table: pd.DataFrame, parts: list[tuple[list[int], CellStats]], rules: Rules) -> CheckResult:
    """A builder's table of several statistics (aggfunc=["mean", "std"]): each block on its own statistics."""
    results = [check_stats(table.iloc[:, at], stats, rules) for at, stats in parts]
    observations = [r.counts.observations for r in results if r.counts.observations is not None]
    return CheckResult(
        kind="table",
        findings=merge_findings([f for r in results for f in r.findings]),
        counts=Counts(
            tables=1,
            cells=int(table.size),
            count_cells=sum(r.counts.count_cells for r in results),
            observations=max(observations) if observations else None,
        ),
        source="; ".join(dict.fromkeys(r.source for r in results if r.source)) or None,
        rules_origin=rules.origin,
        unit=next((r.unit for r in results if r.unit), None),
        weighted=any(r.weighted for r in results),
        details={"cell_stats": [stats for _, stats in parts]},
    )


def _records_finding(why: str) -> Finding:
    return Finding(
        rule="microdata",
        severity="fail",
        message=f"This is unit records, not a table: {why}. Records of persons or businesses are never exported.",
        where="the whole table",
        fix="Export a table of counts or statistics per group instead of the records.",
    )


def _rows_of(obj: pd.DataFrame | pd.Series, source: pd.DataFrame, sample: int = 200) -> bool:
    """Whether an index level holds source row labels and the table's values are those rows' values, e.g.
    `df.groupby(g).inkomen.nlargest(2)` or `df.groupby(g).head(1)` (other levels may be group keys)."""
    if not source.index.is_unique or len(obj) == 0:
        return False
    frame = obj.to_frame() if isinstance(obj, pd.Series) else obj
    shared = [c for c in frame.columns if not isinstance(c, tuple) and c in source.columns]
    if frame.columns.nlevels != 1 or not shared or len(shared) < frame.shape[1]:
        return False  # a column the source does not have (a count, a mean) is computed, not a record's value
    head = frame.iloc[:sample]
    for i, name in enumerate(head.index.names):
        if name is not None and name in source.columns:
            continue
        rows = head.index.get_level_values(i)
        try:
            if not rows.isin(source.index).all():
                continue
            mine = head[shared].astype(object).to_numpy()
            theirs = source.loc[rows, shared].astype(object).to_numpy()
        except (TypeError, ValueError, KeyError):
            continue
        if bool(np.all(pd.isna(mine) & pd.isna(theirs) | (mine == theirs))):
            return True
    return False


def _correlations(table: PlainTable, source: pd.DataFrame, unit: Any, rules: Rules) -> CheckResult | None:
    """`df[cols].corr()` / `.cov()`: each cell rests on the rows that have both values, so its count is known."""
    frame = table.frame
    names = list(frame.columns)
    if (
        table.is_series
        or frame.index.name is not None
        or frame.columns.name is not None
        or len(names) < 2
        or list(frame.index) != names
        or not all(isinstance(c, str) and c in source.columns for c in names)
        or not all(pd.api.types.is_numeric_dtype(source[c].dtype) for c in names)
    ):
        return None
    values = table.numbers()[0]
    numbers = source[names].astype(float)
    what = next(
        (
            w
            for w, got in (("correlations", numbers.corr), ("covariances", numbers.cov))
            if scale_of(values, got().to_numpy(), False, rules, 1e-6) == 1.0
        ),
        None,
    )
    if what is None:
        return None
    present = numbers.notna().to_numpy()
    if unit is None:
        counts = present.T.astype(np.int64) @ present.astype(np.int64)
    else:
        ids = source[unit].to_numpy() if isinstance(unit, str) else np.asarray(unit)
        counts = np.array(
            [[pd.unique(ids[present[:, i] & present[:, j]]).size for j in range(len(names))] for i in range(len(names))]
        )
    small = (counts > 0) & (counts < rules.threshold)
    cells = [(names[i], names[j]) for i, j in zip(*np.nonzero(small), strict=True)]
    findings = (
        []
        if not cells
        else [
            Finding(
                rule="threshold",
                severity="fail",
                where=format_cells(cells),
                cells=cells,
                message=f"{len(cells)} {what} rest on fewer than {rules.threshold} {'units' if unit else 'records'} with "
                "both values; such a coefficient describes a few persons.",
                fix=f"Compute them on a group of at least {rules.threshold} units with both values, or leave them out.",
            )
        ]
    )
    return CheckResult(
        kind="table",
        findings=findings,
        counts=Counts(tables=1, cells=int(frame.size), count_cells=0, observations=int(counts.max())),
        source=f"the data= frame ({len(source):,} rows): pairwise {what} of {', '.join(names)}",
        rules_origin=rules.origin,
        unit=unit if isinstance(unit, str) else None,
    )
