"""The audit of hidden cells and the choice of extra cells to hide (secondary suppression), as linear programs.

A table with margins and subtotals is a linear system: every total equals the sum of the cells it covers. When
some cells are hidden, the shown cells, that system and non-negativity still bound each hidden cell to an
interval; a cell whose interval is a point, or narrower than its protection, is recoverable (tau-Argus calls
this the audit). HiGHS (through scipy) computes the intervals; exactly determined cells are found first by
linear algebra, and cells whose protection is already proven by solutions seen so far need no LP of their own.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import linalg, sparse
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse.csgraph import connected_components

MARGIN_WORDS = frozenset({"all", "total", "totaal", "totals", "totalen", "subtotal", "subtotaal", "overall"})
HIDDEN_MARKERS = frozenset({"x", ".", "-", "*", "..", "?", "", "n/a", "na", "–", "—"})
_LESS_THAN = re.compile(r"^<\s*(\d+(?:[.,]\d+)?)$")
_EPS = 1e-7


# --- reading a table ----------------------------------------------------------------------------------------


def read_cells(frame: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The cells as floats, which are hidden (NaN or a marker such as "x", "<10"), and a known upper bound
    per cell ("<10": below 10; inf elsewhere). Numbers written as text are numbers; other text hides a number.
    Cells that are neither (booleans) are NaN and not hidden: equations through them are left out."""
    raw = frame.to_numpy(dtype=object)
    values = np.full(raw.shape, np.nan)
    hidden = np.zeros(raw.shape, dtype=bool)
    upper = np.full(raw.shape, np.inf)
    for (i, j), v in np.ndenumerate(raw):
        if isinstance(v, (bool, np.bool_)):
            continue
        if isinstance(v, (int, float, np.integer, np.floating)):
            if np.isnan(v):
                hidden[i, j] = True
            else:
                values[i, j] = float(v)
        elif v is None or v is pd.NA:
            hidden[i, j] = True
        elif isinstance(v, str):
            text = v.strip().lower()
            less = _LESS_THAN.match(text)
            if less:
                upper[i, j] = float(less.group(1).replace(",", "."))
            try:
                values[i, j] = float(text) if not less and text not in HIDDEN_MARKERS else np.nan
            except ValueError:
                values[i, j] = np.nan
            hidden[i, j] = bool(np.isnan(values[i, j]))
    return values, hidden, upper


def _is_margin_part(part: Any, margins_name: Any) -> bool:
    if margins_name is not None and part == margins_name:
        return True
    return isinstance(part, str) and part.strip().lower() in MARGIN_WORDS


def margin_positions(label: Any, margins_name: Any = None) -> tuple[bool, ...]:
    """Which parts of a label (a tuple for several levels) are a margin: a margin word, or '' after one."""
    parts = label if isinstance(label, tuple) else (label,)
    out, after = [], False
    for part in parts:
        here = _is_margin_part(part, margins_name) or (after and part == "")
        after = after or here
        out.append(here)
    return tuple(out)


def aggregates(labels: Sequence[Any], margins_name: Any = None) -> list[tuple[int, np.ndarray]]:
    """(position of a total, positions of the detail labels it sums) for every margin or subtotal label.

    A total sums the detail labels (no margin part) that agree with it on every part that is not a margin, so
    ('North', 'Total') sums ('North', x) and ('All', '') sums everything; crossed totals such as ('All', 'man')
    work the same way.
    """
    marks = [margin_positions(label, margins_name) for label in labels]
    parts = [label if isinstance(label, tuple) else (label,) for label in labels]
    leaves = [k for k, m in enumerate(marks) if not any(m)]
    out = []
    for k, m in enumerate(marks):
        if not any(m):
            continue
        keep = [i for i, is_margin in enumerate(m) if not is_margin]
        members = [
            q for q in leaves if len(parts[q]) == len(parts[k]) and all(parts[q][i] == parts[k][i] for i in keep)
        ]
        if members:
            out.append((k, np.asarray(members, dtype=np.int64)))
    return out


@dataclass
class Structure:
    """The additive structure of a table: equations `total = sum(parts)` over flat cell positions (row * C + col).

    `matrix` holds one equation per row (+1 for the parts, -1 for the total); `dropped` names the totals whose
    shown numbers do not add up (a table of means, or rounded numbers), which are left out.
    """

    shape: tuple[int, int]
    totals: np.ndarray
    parts: list[np.ndarray]
    matrix: sparse.csr_matrix
    dropped: list[str] = field(default_factory=list)

    @property
    def n_cells(self) -> int:
        return self.shape[0] * self.shape[1]


