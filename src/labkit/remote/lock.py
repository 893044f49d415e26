"""One run per target at a time: an atomic ``mkdir`` lock in the target's work dir.

The lock names its owner (run id, workstation, controller pid, run directory), written
with it: the folder is built aside and renamed into place, so it never exists without its
owner. It is *stale* when the run it belongs to is over — its supervisor finished
(``status.json`` says done) or is no longer alive, or its controller died on this
workstation before starting one — or when it was taken (or last refreshed, as a run
waiting for a reboot does) more than ``STALE_S`` ago by the target's clock, no run ever
started and its controller is not known alive on this workstation.
A stale lock is cleared by ``invoke restore`` or by the next run, after the settings that
run changed are put back.
"""

from __future__ import annotations

import json
import os
import posixpath
import secrets
import shlex
import socket
import time
from dataclasses import dataclass

from labkit.errors import LockedError
from labkit.remote.target import Target

q = shlex.quote
# more than two reboot waits (labkit_reboot_timeout_s, default 600 s: into a power mode
# and back) for a lock whose controller cannot be checked from here
STALE_S = 1800


@dataclass
class LockInfo:
    owner: dict
    state: str  # running | finished | abandoned
    supervisor_alive: bool
    previous_boot: bool = False  # taken (or its supervisor started) before the last boot

    @property
    def stale(self) -> bool:
        return self.state != "running"

    def describe(self) -> str:
        o = self.owner
        return (
            f"run {o.get('run_id')} ({o.get('experiment')}) from {o.get('workstation')}, "
            f"started {o.get('taken_at')}" + (" (a previous boot)" if self.previous_boot else "")
        )


def lock_dir(workdir: str) -> str:
    return posixpath.join(workdir, "lock")


def inspect(target: Target, workdir: str, boot_id_path: str | None = None) -> LockInfo | None:
    """The current lock, if any, and whether the run behind it is still going.

    A lock folder without an owner (another controller between its mkdir and the owner,
    with labkit before owners were written atomically) is busy while it is young.
    ``boot_id_path``: the board's boot id; a lock (or a supervisor) from an earlier boot
    is over, whatever process has its pid now.
    """
    d = lock_dir(workdir)
    boot = f"cat {q(boot_id_path)} 2>/dev/null; " if boot_id_path else ""
    res = target.run(
        f"[ -d {q(d)} ] || exit 0; echo {BOOT} $({boot}true); "
        f"echo {AGE} $(( $(date +%s) - $(stat -c %Y {q(d)}) )); "
        f"cat {q(d)}/owner.json 2>/dev/null; true",
        check=False,
    )
    boot_line, _, rest = res.stdout.partition("\n")
    head, _, body = rest.partition("\n")
    if not head.startswith(AGE):
        return None
    now_boot = boot_line[len(BOOT) :].strip()
    age = float(head.split()[1])
    try:
        owner = json.loads(body) if body.strip() else {}
    except json.JSONDecodeError:
        owner = {}
    run_dir = owner.get("run_dir")
    status = {}
    if run_dir:
        r = target.run(f"cat {q(run_dir)}/status.json", check=False)
        if r.ok:
            try:
                status = json.loads(r.stdout)
            except json.JSONDecodeError:
                status = {}
    pid = status.get("supervisor_pid")
    earlier = bool(now_boot) and any(
        b and b != now_boot for b in (owner.get("boot_id"), status.get("boot_id"))
    )
    alive = False
    if pid and status.get("state") != "done" and not earlier:
        alive = target.run(f"kill -0 {int(pid)}", check=False).ok
    if earlier:  # the board rebooted since: nothing of that run is left running
        state = "finished" if pid or status.get("state") == "done" else "abandoned"
    elif alive:
        state = "running"
    elif status.get("state") == "done" or pid:
        state = "finished"
    elif (here := _controller_alive_here(owner)) is False:
        state = "abandoned"  # its controller died here before the recording started
    elif here:
        state = "running"  # its controller is alive on this workstation, however long
    elif age > STALE_S:
        state = "abandoned"
    else:
        state = "running"  # taken moments ago by a run still preparing
    return LockInfo(owner, state, alive, earlier)


def _controller_alive_here(owner: dict) -> bool | None:
    """Whether the lock's controller, when it ran on this workstation, is alive (None:
    it ran elsewhere, or its pid cannot be checked)."""
    pid = owner.get("pid")
    if not pid or owner.get("workstation") != socket.gethostname():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (ValueError, OverflowError):
        return None
    return True


def touch(target: Target, workdir: str, boot_id_path: str | None = None) -> None:
    """Refresh the lock's age (its folder's mtime): its run is alive, e.g. waiting for a
    reboot that takes long; with ``boot_id_path``, its ``boot_id`` becomes the board's
    now (the run rebooted it). A lock that is not there is not created."""
    d = lock_dir(workdir)
    own = q(f"{d}/owner.json")
    sub = """'s/"boot_id": "[0-9a-f-]*"/"boot_id": "'"$b"'"/'"""
    boot = _READ_BOOT.format(q(boot_id_path)) if boot_id_path else ""
    if boot:
        boot += f'[ -n "$b" ] && sed -i {sub} {own}; '
    target.run(f"[ -d {q(d)} ] || exit 0; touch -c {q(d)}; {boot}true", check=False)


TAKEN = "@@labkit-locked"
AGE = "@@labkit-lock-age"
BOOT = "@@labkit-boot"
# the boot id read on the target, kept only if it looks like one (it goes into JSON)
_READ_BOOT = "b=$(cat {} 2>/dev/null); case $b in *[!0-9a-f-]*) b=;; esac; "


