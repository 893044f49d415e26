"""The local run store: ``<runs>/<experiment>/<run-id>/`` with a record and the raw logs.

Layout of one run::

    manifest.json     the run record (``labkit.records.model``; written atomically,
                      validated on write and read; ``status`` says how it ended)
    record.log        the workload's stdout+stderr (``output.log`` for a command workload)
    tegrastats.log    samples taken beside it (each probe: its own files)
    status.json       the target-side supervisor's record (pids, exit codes, times)
    run.json          what labkit sent to the target (commands, parameters)
    tegrastats.parquet, record-events.parquet   the parsed logs (rebuilt on demand)

A manifest is replaced with ``os.replace`` from a temp file in the same directory, so a
crash leaves the previous record or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import labkit
from labkit.records.model import (
    FINAL,
    RECORD,
    STATUSES,
    RecordError,
    RunRecord,
    current,
    read_record,
)

__all__ = ["FINAL", "STATUSES", "RecordError", "RunRecord"]


def new_run_id(host: str) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in host)
    # 32 random bits: two workstations starting runs on same-named hosts in the same
    # second write to one shared store without colliding
    return f"{stamp}-{safe}-{secrets.token_hex(4)}"


def run_path(runs: str | Path, experiment: str, run_id: str) -> Path:
    return Path(runs) / experiment / run_id


def store_id(runs: str | Path) -> str:
    """This run store's identity (``<runs>/.store-id``, made once): recorded with every
    run on the target, so ``invoke collect`` takes only the runs this store started."""
    path = Path(runs) / ".store-id"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    # a name of this call's own: two hosts of one batch (threads of one process) may both
    # find no id and make one at the same moment
    tmp = path.with_name(f".store-id.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    tmp.write_text(secrets.token_hex(8) + "\n")
    try:
        os.link(tmp, path)  # fails if another made it first: theirs counts
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text().strip()


def started_here(remote_run: dict, manifest: RunRecord | None, runs: str | Path) -> bool:
    """Whether a run found on a target (its ``run.json``) was started by this store: its
    recorded store id, or, for a run recorded before ids were, a manifest here already."""
    if remote_run.get("store"):
        return remote_run["store"] == store_id(runs)
    return manifest is not None


def write_json_atomic(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as fh:
        json.dump(data, fh, indent=2, default=str)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_manifest(run_dir: Path, record: RunRecord) -> None:
    """Validate ``record`` again (what was set on it since it was built: ``RecordError``,
    a ``ValueError``, if it is no longer a run record) and replace the run's
    ``manifest.json`` with it atomically."""
    if record.status not in STATUSES:
        raise RecordError(f"unknown run status {record.status!r}")
    # as it is now, unchecked (a value of the wrong type is the validation's to name)
    now = record.model_dump(by_alias=True, warnings=False)
    write_json_atomic(run_dir / RECORD, current(now, run_dir).as_dict())


def load_manifest(run_dir: Path) -> RunRecord | None:
    """The run's record as the current schema (older ones migrated); None if there is none."""
    return read_record(run_dir / RECORD)


def mark_restored(runs: str | Path, run_id: str, keys: list[str], by: str) -> Path | None:
    """Note in a dead run's record (if it is in this store) that ``by`` put its settings
    ``keys`` back; a record still saying ``running`` says the controller ended without
    finishing it (the recording itself may have finished on the target: collect it)."""
    for mf in Path(runs).glob(f"*/{run_id}/manifest.json"):
        m = load_manifest(mf.parent)
        if not m:
            continue
        for c in m.settings_changes:
            if c.get("key") in keys:
                c["restored"] = True
        m.restored_by, m.restored_at = by, time.strftime("%Y-%m-%dT%H:%M:%S%z")
        if m.status == "running":
            m.status = "lost-connection"
            m.error = (
                f"the controller ended without finishing this run (killed?); {by} put its "
                f"settings back; `invoke collect --target {m.host.name}` brings its logs"
            )
        write_manifest(mf.parent, m)
        return mf.parent
    return None


@dataclass(frozen=True)
class Unreadable:
    """A run whose record could not be read: shown by the report and `invoke runs`, so it
    never silently turns into "not run yet"."""

    path: Path  # the run's folder
    reason: str

    @property
    def experiment(self) -> str:
        """The experiment it was filed under (``runs/<experiment>/<run-id>/``)."""
        return self.path.parent.name


def list_runs(
    runs: str | Path,
    unreadable: list[Unreadable] | None = None,
    keep: Callable[[RunRecord], RunRecord] | None = None,
) -> list[tuple[Path, RunRecord]]:
    """Every run with a readable manifest, oldest first; each unreadable one is added to
    ``unreadable`` (when given) with its path and why, for the caller to show. ``keep``
    turns each record, as it is read, into what the list holds (a report over thousands
    of runs holds them compacted, never all of them whole at once)."""
    out = []
    for mf in sorted(Path(runs).glob("*/*/manifest.json")):
        try:
            manifest = read_record(mf)
        except (OSError, ValueError) as exc:  # JSONDecodeError, UnicodeDecodeError, RecordError
            if unreadable is not None:
                unreadable.append(Unreadable(mf.parent, f"manifest.json: {_first_line(exc)}"))
            continue
        if manifest is None:  # gone since it was listed
            continue
        out.append((mf.parent, keep(manifest) if keep is not None else manifest))
    return sorted(out, key=lambda r: (r[1].started_at or "", str(r[0])))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def provenance() -> dict:
    """labkit's version and, when run from a checkout, its git commit and dirty flag."""
    info: dict[str, Any] = {"version": labkit.__version__}
    root = Path(labkit.__file__).resolve().parents[2]
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
        if commit.returncode == 0:
            info["git_commit"] = commit.stdout.strip()
            dirty = subprocess.run(
                ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                capture_output=True,
                text=True,
                timeout=5,
            )
            info["git_dirty"] = bool(dirty.stdout.strip())
    except (OSError, subprocess.TimeoutExpired):
        pass
    return info
