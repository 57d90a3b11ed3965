"""cbs_export_lab: check outputs for disclosure risk and prepare CBS Remote Access exports from JupyterLab.

The public names are loaded on first use, so `import cbs_export_lab` stays cheap in a kernel.
"""

from __future__ import annotations

import sys
from importlib import import_module
from types import ModuleType
from typing import Any

from . import hooks as _hooks  # noqa: F401 - installs the cheap matplotlib hooks, see hooks.install_hooks

__version__ = "0.1.0"

_PUBLIC = {
    "check": "check",
    "crosstab": "tables",
    "pivot_table": "tables",
    "Rules": "rules",
    "load_rules": "rules",
    "Finding": "results",
    "Counts": "results",
    "CheckResult": "results",
    "UserError": "errors",
    "Settings": "settings",
    "load_settings": "settings",
    "Basket": "basket",
    "Item": "basket",
    "plan_export": "exportmap",
    "prepare_export": "exportmap",
    "ExportPlan": "exportmap",
    "PlannedZip": "exportmap",
    "Blocked": "exportmap",
    "ExportResult": "exportmap",
    "light_budget": "light",
    "LightBudget": "light",
    "strip_notebook": "strip",
    "strip_script": "strip",
    "StripReport": "strip",
    "protect": "protect",
}

# Submodules reached as attributes (`cel.figures.safe_hist(ax, x)`), imported on first use like the names above.
_SUBMODULES = frozenset({"figures"})

__all__ = sorted(_PUBLIC)

# Bound now: importing the submodule `check` later (any module does) would otherwise shadow the function.
from .check import check  # noqa: E402, F401


class _Package(ModuleType):
    """A submodule named like its public function (`protect`), first imported by another module, must not
    replace `cel.protect` the function with the module."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, ModuleType) and _PUBLIC.get(name) == name and hasattr(value, name):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return import_module(f".{name}", __name__)
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'cbs_export_lab' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC) | _SUBMODULES)


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext cbs_export_lab`: registers %cbs_check and %cbs_basket."""
    from .magic import load_ipython_extension as load

    load(ipython)


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "cbs_export_lab.server"}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "cbs-export-lab"}]
