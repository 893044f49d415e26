"""Signals during a run: SIGTERM/SIGHUP end it like Ctrl-C; while the target is being put
back, every one of them is answered with a notice instead (main thread only)."""

from __future__ import annotations

import contextlib
import signal
import threading

from labkit.engine.options import Interrupted, RunOptions


@contextlib.contextmanager
def signals_interrupt():
    """SIGTERM and SIGHUP end a run like Ctrl-C does (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Interrupted(signal.Signals(signum).name)

    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@contextlib.contextmanager
def shield(notice):
    """During cleanup, Ctrl-C/SIGTERM/SIGHUP call ``notice()`` instead of interrupting:
    restoring must finish (main thread only; elsewhere signals do not arrive anyway)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        notice()

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def shielded(opts: RunOptions):
    return shield(lambda: opts.say("labkit: still putting the target back; please wait"))
