"""How much a checked table costs: `cel.crosstab` + `cel.check` against plain `pd.crosstab` and `acro.crosstab`.

Acceptance (issue 2): with categorical keys and no `unit=`, the checked crosstab is at least 5x faster than
acro.crosstab and at most 2x plain pd.crosstab, for counts and for means, at 1M and 10M rows. The `unit=` rows
show what counting distinct persons costs. acro 1.0.2 runs in its own venv (benchmarks/.venv-acro, created
when missing) through `bench_tables_acro.py`; every figure is the median of interleaved repeated runs.

Usage: python benchmarks/bench_tables.py [--rows 1000000 10000000] [--repeat 5] [--no-acro]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

import cbs_export_lab as cel
from cbs_export_lab.demo import large_persons

HERE = Path(__file__).resolve().parent
ACRO_VENV = HERE / ".venv-acro"
ACRO_PYTHON = ACRO_VENV / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def acro_worker() -> subprocess.Popen:
    if not ACRO_PYTHON.exists():
        print(f"creating {ACRO_VENV} with acro==1.0.2 ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(ACRO_VENV)], check=True)
        subprocess.run([str(ACRO_PYTHON), "-m", "pip", "install", "--quiet", "acro==1.0.2"], check=True)
    return subprocess.Popen(
        [str(ACRO_PYTHON), str(HERE / "bench_tables_acro.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        bufsize=1,
    )


def timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def checked_crosstabs(df: pd.DataFrame, means: bool) -> dict[str, Callable[[], object]]:
    """The three ways to make the table: plain pandas, checked cel, and checked cel counting persons."""
    rules = cel.load_rules()
    values = {"values": df.inkomen, "aggfunc": "mean"} if means else {}
    return {
        "pandas": lambda: pd.crosstab(df.gemeente, df.leeftijdsklasse, **values),
        "cel": lambda: cel.check(cel.crosstab(df.gemeente, df.leeftijdsklasse, **values), rules=rules),
        "unit": lambda: cel.check(
            cel.crosstab(df.gemeente, df.leeftijdsklasse, **values, unit=df.RINPERSOON), rules=rules
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-acro", action="store_true")
    args = parser.parse_args()
    worker = None if args.no_acro else acro_worker()

    def ask_acro(rows: int, what: str) -> float:
        worker.stdin.write(f"{rows} {what}\n")
        return float(worker.stdout.readline())

    print(
        f"{'rows':>11} {'table':6} {'pandas s':>9} {'cel s':>8} {'cel unit= s':>12} {'acro s':>8} "
        f"{'cel/pandas':>11} {'acro/cel':>9} {'unit=/pandas':>13}"
    )
    for rows in args.rows:
        df = large_persons(rows, seed=0)
        for what in ("counts", "means"):
            runs = checked_crosstabs(df, means=what == "means")
            for run in runs.values():
                run()  # warm-up: imports and first-call caches
            if worker:
                ask_acro(rows, what)
            times: dict[str, list[float]] = {name: [] for name in [*runs, "acro"]}
            for _ in range(args.repeat):
                for name, run in runs.items():
                    times[name].append(timed(run))
                if worker:
                    times["acro"].append(ask_acro(rows, what))
            med = {name: statistics.median(t) if t else float("nan") for name, t in times.items()}
            print(
                f"{rows:>11,} {what:6} {med['pandas']:9.3f} {med['cel']:8.3f} {med['unit']:12.3f} "
                f"{med['acro']:8.3f} {med['cel'] / med['pandas']:11.2f} {med['acro'] / med['cel']:9.1f} "
                f"{med['unit'] / med['pandas']:13.2f}",
                flush=True,
            )

    if worker:
        worker.stdin.close()
        worker.wait()
    print("targets: cel/pandas <= 2, acro/cel >= 5 (no unit=); unit= figures shown for the record")


if __name__ == "__main__":
    main()
