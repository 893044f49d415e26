"""The ``pyspy`` probe: ``py-spy record`` on the workload (the standard sampling profiler
for Python), every thread's Python stack ``rate`` times a second, idle ones included.

py-spy lives in labkit's work dir on the host (``<workdir>/tools/bin/py-spy``), put there by
``invoke setup-host`` or on first use: ``pip`` on the host when it reaches PyPI, else the
workstation pushes its own py-spy when the machine types match (``labkit.probes.pyspy.install``).
A host without it skips the probe with a note in the run record; the run goes on. The
wrapper ``pyspy_run.py`` records py-spy's start time so its trace lands on the host's clock.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from labkit.core.facts import Fact
from labkit.core.metrics import Metric, declared
from labkit.core.observed import LoopProfile, Observed
from labkit.errors import LabkitError
from labkit.probes.base import Probe, ProbeLaunch
from labkit.probes.pyspy.facts import PYSPY_FACT
from labkit.probes.pyspy.install import ensure_pyspy
from labkit.probes.tools import pyspy_path

SOURCE = "pyspy"


# where the loop thread's time goes and what the late iterations spent it on: from the
# workload's stage map (``Observed.stages``), none for a workload without one
METRICS: dict[str, Metric] = declared(
    SOURCE,
    Metric("warnings_matched_share", "share of late events matched to a late stretch of "
           "the loop thread in the profile", kind="share", per_warning=True, needs_stages=True),
)  # fmt: skip
# per stage of the workload's stage map: prefix -> the declaration each stage's metric
# copies (LeRobot: ``main_thread_stage_share_camera_read``, ``warn_stage_share_robot_io``)
STAGE_PATTERNS: dict[str, Metric] = declared(
    SOURCE,
    Metric("main_thread_stage_share_", "share of the loop thread's time in the stage",
           kind="share", needs_stages=True),
    Metric("warn_stage_share_", "share of late iterations' time in the stage",
           kind="share", per_warning=True, needs_stages=True),
)  # fmt: skip

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
    stage_patterns: ClassVar[dict[str, Metric]] = STAGE_PATTERNS
    # "Where the loop's time goes" (report.md.j2 here): its stages, with the threads
    # probe's per-thread CPU and cameras when that ran too
    report_section: ClassVar[str | None] = "report.md.j2"
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
        """py-spy's stack segments (a cut trace: none, with ``attrs["error"]``)."""
        trace = Path(run_dir) / TRACE
        if not trace.exists() or trace.stat().st_size == 0:
            return None
        return _stages().read_profile(trace, Path(run_dir) / META)

    def profile(self, table, run: Observed) -> LoopProfile | None:
        """The loop thread's stages and late stretches, by the workload's stage map, for
        the other probes (the threads probe's pegged thread and busy device); without a
        stage map only py-spy's own CPU (the probes' own CPU counts it)."""
        if table is None or table.attrs.get("error"):
            return None
        if run.stages is None:
            return LoopProfile(source=self.name, cpu_pct=own_cpu_pct(run.run_dir))
        return _stages().loop_profile(table, run, self.name, own_cpu_pct(run.run_dir))

    def run_metrics(self, table, run: Observed) -> dict[str, Any]:
        """Stage shares of the loop thread overall and in its late stretches, for any
        workload that maps its functions to stages; a cut trace says why there are none."""
        if table is not None and table.attrs.get("error"):
            return {"profile_note": table.attrs["error"]}
        found = run.profile
        if found is None or found.source != self.name:  # not measured through measure_run
            found = self.profile(table, run)
        if found is None or run.stages is None:
            return {}
        return _stages().profile_metrics(found, run.stages)


def own_cpu_pct(run_dir: Path) -> float | None:
    """py-spy's CPU over its running time (percent of one core), from the wrapper's
    ``pyspy-meta.json``; None when it is missing or says nothing."""
    try:
        meta = json.loads((Path(run_dir) / META).read_text())
        span = float(meta.get("end_epoch") or 0) - float(meta.get("start_epoch") or 0)
        cpu = float(meta.get("cpu_s") or 0.0)
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    return cpu / span * 100 if span > 0 else None


def _stages():
    """The stage analysis, imported on use: it needs pandas, which the run path does not
    load (the CLI's start-up time)."""
    from labkit.probes.pyspy import stages  # noqa: PLC0415 -- pandas off the run path

    return stages
