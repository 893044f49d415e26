"""Connecting to a run's host while labkit imports and plans the rest.

``invoke experiment`` spends ~0.3 s importing the plug-ins and building the plan before it
needs the host, and the host needs ~0.2 s (handshake, then the persistent shell's login
rc files) before it runs the first command. Connecting first from the inventory's raw
connection variables (read without the checked models, which need every plug-in), then
importing and planning, overlaps the shell's start with that work. The run takes the
connection only if the checked host has the same parameters (``take``); a connection that
failed keeps its error for the run to raise where it would have, after the playbook and
inventory are found sound.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from labkit.config.inventory import Inventory
from labkit.errors import LabkitError
from labkit.remote.params import SshParams
from labkit.remote.ssh import SshTarget

POLICIES = ("strict", "accept-new")


class Early:
    """One connection opened ahead of the run (or the error opening it gave)."""

    def __init__(self, name: str, params: SshParams) -> None:
        self.name, self.params = name, params
        self.target: SshTarget | None = None
        self.error: LabkitError | None = None

    def open(self) -> Early:
        try:
            self.target = SshTarget(self.name, **vars(self.params))
        except LabkitError as exc:  # raised by the run that takes it, in its place
            self.error = exc
        return self

    def take(self, name: str, params: SshParams) -> SshTarget | None:
        """The connection, if it was opened to ``name`` with ``params`` (raises the error
        it failed with); None otherwise, and it is closed. Taken once."""
        if (name, params) != (self.name, self.params):
            self.close()
            return None
        target, error = self.target, self.error
        self.target = self.error = None
        if error is not None:
            raise error
        return target

    def close(self) -> None:
        if self.target is not None:
            self.target.close()
            self.target = None


def raw_params(values: dict[str, Any], name: str) -> SshParams | None:
    """The SSH parameters of a host's resolved inventory variables, as the checked host
    (``config.hostvars.HostConfig``) would give them; None for a local host or a value the
    checks would refuse (the run reports that)."""
    if values.get("ansible_connection", "ssh") == "local":
        return None
    address = values.get("ansible_host") or name
    user = values.get("ansible_user")
    key = values.get("ansible_ssh_private_key_file")
    policy = values.get("labkit_host_key_policy", "strict")
    port = values.get("ansible_port")
    if isinstance(port, str) and port.strip().isdigit():
        port = int(port)
    if not isinstance(address, str) or policy not in POLICIES:
        return None
    if any(v is not None and not isinstance(v, str) for v in (user, key)):
        return None
    if port is not None and (isinstance(port, bool) or not isinstance(port, int)):
        return None
    return SshParams(address, user, port, key, policy)


def connect_early(inventory: str | Path, name: str, say: Callable[[str], None]) -> Early | None:
    """Open the connection to host ``name`` of ``inventory`` now; None when there is
    nothing to open (a local host) or the inventory does not say how (its errors are
    reported by the run, in their usual order)."""
    try:
        values, _ = Inventory(inventory).resolve(name)
    except (LabkitError, OSError):
        return None
    params = raw_params(values, name)
    if params is None:
        return None
    simulated = " (simulated Jetson)" if values.get("labkit_simulate") is True else ""
    say(f"{name}: connecting ({params.describe()}{simulated})")
    return Early(name, params).open()
