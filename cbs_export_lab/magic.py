"""IPython magics: `%cbs_check OBJ [--data DF] [--unit COL] [--weights COL] [--title "..."]` and `%cbs_basket`.

Load with `%load_ext cbs_export_lab`. Mistakes in the line are answered with one plain sentence, never a
traceback. In a notebook the answer is a widget panel; in a terminal the same report as text.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from typing import Any

from IPython.core.magic import Magics, line_magic, magics_class

from .check import check, kind_of
from .errors import UserError
from .provenance import find_source

_OPTION = re.compile(r"(?:^|\s)--[A-Za-z][\w-]*(?=[\s=]|$)")
_HELP = 'Usage: %cbs_check OBJ [--data DF] [--unit COL] [--weights COL] [--title "..."]'


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would exit the kernel's process
        raise UserError(f"{message}. {_HELP}")


_SINGLE_DASH = re.compile(r"(?:^|\s)(-(?:data|unit|weights|title))(?=[\s=]|$)")


def split_line(line: str) -> tuple[str, dict[str, str | None]]:
    """The object expression and the options; the expression may contain spaces, quotes and brackets."""
    typo = _SINGLE_DASH.search(line)
    if typo:
        flag = typo.group(1)
        raise UserError(f"Unknown option {flag}: options take two dashes, e.g. -{flag}. {_HELP}")
    match = _OPTION.search(line)
    expr = (line[: match.start()] if match else line).strip()
    if not expr:
        raise UserError(f"Say what to check. {_HELP}")
    parser = _Parser(prog="%cbs_check", add_help=False)
    for name in ("data", "unit", "weights", "title"):
        parser.add_argument(f"--{name}")
    try:
        rest = shlex.split(line[match.start() :]) if match else []
    except ValueError as exc:
        raise UserError(f"The options could not be read ({exc}); check the quotes. {_HELP}") from None
    return expr, vars(parser.parse_args(rest))


def _evaluate(shell: Any, expr: str, what: str) -> Any:
    try:
        return shell.ev(expr)
    except SyntaxError:
        raise UserError(
            f"Could not read {what} '{expr}' as Python. Check for a typo in the object or its options "
            f"(they take two dashes, e.g. --title). {_HELP}"
        ) from None
    except Exception as exc:
        raise UserError(
            f"Could not evaluate {what} '{expr}': {type(exc).__name__}: {exc}. "
            "Give a variable or expression that exists in this notebook (run the cell that defines it first)."
        ) from None


def _column_or_value(shell: Any, text: str | None, frames: list[Any], what: str) -> Any:
    """A column name stays a name when a frame has that column; otherwise it is evaluated as an expression."""
    if text is None:
        return None
    if any(text in getattr(frame, "columns", ()) for frame in frames if frame is not None):
        return text
    if text in shell.user_ns or not text.isidentifier():
        return _evaluate(shell, text, what)
    return text


def _refuse_empty_figure(obj: Any, expr: str) -> None:
    """An empty current figure is almost always the figure of an earlier cell that pyplot let go."""
    if type(obj).__name__ != "Figure" or not hasattr(obj, "get_axes"):
        return
    if any(ax.has_data() or ax.get_images() for ax in obj.get_axes()):
        return
    raise UserError(
        f"'{expr}' is an empty figure: pyplot starts a new figure in every cell, so after the cell that drew the "
        "plot, plt.gcf() no longer returns it. Keep the figure in a variable where you draw it "
        "(fig = plt.figure(), or fig, ax = plt.subplots()) and check fig, or check the axes (ax) it returned."
    )


def _has_widget_frontend(shell: Any) -> bool:
    return type(shell).__name__ == "ZMQInteractiveShell"


@magics_class
class CbsMagics(Magics):
    """%cbs_check and %cbs_basket. `last` keeps the most recent panel (handy in tests and for scripting)."""

    last: Any = None

    @line_magic
    def cbs_check(self, line: str) -> None:
        try:
            self.last = self.check_panel(line)
        except UserError as exc:
            print(f"cbs_check: {exc}", file=sys.stderr)
            return
        self._show(self.last)

    def check_panel(self, line: str) -> Any:
        from .widgets import CheckPanel

        expr, opts = split_line(line)
        obj = _evaluate(self.shell, expr, "the object")
        _refuse_empty_figure(obj, expr)
        data = _evaluate(self.shell, opts["data"], "--data") if opts["data"] else None
        frames = [data, obj if kind_of(obj) == "table" else None]
        unit = _column_or_value(self.shell, opts["unit"], frames, "--unit")
        weights = _column_or_value(self.shell, opts["weights"], frames, "--weights")
        found = None if data is not None else find_source(obj, self.shell, expr, unit=unit, weights=weights)
        if found is not None:
            data = found.frame
        result = check(obj, data=data, unit=unit, weights=weights)
        note = "" if found is None else found.annotate(result).details["provenance"]
        title = opts["title"] or (expr if expr.isidentifier() else "")
        return CheckPanel(obj, result, title=title, data=data, unit=unit, weights=weights, source_note=note)

    @line_magic
    def cbs_basket(self, line: str) -> None:
        from .basket import Basket
        from .widgets import BasketPanel

        try:
            self.last = BasketPanel(Basket())
        except UserError as exc:
            print(f"cbs_basket: {exc}", file=sys.stderr)
            return
        self._show(self.last)

    def _show(self, panel: Any) -> None:
        if _has_widget_frontend(self.shell):
            from IPython.display import display

            display(panel)
        else:
            print(panel._repr_mimebundle_()["text/plain"])


def load_ipython_extension(ipython: Any) -> None:
    from .provenance import record_bindings

    ipython.register_magics(CbsMagics)
    record_bindings(ipython)  # from now on, provenance knows which object each cell assigned
