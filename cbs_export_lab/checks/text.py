"""Ids, pasted data and personal paths in code and prose: one scanner for every language of the RA.

CBS releases syntax freely only when it holds no identifying data and no data such as RINPERSOON values or
frequency counts. Researchers write R, Stata, SPSS, Python and SAS, so the scanner knows each language's comments
and strings: tables pasted into a Stata `*` comment or an SPSS `COMMENT` are found as in a Python `#` comment.
It writes nothing; `strip` masks what it finds in a copy.
"""

from __future__ import annotations

import ast
import re
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from ..results import Finding
from ..rules import Rules

SCRIPT_LANGUAGES = {".py": "python", ".r": "r", ".do": "stata", ".ado": "stata", ".sps": "spss", ".sas": "sas"}
"""Script suffixes (lower case) and the language their comments and strings are read in."""
TEXT_LANGUAGES = {
    ".rmd": "rmarkdown",
    ".qmd": "rmarkdown",
    ".md": "markdown",
    ".txt": "markdown",
    ".log": "markdown",
    ".sql": "sql",
}
LINE_COMMENT = {
    "python": ("# ", ""),
    "r": ("# ", ""),
    "stata": ("// ", ""),
    "spss": ("* ", " ."),
    "sas": ("* ", ";"),
    "sql": ("-- ", ""),
}
"""How a placeholder comment is written on a line of its own in each language."""


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
    - `min_labelled_numbers`: rows of a label, a gap (tab, two spaces or `|`) and numbers, as a frequency table
      prints, are a pasted table from this many numbers on (`man  92 / vrouw  108 / totaal  200`), unless the
      numbers run evenly (codes 1, 2, 3; years 2019, 2020, 2021).

    The values come from `[data]` in rules.toml.
    """

    min_literal_numbers: int
    min_block_rows: int
    min_block_numbers: int
    min_pipe_table_numbers: int
    min_labelled_numbers: int

    @classmethod
    def from_rules(cls, rules: Rules) -> PastedDataLimits:
        return cls(
            rules.data_literal_numbers,
            rules.data_block_rows,
            rules.data_block_numbers,
            rules.data_pipe_table_numbers,
            rules.data_labelled_numbers,
        )


@dataclass(frozen=True)
class Hit:
    """One finding at a 1-based line of the scanned text, with what a masked copy has to change.

    `end_line` is the last line it covers; `context` says where it sits ("code", "comment", "string", "text");
    `spans` are exact (line, start column, end column, replacement) edits for ids, names and one-line strings.
    """

    rule: str
    line: int
    message: str
    fix: str
    severity: str = "fail"
    end_line: int = 0
    context: str = "text"
    spans: tuple[tuple[int, int, int, str], ...] = field(default=(), compare=False)

    @property
    def last_line(self) -> int:
        return max(self.line, self.end_line)


def language_of(name: str) -> str | None:
    """The language a file is read in, from its suffix; None when it is not a script or a text file."""
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return SCRIPT_LANGUAGES.get(suffix) or TEXT_LANGUAGES.get(suffix)


def kernel_language(metadata: Any) -> str:
    """The language of a notebook's code cells (python when the notebook does not say)."""
    names = []
    if isinstance(metadata, dict):
        for key, sub in (("kernelspec", "language"), ("language_info", "name"), ("kernelspec", "name")):
            value = metadata.get(key)
            if isinstance(value, dict) and isinstance(value.get(sub), str):
                names.append(value[sub].lower())
    for name in names:
        for language in ("python", "stata", "sas", "spss"):
            if language in name:
                return language
        if name in ("r", "ir") or name.startswith("ir"):
            return "r"
    return "python"


def scan_text(
    text: str, *, cell: str, rules: Rules | None = None, kind: str = "code", language: str = "python"
) -> list[Finding]:
    """Find ids, pasted data and personal paths in one cell's text (`kind` "code", "markdown" or "raw") or a script.

    `cell` names the place for the user ("cell 3 (markdown)", "file analyse.do"); each finding adds the line.
    """
    if rules is None:
        from ..settings import active_rules

        rules = active_rules()
    return [finding(hit, f"{cell}, line {hit.line}") for hit in scan_hits(text, kind, rules, language)]


def scan_script(text: str, name: str, *, rules: Rules | None = None, language: str | None = None) -> list[Finding]:
    """A whole script file, read in the language its name says."""
    return scan_text(text, cell=name, rules=rules, kind="code", language=language or language_of(name) or "python")


def finding(hit: Hit, where: str) -> Finding:
    return Finding(rule=hit.rule, severity=hit.severity, message=hit.message, where=where, fix=hit.fix)  # type: ignore[arg-type]


