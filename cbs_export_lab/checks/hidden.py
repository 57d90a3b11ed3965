"""`recoverable`: hidden cells that the shown cells and margins give away (DESIGN section 3).

A table whose small cells were replaced by NaN or "x" is only safe when no hidden cell can be worked out from the
totals. The audit (`cbs_export_lab.audit`) gives each hidden cell its interval; this module turns the ones that do
not hold into findings, and judges tables made by `cel.protect` as protected.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from ..audit import Requirement, Structure, audit, find_structure, read_cells, unravel
from ..results import CheckResult, Finding, format_cell, format_cells, format_label
from ..rules import Rules
from ..tables import attach_stats, carried_stats

PROTECTED_ATTR = "cbs_export_lab.protected"
_FIX = (
    "Hide more cells so that none can be worked out from the totals: cel.protect(table) chooses them "
    "(secondary suppression), or merge categories with cel.protect(table, method='merge')."
)


def _frame(obj: Any) -> pd.DataFrame | None:
    if type(obj).__module__.startswith("pandas.io.formats.style"):
        obj = obj.data
    if isinstance(obj, pd.Series):
        return obj.to_frame()
    return obj if isinstance(obj, pd.DataFrame) else None


def count_requirement(n: int, rules: Rules) -> Requirement:
    """Counts: at least max(min_width, threshold) wide, or reaching from 0 to threshold - 1."""
    req = Requirement.none(n)
    req.width[:] = max(getattr(rules, "recoverable_min_width", rules.threshold), rules.threshold)
    req.ceiling[:] = max(rules.threshold - 1, 1)
    req.safe_from[:] = rules.threshold
    return req


def requirement(n: int, rules: Rules, integer: bool, info: dict[str, Any] | None = None) -> Requirement:
    """What each hidden cell needs; with `cel.protect`'s record, primary cells get their own protection levels and
    the other hidden cells need only not be exactly determined."""
    if integer:
        req = count_requirement(n, rules)
    else:
        req = Requirement.none(n)
        req.relative[:] = getattr(rules, "recoverable_magnitude_width", rules.p_percent)
    if info is None:
        return req
    secondary = ~info["primary"].ravel()
    for name in ("width", "relative", "up", "down"):
        getattr(req, name)[secondary] = 0.0
    req.ceiling[secondary] = np.inf
    req.safe_from[~secondary] = np.inf
    req.up[~secondary] = info["up"].ravel()[~secondary]
    req.down[~secondary] = info["down"].ravel()[~secondary]
    return req


def _is_counts(values: np.ndarray, stats: Any) -> bool:
    if stats is not None and hasattr(stats, "frequency"):
        return bool(stats.frequency)
    shown = values[np.isfinite(values)]
    return bool(shown.size) and bool(np.all((shown >= 0) & (shown == np.round(shown))))


def recoverable_findings(
    table: Any, rules: Rules, stats: Any = None, info: dict[str, Any] | None = None, original: np.ndarray | None = None
) -> list[Finding]:
    """One `recoverable` fail per hidden cell that the shown cells and margins give away. `info` is the record of
    `cel.protect`; `original` the true values when known, which only makes the audit faster (the truth is one of
    the tables an attacker must consider)."""
    frame = _frame(table)
    if frame is None or frame.size == 0:
        return []
    values, hidden, upper = read_cells(frame)
    if not hidden.any():
        return []
    structure = find_structure(values, list(frame.index), list(frame.columns), hidden=hidden)
    if not structure.totals.size:
        return []
    integer = _is_counts(values, stats) if info is None else bool(info["integer"])
    req = requirement(values.size, rules, integer, info)
    original = original if info is None else info["original"]
    result = audit(structure, values, hidden, req, upper=upper, integer=integer, original=original)
    if not result.consistent:
        return []
    series = isinstance(table, pd.Series)
    return [
        _finding(frame, structure, int(cell), lo, hi, int(tie), integer, rules, series)
        for cell, lo, hi, tie, ok in zip(result.cells, result.lo, result.hi, result.tie, result.holds, strict=True)
        if not ok and not (lo == 0 and hi == 0)
    ]  # an empty cell shown as NaN is the `zero` rule's (review)


def _number(x: float, integer: bool) -> str:
    if not np.isfinite(x):
        return "no limit"
    return f"{int(round(x)):,}" if integer else f"{x:,.4g}"


def _finding(
    frame: pd.DataFrame,
    structure: Structure,
    cell: int,
    lo: float,
    hi: float,
    tie: int,
    integer: bool,
    rules: Rules,
    series: bool = False,
) -> Finding:
    i, j = unravel(cell, structure.shape)
    here = (frame.index[i], None if series else frame.columns[j])
    if np.isfinite(hi) and abs(hi - lo) <= 1e-9 * max(1.0, abs(hi)):
        what = f"it must be {_number(lo, integer)}"
    else:
        need = (
            f"at least {max(getattr(rules, 'recoverable_min_width', 10), rules.threshold)} wide or reaching from "
            f"0 to {rules.threshold - 1}"
            if integer
            else "wide enough to hide its value"
        )
        what = (
            f"it lies between {_number(lo, integer)} and {_number(hi, integer)}, narrower than its protection ({need})"
        )
    given = _given_away(frame, structure, tie, cell)
    return Finding(
        rule="recoverable",
        severity="fail",
        message=f"The hidden cell at {format_cell(*here)} can be worked out from the cells that are shown: {what}. "
        f"It is given away by {given}.",
        where=format_cell(*here),
        fix=_FIX,
        cells=[here],
    )


def _given_away(frame: pd.DataFrame, structure: Structure, tie: int, cell: int) -> str:
    if tie < 0:
        return "the totals of the table"
    total = int(structure.totals[tie])
    members = [int(p) for p in structure.parts[tie]] + [total]
    ti, tj = unravel(total, structure.shape)
    others = [
        (frame.index[a], frame.columns[b]) for a, b in (unravel(m, structure.shape) for m in members if m != cell)
    ]
    line = (
        f"row {format_label(frame.index[ti])}"
        if all(unravel(m, structure.shape)[0] == ti for m in members)
        else f"column {format_label(frame.columns[tj])}"
    )
    total_cell = format_cell(frame.index[ti], frame.columns[tj])
    return f"{line}: its total ({total_cell}) and the other cells ({format_cells(others, 6)})"


# --- tables made by cel.protect -----------------------------------------------------------------------------


def protected_info(frame: pd.DataFrame) -> dict[str, Any] | None:
    """`cel.protect`'s record, when the table still shows exactly the protected cells (else None)."""
    info = frame.attrs.get(PROTECTED_ATTR)
    if not isinstance(info, dict) or info.get("method") != "suppress":
        return None
    if (
        frame.shape != info["hidden"].shape
        or not frame.index.equals(info["index"])
        or not frame.columns.equals(info["columns"])
    ):
        return None
    values, hidden, _ = read_cells(frame)
    if not np.array_equal(hidden, info["hidden"]):
        return None
    shown = ~hidden
    return info if np.allclose(values[shown], info["original"][shown], rtol=0, atol=1e-9) else None


