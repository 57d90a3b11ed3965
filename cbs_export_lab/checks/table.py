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
from ..tables import carried_stats, cell_stats
from .cells import check_with_stats, empty_table_finding, identifier_findings, merge_findings
from .plain import (
    COUNTING,
    PlainTable,
    as_plain_table,
    classify,
    count_cells,
    microdata_findings,
    rule_findings,
    label_findings,
    unreproduced_records,
)
from .recover import ALL, Layout, Match, Recovery, recover, reproduce
from ..units import check_column_argument, linking_key_column, source_frame


def check_plain_table(obj: Any, *, data: Any = None, unit: Any = None, weights: Any = None,
                      rules: Rules) -> CheckResult:
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
            return CheckResult(kind="table", findings=always + [empty_table_finding(rules)], counts=Counts(tables=1),
                               rules_origin=rules.origin)
        if source is not None:
            checked = check_with_source(table, source, unit, weights, rules)
            if isinstance(checked, CheckResult):
                known = {f.rule for f in always} & {"microdata"}
                checked.findings = always + [f for f in checked.findings if f.rule not in known]
                return checked
            always.append(not_reproduced(checked, rules))
            if not any(f.rule == "microdata" for f in always):
                always += unreproduced_records(raw, source, rules)
        kinds, values = classify(table, rules)
    counts = Counts(tables=1, cells=int(kinds.size), count_cells=count_cells(kinds))
    return CheckResult(kind="table", findings=always + rule_findings(table, kinds, values, rules), counts=counts,
                       rules_origin=rules.origin)


def check_with_source(table: PlainTable, source: pd.DataFrame, unit: Any, weights: Any,
                       rules: Rules) -> CheckResult | str:
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


def not_reproduced(why: str, rules: Rules) -> Finding:
    return Finding(
        rule="unknown_counts", severity=rules.unknown_counts,
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
                self.source, index=self.rows, columns=self.layout.col_keys, values=values, aggfunc=aggfunc,
                unit=unit, weights=self.weights, margins=self.layout.margins_name is not None,
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
    return check_with_stats(sub, stats.take(rows_at, cols_at, sub.index, sub.columns), rules)


def check_table(obj: Any, *, data: Any = None, unit: Any = None, weights: Any = None, rules: Rules) -> CheckResult:
    """Carried statistics when they still match the table; otherwise the checks for plain pandas tables."""
    source_frame(data)  # a wrong data= is a mistake to report even when the table carries its statistics
    table = getattr(obj, "data", obj) if type(obj).__module__.startswith("pandas.io.formats.style") else obj
    stats = carried_stats(table)
    if stats is not None and unit is None and weights is None:
        result = check_with_stats(table, stats, rules)
        result.findings += label_findings(table, rules, source_frame(data))
        return result
    return check_plain_table(table, data=data, unit=unit, weights=weights, rules=rules)
