"""How fast `cbs-export strip` is: against nbstripout on a large notebook, and scanning many scripts.

Scripts (issue 19): scanning 1,000 synthetic scripts of 500 lines each (R, Stata, SPSS, Python and SAS mixed, a
few with an injected id, pasted table, count in words or personal path) stays under 10 s. Reported: the scan of the
texts in memory, and `check_script` from files (read, scan, mask, scan the masked copy again).

Acceptance (issue 8): on a ~50 MB notebook of image outputs, stripping with cbs_export_lab is no slower than
nbstripout, although it also removes attachments, data URIs and metadata, validates its result, writes the
.py script and scans code and text. Both run in this process through their command-line entry points (the
notebook is copied afresh for nbstripout, which works in place) and as commands in a new process. Every
figure is the median of interleaved repeated runs; the ratio is ours / nbstripout.

nbstripout is needed for the notebook part only:  .venv/bin/pip install nbstripout
Usage: python benchmarks/bench_strip.py [notebook|scripts|all] [--mb 50] [--repeat 5] [--scripts 1000] [--lines 500]
"""

from __future__ import annotations

import argparse
import base64
import io
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path
from unittest import mock

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import nbformat
from nbformat import v4

from cbs_export_lab import cli
from cbs_export_lab.checks.text import scan_script
from cbs_export_lab.demo import large_persons
from cbs_export_lab.rules import load_rules
from cbs_export_lab.strip import check_script

BIN = Path(sys.executable).parent


def figure_png(seed: int) -> str:
    people = large_persons(20_000, seed=seed)
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    ax.scatter(people["gewicht"], people["inkomen"], s=2, alpha=0.5)
    ax.set_title(f"synthetic persons, seed {seed}")
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def make_notebook(path: Path, megabytes: float) -> None:
    """Code cells, each with a plot, a stream and a text result; a few distinct images, reused up to the size."""
    images = [figure_png(seed) for seed in range(12)]
    cells, size, i = [], 0, 0
    while size < megabytes * 1_000_000:
        code = v4.new_code_cell(
            f"fig, ax = plt.subplots()\nax.scatter(persons.leeftijd, persons.inkomen)  # plot {i}",
            execution_count=i + 1,
        )
        code.outputs = [
            v4.new_output("stream", name="stdout", text=f"plot {i}\n"),
            v4.new_output("display_data", data={"image/png": images[i % len(images)], "text/plain": "<Figure>"}),
            v4.new_output("execute_result", data={"text/plain": f"<Axes {i}>"}, execution_count=i + 1),
        ]
        cells += [v4.new_markdown_cell(f"## Plot {i}"), code]
        size += len(images[i % len(images)]) + 300
        i += 1
    nb = v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
    nbformat.write(nb, path)


