"""LeRobot's parameters, by its own dotted names (``dataset.fps``), so ``--set`` reads like
a ``lerobot-record`` flag; the camera parameters (``cameras``, ``camera.fps`` ...) are
labkit's way of building its ``--robot.cameras`` argument.
"""

from __future__ import annotations

import math
from typing import Any

from labkit.core.params import Param, param

# No USB camera or record loop runs faster; a larger value is a typo (100000 for 100).
MAX_FPS = 1000
# Upper bounds that keep a typo (or .inf) from becoming a run whose watchdog never fires.
MAX_EPISODE_S = 86400  # one day per episode (or reset)
MAX_EPISODES = 10000


def _positive(v) -> bool:
    return v > 0


def _non_negative(v) -> bool:
    return v >= 0


def _rate(v) -> bool:
    return 0 < v <= MAX_FPS


def _seconds(lo_open: bool):
    """A finite duration up to ``MAX_EPISODE_S``: > 0 (``lo_open``) or >= 0."""

    def ok(v) -> bool:
        return math.isfinite(v) and (v > 0 if lo_open else v >= 0) and v <= MAX_EPISODE_S

    return ok


CV2_BACKENDS = {
    "ANY": 0,
    "V4L2": 200,
    "DSHOW": 700,
    "PVAPI": 800,
    "ANDROID": 1000,
    "AVFOUNDATION": 1200,
    "MSMF": 1400,
}

RECORD_PARAMS: dict[str, Param] = {
    p.key: p
    for p in [
        param("dataset.repo_id", "str", "dataset name, <user>/<name>"),
        param("dataset.single_task", "str", "task text stored with every frame"),
        param(
            "dataset.fps",
            "int",
            "record-loop target and dataset frame rate",
            _rate,
            f"between 1 and {MAX_FPS}",
        ),
        param(
            "dataset.episode_time_s",
            "number",
            "recording time per episode",
            _seconds(lo_open=True),
            f"> 0 and at most {MAX_EPISODE_S} (one day)",
        ),
        param(
            "dataset.reset_time_s",
            "number",
            "reset time between episodes",
            _seconds(lo_open=False),
            f"between 0 and {MAX_EPISODE_S} (one day)",
        ),
        param(
            "dataset.num_episodes",
            "int",
            "episodes per run",
            lambda v: 1 <= v <= MAX_EPISODES,
            f"between 1 and {MAX_EPISODES}",
        ),
        param("dataset.video", "bool", "store frames as video"),
        param("dataset.push_to_hub", "bool", "upload when done (keep false for experiments)"),
        param("dataset.private", "bool", "hub repository visibility"),
        param("dataset.streaming_encoding", "bool", "encode video while recording"),
        param(
            "dataset.encoder_threads",
            "int",
            "threads per encoder instance",
            _positive,
            "> 0",
            nullable=True,
        ),
        param(
            "dataset.encoder_queue_maxsize",
            "int",
            "frames buffered per camera encoder",
            _positive,
            "> 0",
        ),
        param(
            "dataset.vcodec",
            "str",
            "video codec (auto, libsvtav1, h264, hevc, h264_nvenc, ...); "
            "passed as --dataset.vcodec up to 0.5.x, --dataset.rgb_encoder.vcodec from 0.6.0",
        ),
        param(
            "dataset.num_image_writer_processes",
            "int",
            "PNG writer processes",
            _non_negative,
            ">= 0",
        ),
        param(
            "dataset.num_image_writer_threads_per_camera",
            "int",
            "PNG writer threads per camera",
            _non_negative,
            ">= 0",
        ),
        param(
            "dataset.video_encoding_batch_size",
            "int",
            "episodes per batch encode",
            _positive,
            "> 0",
        ),
        param("display_data", "bool", "Rerun viewer (keep false for experiments)"),
        param("play_sounds", "bool", "speak episode markers"),
        param("robot.type", "str", "robot type (usually from the host's labkit_robot)"),
        param("robot.id", "str", "robot calibration id"),
        param("teleop.type", "str", "teleoperator type (usually from the host's labkit_teleop)"),
        param("teleop.id", "str", "teleoperator calibration id"),
        param(
            "cameras",
            "str_list",
            "names of the host's cameras to record (labkit_cameras keys)",
            lambda v: len(v) > 0 and len(set(v)) == len(v),
            "at least one camera, each named once",
            example="context,left_wrist",
        ),
        param("camera.width", "int", "capture width", _positive, "> 0"),
        param("camera.height", "int", "capture height", _positive, "> 0"),
        param("camera.fps", "int", "capture frame rate", _rate, f"between 1 and {MAX_FPS}"),
        param(
            "camera.fourcc",
            "str",
            "pixel format such as MJPG or YUYV",
            lambda v: len(v) == 4,
            "a 4-character code",
            nullable=True,
            example="MJPG",
        ),
        param(
            "camera.backend",
            "choice",
            "OpenCV backend: ANY, V4L2 (200), ...",
            nullable=True,
            choices=CV2_BACKENDS,
            example="V4L2",
        ),
        param("camera.warmup_s", "int", "camera warm-up seconds", _non_negative, ">= 0"),
        param(
            "camera.color_mode",
            "str",
            "rgb or bgr",
            lambda v: v in ("rgb", "bgr"),
            "rgb or bgr",
            example="rgb",
        ),
    ]
}

RECORD_DEFAULTS: dict[str, Any] = {
    "dataset.fps": 30,
    "dataset.episode_time_s": 60,
    "dataset.reset_time_s": 0,
    "dataset.num_episodes": 1,
    "dataset.push_to_hub": False,
    "dataset.streaming_encoding": False,
    "dataset.vcodec": "libsvtav1",
    "display_data": False,
    "play_sounds": False,
    "camera.width": 640,
    "camera.height": 480,
    "camera.fps": 30,
}
