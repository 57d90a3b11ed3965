"""Plain pandas tables (no carried cell statistics), checked with and without their source frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cbs_export_lab as cel
from cbs_export_lab import demo
from cbs_export_lab.checks.table import check_plain_table
from cbs_export_lab.errors import UserError
from cbs_export_lab.rules import default_rules


def check(obj, **kwargs):
    return cel.check(obj, **kwargs)


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


def test_count_table_with_large_cells_passes_only_with_its_source(people):
    """Large whole numbers alone do not make a pass: a rounded mean of three persons looks exactly like a count."""
    table = people.groupby("geslacht").size()
    assert table.min() >= 10
    alone = check(table)
    assert alone.status == "review" and rules_of(alone) == {"unknown_counts"}
    assert "data=" in alone.findings[0].fix
    result = check(table, data=people)
    assert result.status == "pass", result.report()
    assert alone.counts.cells == alone.counts.count_cells == result.counts.cells == len(table)


def test_rounded_means_of_small_groups_do_not_pass_as_counts(people):
    table = people.groupby("gemeente", observed=True)["inkomen"].mean().round(-3).astype(int)
    small = people.groupby("gemeente", observed=True).size().lt(10)
    assert small.any() and (table[small] >= 10).all()
    assert check(table).status != "pass"
    assert check(table, data=people).status == "fail"


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
    assert result.status == ("review" if table.to_numpy().min() >= 10 else "fail")


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
    counted = {(g, "count") for g, n in table["count"].items() if n >= 10}
    assert cells_of(result, "unknown_counts") == {(g, "mean") for g in table.index} | counted


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
    large = {((g, s), "n") for g, s, n in table.itertuples(index=False) if n >= 10}
    assert cells_of(result, "unknown_counts") == large
    expected = {((g, s), "n") for g, s, n in table.itertuples(index=False) if 0 < n < 10}
    assert cells_of(result, "threshold") == expected


def test_not_a_table_is_unsupported_not_an_error():
    result = check_plain_table([1, 2, 3], rules=default_rules())
    assert result.status == "review" and rules_of(result) == {"unsupported"}


def test_wrong_unit_column_is_a_user_error(people):
    table = people.groupby("gemeente").size()
    with pytest.raises(UserError, match=r"'persoon'.*Available columns: .*RINPERSOON"):
        check(table, data=people, unit="persoon")
    with pytest.raises(UserError, match=r"'gewichten'.*gewicht"):
        check(table, data=people, weights="gewichten")
    with pytest.raises(UserError, match="no source frame"):
        check(table, unit="RINPERSOON")


# ---------------------------------------------------------------- with the source frame


def reproduced(result):
    return result.source is not None and not any("does not reproduce" in f.message for f in result.findings)


def test_groupby_size_with_source_counts_units(people):
    table = people.groupby(["gemeente", "geslacht"]).size()
    result = check(table, data=people)
    assert reproduced(result), result.report()
    assert "gemeente" in result.source and "geslacht" in result.source
    assert cells_of(result, "threshold") == small_cells(table)
    assert result.counts.count_cells == result.counts.cells == len(table)
    assert result.counts.observations == people.RINPERSOON.nunique()


def test_units_are_counted_on_the_linking_key_when_no_unit_is_given():
    panel = demo.panel(400, seed=2)
    table = panel.groupby("gemeente").size()  # person-years: rows, not persons
    persons = panel.groupby("gemeente")["RINPERSOON"].nunique()
    assert (table > persons).any()
    result = check(table, data=panel)
    assert reproduced(result), result.report()
    assert result.unit and "RINPERSOON" in result.unit
    assert "linking key" in result.source and "RINPERSOON" in result.source
    assert cells_of(result, "threshold") == small_cells(persons)


def test_explicit_unit_is_used():
    panel = demo.panel(400, seed=2)
    table = panel.groupby("gemeente").size()
    result = check(table, data=panel, unit="RINPERSOON")
    assert result.unit == "RINPERSOON" and "no unit= given" not in result.source
    assert cells_of(result, "threshold") == small_cells(panel.groupby("gemeente")["RINPERSOON"].nunique())


def test_value_counts_normalized_is_reproduced_and_checked_on_counts(people):
    table = people.gemeente.value_counts(normalize=True)
    result = check(table, data=people)
    assert reproduced(result), result.report()
    counts = people.gemeente.value_counts()
    assert cells_of(result, "threshold") == small_cells(counts)
    assert result.counts.count_cells == len(table)


def test_percentage_crosstab_is_reproduced(people):
    table = (pd.crosstab(people.gemeente, people.geslacht, normalize="columns") * 100).round(1)
    result = check(table, data=people)
    assert reproduced(result), result.report()
    assert "percentages" in result.source
    counts = pd.crosstab(people.gemeente, people.geslacht)
    assert cells_of(result, "threshold") == small_cells(counts)


def test_crosstab_with_margins_and_source(people):
    table = pd.crosstab(people.gemeente, people.leeftijdsklasse, margins=True)
    result = check(table, data=people)
    assert reproduced(result), result.report()
    assert cells_of(result, "threshold") == small_cells(table)
    assert result.counts.cells == table.size


def test_multiindex_table_with_source(people):
    table = people.groupby(["gemeente", "leeftijdsklasse", "geslacht"]).size()
    result = check(table, data=people)
    assert reproduced(result), result.report()
    assert cells_of(result, "threshold") == small_cells(table)


def test_pivot_table_of_means_with_source_checks_units_and_dominance(people):
    table = pd.pivot_table(people, values="inkomen", index="gemeente", columns="geslacht", aggfunc="mean")
    result = check(table, data=people)
    assert reproduced(result), result.report()
    assert "mean of inkomen" in result.source
    units = pd.crosstab(people.gemeente, people.geslacht)
    assert cells_of(result, "threshold") == small_cells(units)
    assert "unknown_counts" not in rules_of(result)
    assert result.counts.count_cells == 0
    top_two = people.groupby(["gemeente", "geslacht"], observed=True)["inkomen"].apply(
        lambda x: x.abs().nlargest(2).sum() / x.abs().sum() if x.abs().sum() else 0
    )
    dominated = {cell for cell, share in top_two.items() if share >= 0.9}
    assert cells_of(result, "dominance") == dominated


def test_agg_with_several_functions_and_source(people):
    table = people.groupby("gemeente")["inkomen"].agg(["mean", "count", "max"])
    result = check(table, data=people)
    assert reproduced(result), result.report()
    assert cells_of(result, "min_max") == {(g, "max") for g in table.index}
    small = {g for g, n in table["count"].items() if 0 < n < 10}
    assert {row for row, _ in cells_of(result, "threshold")} == small


def test_describe_with_source(people):
    table = people[["leeftijd", "inkomen"]].describe()
    result = check(table, data=people)
    assert reproduced(result), result.report()
    assert cells_of(result, "min_max") == {(r, c) for r in ("min", "max") for c in table.columns}
    assert result.counts.count_cells == 2


def test_table_from_a_subset_is_not_trusted_against_the_full_frame(people):
    older = people[people.leeftijd >= 65]
    table = older.groupby(["gemeente", "geslacht"]).size()
    result = check(table, data=people)
    assert result.source is None
    assert any(f.rule == "unknown_counts" and "does not reproduce" in f.message for f in result.findings)
    assert cells_of(result, "threshold") == small_cells(table)  # still read as counts without a source
    assert result.status == "fail"
    assert check(table, data=older).source is not None


def test_rescaled_table_is_not_trusted(people):
    table = people.groupby("geslacht")["inkomen"].mean() * 1.1
    result = check(table, data=people)
    assert result.source is None and result.status == "review"
    assert any("does not reproduce" in f.message for f in result.findings)


def test_mean_table_from_subset_never_passes(people):
    table = people[people.inkomen > 0].groupby("geslacht")["inkomen"].mean()
    result = check(table, data=people)
    assert result.status != "pass"


def test_extract_with_source_is_microdata(people):
    extract = people[["gemeente", "inkomen"]].head(30)
    result = check(extract, data=people)
    assert "microdata" in rules_of(result, "fail") and result.never_exportable


def test_whole_source_column_is_microdata(people):
    result = check(people["inkomen"], data=people)
    assert "microdata" in rules_of(result, "fail")


def test_id_indexed_extract_with_source(people):
    extract = people.set_index("RINPERSOON")[["inkomen"]].head(25)
    result = check(extract, data=people)
    assert {"identifier", "microdata"} <= rules_of(result, "fail")


def test_count_table_with_large_cells_and_source_passes(people):
    table = people.groupby("geslacht").size()
    result = check(table, data=people)
    assert reproduced(result) and result.status == "pass", result.report()


def test_data_must_be_a_frame(people):
    with pytest.raises(UserError, match="DataFrame"):
        check(people.groupby("geslacht").size(), data=[1, 2])


def test_binned_key_is_reproduced_from_the_numeric_source_column(people):
    bins = [0, 18, 65, 120]
    table = people.groupby(pd.cut(people.leeftijd, bins), observed=False).size()
    result = check(table, data=people)
    assert reproduced(result), result.report()
    assert result.counts.observations == people.RINPERSOON.nunique()


def test_sums_of_whole_numbers_are_magnitudes_when_the_source_says_so():
    firms = demo.businesses(2_000, seed=4)
    table = firms.groupby("sector")["werkzame_personen"].sum()
    assert table.min() >= 10
    assert check(table).counts.count_cells == len(table)  # without a source: read as counts
    result = check(table, data=firms)
    assert reproduced(result) and "sum of werkzame_personen" in result.source
    assert result.counts.count_cells == 0


def test_empty_table_needs_review(people):
    for empty in (people.iloc[:0].groupby("gemeente", observed=True).size(), pd.DataFrame()):
        assert check(empty).status == "review"
        assert check(empty, data=people).status == "review"


def test_weighted_counts_are_checked_on_unweighted_units(people):
    table = people.groupby(["gemeente", "geslacht"])["gewicht"].sum().unstack()
    result = check(table, data=people, weights="gewicht")
    assert reproduced(result) and result.weighted, result.report()
    assert "weighted number of rows" in result.source
    assert result.counts.count_cells == table.size
    units = pd.crosstab(people.gemeente, people.geslacht)
    assert cells_of(result, "threshold") == small_cells(units)


def test_weighted_mean_is_reproduced_with_weights(people):
    weighted = people.inkomen * people.gewicht
    table = weighted.groupby(people.leeftijdsklasse).sum() / people.groupby("leeftijdsklasse").gewicht.sum()
    table = table.rename("inkomen")
    assert check(table, data=people).source is None  # unweighted statistics do not give these numbers
    result = check(table, data=people, weights=people["gewicht"])
    assert reproduced(result) and "weighted mean of inkomen" in result.source, result.report()


def test_subset_count_matched_by_a_sum_of_a_dummy_column_still_fails_on_small_counts(people):
    frame = people.assign(oud=(people.leeftijd >= 80).astype(int))
    table = frame[frame.oud == 1].groupby(["gemeente", "geslacht"]).size()
    result = check(table, data=frame)
    assert "sum of oud" in result.source
    assert small_cells(table)
    assert small_cells(table) <= cells_of(result, "threshold"), result.report()
    assert result.status == "fail"


def test_raw_column_without_source_is_never_read_as_counts(people):
    ages = people["leeftijd"]
    assert ages.min() >= 0 and (ages == ages.round()).all()
    result = check(ages)
    assert "microdata" in rules_of(result, "fail")
    small_extract = check(people[["leeftijd"]].head(20))
    assert small_extract.status == "review" and "unknown_counts" in rules_of(small_extract)


def test_rounded_table_is_reproduced_within_its_rounding(people):
    table = people.groupby("gemeente")["inkomen"].median().round(-2)
    result = check(table, data=people)
    assert reproduced(result) and "median of inkomen" in result.source, result.report()
    shifted = table + 100
    assert check(shifted, data=people).source is None


def test_row_with_all_units_in_one_column_is_group_disclosure():
    firms = demo.businesses(3_000, seed=1)
    table = pd.crosstab(firms.gemeente, firms.sector)
    only = table[(table > 0).sum(axis=1) == 1]
    assert len(only), "the island municipalities have firms in one sector only"
    full = {(g, s) for g in only.index for s in table.columns if table.loc[g, s] > 0}
    assert full <= cells_of(check(table), "zero")


@pytest.mark.parametrize("unit", ["RINPERSOON", "series", "array"])
def test_sum_of_a_dummy_over_few_persons_fails_however_the_unit_is_given(unit):
    """12 person-years with a 1 belong to 3 persons: the sum is a count of 3, whether unit= is a name or the ids."""
    panel = demo.panel(600, seed=3)
    years = panel.groupby("RINPERSOON")["jaar"].nunique()
    always_there = years[years == 4].index
    panel["regio"] = np.where(panel["RINPERSOON"].isin(always_there[:40]), "noord", "zuid")
    panel["ziek"] = panel["RINPERSOON"].isin(always_there[:3]).astype(int)
    table = panel.groupby("regio")["ziek"].sum()
    assert table["noord"] >= 10, "more person-years than the threshold, from fewer persons"
    ids = {"RINPERSOON": "RINPERSOON", "series": panel["RINPERSOON"], "array": panel["RINPERSOON"].to_numpy()}[unit]
    result = check(table, data=panel, unit=ids)
    assert reproduced(result), result.report()
    assert ("noord", None) in cells_of(result, "threshold") and result.status == "fail"


def test_rounded_percentages_of_small_groups_do_not_pass_as_counts():
    people = demo.persons(5_000, seed=2)
    counts = pd.crosstab(people.gemeente, people.geslacht)
    both = counts[(counts > 0).all(axis=1)]
    assert (both.sum(axis=1) < 10).any(), "an island municipality has a handful of persons of each sex"
    table = (pd.crosstab(people.gemeente, people.geslacht, normalize="index") * 100).round().loc[both.index]
    assert (table == table.round()).all().all() and (table >= 10).all().all()
    result = check(table)
    assert result.status != "pass" and cells_of(result, "unknown_counts") == {
        (g, s) for g in table.index for s in table.columns
    }
