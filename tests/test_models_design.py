"""Every column of a model's design matrix, the categories of a discrete outcome, and separation on small groups."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

from cbs_export_lab import demo
from cbs_export_lab.check import check
from cbs_export_lab.errors import UserError
from cbs_export_lab.rules import default_rules

MIN = default_rules().model_level_threshold


@pytest.fixture(autouse=True)
def quiet_fits():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    frame = demo.persons(400, seed=2)
    frame["log_inkomen"] = np.log1p(frame["inkomen"])
    frame["hoog"] = (frame["inkomen"] > frame["inkomen"].median()).astype(int)
    frame["vrouw"] = (frame["geslacht"] == "vrouw").astype(float)
    return frame


def threshold_where(result) -> set[str]:
    return {f.where for f in result.findings if f.rule == "threshold" and f.severity == "fail"}


def few(sample, n=4) -> pd.Series:
    mask = pd.Series(False, index=sample.index)
    mask.iloc[:n] = True
    return mask


def test_interaction_slope_without_main_effect_on_few_persons_fails(sample):
    data = sample.assign(klein=few(sample).astype(float))
    res = smf.ols("log_inkomen ~ leeftijd + leeftijd:klein", data).fit()
    assert any(w.startswith("term leeftijd:klein") for w in threshold_where(check(res)))


def test_interaction_slope_on_a_large_group_passes(sample):
    res = smf.ols("log_inkomen ~ leeftijd + leeftijd:vrouw", sample).fit()
    result = check(res)
    assert result.status == "pass", result.report()


@pytest.mark.parametrize("low,high", [(-1.0, 1.0), (2.0, 5.0)])
def test_two_valued_column_with_few_on_one_side_fails(sample, low, high):
    column = np.where(few(sample), high, low)
    X = sm.add_constant(pd.DataFrame({"code": column, "leeftijd": sample["leeftijd"].astype(float)}))
    result = check(sm.OLS(sample["log_inkomen"], X).fit())
    assert f"term code, level {high:g}" in threshold_where(result)


def test_effect_coded_column_with_enough_on_both_sides_passes(sample):
    column = np.where(sample["geslacht"] == "vrouw", 1.0, -1.0)
    X = sm.add_constant(pd.DataFrame({"code": column, "leeftijd": sample["leeftijd"].astype(float)}))
    result = check(sm.OLS(sample["log_inkomen"], X).fit())
    assert result.status == "pass", result.report()


def test_rare_binary_outcome_fails_and_common_one_passes(sample):
    rare = sample.assign(zeldzaam=few(sample).astype(int))
    result = check(smf.logit("zeldzaam ~ leeftijd + geslacht", rare).fit(disp=0))
    assert "outcome zeldzaam, category 1" in threshold_where(result)
    safe = check(smf.logit("hoog ~ leeftijd + geslacht", sample).fit(disp=0))
    assert safe.status == "pass", safe.report()


def test_rare_count_outcome_category_fails(sample):
    counts = np.where(few(sample, 3), 3, np.arange(len(sample)) % 3)
    data = sample.assign(kinderen=counts)
    result = check(smf.poisson("kinderen ~ leeftijd", data).fit(disp=0))
    assert "outcome kinderen, category 3" in threshold_where(result)
    safe = sample.assign(kinderen=np.arange(len(sample)) % 3)
    assert check(smf.poisson("kinderen ~ leeftijd", safe).fit(disp=0)).status == "pass"


def test_separation_on_a_small_level_is_named(sample):
    data = sample.assign(klein=few(sample).astype(int), hoog=np.where(few(sample), 1, sample["hoog"]))
    result = check(smf.logit("hoog ~ klein + leeftijd", data).fit(disp=0))
    messages = [f.message for f in result.findings if f.where == "term klein, level 1"]
    assert messages and "separation" in messages[0]


def test_unit_is_validated_as_for_tables(sample):
    res = smf.ols("log_inkomen ~ leeftijd", sample).fit()
    with pytest.raises(UserError):
        check(res, unit="no_such_column")
    with pytest.raises(UserError):
        check(res, unit=np.arange(3))
    assert check(res, unit="RINPERSOON").unit == "RINPERSOON"


def test_separation_is_found_on_the_fitted_probabilities_and_not_on_a_large_group(sample):
    data = sample.assign(klein=few(sample).astype(int), hoog=np.where(few(sample), 1, sample["hoog"]))
    result = check(smf.logit("hoog ~ klein + leeftijd", data).fit(disp=0))
    assert "the whole model (separation)" in threshold_where(result)
    children = check(smf.logit("hoog ~ C(leeftijdsklasse) + leeftijd", sample).fit(disp=0))  # 0-14: no income
    assert "the whole model (separation)" not in threshold_where(children)
