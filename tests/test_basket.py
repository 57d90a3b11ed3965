"""The basket on disk: every item kind round-trips, artefacts read back, and user mistakes get clear errors."""

from __future__ import annotations

import json
import re
import warnings
from datetime import datetime, timezone
from pathlib import Path

import matplotlib.pyplot as plt
import openpyxl
import pandas as pd
import pytest

import cbs_export_lab as cel
import cbs_export_lab.atomic
import cbs_export_lab.excel
from cbs_export_lab import demo
from cbs_export_lab.basket import BACKGROUND_SUFFIX, Basket, BasketError
from cbs_export_lab.errors import UserError
from cbs_export_lab.excel import MARK_FILL, NO, NOT_GIVEN, REVIEW_FILL, STATUS_LABELS
from cbs_export_lab.intake import NEVER_EXPORTABLE_ROWS
from cbs_export_lab.light import light_budget
from cbs_export_lab.settings import save_user_settings

PNG_HEADER = b"\x89PNG\r\n\x1a\n"
ID_PATTERN = re.compile(r"[a-z]\d{2,}-[a-z0-9-]+")


@pytest.fixture
def count_table(persons):
    return pd.crosstab(persons.gemeente, persons.leeftijdsklasse)


def sheet(path):
    return openpyxl.load_workbook(path).active


def meta(ws) -> dict:
    return {r[0]: r[1] for r in ws.iter_rows(min_row=2, max_row=9, values_only=True) if r[0]}


def same(a, b) -> bool:
    return a.to_dict() == b.to_dict()


def test_default_folder_comes_from_the_settings(tmp_path):
    assert Basket().folder.is_dir()
    save_user_settings(basket=str(tmp_path / "project basket"))
    b = Basket()
    assert b.folder == (tmp_path / "project basket").resolve() and b.folder.is_dir()


def test_table_round_trip(basket, count_table):
    expected = cel.check(count_table)
    item = basket.add(count_table, "Personen naar gemeente en leeftijd", description="Telling 2022")
    assert item.kind == "table" and ID_PATTERN.fullmatch(item.id)
    assert (item.status, item.findings, item.counts) == (expected.status, expected.findings, expected.counts)
    assert item.description == "Telling 2022" and item.rules_origin == "defaults" and item.rules_compliant
    assert item.exported == [] and item.added_at
    [xlsx] = item.files
    ws = sheet(basket.path(item, xlsx))
    assert ws["A1"].value == "Personen naar gemeente en leeftijd" and ws["A2"].value == "Telling 2022"
    assert meta(ws)["Status"] == STATUS_LABELS[item.status]
    assert meta(ws)["Gewogen / Weighted"] == NO and meta(ws)["Regels / Rules"] == "defaults"
    [again] = Basket(basket.folder).items
    assert same(again, item)


def test_table_sheet_states_n_and_unit_from_the_data(basket, persons):
    table = cel.crosstab(persons.gemeente, persons.geslacht, unit=persons.RINPERSOON, weights=persons.gewicht)
    item = basket.add(table, "Gewogen personen naar gemeente")
    rows = meta(sheet(basket.path(item, item.files[0])))
    assert rows["Ongewogen N / Unweighted N"] == persons.RINPERSOON.nunique()
    assert rows["Eenheid / Unit"] == "RINPERSOON" and rows["Gewogen / Weighted"].startswith("ja / yes")
    plain = basket.add(pd.crosstab(persons.gemeente, persons.geslacht), "Zonder eenheid")
    rows = meta(sheet(basket.path(plain, plain.files[0])))
    assert rows["Ongewogen N / Unweighted N"] == "onbekend / unknown" and rows["Eenheid / Unit"] == NOT_GIVEN


