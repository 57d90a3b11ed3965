"""Checking a fitted statsmodels model: what its coefficients can reveal (DESIGN section 3).

A model result is judged on too few residual degrees of freedom, a level of a categorical regressor (or a 0/1
dummy) with few observations or units, and a saturated model, whose coefficients reproduce the table of its
covariate patterns. Units are counted with the same `unit=`/`data=` policy as tables (`units`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from ..errors import UserError
from ..results import CheckResult, Counts, Finding
from ..rules import Rules
from ..units import fit_unit_codes, fit_unit_ids

SUPPORTED_MODELS = frozenset(
    {
        "OLS",
        "WLS",
        "GLS",
        "GLM",
        "Logit",
        "Probit",
        "MNLogit",
        "Poisson",
        "NegativeBinomial",
        "MixedLM",
        "QuantReg",
    }
)


_DENSE_PAIRS = 50_000_000  # up to this many (level, unit) pairs, distinct units are counted with a bit table


_DISCRETE_OUTCOME = frozenset({"Logit", "Probit", "MNLogit"})
_COUNT_MODELS = frozenset({"Poisson", "NegativeBinomial", "GeneralizedPoisson", "ZeroInflatedPoisson"})
_FEW_OUTCOME_VALUES = 10  # a count outcome with at most this many distinct values is judged per category


_OTHER_LIBRARIES = {
    "sklearn": "scikit-learn",
    "linearmodels": "linearmodels",
    "lifelines": "lifelines",
    "pyfixest": "pyfixest",
    "xgboost": "XGBoost",
    "lightgbm": "LightGBM",
}


_FIX_LEVEL = (
    "Merge this level with a larger one (or drop it from the data) and refit, so that every level of a "
    "categorical regressor has at least {n} observations."
)


@dataclass(frozen=True)
class Grouping:
    """The rows of a fit split by one regressor (or a combination of them): a code per row, a label per code."""

    term: str
    codes: np.ndarray
    labels: list[str]

    def counts(self, units: np.ndarray | None) -> np.ndarray:
        """Rows per code, or distinct units per code when `units` holds an integer unit code per row."""
        if units is None:
            return np.bincount(self.codes, minlength=len(self.labels))
        width = int(units.max()) + 1 if units.size else 1
        pairs = self.codes.astype(np.int64) * width + units
        if len(self.labels) * width <= _DENSE_PAIRS:
            seen = np.zeros(len(self.labels) * width, dtype=bool)
            seen[pairs] = True
            return seen.reshape(len(self.labels), width).sum(axis=1)
        return np.bincount(pd.unique(pairs) // width, minlength=len(self.labels))

    def crossed(self, other: Grouping, term: str, sep: str = " / ") -> Grouping:
        codes = self.codes.astype(np.int64) * len(other.labels) + other.codes
        return Grouping(term, codes, [f"{a}{sep}{b}" for a in self.labels for b in other.labels])


@dataclass(frozen=True)
class Design:
    """What a fit was made of: its regressor matrix, and the level of every row for each categorical factor."""

    exog: np.ndarray
    names: list[str]
    factors: dict[str, Grouping]
    categorical_columns: frozenset[int]
    interactions: list[tuple[str, ...]]
    kept: np.ndarray | None = None

    def only(self, kept: np.ndarray) -> Design:
        """The design cut to the rows in `kept` (a boolean mask over the rows of the fit)."""
        factors = {name: Grouping(g.term, g.codes[kept], g.labels) for name, g in self.factors.items()}
        return replace(self, exog=self.exog[kept], factors=factors, kept=kept)


def check_model(res: Any, *, data: Any = None, unit: Any = None, rules: Rules) -> CheckResult:
    """Check one fitted statsmodels model (DESIGN section 3: `dof`, `threshold` per level, saturated models)."""
    model = res.model
    name = type(model).__name__
    if model.exog is None:
        return CheckResult(
            kind="model",
            findings=[
                Finding(
                    rule="unknown_counts",
                    severity=rules.unknown_counts,
                    message="The data behind this model were removed (remove_data()), so its degrees of freedom and the "
                    "number of observations behind each level of its regressors cannot be counted.",
                    where=f"the whole {name} model",
                    fix="Check the model before calling remove_data(), or refit it and check the new result.",
                )
            ],
            counts=Counts(models=1),
            rules_origin=rules.origin,
        )
    rows = _Rows.of(res)
    ids, unit_name, source = fit_unit_ids(rows, data, unit, rules)
    units = None if ids is None else fit_unit_codes(ids, unit_name)
    design = _design(res, rows)
    weighted = _weighted_rows(model, rows.n)
    if weighted is not None:
        design = design.only(weighted)
        units = None if units is None else units[weighted]
    distinct = len(design.exog) if units is None else int(np.count_nonzero(np.bincount(units)))
    sample = _sample_units(res, rows, ids, unit_name, weighted, rules.threshold)

    findings = [*_dof_findings(res, rules)]
    findings += _level_findings(design, units, unit_name, rules, _discrete_outcome(res, design.kept))
    findings += _outcome_findings(res, design.kept, units, unit_name, rules)
    findings += _separation_findings(res, design.kept, units, unit_name, rules)
    findings += _saturated_findings(res, design, units, unit_name, rules)
    if name not in SUPPORTED_MODELS:
        findings.append(
            Finding(
                rule="unsupported",
                severity=rules.unsupported,
                message=f"{name} is not one of the model classes cbs_export_lab knows, so anything particular to it "
                "(for instance group-level estimates, lags or an extra design matrix) was not checked; the other "
                "findings cover only its residual degrees of freedom and its regressors.",
                where=f"the whole {name} model",
                fix="Explain in the explanation why the rest of this model has no disclosure risk.",
            )
        )
    return CheckResult(
        kind="model",
        findings=findings,
        counts=Counts(models=1, observations=distinct),
        source=source,
        rules_origin=rules.origin,
        unit=unit_name,
        details={"model": name, "nobs": rows.n, "sketched": [] if sample is None else [sample]},
    )


def _sample_units(
    res: Any, rows: _Rows, ids: np.ndarray | None, unit_name: str | None, kept: np.ndarray | None, threshold: int
) -> Any:
    """The units of the estimation sample, for differencing: a model fitted on all persons but a few, next to a
    table or model of all of them, tells something about those few. Unit ids where known, else the row labels
    of the frame the model was fitted on."""
    from ..differencing import lineage, sketched_row

    what = f"the estimation sample of the {type(res.model).__name__} model"
    if ids is not None:
        ids = ids if kept is None else ids[kept]
        return sketched_row(
            np.zeros(len(ids)), what, ["all observations"], units=ids, unit_name=unit_name, threshold=threshold
        )
    data = res.model.data
    frame = next(
        (t for t in (lineage(getattr(data, "frame", None)), lineage(getattr(data, "orig_endog", None))) if t), None
    )
    if frame is None or rows.labels is None:
        return None
    labels = rows.labels if kept is None else rows.labels[kept]
    return sketched_row(
        np.zeros(len(labels)), what, ["all observations"], row_labels=labels, frame=frame, threshold=threshold
    )


def unsupported_model_reason(obj: Any) -> str | None:
    """What could not be checked on a model that is not a fitted statsmodels result; None for other objects."""
    library = (type(obj).__module__ or "").split(".")[0]
    name = type(obj).__name__
    if library == "statsmodels":
        if hasattr(obj, "fit") and not hasattr(obj, "params"):
            return f"this statsmodels {name} has not been fitted; check the result of its .fit() instead"
        if name == "Summary":
            return "a statsmodels summary is text whose model cannot be inspected; check the fitted result itself"
        return None
    if library not in _OTHER_LIBRARIES:
        return None
    return (
        f"it is a {_OTHER_LIBRARIES[library]} {name}, and only fitted statsmodels results can be inspected, so its "
        "residual degrees of freedom, the number of observations behind each level of its categorical "
        "regressors and whether it reproduces a table (a saturated model) were not checked"
    )


def fit_number(res: Any, attr: str) -> float | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = getattr(res, attr, None)
    except Exception:  # some fit measures are not defined for some models and raise on access
        return None
    if value is None or callable(value) or np.ndim(value) != 0:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class _Rows:
    """Which rows the fit used: their labels in the source frame (formula API or pandas input) and how many."""

    n: int
    labels: pd.Index | None
    frame: pd.DataFrame | None

    @classmethod
    def of(cls, res: Any) -> _Rows:
        data = res.model.data
        n = int(np.asarray(res.model.exog).shape[0])
        labels = getattr(data, "row_labels", None)
        labels = pd.Index(labels) if labels is not None and len(labels) == n else None
        frame = getattr(data, "frame", None)
        if frame is not None and not isinstance(frame, pd.DataFrame):
            frame = pd.DataFrame(frame)
        return cls(n, labels, frame)

    def frame_rows(self) -> pd.DataFrame | None:
        """The rows of the formula's data frame that the fit used, in the model's order."""
        if self.frame is None:
            return None
        return self.select(self.frame, "the model's data frame")

    def select(self, source: pd.DataFrame | pd.Series | np.ndarray, what: str) -> Any:
        """`source` cut to the rows of the fit, in the fit's order: by row label, else by position."""
        labelled = isinstance(source, (pd.DataFrame, pd.Series))
        if labelled and self.labels is not None:
            if source.index.equals(self.labels):
                return source
            if source.index.is_unique and self.labels.isin(source.index).all():
                return source.loc[self.labels]
        if len(source) == self.n:
            return source
        frame = self.frame
        if (
            not labelled
            and frame is not None
            and self.labels is not None
            and len(source) == len(frame)
            and frame.index.is_unique
        ):
            return source[frame.index.get_indexer(self.labels)]
        raise UserError(
            f"{what} has {len(source)} rows but the model was fitted on {self.n} rows, and its row labels do "
            "not match the model's. Pass the data frame the model was fitted on (after dropping missing values), "
            "or one unit id per row of the fit."
        )


