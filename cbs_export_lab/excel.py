"""Tables as Excel sheets that a CBS output checker reads at a glance.

Title, description and meta rows (N, unit, weighted or not, status) sit above the table; the index is kept as
columns; failing cells are filled red with a note saying why.
"""

from __future__ import annotations

import math
import os
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from .atomic import atomic_path
from .results import format_cell

NOT_GIVEN = "niet opgegeven / not given"
UNKNOWN = "onbekend / unknown"
YES, NO = "ja / yes", "nee / no"
STATUS_LABELS = {"pass": "voldoet / pass", "review": "beoordelen / review", "fail": "voldoet niet / fail"}
MARK_FILL = "FFC7CE"
MARK_FONT = "9C0006"
REVIEW_FILL = "FFEB9C"
REVIEW_FONT = "9C5700"
DEFAULT_NOTE = "This cell fails a disclosure rule: do not release it as it is."
REVIEW_NOTE = "This cell needs a look before release."
MISSING_SHOWN = 50
HIDDEN_MARK = "x"
HIDDEN_LEGEND = "x = geheim / suppressed to protect small cells"
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


@dataclass(frozen=True)
class Sheet:
    """One table on its own sheet, with the rows a checker reads above it."""

    frame: pd.DataFrame | pd.Series
    title: str
    description: str = ""
    meta: Mapping[str, Any] | None = None
    marked_cells: Sequence[tuple] = ()
    name: str = "output"
    review_cells: Sequence[tuple] = ()
    hidden_cells: Sequence[tuple] = ()
    legend: Sequence[str] = ()


def write_sheet(
    path: str | os.PathLike[str],
    frame: pd.DataFrame | pd.Series,
    *,
    title: str,
    description: str = "",
    meta: Mapping[str, Any] | None = None,
    marked_cells: Iterable[tuple] = (),
    sheet_name: str = "output",
    review_cells: Iterable[tuple] = (),
    hidden_cells: Iterable[tuple] = (),
    legend: Iterable[str] = (),
) -> Path:
    """Write `frame` to one sheet of a new .xlsx at `path`, atomically.

    `marked_cells` holds `(row_label, col_label)` or `(row_label, col_label, note)`; a None label marks the whole
    column or row (a Series has no column label). Marked cells not found in the table are listed under it, so a
    checker still sees them. `review_cells` (same form) are filled yellow where no failing mark covers them.
    `hidden_cells` `(row_label, col_label)` show the mark of a protected table ("x"); `legend` lines follow the table.
    """
    return write_book(
        path,
        [
            Sheet(
                frame,
                title,
                description,
                meta,
                tuple(marked_cells),
                sheet_name,
                tuple(review_cells),
                tuple(hidden_cells),
                tuple(legend),
            )
        ],
    )


