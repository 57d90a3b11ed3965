"""Prepare the export: route basket items into the exportmap zips CBS asks for (DESIGN section 2).

`plan_export` only decides (it reads the basket and the exportmap, writes nothing); `prepare_export` writes the
planned zips under temporary names, renames them when all are complete and only then marks the items exported,
so a failed export leaves no zip and an unchanged basket. An export journal in the basket folder (journal.py)
names every file before it reaches the exportmap, so an export killed at any point is finished or forgotten
at the next open or export, never sent twice.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .atomic import replace_with_retry
from .basket import Basket, Item
from .errors import UserError
from .journal import (
    EXPORT_LOCK,
    RENAMING,
    WRITING,
    JournalZip,
    clear_journal,
    journal_path,
    read_journal,
    reconcile,
    recover,
    take_back,
    write_journal,
)
from .light import LightBudget, compliant, count_of, hold_reason, light_budget
from .names import is_inside, safe_name
from .settings import MODES, load_settings

VOORAF = "1_Controle vooraf"
ACHTERAF = "2_Controle achteraf"
BACKGROUND = "3_Achtergrondinformatie (niet vrijgeven)"
BACKGROUND_IN_ZIP = "achtergrondinformatie (niet vrijgeven)"
BACKGROUND_LABEL = "achtergrondinformatie"
SYNTAX_LABEL = "syntax"
FORM_NAME = "outputcontroleformulier.xlsx"
CHECKSUMS_NAME = "checksums.sha256"
PARTIAL_SUFFIX = ".partial"
WRITE_ORDER = (BACKGROUND, VOORAF, ACHTERAF)
_ZIP_EPOCH_MIN = datetime(1980, 1, 1, tzinfo=timezone.utc)


@dataclass
class PlannedZip:
    """One zip to write: the exportmap subfolder, its file name, the item ids in it, LIGHT_ or not, and why."""

    folder: str
    name: str
    items: list[str]
    light: bool
    why: str
    label: str = ""
    budget: LightBudget | None = None


@dataclass
class Blocked:
    """An item held back from this export: in no zip and on no form."""

    item_id: str
    title: str
    reason: str


@dataclass
class ExportPlan:
    """What `prepare_export` would write, decided without writing anything."""

    mode: str
    zips: list[PlannedZip] = field(default_factory=list)
    blocked: list[Blocked] = field(default_factory=list)
    exportmap: Path | None = None
    project: str | None = None
    researcher: str | None = None
    created: datetime | None = None
    items: dict[str, Item] = field(default_factory=dict, repr=False)
    basket_folder: Path | None = field(default=None, repr=False)

    def describe(self) -> list[str]:
        """Plain sentences for the sidebar and `cbs-export prepare --dry-run`."""
        lines = []
        if not self.zips:
            lines.append("Nothing to export: the basket has no item that can leave now.")
        for z in self.zips:
            outputs = [self.items[i] for i in z.items if not self.items[i].background]
            background = [self.items[i] for i in z.items if self.items[i].background]
            what = count_of(len(outputs), "syntax file" if z.label == SYNTAX_LABEL else "output")
            if not outputs:
                what = count_of(len(background), "background file")
            titles = ", ".join(f"'{i.title}'" for i in (outputs or background))
            line = f"{what.capitalize()} go{'es' if (len(outputs) or len(background)) == 1 else ''} to {z.folder} as {z.name}: {titles}."
            if outputs and background:
                line += f" With {count_of(len(background), 'background file')} inside, under '{BACKGROUND_IN_ZIP}/'."
            lines.append(f"{line} {z.why}")
        for b in self.blocked:
            lines.append(f"'{b.title}' is held back because {b.reason}")
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "exportmap": str(self.exportmap) if self.exportmap else None,
            "project": self.project,
            "researcher": self.researcher,
            "created": self.created.isoformat() if self.created else None,
            "zips": [
                {
                    "folder": z.folder,
                    "name": z.name,
                    "items": list(z.items),
                    "light": z.light,
                    "why": z.why,
                    "label": z.label,
                    "budget": z.budget.verdict() if z.budget else None,
                }
                for z in self.zips
            ],
            "blocked": [{"item_id": b.item_id, "title": b.title, "reason": b.reason} for b in self.blocked],
            "description": self.describe(),
        }


@dataclass
class ExportResult:
    """The zips written (full paths) and the items held back."""

    zips: list[Path] = field(default_factory=list)
    blocked: list[Blocked] = field(default_factory=list)


def export_clock() -> datetime:
    """The export time: $SOURCE_DATE_EPOCH (UTC) when set, so the same basket gives the same zips; else now."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch:
        try:
            return datetime.fromtimestamp(int(epoch), timezone.utc)
        except (ValueError, OverflowError, OSError):
            raise UserError(
                f"SOURCE_DATE_EPOCH={epoch!r} is not a number of seconds since 1970. Unset it or give whole seconds."
            ) from None
    return datetime.now().astimezone()


