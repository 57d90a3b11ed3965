"""Differencing between outputs: which units sit behind each cell, kept as small set sketches, compared across items.

Two outputs that each pass can together reveal a small group: a table of all persons and the same table for
everyone below an income cut differ, cell by cell, by the few persons above it. To see this without keeping unit
ids, every cell gets an invertible Bloom lookup table (IBLT) of the keyed hashes of its units: 3 x s buckets,
each holding a count, the wrapped sum of the hashes and the wrapped sum of a check value. Sketches add and
subtract, so "cell a minus cell b" is one subtraction, and when a and b differ by a few units the difference
decodes to exactly those units (which side each is on), while a large difference is seen as large.

Units are the unit ids (unit=, or the source's linking key); without ids, the source frame's row labels, valid
within one session and one frame lineage only (a token in the frame's `attrs`, which pandas hands on to frames
derived from it), so row labels of unrelated frames are never compared. Hashes are SipHash keyed with a secret
kept in the basket folder; no id is stored in the clear, and the sketches never go into a zip.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .cellstats import run_starts
from .hooks import LINEAGE_ATTR
from .keys import unit_ranges

KEY_FILE = ".differencing-key"
SKETCH_FOLDER = "differencing"
EXPORTED_SUFFIX = ".exported.npz"  # the sketch of an exported item that left the basket: still compared
SESSION = secrets.token_hex(8)  # row labels are units of this process only
SUBTABLES = 3
MAX_SKETCH_CELLS = 16_384  # 48 buckets x 20 bytes a cell: about 16 MB at most per item
LINKING_SUFFIX = " (linking key in the source)"
_KEYS: dict[Path, str] = {}


# --- the secret -------------------------------------------------------------------------------------------


def basket_key(folder: str | os.PathLike[str] | None = None, *, create: bool = True) -> str:
    """The 16-character hash key of a basket (the project's basket when None), created once, never exported.

    Raises OSError when it cannot be read or made (or, with `create=False`, does not exist yet).
    """
    if folder is None:
        from .settings import load_settings

        folder = load_settings().basket_folder
    folder = Path(folder).expanduser().resolve()
    if folder not in _KEYS:
        path = folder / KEY_FILE
        if not path.is_file() and not create:
            raise FileNotFoundError(path)
        if not path.is_file():
            folder.mkdir(parents=True, exist_ok=True)
            try:
                with open(path, "x", encoding="ascii") as fh:
                    fh.write(secrets.token_hex(8))
            except FileExistsError:  # another process made it first: use theirs
                pass
        key = path.read_text(encoding="ascii").strip()
        if len(key) != 16:
            raise OSError(f"{path} does not hold a 16-character key")
        _KEYS[folder] = key
    return _KEYS[folder]


def key_id(key: str) -> str:
    """A fingerprint of the key, so sketches hashed with another basket's key are never compared."""
    return hashlib.sha256(("cbs_export_lab differencing 2 " + key).encode()).hexdigest()[:16]


def track(frame: Any) -> None:
    """Give a source frame a lineage token (kept by the frames pandas derives from it), once."""
    attrs = getattr(frame, "attrs", None)
    if isinstance(attrs, dict) and LINEAGE_ATTR not in attrs:
        attrs[LINEAGE_ATTR] = secrets.token_hex(8)


def lineage(obj: Any) -> str | None:
    attrs = getattr(obj, "attrs", None)
    token = attrs.get(LINEAGE_ATTR) if isinstance(attrs, dict) else None
    return token if isinstance(token, str) else None


def buckets_per_subtable(threshold: int) -> int:
    """A power of two with room to decode differences of about 2N units in 3 subtables."""
    return 1 << max(3, min(16, int(np.ceil(np.log2(max(2.0, 4.0 * threshold / SUBTABLES))))))


# --- sketches ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class CellSketch:
    """Per cell (C order over `n_cols` columns): exact unit count and IBLT buckets. Immutable, so copies share it."""

    universe: str
    key_id: str
    n_cols: int
    counts: np.ndarray  # (cells,) distinct units
    buckets: np.ndarray  # (cells, m) int32
    keysum: np.ndarray  # (cells, m) uint64, wrapped sums of unit hashes
    checksum: np.ndarray  # (cells, m) uint64, wrapped sums of their check values
    sample_hash: np.ndarray  # the units whose hash is below `tau` (the same units in every table), per cell
    sample_cell: np.ndarray
    tau: int

    def __deepcopy__(self, memo: dict) -> CellSketch:
        return self  # pandas deep-copies attrs on most operations: an immutable sketch is shared, not copied

    def __copy__(self) -> CellSketch:
        return self

    @property
    def m(self) -> int:
        return int(self.buckets.shape[1])

    def take(self, rows_at: np.ndarray, cols_at: np.ndarray) -> CellSketch:
        """The cells at these row and column positions (-1: a cell without units)."""
        rows_at, cols_at = np.asarray(rows_at, dtype=np.int64), np.asarray(cols_at, dtype=np.int64)
        empty = len(self.counts)
        at = rows_at[:, None] * self.n_cols + cols_at[None, :]
        at[(rows_at < 0)[:, None] | (cols_at < 0)[None, :]] = empty
        at = at.ravel()

        def pick(a: np.ndarray) -> np.ndarray:
            return np.concatenate([a, np.zeros((1,) + a.shape[1:], a.dtype)])[at]

        order = np.argsort(self.sample_cell, kind="stable")
        start = np.searchsorted(self.sample_cell[order], np.arange(empty + 1))
        lengths = np.diff(start)[np.minimum(at, empty - 1)] * (at < empty)
        firsts = np.repeat(start[np.minimum(at, empty - 1)], lengths)
        taken = order[firsts + np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)]
        return CellSketch(
            self.universe,
            self.key_id,
            len(cols_at),
            pick(self.counts),
            pick(self.buckets),
            pick(self.keysum),
            pick(self.checksum),
            self.sample_hash[taken],
            np.repeat(np.arange(len(at)), lengths),
            self.tau,
        )


