"""Columns only a stage map gives (py-spy's stage shares, the late iterations' thread
saturation, the camera read threads) appear only for a workload that declares one: a
`command` profiled with py-spy has none of LeRobot's stage columns."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from labkit.config.playbook import load_playbook
from labkit.errors import PlaybookError
from labkit.metric_names import probe_metrics
from labkit.probes.pyspy import PySpy
from labkit.records.model import current
from labkit.records.store import write_manifest
from labkit.report.build import build_report
from labkit.workloads.lerobot.stages import STAGE_MAP
from tests.conftest import DATA, REPO
from tests.report.test_build import section, summary_rows
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


STAGED = DATA / "probes" / "pyspy"


def test_a_command_with_its_own_stage_map_gets_its_own_stage_columns(tmp_path):
    """``workload.stages`` in a command playbook: a real py-spy trace of its loop (every
    10th tick stalled 80 ms in ``compute``) gives the stage metrics named after its own
    stages, the check on one is decided, and the section shows its stages (the pyspy
    probe's section: no threads probe needed)."""
    shutil.copytree(STAGED, tmp_path / "pb", ignore=shutil.ignore_patterns("run"))
    doc = yaml.safe_load((STAGED / "staged.yml").read_text())
    doc["probes"] = ["tegrastats", "pyspy"]  # the section is py-spy's: no threads needed
    (tmp_path / "pb" / "staged.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    pb = load_playbook(tmp_path / "pb" / "staged.yml")
    run_id = "20260101T100000Z-sim-0001"
    run = tmp_path / "runs" / "stalled" / run_id
    shutil.copytree(STAGED / "run", run)
    (run / "status.json").write_text(json.dumps({"workload_s": 3.2}))
    record = {
        "schema": 2, "run_id": run_id, "experiment": "stalled", "status": "complete",
        "host": {"name": "sim", "connection": "local"},
        "playbook": {"name": pb.name, "file": str(pb.file), "sha256": pb.sha256},
        "workload": pb.workload.record(), "probes": {"pyspy": {"log": "pyspy.out"}},
        "params": pb.params_for("stalled"),
    }  # fmt: skip
    write_manifest(run, current(record, run))
    result = build_report(pb, tmp_path / "runs", tmp_path / "out", log=lambda m: None)
    [row] = summary_rows(result.folder / "summary.csv")
    own = {f"{p}{s}" for p in ("main_thread_stage_share_", "warn_stage_share_")
           for s in ("wait", "read", "compute", "other")}  # fmt: skip
    lerobots = {n for n in STAGE_ONLY if n.endswith(STAGE_MAP.stages) and "other" not in n}
    assert own <= set(row) and not set(row) & lerobots, sorted(set(row) & lerobots)
    assert float(row["warn_stage_share_compute"]) > 0.5  # the stall: in compute
    assert float(row["main_thread_stage_share_wait"]) > 0.5  # the loop mostly waits
    assert float(row["warnings_matched_share"]) >= 0.5
    verdicts = json.loads((result.folder / "hypotheses.json").read_text())
    assert verdicts["H1"]["verdict"] == "supported"
    deep = section(result.markdown.read_text(), "Where the loop's time goes")
    assert "| Experiment | Runs | when | wait | read | compute | other |" in deep


def test_a_command_with_a_stage_map_takes_checks_on_its_stages_only(tmp_path):
    shutil.copytree(STAGED, tmp_path, ignore=shutil.ignore_patterns("run"), dirs_exist_ok=True)
    doc = yaml.safe_load((STAGED / "staged.yml").read_text())
    doc["hypotheses"][0]["checks"][0]["metric"] = "warn_stage_share_camera_read"
    (tmp_path / "lerobots.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(PlaybookError, match=r"unknown metric 'warn_stage_share_camera_read'"):
        load_playbook(tmp_path / "lerobots.yml")
