"""`cel.protect(t)`: make a failing table safe by cell suppression, merging categories or rounding.

"suppress" hides every cell that fails `threshold`, `dominance` or `p_percent` (primary) and as few other cells
as needed so that no hidden cell can be worked out from the margins (secondary, audited). "merge" combines
neighbouring categories until every cell holds. "round" rounds counts to a base and recomputes the margins from
the rounded cells. The result is an ordinary DataFrame; what was done travels in `attrs` so `cel.check` judges the
protected table, and the hidden values stay inside the RA as background information.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .audit import aggregates, find_structure, suppress
from .checks.hidden import PROTECTED_ATTR, recoverable_findings, requirement
from .errors import UserError
from .results import format_label
from .tables import STATS_ATTR, carried_stats, crosstab

METHODS = ("suppress", "merge", "round")
PRIMARY_RULES = ("threshold", "dominance", "p_percent")


def protect(
    t: Any,
    *,
    method: str = "suppress",
    data: Any = None,
    unit: Any = None,
    weights: Any = None,
    cost: str = "cells",
    base: int = 5,
) -> pd.DataFrame:
    """A protected copy of table `t` (DESIGN section 5); `cost` ('cells' or 'value') is what suppression
    minimises, `base` what rounding rounds to."""
    from .check import check
    from .settings import active_rules

    frame = _as_frame(t)
    if method not in METHODS:
        raise UserError(f"method={method!r} is not known. Use one of: {', '.join(METHODS)}.")
    if cost not in ("cells", "value"):
        raise UserError(f"cost={cost!r} is not known. Use 'cells' (hide as few cells as possible) or 'value'.")
    rules = active_rules()
    stats = carried_stats(frame)
    if stats is None and data is None:
        raise UserError(
            "This table carries no cell statistics and no source was given, so there is nothing to "
            "protect it with: the counts behind its cells are unknown. Build it with cel.crosstab / "
            "cel.pivot_table, or pass the frame it was made from: cel.protect(t, data=df)."
        )
    result = check(frame, data=data, unit=unit, weights=weights, rules=rules)
    if stats is None and result.source is None:
        raise UserError(
            "The data= frame does not reproduce this table, so its cells cannot be protected. Pass the "
            "frame the table was made from (after any filtering), or build it with cel.crosstab."
        )
    if method == "round":
        return _with_before(_round(frame, stats, result, base), frame)
    if method == "merge":
        return _with_before(_merge(frame, data, unit, weights, rules), frame)
    return _suppress(frame, stats, result, rules, cost)


def _with_before(safe: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """Round and merge keep the table before protection (background information) and what they produced, so a
    table edited afterwards is no longer taken for the protected one."""
    safe.attrs[PROTECTED_ATTR].update(
        original=frame.to_numpy(dtype=float, na_value=np.nan),
        index=frame.index,
        columns=frame.columns,
        result=safe.to_numpy(dtype=float, na_value=np.nan),
        result_index=safe.index,
        result_columns=safe.columns,
    )
    return safe


def _as_frame(t: Any) -> pd.DataFrame:
    if type(t).__module__.startswith("pandas.io.formats.style"):
        t = t.data
    if isinstance(t, pd.Series):
        raise UserError("cel.protect works on a DataFrame; turn the Series into one first, e.g. s.to_frame().")
    if not isinstance(t, pd.DataFrame):
        raise UserError(f"cel.protect needs a pandas DataFrame, not a {type(t).__name__}.")
    if not all(pd.api.types.is_numeric_dtype(d) for d in t.dtypes):
        raise UserError("cel.protect needs a table of numbers; this one has text columns.")
    return t


def _positions(frame: pd.DataFrame, cells: list[tuple[Any, Any]]) -> np.ndarray:
    rows = {label: i for i, label in enumerate(frame.index)}
    cols = {label: j for j, label in enumerate(frame.columns)}
    mask = np.zeros(frame.shape, dtype=bool)
    for r, c in cells:
        i, j = rows.get(tuple(r) if isinstance(r, list) else r), cols.get(tuple(c) if isinstance(c, list) else c)
        if i is not None and j is not None:
            mask[i, j] = True
    return mask


def _primary(frame: pd.DataFrame, result: Any) -> np.ndarray:
    cells = [c for f in result.findings if f.severity == "fail" and f.rule in PRIMARY_RULES for c in f.cells]
    return _positions(frame, cells) | frame.isna().to_numpy()


def _levels(stats: Any, values: np.ndarray, rules: Any) -> tuple[np.ndarray, np.ndarray]:
    """Upper and lower protection per cell of a magnitude table, as tau-Argus derives them: the p% rule needs
    p * x1 - (X - x1 - x2), the (n, k) dominance rule top_n / k - X; cells with other failures a share of X."""
    share = rules.recoverable_magnitude_width * np.abs(values)
    if stats is None or not getattr(stats, "magnitude", False):
        return share, share.copy()
    total, top1, top2 = stats.abs_total, stats.top1, stats.top2
    p_level = rules.p_percent * top1 - (total - top1 - top2)
    top_n = stats.largest(rules.dominance_n)
    k_level = top_n / rules.dominance_k - total if top_n is not None else np.zeros_like(total)
    level = np.maximum.reduce([share, p_level, k_level])
    return level, level.copy()


def _suppress(frame: pd.DataFrame, stats: Any, result: Any, rules: Any, cost: str) -> pd.DataFrame:
    values = frame.to_numpy(dtype=float, na_value=np.nan)
    primary = _primary(frame, result)
    integer = bool(stats.frequency) if stats is not None else result.counts.count_cells == result.counts.cells
    structure = find_structure(values, list(frame.index), list(frame.columns))
    up, down = (np.zeros(values.shape), np.zeros(values.shape)) if integer else _levels(stats, values, rules)
    info = {"primary": primary, "up": up, "down": down}
    req = requirement(values.size, rules, integer, info)
    need = primary.copy()
    for _ in range(3):  # the table must also hold when audited without this record (attrs are easily lost)
        pattern = suppress(structure, np.nan_to_num(values), need, req, cost=cost, integer=integer)
        hidden = pattern.hidden | primary
        plain = recoverable_findings(frame.astype(float).mask(hidden), rules, stats=stats, original=values)
        if not plain:
            break
        need = need | _positions(frame, [c for f in plain for c in f.cells])
        req = requirement(values.size, rules, integer, {"primary": need, "up": up, "down": down})
    safe = frame.astype(float)
    safe = safe.mask(hidden)
    safe.attrs = {k: v for k, v in frame.attrs.items() if k not in (STATS_ATTR, PROTECTED_ATTR)}
    rows, cols = np.nonzero(hidden)
    safe.attrs[PROTECTED_ATTR] = {
        "method": "suppress",
        "hidden": hidden,
        "primary": primary,
        "original": values,
        "up": up,
        "down": down,
        "integer": integer,
        "stats": stats,
        "base": result,
        "rules": rules.fingerprint,
        "index": frame.index,
        "columns": frame.columns,
        "dtypes": list(frame.dtypes),
        "solver": pattern.method,
        "cost": cost,
        "hidden_values": {(frame.index[i], frame.columns[j]): values[i, j] for i, j in zip(rows, cols, strict=True)},
        "done": f"{int(primary.sum())} cell(s) hidden because they fail a rule and {int((hidden & ~primary).sum())} "
        f"more so that none can be worked out from the margins ({pattern.method}).",
    }
    return safe


def _round(frame: pd.DataFrame, stats: Any, result: Any, base: int) -> pd.DataFrame:
    """Detail cells rounded to the nearest multiple of `base`; every total is the sum of its rounded cells."""
    if isinstance(base, bool) or not isinstance(base, (int, np.integer)) or base < 1:
        raise UserError(f"base={base!r} must be a whole number of 1 or more, e.g. base=5.")
    counting = bool(stats.frequency) if stats is not None else result.counts.count_cells == result.counts.cells
    if not counting:
        raise UserError("method='round' rounds counts; this table holds other statistics. Use method='suppress'.")
    values = frame.to_numpy(dtype=float, na_value=0.0)
    row_sets = _leaf_sets(list(frame.index), values.shape[0])
    col_sets = _leaf_sets(list(frame.columns), values.shape[1])
    rounded = np.floor(values / base + 0.5) * base
    out = np.zeros(values.shape)
    for i, rs in enumerate(row_sets):
        for j, cs in enumerate(col_sets):
            out[i, j] = rounded[np.ix_(rs, cs)].sum()
    safe = pd.DataFrame(out.astype(np.int64), index=frame.index, columns=frame.columns)
    safe.attrs[PROTECTED_ATTR] = {
        "method": "round",
        "base": int(base),
        "done": f"counts rounded to multiples of {base}; totals are sums of rounded cells.",
    }
    return safe


def _leaf_sets(labels: list[Any], n: int) -> list[np.ndarray]:
    sets = [np.array([k]) for k in range(n)]
    for total, members in aggregates(labels):
        sets[total] = members
    return sets


# --- merging ------------------------------------------------------------------------------------------------


def _merge(frame: pd.DataFrame, data: Any, unit: Any, weights: Any, rules: Any) -> pd.DataFrame:
    """Combine the category of the smallest failing cell with a neighbour (ordered keys) or with the smallest
    other category (unordered keys), rebuilding the table from the source each time, until every cell holds."""
    from .check import check

    if not isinstance(data, pd.DataFrame):
        raise UserError(
            "method='merge' rebuilds the table from its source: pass the frame, cel.protect(t, "
            "method='merge', data=df)."
        )
    row_key, col_key = frame.index.name, frame.columns.name
    if frame.index.nlevels != 1 or frame.columns.nlevels != 1 or row_key not in data or col_key not in data:
        raise UserError(
            "method='merge' works on a table of one row key by one column key that are columns of "
            "data= (e.g. cel.crosstab(df.gemeente, df.leeftijdsklasse))."
        )
    margins = [label for label in frame.index if _is_total(label)]
    margins_name = margins[0] if margins else "All"
    keys = {row_key: _Key(data[row_key]), col_key: _Key(data[col_key])}
    unit_values = data[unit] if isinstance(unit, str) else unit
    weight_values = data[weights] if isinstance(weights, str) else weights
    merged: list[str] = []
    for _ in range(sum(len(k.groups) for k in keys.values())):
        table = crosstab(
            keys[row_key].column(),
            keys[col_key].column(),
            margins=bool(margins),
            margins_name=margins_name,
            unit=unit_values,
            weights=weight_values,
        )
        result = check(table, rules=rules)
        failing = [c for f in result.findings if f.severity == "fail" and f.rule in PRIMARY_RULES for c in f.cells]
        failing = [(r, c) for r, c in failing if not _is_total(r) and not _is_total(c)]
        if not failing:
            table.attrs[PROTECTED_ATTR] = {
                "method": "merge",
                "merged": merged,
                "done": "merged: " + ("; ".join(merged) or "nothing needed"),
            }
            return table
        r, c = min(failing, key=lambda rc: table.loc[rc])
        row_total, col_total = (
            table.loc[r].drop(margins_name, errors="ignore").sum(),
            table[c].drop(margins_name, errors="ignore").sum(),
        )
        name, label = (row_key, r) if row_total <= col_total and len(keys[row_key].groups) > 1 else (col_key, c)
        if len(keys[name].groups) <= 1:
            break
        merged.append(keys[name].merge(label, table, name == row_key, margins_name))
    raise UserError(
        "Merging categories cannot make this table safe (too few units in the whole table). "
        "Use a coarser grouping or method='suppress'."
    )


def _is_total(label: Any) -> bool:
    return isinstance(label, str) and label.strip().lower() in ("all", "total", "totaal")


class _Key:
    """One grouping key of the source and the groups of its categories merged so far."""

    def __init__(self, column: pd.Series) -> None:
        self.source = column
        self.ordered = (
            bool(getattr(column.dtype, "ordered", False))
            or pd.api.types.is_numeric_dtype(column.dtype)
            or isinstance(column.dtype, pd.IntervalDtype)
        )
        categories = (
            list(column.cat.categories)
            if isinstance(column.dtype, pd.CategoricalDtype)
            else sorted(column.dropna().unique())
        )
        self.groups = [[c] for c in categories]

    def name_of(self, group: list[Any]) -> str:
        return " + ".join(str(g) for g in group) if len(group) > 1 else str(group[0])

    def column(self) -> pd.Series:
        names = [self.name_of(g) for g in self.groups]
        lookup = {c: self.name_of(g) for g in self.groups for c in g}
        values = self.source.map(lookup)
        return pd.Series(
            pd.Categorical(values, categories=names, ordered=self.ordered),
            index=self.source.index,
            name=self.source.name,
        )

    def merge(self, label: Any, table: pd.DataFrame, rows: bool, margins_name: Any) -> str:
        names = [self.name_of(g) for g in self.groups]
        k = names.index(str(label))
        line = (
            table.drop(index=margins_name, errors="ignore")
            if rows
            else table.drop(columns=margins_name, errors="ignore")
        )
        size = (line.sum(axis=1) if rows else line.sum(axis=0)).reindex(names).fillna(0).to_numpy()
        if self.ordered:
            options = [n for n in (k - 1, k + 1) if 0 <= n < len(names)]
        else:
            options = [n for n in range(len(names)) if n != k]
        other = min(options, key=lambda n: size[n])
        a, b = sorted((k, other))
        self.groups[a] = self.groups[a] + self.groups.pop(b)
        return f"{names[a]} with {names[b]}"


# --- what a protected table tells the basket, the Excel sheet, the form and the panel -------------------------

METHOD_LABELS = {
    "suppress": "celonderdrukking / cell suppression",
    "merge": "categorieën samenvoegen / merging categories",
    "round": "afronden / rounding",
}
HIDDEN_MARK = "x"  # as excel.HIDDEN_MARK writes it


def protection_record(obj: Any) -> dict[str, Any] | None:
    """`cel.protect`'s record when `obj` is still exactly the table it made (else None: an edited table is an
    ordinary one)."""
    from .checks.hidden import protected_info

    if type(obj).__module__.startswith("pandas.io.formats.style"):
        obj = obj.data
    if not isinstance(obj, pd.DataFrame):
        return None
    info = obj.attrs.get(PROTECTED_ATTR)
    if not isinstance(info, dict) or info.get("method") not in METHODS:
        return None
    if info["method"] == "suppress":
        return protected_info(obj)
    made = info.get("result")
    if (
        made is None
        or obj.shape != made.shape
        or not obj.index.equals(info["result_index"])
        or not obj.columns.equals(info["result_columns"])
    ):
        return None
    try:
        values = obj.to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError):
        return None
    return info if np.array_equal(values, made, equal_nan=True) else None


def hidden_cells(info: dict[str, Any]) -> list[tuple[Any, Any]]:
    """(row, column) of every cell that suppression hid; none for merging and rounding."""
    if info.get("method") != "suppress":
        return []
    rows, cols = np.nonzero(info["hidden"])
    return [(info["index"][i], info["columns"][j]) for i, j in zip(rows, cols, strict=True)]


def protection_text(info: dict[str, Any]) -> str:
    """One sentence for the form and the Excel sheet: the method and what it did."""
    method = info["method"]
    if method == "suppress":
        primary, hidden = int(info["primary"].sum()), int(info["hidden"].sum())
        return (
            f"{METHOD_LABELS[method]}: {primary} primaire / primary cell(s) that fail a rule and "
            f"{hidden - primary} secundaire / secondary cell(s) hidden so that none can be worked out from the "
            f"totals ({info.get('solver', 'audited')}); shown as {HIDDEN_MARK}."
        )
    if method == "merge":
        merged = "; ".join(info.get("merged") or []) or "nothing needed"
        return f"{METHOD_LABELS[method]}: {merged}."
    return (
        f"{METHOD_LABELS[method]}: counts rounded to multiples of {info['base']}; totals are sums of the rounded cells."
    )


def background_frames(info: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """What protection took out of the table, for the checker only: the hidden values (suppression) and the
    table before protection (every method)."""
    before = pd.DataFrame(info["original"], index=info["index"], columns=info["columns"])
    frames: dict[str, pd.DataFrame] = {}
    if info["method"] == "suppress":
        rows, cols = np.nonzero(info["hidden"])
        primary = info["primary"]
        frames["hidden"] = pd.DataFrame(
            {
                "Rij / Row": [format_label(info["index"][i]) for i in rows],
                "Kolom / Column": [format_label(info["columns"][j]) for j in cols],
                "Waarde / Value": [info["original"][i, j] for i, j in zip(rows, cols, strict=True)],
                "Soort / Kind": [
                    "primair / primary" if primary[i, j] else "secundair / secondary"
                    for i, j in zip(rows, cols, strict=True)
                ],
            },
            index=pd.RangeIndex(1, len(rows) + 1, name="Nr"),
        )
    frames["before"] = before
    return frames


def applicable_methods(t: Any, result: Any, data: Any = None) -> tuple[list[str], str]:
    """The methods that can protect `t` (checked as `result`, with source `data`) and, when there are none,
    why not and what to do."""
    try:
        frame = _as_frame(t)
    except UserError as exc:
        return [], str(exc)
    stats = carried_stats(frame)
    if stats is None and result.source is None:
        return [], (
            "This table cannot be made safe here: it is a plain pandas table and no frame that reproduces "
            "it is known, so the counts behind its cells are unknown and no cell can be chosen to hide. "
            "Give the frame it was made from (%cbs_check TABLE --data DF, or cel.protect(table, data=df)), "
            "or build it with cel.crosstab / cel.pivot_table."
        )
    methods = ["suppress"]
    if (
        isinstance(data, pd.DataFrame)
        and frame.index.nlevels == 1
        and frame.columns.nlevels == 1
        and frame.index.name in data
        and frame.columns.name in data
    ):
        methods.append("merge")
    counting = bool(stats.frequency) if stats is not None else result.counts.count_cells == result.counts.cells
    if counting:
        methods.append("round")
    return methods, ""
