"""The export basket: outputs chosen for export, stored on disk as a manifest plus rendered artefacts.

The folder is the single source of truth shared by the kernel, the server and the CLI, so every read goes
to disk and every write takes a file lock, re-reads the manifest, applies one change and replaces the
manifest atomically. Readers never need the lock: they see the old manifest or the new one.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import unicodedata
import warnings
import zipfile
from collections.abc import Callable, Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, Iterator

from . import differencing
from .atomic import read_bytes, write_bytes
from .errors import UserError
from .rules import Rules
from .codes import ITEM_KINDS
from .results import STATUSES, CheckResult, Counts, Finding, never_exportable, overall_status

MANIFEST = "manifest.json"
LOCK = ".lock"
ITEMS = "items"
FORMAT = "cbs_export_lab basket"
VERSION = 1
LOCK_TIMEOUT = 60.0
BACKGROUND_SUFFIX = " - achtergrondinformatie (niet vrijgeven)"
TABLE_FILES = (".csv", ".xlsx", ".parquet")
TEXT_FILES = (".py", ".r", ".rmd", ".qmd", ".sps", ".do", ".sas", ".sql", ".txt", ".md", ".log")
NEVER_EXPORTABLE_ROWS = 1000  # enough to see why; no full copy of unit records (Excel stops at 1,048,576 rows)
BACKGROUND_SHEETS = {
    "units": "eenheden per cel / units per cell", "rows": "records per cel / records per cell",
    "largest_share": "aandeel van de grootste bijdrager / share of the largest contributor",
    "two_largest_share": "aandeel van de twee grootste bijdragers / share of the two largest contributors",
    "weighted": "gewogen waarde per cel / weighted value per cell",
}
_ID_LETTER = {"table": "t", "model": "m", "figure": "g", "syntax": "s", "file": "f"}
_OPTIONAL_TYPES: dict[str, type | tuple[type, ...]] = {
    "background": bool, "background_for": (str, type(None)), "explanation": (str, type(None)), "exported": list,
    "rules_compliant": bool, "findings": list, "counts": dict, "description": str,
}


class BasketError(UserError):
    """The basket folder or manifest cannot be used; the message names the file and how to recover."""


@dataclass
class Item:
    """One output in the basket. `files` are paths relative to the basket folder (POSIX separators)."""

    id: str
    title: str
    kind: str
    status: str
    findings: list[Finding] = field(default_factory=list)
    counts: Counts = field(default_factory=Counts)
    files: list[str] = field(default_factory=list)
    background: bool = False
    background_for: str | None = None
    explanation: str | None = None
    exported: list[dict[str, Any]] = field(default_factory=list)
    description: str = ""
    source: str | None = None
    unit: str | None = None
    weighted: bool = False
    rules_origin: str = "defaults"
    rules_compliant: bool = True
    rules_fingerprint: str = ""
    rules_settings: dict[str, Any] = field(default_factory=dict)
    added_at: str = ""

    @property
    def never_exportable(self) -> bool:
        return never_exportable(self.findings)

    @property
    def needs_explanation(self) -> bool:
        """Output that does not fully meet the guidelines leaves only with an explanation (CBS, DESIGN section 2)."""
        return (self.status != "pass" or not self.rules_compliant) and not self.background

    @property
    def has_explanation(self) -> bool:
        return bool(self.explanation and self.explanation.strip())

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["findings"] = [f.to_dict() for f in self.findings]
        d["counts"] = self.counts.to_dict()
        d["never_exportable"] = self.never_exportable
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Item":
        values = {k: v for k, v in d.items() if k in _ITEM_FIELDS}
        values["findings"] = [Finding.from_dict(f) for f in d.get("findings", [])]
        values["counts"] = Counts.from_dict(d.get("counts", {}))
        return cls(**values)


_ITEM_FIELDS = frozenset(f.name for f in fields(Item))


@dataclass
class _Manifest:
    items: list[dict[str, Any]]
    next_number: int = 1

    def to_json(self) -> bytes:
        """One item a line: readable and diffable, and encoded by the fast C encoder (no `indent`)."""
        head = json.dumps({"format": FORMAT, "version": VERSION, "next_number": self.next_number}, ensure_ascii=False)
        body = ",\n".join(json.dumps(d, ensure_ascii=False) for d in self.items)
        return f'{head[:-1]}, "items": [\n{body}\n]}}\n'.encode("utf-8")


class Basket:
    """The basket in `folder` (None: the folder the project settings name). Created if missing."""

    def __init__(self, folder: str | os.PathLike[str] | None = None) -> None:
        if folder is None:
            from .settings import load_settings

            folder = load_settings().basket_folder
        self.folder = Path(folder).expanduser().resolve()
        try:
            (self.folder / ITEMS).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BasketError(
                f"The basket folder {self.folder} cannot be created or used: {exc.strerror or exc}. "
                "Choose a folder you can write to (the `basket` setting) and try again."
            ) from None

    def __repr__(self) -> str:
        return f"Basket({str(self.folder)!r})"

    @property
    def manifest_path(self) -> Path:
        return self.folder / MANIFEST

    # -- reading -------------------------------------------------------------------------------------------

    @property
    def items(self) -> list[Item]:
        """All items in insertion order, read from disk (another process may have changed them)."""
        return [self._item(d) for d in self._read().items]

    def get(self, item_id: str) -> Item:
        return self._item(self._find(self._read(), item_id))

    def path(self, item: Item | str, relative_file: str) -> Path:
        """The absolute path of one of the item's files."""
        item = self.get(item) if isinstance(item, str) else item
        if relative_file not in item.files:
            raise UserError(
                f"{relative_file!r} is not a file of basket item {item.id!r}; its files are: {', '.join(item.files) or 'none'}."
            )
        return self.folder / Path(relative_file)

    # -- adding --------------------------------------------------------------------------------------------

    def add(
        self, obj: Any, title: str, *, description: str = "", explanation: str | None = None, data: Any = None,
        unit: Any = None, weights: Any = None, background: bool = False, background_for: str | None = None,
    ) -> Item:
        """Check `obj` again, render it into the basket and store the verdict; returns the new item.

        A disclosive object is stored, not refused; identifier and microdata outputs are marked never
        exportable and warned about. A path to an existing file is copied as it is (status review).
        `background_for` makes the item background information (never released) for that output.
        """
        from .check import check
        from .settings import active_rules

        title = _clean_title(title)
        background = background or background_for is not None
        rules = active_rules()
        file = _existing_file(obj)
        if file is not None:
            result = _check_file(file, rules)
            render: Callable[[Path, str, str], list[Path]] = lambda folder, stem, t: [_copy_file(file, folder)]
            kind = "file"
        else:
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
            kind = result.kind
            render = _renderer(kind, obj, description, result, rules.compliant)
        stats = result.details.get("cell_stats")
        with_background = not background and kind == "table" and getattr(stats, "magnitude", False)
        with self._locked() as manifest:
            if background_for is not None and self._find(manifest, background_for).get("background"):
                raise UserError(f"{background_for!r} is itself background information; give background_for the "
                                "id of the output this background belongs to.")
            item = self._store(manifest, kind, title, result, render, description=description,
                               explanation=explanation, background=background, background_for=background_for,
                               rules=rules, write=False)
            sketch = None
            try:
                if not background:  # differencing: this output against every stored one, both sides recorded
                    sketch = differencing.check_in_basket(self.folder, manifest.items, manifest.items[-1],
                                                          result.details, rules.threshold)
                    item = Item.from_dict(manifest.items[-1])
                if with_background:  # a magnitude table never enters the basket without its background
                    self._store_background(manifest, item, stats.to_frames(), result, rules)
                else:
                    self._write(manifest)
            except BaseException:
                shutil.rmtree(self.folder / ITEMS / item.id, ignore_errors=True)
                if sketch is not None:
                    sketch.unlink(missing_ok=True)
                raise
        _warn_if_never_exportable(item)
        _warn_if_differencing(item)
        return item

    def add_notebook(self, path: str | os.PathLike[str], title: str) -> Item:
        """Add a stripped copy of a notebook (kind "syntax") with its scan findings; fail if the scan fails."""
        from .settings import active_rules
        from .strip import strip_notebook

        title = _clean_title(title)
        src = Path(path).expanduser()
        if not src.is_file():
            raise UserError(f"Notebook {src} does not exist. Give the path of an .ipynb file.")
        rules = active_rules()
        reports = []

        def render(folder: Path, stem: str, _title: str) -> list[Path]:
            dst = folder / f"{stem}.ipynb"
            reports.append(strip_notebook(src, dst, rules=rules))
            return sorted(p for p in folder.iterdir() if p.is_file())

        with self._locked() as manifest:
            item = self._store(manifest, "syntax", title, CheckResult(kind="syntax", rules_origin=rules.origin),
                               render, description="", explanation=None, background=False, background_for=None,
                               rules=rules, after_render=lambda i: _apply_strip(i, reports[0], src.name))
        _warn_if_never_exportable(item)
        return item

    # -- changing ------------------------------------------------------------------------------------------

    def remove(self, item_id: str) -> None:
        """Remove an item, its files and the background items that belong to it."""
        with self._locked() as manifest:
            self._find(manifest, item_id)
            gone = [d for d in manifest.items if d["id"] == item_id or d.get("background_for") == item_id]
            manifest.items = [d for d in manifest.items if d not in gone]
            for d in gone:
                differencing.forget(self.folder, d, manifest.items)
            self._write(manifest)
        for d in gone:
            shutil.rmtree(self.folder / ITEMS / d["id"], ignore_errors=True)

    def set_explanation(self, item_id: str, text: str | None) -> Item:
        """Why this output has no disclosure risk; empty text removes the explanation."""
        text = text.strip() if isinstance(text, str) else None
        return self._update(item_id, lambda d: d.update(explanation=text or None))

    def mark_exported(self, item_ids: Iterable[str], zip_path: str | os.PathLike[str], at: datetime | str | None = None) -> None:
        """Record that these items went into `zip_path` (its exportmap subfolder and name are kept)."""
        self.mark_exported_zips({Path(zip_path): list(item_ids)}, at)

    def mark_exported_zips(self, zips: Mapping[Path, Iterable[str]], at: datetime | str | None = None) -> None:
        """Record a whole export in one manifest write: every zip's items are marked, or none are."""
        when = at.isoformat(timespec="seconds") if isinstance(at, datetime) else at or _now()
        with self._locked() as manifest:
            for zip_path, item_ids in zips.items():
                record = {"zip": Path(zip_path).name, "folder": Path(zip_path).parent.name, "at": when}
                for item_id in item_ids:
                    self._find(manifest, item_id).setdefault("exported", []).append(dict(record))
            self._write(manifest)

    # -- internals -----------------------------------------------------------------------------------------

    def _update(self, item_id: str, change: Callable[[dict[str, Any]], None]) -> Item:
        with self._locked() as manifest:
            d = self._find(manifest, item_id)
            change(d)
            self._write(manifest)
        return self._item(d)

    def _store(
        self, manifest: _Manifest, kind: str, title: str, result: CheckResult,
        render: Callable[[Path, str, str], list[Path]], *, description: str, explanation: str | None,
        background: bool, background_for: str | None, rules: Rules,
        after_render: Callable[[Item], None] | None = None, write: bool = True,
    ) -> Item:
        """Render one item into its own folder and append it to the manifest (written now unless `write` is False)."""
        title = _unique_title(title, {d["title"] for d in manifest.items})
        item_id = self._new_id(manifest, kind, title)
        folder = self.folder / ITEMS / item_id
        try:
            folder.mkdir(parents=True)
            written = render(folder, item_id, title)
            item = Item(
                id=item_id, title=title, kind=kind, status=result.status, findings=list(result.findings),
                counts=result.counts, files=[p.relative_to(self.folder).as_posix() for p in written],
                background=background, background_for=background_for,
                explanation=(explanation or "").strip() or None, description=description, source=result.source,
                unit=result.unit, weighted=result.weighted, rules_origin=rules.origin,
                rules_compliant=rules.compliant, rules_fingerprint=rules.fingerprint,
                rules_settings=rules.settings(), added_at=_now(),
            )
            if after_render is not None:
                after_render(item)
            manifest.items.append(item.to_dict())
            if write:
                self._write(manifest)
        except OSError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise BasketError(
                f"Cannot write {title!r} into the basket folder {folder}: {exc.strerror or exc}. "
                "Check that the folder is writable and the disk is not full, then add it again."
            ) from None
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return item

    def _store_background(
        self, manifest: _Manifest, item: Item, frames: Mapping[str, Any], result: CheckResult, rules: Rules
    ) -> Item:
        """Units per cell and dominance shares behind a magnitude table: for the checker, never released.

        It carries the table's own findings (they are about the same cells), for display only.
        """
        from .excel import NO, Sheet, write_book

        title = item.title + BACKGROUND_SUFFIX
        about = f"Background information for the checker of {item.title!r} (basket item {item.id}). Not for release."

        def render(folder: Path, stem: str, t: str) -> list[Path]:
            sheets = [
                Sheet(frame, f"{t}: {BACKGROUND_SHEETS.get(name, name)}", about,
                      {"Achtergrond bij / Background for": f"{item.title} ({item.id})",
                       "Vrijgeven / Release": f"{NO} (niet vrijgeven / not for release)"}, name=name)
                for name, frame in frames.items()
            ]
            return [write_book(folder / f"{stem}.xlsx", sheets)]

        return self._store(manifest, "table", title, result, render, description=about, explanation=None,
                           background=True, background_for=item.id, rules=rules)

    def _new_id(self, manifest: _Manifest, kind: str, title: str) -> str:
        """A short Windows-valid id; numbers are never reused, and a folder left by a crashed add is skipped."""
        number = manifest.next_number
        while True:
            item_id = f"{_ID_LETTER[kind]}{number:02d}-{_slug(title, 24)}"
            number += 1
            if not (self.folder / ITEMS / item_id).exists():
                manifest.next_number = number
                return item_id

    def _item(self, d: Mapping[str, Any]) -> Item:
        try:
            return Item.from_dict(d)
        except (KeyError, TypeError, ValueError) as exc:
            raise self._corrupt(f"item {d.get('id', '?')!r} cannot be read ({type(exc).__name__}: {exc})") from None

    def _find(self, manifest: _Manifest, item_id: str) -> dict[str, Any]:
        for d in manifest.items:
            if d["id"] == item_id:
                return d
        known = ", ".join(d["id"] for d in manifest.items) or "none (the basket is empty)"
        raise UserError(f"There is no item {item_id!r} in the basket {self.folder}. Known items: {known}.")

    def _read(self) -> _Manifest:
        path = self.manifest_path
        try:
            raw = read_bytes(path)
        except FileNotFoundError:
            return _Manifest(items=[])
        except OSError as exc:
            raise BasketError(f"The basket manifest {path} cannot be read: {exc.strerror or exc}.") from None
        try:
            doc = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise self._corrupt(f"it is not valid JSON ({exc})") from None
        return self._validated(doc)

    def _validated(self, doc: Any) -> _Manifest:
        if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
            raise self._corrupt('it is not a basket manifest (expected an object with an "items" list)')
        version = doc.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise self._corrupt('it has no format "version" number')
        if version > VERSION:
            raise BasketError(
                f"The basket manifest {self.manifest_path} was written by a newer cbs_export_lab (format "
                f"version {version}; this one reads up to {VERSION}). Upgrade cbs_export_lab to use this basket."
            )
        seen: set[str] = set()
        for i, d in enumerate(doc["items"], 1):
            if not isinstance(d, dict):
                raise self._corrupt(f"entry {i} of \"items\" is not an object")
            for key, kind in (("id", str), ("title", str), ("kind", str), ("status", str), ("files", list)):
                if not isinstance(d.get(key), kind):
                    raise self._corrupt(f"entry {i} of \"items\" has no valid {key!r}")
            for key, allowed in (("kind", ITEM_KINDS), ("status", STATUSES)):
                if d[key] not in allowed:
                    raise self._corrupt(f"item {d['id']!r} has an unknown {key} {d[key]!r} ({', '.join(allowed)} expected)")
            for key, types in _OPTIONAL_TYPES.items():
                if key in d and not isinstance(d[key], types):
                    raise self._corrupt(f"item {d['id']!r} has an invalid {key!r} ({d[key]!r})")
            counts = d.get("counts", {})
            if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
                       for k, v in counts.items() if not (k == "observations" and v is None)):
                raise self._corrupt(f"item {d['id']!r} has counts that are not whole numbers ({counts!r})")
            worst = _worst_severity(d.get("findings"))
            if STATUSES.index(d["status"]) < STATUSES.index(worst):
                raise self._corrupt(f"item {d['id']!r} has status {d['status']!r} but a finding that says {worst!r}")
            if not all(isinstance(f, str) and _inside(f) for f in d["files"]):
                raise self._corrupt(f"item {d['id']!r} names a file outside the basket folder")
            if d["id"] in seen:
                raise self._corrupt(f"the item id {d['id']!r} appears twice")
            seen.add(d["id"])
        next_number = doc.get("next_number", len(doc["items"]) + 1)
        if not isinstance(next_number, int) or isinstance(next_number, bool) or next_number < 1:
            raise self._corrupt('"next_number" is not a positive whole number')
        return _Manifest(items=doc["items"], next_number=next_number)

    def _corrupt(self, why: str) -> BasketError:
        return BasketError(
            f"The basket manifest {self.manifest_path} is damaged or was edited by hand: {why}. It has been left "
            "as it is. Restore it from a backup or fix it; or move it (and the items folder) elsewhere to start "
            "a new, empty basket."
        )

    def _write(self, manifest: _Manifest) -> None:
        try:
            write_bytes(self.manifest_path, manifest.to_json())
        except OSError as exc:
            raise BasketError(
                f"The basket manifest {self.manifest_path} cannot be written: {exc.strerror or exc}. The previous "
                "version is unchanged. Check that the folder is writable and the disk is not full."
            ) from None

    @contextmanager
    def _locked(self) -> Iterator[_Manifest]:
        """Hold the basket lock and yield the manifest as it is on disk now."""
        from filelock import FileLock, Timeout

        lock = FileLock(str(self.folder / LOCK), timeout=LOCK_TIMEOUT)
        try:
            lock.acquire()
        except Timeout:
            raise BasketError(
                f"The basket {self.folder} stayed locked by another process for {LOCK_TIMEOUT:.0f} seconds. "
                "Wait until the other export or kernel has finished, then try again."
            ) from None
        except OSError as exc:
            raise BasketError(f"The basket {self.folder} cannot be locked: {exc.strerror or exc}. Check that it is writable.") from None
        try:
            yield self._read()
        finally:
            lock.release()


