"""strip_notebook: what leaves the RA as syntax carries no outputs, embedded data, ids or pasted tables."""

from __future__ import annotations

import base64
import difflib
import io
import json
import os
from pathlib import Path

import matplotlib.pyplot as plt
import nbformat
import pytest
from nbformat import v3, v4

import cbs_export_lab as cel
from cbs_export_lab import demo
from cbs_export_lab.errors import UserError
from cbs_export_lab.rules import load_rules
from cbs_export_lab.strip import StripReport, check_notebook, scan_text, strip_notebook

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "notebooks"


def png_bytes() -> bytes:
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, 1])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def png_b64() -> str:
    return base64.b64encode(png_bytes()).decode()


def write_nb(path: Path, nb: nbformat.NotebookNode) -> Path:
    nbformat.write(nb, path)
    return path


def with_outputs(cell: nbformat.NotebookNode, count: int) -> nbformat.NotebookNode:
    cell.execution_count = count
    cell.outputs = [
        v4.new_output("stream", name="stdout", text="man 92\nvrouw 108\n"),
        v4.new_output("display_data", data={"image/png": png_b64(), "text/plain": "<Figure>"}),
        v4.new_output(
            "execute_result",
            data={"text/html": "<table class='dataframe'><tr><td>92</td></tr></table>"},
            execution_count=count,
        ),
    ]
    return cell


def leaky_notebook() -> nbformat.NotebookNode:
    """Every kind of leak that stripping removes, none that the scan must report."""
    image = png_b64()
    code = v4.new_code_cell(
        "%matplotlib inline\n"
        "!pip list\n"
        "import pandas as pd\n"
        f'logo = "data:image/png;base64,{image}"\n'
        "counts = persons.groupby('geslacht').size()\n"
        "counts",
        metadata={
            "tags": ["keep_output", "n-12345"],
            "collapsed": False,
            "init_cell": True,
            "ExecuteTime": {"end_time": "2024-01-01T10:00:00"},
        },
    )
    with_outputs(code, 7)
    markdown = v4.new_markdown_cell(
        f'Result:\n\n![chart](attachment:chart.png)\n\n<img src="data:image/png;base64,{image}" width=200>',
        attachments={"chart.png": {"image/png": image}},
        metadata={"jupyter": {"source_hidden": True}},
    )
    raw = v4.new_raw_cell(f"![x](data:image/gif;base64,{image})", metadata={"format": "text/html"})
    nb = v4.new_notebook(cells=[code, markdown, raw])
    nb.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python", "env": {"SECRET": "x"}},
        "language_info": {"name": "python", "version": "3.11.7", "codemirror_mode": {"name": "ipython"}},
        "widgets": {"application/vnd.jupyter.widget-state+json": {"state": {"m1": {"model_name": "IntSlider"}}}},
        "author": "R. Searcher",
    }
    return nb


# --- stripping -----------------------------------------------------------------------------------------


def test_every_leak_is_removed_and_the_source_is_untouched(tmp_path):
    src = write_nb(tmp_path / "analysis.ipynb", leaky_notebook())
    before = src.read_bytes()
    dst = tmp_path / "out" / "analysis.stripped.ipynb"

    report = strip_notebook(src, dst)

    assert src.read_bytes() == before
    nb = nbformat.read(dst, as_version=nbformat.NO_CONVERT)
    nbformat.validate(nb)
    code, markdown, raw = nb.cells
    assert code.outputs == [] and code.execution_count is None
    assert "attachments" not in markdown
    assert all("data:" not in c.source and "base64" not in c.source for c in nb.cells)
    assert nb.metadata == {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    }
    assert code.metadata == {"tags": ["keep_output"]}
    assert markdown.metadata == {} and raw.metadata == {}
    assert report.removed == {
        "outputs": 3,
        "execution_counts": 1,
        "attachments": 1,
        "data_uris": 3,
        "widget_state": 1,
        # code: collapsed, init_cell, ExecuteTime, tag n-12345; markdown: jupyter; raw: format;
        # notebook: author, kernelspec.env, language_info.version and .codemirror_mode
        "metadata_keys": 10,
    }
    assert report.ok and report.findings == []
    assert (report.source, report.notebook, report.script) == (src, dst, dst.with_suffix(".py"))
    assert sorted(p.name for p in dst.parent.iterdir()) == ["analysis.stripped.ipynb", "analysis.stripped.py"]


