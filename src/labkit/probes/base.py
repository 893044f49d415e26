"""What a probe is: a sampler that runs beside the workload, with its own command, log,
parser and metrics.

A probe kind is one package under ``labkit.probes`` with a :class:`Probe` subclass,
registered in ``labkit.registry.PROBES``. The engine asks each probe the playbook names for
its :class:`ProbeLaunch` (what the target-side supervisor starts and how it stops it),
runs ``check`` in the preflight, and once the run is back, ``parse`` and ``run_metrics``
turn its log into numbers. A probe that cannot run (``check`` says why) fails the
preflight when it is ``required``, else it is skipped and the run record says why.
"""

from __future__ import annotations

import abc
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from labkit.core.facts import Fact
from labkit.core.metrics import Metric
from labkit.core.observed import LoopProfile, Observed


@dataclass(frozen=True)
class ProbeLaunch:
    """What the target-side supervisor needs to run one probe (JSON in ``spec.json``)."""

    name: str
    # may contain the literal "{pid}" (the workload's pid, attach=True) and "{run_dir}"
    argv: list[str]
    # False: started before the workload; True: started once the workload runs, with its pid
    attach: bool = False
    # the run-dir file that receives the probe's stdout+stderr ("" = <name>.out)
    log: str = ""
    # run-dir file name -> text placed there before the probe starts (e.g. a sampler script)
    files: dict[str, str] = field(default_factory=dict)
    # sent to the probe's process group at the end (then KILL after 10 s)
    stop_signal: str = "TERM"

    def __post_init__(self) -> None:
        if self.stop_signal not in ("INT", "TERM"):
            raise ValueError(f"probe {self.name}: stop_signal must be INT or TERM")
        if not self.argv:
            raise ValueError(f"probe {self.name}: empty argv")

    @property
    def log_file(self) -> str:
        return self.log or f"{self.name}.out"

    def spec(self) -> dict[str, Any]:
        """The JSON the supervisor reads (``log`` always filled in)."""
        return {**asdict(self), "log": self.log_file}

    def shown(self, run_dir: str, pid: str = "<workload pid>") -> list[str]:
        """The argv as ``invoke plan`` shows it (placeholders filled where known)."""
        return [a.replace("{run_dir}", run_dir).replace("{pid}", pid) for a in self.argv]


class NoOptions(BaseModel):
    """A probe without options: ``probe_options: {<name>: {}}`` or nothing."""

    model_config = ConfigDict(extra="forbid")


class Probe(abc.ABC):
    """A sampler beside the workload; subclasses set the class attributes and methods."""

    name: ClassVar[str]
    # metric name -> its declaration (unit, kind, how runs combine, better direction)
    metrics: ClassVar[dict[str, Metric]] = {}
    # per-device metrics: name prefix -> the declaration each device's metric copies
    # (``camera_read_ms_p95_`` -> ``camera_read_ms_p95_<camera>``)
    metric_patterns: ClassVar[dict[str, Metric]] = {}
    # per-stage metrics: name prefix -> the declaration each stage of the workload's stage
    # map copies (``warn_stage_share_`` -> ``warn_stage_share_camera_read`` for LeRobot);
    # a workload without a stage map has none
    stage_patterns: ClassVar[dict[str, Metric]] = {}
    # metrics named after what a run finds (runq: its busiest threads): name prefix -> the
    # declaration each copies; the names come from the runs' metrics, not the playbook
    metric_families: ClassVar[dict[str, Metric]] = {}
    # True: a host where it cannot run fails the preflight; False: it is skipped with a note
    required: ClassVar[bool] = False
    # the host's sysctl values the probe needs to observe (py-spy: ptrace allowed),
    # applied for the run and put back like any setting; an observation, not a treatment
    needs_sysctl: ClassVar[dict[str, str]] = {}
    # what the probe adds to the report (data: ``report/`` renders it, a plug-in never
    # imports ``report/``): a Jinja2 template file in the probe's package
    report_section: ClassVar[str | None] = None
    # the parquet its parsed table is kept in beside its log (None: not kept)
    parsed_file: ClassVar[str | None] = None
    # the probe's options under ``probe_options: {<name>: {...}}`` (playbook, experiment)
    Options: ClassVar[type[BaseModel]] = NoOptions
    # the inventory variables it owns (a pydantic model of ``labkit_*`` fields: checked
    # with the host's, read as its attributes, as a workload's ``host_vars``); None: none
    host_vars: ClassVar[type[BaseModel] | None] = None

    def __init__(self, options: BaseModel | None = None) -> None:
        self.options = options if options is not None else self.Options()

    @classmethod
    def facts(cls, host: Any) -> list[Fact]:
        """The host facts this probe needs (its tool's path), gathered with the host's own
        in one round trip; ``host``: the host's variables. None here."""
        return []

    @abc.abstractmethod
    def launch(self, plan) -> ProbeLaunch:
        """The probe's command for ``plan`` (host vars, params, settings, run dir)."""

    def prepare(self, target, facts: dict[str, Any], workdir: str, say) -> None:
        """Before the preflight of a real run (never ``--check``): put what the probe needs
        on the host (e.g. install a tool into the work dir), updating ``facts``; most
        probes need nothing."""
        return None

    def check(self, facts: dict[str, Any]) -> str | None:
        """Preflight against the host's facts: None when it can run, else why not."""
        return None

    def parse(self, run_dir: Path):
        """The probe's samples from a pulled run dir (``pandas.DataFrame``), None if absent."""
        return None

    def profile(self, table, run: Observed) -> LoopProfile | None:
        """What this probe found of the loop thread for the other probes (the py-spy
        profile's late stretches), asked of every probe before any computes its metrics;
        most find nothing (None)."""
        return None

    def run_metrics(self, table, run: Observed) -> dict[str, Any]:
        """The probe's metrics for one run: ``table`` from ``parse``, ``run`` what the
        workload says of it (its late events, loop thread, stages) and what a profiling
        probe found of the loop (``run.profile``)."""
        return {}

    def summary(self, metrics: dict[str, Any], table) -> dict[str, Any]:
        """What a run's record keeps as its ``summary`` of this probe (none by default)."""
        return {}

    def summary_line(self, summary: dict[str, Any]) -> list[str]:
        """The parts of a run's one-line summary this probe gives, from the summary."""
        return []
