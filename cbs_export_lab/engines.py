"""polars, pyarrow and DuckDB data, and parquet files by path: as the builders' data and keys and as a check's source.

Each engine is used through its own API, not through a compatibility layer such as narwhals: we need only a few
calls per engine (column names, row count, a selection of columns handed over as Arrow), and the statistics
computed out of core need SQL that narwhals does not express (GROUPING SETS for the margins, distinct units per
margin, the largest per-unit contributions per cell); it would also be one more package for the RA's mirror.
The libraries stay optional: an object is recognised by its type's module name, and its library is imported only
when such an object, or a parquet path, is given.

Two paths, chosen per request:
- into pandas: only the columns a table needs go to pandas through Arrow (zero-copy for numbers without missing
  values) and the pandas engine computes everything, so verdicts and statistics are pandas' by construction. Used
  for data already in memory (a polars or Arrow table), for statistics other than count, sum and mean, and for a
  check's source. A lazy source (LazyFrame, DuckDB relation, parquet file) is refused when the columns would not
  fit comfortably in memory (`memory_budget`).
- out of core: for a count, sum or mean table on a parquet file or a DuckDB relation, DuckDB computes every
  cell's and margin's statistics (rows, distinct units, weighted totals, the largest per-unit contributions) in one
  GROUPING SETS query over the file; only a few numbers per cell come back, and the table's source says so.
  With `unit=`, a second query streams the distinct (cell, unit) pairs in batches (`unit_pairs`), so the table
  gets the same units sketch as a pandas table and takes part in the differencing rule.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import UserError

OUT_OF_CORE = ("count", "sum", "mean")  # statistics DuckDB computes per cell from sums over the rows
_NAMES = {
    "polars": "a polars DataFrame",
    "polars-lazy": "a polars LazyFrame",
    "arrow": "a pyarrow Table",
    "duckdb": "a DuckDB relation",
}
_BYTES_PER_VALUE = 16  # a rough width per value, for the estimate of a lazy source's size in pandas


def engine(obj: Any) -> str | None:
    """Which engine holds `obj` ("polars", "polars-lazy", "arrow", "duckdb", "parquet"), by type alone."""
    module = (type(obj).__module__ or "").split(".")[0]
    name = type(obj).__name__
    if module == "polars":
        return {"DataFrame": "polars", "LazyFrame": "polars-lazy"}.get(name)
    if module == "pyarrow" and name in ("Table", "RecordBatch"):
        return "arrow"
    if module in ("duckdb", "_duckdb") and name == "DuckDBPyRelation":
        return "duckdb"
    if isinstance(obj, (str, os.PathLike)) and str(obj).lower().endswith(".parquet"):
        return "parquet"
    return None


def is_series(obj: Any) -> bool:
    """A column of an engine: a polars Series, a pyarrow Array or ChunkedArray."""
    module = (type(obj).__module__ or "").split(".")[0]
    name = type(obj).__name__
    return (module == "polars" and name == "Series") or (
        module == "pyarrow" and (name == "ChunkedArray" or name.endswith("Array"))
    )


def as_pandas(obj: Any) -> Any:
    """A polars or Arrow column as a pandas Series (named as it was); a list of keys element by element."""
    if is_series(obj):
        series = obj.to_pandas()
        return series if isinstance(series, pd.Series) else pd.Series(series)
    if isinstance(obj, list):
        return [as_pandas(x) for x in obj]
    return obj


def is_result_table(obj: Any) -> bool:
    """An engine's table that a check reads as a plain pandas table (a group-by result, a query result)."""
    return engine(obj) in ("polars", "polars-lazy", "arrow", "duckdb")


def result_to_pandas(obj: Any, source_columns: list[Any]) -> pd.DataFrame:
    """A result table as pandas, its group keys as the index as pandas' groupby puts them (result tables are small; a
    lazy one is refused when large)."""
    return group_keys_as_index(Source(obj).to_pandas(None, "the table"), source_columns)


