"""What a workload is: the program an experiment runs, with its parameters, command,
expected duration, progress signal, log parser and metrics.

A workload kind is one package under ``labkit.workloads`` with a :class:`Workload`
subclass, registered in ``labkit.registry.WORKLOADS``. A playbook names its kind
(``workload: {kind: command, ...}``; a playbook with ``record:`` and no ``workload:``
runs ``lerobot-record``); the kind validates its own part of the playbook
(``from_playbook``) and can be rebuilt from a run record (``from_record``) so a report
parses old runs without the playbook that made them.
"""

from __future__ import annotations

import abc
import contextlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel

from labkit.core.facts import Fact
from labkit.core.metrics import Metric
from labkit.core.observed import Observed, StageMap
from labkit.core.params import Param
from labkit.errors import PlaybookError
from labkit.records.model import RunRecord, WorkloadInfo

# the longest a workload may be expected to run (a day): beyond it, a typo
MAX_DURATION_S = 86400


class PlanError(ValueError):
    """The plan cannot be turned into this workload's command on this host (the message
    says why; the plan adds the experiment and the host)."""


class NotForHost(ValueError):
    """A parameter value the host cannot take (``key``: which parameter); the plan says
    where it was set (the playbook's line, or ``--set``)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class Tally:
    """What a run's summary counts, as a batch's lines and table and ``invoke runs`` show
    it (``Workload.tally``)."""

    header: str  # the batch table's count column: "warnings", "slow events"
    noun: str  # the list of runs' name for them ("slow-loop warnings"); "": none counted
    count: float | None
    floor_hz: float | None = None  # the lowest loop rate among them (the table's min Hz)
    has_floor: bool = False  # the kind has such a rate: the table keeps its column
    # the batch's line for the finished run; None: its one-line summary (labkit.measure)
    line: str | None = None


@dataclass(frozen=True)
class LateWords:
    """How the report's words name a workload's late events (its figures of them, whose
    loop rates its ``late_timeline`` gives): LeRobot's are its slow-loop warnings."""

    one: str = "late event"  # "1 warning"
    many: str = "late events"  # "11 warnings"
    full: str = "late events"  # a figure's title and alt text: "slow-loop warnings"
    at: str = "the late event"  # "loop rate at the warning"
    warned: str = "late"  # "warned loop rates"


class HandRuns(abc.ABC):
    """A workload's runs recorded by hand (without labkit), as ``invoke import`` finds them
    in a folder: ``<experiment><suffix>`` is the workload's log and, beside it,
    ``<experiment><monitor_suffix>`` tegrastats' samples (optional). The kind says how its
    log is checked and what run id the pair gets; the importer names no workload."""

    suffix: ClassVar[str]  # the workload's log: ``<experiment><suffix>``
    monitor_suffix: ClassVar[str] = "_tegrastats.log"
    # where an imported run keeps tegrastats' samples (the tegrastats probe's file)
    monitor_log: ClassVar[str] = "tegrastats.log"

    @abc.abstractmethod
    def check(self, log: Path, monitor: Path | None) -> None:
        """Raise ``LabkitError`` (naming the file and what was expected) unless the logs
        hold what their names say; called on every pair before anything is written."""

    @abc.abstractmethod
    def run_id(self, log: Path, monitor: Path | None) -> str:
        """The pair's run id: the same logs imported twice get the same one."""


