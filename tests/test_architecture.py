"""The package's import graph: data flows one way, no cycle, no import hidden in a function.

Read from the source (ast), not by importing: load → validate → statistics → tables → bundles →
pages → delivery. ``render/`` renders what it is given and never imports the statistics; delivery
reads what the run wrote and never imports the statistics or the source readers either.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "channel_analysis"
#: Modules that may import inside a function: the command line loads parameters before heavy
#: imports (a bad option answers at once), and the render worker registers papermill's engine.
LAZY_ALLOWED = {"channel_analysis.cli", "channel_analysis.render.execute"}
STATISTICS = {"channel_analysis." + m for m in ("build", "accounts", "kpis", "segmentation", "tiers", "peers", "pipeline",
                                                 "salescycle", "tenure", "forecast", "programme", "dataset", "validation", "quarter",
                                                 "exports", "io.sources")}


def _module(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> list[str]:
    if node.level == 0:
        base = node.module or ""
    else:
        parts = module.split(".")
        parts = parts if is_package else parts[:-1]
        parts = parts[: len(parts) - (node.level - 1)]
        base = ".".join(parts + ([node.module] if node.module else []))
    names = [f"{base}.{a.name}" for a in node.names]
    # "from . import x" imports the submodule x (its package is only being initialized)
    return names if node.module is None else [base, *names]


def imports() -> dict[str, tuple[set[str], list[str]]]:
    """module → (package modules it imports at import time, imports found inside functions)."""
    modules = {_module(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top, lazy = set(), []
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                targets = _resolve(name, node, path.name == "__init__.py")
            targets = [t for t in targets if t in modules]
            inside = any(isinstance(p, (ast.FunctionDef, ast.AsyncFunctionDef))
                         for p in _parents(tree, node))
            guarded = any(isinstance(p, ast.If) and "TYPE_CHECKING" in ast.dump(p.test) for p in _parents(tree, node))
            if inside:
                lazy += targets
            elif not guarded:
                top |= set(targets)
        graph[name] = (top - {name}, lazy)
    return graph


def _parents(tree, target):
    stack = [(tree, [])]
    while stack:
        node, chain = stack.pop()
        if node is target:
            return chain
        for child in ast.iter_child_nodes(node):
            stack.append((child, chain + [node]))
    return []


def _cycle(graph) -> list[str]:
    state, path = {}, []

    def visit(n):
        state[n] = "open"
        path.append(n)
        for m in sorted(graph[n][0]):
            if m not in graph:
                continue
            if state.get(m) == "open":
                return path[path.index(m):] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        state[n] = "done"
        path.pop()
        return []

    for n in sorted(graph):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return []


def _reach(graph, start) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        n = todo.pop()
        for m in graph.get(n, (set(), []))[0]:
            if m not in seen:
                seen.add(m)
                todo.append(m)
    return seen


def test_the_import_graph_has_no_cycle():
    assert _cycle(imports()) == []


def test_no_import_is_tucked_inside_a_function():
    lazy = {m: sorted(set(l)) for m, (_, l) in imports().items() if l and m not in LAZY_ALLOWED}
    assert lazy == {}


def test_render_and_delivery_never_reach_the_statistics():
    graph = imports()
    for start in [m for m in graph if m.startswith(("channel_analysis.render", "channel_analysis.delivery"))]:
        assert sorted(_reach(graph, start) & STATISTICS) == [], start


def test_the_run_module_calls_every_step():
    top = imports()["channel_analysis.quarter"][0]
    assert {"channel_analysis.build", "channel_analysis.exports", "channel_analysis.bundle",
            "channel_analysis.render", "channel_analysis.dataset"} <= top


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": ({"b"}, []), "b": ({"c"}, []), "c": ({"a"}, []), "d": (set(), [])}
    assert _cycle(graph) == ["a", "b", "c", "a"]
    assert _cycle({"a": ({"b"}, []), "b": (set(), [])}) == []
