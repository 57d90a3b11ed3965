"""Differencing between outputs: two outputs that each pass can together reveal a small group (DESIGN section 3)."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import cbs_export_lab as cel
from cbs_export_lab import demo, differencing
from cbs_export_lab.exportmap import ACHTERAF, VOORAF
from cbs_export_lab.tables import carried_stats

N = 10


@pytest.fixture
def df():
    return demo.persons(5_000, seed=1)


@pytest.fixture
def project_basket():
    """The project's basket (the one the settings name): the builders hash units with its key."""
    return cel.Basket()


def by_area(frame, **kw):
    return cel.crosstab(frame.gemeente, frame.geslacht, margins=True, **kw)


def differencing_findings(item):
    return [f for f in item.findings if f.rule == "differencing"]


def add_quietly(basket, obj, title, **kw):
    with pytest.warns(UserWarning) if kw.pop("expect_warning", False) else _nothing():
        return basket.add(obj, title, **kw)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def below_cut(frame, share=0.005):
    """Everyone except the few highest incomes: cells differ by 1 to 5 persons from the whole population."""
    return frame[frame.inkomen < frame.inkomen.quantile(1 - share)]


# --- the engine -------------------------------------------------------------------------------------------


def test_decoding_gives_the_exact_difference_of_two_unit_sets():
    rng = np.random.default_rng(5)
    key = differencing.basket_key()
    s = differencing.buckets_per_subtable(N)
    for plus, minus in [(0, 0), (1, 0), (0, 3), (4, 5), (9, 9), (9, 0)]:
        common = rng.choice(10**8, size=2_000, replace=False)
        extra = rng.choice(np.arange(10**8, 2 * 10**8), size=plus + minus, replace=False)
        a = np.concatenate([common, extra[:plus]])
        b = np.concatenate([common, extra[plus:]])
        parts = [
            differencing._accumulate(np.zeros(len(u), np.int64), pd.util.hash_array(u, hash_key=key), 1, s)
            for u in (a, b)
        ]
        with np.errstate(over="ignore"):
            ok, got_plus, got_minus = differencing.decode(
                parts[0][1].astype(np.int64) - parts[1][1], parts[0][2] - parts[1][2], parts[0][3] - parts[1][3], 2 * N
            )
        assert ok[0] and (got_plus[0], got_minus[0]) == (plus, minus)
        assert parts[0][0][0] == len(a)


def test_a_large_difference_is_not_decoded_as_small():
    key = differencing.basket_key()
    s = differencing.buckets_per_subtable(N)
    a, b = np.arange(0, 5_000), np.arange(2_500, 7_500)
    parts = [
        differencing._accumulate(np.zeros(len(u), np.int64), pd.util.hash_array(u, hash_key=key), 1, s) for u in (a, b)
    ]
    with np.errstate(over="ignore"):
        ok, _, _ = differencing.decode(
            parts[0][1].astype(np.int64) - parts[1][1], parts[0][2] - parts[1][2], parts[0][3] - parts[1][3], 2 * N
        )
    assert not ok[0]


def test_the_sketch_counts_distinct_units_like_the_table(df):
    panel = demo.panel(800)
    t = cel.crosstab(panel.gemeente, panel.jaar, margins=True, unit=panel.RINPERSOON)
    stats = carried_stats(t)
    assert stats.sketch.universe == "unit:RINPERSOON"
    np.testing.assert_array_equal(stats.sketch.counts.reshape(stats.shape), stats.units)
    key, s = differencing.basket_key(), differencing.buckets_per_subtable(N)
    ids = np.asarray(panel.RINPERSOON.unique(), dtype=object)
    everyone = differencing._keyed(pd.util.hash_array(ids, hash_key=key), key)
    direct = differencing._accumulate(np.zeros(len(everyone), np.int64), everyone, 1, s)
    total = stats.sketch.take(np.array([stats.shape[0] - 1]), np.array([stats.shape[1] - 1]))
    for got, want in zip((total.counts, total.buckets, total.keysum, total.checksum), direct, strict=True):
        np.testing.assert_array_equal(got, want)  # a margin holds each unit once, however many rows it has