def _renderer(
    kind: str, obj: Any, description: str, result: CheckResult, compliant: bool
) -> Callable[[Path, str, str], list[Path]]:
    """How to write the artefacts of a checked object into its item folder."""
    if kind == "table":
        def render(folder: Path, stem: str, title: str) -> list[Path]:
            from .excel import write_sheet

            frame = getattr(obj, "data", obj) if type(obj).__name__ == "Styler" else obj
            about, rows = description, len(frame)
            if result.never_exportable and rows > NEVER_EXPORTABLE_ROWS:
                frame = frame.head(NEVER_EXPORTABLE_ROWS)
                about = " ".join(filter(None, [description, (
                    f"Only the first {NEVER_EXPORTABLE_ROWS:,} of {rows:,} rows are kept here: this output holds "
                    "identifying data or unit records and can never be exported.")]))
            marks = {s: [(r, c, f.message) for f in result.findings if f.severity == s for r, c in f.cells]
                     for s in ("fail", "review")}
            return [write_sheet(folder / f"{stem}.xlsx", frame, title=title, description=about,
                                meta=_table_meta(result, compliant), marked_cells=marks["fail"],
                                review_cells=marks["review"])]
    elif kind == "model":
        def render(folder: Path, stem: str, title: str) -> list[Path]:
            from . import models

            xlsx, txt = folder / f"{stem}.xlsx", folder / f"{stem}.txt"
            models.write_excel(obj, xlsx, title=title, description=description)
            models.write_text(obj, txt, title=title, description=description)
            return [xlsx, txt]
    else:
        def render(folder: Path, stem: str, title: str) -> list[Path]:
            from . import figures

            png = folder / f"{stem}.png"
            figures.save_png(figures.as_figure(obj), png)
            return [png]
    return render


