"""From an inventory host to an open ``Target``: connected now, or begun early.

Connecting early (``connect_early``) lets a task's start-up (reading its playbook,
importing the engine) overlap the SSH handshake and the remote shell's start. This module
stays light (no plug-in, no analysis import) so a task can begin connecting before it
imports the rest.
"""

from __future__ import annotations

import atexit
import contextlib
import threading
from dataclasses import dataclass

from labkit.config.hostvars import HostConfig
from labkit.remote.target import LocalTarget, Target


def _ssh_target() -> type[Target]:
    """``SshTarget``, imported on first use: paramiko (~0.1 s) only for an SSH target."""
    from labkit.remote.ssh import SshTarget  # noqa: PLC0415 -- start-up time

    return SshTarget


def open_target(host: HostConfig) -> Target:
    if host.connection == "local":
        return LocalTarget(host.name)
    return _ssh_target()(
        host.name,
        host.address,
        user=host.ansible_user,
        port=host.ansible_port,
        key_file=host.ansible_ssh_private_key_file,
        host_key_policy=host.labkit_host_key_policy,
    )


@dataclass
class _Early:
    """A connection begun in the background (``connect_early``): the target, its work dir
    resolved, or the error connecting raised."""

    key: tuple
    done: threading.Event
    target: Target | None = None
    workdir: str = ""
    error: BaseException | None = None


_EARLY: list[_Early] = []


def _key(host: HostConfig) -> tuple:
    """What a connection to ``host`` is made with: an early one serves a host with the same."""
    return (
        host.name,
        host.connection,
        host.address,
        host.ansible_port,
        host.ansible_user,
        host.ansible_ssh_private_key_file,
        host.labkit_host_key_policy,
        host.workdir,
    )


def connect_early(host: HostConfig) -> None:
    """Begin connecting to an SSH ``host`` in a background thread: the handshake and the
    remote shell's start (its login rc files) overlap what the task still does before it
    needs the host (reading the playbook, importing the engine) instead of following it.
    ``open_host`` takes the connection, or raises the error connecting raised, at the
    point it would have connected itself; nothing but the shell runs on the host. A
    connection no task takes is closed at exit."""
    if host.connection == "local":
        return
    _ssh_target()  # imported here: two threads importing at once can meet a half-made module
    early = _Early(_key(host), threading.Event())
    _EARLY.append(early)
    if len(_EARLY) == 1:
        atexit.register(_close_untaken)

    def connect() -> None:
        try:
            target = open_target(host)
            try:
                target.warm()
                early.workdir = target.expand(host.workdir.rstrip("/") or "/")
            except BaseException:
                target.close()
                raise
            early.target = target
        except BaseException as exc:  # handed to the task, raised where it connects
            early.error = exc
        finally:
            early.done.set()

    threading.Thread(target=connect, daemon=True, name=f"labkit-connect-{host.name}").start()


def take_early(host: HostConfig) -> tuple[Target, str] | None:
    """The early connection to ``host`` (waiting for it), if one was begun."""
    key = _key(host)
    early = next((e for e in _EARLY if e.key == key), None)
    if early is None:
        return None
    _EARLY.remove(early)
    early.done.wait()
    if early.error is not None:
        raise early.error
    assert early.target is not None
    return early.target, early.workdir


def _close_untaken() -> None:
    for early in _EARLY:
        if early.done.is_set() and early.target is not None:
            with contextlib.suppress(Exception):
                early.target.close()
