"""The sidebar in a real browser, on JupyterLab installed from the built wheel.

A researcher sets the exportmap in the panel, the kernel puts outputs in the basket, the panel shows them without
a reload, the researcher explains what needs explaining and clicks "Prepare export"; the zips are then read back
from the exportmap. A screenshot of the panel is kept for every state (test-artifacts/).
"""

from __future__ import annotations

import re
import zipfile

import nbformat
import pandas as pd
import pytest

import cbs_export_lab as cel
from cbs_export_lab import demo
from cbs_export_lab.exportmap import CHECKSUMS_NAME, FORM_NAME

pytestmark = pytest.mark.browser
SIDEBAR = "#cbs-export-lab-sidebar"
WAIT_MS = 60_000


def open_sidebar(page, url: str):
    page.goto(f"{url}/lab", wait_until="domcontentloaded")
    page.wait_for_selector("#jp-main-dock-panel", timeout=WAIT_MS)
    page.locator('.lm-TabBar-tab[data-id="cbs-export-lab-sidebar"]').click()
    panel = page.locator(SIDEBAR)
    panel.wait_for(state="visible", timeout=WAIT_MS)
    return panel


def shot(panel, artifacts, name: str) -> None:
    panel.screenshot(path=str(artifacts / f"sidebar-{name}.png"))


def test_the_wheel_enables_both_extensions(wheel_jupyter):
    labext = wheel_jupyter("labextension", "list")
    assert re.search(r"cbs-export-lab v\S+ enabled\s+OK \(python, cbs_export_lab\)", labext), labext
    server = wheel_jupyter("server", "extension", "list")
    assert re.search(r"cbs_export_lab enabled", server), server
    assert re.search(r"cbs_export_lab \S+ OK", server), server


def test_kernel_items_show_up_and_prepare_export_writes_the_zips(page, lab, artifacts, tmp_path):
    exportmap = demo.make_exportmap(tmp_path / "exportmap", "achteraf")
    panel = open_sidebar(page, lab["url"])
    panel.locator(".jp-CbsExport-problem").first.wait_for(timeout=WAIT_MS)
    assert "No exportmap is set" in panel.inner_text()
    panel.locator(".jp-CbsExport-basket .jp-CbsExport-empty").wait_for(timeout=WAIT_MS)  # drawn after the settings
    assert "The basket is empty" in panel.inner_text()
    shot(panel, artifacts, "1-no-exportmap")

    panel.locator("input[name=project]").fill("9876")
    panel.locator("input[name=researcher]").fill("A. Onderzoeker")
    panel.locator("input[name=exportmap]").fill(str(exportmap))
    panel.get_by_role("button", name="Save settings").click()
    panel.get_by_text("Mode: achteraf (detected from the exportmap)").wait_for(timeout=WAIT_MS)
    assert cel.load_settings().exportmap == exportmap
    shot(panel, artifacts, "2-settings")

    persons = demo.persons(5_000, seed=4)
    basket = cel.Basket()
    basket.add(pd.crosstab(persons["leeftijdsklasse"], persons["geslacht"]), "Persons by age band and sex")
    few = persons[persons["gemeente"] == persons["gemeente"].value_counts().index[-1]].head(12)
    basket.add(pd.crosstab(few["leeftijdsklasse"], few["geslacht"]), "Small municipality by age band")
    notes = tmp_path / "method.txt"
    notes.write_text("Incomes are deflated to 2020 prices.\n", encoding="utf-8")
    basket.add(str(notes), "Method notes")  # a file we cannot check: review, so it needs an explanation
    items = panel.locator(".jp-CbsExport-item")
    items.nth(2).wait_for(timeout=WAIT_MS)  # the panel polls the basket: no reload, no click
    assert items.count() == 3
    for item, shown in zip(basket.items, items.all(), strict=True):
        assert item.title in shown.inner_text()
        assert f"jp-mod-{item.status}" in shown.get_attribute("class")
        assert shown.locator(".jp-CbsExport-status svg").count() == 1
    shot(panel, artifacts, "3-basket")

    needing = [i for i in basket.items if i.needs_explanation]
    for item in needing:
        row = panel.locator(f'[data-item-id="{item.id}"]')
        if item.findings:
            row.locator("summary").click()
            assert item.findings[0].message in row.inner_text()
        row.locator("textarea").fill("The cells are pooled over five years; see the background file.")
        row.get_by_role("button", name="Save explanation").click()
        panel.locator(f'[data-item-id="{item.id}"]').get_by_text("Explanation saved").wait_for(timeout=WAIT_MS)
    assert needing and all(basket.get(i.id).has_explanation for i in needing)
    shot(panel, artifacts, "4-explained")

    plan = cel.plan_export(basket, exportmap, project="9876")
    sentences = panel.locator(".jp-CbsExport-sentences li")
    page.wait_for_function(
        "n => document.querySelectorAll('.jp-CbsExport-sentences li').length === n",
        arg=len(plan.describe()),
        timeout=WAIT_MS,
    )
    shown = sentences.all_inner_texts()
    for z in plan.zips:
        assert any(z.folder in line for line in shown), (z.folder, shown)
    assert "{" not in panel.inner_text(), "raw JSON shown to the user"

    panel.get_by_role("button", name="Prepare export").click()
    panel.locator(".jp-CbsExport-written li").first.wait_for(timeout=WAIT_MS)
    shot(panel, artifacts, "5-prepared")

    written = sorted(exportmap.rglob("*.zip"))
    assert len(written) == len(plan.zips) > 0
    listed = panel.locator(".jp-CbsExport-written").inner_text()
    for path in written:
        assert path.name in listed and path.parent.name in listed
        with zipfile.ZipFile(path) as zf:
            assert zf.testzip() is None
            names = zf.namelist()
        assert CHECKSUMS_NAME in names and any(n.endswith(FORM_NAME) for n in names)
    assert all(item.exported for item in basket.items)
    panel.get_by_text("Nothing to export").wait_for(timeout=WAIT_MS)
    assert page.errors == []


