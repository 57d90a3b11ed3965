"""A table made safe by `cel.protect` on its way out: hidden values kept as background (never released), hidden
cells shown as "x" with a legend, and the method named on the form. Zips are read back."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

import cbs_export_lab as cel
from cbs_export_lab import demo
from cbs_export_lab.excel import HIDDEN_LEGEND
from cbs_export_lab.exportmap import ACHTERAF, BACKGROUND, BACKGROUND_IN_ZIP, FORM_NAME, VOORAF

TITLE = "Personen naar regio en klasse"
COUNTS = np.array([[40, 3, 25, 31], [30, 22, 18, 5], [27, 35, 50, 44], [12, 2, 33, 20]])


def frame_of(counts: np.ndarray, seed: int = 0) -> pd.DataFrame:
    """Synthetic records, one per unit, with exactly these counts per (regio, klasse)."""
    rows = [f"regio {i}" for i in range(counts.shape[0])]
    cols = [f"{10 * j}-{10 * j + 9}" for j in range(counts.shape[1])]
    regio = np.repeat(np.repeat(rows, counts.shape[1]), counts.ravel())
    klasse = np.repeat(np.tile(cols, counts.shape[0]), counts.ravel())
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(regio))
    return pd.DataFrame(
        {
            "regio": pd.Categorical(regio[order], categories=rows),
            "klasse": pd.Categorical(klasse[order], categories=cols, ordered=True),
            "inkomen": rng.lognormal(10, 0.5, len(regio)).round(-2),
        }
    )


@pytest.fixture
def fixed_clock(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")  # 2026-01-01 00:00:00 UTC


@pytest.fixture
def df():
    return frame_of(COUNTS)


@pytest.fixture
def table(df):
    return cel.crosstab(df.regio, df.klasse, margins=True)


def read_zip(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def sheet_rows(data: bytes, sheet: str | None = None) -> list[tuple]:
    wb = load_workbook(io.BytesIO(data))
    ws = wb[sheet] if sheet else wb.worksheets[0]
    return [tuple(row) for row in ws.iter_rows(values_only=True)]


def table_cells(rows: list[tuple], frame: pd.DataFrame) -> dict[tuple, object]:
    """The cells of `frame` as the sheet shows them, found by the row and column labels."""
    header = next(i for i, row in enumerate(rows) if row[0] == frame.index.name)
    columns = rows[header][1:]
    out = {}
    for row in rows[header + 1 : header + 1 + len(frame.index)]:
        for col, value in zip(columns, row[1:], strict=False):
            if col is not None:
                out[row[0], col] = value
    return out


def form_rows(members: dict[str, bytes]) -> list[dict]:
    rows = sheet_rows(members[FORM_NAME], "Bestanden")
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def released_files(members: dict[str, bytes]) -> list[str]:
    return [n for n in members if n.endswith(".xlsx") and n != FORM_NAME]


def test_achteraf_keeps_the_hidden_values_in_3_and_releases_x(basket, exportmap, table, fixed_clock):
    safe = cel.protect(table)
    hidden = safe.attrs["cbs_export_lab.protected"]["hidden_values"]
    item = basket.add(safe, TITLE)
    background = [i for i in basket.items if i.background_for == item.id]
    assert item.status == "pass" and len(background) == 1 and background[0].background
    assert "celonderdrukking" in item.protection and "3 primaire" in item.protection

    result = cel.prepare_export(basket, exportmap, project="9001")

    by_folder = {p.parent.name: read_zip(p) for p in result.zips}
    assert set(by_folder) == {ACHTERAF, BACKGROUND}
    [kept] = [n for n in by_folder[BACKGROUND] if n.endswith(".xlsx")]
    assert "_achtergrondinformatie" in [p.name for p in result.zips if p.parent.name == BACKGROUND][0]
    wb = load_workbook(io.BytesIO(by_folder[BACKGROUND][kept]))
    assert {"hidden", "before"} <= set(wb.sheetnames)
    rows = sheet_rows(by_folder[BACKGROUND][kept], "hidden")
    start = next(i for i, row in enumerate(rows) if row[:2] == ("Nr", "Rij / Row"))
    listed = {(row[1], row[2]): row[3] for row in rows[start + 1 :] if row[1] is not None}
    assert listed == {(r, c): v for (r, c), v in hidden.items()}
    assert listed[("regio 0", "10-19")] == 3

    released = by_folder[ACHTERAF]
    assert not [n for n in released if "achtergrondinformatie" in n.lower()]
    [xlsx] = released_files(released)
    rows = sheet_rows(released[xlsx])
    cells = table_cells(rows, table)
    for cell in hidden:
        assert cells[cell] == "x"
    shown = [cells[r, c] for r in table.index for c in table.columns if (r, c) not in hidden]
    assert all(isinstance(v, (int, float)) for v in shown)
    assert cells["regio 2", "20-29"] == 50
    assert (HIDDEN_LEGEND,) == tuple(v for v in next(r for r in rows if r[0] == HIDDEN_LEGEND) if v is not None)
    assert any(r[0] == "Beveiliging / Protection" and "celonderdrukking" in r[1] for r in rows)
    [row] = form_rows(released)
    assert "celonderdrukking / cell suppression" in row["Beveiliging / Protection (cel.protect)"]
    assert "3 primaire / primary" in row["Beveiliging / Protection (cel.protect)"]
    assert "3 secundaire / secondary" in row["Beveiliging / Protection (cel.protect)"]


def test_the_unprotected_twin_has_no_x_no_background_and_is_held_back(basket, exportmap, table, fixed_clock):
    item = basket.add(table, TITLE)
    assert item.status == "fail" and item.protection == ""
    assert not [i for i in basket.items if i.background]
    rows = sheet_rows(basket.path(item, item.files[0]).read_bytes())
    assert "x" not in table_cells(rows, table).values() and not any(r[0] == HIDDEN_LEGEND for r in rows)
    result = cel.prepare_export(basket, exportmap)
    assert result.zips == [] and [b.item_id for b in result.blocked] == [item.id]


def test_vooraf_keeps_the_hidden_values_inside_the_zip_under_the_background_folder(
    basket, tmp_path, table, fixed_clock
):
    exportmap = demo.make_exportmap(tmp_path / "v", "vooraf")
    item = basket.add(cel.protect(table), TITLE)
    result = cel.prepare_export(basket, exportmap)
    assert [p.parent.name for p in result.zips] == [VOORAF]
    members = read_zip(result.zips[0])
    kept = [n for n in members if n.startswith(f"{BACKGROUND_IN_ZIP}/")]
    assert len(kept) == 1 and "hidden" in load_workbook(io.BytesIO(members[kept[0]])).sheetnames
    outside = [n for n in released_files(members) if not n.startswith(f"{BACKGROUND_IN_ZIP}/")]
    assert len(outside) == 1 and "hidden" not in load_workbook(io.BytesIO(members[outside[0]])).sheetnames
    rows = form_rows(members)
    assert [r["Achtergrondinformatie (niet vrijgeven) / Background (not for release)"] for r in rows] == [
        "nee / no",
        "ja / yes",
    ]
    assert "celonderdrukking" in rows[0]["Beveiliging / Protection (cel.protect)"]
    assert basket.get(item.id).exported


def test_the_form_names_merging_and_rounding(basket, exportmap, df, table, fixed_clock):
    merged = basket.add(cel.protect(table, method="merge", data=df), "Samengevoegd")
    rounded = basket.add(
        cel.protect(table, method="round", data=df),
        "Afgerond",
        explanation="Rounded to multiples of 5; see the background for the counts.",
    )
    unprotected = basket.add(cel.crosstab(df.regio.isin(["regio 2"]), df.klasse), "Zonder beveiliging")
    assert merged.status == "pass" and "merging categories" in merged.protection and " with " in merged.protection
    assert "rounding" in rounded.protection and "multiples of 5" in rounded.protection
    owners = {i.background_for for i in basket.items if i.background}
    assert owners == {merged.id, rounded.id}
    result = cel.prepare_export(basket, exportmap)
    rows = {
        r["Titel / Title"]: r["Beveiliging / Protection (cel.protect)"]
        for z in result.zips
        if z.parent.name != BACKGROUND
        for r in form_rows(read_zip(z))
    }
    assert "merging categories" in rows["Samengevoegd"]
    assert "multiples of 5" in rows["Afgerond"]
    assert rows["Zonder beveiliging"] == "geen / none" and unprotected.protection == ""
    befores = []  # the compliant table's background in 3_, the explained one's inside its zip in 1_
    for z in result.zips:
        for name, data in read_zip(z).items():
            if z.parent.name == BACKGROUND and name.endswith(".xlsx") or name.startswith(f"{BACKGROUND_IN_ZIP}/"):
                befores.append((z.parent.name, sheet_rows(data, "before")))
    assert sorted(folder for folder, _ in befores) == sorted([BACKGROUND, VOORAF])
    befores = [rows_ for _, rows_ in befores]
    assert all(table_cells(rows_, table)["regio 0", "10-19"] == 3 for rows_ in befores)


def test_a_protected_magnitude_table_keeps_both_shares_and_hidden_values(basket, df):
    df = df.copy()
    df.loc[df.index[(df.regio == "regio 2") & (df.klasse == "20-29")][0], "inkomen"] = 5e7
    sums = cel.pivot_table(df, values="inkomen", index="regio", columns="klasse", aggfunc="sum", margins=True)
    item = basket.add(cel.protect(sums), "Inkomen naar regio en klasse")
    assert item.status == "pass"
    [background] = [i for i in basket.items if i.background_for == item.id]
    names = set(load_workbook(basket.path(background, background.files[0])).sheetnames)
    assert {"largest_share", "hidden", "before"} <= names


def test_an_edited_protected_table_is_an_ordinary_table_again(basket, table):
    edited = cel.protect(table).fillna(0)
    item = basket.add(edited, TITLE)
    assert item.protection == "" and item.status != "pass"
    assert not [i for i in basket.items if i.background]
    rows = sheet_rows(basket.path(item, item.files[0]).read_bytes())
    assert "x" not in table_cells(rows, table).values()


def test_a_rounded_table_changed_afterwards_loses_its_record(basket, df, table):
    rounded = cel.protect(table, method="round", data=df)
    assert basket.add(rounded, "Afgerond").protection
    changed = rounded.copy()
    changed.iloc[0, 0] += 1
    assert basket.add(changed, "Afgerond en veranderd").protection == ""


def test_a_plain_table_with_its_source_is_protected_and_exported(basket, exportmap, df, fixed_clock):
    plain = pd.crosstab(df.regio, df.klasse, margins=True)
    with pytest.raises(cel.UserError, match=r"no source was given.*data=df"):
        cel.protect(plain)
    with pytest.raises(cel.UserError, match="does not reproduce"):
        cel.protect(plain, data=df[df.klasse != "0-9"])
    for method in ("suppress", "merge"):
        safe = cel.protect(plain, method=method, data=df)
        assert cel.check(safe).status == "pass", (method, cel.check(safe).report())
    safe = cel.protect(plain, data=df)
    assert np.isnan(safe.loc["regio 0", "10-19"])
    item = basket.add(safe, TITLE)
    assert item.status == "pass" and [i for i in basket.items if i.background_for == item.id]
    result = cel.prepare_export(basket, exportmap)
    released = [read_zip(z) for z in result.zips if z.parent.name == ACHTERAF][0]
    [xlsx] = released_files(released)
    assert table_cells(sheet_rows(released[xlsx]), plain)["regio 0", "10-19"] == "x"