def test_data_uris_without_a_media_type_are_removed_but_slices_named_data_stay(tmp_path):
    image = png_b64()
    cells = [
        v4.new_markdown_cell(f"![chart](data:;base64,{image})"),
        v4.new_code_cell("first = values[data:, 0]\nrest = values[data:,1]"),
    ]
    src = write_nb(tmp_path / "a.ipynb", v4.new_notebook(cells=cells))
    report = strip_notebook(src, tmp_path / "a.stripped.ipynb")
    out = nbformat.read(tmp_path / "a.stripped.ipynb", as_version=4)
    assert report.removed["data_uris"] == 1 and image not in out.cells[0].source
    assert out.cells[1].source == cells[1].source


def test_code_is_unchanged_apart_from_data_uris(tmp_path):
    nb = leaky_notebook()
    original = nb.cells[0].source
    src = write_nb(tmp_path / "a.ipynb", nb)
    strip_notebook(src, tmp_path / "b.ipynb")
    stripped = nbformat.read(tmp_path / "b.ipynb", as_version=4).cells[0].source
    assert stripped == original.replace(original.split('"')[1], "")
    assert [c.id for c in nbformat.read(tmp_path / "b.ipynb", as_version=4).cells] == [c.id for c in nb.cells]


def test_script_has_code_as_code_and_text_as_comments(tmp_path):
    nb = leaky_notebook()
    nb.cells.append(v4.new_code_cell("def mean(xs):\n    return sum(xs) / len(xs)"))
    src = write_nb(tmp_path / "a.ipynb", nb)
    script = strip_notebook(src, tmp_path / "a.stripped.ipynb").script.read_text(encoding="utf-8")

    compile(script, "a.stripped.py", "exec")
    lines = script.splitlines()
    assert "# %matplotlib inline" in lines and "# !pip list" in lines
    assert "counts = persons.groupby('geslacht').size()" in lines
    assert "    return sum(xs) / len(xs)" in lines
    assert "# Result:" in lines and "# ![chart](attachment:chart.png)" in lines
    assert "base64" not in script
    namespace: dict = {}
    exec(compile("\n".join(lines[lines.index("def mean(xs):") :]), "s", "exec"), namespace)
    assert namespace["mean"]([1, 2, 3]) == 2


@pytest.mark.parametrize("minor", range(6))
def test_every_nbformat_4_minor_version(tmp_path, minor):
    nb = v4.new_notebook(cells=[with_outputs(v4.new_code_cell("x = 1\nx"), 1), v4.new_markdown_cell("# Title")])
    nb.nbformat_minor = minor
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3"}, "language_info": {"name": "python"}}
    if minor < 5:
        for cell in nb.cells:
            del cell["id"]
    nbformat.validate(nb)
    src = tmp_path / f"v4_{minor}.ipynb"
    src.write_text(json.dumps(nb), encoding="utf-8")

    report = strip_notebook(src, tmp_path / "out.ipynb")

    out = json.loads((tmp_path / "out.ipynb").read_text(encoding="utf-8"))
    assert (out["nbformat"], out["nbformat_minor"]) == (4, minor)
    nbformat.validate(nbformat.from_dict(out))
    assert out["cells"][0]["outputs"] == [] and out["cells"][0]["execution_count"] is None
    assert ("id" in out["cells"][0]) == (minor == 5)
    assert report.removed["outputs"] == 3 and report.ok


