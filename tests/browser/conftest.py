"""JupyterLab installed from the built wheel, on loopback, driven by Debian's Chromium through Playwright.

Outside CI the browser tests are skipped (with the reason) when the wheel venv, Chromium or Playwright is missing;
under CI=true they fail instead, so a broken set-up cannot pass unnoticed. `make test` provides all three.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives JupyterLab from the built wheel in Chromium")


def require(ok: bool, reason: str) -> None:
    if ok:
        return
    if IN_CI:
        pytest.fail(f"{reason} (under CI=true the browser test must run)")
    pytest.skip(reason)


def _bin(venv: Path, name: str) -> Path:
    return venv / ("Scripts" if sys.platform == "win32" else "bin") / name


@pytest.fixture(scope="session")
def lab_venv() -> Path:
    venv = Path(os.environ.get("CBS_LAB_VENV", ROOT / ".venv-wheel"))
    if not venv.is_absolute():
        venv = ROOT / venv
    require(
        (venv / ".installed").is_file() and _bin(venv, "jupyter").exists(),
        f"no JupyterLab installed from the built wheel in {venv.name} (`make wheel` builds it)",
    )
    return venv


@pytest.fixture(scope="session")
def wheel_jupyter(lab_venv: Path):
    """Run a `jupyter` subcommand of the wheel venv; stdout and stderr together (the lists write to both)."""

    def run(*args: str) -> str:
        path = f"{_bin(lab_venv, '')}{os.pathsep}{os.environ.get('PATH', '')}"
        done = subprocess.run(
            [str(_bin(lab_venv, "jupyter")), *args],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PATH": path},
        )
        return re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)

    return run


@pytest.fixture(scope="session")
def chromium() -> str:
    path = os.environ.get("CBS_CHROMIUM", "/usr/bin/chromium")
    require(Path(path).is_file(), f"Chromium is not installed at {path} (`make chromium` installs Debian's)")
    return path


@pytest.fixture
def playwright_api():
    """Per test: the sync API keeps an event loop running until it stops, which would break later asyncio tests."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "the playwright package is not installed (it is in the [test] extra)")
    with sync_playwright() as pw:
        yield pw


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _quiet_lab_settings(folder: Path) -> None:
    """No news or update toasts over the panels in the screenshots."""
    target = folder / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}), encoding="utf-8")


@pytest.fixture
def lab(lab_venv: Path, tmp_path: Path, isolated_home: Path):
    """A JupyterLab server from the wheel venv, sharing this test's CBS_EXPORT_HOME (so the same basket)."""
    root = tmp_path / "work"
    root.mkdir()
    jupyter = tmp_path / "jupyter"
    _quiet_lab_settings(jupyter / "lab-settings")
    port = _free_port()
    env = {
        **os.environ,
        "CBS_EXPORT_HOME": str(isolated_home),
        "JUPYTER_CONFIG_DIR": str(jupyter / "config"),
        "JUPYTER_DATA_DIR": str(jupyter / "data"),
        "JUPYTER_RUNTIME_DIR": str(jupyter / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(jupyter / "lab-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(jupyter / "workspaces"),
    }
    log = open(tmp_path / "jupyterlab.log", "w", encoding="utf-8")
    proc = subprocess.Popen(
        [
            str(_bin(lab_venv, "jupyter")),
            "lab",
            "--no-browser",
            "--allow-root",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            "--IdentityProvider.token=",
            "--ServerApp.password=",
            f"--ServerApp.root_dir={root}",
        ],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            if proc.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"{url}/api/status", timeout=2):
                    break
            except OSError:
                time.sleep(0.25)
        if proc.poll() is not None:
            pytest.fail(f"JupyterLab exited early:\n{(tmp_path / 'jupyterlab.log').read_text()}")
        yield {"url": url, "root": root, "log": tmp_path / "jupyterlab.log"}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def page(playwright_api, chromium: str, lab: dict):
    browser = playwright_api.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    try:
        yield page
    finally:
        context.close()
        browser.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
