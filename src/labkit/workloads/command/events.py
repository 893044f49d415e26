"""A command's events as a table, and the metrics of each event (loaded on use: pandas)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labkit.workloads.command.workload import value_of


def read_events(patterns: dict[str, re.Pattern], path: Path) -> pd.DataFrame:
    """Every line matching an event: columns event, line (1-based), value, time (NaT
    without a ``time`` group or when it does not read as a time), text."""
    rows = []
    with open(path, errors="replace") as fh:
        for i, line in enumerate(fh, 1):
            for name, pat in patterns.items():
                m = pat.search(line)
                if m:
                    when = m.group("time") if "time" in pat.groupindex else None
                    rows.append((name, i, value_of(m, None), when, line.rstrip("\n")[:500]))
    df = pd.DataFrame(rows, columns=["event", "line", "value", "time", "text"])
    df["value"] = df["value"].astype(float)
    df["line"] = df["line"].astype("int64")
    df["time"] = pd.to_datetime(df["time"], errors="coerce", format="ISO8601")
    if isinstance(df["time"].dtype, pd.DatetimeTZDtype):  # an offset given: local time
        df["time"] = df["time"].dt.tz_localize(None)
    return df


def run_metrics(
    patterns: dict[str, re.Pattern], events: pd.DataFrame | None, duration_s: float | None
) -> dict[str, Any]:
    """Per event its count, rate over ``duration_s`` and its values' statistics."""
    out: dict[str, Any] = {}
    if events is None:
        return out
    if duration_s and duration_s > 0:
        out["duration_s"] = float(duration_s)
    for name, pat in patterns.items():
        mine = events[events["event"] == name]
        out[f"{name}_count"] = int(len(mine))
        if duration_s:
            out[f"{name}_per_min"] = len(mine) / duration_s * 60
        if "value" in pat.groupindex:
            values = mine["value"].to_numpy(dtype=float)
            values = values[np.isfinite(values)]
            if len(values):
                out[f"{name}_min"] = float(values.min())
                out[f"{name}_median"] = float(np.median(values))
                out[f"{name}_p95"] = float(np.percentile(values, 95))
                out[f"{name}_max"] = float(values.max())
    return out


def event_times(events: pd.DataFrame, event: str) -> pd.Series:
    """When each ``event`` happened (NaT where the log does not say)."""
    mine = events[events["event"] == event]
    # a cache written before events had times: the events are there, their times not
    return mine["time"] if "time" in mine else pd.Series(pd.NaT, index=mine.index)
