"""The tegrastats probe's per-run metrics (``Tegrastats.run_metrics``): its samples alone,
and their coincidence with the workload's late events (here LeRobot's slow-loop warnings,
as the workload tells them to the probe); values checked by hand on small synthetic runs."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from labkit.core.observed import Observed
from labkit.parse import read_tegrastats
from labkit.probes.tegrastats import Tegrastats
from labkit.probes.tegrastats.compute import nvenc_active
from labkit.workloads.lerobot import LerobotRecord
from tests.conftest import DATA
from tests.workloads.lerobot.synthetic import record_log

PROBE = Tegrastats()


def tegrastats(loads_by_second: dict[int, list[int]], seconds: int = 31) -> pd.DataFrame:
    """Thor-dialect samples at 1 s; 14 cores at 10 % unless given for that second."""
    lines = []
    for sec in range(seconds):
        loads = loads_by_second.get(sec, [10] * 14)
        cpus = ",".join(f"{x}%@972" for x in loads)
        lines.append(
            f"09-01-2026 14:02:{sec:02d} RAM {50000 + sec}/125772MB (lfb 34x4MB) CPU [{cpus}] "
            "EMC_FREQ 0%@2750 GR3D_FREQ @[314,314,314] NVENC0_FREQ @314 "
            f"cpu@{40 + sec / 10:.1f}C tj@{45 + sec / 10:.1f}C VIN 20000mW/20000mW"
        )
    return read_tegrastats(lines)


def observed(events: pd.DataFrame | None) -> Observed:
    """The run as the probe is told it: LeRobot's warnings are its late events."""
    return Observed(Path("."), {}, LerobotRecord().late_events(events))


def test_saturation_shares_and_coincidence():
    one_hot = [100] + [10] * 13
    all_hot = [95] * 14
    teg = tegrastats({5: one_hot, 11: one_hot, 20: all_hot})
    # warnings at 5 (same sample as a single-core peak), 10 (next to 11), 25 (nothing near)
    m = PROBE.run_metrics(teg, observed(record_log([(5, 20.0), (10, 19.0), (25, 21.0)])))
    assert m["any_core_saturated_share"] == pytest.approx(3 / 31)
    assert m["all_cores_saturated_share"] == pytest.approx(1 / 31)
    assert m["warnings_single_core_saturated_share"] == pytest.approx(2 / 3)
    assert m["warnings_all_cores_saturated_share"] == 0.0
    assert m["cpu_peak_pct"] == 100.0
    assert m["cpu_mean_pct"] == pytest.approx((28 * 10 + 2 * (100 + 13 * 10) / 14 + 95) / 31)
    assert m["ram_used_mb_max"] == 50030.0
    assert m["temp_max_c"] == 48.0
    assert m["power_in_mean_mw"] == 20000.0
    assert m["nvenc_active"] is None  # Thor prints NVENC0_FREQ @314 busy or not


def test_nvenc_activity_needs_work_not_a_printed_clock():
    busy = pd.DataFrame({"nvenc_load_pct": [0.0, 12.0], "nvenc_freq_mhz": [115.0, 716.0]})
    idle = pd.DataFrame({"nvenc_load_pct": [0.0, 0.0]})
    off = pd.DataFrame({"nvenc0_freq_mhz": [math.nan, math.nan]})
    moved = pd.DataFrame({"nvenc0_freq_mhz": [314.0, 998.0]})
    assert nvenc_active(busy) is True and nvenc_active(idle) is False
    assert nvenc_active(off) is False and nvenc_active(moved) is True
    assert nvenc_active(pd.DataFrame({"gpu_load_pct": [1.0]})) is None


def test_real_thor_line():
    """thor-r38.txt: one idle sample, CPU [0,0,0,0,0,0,1,0,0,0,0,8,0,0], RAM 105265 MB;
    no record log: no late events to relate the samples to."""
    m = PROBE.run_metrics(read_tegrastats(DATA / "tegrastats" / "thor-r38.txt"), observed(None))
    assert m["cpu_peak_pct"] == 8.0 and m["cpu_mean_pct"] == pytest.approx(9 / 14)
    assert m["any_core_saturated_share"] == 0.0 and m["ram_used_mb_max"] == 105265.0
    assert m["nvenc_active"] is None
    assert "warnings_single_core_saturated_share" not in m
