"""The tegrastats probe's metrics (declared in ``metrics``) computed from its samples and
the workload's late events.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

SATURATED_PCT = 90.0
INPUT_RAILS = ("power_vdd_in_mw", "power_vin_mw", "power_vin_sys_5v0_mw", "power_pom_5v_in_mw")


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


def sample_metrics(teg: pd.DataFrame) -> dict[str, Any]:
    """The metrics of the samples alone (no late events needed)."""
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


def coincidence(late: pd.Series, teg: pd.DataFrame) -> dict[str, Any]:
    """Share of late events (``late``: their times) within one sample of a single-core /
    all-core saturated sample."""
    times = teg["time"] if "time" in teg else pd.Series(dtype="datetime64[ns]")
    loads = core_loads(teg)
    if late.empty or times.isna().all() or not loads.shape[1]:
        return {}
    ok = times.notna().to_numpy()
    stamps = times[ok].astype("datetime64[ns]").to_numpy().astype("int64")
    any_hot, all_hot = (a[ok] for a in saturation(loads))
    order = np.argsort(stamps, kind="stable")
    stamps, any_hot, all_hot = stamps[order], any_hot[order], all_hot[order]
    at = late.astype("datetime64[ns]").to_numpy().astype("int64")
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
