"""Atomic file writes: readers see the old file or the new one, never half of either.

A temp file in the destination folder is moved over the target with `os.replace`. On Windows a virus scanner
or a reader can hold the target open for a moment, so the move is retried a few times before giving up.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

REPLACE_TRIES = 10
REPLACE_PAUSE = 0.05
T = TypeVar("T")


def _retried(action: Callable[[], T]) -> T:
    """Run `action`, retrying while Windows reports the file as in use by another process."""
    for attempt in range(REPLACE_TRIES):
        try:
            return action()
        except PermissionError:
            if attempt == REPLACE_TRIES - 1:
                raise
            time.sleep(REPLACE_PAUSE * (attempt + 1))
    raise AssertionError("unreachable")


def replace_with_retry(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """`os.replace`, retried while Windows reports the target as in use."""
    _retried(lambda: os.replace(src, dst))


def remove_with_retry(path: str | os.PathLike[str], *, missing_ok: bool = False) -> None:
    """Remove a file, retried while Windows reports it as in use (a virus scanner or a viewer holding it)."""
    _retried(lambda: Path(path).unlink(missing_ok=missing_ok))


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """Read a file that another process may be replacing at this moment (Windows refuses that briefly)."""
    return _retried(Path(path).read_bytes)


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yields a temp path beside `path`; when the block ends without error it replaces `path`.

    On error the temp file is removed and `path` is left as it was.
    """
    target = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        replace_with_retry(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write `data` to `path` atomically, flushed to disk before the replace."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    return Path(path)
