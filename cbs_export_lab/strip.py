"""Strip a notebook down to its syntax before export: no outputs, no embedded data, no identifying values.

CBS releases syntax freely only when it carries no data. Clearing outputs is not enough: markdown attachments,
embedded `data:` images, widget state, metadata and tables or ids pasted into text or strings leak too. So we
remove everything that is not code or prose, keep only metadata on an allow-list, and scan what remains
(and the `.py` script written beside it) for ids and pasted data.
"""
from __future__ import annotations

import ast
import io
import json
import os
import re
import tokenize
from contextlib import ExitStack
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Sequence

import nbformat

from .atomic import atomic_path
from .errors import UserError
from .results import Finding
from .rules import Rules
from .settings import active_rules


@dataclass(frozen=True)
class PastedDataLimits:
    """When numbers in code or text are read as pasted data (rule `data`) rather than analysis code.

    - `min_literal_numbers`: a literal list, tuple, set or dict (nested literals counted together) with at least
      this many numbers, or one line of text with this many numbers, is a pasted series or table. Bin edges,
      figure sizes, ticks and category codes are far shorter; an evenly spaced series (what `range` or
      `linspace` would give, whatever its first and last value, like age bins 0, 5, ..., 90, 120) is a grid,
      not data.
    - `min_block_rows` / `min_block_numbers`: consecutive lines of numbers (tab, comma, semicolon or space
      separated, optionally with one label per number) are a pasted table or printout when there are at least
      this many rows holding at least this many numbers in total. A pandas footer (`dtype: int64`,
      `[5 rows x 3 columns]`) under such lines makes any size a printout.
    - `min_pipe_table_numbers`: a markdown pipe table or an HTML table is a table on purpose, so a few numbers
      in its cells are enough to read it as results.
    """

    min_literal_numbers: int = 10
    min_block_rows: int = 2
    min_block_numbers: int = 6
    min_pipe_table_numbers: int = 2


LIMITS = PastedDataLimits()

REMOVED_PARTS = ("outputs", "execution_counts", "attachments", "data_uris", "metadata_keys", "widget_state")
# What carries data when left in a notebook; execution counts and editor metadata do not.
LEAKING_PARTS = ("outputs", "attachments", "data_uris", "widget_state")
_PART_WORDS = {
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
_DATA_URI = re.compile(r"data:(?:[A-Za-z]+/[\w.+-]+(?:;[\w.+-]+=?[\w.+-]*)*|(?:;[\w.+-]+=[\w.+-]*)*;base64),[^\s\"'()<>\]]*")
_NUMBER = re.compile(r"[-+]?(?:\d+(?:[.,]\d+)*|\.\d+)(?:[eE][-+]?\d+)?%?")
_FIELD_SPLIT = re.compile(r"[\t;,|]+\s*|\s+")
_PIPE_SEPARATOR = re.compile(r":?-{2,}:?")
_FOOTER = re.compile(r"\s*(?:(?:Name: .*, )?(?:Length: \d+, )?dtype: \w+|\[\d+ rows x \d+ columns\])\s*")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAGIC = re.compile(r"^(\s*)([%!].*)$")
_PLAIN_NUMBER = r"[-+]?\d[\d.eE+-]*"
_BRACKETED_NUMBERS = re.compile(rf"[\[({{]\s*{_PLAIN_NUMBER}(?:(?:\s*[,;]\s*|\s+){_PLAIN_NUMBER})+\s*[\])}}]")
_TAG_WITHOUT_DATA = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]{0,39}")
_DIGIT_RUN = re.compile(r"\d{3,}")
_HTML_TABLE = re.compile(r"<table\b.*?(?:</table\s*>|\Z)", re.IGNORECASE | re.DOTALL)
_HTML_CELL = re.compile(r"<t[dh]\b[^>]*>(.*?)(?=<t[dhr]\b|</t[dhr]\s*>|</table|\Z)", re.IGNORECASE | re.DOTALL)
_HTML_TAG = re.compile(r"<[^>]*>")
_ANY_DIGITS = re.compile(r"\d+")


