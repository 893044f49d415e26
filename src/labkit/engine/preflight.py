"""The preflight: everything the run needs that the target lacks, from its facts.

Generic needs (python3 for the supervisor, the devices the host vars name, free disk,
the CPUs a pinning names), the workload's own (``Workload.preflight``: lerobot-record
found and of the planned version) and each probe's (``Probe.check``): a required probe
that cannot run is a problem; an optional one is skipped, and the run record says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from labkit.config.params import cpu_list_problem


@dataclass
class Preflight:
    problems: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # optional probe -> why not


def devices(plan) -> dict[str, str]:
    """The device nodes the run uses (the workload says which: lerobot-record its arms and
    the cameras it records, a command none): what -> path."""
    return plan.workload.devices(plan)


def preflight(plan, facts: dict[str, Any]) -> Preflight:
    """What the target lacks for ``plan`` (no problems: good to go)."""
    out = Preflight()
    for probe, launch in zip(plan.probes(), plan.probe_launches(), strict=True):
        why = probe.check(facts)
        if why is None:
            continue
        why = f"{why} ({launch.argv[0]})"
        if probe.required:
            out.problems.append(why)
        else:
            out.skipped[probe.name] = why
    out.problems += plan.workload.preflight(plan, facts)
    if not facts.get("python"):
        out.problems.append("python3 not found (labkit's run supervisor needs it)")
    missing = set(facts.get("missing_paths") or [])
    out.problems += [
        f"{what} {dev} does not exist" for what, dev in devices(plan).items() if dev in missing
    ]
    disk = facts.get("disk")
    if disk and disk["free_mb"] < plan.host.labkit_min_free_mb:
        out.problems.append(
            f"only {disk['free_mb']} MB free on {disk['mount']} "
            f"(labkit_min_free_mb: {plan.host.labkit_min_free_mb})"
        )
    cpus = cpu_list_problem(plan.settings.get("settings.record_cpus"), _cpu_count(facts))
    if cpus:
        out.problems.append(cpus)
    return out


def _cpu_count(facts: dict[str, Any]) -> int | None:
    return (facts.get("cpu") or {}).get("count")
