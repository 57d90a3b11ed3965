"""Routing of basket items into exportmap zips (DESIGN section 2), decided without writing anything."""

from __future__ import annotations

import pytest

import cbs_export_lab as cel
from cbs_export_lab import demo
from cbs_export_lab.basket import Item
from cbs_export_lab.errors import UserError
from cbs_export_lab.exportmap import ACHTERAF, BACKGROUND, VOORAF, route, zip_name
from cbs_export_lab.names import safe_name
from cbs_export_lab.results import Counts, Finding
from cbs_export_lab.settings import save_user_settings

THRESHOLD_FAIL = Finding("threshold", "fail", "A cell has 3 persons.", "row Vlieland, column man")
ZERO_REVIEW = Finding("zero", "review", "A cell is empty.", "row Vlieland, column vrouw")
IDENTIFIER = Finding("identifier", "fail", "The index holds RINPERSOON values.", "the index")


def table(
    id: str, status: str = "pass", *, explanation: str | None = None, cells: int = 100, count_cells: int = 50, **kw
) -> Item:
    findings = {"pass": [], "review": [ZERO_REVIEW], "fail": [THRESHOLD_FAIL]}[status]
    return Item(
        id=id,
        title=f"Table {id}",
        kind="table",
        status=status,
        findings=kw.pop("findings", findings),
        counts=Counts(tables=1, cells=cells, count_cells=count_cells, observations=500),
        files=[f"items/{id}/table.xlsx"],
        explanation=explanation,
        **kw,
    )


def model(id: str, **kw) -> Item:
    return Item(
        id=id,
        title=f"Model {id}",
        kind="model",
        status="pass",
        counts=Counts(models=1, observations=900),
        files=[f"items/{id}/model.txt"],
        **kw,
    )


def syntax(id: str, status: str = "pass", **kw) -> Item:
    return Item(id=id, title=f"Notebook {id}", kind="syntax", status=status, files=[f"items/{id}/analysis.ipynb"], **kw)


def background(id: str, owner: str | None) -> Item:
    return Item(
        id=id,
        title=f"Cell statistics {id}",
        kind="table",
        status="fail",
        findings=[THRESHOLD_FAIL],
        counts=Counts(tables=1, cells=5000, count_cells=5000),
        files=[f"items/{id}/cells.xlsx"],
        background=True,
        background_for=owner,
    )


def where(zips, item_id):
    return [(z.folder, z.label) for z in zips if item_id in z.items]


def test_vooraf_puts_all_output_in_one_zip_with_background_inside_and_syntax_apart():
    items = [
        table("t1"),
        table("t2", "review", explanation="The empty cell is structural: no men give birth."),
        model("m1"),
        background("b1", "t1"),
        syntax("s1"),
    ]
    zips, blocked = route(items, "vooraf")
    assert blocked == []
    assert [(z.folder, z.label) for z in zips] == [(VOORAF, ""), (VOORAF, "syntax")]
    assert zips[0].items == ["t1", "t2", "m1", "b1"]
    assert zips[1].items == ["s1"] and not zips[1].light


def test_achteraf_splits_compliant_output_from_explained_output():
    items = [
        table("ok"),
        table("odd", "fail", explanation="Cell combines two years; 3 is a rounding artefact."),
        background("bg_ok", "ok"),
        background("bg_odd", "odd"),
        model("m"),
    ]
    zips, blocked = route(items, "achteraf")
    assert blocked == []
    assert where(zips, "ok") == [(ACHTERAF, "")] and where(zips, "m") == [(ACHTERAF, "")]
    assert where(zips, "bg_ok") == [(BACKGROUND, "achtergrondinformatie")]
    assert where(zips, "odd") == [(VOORAF, "")] and where(zips, "bg_odd") == [(VOORAF, "")]
    assert not next(z for z in zips if z.folder == ACHTERAF).light
    # 3_ is written before 2_, so background is in place before the output it belongs to is picked up.
    folders = [z.folder for z in zips]
    assert folders.index(BACKGROUND) < folders.index(ACHTERAF)


