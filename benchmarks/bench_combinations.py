"""What the differencing rule costs: adding one output to a basket of 50 outputs over 10M units.

Builds tables of persons by gemeente x leeftijdsklasse x geslacht (with margins, unit ids) for 50 different
subpopulations of 10M persons, adds them to a basket, then adds one more: the time of its differencing check
against the 50 stored items and the bytes stored per item. Also shows what the sketch adds to building one
10M-row table.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_combinations.py [n_rows] [n_items]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

import cbs_export_lab as cel
from cbs_export_lab import demo, differencing
from cbs_export_lab.settings import active_rules


def table(frame):
    return cel.crosstab([frame.gemeente, frame.leeftijdsklasse], frame.geslacht, margins=True, unit=frame.RINPERSOON)


def subpopulation(frame, k: int):
    """A different population for every k: an income band, an age cut or a random half."""
    rng = np.random.default_rng(k)
    kind = k % 3
    if kind == 0:
        low, high = np.quantile(frame.inkomen.to_numpy(), sorted(rng.uniform(0, 1, 2)))
        return frame[(frame.inkomen >= low) & (frame.inkomen <= high)]
    if kind == 1:
        return frame[frame.leeftijdsklasse.cat.codes.to_numpy() >= rng.integers(0, 4)]
    return frame[rng.random(len(frame)) < 0.5]


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main(n_rows: int = 10_000_000, n_items: int = 50) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CBS_EXPORT_HOME"] = tmp  # the project's basket (and its key) live here
        frame = demo.large_persons(n_rows)
        frame["RINPERSOON"] = np.random.default_rng(1).permutation(n_rows)  # 10M distinct persons
        basket = cel.Basket()
        original = differencing.grid_sketch
        differencing.grid_sketch = lambda *a, **k: None
        _, plain_build = timed(lambda: table(frame))
        differencing.grid_sketch = original
        everyone, sketched_build = timed(lambda: table(frame))
        checks, sizes = [], []
        real = differencing.check_in_basket

        def measured(*args, **kwargs):
            out, seconds = timed(lambda: real(*args, **kwargs))
            checks.append(seconds)
            return out

        differencing.check_in_basket = measured
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for k in range(n_items):
                basket.add(table(subpopulation(frame, k)), f"Subpopulation {k}")
            last = basket.add(everyone, "Everyone")
        differencing.check_in_basket = real
        for path in Path(basket.folder, differencing.SKETCH_FOLDER).glob("*.npz"):
            sizes.append(path.stat().st_size)
        cells = int(np.prod(everyone.shape))
        found = [f for f in last.findings if f.rule == "differencing"]
    print(
        f"{n_rows:,} rows, {n_rows:,} units; {n_items} stored items of {cells} cells each "
        f"(threshold N = {active_rules().threshold}, {differencing.SUBTABLES * differencing.buckets_per_subtable(10)}"
        " buckets a cell)"
    )
    print(f"build one table:  {plain_build:6.2f} s without sketch, {sketched_build:6.2f} s with")
    print(
        f"differencing check of the last add (against {n_items} items): {checks[-1]:.3f} s; "
        f"median over all adds {statistics.median(checks):.3f} s; differencing findings on it: {len(found)}"
    )
    print(
        f"stored per item: median {statistics.median(sizes) / 1e6:.2f} MB, max {max(sizes) / 1e6:.2f} MB "
        f"(limit 20 MB); at most {differencing.MAX_SKETCH_CELLS:,} cells are sketched per table"
    )


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
