"""Plain pandas tables (no carried cell statistics), checked with and without their source frame."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cbs_export_lab import demo
from cbs_export_lab.errors import UserError
from cbs_export_lab.plain import check_plain_table
from cbs_export_lab.rules import default_rules

RULES = default_rules()


def check(obj, **kwargs):
    return check_plain_table(obj, rules=RULES, **kwargs)


def rules_of(result, severity=None):
    return {f.rule for f in result.findings if severity is None or f.severity == severity}


def cells_of(result, rule):
    return {tuple(c) for f in result.findings if f.rule == rule for c in f.cells}


def small_cells(table, threshold=10):
    """The cells of a count table with 0 < n < threshold, labelled as findings label them."""
    if isinstance(table, pd.Series):
        return {(row, None) for row, n in table.items() if 0 < n < threshold}
    stacked = table.stack(future_stack=True)
    return {(row, col) for (row, col), n in stacked.items() if 0 < n < threshold}


@pytest.fixture(scope="module")
def people():
    return demo.persons(5_000, seed=3)


# ---------------------------------------------------------------- without a source


def test_count_table_with_large_cells_passes(people):
    table = people.groupby("geslacht").size()
    assert table.min() >= 10
    result = check(table)
    assert result.status == "pass", result.report()
    assert result.counts.cells == result.counts.count_cells == len(table)


def test_groupby_size_small_cells_fail_threshold(people):
    table = people.groupby(["gemeente", "geslacht"]).size()
    result = check(table)
    assert result.status == "fail"
    assert cells_of(result, "threshold") == small_cells(table)
    assert small_cells(table), "the demo data has small island municipalities"


def test_value_counts_unused_category_is_zero_review(people):
    subset = people[people.gemeente != "Vlieland"]
    table = subset.gemeente.value_counts()
    assert table["Vlieland"] == 0
    result = check(table)
    assert ("Vlieland", None) in cells_of(result, "zero")
    assert ("Vlieland", None) not in cells_of(result, "threshold")


def test_percentages_are_not_counts_without_source(people):
    table = people.gemeente.value_counts(normalize=True)
    result = check(table)
    assert result.status == "review"
    assert "threshold" not in rules_of(result)
    assert len(cells_of(result, "unknown_counts")) == int((table > 0).sum())
    assert result.counts.count_cells == len(table)


def test_percentage_crosstab_with_a_whole_share_is_not_read_as_counts(people):
    table = pd.crosstab(people.gemeente, people.geslacht, normalize="index") * 100
    assert (table == 100).any().any(), "an island municipality has one sex only"
    result = check(table)
    assert "threshold" not in rules_of(result)
    assert "unknown_counts" in rules_of(result)


def test_crosstab_margins_count_as_cells(people):
    table = pd.crosstab(people.leeftijdsklasse, people.geslacht, margins=True)
    result = check(table)
    assert result.counts.cells == table.size == (6 + 1) * (2 + 1)
    assert result.counts.count_cells == table.size
    assert result.status == ("pass" if table.to_numpy().min() >= 10 else "fail")


def test_pivot_table_of_means_needs_review_without_source(people):
    table = pd.pivot_table(people, values="inkomen", index="leeftijdsklasse", columns="geslacht", aggfunc="mean")
    result = check(table)
    assert result.status == "review"
    assert rules_of(result) == {"unknown_counts"}
    assert result.counts.count_cells == 0


def test_describe_fails_on_min_and_max(people):
    table = people[["leeftijd", "inkomen"]].describe()
    result = check(table)
    assert result.status == "fail"
    assert cells_of(result, "min_max") == {(r, c) for r in ("min", "max") for c in table.columns}
    assert result.counts.cells == table.size
    assert result.counts.count_cells == 2  # the count row


def test_transposed_describe_fails_on_min_and_max_columns(people):
    table = people[["leeftijd", "inkomen"]].describe().T
    assert cells_of(check(table), "min_max") == {(r, c) for r in table.index for c in ("min", "max")}


def test_agg_with_several_functions(people):
    table = people.groupby("gemeente")["inkomen"].agg(["mean", "count", "max"])
    result = check(table)
    assert cells_of(result, "min_max") == {(g, "max") for g in table.index}
    assert cells_of(result, "threshold") == {(g, "count") for g, n in table["count"].items() if 0 < n < 10}
    assert cells_of(result, "unknown_counts") == {(g, "mean") for g in table.index}


def test_id_indexed_extract_is_identifier_and_microdata(people):
    extract = people.set_index("RINPERSOON")[["inkomen", "leeftijd"]].head(25)
    result = check(extract)
    assert {"identifier", "microdata"} <= rules_of(result, "fail")
    assert result.never_exportable


def test_numeric_ids_are_found_by_the_linking_key_name():
    frame = demo.persons(300, seed=5, string_ids=False)
    extract = frame[["RINPERSOON", "inkomen"]].head(40)
    result = check(extract)
    assert {"identifier", "microdata"} <= rules_of(result, "fail")


def test_id_values_in_cells_are_identifiers(people):
    table = people.groupby("gemeente", observed=True)["RINPERSOON"].first().rename("voorbeeld")
    result = check(table)
    assert "identifier" in rules_of(result, "fail")


def test_styler_is_checked_as_its_data(people):
    table = people.groupby(["gemeente", "geslacht"]).size().unstack()
    plain, styled = check(table), check(table.style)
    assert plain.status == styled.status == "fail"
    assert cells_of(plain, "threshold") == cells_of(styled, "threshold") == small_cells(table)


def test_reset_index_table_reads_its_label_columns_as_labels(people):
    table = people.groupby(["gemeente", "geslacht"]).size().reset_index(name="n")
    result = check(table)
    assert "unknown_counts" not in rules_of(result)
    expected = {((g, s), "n") for g, s, n in table.itertuples(index=False) if 0 < n < 10}
    assert cells_of(result, "threshold") == expected


def test_not_a_table_is_unsupported_not_an_error():
    result = check([1, 2, 3])
    assert result.status == "review" and rules_of(result) == {"unsupported"}


def test_wrong_unit_column_is_a_user_error(people):
    table = people.groupby("gemeente").size()
    with pytest.raises(UserError, match=r"'persoon'.*Available columns: .*RINPERSOON"):
        check(table, data=people, unit="persoon")
    with pytest.raises(UserError, match=r"'gewichten'.*gewicht"):
        check(table, data=people, weights="gewichten")
    with pytest.raises(UserError, match="no source frame"):
        check(table, unit="RINPERSOON")
