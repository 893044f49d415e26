"""What a gstreamer run measured: per fpsdisplaysink and over all of them.

Declared as :class:`labkit.core.metrics.Metric` (unit, kind, how runs combine, which way
is better); per-sink metrics once per sink the pipeline names (``fps_average_cam0``).
``late_sample`` is the workload's late event: a sink sample whose rate over its interval
was below 95 % of ``target_fps``.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

from labkit.core.metrics import Metric

if TYPE_CHECKING:
    import pandas as pd

SOURCE = "gstreamer"
LATE_EVENT = "late_sample"

OVERALL: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("fps_average_min", "average frame rate of the slowest sink over the run",
               "fps", "mean", source=SOURCE, kind="frequency", better="higher"),
        Metric("frames_dropped_share", "frames the sinks dropped, share of all they got",
               "", "mean", source=SOURCE, kind="share", better="lower"),
        Metric("late_sample_count", "sink samples below 95 % of target_fps in the run",
               "", "mean", source=SOURCE, kind="count", better="lower"),
        Metric("late_sample_per_min", "sink samples below 95 % of target_fps per minute",
               "1/min", "mean", source=SOURCE, kind="rate", better="lower",
               count_of="late_sample_count"),
        Metric("duration_s", "seconds the workload ran (the exposure of its counts)",
               "s", "mean", source=SOURCE, kind="duration", spread=True),
    )
}  # fmt: skip


def sink_key(sink: str) -> str:
    """A sink's name as it appears in metric names (letters, digits and _)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", sink)


def per_sink(sink: str) -> dict[str, Metric]:
    """The four metrics of one fpsdisplaysink."""
    k = sink_key(sink)
    return {
        m.name: m
        for m in (
            Metric(f"fps_average_{k}", f"average frame rate of sink {sink} over the run",
                   "fps", "mean", source=SOURCE, kind="frequency", better="higher"),
            Metric(f"fps_current_min_{k}", f"lowest 500 ms frame rate of sink {sink}",
                   "fps", "min", source=SOURCE, kind="frequency", better="higher"),
            Metric(f"frames_rendered_{k}", f"frames sink {sink} rendered",
                   "", "mean", source=SOURCE, kind="count", better="higher"),
            Metric(f"frames_dropped_{k}", f"frames sink {sink} dropped",
                   "", "mean", source=SOURCE, kind="count", better="lower"),
        )
    }  # fmt: skip


def declared(sinks: list[str]) -> dict[str, Metric]:
    """Every metric of a pipeline with these sinks, the overall ones first."""
    out = dict(OVERALL)
    for sink in sinks:
        out.update(per_sink(sink))
    return out


def run_metrics(samples: pd.DataFrame | None, duration_s: float | None) -> dict[str, Any]:
    """One run's metrics from its sink samples; None where the run cannot say."""
    out: dict[str, Any] = dict.fromkeys(OVERALL)
    if duration_s is None and samples is not None and len(samples) > 1:
        duration_s = (samples["time"].max() - samples["time"].min()).total_seconds()
    out["duration_s"] = duration_s
    if samples is None or samples.empty:
        return out
    averages, rendered, dropped = [], 0, 0
    for sink, rows in samples.groupby("sink", sort=False):
        k = sink_key(str(sink))
        last = rows.iloc[-1]  # the counters and the average run from the start
        avg = float(last["average"])
        cur = rows["current"].to_numpy(dtype=float)
        cur = cur[[math.isfinite(v) for v in cur]]
        out[f"fps_average_{k}"] = avg if math.isfinite(avg) else None
        out[f"fps_current_min_{k}"] = float(cur.min()) if len(cur) else None
        out[f"frames_rendered_{k}"] = int(last["rendered"])
        out[f"frames_dropped_{k}"] = int(last["dropped"])
        if math.isfinite(avg):
            averages.append(avg)
        rendered += int(last["rendered"])
        dropped += int(last["dropped"])
    out["fps_average_min"] = min(averages) if averages else None
    got = rendered + dropped
    out["frames_dropped_share"] = dropped / got if got else None
    late = int((samples["event"] == LATE_EVENT).sum())
    out["late_sample_count"] = late
    out["late_sample_per_min"] = late / duration_s * 60 if duration_s else None
    return out


def late_events(samples: pd.DataFrame | None) -> pd.DataFrame | None:
    """The late samples as probes take late events: ``time`` (end of the interval),
    ``start`` (its beginning) and ``hz`` (the rate the sink got over it); None: no log."""
    # on use: pandas (the CLI's start-up time)
    from labkit.core.late import late_table  # noqa: PLC0415

    if samples is None:
        return None

    late = samples[samples["event"] == LATE_EVENT]
    return late_table(late["time"], late["start"], late["time"], late["current"])


def late_times(samples: pd.DataFrame | None) -> pd.Series:
    """When the late events happened (naive local time), for probes' coincidence."""
    # on use: the run path loads this module without pandas (start-up)
    import pandas as pd  # noqa: PLC0415

    if samples is None or samples.empty:
        return pd.Series(dtype="datetime64[ns]")
    return samples.loc[samples["event"] == LATE_EVENT, "time"].reset_index(drop=True)
