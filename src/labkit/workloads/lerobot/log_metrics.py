"""LeRobot's metrics computed from its parsed record log (declared in ``metrics``), and its
late events: the slow-loop warnings, each covering the whole second it names.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from labkit.core.late import late_table
from labkit.workloads.lerobot.log import summarize_record_log
from labkit.workloads.lerobot.metrics import METRICS

HW_CODEC_SUFFIXES = ("_nvenc", "_v4l2m2m", "_vaapi", "_qsv", "_videotoolbox", "_nvmpi")
SECOND = pd.Timedelta(seconds=1)


def is_hw_codec(codec: str | None) -> bool | None:
    if not codec:
        return None
    return codec.lower().endswith(HW_CODEC_SUFFIXES)


def recording_seconds(events: pd.DataFrame) -> float | None:
    """From the first episode start to the last timestamped line of the log."""
    starts = events.loc[events["kind"] == "episode_start", "time"].dropna()
    times = events["time"].dropna()
    if starts.empty or times.empty:
        return None
    seconds = (times.max() - starts.min()).total_seconds()
    return seconds if seconds > 0 else None


def run_metrics(events: pd.DataFrame | None, duration_s: float | None = None) -> dict[str, Any]:
    """Every metric of ``METRICS`` for one run (``None`` where the log says nothing);
    ``duration_s``: the supervisor's time, else (an imported run) the record log's span."""
    out: dict[str, Any] = dict.fromkeys(METRICS)
    if events is None:
        return out
    s = summarize_record_log(events)
    out.update(
        warnings=s["slow_loop_count"],
        min_hz=s["min_hz"],
        p5_hz=s["p5_hz"],
        median_hz=s["median_hz"],
        episodes=s["episodes"],
        codec=s["codec"],
        hw_codec=is_hw_codec(s["codec"]),
        queue_full_drops=s["queue_full_drops"],
        dropped_frames=s["dropped_frames"],
        errors=s["errors"],
    )
    seconds = duration_s if duration_s and duration_s > 0 else recording_seconds(events)
    if seconds:
        out["duration_s"] = float(seconds)
        out["warnings_per_min"] = s["slow_loop_count"] / seconds * 60
    return out


def late_events(events: pd.DataFrame) -> pd.DataFrame:
    """The slow-loop warnings; the log has whole seconds: each covers the second it names."""
    slow = events[events["kind"] == "slow_loop"]
    return late_table(slow["time"], slow["time"], slow["time"] + SECOND, slow["hz"])


def summary(events: pd.DataFrame | None, metrics: dict[str, Any], keys: tuple) -> dict:
    """What a run's record keeps (``keys`` of its metrics), with the loop's target rate."""
    out = {k: metrics.get(k) for k in keys if events is not None or metrics.get(k)}
    if events is not None:
        warned = events.loc[events["kind"] == "slow_loop", "target_hz"]
        out["target_hz"] = float(warned.iloc[0]) if len(warned) else None
    return out


def late_timeline(events: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(seconds since the first episode started, Hz) of the run's slow-loop warnings."""
    start = events.loc[events["kind"] == "episode_start", "time"].dropna()
    t0 = start.min() if len(start) else events["time"].dropna().min()
    slow = events[(events["kind"] == "slow_loop") & events["time"].notna()]
    secs = (slow["time"] - t0).dt.total_seconds().to_numpy(dtype=float)
    return secs, slow["hz"].to_numpy(dtype=float)
