"""The %cbs_check panel's "Make safe": the methods that apply, the preview, and adding the safe table, driven as
a user would (widgets without a kernel, buttons clicked)."""

from __future__ import annotations

import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell
from test_protect_export import COUNTS, frame_of

import cbs_export_lab as cel


@pytest.fixture
def shell():
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "cbs_export_lab")
    ip.user_ns.clear()
    df = frame_of(COUNTS)
    ip.user_ns.update(df=df, pd=pd, cel=cel)
    yield ip
    ip.user_ns.clear()


def run(ip, line: str):
    ip.run_line_magic("cbs_check", line)
    return ip.magics_manager.registry["CbsMagics"].last


def test_make_safe_suppresses_previews_and_adds_the_safe_table(shell):
    shell.run_cell("t = cel.crosstab(df.regio, df.klasse, margins=True)", store_history=True)
    panel = run(shell, "t")
    make_safe = panel.make_safe
    assert panel.result.status == "fail" and make_safe is not None
    assert make_safe.methods == ["suppress", "round"]  # no source frame known: merging cannot rebuild the table
    assert make_safe.add_safe_button.disabled
    make_safe.preview_button.click()
    preview = make_safe.preview.value
    assert "PASS" in preview and "3 primaire / primary" in preview and "3 secundaire / secondary" in preview
    assert ">x<" in preview.replace(" ", "")
    assert not make_safe.add_safe_button.disabled

    panel.title.value = ""
    make_safe.add_safe_button.click()
    assert "title" in make_safe.message.value.lower() and cel.Basket().items == []

    panel.title.value = "Personen naar regio"
    make_safe.add_safe_button.click()
    items = cel.Basket().items
    [item] = [i for i in items if not i.background]
    [kept] = [i for i in items if i.background]
    assert item.status == "pass" and "celonderdrukking" in item.protection and kept.background_for == item.id
    assert "ready to export" in make_safe.message.value and kept.id in make_safe.message.value
    assert make_safe.add_safe_button.disabled and make_safe.add_safe_button.description == "Added"


def test_a_passing_table_offers_no_make_safe(shell):
    shell.run_cell("ok = cel.crosstab(df.klasse, df.regio == 'regio 2')", store_history=True)
    panel = run(shell, "ok")
    assert panel.result.status == "pass" and panel.make_safe is None


def test_with_a_source_merging_is_offered_and_names_what_it_merged(shell):
    shell.run_cell("t = cel.crosstab(df.regio, df.klasse, margins=True)", store_history=True)
    panel = run(shell, "t --data df")
    make_safe = panel.make_safe
    assert make_safe.methods == ["suppress", "merge", "round"]
    make_safe.method.value = "merge"
    make_safe.preview_button.click()
    assert "PASS" in make_safe.preview.value and " with " in make_safe.preview.value
    assert "10-19" in make_safe.preview.value
    make_safe.method.value = "round"  # another choice forgets the preview: nothing stale can be added
    assert make_safe.preview.value == "" and make_safe.add_safe_button.disabled
    make_safe.preview_button.click()
    assert "multiples of 5" in make_safe.preview.value
    make_safe.method.value = "merge"
    panel.title.value = "Samengevoegd"
    make_safe.add_safe_button.click()  # previews first when needed
    [item] = [i for i in cel.Basket().items if not i.background]
    assert item.status == "pass" and "merging categories" in item.protection


def test_a_plain_table_found_by_provenance_can_be_made_safe(shell):
    shell.run_cell("plain = pd.crosstab(df.regio, df.klasse, margins=True)", store_history=True)
    panel = run(shell, "plain")
    assert "checked against `df`" in panel.source_note
    make_safe = panel.make_safe
    assert "suppress" in make_safe.methods and "merge" in make_safe.methods
    make_safe.preview_button.click()
    assert "PASS" in make_safe.preview.value


def test_a_plain_table_without_a_source_says_why_not_and_how(shell):
    shell.user_ns["elsewhere"] = pd.crosstab(shell.user_ns["df"].regio, shell.user_ns["df"].klasse, margins=True)
    panel = run(shell, "elsewhere")
    make_safe = panel.make_safe
    assert panel.result.status == "fail" and make_safe.methods == []
    assert make_safe.preview_button.disabled and make_safe.add_safe_button.disabled
    message = make_safe.message.value
    assert "cannot be made safe" in message and "--data" in message and "data=df" in message
    panel_with_source = run(shell, "elsewhere --data df")
    assert panel_with_source.make_safe.methods[0] == "suppress"


def test_cel_protect_stays_the_function_when_the_basket_imports_its_module(tmp_path):
    import subprocess
    import sys

    code = (
        "import cbs_export_lab as cel, cbs_export_lab.basket, cbs_export_lab.intake\n"
        "from cbs_export_lab.intake import protection_marks\n"
        "import pandas as pd\n"
        "protection_marks(pd.DataFrame({'a': [1]}))\n"
        "assert callable(cel.protect) and cel.protect.__name__ == 'protect', cel.protect\n"
        "import sys\n"
        "assert sys.modules['cbs_export_lab.protect'].protect is cel.protect\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