def _weighted_rows(model: Any, n: int) -> np.ndarray | None:
    """The rows the fit gives a weight other than 0, or None when that is all of them.

    A row of weight 0 takes no part in the estimates, so it is no observation behind a level's coefficient."""
    prior = ("freq_weights", "var_weights") if getattr(model, "freq_weights", None) is not None else ("weights",)
    kept = np.ones(n, dtype=bool)
    for name in prior:
        weights = getattr(model, name, None)
        if weights is not None and np.ndim(weights) == 1 and len(weights) == n:
            kept &= np.asarray(weights, dtype=float) != 0
    return None if kept.all() else kept


def _design(res: Any, rows: _Rows) -> Design:
    model = res.model
    exog = np.asarray(model.exog, dtype=float)
    if exog.ndim == 1:
        exog = exog[:, None]
    names = [str(n) for n in model.exog_names][: exog.shape[1]]
    spec = getattr(model.data, "model_spec", None)
    if spec is None:
        spec = getattr(model.data, "design_info", None)
    if spec is None:
        return Design(exog, names, {}, frozenset(), [])
    frame = rows.frame_rows()
    if frame is None:
        raise ValueError("the model has a formula but no data frame to read its categorical regressors from")
    if type(spec).__module__.startswith("patsy"):
        factors = _patsy_factors(spec, frame)
        terms = [(tuple(f.name() for f in term.factors), spec.slice(term)) for term in spec.terms]
    else:
        factors = _formulaic_factors(spec, frame)
        terms = [(tuple(str(f.expr) for f in term.factors), cols) for term, cols in spec.term_slices.items()]
    columns: set[int] = set()
    interactions = []
    for term_factors, cols in terms:
        categorical = tuple(f for f in term_factors if f in factors)
        if categorical:
            columns.update(range(exog.shape[1])[cols])
        if len(categorical) > 1:
            interactions.append(categorical)
    return Design(exog, names, factors, frozenset(columns), interactions)