def _original(frame: pd.DataFrame, info: dict[str, Any]) -> pd.DataFrame:
    """The table as it was before cells were hidden, with its statistics when it carried them."""
    table = pd.DataFrame(info["original"], index=frame.index, columns=frame.columns)
    for k, dtype in enumerate(info.get("dtypes", [])):
        if np.issubdtype(dtype, np.integer):
            table.isetitem(k, table.iloc[:, k].astype(dtype))
    table.attrs = {}
    if info.get("stats") is not None:
        attach_stats(table, info["stats"])
    return table


def _without_hidden(findings: list[Finding], hidden_cells: set) -> list[Finding]:
    out = []
    for f in findings:
        if not f.cells:
            out.append(f)
            continue
        cells = [c for c in f.cells if tuple(c) not in hidden_cells]
        if cells:
            out.append(replace(f, cells=cells, where=format_cells(cells)) if len(cells) < len(f.cells) else f)
    return out


def with_hidden_cells(obj: Any, rules: Rules, base: Callable[[Any], CheckResult]) -> CheckResult:
    """The table check (`base`) plus the audit of hidden cells; a table made by `cel.protect` is judged on its
    original statistics, without rules on the cells it hides, and passes when its protection holds."""
    frame = _frame(obj)
    info = None if frame is None else protected_info(frame)
    if info is None:
        result = base(obj)
        if frame is None or carried_stats(frame) is not None:  # exactly as built: its NaNs are empty groups
            return result
        return result.with_findings(recoverable_findings(obj, rules))
    stored = info.get("base")
    if info.get("stats") is None and isinstance(stored, CheckResult) and info.get("rules") == rules.fingerprint:
        result = stored
    else:
        result = base(_original(frame, info))
    rows, cols = np.nonzero(info["hidden"])
    hidden_cells = {(frame.index[i], frame.columns[j]) for i, j in zip(rows, cols, strict=True)}
    findings = _without_hidden(result.findings, hidden_cells) + recoverable_findings(frame, rules, info=info)
    details = {
        **result.details,
        "protection": {
            "method": "suppress",
            "hidden": int(info["hidden"].sum()),
            "primary": int(info["primary"].sum()),
        },
    }
    return replace(result, findings=findings, details=details)