class Workload(abc.ABC):
    """One kind of program an experiment runs; subclasses fill in every method."""

    kind: ClassVar[str]
    # the run-dir file that receives the workload's stdout+stderr
    log: ClassVar[str] = "output.log"
    # the parsed events, written beside the log (rebuilt when the log is newer)
    events_file: ClassVar[str] = "events.parquet"
    # what the progress line calls the counted events ("slow-loop warnings")
    progress_label: ClassVar[str] = "events"
    progress_unit: ClassVar[str] = ""

    # -- configuration ---------------------------------------------------------------
    params: dict[str, Param]  # the parameter registry: name -> Param (types, ranges)
    # metric name -> its declaration (every run has ``duration_s``: the exposure of counts)
    metrics: dict[str, Metric]
    # the event meaning "the loop was late" (None: the workload declares none); probes
    # relate their samples to these events' times
    late_event: str | None = None
    # the loop's thread name (None: the main thread of the workload's own process)
    loop_thread: str | None = None
    # the workload's function names -> loop stages (for the py-spy profile), when known
    stage_map: StageMap | None = None
    # the metrics that say how well the workload ran (its late events' rate, its loop
    # rate): an experiment that only adds probes is compared with the one it observes on
    # these (the probes' observer effect); empty: the late event's rate, else every rate
    headline: ClassVar[tuple[str, ...]] = ()
    # True: its parameters are the playbook's ``record:`` (lerobot-record's); False: it
    # declares them under ``workload.params`` and ``record:`` must stay empty
    record_section: ClassVar[bool] = False
    # the parameter an experiment's ``duration_s`` sets (None: the kind has none)
    duration_param: ClassVar[str | None] = None
    # how messages name it: what runs ("the recording did not finish", "the workload ran
    # past 90 s"), its program ("lerobot-record exited 1"), its command line's label in
    # ``--check`` ("record:") and in ``invoke plan`` ("record command:")
    noun: ClassVar[str] = "the workload"
    program_noun: ClassVar[str] = "the workload"
    check_label: ClassVar[str] = "command:"
    plan_label: ClassVar[str] = "workload command (bash in the run dir):"
    # the inventory variables this kind owns (a pydantic model of ``labkit_*`` fields, their
    # types and defaults): checked with every host's variables when the inventory is read,
    # read as the host's attributes (``plan.host.labkit_lerobot_record``); None: none
    host_vars: ClassVar[type[BaseModel] | None] = None
    # the playbook's top-level keys this kind owns (a pydantic model: validated with the
    # playbook, their typos named against them; read by ``from_playbook`` from its
    # document): lerobot-record's ``lerobot_version``; None: none
    playbook_vars: ClassVar[type[BaseModel] | None] = None
    # the one of them that holds this kind's parameters for that host alone (between the
    # experiment's and ``--set``; checked against ``params`` at its line): ``labkit_record``
    host_params_var: ClassVar[str | None] = None
    # True: on a simulated host the simulator plays this workload, so the host settings
    # it simulates (governor, power mode, clocks, sysctl) act on it; False: it runs on the
    # machine as it is, and comparing such settings there measures nothing
    simulated: ClassVar[bool] = False

    @classmethod
    def from_playbook(cls, raw: dict[str, Any], doc, base_dir: Path) -> Workload:
        """The kind from the playbook's ``workload:`` block (``raw``; errors name file,
        line and field through ``doc``, its YAML source); relative files are found in
        ``base_dir``. A kind without settings of its own takes no key but ``kind``."""
        extra = [k for k in raw if k != "kind"]
        if extra:
            raise doc.error(
                f"unknown key {extra[0]!r}; a {cls.kind} workload takes no settings here",
                ("workload", extra[0]),
                PlaybookError,
            )
        return cls()

    @classmethod
    def facts(cls, host: Any) -> list[Fact]:
        """The host facts this kind needs (its tool's path, its version), gathered with
        the host's own in one round trip; ``host``: the host's variables. None here."""
        return []

    @classmethod
    def host_devices(cls, host: Any) -> dict[str, str]:
        """The device nodes its host variables name (what -> path: the preflight checks
        those a run uses, the simulated Jetson creates them); none unless a kind says."""
        return {}

    def metric_devices(self, params: dict[str, Any]) -> list[str]:
        """The device names an experiment with ``params`` records, for the probes'
        per-device metrics (``camera_read_ms_p95_<camera>``); none unless a kind says."""
        return []

    # what the workload adds to the report (data: ``report/`` renders it, a plug-in
    # never imports ``report/``): a Jinja2 template file in the plug-in's package,
    # included in the quantitative summary with the report's context
    report_section: ClassVar[str | None] = None
    # False: that section shows the workload's metrics, so the generic table of them is
    # left out
    report_metrics_table: ClassVar[bool] = True
    # the recommendation's line on what the recommended configuration recorded (a
    # template file in its package; context: ``r`` its row, ``b`` the baseline's or None,
    # ``baseline``, ``generic_outcome`` the skeleton's own line); None: that line
    report_outcome: ClassVar[str | None] = None
    # how the report's words (its figures) name its late events
    late_words: ClassVar[LateWords] = LateWords()
    # the figures the report draws for it, by name (``labkit.report.figures.FIGURES``)
    report_figures: ClassVar[tuple[str, ...]] = ("event_values",)
    # row values the report's table of experiments shows beside each (``target_hz``)
    setup_columns: ClassVar[tuple[str, ...]] = ()
    # the per-run columns of the report's list of runs (default: its counts)
    run_columns: ClassVar[tuple[str, ...]] = ()

    def defaults(self) -> dict[str, Any]:
        """Parameter values when neither playbook nor experiment set them."""
        return {}

    def target_hz(self, params: dict[str, Any]) -> float | None:
        """The loop rate (Hz) a run with these resolved ``params`` aims at: the report's
        target column, the recommendation's tie-break (how near its target the slowest
        late iteration stayed) and the loop's budget (``loop_budget_s``); None: the kind
        declares no target rate."""
        return None

    def run_metrics_shown(self) -> list[str]:
        """The metrics the report's list of runs shows (``run_columns``, else counts)."""
        if self.run_columns:
            return [n for n in self.run_columns if n in self.metrics]
        return [n for n, m in self.metrics.items() if m.kind == "count"]

    def late_count(self) -> str | None:
        """The metric counting a run's late events (``<late_event>_count``): a run with
        none has nothing for the metrics that describe them (``Metric.per_warning``).
        None: the kind declares no such count."""
        name = f"{self.late_event}_count"
        return name if self.late_event and name in self.metrics else None

    def headline_metrics(self) -> list[str]:
        """The declared metrics the observer effect is measured on (``headline``)."""
        if self.headline:
            return [n for n in self.headline if n in self.metrics]
        late = f"{self.late_event}_per_min"
        if late in self.metrics:
            return [late]
        return [n for n, m in self.metrics.items() if m.kind == "rate" and m.count_of]

    @classmethod
    def tally(cls, summary: dict[str, Any]) -> Tally:
        """What the run record's ``summary`` counts: the first of its ``events``."""
        events = summary.get("events") or []
        if not events:
            return Tally("events", "", None)
        first = events[0]
        return Tally(f"{first} events", first, summary.get(f"{first}_count"))

    def hand_runs(self) -> HandRuns | None:
        """How ``invoke import`` reads this kind's runs recorded by hand (None: it
        imports none)."""
        return None

    def record(self) -> dict[str, Any]:
        """What the run record keeps of the workload (enough for ``from_record``)."""
        return {"kind": self.kind, "log": self.log}

    @classmethod
    def from_record(cls, info: WorkloadInfo) -> Workload:
        """The workload again from its section of a run record (a kind that keeps more
        than ``kind`` and ``log`` declares its own section model, a ``WorkloadInfo``)."""
        return cls()

    # -- planning ----------------------------------------------------------------------
    @abc.abstractmethod
    def command(self, plan) -> list[str]:
        """The argv the supervisor starts (in its own process group, cwd = the run dir)."""

    def files(self, plan) -> dict[str, str]:
        """Run-dir file name -> text to place there before the workload starts."""
        return {}

    @abc.abstractmethod
    def expected_duration_s(self, plan) -> float:
        """How long it should run (progress and the watchdog: 1.5 x + 60 s)."""

    def check_plan(self, plan) -> None:
        """Raise ``ConfigError`` when the plan cannot be turned into a command."""
        self.command(plan)
        self.expected_duration_s(plan)

    def version(self, host: Any) -> Any:
        """The version of its program a plan for ``host`` (its variables) is made for, kept
        as the plan's ``version``; None: the kind is not versioned."""
        return None

    def fit(self, plan, asked: dict[str, str]) -> dict[str, Any]:
        """The plan's parameters made to fit its host (its devices, its program's
        version); ``asked``: parameter -> where it was set (playbook, experiment, host,
        ``--set``). Raises ``NotForHost`` for a value the host cannot take and
        ``PlanError`` when no command fits. As they are unless a kind says otherwise."""
        return plan.params

    def versions(self, plan) -> dict[str, str]:
        """The versions of its programs the plan is made for (program -> version: the run
        record keeps them as ``<program>_version``; a simulated host emulates them)."""
        return {}

    def describe(self, plan) -> list[str]:
        """Lines for ``invoke plan`` (what the workload will do)."""
        return []

    def devices(self, plan) -> dict[str, str]:
        """The host's device nodes this workload uses (what -> path), checked by the
        preflight; none unless a kind says so (lerobot-record: its arms and cameras)."""
        return {}

    def preflight(self, plan, facts: dict[str, Any]) -> list[str]:
        """What the host lacks for this workload (empty: good to go)."""
        return []

    # -- while it runs -------------------------------------------------------------------
    def progress(self, text: str) -> tuple[int, float | None]:
        """(events in ``text``, the last value among them): ``text`` is a chunk of complete
        lines of the log; the engine adds the counts of successive chunks."""
        return 0, None

    # -- afterwards --------------------------------------------------------------------
    @abc.abstractmethod
    def parse(self, run_dir: Path):
        """The events table (``pandas.DataFrame``) of a pulled run, None without a log."""

    @abc.abstractmethod
    def run_metrics(self, events, duration_s: float | None = None) -> dict[str, Any]:
        """The workload's metrics for one run (every name of ``metrics``; None: unknown);
        ``duration_s``: the seconds it recorded (``recorded_seconds``)."""

    def late_times(self, events):
        """When the late events happened (``pandas.Series`` of naive times on the
        target's clock; NaT where the log does not say); none without a late event."""
        return _late().no_late_events()["time"]

    def late_events(self, events):
        """The late events of a run (``labkit.core.observed.Observed.late``): ``time``
        and ``hz`` (NaN: unknown); None when the log is missing."""
        if events is None:
            return None
        return _late().late_table(self.late_times(events))

    def late_timeline(self, events):
        """(seconds since it started, loop rate in Hz) of each late event, as two
        ``numpy`` arrays, for the report's figures of them (``report_figures``:
        ``slow_loop``); None when the kind draws none (or the log is missing)."""
        return None

    def recorded_seconds(self, run_dir: Path, record: RunRecord, events) -> float | None:
        """Seconds the workload recorded (the exposure of its counts): the supervisor's
        ``workload_s``, from the record or the run's ``status.json``."""
        return run_seconds(run_dir, record)

    def loop_budget_s(self, record: RunRecord) -> float | None:
        """The loop's period in seconds (1 / its target rate, ``target_hz``) for the run
        ``record`` names: a stretch of the loop longer than this is late. None: not known."""
        hz = self.target_hz(record.params)
        return 1.0 / hz if hz else None

    def observe(self, run_dir: Path, record: RunRecord, events) -> Observed:
        """What the probes are told about a run (late events, loop thread, stages)."""
        return Observed(
            run_dir=Path(run_dir),
            record=record,
            late=self.late_events(events),
            duration_s=self.recorded_seconds(run_dir, record, events),
            loop_thread=self.loop_thread,
            stages=self.stage_map,
            budget_s=self.loop_budget_s(record),
        )

    def summary(self, metrics: dict[str, Any], events) -> dict[str, Any]:
        """What a run's record keeps as its ``summary`` from this workload's metrics."""
        return {}

    def summary_line(self, metrics: dict[str, Any]) -> list[str]:
        """The parts of a run's one-line summary this workload gives (counts, rates)."""
        return []