def find_structure(
    values: np.ndarray,
    row_labels: Sequence[Any],
    col_labels: Sequence[Any],
    margins_name: Any = None,
    tolerance: float | None = None,
    hidden: np.ndarray | None = None,
) -> Structure:
    """Every margin and subtotal equation of the table whose shown numbers add up (hidden cells are NaN; with
    `hidden`, equations through cells that are NaN without being hidden are left out)."""
    R, C = values.shape
    unknown = (np.isnan(values) & ~hidden).ravel() if hidden is not None else np.zeros(R * C, dtype=bool)
    tol = _tolerance(values) if tolerance is None else tolerance
    totals, parts, dropped = [], [], []
    for axis, labels in ((0, row_labels), (1, col_labels)):
        for total, members in aggregates(labels, margins_name):
            lines = range(C) if axis == 0 else range(R)
            eq_totals, eq_parts, ok = [], [], True
            for line in lines:
                t = total * C + line if axis == 0 else line * C + total
                p = members * C + line if axis == 0 else line * C + members
                cells = values.ravel()[np.append(p, t)]
                if unknown[np.append(p, t)].any():
                    continue
                if not np.isnan(cells).any() and abs(cells[:-1].sum() - cells[-1]) > tol * (len(p) + 1):
                    ok = False
                    break
                eq_totals.append(t)
                eq_parts.append(p)
            if ok:
                totals += eq_totals
                parts += eq_parts
            else:
                dropped.append(str(labels[total]))
    return Structure((R, C), np.asarray(totals, dtype=np.int64), parts, _matrix(totals, parts, R * C), dropped)


def _tolerance(values: np.ndarray) -> float:
    """How far a sum may be off: nothing for whole numbers, half a unit of the last decimal shown otherwise."""
    shown = values[np.isfinite(values)]
    if not shown.size or np.all(shown == np.round(shown)):
        return 1e-9 * max(1.0, float(np.abs(shown).max()) if shown.size else 1.0)
    for decimals in range(1, 7):
        if np.allclose(shown, np.round(shown, decimals), rtol=0, atol=1e-9):
            return 0.5 * 10.0**-decimals
    return 1e-6 * max(1.0, float(np.abs(shown).max()))


def _matrix(totals: Sequence[int], parts: Sequence[np.ndarray], n: int) -> sparse.csr_matrix:
    rows, cols, data = [], [], []
    for e, (t, p) in enumerate(zip(totals, parts, strict=False)):
        rows += [e] * (len(p) + 1)
        cols += list(p) + [t]
        data += [1.0] * len(p) + [-1.0]
    return sparse.csr_matrix((data, (rows, cols)), shape=(len(totals), n))


# --- intervals ----------------------------------------------------------------------------------------------


@dataclass
class Requirement:
    """What a hidden cell needs (flat arrays over all cells): an interval at least `width` wide, or one that
    reaches from `floor` up to `ceiling` (counts: [0, N-1]), and/or `up` above and `down` below its value."""

    width: np.ndarray
    up: np.ndarray
    down: np.ndarray
    ceiling: np.ndarray
    relative: np.ndarray  # width as a share of the interval's largest absolute end (magnitudes, value unknown)
    safe_from: np.ndarray  # a cell known to be at least this large needs only not to be exactly determined

    @classmethod
    def none(cls, n: int) -> Requirement:
        z = np.zeros(n)
        return cls(
            width=z.copy(),
            up=z.copy(),
            down=z.copy(),
            ceiling=np.full(n, np.inf),
            relative=z.copy(),
            safe_from=np.full(n, np.inf),
        )

    def holds(self, k: np.ndarray, lo: np.ndarray, hi: np.ndarray, value: np.ndarray | None) -> np.ndarray:
        """Whether intervals [lo, hi] protect cells k; a wider interval never holds less."""
        span = hi - lo
        ok = span > _EPS * np.maximum(1.0, np.abs(np.nan_to_num(hi, posinf=0)))
        wide = span >= self.width[k] - _EPS
        wide |= (lo <= _EPS) & (hi >= self.ceiling[k] - _EPS)
        wide |= lo >= self.safe_from[k] - _EPS
        ok &= wide
        rel = self.relative[k]
        with np.errstate(invalid="ignore"):
            ok &= (rel <= 0) | (span >= rel * np.maximum(np.abs(lo), np.abs(hi)) - _EPS)
        if value is not None:
            v = value[k]
            ok &= (hi >= v + self.up[k] - _EPS) & (lo <= v - self.down[k] + _EPS)
        return ok