def test_looser_rules_are_recorded_on_the_item_and_the_sheet(basket, count_table, tmp_path, monkeypatch):
    looser = tmp_path / "rules.toml"
    looser.write_text("[threshold]\nmin_units = 5\n", encoding="utf-8")
    monkeypatch.setenv("CBS_EXPORT_RULES", str(looser))
    item = basket.add(count_table, "Tabel")
    assert not item.rules_compliant and item.rules_origin != "defaults"
    assert "looser than the CBS defaults" in meta(sheet(basket.path(item, item.files[0])))["Regels / Rules"]
    assert not Basket(basket.folder).get(item.id).rules_compliant


def test_failing_cells_are_red_and_cells_to_review_yellow_in_the_rendered_table(basket, count_table):
    item = basket.add(count_table, "Personen")
    failing = {(str(r), str(c)) for f in item.findings if f.severity == "fail" for r, c in f.cells}
    review = {(str(r), str(c)) for f in item.findings if f.severity == "review" for r, c in f.cells}
    zeros = {(str(r), str(c)) for r in count_table.index for c in count_table.columns if count_table.loc[r, c] == 0}
    assert failing and zeros, "the demo data has small and empty cells by design"
    ws = sheet(basket.path(item, item.files[0]))
    header_row = next(r for r in ws.iter_rows() if r[0].value == "gemeente")
    columns = {c.column: c.value for c in header_row}

    def filled(colour):
        return {
            (ws.cell(c.row, 1).value, columns[c.column])
            for row in ws.iter_rows()
            for c in row
            if c.fill.fgColor.rgb and c.fill.fgColor.rgb.endswith(colour)
        }

    assert filled(MARK_FILL) == failing
    assert filled(REVIEW_FILL) == review - failing and zeros <= filled(REVIEW_FILL)


def test_magnitude_table_stores_background_that_never_counts(basket, persons):
    table = cel.crosstab(
        persons.gemeente, persons.geslacht, values=persons.inkomen, aggfunc="sum", unit=persons.RINPERSOON
    )
    main = basket.add(table, "Inkomen naar gemeente")
    items = basket.items
    assert [i.id for i in items][0] == main.id and len(items) == 2
    bg = items[1]
    assert bg.background and bg.background_for == main.id and bg.kind == "table"
    assert bg.title == "Inkomen naar gemeente" + BACKGROUND_SUFFIX
    assert not bg.needs_explanation and bg.findings == main.findings
    frames = cel.check(table).details["cell_stats"].to_frames()
    [xlsx] = bg.files
    wb = openpyxl.load_workbook(basket.path(bg, xlsx))
    assert wb.sheetnames == list(frames)
    units = wb["units"]
    assert "achtergrondinformatie (niet vrijgeven)" in units["A1"].value
    body = [r for r in units.iter_rows(values_only=True) if r[0] in set(frames["units"].index)]
    assert [list(r[1 : 1 + frames["units"].shape[1]]) for r in body] == frames["units"].to_numpy().tolist()
    assert light_budget(items) == light_budget([main])
    basket.remove(main.id)
    assert basket.items == []


def test_a_magnitude_table_whose_background_cannot_be_written_is_not_added(basket, persons, monkeypatch):
    """Half an add would send the table to the checker without the dominance shares behind it."""
    table = cel.crosstab(
        persons.gemeente, persons.geslacht, values=persons.inkomen, aggfunc="sum", unit=persons.RINPERSOON
    )
    before = basket.add(pd.crosstab(persons.geslacht, persons.leeftijdsklasse), "Eerder")

    real_write_book = cbs_export_lab.excel.write_book

    def disk_full_at_the_background(path, sheets):
        sheets = list(sheets)
        if BACKGROUND_SUFFIX in sheets[0].title:
            raise OSError(28, "No space left on device", str(path))
        return real_write_book(path, sheets)

    monkeypatch.setattr("cbs_export_lab.excel.write_book", disk_full_at_the_background)
    with pytest.raises(BasketError, match="No space left on device"):
        basket.add(table, "Inkomen naar gemeente")
    assert [i.id for i in basket.items] == [before.id]
    assert [p.name for p in (basket.folder / "items").iterdir()] == [before.id]


