"""The run record from the engine's side: started once the preflight passed, finished in
one place (``finish``) — by the run itself or, after ``--detach`` or a lost connection,
by ``invoke collect`` — from the supervisor's status and the pulled files."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from labkit.engine.supervisor import outcome
from labkit.measure import summarize_run
from labkit.records.model import RunRecord, apply_status, current_status, new_record
from labkit.records.store import provenance, store_id
from labkit.registry import workload_class_of


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def start(run) -> RunRecord:
    """The record of ``run`` as it starts (status ``running``), validated."""
    return new_record(
        run.plan,
        run.run_id,
        store=store_id(run.opts.runs),
        watchdog_s=run.watchdog,
        facts=run.facts,
        provenance=provenance(),
        started_at=now(),
        skipped=run.skipped,
        extra=run.opts.manifest_extra,
    )


def finish(
    record: RunRecord,
    local_dir: Path,
    status: dict[str, Any],
    files: dict[str, int] | None,
    interrupted: bool = False,
    error: str | None = None,
    collected: bool = False,
    summary: Callable[[], dict[str, Any]] | None = None,
) -> tuple[str, str | None]:
    """Everything a finished run's record gets: the pulled files and their summary, the
    supervisor's status (each probe's pid, exit, error), how it ended and why.
    ``summary``: the summary already under way (``summarize_soon``), else made here."""
    status = current_status(status)  # a run an older labkit's supervisor started
    apply_status(record, status)  # first: the summary needs how long the workload ran
    if files is not None:
        record.files = files
        record.summary = summary() if summary is not None else summarize_run(local_dir, record)
    record.ended_at = record.ended_at or status.get("ended_at") or now()
    watchdog = float(record.watchdog_s or 0)
    if collected and status.get("state") != "done":
        what = workload_class_of(record).noun
        st, reason = "failed", f"the run supervisor died before {what} finished"
    else:
        st, reason = outcome(status, local_dir, watchdog, record, interrupted, error)
    record.status, record.error = st, reason
    return st, reason


def summarize_soon(
    record: RunRecord,
    local_dir: Path,
    status: dict[str, Any],
    prepare: Callable[[Path, RunRecord], None] | None = None,
) -> Callable[[], dict[str, Any]]:
    """Start the summary of the pulled files in a thread, on a copy of the record as
    ``finish`` will see it, so parsing the logs overlaps the last round trip (facts after
    the restore, unlock) instead of following it; then ``prepare`` (the run store's:
    the run's metrics) on the same copy. Returns what gives the summary (or raises what
    making it raised) for ``finish``."""
    mine = record.model_copy(deep=True)
    apply_status(mine, status)

    def work() -> dict[str, Any]:
        summary = summarize_run(local_dir, mine)
        if prepare is not None:
            prepare(local_dir, mine)
        return summary

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="labkit-summary")
    done: Future = pool.submit(work)
    pool.shutdown(wait=False)
    return done.result
