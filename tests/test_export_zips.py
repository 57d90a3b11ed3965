"""prepare_export with a real basket: zips read back, the form, checksums, atomicity and bad input."""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from openpyxl import load_workbook

import cbs_export_lab as cel
from cbs_export_lab import demo
from cbs_export_lab import exportmap as em
from cbs_export_lab.errors import UserError
from cbs_export_lab.exportmap import ACHTERAF, BACKGROUND, CHECKSUMS_NAME, FORM_NAME, VOORAF
from cbs_export_lab.rules import default_rules

EXPLAINED = "The small cells are structural: the island municipalities are shown merged in the publication."


@pytest.fixture
def fixed_clock(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")  # 2026-01-01 00:00:00 UTC


def count_table(persons):
    return cel.crosstab(persons["leeftijdsklasse"], persons["geslacht"])


def small_cells_table(persons):
    return pd.crosstab(persons["gemeente"], persons["geslacht"])


def read_zip(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def verify_checksums(members: dict[str, bytes]) -> None:
    lines = members[CHECKSUMS_NAME].decode("utf-8").splitlines()
    listed = dict(reversed(line.split("  ", 1)) for line in lines)
    assert set(listed) == set(members) - {CHECKSUMS_NAME}
    for name, digest in listed.items():
        assert hashlib.sha256(members[name]).hexdigest() == digest, name


def form_sheets(members: dict[str, bytes]) -> dict[str, list[tuple]]:
    wb = load_workbook(io.BytesIO(members[FORM_NAME]), read_only=True)
    return {ws.title: [tuple(row) for row in ws.iter_rows(values_only=True)] for ws in wb.worksheets}


def form_text(members: dict[str, bytes]) -> str:
    return "\n".join(str(v) for rows in form_sheets(members).values() for row in rows for v in row if v is not None)


def zips_in(root: Path) -> list[Path]:
    return sorted(root.rglob("*.zip"))


def test_vooraf_export_is_one_light_zip_with_form_and_checksums(basket, tmp_path, persons, fixed_clock):
    exportmap = demo.make_exportmap(tmp_path / "v", "vooraf")
    table = basket.add(
        cel.crosstab(persons["leeftijdsklasse"], persons["geslacht"], unit=persons["RINPERSOON"]),
        "Personen naar leeftijd en geslacht",
        description="Aantal personen",
    )
    fig, ax = plt.subplots()
    counts = persons["leeftijdsklasse"].value_counts().sort_index()
    ax.bar(counts.index.astype(str), counts.values)
    ax.set_title(f"Personen naar leeftijdsklasse (N = {len(persons)})")
    figure = basket.add(fig, "Leeftijdsverdeling")
    plt.close(fig)
    assert (table.status, figure.status) == ("pass", "pass")

    result = cel.prepare_export(basket, exportmap, project="9001")

    assert result.blocked == []
    assert [p.relative_to(exportmap).as_posix() for p in result.zips] == [f"{VOORAF}/LIGHT_9001_20260101-000000.zip"]
    members = read_zip(result.zips[0])
    assert list(members)[0] == FORM_NAME and list(members)[-1] == CHECKSUMS_NAME
    folders = {name.split("/")[0] for name in members if "/" in name}
    assert folders == {"01_Personen naar leeftijd en geslacht", "02_Leeftijdsverdeling"}
    verify_checksums(members)
    sheets = form_sheets(members)
    header = dict(sheets["Formulier"][1:])
    assert header["Project / Project"] == "9001"
    assert header["Onderzoeker / Researcher"] == "niet opgegeven / not given"
    assert header["Exportmap / Destination folder"] == VOORAF
    why = header["Waarom deze map / Why this folder"]
    assert "output light" in why
    assert f"1 table with {table.counts.cells} cells, {table.counts.count_cells} of them with counts, 1 graph" in why
    assert header["Aantal outputs / Number of outputs"] == "2"
    files = sheets["Bestanden"]
    titles = [row[1] for row in files[1:]]
    assert titles == ["Personen naar leeftijd en geslacht", "Leeftijdsverdeling"]
    assert files[1][2:4] == ("Aantal personen", "tabel / table") and files[1][8] == "voldoet / pass"
    assert files[1][12] == "standaard / defaults"
    assert files[1][6] == len(persons)
    assert any(
        row[0] == "Vingerafdruk / Fingerprint" and row[1] == cel.load_rules().fingerprint for row in sheets["Regels"]
    )
    assert all(basket.get(i.id).exported[0]["zip"] == "LIGHT_9001_20260101-000000.zip" for i in basket.items)


def test_achteraf_export_splits_zips_and_puts_background_in_3(basket, exportmap, persons, fixed_clock):
    business = demo.businesses(3000, seed=4)
    ok = basket.add(count_table(persons), "Personen naar leeftijd en geslacht")
    omzet = basket.add(
        cel.pivot_table(business, values="omzet", index="sector", aggfunc="sum", unit="BEID"), "Omzet per sector"
    )
    background = [i for i in basket.items if i.background_for == omzet.id]
    odd = basket.add(small_cells_table(persons), "Personen naar gemeente", explanation=EXPLAINED)
    assert ok.status == "pass" and omzet.status == "pass" and odd.status == "fail" and background

    result = cel.prepare_export(basket, exportmap, project="9001")

    rel = [p.relative_to(exportmap).as_posix() for p in result.zips]
    assert rel == [
        f"{BACKGROUND}/9001_20260101-000000_achtergrondinformatie.zip",
        f"{VOORAF}/LIGHT_9001_20260101-000000.zip",
        f"{ACHTERAF}/9001_20260101-000000.zip",
    ]
    bg = read_zip(result.zips[0])
    assert FORM_NAME not in bg
    verify_checksums(bg)
    assert all(name.endswith(".xlsx") for name in bg if name != CHECKSUMS_NAME)
    compliant = read_zip(result.zips[2])
    verify_checksums(compliant)
    header = dict(form_sheets(compliant)["Formulier"][1:])
    assert header["Achtergrondinformatie (niet vrijgeven) / Background information (not for release)"] == rel[0]
    text = form_text(compliant)
    assert "Personen naar leeftijd en geslacht" in text and "Omzet per sector" in text
    assert "Personen naar gemeente" not in text
    explained = read_zip(result.zips[1])
    verify_checksums(explained)
    assert EXPLAINED in form_text(explained)


def test_vooraf_background_goes_inside_the_output_zip(basket, tmp_path, fixed_clock):
    exportmap = demo.make_exportmap(tmp_path / "v", "vooraf")
    business = demo.businesses(3000, seed=4)
    omzet = basket.add(
        cel.pivot_table(business, values="omzet", index="sector", aggfunc="sum", unit="BEID"), "Omzet per sector"
    )
    result = cel.prepare_export(basket, exportmap)
    assert len(result.zips) == 1
    members = read_zip(result.zips[0])
    inside = [n for n in members if n.startswith("achtergrondinformatie (niet vrijgeven)/")]
    assert inside and all(basket.get(i).exported for i in (omzet.id,))
    sheets = form_sheets(members)
    assert [row[11] for row in sheets["Bestanden"][1:]] == ["nee / no", "ja / yes"]
    assert dict(sheets["Formulier"][1:])["Aantal outputs / Number of outputs"].startswith(
        "1 (+ 1 achtergrondinformatie, niet vrijgeven"
    )


def test_held_back_items_are_in_no_zip_and_no_form(basket, exportmap, persons, fixed_clock):
    basket.add(count_table(persons), "Personen naar leeftijd en geslacht")
    basket.add(small_cells_table(persons), "Onverklaard per gemeente")
    with pytest.warns(UserWarning):
        basket.add(persons[["RINPERSOON", "gemeente"]].head(30), "Lijst met personen", explanation="Only 30 rows.")

    result = cel.prepare_export(basket, exportmap)

    assert {b.title for b in result.blocked} == {"Onverklaard per gemeente", "Lijst met personen"}
    everything = [read_zip(p) for p in result.zips]
    for members in everything:
        names = " ".join(members)
        text = form_text(members) if FORM_NAME in members else ""
        for title in ("Onverklaard", "Lijst met personen"):
            assert title not in names and title not in text
    held = {b.item_id for b in result.blocked}
    assert all(not basket.get(i).exported for i in held)


def test_nothing_exportable_writes_nothing(basket, exportmap, persons):
    basket.add(small_cells_table(persons), "Onverklaard per gemeente")
    result = cel.prepare_export(basket, exportmap)
    assert result.zips == [] and len(result.blocked) == 1
    assert list(exportmap.rglob("*.*")) == []


def test_exported_items_are_not_exported_twice(basket, exportmap, persons, fixed_clock):
    basket.add(count_table(persons), "Personen naar leeftijd en geslacht")
    first = cel.prepare_export(basket, exportmap)
    assert len(first.zips) == 1
    assert cel.prepare_export(basket, exportmap).zips == []
    again = cel.prepare_export(basket, exportmap, include_exported=True)
    assert again.zips[0].name == "output_20260101-000000_2.zip"
    assert list(read_zip(again.zips[0])) == list(read_zip(first.zips[0]))


def test_same_basket_and_clock_give_byte_identical_zips(basket, tmp_path, persons, fixed_clock):
    business = demo.businesses(3000, seed=4)
    basket.add(count_table(persons), "Personen naar leeftijd en geslacht")
    basket.add(cel.pivot_table(business, values="omzet", index="sector", aggfunc="sum", unit="BEID"), "Omzet")
    basket.add(small_cells_table(persons), "Personen naar gemeente", explanation=EXPLAINED)
    one = cel.prepare_export(basket, demo.make_exportmap(tmp_path / "one"), project="9001")
    two = cel.prepare_export(basket, demo.make_exportmap(tmp_path / "two"), project="9001", include_exported=True)
    assert len(one.zips) == 3
    assert [p.relative_to(tmp_path / "one") for p in one.zips] == [p.relative_to(tmp_path / "two") for p in two.zips]
    assert [p.read_bytes() for p in one.zips] == [p.read_bytes() for p in two.zips]


def test_failure_while_writing_leaves_no_zip_and_an_unchanged_basket(basket, exportmap, persons, monkeypatch):
    basket.add(count_table(persons), "Personen naar leeftijd en geslacht")
    basket.add(small_cells_table(persons), "Personen naar gemeente", explanation=EXPLAINED)
    manifest = basket.manifest_path.read_bytes()
    real_write = em._write_file
    calls = []

    def failing_write(path, data):
        calls.append(path)
        assert not path.name.endswith(".zip") and path.parent.parent == exportmap.resolve()
        if len(calls) == 2:
            real_write(path, data[: len(data) // 2])
            raise OSError(28, "No space left on device", str(path))
        real_write(path, data)

    monkeypatch.setattr(em, "_write_file", failing_write)
    with pytest.raises(UserError, match="nothing was exported and the basket is unchanged"):
        cel.prepare_export(basket, exportmap)
    assert len(calls) == 2
    assert [p for p in exportmap.rglob("*") if p.is_file()] == []
    assert basket.manifest_path.read_bytes() == manifest


def test_failure_while_renaming_removes_zips_already_in_place(basket, exportmap, persons, monkeypatch):
    basket.add(count_table(persons), "Personen naar leeftijd en geslacht")
    basket.add(small_cells_table(persons), "Personen naar gemeente", explanation=EXPLAINED)
    manifest = basket.manifest_path.read_bytes()
    real_replace = em.replace_with_retry
    renamed = []

    def failing_replace(src, dst):
        if renamed:
            raise PermissionError(13, "Access is denied", str(dst))
        real_replace(src, dst)
        renamed.append(dst)

    monkeypatch.setattr(em, "replace_with_retry", failing_replace)
    with pytest.raises(UserError, match="Access is denied"):
        cel.prepare_export(basket, exportmap)
    assert len(renamed) == 1 and not Path(renamed[0]).exists()
    assert [p for p in exportmap.rglob("*") if p.is_file()] == []
    assert basket.manifest_path.read_bytes() == manifest


def test_item_removed_by_another_process_during_the_export_leaves_no_zip(basket, exportmap, persons, monkeypatch):
    """The sidebar may remove an item while a terminal export writes: no zip may stay whose items are not marked."""
    keep = basket.add(count_table(persons), "Personen naar leeftijd en geslacht")
    gone = basket.add(small_cells_table(persons).T, "Personen naar geslacht en gemeente", explanation=EXPLAINED)
    real_write = em.write_zips

    def write_then_remove(plan, contents):
        written = real_write(plan, contents)
        assert all(p.is_file() for p in written)
        cel.Basket(basket.folder).remove(gone.id)
        return written

    monkeypatch.setattr(em, "write_zips", write_then_remove)
    with pytest.raises(UserError, match=f"no item '{gone.id}'.*removed again; nothing was exported"):
        cel.prepare_export(basket, exportmap)
    assert zips_in(exportmap) == []
    assert [(i.id, i.exported) for i in basket.items] == [(keep.id, [])]


def test_deleted_item_file_is_a_user_error_naming_it(basket, exportmap, persons):
    item = basket.add(count_table(persons), "Personen naar leeftijd en geslacht")
    missing = basket.path(item, item.files[0])
    missing.unlink()
    manifest = basket.manifest_path.read_bytes()
    with pytest.raises(UserError, match="is missing") as info:
        cel.prepare_export(basket, exportmap)
    assert str(missing) in str(info.value) and "add the output again" in str(info.value)
    assert zips_in(exportmap) == [] and basket.manifest_path.read_bytes() == manifest


def test_permission_denied_in_the_exportmap_names_the_folder(basket, exportmap, persons, monkeypatch):
    basket.add(count_table(persons), "Personen naar leeftijd en geslacht")

    def denied(path, data):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(em, "_write_file", denied)
    with pytest.raises(UserError, match="may write in it") as info:
        cel.prepare_export(basket, exportmap)
    assert f"into {(exportmap / ACHTERAF).resolve()} failed (Permission denied)" in str(info.value)
    assert zips_in(exportmap) == [] and not basket.items[0].exported


def test_unwritable_exportmap_is_a_user_error(basket, exportmap, persons):
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        pytest.skip("root may write in a read-only folder")
    basket.add(count_table(persons), "Personen naar leeftijd en geslacht")
    target = exportmap / ACHTERAF
    target.chmod(0o555)
    try:
        with pytest.raises(UserError, match="may write in it"):
            cel.prepare_export(basket, exportmap)
    finally:
        target.chmod(0o755)
    assert zips_in(exportmap) == [] and not basket.items[0].exported


def test_missing_exportmap_or_subfolder_leaves_basket_untouched(basket, tmp_path, persons):
    basket.add(count_table(persons), "Personen naar leeftijd en geslacht")
    manifest = basket.manifest_path.read_bytes()
    with pytest.raises(UserError, match="does not exist"):
        cel.prepare_export(basket, tmp_path / "no-exportmap")
    vooraf = demo.make_exportmap(tmp_path / "v", "vooraf")
    with pytest.raises(UserError, match="no subfolder '2_Controle achteraf'"):
        cel.prepare_export(basket, vooraf, mode="achteraf")
    assert zips_in(tmp_path) == [] and basket.manifest_path.read_bytes() == manifest


def test_project_names_cannot_escape_the_exportmap(basket, exportmap, persons, fixed_clock):
    basket.add(count_table(persons), "../../Personen\\naar:leeftijd")
    result = cel.prepare_export(basket, exportmap, project="../../../etc/passwd")
    assert [p.parent for p in result.zips] == [(exportmap / ACHTERAF).resolve()]
    assert result.zips[0].name == "etc_passwd_20260101-000000.zip"
    names = list(read_zip(result.zips[0]))
    assert all(".." not in n and "\\" not in n and ":" not in n for n in names)


def test_model_results_are_exported_with_their_files(basket, exportmap, persons, fixed_clock):
    adults = persons[persons["leeftijd"] >= 18]
    fit = smf.ols("inkomen ~ leeftijd + C(geslacht)", data=adults).fit()
    item = basket.add(fit, "Inkomen naar leeftijd")
    assert item.status == "pass"
    result = cel.prepare_export(basket, exportmap)
    members = read_zip(result.zips[0])
    assert {n.rsplit(".", 1)[-1] for n in members if n.startswith("01_")} == {"xlsx", "txt"}
    verify_checksums(members)


def write_notebook(path: Path, *sources: str) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in sources]
    nbformat.write(nb, path)
    return path


def test_syntax_goes_in_its_own_zip_never_light(basket, exportmap, tmp_path, persons, fixed_clock):
    clean = write_notebook(tmp_path / "analyse.ipynb", "import pandas as pd\ntabel = pd.crosstab(df.a, df.b)")
    leaky = write_notebook(tmp_path / "lijst.ipynb", f"ids = ['{persons['RINPERSOON'].iloc[0]}']")
    basket.add(count_table(persons), "Personen naar leeftijd en geslacht")
    basket.add_notebook(clean, "Analyse")
    with pytest.warns(UserWarning, match="can never be exported"):
        held = basket.add_notebook(leaky, "Lijst")
    assert basket.get(held.id).never_exportable

    result = cel.prepare_export(basket, exportmap, project="9001")

    rel = [p.relative_to(exportmap).as_posix() for p in result.zips]
    assert rel == [f"{ACHTERAF}/9001_20260101-000000.zip", f"{ACHTERAF}/9001_20260101-000000_syntax.zip"]
    members = read_zip(result.zips[1])
    verify_checksums(members)
    assert any(name.startswith("01_Analyse/") and name.endswith(".ipynb") for name in members)
    assert [b.title for b in result.blocked] == ["Lijst"]

    vooraf = demo.make_exportmap(tmp_path / "v", "vooraf")
    again = cel.prepare_export(basket, vooraf, project="9001", include_exported=True)
    assert [p.name for p in again.zips] == ["LIGHT_9001_20260101-000000.zip", "9001_20260101-000000_syntax.zip"]


def test_graph_without_stated_observations_needs_an_explanation_and_is_not_light(
    basket, tmp_path, persons, fixed_clock
):
    exportmap = demo.make_exportmap(tmp_path / "v", "vooraf")
    fig, ax = plt.subplots()
    counts = persons["geslacht"].value_counts().sort_index()
    ax.bar(counts.index.astype(str), counts.values)
    item = basket.add(fig, "Geslacht zonder N")
    plt.close(fig)
    assert item.status == "review"
    assert cel.prepare_export(basket, exportmap).zips == []
    basket.set_explanation(item.id, f"Based on {len(persons)} persons; N goes in the caption of the publication.")
    result = cel.prepare_export(basket, exportmap)
    assert [p.name for p in result.zips] == ["output_20260101-000000.zip"]
    rows = form_sheets(read_zip(result.zips[0]))["Bestanden"]
    assert "observations_not_shown" in rows[1][9] and rows[1][10].startswith("Based on")


def test_text_pasted_from_word_reaches_the_form(basket, exportmap, persons, fixed_clock):
    """A line break pasted from Word is a vertical tab, which Excel refuses: the export must not fail on it."""
    basket.add(
        small_cells_table(persons),
        "Personen\x0bnaar gemeente",
        description="Telling\x0b2022",
        explanation="Kleine gemeenten\x0bworden samengevoegd.",
    )
    result = cel.prepare_export(basket, exportmap, project="9001\x0b")
    [row] = form_sheets(read_zip(result.zips[0]))["Bestanden"][1:]
    assert row[1:3] == ("Personen naar gemeente", "Telling 2022") and row[10] == "Kleine gemeenten worden samengevoegd."


def test_rules_recorded_by_another_version_show_as_unknown_on_the_form(basket, exportmap, persons, fixed_clock):
    import json

    basket.add(count_table(persons), "Personen naar leeftijd en geslacht")
    manifest = json.loads(basket.manifest_path.read_text(encoding="utf-8"))
    manifest["items"][0]["rules_settings"]["threshold_next_year"] = 15
    basket.manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    result = cel.prepare_export(basket, exportmap)
    rules = dict(row for row in form_sheets(read_zip(result.zips[0]))["Regels"] if len(row) == 2)
    assert rules["Vingerafdruk / Fingerprint"].startswith("onbekend / unknown")


def test_a_second_export_of_the_same_basket_waits_its_turn(basket, exportmap, persons):
    from filelock import FileLock

    basket.add(count_table(persons), "Personen naar leeftijd en geslacht")
    with FileLock(str(basket.folder / em.EXPORT_LOCK)):
        with pytest.raises(UserError, match="Another export of the basket"):
            cel.prepare_export(basket, exportmap)
    assert zips_in(exportmap) == [] and not basket.items[0].exported
    assert len(cel.prepare_export(basket, exportmap).zips) == 1


def test_output_checked_with_looser_rules_goes_to_1_and_the_form_says_so(
    basket, exportmap, tmp_path, persons, monkeypatch, fixed_clock
):
    loose = tmp_path / "loose-rules.toml"
    loose.write_text("[threshold]\nmin_units = 5\n", encoding="utf-8")
    monkeypatch.setenv("CBS_EXPORT_RULES", str(loose))
    item = basket.add(count_table(persons), "Personen naar leeftijd en geslacht")
    assert item.status == "pass" and not item.rules_compliant
    assert cel.plan_export(basket, exportmap).zips == []
    basket.set_explanation(item.id, "Cells of 5 or more are released for this population by agreement with CBS.")

    result = cel.prepare_export(basket, exportmap)

    assert [p.parent.name for p in result.zips] == [VOORAF]
    rules = dict(row for row in form_sheets(read_zip(result.zips[0]))["Regels"] if len(row) == 2)
    assert rules["Herkomst / Origin"] == str(loose.resolve())
    assert rules["Volgens de standaard / Compliant with the defaults"].startswith("nee / no")
    assert "threshold" in rules["Volgens de standaard / Compliant with the defaults"]
    assert rules["Vingerafdruk / Fingerprint"] == cel.load_rules(loose).fingerprint != default_rules().fingerprint


def test_form_shows_the_rules_used_at_check_time_even_if_the_file_changed(
    basket, exportmap, tmp_path, persons, monkeypatch, fixed_clock
):
    strict = tmp_path / "strict-rules.toml"
    strict.write_text("[threshold]\nmin_units = 20\n", encoding="utf-8")
    monkeypatch.setenv("CBS_EXPORT_RULES", str(strict))
    used = cel.load_rules(strict)
    basket.add(count_table(persons), "Personen naar leeftijd en geslacht")
    strict.write_text("[threshold]\nmin_units = 30\n", encoding="utf-8")

    result = cel.prepare_export(basket, exportmap)

    rules = dict(row for row in form_sheets(read_zip(result.zips[0]))["Regels"] if len(row) == 2)
    assert rules["Vingerafdruk / Fingerprint"] == used.fingerprint
    assert rules["  threshold"] == "20"


def test_names_in_the_zip_carry_the_title_and_the_written_zip_has_the_planned_name(tmp_path, persons):
    """No fixed clock here: the plan shown earlier and the export written later agree on the zip name."""
    import time
    from datetime import datetime

    exportmap = demo.make_exportmap(tmp_path / "exportmap", "vooraf")
    basket = cel.Basket(tmp_path / "basket")
    title = "Personen naar regio en leeftijd 18+ (2022), alle gemeenten van Nederland samen"
    basket.add(cel.crosstab(persons.geslacht, persons.leeftijdsklasse), title)
    plan = cel.plan_export(basket, exportmap)
    time.sleep(1.1)
    result = cel.prepare_export(basket, exportmap, planned_at=plan.to_dict()["created"])
    assert [p.name for p in result.zips] == [z.name for z in plan.zips]
    names = zipfile.ZipFile(result.zips[0]).namelist()
    assert f"01_{title}/{title}.xlsx" in names, names
    future = datetime.now().astimezone().replace(year=2999).isoformat()
    with pytest.raises(UserError):
        cel.prepare_export(basket, exportmap, planned_at="not a time")
    assert em._planned_time(future) is None
