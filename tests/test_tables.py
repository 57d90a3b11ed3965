"""cel.crosstab / cel.pivot_table give pandas' tables, carry their cell statistics, and cel.check judges them."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import cbs_export_lab as cel
from cbs_export_lab import demo
from cbs_export_lab.cellstats import largest_per_group
from cbs_export_lab.checks.cells import check_with_stats
from cbs_export_lab.rules import default_rules
from cbs_export_lab.tables import carried_stats, cell_stats, quantile

RULES = default_rules()


@pytest.fixture(scope="module")
def people() -> pd.DataFrame:
    """Persons with a few missing keys, so dropna has something to drop."""
    df = demo.persons(3_000, seed=7)
    df["geslacht"] = df["geslacht"].astype(object)
    df.loc[df.index[::97], "geslacht"] = np.nan
    df["regio"] = np.where(df["gemeente"].isin(["Amsterdam", "Rotterdam", "Den Haag", "Utrecht"]), "G4", "overig")
    df.loc[df.index[5::211], "regio"] = None
    return df


def same(ours: pd.DataFrame, theirs: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(ours, theirs, check_exact=False, rtol=1e-9, atol=1e-9)


# --- the same tables as pandas ------------------------------------------------------------------------------

LEVELS = {
    "1x1": (["gemeente"], ["leeftijdsklasse"]),
    "2x1": (["regio", "leeftijdsklasse"], ["geslacht"]),
    "1x2": (["leeftijdsklasse"], ["geslacht", "regio"]),
}


@pytest.mark.parametrize("levels", LEVELS)
@pytest.mark.parametrize("margins", [False, True])
@pytest.mark.parametrize("normalize", [False, True, "all", "index", "columns", 0, 1])
@pytest.mark.parametrize("dropna", [True, False])
def test_crosstab_counts_match_pandas(people, levels, margins, normalize, dropna):
    rows, cols = LEVELS[levels]
    args = ([people[r] for r in rows], [people[c] for c in cols])
    kwargs = dict(margins=margins, normalize=normalize, dropna=dropna)
    same(cel.crosstab(*args, **kwargs), pd.crosstab(*args, **kwargs))


AGGFUNCS = ["count", "sum", "mean", "median", "std", "var", "min", "max"]


@pytest.mark.parametrize("levels", LEVELS)
@pytest.mark.parametrize("margins", [False, True])
@pytest.mark.parametrize("aggfunc", AGGFUNCS + ["size"])
def test_crosstab_values_match_pandas(people, levels, margins, aggfunc):
    if aggfunc == "size" and margins:
        pytest.skip("pandas itself raises for aggfunc='size' with margins")
    rows, cols = LEVELS[levels]
    args = ([people[r] for r in rows], [people[c] for c in cols])
    kwargs = dict(values=people["inkomen"], aggfunc=aggfunc, margins=margins)
    same(cel.crosstab(*args, **kwargs), pd.crosstab(*args, **kwargs))


@pytest.mark.parametrize("levels", LEVELS)
@pytest.mark.parametrize("margins", [False, True])
@pytest.mark.parametrize("aggfunc", AGGFUNCS + [quantile(0.25), quantile(0.9)])
@pytest.mark.parametrize("dropna", [True, False])
def test_pivot_table_matches_pandas(people, levels, margins, aggfunc, dropna):
    rows, cols = LEVELS[levels]
    kwargs = dict(values="inkomen", index=rows, columns=cols, aggfunc=aggfunc, margins=margins, dropna=dropna)
    same(cel.pivot_table(people, **kwargs), pd.pivot_table(people, **kwargs))


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(fill_value=0),
        dict(observed=False),
        dict(sort=False),
        dict(margins=True, margins_name="Totaal"),
        dict(columns=None),
        dict(columns=None, margins=True),
        dict(aggfunc="size"),
        dict(aggfunc=np.sum),
        dict(values=["leeftijd", "inkomen"]),
        dict(values=None, aggfunc="size"),
    ],
)
def test_pivot_table_options_match_pandas(people, kwargs):
    full = dict(values="leeftijd", index=["gemeente"], columns=["geslacht"], aggfunc="mean") | kwargs
    same(cel.pivot_table(people, **full), pd.pivot_table(people, **full))


@pytest.mark.parametrize("aggfunc", ["count", "sum", "mean", "median", "max"])
@pytest.mark.parametrize("dropna", [True, False])
def test_missing_values_match_pandas(people, aggfunc, dropna):
    """Values missing for everyone under 15: whole columns without values, margins computed as pandas does."""
    partial = people.assign(inkomen=people["inkomen"].where(people["leeftijd"] >= 15))
    kwargs = dict(
        values="inkomen", index=["regio"], columns=["leeftijdsklasse"], aggfunc=aggfunc, margins=True, dropna=dropna
    )
    same(cel.pivot_table(partial, **kwargs), pd.pivot_table(partial, **kwargs))
    args = (partial["geslacht"], partial["leeftijdsklasse"])
    same(
        cel.crosstab(*args, values=partial["inkomen"], aggfunc=aggfunc, margins=True, dropna=dropna),
        pd.crosstab(*args, values=partial["inkomen"], aggfunc=aggfunc, margins=True, dropna=dropna),
    )


@pytest.mark.parametrize("keys", ["bool", "int", "text"])
def test_other_key_types_match_pandas(people, keys):
    row = {
        "bool": people["leeftijd"] > 40,
        "int": people["leeftijd"] // 20,
        "text": people["gemeente"].astype(str).where(people["leeftijd"] > 5),
    }[keys]
    for dropna in (True, False):
        same(
            cel.crosstab(row, people["regio"], margins=True, dropna=dropna),
            pd.crosstab(row, people["regio"], margins=True, dropna=dropna),
        )


def test_empty_table_needs_review(people):
    none = people[people["leeftijd"] > 500]
    table = cel.crosstab(none["gemeente"], none["geslacht"])
    same(table, pd.crosstab(none["gemeente"], none["geslacht"]))
    result = cel.check(table)
    assert result.status == "review" and [f.rule for f in result.findings] == ["unknown_counts"]


def test_integer_values_keep_integer_sums(people):
    ours = cel.pivot_table(people, values="leeftijd", index="regio", columns="geslacht", aggfunc="sum", margins=True)
    theirs = pd.pivot_table(people, values="leeftijd", index="regio", columns="geslacht", aggfunc="sum", margins=True)
    pd.testing.assert_frame_equal(ours, theirs, check_exact=True)


def test_weighted_tables_show_weighted_results(people):
    w = people["gewicht"]
    counts = cel.crosstab(people["regio"], people["leeftijdsklasse"], weights=w, margins=True)
    same(counts, pd.crosstab(people["regio"], people["leeftijdsklasse"], values=w, aggfunc="sum", margins=True))
    means = cel.pivot_table(
        people, values="inkomen", index="regio", columns="leeftijdsklasse", aggfunc="mean", weights="gewicht"
    )
    weighted = people.assign(wx=people["inkomen"] * w)
    expected = weighted.pivot_table("wx", "regio", "leeftijdsklasse", aggfunc="sum") / weighted.pivot_table(
        "gewicht", "regio", "leeftijdsklasse", aggfunc="sum"
    )
    same(means, expected.rename_axis(columns="leeftijdsklasse"))


def test_plain_arrays_and_names(people):
    args = (people["regio"].to_numpy(), people["leeftijdsklasse"].to_numpy())
    same(cel.crosstab(*args), pd.crosstab(*args))
    same(
        cel.crosstab(*args, rownames=["r"], colnames=["c"], margins=True),
        pd.crosstab(*args, rownames=["r"], colnames=["c"], margins=True),
    )


def test_series_with_different_rows_are_lined_up_as_pandas_does(people):
    sub = people.iloc[::2]
    args = (people["leeftijdsklasse"], sub["regio"])
    same(cel.crosstab(*args, margins=True), pd.crosstab(*args, margins=True))
    same(
        cel.crosstab(*args, values=people["inkomen"], aggfunc="mean"),
        pd.crosstab(*args, values=people["inkomen"], aggfunc="mean"),
    )


def test_custom_functions_keep_pandas_table_but_need_review(people):
    def spread(s: pd.Series) -> float:
        return s.max() - s.min()

    ours = cel.crosstab(people["regio"], people["geslacht"], values=people["inkomen"], aggfunc=spread)
    same(ours, pd.crosstab(people["regio"], people["geslacht"], values=people["inkomen"], aggfunc=spread))
    result = cel.check(ours)
    assert "unknown_counts" in {f.rule for f in result.findings} and result.status != "pass"
    with pytest.raises(cel.UserError, match="weights="):
        cel.crosstab(
            people["regio"], people["geslacht"], values=people["inkomen"], aggfunc=spread, weights=people["gewicht"]
        )


def test_cell_stats_are_labelled_like_the_pandas_table(people):
    stats = cell_stats(people, ["regio"], ["leeftijdsklasse"], values="inkomen", aggfunc="sum", margins=True)
    table = pd.pivot_table(
        people, values="inkomen", index="regio", columns="leeftijdsklasse", aggfunc="sum", margins=True
    )
    frames = stats.to_frames()
    assert frames["units"].index.equals(table.index) and frames["units"].columns.equals(table.columns)
    counts = pd.pivot_table(
        people, values="inkomen", index="regio", columns="leeftijdsklasse", aggfunc="count", margins=True
    )
    np.testing.assert_array_equal(frames["rows"].to_numpy(), counts.to_numpy())
    assert stats.magnitude and stats.is_margin[-1].all() and not stats.is_margin[0, 0]
    moved = stats.align(table.index[::-1], table.columns)
    np.testing.assert_array_equal(moved.units, stats.units[::-1])


def test_missing_key_values_keep_their_own_statistics(people):
    """dropna=False gives rows and columns labelled NaN: their statistics land on those labels, not elsewhere."""
    table = cel.crosstab(people["regio"], people["geslacht"], dropna=False, margins=True)
    assert table.index.isna().any() and table.columns.isna().any()
    units = carried_stats(table).to_frames()["units"]
    np.testing.assert_array_equal(
        units.to_numpy(), pd.crosstab(people["regio"], people["geslacht"], dropna=False, margins=True).to_numpy()
    )
    missing_sex = people["geslacht"].isna()
    assert units.loc["All"].iloc[2] == missing_sex.sum()


def test_largest_contributions_per_group_with_ties():
    firms = demo.businesses(3_000, seed=4)
    values = np.round(firms["omzet"].to_numpy() / 1e5)  # rounding makes ties
    group = firms["sector"].cat.codes.to_numpy().astype(np.int64)
    top = largest_per_group(group, values, len(demo.SECTORS), 3)
    for g in range(len(demo.SECTORS)):
        expected = np.sort(values[group == g])[::-1][:3]
        np.testing.assert_array_equal(top[:, g], expected)


# --- the rules ----------------------------------------------------------------------------------------------


def small_group_panel() -> pd.DataFrame:
    """A person-year panel where 3 persons present in all 4 years form group 'klein': 12 rows, 3 persons."""
    panel = demo.panel(400, seed=3)
    years = panel.groupby("RINPERSOON")["jaar"].nunique()
    three = years[years == 4].index[:3]
    panel["groep"] = np.where(panel["RINPERSOON"].isin(three), "klein", "groot")
    panel["totaal"] = "totaal"
    return panel


def test_threshold_counts_persons_not_rows_in_a_panel():
    panel = small_group_panel()
    by_rows = cel.check(cel.crosstab(panel["groep"], panel["totaal"]))
    assert not any(("klein", "totaal") in f.cells for f in by_rows.findings)

    by_person = cel.check(cel.crosstab(panel["groep"], panel["totaal"], unit=panel["RINPERSOON"]))
    assert by_person.status == "fail"
    [finding] = [f for f in by_person.findings if f.rule == "threshold"]
    assert finding.cells == [("klein", "totaal")]
    assert "klein" in finding.where and "Merge categories" in finding.fix
    assert by_person.counts.observations == panel["RINPERSOON"].nunique()
    stats = by_person.details["cell_stats"]
    assert stats.to_frames()["units"].loc["klein", "totaal"] == 3
    assert stats.to_frames()["rows"].loc["klein", "totaal"] == 12


def test_margins_count_distinct_persons_not_the_sum_of_cells():
    panel = small_group_panel()
    table = cel.crosstab(panel["groep"], panel["jaar"], unit=panel["RINPERSOON"], margins=True)
    units = cel.check(table).details["cell_stats"].to_frames()["units"]
    assert units.loc["klein", "All"] == 3 and table.loc["klein", "All"] == 12
    assert units.loc["All", "All"] == panel["RINPERSOON"].nunique()
    assert (units.loc["klein", [2019, 2020, 2021, 2022]] == 3).all()


def test_whole_number_ids_count_like_text_ids():
    """Compact whole-number ids are used as codes directly; text ids are factorized first: same statistics."""
    panel = small_group_panel()
    as_text = cel.crosstab(
        panel["groep"], panel["jaar"], values=panel["inkomen"], aggfunc="sum", unit=panel["RINPERSOON"], margins=True
    )
    as_number = cel.crosstab(
        panel["groep"],
        panel["jaar"],
        values=panel["inkomen"],
        aggfunc="sum",
        unit=pd.factorize(panel["RINPERSOON"])[0],
        margins=True,
    )
    text, number = carried_stats(as_text), carried_stats(as_number)
    for field in ("units", "rows", "top1", "top2", "abs_total"):
        np.testing.assert_array_equal(getattr(text, field), getattr(number, field))


def test_linking_key_in_the_source_is_used_as_unit():
    panel = small_group_panel()
    table = cel.pivot_table(panel, values="inkomen", index="groep", columns="totaal", aggfunc="mean")
    result = cel.check(table)
    assert "RINPERSOON" in result.unit and "linking key" in result.unit
    assert ("klein", "totaal") in [c for f in result.findings if f.rule == "threshold" for c in f.cells]
    assert result.counts.observations == panel["RINPERSOON"].nunique()


def test_weights_that_hide_three_persons_still_fail():
    df = demo.persons(2_000, seed=5)
    df["groep"] = "groot"
    df["totaal"] = "totaal"
    df.loc[df.index[:3], "groep"] = "klein"
    df.loc[df.index[:3], "gewicht"] = 200.0
    table = cel.crosstab(df["groep"], df["totaal"], weights=df["gewicht"])
    assert table.loc["klein", "totaal"] == pytest.approx(600.0)
    result = cel.check(table)
    assert result.weighted and result.status == "fail"
    [finding] = [f for f in result.findings if f.rule == "threshold"]
    assert finding.cells == [("klein", "totaal")]


def test_dominance_uses_absolute_contributions_next_to_negative_values():
    firms = demo.businesses(200, seed=6)
    firms["cel"] = np.where(np.arange(len(firms)) < 100, "A", "B")
    firms["omzet"] = 1_000.0
    firms.loc[firms.index[0], "omzet"] = 5e6  # cell A: one firm far above the others ...
    firms.loc[firms.index[1], "omzet"] = -4.9e6  # ... and one far below: the sum looks harmless
    firms.loc[firms.index[100:150], "omzet"] = -1_000.0  # cell B: negatives and positives, nobody dominates
    table = cel.pivot_table(firms, values="omzet", index="cel", columns="sector", aggfunc="sum")
    one_sector = cel.pivot_table(
        firms.assign(sector="alle"), values="omzet", index="cel", columns="sector", aggfunc="sum"
    )
    result = cel.check(one_sector)
    dominated = [c for f in result.findings if f.rule == "dominance" for c in f.cells]
    assert dominated == [("A", "alle")]
    assert result.details["cell_stats"].magnitude and result.counts.count_cells == 0
    assert "BEID" in result.unit
    assert cel.check(table).status == "fail"


def test_contributions_are_summed_per_unit_before_dominance():
    panel = small_group_panel()
    panel["inkomen"] = 100.0
    rows_per_person = panel[panel["groep"] == "groot"].groupby("RINPERSOON").size()
    big = rows_per_person[rows_per_person == 4].index[0]
    panel.loc[panel["RINPERSOON"] == big, "inkomen"] = 1e6  # one person, several years
    per_row = cel.check(cel.crosstab(panel["groep"], panel["totaal"], values=panel["inkomen"], aggfunc="sum"))
    per_person = cel.check(
        cel.crosstab(panel["groep"], panel["totaal"], values=panel["inkomen"], aggfunc="sum", unit=panel["RINPERSOON"])
    )
    assert "dominance" not in {f.rule for f in per_row.findings}
    assert "dominance" in {f.rule for f in per_person.findings}


def test_p_percent_alone_with_a_stricter_dominance_k():
    firms = demo.businesses(40, seed=8)
    firms["cel"] = "alle"
    firms["totaal"] = "totaal"
    firms["omzet"] = 0.0
    firms.loc[firms.index[0], "omzet"] = 100.0
    firms.loc[firms.index[1], "omzet"] = 50.0
    firms.loc[firms.index[2:], "omzet"] = 0.2  # 38 firms: the rest is 7.6, under 10% of the largest
    rules = dataclasses.replace(RULES, dominance_k=0.99)
    table = cel.pivot_table(firms, values="omzet", index="cel", columns="totaal", aggfunc="sum")
    assert [f.rule for f in cel.check(table, rules=rules).findings] == ["p_percent"]
    assert {f.rule for f in cel.check(table).findings} == {"p_percent", "dominance"}


@pytest.mark.parametrize(
    "aggfunc, fails",
    [
        ("max", True),
        ("min", True),
        (quantile(0.0), True),
        (quantile(1.0), True),
        (quantile(0.5), False),
        ("median", False),
    ],
)
def test_min_max_statistics_fail(aggfunc, fails):
    df = demo.persons(4_000, seed=9).assign(totaal="totaal")
    table = cel.pivot_table(df, values="leeftijd", index="geslacht", columns="totaal", aggfunc=aggfunc)
    result = cel.check(table)
    assert ("min_max" in {f.rule for f in result.findings}) is fails
    if fails:
        [finding] = [f for f in result.findings if f.rule == "min_max"]
        assert finding.severity == "fail" and len(finding.cells) == table.size


def test_empty_cells_and_full_rows_need_review():
    df = demo.persons(20_000, seed=10)
    df["jong"] = np.where(df["leeftijd"] < 15, "jong", "oud")
    table = cel.crosstab(df["leeftijdsklasse"], df["jong"])
    result = cel.check(table)
    [zero] = [f for f in result.findings if f.rule == "zero"]
    assert zero.severity == "review"
    assert ("0-14", "oud") in zero.cells and ("0-14", "jong") in zero.cells
    assert result.status == "review"


def test_clean_tables_pass_without_findings():
    df = demo.persons(20_000, seed=11)
    counts = cel.crosstab(df["leeftijdsklasse"], df["geslacht"], margins=True)
    result = cel.check(counts)
    assert result.status == "pass" and result.findings == []
    assert result.counts == cel.Counts(tables=1, cells=counts.size, count_cells=counts.size, observations=len(df))
    share = cel.crosstab(df["leeftijdsklasse"], df["geslacht"], normalize="index", margins=True)
    shares = cel.check(share)
    assert shares.status == "pass" and shares.counts.count_cells == share.size
    means = cel.pivot_table(
        df[df["leeftijd"] >= 25],
        values="inkomen",
        index="leeftijdsklasse",
        columns="geslacht",
        aggfunc="mean",
        margins=True,
    )
    magnitude = cel.check(means)
    assert magnitude.status == "pass" and magnitude.findings == []
    assert magnitude.counts.count_cells == 0 and magnitude.counts.cells == means.size


def test_linking_key_as_table_key_is_an_identifier():
    df = demo.persons(30, seed=12)
    result = cel.check(cel.crosstab(df["RINPERSOON"], df["geslacht"]))
    assert result.never_exportable
    assert "threshold" in {f.rule for f in result.findings}


def test_ids_under_another_name_are_identifiers():
    """A renamed id column still shows ids: the labels are looked at, not only the names."""
    df = demo.persons(30, seed=12)
    ids = df["RINPERSOON"].rename("sleutel")
    assert all(RULES.looks_like_id(v) for v in ids)
    result = cel.check(cel.crosstab(df["geslacht"], ids))
    [finding] = [f for f in result.findings if f.rule == "identifier"]
    assert finding.severity == "fail" and "column labels" in finding.where and result.never_exportable


# --- carried statistics ---------------------------------------------------------------------------------------


def test_stale_statistics_are_not_trusted():
    df = demo.persons(3_000, seed=13)
    table = cel.crosstab(df["gemeente"], df["geslacht"], margins=True)
    stats = carried_stats(table)
    assert stats is not None and stats.source == cel.check(table).source
    assert list(stats.to_frames()["units"].index) == list(table.index)
    changed = table.copy()
    changed.iloc[0, 0] += 1
    for stale in (
        table * 100,
        table.T,
        table[table["All"] > 100],
        table.iloc[:-1],
        changed,
        table.rename(index={"Amsterdam": "Adam"}),
    ):
        assert stale.attrs, "pandas is expected to copy attrs, which is why they are checked"
        assert carried_stats(stale) is None
        assert cel.check(stale).source != stats.source
    assert carried_stats(table.copy()) is not None


def test_rounding_keeps_the_statistics_other_changes_do_not():
    df = demo.persons(3_000, seed=16)
    means = cel.pivot_table(df, values="inkomen", index="geslacht", columns="leeftijdsklasse", aggfunc="mean")
    for rounded in (means.round(0), means.round(-2), means.round(2)):
        assert carried_stats(rounded) is not None
        assert cel.check(rounded).source == cel.check(means).source
    for changed in (means * 1.1, means + 1, means.clip(upper=35_000), means.round(0).astype(str)):
        assert carried_stats(changed) is None


def test_check_with_stats_reports_what_views_need():
    df = demo.persons(3_000, seed=14)
    table = cel.crosstab(df["gemeente"], df["geslacht"], weights=df["gewicht"], unit=df["RINPERSOON"])
    result = check_with_stats(table, carried_stats(table), RULES)
    assert result.details["cell_stats"] is carried_stats(table)
    assert result.weighted and result.unit == "RINPERSOON" and "crosstab" in result.source
    frames = result.details["cell_stats"].to_frames()
    assert set(frames) >= {"units", "rows", "largest_share", "two_largest_share", "weighted"}
    assert frames["units"].equals(frames["rows"])


# --- user mistakes --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda df: cel.pivot_table(df, values="inkomen", index="gemeente", unit="BSN"), "no column 'BSN'"),
        (lambda df: cel.pivot_table(df, values="inkomen", index="wijk"), "no column 'wijk'"),
        (lambda df: cel.crosstab(df["gemeente"], df["geslacht"], unit="RINPERSOON"), "df['RINPERSOON']"),
        (lambda df: cel.crosstab(df["gemeente"], df["geslacht"], weights=-df["gewicht"]), "negative"),
        (lambda df: cel.crosstab(df["gemeente"], df["geslacht"], unit=df["RINPERSOON"][:10]), "rows"),
        (
            lambda df: cel.pivot_table(df, values="inkomen", index="gemeente", aggfunc="median", weights="gewicht"),
            "count, size, sum and mean",
        ),
        (lambda df: cel.crosstab(df["gemeente"], df["geslacht"], aggfunc="mean"), "values="),
        (
            lambda df: cel.crosstab(df["gemeente"], df["geslacht"], values=df["gemeente"], aggfunc="mean"),
            "values= must be numbers for aggfunc 'mean', but the values given",
        ),
        (
            lambda df: cel.pivot_table(df, values="gemeente", index="geslacht", aggfunc="mean"),
            "column 'gemeente' holds",
        ),
        (
            lambda df: cel.pivot_table(df, values=["inkomen", "leeftijd"], index="gemeente", weights="gewicht"),
            "one values= column",
        ),
        (
            lambda df: cel.check(cel.crosstab(df["gemeente"], df["geslacht"]), data=df.to_dict()),
            "data= must be the pandas DataFrame",
        ),
    ],
)
def test_user_mistakes_raise_user_error(call, words):
    with pytest.raises(cel.UserError, match=None) as info:
        call(demo.persons(200, seed=15))
    assert words in str(info.value)
