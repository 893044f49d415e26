"""The variables labkit reads from an inventory host, checked and typed.

Ansible's connection variables keep their names (``ansible_host`` ...); labkit's own are
prefixed ``labkit_``: the host's own here, a plug-in's own declared by it
(``host_vars``: lerobot-record's ``labkit_lerobot_version``, ``labkit_lerobot_record``,
``labkit_record``; tegrastats' ``labkit_tegrastats``) and read as the host's attributes
all the same. A misspelt ``labkit_`` variable is an error rather than silently ignored, and
secrets may only be *references* (an environment variable or a prompt).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from labkit.config.inventory import Inventory, Origin
from labkit.config.params import ParamError, coerce, flatten, suggest
from labkit.errors import InventoryError
from labkit.registry import host_devices, plugin_host_vars, workloads_with_host_params
from labkit.sim.deploy import default_workdir

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


class SimJitter(BaseModel):
    """Scheduling stalls injected into the simulated record loop. Without ``seed`` each run
    draws its own (recorded in the run's ``sim.json`` and manifest summary), so repeats
    differ as a board's do; a fixed ``seed`` repeats the same stalls (for tests)."""

    model_config = ConfigDict(extra="forbid")
    rate: float = Field(default=0.0, ge=0, le=1)
    stall_ms: float = Field(default=0.0, ge=0, le=10_000)
    seed: int | None = Field(default=None, ge=0, lt=2**32)
    # where the stall lands: the record loop itself, a camera's async_read (one camera, or
    # any), the motor bus (robot.get_observation / send_action, teleop.get_action), or
    # dataset.add_frame -- so a profile can be checked for naming the right place
    stage: Literal["loop", "camera_read", "robot_io", "dataset"] = "loop"
    camera: str | None = None


class SimOptions(BaseModel):
    """``labkit_sim``: what the simulated Jetson pretends to be (see ``labkit.sim``)."""

    model_config = ConfigDict(extra="forbid")
    jitter: SimJitter = Field(default_factory=SimJitter)
    hw_encoders: list[str] = Field(default_factory=list)
    lerobot_version: str | None = Field(default=None, pattern=r"^\d+\.\d+(\.\d+)?$")
    unsupported_flags: list[str] = Field(default_factory=list)
    devices: list[str] = Field(default_factory=list)
    python: str = "python3"
    # the board it simulates (CPUs, clocks, power modes, tegrastats dialect): labkit.sim.root
    board: Literal["thor", "agx-orin", "orin-nano"] = "thor"
    reboot_s: float = Field(default=3.0, ge=0, le=600)  # how long a simulated reboot is down
    restore_fails: list[int] = Field(default_factory=list)  # CPUs `--restore` cannot write
    sshd_pid_file: str | None = None  # the sshd a simulated reboot may drop (tests' own)
    # how long the record loop waits for a camera's frame before LeRobot's TimeoutError
    # (LeRobot's async_read: 200 ms); a test machine running tests side by side raises it
    camera_timeout_ms: float = Field(default=200.0, gt=0, le=60_000)


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
    labkit_host_key_policy: Literal["strict", "accept-new"] = "strict"
    labkit_sudo: Literal["sudo", "none"] = "sudo"
    labkit_sim: dict[str, Any] = Field(default_factory=dict)
    labkit_min_free_mb: int = Field(default=1024, ge=0)
    labkit_allow_reboot: bool = False  # a power mode that needs a reboot may reboot the host
    labkit_reboot_timeout_s: float = Field(default=600.0, gt=0)
    # whether the workload shares the controller's CPU (its CPU readings would see labkit's
    # own work); None: a local host, or a simulated one on this machine (engine.run)
    labkit_shares_cpu: bool | None = None
    # the plug-ins' own variables, checked by their models (``host_vars``), with
    # their defaults: read as attributes (``host.labkit_lerobot_record``)
    plugin_vars: dict[str, Any] = Field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        """A plug-in's own variable, as if it were a field (pydantic keeps fields in
        ``__dict__``; this is only asked for names that are none of them)."""
        own = self.__dict__.get("plugin_vars") or {}
        if name in own:
            return own[name]
        return super().__getattr__(name)

    @field_validator("labkit_sim")
    @classmethod
    def _sim_options(cls, value: dict[str, Any]) -> dict[str, Any]:
        SimOptions.model_validate(value)  # errors carry their path under labkit_sim
        return value

    @property
    def connection(self) -> str:
        return "local" if self.ansible_connection == "local" else "ssh"

    @property
    def address(self) -> str:
        return self.ansible_host or self.name

    @property
    def workdir(self) -> str:
        """The work dir runs use: ``labkit_workdir``, or for a local simulated host that
        names none, a work dir of this checkout's own (``deploy.default_workdir``)."""
        own = "labkit_workdir" in self.model_fields_set
        if self.labkit_simulate and self.connection == "local" and not own:
            return default_workdir()
        return self.labkit_workdir

    def describe(self) -> str:
        if self.connection == "local":
            where = "local"
        else:
            user = f"{self.ansible_user}@" if self.ansible_user else ""
            port = f":{self.ansible_port}" if self.ansible_port else ""
            where = f"ssh {user}{self.address}{port}"
        return where + (" (simulated Jetson)" if self.labkit_simulate else "")

    def devices(self) -> dict[str, str]:
        """Every device path the host's variables name (what -> path), as the plug-ins
        that own those variables read them (``host_devices``: LeRobot's cameras and arm
        ports)."""
        return host_devices(self)


def host_config(inventory: Inventory, name: str) -> HostConfig:
    """Resolve and check the labkit-relevant variables of host ``name``."""
    values, origins = inventory.resolve(name)
    data: dict[str, Any] = {"name": name}
    known = set(HostConfig.model_fields) - {"plugin_vars"}
    owned = plugin_host_vars()  # variable -> the plug-in's model that checks it
    for key, value in values.items():
        if key.startswith("labkit_") and key not in known and key not in owned:
            raise _err(
                origins.get(key),
                inventory,
                key,
                f"unknown labkit variable {key!r}{suggest(key, known | set(owned))}",
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
        plugin_vars: dict[str, Any] = {}
        for model in dict.fromkeys(owned.values()):
            mine = {k: values[k] for k in model.model_fields if k in values}
            plugin_vars.update(model.model_validate(mine).model_dump())
        host = HostConfig.model_validate({**data, "plugin_vars": plugin_vars})
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err["loc"]]
        key = loc[0] if loc else "?"
        inner = err.get("ctx", {}).get("error")
        if isinstance(inner, ValidationError):  # labkit_sim's own model, raised in a validator
            err = inner.errors()[0]
            loc += [str(p) for p in err["loc"]]
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            parent = SimOptions if len(loc) == 2 else SimJitter
            msg = f"unknown key{suggest(loc[-1], parent.model_fields)}; expected one of " + (
                ", ".join(parent.model_fields)
            )
        raise _err(
            origins.get(key),
            inventory,
            ".".join(loc),
            f"{msg} (host {name}, got {err.get('input')!r})",
        ) from None
    for var, params in workloads_with_host_params():
        _check_params(host, var, params, origins.get(var), inventory)
    return host


def _check_params(
    host: HostConfig, var: str, params: dict, origin: Origin | None, inventory: Inventory
) -> None:
    """A workload's parameters for this host (``var``: lerobot-record's ``labkit_record``),
    checked as the playbook's are, the error at the line where the bad key or value was
    written."""
    for key, (value, rel) in flatten(getattr(host, var), "", params).items():
        try:
            coerce(key, value, params)
        except ParamError as exc:
            at = None if origin is None else Origin(origin.file, origin.line_of(rel))
            raise _err(at, inventory, f"{var}.{key}", f"{exc} (host {host.name})") from None


def load_inventory(path: str | Path) -> Inventory:
    """Read an inventory and check every host's labkit and connection variables now, so a
    bad value is reported when the inventory is read, not when a run reaches it."""
    inv = Inventory(path)
    for name in inv.hosts:
        host_config(inv, name)
    return inv


def _err(origin: Origin | None, inventory: Inventory, field: str, msg: str) -> InventoryError:
    if origin is None:
        return InventoryError(msg, file=str(inventory.path), field=field)
    return InventoryError(msg, file=origin.file, line=origin.line, field=field)