def _patsy_factors(spec: Any, frame: pd.DataFrame) -> dict[str, Grouping]:
    from patsy.categorical import categorical_to_int
    from patsy.missing import NAAction

    factors = {}
    for factor, info in spec.factor_infos.items():
        if info.type == "categorical":
            values = factor.eval(info.state, frame)
            codes = _level_codes(getattr(values, "data", values), info.categories)
            if codes is None:
                codes = np.asarray(categorical_to_int(values, info.categories, NAAction(NA_types=[])))
            factors[factor.name()] = Grouping(factor.name(), codes, [str(c) for c in info.categories])
    return factors


def _level_codes(values: Any, levels: tuple) -> np.ndarray | None:
    """Level codes by pandas (fast on large fits); None when some value is not one of `levels`, for patsy to judge."""
    try:
        codes = pd.Categorical(values, categories=list(levels)).codes
    except (TypeError, ValueError):
        return None
    return codes.astype(np.int64) if len(codes) and codes.min() >= 0 else None


def _formulaic_factors(spec: Any, frame: pd.DataFrame) -> dict[str, Grouping]:
    factors = {}
    for expr, (kind, state) in spec.encoder_state.items():
        if getattr(kind, "value", kind) != "categorical":
            continue
        levels = [str(c) for c in state["categories"]]
        single = spec.update(formula=f"0 + {expr}", ensure_full_rank=False, structure=None)
        dummies = np.asarray(single.get_model_matrix(frame), dtype=float)
        if dummies.shape != (len(frame), len(levels)) or not (dummies.sum(axis=1) == 1).all():
            raise ValueError(f"the levels of {expr} could not be read back from the data")
        factors[str(expr)] = Grouping(str(expr), dummies.argmax(axis=1), levels)
    return factors