def _late():
    """The late-events table code, imported on use: it needs pandas, which the run path
    (a playbook read and planned) must not load for the CLI's start-up time."""
    from labkit.core import late  # noqa: PLC0415 -- pandas off the run path: start-up

    return late


def workload_seconds(run_dir: Path) -> float | None:
    """How long the workload ran, from the supervisor's ``status.json``."""
    try:
        status = json.loads((Path(run_dir) / "status.json").read_text())
    except (OSError, ValueError):
        return None
    if isinstance(status.get("workload_s"), (int, float)) and status["workload_s"] > 0:
        return float(status["workload_s"])
    return None


def run_seconds(run_dir: Path, record: RunRecord) -> float | None:
    """The exposure of a run's counts: the supervisor's ``workload_s`` as the run record
    kept it, else as ``status.json`` has it (None for an imported run)."""
    kept = record.remote_status.get("workload_s")
    return float(kept) if isinstance(kept, (int, float)) and kept > 0 else workload_seconds(run_dir)


def count_matches(pattern: re.Pattern, text: str) -> tuple[int, float | None]:
    """(lines matching ``pattern``, the float of its first group on the last of them)."""
    n, last = 0, None
    for m in pattern.finditer(text):
        n += 1
        with contextlib.suppress(TypeError, ValueError):
            last = float(m.group(1)) if m.groups() else last
    return n, last
