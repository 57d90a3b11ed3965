"""Safe names and the one path-containment test (`names.is_inside`) every path check uses."""

from __future__ import annotations

import os

import pytest

from cbs_export_lab.names import is_inside, safe_filename, slug, unique_title


@pytest.mark.parametrize(
    "relative, inside",
    [
        ("items/t01-a/t01-a.xlsx", True),
        ("items", True),
        ("../elders.xlsx", False),
        ("items/../../elders.xlsx", False),
        ("C:elders.xlsx", False),
        ("C:/elders.xlsx", False),
        ("/etc/passwd", False),
        ("..\\..\\elders.xlsx", False),
        ("items\\t01-a\\t01-a.xlsx", True),
    ],
)
def test_a_relative_path_is_judged_by_its_words_on_every_system(tmp_path, relative, inside):
    assert is_inside(relative, tmp_path) is inside


def test_an_absolute_path_is_resolved_so_dots_and_links_cannot_lead_out(tmp_path):
    folder = tmp_path / "basket"
    (folder / "items").mkdir(parents=True)
    assert is_inside(folder, folder) and is_inside(folder / "items" / "new.xlsx", folder)
    assert is_inside(folder / "items" / ".." / "manifest.json", folder)
    assert not is_inside(folder / ".." / "elders.xlsx", folder)
    assert not is_inside(tmp_path / "basket2" / "x.xlsx", folder)
    if hasattr(os, "symlink"):
        (folder / "items" / "out").symlink_to(tmp_path, target_is_directory=True)
        assert not is_inside(folder / "items" / "out" / "elders.xlsx", folder)


def test_names_valid_on_windows():
    assert safe_filename('a<b>:c"|?*.csv') == "a_b__c____.csv" and safe_filename("con.txt") == "_con.txt"
    assert safe_filename("inkomen. ") == "inkomen" and safe_filename("") == "file"
    assert slug("Inkomen per gemeente (€)", 24) == "inkomen-per-gemeente" and slug("€€", 8) == "item"
    assert unique_title("Inkomen", {"Inkomen", "Inkomen (2)"}) == "Inkomen (3)"


def test_safe_name_keeps_a_title_readable():
    from cbs_export_lab.names import safe_name

    assert safe_name("Personen 18+ naar regio, 2022") == "Personen 18+ naar regio, 2022"
    long = "Inkomen " + "van huishoudens per gemeente " * 5
    cut = safe_name(long)
    assert len(cut) <= 80 and long.startswith(cut) and not cut.endswith(" ") and long[len(cut)] == " "
    assert safe_name("a/b:c?") == "a_b_c"