def scan_hits(text: str, kind: str, rules: Rules, language: str = "python") -> list[Hit]:
    """Every hit in `text`, sorted by line. `kind` "code" reads it as `language`; anything else as prose."""
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    hits = identifier_hits(text, rules) + personal_path_hits(text, rules)
    if _may_hold_data(text):
        limits = PastedDataLimits.from_rules(rules)
        if kind != "code" or language in ("markdown", "sql"):
            lines = text.split("\n")
            hits += _text_data_hits(
                lines, first_line=1, what="text" if kind == "code" else f"{kind} text", limits=limits, rules=rules
            )
        elif language == "rmarkdown":
            hits += _rmarkdown_hits(text, limits, rules)
        else:
            hits += _code_data_hits(text, language, limits, rules)
    return _unique(sorted(hits, key=lambda h: (h.line, h.rule)))


def _unique(hits: list[Hit]) -> list[Hit]:
    seen: set[tuple[str, int, str]] = set()
    out = []
    for hit in hits:
        key = (hit.rule, hit.line, hit.message)
        if key not in seen:
            seen.add(key)
            out.append(hit)
    return out


def _may_hold_data(text: str) -> bool:
    """A cheap necessary condition: every `data` rule needs a number."""
    return _ANY_DIGITS.search(text) is not None


# --- identifiers -----------------------------------------------------------------------------------------

_ID_FIX = (
    "Remove the id from the code and text. Select records with a condition on variables, or keep the ids in a file "
    "inside the RA and read it in the code."
)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ANY_DIGITS = re.compile(r"\d")
_DIGIT_RUNS = re.compile(r"\d+")


def identifier_hits(text: str, rules: Rules) -> list[Hit]:
    """Zero-padded ids (also with a letter prefix or suffix) anywhere, and unpadded ids beside a linking key."""
    padded, unpadded = id_regexes(rules.id_pattern.pattern, rules.id_digits)
    if not _digit_run(rules.id_digits - 1).search(text) or (not padded.search(text) and not unpadded.search(text)):
        return []
    hits = []
    for n, line in enumerate(text.split("\n"), 1):
        found = list(padded.finditer(line))
        spans = tuple((n, m.start(), m.end(), "X" * (m.end() - m.start())) for m in found)
        digits = f"{rules.id_digits} digits, as RINPERSOON and similar keys are written"
        if len(found) == 1:
            hits.append(
                Hit(
                    "identifier",
                    n,
                    f"The value {masked(found[0].group())} looks like a person, address or "
                    f"business id (a zero-padded number of {digits}).",
                    _ID_FIX,
                    spans=spans,
                )
            )
        elif found:
            hits.append(
                Hit(
                    "identifier",
                    n,
                    f"{len(found)} values on this line "
                    f"({', '.join(masked(m.group()) for m in found)}) look like person, address or business "
                    f"ids (zero-padded numbers of {digits}).",
                    _ID_FIX,
                    spans=spans,
                )
            )
        numbers = list(unpadded.finditer(line))
        keys = [w for w in _WORD.findall(line) if rules.is_linking_key(w)] if numbers else []
        spans = tuple((n, m.start(), m.end(), "X" * (m.end() - m.start())) for m in numbers)
        if keys and len(numbers) == 1:
            hits.append(
                Hit(
                    "identifier",
                    n,
                    f"The number {masked(numbers[0].group())} next to the linking key "
                    f"{keys[0]} looks like one of its values (an id without its leading zero).",
                    _ID_FIX,
                    spans=spans,
                )
            )
        elif keys and numbers:
            hits.append(
                Hit(
                    "identifier",
                    n,
                    f"{len(numbers)} numbers on this line next to the linking key {keys[0]} "
                    "look like its values (ids without their leading zero).",
                    _ID_FIX,
                    spans=spans,
                )
            )
    return hits


@lru_cache(maxsize=8)
def id_regexes(id_pattern: str, digits: int) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """A zero-padded id anywhere in a line (a short letter prefix or suffix allowed: P012345678, 012345678A),
    and a number as long as an id that lost its leading zero."""
    edge_before, edge_after = r"(?<![A-Za-z0-9.])", r"(?![A-Za-z0-9]|\.\d)"
    return (
        re.compile(rf"{edge_before}(?:[A-Za-z]{{1,4}}[-_]?)?(?:{id_pattern})(?:[A-Za-z]{{1,2}})?{edge_after}"),
        re.compile(rf"{edge_before}[1-9]\d{{{digits - 2},{digits - 1}}}{edge_after}"),
    )


@lru_cache(maxsize=8)
def _digit_run(digits: int) -> re.Pattern[str]:
    return re.compile(rf"\d{{{digits}}}")


def masked(value: str) -> str:
    return f"'{value[:3]}{'*' * (len(value) - 3)}'"


# --- personal paths --------------------------------------------------------------------------------------

