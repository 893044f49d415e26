"""The ``tegrastats`` probe: NVIDIA's sampler of CPU load and clocks, RAM, temperatures,
power rails and engines (NVENC), started before the workload with ``--logfile``.

It is ``required``: every Jetson has it, and a board where it is missing is a setup
problem the preflight names instead of a run without CPU numbers. Only the tegrastats
this run started is stopped (``tegrastats --stop`` would stop every one on the board).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from labkit.parse.cached import cached_table
from labkit.probes.base import Probe, ProbeLaunch

LOG = "tegrastats.log"
PARQUET = "tegrastats.parquet"


class Tegrastats(Probe):
    name: ClassVar[str] = "tegrastats"
    required: ClassVar[bool] = True
    metrics: ClassVar[dict[str, str]] = {
        "cpu_peak_pct": "highest single-core load seen",
        "cpu_mean_pct": "mean load across all cores and samples",
        "any_core_saturated_share": "share of samples with at least one core >= 90 %",
        "all_cores_saturated_share": "share of samples with every online core >= 90 %",
        "warnings_single_core_saturated_share": "share of warnings within one sample of a "
        "sample where some core is >= 90 %",
        "warnings_all_cores_saturated_share": "share of warnings within one sample of a "
        "sample where every core is >= 90 %",
        "ram_used_mb_max": "peak RAM used (MB)",
        "temp_max_c": "hottest temperature reading (C)",
        "power_in_mean_mw": "mean input power (mW)",
        "nvenc_active": "true when tegrastats shows NVENC load or clock while recording",
    }

    def launch(self, plan) -> ProbeLaunch:
        return ProbeLaunch(
            name=self.name,
            argv=[
                plan.host.labkit_tegrastats,
                "--interval",
                str(plan.interval_ms),
                "--logfile",
                "{run_dir}/" + LOG,
            ],
            log="tegrastats.out",
            stop_signal="TERM",
        )

    def check(self, facts: dict[str, Any]) -> str | None:
        if facts.get("tegrastats"):
            return None
        return "tegrastats not found"

    def parse(self, run_dir: Path):
        from labkit.parse import read_tegrastats

        return cached_table(run_dir, PARQUET, LOG, read_tegrastats)

    def run_metrics(self, table, events, run_record: dict[str, Any]) -> dict[str, Any]:
        if table is None or not len(table):
            return {}
        from labkit.analysis.metrics import _coincidence, _tegrastats_metrics

        out = _tegrastats_metrics(table)
        if events is not None and "kind" in getattr(events, "columns", ()):
            out.update(_coincidence(events, table))  # LeRobot's slow-loop warnings
        return out
