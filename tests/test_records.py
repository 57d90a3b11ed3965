"""Unit records without an id column: each disclosive variant is microdata, its safe twin passes with its source."""

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


@pytest.fixture(scope="module")
def panel():
    return demo.panel(500)


def test_highest_incomes_with_municipality_and_age_are_records(people):
    top = people.nlargest(10, "inkomen")[["gemeente", "leeftijd", "inkomen"]]
    for table in (top, top.reset_index(drop=True)):
        assert "microdata" in rules_of(cel.check(table), "fail")
        result = cel.check(table, data=people)
        assert "microdata" in rules_of(result, "fail") and result.never_exportable


def test_sample_is_records(people):
    sample = people.sample(20, random_state=1)[["gemeente", "leeftijd", "inkomen"]]
    assert "microdata" in rules_of(cel.check(sample), "fail")
    assert "microdata" in rules_of(cel.check(sample, data=people), "fail")


def test_sorted_values_are_records(people):
    values = people["inkomen"].sort_values(ascending=False).head(30).reset_index(drop=True)
    assert "microdata" in rules_of(cel.check(values), "fail")
    assert "microdata" in rules_of(cel.check(values, data=people), "fail")


def test_first_values_per_group_are_records(people):
    table = people.groupby("gemeente", observed=True)[["leeftijd", "inkomen"]].first()
    result = cel.check(table, data=people)
    assert "microdata" in rules_of(result, "fail")
    assert any("first value" in f.message for f in result.findings)


def test_mean_per_group_with_source_is_no_record_table(people):
    """The safe twin of first values: means over large groups pass with their source."""
    table = people.groupby("leeftijdsklasse", observed=True)[["leeftijd"]].mean()
    result = cel.check(table, data=people)
    assert result.status == "pass", result.report()


def test_one_persons_values_over_the_years_are_records(panel):
    person = panel.RINPERSOON.iloc[0]
    one = panel[panel.RINPERSOON == person]
    rows = one.drop(columns=["RINPERSOON", "RINPERSOONS"])
    assert "microdata" in rules_of(cel.check(rows, data=panel), "fail")
    by_year = rows.set_index("jaar")[["inkomen", "gemeente"]]
    assert "microdata" in rules_of(cel.check(by_year, data=panel), "fail")
    assert cel.check(by_year).status != "pass"
    sums = one.groupby("jaar")["inkomen"].sum()
    assert "microdata" in rules_of(cel.check(sums, data=one), "fail")


def test_yearly_totals_of_the_whole_panel_are_no_records(panel):
    result = cel.check(panel.groupby("jaar")["inkomen"].mean(), data=panel)
    assert "microdata" not in rules_of(result)


def test_builder_table_of_single_units_is_records(panel):
    one = panel[panel.RINPERSOON == panel.RINPERSOON.iloc[0]]
    table = cel.pivot_table(one, values="inkomen", index="jaar", aggfunc="mean", unit="RINPERSOON")
    assert "microdata" in rules_of(cel.check(table), "fail")
    safe = cel.pivot_table(panel, values="inkomen", index="jaar", aggfunc="mean", unit="RINPERSOON")
    assert "microdata" not in rules_of(cel.check(safe))


def test_unlabelled_rows_without_source_never_pass(people):
    few = people[["leeftijd"]].head(20)
    result = cel.check(few)
    assert result.status == "review" and "microdata" in rules_of(result, "review")
    assert "data=" in next(f.fix for f in result.findings if f.rule == "microdata")


def test_common_safe_tables_get_no_record_findings(people):
    for table in (
        pd.crosstab(people.gemeente, people.geslacht),
        people[["leeftijd", "inkomen"]].describe().drop(["min", "max"]),
        people.groupby(pd.cut(people.leeftijd, [0, 18, 65, 120]), observed=False).size(),
        people.groupby("geslacht").size().reset_index(),
    ):
        assert "microdata" not in rules_of(cel.check(table, data=people)), table


def test_records_that_cannot_be_followed_say_which_frame_to_pass():
    """In a kernel, a table of rows whose source cannot be followed names the frame to give with data=."""
    from IPython.core.interactiveshell import InteractiveShell

    from cbs_export_lab.provenance import record_bindings

    shell = InteractiveShell.instance()
    shell.reset(new_session=True)
    record_bindings(shell).ids.clear()
    try:
        for code in (
            "import cbs_export_lab as cel\nfrom cbs_export_lab import demo\nvolw = demo.persons(2_000, seed=1)",
            "def pick(d):\n    return d[['leeftijd']].head(20).reset_index(drop=True)",
            "t = pick(volw)",
            "r = cel.check(t)",
        ):
            shell.run_cell(code, store_history=True).raise_error()
        result = shell.user_ns["r"]
        records = [f for f in result.findings if f.rule == "microdata"]
        assert records and records[0].severity == "review" and "data=" in records[0].fix
    finally:
        shell.reset(new_session=True)