_PATH = re.compile(
    r"(?:(?<![\w])[A-Za-z]:(?:\\\\|\\|/)|\\\\\\\\|\\\\(?=\w)|(?<![\w.~/])/(?=[A-Za-z])|(?<![\w])~(?=[A-Za-z][\w.-]*/))"
    r"[^\"'`\n<>|?*;,()\[\]{}]*"
)
_SEPARATORS = re.compile(r"[\\/]+")
_HOME_OF = re.compile(r"~[A-Za-z][\w.-]*/")
_NOT_A_USER = {"public", "default", "all users", "default user", "shared", "openbaar", ""}
_PATH_FIX = (
    "Use a path relative to the project folder, or a standard CBS folder (G:\\..., K:\\Utilities), and rename "
    "folders named after a person. If the folder names no one, say so in the explanation of the syntax item."
)


def personal_path_hits(text: str, rules: Rules) -> list[Hit]:
    """Paths into a user's home folder (C:\\Users\\<name>, /home/<name>, ~name/) or a folder named after a person."""
    if not any(mark in text for mark in (":\\", ":/", "\\\\", "/", "~")):
        return []
    homes, words, standard, trigger = _path_words(rules.home_folders, rules.person_folder_words, rules.standard_folders)
    lower = text.lower()
    if not any(word in lower for word in trigger) and _HOME_OF.search(text) is None:
        return []
    starts = _line_starts(text)
    hits = []
    for match in _PATH.finditer(text):
        path = match.group()
        lower = path.lower()
        if not any(word in lower for word in trigger) and not path.startswith("~"):
            continue
        normal = _SEPARATORS.sub("\\\\", path).lower()
        if any(normal.startswith(s) for s in standard):
            continue
        found = _personal_part(path, homes, words)
        if found is None:
            continue
        start, end, why, instead = found
        line = bisect_right(starts, match.start())
        column = match.start() - starts[line - 1]
        name = path[start:end].lstrip(" _.-")
        shown = path[: end - len(name)] + name[:1] + "*" * (len(name) - 1)
        hits.append(
            Hit(
                "personal_path",
                line,
                f"The path '{shown}...' {why}.",
                _PATH_FIX,
                severity=rules.personal_path,
                spans=((line, column + start, column + end, instead),),
            )
        )
    return hits


@lru_cache(maxsize=8)
def _path_words(
    homes: tuple[str, ...], words: tuple[str, ...], standard: tuple[str, ...]
) -> tuple[frozenset[str], re.Pattern[str] | None, tuple[str, ...], tuple[str, ...]]:
    """The home folder names, the person-folder words, the standard folders and the words (lower case) any hit has."""
    person = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    trigger = tuple(w.lower() for w in (*homes, *words))
    return (
        frozenset(h.lower() for h in homes),
        re.compile(rf"(?:{person})(?=[ _.-]+[A-Za-z])", re.IGNORECASE) if person else None,
        tuple(_SEPARATORS.sub("\\\\", s).lower() for s in standard),
        trigger,
    )


def _personal_part(path: str, homes: frozenset[str], words: re.Pattern[str] | None) -> tuple[int, int, str, str] | None:
    """(start, end, why, what a masked copy writes instead) of the part of `path` that names a person, or None."""
    if path.startswith("~"):
        return 1, path.find("/"), "points into the home folder of a user", ""
    parts = [
        (m.end(), nxt.start() if (nxt := _SEPARATORS.search(path, m.end())) else len(path))
        for m in _SEPARATORS.finditer(path)
    ]
    for i, (start, end) in enumerate(parts):
        segment = path[start:end].strip()
        if not segment:
            continue
        if i <= 2 and segment.lower() in homes and i + 1 < len(parts):
            user_start, user_end = parts[i + 1]
            user = path[user_start:user_end].strip()
            if user and user.lower() not in _NOT_A_USER and user[0] not in "%$<{":
                instead = "%USERNAME%" if "\\" in path or path[1:2] == ":" else "$USER"
                why = f"points into the home folder of a user ({segment})"
                return user_start, user_start + len(user), why, instead
        if words is not None and (m := words.match(segment)) and (path[1:2] == ":" or len(parts) >= 2):
            lead = len(path[start:end]) - len(path[start:end].lstrip())
            return start + lead + m.end(), start + lead + len(segment), "goes through a folder named after a person", ""
    return None


def _line_starts(text: str) -> list[int]:
    starts = [0]
    find = text.find
    pos = find("\n")
    while pos != -1:
        starts.append(pos + 1)
        pos = find("\n", pos + 1)
    return starts


# --- counts in prose -------------------------------------------------------------------------------------

