"""Shared fixtures: every test runs with its own user folder, so no test reads or writes real settings."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    """Settings and the default basket live in a fresh folder; no rules override from the environment."""
    home = tmp_path_factory.mktemp("cbs_home")
    monkeypatch.setenv("CBS_EXPORT_HOME", str(home))
    monkeypatch.delenv("CBS_EXPORT_RULES", raising=False)
    return home


@pytest.fixture
def persons():
    from cbs_export_lab import demo

    return demo.persons(5_000, seed=1)


@pytest.fixture
def basket(tmp_path):
    """An empty basket of the test's own."""
    from cbs_export_lab import Basket

    return Basket(tmp_path / "basket")


@pytest.fixture
def exportmap(tmp_path):
    """An empty exportmap as CBS sets it up for a project checked afterwards (achteraf)."""
    from cbs_export_lab import demo

    return demo.make_exportmap(tmp_path / "exportmap", "achteraf")