def test_the_sketch_survives_copies_and_goes_with_the_carried_statistics(df):
    t = by_area(df, unit=df.RINPERSOON)
    sketch = carried_stats(t).sketch
    assert carried_stats(t.copy()).sketch is sketch
    assert copy.deepcopy(sketch) is sketch
    assert carried_stats(t.round(0)).sketch is sketch
    assert carried_stats(t + 1) is None  # changed numbers: no statistics, so no sketch either
    stats = carried_stats(t)
    part = stats.take(np.array([1, 0, -1]), np.array([0]), stats.index[[1, 0, 2]], stats.columns[[0]])
    assert part.sketch.counts.tolist() == [stats.units[1, 0], stats.units[0, 0], 0]


def test_no_unit_id_is_stored_in_the_clear(df, project_basket):
    t = by_area(df, unit=df.RINPERSOON)
    item = project_basket.add(t, "Persons by area")
    stored = differencing.sketch_path(project_basket.folder, item.id).read_bytes()
    for rid in df.RINPERSOON.head(50):
        assert rid.encode() not in stored
    manifest = project_basket.manifest_path.read_text(encoding="utf-8")
    assert differencing.basket_key(project_basket.folder) not in manifest


def test_whole_number_ids_are_hashed_with_the_basket_key(df, monkeypatch):
    ids = np.arange(400, dtype=np.int64) * 7919  # whole-number ids, one person per row
    frame = pd.DataFrame({"RINPERSOON": ids, "gemeente": np.resize(["A", "B", "C"], ids.size), "groep": "alle"})
    hashes = {}
    for key in ("0123456789abcdef", "fedcba9876543210"):
        monkeypatch.setattr(differencing, "basket_key", lambda *a, key=key, **k: key)
        sketch = carried_stats(cel.crosstab(frame.gemeente, frame.groep, unit=frame.RINPERSOON)).sketch
        hashes[key] = set(sketch.sample_hash.tolist())
    assert hashes["0123456789abcdef"].isdisjoint(hashes["fedcba9876543210"])
    unkeyed = set(pd.util.hash_array(ids, categorize=False).tolist())  # the same for every key: reversible
    assert all(h.isdisjoint(unkeyed) for h in hashes.values())
    monkeypatch.setattr(differencing, "basket_key", lambda *a, **k: "0123456789abcdef")
    again = carried_stats(cel.crosstab(frame.gemeente, frame.groep, unit=frame.RINPERSOON)).sketch
    assert set(again.sample_hash.tolist()) == hashes["0123456789abcdef"]


# --- disclosive combinations --------------------------------------------------------------------------------


def test_nested_populations_through_the_builders_with_unit_ids(df, project_basket):
    everyone = project_basket.add(by_area(df, unit=df.RINPERSOON), "Persons by area")
    sub = below_cut(df)
    with pytest.warns(UserWarning, match="differencing"):
        subgroup = project_basket.add(by_area(sub, unit=sub.RINPERSOON), "Persons below the income cut by area")
    assert everyone.status == "pass" or differencing_findings(everyone) == []
    found = differencing_findings(subgroup)
    assert len(found) == 1 and found[0].severity == "fail" and "Persons by area" in found[0].message
    assert subgroup.status == "fail"
    other = project_basket.get(everyone.id)
    assert other.status == "fail"
    back = differencing_findings(other)
    assert len(back) == 1 and "Persons below the income cut by area" in back[0].message
    assert back[0].cells and all(len(c) == 2 for c in back[0].cells)


