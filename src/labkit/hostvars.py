"""The variables labkit reads from an inventory host, checked and typed.

Ansible's connection variables keep their names (``ansible_host`` ...); labkit's own are
prefixed ``labkit_``. A misspelt ``labkit_`` variable is an error rather than silently
ignored, and secrets may only be *references* (an environment variable or a prompt).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from labkit.errors import InventoryError
from labkit.inventory import Inventory, Origin
from labkit.params import suggest

_ENV_LOOKUP = re.compile(r"""^\{\{\s*lookup\(\s*['"]env['"]\s*,\s*['"](\w+)['"]\s*\)\s*\}\}$""")
_ENV_REF = re.compile(r"^env:(\w+)$")


class SecretRef(BaseModel):
    """Where a sudo password comes from: an environment variable or an interactive prompt."""

    kind: Literal["env", "prompt"]
    name: str = ""

    def describe(self) -> str:
        return f"environment variable {self.name}" if self.kind == "env" else "a prompt"


def parse_secret_ref(value: Any) -> SecretRef:
    if isinstance(value, str):
        if value.strip() == "prompt":
            return SecretRef(kind="prompt")
        m = _ENV_LOOKUP.match(value.strip()) or _ENV_REF.match(value.strip())
        if m:
            return SecretRef(kind="env", name=m.group(1))
    raise ValueError(
        "ansible_become_password must be a reference, not a password: "
        "\"{{ lookup('env', 'VAR') }}\", 'env:VAR' or 'prompt'"
    )


class HostConfig(BaseModel):
    """labkit's view of one inventory host."""

    model_config = ConfigDict(extra="forbid")
    name: str
    ansible_connection: Literal["ssh", "local", "paramiko"] = "ssh"
    ansible_host: str | None = None
    ansible_port: int | None = Field(default=None, ge=1, le=65535)
    ansible_user: str | None = None
    ansible_ssh_private_key_file: str | None = None
    ansible_become_password: SecretRef | None = None
    labkit_simulate: bool = False
    labkit_workdir: str = "~/labkit"
    labkit_lerobot_version: str | None = Field(default=None, pattern=r"^\d+\.\d+(\.\d+)?$")
    labkit_robot: dict[str, Any] = Field(default_factory=dict)
    labkit_teleop: dict[str, Any] = Field(default_factory=dict)
    labkit_cameras: dict[str, Any] = Field(default_factory=dict)
    labkit_record: dict[str, Any] = Field(default_factory=dict)
    labkit_lerobot_record: str = "lerobot-record"
    labkit_tegrastats: str = "tegrastats"
    labkit_host_key_policy: Literal["strict", "accept-new"] = "strict"
    labkit_sudo: Literal["sudo", "none"] = "sudo"
    labkit_sim: dict[str, Any] = Field(default_factory=dict)
    labkit_min_free_mb: int = Field(default=1024, ge=0)

    @property
    def connection(self) -> str:
        return "local" if self.ansible_connection == "local" else "ssh"

    @property
    def address(self) -> str:
        return self.ansible_host or self.name

    def describe(self) -> str:
        if self.connection == "local":
            where = "local"
        else:
            user = f"{self.ansible_user}@" if self.ansible_user else ""
            port = f":{self.ansible_port}" if self.ansible_port else ""
            where = f"ssh {user}{self.address}{port}"
        return where + (" (simulated Jetson)" if self.labkit_simulate else "")

    def camera_device(self, name: str) -> Any:
        dev = self.labkit_cameras[name]
        return dev.get("index_or_path") if isinstance(dev, dict) else dev

    def devices(self) -> dict[str, str]:
        """Every device path the host vars name: cameras and robot/teleop ports."""
        out: dict[str, str] = {}
        for name in self.labkit_cameras:
            dev = self.camera_device(name)
            if isinstance(dev, str):
                out[f"camera {name}"] = dev
        for role, spec in (("robot", self.labkit_robot), ("teleop", self.labkit_teleop)):
            for k, v in spec.items():
                if k.endswith("port") and isinstance(v, str):
                    out[f"{role} {k}"] = v
        return out


def host_config(inventory: Inventory, name: str) -> HostConfig:
    """Resolve and check the labkit-relevant variables of host ``name``."""
    values, origins = inventory.resolve(name)
    data: dict[str, Any] = {"name": name}
    known = set(HostConfig.model_fields)
    for key, value in values.items():
        if key.startswith("labkit_") and key not in known:
            raise _err(
                origins.get(key),
                inventory,
                key,
                f"unknown labkit variable {key!r}{suggest(key, known)}",
            )
        if key in known:
            data[key] = value
    if "ansible_become_password" in data:
        try:
            data["ansible_become_password"] = parse_secret_ref(data["ansible_become_password"])
        except ValueError as exc:
            raise _err(
                origins.get("ansible_become_password"),
                inventory,
                "ansible_become_password",
                str(exc),
            ) from None
    try:
        return HostConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = str(err["loc"][0]) if err["loc"] else "?"
        field = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        raise _err(
            origins.get(key), inventory, field, f"{msg} (host {name}, got {err.get('input')!r})"
        ) from None


def _err(origin: Origin | None, inventory: Inventory, field: str, msg: str) -> InventoryError:
    if origin is None:
        return InventoryError(msg, file=str(inventory.path), field=field)
    return InventoryError(msg, file=origin.file, line=origin.line, field=field)
