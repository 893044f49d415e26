"""Running a batch: one worker per host from a bounded pool, each host one run at a time.

Every run goes through the same engine as ``invoke experiment`` (``run_experiment``), so
each is locked, journaled and restored on its own. The pool is our own (Fabric's
``ThreadingGroup`` has no bound, no fail-fast and no join timeout): a shared stop flag
reaches every running engine within one poll, which then stops and restores its host like
Ctrl-C does. A host that cannot be reached, or drops off, ends alone; with
``fail_fast`` the first failure stops every host.
"""

from __future__ import annotations

import concurrent.futures as cf
import copy
import secrets
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from labkit.config.inventory import Inventory
from labkit.engine.batch.expand import BatchPlan, HostBatch, Slot
from labkit.engine.batch.progress import HostState, HostWriter, Progress
from labkit.engine.events import Message
from labkit.engine.events import Progress as RunProgress
from labkit.engine.options import RunOptions
from labkit.engine.run import run_experiment
from labkit.engine.signals import shield, signals_interrupt
from labkit.errors import ConnectError, LabkitError, LockedError
from labkit.measure import one_line
from labkit.records.backends import RunStore
from labkit.records.model import RunRecord
from labkit.records.store import write_json_atomic
from labkit.registry import workload_class_of


class StopFlag(threading.Event):
    """Set once for the whole batch; ``reason`` ends up in every stopped run's record."""

    reason: str = ""

    def trip(self, reason: str) -> None:
        if not self.is_set():
            self.reason = reason
            self.set()


@dataclass
class Outcome:
    host: str
    experiment: str
    repeat: int
    status: str  # complete | failed | interrupted | lost-connection | not-run
    run_id: str = ""
    reason: str = ""
    count: float | None = None  # the events its workload counts (``Workload.tally``)
    floor_hz: float | None = None  # the lowest loop rate among them, if the kind has one
    seconds: float = 0.0
    summary: str = ""  # the run's line: its workload's tally, else its one-line summary
    counted: str = ""  # the table's name for what ``count`` counts ("warnings")
    # why the host took no run (or no more): unreachable | busy | lost-connection | ""
    cause: str = ""
    # the exception itself, kept as Fabric's GroupResult keeps one per host (not recorded)
    error: BaseException | None = field(default=None, repr=False, compare=False)

    def record(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "error"}


@dataclass
class BatchResult:
    id: str
    outcomes: list[Outcome]
    stopped: str  # why the batch stopped early ("" if it did not)
    record: Path
    # host -> the exception that ended its runs, as Fabric's GroupResult (Fleet.errors)
    errors: dict[str, BaseException | None] = field(default_factory=dict)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status not in ("complete", "not-run")]

    @property
    def not_run(self) -> list[Outcome]:
        """Runs that never started (Ctrl-C, --fail-fast, their host dropped off)."""
        return [o for o in self.outcomes if o.status == "not-run"]


# what each cause means for the host's remaining runs (they are listed as not run)
ENDS_HOST = {
    "unreachable": "is unreachable",
    "busy": "is busy",
    "lost-connection": "dropped off",
}


def _first_line(text: str) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


