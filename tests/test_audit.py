"""The audit of hidden cells (`recoverable`): tables whose hidden cells follow from the margins fail, tables
whose suppression holds do not, and the intervals agree with a brute-force enumeration of integer tables."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

import cbs_export_lab as cel
from cbs_export_lab.audit import Requirement, audit, find_structure, read_cells
from cbs_export_lab.checks.hidden import recoverable_findings
from cbs_export_lab.rules import default_rules


def with_margins(inner: np.ndarray, rows: list[str] | None = None, cols: list[str] | None = None) -> pd.DataFrame:
    R, C = inner.shape
    rows = rows or [f"r{i}" for i in range(R)]
    cols = cols or [f"c{j}" for j in range(C)]
    frame = pd.DataFrame(inner, index=pd.Index(rows, name="rij"), columns=pd.Index(cols, name="kolom"))
    frame["All"] = frame.sum(axis=1)
    frame.loc["All"] = frame.sum(axis=0)
    return frame.astype(float)


def recoverable_cells(frame: pd.DataFrame) -> set:
    return {c for f in recoverable_findings(frame, default_rules()) for c in f.cells}


INNER = np.array([[40, 3, 25], [30, 22, 18], [27, 35, 50]])


def test_a_hidden_cell_is_its_row_total_minus_the_others():
    t = with_margins(INNER)
    t.loc["r0", "c1"] = np.nan
    findings = recoverable_findings(t, default_rules())
    assert [f.cells for f in findings] == [[("r0", "c1")]]
    assert findings[0].rule == "recoverable" and findings[0].severity == "fail"
    assert "it must be 3" in findings[0].message and "cel.protect" in findings[0].fix


def test_two_hidden_cells_in_one_row_follow_from_their_columns():
    t = with_margins(INNER)
    t.loc["r0", ["c0", "c1"]] = np.nan
    assert recoverable_cells(t) == {("r0", "c0"), ("r0", "c1")}


def test_a_rectangle_of_large_enough_cells_holds():
    t = with_margins(INNER)
    t.loc[["r0", "r1"], ["c1", "c2"]] = np.nan  # the 3 can move by 18 up and 3 down: width 21 >= 10
    assert recoverable_cells(t) == set()


def test_a_rectangle_with_a_small_partner_is_too_narrow():
    inner = INNER.copy()
    inner[1, 2] = 2  # the 3 can now move only 2 up (its partner in column c1 is large, in row r1 small)
    inner[1, 1] = 4
    t = with_margins(inner)
    t.loc[["r0", "r1"], ["c1", "c2"]] = np.nan
    assert ("r0", "c1") in recoverable_cells(t)


def nested() -> pd.DataFrame:
    """3 x 3 detail cells, rows nested in two groups with a subtotal for the first, and all margins."""
    rows = pd.MultiIndex.from_tuples(
        [("g1", "a"), ("g1", "b"), ("g1", "Total"), ("g2", "c"), ("All", "")], names=["groep", "rij"]
    )
    detail = {("g1", "a"): [3, 40, 25], ("g1", "b"): [30, 22, 18], ("g2", "c"): [27, 35, 50]}
    values = np.zeros((5, 4))
    for k, label in enumerate(rows):
        if label in detail:
            values[k, :3] = detail[label]
    values[2, :3] = values[0, :3] + values[1, :3]
    values[4, :3] = values[0, :3] + values[1, :3] + values[3, :3]
    values[:, 3] = values[:, :3].sum(axis=1)
    return pd.DataFrame(values, index=rows, columns=pd.Index(["x", "y", "z", "All"], name="kolom"))


def test_a_nested_subtotal_gives_a_cell_away():
    t = nested()
    hide = [(("g1", "a"), "x"), (("g1", "a"), "y"), (("g2", "c"), "x"), (("g2", "c"), "y")]
    for r, c in hide:
        t.loc[r, c] = np.nan
    findings = recoverable_findings(t, default_rules())
    assert {c for f in findings for c in f.cells} == set(hide)
    assert any("g1 / Total" in f.message for f in findings)


def test_suppression_inside_one_subgroup_holds():
    t = nested()
    for r, c in [(("g1", "a"), "x"), (("g1", "a"), "y"), (("g1", "b"), "x"), (("g1", "b"), "y")]:
        t.loc[r, c] = np.nan
    assert recoverable_cells(t) == set()


def test_markers_hide_cells_and_less_than_bounds_them():
    t = with_margins(INNER).astype(object)
    t.loc["r0", "c1"] = "x"
    values, hidden, upper = read_cells(t)
    assert hidden.sum() == 1 and np.isnan(values[hidden]).all()
    assert recoverable_cells(t) == {("r0", "c1")}
    t = with_margins(INNER).astype(object)
    t.loc[["r0", "r1"], ["c1", "c2"]] = "<10"
    _, hidden, upper = read_cells(t)
    assert hidden.sum() == 4 and upper[hidden].tolist() == [10.0] * 4
    # r1/c2 = 18 and r1/c1 = 22 would break "<10": no table is consistent, which proves nothing either way
    assert recoverable_cells(t) == set()


def test_a_table_of_means_is_not_additive():
    t = with_margins(INNER) / 7.0
    t.loc["All"] = [5.1, 4.2, 6.3, 5.0]
    t["All"] = t["All"] + 1.5
    t.loc["r0", "c1"] = np.nan
    assert recoverable_cells(t) == set()


def test_cel_check_fails_a_crosstab_with_its_small_cells_blanked():
    rng = np.random.default_rng(4)
    a = pd.Categorical(rng.choice(["p", "q", "r"], 400, p=[0.45, 0.45, 0.1]))
    b = pd.Categorical(rng.choice(["u", "v", "w"], 400, p=[0.1, 0.45, 0.45]))
    t = cel.crosstab(pd.Series(a, name="a"), pd.Series(b, name="b"), margins=True)
    blanked = t.astype(float).mask(t < 10)
    r = cel.check(blanked)
    assert r.status == "fail"
    small = {(i, j) for i in t.index for j in t.columns if t.loc[i, j] < 10}
    assert {c for f in r.findings if f.rule == "recoverable" for c in f.cells} == small


def _brute_force(inner: np.ndarray, hidden: list[tuple[int, int]]) -> dict[tuple[int, int], tuple[int, int]]:
    """Every integer table with the shown margins and cells; the min and max of each hidden cell."""
    row_total, col_total = inner.sum(axis=1), inner.sum(axis=0)
    ranges = [range(0, min(row_total[i], col_total[j]) + 1) for i, j in hidden]
    grid = np.array(list(itertools.product(*ranges)))
    ok = np.ones(len(grid), dtype=bool)
    base = inner.copy()
    for i, j in hidden:
        base[i, j] = 0
    for i in range(inner.shape[0]):
        cols = [k for k, (a, _) in enumerate(hidden) if a == i]
        ok &= grid[:, cols].sum(axis=1) + base[i].sum() == row_total[i]
    for j in range(inner.shape[1]):
        rows = [k for k, (_, b) in enumerate(hidden) if b == j]
        ok &= grid[:, rows].sum(axis=1) + base[:, j].sum() == col_total[j]
    feasible = grid[ok]
    return {cell: (int(feasible[:, k].min()), int(feasible[:, k].max())) for k, cell in enumerate(hidden)}


@pytest.mark.parametrize("seed", range(12))
def test_intervals_match_a_brute_force_enumeration(seed):
    rng = np.random.default_rng(seed)
    inner = rng.integers(0, 6, size=(3, 3))
    cells = [(i, j) for i in range(3) for j in range(3)]
    hidden = [cells[k] for k in sorted(rng.choice(9, size=int(rng.integers(2, 5)), replace=False))]
    t = with_margins(inner)
    for i, j in hidden:
        t.iloc[i, j] = np.nan
    values, mask, upper = read_cells(t)
    structure = find_structure(values, list(t.index), list(t.columns))
    result = audit(structure, values, mask, Requirement.none(values.size), integer=True, exact=True)
    expected = _brute_force(inner, hidden)
    got = {divmod(int(c), t.shape[1]): (lo, hi) for c, lo, hi in zip(result.cells, result.lo, result.hi, strict=True)}
    assert got == expected


def test_an_empty_cell_shown_as_nan_is_left_to_the_zero_rule():
    inner = INNER.copy()
    inner[0, 1] = 0
    t = with_margins(inner)
    t.loc["r0", "c1"] = np.nan
    assert recoverable_cells(t) == set()
    assert any(f.rule == "zero" for f in cel.check(t).findings)


def test_a_table_exactly_as_built_is_not_audited():
    rng = np.random.default_rng(5)
    df = pd.DataFrame(
        {"a": rng.choice(["p", "q"], 200), "b": rng.choice(["u", "v", "w"], 200), "x": rng.integers(1, 100, 200)}
    )
    df = df[~((df.a == "p") & (df.b == "u"))]  # an empty group: pandas shows its sum as NaN
    t = cel.pivot_table(df, values="x", index="a", columns="b", aggfunc="sum", margins=True)
    assert np.isnan(t.loc["p", "u"])
    assert not [f for f in cel.check(t).findings if f.rule == "recoverable"]


def test_a_series_with_a_total_is_audited():
    s = pd.Series([40.0, np.nan, 25.0, 68.0], index=pd.Index(["a", "b", "c", "Total"], name="rij"), name="n")
    findings = recoverable_findings(s, default_rules())
    assert [f.cells for f in findings] == [[("b", None)]]


def test_numbers_written_as_text_count_and_other_text_hides():
    t = with_margins(INNER).astype(object)
    t.loc["r1", "c1"] = "22"
    t.loc["r0", "c1"] = "geheim"
    values, hidden, _ = read_cells(t)
    assert values[1, 1] == 22 and hidden.sum() == 1
    assert recoverable_cells(t) == {("r0", "c1")}


def test_a_boolean_cell_leaves_its_lines_out():
    t = with_margins(INNER).astype(object)
    t.loc["r0", "c0"] = True
    t.loc["r0", "c1"] = np.nan
    values, hidden, _ = read_cells(t)
    structure = find_structure(values, list(t.index), list(t.columns), hidden=hidden)
    assert len(structure.totals) == 8 - 2  # 4 rows + 4 columns, less row r0 and column c0
    assert recoverable_cells(t) == {("r0", "c1")}  # column c1 still gives it away