def test_output_checked_with_looser_rules_is_not_fully_compliant():
    loose = table(
        "loose",
        rules_origin="/project/loose-rules.toml",
        rules_compliant=False,
        explanation="Cells of 5+ are published by CBS StatLine for this population.",
    )
    zips, blocked = route([loose, table("strict")], "achteraf")
    assert where(zips, "loose") == [(VOORAF, "")]
    assert where(zips, "strict") == [(ACHTERAF, "")]
    assert blocked == []


@pytest.mark.parametrize("mode", ["vooraf", "achteraf"])
def test_output_checked_with_looser_rules_needs_an_explanation(mode):
    loose = table("loose", rules_origin="/project/loose-rules.toml", rules_compliant=False)
    assert loose.needs_explanation
    zips, blocked = route([loose], mode)
    assert zips == [] and [b.item_id for b in blocked] == ["loose"]
    assert "looser than the CBS defaults" in blocked[0].reason


def test_syntax_goes_to_2_for_achteraf_unless_it_needs_an_explanation():
    items = [
        syntax("clean"),
        syntax(
            "flagged",
            "fail",
            explanation="The 12 is a model setting, not a count.",
            findings=[Finding("data", "fail", "A number in code.", "cell 4, line 2")],
        ),
        syntax("silent", "fail", findings=[Finding("data", "fail", "A number in code.", "cell 1, line 1")]),
    ]
    zips, blocked = route(items, "achteraf")
    assert where(zips, "clean") == [(ACHTERAF, "syntax")]
    assert where(zips, "flagged") == [(VOORAF, "syntax")]
    assert [b.item_id for b in blocked] == ["silent"]
    assert all(not z.light for z in zips)


def test_unexplained_review_and_fail_and_identifiers_are_held_back_with_their_background():
    items = [
        table("r", "review"),
        table("f", "fail", explanation="   "),
        table("id", "fail", explanation="These are pseudonyms.", findings=[IDENTIFIER]),
        background("bg_f", "f"),
        table("ok"),
    ]
    for mode in ("vooraf", "achteraf"):
        zips, blocked = route(items, mode)
        held = {b.item_id: b.reason for b in blocked}
        assert set(held) == {"r", "f", "id", "bg_f"}
        assert "no explanation" in held["r"] and "no explanation" in held["f"]
        assert "never leave" in held["id"]
        assert "held back" in held["bg_f"]
        assert [i for z in zips for i in z.items] == ["ok"]


def test_already_exported_items_are_left_out_unless_asked():
    done = table("done", exported=[{"zip": "x.zip", "at": "2026-01-01T00:00:00"}])
    zips, _ = route([done, table("new")], "vooraf")
    assert zips[0].items == ["new"]
    zips, _ = route([done, table("new")], "vooraf", include_exported=True)
    assert zips[0].items == ["done", "new"]


def test_background_of_output_exported_earlier_or_removed_is_held_back():
    done = table("done", exported=[{"zip": "x.zip", "at": "2026-01-01T00:00:00"}])
    zips, blocked = route([done, background("late", "done"), background("orphan", "gone"), table("t")], "achteraf")
    held = {b.item_id: b.reason for b in blocked}
    assert "exported before" in held["late"] and "no longer in the basket" in held["orphan"]
    assert [i for z in zips for i in z.items] == ["t"]


def test_background_without_owner_follows_the_output():
    zips, _ = route([table("t"), background("general", None)], "achteraf")
    assert where(zips, "general") == [(BACKGROUND, "achtergrondinformatie")]
    zips, _ = route([table("t"), background("general", None)], "vooraf")
    assert where(zips, "general") == [(VOORAF, "")]
    zips, blocked = route([background("general", None)], "vooraf")
    assert zips == [] and "no output" in blocked[0].reason


def test_nothing_exportable_is_an_empty_plan_not_an_error():
    assert route([], "achteraf") == ([], [])
    zips, blocked = route([table("r", "review")], "achteraf")
    assert zips == [] and len(blocked) == 1


