"""`cbs-export strip`: stripped copies next to the notebook or in a folder, and a --check for pre-commit hooks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat import v4

from cbs_export_lab import cli, demo


def notebook(path: Path, *, outputs: bool = False, ident: bool = False) -> Path:
    code = v4.new_code_cell(
        "import pandas as pd\npersons = pd.read_csv('persons.csv')\npersons.groupby('geslacht').size()"
    )
    if outputs:
        code.execution_count = 1
        code.outputs = [v4.new_output("execute_result", data={"text/plain": "man 92"}, execution_count=1)]
    cells = [v4.new_markdown_cell("# Analysis"), code]
    if ident:
        rin = demo.persons(3, seed=5)["RINPERSOON"].iloc[0]
        cells.append(v4.new_code_cell(f"persons[persons.RINPERSOON == '{rin}']"))
    nbformat.write(v4.new_notebook(cells=cells), path)
    return path


def files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_strip_writes_copies_next_to_the_notebook(tmp_path, capsys):
    src = notebook(tmp_path / "analysis.ipynb", outputs=True)
    before = src.read_bytes()
    assert cli.main(["strip", str(src)]) == 0
    assert files(tmp_path) == ["analysis.ipynb", "analysis.stripped.ipynb", "analysis.stripped.py"]
    assert src.read_bytes() == before
    assert nbformat.read(tmp_path / "analysis.stripped.ipynb", as_version=4).cells[1].outputs == []
    out = capsys.readouterr().out
    assert "analysis.stripped.ipynb" in out and "1 output" in out and "OK:" in out


def test_strip_into_a_folder(tmp_path):
    a = notebook(tmp_path / "a.ipynb", outputs=True)
    b = notebook(tmp_path / "b.ipynb")
    assert cli.main(["strip", str(a), str(b), "-o", str(tmp_path / "syntax")]) == 0
    assert files(tmp_path / "syntax") == ["a.stripped.ipynb", "a.stripped.py", "b.stripped.ipynb", "b.stripped.py"]


def test_findings_make_exit_1_but_the_copy_is_written(tmp_path, capsys):
    src = notebook(tmp_path / "a.ipynb", ident=True)
    assert cli.main(["strip", str(src)]) == 1
    assert (tmp_path / "a.stripped.ipynb").exists()
    assert "identifier" not in capsys.readouterr().err


def test_check_writes_nothing_and_fails_on_leaks(tmp_path, capsys):
    leaky = notebook(tmp_path / "leaky.ipynb", outputs=True)
    ident = notebook(tmp_path / "ident.ipynb", ident=True)
    clean = notebook(tmp_path / "clean.ipynb")
    listing = files(tmp_path)

    assert cli.main(["strip", "--check", str(leaky)]) == 1
    assert cli.main(["strip", "--check", str(ident)]) == 1
    assert cli.main(["strip", "--check", str(clean)]) == 0
    assert cli.main(["strip", "--check", str(clean), str(leaky)]) == 1
    assert files(tmp_path) == listing
    out = capsys.readouterr().out
    assert "nothing written" in out and "FAIL" in out


def test_in_place_then_check_is_clean(tmp_path):
    src = notebook(tmp_path / "a.ipynb", outputs=True)
    assert cli.main(["strip", "--in-place", str(src)]) == 0
    assert files(tmp_path) == ["a.ipynb", "a.py"]
    assert cli.main(["strip", "--check", str(src)]) == 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["--check", "-o", "out"], "--check writes nothing"),
        (["--check", "--in-place"], "--check writes nothing"),
        (["--in-place", "-o", "out"], "either --in-place or -o"),
    ],
)
def test_conflicting_options(tmp_path, capsys, args, message):
    src = notebook(tmp_path / "a.ipynb", outputs=True)
    assert cli.main(["strip", *args, str(src)]) == 2
    assert message in capsys.readouterr().err
    assert files(tmp_path) == ["a.ipynb"]


def test_bad_input_exits_2_naming_the_file_and_writes_nothing(tmp_path, capsys):
    good = notebook(tmp_path / "good.ipynb", outputs=True)
    broken = tmp_path / "broken.ipynb"
    broken.write_text(good.read_text(encoding="utf-8")[:200], encoding="utf-8")
    table = tmp_path / "table.csv"
    table.write_text("gemeente,aantal\nLeiden,12\n", encoding="utf-8")
    listing = files(tmp_path)

    for bad in (broken, table, tmp_path / "missing.ipynb"):
        assert cli.main(["strip", str(good), str(bad)]) == 2
        err = capsys.readouterr().err
        assert bad.name in err and "Traceback" not in err
    assert files(tmp_path) == listing


def test_two_notebooks_onto_one_file(tmp_path, capsys):
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    a = notebook(tmp_path / "x" / "a.ipynb")
    b = notebook(tmp_path / "y" / "a.ipynb")
    assert cli.main(["strip", str(a), str(b), "-o", str(tmp_path / "out")]) == 2
    assert "same file" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_as_a_command_and_a_git_pre_commit_hook(tmp_path):
    git = shutil.which("git")
    src = notebook(tmp_path / "a.ipynb", outputs=True)
    run = subprocess.run(
        [sys.executable, "-m", "cbs_export_lab.cli", "strip", "--check", str(src)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1, run.stderr
    assert "a.ipynb: checked, nothing written." in run.stdout
    if git is None or sys.platform == "win32":
        pytest.skip("the hook part needs git and a POSIX shell")

    repo = tmp_path / "repo"
    repo.mkdir()
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
        "HOME": str(tmp_path),
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), str(Path(git).parent), "/usr/bin", "/bin"]),
    }
    subprocess.run([git, "init", "-q", str(repo)], check=True, env=env)
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text(
        "#!/bin/sh\n"
        "files=$(git diff --cached --name-only --diff-filter=ACM -- '*.ipynb')\n"
        f"[ -z \"$files\" ] || exec '{sys.executable}' -m cbs_export_lab.cli strip --check $files\n",
        encoding="utf-8",
    )
    hook.chmod(0o755)
    shutil.copy(src, repo / "a.ipynb")

    def commit() -> subprocess.CompletedProcess:
        subprocess.run([git, "add", "a.ipynb"], cwd=repo, check=True, env=env)
        return subprocess.run(
            [git, "commit", "-q", "-m", "analysis"], cwd=repo, capture_output=True, text=True, env=env
        )

    assert commit().returncode != 0
    assert cli.main(["strip", "--in-place", str(repo / "a.ipynb")]) == 0
    assert commit().returncode == 0


def test_the_project_rules_override_applies_to_the_check(tmp_path):
    """A project whose rules say ids have 8 digits gets its 8-digit ids caught by the hook too."""
    from cbs_export_lab.settings import save_user_settings

    src = tmp_path / "a.ipynb"
    nbformat.write(v4.new_notebook(cells=[v4.new_code_cell("wanted = '01234567'")]), src)
    assert cli.main(["strip", "--check", str(src)]) == 0
    rules = tmp_path / "rules.toml"
    rules.write_text("[identifier]\nid_digits = 8\n", encoding="utf-8")
    save_user_settings(rules=str(rules))
    assert cli.main(["strip", "--check", str(src)]) == 1
