"""The one policy for `unit=`, `weights=` and `data=`, and for the choice of linking key to count units on.

A builder, a plain table's check and a model's check take the same arguments: a column name or one value per
row for `unit=`/`weights=`, a source frame for `data=`. What is accepted, what is refused (with which message),
and which linking key of a source counts units when no `unit=` is given, is decided here alone.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import pandas as pd
from pandas.api.types import is_numeric_dtype

from .differencing import track
from .engines import as_pandas
from .errors import UserError
from .keys import refuse_missing_units
from .rules import Rules

KEY_SAMPLE_ROWS = 20_000  # rows spread over the frame on which the linking keys' distinct values are compared


# --- the builders: a column of `data`, or one value per row ---------------------------------------------------


def column_or_array(
    data: pd.DataFrame | None, arg: Any, what: str, n: int, index: pd.Index | None
) -> tuple[np.ndarray, str]:
    """`unit=` / `weights=`: a column name of `data`, or an array-like aligned with the rows."""
    arg = as_pandas(arg)
    if isinstance(arg, str):
        if data is None:
            raise UserError(
                f"{what}={arg!r} is a column name, but there is no data frame to take it from. "
                f"Pass the column itself, e.g. {what}=df[{arg!r}]."
            )
        if arg not in data.columns:
            raise UserError(
                f"{what}={arg!r}: the data has no column {arg!r}. Columns: {', '.join(map(str, data.columns))}."
            )
        return np.asarray(data[arg]), arg
    if isinstance(arg, pd.Series) and index is not None and not arg.index.equals(index):
        missing = int((~index.isin(arg.index)).sum())
        if missing:
            raise UserError(
                f"{what}= has no value for {missing:,} of the {len(index):,} rows of the table's data. "
                "Pass a column of the same data (one value per row)."
            )
        arg = aligned(arg, index)
    values = np.asarray(arg)
    if values.ndim != 1 or len(values) != n:
        raise UserError(
            f"{what}= has {len(values) if values.ndim == 1 else values.shape} values but the data has "
            f"{n} rows. Pass a column of the same data (one value per row)."
        )
    name = getattr(arg, "name", None)
    return values, (f"{name}" if name is not None else f"the {what}= values")


def common_index(series: list[pd.Series]) -> pd.Index | None:
    """The rows all key Series share, as pandas' crosstab aligns them."""
    if not series:
        return None
    common = series[0].index
    for s in series[1:]:
        if not s.index.equals(common):
            common = common.intersection(s.index, sort=False)
    return common


def aligned(values: Any, index: pd.Index) -> Any:
    """A Series put on `index` (the rows of the other columns); anything else as it is."""
    if not isinstance(values, pd.Series) or values.index.equals(index):
        return values
    if not values.index.is_unique:
        raise UserError(
            f"{values.name or 'A column'} cannot be lined up with the other columns: its index has "
            "duplicate labels. Pass columns of one data frame, or reset the index first."
        )
    return values.reindex(index)


def weights(values: np.ndarray) -> np.ndarray:
    """`weights=` as floats: numbers of 0 or more, none missing."""
    if not is_numeric_dtype(values.dtype):
        raise UserError("weights= must be numbers (one weight per row).")
    w = values.astype(float, copy=False)
    if np.isnan(w).any() or (w < 0).any():
        raise UserError("weights= contains missing or negative weights. Give every row a weight of 0 or more.")
    return w


