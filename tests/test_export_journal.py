"""An export or an add killed at any point is finished or forgotten at the next open or export: never sent twice.

The crash tests fork a child that dies (`os._exit`, no clean-up runs, as with a kill or a power cut) at each
file-system step in turn, then check what the next open and export make of what it left.
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

import cbs_export_lab as cel
from cbs_export_lab import atomic, journal
from cbs_export_lab import exportmap as em
from cbs_export_lab.basket import Basket
from cbs_export_lab.errors import UserError

EXPLAINED = "The small cells are structural: the island municipalities are shown merged in the publication."
TITLES = ("Leeftijd", "Gemeente")
needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="the crash harness forks (POSIX only)")


def fill(basket: Basket, persons) -> None:
    basket.add(pd.crosstab(persons["leeftijdsklasse"], persons["geslacht"]), TITLES[0], data=persons)
    basket.add(pd.crosstab(persons["gemeente"], persons["geslacht"]), TITLES[1], explanation=EXPLAINED)


def zip_titles(path: Path) -> set[str]:
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        return {name.split("/")[0].split("_", 1)[1] for name in zf.namelist() if "/" in name}


def audit(basket_folder: Path, exportmap: Path) -> dict[str, int]:
    """What a checker and the researcher would find wrong after the next open and export."""
    zips = sorted(exportmap.rglob("*.zip"))
    broken, sent = 0, Counter()
    for z in zips:
        try:
            sent.update(zip_titles(z))
        except (zipfile.BadZipFile, AssertionError):
            broken += 1
    items = Basket(basket_folder).items
    recorded = {(e["folder"], e["zip"]) for i in items for e in i.exported}
    leftovers = [*exportmap.rglob("*.partial"), *basket_folder.rglob("*.tmp"), journal.journal_path(basket_folder)]
    known = {i.id for i in items}
    orphans = [p for p in (basket_folder / "items").iterdir() if p.name not in known]
    return {
        "double": sum(n - 1 for n in sent.values()),
        "missing": sum(1 for t in TITLES if not sent[t]),
        "partial_under_final_name": broken,
        "unrecorded_zips": sum(1 for z in zips if (z.parent.name, z.name) not in recorded),
        "records": sum(len(i.exported) for i in items) - len(TITLES),
        "leftovers": sum(1 for p in leftovers if p.exists()) + len(orphans),
    }


CLEAN = {"double": 0, "missing": 0, "partial_under_final_name": 0, "unrecorded_zips": 0, "records": 0, "leftovers": 0}
WATCHED = ("replace", "fsync", "unlink", "mkdir", "rmdir")


def die_at(step: int, action) -> int:
    """Run `action` in a forked child that dies just before (even step) or after (odd) its step//2-th file
    system call; returns the child's exit code: 9 when it died, 0 when it finished first."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        calls = [0]

        def watch(real):
            def call(*args, **kwargs):
                n = calls[0]
                calls[0] += 1
                if step == 2 * n:
                    os._exit(9)
                try:
                    return real(*args, **kwargs)
                finally:
                    if step == 2 * n + 1:
                        os._exit(9)

            return call

        for name in WATCHED:
            setattr(os, name, watch(getattr(os, name)))
        try:
            action()
        except BaseException:
            os._exit(3)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@pytest.fixture
def template(tmp_path, persons):
    basket_folder = tmp_path / "template" / "basket"
    fill(Basket(basket_folder), persons)
    cel.demo.make_exportmap(tmp_path / "template" / "exportmap", "achteraf")
    return tmp_path / "template"


def fresh(template: Path, target: Path) -> tuple[Path, Path]:
    shutil.copytree(template, target)
    return target / "basket", target / "exportmap"


@needs_fork
def test_a_prepare_killed_at_every_step_is_never_sent_twice(template, tmp_path):
    kills = 0
    for step in range(200):
        basket_folder, exportmap = fresh(template, tmp_path / f"run{step}")
        code = die_at(step, lambda b=basket_folder, e=exportmap: em.prepare_export(Basket(b), e))
        assert code in (0, 9), f"the export itself failed at step {step}"
        em.prepare_export(Basket(basket_folder), exportmap)
        assert audit(basket_folder, exportmap) == CLEAN, f"after a kill at step {step}"
        if code == 0:
            break
        kills += 1
    assert kills >= 10 and code == 0


