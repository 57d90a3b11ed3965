"""How long does other basket work wait while a kernel adds a large table?

One process adds a table of ROWS x COLS cells (its Excel rendering takes seconds); meanwhile this process saves
an explanation on another item again and again, as the sidebar does. Prints how long the large add took and the
slowest and median wait of the explanation saves during it. With rendering outside the basket lock the slowest
wait is a small fraction of the add's time; with rendering under the lock it is about the whole render.

    .venv/bin/python benchmarks/bench_basket_lock.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROWS, COLS = 20_000, 10
ADD = f"""
import sys, time
import numpy as np, pandas as pd
from cbs_export_lab import Basket
rng = np.random.default_rng(7)
table = pd.DataFrame(rng.integers(10, 500, size=({ROWS}, {COLS})),
                     index=pd.Index([f"gebied {{k}}" for k in range({ROWS})], name="gebied"),
                     columns=pd.Index([f"klasse {{k}}" for k in range({COLS})], name="klasse"))
basket = Basket(sys.argv[1])
print("start", flush=True)
t = time.perf_counter()
basket.add(table, "Grote tabel")
print(f"done {{time.perf_counter() - t:.2f}}", flush=True)
"""


def main() -> None:
    import pandas as pd

    from cbs_export_lab import Basket

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "basket"
        basket = Basket(folder)
        other = basket.add(pd.DataFrame({"aantal": [40, 50]}, index=["a", "b"]), "Kleine tabel")
        adder = subprocess.Popen([sys.executable, "-c", ADD, str(folder)], stdout=subprocess.PIPE, text=True)
        assert adder.stdout.readline().strip() == "start"
        waits = []
        while adder.poll() is None:
            t = time.perf_counter()
            basket.set_explanation(other.id, f"Uitleg {len(waits)}")
            waits.append(time.perf_counter() - t)
            time.sleep(0.02)
        line = adder.stdout.read().strip()
        add_s = float(line.split()[-1])
        print(f"large add ({ROWS:,} x {COLS} cells): {add_s:.2f} s")
        print(
            f"explanation saves during it: {len(waits)}; slowest wait {max(waits) * 1000:.0f} ms, median {statistics.median(waits) * 1000:.0f} ms"
        )
        print(f"slowest wait / add time: {max(waits) / add_s:.3f}")


if __name__ == "__main__":
    main()
