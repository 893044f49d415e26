"""LeRobot's per-run metrics from its parsed record log (``LerobotRecord.run_metrics``):
values checked by hand on small synthetic runs."""

from __future__ import annotations

import pytest

from labkit.workloads.lerobot import LerobotRecord
from tests.workloads.lerobot.synthetic import record_log

LEROBOT = LerobotRecord()


def test_record_metrics_and_rate_per_minute():
    m = LEROBOT.run_metrics(record_log([(5, 24.0), (10, 9.6), (20, 15.5)]), None)
    assert m["warnings"] == 3 and m["min_hz"] == 9.6 and m["median_hz"] == 15.5
    assert m["warnings_per_min"] == pytest.approx(6.0)  # 3 in 30 s
    assert m["duration_s"] == 30.0  # imported: the record log's span
    assert m["codec"] == "h264_nvenc" and m["hw_codec"] is True and m["episodes"] == 1
    assert LEROBOT.run_metrics(record_log([], codec="libsvtav1"), None)["hw_codec"] is False
    assert set(m) == set(LEROBOT.metrics)


def test_the_supervisors_workload_time_is_the_exposure_of_the_counts():
    m = LEROBOT.run_metrics(record_log([(5, 24.0), (10, 9.6), (20, 15.5)]), duration_s=36.0)
    assert m["duration_s"] == 36.0
    assert m["warnings_per_min"] == pytest.approx(3 / 36 * 60)
    declared = LEROBOT.metrics["duration_s"]
    assert declared.kind == "duration" and declared.unit == "s"


def test_a_run_without_its_log_has_every_metric_unknown():
    m = LEROBOT.run_metrics(None)
    assert set(m) == set(LEROBOT.metrics) and all(v is None for v in m.values())