def _check_value(h: np.ndarray) -> np.ndarray:
    """A second, independent-looking value of each hash (a 64-bit finalizer), to tell a pure bucket."""
    with np.errstate(over="ignore"):
        x = h ^ (h >> np.uint64(33))
        x = x * np.uint64(0xFF51AFD7ED558CCD)
        x ^= x >> np.uint64(33)
        x = x * np.uint64(0xC4CEB9FE1A85EC53)
        return x ^ (x >> np.uint64(33))


def _position(h: np.ndarray, j: int, s: int) -> np.ndarray:
    return (j * s + ((h >> np.uint64(16 * j)) & np.uint64(s - 1))).astype(np.int64)


ENTRIES_PER_STEP = 1 << 21


def _accumulate(cell: np.ndarray, h: np.ndarray, n_cells: int, s: int) -> tuple[np.ndarray, ...]:
    """Counts and IBLT buckets of distinct (cell, unit hash) pairs, in steps that keep the temporaries small."""
    m = SUBTABLES * s
    buckets = np.zeros(n_cells * m, dtype=np.int64)
    keysum = np.zeros(n_cells * m, dtype=np.uint64)
    checksum = np.zeros(n_cells * m, dtype=np.uint64)
    for start in range(0, cell.size, ENTRIES_PER_STEP):
        hs = h[start : start + ENTRIES_PER_STEP]
        check = _check_value(hs)
        base = cell[start : start + ENTRIES_PER_STEP].astype(np.int64) * m
        for j in range(SUBTABLES):
            flat = base + _position(hs, j, s)
            buckets += np.bincount(flat, minlength=n_cells * m)
            np.add.at(keysum, flat, hs)
            np.add.at(checksum, flat, check)
    counts = np.bincount(cell, minlength=n_cells).astype(np.int64)
    return (
        counts,
        buckets.reshape(n_cells, m).astype(np.int32),
        keysum.reshape(n_cells, m),
        checksum.reshape(n_cells, m),
    )


def _bordered(parts: tuple[np.ndarray, ...], R: int, C: int) -> tuple[np.ndarray, ...]:
    """Inner-cell sketches bordered by their row, column and grand sums (exact when each unit is in one cell)."""
    out = []
    with np.errstate(over="ignore"):
        for a in parts:
            inner = a.reshape((R, C) + a.shape[1:])
            grid = np.zeros((R + 1, C + 1) + a.shape[1:], dtype=a.dtype)
            grid[:R, :C] = inner
            grid[:R, C] = inner.sum(axis=1, dtype=a.dtype)
            grid[R, :C] = inner.sum(axis=0, dtype=a.dtype)
            grid[R, C] = inner.sum(axis=(0, 1), dtype=a.dtype)
            out.append(grid.reshape(((R + 1) * (C + 1),) + a.shape[1:]))
    return tuple(out)


def _codes(values: np.ndarray) -> tuple[np.ndarray, Any]:
    """Integer codes of the unit values, and what to hash per code (the values themselves for whole numbers)."""
    if values.dtype.kind in "iu" and values.size and int(values.min()) >= 0 and int(values.max()) < 1 << 40:
        return values.astype(np.int64, copy=False), None
    codes, uniques = pd.factorize(values)
    return codes.astype(np.int64), np.asarray(uniques)


def _hashes(codes: np.ndarray, uniques: Any, key: str) -> np.ndarray:
    """The keyed hash of each unit. pandas keys only its hash of text; numbers it mixes without the key, in a
    way that can be undone, so every hash gets the basket's key on top."""
    if uniques is None:
        return _keyed(pd.util.hash_array(codes, categorize=False), key)
    return _keyed(pd.util.hash_array(uniques, hash_key=key), key)[codes]


def _keyed(h: np.ndarray, key: str) -> np.ndarray:
    """Rounds of xor with a secret derived from the key and a 64-bit finalizer: without the key, a stored hash
    does not lead back to a unit id, as pandas' own hash of a whole number would."""
    rounds = np.frombuffer(hashlib.blake2b(key.encode(), digest_size=32, person=b"cel-units").digest(), np.uint64)
    out = np.asarray(h, dtype=np.uint64)
    for secret in rounds:
        out = _check_value(out ^ secret)
    return out