_COUNT_FIX = (
    "Remove the count from the comment or text: counts from the data leave only as checked outputs. If the number is "
    "not from CBS microdata (a rule, a category, a published figure), say so in the explanation of the syntax item."
)
_PROSE_NUMBER = r"(?<![\w.,\-–])(?:\d{1,3}(?:[.,]\d{3})+|\d+)(?![\w]|[.,]\d|\s*[-–]\s*\d)"


@lru_cache(maxsize=8)
def _count_regexes(
    words: tuple[str, ...], markers: tuple[str, ...], not_words: tuple[str, ...]
) -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """Number then count word, count word then `:` and a number, a marker before, a qualifier before."""

    def alternatives(items: Sequence[str]) -> str:
        return "|".join(re.escape(w) for w in sorted(items, key=len, reverse=True))

    nouns = alternatives(words)
    return (
        re.compile(
            rf"{_PROSE_NUMBER}\s+(?:(?!(?:{alternatives(not_words)})\s)[^\W\d]+\s+)?(?:{nouns})(?!\w)", re.IGNORECASE
        ),
        re.compile(rf"(?<!\w)(?:{nouns})\s*[:=]\s*{_PROSE_NUMBER}(?!\s*[-/]\s*\d)", re.IGNORECASE),
        re.compile(rf"(?<!\w)(?:{alternatives(markers)})(?!\w)\W*(?:\w+\W+){{0,2}}$", re.IGNORECASE),
        re.compile(rf"(?:^|(?<=\W)|(?<=\s))(?:{alternatives(not_words)})\s*$", re.IGNORECASE),
    )


_DIGIT_WORD = re.compile(r"\d\s+[^\W\d]")
_COLON_DIGIT = re.compile(r"[:=][ \t]*\d")


def _may_count(text: str, rules: Rules) -> bool:
    """Cheap tests first (a number before a word, a number after `:`), then the count words themselves."""
    after, before, _, _ = _count_regexes(rules.count_words, rules.count_markers, rules.not_count_words)
    return (_DIGIT_WORD.search(text) is not None and after.search(text) is not None) or (
        _COLON_DIGIT.search(text) is not None and before.search(text) is not None
    )


def prose_count_hits(lines: Sequence[str], *, first_line: int, what: str, rules: Rules, context: str) -> list[Hit]:
    """Counts written in words: "3 mannen en 2 vrouwen", "waarvan 4 personen", "vrouwen: 108".

    Two counts on a line, a counting word before one, or a count word with its number are a count from the data
    (fail). One number before a count word may be a rule or a category (huishoudens van 2 personen is handled by the
    qualifiers; "5 gemeenten" is not), so alone it is review.
    """
    joined = "\n".join(lines)
    if not _may_count(joined, rules):
        return []
    after, before, marker, qualifier = _count_regexes(rules.count_words, rules.count_markers, rules.not_count_words)
    hits = []
    for n, line in enumerate(lines):
        if not _ANY_DIGITS.search(line):
            continue
        counts = [m for m in after.finditer(line) if not qualifier.search(line[: m.start()])]
        labelled = list(before.finditer(line))
        if not counts and not labelled:
            continue
        marked = any(marker.search(line[: m.start()]) for m in counts)
        total = len(counts) + len(labelled)
        certain = total >= 2 or marked or bool(labelled)
        severity = "fail" if certain else "review"
        said = f"{total} counts of units are" if total > 1 else "A count of units is"
        hits.append(
            Hit(
                "data",
                first_line + n,
                f"{said} written in words in the {what}"
                f"{': a frequency from the data' if certain else ', which may be a frequency from the data'}.",
                _COUNT_FIX,
                severity=severity,
                end_line=first_line + n,
                context=context,
            )
        )
    return hits


# --- pasted tables in text -------------------------------------------------------------------------------

_TABLE_FIX = (
    "Delete the pasted numbers: let the code compute them from the data, and export results as checked outputs. "
    "If they are not results from CBS microdata (e.g. published figures), say so in the explanation of the syntax item."
)
_NUMBER = re.compile(r"[-+]?(?:\d+(?:[.,]\d+)*|\.\d+)(?:[eE][-+]?\d+)?%?")
_FIELD_SPLIT = re.compile(r"[\t;,|]+\s*|\s+")
_PIPE_SEPARATOR = re.compile(r":?-{2,}:?")
_FOOTER = re.compile(r"\s*(?:(?:Name: .*, )?(?:Length: \d+, )?dtype: \w+|\[\d+ rows x \d+ columns\])\s*")
_HTML_TABLE = re.compile(r"<table\b.*?(?:</table\s*>|\Z)", re.IGNORECASE | re.DOTALL)
_HTML_CELL = re.compile(r"<t[dh]\b[^>]*>(.*?)(?=<t[dhr]\b|</t[dhr]\s*>|</table|\Z)", re.IGNORECASE | re.DOTALL)
_HTML_TAG = re.compile(r"<[^>]*>")
_ROW_NUMBER = r"[-+]?\d[\d.,]*%?"
_LABELLED_ROW = re.compile(
    rf"\s*(?P<label>[^\d\s|][^\t|]*?)(?:\t+|\s{{2,}}|\s*\|\s*)({_ROW_NUMBER}(?:(?:\t+|\s+|\s*\|\s*){_ROW_NUMBER})*)"
    r"\s*\|?\s*"
)
_LETTER = re.compile(r"[^\W\d_]")


