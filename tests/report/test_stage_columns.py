"""Columns only a stage map gives (py-spy's stage shares, the late iterations' thread
saturation, the camera read threads) appear only for a workload that declares one: a
`command` profiled with py-spy has none of LeRobot's stage columns."""

from __future__ import annotations

import shutil

import pytest
import yaml

from labkit.config.playbook import load_playbook
from labkit.errors import PlaybookError
from labkit.metric_names import probe_metrics
from labkit.probes.pyspy import PySpy
from labkit.report.build import build_report
from labkit.workloads.lerobot.stages import STAGE_MAP
from tests.conftest import REPO
from tests.report.test_build import summary_rows
from tests.report.test_one_template import PLAYBOOK, _run
from tests.report.test_thread_cpu_interval import threads_log

# py-spy's metrics for LeRobot's stages, and the threads probe's over its late stretches
PYSPY = probe_metrics(PySpy, stages=STAGE_MAP.stages)
STAGE_ONLY = {*PYSPY, "warnings_single_thread_saturated_share", "warn_camera_top"}


def _playbook(tmp_path, probes: list[str], hypotheses: list | None = None):
    doc = yaml.safe_load(PLAYBOOK.read_text())
    doc["probes"] = probes
    doc["hypotheses"] = hypotheses or []
    shutil.copytree(PLAYBOOK.parent / "files", tmp_path / "files", dirs_exist_ok=True)
    (tmp_path / "profiled.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return load_playbook(tmp_path / "profiled.yml")


def test_a_command_with_pyspy_has_no_stage_columns(tmp_path):
    pb = _playbook(tmp_path, ["tegrastats", "threads", "pyspy"])
    assert len(STAGE_ONLY) == 17 and not set(pb.metrics) & STAGE_ONLY
    runs = tmp_path / "runs"
    for i in range(2):
        _run(runs, pb, "base", i, 5, {"tegrastats": {}, "threads": {}, "pyspy": {}})
        [run] = (runs / "base").glob(f"*-{i:04d}")
        (run / "threads.log").write_text(threads_log(10 + i))
    result = build_report(pb, runs, tmp_path / "out", log=lambda m: None)
    [row] = summary_rows(result.folder / "summary.csv")
    names = set(row)
    assert not {n for n in names if "stage_share" in n or n.startswith("warn_camera")}, names
    assert not names & STAGE_ONLY
    # what the threads probe computes for any workload is there
    assert float(row["loop_thread_cpu_pct"]) == pytest.approx(10.5)
    assert {"probe_cpu_pct", "late_loop_thread_cpu_pct", "cpu_mean_pct"} <= names


def test_a_check_on_a_stage_column_without_a_stage_map_is_an_unknown_metric(tmp_path):
    check = {"kind": "every_run", "metric": "warn_stage_share_camera_read", "op": "lt", "value": 1}
    with pytest.raises(PlaybookError, match=r"unknown metric 'warn_stage_share_camera_read'"):
        _playbook(tmp_path, ["pyspy"], [{"id": "H1", "title": "t", "checks": [check]}])


def test_lerobot_keeps_its_stage_columns():
    pb = load_playbook(REPO / "playbooks" / "lerobot-loop-lag.yml")
    assert set(pb.metrics) >= STAGE_ONLY
