"""CBS's output-light budget, decided exactly.

Output light may hold only tables, model results and graphs, at most
`max(tables/10, cells/1000, count_cells/500) + models/5 + graphs/5 <= 1`, and every graph must show at least
10 observations. Background items and the form count for nothing. Fractions are exact, so CBS's own example
(3 models leave 4 tables, 400 cells, 200 count cells) lands on exactly 1.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .basket import Item

MAX_TABLES = 10
MAX_CELLS = 1000
MAX_COUNT_CELLS = 500
MAX_MODELS = 5
MAX_GRAPHS = 5
MIN_GRAPH_OBSERVATIONS = 10
GRAPH_RULES = ("observations_not_shown", "threshold")


@dataclass(frozen=True)
class LightBudget:
    """How much of the output-light budget the items use, and why they do not fit when they do not.

    `exceeded` names the limits that are over, in words; `reasons` the items that can never be light.
    """

    fraction: float
    fits: bool
    exceeded: list[str] = field(default_factory=list)
    tables: int = 0
    cells: int = 0
    count_cells: int = 0
    models: int = 0
    figures: int = 0
    reasons: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """What the budget was spent on, so a checker can verify a LIGHT_ name at a glance.

        The meter, the plan, `%cbs_basket` and the form all show this one sentence."""
        parts = []
        if self.tables:
            parts.append(
                f"{count_of(self.tables, 'table')} with {count_of(self.cells, 'cell')}, "
                f"{self.count_cells} of them with counts"
            )
        if self.models:
            parts.append(count_of(self.models, "model result"))
        if self.figures:
            parts.append(count_of(self.figures, "graph"))
        return f"{self.fraction:.0%} of the budget: {', '.join(parts) or 'nothing'}"

    @property
    def why_not(self) -> list[str]:
        """Short reasons why these outputs are not output light (empty when they fit)."""
        return [] if self.fits else [*self.exceeded, *self.reasons] or ["over the output-light budget"]

    def details(self) -> str:
        """The words in brackets after the verdict: the reasons (when not light), then the summary."""
        return "; ".join([*self.why_not, self.summary()])

    def verdict(self) -> str:
        """'Output light (62% of the budget: ...)' or 'Not output light (reasons; 82% of the budget: ...)'."""
        return f"{'Output light' if self.fits else 'Not output light'} ({self.details()})"


def count_of(n: int, noun: str) -> str:
    """'1 table', '2 tables'."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def compliant(item: Item) -> bool:
    """Fully meets the guidelines: a pass under rules no looser than the CBS defaults."""
    return item.status == "pass" and item.rules_compliant


def hold_reason(item: Item) -> str | None:
    """Why an output is held back from the next export, or None when it may leave."""
    if item.never_exportable:
        return (
            "it contains identifying data or unit records (identifier or microdata), which never leave the RA, "
            "whatever the explanation. Remove it from the basket and export an aggregated version."
        )
    if item.status != "pass" and not item.has_explanation:
        return (
            f"its check says '{item.status}' and it has no explanation. Fix the findings and add it again, or "
            "add an explanation why there is no disclosure risk."
        )
    if not item.rules_compliant and not item.has_explanation:
        return (
            "it was checked under rules looser than the CBS defaults, so it does not fully meet the guidelines "
            "and CBS asks for an explanation. Check it again under the default rules, or add an explanation "
            "why there is no disclosure risk."
        )
    return None


def light_candidates(items: Iterable[Item], mode: str = "vooraf") -> list[Item]:
    """The outputs the next export puts in the one zip that may be LIGHT_ (the output zip in 1_Controle vooraf).

    Left out: items exported before, background, syntax (its own zip), held-back items, and in mode achteraf the
    fully compliant outputs (they go to 2_Controle achteraf, where output light is not allowed)."""
    return [
        i
        for i in items
        if not i.exported
        and not i.background
        and i.kind != "syntax"
        and hold_reason(i) is None
        and (mode != "achteraf" or not compliant(i))
    ]


def waiting_budget(items: Iterable[Item], mode: str = "vooraf") -> LightBudget:
    """The budget of the next export, computed on exactly what the plan would put in a LIGHT_ zip."""
    return light_budget(light_candidates(items, mode))


def light_budget(items: Iterable[Item]) -> LightBudget:
    """The budget used by `items` (background items are skipped)."""
    tables = cells = count_cells = models = figures = 0
    reasons: list[str] = []
    for item in items:
        if item.background:
            continue
        c = item.counts
        if item.kind == "table":
            tables += max(c.tables, 1)
            cells += c.cells
            count_cells += c.count_cells
            if c.cells == 0:
                reasons.append(f"table {item.title!r}: number of cells not known")
        elif item.kind == "model":
            models += max(c.models, 1)
        elif item.kind == "figure":
            figures += max(c.figures, 1)
            reasons += _graph_reasons(item)
        else:
            what = "a script or notebook" if item.kind == "syntax" else "a file exported as it is"
            reasons.append(f"{item.title!r} is {what}, not a table, model or graph")

    used = (
        max(Fraction(tables, MAX_TABLES), Fraction(cells, MAX_CELLS), Fraction(count_cells, MAX_COUNT_CELLS))
        + Fraction(models, MAX_MODELS)
        + Fraction(figures, MAX_GRAPHS)
    )
    exceeded = []
    for n, limit, what in (
        (tables, MAX_TABLES, "tables"),
        (cells, MAX_CELLS, "cells"),
        (count_cells, MAX_COUNT_CELLS, "cells with counts"),
        (models, MAX_MODELS, "model results"),
        (figures, MAX_GRAPHS, "graphs"),
    ):
        if n > limit:
            exceeded.append(f"{n} {what} (at most {limit})")
    if used > 1 and not exceeded:
        exceeded.append(f"together {float(used):.0%} of the budget (at most 100%)")
    return LightBudget(
        fraction=float(used),
        fits=used <= 1 and not reasons,
        exceeded=exceeded,
        tables=tables,
        cells=cells,
        count_cells=count_cells,
        models=models,
        figures=figures,
        reasons=reasons,
    )


def _graph_reasons(item: Item) -> list[str]:
    """Output light needs every graph to state its observations, at least 10 (unknown fails closed)."""
    short = {
        "observations_not_shown": "does not state its number of observations",
        "threshold": f"shows a part with fewer than {MIN_GRAPH_OBSERVATIONS} observations",
    }
    rules = dict.fromkeys(f.rule for f in item.findings if f.rule in GRAPH_RULES)
    out = [f"graph {item.title!r} {short[rule]} ({rule})" for rule in rules]
    n = item.counts.observations
    if not out and n is None:
        out.append(f"graph {item.title!r}: number of observations not known")
    elif not out and n < MIN_GRAPH_OBSERVATIONS:
        out.append(f"graph {item.title!r} rests on {n} observations (at least {MIN_GRAPH_OBSERVATIONS})")
    return out