def test_background_asked_for_by_the_user_links_to_its_output(basket, count_table):
    main = basket.add(count_table, "Tabel")
    bg = basket.add(count_table.T, "Tabel - cellen", background=True, background_for=main.id)
    assert bg.background and bg.background_for == main.id and not bg.needs_explanation
    with pytest.raises(UserError, match="no item 'x99-nope'"):
        basket.add(count_table, "Los", background=True, background_for="x99-nope")
    with pytest.raises(UserError, match="itself background information"):
        basket.add(count_table, "Achter de achtergrond", background_for=bg.id)
    implied = basket.add(count_table, "Tabel - rijen", background_for=main.id)
    assert implied.background and not implied.needs_explanation
    assert [i.id for i in basket.items] == [main.id, bg.id, implied.id]


def test_model_round_trip(basket, persons):
    import statsmodels.formula.api as smf

    res = smf.ols("inkomen ~ leeftijd + C(geslacht)", data=persons).fit()
    expected = cel.check(res, data=persons)
    item = basket.add(res, "Inkomen naar leeftijd", data=persons, description="OLS")
    assert item.kind == "model" and item.counts.models == 1
    assert (item.status, item.findings) == (expected.status, expected.findings)
    xlsx, txt = (basket.path(item, f) for f in item.files)
    assert xlsx.suffix == ".xlsx" and txt.suffix == ".txt"
    assert sheet(xlsx)["A1"].value == "Inkomen naar leeftijd"
    text = txt.read_text(encoding="utf-8")
    assert "Inkomen naar leeftijd" in text and "leeftijd" in text
    assert same(Basket(basket.folder).get(item.id), item)


def test_figure_round_trip(basket, persons):
    fig, ax = plt.subplots()
    counts = persons.groupby("leeftijdsklasse", observed=True).size()
    ax.bar([str(x) for x in counts.index], counts.to_numpy())
    ax.set_title(f"Personen naar leeftijd (N = {len(persons)})")
    expected = cel.check(fig)
    item = basket.add(fig, "Leeftijd")
    plt.close(fig)
    assert item.kind == "figure" and item.counts.figures == 1
    assert (item.status, item.findings) == (expected.status, expected.findings)
    [png] = item.files
    assert basket.path(item, png).read_bytes()[:8] == PNG_HEADER
    assert same(Basket(basket.folder).get(item.id), item)


def test_file_is_copied_as_it_is_and_reviewed(basket, tmp_path):
    src = tmp_path / "toelichting bij de tabellen.pdf"
    src.write_bytes(b"%PDF-1.4 toelichting\n")
    item = basket.add(src, "Toelichting")
    assert item.kind == "file" and item.status == "review" and item.needs_explanation
    assert basket.path(item, item.files[0]).read_bytes() == src.read_bytes()
    assert src.read_bytes() == b"%PDF-1.4 toelichting\n"
    assert basket.add(str(src), "Toelichting als tekst").kind == "file"


def test_a_table_file_is_also_checked_as_a_table(basket, tmp_path, persons):
    src = tmp_path / "personen.csv"
    persons.head(40).to_csv(src, index=False)
    with pytest.warns(UserWarning, match="never be exported"):
        item = basket.add(src, "Personen als csv")
    assert item.kind == "file" and item.status == "fail" and item.never_exportable
    assert {"identifier", "unsupported"} <= {f.rule for f in item.findings}


def test_a_script_file_is_scanned_for_ids_like_a_notebook(basket, tmp_path, persons):
    clean = tmp_path / "analyse.R"
    clean.write_text('tab <- table(df$gemeente, df$geslacht)\nwrite.csv(tab, "tab.csv")\n', encoding="utf-8")
    added = basket.add(clean, "Analyse in R")  # a script is syntax: its scan is its check, as for a notebook
    assert (added.kind, added.status) == ("syntax", "pass")
    leaky = tmp_path / "zoek.R"
    leaky.write_text(f'persoon <- subset(df, RINPERSOON == "{persons.RINPERSOON.iloc[0]}")\n', encoding="utf-8")
    with pytest.warns(UserWarning, match="identifying values .* in its code or text.*notebook or script"):
        item = basket.add(leaky, "Zoeken in R")
    assert item.kind == "syntax" and item.never_exportable
    assert any(f.rule == "identifier" and "zoek.R, line 1" in f.where for f in item.findings)


