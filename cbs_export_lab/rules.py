"""The disclosure rules: one object, read from one file (the shipped defaults plus an optional override).

Every other module asks this one for numbers and for what counts as a linking key; none hard-codes them.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import UserError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

RULES_ENV = "CBS_EXPORT_RULES"
SEVERITIES = ("fail", "review")


class RulesError(UserError):
    """A rules override that cannot be used; the message names the file and the key."""


# (section, key) -> attribute name, expected type, which direction is stricter
_KEYS: dict[tuple[str, str], tuple[str, type, str]] = {
    ("threshold", "min_units"): ("threshold", int, "higher"),
    ("threshold", "min_model_level"): ("model_level_threshold", int, "higher"),
    ("dominance", "n"): ("dominance_n", int, "higher"),
    ("dominance", "k"): ("dominance_k", float, "lower"),
    ("p_percent", "p"): ("p_percent", float, "higher"),
    ("zero", "severity"): ("zero", str, "severity"),
    ("min_max", "severity"): ("min_max", str, "severity"),
    ("identifier", "names"): ("linking_keys", list, "superset"),
    ("identifier", "prefixes"): ("linking_key_prefixes", list, "superset"),
    ("identifier", "id_digits"): ("id_digits", int, "same"),
    ("dof", "min_dof"): ("dof", int, "higher"),
    ("unknown_counts", "severity"): ("unknown_counts", str, "severity"),
    ("observations_not_shown", "severity"): ("observations_not_shown", str, "severity"),
    ("unsupported", "severity"): ("unsupported", str, "severity"),
    ("plain_table", "microdata_row_share"): ("microdata_row_share", float, "lower"),
    ("plain_table", "unlabelled_records"): ("unlabelled_records", int, "lower"),
    ("plain_table", "id_distinct_share"): ("id_distinct_share", float, "lower"),
    ("plain_table", "id_written_share"): ("id_written_share", float, "lower"),
    ("plain_table", "id_sample"): ("id_sample", int, "same"),
    ("plain_table", "source_rows_sample"): ("source_rows_sample", int, "same"),
    ("plain_table", "share_tolerance"): ("share_tolerance", float, "same"),
    ("plain_table", "share_line_tolerance"): ("share_line_tolerance", float, "same"),
    ("plain_table", "percent_line_tolerance"): ("percent_line_tolerance", float, "same"),
    ("plain_table", "share_base_tolerance"): ("share_base_tolerance", float, "same"),
    ("plain_table", "max_rounding"): ("max_rounding", int, "same"),
    ("plain_table", "records_rows"): ("records_rows", int, "lower"),
    ("recoverable", "min_width"): ("recoverable_min_width", int, "higher"),
    ("recoverable", "magnitude_width"): ("recoverable_magnitude_width", float, "higher"),
    ("data", "min_literal_numbers"): ("data_literal_numbers", int, "lower"),
    ("data", "min_block_rows"): ("data_block_rows", int, "lower"),
    ("data", "min_block_numbers"): ("data_block_numbers", int, "lower"),
    ("data", "min_pipe_table_numbers"): ("data_pipe_table_numbers", int, "lower"),
    ("data", "min_labelled_numbers"): ("data_labelled_numbers", int, "lower"),
    ("data", "count_words"): ("count_words", list, "superset"),
    ("data", "count_markers"): ("count_markers", list, "superset"),
    ("data", "not_count_words"): ("not_count_words", list, "subset"),
    ("personal_path", "severity"): ("personal_path", str, "severity"),
    ("personal_path", "home_folders"): ("home_folders", list, "superset"),
    ("personal_path", "person_folder_words"): ("person_folder_words", list, "superset"),
    ("personal_path", "standard_folders"): ("standard_folders", list, "subset"),
    ("figure", "aggregate_line_points"): ("aggregate_line_points", int, "lower"),
    ("figure", "unit_series_lines"): ("unit_series_lines", int, "lower"),
}
_SECTIONS = {section for section, _ in _KEYS} | {"microdata"}


@dataclass(frozen=True)
class Rules:
    """The numbers and lists every check uses. Build with `load_rules`, not by hand."""

    threshold: int
    model_level_threshold: int
    dominance_n: int
    dominance_k: float
    p_percent: float
    zero: str
    min_max: str
    linking_keys: tuple[str, ...]
    linking_key_prefixes: tuple[str, ...]
    id_digits: int
    dof: int
    unknown_counts: str
    observations_not_shown: str
    unsupported: str
    microdata_row_share: float
    unlabelled_records: int
    id_distinct_share: float
    id_written_share: float
    id_sample: int
    source_rows_sample: int
    share_tolerance: float
    share_line_tolerance: float
    percent_line_tolerance: float
    share_base_tolerance: float
    max_rounding: int
    data_literal_numbers: int
    data_block_rows: int
    data_block_numbers: int
    data_pipe_table_numbers: int
    data_labelled_numbers: int
    count_words: tuple[str, ...]
    count_markers: tuple[str, ...]
    not_count_words: tuple[str, ...]
    personal_path: str
    home_folders: tuple[str, ...]
    person_folder_words: tuple[str, ...]
    standard_folders: tuple[str, ...]
    origin: str = "defaults"
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)
    recoverable_min_width: int = 10
    recoverable_magnitude_width: float = 0.10
    records_rows: int = 5
    aggregate_line_points: int = 50
    unit_series_lines: int = 20

    def settings(self) -> dict[str, Any]:
        """The rule settings alone (no origin or sources), as plain values."""
        return {
            f.name: (list(v) if isinstance(v, tuple) else v)
            for f in fields(self)
            if f.name not in ("origin", "sources")
            for v in [getattr(self, f.name)]
        }

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], origin: str) -> Rules:
        """Rules as recorded with an output (`settings()`), to show on the form exactly what was used; a setting
        added since the output was recorded had its default value then (it was a fixed number before)."""
        recorded = {**default_rules().settings(), **settings}
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in recorded.items()}
        return cls(**values, origin=origin, sources=default_rules().sources)

    @property
    def fingerprint(self) -> str:
        """Short hash of the settings, written on the output control form."""
        text = repr(sorted(self.settings().items()))
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def looser_than_defaults(self) -> list[str]:
        """Which settings are looser than CBS's defaults (empty when none is)."""
        return _looser(self, default_rules())

    @property
    def compliant(self) -> bool:
        """Output checked with looser rules than the defaults is never fully compliant."""
        return not self.looser_than_defaults()

    def is_linking_key(self, name: Any) -> bool:
        """Whether a column or index name is a linking key (RINPERSOON, BEID, ...)."""
        if not isinstance(name, str):
            return False
        key = name.strip().upper()
        return key in self._upper_keys or any(key.startswith(p) for p in self._upper_prefixes)

    @property
    def _upper_keys(self) -> frozenset[str]:
        return frozenset(k.upper() for k in self.linking_keys)

    @property
    def _upper_prefixes(self) -> tuple[str, ...]:
        return tuple(p.upper() for p in self.linking_key_prefixes)

    @property
    def id_pattern(self) -> re.Pattern[str]:
        """A zero-padded id of exactly `id_digits` digits, as a whole value."""
        return _id_pattern(self.id_digits)

    def looks_like_id(self, value: Any) -> bool:
        """A value written like a linking-key id: a string of exactly `id_digits` digits starting with 0."""
        return isinstance(value, str) and bool(self.id_pattern.fullmatch(value.strip()))


