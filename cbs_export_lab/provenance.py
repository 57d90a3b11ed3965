"""Provenance: the frame a kernel object was computed from, found by following how it was computed.

In a kernel, `%cbs_check t`, `cel.check(t)` and `Basket.add(t, ...)` without `data=` look up the statement that
assigned `t` in the kernel's history (newest first), parse it with `ast` and walk its expression back to the
DataFrame it started from: through earlier assignments (`sub = df[df.leeftijd >= 18]`, then
`t = sub.groupby(...).mean()`), filters, method chains and the arguments of `pd.crosstab` / `pd.pivot_table`.
The source of a table is the frame its first aggregating step (AGGREGATIONS) was applied to, with the row steps
before it re-applied; the source of an extract is the frame it was taken from. A source found this way is only
trusted when it reproduces the table (DESIGN section 3); the plain-table check decides that.

Nothing that could have a side effect is re-run. Evaluated are only, on pandas and numpy objects and on plain
values (numbers, strings, dates, lists of them) bound in the namespace:
- the operators == != < <= > >= & | ^ ~ + - * / // % ** and unary - +;
- subsetting: frame[mask], frame[lambda d: ...], frame[a:b], .loc[rows, cols] and .iloc[rows, cols];
- the methods in ROW_METHODS (on frames) and VALUE_METHODS (inside conditions), never with inplace=;
- the functions in PANDAS_FUNCTIONS, NUMPY_FUNCTIONS and BUILTINS, and one-argument lambdas keeping to this list;
- .query() of a literal string of comparisons and boolean operators on columns and @names of plain values.
Anything else (a user function, .apply, .map with a function, .eval, an unknown method) is not run: no
provenance, and a message saying how to pass data=. Steps after the first aggregation are never evaluated.
A frame assigned again, or changed with inplace=True, after the table was computed is not used.
"""

from __future__ import annotations

import ast
import datetime as dt
import linecache
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from .results import CheckResult
from .tables import carried_stats

# Where the table begins: the frame these are called on is the source; they and everything after are not run.
AGGREGATIONS = frozenset(
    {
        "groupby",
        "agg",
        "aggregate",
        "size",
        "count",
        "sum",
        "mean",
        "median",
        "std",
        "var",
        "sem",
        "min",
        "max",
        "prod",
        "nunique",
        "value_counts",
        "describe",
        "quantile",
        "mode",
        "first",
        "last",
        "nth",
        "corr",
        "cov",
        "pivot",
        "pivot_table",
        "unstack",
        "stack",
        "melt",
        "resample",
        "rolling",
        "expanding",
        "ewm",
        "apply",
        "transform",
        "cumsum",
        "cumcount",
        "idxmax",
        "idxmin",
        "unique",
        "crosstab",
        "to_frame",
        "style",
    }
)
# Frame -> frame steps that are re-run to rebuild the source: pure, they return a new frame.
ROW_METHODS = frozenset(
    {
        "query",
        "dropna",
        "head",
        "tail",
        "drop_duplicates",
        "nlargest",
        "nsmallest",
        "sort_values",
        "sort_index",
        "assign",
        "rename",
        "astype",
        "copy",
        "reset_index",
        "set_index",
        "fillna",
        "round",
        "sample",
        "pipe",
    }
)
# Column-only steps: the source keeps all its columns (a unit id dropped here is still used to count units).
COLUMN_METHODS = frozenset({"filter", "drop", "reindex", "rename_axis", "add_prefix", "add_suffix"})
# Pure methods of frames, series, indexes and their .str/.dt/.cat accessors, allowed inside conditions.
VALUE_METHODS = frozenset(
    {
        "isin",
        "between",
        "isna",
        "notna",
        "isnull",
        "notnull",
        "fillna",
        "abs",
        "round",
        "astype",
        "clip",
        "eq",
        "ne",
        "lt",
        "le",
        "gt",
        "ge",
        "any",
        "all",
        "sum",
        "mean",
        "median",
        "min",
        "max",
        "count",
        "nunique",
        "quantile",
        "std",
        "var",
        "duplicated",
        "rank",
        "shift",
        "diff",
        "where",
        "mask",
        "map",
        "replace",
        "copy",
        "contains",
        "startswith",
        "endswith",
        "match",
        "fullmatch",
        "len",
        "lower",
        "upper",
        "strip",
        "lstrip",
        "rstrip",
        "slice",
        "get",
        "split",
        "zfill",
        "normalize",
        "floor",
        "ceil",
        "strftime",
        "tolist",
        "to_numpy",
        "unique",
        "value_counts",
        "head",
        "tail",
        "dropna",
        "sort_values",
        "drop_duplicates",
        "nlargest",
        "nsmallest",
    }
)
VALUE_ATTRIBUTES = frozenset(
    {
        "str",
        "dt",
        "cat",
        "index",
        "columns",
        "values",
        "codes",
        "categories",
        "year",
        "month",
        "day",
        "quarter",
        "dayofweek",
        "weekday",
        "hour",
        "date",
        "size",
        "shape",
        "empty",
        "name",
        "dtype",
        "array",
    }
)
PANDAS_FUNCTIONS = frozenset(
    {
        "cut",
        "qcut",
        "isna",
        "notna",
        "isnull",
        "notnull",
        "to_numeric",
        "to_datetime",
        "Timestamp",
        "Timedelta",
        "Categorical",
        "CategoricalDtype",
        "Interval",
    }
)
NUMPY_FUNCTIONS = frozenset(
    {
        "isin",
        "isnan",
        "isfinite",
        "where",
        "abs",
        "log",
        "log10",
        "log1p",
        "exp",
        "sqrt",
        "floor",
        "ceil",
        "round",
        "clip",
        "logical_and",
        "logical_or",
        "logical_not",
        "array",
    }
)
BUILTINS: dict[str, Callable[..., Any]] = {
    f.__name__: f for f in (len, abs, round, min, max, int, float, str, bool, list, tuple, set, sorted, range)
}
_OPERATORS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
    ast.BitAnd: lambda a, b: a & b,
    ast.BitOr: lambda a, b: a | b,
    ast.BitXor: lambda a, b: a ^ b,
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.FloorDiv: lambda a, b: a // b,
    ast.Mod: lambda a, b: a % b,
    ast.Pow: lambda a, b: a**b,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.Invert: lambda a: ~a, ast.USub: lambda a: -a, ast.UAdd: lambda a: +a}