def _project_part(project: str | None) -> str:
    return safe_name(project or "", fallback="output", limit=40).replace(" ", "_")


def zip_name(project: str | None, when: datetime, label: str = "", light: bool = False, counter: int = 1) -> str:
    """`[LIGHT_]<project>_<YYYYMMDD-HHMMSS>[_<label>][_<counter>].zip`."""
    parts = [_project_part(project), when.strftime("%Y%m%d-%H%M%S")]
    if label:
        parts.append(label)
    if counter > 1:
        parts.append(str(counter))
    return ("LIGHT_" if light else "") + "_".join(parts) + ".zip"


# --- deciding ------------------------------------------------------------------------------------------------


def resolve_mode(exportmap: Path, mode: str | None, settings_mode: str | None) -> str:
    """The argument, then the project settings, then what the exportmap's subfolders say."""
    chosen = mode or settings_mode
    if chosen is not None:
        if chosen not in MODES:
            raise UserError(f"Mode must be 'vooraf' or 'achteraf', not {chosen!r}.")
        return chosen
    if (exportmap / ACHTERAF).is_dir():
        return "achteraf"
    if (exportmap / VOORAF).is_dir():
        return "vooraf"
    raise UserError(
        f"The exportmap {exportmap} has no subfolder '{VOORAF}', so this does not look like a CBS exportmap. "
        "Set the right exportmap path in the project settings or give it with --exportmap."
    )


_compliant = compliant
_hold_reason = hold_reason


def meter_mode(exportmap: str | os.PathLike[str] | None, settings_mode: str | None = None) -> str:
    """The mode the output-light meter assumes: the one the plan would use, else vooraf (all output in one zip)."""
    if settings_mode in MODES:
        return settings_mode
    if exportmap is not None and Path(exportmap).expanduser().is_dir():
        try:
            return resolve_mode(Path(exportmap).expanduser(), None, None)
        except UserError:
            pass
    return "vooraf"


def route(
    items: Sequence[Item], mode: str, *, include_exported: bool = False
) -> tuple[list[PlannedZip], list[Blocked]]:
    """Where each item goes (DESIGN section 2); zips come back unnamed, in the order they must be written."""
    if mode not in MODES:
        raise UserError(f"Mode must be 'vooraf' or 'achteraf', not {mode!r}.")
    by_id = {i.id: i for i in items}
    todo = [i for i in items if include_exported or not i.exported]
    blocked: list[Blocked] = []
    dest: dict[str, tuple[str, str]] = {}
    for item in todo:
        if item.background:
            continue
        reason = _hold_reason(item)
        if reason:
            blocked.append(Blocked(item.id, item.title, reason))
            continue
        label = SYNTAX_LABEL if item.kind == "syntax" else ""
        folder = ACHTERAF if mode == "achteraf" and _compliant(item) else VOORAF
        dest[item.id] = (folder, label)

    output_zip_keys = [k for k in dict.fromkeys(dest.values()) if k[1] == ""]
    for item in todo:
        if not item.background:
            continue
        owner = by_id.get(item.background_for) if item.background_for else None
        if item.background_for and owner is None:
            reason = f"the output it belongs to ({item.background_for}) is no longer in the basket."
        elif owner is not None and owner.id not in dest:
            if any(b.item_id == owner.id for b in blocked):
                reason = f"it belongs to '{owner.title}', which is held back."
            else:
                reason = (
                    f"it belongs to '{owner.title}', which was exported before. Export again including "
                    "exported items to send them together."
                )
        elif owner is None and not output_zip_keys:
            reason = "there is no output in this export for it to go with."
        else:
            reason = None
        if reason:
            blocked.append(Blocked(item.id, item.title, reason))
            continue
        if owner is not None:
            key = dest[owner.id]
        else:
            key = (ACHTERAF, "") if (ACHTERAF, "") in output_zip_keys else output_zip_keys[0]
        dest[item.id] = (BACKGROUND, BACKGROUND_LABEL) if key[0] == ACHTERAF else key

    zips = []
    keys = sorted(dict.fromkeys(dest.values()), key=lambda k: (WRITE_ORDER.index(k[0]), k[1]))
    for folder, label in keys:
        members = [i.id for i in todo if dest.get(i.id) == (folder, label)]
        outputs = [by_id[i] for i in members if not by_id[i].background]
        budget = light_budget(outputs) if folder == VOORAF and label == "" else None
        light, why = _why(mode, folder, label, budget)
        zips.append(PlannedZip(folder, "", members, light, why, label, budget))
    return zips, blocked