def test_nested_populations_through_pivot_table_on_the_linking_key(df, project_basket):
    t1 = cel.pivot_table(df, values="inkomen", index="gemeente", columns="geslacht", aggfunc="mean")
    project_basket.add(t1, "Mean income by area")
    t2 = cel.pivot_table(below_cut(df), values="inkomen", index="gemeente", columns="geslacht", aggfunc="mean")
    with pytest.warns(UserWarning):
        item = project_basket.add(t2, "Mean income below the cut by area")
    assert differencing_findings(item), "the mean of the few above the cut follows from the two tables"


def counts_by_area(frame):
    return cel.pivot_table(frame, values="inkomen", index="gemeente", columns="geslacht", aggfunc="count", margins=True)


def test_nested_populations_on_row_labels_of_one_frame(df, project_basket):
    """Without unit ids the frame's row labels are the units; a frame derived from it keeps them."""
    frame = df.drop(columns=["RINPERSOONS", "RINPERSOON"])
    project_basket.add(counts_by_area(frame), "Rows by area")
    with pytest.warns(UserWarning):
        item = project_basket.add(counts_by_area(below_cut(frame)), "Rows below the cut by area")
    assert differencing_findings(item)
    assert carried_stats(counts_by_area(frame)).sketch.universe.startswith("rows:")


def test_nested_populations_on_repeated_row_labels(df, project_basket):
    """Two rows per label (a person's two records): the label is the unit, however many rows it has, and the
    same label is the same unit in a subset that lacks other labels."""
    frame = df.drop(columns=["RINPERSOONS", "RINPERSOON"])
    frame.index = frame.index // 2
    project_basket.add(counts_by_area(frame), "Rows by area")
    with pytest.warns(UserWarning):
        item = project_basket.add(counts_by_area(frame.iloc[2:]), "Rows but the first label by area")
    first = frame.iloc[0]
    assert (first.gemeente, first.geslacht) in {c for f in differencing_findings(item) for c in f.cells}
    twin = cel.Basket(project_basket.folder.parent / "other")
    twin.add(counts_by_area(frame), "Rows by area")
    assert not differencing_findings(twin.add(counts_by_area(frame.iloc[::2]), "Every other row by area"))


def test_a_total_next_to_a_subgroup_table_without_margins(df, project_basket):
    """The column sums of a table without margins are shown too: anyone can add them up."""
    project_basket.add(by_area(df, unit=df.RINPERSOON), "Persons by area")
    mainland = df[~df.gemeente.isin(["Schiermonnikoog", "Vlieland", "Zwolle"])]
    zwolle = int((df.gemeente == "Zwolle").sum())
    mainland = pd.concat([mainland, df[df.gemeente == "Zwolle"]])  # all but the two islands
    assert zwolle > 0
    t = cel.crosstab(mainland.leeftijdsklasse, mainland.geslacht, unit=mainland.RINPERSOON)
    with pytest.warns(UserWarning):
        item = project_basket.add(t, "Persons outside the islands by age")
    found = differencing_findings(item)
    assert found and "the sum of column" in found[0].message


def test_complementary_populations(df, project_basket):
    """Everyone, and everyone but a few: the complement (those few) follows from the two."""
    few = df.index[df.inkomen >= df.inkomen.quantile(0.997)]
    complement = df.drop(few)
    project_basket.add(cel.crosstab(df.leeftijdsklasse, df.geslacht, margins=True, unit=df.RINPERSOON), "By age")
    with pytest.warns(UserWarning):
        item = project_basket.add(
            cel.crosstab(complement.leeftijdsklasse, complement.geslacht, margins=True, unit=complement.RINPERSOON),
            "By age, all but the top incomes",
        )
    assert differencing_findings(item)


def test_overlapping_populations(df, project_basket):
    """Everyone but a few, and everyone but a few others: both differences are small, the overlap large."""
    rng = np.random.default_rng(3)
    left_out = rng.choice(len(df), size=10, replace=False)
    a, b = df.drop(df.index[left_out[:5]]), df.drop(df.index[left_out[5:]])

    def table(frame):
        return cel.crosstab(frame.geslacht, frame.assign(iedereen="ja").iedereen, margins=True, unit=frame.RINPERSOON)

    project_basket.add(table(a), "Group A")
    with pytest.warns(UserWarning):
        item = project_basket.add(table(b), "Group B")
    found = differencing_findings(item)
    assert found and "not in and" in found[0].message