def cbs_light_example(extra_tables: int = 0) -> list[Item]:
    """CBS's example: 3 model results leave room for 4 tables with 400 cells, 200 of them with counts."""
    models = [model(f"m{i}") for i in range(3)]
    tables = [table(f"t{i}", cells=100, count_cells=50) for i in range(4 + extra_tables)]
    return models + tables


def test_cbs_light_example_is_light_and_one_table_more_is_not():
    zips, _ = route(cbs_light_example(), "vooraf")
    assert [z.light for z in zips] == [True]
    zips, _ = route(cbs_light_example(extra_tables=1), "vooraf")
    assert [z.light for z in zips] == [False]
    assert "not output light" in zips[0].why


def test_light_is_judged_on_the_1_zip_alone_in_achteraf_and_never_in_2():
    explained = table("odd", "review", explanation="Structural zero.")
    zips, _ = route([*cbs_light_example(extra_tables=6), explained], "achteraf")
    assert {z.folder: z.light for z in zips} == {ACHTERAF: False, VOORAF: True}


def test_background_never_counts_toward_light_and_syntax_breaks_nothing():
    items = [*cbs_light_example(), background("bg", "t0"), syntax("s")]
    zips, _ = route(items, "vooraf")
    output_zip = next(z for z in zips if z.label == "")
    assert output_zip.light and "bg" in output_zip.items
    assert next(z for z in zips if z.label == "syntax").light is False


def test_zip_names_are_ascii_windows_valid_and_labelled():
    from datetime import datetime, timezone

    when = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc)
    assert zip_name("8123 Zorggebruik", when) == "8123_Zorggebruik_20260304-050607.zip"
    assert zip_name("Één/twee:drie?", when, "syntax", light=False) == "Een_twee_drie_20260304-050607_syntax.zip"
    assert zip_name(None, when, light=True) == "LIGHT_output_20260304-050607.zip"
    assert zip_name("..", when, counter=2) == "output_20260304-050607_2.zip"
    assert safe_name('con<>:"|?*') == "_con"
    assert safe_name("nul.xlsx") == "_nul.xlsx" and safe_name("console") == "console"


