"""Data-driven: each log in tests/data/lerobot with its expected events and summary."""

import math

import pytest
import yaml

from labkit.workloads.lerobot.log import read_record_log, summarize_record_log
from tests.conftest import DATA

LR = DATA / "lerobot"
CASES = yaml.safe_load((LR / "cases.yaml").read_text())


@pytest.mark.parametrize("name", sorted(CASES))
def test_record_log_events(name):
    df = read_record_log(LR / name)
    by_line = {int(r["line"]): r for _, r in df.iterrows()}
    expected = CASES[name]["events"]
    if name == "record-0.6.1.log":  # the full log: exactly these events, in order
        assert [int(x) for x in df["line"]] == [e["line"] for e in expected]
    for event in expected:
        row = by_line[event["line"]]
        for key, value in event.items():
            got = row[key]
            if value is None:
                assert got is None or (isinstance(got, float) and math.isnan(got)), key
            elif isinstance(value, float):
                assert got == pytest.approx(value), key
            else:
                assert got == value, (event["line"], key)


@pytest.mark.parametrize("name", [n for n in sorted(CASES) if "summary" in CASES[n]])
def test_record_log_summary(name):
    summary = summarize_record_log(read_record_log(LR / name))
    for key, value in CASES[name]["summary"].items():
        assert summary[key] == (pytest.approx(value) if isinstance(value, float) else value), key


def test_config_dump_is_not_read_as_events():
    df = read_record_log(LR / "record-0.6.1.log")
    config = df[df["kind"] == "config"].iloc[0]
    assert "Recording episode 9" in config["message"]
    assert (df["kind"] == "episode_start").sum() == 3


def test_traceback_is_one_error_record():
    lines = [
        "INFO 2026-09-01 14:02:03 ls/utils.py:147 Recording episode 0",
        "Traceback (most recent call last):",
        '  File "x.py", line 1, in <module>',
        "RuntimeError: OpenCVCamera(/dev/video0) failed to set fps=30",
        "INFO 2026-09-01 14:02:04 ls/utils.py:147 Stop recording",
    ]
    df = read_record_log(lines)
    assert list(df["kind"]) == ["episode_start", "error", "stop"]
    assert "failed to set fps" in df.iloc[1]["message"]
    assert summarize_record_log(df)["errors"] == 1


def test_slow_loop_percentiles():
    warn = (
        "WARNING 2026-01-01 00:00:{:02d} t_record.py:423 Record loop is running slower "
        "({} Hz) than the target FPS (30 Hz). Dataset frames might be dropped"
    )
    hz = [9.6, 15.5, 20.1, 25.0, 28.3]
    s = summarize_record_log(read_record_log([warn.format(i, h) for i, h in enumerate(hz)]))
    assert s["slow_loop_count"] == 5 and s["min_hz"] == 9.6 and s["median_hz"] == 20.1
    assert s["p5_hz"] == pytest.approx(9.6 + 0.2 * (15.5 - 9.6))


def test_a_camera_timeout_at_error_with_a_traceback_is_also_an_error():
    lines = [
        "INFO 2026-09-01 14:02:03 ls/utils.py:147 Recording episode 0",
        "ERROR 2026-09-01 14:02:05 t_record.py:601 Error in record loop",
        "Traceback (most recent call last):",
        '  File "opencv/camera_opencv.py", line 512, in async_read',
        "TimeoutError: Timed out waiting for frame from camera OpenCVCamera(/dev/video2) "
        "after 200 ms. Read thread alive: True",
        "WARNING 2026-09-01 14:02:06 t_record.py:423 Record loop is running slower "
        "(9.6 Hz) than the target FPS (30 Hz).",
        "ERROR 2026-09-01 14:02:07 ls/utils.py:99 Failed to push to hub",
    ]
    s = summarize_record_log(read_record_log(lines))
    assert s["camera_timeouts"] == 1
    assert s["errors"] == 2  # the timeout's ERROR record and the push failure
    assert s["slow_loop_count"] == 1