def test_plain_tables_recovered_from_their_source(df, project_basket):
    plain = df.groupby(["gemeente", "geslacht"], observed=True).size().unstack()
    project_basket.add(plain, "Plain persons by area", data=df)
    sub = below_cut(df)
    plain_sub = sub.groupby(["gemeente", "geslacht"], observed=True).size().unstack()
    with pytest.warns(UserWarning):
        item = project_basket.add(plain_sub, "Plain persons below the cut by area", data=sub)
    assert differencing_findings(item)


def test_against_an_item_already_exported_and_removed(df, project_basket, exportmap):
    first = project_basket.add(by_area(df, unit=df.RINPERSOON), "Persons by area")
    project_basket.set_explanation(first.id, "Cells below 10 are islands; checked by hand.")
    result = cel.prepare_export(project_basket, exportmap, mode="achteraf")
    assert result.zips
    project_basket.remove(first.id)
    sub = below_cut(df)
    with pytest.warns(UserWarning):
        item = project_basket.add(by_area(sub, unit=sub.RINPERSOON), "Persons below the cut by area")
    found = differencing_findings(item)
    assert found and "already exported" in found[0].message
    for path in result.zips:
        with zipfile.ZipFile(path) as z:
            assert not any(n.endswith(".npz") or "differencing" in n for n in z.namelist())


def test_across_two_kernels_on_one_basket_folder(df, project_basket, tmp_path, isolated_home):
    first = project_basket.add(by_area(df, unit=df.RINPERSOON), "Persons by area")
    script = textwrap.dedent("""
        import warnings
        import cbs_export_lab as cel
        from cbs_export_lab import demo
        df = demo.persons(5_000, seed=1)
        sub = df[df.inkomen < df.inkomen.quantile(0.995)]
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            item = cel.Basket().add(cel.crosstab(sub.gemeente, sub.geslacht, margins=True, unit=sub.RINPERSOON),
                                    "Persons below the cut, other kernel")
        print(item.status, any(f.rule == "differencing" for f in item.findings))
    """)
    env = {**os.environ, "CBS_EXPORT_HOME": str(isolated_home), "PYTHONPATH": str(Path(cel.__file__).parents[1])}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["fail", "True"]
    other = cel.Basket(project_basket.folder)  # a second Basket object on the same folder
    assert differencing_findings(other.get(first.id))


def test_a_differencing_fail_never_goes_to_controle_achteraf(df, project_basket, exportmap):
    mainland = df[~df.gemeente.isin(["Schiermonnikoog", "Vlieland"])]
    first = project_basket.add(
        cel.crosstab(mainland.geslacht, mainland.leeftijdsklasse, unit=mainland.RINPERSOON), "Mainland by sex and age"
    )
    assert first.status == "pass"
    sub = below_cut(mainland, 0.002)
    with pytest.warns(UserWarning):
        item = project_basket.add(
            cel.crosstab(sub.geslacht, sub.leeftijdsklasse, unit=sub.RINPERSOON), "Mainland below the cut"
        )
    plan = cel.plan_export(project_basket, exportmap, mode="achteraf")
    assert {first.id, item.id} <= {b.item_id for b in plan.blocked}, "two passing tables, failing together"
    for i in (first.id, item.id):
        project_basket.set_explanation(i, "The difference is a published statistic.")
    plan = cel.plan_export(project_basket, exportmap, mode="achteraf")
    folders = {i: z.folder for z in plan.zips for i in z.items}
    assert folders[item.id] == VOORAF and folders[first.id] == VOORAF
    assert ACHTERAF not in folders.values()


