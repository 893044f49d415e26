"""The runs a report is made of: manifests from the store, metrics from their logs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labkit.analysis.metrics import run_metrics
from labkit.probes import PROBES
from labkit.probes.base import Probe
from labkit.records.store import Unreadable, list_runs
from labkit.workloads.base import run_seconds


@dataclass
class RunData:
    """One run of the store with its metrics (``labkit.metric_names``) and host facts."""

    dir: Path
    manifest: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)
    events: Any = None  # parsed record log (pandas), kept only when plots need it
    teg: Any = None  # parsed tegrastats samples (pandas), likewise
    # a command workload's parsed events (``labkit.analysis.events``), likewise
    workload_events: Any = None
    deep: dict = field(default_factory=dict)  # the threads / pyspy probes' tables, likewise

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


def _parsed(run_dir: Path, name: str, log: str, reader):
    """The parsed table: the parquet written beside the log when it is newer, else parse."""
    import pandas as pd

    raw, cached = run_dir / log, run_dir / name
    if not raw.exists():
        return None
    if cached.exists() and cached.stat().st_mtime >= raw.stat().st_mtime:
        return pd.read_parquet(cached)
    return reader(raw)


def other_probe_metrics(run_dir: Path, manifest: dict, events, known: dict) -> dict:
    """The metrics of the run's probes that compute their own (``Probe.run_metrics``, e.g.
    runq) on a lerobot-record run, where the ones above do not already give them."""
    out: dict[str, Any] = {}
    for name, info in (manifest.get("probes") or {}).items():
        cls = PROBES.get(name)
        if info.get("skipped") or cls is None or cls.run_metrics is Probe.run_metrics:
            continue
        probe = cls()
        for key, value in probe.run_metrics(probe.parse(run_dir), events, manifest).items():
            if known.get(key) is None:
                out[key] = value
    return out


def load_runs(
    runs: str | Path,
    playbook: str | None = None,
    keep_tables: bool = False,
    unreadable: list[Unreadable] | None = None,
) -> list[RunData]:
    """Every run in the store (of ``playbook`` when given), oldest first, with metrics;
    ``keep_tables`` keeps the parsed logs on each run for plotting; runs whose record
    cannot be read go to ``unreadable``."""
    from labkit.analysis.events import workload_run
    from labkit.analysis.stages import run_deep_metrics
    from labkit.parse import read_record_log, read_tegrastats
    from labkit.workloads import DEFAULT_KIND, workload_of

    out = []
    for run_dir, manifest in list_runs(runs, unreadable):
        if playbook and (manifest.get("playbook") or {}).get("name") != playbook:
            continue
        workload = workload_of(manifest)
        if workload.kind != DEFAULT_KIND:  # its own events and metrics
            out.append(workload_run(run_dir, manifest, workload, keep_tables))
            continue
        events = _parsed(run_dir, "record-events.parquet", "record.log", read_record_log)
        teg = _parsed(run_dir, "tegrastats.parquet", "tegrastats.log", read_tegrastats)
        seconds = run_seconds(run_dir, manifest)
        run = RunData(run_dir, manifest, run_metrics(events, teg, seconds))
        deep, tables = run_deep_metrics(run_dir, manifest, events)  # threads / pyspy probes
        run.metrics.update(deep)
        run.metrics.update(other_probe_metrics(run_dir, manifest, events, run.metrics))
        if keep_tables:
            run.events, run.teg, run.deep = events, teg, tables
        out.append(run)
    return out
