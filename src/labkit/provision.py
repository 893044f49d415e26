"""Putting the simulated Jetson on a host: the provisioner ``labkit.remote.connect`` calls
for a host with ``labkit_simulate: true``.

Above both the simulator (``labkit.sim``) and the remote layer, which never imports it:
the CLI (``labkit.cli``, so ``tasks.py`` too) wires it in with :func:`wire`. The simulator
goes into ``<workdir>/sim`` and is installed again only when its code or configuration
changed (a stamp file holds the install's id).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from labkit.config.hostvars import HostConfig
from labkit.core.facts import Fact
from labkit.remote.connect import set_provisioner
from labkit.remote.target import Target
from labkit.sim import deploy
from labkit.sim.root import DEFAULT_CONFIG


class SimulatedJetson:
    """The simulated Jetson as a ``labkit.remote.connect.Provisioner``."""

    def attach(self, target: Target, workdir: str) -> str:
        p = deploy.paths(workdir)
        # LABKIT_SIM_BOARD marks what runs on the simulated board (a simulated reboot ends it)
        target.env_prefix = (
            f'export PATH={shlex.quote(p["bin"])}:"$PATH" '
            f"LABKIT_SIM_BOARD={shlex.quote(p['root'])}; "
        )
        return p["root"]

    def installed(self, workdir: str) -> Fact:
        stamp = deploy.paths(workdir)["stamp"]
        return Fact("sim_bundle", lambda r, w: f"cat {shlex.quote(stamp)}", _text)

    def wanted(self, host: HostConfig, versions: Mapping[str, str]) -> str:
        return deploy.bundle_id(sim_config(host, versions))

    def location(self, workdir: str) -> str:
        return deploy.paths(workdir)["base"]

    def install(
        self, target: Target, host: HostConfig, workdir: str, versions: Mapping[str, str], log=print
    ) -> str:
        p = deploy.paths(workdir)
        cfg = sim_config(host, versions)
        ident = deploy.bundle_id(cfg)
        current = target.run(f"cat {shlex.quote(p['stamp'])}", check=False).stdout.strip()
        if current != ident:
            log(f"{host.name}: installing the simulated Jetson into {p['base']}")
            archive = f"{p['base']}/bundle.tar.gz"
            target.run(f"mkdir -p {shlex.quote(p['base'])}")
            target.put(deploy.bundle(), archive)
            python = str(host.labkit_sim.get("python", "python3"))
            script = deploy.install_script(workdir, python=python, config=cfg, bundle_file=archive)
            target.run(script, timeout=180, what="installing the simulated Jetson")
            target.run(f"printf '%s\\n' {shlex.quote(ident)} > {shlex.quote(p['stamp'])}")
        return self.attach(target, workdir)


def sim_config(host: HostConfig, versions: Mapping[str, str] | None = None) -> dict:
    """The simulator's configuration for ``host`` (its ``labkit_sim``, the device nodes its
    inventory names, and the LeRobot version its lerobot-record speaks: ``labkit_sim``'s,
    else the host's ``labkit_lerobot_version``, else the one a run's plan is made for
    (``versions``), else the simulator's default -- a host task without a run needs no
    playbook to know it)."""
    cfg = {k: v for k, v in host.labkit_sim.items() if k != "python"}
    version = host.labkit_lerobot_version or (versions or {}).get("lerobot")
    cfg.setdefault("lerobot_version", version or DEFAULT_CONFIG["lerobot_version"])
    cfg.setdefault("devices", sorted(set(host.devices().values())))
    return cfg


def wire() -> None:
    """Make the simulated Jetson what a host with ``labkit_simulate`` gets."""
    set_provisioner(SimulatedJetson())


def _text(out: str, code: int) -> str:
    return out.strip() if code == 0 else ""  # no stamp file: not installed
