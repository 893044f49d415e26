r"""The ``command`` workload: any program, described in the playbook.

.. code-block:: yaml

    workload:
      kind: command
      command: "python3 -u bench.py --rate {{ params.rate }}"  # Jinja2; bash, in the run dir
      files: {bench.py: files/bench.py}     # relative to the playbook, placed in the run dir
      duration_s: "{{ params.seconds }}"    # expected duration: progress and watchdog
      params:
        rate: {type: float, default: 30, min: 1}
        seconds: {type: int, default: 10, min: 1}
      events:     # name -> regex, or {regex, unit}; optional named groups 'value', 'time'
        slow: 'SLOW latency=(?P<value>[0-9.]+)ms at=(?P<time>\S+)'
        tick: {regex: 'tick latency=(?P<value>[0-9.]+)', unit: ms}   # with its value's unit
      late_event: slow                       # the event meaning "the loop was late"
      loop_thread: control                   # optional: the loop's thread name
      stages:                                # optional: its function names -> loop stages
        loop: run_loop                       # (for the pyspy probe: ``command/stages.py``)
        map: {sleep: [time.sleep], compute: [compute]}

Per event the metrics ``<event>_count``, ``<event>_per_min`` and, with a ``value``
group, ``<event>_min``, ``_median``, ``_p95`` and ``_max``; every run has ``duration_s``
(the seconds the workload ran). The ``late_event`` is what the probes relate their samples
to (tegrastats' saturation at late events, the threads probe's loop thread there); its
``time`` group (ISO 8601 on the target's local clock, as Python's
``datetime.now().isoformat()`` prints) says when each happened. The command and the duration
are Jinja2 templates over ``params``, ``host`` (host vars), ``settings`` and
``experiment``; a value reaches the shell as the template places it, so a template that
takes text from a ``str`` parameter should quote it (``{{ params.name | quote }}``).
"""

from __future__ import annotations

import math
import re
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from labkit.core.argv import scheduling_prefix
from labkit.core.metrics import ANY, Metric
from labkit.core.param_spec import ParamSpec, check_name, checked_params, spec_defaults, to_param
from labkit.core.template import render_template, syntax_error
from labkit.errors import ConfigError, PlaybookError
from labkit.parse.cached import cached_table
from labkit.records.model import WorkloadInfo
from labkit.workloads.base import MAX_DURATION_S, Workload, workload_seconds
from labkit.workloads.command.stages import StagesSpec, check_stages

STATS = ("min", "median", "p95", "max")
# what an event's value measures, from its unit (a time is a duration, a rate a frequency)
UNIT_KINDS: dict[str, Any] = {
    "ns": "duration", "us": "duration", "ms": "duration", "s": "duration",
    "Hz": "frequency", "fps": "frequency",
}  # fmt: skip


class EventSpec(BaseModel):
    """An event with the unit of its value: ``{regex: 'LATE .*=(?P<value>[0-9.]+)', unit: ms}``."""

    model_config = ConfigDict(extra="forbid")
    regex: str
    unit: str | None = Field(default=None, pattern=r"^[^\s]{1,12}$")


class CommandInfo(WorkloadInfo):
    """What a run record keeps of a command workload (``record``, ``from_record``)."""

    command: str = "true"
    duration_s: str | float = Field(default=1, union_mode="left_to_right")
    events: dict[str, str] = Field(default_factory=dict)  # name -> regex
    units: dict[str, str | None] = Field(default_factory=dict)
    progress: str | None = None
    late_event: str | None = None
    loop_thread: str | None = None
    stages: dict[str, Any] | None = None  # its ``StagesSpec``, when it names stages


class CommandSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["command"]
    command: str = Field(min_length=1)
    files: dict[str, str] = Field(default_factory=dict)
    duration_s: str | float = Field(union_mode="left_to_right")
    params: dict[str, ParamSpec] = Field(default_factory=dict)
    # name -> regex, or {regex, unit}: the unit of the event's value (ms, Hz, ...)
    events: dict[str, EventSpec] = Field(default_factory=dict)
    # the event the progress line counts (default: the first one)
    progress: str | None = None
    # the event meaning "the loop was late" (probes relate their samples to its times)
    late_event: str | None = None
    # the loop's thread name (default: the main thread of the workload's process)
    loop_thread: str | None = Field(default=None, min_length=1)
    # its function names -> the stages of its loop, for the pyspy probe's profile
    stages: StagesSpec | None = None

    @field_validator("events", mode="before")
    @classmethod
    def _regex_alone(cls, value: Any) -> Any:
        """``late: 'LATE (?P<value>...)'`` is ``late: {regex: 'LATE ...'}``."""
        if isinstance(value, dict):
            return {k: {"regex": v} if isinstance(v, str) else v for k, v in value.items()}
        return value

    def regexes(self) -> dict[str, str]:
        return {n: e.regex for n, e in self.events.items()}

    def units(self) -> dict[str, str]:
        return {n: e.unit for n, e in self.events.items() if e.unit}


