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
    {
        "CON",
        "PRN",
        "AUX",
        "NUL",
        "CONIN$",
        "CONOUT$",
        "CLOCK$",
        *(f"COM{i}" for i in range(10)),
        *(f"LPT{i}" for i in range(10)),
    }
)
_UNSAFE = re.compile(r"[^A-Za-z0-9._ ()+,&'=#%!@\[\]{}~;-]+")
MAX_ID = 64
_ID_CHARS = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


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
    return safe_filename(cleaned, fallback, limit)


def safe_filename(name: str, fallback: str = "file", limit: int = 120) -> str:
    """The one rule for every file name we write: as close to the original as Windows allows (a copied file keeps
    its accents), without characters Windows refuses, trailing dots or spaces, and never a device name.

    Windows ignores trailing spaces and everything after the first dot and reads superscript digits as digits,
    so `con .txt`, `nul.tar.gz`, `COM\u00b9.csv` and `CONIN$.txt` all name devices.
    """
    clean = re.sub(r'[<>:"/\\|?*\x00-\x1f\x7f]', "_", name).strip()[:limit].rstrip(". ")
    if not clean:
        return fallback
    if unicodedata.normalize("NFKD", clean.split(".")[0]).rstrip(" ").upper() in WINDOWS_RESERVED:
        clean = "_" + clean
    return clean


def id_problem(item_id: Any) -> str | None:
    """Why `item_id` cannot name an item folder on every system (None when it can): ids become folder names."""
    if not isinstance(item_id, str) or not item_id:
        return "is empty"
    if len(item_id) > MAX_ID:
        return f"is longer than {MAX_ID} characters"
    if not _ID_CHARS.fullmatch(item_id):
        return "holds characters other than letters, digits, '-' and '_' (such as '.', '/', '\\' or ':')"
    if item_id.upper() in WINDOWS_RESERVED:
        return "is a name Windows reserves for a device"
    return None


def slug(text: str, limit: int) -> str:
    """Lowercase ASCII words joined by '-', for item ids."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return words[:limit].rstrip("-") or "item"


def clean_title(title: Any) -> str:
    if not isinstance(title, str) or not title.strip():
        raise UserError('Every basket item needs a title: give a short non-empty text, e.g. "Inkomen per gemeente".')
    return plain_text(title, "title").strip()


MAX_TEXT = {"title": 300, "description": 5_000, "explanation": 20_000}
"""Longest text kept per field: a title is a line on the form and in the sidebar; an explanation a few pages."""


def plain_text(text: Any, what: str) -> Any:
    """Text that can be stored: a lone surrogate (half an emoji from a broken copy-paste) or a NUL cannot, and
    neither can a text longer than the form and the checker can use."""
    if isinstance(text, str) and any("\ud800" <= c <= "\udfff" or c == "\x00" for c in text):
        raise UserError(
            f"The {what} holds a broken character (half of an emoji or a NUL, e.g. from a copy-paste). "
            f"Type the {what} again."
        )
    limit = MAX_TEXT.get(what)
    if isinstance(text, str) and limit is not None and len(text.strip()) > limit:
        raise UserError(
            f"The {what} has {len(text.strip()):,} characters; keep it to at most {limit:,}. Put longer notes in a "
            "file and add that file to the basket as background information."
        )
    return text


def unique_title(title: str, taken: set[str]) -> str:
    """`title`, or 'title (2)', 'title (3)' ... when the basket already has it."""
    if title not in taken:
        return title
    n = 2
    while f"{title} ({n})" in taken:
        n += 1
    return f"{title} ({n})"