def _text_data_hits(
    lines: Sequence[str], *, first_line: int, what: str, limits: PastedDataLimits, rules: Rules, context: str = "text"
) -> list[Hit]:
    """Pipe and HTML tables, blocks of numbers, labelled rows, printouts, long numeric lines and counts in words."""
    hits = _html_table_hits(lines, first_line=first_line, what=what, limits=limits, context=context)
    i = 0
    while i < len(lines):
        end, numbers = _pipe_table(lines, i)
        if end > i:
            if numbers >= limits.min_pipe_table_numbers:
                hits.append(
                    _table_hit(
                        first_line + i,
                        first_line + end - 1,
                        f"A table with {numbers} numbers is pasted into the {what}.",
                        context,
                    )
                )
            i = end
            continue
        end, rows, numbers = _number_block(lines, i)
        if end > i:
            footer = end < len(lines) and _FOOTER.fullmatch(lines[end]) is not None
            if footer or (rows >= limits.min_block_rows and numbers >= limits.min_block_numbers):
                kind = "printout of a pandas table" if footer else f"block of {rows} lines with {numbers} numbers"
                hits.append(
                    _table_hit(
                        first_line + i, first_line + end - 1 + footer, f"A {kind} is pasted into the {what}.", context
                    )
                )
                i = end
                continue
        label_end, values = _labelled_block(lines, i)
        if label_end - i >= 2 and len(values) >= limits.min_labelled_numbers and not _progression(values):
            hits.append(
                _table_hit(
                    first_line + i,
                    first_line + label_end - 1,
                    f"A table of {label_end - i} labelled rows with {len(values)} numbers is pasted into the {what}.",
                    context,
                )
            )
            i = label_end
            continue
        if end > i:
            if rows == 1 and numbers >= limits.min_literal_numbers:
                hits.append(
                    _table_hit(
                        first_line + i,
                        first_line + i,
                        f"A list of {numbers} numbers is pasted into the {what}.",
                        context,
                    )
                )
            i = end
            continue
        i += 1
    return hits + prose_count_hits(lines, first_line=first_line, what=what, rules=rules, context=context)


def _table_hit(line: int, end_line: int, message: str, context: str) -> Hit:
    return Hit("data", line, message, _TABLE_FIX, end_line=end_line, context=context)


def _html_table_hits(
    lines: Sequence[str], *, first_line: int, what: str, limits: PastedDataLimits, context: str
) -> list[Hit]:
    """HTML tables (e.g. a pasted `DataFrame.to_html()`), judged like pipe tables on the numbers in their cells."""
    text = "\n".join(lines)
    if "<t" not in text.lower():
        return []
    hits = []
    for table in _HTML_TABLE.finditer(text):
        cells = (_HTML_TAG.sub("", cell).strip() for cell in _HTML_CELL.findall(table.group()))
        numbers = sum(1 for cell in cells if _NUMBER.fullmatch(cell))
        if numbers >= limits.min_pipe_table_numbers:
            line = first_line + text.count("\n", 0, table.start())
            end = first_line + text.count("\n", 0, table.end())
            message = f"An HTML table with {numbers} numbers is pasted into the {what}."
            hits.append(_table_hit(line, end, message, context))
    return hits


def _pipe_table(lines: Sequence[str], start: int) -> tuple[int, int]:
    """(end, numbers in the body) of the pipe table at `start` (markdown, or Stata's `tabulate` printout with
    several numbers in a cell); end == start when there is none."""
    end, numbers = start, 0
    while end < len(lines) and lines[end].count("|") >= 1 and len(_pipe_cells(lines[end])) >= 2:
        cells = _pipe_cells(lines[end])
        if not all(_PIPE_SEPARATOR.fullmatch(c) for c in cells if c):
            numbers += sum(len(words) for c in cells if (words := c.split()) and all(map(_NUMBER.fullmatch, words)))
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


def _labelled_block(lines: Sequence[str], start: int) -> tuple[int, list[float]]:
    """(end, numbers) of consecutive rows of a label, a gap and numbers, as a frequency table prints."""
    end, values = start, []
    while end < len(lines) and (m := _labelled_row(lines[end])):
        values += [v for x in re.findall(_ROW_NUMBER, m.group(2)) if (v := _as_float(x.replace(",", ""))) is not None]
        end += 1
    return end, values