@dataclass
class Audit:
    """Per hidden cell (flat positions `cells`): its interval, whether its protection holds, and the equation
    that ties it most closely (index into the structure, -1 when none). `consistent` is False when the shown
    numbers admit no table at all (they do not add up as the labels say), so nothing could be concluded."""

    cells: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    holds: np.ndarray
    tie: np.ndarray
    exact: np.ndarray
    consistent: bool = True

    @property
    def failing(self) -> np.ndarray:
        return self.cells[~self.holds]


class _System:
    """The equations restricted to the hidden cells, with the shown cells moved to the right-hand side."""

    def __init__(
        self,
        structure: Structure,
        values: np.ndarray,
        hidden: np.ndarray,
        lower: np.ndarray,
        upper: np.ndarray,
        tol: float,
    ) -> None:
        self.cells = np.flatnonzero(hidden.ravel())
        M = structure.matrix.tocsc()
        shown = np.nan_to_num(values.ravel() * ~hidden.ravel())
        Ah = M[:, self.cells].tocsr()
        used = np.flatnonzero(np.diff(Ah.indptr) > 0)
        self.A = Ah[used]
        self.rhs = -(M @ shown)[used]
        self.eq = used
        self.lower, self.upper, self.tol = lower.ravel()[self.cells], upper.ravel()[self.cells], tol

    def components(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(hidden-cell indices, equation indices) of each group of hidden cells tied by equations."""
        n = len(self.cells)
        if n == 0:
            return []
        A = self.A
        link = (A.T @ A) if A.shape[0] else sparse.csr_matrix((n, n))
        count, label = connected_components(link, directed=False)
        out = []
        for c in range(count):
            var = np.flatnonzero(label == c)
            rows = np.unique(A[:, var].tocoo().row) if A.shape[0] else np.zeros(0, dtype=np.int64)
            out.append((var, rows))
        return out

    def solve(self, var: np.ndarray, rows: np.ndarray, objective: np.ndarray, integer: bool) -> np.ndarray | None:
        """A table (values of `var`) optimal for `objective`, None when there is none; inf entries when the
        objective is unbounded in that direction."""
        A = self.A[rows][:, var]
        bounds = list(zip(self.lower[var], np.where(np.isinf(self.upper[var]), None, self.upper[var]), strict=False))
        b = self.rhs[rows]
        if self.tol > 1e-6:
            res = linprog(
                objective,
                A_ub=sparse.vstack([A, -A]),
                b_ub=np.concatenate([b + self.tol, self.tol - b]),
                bounds=bounds,
                method="highs",
            )
        else:
            res = linprog(objective, A_eq=A, b_eq=b, bounds=bounds, method="highs")
        if res.status == 2:
            return None
        if res.status == 3:  # unbounded: only a single cell's own objective says that cell has no limit
            single = np.count_nonzero(objective) == 1
            out = np.full(len(objective), np.nan)
            out[(objective != 0) & single] = -np.sign(objective[(objective != 0) & single]) * np.inf
            return out
        x = res.x
        if integer and not np.allclose(x, np.round(x), atol=1e-6):
            x = _integer_solution(A, b, objective, self.lower[var], self.upper[var]) if self.tol <= 1e-6 else x
        return x


def _integer_solution(
    A: sparse.csr_matrix, b: np.ndarray, objective: np.ndarray, lower: np.ndarray, upper: np.ndarray
) -> np.ndarray:
    res = milp(
        objective,
        constraints=LinearConstraint(A, b, b),
        integrality=np.ones(len(objective)),
        bounds=Bounds(lower, upper),
        options={"time_limit": 10},
    )
    return res.x if res.x is not None else np.full(len(objective), np.nan)


def audit(
    structure: Structure,
    values: np.ndarray,
    hidden: np.ndarray,
    requirement: Requirement,
    *,
    upper: np.ndarray | None = None,
    integer: bool = False,
    original: np.ndarray | None = None,
    exact: bool = False,
) -> Audit:
    """The intervals of the hidden cells and whether each holds its `requirement`.

    With `exact=False` a cell's interval is computed only as far as its verdict needs: cells proven protected by
    the tables seen so far (`original` is one) report that range, which lies inside their true interval.
    """
    flat_values = values.ravel()
    nonneg = (
        bool(np.all(flat_values[np.isfinite(flat_values)] >= 0))
        if original is None
        else bool(np.all(original.ravel()[np.isfinite(original.ravel())] >= 0))
    )
    lower = np.zeros(values.shape) if nonneg else np.full(values.shape, -np.inf)
    upper = np.full(values.shape, np.inf) if upper is None else upper
    sys = _System(structure, values, hidden, lower, upper, 0.0 if integer else _tolerance(values))
    n = len(sys.cells)
    lo, hi = np.full(n, np.inf), np.full(n, -np.inf)
    done = np.zeros(n, dtype=bool)
    consistent = True
    value = None if original is None else original.ravel()
    if value is not None and n and not exact:
        proven, c_lo, c_hi = certified(structure, np.nan_to_num(value), hidden.ravel(), requirement, sys.cells)
        lo[proven], hi[proven], done[proven] = c_lo[proven], c_hi[proven], True
    for var, rows in sys.components():
        if not len(rows):
            lo[var], hi[var] = sys.lower[var], sys.upper[var]
            done[var] = True
            continue
        if not _component(sys, var, rows, lo, hi, done, requirement, value, integer, exact):
            consistent = False
            lo[var], hi[var] = sys.lower[var], sys.upper[var]
    if integer:
        lo, hi = np.ceil(lo - 1e-6), np.floor(hi + 1e-6)
    holds = requirement.holds(sys.cells, lo, hi, value) if n else np.zeros(0, dtype=bool)
    if not consistent:
        holds[:] = True
    return Audit(
        cells=sys.cells,
        lo=lo,
        hi=hi,
        holds=holds,
        tie=_ties(structure, sys.cells, hidden),
        exact=np.isfinite(hi) & (np.abs(hi - lo) <= 1e-9 * np.maximum(1, np.abs(hi))),
        consistent=consistent,
    )


def _component(
    sys: _System,
    var: np.ndarray,
    rows: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    done: np.ndarray,
    requirement: Requirement,
    value: np.ndarray | None,
    integer: bool,
    exact: bool,
) -> bool:
    """Fill lo/hi for one group of tied hidden cells; False when its equations have no solution."""
    A = sys.A[rows][:, var].toarray()
    fixed = _determined(A)
    if fixed.any() and sys.tol <= 1e-6:
        x, *_ = np.linalg.lstsq(A, sys.rhs[rows], rcond=None)
        lo[var[fixed]] = hi[var[fixed]] = x[fixed]
        done[var[fixed]] = True

    def seen(x: np.ndarray) -> None:
        finite = np.where(np.isnan(x), lo[var], x)
        lo[var] = np.minimum(lo[var], finite)
        hi[var] = np.maximum(hi[var], np.where(np.isnan(x), hi[var], x))

    if value is not None:
        seen(value[sys.cells[var]])
    k = len(var)
    for objective in (np.ones(k), -np.ones(k)):
        x = sys.solve(var, rows, objective, integer)
        if x is None:
            return False
        seen(x)
    for local in range(k):
        i = var[local]
        if done[i] or (not exact and requirement.holds(sys.cells[[i]], lo[[i]], hi[[i]], value)[0]):
            continue
        for sense in (1.0, -1.0):
            objective = np.zeros(k)
            objective[local] = sense
            x = sys.solve(var, rows, objective, integer)
            if x is None:
                return False
            seen(x)
        done[i] = True
    return True


def _determined(A: np.ndarray) -> np.ndarray:
    """Cells whose value the equations fix whatever the bounds: their row of the null space is zero."""
    if A.shape[1] > 150:  # the LPs find these too; a large SVD costs more than they do
        return np.zeros(A.shape[1], dtype=bool)
    N = linalg.null_space(A) if A.size else np.eye(A.shape[1])
    return np.abs(N).max(axis=1, initial=0.0) < 1e-9 if N.size else np.ones(A.shape[1], dtype=bool)


def _ties(structure: Structure, cells: np.ndarray, hidden: np.ndarray) -> np.ndarray:
    """Per hidden cell, the equation holding it with the fewest hidden cells (the line that gives it away)."""
    M = structure.matrix.tocsc()
    hidden_per_eq = np.abs(M) @ hidden.ravel().astype(float) if M.shape[0] else np.zeros(0)
    out = np.full(len(cells), -1, dtype=np.int64)
    for n, c in enumerate(cells):
        eqs = M[:, c].nonzero()[0]
        if len(eqs):
            out[n] = eqs[np.argmin(hidden_per_eq[eqs])]
    return out


def unravel(flat: int, shape: tuple[int, int]) -> tuple[int, int]:
    return int(flat // shape[1]), int(flat % shape[1])


# --- secondary suppression ----------------------------------------------------------------------------------


@dataclass
class Pattern:
    """The cells to hide and how they were found (`method`: 'optimal', 'cuts' when the time ran out before the
    optimum was proven, or 'heuristic'); `rounds` of audit and re-solve."""

    hidden: np.ndarray
    method: str
    rounds: int


EXACT_CELLS = 1500  # tables up to this many cells get the optimising cut loop; larger ones the heuristic


def suppress(
    structure: Structure,
    values: np.ndarray,
    primary: np.ndarray,
    requirement: Requirement,
    *,
    cost: str = "cells",
    integer: bool = True,
    time_limit: float = 20.0,
    method: str = "auto",
) -> Pattern:
    """Primary cells plus the fewest (or smallest) extra cells so that every primary cell holds its requirement.

    The optimising method alternates a MILP over which cells to hide with the audit: each primary cell whose
    interval is too narrow adds a cut (from the duals of its attacker LP) saying which extra cells would widen it,
    as in Fischetti and Salazar's model used by tau-Argus. The heuristic, for large tables, hides for each primary
    cell the cheapest rectangle of cells (rows and columns that share every total), then repairs with the audit.
    """
    a = np.nan_to_num(values.astype(float)).ravel()
    prim = primary.ravel().astype(bool)
    c = _costs(a, cost)
    if not prim.any() or not structure.totals.size:
        return Pattern(primary.copy(), "none", 0)
    chosen = method if method != "auto" else ("optimal" if structure.n_cells <= EXACT_CELLS else "heuristic")
    start = time.perf_counter()
    if chosen == "optimal":
        hidden, rounds, proven = _cut_loop(structure, a, prim, requirement, c, time_limit)
        label = "optimal" if proven else "cuts"
    else:
        hidden, rounds, label = _rectangles(structure, a, prim, requirement, c), 0, "heuristic"
    left = time_limit - (time.perf_counter() - start)
    hidden, more = _repair(structure, a, prim, hidden, requirement, c, integer, left)
    hidden = _show_determined(structure, a, prim, hidden, requirement, integer)
    return Pattern(hidden.reshape(values.shape), label, rounds + more)


def _costs(a: np.ndarray, cost: str) -> np.ndarray:
    scale = max(1.0, float(np.abs(a).max()))
    if cost == "value":
        return np.abs(a) + 1e-3 * scale
    if cost == "cells":
        return 1.0 + 1e-3 * np.abs(a) / scale
    raise ValueError(f"cost must be 'cells' or 'value', not {cost!r}")


def _room(a: np.ndarray, big: float) -> np.ndarray:
    """How far each cell can go down: to 0 in a table without negative numbers, without limit otherwise."""
    return a if bool(np.all(a >= 0)) else np.full(len(a), big)


def _capacities(
    structure: Structure, a: np.ndarray, hidden: np.ndarray, p: int, big: float
) -> tuple[float, float, np.ndarray, np.ndarray]:
    """How far primary cell p can move up and down with `hidden` cells free, and the cut coefficients of each
    direction over all cells (from the duals: an upper bound on the movement for any other choice of cells)."""
    S = np.flatnonzero(hidden)
    M = structure.matrix
    A = M[:, S].tocsr()
    used = np.flatnonzero(np.diff(A.indptr) > 0)
    A = A[used]
    room = _room(a, big)
    L, U = room[S], np.full(len(S), big)
    where = int(np.flatnonzero(S == p)[0])
    caps, coefs = [], []
    for sense in (-1.0, 1.0):  # -1: push p up; +1: push p down
        objective = np.zeros(len(S))
        objective[where] = sense
        res = linprog(objective, A_eq=A, b_eq=np.zeros(len(used)), bounds=np.column_stack([-L, U]), method="highs")
        caps.append(-res.fun)
        lam = np.zeros(M.shape[0])
        lam[used] = res.eqlin.marginals
        d = -(M.T @ lam)
        d[p] += sense
        coefs.append(np.where(d > 0, d * room, -d * big))
    return caps[0], caps[1], coefs[0], coefs[1]


def _violations(
    structure: Structure, a: np.ndarray, prim: np.ndarray, hidden: np.ndarray, req: Requirement, big: float
) -> list[tuple[np.ndarray, float]]:
    """Cuts `coef @ s >= rhs` for every primary cell whose protection fails with `hidden`; primary cells that
    tables seen on the way already prove protected need no LP of their own."""
    prims = np.flatnonzero(prim)
    proven, _, _ = certified(structure, a, hidden, req, prims)
    unproven = np.zeros(len(a), dtype=bool)
    unproven[prims[~proven]] = True
    if not unproven.any():
        return []
    seen_up, seen_down = _sampled_moves(structure, a, unproven, hidden, big)
    cuts = []
    for p in prims[~proven]:
        if req.holds(np.array([p]), np.array([a[p] - seen_down[p]]), np.array([a[p] + seen_up[p]]), a)[0]:
            continue
        up, down, cu, cd = _capacities(structure, a, hidden, p, big)
        lo, hi = a[p] - down, a[p] + up
        if req.holds(np.array([p]), np.array([lo]), np.array([hi]), a)[0]:
            continue
        need_width = max(req.width[p], req.relative[p] * max(abs(lo), abs(hi)), 1e-6)
        if req.up[p] > 0 and up < req.up[p] - _EPS:
            cuts.append((np.minimum(cu, req.up[p]), req.up[p]))
        if req.down[p] > 0 and down < req.down[p] - _EPS:
            cuts.append((np.minimum(cd, req.down[p]), req.down[p]))
        if up + down < need_width - _EPS or not cuts:
            cuts.append((np.minimum(cu + cd, need_width), need_width))
    return cuts


def _sampled_moves(
    structure: Structure, a: np.ndarray, prim: np.ndarray, hidden: np.ndarray, big: float
) -> tuple[np.ndarray, np.ndarray]:
    """How far each cell moves up and down in a few tables that push all primary cells together."""
    S = np.flatnonzero(hidden)
    A = structure.matrix[:, S].tocsr()
    A = A[np.flatnonzero(np.diff(A.indptr) > 0)]
    up, down = np.zeros(len(a)), np.zeros(len(a))
    rng = np.random.default_rng(0)
    is_prim = prim[S]
    for k in range(4):
        sign = np.ones(len(S)) if k < 2 else rng.choice([-1.0, 1.0], len(S))
        objective = np.where(is_prim, sign * (1 if k % 2 else -1), 0.0)
        bounds = np.column_stack([-_room(a, big)[S], np.full(len(S), big)])
        res = linprog(objective, A_eq=A, b_eq=np.zeros(A.shape[0]), bounds=bounds, method="highs")
        if res.x is None:
            break
        up[S] = np.maximum(up[S], res.x)
        down[S] = np.maximum(down[S], -res.x)
    return up, down


def _line_cuts(structure: Structure, prim: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """Each primary cell needs another hidden cell in every equation it is in."""
    cuts = []
    for t, p in zip(structure.totals, structure.parts, strict=False):
        members = np.append(p, t)
        for q in members[prim[members]]:
            coef = np.zeros(len(prim))
            coef[members] = 1.0
            coef[q] = 0.0
            cuts.append((coef, 1.0))
    return cuts


def _cut_loop(
    structure: Structure, a: np.ndarray, prim: np.ndarray, req: Requirement, c: np.ndarray, time_limit: float
) -> tuple[np.ndarray, int, bool]:
    big = max(1.0, float(np.abs(a).sum()))
    cuts = _line_cuts(structure, prim)
    start = time.perf_counter()
    hidden = prim.copy()
    for rounds in range(1, 200):
        left = time_limit - (time.perf_counter() - start)
        if left <= 0:
            return hidden, rounds, False
        coef = sparse.csr_matrix(np.array([k for k, _ in cuts])) if cuts else sparse.csr_matrix((0, len(a)))
        rhs = np.array([r for _, r in cuts])
        res = milp(
            c,
            integrality=np.ones(len(a)),
            bounds=Bounds(prim.astype(float), np.ones(len(a))),
            constraints=[LinearConstraint(coef, rhs, np.inf)] if cuts else [],
            options={"time_limit": max(1.0, left), "mip_rel_gap": 0},
        )
        if res.x is None:
            return np.ones(len(a), dtype=bool), rounds, False
        hidden = np.round(res.x).astype(bool) | prim
        new = _violations(structure, a, prim, hidden, req, big)
        if not new:
            return hidden, rounds, res.status == 0
        cuts += new
    return hidden, rounds, False


def _axis_groups(structure: Structure) -> tuple[np.ndarray, np.ndarray]:
    """Per row and per column, a group id: detail lines in the same group share every total, so moving a
    value between two of them changes no total."""
    R, C = structure.shape
    row_of, col_of = {}, {}
    for t, p in zip(structure.totals, structure.parts, strict=False):
        rt, ct = divmod(int(t), C)
        rp, cp = np.divmod(p, C)
        if np.all(cp == ct):  # a total over rows
            for r in rp:
                row_of.setdefault(int(r), set()).add(rt)
        else:
            for cc in cp:
                col_of.setdefault(int(cc), set()).add(ct)
    is_total_row = np.zeros(R, dtype=bool)
    is_total_col = np.zeros(C, dtype=bool)
    for t in structure.totals:
        r, cc = divmod(int(t), C)
        is_total_row[r] |= any(r in s for s in row_of.values())
        is_total_col[cc] |= any(cc in s for s in col_of.values())

    def groups(of: dict, n: int, total: np.ndarray) -> np.ndarray:
        keys = {}
        out = np.full(n, -1)
        for k in range(n):
            if not total[k]:
                out[k] = keys.setdefault(frozenset(of.get(k, ())), len(keys))
        return out

    return groups(row_of, R, is_total_row), groups(col_of, C, is_total_col)


def _line_sets(structure: Structure) -> tuple[list[set[int]], list[set[int]]]:
    """Per row and per column, the aggregate rows (columns) whose totals include it."""
    R, C = structure.shape
    row_of: list[set[int]] = [set() for _ in range(R)]
    col_of: list[set[int]] = [set() for _ in range(C)]
    for t, p in zip(structure.totals, structure.parts, strict=True):
        rt, ct = divmod(int(t), C)
        rp, cp = np.divmod(p, C)
        if np.all(cp == ct):
            for r in rp:
                row_of[int(r)].add(rt)
        else:
            for cc in cp:
                col_of[int(cc)].add(ct)
    return row_of, col_of


def _partners(of: list[set[int]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per line, the lines a value can be moved to without changing any other total, with the sign of the move:
    -1 for a sibling (same totals), +1 for its one total, or for a detail line of a top-level total."""
    n = len(of)
    aggregate = {k for s in of for k in s}
    out = []
    for line in range(n):
        others, signs = [], []
        if line not in aggregate:
            others += [m for m in range(n) if m != line and m not in aggregate and of[m] == of[line]]
            signs += [-1.0] * len(others)
            if len(of[line]) == 1:
                others.append(next(iter(of[line])))
                signs.append(1.0)
        elif not of[line]:
            members = [m for m in range(n) if of[m] == {line}]
            others += members
            signs += [1.0] * len(members)
        out.append((np.asarray(others, dtype=np.int64), np.asarray(signs)))
    return out


def certified(
    structure: Structure, a: np.ndarray, hidden: np.ndarray, req: Requirement, cells: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cells whose protection a rectangle of hidden cells proves without an LP: moving a value around four hidden
    cells (two rows and two columns that share their totals) changes no shown number. Returns (proven, lo, hi),
    lo/hi being the range the best rectangle gives (a part of the cell's interval)."""
    R, C = structure.shape
    row_of, col_of = _line_sets(structure)
    rows_p, cols_p = _partners(row_of), _partners(col_of)
    grid, H = a.reshape(R, C), hidden.reshape(R, C)
    room = _room(a, np.inf).reshape(R, C)
    proven = np.zeros(len(cells), dtype=bool)
    lo_out, hi_out = np.full(len(cells), np.inf), np.full(len(cells), -np.inf)
    inf = np.inf
    for n, q in enumerate(cells):
        i, j = divmod(int(q), C)
        ri, rs = rows_p[i]
        cj, cs = cols_p[j]
        keep_r, keep_c = H[ri, j], H[i, cj]
        ri, rs, cj, cs = ri[keep_r], rs[keep_r], cj[keep_c], cs[keep_c]
        if not len(ri) or not len(cj):
            continue
        a_r, a_c, a_d = room[ri, j][:, None], room[i, cj][None, :], room[np.ix_(ri, cj)]
        sr, sc = rs[:, None], cs[None, :]
        sd = sr * sc
        shape = a_d.shape
        up = np.minimum.reduce(
            [
                np.broadcast_to(np.where(sr < 0, a_r, inf), shape),
                np.broadcast_to(np.where(sc < 0, a_c, inf), shape),
                np.where(sd < 0, a_d, inf),
            ]
        )
        down = np.minimum.reduce(
            [
                np.full(shape, room[i, j]),
                np.broadcast_to(np.where(sr > 0, a_r, inf), shape),
                np.broadcast_to(np.where(sc > 0, a_c, inf), shape),
                np.where(sd > 0, a_d, inf),
            ]
        )
        lo, hi = (grid[i, j] - down)[H[np.ix_(ri, cj)]], (grid[i, j] + up)[H[np.ix_(ri, cj)]]
        if not lo.size:
            continue
        ok = req.holds(np.full(lo.size, q), lo, hi, a)
        best = int(np.argmax(ok)) if ok.any() else int(np.argmax(hi - lo))
        proven[n], lo_out[n], hi_out[n] = ok[best], lo[best], hi[best]
    return proven, lo_out, hi_out


def _rectangles(structure: Structure, a: np.ndarray, prim: np.ndarray, req: Requirement, c: np.ndarray) -> np.ndarray:
    """For each primary detail cell, the cheapest rectangle (p, same row other column, same column other row, the
    opposite corner) of detail cells in lines that share every total, wide enough for its requirement."""
    R, C = structure.shape
    row_group, col_group = _axis_groups(structure)
    grid = _room(a, np.inf).reshape(R, C)
    hidden = prim.copy().reshape(R, C)
    for p in np.flatnonzero(prim):
        i, j = divmod(int(p), C)
        if row_group[i] < 0 or col_group[j] < 0:
            continue
        rows = np.flatnonzero((row_group == row_group[i]) & (np.arange(R) != i))
        cols = np.flatnonzero((col_group == col_group[j]) & (np.arange(C) != j))
        if not len(rows) or not len(cols):
            continue
        up = np.minimum(grid[i, cols][None, :], grid[rows, j][:, None])
        down = np.minimum(grid[i, j], grid[np.ix_(rows, cols)])
        need = max(req.width[p], req.relative[p] * abs(a[p]), req.up[p] + req.down[p])
        ok = (up + down >= need) & (up >= req.up[p]) & (down >= req.down[p])
        cost_of = c.reshape(R, C)
        free = ~hidden
        price = (
            (free[i, cols] * cost_of[i, cols])[None, :]
            + (free[rows, j] * cost_of[rows, j])[:, None]
            + free[np.ix_(rows, cols)] * cost_of[np.ix_(rows, cols)]
        )
        price = np.where(ok, price, price + 1e6 * (need - np.minimum(need, up + down)) + 1e6)
        r, k = np.unravel_index(np.argmin(price), price.shape)
        hidden[i, cols[k]] = hidden[rows[r], j] = hidden[rows[r], cols[k]] = True
    return hidden.ravel()


def _repair(
    structure: Structure,
    a: np.ndarray,
    prim: np.ndarray,
    hidden: np.ndarray,
    req: Requirement,
    c: np.ndarray,
    integer: bool,
    time_limit: float,
) -> tuple[np.ndarray, int]:
    """Add cells until the audit passes: for each primary cell that fails, the shown cell its cut rates best."""
    big = max(1.0, float(np.abs(a).sum()))
    hidden = hidden.copy()
    for rounds in range(1, len(a) + 1):
        cuts = _violations(structure, a, prim, hidden, req, big)
        if not cuts:
            return hidden, rounds - 1
        for coef, _ in cuts:
            gain = np.where(hidden, -np.inf, coef / c)
            if np.isfinite(gain).any() and gain.max() > 0:
                hidden[int(np.argmax(gain))] = True
            else:
                free = np.flatnonzero(~hidden)
                if free.size:
                    hidden[free[np.argmin(c[free])]] = True
    return hidden, len(a)


def _show_determined(
    structure: Structure, a: np.ndarray, prim: np.ndarray, hidden: np.ndarray, req: Requirement, integer: bool
) -> np.ndarray:
    """Extra cells whose value the shown cells fix protect nothing: show them again."""
    R_C = structure.shape
    values = a.reshape(R_C)
    mask = hidden.reshape(R_C)
    result = audit(
        structure, np.where(mask, np.nan, values), mask, Requirement.none(len(a)), integer=integer, original=values
    )
    out = hidden.copy()
    for cell, is_exact in zip(result.cells, result.exact, strict=False):
        if is_exact and not prim[cell]:
            out[cell] = False
    return out
