"""A real OpenSSH server on 127.0.0.1 for tests: temp host key, user key, known_hosts.

Started as a non-daemon child (``sshd -D``) on a free loopback port and stopped at the end.
It never listens on, or is pointed at, anything but 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


@dataclass
class SshServer:
    port: int
    user: str
    key: Path
    known_hosts: Path
    host_pub: str
    proc: subprocess.Popen
    dir: Path

    def ssh_argv(self, *remote: str) -> list[str]:
        return [
            "ssh",
            "-F",
            "none",
            "-i",
            str(self.key),
            "-p",
            str(self.port),
            "-o",
            f"UserKnownHostsFile={self.known_hosts}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "LogLevel=ERROR",
            f"{self.user}@{LOOPBACK}",
            *remote,
        ]

    def run(
        self, command: str, *, input: bytes | None = None, timeout: float = 60, check: bool = True
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            self.ssh_argv(command), input=input, capture_output=True, timeout=timeout, check=check
        )

    def accepted(self) -> int:
        """SSH connections this server has let in so far (its log's lines, written as it
        lets each in, before any command runs)."""
        return (self.dir / "sshd.log").read_text().count("Accepted publickey for ")

    def sessions(self) -> list[int]:
        """Pids of the per-connection sshd processes forked by this server."""
        out = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == self.proc.pid:
                out.append(int(stat.parent.name))
        return out

    def crash(self) -> None:
        """Drop every connection at once, as a dead link or rebooting router would."""
        children = self.sessions()
        self.proc.kill()
        self.proc.wait(timeout=10)
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start_sshd(
    base: Path, port: int | None = None, sftp: bool = True, extra: tuple[str, ...] = ()
) -> SshServer:
    """Start sshd; with ``base`` of an earlier server (and its ``port``), restart that one.
    ``sftp=False``: no ``Subsystem sftp`` line, as on minimal images; ``extra``: more
    ``sshd_config`` lines."""
    if not Path(SSHD).exists():
        raise RuntimeError("sshd not found: install openssh-server (.ci/run does)")
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o700)
    host_key, user_key = base / "host_ed25519", base / "user_ed25519"
    for key in (host_key, user_key):
        if not key.exists():
            cmd = ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)]
            subprocess.run(cmd, check=True)
    auth = base / "authorized_keys"
    auth.write_text((user_key.with_suffix(".pub")).read_text())
    os.chmod(auth, 0o600)
    port = port or free_port()
    host_pub = host_key.with_suffix(".pub").read_text().split()
    known = base / "known_hosts"
    known.write_text(f"[{LOOPBACK}]:{port} {host_pub[0]} {host_pub[1]}\n")
    config = base / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                f"ListenAddress {LOOPBACK}",
                f"HostKey {host_key}",
                f"AuthorizedKeysFile {auth}",
                f"PidFile {base / 'sshd.pid'}",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PubkeyAuthentication yes",
                "PermitRootLogin prohibit-password",
                "StrictModes no",
                "UsePAM no",
                "ClientAliveInterval 5",
                "MaxStartups 100:30:200",
                "MaxSessions 100",
                "AcceptEnv LANG",
                *(["Subsystem sftp internal-sftp"] if sftp else []),
                *extra,
                "",
            ]
        )
    )
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(exist_ok=True)
    proc = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=open(base / "sshd.log", "ab"),  # noqa: SIM115 - lives as long as sshd
    )
    server = SshServer(port, getpass.getuser(), user_key, known, " ".join(host_pub[:2]), proc, base)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd exited: {(base / 'sshd.log').read_text()}")
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.05)
    res = server.run("true", check=False)
    if res.returncode != 0:
        server.stop()
        raise RuntimeError(
            f"ssh to the test sshd failed: {res.stderr.decode()}{(base / 'sshd.log').read_text()}"
        )
    return server