@dataclass
class StripReport:
    """What stripping removed, what the scan of the remaining code and text found, and where the copies are.

    `notebook` and `script` are None when nothing was written (a check).
    """

    ok: bool
    findings: list[Finding]
    removed: dict[str, int]
    source: Path
    notebook: Path | None = None
    script: Path | None = None

    @property
    def would_leak(self) -> bool:
        """Whether the source as it is carries data: outputs, attachments, embedded data, widget state or findings."""
        return not self.ok or any(self.removed.get(part, 0) for part in LEAKING_PARTS)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "findings": [f.to_dict() for f in self.findings], "removed": dict(self.removed),
            "source": str(self.source), "notebook": None if self.notebook is None else str(self.notebook),
            "script": None if self.script is None else str(self.script),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "StripReport":
        return cls(
            ok=d["ok"], findings=[Finding.from_dict(f) for f in d.get("findings", [])],
            removed=dict(d.get("removed", {})), source=Path(d["source"]),
            notebook=None if d.get("notebook") is None else Path(d["notebook"]),
            script=None if d.get("script") is None else Path(d["script"]),
        )

    def text(self) -> str:
        """The report in plain language: what was written, what was removed, what still has to be fixed."""
        name = self.source.name
        if self.notebook is None:
            lines = [f"{name}: checked, nothing written."]
            removed_intro = "Stripping would remove"
        else:
            lines = [f"{name}: stripped copy written to {self.notebook} and its code to {self.script}."]
            removed_intro = "Removed"
        parts = [_count_words(part, n) for part in REMOVED_PARTS if (n := self.removed.get(part, 0))]
        lines.append(f"{removed_intro}: {', '.join(parts)}." if parts else "Nothing to remove.")
        if self.notebook is None and any(self.removed.get(part, 0) for part in LEAKING_PARTS):
            lines.append(
                f"The notebook itself still holds outputs or embedded data: run `cbs-export strip --in-place {name}` "
                f"to clean it, or `cbs-export strip {name}` and export or commit the stripped copy."
            )
        if not self.findings:
            lines.append("OK: no identifying values or pasted data found in the code and text.")
        else:
            lines.append(
                f"FAIL: {len(self.findings)} problem(s) in the code or text, which stripping cannot remove. "
                f"Fix them in {name} and strip again, or explain them when you add the syntax to the basket:"
            )
            lines.extend(f"{i}. {f.text()}" for i, f in enumerate(self.findings, 1))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()


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
            ok=self.report.ok, findings=list(self.report.findings), removed=dict(self.report.removed),
            source=source, notebook=dst, script=script_path,
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
    raw = _read_json(src)
    removed = dict.fromkeys(REMOVED_PARTS, 0)
    removed["outputs"] = _drop_outputs(raw, src)
    try:
        nb = nbformat.convert(nbformat.versions[raw["nbformat"]].to_notebook_json(raw, minor=raw.get("nbformat_minor", 0)), 4)
    except (nbformat.ValidationError, AttributeError, KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{src} is not a valid notebook and cannot be read: {exc}. Open it in JupyterLab and save it again.") from None
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
        found = (f"nbformat {major} without a list of {body}" if major in (3, 4) else
                 f"nbformat {major}" if isinstance(major, int) else "no 'nbformat' version")
        raise UserError(
            f"{src} is not a Jupyter notebook this tool can read ({found}); it reads nbformat 3 and 4 files. "
            "Give an .ipynb file saved by Jupyter."
        )
    return raw


def _drop_outputs(raw: dict[str, Any], src: Path) -> int:
    """Outputs go first, from the plain JSON: they are nearly all of a large notebook's weight."""
    cells = raw["cells"] if raw["nbformat"] == 4 else [
        c for ws in raw["worksheets"] if isinstance(ws, dict) for c in ws.get("cells", [])
    ]
    count = 0
    for i, cell in enumerate(cells, 1):
        if not isinstance(cell, dict) or not isinstance(cell.get("cell_type"), str):
            raise UserError(f"{src} is not a valid notebook: cell {i} has no cell type. Open it in JupyterLab and save it again.")
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
            raise UserError(f"{src} is not a valid notebook: a {cell.cell_type} cell has no text. "
                            "Open it in JupyterLab and save it again.")
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
        source = cell.source if cell.cell_type != "code" else _comment_magics(cell.source)
        for n, line in enumerate(source.split("\n"), 1):
            if cell.cell_type != "code":
                line = f"# {line}".rstrip()
            lines.append(line)
            origin.append((index, n))
    return "\n".join(lines) + "\n", origin


def _comment_magics(code: str) -> str:
    return "\n".join(_MAGIC.sub(r"\1# \2", line) for line in code.split("\n"))


def _written_by_us(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return _SCRIPT_MARK in fh.readline()
    except OSError:
        return False


# --- scanning ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Hit:
    rule: str
    line: int
    message: str
    fix: str


def scan_text(text: str, *, cell: str, rules: Rules | None = None, kind: str = "code") -> list[Finding]:
    """Find ids and pasted data in one cell's text (`kind` "code", "markdown" or "raw") or in a script.

    `cell` names the place for the user ("cell 3 (markdown)"); each finding adds the line.
    """
    rules = rules or active_rules()
    return [_finding(hit, f"{cell}, line {hit.line}") for hit in _hits(text, kind, rules)]


def _finding(hit: _Hit, where: str) -> Finding:
    return Finding(rule=hit.rule, severity="fail", message=hit.message, where=where, fix=hit.fix)


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
    scanned: dict[str, list[_Hit]] = {}
    for index, cell in enumerate(nb.cells, 1):
        name = _cell_name(index, cell)
        if cell.cell_type == "code":
            text = _comment_magics(cell.source)
            hits = scanned[text] = _hits(text, "code", rules)
        else:
            hits = _hits(cell.source, cell.cell_type, rules)
        for hit in hits:
            seen.add((hit.rule, index, hit.line))
            findings.append(_finding(hit, f"{name}, line {hit.line}"))
    for first_line, chunk in _script_chunks(script, line_map):
        hits = scanned[chunk] if chunk in scanned else _hits(chunk, "code", rules)
        for hit in hits:
            line = first_line + hit.line - 1
            origin = line_map[line - 1] if line - 1 < len(line_map) else None
            if origin is not None and (hit.rule, *origin) in seen:
                continue
            where = f"script line {line}"
            if origin is not None:
                where += f" ({_cell_name(origin[0], nb.cells[origin[0] - 1])}, line {origin[1]})"
            findings.append(_finding(hit, where))
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


def _hits(text: str, kind: str, rules: Rules) -> list[_Hit]:
    hits = _identifier_hits(text, rules)
    if _may_hold_data(text):
        lines = text.split("\n")
        hits += _code_data_hits(text) if kind == "code" else _text_data_hits(lines, first_line=1, what=f"{kind} text")
    return sorted(hits, key=lambda h: (h.line, h.rule))


def _may_hold_data(text: str) -> bool:
    """A cheap necessary condition: every `data` rule needs two numbers, or one above a pandas footer."""
    runs = len(_ANY_DIGITS.findall(text))
    return runs >= 2 or (runs == 1 and ("dtype:" in text or " rows x " in text))


_ID_FIX = (
    "Remove the id from the notebook. Select records with a condition on variables, or keep the ids in a file "
    "inside the RA and read it in the code."
)


def _identifier_hits(text: str, rules: Rules) -> list[_Hit]:
    padded, unpadded = _id_regexes(rules.id_pattern.pattern, rules.id_digits)
    if not padded.search(text) and not unpadded.search(text):
        return []
    hits = []
    for n, line in enumerate(text.split("\n"), 1):
        values = [m.group() for m in padded.finditer(line)]
        if len(values) == 1:
            hits.append(_Hit(
                "identifier", n,
                f"The value {_masked(values[0])} looks like a person, address or business id "
                f"(a zero-padded number of {rules.id_digits} digits, as RINPERSOON and similar keys are written).",
                _ID_FIX,
            ))
        elif values:
            hits.append(_Hit(
                "identifier", n,
                f"{len(values)} values on this line ({', '.join(_masked(v) for v in values)}) look like person, "
                f"address or business ids (zero-padded numbers of {rules.id_digits} digits, as RINPERSOON and "
                "similar keys are written).",
                _ID_FIX,
            ))
        numbers = unpadded.findall(line)
        keys = [w for w in _WORD.findall(line) if rules.is_linking_key(w)] if numbers else []
        if keys and len(numbers) == 1:
            hits.append(_Hit("identifier", n, f"The number {_masked(numbers[0])} next to the linking key {keys[0]} "
                             "looks like one of its values (an id without its leading zero).", _ID_FIX))
        elif keys and numbers:
            hits.append(_Hit("identifier", n, f"{len(numbers)} numbers on this line next to the linking key {keys[0]} "
                             "look like its values (ids without their leading zero).", _ID_FIX))
    return hits


@lru_cache(maxsize=8)
def _id_regexes(id_pattern: str, digits: int) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """A zero-padded id anywhere in a line, and a number as long as an id that lost its leading zero."""
    edge_before, edge_after = r"(?<![A-Za-z0-9.])", r"(?![A-Za-z0-9]|\.\d)"
    return (
        re.compile(rf"{edge_before}(?:{id_pattern}){edge_after}"),
        re.compile(rf"{edge_before}[1-9]\d{{{digits - 2},{digits - 1}}}{edge_after}"),
    )


def _masked(value: str) -> str:
    return f"'{value[:3]}{'*' * (len(value) - 3)}'"


_TABLE_FIX = (
    "Delete the pasted numbers: let the code compute them from the data, and export results as checked outputs. "
    "If they are not results from CBS microdata (e.g. published figures), say so in the explanation of the syntax item."
)


def _text_data_hits(lines: Sequence[str], *, first_line: int, what: str) -> list[_Hit]:
    """Pipe and HTML tables, blocks of numbers, pandas printouts and long numeric lines in prose, comments or strings."""
    hits = _html_table_hits(lines, first_line=first_line, what=what)
    i = 0
    while i < len(lines):
        end, numbers = _pipe_table(lines, i)
        if end > i:
            if numbers >= LIMITS.min_pipe_table_numbers:
                hits.append(_Hit("data", first_line + i, f"A table with {numbers} numbers is pasted into the {what}.", _TABLE_FIX))
            i = end
            continue
        end, rows, numbers = _number_block(lines, i)
        if end > i:
            footer = end < len(lines) and _FOOTER.fullmatch(lines[end]) is not None
            if footer or (rows >= LIMITS.min_block_rows and numbers >= LIMITS.min_block_numbers):
                kind = "printout of a pandas table" if footer else f"block of {rows} lines with {numbers} numbers"
                hits.append(_Hit("data", first_line + i, f"A {kind} is pasted into the {what}.", _TABLE_FIX))
            elif rows == 1 and numbers >= LIMITS.min_literal_numbers:
                hits.append(_Hit("data", first_line + i, f"A list of {numbers} numbers is pasted into the {what}.", _TABLE_FIX))
            i = end
            continue
        i += 1
    return hits


def _html_table_hits(lines: Sequence[str], *, first_line: int, what: str) -> list[_Hit]:
    """HTML tables (e.g. a pasted `DataFrame.to_html()`), judged like pipe tables on the numbers in their cells."""
    text = "\n".join(lines)
    if "<t" not in text.lower():
        return []
    hits = []
    for table in _HTML_TABLE.finditer(text):
        cells = (_HTML_TAG.sub("", cell).strip() for cell in _HTML_CELL.findall(table.group()))
        numbers = sum(1 for cell in cells if _NUMBER.fullmatch(cell))
        if numbers >= LIMITS.min_pipe_table_numbers:
            line = first_line + text.count("\n", 0, table.start())
            hits.append(_Hit("data", line, f"An HTML table with {numbers} numbers is pasted into the {what}.", _TABLE_FIX))
    return hits


def _pipe_table(lines: Sequence[str], start: int) -> tuple[int, int]:
    """(end, numbers in the body) of the markdown pipe table at `start`; end == start when there is none."""
    end, numbers = start, 0
    while end < len(lines) and lines[end].count("|") >= 1 and len(_pipe_cells(lines[end])) >= 2:
        cells = _pipe_cells(lines[end])
        if not all(_PIPE_SEPARATOR.fullmatch(c) for c in cells if c):
            numbers += sum(1 for c in cells if _NUMBER.fullmatch(c))
        end += 1
    return (end, numbers) if end - start >= 2 else (start, 0)


def _pipe_cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _number_block(lines: Sequence[str], start: int) -> tuple[int, int, int]:
    """(end, rows, numbers) of consecutive tabular lines at `start`: at least as many numbers as labels."""
    end, numbers = start, 0
    while end < len(lines):
        fields = [f for f in _FIELD_SPLIT.split(lines[end].strip().lstrip("#")) if f]
        count = sum(1 for f in fields if _NUMBER.fullmatch(f))
        if count == 0 or count < len(fields) - count:
            break
        numbers += count
        end += 1
    return end, end - start, numbers


def _code_data_hits(code: str) -> list[_Hit]:
    """Literal lists of numbers (from the syntax tree) and pasted tables in strings and comments (from tokens)."""
    python = _comment_magics(code)
    try:
        tree = ast.parse(python)
    except (SyntaxError, ValueError):
        comments = [line if line.lstrip().startswith("#") else "" for line in code.split("\n")]
        return _text_data_hits(comments, first_line=1, what="comments") + _bracketed_hits(code)
    hits = _literal_hits(tree)
    literal_lines = {h.line for h in hits}
    hits += [h for h in _bracketed_hits(code) if h.line not in literal_lines]
    for first_line, lines, what, one_line in _strings_and_comments(python):
        found = _text_data_hits(lines, first_line=first_line, what=what)
        hits += [replace(h, line=first_line) for h in found] if one_line else found
    return hits


def _bracketed_hits(code: str) -> list[_Hit]:
    """Long bracketed runs of numbers, also in code that is not Python (R's `c(...)`, Julia, broken cells)."""
    hits = []
    for match in _BRACKETED_NUMBERS.finditer(code):
        numbers = [v for x in re.findall(_PLAIN_NUMBER, match.group()) if (v := _as_float(x)) is not None]
        if len(numbers) >= LIMITS.min_literal_numbers and not _evenly_spaced(numbers):
            line = code.count("\n", 0, match.start()) + 1
            hits.append(_Hit("data", line, f"A literal list of {len(numbers)} numbers is written into the code.", _TABLE_FIX))
    return hits


def _as_float(text: str) -> float | None:
    try:
        return float(text.rstrip("%"))
    except ValueError:
        return None


def _literal_hits(tree: ast.AST) -> list[_Hit]:
    hits = []
    for node, numbers in _literal_groups(tree):
        if len(numbers) >= LIMITS.min_literal_numbers and not _evenly_spaced(numbers):
            hits.append(_Hit("data", node.lineno, f"A literal list of {len(numbers)} numbers is written into the code.", _TABLE_FIX))
    return hits


_SEQUENCES = (ast.List, ast.Tuple, ast.Set)


def _literal_groups(tree: ast.AST) -> Iterator[tuple[ast.AST, list[float]]]:
    """Each outermost literal with the numbers it holds, nested sequences (a matrix) counted together.

    A dict is one table only when it is columnar (all values numbers, or all sequences of one length);
    otherwise, like a grid of settings, each of its values is judged on its own.
    """
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (*_SEQUENCES, ast.Dict)):
            numbers: list[float] = []
            _collect(node, numbers, stack)
            yield node, numbers
        else:
            stack.extend(ast.iter_child_nodes(node))


def _collect(node: ast.AST, numbers: list[float], elsewhere: list[ast.AST]) -> None:
    children = list(node.values) if isinstance(node, ast.Dict) else list(node.elts)  # type: ignore[attr-defined]
    nested_ok = not isinstance(node, ast.Dict) or _columnar(node)
    for child in children:
        if _is_number(child):
            numbers.append(_number_value(child))
        elif nested_ok and (isinstance(child, _SEQUENCES) or (isinstance(child, ast.Dict) and _columnar(child))):
            _collect(child, numbers, elsewhere)
        else:
            elsewhere.append(child)


def _columnar(node: ast.Dict) -> bool:
    values = node.values
    if values and all(_is_number(v) for v in values):
        return True
    lengths = {len(v.elts) for v in values if isinstance(v, _SEQUENCES)}
    return len(values) >= 2 and len(lengths) == 1 and all(isinstance(v, _SEQUENCES) for v in values)


def _is_number(node: ast.AST) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        node = node.operand
    return isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool)


