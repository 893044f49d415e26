"""``invoke import``: hand-run logs become runs of the playbook's workload in the store.

A workload that can import runs recorded by hand declares how (``Workload.hand_runs``: the
logs' names, their checks, the run id; the seed's ``<experiment>_record.log`` beside
``<experiment>_tegrastats.log`` is lerobot-record's). Each pair becomes
``runs/<experiment>/<run-id>/`` with a manifest marked ``imported``; the run id is the
same for the same logs, so importing them twice finds them already there instead of
counting them twice. A run directory is built beside the store and renamed into place
whole. This module sits above the store, the playbook and the plug-ins it brings together,
and names no workload.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from labkit.config.playbook import Playbook
from labkit.errors import LabkitError
from labkit.measure import summarize_run
from labkit.records.model import RunRecord, imported_record
from labkit.records.store import load_manifest, provenance, run_path, write_manifest
from labkit.registry import WORKLOADS
from labkit.workloads.base import HandRuns, Workload


def hand_runs_of(playbook: Playbook) -> HandRuns:
    """How the playbook's workload reads its hand-run logs; an error for a kind that
    imports none."""
    hand = playbook.workload.hand_runs()
    if hand is None:
        kinds = [k for k, cls in WORKLOADS.items() if cls.hand_runs is not Workload.hand_runs]
        raise LabkitError(
            f"playbook {playbook.name} ({playbook.file}): its {playbook.workload.kind} "
            "workload imports no hand-run logs; expected a playbook whose workload is one "
            f"that does: {', '.join(kinds) or 'none is registered'}"
        )
    return hand


def find_pairs(logs: Path, playbook: Playbook) -> list[tuple[str, Path, Path | None]]:
    """(experiment, workload log, tegrastats log or None) for every workload log in
    ``logs`` and in its subfolders one level down (a lab's sessions, one folder each)."""
    if not logs.is_dir():
        raise LabkitError(f"--logs {logs}: not a directory")
    hand = hand_runs_of(playbook)
    suffix, monitor_suffix = hand.suffix, hand.monitor_suffix
    folders = [logs, *sorted(d for d in logs.iterdir() if d.is_dir())]
    pairs = []
    for folder in folders:
        for rec in sorted(folder.glob(f"*{suffix}")):
            name = rec.name[: -len(suffix)]
            if name not in playbook.experiments:
                known = ", ".join(playbook.experiments)
                raise LabkitError(
                    f"{rec}: experiment {name!r} is not in playbook {playbook.name} "
                    f"({playbook.file}); expected one of: {known}"
                )
            teg = folder / f"{name}{monitor_suffix}"
            pairs.append((name, rec, teg if teg.exists() else None))
    if not pairs:
        raise LabkitError(
            f"--logs {logs}: no <experiment>{suffix} files "
            f"(expected e.g. exp1{suffix} and exp1{monitor_suffix})"
        )
    return pairs


def import_logs(
    logs: Path,
    playbook: Playbook,
    runs: Path,
    log=print,
    jobs: int | None = None,
    finish: Callable[[Path, RunRecord], Any] | None = None,
) -> list[RunRecord]:
    """Import every pair; returns the manifests of the runs added (not those already in).

    Every pair is checked before anything is written. Parsing (the checks, each run's
    summary and ``finish(run_dir, manifest)``, e.g. storing its metrics) runs in ``jobs``
    processes (default: one per CPU; 1: in this one); runs are renamed into the store in
    the logs' order, each one whole."""
    pairs = find_pairs(logs, playbook)
    workload, hand = playbook.workload, hand_runs_of(playbook)
    jobs = max(1, jobs or os.cpu_count() or 1)
    with _pool(jobs) as pool:
        ids = list(pool.map(_checked_id, [(hand, rec, teg) for _, rec, teg in pairs]))
        added: list[tuple[str, Path, Path, Path, RunRecord]] = []
        staged: list[Path] = []
        try:
            for (name, rec, teg), run_id in zip(pairs, ids, strict=True):
                final = run_path(runs, name, run_id)
                if load_manifest(final) is not None or any(a[3] == final for a in added):
                    log(f"{name}: {rec.name} is already in the store as {final}")
                    continue
                final.parent.mkdir(parents=True, exist_ok=True)
                tmp = Path(tempfile.mkdtemp(prefix=f".{run_id}.", dir=final.parent))
                staged.append(tmp)
                shutil.copyfile(rec, tmp / workload.log)
                if teg is not None:
                    shutil.copyfile(teg, tmp / hand.monitor_log)
                manifest = imported_record(
                    run_id,
                    name,
                    playbook,
                    {"record": str(rec), "tegrastats": str(teg) if teg else None},
                    provenance(),
                    time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    workload.record(),
                )
                added.append((name, rec, tmp, final, manifest))
            done = list(pool.map(_summarized, [(a[2], a[4], finish) for a in added]))
            for (name, rec, tmp, final, _), manifest in zip(added, done, strict=True):
                os.rename(tmp, final)
                staged.remove(tmp)
                teg_missing = (manifest.source or {}).get("tegrastats") is None
                missing = f" (no {name}{hand.monitor_suffix}: CPU metrics will be missing)"
                log(f"{name}: imported {rec.name} as {final}{missing if teg_missing else ''}")
        finally:
            for tmp in staged:
                shutil.rmtree(tmp, ignore_errors=True)
    return done


def _checked_id(job: tuple[HandRuns, Path, Path | None]) -> str:
    hand, rec, teg = job
    hand.check(rec, teg)
    return hand.run_id(rec, teg)


def _summarized(job: tuple[Path, RunRecord, Callable | None]) -> RunRecord:
    """The run's summary into its manifest, then ``finish`` (in a worker process)."""
    tmp, manifest, finish = job
    manifest.summary = summarize_run(tmp, manifest)
    write_manifest(tmp, manifest)
    if finish is not None:
        finish(tmp, manifest)
    return manifest


class _InProcess:
    """``map`` in this process: one job, or a pool not worth starting."""

    def map(self, fn, items):
        return map(fn, items)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None


def _pool(jobs: int):
    if jobs == 1:
        return _InProcess()
    # spawn: a forked child would inherit the parent's Arrow threads mid-state
    return ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"))