def _table_meta(result: CheckResult, compliant: bool) -> dict[str, Any]:
    """The rows above a table that a checker reads first, labelled in Dutch and English like the form."""
    from .excel import NO, NOT_GIVEN, STATUS_LABELS, UNKNOWN, YES

    n = result.counts.observations
    return {
        "Ongewogen N / Unweighted N": UNKNOWN if n is None else n,
        "Eenheid / Unit": result.unit or NOT_GIVEN,
        "Gewogen / Weighted": f"{YES} (cellen getoetst op ongewogen aantallen / cells checked on unweighted counts)"
                              if result.weighted else NO,
        "Bron celstatistieken / Cell statistics from": result.source or UNKNOWN,
        "Status": STATUS_LABELS[result.status],
        "Regels / Rules": result.rules_origin + ("" if compliant else
                                                 " (ruimer dan de CBS-standaard / looser than the CBS defaults)"),
    }


def _warn_if_never_exportable(item: Item) -> None:
    if not item.never_exportable:
        return
    if item.kind == "syntax" or any(PurePosixPath(f).suffix.lower() in TEXT_FILES for f in item.files):
        what = "identifying values (such as RINPERSOON numbers) in its code or text"
        fix = "Remove those values from the notebook or script and add it again."
    else:
        what = "identifying data or unit records (a linking key such as RINPERSOON, or one row per person or business)"
        fix = "Aggregate it into a table without identifiers and add that instead."
    warnings.warn(
        f"Basket item {item.id!r} ({item.title}) contains {what}. It is kept in the basket so you can see why, "
        f"but it can never be exported. {fix}",
        UserWarning, stacklevel=3,
    )


