"""How long the sidebar's requests take on a real jupyter_server, for baskets of growing size.

The sidebar polls GET /cbs-export-lab/basket every 3 s while it is visible and asks for the plan when the basket
changed, so both should stay far below that interval. Prints the median of interleaved repeated requests.

    .venv/bin/python benchmarks/bench_server.py
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

SIZES = (10, 50, 200)
REPEATS = 15


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fill(n: int) -> None:
    import pandas as pd

    import cbs_export_lab as cel
    from cbs_export_lab import demo

    persons = demo.persons(2_000, seed=n)
    basket = cel.Basket()
    table = pd.crosstab(persons["leeftijdsklasse"], persons["geslacht"])
    for i in range(n - len(basket.items)):
        basket.add(table, f"Table {i}")


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="cbs_bench_server_"))
    os.environ["CBS_EXPORT_HOME"] = str(home)
    from cbs_export_lab import demo, settings

    settings.save_user_settings(exportmap=str(demo.make_exportmap(home / "exportmap", "achteraf")), project="1")
    port = _port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            "--no-browser",
            "--allow-root",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--IdentityProvider.token=",
            f"--ServerApp.root_dir={home}",
            "--ServerApp.jpserver_extensions={'cbs_export_lab': True}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/cbs-export-lab"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{base}/settings", timeout=2).read()
                break
            except OSError:
                time.sleep(0.1)
        print(f"{'items':>6} {'GET basket ms':>14} {'GET plan ms':>12}")
        for n in SIZES:
            _fill(n)
            timings: dict[str, list[float]] = {"basket": [], "plan": []}
            for _ in range(REPEATS):
                for endpoint in timings:
                    start = time.perf_counter()
                    urllib.request.urlopen(f"{base}/{endpoint}", timeout=60).read()
                    timings[endpoint].append((time.perf_counter() - start) * 1000)
            print(f"{n:>6} {statistics.median(timings['basket']):>14.1f} {statistics.median(timings['plan']):>12.1f}")
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
