"""An output is rendered outside the basket lock: a slow add never stops the sidebar, other kernels or the CLI."""

from __future__ import annotations

import threading
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

import cbs_export_lab.basket as basket_module
from cbs_export_lab.basket import ITEMS, RENDERING, BasketError

WAIT = 30.0
SLOW = {"Grote tabel", "Personen naar regio", "Inkomen naar geslacht"}


@pytest.fixture
def slow_render(monkeypatch):
    """Makes the first add of a title in SLOW wait inside its render (as a 12 s table would) until `go` is set."""
    rendering, go = threading.Event(), threading.Event()
    take = basket_module.take
    slowed = []

    def slow_take(obj, title, **kwargs):
        kind, result, render = take(obj, title, **kwargs)
        if slowed or title not in SLOW:
            return kind, result, render
        slowed.append(title)

        def render_slowly(folder, stem, t):
            rendering.set()
            assert go.wait(WAIT), "the render was never let go"
            return render(folder, stem, t)

        return kind, result, render_slowly

    monkeypatch.setattr(basket_module, "take", slow_take)
    monkeypatch.setattr(basket_module, "LOCK_TIMEOUT", 2.0)  # a render under the lock would show as BasketError
    return rendering, go


def table(n: int = 3) -> pd.DataFrame:
    return pd.DataFrame(
        {"aantal": [20 + k for k in range(n)]}, index=pd.Index([f"regio {k}" for k in range(n)], name="regio")
    )


def in_thread(target) -> tuple[threading.Thread, list]:
    out: list = []

    def run():
        try:
            out.append(target())
        except BaseException as exc:  # handed to the test
            out.append(exc)

    t = threading.Thread(target=run)
    t.start()
    return t, out


def test_other_basket_work_goes_on_while_an_output_renders(basket, slow_render):
    rendering, go = slow_render
    before = basket.add(table(), "Eerder toegevoegd")
    slow, result = in_thread(lambda: basket.add(table(5), "Grote tabel"))
    assert rendering.wait(WAIT)
    basket.set_explanation(before.id, "Geen risico: alle cellen ruim boven de drempel.")
    fast = basket.add(table(4), "Kleine tabel")
    basket.remove(before.id)
    assert slow.is_alive(), "the slow add finished before the other work: the test proves nothing"
    go.set()
    slow.join(WAIT)
    (item,) = result
    assert not isinstance(item, BaseException), item
    assert [i.title for i in basket.items] == ["Kleine tabel", "Grote tabel"]
    assert item.id != fast.id and all(basket.path(item, f).is_file() for f in item.files)
    assert not (basket.folder / ITEMS / item.id / RENDERING).exists()


def test_a_folder_being_rendered_is_not_tidied_away(basket, slow_render):
    rendering, go = slow_render
    slow, result = in_thread(lambda: basket.add(table(), "Grote tabel"))
    assert rendering.wait(WAIT)
    (folder,) = [p for p in (basket.folder / ITEMS).iterdir()]
    assert basket.tidy() == [] and folder.is_dir()
    go.set()
    slow.join(WAIT)
    assert [i.id for i in basket.items] == [folder.name]


def test_a_folder_left_by_a_crashed_render_is_tidied(basket):
    """Its lock file is there but nobody holds it: the add that made it is gone."""
    left = basket.folder / ITEMS / "t07-grote-tabel"
    left.mkdir(parents=True)
    (left / RENDERING).write_bytes(b"")
    (left / "t07-grote-tabel.xlsx").write_bytes(b"half")
    assert basket.tidy() == [left] and not left.exists()


def test_two_adds_of_one_title_get_two_titles_and_each_file_says_its_own(basket, slow_render):
    rendering, go = slow_render
    slow, result = in_thread(lambda: basket.add(table(), "Personen naar regio"))
    assert rendering.wait(WAIT)
    fast = basket.add(table(4), "Personen naar regio")
    go.set()
    slow.join(WAIT)
    (item,) = result
    assert fast.title == "Personen naar regio" and item.title != fast.title and item.title.startswith(fast.title)
    for it in (fast, item):
        (xlsx,) = [basket.path(it, f) for f in it.files if f.endswith(".xlsx")]
        texts = {c.value for row in load_workbook(xlsx).active.iter_rows() for c in row if isinstance(c.value, str)}
        assert any(it.title in t for t in texts)
        assert sorted(p.name for p in xlsx.parent.iterdir()) == [xlsx.name]


def test_a_failed_render_leaves_nothing(basket, monkeypatch):
    take = basket_module.take

    def broken_take(obj, title, **kwargs):
        kind, result, _ = take(obj, title, **kwargs)

        def render(folder, stem, t):
            (folder / f"{stem}.xlsx").write_bytes(b"half")
            raise OSError(28, "No space left on device")

        return kind, result, render

    monkeypatch.setattr(basket_module, "take", broken_take)
    with pytest.raises(BasketError, match="disk is not full"):
        basket.add(table(), "Grote tabel")
    assert basket.items == [] and list((basket.folder / ITEMS).iterdir()) == []
    monkeypatch.setattr(basket_module, "take", take)
    assert basket.add(table(), "Grote tabel").title == "Grote tabel"


def test_a_magnitude_table_enters_with_its_background_rendered_outside_the_lock(basket, persons, slow_render):
    import cbs_export_lab as cel

    rendering, go = slow_render
    means = cel.pivot_table(persons, values="inkomen", index="geslacht", aggfunc="mean")
    slow, result = in_thread(lambda: basket.add(means, "Inkomen naar geslacht"))
    assert rendering.wait(WAIT)
    basket.add(table(), "Intussen")
    go.set()
    slow.join(WAIT)
    (item,) = result
    back = [i for i in basket.items if i.background_for == item.id]
    assert len(back) == 1 and back[0].background and Path(basket.path(back[0], back[0].files[0])).is_file()
