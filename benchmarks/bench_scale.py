"""Register scale: a person-year panel of 1M to 100M rows, tabulated by municipality x age band.

Side by side in one run, for counts, means, and both with `unit=` (distinct persons, contributions summed per
person): wall time (median) and peak memory over the loaded data for
- cel: `cel.check(cel.crosstab(...))` on a pandas frame, as a researcher writes it;
- pandas: `pd.crosstab` (no `unit=`: pandas has no such statistic);
- numpy floor: the same statistics (cells and margins; distinct units; the two largest contributions per cell)
  computed directly on pre-factorized integer codes, with no labels, table or check;
- duckdb and polars: the same statistics in their own engines, on the same data.

Every method runs in a fresh process on data loaded from .npy files, so peak memory is its own: the peak
resident set (Linux: VmHWM reset after loading) minus the resident set with the data loaded. Sizes whose data
would not fit in a quarter of the available memory are skipped, and the run says where it stops.

Targets (issue 21): with `unit=`, cel's extra memory at most 1.5x the data and its time at most 1.5x the floor
at 100M rows; without `unit=`, cel at most 2x the floor at 10M rows.

Usage: python benchmarks/bench_scale.py [--rows 1000000 10000000 30000000 100000000] [--repeat 3]
                                        [--methods cel pandas numpy duckdb polars]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

STATS = ("counts", "means", "unit counts", "unit means")
METHODS = ("cel", "pandas", "numpy", "duckdb", "polars")
N_GEMEENTEN = 40
N_AGES = 6
YEARS_PER_PERSON = 5


def make_data(rows: int, folder: Path) -> int:
    """A synthetic person-year panel as .npy columns; returns its size in bytes."""
    rng = np.random.default_rng(rows)
    columns = {
        "person": rng.integers(0, max(1, rows // YEARS_PER_PERSON), size=rows),
        "gemeente": rng.integers(0, N_GEMEENTEN, size=rows).astype(np.int8),
        "leeftijd": rng.integers(0, N_AGES, size=rows).astype(np.int8),
        "inkomen": np.round(rng.lognormal(10.3, 0.55, size=rows), -2),
    }
    for name, values in columns.items():
        np.save(folder / f"{name}.npy", values)
    return sum(v.nbytes for v in columns.values())


def load(folder: Path) -> dict[str, np.ndarray]:
    return {name: np.load(folder / f"{name}.npy") for name in ("person", "gemeente", "leeftijd", "inkomen")}


# --- the methods: each prepares its own form of the data, then returns the call to time ---------------------


def cel_method(cols: dict[str, np.ndarray], stat: str) -> Callable[[], object]:
    import pandas as pd

    import cbs_export_lab as cel

    gemeenten = [f"Gemeente {i:02d}" for i in range(N_GEMEENTEN)]
    ages = [f"leeftijd {i}" for i in range(N_AGES)]
    df = pd.DataFrame(
        {
            "RINPERSOON": cols.pop("person"),
            "gemeente": pd.Categorical.from_codes(cols.pop("gemeente"), categories=gemeenten),
            "leeftijdsklasse": pd.Categorical.from_codes(cols.pop("leeftijd"), categories=ages),
            "inkomen": cols.pop("inkomen"),
        },
        copy=False,
    )
    rules = cel.load_rules()
    values = {"values": df.inkomen, "aggfunc": "mean"} if "means" in stat else {}
    unit = {"unit": df.RINPERSOON} if "unit" in stat else {}
    return lambda: cel.check(cel.crosstab(df.gemeente, df.leeftijdsklasse, **values, **unit), rules=rules)


def pandas_method(cols: dict[str, np.ndarray], stat: str) -> Callable[[], object] | None:
    import pandas as pd

    if "unit" in stat:
        return None
    g = pd.Series(pd.Categorical.from_codes(cols["gemeente"], categories=range(N_GEMEENTEN)), name="gemeente")
    a = pd.Series(pd.Categorical.from_codes(cols["leeftijd"], categories=range(N_AGES)), name="leeftijd")
    x = pd.Series(cols["inkomen"], name="inkomen")
    if stat == "means":
        return lambda: pd.crosstab(g, a, values=x, aggfunc="mean", margins=True)
    return lambda: pd.crosstab(g, a, margins=True)


def _top2(group: np.ndarray, x: np.ndarray, n: int) -> np.ndarray:
    first = np.full(n, -np.inf)
    np.maximum.at(first, group, x)
    second = np.full(n, -np.inf)
    np.maximum.at(second, group, np.where(x == first[group], -np.inf, x))
    return np.stack([first, second])


def numpy_method(cols: dict[str, np.ndarray], stat: str) -> Callable[[], object]:
    g, a, x, person = cols["gemeente"], cols["leeftijd"], cols["inkomen"], cols["person"]
    R, C = N_GEMEENTEN, N_AGES
    n = R * C

    def counts() -> object:
        cell = g.astype(np.int64) * C + a
        inner = np.bincount(cell, minlength=n).reshape(R, C)
        if stat == "counts":
            return inner, inner.sum(1), inner.sum(0)
        total = np.bincount(cell, x, minlength=n)
        return inner, total, np.bincount(cell, np.abs(x), minlength=n), _top2(cell, np.abs(x), n)

    def distinct(keys: np.ndarray, values: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
        order = None if values is None else np.argsort(keys)
        ordered = np.sort(keys) if order is None else keys[order]
        first = np.ones(ordered.size, dtype=bool)
        first[1:] = ordered[1:] != ordered[:-1]
        starts = np.flatnonzero(first)
        return ordered[starts], None if values is None else np.add.reduceat(values[order], starts)

    def units() -> object:
        cell = g.astype(np.int64) * C + a
        pairs, contrib = distinct(person * n + cell, None if stat == "unit counts" else x)
        pair_cell = pairs % n
        pair_unit = pairs // n
        out = [np.bincount(pair_cell, minlength=n)]
        for line, size in ((pair_cell // C, R), (pair_cell % C, C)):
            out.append(np.bincount(distinct(pair_unit * size + line, None)[0] % size, minlength=size))
        out.append(distinct(pair_unit, None)[0].size)
        if contrib is not None:
            out += [np.bincount(pair_cell, contrib, minlength=n), _top2(pair_cell, np.abs(contrib), n)]
        return out

    return units if "unit" in stat else counts


def _duckdb_sql(stat: str) -> str:
    sets = "GROUPING SETS ((gemeente, leeftijd), (gemeente), (leeftijd), ())"
    if stat == "counts":
        return f"SELECT gemeente, leeftijd, count(*) FROM t GROUP BY {sets}"
    if stat == "means":
        return (
            "SELECT gemeente, leeftijd, count(*), avg(inkomen), sum(abs(inkomen)), max(abs(inkomen), 2) "
            f"FROM t GROUP BY {sets}"
        )
    per_unit = "GROUPING SETS ((gemeente, leeftijd, person), (gemeente, person), (leeftijd, person), (person))"
    inner = "sum(inkomen) AS s, " if stat == "unit means" else ""
    outer = ", sum(s), max(abs(s), 2)" if stat == "unit means" else ""
    return (
        f"WITH p AS (SELECT gemeente, leeftijd, person, {inner}grouping(gemeente, leeftijd) AS level "
        f"FROM t GROUP BY {per_unit}) "
        f"SELECT level, gemeente, leeftijd, count(*){outer} FROM p GROUP BY level, gemeente, leeftijd"
    )


def duckdb_method(cols: dict[str, np.ndarray], stat: str) -> Callable[[], object]:
    import duckdb
    import pyarrow as pa

    con = duckdb.connect()
    con.register("t", pa.table(cols))
    sql = _duckdb_sql(stat)
    return lambda: con.execute(sql).fetchall()


def polars_method(cols: dict[str, np.ndarray], stat: str) -> Callable[[], object]:
    import polars as pl

    frame = pl.DataFrame(cols).lazy()
    levels = [["gemeente", "leeftijd"], ["gemeente"], ["leeftijd"], []]
    x = pl.col("inkomen")

    def plans() -> list[pl.LazyFrame]:
        out = []
        for keys in levels:
            if "unit" in stat:
                per = frame.group_by([*keys, "person"]).agg(x.sum().alias("s"))
                aggs = [pl.len()]
                if stat == "unit means":
                    s = pl.col("s")
                    aggs += [s.sum().alias("sum"), s.abs().top_k(2).alias("top")]
                out.append(per.group_by(keys).agg(aggs) if keys else per.select([a.implode() for a in aggs]))
            else:
                aggs = [pl.len()]
                if stat == "means":
                    aggs += [x.mean().alias("mean"), x.abs().sum().alias("abs"), x.abs().top_k(2).alias("top")]
                out.append(frame.group_by(keys).agg(aggs) if keys else frame.select([a.implode() for a in aggs]))
        return out

    return lambda: pl.collect_all(plans())


PREPARE = {
    "cel": cel_method,
    "pandas": pandas_method,
    "numpy": numpy_method,
    "duckdb": duckdb_method,
    "polars": polars_method,
}


# --- measuring ---------------------------------------------------------------------------------------------


def _status(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def worker(folder: Path, method: str, stat: str, repeat: int) -> dict[str, float | None]:
    cols = load(folder)
    warm = PREPARE[method]({name: values[:10_000].copy() for name, values in cols.items()}, stat)
    if warm is None:
        return {"seconds": None, "extra": None}
    warm()  # imports and first-call caches, on a slice
    run = PREPARE[method](cols, stat)
    before = _status("VmRSS")
    exact = _reset_peak()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    peak = _status("VmHWM") if exact else None
    if peak is None or before is None:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        before = before or 0
    return {"seconds": statistics.median(times), "extra": max(0, peak - before)}


def measure(folder: Path, method: str, stat: str, repeat: int, home: str) -> dict[str, float | None]:
    env = {**os.environ, "CBS_EXPORT_HOME": home}
    done = subprocess.run(
        [sys.executable, __file__, "--worker", str(folder), method, stat, str(repeat)],
        capture_output=True,
        text=True,
        env=env,
    )
    if done.returncode:
        reason = (done.stderr.strip().splitlines() or ["failed"])[-1]
        return {"seconds": None, "extra": None, "error": reason[:80]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def available_memory() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _fmt(value: float | None, scale: float = 1.0, digits: int = 2) -> str:
    return "–" if value is None else f"{value / scale:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000, 30_000_000, 100_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--stats", nargs="+", choices=STATS, default=list(STATS))
    args = parser.parse_args()

    bytes_per_row = 8 + 1 + 1 + 8
    gb = 1024**3
    print(f"{'rows':>12} {'statistic':11} " + " ".join(f"{m + ' s':>9} {m + ' GB':>9}" for m in args.methods))
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows:
            if rows * bytes_per_row * 4 > available_memory():
                print(
                    f"stops before {rows:,} rows: the data ({rows * bytes_per_row / gb:.1f} GB) is more than a "
                    f"quarter of the available memory ({available_memory() / gb:.1f} GB)"
                )
                break
            folder = Path(tmp, str(rows))
            folder.mkdir()
            size = make_data(rows, folder)
            results = {}
            for stat in args.stats:
                row = {m: measure(folder, m, stat, args.repeat, tmp) for m in args.methods}
                results[stat] = row
                cells = " ".join(f"{_fmt(r['seconds'], digits=3):>9} {_fmt(r['extra'], gb):>9}" for r in row.values())
                print(f"{rows:>12,} {stat:11} {cells}", flush=True)
                for m, r in row.items():
                    if r.get("error"):
                        print(f"{'':>12} {m} failed: {r['error']}")
            print(f"{'':>12} data: {size / gb:.2f} GB", end="")
            for stat in args.stats:
                cel, floor = results[stat].get("cel"), results[stat].get("numpy")
                if cel and floor and cel["seconds"] and floor["seconds"]:
                    print(
                        f"; {stat}: cel/floor {cel['seconds'] / floor['seconds']:.2f}x time, "
                        f"{cel['extra'] / size:.2f}x data extra memory",
                        end="",
                    )
            print(flush=True)
            for f in folder.iterdir():
                f.unlink()
    print(
        "targets: unit= at 100M rows: cel extra memory <= 1.5x data, time <= 1.5x floor; "
        "without unit= at 10M rows: cel time <= 2x floor"
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        folder, method, stat, repeat = sys.argv[2:6]
        print(json.dumps(worker(Path(folder), method, stat, int(repeat))))
    else:
        main()
