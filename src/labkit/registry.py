"""The plug-ins labkit knows: workload kinds and probes, by the name a playbook uses.

Built here, above the plug-in packages (``labkit.workloads``, ``labkit.probes``) and below
everything that looks them up (``labkit.config``, ``labkit.remote``, ``labkit.engine``,
``labkit.analysis``): a plug-in package imports nothing above it, and adding a workload
or a probe is its package plus one line below.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from labkit.core.facts import Fact
from labkit.core.params import Param, suggest
from labkit.errors import UnknownNameError
from labkit.probes.base import Probe
from labkit.probes.pyspy import PySpy
from labkit.probes.runq import Runq
from labkit.probes.tegrastats import Tegrastats
from labkit.probes.threads import Threads
from labkit.records.model import RunRecord
from labkit.workloads.base import Workload
from labkit.workloads.command import Command
from labkit.workloads.gstreamer import Gstreamer
from labkit.workloads.lerobot import LerobotRecord

WORKLOADS: dict[str, type[Workload]] = {
    LerobotRecord.kind: LerobotRecord,
    Command.kind: Command,
    Gstreamer.kind: Gstreamer,
}
PROBES: dict[str, type[Probe]] = {
    Tegrastats.name: Tegrastats,
    Threads.name: Threads,
    PySpy.name: PySpy,
    Runq.name: Runq,
}

# a playbook with ``record:`` and no ``workload:`` runs lerobot-record
DEFAULT_KIND = LerobotRecord.kind
DEFAULT_PROBES = ["tegrastats"]


def _lookup(table: dict[str, Any], name: str, what: str) -> Any:
    """``table[name]``; an unknown name lists the known ones (and a close one)."""
    try:
        return table[name]
    except KeyError:
        raise UnknownNameError(
            f"unknown {what} {name!r}{suggest(name, table)}; known: {', '.join(table)}"
        ) from None


def get_workload(kind: str) -> type[Workload]:
    """The workload class registered as ``kind``."""
    return _lookup(WORKLOADS, kind, "workload kind")


def get_probe(name: str) -> type[Probe]:
    """The probe class registered as ``name``."""
    return _lookup(PROBES, name, "probe")


def workload_of(record: RunRecord) -> Workload:
    """The workload of a run record (a schema-1 one was migrated to lerobot-record)."""
    return get_workload(record.workload.kind).from_record(record.workload)


def workload_class_of(record: RunRecord) -> type[Workload]:
    """The workload class a run record names, for its words and traits (a kind no longer
    registered: the base contract's)."""
    return WORKLOADS.get(record.workload.kind, Workload)


def plugin_host_vars() -> dict[str, type[BaseModel]]:
    """Each inventory variable a registered plug-in owns -> the model that checks it
    (``host_vars``: lerobot-record's ``labkit_lerobot_version``, tegrastats'
    ``labkit_tegrastats`` ...)."""
    out: dict[str, type[BaseModel]] = {}
    for cls in [*WORKLOADS.values(), *PROBES.values()]:
        for name in cls.host_vars.model_fields if cls.host_vars is not None else ():
            out.setdefault(name, cls.host_vars)
    return out


def host_devices(host: Any) -> dict[str, str]:
    """Every device node the host's variables name (what -> path), as the workload kinds
    that own those variables read them (``host_devices``: LeRobot's cameras, arm ports)."""
    out: dict[str, str] = {}
    for cls in WORKLOADS.values():
        out.update(cls.host_devices(host))
    return out


def plugin_playbook_vars() -> tuple[type[BaseModel], ...]:
    """The models of the playbook keys registered kinds own (``playbook_vars``)."""
    return tuple(cls.playbook_vars for cls in WORKLOADS.values() if cls.playbook_vars is not None)


def workloads_with_host_params() -> list[tuple[str, dict[str, Param]]]:
    """(host variable, the parameters it may set) of each workload whose parameters a host
    may set for itself (``host_params_var``: lerobot-record's ``labkit_record``); such a
    kind's parameters are its own without a playbook (it is built without arguments)."""
    return [
        (cls.host_params_var, cls().params)
        for cls in WORKLOADS.values()
        if cls.host_params_var is not None
    ]


def plugin_facts(host: Any, plugins: list[type] | None = None) -> list[Fact]:
    """The host facts the plug-ins declare (``facts(host)``: LeRobot's version,
    GStreamer's elements, py-spy's path ...), each once, gathered with the host's own facts
    in one round trip: every registered plug-in's (``invoke facts``), or those of
    ``plugins`` (a run's workload and probes: ``Plan.plugin_facts``); ``host``: the host's
    variables (``HostConfig``)."""
    out: dict[str, Fact] = {}
    for plugin in [*WORKLOADS.values(), *PROBES.values()] if plugins is None else plugins:
        for fact in plugin.facts(host):
            out.setdefault(fact.name, fact)
    return list(out.values())


__all__ = [
    "DEFAULT_KIND",
    "DEFAULT_PROBES",
    "PROBES",
    "WORKLOADS",
    "get_probe",
    "get_workload",
    "host_devices",
    "plugin_facts",
    "plugin_host_vars",
    "plugin_playbook_vars",
    "workload_class_of",
    "workload_of",
    "workloads_with_host_params",
]
