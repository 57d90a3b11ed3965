"""Worker for bench_protect.py, run inside benchmarks/.venv-acro (acro 1.0.2): ACRO's own suppression of a table.

Usage (by bench_protect.py): python bench_protect_acro.py records.csv out.csv
Reads records with columns regio and klasse, writes `acro.crosstab(regio, klasse, margins=True)` made with
`ACRO(suppress=True)`, suppressed cells empty.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
import warnings

import pandas as pd
from acro import ACRO


def main() -> None:
    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")
    records, out = sys.argv[1], sys.argv[2]
    df = pd.read_csv(records)
    with contextlib.redirect_stdout(io.StringIO()):
        acro = ACRO(suppress=True)
        table = acro.crosstab(df.regio, df.klasse, margins=True)
    table.to_csv(out)


if __name__ == "__main__":
    main()