def test_nbformat_3_is_converted(tmp_path):
    cell = v3.new_code_cell(input="y = 2\ny", prompt_number=4, outputs=[v3.new_output("pyout", output_text="2")])
    nb = v3.new_notebook(worksheets=[v3.new_worksheet(cells=[cell, v3.new_text_cell("markdown", source="Notes")])])
    src = tmp_path / "old.ipynb"
    src.write_text(v3.writes_json(nb), encoding="utf-8")

    report = strip_notebook(src, tmp_path / "new.ipynb")

    out = nbformat.read(tmp_path / "new.ipynb", as_version=nbformat.NO_CONVERT)
    nbformat.validate(out)
    assert out.nbformat == 4
    assert [(c.cell_type, c.source) for c in out.cells] == [("code", "y = 2\ny"), ("markdown", "Notes")]
    assert out.cells[0].outputs == [] and "orig_nbformat" not in out.metadata
    assert report.removed["outputs"] == 1 and report.removed["execution_counts"] == 1


def test_in_place_needs_asking(tmp_path):
    src = write_nb(tmp_path / "a.ipynb", leaky_notebook())
    before = src.read_bytes()
    with pytest.raises(UserError, match="onto itself"):
        strip_notebook(src, src)
    assert src.read_bytes() == before

    report = strip_notebook(src, src, in_place=True)
    assert report.notebook == src and not check_notebook(src).would_leak
    assert all(c.get("outputs", []) == [] for c in nbformat.read(src, as_version=4).cells)


def test_a_python_file_we_did_not_write_is_never_overwritten(tmp_path):
    src = write_nb(tmp_path / "a.ipynb", leaky_notebook())
    mine = tmp_path / "a.stripped.py"
    mine.write_text("print('my own work')\n", encoding="utf-8")
    with pytest.raises(UserError, match="not written by cbs-export"):
        strip_notebook(src, tmp_path / "a.stripped.ipynb")
    assert mine.read_text(encoding="utf-8") == "print('my own work')\n"
    assert not (tmp_path / "a.stripped.ipynb").exists()

    mine.unlink()
    strip_notebook(src, tmp_path / "a.stripped.ipynb")
    strip_notebook(src, tmp_path / "a.stripped.ipynb")  # our own script is replaced on a second run
    assert mine.exists()


def test_a_failed_write_leaves_no_file_and_no_temporary(tmp_path, monkeypatch):
    src = write_nb(tmp_path / "a.ipynb", leaky_notebook())
    out = tmp_path / "out"
    out.mkdir()

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(out / "a.stripped.ipynb"))

    monkeypatch.setattr(os, "replace", refuse)
    monkeypatch.setattr("cbs_export_lab.atomic.time.sleep", lambda s: None)
    with pytest.raises(UserError, match="Cannot write"):
        strip_notebook(src, out / "a.stripped.ipynb")
    assert list(out.iterdir()) == []


# --- bad input -----------------------------------------------------------------------------------------


def _bad_inputs(tmp_path: Path) -> dict[str, Path]:
    good = write_nb(tmp_path / "good.ipynb", leaky_notebook()).read_text(encoding="utf-8")
    files = {
        "broken.ipynb": good[: len(good) // 2],
        "table.ipynb": "gemeente,aantal\nLeiden,12\n",
        "settings.ipynb": json.dumps({"theme": "dark"}),
        "list.ipynb": json.dumps([1, 2, 3]),
        "ancient.ipynb": json.dumps({"nbformat": 2, "worksheets": []}),
        "nocells.ipynb": json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}}),
        "badcell.ipynb": json.dumps({"nbformat": 4, "nbformat_minor": 4, "metadata": {}, "cells": ["x = 1"]}),
        "nosource.ipynb": json.dumps(
            {
                "nbformat": 4,
                "nbformat_minor": 4,
                "metadata": {},
                "cells": [{"cell_type": "code", "source": 5, "metadata": {}, "outputs": [], "execution_count": None}],
            }
        ),
    }
    paths = {}
    for name, text in files.items():
        paths[name] = tmp_path / name
        paths[name].write_text(text, encoding="utf-8")
    paths["image.ipynb"] = tmp_path / "image.ipynb"
    paths["image.ipynb"].write_bytes(png_bytes())
    paths["missing.ipynb"] = tmp_path / "missing.ipynb"
    paths["folder.ipynb"] = tmp_path / "folder.ipynb"
    paths["folder.ipynb"].mkdir()
    return paths


