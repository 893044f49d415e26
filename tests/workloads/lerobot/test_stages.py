"""LeRobot's loop as the probes see it: its cameras from the record command line (each read
thread names its camera's device), its loop budget from ``dataset.fps``, its stage map."""

from __future__ import annotations

import pytest

from labkit.records.model import current
from labkit.workloads.lerobot import LerobotRecord
from labkit.workloads.lerobot.stages import STAGE_MAP, camera_devices, camera_of_thread
from tests.runrecord import run_record

ARGV = [
    "lerobot-record",
    "--robot.cameras={context: {type: opencv, index_or_path: "
    "/dev/video0, fps: 30}, right_wrist: {type: opencv, index_or_path: /dev/video2}}",
]


def test_camera_devices_from_the_record_command_line():
    assert camera_devices(ARGV) == {"/dev/video0": "context", "/dev/video2": "right_wrist"}


def test_a_read_thread_names_its_cameras_device():
    devices = camera_devices(ARGV)
    assert camera_of_thread("OpenCVCamera(/dev/video2)_read_loop", devices) == "right_wrist"
    assert camera_of_thread("OpenCVCamera(/dev/video9)_read_loop", devices) is None
    assert camera_of_thread("MainThread", devices) is None


def test_the_probes_are_told_the_cameras_budget_and_stages(tmp_path):
    params = {"dataset.fps": 30, "camera.fps": 15}
    record = run_record(params=params, commands={"workload_argv": ARGV})
    seen = LerobotRecord().observe(tmp_path, record, None)
    assert seen.stages is STAGE_MAP and seen.stages.device_stage == "camera_read"
    assert seen.budget_s == pytest.approx(1 / 30) and seen.device_fps == 15
    assert seen.devices == ["context", "right_wrist"]
    assert seen.device_of_thread("OpenCVCamera(/dev/video0)_read_loop") == "context"


def test_without_a_rate_the_loop_budget_is_unknown(tmp_path):
    seen = LerobotRecord().observe(tmp_path, run_record(params={"dataset.fps": "fast"}), None)
    assert seen.budget_s is None and seen.devices == [] and seen.device_fps is None


def test_a_schema_1_record_tells_the_cameras_once_migrated(tmp_path):
    """A schema-1 record names the command line ``record_argv``; it is migrated at read
    (``records.model.current``), and the workload reads only the current schema."""
    old = {"schema": 1, "status": "complete", "params": {"dataset.fps": 30},
           "commands": {"record_argv": ARGV}}  # fmt: skip
    seen = LerobotRecord().observe(tmp_path, current(old, tmp_path / "exp1" / "r1"), None)
    assert seen.devices == ["context", "right_wrist"]
