"""The export basket: outputs chosen for export, stored on disk as a manifest plus rendered artefacts.

The folder is the single source of truth shared by the kernel, the server and the CLI.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .results import Counts, Finding, never_exportable, overall_status

ITEM_KINDS = ("table", "model", "figure", "syntax", "file")


@dataclass
class Item:
    """One output in the basket. `files` are paths relative to the basket folder (POSIX separators)."""

    id: str
    title: str
    kind: str
    status: str
    findings: list[Finding] = field(default_factory=list)
    counts: Counts = field(default_factory=Counts)
    files: list[str] = field(default_factory=list)
    background: bool = False
    background_for: str | None = None
    explanation: str | None = None
    exported: list[dict[str, Any]] = field(default_factory=list)
    description: str = ""
    source: str | None = None
    unit: str | None = None
    weighted: bool = False
    rules_origin: str = "defaults"
    rules_compliant: bool = True
    added_at: str = ""

    @property
    def never_exportable(self) -> bool:
        return never_exportable(self.findings)

    @property
    def needs_explanation(self) -> bool:
        return self.status != "pass" and not self.background

    @property
    def has_explanation(self) -> bool:
        return bool(self.explanation and self.explanation.strip())
