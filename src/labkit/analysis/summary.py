"""The numbers a run ends with: parsed from its logs, stored beside them, printed in one line."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from labkit.analysis.runs import run_data
from labkit.registry import DEFAULT_KIND, workload_of


def summarize_run(
    run_dir: Path, write_parsed: bool = True, record: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The workload's numbers of one run (its ``summary``: warnings and Hz, or a command's
    event counts), CPU load beside; writes the parsed tables as parquet beside their logs.
    ``record``: the run's record (None: hand-run lerobot-record logs, as ``invoke import``
    brings them).

    The numbers are the report's own metrics (``labkit.analysis.runs.run_data``), so the
    line a run ends with and the report can never disagree.
    """
    run_dir = Path(run_dir)
    if record is None:
        teg = (run_dir / "tegrastats.log").exists()
        record = {"workload": {"kind": DEFAULT_KIND}, "probes": {"tegrastats": {}} if teg else {}}
    workload = workload_of(record)
    run = run_data(run_dir, record, workload, keep_tables=True)
    if write_parsed and run.events is not None:
        run.events.to_parquet(run_dir / workload.events_file, index=False)
    if write_parsed and run.teg is not None:
        run.teg.to_parquet(run_dir / "tegrastats.parquet", index=False)
    out = {
        k: _num(v) if isinstance(v, float) else v
        for k, v in workload.summary(run.metrics, run.events).items()
    }
    for key in ("cpu_mean_pct", "cpu_peak_pct"):
        if run.metrics.get(key) is not None:
            out[key] = round(run.metrics[key], 1)
    if run.teg is not None:
        out["samples"] = len(run.teg)
    sim = run_dir / "sim.json"  # the simulated Jetson's draw for this run (its seed)
    if sim.exists():
        try:
            out["sim"] = json.loads(sim.read_text())
        except (OSError, ValueError):
            out["sim"] = None
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