def _label_units(row_labels: pd.Index, key: str) -> np.ndarray:
    """Row labels (of any type, tuples of a MultiIndex too) as unit values: one number per label."""
    return pd.util.hash_pandas_object(row_labels, index=False, hash_key=key).to_numpy()


def _unit_grid(cell: np.ndarray, units: np.ndarray, R: int, C: int, key: str, s: int) -> tuple[np.ndarray, ...]:
    """Sketches on the bordered grid from (cell, unit) per row: distinct pairs by sorting, margins by their own,
    in passes over ranges of units (`keys.unit_ranges`) whose sketches add up."""
    codes, uniques = _codes(units)
    n = R * C
    if _one_row_each(codes, uniques):  # the rows are the units: no pairs to find, margins are sums
        h = _hashes(codes, uniques, key)
        return (
            _bordered(_accumulate(cell, h, n, s), R, C) + _sample(cell, h, R, C, _tau(h.size), True) + (_tau(h.size),)
        )
    if codes.size and int(codes.max()) >= (1 << 62) // max(1, n):
        raw, found = pd.factorize(units)
        codes, uniques = raw.astype(np.int64), np.asarray(found)
    total: list[np.ndarray] = []
    hashes, cells = [], []
    seen = 0
    for rows in unit_ranges(codes, int(codes.max()) + 1 if codes.size else 1):
        parts, sampled, n_units = _unit_pass(cell[rows], codes[rows], uniques, R, C, key, s, seen)
        total = _added(total, parts)
        hashes.append(sampled[0])
        cells.append(sampled[1])
        seen += n_units
    tau = _tau(seen)
    h, c = np.concatenate(hashes), np.concatenate(cells)
    kept = h <= np.uint64(tau)  # a pass sampled against the units seen so far: at least as many as needed
    return (*total, h[kept], c[kept], tau)


def _unit_pass(
    cell: np.ndarray, codes: np.ndarray, uniques: Any, R: int, C: int, key: str, s: int, seen: int
) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, np.ndarray], int]:
    """The bordered-grid sketch of one range of units, its sample (against `seen` units before it), and its
    number of units."""
    n = R * C
    ordered = np.sort(codes * n + cell)
    ordered = ordered[run_starts(ordered)]
    pair_code = ordered // n
    pair_cell = ordered - pair_code * n
    del ordered
    distinct_units = run_starts(pair_code)
    unit_code = pair_code[distinct_units]
    unit_hash = _hashes(unit_code, uniques, key)
    h = np.repeat(unit_hash, np.diff(np.append(distinct_units, pair_code.size)))
    tau = _tau(seen + unit_code.size)
    if distinct_units.size == pair_code.size:  # each unit in one cell: margins are sums
        parts = _bordered(_accumulate(pair_cell, h, n, s), R, C)
        return parts, _sample(pair_cell, h, R, C, tau, True), unit_code.size
    pair_row = pair_cell // C
    rows = run_starts(pair_code * R + pair_row)  # pairs are ordered by unit, then row
    col_pairs = np.sort(pair_code * C + (pair_cell - pair_row * C))
    col_pairs = col_pairs[run_starts(col_pairs)]
    col_code = col_pairs // C
    grid_cell = np.concatenate(
        [
            pair_row * (C + 1) + (pair_cell - pair_row * C),
            pair_row[rows] * (C + 1) + C,
            R * (C + 1) + (col_pairs - col_code * C),
            np.full(unit_code.size, R * (C + 1) + C),
        ]
    )
    hh = np.concatenate([h, h[rows], unit_hash[np.searchsorted(unit_code, col_code)], unit_hash])
    return _accumulate(grid_cell, hh, (R + 1) * (C + 1), s), _sample(grid_cell, hh, R, C, tau, False), unit_code.size


SAMPLE_UNITS = 50_000


def _tau(n_units: int) -> int:
    """Units whose hash is below tau are sampled: all of them up to SAMPLE_UNITS units, else about that many."""
    return (1 << 64) - 1 if n_units <= SAMPLE_UNITS else int((1 << 64) * SAMPLE_UNITS / n_units)


def _sample(cell: np.ndarray, h: np.ndarray, R: int, C: int, tau: int, inner: bool) -> tuple[np.ndarray, np.ndarray]:
    """(hash, grid cell) of the sampled units, margins included; `inner`: `cell` counts inner cells only."""
    picked = h <= np.uint64(tau)
    c, hs = cell[picked], h[picked]
    if not inner:
        return hs, c
    r = c // C
    col = c - r * C
    grid = np.concatenate([r * (C + 1) + col, r * (C + 1) + C, R * (C + 1) + col, np.full(c.size, R * (C + 1) + C)])
    return np.tile(hs, 4), grid


def _one_row_each(codes: np.ndarray, uniques: Any) -> bool:
    if uniques is not None:
        return len(uniques) == len(codes)
    if not codes.size or int(codes.max()) >= 4 * codes.size + 1024:
        return False
    return int(np.bincount(codes).max()) <= 1


