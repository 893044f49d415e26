"""The numbers a run ends with: parsed from its logs, stored beside them, printed in one line."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from labkit.parse import read_record_log, read_tegrastats, summarize_record_log


def summarize_run(run_dir: Path, write_parsed: bool = True) -> dict[str, Any]:
    """Warnings, Hz and CPU load of one run directory; writes the parsed tables as parquet."""
    out: dict[str, Any] = {}
    rec = run_dir / "record.log"
    if rec.exists():
        events = read_record_log(rec)
        s = summarize_record_log(events)
        out.update(
            warnings=int(s["slow_loop_count"]),
            min_hz=_num(s["min_hz"]),
            median_hz=_num(s["median_hz"]),
            target_hz=_num(s["target_hz"]),
            episodes=int(s["episodes"]),
            codec=s["codec"],
            errors=int(s["errors"]),
        )
        if write_parsed:
            events.to_parquet(run_dir / "record-events.parquet", index=False)
    teg = run_dir / "tegrastats.log"
    if teg.exists():
        df = read_tegrastats(teg)
        loads = df[[c for c in df.columns if c.startswith("cpu") and c.endswith("_load_pct")]]
        out["samples"] = len(df)
        if len(loads):
            out["cpu_mean_pct"] = round(float(loads.mean(axis=1).mean()), 1)
            out["cpu_peak_pct"] = round(float(loads.max(axis=1).max()), 1)
        if write_parsed:
            df.to_parquet(run_dir / "tegrastats.parquet", index=False)
    return out


def one_line(summary: dict[str, Any]) -> str:
    parts = []
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
