"""Kill `prepare_export` and `Basket.add` at random moments (SIGKILL) and count what the next export gets wrong.

Each run copies a small basket (an output for 2_Controle achteraf, an explained one for 1_Controle vooraf) and an
exportmap, starts a child process that runs the export (or adds a table), kills it after a random delay within the
time the operation takes, then opens the basket and exports again in this process, as the researcher would.
Reported: kills that landed, double exports (an item in two zips), items never exported, zips under a final name
that do not open, zips in the exportmap the basket does not know, and leftovers after that next export (`.partial`
zips, temp files, the journal, orphan item folders). All but the kills should be 0.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_kills.py [--kills 50] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
from collections import Counter
from pathlib import Path

TITLES = ("Leeftijd en geslacht", "Gemeente en geslacht")
EXPLAINED = "The small cells are structural: the island municipalities are shown merged in the publication."
CHILD = r"""
import sys, time, warnings
warnings.simplefilter("ignore")
import pandas as pd
from cbs_export_lab import Basket, demo
from cbs_export_lab.exportmap import prepare_export
what, basket, exportmap = sys.argv[1:4]
table = pd.crosstab(*[demo.persons(3000, seed=2)[c] for c in ("geslacht", "leeftijdsklasse")])
print("ready", flush=True)
start = time.perf_counter()
if what == "prepare":
    prepare_export(Basket(basket), exportmap)
else:
    Basket(basket).add(table, "Nieuw")
print(f"done {time.perf_counter() - start:.4f}", flush=True)
"""


def make_template(root: Path) -> Path:
    import pandas as pd

    from cbs_export_lab import Basket, demo

    persons = demo.persons(5_000, seed=1)
    basket = Basket(root / "basket")
    basket.add(pd.crosstab(persons["leeftijdsklasse"], persons["geslacht"]), TITLES[0], data=persons)
    basket.add(pd.crosstab(persons["gemeente"], persons["geslacht"]), TITLES[1], explanation=EXPLAINED)
    demo.make_exportmap(root / "exportmap", "achteraf")
    return root


def start_child(what: str, run: Path) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, what, str(run / "basket"), str(run / "exportmap")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    if line.strip() != "ready":
        raise RuntimeError(f"child did not start: {line!r} {child.stderr.read() if child.stderr else ''}")
    return child


def calibrate(what: str, template: Path, work: Path, runs: int = 3) -> float:
    times = []
    for n in range(runs):
        run = work / f"calibrate-{what}-{n}"
        shutil.copytree(template, run)
        child = start_child(what, run)
        out, err = child.communicate(timeout=300)
        if child.returncode != 0:
            raise RuntimeError(f"{what} failed without a kill: {err}")
        times.append(float(out.split()[-1]))
    return statistics.median(times)


def zip_titles(path: Path) -> set[str]:
    from cbs_export_lab.exportmap import safe_name

    by_safe = {safe_name(t): t for t in (*TITLES, "Nieuw")}
    with zipfile.ZipFile(path) as zf:
        if zf.testzip() is not None:
            raise zipfile.BadZipFile(path.name)
        folders = {name.split("/")[0].split("_", 1)[1] for name in zf.namelist() if "/" in name}
    return {by_safe.get(f, f) for f in folders}


def audit(run: Path) -> Counter[str]:
    """Open the basket, export again, and count what is wrong."""
    from cbs_export_lab import Basket
    from cbs_export_lab.exportmap import prepare_export

    basket_folder, exportmap = run / "basket", run / "exportmap"
    found: Counter[str] = Counter()
    basket = Basket(basket_folder)
    if not all((basket_folder / f).is_file() for i in basket.items for f in i.files):
        found["items with missing files"] += 1
    prepare_export(basket, exportmap)
    items = Basket(basket_folder).items
    sent: Counter[str] = Counter()
    zips = sorted(exportmap.rglob("*.zip"))
    for z in zips:
        try:
            sent.update(zip_titles(z))
        except zipfile.BadZipFile:
            found["partial zips under a final name"] += 1
    found["double exports"] += sum(n - 1 for n in sent.values())
    found["items never exported"] += sum(1 for i in items if not sent[i.title])
    recorded = {(e["folder"], e["zip"]) for i in items for e in i.exported}
    found["zips the basket does not know"] += sum(1 for z in zips if (z.parent.name, z.name) not in recorded)
    known = {i.id for i in items}
    leftovers = [
        *exportmap.rglob("*.partial"),
        *basket_folder.rglob("*.tmp"),
        *(p for p in (basket_folder / "items").iterdir() if p.name not in known),
    ]
    leftovers += [p for p in (basket_folder / ".export-journal.json",) if p.exists()]
    found["leftovers after the next export"] += len(leftovers)
    return found


def kill_runs(what: str, template: Path, work: Path, kills: int, window: float, rng: random.Random) -> Counter[str]:
    totals: Counter[str] = Counter()
    attempt = 0
    while totals["kills"] < kills and attempt < 4 * kills:
        attempt += 1
        run = work / f"{what}-{attempt}"
        shutil.copytree(template, run)
        child = start_child(what, run)
        # Half the kills anywhere, half in the last part, where the zips are renamed and the basket is marked.
        time.sleep(rng.uniform(0, window) if attempt % 2 else rng.uniform(0.6 * window, window))
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
        out, err = child.communicate(timeout=300)
        if child.returncode == -signal.SIGKILL:
            totals["kills"] += 1
        elif child.returncode == 0:
            totals["finished before the kill"] += 1
        else:
            raise RuntimeError(f"{what} failed on its own: {err}")
        totals.update(audit(run))
        shutil.rmtree(run, ignore_errors=True)
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=50, help="kills of each operation (default 50)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CBS_EXPORT_HOME"] = str(Path(tmp) / "home")
        work = Path(tmp)
        template = make_template(work / "template")
        for what in ("prepare", "add"):
            took = calibrate(what, template, work)
            totals = kill_runs(what, template, work, args.kills, 1.1 * took, rng)
            print(
                f"{what}: {totals['kills']} kills within {1.1 * took * 1000:.0f} ms "
                f"({totals['finished before the kill']} runs finished first)"
            )
            for key in (
                "double exports",
                "partial zips under a final name",
                "zips the basket does not know",
                "items never exported",
                "items with missing files",
                "leftovers after the next export",
            ):
                print(f"  {key}: {totals[key]}")


if __name__ == "__main__":
    main()
