"""Per-run metrics of the built-in pair (the default workload -- lerobot-record -- and
tegrastats), and the helpers the report shares for them (rounding, relative change).

Each number is computed by the plug-in that declares it, found through the registry;
this module only puts the two together for callers that hold the two parsed logs.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from labkit.metric_names import METRICS
from labkit.probes.tegrastats.compute import coincidence, core_loads, nvenc_active, sample_metrics
from labkit.registry import DEFAULT_KIND, get_workload

__all__ = ["core_loads", "nvenc_active", "run_metrics"]


def run_metrics(
    events: pd.DataFrame | None, teg: pd.DataFrame | None, duration_s: float | None = None
) -> dict[str, Any]:
    """Every metric of ``METRICS`` for one run (``None`` where the logs say nothing);
    ``events``: the default workload's parsed log; ``duration_s``: the supervisor's
    ``workload_s`` (else the log's span)."""
    workload = get_workload(DEFAULT_KIND)()
    out: dict[str, Any] = dict.fromkeys(METRICS)
    out.update(workload.run_metrics(events, duration_s))
    if teg is not None and len(teg):
        out.update(sample_metrics(teg))
        late = workload.late_events(events)  # LeRobot's: its slow-loop warnings
        if late is not None:
            out.update(coincidence(late["time"].dropna(), teg))
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
