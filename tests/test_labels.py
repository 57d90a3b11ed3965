"""Numbers written in labels and values: extremes in interval labels, counts in labels, ids inside values."""

from __future__ import annotations

import pandas as pd
import pytest

import cbs_export_lab as cel
from cbs_export_lab import demo


def rules_of(result, severity=None):
    return {f.rule for f in result.findings if severity is None or f.severity == severity}


@pytest.fixture(scope="module")
def people():
    return demo.persons(5_000, seed=3)


@pytest.mark.parametrize(
    "binned",
    [
        lambda d: pd.qcut(d.leeftijd, 4),
        lambda d: pd.cut(d.leeftijd, 5),
        lambda d: pd.qcut(d.leeftijd, 4).astype(str),
        lambda d: pd.cut(d.leeftijd, [d.leeftijd.min() - 1, 30, 65, d.leeftijd.max()]),
    ],
    ids=["qcut", "cut with a number of bins", "qcut as text", "explicit edge at the maximum"],
)
def test_interval_labels_at_the_data_extremes_are_min_max(people, binned):
    table = people.groupby(binned(people), observed=True).size()
    assert "min_max" in rules_of(cel.check(table, data=people), "fail")


def test_interval_labels_with_inner_edges_pass(people):
    table = people.groupby(pd.cut(people.leeftijd, [0, 18, 65, 120]), observed=False).size()
    result = cel.check(table, data=people)
    assert result.status == "pass", result.report()


def test_qcut_labels_without_source_never_pass(people):
    result = cel.check(people.groupby(pd.qcut(people.leeftijd, 4), observed=True).size())
    assert "min_max" in rules_of(result, "review")


def test_builder_table_on_qcut_bins_is_min_max(people):
    assert "min_max" in rules_of(cel.check(cel.crosstab(pd.qcut(people.leeftijd, 4), people.geslacht)))
    safe = cel.crosstab(pd.cut(people.leeftijd, [0, 18, 65, 120]), people.geslacht)
    assert "min_max" not in rules_of(cel.check(safe))


@pytest.mark.parametrize("label", ["80+ (n=3)", "n = 4", "Vlieland (3 personen)"])
def test_small_count_written_in_a_label_fails(people, label):
    table = people.groupby("geslacht").size().rename(index={"man": label})
    result = cel.check(table, data=people)
    assert "threshold" in rules_of(result, "fail")


def test_large_counts_in_labels_and_household_sizes_are_no_counts(people):
    table = people.groupby("geslacht").size()
    labelled = table.rename(index={k: f"{k} (n={v})" for k, v in table.items()})
    assert "threshold" not in rules_of(cel.check(labelled))
    sizes = pd.Series([120, 240, 310], index=pd.Index(["1 persoon", "2 personen", "3 personen"], name="huishouden"))
    assert "threshold" not in rules_of(cel.check(sizes))


@pytest.mark.parametrize("values", [["P000123456", "P000654321"], ["000123456-A", "000654321-B"]])
def test_prefixed_or_suffixed_id_is_identifier(values):
    table = pd.Series([12.5, 14.0], index=pd.Index(values, name="persoon"))
    assert "identifier" in rules_of(cel.check(table), "fail")


def test_integer_id_in_an_id_column_is_identifier_and_amounts_are_not():
    ids = pd.DataFrame({"persoon_id": [123456789, 223456789], "x": [1.5, 2.5]})
    assert "identifier" in rules_of(cel.check(ids), "fail")
    amounts = pd.DataFrame({"omzet": [123456789, 223456789]}, index=pd.Index(["a", "b"], name="sector"))
    assert "identifier" not in rules_of(cel.check(amounts))
    euros = pd.Series(["EUR123456789", "EUR223456789"], index=pd.Index(["a", "b"], name="sector"))
    assert "identifier" not in rules_of(cel.check(euros))
