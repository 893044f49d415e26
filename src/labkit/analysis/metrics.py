"""Per-run metrics (the names in ``labkit.metric_names``) from the two parsed logs.

Every number a report or a hypothesis check uses for one run is computed here, from the
record-log events and the tegrastats samples, so a verdict can always be traced back to
lines of the logs. A metric that the logs cannot give is ``None`` (never a guess).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from labkit.metric_names import METRICS
from labkit.parse import summarize_record_log

SATURATED_PCT = 90.0
HW_CODEC_SUFFIXES = ("_nvenc", "_v4l2m2m", "_vaapi", "_qsv", "_videotoolbox", "_nvmpi")
INPUT_RAILS = ("power_vdd_in_mw", "power_vin_mw", "power_vin_sys_5v0_mw", "power_pom_5v_in_mw")


def is_hw_codec(codec: str | None) -> bool | None:
    if not codec:
        return None
    return codec.lower().endswith(HW_CODEC_SUFFIXES)


def core_loads(teg: pd.DataFrame) -> pd.DataFrame:
    """The ``cpu{i}_load_pct`` columns in core order."""
    cols = [c for c in teg.columns if c.startswith("cpu") and c.endswith("_load_pct")]
    return teg[sorted(cols, key=lambda c: int(c[3:].split("_")[0]))]


def saturation(loads: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per sample: some online core >= 90 %, and every online core >= 90 %."""
    values = loads.to_numpy(dtype=float)
    online = ~np.isnan(values)
    hot = np.where(online, values >= SATURATED_PCT, False)
    any_hot = hot.any(axis=1)
    all_hot = (hot | ~online).all(axis=1) & online.any(axis=1)
    return any_hot, all_hot


def recording_seconds(events: pd.DataFrame) -> float | None:
    """From the first episode start to the last timestamped line of the log."""
    starts = events.loc[events["kind"] == "episode_start", "time"].dropna()
    times = events["time"].dropna()
    if starts.empty or times.empty:
        return None
    seconds = (times.max() - starts.min()).total_seconds()
    return seconds if seconds > 0 else None


def run_metrics(
    events: pd.DataFrame | None, teg: pd.DataFrame | None, duration_s: float | None = None
) -> dict[str, Any]:
    """Every metric of ``METRICS`` for one run (``None`` where the logs say nothing).

    ``duration_s``: the seconds the workload ran (the supervisor's ``workload_s``); an
    imported run without it is timed by its record log. It is the exposure of the run's
    counts (``duration_s``), so ``warnings_per_min`` is ``warnings`` over exactly it."""
    out: dict[str, Any] = dict.fromkeys(METRICS)
    if events is not None:
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
    if teg is not None and len(teg):
        out.update(_tegrastats_metrics(teg))
        if events is not None:
            out.update(_coincidence(events, teg))
    return out


def _tegrastats_metrics(teg: pd.DataFrame) -> dict[str, Any]:
    out: dict[str, Any] = {}
    loads = core_loads(teg)
    if loads.shape[1]:
        values = loads.to_numpy(dtype=float)
        if not np.isnan(values).all():
            out["cpu_peak_pct"] = float(np.nanmax(values))
            out["cpu_mean_pct"] = float(np.nanmean(values))
            any_hot, all_hot = saturation(loads)
            out["any_core_saturated_share"] = float(any_hot.mean())
            out["all_cores_saturated_share"] = float(all_hot.mean())
    if "ram_used_mb" in teg and teg["ram_used_mb"].notna().any():
        out["ram_used_mb_max"] = float(teg["ram_used_mb"].max())
    temps = teg[[c for c in teg.columns if c.startswith("temp_")]]
    if temps.shape[1] and temps.notna().any().any():
        out["temp_max_c"] = float(np.nanmax(temps.to_numpy(dtype=float)))
    rail = next((c for c in INPUT_RAILS if c in teg and teg[c].notna().any()), None)
    if rail:
        out["power_in_mean_mw"] = float(teg[rail].mean())
    out["nvenc_active"] = nvenc_active(teg)
    return out


def nvenc_active(teg: pd.DataFrame) -> bool | None:
    """Did NVENC work? A load above 0 % says yes; where only clocks are printed (Thor idles
    at ``NVENC0_FREQ @314``), a clock that moved says yes, one that never moved says
    nothing (``None``): a printed clock is not work."""
    loads = [
        c
        for c in teg.columns
        if c.startswith("nvenc") and c.endswith("_load_pct") and teg[c].notna().any()
    ]
    if loads:
        return bool(np.nan_to_num(teg[loads].to_numpy(dtype=float), nan=0.0).max() > 0)
    freqs = [c for c in teg.columns if c.startswith("nvenc") and c.endswith("_freq_mhz")]
    if not freqs:
        return None
    clocks = teg[freqs]
    if clocks.isna().all().all():
        return False  # every sample says `off`
    return True if (clocks.max() > clocks.min()).any() else None


def _coincidence(events: pd.DataFrame, teg: pd.DataFrame) -> dict[str, Any]:
    """Share of warnings within one sample of a single-core / all-core saturated sample."""
    warned = events.loc[events["kind"] == "slow_loop", "time"].dropna()
    times = teg["time"] if "time" in teg else pd.Series(dtype="datetime64[ns]")
    loads = core_loads(teg)
    if warned.empty or times.isna().all() or not loads.shape[1]:
        return {}
    ok = times.notna().to_numpy()
    stamps = times[ok].astype("datetime64[ns]").to_numpy().astype("int64")
    any_hot, all_hot = (a[ok] for a in saturation(loads))
    order = np.argsort(stamps, kind="stable")
    stamps, any_hot, all_hot = stamps[order], any_hot[order], all_hot[order]
    at = warned.astype("datetime64[ns]").to_numpy().astype("int64")
    nearest = np.clip(np.searchsorted(stamps, at), 0, len(stamps) - 1)
    prev = np.clip(nearest - 1, 0, len(stamps) - 1)
    nearest = np.where(np.abs(stamps[prev] - at) < np.abs(stamps[nearest] - at), prev, nearest)

    def near(flags: np.ndarray) -> float:
        hits = [flags[max(0, i - 1) : i + 2].any() for i in nearest]
        return float(np.mean(hits))

    return {
        "warnings_single_core_saturated_share": near(any_hot),
        "warnings_all_cores_saturated_share": near(all_hot),
    }


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
