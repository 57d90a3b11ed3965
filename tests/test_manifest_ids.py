"""A hand-edited or damaged manifest can never make Remove delete other items' files or anything outside the basket."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from cbs_export_lab.basket import BasketError
from cbs_export_lab.errors import UserError
from cbs_export_lab.names import id_problem


@pytest.fixture
def two_items(basket):
    table = pd.DataFrame({"n": [30, 40]}, index=["a", "b"])
    return basket, basket.add(table, "Eerste"), basket.add(table, "Tweede")


def edit(basket, change) -> None:
    doc = json.loads(basket.manifest_path.read_text(encoding="utf-8"))
    change(doc)
    basket.manifest_path.write_text(json.dumps(doc), encoding="utf-8")


BAD_IDS = [
    "",
    ".",
    "..",
    "../x",
    "../../outside",
    "/tmp/x",
    "C:\\Windows",
    "C:x",
    "a/b",
    "a\\b",
    "CON",
    "nul",
    "com1",
    "x.",
    "x ",
    " x",
    "t01\x00",
    "a" * 65,
    "t01-\u00e9",
]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_an_id_that_is_no_plain_folder_name_is_a_damaged_manifest(two_items, tmp_path, bad):
    basket, first, second = two_items
    outside = tmp_path / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "keep.txt").write_text("keep")
    edit(basket, lambda doc: doc["items"][0].update(id=bad))
    for call in (lambda: basket.items, lambda: basket.remove(bad), lambda: basket.remove(second.id)):
        with pytest.raises(BasketError, match="damaged or was edited by hand") as err:
            call()
        assert "id" in str(err.value)
    assert (basket.folder / "items" / second.id).is_dir() and (basket.folder / "items" / first.id).is_dir()
    assert (outside / "keep.txt").read_text() == "keep" and basket.folder.is_dir()


def test_a_valid_id_removes_only_its_own_folder(two_items):
    basket, first, second = two_items
    basket.remove(first.id)
    assert not (basket.folder / "items" / first.id).exists()
    assert (basket.folder / "items" / second.id).is_dir() and [i.id for i in basket.items] == [second.id]


def test_ids_differing_only_in_case_are_one_folder_on_windows(two_items):
    basket, first, _ = two_items
    edit(basket, lambda doc: doc["items"][1].update(id=first.id.upper()))
    with pytest.raises(BasketError, match="appears twice"):
        _ = basket.items


@pytest.mark.parametrize(
    "key, value",
    [
        ("title", 5),
        ("findings", [1]),
        ("findings", "x"),
        ("exported", ["zip"]),
        ("counts", [1]),
        ("weighted", "ja"),
        ("rules_settings", []),
        ("source", 3),
        ("background_for", 7),
        ("explanation", ["x"]),
        ("added_at", 1),
    ],
)
def test_wrong_typed_fields_are_a_clear_message(two_items, key, value):
    basket, first, _ = two_items
    edit(basket, lambda doc: doc["items"][0].update({key: value}))
    with pytest.raises(BasketError, match="damaged or was edited by hand"):
        _ = basket.items
    with pytest.raises(BasketError):
        basket.get(first.id)


def test_a_finding_without_its_fields_is_a_clear_message(two_items):
    basket, first, _ = two_items
    edit(basket, lambda doc: doc["items"][0].update(findings=[{"rule": "threshold"}]))
    with pytest.raises(BasketError, match="cannot be read"):
        basket.get(first.id)


def test_generated_ids_are_valid(two_items):
    _, first, second = two_items
    assert id_problem(first.id) is None and id_problem(second.id) is None


@pytest.mark.parametrize("field", ["title", "description", "explanation"])
def test_a_broken_character_in_a_text_is_a_clear_message(basket, field):
    table = pd.DataFrame({"n": [30, 40]}, index=["a", "b"])
    texts = {"title": "Tabel", field: "Tabel \ud83d kapot"}
    with pytest.raises(UserError, match="broken character"):
        basket.add(table, texts.pop("title"), **texts)
    item = basket.add(table, "Heel")
    with pytest.raises(UserError, match="broken character"):
        basket.set_explanation(item.id, "x\x00y")
    assert [i.title for i in basket.items] == ["Heel"]
