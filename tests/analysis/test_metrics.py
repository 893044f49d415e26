"""Per-run metrics from parsed logs: values checked by hand on small synthetic runs."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from labkit.analysis.metrics import nvenc_active, run_metrics
from labkit.metric_names import METRICS, REGISTRY
from labkit.parse import read_tegrastats
from labkit.workloads.lerobot.log import read_record_log
from tests.conftest import DATA

PREFIX = "2026-09-01 14:02:{:02d}"


def record_log(warnings: list[tuple[int, float]], codec: str = "h264_nvenc") -> pd.DataFrame:
    """Episode 0 from second 0 to 30, slow-loop warnings at (second, Hz)."""
    lines = [
        f"INFO {PREFIX.format(0)} gs/video.py:186 Auto-selected video codec: {codec}",
        f"INFO {PREFIX.format(0)} ls/utils.py:147 Recording episode 0",
    ]
    for sec, hz in warnings:
        lines.append(
            f"WARNING {PREFIX.format(sec)} t_record.py:352 Record loop is running slower "
            f"({hz} Hz) than the target FPS (30 Hz)."
        )
    lines.append(f"INFO {PREFIX.format(30)} ls/utils.py:147 Stop recording")
    return read_record_log(lines)


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


def test_record_metrics_and_rate_per_minute():
    m = run_metrics(record_log([(5, 24.0), (10, 9.6), (20, 15.5)]), None)
    assert m["warnings"] == 3 and m["min_hz"] == 9.6 and m["median_hz"] == 15.5
    assert m["warnings_per_min"] == pytest.approx(6.0)  # 3 in 30 s
    assert m["duration_s"] == 30.0  # imported: the record log's span
    assert m["codec"] == "h264_nvenc" and m["hw_codec"] is True and m["episodes"] == 1
    assert run_metrics(record_log([], codec="libsvtav1"), None)["hw_codec"] is False
    assert set(m) == set(METRICS)


def test_the_supervisors_workload_time_is_the_exposure_of_the_counts():
    m = run_metrics(record_log([(5, 24.0), (10, 9.6), (20, 15.5)]), None, duration_s=36.0)
    assert m["duration_s"] == 36.0
    assert m["warnings_per_min"] == pytest.approx(3 / 36 * 60)
    assert REGISTRY["duration_s"].kind == "duration" and REGISTRY["duration_s"].unit == "s"


def test_saturation_shares_and_coincidence():
    one_hot = [100] + [10] * 13
    all_hot = [95] * 14
    teg = tegrastats({5: one_hot, 11: one_hot, 20: all_hot})
    # warnings at 5 (same sample as a single-core peak), 10 (next to 11), 25 (nothing near)
    m = run_metrics(record_log([(5, 20.0), (10, 19.0), (25, 21.0)]), teg)
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
    """thor-r38.txt: one idle sample, CPU [0,0,0,0,0,0,1,0,0,0,0,8,0,0], RAM 105265 MB."""
    m = run_metrics(None, read_tegrastats(DATA / "tegrastats" / "thor-r38.txt"))
    assert m["cpu_peak_pct"] == 8.0 and m["cpu_mean_pct"] == pytest.approx(9 / 14)
    assert m["any_core_saturated_share"] == 0.0 and m["ram_used_mb_max"] == 105265.0
    assert m["nvenc_active"] is None and m["warnings"] is None