def _groupings(design: Design) -> Iterator[Grouping]:
    """Every categorical regressor, every interaction of them, and every other column holding only 0 and 1."""
    yield from design.factors.values()
    for names in design.interactions:
        grouping = design.factors[names[0]]
        for name in names[1:]:
            grouping = grouping.crossed(design.factors[name], ":".join(names))
        yield grouping
    for j, name in enumerate(design.names):
        if j not in design.categorical_columns:
            grouping = _column_grouping(name, design.exog[:, j])
            if grouping is not None:
                yield grouping


def _column_grouping(name: str, column: np.ndarray) -> Grouping | None:
    """A design column as groups of rows: each value of a two-valued or -1/0/+1 column (a dummy, an effect-coded
    indicator), else the rows off its reference value (the value most rows have, e.g. the 0 of an interaction
    slope without its main effect); None for a constant column or one without a reference value."""
    values, codes = np.unique(column, return_inverse=True)
    if values.size < 2:
        return None
    if values.size == 2 or set(values.tolist()) <= {-1.0, 0.0, 1.0}:
        return Grouping(name, codes.astype(np.int64), [format(v, "g") for v in values])
    counts = np.bincount(codes)
    reference = int(counts.argmax())
    if counts[reference] * 2 < column.size:
        return None
    off = (codes != reference).astype(np.int64)
    return Grouping(name, off, [format(values[reference], "g"), f"other than {values[reference]:g}"])


def _patterns(exog: np.ndarray, limit: int) -> np.ndarray | None:
    """A code per row for its covariate pattern (distinct row of exog), or None once there are more than `limit`."""
    codes = np.zeros(exog.shape[0], dtype=np.int64)
    bound = 1
    for column in exog.T:
        if ((column == 0.0) | (column == 1.0)).all():
            values, distinct = column.astype(np.int64), 2
        else:
            values, uniques = pd.factorize(column)
            distinct = len(uniques)
            if distinct > limit:
                return None
        if bound * distinct > 2**62:
            codes, uniques = pd.factorize(codes)
            bound = len(uniques)
            if bound > limit:
                return None
        codes = codes * distinct + values
        bound *= distinct
    codes, uniques = pd.factorize(codes)
    return codes if len(uniques) <= limit else None


def _counted(n: int, unit_name: str | None) -> str:
    noun = "observation" if unit_name is None else "unit"
    plural = "" if n == 1 else "s"
    return f"{n} {noun}{plural}" + ("" if unit_name is None else f" (distinct {unit_name})")


def _dof_findings(res: Any, rules: Rules) -> list[Finding]:
    df = fit_number(res, "df_resid")
    if df is None:
        return [
            Finding(
                rule="dof",
                severity="review",
                message="The residual degrees of freedom of this model could not be established.",
                where="the whole model",
                fix="Explain in the explanation how many observations and parameters it has.",
            )
        ]
    if df < rules.dof:
        return [
            Finding(
                rule="dof",
                severity="fail",
                message=f"The model has {df:g} residual degrees of freedom, fewer than the minimum of {rules.dof}: with "
                "so few observations per parameter the coefficients come close to describing individuals.",
                where="the whole model",
                fix=f"Fit it on more observations or with fewer parameters, so at least {rules.dof} residual degrees "
                "of freedom remain.",
            )
        ]
    return []