def notebook(path, code):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(code, execution_count=1, outputs=[nbformat.v4.new_output("stream", text="2\n")])
    ]
    nbformat.write(nb, path)
    return path


def test_notebook_is_stripped_and_scanned(basket, tmp_path):
    import nbformat

    src = notebook(tmp_path / "analyse.ipynb", "import pandas as pd\nprint(1 + 1)")
    before = src.read_bytes()
    item = basket.add_notebook(src, "Analyse")
    assert item.kind == "syntax" and item.status == "pass" and item.findings == []
    assert src.read_bytes() == before
    files = {Path(f).suffix: basket.path(item, f) for f in item.files}
    assert set(files) == {".ipynb", ".py"}
    assert nbformat.read(files[".ipynb"], as_version=4).cells[0].outputs == []
    assert "analyse.ipynb" in item.description and "outputs (1)" in item.description
    assert "print(1 + 1)" in files[".py"].read_text(encoding="utf-8")
    assert same(Basket(basket.folder).get(item.id), item)


def test_notebook_with_an_id_in_its_code_fails_and_needs_an_explanation(basket, tmp_path):
    src = notebook(tmp_path / "zoek.ipynb", 'persoon = df[df.RINPERSOON == "012345678"]')
    with pytest.warns(UserWarning, match="never be exported"):
        item = basket.add_notebook(src, "Zoeken")
    assert item.status == "fail" and item.needs_explanation and item.never_exportable
    assert "identifier" in {f.rule for f in item.findings}


