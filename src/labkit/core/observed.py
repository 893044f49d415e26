"""What a probe is told about the run it observed, whatever the workload.

A probe computes its metrics from its own samples and this context: the workload's late
events (when "the loop was late", with the rate it ran at when known), which thread is the
loop, how the workload's function names map to loop stages (``StageMap``), its device
threads, and the run's record; and what a profiling probe found of the loop
(``LoopProfile``: py-spy's late stretches, which the threads probe reads its samples over).
So the tegrastats coincidence and the threads / py-spy metrics work for every workload kind
that declares its late event, without a probe knowing any workload or another probe.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

# (stage, patterns) in priority order; a pattern matches a frame name ending with it, or,
# for those starting with "~", containing it (case-insensitive)
StageRules = tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class StageMap:
    """A workload's function names -> the stages of its loop (for the py-spy profile)."""

    # the function the loop runs in: samples outside it are not the loop's
    loop_function: str
    rules: StageRules
    # every stage, in the report's order ("other": inside the loop, no rule matched)
    stages: tuple[str, ...]
    # the stage that is the loop waiting for its next tick (splits late stretches)
    sleep: str = "sleep"
    # the stage that waits on a device (LeRobot: ``camera_read``): a late stretch spent
    # mostly in it is charged to the device whose thread ran long; None: no such stage
    device_stage: str | None = None


def ordered_stages(rules: StageRules) -> tuple[str, ...]:
    """Every stage of ``rules`` in their order, then ``other`` (inside the loop, no rule)."""
    names = [stage for stage, _ in rules]
    return (*names, *(() if "other" in names else ("other",)))


@dataclass(frozen=True)
class LoopStretch:
    """The loop thread's time between two sleeps (a late one: longer than its budget)."""

    start: pd.Timestamp
    end: pd.Timestamp
    stages: dict[str, float]  # stage -> seconds

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass
class LoopProfile:
    """What a profiler (the ``pyspy`` probe) found of the loop thread, told to the other
    probes: the threads probe reads which thread was pegged, and which device thread ran
    long, over the late stretches it names."""

    source: str  # the probe that profiled the loop
    # the loop thread's segments (``start``, ``end``, ``stage``, ``seconds``), for figures;
    # None without the workload's stage map (the profiler's own CPU is still known)
    segments: pd.DataFrame | None = None
    # per late event whose time is known, in order: the late stretch it points to (None:
    # none found in the profile)
    matched: list[LoopStretch | None] = field(default_factory=list)
    # the profiler's own CPU over its running time, percent of one core (None: unknown)
    cpu_pct: float | None = None


@dataclass
class Observed:
    """One run as a probe sees it (``Probe.run_metrics``)."""

    run_dir: Path
    # the run's ``labkit.records.model.RunRecord`` (read by attribute; records/ sits
    # above core/, so it is not imported here)
    record: Any
    # the workload's late events: ``time`` (naive, the target's local clock; NaT when the
    # log gives none), the window it covers (``start`` .. ``end``: LeRobot logs whole
    # seconds, so its warning covers the second it names) and ``hz`` (the rate the late
    # iteration ran at; NaN when unknown). None: the workload's log is missing
    late: pd.DataFrame | None
    duration_s: float | None = None
    # the loop's thread name; None: the main thread of the workload's own process
    loop_thread: str | None = None
    stages: StageMap | None = None
    # the loop's period budget (1 / its target rate, seconds) when the workload knows it
    budget_s: float | None = None
    # a thread name -> the device it serves (a camera's read thread -> the camera), for
    # per-device metrics; None for workloads without such threads
    device_of_thread: Callable[[str], str | None] | None = None
    devices: list[str] = field(default_factory=list)
    # the devices' own frame rate (per-frame cost), when the workload knows it
    device_fps: float | None = None
    # the loop profile a profiling probe found (``Probe.profile``), set before the probes'
    # metrics are computed; None: no probe profiled the loop
    profile: LoopProfile | None = None

    @property
    def late_windows(self) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
        """(start, end) of each late event whose time is known."""
        if self.late is None or len(self.late) == 0:
            return []
        known = self.late.dropna(subset=["start", "end"])
        return list(zip(known["start"], known["end"], strict=True))

    @property
    def late_times(self) -> pd.Series:
        """The late events' timestamps that are known."""
        if self.late is not None:
            return self.late["time"].dropna()
        # on use: pandas, which the run path does not load (the CLI's start-up time)
        from labkit.core.late import no_late_events  # noqa: PLC0415

        return no_late_events()["time"]
