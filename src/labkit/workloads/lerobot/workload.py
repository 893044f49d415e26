"""The ``lerobot-record`` workload: LeRobot's recording loop, version-aware.

Parameters are LeRobot's dotted names (``labkit.workloads.lerobot.params``), the command is
built per LeRobot release (``labkit.workloads.lerobot.flags``), the expected duration is episodes x
episode time + resets, progress counts the ``Record loop is running slower (... Hz)``
warnings, and the log parser is ``labkit.workloads.lerobot.log``. It is the workload of a
playbook with ``record:`` and no ``workload:``.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from labkit.core.argv import scheduling_prefix
from labkit.core.facts import Fact
from labkit.core.metrics import Metric
from labkit.core.observed import Observed
from labkit.errors import PlaybookError
from labkit.parse.cached import cached_table
from labkit.records.model import RunRecord
from labkit.workloads.base import LateWords, NotForHost, Tally, Workload, count_matches
from labkit.workloads.lerobot.facts import lerobot_fact
from labkit.workloads.lerobot.flags import DEFAULT_VERSION, Version, fit_to_version, record_argv
from labkit.workloads.lerobot.hostvars import LerobotHostVars, host_devices
from labkit.workloads.lerobot.metrics import METRICS
from labkit.workloads.lerobot.params import RECORD_DEFAULTS, RECORD_PARAMS
from labkit.workloads.lerobot.playbook_vars import LerobotPlaybookVars
from labkit.workloads.lerobot.stages import STAGE_MAP, camera_devices, camera_of_thread

SLOW = re.compile(r"loop is running slower \(([0-9.]+|inf) Hz\)")

# what a run's record keeps of its metrics (and its one line shows)
SUMMARY_KEYS = ("warnings", "min_hz", "median_hz", "episodes", "codec", "errors")


class LerobotRecord(Workload):
    kind: ClassVar[str] = "lerobot-record"
    log: ClassVar[str] = "record.log"
    events_file: ClassVar[str] = "record-events.parquet"
    progress_label: ClassVar[str] = "slow-loop warnings"
    progress_unit: ClassVar[str] = "Hz"
    late_event = "slow_loop"
    headline = ("warnings_per_min", "median_hz")
    # the seed's tables (report.md.j2 here) show its metrics; the slow-loop figures
    report_section = "report.md.j2"
    report_metrics_table = False
    report_outcome = "outcome.md.j2"  # warnings per run, the warned floor, the codec
    report_figures = ("slow_loop",)
    late_words = LateWords("warning", "warnings", "slow-loop warnings", "the warning", "warned")
    run_columns = ("warnings", "min_hz")
    setup_columns = ("target_hz", "codec")
    stage_map = STAGE_MAP
    record_section: ClassVar[bool] = True
    duration_param: ClassVar[str | None] = "dataset.episode_time_s"
    noun: ClassVar[str] = "the recording"
    program_noun: ClassVar[str] = "lerobot-record"
    check_label: ClassVar[str] = "record: "
    plan_label: ClassVar[str] = "record command:"
    simulated: ClassVar[bool] = True  # the simulated Jetson's lerobot-record
    host_vars = LerobotHostVars  # labkit_lerobot_version, labkit_lerobot_record, labkit_record
    host_params_var: ClassVar[str | None] = "labkit_record"
    playbook_vars = LerobotPlaybookVars  # lerobot_version

    def __init__(self, playbook_version: str | None = None) -> None:
        self.params = RECORD_PARAMS
        self.metrics: dict[str, Metric] = METRICS
        # the playbook's ``lerobot_version``: the flags of a host that names none
        self.playbook_version = playbook_version or DEFAULT_VERSION

    @classmethod
    def from_playbook(cls, raw: dict[str, Any], doc, base_dir: Path) -> LerobotRecord:
        """``workload: {kind: lerobot-record}`` alone: the parameters are under ``record:``;
        the release its flags are for is the playbook's ``lerobot_version``."""
        extra = [k for k in raw if k != "kind"]
        if extra:
            raise doc.error(
                f"unknown key {extra[0]!r}; a lerobot-record workload takes its parameters "
                "under `record:`",
                ("workload", extra[0]),
                PlaybookError,
            )
        data = doc.data if isinstance(doc.data, dict) else {}
        return cls(data.get("lerobot_version"))

    def version(self, host: Any) -> Version:
        """The host's LeRobot release (``labkit_lerobot_version``), else the playbook's."""
        return Version.parse(getattr(host, "labkit_lerobot_version", None) or self.playbook_version)

    def fit(self, plan, asked: dict[str, str]) -> dict[str, Any]:
        """Every recorded camera is one of the host's; labkit's own defaults the host's
        release lacks are left out (a value asked for that it lacks: ``CommandError``)."""
        cameras = plan.host.labkit_cameras
        for cam in plan.params.get("cameras") or []:
            if cam not in cameras:
                have = ", ".join(cameras) or "none"
                raise NotForHost(
                    "cameras",
                    f"camera {cam!r} is not among host {plan.host.name}'s labkit_cameras "
                    f"(it has: {have})",
                )
        return fit_to_version(plan.params, plan.version, asked)

    def argv(self, plan) -> list[str]:
        """lerobot-record's command line for the plan (flags of the plan's release)."""
        host = plan.host
        devices = {name: host.labkit_cameras[name] for name in plan.params.get("cameras", [])}
        return record_argv(
            plan.params,
            version=plan.version,
            robot=host.labkit_robot,
            teleop=host.labkit_teleop,
            camera_devices=devices,
            dataset_root=plan.dataset_root,
            program=host.labkit_lerobot_record,
        )

    @classmethod
    def host_devices(cls, host: Any) -> dict[str, str]:
        return host_devices(host)

    def metric_devices(self, params: dict[str, Any]) -> list[str]:
        """The cameras an experiment records (per-camera read metrics)."""
        return list(params.get("cameras") or [])

    @classmethod
    def facts(cls, host: Any) -> list[Fact]:
        return [lerobot_fact(host)]

    def defaults(self) -> dict[str, Any]:
        return dict(RECORD_DEFAULTS)

    @classmethod
    def tally(cls, summary: dict[str, Any]) -> Tally:
        """Its slow-loop warnings and the lowest warned rate."""
        n, floor = summary.get("warnings"), summary.get("min_hz")
        hz = f", min {floor:g} Hz" if floor is not None else ""
        return Tally(
            "warnings",
            "slow-loop warnings" if "warnings" in summary else "",
            n,
            floor,
            has_floor=True,
            line=f"{n} warning{'' if n == 1 else 's'}{hz}",
        )

    def late_count(self) -> str | None:
        return "warnings"  # its slow-loop warnings

    def target_hz(self, params: dict[str, Any]) -> float | None:
        """The record loop's target: ``dataset.fps`` (an iteration longer than 1 / it is
        late)."""
        return _positive(params.get("dataset.fps"))

    def command(self, plan) -> list[str]:
        return scheduling_prefix(plan.settings) + self.argv(plan)

    def expected_duration_s(self, plan) -> float:
        p = plan.params
        n = int(p["dataset.num_episodes"])
        return n * float(p["dataset.episode_time_s"]) + (n - 1) * float(p["dataset.reset_time_s"])

    def versions(self, plan) -> dict[str, str]:
        return {"lerobot": str(plan.version)}

    def check_plan(self, plan) -> None:
        self.argv(plan)  # CommandError when the version cannot express it

    def describe(self, plan) -> list[str]:
        p = plan.params
        return [
            f"lerobot     {plan.version} (flag family {plan.version.family})",
            f"duration    {self.expected_duration_s(plan):g} s expected "
            f"({p['dataset.num_episodes']} x {p['dataset.episode_time_s']} s"
            f" + resets {p['dataset.reset_time_s']} s)",
            f"cameras     {', '.join(p.get('cameras') or []) or 'none'}",
        ]

    def devices(self, plan) -> dict[str, str]:
        """The arms' ports and the cameras this experiment records."""
        used = set(plan.params.get("cameras") or [])
        return {
            k: v
            for k, v in host_devices(plan.host).items()
            if not k.startswith("camera ") or k[7:] in used
        }

    def preflight(self, plan, facts: dict[str, Any]) -> list[str]:
        problems = []
        lr = facts.get("lerobot")
        if not lr:
            problems.append(
                f"lerobot-record not found ({plan.host.labkit_lerobot_record}); set "
                "labkit_lerobot_record to its full path (e.g. inside the conda env)"
            )
        elif lr.get("version") and lr["version"] != str(plan.version):
            problems.append(
                f"lerobot on the host is {lr['version']} but the plan uses {plan.version} "
                f"flags; set labkit_lerobot_version: {lr['version']!r} for this host"
            )
        return problems

    def progress(self, text: str) -> tuple[int, float | None]:
        return count_matches(SLOW, text)

    def parse(self, run_dir: Path):
        # on use: the parser needs pandas, which the run path does not load (start-up)
        from labkit.workloads.lerobot.log import read_record_log  # noqa: PLC0415

        return cached_table(run_dir, self.events_file, self.log, read_record_log)

    def run_metrics(self, events, duration_s: float | None = None) -> dict[str, Any]:
        return _computed().run_metrics(events, duration_s)

    def hand_runs(self):
        """The seed's hand-run logs (``hand_run``; its checks parse them: pandas, on use)."""
        from labkit.workloads.lerobot.hand_run import LerobotHandRuns  # noqa: PLC0415 -- start-up

        return LerobotHandRuns()

    def late_events(self, events):
        return None if events is None else _computed().late_events(events)

    def observe(self, run_dir: Path, record: RunRecord, events) -> Observed:
        """Also its cameras: each read thread (``OpenCVCamera(<device>)_read_loop``) is
        the camera its record command line puts at that device, read at ``camera.fps``."""
        # the record command line (a schema-1 record's ``record_argv`` migrated at read)
        cams = camera_devices(record.commands.workload_argv)
        return replace(
            super().observe(run_dir, record, events),
            device_of_thread=partial(camera_of_thread, devices=cams),
            devices=sorted(set(cams.values())),
            device_fps=_positive(record.params.get("camera.fps")),
        )

    def late_timeline(self, events):
        if events is None or "kind" not in events or "hz" not in events:
            return None
        return _computed().late_timeline(events)

    def recorded_seconds(self, run_dir: Path, record: RunRecord, events) -> float | None:
        """The supervisor's time; an imported run (no supervisor): the record log's span."""
        seconds = super().recorded_seconds(run_dir, record, events)
        if seconds is None and events is not None:
            seconds = _computed().recording_seconds(events)
        return seconds

    def summary(self, metrics: dict[str, Any], events) -> dict[str, Any]:
        return _computed().summary(events, metrics, SUMMARY_KEYS)

    def summary_line(self, metrics: dict[str, Any]) -> list[str]:
        if metrics.get("warnings") is None:
            return []
        parts = [f"{metrics['warnings']} slow-loop warnings"]
        if metrics.get("min_hz") is not None:
            parts.append(f"min {metrics['min_hz']:g} Hz")
        return parts


def _positive(value: Any) -> float | None:
    """A rate from the record's parameters (None unless a number > 0)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def _computed():
    """The metrics' computation, imported on use: it needs pandas, which the run path (a
    playbook read and planned) must not load for the CLI's start-up time."""
    # pandas off the run path: start-up
    from labkit.workloads.lerobot import log_metrics  # noqa: PLC0415

    return log_metrics
