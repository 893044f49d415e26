"""SSH host-key policy: strict by default, OpenSSH-style ``accept-new`` on request.

Fabric hard-codes paramiko's ``AutoAddPolicy`` and never loads known_hosts, which trusts
any machine that answers on the address. labkit loads the user's known_hosts (or
``UserKnownHostsFile`` from ``~/.ssh/config``) and refuses unknown hosts unless the host
is marked ``labkit_host_key_policy: accept-new``; a *changed* key is always refused.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import paramiko

from labkit.errors import HostKeyError


def fingerprint(key: paramiko.PKey) -> str:
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def known_name(host: str, port: int) -> str:
    """How OpenSSH and paramiko name a host in known_hosts."""
    return host if port == 22 else f"[{host}]:{port}"


def plain_host(hostname: str) -> str:
    """paramiko hands policies ``[host]:port`` for non-22 ports; the bare host name."""
    if hostname.startswith("[") and "]:" in hostname:
        return hostname[1:].split("]:", 1)[0]
    return hostname


def known_hosts_files(ssh_config: dict) -> list[Path]:
    value = ssh_config.get("userknownhostsfile")
    names = value.split() if isinstance(value, str) else list(value or [])
    if not names:
        names = ["~/.ssh/known_hosts"]
    return [Path(os.path.expanduser(n)) for n in names]


class RejectUnknown(paramiko.MissingHostKeyPolicy):
    """Refuse a host that is not in known_hosts, saying how to trust it."""

    def __init__(self, target: str, port: int, files: list[Path]) -> None:
        self.target, self.port, self.files = target, port, files

    def missing_host_key(self, client, hostname, key) -> None:
        hostname = plain_host(hostname)
        port_opt = f"-p {self.port} " if self.port != 22 else ""
        raise HostKeyError(
            f"{self.target}: host key of {known_name(hostname, self.port)} is unknown "
            f"({key.get_name()} {fingerprint(key)}); refused. Check the fingerprint on the "
            f"board (ssh-keygen -lf /etc/ssh/{_host_key_file(key)}), then trust it with "
            f"`ssh-keyscan {port_opt}{hostname} >> {self.files[0]}`, or set "
            "labkit_host_key_policy: accept-new for this host in the inventory"
        )


class AcceptNew(paramiko.MissingHostKeyPolicy):
    """Trust a host seen for the first time and remember it (OpenSSH ``accept-new``)."""

    def __init__(self, port: int, file: Path) -> None:
        self.port, self.file = port, file

    def missing_host_key(self, client, hostname, key) -> None:
        name = known_name(plain_host(hostname), self.port)
        client.get_host_keys().add(name, key.get_name(), key)
        self.file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(self.file, "a") as fh:
            fh.write(f"{name} {key.get_name()} {key.get_base64()}\n")


def apply_policy(
    client: paramiko.SSHClient, target: str, port: int, policy: str, ssh_config: dict
) -> None:
    """Load known_hosts into ``client`` and set the missing-key policy."""
    files = known_hosts_files(ssh_config)
    for f in files:
        if f.exists():
            client.load_system_host_keys(str(f))
    if policy == "accept-new":
        client.set_missing_host_key_policy(AcceptNew(port, files[0]))
    else:
        client.set_missing_host_key_policy(RejectUnknown(target, port, files))


def changed_key_error(target: str, exc: paramiko.BadHostKeyException, port: int) -> HostKeyError:
    name = known_name(plain_host(exc.hostname), port)
    return HostKeyError(
        f"{target}: HOST KEY CHANGED for {name}: known_hosts has "
        f"{fingerprint(exc.expected_key)}, the host offered {exc.key.get_name()} "
        f"{fingerprint(exc.key)}; refused (someone may be intercepting, or the board was "
        "reinstalled: if so, remove the old line with `ssh-keygen -R "
        f"'{name}'` and trust the new key)"
    )


def _host_key_file(key: paramiko.PKey) -> str:
    kind = key.get_name().removeprefix("ssh-").split("-")[0]
    return f"ssh_host_{'ecdsa' if kind == 'ecdsa' else kind}_key.pub"