def test_bad_input_names_the_file_and_writes_nothing(tmp_path):
    for name, path in _bad_inputs(tmp_path).items():
        out = tmp_path / f"out_{name}"
        with pytest.raises(UserError) as err:
            strip_notebook(path, out / "x.ipynb")
        assert name in str(err.value), name
        assert not out.exists(), name


def test_broken_json_says_where(tmp_path):
    with pytest.raises(UserError, match=r"broken JSON at line \d+, column \d+"):
        strip_notebook(_bad_inputs(tmp_path)["broken.ipynb"], tmp_path / "x.ipynb")


# --- scanning: identifiers -----------------------------------------------------------------------------


def _strip_cells(tmp_path: Path, *cells: nbformat.NotebookNode) -> StripReport:
    src = write_nb(tmp_path / "scan.ipynb", v4.new_notebook(cells=list(cells)))
    return strip_notebook(src, tmp_path / "scan.stripped.ipynb")


def test_ids_of_linking_keys_fail_wherever_they_are(tmp_path):
    ids = demo.persons(50, seed=3)["RINPERSOON"].tolist()
    cells = [
        v4.new_code_cell(f'one = persons[persons["RINPERSOON"] == "{ids[0]}"]'),
        v4.new_code_cell(f"wanted = [\n    '{ids[1]}',\n    '{ids[2]}',\n]"),
        v4.new_markdown_cell(f"Person {ids[3]} has an odd income."),
        v4.new_raw_cell(f"check later: {ids[4]}"),
        v4.new_code_cell(f"# outlier: {ids[5]}\nx = 1"),
        v4.new_code_cell(f"persons.query('RINPERSOON == {int(ids[6].lstrip('0') or 1) + 10_000_000}')"),
    ]
    report = _strip_cells(tmp_path, *cells)

    assert not report.ok
    found = [(f.rule, f.severity, f.where) for f in report.findings]
    ident = [cell.id for cell in cells]
    assert found == [
        ("identifier", "fail", f"cell 1 (code, id {ident[0]}), line 1"),
        ("identifier", "fail", f"cell 2 (code, id {ident[1]}), line 2"),
        ("identifier", "fail", f"cell 2 (code, id {ident[1]}), line 3"),
        ("identifier", "fail", f"cell 3 (markdown, id {ident[2]}), line 1"),
        ("identifier", "fail", f"cell 4 (raw, id {ident[3]}), line 1"),
        ("identifier", "fail", f"cell 5 (code, id {ident[4]}), line 1"),
        ("identifier", "fail", f"cell 6 (code, id {ident[5]}), line 1"),
    ]
    text = report.text()
    assert not any(i in text for i in ids[:6])
    assert all(f.fix for f in report.findings)


def test_several_ids_on_one_line_are_one_finding_that_counts_them(tmp_path):
    ids = demo.persons(50, seed=8)["RINPERSOON"].tolist()[:3]
    report = _strip_cells(tmp_path, v4.new_code_cell(f"odd = persons[persons.RINPERSOON.isin({ids!r})]"))
    assert [(f.rule, f.where.split(", ")[-1]) for f in report.findings] == [("identifier", "line 1")]
    assert f"{len(ids)} values on this line" in report.findings[0].message
    assert not any(i in report.text() for i in ids)


def test_linking_key_names_are_fine(tmp_path):
    report = _strip_cells(
        tmp_path,
        v4.new_code_cell(
            'keys = ["RINPERSOONS", "RINPERSOON"]\n'
            "per_person = persons.groupby(\"RINPERSOON\")['inkomen'].sum()\n"
            "persons = persons.drop(columns=keys)\n"
            "n_units = persons['RINPERSOON'].nunique()"
        ),
        v4.new_markdown_cell("We count persons by RINPERSOON, never show one."),
    )
    assert report.findings == [] and report.ok


