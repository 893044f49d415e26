"""The ``tegrastats`` probe: NVIDIA's sampler of CPU load and clocks, RAM, temperatures,
power rails and engines (NVENC), started before the workload with ``--logfile``.

It is ``required``: every Jetson has it, and a board where it is missing is a setup
problem the preflight names instead of a run without CPU numbers. Only the tegrastats
this run started is stopped (``tegrastats --stop`` would stop every one on the board).
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from labkit.core.facts import Fact, parse_which
from labkit.core.metrics import Metric
from labkit.core.observed import Observed
from labkit.parse.cached import cached_table
from labkit.probes.base import Probe, ProbeLaunch
from labkit.probes.tegrastats.metrics import METRICS

LOG = "tegrastats.log"
PARQUET = "tegrastats.parquet"


class TegrastatsHostVars(BaseModel):
    """``labkit_tegrastats``: the program on the host (a command or an absolute path)."""

    model_config = ConfigDict(extra="forbid")
    labkit_tegrastats: str = "tegrastats"


class Tegrastats(Probe):
    name: ClassVar[str] = "tegrastats"
    required: ClassVar[bool] = True
    metrics: ClassVar[dict[str, Metric]] = METRICS
    parsed_file: ClassVar[str | None] = PARQUET
    host_vars: ClassVar[type[BaseModel] | None] = TegrastatsHostVars

    @classmethod
    def facts(cls, host: Any) -> list[Fact]:
        """Where tegrastats is (the host's ``labkit_tegrastats``, else on PATH)."""
        tool = getattr(host, "labkit_tegrastats", None) or "tegrastats"
        return [Fact("tegrastats", lambda r, w: f"command -v {shlex.quote(tool)}", parse_which)]

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
        # on use: the parser needs pandas, which the run path does not load (start-up)
        from labkit.parse.tegrastats import read_tegrastats  # noqa: PLC0415

        return cached_table(run_dir, PARQUET, LOG, read_tegrastats)

    def run_metrics(self, table, run: Observed) -> dict[str, Any]:
        if table is None or not len(table):
            return {}
        # on use: pandas, which the run path does not load (the CLI's start-up time)
        from labkit.probes.tegrastats.compute import coincidence, sample_metrics  # noqa: PLC0415

        out = sample_metrics(table)
        out.update(coincidence(run.late_times, table))
        return out

    def summary(self, metrics: dict[str, Any], table) -> dict[str, Any]:
        """The run's CPU load (mean and peak, %) and how many samples it has."""
        out = {
            key: round(metrics[key], 1)
            for key in ("cpu_mean_pct", "cpu_peak_pct")
            if metrics.get(key) is not None
        }
        if table is not None:
            out["samples"] = len(table)
        return out

    def summary_line(self, summary: dict[str, Any]) -> list[str]:
        parts = []
        if "cpu_mean_pct" in summary:
            mean, peak = summary["cpu_mean_pct"], summary.get("cpu_peak_pct")
            parts.append(f"CPU mean {mean:g}%" + ("" if peak is None else f" / peak {peak:g}%"))
        if "samples" in summary:
            parts.append(f"{summary['samples']} tegrastats samples")
        return parts
