"""From an inventory host to a ready ``HostSession``: connection, work dir, simulator.

A host with ``labkit_simulate: true`` gets the simulated Jetson installed (again only when
its code or configuration changed) and its tools put first on ``PATH``; its sysfs and /etc
live under the simulated root, so facts and settings read and write there instead of the
real ``/sys``. What installs it is a :class:`Provisioner` wired in from above
(``labkit.provision``, by the CLI and ``tasks.py``): this package never imports the
simulator.
"""

from __future__ import annotations

import getpass
import os
import posixpath
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from labkit.config.hostvars import HostConfig
from labkit.errors import ConfigError, LabkitError
from labkit.registry import plugin_facts
from labkit.remote.early import Early, ssh_class
from labkit.remote.facts import (
    Fact,
    facts_for,
    gather,
    gather_script,
    parse_top_processes,
    split_sections,
)
from labkit.remote.params import SshParams
from labkit.remote.target import LocalTarget, Target

_PASSWORDS: dict[str, str] = {}  # asked once per invocation, kept in memory only


class Provisioner(Protocol):
    """What puts the simulated Jetson on a host with ``labkit_simulate: true``."""

    def attach(self, target: Target, workdir: str) -> str:
        """Put its tools first on the target's PATH (installing nothing); its sysroot."""

    def installed(self, workdir: str) -> Fact:
        """The fact saying which install the host has ("" when none)."""

    def wanted(self, host: HostConfig, versions: Mapping[str, str]) -> str:
        """The install ``host`` should have (compared with ``installed``); ``versions``:
        those of the workload's programs a plan is made for (none outside a run)."""

    def location(self, workdir: str) -> str:
        """Where it is installed (for messages)."""

    def install(
        self, target: Target, host: HostConfig, workdir: str, versions: Mapping[str, str], log
    ) -> str:
        """Install it when the host's is not the wanted one, then ``attach``; its sysroot."""


_PROVISIONER: list[Provisioner] = []  # the one wired in (``set_provisioner``)


def set_provisioner(provisioner: Provisioner) -> None:
    """Wire in what installs the simulated Jetson (``labkit.provision.wire``)."""
    _PROVISIONER[:] = [provisioner]


def provisioner(host: HostConfig) -> Provisioner:
    if not _PROVISIONER:
        raise ConfigError(
            f"host {host.name} is simulated (labkit_simulate: true) but nothing that installs "
            "the simulator is wired in; call labkit.provision.wire() first (the CLI and "
            "tasks.py do)"
        )
    return _PROVISIONER[0]