def test_mode_is_detected_from_the_exportmap(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    vooraf = demo.make_exportmap(tmp_path / "v", "vooraf")
    achteraf = demo.make_exportmap(tmp_path / "a", "achteraf")
    assert cel.plan_export([table("t")], vooraf).mode == "vooraf"
    assert cel.plan_export([table("t")], achteraf).mode == "achteraf"


def test_mode_argument_wins_over_settings_which_win_over_detection(exportmap, tmp_path):
    assert cel.plan_export([table("t")], exportmap).mode == "achteraf"
    save_user_settings(mode="vooraf")
    assert cel.plan_export([table("t")], exportmap).mode == "vooraf"
    assert cel.plan_export([table("t")], exportmap, mode="achteraf").mode == "achteraf"


def test_project_and_researcher_come_from_argument_then_settings(exportmap, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    plan = cel.plan_export([table("t")], exportmap)
    assert plan.project is None and plan.zips[0].name == "output_20260101-000000.zip"
    save_user_settings(project="9001", researcher="A. Onderzoeker")
    plan = cel.plan_export([table("t")], exportmap)
    assert (plan.project, plan.researcher) == ("9001", "A. Onderzoeker")
    assert cel.plan_export([table("t")], exportmap, project="9002").zips[0].name == "9002_20260101-000000.zip"


def test_plan_writes_nothing_and_skips_names_already_taken(exportmap, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    (exportmap / ACHTERAF / "9001_20260101-000000.zip").write_bytes(b"earlier export")
    before = sorted(p.relative_to(exportmap) for p in exportmap.rglob("*"))
    plan = cel.plan_export([table("t")], exportmap, project="9001")
    assert plan.zips[0].name == "9001_20260101-000000_2.zip"
    assert sorted(p.relative_to(exportmap) for p in exportmap.rglob("*")) == before


def test_describe_says_where_everything_goes_and_why_items_are_held_back(exportmap):
    items = [table("a"), table("b"), background("bg", "a"), table("r", "review")]
    text = cel.plan_export(items, exportmap, project="9001").describe()
    assert any(
        line.startswith("2 outputs go to 2_Controle achteraf as 9001_") and "'Table a', 'Table b'" in line
        for line in text
    )
    assert any("1 background file goes to 3_Achtergrondinformatie (niet vrijgeven)" in line for line in text)
    assert any(line.startswith("'Table r' is held back because its check says 'review'") for line in text)
    assert cel.plan_export([], exportmap).describe() == [
        "Nothing to export: the basket has no item that can leave now."
    ]


def test_bad_exportmap_and_missing_subfolder_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        cel.plan_export([table("t")], tmp_path / "nowhere")
    with pytest.raises(UserError, match="No exportmap given"):
        cel.plan_export([table("t")])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match="has no subfolder '1_Controle vooraf'"):
        cel.plan_export([table("t")], empty)
    vooraf_only = demo.make_exportmap(tmp_path / "v", "vooraf")
    with pytest.raises(UserError, match="has no subfolder '2_Controle achteraf'.*achteraf"):
        cel.plan_export([table("t")], vooraf_only, mode="achteraf")
    with pytest.raises(UserError, match="Mode must be"):
        cel.plan_export([table("t")], vooraf_only, mode="later")


def test_exportmap_from_settings(exportmap):
    save_user_settings(exportmap=str(exportmap))
    assert cel.plan_export([table("t")]).exportmap == exportmap.resolve()


def mixed_basket() -> list[Item]:
    """Passing tables and a model, an unexplained review (held back), an explained review, syntax, background,
    and an exported table: only some of them belong in the zip that may be LIGHT_."""
    return [
        table("t1"),
        table("t2", cells=300, count_cells=200),
        model("m1"),
        table("held", "review"),
        table("explained", "review", explanation="Zeros are structural."),
        syntax("s1"),
        background("bg", "t1"),
        table("old", cells=900, count_cells=450, exported=[{"zip": "x.zip", "folder": VOORAF, "at": "2026"}]),
    ]


@pytest.mark.parametrize("mode", ["vooraf", "achteraf"])
def test_meter_and_plan_count_the_same_outputs_of_a_mixed_basket(mode):
    from cbs_export_lab.light import light_candidates, waiting_budget

    items = mixed_basket()
    zips, blocked = route(items, mode)
    light_zip = next(z for z in zips if z.folder == VOORAF and z.label == "")
    counted = [i for i in items if i.id in light_zip.items and not i.background]
    assert [i.id for i in light_candidates(items, mode)] == [i.id for i in counted]
    assert waiting_budget(items, mode) == light_zip.budget
    assert waiting_budget(items, mode).details() in light_zip.why
    assert "held" in [b.item_id for b in blocked] and "held" not in light_zip.items
    expected = {"vooraf": ["t1", "t2", "m1", "explained"], "achteraf": ["explained"]}[mode]
    assert [i.id for i in counted] == expected


def test_the_meter_of_the_sidebar_and_the_panel_say_what_the_plan_says(tmp_path):
    from cbs_export_lab.exportmap import meter_mode, plan_export
    from cbs_export_lab.server import budget_view
    from cbs_export_lab.widgets import basket_text, light_meter_html

    exportmap = demo.make_exportmap(tmp_path / "exportmap", "vooraf")
    save_user_settings(exportmap=str(exportmap))
    items = mixed_basket()
    plan = plan_export(items, exportmap)
    light_zip = next(z for z in plan.zips if z.folder == VOORAF and z.label == "")
    words = light_zip.budget.verdict()
    assert meter_mode(exportmap) == "vooraf"
    assert budget_view(items, "vooraf")["summary"] == words + "."
    assert words in light_meter_html(items)
    assert light_zip.budget.details() in light_zip.why
    assert plan.to_dict()["zips"][0]["budget"] == words

    class Shelf:
        folder = tmp_path / "basket"

        def __iter__(self):
            return iter(self.items)

    shelf = Shelf()
    shelf.items = items
    assert words in basket_text(shelf)
