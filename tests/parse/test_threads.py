"""The threads probe's log -> per-thread CPU over each interval."""

from __future__ import annotations

import pandas as pd
import pytest

from labkit.parse.threads import read_threads
from tests.conftest import REPO


def test_cpu_per_thread_and_interval_with_python_names():
    df = read_threads(REPO / "tests" / "data" / "threads" / "sample.log")
    got = [(r.tid, r.name, round(r.cpu_pct, 2), r.cpu) for r in df.itertuples()]
    # 9 ticks in 0.1 s at 100 ticks/s = 90 % of a core; a thread seen once has no interval
    assert got == [
        (100, "MainThread", 90.0, 3),
        (100, "MainThread", 10.0, 4),
        (101, "OpenCVCamera(/dev/video2)_read_loop", 20.0, 6),
        (101, "OpenCVCamera(/dev/video2)_read_loop", 10.0, 6),
    ]
    assert df["time"].iloc[0] == pd.Timestamp("2026-01-01 11:00:00.1")  # UTC + 3600 s
    assert df.attrs["self_cpu_s"] == pytest.approx(0.042)