def _warn_if_differencing(item: Item) -> None:
    others = [f.where.removeprefix("together with ") for f in item.findings
              if f.rule == "differencing" and f.severity == "fail"]
    if others:
        warnings.warn(
            f"Basket item {item.id!r} ({item.title}) together with {', '.join(others)} reveals groups of fewer units "
            "than the threshold (differencing); both items now fail. Widen or drop one of them, or explain why the "
            "difference discloses nothing.", UserWarning, stacklevel=3,
        )


def _apply_strip(item: Item, report: Any, name: str) -> None:
    removed = ", ".join(f"{part.replace('_', ' ')} ({n})" for part, n in report.removed.items() if n) or "nothing"
    item.description = f"Notebook {name} without outputs or embedded data (removed: {removed}), with its code as a script."
    item.findings = list(report.findings)
    status = overall_status(item.findings)
    item.status = "fail" if not report.ok else status


def _existing_file(obj: Any) -> Path | None:
    if isinstance(obj, (str, os.PathLike)):
        try:
            path = Path(obj).expanduser()
            return path if path.is_file() else None
        except (OSError, ValueError):
            return None
    return None


def _check_file(path: Path, rules: Any) -> CheckResult:
    """A file is copied as it is, so it is always reviewed; a table file is also checked as a table, and a script
    or text file is scanned for ids and pasted data like a notebook."""
    findings = [Finding(
        "unsupported", "review",
        f"The file {path.name} is exported as it is; cbs_export_lab cannot fully check a file's contents.",
        where=f"file {path.name}",
        fix="Add the table, model or figure itself instead when you can, or explain in the explanation what the "
            "file contains and why it has no disclosure risk.",
    )]
    counts = Counts()
    if path.suffix.lower() in TEXT_FILES:
        from .strip import scan_text

        text = path.read_text(encoding="utf-8", errors="replace")
        findings += scan_text(text, cell=f"file {path.name}", rules=rules)
    if path.suffix.lower() in TABLE_FILES:
        try:
            table = read_table_file(path)
        except UserError:  # an unreadable table file stays a plain file under review
            table = None
        if table is not None:
            from .check import check

            checked = check(table, rules=rules)
            findings += checked.findings
            counts = checked.counts
    return CheckResult(kind="file", findings=findings, counts=counts, source=f"file {path.name}", rules_origin=rules.origin)


