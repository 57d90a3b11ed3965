"""`check(obj)`: one entry point that sends any kernel object to the checker for its kind.

Fails closed: an object we cannot inspect, or an error inside a checker, gives a `review` result that says
so, never a pass and never a traceback. Mistakes in the arguments (a `unit=` column that does not exist)
raise `UserError` with a message saying what to do.
"""

from __future__ import annotations

from typing import Any

from .errors import UserError
from .hooks import might_be_figure
from .results import CheckResult, unsupported_result
from .rules import Rules
from .settings import active_rules


def kind_of(obj: Any) -> str:
    """'table', 'model', 'figure' or 'unsupported', by type alone (no imports of heavy libraries)."""
    module = type(obj).__module__ or ""
    if module.startswith("pandas") and type(obj).__name__ in ("DataFrame", "Series"):
        return "table"
    from . import engines  # here, not at the top: importing the package loads no pandas

    if engines.is_result_table(obj):
        return "table"
    if module.startswith("pandas.io.formats.style"):
        return "table"
    if module.startswith("statsmodels") and hasattr(obj, "params") and hasattr(obj, "model"):
        return "model"
    if might_be_figure(obj):
        from .checks.figure import as_figure

        if as_figure(obj) is not None:
            return "figure"
    return "unsupported"


def check(
    obj: Any, *, data: Any = None, unit: Any = None, weights: Any = None, rules: Rules | None = None
) -> CheckResult:
    """Check one output for disclosure risk (DESIGN section 3)."""
    rules = rules or active_rules()
    kind = kind_of(obj)
    provenance = note = None
    if kind == "table":
        obj, data, note = _from_engines(obj, data, unit, weights, rules)
    if (
        data is None and kind == "table" and note is None
    ):  # provenance hook: in a kernel, follow how obj was computed (DESIGN 3)
        from .provenance import from_caller

        provenance = from_caller(obj, unit=unit, weights=weights)
        data = None if provenance is None else provenance.frame
    try:
        if kind == "table":
            from .checks.table import check_table

            result = check_table(obj, data=data, unit=unit, weights=weights, rules=rules)
        elif kind == "model":
            from .checks.model import check_model

            result = check_model(obj, data=data, unit=unit, rules=rules)
        elif kind == "figure":
            from .checks.figure import check_figure

            result = check_figure(obj, data=data, unit=unit, rules=rules)
        else:
            from .checks.model import unsupported_model_reason

            why = unsupported_model_reason(obj)
            return unsupported(
                obj, rules, why or f"cbs_export_lab cannot inspect a {type(obj).__module__}.{type(obj).__qualname__}"
            )
    except UserError:
        raise
    except Exception as exc:  # fail closed: a checker error must never look like a pass
        return unsupported(obj, rules, f"checking this {kind} failed with {type(exc).__name__}: {exc}", kind=kind)
    if provenance is not None:
        provenance.annotate(result)
    if note and result.source:
        result.source = f"{result.source}; {note}"
    result.rules_origin = rules.origin
    return result


def _from_engines(obj: Any, data: Any, unit: Any, weights: Any, rules: Rules) -> tuple[Any, Any, str | None]:
    """A polars, Arrow or DuckDB result table and source, as the pandas table and source frame a check reads."""
    import pandas as pd

    from . import engines

    notes = []
    if engines.is_result_table(obj):
        notes.append(f"the table is {engines.Source(obj).describe()}, read into pandas via Arrow")
        if engines.engine(data) is not None:
            have = engines.Source(data).columns()
        else:
            have = list(data.columns) if isinstance(data, pd.DataFrame) else []
        obj = engines.result_to_pandas(obj, have)
    elif engines.engine(data) is not None and isinstance(obj, pd.DataFrame) and isinstance(obj.index, pd.RangeIndex):
        obj = engines.group_keys_as_index(obj, engines.Source(data).columns())  # a query result's .df()
    if engines.engine(data) is not None:
        data, read = engines.source_for(obj, data, unit, weights, rules.is_linking_key)
        notes.append(read)
    return obj, data, "; ".join(notes) or None


def unsupported(obj: Any, rules: Rules, why: str, kind: str = "unsupported") -> CheckResult:
    return unsupported_result(
        rules,
        why,
        kind=kind,
        where=f"the whole {type(obj).__name__}",
        fix="Export it as a table, statsmodels result or matplotlib figure that can be checked, or explain "
        "in the explanation why it has no disclosure risk.",
    )
