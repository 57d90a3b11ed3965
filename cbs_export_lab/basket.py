"""The export basket: outputs chosen for export, stored on disk as a manifest plus rendered artefacts.

The folder is the single source of truth shared by the kernel, the server and the CLI, so every read goes
to disk and every write takes a file lock, re-reads the manifest, applies one change and replaces the
manifest atomically. Readers never need the lock: they see the old manifest or the new one. What an item
folder holds is decided by `intake`; ids and titles come from `names`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any

from . import differencing
from .atomic import read_bytes, write_bytes
from .codes import ITEM_KINDS
from .errors import UserError
from .intake import TEXT_FILES, notebook_intake, take
from .names import clean_title, id_problem, is_inside, plain_text, slug, unique_title
from .results import STATUSES, CheckResult, Counts, Finding, never_exportable
from .rules import Rules

MANIFEST = "manifest.json"
LOCK = ".lock"
RENDERING = ".rendering.lock"  # held in an item folder while its output is rendered
ITEMS = "items"
FORMAT = "cbs_export_lab basket"
VERSION = 1
LOCK_TIMEOUT = 60.0
BACKGROUND_SUFFIX = " - achtergrondinformatie (niet vrijgeven)"
BACKGROUND_SHEETS = {
    "units": "eenheden per cel / units per cell",
    "rows": "records per cel / records per cell",
    "largest_share": "aandeel van de grootste bijdrager / share of the largest contributor",
    "two_largest_share": "aandeel van de twee grootste bijdragers / share of the two largest contributors",
    "weighted": "gewogen waarde per cel / weighted value per cell",
    "hidden": "verborgen cellen / hidden cells",
    "before": "tabel voor beveiliging / table before protection",
}
_ID_LETTER = {"table": "t", "model": "m", "figure": "g", "syntax": "s", "file": "f"}
_OPTIONAL_TYPES: dict[str, type | tuple[type, ...]] = {
    "background": bool,
    "background_for": (str, type(None)),
    "explanation": (str, type(None)),
    "exported": list,
    "rules_compliant": bool,
    "findings": list,
    "counts": dict,
    "description": str,
    "source": (str, type(None)),
    "unit": (str, type(None)),
    "weighted": bool,
    "rules_origin": str,
    "rules_fingerprint": str,
    "rules_settings": dict,
    "added_at": str,
    "protection": str,
}
_OUR_ITEM_FOLDER = re.compile(r"[tmgsf]\d{2,}-[a-z0-9-]+")


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
    protection: str = ""

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

    def __repr__(self) -> str:
        """Short, so `basket.add(...)` as the last line of a cell prints one readable line."""
        flags = "".join(
            f", {f}" for f, on in (("background", self.background), ("exported", bool(self.exported))) if on
        )
        return f"<Item {self.id} {self.kind} {self.status}{flags}: {self.title!r}>"

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["findings"] = [f.to_dict() for f in self.findings]
        d["counts"] = self.counts.to_dict()
        d["never_exportable"] = self.never_exportable
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Item:
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
        return f'{head[:-1]}, "items": [\n{body}\n]}}\n'.encode()


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
        self._recover()

    def __repr__(self) -> str:
        return f"Basket({str(self.folder)!r})"

    def _recover(self) -> None:
        """Finish an export or add that a crash interrupted (see journal.py); a damaged manifest is left alone."""
        from .journal import recover

        try:
            recover(self)
            self.tidy()
        except (BasketError, OSError):
            pass

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
        self,
        obj: Any,
        title: str,
        *,
        description: str = "",
        explanation: str | None = None,
        data: Any = None,
        unit: Any = None,
        weights: Any = None,
        background: bool = False,
        background_for: str | None = None,
    ) -> Item:
        """Check `obj` again, render it into the basket and store the verdict; returns the new item.

        A disclosive object is stored, not refused; identifier and microdata outputs are marked never
        exportable and warned about. A path to an existing file is copied as it is (status review).
        `background_for` makes the item background information (never released) for that output.
        """
        from .settings import active_rules

        title = clean_title(title)
        plain_text(description, "description")
        plain_text(explanation, "explanation")
        background = background or background_for is not None
        rules = active_rules()
        kind, result, render = take(
            obj, title, description=description, data=data, unit=unit, weights=weights, rules=rules
        )
        frames = {} if background or kind != "table" else _background_frames(obj, result)
        titles = [title] + ([title + BACKGROUND_SUFFIX] if frames else [])
        with self._reserved(kind, titles) as slots:
            rendered = [self._render(slots[0], render)]
            item = self._item_of(slots[0], kind, result, rendered[0], rules, description, explanation, background)
            item.background_for = background_for
            if frames:
                about = _background_about(item)
                rendered.append(self._render(slots[1], _background_render(item, frames, about)))
            with self._locked() as manifest:
                if background_for is not None and self._find(manifest, background_for).get("background"):
                    raise UserError(
                        f"{background_for!r} is itself background information; give background_for the "
                        "id of the output this background belongs to."
                    )
                first_title = item.title
                item = self._commit(manifest, slots[0], item, render, _protection_note(obj))
                sketch = None
                try:
                    if not background:  # differencing: this output against every stored one, both sides recorded
                        sketch = differencing.check_in_basket(
                            self.folder, manifest.items, manifest.items[-1], result.details, rules.threshold
                        )
                        item = Item.from_dict(manifest.items[-1])
                    if frames:  # a magnitude or protected table never enters without its background
                        about = _background_about(item)
                        back = self._item_of(slots[1], "table", result, rendered[1], rules, about, None, True)
                        back.background_for = item.id
                        self._commit(
                            manifest,
                            slots[1],
                            back,
                            _background_render(item, frames, about),
                            title=item.title + BACKGROUND_SUFFIX,
                            rerender=item.title != first_title,
                        )
                    self._write(manifest)
                except BaseException:
                    if sketch is not None:
                        sketch.unlink(missing_ok=True)
                    raise
        _warn_if_never_exportable(item)
        _warn_if_differencing(item)
        return item

    def add_notebook(self, path: str | os.PathLike[str], title: str) -> Item:
        """Add a stripped copy of a notebook (kind "syntax") with its scan findings; fail if the scan fails."""
        from .settings import active_rules

        title = clean_title(title)
        src = Path(path).expanduser()
        if not src.is_file():
            raise UserError(f"Notebook {src} does not exist. Give the path of an .ipynb file.")
        rules = active_rules()
        render, after_render = notebook_intake(src, rules)
        result = CheckResult(kind="syntax", rules_origin=rules.origin)
        with self._reserved("syntax", [title]) as slots:
            item = self._item_of(slots[0], "syntax", result, self._render(slots[0], render), rules, "", None, False)
            with self._locked() as manifest:
                item = self._commit(manifest, slots[0], item, render, after_render)
                self._write(manifest)
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
            shutil.rmtree(self._item_folder(d["id"]), ignore_errors=True)

    def set_explanation(self, item_id: str, text: str | None) -> Item:
        """Why this output has no disclosure risk; empty text removes the explanation."""
        text = plain_text(text, "explanation").strip() if isinstance(text, str) else None
        return self._update(item_id, lambda d: d.update(explanation=text or None))

    def mark_exported(
        self, item_ids: Iterable[str], zip_path: str | os.PathLike[str], at: datetime | str | None = None
    ) -> None:
        """Record that these items went into `zip_path` (its exportmap subfolder and name are kept)."""
        self.mark_exported_zips({Path(zip_path): list(item_ids)}, at)

    def mark_exported_zips(
        self, zips: Mapping[Path, Iterable[str]], at: datetime | str | None = None, *, only_new: bool = False
    ) -> None:
        """Record a whole export in one manifest write: every zip's items are marked, or none are.

        `only_new` (reconciling an export journal): items already recorded for that zip and items no longer in
        the basket are skipped, so reconciling twice records once.
        """
        when = at.isoformat(timespec="seconds") if isinstance(at, datetime) else at or _now()
        with self._locked() as manifest:
            ids = {d["id"] for d in manifest.items}
            for zip_path, item_ids in zips.items():
                record = {"zip": Path(zip_path).name, "folder": Path(zip_path).parent.name, "at": when}
                for item_id in item_ids:
                    if only_new and item_id not in ids:
                        continue
                    records = self._find(manifest, item_id).setdefault("exported", [])
                    if not (
                        only_new
                        and any((r.get("zip"), r.get("folder")) == (record["zip"], record["folder"]) for r in records)
                    ):
                        records.append(dict(record))
            self._write(manifest)

    def tidy(self) -> list[Path]:
        """Remove what a crashed add or remove left: item folders the manifest does not name, temp manifests.

        Only names this basket writes are touched, and only under the lock (without waiting for it: a busy
        basket is tidied at a later open). Returns what was removed.
        """
        from filelock import FileLock, Timeout

        if not self._leftovers(self._read()):
            return []
        lock = FileLock(str(self.folder / LOCK), timeout=0)
        try:
            lock.acquire()
        except (Timeout, OSError):
            return []
        try:
            gone = self._leftovers(self._read())
            for path in gone:
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
        finally:
            lock.release()
        return gone

    def _leftovers(self, manifest: _Manifest) -> list[Path]:
        known = {d["id"].lower() for d in manifest.items}
        folders = [
            p
            for p in (self.folder / ITEMS).iterdir()
            if p.is_dir() and _OUR_ITEM_FOLDER.fullmatch(p.name) and p.name.lower() not in known and not _held(p)
        ]
        return folders + sorted(self.folder.glob(f".{MANIFEST}.*.tmp"))

    # -- internals -----------------------------------------------------------------------------------------

    def _update(self, item_id: str, change: Callable[[dict[str, Any]], None]) -> Item:
        with self._locked() as manifest:
            d = self._find(manifest, item_id)
            change(d)
            self._write(manifest)
        return self._item(d)

    @contextmanager
    def _reserved(self, kind: str, titles: list[str]) -> Iterator[list[_Slot]]:
        """Item folders for outputs about to be rendered, each held by its own lock while the basket lock is free.

        Rendering a large table takes seconds; holding the basket lock that long would stop every other kernel,
        the sidebar and the CLI. A held folder is never tidied away, and its number is never given twice. On any
        error the folders go again."""
        slots: list[_Slot] = []
        try:
            with self._locked() as manifest:
                taken = {d["title"] for d in manifest.items}
                for title in titles:
                    slots.append(self._slot(manifest, kind if not slots else "table", unique_title(title, taken)))
                    taken.add(slots[-1].title)
            yield slots
        except BaseException:
            for slot in slots:
                slot.release()
                shutil.rmtree(slot.folder, ignore_errors=True)
            raise
        for slot in slots:
            slot.release()

    def _slot(self, manifest: _Manifest, kind: str, title: str) -> _Slot:
        from filelock import FileLock, Timeout

        item_id = self._new_id(manifest, kind, title)
        folder = self.folder / ITEMS / item_id
        try:
            folder.mkdir(parents=True)
            lock = FileLock(str(folder / RENDERING), timeout=0)
            lock.acquire()
        except (OSError, Timeout) as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise BasketError(
                f"Cannot make a folder for {title!r} in the basket folder {folder.parent}: "
                f"{getattr(exc, 'strerror', None) or exc}. Check that the folder is writable and the disk is not "
                "full, then add it again."
            ) from None
        return _Slot(item_id, manifest.next_number, title, folder, lock)

    def _render(self, slot: _Slot, render: Callable[[Path, str, str], list[Path]]) -> list[Path]:
        try:
            return render(slot.folder, slot.id, slot.title)
        except OSError as exc:
            raise BasketError(
                f"Cannot write {slot.title!r} into the basket folder {slot.folder}: {exc.strerror or exc}. "
                "Check that the folder is writable and the disk is not full, then add it again."
            ) from None

    def _item_of(
        self,
        slot: _Slot,
        kind: str,
        result: CheckResult,
        written: list[Path],
        rules: Rules,
        description: str,
        explanation: str | None,
        background: bool,
    ) -> Item:
        return Item(
            id=slot.id,
            title=slot.title,
            kind=kind,
            status=result.status,
            findings=list(result.findings),
            counts=result.counts,
            files=[p.relative_to(self.folder).as_posix() for p in written],
            background=background,
            explanation=(explanation or "").strip() or None,
            description=description,
            source=result.source,
            unit=result.unit,
            weighted=result.weighted,
            rules_origin=rules.origin,
            rules_compliant=rules.compliant,
            rules_fingerprint=rules.fingerprint,
            rules_settings=rules.settings(),
            added_at=_now(),
        )

    def _commit(
        self,
        manifest: _Manifest,
        slot: _Slot,
        item: Item,
        render: Callable[[Path, str, str], list[Path]],
        after_render: Callable[[Item], None] | None = None,
        *,
        title: str | None = None,
        rerender: bool = False,
    ) -> Item:
        """Append a rendered item to the manifest (under the lock; the caller writes it).

        Another add may have taken the title meanwhile: then the item gets the next free title, rendered again
        (as it is when `title` asks for another title than the one rendered, or `rerender` says its content changed)."""
        title = unique_title(title or slot.title, {d["title"] for d in manifest.items})
        if title != slot.title or rerender:
            for path in item.files:
                (self.folder / path).unlink(missing_ok=True)
            slot.title = title
            written = self._render(slot, render)
            item.title, item.files = title, [p.relative_to(self.folder).as_posix() for p in written]
        if after_render is not None:
            after_render(item)
        manifest.next_number = max(manifest.next_number, slot.next_number)
        manifest.items.append(item.to_dict())
        return item

    def _new_id(self, manifest: _Manifest, kind: str, title: str) -> str:
        """A short Windows-valid id; numbers are never reused, and a folder left by a crashed add is skipped."""
        number = manifest.next_number
        while True:
            item_id = f"{_ID_LETTER[kind]}{number:02d}-{slug(title, 24)}"
            number += 1
            if not (self.folder / ITEMS / item_id).exists():
                manifest.next_number = number
                return item_id

    def _item_folder(self, item_id: str) -> Path:
        """The folder of one item, refused unless it is a direct child of the items folder (checked before deletes)."""
        problem = id_problem(item_id)
        folder = self.folder / ITEMS / item_id
        if problem or folder.resolve().parent != (self.folder / ITEMS).resolve():
            raise self._corrupt(f"the item id {item_id!r} {problem or 'points outside the items folder'}")
        return folder

    def _item(self, d: Mapping[str, Any]) -> Item:
        try:
            return Item.from_dict(d)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
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
                raise self._corrupt(f'entry {i} of "items" is not an object')
            for key, kind in (("id", str), ("title", str), ("kind", str), ("status", str), ("files", list)):
                if not isinstance(d.get(key), kind):
                    raise self._corrupt(f'entry {i} of "items" has no valid {key!r}')
            problem = id_problem(d["id"])
            if problem:
                raise self._corrupt(f'entry {i} of "items" has the id {d["id"]!r}, which {problem}')
            for key, allowed in (("kind", ITEM_KINDS), ("status", STATUSES)):
                if d[key] not in allowed:
                    raise self._corrupt(
                        f"item {d['id']!r} has an unknown {key} {d[key]!r} ({', '.join(allowed)} expected)"
                    )
            for key, types in _OPTIONAL_TYPES.items():
                if key in d and not isinstance(d[key], types):
                    raise self._corrupt(f"item {d['id']!r} has an invalid {key!r} ({d[key]!r})")
            for key in ("findings", "exported"):
                if not all(isinstance(x, dict) for x in d.get(key, [])):
                    raise self._corrupt(f"item {d['id']!r} has an entry in {key!r} that is not an object")
            counts = d.get("counts", {})
            if not all(
                isinstance(v, int) and not isinstance(v, bool) and v >= 0
                for k, v in counts.items()
                if not (k == "observations" and v is None)
            ):
                raise self._corrupt(f"item {d['id']!r} has counts that are not whole numbers ({counts!r})")
            worst = _worst_severity(d.get("findings"))
            if STATUSES.index(d["status"]) < STATUSES.index(worst):
                raise self._corrupt(f"item {d['id']!r} has status {d['status']!r} but a finding that says {worst!r}")
            if not all(isinstance(f, str) and is_inside(f, self.folder) for f in d["files"]):
                raise self._corrupt(f"item {d['id']!r} names a file outside the basket folder")
            if d["id"].lower() in seen:  # Windows: ids differing only in case share one folder
                raise self._corrupt(f"the item id {d['id']!r} appears twice")
            seen.add(d["id"].lower())
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
            raise BasketError(
                f"The basket {self.folder} cannot be locked: {exc.strerror or exc}. Check that it is writable."
            ) from None
        try:
            yield self._read()
        finally:
            lock.release()


@dataclass
class _Slot:
    """An item folder reserved for one output: its id, the next free number after it, its title and lock."""

    id: str
    next_number: int
    title: str
    folder: Path
    lock: Any

    def release(self) -> None:
        self.lock.release()
        (self.folder / RENDERING).unlink(missing_ok=True)


def _background_about(item: Item) -> str:
    return f"Background information for the checker of {item.title!r} (basket item {item.id}). Not for release."


def _background_render(item: Item, frames: Mapping[str, Any], about: str) -> Callable[[Path, str, str], list[Path]]:
    """Units per cell and dominance shares behind a magnitude table: for the checker, never released.

    It carries the table's own findings (they are about the same cells), for display only."""

    def render(folder: Path, stem: str, t: str) -> list[Path]:
        from .excel import NO, Sheet, write_book

        sheets = [
            Sheet(
                frame,
                f"{t}: {BACKGROUND_SHEETS.get(name, name)}",
                about,
                {
                    "Achtergrond bij / Background for": f"{item.title} ({item.id})",
                    "Vrijgeven / Release": f"{NO} (niet vrijgeven / not for release)",
                },
                name=name,
            )
            for name, frame in frames.items()
        ]
        return [write_book(folder / f"{stem}.xlsx", sheets)]

    return render


