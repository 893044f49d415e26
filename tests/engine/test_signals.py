"""A Ctrl-C that Python's KeyboardInterrupt would lose: raised inside a finalizer
(``Popen.__del__`` run by the garbage collector) the exception is only printed as
"ignored"; the run's next wait must still end the run."""

from __future__ import annotations

import os
import signal

import pytest

from labkit.core import interrupts
from labkit.engine.options import RunOptions
from labkit.engine.signals import shield, signals_interrupt


class SignalledInFinalizer:
    def __del__(self):
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(10_000_000):  # the handler runs (and raises) inside this loop
            pass


# the finalizer's interrupt is printed as ignored: the very case this test is about
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_ctrl_c_a_finalizer_swallowed_still_ends_the_run_at_its_next_check():
    with signals_interrupt():
        obj = SignalledInFinalizer()
        del obj  # the KeyboardInterrupt raised in __del__ is printed as ignored, not raised
        with pytest.raises(KeyboardInterrupt):
            RunOptions().check_stop()
        RunOptions().check_stop()  # raised once: nothing pending any more


def test_cleanup_clears_a_pending_interrupt_so_its_own_waits_go_on():
    with signals_interrupt():
        interrupts.note("SIGINT")
        with shield(lambda: None):
            RunOptions().check_stop()  # restoring must not be cut short by the same Ctrl-C