def _labelled_row(line: str) -> re.Match[str] | None:
    tail = line.rstrip(" \t|")
    if not tail or not (tail[-1].isdigit() or tail[-1] == "%") or not _LETTER.search(line):
        return None
    m = _LABELLED_ROW.fullmatch(line)
    return m if m is not None and _LETTER.search(m.group("label")) else None


def _progression(numbers: Sequence[float]) -> bool:
    """Codes 1, 2, 3 or years 2019, 2020, 2021: evenly spaced, so a list of categories, not counts."""
    if len(numbers) < 3:
        return False
    step = numbers[1] - numbers[0]
    return step != 0 and all(abs((b - a) - step) <= 1e-9 for a, b in zip(numbers, numbers[1:], strict=False))


# --- code ------------------------------------------------------------------------------------------------

_PLAIN_NUMBER = r"[-+]?\d[\d.eE+-]*"
_BRACKETED_NUMBERS = re.compile(rf"[\[({{]\s*{_PLAIN_NUMBER}(?:(?:\s*[,;]\s*|\s+){_PLAIN_NUMBER})+\s*[\])}}]")
_MAGIC = re.compile(r"^(\s*)([%!].*)$")
# A list right after a membership test holds category codes to select on (`x %in% c(11, 12, ...)`, `.isin([...])`,
# SAS/SQL `in (...)`), not data; ids in it are still found by the identifier rule.
_MEMBERSHIP = re.compile(r"(?:%in%\s*c|\.isin\(|\bin|\bIN)\s*$")


@dataclass(frozen=True)
class TextBlock:
    """Comment or string text of a script, with the line it starts on and the place it has."""

    first_line: int
    lines: list[str]
    what: str
    one_line: bool = False
    span: tuple[int, int, int] | None = None  # (line, start column, end column) of a one-line string


def comment_magics(code: str) -> str:
    """IPython magics and shell lines as comments, so the cell parses as Python."""
    if "%" not in code and "!" not in code:
        return code
    return "\n".join(_MAGIC.sub(r"\1# \2", line) for line in code.split("\n"))


def _code_data_hits(code: str, language: str, limits: PastedDataLimits, rules: Rules) -> list[Hit]:
    """Literal lists of numbers in the code and pasted tables or counts in its comments and strings."""
    tree, source = None, code
    if language == "python":
        source = comment_magics(code)
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            tree = None
    spans, blocks = lex(source, language)
    if tree is not None:
        hits = _literal_hits(tree, limits)
        literal_lines = {h.line for h in hits}
        hits += [h for h in _bracketed_hits(code, limits) if h.line not in literal_lines]
    else:
        hits = _bracketed_hits(code, limits, outside=spans)
    for block in blocks:
        if len(block.lines) == 1 and not _one_line_may_hold_data(block.lines[0], limits, rules):
            continue
        context = "string" if block.what == "string" else "comment"
        found_hits = _text_data_hits(
            block.lines, first_line=block.first_line, what=block.what, limits=limits, rules=rules, context=context
        )
        if block.one_line:
            line, start, end = block.span or (block.first_line, 0, 0)
            spans = ((line, start, end, '"[cbs-export strip: data removed]"'),) if block.span else ()
            found_hits = [replace(h, line=block.first_line, end_line=block.first_line, spans=spans) for h in found_hits]
        hits += found_hits
    return hits


def _one_line_may_hold_data(line: str, limits: PastedDataLimits, rules: Rules) -> bool:
    """A one-line comment or string holds data only as a long list of numbers, an HTML table or a count in words."""
    if not _ANY_DIGITS.search(line):
        return False
    if "<t" in line or len(_DIGIT_RUNS.findall(line)) >= limits.min_literal_numbers:
        return True
    return _may_count(line, rules)


def _bracketed_hits(code: str, limits: PastedDataLimits, outside: Sequence[int] = ()) -> list[Hit]:
    """Long bracketed runs of numbers, also in code that is not Python (R's `c(...)`, Stata, SPSS, broken cells).

    `outside` are the sorted (start, end, start, end, ...) offsets of comments and strings, which are read as text.
    """
    hits = []
    for match in _BRACKETED_NUMBERS.finditer(code):
        if bisect_right(outside, match.start()) % 2:
            continue
        if _MEMBERSHIP.search(code, max(0, match.start() - 12), match.start()):
            continue
        numbers = [v for x in re.findall(_PLAIN_NUMBER, match.group()) if (v := _as_float(x)) is not None]
        if len(numbers) >= limits.min_literal_numbers and not _evenly_spaced(numbers):
            line = code.count("\n", 0, match.start()) + 1
            end = line + match.group().count("\n")
            hits.append(
                Hit(
                    "data",
                    line,
                    f"A literal list of {len(numbers)} numbers is written into the code.",
                    _TABLE_FIX,
                    end_line=end,
                    context="code",
                )
            )
    return hits


