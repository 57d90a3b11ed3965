"""Project settings shared by the kernel, the server and the CLI.

A user-level `settings.toml` in the platform's user config folder, overridden key by key by a project file
`cbs-export.toml` found by walking up from the working folder. `CBS_EXPORT_HOME` moves both the user config
and the default basket (useful for tests and for shared RA set-ups).
"""

from __future__ import annotations

import os
import sys
import unicodedata
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .atomic import write_bytes
from .errors import UserError
from .rules import RULES_ENV, Rules, load_rules

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

APP = "cbs_export_lab"
HOME_ENV = "CBS_EXPORT_HOME"
PROJECT_FILE = "cbs-export.toml"
USER_FILE = "settings.toml"
MODES = ("vooraf", "achteraf")
RA_EXPORTMAP = Path("F:/exportmap")
QUOTE_HINT = (
    "A Windows path needs single quotes ('F:\\exportmap') or forward slashes (\"F:/exportmap\"): "
    "in double quotes a backslash starts an escape."
)
_ESCAPED = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


class SettingsError(UserError):
    """A settings file or value that cannot be used; the message names the file, the key and what to do."""


@dataclass(frozen=True)
class Settings:
    """Effective settings. `origins` says which file set each key ("default" when none did)."""

    project: str | None = None
    researcher: str | None = None
    exportmap: Path | None = None
    mode: str | None = None
    basket: Path | None = None
    rules: Path | None = None
    origins: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def basket_folder(self) -> Path:
        return self.basket or user_data_dir() / "basket"

    @property
    def exportmap_folder(self) -> Path | None:
        if self.exportmap is not None:
            return self.exportmap
        return RA_EXPORTMAP if RA_EXPORTMAP.is_dir() else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "researcher": self.researcher,
            "exportmap": str(self.exportmap_folder) if self.exportmap_folder else None,
            "mode": self.mode,
            "basket": str(self.basket_folder),
            "rules": str(self.rules) if self.rules else None,
            "origins": dict(self.origins),
        }


_KEYS = tuple(f.name for f in fields(Settings) if f.name != "origins")
_PATH_KEYS = ("exportmap", "basket", "rules")


def user_config_dir() -> Path:
    home = os.environ.get(HOME_ENV)
    if home:
        return Path(home).expanduser() / "config"
    import platformdirs

    return Path(platformdirs.user_config_dir(APP, appauthor=False))


def user_data_dir() -> Path:
    home = os.environ.get(HOME_ENV)
    if home:
        return Path(home).expanduser() / "data"
    import platformdirs

    return Path(platformdirs.user_data_dir(APP, appauthor=False))


def user_settings_file() -> Path:
    return user_config_dir() / USER_FILE


def find_project_file(start: str | os.PathLike[str] | None = None) -> Path | None:
    """The nearest `cbs-export.toml` in `start` or one of its parents."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / PROJECT_FILE
        if candidate.is_file():
            return candidate
    return None


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8-sig")
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        hint = f" {QUOTE_HINT}" if "\\" in text else ""
        raise SettingsError(f"Settings file {path} is not valid TOML ({exc}).{hint} Correct or delete it.") from None
    except UnicodeDecodeError:
        raise SettingsError(f"Settings file {path} is not UTF-8 text. Save it as UTF-8 and try again.") from None
    except OSError as exc:
        raise SettingsError(f"Settings file {path} cannot be read: {exc.strerror}.") from None
    values = {}
    for key, value in doc.items():
        values[key] = _validated(key, value, path)
    return values


def _validated(key: str, value: Any, where: Path | str) -> Any:
    if key not in _KEYS:
        raise SettingsError(f"{where}: unknown setting {key!r}. Known settings: {', '.join(_KEYS)}.")
    if value is None:
        return None
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise SettingsError(f"{where}: {key} must be text, not {value!r}.")
    value = str(value).strip()
    if not value:
        return None
    _refuse_control_characters(key, value, where)
    if key == "mode" and value not in MODES:
        raise SettingsError(f'{where}: mode must be "vooraf" or "achteraf" (or left out to detect it), not {value!r}.')
    if key in _PATH_KEYS:
        path = Path(value).expanduser()
        if not path.is_absolute():
            base = Path(where).parent if isinstance(where, Path) else Path.cwd()
            path = base / path
        return path
    return value


def _refuse_control_characters(key: str, value: str, where: Path | str) -> None:
    """Control characters are never part of a setting; in a file they come from a single backslash in double
    quotes ("F:\\basket" reads as F:, backspace, "asket"), so say how to write the path instead."""
    bad = next((c for c in value if unicodedata.category(c) in ("Cc", "Cs") or c in "\u2028\u2029"), None)
    if bad is None:
        return
    shown = _ESCAPED.get(bad, f"U+{ord(bad):04X}")
    message = f"{where}: {key} holds the control character {shown}, which no project number, name or path has."
    if isinstance(where, Path) and bad in _ESCAPED:
        message += f" {QUOTE_HINT} Correct the file."
    else:
        message += " Type the value again without it."
    raise SettingsError(message)


def load_settings(start: str | os.PathLike[str] | None = None) -> Settings:
    """User settings, then the project file (if any) on top."""
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for path in (user_settings_file(), find_project_file(start)):
        if path is not None and path.is_file():
            for key, value in _read(path).items():
                values[key] = value
                origins[key] = str(path)
    return Settings(**values, origins={k: origins.get(k, "default") for k in _KEYS})


def save_user_settings(**changes: Any) -> Settings:
    """Update the user-level settings file (the sidebar and `cbs-export` write here)."""
    path = user_settings_file()
    current = _read(path) if path.is_file() else {}
    for key, value in changes.items():
        current[key] = _validated(key, value, "setting")
    current = {k: str(v) for k, v in current.items() if v is not None}
    data = _toml_bytes(current, path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(path, data)
    except OSError as exc:
        raise SettingsError(
            f"The settings could not be saved to {path}: {exc.strerror or exc}. The previous settings are unchanged. "
            "Check that the disk is not full and that you may write in that folder, then save again."
        ) from None
    return load_settings()


def _toml_bytes(values: dict[str, str], path: Path) -> bytes:
    """The settings file as a TOML writer writes it, refused unless it reads back as exactly these values."""
    import tomli_w

    text = tomli_w.dumps(values)
    try:
        back = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        back = None
    if back != values:
        raise SettingsError(
            f"The settings cannot be written to {path} so that they read back the same; nothing "
            "was changed. Remove unusual characters from the values and save again."
        )
    return text.encode("utf-8")


def active_rules() -> Rules:
    """The rules in force: $CBS_EXPORT_RULES, else the settings' rules override, else the defaults."""
    if os.environ.get(RULES_ENV):
        return load_rules()
    return load_rules(load_settings().rules)
