"""The basket, the export and the settings on a Windows file system (pyfakefs in Windows mode), and Windows names.

Drive letters, backslashes, names that differ only in case, device names, files that a virus scanner holds open,
notebooks with a byte-order mark and csv files in cp1252 (Dutch Excel's default).
"""

from __future__ import annotations

import errno
import io
import os
import zipfile
from pathlib import Path

import nbformat
import pandas as pd
import pytest

pytest.importorskip("pyfakefs")
from pyfakefs.fake_filesystem import OSType  # noqa: E402

import cbs_export_lab as cel  # noqa: E402
from cbs_export_lab import atomic, demo  # noqa: E402
from cbs_export_lab import exportmap as em  # noqa: E402
from cbs_export_lab.basket import BasketError  # noqa: E402
from cbs_export_lab.errors import UserError  # noqa: E402
from cbs_export_lab.intake import read_table_file  # noqa: E402
from cbs_export_lab.names import safe_filename  # noqa: E402
from cbs_export_lab.settings import SettingsError, load_settings, save_user_settings  # noqa: E402

ROWS = pd.DataFrame(
    {
        "leeftijd": ["jong"] * 65 + ["oud"] * 85,
        "geslacht": ["mannen"] * 30 + ["vrouwen"] * 35 + ["mannen"] * 40 + ["vrouwen"] * 45,
    }
)
TABLE = cel.crosstab(ROWS.leeftijd, ROWS.geslacht)  # carries its counts, so it passes and goes out
TWICE = cel.crosstab(pd.concat([ROWS, ROWS]).leeftijd, pd.concat([ROWS, ROWS]).geslacht)
TRANSPOSED = cel.crosstab(ROWS.geslacht, ROWS.leeftijd)


@pytest.fixture
def windows(fs, monkeypatch):
    """A fresh Windows file system: C: for the user, F: for the RA's exportmap."""
    from cbs_export_lab.rules import default_rules

    default_rules()  # read from the real package before the fake file system hides it
    fs.os = OSType.WINDOWS
    monkeypatch.setenv("CBS_EXPORT_HOME", "C:\\Users\\ra\\AppData\\cbs_export_lab")
    monkeypatch.setattr(atomic, "REPLACE_PAUSE", 0)
    fs.create_dir("C:\\Users\\ra\\project")
    os.chdir("C:\\Users\\ra\\project")
    return fs


@pytest.fixture(autouse=True)
def _imports():
    """Lazily imported modules are loaded before the fake file system starts."""
    import filelock  # noqa: F401
    import openpyxl.writer.excel  # noqa: F401
    import tomli_w  # noqa: F401

    import cbs_export_lab.check  # noqa: F401
    import cbs_export_lab.excel  # noqa: F401
    import cbs_export_lab.form  # noqa: F401
    import cbs_export_lab.journal  # noqa: F401

    cel.check(TABLE)


def zip_members(path) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(Path(path).read_bytes())) as zf:
        return zf.namelist()


def test_basket_and_export_on_drive_letter_paths(windows):
    basket = cel.Basket("C:\\Users\\ra\\basket")
    assert str(basket.folder) == "C:\\Users\\ra\\basket"
    basket.add(TABLE, "Leeftijd naar geslacht")
    demo.make_exportmap("F:\\exportmap", "achteraf")
    result = cel.prepare_export(basket, "F:/exportmap")
    assert len(result.zips) == 1 and str(result.zips[0]).startswith("F:\\exportmap\\2_Controle achteraf\\")
    assert "01_Leeftijd naar geslacht/" in " ".join(zip_members(result.zips[0]))
    assert cel.Basket("c:\\users\\RA\\Basket").items[0].exported  # the same basket, typed otherwise


def test_titles_differing_in_case_never_overwrite_each_other(windows):
    basket = cel.Basket("C:\\basket")
    lower = basket.add(TABLE, "inkomen", description="eerste")
    upper = basket.add(TWICE, "INKOMEN", description="tweede")
    assert lower.id.lower() != upper.id.lower()
    files = [basket.folder / f for f in (*lower.files, *upper.files)]
    assert len({str(f).lower() for f in files}) == 2 and all(f.is_file() for f in files)
    assert files[0].read_bytes() != files[1].read_bytes()
    demo.make_exportmap("F:\\exportmap", "vooraf")
    result = cel.prepare_export(basket, "F:\\exportmap")
    folders = {name.split("/")[0].lower() for name in zip_members(result.zips[0]) if "/" in name}
    assert len(folders) == 2


def test_user_files_differing_in_case_are_both_kept(windows, monkeypatch):
    import shutil

    # shutil.copy2 on the Linux CI copies extended attributes, which a fake Windows file system does not have
    monkeypatch.setattr(os, "listxattr", lambda *args, **kwargs: [], raising=False)
    monkeypatch.setattr(shutil, "_copyxattr", lambda *args, **kwargs: None, raising=False)
    windows.create_file("C:\\data\\Tabel.csv", contents="leeftijd,n\njong,30\noud,40\n")
    windows.create_file("C:\\data\\sub\\tabel.CSV", contents="leeftijd,n\njong,50\noud,60\n")
    basket = cel.Basket("C:\\basket")
    one = basket.add("C:\\data\\Tabel.csv", "Tabel")
    two = basket.add("C:\\data\\sub\\tabel.CSV", "tabel")
    texts = {(basket.folder / f).read_text() for f in (*one.files, *two.files)}
    assert len(texts) == 2


