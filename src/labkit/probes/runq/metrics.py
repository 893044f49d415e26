"""The runq probe's metrics: how much of its wall time the workload's loop thread (and
its busiest threads) spent runnable but waiting for a CPU, overall and when it was late.

The loop thread is the one the workload names (``loop_thread`` in the run record's
workload: gst-launch-1.0's main thread for ``gstreamer``, or ``workload.loop_thread`` of a
``command``), else the main thread of the workload's own process (LeRobot's record loop;
for a ``command``, what it ``exec``s). Late windows are the workload's late events with
the interval each covers (``labkit.core.observed.Observed.late_windows``: LeRobot's
slow-loop warnings cover the whole second they name).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from labkit.core.metrics import PCT_OF_A_CORE, Metric

if TYPE_CHECKING:
    import pandas as pd

SOURCE = "runq"
TOP_THREADS = 5  # per-thread metrics for this many of the busiest threads (by CPU time)

DECLARED: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("loop_runq_wait_share", "share of the loop thread's wall time spent "
               "runnable but waiting for a CPU (schedstat)", "", "mean", source=SOURCE,
               kind="share", better="lower"),
        Metric("loop_runq_wait_ms_p95", "95th percentile of the loop thread's run-queue "
               "wait per sampling interval", "ms", "max", source=SOURCE, kind="duration",
               better="lower"),
        Metric("warn_runq_wait_share", "share of the loop thread's wall time spent waiting "
               "for a CPU in the intervals of late events", "", "mean", per_warning=True,
               source=SOURCE, kind="share", better="lower"),
        Metric("runq_probe_cpu_pct", "the runq sampler's own CPU, percent of one core over "
               "its running time", "%", "max", source=SOURCE, kind="value", better="lower",
               domain=PCT_OF_A_CORE),
    )
}  # fmt: skip


THREAD_PREFIX = "runq_wait_share_"
# one per busy thread the run found: ``runq_wait_share_<thread>`` (``thread_key``)
FAMILIES: dict[str, Metric] = {
    THREAD_PREFIX: Metric(THREAD_PREFIX, "share of a busy thread's wall time spent runnable "
                          "but waiting for a CPU", "", "mean", source=SOURCE, kind="share",
                          better="lower"),
}  # fmt: skip


def thread_key(name: str) -> str:
    """A thread name as it appears in metric names."""
    return re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_") or "thread"


def loop_rows(table: pd.DataFrame, loop_thread: str | None) -> pd.DataFrame:
    """The loop thread's intervals: the named thread (the busiest of that name), else the
    main thread of the workload's own process."""
    if loop_thread:
        named = table[table["name"] == loop_thread[:15]]  # the kernel keeps 15 characters
        if named.empty:
            return named
        busiest = named.groupby("tid")["run_ms"].sum().idxmax()
        return named[named["tid"] == busiest]
    root = table.attrs.get("root_pid")
    return table[table["tid"] == root] if root is not None else table.iloc[0:0]


def busiest_threads(table: pd.DataFrame, n: int = TOP_THREADS) -> dict[str, pd.DataFrame]:
    """The ``n`` threads that ran longest, keyed by their name; threads of one name (a
    Python program's all share its comm) are told apart by rank: ``name``, ``name_2``..."""
    cpu = table.groupby("tid")["run_ms"].sum().sort_values(ascending=False, kind="stable")
    names = table.groupby("tid")["name"].last()
    seen: dict[str, int] = {}
    keys = {}
    for tid in cpu.index:
        base = thread_key(str(names[tid]))
        seen[base] = seen.get(base, 0) + 1
        keys[tid] = base if seen[base] == 1 else f"{base}_{seen[base]}"
    return {keys[tid]: table[table["tid"] == tid] for tid in cpu.index[:n]}


def _share(rows: pd.DataFrame) -> float | None:
    """Waiting time over wall time; the readings of one sweep are a little apart from its
    time stamp, so a thread that waited throughout can come out a hair above 1: capped."""
    wall = float(rows["wall_ms"].sum())
    return min(1.0, float(rows["wait_ms"].sum()) / wall) if wall > 0 else None


def run_metrics(table: pd.DataFrame | None, windows: list[tuple], loop_thread: str | None) -> dict:
    """One run's runq metrics (None where it cannot say); ``windows``: (start, end) of the
    workload's late events, ``loop_thread``: the loop's thread name (None: the main
    thread of the workload's own process)."""
    # on use: the run path loads this module without them (start-up)
    import numpy as np  # noqa: PLC0415

    out: dict[str, Any] = dict.fromkeys(DECLARED)
    if table is None or table.empty:
        return out
    loop = loop_rows(table, loop_thread)
    if len(loop):
        out["loop_runq_wait_share"] = _share(loop)
        out["loop_runq_wait_ms_p95"] = float(np.percentile(loop["wait_ms"], 95))
        if windows:
            hit = np.zeros(len(loop), dtype=bool)
            starts, ends = loop["start"].to_numpy(), loop["time"].to_numpy()
            for lo, hi in windows:
                hit |= (starts < np.datetime64(hi)) & (ends > np.datetime64(lo))
            out["warn_runq_wait_share"] = _share(loop[hit]) if hit.any() else None
    for key, rows in busiest_threads(table).items():
        out[f"{THREAD_PREFIX}{key}"] = _share(rows)
    cpu, span = table.attrs.get("self_cpu_s"), table.attrs.get("span_s")
    if cpu is not None and span:
        out["runq_probe_cpu_pct"] = cpu / span * 100.0
    return out
