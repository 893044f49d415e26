"""Imports point one way: the package import graph, read with ast over src/labkit (every
import, a function's own included), is acyclic, follows the layers below, and keeps the
one-way rules of issue 20 (plug-ins below config/engine/analysis/report, records below
the plug-ins and the analysis, the engine off the analysis, remote off the simulator)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

SRC = REPO / "src" / "labkit"

# the packages (and top-level modules) of labkit, lowest first; a package imports only
# from the layers below its own, never from one beside it
LAYERS: list[set[str]] = [
    {"labkit", "errors"},  # the version; the exceptions everyone raises
    {"core"},  # metrics, params, facts, templates, observed: below everything else
    {"sim", "parse"},  # the simulated Jetson (self-contained); the log readers
    {"records"},  # the run record and the run store
    {"workloads", "probes"},  # the plug-ins, one package each
    {"registry"},  # the plug-ins by name: built here, above them
    {"metric_names", "measure"},  # the metric registry; a run measured by its plug-ins
    {"config"},  # inventory, playbooks, plans
    {"remote"},  # connections, facts, settings, the target-side supervisor
    {"engine", "provision"},  # runs and batches; the simulator's provisioner
    {"analysis"},  # metrics over runs, checks, decisions
    {"report", "study"},  # the report; until-decided batches and the importer
    {"cli"},  # what the Invoke tasks call
]

# issue 20's one-way rules: (importers, packages they must never import)
RULES: list[tuple[set[str], set[str]]] = [
    ({"workloads", "probes"}, {"config", "engine", "analysis", "report"}),
    ({"records"}, {"workloads", "probes", "registry", "analysis"}),
    ({"engine"}, {"analysis"}),
    ({"analysis"}, {"engine"}),
    ({"remote"}, {"sim"}),
]


def module_name(path: Path, root: Path = SRC) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts).removesuffix(".__init__")


def imported(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """The labkit modules ``tree`` imports anywhere (a function's imports too); a name
    imported from a module may be a module itself, so both are listed."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's own package upwards
                parts = module.split(".")
                keep = len(parts) - node.level + (1 if is_package else 0)
                base = ".".join([*parts[:keep], *([base] if base else [])])
            if base == "labkit" or base.startswith("labkit."):
                found.add(base)
                found |= {f"{base}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "labkit"}
    return found


def imports(root: Path = SRC) -> dict[str, set[str]]:
    """Module -> the labkit modules it imports (anywhere in it)."""
    out: dict[str, set[str]] = {}
    for path in sorted(root.rglob("*.py")):
        mod = module_name(path, root)
        tree = ast.parse(path.read_text())
        out.setdefault(mod, set()).update(imported(tree, mod, path.name == "__init__.py"))
    return out


def package(module: str) -> str:
    """``labkit.workloads.lerobot.flags`` -> ``workloads``; ``labkit`` -> ``labkit``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def package_graph(graph: dict[str, set[str]]) -> dict[str, dict[str, list[str]]]:
    """Package -> the packages it imports -> the module imports that make the edge."""
    out: dict[str, dict[str, list[str]]] = {}
    for mod, dsts in graph.items():
        edges = out.setdefault(package(mod), {})
        for dst in sorted(dsts):
            if package(dst) != package(mod):
                edges.setdefault(package(dst), []).append(f"{mod} imports {dst}")
    return out


def cycle(edges: dict[str, dict[str, list[str]]]) -> list[str]:
    """One cycle of the package graph (its packages in order), [] when there is none."""
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, {})):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return []

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return []


def level(pkg: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if pkg in layer)


def upward(edges: dict[str, dict[str, list[str]]]) -> list[str]:
    """Imports of a package beside or above the importer's layer."""
    return [
        why
        for src, dsts in sorted(edges.items())
        for dst, whys in sorted(dsts.items())
        if level(dst) >= level(src)
        for why in whys
    ]


def broken(
    edges: dict[str, dict[str, list[str]]], sources: set[str], banned: set[str]
) -> list[str]:
    return [
        why
        for src in sorted(sources)
        for dst, whys in sorted(edges.get(src, {}).items())
        if dst in banned
        for why in whys
    ]


GRAPH = imports()
EDGES = package_graph(GRAPH)


def test_the_graph_sees_function_local_imports():
    assert "labkit.workloads.lerobot.log_metrics" in GRAPH["labkit.workloads.lerobot.workload"]


def test_every_package_has_its_layer():
    named = set().union(*LAYERS)
    assert {package(m) for m in GRAPH} <= named
    assert named <= {package(m) for m in GRAPH}  # no layer names a package that is gone


def test_the_package_graph_is_acyclic():
    assert cycle(EDGES) == []


def test_packages_import_only_the_layers_below_their_own():
    assert upward(EDGES) == []


def test_the_one_way_rules_of_issue_20():
    assert {str(sorted(s)): broken(EDGES, s, banned) for s, banned in RULES} == {
        str(sorted(s)): [] for s, _ in RULES
    }


def test_core_is_below_everything():
    assert broken(EDGES, {"core"}, set(EDGES) - {"core", "errors", "labkit"}) == []


def test_a_plug_in_imports_no_other_plug_in():
    """gstreamer does not borrow the command workload's code, nor pyspy the threads
    probe's: what two plug-ins share lives below both (``base``, ``tools``, core/)."""
    shared = {"base", "tools"}
    crossing = []
    for mod, dsts in GRAPH.items():
        parts = mod.split(".")
        if len(parts) < 3 or parts[1] not in ("workloads", "probes"):
            continue
        for dst in dsts:
            d = dst.split(".")
            if d[:2] == parts[:2] and len(d) > 2 and d[2] not in shared | {parts[2]}:
                crossing.append(f"{mod} imports {dst}")
    assert crossing == []


def test_the_plug_in_packages_register_nothing():
    """The registry is built at the top (``labkit.registry``), not when a low package is
    imported: ``labkit.workloads`` and ``labkit.probes`` import only their ``base``."""
    assert GRAPH["labkit.workloads"] <= {"labkit.workloads.base", "labkit.workloads.base.Workload"}
    assert GRAPH["labkit.probes"] <= {
        "labkit.probes.base",
        "labkit.probes.base.Probe",
        "labkit.probes.base.ProbeLaunch",
    }


def test_a_forbidden_import_is_caught(tmp_path):
    """The checks above fail on the imports they forbid: a copy of the tree with a
    function-local cycle dodge (records -> analysis) and a remote -> sim import."""
    root = tmp_path / "labkit"
    for path in SRC.rglob("*.py"):
        dest = root / path.relative_to(SRC)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(path.read_text())
    (root / "records" / "dodge.py").write_text(
        "def f():\n    from labkit.analysis.runs import load_runs\n\n    return load_runs\n"
    )
    (root / "remote" / "simmed.py").write_text("from ..sim import deploy\n")
    edges = package_graph(imports(root))
    assert cycle(edges)  # analysis imports records: now a cycle
    assert "labkit.records.dodge imports labkit.analysis.runs" in upward(edges)
    assert broken(edges, {"records"}, {"analysis"}) == [
        "labkit.records.dodge imports labkit.analysis.runs",
        "labkit.records.dodge imports labkit.analysis.runs.load_runs",
    ]
    assert "labkit.remote.simmed imports labkit.sim.deploy" in broken(edges, {"remote"}, {"sim"})