def grid_sketch(
    cell: np.ndarray,
    n_rows: int,
    n_cols: int,
    *,
    units: np.ndarray | None,
    unit_name: str | None,
    row_labels: pd.Index | None,
    frame: str | None,
    threshold: int,
) -> CellSketch | None:
    """The sketch of a builder's grouped pass on its bordered grid (cells, then row, column and grand margins).

    `cell` is each counted row's cell, `units` its unit id (or None: the rows are the units, named by
    `row_labels` of the frame with lineage token `frame`). None when the units cannot be named safely.
    """
    if (n_rows + 1) * (n_cols + 1) > MAX_SKETCH_CELLS or (units is None and (row_labels is None or frame is None)):
        return None
    try:
        key = basket_key()
    except OSError:  # no usable basket folder: the table is built, only not compared
        return None
    s = buckets_per_subtable(threshold)
    if units is not None:
        universe = _unit_universe(unit_name)
        parts = _unit_grid(cell, np.asarray(units), n_rows, n_cols, key, s)
    elif row_labels is not None and frame is not None:
        universe = f"rows:{SESSION}:{frame}"
        labelled = _label_units(row_labels, key)
        if row_labels.is_unique:
            h = _hashes(labelled, None, key)
            tau = _tau(h.size)
            parts = (
                _bordered(_accumulate(cell, h, n_rows * n_cols, s), n_rows, n_cols)
                + _sample(cell, h, n_rows, n_cols, tau, True)
                + (tau,)
            )
        else:
            parts = _unit_grid(cell, labelled, n_rows, n_cols, key, s)
    else:
        return None
    return CellSketch(universe, key_id(key), n_cols + 1, *parts)


def _unit_universe(unit_name: str | None) -> str:
    """Sketches of the same unit ids (a linking key and its pair of columns alike) are compared."""
    return "unit:" + (unit_name or "").removesuffix(LINKING_SUFFIX)


