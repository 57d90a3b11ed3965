"""`cbs-export` with its output redirected on Windows: the console code page (cp1252) cannot hold every title."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd

TITLE = "Inkomen \u2714 per \u0101rea \U0001f600 (\u20ac)"


def run_cli(*argv: str, encoding: str = "cp1252") -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONIOENCODING": encoding}
    return subprocess.run(
        [sys.executable, "-m", "cbs_export_lab.cli", *argv], capture_output=True, env=env, timeout=120
    )


def test_basket_listing_with_characters_outside_cp1252_does_not_crash(basket):
    basket.add(pd.DataFrame({"n": [30, 40]}, index=["a", "b"]), TITLE)
    done = run_cli("basket", "--basket", str(basket.folder))
    assert done.returncode == 0, done.stderr.decode("cp1252", "replace")
    out = done.stdout.decode("cp1252")
    assert "Inkomen \\u2714 per \\u0101rea \\U0001f600 (\u20ac)" in out and b"Traceback" not in done.stderr


def test_error_messages_with_such_characters_do_not_crash(tmp_path):
    missing = tmp_path / "tabel \u2714.csv"
    done = run_cli("check", str(missing))
    assert done.returncode == 2 and b"Traceback" not in done.stderr
    assert done.stderr.decode("cp1252").startswith("cbs-export: ")


def test_a_utf8_console_keeps_every_character(basket):
    basket.add(pd.DataFrame({"n": [30, 40]}, index=["a", "b"]), TITLE)
    done = run_cli("basket", "--basket", str(basket.folder), encoding="utf-8")
    assert done.returncode == 0 and TITLE in done.stdout.decode("utf-8")
