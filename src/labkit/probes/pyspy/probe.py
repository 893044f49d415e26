"""The ``pyspy`` probe: ``py-spy record`` on the workload (the standard sampling profiler
for Python), every thread's Python stack ``rate`` times a second, idle ones included.

py-spy lives in labkit's work dir on the host (``<workdir>/tools/bin/py-spy``), put there by
``invoke setup-host`` or on first use: ``pip`` on the host when it reaches PyPI, else the
workstation pushes its own py-spy when the machine types match (``labkit.probes.pyspy.install``).
A host without it skips the probe with a note in the run record; the run goes on. The
wrapper ``pyspy_run.py`` records py-spy's start time so its trace lands on the host's clock.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from labkit.core.facts import Fact
from labkit.core.metrics import Metric, declared
from labkit.errors import LabkitError
from labkit.probes.base import Probe, ProbeLaunch
from labkit.probes.pyspy.facts import PYSPY_FACT
from labkit.probes.pyspy.install import ensure_pyspy
from labkit.probes.tools import pyspy_path

STAGES = ("camera_read", "robot_io", "teleop", "dataset", "processors", "sleep", "other")

SOURCE = "pyspy"


# where the loop thread's time goes, and what the late iterations waited on: all from the
# workload's stage map (``labkit.analysis.stages``), none for a workload without one
METRICS: dict[str, Metric] = declared(
    SOURCE,
    *(
        Metric(f"main_thread_stage_share_{s}", f"share of the loop thread's time in {s}",
               kind="share", needs_stages=True)
        for s in STAGES
    ),
    *(
        Metric(f"warn_stage_share_{s}", f"share of late iterations' time in {s}",
               kind="share", per_warning=True, needs_stages=True)
        for s in STAGES
    ),
    Metric("warnings_matched_share", "share of late events matched to a late stretch of "
           "the loop thread in the profile", kind="share", per_warning=True, needs_stages=True),
    Metric("warn_camera_top", "the camera whose read ran long in most camera-bound late "
           "iterations (none when no camera stands out)", kind="category",
           aggregate="categorical", per_warning=True, needs_stages=True),
)  # fmt: skip
# per camera: prefix -> the declaration each camera's metric copies
PATTERNS: dict[str, Metric] = declared(
    SOURCE,
    Metric(
        "warn_camera_share_",
        "share of late events whose late iteration waited on this camera",
        kind="share",
        per_warning=True,
        needs_stages=True,
    ),
)

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
    metrics: ClassVar[dict[str, Metric]] = METRICS
    metric_patterns: ClassVar[dict[str, Metric]] = PATTERNS
    # L4T ships kernel.yama.ptrace_scope=1: py-spy, started beside the workload rather than
    # as its parent, may not read it. Lowered for the run, put back after it.
    needs_sysctl: ClassVar[dict[str, str]] = {"kernel.yama.ptrace_scope": "0"}

    @classmethod
    def facts(cls, host: Any) -> list[Fact]:
        return [PYSPY_FACT]

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

    def prepare(self, target, facts: dict[str, Any], workdir: str, say) -> None:
        """py-spy into the work dir when the host has none (pip there, else pushed)."""
        if facts.get("pyspy"):
            return
        try:
            path, how = ensure_pyspy(target, facts, workdir, say)
        except (LabkitError, OSError) as exc:  # the run never fails for its profiler
            path, how = None, f"installing it failed: {str(exc).splitlines()[0]}"
        facts["pyspy"] = path
        facts["pyspy_install"] = how
        say(f"{target.name}: py-spy {how}" + (f" ({path})" if path else ""))

    def check(self, facts: dict[str, Any]) -> str | None:
        if facts.get("pyspy"):
            return None
        why = facts.get("pyspy_install") or "not on PATH nor in the work dir's tools/bin"
        return f"py-spy is not on the host ({why}); the run goes on without the py-spy profile"

    def parse(self, run_dir: Path):
        # pandas off the run path: start-up
        from labkit.parse.pyspy import read_pyspy  # noqa: PLC0415

        trace = Path(run_dir) / TRACE
        if not trace.exists() or trace.stat().st_size == 0:
            return None
        return read_pyspy(trace, Path(run_dir) / META)