@dataclass
class HostSession:
    host: HostConfig
    target: Target
    workdir: str  # absolute on the target
    sysroot: str  # "" on a real board; the simulated root on the simulator
    # (the plan's program versions, log) while a simulated host's install is not checked
    # yet: the check then rides on the first facts round trip instead of costing its own
    sim_unchecked: tuple | None = None
    # False under --check: a simulator that is missing or out of date is not (re)installed
    install: bool = True

    @property
    def state_dir(self) -> str:
        return posixpath.join(self.workdir, "state")

    @property
    def needs_sudo(self) -> bool:
        return self.host.labkit_sudo == "sudo" and not self.host.labkit_simulate

    def gather_facts(
        self, paths: list[str] = (), top: str | None = None, plugins: list[Fact] | None = None
    ) -> dict:
        """The host's facts (``remote.facts``) in one round trip; with ``paths``, also
        ``missing_paths``: those of them (device nodes) that do not exist; ``top``: the
        command for ``top_processes`` instead of sampling in this round trip; ``plugins``:
        the plug-in facts to gather (a run's plan's; None: every registered plug-in's)."""
        tools = self._facts(paths, top, plugins=plugins)
        if self.sim_unchecked is None:
            return gather(self.target, self.sysroot, self.workdir, tools)
        versions, log = self.sim_unchecked
        sim = provisioner(self.host)
        stamp = sim.installed(self.workdir)
        facts = gather(self.target, self.sysroot, self.workdir, [*tools, stamp])
        self.sim_unchecked = None
        installed = facts.pop(stamp.name)
        if installed == sim.wanted(self.host, versions):
            return facts
        base = sim.location(self.workdir)
        if not self.install and not installed:
            raise LabkitError(
                f"{self.host.name}: the simulated Jetson is not installed in {base} yet, and "
                f"--check installs nothing; `invoke facts --target {self.host.name}` (or a "
                "run) installs it, then --check plans against it"
            )
        if not self.install:
            log(
                f"{self.host.name}: the simulated Jetson in {base} is out of date; --check "
                "plans against it as it is (a run reinstalls it first)"
            )
            return facts
        sim.install(self.target, self.host, self.workdir, versions, log)
        return self.gather_facts(paths, top, plugins)

    def _facts(
        self,
        paths: list[str] = (),
        top: str | None = None,
        extra: list = (),
        plugins: list[Fact] | None = None,
    ) -> list:
        tools = facts_for() + (plugin_facts(self.host) if plugins is None else list(plugins))
        if top is not None:
            tools = [
                Fact(f.name, lambda r, w: top, parse_top_processes)
                if f.name == "top_processes"
                else f
                for f in tools
            ]
        tools += list(extra)
        if paths:
            quoted = " ".join(shlex.quote(self.sysroot + p) for p in paths)
            root = len(self.sysroot)
            tools.append(
                Fact(
                    "missing_paths",
                    lambda r, w: f'for p in {quoted}; do [ -e "$p" ] || echo "$p"; done',
                    lambda out, code: [line[root:] for line in out.split()],
                )
            )
        return tools

    def facts_probe(
        self,
        paths: list[str] = (),
        top: str | None = None,
        extra: list = (),
        plugins: list[Fact] | None = None,
    ) -> tuple[str, Callable[[str], dict]]:
        """``gather_facts`` as a script and the parser of its output, for a caller that
        sends it with another command (one round trip for both); ``extra``: more facts."""
        tools = self._facts(paths, top, extra, plugins)

        def parse(out: str) -> dict | None:
            sections = split_sections(out)
            if not sections:  # the script did not run (or said nothing): unknown
                return None
            return {f.name: f.process(*sections.get(f.name, ("", 127))) for f in tools}

        return gather_script(tools, self.sysroot, self.workdir), parse

    def enable_sudo(self) -> None:
        self.target.setup_sudo(self.needs_sudo, self._password_source())

    def _password_source(self):
        ref = self.host.ansible_become_password
        if ref is None:
            return None

        def get() -> str:
            key = f"{self.host.name}:{ref.kind}:{ref.name}"
            if key not in _PASSWORDS:
                if ref.kind == "env":
                    if ref.name not in os.environ:
                        raise ConfigError(
                            f"host {self.host.name}: ansible_become_password names environment "
                            f"variable {ref.name}, which is not set"
                        )
                    _PASSWORDS[key] = os.environ[ref.name]
                else:
                    _PASSWORDS[key] = getpass.getpass(f"sudo password for {self.host.name}: ")
            return _PASSWORDS[key]

        return get

    def close(self) -> None:
        self.target.close()


def ssh_params(host: HostConfig) -> SshParams:
    """The SSH parameters of a checked host."""
    return SshParams(
        host.address,
        host.ansible_user,
        host.ansible_port,
        host.ansible_ssh_private_key_file,
        host.labkit_host_key_policy,
    )


def open_target(host: HostConfig, early: Early | None = None) -> Target:
    """A connection to ``host``: ``early``'s, if it was opened to this host with the same
    parameters (``remote.early``), else a new one."""
    if host.connection == "local":
        return LocalTarget(host.name)
    params = ssh_params(host)
    taken = early.take(host.name, params) if early is not None else None
    return taken if taken is not None else ssh_class()(host.name, **vars(params))


def open_host(
    host: HostConfig,
    versions: Mapping[str, str] | None = None,
    log=print,
    defer_sim: bool = False,
    install: bool = True,
    early: Early | None = None,
) -> HostSession:
    """Connect, resolve the work dir, and on a simulated host make sure the simulator is in
    (``defer_sim``: at the first ``gather_facts``, in the same round trip; ``install=False``
    for ``--check``: a missing simulator is an error, an outdated one is used as it is).
    ``versions``: those of the workload's programs a run's plan is made for (the simulator
    emulates them); host tasks that run no workload (facts, restore, collect) pass none.
    ``early``: a connection opened ahead (``open_target``)."""
    versions = dict(versions or {})
    target = open_target(host, early)
    try:
        workdir = target.expand(host.workdir.rstrip("/") or "/")
        if host.labkit_simulate and (defer_sim or not install):
            sysroot = provisioner(host).attach(target, workdir)
            unchecked = (versions, log)
            return HostSession(host, target, workdir, sysroot, unchecked, install)
        sysroot = ""
        if host.labkit_simulate:
            sysroot = provisioner(host).install(target, host, workdir, versions, log)
        return HostSession(host, target, workdir, sysroot)
    except BaseException:
        target.close()
        raise