class Command(Workload):
    kind: ClassVar[str] = "command"
    log: ClassVar[str] = "output.log"
    events_file: ClassVar[str] = "events.parquet"

    def __init__(self, spec: CommandSpec, base_dir: Path | None = None) -> None:
        self.spec = spec
        self.base_dir = base_dir
        self.params = {name: to_param(name, p) for name, p in spec.params.items()}
        self.patterns = {name: re.compile(rx) for name, rx in spec.regexes().items()}
        self.event_units = spec.units()
        self.metrics: dict[str, Metric] = declare_metrics(self.patterns, self.event_units)
        self.progress_event = spec.progress or next(iter(spec.events), None)
        self.late_event = spec.late_event
        self.loop_thread = spec.loop_thread
        self.stage_map = spec.stages.stage_map() if spec.stages is not None else None
        self.progress_label = f"{self.progress_event} events" if self.progress_event else "lines"
        self.progress_unit = self.event_units.get(self.progress_event or "", "")

    # -- configuration ---------------------------------------------------------------
    @classmethod
    def from_playbook(cls, raw: dict[str, Any], doc, base_dir: Path) -> Command:
        """Validate the playbook's ``workload:`` block (errors name file, line, field);
        ``doc``: the playbook's YAML source (``error``, ``pydantic_error``)."""
        where = ("workload",)
        try:
            spec = CommandSpec.model_validate(raw)
        except ValidationError as exc:
            raise doc.pydantic_error(exc, CommandSpec, where, PlaybookError) from None
        for group in ("param", "event"):
            for name in getattr(spec, f"{group}s"):
                check_name(doc, name, group, where)
        for name, rx in spec.regexes().items():
            try:
                pat = re.compile(rx)
            except re.error as exc:
                raise doc.error(
                    f"event {name!r}: the regex does not compile ({exc}); expected a Python "
                    "regular expression",
                    (*where, "events", name),
                    PlaybookError,
                ) from None
            extra = set(pat.groupindex) - {"value", "time"}
            if extra:
                raise doc.error(
                    f"event {name!r}: unknown named group(s) {sorted(extra)}; the named "
                    "groups an event may have are 'value' (a number) and 'time' (when)",
                    (*where, "events", name),
                    PlaybookError,
                )
        for key in ("progress", "late_event"):
            named = getattr(spec, key)
            if named is not None and named not in spec.events:
                raise doc.error(
                    f"{key} names unknown event {named!r}; expected one of the events: "
                    f"{', '.join(spec.events) or 'none'}",
                    (*where, key),
                    PlaybookError,
                )
        checked_params(spec.params, raw.get("params") or {}, doc, where)
        if spec.stages is not None:
            check_stages(spec.stages, doc, where)
        for rel, src in spec.files.items():
            at = (*where, "files", rel)
            pure = PurePosixPath(rel)
            if (
                pure.is_absolute()
                or ".." in pure.parts
                or not pure.parts
                or rel in ("spec.json", "run.json", "status.json", "supervise.py", cls.log)
            ):
                raise doc.error(
                    f"file name {rel!r}: expected a relative name inside the run dir "
                    "(no '..', not absolute, not one of labkit's own files)",
                    at,
                    PlaybookError,
                )
            if not (base_dir / src).is_file():
                raise doc.error(f"file {src!r} not found (looked in {base_dir})", at, PlaybookError)
        for key in ("command", "duration_s"):
            text = getattr(spec, key)
            wrong = syntax_error(text) if isinstance(text, str) else None
            if wrong is not None:
                raise doc.error(f"template error: {wrong}", (*where, key), PlaybookError)
        return cls(spec, base_dir)

    def defaults(self) -> dict[str, Any]:
        return spec_defaults(self.spec.params)

    def record(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "log": self.log,
            "command": self.spec.command,
            "duration_s": self.spec.duration_s,
            "events": self.spec.regexes(),
            "units": self.event_units,
            "progress": self.progress_event,
            "late_event": self.late_event,
            "loop_thread": self.loop_thread,
            **({"stages": self.spec.stages.model_dump()} if self.spec.stages else {}),
        }

    @classmethod
    def from_record(cls, info: WorkloadInfo) -> Command:
        kept = CommandInfo.model_validate(info.model_dump())
        spec = CommandSpec(
            kind="command",
            command=kept.command or "true",
            duration_s=kept.duration_s or 1,
            events={
                name: EventSpec(regex=rx, unit=kept.units.get(name))
                for name, rx in kept.events.items()
            },
            progress=kept.progress,
            late_event=kept.late_event,
            loop_thread=kept.loop_thread,
            stages=kept.stages,
        )
        return cls(spec)

    def target_hz(self, params: dict[str, Any]) -> float | None:
        """The rate of the loop's period its stage map names (``stages.budget_ms``), if
        it does."""
        stages = self.spec.stages
        return 1000.0 / stages.budget_ms if stages is not None and stages.budget_ms else None

    # -- planning ----------------------------------------------------------------------
    def _render(self, plan, text: str, what: str) -> str:
        return render_template(plan, text, what)

    def rendered(self, plan) -> str:
        return self._render(plan, self.spec.command, "command").strip()

    def command(self, plan) -> list[str]:
        return scheduling_prefix(plan.settings) + ["bash", "-c", self.rendered(plan)]

    def files(self, plan) -> dict[str, str]:
        base = self.base_dir or Path(plan.playbook.file).parent
        return {rel: (base / src).read_text() for rel, src in self.spec.files.items()}

    def expected_duration_s(self, plan) -> float:
        raw = self.spec.duration_s
        text = self._render(plan, raw, "duration_s") if isinstance(raw, str) else raw
        try:
            value = float(text)
        except (TypeError, ValueError):
            value = math.nan
        if not (math.isfinite(value) and 0 < value <= MAX_DURATION_S):
            raise ConfigError(
                f"workload duration_s is {text!r}; expected a number of seconds > 0 and at "
                f"most {MAX_DURATION_S} (experiment {plan.experiment})",
                file=str(plan.playbook.file),
                field="workload.duration_s",
            )
        return value

    def describe(self, plan) -> list[str]:
        files = ", ".join(self.spec.files) or "none"
        events = (
            ", ".join(
                f"{n} /{rx}/" + (f" [{self.event_units[n]}]" if n in self.event_units else "")
                for n, rx in self.spec.regexes().items()
            )
            or "none"
        )
        return [
            f"duration    {self.expected_duration_s(plan):g} s expected",
            f"files       {files} (placed in the run dir)",
            f"events      {events}",
            f"late event  {self.late_event or 'none (probes relate nothing to lateness)'}",
            *(
                [f"stages      {', '.join(m.stages)} in {m.loop_function} (py-spy's profile)"]
                if (m := self.stage_map) is not None
                else []
            ),
        ]

    def preflight(self, plan, facts: dict[str, Any]) -> list[str]:
        return []

    # -- while it runs -------------------------------------------------------------------
    def progress(self, text: str) -> tuple[int, float | None]:
        pat = self.patterns.get(self.progress_event) if self.progress_event else None
        if pat is None:
            return 0, None
        n, last = 0, None
        for line in text.splitlines():
            m = pat.search(line)
            if m:
                n += 1
                last = value_of(m, last)
        return n, last

    # -- afterwards --------------------------------------------------------------------
    def read_events(self, path: Path):
        """Every line matching an event (``events.read_events``)."""
        return _events().read_events(self.patterns, path)

    def parse(self, run_dir: Path):
        return cached_table(run_dir, self.events_file, self.log, self.read_events)

    def run_metrics(self, events, duration_s: float | None = None) -> dict[str, Any]:
        out: dict[str, Any] = dict.fromkeys(self.metrics)
        out.update(_events().run_metrics(self.patterns, events, duration_s))
        return out

    def duration(self, run_dir: Path) -> float | None:
        return workload_seconds(run_dir)

    def late_times(self, events):
        if events is None or self.late_event is None:
            return super().late_times(events)
        return _events().event_times(events, self.late_event)

    def summary(self, metrics: dict[str, Any], events) -> dict[str, Any]:
        keep = ("_count", "_per_min", "_median", "_max")
        out = {k: v for k, v in metrics.items() if k in self.metrics and k.endswith(keep)}
        out["events"] = list(self.patterns)
        if self.event_units:  # the unit of each event's value: ms, ...
            out["units"] = dict(self.event_units)
        return out

    def summary_line(self, metrics: dict[str, Any]) -> list[str]:
        parts = []
        for name, pat in self.patterns.items():
            n = metrics.get(f"{name}_count")
            if n is None:
                continue
            median = metrics.get(f"{name}_median") if "value" in pat.groupindex else None
            unit = self.event_units.get(name)
            value = "" if median is None else f" (median {median:g}{' ' + unit if unit else ''})"
            parts.append(f"{n} {name}{value}")
        return parts