_QUERY_NODES = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.UAdd,
    ast.Invert,
    ast.BinOp,
    ast.Compare,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.List,
    ast.Tuple,
    *_OPERATORS,
    ast.In,
    ast.NotIn,
)
_SCALARS = (
    int,
    float,
    complex,
    str,
    bytes,
    bool,
    type(None),
    dt.date,
    dt.time,
    dt.timedelta,
    np.generic,
    pd.Timestamp,
    pd.Timedelta,
    pd.Period,
    pd.Interval,
    slice,
    range,
)
_ARRAYS = (pd.DataFrame, pd.Series, pd.Index, pd.Categorical, np.ndarray, pd.CategoricalDtype)
_ACCESSOR_MODULES = ("pandas.core.strings", "pandas.core.indexes.accessors", "pandas.core.arrays.categorical")
_MAX_DEPTH = 25
_MISSING = object()


# ---------------------------------------------------------------- the answer


@dataclass
class Provenance:
    """The frame an object was computed from (`frame`), or why it could not be found (`message`)."""

    frame: pd.DataFrame | None
    description: str = ""
    message: str = ""
    fix: str = ""

    @property
    def note(self) -> str:
        return self.description or self.message

    def annotate(self, result: CheckResult) -> CheckResult:
        """Say in the result which frame and steps were used, or how to give the source with data=."""
        result.details["provenance"] = self.note
        if self.frame is not None and result.source:
            result.source = f"{self.description}; {result.source.replace('the data= frame', 'that frame', 1)}"
        elif self.frame is not None:
            found = f"The frame found by following how this table was computed ({self.description})"
            result.findings = [
                replace(f, message=f.message.replace("The source frame given with data=", found))
                for f in result.findings
            ]
        elif self.fix:
            result.findings = [replace(f, fix=self.fix) if _settled_by_source(f) else f for f in result.findings]
        return result


def _settled_by_source(finding: Any) -> bool:
    """Findings a source frame would settle: unknown counts, and rows that may be unit records."""
    return finding.rule == "unknown_counts" or finding.rule == "microdata" and finding.severity == "review"


class _NoProvenance(Exception):
    """Why the source cannot be established (said to the user, with how to pass data=)."""


def find_source(
    obj: Any, shell: Any, expr: str | None = None, *, unit: Any = None, weights: Any = None
) -> Provenance | None:
    """The source frame of a table in `shell`'s namespace; None when no source is needed (carried statistics)
    or there is no kernel. `expr` is the expression the object came from (the magic's text)."""
    if shell is None or not _needs_source(obj, unit, weights):
        return None
    try:
        history = _History(shell)
        targets = [_expression_target(expr, shell.user_ns, obj)] if expr is not None else history.caller_targets(obj)
    except _Skip:
        return None
    except Exception as exc:  # fail closed: no source, never a wrong one
        return Provenance(None, message=f"The kernel's history could not be read ({type(exc).__name__}: {exc}).")
    failures = []
    for target in targets:  # e.g. the loop variable a check was given, then the name the object was assigned to
        found = _follow(history, target, obj)
        if found.frame is not None:
            return found
        failures.append(found)
    return failures[0] if failures else None  # nothing to follow (not in a cell, bound to no name): say nothing


def _follow(history: _History, target: tuple[str, Any], obj: Any) -> Provenance:
    walker = _Walker(history, target[1] if target[0] == "name" else None)
    try:
        with np.errstate(all="ignore"):
            return walker.follow(target)
    except _NoProvenance as exc:
        return walker.failed(str(exc), obj)
    except Exception as exc:  # fail closed: a lookup that breaks gives no source, never a wrong one
        return walker.failed(f"following it failed ({type(exc).__name__}: {exc})", obj)


def from_caller(obj: Any, *, unit: Any = None, weights: Any = None) -> Provenance | None:
    """For `cel.check(obj)` / `Basket.add(obj, ...)` in a kernel: the source found from the calling cell."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None or not hasattr(shell, "history_manager"):
        return None
    try:
        return find_source(obj, shell, unit=unit, weights=weights)
    except Exception:  # a failed lookup never stops a check
        return None


def _needs_source(obj: Any, unit: Any, weights: Any) -> bool:
    table = getattr(obj, "data", obj) if type(obj).__module__.startswith("pandas.io.formats.style") else obj
    if not isinstance(table, (pd.DataFrame, pd.Series)):
        return False
    return carried_stats(table) is None or unit is not None or weights is not None


class _Skip(Exception):
    """The object is being checked by %cbs_check, which follows its own expression."""


def _expression_target(expr: str, ns: dict[str, Any], obj: Any) -> tuple[str, Any]:
    try:
        node = ast.parse(expr.strip(), mode="eval").body
    except SyntaxError:
        raise _Skip from None  # the magic reports an expression it cannot read itself
    if isinstance(node, ast.Name) and ns.get(node.id, _MISSING) is obj:
        return ("name", node.id)
    return ("expr", node)


# ---------------------------------------------------------------- the kernel's history


@dataclass(frozen=True)
class _Stmt:
    """One executed statement: what it binds (or changes in place) and, for `name = expr`, the expression."""

    lineno: int
    end_lineno: int
    binds: frozenset[str]
    changes: frozenset[str]
    value: ast.expr | None
    node: ast.stmt = field(compare=False, repr=False)

    @property
    def text(self) -> str:
        return _short(ast.unparse(self.node), 160)


@lru_cache(maxsize=4096)
def _statements(text: str) -> tuple[_Stmt, ...]:
    """The statements of one cell (parsed once per distinct text); %time / %%time / %%capture bodies are read."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return ()
    deep = ":=" in text or "inplace" in text  # else bindings sit only in statements' targets
    out = []
    for node in tree.body:
        for inner in _magic_body(node) or [node]:
            out.append(_statement(inner, node, deep))
    return tuple(out)


_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
_AS_NAME = re.compile(r"\bas\s+([A-Za-z_]\w*)")
_KEYWORDS = ("for", "import", "from", "def", "class", "del", "global", "nonlocal", "with", "async")