def test_a_sketch_left_by_an_add_that_never_reached_the_manifest_is_ignored(df, project_basket):
    first = project_basket.add(by_area(df, unit=df.RINPERSOON), "Persons by area")
    path = differencing.sketch_path(project_basket.folder, first.id)
    path.rename(path.with_name("t99-orphan.npz"))
    project_basket.remove(first.id)
    sub = below_cut(df)
    item = project_basket.add(by_area(sub, unit=sub.RINPERSOON), "Persons below the cut")
    assert not differencing_findings(item)


def test_removing_an_item_that_was_not_exported_clears_the_other_side(df, project_basket):
    first = project_basket.add(by_area(df, unit=df.RINPERSOON), "Persons by area")
    sub = below_cut(df)
    with pytest.warns(UserWarning):
        second = project_basket.add(by_area(sub, unit=sub.RINPERSOON), "Persons below the cut")
    assert differencing_findings(project_basket.get(first.id))
    project_basket.remove(second.id)
    assert not differencing_findings(project_basket.get(first.id))
    assert not differencing.sketch_path(project_basket.folder, second.id).exists()


# --- safe twins: must not be flagged ------------------------------------------------------------------------


def test_disjoint_populations_are_not_flagged(df, project_basket):
    men, women = df[df.geslacht == "man"], df[df.geslacht == "vrouw"]
    project_basket.add(cel.crosstab(men.gemeente, men.leeftijdsklasse, margins=True, unit=men.RINPERSOON), "Men")
    item = project_basket.add(
        cel.crosstab(women.gemeente, women.leeftijdsklasse, margins=True, unit=women.RINPERSOON), "Women"
    )
    assert not differencing_findings(item)


def test_an_exact_copy_is_not_flagged(df, project_basket):
    t = by_area(df, unit=df.RINPERSOON)
    project_basket.add(t, "Persons by area")
    item = project_basket.add(t.copy(), "Persons by area again")
    assert not differencing_findings(item)


def test_differences_of_at_least_n_units_are_not_flagged(df, project_basket):
    adults = df[df.leeftijd >= 15]
    t1 = cel.crosstab(
        df.geslacht, df.leeftijdsklasse.isin(["65-79", "80+"]).rename("oud"), margins=True, unit=df.RINPERSOON
    )
    t2 = cel.crosstab(
        adults.geslacht,
        adults.leeftijdsklasse.isin(["65-79", "80+"]).rename("oud"),
        margins=True,
        unit=adults.RINPERSOON,
    )
    differences = (t1 - t2).to_numpy()
    assert ((differences == 0) | (differences >= N)).all()
    project_basket.add(t1, "Persons by sex and age")
    item = project_basket.add(t2, "Adults by sex and age")
    assert not differencing_findings(item)


def test_unrelated_frames_are_not_compared_on_row_labels(df, project_basket):
    frame = df.drop(columns=["RINPERSOONS", "RINPERSOON"])
    project_basket.add(counts_by_area(frame), "Rows by area")
    unrelated = pd.DataFrame({c: frame[c].to_numpy() for c in frame.columns})  # same row labels, another frame
    item = project_basket.add(counts_by_area(below_cut(unrelated)), "Rows of another frame")
    assert not differencing_findings(item)


def test_other_kinds_of_units_are_not_compared(df, project_basket):
    project_basket.add(by_area(df, unit=df.RINPERSOON), "Persons by area")
    sub = below_cut(df)
    item = project_basket.add(by_area(sub, unit=sub.RINPERSOON.rename("BEID")), "Businesses?")
    assert not differencing_findings(item)


NOORD = ["Groningen", "Schiermonnikoog", "Vlieland", "Zwolle", "Enschede"]


def by_region(frame):
    region = frame.gemeente.astype(str).where(~frame.gemeente.isin(NOORD), "Noord").rename("regio")
    return cel.crosstab(region, frame.geslacht, unit=frame.RINPERSOON)


