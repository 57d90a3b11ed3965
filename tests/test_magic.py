"""%cbs_check and %cbs_basket in a real IPython shell, and the panels' widgets driven as a user would."""

from __future__ import annotations

import ipywidgets as w
import matplotlib.pyplot as plt
import pytest
from IPython.core.interactiveshell import InteractiveShell

import cbs_export_lab as cel
from cbs_export_lab import demo
from cbs_export_lab.magic import CbsMagics, split_line


@pytest.fixture
def shell(persons):
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "cbs_export_lab")
    ip.user_ns.clear()
    ip.user_ns["personen"] = persons
    yield ip
    ip.user_ns.clear()


def magics(ip) -> CbsMagics:
    return ip.magics_manager.registry["CbsMagics"]


def run(ip, line: str):
    ip.run_line_magic("cbs_check", line)
    return magics(ip).last


def test_failing_table_names_the_cells_and_the_fix(shell, capsys):
    personen = shell.user_ns["personen"]
    shell.user_ns["t"] = cel.crosstab(personen.gemeente, personen.leeftijdsklasse, unit=personen.RINPERSOON)
    panel = run(shell, "t")
    out = capsys.readouterr().out
    assert panel.result.status == "fail"
    assert panel.source_note == ""  # a cel.crosstab carries its own cell statistics: no frame is looked up
    assert "FAIL" in out and "threshold" in out
    assert "Vlieland" in out or "Schiermonnikoog" in out
    assert "Fix:" in out
    table_views = [c.value for c in panel.children if isinstance(c, w.HTML) and "<table" in c.value]
    assert table_views and "#ffcecb" in table_views[0]


def test_expression_with_spaces_and_options(shell, capsys):
    panel = run(shell, 'personen.groupby(["geslacht"], observed=True).size() --title "Aantal personen naar geslacht"')
    assert panel.title.value == "Aantal personen naar geslacht"
    assert panel.result.status == "pass"
    assert "PASS" in capsys.readouterr().out


def test_split_line_keeps_expression_whole():
    expr, opts = split_line("df[df.x > 3].groupby('a').size() --unit RINPERSOON --title 'Mijn tabel'")
    assert expr == "df[df.x > 3].groupby('a').size()"
    assert opts == {"data": None, "unit": "RINPERSOON", "weights": None, "title": "Mijn tabel"}


@pytest.mark.parametrize(
    "line, words",
    [
        ("undefined_table", "Could not evaluate the object 'undefined_table'"),
        ("", "Say what to check"),
        ("personen --data nope", "Could not evaluate --data 'nope'"),
        ("personen --colour red", "unrecognized arguments"),
        ("personen --title 'unclosed", "check the quotes"),
    ],
)
def test_user_mistakes_get_one_clear_sentence(shell, capsys, line, words):
    shell.run_line_magic("cbs_check", line)
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_plain_table_finds_its_source_frame_by_provenance(shell, capsys):
    shell.run_cell('klein = personen.head(50)[["gemeente", "inkomen"]]', store_history=True)
    shell.run_cell('gem = personen.groupby("gemeente", observed=True)["inkomen"].mean()', store_history=True)
    panel = run(shell, "gem")
    assert "checked against `personen`" in panel.source_note and "`gem` was computed in" in panel.source_note
    assert "checked against `personen`" in panel.result.source
    assert "personen" in capsys.readouterr().out


def test_without_provenance_the_note_says_how_to_give_the_source(shell):
    made_elsewhere = shell.user_ns["personen"].groupby("gemeente", observed=True)["inkomen"].mean()
    shell.user_ns["gem_zonder_cel"] = made_elsewhere  # never assigned in a cell
    panel = run(shell, "gem_zonder_cel")
    assert "No source frame found" in panel.source_note
    assert "%cbs_check gem_zonder_cel --data personen" in panel.source_note


def test_data_option_overrides_the_guess(shell):
    personen = shell.user_ns["personen"]
    shell.user_ns["andere"] = personen.copy()
    shell.user_ns["gem"] = personen.groupby("gemeente", observed=True)["inkomen"].mean()
    panel = run(shell, "gem --data andere")
    assert panel.source_note == ""