def test_settings_with_windows_paths_read_back(windows):
    save_user_settings(exportmap="F:\\exportmap", basket="C:\\Users\\ra\\mijn basket", project="9001")
    s = load_settings()
    assert str(s.exportmap) == "F:\\exportmap" and str(s.basket) == "C:\\Users\\ra\\mijn basket"
    windows.create_file("C:\\Users\\ra\\project\\cbs-export.toml", contents="exportmap = 'F:\\exportmap\\9001'\n")
    assert str(load_settings().exportmap) == "F:\\exportmap\\9001"


def test_a_hand_written_path_in_double_quotes_gets_the_hint(windows):
    windows.create_file("C:\\Users\\ra\\project\\cbs-export.toml", contents='basket = "F:\\basket"\n')
    with pytest.raises(SettingsError, match="single quotes"):
        load_settings()


@pytest.mark.parametrize("name", ["con .txt", "COM\u00b9.csv", "CONIN$.txt", "nul.tar.gz", "LPT1", "aux.", "prn "])
def test_copies_of_user_files_never_get_a_device_name(tmp_path, name):
    source = tmp_path / "bron" / name.rstrip(". ")
    source.parent.mkdir()
    source.write_text("leeftijd,n\njong,30\noud,40\n" if ".csv" in name else "notes\n", encoding="utf-8")
    item = cel.Basket(tmp_path / "basket").add(str(source), "Bestand")
    copied = Path(item.files[0]).name
    assert copied.startswith("_") and copied == safe_filename(copied)


def names_a_device(name: str) -> bool:
    import unicodedata

    from cbs_export_lab.names import WINDOWS_RESERVED

    return unicodedata.normalize("NFKD", name.split(".")[0]).rstrip(" ").upper() in WINDOWS_RESERVED


@pytest.mark.parametrize("name", ["con .txt", "COM\u00b9.csv", "CONIN$.txt", "clock$", "Lpt\u00b2.log", "nul"])
def test_zip_names_and_file_names_follow_one_rule(name):
    assert names_a_device(name)
    for safe in (safe_filename(name), em.safe_name(name)):
        assert not names_a_device(safe) and safe_filename(safe) == safe


def test_a_manifest_held_open_is_retried_then_a_clear_message(windows, monkeypatch):
    basket = cel.Basket("C:\\basket")
    real_replace, tries = os.replace, []

    def busy_twice(src, dst):
        if str(dst).endswith("manifest.json") and len(tries) < 2:
            tries.append(dst)
            raise PermissionError(errno.EACCES, "The process cannot access the file", str(dst))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", busy_twice)
    item = basket.add(TABLE, "Na twee pogingen")
    assert len(tries) == 2 and [i.id for i in basket.items] == [item.id]

    def always_busy(src, dst):
        if str(dst).endswith("manifest.json"):
            raise PermissionError(errno.EACCES, "The process cannot access the file", str(dst))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", always_busy)
    with pytest.raises(BasketError, match="cannot be written: The process cannot access the file") as info:
        basket.add(TABLE, "Nooit")
    assert "previous version is unchanged" in str(info.value)
    monkeypatch.setattr(os, "replace", real_replace)
    assert [i.title for i in cel.Basket("C:\\basket").items] == ["Na twee pogingen"]
    assert len(list((basket.folder / "items").iterdir())) == 1


def test_a_zip_held_open_during_the_roll_back_is_a_clear_message_and_never_sent_twice(windows, monkeypatch):
    basket = cel.Basket("C:\\basket")
    basket.add(TABLE, "Leeftijd")
    basket.add(TRANSPOSED, "Geslacht")
    demo.make_exportmap("F:\\exportmap", "achteraf")
    real_remove, real_mark = os.remove, cel.Basket.mark_exported_zips

    def held(path, *args, **kwargs):
        if str(path).endswith(".zip"):
            raise PermissionError(errno.EACCES, "The process cannot access the file", str(path))
        return real_remove(path, *args, **kwargs)

    def manifest_busy(self, zips, at=None, **kwargs):
        raise BasketError("The basket manifest cannot be written: Access is denied.")

    with monkeypatch.context() as patch:
        patch.setattr(os, "remove", held)
        patch.setattr(os, "unlink", held)
        patch.setattr(cel.Basket, "mark_exported_zips", manifest_busy)
        with pytest.raises(UserError, match="could not be removed again.*nothing is sent twice"):
            cel.prepare_export(basket, "F:\\exportmap")
        patch.setattr(cel.Basket, "mark_exported_zips", real_mark)
        assert cel.prepare_export(cel.Basket("C:\\basket"), "F:\\exportmap").zips == []
    items = cel.Basket("C:\\basket").items
    assert all(len(i.exported) == 1 for i in items)
    assert len([p for p in Path("F:\\exportmap").rglob("*") if p.is_file()]) == 1


def test_a_notebook_with_a_byte_order_mark_is_read(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1")]
    path = tmp_path / "analyse.ipynb"
    path.write_bytes(b"\xef\xbb\xbf" + nbformat.writes(nb).encode("utf-8"))
    item = cel.Basket(tmp_path / "basket").add_notebook(path, "Analyse")
    assert item.kind == "syntax" and item.status == "pass"


def test_csv_files_in_cp1252_are_read(tmp_path):
    path = tmp_path / "gemeenten.csv"
    path.write_bytes("gemeente;aantal\nSúdwest-Fryslân;40\nC\u00e9ntrum \u20ac;50\n".encode("cp1252"))
    table = read_table_file(path)
    assert list(table.index) == ["Súdwest-Fryslân", "C\u00e9ntrum \u20ac"] and list(table["aantal"]) == [40, 50]
    utf8 = tmp_path / "utf8.csv"
    utf8.write_bytes("\ufeffgemeente,aantal\nSúdwest-Fryslân,40\n".encode("utf-8"))
    assert list(read_table_file(utf8).index) == ["Súdwest-Fryslân"]
