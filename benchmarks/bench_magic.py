"""How long `%cbs_check` takes to show its panel for a 10,000-cell builder table (target: under 0.2 s).

Runs the magic in a real IPython shell, the way a notebook does, and reports the median of several runs,
next to the bare `cel.check` of the same table so the cost of the panel itself is visible.

    .venv/bin/python benchmarks/bench_magic.py
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import pandas as pd
from IPython.core.interactiveshell import InteractiveShell

import cbs_export_lab as cel


def table_10k(rows: int = 1_000_000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = pd.Categorical.from_codes(rng.integers(0, 100, rows), categories=[f"regio {i:03d}" for i in range(100)])
    b = pd.Categorical.from_codes(rng.integers(0, 100, rows), categories=[f"klasse {i:03d}" for i in range(100)])
    unit = rng.integers(0, rows // 2, rows)
    return cel.crosstab(pd.Series(a, name="regio"), pd.Series(b, name="klasse"), unit=unit)


def median_seconds(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(repeat: int = 9) -> None:
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "cbs_export_lab")
    magics = shell.magics_manager.registry["CbsMagics"]
    print(f"{'table':34} {'status':>6} {'cel.check':>10} {'%cbs_check':>11}  (medians of {repeat}; target < 200 ms)")
    for label, rows in (("10,000 cells, all safe", 1_000_000), ("10,000 cells, many small cells", 120_000)):
        table = table_10k(rows)
        assert table.size == 10_000, table.shape
        shell.user_ns["tabel"] = table

        def magic() -> None:
            magics.check_panel("tabel")._repr_mimebundle_()

        magic()
        check_only = median_seconds(lambda: cel.check(table), repeat)
        with_panel = median_seconds(magic, repeat)
        status = cel.check(table).status
        print(f"{label:34} {status:>6} {check_only * 1000:8.1f} ms {with_panel * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
