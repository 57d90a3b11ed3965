"""`cbs-export check | basket | prepare` as a researcher runs them in a terminal."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import pandas as pd

from cbs_export_lab.cli import main
from cbs_export_lab.exportmap import ACHTERAF


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cbs-export: ") and "Traceback" not in err
    return lines[0]


def test_check_exit_codes_follow_the_verdict(tmp_path, persons, capsys):
    passing = tmp_path / "leeftijd.csv"
    persons.groupby("leeftijdsklasse", observed=True).size().to_frame("aantal").to_csv(passing)
    failing = tmp_path / "gemeente.xlsx"
    by_gemeente = pd.crosstab(persons["gemeente"], persons["geslacht"])
    by_gemeente.to_excel(failing)
    small = by_gemeente.stack()[lambda counts: (counts > 0) & (counts < 10)].index[0]
    review = tmp_path / "gemiddelden.parquet"
    persons.groupby("gemeente", observed=True)[["inkomen"]].mean().reset_index().to_parquet(review)

    source = tmp_path / "personen.parquet"
    persons.to_parquet(source)

    code, out, _ = run(capsys, "check", str(passing), "--data", str(source))
    assert code == 0 and "PASS" in out
    code, out, _ = run(capsys, "check", str(passing))
    assert code == 3 and "unknown_counts" in out  # without its source a table of counts cannot pass
    code, out, _ = run(capsys, "check", str(failing))
    assert code == 1 and "FAIL" in out and f"row {small[0]}, column {small[1]}" in out
    code, out, _ = run(capsys, "check", str(review), "--json")
    assert code == 3 and json.loads(out)["status"] == "review"


def test_check_bad_file_is_one_line_and_exit_2(tmp_path, capsys):
    code, _, err = run(capsys, "check", str(tmp_path / "missing.csv"))
    assert code == 2 and "missing.csv does not exist" in one_line_error(err)
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    code, _, err = run(capsys, "check", str(notes))
    assert code == 2 and "only .csv, .xlsx, .parquet files can be read" in one_line_error(err)
    broken = tmp_path / "kapot.xlsx"
    broken.write_bytes(b"not a workbook")
    code, _, err = run(capsys, "check", str(broken))
    assert code == 2 and "kapot.xlsx cannot be read as a table" in one_line_error(err)
    empty = tmp_path / "leeg.csv"
    empty.write_bytes(b"")
    code, _, err = run(capsys, "check", str(empty))
    assert code == 2 and "leeg.csv cannot be read as a table" in one_line_error(err)


def test_check_reads_the_csv_files_researchers_write(tmp_path, persons, capsys):
    """One column (no delimiter to find), and Dutch Excel's semicolons with decimal commas and a byte-order mark."""
    counts = persons["leeftijdsklasse"].value_counts().sort_index()
    one_column = tmp_path / "aantallen.csv"
    counts.to_frame("aantal").reset_index(drop=True).to_csv(one_column, index=False)
    code, out, _ = run(capsys, "check", str(one_column), "--json")
    assert json.loads(out)["counts"]["cells"] == len(counts)

    means = persons.groupby("gemeente", observed=True)["inkomen"].agg(["mean", "size"])
    dutch = tmp_path / "gemiddelden.csv"
    means.to_csv(dutch, sep=";", decimal=",", encoding="utf-8-sig")
    code, out, _ = run(capsys, "check", str(dutch), "--json")
    result = json.loads(out)
    assert result["counts"]["cells"] == means.size
    small = means.index[means["size"] < 10]
    assert small.size and code == 1
    assert {tuple(c) for f in result["findings"] for c in f["cells"] if f["rule"] == "threshold"} >= {
        (g, "size") for g in small
    }


def test_basket_lists_items_in_text_and_json(basket, persons, capsys):
    basket.add(pd.crosstab(persons["leeftijdsklasse"], persons["geslacht"]), "Leeftijd", data=persons)
    basket.add(pd.crosstab(persons["gemeente"], persons["geslacht"]), "Gemeente", explanation="Merged later.")
    code, out, _ = run(capsys, "basket", "--basket", str(basket.folder))
    assert code == 0
    assert "[pass] Leeftijd (table; no explanation; not exported)" in out
    assert "[fail] Gemeente (table; explained; not exported)" in out
    code, out, _ = run(capsys, "basket", "--basket", str(basket.folder), "--json")
    doc = json.loads(out)
    assert [(i["title"], i["status"]) for i in doc["items"]] == [("Leeftijd", "pass"), ("Gemeente", "fail")]


def test_prepare_dry_run_says_the_plan_and_writes_nothing(basket, exportmap, persons, capsys):
    basket.add(pd.crosstab(persons["leeftijdsklasse"], persons["geslacht"]), "Leeftijd", data=persons)
    basket.add(pd.crosstab(persons["gemeente"], persons["geslacht"]), "Gemeente")
    code, out, _ = run(
        capsys,
        "prepare",
        "--basket",
        str(basket.folder),
        "--exportmap",
        str(exportmap),
        "--project",
        "9001",
        "--dry-run",
    )
    assert code == 0
    assert "1 output goes to 2_Controle achteraf as 9001_" in out
    assert "'Gemeente' is held back because its check says 'fail'" in out
    assert list(exportmap.rglob("*.zip")) == []
    code, out, _ = run(
        capsys,
        "prepare",
        "--basket",
        str(basket.folder),
        "--exportmap",
        str(exportmap),
        "--mode",
        "vooraf",
        "--dry-run",
        "--json",
    )
    plan = json.loads(out)
    assert plan["mode"] == "vooraf" and [z["folder"] for z in plan["zips"]] == ["1_Controle vooraf"]


def test_prepare_writes_the_zips_and_reports_them(basket, exportmap, persons, capsys):
    basket.add(pd.crosstab(persons["leeftijdsklasse"], persons["geslacht"]), "Leeftijd", data=persons)
    code, out, _ = run(capsys, "prepare", "--basket", str(basket.folder), "--exportmap", str(exportmap), "--json")
    assert code == 0
    written = json.loads(out)["zips"]
    assert len(written) == 1 and f"/{ACHTERAF}/" in written[0].replace("\\", "/")
    assert "outputcontroleformulier.xlsx" in zipfile.ZipFile(written[0]).namelist()
    code, out, _ = run(capsys, "prepare", "--basket", str(basket.folder), "--exportmap", str(exportmap))
    assert code == 0 and "Nothing was exported" in out


def test_prepare_mistakes_are_one_line_and_exit_2(basket, tmp_path, capsys):
    code, _, err = run(capsys, "prepare", "--basket", str(basket.folder), "--exportmap", str(tmp_path / "nope"))
    assert code == 2 and "nope does not exist" in one_line_error(err)
    code, _, err = run(capsys, "prepare", "--basket", str(basket.folder))
    assert code == 2 and "No exportmap given" in one_line_error(err)


def test_console_script_runs(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cbs_export_lab.cli",
            "prepare",
            "--exportmap",
            str(tmp_path / "x"),
            "--basket",
            str(tmp_path / "b"),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().startswith("cbs-export: The exportmap") and "Traceback" not in done.stderr