CSV_DELIMITERS = ",;\t|"


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
        raise UserError(f"{path}: only {', '.join(TABLE_FILES)} files can be read as tables, not "
                        f"{suffix or 'files without a suffix'}. Save the table in one of those formats, or check "
                        "the object itself in Python with cel.check.")
    if not path.is_file():
        raise UserError(f"{path} does not exist. Give the path of the table file to check.")
    try:
        if suffix == ".csv":
            with open(path, encoding="utf-8-sig", newline="") as fh:
                sample = fh.read(64 * 1024)
            try:
                sep = csv.Sniffer().sniff(sample, delimiters=CSV_DELIMITERS).delimiter
            except csv.Error:
                sep = ","
            frame = pd.read_csv(path, sep=sep, decimal="," if sep == ";" else ".", encoding="utf-8-sig")
        elif suffix == ".xlsx":
            frame = pd.read_excel(path, sheet_name=sheet or 0, engine="openpyxl")
        else:
            frame = pd.read_parquet(path)
    except (ValueError, OSError, ImportError, zipfile.BadZipFile) as exc:
        raise UserError(f"{path} cannot be read as a table ({str(exc).rstrip('.')}). Check that it is a valid "
                        f"{suffix[1:]} file{' in UTF-8' if suffix == '.csv' else ''}.") from None
    labels = []
    for name in frame.columns:
        if pd.api.types.is_numeric_dtype(frame[name]) or len(labels) == frame.shape[1] - 1:
            break
        labels.append(name)
    return frame.set_index(labels) if labels else frame


