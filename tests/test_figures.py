"""Figures checked as drawn: real matplotlib (Agg), pandas and seaborn figures of synthetic CBS-like data."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes

import cbs_export_lab as cel
from cbs_export_lab import demo, figures
from cbs_export_lab.checks.figure import check_figure
from cbs_export_lab.errors import UserError
from cbs_export_lab.hooks import might_be_figure
from cbs_export_lab.rules import default_rules, load_rules

RULES = default_rules()
T = RULES.threshold


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def people() -> pd.DataFrame:
    return demo.persons(5_000, seed=1)


def check(obj, rules=RULES):
    return check_figure(obj, rules=rules)


def rules_of(result, rule):
    return [f for f in result.findings if f.rule == rule]


def inner_range(values, bins):
    """A range strictly inside the data whose equal bins all hold at least T values (checked, not assumed)."""
    lo, hi = np.percentile(values, [2, 97])
    counts = np.histogram(values, bins=bins, range=(lo, hi))[0]
    assert lo > values.min() and hi < values.max() and counts.min() >= T
    return lo, hi


# --- the hook on Axes.hist ---------------------------------------------------------------------------------


def test_importing_the_package_does_not_import_matplotlib():
    code = "import sys, cbs_export_lab; print('matplotlib' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_hook_installs_when_matplotlib_is_imported_after_the_package():
    code = (
        "import cbs_export_lab\nimport matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
        "fig, ax = plt.subplots()\nax.hist([1, 2, 3] * 10)\n"
        "print(cbs_export_lab.check(fig).findings[0].rule)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "min_max"


def test_wrapped_hist_is_transparent(people):
    original = Axes.hist.__wrapped__
    assert Axes.hist.__name__ == "hist" and Axes.hist.__doc__ == original.__doc__
    assert inspect.signature(Axes.hist) == inspect.signature(original)
    fig, (a, b) = plt.subplots(1, 2)
    n1, edges1, patches1 = a.hist(people.leeftijd, bins=7, density=True)
    n2, edges2, patches2 = original(b, people.leeftijd, bins=7, density=True)
    np.testing.assert_array_equal(n1, n2)
    np.testing.assert_array_equal(edges1, edges2)
    assert type(patches1) is type(patches2) and len(patches1) == len(patches2)


def test_hist_with_data_keyword_and_column_name_is_recorded(people):
    fig, ax = plt.subplots()
    ax.hist("leeftijd", data=people)
    assert rules_of(check(fig), "min_max")[0].severity == "fail"


# --- histograms --------------------------------------------------------------------------------------------


def test_default_histogram_shows_min_and_max(people):
    fig, ax = plt.subplots()
    ax.hist(people.leeftijd, bins=10)
    ax.set_title(f"Leeftijd (N = {len(people)})")
    result = check(fig)
    assert result.status == "fail"
    (finding,) = rules_of(result, "min_max")
    assert finding.severity == "fail" and "minimum and maximum" in finding.message
    assert "safe_hist" in finding.fix and finding.cells == []


def test_histogram_with_range_inside_the_data_and_n_shown_passes(people):
    lo, hi = inner_range(people.leeftijd.to_numpy(float), 10)
    fig, ax = plt.subplots()
    ax.hist(people.leeftijd, bins=10, range=(lo, hi))
    ax.set_title(f"Leeftijd (N = {len(people)})")
    result = check(fig)
    assert result.status == "pass", result.report()
    assert result.counts.figures == 1 and result.counts.observations == len(people)


def test_small_bin_names_bin_subplot_and_title(people):
    ages = people.leeftijd.to_numpy(float)
    lo, hi = np.percentile(ages, [2, 99.5])
    counts = np.histogram(ages, bins=40, range=(lo, hi))[0]
    small = np.flatnonzero((counts > 0) & (counts < T))
    assert small.size  # the data has thin outer bins at this resolution
    fig, axes = plt.subplots(1, 2)
    axes[0].bar(["man", "vrouw"], people.geslacht.value_counts().to_numpy())
    axes[1].hist(ages, bins=40, range=(lo, hi))
    axes[1].set_title("Leeftijd")
    fig.suptitle(f"N = {len(people)}")
    (finding,) = rules_of(check(fig), "threshold")
    assert finding.severity == "fail"
    assert finding.message.startswith(
        f"Bin {small[0] + 1} of the histogram in subplot 2 (title 'Leeftijd') has {counts[small[0]]} observation"
    )
    assert f"bin {small[0] + 1}" in finding.where and "subplot 2 (title 'Leeftijd')" in finding.where
    assert "safe_hist" in finding.fix


def test_weighted_histogram_is_judged_on_unweighted_counts(people):
    ages = people.leeftijd.to_numpy(float)
    lo, hi = np.percentile(ages, [2, 99.5])
    fig, ax = plt.subplots()
    n, _, _ = ax.hist(ages, bins=40, range=(lo, hi), weights=np.full(ages.size, 1000.0))
    ax.set_title(f"N = {ages.size}")
    assert n[n > 0].min() >= T * 100  # the drawn heights all look large
    assert rules_of(check(fig), "threshold")


def test_values_of_weight_zero_are_not_counted_in_their_bin(people):
    ages = people.leeftijd.to_numpy(float)
    women = (people.geslacht == "vrouw").to_numpy(float)
    lo, hi = np.percentile(ages, [2, 99.5])
    everyone = np.histogram(ages, bins=40, range=(lo, hi))[0]
    drawn = np.histogram(ages[women == 1], bins=40, range=(lo, hi))[0]
    hidden = np.flatnonzero((everyone >= T) & (drawn > 0) & (drawn < T))
    assert hidden.size, "some bins are large only with the men, who get weight 0"
    fig, ax = plt.subplots()
    ax.hist(ages, bins=40, range=(lo, hi), weights=women)
    ax.set_title(f"N = {int(women.sum())}")
    (finding,) = rules_of(check(fig), "threshold")
    assert re.search(rf"\bbin {hidden[0] + 1}\b", finding.where), finding.where


def test_density_histogram_with_safe_range_passes(people):
    lo, hi = inner_range(people.leeftijd.to_numpy(float), 8)
    fig, ax = plt.subplots()
    ax.hist(people.leeftijd, bins=8, range=(lo, hi), density=True, histtype="step")
    ax.set_xlabel(f"leeftijd, n={len(people)}")
    assert check(fig).status == "pass"


def test_two_datasets_in_one_hist_are_judged_apart(people):
    men = people.leeftijd[people.geslacht == "man"].to_numpy(float)
    women = people.leeftijd[people.geslacht == "vrouw"].to_numpy(float)
    fig, ax = plt.subplots()
    ax.hist([men, women], bins=10, range=(5, 90), label=["man", "vrouw"])
    ax.legend(title=f"N = {len(people)}")
    result = check(fig)
    assert not rules_of(result, "min_max")
    both = np.concatenate([np.histogram(v, bins=10, range=(5, 90))[0] for v in (men, women)])
    assert result.status == ("pass" if both.min() >= T else "fail")


def test_histogram_not_drawn_by_axes_hist_is_never_a_pass(people):
    lo, hi = inner_range(people.leeftijd.to_numpy(float), 10)
    counts, edges = np.histogram(people.leeftijd, bins=10, range=(lo, hi))
    fig, ax = plt.subplots()
    ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge")
    ax.set_title(f"N = {counts.sum()}")
    result = check(fig)
    assert result.status == "review"
    assert rules_of(result, "min_max")[0].severity == "review"


# --- the number of observations --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Inkomen (N = 5000)", 5000),
        ("n=4000", 4000),
        ("N=5.000", 5000),
        ("n = 1,234", 1234),
        ("(n: 812)", 812),
        ("N = 12 345 personen", 12345),
    ],
)
def test_observations_are_read_from_the_figure(text, expected):
    fig, ax = plt.subplots()
    ax.bar(["a", "b"], [600, 700])
    ax.set_title(text)
    assert check(fig).counts.observations == expected


@pytest.mark.parametrize("text", ["Inkomen = 5000", "N = 12.5", "Noord-Brabant 2021", "MAN=40"])
def test_texts_that_do_not_state_observations(text):
    fig, ax = plt.subplots()
    ax.bar(["a", "b"], [600, 700])
    ax.set_title(text)
    result = check(fig)
    (finding,) = rules_of(result, "observations_not_shown")
    assert finding.severity == RULES.observations_not_shown and result.status == "review"


@pytest.mark.parametrize("place", ["suptitle", "xlabel", "legend", "text", "figtext"])
def test_observations_anywhere_on_the_figure(place):
    fig, ax = plt.subplots()
    ax.bar(["a", "b"], [600, 700], label="N = 1300")
    draw = {
        "suptitle": lambda: fig.suptitle("N = 1300"),
        "xlabel": lambda: ax.set_xlabel("groep (N = 1300)"),
        "legend": ax.legend,
        "text": lambda: ax.text(0.5, 0.5, "n=1300"),
        "figtext": lambda: fig.text(0.1, 0.1, "N=1.300"),
    }
    draw[place]()
    result = check(fig)
    assert result.status == "pass" and result.counts.observations == 1300


def test_too_few_observations_stated_fails():
    fig, ax = plt.subplots()
    ax.bar(["a", "b"], [12, 15])
    ax.set_title("Vlieland (n = 7)")
    (finding,) = rules_of(check(fig), "threshold")
    assert finding.severity == "fail" and "7" in finding.message and "title of the plot" in finding.where


# --- bars, lines, pies, points -----------------------------------------------------------------------------


def test_bar_chart_of_counts_names_small_and_empty_bars(people):
    counts = people.gemeente.value_counts(sort=False)
    fig, ax = plt.subplots()
    counts.plot.bar(ax=ax, title=f"Personen per gemeente (N = {counts.sum()})")
    result = check(fig)
    small = [name for name, n in counts.items() if 0 < n < T]
    empty = [name for name, n in counts.items() if n == 0]
    assert small and empty
    threshold = rules_of(result, "threshold")[0]
    assert all(f"'{name}'" in threshold.where for name in small)
    zero = rules_of(result, "zero")[0]
    assert zero.severity == RULES.zero and all(f"'{name}'" in zero.where for name in empty)


def test_horizontal_bar_chart_of_large_counts_passes(people):
    counts = people.leeftijdsklasse.value_counts(sort=False)
    assert counts.min() >= T
    fig, ax = plt.subplots()
    ax.barh(counts.index.astype(str), counts.to_numpy())
    ax.set_xlabel(f"personen (N = {counts.sum()})")
    assert check(fig).status == "pass"


def test_bars_of_means_are_unknown_counts(people):
    means = people.groupby("leeftijdsklasse", observed=True).inkomen.mean()
    fig, ax = plt.subplots()
    ax.bar(means.index.astype(str), means.to_numpy())
    ax.set_title(f"N = {len(people)}")
    result = check(fig)
    assert result.status == "review" and rules_of(result, "unknown_counts")


@pytest.mark.parametrize(
    "draw",
    [
        lambda ax, p: ax.scatter(p.leeftijd, p.inkomen),
        lambda ax, p: ax.plot(p.leeftijd, p.inkomen, "o"),
    ],
)
def test_raw_points_are_microdata(people, draw):
    fig, ax = plt.subplots()
    draw(ax, people)
    ax.set_title(f"N = {len(people)}")
    result = check(fig)
    (finding,) = rules_of(result, "microdata")
    assert finding.severity == "fail" and result.never_exportable
    assert f"{len(people):,}" in finding.message


def test_line_of_counts_passes_and_line_of_means_needs_review():
    panel = demo.panel(2_000, seed=3)
    per_year = panel.groupby("jaar").size()
    fig, ax = plt.subplots()
    ax.plot(per_year.index, per_year.to_numpy())
    ax.axhline(0, color="grey")
    ax.set_title(f"Personen per jaar (N = {panel.RINPERSOON.nunique()})")
    assert check(fig).status == "pass"
    fig, ax = plt.subplots()
    ax.plot(per_year.index, panel.groupby("jaar").inkomen.mean().to_numpy())
    ax.set_title(f"N = {panel.RINPERSOON.nunique()}")
    assert rules_of(check(fig), "unknown_counts") and check(fig).status == "review"


def test_line_through_unit_records_is_never_a_pass(people):
    adults = people[people.inkomen >= T]
    fig, ax = plt.subplots()
    ax.plot(adults.leeftijd, adults.inkomen.round())
    ax.set_title(f"N = {len(adults)}")
    result = check(fig)
    assert result.status == "fail" and result.never_exportable
    (finding,) = rules_of(result, "microdata")
    assert f"{len(adults):,} points join raw values" in finding.message


def test_time_series_of_counts_is_read_on_its_dates():
    panel = demo.panel(2_000, seed=3)
    per_year = panel.groupby("jaar").size()
    per_year.index = pd.to_datetime(per_year.index.astype(str))
    per_year.iloc[-1] = 4
    ax = per_year.plot()
    ax.set_xlabel(f"jaar (N = {panel.RINPERSOON.nunique()})")
    (finding,) = rules_of(check(ax), "threshold")
    assert finding.message.startswith("Point 2022 of the line in the plot has 4 observations")


@pytest.mark.parametrize(
    ("draw", "where"),
    [
        (lambda ax: ax.errorbar([1, 2, 3], [2.5, 3.1, 2.9], yerr=[0.2, 0.3, 0.2], fmt="o"), "the error bars"),
        (lambda ax: ax.fill_between([1, 2, 3], [2.1, 2.5, 2.6], [2.9, 3.4, 3.3]), "the filled area"),
        (lambda ax: ax.axhline(31_250.5), "the reference line"),
        (lambda ax: ax.axhline(31_250), "the reference line"),
    ],
)
def test_estimates_bands_and_reference_lines_need_review(draw, where):
    fig, ax = plt.subplots()
    draw(ax)
    ax.set_title("N = 5000")
    result = check(fig)
    assert result.status == "review"
    assert any(f.where.startswith(where) for f in rules_of(result, "unknown_counts")), result.report()


def test_artist_we_do_not_understand_is_review():
    from matplotlib.patches import Circle

    fig, ax = plt.subplots()
    ax.bar(["a", "b"], [600, 700])
    ax.add_patch(Circle((0.5, 300), 0.2))
    ax.set_title("N = 1300")
    result = check(fig)
    (finding,) = rules_of(result, "unsupported")
    assert result.status == "review" and "Circle" in finding.message


def test_empty_figure_is_not_a_pass():
    fig, ax = plt.subplots()
    ax.set_title("N = 100")
    assert check(fig).status == "review"


def test_pie_of_counts(people):
    fig, ax = plt.subplots()
    ax.pie(people.geslacht.value_counts().to_numpy(), labels=["man", "vrouw"])
    ax.set_title(f"N = {len(people)}")
    assert check(fig).status == "pass"
    fig, ax = plt.subplots()
    ax.pie([400, 7, 300])
    ax.set_title("N = 707")
    (finding,) = rules_of(check(fig), "threshold")
    assert "wedge 2" in finding.where
    fig, ax = plt.subplots()
    ax.pie([0.55, 0.45])
    ax.set_title("N = 707")
    assert check(fig).status == "review"


# --- box plots ---------------------------------------------------------------------------------------------


def test_default_box_plot_shows_min_max_and_fliers(people):
    fig, ax = plt.subplots()
    ax.boxplot(people.inkomen[people.inkomen > 0])
    ax.set_title("N = 4000")
    found = rules_of(check(fig), "min_max")
    assert {f.severity for f in found} == {"fail"}
    assert any("whiskers" in f.where for f in found) and any("outlier" in f.where for f in found)


def test_whiskers_at_min_max_without_fliers_still_fail(people):
    fig, ax = plt.subplots()
    ax.boxplot(people.leeftijd, whis=(0, 100))
    ax.set_title(f"N = {len(people)}")
    (finding,) = rules_of(check(fig), "min_max")
    assert "whiskers of box 1" in finding.where


def test_box_of_few_observations_fails(people):
    few = people.leeftijd[people.gemeente == "Schiermonnikoog"]
    assert 0 < len(few) < T
    fig, ax = plt.subplots()
    ax.boxplot([people.leeftijd, few], whis=(5, 95), showfliers=False)
    ax.set_title("Leeftijd")
    fig.suptitle(f"N = {len(people)}")
    (finding,) = rules_of(check(fig), "threshold")
    assert finding.message.startswith(
        f"Box 2 of the box plot in the plot (title 'Leeftijd') has {len(few)} observation"
    )


def test_percentile_whiskers_without_fliers_pass(people):
    fig, ax = plt.subplots()
    ax.boxplot([people.leeftijd, people.leeftijd + 1], whis=(5, 95), showfliers=False)
    ax.set_title(f"N = {len(people)}")
    assert check(fig).status == "pass"


# --- cells: 2D histograms, heatmaps, images -----------------------------------------------------------------


def test_default_hist2d_fails_and_clipped_hist2d_with_cmin_passes(people):
    adults = people[people.inkomen > 0]
    fig, ax = plt.subplots()
    ax.hist2d(adults.leeftijd, adults.inkomen)
    ax.set_title(f"N = {len(adults)}")
    result = check(fig)
    assert rules_of(result, "min_max")[0].severity == "fail"
    x_lo, x_hi = np.percentile(adults.leeftijd, [5, 95])
    y_lo, y_hi = np.percentile(adults.inkomen, [5, 95])
    fig, ax = plt.subplots()
    ax.hist2d(adults.leeftijd, adults.inkomen, bins=5, range=[(x_lo, x_hi), (y_lo, y_hi)], cmin=T)
    ax.set_title(f"N = {len(adults)}")
    assert check(fig).status == "pass", check(fig).report()


def test_hist2d_with_weights_is_judged_on_unweighted_cells(people):
    x_lo, x_hi = np.percentile(people.leeftijd, [5, 95])
    fig, ax = plt.subplots()
    ax.hist2d(
        people.leeftijd,
        people.gewicht,
        bins=30,
        range=[(x_lo, x_hi), (0.6, 2.9)],
        weights=np.full(len(people), 100.0),
        cmin=T,
    )
    ax.set_title(f"N = {len(people)}")
    raw = np.histogram2d(people.leeftijd, people.gewicht, bins=30, range=[(x_lo, x_hi), (0.6, 2.9)])[0]
    assert ((raw > 0) & (raw < T)).any()
    assert rules_of(check(fig), "threshold")


@pytest.mark.parametrize("draw", ["pcolormesh", "imshow"])
def test_heatmap_cells_are_table_cells(people, draw):
    table = pd.crosstab(people.gemeente, people.geslacht)
    fig, ax = plt.subplots()
    getattr(ax, draw)(table.to_numpy())
    ax.set_title(f"N = {len(people)}")
    result = check(fig)
    assert rules_of(result, "threshold") and rules_of(result, "zero")
    big = table.loc[table.min(axis=1) >= T]
    fig, ax = plt.subplots()
    getattr(ax, draw)(big.to_numpy())
    fig.colorbar(ax.collections[0] if draw == "pcolormesh" else ax.images[0])
    ax.set_title(f"N = {big.to_numpy().sum()}")
    assert check(fig).status == "pass"


# --- subplots and what counts as a figure ------------------------------------------------------------------


def test_subplots_are_one_graph_and_findings_name_the_subplot(people):
    fig, axes = plt.subplots(2, 2)
    for ax, band in zip(axes.flat, ["25-44", "45-64", "65-79"], strict=False):
        ax.bar(["man", "vrouw"], people[people.leeftijdsklasse == band].geslacht.value_counts().to_numpy())
        ax.set_title(band)
    axes[1, 1].scatter(people.leeftijd, people.inkomen)
    fig.suptitle(f"N = {len(people)}")
    result = cel.check(axes)
    assert result.kind == "figure" and result.counts.figures == 1
    (finding,) = rules_of(result, "microdata")
    assert "subplot 4" in finding.where
    assert result.status == "fail"


def test_as_figure_recognises_figures_axes_and_subfigures():
    fig = plt.figure()
    left, right = fig.subfigures(1, 2)
    ax = right.add_subplot()
    assert figures.as_figure(fig) is fig
    assert figures.as_figure(right) is fig
    assert figures.as_figure(ax) is fig
    assert figures.as_figure(np.array([ax])) is fig
    assert figures.as_figure("fig") is None and figures.as_figure(np.arange(3)) is None


def test_the_cheap_type_test_never_turns_away_a_figure(people):
    sns = pytest.importorskip("seaborn")

    class OwnFigure(plt.Figure):
        pass

    fig, axes = plt.subplots(1, 2)
    sub = plt.figure().subfigures(1, 2)[1]
    grid = sns.FacetGrid(people, col="geslacht")
    line = axes[0].plot([1, 2], [600, 700])[0]
    objects = [fig, sub, axes[0], axes, list(axes), tuple(axes), grid, OwnFigure(), line, "fig", np.arange(3), [], [1]]
    recognised = [obj for obj in objects if figures.as_figure(obj) is not None]
    assert len(recognised) == 8
    assert all(might_be_figure(obj) for obj in recognised)
    assert not any(might_be_figure(obj) for obj in ("fig", np.arange(3), [], [1], people, {"a": 1}))


def test_figures_module_is_reached_from_the_package_on_first_use():
    code = (
        "import sys, cbs_export_lab as cel; print('cbs_export_lab.figures' in sys.modules); "
        "print(callable(cel.figures.safe_hist), 'figures' in dir(cel))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True", "True"]


def test_subfigure_axes_are_checked(people):
    fig = plt.figure()
    left, right = fig.subfigures(1, 2)
    left.add_subplot().bar(["a", "b"], [600, 700])
    right.add_subplot().hist(people.leeftijd)
    right.suptitle("N = 5000")
    result = cel.check(left)
    assert rules_of(result, "min_max") and result.counts.observations == 5000


def test_stricter_rules_file_is_used(tmp_path):
    override = tmp_path / "rules.toml"
    override.write_text("[threshold]\nmin_units = 20\n", encoding="utf-8")
    fig, ax = plt.subplots()
    ax.bar(["a", "b"], [15, 700])
    ax.set_title("N = 715")
    assert check(fig).status == "pass"
    assert check(fig, load_rules(override)).status == "fail"


def test_unit_cannot_be_counted_on_a_figure_so_it_needs_review():
    panel = demo.panel(2_000, seed=3)
    fig, ax = plt.subplots()
    figures.safe_hist(ax, panel.leeftijd)
    assert cel.check(fig).status == "pass"

    result = cel.check(fig, unit="RINPERSOON")

    assert result.status == "review"
    (finding,) = rules_of(result, "unknown_counts")
    assert "distinct RINPERSOON" in finding.message and finding.where == "the whole figure"


# --- pandas and seaborn -------------------------------------------------------------------------------------


def test_pandas_plots(people):
    table = pd.crosstab(people.leeftijdsklasse, people.geslacht)
    ax = table.plot.bar(title=f"N = {len(people)}")
    assert check(ax).status == "pass"
    ax = people.plot.hist(y="leeftijd")
    assert rules_of(check(ax), "min_max")[0].severity == "fail"
    ax = people[["leeftijd"]].plot.box()
    assert rules_of(check(ax), "min_max")
    ax = people.plot.scatter(x="leeftijd", y="inkomen")
    assert rules_of(check(ax), "microdata")
    ax = table.plot.line(title=f"N = {len(people)}")
    assert check(ax).status == "pass"


def test_seaborn_plots(people):
    sns = pytest.importorskip("seaborn")
    result = check(sns.histplot(people.leeftijd, bins=10))
    assert result.status != "pass" and rules_of(result, "min_max")
    plt.close("all")
    assert rules_of(check(sns.boxplot(x=people.geslacht, y=people.leeftijd)), "min_max")
    plt.close("all")
    assert check(sns.barplot(x=people.geslacht, y=people.inkomen)).status == "review"
    plt.close("all")
    ax = sns.countplot(x=people.leeftijdsklasse)
    ax.set_title(f"N = {len(people)}")
    assert check(ax).status == "pass"
    plt.close("all")
    ax = sns.countplot(x=people.gemeente)
    ax.set_title(f"N = {len(people)}")
    assert "'Schiermonnikoog'" in rules_of(check(ax), "threshold")[0].where
    plt.close("all")
    assert rules_of(check(sns.scatterplot(x=people.leeftijd, y=people.inkomen)), "microdata")
    plt.close("all")
    ax = sns.heatmap(pd.crosstab(people.gemeente, people.geslacht), annot=True, fmt="d")
    ax.set_title(f"N = {len(people)}")
    (finding,) = rules_of(check(ax), "threshold")
    small = pd.crosstab(people.gemeente, people.geslacht).stack()
    name, sex = small[(small > 0) & (small < T)].index[0]
    assert f"(row {name}, column {sex})" in finding.where


def test_seaborn_boxplot_with_percentile_whiskers_needs_review_for_its_box_sizes(people):
    sns = pytest.importorskip("seaborn")
    ax = sns.boxplot(x=people.geslacht, y=people.leeftijd, whis=(5, 95), showfliers=False)
    ax.set_title(f"N = {len(people)}")
    result = check(ax)
    assert result.status == "review" and not rules_of(result, "min_max")
    (finding,) = rules_of(result, "unknown_counts")
    assert "each box" in finding.message


# --- the safe helpers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("column", ["inkomen", "leeftijd"])
def test_safe_hist_passes_and_hides_the_extremes(people, column):
    values = people[column].to_numpy(float)
    fig, ax = plt.subplots()
    n, edges, _ = figures.safe_hist(ax, people[column], bins=30)
    assert edges[0] != values.min() and edges[-1] != values.max()
    counts = np.histogram(values, bins=edges)[0]
    assert counts[counts > 0].min() >= T
    result = check(fig)
    assert result.status == "pass", result.report()
    assert result.counts.observations == counts.sum()
    np.testing.assert_array_equal(n, counts)


def test_safe_hist_merges_thin_bins_with_a_stricter_threshold(people):
    rules = load_rules_with_threshold(50)
    fig, ax = plt.subplots()
    n, edges, _ = figures.safe_hist(ax, people.leeftijd, bins=60, rules=rules)
    assert len(edges) < 61 and n[n > 0].min() >= 50
    assert check(fig, rules).status == "pass"


def load_rules_with_threshold(n):
    import dataclasses

    return dataclasses.replace(RULES, threshold=n)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"min_count": 5}, "min_count"),
        ({"range": (0, 10)}, "range"),
        ({"bins": 0}, "bins"),
        ({"lower": 50, "upper": 10}, "lower"),
    ],
)
def test_safe_hist_user_errors(people, kwargs, words):
    fig, ax = plt.subplots()
    with pytest.raises(UserError, match=words):
        figures.safe_hist(ax, people.leeftijd, **kwargs)


def test_safe_hist_refuses_too_few_values_and_non_axes(people):
    fig, ax = plt.subplots()
    with pytest.raises(UserError, match="at least 10"):
        figures.safe_hist(ax, people.leeftijd[:6])
    with pytest.raises(UserError, match="Axes"):
        figures.safe_hist(people, people.leeftijd)


def test_safe_boxplot_passes_with_groups_and_n(people):
    groups = {sex: people.leeftijd[people.geslacht == sex] for sex in ("man", "vrouw")}
    fig, ax = plt.subplots()
    figures.safe_boxplot(ax, groups)
    result = check(fig)
    assert result.status == "pass", result.report()
    assert result.counts.observations == len(people)
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == [f"{sex}\n(n = {len(g):,})" for sex, g in groups.items()]


def test_safe_boxplot_refuses_small_groups_and_fliers(people):
    fig, ax = plt.subplots()
    with pytest.raises(UserError, match="'Vlieland'"):
        figures.safe_boxplot(ax, {g: people.leeftijd[people.gemeente == g] for g in ("Amsterdam", "Vlieland")})
    with pytest.raises(UserError, match="showfliers"):
        figures.safe_boxplot(ax, people.leeftijd, showfliers=True)
    with pytest.raises(UserError, match="whis"):
        figures.safe_boxplot(ax, people.leeftijd, whis=(0, 100))


# --- rendering for export -----------------------------------------------------------------------------------


def test_save_png_is_flat_and_at_the_requested_resolution(tmp_path, people):
    from PIL import Image

    fig, ax = plt.subplots(figsize=(4, 3))
    fig.patch.set_alpha(0.0)
    figures.safe_hist(ax, people.leeftijd)
    path = figures.save_png(fig, tmp_path / "leeftijd.png", dpi=150)
    with Image.open(path) as image:
        assert image.format == "PNG" and image.mode == "RGB"
        assert image.size == (600, 450)
        assert tuple(round(d) for d in image.info["dpi"]) == (150, 150)
        assert image.getpixel((0, 0)) == (255, 255, 255)
    assert [p.name for p in tmp_path.iterdir()] == ["leeftijd.png"]


def test_save_pdf_writes_a_pdf(tmp_path, people):
    fig, ax = plt.subplots()
    figures.safe_boxplot(ax, people.leeftijd)
    path = figures.save_pdf(ax, tmp_path / "box.pdf")
    assert path.read_bytes()[:5] == b"%PDF-" and path.stat().st_size > 1000


@pytest.mark.parametrize(
    ("name", "kwargs", "words"),
    [
        ("figuur.jpg", {}, r"\.png"),
        ("figuur.png", {"dpi": 50}, "dpi"),
        ("missing/figuur.png", {}, "does not exist"),
    ],
)
def test_save_png_user_errors(tmp_path, name, kwargs, words):
    fig, ax = plt.subplots()
    with pytest.raises(UserError, match=words):
        figures.save_png(fig, tmp_path / name, **kwargs)
    with pytest.raises(UserError, match="matplotlib"):
        figures.save_pdf("not a figure", tmp_path / "x.pdf")


def test_seaborn_grid_is_checked_as_its_figure():
    sns = pytest.importorskip("seaborn")
    persons = demo.persons(2_000, seed=3)
    grid = sns.displot(persons, x="inkomen")
    try:
        result = cel.check(grid)
        assert result.kind == "figure" and result.status != "pass"
    finally:
        plt.close(grid.figure)
