"""The run lock over the real test sshd: owner written atomically, ownerless locks."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import socket
import threading
import time

import pytest

from labkit.errors import LockedError
from labkit.remote import lock, reboot
from labkit.remote.reboot import BOOT_ID
from labkit.remote.ssh import SshTarget
from labkit.remote.target import LocalTarget
from labkit.sim.root import init_root, load_config
from tests.labhost import trust
from tests.sshd import LOOPBACK


@pytest.fixture
def target(sshd, fake_home):
    trust(fake_home, sshd)
    t = SshTarget("thor", LOOPBACK, user=sshd.user, port=sshd.port, key_file=str(sshd.key))
    yield t
    t.close()


def test_the_lock_never_shows_without_its_owner(target, tmp_path):
    """A watcher on the target's disk never sees the lock folder before its owner.json
    (the gap a second controller would have taken for an abandoned lock)."""
    wd = tmp_path / "wd"
    d = wd / "lock"
    seen: list[str] = []
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            if d.is_dir() and not (d / "owner.json").exists() and d.is_dir():
                seen.append(str(sorted(os.listdir(d)) if d.is_dir() else "gone"))

    w = threading.Thread(target=watch, daemon=True)
    w.start()
    try:
        for i in range(30):
            lock.acquire(target, str(wd), {"run_id": f"r{i}"})
            lock.release(target, str(wd), run_id=f"r{i}")
    finally:
        stop.set()
        w.join(timeout=10)
    assert seen == []


def test_a_young_lock_without_owner_is_busy(target, tmp_path):
    wd = tmp_path / "wd"
    (wd / "lock").mkdir(parents=True)
    info = lock.inspect(target, str(wd))
    assert info is not None and info.state == "running" and not info.stale
    with pytest.raises(LockedError, match="thor is busy"):
        lock.acquire(target, str(wd), {"run_id": "second"})
    assert os.listdir(wd / "lock") == []


def test_an_old_lock_without_owner_is_abandoned(target, tmp_path):
    wd = tmp_path / "wd"
    (wd / "lock").mkdir(parents=True)
    old = time.time() - lock.STALE_S - 60
    os.utime(wd / "lock", (old, old))
    info = lock.inspect(target, str(wd))
    assert info is not None and info.state == "abandoned" and info.stale
    owner, _ = lock.acquire(target, str(wd), {"run_id": "next"}, stale=info)
    assert owner["run_id"] == "next"
    assert '"run_id": "next"' in (wd / "lock" / "owner.json").read_text()


def _take_stale(args: tuple[str, int]) -> int | None:
    """One controller: inspect the lock, take it over if stale; its index if it won."""

    wd, i = args
    t = LocalTarget("t")
    info = lock.inspect(t, wd)
    try:
        lock.acquire(t, wd, {"run_id": f"r{i}"}, stale=info if info and info.stale else None)
    except LockedError:
        return None
    return i


def test_concurrent_takers_of_a_stale_lock_exactly_one_wins(tmp_path):
    """Several controllers find the same dead run's lock at once: every trial, exactly
    one takes it, and the lock on disk is that one's (no winner's lock moved aside)."""

    takers, trials = 4, 25
    ctx = mp.get_context("fork")
    with ctx.Pool(takers) as pool:
        for trial in range(trials):
            wd = tmp_path / f"wd{trial}"
            (wd / "lock").mkdir(parents=True)
            dead = {"run_id": "dead", "pid": 2**22 + 1, "workstation": socket.gethostname()}
            (wd / "lock" / "owner.json").write_text(json.dumps(dead))
            won = [
                w
                for w in pool.map(_take_stale, [(str(wd), i) for i in range(takers)])
                if w is not None
            ]
            assert len(won) == 1, f"trial {trial}: winners {won}"
            owner = json.loads((wd / "lock" / "owner.json").read_text())
            assert owner["run_id"] == f"r{won[0]}", f"trial {trial}"


def test_a_live_controllers_lock_is_running_however_old(target, tmp_path):
    """A controller alive on this workstation (here: this test) is running, even when its
    lock was taken long ago (a long reboot wait); STALE_S outlasts two reboot waits."""

    wd = tmp_path / "wd"
    lock.acquire(target, str(wd), {"run_id": "live", "pid": os.getpid()})
    old = time.time() - lock.STALE_S - 60
    os.utime(wd / "lock", (old, old))
    info = lock.inspect(target, str(wd))
    assert info is not None and info.state == "running" and not info.stale
    assert lock.STALE_S > 2 * reboot.DEFAULT_TIMEOUT_S
    lock.touch(target, str(wd))
    assert time.time() - (wd / "lock").stat().st_mtime < 60


def test_release_drops_only_its_own_lock(target, tmp_path):
    """A run releasing the lock after another took it over (its own was cleared as stale)
    leaves the other's lock alone."""

    wd = tmp_path / "wd"
    lock.acquire(target, str(wd), {"run_id": "other"})
    lock.release(target, str(wd), run_id="mine")
    assert json.loads((wd / "lock" / "owner.json").read_text())["run_id"] == "other"
    lock.release(target, str(wd), run_id="other")
    assert not (wd / "lock").exists()


def test_a_lock_from_a_previous_boot_is_over(target, tmp_path):
    """The lock and the supervisor's status carry the boot id: after the board rebooted
    (the simulator's boot), a supervisor pid that answers is another process, not the run."""

    root = tmp_path / "root"
    init_root(root, {"board": "thor"})
    bid = str(root) + BOOT_ID
    wd, rd = tmp_path / "wd", tmp_path / "wd" / "runs" / "x" / "r1"
    owner, _ = lock.acquire(
        target, str(wd), {"run_id": "r1", "run_dir": str(rd)}, dirs=(str(rd),), boot_id_path=bid
    )
    boot0 = (root / BOOT_ID.lstrip("/")).read_text().strip()
    assert owner["boot_id"] == boot0
    assert json.loads((wd / "lock" / "owner.json").read_text())["boot_id"] == boot0
    status = {"state": "running", "supervisor_pid": os.getpid(), "boot_id": boot0}
    (rd / "status.json").write_text(json.dumps(status))
    info = lock.inspect(target, str(wd), boot_id_path=bid)
    assert info is not None and info.state == "running"
    init_root(root, load_config(root), boot=True)  # the simulated reboot's boot
    info = lock.inspect(target, str(wd), boot_id_path=bid)
    assert info is not None and info.state == "finished" and info.stale
    assert "previous boot" in info.describe()
    # the run that rebooted the board says so: its lock is the new boot's again
    lock.touch(target, str(wd), bid)
    status["boot_id"] = (root / BOOT_ID.lstrip("/")).read_text().strip()
    (rd / "status.json").write_text(json.dumps(status))
    info = lock.inspect(target, str(wd), boot_id_path=bid)
    assert info is not None and info.state == "running" and not info.previous_boot