@lru_cache(maxsize=16384)
def _candidates(text: str) -> frozenset[str]:
    """Names a cell may bind or change, read from its raw text without parsing: every name before a line's first
    single `=`, on a line that starts with a statement keyword or holds inplace=, and after `as`. Only cells that
    may bind a name are parsed when it is looked up. It may say yes wrongly; it says no only for targets split
    over lines (`(a,\n name) = ...`), which the recorded ids still catch."""
    if "run_cell_magic" in text:  # a %%time body is one string literal: read its lines as lines
        text = text.replace("\\n", "\n")
    parts = []
    for line in text.replace(";", "\n").split("\n"):
        if line.lstrip().startswith(_KEYWORDS) or "inplace" in line:
            parts.append(line)
            continue
        i = line.find("=")
        while i != -1 and (line[i + 1 : i + 2] == "=" or (i and line[i - 1] in "=!<>")):
            i = line.find("=", i + 2 if line[i + 1 : i + 2] == "=" else i + 1)
        if i != -1:
            parts.append(line[:i])
    names = set(_IDENTIFIER.findall("\n".join(parts)))
    if "as" in text:
        names.update(_AS_NAME.findall(text))
    return frozenset(names)


def _may_bind(text: str, name: str) -> bool:
    return name in _candidates(text)


def _magic_body(node: ast.stmt) -> list[ast.stmt] | None:
    """The code run by `%time CODE` / `%%time` / `%%capture` (IPython turns them into run_*_magic calls)."""
    call = node.value if isinstance(node, (ast.Expr, ast.Assign)) else None
    if not (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr in ("run_line_magic", "run_cell_magic")
        and call.args
        and all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in call.args)
    ):
        return None
    if call.args[0].value not in ("time", "capture"):
        return None
    try:
        return ast.parse(call.args[-1].value).body
    except SyntaxError:
        return None


def _statement(node: ast.stmt, outer: ast.stmt, deep: bool) -> _Stmt:
    found = _Bindings(deep)
    found.visit(node)
    value = None
    if isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets):
        value = node.value
    elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
        value = node.value
    return _Stmt(
        outer.lineno, outer.end_lineno or outer.lineno, frozenset(found.binds), frozenset(found.changes), value, node
    )


class _Bindings(ast.NodeVisitor):
    """Names a statement binds or deletes (`binds`, also with inplace=True) and names it changes item by item."""

    def __init__(self, deep: bool = True) -> None:
        self.binds: set[str] = set()
        self.changes: set[str] = set()
        self.deep = deep  # look inside expressions (for := and inplace=)

    def _targets_only(self, node: ast.stmt) -> None:
        if self.deep:
            self.generic_visit(node)
            return
        for target in getattr(node, "targets", None) or [getattr(node, "target", None)]:
            if target is not None:
                self.visit(target)

    visit_Assign = visit_AugAssign = visit_AnnAssign = visit_Expr = _targets_only

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            self.binds.add(node.id)

    def _target(self, node: ast.Attribute | ast.Subscript) -> None:
        if isinstance(node.ctx, (ast.Store, ast.Del)) and (base := _base_name(node)):
            self.changes.add(base)
        self.generic_visit(node)

    visit_Attribute = visit_Subscript = _target

    def visit_Call(self, node: ast.Call) -> None:
        inplace = any(
            k.arg == "inplace" and not (isinstance(k.value, ast.Constant) and not k.value.value) for k in node.keywords
        )
        if inplace and (base := _base_name(node.func)):
            self.binds.add(base)
        self.generic_visit(node)

    def _scope(self, node: Any) -> None:
        if hasattr(node, "name"):
            self.binds.add(node.name)
        for inner in ast.walk(node):
            if isinstance(inner, (ast.Global, ast.Nonlocal)):
                self.binds.update(inner.names)

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = visit_Lambda = _scope

    def _comprehension(self, node: Any) -> None:
        self.binds.update(
            n.target.id for n in ast.walk(node) if isinstance(n, ast.NamedExpr) and isinstance(n.target, ast.Name)
        )

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        self.binds.update((a.asname or a.name).split(".")[0] for a in node.names)

    visit_ImportFrom = visit_Import


def _base_name(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


Position = tuple[int, int]


class _History:
    """The kernel's cells, newest first, as far as they have run (the executing cell up to its current line)."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.ns: dict[str, Any] = shell.user_ns
        manager = getattr(shell, "history_manager", None)
        self.cells: list[str] = list(getattr(manager, "input_hist_parsed", None) or shell.user_ns.get("In") or [""])
        self.now, self.current = self._now()
        self.recorder = record_bindings(shell)

    def replaced(self, name: str, value: Any) -> str | None:
        """Why `name` no longer holds the object its assignment in the history made, if it does not."""
        cell = None if self.recorder is None else self.recorder.replaced(name, value)
        if cell is None:
            return None
        return (
            f"`{name}` no longer holds the object assigned in {cell_name(cell)}; it was replaced outside the "
            "cells (by %run, a function or a callback)"
        )

    def _now(self) -> tuple[Position, str]:
        """Where execution is: (cell number, line) of the running cell, and that cell's text."""
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_globals is self.ns and frame.f_code.co_name == "<module>":
                name = frame.f_code.co_filename
                text = "".join(linecache.getlines(name))
                number = getattr(getattr(self.shell, "compile", None), "_filename_map", {}).get(name)
                stored = isinstance(number, int) and 0 < number < len(self.cells)
                if stored and self.cells[number].strip() == text.strip():
                    return (number, frame.f_lineno), text
                return (len(self.cells), frame.f_lineno), text
            frame = frame.f_back
        return (len(self.cells), 0), ""

    def text(self, cell: int) -> str:
        return self.current if cell >= len(self.cells) else self.cells[cell]

    def executed(self, cell: int, name: str | None = None) -> list[_Stmt]:
        text = self.text(cell)
        if name is not None and not _may_bind(text, name):
            return []
        statements = _statements(text)
        if cell == self.now[0]:
            return [s for s in statements if s.end_lineno < self.now[1]]
        return list(statements)

    def definition(self, name: str, before: Position) -> tuple[Position, _Stmt] | None:
        """The newest statement that bound `name` before `before` (scanning back from there)."""
        for cell in range(min(before[0], self.now[0]), 0, -1):
            for stmt in reversed(self.executed(cell, name)):
                if name in stmt.binds and (cell, stmt.lineno) < before:
                    return (cell, stmt.lineno), stmt
        return None

    def later(self, name: str, after: Position) -> list[tuple[Position, _Stmt]]:
        """The statements that bound or changed `name` after `after`, oldest first."""
        found = []
        for cell in range(after[0], self.now[0] + 1):
            for stmt in self.executed(cell, name):
                if (cell, stmt.lineno) > after and (name in stmt.binds or name in stmt.changes):
                    found.append(((cell, stmt.lineno), stmt))
        return found

    def output(self, obj: Any) -> tuple[Position, ast.expr] | None:
        """Where `obj` was shown as a cell's output (Out[n]) by that cell's last expression statement."""
        outputs = self.ns.get("Out")
        numbers = [n for n, v in outputs.items() if v is obj] if isinstance(outputs, dict) and obj is not None else []
        for number in sorted(numbers, reverse=True):
            statements = _statements(self.text(number)) if number < len(self.cells) else ()
            last = statements[-1].node if statements else None
            if isinstance(last, ast.Expr):
                return (number, statements[-1].lineno), last.value
        return None

    def caller_targets(self, obj: Any) -> list[tuple[str, Any]]:
        """What `cel.check(X)` / `basket.add(X, ...)` in the running statement was given, then the names bound to
        obj (a shown output last), in the order they are tried."""
        candidates = []
        for stmt in [s for s in _statements(self.current) if s.lineno <= self.now[1] <= s.end_lineno]:
            for node in ast.walk(stmt.node):
                if not isinstance(node, ast.Call):
                    continue
                func = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if func == "run_line_magic" and node.args and getattr(node.args[0], "value", None) == "cbs_check":
                    raise _Skip
                arg = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "obj"), None)
                if func in ("check", "add") and arg is not None:
                    candidates.append(arg)
        targets = [("name", a.id) for a in candidates if isinstance(a, ast.Name) and self.ns.get(a.id, _MISSING) is obj]
        expressions = [a for a in candidates if not isinstance(a, ast.Name)]
        if not targets and len(expressions) == 1:
            targets.append(("expr", expressions[0]))
        targets += [
            ("name", k) for k, v in self.ns.items() if v is obj and not k.startswith("_") and ("name", k) not in targets
        ]
        if self.ns.get("_") is obj and self.output(obj) is not None:
            targets.append(("name", "_"))
        return targets


