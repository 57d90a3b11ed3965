"""The demo notebook of `make lab`, run top to bottom in JupyterLab (from the built wheel) in Chromium.

Run > Run All Cells, as a newcomer would: no cell may end in an error, every check panel and the basket panel it
promises must render, it writes its zips to 2_Controle achteraf (the outputs and the syntax), and it uses only its
own basket: the user's default basket and another project's basket keep what they held before the run.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import zipfile
from pathlib import Path

import nbformat
import pandas as pd
import pytest

import cbs_export_lab as cel
from cbs_export_lab import demo
from cbs_export_lab.exportmap import ACHTERAF, CHECKSUMS_NAME

pytestmark = pytest.mark.browser
BINDER = Path(__file__).resolve().parents[2] / "binder"
WAIT_MS = 60_000
RUN_MS = 300_000  # an upper bound for the whole notebook on a busy machine, not a speed requirement

ALL_EXECUTED = """n => {
  const prompts = [...document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell .jp-InputPrompt')];
  const indicator = document.querySelector('.jp-NotebookPanel .jp-Notebook-ExecutionIndicator');
  return prompts.length === n && prompts.every(p => /\\[\\d+\\]/.test(p.textContent))
    && indicator !== null && indicator.dataset.status === 'idle';
}"""


def files_of(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_the_demo_notebook_runs_top_to_bottom_and_leaves_other_baskets_alone(page, lab, artifacts):
    root = lab["root"]
    shutil.copy(BINDER / "demo.ipynb", root)
    shutil.copy(BINDER / "cbs-export.toml", root)
    code_cells = sum(c.cell_type == "code" for c in nbformat.read(root / "demo.ipynb", as_version=4).cells)

    # Baskets the demo must leave alone: the user's default one and the basket of another project.
    persons = demo.persons(2_000, seed=3)
    table = pd.crosstab(persons["leeftijdsklasse"], persons["geslacht"])
    default = cel.Basket()
    default.add(table, "Eerder werk in de eigen mand")
    other_project = root / "ander-project"
    other_project.mkdir()
    (other_project / "cbs-export.toml").write_text('project = "1234"\nbasket = "mand"\n', encoding="utf-8")
    other = cel.Basket(cel.load_settings(other_project).basket_folder)
    other.add(table, "Werk van een ander project")
    before = {folder: files_of(folder) for folder in (default.folder, other.folder)}
    assert other.folder == other_project / "mand" and all(before.values())

    page.goto(f"{lab['url']}/lab/tree/demo.ipynb", wait_until="domcontentloaded")
    page.locator(".jp-NotebookPanel .jp-CodeCell").first.wait_for(timeout=WAIT_MS)
    # Run All before the kernel is up runs nothing: wait for the kernel's name and state in the status bar.
    page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"\| Idle$")).wait_for(timeout=WAIT_MS)
    page.locator(".lm-MenuBar-item", has_text="Run").first.click()
    page.locator(".lm-Menu-item:visible").filter(has=page.get_by_text("Run All Cells", exact=True)).click()
    page.wait_for_function(ALL_EXECUTED, arg=code_cells, timeout=RUN_MS, polling=500)

    # No cell ended in an error: read from the saved notebook, and nothing like a traceback on screen.
    page.keyboard.press("Control+s")
    page.locator(".lm-TabBar-tab.jp-mod-dirty").wait_for(state="detached", timeout=WAIT_MS)
    ran = nbformat.read(root / "demo.ipynb", as_version=4)
    errors = [
        (i, o.ename, o.evalue)
        for i, c in enumerate(ran.cells)
        for o in c.get("outputs", [])
        if o.output_type == "error"
    ]
    assert errors == []
    # Cells out of view are skipped by the browser's content-visibility: read textContent, not innerText.
    outputs = page.locator(".jp-NotebookPanel .jp-OutputArea-output").evaluate_all("els => els.map(e => e.textContent)")
    assert "Traceback" not in " ".join(outputs)

    # The panels it promises: a check panel for each %cbs_check, and the basket panel of %cbs_basket.
    magics = [c.source for c in ran.cells if c.cell_type == "code"]
    checks = sum(line.startswith("%cbs_check") for source in magics for line in source.splitlines())
    panels = page.locator(".jp-NotebookPanel .jp-OutputArea-output .widget-vbox:not(.widget-vbox .widget-vbox)")
    assert panels.count() == checks + 1 == 9
    texts = panels.evaluate_all("els => els.map(e => e.textContent)")
    verdicts = [re.match(r"\W*(PASS|REVIEW|FAIL) \u2014", t) for t in texts[:-1]]
    assert all(verdicts), [t[:60] for t in texts]
    # the demo's story: each failing output is followed by its fixed version, which passes
    assert [v[1] for v in verdicts] == ["FAIL", "PASS", "PASS", "FAIL", "FAIL", "PASS", "FAIL", "PASS"]
    assert texts[-1].startswith("Export basket (3 items)")
    basket_panel = panels.last
    basket_panel.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "demo-notebook-basket.png"))

    # The zips it writes: the outputs and the syntax, both in 2_Controle achteraf, named in its last cells.
    written = sorted((root / "demo-exportmap").rglob("*.zip"))
    assert [p.parent.name for p in written] == [ACHTERAF, ACHTERAF]
    assert [p.name.endswith("_syntax.zip") for p in written] == [False, True]
    printed = " ".join(outputs)
    for path in written:
        assert path.name in printed
        with zipfile.ZipFile(path) as zf:
            assert zf.testzip() is None and CHECKSUMS_NAME in zf.namelist()
    own = cel.Basket(root / "demo-basket")
    assert len(own.items) == 4 and all(i.exported for i in own.items)

    # The other baskets are untouched, file for file.
    assert {folder: files_of(folder) for folder in before} == before
    assert [i.title for i in cel.Basket().items] == ["Eerder werk in de eigen mand"]
    assert page.errors == []
