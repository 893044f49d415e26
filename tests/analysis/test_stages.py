"""Where the loop's time goes: stage mapping (LeRobot's names), late stretches matched to
warnings, and -- with real py-spy on the simulated lerobot-record -- the stage and the
camera a targeted stall was injected into."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from labkit.analysis.stages import camera_devices, deep_metrics, stage_of
from labkit.core.metrics import UNKNOWN
from labkit.parse.pyspy import read_pyspy
from labkit.parse.threads import read_threads
from labkit.sim.deploy import bundle, install_script, paths
from labkit.workloads.lerobot.log import read_record_log
from tests.conftest import REPO
from tests.labhost import SIM_TEST_OPTIONS

DATA = REPO / "tests" / "data"
CASES = yaml.safe_load((DATA / "pyspy" / "stages.yaml").read_text())
PROBES = REPO / "src" / "labkit" / "probes"
PYSPY = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
DEVICES = ["/dev/video0", "/dev/video2", "/dev/video4", "/dev/ttyACM0", "/dev/ttyACM1"]
CAMS = {"context": "/dev/video0", "right_wrist": "/dev/video2", "left_wrist": "/dev/video4"}


@pytest.mark.parametrize("case", CASES, ids=[c["stack"][-1] for c in CASES])
def test_stage_of_lerobots_function_names(case):
    assert stage_of(tuple(case["stack"])) == case["stage"]


def traced_warning() -> tuple[pd.DataFrame, pd.DataFrame]:
    """One slow-loop warning and the py-spy trace of its 60 ms late stretch."""
    seg = read_pyspy(DATA / "pyspy" / "trace.json", DATA / "pyspy" / "meta.json")
    events = pd.DataFrame(
        {"kind": ["episode_start", "slow_loop"],
         "time": pd.to_datetime(["2026-01-01 11:00:00", "2026-01-01 11:00:00"])}
    )  # fmt: skip
    return events, seg


def test_a_late_stretch_is_matched_to_its_warning_and_split_by_stage():
    events, seg = traced_warning()
    m = deep_metrics(events, seg, None, 30, {"/dev/video2": "right_wrist"})
    # loop thread: 40 ms sleep, 50 ms in async_read, 10 ms in add_frame
    assert m["main_thread_stage_share_sleep"] == pytest.approx(0.4)
    assert m["main_thread_stage_share_camera_read"] == pytest.approx(0.5)
    assert m["main_thread_stage_share_dataset"] == pytest.approx(0.1)
    # the 60 ms stretch between the sleeps is over the 33 ms budget: the warning's
    assert m["warnings_matched_share"] == 1.0
    assert m["warn_stage_share_camera_read"] == pytest.approx(5 / 6)
    assert m["warn_stage_share_dataset"] == pytest.approx(1 / 6)


def test_camera_devices_from_the_record_command_line():
    argv = [
        "lerobot-record",
        "--robot.cameras={context: {type: opencv, index_or_path: "
        "/dev/video0, fps: 30}, right_wrist: {type: opencv, index_or_path: /dev/video2}}",
    ]
    assert camera_devices(argv) == {"/dev/video0": "context", "/dev/video2": "right_wrist"}


def profiled_run(tmp: Path, jitter: dict) -> dict:
    """The simulated lerobot-record with ``jitter``, py-spy and the threads sampler attached
    to it as labkit's probes do; returns the deep metrics. The cameras send MJPG: the sim's
    YUYV conversion holds the GIL about 13 ms a frame, so three YUYV cameras saturate the
    GIL on a slow or busy machine and every iteration runs late in robot I/O -- the
    injected stall must be the one cause of lateness these tests look for."""
    wd = str(tmp / "wd")
    config = {"devices": DEVICES, "jitter": {"seed": 5, **jitter}, **SIM_TEST_OPTIONS}
    subprocess.run(["sh", "-c", install_script(wd, python=sys.executable, config=config)],
                   input=bundle(), check=True)  # fmt: skip
    run = tmp / "run"
    run.mkdir()
    cams = ", ".join(
        f"{n}: {{type: opencv, index_or_path: {d}, width: 640, height: 480, fps: 30, fourcc: MJPG}}"
        for n, d in CAMS.items()
    )
    argv = [
        f"{paths(wd)['bin']}/lerobot-record", "--robot.type=bi_dk1_follower",
        "--robot.right_arm_port=/dev/ttyACM0", "--robot.left_arm_port=/dev/ttyACM1",
        f"--robot.cameras={{{cams}}}", "--teleop.type=bi_dk1_leader",
        "--dataset.repo_id=t/p", "--dataset.single_task=t", "--dataset.fps=30",
        "--dataset.episode_time_s=8", "--dataset.reset_time_s=0", "--dataset.num_episodes=1",
        "--dataset.push_to_hub=false", "--dataset.streaming_encoding=true",
        "--dataset.encoder_threads=2", "--dataset.vcodec=auto",
        f"--dataset.root={run}/dataset", "--display_data=false", "--play_sounds=false",
    ]  # fmt: skip
    with open(run / "record.log", "wb") as log, open(run / "threads.log", "w") as tlog:
        rec = subprocess.Popen(argv, stderr=log, cwd=run)
        spy = subprocess.Popen(
            [sys.executable, str(PROBES / "pyspy" / "pyspy_run.py"), "--pyspy", PYSPY,
             "--pid", str(rec.pid), "--rate", "50"], cwd=run,
        )  # fmt: skip
        thr = subprocess.Popen(
            [sys.executable, str(PROBES / "threads" / "threads_sampler.py"), "--pid", str(rec.pid),
             "--pyspy", PYSPY], stdout=tlog, cwd=run,
        )  # fmt: skip
        assert rec.wait(timeout=60) == 0
        assert spy.wait(timeout=30) == 0
        thr.send_signal(signal.SIGTERM)
        assert thr.wait(timeout=10) == 0
    events = read_record_log(run / "record.log")
    assert (events["kind"] == "slow_loop").sum() >= 5  # the stalls made the loop late
    return deep_metrics(
        events,
        read_pyspy(run / "pyspy.json", run / "pyspy-meta.json"),
        read_threads(run / "threads.log"),
        30,
        {d: n for n, d in CAMS.items()},
    )


def top_stage(m: dict) -> str:
    shares = {k.removeprefix("warn_stage_share_"): v for k, v in m.items()
              if k.startswith("warn_stage_share_")}  # fmt: skip
    return max(shares, key=shares.get)


# a camera read stays well under the 200 ms after which LeRobot's async_read gives up
@pytest.mark.slow
def test_a_stall_in_right_wrists_capture_is_named_camera_read_and_right_wrist(tmp_path):
    m = profiled_run(tmp_path, {"rate": 0.05, "stall_ms": 120, "stage": "camera_read",
                                "camera": "right_wrist"})  # fmt: skip
    assert top_stage(m) == "camera_read", m
    assert m["warn_camera_top"] == "right_wrist", m
    assert m["warnings_matched_share"] >= 0.5


# a long stall: on a machine loaded many times over its cores every iteration runs late and
# robot I/O's share of the late stretches grows; the stall must still outweigh it
@pytest.mark.slow
def test_a_stall_in_add_frame_is_named_dataset(tmp_path):
    m = profiled_run(tmp_path, {"rate": 0.05, "stall_ms": 250, "stage": "dataset"})
    assert top_stage(m) == "dataset", m
    assert m["warn_camera_top"] is None, m


def threads_at(interval_s: float) -> pd.DataFrame:
    """A threads probe's samples of one thread every ``interval_s`` around the trace."""
    times = pd.date_range("2026-01-01 10:59:59", periods=40, freq=pd.Timedelta(seconds=interval_s))
    return pd.DataFrame({"tid": 1, "time": times, "cpu_pct": 50.0, "name": "MainThread"})


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
    events, seg = traced_warning()
    m = deep_metrics(events, seg, threads_at(interval_s), 30, {})
    assert m["warnings_matched_share"] == 1.0
    assert m["warnings_single_thread_saturated_share"] is None
    assert m[UNKNOWN]["warnings_single_thread_saturated_share"].startswith(sentence)


def test_h6_at_an_interval_of_30_ms_is_computed():
    events, seg = traced_warning()
    m = deep_metrics(events, seg, threads_at(0.03), 30, {})
    assert m["warnings_single_thread_saturated_share"] == 0.0  # 50 % of a core: not pegged
    assert UNKNOWN not in m


def test_without_a_profile_h6_says_the_late_iterations_are_not_known():
    events = pd.DataFrame(
        {"kind": ["slow_loop"], "time": pd.to_datetime(["2026-01-01 11:00:00"])}
    )  # fmt: skip
    m = deep_metrics(events, None, threads_at(0.1), 30, {})
    assert m[UNKNOWN]["warnings_single_thread_saturated_share"] == (
        "none of the 1 late events could be placed on the loop thread (no py-spy profile "
        "of its late iterations: add the `pyspy` probe)"
    )
