"""Experiment parameters -> the exact ``lerobot-record`` command line, per LeRobot version.

Flag names moved between releases (``--dataset.vcodec`` up to 0.5.x,
``--dataset.rgb_encoder.vcodec`` and ``--dataset.no_stamp`` from 0.6.0; no streaming
encoder before 0.4), and the cameras are one draccus dict argument. The command is kept
as an argv list; ``shlex.join`` quotes every value for a remote shell.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from labkit.workloads.base import PlanError
from labkit.workloads.lerobot.params import CV2_BACKENDS

# params LeRobot gained in a given release. On an older host a value asked for (playbook,
# experiment, host vars, --set) is an error naming the parameter and the release; only
# labkit's own registry defaults that nobody asked for are left out, of the command line
# *and* of the recorded parameters (``fit_to_version``); a value equal to what the older
# release does anyway (``LEROBOT_DEFAULTS``) is simply not passed.
SINCE: dict[str, tuple[int, int]] = {
    "dataset.streaming_encoding": (0, 4),
    "dataset.encoder_threads": (0, 4),
    "dataset.encoder_queue_maxsize": (0, 4),
    "dataset.vcodec": (0, 4),
    "camera.fourcc": (0, 4),
    "camera.backend": (0, 4),
    "camera.width": (0, 4),
    "camera.height": (0, 4),
    "camera.fps": (0, 4),
}
LEROBOT_DEFAULTS = {"dataset.streaming_encoding": False, "dataset.vcodec": "libsvtav1"}
DATASET_FLAGS = [
    "repo_id",
    "single_task",
    "fps",
    "episode_time_s",
    "reset_time_s",
    "num_episodes",
    "video",
    "push_to_hub",
    "private",
    "streaming_encoding",
    "encoder_threads",
    "encoder_queue_maxsize",
    "num_image_writer_processes",
    "num_image_writer_threads_per_camera",
    "video_encoding_batch_size",
]
_PLAIN = re.compile(r"^[A-Za-z0-9_./-]+$")


class CommandError(PlanError):
    """The experiment cannot be expressed for this host's LeRobot version."""


_UNSET = object()


def lacking(params: dict[str, Any], version: Version) -> list[str]:
    """The set parameters ``version`` does not have (beyond what it does anyway)."""
    return [
        key
        for key, since in SINCE.items()
        if params.get(key) is not None
        and not version >= since
        and params[key] != LEROBOT_DEFAULTS.get(key, _UNSET)
    ]


def lacking_error(key: str, value: Any, version: Version, where: str = "") -> CommandError:
    since = SINCE[key]
    return CommandError(
        f"{key}={value!r}{f' ({where})' if where else ''} needs lerobot >= "
        f"{since[0]}.{since[1]}, which introduced it; this host runs {version}. A value asked "
        "for is never left off the command line while the run records it: drop it for this "
        "host, or set labkit_lerobot_version if the host runs a newer lerobot (only labkit's "
        "own defaults a version lacks are left out, of the command and of the record)"
    )


def fit_to_version(
    params: dict[str, Any], version: Version, asked: dict[str, str]
) -> dict[str, Any]:
    """``params`` without labkit's own defaults that ``version`` lacks; a lacking value in
    ``asked`` (key -> where it was set) is a ``CommandError`` saying where."""
    out = dict(params)
    for key in lacking(params, version):
        if key in asked:
            raise lacking_error(key, params[key], version, asked[key])
        del out[key]
    return out


# the release a plan is made for when neither the host (``labkit_lerobot_version``) nor
# the playbook (``lerobot_version``) names one
DEFAULT_VERSION = "0.4.4"


@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int = 0

    @classmethod
    def parse(cls, text: str) -> Version:
        parts = [int(p) for p in text.split(".")]
        return cls(*(parts + [0] * (3 - len(parts)))[:3])

    def __ge__(self, other: tuple) -> bool:  # type: ignore[override]
        return (self.major, self.minor, self.patch) >= tuple(other)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    @property
    def family(self) -> str:
        if not self >= (0, 4):
            return "0.3"
        return "0.4-0.5" if not self >= (0, 6) else "0.6+"