def _why(mode: str, folder: str, label: str, budget: LightBudget | None) -> tuple[bool, str]:
    if folder == BACKGROUND:
        return False, (
            "Background information for the outputs in 2_Controle achteraf: it helps the checker and is not released."
        )
    if label == SYNTAX_LABEL:
        where = (
            "they contain no data"
            if folder == ACHTERAF and mode == "achteraf"
            else "CBS checks them beforehand"
            if mode == "achteraf"
            else "the project is checked beforehand"
        )
        return False, f"Syntax and documentation go in their own zip, never LIGHT_ ({where}); exporting them is free."
    if folder == ACHTERAF:
        return False, (
            "Fully compliant output (status pass, checked with rules no looser than the CBS defaults) may "
            "be checked afterwards; output light is not allowed in 2_Controle achteraf."
        )
    if mode == "vooraf":
        why = "The project's output is checked beforehand by CBS, so all output goes in one zip in 1_Controle vooraf."
    else:
        why = (
            "Output that does not fully meet the guidelines (an explained review or fail, or checked with rules "
            "looser than the defaults) is checked beforehand by CBS."
        )
    budget = budget or light_budget([])
    if budget.fits:
        return True, f"{why} This zip is output light ({budget.details()}), so its name starts with LIGHT_."
    return False, f"{why} This zip is not output light ({budget.details()}), so its name has no LIGHT_."


def _basket_items(basket: Basket | Sequence[Item]) -> list[Item]:
    return basket.items if isinstance(basket, Basket) else list(basket)


def _exportmap_folder(exportmap: str | os.PathLike[str] | None, settings_exportmap: Path | None) -> Path:
    chosen = exportmap if exportmap is not None else settings_exportmap
    if chosen is None:
        raise UserError(
            "No exportmap given and none in the project settings. Give the exportmap folder "
            "(e.g. --exportmap F:/exportmap) or set 'exportmap' in cbs-export.toml."
        )
    root = Path(chosen).expanduser()
    if not root.is_dir():
        raise UserError(
            f"The exportmap {root} does not exist or is not a folder. Check the path (on the RA it is "
            "on the F: drive) or set the right one in the project settings."
        )
    return root.resolve()


def plan_export(
    basket: Basket | Sequence[Item],
    exportmap: str | os.PathLike[str] | None = None,
    *,
    mode: str | None = None,
    project: str | None = None,
    researcher: str | None = None,
    include_exported: bool = False,
    when: datetime | None = None,
) -> ExportPlan:
    """Decide which items go in which zip, and which are held back. Writes nothing.

    `when` is the export time the zip names carry (default: now); give a shown plan's `created` to get its names."""
    settings = load_settings()
    if isinstance(basket, Basket):
        recover(basket)  # an export that stopped halfway is recorded first, so the plan does not offer it again
    root = _exportmap_folder(exportmap, settings.exportmap_folder)
    chosen_mode = resolve_mode(root, mode, settings.mode)
    items = _basket_items(basket)
    zips, blocked = route(items, chosen_mode, include_exported=include_exported)
    for folder in dict.fromkeys([VOORAF if chosen_mode == "vooraf" else ACHTERAF, *(z.folder for z in zips)]):
        if not (root / folder).is_dir():
            needed = "which every exportmap has" if folder == VOORAF else f"which mode '{chosen_mode}' needs"
            raise UserError(
                f"The exportmap {root} has no subfolder '{folder}', {needed}. Check the exportmap path, or the "
                "mode: only projects that CBS approved for checking afterwards use 'achteraf'."
            )
    when = when or export_clock()
    project = project or settings.project
    named = [replace(z, name=_free_name(root / z.folder, project, when, z.label, z.light)) for z in zips]
    return ExportPlan(
        mode=chosen_mode,
        zips=named,
        blocked=blocked,
        exportmap=root,
        project=project,
        researcher=researcher or settings.researcher,
        created=when,
        items={i.id: i for i in items},
        basket_folder=basket.folder if isinstance(basket, Basket) else None,
    )


