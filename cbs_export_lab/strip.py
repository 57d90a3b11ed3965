"""Strip notebooks and scripts down to their syntax before export: no outputs, no embedded data, no identifying values.

CBS releases syntax freely only when it carries no data. Clearing outputs is not enough: markdown attachments,
embedded `data:` images, widget state, metadata and tables or ids pasted into text or strings leak too. So we
remove everything that is not code or prose, keep only metadata on an allow-list, and scan what remains
(and the `.py` script written beside it) for ids and pasted data. A script (R, Stata, SPSS, Python, SAS) has no
outputs; its copy has what the scan finds masked. The scanning itself is `checks.text`; this module writes.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import nbformat

from .atomic import read_bytes, replace_with_retry, write_bytes
from .checks.text import (
    LINE_COMMENT,
    SCRIPT_LANGUAGES,
    Hit,
    comment_magics,
    finding,
    kernel_language,
    scan_hits,
    scan_text,
)
from .errors import UserError
from .results import Finding
from .rules import Rules
from .settings import active_rules

__all__ = [
    "StripReport",
    "check_notebook",
    "check_script",
    "scan_text",
    "strip",
    "strip_any",
    "strip_notebook",
    "strip_script",
]


REMOVED_PARTS = ("outputs", "execution_counts", "attachments", "data_uris", "metadata_keys", "widget_state")
# What carries data when left in a notebook; execution counts and editor metadata do not.
LEAKING_PARTS = ("outputs", "attachments", "data_uris", "widget_state")
SCRIPT_PARTS = ("identifier", "data", "personal_path")
_PART_WORDS = {
    "identifier": ("id", "ids"),
    "data": ("pasted table or count", "pasted tables or counts"),
    "personal_path": ("personal path", "personal paths"),
    "outputs": ("output", "outputs"),
    "execution_counts": ("execution count", "execution counts"),
    "attachments": ("attachment", "attachments"),
    "data_uris": ("embedded data: URI (image or file)", "embedded data: URIs (images or files)"),
    "metadata_keys": ("metadata key", "metadata keys"),
    "widget_state": ("saved widget state", "saved widget states"),
}
_KERNELSPEC_KEYS = ("name", "display_name", "language")
_SCRIPT_MARK = "(cbs-export strip)"

# With a media type, or without one but base64 (`data:;base64,...`, which browsers still render as an image).
_DATA_URI = re.compile(
    r"data:(?:[A-Za-z]+/[\w.+-]+(?:;[\w.+-]+=?[\w.+-]*)*|(?:;[\w.+-]+=[\w.+-]*)*;base64),[^\s\"'()<>\]]*"
)
_TAG_WITHOUT_DATA = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]{0,39}")
_DIGIT_RUN = re.compile(r"\d{3,}")


@dataclass
class StripReport:
    """What stripping removed, what the scan of the remaining code and text found, and where the copies are.

    `kind` is "notebook" or "script". `notebook` and `script` are None when nothing was written (a check); a
    stripped script has only `script`. `masked` lists what a script's copy has masked (ids, pasted data, personal
    paths, at their lines in the source); `findings` is what the copy still holds, so `ok` speaks of the copy.
    """

    ok: bool
    findings: list[Finding]
    removed: dict[str, int]
    source: Path
    notebook: Path | None = None
    script: Path | None = None
    kind: str = "notebook"
    masked: list[Finding] = field(default_factory=list)

    @property
    def would_leak(self) -> bool:
        """Whether the source as it is carries data: outputs, attachments, embedded data, widget state or findings."""
        return (
            not self.ok
            or bool(self.findings)
            or bool(self.masked)
            or any(self.removed.get(part, 0) for part in LEAKING_PARTS)
        )

    @property
    def written(self) -> bool:
        return (self.script if self.kind == "script" else self.notebook) is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "findings": [f.to_dict() for f in self.findings],
            "removed": dict(self.removed),
            "source": str(self.source),
            "notebook": None if self.notebook is None else str(self.notebook),
            "script": None if self.script is None else str(self.script),
            "kind": self.kind,
            "masked": [f.to_dict() for f in self.masked],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StripReport:
        return cls(
            ok=d["ok"],
            findings=[Finding.from_dict(f) for f in d.get("findings", [])],
            removed=dict(d.get("removed", {})),
            source=Path(d["source"]),
            notebook=None if d.get("notebook") is None else Path(d["notebook"]),
            script=None if d.get("script") is None else Path(d["script"]),
            kind=d.get("kind", "notebook"),
            masked=[Finding.from_dict(f) for f in d.get("masked", [])],
        )

    def text(self) -> str:
        """The report in plain language: what was written, what was removed, what still has to be fixed."""
        name = self.source.name
        lines = [self._written_line()]
        if self.kind == "script":
            lines += self._masked_lines()
        else:
            removed_intro = "Removed" if self.written else "Stripping would remove"
            parts = [_count_words(part, n) for part in REMOVED_PARTS if (n := self.removed.get(part, 0))]
            lines.append(f"{removed_intro}: {', '.join(parts)}." if parts else "Nothing to remove.")
            if not self.written and any(self.removed.get(part, 0) for part in LEAKING_PARTS):
                lines.append(
                    f"The notebook itself still holds outputs or embedded data: run `cbs-export strip --in-place "
                    f"{name}` to clean it, or `cbs-export strip {name}` and export or commit the stripped copy."
                )
        if not self.findings:
            lines.append(
                "OK: no identifying values or pasted data found in the code and text."
                if self.kind == "notebook" or not self.masked
                else "OK: the copy holds none of them."
            )
        else:
            verdict = "FAIL" if not self.ok else "REVIEW"
            lines.append(
                f"{verdict}: {len(self.findings)} problem(s) in the code or text, which stripping cannot remove. "
                f"Fix them in {name} and strip again, or explain them when you add the syntax to the basket:"
            )
            lines.extend(f"{i}. {f.text()}" for i, f in enumerate(self.findings, 1))
        return "\n".join(lines)

    def _written_line(self) -> str:
        name = self.source.name
        if not self.written:
            return f"{name}: checked, nothing written."
        if self.kind == "script":
            return f"{name}: masked copy written to {self.script}."
        return f"{name}: stripped copy written to {self.notebook} and its code to {self.script}."

    def _masked_lines(self) -> list[str]:
        parts = [_count_words(part, n) for part in SCRIPT_PARTS if (n := self.removed.get(part, 0))]
        if not parts:
            return ["Nothing to mask."]
        intro = "Masked in the copy" if self.written else "Stripping would mask"
        lines = [f"{intro}: {', '.join(parts)}:"]
        lines += [f"{i}. {f.text()}" for i, f in enumerate(self.masked, 1)]
        if not self.written:
            lines.append(
                f"The script itself still holds them: fix {self.source.name}, or run `cbs-export strip "
                f"{self.source.name}` and export or commit the masked copy."
            )
        return lines

    def locations(self) -> list[str]:
        """One `file:line: message` line per finding (a notebook's cell is named too), as editors and hooks read."""
        out = []
        for f in [*self.masked, *self.findings]:
            line = _LINE_IN_WHERE.search(f.where)
            number = line.group(1) if line else "1"
            place = f"{self.source}:{number}:"
            if self.kind == "notebook":
                cell = _CELL_IN_WHERE.search(f.where)
                place = f"{self.source}: {cell.group(1)}, line {number}:" if cell else f"{self.source}: {f.where}:"
            out.append(f"{place} [{f.severity}] {f.rule}: {f.message}")
        return out

    def __str__(self) -> str:
        return self.text()


_LINE_IN_WHERE = re.compile(r"line (\d+)(?!.*line \d)")
_CELL_IN_WHERE = re.compile(r"(cell \d+)")


def _count_words(part: str, n: int) -> str:
    one, many = _PART_WORDS[part]
    return f"{n} {one if n == 1 else many}"


@dataclass
class StrippedNotebook:
    """A stripped notebook held in memory: nothing is written until `write`."""

    notebook: nbformat.NotebookNode
    script: str
    report: StripReport

    def write(self, dst: str | os.PathLike[str], *, in_place: bool = False) -> StripReport:
        """Write the notebook to `dst` and the script beside it, each atomically; returns the report with both paths.

        Overwriting the source needs `in_place=True`. An existing `.py` that this tool did not write is never
        overwritten.
        """
        dst = Path(dst)
        source = self.report.source
        if _same_file(dst, source) and not in_place:
            raise UserError(
                f"Stripping {source} onto itself would destroy the original. Choose another destination, "
                "or strip in place on purpose (`cbs-export strip --in-place`)."
            )
        script_path = dst.with_suffix(".py")
        if script_path.exists() and not _written_by_us(script_path):
            raise UserError(
                f"{script_path} already exists and was not written by cbs-export strip, so it is not overwritten. "
                "Move or rename it, or choose another destination folder (-o DIR)."
            )
        notebook_bytes = nbformat.v4.writes(self.notebook).encode("utf-8") + b"\n"
        _write_files_atomically([(dst, notebook_bytes), (script_path, self.script.encode("utf-8"))])
        return StripReport(
            ok=self.report.ok,
            findings=list(self.report.findings),
            removed=dict(self.report.removed),
            source=source,
            notebook=dst,
            script=script_path,
        )


def strip_notebook(
    src: str | os.PathLike[str], dst: str | os.PathLike[str], *, rules: Rules | None = None, in_place: bool = False
) -> StripReport:
    """Write a copy of `src` without outputs or data to `dst` (and its code to `dst` with suffix `.py`).

    `src` is never changed unless `in_place=True` and `dst` is `src`.
    """
    return strip(src, rules=rules).write(dst, in_place=in_place)


def check_notebook(src: str | os.PathLike[str], *, rules: Rules | None = None) -> StripReport:
    """What stripping `src` would remove and find, writing nothing (a pre-commit check)."""
    return strip(src, rules=rules).report


def strip(src: str | os.PathLike[str], *, rules: Rules | None = None) -> StrippedNotebook:
    """Read, strip, validate and scan `src` in memory."""
    rules = rules or active_rules()
    src = Path(src)
    _recover_before_reading(src)
    raw = _read_json(src)
    removed = dict.fromkeys(REMOVED_PARTS, 0)
    removed["outputs"] = _drop_outputs(raw, src)
    try:
        version = nbformat.versions[raw["nbformat"]]
        nb = nbformat.convert(version.to_notebook_json(raw, minor=raw.get("nbformat_minor", 0)), 4)
    except (nbformat.ValidationError, AttributeError, KeyError, TypeError, ValueError) as exc:
        raise UserError(
            f"{src} is not a valid notebook and cannot be read: {exc}. Open it in JupyterLab and save it again."
        ) from None
    _strip_notebook_node(nb, removed, src)
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        raise UserError(
            f"{src} does not make a valid notebook even after stripping: {exc.message}. "
            "Open it in JupyterLab, save it again and retry."
        ) from None
    script, line_map = notebook_script(nb, src.name)
    findings = _scan_notebook(nb, script, line_map, rules)
    report = StripReport(
        ok=not any(f.severity == "fail" for f in findings), findings=findings, removed=removed, source=src
    )
    return StrippedNotebook(notebook=nb, script=script, report=report)


# --- scripts -------------------------------------------------------------------------------------------

STRIPPABLE_SCRIPTS = {**SCRIPT_LANGUAGES, ".rmd": "rmarkdown", ".qmd": "rmarkdown"}
_PLACEHOLDER = "[cbs-export strip: pasted data removed]"


@dataclass
class StrippedScript:
    """A script with its findings masked, held in memory: nothing is written until `write`."""

    text: str
    newline: str
    encoding: str
    report: StripReport

    def write(self, dst: str | os.PathLike[str], *, in_place: bool = False) -> StripReport:
        """Write the masked copy to `dst` atomically, in the source's encoding and line endings."""
        dst = Path(dst)
        source = self.report.source
        if _same_file(dst, source) and not in_place:
            raise UserError(
                f"Stripping {source} onto itself would change the original. Choose another destination, "
                "or strip in place on purpose (`cbs-export strip --in-place`)."
            )
        _write_files_atomically([(dst, self.text.replace("\n", self.newline).encode(self.encoding))])
        return replace(self.report, script=dst)


def strip_script(
    src: str | os.PathLike[str], dst: str | os.PathLike[str], *, rules: Rules | None = None, in_place: bool = False
) -> StripReport:
    """Write a copy of the script `src` (R, Stata, SPSS, Python, SAS) to `dst` with its findings masked.

    Ids become X's, pasted tables and counts a placeholder comment, a person's name in a path is taken out.
    `src` is never changed unless `in_place=True` and `dst` is `src`.
    """
    return strip_script_in_memory(src, rules=rules).write(dst, in_place=in_place)


def check_script(src: str | os.PathLike[str], *, rules: Rules | None = None) -> StripReport:
    """What stripping the script `src` would mask, writing nothing (a pre-commit check)."""
    return strip_script_in_memory(src, rules=rules).report


def strip_script_in_memory(src: str | os.PathLike[str], *, rules: Rules | None = None) -> StrippedScript:
    """Read, scan and mask `src`; the report's findings are what the masked copy still holds."""
    rules = rules or active_rules()
    src = Path(src)
    language = STRIPPABLE_SCRIPTS.get(src.suffix.lower())
    if language is None:
        raise UserError(
            f"{src} is neither a notebook (.ipynb) nor a script ({', '.join(STRIPPABLE_SCRIPTS)}), "
            "so it cannot be stripped. Give the notebook or script itself."
        )
    _recover_before_reading(src)
    text, newline, encoding = _read_script(src)
    hits = scan_hits(text, "code", rules, language)
    masked = mask_hits(text, hits, language)
    left = scan_hits(masked, "code", rules, language)
    report = StripReport(
        ok=not any(h.severity == "fail" for h in left),
        findings=[finding(h, f"{src.name}, line {h.line}") for h in left],
        removed={part: sum(1 for h in hits if h.rule == part) for part in SCRIPT_PARTS},
        source=src,
        kind="script",
        masked=[finding(h, f"{src.name}, line {h.line}") for h in hits],
    )
    return StrippedScript(masked, newline, encoding, report)


def strip_any(src: str | os.PathLike[str], *, rules: Rules | None = None) -> StrippedNotebook | StrippedScript:
    """A notebook or a script, told apart by the suffix; what `cbs-export strip` works on."""
    if Path(src).suffix.lower() in STRIPPABLE_SCRIPTS:
        return strip_script_in_memory(src, rules=rules)
    return strip(src, rules=rules)


def _read_script(src: Path) -> tuple[str, str, str]:
    """(text with \\n line ends, the file's line end, its encoding): UTF-8 (with or without BOM), else cp1252."""
    try:
        data = src.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{src} does not exist. Check the name and the folder.") from None
    except IsADirectoryError:
        raise UserError(f"{src} is a folder, not a script. Give the script file itself.") from None
    except OSError as exc:
        raise UserError(f"{src} cannot be read: {exc.strerror or exc}.") from None
    encoding = "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        encoding = "cp1252"
        text = data.decode(encoding, errors="replace")
    if "\x00" in text:
        raise UserError(f"{src} is not a text file, so it is not a script. Give the script itself.")
    newline = "\r\n" if "\r\n" in text else "\n"
    return text.replace("\r\n", "\n"), newline, encoding


def mask_hits(text: str, hits: Sequence[Hit], language: str) -> str:
    """`text` with every hit masked: exact spans replaced (ids, names, one-line strings), other lines replaced by
    a placeholder that keeps the line's comment markers, or by a comment on a line of code."""
    lines = text.split("\n")
    whole: dict[int, tuple[Hit, bool]] = {}
    spans: dict[int, list[tuple[int, int, str]]] = {}
    for hit in hits:
        if hit.spans:
            for line, start, end, new in hit.spans:
                spans.setdefault(line, []).append((start, end, new))
        else:
            for line in range(hit.line, hit.last_line + 1):
                whole.setdefault(line, (hit, line == hit.line))
    for line, edits in spans.items():
        if line in whole or line > len(lines):
            continue
        row, limit = lines[line - 1], None
        for start, end, new in sorted(edits, reverse=True):
            if limit is None or end <= limit:
                row, limit = row[:start] + new + row[end:], start
        lines[line - 1] = row
    for line, (hit, first) in whole.items():
        if line <= len(lines):
            lines[line - 1] = _placeholder(lines[line - 1], hit.context, language, first)
    return "\n".join(lines)


_MARKERS = re.compile(r"^(\s*(?:%?\*+|#+'?|//+|/\*+|comment\b)?\s*)(.*?)(\s*(?:\*+/|[.;])?\s*)$", re.IGNORECASE)


def _placeholder(row: str, context: str, language: str, first: bool) -> str:
    note = _PLACEHOLDER if first else "..."
    if context == "code":
        indent = row[: len(row) - len(row.lstrip())]
        before, after = LINE_COMMENT.get(language, ("# ", ""))
        return f"{indent}{before}{note}{after}"
    m = _MARKERS.match(row)
    return f"{m.group(1)}{note}{m.group(3)}" if m else note


# --- reading -------------------------------------------------------------------------------------------


def _read_json(src: Path) -> dict[str, Any]:
    try:
        text = src.read_bytes().decode("utf-8-sig")  # Windows editors may write a byte-order mark
    except FileNotFoundError:
        raise UserError(f"{src} does not exist. Check the name and the folder.") from None
    except IsADirectoryError:
        raise UserError(f"{src} is a folder, not a notebook. Give the .ipynb file itself.") from None
    except PermissionError:
        raise UserError(f"{src} cannot be read (permission denied).") from None
    except UnicodeDecodeError:
        raise UserError(f"{src} is not a Jupyter notebook: it is not a text file. Give an .ipynb file.") from None
    except OSError as exc:
        raise UserError(f"{src} cannot be read: {exc.strerror or exc}.") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(
            f"{src} is not a Jupyter notebook: broken JSON at line {exc.lineno}, column {exc.colno} ({exc.msg}). "
            "The file may be damaged or half-saved; open it in JupyterLab or restore it from .ipynb_checkpoints."
        ) from None
    major = raw.get("nbformat") if isinstance(raw, dict) else None
    body = "cells" if major == 4 else "worksheets"
    if major not in (3, 4) or not isinstance(raw.get(body), list):
        found = (
            f"nbformat {major} without a list of {body}"
            if major in (3, 4)
            else f"nbformat {major}"
            if isinstance(major, int)
            else "no 'nbformat' version"
        )
        raise UserError(
            f"{src} is not a Jupyter notebook this tool can read ({found}); it reads nbformat 3 and 4 files. "
            "Give an .ipynb file saved by Jupyter."
        )
    return raw


def _drop_outputs(raw: dict[str, Any], src: Path) -> int:
    """Outputs go first, from the plain JSON: they are nearly all of a large notebook's weight."""
    cells = (
        raw["cells"]
        if raw["nbformat"] == 4
        else [c for ws in raw["worksheets"] if isinstance(ws, dict) for c in ws.get("cells", [])]
    )
    count = 0
    for i, cell in enumerate(cells, 1):
        if not isinstance(cell, dict) or not isinstance(cell.get("cell_type"), str):
            raise UserError(
                f"{src} is not a valid notebook: cell {i} has no cell type. Open it in JupyterLab and save it again."
            )
        outputs = cell.get("outputs")
        if isinstance(outputs, list):
            count += len(outputs)
            cell["outputs"] = []
    return count


# --- stripping -----------------------------------------------------------------------------------------


def _strip_notebook_node(nb: nbformat.NotebookNode, removed: dict[str, int], src: Path) -> None:
    nb.metadata.pop("orig_nbformat", None)
    nb.metadata.pop("orig_nbformat_minor", None)
    if nb.metadata.pop("widgets", None) is not None:
        removed["widget_state"] += 1
    nb.metadata, dropped = _allowed_notebook_metadata(nb.metadata)
    removed["metadata_keys"] += dropped
    for cell in nb.cells:
        if not isinstance(cell.get("source"), str):
            raise UserError(
                f"{src} is not a valid notebook: a {cell.cell_type} cell has no text. "
                "Open it in JupyterLab and save it again."
            )
        if cell.cell_type == "code":
            if cell.get("execution_count") is not None:
                removed["execution_counts"] += 1
            cell.execution_count = None
            cell.outputs = []
        attachments = cell.pop("attachments", None)
        if attachments:
            removed["attachments"] += len(attachments)
        cell.source, uris = _DATA_URI.subn("", cell.source)
        removed["data_uris"] += uris
        cell.metadata, dropped = _allowed_cell_metadata(cell.metadata)
        removed["metadata_keys"] += dropped


def _allowed_notebook_metadata(meta: dict[str, Any]) -> tuple[nbformat.NotebookNode, int]:
    kept = nbformat.NotebookNode()
    dropped = sum(1 for key in meta if key not in ("kernelspec", "language_info"))
    spec = meta.get("kernelspec")
    if isinstance(spec, dict):
        small = {k: v for k, v in spec.items() if k in _KERNELSPEC_KEYS and isinstance(v, str)}
        dropped += len(spec) - len(small)
        if "name" in small and "display_name" in small:
            kept.kernelspec = nbformat.NotebookNode(small)
        else:
            dropped += len(small)
    elif "kernelspec" in meta:
        dropped += 1
    info = meta.get("language_info")
    if isinstance(info, dict):
        dropped += sum(1 for k in info if k != "name")
        if isinstance(info.get("name"), str):
            kept.language_info = nbformat.NotebookNode(name=info["name"])
        elif "name" in info:
            dropped += 1
    elif "language_info" in meta:
        dropped += 1
    return kept, dropped


def _allowed_cell_metadata(meta: dict[str, Any]) -> tuple[nbformat.NotebookNode, int]:
    """Only tags survive, and only tags that are short words: a tag may not carry an id or a number."""
    kept = nbformat.NotebookNode()
    dropped = sum(1 for key in meta if key != "tags")
    tags = meta.get("tags")
    if isinstance(tags, list):
        clean = [t for t in tags if isinstance(t, str) and _TAG_WITHOUT_DATA.fullmatch(t) and not _DIGIT_RUN.search(t)]
        dropped += len(tags) - len(clean)
        if clean:
            kept.tags = clean
    elif "tags" in meta:
        dropped += 1
    return kept, dropped


# --- the script ----------------------------------------------------------------------------------------


def notebook_script(nb: nbformat.NotebookNode, name: str) -> tuple[str, list[tuple[int, int] | None]]:
    """The notebook as a script in the percent format: code as code, markdown and raw cells as `# ` comments.

    Magics and shell lines are commented out so the script parses. Also returns, per script line, the
    (cell index, line in cell) it came from, so findings in the script point back to the notebook.
    """
    lines: list[str] = [f"# {name} without outputs or data {_SCRIPT_MARK}"]
    origin: list[tuple[int, int] | None] = [None]
    for index, cell in enumerate(nb.cells, 1):
        lines.append("")
        origin.append(None)
        lines.append("# %%" if cell.cell_type == "code" else f"# %% [{cell.cell_type}]")
        origin.append(None)
        source = cell.source if cell.cell_type != "code" else comment_magics(cell.source)
        for n, line in enumerate(source.split("\n"), 1):
            if cell.cell_type != "code":
                line = f"# {line}".rstrip()
            lines.append(line)
            origin.append((index, n))
    return "\n".join(lines) + "\n", origin


def _written_by_us(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return _SCRIPT_MARK in fh.readline()
    except OSError:
        return False


# --- scanning ------------------------------------------------------------------------------------------


def _cell_name(index: int, cell: nbformat.NotebookNode) -> str:
    ident = cell.get("id")
    return f"cell {index} ({cell.cell_type}{f', id {ident}' if ident else ''})"


def _scan_notebook(
    nb: nbformat.NotebookNode, script: str, line_map: Sequence[tuple[int, int] | None], rules: Rules
) -> list[Finding]:
    """Scan every cell, then the script; the script adds only what the cells did not show already.

    A code cell reappears in the script as the same text, so its scan is looked up, not repeated.
    """
    findings: list[Finding] = []
    seen: set[tuple[str, int, int]] = set()
    scanned: dict[str, list[Hit]] = {}
    language = kernel_language(nb.metadata)
    for index, cell in enumerate(nb.cells, 1):
        name = _cell_name(index, cell)
        if cell.cell_type == "code":
            text = comment_magics(cell.source)
            hits = scanned[text] = scan_hits(text, "code", rules, language)
        else:
            hits = scan_hits(cell.source, cell.cell_type, rules)
        for hit in hits:
            seen.add((hit.rule, index, hit.line))
            findings.append(finding(hit, f"{name}, line {hit.line}"))
    for first_line, chunk in _script_chunks(script, line_map):
        hits = scanned[chunk] if chunk in scanned else scan_hits(chunk, "code", rules)
        for hit in hits:
            line = first_line + hit.line - 1
            origin = line_map[line - 1] if line - 1 < len(line_map) else None
            if origin is not None and (hit.rule, *origin) in seen:
                continue
            where = f"script line {line}"
            if origin is not None:
                where += f" ({_cell_name(origin[0], nb.cells[origin[0] - 1])}, line {origin[1]})"
            findings.append(finding(hit, where))
    return findings


def _script_chunks(script: str, line_map: Sequence[tuple[int, int] | None]) -> Iterator[tuple[int, str]]:
    """The script cut at its cell markers, so one cell that does not parse leaves the others fully scanned."""
    lines = script.split("\n")
    start = 0
    for i in range(1, len(lines) + 1):
        here = line_map[i] if i < len(line_map) else None
        before = line_map[i - 1] if i - 1 < len(line_map) else None
        if i == len(lines) or (here and before and here[0] != before[0]) or (here is None) != (before is None):
            yield start + 1, "\n".join(lines[start:i])
            start = i


# --- writing -------------------------------------------------------------------------------------------


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


_JOURNAL = ".strip-journal.json"


def _journal_of(path: Path) -> Path:
    return path.with_name(f".{path.name}{_JOURNAL}")


def _write_files_atomically(files: Sequence[tuple[Path, bytes]]) -> None:
    """Put all files in place together: after an error, or a kill and the next strip, the old set or the new one.

    The new contents go to temp files and the old ones to backup copies, listed in a journal beside the first file;
    only then are the temps renamed onto the targets. The journal's removal is the commit; until then an error rolls
    back at once and a kill is rolled back by `recover_interrupted_write` (run by every strip of that destination).
    """
    first = files[0][0]
    try:
        for path, _ in files:
            path.parent.mkdir(parents=True, exist_ok=True)
        recover_interrupted_write(first)
        steps = [
            (path, _temp_beside(path, ".tmp"), _temp_beside(path, ".old") if path.exists() else None)
            for path, _ in files
        ]
        journal = _journal_of(first)
        try:
            write_bytes(journal, json.dumps([[str(p) if p else None for p in step] for step in steps]).encode("utf-8"))
            for (path, temp, backup), (_, data) in zip(steps, files, strict=True):
                _write_synced(temp, data)
                if backup is not None:
                    _write_synced(backup, read_bytes(path))
            for path, temp, _ in steps:
                replace_with_retry(temp, path)
        except BaseException:
            _roll_back(steps, journal)
            raise
        journal.unlink()
        for _, _, backup in steps:
            if backup is not None:
                backup.unlink(missing_ok=True)
    except OSError as exc:
        raise UserError(
            f"Cannot write {exc.filename or first.parent}: {exc.strerror or exc}. Choose a folder you can write to."
        ) from None


def _temp_beside(path: Path, suffix: str) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    return Path(name)


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _roll_back(steps: Sequence[tuple[Path, Path, Path | None]], journal: Path) -> None:
    """Each target back to its backup (or gone when it was new), then the temps, backups and journal removed."""
    for path, temp, backup in steps:
        moved_in = not temp.exists()  # temps are renamed only after every temp and backup is written in full
        if moved_in and backup is not None and backup.exists():
            replace_with_retry(backup, path)
        elif moved_in and backup is None and path.exists():
            path.unlink()
        temp.unlink(missing_ok=True)
        if backup is not None:
            backup.unlink(missing_ok=True)
    journal.unlink(missing_ok=True)


def _recover_before_reading(src: Path) -> None:
    """A notebook stripped in place by a run that was killed is rolled back before it is read again."""
    try:
        recover_interrupted_write(src)
    except OSError as exc:
        raise UserError(
            f"An interrupted strip of {src} cannot be rolled back: {exc.strerror or exc}. "
            "Check that the folder is writable and try again."
        ) from None


def recover_interrupted_write(path: str | os.PathLike[str]) -> bool:
    """Roll back a strip to `path` that was killed half-way (its journal is still there); True when one was found."""
    journal = _journal_of(Path(path))
    try:
        steps = [(Path(a), Path(b), Path(c) if c else None) for a, b, c in json.loads(journal.read_text("utf-8"))]
    except FileNotFoundError:
        return False
    except (OSError, ValueError, TypeError) as exc:
        raise UserError(
            f"An interrupted strip left {journal}, which cannot be read ({exc}). Check that {path} and "
            f"its script are the versions you want, then delete {journal.name}."
        ) from None
    _roll_back(steps, journal)
    return True
