"""Readers outside records/ take a ``RunRecord`` by attribute: no module reads a record's
field by string key (``manifest.get("probes")``, ``record["store"]``), read with ast over
src/labkit the way tests/test_layers.py reads imports."""

from __future__ import annotations

import ast
from pathlib import Path

from labkit.records.model import RunRecord
from tests.conftest import REPO

SRC = REPO / "src" / "labkit"
# what code calls a run record (a RunData's ``manifest``, a parameter, a loop variable)
RECORD_NAMES = {"manifest", "record", "rec", "run_record", "m"}
FIELDS = {f.alias or name for name, f in RunRecord.model_fields.items()}


def _is_record(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return node.id in RECORD_NAMES
    return isinstance(node, ast.Attribute) and node.attr == "manifest"


def _key(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def keyed_reads(path: Path, root: Path = SRC) -> list[str]:
    """``file:line`` of each ``<record>["field"]`` / ``<record>.get("field")`` in ``path``."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        key, target = None, None
        if isinstance(node, ast.Subscript):
            key, target = _key(node.slice), node.value
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("get", "setdefault", "pop")
            and node.args
        ):
            key, target = _key(node.args[0]), node.func.value
        if key in FIELDS and target is not None and _is_record(target):
            out.append(f"{path.relative_to(root)}:{node.lineno}: {key!r}")
    return out


def test_no_module_outside_records_reads_a_record_by_string_key():
    found = [
        hit
        for path in sorted(SRC.rglob("*.py"))
        if "records" not in path.relative_to(SRC).parts[:1]
        for hit in keyed_reads(path)
    ]
    assert found == []


def test_the_check_sees_a_keyed_read(tmp_path):
    """The check finds what it looks for (a module written the old way)."""
    sample = tmp_path / "labkit" / "sample.py"
    sample.parent.mkdir()
    sample.write_text(
        "def f(run, record):\n"
        "    a = run.manifest.get('probes') or {}\n"
        "    return record['store'], record.get('not_a_field'), run.metrics['store']\n"
    )
    hits = keyed_reads(sample, tmp_path / "labkit")
    assert hits == ["sample.py:2: 'probes'", "sample.py:3: 'store'"]
