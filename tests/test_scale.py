"""Register scale: `unit=` statistics and differencing sketches computed in passes over ranges of units give the
same cells as one pass, and the same as pandas counts them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cbs_export_lab as cel
from cbs_export_lab import keys
from cbs_export_lab.tables import carried_stats


@pytest.fixture
def project_basket():
    return cel.Basket()


def panel(n: int = 6_000, seed: int = 3) -> pd.DataFrame:
    """Persons over several years who move between municipalities and age bands, one small municipality."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "RINPERSOON": rng.integers(0, n // 4, size=n),
            "gemeente": rng.choice(["Amsterdam", "Utrecht", "Zwolle"], size=n),
            "leeftijd": rng.choice(["18-39", "40-64", "65+"], size=n),
            "inkomen": np.round(rng.lognormal(10, 0.6, size=n), -2),
        }
    )
    small = pd.DataFrame(
        {
            "RINPERSOON": [n, n, n + 1, n + 1, n + 1],
            "gemeente": "Vlieland",
            "leeftijd": ["18-39", "40-64", "18-39", "18-39", "65+"],
            "inkomen": [21_000.0, 22_000.0, 410_000.0, 395_000.0, 18_000.0],
        }
    )
    return pd.concat([frame, small], ignore_index=True)


def build(frame: pd.DataFrame, **kw) -> pd.DataFrame:
    return cel.crosstab(frame.gemeente, frame.leeftijd, margins=True, unit=frame.RINPERSOON, **kw)


KINDS = [{}, {"values": "inkomen", "aggfunc": "sum"}, {"values": "inkomen", "aggfunc": "mean"}]


def _kw(frame: pd.DataFrame, kind: dict) -> dict:
    return {k: frame[v] if k == "values" else v for k, v in kind.items()}


@pytest.mark.parametrize("kind", KINDS, ids=["counts", "sums", "means"])
def test_passes_over_unit_ranges_give_the_cells_of_one_pass(monkeypatch, project_basket, kind):
    frame = panel()
    one = carried_stats(build(frame, **_kw(frame, kind)))
    monkeypatch.setattr(keys, "ROWS_PER_PASS", 700)
    assert len(list(keys.unit_ranges(frame.RINPERSOON.to_numpy(), frame.RINPERSOON.max() + 1))) > 5
    many = carried_stats(build(frame, **_kw(frame, kind)))
    for name in ("units", "rows", "top1", "top2", "nonzero", "is_margin"):
        np.testing.assert_array_equal(getattr(many, name), getattr(one, name), err_msg=name)
    np.testing.assert_allclose(many.abs_total, one.abs_total, rtol=1e-12)
    assert many.observations == one.observations
    for name in ("counts", "buckets", "keysum", "checksum"):
        np.testing.assert_array_equal(getattr(many.sketch, name), getattr(one.sketch, name), err_msg=name)
    assert many.sketch.tau == one.sketch.tau
    pairs = sorted(zip(many.sketch.sample_hash.tolist(), many.sketch.sample_cell.tolist(), strict=True))
    assert pairs == sorted(zip(one.sketch.sample_hash.tolist(), one.sketch.sample_cell.tolist(), strict=True))


def test_passes_count_distinct_persons_as_pandas_does(monkeypatch, project_basket):
    frame = panel()
    monkeypatch.setattr(keys, "ROWS_PER_PASS", 500)
    units = carried_stats(build(frame)).to_frames()["units"]
    by_cell = frame.groupby(["gemeente", "leeftijd"]).RINPERSOON.nunique().unstack(fill_value=0)
    assert units.loc[by_cell.index, by_cell.columns].equals(by_cell)
    assert units["All"].drop("All").equals(frame.groupby("gemeente").RINPERSOON.nunique().rename("All"))
    assert units.loc["All"].drop("All").equals(frame.groupby("leeftijd").RINPERSOON.nunique().rename("All"))
    assert units.loc["All", "All"] == frame.RINPERSOON.nunique()


