"""The runs a report is made of: manifests from the store, metrics from their logs."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from labkit.analysis.clocks import SLOW_BUSY, slow_busy_share
from labkit.measure import measure_run
from labkit.records.metrics_cache import source_version, stored_metrics
from labkit.records.model import RunRecord
from labkit.records.shared import SharedRecords, interned
from labkit.records.store import Unreadable, list_runs
from labkit.registry import workload_of
from labkit.workloads import Workload


@dataclass(frozen=True)
class WarnedRates:
    """A run's warned loop rates as sorted distinct values and how many warnings had
    each: what the rate distribution needs of every run (an hour's 720 warnings take
    about as many numbers as the rates they repeat)."""

    hz: np.ndarray
    counts: np.ndarray

    @classmethod
    def of(cls, hz: Any) -> WarnedRates:
        values, counts = np.unique(np.asarray(hz, dtype=float), return_counts=True)
        return cls(values, counts)

    @property
    def total(self) -> int:
        """How many warnings carried a rate."""
        return int(self.counts.sum())

    @classmethod
    def merged(cls, many: list[WarnedRates]) -> WarnedRates:
        """The rates of several runs together."""
        if not many:
            return cls(np.array([]), np.array([], dtype=np.int64))
        values, where = np.unique(np.concatenate([w.hz for w in many]), return_inverse=True)
        counts = np.bincount(where, weights=np.concatenate([w.counts for w in many]))
        return cls(values, counts.astype(np.int64))

    def expanded(self) -> np.ndarray:
        """Every warned rate, sorted (what a box plot of them reads)."""
        return np.repeat(self.hz, self.counts)


@dataclass
class RunData:
    """One run of the store with its metrics (its workload's and probes') and host facts."""

    dir: Path
    manifest: RunRecord
    metrics: dict[str, Any] = field(default_factory=dict)
    # parses the run's logs on first use of a table below: a report keeps every run's
    # metrics but the samples only of the few runs its figures draw
    loader: Callable[[], dict[str, Any]] | None = field(default=None, repr=False, compare=False)
    _tables: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    # what the distribution figure draws of every run, stored with its metrics: the
    # warned rates as their distinct values and counts (a few numbers, not one per
    # warning, times every run of the store)
    warned_rates: WarnedRates | None = field(default=None, compare=False)
    # reads the warnings' times and rates again, for the few runs a figure draws
    warned_loader: Callable[[], tuple[np.ndarray, np.ndarray] | None] | None = field(
        default=None, repr=False, compare=False
    )

    def _table(self, name: str) -> Any:
        if self._tables is None:
            self._tables = self.loader() if self.loader is not None else {}
            if self.loader is not None:
                _keep_few(self)
        return self._tables.get(name)

    def _set(self, name: str, value: Any) -> None:
        self._table(name)
        assert self._tables is not None
        self._tables[name] = value

    def unload(self) -> None:
        """Drop the parsed tables (parsed again on next use)."""
        if self.loader is not None:
            self._tables = None

    @property
    def warned(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(seconds since the recording started, Hz) of the run's slow-loop warnings, in
        order: read again from its stored metrics on each use (only the runs a figure
        draws), None when none were stored."""
        return self.warned_loader() if self.warned_loader is not None else None

    @property
    def loaded(self) -> bool:
        """Whether the run's tables were parsed (for tests of what a report loads)."""
        return self._tables is not None

    @property
    def events(self) -> Any:
        """The workload's parsed events (pandas)."""
        return self._table("events")

    @events.setter
    def events(self, value: Any) -> None:
        self._set("events", value)

    @property
    def teg(self) -> Any:
        """Parsed tegrastats samples (pandas)."""
        return self._table("teg")

    @teg.setter
    def teg(self, value: Any) -> None:
        self._set("teg", value)

    @property
    def deep(self) -> dict:
        """The loop profile's stage-labelled segments (``loop``) and the threads probe's
        samples (``threads``)."""
        return self._table("deep") or {}

    @deep.setter
    def deep(self, value: dict) -> None:
        self._set("deep", value)

    @property
    def late(self) -> Any:
        """The workload's late events (time, hz)."""
        return self._table("late")

    @late.setter
    def late(self, value: Any) -> None:
        self._set("late", value)

    @property
    def workload_events(self) -> Any:
        """The workload's parsed events (a command's: event, line, value, time, text)."""
        return self.events

    @property
    def experiment(self) -> str:
        return self.manifest.experiment

    @property
    def status(self) -> str:
        return self.manifest.status

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    @property
    def host(self) -> str:
        return self.manifest.host.name

    def fact(self, dotted: str) -> Any:
        """``fact.lerobot.version`` -> manifest facts["lerobot"]["version"]."""
        value: Any = self.manifest.facts or {}
        for part in dotted.split(".")[1:]:
            value = value.get(part) if isinstance(value, dict) else None
        return value


def without_late_events(run: RunData) -> bool:
    """Whether the run counted none of its workload's late events (``Workload.late_count``):
    the metrics that describe them (``Metric.per_warning``) say nothing of it."""
    count = workload_of(run.manifest).late_count()
    return count is not None and run.metrics.get(count) == 0


