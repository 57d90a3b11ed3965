"""Settings are written by a TOML writer and read back before they replace the file; what cannot be read is refused."""

from __future__ import annotations

import errno

import pytest

from cbs_export_lab import atomic
from cbs_export_lab.settings import SettingsError, load_settings, save_user_settings, user_settings_file


@pytest.mark.parametrize("bad", ["\x7f", "\x00", "\x08", "\x1b[31m", "\u0085", "\u2028", "\ud800"])
def test_a_control_character_in_a_setting_is_refused_and_the_file_stays_readable(bad):
    save_user_settings(project="9001", researcher="Jansen")
    before = user_settings_file().read_bytes()
    with pytest.raises(SettingsError, match="control character"):
        save_user_settings(researcher=f"Jan{bad}sen")
    assert user_settings_file().read_bytes() == before
    assert load_settings().researcher == "Jansen"


@pytest.mark.parametrize(
    "typed, shown",
    [
        ('"F:\\basket"', "\\b"),
        ('"F:\\nieuw"', "\\n"),
        ('"F:\\tabel"', "\\t"),
        ('"F:\\fotos"', "\\f"),
        ('"F:\\rapport"', "\\r"),
    ],
)
def test_single_backslashes_that_became_control_characters_get_the_quote_hint(tmp_path, typed, shown):
    (tmp_path / "cbs-export.toml").write_text(f"basket = {typed}\n", encoding="utf-8")
    with pytest.raises(SettingsError) as info:
        load_settings(tmp_path)
    message = str(info.value)
    assert "cbs-export.toml" in message and shown in message and "single quotes" in message


def test_the_file_is_written_by_a_toml_writer_and_reads_back(tmp_path):
    folder = tmp_path / 'F\'oo "bar" \\ é \u20ac'
    save_user_settings(exportmap=str(folder), project='9001 "quoted"', researcher="José \\ d'Almeida")
    import tomllib

    doc = tomllib.loads(user_settings_file().read_text(encoding="utf-8"))
    assert doc == {"exportmap": str(folder), "project": '9001 "quoted"', "researcher": "José \\ d'Almeida"}
    s = load_settings(tmp_path)
    assert (s.exportmap, s.project, s.researcher) == (folder, '9001 "quoted"', "José \\ d'Almeida")


def test_a_full_disk_while_saving_is_a_clear_message(monkeypatch):
    save_user_settings(project="9001")
    before = user_settings_file().read_bytes()

    def full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device", str(dst))

    with monkeypatch.context() as patch:
        patch.setattr(atomic, "replace_with_retry", full)
        with pytest.raises(SettingsError, match="could not be saved.*No space left on device.*unchanged"):
            save_user_settings(project="9002")
    assert user_settings_file().read_bytes() == before and load_settings().project == "9001"
    assert not [p for p in user_settings_file().parent.iterdir() if p.name.endswith(".tmp")]


def test_what_does_not_read_back_the_same_is_not_written(monkeypatch):
    import tomli_w

    save_user_settings(project="9001")
    before = user_settings_file().read_bytes()
    monkeypatch.setattr(tomli_w, "dumps", lambda values: 'project = "9001\x7f"\n')
    with pytest.raises(SettingsError, match="read back the same"):
        save_user_settings(project="9003")
    assert user_settings_file().read_bytes() == before
