"""The threads probe's metrics that need the workload's stage map: what its per-thread CPU
says over the late stretches a profiler found of the loop (``Observed.profile``: was one
thread pegged through them, which device's thread ran long), and each device thread's CPU
per frame (``Observed.device_of_thread``: LeRobot's camera read threads)."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from labkit.core.metrics import UNKNOWN
from labkit.core.observed import LoopStretch, Observed

SATURATED_PCT = 90.0  # a thread at this share of a core is pegged
TOP_SHARE = 0.25  # a device is named when its thread ran long in this share of late events
EXCESS_PCT = 5.0  # percentage points above its usual CPU that count as running long


def sampling_interval(table: pd.DataFrame) -> float:
    """The sampler's interval in seconds (median step of each thread; 0.1 when unknown)."""
    interval = table.groupby("tid")["time"].diff().dt.total_seconds().median()
    return float(interval) if interval == interval else 0.1  # NaN-safe


def profiled_metrics(table: pd.DataFrame, run: Observed, min_interval_ms: int) -> dict[str, Any]:
    """Pegged threads over the late stretches, the busy device there, and per device its
    read thread's CPU; ``min_interval_ms``: the shortest interval the probe takes (named
    when the late stretches are too short for the one used)."""
    out: dict[str, Any] = {}
    interval = sampling_interval(table)
    matched = run.profile.matched if run.profile is not None else []
    late = len(run.late_windows)
    # a thread's CPU is known per sampling interval: only a late stretch of at least two
    # intervals can show a thread pegged through it (a shorter one is averaged away)
    long = [s for s in matched if s is not None and s.seconds >= 2 * interval]
    if long:
        every = Samples.of(table)
        step = pd.Timedelta(seconds=interval)
        pegged = [every.peak(s.start + step, s.end) >= SATURATED_PCT for s in long]
        out["warnings_single_thread_saturated_share"] = sum(pegged) / len(long)
    elif late:
        out["warnings_single_thread_saturated_share"] = None  # too short to tell
        why = too_short(matched, late, interval, min_interval_ms)
        out[UNKNOWN] = {"warnings_single_thread_saturated_share": why}
    out.update(_busy_devices(table, run, interval))
    out.update(_device_reads(table, run))
    return out


@dataclass(frozen=True)
class Samples:
    """Samples in time order, for the peak CPU over many windows (an hour has 10^5 of
    them per thread and hundreds of late stretches: each window is found by bisection)."""

    times: np.ndarray  # int64 ns, sorted
    cpu: np.ndarray

    @classmethod
    def of(cls, rows: pd.DataFrame) -> Samples:
        ordered = rows.sort_values("time", kind="stable")
        times = ordered["time"].to_numpy(dtype="datetime64[ns]").astype("int64")
        return cls(times, ordered["cpu_pct"].to_numpy(dtype=float))

    def peak(self, after: pd.Timestamp, until: pd.Timestamp) -> float:
        """The highest CPU sampled in (``after``, ``until``]; -inf when none was."""
        lo = np.searchsorted(self.times, after.value, side="right")
        hi = np.searchsorted(self.times, until.value, side="right")
        return float(self.cpu[lo:hi].max()) if hi > lo else -math.inf


def _busy_devices(table: pd.DataFrame, run: Observed, interval: float) -> dict[str, Any]:
    """Per device, the share of late events whose late stretch, spent mostly in the stage
    that waits on a device, had that device's thread running long; and the device named
    when it explains a real part of them."""
    stages, profile = run.stages, run.profile
    if stages is None or stages.device_stage is None or profile is None:
        return {}
    if run.device_of_thread is None or not run.devices:
        return {}
    hits = [s for s in profile.matched if s is not None]
    if not hits:
        return {}
    device = stages.device_stage
    bound = [s for s in hits if s.stages.get(device, 0.0) >= 0.5 * sum(s.stages.values())]
    threads = _device_threads(table, run)
    busy = Counter(_busy_device(threads, run, s, interval) for s in bound)
    busy.pop(None, None)
    devices = sorted(set(run.devices))
    out: dict[str, Any] = {f"warn_camera_share_{d}": busy.get(d, 0) / len(hits) for d in devices}
    top = busy.most_common(1)[0] if busy else None
    # named only when it explains a real part of the late events, not a stray one
    out["warn_camera_top"] = top[0] if top and top[1] / len(hits) >= TOP_SHARE else None
    return out