def _as_float(text: str) -> float | None:
    try:
        return float(text.rstrip("%"))
    except ValueError:
        return None


def _literal_hits(tree: ast.AST, limits: PastedDataLimits) -> list[Hit]:
    hits = []
    for node, numbers in _literal_groups(tree):
        if len(numbers) >= limits.min_literal_numbers and not _evenly_spaced(numbers):
            hits.append(
                Hit(
                    "data",
                    node.lineno,
                    f"A literal list of {len(numbers)} numbers is written into the code.",  # type: ignore[attr-defined]
                    _TABLE_FIX,
                    end_line=getattr(node, "end_lineno", 0) or 0,
                    context="code",
                )
            )
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
        if _is_membership(node):  # category codes to select on: `x in (11, 12, ...)`, `s.isin([...])`
            stack.extend(c for c in ast.iter_child_nodes(node) if not isinstance(c, _SEQUENCES))
            continue
        if isinstance(node, (*_SEQUENCES, ast.Dict)):
            numbers: list[float] = []
            _collect(node, numbers, stack)
            yield node, numbers
        else:
            stack.extend(ast.iter_child_nodes(node))


def _is_membership(node: ast.AST) -> bool:
    if isinstance(node, ast.Compare):
        return all(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops)
    return isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "isin"


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
    tolerance = 1e-9 * max(1.0, abs(step))
    return step != 0 and all(abs((b - a) - step) <= tolerance for a, b in zip(inner, inner[1:], strict=False))


def _string_value(literal: str) -> str:
    """The text of a Python string literal, its escapes (\\t, \\n) applied unless it is raw."""
    body = literal.lstrip("rRbBuUfF")
    prefix = literal[: len(literal) - len(body)].lower()
    if "\\" not in body or "r" in prefix:
        quote = 3 if body[:3] in ('"""', "'''") else 1
        return body[quote : len(body) - quote]
    if "f" in prefix:
        return _unescaped(body)
    try:
        value = ast.literal_eval(literal)
    except (ValueError, SyntaxError):
        return _unescaped(re.sub(r"^[A-Za-z]*", "", literal))
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


def _unescaped(body: str) -> str:
    quote = body[:3] if body[:3] in ('"""', "'''") else body[:1]
    return body[len(quote) : len(body) - len(quote)].replace("\\t", "\t").replace("\\n", "\n")


# --- the lexers of R, Stata, SPSS, SAS (and Python that does not parse) ---------------------------------

_LEXERS = {
    "python": re.compile(
        r"(?=[#\"'])(?:(?P<comment>\#[^\n]*(?:\n[ \t]*\#[^\n]*)*)"
        r"|(?P<string>(?:\"\"\"[\s\S]*?(?:\"\"\"|\Z)|'''[\s\S]*?(?:'''|\Z)"
        r"|\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*')))"
    ),
    "r": re.compile(
        r"(?=[#\"'`])(?:(?P<comment>\#[^\n]*(?:\n[ \t]*\#[^\n]*)*)"
        r"|(?P<string>\"(?:[^\"\\]|\\[\s\S])*\"|'(?:[^'\\]|\\[\s\S])*')"
        r"|`(?:[^`\\]|\\.)*`)"
    ),
    "stata": re.compile(
        r"(?=[ \t*/`\"iI])"
        r"(?:(?P<comment>(?:(?m:^[ \t]*\*)|(?:(?<=\s)|(?m:^))//)[^\n]*(?:\n[ \t]*(?:\*|//)[^\n]*)*"
        r"|/\*[\s\S]*?(?:\*/|\Z))"
        r"|(?P<string>`\"[\s\S]*?\"'|\"[^\"\n]*\")"
        r"|(?P<data>(?im:^[ \t]*input\b[^\n]*\n)[\s\S]*?(?im:^[ \t]*end\b[ \t]*$)))"
    ),
    "spss": re.compile(
        r"(?=[ \t*/'\"cCbB])"
        r"(?:(?P<data>(?im:^[ \t]*begin[ \t]+data\b[^\n]*\n)[\s\S]*?(?im:^[ \t]*end[ \t]+data\b[^\n]*$))"
        r"|(?P<comment>(?im:^[ \t]*(?:\*|comment\b)[\s\S]*?(?:\.[ \t]*$|(?=\n[ \t]*$)|\Z))|/\*[^\n]*?(?:\*/|(?=\n)|\Z))"
        r"|(?P<string>'(?:[^'\n]|'')*'|\"(?:[^\"\n]|\"\")*\"))"
    ),
    "sas": re.compile(
        r"(?=[ \t*%/'\"dDcClL;])"
        r"(?:(?P<data>(?im:(?:^|(?<=;))[ \t]*(?:datalines|cards|lines)4?[ \t]*;[^\n]*\n)[\s\S]*?(?m:^[ \t]*;+[ \t]*$))"
        r"|(?P<comment>(?m:(?:^|(?<=;))[ \t]*%?\*[^;]*;)|/\*[\s\S]*?(?:\*/|\Z))"
        r"|(?P<string>'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"))"
    ),
}
_COMMENT_END = re.compile(r"\s*(?:\*+/|\.|;)\s*$")