def test_a_region_against_the_sum_of_its_municipalities(df, project_basket):
    """Noord minus the municipalities shown of it leaves the islands: the cells inside it are read from the units."""
    project_basket.add(by_region(df), "Persons by region")
    mainland = df[~df.gemeente.isin(["Schiermonnikoog", "Vlieland"])]
    by_municipality = cel.crosstab(mainland.gemeente, mainland.geslacht, unit=mainland.RINPERSOON)
    key = differencing.basket_key()
    x = differencing.item_sketch([carried_stats(by_region(df))], "t01", "regions", key)
    y = differencing.item_sketch([carried_stats(by_municipality)], "t02", "municipalities", key)
    unions = differencing.compare_unions(x, y, N)
    assert unions and all(len(u.b_members) == 3 and u.minus == 0 and 0 < u.plus < N for u in unions)
    assert {x.where[u.a] for u in unions} <= {"row Noord, column man", "row Noord, column vrouw"}
    with pytest.warns(UserWarning):
        item = project_basket.add(by_municipality, "Mainland persons by municipality")
    found = differencing_findings(item)
    assert found and "the sum of 3 cells" in found[0].message


def test_a_region_against_all_its_municipalities_is_not_flagged(df):
    key = differencing.basket_key()
    x = differencing.item_sketch([carried_stats(by_region(df))], "t01", "regions", key)
    y = differencing.item_sketch(
        [carried_stats(cel.crosstab(df.gemeente, df.geslacht, unit=df.RINPERSOON))], "t02", "municipalities", key
    )
    assert differencing.compare_unions(x, y, N) == []


def test_a_comparison_that_breaks_is_a_review_not_a_pass(df, project_basket, monkeypatch):
    project_basket.add(by_area(df, unit=df.RINPERSOON), "Persons by area")

    def broken(*args, **kwargs):
        raise ValueError("damaged sketch")

    monkeypatch.setattr(differencing, "compare", broken)
    men = df[df.geslacht == "man"]
    item = project_basket.add(cel.crosstab(men.leeftijdsklasse, men.geslacht, unit=men.RINPERSOON), "Men by age")
    found = differencing_findings(item)
    assert [f.severity for f in found] == ["review"] and item.status != "pass"


def test_a_damaged_sketch_of_a_stored_item_is_a_review(df, project_basket):
    first = project_basket.add(by_area(df, unit=df.RINPERSOON), "Persons by area")
    differencing.sketch_path(project_basket.folder, first.id).write_bytes(b"not a sketch")
    men = df[df.geslacht == "man"]
    item = project_basket.add(cel.crosstab(men.leeftijdsklasse, men.geslacht, unit=men.RINPERSOON), "Men by age")
    found = differencing_findings(item)
    assert [f.severity for f in found] == ["review"] and "Persons by area" in found[0].message


# --- figures and models join in where their units are known ---------------------------------------------

AGE_BINS = list(range(0, 100, 10))


def age_histogram(frame, *, by_name=True):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    if by_name:
        ax.hist("leeftijd", bins=AGE_BINS, data=frame)  # named in a frame with a linking key: unit ids
    else:
        ax.hist(frame.leeftijd, bins=AGE_BINS)
    return fig


def test_a_histogram_of_everyone_next_to_one_of_a_subgroup(df, project_basket):
    project_basket.add(age_histogram(df), "Age of all persons")
    with pytest.warns(UserWarning, match="differencing"):
        item = project_basket.add(age_histogram(below_cut(df)), "Age below the income cut")
    (found,) = differencing_findings(item)
    assert found.severity == "fail" and item.status == "fail" and "Age of all persons" in found.message
    assert "bin " in found.message and "of the histogram 'leeftijd' in the plot" in found.message
    assert all(len(c) == 2 and c[1].startswith("bin ") for c in found.cells)