def test_add_to_export_from_the_panel(shell):
    personen = shell.user_ns["personen"]
    shell.user_ns["t"] = cel.crosstab(personen.geslacht, personen.leeftijdsklasse)
    panel = run(shell, "t")
    panel.title.value = ""
    panel.add_button.click()
    assert "title" in panel.message.value.lower()
    assert cel.Basket().items == []

    panel.title.value = "Personen naar geslacht en leeftijd"
    panel.description.value = "Synthetische personen"
    panel.add_button.click()
    items = cel.Basket().items
    assert [i.title for i in items if not i.background] == ["Personen naar geslacht en leeftijd"]
    assert panel.add_button.disabled and "ready to export" in panel.message.value


def test_review_output_asks_for_an_explanation_and_keeps_it(shell):
    personen = shell.user_ns["personen"]
    shell.user_ns["gem"] = personen.groupby("gemeente", observed=True)["inkomen"].mean() * 1.5
    panel = run(shell, "gem --data personen")
    assert panel.result.status != "pass"
    assert panel.explanation.layout.display != "none"
    panel.title.value = "Gemiddeld inkomen"
    panel.explanation.value = "Rescaled means of groups of 100+ persons."
    panel.add_button.click()
    item = next(i for i in cel.Basket().items if i.title == "Gemiddeld inkomen")
    assert item.explanation == "Rescaled means of groups of 100+ persons."


def test_identifying_extract_cannot_be_added(shell, capsys):
    panel = run(shell, "personen.head(30)")
    assert panel.result.status == "fail" and panel.result.never_exportable
    assert panel.add_button.disabled
    assert "never" in capsys.readouterr().out


def test_figure_panel_shows_a_thumbnail(shell):
    fig, ax = plt.subplots()
    ax.hist(shell.user_ns["personen"].inkomen, bins=20)
    shell.user_ns["fig"] = fig
    panel = run(shell, "fig")
    images = [c for c in panel.children if isinstance(c, w.Image)]
    assert images and images[0].value[:8] == b"\x89PNG\r\n\x1a\n"
    assert panel.result.kind == "figure" and panel.result.status != "pass"
    plt.close(fig)


def test_units_per_cell_on_demand(shell):
    personen = shell.user_ns["personen"]
    shell.user_ns["t"] = cel.crosstab(personen.geslacht, personen.leeftijdsklasse, unit=personen.RINPERSOON)
    panel = run(shell, "t")
    assert panel.units_view.value == ""
    panel.units_toggle.value = True
    units = personen.groupby(["geslacht", "leeftijdsklasse"], observed=True)["RINPERSOON"].nunique()
    shown = panel.units_view.value
    assert "<table" in shown
    assert all(f">{n:,}</td>" in shown for n in units)
    panel.units_toggle.value = False
    assert panel.units_view.value == ""


def test_basket_magic_lists_edits_and_removes(shell, capsys):
    basket = cel.Basket()
    personen = shell.user_ns["personen"]
    table = cel.crosstab(personen.geslacht, personen.leeftijdsklasse)
    basket.add(table, "Tabel A")
    review = personen.groupby("gemeente", observed=True)["inkomen"].mean()
    basket.add(review, "Tabel B")
    shell.run_line_magic("cbs_basket", "")
    out = capsys.readouterr().out
    assert "Tabel A" in out and "Tabel B" in out and "Output light budget of the next export" in out
    assert "needs an explanation" in out

    panel = magics(shell).last
    row_b = next(r for r in panel.rows.children if "Tabel B" in r.children[0].value)
    explanation, save = row_b.children[1].children[0], row_b.children[1].children[1]
    explanation.value = "Means over at least 100 persons."
    save.click()
    assert next(i for i in basket.items if i.title == "Tabel B").explanation == "Means over at least 100 persons."

    row_a = next(r for r in panel.rows.children if "Tabel A" in r.children[0].value)
    row_a.children[1].children[-1].click()
    assert all(i.title != "Tabel A" for i in basket.items)


def test_basket_panel_shows_the_plan_when_an_exportmap_is_set(shell, tmp_path):
    from cbs_export_lab.settings import save_user_settings
    from cbs_export_lab.widgets import BasketPanel

    save_user_settings(exportmap=str(demo.make_exportmap(tmp_path / "exportmap", "vooraf")), project="1234")
    basket = cel.Basket()
    personen = shell.user_ns["personen"]
    basket.add(cel.crosstab(personen.geslacht, personen.leeftijdsklasse), "Tabel A")
    panel = BasketPanel(basket)
    assert "1_Controle vooraf" in panel.plan.value


