"""The package's import graph: no cycles, and imports at the top of modules but for the
heavy packages listed in automl_meta.core.lazy (and the CLI and the package's own __init__, which
defer the library itself so that `automl --help` stays quick)."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

from automl_meta.core.lazy import LAZY_MODULES

PACKAGE = Path(__file__).resolve().parents[1] / "automl_meta"
# The layer folders, lowest first: a module imports from its own layer and those before it.
# The modules at the top of the package (the estimators) and cli/ may import any of them.
LAYERS = ["core", "metafeatures", "trials", "metabase", "learning", "search", "output",
          "benchmarking"]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(tree: ast.Module, module: str, is_package: bool) -> list[tuple[ast.stmt, str]]:
    """(statement, imported module name) for every import in a module, relative ones resolved."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")[: len(module.split(".")) - node.level + is_package]
                base = ".".join(anchor + ([base] if base else []))
            out += [(node, base)] + [(node, f"{base}.{a.name}") for a in node.names]
    return out


def _with_packages(target: str, importer: str) -> set[str]:
    """The module imported and the packages it lies in, whose __init__ runs first, but for
    the importer itself and the packages it lies in (already running)."""
    parts = target.split(".")
    found = {".".join(parts[:k]) for k in range(1, len(parts) + 1)}
    own = {".".join(importer.split(".")[:k]) for k in range(1, importer.count(".") + 2)}
    return found - own


def _graph() -> tuple[dict[str, set[str]], list[str]]:
    """Module -> modules of the package it imports at its top; and misplaced imports."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph, misplaced = {}, []
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        top = {id(node) for node in tree.body}
        graph[name] = set()
        for node, target in _imports(tree, name, path.name == "__init__.py"):
            if id(node) in top:
                graph[name] |= {m for m in _with_packages(target, name) if m in modules}
            elif not (name.startswith("automl_meta.cli") or name == "automl_meta") and \
                    target.split(".")[0] not in LAZY_MODULES:
                misplaced.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} imports {target}")
    return graph, misplaced


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle as a path of module names, or [] when there is none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str]:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt] if nxt in path else [node, nxt]
            if nxt not in state:
                found = visit(nxt, path + [nxt])
                if found:
                    return found
        state[node] = 2
        return []

    for start in sorted(graph):
        if start not in state:
            found = visit(start, [start])
            if found:
                return found
    return []


def test_the_package_has_no_import_cycle():
    graph, _ = _graph()
    assert _cycle(graph) == []


def test_imports_sit_at_the_top_of_modules_but_for_the_listed_heavy_packages():
    _, misplaced = _graph()
    assert misplaced == []


@pytest.mark.parametrize("graph, cycle", [
    ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
    ({"a": {"a"}}, ["a", "a"]),
])
def test_the_cycle_finder_finds_cycles(graph, cycle):
    assert _cycle(graph) == cycle


def _layer(module: str) -> int:
    """Position of a module's layer in LAYERS; past the end for the top of the package."""
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else len(LAYERS)


def test_layers_import_only_from_themselves_and_the_layers_below():
    graph, _ = _graph()
    upward = sorted(f"{name} imports {target}" for name, targets in graph.items()
                    for target in targets if _layer(target) > _layer(name))
    assert upward == []


def test_nothing_outside_the_benchmarks_imports_them():
    """Not even deferred: `automl` must never load benchmark code (the CLI defers the library)."""
    users = []
    for path in PACKAGE.rglob("*.py"):
        name = _module_name(path)
        if name.startswith("automl_meta.benchmarking"):
            continue
        targets = {t for _, t in _imports(ast.parse(path.read_text()), name, path.name == "__init__.py")}
        if any(t.startswith("automl_meta.benchmarking") for t in targets):
            users.append(name)
    assert users == []


def test_every_layer_folder_is_a_package_of_the_install():
    folders = {".".join(p.parent.relative_to(PACKAGE.parent).parts) for p in PACKAGE.rglob("__init__.py")}
    with open(PACKAGE.parent / "pyproject.toml", "rb") as fh:
        installed = set(tomllib.load(fh)["tool"]["setuptools"]["packages"])
    assert folders == installed - {"automl_meta.default_metabase"}
    assert {f"automl_meta.{layer}" for layer in LAYERS} <= folders
