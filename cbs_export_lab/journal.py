"""The export journal: what an export is about to put in the exportmap, so a crash can never send items twice.

`prepare_export` writes the journal (atomically, in the basket folder) before its first file in the exportmap and
again, with each zip's checksum, before the first rename. The next Basket open or export reconciles it: a zip
under its final name with the journalled checksum gets its items marked exported; a `.partial` left behind is
removed; anything else is forgotten. Only files the journal names are touched: they are ours.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .atomic import remove_with_retry, write_bytes
from .errors import UserError

JOURNAL = ".export-journal.json"
EXPORT_LOCK = ".export.lock"
FORMAT = "cbs_export_lab export journal"
WRITING, RENAMING = "writing", "renaming"


@dataclass(frozen=True)
class JournalZip:
    """One zip of an export: where it goes, its temporary name, its items and (once written) its checksum."""

    target: str
    partial: str
    items: tuple[str, ...]
    sha256: str | None = None


def journal_path(basket_folder: Path) -> Path:
    return Path(basket_folder) / JOURNAL


def write_journal(basket_folder: Path, state: str, zips: Sequence[JournalZip], when: str) -> None:
    """Record the export before anything of it reaches the exportmap (a failed write stops the export)."""
    doc = {"format": FORMAT, "state": state, "at": when, "zips": [{**asdict(z), "items": list(z.items)} for z in zips]}
    try:
        write_bytes(journal_path(basket_folder), json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8"))
    except OSError as exc:
        raise UserError(
            f"The export journal in the basket folder {basket_folder} cannot be written ({exc.strerror or exc}); "
            "nothing was exported. Check that the basket folder is writable and the disk is not full."
        ) from None


def read_journal(basket_folder: Path) -> tuple[str, list[JournalZip]] | None:
    """The journal left by an export that did not finish, or None. A damaged journal names no file of ours."""
    path = journal_path(basket_folder)
    try:
        doc = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, ValueError):
        return (WRITING, [])
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("zips"), list):
        return (WRITING, [])
    zips = []
    for z in doc["zips"]:
        if isinstance(z, Mapping) and _valid_entry(z):
            zips.append(JournalZip(z["target"], z["partial"], tuple(z["items"]), z.get("sha256")))
    return (doc.get("state") if doc.get("state") in (WRITING, RENAMING) else WRITING, zips)


def _valid_entry(z: Mapping[str, Any]) -> bool:
    return (
        isinstance(z.get("target"), str)
        and isinstance(z.get("partial"), str)
        and z["partial"] == z["target"] + ".partial"
        and z["target"].endswith(".zip")
        and isinstance(z.get("items"), list)
        and all(isinstance(i, str) for i in z["items"])
        and isinstance(z.get("sha256"), (str, type(None)))
    )


def _journal_temps(basket_folder: Path) -> list[Path]:
    return sorted(Path(basket_folder).glob(f".{JOURNAL}.*.tmp"))


def clear_journal(basket_folder: Path) -> None:
    remove_with_retry(journal_path(basket_folder), missing_ok=True)


def file_sha256(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


@contextmanager
def export_lock(basket_folder: Path, *, wait: bool = False) -> Iterator[bool]:
    """Hold the basket's export lock; yields False (without waiting) when another export holds it."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(Path(basket_folder) / EXPORT_LOCK), timeout=-1 if wait else 0)
    try:
        lock.acquire()
    except Timeout:
        yield False
        return
    except OSError:  # a read-only basket: there is nothing we could write anyway
        yield False
        return
    try:
        yield True
    finally:
        lock.release()


def reconcile(basket: Any) -> list[Path]:
    """Finish the record of an export that stopped halfway; returns the zips whose items are now marked exported.

    The caller holds the export lock. A zip is ours when the journal names it and its checksum matches.
    """
    for tmp in _journal_temps(basket.folder):  # a journal write that a crash cut short
        take_back([tmp])
    found = read_journal(basket.folder)
    if found is None:
        return []
    state, zips = found
    present: dict[Path, list[str]] = {}
    stuck: list[JournalZip] = []
    for z in zips:
        target = Path(z.target)
        if not target.parent.is_dir():  # the exportmap is not reachable now (a network drive): ask again later
            stuck.append(z)
            continue
        if take_back([Path(z.partial)]):
            stuck.append(JournalZip(z.target, z.partial, ()))
        if z.sha256 and target.is_file() and file_sha256(target) == z.sha256:  # a checksum: it was complete
            present[target] = list(z.items)
    if present:
        basket.mark_exported_zips(present, only_new=True)
    if stuck:  # temporary files held open or an exportmap out of reach: named again for the next open
        write_journal(basket.folder, state, stuck, "")
    else:
        clear_journal(basket.folder)
    return list(present)


def recover(basket: Any) -> None:
    """Reconcile a journal left by a crash, unless an export is running now (it will finish its own)."""
    if not journal_path(basket.folder).exists() and not _journal_temps(basket.folder):
        return
    with export_lock(basket.folder) as held:
        if held:
            try:
                reconcile(basket)
            except (OSError, UserError):  # the next open or export tries again; the journal stays until then
                pass


def take_back(paths: Sequence[Path]) -> list[tuple[Path, OSError]]:
    """Remove zips this export put in place; returns those that could not be removed (held open on Windows)."""
    failed = []
    for path in paths:
        try:
            remove_with_retry(path, missing_ok=True)
        except OSError as exc:
            failed.append((path, exc))
    return failed
