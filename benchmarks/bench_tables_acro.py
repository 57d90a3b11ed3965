"""Worker for bench_tables.py, run inside benchmarks/.venv-acro (acro 1.0.2 and the pandas it needs).

Reads commands "<rows> <counts|means>" on stdin, times one checked `acro.crosstab` on the same synthetic data
as the main benchmark, and answers with the seconds taken.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from acro import ACRO  # noqa: E402

from cbs_export_lab.demo import large_persons  # noqa: E402


def main() -> None:
    logging.disable(logging.CRITICAL)
    with contextlib.redirect_stdout(io.StringIO()):
        acro = ACRO(suppress=False)
    frames: dict[int, object] = {}
    for line in sys.stdin:
        rows, what = line.split()
        df = frames.setdefault(int(rows), large_persons(int(rows), seed=0))
        values = dict(values=df.inkomen, aggfunc="mean") if what == "means" else {}
        with contextlib.redirect_stdout(io.StringIO()):
            start = time.perf_counter()
            acro.crosstab(df.gemeente, df.leeftijdsklasse, **values)
            seconds = time.perf_counter() - start
            acro.results.results.clear()
        print(seconds, flush=True)


if __name__ == "__main__":
    main()
