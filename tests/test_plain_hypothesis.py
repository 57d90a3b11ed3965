"""Whatever shape or dtype a plain table or its source has, checking it never raises and never passes blindly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import cbs_export_lab as cel

NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([0.0, -1.0, 1e-300, -1e300, 1e300, 3.0, 12.0, 0.5]),
)
LABELS = st.sampled_from(["a", "b", "All", "min", "max", "012345678", "", "count"])


@st.composite
def sources(draw):
    """Small frames with categoricals (unused categories too), object, integer and float columns."""
    n = draw(st.integers(0, 25))
    categories = draw(st.lists(LABELS, min_size=1, max_size=5, unique=True))
    codes = draw(st.lists(st.integers(-1, len(categories) - 1), min_size=n, max_size=n))
    frame = pd.DataFrame(
        {
            "g": pd.Categorical.from_codes(codes, categories=categories + ["unused"]),
            "h": draw(st.lists(st.one_of(LABELS, st.none(), st.integers(-3, 3)), min_size=n, max_size=n)),
            "k": draw(st.lists(st.integers(-(2**62), 2**62), min_size=n, max_size=n)),
            "x": draw(st.lists(NUMBERS, min_size=n, max_size=n)),
        }
    )
    frame["h"] = frame["h"].astype(object)
    if draw(st.booleans()):
        frame["x"] = np.nan
    return frame


BUILDERS = {
    "size": lambda d: d.groupby(["g", "h"], dropna=False).size(),
    "size_unstacked": lambda d: d.groupby(["g", "h"]).size().unstack(),
    "value_counts": lambda d: d["g"].value_counts(),
    "value_counts_normalized": lambda d: d["g"].value_counts(normalize=True),
    "crosstab": lambda d: pd.crosstab(d["g"], d["h"], margins=True),
    "crosstab_normalized": lambda d: pd.crosstab(d["g"], d["h"], normalize="index"),
    "pivot_table": lambda d: pd.pivot_table(d, values="x", index="g", columns="h", aggfunc="mean", observed=False),
    "describe": lambda d: d.describe(include="all"),
    "agg": lambda d: d.groupby("g", observed=False)["x"].agg(["mean", "count", "max"]),
    "multiindex": lambda d: d.groupby(["g", "h"])[["x", "k"]].sum(),
    "duplicated_labels": lambda d: pd.concat([d["g"].value_counts(), d["g"].value_counts()]),
    "records": lambda d: d,
    "series": lambda d: d["x"],
    "empty": lambda d: d.iloc[:0],
    "styler": lambda d: d.groupby("g", observed=False).size().to_frame("n").style,
    "rescaled": lambda d: d.groupby("g", observed=False)["k"].sum() * 0.5,
}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=sources(), build=st.sampled_from(sorted(BUILDERS)), with_source=st.booleans())
def test_checking_never_raises(source, build, with_source):
    try:
        table = BUILDERS[build](source)
    except Exception:  # pandas itself cannot build this table from this source
        assume(False)
    result = cel.check(table, data=source if with_source else None)
    assert result.status in ("pass", "review", "fail")
    assert result.kind == "table" and not any(f.rule == "unsupported" for f in result.findings), result.report()
    assert result.counts.cells >= 0 and 0 <= result.counts.count_cells <= max(result.counts.cells, 0)
    if build == "empty":
        assert result.status != "pass", "an empty table has nothing that could be checked"
    if build == "records" and with_source and len(source) >= 2:
        assert result.status == "fail" and "microdata" in {f.rule for f in result.findings}, result.report()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.lists(NUMBERS, min_size=0, max_size=30),
    labels=st.lists(st.one_of(LABELS, st.integers(-5, 5), st.none(), st.floats()), min_size=0, max_size=30),
    columns=st.integers(1, 3),
)
def test_arbitrary_frames_never_raise(values, labels, columns):
    n = min(len(values), len(labels)) // columns
    frame = pd.DataFrame(
        np.array(values[: n * columns], dtype=float).reshape(n, columns),
        index=pd.Index(labels[:n], dtype=object),
        columns=[f"c{i}" for i in range(columns)],
    )
    result = cel.check(frame)
    assert result.status in ("pass", "review", "fail")
    assert not any(f.rule == "unsupported" for f in result.findings), result.report()
    if n and np.isnan(frame.to_numpy()).all():
        assert result.status != "pass"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=sources(), with_source=st.booleans())
def test_a_count_below_the_threshold_never_passes(source, with_source):
    table = source.groupby(["g", "h"], observed=True).size()
    assume(((table > 0) & (table < 10)).any())
    result = cel.check(table, data=source if with_source else None)
    assert result.status == "fail" and any(f.rule == "threshold" for f in result.findings), result.report()
