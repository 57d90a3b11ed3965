"""excel.write_sheet: what an output checker sees when opening a table from the basket."""

from __future__ import annotations

import json

import openpyxl
import pandas as pd
import pytest

from cbs_export_lab import demo
from cbs_export_lab.excel import MARK_FILL, REVIEW_FILL, write_sheet


def rows(path):
    return [list(r) for r in openpyxl.load_workbook(path).active.iter_rows(values_only=True)]


def red_cells(path):
    ws = openpyxl.load_workbook(path).active
    return {
        (c.row, c.column): c.comment.text if c.comment else None
        for row in ws.iter_rows()
        for c in row
        if c.fill.fgColor.rgb and c.fill.fgColor.rgb.endswith(MARK_FILL)
    }


def find_row(table_rows, *labels):
    n = len(labels)
    return next(i + 1 for i, r in enumerate(table_rows) if tuple(r[:n]) == labels)


@pytest.fixture
def table(persons):
    return pd.crosstab([persons.gemeente, persons.geslacht], persons.leeftijdsklasse, margins=True)


def test_title_description_meta_and_table_with_index_levels(tmp_path, table):
    path = write_sheet(
        tmp_path / "t.xlsx",
        table,
        title="Personen naar gemeente",
        description="Telling, 2022",
        meta={"N": "5000", "Unit": "RINPERSOON", "Weighted": "no", "Status": "fail"},
    )
    got = rows(path)
    assert got[0][0] == "Personen naar gemeente"
    assert got[1][0] == "Telling, 2022"
    assert [r[:2] for r in got[2:6]] == [["N", "5000"], ["Unit", "RINPERSOON"], ["Weighted", "no"], ["Status", "fail"]]
    header = got[7]
    assert header[:2] == ["gemeente", "geslacht"]
    assert header[2 : 2 + table.shape[1]] == list(table.columns)
    r = find_row(got, "Amsterdam", "vrouw") - 1
    assert got[r][2 : 2 + table.shape[1]] == [int(v) for v in table.loc[("Amsterdam", "vrouw")]]
    assert sum(1 for x in got if x[0] in demo.GEMEENTEN) == len(table) - 1


def test_marked_cells_are_red_with_their_note_even_after_a_json_round_trip(tmp_path, table):
    small = [(r, c) for r in table.index for c in table.columns if 0 < table.loc[r, c] < 10][:3]
    assert small, "the demo data has small cells by design"
    labels_as_stored = json.loads(json.dumps([[list(r), c] for r, c in small]))
    marks = [(r, c, f"only {table.loc[tuple(r), c]} persons") for r, c in labels_as_stored]
    path = write_sheet(tmp_path / "t.xlsx", table, title="t", marked_cells=marks)
    got = rows(path)
    first_col = {name: 3 + i for i, name in enumerate(table.columns)}
    expected = {(find_row(got, *r), first_col[c]): f"only {table.loc[r, c]} persons" for r, c in small}
    assert red_cells(path) == expected


def test_series_cells_and_cells_not_in_the_table(tmp_path, persons):
    counts = persons.groupby("gemeente", observed=True).size()
    smallest = counts.idxmin()
    path = write_sheet(
        tmp_path / "s.xlsx",
        counts,
        title="Per gemeente",
        marked_cells=[(smallest, None, "too few"), ("Atlantis", None, "not here")],
    )
    got = rows(path)
    assert red_cells(path) == {(find_row(got, smallest), 2): "too few"}
    tail = [r[:2] for r in got[find_row(got, "Also failing (not located in this table):") :]]
    assert tail == [["row Atlantis", "not here"]]


def test_multiindex_columns_get_one_header_row_per_level(tmp_path, persons):
    table = pd.crosstab(persons.gemeente, [persons.geslacht, persons.leeftijdsklasse])
    path = write_sheet(tmp_path / "m.xlsx", table, title="t", marked_cells=[("Utrecht", ("vrouw", "80+"))])
    got = rows(path)
    assert got[2][1 : 1 + table.shape[1]] == list(table.columns.get_level_values(0))
    assert got[3][: 1 + table.shape[1]] == ["gemeente", *table.columns.get_level_values(1)]
    col = 2 + list(table.columns).index(("vrouw", "80+"))
    assert set(red_cells(path)) == {(find_row(got, "Utrecht"), col)}


def test_missing_values_are_empty_cells_and_odd_labels_are_text(tmp_path):
    frame = pd.DataFrame(
        {"a": [1.5, float("nan")], "b": [pd.Interval(0, 5), None]}, index=pd.Index(["x", "y"], name="k")
    )
    got = rows(write_sheet(tmp_path / "n.xlsx", frame, title="t"))
    assert got[-2:] == [["x", 1.5, str(frame.loc["x", "b"])], ["y", None, None]]