def _device_threads(table: pd.DataFrame, run: Observed) -> list[tuple[str, Samples, float]]:
    """Each thread name the workload ties to a device: (device, its samples, its median
    CPU), in the names' order."""
    assert run.device_of_thread is not None
    out = []
    for name, mine in table.groupby("name"):
        dev = run.device_of_thread(str(name))
        if dev is not None:
            out.append((dev, Samples.of(mine), float(mine["cpu_pct"].median())))
    return out


def _busy_device(
    threads: list[tuple[str, Samples, float]], run: Observed, s: LoopStretch, interval: float
) -> str | None:
    """The device whose thread used the most CPU above its own median over a late stretch
    (the sampling intervals that overlap it): the device the loop waited on when its read
    ran long. None with no such excess."""
    lo = s.start - pd.Timedelta(seconds=run.budget_s or 0.0)
    hi = s.end + pd.Timedelta(seconds=interval)
    best, excess = None, EXCESS_PCT
    for dev, samples, usual in threads:
        over = samples.peak(lo, hi) - usual
        if over > excess:
            best, excess = dev, over
    return best


def _device_reads(table: pd.DataFrame, run: Observed) -> dict[str, Any]:
    """Each device thread's CPU ms per frame (at the devices' rate, else the loop's) and
    its mean CPU."""
    out: dict[str, Any] = {}
    if run.device_of_thread is None:
        return out
    if run.device_fps:
        per_frame = 1000.0 / run.device_fps
    elif run.budget_s:
        per_frame = 1000.0 * run.budget_s
    else:
        return out
    for name, mine in table.groupby("name", sort=False):
        dev = run.device_of_thread(str(name))
        if dev is None:
            continue
        pct = mine["cpu_pct"].to_numpy(dtype=float)
        ms = pct / 100.0 * per_frame  # CPU ms of the read thread per captured frame
        out[f"camera_read_ms_p50_{dev}"] = float(np.percentile(ms, 50))
        out[f"camera_read_ms_p95_{dev}"] = float(np.percentile(ms, 95))
        out[f"camera_read_ms_max_{dev}"] = float(ms.max())
        out[f"camera_read_thread_cpu_pct_{dev}"] = float(pct.mean())
    return out


def too_short(
    matched: list[LoopStretch | None], late: int, interval: float, min_interval_ms: int
) -> str:
    """Why no late stretch could show a thread pegged through it, and what would: the
    ``threads`` interval that makes the longest matched stretch two intervals long."""
    hits = [s for s in matched if s is not None]
    if not hits:
        if not matched:
            return (
                f"none of the {late} late events could be placed on the loop thread "
                "(no py-spy profile of its late iterations: add the `pyspy` probe)"
            )
        return (
            f"none of the {late} late events was matched to a late iteration of the py-spy profile"
        )
    longest = max(s.seconds for s in hits) * 1000.0
    step = int(longest // 2)
    fix = (
        f"a `threads` interval of {step} ms (`probe_options: {{threads: {{interval_ms: "
        f"{step}}}}}`) would decide it"
        if step >= min_interval_ms
        else f"even the shortest `threads` interval ({min_interval_ms} ms) is too long for them"
    )
    return (
        f"no late stretch was two sampling intervals long (the longest of the {len(hits)} "
        f"matched to a warning: {longest:.0f} ms; the `threads` interval: "
        f"{interval * 1000:.0f} ms); {fix}"
    )
