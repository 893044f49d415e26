"""A Ctrl-C or SIGTERM that must not be lost. Python raises KeyboardInterrupt wherever the
main thread happens to be; when that is inside a finalizer (``Popen.__del__`` run by the
garbage collector) the exception is printed as "ignored" and the run goes on as if nothing
had happened. The signal handler notes the signal here as well as raising, and the long
waits (a reboot, the workload) call ``check`` so a swallowed signal still ends the run."""

from __future__ import annotations

import threading

_pending: str | None = None


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM reached labkit during a run."""


def note(name: str) -> None:
    """Called by the signal handler before it raises."""
    global _pending
    _pending = name


def clear() -> None:
    """The interrupt is being handled (cleanup has begun): nothing is pending any more."""
    global _pending
    _pending = None


def check() -> None:
    """Raise the interrupt a finalizer swallowed (main thread only: signals arrive there)."""
    if _pending is not None and threading.current_thread() is threading.main_thread():
        name = _pending
        clear()
        raise Interrupted(name)
