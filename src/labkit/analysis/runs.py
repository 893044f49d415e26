"""The runs a report is made of: manifests from the store, metrics from their logs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labkit.analysis.metrics import run_metrics
from labkit.records.store import list_runs


@dataclass
class RunData:
    """One run of the store with its metrics (``labkit.metric_names``) and host facts."""

    dir: Path
    manifest: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)
    events: Any = None  # parsed record log (pandas), kept only when plots need it
    teg: Any = None  # parsed tegrastats samples (pandas), likewise

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


def load_runs(
    runs: str | Path, playbook: str | None = None, keep_tables: bool = False
) -> list[RunData]:
    """Every run in the store (of ``playbook`` when given), oldest first, with metrics;
    ``keep_tables`` keeps the parsed logs on each run for plotting."""
    from labkit.parse import read_record_log, read_tegrastats

    out = []
    for run_dir, manifest in list_runs(runs):
        if playbook and (manifest.get("playbook") or {}).get("name") != playbook:
            continue
        events = _parsed(run_dir, "record-events.parquet", "record.log", read_record_log)
        teg = _parsed(run_dir, "tegrastats.parquet", "tegrastats.log", read_tegrastats)
        run = RunData(run_dir, manifest, run_metrics(events, teg))
        if keep_tables:
            run.events, run.teg = events, teg
        out.append(run)
    return out