def test_strip_command_from_the_file_browser_shows_the_scan_report(page, lab, artifacts):
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("import pandas as pd\ndf = pd.read_parquet('persons.parquet')\ndf.describe()"),
            nbformat.v4.new_code_cell("odd = df[df.RINPERSOON.isin(['000123456', '000654321'])]"),
        ]
    )
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", text="RINPERSOON 000123456 has 3 rows\n")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(nb, lab["root"] / "analysis.ipynb")
    open_sidebar(page, lab["url"])
    if not page.locator("#filebrowser").is_visible():
        page.locator('.lm-TabBar-tab[data-id="filebrowser"]').click()
    entry = page.locator('.jp-DirListing-item[data-file-type="notebook"]', has_text="analysis.ipynb")
    entry.click(button="right", timeout=WAIT_MS)
    page.locator(".lm-Menu-item", has_text="Scan and add as syntax").click()
    dialog = page.locator(".jp-Dialog-content")
    dialog.wait_for(timeout=WAIT_MS)
    page.screenshot(path=str(artifacts / "strip-dialog.png"))
    item = cel.Basket().items[0]
    assert item.kind == "syntax" and item.title == "analysis" and item.findings and item.never_exportable
    text = dialog.inner_text()
    assert "analysis.ipynb" in text and "never be exported" in text
    assert "000123456" not in text and "000654321" not in text
    for finding in item.findings:
        assert finding.message in text
    dialog.get_by_role("button", name="OK").click()
    dialog.wait_for(state="detached", timeout=WAIT_MS)

    entry.dblclick()
    toolbar_button = page.locator('.jp-NotebookPanel-toolbar [data-jp-item-name="cbsExportStrip"]')
    toolbar_button.wait_for(timeout=WAIT_MS)
    page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(timeout=WAIT_MS)
    page.screenshot(path=str(artifacts / "strip-notebook-toolbar.png"))
    toolbar_button.locator("button").click()
    dialog.wait_for(timeout=WAIT_MS)
    assert [i.kind for i in cel.Basket().items] == ["syntax", "syntax"]
    dialog.get_by_role("button", name="OK").click()
    dialog.wait_for(state="detached", timeout=WAIT_MS)

    # Unsaved changes: the file browser's scan saves the open notebook first and says so.
    editor = page.locator(".jp-NotebookPanel .jp-Cell .cm-content").first
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\n# checked by hand: 000777888")
    page.locator(".lm-TabBar-tab.jp-mod-dirty").first.wait_for(timeout=WAIT_MS)
    entry.click(button="right", timeout=WAIT_MS)
    page.locator(".lm-Menu-item", has_text="Scan and add as syntax").click()
    dialog.wait_for(timeout=WAIT_MS)
    page.screenshot(path=str(artifacts / "strip-unsaved-notebook.png"))
    assert "saved first" in dialog.inner_text()
    assert "000777888" in (lab["root"] / "analysis.ipynb").read_text(encoding="utf-8")
    dialog.get_by_role("button", name="OK").click()
    dialog.wait_for(state="detached", timeout=WAIT_MS)
    assert page.errors == []