def acquire(
    target: Target,
    workdir: str,
    owner: dict,
    dirs: tuple[str, ...] = (),
    then: str = "",
    stale: LockInfo | None = None,
    boot_id_path: str | None = None,
) -> tuple[dict, str]:
    """Take the lock or raise ``LockedError`` saying who holds it.

    In the same round trip, once the lock is ours: create ``dirs`` and run ``then``
    (its output is returned). ``stale``: a lock ``inspect`` found over; it is moved aside
    first if it is still that one (a lock taken meanwhile by another run is left alone).
    ``boot_id_path``: the board's boot id goes into the owner (``boot_id``).
    Returns the owner record as written.
    """
    owner = {
        **owner,
        "workstation": socket.gethostname(),
        "taken_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "taken_ts": time.time(),
    }
    d = lock_dir(workdir)
    # the run's dirs only once the lock is ours: a refused attempt leaves nothing behind
    mk = f" && mkdir -p {' '.join(q(x) for x in dirs)}" if dirs else ""
    after = f" && {{ {then}\n}}" if then else ""
    # the lock appears whole: built with its owner in a folder of our own, then renamed
    # into place (rename(2) of a folder fails onto a lock that exists, owner and all; an
    # empty one, left by an older labkit between mkdir and owner, is checked for first)
    new = q(f"{d}.new-{secrets.token_hex(4)}")
    place = f"[ ! -e {q(d)} ] && mv -T {new} {q(d)} 2>/dev/null"
    if boot_id_path:
        read = _READ_BOOT.format(q(boot_id_path))
        write = f'printf \'%s, "boot_id": "%s"}}\' {q(json.dumps(owner)[:-1])} "$b"'
    else:
        read, write = "b=; ", f"printf '%s' {q(json.dumps(owner))}"
    res = target.run(
        f"mkdir -p {q(workdir)} && {_take_over(d, stale) if stale else ''}{read}"
        f"mkdir {new} && {write} > {new}/owner.json && "
        f'{{ {place} || {{ rm -rf {new}; false; }}; }}{mk} && echo "{TAKEN}$b"{after}; true'
    )
    if TAKEN in res.stdout:
        boot, _, out = res.stdout.split(TAKEN, 1)[1].partition("\n")
        if boot_id_path:
            owner["boot_id"] = boot.strip()
        return owner, out
    info = inspect(target, workdir)
    held = info.describe() if info else "another run"
    hint = (
        "wait for it, or `invoke collect` it when done"
        if info is None or not info.stale
        else "it is over: `invoke restore --target "
        + target.name
        + "` puts its settings back and clears the lock"
    )
    raise LockedError(f"{target.name} is busy: {held} holds {d}; {hint}")


def _take_over(d: str, stale: LockInfo) -> str:
    """Shell: drop the lock if it is still the stale one. Confirming that and moving it
    aside happen under ``flock`` on ``<workdir>/lock.flock``, which every take-over and
    release holds: no other taker can drop the lock between the check and the move (a
    third controller's fresh lock is never the one moved). The lock being absent, or not
    that one, leaves it alone; ``mkdir`` then decides who places the next."""
    aside = q(f"{d}.stale-{secrets.token_hex(4)}")
    same = _is_owner(d, stale.owner.get("run_id"))
    return _serial(d, f"if {same}; then mv -T {q(d)} {aside} && rm -rf {aside}; fi") + "; "


def _is_owner(d: str, run_id: str | None) -> str:
    """Shell test: the lock ``d`` is the one of ``run_id`` (None: a lock without owner)."""
    if run_id:
        return f"grep -qF {q(json.dumps({'run_id': run_id})[1:-1])} {q(d)}/owner.json 2>/dev/null"
    return f"{{ [ -d {q(d)} ] && [ ! -e {q(d)}/owner.json ]; }}"


def _serial(d: str, script: str) -> str:
    """Shell: ``script`` under an exclusive ``flock`` beside the lock (waits up to 30 s)."""
    return f"( flock -w 30 9 || exit 1; {script}\n) 9>>{q(d + '.flock')}"


def update(target: Target, workdir: str, owner: dict | None = None, **fields) -> None:
    """Add ``fields`` to the owner record (``owner``: the record as taken, saves a read)."""
    d = lock_dir(workdir)
    if owner is None:
        res = target.run(f"cat {q(d)}/owner.json", check=False)
        owner = json.loads(res.stdout) if res.ok else {}
    owner.update(fields)
    target.put(json.dumps(owner).encode(), posixpath.join(d, "owner.json"))


def release(
    target: Target,
    workdir: str,
    also_remove: list[str] = (),
    empty_dirs: list[str] = (),
    first: str = "",
    what: str = "",
    *,
    run_id: str | None,
) -> str:
    """Drop the lock if it is ``run_id``'s (a lock taken over meanwhile by another run is
    left alone; None: a lock without owner), and, in the same round trip, the files
    ``also_remove`` and the directories ``empty_dirs`` if they are empty. ``first``: a
    script run before, while the lock is still held; its output is returned."""
    extra = f"( {first}\n); " if first else ""
    extra += "".join(f"rm -f {q(p)}; " for p in also_remove)
    extra += "".join(f"rmdir {q(p)} 2>/dev/null; " for p in empty_dirs)
    # renamed aside first: `rm -rf` alone would show the lock without its owner meanwhile;
    # checked and moved under the take-over's flock
    d = lock_dir(workdir)
    gone = q(f"{d}.gone-{secrets.token_hex(4)}")
    drop = f"if {_is_owner(d, run_id)}; then mv -T {q(d)} {gone} && rm -rf {gone}; fi"
    return target.run(extra + _serial(d, drop), check=False, what=what).stdout
