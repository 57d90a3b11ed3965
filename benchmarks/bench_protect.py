"""Secondary suppression and the audit: how many cells `cel.protect` hides against the proven optimum, and how long
protecting and auditing take.

Acceptance (issue 17 / issue 16):
- on random count tables up to 8 x 8 (plus margins), the cells hidden by the suppression are at most 1.5x the
  optimum. The optimum is solved here independently, as one compact MILP with the whole audit inside it (for every
  primary cell two attacker tables, one pushing it up and one down, linked to which cells are hidden; the cell
  must move by the width the rules ask, or reach from 0 to threshold - 1);
- protecting 10 x 10, 30 x 20 and 60 x 40 tables (built from synthetic records with cel.crosstab): 60 x 40 under 10 s;
- auditing a 60 x 40 table with 100 hidden cells: under 5 s.

Usage: python benchmarks/bench_protect.py [--seeds 5] [--sizes 4 6 8]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

import cbs_export_lab as cel
from cbs_export_lab.audit import find_structure, suppress
from cbs_export_lab.checks.hidden import count_requirement, recoverable_findings
from cbs_export_lab.rules import default_rules

HERE = Path(__file__).resolve().parent
ACRO_PYTHON = HERE / ".venv-acro" / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
RULES = default_rules()
N = RULES.threshold
W = max(RULES.recoverable_min_width, N)


def random_counts(rng: np.random.Generator, R: int, C: int, small: float = 0.15) -> np.ndarray:
    inner = rng.integers(10, 80, size=(R, C))
    few = rng.random((R, C)) < small
    inner[few] = rng.integers(1, N, size=int(few.sum()))
    return inner


def bordered(inner: np.ndarray) -> np.ndarray:
    R, C = inner.shape
    full = np.zeros((R + 1, C + 1))
    full[:R, :C] = inner
    full[:R, C], full[R, :C], full[R, C] = inner.sum(1), inner.sum(0), inner.sum()
    return full


def labels(R: int, C: int) -> tuple[list[str], list[str]]:
    return [f"r{i}" for i in range(R)] + ["All"], [f"c{j}" for j in range(C)] + ["All"]


def exact_optimum(full: np.ndarray, primary: np.ndarray, time_limit: float = 120) -> tuple[int, str]:
    """The fewest hidden cells such that every primary cell's interval is >= W wide or reaches [0, N-1]."""
    rows, cols = labels(full.shape[0] - 1, full.shape[1] - 1)
    M = find_structure(full, rows, cols).matrix
    a = full.ravel()
    n, m = len(a), M.shape[0]
    prims = np.flatnonzero(primary.ravel())
    big = a.sum()
    # variables: s (n), then per primary: y_up (n), y_down (n), z (1)
    P = len(prims)
    nv = n + P * (2 * n + 1)
    blocks, lo_c, hi_c = [], [], []

    def add(row_matrix: sparse.spmatrix, lo: np.ndarray, hi: np.ndarray) -> None:
        blocks.append(sparse.csr_matrix(row_matrix))
        lo_c.append(lo)
        hi_c.append(hi)

    eye = sparse.identity(n, format="csr")
    for k, p in enumerate(prims):
        base = n + k * (2 * n + 1)
        for off in (0, n):
            sel = sparse.csr_matrix((np.ones(n), (np.arange(n), base + off + np.arange(n))), shape=(n, nv))
            add(M @ sel[:n], np.zeros(m), np.zeros(m))  # the attacker table adds up
            s_part = sparse.hstack([eye, sparse.csr_matrix((n, nv - n))])
            add(sel - big * s_part, np.full(n, -np.inf), np.zeros(n))  # y <= big * s
            add(sel + sparse.diags(a) @ s_part, np.zeros(n), np.full(n, np.inf))  # y >= -a * s
        z = base + 2 * n
        row = sparse.lil_matrix((3, nv))
        row[0, base + p], row[0, base + n + p], row[0, z] = 1, -1, W  # up - down >= W (1 - z)
        row[1, base + n + p], row[1, z] = 1, a[p]  # down <= -a_p z   (reaches 0)
        row[2, base + p], row[2, z] = 1, -(N - 1 - a[p])  # up >= (N - 1 - a_p) z
        add(row, np.array([W, -np.inf, 0]), np.array([np.inf, 0, np.inf]))
    A = sparse.vstack(blocks).tocsr()
    c = np.zeros(nv)
    c[:n] = 1
    integrality = np.zeros(nv)
    integrality[:n] = 1
    integrality[n + 2 * n + np.arange(P) * (2 * n + 1)] = 1
    lb, ub = np.full(nv, -np.inf), np.full(nv, np.inf)
    lb[:n], ub[:n] = primary.ravel().astype(float), 1
    zs = n + 2 * n + np.arange(P) * (2 * n + 1)
    lb[zs], ub[zs] = 0, 1
    res = milp(
        c,
        integrality=integrality,
        bounds=Bounds(lb, ub),
        constraints=LinearConstraint(A, np.concatenate(lo_c), np.concatenate(hi_c)),
        options={"time_limit": time_limit},
    )
    return int(round(res.x[:n].sum())), ("optimal" if res.status == 0 else "time limit")


