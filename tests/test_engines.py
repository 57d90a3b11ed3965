"""polars, pyarrow and DuckDB data and parquet files give the same tables, cell statistics and verdicts as pandas."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import cbs_export_lab as cel
from cbs_export_lab import engines
from cbs_export_lab.errors import UserError
from cbs_export_lab.tables import carried_stats

pl = pytest.importorskip("polars")
pa = pytest.importorskip("pyarrow")
duckdb = pytest.importorskip("duckdb")

HOLDERS = ["polars", "polars-lazy", "arrow", "duckdb", "parquet"]
STAT_FIELDS = ("units", "rows", "weighted", "top1", "top2", "abs_total", "nonzero", "is_margin")


def panel(disclosive: bool, n: int = 2400, seed: int = 7) -> pd.DataFrame:
    """A person-year panel; the disclosive one adds a region of 3 persons and one person dominating a cell."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "regio": rng.choice(["Noord", "Oost", "West", "Zuid"], n),
            "jaar": rng.choice([2020, 2021, 2022], n),
            "persoon": rng.integers(0, 300, n),
            "inkomen": rng.integers(0, 50_000, n),
            "gewicht": rng.integers(1, 4, n).astype(float),
        }
    )
    if disclosive:
        few = pd.DataFrame({"regio": "Klein", "jaar": 2020, "persoon": [900, 901, 902], "inkomen": 100, "gewicht": 1.0})
        rich = pd.DataFrame({"regio": "Noord", "jaar": 2021, "persoon": 950, "inkomen": [90_000_000], "gewicht": 1.0})
        frame = pd.concat([frame, few, rich], ignore_index=True)
    return frame


def held(frame: pd.DataFrame, how: str, tmp_path) -> object:
    """The same data in another engine (or as a parquet file by path)."""
    if how == "polars":
        return pl.from_pandas(frame)
    if how == "polars-lazy":
        return pl.from_pandas(frame).lazy()
    if how == "arrow":
        return pa.Table.from_pandas(frame, preserve_index=False)
    if how == "duckdb":
        return duckdb.connect().from_arrow(pa.Table.from_pandas(frame, preserve_index=False))
    path = tmp_path / "panel.parquet"
    frame.to_parquet(path, index=False)
    return str(path)