def bench_notebook(args: argparse.Namespace) -> None:
    try:
        from nbstripout._nbstripout import main as nbstripout_main
    except ImportError:
        print("notebook part skipped: nbstripout is not installed (.venv/bin/pip install nbstripout)")
        return

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        src = folder / "big.ipynb"
        make_notebook(src, args.mb)
        work = folder / "work.ipynb"
        out = folder / "out"

        def ours() -> None:
            with redirect_stdout(io.StringIO()):
                cli.main(["strip", str(src), "-o", str(out)])

        def theirs() -> None:
            # nbstripout wraps (and so closes) the process's stdin and stdout: give it throwaway ones
            with mock.patch.multiple(
                sys,
                argv=["nbstripout", str(work)],
                stdin=io.TextIOWrapper(io.BytesIO()),
                stdout=io.TextIOWrapper(io.BytesIO()),
            ):
                nbstripout_main()

        def ours_command() -> None:
            subprocess.run(
                [str(BIN / "cbs-export"), "strip", str(src), "-o", str(out)], check=True, capture_output=True
            )

        def theirs_command() -> None:
            subprocess.run([str(BIN / "nbstripout"), str(work)], check=True, capture_output=True)

        rows = {"in process": (ours, theirs), "as a command": (ours_command, theirs_command)}
        times: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in rows}
        for warm_up in (ours, theirs):  # first-call imports and validator compilation are not what we compare
            shutil.copyfile(src, work)
            warm_up()
        for round_ in range(args.repeat):
            for name, (mine, other) in rows.items():
                order = [(0, mine), (1, other)] if round_ % 2 == 0 else [(1, other), (0, mine)]
                for slot, run in order:
                    shutil.copyfile(src, work)
                    start = time.perf_counter()
                    run()
                    times[name][slot].append(time.perf_counter() - start)

        stripped = nbformat.read(out / "big.stripped.ipynb", as_version=4)
        assert all(not c.get("outputs") for c in stripped.cells)
        print(
            f"notebook: {src.stat().st_size / 1e6:.1f} MB, {len(stripped.cells)} cells; "
            f"medians of {args.repeat} interleaved runs"
        )
        print(f"{'':14} {'cbs-export s':>13} {'nbstripout s':>13} {'ours/theirs':>12}")
        for name, (mine, other) in times.items():
            a, b = statistics.median(mine), statistics.median(other)
            print(f"{name:14} {a:13.3f} {b:13.3f} {a / b:12.2f}")


SCRIPT_LINES = {
    "R": [
        'x{i} <- read.csv("G:/Bevolking/GBAPERSOONTAB/2020/bestand{i}.csv")',
        "set.seed({i})",
        "# stap {i}: selecteer de jaren 2015-2030",
        "t{i} <- table(x{i}$gemeente, x{i}$klasse)",
        "m{i} <- lm(inkomen ~ leeftijd + geslacht, data = x{i})",
        "for (j in seq_len(10)) print(j * {i})",
        "x{i}$k <- cut(x{i}$leeftijd, breaks = c(0, 15, 25, 45, 65, 120))",
        'sprintf("%.2f", mean(x{i}$inkomen))',
    ],
    "do": [
        'use "G:\\Bevolking\\GBAPERSOONTAB\\2020\\bestand{i}.dta", clear',
        "set seed {i}",
        "* stap {i}: selecteer de jaren",
        "keep if inrange(jaar, 2010, 2020)",
        "// tabel per gemeente",
        "recode leeftijd (0/14=1) (15/64=2) (65/120=3), gen(k{i})",
        "forvalues j = 1/10 {{",
        "}}",
        "format inkomen %12.0fc",
        "/* versie {i}.1 */",
        "tabulate gemeente k{i}",
    ],
    "sps": [
        "GET FILE='G:\\Bevolking\\GBAPERSOONTAB\\2020\\bestand{i}.sav'.",
        "* stap {i}.",
        "RECODE leeftijd (0 thru 14=1) (15 thru 64=2) (65 thru HI=3) INTO k{i}.",
        "FORMATS inkomen (F12.2).",
        "COMMENT cellen onder 10 personen worden onderdrukt.",
        "FREQUENCIES VARIABLES=k{i}.",
        "EXECUTE.",
    ],
    "py": [
        'x{i} = pd.read_parquet(r"G:\\Bevolking\\GBAPERSOONTAB\\2020\\bestand{i}.parquet")',
        "rng = np.random.default_rng({i})",
        "# stap {i}: selecteer de jaren",
        "for j in range(10):",
        '    print(f"{{j:>3d}} {{j / 10:.2f}}")',
        "bins = [0, 15, 25, 45, 65, 120]",
        "t{i} = cel.crosstab(x{i}['gemeente'], x{i}['klasse'], unit=x{i}['RINPERSOON'])",
    ],
    "sas": [
        'libname b{i} "G:\\Bevolking\\GBAPERSOONTAB\\2020";',
        "* stap {i};",
        "data w{i}; set b{i}.personen; where 2015 <= jaar <= 2030; run;",
        "/* versie 9.{i} */",
        "proc freq data=w{i}; tables gemeente*klasse; run;",
        "%let jaar = 2020;",
    ],
}
INJECTIONS = {
    "R": [
        'x <- x[x$RINPERSOON == "012345678", ]',
        "# man     92\n# vrouw   108\n# totaal  200",
        "# 3 mannen en 2 vrouwen",
        'setwd("H:/Werkmap Jansen")',
    ],
    "do": [
        'list if rinpersoon == "012345678"',
        "* man     92\n* vrouw   108\n* totaal  200",
        "* waarvan 4 personen",
        'cd "H:\\Werkmap Jansen"',
    ],
    "sps": [
        "SELECT IF (RINPERSOON = '012345678').",
        "* Frequenties\n  man     92\n  vrouw   108.",
        "COMMENT waarvan 4 personen.",
        "GET FILE='C:\\Users\\jansen\\a.sav'.",
    ],
    "py": [
        'x = x[x.RINPERSOON == "012345678"]',
        '"""\nman     92\nvrouw   108\ntotaal  200\n"""',
        "# 3 mannen en 2 vrouwen",
        'p = Path(r"C:\\Users\\jansen")',
    ],
    "sas": [
        "where rinpersoon = '012345678';",
        "* man     92\n  vrouw   108\n  totaal  200;",
        "/* waarvan 4 personen */",
        'libname e "/home/jansen";',
    ],
}


