"""The pyspy probe's own analysis: py-spy stacks mapped to the workload's stages (LeRobot's
names, and another workload's map giving its own metrics), late stretches matched to the
late events, and -- with real py-spy on the simulated lerobot-record, through
``measure_run`` as a report measures a run -- the stage and the camera a targeted stall
was injected into."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from labkit.core.late import late_table
from labkit.core.observed import Observed, StageMap
from labkit.measure import measure_run
from labkit.metric_names import probe_metrics
from labkit.parse.pyspy import read_pyspy
from labkit.probes.pyspy import PySpy
from labkit.probes.pyspy.stages import stage_of
from labkit.sim.deploy import bundle, install_script, paths
from labkit.workloads.lerobot import LerobotRecord
from labkit.workloads.lerobot.stages import STAGE_MAP
from tests.conftest import REPO
from tests.labhost import SIM_TEST_OPTIONS
from tests.runrecord import run_record

DATA = REPO / "tests" / "data"
CASES = yaml.safe_load((DATA / "pyspy" / "stages.yaml").read_text())
PROBES = REPO / "src" / "labkit" / "probes"
PYSPY = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
DEVICES = ["/dev/video0", "/dev/video2", "/dev/video4", "/dev/ttyACM0", "/dev/ttyACM1"]
CAMS = {"context": "/dev/video0", "right_wrist": "/dev/video2", "left_wrist": "/dev/video4"}
WARNED = pd.Timestamp("2026-01-01 11:00:00")  # the trace's start on the target's clock


@pytest.mark.parametrize("case", CASES, ids=[c["stack"][-1] for c in CASES])
def test_stage_of_lerobots_function_names(case):
    assert stage_of(tuple(case["stack"]), STAGE_MAP) == case["stage"]


def traced(stages: StageMap = STAGE_MAP, budget_s: float | None = 1 / 30, **seen) -> tuple:
    """The trace fixture's segments (the loop thread: 20 ms sleep, 50 ms in async_read,
    10 ms in add_frame, 20 ms sleep) and a run with one late event in the second it
    starts, as LeRobot logs a slow-loop warning."""
    seg = read_pyspy(DATA / "pyspy" / "trace.json", DATA / "pyspy" / "meta.json")
    late = late_table([WARNED], [WARNED], [WARNED + pd.Timedelta(seconds=1)])
    run = Observed(run_dir=DATA / "pyspy", record={}, late=late, stages=stages,
                   budget_s=budget_s, **seen)  # fmt: skip
    return seg, run


def pyspy_metrics(seg: pd.DataFrame, run: Observed) -> dict:
    """The probe's metrics as ``measure_run`` asks for them: its profile first."""
    probe = PySpy()
    run.profile = probe.profile(seg, run)
    return probe.run_metrics(seg, run)


def test_a_late_stretch_is_matched_to_its_late_event_and_split_by_stage():
    m = pyspy_metrics(*traced())
    assert m["main_thread_stage_share_sleep"] == pytest.approx(0.4)
    assert m["main_thread_stage_share_camera_read"] == pytest.approx(0.5)
    assert m["main_thread_stage_share_dataset"] == pytest.approx(0.1)
    # the 60 ms stretch between the sleeps is over the 33 ms budget: the warning's
    assert m["warnings_matched_share"] == 1.0
    assert m["warn_stage_share_camera_read"] == pytest.approx(5 / 6)
    assert m["warn_stage_share_dataset"] == pytest.approx(1 / 6)


# another workload's loop, the same trace: its own stage names, its own wait stage
GRAB = StageMap(
    loop_function="record_loop",
    rules=(("idle", ("precise_sleep",)), ("grab", ("~camera",)), ("store", (".add_frame",))),
    stages=("grab", "store", "idle", "other"),
    sleep="idle",
)


def test_another_workloads_stage_map_gives_its_own_stage_metrics():
    m = pyspy_metrics(*traced(GRAB))
    assert {k: round(v, 3) for k, v in m.items()} == {
        "main_thread_stage_share_grab": 0.5,
        "main_thread_stage_share_store": 0.1,
        "main_thread_stage_share_idle": 0.4,
        "main_thread_stage_share_other": 0.0,
        "warnings_matched_share": 1.0,
        "warn_stage_share_grab": 0.833,
        "warn_stage_share_store": 0.167,
        "warn_stage_share_idle": 0.0,
        "warn_stage_share_other": 0.0,
    }
    # the names a playbook of that workload declares are exactly those computed
    declared = probe_metrics(PySpy, stages=GRAB.stages)
    assert set(m) == set(declared)
    assert declared["warn_stage_share_grab"].per_warning
    assert declared["warn_stage_share_grab"].kind == "share"


def test_without_a_budget_the_late_stretch_ending_in_the_events_window_is_matched():
    """A workload that does not know its loop's period: any stretch may be the late one;
    the one ending in the event's window is."""
    m = pyspy_metrics(*traced(budget_s=None))
    assert m["warnings_matched_share"] == 1.0
    assert m["warn_stage_share_camera_read"] == pytest.approx(5 / 6)


def test_a_late_event_with_no_stretch_in_its_window_is_unmatched():
    seg, run = traced()
    later = WARNED + pd.Timedelta(seconds=5)
    run.late = late_table([later], [later], [later + pd.Timedelta(seconds=1)])
    m = pyspy_metrics(seg, run)
    assert m["warnings_matched_share"] == 0.0
    assert not any(k.startswith("warn_stage_share_") for k in m)


def test_without_a_stage_map_the_probe_computes_no_stage_metric():
    seg, run = traced(None)
    found = PySpy().profile(seg, run)
    assert found is not None and found.segments is None and found.matched == []
    run.profile = found
    assert PySpy().run_metrics(seg, run) == {}


def test_a_cut_trace_leaves_the_run_without_a_profile_not_the_report(tmp_path):
    """py-spy killed mid-write: the run's metrics say so; nothing raises."""
    (tmp_path / "pyspy.json").write_text('[{"name": "thread (1): MainThread", "ph": "B"')
    table = PySpy().parse(tmp_path)
    _, run = traced()
    assert PySpy().profile(table, run) is None
    assert "not JSON" in PySpy().run_metrics(table, run)["profile_note"]


def profiled_run(tmp: Path, jitter: dict) -> dict:
    """The simulated lerobot-record with ``jitter``, py-spy and the threads sampler attached
    to it as labkit's probes do; returns the run's metrics as a report measures them
    (``measure_run``: the workload's, then each probe's). The cameras send MJPG: the sim's
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
    record = run_record(
        params={"dataset.fps": 30},
        commands={"workload_argv": argv},
        probes={"pyspy": {"skipped": None}, "threads": {"skipped": None}},
    )
    metrics = measure_run(run, record, LerobotRecord()).metrics
    assert metrics["warnings"] >= 5  # the stalls made the loop late
    return metrics


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
