"""Resolve one experiment for one host into everything a run needs, touching nothing.

Precedence, lowest first: parameter registry defaults < playbook ``record`` < the
experiment's ``params`` < the host's parameters for the workload (its
``host_params_var``: lerobot-record's ``labkit_record``) < ``--set``. The workload then
fits them to the host (``Workload.fit``: its devices, its program's version). The result
is the input of the engine and what ``invoke plan`` prints.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass, field
from typing import Any

from labkit.config.hostvars import HostConfig, host_config
from labkit.config.inventory import Inventory
from labkit.config.params import ParamError, coerce, flatten
from labkit.config.playbook import Playbook
from labkit.core.argv import shell
from labkit.core.facts import Fact
from labkit.errors import ConfigError, PlaybookError
from labkit.probes import Probe, ProbeLaunch
from labkit.registry import get_probe, plugin_facts
from labkit.workloads import Workload
from labkit.workloads.base import NotForHost, PlanError

RUN_ID_PLACEHOLDER = "<run-id>"


def probe_sysctl(names: list[str]) -> dict[str, str]:
    """The sysctl values the probes ``names`` need for the run (applied, then put back)."""
    out: dict[str, str] = {}
    for name in names:
        out.update(get_probe(name).needs_sysctl)
    return out


@dataclass
class Plan:
    """A fully resolved experiment on one host."""

    playbook: Playbook
    experiment: str
    host: HostConfig
    # the version of the workload's program the plan is made for (``Workload.version``:
    # lerobot-record's release; None for a kind that is not versioned)
    version: Any
    params: dict[str, Any]
    settings: dict[str, Any]
    overrides: dict[str, Any] = field(default_factory=dict)
    run_id: str = RUN_ID_PLACEHOLDER
    # the host's inventory variables as templates see them (None: the HostConfig's)
    host_vars: dict[str, Any] | None = None

    @property
    def workload(self) -> Workload:
        return self.playbook.workload

    @property
    def probe_names(self) -> list[str]:
        return self.playbook.probes_for(self.experiment)

    def probes(self) -> list[Probe]:
        """The probes beside the workload, with their options."""
        opts = self.playbook.probe_options.get(self.experiment, {})
        return [get_probe(n)(opts.get(n)) for n in self.probe_names]

    def plugin_facts(self) -> list[Fact]:
        """The host facts the run's workload and probes need (LeRobot's version, py-spy's
        path ...), gathered with the host's own: not another kind's program (a LeRobot run
        does not list GStreamer's elements)."""
        return plugin_facts(self.host, [type(self.workload), *map(type, self.probes())])

    @property
    def workdir(self) -> str:
        return self.host.workdir.rstrip("/") or "/"

    @property
    def remote_run_dir(self) -> str:
        return posixpath.join(self.workdir, "runs", self.experiment, self.run_id)

    @property
    def dataset_root(self) -> str:
        return posixpath.join(self.remote_run_dir, "dataset")

    @property
    def interval_ms(self) -> int:
        return int(self.settings["monitor.interval_ms"])

    @property
    def expected_duration_s(self) -> float:
        return self.workload.expected_duration_s(self)

    def identity(self) -> dict[str, Any]:
        """What makes two runs the same configuration (kept in the manifest; a batch skips
        a run whose host already has a complete one with the same identity)."""
        return {
            "params": self.params,
            "settings": {k: v for k, v in self.settings.items() if v not in (None, {})},
        }

    def identity_key(self) -> str:
        return identity_key(self.identity())

    def tool_versions(self) -> dict[str, str]:
        """The versions of the workload's programs this plan is made for (``lerobot``)."""
        return self.workload.versions(self)

    def workload_command(self) -> list[str]:
        """The argv the supervisor starts (scheduling prefix included)."""
        return self.workload.command(self)

    def probe_launches(self) -> list[ProbeLaunch]:
        return [p.launch(self) for p in self.probes()]

    def host_changes(self) -> list[str]:
        """Desired host settings, one line each (the engine diffs them against facts)."""
        s = self.settings
        out = []
        if s.get("settings.cpu_governor"):
            out.append(f"cpu governor -> {s['settings.cpu_governor']} (all online CPUs)")
        if s.get("settings.nvpmodel") is not None:
            out.append(f"nvpmodel -> mode {s['settings.nvpmodel']}")
        if s.get("settings.jetson_clocks") is not None:
            out.append(f"jetson_clocks -> {'on' if s['settings.jetson_clocks'] else 'off'}")
        for key, val in (s.get("settings.sysctl") or {}).items():
            out.append(f"sysctl {key} -> {val}")
        for key in ("record_cpus", "record_rt_priority", "record_nice"):
            if s.get(f"settings.{key}") is not None:
                out.append(
                    f"{key.replace('_', ' ')} -> {s[f'settings.{key}']} (record process only)"
                )
        return out

    def render(self) -> str:
        p = self.params
        w = self.workload
        rd = self.remote_run_dir
        launches = self.probe_launches()
        probes = []
        for launch in launches:
            when = "attached to the workload's pid" if launch.attach else "before the workload"
            probes += [
                f"  {launch.name} ({when}; output {launch.log_file}):",
                f"    {shell(launch.shown(rd))}",
            ]
        logs = ",".join([w.log, *(x.log_file for x in launches)])
        lines = [
            f"experiment  {self.experiment}  ({self.playbook.name}: {self.playbook.file})",
            f"  {self.playbook.experiments[self.experiment].description}".rstrip(),
            f"target      {self.host.name}: {self.host.describe()}",
            f"workload    {w.kind}",
            *w.describe(self),
            "host settings to apply (restored after the run):",
            *(f"  - {c}" for c in self.host_changes() or ["none: the host is left as it is"]),
            "parameters:",
            *(
                f"  {k} = {v!r}" + ("   (--set)" if k in self.overrides else "")
                for k, v in sorted(p.items())
            ),
            "probes:",
            *(probes or ["  none"]),
            w.plan_label,
            f"  {shell(self.workload_command())}",
            "logs:",
            f"  remote  {rd}/{{{logs}}}",
            f"  local   runs/{self.experiment}/{self.run_id}/{{manifest.json,{logs}}}",
        ]
        return "\n".join(line for line in lines if line.strip())


def identity_key(identity: dict[str, Any]) -> str:
    """A stable string for a run identity, equal before and after a JSON round trip."""
    normal = json.loads(json.dumps(identity, default=str))
    return json.dumps(
        {"params": normal.get("params"), "settings": normal.get("settings")}, sort_keys=True
    )


def resolve(
    playbook: Playbook,
    inventory: Inventory,
    experiment: str,
    target: str,
    overrides: dict[str, Any] | None = None,
) -> Plan:
    """Merge playbook, host vars and ``--set`` values; check them against the host."""
    playbook.experiment(experiment)
    host = host_config(inventory, target)
    workload = playbook.workload
    overrides = dict(overrides or {})
    params = playbook.params_for(experiment)
    host_params = _host_params(workload, host, inventory)
    params.update(host_params)
    settings = playbook.settings_for(experiment)
    for key, value in overrides.items():
        if key.startswith("settings.") or key.startswith("monitor."):
            if key.startswith("settings.sysctl."):
                settings["settings.sysctl"] = {
                    **settings["settings.sysctl"],
                    key.removeprefix("settings.sysctl."): value,
                }
            else:
                settings[key] = value
        else:
            params[key] = value
    # what the probes need to observe (py-spy: ptrace), unless the experiment sets it
    needed = probe_sysctl(playbook.probes_for(experiment))
    settings["settings.sysctl"] = {**needed, **(settings.get("settings.sysctl") or {})}
    plan = Plan(playbook, experiment, host, workload.version(host), params, settings, overrides)
    asked = {k: "the playbook's record" for k in playbook.record}
    asked.update({k: f"experiment {experiment}" for k in playbook.exp_params[experiment]})
    asked.update({k: f"host {target} {workload.host_params_var}" for k in host_params})
    asked.update({k: "--set" for k in overrides})
    try:
        plan.params = workload.fit(plan, asked)
        workload.check_plan(plan)
    except NotForHost as exc:
        if exc.key in overrides:
            raise ConfigError(str(exc), field=f"--set {exc.key}") from None
        where = playbook.where(experiment, exc.key)
        raise playbook.doc.error(str(exc), where, PlaybookError) from None
    except PlanError as exc:
        raise ConfigError(
            f"{exc} (experiment {experiment}, host {target})", file=playbook.file
        ) from None
    return plan


def _host_params(workload: Workload, host: HostConfig, inventory: Inventory) -> dict[str, Any]:
    """The workload's parameters the host's own variable sets (``host_params_var``:
    lerobot-record's ``labkit_record``), checked; none for a kind without one."""
    var = workload.host_params_var
    out: dict[str, Any] = {}
    if var is None:
        return out
    for key, (value, _) in flatten(getattr(host, var), "", workload.params).items():
        try:
            out[key] = coerce(key, value, workload.params)
        except ParamError as exc:
            raise ConfigError(
                f"{exc} (host {host.name}, {var})", file=str(inventory.path), field=f"{var}.{key}"
            ) from None
    return out
