"""The run record: one typed, versioned model, built here and validated when read.

A run's ``manifest.json`` says what ran (workload kind, command, probes and their files),
where (host, facts), when, how it ended (status, the supervisor's exit codes) and what it
left (files, a parsed summary). Schema 2 names the workload and the probes; schema-1
records (stores written before it, imported runs) are read through ``migrate``. Readers
get a ``RunRecord`` of the current schema (``read_record``), migrated once as it is read,
so a report over an old store sees the same record as one over a new store.
"""

from __future__ import annotations

import json
import shlex
from functools import cache
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
    model_validator,
)

from labkit.core.argv import shell

# a run's record, in its folder: the file that makes the run (a reader who has it has the run)
RECORD = "manifest.json"

SCHEMA = 2
STATUSES = ("running", "detached", "complete", "failed", "interrupted", "lost-connection")
FINAL = ("complete", "failed", "interrupted")
Status = Literal["running", "detached", "complete", "failed", "interrupted", "lost-connection"]

# keep what a record holds beyond the typed fields (facts_before_reboot, collected_at,
# restored_by, ...): a record is validated, never trimmed
Open = ConfigDict(extra="allow")


class AsRead(BaseModel):
    """A section written with the keys it was read or built with: its ``when_set`` fields
    are left out unless something set them (an old record gets no ``watchdog_s: null``)."""

    model_config = Open
    when_set: ClassVar[frozenset[str]] = frozenset()

    @model_serializer(mode="wrap")
    def _as_read(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        out = handler(self)
        for name in self.when_set - self.model_fields_set:
            out.pop(name, None)
        out.update(self.kept_keys())
        return out

    def kept_keys(self) -> dict[str, Any]:
        """Keys written back as they were read, beside the declared fields."""
        return {}


class RecordError(ValueError):
    """A run record that does not validate; names the file and the field."""


class HostInfo(BaseModel):
    model_config = Open
    name: str
    connection: str = ""


class PlaybookInfo(BaseModel):
    model_config = Open
    name: str
    file: str = ""
    sha256: str | None = None


class WorkloadInfo(BaseModel):
    """The workload kind and what ``labkit.workloads.workload_of`` rebuilds it from."""

    model_config = Open
    kind: str
    log: str


class ProbeInfo(BaseModel):
    """One probe of the run: its command, where its output went, and how it ended."""

    model_config = Open
    argv: list[str] = Field(default_factory=list)
    attach: bool = False
    log: str = ""
    files: list[str] = Field(default_factory=list)  # the run-dir files it writes or reads
    stop_signal: str = "TERM"
    pid: int | None = None
    exit: int | None = None
    error: str | None = None
    skipped: str | None = None  # why it did not run (the preflight said it cannot)


class BatchInfo(AsRead):
    """The batch a run was one slot of (``invoke batch``): the validity checks read its
    position in the batch's order."""

    when_set = frozenset(("slot", "index", "order"))
    id: str
    slot: str = ""
    index: int | None = None  # 1-based position in the batch's order
    order: str | None = None  # interleaved, random, as-written


class Commands(BaseModel):
    model_config = Open
    workload: str = ""
    workload_argv: list[str] = Field(default_factory=list)
    probes: dict[str, str] = Field(default_factory=dict)


class RunRecord(AsRead):
    """One run's record: every field labkit reads is declared here (a section a plug-in
    owns, ``workload``'s own keys, is declared by it). A key it does not read (an old
    store's; a program's version, ``lerobot_version``) is kept in ``other`` and written
    back as it was; setting a field that is not declared is an error, never a new key."""

    model_config = ConfigDict(extra="forbid")

    when_set = frozenset((
        "store", "remote_dir", "expected_duration_s", "watchdog_s", "batch",
        "facts_before_reboot", "traceback", "source", "imported_at", "detached_at",
        "collected_at", "restored_by", "restored_at",
    ))  # fmt: skip
    schema_: Literal[2] = Field(default=SCHEMA, alias="schema")
    run_id: str
    experiment: str
    status: Status
    error: str | None = None
    host: HostInfo
    playbook: PlaybookInfo
    workload: WorkloadInfo
    probes: dict[str, ProbeInfo] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    settings: dict[str, Any] = Field(default_factory=dict)
    overrides: dict[str, Any] = Field(default_factory=dict)
    commands: Commands = Field(default_factory=Commands)
    facts: dict[str, Any] | None = None
    facts_after: dict[str, Any] | None = None
    remote_status: dict[str, Any] = Field(default_factory=dict)
    settings_changes: list[dict[str, Any]] = Field(default_factory=list)
    files: dict[str, int] = Field(default_factory=dict)
    summary: dict[str, Any] = Field(default_factory=dict)
    labkit: dict[str, Any] = Field(default_factory=dict)
    started_at: str | None = None
    ended_at: str | None = None
    imported: bool = False
    # written only when set (a record without them is written as it was read)
    store: str | None = None  # the id of the run store that started it (invoke collect)
    remote_dir: str | None = None  # the run's folder on the target
    expected_duration_s: float | None = None
    watchdog_s: float | None = None  # when the supervisor stops the workload
    batch: BatchInfo | None = None
    facts_before_reboot: dict[str, Any] | None = None  # a run whose settings need a reboot
    traceback: str | None = None  # a run that failed inside labkit
    source: dict[str, str | None] | None = None  # imported: the hand-run logs it came from
    imported_at: str | None = None
    detached_at: str | None = None
    collected_at: str | None = None  # finished by ``invoke collect``
    restored_by: str | None = None  # the command that put its settings back after it died
    restored_at: str | None = None
    # the keys of the record this labkit does not read, as they were (written back flat)
    other: dict[str, Any] = Field(default_factory=dict, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _keep_other_keys(cls, data: Any) -> Any:
        """A key that is not a field goes to ``other`` (never a field of its own)."""
        if not isinstance(data, dict):
            return data
        known = _record_keys()
        unknown = {k: v for k, v in data.items() if k not in known}
        if not unknown:
            return data
        return {k: v for k, v in data.items() if k in known} | {"other": unknown}

    def kept_keys(self) -> dict[str, Any]:
        return self.other

    def as_dict(self) -> dict[str, Any]:
        """The record as its JSON file holds it."""
        return self.model_dump(mode="json", by_alias=True)


@cache
def _record_keys() -> frozenset[str]:
    """The JSON keys of ``RunRecord``'s declared fields (``other`` is not one)."""
    fields = RunRecord.model_fields.items()
    return frozenset(f.alias or name for name, f in fields if name != "other")


def validated(data: dict[str, Any], where: str = "run record") -> RunRecord:
    """``data`` checked against the current schema: the record to write or read."""
    try:
        return RunRecord.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "(record)"
        raise RecordError(f"{where}: {field}: {err['msg']}") from None


# -- building (the one place a record is made) -------------------------------------------


def probe_entries(launches: list, skipped: dict[str, str] | None = None) -> dict[str, dict]:
    """``probes`` of a record from the plan's ``ProbeLaunch`` list and the skipped ones."""
    out: dict[str, dict] = {}
    for p in launches:
        out[p.name] = ProbeInfo(
            argv=list(p.argv),
            attach=p.attach,
            log=p.log_file,
            files=sorted(set(p.files) | _data_files(p)),
            stop_signal=p.stop_signal,
        ).model_dump()
    for name, why in (skipped or {}).items():
        out[name] = ProbeInfo(skipped=why).model_dump()
    return out


def _data_files(p) -> set[str]:
    """Run-dir files a probe's argv names (``{run_dir}/tegrastats.log``)."""
    return {a.split("{run_dir}/", 1)[1] for a in p.argv if "{run_dir}/" in a}


def new_record(
    plan,
    run_id: str,
    *,
    store: str,
    watchdog_s: float,
    facts: dict[str, Any],
    provenance: dict[str, Any],
    started_at: str,
    skipped: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> RunRecord:
    """The record of a run the engine starts, validated (status ``running``)."""
    launches = [p for p in plan.probe_launches() if p.name not in (skipped or {})]
    argv = plan.workload_command()
    data = {
        "schema": SCHEMA,
        "run_id": run_id,
        "experiment": plan.experiment,
        "status": "running",
        "host": {"name": plan.host.name, "connection": plan.host.describe()},
        "playbook": {
            "name": plan.playbook.name,
            "file": str(plan.playbook.file),
            "sha256": plan.playbook.sha256,
        },
        "workload": plan.workload.record(),
        "probes": probe_entries(launches, skipped),
        # the workload's programs' versions the plan was made for (lerobot_version)
        **{f"{tool}_version": v for tool, v in plan.tool_versions().items()},
        **plan.identity(),
        "overrides": plan.overrides,
        "commands": {
            "workload": shell(argv),
            "workload_argv": argv,
            "probes": {p.name: shell(p.shown(plan.remote_run_dir)) for p in launches},
        },
        "remote_dir": plan.remote_run_dir,
        "store": store,  # which run store started it (invoke collect)
        "expected_duration_s": plan.expected_duration_s,
        "watchdog_s": watchdog_s,
        "facts": facts,
        # the same, gathered again once the host is restored (null: could not be)
        "facts_after": None,
        "labkit": provenance,
        "started_at": started_at,
        **(extra or {}),
    }
    return validated(data, f"run {run_id}")


def imported_record(
    run_id: str,
    experiment: str,
    playbook,
    source: dict[str, str | None],
    provenance: dict[str, Any],
    imported_at: str,
    workload: dict[str, Any],
) -> RunRecord:
    """The record of hand-run logs brought in by ``invoke import``; ``workload``: what the
    record keeps of the workload that wrote them (``Workload.record()``)."""

    probes = {}
    if source.get("tegrastats"):
        probes["tegrastats"] = ProbeInfo(log="", files=["tegrastats.log"]).model_dump()
    data = {
        "schema": SCHEMA,
        "run_id": run_id,
        "experiment": experiment,
        "status": "complete",
        "imported": True,
        "source": source,
        "host": {"name": "imported", "connection": "hand-run logs"},
        "playbook": {
            "name": playbook.name,
            "file": str(playbook.file),
            "sha256": playbook.sha256,
        },
        "workload": workload,
        "probes": probes,
        "params": playbook.params_for(experiment),
        "imported_at": imported_at,
        "labkit": provenance,
    }
    return validated(data, f"run {run_id}")


# the supervisor's keys for the workload's pid, start and exit as an older labkit wrote
# them (named for lerobot-record): stored runs, and runs still on a target to collect
OLD_STATUS_KEYS = {
    "record_pid": "workload_pid",
    "record_started_at": "workload_started_at",
    "record_exit": "workload_exit",
}


def current_status(status: dict[str, Any]) -> dict[str, Any]:
    """A supervisor's ``status.json`` with this labkit's key names (an older one's
    ``record_*`` keys are the workload's ``workload_*``)."""
    return {OLD_STATUS_KEYS.get(k, k): v for k, v in status.items()}


def apply_status(record: RunRecord, status: dict[str, Any]) -> None:
    """The supervisor's ``status.json`` into the record: ``remote_status`` and each
    probe's pid, exit and error."""
    record.remote_status = current_status(status)
    for name, st in (status.get("probes") or {}).items():
        entry = record.probes.setdefault(name, ProbeInfo())
        for key in ("pid", "exit", "error"):
            if st.get(key) is not None:
                setattr(entry, key, st[key])


# -- reading -----------------------------------------------------------------------------


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    """A record of any schema as the current one (schema 1: lerobot-record + tegrastats;
    an older supervisor's ``record_*`` status keys: ``current_status``)."""
    status = data.get("remote_status")
    if isinstance(status, dict) and OLD_STATUS_KEYS.keys() & status.keys():
        data = {**data, "remote_status": current_status(status)}
    version = data.get("schema", 1)
    if version == SCHEMA:
        return data
    if version != 1:
        raise RecordError(f"schema {version!r}: expected 1 or {SCHEMA}")
    out = dict(data)
    out["schema"] = SCHEMA
    out["workload"] = {"kind": "lerobot-record", "log": "record.log"}
    status = dict(out.get("remote_status") or {})
    cmds = dict(out.get("commands") or {})
    had_tegrastats = (
        bool(cmds.get("monitor"))
        or "tegrastats_pid" in status
        or bool((out.get("source") or {}).get("tegrastats"))
        or "tegrastats.log" in (out.get("files") or {})
    )
    probes: dict[str, Any] = {}
    if had_tegrastats:
        teg = ProbeInfo(
            log="tegrastats.out" if not out.get("imported") else "",
            files=["tegrastats.log"],
            pid=status.pop("tegrastats_pid", None),
            exit=status.pop("tegrastats_exit", None),
            error=status.pop("tegrastats_error", None),
        ).model_dump()
        if cmds.get("monitor"):
            teg["argv"] = shlex.split(cmds["monitor"])
        probes["tegrastats"] = teg
        if out.get("remote_status") is not None:
            status["probes"] = {"tegrastats": {k: teg[k] for k in ("pid", "exit", "error")}}
    out["probes"] = probes
    if out.get("remote_status") is not None:
        out["remote_status"] = status
    if cmds:
        out["commands"] = {
            "workload": cmds.get("record", ""),
            "workload_argv": cmds.get("record_argv") or [],
            "probes": {"tegrastats": cmds["monitor"]} if cmds.get("monitor") else {},
        }
    for key in ("host", "playbook"):
        if out.get(key) is None:
            out.pop(key, None)
    out.setdefault("host", {"name": "?"})
    out.setdefault("playbook", {"name": "?"})
    return out


def current(data: dict[str, Any], run_dir: Path, where: str = "") -> RunRecord:
    """``data`` (any schema) as a validated record of the current one; the store's layout
    (``<runs>/<experiment>/<run-id>/``) names a run id or experiment it lacks."""
    data = dict(data)
    data.setdefault("run_id", Path(run_dir).name)
    data.setdefault("experiment", Path(run_dir).parent.name)
    try:
        return validated(migrate(data), where or str(run_dir))
    except RecordError as exc:
        if str(exc).startswith(where or str(run_dir)):
            raise
        raise RecordError(f"{where or run_dir}: {exc}") from None


def read_record(path: Path) -> RunRecord | None:
    """The record in ``path`` (a manifest.json) as the current schema; None if absent.
    A file that is not a record raises ``RecordError`` (or ``ValueError`` for bad JSON)."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return None
    data = json.loads(text)
    if not isinstance(data, dict):
        raise RecordError(f"{path}: not a JSON object")
    return current(data, Path(path).parent, str(path))
