"""CBS's output-light budget, decided exactly.

Output light may hold only tables, model results and graphs, at most
`max(tables/10, cells/1000, count_cells/500) + models/5 + graphs/5 <= 1`, and every graph must show at least
10 observations. Background items and the form count for nothing. Fractions are exact, so CBS's own example
(3 models leave 4 tables, 400 cells, 200 count cells) lands on exactly 1.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Iterable

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
        """What the budget was spent on, so a checker can verify a LIGHT_ name at a glance."""
        parts = []
        if self.tables:
            parts.append(f"{count_of(self.tables, 'table')} with {count_of(self.cells, 'cell')}, "
                         f"{self.count_cells} of them with counts")
        if self.models:
            parts.append(count_of(self.models, "model result"))
        if self.figures:
            parts.append(count_of(self.figures, "graph"))
        return f"{self.fraction:.0%} of the budget: {', '.join(parts) or 'nothing'}"


def count_of(n: int, noun: str) -> str:
    """'1 table', '2 tables'."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def waiting_budget(items: Iterable["Item"]) -> LightBudget:
    """The budget of the next export: items exported before no longer count."""
    return light_budget(i for i in items if not i.exported)


def light_budget(items: Iterable["Item"]) -> LightBudget:
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
                reasons.append(f"the number of cells of table {item.title!r} is not known, so the budget cannot be checked")
        elif item.kind == "model":
            models += max(c.models, 1)
        elif item.kind == "figure":
            figures += max(c.figures, 1)
            reasons += _graph_reasons(item)
        else:
            what = "a script or notebook" if item.kind == "syntax" else "a file exported as it is"
            reasons.append(f"{item.title!r} is {what}; output light holds only tables, model results and graphs")

    used = (
        max(Fraction(tables, MAX_TABLES), Fraction(cells, MAX_CELLS), Fraction(count_cells, MAX_COUNT_CELLS))
        + Fraction(models, MAX_MODELS) + Fraction(figures, MAX_GRAPHS)
    )
    exceeded = []
    for n, limit, what in (
        (tables, MAX_TABLES, "tables"), (cells, MAX_CELLS, "cells"), (count_cells, MAX_COUNT_CELLS, "cells with counts"),
        (models, MAX_MODELS, "model results"), (figures, MAX_GRAPHS, "graphs"),
    ):
        if n > limit:
            exceeded.append(f"{n} {what} (at most {limit})")
    if used > 1 and not exceeded:
        exceeded.append(
            f"together they use {float(used):.0%} of the budget (at most 100%): the largest of tables/{MAX_TABLES}, "
            f"cells/{MAX_CELLS} and cells with counts/{MAX_COUNT_CELLS}, plus models/{MAX_MODELS} and graphs/{MAX_GRAPHS}"
        )
    return LightBudget(
        fraction=float(used), fits=used <= 1 and not reasons, exceeded=exceeded, tables=tables, cells=cells,
        count_cells=count_cells, models=models, figures=figures, reasons=reasons,
    )


def _graph_reasons(item: "Item") -> list[str]:
    """Output light needs every graph to state its observations, at least 10 (unknown fails closed)."""
    out = [
        f"graph {item.title!r} does not show at least {MIN_GRAPH_OBSERVATIONS} observations everywhere "
        f"({f.rule}: {f.message})"
        for f in item.findings if f.rule in GRAPH_RULES
    ]
    n = item.counts.observations
    if not out and n is None:
        out.append(f"the number of observations of graph {item.title!r} is not known; output light needs it shown")
    elif not out and n < MIN_GRAPH_OBSERVATIONS:
        out.append(f"graph {item.title!r} rests on {n} observations; output light needs at least {MIN_GRAPH_OBSERVATIONS}")
    return out
