"""Loading the summary's heavy modules in the background, before the summary needs them.

A run's summary needs pandas and pyarrow (~0.6 s of CPU to import); imported when the
workload ends, they would be the last thing a run waits for. On a board elsewhere they
load instead while the workload runs, in a thread at a low CPU priority (nice 10), so
whatever else the workstation runs goes first. Not lower: should the workload end before
they are in, the summary waits on this thread (it holds the module's import lock), and a
thread cannot take back the priority it gave up; threads the imports start inherit it.
A host that shares this machine's CPU (``engine.run.shares_cpu``: its CPU readings would
see the import) gets them only when the workload has ended, as does a machine where a
thread's priority cannot be set apart from its process's (not Linux).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import threading

# what every run's summary loads: pandas for its parsers' tables, pyarrow.parquet to
# write them beside their logs
SUMMARY_MODULES = ("pandas", "pyarrow.parquet")

LOW_PRIORITY = 10  # nice: behind anything at the default 0, ~1/10 of its share

_started: set[tuple[str, ...]] = set()
_lock = threading.Lock()


def can_idle() -> bool:
    """Whether a thread's priority can be lowered alone: Linux gives each thread its own
    nice value (``setpriority`` on its thread id); elsewhere it is the process's."""
    return sys.platform.startswith("linux") and hasattr(os, "setpriority")


def prewarm(
    modules: tuple[str, ...] = SUMMARY_MODULES, idle: bool = False
) -> threading.Thread | None:
    """Import ``modules`` in a background thread, in order, once per process (a later
    import waits for one still being loaded); ``idle``: at a low priority (nice 10, or
    lower if it already was), for use while the workload runs. Returns the thread this
    call started (None: one had)."""
    with _lock:
        if modules in _started:
            return None
        _started.add(modules)

    def load() -> None:
        if idle:  # never above the priority it started with
            me = threading.get_native_id()
            with contextlib.suppress(OSError):  # at worst it loads at normal priority
                nice = max(os.getpriority(os.PRIO_PROCESS, me), LOW_PRIORITY)
                os.setpriority(os.PRIO_PROCESS, me, nice)
        for module in modules:
            with contextlib.suppress(ImportError):  # the summary's own import will say
                importlib.import_module(module)

    thread = threading.Thread(target=load, daemon=True, name="labkit-prewarm")
    thread.start()
    return thread
