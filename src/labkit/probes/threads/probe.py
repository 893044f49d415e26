"""The ``threads`` probe: per-thread CPU of the workload's process tree at 10 Hz.

A small stdlib script (``threads_sampler.py``) is placed in the run directory and attached
to the workload once it runs; it reads ``/proc/<pid>/task/<tid>/stat`` (utime + stime, the
CPU each thread last ran on), which every Linux board has, and names Python threads with
one ``py-spy dump`` when py-spy is there (else the kernel's thread names). Its own CPU is
in its log, for ``probe_cpu_pct``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from labkit.core.metrics import PCT_OF_A_CORE, Metric, declared
from labkit.core.observed import Observed
from labkit.parse.cached import cached_table
from labkit.probes.base import Probe, ProbeLaunch
from labkit.probes.tools import pyspy_path

HERE = Path(__file__).parent
SOURCE = "threads"
MIN_INTERVAL_MS = 10  # the shortest sampling interval the probe takes


METRICS: dict[str, Metric] = declared(
    SOURCE,
    Metric(
        "warnings_single_thread_saturated_share",
        "share of late events (LeRobot: slow-loop warnings) where one workload thread "
        "was >= 90 % of a core over the late iteration(s)",
        kind="share",
        needs_stages=True,  # the late iterations come from the stage map's profile
        per_warning=True,
    ),
    Metric(
        "loop_thread_cpu_pct",
        "mean CPU of the workload's loop thread (the one it names, else the main thread "
        "of its own process)",
        unit="% of a core",
        domain=PCT_OF_A_CORE,
    ),
    Metric(
        "late_loop_thread_cpu_pct",
        "mean CPU of the loop thread over the sampling intervals that overlap a late event",
        unit="% of a core",
        domain=PCT_OF_A_CORE,
        per_warning=True,
    ),
    Metric(
        "warn_camera_top",
        "the camera whose read ran long in most camera-bound late iterations (none when "
        "no camera stands out)",
        kind="category",
        aggregate="categorical",
        per_warning=True,
        needs_stages=True,
    ),
    Metric(
        "probe_cpu_pct",
        "the probes' own CPU (threads and py-spy), percent of one core over the recording",
        unit="% of a core",
        domain=PCT_OF_A_CORE,
        better="lower",
    ),
)
# per camera (its read thread): prefix -> the declaration each camera's metric copies; the
# workload names its device threads (``Observed.device_of_thread``: LeRobot's cameras)
PATTERNS: dict[str, Metric] = declared(
    SOURCE,
    Metric(
        "warn_camera_share_",
        "share of late events whose late iteration waited on this camera",
        kind="share",
        per_warning=True,
        needs_stages=True,
    ),
    Metric(
        "camera_read_ms_p50_",
        "median CPU ms per frame in the camera's read thread",
        unit="ms",
        kind="duration",
        needs_stages=True,
    ),
    Metric(
        "camera_read_ms_p95_",
        "95th percentile CPU ms per frame in the camera's read thread",
        unit="ms",
        kind="duration",
        needs_stages=True,
    ),
    Metric(
        "camera_read_ms_max_",
        "highest CPU ms per frame in the camera's read thread",
        unit="ms",
        kind="duration",
        needs_stages=True,
    ),
    Metric(
        "camera_read_thread_cpu_pct_",
        "mean CPU of the camera's read thread",
        unit="% of a core",
        domain=PCT_OF_A_CORE,
        needs_stages=True,
    ),
)
LOG = "threads.log"
PARQUET = "threads.parquet"


class ThreadsOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    interval_ms: int = Field(default=100, ge=MIN_INTERVAL_MS, le=10_000)


class Threads(Probe):
    name: ClassVar[str] = "threads"
    Options: ClassVar[type[BaseModel]] = ThreadsOptions
    metrics: ClassVar[dict[str, Metric]] = METRICS
    metric_patterns: ClassVar[dict[str, Metric]] = PATTERNS

    def launch(self, plan) -> ProbeLaunch:
        return ProbeLaunch(
            name=self.name,
            argv=[
                "python3",
                "{run_dir}/threads_sampler.py",
                "--pid",
                "{pid}",
                "--interval-ms",
                str(self.options.interval_ms),
                "--pyspy",
                pyspy_path(plan),
            ],  # fmt: skip
            attach=True,
            log=LOG,
            files={"threads_sampler.py": (HERE / "threads_sampler.py").read_text()},
            stop_signal="TERM",
        )

    def check(self, facts: dict[str, Any]) -> str | None:
        return None if facts.get("python") else "python3 not found on the host"

    def parse(self, run_dir: Path):
        # on use: the parser needs pandas, which the run path does not load (start-up)
        from labkit.parse.threads import read_threads  # noqa: PLC0415

        return cached_table(run_dir, PARQUET, LOG, read_threads)

    def run_metrics(self, table, run: Observed) -> dict[str, Any]:
        """The loop thread's CPU overall and at late events, and the probes' own CPU (this
        sampler's and the profiler's): for every workload. With the workload's stage map,
        what its threads did over the late stretches the profile found and per device
        thread (``profiled``)."""
        if table is None or not len(table):
            return {}
        # on use: pandas, which the run path does not load (the CLI's start-up time)
        from labkit.probes.threads import compute, profiled  # noqa: PLC0415

        out = compute.run_metrics(table, run.late_windows, run.loop_thread)
        profiler = run.profile.cpu_pct if run.profile is not None else None
        if profiler is not None:  # the probes' own CPU: the profiler's too
            out["probe_cpu_pct"] = out.get("probe_cpu_pct", 0.0) + profiler
        if run.stages is not None:
            out.update(profiled.profiled_metrics(table, run, MIN_INTERVAL_MS))
        return out