def test_scripts_are_scanned_and_added_from_the_file_browser(page, lab, artifacts):
    (lab["root"] / "analysis.R").write_text(
        "# one person\nodd <- subset(persons, RINPERSOON == '000123456')\n", encoding="utf-8"
    )
    (lab["root"] / "notes.txt").write_text("nothing to scan here\n", encoding="utf-8")
    open_sidebar(page, lab["url"])
    if not page.locator("#filebrowser").is_visible():
        page.locator('.lm-TabBar-tab[data-id="filebrowser"]').click()
    other = page.locator(".jp-DirListing-item", has_text="notes.txt")
    other.click(button="right", timeout=WAIT_MS)
    page.locator(".lm-Menu").first.wait_for(timeout=WAIT_MS)
    assert not page.locator(".lm-Menu-item", has_text="Scan and add as syntax").is_visible()  # hidden, not absent
    page.keyboard.press("Escape")
    page.locator(".jp-DirListing-item", has_text="analysis.R").click(button="right", timeout=WAIT_MS)
    page.locator(".lm-Menu-item", has_text="Scan and add as syntax").click()
    dialog = page.locator(".jp-Dialog-content")
    dialog.wait_for(timeout=WAIT_MS)
    page.screenshot(path=str(artifacts / "strip-script-dialog.png"))
    item = cel.Basket().items[0]
    assert item.title == "analysis.R" and item.never_exportable
    text = dialog.inner_text()
    assert "analysis.R" in text and "never be exported" in text and "000123456" not in text
    dialog.get_by_role("button", name="OK").click()
    page.locator(f'{SIDEBAR} [data-item-id="{item.id}"]').wait_for(timeout=WAIT_MS)
    assert page.errors == []


LAYOUT_PROBLEMS = """panel => {
  const box = panel.getBoundingClientRect();
  const problems = [];
  if (panel.scrollWidth > panel.clientWidth + 1) {
    problems.push(`horizontal scroll: ${panel.scrollWidth} > ${panel.clientWidth}`);
  }
  for (const el of panel.querySelectorAll('input, select, textarea, button')) {
    const r = el.getBoundingClientRect();
    if (el.offsetParent !== null && r.width > 0 && (r.right > box.right + 1 || r.left < box.left - 1)) {
      problems.push(`cut off: ${el.getAttribute('name') || el.getAttribute('aria-label') || el.textContent}`);
    }
  }
  for (const el of panel.querySelectorAll('.jp-CbsExport-itemTitle, .jp-CbsExport-sectionTitle, label > span')) {
    const text = el.firstChild;
    if (!text || text.nodeType !== Node.TEXT_NODE) continue;
    for (const m of text.data.matchAll(/\\S+/g)) {
      const range = document.createRange();
      range.setStart(text, m.index);
      range.setEnd(text, m.index + m[0].length);
      const lines = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
      if (lines.size > 1) problems.push(`word broken: ${m[0]}`);
    }
  }
  return problems;
}"""


KIND_ICONS = """panel => {
  const background = getComputedStyle(panel).backgroundColor;
  return [...panel.querySelectorAll('.jp-CbsExport-items > .jp-CbsExport-item')].map(item => {
    const svg = item.querySelector('.jp-CbsExport-kind svg');
    const shapes = svg ? [...svg.querySelectorAll('path, circle, rect, polygon')] : [];
    const painted = shapes.filter(shape => {
      const fill = getComputedStyle(shape).fill;
      const box = shape.getBoundingClientRect();
      return fill !== 'none' && fill !== background && box.width > 0 && box.height > 0;
    });
    return { id: item.dataset.itemId, painted: painted.length, width: svg ? svg.getBoundingClientRect().width : 0 };
  });
}"""