def _level_findings(
    design: Design, units: np.ndarray | None, unit_name: str | None, rules: Rules, outcome: np.ndarray | None = None
) -> list[Finding]:
    minimum = rules.model_level_threshold
    findings = []
    for grouping in _groupings(design):
        constant = _constant_outcome(grouping, outcome)
        for code, (label, n) in enumerate(zip(grouping.labels, grouping.counts(units), strict=False)):
            if 0 < n < minimum:
                separated = (
                    " The outcome is the same for all of them (separation), so the model reveals it."
                    if constant is not None and constant[code]
                    else ""
                )
                findings.append(
                    Finding(
                        rule="threshold",
                        severity="fail",
                        message=f"Level {label!r} of {grouping.term} has {_counted(int(n), unit_name)}, fewer than "
                        f"{minimum}: its coefficient rests on so few observations that it can disclose them."
                        + separated,
                        where=f"term {grouping.term}, level {label}",
                        fix=_FIX_LEVEL.format(n=minimum),
                    )
                )
    return findings


def _constant_outcome(grouping: Grouping, outcome: np.ndarray | None) -> np.ndarray | None:
    """Per group: whether every row in it has the same outcome (perfect or quasi separation on that group)."""
    if outcome is None or outcome.size != grouping.codes.size:
        return None
    frame = pd.DataFrame({"g": grouping.codes, "y": outcome})
    distinct = frame.groupby("g")["y"].nunique().reindex(range(len(grouping.labels)), fill_value=0)
    return distinct.to_numpy() == 1


def _outcome_findings(
    res: Any, kept: np.ndarray | None, units: np.ndarray | None, unit_name: str | None, rules: Rules
) -> list[Finding]:
    """Each category of a discrete outcome (binary, multinomial, or a count with few distinct values) must hold
    enough observations: a rare outcome that a handful of persons have is disclosed by the fit."""
    outcome = _categorical_outcome(res, kept)
    if outcome is None:
        return []
    codes, values = pd.factorize(outcome, sort=True)
    levels = getattr(res.model, "_ynames_map", None) or {}
    labels = [str(levels.get(v, format(v, "g"))) for v in values]
    name = res.model.endog_names if isinstance(res.model.endog_names, str) else "the outcome"
    minimum = rules.model_level_threshold
    findings = []
    for label, n in zip(labels, Grouping(name, codes.astype(np.int64), labels).counts(units), strict=False):
        if 0 < n < minimum:
            findings.append(
                Finding(
                    rule="threshold",
                    severity="fail",
                    message=f"The outcome {name}={label} is held by {_counted(int(n), unit_name)}, fewer than {minimum}: "
                    "a model of so rare an outcome discloses who has it.",
                    where=f"outcome {name}, category {label}",
                    fix=f"Merge this outcome category with another (or model a broader outcome), so that every category "
                    f"holds at least {minimum} observations.",
                )
            )
    return findings


_SEPARATED = 1e-6  # a fitted probability this close to 0 or 1 says the outcome is determined (separation)


def _separation_findings(
    res: Any, kept: np.ndarray | None, units: np.ndarray | None, unit_name: str | None, rules: Rules
) -> list[Finding]:
    """Perfect or quasi separation on a small group: a few observations whose outcome the fit determines (fitted
    probability 0 or 1), so the model discloses it."""
    outcome = _discrete_outcome(res, kept)
    if outcome is None:
        return []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitted = np.asarray(res.model.predict(np.asarray(res.params)), dtype=float)
    except Exception:  # a model that cannot predict its own rows is judged on its other findings
        return []
    if kept is not None and len(fitted) == len(kept):
        fitted = fitted[kept]
    extreme = fitted.max(axis=1) if fitted.ndim == 2 else np.maximum(fitted, 1 - fitted)
    determined = extreme > 1 - _SEPARATED
    if determined.size != outcome.size or not determined.any():
        return []
    n = int(determined.sum()) if units is None else int(np.unique(units[determined]).size)
    if n >= rules.model_level_threshold:
        return []
    return [
        Finding(
            rule="threshold",
            severity="fail",
            message=f"The model separates {_counted(n, unit_name)} (fitted probability 0 or 1): their outcome is "
            f"determined by the fit, so the model discloses it for a group of fewer than "
            f"{rules.model_level_threshold}.",
            where="the whole model (separation)",
            fix="Merge or drop the small group that the regressors isolate (a level, a dummy or a combination of them) "
            "and refit, so no small group has one outcome only.",
        )
    ]


