"""Simulated Jetsons behind real sshd servers on loopback, for the benchmarks.

Reuses the test harness (``tests/sshd.py``: temp host and user keys, a free 127.0.0.1
port) so the benchmarks measure the same path the tests check. Nothing listens on, or is
pointed at, anything but 127.0.0.1.
"""

from __future__ import annotations

import compileall
import datetime as dt
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work"
sys.path.insert(0, str(ROOT))

from tests.labhost import ssh_host, trust, write_inventory  # noqa: E402
from tests.sshd import SshServer, start_sshd  # noqa: E402

RECORD_S = 3
PLAYBOOK = """\
# benchmark playbook: one {seconds} s recording, the CPU governor set and put back
name: bench
lerobot_version: "0.4.4"
record:
  dataset:
    repo_id: labkit/bench
    single_task: benchmark
    fps: {fps}
    episode_time_s: {seconds}
    reset_time_s: 0
    num_episodes: 1
    push_to_hub: false
  display_data: false
  cameras: [{cameras}]
settings:
  cpu_governor: performance
experiments:
  - name: bench
"""


@dataclass
class Lab:
    base: Path
    home: Path
    inventory: Path
    playbook: Path
    servers: dict[str, SshServer]
    workdirs: dict[str, Path]

    def env(self) -> dict[str, str]:
        return {**os.environ, "HOME": str(self.home)}

    def invoke(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "invoke", *args],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=600,
        )

    def stop(self) -> None:
        for s in self.servers.values():
            s.stop()


def compiled(checkout: Path) -> None:
    """Byte-compile a checkout's labkit (its ``src/`` and ``tasks.py``) once, as ``pip
    install`` does for an installed package: with ``PYTHONDONTWRITEBYTECODE=1`` in the
    environment (this sandbox sets it) an editable install is otherwise compiled again on
    every start, ~0.3 s of each ``invoke`` that no user's second run pays."""
    compileall.compile_dir(checkout / "src", quiet=1)
    compileall.compile_file(checkout / "tasks.py", quiet=1)


# bash sources ~/.bashrc for a command sshd starts only as a top-level shell (SHLVL < 2
# once it has counted itself): with this, as on a board whose ~/.bashrc returns at once
# when not interactive (Ubuntu's default), a command's login shell costs a bash start,
# not this machine's `pyenv init` (~0.12 s) -- without editing anyone's ~/.bashrc
PLAIN_SHELL = ("SetEnv SHLVL=1",)


def make_lab(
    base: Path,
    hosts: int,
    cameras: str = "context, right_wrist, left_wrist",
    fps: int = 30,
    apart: bool = False,
    plain_shell: bool = False,
) -> Lab:
    """``hosts`` simulated Jetsons, each behind its own sshd, provisioned and ready;
    ``apart``: labkit treats them as boards elsewhere (``labkit_shares_cpu: false``), not
    as simulated hosts on its own machine, whose CPU readings would see its work;
    ``plain_shell``: a command's login shell reads no ``~/.bashrc`` (``PLAIN_SHELL``)."""
    compiled(ROOT)
    base.mkdir(parents=True, exist_ok=True)
    home = base / "home"
    home.mkdir(exist_ok=True)
    servers, workdirs, entries = {}, {}, {}
    for i in range(1, hosts + 1):
        name = f"jet{i}"
        servers[name] = start_sshd(base / f"sshd-{name}", extra=PLAIN_SHELL if plain_shell else ())
        trust(home, servers[name])
        workdirs[name] = base / f"wd-{name}"
        entries[name] = ssh_host(servers[name], workdirs[name])
        if apart:
            entries[name]["labkit_shares_cpu"] = False
    inventory = write_inventory(base / "hosts.yml", entries)
    playbook = base / "bench.yml"
    playbook.write_text(PLAYBOOK.format(seconds=RECORD_S, cameras=cameras, fps=fps))
    lab = Lab(base, home, inventory, playbook, servers, workdirs)
    for name in servers:  # install the simulator once, outside the measurements
        res = lab.invoke("facts", "--target", name, "--inventory", str(inventory),
                         "--playbook", str(playbook))  # fmt: skip
        if res.returncode != 0:
            raise SystemExit(f"provisioning {name} failed:\n{res.stdout}{res.stderr}")
    return lab


def machine() -> str:
    return (
        f"{platform.node()}: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {platform.platform()}"
    )


def append_results(title: str, body: str) -> Path:
    """Append a dated section to docs/benchmarks.md."""
    doc = ROOT / "docs" / "benchmarks.md"
    if not doc.exists():
        doc.write_text(
            "# Benchmarks\n\nResults appended by the scripts in `bench/`; newest last.\n"
        )
    day = dt.date.today().isoformat()
    with open(doc, "a") as fh:
        fh.write(f"\n### {title} — {day}\n\n{body.rstrip()}\n")
    return doc
