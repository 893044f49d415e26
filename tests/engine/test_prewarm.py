"""The summary's modules load in a background thread; while the workload runs, at a low
CPU priority (nice 10), so whatever else the workstation runs goes first."""

from __future__ import annotations

import os
import sys
import threading

from labkit.engine import prewarm as pw


def _module(tmp_path, monkeypatch, name: str) -> None:
    """A module that notes, as it is imported, the priority of the thread importing it."""
    (tmp_path / f"{name}.py").write_text(
        "import os, threading\n"
        "NICE = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())\n"
        "THREAD = threading.current_thread().name\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))


def _loaded(thread: threading.Thread | None, name: str):
    assert thread is not None
    thread.join(60)
    assert not thread.is_alive()
    return sys.modules[name]


def test_an_idle_prewarm_imports_at_a_low_priority_and_leaves_this_thread_as_it_was(
    tmp_path, monkeypatch
):
    assert pw.can_idle()  # Linux: a thread has a priority of its own
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    _module(tmp_path, monkeypatch, "labkit_prewarm_idle_probe")
    mod = _loaded(
        pw.prewarm(("labkit_prewarm_idle_probe",), idle=True), "labkit_prewarm_idle_probe"
    )
    assert mod.THREAD == "labkit-prewarm"
    assert max(mine, pw.LOW_PRIORITY) == mod.NICE  # lowered, never raised
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == mine
    # the process's own priority (its main thread's) is untouched as well
    assert os.getpriority(os.PRIO_PROCESS, os.getpid()) == mine


def test_a_prewarm_at_the_workloads_end_imports_at_normal_priority_once(tmp_path, monkeypatch):
    _module(tmp_path, monkeypatch, "labkit_prewarm_normal_probe")
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    thread = pw.prewarm(("labkit_prewarm_normal_probe",))
    assert pw.prewarm(("labkit_prewarm_normal_probe",)) is None  # under way: not again
    assert pw.prewarm(("labkit_prewarm_normal_probe",), idle=True) is None
    assert mine == _loaded(thread, "labkit_prewarm_normal_probe").NICE


def test_a_module_that_cannot_be_imported_leaves_the_summary_to_say_so():
    """No traceback from the background thread: the summary's own import raises."""
    errors: list = []
    old = threading.excepthook
    threading.excepthook = errors.append
    try:
        thread = pw.prewarm(("labkit_no_such_module_anywhere", "json"))
        assert thread is not None
        thread.join(60)
    finally:
        threading.excepthook = old
    assert errors == []
    assert "labkit_no_such_module_anywhere" not in sys.modules