def flag_value(value: Any) -> str:
    """draccus spelling: booleans lower-case, everything else as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def yaml_scalar(value: Any) -> str:
    """A value inside the cameras dict: plain when safe, else a JSON (= YAML) string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    text = str(value)
    return text if _PLAIN.match(text) and text[0] not in "-." else json.dumps(text)


def cameras_arg(
    cameras: list[str], devices: dict[str, Any], params: dict[str, Any], version: Version
) -> str:
    """``{top: {type: opencv, index_or_path: /dev/video0, width: 640, ...}, ...}``."""
    items = []
    for name in cameras:
        dev = devices[name]
        extra: dict[str, Any] = {}
        if isinstance(dev, dict):
            extra = {k: v for k, v in dev.items() if k != "index_or_path"}
            dev = dev.get("index_or_path")
        fields: dict[str, Any] = {"type": "opencv", "index_or_path": dev}
        if version >= (0, 4):
            for key in ("width", "height", "fps", "fourcc", "warmup_s", "color_mode"):
                val = params.get(f"camera.{key}")
                if val is not None:
                    fields[key] = val
            backend = params.get("camera.backend")
            if backend is not None:
                fields["backend"] = CV2_BACKENDS[backend]
        fields.update(extra)
        body = ", ".join(f"{k}: {yaml_scalar(v)}" for k, v in fields.items())
        items.append(f"{name}: {{{body}}}")
    return "{" + ", ".join(items) + "}"


def record_argv(
    params: dict[str, Any],
    *,
    version: Version,
    robot: dict[str, Any],
    teleop: dict[str, Any],
    camera_devices: dict[str, Any],
    dataset_root: str,
    program: str = "lerobot-record",
) -> list[str]:
    """The argv of ``lerobot-record`` for resolved ``params`` on a host running ``version``."""
    for key in lacking(params, version):
        raise lacking_error(key, params[key], version)
    argv = [program]
    robot = {**robot}
    teleop = {**teleop}
    for role, spec in (("robot", robot), ("teleop", teleop)):
        for key in ("type", "id"):
            if params.get(f"{role}.{key}") is not None:
                spec[key] = params[f"{role}.{key}"]
    cameras_key = robot.pop("cameras_key", None)
    if "type" not in robot:
        raise CommandError("no robot type: set labkit_robot.type in the inventory")
    for key, val in robot.items():
        argv.append(f"--robot.{key}={flag_value(val)}")
    cams = params.get("cameras") or []
    if cams:
        if cameras_key is None:
            cameras_key = "robot.cameras"
            if robot["type"] == "bi_so_follower" and not version >= (0, 6):
                cameras_key = "robot.left_arm_config.cameras"
        argv.append(f"--{cameras_key}={cameras_arg(cams, camera_devices, params, version)}")
    for key, val in teleop.items():
        argv.append(f"--teleop.{key}={flag_value(val)}")
    for name in DATASET_FLAGS:
        val = params.get(f"dataset.{name}")
        if val is None:
            continue
        if f"dataset.{name}" in SINCE and not version >= SINCE[f"dataset.{name}"]:
            continue  # its older release's own behaviour (lacking() let nothing else by)
        argv.append(f"--dataset.{name}={flag_value(val)}")
    vcodec = params.get("dataset.vcodec")
    if vcodec is not None and version >= (0, 4):
        flag = "dataset.rgb_encoder.vcodec" if version >= (0, 6) else "dataset.vcodec"
        argv.append(f"--{flag}={vcodec}")
    if version >= (0, 6):
        argv.append("--dataset.no_stamp=true")
    argv.append(f"--dataset.root={dataset_root}")
    for key in ("display_data", "play_sounds"):
        if params.get(key) is not None:
            argv.append(f"--{key}={flag_value(params[key])}")
    return argv
