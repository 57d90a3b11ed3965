"""Scripts as syntax: a masked copy of R, Stata, SPSS, Python and SAS scripts, `strip --check` for them as a
pre-commit hook, scripts in the basket as syntax, and a notebook and its script written as one pair."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbformat import v4

import cbs_export_lab as cel
from cbs_export_lab import cli
from cbs_export_lab.errors import UserError
from cbs_export_lab.strip import StripReport, check_notebook, check_script, strip_notebook, strip_script

STATA = textwrap.dedent("""\
    * Inkomen per gemeente
    version 17
    set seed 2024
    cd "H:\\Werkmap Jansen\\analyse"
    use "G:\\Bevolking\\GBAPERSOONTAB\\2020\\personen.dta", clear
    keep if inrange(jaar, 2010, 2020)
    list if rinpersoon == "012345678"
    * geslacht    aantal
    * man         92
    * vrouw       108
    * totaal      200
    // waarvan 4 personen zonder adres
    recode leeftijd (0/14=1) (15/64=2) (65/120=3), gen(klasse)
    """)
SPSS = textwrap.dedent("""\
    * Inkomen per gemeente.
    GET FILE='C:\\Users\\jansen\\personen.sav'.
    SELECT IF (RINPERSOON = '012345678').
    * Frequenties
      man     92
      vrouw   108
      totaal  200.
    RECODE leeftijd (0 thru 14=1) (15 thru 64=2) (65 thru HI=3) INTO klasse.
    EXECUTE.
    """)
CLEAN_R = 'set.seed(12345)\nx <- read.csv("G:/Bevolking/x.csv")\nfor (i in seq_len(10)) print(i)\n'


def write(path: Path, text: str, **kw) -> Path:
    path.write_bytes(text.encode(kw.get("encoding", "utf-8")))
    return path


def test_a_stata_script_is_masked_in_a_copy_and_the_source_is_untouched(tmp_path):
    src = write(tmp_path / "analyse.do", STATA)
    before = src.read_bytes()

    report = strip_script(src, tmp_path / "analyse.stripped.do")

    assert src.read_bytes() == before
    copy = (tmp_path / "analyse.stripped.do").read_text(encoding="utf-8")
    assert "012345678" not in copy and "Jansen" not in copy and "92" not in copy and "4 personen" not in copy
    assert 'cd "H:\\Werkmap\\analyse"' in copy and 'list if rinpersoon == "XXXXXXXXX"' in copy
    assert "* [cbs-export strip: pasted data removed]" in copy
    assert 'use "G:\\Bevolking\\GBAPERSOONTAB\\2020\\personen.dta", clear' in copy
    assert "recode leeftijd (0/14=1) (15/64=2) (65/120=3), gen(klasse)" in copy
    assert len(copy.splitlines()) == len(STATA.splitlines())
    assert report.kind == "script" and report.script == tmp_path / "analyse.stripped.do" and report.notebook is None
    assert report.ok and report.findings == []
    assert [(f.rule, f.severity, f.where) for f in report.masked] == [
        ("personal_path", "review", "analyse.do, line 4"),
        ("identifier", "fail", "analyse.do, line 7"),
        ("data", "fail", "analyse.do, line 9"),
        ("data", "fail", "analyse.do, line 12"),
    ]
    assert report.removed == {"identifier": 1, "data": 2, "personal_path": 1}
    assert check_script(tmp_path / "analyse.stripped.do").masked == []
    text = report.text()
    assert "masked copy written" in text and "1 id, 2 pasted tables or counts, 1 personal path" in text
    assert "012345678" not in text


def test_an_spss_script_keeps_its_comment_commands_and_line_endings(tmp_path):
    src = write(
        tmp_path / "analyse.sps", SPSS.replace("\n", "\r\n").replace("Frequenties", "Frequenties é"), encoding="cp1252"
    )
    report = strip_script(src, tmp_path / "out.sps")
    data = (tmp_path / "out.sps").read_bytes()
    assert data.count(b"\r\n") == SPSS.count("\n") and "é".encode("cp1252") in data
    copy = data.decode("cp1252")
    assert "C:\\Users\\%USERNAME%\\personen.sav" in copy and "'XXXXXXXXX'" in copy
    assert "  ....\r\n" in copy  # the comment command still ends with its period
    assert [f.where for f in report.masked] == ["analyse.sps, line 2", "analyse.sps, line 3", "analyse.sps, line 5"]


@pytest.mark.parametrize(
    "name, text",
    [
        ("a.R", 'x <- personen[personen$RINPERSOON == "012345678", ]\n# 3 mannen en 2 vrouwen\n'),
        ("a.py", 'x = persons[persons.RINPERSOON == "012345678"]\nprint("waarvan 4 personen")\n'),
        ("a.sas", "where rinpersoon = '012345678';\n/* waarvan 4 personen */\n"),
    ],
)
def test_every_language_is_masked(tmp_path, name, text):
    report = strip_script(write(tmp_path / name, text), tmp_path / f"out_{name}")
    assert [f.rule for f in report.masked] == ["identifier", "data"] and report.findings == []
    copy = (tmp_path / f"out_{name}").read_text(encoding="utf-8")
    assert "012345678" not in copy and "personen" not in copy.split("\n")[1] and "mannen" not in copy


def test_a_script_is_not_stripped_onto_itself_unless_asked(tmp_path):
    src = write(tmp_path / "a.do", STATA)
    with pytest.raises(UserError, match="onto itself"):
        strip_script(src, src)
    assert src.read_text(encoding="utf-8") == STATA
    strip_script(src, src, in_place=True)
    assert check_script(src).masked == []


def test_what_cannot_be_stripped_says_so(tmp_path):
    with pytest.raises(UserError, match="neither a notebook"):
        strip_script(write(tmp_path / "t.csv", "a,b\n1,2\n"), tmp_path / "x.csv")
    with pytest.raises(UserError, match="does not exist"):
        check_script(tmp_path / "weg.do")


def test_report_round_trips(tmp_path):
    report = check_script(write(tmp_path / "a.do", STATA))
    assert StripReport.from_dict(json.loads(json.dumps(report.to_dict()))) == report
    assert report.would_leak and not report.written


# --- the command line and the hook ---------------------------------------------------------------------


def test_check_prints_file_line_message_and_exits_1(tmp_path, capsys):
    src = write(tmp_path / "analyse.do", STATA)
    clean = write(tmp_path / "schoon.R", CLEAN_R)
    listing = sorted(tmp_path.iterdir())
    assert cli.main(["strip", "--check", str(src)]) == 1
    out = capsys.readouterr().out
    assert f"{src}:7: [fail] identifier:" in out and f"{src}:4: [review] personal_path:" in out
    assert f"{src}:9: [fail] data:" in out and "checked, nothing written" in out
    assert cli.main(["strip", "--check", str(clean)]) == 0
    assert cli.main(["strip", "--check", str(clean), str(src)]) == 1
    assert sorted(tmp_path.iterdir()) == listing


def test_strip_writes_a_masked_copy_next_to_the_script(tmp_path, capsys):
    src = write(tmp_path / "analyse.do", STATA)
    nb = tmp_path / "nb.ipynb"
    nbformat.write(v4.new_notebook(cells=[v4.new_code_cell("x = 1")]), nb)
    assert cli.main(["strip", str(src), str(nb)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "analyse.do",
        "analyse.stripped.do",
        "nb.ipynb",
        "nb.stripped.ipynb",
        "nb.stripped.py",
    ]
    assert cli.main(["strip", "--check", str(tmp_path / "analyse.stripped.do")]) == 0
    assert "masked copy written" in capsys.readouterr().out


def test_the_check_as_a_command(tmp_path):
    src = write(tmp_path / "analyse.sps", SPSS)
    run = subprocess.run(
        [sys.executable, "-m", "cbs_export_lab.cli", "strip", "--check", str(src)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    assert run.returncode == 1, run.stderr
    assert f"{src}:3: [fail] identifier:" in run.stdout.splitlines()[1]
    assert "broken JSON" not in run.stdout + run.stderr


# --- the basket ----------------------------------------------------------------------------------------


def test_a_script_added_to_the_basket_is_syntax_and_goes_in_the_syntax_zip(basket, exportmap, tmp_path):
    clean = basket.add(write(tmp_path / "schoon.R", CLEAN_R), "Schone analyse")
    assert clean.kind == "syntax" and clean.status == "pass" and clean.findings == []
    with pytest.warns(UserWarning, match="never be exported"):
        dirty = basket.add(write(tmp_path / "analyse.do", STATA), "Analyse")
    assert dirty.kind == "syntax" and dirty.status == "fail" and dirty.never_exportable
    assert {f.where for f in dirty.findings} >= {"file analyse.do, line 7", "file analyse.do, line 9"}
    table = basket.add(write(tmp_path / "notes.txt", "Version 1.2\n"), "Notes")
    assert table.kind == "file"

    plan = cel.plan_export(basket, exportmap, mode="vooraf")
    syntax = [z for z in plan.zips if dirty.id not in z.items and clean.id in z.items]
    assert len(syntax) == 1 and "syntax" in syntax[0].name.lower() and not syntax[0].light
    assert dirty.id in [b.item_id for b in plan.blocked]
    result = cel.prepare_export(basket, exportmap, mode="vooraf")
    names = [n for z in result.zips for n in zipfile.ZipFile(z).namelist()]
    assert any(n.endswith("schoon.R") for n in names)


# --- a notebook and its script are one pair ------------------------------------------------------------


def _pair(tmp_path: Path, code: str) -> tuple[Path, Path]:
    src = tmp_path / "a.ipynb"
    nbformat.write(v4.new_notebook(cells=[v4.new_code_cell(code)]), src)
    dst = tmp_path / "out" / "a.stripped.ipynb"
    return src, dst


def _state(dst: Path) -> tuple[str, str]:
    return (nbformat.read(dst, as_version=4).cells[0].source, dst.with_suffix(".py").read_text(encoding="utf-8"))


def test_a_failure_between_the_renames_leaves_the_old_pair(tmp_path, monkeypatch):
    src, dst = _pair(tmp_path, "x = 'old'")
    strip_notebook(src, dst)
    before = _state(dst)
    nbformat.write(v4.new_notebook(cells=[v4.new_code_cell("x = 'new'")]), src)
    from cbs_export_lab import strip as strip_module

    real, calls = strip_module.replace_with_retry, []

    def second_rename_fails(a, b):
        calls.append(b)
        if len(calls) == 2:
            raise PermissionError(13, "Permission denied", str(b))
        real(a, b)

    monkeypatch.setattr(strip_module, "replace_with_retry", second_rename_fails)
    with pytest.raises(UserError, match="Cannot write"):
        strip_notebook(src, dst)
    assert _state(dst) == before
    assert sorted(p.name for p in dst.parent.iterdir()) == ["a.stripped.ipynb", "a.stripped.py"]

    monkeypatch.setattr(strip_module, "replace_with_retry", real)
    strip_notebook(src, dst)
    assert "'new'" in _state(dst)[0] and "'new'" in _state(dst)[1]


KILL = """
import os, sys
from cbs_export_lab import strip
real, calls = strip.replace_with_retry, []
def killed(a, b):
    calls.append(b)
    if str(b).endswith(".py"):
        os._exit(9)
    real(a, b)