def test_a_stricter_id_length_is_honoured(tmp_path):
    rules = load_rules()
    override = tmp_path / "rules.toml"
    override.write_text("[identifier]\nid_digits = 8\n", encoding="utf-8")
    strict = load_rules(override)
    text = 'x = "01234567"'
    assert scan_text(text, cell="cell 1", rules=rules) == []
    assert [f.rule for f in scan_text(text, cell="cell 1", rules=strict)] == ["identifier"]


# --- scanning: pasted data -----------------------------------------------------------------------------


def test_pasted_tables_and_counts_fail(tmp_path):
    persons = demo.persons(2_000, seed=4)
    by_sex = persons.groupby("geslacht", observed=True).size()
    crosstab = persons.pivot_table(
        index="gemeente", columns="geslacht", values="inkomen", aggfunc="count", observed=True
    )
    pipe = "| geslacht | aantal |\n|---|---:|\n" + "".join(f"| {k} | {v} |\n" for k, v in by_sex.items())
    tsv = "\\n".join(
        ["gemeente\\tman\\tvrouw"] + [f"{g}\\t{int(r.iloc[0])}\\t{int(r.iloc[1])}" for g, r in crosstab.iterrows()]
    )
    counts = persons["leeftijd"].value_counts().head(12).tolist()
    cells = [
        v4.new_markdown_cell(f"## Results\n\n{pipe}"),
        v4.new_markdown_cell(f"Printout:\n\n```\n{by_sex}\n```"),
        v4.new_raw_cell(str(crosstab)),
        v4.new_code_cell(f'import io\nframe = pd.read_csv(io.StringIO("{tsv}"), sep="\\t")'),
        v4.new_code_cell(f"x = 1\nage_counts = {counts}"),
        v4.new_code_cell(f'table = """\n{crosstab.to_csv()}"""'),
        v4.new_code_cell(
            "# pasted from the output above:\n" + "\n".join(f"# {line}" for line in str(by_sex).splitlines())
        ),
    ]
    report = _strip_cells(tmp_path, *cells)

    assert not report.ok
    found = [(f.rule, f.where.split(",")[0], f.where.rsplit(" ", 1)[1]) for f in report.findings]
    assert found == [
        ("data", "cell 1 (markdown", "3"),
        ("data", "cell 2 (markdown", "5"),
        ("data", "cell 3 (raw", "3"),
        ("data", "cell 4 (code", "2"),
        ("data", "cell 5 (code", "2"),
        ("data", "cell 6 (code", "3"),
        ("data", "cell 7 (code", "3"),
    ]
    assert all(f.severity == "fail" and f.fix for f in report.findings)


def test_pasted_html_tables_fail_but_html_tables_of_words_do_not(tmp_path):
    persons = demo.persons(2_000, seed=4)
    by_sex = persons.groupby("geslacht", observed=True).size().to_frame("aantal")
    words = "<table><tr><th>Variable</th><th>Meaning</th></tr><tr><td>geslacht</td><td>sex</td></tr></table>"
    cells = [
        v4.new_markdown_cell(f"## Results\n\n{by_sex.to_html()}"),
        v4.new_code_cell(f'report = """{by_sex.to_html()}"""'),
        v4.new_markdown_cell(f"## Codebook\n\n{words}"),
    ]
    report = _strip_cells(tmp_path, *cells)
    assert [(f.rule, f.where.split(",")[0]) for f in report.findings] == [
        ("data", "cell 1 (markdown"),
        ("data", "cell 2 (code"),
    ]
    assert all("HTML table" in f.message for f in report.findings)