def resize_sidebar(page, panel, width: int) -> None:
    """Drag the handle between the main area and the right side bar until the panel is `width` pixels wide."""
    box = panel.bounding_box()
    handles = [h.bounding_box() for h in page.locator("#jp-main-split-panel > .lm-SplitPanel-handle").all()]
    handle = min((h for h in handles if h and h["height"] > 0), key=lambda h: abs(h["x"] - box["x"]))
    x, y = handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - (width - box["width"]), y, steps=8)
    page.mouse.up()
    page.wait_for_timeout(300)
    assert abs(panel.bounding_box()["width"] - width) < 30, ("the side bar could not be resized", panel.bounding_box())


def test_the_sidebar_fits_at_the_default_width_and_at_400px(page, lab, artifacts, tmp_path):
    exportmap = demo.make_exportmap(tmp_path / "exportmap", "achteraf")
    cel.settings.save_user_settings(exportmap=str(exportmap), project="9876")
    persons = demo.persons(5_000, seed=4)
    basket = cel.Basket()
    basket.add(
        pd.crosstab(persons["leeftijdsklasse"], persons["geslacht"]),
        "Personen naar leeftijdsklasse en geslacht in de gemeenten van Nederland, 2023",
    )
    few = persons[persons["gemeente"] == persons["gemeente"].value_counts().index[-1]].head(12)
    basket.add(pd.crosstab(few["leeftijdsklasse"], few["geslacht"]), "Arbeidsongeschiktheid per regio")
    panel = open_sidebar(page, lab["url"])
    panel.locator(".jp-CbsExport-item").nth(1).wait_for(timeout=WAIT_MS)
    panel.locator(".jp-CbsExport-settingsDetails > summary").click()  # the settings inputs in view too
    for width in (None, 400):
        if width is not None:
            resize_sidebar(page, panel, width)
        shot(panel, artifacts, f"width-{width or 'default'}")
        problems = panel.evaluate(LAYOUT_PROBLEMS)
        assert problems == [], (width or "default width", problems)
    assert page.errors == []


def test_meter_and_plan_agree_on_a_mixed_basket_and_exported_items_are_collapsed(page, lab, artifacts, tmp_path):
    """Passing tables, a model, a held-back table, a held-back file and an exported table: meter and plan agree."""
    import statsmodels.formula.api as smf

    exportmap = demo.make_exportmap(tmp_path / "exportmap", "vooraf")
    cel.settings.save_user_settings(exportmap=str(exportmap), project="9876")
    persons = demo.persons(5_000, seed=4)
    basket = cel.Basket()
    old = basket.add(cel.crosstab(persons["gemeente"], persons["geslacht"]), "Personen per gemeente (eerder)")
    cel.prepare_export(basket, exportmap)
    basket.add(cel.crosstab(persons["leeftijdsklasse"], persons["geslacht"]), "Personen naar leeftijdsklasse 18+")
    basket.add(smf.ols("inkomen ~ leeftijd", data=persons).fit(), "Regressie inkomen op leeftijd", data=persons)
    basket.add(pd.crosstab(persons["gemeente"], persons["geslacht"]), "Zonder bron (wordt tegengehouden)")
    script = lab["root"] / "analyse.R"
    script.write_text("x <- read.csv('data.csv')\nsummary(x)\n", encoding="utf-8")
    basket.add(str(script), "analyse.R")
    plan = cel.plan_export(basket, exportmap)
    light_zip = next(z for z in plan.zips if z.label == "")
    panel = open_sidebar(page, lab["url"])
    panel.locator(".jp-CbsExport-meterText").wait_for(timeout=WAIT_MS)
    panel.locator(".jp-CbsExport-plan li").first.wait_for(timeout=WAIT_MS)
    meter = panel.locator(".jp-CbsExport-meterText").inner_text()
    plan_text = panel.locator(".jp-CbsExport-plan").inner_text()
    assert meter.rstrip(".") == light_zip.budget.verdict(), meter
    assert light_zip.budget.details() in plan_text, plan_text
    summary = panel.locator(".jp-CbsExport-exported > summary")
    assert summary.inner_text() == "Exported before (1)"
    assert not panel.locator(".jp-CbsExport-exported").evaluate("d => d.open")
    assert not panel.get_by_text(old.title, exact=True).first.is_visible()
    icons = {row["id"]: row for row in panel.evaluate(KIND_ICONS)}
    waiting = [i for i in basket.items if not i.exported]
    assert {i.kind for i in waiting} >= {"table", "model", "syntax"}
    for item in waiting:
        assert icons[item.id]["painted"] > 0, (item.kind, icons[item.id])  # drawn, in a colour other than the panel's
    model = next(i for i in waiting if i.kind == "model")
    panel.locator(f'[data-item-id="{model.id}"]').screenshot(path=str(artifacts / "sidebar-model-item.png"))
    for width in (None, 400):
        if width is not None:
            resize_sidebar(page, panel, width)
        shot(panel, artifacts, f"mixed-basket-{width or 'default'}")
        assert panel.evaluate(LAYOUT_PROBLEMS) == [], width
    assert page.errors == []