def _events():
    """The events' table code, imported on use: it needs pandas, which the run path (a
    playbook read and planned) must not load for the CLI's start-up time."""
    from labkit.workloads.command import events  # noqa: PLC0415 -- pandas off the run path

    return events


def value_of(m: re.Match, default: float | None) -> float | None:
    if "value" not in m.re.groupindex or m.group("value") is None:
        return default
    try:
        return float(m.group("value"))
    except ValueError:
        return default


def declare_metrics(
    patterns: dict[str, re.Pattern], units: dict[str, str] | None = None
) -> dict[str, Metric]:
    """The metrics of a command's events: count and rate of each, the statistics of its
    values (in the event's unit, ``units``) when it has a ``value`` group, and
    ``duration_s``."""
    units = units or {}
    out = {
        "duration_s": Metric(
            "duration_s",
            "seconds the workload ran (the exposure of its counts)",
            unit="s",
            source="command",
            kind="duration",
            spread=True,
        )
    }
    for name, pat in patterns.items():
        count = f"{name}_count"
        out[count] = Metric(
            count, f"lines matching event {name!r} in the run", source="command",
            kind="count", better="lower",
        )  # fmt: skip
        out[f"{name}_per_min"] = Metric(
            f"{name}_per_min", f"{name!r} events per minute the workload ran", unit="1/min",
            source="command", kind="rate", better="lower", count_of=count,
        )  # fmt: skip
        if "value" in pat.groupindex:
            for stat in STATS:
                out[f"{name}_{stat}"] = Metric(
                    f"{name}_{stat}",
                    f"{stat} of the values of {name!r} events in the run",
                    unit=units.get(name, ""),
                    source="command",
                    aggregate={"min": "min", "max": "max"}.get(stat, "mean"),
                    kind=UNIT_KINDS.get(units.get(name, ""), "value"),
                    # a value of another unit (or none) may be any number
                    domain=None if units.get(name, "") in UNIT_KINDS else ANY,
                )
    return out
