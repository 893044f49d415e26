"""The ``pyspy`` probe: ``py-spy record`` on the workload (the standard sampling profiler
for Python), every thread's Python stack ``rate`` times a second, idle ones included.

py-spy lives in labkit's work dir on the host (``<workdir>/tools/bin/py-spy``), put there by
``invoke setup-host`` or on first use: ``pip`` on the host when it reaches PyPI, else the
workstation pushes its own py-spy when the machine types match (``labkit.probes.install``).
A host without it skips the probe with a note in the run record; the run goes on. The
wrapper ``pyspy_run.py`` records py-spy's start time so its trace lands on the host's clock.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from labkit.probes.base import Probe, ProbeLaunch
from labkit.probes.threads import pyspy_path

HERE = Path(__file__).parent
TRACE = "pyspy.json"
META = "pyspy-meta.json"
PARQUET = "pyspy.parquet"


class PySpyOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rate: int = Field(default=50, ge=1, le=1000)


class PySpy(Probe):
    name: ClassVar[str] = "pyspy"
    Options: ClassVar[type[BaseModel]] = PySpyOptions
    metrics: ClassVar[dict[str, str]] = {}  # the stage metrics: labkit.analysis.stages

    def launch(self, plan) -> ProbeLaunch:
        return ProbeLaunch(
            name=self.name,
            argv=[
                "python3",
                "{run_dir}/pyspy_run.py",
                "--pyspy",
                pyspy_path(plan),
                "--pid",
                "{pid}",
                "--rate",
                str(self.options.rate),
                "--out",
                "{run_dir}/" + TRACE,
                "--meta",
                "{run_dir}/" + META,
            ],  # fmt: skip
            attach=True,
            log="pyspy.out",
            files={"pyspy_run.py": (HERE / "pyspy_run.py").read_text()},
            stop_signal="INT",
        )

    def check(self, facts: dict[str, Any]) -> str | None:
        if facts.get("pyspy"):
            return None
        return (
            "py-spy is not on the host (not on PATH nor in the work dir's tools/bin), and "
            "could not be installed: `invoke setup-host` installs it (pip on the host, or "
            "pushed from this workstation); the run goes on without the py-spy profile"
        )

    def parse(self, run_dir: Path):
        from labkit.parse.pyspy import read_pyspy

        trace = Path(run_dir) / TRACE
        if not trace.exists() or trace.stat().st_size == 0:
            return None
        return read_pyspy(trace, Path(run_dir) / META)
