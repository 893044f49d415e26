"""A simulated reboot of the simulated Jetson, as seen from outside the board.

``start(root)`` (called by ``nvpmodel`` once the user typed ``YES``) hands over to a
detached process that does what a reboot does to the things labkit can observe:

* every process of this simulated board ends (nvpmodel itself, and the processes marked
  ``LABKIT_SIM_BOARD=<root>``: the run supervisor, tegrastats, lerobot-record, the
  tools) — SIGTERM, then SIGKILL;
* the SSH connections into the board drop when the board is reached through the sshd
  registered for it (``labkit_sim: {sshd_pid_file: ...}``, the tests' own sshd): the
  session processes above the caller are killed, and that listener is stopped (SIGSTOP)
  for the down time, so a new connection gets no answer until the board is "up" again.
  Any other sshd (a system one) is never touched;
* while down (``<root>/run/rebooting`` exists) the simulator's tools refuse to run;
* at "boot" the root is reset as a boot resets the real one (cpufreq, sysctl, /run),
  the power mode nvpmodel saved is applied and ``/proc/sys/kernel/random/boot_id``
  changes.

The down time is ``reboot_s`` of the simulator's configuration (default 3 s).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from pathlib import Path

from labkit.sim.power import REBOOTING
from labkit.sim.root import init_root, load_config


def _stat(pid: int) -> tuple[str, int] | None:
    """(comm, ppid) of ``pid``."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = text[text.find("(") + 1 : text.rfind(")")]
    return comm, int(text.rsplit(")", 1)[1].split()[1])


MARK = "LABKIT_SIM_BOARD"  # <root>: set for what runs on that simulated board


def registered_listener(root: Path) -> int | None:
    """The sshd the simulated host is reached through, as registered for it (``labkit_sim:
    {sshd_pid_file: ...}``, the test harness's own sshd): the only one a reboot stops."""
    f = load_config(root).get("sshd_pid_file")
    try:
        return int(Path(f).read_text().split()[0]) if f else None
    except (OSError, ValueError, IndexError):
        return None


def ssh_chain(pid: int, root: Path) -> tuple[list[int], int | None]:
    """The sshd processes above ``pid`` when it runs in a connection *into the board*:
    (per-connection ones, the listener). Only labkit's link counts (its persistent
    ``bash --norc --noprofile`` right under sshd), and only under the listener registered
    for this simulated host: a user's own login session above a local simulator, or a
    system sshd, is not the board's and is left alone."""
    sessions, listener = _ssh_chain(pid)
    if listener is None or listener != registered_listener(root):
        return [], None
    return sessions, listener


def _ssh_chain(pid: int) -> tuple[list[int], int | None]:
    sshd: list[int] = []
    below = None
    while pid > 1:
        st = _stat(pid)
        if st is None:
            break
        if st[0].startswith("sshd"):
            if not sshd and not _is_labkit_shell(below):
                return [], None
            sshd.append(pid)
        elif sshd:
            break
        below, pid = pid, st[1]
    if len(sshd) < 2:
        return sshd, None
    return sshd[:-1], sshd[-1]


def _is_labkit_shell(pid: int | None) -> bool:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, TypeError):
        return False
    return argv[:3] == [b"bash", b"--norc", b"--noprofile"]


def board_processes(root: Path) -> list[int]:
    """Pids the simulator marked as this board's: ``LABKIT_SIM_BOARD=<root>`` in their
    environment (set by labkit's session into the simulated host and by the simulator's
    tools). Having its tools on PATH, or its root in LABKIT_SIM_ROOT, is not enough."""
    me = os.getpid()
    want = f"{MARK}={root}".encode()
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == me:
            continue
        try:
            env = (d / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if want in env:
            out.append(int(d.name))
    return out


def _signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _reboot(root: Path, sessions: list[int], listener: int | None, caller: int) -> None:
    down = root / REBOOTING
    down.write_text(f"{os.getpid()}\n")
    stopped = False
    try:
        if listener is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(listener, signal.SIGSTOP)
                stopped = True
        procs = [caller, *board_processes(root)]
        _signal_all(procs, signal.SIGTERM)
        _signal_all(sessions, signal.SIGKILL)
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in procs):
            time.sleep(0.05)
        _signal_all(board_processes(root), signal.SIGKILL)
        time.sleep(float(load_config(root).get("reboot_s", 3.0)))
        init_root(root, load_config(root), boot=True)  # also empties /run: the marker goes
    finally:
        down.unlink(missing_ok=True)
        if stopped:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(listener, signal.SIGCONT)


def start(root: Path) -> None:
    """Reboot the simulated board from a detached process; returns at once."""
    caller = os.getpid()
    sessions, listener = ssh_chain(caller, root)
    if os.fork():
        return
    os.setsid()
    if os.fork():
        os._exit(0)
    # the environment must not point at the root, or the reboot would end itself
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    try:
        _reboot(root, sessions, listener, caller)
    finally:
        os._exit(0)


if __name__ == "__main__":  # pragma: no cover - manual use: python -m labkit.sim.reboot ROOT
    start(Path(sys.argv[1]))
