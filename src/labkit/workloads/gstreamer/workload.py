"""The ``gstreamer`` workload: one gst-launch-1.0 pipeline, measured at its sinks.

.. code-block:: yaml

    workload:
      kind: gstreamer
      pipeline: >-              # gst-launch-1.0 syntax; Jinja2 over params and host vars
        videotestsrc is-live=true ! video/x-raw,width={{ params.width }},height=480
        ! jpegenc ! jpegdec
        ! fpsdisplaysink name=cam0 video-sink=fakesink text-overlay=false sync=true
      duration_s: "{{ params.seconds }}"
      target_fps: "{{ params.fps }}"   # what each sink should sustain
      params: {width: {type: int, default: 640, min: 16}, ...}

labkit places ``run_gst.py`` in the run dir and runs ``python3 run_gst.py --seconds D
--target-fps F -- gst-launch-1.0 -v -e <pipeline>``: the pipeline is split as a shell
would split it but never passed through one; the runner stamps every line with its time
and stops the pipeline with SIGINT after D seconds (EOS, a clean exit). Each
``fpsdisplaysink`` is one measured sink (``labkit.workloads.gstreamer.metrics``).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from labkit.core.argv import scheduling_prefix
from labkit.core.facts import Fact
from labkit.core.param_spec import ParamSpec, checked_params, spec_defaults
from labkit.core.template import render_lenient, render_template, syntax_error
from labkit.errors import ConfigError, PlaybookError
from labkit.parse.cached import cached_table
from labkit.records.model import WorkloadInfo
from labkit.workloads.base import MAX_DURATION_S, Workload, workload_seconds
from labkit.workloads.gstreamer import metrics as gm
from labkit.workloads.gstreamer import pipeline as gp
from labkit.workloads.gstreamer.facts import GSTREAMER_FACT
from labkit.workloads.gstreamer.log import LATE_SHARE, SAMPLE, read_samples

HERE = Path(__file__).parent
RUNNER = "run_gst.py"
MAX_FPS = 1000.0
# the thread probes call the loop: gst-launch-1.0's main thread (its comm), not the runner
LOOP_THREAD = "gst-launch-1.0"


class GstInfo(WorkloadInfo):
    """What a run record keeps of a pipeline (``record``, ``from_record``)."""

    pipeline: str = "fakesrc ! fakesink"
    duration_s: str | float = Field(default=1, union_mode="left_to_right")
    target_fps: str | float = Field(default=1, union_mode="left_to_right")
    loop_thread: str | None = None
    late_event: str | None = None
    sinks: list[str] = Field(default_factory=list)


class GstSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["gstreamer"]
    pipeline: str = Field(min_length=1)
    duration_s: str | float = Field(union_mode="left_to_right")
    target_fps: str | float = Field(union_mode="left_to_right")
    params: dict[str, ParamSpec] = Field(default_factory=dict)
    # the thread a probe treats as the loop (its kernel name); default gst-launch-1.0's main
    loop_thread: str = LOOP_THREAD


class Gstreamer(Workload):
    kind: ClassVar[str] = "gstreamer"
    log: ClassVar[str] = "gst.log"
    events_file: ClassVar[str] = "gst-samples.parquet"
    progress_label: ClassVar[str] = "late sink samples"
    progress_unit: ClassVar[str] = "fps"
    late_event: ClassVar[str] = gm.LATE_EVENT
    headline: ClassVar[tuple[str, ...]] = ("late_sample_per_min", "fps_average_min")
    report_section: ClassVar[str | None] = "report.md.j2"  # one row per experiment and sink
    sink_key = staticmethod(gm.sink_key)  # a sink's name in its metrics' names

    def __init__(
        self, spec: GstSpec, params: dict | None = None, sinks: list[str] | None = None
    ) -> None:
        self.spec = spec
        self.params = params or {}
        self.sinks = list(sinks or [])
        self.declared = gm.declared(self.sinks)
        self.metrics = self.declared
        self._progress_target: float | None = None

    @property
    def loop_thread(self) -> str:
        return self.spec.loop_thread

    # -- configuration ---------------------------------------------------------------
    @classmethod
    def from_playbook(cls, raw: dict[str, Any], doc, base_dir: Path) -> Gstreamer:
        """Validate the playbook's ``workload:`` block (errors name file, line, field).
        Its params are checked as every declared parameter is (``core.param_spec``)."""
        where = ("workload",)
        try:
            spec = GstSpec.model_validate(raw)
        except ValidationError as exc:
            raise doc.pydantic_error(exc, GstSpec, where, PlaybookError) from None
        params = checked_params(spec.params, raw.get("params") or {}, doc, where)
        for key in ("pipeline", "duration_s", "target_fps"):
            text = getattr(spec, key)
            wrong = syntax_error(text) if isinstance(text, str) else None
            if wrong is not None:
                raise doc.error(f"template error: {wrong}", (*where, key), PlaybookError)
        return cls(spec, params, _sinks_of(spec, doc))

    @classmethod
    def facts(cls, host: Any) -> list[Fact]:
        return [GSTREAMER_FACT]

    def defaults(self) -> dict[str, Any]:
        return spec_defaults(self.spec.params)

    def record(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "log": self.log,
            "pipeline": self.spec.pipeline,
            "duration_s": self.spec.duration_s,
            "target_fps": self.spec.target_fps,
            "loop_thread": self.spec.loop_thread,
            "late_event": self.late_event,
            "sinks": self.sinks,
        }

    @classmethod
    def from_record(cls, info: WorkloadInfo) -> Gstreamer:
        kept = GstInfo.model_validate(info.model_dump())
        spec = GstSpec(
            kind="gstreamer",
            pipeline=kept.pipeline or "fakesrc ! fakesink",
            duration_s=kept.duration_s or 1,
            target_fps=kept.target_fps or 1,
            loop_thread=kept.loop_thread or LOOP_THREAD,
        )
        return cls(spec, sinks=kept.sinks)

    # -- planning ----------------------------------------------------------------------
    def _render(self, plan, text: str | float, what: str) -> str:
        return render_template(plan, text, what) if isinstance(text, str) else str(text)

    def _number(self, plan, what: str, top: float) -> float:
        text = self._render(plan, getattr(self.spec, what), what)
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and 0 < value <= top):
            raise ConfigError(
                f"workload {what} is {text!r}; expected a number > 0 and at most {top:g} "
                f"(experiment {plan.experiment})",
                file=str(plan.playbook.file),
                field=f"workload.{what}",
            )
        return value

    def rendered(self, plan) -> str:
        """The pipeline of this plan, as gst-launch-1.0 syntax."""
        return " ".join(self._render(plan, self.spec.pipeline, "pipeline").split())

    def launch_argv(self, plan) -> list[str]:
        """``gst-launch-1.0 -v -e <pipeline>`` for this plan (never through a shell)."""
        text = self.rendered(plan)
        try:
            argv = gp.argv(text)
        except ValueError as exc:  # shlex: an unclosed quote
            raise ConfigError(
                f"workload pipeline: {exc} in {text!r} (experiment {plan.experiment})",
                file=str(plan.playbook.file),
                field="workload.pipeline",
            ) from None
        if not gp.fps_sinks(text):
            raise ConfigError(
                "workload pipeline has no fpsdisplaysink: nothing would be measured; end "
                "each stream in `fpsdisplaysink name=<sink> video-sink=fakesink "
                f"text-overlay=false` (experiment {plan.experiment})",
                file=str(plan.playbook.file),
                field="workload.pipeline",
            )
        return argv

    def target_fps(self, plan) -> float:
        return self._number(plan, "target_fps", MAX_FPS)

    def command(self, plan) -> list[str]:
        return [
            *scheduling_prefix(plan.settings),
            "python3", RUNNER,
            "--seconds", f"{self.expected_duration_s(plan):g}",
            "--target-fps", f"{self.target_fps(plan):g}",
            "--", *self.launch_argv(plan),
        ]  # fmt: skip

    def files(self, plan) -> dict[str, str]:
        return {RUNNER: (HERE / RUNNER).read_text()}

    def expected_duration_s(self, plan) -> float:
        return self._number(plan, "duration_s", MAX_DURATION_S)

    def describe(self, plan) -> list[str]:
        text = self.rendered(plan)
        return [
            f"duration    {self.expected_duration_s(plan):g} s, then SIGINT (EOS)",
            f"target      {self.target_fps(plan):g} fps per sink "
            f"(a sample below {LATE_SHARE:.0%} of it is late)",
            f"sinks       {', '.join(gp.fps_sinks(text))}",
            f"elements    {', '.join(gp.elements(text))}",
        ]

    def preflight(self, plan, facts: dict[str, Any]) -> list[str]:
        """gst-launch-1.0 there, and every element of the pipeline known to the host."""
        gst = facts.get("gstreamer")
        if not gst:
            return [
                "gst-launch-1.0 not found on the host: install gstreamer1.0-tools "
                "(and gstreamer1.0-plugins-good, gstreamer1.0-plugins-bad)"
            ]
        known = set(gst.get("elements") or [])
        return [
            f"GStreamer element {e!r} is not on the host: {gp.package_of(e)}"
            for e in gp.elements(self.rendered(plan))
            if e not in known
        ]

    # -- while it runs -------------------------------------------------------------------
    def progress(self, text: str) -> tuple[int, float | None]:
        """(late sink samples, the last sample's rate); the log's first line names the
        target (``#labkit-gst ... <target fps>``)."""
        n, last = 0, None
        for line in text.splitlines():
            if line.startswith("#labkit-gst"):
                head = line.split()
                self._progress_target = float(head[4]) if len(head) > 4 else None
                continue
            m = SAMPLE.search(line)
            if not m:
                continue
            try:
                last = float(m["current"])
            except ValueError:
                continue
            target = self._progress_target
            n += bool(target and last < LATE_SHARE * target)
        return n, last

    # -- afterwards --------------------------------------------------------------------
    def parse(self, run_dir: Path):
        return cached_table(run_dir, self.events_file, self.log, read_samples)

    def run_metrics(self, events, duration_s: float | None = None) -> dict[str, Any]:
        out = dict.fromkeys(self.metrics)
        out.update(gm.run_metrics(events, duration_s))
        return out

    def summary(self, metrics: dict[str, Any], events) -> dict[str, Any]:
        """The run record's summary: late samples (the batch table's count), the slowest
        sink's rate and the dropped share."""
        keep = ("late_sample_count", "late_sample_per_min", "fps_average_min",
                "frames_dropped_share")  # fmt: skip
        out: dict[str, Any] = {k: metrics.get(k) for k in keep}
        out["events"] = [self.late_event]
        return out

    def summary_line(self, metrics: dict[str, Any]) -> list[str]:
        parts = []
        if metrics.get("late_sample_count") is not None:
            parts.append(f"{metrics['late_sample_count']} {self.late_event}")
        if metrics.get("fps_average_min") is not None:
            parts.append(f"slowest sink {metrics['fps_average_min']:.3g} fps")
        return parts

    def late_events(self, events):
        """The late events (``time``, ``start``, ``hz``) probes relate their samples to."""
        return gm.late_events(events)

    def late_times(self, events):
        """When the late events happened (naive local time of the target)."""
        return gm.late_times(events)

    def duration(self, run_dir: Path) -> float | None:
        return workload_seconds(run_dir)


def _sinks_of(spec: GstSpec, doc) -> list[str]:
    """The fpsdisplaysinks the playbook's experiments can have (their per-sink metrics):
    the pipeline rendered with the defaults and each experiment's and sweep point's params."""
    defaults = {n: p.default for n, p in spec.params.items()}
    variants = [dict(defaults)]
    for exp in (doc.data or {}).get("experiments") or []:
        if not isinstance(exp, dict):
            continue
        base = {**defaults, **(exp.get("params") or {})}
        variants.append(base)
        for key, values in (exp.get("sweep") or {}).items():
            for v in values if isinstance(values, list) else []:
                variants.append({**base, key: v})
    sinks: dict[str, None] = {}
    for params in variants:
        text = render_lenient(spec.pipeline, params=params, host={}, settings={})
        try:  # unbalanced quotes: no sinks to read from this variant
            names = gp.fps_sinks(text) if text is not None else []
        except ValueError:
            continue
        for name in names:
            if re.fullmatch(r"[^{}\s]+", name):
                sinks.setdefault(name, None)
    return list(sinks)
