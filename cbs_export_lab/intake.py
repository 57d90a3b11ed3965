"""Intake: what a basket item folder holds for each kind of output, and how a file or notebook is taken in.

`take` decides, for anything given to `Basket.add`, its kind, its verdict and how its artefacts are written
(a sheet for a table, a sheet and a text for a model, a PNG for a figure, the file itself for a path). The
basket stores what intake prepared; it never looks inside an output itself.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from .check import check
from .errors import UserError
from .names import safe_filename
from .results import CheckResult, Counts, Finding, overall_status
from .rules import Rules

TABLE_FILES = (".csv", ".xlsx", ".parquet")
TEXT_FILES = (".py", ".r", ".rmd", ".qmd", ".sps", ".do", ".sas", ".sql", ".txt", ".md", ".log")
CSV_DELIMITERS = ",;\t|"
NEVER_EXPORTABLE_ROWS = 1000  # enough to see why; no full copy of unit records (Excel stops at 1,048,576 rows)
Render = Callable[[Path, str, str], list[Path]]
"""Writes an item's artefacts into its folder: (folder, file stem, title) -> the files written."""


class Intake(NamedTuple):
    kind: str
    result: CheckResult
    render: Render


def take(obj: Any, title: str, *, description: str, data: Any, unit: Any, weights: Any, rules: Rules) -> Intake:
    """The kind, verdict and rendering of one output: an existing file is copied as it is (status review), a
    table, model or figure is checked again; anything else is refused with what to add instead."""
    file = existing_file(obj)
    if file is not None:
        checked = check_file(file, rules)
        kind = "syntax" if checked.kind == "syntax" else "file"
        return Intake(kind, checked, lambda folder, stem, t: [copy_file(file, folder)])
    if isinstance(obj, (str, os.PathLike)):
        raise UserError(
            f"{title!r} cannot be added: there is no file {str(obj)!r} (seen from the folder "
            f"{Path.cwd()}). Give the path of an existing file, or add the table, model or figure itself."
        )
    result = check(obj, data=data, unit=unit, weights=weights, rules=rules)
    if result.kind not in ("table", "model", "figure"):
        raise UserError(
            f"{title!r} cannot be added: a {type(obj).__module__}.{type(obj).__qualname__} is neither a "
            "checkable output (pandas table, statsmodels result, matplotlib figure) nor the path of an "
            "existing file. Add the table, model or figure itself, or save it to a file first."
        )
    return Intake(result.kind, result, renderer(result.kind, obj, description, result, rules.compliant))


def notebook_intake(src: Path, rules: Rules) -> tuple[Render, Callable[[Any], None]]:
    """How a notebook enters the basket: a stripped copy and its script (`render`), then the item's description
    and findings from that stripping (`after_render`, given the new item)."""
    from .strip import strip_notebook

    reports = []

    def render(folder: Path, stem: str, _title: str) -> list[Path]:
        dst = folder / f"{stem}.ipynb"
        reports.append(strip_notebook(src, dst, rules=rules))
        return sorted(p for p in folder.iterdir() if p.is_file() and p.stem == stem)

    return render, lambda item: apply_strip(item, reports[0], src.name)


def renderer(kind: str, obj: Any, description: str, result: CheckResult, compliant: bool) -> Render:
    """How to write the artefacts of a checked object into its item folder."""
    if kind == "table":

        def render(folder: Path, stem: str, title: str) -> list[Path]:
            from .excel import write_sheet

            frame = getattr(obj, "data", obj) if type(obj).__name__ == "Styler" else obj
            about, rows = description, len(frame)
            if result.never_exportable and rows > NEVER_EXPORTABLE_ROWS:
                frame = frame.head(NEVER_EXPORTABLE_ROWS)
                about = " ".join(
                    filter(
                        None,
                        [
                            description,
                            (
                                f"Only the first {NEVER_EXPORTABLE_ROWS:,} of {rows:,} rows are kept here: this output holds "
                                "identifying data or unit records and can never be exported."
                            ),
                        ],
                    )
                )
            marks = {
                s: [(r, c, f.message) for f in result.findings if f.severity == s for r, c in f.cells]
                for s in ("fail", "review")
            }
            hidden, legend, protection = protection_marks(frame)
            return [
                write_sheet(
                    folder / f"{stem}.xlsx",
                    frame,
                    title=title,
                    description=about,
                    meta={**table_meta(result, compliant), **protection},
                    marked_cells=marks["fail"],
                    review_cells=marks["review"],
                    hidden_cells=hidden,
                    legend=legend,
                )
            ]
    elif kind == "model":

        def render(folder: Path, stem: str, title: str) -> list[Path]:
            from . import models

            xlsx, txt = folder / f"{stem}.xlsx", folder / f"{stem}.txt"
            models.write_excel(obj, xlsx, title=title, description=description)
            models.write_text(obj, txt, title=title, description=description)
            return [xlsx, txt]
    else:

        def render(folder: Path, stem: str, title: str) -> list[Path]:
            from .checks.figure import as_figure
            from .figures import save_png

            png = folder / f"{stem}.png"
            save_png(as_figure(obj), png)
            return [png]

    return render


