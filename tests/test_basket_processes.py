"""Two writers at once (the kernel and the server) and writers that die half-way never lose or damage the basket."""

from __future__ import annotations

import multiprocessing as mp
import os
from pathlib import Path

import pandas as pd
import pytest

from cbs_export_lab.basket import Basket

PER_PROCESS = 100
SPAWN = mp.get_context("spawn")


def small_table(seed: int) -> pd.DataFrame:
    from cbs_export_lab import demo

    persons = demo.persons(300, seed=seed)
    return pd.crosstab(persons.geslacht, persons.leeftijdsklasse)


def add_many(folder: str, start, n: int, seed: int) -> None:
    basket = Basket(folder)
    table = small_table(seed)
    start.wait()
    for k in range(n):
        basket.add(table, f"Tabel {k}")


def add_then_die_before_replace(folder: str) -> None:
    """Stands for a process killed after writing the new manifest to its temp file, before the replace."""
    import cbs_export_lab.atomic as atomic

    replace = atomic.replace_with_retry

    def die(src, dst):
        if Path(dst).name == "manifest.json":
            os._exit(3)
        replace(src, dst)

    atomic.replace_with_retry = die
    Basket(folder).add(small_table(2), "Wordt nooit bewaard")


def hold_the_lock(folder: str, holding) -> None:
    from filelock import FileLock

    FileLock(str(Path(folder) / ".lock")).acquire()
    holding.set()
    import time

    time.sleep(600)


def run(target, *args) -> mp.Process:
    p = SPAWN.Process(target=target, args=args)
    p.start()
    return p


def test_two_processes_adding_100_items_each_at_once_lose_nothing(tmp_path):
    folder = str(tmp_path / "basket")
    Basket(folder)
    start = SPAWN.Event()
    workers = [run(add_many, folder, start, PER_PROCESS, seed) for seed in (1, 2)]
    start.set()
    for p in workers:
        p.join(timeout=600)
        assert p.exitcode == 0
    items = Basket(folder).items
    assert len(items) == 2 * PER_PROCESS
    assert len({i.id for i in items}) == 2 * PER_PROCESS
    expected = {f"Tabel {k}" for k in range(PER_PROCESS)} | {f"Tabel {k} (2)" for k in range(PER_PROCESS)}
    assert {i.title for i in items} == expected
    assert all((Path(folder) / f).is_file() for i in items for f in i.files)
    on_disk = {p.name for p in (Path(folder) / "items").iterdir()}
    assert on_disk == {i.id for i in items}


def test_a_writer_killed_between_temp_write_and_replace_leaves_the_previous_manifest(tmp_path):
    basket = Basket(tmp_path / "basket")
    basket.add(small_table(1), "Eerste")
    before = basket.manifest_path.read_bytes()
    p = run(add_then_die_before_replace, str(basket.folder))
    p.join(timeout=300)
    assert p.exitcode == 3
    assert basket.manifest_path.read_bytes() == before
    assert [i.title for i in basket.items] == ["Eerste"]
    after = basket.add(small_table(1), "Tweede")
    assert [i.title for i in basket.items] == ["Eerste", "Tweede"]
    assert all(basket.path(after, f).is_file() for f in after.files)


def test_a_writer_killed_while_holding_the_lock_does_not_block_the_basket(tmp_path):
    basket = Basket(tmp_path / "basket")
    basket.add(small_table(1), "Eerste")
    before = basket.manifest_path.read_bytes()
    holding = SPAWN.Event()
    p = run(hold_the_lock, str(basket.folder), holding)
    assert holding.wait(timeout=300)
    p.kill()
    p.join(timeout=60)
    assert basket.manifest_path.read_bytes() == before
    basket.add(small_table(1), "Tweede")
    assert [i.title for i in basket.items] == ["Eerste", "Tweede"]


@pytest.fixture(autouse=True)
def no_stray_processes():
    yield
    for p in mp.active_children():
        p.kill()