@needs_fork
def test_an_add_killed_at_every_step_leaves_nothing_behind(template, tmp_path, persons):
    table = pd.crosstab(persons["geslacht"], persons["leeftijdsklasse"])
    kills = 0
    for step in range(200):
        basket_folder, exportmap = fresh(template, tmp_path / f"run{step}")
        code = die_at(step, lambda b=basket_folder: Basket(b).add(table, "Nieuw", data=persons))
        assert code in (0, 9), f"the add itself failed at step {step}"
        basket = Basket(basket_folder)
        titles = [i.title for i in basket.items]
        assert titles in (list(TITLES), [*TITLES, "Nieuw"]), f"after a kill at step {step}"
        assert all((basket_folder / f).is_file() for i in basket.items for f in i.files)
        em.prepare_export(basket, exportmap)
        result = audit(basket_folder, exportmap)
        assert result == {**CLEAN, "records": len(titles) - len(TITLES)}, f"after a kill at step {step}"
        if code == 0:
            break
        kills += 1
    assert kills >= 5 and code == 0


def test_zips_in_place_but_not_recorded_are_recorded_at_the_next_open(template, tmp_path, monkeypatch):
    basket_folder, exportmap = fresh(template, tmp_path / "run")

    def crash(*args, **kwargs):
        raise SystemExit("power cut")  # stands for a kill: the journal stays, the zips are in place

    with monkeypatch.context() as patch:
        patch.setattr(Basket, "mark_exported_zips", crash)
        patch.setattr(em, "_take_back", lambda plan, written, stuck_partials=(): [])
        with pytest.raises(SystemExit):
            em.prepare_export(Basket(basket_folder), exportmap)
    assert len(sorted(exportmap.rglob("*.zip"))) == 2 and journal.journal_path(basket_folder).exists()
    assert all(i.exported for i in Basket(basket_folder).items)  # the open reconciled
    assert em.prepare_export(Basket(basket_folder), exportmap).zips == []
    assert audit(basket_folder, exportmap) == CLEAN


def test_the_plan_of_a_long_open_basket_does_not_offer_them_again(template, tmp_path, monkeypatch):
    basket_folder, exportmap = fresh(template, tmp_path / "run")
    basket = Basket(basket_folder)
    with monkeypatch.context() as patch:
        patch.setattr(Basket, "mark_exported_zips", lambda *a, **k: (_ for _ in ()).throw(SystemExit()))
        patch.setattr(em, "_take_back", lambda plan, written, stuck_partials=(): [])
        with pytest.raises(SystemExit):
            em.prepare_export(basket, exportmap)
    assert em.plan_export(basket, exportmap).zips == []


def test_a_zip_that_is_not_ours_is_not_recorded(template, tmp_path):
    basket_folder, exportmap = fresh(template, tmp_path / "run")
    stranger = exportmap / em.VOORAF / "someone_else.zip"
    stranger.write_bytes(b"PK not ours")
    entry = journal.JournalZip(str(stranger), str(stranger) + ".partial", ("t01-leeftijd",), "0" * 64)
    journal.write_journal(basket_folder, journal.RENAMING, [entry], "")
    basket = Basket(basket_folder)
    assert not any(i.exported for i in basket.items) and stranger.exists()
    assert not journal.journal_path(basket_folder).exists()


def test_a_damaged_journal_touches_nothing(template, tmp_path):
    basket_folder, exportmap = fresh(template, tmp_path / "run")
    keep = exportmap / em.VOORAF / "keep.zip.partial"
    keep.write_bytes(b"x")
    journal.journal_path(basket_folder).write_text(json.dumps({"format": "other", "zips": [str(keep)]}))
    Basket(basket_folder)
    assert keep.exists() and not journal.journal_path(basket_folder).exists()


def test_a_running_export_is_not_reconciled_by_another_open(template, tmp_path):
    basket_folder, exportmap = fresh(template, tmp_path / "run")
    zip_path = exportmap / em.VOORAF / "x.zip"
    zip_path.write_bytes(b"data")
    entry = journal.JournalZip(
        str(zip_path), str(zip_path) + ".partial", ("t01-leeftijd",), journal.file_sha256(zip_path)
    )
    journal.write_journal(basket_folder, journal.RENAMING, [entry], "")
    with journal.export_lock(basket_folder) as held:
        assert held
        Basket(basket_folder)
        assert journal.journal_path(basket_folder).exists()
    assert Basket(basket_folder).items[0].exported[0]["zip"] == "x.zip"