def table_meta(result: CheckResult, compliant: bool) -> dict[str, Any]:
    """The rows above a table that a checker reads first, labelled in Dutch and English like the form."""
    from .excel import NO, NOT_GIVEN, STATUS_LABELS, UNKNOWN, YES

    n = result.counts.observations
    return {
        "Ongewogen N / Unweighted N": UNKNOWN if n is None else n,
        "Eenheid / Unit": result.unit or NOT_GIVEN,
        "Gewogen / Weighted": f"{YES} (cellen getoetst op ongewogen aantallen / cells checked on unweighted counts)"
        if result.weighted
        else NO,
        "Bron celstatistieken / Cell statistics from": result.source or UNKNOWN,
        "Status": STATUS_LABELS[result.status],
        "Regels / Rules": result.rules_origin
        + ("" if compliant else " (ruimer dan de CBS-standaard / looser than the CBS defaults)"),
    }


def protection_marks(frame: Any) -> tuple[list[tuple[Any, Any]], list[str], dict[str, str]]:
    """The "x" cells, legend lines and meta row of a table made by `cel.protect` (nothing for other tables)."""
    from .excel import HIDDEN_LEGEND
    from .protect import hidden_cells, protection_record, protection_text

    info = protection_record(frame)
    if info is None:
        return [], [], {}
    cells = hidden_cells(info)
    return cells, [HIDDEN_LEGEND] if cells else [], {"Beveiliging / Protection": protection_text(info)}


def apply_strip(item: Any, report: Any, name: str) -> None:
    """A stripped notebook's item: what was removed, the scan's findings, and fail if the stripping failed."""
    removed = ", ".join(f"{part.replace('_', ' ')} ({n})" for part, n in report.removed.items() if n) or "nothing"
    item.description = (
        f"Notebook {name} without outputs or embedded data (removed: {removed}), with its code as a script."
    )
    item.findings = list(report.findings)
    status = overall_status(item.findings)
    item.status = "fail" if not report.ok else status


def existing_file(obj: Any) -> Path | None:
    if isinstance(obj, (str, os.PathLike)):
        try:
            path = Path(obj).expanduser()
            return path if path.is_file() else None
        except (OSError, ValueError):
            return None
    return None


def check_file(path: Path, rules: Any) -> CheckResult:
    """A file is copied as it is, so it is always reviewed; a table file is also checked as a table, and a script
    or text file is scanned for ids and pasted data like a notebook. A script (R, Stata, SPSS, Python, SAS) is syntax:
    its scan is its check, as for a stripped notebook."""
    from .checks.text import SCRIPT_LANGUAGES, scan_script

    if path.suffix.lower() in SCRIPT_LANGUAGES:
        text = path.read_text(encoding="utf-8", errors="replace")
        findings = scan_script(text, f"file {path.name}", rules=rules)
        return CheckResult(kind="syntax", findings=findings, source=f"script {path.name}", rules_origin=rules.origin)
    findings = [
        Finding(
            "unsupported",
            "review",
            f"The file {path.name} is exported as it is; cbs_export_lab cannot fully check a file's contents.",
            where=f"file {path.name}",
            fix="Add the table, model or figure itself instead when you can, or explain in the explanation what the "
            "file contains and why it has no disclosure risk.",
        )
    ]
    counts = Counts()
    if path.suffix.lower() in TEXT_FILES:
        from .checks.text import scan_text

        text = path.read_text(encoding="utf-8", errors="replace")
        findings += scan_text(text, cell=f"file {path.name}", rules=rules)
    if path.suffix.lower() in TABLE_FILES:
        try:
            table = read_table_file(path)
        except UserError:  # an unreadable table file stays a plain file under review
            table = None
        if table is not None:
            checked = check(table, rules=rules)
            findings += checked.findings
            counts = checked.counts
    return CheckResult(
        kind="file", findings=findings, counts=counts, source=f"file {path.name}", rules_origin=rules.origin
    )