class _Recorder:
    """Which object each name held when a cell bound it (a post_run_cell hook), so that an object replaced
    outside the cells (by %run, a function's `global`, a widget callback) is not taken for the one the history
    shows. Cells run before the first lookup (or %load_ext) are not recorded; for them the history is trusted."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.ids: dict[str, tuple[int, int]] = {}

    def __call__(self, result: Any) -> None:
        cells = getattr(self.shell.history_manager, "input_hist_parsed", [])
        number = getattr(result, "execution_count", None)
        if not isinstance(number, int) or not 0 < number < len(cells):
            return
        ns = self.shell.user_ns
        _candidates(cells[number])  # parsed now, while the cell has just run, so lookups stay fast
        for stmt in _statements(cells[number]):
            for name in stmt.binds:
                if name in ns:
                    self.ids[name] = (number, id(ns[name]))
                else:
                    self.ids.pop(name, None)

    def replaced(self, name: str, value: Any) -> int | None:
        """The cell whose object `name` no longer holds, if it was replaced since."""
        entry = self.ids.get(name)
        return entry[0] if entry is not None and entry[1] != id(value) else None


_RECORDERS: dict[int, _Recorder] = {}


def record_bindings(shell: Any) -> _Recorder | None:
    """Start recording which object each cell assigned (once per shell); %load_ext calls it early."""
    recorder = _RECORDERS.get(id(shell))
    if recorder is None and getattr(shell, "events", None) is not None:
        recorder = _RECORDERS[id(shell)] = _Recorder(shell)
        shell.events.register("post_run_cell", recorder)
    return recorder


def cell_name(cell: int) -> str:
    return f"In[{cell}]"


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _rebound(name: str, later: list[tuple[Position, _Stmt]]) -> tuple[Position, _Stmt] | None:
    return next((entry for entry in later if name in entry[1].binds), None)


# ---------------------------------------------------------------- following an expression


def _chain(node: ast.AST) -> tuple[ast.AST, list[ast.AST]]:
    """The root of a method chain and its steps, innermost first; `x.loc[k]` is one step (the Subscript)."""
    steps = []
    while True:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            steps.append(node)
            node = node.func.value
        elif isinstance(node, ast.Subscript):
            steps.append(node)
            node = node.value
            if isinstance(node, ast.Attribute) and node.attr in ("loc", "iloc"):
                node = node.value
        elif isinstance(node, ast.Attribute):
            steps.append(node)
            node = node.value
        else:
            return node, steps[::-1]


def _method(step: ast.AST) -> str | None:
    return step.func.attr if isinstance(step, ast.Call) and isinstance(step.func, ast.Attribute) else None


def _aggregates(step: ast.AST) -> bool:
    return _method(step) in AGGREGATIONS


def _indexer(step: ast.AST) -> str | None:
    """'loc' / 'iloc' for `x.loc[...]` / `x.iloc[...]`."""
    value = getattr(step, "value", None)
    if isinstance(step, ast.Subscript) and isinstance(value, ast.Attribute) and value.attr in ("loc", "iloc"):
        return value.attr
    return None


@dataclass
class _Found:
    frame: pd.DataFrame
    root: pd.DataFrame
    root_name: str
    lineage: str
    steps: list[str]
    aggregated: bool

    @property
    def key(self) -> tuple[Any, ...]:
        return self.root_name, id(self.root), tuple(self.steps)


@dataclass
class _Rows:
    """The frame being rebuilt, and the columns a pending selection (`df["x"]`, `df[["a", "b"]]`) picked."""

    frame: pd.DataFrame
    columns: list[Any] | None = None
    series: bool = False
    derived: bool = False
    texts: list[str] = field(default_factory=list)

    def select(self, labels: list[Any], series: bool) -> None:
        missing = [c for c in labels if c not in self.frame.columns]
        if missing:
            raise _NoProvenance(f"the frame has no column {missing[0]!r} now")
        self.columns, self.series = labels, series

    def selected(self) -> Any:
        if self.columns is None:
            return self.frame
        if self.derived:
            raise _NoProvenance("a step works on values that were changed by an earlier step")
        return self.frame[self.columns[0]] if self.series else self.frame[self.columns]


class _Walker:
    """Follows one object's expression back to its source frame, through the history."""

    def __init__(self, history: _History, label: str | None) -> None:
        self.history = history
        self.ns = history.ns
        self.label = label
        self.frames_met: list[str] = []
        self.notes: list[str] = []

    @property
    def what(self) -> str:
        return f"`{self.label}`" if self.label else "the table"

    def follow(self, target: tuple[str, Any]) -> Provenance:
        kind, what = target
        output = self.history.output(self.ns.get(what)) if kind == "name" else None
        if output is not None and self.history.definition(what, self.history.now) is None:
            pos, expr = output  # `_`, `_12`, `Out[12]`: the last expression of the cell that showed it
            found = self.source(expr, pos)
            how = f"`{what}` is the output of {cell_name(pos[0])}: `{_short(ast.unparse(expr))}`"
        elif kind == "name":
            definition = self.history.definition(what, self.history.now)
            if definition is None:
                raise _NoProvenance(
                    f"`{what}` was not assigned in a cell of this notebook (it may have been made "
                    "inside a function or by a script)"
                )
            pos, stmt = definition
            replaced = self.history.replaced(what, self.ns.get(what))
            if replaced:
                raise _NoProvenance(replaced)
            if stmt.value is None:
                raise _NoProvenance(
                    f"`{what}` was last bound in {cell_name(pos[0])} by `{stmt.text}`, which cannot be followed"
                )
            found = self.source(stmt.value, pos)
            how = f"`{what}` was computed in {cell_name(pos[0])}: `{stmt.text}`"
        else:
            found = self.source(what, self.history.now)
            how = f"followed from `{_short(ast.unparse(what))}`"
        return Provenance(found.frame if found.aggregated else found.root, description=self.describe(found, how))

    def describe(self, found: _Found, how: str) -> str:
        text = f"checked against `{found.root_name}`"
        if found.lineage:
            text += f" ({found.lineage})"
        if not found.aggregated:
            text += ", the frame it was taken from"
        elif found.steps:
            text += ", " + ", ".join(found.steps)
        return "; ".join([text, how, *self.notes])

    def failed(self, why: str, obj: Any) -> Provenance:
        label = self.label or "table"
        name = self.frames_met[-1] if self.frames_met else _plausible(obj, self.ns)
        frame = name or "df"
        fix = (
            f"Give the frame {self.what} was computed from (after any filtering) with data=, e.g. "
            f"cel.check({label}, data={frame}) or %cbs_check {label} --data {frame}."
        )
        message = f"No source frame found by following how {self.what} was computed: {why}. {fix}"
        return Provenance(None, message=message, fix=fix)

    def source(self, node: ast.AST, pos: Position, depth: int = 0) -> _Found:
        if depth > _MAX_DEPTH:
            raise _NoProvenance("its expression is nested too deeply")
        if isinstance(node, ast.BinOp):
            parts = [self.source(side, pos, depth + 1) for side in (node.left, node.right) if not self.neutral(side)]
            return _same(parts, node)
        name, value, root_pos, steps = self.expand(node, pos)
        if value is pd:
            return self.builder(steps, depth)
        return self.rebuild(name, value, root_pos, steps)

    def neutral(self, node: ast.AST) -> bool:
        """A number next to a table (`t / len(df) * 100`): it does not change where the table comes from."""
        if isinstance(node, ast.Constant) or isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant):
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "len":
            return True
        return isinstance(node, ast.Name) and isinstance(self.ns.get(node.id), (int, float, np.number))

    def expand(self, node: ast.AST, pos: Position) -> tuple[str, Any, Position, list[tuple[ast.AST, Position]]]:
        """Follow names through their assignments until the chain starts at a source DataFrame (or `pd.`)."""
        steps: list[tuple[ast.AST, Position]] = []
        for _ in range(_MAX_DEPTH):
            root, chain = _chain(node)
            steps = [(s, pos) for s in chain] + steps
            if not isinstance(root, ast.Name):
                raise _NoProvenance(f"it starts from `{_short(ast.unparse(root), 60)}`, which cannot be re-run safely")
            name, value = root.id, self.ns.get(root.id, _MISSING)
            if value is pd:
                return name, value, pos, steps
            definition = self.history.definition(name, pos)
            if isinstance(value, pd.DataFrame) and not self.is_table(definition):
                self.use_frame(name, pos, self.history.later(name, pos))
                return name, value, pos, steps
            if (
                value is not _MISSING
                and not isinstance(value, (pd.Series, pd.DataFrame))
                and (callable(value) or type(value).__name__ == "module")
            ):
                raise _NoProvenance(
                    f"`{_short(ast.unparse(node), 60)}` is computed by `{name}`, which cannot be re-run safely"
                )
            if definition is None:
                raise _NoProvenance(
                    f"`{name}` was not assigned in a cell of this notebook (it may have been made "
                    "inside a function or by a script)"
                )
            (pos, stmt), node = definition, definition[1].value
            if node is None:
                raise _NoProvenance(
                    f"`{name}` was bound in {cell_name(pos[0])} by `{stmt.text}`, which cannot be followed"
                )
        raise _NoProvenance("it goes through too many assignments")

    def use_frame(self, name: str, pos: Position, later: list[tuple[Position, _Stmt]]) -> None:
        """A source frame is used as it is now only when it was not assigned again since it was used."""
        again = _rebound(name, later)
        replaced = self.history.replaced(name, self.ns.get(name))
        if again is None and replaced:
            raise _NoProvenance(replaced)
        if again is not None:
            raise _NoProvenance(
                f"`{name}` was assigned again in {cell_name(again[0][0])} (`{_short(again[1].text, 80)}`) after "
                f"{self.what} was computed from it in {cell_name(pos[0])}, so the frame now called `{name}` is not "
                f"the one {self.what} was computed from"
            )
        if later:
            self.notes.append(
                f"`{name}` was changed in {cell_name(later[0][0][0])} after that; the table must "
                "still reproduce from it"
            )
        self.frames_met.append(name)

    def is_table(self, definition: tuple[Position, _Stmt] | None, depth: int = 0) -> bool:
        """Whether a DataFrame name holds a table (made by an aggregation) rather than records."""
        if definition is None or definition[1].value is None or depth > 5:
            return False
        root, chain = _chain(definition[1].value)
        if any(_aggregates(s) for s in chain) or isinstance(root, ast.Name) and self.ns.get(root.id) is pd:
            return True
        if isinstance(root, ast.Name) and not chain:
            return self.is_table(self.history.definition(root.id, definition[0]), depth + 1)
        return False

    def builder(self, steps: list[tuple[ast.AST, Position]], depth: int) -> _Found:
        """`pd.crosstab(a, b, values=...)` and `pd.pivot_table(df, ...)`: the frame their arguments come from."""
        call, pos = steps[0]
        method = _method(call)
        if method == "pivot_table":
            data = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "data"), None)
            parts = [] if data is None else [self.source(data, pos, depth + 1)]
        elif method == "crosstab":
            nodes = list(call.args[:2]) + [k.value for k in call.keywords if k.arg in ("index", "columns", "values")]
            flat = [e for n in nodes for e in (n.elts if isinstance(n, (ast.List, ast.Tuple)) else [n])]
            parts = [self.source(n, pos, depth + 1) for n in flat]
        else:
            raise _NoProvenance(f"`{_short(ast.unparse(call), 60)}` is not a step cbs_export_lab follows")
        found = _same(parts, call)
        return replace(found, aggregated=True)

    def rebuild(self, name: str, value: pd.DataFrame, pos: Position, steps: list[tuple[ast.AST, Position]]) -> _Found:
        """Re-run the row steps up to the first aggregation on the source frame."""
        rows = _Rows(value)
        for step, step_pos in steps:
            if _aggregates(step):
                return _Found(rows.frame, value, name, self.lineage(name, pos), rows.texts, True)
            _RowStep(self, rows, _Evaluator(self, step_pos)).run(step)
        return _Found(rows.frame, value, name, self.lineage(name, pos), rows.texts, False)

    def lineage(self, name: str, pos: Position, depth: int = 0) -> str:
        """How a source frame was made, as text only (nothing is run): "`df` filtered on `x > 1`, In[3]"."""
        definition = self.history.definition(name, pos)
        if definition is None or definition[1].value is None or depth > 2:
            return ""
        dpos, stmt = definition
        root, chain = _chain(stmt.value)
        if not isinstance(root, ast.Name) or not chain or any(_aggregates(s) for s in chain):
            return ""
        texts = [t for t in (_step_text(s, self.ns) for s in chain) if t]
        if not texts:
            return ""
        before = self.lineage(root.id, dpos, depth + 1)
        return f"`{root.id}`{f' ({before})' if before else ''} {', '.join(texts)}, {cell_name(dpos[0])}"