def write_book(path: str | os.PathLike[str], sheets: Iterable[Sheet]) -> Path:
    """Write several tables into one new .xlsx, one sheet each, atomically."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    used: set[str] = set()
    for sheet in sheets:
        name = _sheet_name(sheet.name, used)
        used.add(name.lower())
        _fill(wb.create_sheet(name), sheet)
    as_text(wb)
    with atomic_path(path) as tmp:
        wb.save(tmp)
    return Path(path)


def _fill(ws: Any, sheet: Sheet) -> None:
    from openpyxl.comments import Comment
    from openpyxl.styles import Font, PatternFill

    frame = sheet.frame
    if isinstance(frame, pd.Series):
        frame = frame.to_frame(name=frame.name if frame.name is not None else "value")
    bold = Font(bold=True)

    ws.append([cell_value(sheet.title)])
    ws["A1"].font = Font(bold=True, size=14)
    if sheet.description:
        ws.append([cell_value(sheet.description)])
    for key, value in (sheet.meta or {}).items():
        ws.append([cell_value(str(key)), cell_value(value)])
        ws.cell(ws.max_row, 1).font = bold
    ws.append([])

    n_index = frame.index.nlevels
    index_names = [_header(name, f"index {i + 1}" if n_index > 1 else "") for i, name in enumerate(frame.index.names)]
    col_levels = frame.columns.nlevels
    for level in range(col_levels):
        labels = frame.columns.get_level_values(level) if col_levels > 1 else frame.columns
        left = index_names if level == col_levels - 1 else [""] * n_index
        ws.append([*left, *(cell_value(x) for x in labels)])
        for c in range(1, n_index + len(labels) + 1):
            ws.cell(ws.max_row, c).font = bold
    first_data_row = ws.max_row + 1

    for label, values in zip(frame.index, frame.itertuples(index=False, name=None), strict=False):
        parts = label if isinstance(label, tuple) else (label,)
        ws.append([*(cell_value(x) for x in parts), *(cell_value(v) for v in values)])
    _mark_hidden(ws, sheet, frame, first_data_row, n_index)

    for marks, default, fill, font, heading in (
        (sheet.review_cells, REVIEW_NOTE, REVIEW_FILL, REVIEW_FONT, "Also to review (not located in this table):"),
        (sheet.marked_cells, DEFAULT_NOTE, MARK_FILL, MARK_FONT, "Also failing (not located in this table):"),
    ):
        fill, font = PatternFill("solid", fgColor=fill), Font(color=font, bold=True)
        positions, missing = _locate(frame, marks, default)
        for (r, c), notes in positions.items():
            cell = ws.cell(first_data_row + r, n_index + c + 1)
            old = cell.comment.text.split("\n") if cell.comment else []
            cell.fill, cell.font = fill, font
            cell.comment = Comment(cell_value("\n".join(dict.fromkeys([*notes, *old]))), "cbs_export_lab")
        if missing:
            ws.append([])
            ws.append([heading])
            ws.cell(ws.max_row, 1).font = font
            for row, col, note in missing[:MISSING_SHOWN]:
                ws.append([cell_value(format_cell(row, col)), cell_value(note)])
            if len(missing) > MISSING_SHOWN:
                ws.append([f"... and {len(missing) - MISSING_SHOWN} more"])

    for c in range(1, n_index + 1):
        ws.column_dimensions[ws.cell(1, c).column_letter].width = 22


def as_text(workbook: Any) -> Any:
    """Every text stays text when a checker opens the workbook in Excel.

    openpyxl stores a string starting with '=' as a formula, and Excel re-reads one starting with '+', '-' or '@'
    as a formula once the cell is edited: a title or table label typed as '=HYPERLINK(...)' must never run. Such
    cells are stored as strings with Excel's quote prefix; numbers (negative ones too) are left as they are.
    """
    for ws in workbook.worksheets:
        # the cells that exist (openpyxl's own store): walking every row and column would create the empty ones
        stored = getattr(ws, "_cells", None)
        cells = stored.values() if isinstance(stored, dict) else (c for row in ws.iter_rows() for c in row)
        for cell in cells:
            value = cell.value
            if isinstance(value, str) and value.startswith(FORMULA_STARTS):
                cell.data_type = "s"
                cell.quotePrefix = True
    return workbook


def _mark_hidden(ws: Any, sheet: Sheet, frame: pd.DataFrame, first_data_row: int, n_index: int) -> None:
    """Cells hidden by protection read "x", as in CBS's own tables; the legend lines follow the table."""
    from openpyxl.styles import Alignment, Font

    positions, _ = _locate(frame, [(*cell[:2], "") for cell in sheet.hidden_cells])
    for r, c in positions:
        cell = ws.cell(first_data_row + r, n_index + c + 1)
        cell.value, cell.alignment = HIDDEN_MARK, Alignment(horizontal="right")
    if sheet.legend:
        ws.append([])
        for line in sheet.legend:
            ws.append([cell_value(line)])
            ws.cell(ws.max_row, 1).font = Font(italic=True)


def _sheet_name(name: str, used: set[str]) -> str:
    """Excel allows 31 characters, none of []:*?/\\, and no two sheets whose names differ only in case."""
    clean = (_BAD_SHEET_CHARS.sub("_", str(name)).strip("'") or "output")[:31]
    candidate, n = clean, 2
    while candidate.lower() in used:
        candidate = f"{clean[:27]} ({n})"
        n += 1
    return candidate


def _header(name: Any, fallback: str) -> Any:
    return fallback if name is None else cell_value(name)


def cell_value(value: Any) -> Any:
    """A value openpyxl can store: numbers as they are, missing as empty, anything else as text.

    Control characters that Excel refuses (a line break pasted from Word is one) become spaces, so a title or
    explanation typed by a user can never make the workbook unwritable.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub(" ", value)
    if isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    item = getattr(value, "item", None)
    if callable(item) and type(value).__module__ == "numpy":
        return cell_value(item())
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.to_pydatetime().replace(tzinfo=None)
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return cell_value(str(value))


def _key(label: Any) -> Any:
    """Labels compare equal after a JSON round trip: lists become tuples, numpy scalars plain Python."""
    if isinstance(label, (list, tuple)):
        return tuple(_key(x) for x in label)
    item = getattr(label, "item", None)
    if callable(item) and type(label).__module__ == "numpy":
        return item()
    return label


def _positions(labels: pd.Index) -> dict[Any, list[int]]:
    out: dict[Any, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        out[_key(label)].append(i)
        out[("str", str(_key(label)))].append(i)
    return out


def _find(lookup: dict[Any, list[int]], label: Any) -> list[int]:
    key = _key(label)
    try:
        found = lookup.get(key)
    except TypeError:
        found = None
    return found or lookup.get(("str", str(key)), [])


def _locate(
    frame: pd.DataFrame, marked: Iterable[tuple], default_note: str = DEFAULT_NOTE
) -> tuple[dict[tuple[int, int], list[str]], list[tuple]]:
    rows, cols = _positions(frame.index), _positions(frame.columns)
    found: dict[tuple[int, int], list[str]] = defaultdict(list)
    missing = []
    for mark in marked:
        row, col = mark[0], mark[1]
        note = mark[2] if len(mark) > 2 and mark[2] else default_note
        if col is None and len(frame.columns) == 1:
            col_pos = [0]
        else:
            col_pos = list(range(len(frame.columns))) if col is None else _find(cols, col)
        row_pos = list(range(len(frame.index))) if row is None else _find(rows, row)
        if not row_pos or not col_pos:
            missing.append((row, col, note))
        for r in row_pos:
            for c in col_pos:
                found[r, c].append(note)
    return found, missing