class Fleet:
    def __init__(
        self,
        bp: BatchPlan,
        inv: Inventory,
        store: RunStore,
        forks: int,
        fail_fast: bool,
        out: IO,
        live: bool,
    ) -> None:
        self.bp, self.inv, self.runs, self.store = bp, inv, store.local, store
        self.forks, self.fail_fast = forks, fail_fast
        self.id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(2)
        self.record = self.runs / ".batches" / f"{self.id}.json"
        self.record.parent.mkdir(parents=True, exist_ok=True)
        self.log_file = open(self.record.with_suffix(".log"), "a")  # noqa: SIM115
        self.progress = Progress(out, self.log_file, live)
        self.stop = StopFlag()
        self.outcomes: list[Outcome] = []
        # host -> the exception that ended its runs (None: lost mid-run, in its record)
        self.errors: dict[str, BaseException | None] = {}
        self.lock = threading.Lock()
        for hb in bp.hosts:
            state = HostState(hb.host, len(hb.todo))
            state.remaining_s = sum(s.plan.expected_duration_s for s in hb.todo)
            self.progress.add(state)

    # -- one host ----------------------------------------------------------------------

    def _add(self, o: Outcome) -> None:
        with self.lock:
            self.outcomes.append(o)
        if o.status != "complete" and o.status != "not-run" and self.fail_fast:
            self.stop.trip(f"--fail-fast: {o.experiment} #{o.repeat} on {o.host} {o.status}")

    def _host(self, hb: HostBatch) -> None:
        state = self.progress.hosts[hb.host]
        values, _ = self.inv.resolve(hb.host)
        host_vars = {**values, "inventory_hostname": hb.host}
        writer = HostWriter(self.progress, hb.host)
        gone, cause = "", ""  # why this host can take no more runs
        for i, slot in enumerate(hb.todo):
            state.remaining_s -= slot.plan.expected_duration_s
            if gone or self.stop.is_set():
                why = gone or self.stop.reason
                left = Outcome(hb.host, slot.experiment, slot.repeat, "not-run", reason=why)
                left.cause = cause
                self._add(left)
                state.not_run += 1
                continue
            state.current = f"{slot.experiment} #{slot.repeat}"
            state.expected_s, state.elapsed_s, state.events = slot.plan.expected_duration_s, 0, 0
            state.label = slot.plan.workload.progress_label

            def on_event(event, state=state, host=hb.host):
                if isinstance(event, RunProgress):  # the live block's line for this host
                    state.elapsed_s, state.events = event.elapsed, event.count
                elif isinstance(event, Message) and not event.outcome:  # the done line says it
                    self.progress.say(host, event.text)

            opts = RunOptions(
                runs=self.runs,
                store=self.store,
                out=writer,
                on_event=on_event,
                stop=self.stop,
                manifest_extra={
                    "batch": {
                        "id": self.id,
                        "slot": f"{slot.experiment}#{slot.repeat}",
                        "index": i + 1,
                        "order": self.bp.order,
                    }
                },
            )
            t0 = time.monotonic()
            outcome = self._one(slot, opts, host_vars)
            outcome.seconds = time.monotonic() - t0
            if outcome.status == "complete":
                self.progress.overheads.append(outcome.seconds - slot.plan.expected_duration_s)
                state.done += 1
            else:
                state.failed += 1
            if outcome.cause:
                cause = outcome.cause
                gone = f"host {hb.host} {ENDS_HOST[cause]}: {_first_line(outcome.reason)}"
                self.errors[hb.host] = outcome.error
            self._add(outcome)
            state.current = ""
            line = self._done_line(outcome)
            if not self.progress.live:
                line += f"; {self.progress.overall()}"
            self.progress.announce(line)
        state.note = gone or ("stopped" if self.stop.is_set() else "finished")

    def _one(self, slot: Slot, opts, host_vars) -> Outcome:
        o = Outcome(slot.host, slot.experiment, slot.repeat, "failed")
        try:
            m = run_experiment(copy.copy(slot.plan), opts, host_vars)
        except (ConnectError, LockedError) as exc:
            o.cause = "busy" if isinstance(exc, LockedError) else "unreachable"
            o.reason, o.error = str(exc), exc
            return o
        except LabkitError as exc:  # a preflight failure, ...: kept for the exit code
            o.reason, o.error = str(exc), exc
            return o
        except Exception as exc:  # one host's bug must not take the batch down
            o.reason = f"labkit internal error: {exc!r}"
            self.progress.say(slot.host, traceback.format_exc())
            return o
        assert isinstance(m, RunRecord)  # a batch never runs with --check
        summary = m.summary
        o.status, o.run_id = m.status, m.run_id
        o.reason = m.error or ""
        tally = workload_class_of(m).tally(summary)
        o.count, o.floor_hz, o.counted = tally.count, tally.floor_hz, tally.header
        o.summary = tally.line if tally.line is not None else one_line(m)
        if o.status == "lost-connection":
            o.cause = "lost-connection"
        return o

    def _done_line(self, o: Outcome) -> str:
        h = self.progress.hosts[o.host]
        head = f"[{o.host}] {o.experiment} #{o.repeat} ({h.finished}/{h.total}): {o.status}"
        if o.status == "complete" and o.summary:
            return f"{head}, {o.summary} ({o.seconds:.1f} s)"
        if o.status == "complete":
            return f"{head} ({o.seconds:.1f} s)"
        return f"{head}: {_first_line(o.reason)}"

    # -- the batch ---------------------------------------------------------------------

    def _write_record(self, state: str) -> None:
        write_json_atomic(
            self.record,
            {
                "id": self.id,
                "state": state,
                "started_at": self.started_at,
                "forks": self.forks,
                "fail_fast": self.fail_fast,
                "stopped": self.stop.reason,
                **self.bp.describe(),
                "outcomes": [o.record() for o in self.outcomes],
            },
        )

    def run(self) -> BatchResult:
        self.started_at = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        self._write_record("running")
        pool = cf.ThreadPoolExecutor(max_workers=self.forks, thread_name_prefix="host")
        futures = [pool.submit(self._host, hb) for hb in self.bp.hosts if hb.todo]
        try:
            with signals_interrupt():
                self._wait(futures)
        except KeyboardInterrupt as exc:
            self.stop.trip(f"interrupted ({str(exc) or 'Ctrl-C'})")
            self.progress.announce(
                "labkit: stopping every host (each is stopped and restored); please wait"
            )
            with shield(
                lambda: self.progress.announce(
                    "labkit: still stopping and restoring the hosts; please wait"
                )
            ):
                self._wait(futures)
        finally:
            pool.shutdown(wait=True)
            self.progress.draw()
            self._write_record("stopped" if self.stop.is_set() else "done")
            self.log_file.close()
        for f in futures:
            exc = f.exception()
            if exc is not None:  # a worker's own bug: say so, the others are recorded
                raise exc
        return BatchResult(self.id, self.outcomes, self.stop.reason, self.record, self.errors)

    def _wait(self, futures) -> None:
        pending = set(futures)
        while pending:
            _, pending = cf.wait(pending, timeout=0.5)
            self.progress.draw()