def quality(sizes: list[int], seeds: int) -> None:
    print(f"hidden cells against the optimum (threshold {N}, width {W}); target <= 1.5x")
    print(
        f"{'table':>8} {'seed':>4} {'primary':>7} {'optimum':>7} {'ours':>5} {'ratio':>6} {'heuristic':>9} "
        f"{'ours s':>7} {'exact s':>7}"
    )
    worst = 0.0
    for size in sizes:
        for seed in range(seeds):
            rng = np.random.default_rng(1000 * size + seed)
            full = bordered(random_counts(rng, size, size))
            primary = (full > 0) & (full < N)
            rows, cols = labels(size, size)
            structure = find_structure(full, rows, cols)
            req = count_requirement(full.size, RULES)
            start = time.perf_counter()
            ours = suppress(structure, full, primary, req)
            ours_s = time.perf_counter() - start
            heur = suppress(structure, full, primary, req, method="heuristic")
            start = time.perf_counter()
            best, status = exact_optimum(full, primary)
            exact_s = time.perf_counter() - start
            for pattern in (ours, heur):
                t = pd.DataFrame(np.where(pattern.hidden, np.nan, full), index=rows, columns=cols)
                assert not recoverable_findings(t, RULES), "a pattern failed the audit"
            ratio = ours.hidden.sum() / best
            worst = max(worst, ratio)
            print(
                f"{size}x{size:<6} {seed:>4} {int(primary.sum()):>7} {best:>7} {int(ours.hidden.sum()):>5} "
                f"{ratio:>6.2f} {int(heur.hidden.sum()):>9} {ours_s:>7.2f} {exact_s:>7.2f}"
                + ("" if status == "optimal" else f"  ({status})")
            )
    print(f"worst ratio: {worst:.2f}")


def records(counts: np.ndarray) -> pd.DataFrame:
    R, C = counts.shape
    rows = [f"regio {i:02d}" for i in range(R)]
    cols = [f"klasse {j:02d}" for j in range(C)]
    return pd.DataFrame(
        {
            "regio": pd.Categorical(np.repeat(np.repeat(rows, C), counts.ravel()), categories=rows),
            "klasse": pd.Categorical(np.repeat(np.tile(cols, R), counts.ravel()), categories=cols),
        }
    )


def speed() -> None:
    print("\ncel.protect of a count table with margins (10% small cells); target 60 x 40 < 10 s")
    for R, C in ((10, 10), (30, 20), (60, 40)):
        rng = np.random.default_rng(R * C)
        df = records(random_counts(rng, R, C, small=0.10))
        t = cel.crosstab(df.regio, df.klasse, margins=True)
        start = time.perf_counter()
        safe = cel.protect(t)
        took = time.perf_counter() - start
        info = safe.attrs["cbs_export_lab.protected"]
        start = time.perf_counter()
        status = cel.check(safe).status
        check_s = time.perf_counter() - start
        print(
            f"{R}x{C}: {took:6.2f} s, {int(info['primary'].sum())} primary + "
            f"{int((info['hidden'] & ~info['primary']).sum())} secondary cells ({info['solver']}); "
            f"cel.check of the result: {status} in {check_s:.2f} s"
        )


def audit_speed() -> None:
    rng = np.random.default_rng(7)
    full = bordered(random_counts(rng, 60, 40, small=0.0))
    rows, cols = labels(60, 40)
    hidden = np.zeros(full.shape, dtype=bool)
    hidden.ravel()[rng.choice(60 * 41, 100, replace=False)] = True
    hidden[-1] = False
    t = pd.DataFrame(np.where(hidden, np.nan, full), index=rows, columns=cols)
    start = time.perf_counter()
    findings = recoverable_findings(t, RULES)
    took = time.perf_counter() - start
    print(
        f"\naudit of a 60 x 40 table with {int(hidden.sum())} hidden cells: {took:.2f} s "
        f"({len(findings)} recoverable); target < 5 s"
    )


def acro_side_by_side(sizes: list[tuple[int, int]], seeds: int) -> None:
    """ACRO's suppression (primary cells only) against the audit, and cel.protect on the same records."""
    if not ACRO_PYTHON.exists():
        print(
            "\nACRO: skipped (no benchmarks/.venv-acro; create it with: python -m venv benchmarks/.venv-acro && "
            "benchmarks/.venv-acro/bin/pip install acro==1.0.2)"
        )
        return
    print("\nACRO 1.0.2 suppress=True against the audit (its hidden cells that the margins give away)")
    for R, C in sizes:
        for seed in range(seeds):
            df = records(random_counts(np.random.default_rng(seed + 17 * R), R, C, small=0.12))
            with tempfile.TemporaryDirectory() as tmp:
                src, out = Path(tmp, "records.csv"), Path(tmp, "acro.csv")
                df.to_csv(src, index=False)
                subprocess.run(
                    [str(ACRO_PYTHON), str(HERE / "bench_protect_acro.py"), str(src), str(out)],
                    check=True,
                    capture_output=True,
                )
                theirs = pd.read_csv(out, index_col=0)
            hidden = int(theirs.isna().to_numpy().sum())
            recovered = len(recoverable_findings(theirs, RULES))
            true_total, shown_total = len(df), float(theirs.iloc[-1, -1])
            safe = cel.protect(cel.crosstab(df.regio, df.klasse, margins=True))
            ours = int(safe.isna().to_numpy().sum())
            ours_recovered = len(recoverable_findings(safe, RULES))
            print(
                f"{R}x{C} seed {seed}: ACRO hides {hidden}, of which the audit recovers {recovered} (its grand "
                f"total shows {shown_total:.0f} of {true_total}: margins of the shown cells only); "
                f"cel.protect hides {ours}, recovered {ours_recovered}, true margins kept"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="+", default=[4, 6, 8])
    parser.add_argument(
        "--only",
        choices=["quality", "speed", "audit", "acro"],
        nargs="+",
        default=["quality", "speed", "audit", "acro"],
    )
    args = parser.parse_args()
    if "quality" in args.only:
        quality(args.sizes, args.seeds)
    if "speed" in args.only:
        speed()
    if "audit" in args.only:
        audit_speed()
    if "acro" in args.only:
        acro_side_by_side([(6, 6), (10, 10)], 2)


if __name__ == "__main__":
    main()
