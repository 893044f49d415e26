"""A run's metrics, computed once and kept beside its logs in ``metrics.json``.

A report over thousands of runs needs each run's metrics, not its samples: parsing every
log again on each report made time and memory grow with the store. The file records the
version of the code that computed it and the size of every file it was computed from; a
report recomputes a run's metrics only when either changed. The file lives in the run
directory, so it travels with the run (a copy, an S3 store's mirror).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import Any

METRICS_FILE = "metrics.json"
# in a shared store's mirror: the run's files the store holds that are not downloaded
# yet (name -> {"key", "size"}); they count among the run's files by their sizes
NOT_FETCHED = ".not-fetched.json"
# files derived from the logs (parsed tables, this file): not inputs of the metrics
DERIVED_SUFFIXES = (".parquet",)


def stored_metrics(
    run_dir: Path, version: str, compute: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """The run's metrics from ``metrics.json`` when ``version`` and the run's files are
    those it was computed from; else ``compute()``, stored for next time (a run directory
    that cannot be written to is computed every time, never failed)."""
    run_dir = Path(run_dir)
    inputs = input_sizes(run_dir)
    stored = read_stored(run_dir)
    if stored is not None and stored.get("version") == version and stored.get("inputs") == inputs:
        return stored["metrics"]
    metrics = compute()
    write_stored(run_dir, {"version": version, "inputs": inputs, "metrics": metrics})
    return metrics


def read_stored(run_dir: Path) -> dict[str, Any] | None:
    """The stored file's content, None when there is none or it is unreadable."""
    try:
        data = json.loads((Path(run_dir) / METRICS_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("metrics"), dict) else None


def write_stored(run_dir: Path, data: dict[str, Any]) -> bool:
    """Write ``metrics.json`` whole (a temp file renamed over it); False when the run
    directory is read-only."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=".metrics.", dir=run_dir)
    except OSError:
        return False
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, default=json_value, indent=1)
        os.replace(tmp, Path(run_dir) / METRICS_FILE)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def input_sizes(run_dir: Path) -> dict[str, int]:
    """Name -> size of every file the metrics may read (sizes, not times: a copied or
    downloaded run keeps its sizes, not its modification times)."""
    out = {}
    for folder, dirs, files in os.walk(run_dir):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        rel = os.path.relpath(folder, run_dir)
        for file in files:
            name = file if rel == "." else f"{rel}/{file}"
            if name == METRICS_FILE or file.startswith(".") or file.endswith(DERIVED_SUFFIXES):
                continue
            try:
                out[name] = os.stat(os.path.join(folder, file)).st_size
            except OSError:  # gone meanwhile
                continue
    for name, size in not_fetched_sizes(run_dir).items():
        if name != METRICS_FILE and not name.endswith(DERIVED_SUFFIXES):
            out.setdefault(name, size)
    return dict(sorted(out.items()))


def not_fetched_sizes(run_dir: Path) -> dict[str, int]:
    """Name -> size of the files a mirrored run has left in its store (``NOT_FETCHED``)."""
    try:
        listed = json.loads((Path(run_dir) / NOT_FETCHED).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(listed, dict):
        return {}
    return {
        str(n): int(v["size"])
        for n, v in listed.items()
        if isinstance(v, dict) and isinstance(v.get("size"), int)
    }


@cache
def source_version(modules: tuple[str, ...]) -> str:
    """A hash of the source of ``modules`` (packages whole): changes when their code does,
    so stored metrics are recomputed after any change to the code that made them."""
    # each file by its path in the package, not on disk: two checkouts of the same code
    # (in folders of any name) give the same version, so neither recomputes the other's
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for name, path in sorted((_in_package(p, root), p) for p in _source_files(modules)):
        digest.update(name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _in_package(path: Path, root: Path) -> str:
    """``path`` relative to the labkit package (``analysis/runs.py``)."""
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:  # a module outside labkit: its name is what it is
        return path.name


def _source_files(modules: Iterable[str]) -> set[Path]:
    files: set[Path] = set()
    for name in modules:
        spec = importlib.util.find_spec(name)
        if spec is None:
            continue
        if spec.submodule_search_locations:
            for folder in spec.submodule_search_locations:
                files |= set(Path(folder).rglob("*.py"))
        elif spec.origin:
            files.add(Path(spec.origin))
    return files


def json_value(value: Any) -> Any:
    """numpy scalars and other number-likes as JSON numbers; anything else as text."""
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
