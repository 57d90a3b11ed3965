"""Figures as drawn, second pass: lines, ECDF, stairs, violins, hexbins, contours, texts that state numbers, the N
checked against what was drawn, and seaborn calls judged per subplot and hue group. Each disclosive figure has its
safe twin."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from cbs_export_lab import demo
from cbs_export_lab.checks.figure import check_figure
from cbs_export_lab.rules import default_rules

RULES = default_rules()
T = RULES.threshold


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def people() -> pd.DataFrame:
    return demo.persons(5_000, seed=1)


def check(obj):
    return check_figure(obj, rules=RULES)


def rules_of(result, rule):
    return [f for f in result.findings if f.rule == rule]


def titled(ax, n):
    ax.set_title(f"Inkomen (N = {n})")
    return ax


# --- lines ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "draw",
    [
        lambda ax, v: ax.plot(np.sort(v)),
        lambda ax, v: ax.plot(np.sort(v), np.arange(1, v.size + 1) / v.size),
        lambda ax, v: ax.step(np.sort(v), np.arange(1, v.size + 1) / v.size),
        lambda ax, v: ax.plot(v),
    ],
)
def test_lines_of_one_point_per_observation_are_microdata(people, draw):
    fig, ax = plt.subplots()
    draw(ax, people.inkomen.to_numpy(float))
    titled(ax, len(people))
    result = check(fig)
    assert result.status == "fail" and rules_of(result, "microdata")


def test_line_of_yearly_counts_is_an_aggregate_and_passes():
    panel = demo.panel(2_000, seed=3)
    per_year = panel.groupby("jaar").size()
    fig, ax = plt.subplots()
    ax.plot(per_year.index, per_year.to_numpy())
    ax.set_title(f"Personen per jaar (N = {panel.RINPERSOON.nunique()})")
    assert check(fig).status == "pass"


def test_ecdf_is_microdata_and_shows_the_extremes(people):
    fig, ax = plt.subplots()
    ax.ecdf(people.leeftijd)
    titled(ax, len(people))
    result = check(fig)
    assert rules_of(result, "microdata") and rules_of(result, "min_max")
    assert result.counts.observations == len(people)


def test_many_unnamed_lines_are_per_unit_series():
    panel = demo.panel(2_000, seed=3)
    wide = panel.pivot_table(index="jaar", columns="RINPERSOON", values="inkomen").iloc[:, :30]
    fig, ax = plt.subplots()
    for column in wide:
        ax.plot(wide.index, wide[column].to_numpy(), color="grey")
    titled(ax, 30)
    assert rules_of(check(fig), "microdata")
    fig, ax = plt.subplots()
    means = panel.groupby(["jaar", "geslacht"]).inkomen.mean().unstack()
    for column in means:
        ax.plot(means.index, means[column].to_numpy(), label=column)
    ax.legend()
    titled(ax, panel.RINPERSOON.nunique())
    result = check(fig)
    assert not rules_of(result, "microdata") and result.status == "review"


def test_two_point_line_is_a_reference_line():
    fig, ax = plt.subplots()
    ax.bar(["a", "b"], [600, 700])
    ax.plot([-0.5, 1.5], [650.3, 650.3])
    ax.set_title("N = 1300")
    assert any("reference line" in f.where for f in rules_of(check(fig), "unknown_counts"))


# --- other artists ---------------------------------------------------------------------------------------------


def test_stairs_of_a_histogram_reads_its_bins(people):
    counts, edges = np.histogram(people.leeftijd, bins=40)
    fig, ax = plt.subplots()
    ax.stairs(counts, edges)
    titled(ax, len(people))
    result = check(fig)
    assert rules_of(result, "min_max") and not rules_of(result, "unsupported")
    small = (counts > 0) & (counts < T)
    assert bool(rules_of(result, "threshold")) == bool(small.any())


def test_violin_shows_min_and_max(people):
    fig, ax = plt.subplots()
    ax.violinplot([people.leeftijd, people.inkomen / 1000])
    titled(ax, len(people))
    result = check(fig)
    assert result.status == "fail" and rules_of(result, "min_max")


def test_hexbin_without_extent_fails_and_inside_extent_with_mincnt_passes(people):
    x, y = people.leeftijd.to_numpy(float), people.gewicht.to_numpy(float)
    fig, ax = plt.subplots()
    ax.hexbin(x, y, gridsize=10)
    titled(ax, len(people))
    assert rules_of(check(fig), "min_max")[0].severity == "fail"
    (x_lo, x_hi), (y_lo, y_hi) = np.percentile(x, [5, 95]), np.percentile(y, [5, 95])
    fig, ax = plt.subplots()
    ax.hexbin(x, y, gridsize=5, extent=(x_lo, x_hi, y_lo, y_hi), mincnt=T)
    titled(ax, len(people))
    result = check(fig)
    assert result.status == "pass", result.report()


def test_contours_are_review(people):
    grid = np.random.default_rng(0).random((20, 20))
    fig, ax = plt.subplots()
    ax.contour(grid)
    titled(ax, len(people))
    result = check(fig)
    assert result.status == "review" and any("contours" in f.where for f in rules_of(result, "unknown_counts"))


def test_fill_between_and_errorbar_are_one_review_each():
    fig, ax = plt.subplots()
    ax.errorbar([1, 2, 3, 4, 5], [2.5, 3.1, 2.9, 3.3, 3.0], yerr=0.2, fmt="o")
    ax.fill_between([1, 2, 3], [2.1, 2.5, 2.6], [2.9, 3.4, 3.3])
    ax.set_title("N = 5000")
    result = check(fig)
    assert result.status == "review"
    assert len([f for f in result.findings if f.where.startswith("the error bars")]) == 1


# --- texts -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "n"),
    [
        ("6.000 personen", 6000),
        ("6,000 observations", 6000),
        ("4.950 waarnemingen", 4950),
        ("1 234 respondenten", 1234),
        ("Bedrijven (2.500 bedrijven)", 2500),
    ],
)
def test_n_in_words(text, n):
    fig, ax = plt.subplots()
    ax.bar(["a", "b"], [600, 700])
    ax.set_title(text)
    result = check(fig)
    assert result.counts.observations == n and not rules_of(result, "observations_not_shown")


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("max = 95", "min_max"),
        ("Hoogste inkomen: 1.250.000", "min_max"),
        ("laagste 12", "min_max"),
        ("minimum = 3,5", "min_max"),
        ("waarvan 3 vrouwen", "threshold"),
        ("n=4", "threshold"),
    ],
)
def test_texts_stating_extremes_or_small_counts_fail(text, rule):
    fig, ax = plt.subplots()
    ax.bar(["a", "b"], [600, 700])
    ax.set_title("N = 1300")
    ax.text(0.5, 650, text)
    result = check(fig)
    assert result.status == "fail" and rules_of(result, rule), result.report()


@pytest.mark.parametrize(
    "text",
    [
        "hoogste 10% van de inkomens",
        "waarvan 300 vrouwen",
        "Hoogste opleiding",
        "huishoudens van 3 personen",
        "maximaal twee dagen",
    ],
)
def test_safe_twins_of_the_text_rules_pass(text):
    fig, ax = plt.subplots()
    ax.bar(["a", "b"], [600, 700])
    ax.set_title("N = 1300")
    ax.text(0.5, 650, text)
    assert check(fig).status == "pass", check(fig).report()


def test_household_size_tick_labels_are_not_counts():
    fig, ax = plt.subplots()
    ax.bar(["1 persoon", "2 personen", "3 personen"], [600, 700, 500])
    ax.set_title("N = 1800")
    assert check(fig).status == "pass"


# --- the N checked against what was drawn --------------------------------------------------------------------


def test_stated_n_that_disagrees_with_the_drawn_data_is_review(people):
    lo, hi = np.percentile(people.leeftijd, [2, 97])
    fig, ax = plt.subplots()
    ax.hist(people.leeftijd, bins=10, range=(lo, hi))
    ax.set_title("Leeftijd (N = 9.000)")
    result = check(fig)
    (finding,) = rules_of(result, "observations_not_shown")
    assert result.status == "review" and "9,000" in finding.message and f"{len(people):,}" in finding.message
    fig, ax = plt.subplots()
    ax.hist(people.leeftijd, bins=10, range=(lo, hi))
    ax.set_title(f"Leeftijd (N = {len(people)})")
    assert check(fig).status == "pass"


def test_missing_n_fix_uses_the_figures_own_title_and_n(people):
    lo, hi = np.percentile(people.leeftijd, [2, 97])
    fig, ax = plt.subplots()
    ax.hist(people.leeftijd, bins=10, range=(lo, hi))
    ax.set_title("Leeftijd")
    (finding,) = rules_of(check(fig), "observations_not_shown")
    assert f"'Leeftijd (N = {len(people):,})'" in finding.fix


def test_binary_category_is_never_merged():
    fig, ax = plt.subplots()
    ax.bar(["man", "vrouw"], [600, 4])
    ax.set_title("N = 604")
    (finding,) = rules_of(check(fig), "threshold")
    assert "neighbouring" not in finding.fix


# --- seaborn -------------------------------------------------------------------------------------------------------


def test_seaborn_histplot_is_judged_as_a_recorded_histogram_per_hue_group(people):
    sns = pytest.importorskip("seaborn")
    ax = sns.histplot(people, x="leeftijd", hue="geslacht", bins=10)
    ax.set_title("N = 2.400")
    result = check(ax)
    found = rules_of(result, "min_max")
    assert found and found[0].severity == "fail" and "geslacht = " in found[0].message
    assert result.counts.observations == len(people)
    assert rules_of(result, "observations_not_shown")


def test_seaborn_histplot_with_binrange_inside_the_data_passes(people):
    sns = pytest.importorskip("seaborn")
    lo, hi = np.percentile(people.leeftijd, [2, 97])
    ax = sns.histplot(people, x="leeftijd", hue="geslacht", bins=8, binrange=(lo, hi))
    ax.set_title(f"N = {len(people)}")
    result = check(ax)
    assert result.status == "pass", result.report()


def test_seaborn_barplot_with_hue_is_one_finding_naming_groups(people):
    sns = pytest.importorskip("seaborn")
    ax = sns.barplot(people, x="leeftijdsklasse", y="inkomen", hue="geslacht")
    ax.set_title(f"N = {len(people)}")
    result = check(ax)
    assert len(rules_of(result, "unknown_counts")) == 1
    assert "geslacht = man" in rules_of(result, "unknown_counts")[0].message
    assert result.counts.observations == len(people)


def test_seaborn_mean_of_a_small_group_fails(people):
    sns = pytest.importorskip("seaborn")
    ax = sns.barplot(people, x="gemeente", y="inkomen")
    ax.set_title(f"N = {len(people)}")
    (finding,) = rules_of(check(ax), "threshold")
    assert "gemeente = " in finding.where


@pytest.mark.parametrize(
    ("draw", "rule"),
    [
        (lambda sns, p: sns.kdeplot(p, x="leeftijd", cut=0), "min_max"),
        (lambda sns, p: sns.ecdfplot(p, x="leeftijd"), "microdata"),
        (lambda sns, p: sns.violinplot(p, x="geslacht", y="leeftijd", cut=0), "min_max"),
        (lambda sns, p: sns.regplot(p, x="leeftijd", y="inkomen"), "microdata"),
    ],
)
def test_seaborn_disclosive_variants_fail(people, draw, rule):
    sns = pytest.importorskip("seaborn")
    ax = draw(sns, people)
    ax.set_title(f"N = {len(people)}")
    result = check(ax)
    assert result.status == "fail" and rules_of(result, rule), result.report()


@pytest.mark.parametrize(
    "draw",
    [
        lambda sns, p: sns.kdeplot(p, x="leeftijd", hue="geslacht"),
        lambda sns, p: sns.violinplot(p, x="geslacht", y="leeftijd", inner=None),
        lambda sns, p: sns.regplot(p, x="leeftijd", y="inkomen", scatter=False),
    ],
)
def test_seaborn_safe_twins_are_review_not_fail(people, draw):
    sns = pytest.importorskip("seaborn")
    ax = draw(sns, people)
    ax.set_title(f"N = {len(people)}")
    result = check(ax)
    assert result.status == "review", result.report()
    assert result.counts.observations == len(people)


def test_seaborn_facets_count_all_units(people):
    sns = pytest.importorskip("seaborn")
    lo, hi = np.percentile(people.leeftijd, [2, 97])
    grid = sns.displot(people, x="leeftijd", col="geslacht", bins=8, binrange=(lo, hi))
    grid.figure.suptitle(f"N = {len(people)}")
    result = check(grid)
    assert result.status == "pass", result.report()
    assert result.counts.observations == len(people)
    grid = sns.catplot(people, x="geslacht", kind="count", col="leeftijdsklasse")
    grid.figure.suptitle(f"N = {len(people)}")
    assert check(grid).counts.observations == len(people)


def test_seaborn_n_of_one_facet_is_not_the_figures_n(people):
    sns = pytest.importorskip("seaborn")
    lo, hi = np.percentile(people.leeftijd, [2, 97])
    grid = sns.displot(people, x="leeftijd", col="geslacht", bins=8, binrange=(lo, hi))
    grid.figure.suptitle(f"N = {(people.geslacht == 'man').sum()}")
    result = check(grid)
    (finding,) = rules_of(result, "observations_not_shown")
    assert f"{len(people):,}" in finding.message and result.counts.observations == len(people)