def _added(total: list[np.ndarray], parts: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The sketch parts of passes over disjoint units, summed (wrapping sums of hashes included)."""
    return list(parts) if not total else [a + b for a, b in zip(total, parts, strict=True)]


def pairs_sketch(
    pairs: Iterable[tuple[np.ndarray, np.ndarray]],
    n_rows: int,
    n_cols: int,
    *,
    n_units: int,
    unit_name: str | None,
    threshold: int,
) -> CellSketch | None:
    """The sketch of a table whose distinct (grid cell, unit id) pairs an engine streams in batches (a table
    computed out of core): cells and margins on the bordered grid, hashed as `grid_sketch` hashes unit ids."""
    n_cells = (n_rows + 1) * (n_cols + 1)
    if n_cells > MAX_SKETCH_CELLS:
        return None
    try:
        key = basket_key()
    except OSError:
        return None
    s = buckets_per_subtable(threshold)
    tau = _tau(n_units)
    total: list[np.ndarray] = []
    hashes, cells = [], []
    for cell, units in pairs:
        codes, uniques = _codes(np.asarray(units))
        h = _hashes(codes, uniques, key)
        parts = _accumulate(cell, h, n_cells, s)
        total = _added(total, parts)
        picked = h <= np.uint64(tau)
        hashes.append(h[picked])
        cells.append(cell[picked])
    if not total:
        total = list(_accumulate(np.zeros(0, np.int64), np.zeros(0, np.uint64), n_cells, s))
    universe = _unit_universe(unit_name)
    sample = (
        (np.concatenate(hashes), np.concatenate(cells)) if hashes else (np.zeros(0, np.uint64), np.zeros(0, np.int64))
    )
    return CellSketch(universe, key_id(key), n_cols + 1, *total, *sample, tau)


@dataclass(frozen=True)
class Sketched:
    """One row of cells of a figure or a model whose units are known, shaped as `item_sketch` reads a CellStats."""

    index: pd.Index
    columns: pd.Index
    is_margin: np.ndarray
    observations: int
    sketch: CellSketch
    where: tuple[str, ...]  # per cell, as a user reads it


def sketched_row(
    cell: np.ndarray,
    what: str,
    labels: Sequence[Any],
    *,
    units: np.ndarray | None = None,
    unit_name: str | None = None,
    row_labels: pd.Index | None = None,
    frame: str | None = None,
    threshold: int,
) -> Sketched | None:
    """The units behind each of a row of cells (the bins of a histogram, the estimation sample of a model): `cell`
    says for each unit row which of `labels` it falls in. None when the units cannot be named."""
    n = len(labels)
    sketch = grid_sketch(
        np.asarray(cell, dtype=np.int64),
        1,
        n,
        units=units,
        unit_name=unit_name,
        row_labels=row_labels,
        frame=frame,
        threshold=threshold,
    )
    if sketch is None:
        return None
    distinct = int(sketch.counts[-1])  # the grand margin: all units behind the row
    where = tuple(what if n == 1 else f"{label} of {what}" for label in labels)
    cells = sketch.take([0], range(n))
    return Sketched(pd.Index([what]), pd.Index(list(labels)), np.zeros((1, n), dtype=bool), distinct, cells, where)


# --- decoding ---------------------------------------------------------------------------------------------


def decode(buckets: np.ndarray, keysum: np.ndarray, checksum: np.ndarray, limit: int) -> tuple[np.ndarray, ...]:
    """Peel differences (rows of buckets): (decoded, plus, minus) per row; `decoded` False when larger than `limit`.

    `plus` counts units on the positive side (in a, not in b), `minus` those on the negative side.
    """
    cnt, key, chk = buckets.astype(np.int64), keysum.copy(), checksum.copy()
    P, m = cnt.shape
    s = m // SUBTABLES
    plus, minus = np.zeros(P, np.int64), np.zeros(P, np.int64)
    live = np.ones(P, dtype=bool)
    sub = np.arange(m) // s
    rows_all = np.arange(P)
    with np.errstate(over="ignore"):
        for _ in range(2 * limit + 2):
            sign_pos = cnt == 1
            k = np.where(sign_pos, key, np.uint64(0) - key)
            ck = _check_value(k)
            pure = (np.abs(cnt) == 1) & np.where(sign_pos, chk == ck, chk == np.uint64(0) - ck)
            shift = (sub * 16).astype(np.uint64)
            pure &= (sub * s + ((k >> shift) & np.uint64(s - 1)).astype(np.int64)) == np.arange(m)
            pure &= live[:, None]
            hit = pure.any(axis=1)
            if not hit.any():
                break
            rows = rows_all[hit]
            first = pure[rows].argmax(axis=1)
            kk, ss = k[rows, first], cnt[rows, first]
            ck = _check_value(kk)
            for j in range(SUBTABLES):
                at = _position(kk, j, s)
                cnt[rows, at] -= ss
                key[rows, at] = np.where(ss > 0, key[rows, at] - kk, key[rows, at] + kk)
                chk[rows, at] = np.where(ss > 0, chk[rows, at] - ck, chk[rows, at] + ck)
            plus[rows] += ss > 0
            minus[rows] += ss < 0
            live &= plus + minus <= limit
    empty = (cnt == 0).all(axis=1) & (key == 0).all(axis=1) & (chk == 0).all(axis=1)
    return empty & live, plus, minus


# --- an item's cells, stored and compared -------------------------------------------------------------------


@dataclass
class ItemSketch:
    """The cells of one basket item that can be compared: shown cells, and sums of shown cells anyone can add up."""

    item_id: str
    title: str
    universe: str
    key_id: str
    counts: np.ndarray
    buckets: np.ndarray
    keysum: np.ndarray
    checksum: np.ndarray
    where: list[str]  # per cell, as a user reads it
    cells: list[Any]  # per cell, [row, col] labels, or None for a sum of cells
    inner: np.ndarray  # per cell: an inner cell of a table whose inner cells hold disjoint units
    sample_hash: np.ndarray  # sampled units (hash <= tau) and the cell each sits in
    sample_cell: np.ndarray
    tau: int

    def save(self, path: Path) -> None:
        meta = {
            "item_id": self.item_id,
            "title": self.title,
            "universe": self.universe,
            "key_id": self.key_id,
            "where": self.where,
            "cells": self.cells,
            "tau": str(self.tau),
        }
        from .atomic import atomic_path

        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(
                    fh,
                    counts=self.counts,
                    buckets=self.buckets,
                    keysum=self.keysum,  # hashes do not compress
                    checksum=self.checksum,
                    inner=self.inner,
                    sample_hash=self.sample_hash,
                    sample_cell=self.sample_cell.astype(np.int32),
                    meta=np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8),
                )

    @classmethod
    def load(cls, path: Path) -> ItemSketch:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(z["meta"].tobytes().decode("utf-8"))
            return cls(
                meta["item_id"],
                meta["title"],
                meta["universe"],
                meta["key_id"],
                z["counts"],
                z["buckets"],
                z["keysum"],
                z["checksum"],
                meta["where"],
                meta["cells"],
                z["inner"],
                z["sample_hash"],
                z["sample_cell"].astype(np.int64),
                int(meta["tau"]),
            )


def item_sketch(stats_list: Sequence[Any], item_id: str, title: str, key: str) -> ItemSketch | None:
    """The comparable cells of a checked table (one CellStats, or one per block of a plain table)."""
    from .results import _jsonable, format_cell, format_label

    parts: list[tuple[np.ndarray, ...]] = []
    where: list[str] = []
    cells: list[Any] = []
    inner_parts, hashes, sampled = [], [], []
    universe, tau = None, (1 << 64) - 1
    for stats in stats_list:
        sketch = getattr(stats, "sketch", None)
        if sketch is None or sketch.key_id != key_id(key) or universe not in (None, sketch.universe):
            continue
        universe, tau, base = sketch.universe, min(tau, sketch.tau), len(where)
        rows, cols = list(stats.index), list(stats.columns)
        arrays = (sketch.counts, sketch.buckets, sketch.keysum, sketch.checksum)
        parts.append(arrays)
        named = getattr(stats, "where", None)
        for r in rows:
            for c in cols:
                where.append(format_cell(r, c) if named is None else named[len(where) - base])
                cells.append([_jsonable(r), _jsonable(c)])
        inner = ~np.asarray(stats.is_margin, dtype=bool)
        disjoint = int(sketch.counts[inner.ravel()].sum()) == (stats.observations or -1)
        inner_parts.append(inner.ravel() & disjoint)
        hashes.append(sketch.sample_hash)
        sampled.append(sketch.sample_cell + base)
        if not np.asarray(stats.is_margin).any() and disjoint:
            sums, labels = _sums_of_cells(arrays, inner, rows, cols, format_label)
            parts.extend(sums)
            where.extend(labels)
            cells.extend([None] * len(labels))
            inner_parts.append(np.zeros(len(labels), dtype=bool))
    if not parts:
        return None
    joined = [np.concatenate([p[i] for p in parts]) for i in range(4)]
    sample_hash, sample_cell = np.concatenate(hashes), np.concatenate(sampled)
    keep = np.flatnonzero(sample_hash <= np.uint64(tau))
    keep = keep[np.argsort(sample_hash[keep], kind="stable")]  # sorted by hash: later look-ups are merges
    return ItemSketch(
        item_id,
        title,
        universe,
        key_id(key),
        *joined,
        where,
        cells,
        np.concatenate(inner_parts),
        sample_hash[keep],
        sample_cell[keep],
        tau,
    )


def _sums_of_cells(
    arrays: tuple[np.ndarray, ...], inner: np.ndarray, rows: list, cols: list, label: Any
) -> tuple[list[tuple[np.ndarray, ...]], list[str]]:
    """Row, column and grand sums of a table without margins whose cells hold disjoint units: a reader adds them."""
    R, C = inner.shape
    out, labels = [], []
    with np.errstate(over="ignore"):
        grids = [a.reshape((R, C) + a.shape[1:]) for a in arrays]
        if C > 1:
            out.append(tuple(g.sum(axis=1, dtype=g.dtype) for g in grids))
            labels += [f"the sum of row {label(r)}" for r in rows]
        if R > 1:
            out.append(tuple(g.sum(axis=0, dtype=g.dtype) for g in grids))
            labels += [f"the sum of column {label(c)}" for c in cols]
        if R > 1 or C > 1:
            out.append(tuple(g.sum(axis=(0, 1), dtype=g.dtype)[None] for g in grids))
            labels.append("the sum of all cells")
    return out, labels


@dataclass
class Overlap:
    """Cell `a` of one item and cell `b` of another: units only in a (`plus`), only in b (`minus`).

    A side with `members` is the sum of those cells instead of one cell.
    """

    a: int
    b: int
    plus: int
    minus: int
    a_members: list[int] | None = None
    b_members: list[int] | None = None

    def flipped(self) -> Overlap:
        return Overlap(self.b, self.a, self.minus, self.plus, self.b_members, self.a_members)


def _comparable(x: ItemSketch, y: ItemSketch) -> bool:
    return x.universe == y.universe and x.key_id == y.key_id and x.buckets.shape[1] == y.buckets.shape[1]


def _judge(
    counts: np.ndarray, d: np.ndarray, keysum: np.ndarray, checksum: np.ndarray, threshold: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode differences (a minus b); which are findings: nested (one side empty), or overlapping (both sides
    small, at least N in common). `counts` are a's units."""
    with np.errstate(over="ignore"):
        ok, plus, minus = decode(d, keysum, checksum, 2 * threshold)
    common = counts - plus
    small = ok & (plus < threshold) & (minus < threshold) & (plus + minus > 0)
    nested = (np.minimum(plus, minus) == 0) & (common > 0)
    return small & (nested | (common >= threshold)), plus, minus


def compare_unions(x: ItemSketch, y: ItemSketch, threshold: int) -> list[Overlap]:
    """Cells of x against the sum of the inner cells of y that lie inside them (a province against its
    municipalities); which cells lie inside is read from the units both items sample (hash <= tau)."""
    if not _comparable(x, y) or not y.inner.any():
        return []
    tau = np.uint64(min(x.tau, y.tau))
    ys = (y.sample_hash <= tau) & y.inner[y.sample_cell]
    yh, yc = y.sample_hash[ys], y.sample_cell[ys]  # stored sorted by hash
    if not yh.size or (yh[1:] == yh[:-1]).any():
        return []
    xs = x.sample_hash <= tau
    xh, xc = x.sample_hash[xs], x.sample_cell[xs]
    first = run_starts(xh)  # a unit's entries (its cell and margins) are consecutive: look each unit up once
    unit_at = np.minimum(np.searchsorted(yh, xh[first]), yh.size - 1)
    at = np.repeat(unit_at, np.diff(np.append(first, xh.size)))
    hit = yh[at] == xh
    n_y = len(y.counts)
    joint = xc[hit] * n_y + yc[at[hit]]
    if len(x.counts) * n_y <= 1 << 24:
        n_in = np.bincount(joint, minlength=len(x.counts) * n_y)
        pair = np.flatnonzero(n_in)
        n_in = n_in[pair]
    else:
        pair, n_in = np.unique(joint, return_counts=True)
    pa, pb = pair // n_y, pair % n_y
    inside = n_in == np.bincount(yc, minlength=n_y)[pb]
    pa, pb = pa[inside], pb[inside]
    starts = run_starts(pa)
    sizes = np.diff(np.append(starts, pa.size))
    a = pa[starts]
    with np.errstate(over="ignore"):
        union = (
            [
                np.add.reduceat(arr[pb].astype(np.int64) if arr.dtype.kind == "i" else arr[pb], starts, axis=0)
                for arr in (y.counts, y.buckets, y.keysum, y.checksum)
            ]
            if pa.size
            else []
        )
    if not pa.size:
        return []
    keep = (sizes >= 2) & (np.abs(x.counts[a] - union[0]) < threshold) & (x.counts[a] >= threshold)
    if not keep.any():
        return []
    with np.errstate(over="ignore"):
        hit, plus, minus = _judge(
            x.counts[a[keep]],
            x.buckets[a[keep]].astype(np.int64) - union[1][keep],
            x.keysum[a[keep]] - union[2][keep],
            x.checksum[a[keep]] - union[3][keep],
            threshold,
        )
    members = [pb[st : st + n].tolist() for st, n in zip(starts[keep], sizes[keep], strict=True)]
    return [Overlap(int(a[keep][i]), -1, int(plus[i]), int(minus[i]), None, members[i]) for i in np.flatnonzero(hit)]


def compare(x: ItemSketch, y: ItemSketch, threshold: int, chunk: int = 20_000) -> list[Overlap]:
    """Pairs of cells whose units differ by 0 < n < N on one side and nothing (nested) or < N on both sides
    with at least N in common (overlapping)."""
    if not _comparable(x, y):
        return []
    order = np.argsort(y.counts, kind="stable")
    sorted_counts = y.counts[order]
    lo = np.searchsorted(sorted_counts, x.counts - threshold, side="right")
    hi = np.searchsorted(sorted_counts, x.counts + threshold, side="left")
    lengths = hi - lo
    a = np.repeat(np.arange(len(x.counts)), lengths)
    b = order[np.repeat(lo, lengths) + np.arange(len(a)) - np.repeat(np.cumsum(lengths) - lengths, lengths)]
    keep = (x.counts[a] > 0) & (y.counts[b] > 0) & (np.maximum(x.counts[a], y.counts[b]) >= threshold)
    a, b = a[keep], b[keep]
    s = x.buckets.shape[1] // SUBTABLES
    found = []
    for start in range(0, len(a), chunk):
        ia, ib = a[start : start + chunk], b[start : start + chunk]
        d = x.buckets[ia].astype(np.int64) - y.buckets[ib]
        rough = np.abs(d[:, :s]).sum(axis=1) <= 2 * threshold  # a lower bound on the difference
        rough &= (d != 0).any(axis=1) | (x.keysum[ia] != y.keysum[ib]).any(axis=1)  # equal cells: nothing to decode
        ia, ib, d = ia[rough], ib[rough], d[rough]
        if not len(ia):
            continue
        with np.errstate(over="ignore"):
            hit, plus, minus = _judge(
                x.counts[ia], d, x.keysum[ia] - y.keysum[ib], x.checksum[ia] - y.checksum[ib], threshold
            )
        found += [
            Overlap(int(i), int(j), int(p), int(q))
            for i, j, p, q in zip(ia[hit], ib[hit], plus[hit], minus[hit], strict=True)
        ]
    return found


def _side(sketch: ItemSketch, index: int, members: list[int] | None) -> str:
    if members is None:
        return sketch.where[index]
    shown = "; ".join(sketch.where[i] for i in members[:3]) + ("; ..." if len(members) > 3 else "")
    return f"the sum of {len(members)} cells ({shown})"


def describe(
    pairs: list[Overlap], mine: ItemSketch, other: ItemSketch, threshold: int, mine_is_a: bool, exported: bool
) -> dict[str, Any]:
    """One finding (as a dict for the manifest) for this item about all its small differences with the other."""
    lines, cells = [], []
    for p in pairs:
        p = p if mine_is_a else p.flipped()
        only_mine, only_other = p.plus, p.minus
        if only_other == 0:
            how = f"{only_mine} unit(s) more than"
        elif only_mine == 0:
            how = f"{only_other} unit(s) fewer than"
        else:
            how = f"{only_mine} unit(s) not in and {only_other} unit(s) only in"
        lines.append(f"{_side(mine, p.a, p.a_members)} holds {how} {_side(other, p.b, p.b_members)} of the other")
        for i in [p.a] if p.a_members is None else p.a_members:
            if mine.cells[i] is not None and mine.cells[i] not in cells:
                cells.append(mine.cells[i])
    smallest = min(max(p.plus, p.minus) for p in pairs)
    earlier = " (already exported)" if exported else ""
    shown = "; ".join(lines[:5]) + (f"; and {len(lines) - 5} more" if len(lines) > 5 else "")
    return {
        "rule": "differencing",
        "severity": "fail",
        "message": (
            f"Together with '{other.title}'{earlier}, {len(pairs)} cell(s) of this output rest on populations "
            f"that differ by fewer than {threshold} units (smallest difference: {smallest}); subtracting one "
            f"from the other reveals a group of fewer than {threshold} units: {shown}."
        ),
        "where": f"together with '{other.title}' ({other.item_id})",
        "fix": (
            f"Widen one of the two outputs (merge categories, leave out the subgroup) or drop one, so no two "
            f"cells differ by fewer than {threshold} units; or explain why the difference discloses nothing."
        ),
        "cells": cells[:50],
    }


# --- the basket's comparison ------------------------------------------------------------------------------


def sketch_path(folder: Path, item_id: str) -> Path:
    return Path(folder) / SKETCH_FOLDER / f"{item_id}.npz"


def stats_of(details: dict[str, Any]) -> list[Any]:
    """The cells with known units a check result holds: one CellStats (builder table) or a list (plain table
    blocks), and the sketched rows of a figure's histograms or a model's estimation sample."""
    stats = details.get("cell_stats")
    stats = [] if stats is None else stats if isinstance(stats, list) else [stats]
    return [s for s in [*stats, *details.get("sketched", [])] if s is not None]


def check_in_basket(
    folder: Path, items: list[dict[str, Any]], new: dict[str, Any], details: dict[str, Any], threshold: int
) -> Path | None:
    """Compare a new item with every stored one (exported ones too) and record findings on both sides.

    `items` are the manifest's item dicts (changed in place, under the caller's basket lock). Returns the path
    of the new item's stored sketch (to remove if the manifest cannot be written), or None.
    """
    try:
        key = basket_key(folder, create=False)  # sketches are made with an existing key; none: nothing to compare
    except OSError:
        return None
    mine = item_sketch(stats_of(details), new["id"], new["title"], key)
    if mine is None:
        return None
    by_id = {d["id"]: d for d in items}
    for path in sorted((Path(folder) / SKETCH_FOLDER).glob("*.npz")):
        if path.name.split(".")[0] == new["id"]:
            continue
        try:
            other = ItemSketch.load(path)
        except (OSError, ValueError, KeyError, TypeError) as exc:  # damaged, or written by another version
            stem = path.name.split(".")[0]
            if stem in by_id or path.name.endswith(EXPORTED_SUFFIX):
                _add_review(new, by_id.get(stem, {}).get("title", "an exported output"), stem, exc)
            continue
        stored = by_id.get(other.item_id)
        if stored is None and not path.name.endswith(EXPORTED_SUFFIX):
            continue  # left by an add that never reached the manifest
        try:
            pairs = (
                compare(mine, other, threshold)
                + compare_unions(mine, other, threshold)
                + [p.flipped() for p in compare_unions(other, mine, threshold)]
            )
        except (ValueError, IndexError, TypeError, MemoryError) as exc:  # fail closed: not compared is not a pass
            _add_review(new, other.title, other.item_id, exc)
            continue
        if not pairs:
            continue
        exported = stored is None or bool(stored.get("exported"))
        _add_finding(new, describe(pairs, mine, other, threshold, True, exported))
        if stored is not None:
            _add_finding(stored, describe(pairs, other, mine, threshold, False, False))
    path = sketch_path(folder, new["id"])
    mine.save(path)
    return path


def _add_review(d: dict[str, Any], title: str, item_id: str, exc: Exception) -> None:
    """Not compared is not a pass (DESIGN section 3): the checker looks at the two outputs together."""
    d.setdefault("findings", []).append(
        {
            "rule": "differencing",
            "severity": "review",
            "message": f"This output could not be compared with '{title}' for differencing ({type(exc).__name__}: "
            f"{exc}).",
            "where": f"together with '{title}' ({item_id})",
            "fix": "Add the output again; if this stays, explain why the two outputs together disclose nothing.",
            "cells": [],
        }
    )
    if d.get("status") == "pass":
        d["status"] = "review"


def _add_finding(d: dict[str, Any], finding: dict[str, Any]) -> None:
    d.setdefault("findings", []).append(finding)
    d["status"] = "fail"


def forget(folder: Path, item: dict[str, Any], items: list[dict[str, Any]]) -> None:
    """An item leaves the basket: others lose their findings about it, unless it was exported (then it stays)."""
    path = sketch_path(folder, item["id"])
    if item.get("exported"):
        if path.is_file():
            path.replace(path.with_name(item["id"] + EXPORTED_SUFFIX))
        return
    path.unlink(missing_ok=True)
    mark = f"({item['id']})"
    for d in items:
        kept = [
            f
            for f in d.get("findings", [])
            if not (f.get("rule") == "differencing" and f.get("where", "").endswith(mark))
        ]
        if len(kept) != len(d.get("findings", [])):
            d["findings"] = kept
            severities = {f.get("severity") for f in kept}
            if d.get("status") == "fail" and "fail" not in severities:
                d["status"] = "review" if "review" in severities else "pass"