def group_keys_as_index(frame: pd.DataFrame, source_columns: list[Any]) -> pd.DataFrame:
    """A group-by or GROUP BY result lists its keys first, one row per group: the shortest run of leading source
    columns that tells the rows apart becomes the index, the rest are the table's values."""
    for n in range(1, frame.shape[1]):
        lead = list(frame.columns[:n])
        if not all(c in source_columns for c in lead):
            break
        if not frame.duplicated(lead).any():
            return frame.set_index(lead)
    return frame


def memory_budget() -> int:
    """Bytes a lazy source may take once read into pandas: a quarter of the machine's memory (4 GB if unknown)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 4
    except (AttributeError, ValueError, OSError):
        return 4 << 30


def _quote(name: Any) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _require(module: str, what: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserError(
            f"{what} needs the {module} package. Install it (pip install {module}) or pass pandas data."
        ) from None


class Source:
    """One engine object, read through that engine's own API."""

    def __init__(self, obj: Any) -> None:
        self.obj = obj
        self.kind = engine(obj)
        if self.kind is None:
            raise UserError(
                f"cbs_export_lab cannot read a {type(obj).__module__}.{type(obj).__name__} as data. Pass a pandas, "
                "polars or pyarrow table, a DuckDB relation, or the path of a parquet file."
            )
        if self.kind == "parquet" and not Path(self.obj).is_file():
            raise UserError(f"There is no parquet file {str(self.obj)!r}. Check the path.")
        self._relation = None

    @property
    def lazy(self) -> bool:
        return self.kind in ("polars-lazy", "duckdb", "parquet")

    def describe(self) -> str:
        if self.kind == "parquet":
            return f"the parquet file {Path(self.obj).name}"
        return _NAMES[self.kind]

    def columns(self) -> list[str]:
        if self.kind == "polars":
            return list(self.obj.columns)
        if self.kind == "polars-lazy":
            return list(self.obj.collect_schema().names())
        if self.kind == "arrow":
            return list(self.obj.schema.names)
        return list(self.relation().columns)

    def relation(self) -> Any:
        """The DuckDB relation over the object (a parquet file is scanned, not read)."""
        if self._relation is None:
            if self.kind == "duckdb":
                self._relation = self.obj
            else:
                duckdb = _require("duckdb", "Reading a parquet file out of core")
                self._connection = duckdb.connect()
                self._relation = self._connection.read_parquet(str(self.obj))
        return self._relation

    def sql(self, query: str) -> pd.DataFrame:
        """A query on the source (as `src`), its result through Arrow."""
        return self.arrow(query).to_pandas()

    def arrow(self, query: str) -> Any:
        return self.relation().query("src", query).to_arrow_table()

    def n_rows(self) -> int:
        if self.kind == "polars":
            return self.obj.height
        if self.kind == "polars-lazy":
            import polars as pl

            return int(self.obj.select(pl.len()).collect().item())
        if self.kind == "arrow":
            return self.obj.num_rows
        return int(self.sql("SELECT count(*) AS n FROM src")["n"].iloc[0])

    def check_columns(self, names: list[Any], what: str) -> None:
        have = self.columns()
        missing = [n for n in names if n not in have]
        if missing:
            raise UserError(
                f"{what}: {self.describe()} has no column {', '.join(map(repr, missing))}. Columns: {', '.join(have)}."
            )

    def to_pandas(self, columns: list[Any] | None, what: str) -> pd.DataFrame:
        """The columns (all when None) as a pandas frame through Arrow; a lazy source only when it fits."""
        names = self.columns() if columns is None else list(dict.fromkeys(columns))
        self.check_columns(names, what)
        if self.lazy:
            self._refuse_large(names, what)
        if self.kind == "polars":
            return self.obj.select(names).to_pandas()
        if self.kind == "polars-lazy":
            return self.obj.select(names).collect().to_pandas()
        if self.kind == "arrow":
            return self.obj.select(names).to_pandas()
        if not names:
            return pd.DataFrame(index=pd.RangeIndex(self.n_rows()))
        return self.sql(f"SELECT {', '.join(map(_quote, names))} FROM src")

    def _refuse_large(self, names: list[Any], what: str) -> None:
        rows = self.n_rows()
        size = rows * max(1, len(names)) * _BYTES_PER_VALUE
        if size > memory_budget():
            hint = (
                "write it to a parquet file (lf.sink_parquet(path)) and pass the path"
                if self.kind == "polars-lazy"
                else "filter it first"
            )
            raise UserError(
                f"{what}: {self.describe()} has {rows:,} rows; its {len(names)} needed column(s) would take about "
                f"{size / 2**30:.1f} GB in pandas, more than this machine can hold comfortably. Count, sum and mean "
                f"tables on a parquet file or DuckDB relation are computed out of core by cel.pivot_table; otherwise "
                f"{hint}."
            )

    def sample(self, columns: list[Any], n: int) -> pd.DataFrame:
        """About n rows spread over the source (to choose a linking key)."""
        if not self.lazy:
            frame = self.to_pandas(columns, "data")
            return frame.iloc[:: max(1, len(frame) // n)]
        if self.kind == "polars-lazy":
            return self.obj.select(columns).gather_every(max(1, self.n_rows() // n)).collect().to_pandas()
        return self.sql(f"SELECT {', '.join(map(_quote, columns))} FROM src USING SAMPLE {int(n)} ROWS")

    def types(self) -> dict[str, str]:
        relation = self.relation()
        return {c: str(t) for c, t in zip(relation.columns, relation.types, strict=True)}


def can_compute(source: Source, statistic: str | None, dropna: bool, sort: bool) -> bool:
    """Whether this table is computed out of core: a DuckDB relation or parquet file, count/sum/mean, pandas' default
    handling of missing keys and order."""
    return source.kind in ("duckdb", "parquet") and statistic in OUT_OF_CORE and dropna and sort


@dataclass
class EngineCells:
    """What the engine computed for every cell and margin of a table: one row per (grouping set, cell)."""

    frame: Any  # an Arrow table: k0.. (key values), g (DuckDB's GROUPING bits), n_all, n, sx, sw, swx, units, ...
    n_keys: int
    integer_values: bool  # the value column holds whole numbers (pandas keeps their sums whole)
    source: str


_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")


def _is_number(sql_type: str) -> bool:
    return sql_type in _NUMERIC or sql_type in ("FLOAT", "DOUBLE", "REAL") or sql_type.startswith("DECIMAL")


def cells(
    source: Source, rows: list[Any], cols: list[Any], value: Any, statistic: str, unit: Any, weights: Any, ranks: int
) -> EngineCells:
    """Every cell's and margin's statistics in one DuckDB query over the source (out of core)."""
    keys = rows + cols
    types = source.types()
    frequency = statistic == "count"
    if not frequency and not _is_number(types[value]):
        raise UserError(
            f"values= must be numbers for aggfunc {statistic!r}, but column {value!r} holds {types[value]} data. "
            "Pass a numeric column, or count rows with aggfunc='count'."
        )
    base = _base(source, keys, value, statistic, unit, weights)
    _refuse_bad_units_and_weights(source, base, unit, weights)
    names, sets, grouping = _grouping_sets(len(rows), len(cols))
    sums = "sum(x) FILTER (kept) AS sx, sum(w) FILTER (kept) AS sw, sum(w * x) FILTER (kept) AS swx"
    if unit is None:
        group_sets = ", ".join("(" + ", ".join(s) + ")" for s in sorted(sets))
        query = (
            f"WITH base AS ({base}) SELECT {', '.join(names + [''])}{grouping} AS g, count(*) AS n_all, "
            f"count(*) FILTER (kept) AS n, {sums}, count(*) FILTER (kept) AS units, "
            f"sum(abs(x)) FILTER (kept) AS abs_total, count(*) FILTER (kept AND x <> 0) AS nonzero, "
            f"max(abs(x), {ranks}) FILTER (kept) AS top FROM base GROUP BY GROUPING SETS ({group_sets})"
        )
    else:
        group_sets = ", ".join("(" + ", ".join((*s, "u")) + ")" for s in sorted(sets))
        outer = ", ".join(names + ["g"])
        query = (
            f"WITH base AS ({base}), pairs AS (SELECT {', '.join(names + [''])}{grouping} AS g, u, "
            f"count(*) AS n_all, count(*) FILTER (kept) AS n, {sums} FROM base GROUP BY GROUPING SETS ({group_sets})) "
            f"SELECT {outer}, sum(n_all) AS n_all, sum(n) AS n, sum(sx) AS sx, sum(sw) AS sw, sum(swx) AS swx, "
            f"count(*) FILTER (n > 0) AS units, sum(abs(sx)) AS abs_total, "
            f"count(*) FILTER (n > 0 AND sx <> 0) AS nonzero, max(abs(sx), {ranks}) FILTER (n > 0) AS top "
            f"FROM pairs GROUP BY {outer}"
        )
    integer = types[value] in _NUMERIC
    note = f"computed out of core by DuckDB over {source.describe()} ({len(keys)} key(s), one query)"
    frame = source.arrow(f"SELECT *, {_cell_hash(names)} AS gk FROM ({query})")
    return EngineCells(frame, len(keys), integer, note)


def _cell_hash(names: list[str]) -> str:
    """One number per cell or margin (DuckDB's hash of its grouping bits and key values), to find a unit pair's
    cell without comparing key values of every type."""
    return f"hash({', '.join(['g', *names])})"


def _base(source: Source, keys: list[Any], value: Any, statistic: str, unit: Any, weights: Any) -> str:
    """The rows the table counts: keys as k0.., unit u, value x, weight w, and whether the row has a value (kept)."""
    v = _quote(value)
    numeric = _is_number(source.types()[value])
    kept = f"{v} IS NOT NULL" + (f" AND NOT isnan(CAST({v} AS DOUBLE))" if numeric else "")
    x = "NULL::DOUBLE" if statistic == "count" else f"CAST({v} AS DOUBLE)"
    w = "NULL::DOUBLE" if weights is None else f"CAST({_quote(weights)} AS DOUBLE)"
    u = "NULL" if unit is None else _quote(unit)
    select = ", ".join(f"{_quote(k)} AS k{i}" for i, k in enumerate(keys))
    where = " AND ".join(f"{_quote(k)} IS NOT NULL" for k in keys) or "TRUE"
    return f"SELECT {select}, {u} AS u, {x} AS x, {w} AS w, ({kept}) AS kept FROM src WHERE {where}"


def _grouping_sets(n_rows: int, n_cols: int) -> tuple[list[str], set[tuple[str, ...]], str]:
    """The key columns, the four grouping sets of a table with margins (cells, row and column margins, total),
    and DuckDB's GROUPING bits that tell them apart."""
    names = [f"k{i}" for i in range(n_rows + n_cols)]
    sets = {tuple(names), tuple(names[:n_rows]), tuple(names[n_rows:]), ()}
    return names, sets, f"GROUPING({', '.join(names)})" if names else "0"


PAIRS_PER_BATCH = 1 << 20


def unit_pairs(
    source: Source,
    rows: list[Any],
    cols: list[Any],
    value: Any,
    statistic: str,
    unit: Any,
    cells: tuple[np.ndarray, np.ndarray],
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The distinct (cell or margin, unit) pairs of the rows a table counts, computed out of core and streamed in
    batches: each pair's positions on the table's bordered grid and its unit id. `cells` maps the `gk` of each
    grouping-set row of `cells()` to its grid positions (a row may sit in two places of a table without columns)."""
    base = _base(source, rows + cols, value, statistic, unit, None)
    names, sets, grouping = _grouping_sets(len(rows), len(cols))
    group_sets = ", ".join("(" + ", ".join((*s, "u")) + ")" for s in sorted(sets))
    query = (
        f"WITH base AS ({base}), pairs AS (SELECT {', '.join(names + [''])}{grouping} AS g, u FROM base WHERE kept "
        f"GROUP BY GROUPING SETS ({group_sets})) SELECT {_cell_hash(names)} AS gk, u FROM pairs"
    )
    order = np.argsort(cells[0], kind="stable")
    known, cell_of = cells[0][order], np.asarray(cells[1])[order]
    result = source.relation().query("src", query)
    reader = getattr(result, "to_arrow_reader", None) or result.fetch_arrow_reader  # the older DuckDB name
    for batch in reader(PAIRS_PER_BATCH):
        gk = batch.column("gk").to_numpy()
        first, last = np.searchsorted(known, gk, "left"), np.searchsorted(known, gk, "right")
        n = last - first
        if not n.all():
            raise RuntimeError("the engine's unit pairs do not match its cells")  # one base query: cannot happen
        at = np.repeat(first, n) + np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
        yield cell_of[at], np.repeat(batch.column("u").to_numpy(zero_copy_only=False), n)


def set_rows(cells: EngineCells, keys: list[int]) -> np.ndarray:
    """The positions in `cells.frame` of the rows of one grouping set (the cells grouped by these key positions)."""
    bits = sum(1 << (cells.n_keys - 1 - i) for i in range(cells.n_keys) if i not in keys)
    return np.flatnonzero(cells.frame["g"].to_numpy() == bits)


def _refuse_bad_units_and_weights(source: Source, base: str, unit: Any, weights: Any) -> None:
    """Missing unit ids and missing or negative weights are refused, as the pandas builders refuse them."""
    if unit is None and weights is None:
        return
    checks = []
    if unit is not None:
        checks.append("count(*) FILTER (u IS NULL) AS no_unit")
    if weights is not None:
        checks.append("count(*) FILTER (w IS NULL OR isnan(w) OR w < 0) AS bad_weight")
    found = source.sql(f"WITH base AS ({base}) SELECT {', '.join(checks)} FROM base").iloc[0]
    if unit is not None and found["no_unit"]:
        raise UserError(f"unit= ({unit}) has missing values. Every row needs a unit id.")
    if weights is not None and found["bad_weight"]:
        raise UserError("weights= contains missing or negative weights. Give every row a weight of 0 or more.")


def region(cells: EngineCells, keys: list[int]) -> pd.DataFrame:
    """The rows of one grouping set: the cells grouped by these key positions (others summed over)."""
    rows = cells.frame.take(set_rows(cells, keys))
    return rows.select([f"k{i}" for i in keys] + [c for c in rows.column_names if not c.startswith("k")]).to_pandas()


def largest(top: pd.Series, ranks: int) -> np.ndarray:
    """The engine's lists of largest contributions as a (ranks, n) array, 0 where a group has fewer."""
    out = np.zeros((ranks, len(top)))
    for j, values in enumerate(top):
        if values is not None and len(values):
            got = np.asarray(values, dtype=float)[:ranks]
            out[: len(got), j] = got
    return out


def table_columns(table: pd.DataFrame | pd.Series, have: list[str]) -> list[str] | None:
    """The source columns a table's labels name (its keys and value columns); None when a level has no name, so
    its labels could be values of any column."""
    frame = table.to_frame() if isinstance(table, pd.Series) else table
    names: list[Any] = [*frame.index.names, *frame.columns.names]
    for label in frame.columns:
        names += list(label) if isinstance(label, tuple) else [label]
    unnamed = any(n is None for n in frame.index.names) and not isinstance(frame.index, pd.RangeIndex)
    if unnamed or (frame.columns.nlevels > 1 and None in frame.columns.names[1:]):
        return None
    wanted = {str(n) for n in names if n is not None}
    return [c for c in have if c in wanted]


def source_for(table: pd.DataFrame | pd.Series, data: Any, unit: Any, weights: Any, is_key: Any) -> tuple[Any, str]:
    """A check's data= from an engine: the columns the table can rest on, read into pandas, and a note saying so."""
    source = Source(data)
    have = source.columns()
    named = table_columns(table, have)
    extra = [a for a in (unit, weights) if isinstance(a, str)] + [c for c in have if is_key(c)]
    columns = None if named is None else [c for c in have if c in set(named + extra)]
    frame = source.to_pandas(columns, "data=")
    return frame, f"{source.describe()} given as data=: {frame.shape[1]} column(s) read into pandas via Arrow"