def make_scripts(count: int, lines: int, seed: int = 19) -> list[tuple[str, str]]:
    """(name, text) of `count` scripts of `lines` lines, the languages in turn; one in ten has one injection."""
    rng = random.Random(seed)
    suffixes = list(SCRIPT_LINES)
    scripts = []
    for n in range(count):
        suffix = suffixes[n % len(suffixes)]
        body = [rng.choice(SCRIPT_LINES[suffix]).format(i=rng.randrange(1, 500)) for _ in range(lines)]
        if n % 10 == 0:
            body[rng.randrange(lines)] = rng.choice(INJECTIONS[suffix])
        scripts.append((f"script{n:04d}.{suffix}", "\n".join(body[:lines])))
    return scripts


def bench_scripts(args: argparse.Namespace) -> None:
    scripts = make_scripts(args.scripts, args.lines)
    rules = load_rules()
    scan_script(scripts[0][1], scripts[0][0], rules=rules)  # first-call regex compilation is not what we measure
    start, cpu = time.perf_counter(), time.process_time()
    found = sum(len(scan_script(text, name, rules=rules)) for name, text in scripts)
    in_memory, in_memory_cpu = time.perf_counter() - start, time.process_time() - cpu
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for name, text in scripts:
            path = Path(tmp) / name
            path.write_text(text, encoding="utf-8")
            paths.append(path)
        start, cpu = time.perf_counter(), time.process_time()
        masked = sum(len(check_script(path, rules=rules).masked) for path in paths)
        from_files, from_files_cpu = time.perf_counter() - start, time.process_time() - cpu
    lines = sum(text.count("\n") + 1 for _, text in scripts)
    print(
        f"scripts: {len(scripts)} of {args.lines} lines ({lines:,} lines, R/Stata/SPSS/Python/SAS), "
        f"{found} findings, {masked} masked"
    )
    print(
        f"scan in memory          {in_memory:7.2f} s wall, {in_memory_cpu:6.2f} s CPU  "
        f"({lines / in_memory:,.0f} lines/s; target < 10 s)"
    )
    print(
        f"check_script from files {from_files:7.2f} s wall, {from_files_cpu:6.2f} s CPU  "
        "(read, scan, mask, scan the copy again)"
    )
    print("(wall and CPU differ when other processes share the cores)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", nargs="?", choices=("notebook", "scripts", "all"), default="all")
    parser.add_argument("--mb", type=float, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--scripts", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=500)
    args = parser.parse_args()
    if args.what in ("scripts", "all"):
        bench_scripts(args)
    if args.what in ("notebook", "all"):
        bench_notebook(args)


if __name__ == "__main__":
    main()
