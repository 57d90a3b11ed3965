"""`cel.protect`: suppression that the audit (and an independent LP here) cannot break, merging, rounding."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

import cbs_export_lab as cel
from cbs_export_lab.audit import Requirement, audit, find_structure, suppress
from cbs_export_lab.checks.hidden import PROTECTED_ATTR, count_requirement, recoverable_findings
from cbs_export_lab.rules import default_rules

COUNTS = np.array(
    [
        [40, 3, 25, 31],
        [30, 22, 18, 5],
        [27, 35, 50, 44],
        [12, 2, 33, 20],
    ]
)


def frame_of(counts: np.ndarray, seed: int = 0) -> pd.DataFrame:
    """Synthetic records, one per unit, with exactly these counts per (regio, klasse)."""
    rows = [f"regio {i}" for i in range(counts.shape[0])]
    cols = [f"{10 * j}-{10 * j + 9}" for j in range(counts.shape[1])]
    regio = np.repeat(np.repeat(rows, counts.shape[1]), counts.ravel())
    klasse = np.repeat(np.tile(cols, counts.shape[0]), counts.ravel())
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(regio))
    n = len(regio)
    return pd.DataFrame(
        {
            "regio": pd.Categorical(regio[order], categories=rows),
            "klasse": pd.Categorical(klasse[order], categories=cols, ordered=True),
            "inkomen": rng.lognormal(10, 0.5, n).round(-2),
        }
    )


@pytest.fixture
def df():
    return frame_of(COUNTS)


@pytest.fixture
def table(df):
    return cel.crosstab(df.regio, df.klasse, margins=True)


def independent_intervals(safe: pd.DataFrame) -> dict[tuple, tuple[float, float]]:
    """Intervals of the hidden cells from the row and column sums alone, written out here (no project code)."""
    values = safe.to_numpy(dtype=float)
    R, C = values.shape
    hidden = np.argwhere(np.isnan(values))
    index = {(int(i), int(j)): k for k, (i, j) in enumerate(hidden)}
    A, b = [], []
    for i in range(R):  # row i: cells 0..C-2 add up to the last column
        row, rhs = np.zeros(len(hidden)), 0.0
        for j in range(C):
            sign = -1.0 if j == C - 1 else 1.0
            if (i, j) in index:
                row[index[i, j]] += sign
            else:
                rhs -= sign * values[i, j]
        A.append(row)
        b.append(rhs)
    for j in range(C):
        col, rhs = np.zeros(len(hidden)), 0.0
        for i in range(R):
            sign = -1.0 if i == R - 1 else 1.0
            if (i, j) in index:
                col[index[i, j]] += sign
            else:
                rhs -= sign * values[i, j]
        A.append(col)
        b.append(rhs)
    out = {}
    for k, (i, j) in enumerate(hidden):
        c = np.zeros(len(hidden))
        c[k] = 1
        lo = linprog(c, A_eq=np.array(A), b_eq=np.array(b), bounds=(0, None), method="highs").fun
        hi = -linprog(-c, A_eq=np.array(A), b_eq=np.array(b), bounds=(0, None), method="highs").fun
        out[safe.index[i], safe.columns[j]] = (lo, hi)
    return out


def test_suppressed_table_passes_and_no_hidden_cell_is_recoverable(table):
    before = cel.check(table)
    primary = {c for f in before.findings if f.rule == "threshold" for c in f.cells}
    assert before.status == "fail" and primary
    safe = cel.protect(table)
    assert isinstance(safe, pd.DataFrame)
    hidden = {(i, j) for i in safe.index for j in safe.columns if np.isnan(safe.loc[i, j])}
    assert primary <= hidden
    shown = ~np.isnan(safe.to_numpy())
    assert np.array_equal(safe.to_numpy()[shown], table.to_numpy(dtype=float)[shown])
    intervals = independent_intervals(safe)
    for cell in primary:
        lo, hi = intervals[cell]
        assert hi - lo >= 10 or (lo <= 0 and hi >= 9), (cell, lo, hi)
    for cell in hidden - primary:
        lo, hi = intervals[cell]
        assert hi - lo > 0, cell
    result = cel.check(safe)
    assert result.status == "pass", result.report()
    assert result.details["protection"]["primary"] == len(primary)
    info = safe.attrs[PROTECTED_ATTR]
    assert info["method"] == "suppress" and set(info["hidden_values"]) == hidden
    assert info["hidden_values"][("regio 0", "10-19")] == 3


def test_without_its_record_the_protected_table_still_holds_the_audit(table):
    safe = cel.protect(table)
    bare = safe.copy()
    bare.attrs = {}
    assert not [f for f in cel.check(bare).findings if f.rule == "recoverable"]


def test_primary_suppression_alone_fails_where_protect_passes(table):
    before = cel.check(table)
    cells = [c for f in before.findings if f.rule == "threshold" for c in f.cells]
    only_primary = table.astype(float)
    for r, c in cells:
        only_primary.loc[r, c] = np.nan
    assert cel.check(only_primary).status == "fail"
    assert any(f.rule == "recoverable" for f in cel.check(only_primary).findings)


def test_cost_by_value_hides_small_cells(table):
    by_cells, by_value = cel.protect(table), cel.protect(table, cost="value")
    hidden_value = lambda t: float(np.nansum(np.where(np.isnan(t.to_numpy()), table.to_numpy(), 0)))  # noqa: E731
    assert hidden_value(by_value) <= hidden_value(by_cells)
    assert cel.check(by_value).status == "pass"


def test_a_plain_table_needs_its_source(df):
    plain = pd.crosstab(df.regio, df.klasse, margins=True)
    with pytest.raises(cel.UserError, match="nothing to protect it with"):
        cel.protect(plain)
    safe = cel.protect(plain, data=df)
    assert np.isnan(safe.loc["regio 0", "10-19"])
    assert not [f for f in cel.check(safe).findings if f.rule == "recoverable"]


def test_a_magnitude_table_hides_dominated_cells(df):
    df = df.copy()
    df.loc[df.index[(df.regio == "regio 2") & (df.klasse == "20-29")][0], "inkomen"] = 5e7
    t = cel.pivot_table(df, values="inkomen", index="regio", columns="klasse", aggfunc="sum", margins=True)
    before = cel.check(t)
    dominated = {c for f in before.findings if f.rule in ("dominance", "p_percent") for c in f.cells}
    assert ("regio 2", "20-29") in dominated
    safe = cel.protect(t)
    assert np.isnan(safe.loc["regio 2", "20-29"])
    after = cel.check(safe)
    assert not [f for f in after.findings if f.rule in ("dominance", "p_percent", "threshold", "recoverable")]


def test_the_heuristic_for_large_tables_passes_the_audit():
    rng = np.random.default_rng(2)
    inner = rng.integers(10, 60, size=(12, 9)).astype(float)
    inner[rng.random(inner.shape) < 0.12] = rng.integers(1, 9)
    full = np.zeros((13, 10))
    full[:12, :9] = inner
    full[:12, 9], full[12, :9], full[12, 9] = inner.sum(1), inner.sum(0), inner.sum()
    rows, cols = [f"r{i}" for i in range(12)] + ["All"], [f"c{j}" for j in range(9)] + ["All"]
    structure = find_structure(full, rows, cols)
    primary = (full > 0) & (full < 10)
    req = count_requirement(full.size, default_rules())
    pattern = suppress(structure, full, primary, req, method="heuristic")
    assert pattern.method == "heuristic" and (pattern.hidden >= primary).all()
    t = pd.DataFrame(np.where(pattern.hidden, np.nan, full), index=rows, columns=cols)
    assert recoverable_findings(t, default_rules()) == []


def test_no_margins_needs_no_secondary_cells():
    full = np.array([[3.0, 20.0], [15.0, 30.0]])
    structure = find_structure(full, ["a", "b"], ["x", "y"])
    pattern = suppress(structure, full, full < 10, Requirement.none(4))
    assert pattern.hidden.sum() == 1


def test_merge_keeps_the_totals_and_makes_every_cell_hold(df, table):
    merged = cel.protect(table, method="merge", data=df)
    assert merged.loc["All", "All"] == table.loc["All", "All"]
    assert merged["All"].drop("All").sum() == table["All"].drop("All").sum()
    result = cel.check(merged)
    assert not [f for f in result.findings if f.severity == "fail"], result.report()
    done = merged.attrs[PROTECTED_ATTR]
    assert done["method"] == "merge" and done["merged"]
    # the ordered key merges neighbours only: each merged label is a run of adjacent classes
    for label in merged.columns.drop("All"):
        parts = str(label).split(" + ")
        starts = [int(p.split("-")[0]) for p in parts]
        assert starts == list(range(starts[0], starts[0] + 10 * len(parts), 10))


def test_merge_needs_the_source(table):
    with pytest.raises(cel.UserError, match="data="):
        cel.protect(table, method="merge")


def test_round_gives_multiples_of_the_base_and_totals_of_the_rounded_cells(table):
    rounded = cel.protect(table, method="round")
    inner = rounded.drop(index="All", columns="All").to_numpy()
    assert (inner % 5 == 0).all()
    assert (rounded["All"].drop("All").to_numpy() == inner.sum(axis=1)).all()
    assert rounded.loc["All", "All"] == inner.sum()
    assert (cel.protect(table, method="round", base=10).to_numpy() % 10 == 0).all()
    assert rounded.attrs[PROTECTED_ATTR]["method"] == "round"


def test_wrong_arguments_are_user_errors(table):
    with pytest.raises(cel.UserError, match="method"):
        cel.protect(table, method="swap")
    with pytest.raises(cel.UserError, match="cost"):
        cel.protect(table, cost="time")
    with pytest.raises(cel.UserError, match="base"):
        cel.protect(table, method="round", base=0)
    with pytest.raises(cel.UserError, match="DataFrame"):
        cel.protect([1, 2, 3])


@pytest.mark.parametrize("seed", range(6))
def test_random_tables_are_protected_as_an_independent_lp_sees_them(seed):
    rng = np.random.default_rng(seed)
    counts = rng.integers(10, 60, size=(5, 4))
    counts[rng.random(counts.shape) < 0.2] = rng.integers(1, 10)
    records = frame_of(counts, seed)
    t = cel.crosstab(records.regio, records.klasse, margins=True)
    safe = cel.protect(t)
    values = t.to_numpy(dtype=float)
    primary = (values > 0) & (values < 10)
    assert np.isnan(safe.to_numpy()[primary]).all()
    for (r, c), (lo, hi) in independent_intervals(safe).items():
        v = t.loc[r, c]
        if 0 < v < 10:
            assert hi - lo >= 10 or (lo <= 0 and hi >= 9), (r, c, lo, hi)
        else:
            assert hi - lo > 0
    assert cel.check(safe).status in ("pass", "review")
    assert not [f for f in cel.check(safe).findings if f.severity == "fail"]


def test_nested_subtotals_are_protected_at_every_level():
    rows = [("g1", "a"), ("g1", "b"), ("g1", "Total"), ("g2", "c"), ("g2", "d"), ("g2", "Total"), ("All", "")]
    detail = np.array([[3, 40, 25], [30, 22, 18], [27, 35, 50], [14, 6, 33]], dtype=float)
    full = np.zeros((7, 4))
    full[[0, 1, 3, 4], :3] = detail
    full[2, :3], full[5, :3] = detail[:2].sum(0), detail[2:].sum(0)
    full[6, :3] = detail.sum(0)
    full[:, 3] = full[:, :3].sum(1)
    index = pd.MultiIndex.from_tuples(rows)
    structure = find_structure(full, list(index), ["x", "y", "z", "All"])
    primary = (full > 0) & (full < 10)
    pattern = suppress(structure, full, primary, count_requirement(full.size, default_rules()))
    t = pd.DataFrame(np.where(pattern.hidden, np.nan, full), index=index, columns=["x", "y", "z", "All"])
    assert (pattern.hidden >= primary).all()
    assert recoverable_findings(t, default_rules()) == []
    result = audit(structure, t.to_numpy(), pattern.hidden, Requirement.none(full.size), integer=True, exact=True)
    for cell, lo, hi in zip(result.cells, result.lo, result.hi, strict=True):
        if primary.ravel()[cell]:
            assert hi - lo >= 10 or (lo <= 0 and hi >= 9)


def test_a_table_with_negative_numbers_is_protected_without_a_floor():
    inner = np.array([[-400.0, 1200.0, 300.0], [800.0, -50.0, 900.0], [700.0, 650.0, -120.0]])
    full = np.zeros((4, 4))
    full[:3, :3] = inner
    full[:3, 3], full[3, :3], full[3, 3] = inner.sum(1), inner.sum(0), inner.sum()
    rows, cols = ["a", "b", "c", "All"], ["x", "y", "z", "All"]
    structure = find_structure(full, rows, cols)
    primary = np.zeros(full.shape, dtype=bool)
    primary[1, 1] = True
    req = Requirement.none(full.size)
    req.up[:], req.down[:] = 100.0, 100.0
    pattern = suppress(structure, full, primary, req)
    values = np.where(pattern.hidden, np.nan, full)
    result = audit(structure, values, pattern.hidden, req, original=full)
    assert result.holds.all() and pattern.hidden.sum() >= 4


def test_an_edited_protected_table_is_judged_as_an_ordinary_one(table):
    safe = cel.protect(table)
    edited = safe.copy()
    edited.loc["regio 0", "0-9"] += 1
    result = cel.check(edited)
    assert "protection" not in result.details and result.status != "pass"
    assert cel.check(safe.style).status == "pass"
