"""What adding to the basket costs, and how that grows with the basket (every write re-reads the manifest).

Adds the same small table to a basket of 10 items and to one of 300, interleaved, and reads `items` back;
`cel.check` of the table alone is shown for scale. Medians of repeated runs; the ratio is from this run.

    .venv/bin/python benchmarks/bench_basket.py
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

import cbs_export_lab as cel
from cbs_export_lab import demo
from cbs_export_lab.basket import Basket


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def filled(folder: Path, table: pd.DataFrame, n: int) -> Basket:
    basket = Basket(folder)
    for k in range(n):
        basket.add(table, f"Vulling {k}")
    return basket


def main(repeat: int = 15) -> None:
    persons = demo.persons(2_000, seed=3)
    table = cel.crosstab(persons.gemeente, persons.leeftijdsklasse, unit=persons.RINPERSOON)
    with tempfile.TemporaryDirectory() as tmp:
        small = filled(Path(tmp) / "small", table, 10)
        large = filled(Path(tmp) / "large", table, 300)
        times: dict[str, list[float]] = {"check": [], "add (10 items)": [], "add (300 items)": [], "items (300)": []}
        for k in range(repeat):
            times["check"].append(timed(lambda: cel.check(table)))
            times["add (10 items)"].append(timed(lambda: small.add(table, f"Meting {k}")))
            times["add (300 items)"].append(timed(lambda: large.add(table, f"Meting {k}")))
            times["items (300)"].append(timed(lambda: large.items))
        manifest_kb = large.manifest_path.stat().st_size / 1024
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(
        f"table: {table.shape[0]} x {table.shape[1]} cells, status {cel.check(table).status}; "
        f"manifest of 300+ items: {manifest_kb:,.0f} KiB"
    )
    print(f"{'operation':<18}{'median ms':>10}")
    for name, seconds in medians.items():
        print(f"{name:<18}{seconds * 1000:>10.1f}")
    print(f"add(300) / add(10): {medians['add (300 items)'] / medians['add (10 items)']:.2f}")


if __name__ == "__main__":
    main()
