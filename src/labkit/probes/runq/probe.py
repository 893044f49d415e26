"""The ``runq`` probe: run-queue waits of the workload's threads, from schedstat.

"The CPU is starved" was inferred from tegrastats' per-core load; the kernel states it
per thread: ``/proc/<pid>/task/<tid>/schedstat`` holds the time each thread ran and the
time it was runnable but waited for a CPU. A stdlib sampler (``runq_sampler.py``) is
attached to the workload's pid and reads it for every thread of its process tree every
``interval_ms``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from labkit.core.metrics import Metric
from labkit.core.observed import Observed
from labkit.parse.cached import cached_table
from labkit.probes.base import Probe, ProbeLaunch
from labkit.probes.runq import metrics as rm
from labkit.probes.runq.log import read_runq

HERE = Path(__file__).parent
SHARED = HERE.parent / "threads" / "threads_sampler.py"  # the /proc readers it shares with threads
LOG = "runq.log"
PARQUET = "runq.parquet"


class RunqOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    interval_ms: int = Field(default=100, ge=10, le=10_000)


class Runq(Probe):
    name: ClassVar[str] = "runq"
    Options: ClassVar[type[BaseModel]] = RunqOptions
    declared: ClassVar[dict[str, Metric]] = rm.DECLARED
    metrics: ClassVar[dict[str, Metric]] = rm.DECLARED
    metric_families: ClassVar[dict[str, Metric]] = rm.FAMILIES

    def launch(self, plan) -> ProbeLaunch:
        return ProbeLaunch(
            name=self.name,
            argv=[
                "python3",
                "{run_dir}/runq_sampler.py",
                "--pid",
                "{pid}",
                "--interval-ms",
                str(self.options.interval_ms),
            ],  # fmt: skip
            attach=True,
            log=LOG,
            files={
                "runq_sampler.py": (HERE / "runq_sampler.py").read_text(),
                "threads_sampler.py": SHARED.read_text(),
            },
            stop_signal="TERM",
        )

    def check(self, facts: dict[str, Any]) -> str | None:
        return None if facts.get("python") else "python3 not found on the host"

    def parse(self, run_dir: Path):
        return cached_table(run_dir, PARQUET, LOG, read_runq)

    def run_metrics(self, table, run: Observed) -> dict[str, Any]:
        return rm.run_metrics(table, run.late_windows, run.loop_thread)