def run_data(
    run_dir: Path, manifest: RunRecord, workload: Workload, keep_tables: bool = False
) -> RunData:
    """One run's metrics, by one path for every workload: its plug-ins'
    (``measure_run``: the workload's, each probe's)."""
    measured = measure_run(run_dir, manifest, workload)
    run = RunData(run_dir, manifest, measured.metrics)
    if keep_tables:
        profile = measured.observed.profile
        run.events, run.teg, run.deep = (
            measured.events,
            measured.tables.get("tegrastats"),
            {
                "loop": profile.segments if profile is not None else None,
                "threads": measured.tables.get("threads"),
            },
        )
        run.late = measured.observed.late
    return run


LOADED_MAX = 16  # runs whose tables stay parsed at once; older ones are dropped
_LOADED: OrderedDict[int, RunData] = OrderedDict()


def _keep_few(run: RunData) -> None:
    """However many runs a figure walks through, at most ``LOADED_MAX`` keep their
    tables: memory stays flat in the number of runs."""
    _LOADED[id(run)] = run
    _LOADED.move_to_end(id(run))
    while len(_LOADED) > LOADED_MAX:
        _, old = _LOADED.popitem(last=False)
        old.unload()


# the code a run's metrics come from: stored metrics made by other code are recomputed
METRIC_SOURCES = (
    "labkit.analysis",
    "labkit.parse",
    "labkit.probes",
    "labkit.workloads",
    "labkit.core",
    "labkit.metric_names",
    "labkit.measure",
    "labkit.registry",
)
FIGURES = "_figures"  # the stored metrics' key for what the figures draw of the run


def analysis_version() -> str:
    """The version stored with each run's metrics (a hash of ``METRIC_SOURCES``)."""
    return source_version(METRIC_SOURCES)


def compute_metrics(run_dir: Path, manifest: RunRecord) -> dict[str, Any]:
    """One run's metrics from its logs (what ``metrics.json`` stores), with what the
    figures draw of it and the thermal threat's clock share."""
    workload = workload_of(manifest)
    run = run_data(run_dir, manifest, workload, keep_tables=True)
    metrics = dict(run.metrics)
    metrics[SLOW_BUSY] = slow_busy_share(run.teg, manifest)
    timeline = workload.late_timeline(run.events)  # LeRobot: its slow-loop warnings
    if timeline is not None:
        secs, hz = timeline
        metrics[FIGURES] = {"warned": [secs.tolist(), hz.tolist()]}
    return metrics


def store_metrics(
    run_dir: Path, manifest: RunRecord, computed: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Compute the run's metrics now (a run just collected or imported) and store them;
    ``computed``: already computed on the run as it is (beside its last round trip)."""
    compute = (
        (lambda: computed) if computed is not None else partial(compute_metrics, run_dir, manifest)
    )
    return stored_metrics(run_dir, analysis_version(), compute)


def _tables(run_dir: Path, manifest: RunRecord) -> dict[str, Any]:
    run = run_data(run_dir, manifest, workload_of(manifest), keep_tables=True)
    return run._tables or {}


# downloads what a run of a shared store's mirror left in the store, before it is read
Fetch = Callable[[Path], None]


def _local(fetch: Fetch | None, read: Callable[..., Any], run_dir: Path, *args: Any) -> Any:
    """``read`` over the run's files, fetched first when some are still in the store."""
    if fetch is not None:
        fetch(run_dir)
    return read(run_dir, *args)


def load_runs(
    runs: str | Path,
    playbook: str | None = None,
    unreadable: list[Unreadable] | None = None,
    fetch: Fetch | None = None,
) -> list[RunData]:
    """Every run in the store (of ``playbook`` when given), oldest first, with metrics:
    stored ones when the code and the logs are those they came from, else computed (and
    stored). A run's tables are parsed only when something reads them, its files
    ``fetch``ed first (a shared store's mirror). Runs whose record cannot be read go to
    ``unreadable``."""
    version = analysis_version()
    shared = SharedRecords()  # every run is held: what runs repeat is held once
    out = []
    for run_dir, manifest in list_runs(runs, unreadable, keep=shared.record):
        if playbook and manifest.playbook.name != playbook:
            continue
        compute = partial(_local, fetch, compute_metrics, run_dir, manifest)
        metrics = dict(stored_metrics(run_dir, version, compute))
        figures = metrics.pop(FIGURES, None) or {}
        metrics = interned(metrics)
        run = RunData(
            run_dir, manifest, metrics, partial(_local, fetch, _tables, run_dir, manifest)
        )
        if figures.get("warned") is not None:
            run.warned_rates = WarnedRates.of(figures["warned"][1])
            run.warned_loader = partial(_stored_warned, run_dir, manifest, version, fetch)
        out.append(run)
    return out


def _stored_warned(
    run_dir: Path, manifest: RunRecord, version: str, fetch: Fetch | None = None
) -> tuple[np.ndarray, np.ndarray] | None:
    """The run's warnings (seconds, Hz) from its stored metrics (computed again when they
    are no longer valid, as at load)."""
    compute = partial(_local, fetch, compute_metrics, run_dir, manifest)
    warned_ = (stored_metrics(run_dir, version, compute).get(FIGURES) or {}).get("warned")
    if warned_ is None:
        return None
    return np.asarray(warned_[0], dtype=float), np.asarray(warned_[1], dtype=float)
