"""The ``command`` workload: any program, described in the playbook.

.. code-block:: yaml

    workload:
      kind: command
      command: "python3 -u bench.py --rate {{ params.rate }}"  # Jinja2; bash, in the run dir
      files: {bench.py: files/bench.py}     # relative to the playbook, placed in the run dir
      duration_s: "{{ params.seconds }}"    # expected duration: progress and watchdog
      params:
        rate: {type: float, default: 30, min: 1}
        seconds: {type: int, default: 10, min: 1}
      events:                                # name -> regex; optional named group 'value'
        slow: 'SLOW latency=(?P<value>[0-9.]+)ms'
        tick: {regex: 'tick latency=(?P<value>[0-9.]+)', unit: ms}   # with its value's unit

Per event the metrics ``<event>_count``, ``<event>_per_min`` and, with a ``value``
group, ``<event>_min``, ``_median``, ``_p95`` and ``_max``. The command and the duration
are Jinja2 templates over ``params``, ``host`` (host vars), ``settings`` and
``experiment``; a value reaches the shell as the template places it, so a template that
takes text from a ``str`` parameter should quote it (``{{ params.name | quote }}``).
"""

from __future__ import annotations

import math
import re
import shlex
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from labkit.config.params import Param
from labkit.errors import ConfigError, PlaybookError
from labkit.parse.cached import cached_table
from labkit.workloads.base import Workload, workload_seconds

NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
MAX_DURATION_S = 86400
KINDS = {"int": "int", "float": "number", "str": "str", "bool": "bool"}
STATS = ("min", "median", "p95", "max")