def _free_name(folder: Path, project: str | None, when: datetime, label: str, light: bool) -> str:
    counter = 1
    while True:
        name = zip_name(project, when, label, light, counter)
        if not (folder / name).exists() and not (folder / (name + PARTIAL_SUFFIX)).exists():
            return name
        counter += 1


# --- writing -------------------------------------------------------------------------------------------------


def prepare_export(
    basket: Basket,
    exportmap: str | os.PathLike[str] | None = None,
    *,
    mode: str | None = None,
    project: str | None = None,
    researcher: str | None = None,
    include_exported: bool = False,
    planned_at: datetime | str | None = None,
) -> ExportResult:
    """Write the planned zips into the exportmap, then mark their items exported in the basket.

    `planned_at` (the `created` of the plan the user saw) makes the zips carry the names that plan showed.

    One export of a basket runs at a time, so a second click or a terminal export cannot send the same
    outputs to CBS twice.
    """
    with _export_lock(basket):
        _finish_earlier_export(basket)
        plan = plan_export(
            basket,
            exportmap,
            mode=mode,
            project=project,
            researcher=researcher,
            include_exported=include_exported,
            when=_planned_time(planned_at),
        )
        if not plan.zips:
            return ExportResult([], plan.blocked)
        contents = [(z, _zip_members(plan, z, basket)) for z in plan.zips]
        written = write_zips(plan, contents)
        marked = {path: list(z.items) for z, path in zip(plan.zips, written, strict=True)}
        try:
            basket.mark_exported_zips(marked, plan.created)
        except BaseException as exc:
            # Zips whose items are not marked would be sent again by the next export: take them back.
            stuck = _take_back(plan, [(p, marked[p]) for p in written])
            if isinstance(exc, UserError):
                raise UserError(f"{exc} {_taken_back(stuck)}") from None
            raise
        try:
            clear_journal(basket.folder)
        except OSError:  # the items are marked: reconciling this journal later records nothing twice
            pass
    return ExportResult(written, plan.blocked)


def _finish_earlier_export(basket: Basket) -> None:
    """Record what an interrupted export left in the exportmap and tidy the basket, before planning a new one."""
    try:
        reconcile(basket)
        basket.tidy()
    except OSError as exc:
        raise UserError(
            f"An earlier export of the basket {basket.folder} stopped halfway and its record cannot be finished "
            f"({exc.strerror or exc}). Nothing new was exported, so nothing is sent twice. Close programs that may "
            "hold files of the basket or the exportmap open, then prepare the export again."
        ) from None
    left = read_journal(basket.folder)
    if left is not None and left[1]:
        names = ", ".join(z.target for z in left[1])
        raise UserError(
            f"An earlier export of the basket {basket.folder} stopped halfway, and its files ({names}) cannot be "
            "checked or removed now: the exportmap is out of reach or another program holds them open. Nothing "
            "new was exported, so nothing is sent twice. Reconnect the drive or close that program, then prepare "
            f"the export again; if that exportmap is gone for good, delete {journal_path(basket.folder)}."
        )


def _take_back(
    plan: ExportPlan, written: Sequence[tuple[Path, Sequence[str]]], stuck_partials: Sequence[Path] = ()
) -> list[tuple[Path, OSError]]:
    """Remove zips already under their final names; the ones that cannot be removed stay in the journal, so the
    next open or export records their items as exported (the zips are in the exportmap for CBS to see), and
    so do temporary files that could not be removed, so the next open removes them."""
    stuck = take_back([p for p, _ in written])
    if plan.basket_folder is None:
        return stuck
    stuck_paths = {p for p, _ in stuck}
    keep = [
        JournalZip(str(p), str(p) + PARTIAL_SUFFIX, tuple(ids), _sha256_of(p)) for p, ids in written if p in stuck_paths
    ]
    keep += [JournalZip(str(p)[: -len(PARTIAL_SUFFIX)], str(p), ()) for p in stuck_partials]
    try:
        if keep:
            write_journal(plan.basket_folder, RENAMING, keep, plan.created.isoformat() if plan.created else "")
        else:
            clear_journal(plan.basket_folder)
    except (OSError, UserError):  # the earlier journal still names these zips
        pass
    return stuck


def _sha256_of(path: Path) -> str | None:
    from .journal import file_sha256

    return file_sha256(path)