def _copy_file(src: Path, folder: Path) -> Path:
    dst = folder / _safe_filename(src.name)
    shutil.copy2(src, dst)
    return dst


WINDOWS_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))})


def _safe_filename(name: str) -> str:
    clean = re.sub(r'[<>:"/\\|?*\x00-\x1f]', "_", name).rstrip(". ") or "file"
    if clean.split(".")[0].upper() in WINDOWS_RESERVED:
        clean = "_" + clean
    return clean[:120]


def _slug(text: str, limit: int) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:limit].rstrip("-") or "item"


def _clean_title(title: Any) -> str:
    if not isinstance(title, str) or not title.strip():
        raise UserError("Every basket item needs a title: give a short non-empty text, e.g. \"Inkomen per gemeente\".")
    return title.strip()


def _unique_title(title: str, taken: set[str]) -> str:
    if title not in taken:
        return title
    n = 2
    while f"{title} ({n})" in taken:
        n += 1
    return f"{title} ({n})"


def _worst_severity(findings: Any) -> str:
    """The status that stored findings call for, so a hand-edited status can never be milder (fail closed)."""
    severities = {f.get("severity") for f in findings if isinstance(f, dict)} if isinstance(findings, list) else set()
    return "fail" if "fail" in severities else "review" if "review" in severities else "pass"


def _inside(relative: str) -> bool:
    path = PurePosixPath(relative)
    return not path.is_absolute() and ".." not in path.parts and not PureWindowsPath(relative).drive


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