def test_long_matrix_and_columnar_dict_are_data():
    rules = load_rules()
    matrix = "m = np.array([[12, 7, 31], [5, 18, 22], [9, 14, 3], [40, 2, 11]])"
    columns = "df = pd.DataFrame({'man': [12, 7, 31, 5, 18], 'vrouw': [22, 9, 14, 3, 40]})"
    series = (
        "share = {'Leiden': 0.12, 'Delft': 0.31, 'Gouda': 0.07, 'Ede': 0.22, 'Breda': 0.19,\n"
        "         'Venlo': 0.05, 'Hoorn': 0.14, 'Assen': 0.33, 'Emmen': 0.02, 'Zwolle': 0.41}"
    )
    for code in (matrix, columns, series):
        assert [f.rule for f in scan_text(code, cell="cell 1", rules=rules)] == ["data"], code


def test_other_languages_are_scanned_too():
    rules = load_rules()
    r_code = "counts <- c(120, 45, 33, 12, 91, 80, 17, 52, 44, 28)\nhist(x, breaks = c(0, 15, 25, 45))"
    assert [(f.rule, f.where) for f in scan_text(r_code, cell="cell 2", rules=rules)] == [("data", "cell 2, line 1")]


CLEAN_ANALYSIS = [
    v4.new_markdown_cell(
        "# Income by municipality\n\nWe use the 2019 and 2020 files. Cells under 10 persons are suppressed.\n\n"
        "| step | file |\n|---|---|\n| read | persons.csv |\n| check | cel.check |"
    ),
    v4.new_code_cell(
        "%matplotlib inline\nimport numpy as np\nimport pandas as pd\nimport matplotlib.pyplot as plt\n"
        "import cbs_export_lab as cel\n\npersons = pd.read_csv('persons.csv', dtype={'RINPERSOON': str})"
    ),
    v4.new_code_cell(
        "bins = [0, 15, 25, 45, 65, 120]\nlabels = ['0-14', '15-24', '25-44', '45-64', '65+']\n"
        "persons['klasse'] = pd.cut(persons['leeftijd'], bins=bins, labels=labels, right=False)\n"
        "months = {'jan': 1, 'feb': 2, 'mrt': 3, 'apr': 4, 'mei': 5, 'jun': 6, 'jul': 7, 'aug': 8,\n"
        "          'sep': 9, 'okt': 10, 'nov': 11, 'dec': 12}\n"
        "ages = list(range(18, 67))\nticks = [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]\n"
        "five_years = [0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90, 120]\n"
        "open_top = [-1, 0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, np.inf]\n"
        "grid = np.linspace(0, 1, 101)\n"
        "param_grid = [{'alpha': [0.01, 0.1, 1.0, 10.0], 'l1_ratio': [0.2, 0.5, 0.8]},\n"
        "              {'alpha': [0.05, 0.5], 'fit_intercept': [True, False]}]"
    ),
    v4.new_code_cell(
        "table = cel.crosstab(persons['gemeente'], persons['klasse'], unit=persons['RINPERSOON'])\n"
        "fig, ax = plt.subplots(figsize=(8, 4))\n"
        "ax.hist(persons['inkomen'], bins=[0, 10_000, 20_000, 40_000, 80_000])\n"
        "ax.set_xlim(0, 100_000)\nax.set_ylim(0, 500)\n"
        "# step 2: weights 1.5 and 2.5 as in the 2021 method note\n"
        'model_formula = f"inkomen ~ C(klasse) + leeftijd"\n'
        "print(f'{len(persons):,} persons, {persons.RINPERSOON.nunique():,} ids')\n"
        "!ls -la"
    ),
    v4.new_raw_cell("Version 1.2, 2024-05-01"),
]


def test_clean_analysis_has_no_findings(tmp_path):
    report = _strip_cells(tmp_path, *CLEAN_ANALYSIS)
    assert report.findings == [] and report.ok
    assert report.text().splitlines()[-1].startswith("OK:")


