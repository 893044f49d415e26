"""Signals during a run: SIGTERM ends it like Ctrl-C; while the target is being put back,
both are answered with a notice instead (main thread only). SIGHUP (the terminal closed)
never ends a run: the output goes to the run's log and the run goes on."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading

from labkit.core import interrupts
from labkit.engine.options import Interrupted, RunOptions
from labkit.engine.terminal import Lasting


@contextlib.contextmanager
def _handling(handler, signals: tuple[signal.Signals, ...]):
    """``handler`` for ``signals`` inside the block, the previous handlers put back after
    it (main thread only: elsewhere Python cannot set handlers, and signals do not arrive)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, handler) for s in signals}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def signals_interrupt():
    """SIGTERM ends a run like Ctrl-C does. Both are also noted in ``core.interrupts``, so
    one whose exception a finalizer swallowed still ends the run at the next wait's check."""

    def handler(signum, frame):
        name = signal.Signals(signum).name
        interrupts.note(name)
        raise Interrupted(name)

    return _handling(handler, (signal.SIGINT, signal.SIGTERM))


@contextlib.contextmanager
def shield(notice):
    """During cleanup, Ctrl-C/SIGTERM call ``notice()`` instead of interrupting: restoring
    must finish."""
    if threading.current_thread() is threading.main_thread():
        interrupts.clear()  # the interrupt is being handled: cleanup's own waits go on
    with _handling(lambda signum, frame: notice(), (signal.SIGINT, signal.SIGTERM)):
        yield


def outlive_hangup(out: Lasting):
    """SIGHUP (the terminal closed) leaves the run going: ``out`` writes to the run's log
    from then on and stderr to /dev/null."""

    def handler(signum, frame):
        out.lose("the terminal hung up (SIGHUP)")
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stderr.fileno())
        os.close(devnull)

    return _handling(handler, (signal.SIGHUP,))


def shielded(opts: RunOptions):
    return shield(lambda: opts.say("labkit: still putting the target back; please wait"))
