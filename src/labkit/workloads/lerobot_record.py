"""The ``lerobot-record`` workload: LeRobot's recording loop, version-aware.

Parameters are LeRobot's dotted names (``labkit.config.params.RECORD_PARAMS``), the command is
built per LeRobot release (``labkit.workloads.lerobot_flags``), the expected duration is episodes x
episode time + resets, progress counts the ``Record loop is running slower (... Hz)``
warnings, and the log parser is ``labkit.parse.record_log``. It is the workload of a
playbook with ``record:`` and no ``workload:``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

from labkit.config.params import RECORD_DEFAULTS, RECORD_PARAMS
from labkit.parse.cached import cached_table
from labkit.workloads.base import Workload, count_matches

SLOW = re.compile(r"loop is running slower \(([0-9.]+|inf) Hz\)")

METRICS: dict[str, str] = {
    "warnings": "slow-loop warnings in the run",
    "warnings_per_min": "slow-loop warnings per minute of recording",
    "duration_s": "seconds the workload recorded (the exposure of its counts)",
    "min_hz": "lowest warned loop rate (Hz)",
    "p5_hz": "5th percentile of warned loop rates (Hz)",
    "median_hz": "median warned loop rate (Hz)",
    "episodes": "episodes recorded",
    "codec": "video codec the record log says was selected",
    "hw_codec": "true when the selected codec is a hardware encoder",
    "queue_full_drops": "frames dropped on a full encoder queue",
    "dropped_frames": "frames reported dropped at episode end",
    "errors": "error records in the log",
}


class LerobotRecord(Workload):
    kind: ClassVar[str] = "lerobot-record"
    log: ClassVar[str] = "record.log"
    events_file: ClassVar[str] = "record-events.parquet"
    progress_label: ClassVar[str] = "slow-loop warnings"
    progress_unit: ClassVar[str] = "Hz"

    def __init__(self) -> None:
        self.params = RECORD_PARAMS
        self.metrics = METRICS

    def defaults(self) -> dict[str, Any]:
        return dict(RECORD_DEFAULTS)

    def command(self, plan) -> list[str]:
        from labkit.workloads.lerobot_flags import scheduling_prefix

        return scheduling_prefix(plan.settings) + plan.record_argv()

    def expected_duration_s(self, plan) -> float:
        p = plan.params
        n = int(p["dataset.num_episodes"])
        return n * float(p["dataset.episode_time_s"]) + (n - 1) * float(p["dataset.reset_time_s"])

    def check_plan(self, plan) -> None:
        plan.record_argv()  # CommandError when the version cannot express it

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
            for k, v in plan.host.devices().items()
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
        from labkit.parse import read_record_log

        return cached_table(run_dir, self.events_file, self.log, read_record_log)

    def run_metrics(self, events, duration_s: float | None = None) -> dict[str, Any]:
        from labkit.analysis.metrics import run_metrics

        full = run_metrics(events, None, duration_s)
        return {k: full.get(k) for k in METRICS}
