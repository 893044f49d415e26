"""Per-run metrics of the built-in pair (lerobot-record + tegrastats), and the helpers the
report shares for them (rounding, relative change).

Each number is computed by the plug-in that declares it (``labkit.workloads.lerobot``,
``labkit.probes.tegrastats``); this module only puts the two together for callers that
hold the two parsed logs.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from labkit.metric_names import METRICS
from labkit.probes.tegrastats.compute import coincidence, core_loads, nvenc_active, sample_metrics
from labkit.workloads.lerobot.log_metrics import is_hw_codec, recording_seconds
from labkit.workloads.lerobot.log_metrics import run_metrics as record_metrics

__all__ = ["core_loads", "is_hw_codec", "nvenc_active", "recording_seconds", "run_metrics"]


def warned(events: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray]:
    """(seconds since the recording started, Hz) of the run's slow-loop warnings."""
    if events is None:
        return np.array([]), np.array([])
    start = events.loc[events["kind"] == "episode_start", "time"].dropna()
    t0 = start.min() if len(start) else events["time"].dropna().min()
    slow = events[(events["kind"] == "slow_loop") & events["time"].notna()]
    secs = (slow["time"] - t0).dt.total_seconds().to_numpy(dtype=float)
    return secs, slow["hz"].to_numpy(dtype=float)


def run_metrics(
    events: pd.DataFrame | None, teg: pd.DataFrame | None, duration_s: float | None = None
) -> dict[str, Any]:
    """Every metric of ``METRICS`` for one run (``None`` where the logs say nothing);
    ``duration_s``: the supervisor's ``workload_s`` (else the record log's span)."""
    out: dict[str, Any] = dict.fromkeys(METRICS)
    out.update(record_metrics(events, duration_s))
    if teg is not None and len(teg):
        out.update(sample_metrics(teg))
        if events is not None:
            warned = events.loc[events["kind"] == "slow_loop", "time"].dropna()
            out.update(coincidence(warned, teg))
    return out


def relative_change(base: float, value: float) -> float:
    """(value - base) / base; from zero to something is unbounded (signed inf), 0 -> 0 is 0."""
    if base:
        return (value - base) / base
    return 0.0 if value == 0 else math.copysign(math.inf, value)


def rounded(metrics: dict[str, Any], digits: int = 3) -> dict[str, Any]:
    """For tables and JSON: floats rounded, NaN as None."""
    out = {}
    for k, v in metrics.items():
        if isinstance(v, float):
            v = None if math.isnan(v) else round(v, digits)
        out[k] = v
    return out
