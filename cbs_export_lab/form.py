"""The output control form (outputcontroleformulier) that CBS asks for in every output zip.

Labels are Dutch with the English after a slash, so both the checker and the researcher read them. The form
lists only what is in its zip: held-back items never appear.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from .basket import Item
from .errors import UserError
from .excel import NO, NOT_GIVEN, STATUS_LABELS, UNKNOWN, YES, as_text, cell_value
from .rules import Rules, default_rules, load_rules

KIND_LABELS = {
    "table": "tabel / table",
    "model": "model / model",
    "figure": "figuur / figure",
    "syntax": "syntax / syntax",
    "file": "bestand / file",
}
FILE_COLUMNS = (
    ("Nr", 5),
    ("Titel / Title", 30),
    ("Omschrijving / Description", 40),
    ("Soort / Kind", 10),
    ("Bron / Source", 30),
    ("Eenheid / Unit", 15),
    ("Ongewogen N / Unweighted N", 14),
    ("Gewogen / Weighted", 12),
    ("Status", 10),
    ("Bevindingen / Findings", 60),
    ("Toelichting / Explanation", 50),
    ("Achtergrondinformatie (niet vrijgeven) / Background (not for release)", 16),
    ("Regels / Rules", 20),
    ("Bestanden in de zip / Files in the zip", 40),
    ("Beveiliging / Protection (cel.protect)", 50),
)


@dataclass(frozen=True)
class FormHeader:
    """What the form says about the export as a whole."""

    project: str | None
    researcher: str | None
    date: datetime
    mode: str
    folder: str
    zip_name: str
    why: str
    background_zip: str | None = None


def build_form(header: FormHeader, items: Sequence[Item], files: dict[str, list[str]]) -> Workbook:
    """The form as a workbook: a sheet about the export, one about the files, one about the rules used."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Formulier"
    bold = Font(bold=True)
    rows = [
        ("Outputcontroleformulier / Output control form", ""),
        ("Project / Project", header.project or NOT_GIVEN),
        ("Onderzoeker / Researcher", header.researcher or NOT_GIVEN),
        ("Datum / Date", header.date.strftime("%Y-%m-%d %H:%M:%S")),
        ("Controle / Checking", "vooraf / beforehand" if header.mode == "vooraf" else "achteraf / afterwards"),
        ("Exportmap / Destination folder", header.folder),
        ("Zipbestand / Zip file", header.zip_name),
        ("Waarom deze map / Why this folder", header.why),
        ("Aantal outputs / Number of outputs", _number_of_outputs(items)),
    ]
    if header.background_zip:
        rows.append(
            ("Achtergrondinformatie (niet vrijgeven) / Background information (not for release)", header.background_zip)
        )
    for label, value in rows:
        ws.append([label, cell_value(value)])
        ws.cell(ws.max_row, 1).font = bold
    ws.column_dimensions["A"].width = 36
    ws.column_dimensions["B"].width = 90
    for row in ws.iter_rows(min_col=2, max_col=2):
        row[0].alignment = Alignment(wrap_text=True, vertical="top")

    files_ws = wb.create_sheet("Bestanden")
    files_ws.append([name for name, _ in FILE_COLUMNS])
    for cell in files_ws[1]:
        cell.font = bold
    for n, item in enumerate(items, 1):
        files_ws.append([cell_value(v) for v in _file_row(n, item, files.get(item.id, []))])
    for col, (_, width) in enumerate(FILE_COLUMNS, 1):
        files_ws.column_dimensions[files_ws.cell(1, col).column_letter].width = width
    for row in files_ws.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    files_ws.freeze_panes = "B2"

    rules_ws = wb.create_sheet("Regels")
    rules_ws.append(["Regels / Rules", "Waarde / Value"])
    for cell in rules_ws[1]:
        cell.font = bold
    for key in dict.fromkeys((i.rules_origin, i.rules_fingerprint) for i in items):
        for label, value in _rules_rows([i for i in items if (i.rules_origin, i.rules_fingerprint) == key]):
            rules_ws.append([label, cell_value(value)])
        rules_ws.append([])
    rules_ws.column_dimensions["A"].width = 36
    rules_ws.column_dimensions["B"].width = 70
    return as_text(wb)


def _number_of_outputs(items: Sequence[Item]) -> str:
    """Outputs and background files apart: only the outputs are for release."""
    background = sum(i.background for i in items)
    outputs = str(len(items) - background)
    if background:
        outputs += (
            f" (+ {background} achtergrondinformatie, niet vrijgeven / + {background} background, not for release)"
        )
    return outputs


def _file_row(n: int, item: Item, files: list[str]) -> list[Any]:
    observations = item.counts.observations
    return [
        n,
        item.title,
        item.description or "",
        KIND_LABELS.get(item.kind, item.kind),
        item.source or NOT_GIVEN,
        item.unit or NOT_GIVEN,
        observations if observations is not None else UNKNOWN,
        YES if item.weighted else NO,
        STATUS_LABELS.get(item.status, item.status),
        "\n".join(f"{i}. {f.text()}" for i, f in enumerate(item.findings, 1)) or "geen / none",
        item.explanation.strip() if item.has_explanation else "",
        YES if item.background else NO,
        _origin_label(item.rules_origin),
        "\n".join(files),
        item.protection or "geen / none",
    ]


def _rules_rows(items: Sequence[Item]) -> list[tuple[str, str]]:
    origin = items[0].rules_origin
    rules = _rules_used(items[0])
    compliant = all(i.rules_compliant for i in items)
    looser = ", ".join(rules.looser_than_defaults()) if rules else ""
    rows = [
        ("Herkomst / Origin", _origin_label(origin)),
        ("Vingerafdruk / Fingerprint", rules.fingerprint if rules else f"{UNKNOWN} (the rules used cannot be read)"),
        (
            "Volgens de standaard / Compliant with the defaults",
            YES if compliant else NO + (f" (looser than the defaults: {looser})" if looser else ""),
        ),
    ]
    if rules is not None:
        rows += [
            (f"  {key}", ", ".join(map(str, value)) if isinstance(value, list) else str(value))
            for key, value in rules.settings().items()
        ]
    return rows


def _origin_label(origin: str) -> str:
    return "standaard / defaults" if origin == "defaults" else origin


def _rules_used(item: Item) -> Rules | None:
    """The rules recorded with the item when it was checked; items without a record fall back to the file."""
    if item.rules_settings:
        try:
            return Rules.from_settings(item.rules_settings, item.rules_origin)
        except (TypeError, ValueError):  # written by another version or edited by hand: shown as unknown
            return None
    return _rules_for(item.rules_origin)


def _rules_for(origin: str) -> Rules | None:
    """The rules behind an origin, as the rules file reads at export time (None when it is gone)."""
    if origin == "defaults":
        return default_rules()
    try:
        return load_rules(origin)
    except (UserError, OSError):
        return None
