"""Probes for every workload: loop-jitter (a `command`) with tegrastats and threads on the
local simulated Jetson reports the threads probe's metrics and the late-event coincidence
metrics, and its summary.csv holds exactly its workload's and probes' metrics (no
LeRobot column)."""

from __future__ import annotations

import shutil

import pytest
import yaml

from labkit.probes.tegrastats.metrics import METRICS as TEGRASTATS
from labkit.probes.threads.probe import METRICS as THREADS
from labkit.workloads.lerobot.metrics import METRICS as LEROBOT
from tests.conftest import REPO
from tests.labhost import invoke, local_sim_inventory
from tests.report.test_build import summary_rows


@pytest.mark.slow
def test_loop_jitter_with_tegrastats_and_threads_reports_both_probes(tmp_path, fake_home):
    inventory = local_sim_inventory(tmp_path)
    shutil.copytree(REPO / "playbooks" / "files", tmp_path / "files")
    doc = yaml.safe_load((REPO / "playbooks" / "loop-jitter.yml").read_text())
    doc["probes"] = ["tegrastats", "threads"]
    # every tick later than 10 us is late: late events in every run, on any machine
    doc["workload"]["params"]["late_ms"]["default"] = 0.01
    doc["workload"]["params"]["seconds"]["default"] = 3
    doc["experiments"] = [
        {"name": "schedutil", "settings": {"cpu_governor": "schedutil"}, "params": {"rate": 100}}
    ]
    doc["hypotheses"] = []
    pb = tmp_path / "loop-jitter.yml"
    pb.write_text(yaml.safe_dump(doc, sort_keys=False))
    runs, out = tmp_path / "runs", tmp_path / "reports"
    common = ("--playbook", str(pb), "--runs", str(runs))
    res = invoke(
        "batch", *common, "--inventory", str(inventory), "--repeat", "1",
        home=fake_home, timeout=300,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    res = invoke("report", *common, "--out", str(out), home=fake_home, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr

    rows = list(summary_rows(out / "loop-jitter" / "summary.csv"))
    columns = set(rows[0])
    assert not columns & set(LEROBOT) - {"duration_s"}  # no LeRobot column
    assert {"late_count", "late_per_min", "late_median", "duration_s"} <= columns
    assert set(TEGRASTATS) <= columns
    # the threads probe's own metrics; those only a stage map gives are not columns
    assert {n for n, m in THREADS.items() if not m.needs_stages} <= columns
    assert "warnings_single_thread_saturated_share" not in columns
    [row] = [r for r in rows if r["experiment"] == "schedutil"]
    assert int(float(row["late_count"])) > 0
    # the probes related their samples to the command's late events
    assert 0 <= float(row["warnings_single_core_saturated_share"]) <= 1
    assert float(row["loop_thread_cpu_pct"]) > 0  # the loop thread did its work
    assert row["late_loop_thread_cpu_pct"] != ""
    assert float(row["probe_cpu_pct"]) > 0
    text = (out / "loop-jitter.md").read_text()
    assert "loop_thread_cpu_pct" in text and "warnings_single_core_saturated_share" in text
