"""Fitted statsmodels models: disclosure checks on real fits of the synthetic microdata, and the rendered output."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from openpyxl import load_workbook

from cbs_export_lab import demo
from cbs_export_lab.check import check
from cbs_export_lab.checks.model import SUPPORTED_MODELS
from cbs_export_lab.errors import UserError
from cbs_export_lab.models import COLUMNS, coefficient_table, model_info, write_excel, write_text
from cbs_export_lab.rules import default_rules
from cbs_export_lab.tables import pivot_table

MIN = default_rules().model_level_threshold


@pytest.fixture(autouse=True)
def quiet_fits():
    """Small samples make some fits warn (separation, convergence); the checks must work on them all the same."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def with_outcomes(frame: pd.DataFrame) -> pd.DataFrame:
    """Outcomes derived from income: log, positive (thousands, top-coded), binary, three classes and a count."""
    out = frame.copy()
    out["gemeente"] = out["gemeente"].astype(str)
    out["log_inkomen"] = np.log1p(out["inkomen"])
    out["inkomen_k"] = np.minimum(out["inkomen"] / 1000 + 1, 200)
    out["hoog_inkomen"] = (out["inkomen"] > out["inkomen"].median()).astype(int)
    out["inkomensklasse"] = pd.qcut(out["inkomen"].rank(method="first"), 3, labels=False) + 1
    out["aantal"] = np.minimum(out["inkomen"] // 10_000, 40)
    return out


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    """400 persons: several municipalities have fewer than 10 persons, every age band at least 10."""
    return with_outcomes(demo.persons(400, seed=2))


@pytest.fixture(scope="module")
def people() -> pd.DataFrame:
    return with_outcomes(demo.persons(5_000, seed=1))


FORMULA_FITS = {
    "OLS": lambda d, x: smf.ols(f"log_inkomen ~ {x}", d).fit(),
    "WLS": lambda d, x: smf.wls(f"log_inkomen ~ {x}", d, weights=d["gewicht"]).fit(),
    "GLS": lambda d, x: smf.gls(f"log_inkomen ~ {x}", d).fit(),
    "GLM Gaussian": lambda d, x: smf.glm(f"log_inkomen ~ {x}", d).fit(),
    "GLM Binomial": lambda d, x: smf.glm(f"hoog_inkomen ~ {x}", d, family=sm.families.Binomial()).fit(),
    "GLM Poisson": lambda d, x: smf.glm(f"aantal ~ {x}", d, family=sm.families.Poisson()).fit(),
    "GLM Gamma": lambda d, x: smf.glm(f"inkomen_k ~ {x}", d, family=sm.families.Gamma(sm.families.links.Log())).fit(),
    "GLM InverseGaussian": lambda d, x: smf.glm(
        f"inkomen_k ~ {x}", d, family=sm.families.InverseGaussian(sm.families.links.Log())
    ).fit(),
    "GLM NegativeBinomial": lambda d, x: smf.glm(f"aantal ~ {x}", d, family=sm.families.NegativeBinomial()).fit(),
    "GLM Tweedie": lambda d, x: smf.glm(f"aantal ~ {x}", d, family=sm.families.Tweedie(var_power=1.5)).fit(),
    "Logit": lambda d, x: smf.logit(f"hoog_inkomen ~ {x}", d).fit(disp=0),
    "Probit": lambda d, x: smf.probit(f"hoog_inkomen ~ {x}", d).fit(disp=0),
    "MNLogit": lambda d, x: smf.mnlogit(f"inkomensklasse ~ {x}", d).fit(disp=0),
    "Poisson": lambda d, x: smf.poisson(f"aantal ~ {x}", d).fit(disp=0),
    "NegativeBinomial": lambda d, x: smf.negativebinomial(f"aantal ~ {x}", d).fit(disp=0),
    "MixedLM": lambda d, x: smf.mixedlm(f"log_inkomen ~ {x}", d, groups="leeftijdsklasse").fit(),
    "QuantReg": lambda d, x: smf.quantreg(f"log_inkomen ~ {x}", d).fit(q=0.5),
}

ARRAY_FITS = {
    "OLS": lambda d, X: sm.OLS(d["log_inkomen"], X).fit(),
    "WLS": lambda d, X: sm.WLS(d["log_inkomen"], X, weights=d["gewicht"]).fit(),
    "GLS": lambda d, X: sm.GLS(d["log_inkomen"], X).fit(),
    "GLM Gamma": lambda d, X: sm.GLM(d["inkomen_k"], X, family=sm.families.Gamma(sm.families.links.Log())).fit(),
    "Logit": lambda d, X: sm.Logit(d["hoog_inkomen"], X).fit(disp=0),
    "Probit": lambda d, X: sm.Probit(d["hoog_inkomen"], X).fit(disp=0),
    "MNLogit": lambda d, X: sm.MNLogit(d["inkomensklasse"], X).fit(disp=0),
    "Poisson": lambda d, X: sm.Poisson(d["aantal"], X).fit(disp=0),
    "NegativeBinomial": lambda d, X: sm.NegativeBinomial(d["aantal"], X).fit(disp=0),
    "MixedLM": lambda d, X: sm.MixedLM(d["log_inkomen"], X, groups=d["leeftijdsklasse"]).fit(),
    "QuantReg": lambda d, X: sm.QuantReg(d["log_inkomen"], X).fit(q=0.5),
}


def level_findings(result, term: str) -> dict[str, str]:
    """level -> message of the threshold findings on one term."""
    prefix = f"term {term}, level "
    return {
        f.where[len(prefix) :]: f.message
        for f in result.findings
        if f.rule == "threshold" and f.where.startswith(prefix)
    }


def small_levels(values: pd.Series) -> dict[str, int]:
    counts = values.value_counts()
    return {str(k): int(v) for k, v in counts.items() if 0 < v < MIN}


def assert_matches_statsmodels(res) -> None:
    """The rendered table holds statsmodels' own numbers, term by term (equation by equation for MNLogit)."""
    table = coefficient_table(res)
    assert list(table.columns) == list(COLUMNS)
    columns = {"estimate": res.params, "std error": res.bse, "statistic": res.tvalues, "p-value": res.pvalues}
    ci = res.conf_int()
    params = res.params
    if isinstance(params, pd.DataFrame):  # MNLogit: terms x equations
        equations = table.index.get_level_values("equation").unique()
        assert len(equations) == params.shape[1]
        ci_parts = [part for _, part in ci.groupby(level=0, sort=False)] if isinstance(ci, pd.DataFrame) else list(ci)
        for j, eq in enumerate(equations):
            part = table.xs(eq, level="equation")
            assert list(part.index) == [str(t) for t in params.index]
            for col, values in columns.items():
                np.testing.assert_allclose(part[col], np.asarray(values)[:, j], equal_nan=True)
            np.testing.assert_allclose(part[["CI low", "CI high"]], np.asarray(ci_parts[j]), equal_nan=True)
        return
    if isinstance(params, pd.Series):
        assert list(table.index) == [str(t) for t in params.index]
    for col, values in columns.items():
        np.testing.assert_allclose(table[col], np.asarray(values), equal_nan=True)
    np.testing.assert_allclose(table[["CI low", "CI high"]], np.asarray(ci), equal_nan=True)


# --- every results class, formula API -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FORMULA_FITS)
def test_formula_fit_with_small_municipalities_fails_naming_each_small_level(name, sample):
    expected = small_levels(sample["gemeente"])
    assert expected, "the sample must contain municipalities with fewer than 10 persons"
    res = FORMULA_FITS[name](sample, "C(gemeente) + geslacht")

    result = check(res)

    assert result.kind == "model" and result.status == "fail"
    found = level_findings(result, "C(gemeente)")
    assert set(found) == set(expected)
    for level, n in expected.items():
        assert f"has {n} unit" in found[level]
    assert result.counts.models == 1 and result.counts.tables == 0 and result.counts.cells == 0
    assert result.counts.observations == sample["RINPERSOON"].nunique()
    assert_matches_statsmodels(res)


@pytest.mark.parametrize("name", FORMULA_FITS)
def test_formula_fit_without_small_categories_passes(name, sample):
    assert sample["leeftijdsklasse"].value_counts().min() >= MIN
    assert sample["geslacht"].value_counts().min() >= MIN
    res = FORMULA_FITS[name](sample, "C(leeftijdsklasse) + geslacht + leeftijd")

    result = check(res)

    assert result.status == "pass", result.report()
    assert result.counts.models == 1
    assert result.counts.observations == len(sample)
    assert_matches_statsmodels(res)


def test_tiny_island_municipality_fails_in_five_thousand_persons(people):
    island = people["gemeente"].value_counts()
    assert 0 < island["Schiermonnikoog"] < MIN
    res = smf.ols("log_inkomen ~ C(gemeente) + leeftijd + geslacht", people).fit()

    result = check(res)

    found = level_findings(result, "C(gemeente)")
    assert set(found) == {"Schiermonnikoog"}
    assert "Schiermonnikoog" in found["Schiermonnikoog"] and f"fewer than {MIN}" in found["Schiermonnikoog"]
    assert all(f.severity == "fail" and f.fix for f in result.findings)


def test_string_and_categorical_columns_without_c_are_levels_too(sample):
    res = smf.ols("log_inkomen ~ gemeente + leeftijdsklasse", sample).fit()

    result = check(res)

    assert set(level_findings(result, "gemeente")) == set(small_levels(sample["gemeente"]))
    assert level_findings(result, "leeftijdsklasse") == {}


def test_interaction_cells_below_the_minimum_fail(sample):
    cells = sample.groupby(["leeftijdsklasse", "geslacht"], observed=True).size()
    expected = {f"{a} / {g}" for (a, g), n in cells.items() if 0 < n < MIN}
    assert expected, "some age band x sex cells must be small in this sample"
    res = smf.ols("log_inkomen ~ C(leeftijdsklasse) + geslacht + C(leeftijdsklasse):geslacht + leeftijd", sample).fit()

    result = check(res)

    assert set(level_findings(result, "C(leeftijdsklasse):geslacht")) == expected
    assert level_findings(result, "C(leeftijdsklasse)") == {}


def test_numeric_zero_one_regressor_in_a_formula_counts_ones_and_zeros(sample):
    data = sample.assign(amersfoort=(sample["gemeente"] == "Amersfoort").astype(int))
    n = int(data["amersfoort"].sum())
    assert 0 < n < MIN
    res = smf.ols("log_inkomen ~ amersfoort + leeftijd", data).fit()

    found = level_findings(check(res), "amersfoort")

    assert set(found) == {"1"} and f"has {n} unit" in found["1"]


def test_formulaic_engine_gives_the_same_levels(sample):
    import statsmodels.formula

    before = statsmodels.formula.options.formula_engine
    statsmodels.formula.options.formula_engine = "formulaic"
    try:
        res = smf.logit("hoog_inkomen ~ C(gemeente) + geslacht", sample).fit(disp=0)
    finally:
        statsmodels.formula.options.formula_engine = before
    assert type(res.model.data.model_spec).__module__.startswith("formulaic")

    assert set(level_findings(check(res), "C(gemeente)")) == set(small_levels(sample["gemeente"]))


def test_rows_dropped_for_missing_values_are_not_counted(sample):
    data = sample.copy()
    amersfoort = data.index[data["gemeente"] == "Amersfoort"]
    data.loc[amersfoort[:2], "leeftijd"] = np.nan
    res = smf.ols("log_inkomen ~ C(gemeente) + leeftijd", data).fit()
    assert res.nobs == len(data) - 2

    found = level_findings(check(res), "C(gemeente)")

    assert f"has {len(amersfoort) - 2} unit" in found["Amersfoort"]


@pytest.mark.parametrize(
    "fit",
    [
        lambda d, w: smf.wls("log_inkomen ~ C(gemeente) + geslacht", d, weights=w).fit(),
        lambda d, w: smf.glm("log_inkomen ~ C(gemeente) + geslacht", d, freq_weights=w).fit(),
        lambda d, w: smf.glm("log_inkomen ~ C(gemeente) + geslacht", d, var_weights=w).fit(),
    ],
    ids=["WLS weights", "GLM freq_weights", "GLM var_weights"],
)
def test_rows_of_weight_zero_are_not_observations_behind_a_level(fit, sample):
    largest = sample["gemeente"].value_counts().index[0]
    weights = np.where((sample["gemeente"] == largest) & (np.arange(len(sample)) % 10 != 0), 0.0, sample["gewicht"])
    weighted = sample[weights != 0]
    assert 0 < (weighted["gemeente"] == largest).sum() < MIN <= (sample["gemeente"] == largest).sum()

    result = check(fit(sample, weights))

    assert set(level_findings(result, "C(gemeente)")) == set(small_levels(weighted["gemeente"]))
    assert result.counts.observations == weighted["RINPERSOON"].nunique()


def test_results_wrapper_and_bare_results_are_judged_alike(sample):
    res = smf.ols("log_inkomen ~ C(gemeente) + geslacht", sample).fit()
    wrapped, bare = check(res), check(res._results)
    assert type(res).__name__.endswith("Wrapper") and not type(res._results).__name__.endswith("Wrapper")
    assert [f.where for f in wrapped.findings] == [f.where for f in bare.findings]
    assert wrapped.status == bare.status == "fail"


# --- arrays API ---------------------------------------------------------------------------------------------------


def design(sample: pd.DataFrame, dummy: pd.Series) -> pd.DataFrame:
    return sm.add_constant(pd.DataFrame({"dummy": dummy.astype(float), "leeftijd": sample["leeftijd"].astype(float)}))


@pytest.mark.parametrize("name", ARRAY_FITS)
def test_arrays_dummy_with_few_ones_fails(name, sample):
    dummy = sample["gemeente"] == "Amersfoort"
    assert 0 < dummy.sum() < MIN
    res = ARRAY_FITS[name](sample, design(sample, dummy))

    result = check(res)

    found = level_findings(result, "dummy")
    assert set(found) == {"1"} and f"has {int(dummy.sum())} observation" in found["1"]
    assert result.counts.observations == len(sample)
    assert_matches_statsmodels(res)


@pytest.mark.parametrize("name", ARRAY_FITS)
def test_arrays_dummy_with_enough_of_both_values_passes(name, sample):
    dummy = sample["geslacht"] == "vrouw"
    assert min(dummy.sum(), (~dummy).sum()) >= MIN
    res = ARRAY_FITS[name](sample, design(sample, dummy))

    result = check(res)

    assert result.status == "pass", result.report()
    assert_matches_statsmodels(res)


def test_arrays_dummy_with_few_zeros_fails_on_the_zeros(sample):
    others = sample["gemeente"] != "Amersfoort"
    res = sm.OLS(sample["log_inkomen"].to_numpy(), sm.add_constant(np.column_stack([others, sample["leeftijd"]]))).fit()

    found = level_findings(check(res), "x1")

    assert set(found) == {"0"} and f"has {int((~others).sum())} observation" in found["0"]


def test_arrays_with_data_counts_units_on_its_linking_key(sample):
    res = sm.OLS(sample["log_inkomen"], design(sample, sample["geslacht"] == "vrouw")).fit()

    result = check(res, data=sample)

    assert result.unit == "RINPERSOON" and "RINPERSOON" in (result.source or "")
    assert result.counts.observations == sample["RINPERSOON"].nunique()


# --- residual degrees of freedom ------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [9, 12])
def test_too_few_residual_degrees_of_freedom_fails(n):
    data = with_outcomes(demo.persons(n, seed=4))
    res = smf.ols("log_inkomen ~ leeftijd + inkomen_k", data).fit()
    assert res.df_resid == n - 3 < default_rules().dof

    result = check(res)

    dof = [f for f in result.findings if f.rule == "dof"]
    assert result.status == "fail" and len(dof) == 1 and dof[0].severity == "fail"
    assert f"{n - 3} residual degrees of freedom" in dof[0].message


def test_enough_residual_degrees_of_freedom_has_no_dof_finding():
    data = with_outcomes(demo.persons(40, seed=4))
    res = sm.OLS(data["log_inkomen"], sm.add_constant(data[["leeftijd", "inkomen_k"]].astype(float))).fit()
    assert res.df_resid >= default_rules().dof

    assert [f for f in check(res).findings if f.rule == "dof"] == []


# --- saturated models -----------------------------------------------------------------------------------------------


def test_saturated_model_is_judged_per_covariate_pattern(sample):
    cells = sample.groupby(["leeftijdsklasse", "geslacht"], observed=True).size()
    expected = {f"covariate pattern C(leeftijdsklasse)={a}, geslacht={g}" for (a, g), n in cells.items() if n < MIN}
    assert expected and len(cells) == 12
    res = smf.ols("log_inkomen ~ C(leeftijdsklasse) * geslacht", sample).fit()
    assert len(res.params) == 12

    result = check(res)

    patterns = {f.where for f in result.findings if f.where.startswith("covariate pattern")}
    assert patterns == expected
    assert all("saturated" in f.message for f in result.findings if f.where in patterns)


def test_unsaturated_model_has_no_pattern_findings(sample):
    res = smf.ols("log_inkomen ~ C(leeftijdsklasse) + geslacht", sample).fit()

    assert not [f for f in check(res).findings if f.where.startswith("covariate pattern")]


SATURATED_BINARY = {
    "Logit on adults": lambda d: smf.logit("hoog_inkomen ~ C(leeftijdsklasse) * geslacht", d).fit(disp=0),
    "GLM Binomial on everyone": lambda d: smf.glm(
        "hoog_inkomen ~ C(leeftijdsklasse) * geslacht", d, family=sm.families.Binomial()
    ).fit(),
}


@pytest.mark.parametrize("name", SATURATED_BINARY)
def test_saturated_binary_model_is_judged_like_the_table_of_patterns_by_outcome(name, sample):
    data = sample if "everyone" in name else sample[sample["leeftijd"] >= 25]
    data = data.assign(leeftijdsklasse=data["leeftijdsklasse"].cat.remove_unused_categories())
    table = pd.crosstab([data["leeftijdsklasse"], data["geslacht"]], data["hoog_inkomen"])
    label = "covariate pattern C(leeftijdsklasse)={}, geslacht={}, hoog_inkomen={}"
    small = {label.format(a, g, y) for (a, g), row in table.iterrows() for y, n in row.items() if 0 < n < MIN}
    empty = {label.format(a, g, y) for (a, g), row in table.iterrows() for y, n in row.items() if n == 0}
    assert small and (bool(empty) == ("everyone" in name)), "children never have a high income"
    res = SATURATED_BINARY[name](data)

    result = check(res)

    assert {f.where for f in result.findings if f.rule == "threshold" and "pattern" in f.where} == small
    zeros = [f for f in result.findings if f.rule == "zero"]
    assert {f.where for f in zeros} == empty and all(f.severity == "review" for f in zeros)


def test_saturated_arrays_model_names_patterns_by_column_values(sample):
    woman = (sample["geslacht"] == "vrouw").astype(float)
    old = (sample["leeftijdsklasse"] == "80+").astype(float)
    X = sm.add_constant(pd.DataFrame({"vrouw": woman, "oud": old, "oude_vrouw": woman * old}))
    n_old_women = int((woman * old).sum())
    assert 0 < n_old_women < MIN
    res = sm.OLS(sample["log_inkomen"], X).fit()

    wheres = {f.where for f in check(res).findings}

    assert "covariate pattern vrouw=1, oud=1, oude_vrouw=1" in wheres


def test_saturated_multinomial_model_names_cells_by_outcome_not_by_code(sample):
    klasse = pd.qcut(sample["inkomen"].rank(method="first"), 3, labels=["laag", "midden", "hoog"]).astype(str)
    amersfoort = (sample["gemeente"] == "Amersfoort").astype(float)
    table = pd.crosstab(amersfoort, klasse)
    small = {
        f"covariate pattern amersfoort={a:g}, klasse={k}"
        for a, row in table.iterrows()
        for k, n in row.items()
        if 0 < n < MIN
    }
    assert small, "Amersfoort has fewer than 10 persons, so its cells are small"
    res = sm.MNLogit(klasse.rename("klasse"), sm.add_constant(amersfoort.rename("amersfoort"))).fit(disp=0)

    result = check(res)

    assert {f.where for f in result.findings if f.where.startswith("covariate pattern")} == small


# --- panels and units ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return with_outcomes(demo.panel(300, seed=0))


def thin_municipalities(panel: pd.DataFrame) -> dict[str, int]:
    """Municipalities with enough person-years but too few persons."""
    rows = panel.groupby("gemeente").size()
    persons = panel.groupby("gemeente")["RINPERSOON"].nunique()
    return {g: int(persons[g]) for g in rows.index if rows[g] >= MIN and 0 < persons[g] < MIN}


@pytest.fixture(scope="module")
def panel_ols(panel):
    return smf.ols("log_inkomen ~ C(gemeente) + C(jaar)", panel).fit()


@pytest.mark.parametrize("how", ["column name", "array", "series", "not given"])
def test_panel_fit_counts_distinct_persons(how, panel, panel_ols):
    thin = thin_municipalities(panel)
    assert thin, "the panel must have a municipality with >= 10 person-years but < 10 persons"
    res = panel_ols
    unit = {
        "column name": "RINPERSOON",
        "array": panel["RINPERSOON"].to_numpy(),
        "series": panel["RINPERSOON"],
        "not given": None,
    }[how]

    result = check(res, unit=unit)

    assert result.counts.observations == panel["RINPERSOON"].nunique() < res.nobs
    found = level_findings(result, "C(gemeente)")
    assert set(thin) <= set(found)
    for g, persons in thin.items():
        assert f"has {persons} unit" in found[g]
    assert result.unit == ("the given unit ids" if how == "array" else "RINPERSOON")
    assert ("linking key" in (result.source or "")) == (how == "not given")


def test_panel_mixedlm_with_person_groups(panel):
    res = smf.mixedlm("log_inkomen ~ C(gemeente) + geslacht", panel, groups="RINPERSOON").fit()

    result = check(res, unit="RINPERSOON")

    assert set(thin_municipalities(panel)) <= set(level_findings(result, "C(gemeente)"))
    assert result.counts.observations == panel["RINPERSOON"].nunique()
    assert model_info(res)["groups"] == panel["RINPERSOON"].nunique()
    assert_matches_statsmodels(res)


@pytest.mark.parametrize("order", ["as built", "shuffled"])
def test_panel_unit_ids_aligned_with_the_rows_left_after_missing_values(order, panel):
    data = panel.sample(frac=1, random_state=5) if order == "shuffled" else panel.copy()
    data.loc[data.index[:40], "leeftijd"] = np.nan
    data.loc[data.index[:40], "gemeente"] = "Vlieland"
    kept = data.dropna(subset=["leeftijd"])
    thin = thin_municipalities(kept)
    assert thin
    res = smf.ols("log_inkomen ~ leeftijd + C(gemeente)", data).fit()

    results = [check(res, unit=ids) for ids in (kept["RINPERSOON"].to_numpy(), data["RINPERSOON"].to_numpy())]

    for result in results:
        assert result.counts.observations == kept["RINPERSOON"].nunique()
        found = level_findings(result, "C(gemeente)")
        assert "Vlieland" not in found
        assert {g: f"has {n} unit" in found.get(g, "") for g, n in thin.items()} == {g: True for g in thin}


def test_unit_that_does_not_fit_the_model_is_a_user_error(panel):
    res = smf.ols("log_inkomen ~ C(jaar)", panel).fit()
    with pytest.raises(UserError, match="rows"):
        check(res, unit=panel["RINPERSOON"].to_numpy()[:50])
    with pytest.raises(UserError, match="persoon_id"):
        check(res, unit="persoon_id")


def test_data_that_is_not_a_data_frame_is_a_user_error(panel):
    res = smf.ols("log_inkomen ~ C(jaar)", panel).fit()
    with pytest.raises(UserError, match="data= must be a pandas DataFrame, not a ndarray"):
        check(res, data=panel.to_numpy())


def test_arrays_unit_column_needs_data(panel):
    res = sm.OLS(panel["log_inkomen"], sm.add_constant(panel["leeftijd"].astype(float))).fit()
    with pytest.raises(UserError, match="data="):
        check(res, unit="RINPERSOON")

    result = check(res, data=panel, unit="RINPERSOON")

    assert result.counts.observations == panel["RINPERSOON"].nunique()


def _unit(how: str, data: pd.DataFrame):
    return {
        "column name": "RINPERSOON",
        "array": data["RINPERSOON"].to_numpy(),
        "series": data["RINPERSOON"],
        "not given": None,
    }[how]


MISSING_UNITS = r"^unit= \(.+\) has missing values\. Every row needs a unit id\.$"


@pytest.mark.parametrize("how", ["column name", "array", "series", "not given"])
def test_unit_ids_with_missing_values_are_refused_as_the_table_builders_refuse_them(how, panel):
    data = panel.copy()
    data.loc[data.index[:3], "RINPERSOON"] = np.nan
    res = smf.ols("log_inkomen ~ C(jaar)", data).fit()
    assert res.nobs == len(data)  # the ids are no regressor, so the rows without one are in the fit

    with pytest.raises(UserError, match=MISSING_UNITS) as table_error:
        pivot_table(data, values="log_inkomen", index="jaar", aggfunc="mean", unit=_unit(how, data))
    with pytest.raises(UserError, match=MISSING_UNITS) as model_error:
        check(res, unit=_unit(how, data))

    if how in ("column name", "series"):
        assert str(model_error.value) == str(table_error.value)


@pytest.mark.parametrize("how", ["column name", "array", "series", "not given"])
def test_complete_unit_ids_count_units_in_tables_and_models_alike(how, panel):
    res = smf.ols("log_inkomen ~ C(jaar)", panel).fit()

    table = pivot_table(panel, values="log_inkomen", index="jaar", aggfunc="mean", unit=_unit(how, panel))
    result = check(res, unit=_unit(how, panel))

    assert result.counts.observations == panel["RINPERSOON"].nunique()
    assert check(table).status == "pass"


# --- information and files ---------------------------------------------------------------------------------------


def test_model_info_reports_statsmodels_fit_measures(sample):
    ols = smf.ols("log_inkomen ~ C(leeftijdsklasse) + geslacht", sample).fit()
    logit = smf.logit("hoog_inkomen ~ C(leeftijdsklasse) + geslacht", sample).fit(disp=0)
    gamma = smf.glm("inkomen_k ~ geslacht", sample, family=sm.families.Gamma(sm.families.links.Log())).fit()

    a, b, c = model_info(ols), model_info(logit), model_info(gamma)

    assert a["model"] == "OLS" and a["dependent variable"] == "log_inkomen" and a["N"] == len(sample)
    assert a["df_resid"] == ols.df_resid and a["R²"] == pytest.approx(ols.rsquared)
    assert a["adj. R²"] == pytest.approx(ols.rsquared_adj) and a["AIC"] == pytest.approx(ols.aic)
    assert b["pseudo R²"] == pytest.approx(logit.prsquared) and b["log-likelihood"] == pytest.approx(logit.llf)
    assert "R²" not in b
    assert c["family"] == "Gamma" and c["link"] == "Log" and c["covariance type"] == "nonrobust"


def sheet_values(path) -> list[list[object]]:
    return [list(row) for row in load_workbook(path).active.iter_rows(values_only=True)]


def test_excel_holds_title_info_and_coefficients_but_no_data(sample, tmp_path):
    res = smf.ols("log_inkomen ~ C(leeftijdsklasse) + geslacht + leeftijd", sample).fit()

    path = write_excel(res, tmp_path / "model.xlsx", title="Inkomen naar leeftijd", description="OLS, 400 personen")

    rows = sheet_values(path)
    assert rows[0][0] == "Inkomen naar leeftijd" and rows[1][0] == "OLS, 400 personen"
    info = {r[0]: r[1] for r in rows if r[0] in model_info(res)}
    assert info["N"] == len(sample) and info["R²"] == pytest.approx(res.rsquared)
    by_term = {r[0]: r[1:7] for r in rows if r[0] in res.params.index}
    assert set(by_term) == set(res.params.index)
    for term, values in by_term.items():
        assert values[0] == pytest.approx(res.params[term]) and values[3] == pytest.approx(res.pvalues[term])
        assert values[4:6] == pytest.approx(list(res.conf_int().loc[term]))
    numbers = {round(float(v), 9) for r in rows for v in r if isinstance(v, (int, float))}
    for leaked in (res.resid, res.fittedvalues, sample["log_inkomen"], sample["inkomen"]):
        assert not numbers & {round(float(v), 9) for v in leaked[:50] if v != 0}


def test_excel_multinomial_has_one_row_per_equation_and_term(sample, tmp_path):
    res = smf.mnlogit("inkomensklasse ~ geslacht + leeftijd", sample).fit(disp=0)

    rows = sheet_values(write_excel(res, tmp_path / "mnlogit.xlsx", title="Inkomensklasse"))

    body = [r for r in rows if r[0] in ("inkomensklasse=2", "inkomensklasse=3")]
    assert [(r[0], r[1]) for r in body] == [
        (f"inkomensklasse={k}", t) for k in (2, 3) for t in ("Intercept", "geslacht[T.vrouw]", "leeftijd")
    ]
    assert [r[2] for r in body] == pytest.approx(list(np.asarray(res.params).T.ravel()))


def test_text_file_holds_title_info_and_coefficients_but_no_data(sample, tmp_path):
    res = smf.logit("hoog_inkomen ~ C(leeftijdsklasse) + geslacht", sample).fit(disp=0)

    text = write_text(res, tmp_path / "model.txt", title="Hoog inkomen", description="Logit").read_text("utf-8")

    lines = text.splitlines()
    assert lines[0] == "Hoog inkomen" and "Logit" in lines
    assert any(line.split() == ["N", str(len(sample))] for line in lines)
    for term in res.params.index:
        row = next(line for line in lines if line.startswith(term + " "))
        assert float(row.split()[-6]) == pytest.approx(res.params[term], rel=1e-5)
    assert not any(rid in text for rid in sample["RINPERSOON"])
    assert not any(f"{v:.6g}" in text for v in res.resid_response[:20] if abs(v) > 1e-3)


# --- what cannot be checked --------------------------------------------------------------------------------------


def test_unfitted_statsmodels_model_is_review_and_says_to_check_the_fit(sample):
    model = smf.ols("log_inkomen ~ C(gemeente)", sample)

    result = check(model)

    assert result.status == "review" and result.kind == "unsupported"
    assert "has not been fitted" in result.findings[0].message and ".fit()" in result.findings[0].message


def test_summary_is_review_and_points_to_the_fitted_result(sample):
    result = check(smf.ols("log_inkomen ~ C(gemeente)", sample).fit().summary())

    assert result.status == "review" and "fitted result" in result.findings[0].message


def test_failing_inspection_is_review_never_pass(sample):
    res = smf.ols("log_inkomen ~ C(gemeente) + geslacht", sample).fit()
    res.model.data.frame = sample.drop(columns="gemeente")

    result = check(res)

    assert result.status == "review" and result.findings[0].rule == "unsupported"


def test_scikit_learn_model_is_review_and_says_what_was_not_checked(sample):
    from sklearn.linear_model import LinearRegression

    X = pd.get_dummies(sample[["gemeente", "geslacht"]], dtype=float)
    model = LinearRegression().fit(X, sample["log_inkomen"])

    result = check(model)

    assert result.status == "review" and result.kind == "unsupported"
    message = result.findings[0].message
    assert "scikit-learn LinearRegression" in message
    assert "residual degrees of freedom" in message and "each level of its categorical regressors" in message


def test_statsmodels_class_we_do_not_know_is_review_even_when_its_levels_are_large(sample):
    res = sm.RLM(sample["log_inkomen"], design(sample, sample["geslacht"] == "vrouw")).fit()
    assert type(res.model).__name__ not in SUPPORTED_MODELS

    result = check(res)

    assert result.kind == "model" and result.status == "review"
    (finding,) = [f for f in result.findings if f.rule == "unsupported"]
    assert "RLM" in finding.message and finding.fix


def test_model_whose_data_were_removed_is_review_with_unknown_counts(sample):
    res = smf.ols("log_inkomen ~ C(gemeente) + geslacht", sample).fit()
    res.remove_data()

    result = check(res)

    assert result.status == "review" and result.kind == "model" and result.counts.models == 1
    assert result.counts.observations is None
    assert [f.rule for f in result.findings] == ["unknown_counts"] and "remove_data()" in result.findings[0].message