strip.replace_with_retry = killed
strip.strip_notebook(sys.argv[1], sys.argv[2])
"""


def test_a_kill_between_the_renames_is_rolled_back_by_the_next_strip(tmp_path):
    src, dst = _pair(tmp_path, "x = 'old'")
    strip_notebook(src, dst)
    before = _state(dst)
    nbformat.write(v4.new_notebook(cells=[v4.new_code_cell("x = 'new'")]), src)
    run = subprocess.run(
        [sys.executable, "-c", KILL, str(src), str(dst)], timeout=120, env={**os.environ, "PYTHONPATH": os.getcwd()}
    )
    assert run.returncode == 9
    assert "'new'" in _state(dst)[0] and "'old'" in _state(dst)[1]  # what the kill left: a mixed pair and a journal
    assert any(p.name.endswith(".strip-journal.json") for p in dst.parent.iterdir())

    check_notebook(dst)  # reading the destination rolls the interrupted write back first
    assert _state(dst) == before
    assert sorted(p.name for p in dst.parent.iterdir()) == ["a.stripped.ipynb", "a.stripped.py"]
    strip_notebook(src, dst)
    assert "'new'" in _state(dst)[0] and "'new'" in _state(dst)[1]


# --- cell numbers count from 1, as JupyterLab does ---------------------------------------------------------


def test_cell_numbers_count_from_one(tmp_path, capsys):
    src = tmp_path / "a.ipynb"
    cells = [v4.new_code_cell("x = '012345678'"), v4.new_markdown_cell("Er zijn 3 mannen en 2 vrouwen.")]
    nbformat.write(v4.new_notebook(cells=cells), src)
    report = check_notebook(src)
    assert [f.where for f in report.findings] == [
        f"cell 1 (code, id {cells[0].id}), line 1",
        f"cell 2 (markdown, id {cells[1].id}), line 1",
    ]
    assert report.locations()[0].startswith(f"{src}: cell 1, line 1: [fail] identifier:")
    assert cli.main(["strip", "--check", str(src)]) == 1
    assert f"{src}: cell 2, line 1: [fail] data:" in capsys.readouterr().out


def test_r_notebooks_are_read_as_r(tmp_path):
    src = tmp_path / "r.ipynb"
    nb = v4.new_notebook(cells=[v4.new_code_cell("# man     92\n# vrouw   108\n# totaal  200\nx <- 'a' # 1")])
    nb.metadata = {"kernelspec": {"name": "ir", "display_name": "R", "language": "R"}}
    nbformat.write(nb, src)
    where = f"cell 1 (code, id {nb.cells[0].id}), line 1"
    assert [(f.rule, f.where) for f in check_notebook(src).findings] == [("data", where)]


def test_public_name():
    assert cel.strip_script is strip_script


def test_scripts_into_a_folder_and_in_place(tmp_path):
    a = write(tmp_path / "a.do", STATA)
    b = write(tmp_path / "b.sps", SPSS)
    assert cli.main(["strip", str(a), str(b), "-o", str(tmp_path / "syntax")]) == 0
    assert sorted(p.name for p in (tmp_path / "syntax").iterdir()) == ["a.stripped.do", "b.stripped.sps"]
    assert cli.main(["strip", "--in-place", str(a)]) == 0
    assert "012345678" not in a.read_text(encoding="utf-8")
    assert cli.main(["strip", "--check", str(a)]) == 0