def test_histograms_of_disjoint_groups_and_an_exact_copy_are_not_flagged(df, project_basket):
    men, women = df[df.geslacht == "man"], df[df.geslacht == "vrouw"]
    project_basket.add(age_histogram(men), "Age of men")
    assert not differencing_findings(project_basket.add(age_histogram(women), "Age of women"))
    assert not differencing_findings(project_basket.add(age_histogram(men), "Age of men again"))


def test_a_histogram_of_a_series_gets_its_units_from_data(df, project_basket):
    """ax.hist(sub.leeftijd) carries only row labels; data= (the frame they come from) gives the unit ids."""
    project_basket.add(age_histogram(df), "Age of all persons")
    sub = below_cut(df)
    with pytest.warns(UserWarning, match="differencing"):
        item = project_basket.add(age_histogram(sub, by_name=False), "Age below the cut", data=df)
    assert differencing_findings(item)
    plain = project_basket.add(age_histogram(sub, by_name=False), "Age below the cut, no data")
    assert not differencing_findings(plain), "without data= or a tracked frame the units are not known"


def test_a_histogram_on_row_labels_of_a_tracked_frame(df, project_basket):
    frame = df.drop(columns=["RINPERSOONS", "RINPERSOON"])
    cel.pivot_table(frame, values="inkomen", index="gemeente", aggfunc="count")  # the builder tracks frame
    project_basket.add(age_histogram(frame, by_name=False), "Age of all rows")
    with pytest.warns(UserWarning, match="differencing"):
        item = project_basket.add(age_histogram(below_cut(frame), by_name=False), "Age below the cut")
    assert differencing_findings(item)
    unrelated = demo.persons(5_000, seed=1).drop(columns=["RINPERSOONS", "RINPERSOON"])
    cel.pivot_table(unrelated, values="inkomen", index="gemeente", aggfunc="count")
    assert not differencing_findings(project_basket.add(age_histogram(below_cut(unrelated), by_name=False), "Other"))


def fit(frame):
    import statsmodels.formula.api as smf

    return smf.ols("inkomen ~ C(geslacht) + leeftijd", data=frame).fit()


def test_a_model_on_everyone_but_a_few_next_to_a_model_on_everyone(df, project_basket):
    project_basket.add(fit(df), "Income model, everyone")
    with pytest.warns(UserWarning, match="differencing"):
        item = project_basket.add(fit(df.iloc[:-3]), "Income model, all but three")
    (found,) = differencing_findings(item)
    assert "3 unit(s) fewer than" in found.message and "the estimation sample of the OLS model" in found.message
    assert item.status == "fail"


def test_a_model_next_to_a_table_of_its_population(df, project_basket):
    project_basket.add(by_area(df, unit=df.RINPERSOON), "Persons by area")
    with pytest.warns(UserWarning, match="differencing"):
        item = project_basket.add(fit(df.iloc[:-3]), "Income model, all but three")
    assert differencing_findings(item)


def test_models_of_disjoint_groups_or_far_apart_are_not_flagged(df, project_basket):
    men, women = df[df.geslacht == "man"], df[df.geslacht == "vrouw"]
    import statsmodels.formula.api as smf

    project_basket.add(smf.ols("inkomen ~ leeftijd", data=men).fit(), "Men")
    assert not differencing_findings(project_basket.add(smf.ols("inkomen ~ leeftijd", data=women).fit(), "Women"))
    assert not differencing_findings(project_basket.add(fit(df.iloc[: -3 * N]), "Everyone but thirty"))


def test_safe_hist_keeps_the_rows_it_draws(df, project_basket):
    import matplotlib.pyplot as plt

    from cbs_export_lab.figures import safe_hist

    def drawn(frame):
        fig, ax = plt.subplots()
        safe_hist(ax, frame.leeftijd, bins=8)
        return fig

    project_basket.add(drawn(df), "Age of all persons", data=df)
    with pytest.warns(UserWarning, match="differencing"):
        item = project_basket.add(drawn(df.iloc[:-2]), "Age of all but two", data=df)
    assert differencing_findings(item)
