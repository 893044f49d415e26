"""The batch's progress: a redrawn block on a terminal, plain prefixed lines otherwise."""

from __future__ import annotations

import io

from labkit.engine.batch.progress import HostState, HostWriter, Progress


def test_plain_lines_when_not_a_terminal():
    out, log = io.StringIO(), io.StringIO()
    p = Progress(out, log, live=False)
    p.add(HostState("h1", total=2))
    w = HostWriter(p, "h1")
    w.write("h1: connecting\n  exp1   12/60 s  3 slow-loop warnings\rpartial")
    p.draw()  # nothing to redraw in plain mode
    assert out.getvalue().splitlines() == [
        "[h1] h1: connecting",
        "[h1]   exp1   12/60 s  3 slow-loop warnings",
    ]
    assert log.getvalue().count("[h1]") == 2  # the log gets every line, time-stamped


def test_live_block_is_redrawn_in_place_with_eta():
    out = io.StringIO()
    p = Progress(out, None, live=True)
    a, b = HostState("h1", total=2), HostState("h2", total=2)
    p.add(a)
    p.add(b)
    a.current, a.expected_s, a.elapsed_s, a.events = "exp1 #1", 60, 12, 3
    a.label = "slow-loop warnings"  # LeRobot's progress label
    b.done, b.note = 2, "finished"
    p.draw()
    first = out.getvalue()
    assert "exp1 #1" in first and "12/60 s  3 slow-loop warnings" in first
    assert "finished" in first
    assert "batch: 2/4 runs finished (0 failed)" in first and "ETA" not in first
    p.overheads.append(2.0)  # one run seen: ETA = the longest host's remaining work
    a.remaining_s = 60
    p.draw()
    second = out.getvalue()[len(first) :]
    assert second.startswith("\x1b[3F\x1b[J")  # cursor up over the 3 lines, clear
    assert "ETA 1m52s" in second  # 48 s of this run + 60 s of the next + 2 x 2 s overhead
    p.announce("[h1] exp1 #1 (1/2): complete")
    assert out.getvalue().endswith("\n") and "[h1] exp1 #1 (1/2): complete\n" in out.getvalue()


def test_runs_that_never_started_are_not_run_not_failed():
    p = Progress(io.StringIO(), None, live=False)
    h = HostState("h1", total=4)
    p.add(h)
    h.done, h.failed, h.not_run = 2, 1, 1  # one run stopped by Ctrl-C, one never started
    assert p.overall().startswith("batch: 4/4 runs finished (1 failed, 1 not run)")
    assert p.host_line(h).startswith("h1             4/4")


def test_a_host_line_names_its_workloads_events():
    """A pipeline's batch line counts its late samples, not LeRobot's warnings."""
    h = HostState("cam", total=1, current="ingest #1", expected_s=30, elapsed_s=5, events=2)
    h.label = "late sink samples"
    line = Progress(io.StringIO(), None, live=True).host_line(h)
    assert line.endswith("5/30 s  2 late sink samples") and "warnings" not in line