def open_file_browser(page, url: str):
    panel = open_sidebar(page, url)
    if not page.locator("#filebrowser").is_visible():
        page.locator('.lm-TabBar-tab[data-id="filebrowser"]').click()
    return panel


def test_check_and_add_asks_title_and_source_in_one_form(page, lab, artifacts):
    """Right-click a table file made in R: one dialog asks its title and its source data file, then the report."""
    from openpyxl import Workbook

    persons = demo.persons(3_000, seed=5)
    wb = Workbook()
    ws = wb.active
    ws.append(["Tabel 1. Personen naar geslacht (gemaakt in R)"])
    ws.append([])
    ws.append(["geslacht", "aantal"])
    for label, n in persons["geslacht"].value_counts().items():
        ws.append([str(label), int(n)])
    wb.save(lab["root"] / "tabel_uit_r.xlsx")
    (lab["root"] / "data").mkdir()
    persons.to_csv(lab["root"] / "data" / "personen.csv", index=False)
    panel = open_file_browser(page, lab["url"])
    page.locator(".jp-DirListing-item", has_text="tabel_uit_r.xlsx").click(button="right", timeout=WAIT_MS)
    page.locator(".lm-Menu-item", has_text="Check and add to export").click()
    dialog = page.locator(".jp-Dialog-content")
    form = dialog.locator(".jp-CbsExport-checkFileForm")
    form.wait_for(timeout=WAIT_MS)
    assert page.locator(".jp-Dialog").count() == 1
    title, source = form.locator("input[name=title]"), form.locator("input[name=source]")
    assert title.input_value() == "tabel_uit_r"  # the file's name until the researcher types another
    assert form.locator("label > span").all_inner_texts() == ["Title in the basket", "Source data file (optional)"]
    assert "tabel_uit_r.xlsx is checked as a plain table" in form.inner_text()
    title.fill("Personen naar geslacht, 18+ (uit R)")
    source.fill("data/personen.csv")
    dialog.screenshot(path=str(artifacts / "check-file-form.png"))
    assert dialog.evaluate(LAYOUT_PROBLEMS) == []
    dialog.get_by_role("button", name="Check and add").click()
    report = page.locator(".jp-Dialog-content", has_text="was checked as a table")
    report.wait_for(timeout=WAIT_MS)
    page.screenshot(path=str(artifacts / "check-file-report.png"))
    items = cel.Basket().items
    assert [i.title for i in items] == ["Personen naar geslacht, 18+ (uit R)"] and items[0].kind == "table"
    assert items[0].counts.cells == persons["geslacht"].nunique()
    assert "Personen naar geslacht, 18+ (uit R)" in report.inner_text()
    report.get_by_role("button", name="OK").click()
    panel.locator(f'[data-item-id="{items[0].id}"]').wait_for(timeout=WAIT_MS)

    # A figure file: the same one form, without a source file (a figure is not checked against its data).
    (lab["root"] / "figuur.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 32)
    page.locator(".jp-DirListing-item", has_text="figuur.png").click(button="right", timeout=WAIT_MS)
    page.locator(".lm-Menu-item", has_text="Check and add to export").click()
    form.wait_for(timeout=WAIT_MS)
    assert form.locator("input[name=source]").count() == 0
    assert "number of observations (N)" in form.inner_text()
    dialog.screenshot(path=str(artifacts / "check-file-form-figure.png"))
    assert dialog.evaluate(LAYOUT_PROBLEMS) == []
    dialog.get_by_role("button", name="Check and add").click()
    page.locator(".jp-Dialog-content", has_text="cannot be read").get_by_role("button", name="OK").click()
    figure = cel.Basket().items[-1]
    assert figure.title == "figuur" and figure.status == "review"  # added as a file to review
    panel.locator(f'[data-item-id="{figure.id}"]').wait_for(timeout=WAIT_MS)
    assert page.errors == []