def _same(parts: list[_Found], node: ast.AST) -> _Found:
    if not parts:
        raise _NoProvenance(f"`{_short(ast.unparse(node), 60)}` uses no frame")
    if any(p.key != parts[0].key for p in parts[1:]):
        raise _NoProvenance(f"the parts of `{_short(ast.unparse(node), 60)}` come from different frames")
    return parts[0]


def _plausible(obj: Any, ns: dict[str, Any]) -> str | None:
    """For the data= advice only: the largest frame with the table's grouping columns."""
    table = getattr(obj, "data", obj)
    keys = [n for n in getattr(getattr(table, "index", None), "names", []) or [] if isinstance(n, str)]
    frames = [
        (len(v), k)
        for k, v in ns.items()
        if isinstance(v, pd.DataFrame)
        and v is not table
        and not k.startswith("_")
        and keys
        and set(keys) <= set(v.columns)
    ]
    return max(frames)[1] if frames else None


# ---------------------------------------------------------------- the row steps that are re-run


class _Strip(ast.NodeTransformer):
    """`df.leeftijd >= 18` reads as `leeftijd >= 18`: a frame's name before its columns is left out."""

    def __init__(self, ns: dict[str, Any], names: set[str]) -> None:
        self.ns, self.names = ns, names

    def _frame(self, node: ast.AST) -> bool:
        return isinstance(node, ast.Name) and (node.id in self.names or isinstance(self.ns.get(node.id), pd.DataFrame))

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        return ast.Name(node.attr) if self._frame(node.value) else self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        if self._frame(node.value) and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
            return ast.Name(node.slice.value)
        return self.generic_visit(node)

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        self.names = self.names | {a.arg for a in node.args.args}
        return self.visit(node.body)


