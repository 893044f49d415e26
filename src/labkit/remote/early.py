"""Connecting to a run's host while labkit imports and plans the rest.

``invoke experiment`` spends ~0.3 s importing the plug-ins and building the plan before it
needs the host, and the host needs ~0.2 s (handshake, then the persistent shell's login
rc files) before it runs the first command. Connecting first from the inventory's raw
connection variables (read without the checked models, which need every plug-in), then
importing and planning, overlaps the handshake and the shell's start with that work. The
run takes the connection only if the checked host has the same parameters (``take``); a
connection that failed keeps its error for the run to raise where it would have, after
the playbook and inventory are found sound.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labkit.config.inventory import Inventory
from labkit.errors import LabkitError
from labkit.remote.params import SshParams

if TYPE_CHECKING:
    from labkit.remote.ssh import SshTarget

# what the checked host accepts (``config.hostvars.HostConfig``); anything else opens
# nothing early, and the run reports it
SSH_CONNECTIONS = ("ssh", "paramiko")
POLICIES = ("strict",)  # accept-new: not before the inventory is checked (raw_params)
PORTS = range(1, 65536)
# while the connection opens beside the imports, the interpreter hands the GIL over every
# 0.5 ms instead of 5 ms: the handshake's many short steps each wait for the importing
# thread to let go, and at 5 ms that made the early connection slower than none (measured)
SWITCH_S = 0.0005


def ssh_class() -> type[SshTarget]:
    """``SshTarget``, imported when first needed: paramiko's ~0.1 s of imports only for an
    SSH host (``open_target`` and ``Early`` both open theirs through this)."""
    from labkit.remote.ssh import SshTarget  # noqa: PLC0415 -- start-up time

    return SshTarget


class _Switching:
    """The shorter switch interval while any early connection opens; the interpreter's
    own back when the last is taken or given up (in any order)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._saved = 0.0

    def hold(self) -> None:
        with self._lock:
            if self._holders == 0:
                self._saved = sys.getswitchinterval()
                sys.setswitchinterval(min(SWITCH_S, self._saved))
            self._holders += 1

    def release(self) -> None:
        with self._lock:
            self._holders -= 1
            if self._holders == 0:
                sys.setswitchinterval(self._saved)


_SWITCHING = _Switching()


class Early:
    """One connection being opened ahead of the run, in a thread of its own: planning goes
    on meanwhile, and a playbook's error is reported at once, not after a host that does
    not answer has timed out."""

    def __init__(self, name: str, params: SshParams) -> None:
        self.name, self.params = name, params
        self._target: SshTarget | None = None
        self._error: LabkitError | None = None
        self._abandoned = False
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._switching = False  # holds _SWITCHING

    def start(self) -> Early:
        # imported before the thread starts: two threads importing the same modules wait
        # on each other's import locks
        cls = ssh_class()
        _SWITCHING.hold()
        self._switching = True
        try:
            threading.Thread(
                target=self._open, args=(cls,), name="labkit-connect", daemon=True
            ).start()
        except BaseException:
            self._settled()
            raise
        return self

    def _settled(self) -> None:
        """The interpreter's own switch interval back (the run takes over, or gives up)."""
        if self._switching:
            self._switching = False
            _SWITCHING.release()

    def matches(self, name: str, params: SshParams) -> bool:
        """Whether this connection is (being) opened to ``name`` with ``params``."""
        return (name, params) == (self.name, self.params)

    def _open(self, cls: type[SshTarget]) -> None:
        target = None
        try:
            target = cls(self.name, **vars(self.params))
        except LabkitError as exc:  # raised by the run that takes it, in its place
            self._error = exc
        except Exception:  # noqa: BLE001 -- not a link error: the run connects anew, and shows it
            pass
        with self._lock:
            if not self._abandoned:
                self._target, target = target, None
        if target is not None:  # nobody will take it
            target.close()
        self._done.set()

    def take(self, name: str, params: SshParams) -> SshTarget | None:
        """The connection, once open, if it was opened to ``name`` with ``params`` (raises
        the error it failed with); None otherwise, and it is closed. Taken once."""
        if not self.matches(name, params):
            self.close()
            return None
        self._settled()
        self._done.wait()  # as long as the connection's own timeouts allow
        with self._lock:
            self._abandoned = True
            target, error = self._target, self._error
            self._target = self._error = None
        if error is not None:
            raise error
        return target

    def close(self) -> None:
        """Not taken: closed now, or as soon as it is open."""
        self._settled()
        with self._lock:
            self._abandoned = True
            target, self._target = self._target, None
        if target is not None:
            target.close()


def raw_params(values: dict[str, Any], name: str) -> SshParams | None:
    """The SSH parameters of a host's resolved inventory variables, as the checked host
    (``config.hostvars.HostConfig``) would give them; None for a local host, a value the
    checks would refuse (the run reports that, having connected nowhere), or a host whose
    key is trusted on first contact (``accept-new`` writes known_hosts: only once the
    whole inventory is found sound)."""
    if values.get("ansible_connection", "ssh") not in SSH_CONNECTIONS:
        return None
    address = values.get("ansible_host") or name
    user = values.get("ansible_user")
    key = values.get("ansible_ssh_private_key_file")
    policy = values.get("labkit_host_key_policy", "strict")
    port = values.get("ansible_port")
    if isinstance(port, str) and port.isascii() and port.isdigit():
        port = int(port)
    if not isinstance(address, str) or policy not in POLICIES:
        return None
    if any(v is not None and not isinstance(v, str) for v in (user, key)):
        return None
    if port is not None and (type(port) is not int or port not in PORTS):
        return None
    return SshParams(address, user, port, key, policy)


def connect_early(inventory: str | Path, name: str, say: Callable[[str], None]) -> Early | None:
    """Start opening the connection to host ``name`` of ``inventory``; None when there is
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
    return Early(name, params).start()