def assert_same_stats(ours: pd.DataFrame, theirs: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(ours, theirs, check_exact=False)
    a, b = carried_stats(ours), carried_stats(theirs)
    assert a is not None and b is not None
    for name in STAT_FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            np.testing.assert_allclose(x, y, err_msg=name)
    assert a.observations == b.observations and a.unit_name == b.unit_name


def same_verdict(a, b) -> None:
    assert a.status == b.status
    assert sorted((f.rule, f.severity, tuple(f.cells)) for f in a.findings) == sorted(
        (f.rule, f.severity, tuple(f.cells)) for f in b.findings
    )


@pytest.mark.parametrize("how", HOLDERS)
@pytest.mark.parametrize(
    "stat,unit,weights,margins",
    [
        ("count", None, None, True),
        ("count", "persoon", "gewicht", True),
        ("sum", "persoon", None, True),
        ("sum", None, "gewicht", False),
        ("mean", "persoon", "gewicht", True),
        ("mean", None, None, False),
        ("median", "persoon", None, False),
    ],
)
def test_pivot_table_same_cells_as_pandas(how, stat, unit, weights, margins, tmp_path):
    frame = panel(disclosive=True)
    kw = dict(values="inkomen", index="regio", columns="jaar", aggfunc=stat, unit=unit, weights=weights)
    expected = cel.pivot_table(frame, **kw, margins=margins)
    got = cel.pivot_table(held(frame, how, tmp_path), **kw, margins=margins)
    assert_same_stats(got, expected)
    same_verdict(cel.check(got), cel.check(expected))


@pytest.mark.parametrize("how", HOLDERS)
@pytest.mark.parametrize("disclosive", [True, False])
def test_disclosive_case_and_its_safe_twin(how, disclosive, tmp_path):
    """Counts of persons and a sum of incomes per region and year: the disclosive panel fails, its twin passes."""
    frame = panel(disclosive)
    data = held(frame, how, tmp_path)
    counts = cel.pivot_table(data, values="inkomen", index="regio", columns="jaar", aggfunc="count", unit="persoon")
    sums = cel.pivot_table(data, values="inkomen", index="regio", columns="jaar", aggfunc="sum", unit="persoon")
    verdicts = [cel.check(counts), cel.check(sums)]
    assert [r.status for r in verdicts] == (["fail", "fail"] if disclosive else ["pass", "pass"])
    if disclosive:
        assert "threshold" in {f.rule for f in verdicts[0].findings}
        assert {"threshold", "dominance"} <= {f.rule for f in verdicts[1].findings}
    pandas_counts = cel.pivot_table(
        frame, values="inkomen", index="regio", columns="jaar", aggfunc="count", unit="persoon"
    )
    same_verdict(verdicts[0], cel.check(pandas_counts))


@pytest.mark.parametrize("kind", ["polars", "arrow", "chunked"])
def test_crosstab_takes_engine_columns_as_keys(kind):
    frame = panel(disclosive=True)

    def col(name):
        if kind == "polars":
            return pl.from_pandas(frame)[name]
        array = pa.array(frame[name])
        return pa.chunked_array([array]) if kind == "chunked" else array

    got = cel.crosstab(col("regio"), col("jaar"), values=col("inkomen"), aggfunc="sum", unit=col("persoon"))
    plain = (lambda name: frame[name]) if kind == "polars" else (lambda name: frame[name].to_numpy())  # no names
    expected = cel.crosstab(
        plain("regio"), plain("jaar"), values=plain("inkomen"), aggfunc="sum", unit=plain("persoon")
    )
    assert_same_stats(got, expected)
    assert cel.check(got).status == "fail"


def _groupby_results(frame: pd.DataFrame) -> dict[str, tuple[object, object]]:
    """The same count of rows per region and year as each engine writes it, with the source it came from."""
    polars_frame = pl.from_pandas(frame)
    relation = duckdb.connect().from_arrow(pa.Table.from_pandas(frame, preserve_index=False))
    query = relation.query("src", "SELECT regio, jaar, count(*) AS n FROM src GROUP BY regio, jaar ORDER BY 1, 2")
    return {
        "polars group_by": (polars_frame.group_by(["regio", "jaar"]).len(), polars_frame),
        "polars lazy group_by": (polars_frame.lazy().group_by(["regio", "jaar"]).len(), polars_frame.lazy()),
        "duckdb relation": (query, relation),
        "duckdb .df()": (query.df(), relation),
        "duckdb .pl()": (query.pl(), relation),
        "arrow table": (query.to_arrow_table(), pa.Table.from_pandas(frame, preserve_index=False)),
    }


@pytest.mark.parametrize("disclosive", [True, False])
def test_plain_result_tables_checked_with_their_source(disclosive):
    frame = panel(disclosive)
    expected = cel.check(frame.groupby(["regio", "jaar"]).size(), data=frame)
    assert expected.status == ("fail" if disclosive else "pass")
    for name, (table, source) in _groupby_results(frame).items():
        result = cel.check(table, data=source)
        assert result.status == expected.status, name
        assert {f.rule for f in result.findings} == {f.rule for f in expected.findings}, name
        assert sorted(c[0] for f in result.findings for c in f.cells) == sorted(
            c[0] for f in expected.findings for c in f.cells
        ), name
        assert "via Arrow" in result.source, name


def test_result_table_without_source_is_not_a_pass():
    frame = panel(disclosive=False)
    table = pl.from_pandas(frame).group_by(["regio", "jaar"]).len()
    assert cel.check(table).status == "review"


def test_parquet_out_of_core_says_so(tmp_path):
    frame = panel(disclosive=True)
    path = held(frame, "parquet", tmp_path)
    table = cel.pivot_table(path, values="inkomen", index="regio", aggfunc="mean", unit="persoon")
    result = cel.check(table)
    assert "computed out of core by DuckDB" in result.source and "panel.parquet" in result.source
    same_verdict(
        result, cel.check(cel.pivot_table(frame, values="inkomen", index="regio", aggfunc="mean", unit="persoon"))
    )
    median = cel.pivot_table(path, values="inkomen", index="regio", aggfunc="median")
    assert "read into pandas via Arrow" in carried_stats(median).source


def test_linking_key_found_in_an_engine_source(tmp_path):
    frame = panel(disclosive=True).rename(columns={"persoon": "RINPERSOON"})
    for how in ("parquet", "polars"):
        got = cel.pivot_table(held(frame, how, tmp_path), values="inkomen", index="regio", aggfunc="count")
        assert carried_stats(got).unit_name == "RINPERSOON (linking key in the source)"
        assert_same_stats(got, cel.pivot_table(frame, values="inkomen", index="regio", aggfunc="count"))


def test_mistakes_say_what_to_do(tmp_path, monkeypatch):
    frame = panel(disclosive=False)
    with pytest.raises(UserError, match="no column 'leeftijd'"):
        cel.pivot_table(held(frame, "parquet", tmp_path), values="leeftijd", index="regio", aggfunc="sum")
    with pytest.raises(UserError, match="no column 'leeftijd'"):
        cel.pivot_table(pl.from_pandas(frame), values="inkomen", index="leeftijd")
    with pytest.raises(UserError, match="There is no parquet file"):
        cel.pivot_table(str(tmp_path / "elders.parquet"), values="inkomen", index="regio")
    with pytest.raises(UserError, match="data= must be the pandas DataFrame"):
        cel.check(frame.groupby("regio").size(), data=pa.array([1, 2]))
    monkeypatch.setattr(engines, "memory_budget", lambda: 1000)
    with pytest.raises(UserError, match="sink_parquet"):
        cel.pivot_table(pl.from_pandas(frame).lazy(), values="inkomen", index="regio", aggfunc="median")
    with pytest.raises(UserError, match="missing values"):
        missing = frame.assign(persoon=frame.persoon.astype(float).where(frame.index > 5))
        cel.pivot_table(
            held(missing, "parquet", tmp_path), values="inkomen", index="regio", aggfunc="sum", unit="persoon"
        )


def test_package_imports_without_the_engines():
    code = (
        "import sys\n"
        "for name in ('polars', 'duckdb'):\n"
        "    sys.modules[name] = None\n"
        "import pandas as pd, cbs_export_lab as cel\n"
        "df = pd.DataFrame({'a': list('xxyy') * 10, 'b': [1, 2] * 20})\n"
        "assert cel.check(cel.crosstab(df.a, df.b)).status == 'pass'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("disclosive", [True, False])
def test_plain_pandas_table_with_a_parquet_source(disclosive, tmp_path):
    frame = panel(disclosive)
    table = frame.groupby(["regio", "jaar"]).inkomen.mean()
    result = cel.check(table, data=held(frame, "parquet", tmp_path), unit="persoon")
    same_verdict(result, cel.check(table, data=frame, unit="persoon"))
    assert result.status == ("fail" if disclosive else "pass")
    assert "the parquet file panel.parquet given as data=: 4 column(s) read into pandas via Arrow" in result.source


SKETCH_FIELDS = ("counts", "buckets", "keysum", "checksum")


@pytest.mark.parametrize("how", ["parquet", "duckdb"])
@pytest.mark.parametrize(
    "kw",
    [
        {"values": "inkomen", "index": "regio", "columns": "jaar", "aggfunc": "count", "margins": True},
        {"values": "inkomen", "index": ["regio", "jaar"], "aggfunc": "sum"},
        {"values": "inkomen", "index": "regio", "aggfunc": "mean"},
    ],
    ids=["counts", "two-keys", "no-columns"],
)
def test_out_of_core_tables_carry_the_units_sketch_pandas_gives(how, kw, tmp_path, monkeypatch):
    monkeypatch.setattr(engines, "PAIRS_PER_BATCH", 97)  # the pairs come in many batches
    frame = panel(disclosive=True)
    ours = carried_stats(cel.pivot_table(held(frame, how, tmp_path), unit="persoon", **kw))
    assert "computed out of core by DuckDB" in ours.source
    theirs = carried_stats(cel.pivot_table(frame, unit="persoon", **kw))
    assert ours.sketch is not None and theirs.sketch is not None
    ours_sketch = ours.sketch.take(*_positions(ours, theirs))
    for name in SKETCH_FIELDS:
        np.testing.assert_array_equal(getattr(ours_sketch, name), getattr(theirs.sketch, name), err_msg=name)
    assert ours.sketch.universe == theirs.sketch.universe == "unit:persoon"
    got = sorted(zip(ours_sketch.sample_hash.tolist(), ours_sketch.sample_cell.tolist(), strict=True))
    assert got == sorted(zip(theirs.sketch.sample_hash.tolist(), theirs.sketch.sample_cell.tolist(), strict=True))


def _positions(ours, theirs) -> tuple[np.ndarray, np.ndarray]:
    """Where pandas' labels sit in the engine's grid (both are bordered grids of the same cells)."""
    from cbs_export_lab.cellstats import label_positions

    return label_positions(ours.index, theirs.index), label_positions(ours.columns, theirs.columns)


def test_an_out_of_core_total_next_to_a_pandas_subgroup_is_flagged(tmp_path):
    basket = cel.Basket()
    frame = panel(disclosive=False)
    path = held(frame, "parquet", tmp_path)
    basket.add(cel.pivot_table(path, values="inkomen", index="regio", aggfunc="count", unit="persoon"), "All")
    few = frame.persoon.isin([3, 4])
    with pytest.warns(UserWarning):
        item = basket.add(
            cel.pivot_table(frame[~few], values="inkomen", index="regio", aggfunc="count", unit="persoon"), "All but 2"
        )
    assert any(f.rule == "differencing" and f.severity == "fail" for f in item.findings)
    other = frame[frame.persoon >= 150]
    disjoint = frame[frame.persoon < 150]
    twin = cel.Basket(basket.folder.parent / "twin")
    twin.add(cel.pivot_table(held(other, "parquet", tmp_path), values="inkomen", index="regio", unit="persoon"), "A")
    item = twin.add(cel.pivot_table(disjoint, values="inkomen", index="regio", aggfunc="count", unit="persoon"), "B")
    assert not [f for f in item.findings if f.rule == "differencing"]
