"""How long checking a fitted model takes compared to fitting it (target: checking is a small part of fitting).

For each size, an OLS with categorical regressors (gemeente, age band, sex), a saturated OLS (age band x sex,
which also counts every covariate pattern) and a Logit are fitted and checked, counting units on the person
id. Fit and check runs are interleaved and the medians reported, with check time / fit time in one run.

    .venv/bin/python benchmarks/bench_models.py
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import warnings

import numpy as np
import statsmodels.formula.api as smf

from cbs_export_lab import demo
from cbs_export_lab.check import check

SIZES = (10_000, 100_000, 1_000_000)
MODELS = {
    "OLS C(gemeente)+...": lambda d: smf.ols("log_inkomen ~ C(gemeente) + leeftijdsklasse + geslacht", d).fit(),
    "OLS saturated": lambda d: smf.ols("log_inkomen ~ leeftijdsklasse * geslacht", d).fit(),
    "Logit C(gemeente)+...": lambda d: smf.logit("hoog ~ C(gemeente) + leeftijdsklasse + geslacht", d).fit(disp=0),
}


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def main(repeat: int = 5) -> None:
    warnings.simplefilter("ignore")
    os.environ.setdefault("CBS_EXPORT_HOME", tempfile.mkdtemp(prefix="cbs_bench_home_"))
    print(f"{'model':<24}{'rows':>11}{'fit s':>9}{'check s':>9}{'check/fit':>11}  status")
    for n in SIZES:
        data = demo.large_persons(n, seed=1)
        data["log_inkomen"] = np.log(data["inkomen"] + 1)
        data["hoog"] = (data["inkomen"] > data["inkomen"].median()).astype(int)
        for name, fit in MODELS.items():
            fits, checks = [], []
            for _ in range(repeat):
                fit_time, res = timed(lambda: fit(data))
                check_time, result = timed(lambda: check(res, unit="RINPERSOON"))
                fits.append(fit_time)
                checks.append(check_time)
            f, c = statistics.median(fits), statistics.median(checks)
            print(f"{name:<24}{n:>11,}{f:>9.3f}{c:>9.3f}{c / f:>11.2f}  {result.status}")


if __name__ == "__main__":
    main()
