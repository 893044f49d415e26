"""``invoke import``: hand-run logs in the seed's layout become runs in the store.

The seed investigation left ``<experiment>_record.log`` and ``<experiment>_tegrastats.log``
side by side. Each pair becomes ``runs/<experiment>/<run-id>/`` with a manifest marked
``imported``; the run id comes from the log's first timestamp and a hash of its bytes, so
importing the same logs twice finds them already there instead of counting them twice.
A run directory is built beside the store and renamed into place whole.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path

from labkit.config.playbook import Playbook
from labkit.errors import LabkitError
from labkit.records.model import imported_record
from labkit.records.store import load_manifest, provenance, run_path, write_manifest
from labkit.workloads import DEFAULT_KIND, get_workload

RECORD_SUFFIX = "_record.log"
MONITOR_SUFFIX = "_tegrastats.log"


def find_pairs(logs: Path, playbook: Playbook) -> list[tuple[str, Path, Path | None]]:
    """(experiment, record log, tegrastats log or None) for every record log in ``logs``."""
    if not logs.is_dir():
        raise LabkitError(f"--logs {logs}: not a directory")
    pairs = []
    for rec in sorted(logs.glob(f"*{RECORD_SUFFIX}")):
        name = rec.name[: -len(RECORD_SUFFIX)]
        if name not in playbook.experiments:
            known = ", ".join(playbook.experiments)
            raise LabkitError(
                f"{rec}: experiment {name!r} is not in playbook {playbook.name} "
                f"({playbook.file}); expected one of: {known}"
            )
        teg = logs / f"{name}{MONITOR_SUFFIX}"
        pairs.append((name, rec, teg if teg.exists() else None))
    if not pairs:
        raise LabkitError(
            f"--logs {logs}: no <experiment>{RECORD_SUFFIX} files "
            f"(expected e.g. exp1{RECORD_SUFFIX} and exp1{MONITOR_SUFFIX})"
        )
    for _, rec, teg in pairs:
        check_logs(rec, teg)
    return pairs


def check_logs(rec: Path, teg: Path | None) -> None:
    """A record log holds lerobot-record's output (LeRobot's ``LEVEL date time file:line``
    lines) and a tegrastats log holds samples; anything else (a tegrastats log under the
    record log's name, notes, an empty file) is refused before anything is written."""
    from labkit.parse import read_record_log, read_tegrastats

    events = read_record_log(rec)
    example = "'INFO 2026-02-10 10:00:00 ls/utils.py:147 Recording episode 0'"
    if not (events["kind"] != "other").any():
        samples = len(read_tegrastats(rec))
        what = f"it holds {samples} tegrastats samples; " if samples else ""
        raise LabkitError(
            f"{rec}: no LeRobot log lines ({what}{len(events)} line(s), none like {example}); "
            "expected lerobot-record's output (see examples/seed-logs/README.md)"
        )
    if not (events["kind"] == "episode_start").any():
        raise LabkitError(
            f"{rec}: no episode start (a line such as {example}): the recording never began; "
            "expected the output of a recording that ran"
        )
    if teg is not None and not len(read_tegrastats(teg)):
        raise LabkitError(
            f"{teg}: no tegrastats samples (expected lines such as '02-10-2026 10:00:00 RAM "
            "50000/125772MB ... CPU [20%@1566,...]' from tegrastats --logfile; "
            f"see examples/seed-logs/README.md)"
        )


def _run_id(rec: Path, teg: Path | None) -> str:
    from labkit.parse import read_record_log

    digest = hashlib.sha256(rec.read_bytes())
    if teg is not None:
        digest.update(teg.read_bytes())
    times = read_record_log(rec)["time"].dropna()
    stamp = times.min().strftime("%Y%m%dT%H%M%S") if len(times) else "00000000T000000"
    return f"{stamp}-imported-{digest.hexdigest()[:8]}"


def import_logs(logs: Path, playbook: Playbook, runs: Path, log=print) -> list[dict]:
    """Import every pair; returns the manifests of the runs added (not those already in)."""
    from labkit.analysis.summary import summarize_run

    added = []
    for name, rec, teg in find_pairs(logs, playbook):
        run_id = _run_id(rec, teg)
        final = run_path(runs, name, run_id)
        if load_manifest(final):
            log(f"{name}: {rec.name} is already in the store as {final}")
            continue
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{run_id}.", dir=final.parent))
        try:
            shutil.copyfile(rec, tmp / "record.log")
            if teg is not None:
                shutil.copyfile(teg, tmp / "tegrastats.log")
            manifest = imported_record(
                run_id,
                name,
                playbook,
                {"record": str(rec), "tegrastats": str(teg) if teg else None},
                provenance(),
                time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                get_workload(DEFAULT_KIND)().record(),  # hand-run logs: lerobot-record's
            )
            manifest["summary"] = summarize_run(tmp)
            write_manifest(tmp, manifest)
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        added.append(manifest)
        missing = "" if teg else f" (no {name}{MONITOR_SUFFIX}: CPU metrics will be missing)"
        log(f"{name}: imported {rec.name} as {final}{missing}")
    return added