def _plain(node: ast.AST, ns: dict[str, Any]) -> str:
    import copy

    return ast.unparse(_Strip(ns, set()).visit(copy.deepcopy(node)))


def _column_labels(node: ast.AST) -> tuple[list[Any], bool] | None:
    """`"x"` -> (["x"], series); `["a", "b"]` -> (["a", "b"], frame); anything else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value], True
    if (
        isinstance(node, (ast.List, ast.Tuple))
        and node.elts
        and all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts)
    ):
        return [e.value for e in node.elts], False
    return None


def _full_slice(node: ast.AST) -> bool:
    return isinstance(node, ast.Slice) and node.lower is None and node.upper is None and node.step is None


def _step_text(step: ast.AST, ns: dict[str, Any]) -> str | None:
    """How a row step reads in the result ("filtered on `leeftijd >= 18`"); None for column steps."""
    indexer = _indexer(step)
    if isinstance(step, ast.Subscript):
        key = step.slice
        if indexer:
            key = key.elts[0] if isinstance(key, ast.Tuple) and len(key.elts) == 2 else key
            if _full_slice(key):
                return None
        elif _column_labels(key) is not None:
            return None
        if isinstance(key, ast.Slice):
            return f"rows `{ast.unparse(key)}`" + (" by position" if indexer == "iloc" else "")
        return f"filtered on `{_plain(key, ns)}`"
    method = _method(step)
    if method == "query" and step.args:
        arg = step.args[0]
        return f"query `{arg.value if isinstance(arg, ast.Constant) else ast.unparse(arg)}`"
    if method in ROW_METHODS:
        call = ast.Call(func=ast.Name(method), args=step.args, keywords=step.keywords)
        return f"`.{_short(_plain(call, ns), 80)}`"
    return None


class _RowStep:
    """One step before the aggregation, re-run on the frame: a filter, a subset, a pure frame method."""

    def __init__(self, walker: _Walker, rows: _Rows, evaluate: _Evaluator) -> None:
        self.walker, self.rows, self.evaluate = walker, rows, evaluate

    def run(self, step: ast.AST) -> None:
        rows = self.rows
        if isinstance(step, ast.Attribute):
            if rows.columns is None and step.attr in rows.frame.columns and not hasattr(pd.DataFrame, step.attr):
                rows.select([step.attr], series=True)
            elif rows.columns is not None and rows.series and step.attr in ("str", "dt", "cat"):
                rows.derived = True
            else:
                raise _NoProvenance(f"the step `.{step.attr}` is not one cbs_export_lab follows")
            return
        if isinstance(step, ast.Subscript):
            self.subscript(step)
        elif rows.columns is not None:
            self.on_selection(step)
        else:
            self.on_frame(step)

    def changed(self, frame: Any, step: ast.AST) -> None:
        if not isinstance(frame, pd.DataFrame):
            raise _NoProvenance(f"`{_short(ast.unparse(step), 60)}` does not give a frame of rows")
        self.rows.frame = frame
        text = _step_text(step, self.walker.ns)
        if text:
            self.rows.texts.append(text)

    def subscript(self, step: ast.Subscript) -> None:
        rows, indexer, key = self.rows, _indexer(step), step.slice
        if indexer:
            row_key, col_key = (
                (key.elts[0], key.elts[1]) if isinstance(key, ast.Tuple) and len(key.elts) == 2 else (key, None)
            )
            if not _full_slice(row_key):
                value = self.evaluate.key(row_key, rows.frame)
                self.changed(getattr(rows.frame, indexer)[value], step)
            labels = None if col_key is None else _column_labels(col_key)
            if labels is not None and rows.columns is None:
                rows.select(*labels)
            return
        labels = _column_labels(key)
        if labels is not None and rows.columns is None:
            rows.select(*labels)
            return
        value = self.evaluate.key(key, rows.selected() if rows.columns is not None else rows.frame)
        if isinstance(value, slice) and rows.columns is None:
            self.changed(rows.frame[value], step)
        elif _is_mask(value, len(rows.frame)):
            self.changed(rows.frame[value], step)
        elif isinstance(value, list) and rows.columns is None and all(c in rows.frame.columns for c in value):
            rows.select(value, series=False)
        else:
            raise _NoProvenance(f"the subset `{_short(ast.unparse(step), 60)}` is not one cbs_export_lab re-runs")

    def on_frame(self, step: ast.AST) -> None:
        method = _method(step)
        if (
            method in COLUMN_METHODS
            and all(k.arg in ("columns", "items", "like", "regex", "axis", "errors") for k in step.keywords)
            and (method != "drop" or not step.args)
        ):
            return  # the source keeps its columns
        if method == "query":
            self.changed(self.evaluate.query(self.rows.frame, step), step)
            return
        if method == "pipe" and not (len(step.args) == 1 and isinstance(step.args[0], ast.Lambda)):
            raise _NoProvenance(f"`{_short(ast.unparse(step), 60)}` runs a function, which is not re-run")
        if method not in ROW_METHODS:
            raise _NoProvenance(f"the step `.{method}(...)` is not one cbs_export_lab re-runs (it may run any code)")
        args, kwargs = self.evaluate.arguments(step)
        if method == "sample" and not isinstance(kwargs.get("random_state"), int):
            raise _NoProvenance("`.sample()` without random_state= draws other rows when it is run again")
        self.changed(getattr(self.rows.frame, method)(*args, **kwargs), step)

    def on_selection(self, step: ast.AST) -> None:
        """Methods on picked columns: element-wise ones keep the rows (nothing is run); row ones are re-run
        on the whole frame, limited to the picked columns."""
        rows, method = self.rows, _method(step)
        if method in ("head", "tail"):
            args, kwargs = self.evaluate.arguments(step)
            self.changed(getattr(rows.frame, method)(*args, **kwargs), step)
        elif method in ("dropna", "drop_duplicates", "sort_values", "nlargest", "nsmallest") and not rows.derived:
            args, kwargs = self.evaluate.arguments(step)
            if method in ("dropna", "drop_duplicates"):
                kwargs.setdefault("subset", rows.columns)
            elif rows.series:
                kwargs["columns" if method != "sort_values" else "by"] = rows.columns[0]
            self.changed(getattr(rows.frame, method)(*args, **kwargs), step)
        elif method in VALUE_METHODS and method not in ROW_METHODS:
            rows.derived = True
        else:
            raise _NoProvenance(f"the step `.{method}(...)` is not one cbs_export_lab re-runs (it may run any code)")


def _is_mask(value: Any, length: int) -> bool:
    if isinstance(value, pd.Series):
        return pd.api.types.is_bool_dtype(value.dtype)
    return isinstance(value, np.ndarray) and value.dtype == bool and value.shape == (length,)


# ---------------------------------------------------------------- the allow-listed evaluator


def _safe(value: Any, depth: int = 0) -> bool:
    """Values an expression may use: pandas and numpy objects, plain scalars and small containers of them."""
    if value is pd or value is np or isinstance(value, _SCALARS + _ARRAYS):
        return True
    if isinstance(value, (list, tuple, set, frozenset)) and depth < 3:
        return all(_safe(v, depth + 1) for v in value)
    if isinstance(value, dict) and depth < 3:
        return all(_safe(k, depth + 1) and _safe(v, depth + 1) for k, v in value.items())
    return False


def _pandas_object(value: Any) -> bool:
    module = type(value).__module__ or ""
    return (
        isinstance(value, _ARRAYS)
        or module.startswith(_ACCESSOR_MODULES)
        or (module.startswith("pandas.core.indexing"))
    )


class _Refused(_NoProvenance):
    pass


class _Evaluator:
    """Evaluates an expression node by node, refusing anything outside the allow-list (module docstring)."""

    def __init__(self, walker: _Walker, pos: Position, local: dict[str, Any] | None = None) -> None:
        self.walker, self.pos, self.local = walker, pos, local or {}

    def __call__(self, node: ast.AST) -> Any:
        handler = getattr(self, f"_{type(node).__name__}", None)
        if handler is None:
            raise self.refuse(node, "it is not a pure pandas subsetting expression")
        return handler(node)

    def refuse(self, node: ast.AST, why: str) -> _Refused:
        return _Refused(f"`{_short(ast.unparse(node), 60)}` is not re-run: {why}")

    def key(self, node: ast.AST, target: Any) -> Any:
        """A subscript key; a lambda is called on the frame (or picked columns) it subsets."""
        value = self(node)
        return value(target) if isinstance(value, _Lambda) else value

    def arguments(self, call: ast.Call) -> tuple[list[Any], dict[str, Any]]:
        if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
            raise self.refuse(call, "it unpacks arguments")
        if any(k.arg == "inplace" for k in call.keywords):
            raise self.refuse(call, "it changes a frame in place")
        return [self(a) for a in call.args], {k.arg: self(k.value) for k in call.keywords}

    def query(self, frame: pd.DataFrame, call: ast.Call) -> pd.DataFrame:
        """`.query("...")` only of comparisons and boolean operators on columns and @names of plain values."""
        args, kwargs = self.arguments(call)
        if len(args) != 1 or not isinstance(args[0], str) or set(kwargs) - {"engine", "parser"}:
            raise self.refuse(call, "only a query of one literal string is re-run")
        text = args[0]
        at_names = re.findall(r"@([A-Za-z_]\w*)", text)
        plain = re.sub(r"`[^`]*`", "_column", re.sub(r"@([A-Za-z_]\w*)", r"_at_\1", text))
        try:
            tree = ast.parse(plain.strip(), mode="eval")
        except SyntaxError:
            raise self.refuse(call, "the query could not be read") from None
        if not all(isinstance(n, _QUERY_NODES) for n in ast.walk(tree)):
            raise self.refuse(call, "the query does more than compare columns")
        local = {name: self._Name(ast.Name(name)) for name in at_names}
        return frame.query(text, local_dict=local, global_dict={}, **kwargs)

    def _Constant(self, node: ast.Constant) -> Any:
        return node.value

    def _Name(self, node: ast.Name) -> Any:
        if node.id in self.local:
            return self.local[node.id]
        value = self.walker.ns.get(node.id, _MISSING)
        if value is _MISSING:
            if node.id in BUILTINS:
                return BUILTINS[node.id]
            raise self.refuse(node, f"`{node.id}` is not defined")
        if not _safe(value):
            raise self.refuse(node, f"`{node.id}` is a {type(value).__name__}, not a frame or a plain value")
        later = self.walker.history.later(node.id, self.pos)
        again = _rebound(node.id, later)
        replaced = self.walker.history.replaced(node.id, value)
        if again is None and replaced:
            raise _NoProvenance(replaced)
        if again is not None:
            raise _NoProvenance(
                f"`{node.id}` was assigned again in {cell_name(again[0][0])} after "
                f"{self.walker.what} was computed with it in {cell_name(self.pos[0])}"
            )
        return value

    def _List(self, node: ast.List | ast.Tuple | ast.Set) -> Any:
        if any(isinstance(e, ast.Starred) for e in node.elts):
            raise self.refuse(node, "it unpacks values")
        values = [self(e) for e in node.elts]
        return tuple(values) if isinstance(node, ast.Tuple) else set(values) if isinstance(node, ast.Set) else values

    _Tuple = _Set = _List

    def _Dict(self, node: ast.Dict) -> Any:
        if any(k is None for k in node.keys):
            raise self.refuse(node, "it unpacks a dict")
        return {self(k): self(v) for k, v in zip(node.keys, node.values, strict=True)}

    def _Slice(self, node: ast.Slice) -> slice:
        return slice(*(None if p is None else self(p) for p in (node.lower, node.upper, node.step)))

    def _Compare(self, node: ast.Compare) -> Any:
        if len(node.ops) != 1:
            raise self.refuse(node, "chained comparisons are not re-run")
        left, right, op = self(node.left), self(node.comparators[0]), type(node.ops[0])
        if op in (ast.In, ast.NotIn) and not _pandas_object(left) and isinstance(right, (list, tuple, set, str)):
            return (left in right) == (op is ast.In)
        if op not in _OPERATORS:
            raise self.refuse(node, "only ==, !=, <, <=, > and >= comparisons are re-run")
        return _OPERATORS[op](left, right)

    def _BinOp(self, node: ast.BinOp) -> Any:
        if type(node.op) not in _OPERATORS:
            raise self.refuse(node, "that operator is not re-run")
        return _OPERATORS[type(node.op)](self(node.left), self(node.right))

    def _UnaryOp(self, node: ast.UnaryOp) -> Any:
        operand = self(node.operand)
        if isinstance(node.op, ast.Not) and not _pandas_object(operand):
            return not operand
        if type(node.op) not in _UNARY:
            raise self.refuse(node, "that operator is not re-run")
        return _UNARY[type(node.op)](operand)

    def _IfExp(self, node: ast.IfExp) -> Any:
        test = self(node.test)
        if _pandas_object(test):
            raise self.refuse(node, "its condition is not a plain value")
        return self(node.body) if test else self(node.orelse)

    def _Attribute(self, node: ast.Attribute) -> Any:
        base = self(node.value)
        if isinstance(base, pd.DataFrame) and node.attr in base.columns and not hasattr(pd.DataFrame, node.attr):
            return base[node.attr]
        if _pandas_object(base) and (node.attr in VALUE_ATTRIBUTES or node.attr in ("loc", "iloc")):
            return getattr(base, node.attr)
        raise self.refuse(node, f"`.{node.attr}` is not a column or an attribute that is re-run")

    def _Subscript(self, node: ast.Subscript) -> Any:
        base = self(node.value)
        if not (_pandas_object(base) or isinstance(base, (list, tuple, dict, str))):
            raise self.refuse(node, "only frames, series and plain containers are subscripted")
        key = self(node.slice)
        return base[key(base) if isinstance(key, _Lambda) and not _indexer(node) else key]

    def _Call(self, node: ast.Call) -> Any:
        function = self.function(node)
        args, kwargs = self.arguments(node)
        return function(*args, **kwargs)

    def function(self, node: ast.Call) -> Callable[..., Any]:
        func = node.func
        if isinstance(func, ast.Name):
            if func.id in BUILTINS and func.id not in self.walker.ns and func.id not in self.local:
                return BUILTINS[func.id]
            raise self.refuse(node, f"it calls `{func.id}`, which may have side effects")
        if not isinstance(func, ast.Attribute):
            raise self.refuse(node, "it calls something that is not on the allow-list")
        base = self(func.value)
        allowed = (
            PANDAS_FUNCTIONS
            if base is pd
            else NUMPY_FUNCTIONS
            if base is np
            else VALUE_METHODS | (ROW_METHODS - {"pipe", "query", "sample"})
            if _pandas_object(base)
            else ()
        )
        if func.attr not in allowed:
            raise self.refuse(node, f"`.{func.attr}()` is not on the allow-list of pure pandas steps")
        return getattr(base, func.attr)

    def _Lambda(self, node: ast.Lambda) -> _Lambda:
        args = node.args
        if len(args.args) != 1 or args.defaults or args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs:
            raise self.refuse(node, "only lambdas of one argument are re-run")
        return _Lambda(self, args.args[0].arg, node.body)


class _Lambda:
    """A user's `lambda d: ...`, run with our evaluator (so its body keeps to the allow-list)."""

    def __init__(self, outer: _Evaluator, name: str, body: ast.AST) -> None:
        self.outer, self.name, self.body = outer, name, body

    def __call__(self, value: Any) -> Any:
        inner = _Evaluator(self.outer.walker, self.outer.pos, {**self.outer.local, self.name: value})
        return inner(self.body)