def test_script_is_scanned_with_the_same_rules(tmp_path):
    report = _strip_cells(tmp_path, *CLEAN_ANALYSIS)
    rules = load_rules()
    assert scan_text(report.script.read_text(encoding="utf-8"), cell=report.script.name, rules=rules) == []
    leaky = (
        report.script.read_text(encoding="utf-8")
        + "\n# | gemeente | aantal |\n# |---|---|\n# | Leiden | 12 |\n# | Delft | 7 |\n"
    )
    assert [f.rule for f in scan_text(leaky, cell=report.script.name, rules=rules)] == ["data"]


def test_the_script_adds_what_only_it_shows(tmp_path):
    ident = demo.persons(5, seed=9)["RINPERSOON"].iloc[0]
    src = write_nb(tmp_path / f"person_{ident}.ipynb", v4.new_notebook(cells=[v4.new_code_cell("x = 1")]))
    report = strip_notebook(src, tmp_path / "copy.ipynb")
    assert [(f.rule, f.where) for f in report.findings] == [("identifier", "script line 1")]


# --- the report ----------------------------------------------------------------------------------------


def test_report_round_trips_and_reads_plainly(tmp_path):
    ident = demo.persons(5, seed=8)["RINPERSOON"].iloc[0]
    report = _strip_cells(tmp_path, with_outputs(v4.new_code_cell(f"x = '{ident}'"), 2))
    back = StripReport.from_dict(json.loads(json.dumps(report.to_dict())))
    assert back == report
    text = report.text()
    assert "3 outputs" in text and "1 execution count" in text
    assert "FAIL" in text and "cell 1 (code" in text and "line 1" in text and "Fix:" in text
    assert str(tmp_path) not in json.dumps(report.findings[0].to_dict())


def test_check_writes_nothing_and_says_what_would_leak(tmp_path):
    src = write_nb(tmp_path / "a.ipynb", leaky_notebook())
    report = check_notebook(src)
    assert report.notebook is None and report.script is None
    assert report.would_leak and report.ok
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.ipynb"]
    assert "nothing written" in report.text()


def test_public_names():
    assert cel.strip_notebook is strip_notebook and cel.StripReport is StripReport


# --- the real notebooks --------------------------------------------------------------------------------


CORPUS_FILES = sorted(CORPUS.glob("*.ipynb")) if CORPUS.is_dir() else []


def _only_deletions(before: str, after: str) -> bool:
    ops = difflib.SequenceMatcher(None, before, after, autojunk=False).get_opcodes()
    return all(tag in ("equal", "delete") for tag, *_ in ops)


@pytest.mark.skipif(not CORPUS_FILES, reason="the shared notebook corpus is not beside the repository")
@pytest.mark.parametrize("src", CORPUS_FILES, ids=[p.name for p in CORPUS_FILES])
def test_real_notebooks(tmp_path, src):
    before = src.read_bytes()
    original = nbformat.read(src, as_version=4)

    report = strip_notebook(src, tmp_path / f"{src.stem}.stripped.ipynb")

    assert src.read_bytes() == before
    nb = nbformat.read(report.notebook, as_version=nbformat.NO_CONVERT)
    nbformat.validate(nb)
    assert "widgets" not in nb.metadata
    assert set(nb.metadata) <= {"kernelspec", "language_info"}
    assert [c.cell_type for c in nb.cells] == [c.cell_type for c in original.cells]
    for old, new in zip(original.cells, nb.cells, strict=False):
        assert "attachments" not in new
        assert set(new.metadata) <= {"tags"}
        if new.cell_type == "code":
            assert new.outputs == [] and new.execution_count is None
        if "data:" in old.source:
            assert _only_deletions(old.source, new.source)
        else:
            assert new.source == old.source
        if "id" in old and nb.nbformat_minor == 5 and original.metadata.get("orig_nbformat") is None:
            assert new.id == old.id
    script = report.script.read_text(encoding="utf-8")
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.strip() and not cell.source.lstrip().startswith(("%", "!")):
            assert cell.source.splitlines()[0] in script
