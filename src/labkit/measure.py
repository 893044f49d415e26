"""A run measured by its plug-ins: one path for every workload and probe, from the pulled
logs to the numbers.

The workload parses its log and gives its metrics and what the probes are told of the run
(late events, loop thread, stages); each probe the record names parses its own files and
gives its metrics. Below the engine, which keeps a run's ``summary`` in its record and
prints its one line from it, and below the analysis, which adds the deeper looks and
judges; so the line a run ends with and the report read the same numbers.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labkit.core.metrics import UNKNOWN
from labkit.core.observed import Observed
from labkit.records.model import RunRecord
from labkit.registry import PROBES, workload_of
from labkit.workloads import Workload


@dataclass
class Measured:
    """One run's plug-in metrics and the tables they came from."""

    metrics: dict[str, Any]
    events: Any  # the workload's parsed events (pandas), None without its log
    observed: Observed  # what the probes were told (late events, loop thread, stages)
    tables: dict[str, Any] = field(default_factory=dict)  # probe name -> its parsed table


def measure_run(run_dir: Path, record: RunRecord, workload: Workload) -> Measured:
    """The metrics of the run's workload and of every probe its record names (None for
    each metric a plug-in declares and could not compute; skipped probes: all None)."""
    events = workload.parse(run_dir)
    observed = workload.observe(run_dir, record, events)
    names = [n for n in record.probes if n in PROBES]
    metrics: dict[str, Any] = dict.fromkeys(workload.metrics)
    for name in names:
        metrics.update(dict.fromkeys(PROBES[name].metrics))
    metrics.update(workload.run_metrics(events, observed.duration_s))
    ran = {n: PROBES[n]() for n in names if not record.probes[n].skipped}
    tables: dict[str, Any] = {name: probe.parse(run_dir) for name, probe in ran.items()}
    # what a profiler found of the loop (py-spy's late stretches) is told to every probe
    for name, probe in ran.items():
        found = probe.profile(tables[name], observed)
        if found is not None:
            observed.profile = found
    for name, probe in ran.items():
        got = dict(probe.run_metrics(tables[name], observed))
        unknown = {**(metrics.get(UNKNOWN) or {}), **(got.pop(UNKNOWN, None) or {})}
        metrics.update(got)
        if unknown:  # each probe's reasons for the metrics it left unknown, kept together
            metrics[UNKNOWN] = unknown
    return Measured(metrics, events, observed, tables)


def summarize_run(run_dir: Path, record: RunRecord, write_parsed: bool = True) -> dict:
    """What a run's record keeps as its ``summary``: the workload's part of its metrics
    (warnings and Hz, a command's event counts, a pipeline's late samples), each probe's
    (tegrastats: CPU load, samples) and the simulated Jetson's draw; the parsed tables are
    written as parquet beside their logs (``write_parsed``)."""
    run_dir = Path(run_dir)
    workload = workload_of(record)
    run = measure_run(run_dir, record, workload)
    if write_parsed and run.events is not None:
        run.events.to_parquet(run_dir / workload.events_file, index=False)
    out = {k: _num(v) for k, v in workload.summary(run.metrics, run.events).items()}
    for name, table in run.tables.items():
        probe = PROBES[name]()
        if write_parsed and table is not None and probe.parsed_file:
            table.to_parquet(run_dir / probe.parsed_file, index=False)
        out.update(probe.summary(run.metrics, table))
    sim = run_dir / "sim.json"  # the simulated Jetson's draw for this run (its seed)
    if sim.exists():
        try:
            out["sim"] = json.loads(sim.read_text())
        except (OSError, ValueError):
            out["sim"] = None
    return out


def one_line(record: RunRecord) -> str:
    """A finished run in one line, from its record's ``summary``: the workload's part
    (counts, rates), then each probe's."""
    summary = record.summary
    parts = workload_of(record).summary_line(summary)
    for name in record.probes:
        if name in PROBES:
            parts += PROBES[name]().summary_line(summary)
    return ", ".join(parts) or "no logs"


def _num(v: Any) -> Any:
    """A float as JSON takes it (NaN and infinities: None); anything else as it is."""
    if isinstance(v, float):
        return float(v) if math.isfinite(v) else None
    return v