def lex(code: str, language: str) -> tuple[list[int], list[TextBlock]]:
    """Where the comments, strings and inline data are (start, end, start, end, ... offsets), and those as text.

    Comments on consecutive lines make one block, so a table pasted line by line into `*` or `//` comments
    is read as one table.
    """
    pattern = _LEXERS.get(language, _LEXERS["r"])
    starts = _line_starts(code)
    spans: list[int] = []
    blocks: list[TextBlock] = []
    comment: list[str] = []
    comment_first = comment_last = 0
    for m in pattern.finditer(code):
        kind = m.lastgroup
        if kind is None:
            continue
        if kind == "string":
            begin = _with_prefix(code, m.start()) if language == "python" else m.start()
            spans += (begin, m.end())
            if not _ANY_DIGITS.search(code, begin, m.end()):  # every rule on strings needs a number
                continue
        else:
            begin = m.start()
            spans += (begin, m.end())
        first = bisect_right(starts, begin)
        text = code[begin : m.end()]
        lines = text.split("\n") if "\n" in text else [text]
        if kind == "comment":
            if comment and first > comment_last + 1:
                blocks.append(TextBlock(comment_first, comment, "comments"))
                comment = []
            if not comment:
                comment_first = first
            comment += _comment_text(lines)
            comment_last = first + len(lines) - 1
        elif kind == "string":
            value = _string_value(text) if language == "python" else _unescaped(text) if language == "r" else text[1:-1]
            span = (first, begin - starts[first - 1], m.end() - starts[first - 1]) if len(lines) == 1 else None
            blocks.append(TextBlock(first, value.split("\n"), "string", len(lines) == 1, span))
        else:
            blocks.append(TextBlock(first + 1, lines[1:-1], "inline data"))
    if comment:
        blocks.append(TextBlock(comment_first, comment, "comments"))
    return spans, blocks


def _with_prefix(code: str, start: int) -> int:
    """Where a Python string starts with its prefix (r, b, f, rb, ...)."""
    begin = start
    while begin > 0 and start - begin < 2 and code[begin - 1] in "rRbBuUfF":
        begin -= 1
    return begin if begin == start or begin == 0 or not (code[begin - 1].isalnum() or code[begin - 1] == "_") else start


def _comment_text(lines: list[str]) -> list[str]:
    """The words of a comment, without its markers (`#`, `*`, `//`, `/*`, `*/`, COMMENT, the closing `.` or `;`)."""
    lines = [*lines[:-1], _COMMENT_END.sub("", lines[-1], count=1)]
    return [_without_marker(line) for line in lines]


def _without_marker(line: str) -> str:
    text = line.lstrip()
    if text[:1] in ("#", "*", "/", "%"):
        text = text.lstrip("#*/%")
        return text[1:] if text[:1] == " " else text
    if text[:7].lower() == "comment" and not text[7:8].isalnum():
        return text[8:] if text[7:8] == " " else text[7:]
    return line


_FENCE = re.compile(r"^```+\s*\{?\s*([A-Za-z]+)?[^\n]*$", re.MULTILINE)


def _rmarkdown_hits(text: str, limits: PastedDataLimits, rules: Rules) -> list[Hit]:
    """R Markdown and Quarto: prose between the chunks as text, each fenced chunk in its own language."""
    lines = text.split("\n")
    hits: list[Hit] = []
    prose: list[str] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m is None:
            prose.append(lines[i])
            i += 1
            continue
        prose.append("")
        end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("```")), len(lines))
        language = (m.group(1) or "").lower()
        language = {"r": "r", "python": "python", "stata": "stata", "sas": "sas"}.get(language, "markdown")
        chunk = "\n".join(lines[i + 1 : end])
        found = (
            _text_data_hits(chunk.split("\n"), first_line=1, what="text", limits=limits, rules=rules)
            if language == "markdown"
            else _code_data_hits(chunk, language, limits, rules)
        )
        hits += [
            replace(
                h,
                line=h.line + i + 1,
                end_line=(h.end_line + i + 1) if h.end_line else 0,
                spans=tuple((ln + i + 1, a, b, r) for ln, a, b, r in h.spans),
            )
            for h in found
        ]
        prose += [""] * (end - i)
        i = end + 1
    return hits + _text_data_hits(prose, first_line=1, what="text", limits=limits, rules=rules)
