"""Rebooting a board into a power mode and waiting for it, as Ansible's ``reboot`` module
waits: note the boot id, send the command, let the connection drop, reconnect with
back-off until the board answers with a *new* boot id
(``/proc/sys/kernel/random/boot_id``) or the time is up.

Only a power mode change that nvpmodel says needs a reboot goes this way, and only on a
host with ``labkit_allow_reboot: true`` (``settings.plan_changes`` refuses it otherwise,
before anything changes).
"""

from __future__ import annotations

import re
import shlex
import time

from labkit.core import interrupts
from labkit.errors import ConnectError, RemoteError
from labkit.remote.facts import parse_nvpmodel
from labkit.remote.target import Target

BOOT_ID = "/proc/sys/kernel/random/boot_id"
DEFAULT_TIMEOUT_S = 600.0
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class NoReboot(RemoteError):
    """The board answered all along with its old boot id: it never went down (so it is
    reachable: not a lost connection, and nothing is recording)."""


class RebootRefused(RemoteError):
    """``nvpmodel -m`` failed without starting a reboot."""


def boot_id_path(sysroot: str) -> str:
    return sysroot + BOOT_ID


def read_boot_id(target: Target, path: str) -> str | None:
    res = target.run(f"cat {shlex.quote(path)}", timeout=20, check=False)
    text = res.stdout.strip()
    return text if res.ok and _UUID.match(text) else None


def wait_for_boot(
    target: Target,
    path: str,
    old: str,
    timeout_s: float,
    log=print,
    *,
    first_delay: float = 0.5,
    max_delay: float = 10.0,
    alive=lambda: None,
) -> str:
    """Reconnect with back-off until ``path`` holds a boot id other than ``old``;
    ``alive()`` each time the board answers (to refresh the run's lock)."""
    start = time.monotonic()
    deadline = start + timeout_s
    delay, last, seen_down = first_delay, "", False
    while True:
        try:
            now = read_boot_id(target, path)
            if now:
                alive()
            if now and now != old:
                log(f"{target.name}: back after {time.monotonic() - start:.0f} s (boot id {now})")
                return now
            last = "the board has not gone down yet" if now == old else "no boot id yet"
        except ConnectError as exc:
            seen_down, last = True, str(exc)
            try:
                target.reconnect()
            except ConnectError as exc2:
                last = str(exc2)
        except RemoteError as exc:  # the shell started but a command failed: booting
            seen_down, last = True, str(exc)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            state = "went down and did not come back" if seen_down else "did not go down"
            raise (ConnectError if seen_down else NoReboot)(
                f"{target.name}: rebooted for a power mode change but {state} within "
                f"{timeout_s:g} s (labkit_reboot_timeout_s); last: {last}"
            )
        time.sleep(min(delay, remaining))
        interrupts.check()  # a Ctrl-C a finalizer swallowed still ends the wait
        delay = min(delay * 2, max_delay)


def reboot_into_mode(
    target: Target,
    mode: int,
    path: str,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    log=print,
    sudo: bool = True,
    requested=lambda old: None,
    alive=lambda: None,
) -> str:
    """``nvpmodel -m MODE`` answered ``YES``, the reboot waited for, the mode checked.
    ``requested(old boot id)`` is called before the command is sent (to journal that a
    reboot is under way). Returns the new boot id."""
    old = read_boot_id(target, path)
    if old is None:
        raise RemoteError(
            f"{target.name}: cannot read the boot id ({path}), so a reboot could not be "
            "told from a dropped link; not rebooting"
        )
    requested(old)
    log(f"{target.name}: nvpmodel -m {mode} needs a reboot; rebooting (labkit_allow_reboot)")
    try:
        res = target.run(
            f"echo YES | nvpmodel -m {int(mode)}",
            sudo=sudo,
            timeout=120,
            check=False,
            what=f"nvpmodel -m {int(mode)} (reboot)",
        )
        out = res.stdout + res.stderr
        # "NVPM WARN: rebooting": the reboot is under way (the command may be killed by it)
        if "rebooting" not in out and (not res.ok or "NVPM ERROR" in out):
            raise RebootRefused(
                f"{target.name}: nvpmodel -m {int(mode)} exited {res.exited} without "
                f"rebooting:\n{res.tail()}"
            )
    except ConnectError:
        pass  # the reboot took the link down, as it should
    wait_for_boot(target, path, old, timeout_s, log, alive=alive)
    res = target.run("nvpmodel -q", check=False)
    now = (parse_nvpmodel(res.stdout, res.exited) or {}).get("id")
    if now != int(mode):
        raise RemoteError(
            f"{target.name}: rebooted for power mode {int(mode)} but nvpmodel -q says {now}"
        )
    return read_boot_id(target, path) or ""