def _number_value(node: ast.AST) -> float:
    if isinstance(node, ast.UnaryOp):
        value = _number_value(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    return float(node.value)  # type: ignore[attr-defined]


def _evenly_spaced(numbers: Sequence[float]) -> bool:
    """A grid as `range` or `linspace` gives, also with open ends (age bins 0, 5, ..., 90, 120): not data."""
    if len(numbers) < 5:
        return False
    inner = numbers[1:-1]
    step = inner[1] - inner[0]
    return step != 0 and all(abs((b - a) - step) <= 1e-9 * max(1.0, abs(step)) for a, b in zip(inner, inner[1:]))


_STRING_TOKENS = {tokenize.STRING} | ({tokenize.FSTRING_MIDDLE} if hasattr(tokenize, "FSTRING_MIDDLE") else set())


def _strings_and_comments(code: str) -> Iterator[tuple[int, list[str], str, bool]]:
    """(first line, lines of text, what, written on one line) for each string and each block of comment lines."""
    comments: list[str] = []
    comment_start = last_comment = 0
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type == tokenize.COMMENT:
                if comments and tok.start[0] != last_comment + 1:
                    yield comment_start, comments, "comments", False
                    comments = []
                if not comments:
                    comment_start = tok.start[0]
                comments.append(tok.string[1:].strip())
                last_comment = tok.start[0]
            elif tok.type in _STRING_TOKENS:
                value = _string_value(tok.string) if tok.type == tokenize.STRING else tok.string
                yield tok.start[0], value.split("\n"), "string", tok.start[0] == tok.end[0]
    except (tokenize.TokenError, SyntaxError):
        pass
    if comments:
        yield comment_start, comments, "comments", False


def _string_value(literal: str) -> str:
    try:
        value = ast.literal_eval(literal)
    except (ValueError, SyntaxError):
        body = re.sub(r"^[A-Za-z]*", "", literal)
        quote = body[:3] if body[:3] in ('"""', "'''") else body[:1]
        return body[len(quote):len(body) - len(quote)].replace("\\t", "\t").replace("\\n", "\n")
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


# --- writing -------------------------------------------------------------------------------------------


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _write_files_atomically(files: Sequence[tuple[Path, bytes]]) -> None:
    """Each file appears whole or not at all; all are written in full before any is put in place."""
    try:
        with ExitStack() as stack:
            for path, data in files:
                path.parent.mkdir(parents=True, exist_ok=True)
                with open(stack.enter_context(atomic_path(path)), "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
    except OSError as exc:
        raise UserError(f"Cannot write {exc.filename or files[0][0].parent}: {exc.strerror or exc}. Choose a folder you can write to.") from None


