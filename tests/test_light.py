"""The output-light budget: CBS's own example, the edge of every limit, and what can never be light."""

from __future__ import annotations

import pytest

from cbs_export_lab.basket import Item
from cbs_export_lab.light import light_budget
from cbs_export_lab.results import Counts, Finding

_n = iter(range(1, 10_000))


def item(kind, *, background=False, findings=(), **counts):
    c = {"table": {"tables": 1}, "model": {"models": 1}, "figure": {"figures": 1, "observations": 500}}.get(kind, {})
    c.update(counts)
    return Item(
        id=f"x{next(_n)}",
        title=f"{kind} {next(_n)}",
        kind=kind,
        status="pass",
        findings=list(findings),
        counts=Counts(**c),
        background=background,
    )


def tables(n, cells=10, count_cells=0):
    return [item("table", cells=cells, count_cells=count_cells) for _ in range(n)]


def models(n):
    return [item("model") for _ in range(n)]


def graphs(n):
    return [item("figure") for _ in range(n)]


def test_cbs_example_three_models_leave_four_tables_400_cells_200_count_cells():
    budget = light_budget(models(3) + tables(4, cells=100, count_cells=50))
    assert (budget.tables, budget.cells, budget.count_cells, budget.models) == (4, 400, 200, 3)
    assert budget.fits and budget.fraction == 1.0 and budget.exceeded == []


def test_cbs_example_with_one_table_more_does_not_fit():
    budget = light_budget(models(3) + tables(5, cells=80, count_cells=40))
    assert not budget.fits
    assert budget.fraction == pytest.approx(1.1)
    assert len(budget.exceeded) == 1 and "110%" in budget.exceeded[0]


@pytest.mark.parametrize("extra_cells, extra_count_cells", [(1, 0), (0, 1)])
def test_cbs_example_one_cell_more_does_not_fit(extra_cells, extra_count_cells):
    items = models(3) + tables(3, cells=100, count_cells=50) + tables(1, 100 + extra_cells, 50 + extra_count_cells)
    budget = light_budget(items)
    assert not budget.fits and budget.fraction > 1 and budget.reasons == []


@pytest.mark.parametrize("n_tables, n_models, n_graphs", [(2, 2, 2), (4, 1, 2), (6, 2, 0), (0, 3, 2)])
def test_a_mix_that_fills_the_budget_exactly_fits(n_tables, n_models, n_graphs):
    budget = light_budget(tables(n_tables) + models(n_models) + graphs(n_graphs))
    assert budget.fits and budget.fraction == 1.0
    assert not light_budget(tables(n_tables + 1) + models(n_models) + graphs(n_graphs)).fits


@pytest.mark.parametrize(
    "at_limit, over_limit, words",
    [
        (lambda: tables(10), lambda: tables(11), "11 tables (at most 10)"),
        (lambda: tables(1, cells=1000), lambda: tables(1, cells=1001), "1001 cells (at most 1000)"),
        (
            lambda: tables(1, cells=600, count_cells=500),
            lambda: tables(1, cells=600, count_cells=501),
            "501 cells with counts (at most 500)",
        ),
        (lambda: models(5), lambda: models(6), "6 model results (at most 5)"),
        (lambda: graphs(5), lambda: graphs(6), "6 graphs (at most 5)"),
    ],
)
def test_each_limit_fits_at_its_edge_and_not_one_beyond(at_limit, over_limit, words):
    at, over = light_budget(at_limit()), light_budget(over_limit())
    assert at.fits and at.fraction == 1.0 and at.exceeded == []
    assert not over.fits and over.exceeded == [words]


def test_background_items_count_for_nothing():
    main = tables(4, cells=100, count_cells=50) + models(3)
    background = [item("table", background=True, cells=900, count_cells=900) for _ in range(20)]
    assert light_budget(main + background) == light_budget(main)


@pytest.mark.parametrize("kind, words", [("syntax", "script or notebook"), ("file", "file exported as it is")])
def test_syntax_and_files_are_never_light(kind, words):
    budget = light_budget(tables(1) + [item(kind)])
    assert not budget.fits and budget.fraction == pytest.approx(0.1)
    assert len(budget.reasons) == 1 and words in budget.reasons[0]


@pytest.mark.parametrize("rule", ["observations_not_shown", "threshold"])
def test_a_graph_that_does_not_show_ten_observations_is_not_light(rule):
    finding = Finding(rule, "review", "The figure does not state its number of observations.", where="subplot 1")
    budget = light_budget([item("figure", findings=[finding])])
    assert not budget.fits and len(budget.reasons) == 1 and rule in budget.reasons[0]


def test_a_graph_on_fewer_than_ten_observations_is_not_light():
    assert not light_budget([item("figure", observations=9)]).fits
    assert light_budget([item("figure", observations=10)]).fits


def test_a_graph_whose_observations_are_unknown_fails_closed():
    budget = light_budget([item("figure", observations=None)])
    assert not budget.fits and "not known" in budget.reasons[0]


def test_real_outputs_in_a_basket(tmp_path, persons):
    """A count table, a model and a graph that states its N: light; the same graph without N: not light."""
    import matplotlib.pyplot as plt
    import pandas as pd
    import statsmodels.formula.api as smf

    from cbs_export_lab.basket import Basket

    basket = Basket(tmp_path / "basket")
    table = basket.add(pd.crosstab(persons.geslacht, persons.leeftijdsklasse), "Tabel")
    basket.add(smf.ols("inkomen ~ leeftijd", data=persons).fit(), "Model", data=persons)
    fig, ax = plt.subplots()
    ax.bar(["man", "vrouw"], persons.geslacht.value_counts().sort_index().to_numpy())
    ax.set_title(f"Personen (N = {len(persons)})")
    shown = basket.add(fig, "Met N")
    budget = light_budget(basket.items)
    assert budget.fits, budget.reasons
    assert (budget.tables, budget.cells, budget.models, budget.figures) == (1, table.counts.cells, 1, 1)
    assert budget.fraction == pytest.approx(
        max(1 / 10, table.counts.cells / 1000, table.counts.count_cells / 500) + 2 / 5
    )
    ax.set_title("Personen")
    hidden = basket.add(fig, "Zonder N")
    plt.close(fig)
    assert light_budget([shown]).fits and not light_budget([hidden]).fits


def test_a_table_whose_cells_are_unknown_fails_closed():
    budget = light_budget([item("table", cells=0)])
    assert not budget.fits and "not known" in budget.reasons[0]


def test_nothing_at_all_fits():
    budget = light_budget([])
    assert budget.fits and budget.fraction == 0


def test_waiting_budget_leaves_out_items_exported_before():
    from cbs_export_lab.light import waiting_budget

    done = item("table", cells=400, count_cells=200)
    done.exported = [{"zip": "x.zip", "folder": "1_Controle vooraf", "at": "2026-01-01T00:00:00"}]
    new = item("table", cells=100, count_cells=50)
    assert waiting_budget([done, new]) == light_budget([new])
    assert light_budget([done, new]).fraction > waiting_budget([done, new]).fraction
