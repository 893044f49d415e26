"""The Invoke CLI as a user runs it: exit codes and messages, no tracebacks."""

import json
import subprocess
import sys
import warnings
from pathlib import Path

from labkit import cli
from labkit.cli import plain_facts
from labkit.workloads.gstreamer import Gstreamer
from labkit.workloads.lerobot import LerobotRecord
from tests.conftest import REPO

INVOKE = [str(Path(sys.executable).parent / "invoke")]


def run(*args):
    return subprocess.run([*INVOKE, *args], cwd=REPO, capture_output=True, text=True, timeout=60)


def test_list_shows_every_task_with_summary():
    out = run("--list").stdout
    for name in ("hosts", "plan", "experiments"):
        assert name in out


def test_plan_prints_commands():
    res = run("plan", "--name", "exp2b")
    assert res.returncode == 0, res.stderr
    assert "--dataset.fps=20" in res.stdout and "tegrastats --interval 1000" in res.stdout


def test_plan_renders_the_pipeline_with_the_hosts_own_variables(tmp_path):
    """`invoke plan` shows what a run on that host would run: a board's host variables
    choose its cameras and decoder, as they do for `invoke experiment`."""
    inv = tmp_path / "board.yml"
    inv.write_text(
        "all:\n  hosts:\n    thor1:\n      ansible_host: 127.0.0.1\n"
        "      gst_cameras: [/dev/video0, /dev/video2, /dev/video4]\n"
        "      gst_jpeg_decoder: nvv4l2decoder mjpeg=1\n"
    )
    res = run("plan", "-i", str(inv), "-t", "thor1", "--playbook",
              "playbooks/camera-ingest.yml", "--name", "jpeg-3")  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "v4l2src device=/dev/video4" in res.stdout
    assert "nvv4l2decoder mjpeg=1" in res.stdout and "videotestsrc" not in res.stdout


def test_unknown_experiment_lists_existing():
    res = run("plan", "--name", "exp99")  # exp9 exists since the runq probe
    assert res.returncode == 2
    assert "exp1, exp2b, exp3" in res.stderr and "Traceback" not in res.stderr


def test_bad_set_key():
    res = run("plan", "--name", "exp1", "--set", "dataset_fsp=3")
    assert res.returncode == 2 and "did you mean 'dataset.fps'" in res.stderr


def test_hosts_json_shape():
    res = run("hosts", "--json")
    data = json.loads(res.stdout)
    assert data["_meta"]["hostvars"]["sim"]["labkit_simulate"] is True
    assert "simulated" in data["all"]["children"]


def test_facts_plain_view_groups_identical_cpus_and_cuts_nothing():
    same = {"online": True, "governor": "schedutil", "min_khz": 972000, "max_khz": 2601000,
            "hw_max_khz": 2601000}  # fmt: skip
    cpus = {str(i): {**same, "cur_khz": 972000 + 1000 * i} for i in range(12)}
    cpus["12"] = {**same, "governor": "performance", "cur_khz": 2601000}
    cpus["13"] = {"online": False, "governor": None, "min_khz": None, "max_khz": None,
                  "hw_max_khz": None, "cur_khz": None}  # fmt: skip
    long_path = "/home/robot/miniforge3/envs/lerobot/lib/python3.12/site-packages/" + "x" * 60
    facts = {
        "cpu": {"count": 14, "online": "0-12", "clocks_pinned": False, "cpus": cpus},
        "lerobot": {"path": long_path, "version": "0.4.4"},
    }
    text = "\n".join(plain_facts(facts))
    assert "cpu0-11 schedutil 972-2601 MHz (now 972-983 MHz)" in text
    assert "cpu12 performance 972-2601 MHz (now 2601 MHz)" in text
    assert "cpu13 offline" in text
    assert long_path in text and "version: 0.4.4" in text and "..." not in text


def test_facts_plain_view_gives_a_long_lists_count_and_first_items():
    """GStreamer's hundreds of element names are not one line: their count and the first
    few; the facts themselves keep them all."""
    elements = [f"element{i:03d}" for i in range(300)]
    facts = {"gstreamer": {"version": "1.20.3", "elements": elements}}
    [line] = [x for x in plain_facts(facts) if "elements:" in x]
    assert "elements: 300 (element000, element001," in line
    assert "element007, ...; all of them with --json)" in line
    assert "element008" not in line and len(line) < 200
    assert facts["gstreamer"]["elements"] == elements
    short = plain_facts({"gstreamer": {"elements": ["fakesink", "fakesrc"]}})
    assert "  gstreamer     elements: fakesink, fakesrc" in short


def test_a_library_warning_is_one_line_of_labkits(capsys):
    """No Python warning with a file name and a source line reaches the user."""

    def noisy():
        warnings.warn("Mean of empty slice\nmore detail", RuntimeWarning, stacklevel=1)
        return 7

    with warnings.catch_warnings():
        assert cli.guard(noisy) == 7
    err = capsys.readouterr().err
    assert err == "labkit: warning: Mean of empty slice\n"


def _table_row(experiment: str, tally) -> dict:
    """A row of the batch table as ``engine.batch.fleet.table`` makes it from a tally."""
    return {"host": "sim", "experiment": experiment, "complete": 1, "failed": 0,
            "not_run": 0, "reused": 0, "count": tally.count, "floor_hz": tally.floor_hz,
            "counted": tally.header, "has_floor": tally.has_floor}  # fmt: skip


def test_the_batch_table_has_a_min_hz_column_only_for_a_workload_with_a_loop_rate():
    late = Gstreamer.tally({"events": ["late_sample"], "late_sample_count": 2})
    head, line = cli._batch_table([_table_row("raw-1", late)]).splitlines()
    assert "late_sample events" in head and "min Hz" not in head and " 2 " in f"{line} "
    # LeRobot's runs (its warnings) keep it, even when none warned
    quiet = LerobotRecord.tally({"warnings": 0, "min_hz": None})
    warned = LerobotRecord.tally({"warnings": 2, "min_hz": 24.5})
    table = cli._batch_table([_table_row("exp1", quiet), _table_row("exp2", warned)])
    head, first, second = table.splitlines()
    assert "warnings" in head and "min Hz" in head
    assert first.rstrip().endswith("—") and second.rstrip().endswith("24.5")