def test_basket_budget_counts_only_what_is_not_exported_yet(shell, tmp_path):
    from cbs_export_lab.settings import save_user_settings
    from cbs_export_lab.widgets import BasketPanel, basket_text

    exportmap = demo.make_exportmap(tmp_path / "exportmap", "vooraf")
    save_user_settings(exportmap=str(exportmap))
    basket = cel.Basket()
    personen = shell.user_ns["personen"]
    for n in range(3):
        basket.add(cel.crosstab(personen.geslacht, personen.leeftijdsklasse), f"Tabel {n}")
    before = round(100 * float(cel.light_budget(basket.items).fraction))
    cel.prepare_export(basket, exportmap)
    basket.add(cel.crosstab(personen.geslacht, personen.leeftijdsklasse), "Tabel nieuw")
    waiting = [i for i in basket.items if not i.exported]
    after = round(100 * float(cel.light_budget(waiting).fraction))
    assert len(waiting) == 1 and after < before
    assert f"next export: Output light ({after}% of the budget" in BasketPanel(basket).meter.value
    assert f"next export: Output light ({after}% of the budget" in basket_text(basket)


def test_basket_panel_offers_no_explanation_where_it_cannot_help(shell):
    from cbs_export_lab.widgets import BasketPanel

    basket = cel.Basket()
    personen = shell.user_ns["personen"]
    with pytest.warns(UserWarning):
        extract = basket.add(personen.head(30), "Extract")
    review = basket.add(personen.groupby("gemeente", observed=True)["inkomen"].mean(), "Means")
    assert extract.never_exportable and review.needs_explanation
    panel = BasketPanel(basket)
    rows = {item.title: row for item, row in zip(basket.items, panel.rows.children, strict=False)}

    def editors(row):
        return [c for c in row.children[1].children if isinstance(c, w.Textarea)]

    assert editors(rows["Extract"]) == [] and len(editors(rows["Means"])) == 1


def test_failing_rows_of_a_tall_table_are_shown_first(shell):
    personen = shell.user_ns["personen"]
    shell.user_ns["t"] = cel.crosstab(personen.gemeente, personen.geslacht, unit=personen.RINPERSOON)
    panel = run(shell, "t")
    failing_rows = {str(r) for r, _ in panel.result.failing_cells}
    assert failing_rows and len(shell.user_ns["t"]) > 12
    html = next(c.value for c in panel.children if isinstance(c, w.HTML) and "<table" in c.value)
    body = html.split("<tbody>", 1)[1]
    first_rows = [row.split("</th>", 1)[0].rsplit(">", 1)[-1] for row in body.split("<tr>")[1 : len(failing_rows) + 1]]
    assert set(first_rows) == failing_rows
    assert "shown first" in html


def test_day_of_small_fixes_in_the_panel(shell, capsys):
    import matplotlib.pyplot as plt
    import statsmodels.formula.api as smf

    from cbs_export_lab.widgets import CheckPanel, item_state, number_text

    assert number_text(743960000.0) == "743,960,000" and number_text(12.345) == "12.35" and number_text("a") == "a"
    personen = shell.user_ns["personen"]
    shell.user_ns["tabel"] = cel.crosstab(personen.geslacht, personen.leeftijdsklasse)
    shell.run_line_magic("cbs_check", 'tabel -title "Tabel"')
    assert "Unknown option -title" in capsys.readouterr().err

    panel = magics(shell).check_panel("tabel")
    panel.units_toggle.value = True
    assert panel.units_toggle.description == "Hide units per cell"
    assert panel.background.layout.width == "auto"

    shell.user_ns["model"] = smf.ols("inkomen ~ leeftijd", data=personen).fit()
    model_panel = magics(shell).check_panel("model --data personen")
    assert any("Coefficients" in getattr(c, "value", "") and "leeftijd" in c.value for c in model_panel.children)

    plt.close("all")
    shell.user_ns["plt"] = plt
    fig, ax = plt.subplots()
    ax.bar(["a", "b"], [40, 50])
    shell.user_ns["fig"] = fig
    magics(shell).check_panel("fig")
    assert fig.number not in plt.get_fignums()  # shown once, in the panel
    plt.figure()
    shell.run_line_magic("cbs_check", "plt.gcf()")
    err = capsys.readouterr().err
    assert "empty figure" in err and "fig = plt.figure()" in err
    plt.close("all")

    item = cel.Basket().add(shell.user_ns["tabel"].iloc[:1, :1] * 0 + 3, "Klein")
    assert len(repr(item)) < 120 and item.id in repr(item)
    assert "sidebar" in item_state(item) and "%cbs_basket" not in item_state(item)
    assert isinstance(panel, CheckPanel)