def test_a_roll_back_that_cannot_delete_says_so_and_keeps_a_consistent_record(template, tmp_path, monkeypatch):
    """Windows: a virus scanner holds a zip open, so the roll-back after a failed manifest write cannot delete it."""
    basket_folder, exportmap = fresh(template, tmp_path / "run")
    monkeypatch.setattr(atomic, "REPLACE_PAUSE", 0)
    real_unlink, real_mark = Path.unlink, Basket.mark_exported_zips

    def held_open(self, missing_ok=False):
        if self.suffix == ".zip":
            raise PermissionError(13, "The process cannot access the file because it is being used", str(self))
        return real_unlink(self, missing_ok=missing_ok)

    def manifest_busy(self, zips, at=None, **kwargs):
        raise em.UserError("The basket manifest cannot be written: Access is denied.")

    with monkeypatch.context() as patch:
        patch.setattr(Path, "unlink", held_open)
        patch.setattr(Basket, "mark_exported_zips", manifest_busy)
        with pytest.raises(UserError) as info:
            em.prepare_export(Basket(basket_folder), exportmap)
        message = str(info.value)
        assert "could not be removed again" in message and "nothing is sent twice" in message
        assert "being used" in message and len(sorted(exportmap.rglob("*.zip"))) == 2
        patch.setattr(Basket, "mark_exported_zips", real_mark)
        em.prepare_export(Basket(basket_folder), exportmap)  # reconciles first: the zips in place are recorded
    assert audit(basket_folder, exportmap) == CLEAN


def test_a_rename_failure_whose_roll_back_cannot_delete_is_no_raw_permission_error(template, tmp_path, monkeypatch):
    basket_folder, exportmap = fresh(template, tmp_path / "run")
    monkeypatch.setattr(atomic, "REPLACE_PAUSE", 0)
    real_replace, real_unlink = em.replace_with_retry, Path.unlink
    renamed = []

    def second_fails(src, dst):
        if renamed:
            raise PermissionError(13, "Access is denied", str(dst))
        real_replace(src, dst)
        renamed.append(Path(dst))

    def held_open(self, missing_ok=False):
        if self in renamed:
            raise PermissionError(13, "Access is denied", str(self))
        return real_unlink(self, missing_ok=missing_ok)

    with monkeypatch.context() as patch:
        patch.setattr(em, "replace_with_retry", second_fails)
        patch.setattr(Path, "unlink", held_open)
        with pytest.raises(UserError, match="could not be removed again"):
            em.prepare_export(Basket(basket_folder), exportmap)
    assert renamed[0].exists() and not list(exportmap.rglob("*.partial"))
    em.prepare_export(Basket(basket_folder), exportmap)
    assert audit(basket_folder, exportmap) == CLEAN


def test_leftovers_of_a_crashed_add_are_removed_at_the_next_open_only_when_ours(template, tmp_path):
    basket_folder, _ = fresh(template, tmp_path / "run")
    orphan = basket_folder / "items" / "t07-half-written"
    orphan.mkdir()
    (orphan / ".t07-half-written.xlsx.abc.tmp").write_bytes(b"half")
    stale = basket_folder / ".manifest.json.k2j4.tmp"
    stale.write_bytes(b"{")
    mine = basket_folder / "items" / "Notities van mij"
    mine.mkdir()
    Basket(basket_folder)
    assert not orphan.exists() and not stale.exists() and mine.is_dir()
    assert [i.title for i in Basket(basket_folder).items] == list(TITLES)


def test_an_exportmap_out_of_reach_keeps_the_journal_and_blocks_a_new_export(template, tmp_path):
    basket_folder, exportmap = fresh(template, tmp_path / "run")
    drive = tmp_path / "network" / em.VOORAF
    zip_path = drive / "earlier.zip"
    entry = journal.JournalZip(str(zip_path), str(zip_path) + ".partial", ("t01-leeftijd",), "0" * 64)
    journal.write_journal(basket_folder, journal.RENAMING, [entry], "")
    Basket(basket_folder)
    assert journal.journal_path(basket_folder).exists()
    with pytest.raises(UserError, match="out of reach.*nothing is sent twice"):
        em.prepare_export(Basket(basket_folder), exportmap)
    assert not list(exportmap.rglob("*.zip"))
    drive.mkdir(parents=True)  # the drive is back, without the zip: the journal is forgotten
    assert len(em.prepare_export(Basket(basket_folder), exportmap).zips) == 2
    assert audit(basket_folder, exportmap) == CLEAN
