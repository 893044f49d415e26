"""Workloads: what an experiment runs (``labkit.workloads.base``).

``WORKLOADS`` is the registry: a playbook's ``workload: {kind: ...}`` names its entries
(a playbook with ``record:`` and no ``workload:`` runs ``lerobot-record``). Adding a
workload kind is one module here and one line below.
"""

from __future__ import annotations

from typing import Any

from labkit.core.params import suggest
from labkit.errors import UnknownNameError
from labkit.workloads.base import Workload
from labkit.workloads.command import Command
from labkit.workloads.gstreamer import Gstreamer
from labkit.workloads.lerobot import LerobotRecord

WORKLOADS: dict[str, type[Workload]] = {
    LerobotRecord.kind: LerobotRecord,
    Command.kind: Command,
    Gstreamer.kind: Gstreamer,
}
DEFAULT_KIND = LerobotRecord.kind


def get_workload(kind: str) -> type[Workload]:
    """The workload class registered as ``kind``; an unknown kind lists the known ones."""
    try:
        return WORKLOADS[kind]
    except KeyError:
        raise UnknownNameError(
            f"unknown workload kind {kind!r}{suggest(kind, WORKLOADS)}; "
            f"known: {', '.join(WORKLOADS)}"
        ) from None


def workload_of(record: dict[str, Any]) -> Workload:
    """The workload of a run record (schema 1 and imported runs: lerobot-record)."""
    info = record.get("workload") or {}
    return get_workload(info.get("kind") or DEFAULT_KIND).from_record(info)


__all__ = ["DEFAULT_KIND", "WORKLOADS", "Workload", "get_workload", "workload_of"]
