"""The simulated reboot ends only what the simulator marked as its own, and stops only the
sshd listener registered for the simulated host (never a system sshd)."""

from __future__ import annotations

import os
import subprocess
import sys

from labkit.sim import reboot
from labkit.sim.root import init_root
from tests.labhost import wait_for


def _sleeper(env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], env=env)


def test_only_processes_marked_by_the_simulator_are_the_boards(tmp_path):
    root = tmp_path / "sim" / "root"
    init_root(root, {"board": "thor"})
    bin_dir = str(root.parent / "bin")
    base = {k: v for k, v in os.environ.items() if not k.startswith("LABKIT_SIM")}
    # a developer's shell with the sim's tools on PATH and its root set: not the board's
    stranger = _sleeper({**base, "PATH": f"{bin_dir}:{base['PATH']}", "LABKIT_SIM_ROOT": str(root)})
    ours = _sleeper({**base, reboot.MARK: str(root)})
    other_board = _sleeper({**base, reboot.MARK: str(tmp_path / "other" / "root")})
    try:
        pids = reboot.board_processes(root)
        assert ours.pid in pids
        assert stranger.pid not in pids and other_board.pid not in pids
    finally:
        for p in (stranger, ours, other_board):
            p.kill()
            p.wait()


def test_only_the_registered_sshd_listener_is_stopped(sshd, tmp_path):
    """labkit's shell under an sshd that was not registered for this simulated host (as a
    system sshd would be): no session killed, no listener stopped."""
    root = tmp_path / "sim" / "root"
    init_root(root, {"board": "thor"})
    proc = subprocess.Popen(
        sshd.ssh_argv("exec bash --norc --noprofile -c 'echo $$; sleep 60; true'"),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        pid = int(proc.stdout.readline())
        wait_for(lambda: os.path.exists(f"/proc/{pid}"), timeout=10, what="the shell")
        assert reboot.ssh_chain(pid, root) == ([], None)
        init_root(root, {"board": "thor", "sshd_pid_file": str(sshd.dir / "sshd.pid")})
        sessions, listener = reboot.ssh_chain(pid, root)
        assert listener == sshd.proc.pid and sessions
    finally:
        proc.kill()
        proc.wait()
