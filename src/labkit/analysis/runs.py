"""The runs a report is made of: manifests from the store, metrics from their logs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labkit.analysis.stages import run_deep_metrics
from labkit.probes import PROBES
from labkit.records.store import Unreadable, list_runs
from labkit.workloads import Workload, workload_of


@dataclass
class RunData:
    """One run of the store with its metrics (its workload's and probes') and host facts."""

    dir: Path
    manifest: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)
    events: Any = None  # the workload's parsed events (pandas), kept only when plots need it
    teg: Any = None  # parsed tegrastats samples (pandas), likewise
    deep: dict = field(default_factory=dict)  # the threads / pyspy probes' tables, likewise
    late: Any = None  # the workload's late events (time, hz), likewise

    @property
    def workload_events(self) -> Any:
        """The workload's parsed events (a command's: event, line, value, time, text)."""
        return self.events

    @property
    def experiment(self) -> str:
        return self.manifest["experiment"]

    @property
    def status(self) -> str:
        return self.manifest.get("status", "unknown")

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    @property
    def host(self) -> str:
        return (self.manifest.get("host") or {}).get("name", "?")

    def fact(self, dotted: str) -> Any:
        """``fact.lerobot.version`` -> manifest facts["lerobot"]["version"]."""
        value: Any = self.manifest.get("facts") or {}
        for part in dotted.split(".")[1:]:
            value = value.get(part) if isinstance(value, dict) else None
        return value


def run_data(
    run_dir: Path, manifest: dict[str, Any], workload: Workload, keep_tables: bool = False
) -> RunData:
    """One run's metrics, by one path for every workload: the workload parses its log and
    gives its metrics and what the probes are told (late events, loop thread, stages);
    each probe the record names parses its own files and gives its metrics."""
    events = workload.parse(run_dir)
    observed = workload.observe(run_dir, manifest, events)
    names = [n for n in (manifest.get("probes") or {}) if n in PROBES]
    metrics: dict[str, Any] = dict.fromkeys(workload.metrics)
    for name in names:
        metrics.update(dict.fromkeys(PROBES[name].metrics))
    metrics.update(workload.run_metrics(events, observed.duration_s))
    tables: dict[str, Any] = {}
    for name in names:
        if (manifest["probes"][name] or {}).get("skipped"):
            continue
        probe = PROBES[name]()
        tables[name] = probe.parse(run_dir)
        metrics.update(probe.run_metrics(tables[name], observed))
    deep, deep_tables = {}, {}
    if workload.stage_map is not None:
        deep, deep_tables = run_deep_metrics(run_dir, manifest, events)  # threads / pyspy
    metrics.update(deep)
    run = RunData(run_dir, manifest, metrics)
    if keep_tables:
        run.events, run.teg, run.deep = events, tables.get("tegrastats"), deep_tables
        run.late = observed.late
    return run


def load_runs(
    runs: str | Path,
    playbook: str | None = None,
    keep_tables: bool = False,
    unreadable: list[Unreadable] | None = None,
) -> list[RunData]:
    """Every run in the store (of ``playbook`` when given), oldest first, with metrics;
    ``keep_tables`` keeps the parsed logs on each run for plotting; runs whose record
    cannot be read go to ``unreadable``."""
    out = []
    for run_dir, manifest in list_runs(runs, unreadable):
        if playbook and (manifest.get("playbook") or {}).get("name") != playbook:
            continue
        out.append(run_data(run_dir, manifest, workload_of(manifest), keep_tables))
    return out
