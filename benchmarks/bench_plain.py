"""What checking a plain pandas table against its 1M-row source costs (target: under 1 s for 10,000 cells).

Tables of about 10,000 cells built with plain pandas from `demo.large_persons(1_000_000)`: a count table
(`groupby(...).size()`), a table of means (`pivot_table`) and a table of medians whose value column and
statistic are not named anywhere (every candidate must be tried). Each is checked with `cel.check(t, data=df)`
(units counted on the source's RINPERSOON), with the same source without a linking key (records counted),
and without a source. "recover" is the part that finds the grouping, value column and statistic and
verifies every cell; the rest is the table engine's cell statistics and checks. Medians of interleaved runs,
wall-clock and CPU time (on a shared, busy machine the CPU time is the fairer figure).

    .venv/bin/python benchmarks/bench_plain.py            # the check, on 1M rows
    .venv/bin/python benchmarks/bench_plain.py ratio 1000000 10000000

"ratio" sets recovery from the source (`recover`: grouping, value column and statistic found, every cell verified)
side by side with pandas building the same plain table, per source size (target: at most 3x pandas' own time).
"""

from __future__ import annotations

import statistics
import time

import pandas as pd

import cbs_export_lab as cel
from cbs_export_lab import demo
from cbs_export_lab.checks.plain import as_plain_table
from cbs_export_lab.checks.recover import recover


def timed(fn) -> tuple[float, float]:
    """Wall-clock and CPU seconds (CPU time is what a busy shared machine does not inflate)."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def main(rows: int = 1_000_000, repeat: int = 5) -> None:
    source = demo.large_persons(rows, seed=0)
    source["inkomensklasse"] = pd.qcut(source["inkomen"], 40, labels=[f"k{i:02d}" for i in range(40)])
    records_only = source.drop(columns="RINPERSOON")
    tables = {
        "count (groupby size)": source.groupby(["gemeente", "leeftijdsklasse", "geslacht", "inkomensklasse"]).size(),
        "mean (pivot_table)": pd.pivot_table(
            source,
            values="gewicht",
            index=["gemeente", "inkomensklasse"],
            columns=["leeftijdsklasse", "geslacht"],
            aggfunc="mean",
        ),
        "median, no names": source.groupby(["gemeente", "leeftijdsklasse", "geslacht", "inkomensklasse"])["gewicht"]
        .median()
        .rename(None),
    }
    runs = {
        "recover": lambda t: recover(as_plain_table(t), source, ["RINPERSOON"]),
        "check, units": lambda t: cel.check(t, data=source),
        "check, records": lambda t: cel.check(t, data=records_only),
        "check, no source": lambda t: cel.check(t),
    }
    times = {(name, run): [] for name in tables for run in runs}
    for _ in range(repeat):
        for name, table in tables.items():
            for run, fn in runs.items():
                times[name, run].append(timed(lambda f=fn, t=table: f(t)))
    print(f"source: {rows:,} rows; medians of {repeat} interleaved runs, wall-clock ms / CPU ms")
    print(f"{'table':<20}{'cells':>7}" + "".join(f"{run:>20}" for run in runs) + f"{'status':>8}")
    for name, table in tables.items():
        result = cel.check(table, data=source)
        assert result.source is not None, result.report()
        cells = []
        for run in runs:
            wall = statistics.median(w for w, _ in times[name, run])
            cpu = statistics.median(c for _, c in times[name, run])
            cells.append(f"{wall * 1000:>11.0f} / {cpu * 1000:>5.0f}")
        print(f"{name:<20}{table.size:>7}" + "".join(f"{c:>20}" for c in cells) + f"{result.status:>8}")
    for name in tables:
        units = statistics.median(c for _, c in times[name, "check, units"])
        records = statistics.median(c for _, c in times[name, "check, records"])
        print(f"{name}: counting units costs {units / records:.1f}x counting records (CPU)")


def _tables(source: pd.DataFrame) -> dict[str, callable]:
    keys = ["gemeente", "leeftijdsklasse", "geslacht"]
    return {
        "count (groupby size)": lambda: source.groupby(keys, observed=True).size(),
        "mean (pivot_table)": lambda: pd.pivot_table(
            source,
            values="inkomen",
            index=["gemeente", "leeftijdsklasse"],
            columns="geslacht",
            aggfunc="mean",
            observed=True,
        ),
        "sum / 1000": lambda: source.groupby(keys, observed=True)["inkomen"].sum() / 1000,
        "quantile 0.9": lambda: source.groupby(keys, observed=True)["inkomen"].quantile(0.9),
        "crosstab normalize": lambda: pd.crosstab(
            [source.gemeente, source.leeftijdsklasse], source.geslacht, normalize="index"
        ),
    }


def ratio(sizes: list[int], repeat: int = 3) -> None:
    """Recovery against pandas' own time for the same table, CPU seconds, medians of interleaved runs."""
    print(f"{'rows':>11}  {'table':<22}{'pandas ms':>11}{'recover ms':>12}{'ratio':>8}")
    for rows in sizes:
        source = demo.large_persons(rows, seed=0)
        for name, build in _tables(source).items():
            table = build()
            assert not isinstance(recover(as_plain_table(table), source, ["RINPERSOON"]), str), name
            built, recovered = [], []
            for _ in range(repeat):
                built.append(timed(build)[1])
                recovered.append(timed(lambda t=table, s=source: recover(as_plain_table(t), s, ["RINPERSOON"]))[1])
            b, r = statistics.median(built), statistics.median(recovered)
            print(f"{rows:>11,}  {name:<22}{b * 1000:>11.0f}{r * 1000:>12.0f}{r / b:>7.1f}x", flush=True)


if __name__ == "__main__":
    import sys

    if len(sys.argv) > 1 and sys.argv[1] == "ratio":
        ratio([int(n) for n in sys.argv[2:]] or [1_000_000, 10_000_000])
    else:
        main()
