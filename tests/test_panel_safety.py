"""The %cbs_check panel renders every table cel.check accepts, and shows labels holding HTML as text."""

from __future__ import annotations

import ipywidgets as w
import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell

import cbs_export_lab as cel

ATTACK = "<img src=x onerror=alert(1)>"


@pytest.fixture
def shell(persons):
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "cbs_export_lab")
    ip.user_ns.clear()
    ip.user_ns["personen"] = persons
    yield ip
    ip.user_ns.clear()


def panel_of(ip, obj, *extra: str):
    ip.user_ns["t"] = obj
    ip.run_line_magic("cbs_check", " ".join(["t", *extra]))
    return ip.magics_manager.registry["CbsMagics"].last


def panel_html(panel) -> str:
    def walk(widget):
        if isinstance(widget, w.HTML):
            yield widget.value
        for child in getattr(widget, "children", ()):
            yield from walk(child)

    return "\n".join(walk(panel))


def test_stacked_tables_with_a_repeated_index_render(shell, persons):
    a = cel.crosstab(persons.geslacht, persons.leeftijdsklasse, unit=persons.RINPERSOON)
    stacked = pd.concat([a, a])
    assert not stacked.index.is_unique
    panel = panel_of(shell, stacked)
    shown = panel_html(panel)
    assert "<table" in shown and shown.count("row_heading level0") == len(stacked)


def test_repeated_columns_and_stacked_multiindex_render(shell, persons):
    wide = pd.crosstab([persons.geslacht, persons.leeftijdsklasse], persons.gemeente)
    stacked = pd.concat([wide, wide], axis=0)
    both = pd.concat([stacked, stacked], axis=1)
    for table in (stacked, both, both.iloc[:, 0]):
        assert cel.check(table).kind == "table"
        assert "<table" in panel_html(panel_of(shell, table))


def test_failing_cells_of_a_repeated_label_are_all_red():
    from cbs_export_lab.widgets import table_html

    table = pd.DataFrame({"n": [1, 20]}, index=["a", "b"])
    shown = table_html(pd.concat([table, table]), [("a", "n")])
    assert "_row0_col0" in shown and "_row2_col0" in shown and "#ffcecb" in shown


def test_html_in_labels_values_names_and_findings_is_escaped(shell):
    table = pd.DataFrame(
        {ATTACK: [3, 40], "b": [50, ATTACK]}, index=pd.Index([ATTACK, "<script>alert(2)</script>"], name=ATTACK)
    )
    table.columns.name = "<b onmouseover=x>"
    panel = panel_of(shell, table)
    shown = panel_html(panel)
    assert "<table" in shown
    for raw in (ATTACK, "<script>", "<b onmouseover"):
        assert raw not in shown
    assert "&lt;img src=x onerror=alert(1)&gt;" in shown


def test_html_in_a_multiindex_and_in_the_units_view_is_escaped(shell, persons):
    frame = persons.assign(groep=persons.geslacht.astype(str).map(lambda s: f"<svg onload=alert('{s}')>"))
    table = cel.crosstab([frame.groep, frame.leeftijdsklasse], frame.gemeente, unit=frame.RINPERSOON)
    panel = panel_of(shell, table)
    panel.units_toggle.value = True
    shown = panel_html(panel)
    assert "<svg" not in shown and "&lt;svg onload=" in shown
