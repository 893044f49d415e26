"""What an SSH connection is opened with, as data (no paramiko here): a run's checked host
gives it (``connect.ssh_params``), and so do ``remote.early``'s raw inventory values."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SshParams:
    """What a connection is opened with: equal parameters reach the same server as the
    same user, with the same key and host-key policy (``remote.early`` compares them)."""

    address: str
    user: str | None = None
    port: int | None = None
    key_file: str | None = None
    host_key_policy: str = "strict"

    def describe(self) -> str:
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        return f"ssh {user}{self.address}{port}"