def linking_key_column(data: pd.DataFrame, rules: Rules) -> Any:
    """The source's linking-key column to count units on: the one with the most distinct values (so RINPERSOON,
    not the register type RINPERSOONS), judged on rows spread over the whole frame (a sorted frame's first rows
    could all be one person)."""
    keys = [c for c in data.columns if rules.is_linking_key(c)]
    if len(keys) <= 1:
        return keys[0] if keys else None
    sample = data[keys].iloc[:: max(1, len(data) // KEY_SAMPLE_ROWS)]
    return max(keys, key=lambda c: sample[c].nunique())


# --- checking a table against its source: data=, unit=, weights= ---------------------------------------------


def source_frame(data: Any) -> pd.DataFrame | None:
    """`data=` of a table's check: the source frame (a Series counts as a frame of one column), or None."""
    if data is None:
        return None
    if isinstance(data, (pd.DataFrame, pd.Series)):
        track(data)  # row labels name units within this frame and the frames derived from it
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame()
    raise UserError(
        f"data= must be the pandas DataFrame the table was made from (or its polars, pyarrow or DuckDB source, or a "
        f"parquet path), not a {type(data).__name__}. "
        "Pass the source frame, e.g. cel.check(table, data=df)."
    )


def check_column_argument(arg: str, value: Any, source: pd.DataFrame | None) -> None:
    """unit= / weights= of a table's check must name a source column or give one value per source row."""
    if value is None:
        return
    values, where = _source_values(arg, value, source)
    if values.isna().any():
        raise UserError(
            f"{where} has missing values in {int(values.isna().sum())} row(s). Every row needs "
            f"a {'unit id' if arg == 'unit' else 'weight'}; fill or drop those rows first."
        )
    if arg == "weights" and (not pd.api.types.is_numeric_dtype(values.dtype) or (values < 0).any()):
        raise UserError(f"{where} must hold numbers of 0 or more (one weight per row).")


def _source_values(arg: str, value: Any, source: pd.DataFrame | None) -> tuple[pd.Series, str]:
    value = as_pandas(value)
    if isinstance(value, str):
        if source is None:
            raise UserError(
                f"{arg}={value!r} names a column, but no source frame was given. "
                f"Pass it too: cel.check(table, data=df, {arg}={value!r})."
            )
        if value not in source.columns:
            available = ", ".join(str(c) for c in source.columns)
            raise UserError(f"{arg}={value!r} is not a column of the source frame. Available columns: {available}.")
        return source[value], f"column {value!r}"
    if source is None:
        raise UserError(
            f"{arg}= was given without the source frame it belongs to. "
            f"Pass it too: cel.check(table, data=df, {arg}=...)."
        )
    if np.ndim(value) != 1 or len(value) != len(source):
        length = len(value) if np.ndim(value) == 1 else "no"
        raise UserError(
            f"{arg}= has {length} values but the source frame has {len(source)} rows. "
            f"Pass a column name of the source frame or one value per row."
        )
    return pd.Series(np.asarray(value)), f"{arg}="


# --- a model's fit: the unit behind every row ------------------------------------------------------------------


class FitRows(Protocol):
    """The rows a model was fitted on, as the model check reads them."""

    frame: pd.DataFrame | None

    def select(self, source: Any, what: str) -> Any: ...


def fit_unit_ids(rows: FitRows, data: Any, unit: Any, rules: Rules) -> tuple[np.ndarray | None, str | None, str | None]:
    """The unit id of every row of a fit, the name to show for it, and a note when it was found by itself."""
    if data is not None and not isinstance(data, pd.DataFrame):
        raise UserError(
            f"data= must be a pandas DataFrame, not a {type(data).__name__}. Pass the data frame the "
            "model was fitted on, so its rows can be matched to the fit's."
        )
    frames = [(f, w) for f, w in ((data, "data="), (rows.frame, "the formula's data frame")) if f is not None]
    if unit is None:
        for frame, what in frames:
            best = linking_key_column(frame, rules)
            if best is not None:
                values = rows.select(frame[best], what)
                note = (
                    f"observations counted as distinct {best} (a linking key in {what}); pass unit= to "
                    "count on another id"
                )
                return np.asarray(values), str(best), note
        return None, None, None
    if isinstance(unit, str):
        for frame, what in frames:
            if unit in frame.columns:
                return np.asarray(rows.select(frame[unit], what)), unit, None
        where = " or ".join(w for _, w in frames) or "any data (the model was fitted on arrays; pass data= too)"
        raise UserError(
            f"unit={unit!r} is not a column of {where}. Pass an existing column name or the ids themselves."
        )
    values = rows.select(unit if isinstance(unit, pd.Series) else np.asarray(unit).ravel(), "unit=")
    name = str(unit.name) if isinstance(unit, pd.Series) and unit.name is not None else "the given unit ids"
    return np.asarray(values), name, None


def fit_unit_codes(ids: np.ndarray, name: str | None) -> np.ndarray:
    """An integer code per row of a fit for its unit; a missing id is refused as the builders refuse it."""
    codes, _ = pd.factorize(ids)
    refuse_missing_units(codes, name)
    return codes.astype(np.int64)
