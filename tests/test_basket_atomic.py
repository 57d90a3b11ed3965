"""Atomic writes: the old file or the new one, never half; files Windows holds open for a moment are retried."""

from __future__ import annotations

import os

import pytest

from cbs_export_lab import atomic


def held_open_for(times: int, action):
    """Stands for Windows refusing a file that a scanner or reader has open, `times` times in a row."""
    calls = []

    def flaky(*args):
        calls.append(args)
        if len(calls) <= times:
            raise PermissionError(13, "The process cannot access the file because it is being used")
        return action(*args)

    return flaky, calls


def test_a_briefly_held_target_is_replaced_after_retries(tmp_path, monkeypatch):
    target = tmp_path / "manifest.json"
    target.write_bytes(b"old")
    flaky, calls = held_open_for(3, os.replace)
    monkeypatch.setattr(atomic.os, "replace", flaky)
    monkeypatch.setattr(atomic, "REPLACE_PAUSE", 0)
    atomic.write_bytes(target, b"new")
    assert target.read_bytes() == b"new" and len(calls) == 4
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]


def test_a_target_held_for_good_keeps_the_old_content_and_no_temp_file(tmp_path, monkeypatch):
    target = tmp_path / "manifest.json"
    target.write_bytes(b"old")
    flaky, _ = held_open_for(atomic.REPLACE_TRIES, os.replace)
    monkeypatch.setattr(atomic.os, "replace", flaky)
    monkeypatch.setattr(atomic, "REPLACE_PAUSE", 0)
    with pytest.raises(PermissionError):
        atomic.write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]


def test_an_error_while_writing_leaves_the_old_file(tmp_path):
    target = tmp_path / "book.xlsx"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic.atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("crash while writing")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["book.xlsx"]
