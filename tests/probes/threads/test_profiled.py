"""The threads probe's metrics that need the workload's stage map: a pegged thread over the
late stretches the py-spy profile found (H6, and why it stays unknown), and the device
threads the workload names (LeRobot's camera read threads)."""

from __future__ import annotations

from functools import partial

import pandas as pd
import pytest

from labkit.core.metrics import UNKNOWN
from labkit.core.observed import Observed
from labkit.probes.pyspy import PySpy
from labkit.probes.threads import Threads
from labkit.workloads.lerobot.stages import camera_of_thread
from tests.conftest import DATA
from tests.probes.pyspy.test_stages import WARNED, pyspy_metrics, traced


def threads_at(interval_s: float, name: str = "MainThread", pct: float = 50.0) -> pd.DataFrame:
    """A threads probe's samples of one thread every ``interval_s`` around the trace."""
    times = pd.date_range("2026-01-01 10:59:59", periods=40, freq=pd.Timedelta(seconds=interval_s))
    return pd.DataFrame({"pid": 1, "tid": 1, "time": times, "cpu_pct": pct, "name": name})


@pytest.mark.parametrize(
    "interval_s,sentence",
    [
        (0.1, "no late stretch was two sampling intervals long (the longest of the 1 matched "
              "to a warning: 60 ms; the `threads` interval: 100 ms); a `threads` interval of "
              "30 ms (`probe_options: {threads: {interval_ms: 30}}`) would decide it"),
        (0.04, "no late stretch was two sampling intervals long (the longest of the 1 matched "
               "to a warning: 60 ms; the `threads` interval: 40 ms); a `threads` interval of "
               "30 ms"),
    ],
)  # fmt: skip
def test_h6_says_why_its_share_is_unknown_and_which_interval_would_decide(interval_s, sentence):
    """The trace's one late stretch is 60 ms: two sampling intervals fit in it only at
    30 ms or less, so the share stays unknown and the reason names 30 ms."""
    seg, run = traced()
    pyspy = pyspy_metrics(seg, run)
    m = Threads().run_metrics(threads_at(interval_s), run)
    assert pyspy["warnings_matched_share"] == 1.0
    assert m["warnings_single_thread_saturated_share"] is None
    assert m[UNKNOWN]["warnings_single_thread_saturated_share"].startswith(sentence)


def test_h6_at_an_interval_of_30_ms_is_computed():
    seg, run = traced()
    pyspy_metrics(seg, run)
    m = Threads().run_metrics(threads_at(0.03), run)
    assert m["warnings_single_thread_saturated_share"] == 0.0  # 50 % of a core: not pegged
    assert UNKNOWN not in m


def test_without_a_profile_h6_says_the_late_iterations_are_not_known():
    _, run = traced()  # no pyspy probe: nothing profiled the loop
    m = Threads().run_metrics(threads_at(0.1), run)
    assert m[UNKNOWN]["warnings_single_thread_saturated_share"] == (
        "none of the 1 late events could be placed on the loop thread (no py-spy profile "
        "of its late iterations: add the `pyspy` probe)"
    )


def test_the_profilers_own_cpu_is_counted_with_the_samplers():
    seg, run = traced()
    table = threads_at(0.1)
    table.attrs["self_cpu_s"] = 0.39  # over the 3.9 s the samples span: 10 % of a core
    alone = Threads().run_metrics(table, run)["probe_cpu_pct"]
    pyspy_metrics(seg, run)
    run.profile.cpu_pct = 2.5
    assert alone == pytest.approx(10.0)
    assert Threads().run_metrics(table, run)["probe_cpu_pct"] == pytest.approx(12.5)


def test_a_camera_read_thread_that_ran_long_in_the_late_stretch_is_named():
    """The read thread of /dev/video2 jumps to 80 % of a core over the late stretch (its
    usual 5 %): the camera-bound late iteration waited on right_wrist."""
    cams = {"/dev/video2": "right_wrist", "/dev/video0": "context"}
    seg, run = traced(
        device_of_thread=partial(camera_of_thread, devices=cams),
        devices=sorted(cams.values()),
        device_fps=30.0,
    )
    pyspy_metrics(seg, run)
    read = threads_at(0.03, "OpenCVCamera(/dev/video2)_read_loop", 5.0)
    near = (read["time"] > WARNED) & (read["time"] <= WARNED + pd.Timedelta(seconds=0.1))
    read.loc[near, "cpu_pct"] = 80.0
    idle = threads_at(0.03, "OpenCVCamera(/dev/video0)_read_loop", 5.0).assign(tid=2)
    m = Threads().run_metrics(pd.concat([read, idle], ignore_index=True), run)
    assert m["warn_camera_top"] == "right_wrist"
    assert m["warn_camera_share_right_wrist"] == 1.0
    assert m["warn_camera_share_context"] == 0.0
    # CPU ms per frame at 30 fps: 5 % of a core is 1.67 ms of the 33 ms a frame takes
    assert m["camera_read_ms_p50_context"] == pytest.approx(5 / 100 * 1000 / 30)
    assert m["camera_read_thread_cpu_pct_context"] == pytest.approx(5.0)


def test_pyspys_own_cpu_counts_without_a_stage_map_too():
    """A workload without a stage map (a plain ``command``) profiled by both probes: the
    probes' own CPU is still the sampler's and py-spy's (its wrapper's meta: 0.134 CPU-s
    over 3.17 s)."""
    run_dir = DATA / "probes" / "pyspy" / "run"
    run = Observed(run_dir=run_dir, record={}, late=None)
    found = PySpy().profile(PySpy().parse(run_dir), run)
    assert found.cpu_pct == pytest.approx(0.133861 / 3.1722279 * 100)
    run.profile = found
    table = threads_at(0.1)
    table.attrs["self_cpu_s"] = 0.39  # over the 3.9 s the samples span: 10 % of a core
    m = Threads().run_metrics(table, run)
    assert m["probe_cpu_pct"] == pytest.approx(10.0 + found.cpu_pct)
    assert "warnings_single_thread_saturated_share" not in m  # needs the stage map