def _background_frames(obj: Any, result: CheckResult) -> dict[str, Any]:
    """What stays inside the RA beside a table: the dominance shares of a magnitude table and what `cel.protect`
    took out of a protected one (the hidden values and the table before protection)."""
    from .protect import background_frames, protection_record

    stats = result.details.get("cell_stats")
    frames = dict(stats.to_frames()) if getattr(stats, "magnitude", False) else {}
    info = protection_record(obj)
    return frames if info is None else {**frames, **background_frames(info)}


def _protection_note(obj: Any) -> Callable[[Item], None] | None:
    """Records on the item which protection method `cel.protect` used, for the form."""
    from .protect import protection_record, protection_text

    info = protection_record(obj)
    if info is None:
        return None
    text = protection_text(info)
    return lambda item: setattr(item, "protection", text)


def _held(folder: Path) -> bool:
    """An item folder whose output another add is rendering right now (its lock is taken): not a leftover."""
    from filelock import FileLock, Timeout

    if not (folder / RENDERING).exists():
        return False
    lock = FileLock(str(folder / RENDERING), timeout=0)
    try:
        lock.acquire()
    except (Timeout, OSError):
        return True
    lock.release()
    return False


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
        UserWarning,
        stacklevel=3,
    )


def _warn_if_differencing(item: Item) -> None:
    others = [
        f.where.removeprefix("together with ")
        for f in item.findings
        if f.rule == "differencing" and f.severity == "fail"
    ]
    if others:
        warnings.warn(
            f"Basket item {item.id!r} ({item.title}) together with {', '.join(others)} reveals groups of fewer units "
            "than the threshold (differencing); both items now fail. Widen or drop one of them, or explain why the "
            "difference discloses nothing.",
            UserWarning,
            stacklevel=3,
        )


def _worst_severity(findings: Any) -> str:
    """The status that stored findings call for, so a hand-edited status can never be milder (fail closed)."""
    severities = {f.get("severity") for f in findings if isinstance(f, dict)} if isinstance(findings, list) else set()
    return "fail" if "fail" in severities else "review" if "review" in severities else "pass"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
