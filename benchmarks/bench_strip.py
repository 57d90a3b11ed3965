"""How fast `cbs-export strip` is against nbstripout on a large notebook full of image outputs.

Acceptance (issue 8): on a ~50 MB notebook of image outputs, stripping with cbs_export_lab is no slower than
nbstripout, although it also removes attachments, data URIs and metadata, validates its result, writes the
.py script and scans code and text. Both run in this process through their command-line entry points (the
notebook is copied afresh for nbstripout, which works in place) and as commands in a new process. Every
figure is the median of interleaved repeated runs; the ratio is ours / nbstripout.

nbstripout is needed for this script only:  .venv/bin/pip install nbstripout
Usage: python benchmarks/bench_strip.py [--mb 50] [--repeat 5]
"""
from __future__ import annotations

import argparse
import base64
import io
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
from cbs_export_lab.demo import large_persons

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
    """Code cells, each with a plot, a stream and a text result; a few distinct images, reused until the size is reached."""
    images = [figure_png(seed) for seed in range(12)]
    cells, size, i = [], 0, 0
    while size < megabytes * 1_000_000:
        code = v4.new_code_cell(f"fig, ax = plt.subplots()\nax.scatter(persons.leeftijd, persons.inkomen)  # plot {i}",
                                execution_count=i + 1)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    try:
        from nbstripout._nbstripout import main as nbstripout_main
    except ImportError:
        sys.exit("nbstripout is not installed; install it for this benchmark only: .venv/bin/pip install nbstripout")

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
            with mock.patch.multiple(sys, argv=["nbstripout", str(work)], stdin=io.TextIOWrapper(io.BytesIO()),
                                     stdout=io.TextIOWrapper(io.BytesIO())):
                nbstripout_main()

        def ours_command() -> None:
            subprocess.run([str(BIN / "cbs-export"), "strip", str(src), "-o", str(out)], check=True, capture_output=True)

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
        print(f"notebook: {src.stat().st_size / 1e6:.1f} MB, {len(stripped.cells)} cells; "
              f"medians of {args.repeat} interleaved runs")
        print(f"{'':14} {'cbs-export s':>13} {'nbstripout s':>13} {'ours/theirs':>12}")
        for name, (mine, other) in times.items():
            a, b = statistics.median(mine), statistics.median(other)
            print(f"{name:14} {a:13.3f} {b:13.3f} {a / b:12.2f}")


if __name__ == "__main__":
    main()