@lru_cache(maxsize=8)
def _id_pattern(digits: int) -> re.Pattern[str]:
    return re.compile(rf"0\d{{{digits - 1}}}")


def _looser(rules: Rules, base: Rules) -> list[str]:
    out = []
    for (section, key), (attr, _, stricter) in _KEYS.items():
        mine, theirs = getattr(rules, attr), getattr(base, attr)
        if stricter == "higher":
            looser = mine < theirs
        elif stricter == "lower":
            looser = mine > theirs
        elif stricter == "severity":
            looser = theirs == "fail" and mine != "fail"
        elif stricter == "superset":
            looser = not {x.upper() for x in theirs} <= {x.upper() for x in mine}
        elif stricter == "subset":
            looser = not {x.upper() for x in mine} <= {x.upper() for x in theirs}
        else:
            looser = mine != theirs
        if looser:
            out.append(f"{section}.{key} = {mine!r} (default {theirs!r})")
    return out


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise RulesError(
            f"Rules file {path} does not exist. Fix the path in your settings or in ${RULES_ENV}."
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"Rules file {path} is not valid TOML: {exc}. Correct the file and try again.") from None
    except OSError as exc:
        raise RulesError(f"Rules file {path} cannot be read: {exc.strerror}.") from None


def _apply(values: dict[str, Any], doc: Mapping[str, Any], where: str, sources: dict[str, str]) -> None:
    for section, table in doc.items():
        if section not in _SECTIONS:
            raise RulesError(f"{where}: unknown section [{section}]. Known sections: {', '.join(sorted(_SECTIONS))}.")
        if not isinstance(table, Mapping):
            raise RulesError(f"{where}: [{section}] must be a table of settings, not {type(table).__name__}.")
        for key, value in table.items():
            if key == "source":
                if not isinstance(value, str):
                    raise RulesError(f"{where}: {section}.source must be text.")
                sources[section] = value
                continue
            if (section, key) not in _KEYS:
                known = sorted(k for s, k in _KEYS if s == section) + ["source"]
                raise RulesError(
                    f"{where}: unknown key {section}.{key}. Known keys in [{section}]: {', '.join(known)}."
                )
            attr, kind, _ = _KEYS[section, key]
            values[attr] = _validated(value, kind, f"{where}: {section}.{key}")


def _validated(value: Any, kind: type, name: str) -> Any:
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise RulesError(f"{name} must be a whole number of 0 or more, not {value!r}.")
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise RulesError(f"{name} must be a number between 0 and 1, not {value!r}.")
        return float(value)
    if kind is str:
        if value not in SEVERITIES:
            raise RulesError(f'{name} must be "fail" or "review", not {value!r}.')
        return value
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise RulesError(f"{name} must be a list of names, not {value!r}.")
    return tuple(v.strip() for v in value)


@lru_cache(maxsize=1)
def default_rules() -> Rules:
    """The shipped defaults (DESIGN section 3)."""
    path = resources.files("cbs_export_lab").joinpath("rules.toml")
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    _apply(values, doc, "shipped rules.toml", sources)
    return Rules(**values, origin="defaults", sources=sources)


def load_rules(path: str | os.PathLike[str] | None = None) -> Rules:
    """The defaults with the override at `path` (or in $CBS_EXPORT_RULES) applied on top."""
    if path is None:
        path = os.environ.get(RULES_ENV) or None
    base = default_rules()
    if path is None:
        return base
    path = Path(path).expanduser()
    return _load_override(str(path.resolve()), path.stat().st_mtime_ns if path.exists() else 0)


@lru_cache(maxsize=16)
def _load_override(path: str, _mtime: int) -> Rules:
    base = default_rules()
    doc = _read_toml(Path(path))
    values = {k: v for k, v in base.settings().items()}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    sources = dict(base.sources)
    _apply(values, doc, f"Rules file {path}", sources)
    return Rules(**values, origin=path, sources=sources)
