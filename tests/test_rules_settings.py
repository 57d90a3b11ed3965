from pathlib import Path

import pytest

import cbs_export_lab as cel
from cbs_export_lab.rules import RulesError, default_rules, load_rules
from cbs_export_lab.settings import SettingsError, load_settings, save_user_settings


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_match_design_section_3():
    r = default_rules()
    assert (r.threshold, r.dominance_n, r.dominance_k, r.p_percent, r.dof) == (10, 2, 0.90, 0.10, 10)
    assert (r.zero, r.min_max) == ("review", "fail")
    assert r.compliant and r.origin == "defaults"
    assert all(r.sources.get(s) for s in ("threshold", "dominance", "p_percent", "min_max", "identifier"))


@pytest.mark.parametrize(
    "name", ["RINPERSOON", "rinpersoons", "RINPERSOONHKW", "BEID", "BE_ID", "HUISHOUDNR", "RINADRES"]
)
def test_linking_keys_recognised(name):
    assert default_rules().is_linking_key(name)


@pytest.mark.parametrize("name", ["gemeente", "inkomen", "PERSOON", 3, None])
def test_other_names_are_not_linking_keys(name):
    assert not default_rules().is_linking_key(name)


def test_id_values():
    r = default_rules()
    assert r.looks_like_id("012345678") and not r.looks_like_id("12345678") and not r.looks_like_id("0123456789")


def test_override_stricter_is_compliant_looser_is_not(tmp_path):
    strict = load_rules(write(tmp_path / "s.toml", "[threshold]\nmin_units = 20\n[zero]\nseverity = 'fail'\n"))
    assert strict.threshold == 20 and strict.compliant
    loose = load_rules(write(tmp_path / "l.toml", "[dominance]\nk = 0.95\n[min_max]\nseverity = 'review'\n"))
    assert not loose.compliant
    assert any("dominance.k" in x for x in loose.looser_than_defaults())
    assert any("min_max.severity" in x for x in loose.looser_than_defaults())
    assert loose.fingerprint != default_rules().fingerprint


def test_override_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("CBS_EXPORT_RULES", str(write(tmp_path / "e.toml", "[dof]\nmin_dof = 30\n")))
    assert load_rules().dof == 30


@pytest.mark.parametrize(
    "text, words",
    [
        ("[threshold]\nminimum = 5\n", "threshold.minimum"),
        ("[thresholds]\nmin_units = 5\n", "[thresholds]"),
        ("[threshold]\nmin_units = 'ten'\n", "threshold.min_units"),
        ("[dominance]\nk = 1.5\n", "dominance.k"),
        ("[zero]\nseverity = 'ignore'\n", "zero.severity"),
        ("[threshold\n", "not valid TOML"),
    ],
)
def test_bad_override_names_the_key(tmp_path, text, words):
    with pytest.raises(RulesError, match=None) as exc:
        load_rules(write(tmp_path / "bad.toml", text))
    assert words in str(exc.value) and isinstance(exc.value, cel.UserError)


def test_missing_override_file(tmp_path):
    with pytest.raises(RulesError, match="does not exist"):
        load_rules(tmp_path / "nope.toml")


def test_project_file_overrides_user_settings(tmp_path, monkeypatch):
    save_user_settings(project="1234", researcher="A. Onderzoeker", mode="vooraf")
    proj = tmp_path / "project" / "sub"
    proj.mkdir(parents=True)
    write(tmp_path / "project" / "cbs-export.toml", 'mode = "achteraf"\nexportmap = "exportmap"\n')
    s = load_settings(proj)
    assert (s.project, s.researcher, s.mode) == ("1234", "A. Onderzoeker", "achteraf")
    assert s.exportmap == tmp_path / "project" / "exportmap"
    assert s.origins["mode"].endswith("cbs-export.toml") and s.origins["project"].endswith("settings.toml")


def test_default_basket_is_in_user_data_folder(isolated_home):
    assert load_settings().basket_folder == isolated_home / "data" / "basket"


@pytest.mark.parametrize(
    "text, words",
    [
        ('mode = "later"\n', "mode"),
        ('colour = "red"\n', "colour"),
        ("x = [\n", "TOML"),
        ('exportmap = "F:\\exportmap\\9001"\n', "single quotes"),
    ],
)
def test_bad_settings_are_clear(tmp_path, text, words):
    write(tmp_path / "cbs-export.toml", text)
    with pytest.raises(SettingsError) as exc:
        load_settings(tmp_path)
    assert words in str(exc.value) and "cbs-export.toml" in str(exc.value)


def test_settings_written_by_windows_notepad_are_read(tmp_path):
    """Notepad may save UTF-8 with a byte-order mark; a Windows path in single quotes is taken as it is."""
    (tmp_path / "cbs-export.toml").write_bytes(
        "\ufeffproject = 'Zorggebruik 9001'\nresearcher = 'Jansen'\n".encode("utf-8")
    )
    s = load_settings(tmp_path)
    assert (s.project, s.researcher) == ("Zorggebruik 9001", "Jansen")


def test_saved_paths_with_backslashes_quotes_and_accents_read_back_the_same(tmp_path):
    """The sidebar saves what the user typed; Windows paths are full of backslashes."""
    folder = tmp_path / 'export\\map "één"'
    save_user_settings(exportmap=str(folder), project="9001", researcher="José d'Almeida")
    s = load_settings(tmp_path)
    assert (s.exportmap, s.project, s.researcher) == (folder, "9001", "José d'Almeida")
    assert s.origins["exportmap"].endswith("settings.toml")


def test_blank_values_clear_a_setting_instead_of_pointing_at_the_working_folder():
    save_user_settings(exportmap="   ", basket=" ", project="  ")
    s = load_settings()
    assert s.exportmap is None and s.basket is None and s.project is None