def test_passes_keep_a_small_cell_and_a_dominated_cell_failing(monkeypatch, project_basket):
    frame = panel()
    monkeypatch.setattr(keys, "ROWS_PER_PASS", 500)
    counts = cel.check(build(frame))
    assert counts.status == "fail"
    small = {c for f in counts.findings if f.rule == "threshold" for c in f.cells}
    assert ("Vlieland", "All") in small and ("Vlieland", "18-39") in small
    sums = cel.check(build(frame, values=frame.inkomen, aggfunc="sum"))
    assert any(f.rule in ("dominance", "p_percent") for f in sums.findings)


def test_passes_pass_the_same_table_without_the_small_municipality(monkeypatch, project_basket):
    frame = panel()
    frame = frame[frame.gemeente != "Vlieland"]
    monkeypatch.setattr(keys, "ROWS_PER_PASS", 500)
    assert cel.check(build(frame)).status == "pass"


def test_one_pass_when_rows_are_few():
    codes = np.arange(10)
    assert [r for r in keys.unit_ranges(codes, 10)] == [slice(None)]


def test_every_row_in_exactly_one_pass_and_every_unit_in_one_pass(monkeypatch):
    monkeypatch.setattr(keys, "ROWS_PER_PASS", 100)
    codes = np.random.default_rng(0).integers(0, 257, size=1_000)
    passes = list(keys.unit_ranges(codes, 257))
    rows = np.concatenate(passes)
    assert np.array_equal(np.sort(rows), np.arange(codes.size))
    owners = [set(codes[r].tolist()) for r in passes]
    assert all(a.isdisjoint(b) for i, a in enumerate(owners) for b in owners[i + 1 :])


def test_keys_of_very_many_combinations_next_to_a_small_key():
    """Column keys whose combinations exceed the dense range get 64-bit codes; the row key stays 32-bit."""
    rng = np.random.default_rng(5)
    n = 1_000
    frame = pd.DataFrame({k: rng.integers(0, 300, n) for k in ("b", "c", "d")})
    frame["a"] = rng.choice(["x", "y"], n)
    ours = cel.crosstab(frame.a, [frame.b, frame.c, frame.d])
    pd.testing.assert_frame_equal(ours, pd.crosstab(frame.a, [frame.b, frame.c, frame.d]), check_names=False)


@pytest.mark.parametrize("n_categories", [127, 128, 300])
def test_narrow_category_codes_with_missing_values_kept_as_their_own_group(n_categories):
    """Categorical codes stay int8/int16 until combined; a missing-value group of its own must not overflow."""
    rng = np.random.default_rng(n_categories)
    labels = [f"c{i:03d}" for i in range(n_categories)]
    codes = rng.integers(-1, n_categories, 5_000)
    key = pd.Series(pd.Categorical.from_codes(codes, categories=labels), name="k")
    other = pd.Series(rng.choice(["a", "b"], codes.size), name="o")
    for dropna in (True, False):
        ours = cel.crosstab(key, other, dropna=dropna, margins=True)
        pd.testing.assert_frame_equal(ours, pd.crosstab(key, other, dropna=dropna, margins=True))


@pytest.mark.parametrize("ranks", [2, 3])
def test_largest_per_group_on_many_values_matches_sorting(ranks):
    """The sampled floor only narrows the search: the largest values, ties included, are those a sort gives."""
    from cbs_export_lab.cellstats import largest_per_group

    rng = np.random.default_rng(ranks)
    n, groups = 300_000, 12
    group = rng.integers(0, groups, n)
    values = np.round(rng.lognormal(8, 1, n), -2)  # many ties
    values[group == 5] = 7.0  # one group all alike
    values[rng.integers(0, n, 3)] = 5e9  # a few dominant values
    sparse = np.concatenate([group, [groups]])  # a group with a single value
    values = np.concatenate([values, [1.0]])
    got = largest_per_group(sparse, values, groups + 2, ranks)
    want = np.zeros((ranks, groups + 2))
    for g in range(groups + 2):
        top = np.sort(values[sparse == g])[::-1][:ranks]
        want[: top.size, g] = top
    np.testing.assert_array_equal(got, want)