def _taken_back(stuck: Sequence[tuple[Path, OSError]]) -> str:
    if not stuck:
        return "The zips of this export were removed again; nothing was exported."
    names = ", ".join(str(p) for p, _ in stuck)
    why = stuck[0][1].strerror or stuck[0][1]
    return (
        f"The zip(s) {names} could not be removed again ({why}): another program, such as a virus scanner or "
        "a viewer, holds them open. They are recorded in the basket's export journal: the next export or "
        "opening of the basket records their items as exported while the zips are still there, so nothing is "
        "sent twice. Delete them by hand if they must not go to CBS, then prepare the export again."
    )


def _planned_time(planned_at: datetime | str | None) -> datetime | None:
    """The plan's time, when it is a real moment not after now (a zip is never dated in the future)."""
    if planned_at is None or isinstance(planned_at, datetime):
        when = planned_at
    else:
        try:
            when = datetime.fromisoformat(str(planned_at))
        except ValueError:
            raise UserError(f"The plan time {planned_at!r} is not an ISO date and time; make the plan again.") from None
    if when is None or when.tzinfo is None or when > datetime.now(timezone.utc):
        return None
    return when


@contextmanager
def _export_lock(basket: Basket) -> Iterator[None]:
    from filelock import FileLock, Timeout

    lock = FileLock(str(basket.folder / EXPORT_LOCK), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise UserError(
            f"Another export of the basket {basket.folder} is running. Wait until it has finished, then look at "
            "the exportmap before exporting again."
        ) from None
    except OSError as exc:
        raise UserError(
            f"The basket {basket.folder} cannot be locked for the export: {exc.strerror or exc}. "
            "Check that the basket folder is writable."
        ) from None
    try:
        yield
    finally:
        lock.release()


@dataclass(frozen=True)
class Member:
    """One artefact in a zip: the item it belongs to, its name in the zip and its file on disk."""

    item_id: str
    name: str
    source: Path


def _zip_members(plan: ExportPlan, planned: PlannedZip, basket: Basket) -> list[Member]:
    """The artefacts of one zip as (name in the zip, file on disk), in plan order, with their files checked."""
    members: list[Member] = []
    for n, item_id in enumerate(planned.items, 1):
        item = plan.items[item_id]
        folder = f"{n:02d}_{safe_name(item.title, fallback=item.kind)}"
        if item.background and planned.folder != BACKGROUND:
            folder = f"{BACKGROUND_IN_ZIP}/{folder}"
        used: set[str] = set()
        for rel in item.files:
            source = basket.path(item, rel).resolve()
            if not is_inside(source, basket.folder):
                raise UserError(
                    f"Basket item '{item.title}' ({item.id}) names the file {rel!r}, which lies outside the basket "
                    f"{basket.folder}; the manifest was edited by hand. Remove the item and add the output again."
                )
            if not source.is_file():
                raise UserError(
                    f"The file {source} of basket item '{item.title}' ({item.id}) is missing. Remove the item from "
                    "the basket and add the output again, then prepare the export again."
                )
            stem = Path(rel).stem
            readable = (
                safe_name(item.title, fallback=item.kind) if stem == item.id else safe_name(stem, fallback="file")
            )
            name = _unique(readable + _suffix(rel), used)
            members.append(Member(item.id, f"{folder}/{name}", source))
    return members


def _suffix(rel: str) -> str:
    suffix = Path(rel).suffix
    return suffix if re.fullmatch(r"\.[A-Za-z0-9]{1,10}", suffix) else ""


def _unique(name: str, used: set[str]) -> str:
    stem, suffix = os.path.splitext(name)
    candidate, n = name, 1
    while candidate.lower() in used:
        n += 1
        candidate = f"{stem}_{n}{suffix}"
    used.add(candidate.lower())
    return candidate


def write_zips(plan: ExportPlan, contents: Sequence[tuple[PlannedZip, list[Member]]]) -> list[Path]:
    """Write every zip under a temporary name, then rename them in the planned order (3_ before 2_).

    The journal names each file before it is written and holds each zip's checksum before the first rename, so
    a kill at any point leaves nothing the next open or export cannot finish or remove. Any failure removes the
    temporary files and every zip this export already renamed (what cannot be removed stays journalled).
    """
    assert plan.exportmap is not None and plan.created is not None
    root = plan.exportmap
    stamp = max(plan.created, _ZIP_EPOCH_MIN)
    when = plan.created.isoformat()
    targets = [_inside(root, root / planned.folder / planned.name) for planned, _ in contents]
    entries = [
        JournalZip(str(t), str(t) + PARTIAL_SUFFIX, tuple(planned.items))
        for t, (planned, _) in zip(targets, contents, strict=True)
    ]
    if plan.basket_folder is not None:
        write_journal(plan.basket_folder, WRITING, entries, when)
    temps: list[Path] = []
    done: list[Path] = []
    try:
        for entry, (planned, members) in zip(entries, contents, strict=True):
            data = build_zip(plan, planned, members, stamp)
            temps.append(Path(entry.partial))
            _write_file(Path(entry.partial), data)
            entries[len(temps) - 1] = replace(entry, sha256=hashlib.sha256(data).hexdigest())
        if plan.basket_folder is not None:
            write_journal(plan.basket_folder, RENAMING, entries, when)
        for tmp, target in zip(temps, targets, strict=True):
            if target.exists():
                raise FileExistsError(f"{target} appeared while the export was being written")
            replace_with_retry(tmp, target)
            done.append(target)
    except BaseException as exc:
        stuck_temps = [p for p, _ in take_back(temps)]
        stuck = _take_back(
            plan, [(t, e.items) for t, e in zip(targets, entries, strict=True) if t in done], stuck_temps
        )
        if isinstance(exc, OSError):
            raise _write_error(exc, root, plan.basket_folder, stuck) from exc
        raise
    return done


def _write_error(exc: OSError, root: Path, basket_folder: Path | None, stuck: list) -> UserError:
    """Say where writing failed: a basket file that vanished is not the exportmap's fault."""
    where = Path(exc.filename).parent if exc.filename else root
    unchanged = _taken_back(stuck) if stuck else "nothing was exported and the basket is unchanged."
    if isinstance(exc, FileNotFoundError) and basket_folder is not None and where.is_relative_to(basket_folder):
        return UserError(
            f"The basket file {exc.filename} disappeared while the export was being written (removed "
            f"in another window?); {unchanged} Prepare the export again."
        )
    return UserError(
        f"Writing the export into {where} failed ({exc.strerror or exc}); {unchanged} Check that the exportmap is "
        "reachable and that you may write in it, then try again."
    )


def _inside(root: Path, path: Path) -> Path:
    resolved = path.resolve()
    if not is_inside(resolved, root):
        raise UserError(f"The zip name {path.name!r} would end up outside the exportmap {root}; nothing was written.")
    return resolved


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "xb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def build_zip(plan: ExportPlan, planned: PlannedZip, members: Sequence[Member], stamp: datetime) -> bytes:
    """The zip's bytes: artefacts, the form (for zips with outputs) and checksums of every other member last."""
    entries: list[tuple[str, bytes]] = []
    items = [plan.items[i] for i in planned.items]
    if any(not i.background for i in items):
        from .form import FormHeader, build_form

        background = next((f"{z.folder}/{z.name}" for z in plan.zips if z.folder == BACKGROUND), None)
        header = FormHeader(
            plan.project,
            plan.researcher,
            stamp,
            plan.mode,
            planned.folder,
            planned.name,
            planned.why,
            background if planned.folder == ACHTERAF else None,
        )
        files = {i.id: [m.name for m in members if m.item_id == i.id] for i in items}
        entries.append((FORM_NAME, workbook_bytes(build_form(header, items, files), stamp)))
    entries.extend((m.name, m.source.read_bytes()) for m in members)
    checksums = "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in entries)
    entries.append((CHECKSUMS_NAME, checksums.encode("utf-8")))
    return zip_bytes(entries, stamp)


def workbook_bytes(workbook: Any, stamp: datetime) -> bytes:
    """An openpyxl workbook as xlsx bytes that depend only on its content and `stamp`."""
    from openpyxl.writer.excel import ExcelWriter

    naive_utc = stamp.astimezone(timezone.utc).replace(tzinfo=None)
    workbook.properties.created = workbook.properties.modified = naive_utc
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(workbook, archive).save()
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as written:
        return zip_bytes([(info.filename, written.read(info)) for info in written.infolist()], stamp)


def zip_bytes(entries: Iterable[tuple[str, bytes]], stamp: datetime) -> bytes:
    """A deflated zip with fixed member timestamps and attributes, so equal input gives equal bytes."""
    date_time = stamp.timetuple()[:6]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 0
            zf.writestr(info, data)
    return buf.getvalue()
