"""Fitted statsmodels models rendered for export: the coefficient table and the model information.

Only coefficients and fit measures are rendered, never residuals, fitted values or data. The disclosure
checks of a model live in `checks.model`.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .atomic import write_bytes
from .checks.model import fit_number
from .excel import write_sheet

COLUMNS = ("estimate", "std error", "statistic", "p-value", "CI low", "CI high")


def coefficient_table(res: Any) -> pd.DataFrame:
    """Estimate, standard error, statistic, p-value and 95% interval per term (rows (equation, term) for MNLogit)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        params = np.asarray(res.params, dtype=float)
        columns = [params, res.bse, res.tvalues, res.pvalues]
        ci = np.asarray(res.conf_int(), dtype=float)
    if params.ndim == 2:
        equations = _equation_names(res, params.shape[1])
        terms = list(res.model.exog_names)
        index = pd.MultiIndex.from_product([equations, terms], names=["equation", "term"])
        values = [np.asarray(c, dtype=float).T.ravel() for c in columns]
    else:
        index = pd.Index(_param_names(res, params.size), name="term")
        values = [np.asarray(c, dtype=float).ravel() for c in columns]
    ci = ci.reshape(-1, 2)
    return pd.DataFrame(dict(zip(COLUMNS, [*values, ci[:, 0], ci[:, 1]], strict=False)), index=index)


def model_info(res: Any) -> dict[str, object]:
    """Model class, outcome, N, degrees of freedom, fit measures and covariance type: what a checker reads first."""
    model = res.model
    info: dict[str, object] = {"model": type(model).__name__}
    family = getattr(model, "family", None)
    if family is not None:
        info["family"] = type(family).__name__
        info["link"] = type(family.link).__name__
    quantile = fit_number(res, "q")
    if quantile is not None:
        info["quantile"] = quantile
    info["dependent variable"] = model.endog_names if isinstance(model.endog_names, str) else str(model.endog_names)
    info["N"] = int(res.nobs)
    groups = getattr(model, "group_labels", None)
    if groups is not None:
        info["groups"] = len(groups)
    for label, attr in (
        ("df_resid", "df_resid"),
        ("df_model", "df_model"),
        ("R²", "rsquared"),
        ("adj. R²", "rsquared_adj"),
        ("pseudo R²", "prsquared"),
        ("log-likelihood", "llf"),
        ("AIC", "aic"),
        ("BIC", "bic_llf"),
        ("BIC", "bic"),
    ):
        if label not in info:
            value = fit_number(res, attr)
            if value is not None:
                info[label] = value
    cov = getattr(res, "cov_type", None)
    if cov:
        info["covariance type"] = cov
    info["statistic"] = "t" if getattr(res, "use_t", False) else "z"
    return info


def write_text(res: Any, path: str | os.PathLike[str], *, title: str, description: str = "") -> Path:
    """The coefficient table and model information as plain text (UTF-8)."""
    lines = [title, "=" * len(title)]
    if description:
        lines += [description]
    lines.append("")
    info = model_info(res)
    width = max(len(k) for k in info)
    lines += [f"{key:<{width}}  {_show(value)}" for key, value in info.items()]
    lines += ["", "Coefficients", coefficient_table(res).to_string(float_format=_show), ""]
    return write_bytes(path, "\n".join(lines).encode("utf-8"))


def write_excel(res: Any, path: str | os.PathLike[str], *, title: str, description: str = "") -> Path:
    """One sheet: title, description, model information rows, then the coefficient table."""
    return write_sheet(
        path, coefficient_table(res), title=title, description=description, meta=model_info(res), sheet_name="model"
    )


def _show(value: object) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _param_names(res: Any, size: int) -> list[str]:
    params = res.params
    if isinstance(params, pd.Series):
        return [str(x) for x in params.index]
    for names in (getattr(res.model.data, "param_names", None), getattr(res.model, "exog_names", None)):
        if names is not None and len(names) == size:
            return [str(x) for x in names]
    return [f"param {i}" for i in range(size)]


def _equation_names(res: Any, count: int) -> list[str]:
    """'outcome=level' for each equation of a multinomial model (the first level is the base)."""
    outcome = res.model.endog_names
    levels = getattr(res.model, "_ynames_map", None)
    if levels and len(levels) == count + 1:
        return [f"{outcome}={levels[i]}" for i in sorted(levels)[1:]]
    return [f"{outcome}={i}" for i in range(1, count + 1)]
