"""Names that are valid on every system, and the one test that a path stays inside a folder.

Item ids, file names in the basket and names inside the export zips must work on Windows (the Remote Access
desktop) as well as on Linux; titles are what the researcher typed. Every path that comes from outside the
code (a request, a hand-edited manifest, a zip name built from a title) is tested with `is_inside` before
anything is read or written there.
"""
from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from .errors import UserError

WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
)
_UNSAFE = re.compile(r"[^A-Za-z0-9._ ()+,&'=#%!@\[\]{}~;-]+")


def is_inside(path: str | os.PathLike[str], folder: str | os.PathLike[str]) -> bool:
    """Whether `path` lies in `folder` (or is `folder`).

    A relative path is read from `folder` and judged by its words alone, the same on every system and without
    touching the disk: it may not climb out with '..' or name a drive (how the manifest keeps item files). An
    absolute path is resolved first, so '..' and symbolic links that lead out of `folder` count as outside."""
    posix = PurePosixPath(path)
    if not posix.is_absolute() and not Path(path).is_absolute():
        windows = PureWindowsPath(path)
        return ".." not in posix.parts and ".." not in windows.parts and not windows.drive
    return Path(path).resolve().is_relative_to(Path(folder).resolve())


def safe_name(text: str, fallback: str = "output", limit: int = 80) -> str:
    """ASCII, valid on Windows and without path separators: accents dropped, characters Windows forbids in names
    become '_' ('+', ',', '&' and brackets stay). A long text is cut at a word, so the title stays readable."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    cleaned = re.sub(r"\s+", " ", _UNSAFE.sub("_", ascii_text)).strip(" ._")
    if len(cleaned) > limit:
        cut = cleaned[: limit + 1].rsplit(" ", 1)[0]
        cleaned = cut if len(cut) >= limit // 2 else cleaned[:limit]
    cleaned = cleaned.strip(" ._")
    if cleaned.split(".")[0].upper() in WINDOWS_RESERVED:
        cleaned = "_" + cleaned
    return cleaned or fallback


def safe_filename(name: str) -> str:
    """A file name kept as close to the original as Windows allows (a copied file keeps its accents)."""
    clean = re.sub(r'[<>:"/\\|?*\x00-\x1f]', "_", name).rstrip(". ") or "file"
    if clean.split(".")[0].upper() in WINDOWS_RESERVED:
        clean = "_" + clean
    return clean[:120]


def slug(text: str, limit: int) -> str:
    """Lowercase ASCII words joined by '-', for item ids."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return words[:limit].rstrip("-") or "item"


def clean_title(title: Any) -> str:
    if not isinstance(title, str) or not title.strip():
        raise UserError("Every basket item needs a title: give a short non-empty text, e.g. \"Inkomen per gemeente\".")
    return title.strip()


def unique_title(title: str, taken: set[str]) -> str:
    """`title`, or 'title (2)', 'title (3)' ... when the basket already has it."""
    if title not in taken:
        return title
    n = 2
    while f"{title} ({n})" in taken:
        n += 1
    return f"{title} ({n})"
