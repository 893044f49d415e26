"""LeRobot's record loop as stages: which of its function names is which part of the loop.

From LeRobot's function names (0.3-0.6: ``record_loop`` -> ``robot.get_observation`` ->
each camera's ``async_read``; ``teleop.get_action``; ``robot.send_action``;
``dataset.add_frame``; the processors; ``precise_sleep`` / ``busy_wait``). A sample
belongs to the first stage, in this order, that one of its frames names: a camera read
inside ``get_observation`` is ``camera_read``, a motor read inside ``teleop.get_action``
is ``teleop``; anything else inside ``record_loop`` is ``other``.
"""

from __future__ import annotations

import re

from labkit.core.observed import StageMap

STAGES = ("camera_read", "robot_io", "teleop", "dataset", "processors", "sleep", "other")
LOOP = "record_loop"
RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("sleep", ("precise_sleep", "busy_wait")),
    ("camera_read", (".async_read", "Camera.read", ".read_latest", "Camera.async_read")),
    ("dataset", (".add_frame",)),
    ("processors", ("~processor",)),
    ("teleop", (".get_action",)),
    ("robot_io", (".get_observation", ".send_action", ".sync_read", ".sync_write")),
)
# a late iteration spent mostly reading cameras is charged to the camera whose thread ran long
STAGE_MAP = StageMap(loop_function=LOOP, rules=RULES, stages=STAGES, device_stage="camera_read")
THREAD_DEVICE = re.compile(r"\(([^()]*)\)")


def camera_devices(record_argv: list[str] | None) -> dict[str, str]:
    """Camera device (``index_or_path``) -> camera name, from the record command line."""
    out: dict[str, str] = {}
    for arg in record_argv or []:
        if ".cameras=" not in arg:
            continue
        body = arg.split("=", 1)[1]
        for name, fields in re.findall(r"(['\"]?[\w.-]+['\"]?)\s*:\s*\{([^{}]*)\}", body):
            m = re.search(r"(?:index_or_path|serial_number_or_name)\s*:\s*([^,}]+)", fields)
            if m:
                out[m.group(1).strip().strip("'\"")] = name.strip("'\"")
    return out


def camera_of_thread(thread: str, devices: dict[str, str]) -> str | None:
    """``OpenCVCamera(/dev/video2)_read_loop`` -> the camera at /dev/video2."""
    if "read_loop" not in thread and "ReadLoop" not in thread:
        return None
    for inside in THREAD_DEVICE.findall(thread):
        if inside in devices:
            return devices[inside]
    return None