def test_a_missing_notebook_is_a_user_error(basket, tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        basket.add_notebook(tmp_path / "weg.ipynb", "Weg")


def test_identifier_output_is_stored_marked_and_warned_about(basket, persons):
    with pytest.warns(UserWarning, match="can never be exported"):
        item = basket.add(persons.head(30), "Eerste personen")
    assert item.never_exportable and item.status == "fail"
    assert basket.path(item, item.files[0]).is_file()
    assert basket.get(item.id).never_exportable
    manifest = json.loads(basket.manifest_path.read_text(encoding="utf-8"))
    assert manifest["items"][0]["never_exportable"] is True


def test_unit_records_are_kept_only_in_part(basket):
    """Enough rows to see why an output can never leave, without a full copy of the microdata in the basket."""
    persons = demo.persons(NEVER_EXPORTABLE_ROWS + 500, seed=2)
    with pytest.warns(UserWarning, match="can never be exported"):
        item = basket.add(persons, "Alle personen", description="Bestand")
    assert item.counts == cel.check(persons).counts
    ws = sheet(basket.path(item, item.files[0]))
    ids = {value for row in ws.iter_rows(values_only=True) for value in row} & set(persons.RINPERSOON)
    assert ids == set(persons.RINPERSOON.head(NEVER_EXPORTABLE_ROWS))
    assert ws["A2"].value.startswith("Bestand Only the first 1,000 of 1,500 rows")


def test_a_safe_table_does_not_warn(basket, count_table):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        basket.add(count_table, "Tabel")


def test_duplicate_titles_get_a_suffix_and_never_overwrite(basket, count_table):
    first = basket.add(count_table, "Tabel 1")
    first_bytes = basket.path(first, first.files[0]).read_bytes()
    second = basket.add(count_table.T, "Tabel 1")
    third = basket.add(count_table, "Tabel 1")
    assert [i.title for i in basket.items] == ["Tabel 1", "Tabel 1 (2)", "Tabel 1 (3)"]
    assert len({first.id, second.id, third.id}) == 3
    assert basket.path(first, first.files[0]).read_bytes() == first_bytes
    assert sheet(basket.path(second, second.files[0]))["A1"].value == "Tabel 1 (2)"


def test_ids_are_windows_valid_whatever_the_title(basket, count_table):
    titles = ['Inkomen: <gemiddeld> / "mediaan" | CON?', "Één tabel — ü", "***", "x" * 300]
    items = [basket.add(count_table, t) for t in titles]
    assert [i.title for i in items] == titles
    for item in items:
        assert ID_PATTERN.fullmatch(item.id) and len(item.id) <= 30
        assert all(Path(basket.path(item, f)).is_file() for f in item.files)


@pytest.mark.parametrize(
    "obj, title, words",
    [
        ([1, 2, 3], "Lijst", "neither a checkable output"),
        ("geen/bestand.csv", "Pad", "there is no file 'geen/bestand.csv'"),
        (pd.DataFrame({"a": [10]}), "   ", "needs a title"),
    ],
)
def test_user_errors_when_adding(basket, obj, title, words):
    with pytest.raises(UserError, match=words):
        basket.add(obj, title)
    assert basket.items == []


def test_a_folder_that_cannot_be_created_is_a_user_error(tmp_path):
    blocker = tmp_path / "a file"
    blocker.write_text("x")
    with pytest.raises(UserError, match="cannot be created or used"):
        Basket(blocker / "basket")


@pytest.mark.parametrize(
    "call",
    [
        lambda b: b.get("t99-nope"),
        lambda b: b.remove("t99-nope"),
        lambda b: b.set_explanation("t99-nope", "x"),
        lambda b: b.mark_exported(["t99-nope"], "x.zip"),
    ],
)
def test_unknown_item_ids_name_the_id_and_the_known_ids(basket, count_table, call):
    item = basket.add(count_table, "Tabel")
    with pytest.raises(UserError) as err:
        call(basket)
    assert "'t99-nope'" in str(err.value) and item.id in str(err.value)


def test_remove_deletes_the_item_its_files_and_its_background(basket, count_table):
    keep = basket.add(count_table, "Houden")
    gone = basket.add(count_table, "Weg")
    basket.add(count_table.T, "Weg - cellen", background=True, background_for=gone.id)
    folder = basket.path(gone, gone.files[0]).parent
    basket.remove(gone.id)
    assert [i.id for i in basket.items] == [keep.id]
    assert not folder.exists()
    again = basket.add(count_table, "Weg")
    assert again.id != gone.id


def test_explanations_and_exports_are_kept_on_disk(basket, count_table, tmp_path):
    item = basket.add(count_table, "Tabel", explanation="  ")
    assert item.explanation is None
    basket.set_explanation(item.id, "  Kleine cellen zijn samengevoegd.  ")
    assert Basket(basket.folder).get(item.id).explanation == "Kleine cellen zijn samengevoegd."
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    basket.mark_exported([item.id], tmp_path / "exportmap" / "1_Controle vooraf" / "p1234_2026.zip", at)
    assert Basket(basket.folder).get(item.id).exported == [
        {"zip": "p1234_2026.zip", "folder": "1_Controle vooraf", "at": "2026-01-02T03:04:05+00:00"}
    ]
    basket.set_explanation(item.id, "")
    assert basket.get(item.id).explanation is None


def test_path_only_gives_the_items_own_files(basket, count_table):
    item = basket.add(count_table, "Tabel")
    assert basket.path(item.id, item.files[0]).is_file()
    with pytest.raises(UserError, match="is not a file of basket item"):
        basket.path(item, "manifest.json")


def test_items_are_read_from_disk_every_time(basket, count_table):
    other = Basket(basket.folder)
    basket.add(count_table, "Een")
    other.add(count_table, "Twee")
    assert [i.title for i in basket.items] == ["Een", "Twee"]


@pytest.mark.parametrize(
    "content, words",
    [
        ("{not json", "not valid JSON"),
        ("[]", "not a basket manifest"),
        ('{"version": 1, "items": {}}', "not a basket manifest"),
        ('{"items": []}', 'no format "version"'),
        ('{"version": 1, "items": [{"id": "t01-a"}]}', "no valid 'title'"),
        (
            '{"version": 1, "items": [{"id": "t01-a", "title": "a", "kind": "table", "status": "pass", '
            '"files": ["../../elders.xlsx"]}]}',
            "outside the basket folder",
        ),
        (
            '{"version": 1, "items": [{"id": "t01-a", "title": "a", "kind": "table", "status": "ok", "files": []}]}',
            "unknown status 'ok'",
        ),
        (
            '{"version": 1, "items": [{"id": "t01-a", "title": "a", "kind": "table", "status": "pass", "files": [], '
            '"findings": [{"rule": "threshold", "severity": "fail", "message": "3 persons"}]}]}',
            "status 'pass' but a finding that says 'fail'",
        ),
        (
            '{"version": 1, "items": [{"id": "t01-a", "title": "a", "kind": "table", "status": "pass", "files": [], '
            '"exported": "yes"}]}',
            "invalid 'exported'",
        ),
        (
            '{"version": 1, "items": [{"id": "t01-a", "title": "a", "kind": "table", "status": "pass", "files": [], '
            '"counts": {"tables": 1, "cells": "400"}}]}',
            "counts that are not whole numbers",
        ),
        (
            '{"version": 1, "items": ['
            + ", ".join(['{"id": "t01-a", "title": "a", "kind": "table", "status": "pass", "files": []}'] * 2)
            + "]}",
            "appears twice",
        ),
    ],
)
def test_a_damaged_manifest_is_a_clear_error_and_is_never_overwritten(basket, count_table, content, words):
    basket.manifest_path.write_text(content, encoding="utf-8")
    for call in (lambda: basket.items, lambda: basket.add(count_table, "Nieuw"), lambda: basket.get("t01-a")):
        with pytest.raises(BasketError) as err:
            call()
        message = str(err.value)
        assert words in message and str(basket.manifest_path) in message and "move it" in message
    assert basket.manifest_path.read_text(encoding="utf-8") == content


def test_a_manifest_from_a_newer_version_is_not_touched(basket, count_table):
    content = '{"version": 99, "items": []}'
    basket.manifest_path.write_text(content, encoding="utf-8")
    with pytest.raises(BasketError, match="newer cbs_export_lab"):
        basket.add(count_table, "Nieuw")
    assert basket.manifest_path.read_text(encoding="utf-8") == content


def test_a_failed_replace_leaves_the_previous_manifest(basket, count_table, monkeypatch):
    basket.add(count_table, "Eerste")
    before = basket.manifest_path.read_bytes()

    replace = cbs_export_lab.atomic.replace_with_retry

    def crash(src, dst):
        if Path(dst).name == "manifest.json":
            raise OSError(28, "No space left on device")
        replace(src, dst)

    monkeypatch.setattr("cbs_export_lab.atomic.replace_with_retry", crash)
    with pytest.raises(BasketError, match="previous version is unchanged"):
        basket.add(count_table, "Tweede")
    assert basket.manifest_path.read_bytes() == before
    assert sorted(p.name for p in basket.folder.iterdir()) == [".lock", "items", "manifest.json"]
    assert len(list((basket.folder / "items").iterdir())) == 1
    monkeypatch.undo()
    assert [i.title for i in basket.items] == ["Eerste"]
    assert [i.title for i in (basket.add(count_table, "Tweede"), *basket.items)][1:] == ["Eerste", "Tweede"]


def test_the_demo_data_is_what_the_tests_assume():
    assert "RINPERSOON" in demo.persons(10).columns


def test_titles_and_explanations_have_a_sane_maximum_and_nothing_is_stored_past_it(basket, persons):
    table = cel.crosstab(persons["leeftijdsklasse"], persons["geslacht"])
    with pytest.raises(UserError, match="title has 301 characters; keep it to at most 300"):
        basket.add(table, "x" * 301)
    assert basket.items == []
    item = basket.add(table, "x" * 300, explanation="e" * 20_000)
    with pytest.raises(UserError, match="explanation has 20,001 characters"):
        basket.set_explanation(item.id, "e" * 20_001)
    assert basket.get(item.id).explanation == "e" * 20_000
