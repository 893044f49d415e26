"""Busy cores held below their clock: the thermal threat's measure, one number per run.

Computed with the run's other metrics (and stored with them), so the report's threat
check needs no run's samples.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from labkit.probes.tegrastats.compute import core_loads
from labkit.records.model import RunRecord

SLOW_BUSY = "slow_busy_share"  # the key it is stored under beside the run's metrics
BUSY_PCT = 90.0
SLOW_CLOCK = 0.9  # a busy core below this share of its configured maximum is held back
CLOCK_SETTINGS = ("settings.nvpmodel", "settings.jetson_clocks", "nvpmodel", "jetson_clocks")


def configured_max_mhz(manifest: RunRecord) -> dict[int, float]:
    cpus = ((manifest.facts or {}).get("cpu") or {}).get("cpus") or {}
    out = {}
    for i, c in cpus.items():
        if isinstance(c, dict) and c.get("max_khz"):
            out[int(i)] = c["max_khz"] / 1000
    return out


def slow_busy_share(teg: pd.DataFrame | None, manifest: RunRecord) -> float | None:
    """Share of busy-core samples whose clock is below 90 % of the configured maximum."""
    maxes = configured_max_mhz(manifest)
    if teg is None or not len(teg) or not maxes:
        return None
    settings = manifest.settings
    if any(settings.get(k) is not None for k in CLOCK_SETTINGS):
        return None  # the run set its own clocks: the facts' maximum is not what it ran at
    loads = core_loads(teg)
    busy = slow = 0
    for col in loads.columns:
        i = int(col[3:].split("_")[0])
        freq = f"cpu{i}_freq_mhz"
        if i not in maxes or freq not in teg:
            continue
        load = loads[col].to_numpy(dtype=float)
        mhz = teg[freq].to_numpy(dtype=float)
        hot = (load >= BUSY_PCT) & ~np.isnan(mhz)
        busy += int(hot.sum())
        slow += int((hot & (mhz < SLOW_CLOCK * maxes[i])).sum())
    return slow / busy if busy else None
