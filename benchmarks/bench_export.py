"""How long `cel.prepare_export` takes for a basket of 50 artefacts (target: under 3 s).

The basket is filled once (tables by gemeente and age band, some of them explained, and model results) into
an achteraf exportmap, so the export writes zips in 1_, 2_ and 3_. Planning alone and the full export are
timed interleaved, each into a fresh exportmap, and the medians are reported.

    .venv/bin/python benchmarks/bench_export.py
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd
import statsmodels.formula.api as smf

import cbs_export_lab as cel
from cbs_export_lab import demo

ARTEFACTS = 50


def fill_basket(folder: Path) -> cel.Basket:
    persons = demo.persons(20_000, seed=3)
    business = demo.businesses(5_000, seed=3)
    basket = cel.Basket(folder)
    adults = persons[persons["leeftijd"] >= 18]
    for i in range(10):
        basket.add(
            smf.ols("inkomen ~ leeftijd + C(geslacht)", data=adults.sample(frac=0.8, random_state=i)).fit(),
            f"Model inkomen {i}",
        )
    for i in range(ARTEFACTS - 15):
        sample = persons.sample(frac=0.5, random_state=i)
        basket.add(pd.crosstab(sample["leeftijdsklasse"], sample["geslacht"]), f"Leeftijd en geslacht {i}")
    for i in range(5):
        sample = business.sample(frac=0.7, random_state=i)
        basket.add(
            cel.pivot_table(sample, values="omzet", index="sector", aggfunc="sum", unit="BEID"),
            f"Omzet {i}",
            explanation="Sums over sectors with many businesses; the dominance shares are in the background.",
        )
    return basket


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(repeat: int = 7) -> None:
    warnings.simplefilter("ignore")
    os.environ.setdefault("CBS_EXPORT_HOME", tempfile.mkdtemp(prefix="cbs_bench_home_"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        basket = fill_basket(root / "basket")
        items = basket.items
        files = sum(len(i.files) for i in items)
        plan_times, export_times = [], []
        result = None
        for run in range(repeat):
            exportmap = demo.make_exportmap(root / f"exportmap{run}", "achteraf")
            plan_times.append(timed(lambda: cel.plan_export(basket, exportmap, include_exported=True)))

            def export() -> None:
                nonlocal result
                result = cel.prepare_export(basket, exportmap, project="9001", include_exported=True)

            export_times.append(timed(export))
        assert result is not None
        plan_s, export_s = statistics.median(plan_times), statistics.median(export_times)
        in_zips = sum(len(z.items) for z in cel.plan_export(basket, exportmap, include_exported=True).zips)
    print(
        f"basket: {len(items)} items ({sum(not i.background for i in items)} outputs), {files} files; "
        f"{in_zips} items in {len(result.zips)} zips, {len(result.blocked)} held back"
    )
    print(f"{'step':<28}{'median':>10}{'per item':>12}")
    print(f"{'plan_export':<28}{plan_s * 1000:>8.0f} ms{plan_s / len(items) * 1000:>9.1f} ms")
    print(f"{'prepare_export':<28}{export_s * 1000:>8.0f} ms{export_s / len(items) * 1000:>9.1f} ms")
    print(
        f"medians of {repeat} interleaved runs; target for prepare_export: < 3000 ms "
        f"(planning is {plan_s / export_s:.0%} of it)"
    )


if __name__ == "__main__":
    main()