def read_table_file(path: str | os.PathLike[str], sheet: str | None = None) -> Any:
    """A csv, xlsx or parquet file as a plain table; leading text columns become the row labels.

    The csv delimiter is one of , ; tab | (a file with one column has none); with ; the decimal mark is a
    comma, as Dutch Excel writes them.
    """
    import csv

    import pandas as pd

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_FILES:
        raise UserError(
            f"{path}: only {', '.join(TABLE_FILES)} files can be read as tables, not "
            f"{suffix or 'files without a suffix'}. Save the table in one of those formats, or check "
            "the object itself in Python with cel.check."
        )
    if not path.is_file():
        raise UserError(f"{path} does not exist. Give the path of the table file to check.")
    try:
        if suffix == ".csv":
            encoding, sample = _csv_sample(path)
            try:
                sep = csv.Sniffer().sniff(sample, delimiters=CSV_DELIMITERS).delimiter
            except csv.Error:
                sep = ","
            frame = pd.read_csv(path, sep=sep, decimal="," if sep == ";" else ".", encoding=encoding)
        elif suffix == ".xlsx":
            raw = pd.read_excel(path, sheet_name=sheet or 0, engine="openpyxl", header=None)
            frame = _table_below_title_block(raw)
            if frame is None:
                frame = pd.read_excel(path, sheet_name=sheet or 0, engine="openpyxl")
        else:
            frame = pd.read_parquet(path)
    except (ValueError, OSError, ImportError, zipfile.BadZipFile) as exc:
        raise UserError(
            f"{path} cannot be read as a table ({str(exc).rstrip('.')}). Check that it is a valid "
            f"{suffix[1:]} file{' in UTF-8' if suffix == '.csv' else ''}."
        ) from None
    labels = []
    for name in frame.columns:
        if pd.api.types.is_numeric_dtype(frame[name]) or len(labels) == frame.shape[1] - 1:
            break
        labels.append(name)
    return frame.set_index(labels) if labels else frame


SOURCE_FILES = (*TABLE_FILES, ".sav", ".dta")


def _row_runs(blank: list[bool]) -> list[tuple[int, int]]:
    runs, start = [], None
    for i, empty in enumerate([*blank, True]):
        if not empty and start is None:
            start = i
        elif empty and start is not None:
            runs.append((start, i))
            start = None
    return runs


def _table_below_title_block(raw: Any) -> Any:
    """The table of a sheet that has a title block above it (our own sheets: title, description, facts, a blank
    row, then the table and its notes; also an ordinary Excel table with a title line). None when the sheet has
    no blank row under a short first row, so it is read as an ordinary table."""
    import pandas as pd

    if raw.empty:
        return None
    filled = raw.notna().sum(axis=1).tolist()
    blank = [n == 0 for n in filled]
    if not any(blank) or filled[0] > 2:
        return None
    runs = [r for r in _row_runs(blank) if r[1] - r[0] >= 2]
    if not runs:
        return None
    start, end = max(runs, key=lambda r: (sorted(filled[r[0] : r[1]])[(r[1] - r[0]) // 2], r[1] - r[0]))
    if start == 0:
        return None
    header = ["" if pd.isna(h) else h for h in raw.iloc[start]]
    body = raw.iloc[start + 1 : end].reset_index(drop=True)
    body.columns = [str(h) if h != "" else f"Unnamed: {j}" for j, h in enumerate(header)]
    body = body.loc[:, body.notna().any(axis=0)]
    for name in body.columns:
        try:
            body[name] = pd.to_numeric(body[name])
        except (ValueError, TypeError):
            pass
    return body


def read_source_file(path: str | os.PathLike[str]) -> Any:
    """The microdata a table was computed from, as a plain frame (every column kept as a column): csv, xlsx and
    parquet as `read_table_file` reads them, and the SPSS/Stata files pandas reads."""
    import pandas as pd

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SOURCE_FILES:
        raise UserError(
            f"{path}: a source can be a {', '.join(SOURCE_FILES)} file, not "
            f"{suffix or 'a file without a suffix'}. Save the data frame the table was made from in one "
            "of those formats, e.g. df.to_parquet('bron.parquet')."
        )
    if suffix in TABLE_FILES:
        frame = read_table_file(path)
        return frame if isinstance(frame.index, pd.RangeIndex) else frame.reset_index()
    if not path.is_file():
        raise UserError(f"{path} does not exist. Give the path of the source data file.")
    try:
        return pd.read_stata(path) if suffix == ".dta" else pd.read_spss(path)
    except (ValueError, OSError, ImportError) as exc:
        raise UserError(
            f"{path} cannot be read as a source ({str(exc).rstrip('.')}). Save it as .parquet or .csv "
            "and give that file instead."
        ) from None


def _csv_sample(path: Path) -> tuple[str, str]:
    """The encoding of a csv file and its first 64 KiB as text: UTF-8 (with or without a byte-order mark), else
    cp1252, which Dutch Excel writes by default ("Opslaan als CSV")."""
    import codecs

    with open(path, "rb") as fh:
        head = fh.read(64 * 1024)
    try:
        return "utf-8-sig", codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=False)
    except UnicodeDecodeError:
        return "cp1252", head.decode("cp1252", errors="replace")


def copy_file(src: Path, folder: Path) -> Path:
    dst = folder / safe_filename(src.name)
    shutil.copy2(src, dst)
    return dst
