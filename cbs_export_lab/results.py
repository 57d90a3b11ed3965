"""What a check says: findings, counts and the overall verdict, as plain dataclasses.

These are stored in the basket as JSON, shown by the magic and the sidebar, and written on the output
control form, so everything here round-trips through `to_dict` / `from_dict`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .codes import KINDS, NEVER_EXPORTABLE, RULE_CODES, SEVERITIES, STATUSES, RuleCode, Severity  # noqa: F401

if TYPE_CHECKING:
    from .rules import Rules


@dataclass(frozen=True)
class Finding:
    """One disclosure risk: which rule, how bad, what, where, how to fix it, and the table cells concerned."""

    rule: RuleCode
    severity: Severity
    message: str
    where: str = ""
    fix: str = ""
    cells: list[tuple[Any, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be 'fail' or 'review', not {self.severity!r}")
        if self.rule not in RULE_CODES:
            raise ValueError(f"{self.rule!r} is not a rule code of cbs_export_lab.codes.RULE_CODES")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["cells"] = [[_jsonable(r), _jsonable(c)] for r, c in self.cells]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Finding:
        return cls(
            rule=d["rule"],
            severity=d["severity"],
            message=d["message"],
            where=d.get("where", ""),
            fix=d.get("fix", ""),
            cells=[tuple(c) for c in d.get("cells", [])],
        )

    def text(self) -> str:
        """One paragraph: what, where, and the fix."""
        parts = [f"[{self.severity.upper()} {self.rule}] {self.message}"]
        if self.where:
            parts.append(f"Where: {self.where}.")
        if self.fix:
            parts.append(f"Fix: {self.fix}")
        return " ".join(parts)


def _jsonable(label: Any) -> Any:
    if isinstance(label, tuple):
        return [_jsonable(x) for x in label]
    if label is None or isinstance(label, (str, int, float, bool)):
        return label
    item = getattr(label, "item", None)
    if callable(item):
        try:
            return item()
        except (TypeError, ValueError):
            pass
    return str(label)


@dataclass(frozen=True)
class Counts:
    """What an output weighs in CBS's output-light budget, and the units behind it.

    `cells` counts data cells including margins; `count_cells` the cells holding frequencies (percentages of
    frequencies included); `observations` is None when unknown.
    """

    tables: int = 0
    cells: int = 0
    count_cells: int = 0
    models: int = 0
    figures: int = 0
    observations: int | None = None

    def __add__(self, other: Counts) -> Counts:
        obs = (
            None if self.observations is None or other.observations is None else self.observations + other.observations
        )
        return Counts(
            self.tables + other.tables,
            self.cells + other.cells,
            self.count_cells + other.count_cells,
            self.models + other.models,
            self.figures + other.figures,
            obs,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Counts:
        return cls(**{k: d.get(k, 0 if k != "observations" else None) for k in cls.__dataclass_fields__})


def overall_status(findings: Iterable[Finding]) -> str:
    """fail if any finding fails, else review if any needs review, else pass."""
    severities = {f.severity for f in findings}
    return "fail" if "fail" in severities else "review" if "review" in severities else "pass"


def never_exportable(findings: Iterable[Finding]) -> bool:
    """Identifier and microdata fails never leave the RA, whatever the explanation."""
    return any(f.severity == "fail" and f.rule in NEVER_EXPORTABLE for f in findings)


@dataclass
class CheckResult:
    """The verdict on one kernel object. `details` holds what views may show (e.g. the cell statistics)."""

    kind: str
    findings: list[Finding] = field(default_factory=list)
    counts: Counts = field(default_factory=Counts)
    source: str | None = None
    rules_origin: str = "defaults"
    unit: str | None = None
    weighted: bool = False
    details: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def status(self) -> str:
        return overall_status(self.findings)

    @property
    def never_exportable(self) -> bool:
        return never_exportable(self.findings)

    @property
    def failing_cells(self) -> list[tuple[Any, Any]]:
        return [c for f in self.findings if f.severity == "fail" for c in f.cells]

    def with_findings(self, extra: Sequence[Finding]) -> CheckResult:
        return replace(self, findings=[*self.findings, *extra])

    def report(self) -> str:
        """The whole verdict as readable plain text (terminal IPython, nbconvert, CLI)."""
        return report_text(self.kind, self.status, self.findings, self.counts, self.source)

    def __str__(self) -> str:
        return self.report()

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "status": self.status,
            "findings": [f.to_dict() for f in self.findings],
            "counts": self.counts.to_dict(),
            "source": self.source,
            "rules_origin": self.rules_origin,
            "unit": self.unit,
            "weighted": self.weighted,
        }


def unsupported_result(rules: Rules, why: str, *, where: str, fix: str, kind: str = "unsupported") -> CheckResult:
    """What could not be checked is `review` (rules.unsupported), never a pass."""
    finding = Finding(
        rule="unsupported",
        severity=rules.unsupported,
        message=f"This output could not be checked: {why}.",
        where=where,
        fix=fix,
    )
    return CheckResult(kind=kind, findings=[finding], rules_origin=rules.origin)


STATUS_WORDS = {
    "pass": "PASS: no disclosure risk found; this output can be exported.",
    "review": "REVIEW: this output needs a look before export; add an explanation or fix the points below.",
    "fail": "FAIL: this output must not leave the RA as it is; fix the points below.",
}


def report_text(kind: str, status: str, findings: Sequence[Finding], counts: Counts, source: str | None) -> str:
    lines = [f"{kind.capitalize()} - {STATUS_WORDS[status]}"]
    if never_exportable(findings):
        lines.append("It contains identifying data or unit records and can never be exported.")
    obs = "unknown" if counts.observations is None else f"{counts.observations:,}"
    lines.append(
        f"Counts: {counts.tables} table(s), {counts.cells} cell(s) of which {counts.count_cells} with counts, "
        f"{counts.models} model(s), {counts.figures} graph(s); observations: {obs}."
    )
    if source:
        lines.append(f"Cell statistics from: {source}.")
    for i, f in enumerate(findings, 1):
        lines.append(f"{i}. {f.text()}")
    return "\n".join(lines)


def format_label(label: Any) -> str:
    """A row or column label as a user reads it: tuples of a MultiIndex joined with ' / '."""
    if isinstance(label, (tuple, list)):
        return " / ".join(format_label(x) for x in label)
    return str(label)


def format_cell(row: Any, col: Any) -> str:
    """'row X, column Y' for messages; omits the part that is None (a Series has no column)."""
    if col is None:
        return f"row {format_label(row)}"
    if row is None:
        return f"column {format_label(col)}"
    return f"row {format_label(row)}, column {format_label(col)}"


def format_cells(cells: Sequence[tuple[Any, Any]], limit: int = 5) -> str:
    shown = "; ".join(format_cell(r, c) for r, c in cells[:limit])
    more = len(cells) - limit
    return shown + (f"; and {more} more" if more > 0 else "")