def table(bp: BatchPlan, outcomes: list[Outcome]) -> list[dict[str, Any]]:
    """Per host and experiment: complete / failed / reused runs, the mean count of the
    events the workload counts (``counted`` names them) and the lowest loop rate among
    them (``floor_hz``; ``has_floor``: the kind has one)."""
    kind = bp.playbook.workload.tally({})  # what its runs count, before any has run
    rows = []
    for hb in bp.hosts:
        for name in bp.experiments:
            mine = [o for o in outcomes if o.host == hb.host and o.experiment == name]
            ok = [o for o in mine if o.status == "complete"]
            if not mine and not hb.done[name]:
                continue
            counts = [o.count for o in ok if o.count is not None]
            floors = [o.floor_hz for o in ok if o.floor_hz is not None]
            rows.append(
                {
                    "host": hb.host,
                    "experiment": name,
                    "complete": len(ok),
                    "failed": sum(o.status != "not-run" for o in mine) - len(ok),
                    "not_run": sum(o.status == "not-run" for o in mine),
                    "reused": hb.done[name],
                    "count": (sum(counts) / len(counts)) if counts else None,
                    "floor_hz": min(floors) if floors else None,
                    "counted": next((o.counted for o in ok if o.counted), kind.header),
                    "has_floor": kind.has_floor,
                }
            )
    return rows
