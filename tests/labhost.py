"""Simulated Jetsons behind the test sshd: inventories, the `invoke` CLI, the sim's state.

The tests drive labkit the way a user does (``python -m invoke experiment ...`` from the
repository, with its own inventory pointing at 127.0.0.1:<port>) and then look at what
is left on the "target" - here the same machine, so its files and pids are visible.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from tests.conftest import REPO
from tests.sshd import LOOPBACK, SshServer

GROUP_VARS = REPO / "inventory" / "group_vars" / "all.yml"
PLAYBOOK = REPO / "playbooks" / "lerobot-loop-lag.yml"
NCPU = 14


# Three tests at a time on two cores (the README's `-n 3`) can keep a simulated camera's read
# thread off the CPU past LeRobot's 200 ms frame timeout, and the recording would end with
# its TimeoutError: the tests are about labkit, so their simulated hosts wait longer.
SIM_TEST_OPTIONS = {"camera_timeout_ms": 2000}


def ssh_host(server: SshServer, workdir: Path, **extra) -> dict:
    return {
        "ansible_host": LOOPBACK,
        "ansible_port": server.port,
        "ansible_user": server.user,
        "ansible_ssh_private_key_file": str(server.key),
        "labkit_simulate": True,
        "labkit_workdir": str(workdir),
        # the sshd a simulated reboot drops: this one, registered (never a system sshd);
        # SIM_TEST_OPTIONS: a starved camera thread must not end the run (see there)
        "labkit_sim": {
            "python": sys.executable,
            "sshd_pid_file": str(server.dir / "sshd.pid"),
            **SIM_TEST_OPTIONS,
        },
        **extra,
    }


def write_inventory(path: Path, hosts: dict[str, dict]) -> Path:
    """An Ansible YAML inventory with the repository's rig vars and the given hosts."""
    doc = {"all": {"vars": yaml.safe_load(GROUP_VARS.read_text()), "hosts": hosts}}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def local_sim_inventory(tmp: Path) -> Path:
    """The shipped inventory copied into ``tmp``, its local simulated Jetson working in
    ``tmp/wd``: the hosts file to pass as ``--inventory``."""
    inv_dir = tmp / "inventory"
    shutil.copytree(REPO / "inventory", inv_dir)
    hosts = yaml.safe_load((inv_dir / "hosts.yml").read_text())
    sim = hosts["all"]["children"]["simulated"]["hosts"]["sim"]
    sim["labkit_workdir"] = str(tmp / "wd")
    sim["labkit_sim"] = {**sim.get("labkit_sim", {}), **SIM_TEST_OPTIONS}
    (inv_dir / "hosts.yml").write_text(yaml.safe_dump(hosts))
    return inv_dir / "hosts.yml"


def trust(home: Path, server: SshServer) -> None:
    """Put the test sshd's host key into the fake $HOME's known_hosts."""
    ssh = home / ".ssh"
    ssh.mkdir(mode=0o700, exist_ok=True)
    with open(ssh / "known_hosts", "a") as fh:
        fh.write(server.known_hosts.read_text())


def env(home: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "HOME": str(home), "LABKIT_RECONNECT_S": "3", **extra}


def invoke_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "invoke", *args]


def invoke(*args: str, home: Path, timeout: float = 240, **extra: str):
    """Run an invoke task from the repository, as the README does."""
    return subprocess.run(
        invoke_argv(*args),
        cwd=REPO,
        env=env(home, **extra),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def manifests(runs: Path) -> list[tuple[Path, dict]]:
    out = []
    for mf in sorted(runs.glob("*/*/manifest.json")):
        out.append((mf.parent, json.loads(mf.read_text())))
    return out


def sim_root(workdir: Path) -> Path:
    return workdir / "sim" / "root"


def governors(workdir: Path) -> list[str]:
    base = sim_root(workdir) / "sys/devices/system/cpu"
    return [(base / f"cpu{i}/cpufreq/scaling_governor").read_text().strip() for i in range(NCPU)]


def sysctl(workdir: Path, key: str) -> str:
    return (sim_root(workdir) / "proc/sys" / key.replace(".", "/")).read_text().strip()


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie still answers kill(0): look at its state
    try:
        state = Path(f"/proc/{int(pid)}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def wait_for(predicate, timeout: float, what: str, step: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def remote_run_dirs(workdir: Path, experiment: str = "*") -> list[Path]:
    return sorted(p for p in (workdir / "runs").glob(f"{experiment}/*") if p.is_dir())


def recording(workdir: Path, experiment: str) -> Path | None:
    """The run directory of ``experiment`` whose record.log shows an episode under way."""
    for rd in remote_run_dirs(workdir, experiment):
        log = rd / "record.log"
        if log.exists() and "Recording episode" in log.read_text(errors="replace"):
            return rd
    return None


def sim_tool(workdir: Path, *argv: str) -> str:
    """Run one of the simulator's tools (nvpmodel, jetson_clocks) against its root."""
    exe = workdir / "sim" / "bin" / argv[0]
    return subprocess.run([str(exe), *argv[1:]], capture_output=True, text=True, check=True).stdout


def power_state(workdir: Path) -> tuple[str, str]:
    """nvpmodel's mode line and cpu0's clock line from jetson_clocks --show."""
    mode = sim_tool(workdir, "nvpmodel", "-q").splitlines()[-1]
    show = sim_tool(workdir, "jetson_clocks", "--show")
    cpu0 = next(line for line in show.splitlines() if line.startswith("cpu0:"))
    return mode, cpu0.split("CurrentFreq")[0]