def test_replaces_an_existing_file_and_leaves_no_temp_files(tmp_path, table):
    target = tmp_path / "t.xlsx"
    target.write_bytes(b"old")
    write_sheet(target, table, title="new", sheet_name="Tabel: a/b [1]")
    wb = openpyxl.load_workbook(target)
    assert wb.sheetnames == ["Tabel_ a_b _1_"]
    assert wb.active["A1"].value == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["t.xlsx"]


def test_control_characters_pasted_into_titles_or_labels_become_spaces(tmp_path):
    """Word puts a vertical tab (\\x0b) where a line breaks; Excel refuses it, so it must not stop the write."""
    frame = pd.DataFrame({"aantal\x0bpersonen": [12, 15]}, index=pd.Index(["Noord\x0bHolland", "Zeeland"], name="prov"))
    path = write_sheet(
        tmp_path / "c.xlsx",
        frame,
        title="Personen\x0bper provincie",
        description="Telling\x01 2022",
        meta={"Unit\x02": "RINPERSOON"},
        marked_cells=[("Drenthe", "aantal\x0bpersonen", "te\x0bklein")],
    )
    got = rows(path)
    assert got[:3] == [["Personen per provincie", None], ["Telling  2022", None], ["Unit ", "RINPERSOON"]]
    assert got[4][:2] == ["prov", "aantal personen"] and got[5][:2] == ["Noord Holland", 12]
    assert got[-1] == ["row Drenthe, column aantal personen", "te klein"]


def yellow_cells(path):
    ws = openpyxl.load_workbook(path).active
    return {
        (c.row, c.column): c.comment.text if c.comment else None
        for row in ws.iter_rows()
        for c in row
        if c.fill.fgColor.rgb and c.fill.fgColor.rgb.endswith(REVIEW_FILL)
    }


def test_cells_to_review_are_yellow_and_a_failing_mark_wins(tmp_path, persons):
    table = pd.crosstab(persons.gemeente, persons.geslacht)
    zeros = [(r, c) for r in table.index for c in table.columns if table.loc[r, c] == 0]
    small = [(r, c) for r in table.index for c in table.columns if 0 < table.loc[r, c] < 10]
    assert zeros and small, "the demo data has empty and small cells by design"
    both = small[0]
    path = write_sheet(
        tmp_path / "r.xlsx",
        table,
        title="t",
        marked_cells=[(*both, "3 persons")],
        review_cells=[(r, c, "empty cell") for r, c in zeros] + [(*both, "whole row"), ("Atlantis", "man", "not here")],
    )
    got = rows(path)
    at = {(r, c): (find_row(got, r), 2 + list(table.columns).index(c)) for r, c in [*zeros, both]}
    assert yellow_cells(path) == {at[cell]: "empty cell" for cell in zeros}
    assert red_cells(path) == {at[both]: "3 persons\nwhole row"}
    tail = [r[:2] for r in got[find_row(got, "Also to review (not located in this table):") :]]
    assert tail == [["row Atlantis, column man", "not here"]]


def test_check_reads_a_table_the_tool_exported_and_an_excel_table_under_a_title(tmp_path):
    import pandas as pd
    from openpyxl import Workbook

    import cbs_export_lab as cel
    from cbs_export_lab import demo
    from cbs_export_lab.intake import read_table_file

    persons = demo.persons(2_000, seed=3)
    basket = cel.Basket(tmp_path / "basket")
    table = cel.crosstab(persons.gemeente, persons.geslacht)
    item = basket.add(table, "Personen naar gemeente en geslacht")
    xlsx = next(basket.path(item, f) for f in item.files if f.endswith(".xlsx"))
    back = read_table_file(xlsx)
    assert back.shape == table.shape, back
    assert list(back.index.astype(str)) == [str(x) for x in table.index]
    assert back.to_numpy().sum() == table.to_numpy().sum()

    wb = Workbook()
    ws = wb.active
    ws.append(["Tabel 1. Personen naar gemeente"])
    ws.append([])
    ws.append(["gemeente", "man", "vrouw"])
    ws.append(["Amsterdam", 120, 130])
    ws.append(["Utrecht", 80, 95])
    path = tmp_path / "tabel.xlsx"
    wb.save(path)
    plain = read_table_file(path)
    assert list(plain.columns) == ["man", "vrouw"] and plain.loc["Utrecht", "vrouw"] == 95
    assert isinstance(plain, pd.DataFrame)
