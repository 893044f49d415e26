"""py-spy's chrometrace replayed into per-thread stack segments on the target's clock."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from labkit.parse.pyspy import PySpyTraceError, read_pyspy
from tests.conftest import REPO

DATA = REPO / "tests" / "data" / "pyspy"


def test_segments_per_thread_on_the_targets_local_time():
    df = read_pyspy(DATA / "trace.json", DATA / "meta.json")
    t0 = pd.Timestamp("2026-01-01 11:00:00")  # start epoch 10:00 UTC + 3600 s offset
    main = df[df["tid"] == 100]
    assert list(main["thread"].unique()) == ["MainThread"]
    assert [(round((r.start - t0).total_seconds(), 3), round((r.end - t0).total_seconds(), 3),
             r.stack[-1]) for r in main.itertuples()] == [
        (0.0, 0.02, "precise_sleep"),
        (0.02, 0.07, "OpenCVCamera.async_read"),
        (0.07, 0.08, "LeRobotDataset.add_frame"),
        (0.08, 0.1, "precise_sleep"),
    ]  # fmt: skip
    assert main.iloc[1]["stack"] == ("main", "record_loop", "Robot.get_observation",
                                     "OpenCVCamera.async_read")  # fmt: skip
    [cam] = df[df["tid"] == 101].itertuples()
    assert cam.thread == "OpenCVCamera(/dev/video2)_read_loop"
    assert cam.stack == ("OpenCVCamera._read_loop", "OpenCVCamera.read")


def test_without_meta_times_are_seconds_from_pyspys_start():
    df = read_pyspy(DATA / "trace.json")
    assert df["start"].min() == 0.0 and df["end"].max() == pytest.approx(0.1)


def test_a_file_that_is_not_a_trace_is_an_error(tmp_path):
    bad = tmp_path / "pyspy.json"
    bad.write_text("py-spy> Error: Permission Denied")
    with pytest.raises(PySpyTraceError, match="not JSON"):
        read_pyspy(bad)


def test_python_310_traces_hex_thread_ids_and_unnamed_threads(tmp_path):
    events = [
        {"name": "thread (0x7F3F12345678): MainThread", "ph": "B", "ts": 0, "tid": 1},
        {"name": "record_loop", "ph": "B", "ts": 0, "tid": 1},
        {"name": "record_loop", "ph": "E", "ts": 5000, "tid": 1},
        {"name": "thread (4242)", "ph": "B", "ts": 0, "tid": 2},
        {"name": "run", "ph": "B", "ts": 0, "tid": 2},
        {"name": "run", "ph": "E", "ts": 5000, "tid": 2},
    ]
    trace = tmp_path / "pyspy.json"
    trace.write_text(json.dumps(events))
    df = read_pyspy(trace)
    assert [(r.tid, r.thread, r.stack) for r in df.itertuples()] == [
        (4242, "", ("run",)),
        (0x7F3F12345678, "MainThread", ("record_loop",)),
    ]
