"""Run records for tests: a ``RunRecord`` from only the fields a test is about.

Readers take a typed record, never a dict; a test that cares about a run's probes or
summary names those and gets every other required field filled in (run id, experiment,
status, host, playbook, the workload's log)."""

from __future__ import annotations

from typing import Any

from labkit.records.model import RunRecord, WorkloadInfo, validated
from labkit.registry import WORKLOADS

LEROBOT = {"kind": "lerobot-record", "log": "record.log"}


def workload_info(kind: str = "lerobot-record", **fields: Any) -> WorkloadInfo:
    """A record's workload section; its log is the kind's own unless given."""
    cls = WORKLOADS.get(kind)
    log = fields.pop("log", cls.log if cls is not None else "output.log")
    return WorkloadInfo(kind=kind, log=log, **fields)


def run_record(**fields: Any) -> RunRecord:
    """A valid record with ``fields`` (``workload`` a dict naming at least its kind)."""
    data: dict[str, Any] = {
        "run_id": "r1",
        "experiment": "exp1",
        "status": "complete",
        "host": {"name": "h"},
        "playbook": {"name": "pb"},
        "workload": LEROBOT,
    } | fields
    data["workload"] = workload_info(**data["workload"]).model_dump()
    return validated(data, "test record")
