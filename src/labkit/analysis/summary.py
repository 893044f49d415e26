"""The numbers a run ends with: parsed from its logs, stored beside them, printed in one line."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from labkit.parse import read_record_log, read_tegrastats
from labkit.workloads.base import workload_seconds

SUMMARY_KEYS = (
    "warnings", "min_hz", "median_hz", "episodes", "codec", "errors",
    "cpu_mean_pct", "cpu_peak_pct",
)  # fmt: skip


def summarize_run(
    run_dir: Path, write_parsed: bool = True, record: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Warnings, Hz and CPU load of one run directory; writes the parsed tables as parquet.
    A run of another workload (``record``'s kind) gets its events' counts instead.

    The numbers are the report's own metrics (``labkit.analysis.metrics``), so the line a
    run ends with and the report can never disagree.
    """
    from labkit.analysis.metrics import run_metrics
    from labkit.workloads import DEFAULT_KIND, workload_of

    if record is not None and workload_of(record).kind != DEFAULT_KIND:
        return _workload_summary(run_dir, record, write_parsed)

    events = teg = None
    rec, mon = run_dir / "record.log", run_dir / "tegrastats.log"
    if rec.exists():
        events = read_record_log(rec)
        if write_parsed:
            events.to_parquet(run_dir / "record-events.parquet", index=False)
    if mon.exists():
        teg = read_tegrastats(mon)
        if write_parsed:
            teg.to_parquet(run_dir / "tegrastats.parquet", index=False)
    metrics = run_metrics(events, teg, workload_seconds(run_dir))
    out: dict[str, Any] = {}
    for key in SUMMARY_KEYS:
        value = metrics.get(key)
        if key.startswith("cpu_"):
            value = None if value is None else round(value, 1)
        elif isinstance(value, float):
            value = _num(value)
        if value is not None or (events is not None and not key.startswith("cpu_")):
            out[key] = value
    if events is not None:
        warned = events.loc[events["kind"] == "slow_loop", "target_hz"]
        out["target_hz"] = _num(float(warned.iloc[0])) if len(warned) else None
    if teg is not None:
        out["samples"] = len(teg)
    sim = run_dir / "sim.json"  # the simulated Jetson's draw for this run (its seed)
    if sim.exists():
        try:
            out["sim"] = json.loads(sim.read_text())
        except (OSError, ValueError):
            out["sim"] = None
    return out


def _workload_summary(run_dir: Path, record: dict[str, Any], write_parsed: bool) -> dict:
    """The counts, rates and medians of a command workload's events, CPU load beside."""
    from labkit.analysis.events import workload_run
    from labkit.workloads import workload_of

    workload = workload_of(record)
    run = workload_run(run_dir, record, workload, keep_tables=True)
    if write_parsed and run.workload_events is not None:
        run.workload_events.to_parquet(run_dir / workload.events_file, index=False)
    if write_parsed and run.teg is not None:
        run.teg.to_parquet(run_dir / "tegrastats.parquet", index=False)
    keep = ("_count", "_per_min", "_median", "_max")
    out: dict[str, Any] = {
        k: _num(v) if isinstance(v, float) else v
        for k, v in run.metrics.items()
        if k in workload.metrics and k.endswith(keep)
    }
    out["events"] = [k.removesuffix("_count") for k in workload.metrics if k.endswith("_count")]
    if getattr(workload, "event_units", None):  # the unit of each event's value: ms, ...
        out["units"] = dict(workload.event_units)
    for key in ("cpu_mean_pct", "cpu_peak_pct"):
        if run.metrics.get(key) is not None:
            out[key] = round(run.metrics[key], 1)
    if run.teg is not None:
        out["samples"] = len(run.teg)
    return out


def one_line(summary: dict[str, Any]) -> str:
    parts = []
    for event in summary.get("events") or []:  # a command workload's events
        n = summary.get(f"{event}_count")
        if n is None:
            continue
        median = summary.get(f"{event}_median")
        unit = (summary.get("units") or {}).get(event)
        value = "" if median is None else f" (median {median:g}{' ' + unit if unit else ''})"
        parts.append(f"{n} {event}{value}")
    if "warnings" in summary:
        parts.append(f"{summary['warnings']} slow-loop warnings")
        if summary.get("min_hz") is not None:
            parts.append(f"min {summary['min_hz']:g} Hz")
    if "cpu_mean_pct" in summary:
        parts.append(f"CPU mean {summary['cpu_mean_pct']:g}% / peak {summary['cpu_peak_pct']:g}%")
    if "samples" in summary:
        parts.append(f"{summary['samples']} tegrastats samples")
    return ", ".join(parts) or "no logs"


def _num(v: Any) -> float | None:
    if v is None or (isinstance(v, float) and (math.isnan(v) or math.isinf(v))):
        return None
    return float(v) if not isinstance(v, pd.Timestamp) else None
