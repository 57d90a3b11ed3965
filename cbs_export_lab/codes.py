"""The one table of rule codes, severities, statuses and output kinds (DESIGN section 3 and 5).

Every module names a rule through these: a `Finding` with a code not listed here is refused when it is made, so a
typo can never become a rule no check, route or form knows.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

RuleCode = Literal[
    "threshold",
    "dominance",
    "p_percent",
    "zero",
    "min_max",
    "identifier",
    "microdata",
    "dof",
    "differencing",
    "recoverable",
    "unknown_counts",
    "observations_not_shown",
    "unsupported",
    "data",
    "personal_path",
]
Severity = Literal["fail", "review"]
Status = Literal["pass", "review", "fail"]
Kind = Literal["table", "model", "figure", "unsupported"]
ItemKind = Literal["table", "model", "figure", "syntax", "file"]

RULE_CODES: Final[tuple[str, ...]] = get_args(RuleCode)
SEVERITIES: Final[tuple[str, ...]] = get_args(Severity)
STATUSES: Final[tuple[str, ...]] = get_args(Status)
KINDS: Final[tuple[str, ...]] = get_args(Kind)
ITEM_KINDS: Final[tuple[str, ...]] = get_args(ItemKind)

PASS: Final = "pass"
REVIEW: Final = "review"
FAIL: Final = "fail"

NEVER_EXPORTABLE: Final[tuple[str, ...]] = ("identifier", "microdata")
"""Fails of these rules never leave the RA, whatever the explanation."""
COMBINATION_RULES: Final[tuple[str, ...]] = ("differencing", "recoverable")
"""Rules that judge an output together with others or with what its own margins give away."""
