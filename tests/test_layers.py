"""Imports point one way: the package import graph, read with ast over src/labkit (every
import, a function's own included), keeps the layering rules that hold today."""

from __future__ import annotations

import ast

from tests.conftest import REPO

SRC = REPO / "src" / "labkit"


def imports() -> dict[str, set[str]]:
    """Module -> the labkit modules it imports (anywhere in it)."""
    out: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        mod = ".".join(parts).removesuffix(".__init__")
        found = out.setdefault(mod, set())
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("labkit"):
                found.add(node.module)  # and each name, which may be a module of it
                found |= {f"{node.module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.startswith("labkit")}
    return out


def package(module: str) -> str:
    """``labkit.workloads.lerobot.flags`` -> ``workloads``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def broken(sources: set[str], banned: set[str]) -> list[str]:
    return sorted(
        f"{mod} imports {dst}"
        for mod, dsts in imports().items()
        if package(mod) in sources
        for dst in dsts
        if package(dst) in banned
    )


def test_the_graph_sees_function_local_imports():
    graph = imports()
    assert "labkit.workloads.lerobot.log_metrics" in graph["labkit.workloads.lerobot.workload"]


def test_plug_ins_import_neither_config_engine_analysis_nor_report():
    assert broken({"workloads", "probes"}, {"config", "engine", "analysis", "report"}) == []


def test_core_is_below_everything():
    allowed = {"core", "errors"}
    assert [e for e in broken({"core"}, set(map(package, _all())) - allowed)] == []


def test_analysis_never_imports_the_engine():
    assert broken({"analysis"}, {"engine"}) == []


def _all() -> set[str]:
    graph = imports()
    return set(graph) | {d for dsts in graph.values() for d in dsts}
