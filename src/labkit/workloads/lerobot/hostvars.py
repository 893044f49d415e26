"""The inventory variables the ``lerobot-record`` workload owns: which LeRobot release a
host runs, where its lerobot-record is, record parameters for that host alone, and its
robot, teleoperator and cameras (the device nodes they name).

Checked with every host's variables when the inventory is read (``labkit.config.hostvars``
asks each registered plug-in for its own), and read as the host's attributes
(``plan.host.labkit_lerobot_record``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from labkit.workloads.lerobot.facts import PROGRAM

VERSION_PATTERN = r"^\d+\.\d+(\.\d+)?$"


class LerobotHostVars(BaseModel):
    """``labkit_lerobot_version`` (the flag family; default: the playbook's
    ``lerobot_version``), ``labkit_lerobot_record`` (the program), ``labkit_record``
    (record parameters between the experiment's and ``--set``), ``labkit_robot`` and
    ``labkit_teleop`` (their ``robot.*``/``teleop.*`` flags) and ``labkit_cameras``
    (camera name -> device)."""

    model_config = ConfigDict(extra="forbid")
    labkit_lerobot_version: str | None = Field(default=None, pattern=VERSION_PATTERN)
    labkit_lerobot_record: str = PROGRAM
    labkit_record: dict[str, Any] = Field(default_factory=dict)
    labkit_robot: dict[str, Any] = Field(default_factory=dict)
    labkit_teleop: dict[str, Any] = Field(default_factory=dict)
    labkit_cameras: dict[str, Any] = Field(default_factory=dict)


def camera_device(cameras: dict[str, Any], name: str) -> Any:
    """The device of camera ``name`` (a path, an index, or its OpenCV fields' path)."""
    dev = cameras[name]
    return dev.get("index_or_path") if isinstance(dev, dict) else dev


def host_devices(host: Any) -> dict[str, str]:
    """Every device path the host's LeRobot variables name: cameras and arm ports."""
    out: dict[str, str] = {}
    cameras = getattr(host, "labkit_cameras", None) or {}
    for name in cameras:
        dev = camera_device(cameras, name)
        if isinstance(dev, str):
            out[f"camera {name}"] = dev
    for role in ("robot", "teleop"):
        for k, v in (getattr(host, f"labkit_{role}", None) or {}).items():
            if k.endswith("port") and isinstance(v, str):
                out[f"{role} {k}"] = v
    return out
