"""The house's direction: a module imports only from its own layer or below, and nothing imports in a cycle.

Function-level imports count too: a lazy import that runs up the layers is still a dependency the wrong way.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cbs_export_lab"

LAYERS: list[tuple[str, ...]] = [
    ("errors", "atomic", "names", "codes", "hooks", "journal"),
    ("rules", "settings", "results"),
    ("keys", "engines", "units", "cellstats", "tables", "audit", "differencing"),
    (
        "checks",
        "checks.cells",
        "checks.table",
        "checks.plain",
        "checks.recover",
        "checks.model",
        "checks.figure",
        "checks.text",
        "checks.hidden",
        "provenance",
    ),
    ("check",),
    ("figures", "models", "excel", "strip", "protect"),
    ("intake", "light"),
    ("basket",),
    ("exportmap", "form"),
    ("magic", "widgets", "server", "cli", "demo", "__init__", "__main__"),
]
LAYER = {name: level for level, names in enumerate(LAYERS) for name in names}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if "labextension" in path.parts:
            continue
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(parts[:-1]) if parts[-1] == "__init__" and len(parts) > 1 else ".".join(parts)
        found[name] = path
    return found


def _imports(name: str, path: Path) -> set[str]:
    """Our modules that `name` imports anywhere in its body (relative or absolute)."""
    package = name.rsplit(".", 1)[0] if "." in name else ""
    if path.name == "__init__.py" and "." in name:
        package = name
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {id(n) for block in ast.walk(tree) if _is_type_checking(block) for n in ast.walk(block)}
    targets = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".") if package else []
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                module = ".".join([*base, node.module] if node.module else base)
            elif node.module and node.module.startswith("cbs_export_lab"):
                module = node.module.removeprefix("cbs_export_lab").lstrip(".")
            else:
                continue
            for alias in node.names:
                sub = f"{module}.{alias.name}" if module else alias.name
                targets.add(sub if sub in LAYER else module)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("cbs_export_lab."):
                    targets.add(alias.name.removeprefix("cbs_export_lab."))
    return {t for t in targets if t and t != name}


def _is_type_checking(node: ast.AST) -> bool:
    """`if TYPE_CHECKING:` blocks name types for annotations only; nothing runs them."""
    return isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


MODULES = _modules()
GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def test_every_module_has_a_layer():
    assert sorted(set(MODULES) - set(LAYER)) == [], "add new modules to LAYERS (and README's map)"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_run_down_the_layers(name):
    upward = sorted(t for t in GRAPH[name] if t in LAYER and LAYER[t] > LAYER.get(name, -1))
    assert upward == [], f"{name} (layer {LAYER.get(name)}) imports from higher layers: {upward}"


def test_no_import_cycle():
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> None:
        if node in path:
            raise AssertionError("import cycle: " + " -> ".join([*path[path.index(node) :], node]))
        if node in done:
            return
        for target in sorted(GRAPH.get(node, ())):
            if target in GRAPH:
                visit(target, [*path, node])
        done.add(node)

    for name in sorted(GRAPH):
        visit(name, [])


def test_the_checker_sees_a_wrong_import(tmp_path):
    """The walk above must notice an upward import; otherwise the layer test could never fail."""
    module = tmp_path / "rules.py"
    module.write_text("def f():\n    from .basket import Basket\n", encoding="utf-8")
    assert "basket" in _imports("rules", module)