class ParamSpec(BaseModel):
    """One parameter of a command: its type, default and range."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["int", "float", "str", "bool"]
    default: Any = None
    min: float | None = None
    max: float | None = None
    help: str = ""


class EventSpec(BaseModel):
    """An event with the unit of its value: ``{regex: 'LATE .*=(?P<value>[0-9.]+)', unit: ms}``."""

    model_config = ConfigDict(extra="forbid")
    regex: str
    unit: str | None = Field(default=None, pattern=r"^[^\s]{1,12}$")


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


def _env():
    import jinja2

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["quote"] = lambda v: shlex.quote(str(v))
    return env


def _param(name: str, spec: ParamSpec) -> Param:
    lo, hi = spec.min, spec.max

    def check(v) -> bool:
        if spec.type in ("int", "float"):
            if not math.isfinite(v):
                return False
            return (lo is None or v >= lo) and (hi is None or v <= hi)
        return True

    parts = []
    if lo is not None:
        parts.append(f">= {lo:g}")
    if hi is not None:
        parts.append(f"<= {hi:g}")
    expect = " and ".join(parts) if spec.type in ("int", "float") else ""
    return Param(name, KINDS[spec.type], spec.help or name, check, expect or "finite")


class Command(Workload):
    kind: ClassVar[str] = "command"
    log: ClassVar[str] = "output.log"
    events_file: ClassVar[str] = "events.parquet"

    def __init__(self, spec: CommandSpec, base_dir: Path | None = None) -> None:
        self.spec = spec
        self.base_dir = base_dir
        self.params = {name: _param(name, p) for name, p in spec.params.items()}
        self.patterns = {name: re.compile(rx) for name, rx in spec.regexes().items()}
        self.metrics = metric_names(spec.events, self.patterns)
        self.event_units = spec.units()
        # the unit of each value metric (``late_median`` -> ms), for the metric registry
        self.units = {
            f"{name}_{stat}": unit for name, unit in self.event_units.items() for stat in STATS
        }
        self.progress_event = spec.progress or next(iter(spec.events), None)
        self.progress_label = f"{self.progress_event} events" if self.progress_event else "lines"
        self.progress_unit = self.event_units.get(self.progress_event or "", "")

    # -- configuration ---------------------------------------------------------------
    @classmethod
    def from_playbook(cls, raw: dict[str, Any], doc, base_dir: Path) -> Command:
        """Validate the playbook's ``workload:`` block (errors name file, line, field)."""
        from labkit.config.params import ParamError, coerce
        from labkit.config.yamlsrc import pydantic_error

        where = ("workload",)
        try:
            spec = CommandSpec.model_validate(raw)
        except ValidationError as exc:
            raise pydantic_error(doc, exc, CommandSpec, where, PlaybookError) from None
        for group in ("params", "events"):
            for name in getattr(spec, group):
                if not re.match(NAME, str(name)):
                    raise doc.error(
                        f"{group[:-1]} name {name!r}: expected letters, digits and _ "
                        "(not starting with a digit)",
                        (*where, group, name),
                        PlaybookError,
                    )
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
            extra = set(pat.groupindex) - {"value"}
            if extra:
                raise doc.error(
                    f"event {name!r}: unknown named group(s) {sorted(extra)}; the only named "
                    "group an event may have is 'value' (a number)",
                    (*where, "events", name),
                    PlaybookError,
                )
        if spec.progress is not None and spec.progress not in spec.events:
            raise doc.error(
                f"progress names unknown event {spec.progress!r}; events are: "
                f"{', '.join(spec.events) or 'none'}",
                (*where, "progress"),
                PlaybookError,
            )
        for name, p in spec.params.items():
            at = (*where, "params", name)
            if p.min is not None and p.max is not None and p.min > p.max:
                raise doc.error(f"min {p.min:g} > max {p.max:g}", (*at, "min"), PlaybookError)
            if p.type not in ("int", "float") and (p.min is not None or p.max is not None):
                raise doc.error(
                    f"min/max apply to int and float parameters, not {p.type}",
                    (*at, "min" if p.min is not None else "max"),
                    PlaybookError,
                )
            if p.default is None:
                raise doc.error(
                    f"parameter {name!r} needs a default (a {p.type})",
                    (*at, "default")
                    if "default" in (raw.get("params") or {}).get(name, {})
                    else at,
                    PlaybookError,
                )
            try:
                coerce(name, p.default, {name: _param(name, p)})
            except ParamError as exc:
                raise doc.error(str(exc), (*at, "default"), PlaybookError) from None
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
        env = _env()
        for key in ("command", "duration_s"):
            text = getattr(spec, key)
            if isinstance(text, str):
                try:
                    env.parse(text)
                except Exception as exc:  # jinja2.TemplateSyntaxError
                    raise doc.error(
                        f"template error: {exc}", (*where, key), PlaybookError
                    ) from None
        return cls(spec, base_dir)

    def defaults(self) -> dict[str, Any]:
        out = {}
        for name, p in self.spec.params.items():
            value = p.default
            out[name] = float(value) if p.type == "float" else value
        return out

    def record(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "log": self.log,
            "command": self.spec.command,
            "duration_s": self.spec.duration_s,
            "events": self.spec.regexes(),
            "units": self.event_units,
            "progress": self.progress_event,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Command:
        units = record.get("units") or {}
        spec = CommandSpec(
            kind="command",
            command=record.get("command") or "true",
            duration_s=record.get("duration_s") or 1,
            events={
                name: EventSpec(regex=rx, unit=units.get(name))
                for name, rx in (record.get("events") or {}).items()
            },
            progress=record.get("progress"),
        )
        return cls(spec)

    # -- planning ----------------------------------------------------------------------
    def _render(self, plan, text: str, what: str) -> str:
        return render_template(plan, text, what)

    def rendered(self, plan) -> str:
        return self._render(plan, self.spec.command, "command").strip()

    def command(self, plan) -> list[str]:
        from labkit.workloads.lerobot_flags import scheduling_prefix

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
                last = _value(m, last)
        return n, last

    # -- afterwards --------------------------------------------------------------------
    def read_events(self, path: Path):
        """Every line matching an event: columns event, line (1-based), value, text."""
        import pandas as pd

        rows = []
        with open(path, errors="replace") as fh:
            for i, line in enumerate(fh, 1):
                for name, pat in self.patterns.items():
                    m = pat.search(line)
                    if m:
                        rows.append((name, i, _value(m, None), line.rstrip("\n")[:500]))
        df = pd.DataFrame(rows, columns=["event", "line", "value", "text"])
        df["value"] = df["value"].astype(float)
        df["line"] = df["line"].astype("int64")
        return df

    def parse(self, run_dir: Path):
        return cached_table(run_dir, self.events_file, self.log, self.read_events)

    def run_metrics(self, events, duration_s: float | None = None) -> dict[str, Any]:
        import numpy as np

        out: dict[str, Any] = dict.fromkeys(self.metrics)
        if events is None:
            return out
        if duration_s and duration_s > 0:
            out["duration_s"] = float(duration_s)
        for name, pat in self.patterns.items():
            mine = events[events["event"] == name]
            out[f"{name}_count"] = int(len(mine))
            if duration_s:
                out[f"{name}_per_min"] = len(mine) / duration_s * 60
            if "value" in pat.groupindex:
                values = mine["value"].to_numpy(dtype=float)
                values = values[np.isfinite(values)]
                if len(values):
                    out[f"{name}_min"] = float(values.min())
                    out[f"{name}_median"] = float(np.median(values))
                    out[f"{name}_p95"] = float(np.percentile(values, 95))
                    out[f"{name}_max"] = float(values.max())
        return out

    def duration(self, run_dir: Path) -> float | None:
        return workload_seconds(run_dir)


def render_template(plan, text: str, what: str) -> str:
    """A workload field's Jinja2 template for ``plan`` (params, host vars, settings,
    experiment); a template error names the playbook and the field."""
    import jinja2

    try:
        return (
            _env()
            .from_string(text)
            .render(
                params=plan.params,
                host=plan.host_vars or plan.host.model_dump(),
                settings=plan.settings,
                experiment=plan.experiment,
            )
        )
    except jinja2.TemplateError as exc:
        raise ConfigError(
            f"workload {what}: template error: {exc} (experiment {plan.experiment})",
            file=str(plan.playbook.file),
            field=f"workload.{what}",
        ) from None


def _value(m: re.Match, default: float | None) -> float | None:
    if "value" not in m.re.groupindex or m.group("value") is None:
        return default
    try:
        return float(m.group("value"))
    except ValueError:
        return default


def metric_names(events: dict[str, Any], patterns: dict[str, re.Pattern]) -> dict[str, str]:
    """Metric name -> description for a command's events."""
    out: dict[str, str] = {"duration_s": "seconds the workload ran (the exposure of its counts)"}
    for name in events:
        out[f"{name}_count"] = f"lines matching event {name!r} in the run"
        out[f"{name}_per_min"] = f"{name!r} events per minute the workload ran"
        if "value" in patterns[name].groupindex:
            for stat in STATS:
                out[f"{name}_{stat}"] = f"{stat} of the values of {name!r} events in the run"
    return out