def _categorical_outcome(res: Any, kept: np.ndarray | None) -> np.ndarray | None:
    """The outcome when its values are categories: a binary or multinomial model, or counts with few values."""
    outcome = _discrete_outcome(res, kept)
    if outcome is not None:
        return outcome
    model = res.model
    family = type(getattr(model, "family", None)).__name__
    if type(model).__name__ not in _COUNT_MODELS and family not in _COUNT_MODELS:
        return None
    endog = np.asarray(model.endog, dtype=float)
    if endog.ndim != 1:
        return None
    endog = endog if kept is None else endog[kept]
    return endog if np.unique(endog).size <= _FEW_OUTCOME_VALUES else None


def _saturated_findings(
    res: Any, design: Design, units: np.ndarray | None, unit_name: str | None, rules: Rules
) -> list[Finding]:
    """A model with as many parameters as covariate patterns reproduces the table of those patterns."""
    k = design.exog.shape[1]
    codes = _patterns(design.exog, k)
    if codes is None:
        return []
    first_rows = np.flatnonzero(~pd.Series(codes).duplicated().to_numpy())
    patterns = Grouping("covariate pattern", codes, _pattern_labels(design, first_rows))
    saturated = (
        f"The model is saturated ({k} parameters for {len(first_rows)} covariate patterns), so its "
        "coefficients reproduce the table of these patterns"
    )
    fix = (
        "Merge small categories so every pattern holds enough observations, or export the table itself and "
        "check it as a table."
    )
    outcome = _discrete_outcome(res, design.kept)
    cells = patterns
    if outcome is not None:
        outcome_codes, values = pd.factorize(outcome, sort=True)
        levels = getattr(res.model, "_ynames_map", None) or {}  # MNLogit fits on codes 0..J-1: show the outcomes
        outcome_labels = [f"{res.model.endog_names}={levels.get(v, format(v, 'g'))}" for v in values]
        cells = patterns.crossed(Grouping("outcome", outcome_codes, outcome_labels), "cell", sep=", ")
    findings = []
    for label, n in zip(cells.labels, cells.counts(units), strict=False):
        if n == 0 and outcome is not None:
            findings.append(
                Finding(
                    rule="zero",
                    severity=rules.zero,
                    message=f"{saturated}; the cell {label} is empty, and the coefficients reveal that no one is in it.",
                    where=f"covariate pattern {label}",
                    fix=fix,
                )
            )
        elif 0 < n < rules.threshold:
            findings.append(
                Finding(
                    rule="threshold",
                    severity="fail",
                    message=f"{saturated}; the cell {label} has {_counted(int(n), unit_name)}, fewer than "
                    f"{rules.threshold}.",
                    where=f"covariate pattern {label}",
                    fix=fix,
                )
            )
    return findings


def _pattern_labels(design: Design, rows: np.ndarray) -> list[str]:
    """'factor=level, column=value' for the given rows: categorical factors by level, other varying columns by value."""
    varying = [
        (j, name)
        for j, name in enumerate(design.names)
        if j not in design.categorical_columns and np.ptp(design.exog[:, j]) > 0
    ]
    labels = []
    for row in rows:
        parts = [f"{name}={g.labels[g.codes[row]]}" for name, g in design.factors.items()]
        parts += [f"{name}={design.exog[row, j]:g}" for j, name in varying]
        labels.append(", ".join(parts) or "all rows")
    return labels


def _discrete_outcome(res: Any, kept: np.ndarray | None) -> np.ndarray | None:
    """The outcome of a model whose coefficients give the share of each outcome per pattern, else None."""
    model = res.model
    family = getattr(model, "family", None)
    binomial = family is not None and type(family).__name__ == "Binomial"
    if type(model).__name__ not in _DISCRETE_OUTCOME and not binomial:
        return None
    endog = np.asarray(model.endog, dtype=float)
    if endog.ndim != 1:
        return None
    return endog if kept is None else endog[kept]
